/*
 * Tests for storage/sqlite_json.c: jsonb's output for JSON text, compared
 * with what PostgreSQL 15 prints for the same '...'::jsonb.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_json.h"

static void expect(const char *in, const char *want)
{
    char *buf = NULL;
    size_t cap = 0;
    int32_t n = sqlite_jsonb_normalize(in, strlen(in), &buf, &cap);
    if (!want) {
        ck_assert_msg(n == -1, "[%s] accepted: %d", in, n);
    } else {
        ck_assert_msg(n >= 0, "[%s] refused", in);
        ck_assert_msg((size_t)n == strlen(want) && memcmp(buf, want, (size_t)n) == 0,
                      "[%s]: [%.*s], want [%s]", in, (int)n, buf, want);
    }
    free(buf);
}

START_TEST(test_normalize)
{
    expect("{}", "{}");
    expect(" [ ] ", "[]");
    expect("1", "1");
    expect("-0", "0");
    expect("1.50", "1.50");
    expect("1E+2", "100");
    expect("\"x\"", "\"x\"");
    expect("null", "null");
    /* keys: shorter first, then bytewise; the last of equal keys wins */
    expect("{\"b\":1,\"a\":2,\"aa\":3,\"a\":4}", "{\"a\": 4, \"b\": 1, \"aa\": 3}");
    expect("{\"a\": [1, {\"c\": true, \"b\": false}], \"\": null}",
           "{\"\": null, \"a\": [1, {\"b\": false, \"c\": true}]}");
    /* escapes: decoded, then only what escape_json writes */
    expect("\"\\u00e9\\/\\t\\u0001\\ud83d\\udc2d\"", "\"é/\\t\\u0001🐭\"");
    expect("\"quote \\\" and \\\\\"", "\"quote \\\" and \\\\\"");
    /* what jsonb refuses */
    expect("", NULL);
    expect("{", NULL);
    expect("[1,]", NULL);
    expect("{\"a\" 1}", NULL);
    expect("01", NULL);
    expect("1.", NULL);
    expect("+1", NULL);
    expect("'x'", NULL);
    expect("\"\\u0000\"", NULL);
    expect("\"\\ud83d\"", NULL);
    expect("\"a\nb\"", NULL);
    expect("tru", NULL);
    expect("[1] 2", NULL);
}
END_TEST

START_TEST(test_depth)
{
    char deep[2100];
    memset(deep, '[', 1000);
    memset(deep + 1000, ']', 1000);
    deep[2000] = '\0';
    expect(deep, NULL); /* deeper than the limit: refused, not recursed into */
    memset(deep, '[', 100);
    memset(deep + 100, ']', 100);
    deep[200] = '\0';
    char *buf = NULL;
    size_t cap = 0;
    ck_assert_int_eq(sqlite_jsonb_normalize(deep, 200, &buf, &cap), 200);
    free(buf);
}
END_TEST

static Suite *sqlite_json_suite(void)
{
    Suite *s = suite_create("storage/sqlite_json");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_normalize);
    tcase_add_test(tc, test_depth);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sqlite_json_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
