/*
 * proxy: the front of Dormouse.  It owns the event loop, every client socket,
 * the client session state machine, authentication, configuration and
 * logging.  It asks pool/ for backends and decides nothing about them.
 *
 * Threads: `workers` event loops.  A session, and every server connection
 * and pool of its database, belong to that database's home loop; loop 0 runs
 * signals, timers and the admin console and takes every loop's lock for work
 * that spans them.  Engines hand finished jobs back to the session's loop
 * through a locked queue and an ev_async wake-up.  Logging may be called from
 * any thread (one write(2) per line).
 */
#ifndef DORMOUSE_PROXY_H
#define DORMOUSE_PROXY_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dormouse/pool.h"

/* ---- logging ---- */

typedef enum proxy_log_level {
    PROXY_LOG_DEBUG = 0,
    PROXY_LOG_INFO,
    PROXY_LOG_WARNING,
    PROXY_LOG_ERROR,
} proxy_log_level;

const char *proxy_log_level_str(proxy_log_level l);
bool proxy_log_level_parse(const char *s, proxy_log_level *out);
void proxy_log_set_level(proxy_log_level l);
/* One line to stderr: "2026-11-26 08:00:00.123 UTC [pid] LEVEL message". */
void proxy_log(proxy_log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- configuration ---- */

typedef enum proxy_auth_type {
    PROXY_AUTH_TRUST = 0,
    PROXY_AUTH_MD5,
    PROXY_AUTH_SCRAM,
    PROXY_AUTH_CERT, /* TLS with a verified client certificate whose common name is the user */
    PROXY_AUTH_PLAIN, /* a cleartext password (PgBouncer's "plain"; over TLS only, please) */
    PROXY_AUTH_HBA,   /* per connection, from auth_hba_file's first matching record */
} proxy_auth_type;

const char *proxy_auth_type_str(proxy_auth_type t);

/* client_tls_sslmode and server_tls_sslmode (PgBouncer's names and values).
 * Towards clients: disable answers SSLRequest 'N'; allow and prefer accept
 * TLS or plaintext; require refuses plaintext TCP logins (28000); verify-ca
 * also requires a client certificate signed by client_tls_ca_file, and
 * verify-full also requires its common name to be the user name (as
 * PostgreSQL's clientcert=verify-full).  Towards servers: libpq's sslmode. */
typedef enum proxy_tls_mode {
    PROXY_TLS_DISABLE = 0,
    PROXY_TLS_ALLOW,
    PROXY_TLS_PREFER,
    PROXY_TLS_REQUIRE,
    PROXY_TLS_VERIFY_CA,
    PROXY_TLS_VERIFY_FULL,
} proxy_tls_mode;

const char *proxy_tls_mode_str(proxy_tls_mode m);
bool proxy_tls_mode_parse(const char *s, proxy_tls_mode *out);

/* One side's TLS settings: {client,server}_tls_{sslmode,cert_file,key_file,
 * ca_file,protocols,ciphers}. */
typedef struct proxy_tls_config {
    proxy_tls_mode sslmode;
    char cert_file[PATH_MAX]; /* PEM chain; towards servers: a client certificate */
    char key_file[PATH_MAX];
    char ca_file[PATH_MAX];   /* towards clients: verifies their certificates */
    char protocols[64];       /* "secure": TLS 1.2 and 1.3 */
    char ciphers[512];        /* "default": OpenSSL's; else a cipher list for TLS 1.2 */
} proxy_tls_config;

#define PROXY_MAX_DATABASE_RULES 256

/* PgBouncer's default auth_query (1.21): the role's password unless it has
 * expired, for roles that may log in. */
#define PROXY_DEFAULT_AUTH_QUERY                                                                   \
    "SELECT rolname, CASE WHEN rolvaliduntil < now() THEN NULL ELSE rolpassword END "             \
    "FROM pg_authid WHERE rolname = $1 AND rolcanlogin"

/* Every setting Dormouse has, with PgBouncer's names where the concept is the same. */
/* A pricing plan ([plan:NAME] in the configuration; proxy/billing.h has
 * what each field means and how bills are computed). */
typedef struct billing_plan {
    char name[64];
    char description[160];
    /* rows, D1/Turso style */
    double price_per_million_rows_read, price_per_million_rows_written;
    double included_rows_read, included_rows_written; /* per period */
    /* compute while the database is active (not paused), Neon/Aurora style */
    double price_per_compute_hour; /* per compute-unit-hour */
    double compute_units;          /* size billed while active, e.g. 0.25 CU, 0.5 ACU */
    double min_billing_seconds;    /* each active interval is rounded up to a multiple
                                      of this (>= 1 s; also a minimum per interval) */
    double included_compute_hours; /* in compute-unit-hours */
    /* storage */
    double price_per_gb_month, included_gb_month;
    /* transfer (bytes out to clients) */
    double price_per_gb_transfer, included_gb_transfer;
    /* requests */
    double price_per_million_queries, included_queries;
    /* request units, CockroachDB style (see above) */
    double price_per_million_request_units, included_request_units;
    double ru_per_query, ru_per_row_read, ru_per_row_written, ru_per_cpu_second,
        ru_per_mib_transfer;
} billing_plan;

#define PROXY_MAX_PLANS 16

/* A [quotas] line: limits on a database's use per calendar month (UTC),
 * and on its size; 0: no limit.  name "*" applies to every database
 * without a line of its own. */
typedef struct proxy_quota {
    char name[64];
    uint64_t rows_read, rows_written; /* per month */
    uint64_t compute_seconds;         /* active (not paused) seconds per month */
    uint64_t storage_bytes;           /* its files' size (set in MB: storage_mb) */
} proxy_quota;

#define PROXY_MAX_QUOTAS 64

typedef struct proxy_config {
    char config_file[PATH_MAX]; /* where it was loaded from, for SIGHUP */
    char listen_addr[256];
    int listen_port;
    char unix_socket_dir[PATH_MAX]; /* "" = no Unix socket */
    char data_dir[PATH_MAX];
    char cold_dir[PATH_MAX];   /* "" = no cold tier */
    proxy_auth_type auth_type;
    char auth_file[PATH_MAX]; /* "" = none */
    char auth_hba_file[PATH_MAX]; /* pg_hba.conf format, for auth_type = hba; "" = none */
    proxy_tls_config client_tls, server_tls;
    int max_client_conn;
    proxy_log_level log_level;
    uint32_t max_packet_size;
    int workers;             /* event-loop threads; 0: one per core */
    int sqlite_workers;
    int sqlite_busy_timeout_ms;
    bool sqlite_synchronous_full;
    int sqlite_pool_size;    /* opened SQLite connections kept idle per database; 0: no reuse */
    int server_idle_timeout; /* seconds before an idle one is closed; 0: never */
    int idle_timeout;        /* seconds before an idle database pauses; 0: never */
    int min_active_seconds;  /* a resumed database stays up at least this long */
    int resume_timeout;      /* seconds a client waits for a resume before 57P03 */
    char managed_bindir[256]; /* managed servers' binaries; "": the newest installed */
    char http_listen[80];     /* ADDRESS:PORT of /metrics and the API; "": off */
    bool http_listen_set;     /* given in the file (a bind failure is then fatal) */
    char http_auth_token[256]; /* "": no token asked */
    char sql_http_listen[80];  /* ADDRESS:PORT of Neon's SQL over HTTP (POST /sql); "": off */
    size_t sql_http_max_request;  /* bytes of a request body (10 MB) */
    size_t sql_http_max_response; /* bytes of a response (10 MB, as Neon) */
    bool metering;            /* every query's usage into the ledger (default on) */
    int usage_minute_days;    /* usage kept per minute this long, then per hour (35) */
    int usage_retention_days; /* usage kept this long (400; 0: for ever) */
    billing_plan plans[PROXY_MAX_PLANS]; /* [plan:NAME] sections; a built-in's name
                                          * starts from the built-in's prices */
    int nplans;
    proxy_quota quotas[PROXY_MAX_QUOTAS]; /* [quotas] */
    int nquotas;
    int server_lifetime;     /* seconds after which one is closed once idle; 0: use once */
    int sqlite_release_idle; /* seconds a client may sit idle before its stateless SQLite
                                connection goes back to the pool; 0: kept for the session */
    int server_connect_timeout; /* seconds to connect and log in to an upstream PostgreSQL */
    /* upstream server pools (PgBouncer's keys and defaults) */
    pool_mode pool_mode;        /* transaction */
    int default_pool_size;      /* 20: servers per (database, user) */
    int min_pool_size;          /* 0 */
    int reserve_pool_size;      /* 0 */
    int reserve_pool_timeout;   /* 5 s */
    int max_db_connections;     /* 0: no limit */
    int query_wait_timeout;     /* 120 s; 0: wait for ever */
    int client_login_timeout;   /* 60 s to log in, else closed; 0: no limit */
    int max_db_client_connections;   /* clients per database; 0: no limit */
    int max_user_client_connections; /* clients per user; 0: no limit */
    int login_failure_limit;    /* failed logins from one address (IPv6: /64) within */
    int login_failure_window;   /* this many seconds refuse its logins for as long; 0: off */
    int idle_transaction_timeout; /* s idle inside a transaction before FATAL 25P03; 0: none */
    int query_timeout;          /* s a statement may run before 57014; 0: none */
    int max_prepared_statements; /* 200 per server; 0: named statements are not remapped */
    int server_login_retry;     /* 1 s after a failed connect */
    char server_reset_query[256]; /* "DISCARD ALL": session mode, when the client leaves */
    char auth_user[WIRE_NAME_MAX]; /* "": none; else clients not in auth_file are looked up
                                      in the upstream with auth_query, logged in as this user */
    char auth_query[512];          /* PgBouncer's default: pg_authid by rolname = $1 */
    pool_db_rule databases[PROXY_MAX_DATABASE_RULES];
    int ndatabases;
    /* admin console: comma-separated user names (PgBouncer's syntax) */
    char admin_users[1024]; /* every console command */
    char stats_users[1024]; /* SHOW commands only */
    int stats_period;       /* seconds between snapshots for SHOW STATS averages */
} proxy_config;

/* Command-line overrides; NULL/0 fields leave the file's value. */
typedef struct proxy_config_overrides {
    const char *listen_addr;
    int listen_port;
    const char *data_dir;
    const char *unix_socket_dir;
    const char *log_level;
} proxy_config_overrides;

/* Defaults: 127.0.0.1:6432, data_dir ./data, trust, `* = engine=sqlite`. */
void proxy_config_defaults(proxy_config *cfg);
/* Defaults, then the file (NULL: none), then the overrides. false with
 * "file:line: message" in err on any unknown key or bad value. */
bool proxy_config_load(proxy_config *cfg, const char *path, const proxy_config_overrides *ov,
                       char *err, size_t errlen);

/* ---- the auth file (PgBouncer's userlist.txt) ---- */

typedef struct proxy_userlist proxy_userlist;

/* Lines: "user" "secret" where secret is plain, md5<hex> or SCRAM-SHA-256$...;
 * ';' and '#' start comments. Plain secrets get a SCRAM verifier derived once
 * here, so logins never run PBKDF2 on the loop. */
proxy_userlist *proxy_userlist_load(const char *path, char *err, size_t errlen);
void proxy_userlist_free(proxy_userlist *u);
/* The stored secret for user, or NULL. */
const char *proxy_userlist_secret(const proxy_userlist *u, const char *user);
/* The SCRAM verifier for user (parsed or derived from a plain secret), or NULL
 * when the user is unknown or only an md5 hash is stored. */
const wire_scram_verifier *proxy_userlist_verifier(const proxy_userlist *u, const char *user);
int proxy_userlist_count(const proxy_userlist *u);
/* The i-th user name (0 <= i < count), or NULL: SHOW USERS lists them. */
const char *proxy_userlist_user(const proxy_userlist *u, int i);

/* ---- the server ---- */

typedef struct proxy_server proxy_server;

/* Binds the listeners and starts the engines. NULL with a message on failure.
 * cfg is copied. */
proxy_server *proxy_server_new(const proxy_config *cfg, const proxy_config_overrides *ov,
                               char *err, size_t errlen);
/* Runs the loop until a shutdown completes (SIGTERM/SIGINT, or
 * proxy_server_shutdown); returns the exit status. */
int proxy_server_run(proxy_server *s);
/* Starts a graceful shutdown, as SIGTERM does. Loop 0, under server_world_lock. */
void proxy_server_shutdown(proxy_server *s);
void proxy_server_free(proxy_server *s);

/* Whether s is a valid http_listen: "" (off), ADDRESS:PORT or [IPv6]:PORT. */
bool proxy_http_listen_valid(const char *s);

#endif
