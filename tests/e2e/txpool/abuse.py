#!/usr/bin/python3
"""abuse.py: the client side of tests/e2e/test_txpool_abuse.sh.

Robustness of transaction pooling towards an upstream PostgreSQL, with raw
sockets (stdlib only): malformed extended-protocol messages, errors in the
middle of pipelines, named statements that PostgreSQL skipped or refused, a
per-server statement cache that evicts, clients that disconnect at every
point, odd SET statements, and CancelRequests with wrong keys or for other
clients.  Wherever PostgreSQL itself can say what the answer must be, the
same bytes are sent to PostgreSQL directly (as the pool's upstream user) and
the two answers are compared message by message (types, SQLSTATEs, error
texts, row values, command tags; notices and ParameterStatus aside).

Each scenario uses client user names of its own, and Dormouse keeps one pool
per database and client user: a scenario that leaves a server stuck does not
starve the next one.  Database a1 has pool_size=1 (clients of one user share
one server connection, one after the other), a2 pool_size=2.

It prints one line per check on stdout, which the shell script turns into
its own PASS/FAIL lines:

    PASS<TAB>name
    FAIL<TAB>name<TAB>detail
    VALUE<TAB>key<TAB>value

Every read is bounded: a reply that does not come is a FAIL ("no reply within
N s"), never a hang.

    abuse.py SCENARIO|all --dm-port P --pg-port P [--host H] [--admin-user U]
    scenarios: malformed pipeline lru disconnect settings cancel final
"""
import argparse
import os
import random
import re
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import report  # noqa: E402
from report import check  # noqa: E402

CANCEL_CODE = 80877102
PG_USER, PG_DB = "ab1", "ab"  # the upstream user and database of a1 (a2's user is ab2)
DIRECT_PIDS = set()  # backends of our own direct connections to PostgreSQL
STEP = 4.0  # seconds a reply may take before it counts as missing (query_wait_timeout is 3 s)

from report import value  # noqa: E402

# ---------------------------------------------------------------- messages


def msg(t, body=b""):
    return t + struct.pack("!i", len(body) + 4) + body


def cs(s):
    return (s.encode() if isinstance(s, str) else s) + b"\0"


def Parse(name, sql, types=()):
    return msg(b"P", cs(name) + cs(sql) + struct.pack("!h", len(types)) +
               b"".join(struct.pack("!i", t) for t in types))


def Bind(stmt, params=(), portal=""):
    body = cs(portal) + cs(stmt) + struct.pack("!hh", 0, len(params))
    for p in params:
        p = p.encode() if isinstance(p, str) else p
        body += struct.pack("!i", len(p)) + p
    return msg(b"B", body + struct.pack("!h", 0))


def Describe(kind, name):
    return msg(b"D", kind + cs(name))


def Close(kind, name):
    return msg(b"C", kind + cs(name))


def Execute(portal="", maxrows=0):
    return msg(b"E", cs(portal) + struct.pack("!i", maxrows))


def Query(sql):
    return msg(b"Q", cs(sql))


SYNC = msg(b"S")
FLUSH = msg(b"H")
TERMINATE = msg(b"X")


def BE(stmt, params=()):
    """Bind + Execute of a named statement (unnamed portal)."""
    return Bind(stmt, params) + Execute()


def fields(body):
    out = {}
    for part in body.split(b"\0"):
        if part:
            out[part[:1].decode()] = part[1:].decode("utf-8", "replace")
    return out


def datarow(body, enc="utf-8"):
    n = struct.unpack("!h", body[:2])[0]
    vals, i = [], 2
    for _ in range(n):
        ln = struct.unpack("!i", body[i:i + 4])[0]
        i += 4
        if ln < 0:
            vals.append(None)
        else:
            vals.append(body[i:i + ln].decode(enc, "replace"))
            i += ln
    return vals


def summary(msgs, enc="utf-8"):
    """A comparable text of a reply: notices and ParameterStatus aside."""
    out = []
    for t, b in msgs:
        if t in ("N", "S", "A"):
            continue
        if t == "E":
            f = fields(b)
            out.append("E(%s %s)" % (f.get("C"), f.get("M")))
        elif t == "Z":
            out.append("Z" + b.decode())
        elif t == "D":
            out.append("D%r" % (datarow(b, enc),))
        elif t == "C":
            out.append("C(%s)" % b.rstrip(b"\0").decode())
        else:
            out.append(t)
    return " ".join(out)


# ---------------------------------------------------------------- connections


class Closed(Exception):
    pass


class NoReply(Exception):
    pass


class Conn:
    """A protocol v3 client (trust logins only)."""

    def __init__(self, port, user, db, app=None, host="127.0.0.1", extra=()):
        self.s = socket.create_connection((host, port), timeout=10)
        self.buf = b""
        self.got = []  # messages read by the last until_z
        params = [("user", user), ("database", db)]
        if app:
            params.append(("application_name", app))
        params += list(extra)
        body = struct.pack("!i", 196608) + b"".join(cs(k) + cs(v) for k, v in params) + b"\0"
        self.s.sendall(struct.pack("!i", len(body) + 4) + body)
        self.key = None
        try:
            self.until_z(1, 10)
        except (Closed, NoReply) as e:
            errs = [fields(b) for t, b in self.got if t == "E"]
            raise RuntimeError("login refused: %s %s" % (errs[0].get("C"), errs[0].get("M")) if errs else
                               "login: %s" % type(e).__name__)
        for t, b in self.got:
            if t == "R" and struct.unpack("!i", b[:4])[0] != 0:
                raise RuntimeError("only trust logins here")
            if t == "K":
                self.key = struct.unpack("!ii", b)
            if t == "E":
                raise RuntimeError("login refused: %r" % fields(b))

    def send(self, data):
        self.s.sendall(data)

    def read(self, timeout):
        deadline = time.monotonic() + timeout
        while len(self.buf) < 5 or len(self.buf) < 1 + struct.unpack("!i", self.buf[1:5])[0]:
            left = deadline - time.monotonic()
            if left <= 0:
                raise NoReply()
            self.s.settimeout(left)
            try:
                c = self.s.recv(1 << 16)
            except socket.timeout:
                raise NoReply()
            except (ConnectionResetError, BrokenPipeError):
                raise Closed()
            if not c:
                raise Closed()
            self.buf += c
        n = struct.unpack("!i", self.buf[1:5])[0]
        t, b = self.buf[:1].decode(), self.buf[5:1 + n]
        self.buf = self.buf[1 + n:]
        return t, b

    def until_z(self, nz=1, timeout=STEP):
        """Messages up to the nz-th ReadyForQuery (raises NoReply/Closed; self.got
        keeps what came)."""
        self.got = []
        deadline = time.monotonic() + timeout
        while nz > 0:
            t, b = self.read(max(0.0, deadline - time.monotonic()))
            self.got.append((t, b))
            if t == "Z":
                nz -= 1
        return self.got

    def x(self, data, nz=1, timeout=STEP, enc="utf-8"):
        """Sends data, reads nz ReadyForQuery; a summary, never an exception."""
        try:
            self.send(data)
            return summary(self.until_z(nz, timeout), enc)
        except NoReply:
            return (summary(self.got, enc) + " <no reply within %.0f s>" % timeout).strip()
        except (Closed, OSError):
            return (summary(self.got, enc) + " <connection closed>").strip()

    def rows(self, sql, timeout=STEP, enc="utf-8"):
        """A simple query's DataRows as lists; an error as 'E<sqlstate>'; None if no reply."""
        try:
            self.send(Query(sql))
            ms = self.until_z(1, timeout)
        except (NoReply, Closed, OSError):
            return None
        out = []
        for t, b in ms:
            if t == "D":
                out.append(datarow(b, enc))
            if t == "E":
                return "E" + fields(b).get("C", "?")
        return out

    def val(self, sql, timeout=STEP, enc="utf-8"):
        r = self.rows(sql, timeout, enc)
        if isinstance(r, list):
            return r[0][0] if r and r[0] else None
        return r if r is not None else "<no reply>"

    def close(self):
        try:
            self.s.sendall(TERMINATE)
        except OSError:
            pass
        self.s.close()

    def abort(self):
        """Closes at once (RST), without Terminate."""
        try:
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.s.close()


class Target:
    def __init__(self, a):
        self.a = a

    def dm(self, user, db="a1", app=None, extra=()):
        return Conn(self.a.dm_port, user, db, app, self.a.host, extra)

    def pg(self, app=None, user=PG_USER, extra=()):
        c = Conn(self.a.pg_port, user, PG_DB, app, self.a.host, extra)
        DIRECT_PIDS.add(c.key[0])
        return c

    def admin(self):
        return Conn(self.a.dm_port, self.a.admin_user, "dormouse", None, self.a.host)


def cancel_request(a, key, port=None):
    """Sends a CancelRequest; returns what came back before the close ('' if nothing)."""
    s = socket.create_connection((a.host, port or a.dm_port), timeout=5)
    s.sendall(struct.pack("!iiii", 16, CANCEL_CODE, key[0], key[1]))
    got = b""
    try:
        while True:
            c = s.recv(100)
            if not c:
                break
            got += c
    except (socket.timeout, OSError):
        got += b"<not closed within 5 s>"
    s.close()
    return got


def compare(T, name, steps, user, db="a1"):
    """Runs steps [(bytes, number of ReadyForQuery)] on a fresh connection to
    PostgreSQL and to Dormouse; the replies must be the same."""
    res = []
    for side in ("pg", "dm"):
        c = T.pg() if side == "pg" else T.dm(user, db)
        res.append(" | ".join(c.x(data, nz) for data, nz in steps))
        c.abort() if "<no reply" in res[-1] else c.close()
    return check(res[0] == res[1], name, "PostgreSQL: %s   Dormouse: %s" % (res[0], res[1]))


def poll(fn, timeout, step=0.05):
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


def works(c, tag, timeout=STEP):
    """The connection answers a query: returns (ok, detail)."""
    got = c.x(Query("select '%s'" % tag), 1, timeout)
    return got == "T D['%s'] C(SELECT 1) ZI" % tag, got


# ---------------------------------------------------------------- malformed


def sc_malformed(T, a):
    u = "mal"
    P_NO_QUERY_NUL = msg(b"P", b"m1\0select 1")
    P_NO_NAME_NUL = msg(b"P", b"m1")
    P_TOO_MANY_PARAMS = msg(b"P", cs("m2") + cs("select $1") + struct.pack("!h", 5) + struct.pack("!i", 23))
    cases = [
        ("Parse without the NUL after the query", P_NO_QUERY_NUL + SYNC, 1),
        ("Parse without the NUL after the name", P_NO_NAME_NUL + SYNC, 1),
        ("Parse with a parameter count larger than the message", P_TOO_MANY_PARAMS + SYNC, 1),
        ("Parse with a negative parameter count",
         msg(b"P", cs("m3") + cs("select 1") + struct.pack("!h", -1)) + SYNC, 1),
        ("Bind without its terminators", msg(b"B", b"\0m1") + SYNC, 1),
        ("Bind of an unnamed statement never parsed", Bind("") + Execute() + SYNC, 1),
        ("Describe of kind 'X'", Describe(b"X", "nope") + SYNC, 1),
        ("Describe of a statement name without its NUL", msg(b"D", b"Snope") + SYNC, 1),
        ("Describe of an unknown statement", Describe(b"S", "never_prepared") + SYNC, 1),
        ("Close of kind 'X'", Close(b"X", "nope") + SYNC, 1),
        ("Close of a statement name without its NUL", msg(b"C", b"Snope") + SYNC, 1),
        ("Close of a name never prepared", Close(b"S", "never_prepared") + SYNC, 1),
        ("Execute before Bind", Execute() + SYNC, 1),
        ("Execute of an unknown portal after an error", Parse("", "selec") + Bind("") + Execute("p9") + SYNC, 1),
        ("a storm of 500 Syncs", SYNC * 500, 500),
        ("a storm of 300 Syncs after a Parse", Parse("", "select 1") + SYNC * 300, 300),
        ("BEGIN, a storm of 300 Syncs, COMMIT", Query("begin") + SYNC * 300 + Query("commit"), 302),
        ("Flush, Flush, Sync", FLUSH + FLUSH + SYNC, 1),
        ("Parse/Describe/Flush of a statement, then Sync",
         Parse("", "select 1 as a") + Describe(b"S", "") + FLUSH + SYNC, 1),
    ]
    for what, data, nz in cases:
        compare(T, "malformed: %s (+Sync): the same answer as PostgreSQL" % what,
                [(data, nz), (Query("select 'after'"), 1)], u)

    # A named Parse that PostgreSQL refuses leaves no statement behind: the
    # name is free for the next Parse, and a Bind of it is 26000.
    compare(T, "malformed: a named Parse with a syntax error, then Bind of the name (26000), then Parse of the name again "
            "(ok) and Bind (its row)",
            [(Parse("s1", "selec 1") + SYNC, 1), (BE("s1") + SYNC, 1), (Parse("s1", "select 11") + SYNC, 1),
             (BE("s1") + SYNC, 1)], u)
    compare(T, "malformed: a named Parse with a parameter count larger than the message, then Parse of the name again "
            "(ok) and Bind", [(P_TOO_MANY_PARAMS + SYNC, 1), (Parse("m2", "select 8") + SYNC, 1),
                              (BE("m2") + SYNC, 1)], u)

    # Stray COPY messages outside COPY: PostgreSQL ignores them (no reply) ...
    strays = ((b"d", b"junk\n", "CopyData"), (b"c", b"", "CopyDone"), (b"f", b"oops\0", "CopyFail"))
    for t, body, what in strays:
        compare(T, "malformed: a %s outside COPY is ignored, as by PostgreSQL" % what,
                [(msg(t, body) + Query("select 'next'"), 1)], u)
    # ... and must not keep the client's server: another client of its pool
    # gets it (one pool per message type, all at once to bound the wait).
    pairs = [(T.dm("stray" + w), T.dm("stray" + w)) for _, _, w in strays]
    for (c1, _), (t, body, _) in zip(pairs, strays):
        c1.send(msg(t, body))
    time.sleep(0.2)
    for _, c2 in pairs:
        c2.send(Query("select 'other'"))
    for (c1, c2), (_, _, what) in zip(pairs, strays):
        try:
            got = summary(c2.until_z(1, STEP))
        except (NoReply, Closed, OSError):
            got = summary(c2.got) + " <no reply>"
        check(got == "T D['other'] C(SELECT 1) ZI", "malformed: after a client sent a lone %s outside COPY, another "
              "client of its pool (pool_size=1) gets the server" % what, "the other client got: %s" % got)
        c1.abort()
        c2.abort()

    c = T.dm(u)
    ok, got = works(c, "still")
    check(ok, "malformed: a client of the pool still works after all that", got)
    c.close()


# ---------------------------------------------------------------- pipeline


def sc_pipeline(T, a):
    # The brief's pipeline: Parse(ok) Bind(bad parameter count) Execute
    # Parse(named) Sync: the named Parse was skipped, so the name is unknown.
    bad = Parse("", "select $1::int") + Bind("", ()) + Execute()
    compare(T, "pipeline: Parse Bind(wrong parameter count) Execute Parse(named) Sync, then Bind of the name is "
            "26000, then Parse of the name works",
            [(bad + Parse("s2", "select 2") + SYNC, 1), (BE("s2") + SYNC, 1), (Parse("s2", "select 22") + SYNC, 1),
             (BE("s2") + SYNC, 1)], "pipe1")
    compare(T, "pipeline: the same with the use of the name in the same write (the error names the client's "
            "statement)", [(bad + Parse("s2b", "select 2") + SYNC + BE("s2b") + SYNC, 2)], "pipe2")
    compare(T, "pipeline: a named Parse skipped after an error, then Parse of the same name with another text in "
            "the same write",
            [(bad + Parse("s2c", "select 'X'") + SYNC + Parse("s2c", "select 'Y'") + SYNC + BE("s2c") + SYNC, 3),
             (BE("s2c") + SYNC, 1)], "pipe3")
    compare(T, "pipeline: a Close skipped after an error leaves the statement in place",
            [(Parse("s3", "select 3") + SYNC, 1),
             (Parse("", "select 1/0") + Bind("") + Execute() + Close(b"S", "s3") + SYNC, 1), (BE("s3") + SYNC, 1)],
            "pipe4")
    compare(T, "pipeline: DEALLOCATE of a protocol-level statement inside a multi-statement Query",
            [(Parse("s5", "select 5") + SYNC, 1), (Query("deallocate s5; select 'after'"), 1), (BE("s5") + SYNC, 1)],
            "pipe5")
    compare(T, "pipeline: DISCARD ALL refused in a transaction block (25001) leaves the statements in place",
            [(Parse("k2", "select 'k2'") + SYNC, 1), (Query("begin"), 1), (Query("discard all"), 1),
             (Query("rollback"), 1), (BE("k2") + SYNC, 1)], "pipe6")
    compare(T, "pipeline: DEALLOCATE in an aborted transaction (25P02) leaves the statement in place",
            [(Parse("k3", "select 'k3'") + SYNC, 1), (Query("begin"), 1), (Query("select 1/0"), 1),
             (Query("deallocate k3"), 1), (Query("rollback"), 1), (BE("k3") + SYNC, 1)], "pipe7")
    compare(T, "pipeline: a Parse of DEALLOCATE ALL that is never executed deallocates nothing",
            [(Parse("k1", "select 'k1'") + SYNC, 1), (Parse("", "DEALLOCATE ALL") + SYNC, 1), (BE("k1") + SYNC, 1)],
            "pipe8")
    # ... and the statement stays usable for another client with the same text.
    c1, c2 = T.dm("pipe9"), T.dm("pipe9")
    r = [c2.x(Parse("mine", "select 'shared text'") + SYNC), c1.x(Parse("", "DEALLOCATE ALL") + SYNC),
         c2.x(BE("mine") + SYNC)]
    check(r[2] == "2 D['shared text'] C(SELECT 1) ZI",
          "pipeline: after another client's unexecuted Parse of DEALLOCATE ALL, a client's statement still runs "
          "on their shared server", " | ".join(r))
    c1.close()
    c2.close()

    # The unnamed statement lives until the client's next unnamed Parse, across
    # Syncs (pgx's describe-then-execute mode relies on that): another
    # client's unnamed Parse in between must not replace it.
    x, y = T.dm("pipe13"), T.dm("pipe13")
    r = [x.x(Parse("", "select 'A secret'") + Describe(b"S", "") + SYNC), y.x(Parse("", "select 'B secret'") + SYNC),
         x.x(Bind("") + Execute() + SYNC)]
    p = T.pg()
    want = [p.x(Parse("", "select 'A secret'") + Describe(b"S", "") + SYNC), "1 ZI", p.x(Bind("") + Execute() + SYNC)]
    p.close()
    check(r == want, "pipeline: a client's unnamed statement, executed after a Sync, runs its own text even when "
          "another client parsed an unnamed statement on the server in between",
          "PostgreSQL %r, Dormouse %r" % (want, r))
    x.close()
    y.close()

    # The per-server cache (max_prepared_statements=50) closes its least
    # recently used statement when a 51st comes; that Close is skipped when
    # an error came first in the same batch.
    fill = b"".join(Parse("f%d" % i, "select 'ev%d'" % i) + SYNC for i in range(50))
    compare(T, "pipeline: an eviction skipped by an error earlier in the batch (max_prepared_statements=50), then "
            "the evicted statement is used",
            [(fill, 50), (Parse("", "select 1/0") + Bind("") + Execute() + Parse("n1", "select 'new'") + SYNC, 1),
             (BE("f0") + SYNC, 1), (BE("f1") + SYNC, 1)], "pipe10")

    # COPY FROM STDIN through the extended protocol, as libpq's PQexecParams
    # does it: PostgreSQL ignores the Sync that came before CopyInResponse,
    # and answers only the one after CopyDone.
    p = T.pg()
    p.x(Query("drop table if exists cp_t; create table cp_t (x int)"))
    p.close()

    def ext_copy(c):
        pre = c.x(Parse("k", "select 'k'") + SYNC)
        c.send(Parse("", "copy cp_t from stdin") + Bind("") + Execute() + SYNC)
        try:
            first = c.read(STEP)[0]
        except (NoReply, Closed, OSError) as e:
            return [pre, type(e).__name__]
        return [pre, first, c.x(msg(b"d", b"1\n2\n") + msg(b"c") + SYNC), c.x(Query("select 'after'")),
                # then what relies on the replies being matched to requests: an
                # error batch, 50 more statements (k is evicted), k again
                c.x(Parse("", "select 1/0") + Bind("") + Execute() + Parse("n1", "select 'n1'") + SYNC),
                c.x(b"".join(Parse("f%d" % i, "select 'f%d'" % i) for i in range(50)) + SYNC),
                c.x(BE("k") + SYNC), c.x(Parse("z", "select 'z'") + BE("z") + SYNC)]

    p = T.pg()
    want = ext_copy(p)
    p.close()
    c1, c2 = T.dm("pipe12"), T.dm("pipe12")
    got = ext_copy(c1)
    check(got == want, "pipeline: COPY FROM STDIN through the extended protocol (Parse/Bind/Execute/Sync, CopyData, "
          "CopyDone, Sync), then an error batch, 50 statements, a re-prepared one: the same answers as PostgreSQL",
          "PostgreSQL %r, Dormouse %r" % (want, got))
    ok, got = works(c2, "other")
    check(ok, "pipeline: after an extended-protocol COPY FROM STDIN, another client of the pool (pool_size=1) gets "
          "the server", got)
    c1.close()
    c2.close()

    # DEALLOCATE of a statement the server has lost (another client's
    # DISCARD ALL) whose text no longer parses (its table was dropped).
    p = T.pg()
    p.x(Query("drop table if exists dl_t; create table dl_t (x int)"))
    pa = p.x(Parse("s1", "select x from dl_t") + SYNC)
    p.x(Query("drop table dl_t"))
    want = p.x(Query("deallocate s1"))
    p.close()
    c1, c2 = T.dm("pipe11"), T.dm("pipe11")
    c1.x(Query("drop table if exists dl_t; create table dl_t (x int)"))
    r = [c1.x(Parse("s1", "select x from dl_t") + SYNC), c2.x(Query("discard all")), c2.x(Query("drop table dl_t"))]
    got = c1.x(Query("deallocate s1"))
    check(pa == r[0] and got == want, "pipeline: DEALLOCATE of a statement whose table was dropped, on a server that "
          "lost it (another client's DISCARD ALL): answered as PostgreSQL does",
          "PostgreSQL: %s   Dormouse: %s (setup: %s)" % (want, got, " | ".join(r)))
    c1.abort()
    ok, got = works(c2, "after")
    check(ok, "pipeline: after that, the other client of the pool works", got)
    c2.close()


# ---------------------------------------------------------------- lru


def sc_lru(T, a):
    """2,000 distinct named statements from two clients sharing one server
    (max_prepared_statements=50): every Bind runs its own client's text."""
    ca, cb = T.dm("lru"), T.dm("lru")
    rnd = random.Random(7)
    bad = []

    def batch(c, tag, first, n):
        data, want = b"", []
        for i in range(first, first + n):
            data += Parse("s%d" % i, "select '%s%d'" % (tag, i)) + BE("s%d" % i) + SYNC
            want.append("1 2 D['%s%d'] C(SELECT 1) ZI" % (tag, i))
            j = rnd.randrange(0, i + 1)
            data += BE("s%d" % j) + SYNC
            want.append("2 D['%s%d'] C(SELECT 1) ZI" % (tag, j))
        return data, want

    def collect(c, tag, want):
        got = []
        try:
            c.until_z(len(want), 20)
        except (NoReply, Closed, OSError) as e:
            bad.append("%s: %s after %d replies" % (tag, type(e).__name__, len(c.got)))
        cur = []
        for t, b in c.got:
            cur.append((t, b))
            if t == "Z":
                got.append(summary(cur))
                cur = []
        for w, g in zip(want, got):
            if w != g:
                bad.append("%s: expected %s, got %s" % (tag, w, g))
        if len(got) < len(want):
            bad.append("%s: %d of %d replies" % (tag, len(got), len(want)))

    # Alternating batches, then both clients' batches sent at once.
    for k in range(10):
        for c, tag in ((ca, "a"), (cb, "b")):
            data, want = batch(c, tag, k * 50, 50)
            c.send(data)
            collect(c, tag, want)
    for k in range(10, 20):
        da, wa = batch(ca, "a", k * 50, 50)
        db, wb = batch(cb, "b", k * 50, 50)
        ca.send(da)
        cb.send(db)
        collect(ca, "a", wa)
        collect(cb, "b", wb)
    check(not bad, "lru: 2 clients x 1,000 named statements (2,000 texts) on one server with "
          "max_prepared_statements=50, each Bind (new or random old) runs its own client's text", "; ".join(bad[:4]))
    n = ca.val("select count(*) from pg_prepared_statements")
    check(n is not None and n.isdigit() and 0 < int(n) <= 50,
          "lru: the server holds at most max_prepared_statements=50 statements", "pg_prepared_statements: %r" % n)

    # The server-side names are Dormouse's: a client that never prepared one
    # cannot describe or close it (PostgreSQL: 26000 / CloseComplete of nothing).
    rows = ca.rows("select name, statement from pg_prepared_statements order by name")
    owned = []
    for r in rows if isinstance(rows, list) else []:
        m = re.match(r"select '([ab])(\d+)'$", r[1] or "")
        if m:
            owned.append((r[0], m.group(1), int(m.group(2))))
    value("server_statements", " ".join("%s=%s%d" % o for o in owned[:4]))
    check(bool(owned), "lru: the server has statements of the two clients", repr(rows)[:300])
    if owned:
        probe, tag, i = owned[0]
        owner = ca if tag == "a" else cb
        other = T.dm("lru")
        got = other.x(Describe(b"S", probe) + SYNC)
        check(got == 'E(26000 prepared statement "%s" does not exist) ZI' % probe,
              "lru: a client cannot Describe the server-side name of another client's statement (26000, as "
              "PostgreSQL answers for a name the session never prepared)", "Describe %s: %s" % (probe, got))
        got = other.x(BE(probe) + SYNC)
        check(got.startswith("E(26000"), "lru: a client cannot Bind the server-side name of another client's "
              "statement (26000)", "Bind %s: %s" % (probe, got))
        other.x(Close(b"S", probe) + SYNC)
        got = owner.x(BE("s%d" % i) + SYNC)
        check(got == "2 D['%s%d'] C(SELECT 1) ZI" % (tag, i), "lru: another client's Close of the server-side name "
              "(%s) does not break the statement of the client that prepared it" % probe, got)
        other.close()
    ca.close()
    cb.close()


# ---------------------------------------------------------------- disconnect


def idle_in_tx(T):
    p = T.pg(user="postgres")
    r = p.rows("select count(*) from pg_stat_activity where usename in ('ab1', 'ab2') and "
               "(state like 'idle in transaction%' or (state = 'active' and query ilike 'copy %'))")
    det = p.rows("select usename, state, left(query, 60) from pg_stat_activity where usename in ('ab1', 'ab2')")
    p.close()
    return (r[0][0] if isinstance(r, list) and r else "?"), det


def no_idle_in_tx(T, name):
    n = poll(lambda: idle_in_tx(T)[0] == "0", 5)
    check(n, name, "pg_stat_activity of ab1/ab2: %r" % (idle_in_tx(T)[1],))


def server_pids(T):
    """(PostgreSQL's backends of the pools' users, not ours; SHOW SERVERS' remote_pids of a1/a2)."""
    p = T.pg(user="postgres")
    r = p.rows("select pid from pg_stat_activity where usename in ('ab1', 'ab2') and backend_type = 'client backend'")
    p.close()
    pg = {int(x[0]) for x in r} - DIRECT_PIDS if isinstance(r, list) else None
    adm = T.admin()
    rows = adm.rows("SHOW SERVERS")
    adm.close()
    # SHOW SERVERS: type|user|database|replication|state|...|remote_pid (17th)|...
    dm = {int(x[16]) for x in rows if x[2] in ("a1", "a2")} if isinstance(rows, list) else None
    return pg, dm


def servers_accounted(T, name):
    """Every upstream connection PostgreSQL has for the pools is one Dormouse lists, and the reverse."""
    last = [None]

    def same():
        last[0] = server_pids(T)
        return last[0][0] is not None and last[0][0] == last[0][1]

    ok = poll(same, 5, 0.2)
    pg, dm = last[0] if last[0] else (None, None)
    value("upstream_connections", "PostgreSQL %s, SHOW SERVERS %s" % (len(pg) if pg is not None else "?",
                                                                      len(dm) if dm is not None else "?"))
    check(ok, name, "PostgreSQL backends not in SHOW SERVERS: %r; SHOW SERVERS pids not in PostgreSQL: %r" %
          (sorted(pg - dm) if pg is not None and dm is not None else pg,
           sorted(dm - pg) if pg is not None and dm is not None else dm))


def sc_disconnect(T, a):
    setup = T.dm("dcsetup")
    setup.x(Query("drop table if exists dc_t; create table dc_t (x int)"))
    setup.close()

    def after(what, user):
        c = T.dm(user)
        ok, got = works(c, "next")
        check(ok, "disconnect %s: the next client of the pool (pool_size=1) works" % what, got)
        c.close()

    # Right after a named Parse (no Sync), with and without Flush.
    c = T.dm("dc1")
    c.send(Parse("gone", "select 'gone'"))
    c.abort()
    after("right after sending a named Parse", "dc1")
    c = T.dm("dc1")
    c.send(Parse("gone", "select 'gone'") + FLUSH)
    try:
        t = c.read(STEP)[0]
    except (NoReply, Closed):
        t = None
    check(t == "1", "disconnect: Parse+Flush of a named statement is answered with ParseComplete", "got %r" % t)
    c.close()
    after("after Parse+Flush (no Sync) and its ParseComplete", "dc1")

    # Mid-transaction, mid-pipeline, with Terminate or a reset.
    for how in ("abort", "close"):
        c = T.dm("dc2")
        c.x(Query("begin"))
        c.x(Query("insert into dc_t values (1)"))
        getattr(c, how)()
        after("mid-transaction (%s)" % ("reset" if how == "abort" else "Terminate"), "dc2")
    c = T.dm("dc2")
    c.send(Query("begin") + Query("insert into dc_t values (2)") + TERMINATE)
    time.sleep(0.2)
    c.abort()
    after("with Terminate pipelined after BEGIN and INSERT", "dc2")
    c = T.dm("dc2")
    c.send(Query("begin") + Parse("", "insert into dc_t values (3)") + Bind("") + Execute() + FLUSH)
    time.sleep(0.2)
    c.abort()
    after("mid extended-protocol batch inside a transaction (Flush, no Sync)", "dc2")
    c = T.dm("dc2")
    n = c.val("select count(*) from dc_t")
    check(n == "0", "disconnect: the transactions of the disconnected clients were rolled back", "rows: %r" % n)
    c.close()
    no_idle_in_tx(T, "disconnect mid-transaction: PostgreSQL has no session left idle in transaction")

    # While waiting in the queue.
    h = T.dm("dc3")
    h.x(Query("begin"))
    h.x(Query("select 1"))
    w = T.dm("dc3")
    w.send(Query("select 'queued'"))
    adm = None
    try:
        adm = T.admin()
    except Exception as e:  # noqa: BLE001
        value("admin_error", e)

    def waiting():
        if adm is None:
            return None
        rows = adm.rows("SHOW POOLS")
        return rows if isinstance(rows, list) else None

    def cl_waiting():
        # SHOW POOLS: database|user|cl_active|cl_waiting|...
        rows = waiting()
        if rows is None:
            return None
        return sum(int(r[3]) for r in rows if r[0] == "a1" and r[1] == "dc3")

    queued = poll(lambda: (cl_waiting() or 0) > 0, 2)
    check(queued, "disconnect while queued: the console counts the queued client (cl_waiting > 0)",
          "cl_waiting %r" % cl_waiting())
    w.abort()
    gone = poll(lambda: cl_waiting() == 0, 3)
    check(gone, "disconnect while queued: the client leaves the queue (cl_waiting 0)", "cl_waiting %r" % cl_waiting())
    check(h.x(Query("commit")) == "C(COMMIT) ZI", "disconnect while queued: the holder's transaction is unaffected")
    h.close()
    after("while waiting in the queue", "dc3")

    # While a COPY FROM STDIN is half sent.
    for how in ("abort", "close"):
        c = T.dm("dc4")
        c.send(Query("copy dc_t from stdin"))
        try:
            t, _ = c.read(STEP)
        except (NoReply, Closed):
            t = None
        check(t == "G", "disconnect mid-COPY: COPY FROM STDIN starts (CopyInResponse)", "got %r" % t)
        c.send(msg(b"d", b"10\n11\n1"))
        time.sleep(0.1)
        getattr(c, how)()
        after("while COPY FROM STDIN is half sent (%s)" % ("reset" if how == "abort" else "Terminate"), "dc4")
    c = T.dm("dc4")
    n = c.val("select count(*) from dc_t")
    check(n == "0", "disconnect mid-COPY: nothing of the half-sent COPY was stored", "rows: %r" % n)
    c.close()
    no_idle_in_tx(T, "disconnect mid-COPY: PostgreSQL has no COPY or idle-in-transaction session left")
    if adm is not None:
        adm.close()
    servers_accounted(T, "disconnect: every upstream connection of the pools in PostgreSQL is one SHOW SERVERS "
                      "lists (none orphaned), and the reverse")


# ---------------------------------------------------------------- settings


def sc_settings(T, a):
    # Odd values, errors, RESET of nothing, many SETs: as PostgreSQL.
    longpath = ("q'" * 2 + "z" * 5000).replace("'", "''")
    odd = [
        "SET application_name = 'it''s \"quoted\"; -- not a comment'",
        "SET search_path = '%s', public" % longpath,
        "SET TimeZone = 'Asia/Kolkata'",
        "SET DateStyle = 'German, DMY'",
        "SET abuse.unicode = 'h\u00e9llo \u2603 \u65e5\u672c \U0001F600'",
        "SET nosuch_param = 1",
        "SET statement_timeout = 'not a number'",
        "RESET work_mem",
        "RESET abuse.never_set",
        "SET intervalstyle TO DEFAULT",
    ] + ["SET abuse.p%d = 'v%d'" % (i, i) for i in range(200)]
    shows = ["show application_name", "show search_path", "show timezone", "show datestyle", "show abuse.unicode",
             "show work_mem", "show statement_timeout", "show abuse.p0", "show abuse.p199",
             "select now()::date = current_date"]

    def run(c):
        res = [c.x(Query(s)) for s in odd]
        return res, [c.val(s) for s in shows]

    p = T.pg(app="sets")
    want_res, want_shows = run(p)
    p.close()
    pr = T.pg()
    fresh_defaults = [pr.val("show " + x) for x in ("application_name", "search_path", "timezone", "datestyle",
                                                     "statement_timeout")]
    pr.close()
    c1 = T.dm("sets", app="sets")
    got_res, got_shows = run(c1)
    check(got_res == want_res, "SET: odd values (quotes, unicode, 5,000 bytes), an unknown parameter (42704), a bad "
          "value, RESET of things never set, 200 SETs: the same answers as PostgreSQL",
          "first difference: %r" % ([(s, w, g) for s, w, g in zip(odd, want_res, got_res) if w != g][:2],))
    check(got_shows == want_shows, "SET: the client then sees the values PostgreSQL shows",
          "PostgreSQL %r / Dormouse %r" % (want_shows, got_shows))
    c2 = T.dm("sets", app="")
    b = [c2.val("show " + x) for x in ("application_name", "search_path", "timezone", "datestyle",
                                         "statement_timeout")]
    check(b == fresh_defaults, "SET: another client on the same server (pool_size=1) sees the defaults",
          "expected %r, got %r" % (fresh_defaults, b))
    leaked = [x for x in ("abuse.unicode", "abuse.p0", "abuse.p199") if c2.val("show " + x) not in ("", "E42704")]
    check(not leaked, "SET: the other client sees none of the first client's custom parameters", repr(leaked))
    check([c1.val(s) for s in shows] == want_shows, "SET: the first client, back on the server, sees its values again")
    c1.close()
    c2.close()

    p = T.pg()
    dflt = {k: p.val("show " + k) for k in ("statement_timeout", "lock_timeout", "work_mem", "maintenance_work_mem",
                                            "idle_in_transaction_session_timeout")}
    p.close()

    def pair(user, db="a1"):
        return T.dm(user, db), T.dm(user, db)

    # A line comment at the end of a SET.
    x, y = pair("setc")
    x.x(Query("SET application_name = 'cm' -- a trailing line comment"))
    x.x(Query("SET statement_timeout = '3333ms'"))
    y.val("show statement_timeout")
    got = (x.val("show application_name"), x.val("show statement_timeout"))
    check(got == ("cm", "3333ms"), "SET: a SET ending in a -- comment, then another SET; after another client used "
          "the server both are in effect", "application_name, statement_timeout: %r" % (got,))
    x.close()
    y.close()

    # Values in the client's own encoding.
    x, y = pair("setenc")
    x.x(Query("SET client_encoding = 'LATIN1'"))
    x.x(msg(b"Q", b"SET aaa.note = 'caf\xe9'\0"))
    y.val("show client_encoding")
    got = (x.val("show client_encoding", enc="latin-1"), x.val("show aaa.note", enc="latin-1"))
    check(got == ("LATIN1", "caf\u00e9"), "SET: client_encoding LATIN1 and a LATIN1 value; after another client used "
          "the server, both are in effect", "client_encoding, aaa.note: %r" % (got,))
    x.close()
    y.close()

    # Long custom parameter names that differ after 63 bytes.
    x, y = pair("setlong")
    n1, n2 = "abc." + "x" * 60 + "aaaa", "abc." + "x" * 60 + "bbbb"
    p = T.pg()
    p.x(Query("SET %s = 'one'" % n1))
    p.x(Query("SET %s = 'two'" % n2))
    want = (p.val("show " + n1), p.val("show " + n2))
    p.close()
    x.x(Query("SET %s = 'one'" % n1))
    x.x(Query("SET %s = 'two'" % n2))
    seen = y.val("show " + n1)
    got = (x.val("show " + n1), x.val("show " + n2))
    check(seen in ("", "E42704") and got == want, "SET: two custom parameters with 68-byte names: the other client "
          "does not see them, the client sees both", "other client: %r; client: %r (PostgreSQL %r)" % (seen, got, want))
    x.close()
    y.close()

    # A SET pipelined after an error (simple and extended protocol).
    x, y = pair("setpipe")
    x.x(Query("select 1/0") + Query("SET statement_timeout = '4321ms'"), 2)
    got = (x.val("show statement_timeout"), y.val("show statement_timeout"))
    check(got == ("4321ms", dflt["statement_timeout"]), "SET: pipelined after a failing Query, the SET is the "
          "client's only (the other client on the server sees the default)", "client, other client: %r" % (got,))
    x.close()
    y.close()
    x, y = pair("setpipe2")
    x.x(Parse("", "select 1/0") + Bind("") + Execute() + SYNC + Parse("", "SET lock_timeout = '1234ms'") + Bind("") +
        Execute() + SYNC, 2)
    got = (x.val("show lock_timeout"), y.val("show lock_timeout"))
    check(got == ("1234ms", dflt["lock_timeout"]),
          "SET: pipelined (extended protocol, as psycopg's pipeline mode) after a failing "
          "batch, the SET is the client's only", "client, other client: %r" % (got,))
    x.close()
    y.close()

    # A Parse of a SET that is never executed changes nothing.
    x, y = pair("setparse")
    x.x(Parse("", "SET idle_in_transaction_session_timeout = '9999ms'") + SYNC)
    got = [x.val("show idle_in_transaction_session_timeout")]
    y.val("select 1")
    got.append(x.val("show idle_in_transaction_session_timeout"))
    check(got == [dflt["idle_in_transaction_session_timeout"]] * 2,
          "SET: a Parse of a SET without Bind/Execute sets nothing (before and after another "
          "client used the server)", "the client sees %r" % (got,))
    x.close()
    y.close()

    # The 17th statement of a Query counts as much as the first.
    x, y = pair("setmulti")
    x.x(Query("select 1;" * 16 + "SET statement_timeout = '6666ms'"))
    got = (x.val("show statement_timeout"), y.val("show statement_timeout"))
    check(got == ("6666ms", dflt["statement_timeout"]), "SET: a SET as the 17th statement of one Query is the "
          "client's only (the other client on the server sees the default)", "client, other client: %r" % (got,))
    got = x.x(Query("select 1;" * 16 + "LISTEN abuse_chan"))
    check(got.endswith("E(0A000 LISTEN is not supported in transaction pooling mode: use a database with "
                       "pool_mode=session) ZI") or " E(0A000 " in got,
          "SET: LISTEN as the 17th statement of one Query is refused (0A000) like a LISTEN alone", got[-200:])
    x.close()
    y.close()

    # A SET run through a named statement (as drivers do once they prepare a
    # statement they run often), with a RESET in between.
    x, y = pair("setnamed")
    x.x(Parse("setit", "SET statement_timeout = '5555ms'") + BE("setit") + SYNC)
    x.x(Query("RESET statement_timeout"))
    x.x(BE("setit") + SYNC)
    got = (x.val("show statement_timeout"), y.val("show statement_timeout"))
    check(got == ("5555ms", dflt["statement_timeout"]), "SET: a SET executed again through its named statement after "
          "a RESET is the client's only (the other client on the server sees the default)",
          "client, other client: %r" % (got,))
    x.close()
    y.close()

    # Savepoints: a SET rolled back to a savepoint is gone; one before it stays.
    x, y = pair("setsp")
    for s in ("begin", "savepoint s", "SET work_mem = '7MB'", "rollback to savepoint s", "commit"):
        x.x(Query(s))
    y.val("select 1")
    got = x.val("show work_mem")
    check(got == dflt["work_mem"], "SET: a SET undone by ROLLBACK TO SAVEPOINT is not re-applied after another client "
          "used the server", "work_mem %r (PostgreSQL: %s)" % (got, dflt["work_mem"]))
    x.close()
    y.close()
    x, y = pair("setsp2")
    x.x(Query("begin; SET maintenance_work_mem = '77MB'; savepoint s; rollback to s; commit"))
    got = (x.val("show maintenance_work_mem"), y.val("show maintenance_work_mem"))
    check(got == ("77MB", dflt["maintenance_work_mem"]),
          "SET: a SET before a savepoint rolled back to, committed in one Query, stays the "
          "client's only", "client, other client: %r" % (got,))
    x.close()
    y.close()

    # Startup options (-c name=value): a valid list works as on PostgreSQL; one
    # PostgreSQL refuses at login must not leave the client with another
    # client's settings.
    opts = (("options", r"-c statement_timeout=5s --work-mem=8MB -csearch_path=x,y"),)
    keys = ("statement_timeout", "work_mem", "search_path")
    p = T.pg(extra=opts)
    want = [p.val("show " + k) for k in keys]
    p.close()
    x = T.dm("setopt", extra=opts)
    got = [x.val("show " + k) for k in keys]
    check(got == want, "SET: startup options -c/--name=value are in effect as on PostgreSQL",
          "PostgreSQL %r, Dormouse %r" % (want, got))
    for bad in (r"-c search_path=a\ b,public", "-c nosuch_param=1", "-c work_mem=lots"):
        try:
            p = T.pg(extra=(("options", bad),))
            direct = "login ok"
            p.close()
        except Exception as e:  # noqa: BLE001
            direct = "refused: %s" % e
        try:
            y = T.dm("setopt", extra=(("options", bad),))
            seen = [y.val("show " + k) for k in keys]
            y.close()
        except Exception as e:  # noqa: BLE001
            seen = "refused: %s" % e
        check(not isinstance(seen, list) or all(v not in ("5s", "8MB", "x,y") for v in seen),
              "SET: a client whose startup options PostgreSQL refuses (%s; PostgreSQL: %s) does not get the settings "
              "of the pool's previous client" % (bad, direct), "it sees %r" % (seen,))
    x.close()

    # SET SESSION CHARACTERISTICS: each one sets its own parameter, and the
    # last statement wins over default_transaction_* and the reverse.
    for k, stmts in enumerate((
            ("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
             "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE"),
            ("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", "SET default_transaction_read_only = off"),
            ("SET default_transaction_isolation = 'repeatable read'",
             "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL READ COMMITTED"))):
        res = []
        for side in ("pg", "dm"):
            x = T.pg() if side == "pg" else T.dm("setchar%d" % k)
            for st in stmts:
                x.x(Query(st))
            if side == "dm":
                y = T.dm("setchar%d" % k)
                y.val("select 1")
                y.close()
            res.append((x.val("show default_transaction_read_only"), x.val("show default_transaction_isolation")))
            x.close()
        check(res[0] == res[1], "SET: %s; %s: after another client used the server, the client's "
              "default_transaction_read_only and _isolation are PostgreSQL's" % stmts,
              "PostgreSQL %r, Dormouse %r" % tuple(res))

    # What the client is told (ParameterStatus) about client_encoding and
    # DateStyle when it resets parameters it gave in its startup packet:
    # drivers decode text by the client_encoding they were last told.
    startup = (("client_encoding", "LATIN1"), ("DateStyle", "German, DMY"))
    steps = ["RESET ALL", "SET client_encoding = 'UTF8'", "SET DateStyle = 'ISO, MDY'", "RESET client_encoding",
             "RESET DateStyle", "show client_encoding"]

    def told(c):
        out = []
        for sql in steps:
            c.send(Query(sql))
            try:
                ms = c.until_z(1, STEP)
            except (NoReply, Closed, OSError):
                out.append("%s: <no reply>" % sql)
                break
            ps = [b.split(b"\0")[:2] for t, b in ms if t == "S"]
            ps = ["%s=%s" % (k.decode(), v.decode()) for k, v in ps if k in (b"client_encoding", b"DateStyle")]
            out.append("%s: %s %s" % (sql, ps, summary(ms, "latin-1")))
        return out

    p = T.pg(extra=startup)
    want = told(p)
    p.close()
    x = T.dm("setps", extra=startup)
    got = told(x)
    x.close()
    check(got == want, "SET: a client with client_encoding and DateStyle in its startup packet is told "
          "(ParameterStatus) what PostgreSQL tells it through RESET ALL, SET and RESET",
          "first difference: %r" % ([(w, g) for w, g in zip(want, got) if w != g][:2],))

    # Many clients with many different SETs through one server: each sees its own.
    cs_ = [T.dm("setmany", "a2") for _ in range(5)]
    for i, c in enumerate(cs_):
        for k in range(20):
            c.x(Query("SET abuse.k%d = 'c%d-%d'" % (k, i, k)))
        c.x(Query("SET statement_timeout = '%dms'" % (1001 + i)))
    bad = []
    for rnd in range(3):
        for i, c in enumerate(cs_):
            got = c.rows("select current_setting('abuse.k0'), current_setting('abuse.k19'), "
                         "current_setting('statement_timeout')")
            if got != [["c%d-0" % i, "c%d-19" % i, "%dms" % (1001 + i)]]:
                bad.append("client %d round %d: %r" % (i, rnd, got))
    check(not bad, "SET: 5 clients with 21 SETs each, taking turns on 2 servers (a2), each sees only its own values",
          "; ".join(bad[:3]))
    for c in cs_:
        c.close()


# ---------------------------------------------------------------- cancel


def sc_cancel(T, a):
    def pgsleep(c, secs):
        c.send(Query("select pg_sleep(%s)" % secs))

    def ended(c, timeout):
        try:
            return summary(c.until_z(1, timeout))
        except (NoReply, Closed, OSError) as e:
            return summary(c.got) + " <%s>" % type(e).__name__

    p = T.pg()
    direct = cancel_request(a, (p.key[0], p.key[1] + 1), a.pg_port)
    p.close()
    x, y = T.dm("cx1"), T.dm("cx1")
    pgsleep(x, 1)
    time.sleep(0.2)
    r = [cancel_request(a, (x.key[0], x.key[1] ^ 0x5a5a)), cancel_request(a, (0x7fff0000, 1)),
         cancel_request(a, (x.key[0] + 1000, x.key[1])), cancel_request(a, y.key)]
    check(all(g == direct for g in r), "cancel: CancelRequests with a wrong key, an unknown pid, or an idle client's "
          "key are answered by a close, as PostgreSQL does", "PostgreSQL sent %r, Dormouse %r" % (direct, r))
    got = ended(x, 5)
    check(got == "T D[''] C(SELECT 1) ZI", "cancel: the running query of the client whose pid was used with a wrong "
          "key is not canceled", got)
    ok, got = works(y, "y")
    check(ok, "cancel: the idle client whose key was sent works", got)

    # Repeated cancels of one running query: one 57014, the connection goes on.
    pgsleep(x, 20)
    time.sleep(0.3)
    for _ in range(5):
        cancel_request(a, x.key)
    got = ended(x, 5)
    check(got.startswith("T E(57014 canceling statement due to user request) ZI") or
          got.startswith("E(57014 canceling statement due to user request) ZI"),
          "cancel: 5 CancelRequests for a running query: it ends with one 57014", got)
    time.sleep(0.5)  # late cancels (PostgreSQL's own race) must have landed
    ok, got = works(x, "again")
    check(ok, "cancel: after repeated cancels the client's connection works", got)

    # Repeated cancels of a client waiting in the queue.
    x.x(Query("begin"))
    x.x(Query("select 1"))
    y.send(Query("select 'queued'"))
    time.sleep(0.3)
    for _ in range(3):
        cancel_request(a, y.key)
    got = ended(y, 5)
    check(got == "E(57014 canceling statement due to user request) ZI", "cancel: 3 CancelRequests for a queued "
          "client: one 57014 and ReadyForQuery", got)
    check(x.x(Query("select 'holder'")) == "T D['holder'] C(SELECT 1) ZT",
          "cancel: the holder's transaction is not canceled by them")
    x.x(Query("commit"))
    ok, got = works(y, "after")
    check(ok, "cancel: the canceled queued client's connection works", got)
    x.close()
    y.close()

    # A client's cancel never reaches the query of another client that got
    # the server after it (pool_size=1): B never cancels, so B never sees 57014.
    x, y = T.dm("cx2"), T.dm("cx2")
    stop = threading.Event()
    ys = []

    def loop_y():
        while not stop.is_set():
            ys.append(y.x(Query("select pg_sleep(0.02)"), 1, 10))

    th = threading.Thread(target=loop_y, daemon=True)
    th.start()
    rnd = random.Random(3)
    xs = []
    t0 = time.monotonic()
    for _ in range(50):
        pgsleep(x, 0.02)
        time.sleep(rnd.uniform(0.0, 0.05))
        cancel_request(a, x.key)
        xs.append(ended(x, 10))
        if time.monotonic() - t0 > 6:
            break
    stop.set()
    th.join(12)
    hit = [r for r in ys if "57014" in r]
    value("cancel_race", "%d of the client's %d queries canceled; %d of the other client's %d queries canceled" %
          (sum("57014" in r for r in xs), len(xs), len(hit), len(ys)))
    check(not hit and ys and all(r.endswith("ZI") for r in ys),
          "cancel: a client's CancelRequests never cancel another client's query on the same server",
          "the other client, which sent no cancel, got %d x 57014 of %d queries: %s" % (len(hit), len(ys), hit[:1]))
    x.close()
    y.close()


# ---------------------------------------------------------------- final


def sc_final(T, a):
    no_idle_in_tx(T, "final: PostgreSQL has no session of the pools' users idle in transaction or in COPY")
    servers_accounted(T, "final: every upstream connection of the pools in PostgreSQL is one SHOW SERVERS lists, "
                      "and the reverse")
    for db in ("a1", "a2"):
        c = T.dm("final", db)
        ok, got = works(c, db)
        check(ok, "final: a fresh client of %s works" % db, got)
        c.close()


SCENARIOS = ["malformed", "pipeline", "lru", "disconnect", "settings", "cancel", "final"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("scenario", choices=SCENARIOS + ["all"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--dm-port", type=int, required=True)
    ap.add_argument("--pg-port", type=int, required=True)
    ap.add_argument("--admin-user", default="admin")
    a = ap.parse_args()
    T = Target(a)
    for name in SCENARIOS if a.scenario == "all" else [a.scenario]:
        t0 = time.monotonic()
        try:
            globals()["sc_" + name](T, a)
        except Exception as e:  # noqa: BLE001 - one FAIL line, then the next scenario
            check(False, "%s: scenario stopped by an unexpected error" % name, "%s: %s" % (type(e).__name__, e))
        value("seconds_" + name, "%.1f" % (time.monotonic() - t0))
    sys.stdout.flush()
    os._exit(1 if report.failures() else 0)


if __name__ == "__main__":
    main()
