#!/usr/bin/python3
"""psycopg3_stress.py: many psycopg 3 clients, the same prepared-statement names.

    /usr/bin/python3 psycopg3_stress.py HOST PORT DBNAME USER [CLIENTS [ROUNDS]]

CLIENTS connections (default 8, one thread each) of one database, all open
at once, executing the statements of stress_common.py with prepare=True for
ROUNDS rounds (default 15).  psycopg names its statements _pg3_0, _pg3_1, ...
per connection, so every client uses the same names for different texts.
Each client SETs application_name and work_mem first.  Even clients keep
psycopg's default (a transaction opened by the first statement, commit() /
rollback()); odd ones are autocommit and use conn.transaction() blocks.
prepared_max=6 with eleven statements per round
makes psycopg evict and DEALLOCATE statements (an SQL DEALLOCATE _pg3_N,
sent inside the open transaction), and psycopg 3.1 follows every ROLLBACK
of a connection with prepared statements by DEALLOCATE ALL.  Meant for a
transaction pooler with a pool far smaller than CLIENTS; against PostgreSQL
itself every check passes.  Output as stress_common.py describes.
"""

import re
import sys
import threading

import psycopg

from stress_common import (APPNAME, DIV, EXTRAS, SHARED, Tally, args, extra, mine, only,
                           session_sets, session_value)

DRIVER = "psycopg3-stress"


def q(sql):
    return re.sub(r"\$\d", "%s", sql)


def op(tally, check, k, conn, sql, params, expect):
    try:
        got = conn.execute(q(sql), params, prepare=True).fetchone()
    except psycopg.Error as e:
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


def end(conn, how="commit"):
    if not conn.autocommit:
        getattr(conn, how)()


def client(k, conn, tally, rounds):
    msql, marg, mexp = mine(k)
    osql = only(k)
    for i in range(rounds):
        if conn.closed:
            tally.fail("close", k, f"connection lost in round {i}")
            return
        x = k * 100 + i
        try:
            op(tally, "shared", k, conn, SHARED, (x,), (2 * x,))
            end(conn)
            op(tally, "mine", k, conn, msql, (marg(x),), mexp(x))
            end(conn)
            op(tally, "only", k, conn, osql, (x, k), (x + k, k))
            end(conn)

            with conn.transaction():
                ok = op(tally, "tx", k, conn, SHARED, (x + 1,), (2 * (x + 1),))
                ok = ok and op(tally, "tx", k, conn, msql, (marg(x + 1),), mexp(x + 1))
                ok = ok and op(tally, "tx", k, conn, osql, (x, 1), (x + 1, k))
                ok = ok and op(tally, "tx", k, conn, msql, (marg(x + 2),), mexp(x + 2))
                if not ok:
                    raise psycopg.Rollback()
            end(conn)

            if conn.autocommit:
                try:
                    with conn.transaction():
                        op(tally, "error", k, conn, SHARED, (x,), (2 * x,))
                        conn.execute(q(DIV), (0,), prepare=True)
                    tally.fail("error", k, "100 / 0: no error")
                except psycopg.errors.DivisionByZero:
                    tally.good("error")
            else:
                op(tally, "error", k, conn, SHARED, (x,), (2 * x,))
                try:
                    conn.execute(q(DIV), (0,), prepare=True)
                    tally.fail("error", k, "100 / 0: no error")
                except psycopg.errors.DivisionByZero:
                    tally.good("error")
                conn.rollback()  # ROLLBACK, then DEALLOCATE ALL
            op(tally, "error", k, conn, DIV, (4,), (25,))
            op(tally, "error", k, conn, msql, (marg(x),), mexp(x))
            end(conn)

            op(tally, "session", k, conn, APPNAME, None, (session_value(k),))
            end(conn)

            for j in range(EXTRAS):
                op(tally, "evict", k, conn, extra(j), (x,), (x + j, "extra"))
            end(conn)
        except Exception as e:
            tally.fail("tx", k, f"round {i}: {type(e).__name__}: {e}", getattr(e, "sqlstate", None))
            try:
                conn.rollback()
            except Exception:
                pass


def main():
    host, port, db, user, clients, rounds = args(sys.argv, "psycopg3_stress.py")
    tally = Tally(DRIVER, clients)
    how = "prepared_max=6: DEALLOCATE _pg3_N; DEALLOCATE ALL after ROLLBACK"
    title = (f"{DRIVER} (psycopg {psycopg.__version__}, libpq {psycopg.pq.version()}, {clients} clients x {rounds} "
             "rounds)")
    tally.watchdog(how, title)
    conninfo = psycopg.conninfo.make_conninfo(host=host, port=port, dbname=db, user=user, connect_timeout=10)
    conns = []
    for k in range(clients):
        try:
            c = psycopg.connect(conninfo, autocommit=(k % 2 == 1))
            c.prepared_max = 6
            for s in session_sets(k):
                c.execute(s)
            end(c)
            conns.append((k, c))
            tally.good("connect")
        except psycopg.Error as e:
            tally.fail("connect", k, f"{type(e).__name__}: {e}", e.sqlstate)
    threads = [threading.Thread(target=client, args=(k, c, tally, rounds), daemon=True) for k, c in conns]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k, c in conns:
        try:
            c.close()
            tally.good("close")
        except Exception as e:
            tally.fail("close", k, f"{type(e).__name__}: {e}")
    rc = tally.finish(how, title)
    return 1 if rc is None else rc


if __name__ == "__main__":
    sys.exit(main())
