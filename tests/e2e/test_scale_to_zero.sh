#!/usr/bin/env bash
# test_scale_to_zero: an SQLite database idle for idle_timeout pauses (its
# SQLite connections closed, its WAL checkpointed away, no descriptor left
# open on its file) and the next query resumes it.  Checks, through SHOW
# DATABASES: the states idle -> paused -> active; an idle client connection
# neither prevents the pause nor notices it (its next query just works); an
# open transaction keeps the database active, and its rows are there after
# the pause; a line's idle_timeout overrides the global one (0: never); 500
# clients arriving at once at a paused database cause one cold start and all
# succeed; the resume latency is reported; kill -9 while a database pauses
# loses no acknowledged row; with every database paused and no client the
# process sleeps (over 30 s no thread wakes up) until the next connection.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "scale to zero is Dormouse's" || dm_finish
"$PYTHON" -c 'import psycopg' 2>/dev/null || die "setup: $PYTHON cannot import psycopg (install python3-psycopg)"

DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
dm_write_config "$DM_TMP/s2z.ini" "idle_timeout = 2" "admin_users = admin" \
    "[databases] forever = engine=sqlite idle_timeout=0" \
    "[databases] * = engine=sqlite"
dm_start "$DM_TMP/s2z.ini"

out=$(timeout 150 "$PYTHON" - "$DM_PORT" "$DM_DATA" "$DM_PID" 2>&1 <<'PY'
import os, sys, time
from dmlib import Console, connect, report, storm, wait_for
port, data, pid = sys.argv[1], sys.argv[2], sys.argv[3]
def dm(db, user="s"):
    return connect(port, db, user)
admin = Console(port)
dbrow, wait_state = admin.db, admin.wait_state
def open_files(name):
    n = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}").startswith(os.path.join(data, name + ".db")):
                n += 1
        except OSError:
            pass
    return n

a = dm("s2z")
a.execute("create table t (x int)")
a.execute("insert into t select value from generate_series(1, 100)")
r = wait_state("s2z", "paused")
report(r and r["state"] == "paused", "an idle SQLite database pauses after idle_timeout (2 s) though a client stays connected", r)
report(r and r["idle_timeout"] == 2 and r["cold_starts"] == 0, "SHOW DATABASES: idle_timeout 2, no cold start yet", r)
report(r and r["last_pause"] and r["last_pause"].endswith(" UTC") and r["last_resume"] is None,
       "SHOW DATABASES: last_pause is a time, last_resume none yet", r)
report(open_files("s2z") == 0, "paused: no descriptor open on s2z.db, -wal or -shm", open_files("s2z"))
wal = os.path.join(data, "s2z.db-wal")
report(not os.path.exists(wal) or os.path.getsize(wal) == 0, "paused: the WAL was checkpointed away")
n = a.execute("select count(*) from t").fetchone()[0]
report(n == 100, "the idle client's next query just works after the pause", n)
r = dbrow("s2z")
report(r["cold_starts"] == 1 and r["last_resume_ms"] is not None, "the resume is counted and timed", r)
report(r["last_resume"] is not None and r["last_resume"] >= r["last_pause"], "SHOW DATABASES: last_resume, after last_pause", r)
report(r["state"] in ("active", "idle"), "resumed: no longer paused", r["state"])
cur = admin.execute("SHOW STATS")
cols = [d.name for d in cur.description]
st = [dict(zip(cols, x)) for x in cur.fetchall() if x[0] == "s2z"]
report(st and st[0]["total_cold_starts"] == 1 and st[0]["resume_p50"] > 0 and st[0]["total_active_time"] > 0,
       "SHOW STATS: total_cold_starts, resume_p50 (us) and total_active_time", st)

# an open transaction keeps it active
b = dm("s2z")
b.execute("begin")
b.execute("insert into t values (1000)")
time.sleep(4)
r = dbrow("s2z")
report(r["state"] == "active", "an open transaction keeps the database active past idle_timeout", r["state"])
b.execute("commit")
r = wait_state("s2z", "paused")
report(r["state"] == "paused", "once committed, the database pauses", r["state"])
n = b.execute("select count(*) from t").fetchone()[0]
report(n == 101, "the committed row is there after the pause", n)

# a line's idle_timeout = 0: never
f = dm("forever")
f.execute("select 1")
time.sleep(4)
r = dbrow("forever")
report(r["state"] != "paused" and r["idle_timeout"] == 0, "idle_timeout=0 on its line: it never pauses", r)

# PAUSE db / RESUME db in the console force it
admin.execute("PAUSE forever")
r = wait_state("forever", "paused", 5)
report(r["state"] == "paused" and r["paused"] == 1, "PAUSE forever: a database that never pauses by itself pauses now", r)
admin.execute("RESUME forever")
n = f.execute("select 1").fetchone()[0]
r = dbrow("forever")
report(n == 1 and r["state"] != "paused" and r["cold_starts"] == 1, "RESUME forever: its client's next query resumes it", r)
time.sleep(2.5)
report(dbrow("forever")["state"] != "paused", "after RESUME it keeps its own idle_timeout (never)", dbrow("forever")["state"])

# a storm at a paused database: one cold start
wait_state("s2z", "paused")
before = dbrow("s2z")["cold_starts"]
errors = storm(500, lambda: dm("s2z"), "select count(*) from t", 101)
report(not errors, "500 clients at once at a paused database all succeed", "; ".join(errors[:3]))
after = dbrow("s2z")["cold_starts"]
report(after == before + 1, "... with one cold start", f"{before} -> {after}")
print("DONE")
PY
)
relay_checks "$out"

# kill -9 while a database pauses: no acknowledged row is lost.
dmq() { dm_psql "$(dm_conninfo "$1" s)" -At -c "$2" 2>&1; }
dmq k9 "create table t (x int)" >/dev/null
for i in 1 2 3 4 5; do dmq k9 "insert into t select value from generate_series(1, 100)" >/dev/null; done
state() { dm_psql "host=127.0.0.1 port=$DM_PORT user=admin dbname=dormouse" -At \
    -c 'SHOW DATABASES' | awk -F'|' '$1 == "k9" {print $16}'; }
leaving() { case $(state) in pausing | paused) return 0 ;; esac; return 1; }
wait_until 15 leaving || fail "k9 starts to pause" "state: $(state)"
kill -9 "$DM_PID"
dm_wait_exit 10
DM_PID=""
dm_start "$DM_TMP/s2z.ini"
assert_eq "kill -9 while the database pauses: all 500 acknowledged rows are there" "500" \
    "$(dmq k9 'select count(*) from t')"
dm_stop_check

# At zero the process sleeps: no client, every database paused, no timer.
DM_PORT=$(free_port) || die "no free port"
dm_write_config "$DM_TMP/zero.ini" "idle_timeout = 1" "[databases] * = engine=sqlite"
dm_start "$DM_TMP/zero.ini"
dmq z "create table t (x int)" >/dev/null
dmq z "insert into t values (1), (2), (3)" >/dev/null
asleep() { grep -q "sleeping until the next connection" "$DM_LOG"; }
if wait_until 15 asleep; then
    pass "with every database paused and no client, Dormouse stops its timers"
else
    fail "with every database paused and no client, Dormouse stops its timers" "$(tail -5 "$DM_LOG")"
fi
# wake-ups of every thread (each one is a context switch)
switches() {
    cat /proc/"$DM_PID"/task/*/status 2>/dev/null |
        awk '/^(voluntary|nonvoluntary)_ctxt_switches/ {n += $2} END {print n + 0}'
}
if [ -n "${TSAN_OPTIONS:-}" ]; then
    skip "asleep: no thread wakes up in 30 s (ThreadSanitizer's runtime has a thread of its own that does)"
else
    # libev caps a wait at about 60 s, so an event loop may wake once in 30 s.
    # The ledger's thread writes the last activity records just after the
    # loop goes to sleep (it gathers for 0.1 s, then syncs): let it finish.
    sleep 1
    a=$(switches)
    sleep 30
    b=$(switches)
    assert_true "asleep: over 30 s no thread wakes up but for libev's once-a-minute check" \
        "$((b - a)) context switches" [ $((b - a)) -le 4 ]
fi
assert_eq "the next client wakes it, and its database" "3" "$(dmq z 'select count(*) from t')"
again() { [ "$(grep -c "sleeping until the next connection" "$DM_LOG")" -ge 2 ]; }
if wait_until 15 again; then
    pass "... which pauses again, and Dormouse sleeps again"
else
    fail "... which pauses again, and Dormouse sleeps again" "$(tail -5 "$DM_LOG")"
fi
dm_stop_check "dormouse exits 0 on SIGTERM while asleep"
dm_finish
