/* Unit tests for pool/servers.c: upstream server pools (per-database keys,
 * the servers' lists, the FIFO queue, the limits that decide when a server
 * may be opened, idle expiry and the wait timeout, on an injected clock). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dormouse/pool.h"

static uint64_t now_us;
static uint64_t fake_clock(void *arg)
{
    return now_us;
}

static pool *p;
static pool_db *db;

/* A pool with one upstream database "app" whose line adds `keys`. */
static pool_servers *make(const char *keys, const pool_limits *lim)
{
    now_us = 1000000;
    p = pool_new(NULL);
    ck_assert_ptr_nonnull(p);
    pool_set_clock(p, fake_clock, NULL);
    if (lim)
        pool_set_limits(p, lim);
    pool_db_rule r;
    memset(&r, 0, sizeof(r));
    strcpy(r.name, "app");
    char line[256], err[256];
    snprintf(line, sizeof(line), "host=127.0.0.1 port=5432 %s", keys);
    ck_assert_msg(pool_db_rule_parse(line, &r, err, sizeof(err)), "%s", err);
    pool_set_rules(p, &r, 1);
    db = pool_db_get(p, "app", err, sizeof(err));
    ck_assert_ptr_nonnull(db);
    pool_servers *ps = pool_servers_get(db, "alice");
    ck_assert_ptr_nonnull(ps);
    ck_assert_ptr_eq(pool_servers_get(db, "alice"), ps); /* one per user */
    return ps;
}

static void teardown(void)
{
    pool_free(p);
    p = NULL;
}

START_TEST(test_mode_names_and_keys)
{
    pool_mode m;
    ck_assert(pool_mode_parse("Transaction", 11, &m));
    ck_assert_int_eq(m, POOL_MODE_TRANSACTION);
    ck_assert(pool_mode_parse("session", 7, &m));
    ck_assert_int_eq(m, POOL_MODE_SESSION);
    ck_assert(!pool_mode_parse("sess", 4, &m));
    ck_assert_str_eq(pool_mode_str(POOL_MODE_STATEMENT), "statement");
    ck_assert_str_eq(pool_sv_state_str(POOL_SV_USED), "used");

    pool_db_rule r;
    char err[256];
    memset(&r, 0, sizeof(r));
    ck_assert(pool_db_rule_parse("host=127.0.0.1 pool_size=5 pool_mode=session reserve_pool=2 "
                                 "min_pool_size=1 max_db_connections=9",
                                 &r, err, sizeof(err)));
    ck_assert_int_eq(r.ov.pool_size, 5);
    ck_assert_int_eq(r.ov.mode, POOL_MODE_SESSION);
    ck_assert_int_eq(r.ov.reserve_pool, 2);
    ck_assert_int_eq(r.ov.min_pool_size, 1);
    ck_assert_int_eq(r.ov.max_db_connections, 9);
    ck_assert(!pool_db_rule_parse("host=127.0.0.1 pool_size=-1", &r, err, sizeof(err)));
    ck_assert(!pool_db_rule_parse("host=127.0.0.1 pool_size=x", &r, err, sizeof(err)));
    ck_assert(!pool_db_rule_parse("host=127.0.0.1 pool_mode=sometimes", &r, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "pool_mode"));

    /* The line's keys over the global defaults. */
    pool_servers *ps = make("pool_size=3", NULL);
    pool_settings st;
    pool_servers_settings(ps, &st);
    ck_assert_int_eq(st.pool_size, 3);
    ck_assert_int_eq(st.mode, POOL_MODE_TRANSACTION);
    ck_assert_int_eq(st.max_db_connections, 0);
    teardown();
}
END_TEST

START_TEST(test_queue_and_limits)
{
    pool_servers *ps = make("pool_size=2", NULL);
    pool_link c[4], s[3];
    memset(c, 0, sizeof(c));
    memset(s, 0, sizeof(s));
    ck_assert(!pool_servers_may_open(ps)); /* nobody waits */
    for (int i = 0; i < 4; i++)
        pool_client_wait(ps, &c[i]);
    ck_assert_int_eq(pool_servers_waiting(ps), 4);
    ck_assert_ptr_eq(pool_client_first_waiter(ps), &c[0]); /* FIFO */
    ck_assert_ptr_eq(pool_client_next_waiter(ps, &c[0]), &c[1]);
    ck_assert_ptr_null(pool_client_next_waiter(ps, &c[3]));

    ck_assert(pool_servers_may_open(ps));
    pool_server_add(ps, &s[0]);
    ck_assert(pool_servers_may_open(ps));
    pool_server_add(ps, &s[1]);
    ck_assert(!pool_servers_may_open(ps)); /* pool_size reached */
    ck_assert_int_eq(pool_servers_count(ps, POOL_SV_LOGIN), 2);
    ck_assert_int_eq(pool_db_servers_total(db), 2);

    pool_server_move(ps, &s[0], POOL_SV_IDLE);
    now_us += 10;
    pool_server_move(ps, &s[1], POOL_SV_IDLE);
    ck_assert_ptr_eq(pool_server_take_idle(ps), &s[1]); /* LIFO: the warmest */
    ck_assert_int_eq(s[1].state, POOL_SV_ACTIVE);
    ck_assert_int_eq(pool_servers_count(ps, POOL_SV_IDLE), 1);
    pool_client_unwait(ps, &c[0]);
    pool_client_unwait(ps, &c[0]); /* not waiting: no-op */
    ck_assert_int_eq(pool_servers_waiting(ps), 3);
    pool_client_unwait(ps, &c[2]); /* from the middle (a cancel) */
    ck_assert_ptr_eq(pool_client_next_waiter(ps, &c[1]), &c[3]);

    pool_server_remove(ps, &s[1]);
    ck_assert_int_eq(pool_servers_total(ps), 1);
    ck_assert_int_eq(pool_db_servers_total(db), 1);
    teardown();
}
END_TEST

START_TEST(test_reserve_and_max_db)
{
    pool_limits lim;
    pool_limits_defaults(&lim);
    lim.reserve_timeout_us = 5000000;
    pool_servers *ps = make("pool_size=1 reserve_pool=1 max_db_connections=3", &lim);
    pool_link c[3], s[3];
    memset(c, 0, sizeof(c));
    memset(s, 0, sizeof(s));
    pool_client_wait(ps, &c[0]);
    pool_client_wait(ps, &c[1]);
    pool_server_add(ps, &s[0]);
    pool_server_move(ps, &s[0], POOL_SV_ACTIVE);
    ck_assert(!pool_servers_may_open(ps)); /* full; the reserve needs a long wait */
    now_us += 5000000;
    ck_assert_uint_eq(pool_servers_max_wait_us(ps), 5000000);
    ck_assert(pool_servers_may_open(ps));
    pool_server_add(ps, &s[1]);
    ck_assert(!pool_servers_may_open(ps)); /* size + reserve reached */

    /* max_db_connections counts every user's servers */
    pool_servers *other = pool_servers_get(db, "bob");
    pool_client_wait(other, &c[2]);
    pool_server_add(other, &s[2]);
    ck_assert_int_eq(pool_db_servers_total(db), 3);
    pool_server_remove(other, &s[2]);
    ck_assert(pool_servers_may_open(other));
    pool_server_add(other, &s[2]);
    ck_assert(!pool_servers_may_open(other));
    teardown();
}
END_TEST

START_TEST(test_login_retry_and_timeouts)
{
    pool_limits lim;
    pool_limits_defaults(&lim);
    lim.login_retry_us = 1000000;
    lim.query_wait_timeout_us = 3000000;
    lim.idle_timeout_us = 10000000;
    lim.lifetime_us = 0;
    pool_servers *ps = make("pool_size=2 min_pool_size=1", &lim);
    pool_link c, s[2];
    memset(&c, 0, sizeof(c));
    memset(s, 0, sizeof(s));
    pool_client_wait(ps, &c);
    pool_servers_login_failed(ps, "connection refused");
    ck_assert_str_eq(pool_servers_login_error(ps), "connection refused");
    ck_assert(!pool_servers_may_open(ps));
    ck_assert(!pool_servers_below_min(ps));
    now_us += 1000000;
    ck_assert(pool_servers_may_open(ps)); /* retry after server_login_retry */
    ck_assert_ptr_null(pool_client_timed_out(ps));
    now_us += 2000000;
    ck_assert_ptr_eq(pool_client_timed_out(ps), &c);
    pool_client_unwait(ps, &c);
    pool_servers_login_ok(ps);
    ck_assert_str_eq(pool_servers_login_error(ps), "");

    /* idle expiry keeps min_pool_size */
    ck_assert(pool_servers_below_min(ps));
    pool_server_add(ps, &s[0]);
    pool_server_add(ps, &s[1]);
    pool_server_move(ps, &s[0], POOL_SV_IDLE);
    pool_server_move(ps, &s[1], POOL_SV_IDLE);
    ck_assert(!pool_servers_below_min(ps));
    ck_assert_ptr_null(pool_server_expired(ps));
    now_us += 10000000;
    pool_link *gone = pool_server_expired(ps);
    ck_assert_ptr_nonnull(gone);
    ck_assert_int_eq(pool_servers_total(ps), 1);
    ck_assert_ptr_null(pool_server_expired(ps)); /* the last one stays: min_pool_size */

    uint8_t params[] = {'S', 0, 0, 0, 4};
    size_t n;
    ck_assert_ptr_null(pool_servers_params(ps, &n));
    ck_assert(pool_servers_set_params(ps, params, sizeof(params)));
    ck_assert_ptr_nonnull(pool_servers_params(ps, &n));
    ck_assert_uint_eq(n, sizeof(params));
    teardown();
}
END_TEST

/* The upstream lifecycle: a server that is linked or a client that waits
 * keeps the database active; all idle for idle_timeout, it pauses (the
 * proxy's pause_fn closes the servers), opens none while paused, and a
 * waiting client resumes it, timed until a server logs in; min_active. */
static int paused_calls;
static void close_all(pool_db *d, void *arg)
{
    pool_link **servers = arg;
    paused_calls++;
    ck_assert_ptr_eq(d, db);
    for (int i = 0; servers[i]; i++)
        if (servers[i]->state == POOL_SV_IDLE && servers[i]->next) {
            pool_server_remove(pool_servers_get(d, "alice"), servers[i]);
            servers[i]->next = NULL; /* (removed: not on a list) */
        }
}

START_TEST(test_upstream_lifecycle)
{
    pool_limits lim;
    pool_limits_defaults(&lim);
    lim.pause_after_us = 10000000;
    lim.min_active_us = 30000000;
    pool_servers *ps = make("min_pool_size=1", &lim);
    pool_db_lifecycle lc;
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_IDLE); /* no server yet */
    ck_assert(pool_servers_below_min(ps));

    pool_link client = {0}, s1 = {0};
    pool_link *servers[] = {&s1, NULL};
    pool_client_wait(ps, &client);
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_ACTIVE);
    pool_server_add(ps, &s1);
    pool_servers_login_ok(ps);
    pool_server_move(ps, &s1, POOL_SV_IDLE);
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_ACTIVE); /* the client still waits */
    ck_assert_ptr_eq(pool_server_take_idle(ps), &s1);
    pool_client_unwait(ps, &client);
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_ACTIVE); /* s1 is linked */
    pool_server_move(ps, &s1, POOL_SV_IDLE);
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_IDLE);

    now_us += 9000000;
    ck_assert_int_eq(pool_pause_idle(p, NULL, close_all, servers), 0);
    now_us += 1000000;
    ck_assert_int_eq(pool_pause_idle(p, NULL, close_all, servers), 1);
    ck_assert_int_eq(paused_calls, 1);
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_PAUSED);
    ck_assert_int_eq(pool_db_servers_total(db), 0);
    ck_assert(!pool_servers_below_min(ps)); /* min_pool_size keeps none while paused */
    ck_assert(pool_at_zero(p));
    pool_db_lifecycle_get(db, &lc);
    ck_assert_uint_eq(lc.up_us, 10000000);
    ck_assert_uint_eq(lc.cold_starts, 0);

    /* a client comes: RESUMING until a server logs in */
    now_us += 60000000;
    pool_client_wait(ps, &client);
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_RESUMING);
    ck_assert(pool_servers_may_open(ps));
    pool_db_set_engine_ready(db, false); /* a managed server is still starting */
    ck_assert(!pool_servers_may_open(ps));
    pool_db_set_engine_ready(db, true);
    memset(&s1, 0, sizeof(s1));
    pool_server_add(ps, &s1);
    now_us += 4000;
    pool_servers_login_ok(ps);
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_ACTIVE);
    pool_server_move(ps, &s1, POOL_SV_IDLE);
    ck_assert_ptr_eq(pool_server_take_idle(ps), &s1);
    pool_client_unwait(ps, &client);
    pool_server_move(ps, &s1, POOL_SV_IDLE);
    pool_db_lifecycle_get(db, &lc);
    ck_assert_uint_eq(lc.cold_starts, 1);
    ck_assert_uint_eq(lc.last_resume_us, 4000);
    ck_assert_uint_eq(lc.up_us, 10004000);

    /* min_active_seconds (30 s) holds it up past idle_timeout (10 s) */
    now_us += 20000000;
    ck_assert_int_eq(pool_pause_idle(p, NULL, close_all, servers), 0);
    now_us += 10000000;
    ck_assert_int_eq(pool_pause_idle(p, NULL, close_all, servers), 1);
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_PAUSED);

    /* a client that gives up before any server logged in: the resume ends idle */
    pool_client_wait(ps, &client);
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_RESUMING);
    pool_client_unwait(ps, &client);
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_IDLE);
    ck_assert(!pool_at_zero(p)); /* it will pause again: the clock is needed */

    /* RESUME db of a stopped server: a resume nobody waits for, timed until
     * the engine is up; one that fails pauses it again */
    now_us += 40000000;
    ck_assert_int_eq(pool_pause_idle(p, NULL, close_all, servers), 1);
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_PAUSED);
    pool_db_set_engine_ready(db, false);
    ck_assert(pool_db_prewarm(db));
    ck_assert(!pool_db_prewarm(db)); /* not paused any more */
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_RESUMING);
    now_us += 30000;
    pool_db_set_engine_ready(db, true);
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_IDLE);
    pool_db_lifecycle_get(db, &lc);
    ck_assert_uint_eq(lc.cold_starts, 3);
    ck_assert_uint_eq(lc.last_resume_us, 30000);
    now_us += 40000000;
    ck_assert_int_eq(pool_pause_idle(p, NULL, close_all, servers), 1);
    ck_assert(pool_db_prewarm(db));
    pool_db_set_engine_ready(db, false); /* it did not start */
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_PAUSED);
    teardown();
}
END_TEST

START_TEST(test_generation_follows_the_address)
{
    pool_servers *ps = make("", NULL);
    (void)ps;
    uint32_t g = pool_db_generation(db);
    pool_db_rule r;
    char err[256];
    memset(&r, 0, sizeof(r));
    strcpy(r.name, "app");
    ck_assert(pool_db_rule_parse("host=127.0.0.1 port=5432", &r, err, sizeof(err)));
    pool_set_rules(p, &r, 1);
    ck_assert_ptr_eq(pool_db_get(p, "app", err, sizeof(err)), db);
    ck_assert_uint_eq(pool_db_generation(db), g); /* the same address */
    ck_assert(pool_db_rule_parse("host=127.0.0.1 port=5433", &r, err, sizeof(err)));
    pool_set_rules(p, &r, 1);
    ck_assert_ptr_eq(pool_db_get(p, "app", err, sizeof(err)), db);
    ck_assert_uint_eq(pool_db_generation(db), g + 1);
    teardown();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("servers");
    TCase *tc = tcase_create("servers");
    tcase_add_test(tc, test_mode_names_and_keys);
    tcase_add_test(tc, test_queue_and_limits);
    tcase_add_test(tc, test_reserve_and_max_db);
    tcase_add_test(tc, test_login_retry_and_timeouts);
    tcase_add_test(tc, test_generation_follows_the_address);
    tcase_add_test(tc, test_upstream_lifecycle);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
