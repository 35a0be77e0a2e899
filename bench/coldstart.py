#!/usr/bin/python3
"""bench/coldstart.py: what scale to zero costs, measured (run by bench/coldstart.sh).

Cold start: the time from `RESUME db` on the admin console (the database having
been paused with `PAUSE db` and, for a managed PostgreSQL, its server stopped)
to a new client's first query answered (psycopg: connect, `select count(*)` of
a 1,000-row table), N times each, against the same measure on the active
database (connect and first query), for SQLite, SQLite with cold_dir, and a
managed PostgreSQL; beside them Dormouse's own resume latency (SHOW DATABASES:
from the first client's request to the engine open / the first server
connection logged in), and a bare `pg_ctl start -w` plus the first query on
another cluster (then `pg_ctl stop -m fast`).

Memory: resident memory (VmRSS) of a fresh Dormouse, then with DBS SQLite
databases active (each created by a client, one row written, its SQLite
connection kept open, idle_timeout = 0), then after `PAUSE` of all of them
(every database paused, its connections closed, freed memory trimmed).

Prints Markdown tables.
"""
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

import psycopg

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DORMOUSE = os.environ.get("DORMOUSE_BIN", os.path.join(ROOT, "build/release/dormouse"))
N = int(sys.argv[1]) if len(sys.argv) > 1 else 100
DBS = int(sys.argv[2]) if len(sys.argv) > 2 else 10000
PGBIN = sorted((d for d in os.listdir("/usr/lib/postgresql")), key=lambda v: int(v))[-1]
PGBIN = f"/usr/lib/postgresql/{PGBIN}/bin"
TMP = tempfile.mkdtemp(prefix="dm-coldstart.")
os.chmod(TMP, 0o755)
PROCS = []


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def start_dormouse(name, extra):
    port = free_port()
    data = os.path.join(TMP, name + "-data")
    os.makedirs(data, exist_ok=True)
    ini = os.path.join(TMP, name + ".ini")
    with open(ini, "w") as f:
        f.write(f"[dormouse]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\ndata_dir = {data}\n"
                f"auth_type = trust\nlog_level = warning\nadmin_users = admin\nidle_timeout = 0\n"
                f"max_client_conn = 20000\n{extra}\n[databases]\n* = engine=sqlite\n")
    log = open(os.path.join(TMP, name + ".log"), "w")
    p = subprocess.Popen([DORMOUSE, "-c", ini], stdout=log, stderr=subprocess.STDOUT)
    PROCS.append(p)
    for _ in range(200):
        try:
            psycopg.connect(f"host=127.0.0.1 port={port} dbname=dormouse user=admin").close()
            break
        except psycopg.Error:
            time.sleep(0.05)
    admin = psycopg.connect(f"host=127.0.0.1 port={port} dbname=dormouse user=admin",
                            autocommit=True, cursor_factory=psycopg.ClientCursor)
    return p, port, admin


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def dbrow(admin, name):
    cur = admin.execute("SHOW DATABASES")
    cols = [d.name for d in cur.description]
    for r in cur.fetchall():
        if r[0] == name:
            return dict(zip(cols, r))
    return None


def wait(pred, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.001)
    raise SystemExit("timed out waiting")


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, max(0, int(round(q / 100.0 * len(v) + 0.5)) - 1))]


def first_query(port, db, user):
    t0 = time.perf_counter()
    c = psycopg.connect(f"host=127.0.0.1 port={port} dbname={db} user={user}", autocommit=True)
    c.execute("select count(*) from t").fetchone()
    t1 = time.perf_counter()
    c.close()
    return (t1 - t0) * 1000.0


def cold_starts(port, admin, db, user, stopped=lambda: True):
    cold, active = [], []
    for _ in range(N):
        admin.execute(f"PAUSE {db}")
        wait(lambda: dbrow(admin, db)["state"] == "paused" and stopped())
        t0 = time.perf_counter()
        admin.execute(f"RESUME {db}")
        c = psycopg.connect(f"host=127.0.0.1 port={port} dbname={db} user={user}", autocommit=True)
        c.execute("select count(*) from t").fetchone()
        cold.append((time.perf_counter() - t0) * 1000.0)
        c.close()
        active.append(first_query(port, db, user))
    r = dbrow(admin, db)
    return cold, active, r


def seed(port, db, user):
    c = psycopg.connect(f"host=127.0.0.1 port={port} dbname={db} user={user}", autocommit=True)
    c.execute("create table t (x int, s text)")
    c.execute("insert into t select g, 'row ' || g from generate_series(1, 1000) as g")
    c.close()


def as_pg(*cmd):
    # (pg_ctl start leaves the server holding its stdout: no pipes here)
    if os.geteuid() == 0:
        cmd = ("runuser", "-u", "postgres", "--") + cmd
    log = open(os.path.join(TMP, "bare.log"), "a")
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    log.close()
    return r


def bare_pg_ctl():
    d = os.path.join(TMP, "bare")
    os.makedirs(d)
    if os.geteuid() == 0:
        shutil.chown(d, "postgres")
    r = as_pg(f"{PGBIN}/initdb", "-D", d + "/data", "-U", "postgres", "-A", "trust", "--locale=C")
    if r.returncode:
        raise SystemExit("initdb failed: see bare.log (KEEP=1)")
    opts = f"-c listen_addresses= -k {d}/data"
    logf = ["-l", d + "/server.log"]
    as_pg(f"{PGBIN}/pg_ctl", "-D", d + "/data", *logf, "-o", opts, "-w", "start")
    c = psycopg.connect(f"host={d}/data dbname=postgres user=postgres", autocommit=True)
    c.execute("create table t (x int, s text)")
    c.execute("insert into t select g, 'row ' || g from generate_series(1, 1000) as g")
    c.close()
    as_pg(f"{PGBIN}/pg_ctl", "-D", d + "/data", "-m", "fast", "-w", "stop")
    v = []
    for _ in range(min(N, 30)):
        t0 = time.perf_counter()
        as_pg(f"{PGBIN}/pg_ctl", "-D", d + "/data", *logf, "-o", opts, "-w", "start")
        c = psycopg.connect(f"host={d}/data dbname=postgres user=postgres", autocommit=True)
        c.execute("select count(*) from t").fetchone()
        v.append((time.perf_counter() - t0) * 1000.0)
        c.close()
        as_pg(f"{PGBIN}/pg_ctl", "-D", d + "/data", "-m", "fast", "-w", "stop")
    return v


def row(name, cold, active, engine_p50, engine_p99):
    return (f"| {name} | {len(cold)} | {pct(cold, 50):.2f} | {pct(cold, 99):.2f} | "
            f"{pct(active, 50):.2f} | {pct(active, 99):.2f} | "
            f"{pct(cold, 50) - pct(active, 50):.2f} | {pct(cold, 99) - pct(active, 99):.2f} | "
            f"{engine_p50} | {engine_p99} |")


def main():
    if not os.path.exists(DORMOUSE):
        raise SystemExit(f"no dormouse at {DORMOUSE}")
    out = []
    ver = subprocess.run([DORMOUSE, "-V"], capture_output=True, text=True).stdout.strip()
    pgver = subprocess.run([f"{PGBIN}/postgres", "--version"], capture_output=True, text=True).stdout.strip()
    out.append(f"{ver}, {pgver}; {N} cold starts per engine, {os.cpu_count()} cores\n")
    out.append("| engine | resumes | cold p50 ms | cold p99 ms | active p50 ms | active p99 ms "
               "| added p50 ms | added p99 ms | Dormouse's resume p50 ms | p99 ms |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")

    # SQLite, plain
    p, port, admin = start_dormouse("plain", "")
    seed(port, "lite", "bench")
    cold, active, r = cold_starts(port, admin, "lite", "bench")
    out.append(row("SQLite", cold, active, r["resume_p50_ms"], r["resume_p99_ms"]))

    # managed PostgreSQL (same Dormouse, its own line)
    pgdir = os.path.join(TMP, "managed")
    admin.close()
    p.send_signal(signal.SIGTERM)
    p.wait(30)
    line = f"[databases]\npgapp = managed_datadir={pgdir} managed_initdb=yes dbname=pgapp user=bench"
    p, port, admin = start_dormouse("managed-init", line)
    seed(port, "pgapp", "bench")  # (initdb: not a resume to count)
    admin.close()
    p.send_signal(signal.SIGTERM)
    p.wait(60)
    p, port, admin = start_dormouse("managed", line)
    pidfile = os.path.join(pgdir, "postmaster.pid")
    cold, active, r = cold_starts(port, admin, "pgapp", "bench", lambda: not os.path.exists(pidfile))
    out.append(row("managed PostgreSQL", cold, active, r["resume_p50_ms"], r["resume_p99_ms"]))
    admin.close()
    p.send_signal(signal.SIGTERM)
    p.wait(60)

    # SQLite with cold_dir
    colddir = os.path.join(TMP, "cold")
    p, port, admin = start_dormouse("cold", f"cold_dir = {colddir}")
    seed(port, "lite", "bench")
    cold_file = os.path.join(colddir, "lite.db")
    cold, active, r = cold_starts(port, admin, "lite", "bench", lambda: os.path.exists(cold_file))
    out.append(row("SQLite, cold_dir", cold, active, r["resume_p50_ms"], r["resume_p99_ms"]))
    admin.close()
    p.send_signal(signal.SIGTERM)
    p.wait(30)

    bare = bare_pg_ctl()
    out.append(f"| bare `pg_ctl start -w` + first query | {len(bare)} | {pct(bare, 50):.2f} | "
               f"{pct(bare, 99):.2f} | | | | | | |")
    out.append("")

    # Memory: SQLite databases active, then paused.  An open SQLite database
    # holds three descriptors (file, WAL, shared memory): the active step has
    # as many as the descriptor limit allows, the paused step all DBS.
    import resource
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    n_active = min(DBS, (nofile - 1000) // 3)
    p, port, admin = start_dormouse("memory", "sqlite_pool_size = 1")
    time.sleep(0.5)
    base = rss_kib(p.pid)

    def create(lo, hi):
        for i in range(lo, hi):
            c = psycopg.connect(f"host=127.0.0.1 port={port} dbname=m{i} user=bench", autocommit=True)
            c.execute("create table t (x int)")
            c.execute("insert into t values (1)")
            c.close()
        time.sleep(1.5)  # sqlite_release_idle: every connection back in its pool

    def pause_all():
        admin.execute("PAUSE")
        def all_paused():
            cur = admin.execute("SHOW DATABASES")
            return all(r[15] == "paused" for r in cur.fetchall() if r[0].startswith("m"))
        wait(all_paused, 300)
        # the closes finish, then a tick of the pool timer trims: the lowest
        # reading once it has stopped falling
        rss = rss_kib(p.pid)
        for _ in range(30):
            time.sleep(1)
            now = rss_kib(p.pid)
            if now >= rss:
                break
            rss = now
        admin.execute("RESUME")
        return rss

    create(0, n_active)
    active_rss = rss_kib(p.pid)
    paused_some = pause_all()
    create(n_active, DBS)
    paused_all = pause_all()
    admin.close()
    p.send_signal(signal.SIGTERM)
    p.wait(60)
    out.append("| SQLite databases | resident memory | per database |")
    out.append("|---|---|---|")
    out.append(f"| none (a fresh process) | {base / 1024:.1f} MiB | |")
    out.append(f"| {n_active} active (one open SQLite connection each) | {active_rss / 1024:.1f} MiB | "
               f"{(active_rss - base) / n_active:.2f} KiB |")
    out.append(f"| the same {n_active} paused | {paused_some / 1024:.1f} MiB | "
               f"{(paused_some - base) / n_active:.2f} KiB |")
    if DBS > n_active:
        out.append(f"| {DBS} paused | {paused_all / 1024:.1f} MiB | {(paused_all - base) / DBS:.2f} KiB |")
    out.append(f"\n(descriptor limit {nofile}: an open SQLite database holds three)")
    print("\n".join(out))


try:
    main()
finally:
    for p in PROCS:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
    if os.environ.get("KEEP") == "1":
        print(f"kept {TMP}", file=sys.stderr)
    else:
        shutil.rmtree(TMP, ignore_errors=True)
