#!/usr/bin/env bash
# libFuzzer runs of the targets in tests/fuzz/ (ASan+UBSan, clang from Debian).
#   fuzz.sh [--merge] [SECONDS] [TARGET...]
# Installs what is missing, builds build/fuzz with clang, then runs each target
# (default: all) for SECONDS (default 30), two at a time, on a copy of its seed
# corpus in a temporary directory.  Exits non-zero on any crash, leak, timeout
# or out-of-memory, naming the input that caused it (copied to
# build/fuzz/crashes/TARGET/) and the command that replays it.
#   --merge  afterwards adds the inputs the run found that reach new code to
#            the seed corpus in tests/fuzz/corpus/TARGET/ (for longer runs:
#            `scripts/fuzz.sh --merge 600`); the test suite never does.
# DM_FUZZ_ARGS adds libFuzzer options to every run (e.g. -only_ascii=1).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

ALL_TARGETS=(startup frontend scram translate config neon)
FUZZ_PKGS=(clang libclang-rt-14-dev)
PARALLEL=2

merge=0
seconds=30
targets=()
for arg in "$@"; do
    case "$arg" in
    --merge) merge=1 ;;
    -h | --help)
        sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *)
        if [[ "$arg" =~ ^[0-9]+$ ]]; then
            seconds=$arg
        elif [[ " ${ALL_TARGETS[*]} " == *" $arg "* ]]; then
            targets+=("$arg")
        else
            echo "fuzz: unknown target or option \"$arg\" (targets: ${ALL_TARGETS[*]})" >&2
            exit 2
        fi
        ;;
    esac
done
((${#targets[@]})) || targets=("${ALL_TARGETS[@]}")

# Largest input per target: enough for every field and limit the parsers
# check, small enough to keep runs fast.
max_len() {
    case "$1" in
    startup | scram) echo 512 ;;
    frontend) echo 2048 ;;
    translate) echo 2048 ;;
    config) echo 4096 ;;
    neon) echo 4096 ;;
    esac
}

# ---- dependencies: Dormouse's own, then clang and its libFuzzer runtime ----
bash scripts/deps.sh run || exit 1
missing=()
for p in "${FUZZ_PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    echo "fuzz: installing ${missing[*]}" >&2
    SUDO=""
    if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || exit 1
fi

# ---- build ----
build=build/fuzz
mkdir -p "$build"
if ! { CC=clang cmake -S . -B "$build" -DDM_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug &&
    cmake --build "$build" -j"$(nproc)" --target fuzz; } >"$build/fuzz-build.log" 2>&1; then
    tail -n 40 "$build/fuzz-build.log" >&2
    echo "fuzz: the build failed (log: $build/fuzz-build.log)" >&2
    exit 1
fi

# ---- runs ----
work=$(mktemp -d /tmp/dm-fuzz.XXXXXX)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

run_one() {
    local name=$1 dir="$work/$1"
    mkdir -p "$dir/corpus" "$dir/artifacts"
    cp tests/fuzz/corpus/"$name"/* "$dir/corpus/"
    local dict=()
    [[ -f tests/fuzz/$name.dict ]] && dict=(-dict="tests/fuzz/$name.dict")
    "$build/tests/fuzz/fuzz_$name" "${dict[@]}" -max_total_time="$seconds" -max_len="$(max_len "$name")" \
        -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$dir/artifacts/" ${DM_FUZZ_ARGS:-} "$dir/corpus" >"$dir/log" 2>&1
    echo $? >"$dir/rc"
}

echo "fuzz: ${targets[*]}, ${seconds} s each, $PARALLEL at a time"
for name in "${targets[@]}"; do
    while (($(jobs -rp | wc -l) >= PARALLEL)); do wait -n; done
    run_one "$name" &
done
wait

status=0
for name in "${targets[@]}"; do
    dir="$work/$name"
    rc=$(cat "$dir/rc" 2>/dev/null || echo 1)
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$dir/log" | tail -n 1)
    if [[ "$rc" == 0 ]]; then
        echo "fuzz_$name: ok (${runs:-?} runs, ${cov:-cov: ?})"
        if ((merge)); then
            before=$(ls tests/fuzz/corpus/"$name" | wc -l)
            "$build/tests/fuzz/fuzz_$name" -merge=1 -max_len="$(max_len "$name")" \
                tests/fuzz/corpus/"$name" "$dir/corpus" >"$dir/merge.log" 2>&1 ||
                { echo "fuzz_$name: merge failed" >&2; status=1; }
            after=$(ls tests/fuzz/corpus/"$name" | wc -l)
            echo "fuzz_$name: merged $((after - before)) new inputs into tests/fuzz/corpus/$name/"
        fi
        continue
    fi
    status=1
    keep="$build/crashes/$name"
    mkdir -p "$keep"
    echo "fuzz_$name: FAILED (exit $rc)"
    grep -E '^==[0-9]+== ?ERROR|runtime error|^SUMMARY|ERROR: libFuzzer' "$dir/log" | head -n 5
    for a in "$dir"/artifacts/*; do
        [[ -e "$a" ]] || continue
        cp "$a" "$keep/"
        echo "  input: $keep/$(basename "$a")"
        echo "  replay: $build/tests/fuzz/fuzz_$name $keep/$(basename "$a")"
    done
    cp "$dir/log" "$keep/log"
    echo "  log: $keep/log"
done
exit $status
