#!/usr/bin/env bash
# The whole test suite: install what is missing, then
#   1. a Release build (warnings are errors there too) running the unit tests,
#      then the same unit tests under valgrind's memcheck,
#   2. an ASan+UBSan build running every unit and end-to-end test,
#   3. the libFuzzer targets of tests/fuzz/ (clang, ASan+UBSan), 20 s each, and
#   4. a ThreadSanitizer build running the end-to-end tests where threads meet
#      most (several event loops, pools, COPY, cancels, pause and resume).
#      Tests whose outcome depends on timing under load (test_concurrency's
#      100 writers against sqlite_busy_timeout) are left to the ASan build:
#      TSan slows everything down several times.
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

echo "== valgrind (memcheck): unit tests of the Release build"
bash scripts/valgrind-unit.sh build/release || status=1

echo "== ASan+UBSan build: unit and end-to-end tests"
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Asan >/dev/null &&
    cmake --build build/asan -j"$jobs" >/dev/null &&
    ctest --test-dir build/asan --output-on-failure -j"$jobs" || status=1

echo "== libFuzzer targets (scripts/fuzz.sh): 20 s each"
bash scripts/fuzz.sh 20 || status=1

echo "== TSan build: end-to-end tests of the threads"
TSAN_OPTIONS="halt_on_error=0 exitcode=66 suppressions=$root/tests/tsan.supp" \
    cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=Tsan >/dev/null &&
    cmake --build build/tsan -j"$jobs" --target dormouse dm_e2e_client >/dev/null &&
    TSAN_OPTIONS="halt_on_error=0 exitcode=66 suppressions=$root/tests/tsan.supp" \
        ctest --test-dir build/tsan --output-on-failure -j"$jobs" \
        -R '^e2e/test_(workers|txpool|copy|pgbench|auth_query|scale_to_zero|managed_pg|http|usage|tls|neon_ws)$' || status=1

exit $status
