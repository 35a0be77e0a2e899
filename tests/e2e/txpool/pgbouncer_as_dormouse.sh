#!/usr/bin/env bash
# pgbouncer_as_dormouse.sh: a stand-in DORMOUSE_BIN that runs PgBouncer with
# the configuration test_txpool.sh writes, to check the test's mechanics
# (pool limits seen in pg_stat_activity, the queue, cancel, session reset, the
# console) against the pooler whose behaviour Dormouse follows:
#
#   DORMOUSE_BIN=tests/e2e/txpool/pgbouncer_as_dormouse.sh DM_TXPOOL_ADMIN_DB=pgbouncer \
#       DM_E2E_CLIENT=build/dev/dm_e2e_client bash tests/e2e/test_txpool.sh
#
# PgBouncer 1.18 has no SET tracking beyond its few parameters, no
# protocol-level prepared statements, session as its default pool_mode,
# disconnects on query_wait_timeout and on BEGIN in statement mode, allows
# LISTEN, and waits server_login_retry after a restart: those checks fail.
# Usage as Dormouse's: pgbouncer_as_dormouse.sh -c CONFIG.  The process becomes
# pgbouncer (exec), run as postgres when started by root.
set -eu
[ "${1:-}" = -c ] && [ -n "${2:-}" ] || { echo "usage: $0 -c CONFIG" >&2; exit 2; }
conf=$2
dir=$(dirname "$conf")
out=$dir/pgbouncer.ini
/usr/bin/python3 - "$conf" "$out" "$dir/pgbouncer-users.txt" <<'PY'
import re
import sys

src, dst, users = sys.argv[1:4]
res, up = [], None
for line in open(src).read().splitlines():
    s = line.strip()
    if not s or s.startswith(";"):
        continue
    if s == "[dormouse]":
        res.append("[pgbouncer]")
        continue
    if s == "[databases]":
        res += ["unix_socket_dir =", "auth_file = " + users,
                "ignore_startup_parameters = extra_float_digits", "[databases]"]
        continue
    key = s.split("=", 1)[0].strip()
    if key in ("data_dir", "log_level", "max_prepared_statements"):  # not PgBouncer 1.18's
        continue
    if key == "*":  # SQLite: dm_alive_check's database goes to the upstream instead
        port = re.search(r"port=(\d+)", up).group(1)
        res.append("alive = host=127.0.0.1 port=%s dbname=app user=app password=secret" % port)
        continue
    if "host=" in s and up is None:
        up = s
    res.append(line)
open(dst, "w").write("\n".join(res) + "\n")
open(users, "w").write('"someone" ""\n"admin" ""\n"alive" ""\n"postgres" ""\n')
PY
chmod 644 "$out" "$dir/pgbouncer-users.txt"
if [ "$(id -u)" -eq 0 ]; then
    exec setpriv --reuid=postgres --regid=postgres --init-groups /usr/sbin/pgbouncer "$out"
fi
exec /usr/sbin/pgbouncer "$out"
