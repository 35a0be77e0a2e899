#!/usr/bin/env bash
# test_concurrency: several databases at once, 100 concurrent clients, a slow
# query that must not block other databases, a large streamed result, and
# max_client_conn.
#
# No timing thresholds: the non-blocking check asserts an ordering (the
# "select 1" phase on database B ends before the slow query on database A).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
dm_write_config "$DM_TMP/dormouse.ini" "sqlite_workers = 4"
dm_start "$DM_TMP/dormouse.ini"
for db in alpha beta conc slowdb fastdb big; do
    dm_prepare_db "$db" "$db"
done

# ---- two databases are separate ----
out=$(dm_client script "$(dm_conninfo alpha)" 2>&1 <<'EOF'
A =dbname=alpha user=alpha
B =dbname=beta user=beta
A create table t(id integer primary key, who text)
B create table t(id integer primary key, who text)
A insert into t values (1, 'alpha')
B insert into t values (1, 'beta'), (2, 'beta')
A select id, who from t order by id
B select id, who from t order by id
A create table only_in_alpha(x integer)
B select * from only_in_alpha
A begin
A insert into t values (2, 'alpha')
B begin
B insert into t values (3, 'beta')
B commit
A commit
A select count(*) from t
B select count(*) from t
EOF
)
assert_eq "two databases: same table name, separate data; writes in both at once" "$(
    cat <<'EOF'
A: CREATE TABLE [I]
B: CREATE TABLE [I]
A: INSERT 0 1 [I]
B: INSERT 0 2 [I]
A: SELECT 1{1,alpha} [I]
B: SELECT 2{1,beta;2,beta} [I]
A: CREATE TABLE [I]
B: ERROR:42P01 [I]
A: BEGIN [T]
A: INSERT 0 1 [T]
B: BEGIN [T]
B: INSERT 0 1 [T]
B: COMMIT [I]
A: COMMIT [I]
A: SELECT 1{2} [I]
B: SELECT 1{3} [I]
EOF
)" "$out"
if dm_only "one SQLite file per database"; then
    assert_true "alpha.db and beta.db exist in data_dir" "data_dir: $(ls "$DM_DATA")" \
        test -f "$DM_DATA/alpha.db" -a -f "$DM_DATA/beta.db"
fi

# ---- 100 concurrent clients on one database ----
# Each client creates its own table, fills it (one multi-row INSERT, then one
# row per statement), reads it back and checks every row, then fails a block
# on purpose (25P02 until ROLLBACK) and checks that nothing of it survived.
# First with autocommit writes only, then with writes inside BEGIN blocks,
# which SQLite serialises: PostgreSQL runs both without an error.
conc_check() {
    local mode=$1 what=$2 out rc
    out=$(DM_E2E_TIMEOUT_MS=30000 dm_client concurrent "$(dm_conninfo conc)" 100 20 "$mode" 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then
        pass "100 concurrent clients, $what (${out##*$'\n'})"
    else
        fail "100 concurrent clients, $what" "exit status $rc" "$out"
    fi
}
conc_check autocommit "autocommit writes"
conc_check blocks "writes inside BEGIN ... COMMIT blocks"
dm_alive_check "after 100 concurrent clients"

# ---- a large result arrives whole and in order ----
out=$(dm_client bigresult "$(dm_conninfo big)" 200000 2>&1)
rc=$?
assert_rc "200000-row result streamed completely and in order ($out)" 0 $rc "$out"

# ---- a slow query on database A does not block database B ----
out=$(dm_client latency "$(dm_conninfo slowdb)" "$DM_SLOW_SQL" "$(dm_conninfo fastdb)" 20 2>&1)
rc=$?
info "$(printf '%s\n' "$out" | tr '\n' ' ')"
assert_contains "non-blocking: the slow query succeeds" "$out" "slow_result=$DM_SLOW_RESULT"
assert_contains "non-blocking: 20 x select 1 on another database succeed" "$out" "fast_ok=20/20"
assert_contains "non-blocking: connecting to B and 20 x select 1 finish while the slow query on A still runs" \
    "$out" "fast_done_before_slow=yes"
assert_rc "non-blocking: client status" 0 $rc "$out"
dm_alive_check "after the slow query"
if dm_only "clean exit"; then
    dm_stop_check
fi

# ---- max_client_conn ----
if dm_only "max_client_conn"; then
    DM_PORT=$(free_port) || die "no free port"
    dm_write_config "$DM_TMP/maxconn.ini" "max_client_conn = 5"
    dm_start "$DM_TMP/maxconn.ini"
    out=$(dm_client maxconn "$(dm_conninfo limited)" 5 2>&1)
    info "$(printf '%s\n' "$out" | tr '\n' ' ')"
    assert_contains "max_client_conn=5: five clients connect and query" "$out" "opened=5/5"
    assert_contains "max_client_conn=5: the sixth is refused with 53300" "$out" "extra=ERROR 53300"
    assert_contains "max_client_conn=5: with PostgreSQL's message" "$out" "sorry, too many clients already"
    assert_contains "max_client_conn=5: after one client leaves, a new one gets in" "$out" "after_close=OK"
    dm_stop_check "dormouse exits 0 (max_client_conn instance)"
fi
dm_finish
