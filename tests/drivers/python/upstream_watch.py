#!/usr/bin/python3
"""upstream_watch.py: how many server connections a pooler keeps per database.

    /usr/bin/python3 upstream_watch.py HOST PORT SUPERUSER WATCHED_USER STOPFILE OUTFILE

Samples pg_stat_activity of the PostgreSQL at HOST:PORT (as SUPERUSER, who is
not counted) every 20 ms until STOPFILE exists, then writes one line per
database that WATCHED_USER's backends used: "DATABASE MAX DISTINCT", the most
backends open at once and the number of distinct backend PIDs seen.  Used by
tests/e2e/test_drivers.sh in transaction pooling mode to prove that the pool
size held while many more clients ran.
"""

import os
import sys
import time

import psycopg2


def main():
    if len(sys.argv) != 7:
        print("usage: upstream_watch.py HOST PORT SUPERUSER WATCHED_USER STOPFILE OUTFILE", file=sys.stderr)
        return 2
    host, port, superuser, watched, stopfile, outfile = sys.argv[1:]
    conn = psycopg2.connect(host=host, port=int(port), user=superuser, dbname="postgres", connect_timeout=10)
    conn.autocommit = True
    cur = conn.cursor()
    most = {}
    pids = {}
    samples = 0
    while not os.path.exists(stopfile):
        cur.execute("select datname, pid from pg_stat_activity where usename = %s and backend_type = 'client backend'",
                    (watched,))
        now = {}
        for db, pid in cur.fetchall():
            now[db] = now.get(db, 0) + 1
            pids.setdefault(db, set()).add(pid)
        for db, n in now.items():
            most[db] = max(most.get(db, 0), n)
        samples += 1
        time.sleep(0.02)
    conn.close()
    with open(outfile + ".tmp", "w") as f:
        for db in sorted(most):
            f.write(f"{db} {most[db]} {len(pids[db])}\n")
        f.write(f"# {samples} samples\n")
    os.rename(outfile + ".tmp", outfile)
    return 0


if __name__ == "__main__":
    sys.exit(main())
