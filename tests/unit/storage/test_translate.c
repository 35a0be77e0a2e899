/*
 * Tests for storage/translate.c: PostgreSQL statements and the SQLite SQL
 * (or the refusal) the translator gives for them, then statements run on a
 * real engine to show that the translations give PostgreSQL's results.
 */
#include <regex.h>
#include <stdio.h>
#include <string.h>

#include "statement.h"
#include "storage_test.h"
#include "translate.h"

typedef struct tr_case {
    const char *pg;
    const char *sqlite;   /* expected translation, or NULL */
    const char *sqlstate; /* expected refusal when sqlite is NULL */
} tr_case;

/* Translations reviewed by hand (and run where the run-through tests below
 * exercise them). */
static const tr_case tr_cases[] = {
    {"select 1 as nothing, 2 as glob, 3 as pragma, 4 as abort",
     "SELECT 1 AS \"nothing\", 2 AS \"glob\", 3 AS \"pragma\", 4 AS \"abort\"", NULL},
    {"select * from t where a = $1 and b::text = 'x' limit 10 offset 5",
     "SELECT * FROM \"t\" WHERE ((\"a\" = ?1) AND (CAST(\"b\" AS TEXT) = 'x')) LIMIT 10 OFFSET 5",
     NULL},
    {"select a, count(*) from t group by a having count(*) > 1 order by a desc nulls last, 2",
     "SELECT \"a\" AS \"a\", \"count\"(*) AS \"count\" FROM \"t\" GROUP BY \"a\" HAVING "
     "(\"count\"(*) > 1) ORDER BY \"a\" DESC NULLS LAST, 2 ASC NULLS LAST",
     NULL},
    {"select a from t fetch first 3 rows only", "SELECT \"a\" AS \"a\" FROM \"t\" LIMIT 3", NULL},
    {"select a from t offset 2", "SELECT \"a\" AS \"a\" FROM \"t\" LIMIT -1 OFFSET 2", NULL},
    {"select a from t limit all", "SELECT \"a\" AS \"a\" FROM \"t\" LIMIT -1", NULL},
    {"select distinct a from t", "SELECT DISTINCT \"a\" AS \"a\" FROM \"t\"", NULL},
    {"select distinct on (a) a from t", NULL, "0A000"},
    {"select a from t union all select b from u intersect select c from v order by 1 limit 2",
     "SELECT \"a\" AS \"a\" FROM \"t\" UNION ALL SELECT * FROM (SELECT \"b\" AS \"b\" FROM \"u\" "
     "INTERSECT SELECT \"c\" AS \"c\" FROM \"v\") ORDER BY 1 ASC NULLS LAST LIMIT 2",
     NULL},
    {"(select a from t order by a limit 1) union (select b from u)",
     "SELECT * FROM (SELECT \"a\" AS \"a\" FROM \"t\" ORDER BY \"a\" ASC NULLS LAST LIMIT 1) UNION "
     "SELECT \"b\" AS \"b\" FROM \"u\"",
     NULL},
    {"with recursive r(n) as (select 1 union all select n + 1 from r where n < 5) select n from r",
     "WITH RECURSIVE \"r\"(\"n\") AS (SELECT 1 AS \"?column?\" UNION ALL SELECT (\"n\" + 1) AS "
     "\"?column?\" FROM \"r\" WHERE (\"n\" < 5)) SELECT \"n\" AS \"n\" FROM \"r\"",
     NULL},
    {"select * from (values (1, 'a'), (2, 'b')) as v(id, name)",
     "SELECT * FROM (SELECT \"column1\" AS \"id\", \"column2\" AS \"name\" FROM (VALUES (1, 'a'), "
     "(2, 'b'))) AS \"v\"",
     NULL},
    {"select * from t join u on t.id = u.id left join w using (id) cross join z",
     "SELECT * FROM \"t\" JOIN \"u\" ON (\"t\".\"id\" = \"u\".\"id\") LEFT JOIN \"w\" USING "
     "(\"id\") CROSS JOIN \"z\"",
     NULL},
    {"select * from t full join u on t.a = u.a right join v on v.b = u.b",
     "SELECT * FROM \"t\" FULL JOIN \"u\" ON (\"t\".\"a\" = \"u\".\"a\") RIGHT JOIN \"v\" ON "
     "(\"v\".\"b\" = \"u\".\"b\")",
     NULL},
    {"select a from t where a ilike '%x%' and b like 'a\\_%' and c not like 'q' escape '!'",
     "SELECT \"a\" AS \"a\" FROM \"t\" WHERE ((dm_ilike(\"a\", '%x%')) AND (dm_like(\"b\", "
     "'a\\_%')) AND (NOT dm_like(\"c\", 'q', '!')))",
     NULL},
    {"select a ~ '^x', a ~* 'y', a !~ 'z', a !~* 'w', a operator(pg_catalog.~) 'v' from t",
     "SELECT dm_regex(\"a\", '^x', 0) AS \"?column?\", dm_regex(\"a\", 'y', 1) AS \"?column?\", "
     "(NOT dm_regex(\"a\", 'z', 0)) AS \"?column?\", (NOT dm_regex(\"a\", 'w', 1)) AS "
     "\"?column?\", dm_regex(\"a\", 'v', 0) AS \"?column?\" FROM \"t\"",
     NULL},
    {"select case when a > 1 then 'x' else 'y' end, coalesce(a, b), nullif(a, 0), greatest(a, b, "
     "1), least(a, 2) from t",
     "SELECT CASE WHEN (\"a\" > 1) THEN 'x' ELSE 'y' END AS \"case\", coalesce(\"a\", \"b\") AS "
     "\"coalesce\", nullif(\"a\", 0) AS \"nullif\", dm_greatest(\"a\", \"b\", 1) AS \"greatest\", "
     "dm_least(\"a\", 2) AS \"least\" FROM \"t\"",
     NULL},
    {"select now(), current_timestamp, current_date, localtimestamp, current_timestamp(3)",
     "SELECT \"now\"() AS \"now\", now() AS \"current_timestamp\", dm_current_date() AS "
     "\"current_date\", dm_localtimestamp() AS \"localtimestamp\", dm_now(3) AS "
     "\"current_timestamp\"",
     NULL},
    {"select a is distinct from b, a is not distinct from b, a between 1 and 2, a not between "
     "symmetric 3 and 1 from t",
     "SELECT (\"a\" IS NOT \"b\") AS \"?column?\", (\"a\" IS \"b\") AS \"?column?\", ((\"a\" "
     "BETWEEN 1 AND 2)) AS \"?column?\", (NOT ((\"a\" BETWEEN 3 AND 1) OR (\"a\" BETWEEN 1 AND "
     "3))) AS \"?column?\" FROM \"t\"",
     NULL},
    {"select exists (select 1 from t), a in (1, 2), a not in (select b from u), a = "
     "any(array[1,2]) from t",
     "SELECT EXISTS (SELECT 1 AS \"?column?\" FROM \"t\") AS \"exists\", (\"a\" IN (1, 2)) AS "
     "\"?column?\", (NOT (\"a\" IN (SELECT \"b\" AS \"b\" FROM \"u\"))) AS \"?column?\", (\"a\" IN "
     "(1, 2)) AS \"?column?\" FROM \"t\"",
     NULL},
    {"select '1'::int, cast('2' as bigint), 'true'::boolean, '\\x0102'::bytea, '2024-01-01'::date, "
     "'2024-01-01 10:00:00+02'::timestamptz, 'abc'::varchar(2), 1::numeric(10,2), 1.5::float8",
     "SELECT dm_int4('1') AS \"int4\", dm_int8('2') AS \"int8\", dm_bool('true') AS \"bool\", "
     "dm_bytea('\\x0102') AS \"bytea\", dm_date('2024-01-01') AS \"date\", "
     "dm_timestamptz('2024-01-01 10:00:00+02') AS \"timestamptz\", substr(CAST('abc' AS TEXT), 1, "
     "2) AS \"varchar\", dm_numeric(1) AS \"numeric\", dm_float8(1.5) AS \"float8\"",
     NULL},
    {"select string_agg(a, ','), avg(b), sum(c), substring(a from 2 for 3), trim(both 'x' from a), "
     "position('b' in a), char_length(a), random(), gen_random_uuid(), version(), "
     "current_database() from t",
     "SELECT \"group_concat\"(\"a\", ',') AS \"string_agg\", \"avg\"(\"b\") AS \"avg\", "
     "\"sum\"(\"c\") AS \"sum\", \"substr\"(\"a\", 2, 3) AS \"substring\", \"trim\"(\"a\", 'x') AS "
     "\"btrim\", instr(\"a\", 'b') AS \"position\", \"length\"(\"a\") AS \"char_length\", "
     "\"dm_random\"() AS \"random\", \"gen_random_uuid\"() AS \"gen_random_uuid\", \"version\"() "
     "AS \"version\", \"current_database\"() AS \"current_database\" FROM \"t\"",
     NULL},
    {"select a from t for update", "SELECT \"a\" AS \"a\" FROM \"t\"", NULL},
    {"select a collate \"C\" from t order by a collate \"C\"",
     "SELECT (\"a\" COLLATE BINARY) AS \"a\" FROM \"t\" ORDER BY (\"a\" COLLATE BINARY) ASC NULLS "
     "LAST",
     NULL},
    {"select count(distinct a) filter (where a > 1), row_number() over (partition by b order by c) "
     "from t",
     "SELECT \"count\"(DISTINCT \"a\") FILTER (WHERE (\"a\" > 1)) AS \"count\", \"row_number\"() "
     "OVER (PARTITION BY \"b\" ORDER BY \"c\" ASC NULLS LAST) AS \"row_number\" FROM \"t\"",
     NULL},
    {"insert into t (a, b) values (1, 'x'), (2, 'y') returning id, t.a",
     "INSERT INTO \"t\" (\"a\", \"b\") VALUES (1, 'x'), (2, 'y') RETURNING \"id\" AS \"id\", \"a\" "
     "AS \"a\"",
     NULL},
    {"insert into t (id, a) values (default, 1)", "INSERT INTO \"t\" (\"a\") VALUES (1)", NULL},
    {"insert into t values (default, 1)", NULL, "0A000"},
    {"insert into t (id, a) values (default, 1), (2, 3)", NULL, "0A000"},
    {"insert into t default values", "INSERT INTO \"t\" DEFAULT VALUES", NULL},
    {"insert into t (a) select b from u on conflict do nothing",
     "INSERT INTO \"t\" (\"a\") SELECT * FROM (SELECT \"b\" AS \"b\" FROM \"u\") WHERE 1 ON "
     "CONFLICT DO NOTHING",
     NULL},
    {"insert into t (a, b) values (1, 2) on conflict (a) do update set b = excluded.b, c = t.c + 1 "
     "where t.b <> excluded.b returning *",
     "INSERT INTO \"t\" (\"a\", \"b\") VALUES (1, 2) ON CONFLICT (\"a\") DO UPDATE SET \"b\" = "
     "\"excluded\".\"b\", \"c\" = (\"t\".\"c\" + 1) WHERE (\"t\".\"b\" <> \"excluded\".\"b\") "
     "RETURNING *",
     NULL},
    {"insert into t (a) values (1) on conflict on constraint t_pkey do nothing", NULL, "0A000"},
    {"update t set a = 1, (b, c) = (2, 3) from u where t.id = u.id returning t.a",
     "UPDATE \"t\" SET \"a\" = 1, (\"b\", \"c\") = (2, 3) FROM \"u\" WHERE (\"t\".\"id\" = "
     "\"u\".\"id\") RETURNING \"a\" AS \"a\"",
     NULL},
    {"update t as x set a = x.a + 1 returning x.a",
     "UPDATE \"t\" AS \"x\" SET \"a\" = (\"x\".\"a\" + 1) RETURNING \"a\" AS \"a\"", NULL},
    {"delete from t where a = 1 returning *", "DELETE FROM \"t\" WHERE (\"a\" = 1) RETURNING *",
     NULL},
    {"delete from t as x using u where x.a = u.a",
     "DELETE FROM \"t\" AS \"x\" WHERE \"x\".\"rowid\" IN (SELECT \"x\".\"rowid\" FROM \"t\" AS "
     "\"x\", \"u\" WHERE (\"x\".\"a\" = \"u\".\"a\"))",
     NULL},
    {"create table t (id serial primary key, name text not null default 'x', ts timestamptz "
     "default now(), n numeric(10,2), b boolean default true, c int check (c > 0), u uuid unique, "
     "d date, vc varchar(20), ch char(3), f float8, r real, bi bigint, si smallint, j jsonb, by "
     "bytea)",
     "CREATE TABLE \"t\" (\"id\" INTEGER PRIMARY KEY AUTOINCREMENT, \"name\" text NOT NULL "
     "DEFAULT ('x'), \"ts\" timestamptz DEFAULT (\"now\"()), \"n\" numeric text(10,2) COLLATE "
     "dm_numeric CHECK (dm_numeric_in(\"n\", 10, 2)), \"b\" boolean DEFAULT (1), \"c\" "
     "integer CONSTRAINT dm_int_syntax_integer CHECK (typeof(\"c\") NOT IN ('text', 'blob')) "
     "CONSTRAINT dm_int_range_integer CHECK (\"c\" > -2147483648.5 AND \"c\" < 2147483647.5) "
     "CONSTRAINT \"t_c_check\" CHECK ((\"c\" > 0)), \"u\" uuid UNIQUE, \"d\" date, \"vc\" "
     "varchar(20) CONSTRAINT dm_varchar_20 CHECK (length(rtrim(\"vc\", ' ')) <= 20), \"ch\" "
     "char(3) CONSTRAINT dm_bpchar_3 CHECK (length(rtrim(\"ch\", ' ')) <= 3), \"f\" double "
     "precision, \"r\" real, \"bi\" bigint CONSTRAINT dm_int_syntax_bigint CHECK "
     "(typeof(\"bi\") NOT IN ('text', 'blob')) CONSTRAINT dm_int_range_bigint CHECK (\"bi\" "
     ">= -9223372036854775808 AND \"bi\" < 9223372036854775808.0), \"si\" smallint CONSTRAINT "
     "dm_int_syntax_smallint CHECK (typeof(\"si\") NOT IN ('text', 'blob')) CONSTRAINT "
     "dm_int_range_smallint CHECK (\"si\" > -32768.5 AND \"si\" < 32767.5), \"j\" jsonb CHECK "
     "(dm_json_in(\"j\", 1)), \"by\" bytea)",
     NULL},
    {"create table t2 (id bigserial, a int references t(id) on delete cascade, primary key (id))",
     "CREATE TABLE \"t2\" (\"id\" INTEGER PRIMARY KEY AUTOINCREMENT, \"a\" integer CONSTRAINT "
     "dm_int_syntax_integer CHECK (typeof(\"a\") NOT IN ('text', 'blob')) CONSTRAINT "
     "dm_int_range_integer CHECK (\"a\" > -2147483648.5 AND \"a\" < 2147483647.5) REFERENCES "
     "\"t\" (\"id\") ON DELETE CASCADE)",
     NULL},
    {"create table t3 (id int generated always as identity primary key, x text)",
     "CREATE TABLE \"t3\" (\"id\" INTEGER PRIMARY KEY AUTOINCREMENT, \"x\" text)", NULL},
    {"create table t4 (id serial, x text)", NULL, "0A000"},
    {"create table if not exists t5 (a int, b int, primary key (a, b), unique (b), foreign key (a) "
     "references t(id) on update set null)",
     "CREATE TABLE IF NOT EXISTS \"t5\" (\"a\" integer CONSTRAINT dm_int_syntax_integer CHECK "
     "(typeof(\"a\") NOT IN ('text', 'blob')) CONSTRAINT dm_int_range_integer CHECK (\"a\" > "
     "-2147483648.5 AND \"a\" < 2147483647.5), \"b\" integer CONSTRAINT dm_int_syntax_integer "
     "CHECK (typeof(\"b\") NOT IN ('text', 'blob')) CONSTRAINT dm_int_range_integer CHECK "
     "(\"b\" > -2147483648.5 AND \"b\" < 2147483647.5), PRIMARY KEY (\"a\", \"b\"), UNIQUE "
     "(\"b\"), FOREIGN KEY (\"a\") REFERENCES \"t\" (\"id\") ON UPDATE SET NULL)",
     NULL},
    {"create temp table tt (a int)", "CREATE TEMP TABLE \"tt\" (\"a\" integer CONSTRAINT dm_int_syntax_integer CHECK "
     "(typeof(\"a\") NOT IN ('text', 'blob')) CONSTRAINT dm_int_range_integer CHECK (\"a\" > "
     "-2147483648.5 AND \"a\" < 2147483647.5))", NULL},
    {"create unlogged table ut (a int)", "CREATE TABLE \"ut\" (\"a\" integer CONSTRAINT dm_int_syntax_integer CHECK "
     "(typeof(\"a\") NOT IN ('text', 'blob')) CONSTRAINT dm_int_range_integer CHECK (\"a\" > "
     "-2147483648.5 AND \"a\" < 2147483647.5))", NULL},
    {"create table ct as select a, count(*) from t group by a",
     "CREATE TABLE \"ct\" AS SELECT \"a\" AS \"a\", \"count\"(*) AS \"count\" FROM \"t\" GROUP BY "
     "\"a\"",
     NULL},
    {"create table ct2 (x, y) as select 1, 2",
     "CREATE TABLE \"ct2\" AS SELECT 1 AS \"x\", 2 AS \"y\"", NULL},
    {"create index on t (a, lower(b))",
     "CREATE INDEX \"t_a_lower_idx\" ON \"t\" (\"a\", (\"lower\"(\"b\")))", NULL},
    {"create unique index if not exists ix on t (a desc) where a > 0",
     "CREATE UNIQUE INDEX IF NOT EXISTS \"ix\" ON \"t\" (\"a\" DESC) WHERE (\"a\" > 0)", NULL},
    {"create index ix2 on t using gin (a)", NULL, "0A000"},
    {"drop table t", "DROP TABLE \"t\"", NULL},
    {"drop table if exists t, u cascade", NULL, "0A000"},
    {"drop index ix", "DROP INDEX \"ix\"", NULL},
    {"drop view v", "DROP VIEW \"v\"", NULL},
    {"create view v as select a from t", "CREATE VIEW \"v\" AS SELECT \"a\" AS \"a\" FROM \"t\"",
     NULL},
    {"create or replace view v as select 1", NULL, "0A000"},
    {"alter table t add column x int default 0",
     "ALTER TABLE \"t\" ADD COLUMN \"x\" integer CONSTRAINT dm_int_syntax_integer CHECK "
     "(typeof(\"x\") NOT IN ('text', 'blob')) CONSTRAINT dm_int_range_integer CHECK (\"x\" > "
     "-2147483648.5 AND \"x\" < 2147483647.5) DEFAULT (0)", NULL},
    {"alter table t drop column x", "ALTER TABLE \"t\" DROP COLUMN \"x\"", NULL},
    {"alter table t rename column a to b", "ALTER TABLE \"t\" RENAME COLUMN \"a\" TO \"b\"", NULL},
    {"alter table t rename to u", "ALTER TABLE \"t\" RENAME TO \"u\"", NULL},
    {"alter table t add primary key (a)", NULL, "0A000"},
    {"alter table t add constraint uq unique (a)", "CREATE UNIQUE INDEX \"uq\" ON \"t\" (\"a\")",
     NULL},
    {"alter table t alter column a type text", NULL, "0A000"},
    {"truncate t", "DELETE FROM \"t\"", NULL},
    {"truncate t restart identity", NULL, "0A000"},
    {"vacuum", "", NULL}, /* SQLite reuses free pages by itself */
    {"vacuum full t", "VACUUM", NULL},
    {"analyze t", "ANALYZE \"t\"", NULL},
    {"analyze", "ANALYZE", NULL},
    {"listen x", NULL, "0A000"},
    {"notify x", NULL, "0A000"},
    {"create extension pgcrypto", NULL, "0A000"},
    {"create sequence s", NULL, "0A000"},
    {"select nextval('s')", NULL, "0A000"},
    {"set search_path = public", NULL, "0A000"},
    {"show server_version", NULL, "0A000"},
    {"explain select 1", NULL, "0A000"},
    {"select interval '1 day'", "SELECT dm_interval('1 day') AS \"interval\"", NULL},
    /* arrays are catalog.c's text form: subscripts, ANY, ARRAY(...) */
    {"select a[1] from t", "SELECT dm_array_get(\"a\", 1) AS \"a\" FROM \"t\"", NULL},
    {"select 1 where 'x' = any (current_schemas(true))",
     "SELECT 1 AS \"?column?\" WHERE (array_position(\"current_schemas\"(1), 'x') IS NOT NULL)",
     NULL},
    {"select a[1:2] from t", NULL, "0A000"},
    {"select * from public.t", "SELECT * FROM \"t\"", NULL},
    {"select * from other.t", NULL, "0A000"},
    {"select generate_series(1, 3)", NULL, "0A000"},
    {"select * from generate_series(1, 3)",
     "SELECT * FROM \"generate_series\"(1, 3) AS \"generate_series\"", NULL},
    {"select s.r from generate_series(1, 3) as s(r)",
     "SELECT \"s\".\"value\" AS \"r\" FROM \"generate_series\"(1, 3) AS \"s\"", NULL},
    {"select x from unnest('{a,b}'::text[]) x",
     "SELECT \"x\".\"value\" AS \"x\" FROM \"dm_unnest\"('{a,b}') AS \"x\"", NULL},
    {"select * from json_each('{}')", NULL, "0A000"},
    {"select 1 where 'a' similar to 'b'", NULL, "0A000"},
    {"select concat('a', null, 1), left('abc', 2), octet_length('é'), 2 ^ 3, |/ 4, @ -3, 5 # 3, - "
     "-1",
     "SELECT ('' || coalesce(CAST('a' AS TEXT), '') || coalesce(CAST(NULL AS TEXT), '') || "
     "coalesce(CAST(1 AS TEXT), '')) AS \"concat\", substr('abc', 1, 2) AS \"left\", "
     "length(CAST('é' AS BLOB)) AS \"octet_length\", pow(2, 3) AS \"?column?\", sqrt(4) AS "
     "\"?column?\", abs(-3) AS \"?column?\", dm_xor(5, 3) AS \"?column?\", 1 AS "
     "\"?column?\"",
     NULL},
    {"select a from t order by a using >",
     "SELECT \"a\" AS \"a\" FROM \"t\" ORDER BY \"a\" DESC NULLS FIRST", NULL},
    {"select t.* from t", "SELECT \"t\".* FROM \"t\"", NULL},
    {"select count(*) from t", "SELECT \"count\"(*) AS \"count\" FROM \"t\"", NULL},
    {"select 'a' || 'b' || 1", "SELECT (('a' || 'b') || 1) AS \"?column?\"", NULL},
    {"select -a, +a, ~a from t",
     "SELECT (- \"a\") AS \"?column?\", (+ \"a\") AS \"?column?\", (~ \"a\") AS \"?column?\" FROM "
     "\"t\"",
     NULL},
    {"select a from t where not (a is null) and b is not null and c is true and d is not false and "
     "e is unknown",
     "SELECT \"a\" AS \"a\" FROM \"t\" WHERE ((NOT (\"a\" IS NULL)) AND (\"b\" IS NOT NULL) AND "
     "(\"c\" IS TRUE) AND (\"d\" IS NOT FALSE) AND (\"e\" IS NULL))",
     NULL},
    {"select (select max(a) from t) as m",
     "SELECT (SELECT \"max\"(\"a\") AS \"max\" FROM \"t\") AS \"m\"", NULL},
    {"select current_user", "SELECT dm_current_user() AS \"current_user\"", NULL},
    {"select localtime, current_time(2)",
     "SELECT dm_localtime() AS \"localtime\", dm_current_time(2) AS \"current_time\"", NULL},
    {"select a from t where a = any (select b from u)",
     "SELECT \"a\" AS \"a\" FROM \"t\" WHERE (\"a\" IN (SELECT \"b\" AS \"b\" FROM \"u\"))", NULL},
    {"select a from t where a > all (select b from u)", NULL, "0A000"},
    /* a LATERAL row without FROM: its columns become their expressions */
    {"select s.n from t, lateral (select t.a + 1) s(n) where s.n > 1",
     "SELECT ((\"t\".\"a\" + 1)) AS \"n\" FROM \"t\", (SELECT NULL) AS \"s\" WHERE (((\"t\".\"a\" + "
     "1)) > 1)",
     NULL},
    {"select * from t, lateral (select b from u where u.a = t.a) s", NULL, "0A000"},
    {"select * from (select a, count(*) from t group by a) s where s.count > 1",
     "SELECT * FROM (SELECT \"a\" AS \"a\", \"count\"(*) AS \"count\" FROM \"t\" GROUP BY \"a\") "
     "AS \"s\" WHERE (\"s\".\"count\" > 1)",
     NULL},
    {"values (1), (2) order by 1", "SELECT * FROM (VALUES (1), (2)) ORDER BY 1 ASC NULLS LAST",
     NULL},
    {"select 1 intersect all select 1", NULL, "0A000"},
    {"select sum(a) over w from t window w as (partition by b)",
     "SELECT \"sum\"(\"a\") OVER \"w\" AS \"sum\" FROM \"t\" WINDOW \"w\" AS (PARTITION BY \"b\")",
     NULL},
    {"select array_agg(a) from t", "SELECT \"dm_array_agg_or_null\"(\"a\") AS \"array_agg\" FROM \"t\"", NULL},
    {"select pg_sleep(0.1)", "SELECT \"pg_sleep\"(0.1) AS \"pg_sleep\"", NULL},
    {"select 'a' like 'A' collate \"en_US\"", NULL, "0A000"},
    {"comment on table t is 'x'", NULL, "0A000"},
    {"select E'a\\tb', 'it''s', U&'d\\0061t'",
     "SELECT 'a\tb' AS \"?column?\", 'it''s' AS \"?column?\", 'dat' AS \"?column?\"", NULL},
    {"select $1, $2::int, $10",
     "SELECT ?1 AS \"?column?\", dm_int4(?2) AS \"int4\", ?10 AS \"?column?\"", NULL},
    {"select a from t where a <> 1 and a != 2 and a >= 3 and a <= 4 and a < 5 and a > 6",
     "SELECT \"a\" AS \"a\" FROM \"t\" WHERE ((\"a\" <> 1) AND (\"a\" <> 2) AND (\"a\" >= 3) AND "
     "(\"a\" <= 4) AND (\"a\" < 5) AND (\"a\" > 6))",
     NULL},
    {"select a % 2, a / 2, a * 2, a - 2, a & 1, a | 1, a << 1, a >> 1 from t",
     "SELECT dm_mod(\"a\", 2) AS \"?column?\", dm_div(\"a\", 2) AS \"?column?\", (\"a\" * 2) AS "
     "\"?column?\", (\"a\" - 2) AS \"?column?\", (\"a\" & 1) AS \"?column?\", (\"a\" | 1) AS "
     "\"?column?\", (\"a\" << 1) AS \"?column?\", (\"a\" >> 1) AS \"?column?\" FROM \"t\"",
     NULL},
    {"select (a + b) * c, a + b * c from t",
     "SELECT ((\"a\" + \"b\") * \"c\") AS \"?column?\", (\"a\" + (\"b\" * \"c\")) AS \"?column?\" "
     "FROM \"t\"",
     NULL},
    {"select j -> 'k', j ->> 'k' from t",
     "SELECT (\"j\" -> 'k') AS \"?column?\", (\"j\" ->> 'k') AS \"?column?\" FROM \"t\"", NULL},
    {"select a from t where a like all (array['x'])", NULL, "0A000"},
    {"select lower(a), upper(a), length(a), abs(b), round(b, 2), replace(a, 'x', 'y'), ltrim(a), "
     "rtrim(a, 'x'), strpos(a, 'x'), coalesce(a) from t",
     "SELECT \"lower\"(\"a\") AS \"lower\", \"upper\"(\"a\") AS \"upper\", \"length\"(\"a\") AS "
     "\"length\", \"abs\"(\"b\") AS \"abs\", \"round\"(\"b\", 2) AS \"round\", \"replace\"(\"a\", "
     "'x', 'y') AS \"replace\", \"ltrim\"(\"a\") AS \"ltrim\", \"rtrim\"(\"a\", 'x') AS \"rtrim\", "
     "\"instr\"(\"a\", 'x') AS \"strpos\", coalesce(\"a\", NULL) AS \"coalesce\" FROM \"t\"",
     NULL},
    {"select bool_and(f), bool_or(f), every(f) from t",
     "SELECT \"min\"(\"f\") AS \"bool_and\", \"max\"(\"f\") AS \"bool_or\", \"min\"(\"f\") AS "
     "\"every\" FROM \"t\"",
     NULL},
    {"select substring('abc' from 'b.')", NULL, "0A000"},
    {"select trim(leading 'x' from a), trim(trailing from a) from t",
     "SELECT \"ltrim\"(\"a\", 'x') AS \"ltrim\", \"rtrim\"(\"a\") AS \"rtrim\" FROM \"t\"", NULL},
    {"select 'x'::text, 'x'::varchar, 'x'::char, 'x'::name, '{}'::json, '{}'::jsonb, "
     "'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid",
     "SELECT CAST('x' AS TEXT) AS \"text\", CAST('x' AS TEXT) AS \"varchar\", substr(CAST('x' AS "
     "TEXT), 1, 1) AS \"bpchar\", CAST('x' AS TEXT) AS \"name\", CAST('{}' AS TEXT) AS \"json\", "
     "CAST('{}' AS TEXT) AS \"jsonb\", dm_uuid('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11') AS \"uuid\"",
     NULL},
    {"select '1'::smallint, 1::real, 1::double precision, 1::decimal, '10:00'::time, "
     "'2024-01-01'::timestamp, 1::oid",
     "SELECT dm_int2('1') AS \"int2\", dm_float8(1) AS \"float4\", dm_float8(1) AS \"float8\", "
     "dm_numeric(1) AS \"numeric\", dm_time('10:00') AS \"time\", dm_timestamp('2024-01-01') AS "
     "\"timestamp\", dm_int8(1) AS \"oid\"",
     NULL},
    {"select '{1}'::int[], 1::regclass, '1'::interval, 'x'::timetz",
     "SELECT '{1}' AS \"int4\", (SELECT _dm_name FROM \"temp\".\"_dm_names\" WHERE _dm_kind = 'r' "
     "AND _dm_oid = (1)) AS \"regclass\", dm_interval('1') AS \"interval\", dm_timetz('x') AS "
     "\"timetz\"",
     NULL},
    {"select x::pg_catalog.int4, x::other.t from t", NULL, "0A000"},
    {"select * from t t1 join t t2 on t1.a = t2.a join (t t3 join t t4 on t3.a = t4.a) on t1.a = "
     "t3.a",
     "SELECT * FROM \"t\" AS \"t1\" JOIN \"t\" AS \"t2\" ON (\"t1\".\"a\" = \"t2\".\"a\") JOIN "
     "(\"t\" AS \"t3\" JOIN \"t\" AS \"t4\" ON (\"t3\".\"a\" = \"t4\".\"a\")) ON (\"t1\".\"a\" = "
     "\"t3\".\"a\")",
     NULL},
    {"select * from t natural join u", "SELECT * FROM \"t\" NATURAL JOIN \"u\"", NULL},
    {"select * from t inner join u using (a) as j", NULL, "0A000"},
    {"select * from (t join u on true) as j", NULL, "0A000"},
    {"select * from t as x(a, b)", NULL, "0A000"},
    {"select a from t group by rollup (a)", NULL, "0A000"},
    {"select a from t group by grouping sets ((a), ())", NULL, "0A000"},
    {"select a from t group by distinct a", NULL, "0A000"},
    {"select a, sum(b) over (order by a rows between 1 preceding and current row) from t", NULL,
     "0A000"},
    {"select count(*) filter (where a > 0) from t",
     "SELECT \"count\"(*) FILTER (WHERE (\"a\" > 0)) AS \"count\" FROM \"t\"", NULL},
    {"select string_agg(a, ',' order by a) from t", NULL, "0A000"},
    {"select percentile_cont(0.5) within group (order by a) from t", NULL, "0A000"},
    {"select * from t where (a, b) = (1, 2) and (a, b) in (select 1, 2)",
     "SELECT * FROM \"t\" WHERE (((\"a\", \"b\") = (1, 2)) AND ((\"a\", \"b\") IN (SELECT 1 AS "
     "\"?column?\", 2 AS \"?column?\")))",
     NULL},
    {"select row(1, 2)", "SELECT (1, 2) AS \"row\"", NULL},
    {"select a from t tablesample system (10)", NULL, "0A000"},
    {"select a into u from t", NULL, "0A000"},
    {"select a from only t", "SELECT \"a\" AS \"a\" FROM \"t\"", NULL},
    {"select a from pg_temp.t", "SELECT \"a\" AS \"a\" FROM \"temp\".\"t\"", NULL},
    /* the catalog: temp tables (catalog.c), reg* casts, catalog functions */
    {"select * from pg_catalog.pg_class", "SELECT * FROM \"temp\".\"pg_class\" AS \"pg_class\"",
     NULL},
    {"select n.nspname from pg_namespace n",
     "SELECT \"n\".\"nspname\" AS \"nspname\" FROM \"temp\".\"pg_namespace\" AS \"n\"", NULL},
    {"select table_name from information_schema.tables",
     "SELECT \"table_name\" AS \"table_name\" FROM \"temp\".\"_dm_is_tables\" AS \"tables\"", NULL},
    {"select * from pg_catalog.pg_nosuch", NULL, "0A000"},
    {"select * from information_schema.nosuch", NULL, "0A000"},
    {"select 't'::regclass::oid",
     "SELECT dm_int8((SELECT oid FROM \"temp\".\"pg_class\" WHERE relname = 't')) AS \"oid\"",
     NULL},
    {"select c.oid::regclass from pg_class c",
     "SELECT (SELECT _dm_name FROM \"temp\".\"_dm_names\" WHERE _dm_kind = 'r' AND _dm_oid = "
     "(\"c\".\"oid\")) AS \"oid\" FROM \"temp\".\"pg_class\" AS \"c\"",
     NULL},
    {"select typinput = 'pg_catalog.array_in'::regproc from pg_type",
     "SELECT (\"typinput\" = 'array_in') AS \"?column?\" FROM \"temp\".\"pg_type\" AS \"pg_type\"",
     NULL},
    {"select pg_catalog.pg_get_userbyid(10)",
     "SELECT (SELECT _dm_name FROM \"temp\".\"_dm_names\" WHERE _dm_kind = 'u' AND _dm_oid = (10)) "
     "AS \"pg_get_userbyid\"",
     NULL},
    {"select relkind::\"char\" from pg_class",
     "SELECT substr(CAST(\"relkind\" AS TEXT), 1, 1) AS \"relkind\" FROM \"temp\".\"pg_class\" AS "
     "\"pg_class\"",
     NULL},
    {"select * from db.public.t", NULL, "0A000"},
    {"select public.t.a from t", "SELECT \"t\".\"a\" AS \"a\" FROM \"t\"", NULL},
    {"select a from t order by a nulls first, b desc, c asc nulls last",
     "SELECT \"a\" AS \"a\" FROM \"t\" ORDER BY \"a\" ASC NULLS FIRST, \"b\" DESC NULLS FIRST, "
     "\"c\" ASC NULLS LAST",
     NULL},
    {"select a from t limit $1 offset $2", "SELECT \"a\" AS \"a\" FROM \"t\" LIMIT ?1 OFFSET ?2",
     NULL},
    {"select a from t fetch first row only", "SELECT \"a\" AS \"a\" FROM \"t\" LIMIT 1", NULL},
    {"select a from t limit null", "SELECT \"a\" AS \"a\" FROM \"t\" LIMIT -1", NULL},
    {"select * from (select 1 union select 2) s(n)",
     "SELECT * FROM (SELECT 1 AS \"n\" UNION SELECT 2 AS \"?column?\") AS \"s\"", NULL},
    {"select * from (select * from t) s(n)", NULL, "0A000"},
    {"with x as materialized (select 1), y as not materialized (select 2) select * from x, y",
     "WITH \"x\" AS MATERIALIZED (SELECT 1 AS \"?column?\"), \"y\" AS NOT MATERIALIZED (SELECT 2 "
     "AS \"?column?\") SELECT * FROM \"x\", \"y\"",
     NULL},
    {"with x as (insert into t values (1) returning *) select * from x", NULL, "0A000"},
    {"with x as (select 1) insert into t select * from x",
     "WITH \"x\" AS (SELECT 1 AS \"?column?\") INSERT INTO \"t\" SELECT * FROM \"x\"", NULL},
    {"with x as (select 1) update t set a = 1 where a in (select * from x)",
     "WITH \"x\" AS (SELECT 1 AS \"?column?\") UPDATE \"t\" SET \"a\" = 1 WHERE (\"a\" IN (SELECT "
     "* FROM \"x\"))",
     NULL},
    {"with x as (select 1) delete from t where a in (select * from x)",
     "WITH \"x\" AS (SELECT 1 AS \"?column?\") DELETE FROM \"t\" WHERE (\"a\" IN (SELECT * FROM "
     "\"x\"))",
     NULL},
    {"select 1 except select 2", "SELECT 1 AS \"?column?\" EXCEPT SELECT 2 AS \"?column?\"", NULL},
    {"select 1 except all select 2", NULL, "0A000"},
    {"values (1, 'a'), (2, 'b')", "VALUES (1, 'a'), (2, 'b')", NULL},
    {"select a from t where exists (select 1 from u where u.a = t.a) and not exists (select 1)",
     "SELECT \"a\" AS \"a\" FROM \"t\" WHERE (EXISTS (SELECT 1 AS \"?column?\" FROM \"u\" WHERE "
     "(\"u\".\"a\" = \"t\".\"a\")) AND (NOT EXISTS (SELECT 1 AS \"?column?\")))",
     NULL},
    {"select array(select 1)",
     "SELECT (SELECT dm_array_agg(\"_dm_elem\") FROM (SELECT 1 AS \"_dm_elem\")) AS \"array\"",
     NULL},
    {"select a from t where a = some (select b from u)",
     "SELECT \"a\" AS \"a\" FROM \"t\" WHERE (\"a\" IN (SELECT \"b\" AS \"b\" FROM \"u\"))", NULL},
    {"select a from t where a <> all (select b from u)",
     "SELECT \"a\" AS \"a\" FROM \"t\" WHERE (\"a\" NOT IN (SELECT \"b\" AS \"b\" FROM \"u\"))",
     NULL},
    {"select a from t where a < any (array[1, 2])", NULL, "0A000"},
    {"select a from t where a <> all (array[1, 2])",
     "SELECT \"a\" AS \"a\" FROM \"t\" WHERE (\"a\" NOT IN (1, 2))", NULL},
    {"select 1 where 'a' not similar to 'b'", NULL, "0A000"},
    {"select 2 between 1 and 3, 2 not between 1 and 3, 2 between symmetric 3 and 1",
     "SELECT ((2 BETWEEN 1 AND 3)) AS \"?column?\", (NOT ((2 BETWEEN 1 AND 3))) AS \"?column?\", "
     "((2 BETWEEN 3 AND 1) OR (2 BETWEEN 1 AND 3)) AS \"?column?\"",
     NULL},
    {"select nullif(1, 1), a is not null, a isnull, a notnull from t",
     "SELECT nullif(1, 1) AS \"nullif\", (\"a\" IS NOT NULL) AS \"?column?\", (\"a\" IS NULL) AS "
     "\"?column?\", (\"a\" IS NOT NULL) AS \"?column?\" FROM \"t\"",
     NULL},
    {"select true and false or not true", "SELECT ((1 AND 0) OR (NOT 1)) AS \"?column?\"", NULL},
    {"select case a when 1 then 'one' when 2 then 'two' end from t",
     "SELECT CASE \"a\" WHEN 1 THEN 'one' WHEN 2 THEN 'two' END AS \"case\" FROM \"t\"", NULL},
    {"select user, session_user, current_role, current_catalog, current_schema",
     "SELECT dm_current_user() AS \"user\", dm_current_user() AS \"session_user\", "
     "dm_current_user() AS \"current_role\", current_database() AS \"current_catalog\", "
     "'public' AS \"current_schema\"",
     NULL},
    {"select current_setting('server_version')",
     "SELECT \"current_setting\"('server_version') AS \"current_setting\"", NULL},
    {"select date_trunc('day', now()), extract(year from now()), to_char(now(), 'YYYY')", NULL,
     "0A000"},
    {"select now() at time zone 'UTC'", NULL, "0A000"},
    {"select 'a' collate \"C\", 'a' collate \"POSIX\", 'a' collate \"default\", 'a' collate "
     "pg_catalog.\"C\"",
     "SELECT ('a' COLLATE BINARY) AS \"?column?\", ('a' COLLATE BINARY) AS \"?column?\", ('a' "
     "COLLATE BINARY) AS \"?column?\", ('a' COLLATE BINARY) AS \"?column?\"",
     NULL},
    {"select max(a) from t having max(a) > 1",
     "SELECT \"max\"(\"a\") AS \"max\" FROM \"t\" HAVING (\"max\"(\"a\") > 1)", NULL},
    {"select a, b from t order by 1, 2 desc",
     "SELECT \"a\" AS \"a\", \"b\" AS \"b\" FROM \"t\" ORDER BY 1 ASC NULLS LAST, 2 DESC NULLS "
     "FIRST",
     NULL},
    {"insert into t values (1, 'a')", "INSERT INTO \"t\" VALUES (1, 'a')", NULL},
    {"insert into t (a) values ($1) returning a as x",
     "INSERT INTO \"t\" (\"a\") VALUES (?1) RETURNING \"a\" AS \"x\"", NULL},
    {"insert into t as x (a) values (1) on conflict (a) do update set a = x.a + 1 returning x.a",
     "INSERT INTO \"t\" AS \"x\" (\"a\") VALUES (1) ON CONFLICT (\"a\") DO UPDATE SET \"a\" = "
     "(\"x\".\"a\" + 1) RETURNING \"a\" AS \"a\"",
     NULL},
    {"insert into t (a) values (1) on conflict (a) where a > 0 do nothing",
     "INSERT INTO \"t\" (\"a\") VALUES (1) ON CONFLICT (\"a\") WHERE (\"a\" > 0) DO NOTHING", NULL},
    {"insert into t (a) values (1) on conflict (lower(b)) do nothing",
     "INSERT INTO \"t\" (\"a\") VALUES (1) ON CONFLICT ((\"lower\"(\"b\"))) DO NOTHING", NULL},
    {"insert into t (a) overriding system value values (1)", "INSERT INTO \"t\" (\"a\") VALUES (1)",
     NULL},
    {"insert into t (a) overriding user value values (1)", NULL, "0A000"},
    {"insert into t (a, b) values (default, default)", "INSERT INTO \"t\" DEFAULT VALUES", NULL},
    {"insert into t (a[1]) values (1)", NULL, "0A000"},
    {"insert into t select * from u", "INSERT INTO \"t\" SELECT * FROM \"u\"", NULL},
    {"insert into t (a) select 1 union select 2",
     "INSERT INTO \"t\" (\"a\") SELECT 1 AS \"?column?\" UNION SELECT 2 AS \"?column?\"", NULL},
    {"insert into t (a) values (1) on conflict (a) do update set (a, b) = (select 1, 2)",
     "INSERT INTO \"t\" (\"a\") VALUES (1) ON CONFLICT (\"a\") DO UPDATE SET (\"a\", \"b\") = "
     "(SELECT 1 AS \"?column?\", 2 AS \"?column?\")",
     NULL},
    {"insert into t (a) values (1) on conflict (a) do update set a = default", NULL, "0A000"},
    {"update t set a = default", NULL, "0A000"},
    {"update t set a[1] = 2", NULL, "0A000"},
    {"update t set a = a + 1", "UPDATE \"t\" SET \"a\" = (\"a\" + 1)", NULL},
    {"update t set a = 1 where current of c", NULL, "0A000"},
    {"delete from t", "DELETE FROM \"t\"", NULL},
    {"delete from t using u, v where t.a = u.a and u.b = v.b returning t.a",
     "DELETE FROM \"t\" WHERE \"t\".\"rowid\" IN (SELECT \"t\".\"rowid\" FROM \"t\", \"u\", \"v\" "
     "WHERE ((\"t\".\"a\" = \"u\".\"a\") AND (\"u\".\"b\" = \"v\".\"b\"))) RETURNING \"a\" AS "
     "\"a\"",
     NULL},
    {"delete from t where a in (select a from u) returning a, b",
     "DELETE FROM \"t\" WHERE (\"a\" IN (SELECT \"a\" AS \"a\" FROM \"u\")) RETURNING \"a\" AS "
     "\"a\", \"b\" AS \"b\"",
     NULL},
    {"update only t set a = 1", "UPDATE \"t\" SET \"a\" = 1", NULL},
    {"create table t (a int, b text collate \"C\", c int generated always as (a * 2) stored)",
     "CREATE TABLE \"t\" (\"a\" integer CONSTRAINT dm_int_syntax_integer CHECK (typeof(\"a\") "
     "NOT IN ('text', 'blob')) CONSTRAINT dm_int_range_integer CHECK (\"a\" > -2147483648.5 "
     "AND \"a\" < 2147483647.5), \"b\" text COLLATE BINARY, \"c\" integer CONSTRAINT "
     "dm_int_syntax_integer CHECK (typeof(\"c\") NOT IN ('text', 'blob')) CONSTRAINT "
     "dm_int_range_integer CHECK (\"c\" > -2147483648.5 AND \"c\" < 2147483647.5) GENERATED "
     "ALWAYS AS ((\"a\" * 2)) STORED)",
     NULL},
    {"create table t (a int primary key deferrable)", NULL, "0A000"},
    {"create table t (a int references p match full)", NULL, "0A000"},
    {"create table t (a int references p on delete set default on update restrict deferrable "
     "initially deferred)",
     "CREATE TABLE \"t\" (\"a\" integer CONSTRAINT dm_int_syntax_integer CHECK (typeof(\"a\") "
     "NOT IN ('text', 'blob')) CONSTRAINT dm_int_range_integer CHECK (\"a\" > -2147483648.5 "
     "AND \"a\" < 2147483647.5) REFERENCES \"p\" ON DELETE SET DEFAULT ON UPDATE RESTRICT "
     "DEFERRABLE INITIALLY DEFERRED)",
     NULL},
    {"create table t (a int references p on delete no action)",
     "CREATE TABLE \"t\" (\"a\" integer CONSTRAINT dm_int_syntax_integer CHECK (typeof(\"a\") "
     "NOT IN ('text', 'blob')) CONSTRAINT dm_int_range_integer CHECK (\"a\" > -2147483648.5 "
     "AND \"a\" < 2147483647.5) REFERENCES \"p\")", NULL},
    {"create table t (a int, constraint pk primary key (a), constraint ck check (a > 0), "
     "constraint fk foreign key (a) references p (id))",
     "CREATE TABLE \"t\" (\"a\" integer CONSTRAINT dm_int_syntax_integer CHECK (typeof(\"a\") "
     "NOT IN ('text', 'blob')) CONSTRAINT dm_int_range_integer CHECK (\"a\" > -2147483648.5 "
     "AND \"a\" < 2147483647.5), CONSTRAINT \"pk\" PRIMARY KEY (\"a\"), CONSTRAINT \"ck\" "
     "CHECK ((\"a\" > 0)), CONSTRAINT \"fk\" FOREIGN KEY (\"a\") REFERENCES \"p\" (\"id\"))",
     NULL},
    {"create table t (a int, exclude using gist (a with =))", NULL, "0A000"},
    {"create table t (like u)", NULL, "0A000"},
    {"create table t (a int) inherits (u)", NULL, "0A000"},
    {"create table t (a int) partition by range (a)", NULL, "0A000"},
    {"create table t (a int) with (fillfactor = 70)", "CREATE TABLE \"t\" (\"a\" integer CONSTRAINT dm_int_syntax_integer CHECK (typeof(\"a\") "
     "NOT IN ('text', 'blob')) CONSTRAINT dm_int_range_integer CHECK (\"a\" > -2147483648.5 "
     "AND \"a\" < 2147483647.5))", NULL},
    {"create table t (a int unique nulls not distinct)", NULL, "0A000"},
    {"create table t (a int[])", NULL, "0A000"},
    {"create table t (a serial primary key, b bigserial)", NULL, "0A000"},
    {"create table t (a smallserial primary key)",
     "CREATE TABLE \"t\" (\"a\" INTEGER PRIMARY KEY AUTOINCREMENT)", NULL},
    {"create table t (a text generated always as identity primary key)", NULL, "22023"},
    {"create table t (a int generated by default as identity, primary key (a))",
     "CREATE TABLE \"t\" (\"a\" INTEGER PRIMARY KEY AUTOINCREMENT)", NULL},
    {"create table t (a int, b int, unique (a) include (b))", NULL, "0A000"},
    /* decimal literals beyond a double's 15 digits go as text, kept exact */
    {"select 12345678901234567890.123456789, 1.5, 123456789012345.6",
     "SELECT '12345678901234567890.123456789' AS \"?column?\", 1.5 AS \"?column?\", "
     "'123456789012345.6' AS \"?column?\"",
     NULL},
    {"select 12345678901234567890", "SELECT '12345678901234567890' AS \"?column?\"", NULL},
    {"create table t (a mood)", NULL, "0A000"},
    {"create table t (a blob, b citext)", NULL, "0A000"},
    {"create table t (a timestamp(3), b time(0), c timestamptz(6), d numeric(5), e varchar, f "
     "char(10), g float(10), h float(30), i decimal(8, 3), j double precision, k int2, l int8, m "
     "bool)",
     "CREATE TABLE \"t\" (\"a\" timestamp(3), \"b\" time(0), \"c\" timestamptz(6), \"d\" "
     "numeric text(5) COLLATE dm_numeric CHECK (dm_numeric_in(\"d\", 5, 0)), \"e\" varchar, "
     "\"f\" char(10) CONSTRAINT dm_bpchar_10 CHECK (length(rtrim(\"f\", ' ')) <= 10), \"g\" "
     "real, \"h\" double precision, \"i\" numeric text(8,3) COLLATE dm_numeric CHECK "
     "(dm_numeric_in(\"i\", 8, 3)), \"j\" double precision, \"k\" smallint CONSTRAINT "
     "dm_int_syntax_smallint CHECK (typeof(\"k\") NOT IN ('text', 'blob')) CONSTRAINT "
     "dm_int_range_smallint CHECK (\"k\" > -32768.5 AND \"k\" < 32767.5), \"l\" bigint "
     "CONSTRAINT dm_int_syntax_bigint CHECK (typeof(\"l\") NOT IN ('text', 'blob')) "
     "CONSTRAINT dm_int_range_bigint CHECK (\"l\" >= -9223372036854775808 AND \"l\" < "
     "9223372036854775808.0), \"m\" boolean)",
     NULL},
    {"create table t (a timestamp with time zone, b time without time zone, c character "
     "varying(5), d character(2), e interval, f interval day to second)",
     "CREATE TABLE \"t\" (\"a\" timestamptz, \"b\" time, \"c\" varchar(5) CONSTRAINT "
     "dm_varchar_5 CHECK (length(rtrim(\"c\", ' ')) <= 5), \"d\" char(2) CONSTRAINT "
     "dm_bpchar_2 CHECK (length(rtrim(\"d\", ' ')) <= 2), \"e\" interval, \"f\" interval)",
     NULL},
    {"create table public.t (a int)", "CREATE TABLE \"t\" (\"a\" integer CONSTRAINT dm_int_syntax_integer CHECK (typeof(\"a\") "
     "NOT IN ('text', 'blob')) CONSTRAINT dm_int_range_integer CHECK (\"a\" > -2147483648.5 "
     "AND \"a\" < 2147483647.5))", NULL},
    {"create table other.t (a int)", NULL, "0A000"},
    {"create table t (a int default 1 + 2, b timestamptz default current_timestamp, c text default "
     "'x' || 'y', d int default -1, e uuid default gen_random_uuid(), f int default nextval('s'))",
     NULL, "0A000"},
    {"create temp table t (a int) on commit drop", NULL, "0A000"},
    {"create temporary table t (a int) on commit preserve rows", NULL, "0A000"},
    {"create table if not exists t as select 1 as x",
     "CREATE TABLE IF NOT EXISTS \"t\" AS SELECT 1 AS \"x\"", NULL},
    {"create table t as select 1 with no data",
     "CREATE TABLE \"t\" AS SELECT * FROM (SELECT 1 AS \"?column?\") LIMIT 0", NULL},
    {"create materialized view mv as select 1", NULL, "0A000"},
    {"select * into t2 from t", NULL, "0A000"},
    {"create table t as execute p", NULL, "0A000"},
    {"create index concurrently on t (a)", "CREATE INDEX \"t_a_idx\" ON \"t\" (\"a\")", NULL},
    {"create index i on t (a collate \"C\" text_pattern_ops, b nulls first)",
     "CREATE INDEX \"i\" ON \"t\" (\"a\" COLLATE BINARY, \"b\")", NULL},
    {"create index i on t (a) include (b)", NULL, "0A000"},
    {"create index i on public.t (a)", "CREATE INDEX \"i\" ON \"t\" (\"a\")", NULL},
    {"create index i on t using hash (a)", "CREATE INDEX \"i\" ON \"t\" (\"a\")", NULL},
    {"create index i on t using btree (a asc)", "CREATE INDEX \"i\" ON \"t\" (\"a\" ASC)", NULL},
    {"create unique index on t (lower(a), (b + 1))",
     "CREATE UNIQUE INDEX \"t_lower_expr_idx\" ON \"t\" ((\"lower\"(\"a\")), ((\"b\" + 1)))", NULL},
    {"drop table if exists t", "DROP TABLE IF EXISTS \"t\"", NULL},
    {"drop table public.t", "DROP TABLE \"t\"", NULL},
    {"drop table other.t", NULL, "0A000"},
    {"drop table t cascade", "DROP TABLE \"t\"", NULL},
    {"drop index if exists i", "DROP INDEX IF EXISTS \"i\"", NULL},
    {"drop index concurrently i", "DROP INDEX \"i\"", NULL},
    {"drop view if exists v", "DROP VIEW IF EXISTS \"v\"", NULL},
    {"drop sequence s", NULL, "0A000"},
    {"drop schema s", NULL, "0A000"},
    {"drop function f", NULL, "0A000"},
    {"drop type ty", NULL, "0A000"},
    {"create view v (x, y) as select a, b from t",
     "CREATE VIEW \"v\" (\"x\", \"y\") AS SELECT \"a\" AS \"a\", \"b\" AS \"b\" FROM \"t\"", NULL},
    {"create temp view v as select 1", "CREATE TEMP VIEW \"v\" AS SELECT 1 AS \"?column?\"", NULL},
    {"create view v as select 1 with check option", NULL, "0A000"},
    {"create view v as values (1)", "CREATE VIEW \"v\" AS VALUES (1)", NULL},
    {"create recursive view v (n) as select 1 union all select n + 1 from v where n < 3",
     "CREATE VIEW \"v\" (\"n\") AS WITH RECURSIVE \"v\"(\"n\") AS (SELECT 1 AS \"?column?\" UNION "
     "ALL SELECT (\"n\" + 1) AS \"?column?\" FROM \"v\" WHERE (\"n\" < 3)) SELECT \"n\" AS \"n\" "
     "FROM \"v\"",
     NULL},
    {"alter table t add column if not exists x int", NULL, "0A000"},
    {"alter table t add x text not null default ''",
     "ALTER TABLE \"t\" ADD COLUMN \"x\" text NOT NULL DEFAULT ('')", NULL},
    {"alter table t add column x serial", NULL, "0A000"},
    {"alter table t drop column if exists x", NULL, "0A000"},
    {"alter table t drop x cascade", "ALTER TABLE \"t\" DROP COLUMN \"x\"", NULL},
    {"alter table if exists t drop x", NULL, "0A000"},
    {"alter table t add column a int, add column b int", NULL, "0A000"},
    {"alter table t add constraint c check (a > 0)", NULL, "0A000"},
    {"alter table t add foreign key (a) references p", NULL, "0A000"},
    {"alter table t add unique (a, b)", "CREATE UNIQUE INDEX \"t_a_b_key\" ON \"t\" (\"a\", \"b\")",
     NULL},
    {"alter table t add constraint pk primary key (a)", NULL, "0A000"},
    {"alter table t alter column a set default 1", NULL, "0A000"},
    {"alter table t alter column a drop not null", NULL, "0A000"},
    {"alter table t owner to bob", NULL, "0A000"},
    {"alter index i rename to j", NULL, "0A000"},
    {"alter table t rename constraint c to d", NULL, "0A000"},
    {"alter view v rename to w", NULL, "0A000"},
    {"alter table public.t rename to u", "ALTER TABLE \"t\" RENAME TO \"u\"", NULL},
    {"alter sequence s restart", NULL, "0A000"},
    {"truncate table t cascade", "DELETE FROM \"t\"", NULL},
    {"truncate t, u", NULL, "0A000"},
    {"truncate only t", "DELETE FROM \"t\"", NULL},
    {"vacuum analyze t", "ANALYZE \"t\"", NULL},
    {"vacuum (verbose) t", "", NULL},
    {"vacuum (full, analyze) t", "VACUUM", NULL},
    {"create table t (a int) with (fillfactor = 100)", "CREATE TABLE \"t\" (\"a\" integer CONSTRAINT dm_int_syntax_integer CHECK (typeof(\"a\") "
     "NOT IN ('text', 'blob')) CONSTRAINT dm_int_range_integer CHECK (\"a\" > -2147483648.5 "
     "AND \"a\" < 2147483647.5))", NULL},
    {"create table t (a int) with (fillfactor = 5)", NULL, "22023"},
    {"create table t (a int) with (autovacuum_enabled = false, toast.autovacuum_enabled = false)",
     "CREATE TABLE \"t\" (\"a\" integer CONSTRAINT dm_int_syntax_integer CHECK (typeof(\"a\") "
     "NOT IN ('text', 'blob')) CONSTRAINT dm_int_range_integer CHECK (\"a\" > -2147483648.5 "
     "AND \"a\" < 2147483647.5))", NULL},
    {"create table t (a int) with (oids = true)", NULL, "0A000"},
    {"analyze t (a)", "ANALYZE \"t\"", NULL},
    {"analyze t, u", "ANALYZE", NULL},
    {"checkpoint", NULL, "0A000"},
    {"lock table t", NULL, "0A000"},
    {"discard all", NULL, "0A000"},
    {"reset all", NULL, "0A000"},
    {"deallocate all", NULL, "0A000"},
    {"prepare p as select 1", NULL, "0A000"},
    {"execute p", NULL, "0A000"},
    {"declare c cursor for select 1", NULL, "0A000"},
    {"fetch c", NULL, "0A000"},
    {"close c", NULL, "0A000"},
    {"do $$ begin end $$", NULL, "0A000"},
    {"copy t from stdin", NULL, "0A000"},
    {"grant select on t to bob", NULL, "0A000"},
    {"create role bob", NULL, "0A000"},
    {"create schema s", NULL, "0A000"},
    {"create function f() returns int as 'select 1' language sql", NULL, "0A000"},
    {"create trigger tr after insert on t for each row execute function f()", NULL, "0A000"},
    {"create type mood as enum ('a')", NULL, "0A000"},
    {"create domain d as int", NULL, "0A000"},
    {"unlisten *", NULL, "0A000"},
    {"load 'x'", NULL, "0A000"},
    {"reindex table t", NULL, "0A000"},
    {"cluster t", NULL, "0A000"},
    {"refresh materialized view mv", NULL, "0A000"},
    {"select a from t order by a fetch first 5 rows with ties", NULL, "0A000"},
    {"create table t (a int references p deferrable initially deferred, b int unique)",
     "CREATE TABLE \"t\" (\"a\" integer CONSTRAINT dm_int_syntax_integer CHECK (typeof(\"a\") "
     "NOT IN ('text', 'blob')) CONSTRAINT dm_int_range_integer CHECK (\"a\" > -2147483648.5 "
     "AND \"a\" < 2147483647.5) REFERENCES \"p\" DEFERRABLE INITIALLY DEFERRED, \"b\" integer "
     "CONSTRAINT dm_int_syntax_integer CHECK (typeof(\"b\") NOT IN ('text', 'blob')) "
     "CONSTRAINT dm_int_range_integer CHECK (\"b\" > -2147483648.5 AND \"b\" < 2147483647.5) "
     "UNIQUE)",
     NULL},
    {"merge into t using u on t.a = u.a when matched then delete", NULL, "0A000"},
};

START_TEST(test_translations)
{
    const tr_case *tc = &tr_cases[_i];
    storage_parse p;
    storage_parse_error pe;
    ck_assert_msg(storage_parse_query(tc->pg, &p, &pe), "%s: %s", tc->pg, pe.message);
    ck_assert_uint_eq(p.n, 1);
    char *out = NULL;
    storage_translate_error err;
    bool ok = storage_translate(&p.stmts[0], &out, &err);
    if (tc->sqlite) {
        ck_assert_msg(ok, "%s\n  refused: %s %s", tc->pg, err.sqlstate, err.message);
        ck_assert_msg(strcmp(out, tc->sqlite) == 0, "%s\n  got:  %s\n  want: %s", tc->pg, out,
                      tc->sqlite);
    } else {
        ck_assert_msg(!ok, "%s\n  translated: %s", tc->pg, out ? out : "");
        ck_assert_ptr_null(out);
        ck_assert_msg(strcmp(err.sqlstate, tc->sqlstate) == 0, "%s: %s, want %s (%s)", tc->pg,
                      err.sqlstate, tc->sqlstate, err.message);
        ck_assert_msg(err.message[0], "%s: no message", tc->pg);
    }
    free(out);
    storage_parse_free(&p);
}
END_TEST

/* Refusals name the feature. */
START_TEST(test_messages)
{
    static const struct {
        const char *pg, *message;
    } cases[] = {
        {"listen x", "LISTEN is not supported"},
        {"create extension pgcrypto", "CREATE EXTENSION is not supported"},
        {"select distinct on (a) a from t", "SELECT DISTINCT ON is not supported"},
        {"alter table t add primary key (a)",
         "ALTER TABLE ... ADD PRIMARY KEY is not supported yet (SQLite needs the table rebuilt)"},
        {"select 'x'::point", "casts to type point are not supported"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        storage_parse p;
        storage_parse_error pe;
        ck_assert(storage_parse_query(cases[i].pg, &p, &pe));
        char *out = NULL;
        storage_translate_error err;
        ck_assert(!storage_translate(&p.stmts[0], &out, &err));
        ck_assert_str_eq(err.sqlstate, "0A000");
        ck_assert_str_eq(err.message, cases[i].message);
        storage_parse_free(&p);
    }
}
END_TEST

/* Deep expressions are refused, not a stack overflow. */
START_TEST(test_depth)
{
    size_t n = 3000;
    char *sql = malloc(n * 4 + 32);
    ck_assert_ptr_nonnull(sql);
    strcpy(sql, "select ");
    for (size_t i = 0; i < n; i++)
        strcat(sql, "-(");
    strcat(sql, "1");
    for (size_t i = 0; i < n; i++)
        strcat(sql, ")");
    storage_parse p;
    storage_parse_error pe;
    if (storage_parse_query(sql, &p, &pe)) {
        char *out = NULL;
        storage_translate_error err;
        if (!storage_translate(&p.stmts[0], &out, &err))
            ck_assert_str_eq(err.sqlstate, "54001");
        free(out);
        storage_parse_free(&p);
    }
    free(sql);
}
END_TEST

/* A translation grows with its statement, not with the depth of its tree:
 * nested # (bitwise xor) once wrote each operand twice, so 30 of them in a
 * 130-byte statement made a 500 MB translation (found by fuzz_translate). */
START_TEST(test_size_linear)
{
    char sql[512] = "select 1";
    for (int i = 0; i < 60; i++)
        strcat(sql, " # 1");
    storage_parse p;
    storage_parse_error pe;
    ck_assert(storage_parse_query(sql, &p, &pe));
    char *out = NULL;
    storage_translate_error err;
    ck_assert_msg(storage_translate(&p.stmts[0], &out, &err), "%s", err.message);
    ck_assert_uint_lt(strlen(out), 4 * strlen(sql));
    free(out);
    storage_parse_free(&p);
}
END_TEST

/* ---- run-through on a real engine ---- */

START_TEST(test_run_keywords_and_literals)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f, "select 1 as nothing, 2 as glob, 3 as pragma, 4 as abort",
              "T[nothing:23,glob:23,pragma:23,abort:23] D[1,2,3,4] C[SELECT 1]", 'I');
    st_expect(&f, "select E'a\\tb' as e, 'it''s' as q, U&'d\\0061t' as u",
              "T[e:25,q:25,u:25] D[#610962,it's,dat] C[SELECT 1]", 'I');
    st_expect(&f, "select 5 # 3 as a, -6 # 3 as b, (null::int # 1) is null as n, 1 # 2 # 4 # 8 as d",
              "T[a:23,b:23,n:16,d:23] D[6,-7,t,15] C[SELECT 1]", 'I');
    st_expect(&f, "create table \"order\"(\"group\" int, \"select\" text)", "C[CREATE TABLE]", 'I');
    st_expect(&f,
              "insert into \"order\" values (1, 'x'); select \"group\", \"select\" from \"order\"",
              "C[INSERT 0 1] T[group:23,select:25] D[1,x] C[SELECT 1]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_run_casts)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f, "select '12'::int + 1 as a, cast(' 7 ' as bigint) as b, 2.5::int as c",
              "T[a:23,b:20,c:23] D[13,7,3] C[SELECT 1]", 'I');
    st_expect(&f, "select 'abc'::int", "E[22P02]", 'I');
    st_expect(&f, "select '70000'::smallint", "E[22003]", 'I');
    st_expect(&f, "select '1.5'::float8 as f, 'abc'::varchar(2) as v, 12::text as t",
              "T[f:701,v:1043(6),t:25] D[1.5,ab,12] C[SELECT 1]", 'I');
    st_expect(&f, "select 'x'::float8", "E[22P02]", 'I');
    st_expect(&f,
              "create table b(v boolean); insert into b values ('yes'::boolean), (false), "
              "('off'::bool), (true); select v from b order by rowid",
              "C[CREATE TABLE] C[INSERT 0 4] T[v:16] D[t] D[f] D[f] D[t] C[SELECT 4]", 'I');
    st_expect(&f, "select 'maybe'::boolean", "E[22P02]", 'I');
    st_expect(&f, "select '\\x0102'::bytea as b, 'a\\\\b'::bytea as e",
              "T[b:17,e:17] D[\\x0102,\\x615c62] C[SELECT 1]", 'I');
    st_expect(&f, "select '\\x0'::bytea", "E[22P02]", 'I');
    st_expect(&f,
              "select '2024-01-01'::date as d, '2024-01-01 10:00:00+02'::timestamptz as tz, "
              "timestamp '2024-02-29 23:59:59.500' as ts, '10:00'::time as t",
              "T[d:1082,tz:1184,ts:1114,t:1083] D[2024-01-01,2024-01-01 08:00:00+00,2024-02-29 "
              "23:59:59.5,10:00:00] C[SELECT 1]",
              'I');
    st_expect(&f, "select '2023-02-29'::date", "E[22008]", 'I');
    st_expect(&f, "select 'soon'::timestamp", "E[22007]", 'I');
    st_expect(&f, "select 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'::uuid as u",
              "T[u:2950] D[a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11] C[SELECT 1]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_run_like_and_regex)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f,
              "create table n(s text); insert into n values ('Apple'), ('apple'), ('a_b'), "
              "('axb'), ('Ünïcode'), (null)",
              "C[CREATE TABLE] C[INSERT 0 6]", 'I');
    /* LIKE is case-sensitive, ILIKE is not */
    st_expect(&f, "select s from n where s like 'a%' order by s",
              "T[s:25] D[a_b] D[apple] D[axb] C[SELECT 3]", 'I');
    st_expect(&f, "select s from n where s ilike 'APP%' order by s",
              "T[s:25] D[Apple] D[apple] C[SELECT 2]", 'I');
    /* backslash escapes by default; _ is one character, also a multibyte one */
    st_expect(&f, "select s from n where s like 'a\\_b'", "T[s:25] D[a_b] C[SELECT 1]", 'I');
    st_expect(&f, "select s from n where s like '_n%'", "T[s:25] D[Ünïcode] C[SELECT 1]", 'I');
    st_expect(&f, "select s from n where s not like '%p%' order by s",
              "T[s:25] D[a_b] D[axb] D[Ünïcode] C[SELECT 3]", 'I');
    st_expect(&f, "select s from n where s like 'a!_b' escape '!'", "T[s:25] D[a_b] C[SELECT 1]",
              'I');
    st_expect(&f, "select 'ab' like 'a\\'", "E[22025]", 'I');
    st_expect(&f, "select s from n where s ~ '^a.b$' order by s",
              "T[s:25] D[a_b] D[axb] C[SELECT 2]", 'I');
    st_expect(&f, "select s from n where s ~* '^APPLE$' order by s",
              "T[s:25] D[Apple] D[apple] C[SELECT 2]", 'I');
    st_expect(&f, "select count(*) from n where s !~ 'p'", "T[count:20] D[3] C[SELECT 1]", 'I');
    st_expect(&f, "select 'a1' ~ '\\d' as d, 'ab' operator(pg_catalog.~) 'b' as o",
              "T[d:16,o:16] D[t,t] C[SELECT 1]", 'I');
    st_expect(&f, "select 'a' ~ '('", "E[2201B]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_run_serial_returning_conflict)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f,
              "create table s(id serial primary key, name text unique, n int default 0, "
              "at timestamptz default now())",
              "C[CREATE TABLE]", 'I');
    st_expect(&f, "insert into s(name) values ('a'), ('b') returning id, name",
              "T[id:23,name:25] D[1,a] D[2,b] C[INSERT 0 2]", 'I');
    st_expect(&f, "insert into s(id, name) values (default, 'c') returning id",
              "T[id:23] D[3] C[INSERT 0 1]", 'I');
    st_expect(&f, "insert into s(name) values ('a') on conflict do nothing", "C[INSERT 0 0]", 'I');
    st_expect(&f,
              "insert into s as x (name, n) values ('a', 5), ('d', 1) on conflict (name) do update "
              "set n = x.n + excluded.n returning id, name, n",
              "T[id:23,name:25,n:23] D[1,a,5] D[6,d,1] C[INSERT 0 2]", 'I');
    st_expect(&f, "update s set n = n + 1 where name = 'a' returning s.n",
              "T[n:23] D[6] C[UPDATE 1]", 'I');
    st_expect(&f, "delete from s where id = 2 returning name", "T[name:25] D[b] C[DELETE 1]", 'I');
    /* as with a sequence, conflicting rows used up ids 4 and 5, and ids are not
     * reused after a delete (PostgreSQL 15 gives the same ids) */
    st_expect(&f, "delete from s where id = 6; insert into s(name) values ('e') returning id",
              "C[DELETE 1] T[id:23] D[7] C[INSERT 0 1]", 'I');
    st_expect(&f, "select count(*) from s where at ~ '^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d'",
              "T[count:20] D[3] C[SELECT 1]", 'I');
    st_expect(&f, "create table bad(id serial, x int)", "E[0A000]", 'I');
    st_expect(&f,
              "create table g(id bigint generated always as identity primary key, v text); "
              "insert into g(v) values ('x') returning id",
              "C[CREATE TABLE] T[id:20] D[1] C[INSERT 0 1]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_run_time_functions)
{
    st_fixture f;
    st_setup(&f, 1);
    st_result r;
    st_query(&f,
             "select now(), current_timestamp, localtimestamp, current_date, version(), "
             "current_database(), gen_random_uuid()",
             &r);
    ck_assert(!r.failed);
    /* T[...] D[now,current_timestamp,localtimestamp,current_date,version,db,uuid] */
    regex_t re;
    ck_assert_int_eq(
        regcomp(&re,
                "^T\\[now:1184,current_timestamp:1184,localtimestamp:1114,current_date:1082,"
                "version:25,current_database:19,gen_random_uuid:2950\\] "
                "D\\[[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]*[1-9])?\\+00,"
                "[^,]*\\+00,[0-9-]{10} [0-9:]{8}(\\.[0-9]*[1-9])?,[0-9]{4}-[0-9]{2}-[0-9]{2},"
                "PostgreSQL 16\\.0 \\(Dormouse [^)]*\\) on x86_64-pc-linux-gnu\\, compiled by "
                "gcc\\, 64-bit,app,[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                "[0-9a-f]{12}\\] C\\[SELECT 1\\]$",
                REG_EXTENDED),
        0);
    ck_assert_msg(regexec(&re, r.transcript, 0, NULL, 0) == 0, "%s", r.transcript);
    regfree(&re);
    wire_buf_free(&r.out);
    st_expect(&f, "select pg_sleep(0.01) as s", "T[s:25] D[<null>] C[SELECT 1]", 'I');
    st_expect(&f, "select random() >= 0 and random() < 1 as r", "T[r:16] D[t] C[SELECT 1]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_run_select_clauses)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f,
              "create table v(n int, s text); insert into v values (3, 'c'), (null, 'z'), "
              "(1, 'a'), (2, 'b')",
              "C[CREATE TABLE] C[INSERT 0 4]", 'I');
    /* NULL sorts last ascending, first descending */
    st_expect(&f, "select n from v order by n", "T[n:23] D[1] D[2] D[3] D[<null>] C[SELECT 4]",
              'I');
    st_expect(&f, "select n from v order by n desc", "T[n:23] D[<null>] D[3] D[2] D[1] C[SELECT 4]",
              'I');
    st_expect(&f, "select n from v order by n nulls first limit 2",
              "T[n:23] D[<null>] D[1] C[SELECT 2]", 'I');
    st_expect(&f, "select s from v order by s offset 1 fetch first 2 rows only",
              "T[s:25] D[b] D[c] C[SELECT 2]", 'I');
    st_expect(&f, "select s from v order by s limit all offset 3", "T[s:25] D[z] C[SELECT 1]", 'I');
    st_expect(&f, "select s from v order by s for update",
              "T[s:25] D[a] D[b] D[c] D[z] C[SELECT 4]", 'I');
    st_expect(&f, "select greatest(1, null, 3) as g, least(null, 2, 5) as l, greatest(null) as n",
              "T[g:23,l:23,n:25] D[3,2,<null>] C[SELECT 1]", 'I');
    st_expect(&f, "select id, name from (values (1, 'one'), (2, 'two')) as x(id, name) order by 2",
              "T[id:23,name:25] D[1,one] D[2,two] C[SELECT 2]", 'I');
    st_expect(&f,
              "with recursive r(i) as (select 1 union all select i + 1 from r where i < 3) "
              "select sum(i) as s from r",
              "T[s:23] D[6] C[SELECT 1]", 'I');
    /* PostgreSQL's names are the subquery's column names (the type is int4, not
     * PostgreSQL's int8: types of expressions are not tracked yet) */
    st_expect(&f, "select count from (select count(*) from v) s", "T[count:23] D[4] C[SELECT 1]",
              'I');
    st_expect(&f, "select 1 union select 2 intersect select 2 order by 1",
              "T[?column?:23] D[1] D[2] C[SELECT 2]", 'I');
    st_expect(&f, "select s collate \"C\" from v where s > 'a' collate \"C\" order by 1",
              "T[s:25] D[b] D[c] D[z] C[SELECT 3]", 'I');
    st_expect(&f, "select 1 is distinct from null as d, 2 between symmetric 3 and 1 as b",
              "T[d:16,b:16] D[t,t] C[SELECT 1]", 'I');
    /* parameters need the extended protocol */
    st_expect(&f, "select s from v where n = $1", "E[42P02]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_run_ddl)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f,
              "create table p(id int primary key, code varchar(5) not null, amount numeric(10,2), "
              "flag boolean default true, c int check (c > 0))",
              "C[CREATE TABLE]", 'I');
    st_expect(&f, "insert into p(id, code, c) values (1, 'a', 1); select flag from p",
              "C[INSERT 0 1] T[flag:16] D[t] C[SELECT 1]", 'I');
    st_result r;
    char buf[256];
    st_query(&f, "insert into p(id, code, c) values (2, 'b', -1)", &r);
    ck_assert_str_eq(r.transcript, "E[23514]");
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'M', buf, sizeof(buf)),
                     "new row violates check constraint \"p_c_check\"");
    wire_buf_free(&r.out);
    st_expect(&f,
              "create index on p (lower(code)); create unique index if not exists pi on p (code)",
              "C[CREATE INDEX] C[CREATE INDEX]", 'I');
    st_expect(&f, "alter table p add column note text default 'n'", "C[ALTER TABLE]", 'I');
    st_expect(&f, "alter table p rename column note to memo", "C[ALTER TABLE]", 'I');
    st_expect(&f, "alter table p add constraint p_amount_key unique (amount)", "C[ALTER TABLE]",
              'I');
    st_expect(&f, "alter table p add primary key (code)", "E[42P16]", 'I'); /* has one */
    st_expect(&f, "select memo from p", "T[memo:25] D[n] C[SELECT 1]", 'I');
    st_expect(&f, "alter table p drop column memo", "C[ALTER TABLE]", 'I');
    st_expect(&f, "create view pv as select id, code from p; select * from pv",
              "C[CREATE VIEW] T[id:23,code:1043(9)] D[1,a] C[SELECT 1]", 'I');
    st_expect(&f, "create table q as select id * 10 as x, code from p; select * from q",
              "C[SELECT 1] T[x:23,code:25] D[10,a] C[SELECT 1]", 'I');
    st_expect(&f, "truncate q", "C[TRUNCATE TABLE]", 'I');
    st_expect(&f, "select count(*) from q", "T[count:20] D[0] C[SELECT 1]", 'I');
    st_expect(&f, "drop view pv; drop table if exists q cascade; drop table if exists q",
              "C[DROP VIEW] C[DROP TABLE] N[00000] C[DROP TABLE]", 'I');
    st_expect(&f, "vacuum", "C[VACUUM]", 'I');
    st_expect(&f, "analyze p", "C[ANALYZE]", 'I');
    st_expect(&f, "delete from p using p as p2 where p.id = p2.id and p2.code = 'a'", "C[DELETE 1]",
              'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_run_transactions)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f, "create table t(a int)", "C[CREATE TABLE]", 'I');
    st_expect(&f, "begin isolation level serializable", "C[BEGIN]", 'T');
    st_expect(&f, "insert into t values (1); savepoint s; insert into t values (2)",
              "C[INSERT 0 1] C[SAVEPOINT] C[INSERT 0 1]", 'T');
    st_expect(&f, "rollback to savepoint s", "C[ROLLBACK]", 'T');
    st_expect(&f, "select 'x'::int", "E[22P02]", 'E');
    st_expect(&f, "rollback", "C[ROLLBACK]", 'I');
    st_expect(&f, "start transaction read write; insert into t values (3); commit",
              "C[START TRANSACTION] C[INSERT 0 1] C[COMMIT]", 'I');
    st_expect(&f, "select a from t", "T[a:23] D[3] C[SELECT 1]", 'I');
    st_teardown(&f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("storage/translate");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_translations, 0, (int)(sizeof(tr_cases) / sizeof(tr_cases[0])));
    tcase_add_test(tc, test_messages);
    tcase_add_test(tc, test_depth);
    tcase_add_test(tc, test_size_linear);
    tcase_add_test(tc, test_run_keywords_and_literals);
    tcase_add_test(tc, test_run_casts);
    tcase_add_test(tc, test_run_like_and_regex);
    tcase_add_test(tc, test_run_serial_returning_conflict);
    tcase_add_test(tc, test_run_time_functions);
    tcase_add_test(tc, test_run_select_clauses);
    tcase_add_test(tc, test_run_ddl);
    tcase_add_test(tc, test_run_transactions);
    suite_add_tcase(s, tc);
    return st_run_suite(s);
}
