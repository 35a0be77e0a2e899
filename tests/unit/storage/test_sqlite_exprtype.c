/*
 * Tests for storage/sqlite_exprtype.c: PostgreSQL's types for result
 * expressions (the OIDs PostgreSQL 15 reports for the same statements), with
 * column references resolved through a real SQLite schema.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "dormouse/wire.h"
#include "sqlite_exprtype.h"
#include "statement.h"

static sqlite3 *open_db(void)
{
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(db,
                                  "create table t (i integer, s smallint, b bigint, "
                                  "n numeric text(10,2), f double precision, r real, "
                                  "x text, ts timestamptz);"
                                  "create table u (i bigint, y varchar(5))",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    return db;
}

/* "oid,oid,..." for the targets of `sql` (0 for unknown). */
static void expect_types(sqlite3 *db, const char *sql, const char *want)
{
    storage_parse p;
    storage_parse_error err;
    ck_assert_msg(storage_parse_query(sql, &p, &err), "%s: %s", sql, err.message);
    ck_assert_uint_eq(p.n, 1);
    const PgQuery__Node *stmt = p.stmts[0].node;
    const PgQuery__SelectStmt *s = stmt->select_stmt;
    char got[256] = "";
    for (size_t i = 0; i < s->n_target_list; i++) {
        sqlite_pg_type t;
        bool ok = sqlite_expr_type(db, stmt, s->target_list[i]->res_target->val, &t);
        size_t o = strlen(got);
        if (ok && t.typmod >= 0)
            snprintf(got + o, sizeof(got) - o, "%s%u(%d)", o ? "," : "", t.oid, t.typmod);
        else
            snprintf(got + o, sizeof(got) - o, "%s%u", o ? "," : "", ok ? t.oid : 0);
    }
    ck_assert_msg(strcmp(got, want) == 0, "%s: [%s], want [%s]", sql, got, want);
    ck_assert_ptr_nonnull(sqlite_expr_targets(stmt, (int)s->n_target_list));
    storage_parse_free(&p);
}

START_TEST(test_literals_and_operators)
{
    sqlite3 *db = open_db();
    expect_types(db, "select 1, 3000000000, 12345678901234567890, 1.5, 'x', true, null",
                 "23,20,1700,1700,25,16,0");
    expect_types(db, "select 1 + 1, 1 + 3000000000, 1 * 1.5, 0.1 + 0.2, 2 / 3, -1, -1.5",
                 "23,20,1700,1700,23,23,1700");
    expect_types(db,
                 "select 1 = 1, 1 < 2 and true, not false, 'a' ~ 'b', 1 in (1, 2), "
                 "null is null, 1 between 0 and 2, 'a' || 'b'",
                 "16,16,16,16,16,16,16,25");
    expect_types(db,
                 "select 1::int8, cast(1 as text), 2.5::numeric(10,2), 'a'::varchar(3), "
                 "'x'::uuid, '1'::float4 + 1",
                 "20,25,1700(655366),1043(7),2950,701");
    sqlite3_close(db);
}
END_TEST

START_TEST(test_functions)
{
    sqlite3 *db = open_db();
    expect_types(db,
                 "select count(*), now(), current_timestamp, current_date, localtimestamp, "
                 "current_user, version(), gen_random_uuid(), length('x'), lower('X')",
                 "20,1184,1184,1082,1114,19,25,2950,23,25");
    expect_types(db,
                 "select coalesce(null, 1), case when true then 1.5 else 2 end, "
                 "(select 1), exists (select 1), greatest(1, 2), unknown_fn(1)",
                 "23,1700,23,16,23,0");
    sqlite3_close(db);
}
END_TEST

START_TEST(test_columns_and_aggregates)
{
    sqlite3 *db = open_db();
    /* columns of the FROM relations, by name, alias or qualification */
    expect_types(db, "select i + 1, n * 2, f + i, x || 'y', ts from t", "23,1700,701,25,1184");
    expect_types(db,
                 "select sum(i), sum(s), sum(b), sum(n), sum(f), sum(r), avg(i), avg(f)"
                 " from t",
                 "20,20,1700,1700,701,700,1700,701");
    expect_types(db, "select max(n), min(x), max(ts), abs(b), round(n, 1), round(i) from t",
                 "1700,25,1184,20,1700,701");
    expect_types(db, "select a.i, a.i + 0, u.i + 0, max(u.y) from t a join u on a.i = u.i",
                 "23,23,20,1043");
    expect_types(db, "select i + 0 from t, u", "23"); /* the first relation that has it */
    expect_types(db, "select nope + 1, z.i + 1 from t", "0,0");
    /* without a database, column references are unknown */
    expect_types(NULL, "select i + 1, 1 + 1 from t", "0,23");
    sqlite3_close(db);
}
END_TEST

static Suite *sqlite_exprtype_suite(void)
{
    Suite *s = suite_create("storage/sqlite_exprtype");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_literals_and_operators);
    tcase_add_test(tc, test_functions);
    tcase_add_test(tc, test_columns_and_aggregates);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sqlite_exprtype_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
