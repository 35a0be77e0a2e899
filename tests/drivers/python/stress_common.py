"""stress_common.py: what the prepared-statement stress programs share.

Many clients of one database each prepare the same statements under the same
names and execute them many times, so that a transaction pooler that shares
few server connections between them must keep every client's statements
apart (the same name with a different text in each client), re-create them
on whichever server a transaction lands, and never let one client see
another's statement.  Every result carries the client's number, so a
statement executed for the wrong client is a wrong result, not luck.

The statements of client K (the same in tests/drivers/node/prepared_stress.mjs
and tests/drivers/java/PreparedStress.java):

  shared   select $1::int4 * 2 as v                        same text everywhere
  mine     K even: select $1::int4 + K*1000 as v, 'client K' as who
           K odd:  select 'client K: ' || $1::text as who, K::int8 as k
                                                            same name, another
                                                            text, parameter and
                                                            result types
  only     select $1::int8 + $2::int8 as s, K as k          a name of its own
  div      select 100 / $1::int4 as q                       22012 with 0
  appname  select current_setting('application_name') || ' ' ||
           current_setting('work_mem') as a                 after the client's
                                                            SET application_name
                                                            = 'dm-stress-K' and
                                                            SET work_mem =
                                                            '(64+K)MB'
  extra J  select $1::int4 + J as v, 'extra' as e           J = 0..5, through the
                                                            driver's statement
                                                            cache (eviction)

The checks each program prints, one line each over all its clients:
"PASS: DRIVER: CHECK" or "FAIL: DRIVER: CHECK" with up to five distinct
failures, then the counts, on "    | " lines; then "TITLE: N of M checks
passed".  A watchdog reports and ends the program after DM_STRESS_DEADLINE
seconds (60), so that a hung pooler cannot hide what went wrong.
"""

import os
import sys
import threading

CHECKS = [
    ("connect", "{n} clients connected at once"),
    ("shared", "same statement name and text in every client, autocommit executions"),
    ("mine", "same statement name, another text and other types in each client, autocommit"),
    ("only", "a statement name of its own per client (two parameters), autocommit"),
    ("tx", "statements prepared earlier, executed inside explicit transactions"),
    ("error", "error in a transaction (22012), rollback, then the statements still work"),
    ("session", "SET application_name and work_mem at connect, seen in every round (a statement named alike everywhere)"),
    ("evict", "six more statements per round through the driver's statement cache ({how})"),
    ("names", "no 26000 (prepared statement does not exist) or 42P05 (already exists) error"),
    ("close", "disconnect"),
]

SHARED = "select $1::int4 * 2 as v"
# After the client's SET application_name = 'dm-stress-K' and SET work_mem = '(64+K)MB'
# (reported to the client with ParameterStatus, and not).
APPNAME = "select current_setting('application_name') || ' ' || current_setting('work_mem') as a"


def session_sets(k):
    return [f"set application_name = 'dm-stress-{k}'", f"set work_mem = '{64 + k}MB'"]


def session_value(k):
    return f"dm-stress-{k} {64 + k}MB"

DIV = "select 100 / $1::int4 as q"


def mine(k):
    """(text, parameter for x, expected row for x) of client k's "mine"."""
    if k % 2 == 0:
        return (f"select $1::int4 + {k * 1000} as v, 'client {k}' as who",
                lambda x: x, lambda x: (x + k * 1000, f"client {k}"))
    return (f"select 'client {k}: ' || $1::text as who, {k}::int8 as k",
            lambda x: str(x), lambda x: (f"client {k}: {x}", k))


def only(k):
    return f"select $1::int8 + $2::int8 as s, {k} as k"


def extra(j):
    return f"select $1::int4 + {j} as v, 'extra' as e"


EXTRAS = 6


class Tally:
    """Counts successes and keeps the first distinct failures per check; thread-safe."""

    def __init__(self, driver, clients):
        self.driver = driver
        self.clients = clients
        self.lock = threading.Lock()
        self.ok = {c: 0 for c, _ in CHECKS}
        self.bad = {c: [] for c, _ in CHECKS}
        self.nbad = {c: 0 for c, _ in CHECKS}
        self.skipped = set()
        self.finished = False

    def good(self, check, n=1):
        with self.lock:
            self.ok[check] += n

    def fail(self, check, client, detail, sqlstate=None):
        detail = f"client {client}: {detail}".replace("\n", " ")
        detail = detail.split(" HINT:")[0]  # asyncpg's long note about pgbouncer
        if len(detail) > 300:
            detail = detail[:297] + "..."
        if sqlstate:
            detail += f" [SQLSTATE {sqlstate}]"
        with self.lock:
            self.nbad[check] += 1
            if len(self.bad[check]) < 5 and detail not in self.bad[check]:
                self.bad[check].append(detail)
            if sqlstate in ("26000", "42P05"):
                self.nbad["names"] += 1
                if len(self.bad["names"]) < 5:
                    self.bad["names"].append(f"{detail} (in: {check})")

    def skip(self, check):
        self.skipped.add(check)

    def finish(self, how, title):
        """Prints the check lines and "TITLE: N of M checks passed" once (the
        first caller wins: the program, or its watchdog); returns the exit
        status, or None if already printed."""
        with self.lock:
            if self.finished:
                return None
            self.finished = True
            checks = failures = 0
            for c, name in CHECKS:
                if c in self.skipped:
                    continue
                name = name.format(n=self.clients, how=how)
                checks += 1
                if c == "names":  # vacuous unless statements ran
                    self.ok[c] = sum(self.ok[o] for o in ("shared", "mine", "only", "tx", "error", "session", "evict"))
                if self.nbad[c] == 0 and self.ok[c] > 0:
                    print(f"PASS: {self.driver}: {name}")
                    continue
                failures += 1
                print(f"FAIL: {self.driver}: {name}")
                for d in self.bad[c]:
                    print(f"    | {d}")
                print(f"    | {self.ok[c]} executions correct, {self.nbad[c]} wrong or failed")
            print(f"{title}: {checks - failures} of {checks} checks passed")
            sys.stdout.flush()
            return 1 if failures else 0

    def watchdog(self, how, title):
        """After DEADLINE seconds, reports what the clients did so far and
        ends the process (clients may be stuck in a read)."""
        def fire():
            self.fail("close", "*", f"the program did not finish within {DEADLINE:g} s")
            if self.finish(how, title) is not None:
                os._exit(1)
        t = threading.Timer(DEADLINE, fire)
        t.daemon = True
        t.start()


# Seconds the clients may run before the program reports what it has (a
# hung pooler must not outlive the test's own time limit).
DEADLINE = float(os.environ.get("DM_STRESS_DEADLINE", "60"))


def args(argv, usage):
    """HOST PORT DBNAME USER [CLIENTS [ROUNDS]]"""
    if len(argv) not in (5, 6, 7):
        print(f"usage: {usage} HOST PORT DBNAME USER [CLIENTS [ROUNDS]]", file=sys.stderr)
        sys.exit(2)
    clients = int(argv[5]) if len(argv) > 5 else 8
    rounds = int(argv[6]) if len(argv) > 6 else 15
    return argv[1], int(argv[2]), argv[3], argv[4], clients, rounds
