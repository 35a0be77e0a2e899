#!/usr/bin/env bash
# test_quickstart: the README flow, byte for byte against PostgreSQL.
#
# Every psql command runs twice, against a real PostgreSQL (database and role
# "demo") and against Dormouse, in the same order, so both hold the same data;
# stdout, stderr and the exit status must be identical.  psql right-aligns
# numeric columns and left-aligns the rest, so aligned output also checks the
# type OIDs.  Then the SQLite file must exist in data_dir and be in WAL mode.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "the quickstart compares Dormouse with PostgreSQL" || dm_finish
pg_start
pg_psql -c "create role demo login" -c "create database demo owner demo" ||
    die "cannot create the demo role and database in PostgreSQL"

DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
dm_write_config "$DM_TMP/dormouse.ini"
dm_start "$DM_TMP/dormouse.ini"

PG_CI="host=127.0.0.1 port=$PGPORT_REAL dbname=demo user=demo"
DM_CI="host=127.0.0.1 port=$DM_PORT dbname=demo user=demo"
OUT=$(dm_tmpdir out)
N=0

# both NAME [psql args...]: the same psql command against both servers.
both() {
    local name=$1
    shift
    N=$((N + 1))
    "$PSQL" -X -w "$PG_CI" "$@" >"$OUT/$N.pg.out" 2>"$OUT/$N.pg.err"
    local pg_rc=$?
    "$PSQL" -X -w "$DM_CI" "$@" >"$OUT/$N.dm.out" 2>"$OUT/$N.dm.err"
    local dm_rc=$?
    if [ $pg_rc -ne 0 ]; then
        fail "$name: (reference) PostgreSQL run failed with status $pg_rc" "$(cat "$OUT/$N.pg.err")"
        return 1
    fi
    if cmp -s "$OUT/$N.pg.out" "$OUT/$N.dm.out" && cmp -s "$OUT/$N.pg.err" "$OUT/$N.dm.err" &&
        [ $pg_rc -eq $dm_rc ]; then
        pass "$name"
        return 0
    fi
    local -a details=("psql args: $*")
    [ $pg_rc -eq $dm_rc ] || details+=("exit status: PostgreSQL $pg_rc, Dormouse $dm_rc")
    if ! cmp -s "$OUT/$N.pg.out" "$OUT/$N.dm.out"; then
        details+=("stdout, PostgreSQL (cat -A):" "$(cat -A "$OUT/$N.pg.out")"
            "stdout, Dormouse (cat -A):" "$(cat -A "$OUT/$N.dm.out")")
    fi
    if ! cmp -s "$OUT/$N.pg.err" "$OUT/$N.dm.err"; then
        details+=("stderr, PostgreSQL:" "$(cat "$OUT/$N.pg.err")" "stderr, Dormouse:" "$(cat "$OUT/$N.dm.err")")
    fi
    fail "$name" "${details[@]}"
    return 1
}

# ---- the README flow ----
both "README: create, insert, select (aligned)" \
    -c "create table t(id integer primary key, name text); insert into t values (1,'a'),(2,'b'); select * from t order by id"
sed 's/^/      | /' "$OUT/1.dm.out"
both "select, unaligned (-A)" -A -c "select * from t order by id"
both "select, tuples only (-t)" -t -c "select * from t order by id"
both "select, -At" -At -c "select name from t where id = 2"
both "select, -A with a field separator" -A -F ';' -c "select id, name from t order by id desc"
both "expanded output (-x)" -x -c "select * from t order by id"

# ---- values whose printing must match ----
both "types: create and fill a table of typed columns" -c "create table v(
        k integer primary key, i integer, b bigint, s text, f boolean, d double precision,
        vc varchar(10), n numeric, dt date, ts timestamp)" \
    -c "insert into v values
        (1, 1, -9000000000, '', true, -1.5, 'x', -3, '2024-02-29', '2024-02-29 13:45:00'),
        (2, -42, 0, 'héllo wörld ☃ 日本語', false, 2.25, NULL, 12.5, '1999-12-31', '1999-12-31 23:59:59'),
        (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
        (4, 2147483647, 9223372036854775807, 'it''s \"quoted\"', true, 0, 'ten chars!', 0, '2000-01-01', '2000-01-01 00:00:00')"
both "types: aligned output (alignment follows type OIDs)" -c "select * from v order by k"
both "types: NULL vs empty string (-P null=)" -A -P 'null=<NULL>' -c "select k, s, vc, i from v order by k"
both "types: booleans print t/f" -At -c "select k, f from v order by k"
both "types: negative numbers" -c "select i, b, d, n from v where k in (1, 2) order by k"
both "types: unicode text (aligned, multibyte widths)" -c "select k, s from v where k = 2"
both "types: where on a boolean and on text" -At -c "select k from v where f and s = '' order by k"
both "double precision 0.1 prints as 0.1" -At -c "create table fl(x double precision)" \
    -c "insert into fl values (0.1), (1e-7), (123456789.125)" -c "select x from fl order by x"

# ---- several statements in one -c: psql shows every result ----
both "multi-statement -c: tags and results of each statement" \
    -c "insert into t values (3, 'c'); update t set name = 'B' where id = 2; select id, name from t order by id; delete from t where id = 3"
both "multi-statement -c with column aliases" -c "select 1 as one, 'x' as ex; select -5 as neg, null as nada"
# Aliases that are keywords to SQLite but plain names to PostgreSQL.
both "column aliases that are SQLite keywords" -c "select 1 as nothing, 2 as glob, 3 as pragma, 4 as abort"

# ---- command tags and ROW_COUNT ----
both "INSERT tag" -c "insert into t values (4, 'd')"
both "UPDATE tag (1 row)" -c "update t set name = 'z' where id = 1"
both "UPDATE tag (several rows)" -c "update t set name = name || '!'"
both "DELETE tag (no row)" -c "delete from t where id = 99"
both "DELETE tag (1 row)" -c "delete from t where id = 4"
both "ROW_COUNT after UPDATE" -q -c "update t set name = 'y' where id <= 2" -c '\echo :ROW_COUNT'
both "ROW_COUNT after SELECT" -q -c "select * from t" -c '\echo :ROW_COUNT'
both "transaction block tags" -c "begin" -c "insert into t values (5, 'e')" -c "rollback" \
    -c "select count(*) as n from t"
both "empty result" -c "select id, name from t where id < 0"
both "aggregate column name" -c "select count(*) from t"
both "extract and date_part" -c "select extract(year from timestamp '2024-02-29 10:00:01.5') as y,
    extract(second from timestamp '2024-02-29 10:00:01.5') as s, extract(epoch from timestamp '2024-02-29 10:00:01.5') as e,
    extract(dow from date '2024-02-29') as dow, extract(doy from date '2024-02-29') as doy, extract(week from date '2024-01-01') as w,
    extract(isoyear from date '2021-01-01') as iy, date_part('hour', timestamp '2024-02-29 10:00') as h,
    extract(milliseconds from timestamp '2024-02-29 10:00:01.5') as ms, extract(quarter from date '2024-05-01') as q,
    extract(epoch from interval '1 day 2 hours') as ie, extract(hour from interval '1 day 2 hours') as ih"
both "date_trunc" -c "select date_trunc('day', timestamp '2024-02-29 10:00') as d, date_trunc('week', timestamp '2024-02-29 10:00') as w,
    date_trunc('month', timestamptz '2024-02-29 10:00+00') as m, date_trunc('quarter', date '2024-05-09') as q,
    date_trunc('hour', timestamp '2024-02-29 10:59:59.9') as h, date_trunc('year', timestamp '2024-02-29') as y,
    date_trunc('century', timestamp '2024-02-29') as c"
both "array_agg" -c "create table agg_t(x int)" -c "select array_agg(x) from agg_t" \
    -c "insert into agg_t values (1), (2)" -c "select array_agg(x) as a from agg_t" -c "drop table agg_t"
both "INSERT without a column list: defaults fill the rest" -c "create table fill(id int, name text default 'x', n int default 7)" \
    -c "insert into fill values (1)" -c "insert into fill values (2, 'b'), (3, 'c')" \
    -c "select * from fill order by id" -c "drop table fill"
both "values checked as PostgreSQL's types check them" -c "create table chk(a smallint, v varchar(3), n numeric(5,2))" \
    -c "insert into chk values (1, 'abc  ', 999.994)" -c "insert into chk (a) values (40000)" -c "insert into chk (v) values ('abcd')" \
    -c "insert into chk (n) values (999.995)" -c "select * from chk" -c "drop table chk"
both "DROP ... IF EXISTS notices" -c "drop table if exists nope1, nope2" -c "drop index if exists nope3" \
    -c "drop view if exists nope4" -c "create table gone(id int)" -c "drop table if exists gone"
both "expression types and values" -c "select 0.1 + 0.2 as n, 1 = 1 as b, count(*) > 0 as c, 2.50::numeric(5,2) as m,
    '{\"b\": 1, \"a\": 2}'::jsonb as j, 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid as u, interval '1 day 2 hours' as i from t"

# ---- the same through a file, as a user pipes a script ----
cat >"$OUT/script.sql" <<'EOF'
create table items(id integer primary key, label text not null, qty integer);
insert into items values (1, 'apple', 3), (2, 'pear', -1);
insert into items values (3, 'plum', null);
select label, qty from items order by id;
update items set qty = qty + 1 where qty is not null;
select sum(qty) as total from items;
EOF
both "psql -f script" -f "$OUT/script.sql"
both "psql reading stdin (-q -A)" -q -A -c "select label || ':' || coalesce(qty, 0) as l from items order by id"

# ---- the SQLite file ----
DB_FILE=$DM_DATA/demo.db
if [ -f "$DB_FILE" ]; then
    pass "SQLite file exists at data_dir/demo.db"
    assert_eq "demo.db is an SQLite database" "SQLite format 3" "$(head -c 15 "$DB_FILE")"
    mode=$(sqlite3 "$DB_FILE" 'pragma journal_mode' 2>&1)
    assert_eq "demo.db is in WAL mode" "wal" "$mode"
else
    fail "SQLite file exists at data_dir/demo.db" "data_dir contains: $(ls -la "$DM_DATA")"
fi

dm_stop_check
dm_finish
