#!/usr/bin/env bash
# Runs every unit test of a (non-sanitizer) build directory under valgrind's
# memcheck, two at a time: invalid reads and writes, uses of uninitialised
# memory and definite leaks fail the run (valgrind's exit code 99), as do
# the tests' own failures.  Usage: scripts/valgrind-unit.sh [BUILD_DIR]
# (default build/release).  The log of each failing test is printed.
set -uo pipefail
dir=${1:-build/release}
command -v valgrind >/dev/null || { echo "valgrind is not installed (scripts/deps.sh test)"; exit 1; }
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
# Tests print SQLite's reals through long double arithmetic, which valgrind
# runs at double precision: DM_VALGRIND lets them skip what depends on it.
export DM_VALGRIND=1 CK_FORK=no CK_DEFAULT_TIMEOUT=600
run_one() {
    local t=$1 logs=$2
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
        --show-leak-kinds=definite "$t" >"$logs/$(basename "$t").log" 2>&1
    echo "$? $(basename "$t")"
}
export -f run_one
results=$(ls "$dir"/unit_* 2>/dev/null | xargs -P"$(nproc)" -I{} bash -c 'run_one "$1" "$2"' _ {} "$logs")
[ -n "$results" ] || { echo "no unit tests in $dir"; exit 1; }
status=0
while read -r rc name; do
    if [ "$rc" -ne 0 ]; then
        status=1
        echo "FAIL (valgrind, exit $rc): $name"
        tail -n 60 "$logs/$name.log"
    fi
done <<<"$results"
echo "valgrind: $(wc -l <<<"$results") unit test programs, $( [ $status -eq 0 ] && echo "all clean" || echo "failures above")"
exit $status
