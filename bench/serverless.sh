#!/usr/bin/env bash
# bench/serverless.sh: one-shot query latency, the serverless pattern, from
# Node: Neon's serverless driver over HTTP (neon(), POST /sql) and over a new
# WebSocket per query (/v2), against node-postgres with a new TCP connection
# per query and with one kept connection (the floor); to Dormouse's SQLite
# engine, to Dormouse relaying to a PostgreSQL, and to that PostgreSQL
# directly, side by side in one run, on loopback.
#
#   bench/serverless.sh [QUERIES [SECONDS [CLIENTS]]]
#       QUERIES  sequential one-shot queries per (way in, server, query), default 500
#       SECONDS  per concurrent run, default 3 (0: none)
#       CLIENTS  concurrent clients, default 8
#
# Environment: AUTH=scram-sha-256 (default), md5 or trust: how clients log in,
# the same for PostgreSQL (pg_hba.conf for 127.0.0.1, password_encryption) and
# for Dormouse (auth_type, and an auth_file holding the secret PostgreSQL
# stores, pg_authid.rolpassword: the same SCRAM verifier, 4096 iterations, or
# md5 hash).  DORMOUSE_BIN=path/to/dormouse (default build/release/dormouse,
# built if missing), WAYS=http@sqlite,tcp@pg,... to run only some rows (see
# serverless/bench.mjs), WS_QUERIES=50: sequential queries of the rows with a
# new WebSocket per query (with SCRAM each costs 100 ms or more of the
# driver's JavaScript PBKDF2: see serverless/bench.mjs; with AUTH=trust they
# are cheap, QUERIES is fine), KEEP=1 keeps the temporary directory (logs).
# Needs Node 18 or later and npm: the drivers (@neondatabase/serverless 1.2.0,
# pg, ws) are installed with `npm ci` from serverless/package-lock.json into
# serverless/node_modules.  As root, PostgreSQL runs as the postgres user.
#
# The queries: `select $1::int + 1 as n` and `select id, name, balance from
# items where id = $1` on a 1,000-row table (the same one in Dormouse's SQLite
# database and in PostgreSQL); a new connection per query means connect (with
# its login), the query, and end().  Dormouse runs with its defaults (workers,
# metering, transaction pooling of the relayed database); PostgreSQL 15 with
# its defaults.  Output: Markdown tables of latency percentiles and CPU per
# query, with ratios to the kept connection of the same server and to a new
# TCP connection to PostgreSQL, then queries/s with CLIENTS concurrent clients.
set -euo pipefail

NQ=${1:-500}
SECS=${2:-3}
CLIENTS=${3:-8}
[[ $NQ =~ ^[1-9][0-9]*$ && $SECS =~ ^[0-9]+$ && $CLIENTS =~ ^[1-9][0-9]*$ ]] ||
    { echo "usage: $0 [QUERIES [SECONDS [CLIENTS]]]" >&2; exit 2; }
AUTH=${AUTH:-scram-sha-256}
case $AUTH in scram-sha-256 | md5 | trust) ;; *) echo "$0: AUTH must be scram-sha-256, md5 or trust" >&2; exit 2 ;; esac
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH=$ROOT/bench/serverless
PGBIN=/usr/lib/postgresql/15/bin
PYTHON=/usr/bin/python3
DORMOUSE=${DORMOUSE_BIN:-$ROOT/build/release/dormouse}
PASSWORD=bench-pw

[[ -x $PGBIN/postgres ]] || { echo "$0: PostgreSQL 15 not found in $PGBIN" >&2; exit 1; }
command -v node >/dev/null && command -v npm >/dev/null || { echo "$0: node and npm are needed" >&2; exit 1; }
(($(node -p 'process.versions.node.split(".")[0]') >= 18)) || { echo "$0: Node 18 or later is needed (fetch)" >&2; exit 1; }
if [[ ! -x $DORMOUSE ]]; then
    cmake -S "$ROOT" -B "$ROOT/build/release" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$ROOT/build/release" -j"$(nproc)" --target dormouse >/dev/null
fi
if [[ ! -f $BENCH/node_modules/.package-lock.json || $BENCH/package-lock.json -nt $BENCH/node_modules/.package-lock.json ]]; then
    (cd "$BENCH" && npm ci --no-audit --no-fund --loglevel=error >&2)
fi

TMP=$(mktemp -d /tmp/dm-serverless.XXXXXX)
chmod 755 "$TMP"
AS_PG=()
if [[ $(id -u) == 0 ]]; then
    chown postgres "$TMP"
    AS_PG=(runuser -u postgres --)
fi
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null || true
    done
    [[ -f $TMP/pg/postmaster.pid ]] && "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$TMP/pg" -m immediate stop >/dev/null 2>&1 || true
    if [[ -n ${KEEP:-} ]]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() { # port name
    local _
    for _ in $(seq 100); do pg_isready -q -h 127.0.0.1 -p "$1" -U bench -d bench && return 0; sleep 0.1; done
    echo "$0: $2 did not start on port $1" >&2
    exit 1
}
export PGCONNECT_TIMEOUT=10 PGGSSENCMODE=disable PGSSLMODE=disable

# PostgreSQL 15 with its defaults; clients on 127.0.0.1 log in with $AUTH
# (the setup here uses the Unix socket, trusted).
PG_PORT=$(free_port)
mkdir "$TMP/pg"
[[ ${#AS_PG[@]} -gt 0 ]] && chown postgres "$TMP/pg"
"${AS_PG[@]}" "$PGBIN/initdb" -D "$TMP/pg" -U postgres --auth-local=trust --auth-host="$AUTH" >/dev/null
PWENC=scram-sha-256
[[ $AUTH == md5 ]] && PWENC=md5
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$TMP/pg" -l "$TMP/pg.log" -w -t 60 \
    -o "-p $PG_PORT -k $TMP -c listen_addresses=127.0.0.1 -c password_encryption=$PWENC" start >/dev/null
PG_PID=$(head -1 "$TMP/pg/postmaster.pid")
psql -X -q -h "$TMP" -p "$PG_PORT" -U postgres -d postgres \
    -c "create role bench login password '$PASSWORD'" -c "create database bench owner bench"
SECRET=$(psql -X -Atq -h "$TMP" -p "$PG_PORT" -U postgres -d postgres -c "select rolpassword from pg_authid where rolname = 'bench'")

# Dormouse: its SQLite engine for any database, and relay to PostgreSQL's bench.
DM_PORT=$(free_port)
DM_HTTP_PORT=$(free_port)
echo "\"bench\" \"$SECRET\"" >"$TMP/userlist.txt"
cat >"$TMP/dormouse.ini" <<EOF
[dormouse]
listen_addr = 127.0.0.1
listen_port = $DM_PORT
sql_http_listen = 127.0.0.1:$DM_HTTP_PORT
http_listen =
data_dir = $TMP/dm
log_level = warning
auth_type = $AUTH
auth_file = $TMP/userlist.txt
[databases]
relay = host=127.0.0.1 port=$PG_PORT dbname=bench user=bench password=$PASSWORD
* = engine=sqlite
EOF
"$DORMOUSE" --config "$TMP/dormouse.ini" 2>>"$TMP/dormouse.log" &
DM_PID=$!
PIDS+=("$DM_PID")
wait_ready "$DM_PORT" Dormouse

CMD="bench/serverless.sh${*:+ $*}"
[[ -n ${WAYS:-} ]] && CMD="WAYS=$WAYS $CMD"
[[ -n ${WS_QUERIES:-} ]] && CMD="WS_QUERIES=$WS_QUERIES $CMD"
[[ $AUTH != scram-sha-256 ]] && CMD="AUTH=$AUTH $CMD"
case $AUTH in
    scram-sha-256) AUTHNOTE="SCRAM-SHA-256 for both (PostgreSQL's verifier, 4096 iterations, in Dormouse's auth_file)" ;;
    md5) AUTHNOTE="md5 for both (PostgreSQL's md5 hash in Dormouse's auth_file)" ;;
    trust) AUTHNOTE="trust for both" ;;
esac
echo
echo "Dormouse $("$DORMOUSE" --version | awk '{print $2}') (defaults; SQLite engine, and relaying to the PostgreSQL)" \
    "vs PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') (defaults); login: $AUTHNOTE; $(nproc) cores, loopback"
echo
echo "Command: $CMD"
echo
DM_PORT=$DM_PORT DM_HTTP_PORT=$DM_HTTP_PORT DM_PID=$DM_PID PG_PORT=$PG_PORT PG_PID=$PG_PID \
    DB_USER=bench DB_PASSWORD=$PASSWORD N=$NQ WS_N=${WS_QUERIES:-50} SECS=$SECS CLIENTS=$CLIENTS WAYS=${WAYS:-} \
    node "$BENCH/bench.mjs"
if grep -qiE 'error|fatal|panic|assert' "$TMP/dormouse.log"; then
    echo
    echo "Dormouse's log (errors):"
    echo
    grep -iE 'error|fatal|panic|assert' "$TMP/dormouse.log" | sort | uniq -c | sort -rn | head -10 | sed 's/^/    /'
fi
