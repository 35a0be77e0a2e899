#!/usr/bin/env bash
# test_billing: active time, cold starts and storage go into the ledger, and
# /v1/bill prices the usage of a month under each plan.  Every amount is
# recomputed here by hand from the usage the ledger reports: a plan of our
# own with round prices, a built-in plan (d1) overridden by the
# configuration, compute rounded to each active period's minimum increment;
# bad parameters get 400.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "billing is Dormouse's" || dm_finish
DM_PORT=$(free_port) || die "no free port"
HTTP_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
dm_write_config "$DM_TMP/bill.ini" "http_listen = 127.0.0.1:$HTTP_PORT" "idle_timeout = 1" \
    "admin_users = admin"
cat >> "$DM_TMP/bill.ini" <<'INI'

[plan:round]
description = round numbers for the test
price_per_million_queries = 1000000
price_per_million_rows_read = 1000
price_per_million_rows_written = 2000
price_per_compute_hour = 3600
compute_units = 2
min_billing_seconds = 60
price_per_gb_month = 1000000000
price_per_gb_transfer = 1000000
included_gb_transfer = 0.000001

[plan:d1]
included_rows_read = 0
INI
dm_start "$DM_TMP/bill.ini"
URL=http://127.0.0.1:$HTTP_PORT

out=$(timeout 120 "$PYTHON" - "$DM_PORT" "$URL" 2>&1 <<'PY'
import json, sys, time, urllib.error, urllib.request
import psycopg
from dmlib import Console, connect, report, wait_for
port, url = sys.argv[1], sys.argv[2]
def get(path):
    with urllib.request.urlopen(url + path) as r:
        return json.loads(r.read())
month = time.strftime("%Y-%m", time.gmtime())

# first active period: a table of 1000 rows
c = connect(port, "shop", "alice")
c.execute("create table items (id integer primary key, price int)")
c.execute("insert into items select g, g % 7 from generate_series(1, 1000) g")
c.execute("select sum(price) from items").fetchone()
c.close()
con = Console(port)
con.wait_state("shop", "paused")
# the second: a cold start
c = connect(port, "shop", "alice")
c.execute("select * from items where id = 5").fetchone()
c.close()
con.wait_state("shop", "paused")
time.sleep(1.2)  # the activity of the last period is recorded as it pauses

bill = get(f"/v1/bill?database=shop&month={month}")
u = bill["usage"]
report(u["queries"] == 4 and u["rows_read"] == 2002 and u["rows_written"] == 1000,
       "usage: 4 queries, 1 (CREATE TABLE's look at the schema) + 1000 + 1000 + 1 rows read, 1000 written", u)
report(u["active_periods"] == 2 and u["cold_starts"] >= 1, "two active periods, a cold start between them", u)
report(0 < u["active_seconds"] < 30, "active seconds: the two short periods", u["active_seconds"])
report(u["storage_bytes_max"] > 0 and u["storage_gb_months"] > 0, "storage: the file's size over time", u)

plans = {b["plan"]: b for b in bill["bills"]}
report(set(plans) >= {"round", "d1", "neon", "aurora-serverless-v2", "cockroachdb"},
       "a bill under every plan, built-in and configured", sorted(plans))
r = {l["item"]: l for l in plans["round"]["lines"]}
gb_month = u["storage_gb_months"]
want = {
    "queries": 4 * 1.0,                          # $1 per query
    "rows read": 2002 * 0.001,                   # $1000 per million
    "rows written": 1000 * 0.002,
    "compute": 2 * 60 * 2 / 3600 * 3600,         # 2 periods rounded up to 60 s, 2 CU, $3600/CU-hour
    "storage": gb_month * 1e9,
}
for item, amount in want.items():
    report(item in r and abs(r[item]["amount"] - amount) < 1e-6 * max(1, amount),
           f"plan round, {item}: {amount}", r.get(item))
tr = r["transfer"]
report(abs(tr["quantity"] - u["bytes_out"] / 1e9) < 1e-12 and abs(tr["billable"] - max(0, u["bytes_out"] / 1e9 - 1e-6)) < 1e-12,
       "plan round, transfer: bytes out less the included 1 kB", tr)
total = sum(l["amount"] for l in plans["round"]["lines"])
report(abs(plans["round"]["total"] - total) < 1e-5, "the total is the sum of the lines", (plans["round"]["total"], total))

d = {l["item"]: l for l in plans["d1"]["lines"]}
report(d["rows read"]["included"] == 0 and d["rows read"]["billable"] == 2002
       and abs(d["rows read"]["amount"] - round(2002 * 0.001 / 1e6, 6)) < 1e-12,
       "[plan:d1] overrides the built-in's allowance, keeps its price (amounts in micro-dollars)", d["rows read"])
report(d["rows written"]["included"] == 50e6 and d["rows written"]["amount"] == 0,
       "d1: 1000 rows written are within the 50 million included", d["rows written"])

one = get(f"/v1/bill?database=shop&month={month}&plan=neon")
report([b["plan"] for b in one["bills"]] == ["neon"], "plan=neon: that plan's bill only")
usage = get("/v1/usage?database=shop&granularity=day")["usage"]
report(sum(x["cold_starts"] for x in usage) == u["cold_starts"]
       and abs(sum(x["active_seconds"] for x in usage) - u["active_seconds"]) < 1e-6,
       "/v1/usage carries the same active seconds and cold starts", usage)
old = get("/v1/bill?database=shop&month=2001-01")
report(old["usage"]["queries"] == 0 and old["usage"]["active_periods"] == 0
       and all(b["total"] == 0 for b in old["bills"]), "a month without use costs nothing", old["usage"])

# the same on the admin console
row = [r for r in con.rows("SHOW USAGE") if r["database"] == "shop"]
report(len(row) == 1 and row[0]["queries"] == 4 and row[0]["rows_read"] == 2002 and row[0]["rows_written"] == 1000
       and row[0]["cold_starts"] == u["cold_starts"] and abs(row[0]["active_seconds"] - u["active_seconds"]) < 1e-5,
       "SHOW USAGE: the month's usage per database", row)
report([r["database"] for r in con.rows("SHOW USAGE shop")] == ["shop"], "SHOW USAGE shop: that database only")
lines = con.rows("SHOW BILL shop")
# (storage grows with time between the two reads: the other lines are compared)
console = {(r["plan"], r["item"]): r["amount_usd"] for r in lines if r["item"] not in ("storage", "total")}
http = {(b["plan"], l["item"]): l["amount"] for b in bill["bills"] for l in b["lines"] if l["item"] != "storage"}
report(console.keys() == http.keys() and all(abs(console[k] - http[k]) < 1e-5 for k in http)
       and len([r for r in lines if r["item"] == "total"]) == len(bill["bills"]),
       "SHOW BILL shop: each plan's lines and a total, as /v1/bill", (console, http))
top = con.rows("SHOW TOP QUERIES shop")
report(any(r["query"] == "select * from items where id = $1" and r["calls"] == 1 and r["rows_read"] == 1 for r in top)
       and all(r["database"] == "shop" for r in top), "SHOW TOP QUERIES shop: fingerprints with their normalised text", top)
try:
    con.execute("SHOW BILL")
    report(False, "SHOW BILL without a database: an error")
except psycopg.Error as e:
    report("SHOW BILL needs a database" in str(e), "SHOW BILL without a database: an error", str(e))
report(con.execute("SHOW VERSION").fetchone()[0].startswith("Dormouse"), "the console goes on after them")

def bad(qs, want):
    try:
        get("/v1/bill?" + qs)
        report(False, f"/v1/bill?{qs}: 400")
    except urllib.error.HTTPError as e:
        body = json.loads(e.read())
        report(e.code == 400 and want in body.get("error", ""), f"/v1/bill?{qs}: 400, {want}", (e.code, body))
bills = get(f"/v1/bills?month={month}")
shop = [d for d in bills["databases"] if d["database"] == "shop"]
report(len(shop) == 1 and shop[0]["queries"] == 4 and shop[0]["rows_read"] == 2002
       and shop[0]["totals"]["d1"] == round(plans["d1"]["total"], 6)  # (no time-dependent line)
       and bills["plans"][:2] == ["round", "d1"],
       "/v1/bills: every database's usage and its total under each plan", (shop, bills["plans"]))
try:
    get("/v1/bills?month=13")
    report(False, "/v1/bills?month=13: 400")
except urllib.error.HTTPError as e:
    report(e.code == 400 and "month must be YYYY-MM" in json.loads(e.read())["error"], "/v1/bills?month=13: 400")
bad("month=2026-11", "database is required")
bad("database=shop&month=2026-13", "month must be YYYY-MM")
bad("database=shop&month=november", "month must be YYYY-MM")
bad("database=shop&plan=nope", "no such plan: nope")
print("DONE")
PY
)
relay_checks "$out"
dm_stop_check
dm_finish
