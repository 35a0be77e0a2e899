#!/usr/bin/env bash
# test_upstream_pause: an upstream PostgreSQL database scales to zero too.
# Idle for idle_timeout, its pool closes every server connection (even those
# min_pool_size keeps), so that PostgreSQL has none of Dormouse's backends;
# the client connections stay open and their next query resumes the pool (one
# cold start, timed until a server logs in).  An open transaction holds its
# server and keeps the database active; 50 clients at once at a paused
# database all succeed with one cold start; min_active_seconds keeps a
# resumed database up; SHOW DATABASES counts active seconds.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "scale to zero is Dormouse's" || dm_finish
"$PYTHON" -c 'import psycopg' 2>/dev/null || die "setup: $PYTHON cannot import psycopg (install python3-psycopg)"

pg_start
pg_psql -c "create role up login" -c "create database app owner up" >/dev/null ||
    die "cannot create the role and database"

DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
UP="host=127.0.0.1 port=$PGPORT_REAL dbname=app"
dm_write_config "$DM_TMP/up.ini" "idle_timeout = 2" "admin_users = admin" \
    "[databases] app = $UP min_pool_size=1" \
    "[databases] sticky = $UP min_pool_size=1 idle_timeout=1" \
    "[databases] * = engine=sqlite"
dm_start "$DM_TMP/up.ini"

out=$(timeout 150 "$PYTHON" - "$DM_PORT" "$PGPORT_REAL" 2>&1 <<'PY'
import sys, time
import psycopg
from dmlib import Console, connect, report, storm, wait_for
port, pgport = sys.argv[1], sys.argv[2]
def dm(db, user="up"):
    return connect(port, db, user)
admin = Console(port)
dbrow, wait_state = admin.db, admin.wait_state
pg = psycopg.connect(f"host=127.0.0.1 port={pgport} dbname=postgres user=postgres", autocommit=True)
def backends():  # Dormouse's server connections as PostgreSQL sees them
    return pg.execute("select count(*) from pg_stat_activity where usename = 'up'").fetchone()[0]

a = dm("app")
a.execute("create table t (x int)")
a.execute("insert into t select generate_series(1, 100)")
report(wait_for(lambda: backends() >= 1), "min_pool_size = 1: a server connection is open", backends())
r = wait_state("app", "paused")
report(r["state"] == "paused", "an idle upstream database pauses after idle_timeout (2 s) though a client stays connected", r)
report(wait_for(lambda: backends() == 0, 5), "paused: PostgreSQL has no server connection of Dormouse's, min_pool_size or not", backends())
report(r["cold_starts"] == 0 and r["current_connections"] == 0, "SHOW DATABASES: no cold start yet, no connection", r)
time.sleep(1.5)
report(backends() == 0 and dbrow("app")["state"] == "paused", "min_pool_size does not reopen a paused pool", backends())

n = a.execute("select count(*) from t").fetchone()[0]
report(n == 100, "the idle client's next query just works after the pause", n)
r = dbrow("app")
report(r["cold_starts"] == 1 and r["last_resume_ms"] is not None, "the resume is counted and timed (until a server logged in)", r)
report(r["state"] in ("active", "idle"), "resumed: no longer paused", r["state"])

# an open transaction holds its server: the database stays active
a.execute("begin")
a.execute("insert into t values (1000)")
time.sleep(4)
r = dbrow("app")
report(r["state"] == "active" and backends() >= 1, "an open transaction keeps the database active past idle_timeout", r["state"])
a.execute("commit")
r = wait_state("app", "paused")
report(r["state"] == "paused" and wait_for(lambda: backends() == 0, 5), "once committed, it pauses and its servers go", (r["state"], backends()))
n = a.execute("select count(*) from t").fetchone()[0]
report(n == 101, "the committed row is there after the pause", n)

# a storm at a paused database: one cold start, everyone served
wait_state("app", "paused")
before = dbrow("app")["cold_starts"]
errors = storm(50, lambda: dm("app"), "select count(*) from t", 101)
report(not errors, "50 clients at once at a paused upstream database all succeed", "; ".join(errors[:3]))
after = dbrow("app")["cold_starts"]
report(after == before + 1, "... with one cold start", f"{before} -> {after}")
r = dbrow("app")
report(r["active_seconds"] >= 4, "SHOW DATABASES: active_seconds counts the time it was up", r["active_seconds"])
a.close()

r = wait_state("sticky", "paused")
report(r["state"] == "paused", "sticky (idle_timeout=1 on its line) pauses", r)
print("DONE")
PY
)
relay_checks "$out"

# min_active_seconds = 6: a resumed database does not pause before 6 s.
dm_write_config "$DM_TMP/up.ini" "idle_timeout = 2" "admin_users = admin" "min_active_seconds = 6" \
    "[databases] app = $UP min_pool_size=1" \
    "[databases] sticky = $UP min_pool_size=1 idle_timeout=1" \
    "[databases] * = engine=sqlite"
dm_signal HUP
admin() { dm_psql "host=127.0.0.1 port=$DM_PORT user=admin dbname=dormouse" -At -c "$1"; }
shown() { admin 'SHOW CONFIG' | awk -F'|' '$1 == "min_active_seconds" {print $2}'; }
wait_until 10 eval '[ "$(shown)" = 6 ]' || fail "RELOAD sets min_active_seconds" "$(shown)"
state() { admin 'SHOW DATABASES' | awk -F'|' '$1 == "sticky" {print $16}'; }
assert_eq "a query resumes sticky" "1" \
    "$(dm_psql "$(dm_conninfo sticky up)" -At -c 'select 1' 2>&1)"
start=$SECONDS
paused() { [ "$(state)" = paused ]; }
wait_until 20 paused || fail "sticky pauses again" "state: $(state)"
took=$((SECONDS - start))
assert_true "min_active_seconds = 6: sticky (idle_timeout=1) stays up about 6 s after its resume" \
    "paused after ${took} s" [ "$took" -ge 5 ]
dm_stop_check
dm_finish
