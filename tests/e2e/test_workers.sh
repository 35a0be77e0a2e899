#!/usr/bin/env bash
# test_workers: several event-loop threads (workers = 4) without splitting
# pools or statistics.  Loop 0 accepts; a client moves to its database's
# home loop once its StartupMessage names the database, so the clients of one
# database share one pool and one set of counters.  Checks: clients of many databases at once, on every loop; one
# upstream pool_size = 2 for 12 concurrent clients (pg_stat_activity never
# above 2); SHOW CLIENTS/POOLS/STATS count every loop's clients; CancelRequests
# (which have no database: loop 0 takes them) cancel upstream and SQLite
# queries on the other loops (the debug log shows which loop each database's
# clients moved to); KILL and RELOAD reach
# every loop; SIGTERM with clients on several loops exits 0.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "workers is Dormouse's" || dm_finish
"$PYTHON" -c 'import psycopg' 2>/dev/null || die "setup: $PYTHON cannot import psycopg (install python3-psycopg)"

pg_start
pg_psql -c "create role app login" -c "create database app owner app" >/dev/null ||
    die "cannot create the upstream database"

DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
dm_write_config "$DM_TMP/w.ini" "workers = 4" "log_level = debug" "admin_users = admin" "query_wait_timeout = 30" \
    "[databases] app = host=127.0.0.1 port=$PGPORT_REAL dbname=app user=app pool_size=2" \
    "[databases] * = engine=sqlite"
dm_start "$DM_TMP/w.ini"
assert_contains "the log says 4 event loops" "$(head -5 "$DM_LOG")" "4 event loops"
ADMIN="host=127.0.0.1 port=$DM_PORT user=admin dbname=dormouse"
admin() { dm_psql "$ADMIN" -At -F ' ' -c "$1" 2>&1; }
assert_eq "SHOW CONFIG shows workers" "workers 4 0 no" "$(admin 'SHOW CONFIG' | grep '^workers ')"

out=$(timeout 120 "$PYTHON" - "$DM_PORT" "host=127.0.0.1 port=$PGPORT_REAL user=postgres dbname=postgres" "$ADMIN" \
    2>&1 <<'PY'
import sys, threading, time
import psycopg
port, pg_dsn, admin_dsn = sys.argv[1], sys.argv[2], sys.argv[3]
def dm(db, user="w"):
    return psycopg.connect(f"host=127.0.0.1 port={port} dbname={db} user={user}", autocommit=True)
def report(ok, name, detail=""):
    print(("PASS: " if ok else "FAIL: ") + name + (f" ({detail})" if detail and not ok else ""))

# 16 SQLite databases, two clients each, all connected at once: they are
# spread over the loops (each database on its own home loop).
conns = []
for i in range(16):
    for j in range(2):
        c = dm(f"wdb{i}")
        conns.append((i, c))
        c.execute("create table if not exists t (x int)")
        c.execute("insert into t values (%s)", (j,))
good = all(c.execute("select count(*) from t").fetchone()[0] == 2 for i, c in conns)
report(good, "32 clients of 16 SQLite databases, all connected at once, see their own database")
admin = psycopg.connect(admin_dsn, autocommit=True)
rows = admin.execute("SHOW CLIENTS").fetchall()
names = [d.name for d in admin.execute("SHOW CLIENTS").description]
dbi = names.index("database")
n = sum(1 for r in rows if str(r[dbi]).startswith("wdb"))
report(n == 32, "SHOW CLIENTS lists the clients of every loop", f"{n} of 32")
for i, c in conns:
    c.close()

# One upstream pool for clients accepted by any loop: 12 clients, pool_size 2.
pg = psycopg.connect(pg_dsn, autocommit=True)
peak = [0]
stop = threading.Event()
def sample():
    while not stop.is_set():
        n = pg.execute("select count(*) from pg_stat_activity where usename = 'app'").fetchone()[0]
        peak[0] = max(peak[0], n)
        time.sleep(0.01)
errors = []
def client(k):
    try:
        c = dm("app")
        for _ in range(10):
            c.execute("select pg_sleep(0.01)")
        c.close()
    except Exception as e:
        errors.append(repr(e))
s = threading.Thread(target=sample); s.start()
ts = [threading.Thread(target=client, args=(k,)) for k in range(12)]
[t.start() for t in ts]; [t.join(60) for t in ts]
stop.set(); s.join()
report(not errors, "12 clients of one upstream database through pool_size = 2", "; ".join(errors[:3]))
report(0 < peak[0] <= 2, "the pool is not split between loops: at most 2 server connections", f"peak {peak[0]}")
st = admin.execute("SHOW STATS").fetchall()
names = [d.name for d in admin.execute("SHOW STATS").description]
row = [r for r in st if r[names.index("database")] == "app"]
q = int(row[0][names.index("total_query_count")]) if row else -1
report(q >= 120, "SHOW STATS counts every loop's queries of app in one row", f"total_query_count {q}")

# CancelRequests go to whichever loop accepts them.
def cancel_rounds(db, sql, n):
    ok = 0
    for _ in range(n):
        c = dm(db)
        res = {}
        def run():
            try:
                c.execute(sql)
                res["err"] = None
            except Exception as e:
                res["err"] = e
        t = threading.Thread(target=run); t.start()
        time.sleep(0.15)
        t0 = time.time()
        c.cancel()
        t.join(20)
        e = res.get("err")
        if e is not None and getattr(e, "sqlstate", None) == "57014" and time.time() - t0 < 10:
            ok += 1
        c.close()
    return ok
k = cancel_rounds("app", "select pg_sleep(30)", 20)
report(k == 20, "20 CancelRequests cancel upstream pg_sleep(30) whatever loop accepts them", f"{k} of 20")
runaway = "with recursive r(i) as (select 1 union all select i + 1 from r) select count(*) from r"
k = sum(cancel_rounds(f"wdb{i}", runaway, 1) for i in range(10))
report(k == 10, "10 CancelRequests cancel runaway SQLite queries of 10 databases", f"{k} of 10")

# KILL reaches the loop of the database it names.
victims = [dm(f"wdb{i}") for i in range(4)]
admin.execute("KILL wdb2")
dead = 0
for i, c in enumerate(victims):
    try:
        c.execute("select 1")
    except Exception:
        dead += 1 if i == 2 else 100
report(dead == 1, "KILL wdb2 ends wdb2's client only", f"score {dead}")
print("DONE")
PY
)
relay_checks "$out"
# the databases whose queries were cancelled live on loops other than 0
moved=$(grep -cE "@wdb[0-9] .*: moved to event loop [1-9]" "$DM_LOG")
assert_true "... most of them on loops other than 0, where the CancelRequests did not arrive" \
    "$moved clients of wdb0..wdb9 moved off loop 0" [ "$moved" -gt 0 ]

# RELOAD and SIGTERM with clients on several loops.
assert_eq "RELOAD" "RELOAD" "$(admin 'RELOAD')"
holders=()
for i in 1 2 3 4 5 6; do
    dm_psql "$(dm_conninfo "wdb$i" w)" -At -c "select 1" -c '\! sleep 20' >/dev/null 2>&1 &
    holders+=($!)
    bg_track $!
done
idle_clients() { [ "$(admin 'SHOW CLIENTS' | grep -c ' wdb')" -ge 6 ]; }
wait_until 10 idle_clients || fail "six idle clients connected" "$(admin 'SHOW CLIENTS')"
dm_stop_check "SIGTERM with idle clients on several loops: Dormouse exits 0"
kill "${holders[@]}" 2>/dev/null
dm_finish
