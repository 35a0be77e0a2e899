#!/usr/bin/env bash
# test_neon_ws: PostgreSQL over WebSockets (a WebSocket on sql_http_listen,
# path /v2, as Neon serves it) with the unmodified npm package
# @neondatabase/serverless: Pool and Client with neonConfig.wsProxy,
# useSecureWebSocket = false and pipelineConnect = false, against the SQLite
# engine (auth_type scram-sha-256) and an upstream PostgreSQL this test starts
# (auth_type md5).  tests/drivers/neon/neon_ws_test.mjs checks: parameterised
# and simple queries, transactions that commit and roll back, errors that keep
# the session (42P01, 23505, then 25P02 in the aborted block), a 2 MB result
# and a 300 KB parameter through the bridge, a Pool of 5 connections running
# 20 queries, end() resolving once Dormouse closes the WebSocket, and a wrong
# password (28P01).  This script adds the handshake's refusals (curl), that a
# dropped WebSocket ends its session, and a CancelRequest sent over another
# WebSocket stopping a statement upstream (57014).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "the WebSocket endpoint is Dormouse's" || dm_finish
command -v curl >/dev/null || die "setup: curl is required"
NEON_DIR=$DM_SOURCE_DIR/tests/drivers/neon
NODE=${NODE:-node}
NPM=${NPM:-npm}
OUT=$(dm_tmpdir out)

err=$(node_modules_setup "$NEON_DIR" 19 @neondatabase/serverless ws) || die "setup: the Node modules of tests/drivers/neon" "$err"

AUTH_FILE=$DM_TMP/userlist.txt
printf '"%s" "%s"\n' alice alicepw admin adminpw >"$AUTH_FILE"

run_node() { # run_node ENGINE DB
    local out rc
    out=$(cd "$NEON_DIR" && NEON_WS="127.0.0.1:$SQL_PORT/v2" \
        NEON_URL="postgresql://alice:alicepw@localhost/$2" NEON_BAD_URL="postgresql://alice:wrong@localhost/$2" \
        timeout -k 5 90 "$NODE" neon_ws_test.mjs "$1" 2>&1)
    rc=$?
    relay_checks "$out"
    [[ "$out" == *DONE* ]] || fail "$1: the Node checks ran to their end" "exit status $rc" "$(tail -n 20 <<<"$out")"
}

sql_http_up() { curl -s -o /dev/null "http://127.0.0.1:$SQL_PORT/" 2>/dev/null; }

# handshake refusals and a dropped WebSocket, on the running Dormouse
handshake_checks() {
    local engine=$1 status
    status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SQL_PORT/v2" -H 'Upgrade: websocket' \
        -H 'Connection: Upgrade' -H 'Sec-WebSocket-Version: 8' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==')
    assert_eq "$engine: a WebSocket of version 8: 426 (Upgrade Required)" 426 "$status"
    status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SQL_PORT/v2" -H 'Upgrade: websocket' \
        -H 'Connection: Upgrade' -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: short')
    assert_eq "$engine: a malformed Sec-WebSocket-Key: 400" 400 "$status"
    # a client that opens a WebSocket, logs in and drops the TCP connection
    out=$("$PYTHON" - "$SQL_PORT" "$3" <<'PY' 2>&1
import base64, os, socket, struct, sys, time
port, db = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port))
key = base64.b64encode(os.urandom(16)).decode()
s.sendall((f"GET /v2 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n").encode())
resp = b""
while b"\r\n\r\n" not in resp:
    resp += s.recv(4096)
print("status", resp.split(b"\r\n")[0].decode())
print("protocol header", b"sec-websocket-protocol" in resp.lower())
body = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in (("user", "alice"), ("database", db)))
startup = struct.pack("!ii", 8 + len(body) + 1, 196608) + body + b"\0"
mask = os.urandom(4)
frame = bytes([0x82, 0x80 | len(startup)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(startup))
s.sendall(frame)
data = s.recv(65536)
print("first frame opcode", hex(data[0]))
s.close() # dropped: no close frame, no Terminate
PY
)
    assert_contains "$engine: a raw WebSocket handshake: 101" "$out" "status HTTP/1.1 101"
    assert_contains "$engine: ... with no subprotocol" "$out" "protocol header False"
    assert_contains "$engine: ... and the server's answer comes in a binary frame" "$out" "first frame opcode 0x82"
    dropped() { ! dm_psql "host=127.0.0.1 port=$DM_PORT dbname=dormouse user=admin password=adminpw" -Atc "show clients" 2>/dev/null | grep -q "alice"; }
    wait_until 10 dropped || fail "$engine: a dropped WebSocket ends its session" \
        "$(dm_psql "host=127.0.0.1 port=$DM_PORT dbname=dormouse user=admin password=adminpw" -Atc 'show clients' 2>&1)"
    pass "$engine: a dropped WebSocket ends its session (SHOW CLIENTS)"
}

# ======== SQLite engine ========
DM_PORT=$(free_port) || die "no free port"
SQL_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data-sqlite)
dm_write_config "$DM_TMP/sqlite.ini" "auth_type = scram-sha-256" "auth_file = $AUTH_FILE" "admin_users = admin" \
    "sql_http_listen = 127.0.0.1:$SQL_PORT" "[databases] * = engine=sqlite"
dm_start "$DM_TMP/sqlite.ini"
wait_until 10 sql_http_up || die "sql_http_listen does not accept connections" "$(tail -n 20 "$DM_LOG")"
run_node sqlite lite
handshake_checks sqlite "$SQL_PORT" lite
dm_stop_check "sqlite: dormouse exits 0 on SIGTERM"

# ======== upstream PostgreSQL ========
pg_start
out=$(pg_psql -c "create role app login" -c "create database pgapp owner app" 2>&1) ||
    die "cannot create the upstream role and database" "$out"
DM_PORT=$(free_port) || die "no free port"
SQL_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data-postgres)
dm_write_config "$DM_TMP/postgres.ini" "auth_type = md5" "auth_file = $AUTH_FILE" "admin_users = admin" \
    "sql_http_listen = 127.0.0.1:$SQL_PORT" "[databases] pgapp = host=127.0.0.1 port=$PGPORT_REAL user=app dbname=pgapp"
dm_start "$DM_TMP/postgres.ini"
wait_until 10 sql_http_up || die "sql_http_listen does not accept connections" "$(tail -n 20 "$DM_LOG")"
run_node postgres pgapp
handshake_checks postgres "$SQL_PORT" pgapp

# a CancelRequest over a second WebSocket stops a statement running on the first
out=$("$PYTHON" - "$SQL_PORT" <<'PY' 2>&1
import base64, hashlib, os, socket, struct, sys, time
port = int(sys.argv[1])

class WS:
    def __init__(self):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=20)
        key = base64.b64encode(os.urandom(16)).decode()
        self.s.sendall((f"GET /v2 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += self.s.recv(4096)
        self.rest = buf.split(b"\r\n\r\n", 1)[1]
        self.stream = b""
    def send(self, data):
        mask = os.urandom(4)
        n = len(data)
        head = bytes([0x82]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack("!H", n))
        self.s.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))
    def _frame(self):
        while True:
            if len(self.rest) >= 2:
                n = self.rest[1] & 0x7F
                off = 2
                if n == 126:
                    n, off = struct.unpack("!H", self.rest[2:4])[0], 4
                elif n == 127:
                    n, off = struct.unpack("!Q", self.rest[2:10])[0], 10
                if len(self.rest) >= off + n:
                    op, data = self.rest[0] & 0x0F, self.rest[off:off + n]
                    self.rest = self.rest[off + n:]
                    return op, data
            chunk = self.s.recv(65536)
            if not chunk:
                return None, b""
            self.rest += chunk
    def message(self):
        """The next PostgreSQL message (type, body)."""
        while True:
            if len(self.stream) >= 5:
                n = struct.unpack("!i", self.stream[1:5])[0]
                if len(self.stream) >= 1 + n:
                    t, body = chr(self.stream[0]), self.stream[5:1 + n]
                    self.stream = self.stream[1 + n:]
                    return t, body
            op, data = self._frame()
            if op is None or op == 8:
                return None, b""
            self.stream += data

def startup(w, user, db, password):
    body = b"".join(k.encode() + b"\0" + v.encode() + b"\0" for k, v in (("user", user), ("database", db)))
    w.send(struct.pack("!ii", 8 + len(body) + 1, 196608) + body + b"\0")
    pid = key = None
    while True:
        t, b = w.message()
        if t == "R" and struct.unpack("!i", b[:4])[0] == 5: # md5
            inner = hashlib.md5((password + user).encode()).hexdigest()
            resp = "md5" + hashlib.md5(inner.encode() + b[4:8]).hexdigest()
            w.send(b"p" + struct.pack("!i", 4 + len(resp) + 1) + resp.encode() + b"\0")
        elif t == "K":
            pid, key = struct.unpack("!ii", b)
        elif t == "Z":
            return pid, key
        elif t in ("E", None):
            raise SystemExit(f"login failed: {b!r}")

w1 = WS()
pid, key = startup(w1, "alice", "pgapp", "alicepw")
q = b"select pg_sleep(30)\0"
w1.send(b"Q" + struct.pack("!i", 4 + len(q)) + q)
time.sleep(0.5)
t0 = time.time()
w2 = WS()
w2.send(struct.pack("!iiii", 16, 80877102, pid, key))
code = None
while True:
    t, b = w1.message()
    if t == "E":
        fields = {f[:1]: f[1:] for f in b.split(b"\0") if f}
        code = fields.get(b"C", b"").decode()
    if t in ("Z", None):
        break
print("cancelled with", code, "after", round(time.time() - t0, 1), "s")
PY
)
assert_contains "postgres: a CancelRequest over another WebSocket stops the statement (57014)" "$out" \
    "cancelled with 57014"
dm_stop_check "postgres: dormouse exits 0 on SIGTERM"

dm_finish
