#!/usr/bin/env bash
# test_pooling_sqlite: opened SQLite connections are reused across clients.
#
# A client that leaves gives its connection back to its database's idle list
# (after a RESET on a worker) and the next client of that database takes it
# already open.  Checked: 200 sequential one-query clients mostly reuse (the
# "reused backend" debug lines); nothing of one client leaks into the next
# (settings, temp tables, prepared statements, an uncommitted transaction and
# its write lock); 50 concurrent clients; sqlite_pool_size = 0 turns reuse off
# and a SIGHUP turns it on; server_idle_timeout closes idle connections;
# shutdown closes the idle ones cleanly (exit status 0, under ASan too); and
# idle clients without session state give their connection back after
# sqlite_release_idle, while those with state (temp table, SET, open
# transaction) keep theirs and find it intact.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "SQLite connection reuse" || dm_finish

DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
dm_write_config "$DM_TMP/dormouse.ini" "log_level = debug" "sqlite_workers = 2"
dm_start "$DM_TMP/dormouse.ini"

count_log() { grep -c -- "$1" "$DM_LOG"; }

# ---- sequential one-query clients reuse one connection ----
fails=0
for i in $(seq 200); do
    out=$(dm_psql "$(dm_conninfo app)" -At -c 'select 1' 2>&1)
    [ "$out" = 1 ] || fails=$((fails + 1))
done
assert_eq "200 sequential clients each ran select 1" 0 "$fails"
reused=$(count_log "app 127.0.0.1:[0-9]*: reused backend")
opened=$((200 - reused))
info "reused $reused of 200 connections (new ones opened: $opened)"
assert_true "most of 200 sequential clients reused an opened connection" "reused=$reused" \
    test "$reused" -ge 150
parked_line="parked for reuse" # after a RESET, or at once when the client left nothing
assert_true "connections went back to the pool (reset where the client left state)" \
    "parked lines: $(count_log "$parked_line")" test "$(count_log "$parked_line")" -ge 150

# ---- nothing leaks from one client to the next ----
# Client A: a setting, a temp table, a named prepared statement and an
# uncommitted insert (holding the write lock); then it drops the socket.
# Client B, on the connection A left (LIFO: the warmest), sees none of it.
dm_psql "$(dm_conninfo app)" -q -c 'create table shared(x int)' >/dev/null 2>&1
leak_out=$("$PYTHON" - "$DM_E2E_DIR" "$DM_HOST" "$DM_PORT" "$DM_LOG" "$parked_line" <<'EOF' 2>&1
import struct, sys, time, types

sys.path.insert(0, sys.argv[1])
import rawproto as rp

host, port, log, parked = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
args = types.SimpleNamespace(host=host, port=port, user="app", db="app", password="")

def one(c, sql):
    results, status = c.query(sql)
    r = results[-1]
    if "error" in r:
        return "ERROR:%s [%s]" % (r["error"].get("C"), status)
    rows = ";".join(",".join("NULL" if v is None else v for v in row) for row in r.get("rows", []))
    return "%s{%s} [%s]" % (r.get("tag", ""), rows, status)

def parse_sync(c, name, sql):
    c.send(rp.msg(b"P", rp.cstr(name) + rp.cstr(sql) + struct.pack("!H", 0)) + rp.msg(b"S"))
    msgs, status = c.read_until_ready()
    return " ".join(k for k, _ in msgs)

def bind_sync(c, name):
    c.send(rp.msg(b"B", rp.cstr("") + rp.cstr(name) + struct.pack("!HHH", 0, 0, 0)) + rp.msg(b"S"))
    msgs, status = c.read_until_ready()
    errs = [rp.parse_fields(b).get("C") for k, b in msgs if k == "E"]
    return "E:%s" % errs[0] if errs else " ".join(k for k, _ in msgs)

def parked_count():
    with open(log) as f:
        return sum(1 for line in f if parked in line)

a = rp.connect(args)
a.login()
print("A", one(a, "set application_name = 'leaky'"))
print("A", one(a, "create temp table tmp_a(x int)"))
print("A", parse_sync(a, "stmt_a", "select 1"))
print("A", one(a, "begin"))
print("A", one(a, "insert into shared values (1)"))
before = parked_count()
a.close()  # no Terminate, no COMMIT
deadline = time.time() + 10
while parked_count() == before and time.time() < deadline:
    time.sleep(0.05)
print("A parked", parked_count() > before)

b = rp.connect(args)
b.login()
print("B", one(b, "show application_name"))
print("B", one(b, "select count(*) from tmp_a"))
print("B", bind_sync(b, "stmt_a"))
print("B", one(b, "select count(*) from shared"))
print("B", one(b, "insert into shared values (2)"))
print("B", one(b, "select count(*) from shared"))
b.send(rp.msg(b"X"))
b.close()
EOF
)
assert_eq "client B sees nothing of client A (settings, temp table, prepared statement, transaction)" "$(
    cat <<'EOF'
A SET{} [I]
A CREATE TABLE{} [I]
A 1 Z
A BEGIN{} [T]
A INSERT 0 1{} [T]
A parked True
B SHOW{} [I]
B ERROR:42P01 [I]
B E:26000
B SELECT 1{0} [I]
B INSERT 0 1{} [I]
B SELECT 1{1} [I]
EOF
)" "$leak_out"
last_reuse=$(grep -- "reused backend" "$DM_LOG" | tail -1)
assert_contains "client B was served by a reused connection" "$last_reuse" "reused backend"

# ---- 50 concurrent clients ----
pids=()
for i in $(seq 50); do
    (
        out=$(dm_psql "$(dm_conninfo app)" -At -c "create temp table t$i(x int)" \
            -c "insert into t$i values ($i)" -c "select count(*) || ':' || max(x) from t$i" 2>&1)
        [ "$out" = "$(printf 'CREATE TABLE\nINSERT 0 1\n1:%s' "$i")" ] ||
            echo "client $i: $out" >"$DM_TMP/conc-$i.err"
    ) &
    pids+=($!)
    bg_track $!
done
for p in "${pids[@]}"; do wait "$p"; done
errs=$(cat "$DM_TMP"/conc-*.err 2>/dev/null)
assert_eq "50 concurrent clients with temp tables of their own" "" "$errs"
dm_alive_check "after 50 concurrent clients"
dm_stop_check "dormouse exits 0 with idle connections in the pool"
assert_contains "shutdown closed the idle connections" "$(cat "$DM_LOG")" "idle backend"

# ---- sqlite_pool_size = 0: no reuse; SIGHUP applies a new size ----
DM_PORT=$(free_port) || die "no free port"
dm_write_config "$DM_TMP/nopool.ini" "log_level = debug" "sqlite_pool_size = 0"
dm_start "$DM_TMP/nopool.ini"
for i in $(seq 5); do dm_psql "$(dm_conninfo app)" -At -c 'select 1' >/dev/null 2>&1; done
assert_eq "sqlite_pool_size = 0: no connection is reused" 0 "$(count_log "reused backend")"
dm_write_config "$DM_TMP/nopool.ini" "log_level = debug" "sqlite_pool_size = 5" \
    "server_idle_timeout = 1"
dm_signal HUP
wait_until 10 grep -q "configuration reloaded" "$DM_LOG" || fail "SIGHUP reload" "$(tail "$DM_LOG")"
for i in $(seq 5); do dm_psql "$(dm_conninfo app)" -At -c 'select 1' >/dev/null 2>&1; done
assert_true "after SIGHUP with sqlite_pool_size = 5, connections are reused" \
    "reused: $(count_log "reused backend")" test "$(count_log "reused backend")" -ge 3

# ---- server_idle_timeout closes idle connections ----
closed_before=$(count_log "closing [0-9]* idle backend")
idle_closed() { [ "$(count_log "closing [0-9]* idle backend")" -gt "$closed_before" ]; }
if wait_until 10 idle_closed; then
    pass "server_idle_timeout = 1: the idle connection is closed"
else
    fail "server_idle_timeout = 1: the idle connection is closed" "$(tail -n 20 "$DM_LOG")"
fi
out=$(dm_psql "$(dm_conninfo app)" -At -c 'select 2' 2>&1)
assert_eq "a client after the idle connection was closed gets a new one" 2 "$out"
dm_stop_check "dormouse exits 0 (no-pool instance)"
# ---- idle clients give their connection back (sqlite_release_idle) ----
DM_PORT=$(free_port) || die "no free port"
dm_write_config "$DM_TMP/release.ini" "admin_users = admin" "sqlite_release_idle = 1"
dm_start "$DM_TMP/release.ini"
dm_psql "$(dm_conninfo idle)" -At -c "create table k(v int)" -c "insert into k values (7)" >/dev/null 2>&1
out=$(DM_PORT=$DM_PORT timeout 60 "$PYTHON" - <<'PYEOF' 2>&1
import os, time, subprocess, psycopg2
port = int(os.environ["DM_PORT"])
def connect():
    c = psycopg2.connect(host="127.0.0.1", port=port, user="app", dbname="idle")
    c.autocommit = True
    return c
conns = [connect() for _ in range(40)]
for c in conns:
    with c.cursor() as cur:
        cur.execute("select v from k")
        assert cur.fetchone()[0] == 7
stateful = conns[:3]
stateful[0].cursor().execute("create temp table mine(x int)")
stateful[0].cursor().execute("insert into mine values (1)")
stateful[1].cursor().execute("set application_name = 'kept'")
stateful[2].autocommit = False
stateful[2].cursor().execute("select v from k")  # psycopg2 opened a transaction
time.sleep(3)
def servers():
    out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(port), "-U", "admin", "-At",
                          "-F", "|", "dormouse", "-c", "show servers"],
                         capture_output=True, text=True).stdout
    return sum(1 for l in out.splitlines() if l.split("|")[2:3] == ["idle"])
print("held", servers())
for c in conns[3:]:
    with c.cursor() as cur:
        cur.execute("select v + 1 from k")
        assert cur.fetchone()[0] == 8
with stateful[0].cursor() as cur:
    cur.execute("select count(*) from mine")
    print("temp", cur.fetchone()[0])
with stateful[1].cursor() as cur:
    cur.execute("show application_name")
    print("set", cur.fetchone()[0])
stateful[2].commit()
print("ok")
PYEOF
)
assert_eq "idle clients without session state give their SQLite connection back; 3 with state keep theirs" \
    $'held 3\ntemp 1\nset kept\nok' "$out"
dm_stop_check "dormouse exits 0 after releasing idle clients' connections"

dm_finish
