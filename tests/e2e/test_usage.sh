#!/usr/bin/env bash
# test_usage: per-query metering into the ledger, read through /v1/usage.
# Known statements give exact counts (queries, rows returned and written,
# errors; bytes, wall and CPU time counted); usage comes per minute, hour or
# day, as JSON or CSV; bad parameters get 400 with a JSON error; and the
# durability contract: after a kill -9 of Dormouse, every query whose result
# a client received is in the ledger.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "metering is Dormouse's" || dm_finish
command -v curl >/dev/null || die "setup: curl is required"

pg_start
pg_psql -c "create role up login" -c "create database upapp owner up" >/dev/null ||
    die "cannot create the upstream role and database"
DM_PORT=$(free_port) || die "no free port"
HTTP_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
dm_write_config "$DM_TMP/usage.ini" "http_listen = 127.0.0.1:$HTTP_PORT" \
    "[databases] upapp = host=127.0.0.1 port=$PGPORT_REAL dbname=upapp" \
    "[databases] * = engine=sqlite"
dm_start "$DM_TMP/usage.ini"
URL=http://127.0.0.1:$HTTP_PORT

out=$(timeout 120 "$PYTHON" - "$DM_PORT" "$URL" 2>&1 <<'PY'
import json, sys, urllib.error, urllib.request
import psycopg
from dmlib import connect, report
port, url = sys.argv[1], sys.argv[2]
def usage(qs):
    with urllib.request.urlopen(url + "/v1/usage?" + qs) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()
def totals(db):
    status, ctype, body = usage(f"database={db}&granularity=day")
    rows = json.loads(body)["usage"]
    keys = ("queries", "errors", "rows_returned", "rows_written", "bytes_in", "bytes_out", "wall_us", "cpu_us")
    return {k: sum(r[k] for r in rows) for k in keys}

c = connect(port, "meter", "alice")
c.execute("create table t (id int primary key, v text)")          # 1
c.execute("create index t_v on t (v)")                              # 2
c.execute("insert into t select g, 'v' || g from generate_series(1, 50) g")  # 3: 50 written
c.execute("update t set v = 'x' where id <= 7")                     # 4: 7 written
rows = c.execute("select * from t").fetchall()                      # 5: 50 returned
try:
    c.execute("select * from no_such_table")                        # 6: an error
except psycopg.Error:
    pass
c.execute("delete from t where id > 40")                            # 7: 10 written
t = totals("meter")
report(t["queries"] == 7, "7 statements, 7 queries in the ledger", t)
report(t["rows_written"] == 67, "rows written: 50 inserted + 7 updated + 10 deleted", t["rows_written"])
report(t["rows_returned"] == 50, "rows returned: the 50 of the full select", t["rows_returned"])
report(t["errors"] == 1, "one query failed", t["errors"])
report(t["bytes_in"] > 200 and t["bytes_out"] > 500, "bytes in and out are counted", (t["bytes_in"], t["bytes_out"]))
report(t["wall_us"] > 0 and t["cpu_us"] > 0, "wall and CPU time are counted", (t["wall_us"], t["cpu_us"]))
other = totals("nobody")
report(other["queries"] == 0, "another database has no usage")

status, ctype, body = usage("database=meter&granularity=minute&format=csv")
lines = body.strip().split("\r\n")
report(status == 200 and ctype == "text/csv" and lines[0].startswith("start,queries,errors,rows_returned,rows_written")
       and sum(int(l.split(",")[1]) for l in lines[1:]) == 7, "format=csv: a header and one line per minute", lines[:3])
status, ctype, body = usage("database=meter&from=2000-01-01&to=2000-01-02")
report(json.loads(body)["usage"] == [], "a window without queries is empty")

def bad(qs, want):
    try:
        usage(qs)
        report(False, f"{qs}: 400")
    except urllib.error.HTTPError as e:
        body = json.loads(e.read())
        report(e.code == 400 and want in body.get("error", ""), f"{qs or '(none)'}: 400, {want}", (e.code, body))
bad("", "database is required")
bad("database=meter&granularity=week", "granularity must be minute, hour or day")
bad("database=meter&from=yesterday", "from must be a time")
bad("database=meter&from=2026-11-27&to=2026-11-01", "to must be after from")
bad("database=meter&format=xml", "format must be json or csv")

# an upstream PostgreSQL database: what the relay sees
p = connect(port, "upapp", "up")
p.execute("create table t (id int primary key, v text)")
p.execute("insert into t select g, 'v' || g from generate_series(1, 20) g")   # 20 written
p.execute("update t set v = 'x' where id <= 4")                                 # 4 written
p.execute("select * from t").fetchall()                                         # 20 returned
try:
    p.execute("select * from no_such_table")
except psycopg.Error:
    pass
p.execute("delete from t where id > 15")                                        # 5 written
t = totals("upapp")
report(t["queries"] == 6, "upstream: 6 requests, 6 records", t)
report(t["rows_written"] == 29 and t["rows_returned"] == 20 and t["errors"] == 1,
       "upstream: rows written (20 + 4 + 5) and returned (20), one error, from the relayed replies", t)
report(t["bytes_in"] > 100 and t["bytes_out"] > 300 and t["wall_us"] > 0, "upstream: bytes and time", t)

# queries the client got answers to, then kill -9
d = psycopg.connect(f"host=127.0.0.1 port={port} dbname=crash user=bob", autocommit=True,
                    prepare_threshold=None)  # (no extra round trips to prepare)
for i in range(300):
    d.execute("select %s::int", (i,)).fetchone()
print("ANSWERED 300", flush=True)
print("DONE")
PY
)
relay_checks "$out"
kill -9 "$DM_PID"
dm_wait_exit 10
DM_PID=""
dm_start "$DM_TMP/usage.ini"
crash=$(curl -s "$URL/v1/usage?database=crash&granularity=day" |
    "$PYTHON" -c 'import json,sys; print(sum(r["queries"] for r in json.load(sys.stdin)["usage"]))')
assert_eq "kill -9 right after 300 answered queries: all 300 are in the ledger" "300" "$crash"
dm_stop_check
dm_finish
