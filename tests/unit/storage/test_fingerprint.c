/*
 * Tests for storage/fingerprint.c: query fingerprints, normalised texts and
 * statement kinds for metering (libpg_query's parser and scanner).
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "statement.h"

START_TEST(test_fingerprint_ignores_constants_and_spacing)
{
    uint64_t a = storage_fingerprint("select * from t where id = 1");
    uint64_t b = storage_fingerprint("SELECT *\n  FROM t WHERE id=42");
    uint64_t c = storage_fingerprint("select * from t where id = $1");
    uint64_t d = storage_fingerprint("select * from u where id = 1");
    ck_assert_uint_ne(a, 0);
    ck_assert_uint_eq(a, b);
    ck_assert_uint_eq(a, c);
    ck_assert_uint_ne(a, d);
    ck_assert_uint_eq(storage_fingerprint("selec * from"), 0); /* does not parse */
}
END_TEST

START_TEST(test_normalize)
{
    char *n = storage_normalize("select * from t where id = 1 and v = 'x'", 1024);
    ck_assert_ptr_nonnull(n);
    ck_assert_str_eq(n, "select * from t where id = $1 and v = $2");
    free(n);
    n = storage_normalize("select 123456789", 10);
    ck_assert_str_eq(n, "select $1");
    free(n);
    n = storage_normalize("select 1, 2, 3, 4", 9);
    ck_assert_str_eq(n, "select $1"); /* cut at max bytes */
    free(n);
}
END_TEST

static storage_query_kind parsed_kind(const char *sql)
{
    storage_parse p;
    storage_parse_error err;
    ck_assert_msg(storage_parse_query(sql, &p, &err), "%s: %s", sql, err.message);
    storage_query_kind k = storage_parse_kind(&p);
    storage_parse_free(&p);
    return k;
}

START_TEST(test_kinds)
{
    static const struct {
        const char *sql;
        storage_query_kind kind;
    } cases[] = {
        {"select 1", STORAGE_QUERY_READ},
        {"values (1)", STORAGE_QUERY_READ},
        {"explain select 1", STORAGE_QUERY_READ},
        {"insert into t values (1)", STORAGE_QUERY_WRITE},
        {"update t set a = 1", STORAGE_QUERY_WRITE},
        {"delete from t", STORAGE_QUERY_WRITE},
        {"copy t from stdin", STORAGE_QUERY_WRITE},
        {"copy t to stdout", STORAGE_QUERY_READ},
        {"create table t (a int)", STORAGE_QUERY_DDL},
        {"drop index i", STORAGE_QUERY_DDL},
        {"begin", STORAGE_QUERY_TRANSACTION},
        {"commit", STORAGE_QUERY_TRANSACTION},
        {"set search_path = x", STORAGE_QUERY_OTHER},
        /* a message is its weightiest statement */
        {"begin; select 1; commit", STORAGE_QUERY_READ},
        {"begin; insert into t values (1); commit", STORAGE_QUERY_WRITE},
        {"select 1; create table u (a int)", STORAGE_QUERY_DDL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_msg(parsed_kind(cases[i].sql) == cases[i].kind, "parsed: %s", cases[i].sql);
        ck_assert_msg(storage_query_kind_scan(cases[i].sql) == cases[i].kind, "scanned: %s",
                      cases[i].sql);
    }
    /* the scanner sees a data-modifying WITH */
    ck_assert_int_eq(storage_query_kind_scan("with x as (delete from t returning *) select * from x"),
                     STORAGE_QUERY_WRITE);
    ck_assert_int_eq(storage_query_kind_scan("with x as (select 1) select * from x"),
                     STORAGE_QUERY_READ);
    ck_assert_int_eq(storage_query_kind_scan(""), STORAGE_QUERY_OTHER);
    ck_assert_int_eq(storage_query_kind_scan("copy (select a from t) to stdout"), STORAGE_QUERY_READ);
    ck_assert_str_eq(storage_query_kind_str(STORAGE_QUERY_READ), "read");
    ck_assert_str_eq(storage_query_kind_str(STORAGE_QUERY_WRITE), "write");
    ck_assert_str_eq(storage_query_kind_str(STORAGE_QUERY_DDL), "ddl");
    ck_assert_str_eq(storage_query_kind_str(STORAGE_QUERY_TRANSACTION), "transaction");
    ck_assert_str_eq(storage_query_kind_str(STORAGE_QUERY_OTHER), "other");
}
END_TEST

START_TEST(test_cache_carries_fingerprints)
{
    storage_parse_cache *pc = storage_parse_cache_new(8);
    storage_parse_cache_set_fingerprints(pc, true);
    storage_parse a, b;
    storage_parse_error err;
    ck_assert(storage_parse_cached(pc, "select * from t where id = 5", &a, &err));
    ck_assert(storage_parse_cached(pc, "select * from t where id = 5", &b, &err)); /* a hit */
    ck_assert_uint_ne(a.fingerprint, 0);
    ck_assert_uint_eq(a.fingerprint, b.fingerprint);
    ck_assert_uint_eq(a.fingerprint, storage_fingerprint("select * from t where id = 6"));
    storage_parse_free(&a);
    storage_parse_free(&b);
    storage_parse_cache_free(pc);

    pc = storage_parse_cache_new(8); /* off: no fingerprint work */
    ck_assert(storage_parse_cached(pc, "select 1", &a, &err));
    ck_assert_uint_eq(a.fingerprint, 0);
    storage_parse_free(&a);
    storage_parse_cache_free(pc);
}
END_TEST

static Suite *fingerprint_suite(void)
{
    Suite *s = suite_create("storage/fingerprint");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_fingerprint_ignores_constants_and_spacing);
    tcase_add_test(tc, test_normalize);
    tcase_add_test(tc, test_kinds);
    tcase_add_test(tc, test_cache_carries_fingerprints);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fingerprint_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
