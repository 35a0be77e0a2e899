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
KEYS = ("queries", "errors", "rows_read", "rows_returned", "rows_written", "bytes_in", "bytes_out",
        "wall_us", "cpu_us")
def totals(db):
    status, ctype, body = usage(f"database={db}&granularity=day")
    rows = json.loads(body)["usage"]
    return {k: sum(r[k] for r in rows) for k in KEYS}
def delta(db, conn, sql):
    """The usage one statement adds (each read of /v1/usage sees every record before it)."""
    before = totals(db)
    conn.execute(sql)
    after = totals(db)
    return {k: after[k] - before[k] for k in KEYS}
def check(db, conn, sql, what, **want):
    d = delta(db, conn, sql)
    report(all(d[k] == v for k, v in want.items()), f"{what}: {want}", d)

c = connect(port, "meter", "alice")
c.execute("create table t (id int primary key, v text)")          # 1
c.execute("create index t_v on t (v)")                              # 2
c.execute("insert into t select g, 'v' || g from generate_series(1, 50) g")  # 3: 50 rows + 50 entries of t_v
c.execute("update t set v = 'x' where id <= 7")                     # 4: 7 rows + 7 entries of t_v
rows = c.execute("select * from t").fetchall()                      # 5: 50 returned
try:
    c.execute("select * from no_such_table")                        # 6: an error
except psycopg.Error:
    pass
c.execute("delete from t where id > 40")                            # 7: 10 rows + 10 entries of t_v
t = totals("meter")
report(t["queries"] == 7, "7 statements, 7 queries in the ledger", t)
report(t["rows_written"] == 134, "rows written: (50 inserted + 7 updated + 10 deleted) x (row + index entry)", t["rows_written"])
report(t["rows_returned"] == 50, "rows returned: the 50 of the full select", t["rows_returned"])
report(t["errors"] == 1, "one query failed", t["errors"])
report(t["bytes_in"] > 200 and t["bytes_out"] > 500, "bytes in and out are counted", (t["bytes_in"], t["bytes_out"]))
report(t["wall_us"] > 0 and t["cpu_us"] > 0, "wall and CPU time are counted", (t["wall_us"], t["cpu_us"]))

# Rows read and written as D1 counts them (sqlite_meter.h), exactly
d1 = connect(port, "d1", "alice")
d1.execute("create table big (id integer primary key, k int, v text)")
check("d1", d1, "insert into big select g, g % 100, 'v' || g from generate_series(1, 5000) g",
      "insert of 5000 rows, no index", rows_written=5000, rows_read=5000, queries=1)
d1.execute("create index big_k on big (k)")
check("d1", d1, "select * from big where v = 'nope'", "a full scan of 5000 rows returning none",
      rows_read=5000, rows_returned=0, rows_written=0)
check("d1", d1, "select * from big where k = 42", "an indexed lookup: the 50 index entries it visits",
      rows_read=50, rows_returned=50)
check("d1", d1, "select * from big where id = 7", "a rowid lookup", rows_read=1, rows_returned=1)
check("d1", d1, "select count(*) from big", "count(*) of a whole table: no loop, nothing read",
      rows_read=0, rows_returned=1)
d1.execute("create table two (id integer primary key, a int, b int)")
d1.execute("create index two_a on two (a)")
d1.execute("create index two_b on two (b)")
check("d1", d1, "insert into two values (1, 1, 1)", "an insert into a table with two indexes",
      rows_written=3, rows_read=0)
d1.execute("insert into two select g, g, g from generate_series(2, 10) g")
check("d1", d1, "update two set a = a + 100 where id <= 4", "an UPDATE of 4 rows changing an indexed column",
      rows_written=8, rows_read=4)
check("d1", d1, "update two set b = b where id <= 4", "an UPDATE of 4 rows changing no value", rows_written=4)
check("d1", d1, "update two set a = a + 1, b = b + 1 where id > 8", "an UPDATE of 2 rows changing both indexed columns",
      rows_written=6, rows_read=2)
check("d1", d1, "delete from two where id = 10", "a DELETE of one row with two indexes", rows_written=3, rows_read=1)
# the extended protocol (a prepared statement run twice) counts the same
e = psycopg.connect(f"host=127.0.0.1 port={port} dbname=d1 user=alice", autocommit=True, prepare_threshold=0)
before = totals("d1")
e.execute("select v from big where k = %s", (5,)).fetchall()
e.execute("select v from big where k = %s", (6,)).fetchall()
after = totals("d1")
report(after["rows_read"] - before["rows_read"] == 100 and after["rows_returned"] - before["rows_returned"] == 100,
       "extended protocol, a prepared statement run twice: 2 x 50 rows read and returned",
       (after["rows_read"] - before["rows_read"], after["rows_returned"] - before["rows_returned"]))

# SET dormouse.usage_notices = on: a NoticeResponse with each request's cost
notes = []
n = psycopg.connect(f"host=127.0.0.1 port={port} dbname=d1 user=alice", autocommit=True)
n.add_notice_handler(lambda d: notes.append((d.message_primary, d.message_detail)))
n.execute("select * from big where v = 'nope'")
report(notes == [], "no usage notices by default", notes)
n.execute("set dormouse.usage_notices = on")
notes.clear()
n.execute("select * from big where v = 'nope'")
report(len(notes) == 1 and notes[0][0].startswith("usage: 5000 rows read, 0 written, 0 returned;")
       and notes[0][0].endswith("$0.000005000 on plan d1") and notes[0][1].startswith("kind read, fingerprint 3babfd3365b72770"),
       "usage_notices: the full scan's rows read and its price under d1 ($0.001 per million rows read)", notes)
notes.clear()
n.execute("insert into two values (%s, %s, %s)", (50, 1, 1))
report(len(notes) == 1 and notes[0][0].startswith("usage: 0 rows read, 3 written") and "$0.000003000 on plan d1" in notes[0][0],
       "usage_notices over the extended protocol: 3 rows written at $1 per million", notes)
n.execute("set dormouse.usage_notices = off")
notes.clear()
n.execute("select 1")
report(notes == [], "usage_notices off again", notes)

# kinds and fingerprints: /v1/queries
def queries(qs):
    with urllib.request.urlopen(url + "/v1/queries?" + qs) as r:
        return json.loads(r.read())["queries"]
d1.execute("select * from big where k = 1")
d1.execute("SELECT *   FROM big WHERE k = 2")
top = queries("database=d1&order=calls&limit=100")
lookup = [q for q in top if q["query"] == "select * from big where k = $1"]
report(len(lookup) == 1 and lookup[0]["calls"] == 3 and lookup[0]["kind"] == "read" and lookup[0]["rows_read"] == 150,
       "one fingerprint for the same query with other constants and spacing (3 calls, 150 rows read)", lookup)
kinds = {q["query"].split()[0].lower(): q["kind"] for q in top}
report(kinds.get("insert") == "write" and kinds.get("update") == "write" and kinds.get("delete") == "write"
       and kinds.get("create") == "ddl" and kinds.get("select") == "read", "statement kinds", kinds)
by_read = queries("database=d1&order=rows_read&limit=2")
report(len(by_read) == 2 and by_read[0]["rows_read"] >= by_read[1]["rows_read"] >= 5000,
       "order=rows_read&limit=2: the two costliest first", by_read)
report(len(lookup[0]["fingerprint"]) == 16, "fingerprints are 16 hex digits", lookup[0]["fingerprint"])
other = totals("nobody")
report(other["queries"] == 0, "another database has no usage")

status, ctype, body = usage("database=meter&granularity=minute&format=csv")
lines = body.strip().split("\r\n")
report(status == 200 and ctype == "text/csv" and lines[0].startswith("start,queries,errors,rows_read,rows_returned,rows_written")
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
def bad_q(qs, want):
    try:
        queries(qs)
        report(False, f"/v1/queries?{qs}: 400")
    except urllib.error.HTTPError as e:
        body = json.loads(e.read())
        report(e.code == 400 and want in body.get("error", ""), f"/v1/queries?{qs}: 400, {want}", (e.code, body))
bad_q("order=price", "order must be wall_us")
bad_q("limit=0", "limit must be a number from 1 to 1000")
bad_q("limit=ten", "limit must be a number from 1 to 1000")

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
p.execute("with moved as (delete from t where id = 1 returning *) select count(*) from moved")
ukinds = {q["query"]: (q["kind"], q["calls"]) for q in queries("database=upapp&order=calls&limit=100")}
report(ukinds.get("update t set v = $1 where id <= $2") == ("write", 1)
       and ukinds.get("select * from t") == ("read", 1)
       and ukinds.get("create table t (id int primary key, v text)") == ("ddl", 1)
       and ukinds.get("with moved as (delete from t where id = $1 returning *) select count(*) from moved") == ("write", 1),
       "upstream: fingerprints and kinds from PostgreSQL's scanner (a deleting WITH is a write)", ukinds)

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
