#!/usr/bin/env bash
# test_faults: what is left behind when things go wrong, on the SQLite engine
# and against an upstream PostgreSQL (transaction pooling).
#  1. A client that disconnects (FIN, then RST) at every point: mid-startup,
#     mid-SCRAM (after AuthenticationSASL, after the server-first message),
#     mid-query, mid-COPY FROM STDIN, mid-COPY TO STDOUT of a large table,
#     inside a transaction, inside an extended-protocol batch without Sync.
#     Afterwards the admin console shows no client but its own and every
#     server idle (sv_active 0), PostgreSQL has no session idle in
#     transaction, the abandoned rows are not there and another client writes
#     the same keys at once (no lock is held); Dormouse holds no more sockets
#     than before.
#  2. The upstream PostgreSQL killed under load (kill -9 of its backends, then
#     pg_ctl stop -m immediate): every request in flight gets an
#     ErrorResponse of class 08 or 57P0x (none hangs, none is cut off without
#     one), Dormouse stays up, and once PostgreSQL is back on the same port
#     the same clients' transactions work again.
#  3. A full disk (a 2 MB tmpfs as data_dir, with the usage ledger on it):
#     inserts get 53100 and the session goes on, committed rows are intact
#     (integrity_check), queries are still answered, and once the tmpfs is
#     remounted larger the same and new sessions write again and the ledger
#     takes in usage again (a journal write the disk cut short left no torn
#     record behind).  SKIPped where tmpfs cannot be mounted.
#  4. kill -9 of Dormouse under a write load of 8 clients (sqlite_synchronous
#     = full): after a restart every acknowledged COMMIT's row is there, and
#     the ledger has a record of every acknowledged statement.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "fault handling is Dormouse's" || dm_finish

# The full-disk part mounts a tmpfs under $DM_TMP: it is unmounted (lazily:
# a Dormouse may still have files open there) before lib.sh's cleanup
# removes $DM_TMP, whatever the way out.
DISK=""
_faults_cleanup() {
    local rc=$?
    if [ -n "$DISK" ] && mountpoint -q "$DISK" 2>/dev/null; then
        umount -l "$DISK" 2>/dev/null
    fi
    (exit "$rc")
    _dm_cleanup
}
trap _faults_cleanup EXIT

pg_start
pg_psql -c "create role up login password 'uppw'" -c "create database up owner up" >/dev/null ||
    die "cannot create the upstream role and database"
DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
printf '"alice" "alicepw"\n"up" "uppw"\n"admin" "adminpw"\n"alive" "alivepw"\n' >"$DM_TMP/users.txt"
# sqlite_busy_timeout 1000: a write lock left behind fails the next writer
# (40001) within a second.  query_wait_timeout 2: requests that wait for a
# PostgreSQL that is down fail (08006) rather than wait long.
dm_write_config "$DM_TMP/faults.ini" "auth_type = scram-sha-256" "auth_file = $DM_TMP/users.txt" \
    "admin_users = admin" "sqlite_busy_timeout = 1000" "query_wait_timeout = 2" \
    "[databases] up = host=127.0.0.1 port=$PGPORT_REAL dbname=up" \
    "[databases] * = engine=sqlite"
dm_start "$DM_TMP/faults.ini"

# What the inline scripts of parts 1 and 2 share: the console (as admin),
# the upstream PostgreSQL, and what a quiet Dormouse must not have.
cat >"$DM_TMP/faultlib.py" <<'PY'
import argparse, os
import psycopg
from dmlib import wait_for

PORT = int(os.environ["DM_PORT"])
PGPORT = int(os.environ["PGPORT_REAL"])
DM_PID = int(os.environ["DM_PID"])
ENGINES = {  # engine -> its database, user and password
    "sqlite": ("lite", "alice", "alicepw"),
    "upstream": ("up", "up", "uppw"),
}


def raw_args(engine):
    db, user, pw = ENGINES[engine]
    return argparse.Namespace(host="127.0.0.1", port=PORT, user=user, password=pw, db=db,
                              source=None, max_packet=1024, target="dormouse")


def client(engine, **kw):
    db, user, pw = ENGINES[engine]
    return psycopg.connect(f"host=127.0.0.1 port={PORT} dbname={db} user={user} password={pw}",
                           autocommit=True, **kw)


class Admin:
    def __init__(self):
        self.conn = psycopg.connect(f"host=127.0.0.1 port={PORT} dbname=dormouse user=admin "
                                    "password=adminpw", autocommit=True,
                                    cursor_factory=psycopg.ClientCursor)
        self.pg = psycopg.connect(f"host=127.0.0.1 port={PGPORT} dbname=postgres user=postgres",
                                  autocommit=True)

    def rows(self, show):
        cur = self.conn.execute(show)
        cols = [d.name for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]

    def pool(self, db):
        rows = [r for r in self.rows("SHOW POOLS") if r["database"] == db]
        return rows[0] if rows else None

    def leftovers(self):
        """What a quiet Dormouse must not have: a client but the console,
        a pool with active, waiting or logging-in clients or servers, a
        server not idle; and PostgreSQL a session idle in transaction."""
        bad = []
        for r in self.rows("SHOW CLIENTS"):
            if r["database"] != "dormouse":
                bad.append("client C-%s %s@%s %s" % (r["id"], r["user"], r["database"], r["state"]))
        for r in self.rows("SHOW POOLS"):
            if r["database"] == "dormouse":
                continue
            busy = {k: r[k] for k in ("cl_active", "cl_waiting", "sv_active", "sv_used", "sv_login") if r[k]}
            if busy:
                bad.append("pool %s/%s %r" % (r["database"], r["user"], busy))
        for r in self.rows("SHOW SERVERS"):
            if r["state"] != "idle":
                bad.append("server %s/%s %s" % (r["database"], r["user"], r["state"]))
        n = self.pg.execute("select count(*) from pg_stat_activity where datname = 'up' "
                            "and state like 'idle in transaction%'").fetchone()[0]
        if n:
            bad.append("%d upstream sessions idle in transaction" % n)
        return bad

    def quiet(self, timeout=30):
        """Waits (bounded) until nothing is left over; what is, else []."""
        wait_for(lambda: not self.leftovers(), timeout, 0.05)
        return self.leftovers()

    def sockets(self):
        """Sockets Dormouse holds beyond one per client and upstream server."""
        n = 0
        for fd in os.listdir(f"/proc/{DM_PID}/fd"):
            try:
                n += os.readlink(f"/proc/{DM_PID}/fd/{fd}").startswith("socket:")
            except OSError:
                pass
        clients = len(self.rows("SHOW CLIENTS"))
        servers = len([r for r in self.rows("SHOW SERVERS") if r["type"] == "S"])
        return n - clients - servers
PY
export DM_PORT PGPORT_REAL DM_PID
export PYTHONPATH=$DM_TMP:$PYTHONPATH

# ---- 1. clients that disconnect at every point ----
out=$(timeout 300 "$PYTHON" - "$DM_SLOW_SQL" 2>&1 <<'PY'
import socket, sys, time
import psycopg
import rawproto as rp
from dmlib import report, wait_for
from faultlib import Admin, client, raw_args

slow = {"sqlite": sys.argv[1], "upstream": "select pg_sleep(1.5)"}
admin = Admin()
PAD = "p" * 100

for engine in ("sqlite", "upstream"):
    c = client(engine)
    c.execute("create table t (id int primary key, v text)")
    c.execute("create table big (id int, pad text)")
    # 10 MB: more than the socket buffers and Dormouse's output buffer hold
    c.execute("insert into big select g, '%s' from generate_series(1, 100000) g" % PAD)
    c.close()
left = admin.quiet()
report(not left, "setup: nothing left over", left)
extra_sockets = admin.sockets()

def held(db):
    """The session's backend or server is in use (SHOW POOLS sv_active)."""
    p = admin.pool(db)
    return p is not None and p["sv_active"] >= 1

def running(engine, c):
    db = raw_args(engine).db
    if not wait_for(lambda: held(db), 10):
        raise rp.Fail("the statement was not running when the client left")
    return c

def copy_out(engine):
    c = rp.cut_mid_copy_out(raw_args(engine), "copy big to stdout", 65536)
    c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    return running(engine, c)

def copy_lines(first):
    # 6000 lines, 650 kB: COPY chunks reach the engine before the client leaves
    return ["%d\tcopied %s\n" % (first + i, PAD[:90]) for i in range(6000)]

def abandoned_rows(engine, lo, hi):
    """Rows lo..hi are not there, and another client writes row lo at once:
    no transaction and no lock of the abandoned session is left."""
    c = client(engine)
    try:
        n = c.execute("select count(*) from t where id between %s and %s", (lo, hi)).fetchone()[0]
        if n:
            return "%d abandoned rows are visible" % n
        if engine == "upstream":
            c.execute("set lock_timeout = '1s'")
        c.execute("insert into t values (%s, 'written after')", (lo,))
        return None
    except psycopg.Error as e:
        return "another client cannot write row %d: %s %s" % (lo, e.sqlstate, e)
    finally:
        c.close()

next_id = [1]
def ids(n):
    lo = next_id[0]
    next_id[0] += n
    return lo, lo + n - 1

def scenarios(engine):
    """(what, cut: () -> (Conn, rows it wrote or None))"""
    A = raw_args(engine)
    def with_rows(n, make):
        lo, hi = ids(n)
        return make(lo), (lo, hi)
    return [
        ("mid-startup (half a startup packet)", lambda: (rp.cut_mid_startup(A), None)),
        ("mid-auth, after AuthenticationSASL", lambda: (rp.cut_after_sasl(A), None)),
        ("mid-auth, after the server-first SCRAM message", lambda: (rp.cut_after_server_first(A), None)),
        ("mid-query", lambda: (running(engine, rp.cut_mid_query(A, slow[engine])), None)),
        ("mid-COPY FROM STDIN", lambda: with_rows(6000, lambda lo: rp.cut_mid_copy_in(
            A, "copy t from stdin", copy_lines(lo)))),
        ("mid-COPY TO STDOUT of a 10 MB table", lambda: (copy_out(engine), None)),
        ("inside a transaction (BEGIN; INSERT)", lambda: with_rows(1, lambda lo: rp.cut_in_transaction(
            A, ["insert into t values (%d, 'in a transaction')" % lo]))),
        ("in an extended batch without Sync (Parse/Bind/Execute/Flush)", lambda: with_rows(
            1, lambda lo: rp.cut_mid_batch(A, "insert into t values ($1, 'in a batch')", [lo]))),
        ("in an extended batch without Sync or Flush", lambda: with_rows(
            1, lambda lo: rp.cut_mid_batch(A, "insert into t values ($1, 'in a batch')", [lo], flush=False))),
    ]

for engine in ("sqlite", "upstream"):
    for what, cut in scenarios(engine):
        for how in ("close", "reset"):
            name = "%s: a client gone %s (%s)" % (engine, what, "FIN" if how == "close" else "RST")
            try:
                conn, rows = cut()
            except (rp.Fail, rp.Closed, OSError) as e:
                report(False, name, "could not get there: %r" % e)
                continue
            conn.close() if how == "close" else conn.abort()
            left = admin.quiet()
            problem = abandoned_rows(engine, *rows) if rows and not left else None
            report(not left and not problem, name + ": nothing left over" +
                   (", its rows are not there and their keys are writable at once" if rows else ""),
                   left or problem)

# A batch left without Sync by a client that stays (idle past
# sqlite_release_idle): its connection, whose implicit transaction is open,
# must not go back to the pool, where another client's next Query would
# commit the row; the client's own Sync commits it, as in PostgreSQL.
lo, _ = ids(1)
name = ("sqlite: a batch without Sync whose client idles keeps its connection: another client "
        "does not see (or commit) its row, the client's own Sync commits it")
try:
    c = rp.cut_mid_batch(raw_args("sqlite"), "insert into t values ($1, 'idle batch')", [lo])
    time.sleep(2.5)  # idle past sqlite_release_idle (1 s), which is checked every second
    other = client("sqlite")
    seen = other.execute("select count(*) from t where id = %s", (lo,)).fetchone()[0]
    other.close()
    c.send(rp.msg(b"S"))
    msgs, status = c.read_until_ready()
    c.close()
    after = client("sqlite")
    kept = after.execute("select count(*) from t where id = %s", (lo,)).fetchone()[0]
    after.close()
    report(seen == 0 and kept == 1 and status == "I", name, (seen, kept, status))
except (rp.Fail, rp.Closed, OSError, psycopg.Error) as e:
    report(False, name, repr(e))

# A long statement whose client leaves is stopped within a few seconds (the
# once-a-second check of hung-up clients), not run to its end holding its
# backend: 200 million rows would take SQLite a minute.
for how in ("close", "reset"):
    name = "sqlite: a client gone (%s) during a minute-long statement frees its backend within 5 s" % (
        "FIN" if how == "close" else "RST")
    try:
        A = raw_args("sqlite")
        conn = running("sqlite", rp.cut_mid_query(A, slow["sqlite"].replace("10000000", "200000000")))
        conn.close() if how == "close" else conn.abort()
        t0 = time.time()
        freed = wait_for(lambda: not held(A.db), 5)
        report(freed, name, "still held after %.1f s" % (time.time() - t0))
    except (rp.Fail, rp.Closed, OSError) as e:
        report(False, name, repr(e))

left = admin.quiet()
now = admin.sockets()
report(now == extra_sockets and not left,
       "Dormouse holds no socket more than before (besides clients and servers)", (extra_sockets, now, left))
print("DONE")
PY
)
relay_checks "$out"
PGPASSWORD=alivepw dm_alive_check "after the disconnects"

# ---- 2. the upstream PostgreSQL killed under load ----
# The test clusters run with synchronous_commit = off: a CHECKPOINT makes the
# table survive the crashes below (its creation could still sit in the WAL
# buffers that kill -9 throws away).
pg_psql -d up -c "create table load (w int, i int)" -c "grant all on load to up" -c "checkpoint" >/dev/null ||
    die "cannot create the load table"
PG_OPTS="-c listen_addresses=127.0.0.1 -p $PGPORT_REAL -c unix_socket_directories=$PGSOCK_REAL"
PG_OPTS="$PG_OPTS -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
PG_OPTS="$PG_OPTS -c max_connections=150 -c shared_buffers=16MB -c password_encryption=scram-sha-256"
export PG_BINDIR PGDATA_REAL PG_OPTS
out=$(timeout 240 "$PYTHON" - 2>&1 <<'PY'
import os, re, signal, subprocess, threading, time
import psycopg
import rawproto as rp
from dmlib import report, wait_for
from faultlib import Admin, DM_PID, PGPORT, client, raw_args

def pg_ctl(*args):
    cmd = ["runuser", "-u", "postgres", "--", os.environ["PG_BINDIR"] + "/pg_ctl",
           "-D", os.environ["PGDATA_REAL"], "-w", "-t", "60"] + list(args)
    return subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=90)

def pg_up():
    try:
        psycopg.connect(f"host=127.0.0.1 port={PGPORT} dbname=postgres user=postgres",
                        connect_timeout=2).close()
        return True
    except psycopg.Error:
        return False

def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False

def acceptable(code):
    """The SQLSTATEs of a lost server: connection exceptions, admin shutdown,
    crash shutdown, cannot connect now."""
    return code.startswith("08") or code.startswith("57P0")

class Worker(threading.Thread):
    """A raw-protocol client running BEGIN; INSERT; SELECT pg_sleep; COMMIT in
    a loop.  Records each request's outcome with its time: "ok", "error"
    (ErrorResponse, then ReadyForQuery), "fatal" (ErrorResponse, then the
    close), "cut" (closed without an ErrorResponse) or "hang"."""

    def __init__(self, w):
        super().__init__(daemon=True)
        self.w, self.events, self.stop = w, [], threading.Event()

    def request(self, c, sql):
        """(outcome, SQLSTATEs, ReadyForQuery status or None)"""
        codes = []
        try:
            c.send(rp.msg(b"Q", rp.cstr(sql)))
            while True:
                kind, body = c.read_msg()
                if kind == "E":
                    codes.append(rp.parse_fields(body).get("C", "?"))
                elif kind == "Z":
                    return ("error" if codes else "ok"), codes, chr(body[0])
        except (rp.Closed, OSError):
            return ("fatal" if codes else "cut"), codes, None
        except rp.Fail:
            return "hang", codes, None

    def run(self):
        c, i = None, 0
        while not self.stop.is_set():
            if c is None:
                try:
                    c = rp.Conn(raw_args("upstream"))
                    c.login()
                except rp.Fail as e:  # refused (an ErrorResponse), or no answer
                    m = re.search(r"(FATAL|ERROR) ([0-9A-Z]{5}) ", str(e))
                    self.events.append((time.time(), "login", "fatal" if m else "hang",
                                        [m.group(2)] if m else [str(e)]))
                    c = None
                    time.sleep(0.05)
                    continue
                except (rp.Closed, OSError) as e:
                    self.events.append((time.time(), "login", "cut", [repr(e)]))
                    c = None
                    time.sleep(0.05)
                    continue
            i += 1
            for sql in ("begin", "insert into load values (%d, %d)" % (self.w, i),
                        "select pg_sleep(0.02)", "commit"):
                what, codes, status = self.request(c, sql)
                self.events.append((time.time(), sql.split()[0], what, codes))
                if what in ("fatal", "cut", "hang"):
                    c.abort()
                    c = None
                    break
                if what == "error":
                    if status != "I":
                        what, codes, _ = self.request(c, "rollback")
                        self.events.append((time.time(), "rollback", what, codes))
                        if what != "ok":
                            c.abort()
                            c = None
                    break

workers = [Worker(w) for w in range(6)]
for t in workers:
    t.start()

def oks_since(t0):
    return [sum(1 for ts, sql, what, _ in t.events if ts > t0 and sql == "commit" and what == "ok")
            for t in workers]

def judge(name, t0):
    """Every outcome since t0: none cut off without an ErrorResponse, none
    hung, every error of a lost server's SQLSTATE; and some request did fail."""
    ev = [e for t in workers for e in t.events if e[0] > t0]
    bad = [e for e in ev if e[2] in ("cut", "hang") or
           (e[2] in ("error", "fatal") and not all(acceptable(c) for c in e[3]))]
    failed = sorted({(e[1], e[2], tuple(e[3])) for e in ev if e[2] in ("error", "fatal")})
    report(not bad and bool(failed), name + ": requests in flight got an ErrorResponse of class 08 or "
           "57P0x (none cut off without one, none hung)", bad[:5] or "no request failed")
    print("      (%s: %s)" % (name, "; ".join("%s %s %s" % (s, w, "/".join(c)) for s, w, c in failed)))

# kill -9 of the backends serving Dormouse: PostgreSQL restarts them all
ok = wait_for(lambda: min(oks_since(0)) >= 3, 30)
report(ok, "load: 6 clients commit transactions through Dormouse", oks_since(0))
admin = Admin()
t0 = time.time()
pids = [r[0] for r in admin.pg.execute(
    "select pid from pg_stat_activity where datname = 'up' and backend_type = 'client backend'")]
for pid in pids:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it had just ended
admin.pg.close()
report(pids and wait_for(pg_up, 60), "kill -9 of %d backends: PostgreSQL restarts" % len(pids))
t1 = time.time()
report(wait_for(lambda: min(oks_since(t1)) >= 2, 30),
       "after the kill -9, every client's transactions commit again", oks_since(t1))
judge("kill -9 of the backends", t0)

# pg_ctl stop -m immediate, down past query_wait_timeout, started again
t0 = time.time()
r = pg_ctl("-m", "immediate", "stop")
report(r.returncode == 0, "pg_ctl stop -m immediate", r.stderr.decode())
time.sleep(4)  # down for longer than query_wait_timeout (2 s)
down = [e for t in workers for e in t.events if e[0] > t0]
report(any(e[2] == "error" and e[3][:1] == ["08006"] for e in down),
       "while PostgreSQL is down, waiting requests fail with 08006 after query_wait_timeout "
       "and their sessions go on", sorted({(e[1], e[2], tuple(e[3])) for e in down})[:8])
report(alive(DM_PID), "Dormouse is still running")
r = pg_ctl("-l", os.environ["PGDATA_REAL"] + "/../log", "-o", os.environ["PG_OPTS"], "start")
report(r.returncode == 0, "PostgreSQL starts again on the same port", r.stderr.decode())
t1 = time.time()
report(wait_for(lambda: min(oks_since(t1)) >= 2, 30),
       "after the restart, every client's transactions commit again (Dormouse not restarted)",
       oks_since(t1))
judge("pg_ctl stop -m immediate", t0)

for t in workers:
    t.stop.set()
for t in workers:
    t.join(30)
report(not any(t.is_alive() for t in workers), "every client stopped (none is stuck)")
c = client("upstream")
n = c.execute("select count(*) from load").fetchone()[0]
c.close()
report(n > 0, "a new client reads the committed rows", n)
admin = Admin()
left = admin.quiet()
report(not left, "nothing left over: no client, every server idle, none idle in transaction", left)
print("DONE")
PY
)
relay_checks "$out"
printf '%s\n' "$out" | grep '^      (' || true
PGPASSWORD=alivepw dm_alive_check "after PostgreSQL's failures"
dm_stop_check "dormouse exits 0 on SIGTERM after parts 1 and 2 (no leak under ASan)"

# ---- 3. a full disk ----
# sqlite3's CLI when there is one, else Python's sqlite3 module.
sqlite_q() {
    if command -v sqlite3 >/dev/null; then
        sqlite3 "$1" "$2"
    else
        "$PYTHON" -c 'import sqlite3, sys
for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2]): print("|".join(map(str, r)))' "$1" "$2"
    fi
}
DISK=$(dm_tmpdir disk)
if [ "$(id -u)" -ne 0 ]; then
    skip "a full disk: mounting a tmpfs needs root"
    DISK=""
elif ! mount_err=$(mount -t tmpfs -o size=2m,mode=0755 tmpfs "$DISK" 2>&1); then
    skip "a full disk: cannot mount a tmpfs here ($mount_err)"
    DISK=""
fi
if [ -n "$DISK" ]; then
    DM_DATA=$DISK
    dm_write_config "$DM_TMP/full.ini" "admin_users = admin"
    dm_start "$DM_TMP/full.ini"
    out=$(timeout 240 "$PYTHON" - "$DM_PORT" "$DISK" 2>&1 <<'PY'
import subprocess, sys
import psycopg
from dmlib import Console, connect, report
port, disk = sys.argv[1], sys.argv[2]

def usage(con):
    rows = con.rows("SHOW USAGE full")
    return rows[0]["queries"] if rows else 0

c = connect(port, "full", "filler")
c.execute("create table f (id integer primary key, pad text)")
acked, err, closed = 0, None, False
for i in range(1, 5001):  # 2 kB rows: the 2 MB disk is full long before
    try:
        c.execute("insert into f values (%s, %s)", (i, ("%06d" % i) * 333))
        acked = i
    except psycopg.OperationalError as e:
        err, closed = e, c.closed
        break
    except psycopg.Error as e:
        err = e
        break
report(err is not None and err.sqlstate == "53100" and not closed,
       "inserts into a full disk get 53100 (the connection stays open)",
       (acked, err and err.sqlstate, str(err).strip(), closed))
print("      (disk full after %d rows: %s)" % (acked, str(err).strip()))
try:
    got = c.execute("select count(*), min(id), max(id), sum(length(pad)) from f").fetchone()
    report(tuple(got) == (acked, 1, acked, acked * 1998),
           "the same session reads every acknowledged row back", (got, acked))
except psycopg.Error as e:
    report(False, "the same session reads every acknowledged row back", e)
# Reads are still answered while neither the database nor the usage journal
# can grow: 300 usage records (more than the page the journal has left).
try:
    for i in range(300):
        assert c.execute("select %s::int", (i,)).fetchone()[0] == i
    report(True, "300 queries are answered while the disk is full")
except (psycopg.Error, AssertionError) as e:
    report(False, "300 queries are answered while the disk is full", repr(e))
r = subprocess.run(["mount", "-o", "remount,size=8m", disk], capture_output=True, text=True)
report(r.returncode == 0, "the tmpfs is remounted with 8 MB", r.stderr)
try:
    c.execute("insert into f values (%s, 'after the remount')", (acked + 1,))
    report(True, "after freeing space the same session writes again")
except psycopg.Error as e:
    report(False, "after freeing space the same session writes again", (e.sqlstate, str(e)))
try:
    d = connect(port, "full", "other")
    d.execute("insert into f values (%s, 'a new session')", (acked + 2,))
    d.close()
    report(True, "... and so does a new session")
except psycopg.Error as e:
    report(False, "... and so does a new session", (e.sqlstate, str(e)))
# The usage ledger (on the same disk) takes in usage again: records lost
# while the journal could not be written are gone, but a record the disk
# tore in the middle of the journal would stop it for good.
con = Console(port)
before = usage(con)
for i in range(50):
    c.execute("select %s::int", (i,)).fetchone()
after = usage(con)
report(after - before == 50, "the usage ledger meters queries again once the disk has room",
       (before, after))
c.close()
print("ACKED %d" % acked)
print("DONE")
PY
    )
    relay_checks "$out"
    printf '%s\n' "$out" | grep '^      (' || true
    acked=$(printf '%s\n' "$out" | sed -n 's/^ACKED //p')
    dm_stop_check "dormouse exits 0 after the full disk"
    assert_eq "integrity_check of the database that filled the disk" "ok" \
        "$(sqlite_q "$DISK/full.db" "pragma integrity_check" 2>&1)"
    assert_eq "every acknowledged row is in the file, and the two written after the remount" \
        "$((${acked:-0} + 2))|$((${acked:-0} + 2))" \
        "$(sqlite_q "$DISK/full.db" "select count(*), max(id) from f" 2>&1)"
    assert_eq "integrity_check of the usage ledger on the same disk" "ok" \
        "$(sqlite_q "$DISK/dormouse_ledger.db" "pragma integrity_check" 2>&1)"
    if umount "$DISK"; then
        pass "the tmpfs is unmounted"
        DISK=""
    else
        fail "the tmpfs is unmounted"
    fi
fi

# ---- 4. kill -9 of Dormouse under a write load ----
DM_DATA=$(dm_tmpdir crash)
dm_write_config "$DM_TMP/crash.ini" "admin_users = admin" # sqlite_synchronous = full: the default
dm_start "$DM_TMP/crash.ini"
out=$(timeout 120 "$PYTHON" - "$DM_PORT" "$DM_PID" "$DM_TMP/crash.json" 2>&1 <<'PY'
import json, os, signal, sys, threading, time
import psycopg
from dmlib import Console, connect, report, wait_for
port, pid, state_file = sys.argv[1], int(sys.argv[2]), sys.argv[3]

c = connect(port, "crash", "setup")
c.execute("create table acked (w int, i int)")
c.close()
con = Console(port)
base = con.rows("SHOW USAGE crash")[0]
con.conn.close()

class Writer(threading.Thread):
    """BEGIN; INSERT (w, i); COMMIT in a loop: every statement sent and
    answered (a result or an ErrorResponse) is counted, and each (w, i) whose
    COMMIT was answered OK is kept, client-side."""

    def __init__(self, w):
        super().__init__(daemon=True)
        self.w = w
        self.sent = self.answered = self.inserts_sent = self.inserts_answered = 0
        self.acked, self.inflight = [], []

    def run(self):
        try:
            conn = psycopg.connect(f"host=127.0.0.1 port={port} dbname=crash user=w{self.w}",
                                   autocommit=True, prepare_threshold=None)
        except psycopg.Error:
            return
        i = 0
        while True:
            i += 1
            for sql, params in (("begin", None), ("insert into acked values (%s, %s)", (self.w, i)),
                                ("commit", None)):
                self.sent += 1
                self.inserts_sent += params is not None
                if sql == "commit":
                    self.inflight.append((self.w, i))
                try:
                    conn.execute(sql, params)
                except psycopg.Error as e:
                    if e.sqlstate is None:  # the connection is gone: Dormouse was killed
                        return
                    self.answered += 1  # an ErrorResponse is an answer (and metered)
                    self.sent += 1
                    try:
                        conn.execute("rollback")
                    except psycopg.Error:
                        return
                    self.answered += 1
                    break
                self.answered += 1
                self.inserts_answered += params is not None
                if sql == "commit":
                    self.inflight.pop()
                    self.acked.append((self.w, i))

writers = [Writer(w) for w in range(8)]
for t in writers:
    t.start()
started = wait_for(lambda: all(t.acked for t in writers), 30)
time.sleep(2)  # ~2 s of load
os.kill(pid, signal.SIGKILL)
for t in writers:
    t.join(30)
report(started and not any(t.is_alive() for t in writers),
       "8 clients committed transactions until Dormouse was killed (kill -9), and none hung")
acked = [r for t in writers for r in t.acked]
inflight = [r for t in writers for r in t.inflight]
print("      (%d commits acknowledged, %d in flight at the kill)" % (len(acked), len(inflight)))
json.dump({"acked": acked, "inflight": inflight,
           "sent": sum(t.sent for t in writers), "answered": sum(t.answered for t in writers),
           "inserts_sent": sum(t.inserts_sent for t in writers),
           "inserts_answered": sum(t.inserts_answered for t in writers),
           "base_queries": base["queries"], "base_rows_written": base["rows_written"]},
          open(state_file, "w"))
print("DONE")
PY
)
relay_checks "$out"
printf '%s\n' "$out" | grep '^      (' || true
dm_wait_exit 10 || fail "dormouse is gone after kill -9"
DM_PID=""
dm_start "$DM_TMP/crash.ini"
out=$(timeout 60 "$PYTHON" - "$DM_PORT" "$DM_TMP/crash.json" 2>&1 <<'PY'
import json, sys
from dmlib import Console, connect, report
port, st = sys.argv[1], json.load(open(sys.argv[2]))
acked = {tuple(r) for r in st["acked"]}
inflight = {tuple(r) for r in st["inflight"]}
c = connect(port, "crash", "check")
present = {tuple(r) for r in c.execute("select w, i from acked").fetchall()}
c.close()
missing = sorted(acked - present)
report(acked and not missing, "after the restart, every row whose COMMIT was acknowledged is there "
       "(%d)" % len(acked), missing[:10])
stray = sorted(present - acked - inflight)
report(not stray, "no row is there whose COMMIT was never sent (rolled back by the crash)", stray[:10])
print("      (%d of %d commits in flight at the kill were durable)" % (len(present & inflight), len(inflight)))
u = Console(port).rows("SHOW USAGE crash")[0]
q = u["queries"] - st["base_queries"]
report(st["answered"] <= q <= st["sent"],
       "the ledger has a usage record of every answered statement (%d answered <= %d <= %d sent)"
       % (st["answered"], q, st["sent"]))
w = u["rows_written"] - st["base_rows_written"]
report(st["inserts_answered"] <= w <= st["inserts_sent"],
       "... and the rows written of every answered INSERT (%d <= %d <= %d)"
       % (st["inserts_answered"], w, st["inserts_sent"]))
print("DONE")
PY
)
relay_checks "$out"
printf '%s\n' "$out" | grep '^      (' || true
dm_stop_check "dormouse exits 0 after the restart"
assert_eq "integrity_check of the database written under kill -9" "ok" \
    "$(sqlite_q "$DM_DATA/crash.db" "pragma integrity_check" 2>&1)"

dm_finish
