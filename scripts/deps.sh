#!/usr/bin/env bash
# Installs the Debian 12 packages Dormouse needs, only those that are missing.
#   deps.sh run    what building and running Dormouse needs (with psql to talk to it)
#   deps.sh test   that, plus what the test suite needs (PostgreSQL server, pgbench, Python)
set -euo pipefail

RUN_PKGS=(build-essential cmake pkg-config libev-dev libssl-dev libsqlite3-dev libpg-query-dev
          libxxhash-dev libinih-dev libpq-dev check libsubunit-dev postgresql-client)
TEST_PKGS=(postgresql postgresql-contrib sqlite3 python3 procps util-linux)

want=("${RUN_PKGS[@]}")
if [[ "${1:-run}" == "test" ]]; then
    want+=("${TEST_PKGS[@]}")
fi

missing=()
for p in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if ((${#missing[@]})); then
    echo "deps: installing ${missing[*]}" >&2
    SUDO=""
    if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
