#!/usr/bin/python3
"""txpool.py: the client side of tests/e2e/test_txpool.sh.

Each subcommand plays one scenario against a Dormouse that pools upstream
PostgreSQL connections, with psycopg 3 (python3-psycopg) and, for the
protocol's Close message, a raw socket.  It judges what it sees and prints
one line per check on stdout, which the shell script turns into its own
PASS/FAIL lines:

    PASS<TAB>name
    FAIL<TAB>name<TAB>detail
    VALUE<TAB>key<TAB>value          (numbers for the shell to judge)

Every wait is bounded: a query that never answers is a FAIL ("still waiting
after N s"), never a hang; at the end the process exits without waiting for
stuck threads.

Subcommands (DSNs are libpq connection strings without dbname):
    sample     --pg DSN --admin DSN --stop FILE [--seconds S]
    prepared   --dm DSN --pg DSN
    set        --dm DSN --pg DSN
    queue      --dm DSN --pg DSN --admin DSN
    cancel     --dm DSN --pg DSN
    session    --dm DSN --pg DSN
    refusals   --dm DSN --pg DSN
    restart    --dm DSN --pg DSN --restart-cmd CMD
"""
import argparse
import os
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402
from report import check  # noqa: E402

import psycopg

from report import value  # noqa: E402

# ---------------------------------------------------------------- helpers


class Bg:
    """fn(*args) in a daemon thread: .done, .result, .exc, .elapsed."""

    def __init__(self, fn, *args):
        self.done = threading.Event()
        self.result = None
        self.exc = None
        self.elapsed = None
        self.t0 = time.monotonic()

        def run():
            try:
                self.result = fn(*args)
            except BaseException as e:  # noqa: B902 - reported, never raised
                self.exc = e
            finally:
                self.elapsed = time.monotonic() - self.t0
                self.done.set()

        threading.Thread(target=run, daemon=True).start()

    def wait(self, timeout):
        return self.done.wait(timeout)

    def ok(self):
        return self.done.is_set() and self.exc is None

    def describe(self):
        if not self.done.is_set():
            return "still waiting after %.1f s" % (time.monotonic() - self.t0)
        if self.exc is not None:
            return "after %.2f s: %s" % (self.elapsed, errtext(self.exc))
        return "after %.2f s: ok, result %r" % (self.elapsed, self.result)


def bounded(fn, *args, timeout=15):
    b = Bg(fn, *args)
    b.wait(timeout)
    return b


def sqlstate(e):
    return getattr(e, "sqlstate", None)


def errmsg(e):
    diag = getattr(e, "diag", None)
    m = diag.message_primary if diag is not None else None
    return m if m else str(e).strip()


def errtext(e):
    return "%s %s: %s" % (type(e).__name__, sqlstate(e), errmsg(e))


def connect(base, db, app=None, prepare_threshold=None):
    """A psycopg 3 connection in autocommit mode (BEGIN only when we send it).
    psycopg prepares a query it has run 5 times; only the prepared scenario
    wants that (prepare_threshold=0), the others keep to the simple protocol."""
    dsn = "%s dbname=%s" % (base, db)
    if app:
        dsn += " application_name=%s" % app
    c = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
    c.prepare_threshold = prepare_threshold
    return c


def q(conn, sql, params=None, **kw):
    cur = conn.execute(sql, params, **kw)
    row = cur.fetchone()
    return row[0] if row else None


def qrows(conn, sql):
    cur = conn.execute(sql)
    names = [d.name for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def poll(fn, timeout, step=0.05):
    """Calls fn until it returns something true; returns it, or None."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            v = fn()
        except Exception:  # noqa: BLE001 - polling
            v = None
        if v:
            return v
        if time.monotonic() >= deadline:
            return None
        time.sleep(step)


def pg_active(pg, text):
    """Is a query with exactly this text running upstream?"""
    return q(pg, "select count(*) from pg_stat_activity where query = %s and state = 'active'", [text]) > 0


def expect_error(name, b, state, needle=None):
    """b (a Bg) ended with an error of SQLSTATE state whose message contains needle."""
    ok = (b.done.is_set() and b.exc is not None and sqlstate(b.exc) == state and
          (needle is None or needle.lower() in errmsg(b.exc).lower()))
    return check(ok, name, "expected %s%s; got %s" % (state, " '%s'" % needle if needle else "", b.describe()))


def expect_value(name, b, want):
    ok = b.ok() and b.result == want
    return check(ok, name, "expected %r; got %s" % (want, b.describe()))


# ---------------------------------------------------------------- sample


def cmd_sample(a):
    """Samples, until FILE exists, the upstream connections of user app
    (pg_stat_activity) and the admin console's SERVERS/POOLS for database app."""
    pg = psycopg.connect(a.pg + " dbname=postgres", autocommit=True, connect_timeout=10)
    try:
        admin = psycopg.connect(a.admin, autocommit=True, connect_timeout=10)
    except Exception as e:  # noqa: BLE001
        admin = None
        value("admin_error", errtext(e))
    max_pg = max_sv = max_wait = -1
    samples = admin_errors = 0
    deadline = time.monotonic() + a.seconds
    while True:
        n = q(pg, "select count(*) from pg_stat_activity where usename = 'app' and backend_type = 'client backend'")
        max_pg = max(max_pg, n)
        if admin is not None:
            try:
                sv = [r for r in qrows(admin, "SHOW SERVERS") if r.get("database") == "app"]
                max_sv = max(max_sv, len(sv))
                pools = [r for r in qrows(admin, "SHOW POOLS") if r.get("database") == "app"]
                for r in pools:
                    max_wait = max(max_wait, int(r.get("cl_waiting", -1)))
            except Exception as e:  # noqa: BLE001
                admin_errors += 1
                if admin_errors == 1:
                    value("admin_error", errtext(e))
                if admin.closed:
                    admin = None
        samples += 1
        if os.path.exists(a.stop) or time.monotonic() >= deadline:
            break
        time.sleep(0.02)
    value("samples", samples)
    value("max_pg", max_pg)
    value("max_servers", max_sv)
    value("max_cl_waiting", max_wait)
    value("admin_errors", admin_errors)


# ---------------------------------------------------------------- raw protocol


class Raw:
    """A bare protocol v3 client (trust login) for messages libpq 15 cannot
    send on its own, such as Close of a named statement."""

    def __init__(self, host, port, user, db):
        self.s = socket.create_connection((host, port), timeout=10)
        body = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in
                        (("user", user), ("database", db), ("application_name", "raw"))) + b"\0"
        self.s.sendall(struct.pack("!ii", 8 + len(body), 196608) + body)
        msgs = self.until_ready()
        for t, b in msgs:
            if t == b"R" and struct.unpack("!i", b[:4])[0] != 0:
                raise RuntimeError("the raw client only does trust logins")
            if t == b"E":
                raise RuntimeError("login refused: %r" % (self.fields(b),))

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise RuntimeError("connection closed")
            buf += chunk
        return buf

    def until_ready(self):
        msgs = []
        while True:
            hdr = self._read(5)
            t, n = hdr[:1], struct.unpack("!i", hdr[1:])[0]
            body = self._read(n - 4)
            if t in (b"S", b"K", b"N"):  # ParameterStatus, BackendKeyData, Notice
                continue
            msgs.append((t, body))
            if t == b"Z":
                return msgs

    @staticmethod
    def fields(body):
        out = {}
        for part in body.split(b"\0"):
            if part:
                out[part[:1].decode()] = part[1:].decode("utf-8", "replace")
        return out

    @staticmethod
    def msg(t, body=b""):
        return t + struct.pack("!i", len(body) + 4) + body

    def parse(self, name, sql):
        return self.msg(b"P", name.encode() + b"\0" + sql.encode() + b"\0" + struct.pack("!h", 0))

    def bind_exec(self, name):
        return (self.msg(b"B", b"\0" + name.encode() + b"\0" + struct.pack("!hhh", 0, 0, 0)) +
                self.msg(b"E", b"\0" + struct.pack("!i", 0)))

    def close_stmt(self, name):
        return self.msg(b"C", b"S" + name.encode() + b"\0")

    def run(self, *parts):
        """Sends the messages and a Sync; returns a summary: message types,
        then the first DataRow's first value and the first error's SQLSTATE."""
        self.s.sendall(b"".join(parts) + self.msg(b"S"))
        msgs = self.until_ready()
        types = "".join(t.decode() for t, _ in msgs)
        val = err = None
        for t, b in msgs:
            if t == b"D" and val is None:
                n = struct.unpack("!i", b[2:6])[0]
                val = b[6:6 + n].decode() if n >= 0 else None
            if t == b"E" and err is None:
                err = self.fields(b).get("C")
        return types, val, err

    def query_to_end(self, sql, timeout=30):
        """A simple Query; reads until ReadyForQuery or the end of the
        connection.  Returns (SQLSTATEs of the ErrorResponses, how it ended).
        libpq cannot do this: when a FATAL is followed by the end of the
        connection, libpq 15 drops the error's SQLSTATE."""
        self.s.settimeout(timeout)
        self.s.sendall(self.msg(b"Q", sql.encode() + b"\0"))
        errs = []
        try:
            while True:
                hdr = self._read(5)
                t, n = hdr[:1], struct.unpack("!i", hdr[1:])[0]
                body = self._read(n - 4)
                if t == b"E":
                    f = self.fields(body)
                    errs.append("%s %s %s" % (f.get("S"), f.get("C"), f.get("M")))
                if t == b"Z":
                    return errs, "ReadyForQuery"
        except (RuntimeError, ConnectionError):
            return errs, "end of connection"

    def close(self):
        try:
            self.s.sendall(self.msg(b"X"))
        finally:
            self.s.close()


def dsn_parts(dsn):
    return dict(kv.split("=", 1) for kv in dsn.split())


# ---------------------------------------------------------------- prepared


def cmd_prepared(a):
    from psycopg import pq

    OK = pq.ExecStatus.COMMAND_OK
    TUPLES = pq.ExecStatus.TUPLES_OK

    def res_text(r):
        if r.status == TUPLES:
            return r.get_value(0, 0).decode() if r.ntuples else None
        if r.status == OK:
            return "OK"
        st = r.error_field(pq.DiagnosticField.SQLSTATE)
        return "ERROR %s" % (st.decode() if st else "?")

    def prep(c, name, sql):
        return res_text(c.pgconn.prepare(name.encode(), sql.encode()))

    def execp(c, name, *params):
        return res_text(c.pgconn.exec_prepared(name.encode(), [p.encode() for p in params]))

    def run(name, fn, *args, want):
        b = bounded(fn, *args, timeout=10)
        ok = b.ok() and b.result == want
        check(ok, name, "expected %r; got %s" % (want, b.describe()))
        return ok

    c1 = connect(a.dm, "app", "prep1")
    c2 = connect(a.dm, "app", "prep2")
    holder = connect(a.dm, "app", "prep-holder")
    # The holder keeps one of the two servers in a transaction: c1 and c2 now
    # share the other one, so their statements meet on the same server.
    holder.execute("begin")
    hpid = q(holder, "select pg_backend_pid()")
    pids = (q(c1, "select pg_backend_pid()"), q(c2, "select pg_backend_pid()"))
    check(pids[0] == pids[1] != hpid,
          "prepared: with one of the 2 servers held by a transaction, clients 1 and 2 share the other",
          "holder's backend %r, client 1's %r, client 2's %r" % (hpid, pids[0], pids[1]))
    run("prepared: client 1 prepares the named statement stmt_a (PQprepare)",
        prep, c1, "stmt_a", "select 'c1:' || $1::text", want="OK")
    run("prepared: client 1 executes its stmt_a", execp, c1, "stmt_a", "x", want="c1:x")
    run("prepared: client 2 does not see client 1's stmt_a (26000), though they share the only free server",
        execp, c2, "stmt_a", "x", want="ERROR 26000")
    run("prepared: client 2 prepares its own stmt_a with another text", prep, c2, "stmt_a",
        "select 'c2:' || $1::text", want="OK")
    bad = []
    for i in range(10):
        for c, tag in ((c1, "c1"), (c2, "c2")):
            b = bounded(execp, c, "stmt_a", str(i), timeout=10)
            if not (b.ok() and b.result == "%s:%d" % (tag, i)):
                bad.append("%s #%d: %s" % (tag, i, b.describe()))
    check(not bad, "prepared: both clients' stmt_a, interleaved on one server, each run their own text",
          "; ".join(bad[:5]))
    holder.execute("commit")

    # With both servers in use by a background load, the statements follow
    # their clients from server to server.
    stop = threading.Event()
    load_errors = []

    def load(k):
        try:
            c = connect(a.dm, "app", "prep-load%d" % k)
            while not stop.is_set():
                c.execute("begin")
                c.execute("select pg_sleep(0.005)")
                c.execute("commit")
            c.close()
        except Exception as e:  # noqa: BLE001
            load_errors.append(errtext(e))

    loads = [Bg(load, k) for k in range(3)]
    bad = []
    for i in range(20):
        for c, tag in ((c1, "c1"), (c2, "c2")):
            b = bounded(execp, c, "stmt_a", str(i), timeout=10)
            if not (b.ok() and b.result == "%s:%d" % (tag, i)):
                bad.append("%s #%d: %s" % (tag, i, b.describe()))
    stop.set()
    for b in loads:
        b.wait(10)
    check(not bad and not load_errors,
          "prepared: under a concurrent load (3 more clients, 2 servers) each client's stmt_a stays its own",
          "; ".join(bad[:5] + load_errors[:3]))

    run("prepared: DEALLOCATE stmt_a by client 1", lambda: res_text(c1.pgconn.exec_(b"deallocate stmt_a")),
        want="OK")
    run("prepared: after DEALLOCATE, client 1's stmt_a is gone (26000)", execp, c1, "stmt_a", "y",
        want="ERROR 26000")
    run("prepared: client 2's stmt_a survives client 1's DEALLOCATE", execp, c2, "stmt_a", "y", want="c2:y")
    run("prepared: client 1 prepares stmt_a again with a new text", prep, c1, "stmt_a",
        "select 'c1b:' || $1::text", want="OK")
    run("prepared: client 1's new stmt_a runs its new text", execp, c1, "stmt_a", "z", want="c1b:z")
    run("prepared: client 1 prepares stmt_b too", prep, c1, "stmt_b", "select 'c1b2'", want="OK")
    run("prepared: DEALLOCATE ALL by client 1", lambda: res_text(c1.pgconn.exec_(b"deallocate all")), want="OK")
    run("prepared: after DEALLOCATE ALL, client 1's statements are gone (26000)",
        lambda: (execp(c1, "stmt_a", "v"), execp(c1, "stmt_b")), want=("ERROR 26000", "ERROR 26000"))
    run("prepared: client 2's stmt_a survives client 1's DEALLOCATE ALL", execp, c2, "stmt_a", "w", want="c2:w")
    run("prepared: preparing an existing name again is 42P05, as in PostgreSQL", prep, c2, "stmt_a",
        "select 1", want="ERROR 42P05")
    for c in (c1, c2, holder):
        c.close()

    # The protocol's Close message (libpq 15 has no PQclosePrepared): two raw
    # clients use the same name while a holder keeps the other server busy.
    dm = dsn_parts(a.dm)
    holder = connect(a.dm, "app", "raw-holder")
    holder.execute("begin")
    q(holder, "select 1")
    try:
        r1 = Raw(dm["host"], int(dm["port"]), dm["user"], "app")
        r2 = Raw(dm["host"], int(dm["port"]), dm["user"], "app")
    except Exception as e:  # noqa: BLE001
        check(False, "prepared (raw protocol): log in", errtext(e))
        return

    def rawcheck(name, r, parts, want_val=None, want_err=None, want_types=None):
        b = bounded(r.run, *parts, timeout=10)
        if not b.ok():
            return check(False, name, b.describe())
        types, val, err = b.result
        ok = val == want_val and err == want_err and (want_types is None or types == want_types)
        return check(ok, name, "expected value %r, error %r%s; got types %s, value %r, error %r" %
                     (want_val, want_err, ", types %s" % want_types if want_types else "", types, val, err))

    rawcheck("prepared (raw protocol): Parse s1 by client A", r1, [r1.parse("s1", "select 'A1'")],
             want_types="1Z")
    rawcheck("prepared (raw protocol): Parse s1 with another text by client B", r2,
             [r2.parse("s1", "select 'B1'")], want_types="1Z")
    rawcheck("prepared (raw protocol): client A's s1 runs A's text", r1, [r1.bind_exec("s1")], want_val="A1")
    rawcheck("prepared (raw protocol): client B's s1 runs B's text", r2, [r2.bind_exec("s1")], want_val="B1")
    rawcheck("prepared (raw protocol): Close of client A's s1 answers CloseComplete", r1,
             [r1.close_stmt("s1")], want_types="3Z")
    rawcheck("prepared (raw protocol): after Close, client A's s1 is gone (26000)", r1, [r1.bind_exec("s1")],
             want_err="26000")
    rawcheck("prepared (raw protocol): client B's s1 survives A's Close", r2, [r2.bind_exec("s1")],
             want_val="B1")
    rawcheck("prepared (raw protocol): client A prepares s1 again (Parse, Bind, Execute in one Sync)", r1,
             [r1.parse("s1", "select 'A2'"), r1.bind_exec("s1")], want_val="A2")
    holder.execute("commit")
    rawcheck("prepared (raw protocol): client A's new s1 still runs with two servers in use", r1,
             [r1.bind_exec("s1")], want_val="A2")
    r1.close()
    r2.close()
    holder.close()

    # A driver's own prepared statements: 20 psycopg 3 clients (prepare_threshold=0:
    # every query is a named statement, the same names _pg3_0... in every
    # client but with a different text in each), through 2 servers.
    errors = []

    def client(k):
        c = connect(a.dm, "app", "pg3-%d" % k, prepare_threshold=0)
        for i in range(15):
            got = q(c, "select %%s::int * 2 + %d" % k, [i])
            if got != i * 2 + k:
                errors.append("client %d query %d: got %r, expected %d" % (k, i, got, i * 2 + k))
                break
        c.close()

    clients = [Bg(client, k) for k in range(20)]
    for b in clients:
        b.wait(30)
    errors += ["client: %s" % b.describe() for b in clients if not b.ok()]
    check(not errors, "prepared: 20 psycopg 3 clients with prepare_threshold=0 through pool_size=2 all get "
          "their own results", "; ".join(errors[:5]))


# ---------------------------------------------------------------- set


SHOW = ("statement_timeout", "application_name", "search_path", "TimeZone")


def shows(c):
    return tuple(q(c, "show %s" % p) for p in SHOW)


def cmd_set(a):
    pg = psycopg.connect(a.pg + " dbname=app", autocommit=True, connect_timeout=10)
    d_timeout, _, d_path, d_tz = shows(pg)
    pg.close()

    def defaults(app):
        return (d_timeout, app, d_path, d_tz)

    mine = ("1234ms", "x", "myschema, public", "Asia/Tokyo")

    def same(name, b, want):
        ok = b.ok() and b.result == want
        return check(ok, name, "expected %r; got %s" % (want, b.describe()))

    c1 = connect(a.dm, "app", "c1")
    c2 = connect(a.dm, "app", "c2")
    for s in ("SET statement_timeout = '1234ms'", "SET application_name = 'x'",
              "SET search_path = myschema, public", "SET TimeZone = 'Asia/Tokyo'"):
        b = bounded(c1.execute, s)
        check(b.ok(), "SET: %s outside a transaction" % s, b.describe())
    same("SET: the client sees its values", bounded(shows, c1), mine)
    c1_pid = q(c1, "select pg_backend_pid()")

    # Two other clients hold both servers in transactions: one of them is on
    # the server c1's SETs ran on, and both must see the defaults.
    h3 = connect(a.dm, "app", "h3")
    h4 = connect(a.dm, "app", "h4")
    h3.execute("begin")
    h4.execute("begin")
    held = {q(h3, "select pg_backend_pid()"), q(h4, "select pg_backend_pid()")}
    check(c1_pid in held, "SET: two other clients in transactions hold both servers, client 1's among them",
          "client 1's backend %r, the holders' %r" % (c1_pid, held))
    same("SET: another client (holding a server) sees the defaults, not client 1's values",
         bounded(shows, h3), defaults("h3"))
    same("SET: a second other client (holding the other server) sees the defaults too",
         bounded(shows, h4), defaults("h4"))
    b1 = Bg(shows, c1)  # waits for a server
    time.sleep(0.2)
    h3.execute("commit")
    b1.wait(10)
    same("SET: client 1, on the server another client just released, sees its own values", b1, mine)
    b2 = bounded(shows, c2)
    same("SET: client 2 sees the defaults", b2, defaults("c2"))
    h4.execute("commit")
    h3.close()
    h4.close()

    # SET LOCAL does not outlive its transaction.
    def set_local():
        c1.execute("begin")
        c1.execute("SET LOCAL statement_timeout = '777ms'")
        inside = q(c1, "show statement_timeout")
        c1.execute("commit")
        return inside, q(c1, "show statement_timeout")

    same("SET LOCAL applies inside its transaction only", bounded(set_local), ("777ms", "1234ms"))

    # Under a load of clients that never SET, values stay with their clients.
    stop = threading.Event()
    leaks = []

    def load(k):
        try:
            c = connect(a.dm, "app", "load%d" % k)
            while not stop.is_set():
                got = shows(c)
                if got != defaults("load%d" % k):
                    leaks.append("load%d saw %r" % (k, got))
                    break
            c.close()
        except Exception as e:  # noqa: BLE001
            leaks.append("load%d: %s" % (k, errtext(e)))

    loads = [Bg(load, k) for k in range(4)]
    bad = []
    for i in range(25):
        for c, want in ((c1, mine), (c2, defaults("c2"))):
            b = bounded(shows, c)
            if not (b.ok() and b.result == want):
                bad.append("%s #%d: expected %r, %s" % ("c1" if c is c1 else "c2", i, want, b.describe()))
    stop.set()
    for b in loads:
        b.wait(10)
    check(not bad, "SET: under a load of 4 other clients, client 1 always sees its values and client 2 the "
          "defaults", "; ".join(bad[:4]))
    check(not leaks, "SET: the 4 load clients always see the defaults", "; ".join(leaks[:4]))

    # The values are in effect, not only shown.
    b = bounded(q, c1, "select pg_sleep(3)", timeout=10)
    expect_error("SET: client 1's statement_timeout = 1234ms cancels its pg_sleep(3) (57014)", b, "57014",
                 "statement timeout")
    b = bounded(q, c1, "select x from only_in_myschema")
    expect_value("SET: client 1's search_path finds myschema's table", b, 7)
    b = bounded(q, c1, "select to_char(timestamptz '2020-01-01 00:00:00+00', 'HH24')")
    expect_value("SET: client 1's TimeZone is in effect (00:00 UTC is 09 in Asia/Tokyo)", b, "09")
    b = bounded(q, c2, "select pg_sleep(1.5)", timeout=10)
    check(b.ok(), "SET: client 2 has no statement_timeout (its pg_sleep(1.5) completes)", b.describe())

    # RESET and RESET ALL.
    def reset_one():
        c1.execute("RESET statement_timeout")
        return shows(c1)

    same("RESET statement_timeout: back to the default, the other values stay", bounded(reset_one),
         (d_timeout,) + mine[1:])
    h = connect(a.dm, "app", "h5")
    h.execute("begin")  # one server busy: the next queries share the other
    same("RESET statement_timeout: still reset after another client used the server",
         bounded(lambda: (shows(c2), shows(c1))[1]), (d_timeout,) + mine[1:])
    h.execute("commit")

    def reset_all():
        c1.execute("RESET ALL")
        return shows(c1)

    same("RESET ALL: every value back to the default (application_name: the one from the startup packet)",
         bounded(reset_all), defaults("c1"))
    h.execute("begin")
    same("RESET ALL: still the defaults after another client used the server",
         bounded(lambda: (shows(c2), shows(c1))[1]), defaults("c1"))
    h.execute("commit")
    for c in (c1, c2, h):
        c.close()


# ---------------------------------------------------------------- queue


def admin_pool(admin, db):
    rows = [r for r in qrows(admin, "SHOW POOLS") if r.get("database") == db]
    return rows[0] if rows else None


def cmd_queue(a):
    try:
        admin = psycopg.connect(a.admin, autocommit=True, connect_timeout=10)
    except Exception as e:  # noqa: BLE001
        admin = None
        admin_err = errtext(e)
    holder = connect(a.dm, "appq", "holder")
    holder.execute("begin")
    q(holder, "select 1")
    waiter = connect(a.dm, "appq", "waiter")
    b = Bg(q, waiter, "select 1")
    # While it waits, the console counts it.
    if admin is not None:
        seen = []

        def waiting():
            p = admin_pool(admin, "appq")
            seen[:] = [p]
            return p is not None and int(p["cl_waiting"]) > 0

        ok = poll(waiting, 1.5)
        check(ok, "SHOW POOLS: cl_waiting > 0 for appq while a client waits for its only server",
              "last row: %r" % (seen[0] if seen else None))
        p = seen[0] if seen else None
        check(p is not None and p.get("pool_mode") == "transaction" and int(p.get("sv_active", -1)) == 1,
              "SHOW POOLS: appq's row has pool_mode transaction and sv_active 1", "row: %r" % (p,))
    else:
        check(False, "SHOW POOLS: cl_waiting > 0 for appq while a client waits", "admin login: " + admin_err)
    b.wait(15)
    expect_error("query_wait_timeout = 2: the queued client gets 57014 'query_wait_timeout'", b, "57014",
                 "query_wait_timeout")
    check(b.done.is_set() and b.elapsed is not None and b.elapsed >= 1.5,
          "query_wait_timeout: the client waited in the queue (about 2 s) before the error", b.describe())
    b = bounded(q, holder, "select 'holder still in its transaction'")
    check(b.ok(), "query_wait_timeout: the holder's transaction is unaffected", b.describe())
    holder.execute("commit")
    expect_value("query_wait_timeout: the timed-out client's connection stays usable (next query works)",
                 bounded(q, waiter, "select 2"), 2)

    # Cancel of a client that waits in the queue: it leaves the queue; the
    # cancel does not reach the holder's server.
    holder.execute("begin")
    q(holder, "select 1")
    hb = Bg(q, holder, "select pg_sleep(1.5)")
    b = Bg(q, waiter, "select 3")
    if admin is not None:
        poll(lambda: int(admin_pool(admin, "appq")["cl_waiting"]) > 0, 1.0)
    else:
        time.sleep(0.5)
    waiter.cancel()
    b.wait(10)
    expect_error("cancel of a queued client: 57014 'canceling statement due to user request'", b, "57014",
                 "canceling statement due to user request")
    hb.wait(10)
    check(hb.ok(), "cancel of a queued client: the holder's running pg_sleep is not canceled", hb.describe())
    holder.execute("commit")
    expect_value("cancel of a queued client: its connection stays usable", bounded(q, waiter, "select 4"), 4)
    # FIFO: three waiters queued in order are served in that order.
    holder.execute("begin")
    q(holder, "select 1")
    ws = [connect(a.dm, "appq", "fifo%d" % k) for k in range(3)]
    bs = []
    for k in range(3):
        # The only server runs them one after the other: its clock tells the order.
        bs.append(Bg(q, ws[k], "select clock_timestamp()"))
        time.sleep(0.25)
    holder.execute("commit")
    for x in bs:
        x.wait(10)
    order = sorted(range(3), key=lambda k: bs[k].result) if all(x.ok() for x in bs) else None
    check(order == [0, 1, 2], "queue: three clients queued one after the other are served in that order (FIFO)",
          "order served %r; %s" % (order, "; ".join(x.describe() for x in bs)))
    for c in ws + [holder, waiter]:
        c.close()


# ---------------------------------------------------------------- cancel


def cmd_cancel(a):
    pg = psycopg.connect(a.pg + " dbname=postgres", autocommit=True, connect_timeout=10)
    c1 = connect(a.dm, "app", "cancel1")
    c2 = connect(a.dm, "app", "cancel2")
    b1 = Bg(q, c1, "select pg_sleep(30)")
    b2 = Bg(q, c2, "select pg_sleep(2.5)")
    running = poll(lambda: pg_active(pg, "select pg_sleep(30)") and pg_active(pg, "select pg_sleep(2.5)"), 5)
    check(running, "cancel: both clients' pg_sleep run upstream (one server each)",
          "%s / %s" % (b1.describe(), b2.describe()))
    c1.cancel()
    b1.wait(10)
    expect_error("cancel: CancelRequest (psycopg conn.cancel()) cancels the client's pg_sleep(30) upstream",
                 b1, "57014", "canceling statement due to user request")
    check(b1.done.is_set() and b1.elapsed is not None and b1.elapsed < 10, "cancel: the canceled query ends within 10 s", b1.describe())
    b2.wait(10)
    check(b2.ok(), "cancel: the other client's pg_sleep on the other server is not canceled", b2.describe())
    expect_value("cancel: the canceled client's connection stays usable", bounded(q, c1, "select 5"), 5)
    c1.close()
    c2.close()


# ---------------------------------------------------------------- session


def cmd_session(a):
    c1 = connect(a.dm, "apps", "s1")

    def setup():
        pid = q(c1, "select pg_backend_pid()")
        c1.execute("create temp table tt (x int)")
        c1.execute("insert into tt values (1)")
        c1.execute("SET statement_timeout = '2345ms'")
        c1.execute("begin")
        c1.execute("insert into tt values (2)")
        c1.execute("commit")
        pids = {q(c1, "select pg_backend_pid()") for _ in range(5)}
        return pid, pids, q(c1, "select count(*) from tt"), q(c1, "show statement_timeout")

    b = bounded(setup)
    if not check(b.ok(), "session mode: temp table, SET and a transaction", b.describe()):
        return
    pid1, pids, n, st = b.result
    check(pids == {pid1} and n == 2 and st == "2345ms",
          "session mode: the client keeps its server across transactions (same backend, temp table, SET)",
          "first pid %r, later pids %r, rows %r, statement_timeout %r" % (pid1, pids, n, st))

    def second():
        c = connect(a.dm, "apps", "s2")
        try:
            return q(c, "select pg_backend_pid()")
        finally:
            c.close()

    b2 = Bg(second)
    time.sleep(1.0)
    check(not b2.ok(), "session mode (pool_size=1): a second client gets no server while the first is connected",
          b2.describe())
    c1.close()
    b2.wait(10)  # it may have timed out in the queue (query_wait_timeout) or got the server now

    def third():
        c = connect(a.dm, "apps", "s3")
        try:
            return (q(c, "select pg_backend_pid()"), q(c, "select to_regclass('tt') is not null"),
                    q(c, "show statement_timeout"))
        finally:
            c.close()

    b3 = bounded(third)
    if not check(b3.ok(), "session mode: a new client after the first disconnected", b3.describe()):
        return
    pid3, has_tt, st3 = b3.result
    check(pid3 == pid1, "session mode: the server is reused by the next client (same backend pid)",
          "first client's backend %r, next client's %r" % (pid1, pid3))
    check(has_tt is False, "session mode: the next client does not see the temp table (server reset)",
          "to_regclass('tt') is not null: %r" % (has_tt,))
    check(st3 == "0", "session mode: the next client does not get the SET values (server reset)",
          "statement_timeout: %r" % (st3,))


# ---------------------------------------------------------------- refusals


def cmd_refusals(a):
    pg = psycopg.connect(a.pg + " dbname=postgres", autocommit=True, connect_timeout=10)
    c = connect(a.dm, "app", "listener")
    b = bounded(c.execute, "LISTEN x")
    expect_error("transaction mode: LISTEN gets 0A000 mentioning transaction pooling", b, "0A000",
                 "transaction pooling")
    expect_value("transaction mode: the connection stays usable after the refused LISTEN",
                 bounded(q, c, "select 6"), 6)
    c.close()

    s = connect(a.dm, "appst", "stmt")
    expect_value("statement mode: a single statement works", bounded(q, s, "select 7"), 7)
    b = bounded(s.execute, "BEGIN")
    check(b.done.is_set() and b.exc is not None and "statement pooling" in errmsg(b.exc).lower(),
          "statement mode: BEGIN gets an ERROR mentioning statement pooling", b.describe())
    b = bounded(q, s, "select 8")
    expect_value("statement mode: the client's next statement works", b, 8)
    n = poll(lambda: q(pg, "select count(*) from pg_stat_activity where usename = 'stmt' and "
                           "state like 'idle in transaction%'") == 0 or None, 3)
    check(n, "statement mode: no upstream connection is left idle in a transaction",
          "%s" % q(pg, "select string_agg(state || ': ' || query, '; ') from pg_stat_activity where usename = 'stmt'"))
    s.close()


# ---------------------------------------------------------------- restart


def cmd_restart(a):
    pg = psycopg.connect(a.pg + " dbname=postgres", autocommit=True, connect_timeout=10)
    idle = connect(a.dm, "app", "idle-client")
    q(idle, "select 1")
    dm = dsn_parts(a.dm)
    busy = Raw(dm["host"], int(dm["port"]), dm["user"], "app")

    def inflight():
        errs, end = busy.query_to_end("begin")
        if errs:
            return errs, end
        return busy.query_to_end("select pg_sleep(20)")

    b = Bg(inflight)
    running = poll(lambda: pg_active(pg, "select pg_sleep(20)"), 5)
    check(running, "restart: the in-flight client's pg_sleep(20) runs upstream", b.describe())
    pg.close()
    t = time.monotonic()
    r = subprocess.run(a.restart_cmd, shell=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    value("restart_seconds", "%.1f" % (time.monotonic() - t))
    if not check(r.returncode == 0, "restart: pg_ctl restart -m fast", r.stdout.decode(errors="replace")):
        return
    b.wait(15)
    errs = b.result[0] if b.ok() else []
    check(any(e.split()[1] in ("57P01", "08006") for e in errs),
          "restart: the in-flight client gets an error (57P01 or 08006), not a hang", b.describe())
    expect_value("restart: a client connected before the restart runs its next query once PostgreSQL is back",
                 bounded(q, idle, "select 9"), 9)

    def fresh():
        c = connect(a.dm, "app", "after-restart")
        try:
            return q(c, "select 10")
        finally:
            c.close()

    expect_value("restart: a new client works after the restart", bounded(fresh), 10)
    idle.close()


# ---------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["sample", "prepared", "set", "queue", "cancel", "session", "refusals",
                                    "restart"])
    ap.add_argument("--dm", help="libpq DSN of Dormouse, without dbname")
    ap.add_argument("--pg", help="libpq DSN of the upstream PostgreSQL as superuser, without dbname")
    ap.add_argument("--admin", help="libpq DSN of the admin console")
    ap.add_argument("--stop", help="sample: stop once this file exists")
    ap.add_argument("--seconds", type=float, default=30, help="sample: at most this long")
    ap.add_argument("--restart-cmd", help="restart: shell command that restarts PostgreSQL")
    a = ap.parse_args()
    try:
        globals()["cmd_" + a.cmd](a)
    except Exception as e:  # noqa: BLE001 - one FAIL line, then the exit status says it
        check(False, "%s: scenario stopped by an unexpected error" % a.cmd, errtext(e))
    sys.stdout.flush()
    os._exit(1 if report.failures() else 0)


if __name__ == "__main__":
    main()
