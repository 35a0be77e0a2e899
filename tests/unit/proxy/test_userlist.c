/* Unit tests for proxy/userlist.c: PgBouncer's userlist.txt format and the secrets it holds. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dormouse/proxy.h"

static char path[64];

static void write_file(const char *text)
{
    strcpy(path, "/tmp/dm_users_XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
}

static void teardown(void)
{
    if (path[0])
        unlink(path);
    path[0] = '\0';
}

/* A verifier in PostgreSQL's text format (16-byte salt, 32-byte keys). */
#define PG_VERIFIER                                                                                \
    "SCRAM-SHA-256$4096:3tC4NbjMqCVpDyWvBmHXmQ==$XfdMPB4nn2pJKjK4+28PjyO7V9VRGwdh8uqexONdTe4=:"      \
    "l2sZTH8YWP8nj06kgeQixAA9fQEA32WXUsjsOJm7KCE="

START_TEST(test_formats)
{
    char err[256];
    write_file("; PgBouncer style\n"
               "# also a comment\n"
               "\"alice\" \"secret\"\n"
               "\"bob\" \"md5c1b2a7e5d1b98d1a8ed4e2c5b93c0cd4\"\n"
               "\"carol\" \"" PG_VERIFIER "\"\n"
               "\"d\"\"q\" \"pa\"\"ss\"\n"
               "\n");
    proxy_userlist *u = proxy_userlist_load(path, err, sizeof(err));
    ck_assert_msg(u != NULL, "%s", err);
    ck_assert_int_eq(proxy_userlist_count(u), 4);
    ck_assert_str_eq(proxy_userlist_secret(u, "alice"), "secret");
    ck_assert_str_eq(proxy_userlist_secret(u, "d\"q"), "pa\"ss");
    ck_assert_ptr_null(proxy_userlist_secret(u, "nobody"));
    /* plain: a verifier is derived; md5: none; SCRAM: parsed */
    const wire_scram_verifier *v = proxy_userlist_verifier(u, "alice");
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(v->iterations, WIRE_SCRAM_DEFAULT_ITERATIONS);
    ck_assert_ptr_null(proxy_userlist_verifier(u, "bob"));
    v = proxy_userlist_verifier(u, "carol");
    ck_assert_ptr_nonnull(v);
    ck_assert_int_eq(v->iterations, 4096);
    ck_assert_uint_eq(v->salt_len, 16);
    proxy_userlist_free(u);
}
END_TEST

START_TEST(test_derived_verifier_accepts_the_password)
{
    char err[256];
    write_file("\"alice\" \"secret\"\n");
    proxy_userlist *u = proxy_userlist_load(path, err, sizeof(err));
    ck_assert_ptr_nonnull(u);
    const wire_scram_verifier *v = proxy_userlist_verifier(u, "alice");
    wire_scram_verifier again;
    ck_assert(wire_scram_verifier_from_password("secret", v->salt, v->salt_len, v->iterations,
                                                &again));
    ck_assert_mem_eq(again.stored_key, v->stored_key, WIRE_SCRAM_KEY_LEN);
    ck_assert_mem_eq(again.server_key, v->server_key, WIRE_SCRAM_KEY_LEN);
    proxy_userlist_free(u);
}
END_TEST

START_TEST(test_malformed)
{
    char err[256];
    write_file("\"alice\" \"secret\"\nalice secret\n");
    ck_assert_ptr_null(proxy_userlist_load(path, err, sizeof(err)));
    ck_assert_msg(strstr(err, ":2: expected") != NULL, "%s", err);
    teardown();
    write_file("\"alice\" \"unterminated\n");
    ck_assert_ptr_null(proxy_userlist_load(path, err, sizeof(err)));
    teardown();
    write_file("\"alice\" \"SCRAM-SHA-256$garbage\"\n");
    ck_assert_ptr_null(proxy_userlist_load(path, err, sizeof(err)));
    ck_assert_msg(strstr(err, "malformed SCRAM verifier") != NULL, "%s", err);
    teardown();
    ck_assert_ptr_null(proxy_userlist_load("/nonexistent/users.txt", err, sizeof(err)));
    proxy_userlist_free(NULL);
    ck_assert_ptr_null(proxy_userlist_secret(NULL, "x"));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("userlist");
    TCase *tc = tcase_create("userlist");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_formats);
    tcase_add_test(tc, test_derived_verifier_accepts_the_password);
    tcase_add_test(tc, test_malformed);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
