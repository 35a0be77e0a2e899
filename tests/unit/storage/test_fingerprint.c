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

/* Equal tree shapes must mean equal fingerprints: through a cache whose
 * shape table answers most of these, every text gets exactly libpg_query's
 * fingerprint of that text. */
START_TEST(test_shapes_give_libpg_query_fingerprints)
{
    static const char *const texts[] = {
        "select * from t where id = 1",
        "select * from t where id = 2",
        "SELECT *   FROM t WHERE id=3",
        "select * from t where id = $1",
        "select * from t where name = 'x'",
        "select * from t where name = 'y' and id = 4",
        "select * from t where id in (1, 2, 3)",
        "select * from t where id in (4, 5)",
        "select a, b from t where id = 1",
        "select b, a from t where id = 1",
        "select a from t1 join t2 using (id) where t1.x > 5 order by a limit 10",
        "select a from t1 join t2 using (id) where t1.x > 6 order by a limit 20",
        "select a from t1 left join t2 using (id) where t1.x > 6 order by a limit 20",
        "insert into t (id, name) values (1, 'a')",
        "insert into t (id, name) values (2, 'b'), (3, 'c')",
        "insert into t (name, id) values ('a', 1)",
        "update pgbench_accounts set abalance = abalance + 3 where aid = 17",
        "update pgbench_accounts set abalance = abalance + -2 where aid = 99",
        "update pgbench_accounts set abalance = abalance - 2 where aid = 99",
        "delete from t where id = 5",
        "select '2020-01-01'::date, 1.5::numeric, true",
        "select '2021-02-02'::date, 2.5::numeric, false",
        "select count(*) from t group by x having count(*) > 3",
        "with c as (select 1 as x) select x from c",
        "with c as (select 2 as x) select x from c",
        "select 1; select 2",
        "select 3; select 4",
        "begin",
        "commit",
        "select x as a from t",
        "select x as b from t",
    };
    size_t n = sizeof(texts) / sizeof(texts[0]);
    storage_parse_cache *pc = storage_parse_cache_new(2); /* tiny: texts fall out, shapes stay */
    storage_parse_cache_set_fingerprints(pc, true);
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < n; i++) {
            storage_parse p;
            storage_parse_error err;
            ck_assert_msg(storage_parse_cached(pc, texts[i], &p, &err), "%s", texts[i]);
            ck_assert_msg(p.fingerprint == storage_fingerprint(texts[i]), "%s: %016llx, want %016llx",
                          texts[i], (unsigned long long)p.fingerprint,
                          (unsigned long long)storage_fingerprint(texts[i]));
            storage_parse_free(&p);
        }
    }
    storage_parse_cache_free(pc);

    /* shapes ignore constants and spacing, not names or structure */
    storage_parse a, b, c;
    storage_parse_error err;
    ck_assert(storage_parse_query("select * from t where id = 1", &a, &err));
    ck_assert(storage_parse_query("SELECT *\n FROM t WHERE id=99", &b, &err));
    ck_assert(storage_parse_query("select * from u where id = 1", &c, &err));
    ck_assert_uint_eq(storage_tree_shape(a.tree), storage_tree_shape(b.tree));
    ck_assert_uint_ne(storage_tree_shape(a.tree), storage_tree_shape(c.tree));
    storage_parse_free(&a);
    storage_parse_free(&b);
    storage_parse_free(&c);
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
    tcase_add_test(tc, test_shapes_give_libpg_query_fingerprints);
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
