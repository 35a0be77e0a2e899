/*
 * Tests for storage/sqlite_numeric.c: numeric_in's syntax, PostgreSQL's
 * order of numeric values, numeric_out at a scale, and the dm_numeric
 * collation doing the ordering inside SQLite (ORDER BY, comparisons with
 * numbers, a UNIQUE index that treats 1.0 and 1 as the same value).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "sqlite_numeric.h"

static char *fmt(const char *in, int scale)
{
    static char out[256];
    char digits[128];
    sqlite_decimal d;
    if (!sqlite_decimal_parse(in, strlen(in), digits, &d))
        return NULL;
    size_t need = sqlite_decimal_format(&d, scale, NULL, 0);
    ck_assert_uint_lt(need, sizeof(out));
    size_t n = sqlite_decimal_format(&d, scale, out, sizeof(out));
    ck_assert_uint_eq(n, strlen(out));
    return out;
}

START_TEST(test_parse_format)
{
    static const struct {
        const char *in;
        int scale;
        const char *want; /* NULL: refused */
    } cases[] = {
        {"0", -1, "0"},
        {"-0", -1, "0"},
        {"-0.00", -1, "0.00"},
        {"007", -1, "7"},
        {"1.50", -1, "1.50"},
        {" +12.5 ", -1, "12.5"},
        {".5", -1, "0.5"},
        {"5.", -1, "5"},
        {"1e3", -1, "1000"},
        {"1.5E-3", -1, "0.0015"},
        {"12345678901234567890.123456789", -1, "12345678901234567890.123456789"},
        {"1.005", 2, "1.01"},
        {"-1.005", 2, "-1.01"},
        {"1.004", 2, "1.00"},
        {"9.999", 2, "10.00"},
        {"999.5", 0, "1000"},
        {"-0.004", 2, "0.00"},
        {"0.0005", 3, "0.001"},
        {"123", 3, "123.000"},
        {"NaN", -1, "NaN"},
        {"nan", 2, "NaN"},
        {"Infinity", -1, "Infinity"},
        {"-inf", -1, "-Infinity"},
        {"+infinity", -1, "Infinity"},
        {"-NaN", -1, NULL},
        {"", -1, NULL},
        {"-", -1, NULL},
        {".", -1, NULL},
        {"1e", -1, NULL},
        {"1.2.3", -1, NULL},
        {"0x10", -1, NULL},
        {"1 2", -1, NULL},
        {"abc", -1, NULL},
        {"1e100000000", -1, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = fmt(cases[i].in, cases[i].scale);
        if (!cases[i].want) {
            ck_assert_msg(got == NULL, "[%s] parsed as %s", cases[i].in, got);
        } else {
            ck_assert_msg(got && strcmp(got, cases[i].want) == 0, "[%s] scale %d: %s, want %s",
                          cases[i].in, cases[i].scale, got ? got : "(refused)", cases[i].want);
        }
    }
    /* a large exponent prints every digit; a first call sizes the buffer */
    char digits[16];
    sqlite_decimal d;
    ck_assert(sqlite_decimal_parse("-1.0e+300", 9, digits, &d));
    size_t need = sqlite_decimal_format(&d, -1, NULL, 0);
    char *big = malloc(need);
    ck_assert_ptr_nonnull(big);
    ck_assert_uint_eq(sqlite_decimal_format(&d, -1, big, need), 302);
    ck_assert_int_eq(big[0], '-');
    ck_assert_int_eq(big[1], '1');
    ck_assert_uint_eq(strspn(big + 2, "0"), 300);
    free(big);
    /* dscale as numeric_in gives it */
    ck_assert(sqlite_decimal_parse("1.250e1", 7, digits, &d));
    ck_assert_int_eq(d.dscale, 2);
    ck_assert_int_eq(d.weight, 2);
    ck_assert_int_eq(d.ndigits, 3);
}
END_TEST

static int cmp(const char *a, const char *b)
{
    char da[64], db[64];
    sqlite_decimal x, y;
    ck_assert_msg(sqlite_decimal_parse(a, strlen(a), da, &x), "%s", a);
    ck_assert_msg(sqlite_decimal_parse(b, strlen(b), db, &y), "%s", b);
    return sqlite_decimal_cmp(&x, &y);
}

START_TEST(test_cmp)
{
    /* ascending, PostgreSQL's order */
    static const char *const order[] = {
        "-Infinity", "-1e20",    "-10",       "-9.99", "-0.001", "0",    "0.0001",
        "0.001",     "1",        "1.0000001", "9",     "10",     "99.5", "12345678901234567890.1",
        "1e20",      "Infinity", "NaN"};
    size_t n = sizeof(order) / sizeof(order[0]);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int want = i < j ? -1 : i > j ? 1 : 0;
            ck_assert_msg(cmp(order[i], order[j]) == want, "%s vs %s", order[i], order[j]);
        }
    ck_assert_int_eq(cmp("1.0", "1"), 0);
    ck_assert_int_eq(cmp("-0", "0.000"), 0);
    ck_assert_int_eq(cmp("1e2", "100.00"), 0);
    ck_assert_int_eq(cmp("nan", "NaN"), 0);
}
END_TEST

static void exec(sqlite3 *db, const char *sql)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s", sql, err ? err : "?");
    sqlite3_free(err);
}

static void expect_rows(sqlite3 *db, const char *sql, const char *want)
{
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    char got[512] = "";
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(st, 0);
        size_t o = strlen(got);
        snprintf(got + o, sizeof(got) - o, "%s%s", o ? "," : "", v ? v : "NULL");
    }
    sqlite3_finalize(st);
    ck_assert_msg(strcmp(got, want) == 0, "%s: [%s], want [%s]", sql, got, want);
}

START_TEST(test_collation_in_sqlite)
{
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
    ck_assert_int_eq(sqlite3_create_collation_v2(db, "dm_numeric", SQLITE_UTF8, NULL,
                                                 sqlite_numeric_collate, NULL),
                     SQLITE_OK);
    /* how translate.c declares a numeric column */
    exec(db, "create table t (n numeric text(30,9) collate dm_numeric unique)");
    exec(db, "insert into t values ('10'), ('9'), ('-1.5e3'), ('12345678901234567890.123456789'), "
             "(0.5), (2), ('NaN'), ('12345678901234567890.123456788')");
    /* kept digit for digit, ordered as numbers */
    expect_rows(db, "select n from t order by n",
                "-1.5e3,0.5,2,9,10,12345678901234567890.123456788,"
                "12345678901234567890.123456789,NaN");
    /* comparisons with numbers and with text read as numbers */
    expect_rows(db, "select n from t where n > 9 and n < 1e19 order by n", "10");
    expect_rows(db, "select n from t where n = 2.0", "2");
    expect_rows(db, "select n from t where n = '0.50'", "0.5");
    expect_rows(db, "select max(n) from t where n <> 'NaN'", "12345678901234567890.123456789");
    /* the unique index: 10.0 is 10 */
    ck_assert_int_eq(sqlite3_exec(db, "insert into t values ('10.0')", NULL, NULL, NULL),
                     SQLITE_CONSTRAINT);
    sqlite3_close(db);
}
END_TEST

static Suite *sqlite_numeric_suite(void)
{
    Suite *s = suite_create("storage/sqlite_numeric");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_parse_format);
    tcase_add_test(tc, test_cmp);
    tcase_add_test(tc, test_collation_in_sqlite);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sqlite_numeric_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
