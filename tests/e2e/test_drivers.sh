#!/usr/bin/env bash
# test_drivers: the driver matrix.  Every client a user is likely to point at
# Dormouse connects to a fresh Dormouse (SQLite engine), creates a table of
# every supported type with PostgreSQL DDL, inserts and selects it with bound
# parameters, uses transactions and savepoints, gets proper errors and
# disconnects:
#
#   psql, libpq (dm_e2e_client), pgbench -M simple/extended/prepared
#                                   small checks here (psql and libpq are covered
#                                   in depth by the other e2e tests)
#   psycopg2, psycopg 3, asyncpg    tests/drivers/python/*_test.py (Debian's python3-*)
#   node-postgres, postgres.js      tests/drivers/node/*.mjs (npm ci from the lockfile)
#   pgjdbc                          tests/drivers/java/PgjdbcTest.java (Debian's jar)
#
# Each driver program prints one PASS/FAIL line per check and exits non-zero
# on a failure; the drivers run in parallel, each in its own database, and
# this script relays their output, counts their checks and ends with a matrix
# (driver, protocol paths used, checks passed, first failure).  It exits 0
# only if every driver passed every check.  DM_E2E_TARGET=postgres runs the
# same programs against a real PostgreSQL to validate their expectations.
#
# node_modules are installed into tests/drivers/node/ by `npm ci` when missing
# or older than the lockfile (ignored by git); the compiled Java class is kept
# next to the dormouse binary (build dir), keyed by the source's hash.
# DM_DRIVERS_MODE=txpool (what test_drivers_txpool.sh sets) puts Dormouse in
# front of a real PostgreSQL in transaction pooling mode with
# default_pool_size=2 instead: every driver program runs twice at once in its
# database, the prepared-statement stress programs (tests/drivers/*/*stress*,
# 8 clients each) run alongside, and pg_stat_activity is sampled to check
# that no database ever had more than 2 server connections.  Gaps on record
# are then tests/drivers/known_failures_txpool.txt.
#
# Clients run with TZ=UTC; Dormouse's session TimeZone is UTC and the
# postgres-mode cluster is initialized under TZ=UTC, so timestamptz text
# output is comparable.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

export TZ=UTC
DRIVERS_DIR=$DM_SOURCE_DIR/tests/drivers
DRIVER_TIMEOUT=120 # seconds per driver program: a bound against a hung server
PGJDBC_JAR=${PGJDBC_JAR:-/usr/share/java/postgresql.jar}
NODE=${NODE:-node}
NPM=${NPM:-npm}
JAVA=${JAVA:-java}
JAVAC=${JAVAC:-javac}
PGBENCH=$PG_BINDIR/pgbench
[ -x "$PGBENCH" ] || PGBENCH=$(command -v pgbench || echo pgbench)
DRV_USER=drivers

# DM_DRIVERS_MODE=txpool (test_drivers_txpool.sh): Dormouse in front of a
# real PostgreSQL in transaction pooling mode, with a pool far smaller than
# the clients, instead of the SQLite engine.
DM_DRIVERS_MODE=${DM_DRIVERS_MODE:-sqlite}
case $DM_DRIVERS_MODE in
sqlite | txpool) ;;
*) die "DM_DRIVERS_MODE=$DM_DRIVERS_MODE: expected sqlite or txpool" ;;
esac
TXPOOL_SIZE=2
TXPOOL_KEYS=("pool_mode = transaction" "default_pool_size = $TXPOOL_SIZE" "max_prepared_statements = 200")
STRESS_CLIENTS=8

# The matrix rows, in order: name, protocol paths the driver exercises.
MATRIX=(psql libpq pgbench psycopg2 psycopg3 asyncpg pg postgres.js pgjdbc)
declare -A VIA=(
    [psql]="simple query"
    [libpq]="simple query (dm_e2e_client)"
    [pgbench]="simple, extended (PQexecParams), prepared (PQprepare)"
    [psycopg2]="simple query, client-side parameters"
    [psycopg3]="extended: text and binary, pipeline, named statements"
    [asyncpg]="extended: binary, named statements"
    [pg]="extended: text (bytea parameters binary), named statements"
    [postgres.js]="extended: text, named and unnamed statements, pg_type fetch"
    [pgjdbc]="extended: text and binary, named statements, fetch-size portals"
)
INSTANCES=("") # suffixes of the rows that run a driver program (one instance each)
if [ "$DM_DRIVERS_MODE" = txpool ]; then
    # Every driver program twice at once in the same database (their table
    # names carry their PID), and the prepared-statement stress programs:
    # STRESS_CLIENTS clients each, one database each.
    INSTANCES=("" "#2")
    MATRIX=(psql libpq pgbench)
    for d in psycopg2 psycopg3 asyncpg pg postgres.js pgjdbc; do
        MATRIX+=("$d" "$d#2")
        VIA[$d#2]="the same, a second instance at once"
    done
    MATRIX+=(asyncpg-stress psycopg3-stress pg-stress postgres.js-stress pgjdbc-stress)
    VIA[asyncpg-stress]="$STRESS_CLIENTS clients: prepare(name=...) alike, Close on eviction"
    VIA[psycopg3-stress]="$STRESS_CLIENTS clients: _pg3_N alike, DEALLOCATE (ALL)"
    VIA[pg-stress]="$STRESS_CLIENTS clients: query({name}) alike, parsed once per client"
    VIA[postgres.js-stress]="$STRESS_CLIENTS clients: postgres.js's statement names"
    VIA[pgjdbc-stress]="$STRESS_CLIENTS clients: S_N alike, text and binary, Close on eviction"
    DRIVER_TIMEOUT=75 # the whole test must stay under two minutes
    export DM_STRESS_DEADLINE=60 # from their start, then they report what they have
fi
declare -A RC=() OUTFILE=() SETUP_ERR=()
RUN_PIDS=() # the background driver runs (a bare `wait` would wait for Dormouse too)

# drv_db ROW: the database of a matrix row, shared by a driver's instances:
# drv_psycopg2, drv_postgresjs, drv_asyncpg_stress...
drv_db() {
    local d=${1%#*}
    d=${d//./}
    printf 'drv_%s\n' "${d//-/_}"
}
mapfile -t DBS < <(for d in "${MATRIX[@]}"; do drv_db "$d"; done | awk '!seen[$0]++')

OUT=$(dm_tmpdir out)
DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
WATCH_PID=""
if [ "$DM_DRIVERS_MODE" = txpool ] && [ "$DM_E2E_TARGET" = dormouse ]; then
    pg_start
    up=()
    create=(-c "create role $DRV_USER login")
    for db in "${DBS[@]}"; do
        create+=(-c "create database $db owner $DRV_USER")
        up+=("[databases] $db = host=127.0.0.1 port=$PGPORT_REAL dbname=$db user=$DRV_USER")
    done
    out=$(pg_psql "${create[@]}" 2>&1) || die "cannot create the role and databases" "$out"
    # DM_DRIVERS_LOG_LEVEL=debug for diagnosis (the log is printed on failure).
    log=("log_level = ${DM_DRIVERS_LOG_LEVEL:-info}")
    dm_write_config "$DM_TMP/dormouse.ini" "${TXPOOL_KEYS[@]}" "${log[@]}" "${up[@]}"
    if dm_try_start "$DM_TMP/dormouse.ini"; then
        pass "dormouse starts with ${TXPOOL_KEYS[*]}"
    else
        # Still run the drivers (session pooling), so that the run says what
        # else works; the upstream connection count check below then fails.
        fail "dormouse starts with ${TXPOOL_KEYS[*]}" "$DM_START_ERROR" "$(tail -n 5 "$DM_LOG")" \
            "running the drivers without these keys"
        dm_write_config "$DM_TMP/dormouse-nopool.ini" "${log[@]}" "${up[@]}"
        dm_start "$DM_TMP/dormouse-nopool.ini"
    fi
    # How many server connections Dormouse opens per database, sampled
    # from pg_stat_activity while the drivers run.
    "$PYTHON" "$DRIVERS_DIR/python/upstream_watch.py" 127.0.0.1 "$PGPORT_REAL" postgres "$DRV_USER" \
        "$OUT/watch.stop" "$OUT/watch.txt" 2>"$OUT/watch.err" &
    WATCH_PID=$!
    bg_track "$WATCH_PID"
else
    dm_write_config "$DM_TMP/dormouse.ini"
    dm_start "$DM_TMP/dormouse.ini"
    for db in "${DBS[@]}"; do
        dm_prepare_db "$db" "$DRV_USER"
    done
fi

# ---- prerequisites: Node modules, the compiled Java class ----

# _java_setup: compiles the .java files once per source version into a cache
# next to the dormouse binary (or in the temp dir); sets JAVA_CP.
_java_setup() {
    [ -f "$PGJDBC_JAR" ] || { echo "no pgjdbc at $PGJDBC_JAR (Debian: apt-get install libpostgresql-jdbc-java)"; return 1; }
    "$JAVAC" -version >/dev/null 2>&1 || { echo "javac not found (Debian: apt-get install default-jdk-headless)"; return 1; }
    local src=("$DRIVERS_DIR"/java/*.java) cache hash
    cache=$(dirname "$DORMOUSE_BIN")
    if [ -d "$cache" ] && [ -w "$cache" ]; then
        cache=$cache/drivers-cache
    else
        cache=$DM_TMP/drivers-cache
    fi
    hash=$(cat "${src[@]}" "$PGJDBC_JAR" | sha256sum | cut -c1-16)
    JAVA_CP=$cache/java-$hash
    [ -f "$JAVA_CP/PgjdbcTest.class" ] && [ -f "$JAVA_CP/PreparedStress.class" ] && return 0
    rm -rf "$cache"/java-*
    mkdir -p "$JAVA_CP.tmp" || return 1
    if ! "$JAVAC" -encoding UTF-8 -Xlint:all -Werror -cp "$PGJDBC_JAR" -d "$JAVA_CP.tmp" "${src[@]}" >"$OUT/javac.log" 2>&1; then
        echo "javac failed:"
        cat "$OUT/javac.log"
        rm -rf "$JAVA_CP.tmp"
        return 1
    fi
    mv "$JAVA_CP.tmp" "$JAVA_CP"
}

# ---- psql, libpq and pgbench: small checks in the drivers' output format ----

_check() { # _check DRIVER NAME EXPECTED ACTUAL
    if [ "$3" == "$4" ]; then
        printf 'PASS: %s: %s\n' "$1" "$2"
    else
        printf 'FAIL: %s: %s\n' "$1" "$2"
        printf 'expected: %s\nactual:   %s\n' "$3" "$4" | sed 's/^/    | /'
    fi
}

# _bounded COMMAND...: runs a client for at most 60 s, and never past the
# drivers' deadline (DRIVER_TIMEOUT after they started), so that a hung
# server cannot make the sequence of clients outlast the test.
_bounded() {
    local left=$((DRIVERS_DEADLINE - SECONDS))
    [ "$left" -le 60 ] || left=60
    [ "$left" -ge 1 ] || left=1
    timeout -k 5 "$left" "$@"
}

run_psql() {
    local ci
    ci=$(dm_conninfo drv_psql "$DRV_USER")
    local -a p=(_bounded "$PSQL" -X -w -At -P null=NULL -v VERBOSITY=sqlstate "$ci")
    _check psql "connect and select 1" 1 "$("${p[@]}" -c 'select 1' 2>&1)"
    _check psql "create table with every supported type (PostgreSQL DDL)" "CREATE TABLE" "$("${p[@]}" -c "create table types (
        id int primary key, b bool, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, n numeric, t text,
        vc varchar(20), c char(5), bt bytea, d date, tm time, ts timestamp, tz timestamptz, u uuid, j json, jb jsonb)" 2>&1)"
    _check psql "insert literals of every type (edge values, NULLs)" "INSERT 0 4" "$("${p[@]}" -c "insert into types values
        (1, true, 32767, 2147483647, 9223372036854775807, 1.5, 3.141592653589793, 12345678901234567890.123456789,
         'héllo wörld ☃ 日本語 🐭', 'varchar ✓', 'ab', '\\x00ff018000', '2024-02-29', '13:45:30.123456',
         '2024-02-29 13:45:30.123456', '2024-02-29 13:45:30.123456+00', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
         '{\"a\": [1, 2, {\"b\": null}], \"s\": \"☃\"}', '{\"t\": true, \"k\": \"v\", \"n\": 1.5}'),
        (2, false, -32768, -2147483648, -9223372036854775808, -0.5, -1e300, -98765.4321, 'it''s \"quoted\"', 'x',
         'abcde', '\\xdeadbeef', '1999-12-31', '23:59:59.999999', '1999-12-31 23:59:59.999999',
         '1999-12-31 18:00:00-05', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF', '[]',
         '{\"unicode\": \"日本\", \"nested\": {\"arr\": []}}'),
        (3, 'f', '0', 0, 0, 0, 0, 0, '', '', '', '\\x', '2000-01-01', '00:00:00', '2000-01-01 00:00:00',
         '2000-01-01 00:00:00+00', '00000000-0000-0000-0000-000000000000', '{}', '[]'),
        (4, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null, null)" 2>&1)"
    _check psql "select every type back (PostgreSQL's text output)" \
        '1|t|32767|2147483647|9223372036854775807|1.5|3.141592653589793|12345678901234567890.123456789|héllo wörld ☃ 日本語 🐭|varchar ✓|ab   |\x00ff018000|2024-02-29|13:45:30.123456|2024-02-29 13:45:30.123456|2024-02-29 13:45:30.123456+00|a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11|{"a": [1, 2, {"b": null}], "s": "☃"}|{"k": "v", "n": 1.5, "t": true}
2|f|-32768|-2147483648|-9223372036854775808|-0.5|-1e+300|-98765.4321|it'"'"'s "quoted"|x|abcde|\xdeadbeef|1999-12-31|23:59:59.999999|1999-12-31 23:59:59.999999|1999-12-31 23:00:00+00|ffffffff-ffff-ffff-ffff-ffffffffffff|[]|{"nested": {"arr": []}, "unicode": "日本"}
3|f|0|0|0|0|0|0|||     |\x|2000-01-01|00:00:00|2000-01-01 00:00:00|2000-01-01 00:00:00+00|00000000-0000-0000-0000-000000000000|{}|[]
4|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL' \
        "$("${p[@]}" -c 'select * from types order by id' 2>&1)"
    "${p[@]}" -q -c "create table tx (id int primary key, v text not null)" >/dev/null 2>&1
    _check psql "transaction rollback, then commit" "0
1" "$("${p[@]}" -q -c "begin" -c "insert into tx values (1, 'undone')" -c "rollback" \
        -c "select count(*) from tx" -c "begin" -c "insert into tx values (1, 'kept')" -c "commit" \
        -c "select count(*) from tx" 2>&1)"
    _check psql "savepoint: rollback to savepoint, release" "1,2,4" "$("${p[@]}" -q -c "begin" \
        -c "insert into tx values (2, 'kept')" -c "savepoint s1" -c "insert into tx values (3, 'undone')" \
        -c "rollback to savepoint s1" -c "savepoint s2" -c "insert into tx values (4, 'released')" \
        -c "release savepoint s2" -c "commit" -c "select id from tx order by id" 2>&1 | paste -sd,)"
    _check psql "unique violation: ERROR 23505, then the session goes on" "ERROR:  23505
1" "$("${p[@]}" -q -c "insert into tx values (1, 'duplicate')" -c "select count(*) from tx where id = 1" 2>&1)"
    _check psql "syntax error: ERROR 42601, then the session goes on" "ERROR:  42601
42" "$("${p[@]}" -q -c "selec 1" -c "select 42" 2>&1)"
    _check psql "1000 rows" "1000 1000 500500" "$("${p[@]}" -F ' ' -c "with recursive g(x) as (select 1 union all
        select x + 1 from g where x < 1000) select x, 'row ' || x from g" 2>&1 |
        awk '{ n++; s += $1 } $2 == "row" && $3 == $1 { ok++ } END { print n, ok, s }')"
}

run_libpq() {
    local ci
    ci=$(dm_conninfo drv_libpq "$DRV_USER")
    _check libpq "connect and select 1" OK "$(_bounded "$DM_E2E_CLIENT" connect "$ci" "select 1" 2>&1)"
    _check libpq "unique violation: 23505" 23505 "$(_bounded "$DM_E2E_CLIENT" sqlstate "$ci" \
        "create table u (k int primary key); insert into u values (1), (1)" 2>&1)"
    _check libpq "syntax error: 42601" 42601 "$(_bounded "$DM_E2E_CLIENT" sqlstate "$ci" "selec 1" 2>&1)"
    local out rc
    out=$(_bounded "$DM_E2E_CLIENT" bigresult "$ci" 1000 2>&1)
    rc=$?
    [[ $rc -ne 0 || "$out" != *"1000 rows, all correct"* ]] || out=ok
    _check libpq "1000 rows, every row checked" ok "$out${rc/#0/}"
}

run_pgbench() {
    local mode ci out rc
    ci=$(dm_conninfo drv_pgbench "$DRV_USER")
    for mode in simple extended prepared; do
        _bounded "$PSQL" -X -w -q "$ci" -c "create table pgb_$mode (id int8, v text)" >/dev/null 2>&1
        cat >"$OUT/pgbench-$mode.sql" <<EOF
\\set id random(1, 1000000000)
begin;
insert into pgb_$mode (id, v) values (:id, 'pgbench $mode');
select count(*) from pgb_$mode where id = :id;
commit;
EOF
        out=$(_bounded "$PGBENCH" -n -M "$mode" -c 2 -t 20 -f "$OUT/pgbench-$mode.sql" "$ci" 2>&1)
        rc=$?
        if [ $rc -eq 0 ] && [[ "$out" == *"number of transactions actually processed: 40/40"* ]]; then
            _check pgbench "-M $mode: 2 clients x 20 transactions" ok ok
        else
            _check pgbench "-M $mode: 2 clients x 20 transactions" "exit 0, 40/40 transactions" \
                "exit $rc: $(printf '%s' "$out" | grep -v '^pgbench (' | head -n 4 | tr '\n' ' ')"
        fi
        _check pgbench "-M $mode: 40 rows committed" 40 \
            "$(_bounded "$PSQL" -X -w "$ci" -At -c "select count(*) from pgb_$mode where v = 'pgbench $mode'" 2>&1)"
    done
}

# ---- run everything in parallel ----

# start DRIVER COMMAND...: runs it in the background, output to $OUT/DRIVER.out,
# exit status to $OUT/DRIVER.rc.  A program is killed after DRIVER_TIMEOUT;
# the shell functions (run_psql...) bound each client they run instead.
start() {
    local d=$1
    shift
    OUTFILE[$d]=$OUT/$d.out
    if [ "$(type -t "$1")" = function ]; then
        (
            "$@" >"$OUT/$d.out" 2>&1
            ! grep -q '^FAIL: ' "$OUT/$d.out"
            echo $? >"$OUT/$d.rc"
        ) &
    else
        (
            timeout -k 5 "$DRIVER_TIMEOUT" "$@" >"$OUT/$d.out" 2>&1
            echo $? >"$OUT/$d.rc"
        ) &
    fi
    bg_track $!
    RUN_PIDS+=($!)
}

# The drivers' arguments: HOST PORT DBNAME USER.
args() { printf '%s\n' "$DM_HOST" "$DM_PORT" "$(drv_db "$1")" "$DRV_USER"; }

DRIVERS_DEADLINE=$((SECONDS + DRIVER_TIMEOUT))
start psql run_psql
start libpq run_libpq
start pgbench run_pgbench
for i in "${INSTANCES[@]}"; do
    for d in psycopg2 psycopg3 asyncpg; do
        mapfile -t a < <(args "$d")
        start "$d$i" "$PYTHON" "$DRIVERS_DIR/python/${d}_test.py" "${a[@]}"
    done
done
if [ "$DM_DRIVERS_MODE" = txpool ]; then
    for d in asyncpg psycopg3; do
        mapfile -t a < <(args "$d-stress")
        start "$d-stress" "$PYTHON" "$DRIVERS_DIR/python/${d}_stress.py" "${a[@]}" "$STRESS_CLIENTS"
    done
fi
if err=$(node_modules_setup "$DRIVERS_DIR/node" 18 pg postgres); then
    for i in "${INSTANCES[@]}"; do
        mapfile -t a < <(args pg)
        start "pg$i" "$NODE" "$DRIVERS_DIR/node/pg_test.mjs" "${a[@]}"
        mapfile -t a < <(args postgres.js)
        start "postgres.js$i" "$NODE" "$DRIVERS_DIR/node/postgresjs_test.mjs" "${a[@]}"
    done
    if [ "$DM_DRIVERS_MODE" = txpool ]; then
        for d in pg postgres.js; do
            mapfile -t a < <(args "$d-stress")
            start "$d-stress" "$NODE" "$DRIVERS_DIR/node/prepared_stress.mjs" "$d" "${a[@]}" "$STRESS_CLIENTS"
        done
    fi
else
    for d in "${MATRIX[@]}"; do
        case $d in pg | pg#* | pg-* | postgres.js*) SETUP_ERR[$d]=$err ;; esac
    done
fi
JAVA_RUN=("$JAVA" -Dfile.encoding=UTF-8 -Dsun.stdout.encoding=UTF-8 -Xshare:auto -XX:TieredStopAtLevel=1)
if _java_setup >"$OUT/java-setup.err" 2>&1; then
    for i in "${INSTANCES[@]}"; do
        mapfile -t a < <(args pgjdbc)
        start "pgjdbc$i" "${JAVA_RUN[@]}" -cp "$JAVA_CP:$PGJDBC_JAR" PgjdbcTest "${a[@]}"
    done
    if [ "$DM_DRIVERS_MODE" = txpool ]; then
        mapfile -t a < <(args pgjdbc-stress)
        start pgjdbc-stress "${JAVA_RUN[@]}" -cp "$JAVA_CP:$PGJDBC_JAR" PreparedStress "${a[@]}" "$STRESS_CLIENTS"
    fi
else
    for d in "${MATRIX[@]}"; do
        case $d in pgjdbc*) SETUP_ERR[$d]=$(cat "$OUT/java-setup.err") ;; esac
    done
fi
wait "${RUN_PIDS[@]}"
[ -z "$WATCH_PID" ] || touch "$OUT/watch.stop"

# ---- relay, count, summarize ----

KNOWN=$DM_SOURCE_DIR/tests/drivers/known_failures.txt
[ "$DM_DRIVERS_MODE" = txpool ] && KNOWN=$DM_SOURCE_DIR/tests/drivers/known_failures_txpool.txt
DM_KNOWN=0
declare -A NPASS=() NFAIL=() FIRST=() VERSION=()
for d in "${MATRIX[@]}"; do
    echo "---- $d ----"
    NPASS[$d]=0
    NFAIL[$d]=0
    FIRST[$d]=""
    VERSION[$d]=""
    if [ -n "${SETUP_ERR[$d]:-}" ]; then
        fail "$d: setup" "${SETUP_ERR[$d]}"
        NFAIL[$d]=1
        FIRST[$d]="setup: $(printf '%s' "${SETUP_ERR[$d]}" | head -n 1)"
        continue
    fi
    f=${OUTFILE[$d]}
    RC[$d]=$(cat "$OUT/$d.rc" 2>/dev/null || echo "?")
    cat "$f"
    NPASS[$d]=$(grep -c '^PASS: ' "$f")
    NFAIL[$d]=$(grep -c '^FAIL: ' "$f")
    VERSION[$d]=$(sed -n 's/^\([^:]*\): [0-9]* of [0-9]* checks passed$/\1/p' "$f" | tail -n 1)
    if [ "${NFAIL[$d]}" -gt 0 ]; then
        FIRST[$d]=$(awk '/^FAIL: / && !name { sub(/^FAIL: [^:]*: /, ""); name = $0; next }
            name && /^    \| / { sub(/^    \| /, ""); print name " -- " $0; done = 1; exit }
            name && !/^    \| / { print name; done = 1; exit }
            END { if (name && !done) print name }' "$f")
    fi
    DM_PASSES=$((DM_PASSES + NPASS[$d]))
    if [ "$DM_E2E_TARGET" = dormouse ] && [ -f "$KNOWN" ]; then
        # Checks listed in known_failures.txt are gaps on record (the README's
        # matrix): they do not fail the suite, but a listed check that passes
        # does, so that the list only ever shrinks to the truth.
        known=$(grep '^FAIL: ' "$f" | sed 's/^FAIL: //' | grep -Fxc -f "$KNOWN" || true)
        DM_FAILS=$((DM_FAILS + NFAIL[$d] - known))
        DM_KNOWN=$((DM_KNOWN + known))
        while IFS= read -r k; do
            if grep -Fxq "PASS: $k" "$f"; then
                fail "known failure now passes: $k" "remove it from tests/drivers/known_failures.txt"
            fi
        done < <(grep "^$d: " "$KNOWN" || true)
    else
        DM_FAILS=$((DM_FAILS + NFAIL[$d]))
    fi
    rc=${RC[$d]}
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        fail "$d: finished within ${DRIVER_TIMEOUT} s" "killed after ${DRIVER_TIMEOUT} s (exit status $rc)"
        NFAIL[$d]=$((NFAIL[$d] + 1))
        FIRST[$d]=${FIRST[$d]:-"timed out after ${DRIVER_TIMEOUT} s"}
    elif [ "$((NPASS[$d] + NFAIL[$d]))" -eq 0 ] || { [ "$rc" != 0 ] && [ "${NFAIL[$d]}" -eq 0 ]; }; then
        fail "$d: the program ran its checks" "exit status $rc, $((NPASS[$d] + NFAIL[$d])) checks reported"
        NFAIL[$d]=$((NFAIL[$d] + 1))
        FIRST[$d]=${FIRST[$d]:-"exit status $rc: $(grep -v '^PASS: ' "$f" | head -n 1)"}
    elif [ "$rc" = 0 ] && [ "${NFAIL[$d]}" -gt 0 ]; then
        fail "$d: exit status reflects failures" "exit status 0 with ${NFAIL[$d]} failed checks"
    fi
done

# ---- transaction pooling: the pool size held upstream ----

if [ -n "$WATCH_PID" ]; then
    if ! wait_until 10 test -f "$OUT/watch.txt"; then
        fail "upstream: pg_stat_activity sampled while the drivers ran" "$(cat "$OUT/watch.err")"
    else
        over=()
        for db in "${DBS[@]}"; do
            read -r _ most distinct < <(grep "^$db " "$OUT/watch.txt" || echo "$db 0 0")
            info "upstream $db: at most $most server connections at once, $distinct backends in all"
            [ "$most" -le "$TXPOOL_SIZE" ] || over+=("$db: $most server connections at once")
        done
        info "$(grep '^# ' "$OUT/watch.txt" | sed 's/^# //') of pg_stat_activity"
        if [ ${#over[@]} -eq 0 ]; then
            pass "upstream: never more than default_pool_size ($TXPOOL_SIZE) server connections per database, with up to $STRESS_CLIENTS clients per database"
        else
            fail "upstream: never more than default_pool_size ($TXPOOL_SIZE) server connections per database, with up to $STRESS_CLIENTS clients per database" "${over[@]}"
        fi
    fi
fi

echo
if [ "$DM_DRIVERS_MODE" = txpool ] && [ "$DM_E2E_TARGET" = dormouse ]; then
    echo "== driver matrix (target: dormouse, transaction pooling in front of PostgreSQL, default_pool_size=$TXPOOL_SIZE) =="
else
    echo "== driver matrix (target: $DM_E2E_TARGET) =="
fi
printf '%-18s %-64s %-7s %s\n' driver "protocol paths" checks "first failure"
for d in "${MATRIX[@]}"; do
    total=$((NPASS[$d] + NFAIL[$d]))
    first=${FIRST[$d]}
    [ ${#first} -le 160 ] || first="${first:0:157}..."
    [ "${NFAIL[$d]}" -eq 0 ] && first="ok"
    printf '%-18s %-64s %-7s %s\n' "$d" "${VIA[$d]}" "${NPASS[$d]}/$total" "$first"
done
for d in "${MATRIX[@]}"; do
    [[ "$d" != *"#"* ]] && [ -n "${VERSION[$d]}" ] && info "${VERSION[$d]}"
done
[ "$DM_KNOWN" -gt 0 ] && info "$DM_KNOWN failed checks are known gaps listed in tests/drivers/$(basename "$KNOWN")"
dm_finish
