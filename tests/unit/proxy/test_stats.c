/* Unit tests for proxy/stats.c: per-database counters, the snapshot
 * rotation and PgBouncer's averages. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

START_TEST(test_db_get_and_sort)
{
    proxy_stats *st = proxy_stats_new(0);
    ck_assert_ptr_nonnull(st);
    proxy_stats_db *b = proxy_stats_db_get(st, "b");
    ck_assert_ptr_eq(proxy_stats_db_get(st, "b"), b);
    proxy_stats_db_get(st, "c");
    proxy_stats_db_get(st, "a");
    ck_assert_int_eq(proxy_stats_db_count(st), 3);
    int n;
    proxy_stats_db **v = proxy_stats_db_sorted(st, &n);
    ck_assert_int_eq(n, 3);
    ck_assert_str_eq(v[0]->name, "a");
    ck_assert_str_eq(v[1]->name, "b");
    ck_assert_str_eq(v[2]->name, "c");
    free(v);
    ck_assert_ptr_null(proxy_stats_db_get(NULL, "x"));
    proxy_stats_free(st);
    proxy_stats_free(NULL);
}
END_TEST

START_TEST(test_counting_points)
{
    proxy_stats *st = proxy_stats_new(0);
    proxy_stats_db *d = proxy_stats_db_get(st, "x");
    proxy_stats_query_done(d, 100);
    proxy_stats_query_done(d, 300);
    proxy_stats_xact_done(d, 500);
    proxy_stats_waited(d, 40);
    proxy_stats_received(d, 7);
    proxy_stats_sent(d, 9);
    /* NULL: an uncounted session */
    proxy_stats_query_done(NULL, 1);
    proxy_stats_xact_done(NULL, 1);
    proxy_stats_waited(NULL, 1);
    proxy_stats_received(NULL, 1);
    proxy_stats_sent(NULL, 1);
    ck_assert_uint_eq(d->total.query_count, 2);
    ck_assert_uint_eq(d->total.query_time_us, 400);
    ck_assert_uint_eq(d->total.xact_count, 1);
    ck_assert_uint_eq(d->total.xact_time_us, 500);
    ck_assert_uint_eq(d->total.wait_count, 1);
    ck_assert_uint_eq(d->total.wait_time_us, 40);
    ck_assert_uint_eq(d->total.received, 7);
    ck_assert_uint_eq(d->total.sent, 9);
    proxy_stats_free(st);
}
END_TEST

START_TEST(test_averages)
{
    proxy_stats *st = proxy_stats_new(1000000);
    proxy_stats_db *d = proxy_stats_db_get(st, "x");
    proxy_stats_counters avg;
    proxy_stats_averages(st, d, &avg);
    ck_assert_uint_eq(avg.query_count, 0); /* before the first period: zero */

    for (int i = 0; i < 30; i++)
        proxy_stats_query_done(d, 1000);
    for (int i = 0; i < 10; i++)
        proxy_stats_xact_done(d, 5000);
    proxy_stats_waited(d, 300);
    proxy_stats_waited(d, 100);
    proxy_stats_received(d, 1500);
    proxy_stats_sent(d, 6000);
    proxy_stats_tick(st, 16000000); /* a 15 s period */
    proxy_stats_averages(st, d, &avg);
    ck_assert_uint_eq(avg.query_count, 2);  /* 30 / 15 s */
    ck_assert_uint_eq(avg.xact_count, 0);   /* 10 / 15 s, truncated like PgBouncer */
    ck_assert_uint_eq(avg.received, 100);   /* bytes per second */
    ck_assert_uint_eq(avg.sent, 400);
    ck_assert_uint_eq(avg.query_time_us, 1000); /* per query */
    ck_assert_uint_eq(avg.xact_time_us, 5000);  /* per transaction */
    ck_assert_uint_eq(avg.wait_time_us, 200);   /* per wait */

    /* The next period sees only what happened in it. */
    proxy_stats_query_done(d, 10);
    proxy_stats_tick(st, 17000000);
    proxy_stats_averages(st, d, &avg);
    ck_assert_uint_eq(avg.query_count, 1);
    ck_assert_uint_eq(avg.query_time_us, 10);
    ck_assert_uint_eq(avg.received, 0);
    ck_assert_uint_eq(avg.wait_time_us, 0);
    ck_assert_uint_eq(d->total.query_count, 31); /* totals keep counting */
    proxy_stats_free(st);
}
END_TEST

START_TEST(test_clock)
{
    uint64_t a = proxy_stats_now_us();
    uint64_t b = proxy_stats_now_us();
    ck_assert_uint_ge(b, a);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("counters");
    tcase_add_test(tc, test_db_get_and_sort);
    tcase_add_test(tc, test_counting_points);
    tcase_add_test(tc, test_averages);
    tcase_add_test(tc, test_clock);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
