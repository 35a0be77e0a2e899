/* Unit tests for proxy/billing.c: plans from configuration lines, the
 * built-in plans, every line of a bill against hand-computed amounts, and
 * the JSON rendering. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "billing.h"

#define EPS 1e-9
#define GB 1e9
#define MONTH (30.0 * 24 * 3600)

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

/* The line for item, which must be on the bill. */
static const billing_line *line(const billing_bill *b, const char *item)
{
    for (int i = 0; i < b->nlines; i++)
        if (strcmp(b->lines[i].item, item) == 0)
            return &b->lines[i];
    ck_abort_msg("no line %s", item);
    return NULL;
}

static void check_line(const billing_line *l, const char *unit, const char *price_unit,
                       double quantity, double billable, double amount)
{
    ck_assert_str_eq(l->unit, unit);
    ck_assert_str_eq(l->price_unit, price_unit);
    ck_assert_double_eq_tol(l->quantity, quantity, EPS);
    ck_assert_double_eq_tol(l->billable, billable, EPS);
    ck_assert_double_eq_tol(l->amount, amount, EPS);
}

START_TEST(test_plan_init)
{
    billing_plan p;
    memset(&p, 0xff, sizeof(p));
    billing_plan_init(&p,
                      "a-name-that-is-much-longer-than-sixty-three-bytes-and-so-gets-truncated");
    ck_assert_uint_eq(strlen(p.name), 63);
    ck_assert_str_eq(p.description, "");
    ck_assert_double_eq(p.min_billing_seconds, 1);
    ck_assert_double_eq(p.compute_units, 1);
    ck_assert_double_eq(p.price_per_compute_hour, 0);
    ck_assert_double_eq(p.included_rows_read, 0);
    ck_assert_double_eq(p.ru_per_mib_transfer, 0);
}
END_TEST

START_TEST(test_plan_set_every_key)
{
    billing_plan p;
    billing_plan_init(&p, "x");
    const struct {
        const char *key;
        const double *field;
    } keys[] = {
        {"price_per_million_rows_read", &p.price_per_million_rows_read},
        {"price_per_million_rows_written", &p.price_per_million_rows_written},
        {"included_rows_read", &p.included_rows_read},
        {"included_rows_written", &p.included_rows_written},
        {"price_per_compute_hour", &p.price_per_compute_hour},
        {"compute_units", &p.compute_units},
        {"min_billing_seconds", &p.min_billing_seconds},
        {"included_compute_hours", &p.included_compute_hours},
        {"price_per_gb_month", &p.price_per_gb_month},
        {"included_gb_month", &p.included_gb_month},
        {"price_per_gb_transfer", &p.price_per_gb_transfer},
        {"included_gb_transfer", &p.included_gb_transfer},
        {"price_per_million_queries", &p.price_per_million_queries},
        {"included_queries", &p.included_queries},
        {"price_per_million_request_units", &p.price_per_million_request_units},
        {"included_request_units", &p.included_request_units},
        {"ru_per_query", &p.ru_per_query},
        {"ru_per_row_read", &p.ru_per_row_read},
        {"ru_per_row_written", &p.ru_per_row_written},
        {"ru_per_cpu_second", &p.ru_per_cpu_second},
        {"ru_per_mib_transfer", &p.ru_per_mib_transfer},
    };
    char err[256] = "";
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        ck_assert_msg(billing_plan_set(&p, keys[i].key, "12.5", err, sizeof(err)), "%s: %s",
                      keys[i].key, err);
        ck_assert_double_eq(*keys[i].field, 12.5);
    }
    ck_assert(billing_plan_set(&p, "included_rows_read", "25e9", err, sizeof(err)));
    ck_assert_double_eq(p.included_rows_read, 25e9);
    ck_assert(billing_plan_set(&p, "price_per_gb_month", "0", err, sizeof(err)));
    ck_assert_double_eq(p.price_per_gb_month, 0);
    ck_assert(billing_plan_set(&p, "min_billing_seconds", "1", err, sizeof(err)));
    ck_assert(billing_plan_set(&p, "compute_units", "0.25", err, sizeof(err)));
    ck_assert_double_eq(p.compute_units, 0.25);
    ck_assert(billing_plan_set(&p, "description", "Test plan, $1 a month", err, sizeof(err)));
    ck_assert_str_eq(p.description, "Test plan, $1 a month");
}
END_TEST

/* billing_plan_set(p, key, value) fails with exactly message, leaving p as it was. */
static void check_rejected(const char *key, const char *value, const char *message)
{
    billing_plan p, before;
    billing_plan_init(&p, "x");
    before = p;
    char err[256] = "";
    ck_assert_msg(!billing_plan_set(&p, key, value, err, sizeof(err)), "%s = \"%s\" accepted", key,
                  value);
    ck_assert_str_eq(err, message);
    ck_assert_mem_eq(&p, &before, sizeof(p));
}

START_TEST(test_plan_set_rejects)
{
    check_rejected("foo", "1", "plan \"x\": unknown key \"foo\"");
    check_rejected("name", "y", "plan \"x\": unknown key \"name\"");
    check_rejected("price_per_gb_month", "abc",
                   "plan \"x\": price_per_gb_month must be a number >= 0, not \"abc\"");
    check_rejected("price_per_gb_month", "-1",
                   "plan \"x\": price_per_gb_month must be a number >= 0, not \"-1\"");
    check_rejected("included_queries", "nan",
                   "plan \"x\": included_queries must be a number >= 0, not \"nan\"");
    check_rejected("included_queries", "inf",
                   "plan \"x\": included_queries must be a number >= 0, not \"inf\"");
    check_rejected("included_queries", "1e999",
                   "plan \"x\": included_queries must be a number >= 0, not \"1e999\"");
    check_rejected("ru_per_query", "1e",
                   "plan \"x\": ru_per_query must be a number >= 0, not \"1e\"");
    check_rejected("ru_per_query", "", "plan \"x\": ru_per_query must be a number >= 0, not \"\"");
    check_rejected("ru_per_query", "0x10",
                   "plan \"x\": ru_per_query must be a number >= 0, not \"0x10\"");
    check_rejected("ru_per_query", " 1",
                   "plan \"x\": ru_per_query must be a number >= 0, not \" 1\"");
    check_rejected("ru_per_query", "1 ",
                   "plan \"x\": ru_per_query must be a number >= 0, not \"1 \"");
    check_rejected("min_billing_seconds", "0",
                   "plan \"x\": min_billing_seconds must be a number >= 1, not \"0\"");
    check_rejected("min_billing_seconds", "0.5",
                   "plan \"x\": min_billing_seconds must be a number >= 1, not \"0.5\"");
    check_rejected("compute_units", "0",
                   "plan \"x\": compute_units must be a number > 0, not \"0\"");

    char longer[200];
    memset(longer, 'd', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    check_rejected("description", longer, "plan \"x\": description is longer than 159 bytes");

    /* A short buffer gets a truncated message; none at all is allowed. */
    billing_plan p;
    billing_plan_init(&p, "x");
    char err[8];
    ck_assert(!billing_plan_set(&p, "foo", "1", err, sizeof(err)));
    ck_assert_str_eq(err, "plan \"x");
    ck_assert(!billing_plan_set(&p, "foo", "1", NULL, 0));
}
END_TEST

START_TEST(test_builtin_plans)
{
    size_t n;
    const billing_plan *plans = billing_builtin_plans(&n);
    ck_assert_uint_eq(n, 4);
    ck_assert_str_eq(plans[0].name, "neon");
    ck_assert_str_eq(plans[1].name, "aurora-serverless-v2");
    ck_assert_str_eq(plans[2].name, "d1");
    ck_assert_str_eq(plans[3].name, "cockroachdb");
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(strncmp(plans[i].description, "Modelled on ", 12) == 0, "%s", plans[i].name);
        ck_assert_double_ge(plans[i].min_billing_seconds, 1);
        ck_assert_double_gt(plans[i].compute_units, 0);
    }
}
END_TEST

START_TEST(test_neon)
{
    const double intervals[] = {0.4, 3600, 10.2}; /* billed as 1, 3600 and 11 s */
    billing_usage u = {
        .active_intervals_s = intervals,
        .n_active_intervals = 3,
        .bytes_out = 150000000000u,                 /* 150 GB: 50 over the 100 included */
        .storage_byte_seconds = 2 * GB * MONTH / 2, /* 2 GB for half a month */
        .queries = 1000,
        .rows_read = 5000,
    };
    billing_bill b;
    billing_compute(builtin("neon"), &u, &b);
    ck_assert_str_eq(b.plan, "neon");
    ck_assert_int_eq(b.nlines, 3);
    ck_assert_str_eq(b.lines[0].item, "compute");
    ck_assert_str_eq(b.lines[1].item, "storage");
    ck_assert_str_eq(b.lines[2].item, "transfer");
    double cu_hours = 3612 * 0.25 / 3600;
    check_line(line(&b, "compute"), "CU-hours", "per CU-hour", cu_hours, cu_hours, cu_hours * 0.16);
    check_line(line(&b, "storage"), "GB-months", "per GB-month", 1, 1, 0.35);
    check_line(line(&b, "transfer"), "GB", "per GB", 150, 50, 4.5);
    ck_assert_double_eq_tol(line(&b, "transfer")->included, 100, EPS);
    ck_assert_double_eq_tol(line(&b, "transfer")->unit_price, 0.09, EPS);
    ck_assert_double_eq_tol(b.total, cu_hours * 0.16 + 0.35 + 4.5, EPS);
}
END_TEST

START_TEST(test_aurora)
{
    const double intervals[] = {7200}; /* 2 h at 0.5 ACU: 1 ACU-hour */
    billing_usage u = {
        .active_intervals_s = intervals,
        .n_active_intervals = 1,
        .queries = 3000000,
    };
    billing_bill b;
    billing_compute(builtin("aurora-serverless-v2"), &u, &b);
    ck_assert_int_eq(b.nlines, 3);
    check_line(line(&b, "compute"), "CU-hours", "per CU-hour", 1, 1, 0.12);
    /* Priced but unused: a zero line. */
    check_line(line(&b, "storage"), "GB-months", "per GB-month", 0, 0, 0);
    check_line(line(&b, "queries"), "queries", "per million queries", 3e6, 3e6, 0.6);
    ck_assert_double_eq_tol(line(&b, "queries")->unit_price, 0.20, EPS);
    ck_assert_double_eq_tol(b.total, 0.72, EPS);
}
END_TEST

START_TEST(test_d1)
{
    billing_usage u = {
        .rows_read = 30000000000u,               /* 5e9 over: 5000 million at $0.001 */
        .rows_written = 60000000,                /* 10 million over at $1 */
        .storage_byte_seconds = 10 * GB * MONTH, /* 5 GB-months over at $0.75 */
        .queries = 123,
    };
    billing_bill b;
    billing_compute(builtin("d1"), &u, &b);
    ck_assert_int_eq(b.nlines, 3);
    ck_assert_str_eq(b.lines[0].item, "rows read");
    ck_assert_str_eq(b.lines[1].item, "rows written");
    ck_assert_str_eq(b.lines[2].item, "storage");
    check_line(line(&b, "rows read"), "rows", "per million rows", 30e9, 5e9, 5.00);
    check_line(line(&b, "rows written"), "rows", "per million rows", 60e6, 10e6, 10.00);
    check_line(line(&b, "storage"), "GB-months", "per GB-month", 10, 5, 3.75);
    ck_assert_double_eq_tol(b.total, 18.75, EPS);
}
END_TEST

START_TEST(test_cockroachdb_request_units)
{
    billing_usage u = {
        .queries = 40000000,       /* 40,000,000 RU */
        .rows_read = 160000000,    /* 10,000,000 RU at 1/16 */
        .rows_written = 10000000,  /* 10,000,000 RU */
        .cpu_us = 30000000,        /* 30 s at 333: 9,990 RU */
        .bytes_out = 10 * 1048576, /* 10 MiB: 10 RU */
        .storage_byte_seconds = 20 * GB * MONTH,
        .rows_returned = 999, /* not billed */
        .bytes_in = 999,
    };
    billing_bill b;
    billing_compute(builtin("cockroachdb"), &u, &b);
    ck_assert_int_eq(b.nlines, 2);
    ck_assert_str_eq(b.lines[0].item, "storage");
    ck_assert_str_eq(b.lines[1].item, "request units");
    /* 60,010,000 RU, 10,010,000 over the 50 million included, at $0.10 per million */
    check_line(line(&b, "request units"), "RU", "per million RU", 60010000, 10010000, 1.001);
    check_line(line(&b, "storage"), "GB-months", "per GB-month", 20, 10, 5.0);
    ck_assert_double_eq_tol(b.total, 6.001, EPS);
}
END_TEST

START_TEST(test_min_billing_seconds)
{
    billing_plan p;
    billing_plan_init(&p, "per-minute");
    p.price_per_compute_hour = 1;
    p.compute_units = 2;
    p.min_billing_seconds = 60;
    /* 0, 0, 60, 60, 120, 120 s: 360 s = 0.1 h at 2 CU */
    const double intervals[] = {-5, 0, 1, 60, 61, 119.5};
    billing_usage u = {.active_intervals_s = intervals, .n_active_intervals = 6};
    billing_bill b;
    billing_compute(&p, &u, &b);
    ck_assert_int_eq(b.nlines, 1);
    check_line(&b.lines[0], "CU-hours", "per CU-hour", 0.2, 0.2, 0.2);

    /* A whole number of steps is not rounded up by floating-point noise
     * (8.4 / 1.2 is 7.000000000000001 in doubles). */
    p.min_billing_seconds = 1.2;
    p.compute_units = 1;
    const double exact[] = {8.4};
    u.active_intervals_s = exact;
    u.n_active_intervals = 1;
    billing_compute(&p, &u, &b);
    ck_assert_double_eq_tol(b.lines[0].quantity, 8.4 / 3600, EPS);

    u.n_active_intervals = 0; /* never active: a zero line */
    billing_compute(&p, &u, &b);
    ck_assert_int_eq(b.nlines, 1);
    ck_assert_double_eq(b.lines[0].quantity, 0);
    ck_assert_double_eq(b.total, 0);
}
END_TEST

START_TEST(test_included_exceeds_usage)
{
    billing_plan p;
    billing_plan_init(&p, "generous");
    p.price_per_compute_hour = 1;
    p.included_compute_hours = 10;
    p.price_per_gb_transfer = 1;
    p.included_gb_transfer = 10;
    p.price_per_million_queries = 1;
    p.included_queries = 1e9;
    const double intervals[] = {3600};
    billing_usage u = {
        .active_intervals_s = intervals,
        .n_active_intervals = 1,
        .bytes_out = 5000000000u,
        .queries = 1000,
    };
    billing_bill b;
    billing_compute(&p, &u, &b);
    ck_assert_int_eq(b.nlines, 3);
    check_line(line(&b, "compute"), "CU-hours", "per CU-hour", 1, 0, 0);
    check_line(line(&b, "transfer"), "GB", "per GB", 5, 0, 0);
    check_line(line(&b, "queries"), "queries", "per million queries", 1000, 0, 0);
    ck_assert_double_eq(b.total, 0);

    billing_usage small = {
        .rows_read = 1000000, .rows_written = 1000, .storage_byte_seconds = GB * MONTH};
    billing_compute(builtin("d1"), &small, &b);
    ck_assert_int_eq(b.nlines, 3);
    for (int i = 0; i < b.nlines; i++) {
        ck_assert_double_eq(b.lines[i].billable, 0);
        ck_assert_double_eq(b.lines[i].amount, 0);
    }
    ck_assert_double_eq(b.total, 0);
}
END_TEST

START_TEST(test_storage_gb_month)
{
    billing_plan p;
    billing_plan_init(&p, "storage");
    p.price_per_gb_month = 1;
    billing_usage u = {.storage_byte_seconds = 1.5 * GB * 10 * 86400}; /* 1.5 GB for 10 days */
    billing_bill b;
    billing_compute(&p, &u, &b);
    ck_assert_int_eq(b.nlines, 1);
    check_line(&b.lines[0], "GB-months", "per GB-month", 0.5, 0.5, 0.5);
}
END_TEST

START_TEST(test_nothing_priced)
{
    billing_plan p;
    billing_plan_init(&p, "free");
    billing_usage u = {.queries = 1000000, .rows_read = 1000000, .bytes_out = 1000000};
    billing_bill b;
    billing_compute(&p, &u, &b);
    ck_assert_str_eq(b.plan, "free");
    ck_assert_int_eq(b.nlines, 0);
    ck_assert_double_eq(b.total, 0);
}
END_TEST

START_TEST(test_json)
{
    const double intervals[] = {0.4, 3600, 10.2};
    billing_usage u = {
        .active_intervals_s = intervals,
        .n_active_intervals = 3,
        .bytes_out = 150000000000u,
        .storage_byte_seconds = GB * MONTH,
    };
    billing_bill b;
    billing_compute(builtin("neon"), &u, &b);
    json_t *o = billing_bill_to_json(&b);
    ck_assert_ptr_nonnull(o);
    ck_assert_uint_eq(json_object_size(o), 4);
    ck_assert_str_eq(json_string_value(json_object_get(o, "plan")), "neon");
    ck_assert_str_eq(json_string_value(json_object_get(o, "currency")), "USD");
    /* 0.0401333... + 0.35 + 4.5, to the micro-dollar */
    ck_assert_double_eq(json_real_value(json_object_get(o, "total")), 4.890133);
    json_t *lines = json_object_get(o, "lines");
    ck_assert_uint_eq(json_array_size(lines), 3);
    json_t *compute = json_array_get(lines, 0);
    ck_assert_uint_eq(json_object_size(compute), 8);
    ck_assert_str_eq(json_string_value(json_object_get(compute, "item")), "compute");
    ck_assert_str_eq(json_string_value(json_object_get(compute, "unit")), "CU-hours");
    ck_assert_str_eq(json_string_value(json_object_get(compute, "price_unit")), "per CU-hour");
    ck_assert_double_eq_tol(json_real_value(json_object_get(compute, "quantity")),
                            3612 * 0.25 / 3600, EPS); /* not rounded */
    ck_assert_double_eq(json_real_value(json_object_get(compute, "included")), 0);
    ck_assert_double_eq_tol(json_real_value(json_object_get(compute, "billable")),
                            3612 * 0.25 / 3600, EPS);
    ck_assert_double_eq(json_real_value(json_object_get(compute, "unit_price")), 0.16);
    ck_assert_double_eq(json_real_value(json_object_get(compute, "amount")), 0.040133);
    json_t *transfer = json_array_get(lines, 2);
    ck_assert_str_eq(json_string_value(json_object_get(transfer, "item")), "transfer");
    ck_assert_double_eq(json_real_value(json_object_get(transfer, "amount")), 4.5);
    json_decref(o);

    billing_plan p;
    billing_plan_init(&p, "free");
    billing_compute(&p, &u, &b);
    o = billing_bill_to_json(&b);
    ck_assert_uint_eq(json_array_size(json_object_get(o, "lines")), 0);
    ck_assert_double_eq(json_real_value(json_object_get(o, "total")), 0);
    json_decref(o);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("billing");
    TCase *tc = tcase_create("plans");
    tcase_add_test(tc, test_plan_init);
    tcase_add_test(tc, test_plan_set_every_key);
    tcase_add_test(tc, test_plan_set_rejects);
    tcase_add_test(tc, test_builtin_plans);
    suite_add_tcase(s, tc);
    tc = tcase_create("bills");
    tcase_add_test(tc, test_neon);
    tcase_add_test(tc, test_aurora);
    tcase_add_test(tc, test_d1);
    tcase_add_test(tc, test_cockroachdb_request_units);
    tcase_add_test(tc, test_min_billing_seconds);
    tcase_add_test(tc, test_included_exceeds_usage);
    tcase_add_test(tc, test_storage_gb_month);
    tcase_add_test(tc, test_nothing_priced);
    tcase_add_test(tc, test_json);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
