/* Unit tests for proxy/log.c: level names both ways. */
#include <check.h>
#include <stdlib.h>

#include "dormouse/proxy.h"

START_TEST(test_level_str_every_value)
{
    ck_assert_str_eq(proxy_log_level_str(PROXY_LOG_DEBUG), "debug");
    ck_assert_str_eq(proxy_log_level_str(PROXY_LOG_INFO), "info");
    ck_assert_str_eq(proxy_log_level_str(PROXY_LOG_WARNING), "warning");
    ck_assert_str_eq(proxy_log_level_str(PROXY_LOG_ERROR), "error");
    ck_assert_str_eq(proxy_log_level_str((proxy_log_level)9), "unknown");
}
END_TEST

START_TEST(test_level_parse)
{
    proxy_log_level l;
    for (int i = PROXY_LOG_DEBUG; i <= PROXY_LOG_ERROR; i++) {
        ck_assert(proxy_log_level_parse(proxy_log_level_str((proxy_log_level)i), &l));
        ck_assert_int_eq(l, i);
    }
    ck_assert(proxy_log_level_parse("WARNING", &l));
    ck_assert_int_eq(l, PROXY_LOG_WARNING);
    ck_assert(!proxy_log_level_parse("verbose", &l));
    ck_assert(!proxy_log_level_parse("", &l));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("levels");
    tcase_add_test(tc, test_level_str_every_value);
    tcase_add_test(tc, test_level_parse);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
