#!/usr/bin/python3
"""asyncpg_test.py: the driver-matrix checks for asyncpg.

    /usr/bin/python3 asyncpg_test.py HOST PORT DBNAME USER

asyncpg speaks only the extended query protocol with named prepared
statements (its statement cache) and the binary format for every built-in
type, parameters and results alike; json and jsonb travel as text.  Checks:
a table of every supported type from PostgreSQL DDL, rows inserted with $n
parameters (one execute per row, then executemany), values and the type OIDs
of a prepared statement, transactions and a savepoint
(conn.transaction() blocks), errors with their SQLSTATEs and recovery on the
same connection, a 1000-row result, and a clean disconnect.

Prints one "PASS: asyncpg: CHECK" or "FAIL: asyncpg: CHECK" line per check
(details of a failure follow on lines starting with "    | ") and exits 1 if
any check failed.  A failed check reconnects if the connection is gone, so
that the later checks still run and report.
"""

import asyncio
import json
import os
import sys
import time
import traceback
import uuid

import asyncpg

from driver_common import (NAMES, ROWS, J, JB, CheckFailed, columns, compare_rows,
                           expected_rows)

DRIVER = "asyncpg"
TIMEOUT = 20  # seconds for any one call: a bound against a hung server

COLUMNS = columns({"j": str, "jb": str})


def bind_args(row):
    args = list(row)
    for i in (J, JB):
        if args[i] is not None:
            args[i] = json.dumps(args[i], ensure_ascii=False)
    return args


def decode_json(i, value):
    return json.loads(value) if i in (J, JB) and isinstance(value, str) else value

class Runner:
    def __init__(self, host, port, dbname, user):
        self.params = dict(host=host, port=port, database=dbname, user=user, timeout=TIMEOUT,
                           command_timeout=TIMEOUT, ssl=False)
        self.conn = None
        self.failures = 0
        self.checks = 0
        self.base = f"drv_asyncpg_{os.getpid()}_{int(time.time() * 1000) % 100000000}"
        self.table = self.base + "_types"
        self.tx_table = self.base + "_tx"

    async def connect(self):
        self.conn = await asyncpg.connect(**self.params)

    async def check(self, name, fn):
        self.checks += 1
        try:
            await asyncio.wait_for(fn(), 3 * TIMEOUT)
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
            await self.recover()
            return
        print(f"PASS: {DRIVER}: {name}")
        sys.stdout.flush()

    async def recover(self):
        try:
            if self.conn is not None and not self.conn.is_closed():
                if self.conn.is_in_transaction():
                    await self.conn.execute("rollback")
                return
        except Exception:
            pass
        try:
            if self.conn is not None:
                self.conn.terminate()
        except Exception:
            pass
        try:
            await self.connect()
        except Exception:
            self.conn = None

    # ---- the checks ----

    async def c_connect(self):
        await self.connect()
        got = await self.conn.fetchval("select 1")
        if got != 1:
            raise CheckFailed(f"select 1 returned {got!r}")

    async def c_create(self):
        cols = ", ".join(f"{n} {t}" for n, t, _, _ in COLUMNS)
        await self.conn.execute(f"create table {self.table} (id int4 primary key, {cols})")
        await self.conn.execute(f"create table {self.tx_table} (id int4 primary key, v text not null)")

    async def c_insert(self):
        marks = ", ".join(f"${i + 1}" for i in range(len(NAMES)))
        sql = f"insert into {self.table} ({', '.join(NAMES)}) values ({marks})"
        for r in ROWS[:2]:
            status = await self.conn.execute(sql, *bind_args(r))
            if status != "INSERT 0 1":
                raise CheckFailed(f"command tag {status!r} for id {r[0]}")
        await self.conn.executemany(sql, [bind_args(r) for r in ROWS[2:]])

    async def c_select(self):
        rows = await self.conn.fetch(f"select {', '.join(NAMES)} from {self.table} order by id")
        compare_rows(expected_rows(), [tuple(r.values()) for r in rows], decode_json)
        for name, _, _, pytype in COLUMNS:
            v = rows[0][name]
            if not isinstance(v, pytype):
                raise CheckFailed(f"column {name}: Python type {type(v).__name__}, expected {pytype}")

    async def c_types(self):
        stmt = await self.conn.prepare(f"select {', '.join(NAMES)} from {self.table} where id = $1")
        got = [(a.name, a.type.oid) for a in stmt.get_attributes()]
        params = [t.oid for t in stmt.get_parameters()]
        want = [("id", 23)] + [(n, oid) for n, _, oid, _ in COLUMNS]
        if got != want:
            raise CheckFailed(f"column (name, type OID): expected {want}, got {got}")
        if params != [23]:
            raise CheckFailed(f"parameter type OIDs: expected [23], got {params}")
        row = await stmt.fetchrow(2)
        if row["i8"] != -9223372036854775808:
            raise CheckFailed(f"prepared statement with id=2: i8 = {row['i8']!r}")

    async def c_where(self):
        got = await self.conn.fetch(
            f"select id, t from {self.table} where i8 = $1 and t = $2 and bt = $3 and u = $4",
            9223372036854775807, "héllo wörld ☃ 日本語 🐭", b"\x00\xff\x01\x80\x00",
            uuid.UUID("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"))
        nulls = await self.conn.fetchval(f"select count(*) from {self.table} where b is null and i4 is null")
        got = [tuple(r.values()) for r in got]
        if got != [(1, "héllo wörld ☃ 日本語 🐭")] or nulls != 1:
            raise CheckFailed(f"where with parameters: {got!r}, null row count {nulls!r}")

    async def c_rollback(self):
        class Undo(Exception):
            pass

        try:
            async with self.conn.transaction():
                await self.conn.execute(f"insert into {self.tx_table} values ($1, $2)", 1, "rolled back")
                raise Undo()
        except Undo:
            pass
        n = await self.conn.fetchval(f"select count(*) from {self.tx_table} where id = $1", 1)
        if n != 0:
            raise CheckFailed(f"the rolled back row is still there ({n})")

    async def c_commit(self):
        async with self.conn.transaction():
            await self.conn.execute(f"insert into {self.tx_table} values ($1, $2)", 1, "committed")
        await self.conn.close()
        await self.connect()
        v = await self.conn.fetchval(f"select v from {self.tx_table} where id = $1", 1)
        if v != "committed":
            raise CheckFailed(f"after commit and reconnect: {v!r}")

    async def c_savepoint(self):
        class Undo(Exception):
            pass

        async with self.conn.transaction():
            await self.conn.execute(f"insert into {self.tx_table} values ($1, $2)", 2, "kept")
            try:
                async with self.conn.transaction():  # a savepoint
                    await self.conn.execute(f"insert into {self.tx_table} values ($1, $2)", 3, "undone")
                    raise Undo()
            except Undo:
                pass
            async with self.conn.transaction():
                await self.conn.execute(f"insert into {self.tx_table} values ($1, $2)", 4, "released")
        ids = [r["id"] for r in await self.conn.fetch(f"select id from {self.tx_table} order by id")]
        if ids != [1, 2, 4]:
            raise CheckFailed(f"ids after the savepoint rollback: {ids}, expected [1, 2, 4]")

    async def expect_error(self, sql, args, sqlstate, exc_class):
        try:
            await self.conn.execute(sql, *args)
        except asyncpg.PostgresError as e:
            if e.sqlstate != sqlstate or not isinstance(e, exc_class):
                raise CheckFailed(f"{sql}: got {type(e).__name__} SQLSTATE {e.sqlstate}, expected "
                                  f"{exc_class.__name__} {sqlstate}: {e}")
            got = await self.conn.fetchval("select 42")
            if got != 42:
                raise CheckFailed(f"the error was right, but then select 42 answered {got!r}")
            return
        raise CheckFailed(f"{sql}: no error, expected {sqlstate}")

    async def c_unique(self):
        await self.expect_error(f"insert into {self.tx_table} values ($1, $2)", (1, "duplicate"), "23505",
                                asyncpg.exceptions.UniqueViolationError)

    async def c_syntax(self):
        await self.expect_error("selec $1", (1,), "42601", asyncpg.exceptions.PostgresSyntaxError)

    async def c_failed_block(self):
        tr = self.conn.transaction()
        await tr.start()
        try:
            await self.conn.execute(f"insert into {self.tx_table} values ($1, $2)", 5, "in a failed block")
            try:
                await self.conn.fetchval("select 1/0")
                raise CheckFailed("select 1/0: no error, expected 22012")
            except asyncpg.exceptions.DivisionByZeroError:
                pass
            try:
                await self.conn.fetchval("select $1::int4", 1)
                raise CheckFailed("a statement after the error ran, expected 25P02")
            except asyncpg.exceptions.InFailedSQLTransactionError:
                pass
        finally:
            await tr.rollback()
        if await self.conn.fetchval(f"select count(*) from {self.tx_table} where id = 5") != 0:
            raise CheckFailed("the failed block's insert survived the rollback")

    async def c_many_rows(self):
        big = self.base + "_big"
        async with self.conn.transaction():
            await self.conn.execute(f"create table {big} (id int8 primary key, payload text)")
            await self.conn.executemany(f"insert into {big} values ($1, $2)",
                                        [(i, f"row {i} of 1000") for i in range(1, 1001)])
        rows = await self.conn.fetch(f"select id, payload from {big} order by id")
        rows = [tuple(r.values()) for r in rows]
        if rows != [(i, f"row {i} of 1000") for i in range(1, 1001)]:
            raise CheckFailed(f"{len(rows)} rows; first {rows[:2]!r}, last {rows[-1:]!r}")

    async def c_disconnect(self):
        for t in ("types", "tx", "big"):
            await self.conn.execute(f"drop table if exists {self.base}_{t}")
        await self.conn.close()
        if not self.conn.is_closed():
            raise CheckFailed("connection not closed")

    async def run(self):
        await self.check("connect and select 1", self.c_connect)
        if self.conn is None:
            return
        await self.check("create table with every supported type (PostgreSQL DDL)", self.c_create)
        await self.check("binary: insert rows with $n parameters (execute, executemany)", self.c_insert)
        await self.check("binary: select values back (and their Python types)", self.c_select)
        await self.check("prepared statement: column names, type OIDs, parameter types", self.c_types)
        await self.check("bound parameters in WHERE (int8, unicode text, bytea, uuid)", self.c_where)
        await self.check("transaction rollback: the row is gone", self.c_rollback)
        await self.check("transaction commit: the row is there after reconnecting", self.c_commit)
        await self.check("savepoint: nested transaction() rolled back, another released", self.c_savepoint)
        await self.check("unique violation: 23505 (UniqueViolationError), then the connection works",
                         self.c_unique)
        await self.check("syntax error: 42601 (PostgresSyntaxError), then the connection works", self.c_syntax)
        await self.check("error in a transaction: 22012, then 25P02 until rollback", self.c_failed_block)
        await self.check("1000 rows: executemany in a transaction, read back", self.c_many_rows)
        await self.check("disconnect (dropping the tables)", self.c_disconnect)


def main():
    if len(sys.argv) != 5:
        print("usage: asyncpg_test.py HOST PORT DBNAME USER", file=sys.stderr)
        return 2
    r = Runner(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4])
    asyncio.run(r.run())
    print(f"{DRIVER} {asyncpg.__version__}: {r.checks - r.failures} of {r.checks} checks passed")
    return 1 if r.failures else 0


if __name__ == "__main__":
    sys.exit(main())
