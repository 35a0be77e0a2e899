#!/usr/bin/env bash
# test_managed_pg: a PostgreSQL that Dormouse runs itself (managed_datadir).
# The first client of an empty directory gets a new cluster (initdb, then
# its database), served by a postgres running as the postgres user on a
# private Unix socket (no TCP listener); idle for idle_timeout the database
# pauses and the server stops; an idle client connection survives that and
# its next query starts the server again; 50 clients at once at a stopped
# server cause one start and all succeed; a server killed with -9 is
# restarted; a server that cannot start gives its own reason to the waiting
# clients (SQLSTATE 08006) and starts once fixed; a slow start past
# resume_timeout gives 57P03; without managed_initdb an empty directory is
# refused clearly; kill -9 of Dormouse leaves no server behind, and what was
# committed is there after the restart.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "managed PostgreSQL is Dormouse's" || dm_finish
"$PYTHON" -c 'import psycopg' 2>/dev/null || die "setup: $PYTHON cannot import psycopg (install python3-psycopg)"
[ -n "$PG_BINDIR" ] && [ -x "$PG_BINDIR/postgres" ] || die "setup: no PostgreSQL server binaries (postgresql package)"
if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    die "setup: running as root but there is no postgres user"
fi

DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
MG=$DM_TMP/clusters # managed data directories below; Dormouse creates them
PGAPP=$MG/pgapp
DM_PG_DATADIRS+=("$PGAPP" "$MG/slow") # the cleanup stops any server left
# a postgres that takes 3 s to start (for resume_timeout)
SLOWBIN=$(dm_tmpdir slowbin)
for p in initdb pg_ctl; do ln -s "$PG_BINDIR/$p" "$SLOWBIN/$p"; done
printf '#!/bin/sh\ncase "$1" in --single) ;; *) sleep 3 ;; esac\nexec %s/postgres "$@"\n' "$PG_BINDIR" >"$SLOWBIN/postgres"
chmod 755 "$SLOWBIN" "$SLOWBIN/postgres"

HTTP_PORT=$(free_port) || die "no free port"
write_config() {
    dm_write_config "$DM_TMP/mg.ini" "idle_timeout = 2" "admin_users = admin" \
        "http_listen = 127.0.0.1:$HTTP_PORT" \
        "[databases] pgapp = managed_datadir=$PGAPP managed_initdb=yes dbname=pgapp user=app" \
        "[databases] noinit = managed_datadir=$MG/noinit dbname=postgres" \
        "[databases] * = engine=sqlite"
}
write_config
dm_start "$DM_TMP/mg.ini"

postmaster() { [ -f "$PGAPP/postmaster.pid" ] && head -1 "$PGAPP/postmaster.pid"; }

out=$(timeout 200 "$PYTHON" - "$DM_PORT" "$PGAPP" "$HTTP_PORT" 2>&1 <<'PY'
import os, subprocess, sys, time
import psycopg
from dmlib import Console, connect, report, storm, wait_for
port, pgapp, http_port = sys.argv[1], sys.argv[2], sys.argv[3]
def dm(db="pgapp", user="app"):
    return connect(port, db, user)
admin = Console(port)
dbrow = admin.db
def postmaster():
    try:
        with open(os.path.join(pgapp, "postmaster.pid")) as f:
            lines = f.read().split("\n")
        pid = int(lines[0])
        os.kill(pid, 0)
        return pid, lines
    except (OSError, ValueError, IndexError):
        return None, None
def running():
    return postmaster()[0] is not None

report(not os.path.exists(pgapp), "before the first client there is no cluster")
a = dm()
row = a.execute("select current_user, current_database(), current_setting('listen_addresses')").fetchone()
report(row == ("app", "pgapp", ""), "the first client gets a new cluster: user app, database pgapp, no TCP listener", row)
pid, lines = postmaster()
owner = subprocess.run(["ps", "-o", "user=", "-p", str(pid)], capture_output=True, text=True).stdout.strip() if pid else ""
want_owner = "postgres" if os.geteuid() == 0 else subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
report(owner == want_owner, f"the server runs as {want_owner}", owner)
report(lines is not None and lines[4] == pgapp, "its socket is in its data directory", lines and lines[4])
r = dbrow("pgapp")
report(r["cold_starts"] == 1 and r["state"] in ("active", "idle"), "SHOW DATABASES: one cold start, up", r)
a.execute("create table t (x int)")
a.execute("insert into t select generate_series(1, 100)")

# idle: the database pauses and the server stops; the client stays
r = dbrow("pgapp")
report(wait_for(lambda: dbrow("pgapp")["state"] == "paused") and wait_for(lambda: not running()),
       "idle for idle_timeout (2 s): paused, and the server has stopped", (dbrow("pgapp")["state"], postmaster()[0]))
t0 = time.time()
n = a.execute("select count(*) from t").fetchone()[0]
took = time.time() - t0
report(n == 100 and running(), "the idle client's next query starts the server again and just works", n)
r = dbrow("pgapp")
report(r["cold_starts"] == 2 and r["last_resume_ms"] is not None,
       "the resume is counted and timed (the first start was a cold start too)", r)
print(f"INFO: resume of a managed PostgreSQL (start and first query): {took * 1000:.0f} ms")

# a storm of clients at a stopped server: one start
a.close()
wait_for(lambda: dbrow("pgapp")["state"] == "paused" and not running())
before = dbrow("pgapp")["cold_starts"]
errors = storm(50, dm, "select count(*) from t", 100)
report(not errors, "50 clients at once at a stopped managed server all succeed", "; ".join(errors[:3]))
after = dbrow("pgapp")["cold_starts"]
report(after == before + 1, "... with one cold start", f"{before} -> {after}")

# kill -9 of the server: Dormouse starts it again
c = dm()
c.execute("insert into t values (101)")
pid, _ = postmaster()
os.kill(pid, 9)
report(wait_for(lambda: postmaster()[0] not in (None, pid)), "a server killed with -9 is started again at once", postmaster()[0])
ok = False
for _ in range(50):  # sessions on the dead server fail once; a new one works
    try:
        with dm() as d:
            ok = d.execute("select count(*) from t").fetchone()[0] == 101
        break
    except psycopg.Error:
        time.sleep(0.1)
report(ok, "... and serves the committed rows")

# a managed server that cannot start: its reason, then it starts once fixed
c.close()
wait_for(lambda: dbrow("pgapp")["state"] == "paused" and not running())
os.chmod(pgapp, 0o755)  # PostgreSQL refuses a data directory others can read
try:
    dm().execute("select 1")
    report(False, "a server that cannot start: the client gets an error")
except psycopg.Error as e:
    msg = str(e)
    report(e.sqlstate == "08006" and "invalid permissions" in msg and "pgapp" in msg,
           "a server that cannot start: 08006 with PostgreSQL's own reason", (e.sqlstate, msg))
os.chmod(pgapp, 0o700)
time.sleep(1.1)  # server_login_retry: a new try no sooner than that
try:
    n = dm().execute("select count(*) from t").fetchone()[0]
    report(n == 101, "fixed: the next client starts it", n)
except psycopg.Error as e:
    report(False, "fixed: the next client starts it", str(e))

# the HTTP API says how its server is
import json, urllib.request
with urllib.request.urlopen(f"http://127.0.0.1:{http_port}/v1/databases") as resp:
    d = {x["name"]: x for x in json.loads(resp.read())["databases"]}
report(d.get("pgapp", {}).get("managed_server") == "ready", "GET /v1/databases: its managed_server is ready", d.get("pgapp"))

# PAUSE / RESUME in the console: the server stops, and starts again with no query
admin.execute("PAUSE pgapp")
report(wait_for(lambda: dbrow("pgapp")["state"] == "paused" and not running(), 5),
       "PAUSE pgapp: the database pauses and its server stops", (dbrow("pgapp")["state"], postmaster()[0]))
admin.execute("RESUME pgapp")
report(wait_for(running, 10), "RESUME pgapp: its server starts at once, before any query")
n = dm().execute("select count(*) from t").fetchone()[0]
report(n == 101, "... and serves", n)

# without managed_initdb an empty directory is refused
try:
    dm("noinit").execute("select 1")
    report(False, "managed_initdb=no on an empty directory: an error")
except psycopg.Error as e:
    report("could not be resumed" in str(e) and "managed_initdb=yes" in str(e),
           "managed_initdb=no on an empty directory: a clear error naming managed_initdb", str(e))
print("DONE")
PY
)
relay_checks "$out"

# kill -9 of Dormouse: the server it ran goes too (no orphan)
pm=$(postmaster)
if [ -z "$pm" ] || ! kill -0 "$pm" 2>/dev/null; then
    dm_psql "$(dm_conninfo pgapp app)" -At -c 'select 1' >/dev/null 2>&1
    pm=$(postmaster)
fi
assert_true "the managed server runs" "pid '$pm'" kill -0 "$pm"
# kill9_leaves_none NAME PID: kill -9 of Dormouse; PID (its server) goes too
kill9_leaves_none() {
    local victim=$2
    kill -9 "$DM_PID"
    dm_wait_exit 10
    DM_PID=""
    gone() { ! kill -0 "$victim" 2>/dev/null; }
    if wait_until 15 gone; then pass "$1"; else fail "$1" "pid $victim still runs"; fi
}
kill9_leaves_none "kill -9 of Dormouse: its PostgreSQL server stops too (no orphan)" "$pm"
dm_start "$DM_TMP/mg.ini"
assert_eq "after the restart, what was committed is there" "101" \
    "$(dm_psql "$(dm_conninfo pgapp app)" -At -c 'select count(*) from t' 2>&1)"

# resume_timeout: a server slower to start than that gives 57P03 to the waiting client
dm_stop_check
dm_write_config "$DM_TMP/slow.ini" "idle_timeout = 30" "resume_timeout = 1" \
    "managed_bindir = $SLOWBIN" \
    "[databases] slow = managed_datadir=$MG/slow managed_initdb=yes dbname=slow user=app"
dm_start "$DM_TMP/slow.ini"
out=$(dm_psql "$(dm_conninfo slow app)" -At -c 'select 1' 2>&1)
assert_contains "a start slower than resume_timeout (1 s): 57P03, the database system is starting up" \
    "$out" "the database system is starting up"
ready() { grep -q 'database "slow": its PostgreSQL server is ready' "$DM_LOG"; }
wait_until 20 ready || fail "the slow server comes up" "$(tail -3 "$DM_LOG")"
assert_eq "once it is up, clients get in" "1" "$(dm_psql "$(dm_conninfo slow app)" -At -c 'select 1' 2>&1)"
spm=$(head -1 "$MG/slow/postmaster.pid")
dm_stop_check "SIGTERM: Dormouse stops its servers and exits 0"
assert_true "... and the server is gone" "pid $spm" eval "! kill -0 $spm 2>/dev/null"

# kill -9 of Dormouse while its server is starting: nothing is left behind,
# and the next Dormouse starts it
dm_start "$DM_TMP/slow.ini"
dm_psql "$(dm_conninfo slow app)" -At -c 'select 1' >/dev/null 2>&1 &
bg_track $!
starting() { grep -q 'database "slow": starting its PostgreSQL server' "$DM_LOG"; }
wait_until 10 starting || fail "the slow server starts" "$(tail -3 "$DM_LOG")"
spm=$(grep -o 'database "slow": starting its PostgreSQL server ([^,]*, pid [0-9]*' "$DM_LOG" | tail -1 | grep -o '[0-9]*$')
kill9_leaves_none "kill -9 of Dormouse while its server starts: the starting server goes too" "$spm"
dm_start "$DM_TMP/slow.ini"
dm_psql "$(dm_conninfo slow app)" -At -c 'select 1' >/dev/null 2>&1 # starts it (57P03 at 1 s)
wait_until 20 ready || fail "the next Dormouse starts the server" "$(tail -3 "$DM_LOG")"
assert_eq "the next Dormouse starts it and serves" "1" \
    "$(dm_psql "$(dm_conninfo slow app)" -At -c 'select 1' 2>&1)"
dm_stop_check
dm_finish
