# lib.sh: helpers sourced by every tests/e2e/test_*.sh.
#
# A test sources this file, starts what it needs (dm_start for a Dormouse,
# pg_start for a reference PostgreSQL), runs checks that each print one
# "PASS: ..." / "FAIL: ..." line, and ends with dm_finish, which exits non-zero
# if any check failed.  Everything a test starts is recorded here and torn
# down by the EXIT trap, on success, failure, or interruption; on failure the
# Dormouse logs are printed.
#
# Environment (set by CTest, defaults for running a script by hand):
#   DORMOUSE_BIN   the dormouse binary        (default: build/dev/dormouse)
#   DM_E2E_CLIENT  the libpq test client      (default: build/dev/dm_e2e_client)
#   DM_SOURCE_DIR  the source tree            (default: two levels above this file)
#   PG_BINDIR      PostgreSQL server binaries (default: newest /usr/lib/postgresql/*/bin)
#   DM_E2E_KEEP=1  keep the temporary directory (its path is printed)
#   DM_E2E_TARGET=postgres
#                  run the protocol-level checks against a real PostgreSQL
#                  instead of Dormouse, to validate the tests' expectations;
#                  Dormouse-only checks are skipped (SKIP lines).
#
# Scripts use `set -u` and check every status explicitly; `set -e` is not used
# because a failing check must report and carry on.

set -u
set -o pipefail

DM_E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DM_SOURCE_DIR=${DM_SOURCE_DIR:-$(cd "$DM_E2E_DIR/../.." && pwd)}
DORMOUSE_BIN=${DORMOUSE_BIN:-$DM_SOURCE_DIR/build/dev/dormouse}
DM_E2E_CLIENT=${DM_E2E_CLIENT:-$DM_SOURCE_DIR/build/dev/dm_e2e_client}
DM_E2E_TARGET=${DM_E2E_TARGET:-dormouse}
DM_TEST_NAME=$(basename "$0" .sh)
PYTHON=/usr/bin/python3

# The slow statement used by the signal and non-blocking tests: SQLite counts
# to ten million in a few seconds, PostgreSQL in about one.
DM_SLOW_SQL='with recursive c(x) as (select 1 union all select x+1 from c where x < 10000000) select count(*) from c'
DM_SLOW_RESULT=10000000

# A clean libpq environment: nothing from the developer's shell may redirect
# a connection (PGHOST, PGPORT, PGSERVICE, ...).  PG_BINDIR is ours, not libpq's.
for _v in $(compgen -e); do
    case $_v in PG[A-Z]*) unset "$_v" ;; esac
done
unset _v
export LC_ALL=C
export PGCLIENTENCODING=UTF8
export PGCONNECT_TIMEOUT=10
export PGGSSENCMODE=disable
export PSQLRC=/dev/null
export PYTHONPATH=$DM_E2E_DIR${PYTHONPATH:+:$PYTHONPATH} # dmlib.py

DM_PASSES=0
DM_FAILS=0
DM_SKIPS=0
DM_ALL_PIDS=()     # every dormouse started (PostgreSQL postmasters in postgres mode)
DM_BG_PIDS=()      # other background helpers (clients)
DM_PG_DATADIRS=()  # PostgreSQL clusters to stop
DM_LOGS=()         # Dormouse logs, printed on failure
DM_USED_PORTS=" "
DM_START_COUNT=0
DM_PID=""
DM_LOG=""
DM_EXIT_CODE=""
DM_HOST=127.0.0.1
DM_PORT=""
DM_DATA=""

# ---- reporting ----

pass() {
    DM_PASSES=$((DM_PASSES + 1))
    printf 'PASS: %s\n' "$1"
}

# fail NAME [DETAIL...]: each detail is printed indented (multi-line allowed).
fail() {
    DM_FAILS=$((DM_FAILS + 1))
    printf 'FAIL: %s\n' "$1"
    shift
    local d
    for d in "$@"; do
        printf '%s\n' "$d" | sed 's/^/    | /'
    done
}

skip() {
    DM_SKIPS=$((DM_SKIPS + 1))
    printf 'SKIP: %s\n' "$1"
}

info() {
    printf '      %s\n' "$*"
}

# die NAME [DETAIL...]: a failure the test cannot continue after.
die() {
    fail "$@"
    exit 1
}

dm_finish() {
    printf '== %s: %d passed, %d failed, %d skipped ==\n' "$DM_TEST_NAME" "$DM_PASSES" "$DM_FAILS" "$DM_SKIPS"
    if [ "$DM_FAILS" -gt 0 ]; then
        exit 1
    fi
    exit 0
}

# ---- assertions ----

# assert_eq NAME EXPECTED ACTUAL
assert_eq() {
    if [ "$2" == "$3" ]; then
        pass "$1"
    else
        fail "$1" "expected:" "$2" "actual:" "$3" "diff (-expected +actual):" \
            "$(diff -u <(printf '%s\n' "$2") <(printf '%s\n' "$3") | tail -n +3)"
    fi
}

# assert_files_eq NAME EXPECTED_FILE ACTUAL_FILE: byte for byte.
assert_files_eq() {
    if cmp -s "$2" "$3"; then
        pass "$1"
    else
        fail "$1" "expected ($2):" "$(cat -A "$2")" "actual ($3):" "$(cat -A "$3")" \
            "diff (-expected +actual):" "$(diff -u "$2" "$3" | tail -n +3)"
    fi
}

# assert_contains NAME HAYSTACK NEEDLE
assert_contains() {
    if [[ "$2" == *"$3"* ]]; then
        pass "$1"
    else
        fail "$1" "expected to contain: $3" "actual:" "$2"
    fi
}

assert_not_contains() {
    if [[ "$2" != *"$3"* ]]; then
        pass "$1"
    else
        fail "$1" "expected NOT to contain: $3" "actual:" "$2"
    fi
}

# assert_rc NAME EXPECTED_RC ACTUAL_RC [OUTPUT]
assert_rc() {
    if [ "$2" -eq "$3" ]; then
        pass "$1"
    else
        fail "$1" "expected exit status $2, got $3" "${4:-}"
    fi
}

# assert_true NAME DETAIL COMMAND...: passes if the command succeeds.
assert_true() {
    local name=$1 detail=$2
    shift 2
    if "$@"; then
        pass "$name"
    else
        fail "$name" "$detail"
    fi
}

# relay_checks OUT: the "PASS: name" / "FAIL: name (detail)" lines of an
# inline script's output become this test's; the script must have printed
# DONE at its end.
relay_checks() {
    local line
    while IFS= read -r line; do
        case $line in
        PASS:*) pass "${line#PASS: }" ;;
        FAIL:*) fail "${line#FAIL: }" ;;
        esac
    done <<<"$1"
    assert_contains "the checks ran to the end" "$1" "DONE"
}

# ---- processes, ports, directories ----

_dm_alive() {
    local pid=$1 state
    [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
    state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -c1)
    [ -n "$state" ] && [ "$state" != Z ]
}

# wait_until TIMEOUT_S COMMAND...: polls every 0.1 s; status 0 once COMMAND
# succeeds, 1 if it never did.  A bounded wait for an asynchronous effect (a
# reload, a close), never a performance assertion.
wait_until() {
    local deadline=$((SECONDS + $1))
    shift
    while :; do
        if "$@"; then
            return 0
        fi
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
}

# bg_track PID: a background helper for the cleanup to kill if still running.
bg_track() {
    DM_BG_PIDS+=("$1")
}

# dm_tmpdir [NAME]: the test's private directory (created when lib.sh is
# sourced), or a new subdirectory NAME of it.  Prints the path.
dm_tmpdir() {
    if [ $# -eq 0 ]; then
        printf '%s\n' "$DM_TMP"
        return 0
    fi
    mkdir -p "$DM_TMP/$1" || return 1
    printf '%s\n' "$DM_TMP/$1"
}

# free_port: a loopback TCP port nobody listens on, never the same twice in a
# test.  (The kernel may hand it to someone else before we bind it; on a test
# machine that is rare enough.)
free_port() {
    local p tries=0
    while [ $tries -lt 20 ]; do
        p=$("$PYTHON" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])') || return 1
        if [[ "$DM_USED_PORTS" != *" $p "* ]]; then
            DM_USED_PORTS="$DM_USED_PORTS$p "
            printf '%s\n' "$p"
            return 0
        fi
        tries=$((tries + 1))
    done
    return 1
}

# ---- PostgreSQL ----

_pg_bindir() {
    if [ -n "${PG_BINDIR:-}" ]; then
        printf '%s\n' "$PG_BINDIR"
        return 0
    fi
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

PG_BINDIR=$(_pg_bindir)
if [ -n "$PG_BINDIR" ] && [ -x "$PG_BINDIR/psql" ]; then
    PSQL=$PG_BINDIR/psql
else
    PSQL=$(command -v psql || echo psql)
fi

# PostgreSQL refuses to run as root: run its server programs as `postgres`.
_as_pg() {
    if [ "$(id -u)" -eq 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# _pg_cluster_start DIR PORT HOST_AUTH_METHOD [postgres -c settings...]
# initdb + start a cluster in DIR (data in DIR/data, sockets in DIR/sock,
# log in DIR/log), listening on 127.0.0.1:PORT.  Local socket connections are
# trusted; TCP connections use HOST_AUTH_METHOD.  Prints the postmaster PID.
# Runs in a $(...) subshell, so the caller registers DIR/data in
# DM_PG_DATADIRS (before calling, so that even a half-started cluster is
# stopped by the cleanup).
_pg_cluster_start() {
    local dir=$1 port=$2 method=$3
    shift 3
    if [ -z "$PG_BINDIR" ] || [ ! -x "$PG_BINDIR/initdb" ] || [ ! -x "$PG_BINDIR/pg_ctl" ]; then
        echo "PostgreSQL server binaries not found (looked for /usr/lib/postgresql/*/bin; set PG_BINDIR)" >&2
        return 1
    fi
    if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
        echo "running as root but there is no 'postgres' user to run PostgreSQL as" >&2
        return 1
    fi
    mkdir -p "$dir/sock" || return 1
    if [ "$(id -u)" -eq 0 ]; then
        chown -R postgres "$dir" || return 1
    fi
    if ! _as_pg "$PG_BINDIR/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C \
        --no-sync >"$dir/initdb.log" 2>&1; then
        echo "initdb failed:" >&2
        cat "$dir/initdb.log" >&2
        return 1
    fi
    printf 'local all all trust\nhost all all 127.0.0.1/32 %s\n' "$method" >"$dir/data/pg_hba.conf"
    local opts="-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir/sock"
    opts="$opts -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    opts="$opts -c max_connections=150 -c shared_buffers=16MB -c password_encryption=scram-sha-256"
    local s
    for s in "$@"; do
        opts="$opts -c $s"
    done
    if ! _as_pg "$PG_BINDIR/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 -o "$opts" start >/dev/null 2>&1; then
        echo "PostgreSQL failed to start:" >&2
        cat "$dir/log" >&2
        return 1
    fi
    head -1 "$dir/data/postmaster.pid"
}

# pg_start: the reference PostgreSQL, trust authentication, on a free port.
# Exports PGPORT_REAL, PGHOST_REAL (127.0.0.1), PGSOCK_REAL (socket dir),
# PGDATA_REAL and PGPID_REAL.  Fails the test loudly if it cannot start.
pg_start() {
    local dir port pid
    dir=$(dm_tmpdir pg) || die "pg_start: cannot create a directory"
    port=$(free_port) || die "pg_start: no free port"
    DM_PG_DATADIRS+=("$dir/data")
    pid=$(_pg_cluster_start "$dir" "$port" trust 2>"$dir/start.err") ||
        die "pg_start: cannot start PostgreSQL from ${PG_BINDIR:-<not found>}" "$(cat "$dir/start.err")"
    export PGHOST_REAL=127.0.0.1 PGPORT_REAL=$port PGSOCK_REAL=$dir/sock PGDATA_REAL=$dir/data PGPID_REAL=$pid
    info "reference PostgreSQL $("$PG_BINDIR/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (pid $pid)"
}

# pg_psql [psql args...]: psql as superuser on the reference PostgreSQL.
pg_psql() {
    "$PSQL" -X -w -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PGPORT_REAL" -U postgres -d postgres "$@"
}

# ---- Dormouse ----

# dm_write_config FILE ["key = value"...]: an INI for Dormouse.  Defaults:
# listen on 127.0.0.1:$DM_PORT, data in $DM_DATA, trust, log_level info, and
# "* = engine=sqlite"; a given line with the same key replaces the default.
# A line "[databases] NAME = VALUE" goes to the [databases] section.
dm_write_config() {
    local file=$1
    shift
    local -a keys=(listen_addr listen_port data_dir auth_type log_level http_listen)
    local -A vals=([listen_addr]=127.0.0.1 [listen_port]=$DM_PORT [data_dir]=$DM_DATA
        [auth_type]=trust [log_level]=info [http_listen]="")
    local -a dblines=()
    local line k v
    for line in "$@"; do
        if [[ "$line" == "[databases] "* ]]; then
            dblines+=("${line#\[databases\] }")
            continue
        fi
        k=$(printf '%s' "${line%%=*}" | tr -d ' ')
        v=${line#*=}
        v=${v# }
        if [ -z "${vals[$k]+set}" ]; then
            keys+=("$k")
        fi
        vals[$k]=$v
    done
    [ ${#dblines[@]} -gt 0 ] || dblines=("* = engine=sqlite")
    {
        echo "; written by tests/e2e/lib.sh for $DM_TEST_NAME"
        echo "[dormouse]"
        for k in "${keys[@]}"; do
            echo "$k = ${vals[$k]}"
        done
        echo
        echo "[databases]"
        printf '%s\n' "${dblines[@]}"
    } >"$file"
}

# _dm_config_value FILE KEY: a [dormouse] value from a config we wrote.
_dm_config_value() {
    sed -n "s/^$2 *= *//p" "$1" | tail -1
}

# dm_ping HOST PORT: does a server there answer the protocol?  (SSLRequest:
# no login, so no database is created as a side effect.)
dm_ping() {
    "$PYTHON" "$DM_E2E_DIR/rawproto.py" ping --host "$1" --port "$2" >/dev/null 2>&1
}

# dm_try_start CONFIG [dormouse args...]: starts Dormouse in the background
# (stdout+stderr to a fresh log, $DM_LOG), waits up to 10 s until it answers
# on $DM_HOST:$DM_PORT, and sets DM_PID.  Status 0 when it answers; 1 (with
# the reason in DM_START_ERROR) when the process died or never answered.
dm_try_start() {
    local conf=$1
    shift
    DM_START_ERROR=""
    DM_START_COUNT=$((DM_START_COUNT + 1))
    DM_LOG=$DM_TMP/dormouse-$DM_START_COUNT.log
    DM_LOGS+=("$DM_LOG")
    if [ "$DM_E2E_TARGET" = postgres ]; then
        _dm_start_postgres "$conf" && return 0
        DM_START_ERROR="PostgreSQL stand-in failed to start"
        return 1
    fi
    if [ ! -x "$DORMOUSE_BIN" ]; then
        DM_START_ERROR="no dormouse binary at $DORMOUSE_BIN (set DORMOUSE_BIN)"
        return 1
    fi
    "$DORMOUSE_BIN" -c "$conf" "$@" >"$DM_LOG" 2>&1 </dev/null &
    DM_PID=$!
    DM_ALL_PIDS+=("$DM_PID")
    local deadline=$((SECONDS + 10))
    while :; do
        if ! _dm_alive "$DM_PID"; then
            wait "$DM_PID" 2>/dev/null
            DM_START_ERROR="dormouse exited with status $? before accepting connections"
            return 1
        fi
        if dm_ping "$DM_HOST" "$DM_PORT"; then
            return 0
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            DM_START_ERROR="dormouse (pid $DM_PID) did not answer on $DM_HOST:$DM_PORT within 10 s"
            return 1
        fi
        sleep 0.1
    done
}

# dm_start CONFIG [dormouse args...]: dm_try_start, or fail the test with
# the command, the config and the log.
dm_start() {
    dm_try_start "$@" && return 0
    local conf=$1
    shift
    die "dm_start: $DM_START_ERROR" "command: $DORMOUSE_BIN -c $conf $*" "config:" "$(cat "$conf")" \
        "log:" "$(cat "$DM_LOG" 2>/dev/null)"
}

# In postgres mode a PostgreSQL cluster stands in for Dormouse on $DM_PORT:
# md5 for TCP when the config asks for md5 or scram-sha-256, trust otherwise.
_dm_start_postgres() {
    local conf=$1 auth method dir
    auth=$(_dm_config_value "$conf" auth_type)
    case $auth in
    md5) method=md5 ;;
    scram-sha-256) method=scram-sha-256 ;;
    *) method=trust ;;
    esac
    dir=$DM_TMP/pg-standin-$DM_START_COUNT
    DM_PG_DATADIRS+=("$dir/data")
    DM_PID=$(_pg_cluster_start "$dir" "$DM_PORT" "$method" 2>"$DM_LOG") || return 1
    DM_ALL_PIDS+=("$DM_PID")
    DM_STANDIN_SOCK=$dir/sock
    info "postgres mode: PostgreSQL stands in for Dormouse on $DM_HOST:$DM_PORT (pid $DM_PID)"
}

# dm_prepare_db DB [USER [PASSWORD]]: Dormouse creates databases on first
# connect; the postgres-mode stand-in needs them (and roles) created.
dm_prepare_db() {
    [ "$DM_E2E_TARGET" = postgres ] || return 0
    local db=$1 user=${2:-$1} pw=${3:-}
    local sq="'"
    local -a p=("$PSQL" -X -w -q -h "$DM_STANDIN_SOCK" -p "$DM_PORT" -U postgres -d postgres)
    if [ -z "$("${p[@]}" -Atc "select 1 from pg_roles where rolname = '$user'")" ]; then
        if [ -n "$pw" ]; then
            "${p[@]}" -c "set password_encryption = 'md5'" -c "create role \"$user\" login password '${pw//$sq/$sq$sq}'" >/dev/null
        else
            "${p[@]}" -c "create role \"$user\" login" >/dev/null
        fi
    fi
    if [ -z "$("${p[@]}" -Atc "select 1 from pg_database where datname = '$db'")" ]; then
        "${p[@]}" -c "create database \"$db\" owner \"$user\"" >/dev/null
    fi
}

# dm_only WHAT: true for Dormouse; in postgres mode prints SKIP and is false.
dm_only() {
    if [ "$DM_E2E_TARGET" = postgres ]; then
        skip "$1 (Dormouse only)"
        return 1
    fi
    return 0
}

# dm_signal SIG: sends a signal to the running Dormouse.
dm_signal() {
    kill -s "$1" "$DM_PID"
}

# dm_wait_exit TIMEOUT_S: waits for the current Dormouse to exit; sets
# DM_EXIT_CODE.  Status 1 (and DM_EXIT_CODE empty) if it is still running.
dm_wait_exit() {
    DM_EXIT_CODE=""
    local deadline=$((SECONDS + $1))
    while _dm_alive "$DM_PID"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.1
    done
    if [ "$DM_E2E_TARGET" = postgres ]; then
        DM_EXIT_CODE=0
    else
        wait "$DM_PID" 2>/dev/null
        DM_EXIT_CODE=$?
    fi
    return 0
}

# dm_stop [SIGNAL]: stops the current Dormouse (SIGTERM by default) and waits
# up to 30 s; sets DM_EXIT_CODE.  Kills it with SIGKILL if it will not stop.
dm_stop() {
    local sig=${1:-TERM}
    [ -n "$DM_PID" ] || return 0
    if [ "$DM_E2E_TARGET" = postgres ] && [ "$sig" = TERM ]; then
        sig=INT # PostgreSQL's smart shutdown would wait for idle clients
    fi
    kill -s "$sig" "$DM_PID" 2>/dev/null
    if ! dm_wait_exit 30; then
        kill -KILL "$DM_PID" 2>/dev/null
        dm_wait_exit 5
        DM_EXIT_CODE=timeout
        return 1
    fi
    return 0
}

# dm_stop_check: SIGTERM, then asserts a clean exit (status 0).  Under ASan a
# leak or error report turns into a non-zero status here.
dm_stop_check() {
    local what=${1:-dormouse exits 0 on SIGTERM}
    dm_stop TERM
    if [ "$DM_EXIT_CODE" = 0 ]; then
        pass "$what"
    else
        fail "$what" "exit status: $DM_EXIT_CODE" "log ($DM_LOG):" "$(tail -n 60 "$DM_LOG")"
    fi
    DM_PID=""
}

# dm_conninfo DB [USER] [more key=value...]: a libpq connection string for
# the current Dormouse over TCP.
dm_conninfo() {
    local db=$1 user=${2:-$1}
    shift
    [ $# -gt 0 ] && shift
    printf 'host=%s port=%s dbname=%s user=%s%s\n' "$DM_HOST" "$DM_PORT" "$db" "$user" "${*:+ $*}"
}

# dm_psql CONNINFO [psql args...]: psql without psqlrc, never prompting.
dm_psql() {
    local ci=$1
    shift
    "$PSQL" -X -w "$@" "$ci"
}

# dm_client ARGS...: the libpq test client.
dm_client() {
    "$DM_E2E_CLIENT" "$@"
}

# dm_alive_check NAME: the Dormouse process is still running and answers a query.
dm_alive_check() {
    local out
    if [ "$DM_E2E_TARGET" != postgres ] && ! _dm_alive "$DM_PID"; then
        fail "$1: dormouse is alive" "dormouse (pid $DM_PID) is gone" "log:" "$(tail -n 60 "$DM_LOG")"
        return 1
    fi
    dm_prepare_db alive alive "${PGPASSWORD:-}"
    out=$(dm_psql "$(dm_conninfo alive alive)" -At -c 'select 42' 2>&1)
    if [ "$out" = 42 ]; then
        pass "$1: dormouse is alive and answers"
    else
        fail "$1: dormouse is alive and answers" "psql: $out" "log:" "$(tail -n 30 "$DM_LOG")"
        return 1
    fi
}

# expect_sqlstate NAME CONNINFO SQL SQLSTATE: the first error of SQL (one
# Query message) has this SQLSTATE ("OK": no error).
expect_sqlstate() {
    local out
    out=$(dm_client sqlstate "$2" "$3" 2>&1)
    if [ "$out" = "$4" ]; then
        pass "$1"
    else
        fail "$1" "sql: $3" "expected: $4" "actual: $out"
    fi
}

# expect_connect_error NAME CONNINFO SQLSTATE [MESSAGE_SUBSTRING]
expect_connect_error() {
    local out
    out=$(dm_client connect "$2" 2>&1)
    if [[ "$out" == "ERROR $3 "* ]] && [[ "$out" == *"${4:-}"* ]]; then
        pass "$1"
    else
        fail "$1" "conninfo: $2" "expected: ERROR $3 ...${4:+$4...}" "actual: $out"
    fi
}

# expect_psql_out NAME EXPECTED CONNINFO SQL: psql's answer (its first line) is EXPECTED.
expect_psql_out() {
    local out
    out=$(dm_psql "$3" -At -c "$4" 2>&1 | head -1)
    assert_eq "$1" "$2" "$out"
}

# expect_psql_fails NAME CONNINFO TEXT: psql cannot connect (or run `select 1`),
# and what it prints contains TEXT.
expect_psql_fails() {
    local out rc
    out=$(dm_psql "$2" -At -c "select 1" 2>&1)
    rc=$?
    if [ $rc -ne 0 ] && [[ "$out" == *"$3"* ]]; then
        pass "$1"
    else
        fail "$1" "exit status $rc, expected '$3'" "$out"
    fi
}

# expect_connect_ok NAME CONNINFO
expect_connect_ok() {
    local out
    out=$(dm_client connect "$2" "select 1" 2>&1)
    if [ "$out" = OK ]; then
        pass "$1"
    else
        fail "$1" "conninfo: $2" "actual: $out"
    fi
}

# ---- setup and cleanup ----

_dm_cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM HUP PIPE
    local pid d l
    for pid in "${DM_BG_PIDS[@]}"; do
        _dm_alive "$pid" && kill -KILL "$pid" 2>/dev/null
    done
    for d in "${DM_PG_DATADIRS[@]}"; do
        if [ -f "$d/postmaster.pid" ]; then
            _as_pg "$PG_BINDIR/pg_ctl" -D "$d" -m immediate -w -t 20 stop >/dev/null 2>&1 ||
                kill -KILL "$(head -1 "$d/postmaster.pid")" 2>/dev/null
        fi
    done
    for pid in "${DM_ALL_PIDS[@]}"; do
        _dm_alive "$pid" && kill -TERM "$pid" 2>/dev/null
    done
    for pid in "${DM_ALL_PIDS[@]}"; do
        wait_until 5 eval "! _dm_alive $pid" || kill -KILL "$pid" 2>/dev/null
    done
    if [ "$rc" -ne 0 ] || [ "$DM_FAILS" -gt 0 ]; then
        [ "$rc" -ne 0 ] || rc=1
        for l in "${DM_LOGS[@]}"; do
            [ -f "$l" ] || continue
            echo "----- $l (last 200 lines) -----"
            tail -n 200 "$l"
        done
        [ "$DM_FAILS" -gt 0 ] || echo "FAIL: $DM_TEST_NAME aborted with status $rc"
    fi
    if [ "${DM_E2E_KEEP:-0}" = 1 ]; then
        echo "kept $DM_TMP"
    else
        rm -rf "$DM_TMP"
    fi
    exit "$rc"
}

DM_TMP=$(mktemp -d "${TMPDIR:-/tmp}/dm-e2e.XXXXXX") || {
    echo "FAIL: cannot create a temporary directory"
    exit 1
}
chmod 755 "$DM_TMP" # the postgres user must reach its cluster below it
trap _dm_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE

_dm_check_tools() {
    [ -x "$PYTHON" ] || die "setup: $PYTHON is required"
    [ -x "$DM_E2E_CLIENT" ] || die "setup: no test client at $DM_E2E_CLIENT (build dm_e2e_client or set DM_E2E_CLIENT)"
    if [ "$DM_E2E_TARGET" != postgres ] && [ ! -x "$DORMOUSE_BIN" ]; then
        die "setup: no dormouse binary at $DORMOUSE_BIN (build it or set DORMOUSE_BIN)"
    fi
    "$PSQL" --version >/dev/null 2>&1 || die "setup: psql not found"
}
_dm_check_tools
echo "== $DM_TEST_NAME (target: $DM_E2E_TARGET, tmp: $DM_TMP) =="

# node_modules_setup DIR MIN_NODE_MAJOR PACKAGE...: npm ci into DIR (from its
# package-lock.json) when DIR/node_modules is missing, older than the
# lockfile or lacks a package.  Uses $NODE and $NPM (default node, npm);
# prints the reason and returns 1 on failure.
node_modules_setup() {
    local dir=$1 min=$2 major p ok=1
    shift 2
    "${NODE:-node}" --version >/dev/null 2>&1 || { echo "node not found (Debian: apt-get install nodejs npm)"; return 1; }
    major=$("${NODE:-node}" -p 'process.versions.node.split(".")[0]')
    [ "$major" -ge "$min" ] || { echo "node $("${NODE:-node}" --version) is older than $min"; return 1; }
    [ -f "$dir/node_modules/.package-lock.json" ] && [ "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ] || ok=0
    for p in "$@"; do [ -d "$dir/node_modules/$p" ] || ok=0; done
    [ $ok = 1 ] && return 0
    if ! (cd "$dir" && "${NPM:-npm}" ci --no-audit --no-fund) >"$DM_TMP/npm.log" 2>&1; then
        echo "npm ci failed in $dir:"
        tail -n 30 "$DM_TMP/npm.log"
        return 1
    fi
}
