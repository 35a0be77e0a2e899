#!/usr/bin/env bash
# bench/faas-sim.sh: serverless traffic (bench/faas-sim, dm_faas_sim) against
# Dormouse on SQLite, Dormouse running a managed PostgreSQL, and a plain
# always-on PostgreSQL, one after the other, with the same profile and seed;
# then bench/faas-sim/report.py writes OUT/report.md and its SVG charts.
#
#   bench/faas-sim.sh [--profile NAME|FILE] [--setups sqlite,managed,postgres]
#                     [--out DIR] [--seed N] [--time-scale X] [--http-port N]
#                     [--idle-timeout S]
#
#   --profile     a file, or NAME for bench/faas-sim/profiles/NAME.ini
#                 (default bursts)
#   --setups      which setups, in this order (default all three)
#   --out         where the outputs go (default
#                 bench/faas-sim/out/<UTC timestamp>; out/ is not tracked)
#   --seed        the simulator's seed, the same for every setup (default: the
#                 profile's)
#   --time-scale  passed to the simulator (stretches or shrinks the profile)
#   --http-port   the Dormouse setups' HTTP port (default: a free one), so
#                 that one browser tab at http://127.0.0.1:N/ follows every
#                 setup live on the dashboard
#   --idle-timeout  the Dormouse setups' idle_timeout in seconds (default 5)
#
# Per setup, on free loopback ports, in a temporary directory:
#   sqlite    a Dormouse with `sim = engine=sqlite`
#   managed   a Dormouse with `sim = managed_datadir=... managed_initdb=yes`;
#             the cluster is made beforehand (initdb and CREATE DATABASE, as
#             Dormouse itself would on first use), so that the run starts
#             with the database paused rather than with an initdb
#   postgres  a plain PostgreSQL (initdb, pg_ctl; default settings, like the
#             managed one's), up for the whole run: the simulator connects
#             straight to it
# Each Dormouse has idle_timeout = 5 (--idle-timeout), metering on, its HTTP
# API (the dashboard, whose address is printed when it starts) and
# `admin_users = admin`.  While the simulator runs, sampler.py records the
# database's state and the servers' processes and memory every 250 ms;
# after it, the script waits until the database has paused (so the ledger
# holds all its active time) and collect.py saves the ledger's usage and bill
# and the dashboard's live timeline (/v1/timeline).
#
# OUT/<setup>/ holds the simulator's invocations.csv, queries.csv,
# summary.json and log, timeline.csv, ledger.json (Dormouse), setup.json and
# the server's configuration and log; OUT/report.md the report.
#
# Run as root (PostgreSQL then runs as the postgres user) or as a user that
# may run PostgreSQL.  Environment: DORMOUSE_BIN (default build/faas/dormouse,
# built as Release together with dm_faas_sim when not given), FAAS_SIM_BIN
# (default: dm_faas_sim next to DORMOUSE_BIN), PG_BINDIR (default the newest
# /usr/lib/postgresql/*/bin), TMPDIR (where the temporary directory goes, default
# /tmp), KEEP=1 keeps the temporary directory (servers' data and ledgers).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PY=/usr/bin/python3
FAAS=$ROOT/bench/faas-sim

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

PROFILE=bursts
SETUPS=sqlite,managed,postgres
OUT=""
SEED=""
TIME_SCALE=""
FIXED_HTTP_PORT=""
IDLE_TIMEOUT=5
while (($#)); do
    case $1 in
    --profile) PROFILE=${2:?--profile needs a value}; shift 2 ;;
    --setups) SETUPS=${2:?--setups needs a value}; shift 2 ;;
    --out) OUT=${2:?--out needs a value}; shift 2 ;;
    --seed) SEED=${2:?--seed needs a value}; shift 2 ;;
    --time-scale) TIME_SCALE=${2:?--time-scale needs a value}; shift 2 ;;
    --http-port) FIXED_HTTP_PORT=${2:?--http-port needs a value}; shift 2 ;;
    --idle-timeout) IDLE_TIMEOUT=${2:?--idle-timeout needs a value}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "faas-sim.sh: unknown argument '$1' (--help)" >&2; exit 2 ;;
    esac
done

if [[ -f $PROFILE ]]; then
    PROFILE_FILE=$(cd "$(dirname "$PROFILE")" && pwd)/$(basename "$PROFILE")
else
    PROFILE_FILE=$FAAS/profiles/$PROFILE.ini
fi
IFS=, read -r -a SETUP_LIST <<<"$SETUPS"
for s in "${SETUP_LIST[@]}"; do
    case $s in
    sqlite | managed | postgres) ;;
    *) echo "faas-sim.sh: unknown setup '$s' (sqlite, managed, postgres)" >&2; exit 2 ;;
    esac
done
[[ -n $OUT ]] || OUT=$FAAS/out/$(date -u +%Y%m%d-%H%M%S)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# ---- binaries ----
if [[ -n ${DORMOUSE_BIN:-} ]]; then
    DORMOUSE=$DORMOUSE_BIN
else
    DORMOUSE=$ROOT/build/faas/dormouse
    echo "building build/faas (Release) ..." >&2
    if ! { [[ -f $ROOT/build/faas/CMakeCache.txt ]] ||
        cmake -S "$ROOT" -B "$ROOT/build/faas" -DCMAKE_BUILD_TYPE=Release; } >"$OUT/build.log" 2>&1 ||
        ! cmake --build "$ROOT/build/faas" -j"$(nproc)" --target dormouse dm_faas_sim >>"$OUT/build.log" 2>&1; then
        tail -n 30 "$OUT/build.log" >&2
        echo "faas-sim.sh: the build failed (log: $OUT/build.log)" >&2
        exit 1
    fi
fi
SIM=${FAAS_SIM_BIN:-$(dirname "$DORMOUSE")/dm_faas_sim}
[[ -x $DORMOUSE ]] || { echo "faas-sim.sh: no dormouse at $DORMOUSE" >&2; exit 1; }
[[ -x $SIM ]] || { echo "faas-sim.sh: no simulator at $SIM (build the dm_faas_sim target or set FAAS_SIM_BIN)" >&2; exit 1; }
[[ -f $PROFILE_FILE ]] || { echo "faas-sim.sh: no profile $PROFILE_FILE" >&2; exit 1; }
PGBIN=${PG_BINDIR:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
PSQL=$PGBIN/psql
[[ -x $PSQL ]] || PSQL=$(command -v psql)
need_pg=0
for s in "${SETUP_LIST[@]}"; do [[ $s == sqlite ]] || need_pg=1; done
if ((need_pg)); then
    [[ -x $PGBIN/initdb && -x $PGBIN/pg_ctl ]] || { echo "faas-sim.sh: no PostgreSQL server in '$PGBIN' (set PG_BINDIR)" >&2; exit 1; }
    if ((EUID == 0)) && ! id postgres >/dev/null 2>&1; then
        echo "faas-sim.sh: running as root, but there is no postgres user to run PostgreSQL as" >&2
        exit 1
    fi
fi
"$PY" -c 'import psycopg' 2>/dev/null || { echo "faas-sim.sh: $PY cannot import psycopg (apt-get install python3-psycopg)" >&2; exit 1; }

# A clean libpq environment: nothing from the caller's shell redirects a connection.
for v in $(compgen -e); do case $v in PG[A-Z]*) [[ $v == PG_BINDIR ]] || unset "$v" ;; esac; done
export PGCONNECT_TIMEOUT=10 PGGSSENCMODE=disable PSQLRC=/dev/null LC_ALL=C

# PostgreSQL refuses to run as root.
as_pg() { if ((EUID == 0)); then runuser -u postgres -- "$@"; else "$@"; fi; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dm-faas.XXXXXX")
chmod 755 "$TMP" # the postgres user must reach its clusters below it
DM_PID=""
SAMPLER_PID=""
PG_DATA=""
stop_sampler() {
    if [[ -n $SAMPLER_PID ]]; then
        kill -TERM "$SAMPLER_PID" 2>/dev/null || true
        wait "$SAMPLER_PID" 2>/dev/null || true
        SAMPLER_PID=""
    fi
}
DM_EXIT=""
stop_dormouse() { # sets DM_EXIT: its exit status ("killed" if it would not stop)
    if [[ -n $DM_PID ]]; then
        kill -TERM "$DM_PID" 2>/dev/null || true
        DM_EXIT=killed
        for _ in $(seq 300); do kill -0 "$DM_PID" 2>/dev/null || { DM_EXIT=""; break; }; sleep 0.1; done
        [[ -z $DM_EXIT ]] || kill -KILL "$DM_PID" 2>/dev/null || true
        local rc=0
        wait "$DM_PID" 2>/dev/null || rc=$?
        DM_EXIT=${DM_EXIT:-$rc}
        DM_PID=""
    fi
}
stop_postgres() {
    if [[ -n $PG_DATA && -f $PG_DATA/postmaster.pid ]]; then
        as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1 ||
            kill -KILL "$(head -1 "$PG_DATA/postmaster.pid")" 2>/dev/null || true
    fi
    PG_DATA=""
}
cleanup() {
    set +e
    stop_sampler
    stop_dormouse
    stop_postgres
    if [[ -n ${KEEP:-} ]]; then echo "kept $TMP" >&2; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_port PORT: until something answers PostgreSQL's protocol there (10 s).
wait_port() {
    for _ in $(seq 100); do
        # as the console's admin, which counts as no login of the traffic's
        "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$1" -U admin -d dormouse -t 1 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# json_setup FILE key=value...: a flat JSON object (values as strings, numbers
# where they are written as decimal numbers).
json_setup() {
    local file=$1
    shift
    "$PY" - "$file" "$@" <<'PY'
import json, re, sys
out = {}
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    if re.fullmatch(r"-?[0-9]+", v):
        v = int(v)
    elif re.fullmatch(r"-?[0-9]+\.[0-9]*", v):
        v = float(v)
    out[k] = v
json.dump(out, open(sys.argv[1], "w"), indent=1)
PY
}

DM_VERSION=$("$DORMOUSE" --version | awk '{print $2}')
PG_VERSION=""
[[ -x $PGBIN/postgres ]] && PG_VERSION=$("$PGBIN/postgres" --version | awk '{print $3}')

# start_dormouse SETUP DIR DBLINE: a Dormouse for one setup; sets DM_PORT,
# HTTP_PORT, DM_PID.
start_dormouse() {
    local setup=$1 dir=$2 dbline=$3
    DM_PORT=$(free_port)
    HTTP_PORT=${FIXED_HTTP_PORT:-$(free_port)}
    mkdir -p "$TMP/$setup/data"
    cat >"$dir/dormouse.ini" <<EOF
; written by bench/faas-sim.sh for the $setup setup
[dormouse]
listen_addr = 127.0.0.1
listen_port = $DM_PORT
data_dir = $TMP/$setup/data
auth_type = trust
log_level = info
http_listen = 127.0.0.1:$HTTP_PORT
metering = on
admin_users = admin
idle_timeout = $IDLE_TIMEOUT

[databases]
$dbline
EOF
    "$DORMOUSE" -c "$dir/dormouse.ini" >"$dir/dormouse.log" 2>&1 </dev/null &
    DM_PID=$!
    wait_port "$DM_PORT" || { tail -n 30 "$dir/dormouse.log" >&2; echo "faas-sim.sh: Dormouse did not start" >&2; return 1; }
    echo "   live dashboard: http://127.0.0.1:$HTTP_PORT/ (psql -h 127.0.0.1 -p $DM_PORT -U admin dormouse: the console)" >&2
}

# make_cluster DATADIR SUPERUSER: initdb, as Dormouse's managed_initdb does.
make_cluster() {
    mkdir -p "$(dirname "$1")"
    chmod 755 "$(dirname "$1")"
    ((EUID != 0)) || chown postgres "$(dirname "$1")"
    as_pg "$PGBIN/initdb" -D "$1" -U "$2" -A trust -E UTF8 --locale=C >"$TMP/initdb.log" 2>&1 ||
        { cat "$TMP/initdb.log" >&2; return 1; }
}

FAILED=()
run_setup() {
    local setup=$1 dir=$OUT/$1 conninfo admin="" title server_pid=""
    rm -rf "$dir"
    mkdir -p "$dir"
    case $setup in
    sqlite)
        title="Dormouse, SQLite engine"
        start_dormouse sqlite "$dir" "sim = engine=sqlite" || return 1
        server_pid=$DM_PID
        conninfo="host=127.0.0.1 port=$DM_PORT dbname=sim user=sim"
        ;;
    managed)
        title="Dormouse, managed PostgreSQL"
        local pgdir=$TMP/managed/pg
        make_cluster "$pgdir" sim || return 1
        # the database, as Dormouse makes it on first use: a single-user server
        echo 'CREATE DATABASE "sim";' | as_pg "$PGBIN/postgres" --single -D "$pgdir" postgres >"$TMP/createdb.log" 2>&1 ||
            { cat "$TMP/createdb.log" >&2; return 1; }
        start_dormouse managed "$dir" "sim = managed_datadir=$pgdir managed_initdb=yes dbname=sim user=sim" || return 1
        server_pid=$DM_PID
        conninfo="host=127.0.0.1 port=$DM_PORT dbname=sim user=sim"
        ;;
    postgres)
        title="plain PostgreSQL, always on"
        PG_DATA=$TMP/postgres/data
        make_cluster "$PG_DATA" postgres || return 1
        local port
        port=$(free_port)
        as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" -l "$TMP/postgres/server.log" -w -t 60 \
            -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$TMP/postgres" start >/dev/null ||
            { cat "$TMP/postgres/server.log" >&2; return 1; }
        "$PSQL" -X -q -h "$TMP/postgres" -p "$port" -U postgres -d postgres \
            -c "create role sim login superuser" -c "create database sim owner sim" || return 1
        server_pid=$(head -1 "$PG_DATA/postmaster.pid")
        conninfo="host=127.0.0.1 port=$port dbname=sim user=sim"
        ;;
    esac
    if [[ $setup != postgres ]]; then
        admin="host=127.0.0.1 port=$DM_PORT dbname=dormouse user=admin"
        json_setup "$dir/setup.json" setup="$setup" title="$title" server=dormouse \
            dormouse_version="$DM_VERSION" postgres_version="$PG_VERSION" idle_timeout="$IDLE_TIMEOUT" \
            conninfo="$conninfo" profile="$PROFILE_FILE"
    else
        json_setup "$dir/setup.json" setup="$setup" title="$title" server=postgres \
            postgres_version="$PG_VERSION" conninfo="$conninfo" profile="$PROFILE_FILE"
    fi

    "$PY" "$FAAS/sampler.py" sample --out "$dir/timeline.raw.csv" --pid "$server_pid" \
        ${admin:+--admin "$admin"} --database sim &
    SAMPLER_PID=$!
    sleep 0.5 # a few samples before the first invocation

    echo "== $setup: $title; $(basename "$PROFILE_FILE")${SEED:+, seed $SEED} ==" >&2
    local -a simargs=(--conninfo "$conninfo" --profile "$PROFILE_FILE" --out "$dir" --label "$setup")
    [[ -z $SEED ]] || simargs+=(--seed "$SEED")
    [[ -z $TIME_SCALE ]] || simargs+=(--time-scale "$TIME_SCALE")
    local rc=0
    "$SIM" "${simargs[@]}" 2>&1 | tee "$dir/sim.log" | sed 's/^/   /' >&2 || rc=${PIPESTATUS[0]}
    if ((rc != 0)); then
        tail -n 20 "$dir/sim.log" >&2
        echo "faas-sim.sh: $setup: dm_faas_sim exited with status $rc (log: $dir/sim.log)" >&2
        stop_sampler
        return 1
    fi
    if [[ -n $admin ]]; then
        # the idle tail until the pause is part of what a serverless database bills
        "$PY" "$FAAS/sampler.py" wait-state --admin "$admin" --database sim --state paused \
            --timeout $((IDLE_TIMEOUT + 30)) || true
        sleep 0.3 # a sample of it paused
    fi
    stop_sampler
    "$PY" "$FAAS/sampler.py" align "$dir/timeline.raw.csv" "$dir/summary.json" "$dir/timeline.csv" &&
        rm -f "$dir/timeline.raw.csv"
    if [[ -n $admin ]]; then
        "$PY" "$FAAS/collect.py" --admin "$admin" --http "127.0.0.1:$HTTP_PORT" --database sim \
            --out "$dir/ledger.json" || { echo "faas-sim.sh: $setup: cannot read the ledger" >&2; return 1; }
        stop_dormouse
        echo "$DM_EXIT" >"$dir/dormouse.exit"
        [[ $DM_EXIT == 0 ]] || echo "faas-sim.sh: $setup: dormouse exited with status $DM_EXIT (log: $dir/dormouse.log)" >&2
        [[ $setup != managed ]] || cp "$TMP/managed/data/sim.postgres.log" "$dir/postgres.log" 2>/dev/null || true
    else
        stop_postgres
        cp "$TMP/postgres/server.log" "$dir/postgres.log" 2>/dev/null || true
    fi
}

json_setup "$OUT/run.json" profile="$PROFILE_FILE" ${SEED:+seed="$SEED"} setups="$SETUPS" time_scale="${TIME_SCALE:-1}" \
    dormouse_version="$DM_VERSION" postgres_version="$PG_VERSION" cores="$(nproc)" \
    kernel="$(uname -r)" commit="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    started="$(date -u +%Y-%m-%dT%H:%M:%SZ)" idle_timeout="$IDLE_TIMEOUT"
for s in "${SETUP_LIST[@]}"; do
    if ! run_setup "$s"; then
        FAILED+=("$s")
        stop_sampler
        stop_dormouse
        stop_postgres
    fi
done
"$PY" "$FAAS/report.py" "$OUT"
echo "report: $OUT/report.md" >&2
if ((${#FAILED[@]})); then
    echo "faas-sim.sh: failed setups: ${FAILED[*]}" >&2
    exit 1
fi
