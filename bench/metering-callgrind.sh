#!/usr/bin/env bash
# bench/metering-callgrind.sh: what metering costs, in instructions (deterministic, unlike
# tps on a shared 2-core machine).  Dormouse (Release build) runs under valgrind's
# callgrind with metering = off, then on; one pgbench client sends QUERIES simple-protocol
# queries with a literal each (`SELECT abalance FROM t WHERE aid = <random>`, 1,000 rows),
# after 200 to warm up; prints Dormouse's instructions per query (every thread) and the
# ratio.
#
#   bench/metering-callgrind.sh [QUERIES]     (default 3000)
#
# DORMOUSE_BIN picks the binary (default build/release/dormouse, built if missing).
set -euo pipefail
N=${1:-3000}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${DORMOUSE_BIN:-$ROOT/build/release/dormouse}
if [[ ! -x $BIN ]]; then
    cmake -S "$ROOT" -B "$ROOT/build/release" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$ROOT/build/release" -j"$(nproc)" --target dormouse >/dev/null
fi
command -v callgrind_control >/dev/null || { echo "needs valgrind (apt-get install valgrind)"; exit 1; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# run METERING: prints the instructions per query
run() {
    local d port vp n
    d=$(mktemp -d /tmp/dm-callgrind.XXXXXX)
    port=$(free_port)
    printf '[dormouse]\nlisten_port = %s\ndata_dir = %s/data\nhttp_listen =\nmetering = %s\nlog_level = warning\n' \
        "$port" "$d" "$1" >"$d/c.ini"
    valgrind --tool=callgrind --callgrind-out-file="$d/cg.out" "$BIN" -c "$d/c.ini" >"$d/log" 2>&1 &
    vp=$!
    for _ in $(seq 1 120); do
        psql -X -q -h 127.0.0.1 -p "$port" -U u -d b -c "select 1" >/dev/null 2>&1 && break
        sleep 0.5
    done
    psql -X -q -h 127.0.0.1 -p "$port" -U u -d b -c "create table t (aid int primary key, abalance int)" \
        -c "insert into t select g, g from generate_series(1, 1000) g" >/dev/null
    printf '\\set aid random(1, 1000)\nSELECT abalance FROM t WHERE aid = :aid;\n' >"$d/s.sql"
    pgbench -n -M simple -f "$d/s.sql" -t 200 -c 1 -h 127.0.0.1 -p "$port" -U u b >/dev/null 2>&1
    callgrind_control -z "$vp" >/dev/null 2>&1
    pgbench -n -M simple -f "$d/s.sql" -t "$N" -c 1 -h 127.0.0.1 -p "$port" -U u b >/dev/null 2>&1
    callgrind_control -d "$vp" >/dev/null 2>&1
    sleep 1
    kill "$vp"
    wait "$vp" 2>/dev/null || true
    n=$(grep -h "^summary:\|^totals:" "$(ls "$d"/cg.out.* | head -1)" | head -1 | awk '{print $2}')
    rm -rf "$d"
    echo $((n / N))
}
off=$(run off)
on=$(run on)
echo "instructions per query (1 client, $N simple queries): metering off $off, on $on;" \
    "cost $(awk -v a="$on" -v b="$off" 'BEGIN {printf "%.1f%%", (a / b - 1) * 100}')"
