/* Unit tests for proxy/prepared.c (the statement cache, clients' names,
 * servers' LRUs and their references) and proxy/settings.c (settings maps
 * and the statements that turn one session into another). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static const uint8_t body_a[] = "select 1\0\0\0";
static const uint8_t body_b[] = "select 2\0\0\0";

START_TEST(test_stmt_cache_and_names)
{
    proxy_stmt_cache c;
    proxy_stmt_cache_init(&c);
    proxy_stmt *a = proxy_stmt_intern(&c, body_a, sizeof(body_a));
    proxy_stmt *a2 = proxy_stmt_intern(&c, body_a, sizeof(body_a));
    proxy_stmt *b = proxy_stmt_intern(&c, body_b, sizeof(body_b));
    ck_assert_ptr_eq(a, a2); /* one per distinct SQL and types */
    ck_assert_ptr_ne(a, b);
    ck_assert_str_eq(a->name, "DMS_1");
    ck_assert_str_eq(b->name, "DMS_2");
    ck_assert_int_eq(a->refs, 2);

    proxy_stmt_map m = {0};
    ck_assert(proxy_stmt_map_put(&m, &c, "S_1", a));
    ck_assert(proxy_stmt_map_put(&m, &c, "S_2", a2));
    ck_assert_ptr_eq(proxy_stmt_map_get(&m, "S_1"), a);
    ck_assert_ptr_null(proxy_stmt_map_get(&m, "S_3"));
    /* many names: the table grows */
    char name[32];
    for (int i = 0; i < 100; i++) {
        snprintf(name, sizeof(name), "n%d", i);
        proxy_stmt_ref(b);
        ck_assert(proxy_stmt_map_put(&m, &c, name, b));
    }
    ck_assert_ptr_eq(proxy_stmt_map_get(&m, "n57"), b);
    ck_assert(proxy_stmt_map_del(&m, &c, "S_1"));
    ck_assert(!proxy_stmt_map_del(&m, &c, "S_1"));
    ck_assert_int_eq(a->refs, 1);
    proxy_stmt_map_clear(&m, &c);
    ck_assert_uint_eq(proxy_stmt_cache_count(&c), 1); /* b: still ours */
    proxy_stmt_unref(&c, b);
    ck_assert_uint_eq(proxy_stmt_cache_count(&c), 0);
    proxy_stmt_cache_free(&c);
}
END_TEST

START_TEST(test_server_lru)
{
    proxy_stmt_cache c;
    proxy_stmt_cache_init(&c);
    proxy_stmt *st[3];
    uint8_t body[16];
    for (int i = 0; i < 3; i++) {
        memset(body, 0, sizeof(body));
        body[0] = (uint8_t)('a' + i);
        st[i] = proxy_stmt_intern(&c, body, sizeof(body));
    }
    proxy_stmt_lru l = {0};
    proxy_stmt *ev = NULL;
    ck_assert(!proxy_stmt_lru_touch(&l, st[0]));
    ck_assert(proxy_stmt_lru_add(&l, st[0], 2, &ev));
    ck_assert_ptr_null(ev);
    ck_assert(proxy_stmt_lru_add(&l, st[1], 2, &ev));
    ck_assert(proxy_stmt_lru_touch(&l, st[0])); /* st[1] is now the least recent */
    ck_assert(proxy_stmt_lru_add(&l, st[2], 2, &ev));
    ck_assert_ptr_eq(ev, st[1]);
    proxy_stmt_unref(&c, ev); /* the eviction's reference */
    ck_assert(!proxy_stmt_lru_touch(&l, st[1]));
    ck_assert_int_eq(l.n, 2);
    proxy_stmt_lru_del(&l, &c, st[0]);
    ck_assert_int_eq(l.n, 1);
    proxy_stmt_lru_clear(&l, &c);
    for (int i = 0; i < 3; i++)
        proxy_stmt_unref(&c, st[i]);
    ck_assert_uint_eq(proxy_stmt_cache_count(&c), 0);
    proxy_stmt_cache_free(&c);
}
END_TEST

START_TEST(test_settings_diff)
{
    proxy_settings server = {0}, client = {0};
    ck_assert(proxy_settings_equal(&server, &client));
    ck_assert(proxy_settings_set(&client, "timezone", "SET TimeZone = 'UTC'", 20));
    ck_assert(proxy_settings_set(&client, "application_name", "SET application_name = 'a'", 26));
    ck_assert(proxy_settings_set(&server, "work_mem", "set work_mem = '1MB'", 20));
    ck_assert(proxy_settings_set(&server, "timezone", "SET TimeZone = 'Asia/Tokyo'", 27));
    ck_assert(!proxy_settings_equal(&server, &client));
    wire_buf sql;
    wire_buf_init(&sql);
    ck_assert(proxy_settings_diff(&server, &client, &sql));
    wire_buf_put_u8(&sql, 0);
    ck_assert_str_eq((const char *)sql.data,
                     "SET application_name = 'a'\n;SET TimeZone = 'UTC'\n;RESET work_mem;");
    ck_assert(proxy_settings_copy(&server, &client));
    ck_assert(proxy_settings_equal(&server, &client));
    wire_buf_reset(&sql);
    ck_assert(proxy_settings_diff(&server, &client, &sql));
    ck_assert_uint_eq(sql.len, 0);
    proxy_settings_unset(&client, "timezone");
    ck_assert_ptr_null(proxy_settings_get(&client, "timezone"));
    ck_assert(!proxy_settings_equal(&server, &client));

    /* startup parameters become SET statements, quoted */
    proxy_settings st = {0};
    wire_param params[] = {{"user", "u"}, {"database", "d"}, {"DateStyle", "ISO"},
                           {"application_name", "it's"}, {"bad name", "x"}};
    ck_assert(proxy_settings_from_startup(&st, params, 5));
    ck_assert_int_eq(st.n, 2);
    ck_assert_str_eq(proxy_settings_get(&st, "datestyle"),
                     "SELECT pg_catalog.set_config('datestyle', 'ISO', false)");
    ck_assert_str_eq(proxy_settings_get(&st, "application_name"),
                     "SELECT pg_catalog.set_config('application_name', 'it''s', false)");
    proxy_settings_free(&st);

    /* options: -c name=value, -cname=value, --name=value, backslash escapes */
    wire_param opts[] = {{"options", "-c search_path=a,b -cstatement_timeout=5s "
                                     "--work-mem=1MB -c application_name=x\\ y -X"}};
    ck_assert(proxy_settings_from_startup(&st, opts, 1));
    ck_assert_int_eq(st.n, 4);
    ck_assert_str_eq(proxy_settings_get(&st, "search_path"),
                     "SELECT pg_catalog.set_config('search_path', 'a,b', false)");
    ck_assert_str_eq(proxy_settings_get(&st, "statement_timeout"),
                     "SELECT pg_catalog.set_config('statement_timeout', '5s', false)");
    ck_assert_str_eq(proxy_settings_get(&st, "work_mem"),
                     "SELECT pg_catalog.set_config('work_mem', '1MB', false)");
    ck_assert_str_eq(proxy_settings_get(&st, "application_name"),
                     "SELECT pg_catalog.set_config('application_name', 'x y', false)");
    proxy_settings_free(&st);
    proxy_settings_free(&server);
    proxy_settings_free(&client);
    wire_buf_free(&sql);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pooling");
    TCase *tc = tcase_create("pooling");
    tcase_add_test(tc, test_stmt_cache_and_names);
    tcase_add_test(tc, test_server_lru);
    tcase_add_test(tc, test_settings_diff);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
