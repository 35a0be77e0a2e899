#!/usr/bin/env bash
# bench/coldstart.sh: scale to zero measured: cold-start latency of SQLite,
# SQLite with cold_dir and a managed PostgreSQL against their active
# databases and a bare `pg_ctl start`, then resident memory with 10,000
# active versus 10,000 paused SQLite databases.  See bench/coldstart.py.
#
#   bench/coldstart.sh [RESUMES [DATABASES]]    (default 100 and 10000)
#
# Run as root (the managed PostgreSQL runs as postgres).  DORMOUSE_BIN picks
# the binary (default build/release/dormouse, built if missing); KEEP=1 keeps
# the temporary directory.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DORMOUSE=${DORMOUSE_BIN:-$ROOT/build/release/dormouse}
if [[ ! -x $DORMOUSE ]]; then
    cmake -S "$ROOT" -B "$ROOT/build/release" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$ROOT/build/release" -j"$(nproc)" --target dormouse >/dev/null
fi
# 10,000 open SQLite databases: three descriptors each
if [[ $(ulimit -Hn) != unlimited ]] && (($(ulimit -Hn) < 65536)); then ulimit -Hn 65536 2>/dev/null || true; fi
ulimit -n "$(ulimit -Hn)"
DORMOUSE_BIN=$DORMOUSE exec /usr/bin/python3 "$ROOT/bench/coldstart.py" "$@"
