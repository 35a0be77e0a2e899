/*
 * Configuration: one struct (proxy_config) filled from defaults, then the INI
 * file (parsed by inih), then the command line.  Unknown keys and bad values
 * are errors naming the file and line, so a typo never silently falls back to
 * a default.  Keys follow PgBouncer's names where the concept is the same.
 */
#include "dormouse/proxy.h"

#include "billing.h"

#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct config_parse {
    proxy_config *cfg;
    char err[512];
    int line;
} config_parse;

const char *proxy_auth_type_str(proxy_auth_type t)
{
    switch (t) {
    case PROXY_AUTH_TRUST:
        return "trust";
    case PROXY_AUTH_MD5:
        return "md5";
    case PROXY_AUTH_SCRAM:
        return "scram-sha-256";
    case PROXY_AUTH_CERT:
        return "cert";
    case PROXY_AUTH_PLAIN:
        return "plain";
    case PROXY_AUTH_HBA:
        return "hba";
    }
    return "unknown";
}

/* Without a [databases] section: `* = engine=sqlite`, with no overrides of
 * the [dormouse] values (idle_timeout, pool sizes). */
static void config_default_database(proxy_config *cfg)
{
    memset(&cfg->databases[0], 0, sizeof(cfg->databases[0]));
    snprintf(cfg->databases[0].name, sizeof(cfg->databases[0].name), "*");
    cfg->databases[0].engine = STORAGE_SQLITE;
    cfg->databases[0].ov = (pool_db_overrides){-1, -1, -1, -1, -1, -1};
    cfg->ndatabases = 1;
}

void proxy_config_defaults(proxy_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->listen_addr, sizeof(cfg->listen_addr), "127.0.0.1");
    cfg->listen_port = 6432;
    snprintf(cfg->data_dir, sizeof(cfg->data_dir), "./data");
    cfg->auth_type = PROXY_AUTH_TRUST;
    snprintf(cfg->client_tls.protocols, sizeof(cfg->client_tls.protocols), "secure");
    snprintf(cfg->client_tls.ciphers, sizeof(cfg->client_tls.ciphers), "default");
    cfg->server_tls = cfg->client_tls;
    cfg->server_tls.sslmode = PROXY_TLS_PREFER; /* libpq's default, as PgBouncer's */
    cfg->max_client_conn = 10000;
    cfg->log_level = PROXY_LOG_INFO;
    cfg->max_packet_size = WIRE_MAX_PACKET_SIZE_DEFAULT;
    cfg->sqlite_workers = 4;
    cfg->idle_timeout = 300;
    cfg->resume_timeout = 30;
    cfg->metering = true;
    cfg->usage_minute_days = 35;
    cfg->usage_retention_days = 400;
    snprintf(cfg->http_listen, sizeof(cfg->http_listen), "127.0.0.1:9127");
    cfg->sql_http_max_request = 10u << 20;
    cfg->sql_http_max_response = 10u << 20;
    cfg->sqlite_busy_timeout_ms = 5000;
    cfg->sqlite_synchronous_full = true;
    cfg->sqlite_pool_size = 20;
    cfg->sqlite_release_idle = 1;
    cfg->server_idle_timeout = 600;
    cfg->server_lifetime = 3600;
    cfg->server_connect_timeout = 15;
    cfg->pool_mode = POOL_MODE_TRANSACTION;
    cfg->default_pool_size = 20;
    cfg->reserve_pool_timeout = 5;
    cfg->query_wait_timeout = 120;
    cfg->client_login_timeout = 60;
    cfg->login_failure_limit = 20;
    cfg->login_failure_window = 60;
    cfg->max_prepared_statements = 200;
    cfg->server_login_retry = 1;
    snprintf(cfg->server_reset_query, sizeof(cfg->server_reset_query), "DISCARD ALL");
    snprintf(cfg->auth_query, sizeof(cfg->auth_query), "%s", PROXY_DEFAULT_AUTH_QUERY);
    config_default_database(cfg);
    cfg->stats_period = 60;
}

static bool config_int(const char *value, long min, long max, long *out)
{
    char *end;
    long v = strtol(value, &end, 10);
    if (end == value || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

static bool config_string(char *dst, size_t dstlen, const char *value)
{
    size_t n = strlen(value);
    if (n >= dstlen)
        return false;
    memcpy(dst, value, n + 1);
    return true;
}

#define CONFIG_FAIL(cp, ...)                                                                       \
    do {                                                                                           \
        if (!(cp)->err[0]) /* inih goes on after an error: keep the first */                     \
            snprintf((cp)->err, sizeof((cp)->err), __VA_ARGS__);                                   \
        return 0;                                                                                  \
    } while (0)

/* client_tls_* and server_tls_*: key is what follows the prefix. */
static bool config_tls_key(config_parse *cp, proxy_tls_config *tc, const char *name,
                           const char *key, const char *value)
{
    char *dst = !strcmp(key, "cert_file")   ? tc->cert_file
                : !strcmp(key, "key_file")  ? tc->key_file
                : !strcmp(key, "ca_file")   ? tc->ca_file
                : !strcmp(key, "protocols") ? tc->protocols
                : !strcmp(key, "ciphers")   ? tc->ciphers
                                            : NULL;
    size_t dstlen = !strcmp(key, "protocols") ? sizeof(tc->protocols)
                    : !strcmp(key, "ciphers") ? sizeof(tc->ciphers)
                                              : sizeof(tc->cert_file);
    if (!strcmp(key, "sslmode")) {
        if (!proxy_tls_mode_parse(value, &tc->sslmode)) {
            CONFIG_FAIL(cp, "%s must be disable, allow, prefer, require, verify-ca or "
                            "verify-full, not \"%s\"", name, value);
        }
        return true;
    }
    if (!dst) {
        CONFIG_FAIL(cp, "unknown setting \"%s\" in [dormouse]", name);
    }
    if (!config_string(dst, dstlen, value)) {
        CONFIG_FAIL(cp, "%s is too long", name);
    }
    return true;
}

static int config_dormouse_key(config_parse *cp, const char *name, const char *value)
{
    proxy_config *cfg = cp->cfg;
    long v;

    if (!strcmp(name, "listen_addr")) {
        if (!config_string(cfg->listen_addr, sizeof(cfg->listen_addr), value))
            CONFIG_FAIL(cp, "listen_addr is too long");
    } else if (!strcmp(name, "listen_port")) {
        if (!config_int(value, 0, 65535, &v))
            CONFIG_FAIL(cp, "listen_port must be a port number, not \"%s\"", value);
        cfg->listen_port = (int)v;
    } else if (!strcmp(name, "unix_socket_dir")) {
        if (!config_string(cfg->unix_socket_dir, sizeof(cfg->unix_socket_dir), value))
            CONFIG_FAIL(cp, "unix_socket_dir is too long");
    } else if (!strcmp(name, "data_dir")) {
        if (!*value || !config_string(cfg->data_dir, sizeof(cfg->data_dir), value))
            CONFIG_FAIL(cp, "data_dir must be a directory path");
    } else if (!strcmp(name, "auth_type")) {
        if (!strcasecmp(value, "trust"))
            cfg->auth_type = PROXY_AUTH_TRUST;
        else if (!strcasecmp(value, "md5"))
            cfg->auth_type = PROXY_AUTH_MD5;
        else if (!strcasecmp(value, "scram-sha-256"))
            cfg->auth_type = PROXY_AUTH_SCRAM;
        else if (!strcasecmp(value, "cert"))
            cfg->auth_type = PROXY_AUTH_CERT;
        else if (!strcasecmp(value, "plain"))
            cfg->auth_type = PROXY_AUTH_PLAIN;
        else if (!strcasecmp(value, "hba"))
            cfg->auth_type = PROXY_AUTH_HBA;
        else
            CONFIG_FAIL(cp, "auth_type must be trust, md5, scram-sha-256, cert, plain or hba, "
                            "not \"%s\"", value);
    } else if (!strcmp(name, "auth_hba_file") || !strcmp(name, "hba_file")) {
        if (!config_string(cfg->auth_hba_file, sizeof(cfg->auth_hba_file), value))
            CONFIG_FAIL(cp, "%s is too long", name);
    } else if (!strncmp(name, "client_tls_", 11) || !strncmp(name, "server_tls_", 11)) {
        if (!config_tls_key(cp, name[0] == 'c' ? &cfg->client_tls : &cfg->server_tls, name,
                            name + 11, value))
            return 0;
    } else if (!strcmp(name, "auth_file")) {
        if (!config_string(cfg->auth_file, sizeof(cfg->auth_file), value))
            CONFIG_FAIL(cp, "auth_file is too long");
    } else if (!strcmp(name, "max_client_conn")) {
        if (!config_int(value, 1, 1000000, &v))
            CONFIG_FAIL(cp, "max_client_conn must be between 1 and 1000000");
        cfg->max_client_conn = (int)v;
    } else if (!strcmp(name, "log_level")) {
        if (!proxy_log_level_parse(value, &cfg->log_level))
            CONFIG_FAIL(cp, "log_level must be debug, info, warning or error, not \"%s\"", value);
    } else if (!strcmp(name, "max_packet_size")) {
        if (!config_int(value, 1024, 1L << 30, &v))
            CONFIG_FAIL(cp, "max_packet_size must be between 1024 and 1073741824");
        cfg->max_packet_size = (uint32_t)v;
    } else if (!strcmp(name, "workers")) {
        if (!config_int(value, 0, 64, &v))
            CONFIG_FAIL(cp, "workers must be between 0 (one per core) and 64");
        cfg->workers = (int)v;
    } else if (!strcmp(name, "sqlite_workers")) {
        if (!config_int(value, 1, 256, &v))
            CONFIG_FAIL(cp, "sqlite_workers must be between 1 and 256");
        cfg->sqlite_workers = (int)v;
    } else if (!strcmp(name, "sqlite_busy_timeout")) {
        if (!config_int(value, 0, 3600000, &v))
            CONFIG_FAIL(cp, "sqlite_busy_timeout must be milliseconds between 0 and 3600000");
        cfg->sqlite_busy_timeout_ms = (int)v;
    } else if (!strcmp(name, "sqlite_synchronous")) {
        if (!strcasecmp(value, "full"))
            cfg->sqlite_synchronous_full = true;
        else if (!strcasecmp(value, "normal"))
            cfg->sqlite_synchronous_full = false;
        else
            CONFIG_FAIL(cp, "sqlite_synchronous must be full or normal");
    } else if (!strcmp(name, "sqlite_pool_size")) {
        if (!config_int(value, 0, 10000, &v))
            CONFIG_FAIL(cp, "sqlite_pool_size must be between 0 and 10000");
        cfg->sqlite_pool_size = (int)v;
    } else if (!strcmp(name, "sqlite_release_idle")) {
        if (!config_int(value, 0, 86400, &v))
            CONFIG_FAIL(cp, "sqlite_release_idle must be seconds between 0 and 86400");
        cfg->sqlite_release_idle = (int)v;
    } else if (!strcmp(name, "idle_timeout")) {
        if (!config_int(value, 0, 31536000, &v))
            CONFIG_FAIL(cp, "idle_timeout must be seconds between 0 and 31536000");
        cfg->idle_timeout = (int)v;
    } else if (!strcmp(name, "cold_dir")) {
        if (value[0] && value[0] != '/')
            CONFIG_FAIL(cp, "cold_dir must be an absolute path");
        if (strlen(value) >= sizeof(cfg->cold_dir) - 80)
            CONFIG_FAIL(cp, "cold_dir is too long");
        snprintf(cfg->cold_dir, sizeof(cfg->cold_dir), "%s", value);
    } else if (!strcmp(name, "http_listen")) {
        if (strlen(value) >= sizeof(cfg->http_listen) || !proxy_http_listen_valid(value))
            CONFIG_FAIL(cp, "http_listen must be ADDRESS:PORT (e.g. 127.0.0.1:9127) or empty, not "
                            "\"%s\"", value);
        snprintf(cfg->http_listen, sizeof(cfg->http_listen), "%s", value);
        cfg->http_listen_set = true;
    } else if (!strcmp(name, "sql_http_listen")) {
        if (strlen(value) >= sizeof(cfg->sql_http_listen) || !proxy_http_listen_valid(value))
            CONFIG_FAIL(cp, "sql_http_listen must be ADDRESS:PORT (e.g. 127.0.0.1:4444) or empty, "
                            "not \"%s\"", value);
        snprintf(cfg->sql_http_listen, sizeof(cfg->sql_http_listen), "%s", value);
    } else if (!strcmp(name, "sql_http_max_request") || !strcmp(name, "sql_http_max_response")) {
        if (!config_int(value, 1024, 1L << 30, &v))
            CONFIG_FAIL(cp, "%s must be bytes between 1024 and 1073741824", name);
        if (!strcmp(name, "sql_http_max_request"))
            cfg->sql_http_max_request = (size_t)v;
        else
            cfg->sql_http_max_response = (size_t)v;
    } else if (!strcmp(name, "usage_minute_days")) {
        if (!config_int(value, 0, 36500, &v))
            CONFIG_FAIL(cp, "usage_minute_days must be days between 0 and 36500");
        cfg->usage_minute_days = (int)v;
    } else if (!strcmp(name, "usage_retention_days")) {
        if (!config_int(value, 0, 36500, &v))
            CONFIG_FAIL(cp, "usage_retention_days must be days between 0 (for ever) and 36500");
        cfg->usage_retention_days = (int)v;
    } else if (!strcmp(name, "metering")) {
        if (!strcasecmp(value, "on") || !strcasecmp(value, "yes") || !strcmp(value, "1"))
            cfg->metering = true;
        else if (!strcasecmp(value, "off") || !strcasecmp(value, "no") || !strcmp(value, "0"))
            cfg->metering = false;
        else
            CONFIG_FAIL(cp, "metering must be on or off, not \"%s\"", value);
    } else if (!strcmp(name, "http_auth_token")) {
        if (strlen(value) >= sizeof(cfg->http_auth_token))
            CONFIG_FAIL(cp, "http_auth_token is too long");
        snprintf(cfg->http_auth_token, sizeof(cfg->http_auth_token), "%s", value);
    } else if (!strcmp(name, "managed_bindir")) {
        if (value[0] && value[0] != '/')
            CONFIG_FAIL(cp, "managed_bindir must be an absolute path");
        if (strlen(value) >= sizeof(cfg->managed_bindir))
            CONFIG_FAIL(cp, "managed_bindir is too long");
        snprintf(cfg->managed_bindir, sizeof(cfg->managed_bindir), "%s", value);
    } else if (!strcmp(name, "min_active_seconds")) {
        if (!config_int(value, 0, 31536000, &v))
            CONFIG_FAIL(cp, "min_active_seconds must be seconds between 0 and 31536000");
        cfg->min_active_seconds = (int)v;
    } else if (!strcmp(name, "resume_timeout")) {
        if (!config_int(value, 1, 86400, &v))
            CONFIG_FAIL(cp, "resume_timeout must be seconds between 1 and 86400");
        cfg->resume_timeout = (int)v;
    } else if (!strcmp(name, "server_idle_timeout")) {
        if (!config_int(value, 0, 31536000, &v))
            CONFIG_FAIL(cp, "server_idle_timeout must be seconds between 0 and 31536000");
        cfg->server_idle_timeout = (int)v;
    } else if (!strcmp(name, "server_lifetime")) {
        if (!config_int(value, 0, 31536000, &v))
            CONFIG_FAIL(cp, "server_lifetime must be seconds between 0 and 31536000");
        cfg->server_lifetime = (int)v;
    } else if (!strcmp(name, "server_connect_timeout")) {
        if (!config_int(value, 1, 3600, &v))
            CONFIG_FAIL(cp, "server_connect_timeout must be seconds between 1 and 3600");
        cfg->server_connect_timeout = (int)v;
    } else if (!strcmp(name, "pool_mode")) {
        if (!pool_mode_parse(value, strlen(value), &cfg->pool_mode))
            CONFIG_FAIL(cp, "pool_mode must be session, transaction or statement, not \"%s\"",
                        value);
    } else if (!strcmp(name, "default_pool_size")) {
        if (!config_int(value, 1, 100000, &v))
            CONFIG_FAIL(cp, "default_pool_size must be between 1 and 100000");
        cfg->default_pool_size = (int)v;
    } else if (!strcmp(name, "min_pool_size")) {
        if (!config_int(value, 0, 100000, &v))
            CONFIG_FAIL(cp, "min_pool_size must be between 0 and 100000");
        cfg->min_pool_size = (int)v;
    } else if (!strcmp(name, "reserve_pool_size")) {
        if (!config_int(value, 0, 100000, &v))
            CONFIG_FAIL(cp, "reserve_pool_size must be between 0 and 100000");
        cfg->reserve_pool_size = (int)v;
    } else if (!strcmp(name, "reserve_pool_timeout")) {
        if (!config_int(value, 0, 3600, &v))
            CONFIG_FAIL(cp, "reserve_pool_timeout must be seconds between 0 and 3600");
        cfg->reserve_pool_timeout = (int)v;
    } else if (!strcmp(name, "max_db_connections")) {
        if (!config_int(value, 0, 100000, &v))
            CONFIG_FAIL(cp, "max_db_connections must be between 0 and 100000");
        cfg->max_db_connections = (int)v;
    } else if (!strcmp(name, "max_db_client_connections") ||
               !strcmp(name, "max_user_client_connections")) {
        if (!config_int(value, 0, 1000000, &v))
            CONFIG_FAIL(cp, "%s must be between 0 (no limit) and 1000000", name);
        *(!strcmp(name, "max_db_client_connections") ? &cfg->max_db_client_connections
                                                     : &cfg->max_user_client_connections) = (int)v;
    } else if (!strcmp(name, "client_login_timeout") || !strcmp(name, "idle_transaction_timeout") ||
               !strcmp(name, "query_timeout")) {
        if (!config_int(value, 0, 31536000, &v))
            CONFIG_FAIL(cp, "%s must be seconds between 0 (none) and 31536000", name);
        int *slot = !strcmp(name, "client_login_timeout")       ? &cfg->client_login_timeout
                    : !strcmp(name, "idle_transaction_timeout") ? &cfg->idle_transaction_timeout
                                                                : &cfg->query_timeout;
        *slot = (int)v;
    } else if (!strcmp(name, "login_failure_limit")) {
        if (!config_int(value, 0, 1000000, &v))
            CONFIG_FAIL(cp, "login_failure_limit must be between 0 (off) and 1000000");
        cfg->login_failure_limit = (int)v;
    } else if (!strcmp(name, "login_failure_window")) {
        if (!config_int(value, 1, 86400, &v))
            CONFIG_FAIL(cp, "login_failure_window must be seconds between 1 and 86400");
        cfg->login_failure_window = (int)v;
    } else if (!strcmp(name, "query_wait_timeout")) {
        if (!config_int(value, 0, 31536000, &v))
            CONFIG_FAIL(cp, "query_wait_timeout must be seconds between 0 and 31536000");
        cfg->query_wait_timeout = (int)v;
    } else if (!strcmp(name, "max_prepared_statements")) {
        if (!config_int(value, 0, 100000, &v))
            CONFIG_FAIL(cp, "max_prepared_statements must be between 0 and 100000");
        cfg->max_prepared_statements = (int)v;
    } else if (!strcmp(name, "server_login_retry")) {
        if (!config_int(value, 0, 3600, &v))
            CONFIG_FAIL(cp, "server_login_retry must be seconds between 0 and 3600");
        cfg->server_login_retry = (int)v;
    } else if (!strcmp(name, "server_reset_query")) {
        if (!config_string(cfg->server_reset_query, sizeof(cfg->server_reset_query), value))
            CONFIG_FAIL(cp, "server_reset_query is too long");
    } else if (!strcmp(name, "auth_user")) {
        if (!config_string(cfg->auth_user, sizeof(cfg->auth_user), value))
            CONFIG_FAIL(cp, "auth_user is too long");
    } else if (!strcmp(name, "auth_query")) {
        if (!value[0] || !config_string(cfg->auth_query, sizeof(cfg->auth_query), value))
            CONFIG_FAIL(cp, "auth_query must be 1 to %zu bytes", sizeof(cfg->auth_query) - 1);
    } else if (!strcmp(name, "admin_users")) {
        if (!config_string(cfg->admin_users, sizeof(cfg->admin_users), value))
            CONFIG_FAIL(cp, "admin_users is too long");
    } else if (!strcmp(name, "stats_users")) {
        if (!config_string(cfg->stats_users, sizeof(cfg->stats_users), value))
            CONFIG_FAIL(cp, "stats_users is too long");
    } else if (!strcmp(name, "stats_period")) {
        if (!config_int(value, 1, 86400, &v))
            CONFIG_FAIL(cp, "stats_period must be seconds between 1 and 86400");
        cfg->stats_period = (int)v;
    } else {
        CONFIG_FAIL(cp, "unknown setting \"%s\" in [dormouse]", name);
    }
    return 1;
}

/* A [quotas] line: "db = rows_read=N rows_written=N compute_seconds=N storage_mb=N". */
static int config_quota_line(config_parse *cp, const char *name, const char *value)
{
    proxy_config *cfg = cp->cfg;
    proxy_quota q;
    memset(&q, 0, sizeof(q));
    if (!name[0] || strlen(name) >= sizeof(q.name))
        CONFIG_FAIL(cp, "a [quotas] line needs a database name of 1 to 63 bytes");
    snprintf(q.name, sizeof(q.name), "%s", name);
    char buf[512];
    if (strlen(value) >= sizeof(buf))
        CONFIG_FAIL(cp, "quotas of \"%s\": the line is too long", name);
    snprintf(buf, sizeof(buf), "%s", value);
    char *save = NULL;
    int n = 0;
    for (char *item = strtok_r(buf, " \t", &save); item; item = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(item, '=');
        char *end = NULL;
        unsigned long long v = 0;
        if (eq) {
            *eq = '\0';
            v = eq[1] >= '0' && eq[1] <= '9' ? strtoull(eq + 1, &end, 10) : 0;
        }
        if (!eq || !end || *end || v == 0 || v > (1ULL << 52))
            CONFIG_FAIL(cp, "quotas of \"%s\": expected key=N with N a whole number > 0, not "
                        "\"%s%s%s\"", name, item, eq ? "=" : "", eq ? eq + 1 : "");
        if (!strcmp(item, "rows_read"))
            q.rows_read = v;
        else if (!strcmp(item, "rows_written"))
            q.rows_written = v;
        else if (!strcmp(item, "compute_seconds"))
            q.compute_seconds = v;
        else if (!strcmp(item, "storage_mb"))
            q.storage_bytes = v * 1000000ULL;
        else
            CONFIG_FAIL(cp, "quotas of \"%s\": unknown quota \"%s\" (rows_read, rows_written, "
                        "compute_seconds, storage_mb)", name, item);
        n++;
    }
    if (n == 0)
        CONFIG_FAIL(cp, "quotas of \"%s\": no quota given", name);
    for (int i = 0; i < cfg->nquotas; i++)
        if (!strcmp(cfg->quotas[i].name, name)) {
            cfg->quotas[i] = q;
            return 1;
        }
    if (cfg->nquotas >= PROXY_MAX_QUOTAS)
        CONFIG_FAIL(cp, "too many [quotas] lines (at most %d)", PROXY_MAX_QUOTAS);
    cfg->quotas[cfg->nquotas++] = q;
    return 1;
}

/* A line of [plan:NAME]: the plan is made at its first line, from the
 * built-in plan of that name if there is one. */
static int config_plan_key(config_parse *cp, const char *plan, const char *name, const char *value)
{
    proxy_config *cfg = cp->cfg;
    if (!plan[0] || strlen(plan) >= sizeof(cfg->plans[0].name))
        CONFIG_FAIL(cp, "[plan:NAME] needs a name of 1 to 63 bytes");
    billing_plan *p = NULL;
    for (int i = 0; i < cfg->nplans && !p; i++)
        if (!strcmp(cfg->plans[i].name, plan))
            p = &cfg->plans[i];
    if (!p) {
        if (cfg->nplans >= PROXY_MAX_PLANS)
            CONFIG_FAIL(cp, "too many [plan:NAME] sections (at most %d)", PROXY_MAX_PLANS);
        p = &cfg->plans[cfg->nplans++];
        billing_plan_init(p, plan);
        size_t n;
        const billing_plan *builtin = billing_builtin_plans(&n);
        for (size_t i = 0; i < n; i++)
            if (!strcmp(builtin[i].name, plan))
                *p = builtin[i];
    }
    char err[256];
    if (!billing_plan_set(p, name, value, err, sizeof(err)))
        CONFIG_FAIL(cp, "%s", err);
    return 1;
}

static int config_handler(void *user, const char *section, const char *name, const char *value
#if INI_HANDLER_LINENO
                          ,
                          int lineno
#endif
)
{
    config_parse *cp = user;
#if INI_HANDLER_LINENO
    cp->line = lineno;
#endif
    if (!strcmp(section, "dormouse") || !strcmp(section, "pgbouncer"))
        return config_dormouse_key(cp, name, value);
    if (!strcmp(section, "databases")) {
        proxy_config *cfg = cp->cfg;
        pool_db_rule rule;
        char err[256];
        memset(&rule, 0, sizeof(rule));
        if (strlen(name) >= sizeof(rule.name))
            CONFIG_FAIL(cp, "database name \"%s\" is longer than 63 bytes", name);
        snprintf(rule.name, sizeof(rule.name), "%s", name);
        if (strcmp(name, "*") != 0 && !pool_db_name_valid(name, err, sizeof(err)))
            CONFIG_FAIL(cp, "%s", err);
        if (!pool_db_rule_parse(value, &rule, err, sizeof(err)))
            CONFIG_FAIL(cp, "database \"%s\": %s", name, err);
        for (int i = 0; i < cfg->ndatabases; i++) {
            if (!strcmp(cfg->databases[i].name, name)) {
                cfg->databases[i] = rule;
                return 1;
            }
        }
        if (cfg->ndatabases >= PROXY_MAX_DATABASE_RULES)
            CONFIG_FAIL(cp, "too many [databases] entries (at most %d)",
                        PROXY_MAX_DATABASE_RULES);
        cfg->databases[cfg->ndatabases++] = rule;
        return 1;
    }
    if (!strcmp(section, "quotas"))
        return config_quota_line(cp, name, value);
    if (!strncmp(section, "plan:", 5))
        return config_plan_key(cp, section + 5, name, value);
    CONFIG_FAIL(cp, "unknown section [%s]", section);
}

bool proxy_config_load(proxy_config *cfg, const char *path, const proxy_config_overrides *ov,
                       char *err, size_t errlen)
{
    proxy_config_defaults(cfg);
    if (path) {
        config_parse cp = {.cfg = cfg};
        /* A [databases] section replaces the default wildcard rule. */
        cfg->ndatabases = 0;
        if (!config_string(cfg->config_file, sizeof(cfg->config_file), path)) {
            snprintf(err, errlen, "%s: path too long", path);
            return false;
        }
        int rc = ini_parse(path, config_handler, &cp);
        if (rc < 0) {
            snprintf(err, errlen, "%s: cannot open the configuration file", path);
            return false;
        }
        if (rc > 0) {
            if (cp.err[0])
                snprintf(err, errlen, "%s:%d: %s", path, rc, cp.err);
            else
                snprintf(err, errlen, "%s:%d: syntax error", path, rc);
            return false;
        }
        if (cfg->ndatabases == 0) {
            config_default_database(cfg);
        }
    }
    if (ov) {
        if (ov->listen_addr &&
            !config_string(cfg->listen_addr, sizeof(cfg->listen_addr), ov->listen_addr)) {
            snprintf(err, errlen, "--listen: address too long");
            return false;
        }
        if (ov->listen_port > 0)
            cfg->listen_port = ov->listen_port;
        if (ov->data_dir && !config_string(cfg->data_dir, sizeof(cfg->data_dir), ov->data_dir)) {
            snprintf(err, errlen, "--data-dir: path too long");
            return false;
        }
        if (ov->unix_socket_dir && !config_string(cfg->unix_socket_dir,
                                                  sizeof(cfg->unix_socket_dir),
                                                  ov->unix_socket_dir)) {
            snprintf(err, errlen, "--unix-socket-dir: path too long");
            return false;
        }
        if (ov->log_level && !proxy_log_level_parse(ov->log_level, &cfg->log_level)) {
            snprintf(err, errlen, "--log-level: expected debug, info, warning or error");
            return false;
        }
    }
    if (cfg->nquotas > 0 && !cfg->metering) {
        snprintf(err, errlen, "[quotas] need metering = on (quotas count what metering records)");
        return false;
    }
    if (cfg->auth_type == PROXY_AUTH_CERT && cfg->client_tls.sslmode < PROXY_TLS_VERIFY_CA) {
        snprintf(err, errlen, "auth_type = cert needs client_tls_sslmode = verify-ca or "
                              "verify-full (and client_tls_ca_file)");
        return false;
    }
    if (cfg->auth_type == PROXY_AUTH_HBA && !cfg->auth_hba_file[0]) {
        snprintf(err, errlen, "auth_type = hba needs an auth_hba_file");
        return false;
    }
    if (cfg->auth_type != PROXY_AUTH_TRUST && cfg->auth_type != PROXY_AUTH_CERT &&
        cfg->auth_type != PROXY_AUTH_HBA && !cfg->auth_file[0]) {
        snprintf(err, errlen, "auth_type = %s needs an auth_file",
                 proxy_auth_type_str(cfg->auth_type));
        return false;
    }
    return true;
}
