/*
 * Tests for storage/colname.c: result column names from the parse tree,
 * compared with what PostgreSQL 15 names the same statements (psql \gdesc).
 * "~" marks a column left to SQLite's name (one a `*` expands to).
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "colname.h"
#include "statement.h"

/* The names for the first statement of sql, joined with ","; NULL -> "~". */
static bool names_of(const char *sql, int ncols, char *buf, size_t cap, bool *count)
{
    storage_parse p;
    storage_parse_error err;
    ck_assert_msg(storage_parse_query(sql, &p, &err), "%s: %s", sql, err.message);
    ck_assert_uint_ge(p.n, 1);
    storage_colname cols[64];
    ck_assert_int_le(ncols, 64);
    bool ok = storage_colname_result(p.stmts[0].node, ncols, cols);
    buf[0] = '\0';
    for (int i = 0; i < ncols; i++) {
        size_t used = strlen(buf);
        snprintf(buf + used, cap - used, "%s%s", i ? "," : "", cols[i].name ? cols[i].name : "~");
        if (count)
            count[i] = cols[i].count;
    }
    storage_parse_free(&p);
    return ok;
}

static const struct {
    const char *sql;
    int ncols;
    const char *want;
} cases[] = {
    {"select 1", 1, "?column?"},
    {"select 1 as a, 2 AS Mixed, 3 as \"Quoted\"", 3, "a,mixed,Quoted"},
    {"select id, t.name, public.t.id, ID, \"Id\" from t", 5, "id,name,id,id,Id"},
    {"select 1::int, '2024-01-01'::date, 1::varchar(3), 1::double precision, cast(1 as bigint), "
     "'{1}'::int[], interval '1 day', date '2020-01-01', 1::\"char\", 1::decimal, 1::float, "
     "1::real, 1::char(2), null::timestamp with time zone, null::bit varying",
     15,
     "int4,date,varchar,float8,int8,int4,interval,date,char,numeric,float8,float4,bpchar,"
     "timestamptz,varbit"},
    {"select id::text, (id)::int8, id::int::text, name collate \"C\", ((id)) from t", 5,
     "id,id,id,name,id"},
    {"select count(*), count(id), count(distinct id), sum(id), max(name), "
     "pg_catalog.lower(max(name)), COUNT(*) as n from t",
     7, "count,count,count,sum,max,lower,n"},
    {"select 1+1, -1, not true, id is null, id between 1 and 2, id in (1,2), id = any('{1}'), "
     "'a' || 'b', 'a' like 'b', true, null, 'x', 1.5 from t",
     13,
     "?column?,?column?,?column?,?column?,?column?,?column?,?column?,?column?,?column?,?column?,"
     "?column?,?column?,?column?"},
    {"select case when true then 1 end, case when true then 1 else id end, "
     "case when true then 1 else 2::int end, case id when 1 then 'a' else name::text end from t",
     4, "case,id,case,name"},
    {"select nullif(id, 2), coalesce(id, 1), greatest(id, 2), least(1, id) from t", 4,
     "nullif,coalesce,greatest,least"},
    {"select exists(select 1), array(select 1), (select 1), (select 1 as z), (select id from t), "
     "(select 1)::int8, (select id from t)::text, (values (1)), (select 1 union select 2), "
     "(select name from t union select 'x'), (select count(*) from t)",
     11, "exists,array,?column?,z,id,?column?,id,column1,?column?,name,count"},
    {"select array[1], row(1,2), (array[1,2])[1], (row(1,2)).f1, (select array[id] from t)[1]", 5,
     "array,row,array,f1,array"},
    {"select current_date, current_time, current_time(2), current_timestamp, "
     "current_timestamp(1), localtime, localtime(1), localtimestamp, current_role, current_user, "
     "user, session_user, current_catalog, current_schema",
     14,
     "current_date,current_time,current_time,current_timestamp,current_timestamp,localtime,"
     "localtime,localtimestamp,current_role,current_user,user,session_user,current_catalog,"
     "current_schema"},
    {"select xmlconcat(null), xmlelement(name a), xmlforest(1 as b), xmlpi(name x), "
     "xmlparse(document '<a/>'), xmlserialize(content null as text), "
     "xmlroot(null, version '1'), null::xml is document",
     8, "xmlconcat,xmlelement,xmlforest,xmlpi,xmlparse,xmlserialize,xmlroot,?column?"},
    {"select id, count(*) over (), row_number() over () from t", 3, "id,count,row_number"},
    {"select id from t union select 2 as x", 1, "id"},
    {"select 1 as x union all select 2 as y except select 3 as z", 1, "x"},
    {"(select 1 as x) union (select 2 as y) order by 1", 1, "x"},
    {"insert into t2 values (1, 'a') returning id, name as n, id + 1, length(b)", 4,
     "id,n,?column?,length"},
    {"update t2 set name = 'b' returning name::varchar, b", 2, "name,b"},
    {"delete from t2 returning id", 1, "id"},
    {"with w as (select 1 as q) select q, q + 1 from w", 2, "q,?column?"},
    /* `*` expands to the table's columns: SQLite names them */
    {"select * from t", 2, "~,~"},
    {"select *, 1, id from t", 4, "~,~,?column?,id"},
    {"select t.*, count(*) from t group by id, name", 3, "~,~,count"},
    {"select 1, *, 2 from t", 4, "?column?,~,~,?column?"},
    {"select id, *, t.*, name from t", 6, "id,~,~,~,~,name"},
    {"insert into t values (1, 'a') returning *, id + 1", 3, "~,~,?column?"},
    /* a subquery's `*`: only the catalog knows its first column */
    {"select (select * from t), 1", 2, "~,?column?"},
    {"select (select * from t)::int, case when true then 1 else (select * from t) end", 2, "~,~"},
};

START_TEST(test_names_like_postgres)
{
    char buf[1024];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(names_of(cases[i].sql, cases[i].ncols, buf, sizeof(buf), NULL), "%s",
                      cases[i].sql);
        ck_assert_msg(strcmp(buf, cases[i].want) == 0, "%s\n  got:  %s\n  want: %s", cases[i].sql,
                      buf, cases[i].want);
    }
}
END_TEST

START_TEST(test_count_flag)
{
    char buf[256];
    bool count[8];
    ck_assert(
        names_of("select count(*), count(x) as n, sum(x), count(*)::int, pg_catalog.count(1), "
                 "\"count\"(1), max(x) from t",
                 7, buf, sizeof(buf), count));
    ck_assert_str_eq(buf, "count,n,sum,count,count,count,max");
    ck_assert(count[0] && count[1] && !count[2] && !count[3] && count[4] && count[5] && !count[6]);
    /* set operations: the left-most select */
    ck_assert(names_of("select count(*) from t union select 1", 1, buf, sizeof(buf), count));
    ck_assert(count[0]);
    ck_assert(names_of("select 1 as c, t.*, count(*) from t", 4, buf, sizeof(buf), count));
    ck_assert_str_eq(buf, "c,~,~,count");
    ck_assert(!count[0] && !count[1] && !count[2] && count[3]);
}
END_TEST

START_TEST(test_not_lined_up)
{
    char buf[256];
    /* SQLite reporting another number of columns than there are targets */
    ck_assert(!names_of("select 1, 2", 3, buf, sizeof(buf), NULL));
    ck_assert_str_eq(buf, "~,~,~");
    ck_assert(!names_of("select 1, 2", 1, buf, sizeof(buf), NULL));
    ck_assert(!names_of("select 1, *, 2 from t", 1, buf, sizeof(buf), NULL));
    /* a star may expand to nothing (an empty column list is not possible, but
     * the arithmetic must hold) */
    ck_assert(names_of("select 1, *, 2 from t", 2, buf, sizeof(buf), NULL));
    ck_assert_str_eq(buf, "?column?,?column?");
    /* a set operation with VALUES on the right is named by its left */
    ck_assert(names_of("select 1 union values (2)", 1, buf, sizeof(buf), NULL));
    ck_assert_str_eq(buf, "?column?");
    /* no target list of ours: VALUES, utility statements, DML without RETURNING */
    ck_assert(!names_of("values (1, 2)", 2, buf, sizeof(buf), NULL));
    ck_assert(!names_of("insert into t values (1)", 1, buf, sizeof(buf), NULL));
    ck_assert(!names_of("explain select 1", 1, buf, sizeof(buf), NULL));
    ck_assert(!names_of("show search_path", 1, buf, sizeof(buf), NULL));
}
END_TEST

START_TEST(test_figure_null_and_deep)
{
    ck_assert_str_eq(storage_colname_figure(NULL), "?column?");
    /* deeply nested casts stay bounded: the innermost name is too deep */
    char sql[4096];
    size_t o = (size_t)snprintf(sql, sizeof(sql), "select ");
    for (int i = 0; i < 300; i++)
        o += (size_t)snprintf(sql + o, sizeof(sql) - o, "(");
    o += (size_t)snprintf(sql + o, sizeof(sql) - o, "x");
    for (int i = 0; i < 300; i++)
        o += (size_t)snprintf(sql + o, sizeof(sql) - o, ")::text");
    char buf[64];
    ck_assert(names_of(sql, 1, buf, sizeof(buf), NULL));
    ck_assert_str_eq(buf, "~");
}
END_TEST

static Suite *colname_suite(void)
{
    Suite *s = suite_create("storage/colname");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_names_like_postgres);
    tcase_add_test(tc, test_count_flag);
    tcase_add_test(tc, test_not_lined_up);
    tcase_add_test(tc, test_figure_null_and_deep);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(colname_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
