#!/usr/bin/env bash
# test_limits: client_login_timeout (a client that connects and never logs
# in, or sends half a startup packet, gets FATAL 57014 "canceling
# authentication due to timeout" and is closed; others log in as usual),
# idle_transaction_timeout (a client idle inside a transaction gets FATAL
# 25P03 and its transaction is rolled back; one idle outside a transaction
# is left alone) and query_timeout (a statement running too long gets
# 57014 "canceling statement due to statement timeout", on SQLite, or the
# server's cancel on an upstream PostgreSQL, and the session goes on); then
# max_db_client_connections and max_user_client_connections (FATAL 53300
# "too many connections for database/role", as PostgreSQL says it); and
# login_failure_limit (an address with too many failed logins is refused,
# FATAL 28000, for login_failure_window seconds; other addresses and the
# Unix socket are not).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "these limits are Dormouse's" || dm_finish
pg_start
pg_psql -c "create role up login" -c "create database uplim owner up" >/dev/null ||
    die "cannot create the upstream role and database"
DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
dm_write_config "$DM_TMP/lim.ini" "client_login_timeout = 1" "idle_transaction_timeout = 2" \
    "query_timeout = 1" \
    "[databases] uplim = host=127.0.0.1 port=$PGPORT_REAL dbname=uplim" \
    "[databases] * = engine=sqlite"
dm_start "$DM_TMP/lim.ini"

out=$(timeout 120 "$PYTHON" - "$DM_PORT" "${DM_SLOW_SQL/10000000/200000000}" 2>&1 <<'PY'
import socket, struct, sys, time
import psycopg
from dmlib import connect, report
port, slow = int(sys.argv[1]), sys.argv[2]

def silent_client(send=b""):
    """Connects, sends `send` (nothing, or part of a startup packet), waits:
    what the server says before it closes, and after how long."""
    s = socket.create_connection(("127.0.0.1", port))
    s.settimeout(15)
    s.sendall(send)
    t0, data = time.time(), b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
    s.close()
    return data, time.time() - t0

data, took = silent_client()
report(data[:1] == b"E" and b"C57014" in data and b"canceling authentication due to timeout" in data and took < 5,
       "client_login_timeout: a client that says nothing gets FATAL 57014 and is closed", (data, took))
data, took = silent_client(struct.pack("!I", 40) + struct.pack("!I", 196608) + b"user\0")
report(b"C57014" in data and took < 5, "... and so does one that sends half a startup packet", (data, took))
c = connect(port, "lim", "alice")
report(c.execute("select 1").fetchone()[0] == 1, "clients that log in are not affected")

# idle_transaction_timeout
c.execute("create table t (x int)")
c.execute("begin")
c.execute("insert into t values (1)")
time.sleep(3.5)
try:
    c.execute("select 1")
    report(False, "idle_transaction_timeout: the idle transaction's client is closed")
except psycopg.Error as e:
    report("idle-in-transaction timeout" in str(e) or c.closed,
           "idle_transaction_timeout: the idle transaction's client is closed", str(e))
d = connect(port, "lim", "bob")
report(d.execute("select count(*) from t").fetchone()[0] == 0, "its transaction was rolled back")
time.sleep(2.5)
report(d.execute("select 2").fetchone()[0] == 2, "a client idle outside a transaction is left alone")

# query_timeout
t0 = time.time()
try:
    d.execute(slow)
    report(False, "query_timeout (SQLite): the slow statement is cancelled")
except psycopg.Error as e:
    report(e.sqlstate == "57014" and "canceling statement due to statement timeout" in str(e) and time.time() - t0 < 10,
           "query_timeout (SQLite): 57014 canceling statement due to statement timeout", (e.sqlstate, str(e), time.time() - t0))
report(d.execute("select 3").fetchone()[0] == 3, "the session goes on after the cancel")
u = psycopg.connect(f"host=127.0.0.1 port={port} dbname=uplim user=up", autocommit=True)
t0 = time.time()
try:
    u.execute("select pg_sleep(8)")
    report(False, "query_timeout (upstream): the server's statement is cancelled")
except psycopg.Error as e:
    report(e.sqlstate == "57014" and time.time() - t0 < 6,
           "query_timeout (upstream): the server cancels the statement (57014)", (e.sqlstate, str(e), time.time() - t0))
report(u.execute("select 4").fetchone()[0] == 4, "the upstream session goes on too")
print("DONE")
PY
)
relay_checks "$out"
dm_stop_check

# max_db_client_connections, max_user_client_connections
dm_write_config "$DM_TMP/lim2.ini" "max_db_client_connections = 2" "max_user_client_connections = 3" \
    "admin_users = admin"
dm_start "$DM_TMP/lim2.ini"
out=$(timeout 60 "$PYTHON" - "$DM_PORT" 2>&1 <<'PY'
import sys
import psycopg
from dmlib import Console, connect, report, wait_for
port = sys.argv[1]
def refused(db, user):
    try:
        connect(port, db, user).close()
        return None
    except psycopg.OperationalError as e:
        return str(e)
a1, a2 = connect(port, "x", "a"), connect(port, "x", "b")
r = refused("x", "c")
report(r and "too many connections for database \"x\"" in r, "max_db_client_connections: a third client of x is refused (53300)", r)
a1.close()  # (its Terminate may reach Dormouse after the next login starts: retried)
report(wait_for(lambda: refused("x", "c") is None, 5), "... and a place is free once one has gone")
d = [connect(port, db, "d") for db in ("p", "q", "r")]
r = refused("s", "d")
report(r and "too many connections for role \"d\"" in r, "max_user_client_connections: a fourth client of d is refused", r)
con = Console(port)
report(con.execute("SHOW VERSION").fetchone() is not None, "the admin console is not counted")
for x in d:
    x.close()
report(wait_for(lambda: refused("s", "d") is None, 5), "d logs in again once its clients have gone")
print("DONE")
PY
)
relay_checks "$out"
dm_stop_check

# ---- failed logins per source address ----
printf '"alice" "alicepw"\n"alive" "alivepw"\n' >"$DM_TMP/users.txt"
SOCK=$(dm_tmpdir sock)
dm_write_config "$DM_TMP/fail.ini" "auth_type = scram-sha-256" "auth_file = $DM_TMP/users.txt" \
    "login_failure_limit = 3" "login_failure_window = 3" "unix_socket_dir = $SOCK"
dm_start "$DM_TMP/fail.ini"
for i in 1 2 3; do
    PGPASSWORD=wrong expect_connect_error "wrong password $i from 127.0.0.1: 28P01" "$(dm_conninfo lim alice)" 28P01
done
PGPASSWORD=alicepw expect_connect_error "login_failure_limit: the next login from 127.0.0.1 is refused, even with the right password (28000)" \
    "$(dm_conninfo lim alice)" 28000 "too many failed login attempts from 127.0.0.1"
out=$("$PYTHON" "$DM_E2E_DIR/rawproto.py" alive --host 127.0.0.1 --port "$DM_PORT" --user alice \
    --password alicepw --db lim --source 127.0.0.2 2>&1)
assert_rc "... while 127.0.0.2 logs in as usual" 0 $? "$out"
out=$(PGPASSWORD=alicepw dm_psql "host=$SOCK port=$DM_PORT dbname=lim user=alice" -At -c "select 'local'" 2>&1)
assert_eq "... and so does the Unix socket (local clients are not counted)" "local" "$out"
assert_contains "the refusal is logged once, naming the address" "$(cat "$DM_LOG")" \
    "3 failed logins from 127.0.0.1 within 3 s: its logins are refused for 3 s"
sleep 3.2
PGPASSWORD=alicepw expect_connect_ok "after login_failure_window, 127.0.0.1 logs in again" "$(dm_conninfo lim alice)"
dm_stop_check
dm_finish
