#!/usr/bin/env bash
# Installs the Debian 12 packages Dormouse needs, only those that are missing.
#   deps.sh run    what building and running Dormouse needs (with psql to talk to it)
#   deps.sh test   that, plus what the test suite needs (PostgreSQL server, pgbench, Python,
#                  and the drivers of tests/drivers/: psycopg2, psycopg 3, asyncpg, pgjdbc
#                  with a JDK, Node.js with npm; curl and headless Chromium for the HTTP
#                  surface and the dashboard; clang and its libFuzzer runtime for
#                  scripts/fuzz.sh)
set -euo pipefail

RUN_PKGS=(build-essential cmake pkg-config libev-dev libssl-dev libpg-query-dev
          libprotobuf-c-dev libxxhash-dev libinih-dev libpq-dev check libsubunit-dev postgresql-client
          libmicrohttpd-dev libjansson-dev libwslay-dev tcl xz-utils)
TEST_PKGS=(postgresql postgresql-contrib sqlite3 python3 procps util-linux
           python3-psycopg2 python3-psycopg python3-asyncpg libpostgresql-jdbc-java
           default-jdk-headless nodejs npm curl chromium openssl
           clang libclang-rt-14-dev valgrind)

want=("${RUN_PKGS[@]}")
if [[ "${1:-run}" == "test" ]]; then
    want+=("${TEST_PKGS[@]}")
fi

# Packages that installed packages provide count as installed: NodeSource's
# nodejs provides (and conflicts with) Debian's npm.
provided=" $(dpkg-query -W -f='${db:Status-Abbrev}|${Provides}\n' 2>/dev/null |
    sed -n 's/^ii *|//p' | tr ',' '\n' | sed 's/(.*//; s/ //g' | sort -u | tr '\n' ' ')"

missing=()
for p in "${want[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" &&
        [[ "$provided" != *" $p "* ]]; then
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

# SQLite is compiled in from Debian's source package (see the script).
bash "$(dirname "$0")/sqlite-source.sh"
