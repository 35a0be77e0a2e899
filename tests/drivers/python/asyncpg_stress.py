#!/usr/bin/python3
"""asyncpg_stress.py: many asyncpg clients, the same prepared-statement names.

    /usr/bin/python3 asyncpg_stress.py HOST PORT DBNAME USER [CLIENTS [ROUNDS]]

CLIENTS connections (default 8) of one database, all open at once, each
preparing the statements of stress_common.py with conn.prepare(name=...)
(Parse and Describe outside any transaction, under names every client uses:
dm_shared, dm_mine, dm_div, dm_appname, and dm_only_K) after two SETs, then
for ROUNDS rounds (default 15) executing them (Bind/Execute only) in
autocommit, inside transactions, and around an error, plus six queries through asyncpg's own statement cache
(statement_cache_size=3: evicted statements are closed with a Close message;
their names, __asyncpg_stmt_N__, are process-wide).  Meant for a
transaction pooler with a pool far smaller than CLIENTS; against PostgreSQL
itself every check passes.  Output as stress_common.py describes.
"""

import asyncio
import sys

import asyncpg

from stress_common import (APPNAME, DIV, EXTRAS, SHARED, Tally, args, extra, mine, only,
                           session_sets, session_value)

DRIVER = "asyncpg-stress"
TIMEOUT = 20


async def op(tally, check, k, fn, expect):
    try:
        got = await fn()
    except asyncpg.PostgresError as e:
        tally.fail(check, k, f"{type(e).__name__}: {e}", e.sqlstate)
        return False
    except Exception as e:
        tally.fail(check, k, f"{type(e).__name__}: {e}")
        return False
    if got != expect:
        tally.fail(check, k, f"expected {expect!r}, got {got!r}")
        return False
    tally.good(check)
    return True


def row(coro_fn):
    async def f():
        r = await coro_fn()
        return tuple(r) if r is not None else None
    return f


async def client(k, conn, tally, rounds):
    msql, marg, mexp = mine(k)
    try:
        shared = await conn.prepare(SHARED, name="dm_shared")
        m = await conn.prepare(msql, name="dm_mine")
        o = await conn.prepare(only(k), name=f"dm_only_{k}")
        d = await conn.prepare(DIV, name="dm_div")
        a = await conn.prepare(APPNAME, name="dm_appname")
    except asyncpg.PostgresError as e:
        tally.fail("shared", k, f"preparing: {type(e).__name__}: {e}", e.sqlstate)
        return
    except Exception as e:
        tally.fail("shared", k, f"preparing: {type(e).__name__}: {e}")
        return
    for i in range(rounds):
        if conn.is_closed():
            tally.fail("close", k, f"connection lost in round {i}")
            return
        x = k * 100 + i
        await op(tally, "shared", k, lambda: shared.fetchval(x), 2 * x)
        await op(tally, "mine", k, row(lambda: m.fetchrow(marg(x))), mexp(x))
        await op(tally, "only", k, row(lambda: o.fetchrow(x, k)), (x + k, k))

        try:
            async with conn.transaction():
                ok = await op(tally, "tx", k, lambda: shared.fetchval(x + 1), 2 * (x + 1))
                ok = ok and await op(tally, "tx", k, row(lambda: m.fetchrow(marg(x + 1))), mexp(x + 1))
                ok = ok and await op(tally, "tx", k, row(lambda: o.fetchrow(x, 1)), (x + 1, k))
                ok = ok and await op(tally, "tx", k, row(lambda: m.fetchrow(marg(x + 2))), mexp(x + 2))
        except Exception as e:
            tally.fail("tx", k, f"transaction: {type(e).__name__}: {e}", getattr(e, "sqlstate", None))

        tr = conn.transaction()
        try:
            await tr.start()
            await op(tally, "error", k, lambda: shared.fetchval(x), 2 * x)
            try:
                await d.fetchval(0)
                tally.fail("error", k, "100 / 0: no error")
            except asyncpg.exceptions.DivisionByZeroError:
                tally.good("error")
            await tr.rollback()
        except Exception as e:
            tally.fail("error", k, f"{type(e).__name__}: {e}", getattr(e, "sqlstate", None))
            if conn.is_in_transaction():
                await tr.rollback()
        await op(tally, "error", k, lambda: d.fetchval(4), 25)
        await op(tally, "error", k, row(lambda: m.fetchrow(marg(x))), mexp(x))

        await op(tally, "session", k, lambda: a.fetchval(), session_value(k))

        for j in range(EXTRAS):
            await op(tally, "evict", k, row(lambda: conn.fetchrow(extra(j), x)), (x + j, "extra"))


async def main_async(host, port, db, user, clients, rounds, tally):
    params = dict(host=host, port=port, database=db, user=user, timeout=TIMEOUT,
                  command_timeout=TIMEOUT, ssl=False, statement_cache_size=3)
    results = await asyncio.gather(*(asyncpg.connect(**params) for _ in range(clients)),
                                   return_exceptions=True)
    conns = []
    for k, c in enumerate(results):
        if isinstance(c, BaseException):
            tally.fail("connect", k, f"{type(c).__name__}: {c}", getattr(c, "sqlstate", None))
        else:
            try:
                for s in session_sets(k):
                    await c.execute(s)
            except Exception as e:
                tally.fail("session", k, f"SET: {type(e).__name__}: {e}", getattr(e, "sqlstate", None))
            tally.good("connect")
            conns.append((k, c))
    await asyncio.gather(*(client(k, c, tally, rounds) for k, c in conns))
    for k, c in conns:
        try:
            await c.close(timeout=TIMEOUT)
            tally.good("close")
        except Exception as e:
            tally.fail("close", k, f"{type(e).__name__}: {e}")


def main():
    host, port, db, user, clients, rounds = args(sys.argv, "asyncpg_stress.py")
    tally = Tally(DRIVER, clients)
    how = "statement_cache_size=3: Close of evicted statements"
    title = f"{DRIVER} (asyncpg {asyncpg.__version__}, {clients} clients x {rounds} rounds)"
    tally.watchdog(how, title)
    asyncio.run(main_async(host, port, db, user, clients, rounds, tally))
    rc = tally.finish(how, title)
    return 1 if rc is None else rc


if __name__ == "__main__":
    sys.exit(main())
