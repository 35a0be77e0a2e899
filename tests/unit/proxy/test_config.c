/* Unit tests for proxy/config.c: defaults, every key, errors with line numbers, overrides. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dormouse/proxy.h"

static char path[64];
static proxy_config cfg;

static void write_file(const char *text)
{
    strcpy(path, "/tmp/dm_cfg_XXXXXX");
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

START_TEST(test_defaults)
{
    char err[256];
    ck_assert(proxy_config_load(&cfg, NULL, NULL, err, sizeof(err)));
    ck_assert_str_eq(cfg.listen_addr, "127.0.0.1");
    ck_assert_int_eq(cfg.listen_port, 6432);
    ck_assert_str_eq(cfg.data_dir, "./data");
    ck_assert_int_eq(cfg.auth_type, PROXY_AUTH_TRUST);
    ck_assert_uint_eq(cfg.max_packet_size, 64u * 1024 * 1024);
    ck_assert_int_eq(cfg.ndatabases, 1);
    ck_assert_str_eq(cfg.databases[0].name, "*");
    ck_assert_int_eq(cfg.databases[0].engine, STORAGE_SQLITE);
    /* the built-in `* = engine=sqlite` overrides nothing: idle_timeout applies */
    ck_assert_int_eq(cfg.databases[0].ov.idle_timeout, -1);
    ck_assert_int_eq(cfg.databases[0].ov.pool_size, -1);
}
END_TEST

START_TEST(test_every_key)
{
    char err[256];
    write_file("; comment\n"
               "[dormouse]\n"
               "listen_addr = 0.0.0.0\n"
               "listen_port = 7000\n"
               "unix_socket_dir = /tmp/socks\n"
               "data_dir = /var/lib/dm\n"
               "auth_type = scram-sha-256\n"
               "auth_file = /etc/dm/users.txt\n"
               "max_client_conn = 77\n"
               "log_level = debug\n"
               "max_packet_size = 4096\n"
               "sqlite_workers = 3\n"
               "sqlite_busy_timeout = 250\n"
               "sqlite_synchronous = normal\n"
               "[databases]\n"
               "demo = engine=sqlite\n"
               "* = engine=sqlite\n");
    ck_assert_msg(proxy_config_load(&cfg, path, NULL, err, sizeof(err)), "%s", err);
    ck_assert_str_eq(cfg.listen_addr, "0.0.0.0");
    ck_assert_int_eq(cfg.listen_port, 7000);
    ck_assert_str_eq(cfg.unix_socket_dir, "/tmp/socks");
    ck_assert_str_eq(cfg.data_dir, "/var/lib/dm");
    ck_assert_int_eq(cfg.auth_type, PROXY_AUTH_SCRAM);
    ck_assert_str_eq(cfg.auth_file, "/etc/dm/users.txt");
    ck_assert_int_eq(cfg.max_client_conn, 77);
    ck_assert_int_eq(cfg.log_level, PROXY_LOG_DEBUG);
    ck_assert_uint_eq(cfg.max_packet_size, 4096);
    ck_assert_int_eq(cfg.sqlite_workers, 3);
    ck_assert_int_eq(cfg.sqlite_busy_timeout_ms, 250);
    ck_assert(!cfg.sqlite_synchronous_full);
    ck_assert_int_eq(cfg.ndatabases, 2);
    ck_assert_str_eq(cfg.databases[0].name, "demo");
    ck_assert_str_eq(cfg.databases[1].name, "*");
    ck_assert_str_eq(cfg.config_file, path);
}
END_TEST

START_TEST(test_errors_name_the_line)
{
    char err[256];
    write_file("[dormouse]\nlisten_port = 6432\nlisten_prot = 1\n");
    ck_assert(!proxy_config_load(&cfg, path, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, ":3: unknown setting \"listen_prot\"") != NULL, "%s", err);
    teardown();

    write_file("[dormouse]\nlisten_port = abc\n");
    ck_assert(!proxy_config_load(&cfg, path, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, ":2: listen_port") != NULL, "%s", err);
    teardown();

    write_file("[dormouse]\nauth_type = password\n");
    ck_assert(!proxy_config_load(&cfg, path, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, "auth_type") != NULL, "%s", err);
    teardown();

    write_file("[dormouse]\nauth_type = md5\n");
    ck_assert(!proxy_config_load(&cfg, path, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, "needs an auth_file") != NULL, "%s", err);
    teardown();

    write_file("[databases]\na/b = engine=sqlite\n");
    ck_assert(!proxy_config_load(&cfg, path, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, ":2:") != NULL, "%s", err);
    teardown();

    write_file("[databases]\ndemo = engine=mysql\n");
    ck_assert(!proxy_config_load(&cfg, path, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, "unknown engine") != NULL, "%s", err);
    teardown();

    write_file("[elsewhere]\nx = 1\n");
    ck_assert(!proxy_config_load(&cfg, path, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, "unknown section") != NULL, "%s", err);
    teardown();

    ck_assert(!proxy_config_load(&cfg, "/nonexistent/dm.ini", NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, "cannot open") != NULL, "%s", err);
}
END_TEST

START_TEST(test_overrides_win)
{
    char err[256];
    write_file("[dormouse]\nlisten_addr = 0.0.0.0\nlisten_port = 7000\ndata_dir = /a\n");
    proxy_config_overrides ov = {.listen_addr = "127.0.0.2", .listen_port = 7001,
                                 .data_dir = "/b", .unix_socket_dir = "/s", .log_level = "error"};
    ck_assert(proxy_config_load(&cfg, path, &ov, err, sizeof(err)));
    ck_assert_str_eq(cfg.listen_addr, "127.0.0.2");
    ck_assert_int_eq(cfg.listen_port, 7001);
    ck_assert_str_eq(cfg.data_dir, "/b");
    ck_assert_str_eq(cfg.unix_socket_dir, "/s");
    ck_assert_int_eq(cfg.log_level, PROXY_LOG_ERROR);
    ov.log_level = "loud";
    ck_assert(!proxy_config_load(&cfg, path, &ov, err, sizeof(err)));
}
END_TEST

START_TEST(test_auth_type_str_every_value)
{
    ck_assert_str_eq(proxy_auth_type_str(PROXY_AUTH_TRUST), "trust");
    ck_assert_str_eq(proxy_auth_type_str(PROXY_AUTH_MD5), "md5");
    ck_assert_str_eq(proxy_auth_type_str(PROXY_AUTH_SCRAM), "scram-sha-256");
    ck_assert_str_eq(proxy_auth_type_str(PROXY_AUTH_CERT), "cert");
    ck_assert_str_eq(proxy_auth_type_str(PROXY_AUTH_PLAIN), "plain");
    ck_assert_str_eq(proxy_auth_type_str(PROXY_AUTH_HBA), "hba");
    ck_assert_str_eq(proxy_auth_type_str((proxy_auth_type)42), "unknown");
}
END_TEST

START_TEST(test_backend_reuse_keys)
{
    char err[256];
    ck_assert(proxy_config_load(&cfg, NULL, NULL, err, sizeof(err)));
    ck_assert_int_eq(cfg.sqlite_pool_size, 20);
    ck_assert_int_eq(cfg.server_idle_timeout, 600);
    ck_assert_int_eq(cfg.server_lifetime, 3600);
    write_file("[dormouse]\nsqlite_pool_size = 0\nserver_idle_timeout = 5\nserver_lifetime = 0\n");
    ck_assert_msg(proxy_config_load(&cfg, path, NULL, err, sizeof(err)), "%s", err);
    ck_assert_int_eq(cfg.sqlite_pool_size, 0);
    ck_assert_int_eq(cfg.server_idle_timeout, 5);
    ck_assert_int_eq(cfg.server_lifetime, 0);
    teardown();
    write_file("[dormouse]\nsqlite_pool_size = -1\n");
    ck_assert(!proxy_config_load(&cfg, path, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, ":2: sqlite_pool_size") != NULL, "%s", err);
    teardown();
    write_file("[dormouse]\nserver_lifetime = soon\n");
    ck_assert(!proxy_config_load(&cfg, path, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, ":2: server_lifetime") != NULL, "%s", err);
}
END_TEST

START_TEST(test_auth_query_keys)
{
    char err[256];
    ck_assert(proxy_config_load(&cfg, NULL, NULL, err, sizeof(err)));
    ck_assert_str_eq(cfg.auth_user, "");
    ck_assert_str_eq(cfg.auth_query, PROXY_DEFAULT_AUTH_QUERY);
    ck_assert_ptr_nonnull(strstr(cfg.auth_query, "$1"));
    write_file("[dormouse]\nauth_user = pgbouncer\n"
               "auth_query = SELECT usename, passwd FROM pg_shadow WHERE usename=$1\n");
    ck_assert_msg(proxy_config_load(&cfg, path, NULL, err, sizeof(err)), "%s", err);
    ck_assert_str_eq(cfg.auth_user, "pgbouncer");
    ck_assert_str_eq(cfg.auth_query, "SELECT usename, passwd FROM pg_shadow WHERE usename=$1");
    teardown();
    write_file("[dormouse]\nauth_query =\n");
    ck_assert(!proxy_config_load(&cfg, path, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, ":2: auth_query must be") != NULL, "%s", err);
}
END_TEST

START_TEST(test_plans)
{
    char err[256];
    write_file("[plan:mine]\n"
               "description = mine\n"
               "price_per_million_queries = 2.5\n"
               "[plan:d1]\n"
               "included_rows_read = 0\n"
               "[plan:mine]\n"
               "min_billing_seconds = 60\n");
    ck_assert_msg(proxy_config_load(&cfg, path, NULL, err, sizeof(err)), "%s", err);
    ck_assert_int_eq(cfg.nplans, 2);
    ck_assert_str_eq(cfg.plans[0].name, "mine");
    ck_assert_str_eq(cfg.plans[0].description, "mine");
    ck_assert_double_eq(cfg.plans[0].price_per_million_queries, 2.5);
    ck_assert_double_eq(cfg.plans[0].min_billing_seconds, 60); /* a section named again adds to it */
    ck_assert_str_eq(cfg.plans[1].name, "d1");
    ck_assert_double_eq(cfg.plans[1].included_rows_read, 0);
    ck_assert_double_eq(cfg.plans[1].price_per_million_rows_written, 1.0); /* the built-in's */
    ck_assert_double_eq(cfg.plans[1].included_rows_written, 50e6);
    teardown();

    write_file("[plan:x]\nprice_per_apple = 1\n");
    ck_assert(!proxy_config_load(&cfg, path, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, ":2: plan \"x\": unknown key \"price_per_apple\"") != NULL, "%s", err);
    teardown();

    write_file("[plan:x]\nprice_per_gb_month = -1\n");
    ck_assert(!proxy_config_load(&cfg, path, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, ":2: plan \"x\": price_per_gb_month must be a number >= 0") != NULL,
                  "%s", err);
    teardown();

    write_file("[plan:]\nprice_per_gb_month = 1\n");
    ck_assert(!proxy_config_load(&cfg, path, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, "[plan:NAME] needs a name") != NULL, "%s", err);
}
END_TEST

START_TEST(test_timeouts)
{
    char err[256];
    ck_assert(proxy_config_load(&cfg, NULL, NULL, err, sizeof(err)));
    ck_assert_int_eq(cfg.client_login_timeout, 60);
    ck_assert_int_eq(cfg.idle_transaction_timeout, 0);
    ck_assert_int_eq(cfg.query_timeout, 0);
    write_file("[dormouse]\nclient_login_timeout = 5\nidle_transaction_timeout = 30\nquery_timeout = 0\n");
    ck_assert_msg(proxy_config_load(&cfg, path, NULL, err, sizeof(err)), "%s", err);
    ck_assert_int_eq(cfg.client_login_timeout, 5);
    ck_assert_int_eq(cfg.idle_transaction_timeout, 30);
    teardown();
    write_file("[dormouse]\nquery_timeout = -1\n");
    ck_assert(!proxy_config_load(&cfg, path, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, ":2: query_timeout must be seconds") != NULL, "%s", err);
}
END_TEST

START_TEST(test_tls_keys)
{
    char err[256];
    ck_assert(proxy_config_load(&cfg, NULL, NULL, err, sizeof(err)));
    ck_assert_int_eq(cfg.client_tls.sslmode, PROXY_TLS_DISABLE);
    ck_assert_str_eq(cfg.client_tls.protocols, "secure");
    ck_assert_str_eq(cfg.server_tls.ciphers, "default");
    ck_assert_int_eq(cfg.server_tls.sslmode, PROXY_TLS_PREFER);
    write_file("[dormouse]\nclient_tls_sslmode = Verify-Full\nclient_tls_cert_file = /c.pem\n"
               "client_tls_key_file = /c.key\nclient_tls_ca_file = /ca.pem\n"
               "client_tls_protocols = tlsv1.3\nclient_tls_ciphers = HIGH\n"
               "server_tls_sslmode = require\nserver_tls_ca_file = /sca.pem\nauth_type = cert\n");
    ck_assert_msg(proxy_config_load(&cfg, path, NULL, err, sizeof(err)), "%s", err);
    ck_assert_int_eq(cfg.client_tls.sslmode, PROXY_TLS_VERIFY_FULL);
    ck_assert_str_eq(cfg.client_tls.cert_file, "/c.pem");
    ck_assert_str_eq(cfg.client_tls.key_file, "/c.key");
    ck_assert_str_eq(cfg.client_tls.ca_file, "/ca.pem");
    ck_assert_str_eq(cfg.client_tls.protocols, "tlsv1.3");
    ck_assert_str_eq(cfg.client_tls.ciphers, "HIGH");
    ck_assert_int_eq(cfg.server_tls.sslmode, PROXY_TLS_REQUIRE);
    ck_assert_str_eq(cfg.server_tls.ca_file, "/sca.pem");
    ck_assert_int_eq(cfg.auth_type, PROXY_AUTH_CERT);
    teardown();
    write_file("[dormouse]\n\nclient_tls_sslmode = sometimes\n");
    ck_assert(!proxy_config_load(&cfg, path, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, ":3: client_tls_sslmode must be disable, allow") != NULL, "%s", err);
    teardown();
    write_file("[dormouse]\nserver_tls_colour = red\n");
    ck_assert(!proxy_config_load(&cfg, path, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, "unknown setting \"server_tls_colour\"") != NULL, "%s", err);
    teardown();
    write_file("[dormouse]\nauth_type = cert\nclient_tls_sslmode = require\n");
    ck_assert(!proxy_config_load(&cfg, path, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, "auth_type = cert needs client_tls_sslmode = verify-ca") != NULL,
                  "%s", err);
    teardown();
    write_file("[dormouse]\nauth_type = hba\n");
    ck_assert(!proxy_config_load(&cfg, path, NULL, err, sizeof(err)));
    ck_assert_msg(strstr(err, "auth_type = hba needs an auth_hba_file") != NULL, "%s", err);
    teardown();
    write_file("[dormouse]\nauth_type = hba\nhba_file = /etc/hba.conf\n");
    ck_assert_msg(proxy_config_load(&cfg, path, NULL, err, sizeof(err)), "%s", err);
    ck_assert_int_eq(cfg.auth_type, PROXY_AUTH_HBA);
    ck_assert_str_eq(cfg.auth_hba_file, "/etc/hba.conf");
    teardown();
    write_file("[dormouse]\nauth_type = plain\nauth_file = /u.txt\n");
    ck_assert_msg(proxy_config_load(&cfg, path, NULL, err, sizeof(err)), "%s", err);
    ck_assert_int_eq(cfg.auth_type, PROXY_AUTH_PLAIN);
    /* every mode has a name that parses back to it */
    for (proxy_tls_mode m = PROXY_TLS_DISABLE; m <= PROXY_TLS_VERIFY_FULL; m++) {
        proxy_tls_mode back;
        ck_assert(proxy_tls_mode_parse(proxy_tls_mode_str(m), &back));
        ck_assert_int_eq(back, m);
    }
    ck_assert_str_eq(proxy_tls_mode_str(PROXY_TLS_VERIFY_CA), "verify-ca");
    ck_assert_str_eq(proxy_tls_mode_str((proxy_tls_mode)99), "unknown");
}
END_TEST

START_TEST(test_quotas)
{
    char err[256];
    write_file("[quotas]\ndemo = rows_read=100 rows_written=10\n* = storage_mb=5 compute_seconds=60\n");
    ck_assert_msg(proxy_config_load(&cfg, path, NULL, err, sizeof(err)), "%s", err);
    ck_assert_int_eq(cfg.nquotas, 2);
    ck_assert_str_eq(cfg.quotas[0].name, "demo");
    ck_assert_uint_eq(cfg.quotas[0].rows_read, 100);
    ck_assert_uint_eq(cfg.quotas[0].rows_written, 10);
    ck_assert_uint_eq(cfg.quotas[0].storage_bytes, 0);
    ck_assert_uint_eq(cfg.quotas[1].storage_bytes, 5000000);
    ck_assert_uint_eq(cfg.quotas[1].compute_seconds, 60);
    teardown();

    static const char *const bad[][2] = {
        {"[quotas]\ndemo = rows_read=0\n", ":2: quotas of \"demo\": expected key=N with N a whole number > 0, not \"rows_read=0\""},
        {"[quotas]\ndemo = rows_read=-1\n", "expected key=N"},
        {"[quotas]\ndemo = rows_read\n", "expected key=N"},
        {"[quotas]\ndemo = rows_read=1x\n", "expected key=N"},
        {"[quotas]\ndemo = apples=3\n", "unknown quota \"apples\""},
        {"[quotas]\ndemo =\n", "no quota given"},
        {"[dormouse]\nmetering = off\n[quotas]\ndemo = rows_read=1\n", "[quotas] need metering = on"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_file(bad[i][0]);
        ck_assert(!proxy_config_load(&cfg, path, NULL, err, sizeof(err)));
        ck_assert_msg(strstr(err, bad[i][1]) != NULL, "%s: %s", bad[i][0], err);
        teardown();
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_backend_reuse_keys);
    tcase_add_test(tc, test_auth_query_keys);
    tcase_add_test(tc, test_every_key);
    tcase_add_test(tc, test_errors_name_the_line);
    tcase_add_test(tc, test_overrides_win);
    tcase_add_test(tc, test_auth_type_str_every_value);
    tcase_add_test(tc, test_plans);
    tcase_add_test(tc, test_quotas);
    tcase_add_test(tc, test_timeouts);
    tcase_add_test(tc, test_tls_keys);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
