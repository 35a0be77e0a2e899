/* Unit tests for proxy/session.c: the state names. (The state machine itself is
 * driven end to end by tests/e2e, with real clients.) */
#include <check.h>
#include <stdlib.h>

#include "internal.h"

START_TEST(test_state_str_every_value)
{
    static const char *const names[SESSION_NSTATES] = {
        "startup", "auth", "opening", "idle", "in transaction", "failed transaction", "waiting", "busy",
        "copy in", "copy out", "closing",
    };
    for (int i = 0; i < SESSION_NSTATES; i++)
        ck_assert_str_eq(session_state_str((session_state)i), names[i]);
    ck_assert_str_eq(session_state_str(SESSION_NSTATES), "unknown");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("session");
    TCase *tc = tcase_create("states");
    tcase_add_test(tc, test_state_str_every_value);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
