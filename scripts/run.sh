#!/usr/bin/env bash
# Quick start: install what is missing, build Dormouse (Release), and start it
# in the background on 127.0.0.1:6432 with the embedded SQLite engine.
#   scripts/run.sh               start (or restart) it; logs in data/dormouse.log
#   scripts/run.sh --foreground  run it in this terminal instead
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/deps.sh run
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j"$(nproc)" --target dormouse >/dev/null

config="${DORMOUSE_CONFIG:-scripts/dormouse.ini}"
mkdir -p data
if [[ "${1:-}" == "--foreground" ]]; then
    exec build/release/dormouse -c "$config"
fi

if [[ -f data/dormouse.pid ]] && kill -0 "$(cat data/dormouse.pid)" 2>/dev/null; then
    echo "stopping the running Dormouse (pid $(cat data/dormouse.pid))"
    kill "$(cat data/dormouse.pid)"
    for _ in $(seq 50); do kill -0 "$(cat data/dormouse.pid)" 2>/dev/null || break; sleep 0.1; done
fi
nohup build/release/dormouse -c "$config" >>data/dormouse.log 2>&1 &
echo $! > data/dormouse.pid
for _ in $(seq 100); do
    if pg_isready -q -h 127.0.0.1 -p 6432 2>/dev/null; then
        echo "Dormouse is running (pid $(cat data/dormouse.pid)) on 127.0.0.1:6432; logs: data/dormouse.log"
        echo "Try:  psql \"host=127.0.0.1 port=6432 dbname=demo user=demo\""
        echo "Stop: kill \$(cat data/dormouse.pid)"
        exit 0
    fi
    if ! kill -0 "$(cat data/dormouse.pid)" 2>/dev/null; then
        echo "Dormouse failed to start:" >&2
        tail -20 data/dormouse.log >&2
        exit 1
    fi
    sleep 0.1
done
echo "Dormouse did not become ready in 10 s; see data/dormouse.log" >&2
exit 1
