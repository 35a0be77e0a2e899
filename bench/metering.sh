#!/usr/bin/env bash
# bench/metering.sh: what metering costs.  pgbench's select-only script
# (-S, 10 clients, 2 threads) against Dormouse's SQLite engine with
# metering = on (every query's usage journaled before its result is sent,
# then summed into the ledger by its thread) and metering = off, back to
# back, three times each, on the same data; prints tps and the ratio, and
# Dormouse's CPU time per query (user + system, all its threads, from
# /proc), which a noisy machine disturbs less than tps.
#
#   bench/metering.sh [SECONDS] [MODES]   (default 10 s per run; MODES "simple prepared":
#                                          pgbench's -M, literal texts or prepared statements)
#
# DORMOUSE_BIN picks the binary (default build/release/dormouse, built if
# missing).
set -euo pipefail
SECS=${1:-10}
MODES=${2:-simple prepared}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DORMOUSE=${DORMOUSE_BIN:-$ROOT/build/release/dormouse}
if [[ ! -x $DORMOUSE ]]; then
    cmake -S "$ROOT" -B "$ROOT/build/release" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$ROOT/build/release" -j"$(nproc)" --target dormouse >/dev/null
fi
TMP=$(mktemp -d /tmp/dm-metering.XXXXXX)
trap 'kill $(cat "$TMP"/*.pid 2>/dev/null) 2>/dev/null; rm -rf "$TMP"' EXIT
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

start() { # on|off
    cat >"$TMP/$1.ini" <<INI
[dormouse]
listen_addr = 127.0.0.1
listen_port = $PORT
data_dir = $TMP/data
auth_type = trust
log_level = warning
http_listen =
metering = $1
INI
    "$DORMOUSE" -c "$TMP/$1.ini" >"$TMP/$1.log" 2>&1 &
    echo $! >"$TMP/dm.pid"
    for _ in $(seq 100); do pg_isready -q -h 127.0.0.1 -p "$PORT" && return 0; sleep 0.1; done
    echo "dormouse did not start" >&2
    exit 1
}
stop() { kill "$(cat "$TMP/dm.pid")"; wait "$(cat "$TMP/dm.pid")" 2>/dev/null || true; }
# the process's CPU seconds so far (utime + stime)
cpu() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$(cat "$TMP/dm.pid")/stat"; }

mkdir -p "$TMP/data"
start off
pgbench -i -q -s 1 -h 127.0.0.1 -p "$PORT" bsqlite >"$TMP/init.log" 2>&1
stop
report() { # mode
    local m=$1
    local on off uon uoff
    on=$(best "${tps[$m.on]}")
    off=$(best "${tps[$m.off]}")
    uon=$(least "${us[$m.on]}")
    uoff=$(least "${us[$m.off]}")
    echo
    echo "pgbench -S -M $m, 10 clients, ${SECS} s per run, best of 3, $(nproc) cores"
    echo
    echo "| metering | tps (runs) | best | Dormouse CPU µs per query (runs) | least |"
    echo "|---|---|---|---|---|"
    echo "| off |${tps[$m.off]} | $off |${us[$m.off]} | $uoff |"
    echo "| on |${tps[$m.on]} | $on |${us[$m.on]} | $uon |"
    awk -v a="$on" -v b="$off" -v c="$uon" -v d="$uoff" 'BEGIN {
        printf "\ntps on/off: %.3f (cost %.1f%%); CPU per query on/off: %.3f (cost %.1f%%)\n", a / b, (1 - a / b) * 100, c / d, (c / d - 1) * 100 }'
}

declare -A tps us
for pmode in $MODES; do
    for round in 1 2 3; do
        for mode in off on; do
            start $mode
            c0=$(cpu)
            out=$(pgbench -n -S -M "$pmode" -c 10 -j 2 -T "$SECS" -h 127.0.0.1 -p "$PORT" bsqlite 2>/dev/null)
            c1=$(cpu)
            t=$(awk '/^tps/ {print int($3); exit}' <<<"$out")
            n=$(awk '/^number of transactions actually processed/ {print $NF; exit}' <<<"$out")
            tps[$pmode.$mode]="${tps[$pmode.$mode]:-} $t"
            us[$pmode.$mode]="${us[$pmode.$mode]:-} $(awk -v a="$c0" -v b="$c1" -v n="$n" 'BEGIN { printf "%.2f", (b - a) * 1e6 / n }')"
            stop
        done
    done
done
best() { printf '%s\n' $1 | sort -g | tail -1; }
least() { printf '%s\n' $1 | sort -g | head -1; }
for pmode in $MODES; do
    report "$pmode"
done
