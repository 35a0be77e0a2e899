/* Unit tests for proxy/upstream.c: the status names, upstream addresses, and
 * the framing of relayed client input.  (Connecting, logging in and relaying
 * to a real PostgreSQL is tests/e2e/test_upstream.sh.) */
#include <arpa/inet.h>
#include <check.h>
#include <stdio.h>
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
    static const char *const events[] = {"relayed", "drained"};
    for (int i = 0; i <= PROXY_UPSTREAM_EV_DRAINED; i++)
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

/* Finds the first message of `type` in b; its body, or NULL. */
static const uint8_t *find_msg(const wire_buf *b, char type, size_t *body_len)
{
    for (size_t off = 0; off < b->len;) {
        wire_frame f;
        if (wire_frame_parse(b->data + off, b->len - off, 1u << 30, &f) != WIRE_FRAME_OK)
            return NULL;
        if (f.type == type) {
            *body_len = f.body_len;
            return f.body;
        }
        off += f.total_len;
    }
    return NULL;
}

typedef struct fixture {
    proxy_server srv;
    proxy_session s;
    pool *p;
    pool_servers *ps;
} fixture;

/* A pool whose upstream is a Unix socket directory that does not exist: the
 * server connection fails at once and never touches a socket, so the relay
 * can be tested without a server (what it would send stays in u->out). */
static proxy_upstream *fixture_init(fixture *fx, const char *mode)
{
    memset(fx, 0, sizeof(*fx));
    fx->srv.loop = ev_default_loop(0);
    fx->srv.nloops = 1;
    fx->srv.loops[0].server = &fx->srv;
    fx->srv.loops[0].loop = fx->srv.loop;
    fx->srv.cfg.server_connect_timeout = 15;
    fx->srv.cfg.max_prepared_statements = 200;
    fx->p = pool_new(NULL);
    fx->srv.pool = fx->p;
    pool_db_rule rule;
    memset(&rule, 0, sizeof(rule));
    strcpy(rule.name, "app");
    char err[200], line[200];
    snprintf(line, sizeof(line), "host=/nonexistent-dm-dir port=5432 pool_mode=%s", mode);
    ck_assert_msg(pool_db_rule_parse(line, &rule, err, sizeof(err)), "%s", err);
    pool_set_rules(fx->p, &rule, 1);
    pool_db *db = pool_db_get(fx->p, "app", err, sizeof(err));
    ck_assert_ptr_nonnull(db);
    fx->ps = pool_servers_get(db, "alice");
    ck_assert_ptr_nonnull(fx->ps);
    fx->s.server = &fx->srv;
    fx->s.loop = &fx->srv.loops[0];
    fx->s.user = "alice";
    fx->s.database = fx->s.application_name = "";
    wire_buf_init(&fx->s.out);
    proxy_upstream *u = proxy_upstream_new(&fx->srv, fx->ps);
    ck_assert_ptr_nonnull(u);
    ck_assert_int_lt(u->fd, 0);
    const char *sqlstate, *message;
    const uint8_t *frame;
    size_t frame_len;
    proxy_upstream_error(u, &sqlstate, &message, &frame, &frame_len);
    ck_assert_str_eq(sqlstate, "08006");
    ck_assert_ptr_null(frame);
    ck_assert_int_eq(pool_servers_count(fx->ps, POOL_SV_LOGIN), 1);
    u->client = &fx->s;
    fx->s.upstream = u;
    wire_buf_reset(&u->out); /* the StartupMessage */
    return u;
}

static void fixture_free(fixture *fx, proxy_upstream *u)
{
    u->client = NULL;
    proxy_upstream_close(u);
    ck_assert_int_eq(pool_servers_total(fx->ps), 0);
    proxy_upstream_reap(&fx->srv.loops[0]);
    proxy_stmt_map_clear(&fx->s.stmts, &fx->srv.loops[0].stmt_cache);
    ck_assert_uint_eq(proxy_stmt_cache_count(&fx->srv.loops[0].stmt_cache), 0);
    proxy_stmt_cache_free(&fx->srv.loops[0].stmt_cache);
    wire_buf_free(&fx->s.out);
    pool_free(fx->p);
}

START_TEST(test_relay_framing)
{
    fixture fx;
    proxy_upstream *u = fixture_init(&fx, "session");
    wire_buf in;
    wire_buf_init(&in);
    put_msg(&in, 'P', "");
    put_msg(&in, 'S', "");
    put_msg(&in, 'Q', "select 1");
    size_t whole = in.len;
    wire_buf_append(&in, "Q\0\0", 3); /* a partial message waits */
    size_t used = 0;
    ck_assert_int_eq(proxy_upstream_relay_input(u, in.data, in.len, 1024, &used), PROXY_RELAY_OK);
    ck_assert_uint_eq(used, whole);
    ck_assert_int_eq(u->pending, 2);
    ck_assert(!u->open);
    ck_assert_uint_eq(u->out.len, whole); /* relayed as it is */

    wire_buf_reset(&in);
    put_msg(&in, 'Q', "select 2");
    whole = in.len;
    put_msg(&in, 'X', "");
    put_msg(&in, 'Q', "never");
    ck_assert_int_eq(proxy_upstream_relay_input(u, in.data, in.len, 1024, &used),
                     PROXY_RELAY_TERMINATE);
    ck_assert_uint_eq(used, whole + 5);
    ck_assert_int_eq(u->pending, 3);

    char big[2000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    wire_buf_reset(&in);
    put_msg(&in, 'S', "");
    whole = in.len;
    put_msg(&in, 'Q', big);
    ck_assert_int_eq(proxy_upstream_relay_input(u, in.data, in.len, 1024, &used),
                     PROXY_RELAY_TOO_LARGE);
    ck_assert_uint_eq(used, whole);

    wire_buf_reset(&in);
    wire_buf_append(&in, "Q\0\0\0\2", 5);
    ck_assert_int_eq(proxy_upstream_relay_input(u, in.data, in.len, 1024, &used),
                     PROXY_RELAY_INVALID);
    ck_assert_uint_eq(used, 0);
    wire_buf_free(&in);
    fixture_free(&fx, u);
}
END_TEST

static void put_query(wire_buf *b, const char *sql)
{
    size_t m = wire_msg_begin(b, 'Q');
    wire_buf_put_cstr(b, sql);
    wire_msg_end(b, m);
}

static void put_parse(wire_buf *b, const char *name, const char *sql)
{
    size_t m = wire_msg_begin(b, 'P');
    wire_buf_put_cstr(b, name);
    wire_buf_put_cstr(b, sql);
    wire_buf_put_u16(b, 0);
    wire_msg_end(b, m);
}

static void put_bind(wire_buf *b, const char *portal, const char *stmt)
{
    size_t m = wire_msg_begin(b, 'B');
    wire_buf_put_cstr(b, portal);
    wire_buf_put_cstr(b, stmt);
    wire_buf_put_u16(b, 0);
    wire_buf_put_u16(b, 0);
    wire_buf_put_u16(b, 0);
    wire_msg_end(b, m);
}

/* Transaction pooling renames named statements to the pool's server-side
 * names, Parses them where they are missing, and stands a Close of nothing
 * in for a Parse the server has already done. */
START_TEST(test_relay_prepared)
{
    fixture fx;
    proxy_upstream *u = fixture_init(&fx, "transaction");
    wire_buf in;
    wire_buf_init(&in);
    size_t used, n;
    put_parse(&in, "S_1", "select $1::int");
    put_bind(&in, "", "S_1");
    put_msg(&in, 'S', "");
    ck_assert_int_eq(proxy_upstream_relay_input(u, in.data, in.len, 1024, &used), PROXY_RELAY_OK);
    const uint8_t *body = find_msg(&u->out, 'P', &n);
    ck_assert_ptr_nonnull(body);
    ck_assert_str_eq((const char *)body, "DMS_1");
    body = find_msg(&u->out, 'B', &n);
    ck_assert_ptr_nonnull(body);
    ck_assert_str_eq((const char *)body + 1, "DMS_1"); /* after the empty portal name */
    ck_assert_uint_eq(u->exp_len, 1);
    ck_assert_int_eq(u->stmts.n, 1);

    /* Another client name for the same SQL: the server has it. */
    wire_buf_reset(&u->out);
    wire_buf_reset(&in);
    put_parse(&in, "other", "select $1::int");
    ck_assert_int_eq(proxy_upstream_relay_input(u, in.data, in.len, 1024, &used), PROXY_RELAY_OK);
    ck_assert_ptr_null(find_msg(&u->out, 'P', &n));
    body = find_msg(&u->out, 'C', &n);
    ck_assert_ptr_nonnull(body);
    ck_assert_str_eq((const char *)body + 1, "DMS_none");
    ck_assert(u->open);

    /* A server without it gets a Parse before the Bind. */
    proxy_stmt_lru_clear(&u->stmts, &fx.srv.loops[0].stmt_cache);
    wire_buf_reset(&u->out);
    wire_buf_reset(&in);
    put_bind(&in, "", "other");
    ck_assert_int_eq(proxy_upstream_relay_input(u, in.data, in.len, 1024, &used), PROXY_RELAY_OK);
    ck_assert_uint_gt(u->out.len, 0);
    ck_assert_int_eq(u->out.data[0], 'P');
    body = find_msg(&u->out, 'B', &n);
    ck_assert_str_eq((const char *)body + 1, "DMS_1");

    /* An unknown name goes as it is: the server reports it. */
    wire_buf_reset(&u->out);
    wire_buf_reset(&in);
    put_bind(&in, "", "nope");
    ck_assert_int_eq(proxy_upstream_relay_input(u, in.data, in.len, 1024, &used), PROXY_RELAY_OK);
    body = find_msg(&u->out, 'B', &n);
    ck_assert_str_eq((const char *)body + 1, "nope");

    /* LISTEN is refused by the server itself, in order. */
    wire_buf_reset(&u->out);
    wire_buf_reset(&in);
    put_query(&in, "listen chan");
    ck_assert_int_eq(proxy_upstream_relay_input(u, in.data, in.len, 1024, &used), PROXY_RELAY_OK);
    body = find_msg(&u->out, 'Q', &n);
    ck_assert_ptr_nonnull(strstr((const char *)body, "0A000"));

    /* A temporary table gets a WARNING before its reply. */
    wire_buf_reset(&in);
    put_query(&in, "create temp table t (a int)");
    ck_assert_int_eq(proxy_upstream_relay_input(u, in.data, in.len, 1024, &used), PROXY_RELAY_OK);
    ck_assert_ptr_nonnull(find_msg(&fx.s.out, 'N', &n));

    /* SET is recorded for the client. */
    wire_buf_reset(&in);
    put_query(&in, "set statement_timeout = '5s'");
    ck_assert_int_eq(proxy_upstream_relay_input(u, in.data, in.len, 1024, &used), PROXY_RELAY_OK);
    ck_assert_int_eq(fx.s.nops, 1);
    u->recv_z = u->sent_z; /* as when the Query's ReadyForQuery has come */
    pgpool_server_ready_for_query(u, 'I');
    ck_assert_str_eq(proxy_settings_get(&fx.s.settings, "statement_timeout"),
                     "set statement_timeout = '5s'");
    ck_assert(proxy_settings_equal(&fx.s.settings, &u->settings));
    pgpool_session_free(&fx.s);

    wire_buf_free(&in);
    fixture_free(&fx, u);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("upstream");
    TCase *tc = tcase_create("upstream");
    tcase_add_test(tc, test_str_every_value);
    tcase_add_test(tc, test_address);
    tcase_add_test(tc, test_relay_framing);
    tcase_add_test(tc, test_relay_prepared);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
