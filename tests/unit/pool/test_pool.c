/* Unit tests for pool/pool.c: database names, rules, lookup and lifecycle names. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dormouse/pool.h"

START_TEST(test_state_str_every_value)
{
    ck_assert_str_eq(pool_db_state_str(POOL_DB_ACTIVE), "active");
    ck_assert_str_eq(pool_db_state_str(POOL_DB_IDLE), "idle");
    ck_assert_str_eq(pool_db_state_str(POOL_DB_PAUSING), "pausing");
    ck_assert_str_eq(pool_db_state_str(POOL_DB_PAUSED), "paused");
    ck_assert_str_eq(pool_db_state_str(POOL_DB_RESUMING), "resuming");
    ck_assert_str_eq(pool_db_state_str((pool_db_state)99), "unknown");
}
END_TEST

START_TEST(test_name_validation)
{
    char err[256];
    ck_assert(pool_db_name_valid("demo", err, sizeof(err)));
    ck_assert(pool_db_name_valid("my-db_2.v1", err, sizeof(err)));
    ck_assert(pool_db_name_valid("ünïcode", err, sizeof(err)));
    ck_assert(!pool_db_name_valid("", err, sizeof(err)));
    ck_assert(!pool_db_name_valid(".", err, sizeof(err)));
    ck_assert(!pool_db_name_valid("..", err, sizeof(err)));
    ck_assert(!pool_db_name_valid("../etc", err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "path separators"));
    ck_assert(!pool_db_name_valid("a/b", err, sizeof(err)));
    ck_assert(!pool_db_name_valid("a\\b", err, sizeof(err)));
    ck_assert(!pool_db_name_valid("a\nb", err, sizeof(err)));
    char name[80];
    memset(name, 'x', 63);
    name[63] = '\0';
    ck_assert(pool_db_name_valid(name, err, sizeof(err)));
    memset(name, 'x', 64);
    name[64] = '\0';
    ck_assert(!pool_db_name_valid(name, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "longer than 63 bytes"));
}
END_TEST

START_TEST(test_rule_parse)
{
    pool_db_rule r;
    char err[256];
    memset(&r, 0, sizeof(r));
    ck_assert(pool_db_rule_parse("engine=sqlite", &r, err, sizeof(err)));
    ck_assert_int_eq(r.engine, STORAGE_SQLITE);
    ck_assert(pool_db_rule_parse("  engine=sqlite  ", &r, err, sizeof(err)));
    ck_assert(!pool_db_rule_parse("", &r, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "missing engine"));
    ck_assert(!pool_db_rule_parse("engine=oracle", &r, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "unknown engine"));
    ck_assert(!pool_db_rule_parse("engine", &r, err, sizeof(err)));
    ck_assert(!pool_db_rule_parse("engine=sqlite colour=blue", &r, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "colour"));
}
END_TEST

static storage_engine *engine;
static char tmpdir[64];

static void setup(void)
{
    char err[256];
    strcpy(tmpdir, "/tmp/dm_pool_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    storage_options o = {.data_dir = tmpdir, .workers = 1, .busy_timeout_ms = 100,
                         .synchronous_full = true};
    engine = storage_engine_new(&o, err, sizeof(err));
    ck_assert_msg(engine != NULL, "%s", err);
}

static void teardown(void)
{
    storage_engine_free(engine);
    rmdir(tmpdir);
}

START_TEST(test_get_with_rules)
{
    char err[256];
    pool *p = pool_new(engine);
    pool_db_rule rules[1];
    memset(rules, 0, sizeof(rules));
    strcpy(rules[0].name, "only");
    rules[0].engine = STORAGE_SQLITE;
    pool_set_rules(p, rules, 1);

    pool_db *db = pool_db_get(p, "only", err, sizeof(err));
    ck_assert_ptr_nonnull(db);
    ck_assert_str_eq(pool_db_name(db), "only");
    ck_assert_ptr_eq(pool_db_get(p, "only", err, sizeof(err)), db); /* found, not created again */
    ck_assert_int_eq(pool_db_count(p), 1);
    ck_assert_ptr_null(pool_db_get(p, "other", err, sizeof(err)));
    ck_assert_str_eq(err, "database \"other\" does not exist");
    ck_assert_ptr_null(pool_db_get(p, "../only", err, sizeof(err)));

    strcpy(rules[0].name, "*");
    pool_set_rules(p, rules, 1);
    ck_assert_ptr_nonnull(pool_db_get(p, "other", err, sizeof(err)));
    ck_assert_int_eq(pool_db_count(p), 2);

    storage_conn *c = pool_backend_acquire(db);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(pool_db_backends(db), 1);
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_ACTIVE);
    pool_backend_release(db, c);
    ck_assert_int_eq(pool_db_backends(db), 0);
    pool_free(p);
}
END_TEST

START_TEST(test_many_databases)
{
    char err[256], name[32];
    pool *p = pool_new(engine);
    pool_db_rule rule;
    memset(&rule, 0, sizeof(rule));
    strcpy(rule.name, "*");
    pool_set_rules(p, &rule, 1);
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "tenant%d", i);
        ck_assert_ptr_nonnull(pool_db_get(p, name, err, sizeof(err)));
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "tenant%d", i);
        ck_assert_str_eq(pool_db_name(pool_db_get(p, name, err, sizeof(err))), name);
    }
    ck_assert_int_eq(pool_db_count(p), 5000);
    pool_free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("names");
    tcase_add_test(tc, test_state_str_every_value);
    tcase_add_test(tc, test_name_validation);
    tcase_add_test(tc, test_rule_parse);
    suite_add_tcase(s, tc);
    TCase *tdb = tcase_create("databases");
    tcase_add_checked_fixture(tdb, setup, teardown);
    tcase_add_test(tdb, test_get_with_rules);
    tcase_add_test(tdb, test_many_databases);
    suite_add_tcase(s, tdb);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
