#!/usr/bin/env python3
"""copyproto.py: the COPY sub-protocol at the message level, for test_copy.sh.

Each scenario logs in (rawproto.Conn), runs one exchange and prints a
transcript of what the server sent: one line per message, errors as
"E <SQLSTATE> <message>" (and "W <context>" when there is one), CopyData as
its payload, so that test_copy.sh can compare the transcripts of Dormouse and
PostgreSQL line for line.  The table copyproto(a int primary key, b text) is
(re)created by the "setup" scenario.

    copyproto.py SCENARIO --host H --port P --user U --db D
"""
import argparse
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rawproto  # noqa: E402
from rawproto import Closed, Fail, cstr, msg, parse_fields  # noqa: E402


def transcript(c, out):
    """Reads up to ReadyForQuery, appending a line per message to out."""
    while True:
        kind, body = c.read_msg()
        if kind in "EN":
            f = parse_fields(body)
            out.append("%s %s %s" % (kind, f.get("C"), f.get("M")))
            if f.get("W"):
                out.append("  W %s" % f.get("W"))
        elif kind == "C":
            out.append("C " + body.rstrip(b"\0").decode())
        elif kind in "GH":
            fmt, n = struct.unpack("!bH", body[:3])
            out.append("%s format=%d columns=%d" % (kind, fmt, n))
            if kind == "G":
                return None
        elif kind == "d":
            out.append("d " + repr(body))
        elif kind == "c":
            out.append("c")
        elif kind == "T":
            out.append("T")
        elif kind == "D":
            out.append("D " + repr(body))
        elif kind == "Z":
            out.append("Z " + chr(body[0]))
            return chr(body[0])
        elif kind == "S":
            pass
        else:
            out.append(kind)


def login(args):
    c = rawproto.Conn(args)
    c.login()
    return c


def run(c, sql, out):
    c.send(msg(b"Q", cstr(sql)))
    return transcript(c, out)


SCENARIOS = {}


def scenario(fn):
    SCENARIOS[fn.__name__[3:].replace("_", "-")] = fn
    return fn


@scenario
def sc_setup(c, out):
    run(c, "drop table if exists copyproto", [])
    run(c, "create table copyproto(a int primary key, b text)", out)


@scenario
def sc_copy_fail(c, out):
    """CopyFail after some rows: 57014, nothing stays."""
    run(c, "copy copyproto from stdin", out)
    c.send(msg(b"d", b"1\tone\n2\ttwo\n") + msg(b"f", cstr("client gave up")))
    transcript(c, out)
    run(c, "select count(*) from copyproto", out)


@scenario
def sc_bad_row_then_more(c, out):
    """A bad row mid-stream, then more CopyData and CopyDone."""
    run(c, "copy copyproto from stdin", out)
    c.send(msg(b"d", b"1\tone\n") + msg(b"d", b"x\ttwo\n") + msg(b"d", b"3\tthree\n") + msg(b"c"))
    transcript(c, out)
    run(c, "select count(*) from copyproto", out)


@scenario
def sc_row_split_across_messages(c, out):
    """Rows split at arbitrary points between CopyData messages."""
    data = b"10\tten\n11\tel\\tev\\\\en\n12\t\\N\n13\tthirteen"
    run(c, "copy copyproto from stdin", out)
    c.send(b"".join(msg(b"d", data[i:i + 3]) for i in range(0, len(data), 3)) + msg(b"c"))
    transcript(c, out)
    run(c, "copy copyproto to stdout", out)
    run(c, "delete from copyproto", out)


@scenario
def sc_sync_flush_ignored(c, out):
    """Sync and Flush inside copy-in are ignored."""
    run(c, "copy copyproto from stdin", out)
    c.send(msg(b"d", b"1\tone\n") + msg(b"H") + msg(b"S") + msg(b"d", b"2\ttwo\n") + msg(b"c"))
    transcript(c, out)
    run(c, "delete from copyproto", out)


def until_closed(c, out):
    """Messages until the server closes the connection."""
    try:
        transcript(c, out)
        out.append("not closed")
    except Closed:
        out.append("closed")


@scenario
def sc_unexpected_message(c, out):
    """A Query during copy-in: 08P01, then the session ends (protocol out of step)."""
    run(c, "copy copyproto from stdin", out)
    c.send(msg(b"d", b"1\tone\n") + msg(b"Q", cstr("select 1")))
    until_closed(c, out)
    c2 = login(c.args)
    run(c2, "select count(*) from copyproto", out)
    c2.close()


@scenario
def sc_copy_messages_outside_copy(c, out):
    """CopyData, CopyDone and CopyFail outside COPY are dropped."""
    c.send(msg(b"d", b"1\tone\n") + msg(b"c") + msg(b"f", cstr("x")))
    run(c, "select 7", out)


@scenario
def sc_multi_statement(c, out):
    """COPY FROM STDIN in the middle of a multi-statement Query."""
    run(c, "insert into copyproto values (1, 'a'); copy copyproto from stdin; "
           "select count(*) from copyproto", out)
    c.send(msg(b"d", b"2\tb\n3\tc\n") + msg(b"c"))
    transcript(c, out)
    run(c, "copy copyproto to stdout; copy (select a from copyproto where a > 1) to stdout", out)
    run(c, "delete from copyproto", out)


@scenario
def sc_in_transaction_block(c, out):
    """A failed COPY fails the block; ROLLBACK ends it."""
    run(c, "begin", out)
    run(c, "insert into copyproto values (1, 'kept?')", out)
    run(c, "copy copyproto from stdin", out)
    c.send(msg(b"d", b"2\ttwo\n2\tdup\n") + msg(b"c"))
    transcript(c, out)
    run(c, "select 1", out)
    run(c, "rollback", out)
    run(c, "select count(*) from copyproto", out)


@scenario
def sc_copy_in_then_commit(c, out):
    """COPY inside a block is part of it."""
    run(c, "begin", out)
    run(c, "copy copyproto from stdin with (format csv)", out)
    c.send(msg(b"d", b'5,"five, with comma"\n6,\n7,""\n') + msg(b"c"))
    transcript(c, out)
    run(c, "commit", out)
    run(c, "copy copyproto to stdout with (format csv, header)", out)
    run(c, "delete from copyproto", out)


@scenario
def sc_terminate_during_copy(c, out):
    """Terminate during copy-in is an unexpected message too; nothing stays."""
    run(c, "copy copyproto from stdin", out)
    c.send(msg(b"d", b"1\tone\n") + msg(b"X"))
    until_closed(c, out)
    c2 = login(c.args)
    run(c2, "select count(*) from copyproto", out)
    c2.close()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("scenario")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", default="copy")
    p.add_argument("--password", default="")
    p.add_argument("--db", default="copy")
    args = p.parse_args()
    if args.scenario == "list":
        print(" ".join(SCENARIOS))
        return 0
    out = []
    try:
        c = login(args)
        SCENARIOS[args.scenario](c, out)
    except (Fail, Closed, OSError) as e:
        out.append("FAILED: %s: %s" % (type(e).__name__, e))
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
