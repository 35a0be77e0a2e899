/* Unit tests for proxy/admin.c: the console's command tokenizer, its names,
 * who may log in, and the result sets SHOW builds from a server's sessions
 * (a proxy_server assembled by hand: no loop, no pool, no sockets). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static admin_cmd cmd;
static char err[256];

static bool parse(const char *sql)
{
    err[0] = '\0';
    return admin_cmd_parse(sql, &cmd, err, sizeof(err));
}

START_TEST(test_parse_show)
{
    ck_assert(parse("SHOW POOLS"));
    ck_assert_int_eq(cmd.kind, ADMIN_CMD_SHOW);
    ck_assert_int_eq(cmd.show, ADMIN_SHOW_POOLS);
    ck_assert(parse("  show   stats_totals ; "));
    ck_assert_int_eq(cmd.show, ADMIN_SHOW_STATS_TOTALS);
    ck_assert(parse("sHoW Clients;"));
    ck_assert_int_eq(cmd.show, ADMIN_SHOW_CLIENTS);
    for (int i = 0; i < ADMIN_SHOW_NITEMS; i++) {
        char sql[64];
        snprintf(sql, sizeof(sql), "SHOW %s%s", admin_show_str((admin_show)i),
                 i == ADMIN_SHOW_TOP ? " queries" : "");
        ck_assert_msg(parse(sql), "%s: %s", sql, err);
        ck_assert_int_eq(cmd.show, i);
    }
    /* the ledger's views take a database */
    ck_assert(parse("SHOW USAGE"));
    ck_assert_str_eq(cmd.arg, "");
    ck_assert(parse("show usage demo;"));
    ck_assert_int_eq(cmd.show, ADMIN_SHOW_USAGE);
    ck_assert_str_eq(cmd.arg, "demo");
    ck_assert(parse("SHOW BILL demo"));
    ck_assert_int_eq(cmd.show, ADMIN_SHOW_BILL);
    ck_assert_str_eq(cmd.arg, "demo");
    ck_assert(parse("SHOW TOP QUERIES \"My Db\""));
    ck_assert_int_eq(cmd.show, ADMIN_SHOW_TOP);
    ck_assert_str_eq(cmd.arg, "My Db");
    ck_assert(!parse("SHOW TOP"));
    ck_assert_msg(strstr(err, "SHOW TOP QUERIES") != NULL, "%s", err);
    ck_assert(!parse("SHOW TOP TEN"));
    ck_assert(!parse("SHOW USAGE a b"));
    ck_assert(!parse("SHOW POOLS demo")); /* the others take none */
}
END_TEST

START_TEST(test_parse_commands)
{
    ck_assert(parse("PAUSE"));
    ck_assert_int_eq(cmd.kind, ADMIN_CMD_PAUSE);
    ck_assert_str_eq(cmd.arg, "");
    ck_assert(parse("pause mydb;"));
    ck_assert_str_eq(cmd.arg, "mydb");
    ck_assert(parse("RESUME \"My \"\"Db\"\"\""));
    ck_assert_int_eq(cmd.kind, ADMIN_CMD_RESUME);
    ck_assert_str_eq(cmd.arg, "My \"Db\"");
    ck_assert(parse("kill tenant-42"));
    ck_assert_int_eq(cmd.kind, ADMIN_CMD_KILL);
    ck_assert_str_eq(cmd.arg, "tenant-42");
    ck_assert(parse("RELOAD;"));
    ck_assert_int_eq(cmd.kind, ADMIN_CMD_RELOAD);
    ck_assert(parse("SHUTDOWN"));
    ck_assert_int_eq(cmd.kind, ADMIN_CMD_SHUTDOWN);
    ck_assert(parse("shutdown wait_for_clients;"));
    ck_assert_int_eq(cmd.kind, ADMIN_CMD_SHUTDOWN);
    ck_assert(parse("SET log_level = 'debug'"));
    ck_assert_int_eq(cmd.kind, ADMIN_CMD_SET);
    ck_assert_str_eq(cmd.arg, "log_level");
    ck_assert_str_eq(cmd.value, "debug");
    ck_assert(parse("set MAX_CLIENT_CONN to 5;"));
    ck_assert_str_eq(cmd.arg, "max_client_conn");
    ck_assert_str_eq(cmd.value, "5");
    ck_assert(parse(""));
    ck_assert_int_eq(cmd.kind, ADMIN_CMD_EMPTY);
    ck_assert(parse(" ; ;"));
    ck_assert_int_eq(cmd.kind, ADMIN_CMD_EMPTY);
}
END_TEST

START_TEST(test_parse_errors)
{
    ck_assert(!parse("select 1"));
    ck_assert_str_eq(err, "invalid command 'select 1', use SHOW HELP;");
    ck_assert(!parse("SHOW"));
    ck_assert(!parse("SHOW NOTHING"));
    ck_assert(strstr(err, "NOTHING") != NULL);
    ck_assert(!parse("SHOW POOLS CLIENTS"));
    ck_assert(!parse("SHOW POOLS; SHOW CLIENTS"));
    ck_assert(!parse("PAUSE a b"));
    ck_assert(!parse("PAUSE \"unterminated"));
    ck_assert(!parse("RELOAD now"));
    ck_assert(!parse("SET"));
    ck_assert(!parse("SET a"));
    ck_assert(!parse("SET a ="));
    ck_assert(!parse("SET a 1"));
    ck_assert(!parse("\x01\x02"));
    ck_assert(!parse("(SHOW POOLS)"));
    char longname[400];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    char sql[420];
    snprintf(sql, sizeof(sql), "PAUSE %s", longname);
    ck_assert(!parse(sql));
}
END_TEST

START_TEST(test_names)
{
    for (int i = 0; i < ADMIN_CMD_NKINDS; i++)
        ck_assert_str_ne(admin_cmd_kind_str((admin_cmd_kind)i), "unknown");
    ck_assert_str_eq(admin_cmd_kind_str(ADMIN_CMD_PAUSE), "PAUSE");
    ck_assert_str_eq(admin_cmd_kind_str(ADMIN_CMD_NKINDS), "unknown");
    ck_assert_str_eq(admin_show_str(ADMIN_SHOW_STATS_AVERAGES), "stats_averages");
    ck_assert_str_eq(admin_show_str(ADMIN_SHOW_NITEMS), "unknown");
    ck_assert_str_eq(admin_role_str(ADMIN_ROLE_NONE), "none");
    ck_assert_str_eq(admin_role_str(ADMIN_ROLE_STATS), "stats");
    ck_assert_str_eq(admin_role_str(ADMIN_ROLE_ADMIN), "admin");
    ck_assert(admin_db_is_console("dormouse"));
    ck_assert(admin_db_is_console("pgbouncer"));
    ck_assert(!admin_db_is_console("Dormouse"));
    ck_assert(!admin_db_is_console("postgres"));
}
END_TEST

START_TEST(test_users)
{
    ck_assert(admin_user_listed("admin", "admin"));
    ck_assert(admin_user_listed(" a , admin ,b", "admin"));
    ck_assert(admin_user_listed("a,b", "b"));
    ck_assert(!admin_user_listed("administrator", "admin"));
    ck_assert(!admin_user_listed("admin", "admi"));
    ck_assert(!admin_user_listed("", "admin"));
    ck_assert(!admin_user_listed(",,", ""));
    proxy_config cfg;
    proxy_config_defaults(&cfg);
    snprintf(cfg.admin_users, sizeof(cfg.admin_users), "root, boss");
    snprintf(cfg.stats_users, sizeof(cfg.stats_users), "watcher,boss");
    ck_assert_int_eq(admin_role_for(&cfg, "boss"), ADMIN_ROLE_ADMIN);
    ck_assert_int_eq(admin_role_for(&cfg, "root"), ADMIN_ROLE_ADMIN);
    ck_assert_int_eq(admin_role_for(&cfg, "watcher"), ADMIN_ROLE_STATS);
    ck_assert_int_eq(admin_role_for(&cfg, "mallory"), ADMIN_ROLE_NONE);
}
END_TEST

START_TEST(test_peer_split)
{
    char addr[80];
    int port;
    admin_peer_split("127.0.0.1:5555", addr, sizeof(addr), &port);
    ck_assert_str_eq(addr, "127.0.0.1");
    ck_assert_int_eq(port, 5555);
    admin_peer_split("[::1]:6000", addr, sizeof(addr), &port);
    ck_assert_str_eq(addr, "::1");
    ck_assert_int_eq(port, 6000);
    admin_peer_split("unix", addr, sizeof(addr), &port);
    ck_assert_str_eq(addr, "unix");
    ck_assert_int_eq(port, 0);
}
END_TEST

/* ---- result sets ---- */

typedef struct result {
    char cols[32][64];
    int ncols;
    uint32_t types[32];
    char cells[64][32][64]; /* [row][col]; "<NULL>" for NULL */
    int nrows;
    char tag[64];
} result;

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Decodes RowDescription, DataRows and CommandComplete. */
static void decode(const wire_buf *b, result *r)
{
    memset(r, 0, sizeof(*r));
    size_t off = 0;
    ck_assert(!b->oom);
    while (off < b->len) {
        wire_frame f;
        ck_assert_int_eq(wire_frame_parse(b->data + off, b->len - off, 1 << 20, &f), WIRE_FRAME_OK);
        off += f.total_len;
        const uint8_t *p = f.body;
        if (f.type == 'T') {
            r->ncols = get16(p);
            p += 2;
            for (int i = 0; i < r->ncols; i++) {
                snprintf(r->cols[i], sizeof(r->cols[i]), "%s", (const char *)p);
                p += strlen((const char *)p) + 1;
                r->types[i] = get32(p + 6);
                p += 18;
            }
        } else if (f.type == 'D') {
            ck_assert_int_lt(r->nrows, 64);
            int n = get16(p);
            ck_assert_int_eq(n, r->ncols);
            p += 2;
            for (int i = 0; i < n; i++) {
                int32_t len = (int32_t)get32(p);
                p += 4;
                if (len < 0) {
                    snprintf(r->cells[r->nrows][i], 64, "<NULL>");
                } else {
                    snprintf(r->cells[r->nrows][i], 64, "%.*s", len, (const char *)p);
                    p += len;
                }
            }
            r->nrows++;
        } else if (f.type == 'C') {
            snprintf(r->tag, sizeof(r->tag), "%s", (const char *)p);
        }
    }
}

static int col(const result *r, const char *name)
{
    for (int i = 0; i < r->ncols; i++)
        if (!strcmp(r->cols[i], name))
            return i;
    ck_abort_msg("no column %s", name);
    return -1;
}

static proxy_server *srv;

static proxy_session *add_session(const char *db, const char *user, session_state st, bool admin)
{
    proxy_session *s = calloc(1, sizeof(*s));
    s->server = srv;
    s->loop = &srv->loops[0];
    s->id = (uint32_t)(srv->next_session_id++);
    s->fd = -1;
    s->state = st;
    s->admin = admin;
    s->database = db; /* literals: they outlive the session */
    s->user = user;
    s->application_name = "";
    snprintf(s->peer, sizeof(s->peer), "127.0.0.1:%u", 40000 + s->id);
    if (!admin && st >= SESSION_IDLE && st != SESSION_CLOSING)
        s->backend = (storage_conn *)(uintptr_t)(0x1000 + s->id); /* never dereferenced */
    s->connect_time = 1700000000;
    s->next = srv->loops[0].sessions;
    srv->loops[0].sessions = s;
    return s;
}

static void setup(void)
{
    srv = calloc(1, sizeof(*srv));
    proxy_config_defaults(&srv->cfg);
    srv->next_session_id = 1;
    srv->nloops = 1;
    srv->loops[0].server = srv;
    srv->stats = proxy_stats_new(0);
}

static void teardown(void)
{
    while (srv->loops[0].sessions) {
        proxy_session *s = srv->loops[0].sessions;
        srv->loops[0].sessions = s->next;
        free(s);
    }
    proxy_stats_free(srv->stats);
    free(srv->paused);
    free(srv);
}

START_TEST(test_show_pools)
{
    add_session("x", "u", SESSION_IDLE, false);
    add_session("x", "u", SESSION_BUSY, false);
    add_session("x", "u", SESSION_OPENING, false);
    proxy_session *held = add_session("x", "u", SESSION_IN_TX, false);
    held->held_since_us = 1;
    add_session("x", "v", SESSION_IDLE, false);
    add_session("y", "u", SESSION_STARTUP, false); /* not logged in: not shown */
    add_session("y", "u", SESSION_CLOSING, false); /* leaving: not shown */
    add_session("dormouse", "admin", SESSION_IDLE, true);
    wire_buf b;
    wire_buf_init(&b);
    admin_show_build(srv, ADMIN_SHOW_POOLS, &b);
    result r;
    decode(&b, &r);
    ck_assert_int_eq(r.ncols, 16);
    ck_assert_str_eq(r.cols[0], "database");
    ck_assert_str_eq(r.cols[15], "pool_mode");
    ck_assert_uint_eq(r.types[0], WIRE_OID_TEXT);
    ck_assert_uint_eq(r.types[2], WIRE_OID_INT4);
    ck_assert_str_eq(r.tag, "SHOW");
    ck_assert_int_eq(r.nrows, 3); /* dormouse/admin, x/u, x/v: sorted */
    ck_assert_str_eq(r.cells[0][0], "dormouse");
    ck_assert_str_eq(r.cells[0][col(&r, "pool_mode")], "statement");
    ck_assert_str_eq(r.cells[1][0], "x");
    ck_assert_str_eq(r.cells[1][1], "u");
    ck_assert_str_eq(r.cells[1][col(&r, "cl_active")], "2");
    ck_assert_str_eq(r.cells[1][col(&r, "cl_waiting")], "2");
    ck_assert_str_eq(r.cells[1][col(&r, "sv_active")], "3");
    ck_assert_str_eq(r.cells[1][col(&r, "sv_login")], "1");
    ck_assert_str_eq(r.cells[1][col(&r, "pool_mode")], "session");
    ck_assert_str_eq(r.cells[2][1], "v");
    ck_assert_str_eq(r.cells[2][col(&r, "cl_active")], "1");
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_show_clients_and_servers)
{
    add_session("x", "u", SESSION_IDLE, false);
    add_session("x", "u", SESSION_OPENING, false);
    add_session("dormouse", "admin", SESSION_IDLE, true);
    wire_buf b;
    wire_buf_init(&b);
    admin_show_build(srv, ADMIN_SHOW_CLIENTS, &b);
    result r;
    decode(&b, &r);
    ck_assert_int_eq(r.ncols, 21);
    ck_assert_str_eq(r.cols[20], "id");
    ck_assert_uint_eq(r.types[20], WIRE_OID_INT8);
    ck_assert_int_eq(r.nrows, 3);
    ck_assert_str_eq(r.cells[1][col(&r, "type")], "C");
    ck_assert_str_eq(r.cells[1][col(&r, "addr")], "127.0.0.1");
    ck_assert_str_eq(r.cells[1][col(&r, "state")], "active");
    ck_assert_str_eq(r.cells[2][col(&r, "state")], "waiting");
    ck_assert_str_eq(r.cells[1][col(&r, "connect_time")], "2023-11-14 22:13:20 UTC");
    wire_buf_reset(&b);
    admin_show_build(srv, ADMIN_SHOW_SERVERS, &b);
    decode(&b, &r);
    ck_assert_int_eq(r.nrows, 1); /* the opening one has no backend yet here; the console none */
    ck_assert_str_eq(r.cells[0][col(&r, "type")], "S");
    ck_assert_str_eq(r.cells[0][col(&r, "addr")], "<NULL>");
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_show_stats)
{
    proxy_stats_db *d = proxy_stats_db_get(srv->stats, "b");
    proxy_stats_db_get(srv->stats, "a");
    proxy_stats_query_done(d, 100);
    proxy_stats_xact_done(d, 150);
    proxy_stats_received(d, 10);
    proxy_stats_sent(d, 20);
    wire_buf b;
    wire_buf_init(&b);
    admin_show_build(srv, ADMIN_SHOW_STATS, &b);
    result r;
    decode(&b, &r);
    ck_assert_int_eq(r.ncols, 19);
    ck_assert_int_eq(r.nrows, 2);
    ck_assert_str_eq(r.cells[1][col(&r, "total_cold_starts")], "0"); /* no such pool database */
    ck_assert_str_eq(r.cells[0][0], "a");
    ck_assert_str_eq(r.cells[1][0], "b");
    ck_assert_str_eq(r.cells[1][col(&r, "total_query_count")], "1");
    ck_assert_str_eq(r.cells[1][col(&r, "total_xact_time")], "150");
    ck_assert_str_eq(r.cells[1][col(&r, "total_received")], "10");
    ck_assert_str_eq(r.cells[1][col(&r, "avg_query_count")], "0");
    ck_assert_uint_eq(r.types[1], WIRE_OID_INT8);
    wire_buf_reset(&b);
    admin_show_build(srv, ADMIN_SHOW_STATS_TOTALS, &b);
    decode(&b, &r);
    ck_assert_int_eq(r.ncols, 8);
    ck_assert_str_eq(r.cols[3], "bytes_received");
    ck_assert_str_eq(r.cells[1][col(&r, "bytes_sent")], "20");
    wire_buf_reset(&b);
    admin_show_build(srv, ADMIN_SHOW_STATS_AVERAGES, &b);
    decode(&b, &r);
    ck_assert_int_eq(r.ncols, 8);
    ck_assert_str_eq(r.cells[1][col(&r, "query_count")], "0");
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_show_misc)
{
    add_session("x", "u", SESSION_IDLE, false);
    add_session("x", "u", SESSION_AUTH, false);
    wire_buf b;
    wire_buf_init(&b);
    result r;
    admin_show_build(srv, ADMIN_SHOW_LISTS, &b);
    decode(&b, &r);
    ck_assert_int_eq(r.ncols, 2);
    ck_assert_str_eq(r.cells[0][0], "databases");
    ck_assert_str_eq(r.cells[4][0], "used_clients");
    ck_assert_str_eq(r.cells[4][1], "1");
    ck_assert_str_eq(r.cells[5][0], "login_clients");
    ck_assert_str_eq(r.cells[5][1], "1");
    wire_buf_reset(&b);
    admin_show_build(srv, ADMIN_SHOW_VERSION, &b);
    decode(&b, &r);
    ck_assert_str_eq(r.cols[0], "version");
    ck_assert_str_eq(r.cells[0][0], "Dormouse " DORMOUSE_VERSION);
    wire_buf_reset(&b);
    snprintf(srv->cfg.admin_users, sizeof(srv->cfg.admin_users), "boss");
    admin_show_build(srv, ADMIN_SHOW_CONFIG, &b);
    decode(&b, &r);
    ck_assert_str_eq(r.cols[2], "default");
    ck_assert_str_eq(r.cells[0][0], "admin_users");
    ck_assert_str_eq(r.cells[0][1], "boss");
    ck_assert_str_eq(r.cells[0][3], "yes");
    wire_buf_reset(&b);
    admin_show_build(srv, ADMIN_SHOW_USERS, &b);
    decode(&b, &r);
    ck_assert_int_eq(r.nrows, 2); /* boss (admin_users) and u (connected) */
    ck_assert_str_eq(r.cells[0][0], "boss");
    ck_assert_str_eq(r.cells[1][0], "u");
    ck_assert_str_eq(r.cells[1][col(&r, "current_client_connections")], "1");
    wire_buf_reset(&b);
    admin_show_build(srv, ADMIN_SHOW_DATABASES, &b); /* no pool: the consoles only */
    decode(&b, &r);
    ck_assert_int_eq(r.ncols, 25);
    ck_assert_int_eq(r.nrows, 2);
    ck_assert_str_eq(r.cells[0][col(&r, "engine")], "console");
    ck_assert_str_eq(r.cells[0][col(&r, "state")], "active");
    ck_assert_str_eq(r.cells[0][col(&r, "cold_starts")], "0");
    ck_assert_str_eq(r.cells[0][col(&r, "last_resume_ms")], "<NULL>");
    for (int i = 0; i < ADMIN_SHOW_NITEMS; i++) {
        if (i == ADMIN_SHOW_USAGE || i == ADMIN_SHOW_BILL || i == ADMIN_SHOW_TOP)
            continue; /* answered from the ledger (admin_usage.c, tested end to end) */
        wire_buf_reset(&b);
        admin_show_build(srv, (admin_show)i, &b);
        decode(&b, &r);
        ck_assert_str_eq(r.tag, "SHOW");
    }
    wire_buf_free(&b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("admin");
    TCase *tc = tcase_create("commands");
    tcase_add_test(tc, test_parse_show);
    tcase_add_test(tc, test_parse_commands);
    tcase_add_test(tc, test_parse_errors);
    tcase_add_test(tc, test_names);
    tcase_add_test(tc, test_users);
    tcase_add_test(tc, test_peer_split);
    suite_add_tcase(s, tc);
    tc = tcase_create("rows");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_show_pools);
    tcase_add_test(tc, test_show_clients_and_servers);
    tcase_add_test(tc, test_show_stats);
    tcase_add_test(tc, test_show_misc);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
