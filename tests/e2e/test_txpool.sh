#!/usr/bin/env bash
# test_txpool: pooling of upstream PostgreSQL connections, PgBouncer's way.
# One real PostgreSQL behind five [databases] lines, each with its own upstream
# user so that pg_stat_activity tells the pools apart (the fifth, appd, has no
# pool options and is looked at in SHOW DATABASES only):
#   app    pool_size=2 pool_mode=transaction  (20 pgbench clients, SET, prepared statements)
#   appq   pool_size=1 (default pool_mode)    (the queue: query_wait_timeout, cancel, FIFO)
#   apps   pool_size=1 pool_mode=session      (a server per client, DISCARD ALL between clients)
#   appst  pool_size=2 pool_mode=statement    (BEGIN refused)
# Checks: pgbench -c 20 (simple, -M prepared, -S -M prepared) through 2 servers
# with pg_stat_activity and SHOW SERVERS never above 2; the FIFO queue with
# query_wait_timeout (57014, the connection stays usable) and cancel of a
# running and of a queued query; named statements private to their client
# (PQprepare, DEALLOCATE, the protocol's Close, psycopg 3 prepare_threshold=0);
# SET/RESET/RESET ALL/SET LOCAL remembered per client; session mode reset; LISTEN
# (0A000) and statement mode's BEGIN refused; the upstream restarted under load;
# the admin console's POOLS/SERVERS/DATABASES.  The client side of most
# scenarios is tests/e2e/txpool/txpool.py (psycopg 3, python3-psycopg), which
# prints one PASS/FAIL line per check.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$(dirname "${BASH_SOURCE[0]}")/txpool/relay.sh"

dm_only "pooling of upstream PostgreSQL connections is Dormouse's" || dm_finish

TXPOOL=$DM_E2E_DIR/txpool/txpool.py
"$PYTHON" -c 'import psycopg' 2>/dev/null || die "setup: $PYTHON cannot import psycopg (install python3-psycopg)"
PGBENCH=$PG_BINDIR/pgbench
[ -x "$PGBENCH" ] || PGBENCH=$(command -v pgbench) || die "setup: pgbench not found"
# The admin console's database.  Dormouse answers to dormouse and pgbouncer;
# DM_TXPOOL_ADMIN_DB=pgbouncer is for running these checks against PgBouncer
# itself to validate them (DORMOUSE_BIN=tests/e2e/txpool/pgbouncer_as_dormouse.sh).
ADMIN_DB=${DM_TXPOOL_ADMIN_DB:-dormouse}

pg_start
pg_psql -c "set password_encryption = 'scram-sha-256'" -c "create role app login password 'secret'" \
    -c "create role q1 login password 'secret'" -c "create role sess login password 'secret'" \
    -c "create role stmt login password 'secret'" -c "create role dflt login password 'secret'" \
    -c "create database app owner app" >/dev/null ||
    die "cannot create the roles and database"
pg_psql -d app -c "grant all on schema public to public" -c "create schema myschema authorization app" \
    -c "create table myschema.only_in_myschema (x int)" -c "insert into myschema.only_in_myschema values (7)" \
    -c "grant usage on schema myschema to public" -c "grant select on myschema.only_in_myschema to public" \
    >/dev/null || die "cannot prepare database app"
printf '%s\n' 'local all all trust' 'host all postgres 127.0.0.1/32 trust' \
    'host all all 127.0.0.1/32 scram-sha-256' >"$PGDATA_REAL/pg_hba.conf"
pg_psql -c "select pg_reload_conf()" >/dev/null || die "cannot reload pg_hba.conf"
out=$(PGPASSWORD=secret "$PGBENCH" -i -s 1 -q -h 127.0.0.1 -p "$PGPORT_REAL" -U app app 2>&1) ||
    die "pgbench -i on PostgreSQL itself failed" "$out"

DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
UP="host=127.0.0.1 port=$PGPORT_REAL dbname=app password=secret"
dm_write_config "$DM_TMP/txpool.ini" "admin_users = admin" "default_pool_size = 20" "min_pool_size = 0" \
    "reserve_pool_size = 0" "reserve_pool_timeout = 5" "max_db_connections = 0" "query_wait_timeout = 2" \
    "max_prepared_statements = 200" "server_reset_query = DISCARD ALL" "server_connect_timeout = 5" \
    "[databases] app = $UP user=app pool_size=2 pool_mode=transaction" \
    "[databases] appq = $UP user=q1 pool_size=1" \
    "[databases] apps = $UP user=sess pool_size=1 pool_mode=session" \
    "[databases] appst = $UP user=stmt pool_size=2 pool_mode=statement" \
    "[databases] appd = $UP user=dflt" \
    "[databases] * = engine=sqlite"
dm_start "$DM_TMP/txpool.ini"
pass "the pooling keys are accepted ([dormouse] pool settings, pool_size/pool_mode on [databases] lines)"

DM_DSN="host=127.0.0.1 port=$DM_PORT user=someone"
PG_DSN="host=127.0.0.1 port=$PGPORT_REAL user=postgres"
ADMIN_DSN="host=127.0.0.1 port=$DM_PORT user=admin dbname=$ADMIN_DB"

# py SCENARIO [args...]: a txpool.py scenario; its PASS/FAIL lines become ours.
py() {
    local scen=$1 out rc
    shift
    out=$(timeout 150 "$PYTHON" "$TXPOOL" "$scen" --dm "$DM_DSN" --pg "$PG_DSN" --admin "$ADMIN_DSN" "$@" \
        2>"$DM_TMP/py-$scen.err")
    rc=$?
    txpool_relay txpool.py "$scen" "$rc" "$out"
}

# The sampler: pg_stat_activity's connections of user app, and the console's
# SERVERS and POOLS rows of database app, every 20 ms until sample_stop.
SAMPLE_PID=""
sample_start() {
    rm -f "$DM_TMP/sample.stop"
    "$PYTHON" "$TXPOOL" sample --pg "$PG_DSN" --admin "$ADMIN_DSN" --stop "$DM_TMP/sample.stop" --seconds 60 \
        >"$DM_TMP/sample.out" 2>&1 &
    SAMPLE_PID=$!
    bg_track "$SAMPLE_PID"
}
sample_stop() {
    touch "$DM_TMP/sample.stop"
    wait_until 20 eval "! _dm_alive $SAMPLE_PID" || kill -KILL "$SAMPLE_PID" 2>/dev/null
    wait "$SAMPLE_PID" 2>/dev/null
}
sample_value() { # sample_value KEY: a number from the last sampling (-2 if missing)
    local v
    v=$(awk -F'\t' -v k="$1" '$1 == "VALUE" && $2 == k {print $3}' "$DM_TMP/sample.out")
    [[ "$v" =~ ^-?[0-9]+$ ]] || v=-2
    printf '%s\n' "$v"
}
# check_sampled WHAT: the upstream connections of app stayed within pool_size=2.
check_sampled() {
    local pgmax svmax
    pgmax=$(sample_value max_pg)
    svmax=$(sample_value max_servers)
    info "$1: sampled $(sample_value samples) times; most app connections in pg_stat_activity $pgmax," \
        "in SHOW SERVERS $svmax; most cl_waiting $(sample_value max_cl_waiting)"
    if [ "$pgmax" -ge 1 ] && [ "$pgmax" -le 2 ]; then
        pass "$1: pg_stat_activity never shows more than 2 connections of user app (pool_size=2; at most $pgmax)"
    else
        fail "$1: pg_stat_activity never shows more than 2 connections of user app" \
            "most seen: $pgmax (expected 1 or 2)" "$(cat "$DM_TMP/sample.out")"
    fi
    if [ "$svmax" -ge 1 ] && [ "$svmax" -le 2 ]; then
        pass "$1: SHOW SERVERS lists 1 to 2 connections of database app (at most $svmax)"
    else
        fail "$1: SHOW SERVERS lists 1 to 2 connections of database app" "most seen: $svmax" \
            "$(cat "$DM_TMP/sample.out")"
    fi
}

# pgbench_check NAME MIN_TX [pgbench args...]: through Dormouse to app; passes
# if pgbench exits 0 with no failed transaction and more than MIN_TX done.
pgbench_check() {
    local name=$1 min=$2 out rc
    shift 2
    out=$(timeout 60 "$PGBENCH" -n -h 127.0.0.1 -p "$DM_PORT" -U someone "$@" app 2>&1)
    rc=$?
    if [ $rc -eq 0 ] && [[ "$out" == *"number of failed transactions: 0 "* ]] &&
        [[ "$out" =~ number\ of\ transactions\ actually\ processed:\ ([0-9]+) ]] &&
        [ "${BASH_REMATCH[1]}" -gt "$min" ]; then
        pass "$name: ${BASH_REMATCH[1]} transactions, none failed"
    else
        fail "$name" "exit status $rc" "$(printf '%s\n' "$out" | grep -v '^pgbench: client .* aborted' | tail -n 25)" \
            "$(printf '%s\n' "$out" | grep '^pgbench: client' | head -n 5)"
    fi
}

# admin_field COMMAND KEYCOL KEYVAL COL: column COL of the console row whose KEYCOL is KEYVAL.
admin_field() {
    dm_psql "$ADMIN_DSN" -A -c "$1" 2>&1 | awk -F'|' -v k="$2" -v kv="$3" -v c="$4" '
        NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i; next }
        (k in h) && $h[k] == kv { print ((c in h) ? $h[c] : "<no column " c ">"); found = 1; exit }
        END { if (!found) print "<no row " k "=" kv ">" }'
}

# ---- the admin console lists the configured lines, used or not (as PgBouncer) ----
assert_eq "SHOW DATABASES: a configured upstream line is listed before any client used it (as PgBouncer)" \
    "2|transaction" "$(admin_field 'SHOW DATABASES' name app pool_size)|$(admin_field 'SHOW DATABASES' name app pool_mode)"

# ---- 20 clients through 2 servers ----
sample_start
pgbench_check "transaction mode: pgbench -c 20 -j 2 (tpcb-like) through pool_size=2" 50 -c 20 -j 2 -T 3
sample_stop
check_sampled "pgbench -c 20 (simple protocol)"
out=$(admin_field 'SHOW POOLS' database app pool_mode)
assert_eq "SHOW POOLS: a row for database app with pool_mode transaction" "transaction" "$out"
out=$(dm_psql "$ADMIN_DSN" -A -c 'SHOW POOLS' 2>&1 | head -1)
assert_contains "SHOW POOLS: PgBouncer's columns" "$out" "database|user|cl_active|cl_waiting|"

# -M prepared with the TPC-B script runs -j 20, one client per pgbench thread:
# pgbench 15 prepares each statement with a synchronous PQprepare on its
# first use, which blocks every client of its thread; with several clients
# per thread, the clients that hold the 2 servers inside a transaction
# would wait for a thread that waits for a server (PgBouncer likewise).
sample_start
pgbench_check "transaction mode: pgbench -M prepared -c 20 -j 20 (tpcb-like) through pool_size=2" 50 \
    -M prepared -c 20 -j 20 -T 3
pgbench_check "transaction mode: pgbench -S -M prepared -c 20 -j 2 through pool_size=2" 100 \
    -S -M prepared -c 20 -j 2 -T 2
sample_stop
check_sampled "pgbench -M prepared -c 20"

# ---- named statements, SET, the queue, cancel, session and statement modes ----
py prepared
py cancel
py queue
py set
py session
py refusals

# ---- the admin console shows each line's pool settings (every line used by now) ----
out=$(dm_psql "$(dm_conninfo appd someone)" -At -c 'select current_user' 2>&1)
assert_eq "appd (no pool options on its line) serves queries" "dflt" "$out"
assert_eq "SHOW DATABASES: app has pool_size 2 and pool_mode transaction" "2|transaction" \
    "$(admin_field 'SHOW DATABASES' name app pool_size)|$(admin_field 'SHOW DATABASES' name app pool_mode)"
assert_eq "SHOW DATABASES: appq has pool_size 1 and the default pool_mode, transaction" "1|transaction" \
    "$(admin_field 'SHOW DATABASES' name appq pool_size)|$(admin_field 'SHOW DATABASES' name appq pool_mode)"
assert_eq "SHOW DATABASES: apps is session pooled, appst statement pooled" "session|statement" \
    "$(admin_field 'SHOW DATABASES' name apps pool_mode)|$(admin_field 'SHOW DATABASES' name appst pool_mode)"
assert_eq "SHOW DATABASES: appd has default_pool_size (20) and the default pool_mode" "20|transaction" \
    "$(admin_field 'SHOW DATABASES' name appd pool_size)|$(admin_field 'SHOW DATABASES' name appd pool_mode)"
assert_eq "SHOW CONFIG: the pool keys as configured (query_wait_timeout 2, pool_mode transaction)" \
    "2|120|transaction" \
    "$(admin_field 'SHOW CONFIG' key query_wait_timeout value)|$(admin_field 'SHOW CONFIG' key query_wait_timeout default)|$(admin_field 'SHOW CONFIG' key pool_mode value)"
svs=$(dm_psql "$ADMIN_DSN" -At -F '|' -c 'SHOW SERVERS' 2>&1 | grep -c '^S|')
lists=$(($(admin_field 'SHOW LISTS' list free_servers items) + $(admin_field 'SHOW LISTS' list used_servers items)))
assert_eq "SHOW LISTS counts the upstream server connections SHOW SERVERS lists" "$svs" "$lists"

# ---- the upstream restarts under load ----
if [ "$(id -u)" -eq 0 ]; then
    RESTART="runuser -u postgres -- $PG_BINDIR/pg_ctl -D $PGDATA_REAL -l $DM_TMP/pg/log -m fast -w -t 30 restart"
else
    RESTART="$PG_BINDIR/pg_ctl -D $PGDATA_REAL -l $DM_TMP/pg/log -m fast -w -t 30 restart"
fi
"$PGBENCH" -n -h 127.0.0.1 -p "$DM_PORT" -U someone -c 8 -j 2 -T 5 app >"$DM_TMP/pgbench-restart.out" 2>&1 &
PB_PID=$!
bg_track "$PB_PID"
sleep 1
py restart --restart-cmd "$RESTART"
if wait_until 20 eval "! _dm_alive $PB_PID"; then
    wait "$PB_PID"
    rc=$?
    pass "restart: pgbench running through the restart ends (status $rc, no hang)"
    info "pgbench during the restart: $(grep -c 'aborted' "$DM_TMP/pgbench-restart.out") client(s) aborted;" \
        "$(grep -m1 -o 'number of transactions actually processed: [0-9]*' "$DM_TMP/pgbench-restart.out")"
else
    fail "restart: pgbench running through the restart ends" "still running 20 s after it should have" \
        "$(tail -n 20 "$DM_TMP/pgbench-restart.out")"
    kill -KILL "$PB_PID" 2>/dev/null
fi
dm_alive_check "after the upstream restart"
sample_start
pgbench_check "after the upstream restart: pgbench -c 10 through pool_size=2" 20 -c 10 -j 2 -T 2
sample_stop
check_sampled "after the upstream restart"

dm_stop_check

# ---- the same keys under [pgbouncer] ----
sed -e 's/^\[dormouse\]$/[pgbouncer]/' -e 's/^default_pool_size = 20$/default_pool_size = 7/' \
    "$DM_TMP/txpool.ini" >"$DM_TMP/pgbouncer-section.ini"
dm_start "$DM_TMP/pgbouncer-section.ini"
for db in app appd; do
    dm_psql "$(dm_conninfo $db someone)" -At -c 'select 1' >/dev/null 2>&1
done
assert_eq "[pgbouncer] section: the pool keys apply (appd gets default_pool_size = 7; app pool_size 2, transaction)" \
    "7|2|transaction" "$(admin_field 'SHOW DATABASES' name appd pool_size)|$(admin_field 'SHOW DATABASES' name app \
        pool_size)|$(admin_field 'SHOW DATABASES' name app pool_mode)"
assert_eq "[pgbouncer] section: queries go through" "app" \
    "$(dm_psql "$(dm_conninfo app someone)" -At -c 'select current_user' 2>&1)"
dm_stop_check "dormouse ([pgbouncer] section) exits 0 on SIGTERM"
dm_finish
