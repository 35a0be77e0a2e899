#!/usr/bin/env bash
# The whole test suite: install what is missing, then
#   1. an ASan+UBSan build running every unit and end-to-end test, and
#   2. a Release build (warnings are errors there too) running the unit tests.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/deps.sh test || exit 1
jobs=$(nproc)
status=0

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

echo "== Release build: unit tests"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null &&
    cmake --build build/release -j"$jobs" >/dev/null &&
    ctest --test-dir build/release -R '^unit/' --output-on-failure -j"$jobs" || status=1

echo "== ASan+UBSan build: unit and end-to-end tests"
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Asan >/dev/null &&
    cmake --build build/asan -j"$jobs" >/dev/null &&
    ctest --test-dir build/asan --output-on-failure -j"$jobs" || status=1

exit $status
