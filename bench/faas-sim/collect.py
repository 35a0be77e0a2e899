#!/usr/bin/python3
"""bench/faas-sim/collect.py: after a simulation against Dormouse, what the
server says about the database, for bench/faas-sim/report.py.

    collect.py --admin CONNINFO --http HOST:PORT --database NAME --out FILE

Writes one JSON object to FILE:
  usage      /v1/usage?database=NAME&granularity=day: the ledger's rows summed
             over the whole run (queries, errors, rows, wall_us, cold_queries,
             resume_wait_us, active_seconds, cold_starts, ...)
  usage_rows the same rows unsummed (one per UTC day)
  bill       /v1/bill?database=NAME&month=YYYY-MM (the current UTC month):
             the itemised bill under every plan, with the month's usage
  queries    /v1/queries?database=NAME: every query fingerprint's totals (the
             report tells the simulator's setup statements from its traffic)
  console    the database's row of SHOW DATABASES and of SHOW USAGE NAME
  live       /v1/timeline: the dashboard's live timeline of the run (one
             sample a second: logins, refusals, queries, cold queries and
             starts, state changes, memory)
The ledger answers after taking in everything journalled before the request,
so every query the simulator was answered is counted.  Active time reaches it
by activity records, the last one written within a second of the pause (on
Dormouse's one-second timer): collect.py first waits (up to 10 s) until the
ledger holds as many active seconds and cold starts as the console shows.
"""
import argparse
import json
import sys
import time
import urllib.request

import psycopg


def get(http, path):
    with urllib.request.urlopen(f"http://{http}{path}", timeout=30) as r:
        return json.load(r)


def console_rows(conninfo, sql):
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=10,
                         cursor_factory=psycopg.ClientCursor) as c:
        cur = c.execute(sql)
        cols = [d.name for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


def summed(rows):
    """Sum the numeric fields of /v1/usage rows (start: the first row's)."""
    out = {}
    for r in rows:
        for k, v in r.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out[k] = out.get(k, 0) + v
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--admin", required=True)
    ap.add_argument("--http", required=True)
    ap.add_argument("--database", default="sim")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    month = time.strftime("%Y-%m", time.gmtime())
    deadline = time.time() + 10
    while True:
        usage = get(a.http, f"/v1/usage?database={a.database}&granularity=day")
        led = summed(usage.get("usage", []))
        row = [r for r in console_rows(a.admin, "SHOW DATABASES") if r.get("name") == a.database]
        row = row[0] if row else {}
        caught_up = (led.get("active_seconds", 0) >= (row.get("active_seconds") or 0)
                     and led.get("cold_starts", 0) >= (row.get("cold_starts") or 0))
        if caught_up or time.time() >= deadline:
            break
        time.sleep(0.2)
    if not caught_up:
        print(f"collect.py: the ledger has {led.get('active_seconds')} active seconds and "
              f"{led.get('cold_starts')} cold starts, the console {row.get('active_seconds')} and "
              f"{row.get('cold_starts')}", file=sys.stderr)
    queries = get(a.http, f"/v1/queries?database={a.database}&order=calls&limit=1000")
    bill = get(a.http, f"/v1/bill?database={a.database}&month={month}")
    dbrow = [r for r in console_rows(a.admin, "SHOW DATABASES") if r.get("name") == a.database]
    usrow = [r for r in console_rows(a.admin, f"SHOW USAGE {a.database}") if r.get("database", a.database) == a.database]
    live = get(a.http, "/v1/timeline")
    live = get(a.http, "/v1/timeline")
    out = {
        "database": a.database,
        "month": month,
        "usage": summed(usage.get("usage", [])),
        "usage_rows": usage.get("usage", []),
        "bill": bill,
        "queries": queries.get("queries", []),
        "console": {"databases": dbrow[0] if dbrow else None, "usage": usrow[0] if usrow else None},
        "live": live,
    }
    with open(a.out, "w") as f:
        json.dump(out, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
