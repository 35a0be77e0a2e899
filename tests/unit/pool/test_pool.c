/* Unit tests for pool/pool.c: database names, rules, lookup, lifecycle names,
 * and the idle backends (LIFO reuse, limits, expiry on an injected clock). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dormouse/pool.h"

START_TEST(test_state_str_every_value)
{
    ck_assert_str_eq(pool_db_state_str(POOL_DB_ACTIVE), "active");
    ck_assert_str_eq(pool_db_state_str(POOL_DB_IDLE), "idle");
    ck_assert_str_eq(pool_db_state_str(POOL_DB_PAUSING), "pausing");
    ck_assert_str_eq(pool_db_state_str(POOL_DB_PAUSED), "paused");
    ck_assert_str_eq(pool_db_state_str(POOL_DB_RESUMING), "resuming");
    ck_assert_str_eq(pool_db_state_str((pool_db_state)99), "unknown");
}
END_TEST

START_TEST(test_name_validation)
{
    char err[256];
    ck_assert(pool_db_name_valid("demo", err, sizeof(err)));
    ck_assert(pool_db_name_valid("my-db_2.v1", err, sizeof(err)));
    ck_assert(pool_db_name_valid("ünïcode", err, sizeof(err)));
    ck_assert(!pool_db_name_valid("", err, sizeof(err)));
    ck_assert(!pool_db_name_valid(".", err, sizeof(err)));
    ck_assert(!pool_db_name_valid("dormouse_ledger", err, sizeof(err)));
    ck_assert_msg(strstr(err, "is reserved") != NULL, "%s", err);
    ck_assert(!pool_db_name_valid("dormouse_", err, sizeof(err)));
    ck_assert(pool_db_name_valid("dormouse", err, sizeof(err))); /* the console's name: not a file */
    ck_assert(pool_db_name_valid("my_dormouse_ledger", err, sizeof(err)));
    ck_assert(!pool_db_name_valid("..", err, sizeof(err)));
    ck_assert(!pool_db_name_valid("../etc", err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "path separators"));
    ck_assert(!pool_db_name_valid("a/b", err, sizeof(err)));
    ck_assert(!pool_db_name_valid("a\\b", err, sizeof(err)));
    ck_assert(!pool_db_name_valid("a\nb", err, sizeof(err)));
    char name[80];
    memset(name, 'x', 63);
    name[63] = '\0';
    ck_assert(pool_db_name_valid(name, err, sizeof(err)));
    memset(name, 'x', 64);
    name[64] = '\0';
    ck_assert(!pool_db_name_valid(name, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "longer than 63 bytes"));
}
END_TEST

START_TEST(test_rule_parse)
{
    pool_db_rule r;
    char err[256];
    memset(&r, 0, sizeof(r));
    ck_assert(pool_db_rule_parse("engine=sqlite", &r, err, sizeof(err)));
    ck_assert_int_eq(r.engine, STORAGE_SQLITE);
    ck_assert(pool_db_rule_parse("  engine=sqlite  ", &r, err, sizeof(err)));
    ck_assert(!pool_db_rule_parse("", &r, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "missing engine"));
    ck_assert(!pool_db_rule_parse("engine=oracle", &r, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "unknown engine"));
    ck_assert(!pool_db_rule_parse("engine", &r, err, sizeof(err)));
    ck_assert(!pool_db_rule_parse("engine=sqlite colour=blue", &r, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "colour"));
}
END_TEST

START_TEST(test_rule_parse_upstream)
{
    pool_db_rule r;
    char err[256];
    memset(&r, 0, sizeof(r));
    ck_assert_msg(pool_db_rule_parse("host=127.0.0.1 port=5433 dbname=app user=app password=secret",
                                     &r, err, sizeof(err)), "%s", err);
    ck_assert_int_eq(r.engine, STORAGE_POSTGRES);
    ck_assert_str_eq(r.upstream.host, "127.0.0.1");
    ck_assert_int_eq(r.upstream.port, 5433);
    ck_assert_str_eq(r.upstream.dbname, "app");
    ck_assert_str_eq(r.upstream.user, "app");
    ck_assert_str_eq(r.upstream.password, "secret");
    ck_assert_str_eq(r.upstream.auth_user, "");
    ck_assert(pool_db_rule_parse("port=6000 auth_user=pgb", &r, err, sizeof(err)));
    ck_assert_str_eq(r.upstream.auth_user, "pgb");
    ck_assert(!pool_db_rule_parse("port=6000 auth_user=", &r, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "auth_user must be"));
    ck_assert(!pool_db_rule_parse("engine=sqlite auth_user=x", &r, err, sizeof(err)));

    /* defaults: 127.0.0.1:5432, dbname and user from the client, no password */
    ck_assert(pool_db_rule_parse("engine=postgres", &r, err, sizeof(err)));
    ck_assert_int_eq(r.engine, STORAGE_POSTGRES);
    ck_assert_str_eq(r.upstream.host, "127.0.0.1");
    ck_assert_int_eq(r.upstream.port, 5432);
    ck_assert_str_eq(r.upstream.dbname, "");
    ck_assert_str_eq(r.upstream.user, "");
    ck_assert_str_eq(r.upstream.password, "");
    ck_assert(pool_db_rule_parse("port=6000", &r, err, sizeof(err)));
    ck_assert_int_eq(r.engine, STORAGE_POSTGRES);
    ck_assert_int_eq(r.upstream.port, 6000);

    /* quoted values, IPv6, Unix socket directories, localhost */
    ck_assert(pool_db_rule_parse("host=::1 password='two words' user=x", &r, err, sizeof(err)));
    ck_assert_str_eq(r.upstream.host, "::1");
    ck_assert_str_eq(r.upstream.password, "two words");
    ck_assert_str_eq(r.upstream.user, "x");
    ck_assert(pool_db_rule_parse("host=/var/run/postgresql", &r, err, sizeof(err)));
    ck_assert_str_eq(r.upstream.host, "/var/run/postgresql");
    ck_assert(pool_db_rule_parse("host=localhost engine=postgres", &r, err, sizeof(err)));

    /* a managed server: its socket directory is its data directory */
    ck_assert_msg(pool_db_rule_parse("managed_datadir=/var/lib/dm/pgapp managed_initdb=yes "
                                     "dbname=pgapp user=app", &r, err, sizeof(err)), "%s", err);
    ck_assert_int_eq(r.engine, STORAGE_POSTGRES);
    ck_assert_str_eq(r.upstream.host, "/var/lib/dm/pgapp");
    ck_assert_str_eq(r.upstream.managed_datadir, "/var/lib/dm/pgapp");
    ck_assert(r.upstream.managed_initdb);
    ck_assert_str_eq(r.upstream.managed_os_user, "postgres");
    ck_assert(pool_db_rule_parse("managed_datadir=/x managed_os_user=pg managed_initdb=no", &r, err,
                                 sizeof(err)));
    ck_assert_str_eq(r.upstream.managed_os_user, "pg");
    ck_assert(!r.upstream.managed_initdb);
    ck_assert(!pool_db_rule_parse("managed_datadir=relative/dir", &r, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "absolute path"));
    ck_assert(!pool_db_rule_parse("managed_datadir=/x managed_initdb=maybe", &r, err, sizeof(err)));
    ck_assert(!pool_db_rule_parse("managed_initdb=yes host=127.0.0.1", &r, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "need managed_datadir"));
    ck_assert(!pool_db_rule_parse("managed_datadir=/x host=127.0.0.1", &r, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "takes no host"));
    char longdir[128];
    memset(longdir, 'd', sizeof(longdir));
    longdir[0] = '/';
    longdir[POOL_MANAGED_DIR_MAX + 1] = '\0';
    char kv[200];
    snprintf(kv, sizeof(kv), "managed_datadir=%s", longdir);
    ck_assert(!pool_db_rule_parse(kv, &r, err, sizeof(err))); /* the socket path would not fit */
    longdir[POOL_MANAGED_DIR_MAX] = '\0';
    snprintf(kv, sizeof(kv), "managed_datadir=%s", longdir);
    ck_assert_msg(pool_db_rule_parse(kv, &r, err, sizeof(err)), "%s", err);

    /* a later sqlite rule resets what an upstream one set */
    ck_assert(pool_db_rule_parse("engine=sqlite", &r, err, sizeof(err)));
    ck_assert_int_eq(r.engine, STORAGE_SQLITE);
    ck_assert_str_eq(r.upstream.host, "");

    /* refusals */
    ck_assert(!pool_db_rule_parse("host=db.example.com", &r, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "IP address"));
    ck_assert(!pool_db_rule_parse("port=0", &r, err, sizeof(err)));
    ck_assert(!pool_db_rule_parse("port=65536", &r, err, sizeof(err)));
    ck_assert(!pool_db_rule_parse("port=12x", &r, err, sizeof(err)));
    ck_assert(!pool_db_rule_parse("port=123456789", &r, err, sizeof(err)));
    ck_assert(!pool_db_rule_parse("dbname=", &r, err, sizeof(err)));
    ck_assert(!pool_db_rule_parse("password='open", &r, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "unterminated"));
    ck_assert(!pool_db_rule_parse("engine=sqlite host=127.0.0.1", &r, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "engine=postgres"));
    ck_assert(!pool_db_rule_parse("host=127.0.0.1 engine=sqlite", &r, err, sizeof(err)));
    char longname[100];
    memset(longname, 'u', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    char line[160];
    snprintf(line, sizeof(line), "user=%s", longname);
    ck_assert(!pool_db_rule_parse(line, &r, err, sizeof(err)));
}
END_TEST

static storage_engine *engine;
static char tmpdir[64];

static void setup(void)
{
    char err[256];
    strcpy(tmpdir, "/tmp/dm_pool_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));
    storage_options o = {.data_dir = tmpdir, .workers = 1, .busy_timeout_ms = 100,
                         .synchronous_full = true};
    engine = storage_engine_new(&o, err, sizeof(err));
    ck_assert_msg(engine != NULL, "%s", err);
}

static void teardown(void)
{
    storage_engine_free(engine);
    rmdir(tmpdir);
}

START_TEST(test_get_with_rules)
{
    char err[256];
    pool *p = pool_new(engine);
    pool_db_rule rules[1];
    memset(rules, 0, sizeof(rules));
    strcpy(rules[0].name, "only");
    rules[0].engine = STORAGE_SQLITE;
    pool_set_rules(p, rules, 1);

    ck_assert_ptr_null(pool_db_find(p, "only")); /* find creates nothing */
    pool_db *db = pool_db_get(p, "only", err, sizeof(err));
    ck_assert_ptr_nonnull(db);
    ck_assert_ptr_eq(pool_db_find(p, "only"), db);
    ck_assert_int_eq(pool_db_count(p), 1);
    ck_assert_str_eq(pool_db_name(db), "only");
    ck_assert_ptr_eq(pool_db_get(p, "only", err, sizeof(err)), db); /* found, not created again */
    ck_assert_int_eq(pool_db_count(p), 1);
    ck_assert_ptr_null(pool_db_get(p, "other", err, sizeof(err)));
    ck_assert_str_eq(err, "database \"other\" does not exist");
    ck_assert_ptr_null(pool_db_get(p, "../only", err, sizeof(err)));

    strcpy(rules[0].name, "*");
    pool_set_rules(p, rules, 1);
    ck_assert_ptr_nonnull(pool_db_get(p, "other", err, sizeof(err)));
    ck_assert_int_eq(pool_db_count(p), 2);

    bool opened = true;
    storage_conn *c = pool_backend_acquire(db, &opened);
    ck_assert_ptr_nonnull(c);
    ck_assert(!opened);
    ck_assert_int_eq(pool_db_backends(db), 1);
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_ACTIVE);
    pool_backend_release(db, c);
    ck_assert_int_eq(pool_db_backends(db), 0);
    pool_free(p);
}
END_TEST

START_TEST(test_get_upstream)
{
    char err[256];
    pool *p = pool_new(engine);
    pool_db_rule rules[2];
    memset(rules, 0, sizeof(rules));
    strcpy(rules[0].name, "app");
    ck_assert(pool_db_rule_parse("host=127.0.0.1 port=5433 user=u", &rules[0], err, sizeof(err)));
    strcpy(rules[1].name, "*");
    rules[1].engine = STORAGE_SQLITE;
    pool_set_rules(p, rules, 2);

    pool_db *app = pool_db_get(p, "app", err, sizeof(err));
    ck_assert_ptr_nonnull(app);
    ck_assert_int_eq(pool_db_engine(app), STORAGE_POSTGRES);
    ck_assert_ptr_nonnull(pool_db_upstream(app));
    ck_assert_int_eq(pool_db_upstream(app)->port, 5433);
    ck_assert_str_eq(pool_db_upstream(app)->user, "u");
    pool_db *lite = pool_db_get(p, "lite", err, sizeof(err));
    ck_assert_ptr_nonnull(lite);
    ck_assert_ptr_null(pool_db_upstream(lite));
    ck_assert_int_eq(pool_db_engine(lite), STORAGE_SQLITE);

    /* a reload moves the upstream for the next lookup */
    ck_assert(pool_db_rule_parse("host=127.0.0.1 port=5434", &rules[0], err, sizeof(err)));
    pool_set_rules(p, rules, 2);
    ck_assert_ptr_eq(pool_db_get(p, "app", err, sizeof(err)), app);
    ck_assert_int_eq(pool_db_upstream(app)->port, 5434);
    ck_assert_int_eq(pool_db_count(p), 2);
    pool_free(p);
}
END_TEST

START_TEST(test_many_databases)
{
    char err[256], name[32];
    pool *p = pool_new(engine);
    pool_db_rule rule;
    memset(&rule, 0, sizeof(rule));
    strcpy(rule.name, "*");
    pool_set_rules(p, &rule, 1);
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "tenant%d", i);
        ck_assert_ptr_nonnull(pool_db_get(p, name, err, sizeof(err)));
    }
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof(name), "tenant%d", i);
        ck_assert_str_eq(pool_db_name(pool_db_get(p, name, err, sizeof(err))), name);
    }
    ck_assert_int_eq(pool_db_count(p), 5000);
    pool_free(p);
}
END_TEST

START_TEST(test_backend_state_str_every_value)
{
    ck_assert_str_eq(pool_backend_state_str(POOL_BACKEND_ACTIVE), "active");
    ck_assert_str_eq(pool_backend_state_str(POOL_BACKEND_IDLE), "idle");
    ck_assert_str_eq(pool_backend_state_str(POOL_BACKEND_CLOSING), "closing");
    ck_assert_str_eq(pool_backend_state_str((pool_backend_state)99), "unknown");
}
END_TEST

START_TEST(test_limits_defaults)
{
    pool_limits l;
    pool_limits_defaults(&l);
    ck_assert_int_eq(l.idle_max, 20);
    ck_assert_uint_eq(l.idle_timeout_us, 600u * 1000000u);
    ck_assert_uint_eq(l.lifetime_us, 3600u * 1000000u);
}
END_TEST

/* ---- idle backends, on a clock the test moves (seconds) ---- */

static uint64_t fake_now_us;

static uint64_t fake_clock(void *arg)
{
    return fake_now_us;
}

#define SEC 1000000u

static pool *idle_pool(int idle_max, unsigned idle_timeout_s, unsigned lifetime_s)
{
    pool *p = pool_new(engine);
    pool_db_rule rule;
    memset(&rule, 0, sizeof(rule));
    strcpy(rule.name, "*");
    pool_set_rules(p, &rule, 1);
    fake_now_us = 1000 * SEC;
    pool_set_clock(p, fake_clock, NULL);
    pool_limits l = {.idle_max = idle_max,
                     .idle_timeout_us = (uint64_t)idle_timeout_s * SEC,
                     .lifetime_us = (uint64_t)lifetime_s * SEC};
    pool_set_limits(p, &l);
    return p;
}

static pool_db *get_db(pool *p, const char *name)
{
    char err[256];
    pool_db *db = pool_db_get(p, name, err, sizeof(err));
    ck_assert_msg(db != NULL, "%s", err);
    return db;
}

static storage_conn *acquire(pool_db *db, bool want_opened)
{
    bool opened = !want_opened;
    storage_conn *c = pool_backend_acquire(db, &opened);
    ck_assert_ptr_nonnull(c);
    ck_assert_int_eq(opened, want_opened);
    return c;
}

/* pool_expire's receiver: collects what it is told to close. */
typedef struct closed_list {
    storage_conn *conns[64];
    pool_db *dbs[64];
    int n;
} closed_list;

static void collect_close(pool_db *db, storage_conn *c, void *arg)
{
    closed_list *l = arg;
    ck_assert_int_lt(l->n, 64);
    l->dbs[l->n] = db;
    l->conns[l->n++] = c;
}

static void release_closed(closed_list *l)
{
    for (int i = 0; i < l->n; i++)
        pool_backend_release(l->dbs[i], l->conns[i]);
    l->n = 0;
}

/* The lifecycle on the fake clock: idle -> paused after pause_after_us,
 * one cold start however many clients arrive, the resume timed by the first
 * OPEN, a line's idle_timeout over the global one. */
START_TEST(test_lifecycle)
{
    pool *p = pool_new(engine);
    pool_db_rule rules[2];
    char err[256];
    memset(rules, 0, sizeof(rules));
    strcpy(rules[0].name, "never");
    ck_assert(pool_db_rule_parse("engine=sqlite idle_timeout=0", &rules[0], err, sizeof(err)));
    strcpy(rules[1].name, "*");
    ck_assert(pool_db_rule_parse("engine=sqlite", &rules[1], err, sizeof(err)));
    ck_assert_int_eq(rules[1].ov.idle_timeout, -1);
    pool_set_rules(p, rules, 2);
    fake_now_us = 1000 * SEC;
    pool_set_clock(p, fake_clock, NULL);
    pool_limits l = {.idle_max = 4, .idle_timeout_us = 600 * SEC, .lifetime_us = 3600 * SEC,
                     .pause_after_us = 10 * SEC};
    pool_set_limits(p, &l);
    closed_list cl = {0};
    pool_db_lifecycle lc;

    pool_db *db = get_db(p, "life");
    pool_db *never = get_db(p, "never");
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_IDLE); /* nothing open yet */
    storage_conn *a = acquire(db, false);
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_ACTIVE);
    pool_db_opened(db);
    storage_conn *b = acquire(db, false);
    pool_db_opened(db);
    storage_conn *n = acquire(never, false);
    pool_db_opened(never);
    ck_assert(pool_backend_park(db, a));
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_ACTIVE); /* b is still out */
    ck_assert(pool_backend_park(db, b));
    ck_assert(pool_backend_park(never, n));
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_IDLE);

    fake_now_us += 9 * SEC;
    ck_assert_int_eq(pool_pause_idle(p, collect_close, NULL, &cl), 0);
    fake_now_us += 1 * SEC;
    ck_assert_int_eq(pool_pause_idle(p, collect_close, NULL, &cl), 1); /* not "never" */
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_PAUSING);
    ck_assert_int_eq(cl.n, 2);
    release_closed(&cl);
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_PAUSED);
    ck_assert_int_eq(pool_db_get_state(never), POOL_DB_IDLE);
    fake_now_us += 5 * SEC;
    pool_db_lifecycle_get(db, &lc);
    ck_assert_uint_eq(lc.paused_for_us, 5 * SEC);
    ck_assert_uint_eq(lc.cold_starts, 0);
    ck_assert_int_eq(lc.idle_timeout, 10);
    pool_db_lifecycle_get(never, &lc);
    ck_assert_int_eq(lc.idle_timeout, 0);

    /* two clients arrive: one cold start, timed by the first OPEN */
    storage_conn *c = acquire(db, false);
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_RESUMING);
    storage_conn *d = acquire(db, false);
    fake_now_us += 2000;
    pool_db_opened(db);
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_ACTIVE);
    fake_now_us += 5000;
    pool_db_opened(db); /* the second OPEN: no second resume */
    pool_db_lifecycle_get(db, &lc);
    ck_assert_uint_eq(lc.cold_starts, 1);
    ck_assert_uint_eq(lc.last_resume_us, 2000);
    ck_assert_uint_eq(lc.resume_p50_us, 2000);
    ck_assert_uint_eq(lc.resume_p99_us, 2000);
    ck_assert_uint_eq(lc.paused_for_us, 0);
    pool_backend_release(db, c);
    pool_backend_release(db, d);
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_IDLE);

    /* paused at once when nothing is open; a resume whose OPEN fails ends idle */
    fake_now_us += 10 * SEC;
    ck_assert_int_eq(pool_pause_idle(p, collect_close, NULL, &cl), 1);
    ck_assert_int_eq(cl.n, 0);
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_PAUSED);
    storage_conn *e = acquire(db, false);
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_RESUMING);
    pool_backend_release(db, e);
    ck_assert_int_eq(pool_db_get_state(db), POOL_DB_IDLE);
    pool_db_lifecycle_get(db, &lc);
    ck_assert_uint_eq(lc.cold_starts, 2);
    ck_assert_uint_eq(lc.last_resume_us, 2000); /* the failed one is not a resume */
    pool_free(p);
}
END_TEST

START_TEST(test_idle_list_is_lifo)
{
    pool *p = idle_pool(20, 600, 3600);
    pool_db *db = get_db(p, "app");
    storage_conn *c1 = acquire(db, false), *c2 = acquire(db, false), *c3 = acquire(db, false);
    ck_assert_int_eq(pool_db_backends(db), 3);
    ck_assert_uint_eq(pool_db_opened_total(db), 3);
    ck_assert(pool_backend_reusable(db, c1));
    ck_assert(pool_backend_park(db, c1));
    fake_now_us += SEC;
    ck_assert(pool_backend_park(db, c2));
    fake_now_us += SEC;
    ck_assert(pool_backend_park(db, c3));
    ck_assert_int_eq(pool_db_backends(db), 0);
    ck_assert_int_eq(pool_db_idle_backends(db), 3);
    ck_assert_int_eq(pool_idle_backends(p), 3);

    /* the warmest first */
    ck_assert_ptr_eq(acquire(db, true), c3);
    ck_assert_ptr_eq(acquire(db, true), c2);
    ck_assert(pool_backend_park(db, c3));
    ck_assert_ptr_eq(acquire(db, true), c3);
    ck_assert_ptr_eq(acquire(db, true), c1);
    storage_conn *c4 = acquire(db, false); /* none idle: a new one */
    ck_assert_uint_eq(pool_db_opened_total(db), 4);
    ck_assert_uint_eq(pool_db_reused_total(db), 4);
    ck_assert_int_eq(pool_db_backends(db), 4);
    ck_assert_int_eq(pool_db_idle_backends(db), 0);
    ck_assert_int_eq(pool_idle_backends(p), 0);

    /* another database's idle backends are its own */
    pool_db *other = get_db(p, "other");
    ck_assert(pool_backend_park(db, c4));
    storage_conn *o1 = acquire(other, false);
    ck_assert_ptr_ne(o1, c4);
    pool_backend_release(other, o1);
    ck_assert_ptr_eq(acquire(db, true), c4);

    pool_backend_release(db, c1);
    pool_backend_release(db, c2);
    pool_backend_release(db, c3);
    pool_backend_release(db, c4);
    ck_assert_int_eq(pool_db_backends(db), 0);
    pool_free(p);
}
END_TEST

START_TEST(test_idle_max_per_database)
{
    pool *p = idle_pool(2, 600, 3600);
    pool_db *db = get_db(p, "app");
    storage_conn *c[3];
    for (int i = 0; i < 3; i++)
        c[i] = acquire(db, false);
    ck_assert(pool_backend_park(db, c[0]));
    ck_assert(pool_backend_park(db, c[1]));
    ck_assert(pool_backend_reusable(db, c[2])); /* reusable, but there is no room */
    ck_assert(!pool_backend_park(db, c[2]));
    ck_assert_int_eq(pool_db_backends(db), 1); /* still the caller's, to close */
    pool_backend_release(db, c[2]);
    ck_assert_int_eq(pool_db_idle_backends(db), 2);
    pool_free(p); /* frees the idle ones */
}
END_TEST

START_TEST(test_reuse_off)
{
    /* sqlite_pool_size = 0 */
    pool *p = idle_pool(0, 600, 3600);
    pool_db *db = get_db(p, "app");
    storage_conn *c = acquire(db, false);
    ck_assert(!pool_backend_reusable(db, c));
    ck_assert(!pool_backend_park(db, c));
    pool_backend_release(db, c);
    pool_free(p);

    /* server_lifetime = 0: use once, as in PgBouncer */
    p = idle_pool(20, 600, 0);
    db = get_db(p, "app");
    c = acquire(db, false);
    ck_assert(!pool_backend_reusable(db, c));
    ck_assert(!pool_backend_park(db, c));
    pool_backend_release(db, c);
    pool_free(p);
}
END_TEST

START_TEST(test_expire_idle_timeout)
{
    pool *p = idle_pool(20, 10, 3600);
    pool_db *db = get_db(p, "app");
    storage_conn *a = acquire(db, false), *b = acquire(db, false);
    ck_assert(pool_backend_park(db, a));
    fake_now_us += 5 * SEC;
    ck_assert(pool_backend_park(db, b));
    closed_list l = {.n = 0};
    ck_assert_int_eq(pool_expire(p, collect_close, &l), 0);
    fake_now_us += 5 * SEC; /* a: idle 10 s, b: 5 s */
    ck_assert_int_eq(pool_expire(p, collect_close, &l), 1);
    ck_assert_ptr_eq(l.conns[0], a);
    ck_assert_ptr_eq(l.dbs[0], db);
    ck_assert_int_eq(pool_db_closing_backends(db), 1);
    ck_assert_int_eq(pool_closing_backends(p), 1);
    ck_assert_int_eq(pool_db_idle_backends(db), 1);
    release_closed(&l);
    ck_assert_int_eq(pool_db_closing_backends(db), 0);
    ck_assert_int_eq(pool_closing_backends(p), 0);
    /* reuse restarts the idle clock */
    ck_assert_ptr_eq(acquire(db, true), b);
    fake_now_us += 9 * SEC;
    ck_assert(pool_backend_park(db, b));
    fake_now_us += 9 * SEC;
    ck_assert_int_eq(pool_expire(p, collect_close, &l), 0);
    fake_now_us += SEC;
    ck_assert_int_eq(pool_expire(p, collect_close, &l), 1);
    release_closed(&l);
    ck_assert_int_eq(pool_idle_backends(p), 0);
    pool_free(p);
}
END_TEST

START_TEST(test_expire_lifetime)
{
    pool *p = idle_pool(20, 0, 100); /* no idle timeout */
    pool_db *db = get_db(p, "app");
    storage_conn *old = acquire(db, false);
    fake_now_us += 50 * SEC;
    storage_conn *young = acquire(db, false);
    ck_assert(pool_backend_park(db, young));
    fake_now_us += 40 * SEC;
    ck_assert(pool_backend_park(db, old)); /* 90 s old: still fine */
    closed_list l = {.n = 0};
    fake_now_us += 10 * SEC; /* old: 100 s, young: 50 s */
    /* an expired backend is not handed out, even though it is the warmest */
    ck_assert_ptr_eq(acquire(db, true), young);
    ck_assert_int_eq(pool_expire(p, collect_close, &l), 1);
    ck_assert_ptr_eq(l.conns[0], old);
    release_closed(&l);
    /* one used past its lifetime is not parked again */
    fake_now_us += 50 * SEC;
    ck_assert(!pool_backend_reusable(db, young));
    ck_assert(!pool_backend_park(db, young));
    pool_backend_release(db, young);
    pool_free(p);
}
END_TEST

START_TEST(test_expire_over_limit_after_reload)
{
    pool *p = idle_pool(5, 600, 3600);
    pool_db *db = get_db(p, "app");
    storage_conn *c[5];
    for (int i = 0; i < 5; i++)
        c[i] = acquire(db, false);
    for (int i = 0; i < 5; i++) {
        ck_assert(pool_backend_park(db, c[i]));
        fake_now_us += SEC;
    }
    pool_limits l2 = {.idle_max = 2, .idle_timeout_us = 600u * SEC, .lifetime_us = 3600u * SEC};
    pool_set_limits(p, &l2);
    closed_list l = {.n = 0};
    ck_assert_int_eq(pool_expire(p, collect_close, &l), 3);
    /* the least recently used go */
    ck_assert_ptr_eq(l.conns[0], c[0]);
    ck_assert_ptr_eq(l.conns[1], c[1]);
    ck_assert_ptr_eq(l.conns[2], c[2]);
    release_closed(&l);
    ck_assert_int_eq(pool_db_idle_backends(db), 2);
    ck_assert_ptr_eq(acquire(db, true), c[4]);
    ck_assert_ptr_eq(acquire(db, true), c[3]);
    pool_backend_release(db, c[3]);
    pool_backend_release(db, c[4]);
    pool_free(p);
}
END_TEST

START_TEST(test_drain_closes_every_idle_backend)
{
    pool *p = idle_pool(20, 600, 3600);
    char name[16];
    storage_conn *held = NULL;
    pool_db *held_db = NULL;
    for (int d = 0; d < 4; d++) {
        snprintf(name, sizeof(name), "db%d", d);
        pool_db *db = get_db(p, name);
        storage_conn *a = acquire(db, false), *b = acquire(db, false);
        ck_assert(pool_backend_park(db, a));
        if (d == 2) {
            held = b;
            held_db = db;
        } else {
            ck_assert(pool_backend_park(db, b));
        }
    }
    ck_assert_int_eq(pool_idle_backends(p), 7);
    closed_list l = {.n = 0};
    ck_assert_int_eq(pool_expire(p, collect_close, &l), 0);
    pool_drain(p);
    /* a client still connected keeps its backend, which is then not kept */
    ck_assert(!pool_backend_reusable(held_db, held));
    ck_assert(!pool_backend_park(held_db, held));
    ck_assert_int_eq(pool_expire(p, collect_close, &l), 7);
    ck_assert_int_eq(pool_idle_backends(p), 0);
    ck_assert_int_eq(pool_closing_backends(p), 7);
    release_closed(&l);
    pool_backend_release(held_db, held);
    ck_assert_int_eq(pool_closing_backends(p), 0);
    /* nothing is reused while draining */
    pool_db *db = get_db(p, "db0");
    storage_conn *c = acquire(db, false);
    pool_backend_release(db, c);
    pool_free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("names");
    tcase_add_test(tc, test_state_str_every_value);
    tcase_add_test(tc, test_name_validation);
    tcase_add_test(tc, test_rule_parse);
    tcase_add_test(tc, test_rule_parse_upstream);
    suite_add_tcase(s, tc);
    TCase *tdb = tcase_create("databases");
    tcase_add_checked_fixture(tdb, setup, teardown);
    tcase_add_test(tdb, test_get_with_rules);
    tcase_add_test(tdb, test_get_upstream);
    tcase_add_test(tdb, test_many_databases);
    suite_add_tcase(s, tdb);
    TCase *tidle = tcase_create("idle backends");
    tcase_add_checked_fixture(tidle, setup, teardown);
    tcase_add_test(tidle, test_backend_state_str_every_value);
    tcase_add_test(tidle, test_limits_defaults);
    tcase_add_test(tidle, test_idle_list_is_lifo);
    tcase_add_test(tidle, test_lifecycle);
    tcase_add_test(tidle, test_idle_max_per_database);
    tcase_add_test(tidle, test_reuse_off);
    tcase_add_test(tidle, test_expire_idle_timeout);
    tcase_add_test(tidle, test_expire_lifetime);
    tcase_add_test(tidle, test_expire_over_limit_after_reload);
    tcase_add_test(tidle, test_drain_closes_every_idle_backend);
    suite_add_tcase(s, tidle);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
