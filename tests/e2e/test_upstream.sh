#!/usr/bin/env bash
# test_upstream: databases served by an upstream PostgreSQL ([databases]
# `app = host=... port=... dbname=... user=... password=...`), session
# pooling: each client gets its own server connection, logged in with trust,
# cleartext, md5 or SCRAM-SHA-256, and its messages are relayed both ways.
# Queries, DDL, transactions, errors, COPY both ways, pgbench -M extended and
# -M prepared, cancel, a wrong upstream password, an upstream that is down,
# and one that stops under its clients while SQLite databases go on.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "the upstream engine is Dormouse configuration" || dm_finish

pg_start
PGBENCH=$PG_BINDIR/pgbench
[ -x "$PGBENCH" ] || PGBENCH=$(command -v pgbench)

# Roles for each authentication method, one database they share.
pg_psql -c "set password_encryption = 'scram-sha-256'" -c "create role app login password 'secret'" \
    -c "create role clearuser login password 'clearpw'" -c "create role trustuser login" \
    -c "set password_encryption = 'md5'" -c "create role md5user login password 'md5pw'" \
    -c "create database app owner app" >/dev/null || die "cannot create the roles and database"
pg_psql -d app -c "grant all on schema public to public" >/dev/null || die "cannot grant"
printf '%s\n' 'local all all trust' 'host all postgres 127.0.0.1/32 trust' \
    'host all trustuser 127.0.0.1/32 trust' 'host all clearuser 127.0.0.1/32 password' \
    'host all md5user 127.0.0.1/32 md5' 'host all all 127.0.0.1/32 scram-sha-256' \
    >"$PGDATA_REAL/pg_hba.conf"
pg_psql -c "select pg_reload_conf()" >/dev/null || die "cannot reload pg_hba.conf"
out=$(PGPASSWORD=md5pw "$PSQL" -X -w -At -h 127.0.0.1 -p "$PGPORT_REAL" -U md5user -d app -c "select 1" 2>&1)
[ "$out" = 1 ] || die "md5user cannot log in to PostgreSQL directly" "$out"

DOWN_PORT=$(free_port) || die "no free port"
DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
UP="host=127.0.0.1 port=$PGPORT_REAL dbname=app"
dm_write_config "$DM_TMP/up.ini" "server_connect_timeout = 5" "query_wait_timeout = 3" \
    "[databases] app = $UP user=app password=secret" \
    "[databases] appmd5 = $UP user=md5user password=md5pw" \
    "[databases] appclear = $UP user=clearuser password='clearpw'" \
    "[databases] apptrust = $UP user=trustuser" \
    "[databases] appclient = $UP" \
    "[databases] appbad = $UP user=app password=wrong" \
    "[databases] appnopw = $UP user=app" \
    "[databases] appdown = host=127.0.0.1 port=$DOWN_PORT" \
    "[databases] * = engine=sqlite"
dm_start "$DM_TMP/up.ini"

q() { # q DB SQL...: psql through Dormouse, unaligned, errors on stderr folded in
    local db=$1
    shift
    dm_psql "$(dm_conninfo "$db" someone)" -Atq -v ON_ERROR_STOP=1 "$@" 2>&1
}

# ---- logging in upstream with each method ----
assert_eq "scram-sha-256: the client reaches PostgreSQL as the configured user" \
    "app|app" "$(q app -c "select current_user, current_database()")"
assert_eq "md5: logs in upstream" "md5user|app" "$(q appmd5 -c "select current_user, current_database()")"
assert_eq "cleartext password: logs in upstream" "clearuser" "$(q appclear -c "select current_user")"
assert_eq "trust: logs in upstream" "trustuser" "$(q apptrust -c "select current_user")"
assert_eq "no user= in the line: the client's user name goes upstream" "trustuser" \
    "$(dm_psql "$(dm_conninfo appclient trustuser)" -At -c "select current_user" 2>&1)"
assert_eq "application_name goes upstream" "upstream-test" \
    "$(dm_psql "$(dm_conninfo app someone application_name=upstream-test)" -At \
        -c "select application_name from pg_stat_activity where pid = pg_backend_pid()" 2>&1)"
pg_version=$(pg_psql -At -c "show server_version")
assert_eq "the client sees the upstream's server_version (ParameterStatus)" "$pg_version" \
    "$(dm_psql "$(dm_conninfo app someone)" -At -c '\echo :SERVER_VERSION_NAME' 2>&1)"
assert_contains "the login is logged with the upstream" "$(cat "$DM_LOG")" "login ok (upstream 127.0.0.1:$PGPORT_REAL)"

# ---- queries, DDL, transactions, errors ----
out=$(q app -c "create table t (id integer primary key, v text)" -c "insert into t values (1, 'one'), (2, 'two')" \
    -c "select id, v from t order by id")
assert_eq "DDL, INSERT and SELECT are relayed" $'1|one\n2|two' "$out"
out=$(q app <<'EOF'
begin;
insert into t values (3, 'three');
select count(*) from t;
rollback;
select count(*) from t;
EOF
)
assert_eq "a transaction sees its row, ROLLBACK discards it" $'3\n2' "$out"
expect_sqlstate "a duplicate key is PostgreSQL's 23505" "$(dm_conninfo app someone)" \
    "insert into t values (1, 'dup')" 23505
out=$(dm_psql "$(dm_conninfo app someone)" -At 2>&1 <<'EOF'
insert into t values (1, 'dup');
select 'recovered', count(*) from t;
begin;
select 1/0;
select 'in failed block';
rollback;
select 'after rollback';
EOF
)
assert_contains "the error text is PostgreSQL's" "$out" 'duplicate key value violates unique constraint "t_pkey"'
assert_contains "the session recovers after an error" "$out" "recovered|2"
assert_contains "a failed block refuses statements (25P02)" "$out" "current transaction is aborted"
assert_contains "ROLLBACK ends the failed block" "$out" "after rollback"
out=$(dm_client params "$(dm_conninfo app someone)" 'select $1::int + 1' 41 2>&1)
assert_contains "the extended protocol with parameters is relayed" "$out" "42"

# ---- COPY both ways ----
out=$(printf '10\tten\n11\televen\n' | dm_psql "$(dm_conninfo app someone)" -c "copy t (id, v) from stdin" 2>&1)
assert_eq "COPY FROM STDIN is relayed" "COPY 2" "$out"
out=$(q app -c "copy (select id, v from t where id >= 10 order by id) to stdout")
assert_eq "COPY TO STDOUT is relayed" $'10\tten\n11\televen' "$out"
assert_eq "COPY's rows reached PostgreSQL" "4" "$(pg_psql -d app -At -c "select count(*) from t")"
seq 1 20000 | sed 's/$/\tbulk/' | awk -F'\t' '{print $1+100 "\t" $2}' >"$DM_TMP/bulk.tsv"
out=$(q app -c "\\copy t from '$DM_TMP/bulk.tsv'")
assert_eq "a 20,000-row COPY FROM STDIN (psql's \\copy) is relayed" "|20004" \
    "$out|$(pg_psql -d app -At -c "select count(*) from t")"
assert_eq "a 20,000-row COPY TO STDOUT is relayed" "20004" \
    "$(q app -c "copy t to stdout" | wc -l | tr -d ' ')"

# ---- pgbench, session pooling: prepared statements just work ----
out=$("$PGBENCH" -i -s 1 -h 127.0.0.1 -p "$DM_PORT" -U someone app 2>&1)
assert_rc "pgbench -i through Dormouse" 0 $? "$out"
for mode in extended prepared; do
    out=$("$PGBENCH" -S -M $mode -c 4 -j 2 -T 3 -n -h 127.0.0.1 -p "$DM_PORT" -U someone app 2>&1)
    rc=$?
    if [ $rc -eq 0 ] && [[ "$out" == *"number of failed transactions: 0"* ]] &&
        [[ "$out" =~ number\ of\ transactions\ actually\ processed:\ ([0-9]+) ]] &&
        [ "${BASH_REMATCH[1]}" -gt 100 ]; then
        pass "pgbench -S -M $mode -c 4: ${BASH_REMATCH[1]} transactions, none failed"
    else
        fail "pgbench -S -M $mode -c 4" "exit status $rc" "$out"
    fi
done

# ---- cancel ----
SLEEP_OUT=$DM_TMP/sleep.out
# A background job starts with SIGINT ignored; psql then keeps it so: restore it.
"$PYTHON" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execv(sys.argv[1], sys.argv[1:])' "$PSQL" -X -w -At -c "select pg_sleep(30)" \
    "$(dm_conninfo app someone)" >"$SLEEP_OUT" 2>&1 &
SLEEP_PID=$!
bg_track $SLEEP_PID
sleeping() {
    [ "$(pg_psql -At -c "select count(*) from pg_stat_activity where query = 'select pg_sleep(30)' and state = 'active'")" = 1 ]
}
if wait_until 10 sleeping; then
    start=$SECONDS
    kill -INT $SLEEP_PID
    wait_until 10 eval "! _dm_alive $SLEEP_PID"
    wait $SLEEP_PID
    rc=$?
    out=$(cat "$SLEEP_OUT")
    if [ $rc -ne 0 ] && [[ "$out" == *"canceling statement due to user request"* ]] &&
        [ $((SECONDS - start)) -lt 10 ]; then
        pass "CancelRequest through Dormouse cancels pg_sleep upstream (57014)"
    else
        fail "CancelRequest through Dormouse cancels pg_sleep upstream" "exit status $rc" "$out"
    fi
else
    fail "cancel: the pg_sleep never ran upstream" "$(cat "$SLEEP_OUT")"
fi
expect_sqlstate "statement_timeout's 57014 is relayed" "$(dm_conninfo app someone)" \
    "set statement_timeout = 100; select pg_sleep(5)" 57014

# ---- refusals at login ----
expect_connect_error "a wrong upstream password: PostgreSQL's 28P01 is relayed" \
    "$(dm_conninfo appbad someone)" 28P01 'password authentication failed for user "app"'
expect_connect_error "the upstream asks for a password the line does not have: 08006" \
    "$(dm_conninfo appnopw someone)" 08006 "asks for a password"
expect_connect_error "an upstream nobody listens on: 08006" \
    "$(dm_conninfo appdown someone)" 08006 "cannot connect to the upstream server"
assert_eq "a SQLite database next to the upstream ones still works" "7" "$(q lite -c "select 3 + 4")"

assert_not_contains "clients' Terminate is passed on (no 'unexpected EOF' in the server's log)" \
    "$(cat "$DM_TMP/pg/log")" "unexpected EOF"

# ---- the upstream stops under its clients ----
HOLD_OUT=$DM_TMP/hold.out
dm_psql "$(dm_conninfo app someone)" -At -c "select pg_sleep(20)" >"$HOLD_OUT" 2>&1 &
HOLD_PID=$!
bg_track $HOLD_PID
sleeping20() {
    [ "$(pg_psql -At -c "select count(*) from pg_stat_activity where query = 'select pg_sleep(20)' and state = 'active'")" = 1 ]
}
wait_until 10 sleeping20 || fail "the held query never ran upstream" "$(cat "$HOLD_OUT")"
_as_pg "$PG_BINDIR/pg_ctl" -D "$PGDATA_REAL" -m fast -w -t 30 stop >/dev/null 2>&1 ||
    die "cannot stop the upstream PostgreSQL"
wait_until 10 eval "! _dm_alive $HOLD_PID"
wait $HOLD_PID
rc=$?
out=$(cat "$HOLD_OUT")
if [ $rc -ne 0 ] && [[ "$out" == *"FATAL"* ]]; then
    pass "a client whose upstream stops gets a FATAL error ($(echo "$out" | head -1))"
else
    fail "a client whose upstream stops gets a FATAL error" "exit status $rc" "$out"
fi
# New clients still log in (greeted from the pool's cache of server
# parameters); their query waits for the server for query_wait_timeout.
out=$(dm_client sqlstate "$(dm_conninfo app someone)" "select 1" 2>&1)
assert_eq "with the upstream stopped, a new client's query waits query_wait_timeout, then gets 08006" \
    "08006" "$out"
out=$(q app -c "select 1")
assert_contains "... saying why" "$out" "cannot connect to the upstream server"
assert_contains "the lost upstream is logged" "$(cat "$DM_LOG")" "08006"
dm_alive_check "with the upstream stopped, SQLite databases"
dm_stop_check "dormouse exits 0 after its upstream went away"
dm_finish
