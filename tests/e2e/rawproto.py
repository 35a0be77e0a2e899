#!/usr/bin/python3
"""rawproto.py: raw-socket PostgreSQL v3 protocol checks for the e2e tests.

Speaks the protocol byte by byte (stdlib only) to do what libpq never does:
malformed, truncated, oversized and abandoned messages.  Every scenario is one
subcommand; it prints what it saw and exits 0 when the server behaved, 1 when
it did not, 2 on a usage error.  Servers are judged on outcomes (the bytes
they send, whether they close), never on how fast: every read is bounded by a
generous timeout only so that a hung server fails instead of stalling.

    rawproto.py SCENARIO --host H --port P [--user U --password PW --db D]
                [--max-packet N] [--target dormouse|postgres]
    rawproto.py list                 the scenario names
"""

import argparse
import base64
import hashlib
import hmac
import os
import socket
import struct
import sys
import time

SSL_REQUEST = 80877103
GSSENC_REQUEST = 80877104
CANCEL_REQUEST = 80877102
PROTOCOL_3_0 = 0x00030000
TIMEOUT = 15.0  # seconds; a bound against hangs, not a performance target
SLOW_SQL = ("with recursive c(x) as (select 1 union all select x+1 from c "
            "where x < 3000000) select count(*) from c")


class Fail(Exception):
    pass


class Closed(Exception):
    """The server closed the connection (EOF or reset)."""


def check(cond, what):
    if not cond:
        raise Fail(what)


def cstr(s):
    return s.encode() + b"\0"


def msg(kind, body=b""):
    return kind + struct.pack("!I", len(body) + 4) + body


def startup_packet(params, version=PROTOCOL_3_0):
    body = struct.pack("!I", version)
    for k, v in params.items():
        body += cstr(k) + cstr(v)
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def parse_fields(body):
    """ErrorResponse / NoticeResponse fields as a dict of code -> value."""
    fields = {}
    i = 0
    while i < len(body) and body[i] != 0:
        code = chr(body[i])
        end = body.index(b"\0", i + 1)
        fields[code] = body[i + 1:end].decode("utf-8", "replace")
        i = end + 1
    return fields


def describe_error(body):
    f = parse_fields(body)
    return "%s %s %s" % (f.get("S", "?"), f.get("C", "?????"), f.get("M", ""))


class Conn:
    def __init__(self, args):
        self.args = args
        source = (args.source, 0) if getattr(args, "source", None) else None
        self.sock = socket.create_connection((args.host, args.port), timeout=TIMEOUT,
                                             source_address=source)
        self.sock.settimeout(TIMEOUT)
        self.buf = b""
        self.params = {}
        self.backend_key = None

    def send(self, data):
        self.sock.sendall(data)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self):
        """Close with RST rather than FIN: the rudest possible disconnect."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    def _fill(self, n):
        while len(self.buf) < n:
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                raise Fail("server sent nothing for %.0f s (hang)" % TIMEOUT)
            except ConnectionResetError:
                raise Closed()
            if not chunk:
                raise Closed()
            self.buf += chunk

    def read_exact(self, n):
        self._fill(n)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_msg(self):
        head = self.read_exact(5)
        kind = chr(head[0])
        (length,) = struct.unpack("!I", head[1:])
        check(length >= 4, "server sent an impossible message length %d" % length)
        return kind, self.read_exact(length - 4)

    def expect_eof(self, what):
        """The server must close now, sending nothing more."""
        try:
            kind, body = self.read_msg()
        except Closed:
            return
        raise Fail("%s: expected the server to close, got message %r %r" % (what, kind, body[:80]))

    def error_or_close(self, what):
        """Returns "closed" or "error <S> <C> <M>"; an error must be followed by a close."""
        try:
            kind, body = self.read_msg()
        except Closed:
            return "closed"
        check(kind == "E", "%s: expected ErrorResponse or close, got %r %r" % (what, kind, body[:80]))
        desc = describe_error(body)
        self.expect_eof(what + " (after " + desc + ")")
        return "error " + desc

    # -- startup and authentication --

    def startup(self, user=None, db=None, extra=None):
        params = {"user": user or self.args.user, "database": db or self.args.db}
        params.update(extra or {})
        self.send(startup_packet(params))

    def authenticate(self):
        """Answers authentication requests until AuthenticationOk."""
        while True:
            kind, body = self.read_msg()
            if kind == "E":
                raise Fail("authentication failed: " + describe_error(body))
            check(kind == "R", "expected an Authentication message, got %r" % kind)
            (code,) = struct.unpack("!I", body[:4])
            if code == 0:
                return
            if code == 3:
                self.send(msg(b"p", cstr(self.args.password)))
            elif code == 5:
                inner = hashlib.md5((self.args.password + self.args.user).encode()).hexdigest()
                outer = hashlib.md5(inner.encode() + body[4:8]).hexdigest()
                self.send(msg(b"p", cstr("md5" + outer)))
            elif code == 10:
                mechs = [m.decode() for m in body[4:].split(b"\0") if m]
                check("SCRAM-SHA-256" in mechs, "SASL mechanisms %r lack SCRAM-SHA-256" % mechs)
                self._scram()
            else:
                raise Fail("unsupported authentication request %d" % code)

    def _scram(self):
        nonce = base64.b64encode(os.urandom(18)).decode()
        first_bare = "n=,r=" + nonce
        first = ("n,," + first_bare).encode()
        self.send(msg(b"p", cstr("SCRAM-SHA-256") + struct.pack("!i", len(first)) + first))
        kind, body = self.read_msg()
        if kind == "E":
            raise Fail("authentication failed: " + describe_error(body))
        check(kind == "R" and struct.unpack("!I", body[:4])[0] == 11, "expected SASLContinue")
        server_first = body[4:].decode()
        attrs = dict(a.split("=", 1) for a in server_first.split(","))
        check(attrs["r"].startswith(nonce), "server nonce does not extend ours")
        salted = hashlib.pbkdf2_hmac("sha256", self.args.password.encode(),
                                     base64.b64decode(attrs["s"]), int(attrs["i"]))
        client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        final_bare = "c=biws,r=" + attrs["r"]
        auth_msg = ",".join([first_bare, server_first, final_bare]).encode()
        sig = hmac.new(stored_key, auth_msg, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, sig))
        self.send(msg(b"p", (final_bare + ",p=" + base64.b64encode(proof).decode()).encode()))
        kind, body = self.read_msg()
        if kind == "E":
            raise Fail("authentication failed: " + describe_error(body))
        check(kind == "R" and struct.unpack("!I", body[:4])[0] == 12, "expected SASLFinal")
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        want = base64.b64encode(hmac.new(server_key, auth_msg, hashlib.sha256).digest()).decode()
        check(body[4:].decode() == "v=" + want, "server signature does not verify")

    def read_until_ready(self):
        """Messages up to and including ReadyForQuery; returns (messages, status)."""
        msgs = []
        while True:
            kind, body = self.read_msg()
            msgs.append((kind, body))
            if kind == "S":
                name, value = body.split(b"\0")[:2]
                self.params[name.decode()] = value.decode()
            elif kind == "K":
                self.backend_key = struct.unpack("!II", body[:8])
            elif kind == "Z":
                return msgs, chr(body[0])

    def login(self):
        self.startup()
        self.authenticate()
        msgs, status = self.read_until_ready()
        errors = [describe_error(b) for k, b in msgs if k == "E"]
        check(not errors, "errors after authentication: %r" % errors)
        check(status == "I", "first ReadyForQuery status %r, expected 'I'" % status)
        return msgs

    def query(self, sql):
        """Simple query; returns (results, status).  Each result is a dict:
        {"cols": [(name, type_oid)], "rows": [[...]], "tag": str} or {"error": fields}
        or {"empty": True}."""
        self.send(msg(b"Q", cstr(sql)))
        results, cur = [], None
        while True:
            kind, body = self.read_msg()
            if kind == "T":
                (n,) = struct.unpack("!H", body[:2])
                cols, i = [], 2
                for _ in range(n):
                    end = body.index(b"\0", i)
                    name = body[i:end].decode()
                    _tab, _col, oid, _len, _mod, _fmt = struct.unpack("!IHIhih", body[end + 1:end + 19])
                    cols.append((name, oid))
                    i = end + 19
                cur = {"cols": cols, "rows": []}
            elif kind == "D":
                check(cur is not None, "DataRow without RowDescription")
                (n,) = struct.unpack("!H", body[:2])
                row, i = [], 2
                for _ in range(n):
                    (ln,) = struct.unpack("!i", body[i:i + 4])
                    i += 4
                    if ln < 0:
                        row.append(None)
                    else:
                        row.append(body[i:i + ln].decode())
                        i += ln
                cur["rows"].append(row)
            elif kind == "C":
                res = cur if cur is not None else {}
                res["tag"] = body.rstrip(b"\0").decode()
                results.append(res)
                cur = None
            elif kind == "I":
                results.append({"empty": True})
            elif kind == "E":
                results.append({"error": parse_fields(body)})
                cur = None
            elif kind == "Z":
                return results, chr(body[0])
            elif kind in "NS":
                pass
            else:
                raise Fail("unexpected message %r during a simple query" % kind)


def connect(args):
    return Conn(args)


def alive_query(args):
    """A fresh, well-behaved session still works."""
    c = connect(args)
    c.login()
    results, status = c.query("select 42 as answer")
    check(status == "I", "status %r after select" % status)
    check(len(results) == 1 and results[0].get("rows") == [["42"]],
          "select 42 returned %r" % results)
    c.send(msg(b"X"))
    c.expect_eof("after Terminate")
    c.close()


# ---- scenarios ----

SCENARIOS = {}


def scenario(fn):
    SCENARIOS[fn.__name__.replace("sc_", "").replace("_", "-")] = fn
    return fn


@scenario
def sc_ping(args):
    """SSLRequest answered with one byte (readiness probe)."""
    c = connect(args)
    c.send(struct.pack("!II", 8, SSL_REQUEST))
    b = c.read_exact(1)
    check(b in (b"N", b"S"), "SSLRequest answered %r" % b)
    c.close()
    return "answered %r" % b


@scenario
def sc_ssl_then_startup(args):
    """SSLRequest -> 'N', then a normal startup on the same socket works."""
    c = connect(args)
    c.send(struct.pack("!II", 8, SSL_REQUEST))
    b = c.read_exact(1)
    check(b == b"N", "SSLRequest answered %r, expected b'N' (no TLS)" % b)
    c.login()
    results, status = c.query("select 1")
    check(len(results) == 1 and results[0].get("rows") == [["1"]], "select 1 -> %r" % results)
    check(results[0]["tag"] == "SELECT 1", "tag %r" % results[0]["tag"])
    check(status == "I", "status %r" % status)
    c.send(msg(b"X"))
    c.expect_eof("after Terminate")
    return "N, then startup and select 1 worked"


@scenario
def sc_gssenc_then_startup(args):
    """GSSENCRequest -> 'N', then a normal startup works."""
    c = connect(args)
    c.send(struct.pack("!II", 8, GSSENC_REQUEST))
    b = c.read_exact(1)
    if b == b"G" and args.target == "postgres":
        return "G: this PostgreSQL was built with GSSAPI (Dormouse must answer N)"
    check(b == b"N", "GSSENCRequest answered %r, expected b'N'" % b)
    c.login()
    results, _ = c.query("select 1")
    check(results[0].get("rows") == [["1"]], "select 1 -> %r" % results)
    return "N, then startup worked"


@scenario
def sc_gssenc_then_ssl_then_startup(args):
    """libpq's order (gssencmode=prefer, sslmode=prefer): GSSENCRequest 'N',
    then SSLRequest 'N' on the same socket (PostgreSQL allows SSL after a
    rejected GSS request and vice versa), then a normal startup."""
    c = connect(args)
    c.send(struct.pack("!II", 8, GSSENC_REQUEST))
    b = c.read_exact(1)
    if b == b"G" and args.target == "postgres":
        return "G: this PostgreSQL was built with GSSAPI (Dormouse must answer N)"
    check(b == b"N", "GSSENCRequest answered %r, expected b'N'" % b)
    c.send(struct.pack("!II", 8, SSL_REQUEST))
    try:
        b = c.read_exact(1)
    except Closed:
        raise Fail("SSLRequest after a rejected GSSENCRequest: the server closed the connection")
    if b == b"E":
        c.buf = b"E" + c.buf
        kind, body = c.read_msg()
        raise Fail("SSLRequest after a rejected GSSENCRequest was refused: " + describe_error(body))
    check(b == b"N", "SSLRequest answered %r, expected b'N'" % b)
    c.login()
    return "N, N, then startup worked"


@scenario
def sc_ssl_then_gssenc_then_startup(args):
    """The other order: SSLRequest 'N', then GSSENCRequest 'N', then startup."""
    c = connect(args)
    c.send(struct.pack("!II", 8, SSL_REQUEST))
    b = c.read_exact(1)
    check(b == b"N", "SSLRequest answered %r, expected b'N'" % b)
    c.send(struct.pack("!II", 8, GSSENC_REQUEST))
    try:
        b = c.read_exact(1)
    except Closed:
        raise Fail("GSSENCRequest after a rejected SSLRequest: the server closed the connection")
    if b == b"G" and args.target == "postgres":
        return "G: this PostgreSQL was built with GSSAPI (Dormouse must answer N)"
    if b == b"E":
        c.buf = b"E" + c.buf
        kind, body = c.read_msg()
        raise Fail("GSSENCRequest after a rejected SSLRequest was refused: " + describe_error(body))
    check(b == b"N", "GSSENCRequest answered %r, expected b'N'" % b)
    c.login()
    return "N, N, then startup worked"


@scenario
def sc_ssl_twice(args):
    """A second SSLRequest after the first was answered: PostgreSQL refuses it
    (FATAL 08P01 "duplicate SSL negotiation request") or closes."""
    c = connect(args)
    c.send(struct.pack("!II", 8, SSL_REQUEST))
    check(c.read_exact(1) == b"N", "SSLRequest not answered 'N'")
    c.send(struct.pack("!II", 8, SSL_REQUEST))
    return c.error_or_close("second SSLRequest")


@scenario
def sc_startup_params(args):
    """The server reports what clients rely on: BackendKeyData and the
    ParameterStatus values libpq and drivers read."""
    c = connect(args)
    c.login()
    check(c.backend_key is not None, "no BackendKeyData")
    missing = [p for p in ("server_version", "client_encoding", "server_encoding",
                           "standard_conforming_strings", "DateStyle", "integer_datetimes")
               if p not in c.params]
    check(not missing, "ParameterStatus missing %r (got %r)" % (missing, c.params))
    check(c.params["client_encoding"] == "UTF8", "client_encoding %r" % c.params["client_encoding"])
    check(c.params["standard_conforming_strings"] == "on", "standard_conforming_strings %r"
          % c.params["standard_conforming_strings"])
    return "params: " + ", ".join("%s=%s" % kv for kv in sorted(c.params.items()))


@scenario
def sc_garbage_http(args):
    """An HTTP request instead of a startup packet: error or close, no hang."""
    c = connect(args)
    c.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
    return c.error_or_close("HTTP request as startup")


@scenario
def sc_garbage_zero_length(args):
    """A startup packet whose length word is 0."""
    c = connect(args)
    c.send(b"\0" * 8)
    return c.error_or_close("zero-length startup packet")


@scenario
def sc_garbage_random(args):
    """Random bytes with a plausible length word."""
    c = connect(args)
    body = bytes((i * 37 + 11) % 256 for i in range(60))
    c.send(struct.pack("!I", 64) + body)
    return c.error_or_close("random startup packet")


@scenario
def sc_bad_version_2(args):
    """Protocol 2.0: refused with an error (PostgreSQL: 0A000) or a close."""
    c = connect(args)
    c.send(startup_packet({"user": args.user, "database": args.db}, version=0x00020000))
    return c.error_or_close("protocol 2.0")


@scenario
def sc_bad_version_99(args):
    """Protocol 99.0."""
    c = connect(args)
    c.send(startup_packet({"user": args.user, "database": args.db}, version=0x00630000))
    return c.error_or_close("protocol 99.0")


@scenario
def sc_startup_too_long(args):
    """A startup packet declaring 20000 bytes (the limit is 10000)."""
    c = connect(args)
    c.send(struct.pack("!II", 20000, PROTOCOL_3_0) + b"user\0x\0")
    return c.error_or_close("oversized startup packet")


@scenario
def sc_startup_no_user(args):
    """No user in the startup packet: FATAL (PostgreSQL: 28000) and close."""
    c = connect(args)
    c.send(startup_packet({"database": args.db}))
    got = c.error_or_close("startup without user")
    check(got.startswith("error FATAL"), "expected a FATAL ErrorResponse, got " + got)
    return got


@scenario
def sc_startup_unterminated(args):
    """A startup packet whose parameter list lacks the final NUL."""
    c = connect(args)
    body = struct.pack("!I", PROTOCOL_3_0) + b"user\0" + args.user.encode() + b"\0database\0x"
    c.send(struct.pack("!I", len(body) + 4) + body)
    return c.error_or_close("unterminated startup packet")


@scenario
def sc_oversized_declared(args):
    """After login, a Query declaring 1 MiB (over max_packet_size) but sending
    only a little: ErrorResponse 08P01 at once (without waiting for the
    body), then close."""
    c = connect(args)
    c.login()
    c.send(b"Q" + struct.pack("!I", 1 << 20) + b"select 1")
    got = c.error_or_close("oversized Query (declared)")
    check(got.startswith("error FATAL 08P01") or got.startswith("error ERROR 08P01"),
          "expected ErrorResponse 08P01 then close, got " + got)
    return got


@scenario
def sc_oversized_sent(args):
    """A whole Query twice max_packet_size long: ErrorResponse 08P01, close."""
    c = connect(args)
    c.login()
    sql = "select '" + "x" * (2 * args.max_packet) + "'"
    try:
        c.send(msg(b"Q", cstr(sql)))
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may close before reading it all; the error is already queued
    got = c.error_or_close("oversized Query (sent)")
    check(" 08P01 " in got, "expected ErrorResponse 08P01 then close, got " + got)
    return got


@scenario
def sc_under_packet_limit(args):
    """A Query just under max_packet_size is served normally."""
    c = connect(args)
    c.login()
    payload = "y" * (args.max_packet - 64)
    results, status = c.query("select '%s' as v" % payload)
    check(len(results) == 1 and results[0].get("rows") == [[payload]],
          "query of %d bytes failed: %r" % (len(payload) + 20, str(results)[:200]))
    return "a %d-byte query worked" % (len(payload) + 20)


@scenario
def sc_unknown_type(args):
    """A message of unknown type 'y': ErrorResponse 08P01."""
    c = connect(args)
    c.login()
    c.send(msg(b"y", b"junk"))
    try:
        kind, body = c.read_msg()
    except Closed:
        raise Fail("server closed without an ErrorResponse")
    check(kind == "E", "expected ErrorResponse, got %r" % kind)
    f = parse_fields(body)
    check(f.get("C") == "08P01", "SQLSTATE %r, expected 08P01 (%s)" % (f.get("C"), describe_error(body)))
    return "error " + describe_error(body)


@scenario
def sc_query_no_nul(args):
    """A Query whose string lacks its NUL: ErrorResponse 08P01 (then the
    session may go on or be closed)."""
    c = connect(args)
    c.login()
    c.send(b"Q" + struct.pack("!I", 4 + 8) + b"select 1")
    try:
        kind, body = c.read_msg()
    except Closed:
        raise Fail("server closed without an ErrorResponse")
    check(kind == "E", "expected ErrorResponse, got %r" % kind)
    check(parse_fields(body).get("C") == "08P01", "expected 08P01, got " + describe_error(body))
    return "error " + describe_error(body)


@scenario
def sc_empty_query(args):
    """An empty Query string: EmptyQueryResponse, then ReadyForQuery 'I'."""
    c = connect(args)
    c.login()
    results, status = c.query("")
    check(results == [{"empty": True}], "expected only EmptyQueryResponse, got %r" % results)
    check(status == "I", "status %r" % status)
    results, status = c.query("  ;  ")
    check(results == [{"empty": True}], "';' alone: expected EmptyQueryResponse, got %r" % results)
    return "EmptyQueryResponse, Z 'I'"


@scenario
def sc_multi_results(args):
    """Two statements in one Query: two result sets, one ReadyForQuery."""
    c = connect(args)
    c.login()
    results, status = c.query("select 1 as a; select 'two' as b, null as c")
    check(len(results) == 2, "expected 2 results, got %r" % results)
    check([n for n, _ in results[0]["cols"]] == ["a"], "first columns %r" % results[0]["cols"])
    check(results[0]["rows"] == [["1"]] and results[0]["tag"] == "SELECT 1", "first %r" % results[0])
    check([n for n, _ in results[1]["cols"]] == ["b", "c"], "second columns %r" % results[1]["cols"])
    check(results[1]["rows"] == [["two", None]], "second rows %r" % results[1]["rows"])
    check(status == "I", "status %r" % status)
    return "T D C T D C Z"


@scenario
def sc_txn_status(args):
    """ReadyForQuery carries I / T / E through BEGIN, an error and ROLLBACK."""
    c = connect(args)
    c.login()
    seen = []
    for sql in ("begin", "select * from no_such_table_here", "select 1", "rollback", "select 1"):
        results, status = c.query(sql)
        seen.append(status)
    check(seen == ["T", "E", "E", "I", "I"], "statuses %r, expected T E E I I" % seen)
    return "statuses " + " ".join(seen)


@scenario
def sc_column_types(args):
    """RowDescription type OIDs follow the declared column types."""
    c = connect(args)
    c.login()
    table = "types_%d" % os.getpid()
    c.query("drop table if exists " + table)
    results, _ = c.query(
        "create table %s (i integer, b bigint, t text, v varchar(10), d double precision, "
        "f boolean, y bytea, n numeric, dt date, ts timestamp)" % table)
    check("error" not in results[0], "create table: %r" % results)
    results, _ = c.query(
        "insert into %s values (-7, 9000000000, 'text', 'vc', 2.5, true, '\\x0102', 1.5, "
        "'2024-02-29', '2024-02-29 13:45:00')" % table)
    check(results and results[0].get("tag") == "INSERT 0 1", "insert: %r" % results)
    results, _ = c.query("select * from " + table)
    check(len(results) == 1 and "cols" in results[0], "select: %r" % results)
    want = [("i", 23), ("b", 20), ("t", 25), ("v", 1043), ("d", 701), ("f", 16), ("y", 17),
            ("n", 1700), ("dt", 1082), ("ts", 1114)]
    check(results[0]["cols"] == want, "columns %r, expected %r" % (results[0]["cols"], want))
    want_row = ["-7", "9000000000", "text", "vc", "2.5", "t", "\\x0102", "1.5", "2024-02-29",
                "2024-02-29 13:45:00"]
    check(results[0]["rows"] == [want_row], "row %r, expected %r" % (results[0]["rows"], want_row))
    c.query("drop table " + table)
    return "OIDs " + " ".join(str(o) for _, o in want)


@scenario
def sc_truncated_startup(args):
    """Half a startup packet, then close."""
    c = connect(args)
    c.send(struct.pack("!I", 100) + b"\0\3\0\0user\0")
    c.close()
    return "sent 13 of 100 bytes, closed"


@scenario
def sc_truncated_query(args):
    """After login, half a Query message, then close."""
    c = connect(args)
    c.login()
    c.send(b"Q" + struct.pack("!I", 100) + b"sel")
    c.close()
    return "sent 8 of 101 bytes, closed"


@scenario
def sc_truncated_type_only(args):
    """After login, a lone message type byte, then an abortive close (RST)."""
    c = connect(args)
    c.login()
    c.send(b"Q")
    c.abort()
    return "sent 'Q', reset"


@scenario
def sc_disconnect_immediately(args):
    """Connect and close without a byte; then again with a reset."""
    connect(args).close()
    connect(args).abort()
    return "closed, reset"


@scenario
def sc_disconnect_mid_startup(args):
    """SSLRequest answered, then close before the startup packet."""
    c = connect(args)
    c.send(struct.pack("!II", 8, SSL_REQUEST))
    c.read_exact(1)
    c.close()
    return "closed after 'N'"


@scenario
def sc_disconnect_mid_auth(args):
    """Startup sent, authentication request received, then close; and again
    after half a password message."""
    c = connect(args)
    c.startup()
    kind, body = c.read_msg()
    check(kind == "R", "expected an Authentication request, got %r" % kind)
    code = struct.unpack("!I", body[:4])[0]
    c.close()
    if code == 0:
        return "server trusts this user: closed after AuthenticationOk"
    c = connect(args)
    c.startup()
    c.read_msg()
    c.send(b"p" + struct.pack("!I", 40) + b"md5")
    c.abort()
    return "closed after AuthenticationRequest %d; reset mid-password" % code


@scenario
def sc_disconnect_mid_query(args):
    """A slow query sent, then close without reading its result."""
    c = connect(args)
    c.login()
    c.send(msg(b"Q", cstr(SLOW_SQL)))
    time.sleep(0.2)
    c.close()
    return "closed while the query ran"


@scenario
def sc_disconnect_mid_result(args):
    """A large result requested, a little read, then a reset."""
    c = connect(args)
    c.login()
    c.send(msg(b"Q", cstr("with recursive g(x) as (select 1 union all select x+1 from g "
                          "where x < 300000) select x, 'padding padding padding' from g")))
    c.read_exact(4096)
    c.abort()
    return "reset after 4 KiB of a large result"


@scenario
def sc_cancel_bogus(args):
    """CancelRequest with a key nobody holds: the server just closes."""
    c = connect(args)
    c.send(struct.pack("!IIII", 16, CANCEL_REQUEST, 123456, 654321))
    c.expect_eof("CancelRequest")
    return "closed, nothing sent"


@scenario
def sc_terminate(args):
    """Terminate after login: the server closes."""
    c = connect(args)
    c.login()
    c.send(msg(b"X"))
    c.expect_eof("Terminate")
    return "closed"


@scenario
def sc_alive(args):
    """A well-behaved session works."""
    alive_query(args)
    return "select 42 worked"


@scenario
def sc_authreq(args):
    """Prints the first authentication request: "R <code> [mechanisms]"."""
    c = connect(args)
    c.startup()
    kind, body = c.read_msg()
    if kind == "E":
        return "E " + describe_error(body)
    check(kind == "R", "expected an Authentication request, got %r" % kind)
    code = struct.unpack("!I", body[:4])[0]
    extra = ""
    if code == 10:
        extra = " " + ",".join(m.decode() for m in body[4:].split(b"\0") if m)
    c.close()
    return "R %d%s" % (code, extra)


# ---- cut points (test_faults): a session brought to one precise point of
# the protocol and returned, for the caller to abandon there (Conn.close:
# FIN; Conn.abort: RST) and then check what the server let go of ----

def cut_mid_startup(args):
    """Half a startup packet sent (its length says more is coming)."""
    c = connect(args)
    packet = startup_packet({"user": args.user, "database": args.db})
    c.send(packet[:len(packet) // 2])
    return c


def cut_after_sasl(args):
    """Startup sent, AuthenticationSASL read: the client has said nothing yet."""
    c = connect(args)
    c.startup()
    kind, body = c.read_msg()
    check(kind == "R" and struct.unpack("!I", body[:4])[0] == 10,
          "expected AuthenticationSASL, got %r %r" % (kind, body[:40]))
    return c


def cut_after_server_first(args):
    """SASLInitialResponse sent, the server-first message (AuthenticationSASLContinue)
    read: the server waits for the client's proof."""
    c = cut_after_sasl(args)
    first = ("n,,n=,r=" + base64.b64encode(os.urandom(18)).decode()).encode()
    c.send(msg(b"p", cstr("SCRAM-SHA-256") + struct.pack("!i", len(first)) + first))
    kind, body = c.read_msg()
    check(kind == "R" and struct.unpack("!I", body[:4])[0] == 11,
          "expected AuthenticationSASLContinue, got %r %r" % (kind, body[:40]))
    check(b"r=" in body and b"s=" in body and b"i=" in body, "not a server-first message: %r" % body)
    return c


def cut_mid_query(args, sql):
    """Logged in, a Query sent, nothing of its result read."""
    c = connect(args)
    c.login()
    c.send(msg(b"Q", cstr(sql)))
    return c


def cut_mid_copy_in(args, sql, lines):
    """Logged in, COPY ... FROM STDIN started (CopyInResponse read), the given
    lines sent as CopyData, neither CopyDone nor CopyFail."""
    c = connect(args)
    c.login()
    c.send(msg(b"Q", cstr(sql)))
    kind, body = c.read_msg()
    if kind == "E":
        raise Fail("COPY FROM STDIN refused: " + describe_error(body))
    check(kind == "G", "expected CopyInResponse, got %r" % kind)
    for line in lines:
        c.send(msg(b"d", line.encode()))
    return c


def cut_mid_copy_out(args, sql, nbytes):
    """Logged in, COPY ... TO STDOUT started (CopyOutResponse read) and at
    least nbytes of its CopyData read; the client then stops reading."""
    c = connect(args)
    c.login()
    c.send(msg(b"Q", cstr(sql)))
    kind, body = c.read_msg()
    if kind == "E":
        raise Fail("COPY TO STDOUT refused: " + describe_error(body))
    check(kind == "H", "expected CopyOutResponse, got %r" % kind)
    got = 0
    while got < nbytes:
        kind, body = c.read_msg()
        check(kind == "d", "expected CopyData, got %r (after %d bytes)" % (kind, got))
        got += len(body)
    return c


def cut_in_transaction(args, stmts):
    """Logged in, BEGIN and then each statement run (each must succeed): the
    session is idle inside an open transaction."""
    c = connect(args)
    c.login()
    for sql in ["begin"] + list(stmts):
        results, status = c.query(sql)
        errors = [describe_error_fields(r["error"]) for r in results if "error" in r]
        check(not errors, "%s: %r" % (sql, errors))
        check(status == "T", "%s: status %r, expected 'T'" % (sql, status))
    return c


def describe_error_fields(f):
    return "%s %s %s" % (f.get("S", "?"), f.get("C", "?????"), f.get("M", ""))


def cut_mid_batch(args, sql, params, flush=True):
    """Logged in, an extended-protocol batch without Sync: Parse, Bind (text
    parameters), Execute; with flush, a Flush too and the replies read up to
    CommandComplete, so the statement has run inside the batch's implicit
    transaction, which only a Sync would end."""
    c = connect(args)
    c.login()
    bind = cstr("") + cstr("") + struct.pack("!HH", 0, len(params))
    for v in params:
        b = str(v).encode()
        bind += struct.pack("!i", len(b)) + b
    bind += struct.pack("!H", 0)
    c.send(msg(b"P", cstr("") + cstr(sql) + struct.pack("!H", 0)) + msg(b"B", bind) +
           msg(b"E", cstr("") + struct.pack("!I", 0)) + (msg(b"H") if flush else b""))
    if not flush:
        return c
    seen = []
    while True:
        kind, body = c.read_msg()
        seen.append(kind)
        if kind == "E":
            raise Fail("batch failed: " + describe_error(body))
        check(kind in "12NC", "unexpected %r in the batch's replies %r" % (kind, seen))
        if kind == "C":
            return c


def _abandon_each(args, cuts):
    """Each (what, cut) pair twice: abandoned with a FIN, then with a RST."""
    done = []
    for what, cut in cuts:
        cut(args).close()
        cut(args).abort()
        done.append(what)
    return "closed and reset: " + ", ".join(done)


@scenario
def sc_disconnect_mid_scram(args):
    """SCRAM login abandoned after AuthenticationSASL, and after the
    server-first message (each with a close, then a reset)."""
    return _abandon_each(args, [("after AuthenticationSASL", cut_after_sasl),
                                ("after server-first", cut_after_server_first)])


@scenario
def sc_disconnect_mid_work(args):
    """Sessions abandoned mid-query, mid-COPY FROM STDIN, mid-COPY TO STDOUT,
    inside a transaction and inside a batch without Sync (each with a close,
    then a reset), on a table of their own."""
    table = "abandoned_%d" % os.getpid()
    c = connect(args)
    c.login()
    for sql in ("drop table if exists " + table, "create table %s (id int, v text)" % table,
                "insert into %s select g, 'row ' || g from generate_series(1, 20000) g" % table):
        results, _ = c.query(sql)
        check(all("error" not in r for r in results), "%s: %r" % (sql, results))
    got = _abandon_each(args, [
        ("mid-query", lambda a: cut_mid_query(a, SLOW_SQL)),
        ("mid-COPY FROM STDIN", lambda a: cut_mid_copy_in(
            a, "copy %s from stdin" % table, ["%d\tcopied\n" % i for i in range(100)])),
        ("mid-COPY TO STDOUT", lambda a: cut_mid_copy_out(a, "copy %s to stdout" % table, 1000)),
        ("inside a transaction", lambda a: cut_in_transaction(
            a, ["insert into %s values (-1, 'in tx')" % table])),
        ("inside a batch", lambda a: cut_mid_batch(
            a, "insert into %s values ($1, 'batch')" % table, [-2])),
    ])
    results, _ = c.query("select count(*) from %s where id < 0 or v = 'copied'" % table)
    check(results[0].get("rows") == [["0"]], "abandoned rows are visible: %r" % results)
    c.query("drop table " + table)
    c.close()
    return got + "; none of their rows is visible"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenario")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=6432)
    p.add_argument("--user", default="proto")
    p.add_argument("--password", default="")
    p.add_argument("--source", default="", help="local address to connect from (e.g. 127.0.0.2)")
    p.add_argument("--db", default="proto")
    p.add_argument("--max-packet", type=int, default=1024)
    p.add_argument("--target", default="dormouse")
    args = p.parse_args()
    if args.scenario == "list":
        for name, fn in SCENARIOS.items():
            print("%-28s %s" % (name, fn.__doc__.split("\n")[0]))
        return 0
    fn = SCENARIOS.get(args.scenario)
    if fn is None:
        print("unknown scenario %r (try: list)" % args.scenario, file=sys.stderr)
        return 2
    try:
        print(fn(args))
        return 0
    except Fail as e:
        print("FAILED: %s" % e)
    except Closed:
        print("FAILED: the server closed the connection unexpectedly")
    except (OSError, ValueError, KeyError, IndexError, struct.error) as e:
        print("FAILED: %s: %s" % (type(e).__name__, e))
    return 1


if __name__ == "__main__":
    sys.exit(main())
