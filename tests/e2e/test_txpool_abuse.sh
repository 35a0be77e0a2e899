#!/usr/bin/env bash
# test_txpool_abuse: robustness of transaction pooling towards an upstream
# PostgreSQL, with raw sockets (tests/e2e/txpool/abuse.py, stdlib only).
# One real PostgreSQL behind two [databases] lines:
#   a1   pool_size=1 pool_mode=transaction  upstream user ab1 (clients of one user share one server)
#   a2   pool_size=2 pool_mode=transaction  upstream user ab2
# with max_prepared_statements = 50 (the per-server statement cache evicts)
# and query_wait_timeout = 3.  Each scenario uses client user names of its
# own, so each gets pools of its own (one per database and client user).
# Scenarios (each check compares with what PostgreSQL itself answers to the
# same bytes where that makes sense):
#   malformed   Parse/Bind/Describe/Close with missing terminators, unknown kinds
#               ('X'), too many parameters; Describe/Close of unknown names;
#               Execute before Bind; Sync storms; Flush; stray COPY messages;
#               named Parses that PostgreSQL refuses
#   pipeline    errors in the middle of pipelines: named Parses and Closes that
#               PostgreSQL skips, DEALLOCATE/DISCARD ALL that fail or never run,
#               a cache eviction skipped by an error, DEALLOCATE of a statement
#               that no longer parses; the unnamed statement across a Sync;
#               COPY FROM STDIN through the extended protocol
#   lru         2 clients x 1,000 named statements through one server (cache of
#               50); server-side names are not usable by other clients
#   disconnect  right after a named Parse, after Parse+Flush, mid-transaction,
#               while queued, mid-COPY FROM STDIN; the next client works, and
#               PostgreSQL has no session idle in transaction
#   settings    odd SET values (quotes, unicode, 5,000 bytes), unknown parameters,
#               RESET of nothing, 200 SETs; then another client on the same server
#               sees the defaults; SETs with comments, in LATIN1, with long
#               names, pipelined after errors, parsed only, run again through a
#               named statement, rolled back to a savepoint; startup options
#               (valid, and refused by PostgreSQL); SET SESSION CHARACTERISTICS;
#               the ParameterStatus a client is told through RESET ALL and RESET
#   cancel      CancelRequests with wrong keys, for idle and queued clients,
#               repeated; a client's cancel never cancels another client's query
# After each scenario Dormouse must answer; at the end every upstream connection
# PostgreSQL has for the pools must be one SHOW SERVERS lists (and the reverse),
# none idle in transaction, and Dormouse must exit 0 on SIGTERM (under ASan: no
# error, no leak).  Runs in about 15 s.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/txpool/relay.sh"

dm_only "pooling of upstream PostgreSQL connections is Dormouse's" || dm_finish

ABUSE=$DM_E2E_DIR/txpool/abuse.py
KNOWN_GAPS=$DM_E2E_DIR/txpool/known_gaps.txt

pg_start
pg_psql -c "create role ab1 login" -c "create role ab2 login" -c "create database ab owner ab1" >/dev/null ||
    die "cannot create the roles and database"
pg_psql -d ab -c "grant all on schema public to public" >/dev/null || die "cannot prepare database ab"

DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
UP="host=127.0.0.1 port=$PGPORT_REAL dbname=ab"
dm_write_config "$DM_TMP/abuse.ini" "admin_users = admin" "query_wait_timeout = 3" \
    "max_prepared_statements = 50" "server_connect_timeout = 5" "min_pool_size = 0" \
    "[databases] a1 = $UP user=ab1 pool_size=1 pool_mode=transaction" \
    "[databases] a2 = $UP user=ab2 pool_size=2 pool_mode=transaction" \
    "[databases] * = engine=sqlite"
dm_start "$DM_TMP/abuse.ini"

# py SCENARIO: an abuse.py scenario; its PASS/FAIL lines become ours.
py() {
    local scen=$1 out rc
    out=$(timeout 120 "$PYTHON" "$ABUSE" "$scen" --dm-port "$DM_PORT" --pg-port "$PGPORT_REAL" \
        --admin-user admin 2>"$DM_TMP/py-$scen.err")
    rc=$?
    txpool_relay abuse.py "$scen" "$rc" "$out" "$KNOWN_GAPS"
}

for scen in malformed pipeline lru disconnect settings cancel; do
    py "$scen"
    dm_alive_check "after the $scen scenario" || break
done
py final

# Nothing of the pools' users is left idle in a transaction upstream, and
# Dormouse never logged a crash-like condition.
out=$(pg_psql -At -c "select count(*) from pg_stat_activity where usename in ('ab1', 'ab2') and
    state like 'idle in transaction%'" 2>&1)
assert_eq "PostgreSQL: no session of ab1/ab2 idle in transaction at the end" "0" "$out"
if grep -qE 'AddressSanitizer|runtime error:|LeakSanitizer' "$DM_LOG"; then
    fail "the Dormouse log has no sanitizer report" \
        "$(grep -m5 -E 'AddressSanitizer|runtime error:|LeakSanitizer' "$DM_LOG")"
else
    pass "the Dormouse log has no sanitizer report (so far)"
fi
dm_alive_check "after every scenario"
dm_stop_check
if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' "$DM_LOG"; then
    fail "no sanitizer report at exit" "$(grep -m5 -A12 -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$DM_LOG")"
else
    pass "no sanitizer report at exit"
fi
dm_finish
