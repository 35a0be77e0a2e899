#!/usr/bin/env bash
# test_admin: the admin console (virtual database `dormouse`, alias
# `pgbouncer`) driven by psql and libpq as PgBouncer's console is: every SHOW
# with PgBouncer's column names, counts that match the clients connected,
# statistics that grow, who may log in (admin_users, stats_users, 28000 for
# others, 42501 for a stats user's RELOAD/SHUTDOWN), KILL (57P01 for the
# clients of one database, the others keep working), PAUSE/RESUME holding
# and releasing a query, RELOAD applying a changed auth file, the extended
# protocol refused with 0A000, garbage refused with 42601, and SHUTDOWN.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "the admin console is Dormouse's (PgBouncer's) own" || dm_finish

DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
dm_write_config "$DM_TMP/trust.ini" "admin_users = admin, root2" "stats_users = watcher" \
    "stats_period = 1"
dm_start "$DM_TMP/trust.ini"

# admin SQL [USER [DB]]: one console command through psql, unaligned, with headers.
admin() {
    dm_psql "$(dm_conninfo "${3:-dormouse}" "${2:-admin}")" -A -v VERBOSITY=verbose -c "$1" 2>&1
}
header() { admin "$1" | head -1; }

# ---- column headers: PgBouncer's, in PgBouncer's order ----
SOCKET_COLS='type|user|database|replication|state|addr|port|local_addr|local_port|connect_time|request_time|wait|wait_us|close_needed|ptr|link|remote_pid|tls|application_name|prepared_statements|id'
assert_eq "SHOW POOLS: PgBouncer's columns" \
    'database|user|cl_active|cl_waiting|cl_active_cancel_req|cl_waiting_cancel_req|sv_active|sv_active_cancel|sv_being_canceled|sv_idle|sv_used|sv_tested|sv_login|maxwait|maxwait_us|pool_mode' \
    "$(header 'SHOW POOLS')"
assert_eq "SHOW CLIENTS: PgBouncer's columns" "$SOCKET_COLS" "$(header 'show clients;')"
assert_eq "SHOW SERVERS: PgBouncer's columns" "$SOCKET_COLS" "$(header 'Show Servers')"
assert_eq "SHOW DATABASES: PgBouncer's columns, then engine, state and the lifecycle's" \
    'name|host|port|database|force_user|pool_size|min_pool_size|reserve_pool|server_lifetime|pool_mode|max_connections|current_connections|paused|disabled|engine|state|idle_timeout|cold_starts|last_resume_ms|resume_p50_ms|resume_p99_ms|paused_seconds|active_seconds|last_pause|last_resume' \
    "$(header 'SHOW DATABASES')"
assert_eq "SHOW STATS: PgBouncer's columns" \
    'database|total_xact_count|total_query_count|total_received|total_sent|total_xact_time|total_query_time|total_wait_time|avg_xact_count|avg_query_count|avg_recv|avg_sent|avg_xact_time|avg_query_time|avg_wait_time|total_cold_starts|total_active_time|resume_p50|resume_p99' \
    "$(header 'SHOW STATS')"
assert_eq "SHOW STATS_TOTALS: PgBouncer's columns" \
    'database|xact_count|query_count|bytes_received|bytes_sent|xact_time|query_time|wait_time' \
    "$(header 'SHOW STATS_TOTALS')"
assert_eq "SHOW STATS_AVERAGES: PgBouncer's columns" \
    'database|xact_count|query_count|bytes_received|bytes_sent|xact_time|query_time|wait_time' \
    "$(header 'SHOW STATS_AVERAGES')"
assert_eq "SHOW CONFIG: PgBouncer's columns" 'key|value|default|changeable' "$(header 'SHOW CONFIG')"
assert_eq "SHOW LISTS: PgBouncer's columns" 'list|items' "$(header 'SHOW LISTS')"
assert_eq "SHOW VERSION: one column 'version'" 'version' "$(header 'SHOW VERSION')"
assert_eq "SHOW USERS: PgBouncer's columns" \
    'name|pool_size|reserve_pool_size|pool_mode|max_user_connections|current_connections|max_user_client_connections|current_client_connections' \
    "$(header 'SHOW USERS')"
assert_eq "SHOW MEM: PgBouncer's columns" 'name|size|used|free|memtotal' "$(header 'SHOW MEM')"
assert_eq "SHOW STATE" 'key|value' "$(header 'SHOW STATE')"
assert_eq "SHOW TOTALS" 'name|value' "$(header 'SHOW TOTALS')"
assert_contains "SHOW HELP: a NOTICE with the usage" "$(admin 'SHOW HELP')" "Console usage"
assert_contains "SHOW VERSION names Dormouse" "$(admin 'SHOW VERSION')" "Dormouse "
assert_contains "SHOW CONFIG: admin_users as configured" "$(admin 'SHOW CONFIG')" \
    "admin_users|admin, root2||yes"
out=$(dm_psql "$(dm_conninfo pgbouncer admin)" -At -c 'SHOW LISTS' 2>&1)
assert_contains "the 'pgbouncer' alias serves the console (PgBouncer tooling)" "$out" "used_clients|1"
out=$(dm_psql "$(dm_conninfo dormouse root2)" -At -c 'show version' 2>&1)
assert_contains "a second name in admin_users logs in" "$out" "Dormouse"

# ---- who may log in ----
expect_connect_error "a user not in admin_users/stats_users: FATAL 28000 'not allowed'" \
    "$(dm_conninfo dormouse mallory)" 28000 "not allowed"
expect_connect_error "pgbouncer alias: the same refusal" "$(dm_conninfo pgbouncer mallory)" 28000
out=$(dm_psql "$(dm_conninfo dormouse watcher)" -At -c 'SHOW LISTS' 2>&1)
assert_contains "stats_users may SHOW" "$out" "databases|"
expect_sqlstate "stats_users may not RELOAD (42501)" "$(dm_conninfo dormouse watcher)" "RELOAD" 42501
expect_sqlstate "stats_users may not SHUTDOWN (42501)" "$(dm_conninfo dormouse watcher)" "SHUTDOWN" 42501
expect_sqlstate "stats_users may not PAUSE (42501)" "$(dm_conninfo dormouse watcher)" "PAUSE" 42501
expect_sqlstate "stats_users may not KILL (42501)" "$(dm_conninfo dormouse watcher)" "KILL x" 42501

# ---- garbage and the extended protocol ----
ADMIN_CI=$(dm_conninfo dormouse admin)
expect_sqlstate "garbage: 42601" "$ADMIN_CI" "select 1" 42601
expect_sqlstate "unknown SHOW item: 42601" "$ADMIN_CI" "SHOW NONSENSE" 42601
expect_sqlstate "two commands in one: 42601" "$ADMIN_CI" "SHOW POOLS; SHOW CLIENTS" 42601
expect_sqlstate "unterminated quote: 42601" "$ADMIN_CI" "PAUSE \"x" 42601
expect_sqlstate "binary junk: 42601" "$ADMIN_CI" $'\x01\x02\xff' 42601
assert_contains "unknown command: PgBouncer-like message" "$(admin 'FLY AWAY')" \
    "invalid command 'FLY AWAY', use SHOW HELP;"
expect_sqlstate "case-insensitive with a trailing semicolon" "$ADMIN_CI" "sHoW pOoLs ;" OK
expect_sqlstate "an empty query is fine" "$ADMIN_CI" ";" OK
out=$(dm_client params "$ADMIN_CI" "SHOW POOLS" 2>&1)
assert_contains "extended protocol (PQexecParams): 0A000" "$out" "0A000"

cat >"$DM_TMP/ext.py" <<'EOF'
# Parse/Bind/Execute/Sync on the console, then a simple Query on the same
# connection: 0A000 once, ReadyForQuery, and the connection still works.
import socket, struct, sys
def msg(t, b=b""): return t + struct.pack("!I", len(b) + 4) + b
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=15)
body = struct.pack("!I", 196608) + b"user\0admin\0database\0dormouse\0\0"
s.sendall(struct.pack("!I", len(body) + 4) + body)
buf = b""
def read_until_ready():
    global buf
    seen = []
    while True:
        while len(buf) < 5 or len(buf) < 1 + struct.unpack("!I", buf[1:5])[0]:
            d = s.recv(65536)
            if not d: seen.append("EOF"); return seen
            buf += d
        n = struct.unpack("!I", buf[1:5])[0]
        t, b, buf = buf[0:1].decode(), buf[5:1 + n], buf[1 + n:]
        if t == "E":
            code = [f[1:] for f in b.split(b"\0") if f[:1] == b"C"][0].decode()
            seen.append("E" + code)
        else:
            seen.append(t)
        if t == "Z": return seen
read_until_ready()
s.sendall(msg(b"P", b"\0SHOW POOLS\0\0\0") + msg(b"B", b"\0\0\0\0\0\0\0\0") +
          msg(b"E", b"\0\0\0\0\0") + msg(b"S"))
print(" ".join(read_until_ready()))
s.sendall(msg(b"Q", b"SHOW VERSION\0"))
print(" ".join(read_until_ready()))
EOF
out=$("$PYTHON" "$DM_TMP/ext.py" "$DM_HOST" "$DM_PORT" 2>&1)
assert_eq "extended protocol: one 0A000, ReadyForQuery, then simple queries work" \
    "E0A000 Z
T D C Z" "$out"

# ---- clients, pools and statistics ----
# open_client NAME DB [USER]: a psql kept open on a FIFO; send_sql NAME SQL feeds it.
open_client() {
    local name=$1 db=$2 user=${3:-$2}
    mkfifo "$DM_TMP/$name.in"
    dm_psql "$(dm_conninfo "$db" "$user")" -At -v VERBOSITY=verbose -f - \
        <"$DM_TMP/$name.in" >"$DM_TMP/$name.out" 2>&1 &
    bg_track $!
    eval "exec {FD_$name}>\"\$DM_TMP/$name.in\""
}
send_sql() {
    local fdvar=FD_$1
    printf '%s\n' "$2" >&"${!fdvar}"
}
out_has() { grep -q -- "$2" "$DM_TMP/$1.out"; }

for i in 1 2 3; do
    open_client "x$i" x xuser
    send_sql "x$i" "select 'x$i ready';"
done
open_client y1 y yuser
send_sql y1 "select 'y1 ready';"
all_ready() { out_has x1 "x1 ready" && out_has x2 "x2 ready" && out_has x3 "x3 ready" && out_has y1 "y1 ready"; }
wait_until 15 all_ready || fail "4 clients connect" "$(cat "$DM_TMP"/*.out)"

clients=$(admin 'SHOW CLIENTS' | awk -F'|' '$3 == "x" && $1 == "C"' | wc -l)
assert_eq "SHOW CLIENTS lists the 3 clients of x" 3 "$clients"
row=$(admin 'SHOW POOLS' | awk -F'|' '$1 == "x" && $2 == "xuser" {print $3, $4, $7, $13}')
assert_eq "SHOW POOLS x/xuser: cl_active 3, cl_waiting 0, sv_active 3, sv_login 0" "3 0 3 0" "$row"
servers=$(admin 'SHOW SERVERS' | awk -F'|' '$3 == "x" && $1 == "S" && $5 == "active"' | wc -l)
assert_eq "SHOW SERVERS lists 3 active backends for x" 3 "$servers"
row=$(admin 'SHOW DATABASES' | awk -F'|' '$1 == "x" {print $12, $15, $16}')
assert_eq "SHOW DATABASES x: current_connections 3, engine sqlite, state active" "3 sqlite active" "$row"
users=$(admin 'SHOW USERS' | awk -F'|' '$1 == "xuser" {print $8}')
assert_eq "SHOW USERS: xuser has 3 clients" 3 "$users"

q_before=$(admin 'SHOW STATS' | awk -F'|' '$1 == "x" {print $3}')
for i in 1 2 3 4 5; do send_sql x1 "select $i * 100;"; done
send_sql x1 "begin; select 1; commit;"
wait_until 10 out_has x1 500 || fail "x1 runs its queries" "$(cat "$DM_TMP/x1.out")"
sleep 0.2
stats=$(admin 'SHOW STATS' | awk -F'|' '$1 == "x"')
q_after=$(echo "$stats" | cut -d'|' -f3)
if [ -n "$q_before" ] && [ -n "$q_after" ] && [ "$q_after" -ge $((q_before + 8)) ]; then
    pass "SHOW STATS: total_query_count grows with the queries ($q_before -> $q_after)"
else
    fail "SHOW STATS: total_query_count grows with the queries" "before: $q_before" "after: $stats"
fi
IFS='|' read -r _ xacts queries recv sent xtime qtime _ <<<"$stats"
if [ "$xacts" -ge 1 ] && [ "$recv" -gt 0 ] && [ "$sent" -gt 0 ] && [ "$qtime" -gt 0 ] &&
    [ "$xacts" -lt "$queries" ]; then
    pass "SHOW STATS: transactions, bytes and times are counted ($stats)"
else
    fail "SHOW STATS: transactions, bytes and times are counted" "$stats"
fi
avg_ok() { [ "$(admin 'SHOW STATS_AVERAGES' | awk -F'|' '$1 == "x" {print $3}')" != "" ]; }
assert_true "SHOW STATS_AVERAGES has a row for x" "" avg_ok

# ---- PAUSE / RESUME ----
send_sql x2 "$DM_SLOW_SQL;"
sleep 1 # let the slow statement start
out=$(admin 'PAUSE x')
assert_eq "PAUSE x answers PAUSE" "PAUSE" "$out"
if out_has x2 "$DM_SLOW_RESULT"; then
    pass "PAUSE x returned after the running statement finished"
else
    fail "PAUSE x returned after the running statement finished" "$(cat "$DM_TMP/x2.out")"
fi
assert_contains "SHOW DATABASES: x paused=1" "$(admin 'SHOW DATABASES' | awk -F'|' '$1 == "x"')" \
    "|1|0|sqlite|"
expect_sqlstate "PAUSE x twice: 55000" "$ADMIN_CI" "PAUSE x" 55000
send_sql x3 "select 'x3 after pause';"
send_sql y1 "select 'y1 while x paused';"
wait_until 10 out_has y1 "y1 while x paused" && pass "another database keeps working while x is paused" ||
    fail "another database keeps working while x is paused" "$(cat "$DM_TMP/y1.out")"
waiting() { [ "$(admin 'SHOW POOLS' | awk -F'|' '$1 == "x" {print $4}')" = 1 ]; }
if wait_until 5 waiting; then
    pass "SHOW POOLS: the held client of x is cl_waiting"
else
    fail "SHOW POOLS: the held client of x is cl_waiting" "$(admin 'SHOW POOLS')"
fi
sleep 1
if out_has x3 "x3 after pause"; then
    fail "a query on paused x is held" "$(cat "$DM_TMP/x3.out")"
else
    pass "a query on paused x is held"
fi
assert_eq "RESUME x" "RESUME" "$(admin 'RESUME x')"
if wait_until 10 out_has x3 "x3 after pause"; then
    pass "after RESUME the held query runs"
else
    fail "after RESUME the held query runs" "$(cat "$DM_TMP/x3.out")"
fi
expect_sqlstate "RESUME x when not paused: 55000" "$ADMIN_CI" "RESUME x" 55000
assert_eq "PAUSE (all) with nothing running" "PAUSE" "$(admin 'PAUSE')"
assert_contains "SHOW STATE: paused" "$(admin 'SHOW STATE')" "paused|yes"
assert_eq "RESUME (all)" "RESUME" "$(admin 'RESUME')"

# ---- KILL ----
assert_eq "KILL x" "KILL" "$(admin 'KILL x')"
for i in 1 2 3; do send_sql "x$i" "select 'x$i after kill';"; done
killed() { out_has x1 57P01 && out_has x2 57P01 && out_has x3 57P01; }
if wait_until 10 killed; then
    pass "KILL x: every client of x got FATAL 57P01"
else
    fail "KILL x: every client of x got FATAL 57P01" "$(tail -n 3 "$DM_TMP"/x?.out)"
fi
assert_contains "KILL x: the message is PostgreSQL's" "$(cat "$DM_TMP/x1.out")" \
    "terminating connection due to administrator command"
send_sql y1 "select 'y1 after kill';"
wait_until 10 out_has y1 "y1 after kill" && pass "KILL x: the client of y keeps working" ||
    fail "KILL x: the client of y keeps working" "$(cat "$DM_TMP/y1.out")"
gone() { [ "$(admin 'SHOW CLIENTS' | awk -F'|' '$3 == "x"' | wc -l)" = 0 ]; }
assert_true "KILL x: SHOW CLIENTS lists no client of x" "$(admin 'SHOW CLIENTS')" wait_until 5 gone
out=$(dm_psql "$(dm_conninfo x xuser)" -At -c "select 'x again'" 2>&1)
assert_eq "after KILL x, new clients of x connect" "x again" "$out"
expect_sqlstate "KILL of the console: refused" "$ADMIN_CI" "KILL dormouse" 55000

# ---- SET ----
assert_eq "SET log_level = debug" "SET" "$(admin "SET log_level = 'debug'")"
assert_contains "SHOW CONFIG shows the new log_level" "$(admin 'SHOW CONFIG')" "log_level|debug|info|yes"
expect_sqlstate "SET of a restart-only key: 55P02" "$ADMIN_CI" "SET listen_port = 1" 55P02
expect_sqlstate "SET of an unknown key: 42704" "$ADMIN_CI" "SET bogus = 1" 42704

send_sql y1 "\\q"
dm_alive_check "after the console's commands"
dm_stop_check "trust: dormouse exits 0"

# ---- md5: RELOAD applies a changed auth file; SHUTDOWN ----
AUTH_FILE=$DM_TMP/userlist.txt
write_auth_file() { printf '"%s" "%s"\n' "$@" >"$AUTH_FILE.tmp" && mv "$AUTH_FILE.tmp" "$AUTH_FILE"; }
write_auth_file admin adminpw alice alicepw alive alivepw
dm_write_config "$DM_TMP/md5.ini" "auth_type = md5" "auth_file = $AUTH_FILE" "admin_users = admin"
dm_start "$DM_TMP/md5.ini"
export PGPASSWORD=adminpw
out=$(admin 'SHOW USERS' | cut -d'|' -f1 | tr '\n' ' ')
assert_eq "md5: the admin logs in with a password; SHOW USERS lists the auth file" \
    "name admin alice alive (3 rows) " "$out"
PGPASSWORD=wrong expect_connect_error "md5: a wrong password is refused before the console" \
    "$ADMIN_CI" 28P01
PGPASSWORD=alicepw expect_connect_error "md5: alice (not an admin) is refused with 28000" \
    "$(dm_conninfo dormouse alice)" 28000 "not allowed"
PGPASSWORD=davepw expect_connect_error "md5: dave is unknown before RELOAD" \
    "$(dm_conninfo y dave)" 28P01
write_auth_file admin adminpw alice alicepw alive alivepw dave davepw
assert_eq "RELOAD" "RELOAD" "$(admin 'RELOAD')"
PGPASSWORD=davepw expect_connect_ok "md5: after RELOAD dave logs in" "$(dm_conninfo y dave)"
PGPASSWORD=alivepw dm_alive_check "md5: after RELOAD"

PGPASSWORD=alicepw dm_psql "$(dm_conninfo y alice)" -At -v VERBOSITY=verbose \
    -c "select 'before'" -c "$DM_SLOW_SQL" >"$DM_TMP/slow.out" 2>&1 &
bg_track $!
sleep 1
out=$(admin 'SHUTDOWN')
assert_contains "SHUTDOWN answers SHUTDOWN (then the console, too, gets 57P01)" "$out" "SHUTDOWN"
if dm_wait_exit 30; then
    assert_eq "SHUTDOWN: dormouse exits 0" 0 "$DM_EXIT_CODE"
else
    fail "SHUTDOWN: dormouse exits" "still running" "$(tail -n 30 "$DM_LOG")"
fi
assert_contains "SHUTDOWN was graceful: the running statement finished" \
    "$(cat "$DM_TMP/slow.out")" "$DM_SLOW_RESULT"
assert_not_contains "no crash or sanitizer report in the log" "$(cat "$DM_TMP"/dormouse-*.log)" \
    "runtime error"
DM_PID=""
dm_finish
