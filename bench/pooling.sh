#!/usr/bin/env bash
# bench/pooling.sh: Dormouse's transaction pooling in front of PostgreSQL,
# side by side with PgBouncer (transaction mode) and with direct connections to
# the same PostgreSQL, in one run, on loopback; then the resident memory of
# Dormouse and of PgBouncer with 0, 1,000 and 10,000 idle client connections.
#
#   bench/pooling.sh [SECONDS]        (default 10 s per pgbench run)
#
# Environment: DORMOUSE_BIN=path/to/dormouse (default build/release/dormouse,
# built if missing), KEEP=1 keeps the temporary directory (logs) afterwards.
#
# Workloads (pgbench -n -j 2 on pgbench's tables, pgbench -i -s 10), each run
# direct, through PgBouncer and through Dormouse, back to back:
#   -S            pgbench's select-only script, -M simple: 10, 50, 1000 clients
#   -C -S         the same with a new connection per transaction: 10, 50
#   -S -M prepared  protocol-level prepared statements, 200 clients on a pool
#                 of 20 (PgBouncer 1.18 cannot do this in transaction mode: its
#                 column says "fails")
#   SQLite engine Dormouse's embedded SQLite (database bsqlite, its own pgbench
#                 -i -s 10): -S 10, -S 50, -C -S 10
# Pools: PgBouncer and Dormouse both pool_mode = transaction, default_pool_size
# = 20.  PostgreSQL 15 keeps its durable defaults (fsync, synchronous_commit),
# with max_connections = 1100 for the 1000 direct clients.
# Each pgbench run lasts SECONDS + clients/200 s: -T includes the time to open
# the connections (seconds for 1000 direct backends), which tps leaves out.
# Output: a Markdown table of tps, Dormouse's average latency and the ratios,
# then one of resident memory; "fails" marks a run that did not finish
# cleanly, with pgbench's first error listed under the table.
# Memory: idle clients (logged in to the upstream database bench, doing
# nothing) are held by bench/idle_clients.py over raw sockets; VmRSS comes from
# /proc/PID/status of fresh Dormouse and PgBouncer processes.
set -euo pipefail

SECS=${1:-10}
[[ $SECS =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [SECONDS]" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PGBIN=/usr/lib/postgresql/15/bin
PGBOUNCER=/usr/sbin/pgbouncer
PYTHON=/usr/bin/python3
DORMOUSE=${DORMOUSE_BIN:-$ROOT/build/release/dormouse}
POOL=20
IDLE_STEPS=(1000 10000)

[[ $(id -u) == 0 ]] || { echo "$0: run as root (PostgreSQL and PgBouncer are started as postgres)" >&2; exit 1; }
[[ -x $PGBIN/postgres ]] || { echo "$0: PostgreSQL 15 not found in $PGBIN" >&2; exit 1; }
[[ -x $PGBOUNCER ]] || { echo "$0: $PGBOUNCER not found (apt-get install pgbouncer)" >&2; exit 1; }
command -v pgbench >/dev/null || { echo "$0: pgbench not found" >&2; exit 1; }
if [[ ! -x $DORMOUSE ]]; then
    cmake -S "$ROOT" -B "$ROOT/build/release" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$ROOT/build/release" -j"$(nproc)" --target dormouse >/dev/null
fi

# 1000 pgbench clients, 10,000 idle clients: every process here needs more
# descriptors than the usual 1024.  Root may raise the hard limit; in a
# container it may not, then the hard limit it is.
if [[ $(ulimit -Hn) != unlimited ]] && (($(ulimit -Hn) < 65536)); then ulimit -Hn 65536 2>/dev/null || true; fi
ulimit -n "$(ulimit -Hn)"
if (($(ulimit -n) < ${IDLE_STEPS[-1]} + 100)); then
    echo "$0: warning: only $(ulimit -n) file descriptors; the ${IDLE_STEPS[-1]}-client memory step will fail" >&2
fi

TMP=$(mktemp -d /tmp/dm-pooling.XXXXXX)
chown postgres "$TMP"; chmod 755 "$TMP"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 0.5
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    [[ -f $TMP/pg/postmaster.pid ]] && runuser -u postgres -- "$PGBIN/pg_ctl" -D "$TMP/pg" -m immediate stop >/dev/null 2>&1 || true
    if [[ -n ${KEEP:-} ]]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() { # port name
    local _
    for _ in $(seq 100); do pg_isready -q -h 127.0.0.1 -p "$1" && return 0; sleep 0.1; done
    echo "$0: $2 did not start on port $1" >&2
    exit 1
}
export PGHOST=127.0.0.1 PGUSER=bench PGDATABASE=bench PGCONNECT_TIMEOUT=10 PGGSSENCMODE=disable PGSSLMODE=disable

# PostgreSQL 15 as it would run in production (durable commits).
PG_PORT=$(free_port)
mkdir "$TMP/pg" && chown postgres "$TMP/pg"
runuser -u postgres -- "$PGBIN/initdb" -D "$TMP/pg" -U postgres -A trust >/dev/null
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$TMP/pg" -l "$TMP/pg.log" -w -t 60 \
    -o "-p $PG_PORT -k $TMP -c listen_addresses=127.0.0.1 -c max_connections=1100" start >/dev/null
psql -q -p "$PG_PORT" -U postgres -d postgres -c "create role bench login superuser" -c "create database bench owner bench"

start_bouncer() { # name -> BOUNCER_PORT, BOUNCER_PID
    BOUNCER_PORT=$(free_port)
    cat >"$TMP/$1.ini" <<EOF
[databases]
bench = host=127.0.0.1 port=$PG_PORT dbname=bench user=bench
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER_PORT
unix_socket_dir =
auth_type = trust
auth_file = $TMP/users.txt
pool_mode = transaction
default_pool_size = $POOL
max_client_conn = 20000
logfile = $TMP/$1.log
EOF
    echo '"bench" ""' >"$TMP/users.txt"
    chown postgres "$TMP/$1.ini" "$TMP/users.txt"
    # setpriv, not runuser: runuser's PAM session would reset the descriptor
    # limit to 1024; and $! is PgBouncer itself, whose VmRSS is measured.
    setpriv --reuid=postgres --regid=postgres --init-groups "$PGBOUNCER" "$TMP/$1.ini" >/dev/null 2>&1 &
    BOUNCER_PID=$!
    PIDS+=("$BOUNCER_PID")
    wait_ready "$BOUNCER_PORT" PgBouncer
}

start_dormouse() { # name -> DM_PORT, DM_PID
    DM_PORT=$(free_port)
    cat >"$TMP/$1.ini" <<EOF
[dormouse]
listen_addr = 127.0.0.1
listen_port = $DM_PORT
data_dir = $TMP/dm
max_client_conn = 20000
log_level = warning
pool_mode = transaction
default_pool_size = $POOL
[databases]
bench = host=127.0.0.1 port=$PG_PORT dbname=bench user=bench
* = engine=sqlite
EOF
    "$DORMOUSE" --config "$TMP/$1.ini" 2>>"$TMP/$1.log" &
    DM_PID=$!
    PIDS+=("$DM_PID")
    wait_ready "$DM_PORT" Dormouse
}

stop() { # pid
    kill "$1" 2>/dev/null || true
    local _
    for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done
    kill -9 "$1" 2>/dev/null || true
}

start_bouncer bouncer
start_dormouse dormouse

# pgbench's tables, scale 10 (1,000,000 accounts): in PostgreSQL (shared by
# the three ways in) and in Dormouse's SQLite database bsqlite.
pgbench -i -q -s 10 -p "$PG_PORT" bench >"$TMP/init-pg.log" 2>&1 ||
    { cat "$TMP/init-pg.log" >&2; exit 1; }
pgbench -i -q -s 10 -p "$DM_PORT" bsqlite >"$TMP/init-sqlite.log" 2>&1 ||
    { cat "$TMP/init-sqlite.log" >&2; exit 1; }
psql -q -p "$PG_PORT" -c "checkpoint"

NOTES=()
RUN=0
run() { # port database clients pgbench-args... -> "tps latency_ms", or "fails"
    local port=$1 db=$2 clients=$3
    shift 3
    # pgbench's -T includes the time its threads take to open their clients'
    # connections (about 2.5 s for 1000 fresh PostgreSQL backends on 2 cores),
    # while its tps leaves that time out: allow clients/200 s for it.
    local log=$TMP/run-$RUN.log rc=0
    pgbench -n -p "$port" -c "$clients" -j 2 -T $((SECS + clients / 200)) "$@" "$db" >"$log" 2>&1 || rc=$?
    local tps lat
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$log" | head -1)
    lat=$(sed -n 's/^latency average = \([0-9.]*\) ms.*/\1/p' "$log" | head -1)
    if ((rc != 0)) || [[ -z $tps ]]; then
        echo "fails"
    else
        echo "$tps ${lat:-0}"
    fi
}
# the first error of the last run, for the notes under the table
why() {
    local log=$TMP/run-$RUN.log
    if grep -q '^number of transactions actually processed: 0$' "$log" && ! grep -qiE 'error|abort|fatal' "$log"; then
        echo "no transaction completed within the run (connections still opening?)"
    else
        { grep -m1 -iE 'error|abort|fatal' "$log" || tail -1 "$log"; } | cut -c1-240
    fi
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a+0 > 0 && b+0 > 0) printf "%.2f", a / b; else print "n/a" }'; }
num() { [[ $1 == fails || $1 == n/a ]] && echo "$1" || printf '%.0f' "$1"; }

echo
echo "Dormouse $("$DORMOUSE" --version | awk '{print $2}') (pool_mode = transaction, default_pool_size = $POOL)" \
    "vs PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') and PgBouncer $("$PGBOUNCER" --version | awk 'NR==1 {print $2}')" \
    "(transaction mode, default_pool_size = $POOL); pgbench -n -j 2, $SECS s per run (+ clients/200 s to connect), $(nproc) cores"
echo
echo "| workload | clients | direct tps | PgBouncer tps | Dormouse tps | Dormouse avg latency ms | Dormouse/PgBouncer | Dormouse/direct |"
echo "|---|---|---|---|---|---|---|---|"
# name | clients | target (postgres: direct, PgBouncer, Dormouse; sqlite: Dormouse's SQLite) | pgbench args
SPECS=(
    "select-only (-S)|10|postgres|-S -M simple"
    "select-only (-S)|50|postgres|-S -M simple"
    "select-only (-S)|1000|postgres|-S -M simple"
    "connection per transaction (-C -S)|10|postgres|-C -S -M simple"
    "connection per transaction (-C -S)|50|postgres|-C -S -M simple"
    "prepared statements (-M prepared -S)|200|postgres|-S -M prepared"
    "SQLite engine: select-only (-S)|10|sqlite|-S -M simple"
    "SQLite engine: select-only (-S)|50|sqlite|-S -M simple"
    "SQLite engine: connection per transaction (-C -S)|10|sqlite|-C -S -M simple"
)
for spec in "${SPECS[@]}"; do
    IFS='|' read -r name clients target args <<<"$spec"
    read -ra args <<<"$args"
    if [[ $target == postgres ]]; then
        RUN=$((RUN + 1)); read -r d_tps _ <<<"$(run "$PG_PORT" bench "$clients" "${args[@]}")"
        [[ $d_tps == fails ]] && NOTES+=("$name, $clients clients, direct: $(why)")
        RUN=$((RUN + 1)); read -r b_tps _ <<<"$(run "$BOUNCER_PORT" bench "$clients" "${args[@]}")"
        [[ $b_tps == fails ]] && NOTES+=("$name, $clients clients, PgBouncer: $(why)")
    else
        d_tps=n/a b_tps=n/a
    fi
    db=bench; [[ $target == sqlite ]] && db=bsqlite
    RUN=$((RUN + 1)); read -r m_tps m_lat <<<"$(run "$DM_PORT" "$db" "$clients" "${args[@]}")"
    [[ $m_tps == fails ]] && { NOTES+=("$name, $clients clients, Dormouse: $(why)"); m_lat=n/a; }
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$clients" "$(num "$d_tps")" "$(num "$b_tps")" \
        "$(num "$m_tps")" "$m_lat" "$(ratio "$m_tps" "$b_tps")" "$(ratio "$m_tps" "$d_tps")"
done
if ((${#NOTES[@]})); then
    echo
    for n in "${NOTES[@]}"; do echo "- fails: $n"; done
fi

# Resident memory with idle clients, on fresh processes (the runs above leave
# freed memory behind in the allocators).  The clients log in to the upstream
# database bench; in transaction mode they hold no server connection, which
# the last column checks from PostgreSQL's side.
stop "$DM_PID"
stop "$BOUNCER_PID"
start_bouncer bouncer-mem
start_dormouse dormouse-mem

backends() {
    psql -X -Atq -p "$PG_PORT" -U postgres -d postgres \
        -c "select count(*) from pg_stat_activity where datname = 'bench' and backend_type = 'client backend'"
}
memory() { # label port pid [database]
    local label=$1 port=$2 pid=$3 db=${4:-bench} n rss
    local hold=$TMP/hold-$2-$db
    mkdir -p "$hold"
    "$PYTHON" "$ROOT/bench/idle_clients.py" --port "$port" --pid "$pid" --user bench --database "$db" \
        --hold-dir "$hold" "${IDLE_STEPS[@]}" >"$hold.out" 2>"$hold.err" &
    local py=$! seen=0 want=$((${#IDLE_STEPS[@]} + 1))
    PIDS+=("$py")
    declare -A RSS=() SRV=()
    while ((seen < want)); do
        if (($(wc -l <"$hold.out") > seen)); then
            read -r n rss < <(sed -n "$((seen + 1))p" "$hold.out")
            RSS[$n]=$rss
            SRV[$n]=$(backends)
            touch "$hold/$n"
            seen=$((seen + 1))
        elif kill -0 "$py" 2>/dev/null; then
            sleep 0.05
        else
            break
        fi
    done
    wait "$py" || true
    local row="| $label | ${RSS[0]:-fails}"
    for n in "${IDLE_STEPS[@]}"; do row+=" | ${RSS[$n]:-fails}"; done
    for n in "${IDLE_STEPS[@]}"; do
        if [[ -n ${RSS[$n]:-} ]]; then
            row+=" | $(awk -v a="${RSS[$n]}" -v b="${RSS[0]}" -v n="$n" 'BEGIN { printf "%.1f", (a - b) / n }')"
        else
            row+=" | fails"
        fi
    done
    row+=" | ${SRV[${IDLE_STEPS[-1]}]:-n/a} |"
    echo "$row"
    [[ -s $hold.err ]] && MEMNOTES+=("$label: $(head -1 "$hold.err")")
    return 0
}

thousands() { sed ':a;s/\B[0-9]\{3\}\>/,&/;ta' <<<"$1"; }
MEMNOTES=()
echo
echo "Resident memory (VmRSS, KiB) with idle clients logged in to bench (and, for the SQLite row, to bsqlite), doing nothing:"
echo
hdr="| server | 0 clients"
sep="|---|---"
for n in "${IDLE_STEPS[@]}"; do hdr+=" | $(thousands "$n") idle"; sep+="|---"; done
for n in "${IDLE_STEPS[@]}"; do hdr+=" | KiB per client ($(thousands "$n"))"; sep+="|---"; done
echo "$hdr | PostgreSQL connections at $(thousands "${IDLE_STEPS[-1]}") |"
echo "$sep|---|"
memory Dormouse "$DM_PORT" "$DM_PID"
sleep 1
memory "Dormouse, SQLite database" "$DM_PORT" "$DM_PID" bsqlite
sleep 1 # let it see the idle clients leave, rather than tell them it shuts down
stop "$DM_PID" # so that the PostgreSQL connections counted next are PgBouncer's
memory PgBouncer "$BOUNCER_PORT" "$BOUNCER_PID"
if ((${#MEMNOTES[@]})); then
    echo
    for n in "${MEMNOTES[@]}"; do echo "- fails: $n"; done
fi
