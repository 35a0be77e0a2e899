#!/usr/bin/python3
"""bench/faas-sim/sampler.py: what the servers of one bench/faas-sim.sh setup
do over time, sampled every 250 ms while the simulator runs.

    sampler.py sample --out RAW.csv --pid PID [--admin CONNINFO --database NAME]
    sampler.py align RAW.csv SUMMARY.json TIMELINE.csv
    sampler.py wait-state --admin CONNINFO --database NAME --state paused --timeout S

`sample` writes one row per tick until SIGTERM or SIGINT:
  unix_s          wall-clock time of the sample (the simulator's clock too)
  state           the database's `state` in the admin console's SHOW DATABASES
                  (active, idle, pausing, paused, resuming; "paused" while the
                  database is not listed yet, i.e. never opened), or
                  "always-on" without --admin (a plain PostgreSQL)
  cold_starts     SHOW DATABASES' cold_starts (empty for a plain PostgreSQL)
  last_resume_ms  SHOW DATABASES' last_resume_ms
  processes       PID and all its descendants: for Dormouse 1 + the managed
                  postmaster and its children; for a plain PostgreSQL its
                  postmaster and its children
  rss_kb          the sum of their VmRSS (/proc/PID/status); shared memory
                  counts once per process that touched it
  pss_kb          the sum of their Pss (/proc/PID/smaps_rollup): shared pages
                  divided among their users, so it adds up

The console is reached through one long-lived connection (simple queries), so
sampling costs Dormouse one idle client, which never keeps a database up.

`align` rewrites the samples with t, seconds since the simulator's
started_at_unix (summary.json), first.  `wait-state` polls until the
database reaches a state (exit 0) or the timeout passes (exit 1).
"""
import argparse
import csv
import json
import os
import signal
import sys
import time

COLUMNS = ["unix_s", "state", "cold_starts", "last_resume_ms", "processes", "rss_kb", "pss_kb"]


def children_map():
    """ppid -> [pid] over every process."""
    kids = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # the command may hold spaces and parentheses: fields follow the last ')'
        fields = stat[stat.rfind(")") + 2:].split()
        if len(fields) > 1:
            kids.setdefault(int(fields[1]), []).append(int(name))
    return kids


def tree(root):
    """root and all its descendants that are alive."""
    kids = children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        if os.path.exists(f"/proc/{pid}"):
            out.append(pid)
            todo.extend(kids.get(pid, []))
    return out


def memory_kb(pid):
    """(VmRSS, Pss) in KiB; (0, 0) for a process that is gone."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
                    break
    except OSError:
        return 0, 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                    break
    except OSError:
        pass
    return rss, pss


class Console:
    """The admin console over one connection; reconnects after an error."""

    def __init__(self, conninfo):
        self.conninfo = conninfo
        self.conn = None

    def database_row(self, name):
        import psycopg
        try:
            if self.conn is None:
                self.conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5,
                                            cursor_factory=psycopg.ClientCursor)
            cur = self.conn.execute("SHOW DATABASES")
            cols = [d.name for d in cur.description]
            for r in cur.fetchall():
                row = dict(zip(cols, r))
                if row.get("name") == name:
                    return row
            return {}
        except Exception:  # noqa: BLE001 (a failed sample is a gap, not the end)
            try:
                if self.conn is not None:
                    self.conn.close()
            except Exception:  # noqa: BLE001
                pass
            self.conn = None
            return None


def cmd_sample(a):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    console = Console(a.admin) if a.admin else None
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS)
        next_tick = time.time()
        while not stop:
            now = time.time()
            if console:
                row = console.database_row(a.database)
                if row is None:
                    state, cold, resume = "unknown", "", ""
                elif not row:
                    state, cold, resume = "paused", 0, ""
                else:
                    state, cold, resume = row.get("state", "unknown"), row.get("cold_starts", ""), \
                        row.get("last_resume_ms", "")
            else:
                state, cold, resume = "always-on", "", ""
            pids = tree(a.pid)
            rss = pss = 0
            for p in pids:
                r, s = memory_kb(p)
                rss += r
                pss += s
            w.writerow([f"{now:.3f}", state, cold, resume if resume is not None else "", len(pids), rss, pss])
            f.flush()
            next_tick += a.interval
            delay = next_tick - time.time()
            if delay > 0:
                time.sleep(delay)
            else:
                next_tick = time.time()


def cmd_align(a):
    with open(a.summary) as f:
        zero = float(json.load(f)["started_at_unix"])
    with open(a.raw, newline="") as f:
        rows = list(csv.DictReader(f))
    with open(a.timeline, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["t"] + COLUMNS)
        for r in rows:
            w.writerow([f"{float(r['unix_s']) - zero:.3f}"] + [r[c] for c in COLUMNS])


def cmd_wait_state(a):
    console = Console(a.admin)
    deadline = time.time() + a.timeout
    while True:
        row = console.database_row(a.database)
        if row and row.get("state") == a.state:
            return 0
        if time.time() >= deadline:
            print(f"sampler.py: {a.database} is not {a.state} after {a.timeout} s (last: {row})",
                  file=sys.stderr)
            return 1
        time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--out", required=True)
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--admin", help="conninfo of the admin console (Dormouse setups)")
    s.add_argument("--database", default="sim")
    s.add_argument("--interval", type=float, default=0.25)
    al = sub.add_parser("align")
    al.add_argument("raw")
    al.add_argument("summary")
    al.add_argument("timeline")
    ws = sub.add_parser("wait-state")
    ws.add_argument("--admin", required=True)
    ws.add_argument("--database", default="sim")
    ws.add_argument("--state", default="paused")
    ws.add_argument("--timeout", type=float, default=30)
    a = ap.parse_args()
    if a.cmd == "sample":
        cmd_sample(a)
        return 0
    if a.cmd == "align":
        cmd_align(a)
        return 0
    return cmd_wait_state(a)


if __name__ == "__main__":
    sys.exit(main())
