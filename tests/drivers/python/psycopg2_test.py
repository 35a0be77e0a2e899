#!/usr/bin/python3
"""psycopg2_test.py: the driver-matrix checks for psycopg2.

    /usr/bin/python3 psycopg2_test.py HOST PORT DBNAME USER

Connects, creates a table of every supported type with PostgreSQL DDL,
inserts rows with bound parameters (psycopg2 binds on the client: it quotes
the values into the SQL and sends simple Query messages, so this driver has no
binary path), reads them back and compares values and the type OIDs the server
reports, then transactions, a savepoint, errors with their SQLSTATEs and
recovery on the same connection, a 1000-row result, and a clean disconnect.

Prints one "PASS: psycopg2: CHECK" or "FAIL: psycopg2: CHECK" line per check
(details of a failure follow on lines starting with "    | ") and exits 1 if
any check failed.  A failed check rolls back, or reconnects if the connection
is gone, so that the later checks still run and report.
"""

import os
import sys
import time
import traceback

import psycopg2
import psycopg2.extras

from driver_common import (NAMES, ROWS, CheckFailed, columns, compare_rows,
                           expected_rows)

DRIVER = "psycopg2"
COLUMNS = columns({"bt": memoryview})

class Runner:
    def __init__(self, host, port, dbname, user):
        self.params = dict(host=host, port=port, dbname=dbname, user=user, connect_timeout=10)
        self.conn = None
        self.failures = 0
        self.checks = 0
        suffix = f"{os.getpid()}_{int(time.time() * 1000) % 100000000}"
        self.table = f"drv_psycopg2_{suffix}"
        self.tx_table = f"drv_psycopg2_tx_{suffix}"

    def connect(self):
        self.conn = psycopg2.connect(**self.params)
        psycopg2.extras.register_uuid(conn_or_curs=self.conn)

    def check(self, name, fn):
        self.checks += 1
        try:
            fn()
        except Exception as e:  # every failure is reported, then the next check runs
            self.failures += 1
            print(f"FAIL: {DRIVER}: {name}")
            detail = f"{type(e).__name__}: {e}".rstrip()
            sqlstate = getattr(e, "pgcode", None)
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
                self.conn.autocommit = False
                return
        except Exception:
            pass
        try:
            self.connect()
        except Exception:
            self.conn = None

    def scalar(self, sql, args=None):
        with self.conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchone()[0]

    # ---- the checks ----

    def c_connect(self):
        self.connect()
        got = self.scalar("select 1")
        if got != 1:
            raise CheckFailed(f"select 1 returned {got!r}")

    def c_create(self):
        cols = ", ".join(f"{n} {t}" for n, t, _, _ in COLUMNS)
        with self.conn.cursor() as cur:
            cur.execute(f"create table {self.table} (id int4 primary key, {cols})")
            cur.execute(f"create table {self.tx_table} (id int4 primary key, v text not null)")
        self.conn.commit()

    def c_insert(self):
        marks = ", ".join(["%s"] * len(NAMES))
        with self.conn.cursor() as cur:
            for r in ROWS:
                args = list(r)
                args[17] = psycopg2.extras.Json(args[17]) if args[17] is not None else None
                args[18] = psycopg2.extras.Json(args[18]) if args[18] is not None else None
                cur.execute(f"insert into {self.table} ({', '.join(NAMES)}) values ({marks})", args)
                if cur.rowcount != 1:
                    raise CheckFailed(f"rowcount {cur.rowcount} for id {r[0]}")
        self.conn.commit()

    def c_select(self):
        with self.conn.cursor() as cur:
            cur.execute(f"select {', '.join(NAMES)} from {self.table} order by id")
            rows = cur.fetchall()
        compare_rows(expected_rows(), rows)
        for name, _, _, pytype in COLUMNS:
            v = rows[0][NAMES.index(name)]
            if not isinstance(v, pytype):
                raise CheckFailed(f"column {name}: Python type {type(v).__name__}, expected {pytype}")
        if rows[0][NAMES.index("tz")].tzinfo is None or rows[0][NAMES.index("ts")].tzinfo is not None:
            raise CheckFailed("timestamptz must come back aware and timestamp naive")

    def c_types(self):
        with self.conn.cursor() as cur:
            cur.execute(f"select {', '.join(NAMES)} from {self.table} where id = %s", (1,))
            got = [(d.name, d.type_code) for d in cur.description]
            cur.fetchall()
        want = [("id", 23)] + [(n, oid) for n, _, oid, _ in COLUMNS]
        if got != want:
            raise CheckFailed(f"column (name, type OID): expected {want}, got {got}")

    def c_where(self):
        with self.conn.cursor() as cur:
            cur.execute(f"select id, t from {self.table} where i8 = %s and t = %s and bt = %s",
                        (9223372036854775807, "héllo wörld ☃ 日本語 🐭", b"\x00\xff\x01\x80\x00"))
            got = cur.fetchall()
            cur.execute(f"select count(*) from {self.table} where b is null and i4 is null")
            nulls = cur.fetchone()[0]
        self.conn.commit()
        if got != [(1, "héllo wörld ☃ 日本語 🐭")] or nulls != 1:
            raise CheckFailed(f"where with parameters: {got!r}, null row count {nulls!r}")

    def c_rollback(self):
        with self.conn.cursor() as cur:
            cur.execute(f"insert into {self.tx_table} values (%s, %s)", (1, "rolled back"))
        self.conn.rollback()
        n = self.scalar(f"select count(*) from {self.tx_table} where id = %s", (1,))
        self.conn.commit()
        if n != 0:
            raise CheckFailed(f"the rolled back row is still there ({n})")

    def c_commit(self):
        with self.conn.cursor() as cur:
            cur.execute(f"insert into {self.tx_table} values (%s, %s)", (1, "committed"))
        self.conn.commit()
        self.conn.close()
        self.connect()
        v = self.scalar(f"select v from {self.tx_table} where id = %s", (1,))
        self.conn.commit()
        if v != "committed":
            raise CheckFailed(f"after commit and reconnect: {v!r}")

    def c_savepoint(self):
        with self.conn.cursor() as cur:
            cur.execute(f"insert into {self.tx_table} values (%s, %s)", (2, "kept"))
            cur.execute("savepoint sp1")
            cur.execute(f"insert into {self.tx_table} values (%s, %s)", (3, "undone"))
            cur.execute("rollback to savepoint sp1")
            cur.execute(f"insert into {self.tx_table} values (%s, %s)", (4, "after"))
            cur.execute("release savepoint sp1")
        self.conn.commit()
        with self.conn.cursor() as cur:
            cur.execute(f"select id from {self.tx_table} order by id")
            ids = [r[0] for r in cur.fetchall()]
        self.conn.commit()
        if ids != [1, 2, 4]:
            raise CheckFailed(f"ids after the savepoint rollback: {ids}, expected [1, 2, 4]")

    def expect_error(self, sql, args, sqlstate, exc_class):
        try:
            with self.conn.cursor() as cur:
                cur.execute(sql, args)
        except psycopg2.Error as e:
            if e.pgcode != sqlstate or not isinstance(e, exc_class):
                raise CheckFailed(f"{sql}: got {type(e).__name__} SQLSTATE {e.pgcode}, expected "
                                  f"{exc_class.__name__} {sqlstate}: {e}")
            self.conn.rollback()
            got = self.scalar("select 42")
            if got != 42:
                raise CheckFailed(f"the error was right, but then select 42 answered {got!r}")
            self.conn.commit()
            return
        raise CheckFailed(f"{sql}: no error, expected {sqlstate}")

    def c_unique(self):
        self.expect_error(f"insert into {self.tx_table} values (%s, %s)", (1, "duplicate"), "23505",
                          psycopg2.errors.UniqueViolation)

    def c_syntax(self):
        self.expect_error("selec 1", None, "42601", psycopg2.errors.SyntaxError)

    def c_failed_block(self):
        with self.conn.cursor() as cur:
            cur.execute(f"insert into {self.tx_table} values (%s, %s)", (5, "in a failed block"))
            try:
                cur.execute("select 1/0")
                raise CheckFailed("select 1/0: no error, expected 22012")
            except psycopg2.errors.DivisionByZero:
                pass
            try:
                cur.execute("select 1")
                raise CheckFailed("a statement after the error ran, expected 25P02")
            except psycopg2.errors.InFailedSqlTransaction:
                pass
        self.conn.rollback()
        if self.scalar(f"select count(*) from {self.tx_table} where id = 5") != 0:
            raise CheckFailed("the failed block's insert survived the rollback")
        self.conn.commit()

    def c_many_rows(self):
        with self.conn.cursor() as cur:
            cur.execute(f"create table {self.table}_big (id int8 primary key, payload text)")
            cur.executemany(f"insert into {self.table}_big values (%s, %s)",
                            [(i, f"row {i} of 1000") for i in range(1, 1001)])
        self.conn.commit()
        with self.conn.cursor() as cur:
            cur.execute(f"select id, payload from {self.table}_big order by id")
            rows = cur.fetchall()
        self.conn.commit()
        if rows != [(i, f"row {i} of 1000") for i in range(1, 1001)]:
            raise CheckFailed(f"{len(rows)} rows; first {rows[:2]!r}, last {rows[-1:]!r}")

    def c_disconnect(self):
        with self.conn.cursor() as cur:
            for t in (self.table, self.tx_table, self.table + "_big"):
                cur.execute(f"drop table if exists {t}")
        self.conn.commit()
        self.conn.close()
        if not self.conn.closed:
            raise CheckFailed("connection not closed")

    def run(self):
        self.check("connect and select 1", self.c_connect)
        if self.conn is None:
            return
        self.check("create table with every supported type (PostgreSQL DDL)", self.c_create)
        self.check("text: insert rows with bound parameters (NULLs, edge values)", self.c_insert)
        self.check("text: select values back (and their Python types)", self.c_select)
        self.check("text: column names and type OIDs", self.c_types)
        self.check("bound parameters in WHERE (int8, unicode text, bytea)", self.c_where)
        self.check("transaction rollback: the row is gone", self.c_rollback)
        self.check("transaction commit: the row is there after reconnecting", self.c_commit)
        self.check("savepoint: rollback to savepoint, release, commit", self.c_savepoint)
        self.check("unique violation: 23505 (UniqueViolation), then the connection works", self.c_unique)
        self.check("syntax error: 42601 (SyntaxError), then the connection works", self.c_syntax)
        self.check("error in a transaction: 22012, then 25P02 until rollback", self.c_failed_block)
        self.check("1000 rows: executemany in a transaction, read back", self.c_many_rows)
        self.check("disconnect (dropping the tables)", self.c_disconnect)


def main():
    if len(sys.argv) != 5:
        print("usage: psycopg2_test.py HOST PORT DBNAME USER", file=sys.stderr)
        return 2
    r = Runner(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
    r.run()
    print(f"{DRIVER} {psycopg2.__version__.split()[0]}: {r.checks - r.failures} of {r.checks} checks passed")
    return 1 if r.failures else 0


if __name__ == "__main__":
    sys.exit(main())
