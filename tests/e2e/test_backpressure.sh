#!/usr/bin/env bash
# test_backpressure: a client that asks for a large result and reads it
# slowly (or not at all) makes Dormouse stop producing rows for it: its
# memory stays bounded (measured from /proc/PID/status while the client
# does not read), other clients are served meanwhile, and once the client
# reads, every row arrives, with the right CommandComplete, and the ledger
# counts one query with all its rows.  On the SQLite engine (the statement
# is stepped part by part) and in front of an upstream PostgreSQL (the relay
# stops reading the server).  Also: query_timeout cancels a result whose
# client stopped reading, and COPY TO STDOUT is metered whole.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "the memory of a Dormouse process" || dm_finish
pg_start
DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
dm_write_config "$DM_TMP/bp.ini" "admin_users = admin" "query_timeout = 0" \
    "[databases] up = host=127.0.0.1 port=$PGPORT_REAL dbname=postgres user=postgres" \
    "[databases] * = engine=sqlite"
dm_start "$DM_TMP/bp.ini"

out=$(timeout 240 "$PYTHON" - "$DM_PORT" "$DM_PID" "$DM_TMP/bp.ini" <<'PY'
import socket, struct, sys, time
import psycopg
from dmlib import Console, connect, report, wait_for
port, pid, conf = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
N = 1000000
PAD = "x" * 100

def rss_mb():
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0

def startup(db, user="bp"):
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)  # a small window: it fills soon
    body = b"user\0" + user.encode() + b"\0database\0" + db.encode() + b"\0\0"
    s.sendall(struct.pack("!II", 8 + len(body), 196608) + body)
    buf = b""
    while not buf.endswith(b"Z\0\0\0\x05I"):
        buf += s.recv(65536)
    return s

def read_result(s, limit=None):
    """Reads one simple query's reply: (DataRows, CommandComplete tag, errors)."""
    buf, rows, tag, errors = b"", 0, None, []
    while True:
        while len(buf) < 5:
            chunk = s.recv(1 << 20)
            if not chunk:
                raise EOFError
            buf += chunk
        kind, ln = buf[0:1], struct.unpack("!I", buf[1:5])[0]
        while len(buf) < 1 + ln:
            chunk = s.recv(1 << 20)
            if not chunk:
                raise EOFError
            buf += chunk
        body, buf = buf[5:1 + ln], buf[1 + ln:]
        if kind == b"D":
            rows += 1
        elif kind == b"C":
            tag = body.rstrip(b"\0").decode()
        elif kind == b"E":
            errors.append(body)
        elif kind == b"Z":
            return rows, tag, errors

def query(s, sql):
    b = sql.encode() + b"\0"
    s.sendall(b"Q" + struct.pack("!I", 4 + len(b)) + b)

def extended(s, sql, max_rows=0):
    """Parse, Bind, Execute (max_rows), Sync: the extended protocol, as drivers send it."""
    q = sql.encode() + b"\0"
    parse = b"P" + struct.pack("!I", 4 + 1 + len(q) + 2) + b"\0" + q + b"\0\0"
    bind = b"B" + struct.pack("!I", 4 + 1 + 1 + 2 + 2 + 2) + b"\0\0" + b"\0\0" + b"\0\0" + b"\0\0"
    execute = b"E" + struct.pack("!I", 4 + 1 + 4) + b"\0" + struct.pack("!i", max_rows)
    s.sendall(parse + bind + execute + b"S\0\0\0\x04")

def slow_reader(db, sql, what, bound_mb, proto="simple"):
    c = connect(port, db, "bp")
    c.execute("select 1").fetchone()
    base = rss_mb()
    s = startup(db)
    if proto == "simple":
        query(s, sql)
    else:
        extended(s, sql)
    time.sleep(4)  # it would have produced (and buffered) everything by now
    grown = rss_mb() - base
    report(grown < bound_mb, f"{what}: a client that does not read holds Dormouse's memory to {bound_mb} MB (grew {grown:.1f} MB for a ~110 MB result)", f"{grown:.1f} MB")
    print(f"INFO {what}: RSS grew {grown:.1f} MB while a ~110 MB result waited for its reader")
    t1 = time.time()
    other = c.execute("select 41 + 1").fetchone()[0]
    report(other == 42 and time.time() - t1 < 5, f"{what}: other clients are served meanwhile")
    rows, tag, errors = read_result(s)
    report(rows == N and tag == f"SELECT {N}" and not errors, f"{what}: once it reads, all {N} rows arrive, then SELECT {N}", (rows, tag, errors[:1]))
    query(s, "select 'after'")
    rows2, tag2, _ = read_result(s)
    report(rows2 == 1 and tag2 == "SELECT 1", f"{what}: the session goes on")
    s.close()
    c.close()

big_sqlite = ("with recursive n(x) as (select 1 union all select x + 1 from n where x < %d) "
              "select x, '%s' from n" % (N, PAD))
slow_reader("bigdb", big_sqlite, "SQLite", 40)
slow_reader("bigdb", big_sqlite, "SQLite, extended protocol", 40, "extended")
big_pg = "select x, '%s' from generate_series(1, %d) x" % (PAD, N)
slow_reader("up", big_pg, "upstream PostgreSQL", 40)

# the ledger counts the SQLite one as one query with all its rows
con = Console(port)
def usage():
    r = [x for x in con.rows("SHOW USAGE bigdb") if x["database"] == "bigdb"]
    return r[0] if r else None
# (twice: select 1, the big one, 'after', 41 + 1: four queries, N + 3 rows)
ok = wait_for(lambda: usage() and usage()["rows_returned"] >= 2 * (N + 3), 15)
u = usage()
report(ok and u["rows_returned"] == 2 * (N + 3) and u["queries"] == 8,
       "metering: the streamed result counts as one query with all its rows returned", u)

# a driver fetching a large result over the extended protocol, and a
# PortalSuspended in the middle of a streamed Execute
c = connect(port, "bigdb", "bp")
n = sum(1 for _ in c.execute(big_sqlite))
report(n == N, "psycopg 3 (extended protocol) fetches all the rows of a streamed result", n)
s = startup("bigdb")
extended(s, big_sqlite, 600000)
buf, rows, kinds = b"", 0, []
while True:
    while len(buf) < 5 or len(buf) < 1 + struct.unpack("!I", buf[1:5])[0]:
        buf += s.recv(1 << 20)
    ln = struct.unpack("!I", buf[1:5])[0]
    kind, buf = buf[0:1], buf[1 + ln:]
    if kind == b"D":
        rows += 1
    else:
        kinds.append(kind)
    if kind == b"Z":
        break
report(rows == 600000 and kinds == [b"1", b"2", b"s", b"Z"],
       "Execute with max_rows 600000 sends 600000 rows in parts, then PortalSuspended", (rows, kinds))
s.close()
c.close()

# COPY TO STDOUT is metered whole too
c = connect(port, "copydb", "bp")
c.execute("create table t (x int, pad text)")
c.execute(f"insert into t with recursive n(x) as (select 1 union all select x + 1 from n where x < 100000) select x, '{PAD}' from n")
out = bytearray()
with c.cursor().copy("copy t to stdout") as cp:
    for chunk in cp:
        out += chunk
report(out.count(b"\n") == 100000, "COPY TO STDOUT of 100000 rows (in parts)")
def copy_usage():
    r = [x for x in con.rows("SHOW USAGE copydb") if x["database"] == "copydb"]
    return r[0] if r else None
ok = wait_for(lambda: copy_usage() and copy_usage()["rows_returned"] >= 100000, 15)
report(ok and copy_usage()["rows_returned"] == 100000, "metering: every COPY TO part is counted", copy_usage())
with c.cursor().copy("copy t from stdin") as cp:
    for i in range(50000):
        cp.write_row((i, PAD))
ok = wait_for(lambda: copy_usage()["rows_written"] >= 150000, 15)
u = copy_usage()
# create, insert, copy to, copy from: four queries; 100000 + 50000 rows written
report(ok and u["rows_written"] == 150000 and u["queries"] == 4 and u["bytes_in"] > 50000 * 100,
       "metering: a COPY FROM's rows and bytes, in chunks, count as one query", u)

# query_timeout cancels a streamed result whose client stopped reading
text = open(conf).read()
open(conf, "w").write(text.replace("query_timeout = 0", "query_timeout = 2"))
con.execute("RELOAD")
s = startup("bigdb")
query(s, big_sqlite)
time.sleep(4)
rows, tag, errors = read_result(s)
report(errors and b"C57014" in errors[0] and b"statement timeout" in errors[0] and rows < N,
       "query_timeout: a result nobody reads is cancelled with 57014 (statement timeout)", (rows, tag, errors[:1]))
query(s, "select 'after'")
rows2, tag2, _ = read_result(s)
report(rows2 == 1, "... and the session goes on")
s.close()
print("DONE")
PY
)
relay_checks "$out"
printf '%s\n' "$out" | grep '^INFO' || true
dm_stop_check
dm_finish
