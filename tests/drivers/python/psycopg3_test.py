#!/usr/bin/python3
"""psycopg3_test.py: the driver-matrix checks for psycopg 3.

    /usr/bin/python3 psycopg3_test.py HOST PORT DBNAME USER

psycopg 3 binds parameters on the server (extended query protocol).  The
value round trip runs twice: "text" sends %t parameters and reads text
results; "binary" sends %b parameters with executemany (a pipeline on libpq
14 and later) and reads through a binary cursor.  Then a named prepared
statement, transactions and a savepoint (conn.transaction() blocks), errors
with their SQLSTATEs and recovery on the same connection, a 1000-row result,
and a clean disconnect.

Prints one "PASS: psycopg3: CHECK" or "FAIL: psycopg3: CHECK" line per check
(details of a failure follow on lines starting with "    | ") and exits 1 if
any check failed.  A failed check rolls back, or reconnects if the connection
is gone, so that the later checks still run and report.
"""

import os
import sys
import time
import traceback
import uuid

import psycopg
from psycopg.types.json import Json, Jsonb

from driver_common import (NAMES, ROWS, J, JB, CheckFailed, columns, compare_rows,
                           expected_rows)

DRIVER = "psycopg3"
COLUMNS = columns()


def bind_args(row):
    args = list(row)
    args[J] = Json(args[J]) if args[J] is not None else None
    args[JB] = Jsonb(args[JB]) if args[JB] is not None else None
    return args

class Runner:
    def __init__(self, host, port, dbname, user):
        self.conninfo = psycopg.conninfo.make_conninfo(host=host, port=port, dbname=dbname, user=user,
                                                       connect_timeout=10)
        self.conn = None
        self.failures = 0
        self.checks = 0
        self.base = f"drv_psycopg3_{os.getpid()}_{int(time.time() * 1000) % 100000000}"
        self.tx_table = self.base + "_tx"

    def connect(self):
        self.conn = psycopg.connect(self.conninfo)

    def check(self, name, fn):
        self.checks += 1
        try:
            fn()
        except Exception as e:  # every failure is reported, then the next check runs
            self.failures += 1
            print(f"FAIL: {DRIVER}: {name}")
            detail = f"{type(e).__name__}: {e}".rstrip()
            sqlstate = getattr(e, "sqlstate", None)
            if sqlstate:
                detail += f" [SQLSTATE {sqlstate}]"
            if not isinstance(e, CheckFailed):
                detail += "\n" + traceback.format_exc(limit=-2).rstrip()
            for line in detail.splitlines():
                print(f"    | {line}")
            sys.stdout.flush()
            self.recover()
            return
        print(f"PASS: {DRIVER}: {name}")
        sys.stdout.flush()

    def recover(self):
        try:
            if self.conn is not None and not self.conn.closed:
                self.conn.rollback()
                return
        except Exception:
            pass
        try:
            if self.conn is not None:
                self.conn.close()
        except Exception:
            pass
        try:
            self.connect()
        except Exception:
            self.conn = None

    def scalar(self, sql, args=None):
        v = self.conn.execute(sql, args).fetchone()[0]
        self.conn.commit()
        return v

    # ---- the checks ----

    def c_connect(self):
        self.connect()
        got = self.scalar("select 1")
        if got != 1:
            raise CheckFailed(f"select 1 returned {got!r}")

    def c_create(self, mode):
        cols = ", ".join(f"{n} {t}" for n, t, _, _ in COLUMNS)
        self.conn.execute(f"create table {self.base}_{mode} (id int4 primary key, {cols})")
        if mode == "text":
            self.conn.execute(f"create table {self.tx_table} (id int4 primary key, v text not null)")
        self.conn.commit()

    def c_insert(self, mode):
        table = f"{self.base}_{mode}"
        if mode == "text":
            marks = ", ".join(["%t"] * len(NAMES))
            with self.conn.cursor() as cur:
                for r in ROWS:
                    cur.execute(f"insert into {table} ({', '.join(NAMES)}) values ({marks})", bind_args(r))
                    if cur.rowcount != 1:
                        raise CheckFailed(f"rowcount {cur.rowcount} for id {r[0]}")
        else:
            marks = ", ".join(["%b"] * len(NAMES))
            with self.conn.cursor() as cur:
                cur.executemany(f"insert into {table} ({', '.join(NAMES)}) values ({marks})",
                                [bind_args(r) for r in ROWS])
        self.conn.commit()

    def select_all(self, mode, where="", args=None):
        with self.conn.cursor(binary=(mode == "binary")) as cur:
            cur.execute(f"select {', '.join(NAMES)} from {self.base}_{mode} {where} order by id", args)
            rows = cur.fetchall()
            desc = [(d.name, d.type_code) for d in cur.description]
            fmt = cur.pgresult.fformat(0) if cur.pgresult is not None else None
        self.conn.commit()
        return rows, desc, fmt

    def c_select(self, mode):
        rows, _, fmt = self.select_all(mode)
        want_fmt = 1 if mode == "binary" else 0
        if fmt != want_fmt:
            raise CheckFailed(f"result format {fmt}, expected {want_fmt}")
        compare_rows(expected_rows(), rows)
        for name, _, _, pytype in COLUMNS:
            v = rows[0][NAMES.index(name)]
            if not isinstance(v, pytype):
                raise CheckFailed(f"column {name}: Python type {type(v).__name__}, expected {pytype}")

    def c_types(self, mode):
        marks = "%b" if mode == "binary" else "%t"
        _, desc, _ = self.select_all(mode, f"where id = {marks}", (1,))
        want = [("id", 23)] + [(n, oid) for n, _, oid, _ in COLUMNS]
        if desc != want:
            raise CheckFailed(f"column (name, type OID): expected {want}, got {desc}")

    def c_where(self):
        got = self.conn.execute(
            f"select id, t from {self.base}_text where i8 = %s and t = %s and bt = %s and u = %s",
            (9223372036854775807, "héllo wörld ☃ 日本語 🐭", b"\x00\xff\x01\x80\x00",
             uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"))).fetchall()
        nulls = self.conn.execute(f"select count(*) from {self.base}_text where b is null and i4 is null").fetchone()[0]
        self.conn.commit()
        if got != [(1, "héllo wörld ☃ 日本語 🐭")] or nulls != 1:
            raise CheckFailed(f"where with parameters: {got!r}, null row count {nulls!r}")

    def c_prepared(self):
        sql = f"select t, i8 from {self.base}_text where id = %s"
        for i in (1, 2, 1):
            got = self.conn.execute(sql, (i,), prepare=True).fetchone()
            if got != (ROWS[i - 1][8], ROWS[i - 1][4]):
                raise CheckFailed(f"prepared statement with id={i}: {got!r}")
        self.conn.commit()

    def c_rollback(self):
        with self.conn.transaction():
            self.conn.execute(f"insert into {self.tx_table} values (%s, %s)", (1, "rolled back"))
            raise psycopg.Rollback()
        n = self.scalar(f"select count(*) from {self.tx_table} where id = %s", (1,))
        if n != 0:
            raise CheckFailed(f"the rolled back row is still there ({n})")

    def c_commit(self):
        with self.conn.transaction():
            self.conn.execute(f"insert into {self.tx_table} values (%s, %s)", (1, "committed"))
        self.conn.close()
        self.connect()
        v = self.scalar(f"select v from {self.tx_table} where id = %s", (1,))
        if v != "committed":
            raise CheckFailed(f"after commit and reconnect: {v!r}")

    def c_savepoint(self):
        with self.conn.transaction():
            self.conn.execute(f"insert into {self.tx_table} values (%s, %s)", (2, "kept"))
            with self.conn.transaction():  # a savepoint
                self.conn.execute(f"insert into {self.tx_table} values (%s, %s)", (3, "undone"))
                raise psycopg.Rollback()
            with self.conn.transaction():
                self.conn.execute(f"insert into {self.tx_table} values (%s, %s)", (4, "released"))
        ids = [r[0] for r in self.conn.execute(f"select id from {self.tx_table} order by id").fetchall()]
        self.conn.commit()
        if ids != [1, 2, 4]:
            raise CheckFailed(f"ids after the savepoint rollback: {ids}, expected [1, 2, 4]")

    def expect_error(self, sql, args, sqlstate, exc_class):
        try:
            self.conn.execute(sql, args)
        except psycopg.Error as e:
            if e.sqlstate != sqlstate or not isinstance(e, exc_class):
                raise CheckFailed(f"{sql}: got {type(e).__name__} SQLSTATE {e.sqlstate}, expected "
                                  f"{exc_class.__name__} {sqlstate}: {e}")
            self.conn.rollback()
            got = self.scalar("select 42")
            if got != 42:
                raise CheckFailed(f"the error was right, but then select 42 answered {got!r}")
            return
        raise CheckFailed(f"{sql}: no error, expected {sqlstate}")

    def c_unique(self):
        self.expect_error(f"insert into {self.tx_table} values (%s, %s)", (1, "duplicate"), "23505",
                          psycopg.errors.UniqueViolation)

    def c_syntax(self):
        self.expect_error("selec %s", (1,), "42601", psycopg.errors.SyntaxError)

    def c_failed_block(self):
        self.conn.execute(f"insert into {self.tx_table} values (%s, %s)", (5, "in a failed block"))
        try:
            self.conn.execute("select 1/0")
            raise CheckFailed("select 1/0: no error, expected 22012")
        except psycopg.errors.DivisionByZero:
            pass
        try:
            self.conn.execute("select %s::int4", (1,))
            raise CheckFailed("a statement after the error ran, expected 25P02")
        except psycopg.errors.InFailedSqlTransaction:
            pass
        self.conn.rollback()
        if self.scalar(f"select count(*) from {self.tx_table} where id = 5") != 0:
            raise CheckFailed("the failed block's insert survived the rollback")

    def c_many_rows(self):
        big = self.base + "_big"
        with self.conn.transaction():
            self.conn.execute(f"create table {big} (id int8 primary key, payload text)")
            with self.conn.cursor() as cur:
                cur.executemany(f"insert into {big} values (%s, %s)",
                                [(i, f"row {i} of 1000") for i in range(1, 1001)])
        with self.conn.cursor(binary=True) as cur:
            rows = cur.execute(f"select id, payload from {big} order by id").fetchall()
        self.conn.commit()
        if rows != [(i, f"row {i} of 1000") for i in range(1, 1001)]:
            raise CheckFailed(f"{len(rows)} rows; first {rows[:2]!r}, last {rows[-1:]!r}")

    def c_disconnect(self):
        for t in ("text", "binary", "tx", "big"):
            self.conn.execute(f"drop table if exists {self.base}_{t}")
        self.conn.commit()
        self.conn.close()
        if not self.conn.closed:
            raise CheckFailed("connection not closed")

    def run(self):
        self.check("connect and select 1", self.c_connect)
        if self.conn is None:
            return
        for mode in ("text", "binary"):
            self.check(f"{mode}: create table with every supported type (PostgreSQL DDL)",
                       lambda: self.c_create(mode))
            how = "%t parameters, one execute per row" if mode == "text" else "%b parameters, executemany"
            self.check(f"{mode}: insert rows with bound parameters ({how})", lambda: self.c_insert(mode))
            self.check(f"{mode}: select values back (and their Python types)", lambda: self.c_select(mode))
            self.check(f"{mode}: column names and type OIDs", lambda: self.c_types(mode))
        self.check("bound parameters in WHERE (int8, unicode text, bytea, uuid)", self.c_where)
        self.check("named prepared statement (prepare=True), executed three times", self.c_prepared)
        self.check("transaction rollback: the row is gone", self.c_rollback)
        self.check("transaction commit: the row is there after reconnecting", self.c_commit)
        self.check("savepoint: nested transaction() rolled back, another released", self.c_savepoint)
        self.check("unique violation: 23505 (UniqueViolation), then the connection works", self.c_unique)
        self.check("syntax error: 42601 (SyntaxError), then the connection works", self.c_syntax)
        self.check("error in a transaction: 22012, then 25P02 until rollback", self.c_failed_block)
        self.check("1000 rows: executemany in a transaction, read back (binary)", self.c_many_rows)
        self.check("disconnect (dropping the tables)", self.c_disconnect)


def main():
    if len(sys.argv) != 5:
        print("usage: psycopg3_test.py HOST PORT DBNAME USER", file=sys.stderr)
        return 2
    r = Runner(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
    r.run()
    print(f"{DRIVER} {psycopg.__version__} (libpq {psycopg.pq.version()}, {psycopg.pq.__impl__}): "
          f"{r.checks - r.failures} of {r.checks} checks passed")
    return 1 if r.failures else 0


if __name__ == "__main__":
    sys.exit(main())
