#!/usr/bin/env bash
# bench/pgbench.sh: Dormouse (embedded SQLite) side by side with a direct
# PostgreSQL and with PgBouncer (transaction pooling) in front of that
# PostgreSQL, in one run, on loopback.  Prints a Markdown table of tps and
# average latency, and the ratios Dormouse/direct and Dormouse/PgBouncer.
#
#   bench/pgbench.sh [SECONDS]        (default 10 s per run)
#
# Workloads (pgbench custom scripts, so that all three serve the same SQL):
#   point-select   select one row by primary key from a 10,000-row table
#   connect-select the same, with a new connection per transaction (-C): the
#                  serverless pattern of one connection per function call
#   insert         insert one row (a write and a durable commit each)
#   pgbench -S     pgbench's built-in select-only script on its own tables
#                  (pgbench -i -s 10 on PostgreSQL and on Dormouse), -M extended
#   pgbench tpcb   pgbench's default TPC-B-like script (three updates, a select
#                  and an insert per transaction), -M simple
# It builds Dormouse (Release) if needed and starts everything itself on free
# ports, as the postgres user where PostgreSQL and PgBouncer insist on it.
set -euo pipefail

SECS=${1:-10}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
DORMOUSE=${DORMOUSE_BIN:-$ROOT/build/release/dormouse}
if [[ ! -x $DORMOUSE ]]; then
    cmake -S "$ROOT" -B "$ROOT/build/release" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$ROOT/build/release" -j"$(nproc)" --target dormouse >/dev/null
fi
command -v pgbouncer >/dev/null || { echo "pgbouncer is not installed (apt-get install pgbouncer)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/dm-bench.XXXXXX)
chown postgres "$TMP"; chmod 755 "$TMP"
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.5
    [[ -d $TMP/pg ]] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$TMP/pg" -m immediate stop >/dev/null 2>&1 || true
    [[ -n ${KEEP:-} ]] || rm -rf "$TMP"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PG_PORT=$(free_port); BOUNCER_PORT=$(free_port); DM_PORT=$(free_port)
export PGHOST=127.0.0.1 PGUSER=bench PGDATABASE=bench PGCONNECT_TIMEOUT=10 PGGSSENCMODE=disable

# PostgreSQL: as it would run in production, durable commits.
mkdir "$TMP/pg" && chown postgres "$TMP/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$TMP/pg" -U postgres -A trust >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$TMP/pg" -l "$TMP/pg/server.log" -w \
    -o "-p $PG_PORT -k $TMP -c listen_addresses=127.0.0.1 -c max_connections=300" start >/dev/null
psql -q -p "$PG_PORT" -U postgres -d postgres -c "create role bench login superuser" -c "create database bench owner bench"

# PgBouncer in transaction mode in front of it.
cat >"$TMP/bouncer.ini" <<EOF
[databases]
bench = host=127.0.0.1 port=$PG_PORT dbname=bench
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $TMP/users.txt
pool_mode = transaction
default_pool_size = 20
max_client_conn = 2000
logfile = $TMP/bouncer.log
EOF
echo '"bench" ""' >"$TMP/users.txt"
chown postgres "$TMP/bouncer.ini" "$TMP/users.txt"
runuser -u postgres -- pgbouncer "$TMP/bouncer.ini" >/dev/null 2>&1 &
PIDS+=($!)

# Dormouse on its embedded SQLite engine.
"$DORMOUSE" --port "$DM_PORT" --data-dir "$TMP/dm" --log-level warning 2>"$TMP/dm.log" &
PIDS+=($!)

for port in "$BOUNCER_PORT" "$DM_PORT"; do
    for _ in $(seq 100); do pg_isready -q -p "$port" && break; sleep 0.1; done
done

SETUP="create table kv(id integer primary key, v text);
insert into kv with recursive s(i) as (select 1 union all select i + 1 from s where i < 10000) select i, 'value ' || i from s;
create table log(at text, n integer);"
psql -q -p "$PG_PORT" -c "$SETUP"
psql -q -p "$DM_PORT" -c "$SETUP"

# pgbench's own tables, scale 10 (1,000,000 accounts), on both servers
pgbench -i -q -s 10 -p "$PG_PORT" >/dev/null 2>&1
pgbench -i -q -s 10 -p "$DM_PORT" >/dev/null 2>&1

cat >"$TMP/select.sql" <<'EOF'
\set id random(1, 10000)
select v from kv where id = :id;
EOF
cat >"$TMP/insert.sql" <<'EOF'
\set n random(1, 1000000)
insert into log(at, n) values ('now', :n);
EOF

run() { # target port script clients extra-args -> "tps latency_ms"
    local port=$1 script=$2 clients=$3
    shift 3
    local -a what=(-f "$script" -M simple)
    case $script in
    */builtin:select-only) what=(-b select-only -M extended) ;;
    */builtin:tpcb) what=(-b tpcb-like -M simple) ;;
    esac
    local out
    out=$(pgbench -n -p "$port" "${what[@]}" -c "$clients" -j 2 -T "$SECS" "$@" 2>&1) || {
        echo "pgbench failed on port $port: $out" >&2
        echo "0 0"
        return
    }
    local tps lat
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out" | head -1)
    lat=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' <<<"$out" | head -1)
    echo "${tps:-0} ${lat:-0}"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }

echo
echo "Dormouse $("$DORMOUSE" --version | cut -d' ' -f2) vs PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') and $(pgbouncer --version | head -1); $SECS s per run, $(nproc) cores"
echo
echo "| workload | clients | direct PostgreSQL tps | PgBouncer tps | Dormouse (SQLite) tps | Dormouse latency ms | Dormouse/direct | Dormouse/PgBouncer |"
echo "|---|---|---|---|---|---|---|---|"
for spec in "point-select select.sql 10" "point-select select.sql 50" "connect-select select.sql 10 -C" \
    "insert insert.sql 10" "pgbench-S builtin:select-only 10" "pgbench-tpcb builtin:tpcb 10"; do
    read -r name script clients extra <<<"$spec"
    read -r d_tps _ <<<"$(run "$PG_PORT" "$TMP/$script" "$clients" $extra)"
    read -r b_tps _ <<<"$(run "$BOUNCER_PORT" "$TMP/$script" "$clients" $extra)"
    read -r m_tps m_lat <<<"$(run "$DM_PORT" "$TMP/$script" "$clients" $extra)"
    printf '| %s | %s | %.0f | %.0f | %.0f | %s | %s | %s |\n' "$name" "$clients" "$d_tps" "$b_tps" "$m_tps" "$m_lat" \
        "$(ratio "$m_tps" "$d_tps")" "$(ratio "$m_tps" "$b_tps")"
done
