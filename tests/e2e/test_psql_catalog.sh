#!/usr/bin/env bash
# test_psql_catalog: psql's describe commands, byte for byte against PostgreSQL.
#
# The same schema (serial primary keys, varchar(n), numeric(p,s), NOT NULL
# with DEFAULT, boolean and timestamptz defaults, UNIQUE, CREATE INDEX, a
# foreign key) is created in a real PostgreSQL (database and role "demo") and
# in Dormouse; then psql -X runs \dt, \d TABLE, \d+ TABLE, \di, \dn, \du and
# \dt+ against both and stdout, stderr and the exit status must be identical,
# except where the servers necessarily differ:
#
#  - \l lists every database of the cluster (postgres, template0/1 with their
#    privileges); only the row of the test database is compared (-At).
#  - \du lists PostgreSQL's roles; Dormouse shows the superuser "postgres"
#    and the role that owns the database (named after it, as the storage does
#    not know the connecting user), which here is exactly PostgreSQL's list.
#  - \dt+ shows sizes (PostgreSQL's 8 kB pages): compared without the Size
#    column.
# Then the drivers' catalog queries (postgres.js's fetch_types, pgjdbc's type
# lookups, pgbench's table check) must give PostgreSQL's rows.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "the catalog is compared between Dormouse and PostgreSQL" || dm_finish
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

# both NAME FILTER [psql args...]: the same psql command against both
# servers, outputs passed through the shell command FILTER ("cat": as is).
both() {
    local name=$1 filter=$2
    shift 2
    N=$((N + 1))
    "$PSQL" -X -w "$PG_CI" "$@" 2>"$OUT/$N.pg.err" | eval "$filter" >"$OUT/$N.pg.out"
    local pg_rc=${PIPESTATUS[0]}
    "$PSQL" -X -w "$DM_CI" "$@" 2>"$OUT/$N.dm.err" | eval "$filter" >"$OUT/$N.dm.out"
    local dm_rc=${PIPESTATUS[0]}
    if [ "$pg_rc" -ne 0 ] && [ -z "${EXPECT_ERROR:-}" ]; then
        fail "$name: (reference) PostgreSQL run failed with status $pg_rc" "$(cat "$OUT/$N.pg.err")"
        return 1
    fi
    if cmp -s "$OUT/$N.pg.out" "$OUT/$N.dm.out" && cmp -s "$OUT/$N.pg.err" "$OUT/$N.dm.err" &&
        [ "$pg_rc" -eq "$dm_rc" ]; then
        pass "$name"
        return 0
    fi
    local -a details=("psql args: $*")
    [ "$pg_rc" -eq "$dm_rc" ] || details+=("exit status: PostgreSQL $pg_rc, Dormouse $dm_rc")
    if ! cmp -s "$OUT/$N.pg.out" "$OUT/$N.dm.out"; then
        details+=("stdout diff (-PostgreSQL +Dormouse):"
            "$(diff -u "$OUT/$N.pg.out" "$OUT/$N.dm.out" | tail -n +3)")
    fi
    if ! cmp -s "$OUT/$N.pg.err" "$OUT/$N.dm.err"; then
        details+=("stderr, PostgreSQL:" "$(cat "$OUT/$N.pg.err")" "stderr, Dormouse:" "$(cat "$OUT/$N.dm.err")")
    fi
    fail "$name" "${details[@]}"
    return 1
}

SCHEMA="
create table authors (
    id serial primary key,
    name varchar(100) not null,
    email varchar(255) unique,
    bio text not null default 'none',
    active boolean default true,
    created_at timestamptz default now()
);
create table books (
    id serial primary key,
    author_id integer not null references authors(id),
    title text not null,
    price numeric(10,2),
    pages integer default 0,
    published date
);
create index books_title_idx on books (title);
create table tags (
    tag_id bigint primary key,
    label varchar(20) not null unique,
    weight double precision
);"
both "schema: create the tables and the index" cat -q -c "$SCHEMA"

both "\\dt" cat -c '\dt'
for t in authors books tags; do
    both "\\d $t" cat -c "\\d $t"
done
both "\\d+ authors" cat -c '\d+ authors'
both "\\d+ books" cat -c '\d+ books'
both "\\di" cat -c '\di'
both "\\dn" cat -c '\dn'
both "\\du" cat -c '\du'
both "\\l (the test database's row)" "grep '^demo|'" -At -c '\l'
both "\\dt+ (without the Size column)" "cut -d'|' -f1-6,8-" -A -c '\dt+'
EXPECT_ERROR=1 both "\\d of a missing table" cat -c '\d nosuchtable'

# ---- the drivers' catalog queries ----
both "postgres.js: fetch_types" cat -A -c "select b.oid, b.typarray from pg_catalog.pg_type a
    left join pg_catalog.pg_type b on b.oid = a.typelem where a.typcategory = 'A'
    and b.oid in (16, 17, 20, 21, 23, 25, 26, 700, 701, 1043, 1082, 1114, 1184, 1700, 2950, 3802)
    group by b.oid, b.typarray order by b.oid"
PGJDBC_SP="LEFT JOIN (select ns.oid as nspoid, ns.nspname, r.r from pg_namespace as ns
    join ( select s.r, (current_schemas(false))[s.r] as nspname
           from generate_series(1, array_upper(current_schemas(false), 1)) as s(r) ) as r
    using ( nspname ) ) as sp ON sp.nspoid = typnamespace"
for oid in 16 23 1043 1007 1184; do
    both "pgjdbc: type by OID $oid" cat -A -c "SELECT typinput='pg_catalog.array_in'::regproc as is_array,
        typtype, typname, pg_type.oid FROM pg_catalog.pg_type $PGJDBC_SP
        WHERE pg_type.oid = $oid ORDER BY sp.r, pg_type.oid DESC"
done
for name in int4 _varchar numeric; do
    both "pgjdbc: type by name $name" cat -A -c "SELECT typinput='pg_catalog.array_in'::regproc as is_array,
        typtype, typname, pg_type.oid FROM pg_catalog.pg_type $PGJDBC_SP
        WHERE typname = '$name' ORDER BY sp.r, pg_type.oid DESC"
done
both "pgbench: table check" cat -A -c "select o.n, p.partstrat, pg_catalog.count(i.inhparent)
    from pg_catalog.pg_class as c join pg_catalog.pg_namespace as n on (n.oid = c.relnamespace)
    cross join lateral (select pg_catalog.array_position(pg_catalog.current_schemas(true), n.nspname)) as o(n)
    left join pg_catalog.pg_partitioned_table as p on (p.partrelid = c.oid)
    left join pg_catalog.pg_inherits as i on (c.oid = i.inhparent)
    where c.relname = 'books' and o.n is not null group by 1, 2 order by 1 asc limit 1"
both "information_schema.columns" cat -A -c "select table_name, column_name, ordinal_position,
    is_nullable, data_type, character_maximum_length, numeric_precision, numeric_scale, column_default
    from information_schema.columns where table_schema = 'public' order by table_name, ordinal_position"
both "information_schema.tables" cat -A -c "select table_schema, table_name, table_type
    from information_schema.tables where table_schema = 'public' order by table_name"
both "regclass and format_type" cat -A -c "select 'books'::regclass, a.attname,
    pg_catalog.format_type(a.atttypid, a.atttypmod) from pg_catalog.pg_attribute a
    where a.attrelid = 'books'::regclass and a.attnum > 0 order by a.attnum"

both "current_user and friends" cat -A -c "select current_user, session_user, user, current_role,
    current_database(), current_schema()"

# the catalog follows the schema
both "after ALTER TABLE ADD COLUMN: \\d tags" cat -q -c "alter table tags add column note varchar(30) default 'x'" -c '\d tags'

dm_finish
