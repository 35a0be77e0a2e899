/*
 * Tests for storage/catalog.c: format_type(), the defaults and OIDs it
 * computes, and the catalog a real engine builds for a schema (through the
 * translator's marking and the runner's catalog_ensure() hook).
 */
#include <stdio.h>
#include <string.h>

#include "catalog.h"
#include "storage_test.h"

START_TEST(test_format_type)
{
    static const struct {
        uint32_t oid;
        int32_t typmod;
        const char *want;
    } cases[] = {
        {16, -1, "boolean"},
        {23, -1, "integer"},
        {20, -1, "bigint"},
        {1043, 24, "character varying(20)"},
        {1043, -1, "character varying"},
        {1042, 5, "character(1)"},
        {1042, -1, "bpchar"},
        {1700, (10 << 16 | 2) + 4, "numeric(10,2)"},
        {1700, -1, "numeric"},
        {1184, -1, "timestamp with time zone"},
        {1184, 3, "timestamp(3) with time zone"},
        {1083, 0, "time(0) without time zone"},
        {1007, -1, "integer[]"},
        {1015, 14, "character varying(10)[]"},
        {18, -1, "\"char\""},
        {3802, -1, "jsonb"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[64];
        ck_assert(catalog_format_type(cases[i].oid, cases[i].typmod, buf, sizeof(buf)));
        ck_assert_str_eq(buf, cases[i].want);
    }
    char buf[8];
    ck_assert(!catalog_format_type(424242, -1, buf, sizeof(buf)));
    ck_assert_str_eq(buf, "???");
}
END_TEST

START_TEST(test_default_expr)
{
    static const struct {
        const char *dflt;
        uint32_t oid;
        const char *want;
    } cases[] = {
        {"'none'", 25, "'none'::text"},
        {"'x'", 1043, "'x'::character varying"},
        {"'2024-01-01'", 1082, "'2024-01-01'::date"},
        {"1", 16, "true"},
        {"0", 16, "false"},
        {"0", 23, "0"},
        {"-1", 23, "'-1'::integer"},
        {"1.5", 1700, "1.5"},
        {"\"now\"()", 1184, "now()"},
        {"now()", 1184, "now()"},
        {"dm_current_date()", 1082, "CURRENT_DATE"},
        {"(\"lower\"('X'))", 25, "lower('X')"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[128];
        catalog_default_expr(cases[i].dflt, cases[i].oid, buf, sizeof(buf));
        ck_assert_msg(strcmp(buf, cases[i].want) == 0, "%s: got %s, want %s", cases[i].dflt, buf,
                      cases[i].want);
    }
}
END_TEST

START_TEST(test_names)
{
    uint32_t a = catalog_oid("authors");
    ck_assert_uint_ge(a, 16384);
    ck_assert_uint_lt(a, 0x80000000u);
    ck_assert_uint_eq(a, catalog_oid("authors"));
    ck_assert_uint_ne(a, catalog_oid("books"));
    ck_assert(catalog_is_relation("pg_class"));
    ck_assert(catalog_is_relation("pg_type"));
    ck_assert(!catalog_is_relation("pg_nosuch"));
    ck_assert(!catalog_is_relation("_dm_defs"));
    ck_assert(!catalog_is_relation("authors"));
    ck_assert_str_eq(catalog_information_schema("columns"), "_dm_is_columns");
    ck_assert_ptr_null(catalog_information_schema("nosuch"));
    ck_assert(catalog_is_function("format_type"));
    ck_assert(catalog_is_function("pg_get_userbyid"));
    ck_assert(!catalog_is_function("lower"));
}
END_TEST

#define SCHEMA                                                                                     \
    "create table a (id serial primary key, name varchar(20) not null unique, "                    \
    "bio text default 'x', ok boolean default true); "                                             \
    "create table b (id bigint primary key, a_id integer references a, n numeric(10,2)); "         \
    "create index b_n_idx on b (n desc)"

START_TEST(test_engine_catalog)
{
    st_fixture f;
    st_setup(&f, 1);
    /* nothing is built until a statement reads the catalog */
    st_expect(&f, "select count(*) from pg_temp.sqlite_master", "T[count:20] D[0] C[SELECT 1]",
              'I');
    st_expect(&f, SCHEMA, "C[CREATE TABLE] C[CREATE TABLE] C[CREATE INDEX]", 'I');
    st_expect(&f,
              "select c.relname, c.relkind, pg_get_userbyid(c.relowner) from pg_catalog.pg_class c "
              "join pg_namespace n on n.oid = c.relnamespace where n.nspname = 'public' order by 1",
              "T[relname:19,relkind:25,pg_get_userbyid:25] D[a,r,app] D[a_name_key,i,app] "
              "D[a_pkey,i,app] D[b,r,app] D[b_n_idx,i,app] D[b_pkey,i,app] C[SELECT 6]",
              'I');
    st_expect(
        &f,
        "select a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), a.attnotnull, "
        "(select pg_catalog.pg_get_expr(d.adbin, d.adrelid, true) from pg_catalog.pg_attrdef d "
        "where d.adrelid = a.attrelid and d.adnum = a.attnum and a.atthasdef) "
        "from pg_catalog.pg_attribute a where a.attrelid = 'a'::regclass order by a.attnum",
        "T[attname:19,format_type:25,attnotnull:16,pg_get_expr:25] "
        "D[id,integer,t,nextval('a_id_seq'::regclass)] D[name,character varying(20),t,<null>] "
        "D[bio,text,f,'x'::text] D[ok,boolean,f,true] C[SELECT 4]",
        'I');
    st_expect(&f,
              "select conname, contype, pg_get_constraintdef(oid, true), conrelid::regclass "
              "from pg_constraint order by 1",
              "T[conname:19,contype:25,pg_get_constraintdef:25,conrelid:25] "
              "D[a_name_key,u,UNIQUE (name),a] D[a_pkey,p,PRIMARY KEY (id),a] "
              "D[b_a_id_fkey,f,FOREIGN KEY (a_id) REFERENCES a(id),b] "
              "D[b_pkey,p,PRIMARY KEY (id),b] C[SELECT 4]",
              'I');
    st_expect(&f,
              "select pg_get_indexdef(i.indexrelid, 0, true) from pg_index i "
              "where i.indrelid = 'b'::regclass order by i.indisprimary desc",
              "T[pg_get_indexdef:25] D[CREATE UNIQUE INDEX b_pkey ON public.b USING btree (id)] "
              "D[CREATE INDEX b_n_idx ON public.b USING btree (n DESC)] C[SELECT 2]",
              'I');
    /* arrays, ANY, subscripts and generate_series */
    st_expect(&f,
              "select s.r, (current_schemas(true))[s.r], 'public' = any (current_schemas(false)) "
              "from generate_series(1, array_upper(current_schemas(true), 1)) as s(r)",
              "T[r:23,current_schemas:25,?column?:16] D[1,pg_catalog,t] D[2,public,t] C[SELECT 2]",
              'I');
    /* the catalog follows the schema, and survives a rollback that drops it */
    st_expect(&f, "begin", "C[BEGIN]", 'T');
    st_expect(&f, "create table c (x int)", "C[CREATE TABLE]", 'T');
    st_expect(&f, "select count(*) from pg_class where relname = 'c'",
              "T[count:20] D[1] C[SELECT 1]", 'T');
    st_expect(&f, "rollback", "C[ROLLBACK]", 'I');
    st_expect(&f, "select count(*) from pg_class where relkind = 'r'",
              "T[count:20] D[2] C[SELECT 1]", 'I');
    st_expect(&f,
              "select table_name, column_name, data_type, character_maximum_length "
              "from information_schema.columns where table_name = 'a' order by ordinal_position",
              "T[table_name:19,column_name:19,data_type:25,character_maximum_length:23] "
              "D[a,id,integer,<null>] D[a,name,character varying,20] D[a,bio,text,<null>] "
              "D[a,ok,boolean,<null>] C[SELECT 4]",
              'I');
    st_teardown(&f);
}
END_TEST

static Suite *catalog_suite(void)
{
    Suite *s = suite_create("storage/catalog");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_format_type);
    tcase_add_test(tc, test_default_expr);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_engine_catalog);
    tcase_set_timeout(tc, 30);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_run_suite(catalog_suite());
}
