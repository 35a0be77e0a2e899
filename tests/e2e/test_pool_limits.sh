#!/usr/bin/env bash
# test_pool_limits: the pool limits PgBouncer users tune, against a real
# PostgreSQL: min_pool_size keeps idle server connections open (and
# server_idle_timeout does not close them below it); reserve_pool lets a pool
# open extra connections once a client has waited reserve_pool_timeout;
# max_db_connections caps a database over all its users' pools, a waiting
# client being served when another user's server comes free.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "pool limits are Dormouse configuration" || dm_finish

pg_start
pg_psql -c "create role minu login" -c "create role resu login" -c "create role capa login" \
    -c "create role capb login" -c "create database app" >/dev/null || die "cannot create the roles"

DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
UP="host=127.0.0.1 port=$PGPORT_REAL dbname=app"
dm_write_config "$DM_TMP/pl.ini" "admin_users = admin" "server_idle_timeout = 1" \
    "reserve_pool_timeout = 1" "query_wait_timeout = 30" \
    "[databases] minp = $UP min_pool_size=2 pool_size=3" \
    "[databases] resv = $UP pool_size=1 reserve_pool=1" \
    "[databases] capd = $UP max_db_connections=1" \
    "[databases] * = engine=sqlite"
dm_start "$DM_TMP/pl.ini"

# backends USER: PostgreSQL's connections of that user (Dormouse's servers).
backends() { pg_psql -At -c "select count(*) from pg_stat_activity where usename = '$1'"; }
dmq() { # DB USER SQL
    dm_psql "$(dm_conninfo "$1" "$2")" -At -c "$3" 2>&1
}
# while_held USER HOLDER_PID DB CLIENT_USER SQL: once USER holds one server
# connection (its query runs in HOLDER_PID), runs SQL as another client;
# sets out (its result) and took (seconds).
while_held() {
    bg_track "$2"
    held() { [ "$(backends "$1")" = 1 ]; }
    wait_until 10 held "$1" || fail "$1 holds its one server" "backends: $(backends "$1")"
    local start=$SECONDS
    out=$(dmq "$3" "$4" "$5")
    took=$((SECONDS - start))
}

# ---- min_pool_size ----
assert_eq "a client of minp runs a query" "1" "$(dmq minp minu 'select 1')"
two_idle() { [ "$(backends minu)" = 2 ]; }
if wait_until 10 two_idle; then
    pass "min_pool_size = 2: the pool opens a second server connection with no client asking"
else
    fail "min_pool_size = 2: the pool opens a second server connection" "backends: $(backends minu)"
fi
sleep 3 # server_idle_timeout = 1 s, several times over
assert_eq "server_idle_timeout does not close them below min_pool_size" "2" "$(backends minu)"

# ---- reserve_pool ----
dmq resv resu "select pg_sleep(6)" >"$DM_TMP/holder.out" &
holder=$!
while_held resu "$holder" resv resu "select 'served'"
assert_eq "a second client of resv (pool_size = 1) is served while the first holds the server" \
    "served" "$out"
assert_true "... by the reserve pool, before the holder's 6 s are over" "took ${took}s" [ "$took" -lt 5 ]
assert_eq "resv then has pool_size + reserve_pool = 2 server connections" "2" "$(backends resu)"
wait "$holder"

# ---- max_db_connections ----
dm_psql "$(dm_conninfo capd capa)" -At -c "begin" -c "select 1" -c '\! sleep 3' -c "commit" \
    >/dev/null 2>&1 &
holder=$!
while_held capa "$holder" capd capb "select 'b served'"
assert_eq "another user's client of capd is served" "b served" "$out"
assert_true "... only once capa's transaction has ended (max_db_connections = 1)" "took ${took}s" \
    [ "$took" -ge 1 ]
assert_true "capd never had more than 1 server connection" "capa $(backends capa), capb $(backends capb)" \
    [ $(($(backends capa) + $(backends capb))) -le 1 ]
wait "$holder"
dm_stop_check
dm_finish
