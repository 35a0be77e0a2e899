#!/usr/bin/env bash
# test_quotas: [quotas] limits a database's rows written, rows read and
# storage; over a limit, a request that starts outside a transaction gets
# 53400 naming the quota (simple and extended protocol, SQLite and upstream
# PostgreSQL) without waking a paused database, a transaction already open
# finishes, other databases and the usage API go on, and the month's usage
# survives a restart (it is loaded from the ledger).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "quotas are Dormouse's" || dm_finish
pg_start
pg_psql -c "create role up login" -c "create database upq owner up" >/dev/null ||
    die "cannot create the upstream role and database"
DM_PORT=$(free_port) || die "no free port"
HTTP_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
dm_write_config "$DM_TMP/q.ini" "http_listen = 127.0.0.1:$HTTP_PORT" "idle_timeout = 1" \
    "admin_users = admin" \
    "[databases] upq = host=127.0.0.1 port=$PGPORT_REAL dbname=upq" \
    "[databases] * = engine=sqlite"
cat >> "$DM_TMP/q.ini" <<'INI'

[quotas]
capped = rows_written=10
reader = rows_read=100
bulky = storage_mb=1
upq = rows_written=5
INI
dm_start "$DM_TMP/q.ini"
URL=http://127.0.0.1:$HTTP_PORT

out=$(timeout 120 "$PYTHON" - "$DM_PORT" "$URL" 2>&1 <<'PY'
import json, sys, time, urllib.request
import psycopg
from dmlib import Console, connect, report
port, url = sys.argv[1], sys.argv[2]
def refused(conn, sql, want, params=None):
    try:
        conn.execute(sql, params)
        return None
    except psycopg.Error as e:
        return e.sqlstate == "53400" and want in str(e), (e.sqlstate, str(e))

c = connect(port, "capped", "alice")
c.execute("create table t (id integer primary key, v text)")
c.execute("insert into t select g, 'x' from generate_series(1, 8) g")   # 8 written
c.execute("begin")
c.execute("insert into t values (9, 'x'), (10, 'x')")                   # 10: at the quota
c.execute("insert into t values (11, 'x')")                              # inside the transaction: goes on
c.execute("commit")
r = refused(c, "select count(*) from t", 'database "capped" is over its monthly rows written quota: 11 of 10 (rows_written')
report(r and r[0], "over rows_written: the next query gets 53400 naming the quota", r)
r = refused(c, "select v from t where id = %s", "rows_written", (1,))
report(r and r[0], "the extended protocol is refused too", r)
r = refused(c, "select 1", "rows_written")
report(r and r[0], "the connection stays usable and keeps being refused", r)
other = connect(port, "free", "alice")
report(other.execute("select 41 + 1").fetchone()[0] == 42, "another database is not limited")
with urllib.request.urlopen(url + "/v1/usage?database=capped&granularity=day") as resp:
    rows = json.loads(resp.read())["usage"]
report(sum(x["rows_written"] for x in rows) == 11, "its usage can still be read over HTTP", rows)

rd = connect(port, "reader", "alice")
rd.execute("create table big (id integer primary key)")
rd.execute("insert into big select g from generate_series(1, 150) g")  # 150 read (generate_series)
r = refused(rd, "select 1", "rows read quota: 151 of 100 (rows_read")
report(r and r[0], "over rows_read: refused", r)

con = Console(port)
b = connect(port, "bulky", "alice")
b.execute("create table blobs (v text)")
b.execute("insert into blobs select '" + "x" * 100 + "' from generate_series(1, 15000)")
b.close()
con.wait_state("bulky", "paused")
time.sleep(1.5)  # the pause records its size
b = connect(port, "bulky", "alice")
r = refused(b, "select 1", 'database "bulky" is over its storage quota: 1 MB of 1 MB (storage_mb)')
report(r and r[0], "over storage_mb: refused", r)
report(con.db("bulky")["state"] == "paused", "a paused database is not woken to refuse a query",
       con.db("bulky")["state"])

u = psycopg.connect(f"host=127.0.0.1 port={port} dbname=upq user=up", autocommit=True)
u.execute("create table t (id int)")
u.execute("insert into t select generate_series(1, 5)")
r = refused(u, "select count(*) from t", 'database "upq" is over its monthly rows written quota: 5 of 5')
report(r and r[0], "upstream PostgreSQL: over rows_written, refused before reaching the server", r)
r = refused(u, "select count(*) from t where id > %s", "rows_written", (0,))
report(r and r[0], "upstream PostgreSQL: the extended protocol too", r)
print("DONE")
PY
)
relay_checks "$out"

# the month's usage is loaded from the ledger at start
dm_stop
dm_start "$DM_TMP/q.ini"
out=$(timeout 60 "$PYTHON" - "$DM_PORT" 2>&1 <<'PY'
import sys
import psycopg
from dmlib import connect, report
c = connect(sys.argv[1], "capped", "alice")
try:
    c.execute("select 1")
    report(False, "after a restart: still over the quota")
except psycopg.Error as e:
    report(e.sqlstate == "53400" and "11 of 10" in str(e), "after a restart: still over the quota (11 of 10)", str(e))
print("DONE")
PY
)
relay_checks "$out"
dm_stop_check
dm_finish
