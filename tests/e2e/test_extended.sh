#!/usr/bin/env bash
# test_extended: the extended query protocol through libpq and pgbench.
#
# PQprepare/PQexecPrepared with text and binary parameters and results,
# PQdescribePrepared, PQexecParams, pipeline mode with an error in the
# middle, single-row mode over a large result, and pgbench -M extended and
# -M prepared with a custom script.  Expected outputs are PostgreSQL's (run
# with DM_E2E_TARGET=postgres to see them produced by a real PostgreSQL).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
dm_write_config "$DM_TMP/dormouse.ini"
dm_start "$DM_TMP/dormouse.ini"
dm_prepare_db ext ext
CI=$(dm_conninfo ext ext)

# ---- PQprepare / PQexecPrepared / PQdescribePrepared ----
out=$(dm_client prepared "$CI" 2>&1)
rc=$?
assert_rc "prepared: every step succeeds" 0 $rc "$out"
assert_eq "prepared: transcript" "$(
    cat <<'EOF2'
create: CREATE TABLE [I]
prepare ins:  [I]
insert text params: INSERT 0 1 [I]
insert binary params: INSERT 0 1 [I]
insert nulls: INSERT 0 1 [I]
insert bad int: ERROR:22P02 [I]
prepare sel:  [I]
describe sel: nparams=1 $1:23 nfields=5 id:23 name:25 score:701 flag:16 data:17
select text: SELECT 3{1,one,1.5,t,\x0102ff;2,two,-0.25,f,\x00787f;3,NULL,NULL,NULL,NULL} [I]
select binary: SELECT 3
  row: int4:1 25:one float8:1.5 bool:t bytea:0102ff
  row: int4:2 25:two float8:-0.25 bool:f bytea:00787f
  row: int4:3 NULL NULL NULL NULL
prepare sel again: ERROR:42P05 [I]
sel without params: ERROR:08P01 [I]
no such statement: ERROR:26000 [I]
EOF2
)" "$out"

# ---- PQexecParams ----
out=$(dm_client params "$CI" "select id, name from ext where id >= \$1 and id < \$2 order by id" 2 4 2>&1)
assert_eq "PQexecParams: text parameters" "result: SELECT 2{2,two;3,NULL} [I]" "$out"
out=$(dm_client params "$CI" "select coalesce(\$1, 'null'), \$2" '\N' 'x' 2>&1)
assert_eq "PQexecParams: a NULL parameter" "result: SELECT 1{null,x} [I]" "$out"
out=$(dm_client params "$CI" "update ext set name = \$1 where id = \$2" 'three' 3 2>&1)
assert_eq "PQexecParams: UPDATE tag" "result: UPDATE 1 [I]" "$out"
out=$(dm_client params "$CI" "" 2>&1)
assert_eq "PQexecParams: empty query" "result: EMPTY [I]" "$out"
out=$(dm_client params "$CI" "select 1; select 2" 2>&1)
assert_eq "PQexecParams: two statements -> 42601" "result: ERROR:42601 [I]" "$out"
out=$(dm_client params "$CI" "select * from no_such_table" 2>&1)
assert_eq "PQexecParams: undefined table -> 42P01" "result: ERROR:42P01 [I]" "$out"

# ---- pipeline mode ----
out=$(dm_client pipeline "$CI" 2>&1)
assert_eq "pipeline: an error aborts the rest up to the sync point" "$(
    cat <<'EOF2'
INSERT 0 1
--
ERROR:23505
--
ABORTED
--
SYNC
SELECT 1{0}
--
INSERT 0 1
--
SYNC
after: SELECT 1{1}
EOF2
)" "$out"

# ---- single-row mode ----
out=$(dm_client singlerow "$CI" 1000 2>&1)
assert_eq "single-row mode over 1000 rows" "singlerow: 1000 rows, then SELECT 1000 with 0 rows" "$out"

# ---- the session goes on after all of that ----
out=$(dm_psql "$CI" -At -c "select count(*) from ext" 2>&1)
assert_eq "psql after the extended protocol" "3" "$out"

# ---- pgbench with a custom script ----
PGBENCH=$PG_BINDIR/pgbench
[ -x "$PGBENCH" ] || PGBENCH=$(command -v pgbench || echo pgbench)
out=$(dm_psql "$CI" -q -v ON_ERROR_STOP=1 -c "create table accounts(aid int primary key, abalance int not null)" \
    -c "create table history(aid int, delta int)" \
    -c "insert into accounts with recursive g(x) as (select 1 union all select x + 1 from g where x < 100) select x, 0 from g" 2>&1)
assert_rc "pgbench: schema" 0 $? "$out"
cat >"$DM_TMP/bench.sql" <<'EOF2'
\set aid random(1, 100)
\set delta random(-5000, 5000)
BEGIN;
UPDATE accounts SET abalance = abalance + :delta WHERE aid = :aid;
SELECT abalance FROM accounts WHERE aid = :aid;
INSERT INTO history (aid, delta) VALUES (:aid, :delta);
END;
EOF2
for mode in extended prepared; do
    out=$("$PGBENCH" -n -M $mode -f "$DM_TMP/bench.sql" -c 4 -j 2 -t 50 \
        -h "$DM_HOST" -p "$DM_PORT" -U ext ext 2>&1)
    rc=$?
    assert_rc "pgbench -M $mode exits 0" 0 $rc "$out"
    assert_contains "pgbench -M $mode: all transactions processed" "$out" \
        "number of transactions actually processed: 200/200"
    assert_contains "pgbench -M $mode: no failed transactions" "$out" "number of failed transactions: 0"
done
out=$(dm_psql "$CI" -At -c "select count(*), sum(delta) - (select sum(abalance) from accounts) from history" 2>&1)
assert_eq "pgbench: every transaction committed, balances add up" "400|0" "$out"

if dm_only "clean exit"; then
    dm_stop_check
fi
dm_finish
