#!/usr/bin/python3
"""bench/idle_clients.py: hold idle, logged-in PostgreSQL client connections
and report a server process's resident memory with 0 and with N of them.

    idle_clients.py --port PORT --pid PID [--host 127.0.0.1] [--user bench]
                    [--database bench] STEP [STEP ...]

For each STEP (increasing), it opens connections until STEP are logged in
(StartupMessage with user and database, then reads until ReadyForQuery; only
trust authentication is handled), waits a moment for the server to settle and
prints "STEP VmRSS_KiB" of process PID (read from /proc/PID/status).  The
first line is "0 VmRSS_KiB", before any connection.  The connections are held,
doing nothing, until the last step has been measured (with --hold-dir, until
the caller creates HOLD_DIR/STEP after each step); then all are closed.  It
fails (exit 1, one line on stderr) if a login fails or if the server closes a
held connection.
Raw sockets only, no driver, so the client side costs little and does not
disturb the measurement.
"""
import argparse
import os
import resource
import selectors
import socket
import struct
import sys
import time

WINDOW = 64  # logins in flight at once


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for pid {pid}")


def startup_message(user, database):
    body = struct.pack("!I", 196608)
    for k, v in (("user", user), ("database", database)):
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


class Login:
    """One connection being logged in: connect, send startup, read to 'Z'."""

    def __init__(self, sock, msg):
        self.sock = sock
        self.out = msg
        self.buf = b""

    def on_writable(self):
        err = self.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, "connect failed")
        n = self.sock.send(self.out)
        self.out = self.out[n:]

    def on_readable(self):
        """True once ReadyForQuery has arrived."""
        data = self.sock.recv(65536)
        if not data:
            raise RuntimeError("server closed the connection during login")
        self.buf += data
        while len(self.buf) >= 5:
            typ = self.buf[0:1]
            length = struct.unpack("!I", self.buf[1:5])[0]
            if len(self.buf) < 1 + length:
                break
            payload = self.buf[5:1 + length]
            self.buf = self.buf[1 + length:]
            if typ == b"E":
                fields = dict((p[0:1], p[1:]) for p in payload.split(b"\0") if p)
                raise RuntimeError("login failed: %s %s" % (
                    fields.get(b"C", b"").decode(), fields.get(b"M", b"").decode()))
            if typ == b"R" and struct.unpack("!I", payload[:4])[0] != 0:
                raise RuntimeError("server asks for a password; only trust is handled")
            if typ == b"Z":
                return True
        return False


def closed_count(held):
    """How many held connections the server has closed (or sent an error on)."""
    lost = 0
    for s in held:
        try:
            data = s.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
            if not data or data == b"E":
                lost += 1
        except BlockingIOError:
            pass
        except OSError:
            lost += 1
    return lost


def connect_until(n, held, args, msg, deadline):
    sel = selectors.DefaultSelector()
    started = len(held)
    inflight = 0
    while len(held) < n:
        while inflight < WINDOW and started < n:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setblocking(False)
            s.connect_ex((args.host, args.port))
            sel.register(s, selectors.EVENT_WRITE, Login(s, msg))
            started += 1
            inflight += 1
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out with {len(held)} of {n} clients logged in")
        for key, events in sel.select(timeout=1.0):
            login = key.data
            if events & selectors.EVENT_WRITE:
                login.on_writable()
                if not login.out:
                    sel.modify(login.sock, selectors.EVENT_READ, login)
            elif login.on_readable():
                sel.unregister(login.sock)
                held.append(login.sock)
                inflight -= 1
    sel.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", default="bench")
    p.add_argument("--database", default="bench")
    p.add_argument("--pid", type=int, required=True, help="process whose VmRSS is reported")
    p.add_argument("--settle", type=float, default=1.0, help="seconds to wait before measuring")
    p.add_argument("--timeout", type=float, default=60.0, help="seconds allowed per step")
    p.add_argument("--hold-dir", help="after reporting step N, keep the clients until the file "
                   "HOLD_DIR/N exists (so that the caller can look at the servers meanwhile)")
    p.add_argument("steps", type=int, nargs="+")
    args = p.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = max(args.steps) + 64
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))

    msg = startup_message(args.user, args.database)
    held = []
    time.sleep(args.settle)
    print(0, rss_kib(args.pid), flush=True)
    try:
        for n in sorted(args.steps):
            connect_until(n, held, args, msg, time.monotonic() + args.timeout)
            time.sleep(args.settle)
            rss = rss_kib(args.pid)
            lost = closed_count(held)
            if lost:
                raise RuntimeError(f"{lost} of {n} idle clients were disconnected by the server")
            print(n, rss, flush=True)
            if args.hold_dir:
                release = os.path.join(args.hold_dir, str(n))
                end = time.monotonic() + args.timeout
                while not os.path.exists(release):
                    if time.monotonic() > end:
                        raise RuntimeError(f"nobody released step {n}")
                    time.sleep(0.05)
    finally:
        for s in held:
            try:
                s.send(b"X\0\0\0\4")  # Terminate
            except OSError:
                pass
            s.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # one line for the calling script
        print(f"idle_clients.py: {e}", file=sys.stderr)
        sys.exit(1)
