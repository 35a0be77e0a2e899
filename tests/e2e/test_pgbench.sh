#!/usr/bin/env bash
# test_pgbench: pgbench against Dormouse on SQLite.
#
# pgbench -i (drop, create WITH (fillfactor), COPY ... FREEZE of every table
# inside one transaction, VACUUM ANALYZE, ALTER TABLE ADD PRIMARY KEY), then
# the built-in scripts (TPC-B, simple-update -N, select-only -S) with each
# query mode (simple, extended, prepared) and a few clients.  Every run must
# finish all its transactions with none failed, and the data must add up:
# TPC-B moves the same delta into an account, a teller and a branch and logs
# it in pgbench_history, -N only into an account and the history.  The runs
# use -n (no vacuum, so the history is kept across runs).
#
# DM_PGBENCH_SCALE (default 10) sets -s; the init time is printed.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PGBENCH=${PGBENCH:-$PG_BINDIR/pgbench}
[ -x "$PGBENCH" ] || die "setup: no pgbench at $PGBENCH"
SCALE=${DM_PGBENCH_SCALE:-10}
CLIENTS=4
TX=100 # per client

DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
dm_write_config "$DM_TMP/dormouse.ini"
dm_start "$DM_TMP/dormouse.ini"
dm_prepare_db bench bench
CI=$(dm_conninfo bench bench)
OUT=$(dm_tmpdir out)

sql() {
    dm_psql "$CI" -At -c "$1" 2>&1
}

start=$(date +%s.%N)
"$PGBENCH" -i -s "$SCALE" "$CI" >"$OUT/init.out" 2>&1
rc=$?
secs=$(echo "$(date +%s.%N) - $start" | bc)
assert_rc "pgbench -i -s $SCALE" 0 $rc "$(cat "$OUT/init.out")"
info "pgbench -i -s $SCALE took ${secs} s: $(grep '^done' "$OUT/init.out")"
assert_eq "pgbench_accounts has 100000 * scale rows" "$((100000 * SCALE))" "$(sql 'select count(*) from pgbench_accounts')"
assert_eq "pgbench_branches has scale rows" "$SCALE" "$(sql 'select count(*) from pgbench_branches')"
assert_eq "pgbench_tellers has 10 * scale rows" "$((10 * SCALE))" "$(sql 'select count(*) from pgbench_tellers')"
assert_eq "pgbench_history is empty" "0" "$(sql 'select count(*) from pgbench_history')"
assert_eq "balances start at zero" "0|0|0" \
    "$(sql 'select (select sum(abalance) from pgbench_accounts), (select sum(bbalance) from pgbench_branches), (select sum(tbalance) from pgbench_tellers)')"
assert_eq "the primary keys are there (duplicate aid refused with t_pkey)" \
    'ERROR:  duplicate key value violates unique constraint "pgbench_accounts_pkey"' \
    "$(sql 'insert into pgbench_accounts values (1, 1, 0, null)' | head -1)"

# run NAME ARGS...: one pgbench run; all transactions done, none failed.
run() {
    local name=$1
    shift
    "$PGBENCH" -n -c "$CLIENTS" -j 2 -t "$TX" "$@" "$CI" >"$OUT/run.out" 2>&1
    local rc=$?
    local done_tx failed tps
    done_tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\)\/.*/\1/p' "$OUT/run.out")
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$OUT/run.out")
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$OUT/run.out")
    if [ $rc -eq 0 ] && [ "$done_tx" = $((CLIENTS * TX)) ] && [ "${failed:-0}" = 0 ]; then
        pass "pgbench $name: $done_tx transactions, none failed ($tps tps)"
    else
        fail "pgbench $name" "exit status $rc" "$(cat "$OUT/run.out")"
    fi
}

TPCB=0
for mode in simple extended prepared; do
    run "TPC-B -M $mode" -M "$mode"
    TPCB=$((TPCB + CLIENTS * TX))
done
sums=$(sql 'select (select sum(abalance) from pgbench_accounts), (select sum(bbalance) from pgbench_branches), (select sum(tbalance) from pgbench_tellers), (select sum(delta) from pgbench_history)')
IFS='|' read -r a b t h <<<"$sums"
if [ -n "$a" ] && [ "$a" = "$b" ] && [ "$b" = "$t" ] && [ "$t" = "$h" ]; then
    pass "after TPC-B: sum(abalance) = sum(bbalance) = sum(tbalance) = sum(history.delta) ($a)"
else
    fail "after TPC-B: balances add up" "accounts|branches|tellers|history: $sums"
fi
assert_eq "after TPC-B: one history row per transaction" "$TPCB" "$(sql 'select count(*) from pgbench_history')"

for mode in simple extended prepared; do
    run "simple-update (-N) -M $mode" -N -M "$mode"
done
sums=$(sql 'select (select sum(abalance) from pgbench_accounts), (select sum(bbalance) from pgbench_branches), (select sum(tbalance) from pgbench_tellers), (select sum(delta) from pgbench_history)')
IFS='|' read -r a b t h <<<"$sums"
if [ -n "$a" ] && [ "$a" = "$h" ] && [ "$b" = "$t" ]; then
    pass "after -N: sum(abalance) = sum(history.delta), branches = tellers ($a, $b)"
else
    fail "after -N: balances add up" "accounts|branches|tellers|history: $sums"
fi
assert_eq "after -N: one history row per transaction" "$((TPCB + 3 * CLIENTS * TX))" \
    "$(sql 'select count(*) from pgbench_history')"

for mode in simple extended prepared; do
    run "select-only (-S) -M $mode" -S -M "$mode"
done

# A run with pgbench's own start-up (vacuum of the branches and tellers,
# truncate of the history) and its catalog query.
"$PGBENCH" -c 2 -t 20 "$CI" >"$OUT/run.out" 2>&1
assert_rc "pgbench with its start-up vacuum and catalog query" 0 $? "$(cat "$OUT/run.out")"
assert_eq "the start-up truncated the history" 40 "$(sql 'select count(*) from pgbench_history')"

dm_stop_check
dm_finish
