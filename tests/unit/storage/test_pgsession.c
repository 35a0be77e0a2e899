/* Unit tests for storage/pgsession.c: what a statement leaves behind in a
 * pooled PostgreSQL session, decided by PostgreSQL's own parser. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "dormouse/storage.h"

static storage_sess_kind kind_of(const char *sql, char *name)
{
    storage_sess_stmt v[4];
    int n = storage_sess_classify(sql, v, 4);
    ck_assert_int_ge(n, 1);
    if (name)
        strcpy(name, v[0].name);
    return v[0].kind;
}

START_TEST(test_candidates)
{
    static const char *const yes[] = {"SET x = 1", "  reset all", "-- c\nLISTEN a", "/* a /* b */ */ begin",
                                      "select 1; set a=1", "select pg_advisory_lock(1)",
                                      "DEALLOCATE s", "discard all", "create temp table t(a int)",
                                      "declare c cursor with hold for select 1", "prepare p as select 1",
                                      "start transaction", "(select 1)"};
    static const char *const no[] = {"select 1", "SELECT abalance FROM t WHERE aid = 1;",
                                     "insert into t values (1)", "update t set a = 1 ;  ",
                                     "with x as (select 1) select * from x"};
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
        ck_assert_msg(storage_sess_candidate(yes[i], strlen(yes[i])), "%s", yes[i]);
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        ck_assert_msg(!storage_sess_candidate(no[i], strlen(no[i])), "%s", no[i]);
}
END_TEST

START_TEST(test_classify)
{
    char name[64];
    ck_assert_int_eq(kind_of("SET Statement_Timeout = '5s'", name), STORAGE_SESS_SET);
    ck_assert_str_eq(name, "statement_timeout");
    ck_assert_int_eq(kind_of("set session time zone 'UTC'", name), STORAGE_SESS_SET);
    ck_assert_str_eq(name, "timezone");
    ck_assert_int_eq(kind_of("set local work_mem = '1MB'", NULL), STORAGE_SESS_OTHER);
    ck_assert_int_eq(kind_of("set transaction isolation level serializable", NULL),
                     STORAGE_SESS_OTHER);
    ck_assert_int_eq(kind_of("set session characteristics as transaction isolation level "
                             "serializable, read only", name), STORAGE_SESS_SET);
    ck_assert_str_eq(name, "default_transaction_isolation,default_transaction_read_only");
    ck_assert_int_eq(kind_of("set work_mem to default", name), STORAGE_SESS_RESET);
    ck_assert_str_eq(name, "work_mem");
    ck_assert_int_eq(kind_of("reset all", NULL), STORAGE_SESS_RESET_ALL);
    ck_assert_int_eq(kind_of("deallocate prepare s1", name), STORAGE_SESS_DEALLOCATE);
    ck_assert_str_eq(name, "s1");
    ck_assert_int_eq(kind_of("deallocate all", NULL), STORAGE_SESS_DEALLOCATE_ALL);
    ck_assert_int_eq(kind_of("discard all", NULL), STORAGE_SESS_DISCARD_ALL);
    ck_assert_int_eq(kind_of("discard temp", NULL), STORAGE_SESS_OTHER);
    ck_assert_int_eq(kind_of("begin isolation level serializable", NULL), STORAGE_SESS_BEGIN);
    ck_assert_int_eq(kind_of("savepoint s1", name), STORAGE_SESS_SAVEPOINT);
    ck_assert_str_eq(name, "s1");
    ck_assert_int_eq(kind_of("rollback to savepoint s1", name), STORAGE_SESS_ROLLBACK_TO);
    ck_assert_str_eq(name, "s1");
    ck_assert_int_eq(kind_of("release s1", name), STORAGE_SESS_RELEASE);
    ck_assert_int_eq(kind_of("rollback", NULL), STORAGE_SESS_OTHER);
    ck_assert_int_eq(kind_of("listen chan", NULL), STORAGE_SESS_LISTEN);
    ck_assert_int_eq(kind_of("create temporary table t (a int)", NULL), STORAGE_SESS_TEMP);
    ck_assert_int_eq(kind_of("create table t (a int)", NULL), STORAGE_SESS_OTHER);
    ck_assert_int_eq(kind_of("create temp view v as select 1", NULL), STORAGE_SESS_TEMP);
    ck_assert_int_eq(kind_of("create temp table t as select 1", NULL), STORAGE_SESS_TEMP);
    ck_assert_int_eq(kind_of("declare c cursor with hold for select 1", NULL),
                     STORAGE_SESS_HOLD_CURSOR);
    ck_assert_int_eq(kind_of("declare c cursor for select 1", NULL), STORAGE_SESS_OTHER);
    ck_assert_int_eq(kind_of("prepare p as select 1", NULL), STORAGE_SESS_PREPARE);
    ck_assert_int_eq(kind_of("select pg_advisory_lock(42)", NULL), STORAGE_SESS_ADVISORY);
    ck_assert_int_eq(kind_of("select pg_advisory_xact_lock(42)", NULL), STORAGE_SESS_OTHER);
    ck_assert_int_eq(kind_of("select 'pg_advisory_lock(1)'", NULL), STORAGE_SESS_OTHER);
    ck_assert_str_eq(storage_sess_kind_str(STORAGE_SESS_ADVISORY), "session advisory lock");
}
END_TEST

START_TEST(test_several_statements)
{
    const char *sql = "select 1; SET a.b = 'x;y'; reset c";
    storage_sess_stmt v[2];
    int n = storage_sess_classify(sql, v, 2);
    ck_assert_int_eq(n, 3); /* counted, only two written */
    ck_assert_int_eq(v[0].kind, STORAGE_SESS_OTHER);
    ck_assert_int_eq(v[1].kind, STORAGE_SESS_SET);
    ck_assert_str_eq(v[1].name, "a.b");
    ck_assert_int_eq((int)v[1].len, (int)strlen("SET a.b = 'x;y'"));
    ck_assert(strncmp(sql + v[1].location, "SET a.b = 'x;y'", v[1].len) == 0);
    ck_assert_int_eq(storage_sess_classify("select from from", v, 2), -1);
    ck_assert_int_eq(storage_sess_classify("  ;  ", v, 2), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pgsession");
    TCase *tc = tcase_create("pgsession");
    tcase_add_test(tc, test_candidates);
    tcase_add_test(tc, test_classify);
    tcase_add_test(tc, test_several_statements);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
