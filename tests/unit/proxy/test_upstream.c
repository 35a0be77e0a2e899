/* Unit tests for proxy/upstream.c: the status names, upstream addresses, and
 * the framing of relayed client input.  (Connecting, logging in and relaying
 * to a real PostgreSQL is tests/e2e/test_upstream.sh.) */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "internal.h"

START_TEST(test_str_every_value)
{
    static const char *const states[] = {"connecting", "login", "ready", "closed"};
    for (int i = 0; i <= PROXY_UPSTREAM_CLOSED; i++)
        ck_assert_str_eq(proxy_upstream_state_str((proxy_upstream_state)i), states[i]);
    ck_assert_str_eq(proxy_upstream_state_str((proxy_upstream_state)99), "unknown");
    static const char *const events[] = {"ready", "relayed", "drained", "failed"};
    for (int i = 0; i <= PROXY_UPSTREAM_EV_FAILED; i++)
        ck_assert_str_eq(proxy_upstream_event_str((proxy_upstream_event)i), events[i]);
    ck_assert_str_eq(proxy_upstream_event_str((proxy_upstream_event)99), "unknown");
    static const char *const relay[] = {"ok", "terminate", "too large", "invalid", "out of memory"};
    for (int i = 0; i <= PROXY_RELAY_OOM; i++)
        ck_assert_str_eq(proxy_relay_status_str((proxy_relay_status)i), relay[i]);
    ck_assert_str_eq(proxy_relay_status_str((proxy_relay_status)99), "unknown");
}
END_TEST

START_TEST(test_address)
{
    pool_upstream w;
    struct sockaddr_storage ss;
    socklen_t len;
    char desc[160];

    memset(&w, 0, sizeof(w));
    strcpy(w.host, "127.0.0.1");
    w.port = 5433;
    ck_assert(proxy_upstream_address(&w, &ss, &len, desc, sizeof(desc)));
    ck_assert_int_eq(ss.ss_family, AF_INET);
    ck_assert_int_eq(ntohs(((struct sockaddr_in *)&ss)->sin_port), 5433);
    ck_assert_str_eq(desc, "127.0.0.1:5433");

    strcpy(w.host, "localhost");
    ck_assert(proxy_upstream_address(&w, &ss, &len, desc, sizeof(desc)));
    ck_assert_int_eq(ss.ss_family, AF_INET);
    ck_assert_str_eq(desc, "127.0.0.1:5433");

    strcpy(w.host, "::1");
    ck_assert(proxy_upstream_address(&w, &ss, &len, desc, sizeof(desc)));
    ck_assert_int_eq(ss.ss_family, AF_INET6);
    ck_assert_str_eq(desc, "[::1]:5433");

    strcpy(w.host, "/tmp/pg");
    ck_assert(proxy_upstream_address(&w, &ss, &len, desc, sizeof(desc)));
    ck_assert_int_eq(ss.ss_family, AF_UNIX);
    ck_assert_str_eq(((struct sockaddr_un *)&ss)->sun_path, "/tmp/pg/.s.PGSQL.5433");

    strcpy(w.host, "db.example.com");
    ck_assert(!proxy_upstream_address(&w, &ss, &len, desc, sizeof(desc)));
    memset(w.host, 'x', sizeof(w.host) - 1);
    w.host[0] = '/';
    w.host[sizeof(w.host) - 1] = '\0';
    ck_assert(!proxy_upstream_address(&w, &ss, &len, desc, sizeof(desc))); /* too long */
}
END_TEST

static void put_msg(wire_buf *b, char type, const char *body)
{
    size_t m = wire_msg_begin(b, type);
    wire_buf_append(b, body, strlen(body));
    wire_msg_end(b, m);
}

/* An upstream whose address is invalid is CLOSED at once and never touches
 * a socket, so its relay framing can be tested without a server. */
START_TEST(test_relay_framing)
{
    proxy_server srv;
    proxy_session s;
    memset(&srv, 0, sizeof(srv));
    memset(&s, 0, sizeof(s));
    srv.loop = ev_default_loop(0);
    srv.cfg.server_connect_timeout = 15;
    s.server = &srv;
    strcpy(s.user, "alice");
    strcpy(s.database, "app");
    pool_upstream w;
    memset(&w, 0, sizeof(w));
    strcpy(w.host, "not an address");
    w.port = 5432;
    proxy_upstream *u = proxy_upstream_new(&s, &w);
    ck_assert_ptr_nonnull(u);
    ck_assert_int_eq(proxy_upstream_get_state(u), PROXY_UPSTREAM_CLOSED);
    const char *sqlstate, *message;
    const uint8_t *frame;
    size_t frame_len;
    proxy_upstream_error(u, &sqlstate, &message, &frame, &frame_len);
    ck_assert_str_eq(sqlstate, "08006");
    ck_assert_ptr_null(frame);

    wire_buf in;
    wire_buf_init(&in);
    put_msg(&in, 'P', "");
    put_msg(&in, 'S', "");
    put_msg(&in, 'Q', "select 1");
    size_t whole = in.len;
    wire_buf_append(&in, "Q\0\0", 3); /* a partial message waits */
    size_t used = 0;
    int nreq = 0;
    ck_assert_int_eq(proxy_upstream_relay_input(u, in.data, in.len, 1024, &used, &nreq),
                     PROXY_RELAY_OK);
    ck_assert_uint_eq(used, whole);
    ck_assert_int_eq(nreq, 2);

    wire_buf_reset(&in);
    put_msg(&in, 'Q', "select 2");
    whole = in.len;
    put_msg(&in, 'X', "");
    put_msg(&in, 'Q', "never");
    ck_assert_int_eq(proxy_upstream_relay_input(u, in.data, in.len, 1024, &used, &nreq),
                     PROXY_RELAY_TERMINATE);
    ck_assert_uint_eq(used, whole + 5);
    ck_assert_int_eq(nreq, 1);

    char big[2000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    wire_buf_reset(&in);
    put_msg(&in, 'S', "");
    whole = in.len;
    put_msg(&in, 'Q', big);
    ck_assert_int_eq(proxy_upstream_relay_input(u, in.data, in.len, 1024, &used, &nreq),
                     PROXY_RELAY_TOO_LARGE);
    ck_assert_uint_eq(used, whole);

    wire_buf_reset(&in);
    wire_buf_append(&in, "Q\0\0\0\2", 5);
    ck_assert_int_eq(proxy_upstream_relay_input(u, in.data, in.len, 1024, &used, &nreq),
                     PROXY_RELAY_INVALID);
    ck_assert_uint_eq(used, 0);

    wire_buf_free(&in);
    proxy_upstream_free(u);
    proxy_upstream_free(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("upstream");
    TCase *tc = tcase_create("upstream");
    tcase_add_test(tc, test_str_every_value);
    tcase_add_test(tc, test_address);
    tcase_add_test(tc, test_relay_framing);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
