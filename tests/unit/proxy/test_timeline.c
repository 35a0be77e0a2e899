/* Unit tests for proxy/timeline.c: the latency histogram and its
 * quantiles, merging the loops' counts, the sample ring, the databases'
 * state changes (several within one tick, the state at a reader's since),
 * the JSON answer and a sample's cost under a plan. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "billing.h"
#include "timeline.h"

static const billing_plan *builtin(const char *name)
{
    size_t n;
    const billing_plan *plans = billing_builtin_plans(&n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(plans[i].name, name) == 0)
            return &plans[i];
    ck_abort_msg("no built-in plan %s", name);
    return NULL;
}

START_TEST(test_buckets_monotonic)
{
    int prev = 0;
    for (uint64_t d = 0; d < 5000000; d = d < 64 ? d + 1 : d + d / 7) {
        int b = timeline_hist_bucket(d);
        ck_assert_int_ge(b, prev);
        ck_assert_int_lt(b, TIMELINE_HIST);
        prev = b;
    }
    ck_assert_int_eq(timeline_hist_bucket(0), 0);
    ck_assert_int_eq(timeline_hist_bucket(UINT64_MAX - 1), TIMELINE_HIST - 1);
}
END_TEST

/* Every quantile is at least the truth and within a quarter above it. */
START_TEST(test_quantiles)
{
    timeline_acc a;
    memset(&a, 0, sizeof(a));
    uint64_t v[1000];
    for (int i = 0; i < 1000; i++) {
        v[i] = 100 + (uint64_t)i * 37; /* 100 us .. 37 ms */
        timeline_acc_query(&a, v[i], false);
    }
    ck_assert_uint_eq(a.queries, 1000);
    ck_assert_uint_eq(a.max_us, v[999]);
    double qs[] = {0.5, 0.9, 0.99, 1.0};
    for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
        uint64_t truth = v[(int)ceil(qs[k] * 1000) - 1];
        uint64_t got = timeline_hist_quantile(a.hist, a.queries, qs[k], a.max_us);
        ck_assert_msg(got >= truth && (double)got <= (double)truth * 1.25 + 1,
                      "q %.2f: got %llu, truth %llu", qs[k], (unsigned long long)got,
                      (unsigned long long)truth);
    }
    /* never above the largest seen */
    ck_assert_uint_eq(timeline_hist_quantile(a.hist, a.queries, 1.0, a.max_us), a.max_us);
    ck_assert_uint_eq(timeline_hist_quantile(a.hist, 0, 0.5, 0), 0);
}
END_TEST

START_TEST(test_merge_and_fill)
{
    timeline_acc x, y;
    memset(&x, 0, sizeof(x));
    memset(&y, 0, sizeof(y));
    timeline_acc_query(&x, 1000, false);
    timeline_acc_query(&x, 2000, true);
    x.logins = 2;
    x.rows_read = 10;
    timeline_acc_query(&y, 50000, true);
    y.refused = 1;
    y.cpu_us = 7;
    timeline_acc_merge(&x, &y);
    ck_assert_uint_eq(x.queries, 3);
    ck_assert_uint_eq(x.cold_queries, 2);
    ck_assert_uint_eq(x.max_us, 50000);
    ck_assert_uint_eq(x.cold_max_us, 50000);
    timeline_sample s;
    memset(&s, 0, sizeof(s));
    timeline_sample_fill(&s, &x);
    ck_assert_uint_eq(s.logins, 2);
    ck_assert_uint_eq(s.refused, 1);
    ck_assert_uint_eq(s.queries, 3);
    ck_assert_uint_eq(s.cold_queries, 2);
    ck_assert_uint_eq(s.rows_read, 10);
    ck_assert_uint_eq(s.cpu_us, 7);
    ck_assert_double_eq_tol(s.max_ms, 50.0, 1e-9);
    ck_assert_double_eq_tol(s.cold_max_ms, 50.0, 1e-9);
    ck_assert(s.p50_ms >= 2.0 && s.p50_ms <= 2.5);
    ck_assert(s.p99_ms >= 50.0 * 0.8 && s.p99_ms <= 50.0);
    /* no query: no percentile */
    timeline_acc none;
    memset(&none, 0, sizeof(none));
    timeline_sample_fill(&s, &none);
    ck_assert(s.p50_ms < 0 && s.p99_ms < 0 && s.max_ms < 0 && s.cold_max_ms < 0);
}
END_TEST

START_TEST(test_ring)
{
    timeline *tl = timeline_new(5, 4, 8);
    ck_assert_ptr_nonnull(tl);
    ck_assert_int_eq(timeline_nsamples(tl), 0);
    for (int i = 1; i <= 12; i++) {
        timeline_sample s = {.t = 1000 + i, .seconds = 1, .queries = (uint64_t)i};
        timeline_push(tl, &s);
    }
    ck_assert_int_eq(timeline_nsamples(tl), 5);
    for (int i = 0; i < 5; i++)
        ck_assert_uint_eq(timeline_sample_at(tl, i)->queries, 8 + (uint64_t)i); /* oldest first */
    timeline_free(tl);
}
END_TEST

/* The states in the JSON answer's "states", as "db:state@t" joined by spaces. */
static void states_str(const timeline *tl, double since, double now, char *out, size_t n)
{
    json_t *o = timeline_json(tl, since, now, NULL, NULL, 0);
    ck_assert_ptr_nonnull(o);
    out[0] = '\0';
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(o, "states"), i, e)
    {
        char one[96];
        snprintf(one, sizeof(one), "%s%s:%s@%g", i ? " " : "",
                 json_string_value(json_object_get(e, "database")),
                 json_string_value(json_object_get(e, "state")),
                 json_real_value(json_object_get(e, "t")));
        strncat(out, one, n - strlen(out) - 1);
    }
    json_decref(o);
}

START_TEST(test_states)
{
    timeline *tl = timeline_new(10, 2, 16);
    char got[512];
    timeline_db_obs a = {.name = "a", .engine = "sqlite", .state = TIMELINE_UP};
    timeline_observe(tl, &a, 100);
    /* paused at 100.5 */
    a.state = TIMELINE_PAUSED;
    a.paused_at = 100.5;
    timeline_observe(tl, &a, 101);
    /* nothing new */
    timeline_observe(tl, &a, 102);
    /* resumed 102.2 .. 102.25 and paused again at 102.8, all within one tick */
    a.resume_began = 102.2;
    a.resume_ended = 102.25;
    a.paused_at = 102.8;
    timeline_observe(tl, &a, 103);
    /* a resume under way at the tick */
    a.state = TIMELINE_RESUMING;
    timeline_observe(tl, &a, 104);
    /* it ended at 104.01 */
    a.state = TIMELINE_UP;
    a.resume_began = 103.99;
    a.resume_ended = 104.01;
    timeline_observe(tl, &a, 105);
    states_str(tl, 0, 105, got, sizeof(got));
    ck_assert_str_eq(got, "a:up@100 a:paused@100.5 a:resuming@102.2 a:up@102.25 a:paused@102.8 "
                          "a:resuming@104 a:up@104.01");
    /* from a reader's since: the state then, then what changed after */
    states_str(tl, 102.5, 105, got, sizeof(got));
    ck_assert_str_eq(got, "a:up@102.5 a:paused@102.8 a:resuming@104 a:up@104.01");
    states_str(tl, 104.5, 105, got, sizeof(got));
    ck_assert_str_eq(got, "a:up@104.5");
    /* a second database; a third is not followed (max 2) */
    timeline_db_obs b = {.name = "b", .engine = "managed", .state = TIMELINE_PAUSED};
    timeline_observe(tl, &b, 105);
    timeline_db_obs c = {.name = "c", .engine = "sqlite", .state = TIMELINE_UP};
    timeline_observe(tl, &c, 105);
    json_t *o = timeline_json(tl, 0, 106, NULL, NULL, 0);
    json_t *dbs = json_object_get(o, "databases");
    ck_assert_int_eq((int)json_array_size(dbs), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(dbs, 1), "engine")), "managed");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(dbs, 1), "state")), "paused");
    json_decref(o);
    timeline_free(tl);
}
END_TEST

/* Old changes fall out of the ring; the state at the window's start is
 * still known from what the first kept change changed from. */
START_TEST(test_events_ring)
{
    timeline *tl = timeline_new(10, 2, 4);
    timeline_db_obs a = {.name = "a", .engine = "sqlite", .state = TIMELINE_UP};
    timeline_observe(tl, &a, 100);
    for (int i = 1; i <= 6; i++) {
        a.state = i % 2 ? TIMELINE_PAUSED : TIMELINE_UP;
        timeline_observe(tl, &a, 100 + i);
    }
    ck_assert_int_eq(timeline_nevents(tl), 4);
    char got[512];
    states_str(tl, 102.5, 107, got, sizeof(got));
    ck_assert_str_eq(got, "a:up@102.5 a:paused@103 a:up@104 a:paused@105 a:up@106");
    /* the first kept change says what came before it, since the database was first seen */
    states_str(tl, 0, 107, got, sizeof(got));
    ck_assert_str_eq(got, "a:up@100 a:paused@103 a:up@104 a:paused@105 a:up@106");
    timeline_free(tl);
}
END_TEST

/* After a long sleep the ring still holds old samples: the answer has
 * only the window's (window_samples seconds back from now), and a
 * database first seen after the window's start starts there. */
START_TEST(test_window)
{
    timeline *tl = timeline_new(10, 2, 8);
    for (int i = 0; i < 5; i++) {
        timeline_sample s = {.t = 1000 + i, .seconds = 1, .p50_ms = -1, .p99_ms = -1,
                             .max_ms = -1, .cold_max_ms = -1};
        timeline_push(tl, &s);
    }
    timeline_sample s = {.t = 2000, .seconds = 1, .p50_ms = -1, .p99_ms = -1, .max_ms = -1,
                         .cold_max_ms = -1};
    timeline_push(tl, &s);
    timeline_db_obs a = {.name = "a", .engine = "sqlite", .state = TIMELINE_UP};
    timeline_observe(tl, &a, 1001);
    timeline_db_obs b = {.name = "b", .engine = "sqlite", .state = TIMELINE_UP};
    timeline_observe(tl, &b, 1999.5);
    json_t *o = timeline_json(tl, 0, 2000.5, NULL, NULL, 0);
    json_t *samples = json_object_get(o, "samples");
    ck_assert_int_eq((int)json_array_size(samples), 1);
    ck_assert_double_eq_tol(json_real_value(json_object_get(json_array_get(samples, 0), "t")), 2000,
                            1e-9);
    json_decref(o);
    char got[256];
    states_str(tl, 0, 2000.5, got, sizeof(got));
    ck_assert_str_eq(got, "a:up@1990.5 b:up@1999.5");
    timeline_free(tl);
}
END_TEST

START_TEST(test_json_and_cost)
{
    timeline *tl = timeline_new(10, 2, 4);
    const billing_plan *neon = builtin("neon"), *d1 = builtin("d1");
    timeline_sample s = {.t = 2000, .seconds = 1, .queries = 4, .logins = 2, .refused = 1,
                         .p50_ms = 0.5, .p99_ms = 2, .max_ms = 2, .cold_max_ms = -1,
                         .active_seconds = 1, .rows_read = 3000000, .rows_written = 1000000,
                         .dormouse_mb = 12.5};
    timeline_push(tl, &s);
    s.t = 2001;
    s.queries = 0;
    s.p50_ms = s.p99_ms = s.max_ms = -1;
    timeline_push(tl, &s);
    /* neon bills compute only: a second of 0.25 CU at $0.16 per CU-hour */
    ck_assert_double_eq_tol(timeline_sample_cost(neon, timeline_sample_at(tl, 0)),
                            0.25 * 0.16 / 3600, 1e-15);
    /* d1 at list price, no allowance: rows read and written per million */
    ck_assert_double_eq_tol(timeline_sample_cost(d1, timeline_sample_at(tl, 0)),
                            3 * d1->price_per_million_rows_read +
                                1 * d1->price_per_million_rows_written,
                            1e-12);
    const char *plans[] = {"neon", "d1"};
    json_t *o = timeline_json(tl, 2000, 2002, neon, plans, 2);
    ck_assert_ptr_nonnull(o);
    json_t *samples = json_object_get(o, "samples");
    ck_assert_int_eq((int)json_array_size(samples), 1); /* only after since */
    json_t *x = json_array_get(samples, 0);
    ck_assert(json_is_null(json_object_get(x, "p99_ms")));
    ck_assert_double_eq_tol(json_real_value(json_object_get(x, "t")), 2001, 1e-9);
    ck_assert_int_eq((int)json_integer_value(json_object_get(x, "logins")), 2);
    ck_assert_double_eq_tol(json_real_value(json_object_get(x, "dormouse_mb")), 12.5, 1e-9);
    ck_assert_double_eq_tol(json_real_value(json_object_get(x, "cost_usd")), 0.25 * 0.16 / 3600,
                            1e-15);
    json_t *plan = json_object_get(o, "plan");
    ck_assert_str_eq(json_string_value(json_object_get(plan, "name")), "neon");
    ck_assert_double_eq_tol(json_real_value(json_object_get(plan, "compute_usd_per_hour")), 0.04,
                            1e-12);
    ck_assert_int_eq((int)json_array_size(json_object_get(o, "plans")), 2);
    ck_assert_int_eq((int)json_integer_value(json_object_get(o, "window_seconds")), 10);
    json_decref(o);
    timeline_free(tl);
}
END_TEST

START_TEST(test_memory)
{
    double self = 0, servers = -1;
    uint32_t procs = 99;
    pid_t me = getpid();
    timeline_read_memory(NULL, 0, &self, &servers, &procs);
    ck_assert(self > 0.1);
    ck_assert(servers == 0 && procs == 0);
    /* this process as a "server": itself, with no children */
    timeline_read_memory(&me, 1, &self, &servers, &procs);
    ck_assert_uint_eq(procs, 1);
    ck_assert(servers > 0.1);
    /* a pid that is gone counts nothing */
    pid_t gone = 0x3ffffff;
    timeline_read_memory(&gone, 1, &self, &servers, &procs);
    ck_assert_uint_eq(procs, 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("timeline");
    TCase *tc = tcase_create("timeline");
    tcase_add_test(tc, test_buckets_monotonic);
    tcase_add_test(tc, test_quantiles);
    tcase_add_test(tc, test_merge_and_fill);
    tcase_add_test(tc, test_ring);
    tcase_add_test(tc, test_states);
    tcase_add_test(tc, test_events_ring);
    tcase_add_test(tc, test_window);
    tcase_add_test(tc, test_json_and_cost);
    tcase_add_test(tc, test_memory);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
