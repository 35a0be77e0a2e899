/*
 * proxy internals shared by server.c (loop, listeners, signals, job
 * completions) and session.c (the client state machine).  Not a public
 * header: nothing outside proxy/ includes it.
 */
#ifndef DORMOUSE_PROXY_INTERNAL_H
#define DORMOUSE_PROXY_INTERNAL_H

#include <ev.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include "dormouse/pool.h"
#include "dormouse/proxy.h"
#include "dormouse/storage.h"
#include "dormouse/wire.h"
#include "timeline.h"

typedef struct ssl_st SSL; /* OpenSSL's; tls.c is the only file that looks inside */

#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#define PROXY_MAX_LISTENERS 4
/* Stop reading from a client while this much output waits for it. */
#define PROXY_OUTPUT_HIGH_WATER (1u << 20)
/* Read at most this much per read(2). */
#define PROXY_READ_CHUNK 16384
/* COPY FROM STDIN data is handed to the engine in chunks of about this size;
 * one chunk is collected while the previous one is being inserted. */
#define PROXY_COPY_CHUNK (256u * 1024u)

typedef struct proxy_session proxy_session;
typedef struct proxy_upstream proxy_upstream;
typedef struct proxy_cancel_request proxy_cancel_request;
typedef struct proxy_managed proxy_managed;
typedef struct proxy_http proxy_http;

/* ---- prepared statements under transaction pooling (prepared.c) ---- */

typedef struct proxy_stmt {
    uint64_t hash; /* of rest */
    uint64_t id;
    char name[24]; /* the server-side name, "DMS_<id>" */
    uint8_t *rest; /* the Parse body after the statement name */
    size_t rest_len;
    int refs;
    struct proxy_stmt *hnext;
} proxy_stmt;

typedef struct proxy_stmt_cache {
    proxy_stmt **buckets;
    size_t nbuckets, n;
    uint64_t next_id;
} proxy_stmt_cache;

typedef struct proxy_stmt_map { /* a client's names */
    void **buckets;
    size_t nbuckets, n;
} proxy_stmt_map;

typedef struct proxy_stmt_lru { /* a server's statements */
    void **buckets;
    size_t nbuckets;
    int n;
    struct proxy_stmt_lru_ent *head, *tail;
} proxy_stmt_lru;

void proxy_stmt_cache_init(proxy_stmt_cache *c);
void proxy_stmt_cache_free(proxy_stmt_cache *c);
size_t proxy_stmt_cache_count(const proxy_stmt_cache *c);
/* The statement for this Parse body (after the name), with a reference the
 * caller owns; NULL when out of memory. */
proxy_stmt *proxy_stmt_intern(proxy_stmt_cache *c, const uint8_t *rest, size_t len);
void proxy_stmt_ref(proxy_stmt *st);
void proxy_stmt_unref(proxy_stmt_cache *c, proxy_stmt *st); /* NULL: no-op */
proxy_stmt *proxy_stmt_map_get(const proxy_stmt_map *m, const char *name);
/* Maps name to st, taking over the caller's reference (an old mapping's is
 * dropped).  false when out of memory (the caller keeps its reference). */
bool proxy_stmt_map_put(proxy_stmt_map *m, proxy_stmt_cache *c, const char *name, proxy_stmt *st);
bool proxy_stmt_map_del(proxy_stmt_map *m, proxy_stmt_cache *c, const char *name);
void proxy_stmt_map_clear(proxy_stmt_map *m, proxy_stmt_cache *c);
/* The client's name for st (one of them), or NULL; a scan, for error texts. */
const char *proxy_stmt_map_name_of(const proxy_stmt_map *m, const proxy_stmt *st);
/* The statement whose server-side name is name, or NULL; a scan. */
proxy_stmt *proxy_stmt_find_name(const proxy_stmt_cache *c, const char *name);
/* Is st prepared on this server? (marks it most recently used) */
bool proxy_stmt_lru_touch(proxy_stmt_lru *l, const proxy_stmt *st);
/* Records st as prepared (taking a reference of its own); past max entries
 * the least recently used one is dropped and returned in *evicted with its
 * reference, for the caller to Close on the server and unref. */
bool proxy_stmt_lru_add(proxy_stmt_lru *l, proxy_stmt *st, int max, proxy_stmt **evicted);
void proxy_stmt_lru_del(proxy_stmt_lru *l, proxy_stmt_cache *c, const proxy_stmt *st);
void proxy_stmt_lru_clear(proxy_stmt_lru *l, proxy_stmt_cache *c);

/* ---- session settings under pooling (settings.c) ---- */

typedef struct proxy_setting {
    char name[160]; /* lower case */
    char *sql;     /* the statement that sets it, without ';' */
} proxy_setting;

typedef struct proxy_settings {
    proxy_setting *v; /* sorted by name */
    int n, cap;
    uint64_t hash;
} proxy_settings;

void proxy_settings_free(proxy_settings *s);
void proxy_settings_clear(proxy_settings *s);
bool proxy_settings_set(proxy_settings *s, const char *name, const char *sql, size_t len);
void proxy_settings_unset(proxy_settings *s, const char *name);
const char *proxy_settings_get(const proxy_settings *s, const char *name);
bool proxy_settings_copy(proxy_settings *dst, const proxy_settings *src);
bool proxy_settings_equal(const proxy_settings *a, const proxy_settings *b);
/* Appends to sql the statements ("...;" each) that turn a session set up as
 * `server` into one set up as `client`.  false when out of memory. */
bool proxy_settings_diff(const proxy_settings *server, const proxy_settings *client, wire_buf *sql);
/* The StartupMessage parameters a server must be told (all but user,
 * database, options, replication and _pq_.*) as SET statements. */
bool proxy_settings_from_startup(proxy_settings *s, const wire_param *params, int n);

/* ---- statistics (stats.c) ---- */

/* One set of counters; times in microseconds. */
typedef struct proxy_stats_counters {
    uint64_t xact_count, query_count, wait_count;
    uint64_t received, sent;
    uint64_t xact_time_us, query_time_us, wait_time_us;
} proxy_stats_counters;

/* One database's counters: totals since start, and the snapshots taken at the
 * last two stats_period ticks (averages are their difference). */
/* The query-duration histogram's upper bounds (seconds), for /metrics;
 * the last bucket is +Inf. */
#define PROXY_STATS_HIST_BOUNDS {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10}
#define PROXY_STATS_HIST_BUCKETS 10

typedef struct proxy_stats_db {
    char name[WIRE_NAME_MAX];
    proxy_stats_counters total, older, newer;
    uint64_t query_hist[PROXY_STATS_HIST_BUCKETS]; /* queries per duration bucket (not cumulative) */
    uint64_t rows_read, rows_written, rows_returned; /* as metered (meter.c) */
    struct proxy_stats_db *hash_next, *all_next;
} proxy_stats_db;

typedef struct proxy_stats proxy_stats;

typedef struct proxy_listener {
    ev_io io; /* on loop 0, which accepts for every loop */
    int fd;
    bool is_unix;
    char path[PATH_MAX]; /* unix socket file, removed at exit */
    struct proxy_server *server;
} proxy_listener;

/* Session states; see session.c for the diagram and transition table. */
typedef enum session_state {
    SESSION_STARTUP = 0, /* waiting for the startup packet (SSL/GSS negotiation loops here) */
    SESSION_AUTH,        /* waiting for a password or SASL message */
    SESSION_OPENING,     /* authenticated; the backend's OPEN job is in flight */
    SESSION_IDLE,        /* ready, no transaction block */
    SESSION_IN_TX,       /* ready, inside a transaction block */
    SESSION_FAILED_TX,   /* ready, inside a failed transaction block */
    SESSION_WAITING,     /* upstream: its request waits for a server connection */
    SESSION_BUSY,        /* a query job is in flight */
    SESSION_COPY_IN,     /* COPY FROM STDIN: reading the client's CopyData; chunk jobs may be
                            in flight */
    SESSION_COPY_OUT,    /* COPY TO STDOUT: sending parts of the output, one job each */
    SESSION_CLOSING,     /* socket closed; waiting for the backend to finish and close */
    SESSION_NSTATES
} session_state;

const char *session_state_str(session_state s);

/* One event-loop thread (`workers` of them).  A loop owns the sessions of
 * the databases homed on it (server_db_home: every client of a database and
 * every server connection of its pools live on one loop, so pools and their
 * queues are never split) and everything those sessions use.  Its thread
 * holds `lock` whenever it runs callbacks and lets go only while it waits in
 * epoll (ev_set_loop_release_cb); loop 0, which also runs signals, timers
 * and the admin console, takes every other loop's lock for work that spans
 * them (server_world_lock).  Other threads hand things over through the
 * inbox (inbox_lock, a leaf lock) and `wake`. */
typedef struct proxy_loop {
    proxy_server *server;
    int index;
    struct ev_loop *loop;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock;
    ev_async wake;       /* the inbox has something, or loop 0 changed its watchers */
    ev_check reaper;     /* frees closed sessions after the callbacks that closed them */

    /* the inbox, guarded by inbox_lock: finished jobs (pushed by worker
     * threads), the CLOSE jobs of idle backends the pool expired, sessions
     * moving here, CancelRequests to look for here */
    pthread_mutex_t inbox_lock;
    storage_job *jobs_done_head, *jobs_done_tail;
    storage_job *backend_jobs_done_head, *backend_jobs_done_tail;
    proxy_session *migrants;
    struct proxy_cancel_msg *cancels;
    int backend_closes; /* CLOSE jobs in flight for its databases */

    /* its sessions, and those waiting to be freed */
    proxy_session *sessions;
    proxy_session *zombies;

    proxy_cancel_request *upstream_cancels; /* CancelRequests on their way upstream */
    proxy_upstream *upstreams;        /* its upstream server connections */
    proxy_upstream *upstream_zombies; /* closed, freed by the reaper */
    proxy_stmt_cache stmt_cache;      /* prepared statements of its pools */
    timeline_acc tl_acc;              /* the live timeline's counts since its last tick */

    struct meter_fp_cache *fp_cache; /* upstream queries' fingerprints (meter.c); lazily */
    storage_ledger_writer *ledger_w; /* its usage journal (metering on); flushed before replies */

    /* Spare I/O buffers: an idle client keeps none (buf_take / buf_give). */
    uint8_t **spare_bufs;
    size_t *spare_caps;
    int nspare, spare_cap;
} proxy_loop;

#define PROXY_MAX_WORKERS 64

struct proxy_server {
    struct ev_loop *loop; /* loops[0].loop: signals, timers, the admin console */
    proxy_loop loops[PROXY_MAX_WORKERS];
    int nloops;
    proxy_config cfg;
    proxy_config_overrides ov;
    proxy_userlist *users;
    storage_engine *sqlite;
    pool *pool;

    proxy_listener listeners[PROXY_MAX_LISTENERS];
    int nlisteners;

    ev_signal sigterm, sigint, sighup;
    ev_timer pool_timer; /* each second: idle backends past their limits are closed */
    ev_timer accept_pause; /* out of descriptors: accepting resumes after a pause */
    double accept_logged;  /* when running out of descriptors was last logged */

    /* counted over every loop (atomics) */
    int nclients;  /* client sockets counted against max_client_conn */
    uint32_t next_session_id;
    uint32_t next_upstream_id;
    int loops_running; /* loops other than 0 still in ev_run */

    bool shutting_down;
    bool trim_pending; /* databases paused: give freed memory back at the next tick */
    int shutdown_signals;
    int exit_status;

    /* statistics (stats.c) and the admin console (admin.c) */
    proxy_stats *stats;
    ev_timer stats_timer; /* every stats_period: snapshot for the averages */
    time_t start_time;
    bool pause_all;       /* PAUSE without a database */
    char (*paused)[WIRE_NAME_MAX]; /* PAUSE db: the databases paused by name */
    int npaused, paused_cap;
    ev_timer pause_timer; /* polls while a PAUSE waits for running queries */
    proxy_managed *managed; /* managed PostgreSQL servers started at least once (loop 0) */
    proxy_http *http;       /* the HTTP surface (http.c); NULL: off */
    struct sqlhttp *sqlhttp; /* Neon's SQL over HTTP (serverless/sql_http.c); NULL: off */
    timeline *timeline;     /* the live timeline (live.c); loop 0 */
    double live_last_t;     /* wall clock of its latest sample */
    uint64_t live_cold_starts, live_up_us; /* the databases' totals at that sample */
    double live_self_mb, live_engine_mb;   /* live_read_memory's */
    uint32_t live_engine_procs;
    storage_ledger *ledger; /* usage records (meter.c); NULL: metering off */
    struct proxy_quotas *quotas; /* this month's use of databases with quotas (quota.c) */
    struct proxy_limits *limits; /* clients per database and per user (limits.c) */
    struct proxy_tls *tls;       /* TLS contexts (tls.c); replaced on RELOAD */
    struct proxy_hba *hba;       /* auth_hba_file (hba.c), read-only; replaced on RELOAD */
    bool meter_warned;      /* the journal could not be written (logged once) */
    uint64_t meter_activity_us; /* the last activity records (meter_activity) */
    int64_t meter_wall_offset_us; /* wall clock minus the monotonic one, taken once */
    uint64_t meter_pauses;        /* pool_pauses_total at the last activity records */
    ev_async meter_answered;      /* loop 0: the ledger answered a meter_read */
    pthread_mutex_t meter_lock;   /* meter_done */
    struct meter_read *meter_done;
    bool meter_inited;
};

/* A session's COPY FROM STDIN under way. */
typedef struct session_copy {
    wire_buf buf;               /* CopyData payloads collected for the next chunk */
    wire_buf job;               /* the chunk the COPY job in flight borrows */
    bool discard;               /* the COPY failed: drop the data until its end */
    bool end_pending;           /* CopyDone/CopyFail came: submit the end when possible */
    bool fatal;                 /* a message other than COPY's broke it: the session ends
                                   after reporting the error, as in PostgreSQL */
    storage_copy_end end;       /* DONE or FAIL, once end_pending */
    char *fail_message;         /* FAIL: the reason (owned) */
    const char *fail_sqlstate;  /* FAIL: NULL for the client's CopyFail, else static */
} session_copy;

struct proxy_session {
    proxy_server *server;
    proxy_loop *loop; /* the loop that owns it (its database's home, once known) */
    uint32_t id; /* also the BackendKeyData process id */
    uint32_t cancel_key;
    session_state state;
    int fd;
    ev_io rio, wio;
    char peer[56]; /* "127.0.0.1:5555", "[::1]:5555" or "unix" */
    /* the StartupMessage's names, truncated as PostgreSQL truncates
     * identifiers ("" until then), in one allocation (names) */
    const char *user, *database, *application_name;
    char *names;

    wire_buf in, out;
    proxy_loop *migrate_to; /* its database lives on another loop: move there */
    bool ssl_answered;    /* an SSLRequest was answered */
    bool is_unix;         /* came through the Unix socket (never TLS) */
    bool tls_starting;    /* 'S' is queued: the handshake starts once it is sent */
    bool tls_handshaking; /* SSL_accept under way */
    bool tls_read_wants_write; /* SSL_read needs the socket writable first */
    SSL *tls;             /* TLS on the client socket; NULL: plaintext */
    struct sockaddr_storage addr; /* the client's address (unset for Unix sockets) */
    bool gss_answered;    /* a GSSENCRequest was answered */
    bool socket_closed;   /* fd closed; nothing more to send */
    bool want_close;      /* close once the current job is done and output flushed */
    bool discard_to_sync; /* extended-protocol error: skip messages until Sync */
    bool job_metered;     /* its done job's usage is already recorded (server_wake_cb) */
    bool timed_out;       /* query_timeout cancelled its current statement */
    bool limits_counted;  /* counted in its database's and user's client counts (limits.c) */
    uint64_t tx_idle_since_us; /* idle inside a transaction since (idle_transaction_timeout) */
    uint64_t stream_fingerprint;   /* COPY_OUT: the query whose output goes on (meter.c) */
    storage_query_kind stream_kind;

    /* metering of upstream requests (meter.c): since the last ReadyForQuery */
    struct {
        uint64_t in, out, rows_returned, rows_written;
        uint64_t fingerprint;    /* the request's first query's; 0 none */
        storage_query_kind kind; /* the weightiest of its queries */
        char *sample;            /* its normalised text, when new to the ledger */
        char sqlstate[6]; /* the first error's; "" none */
        bool copy_in;     /* a COPY FROM STDIN: its "COPY n" wrote n rows */
    } meter;

    /* authentication */
    bool auth_lookup;        /* auth_query under way: waiting for or using a server */
    bool auth_looked_up;     /* auth_secret is the user's secret, not auth_file's */
    char *auth_secret;       /* what auth_query found (owned); NULL: none */
    pool_servers *lookup_ps; /* the pool of (database, auth_user) it waits in */
    proxy_upstream *lookup_u;/* the server running it */
    /* the small fields, together (no padding) */
    uint8_t md5_salt[4];
    bool over_limit;         /* accepted above max_client_conn: refuse after startup */
    bool sasl_started;
    bool plain_started;      /* a cleartext password was asked for */
    bool greet_pending;      /* OPENING: waits for a server's parameters */
    bool pg_discard_to_sync; /* a request failed before reaching a server: skip to Sync */
    bool unnamed_here;       /* ... and the linked server has it */
    bool settings_proven;    /* its settings were applied once without error */
    bool backend_opened;
    bool reopening;          /* OPENING for a query, not a login: no greeting */
    bool job_in_flight;
    char tx_status;
    bool admin;              /* connected to the console database: no backend */
    bool admin_full;         /* in admin_users; otherwise stats_users (SHOW only) */
    bool admin_pause_wait;   /* a PAUSE waits for running queries: no reply yet */
    struct meter_read *admin_read; /* a SHOW USAGE/BILL/TOP waits for the ledger */
    wire_scram_server *scram;

    /* upstream PostgreSQL (engine=postgres, pgpool.c): the pool, the server
     * connection linked to the session (NULL between transactions), its
     * place in the pool's queue, its named statements and its settings */
    pool_servers *ps;
    proxy_upstream *upstream;
    pool_link wait_link;
    proxy_stmt_map stmts;
    proxy_settings startup_settings, settings;
    wire_buf startup_params; /* name\0value\0... from the StartupMessage */
    wire_buf unnamed;        /* transaction pooling: the client's last unnamed Parse (after
                                the name), Parsed again on a new server before its Bind */
    struct pgpool_op *ops;   /* SET/RESET run but not yet committed */
    int nops, ops_cap;

    /* backend */
    pool_db *db;
    storage_conn *backend;  /* SQLite: held while the client has session state or was
                               busy within sqlite_release_idle; NULL otherwise */
    uint64_t idle_since_us; /* entered SESSION_IDLE (monotonic) */
    storage_job *job;       /* SQLite: allocated with the backend, freed when it goes back */
    char *job_sql;
    uint8_t *job_msgs; /* EXTENDED: the batch's messages, owned */
    size_t job_msgs_len;

    /* COPY FROM STDIN (SESSION_COPY_IN): allocated when one starts, freed
     * when the COPY's result is in (session_copy) */
    struct session_copy *copy;

    /* admin console (admin.c) and statistics (stats.c) */
    char *admin_pause_db;    /* what a waiting PAUSE waits for (owned; NULL = all) */
    proxy_stats_db *stats;   /* this session's database counters; NULL: none */
    time_t connect_time, request_time; /* wall clock, for SHOW CLIENTS */
    uint64_t query_start_us, xact_start_us, wait_start_us; /* monotonic */
    bool logged_in;          /* reached ReadyForQuery once (the live timeline's logins) */
    uint64_t reopen_start_us; /* a query's message came while its released SQLite connection
                                 was taken again (OPENING): the query's time starts there */
    uint64_t held_since_us;  /* a message waits because its database is paused; 0: none */

    proxy_session *next, *prev; /* loop->sessions */
    proxy_session *zombie_next;  /* loop->zombies, loop->migrants */
};

/* tls.c: OpenSSL contexts from client_tls_* and server_tls_*, and
 * non-blocking I/O on an SSL object (on its connection's loop only). */
typedef struct proxy_tls proxy_tls;
proxy_tls *proxy_tls_new(const proxy_config *cfg, char *err, size_t errlen);
void proxy_tls_free(proxy_tls *t); /* NULL: no-op; open connections keep their context */
bool proxy_tls_client_enabled(const proxy_tls *t);
bool proxy_tls_server_enabled(const proxy_tls *t);
/* An SSL object on fd for the server side of a handshake / for a
 * connection to a server named host (SNI, and its name checked in
 * verify-full).  NULL with the reason in err. */
SSL *proxy_tls_accept_new(proxy_tls *t, int fd, char *err, size_t errlen);
SSL *proxy_tls_connect_new(proxy_tls *t, int fd, const char *host, proxy_tls_mode mode, char *err,
                           size_t errlen);
typedef enum proxy_tls_step {
    PROXY_TLS_DONE,
    PROXY_TLS_WANT_READ,
    PROXY_TLS_WANT_WRITE,
    PROXY_TLS_FAILED,
    PROXY_TLS_CLOSED, /* the peer closed the connection before the handshake ended */
} proxy_tls_step;
proxy_tls_step proxy_tls_handshake(SSL *ssl, char *err, size_t errlen);
/* As read(2)/write(2) on a non-blocking socket: n > 0, 0 at end of stream
 * (read), -1 with errno (EAGAIN: try again when the socket is readable, or
 * writable when *want_write / *want_read says the other way round). */
ssize_t proxy_tls_read(SSL *ssl, void *buf, size_t len, bool *want_write);
ssize_t proxy_tls_write(SSL *ssl, const void *buf, size_t len, bool *want_read);
bool proxy_tls_pending(SSL *ssl); /* decrypted bytes wait inside OpenSSL */
void proxy_tls_close(SSL *ssl);   /* close_notify (best effort) and free; NULL: no-op */
/* The peer sent a certificate that verified against the CA file (NULL: no TLS, false). */
bool proxy_tls_peer_cert(SSL *ssl);
/* Its common name (a verified certificate only; false if none or unusable). */
bool proxy_tls_peer_cn(SSL *ssl, char *out, size_t outlen);
/* Its subject as an RFC 2253 string (pg_hba.conf's clientname=DN); the same terms. */
bool proxy_tls_peer_dn(SSL *ssl, char *out, size_t outlen);
#define PROXY_TLS_END_POINT_MAX 64
/* tls-server-end-point channel-binding data (RFC 5929) of our certificate; 0: none. */
size_t proxy_tls_end_point(SSL *ssl, uint8_t out[PROXY_TLS_END_POINT_MAX]);
/* The same for the peer's certificate (a client binding to its server). */
size_t proxy_tls_peer_end_point(SSL *ssl, uint8_t out[PROXY_TLS_END_POINT_MAX]);
const char *proxy_tls_version(SSL *ssl); /* "TLSv1.3"; "" for NULL */
const char *proxy_tls_cipher(SSL *ssl);

/* session.c */
void session_set_state(proxy_session *s, session_state to);
session_state session_state_for_tx(char tx);
bool session_state_ready(session_state st);
void session_close(proxy_session *s, const char *reason);
void session_fatal(proxy_session *s, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool session_flush(proxy_session *s);
void session_accept(proxy_server *srv, int fd, const struct sockaddr *sa, socklen_t salen,
                    bool is_unix);
/* A session that moved here (server_migrate): watch it and go on. */
void session_adopt(proxy_session *s);
/* A CancelRequest that came to another loop: cancels the running query or
 * queued request of this loop's session pid, if the key matches. */
void session_cancel_local(proxy_loop *l, uint32_t pid, uint32_t key, const char *peer);
void session_on_job_done(proxy_session *s, storage_job *job);
/* Graceful shutdown: idle sessions get FATAL 57P01 and close now; busy ones
 * after their statement. */
void session_shutdown(proxy_session *s);
void session_free(proxy_session *s);

/* Ends a session from outside its callbacks (admin KILL): FATAL with this
 * SQLSTATE and message, a running statement interrupted. */
void session_terminate(proxy_session *s, const char *sqlstate, const char *message);
/* Loop 0, world lock, every second: client_login_timeout,
 * idle_transaction_timeout and query_timeout for every session; and the
 * sessions of clients that hung up while their SQLite statement runs end
 * (as PostgreSQL's client_connection_check_interval), so the statement
 * does not hold its backend (or the write lock) to its end. */
void session_enforce_timeouts(proxy_server *srv);
/* auth_query is done: error (the query failed) or the user's secret (owned
 * by the session from now; NULL: no such user or no password).  The login
 * goes on: a password is asked for, or FATAL. */
void session_auth_looked_up(proxy_session *s, const char *error, char *secret);
/* Lets a session that admin_session_held() stopped go on with its input. */
void session_wake(proxy_session *s);
/* The pool timer: SQLite clients idle for sqlite_release_idle give back a
 * connection that holds nothing of their session. */
void session_release_idle(proxy_server *srv); /* world lock */

/* What a client's server connection tells its session (upstream.c and
 * pgpool.c call this). */
typedef enum proxy_upstream_event {
    PROXY_UPSTREAM_EV_RELAYED = 0, /* server messages were appended to s->out, nready
                                      ReadyForQuery among them, the last with status tx */
    PROXY_UPSTREAM_EV_DRAINED,     /* what waited for the server has left: read the client */
} proxy_upstream_event;
const char *proxy_upstream_event_str(proxy_upstream_event ev);
void session_on_upstream(proxy_session *s, proxy_upstream_event ev, int nready, char tx);

/* ---- upstream PostgreSQL server connections (upstream.c) ---- */

typedef enum proxy_upstream_state {
    PROXY_UPSTREAM_CONNECTING = 0, /* nonblocking connect in progress */
    PROXY_UPSTREAM_LOGIN,          /* StartupMessage sent: authenticating, then parameters */
    PROXY_UPSTREAM_READY,          /* logged in */
    PROXY_UPSTREAM_CLOSED,         /* socket closed; freed by the reaper */
} proxy_upstream_state;
const char *proxy_upstream_state_str(proxy_upstream_state st);

/* A reply the relay must treat specially, in the order the server answers
 * (upstream.c: the expectation queue). */
typedef struct proxy_expect {
    uint8_t kind;   /* upstream.c's EXP_* */
    uint32_t epoch; /* ReadyForQuery messages expected before its reply */
    proxy_stmt *st; /* Parse: the statement (a reference), dropped from the LRU if it fails */
    char *name;     /* a refused Parse: the client's name for the error (owned) */
} proxy_expect;

/* One server connection of an upstream pool (pool_servers).  Its pool
 * state (pool_link.state: login, idle, active, used) says who may use it;
 * `client` is the session it serves while ACTIVE. */
struct proxy_upstream {
    proxy_server *server;
    proxy_loop *loop; /* its database's home loop */
    pool_servers *ps;
    pool_link link;
    uint32_t id;
    uint32_t generation; /* pool_db_generation when it was made */
    proxy_session *client; /* ACTIVE: the linked session */
    proxy_upstream_state state;
    int fd;
    ev_io rio, wio;
    ev_timer timer; /* server_connect_timeout, until READY */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char where[160]; /* "127.0.0.1:5432" for messages */
    char user[WIRE_NAME_MAX];
    char password[256]; /* plain, or a stored md5 hash or SCRAM verifier */
    time_t connect_time, request_time;

    wire_buf in, out;
    wire_buf params;      /* the server's login ParameterStatus messages, as sent */
    wire_buf error_frame; /* the server's ErrorResponse that ended the login */
    wire_scram_client *scram;
    SSL *tls;                /* server_tls_sslmode: TLS on the socket; NULL: plaintext */
    enum {
        UPSTREAM_TLS_NONE = 0,   /* plaintext (or not yet asked) */
        UPSTREAM_TLS_ASKED,      /* SSLRequest sent: one byte, 'S' or 'N', is due */
        UPSTREAM_TLS_HANDSHAKE,  /* SSL_connect under way */
        UPSTREAM_TLS_ON,         /* everything goes through u->tls */
    } tls_phase;
    bool tls_read_wants_write; /* SSL_read needs the socket writable first */
    uint32_t be_pid, be_key; /* BackendKeyData */
    bool backlogged;         /* out was over the high-water mark */
    char sqlstate[6];
    char message[256];

    /* the conversation */
    int pending;        /* Query/Sync/FunctionCall sent (ours too) whose ReadyForQuery is due */
    bool open;          /* extended-protocol messages sent since the last Sync */
    char tx;            /* the last ReadyForQuery's status */
    bool saw_error;     /* an ErrorResponse since the last ReadyForQuery */
    bool saw_rollback;  /* a ROLLBACK CommandComplete since the last ReadyForQuery */
    uint32_t sent_z, recv_z; /* ReadyForQuery messages asked for / received */
    bool copy_in;            /* the server is in COPY FROM STDIN: it ignores Sync */
    bool inject_failed;      /* a query of Dormouse's own that had to succeed failed */
    bool barrier;            /* the client's messages wait for our query's ReadyForQuery */
    int cancels_in_flight;   /* CancelRequests for it not yet done: it stays with its client */
    struct {                 /* named Parses the server skipped lately: server name -> the
                                client's, for the 26000 of a Bind that followed them */
        char server[24];
        char client[64];
    } undone[4];
    int undone_next;
    int syncs_since_exec;    /* Syncs sent since the last Execute or Query */
    uint32_t sent_z_at_exec; /* sent_z at that Execute or Query */
    proxy_expect *exp;  /* ring: exp[(exp_head + i) % exp_cap], i < exp_len */
    size_t exp_head, exp_len, exp_cap;

    /* an auth_query it runs for a client's login (pgpool_lookup_*): that
     * session, and what came back */
    proxy_session *lookup_for;
    bool lookup_row;       /* a row came */
    char *lookup_secret;   /* its password column (NULL: SQL NULL or no row) */
    bool lookup_failed;    /* the query failed: lookup_error says why */
    char lookup_error[256];

    /* its session state, as Dormouse told it */
    proxy_settings settings;
    proxy_stmt_lru stmts;
    bool stmts_unsure;  /* stmts may list what the server no longer has, or miss what it
                           has (a DEALLOCATE/DISCARD in a Parse): Close before Parse */
    uint32_t next_temp_stmt; /* DMS_d<n>: stand-ins for DEALLOCATE */
    struct upstream_sop *sops; /* DEALLOCATE/DISCARD effects due at a ReadyForQuery */
    int nsops, sops_cap;

    proxy_upstream *all_prev, *all_next; /* loop->upstreams */
    proxy_upstream *zombie_next;
};

/* What relaying the client's input found. */
typedef enum proxy_relay_status {
    PROXY_RELAY_OK = 0,    /* complete messages went to the server; a partial one waits */
    PROXY_RELAY_TERMINATE, /* the client sent Terminate (consumed, not relayed) */
    PROXY_RELAY_TOO_LARGE, /* a message over max_packet_size (not consumed) */
    PROXY_RELAY_INVALID,   /* an impossible length (not consumed) */
    PROXY_RELAY_OOM,
} proxy_relay_status;
const char *proxy_relay_status_str(proxy_relay_status st);

/* The socket address of an upstream (IPv4, IPv6, localhost, or a Unix socket
 * directory, which gets .s.PGSQL.<port>), and a description for messages.
 * false when it is none of these.  Pure; no DNS. */
bool proxy_upstream_address(const pool_upstream *where, struct sockaddr_storage *ss,
                            socklen_t *len, char *desc, size_t desclen);
/* Starts connecting a server for pool ps (added to it, LOGIN; on
 * srv->upstreams).  Its outcome reaches pgpool_server_ready() or
 * pgpool_server_failed().  NULL when out of memory. */
proxy_upstream *proxy_upstream_new(proxy_server *srv, pool_servers *ps);
/* Stops the watchers and closes the socket (Terminate first when logged in
 * and quiet), takes it out of its pool and queues it for freeing.  Safe
 * under its own callbacks; CLOSED is a no-op. */
void proxy_upstream_close(proxy_upstream *u);
/* Frees the closed connections (the reaper); all of them at teardown. */
void proxy_upstream_reap(proxy_loop *l);
/* Relays the complete client messages in in[0..len), rewriting what pooling
 * requires (named statements, SET bookkeeping, refusals), up to a Terminate
 * or a bad message.  *used: bytes consumed.  A write failure is reported
 * through EV_FAILED (the session may be closing when this returns). */
proxy_relay_status proxy_upstream_relay_input(proxy_upstream *u, const uint8_t *in, size_t len,
                                              uint32_t max_size, size_t *used);
/* Runs auth_query `sql` with $1 = user on an idle-taken server for
 * u->lookup_for's login; the replies are kept (lookup_row, lookup_secret,
 * lookup_failed), not relayed, and pgpool_lookup_done() is called once the
 * ReadyForQuery is in. */
void proxy_upstream_lookup(proxy_upstream *u, const char *sql, const char *user);
/* Sends a simple Query of Dormouse's own whose replies are dropped (a
 * settings sync, the reset query). */
void proxy_upstream_inject_query(proxy_upstream *u, const char *sql, size_t len);
/* More than PROXY_OUTPUT_HIGH_WATER bytes wait for the server: stop reading
 * the client until EV_DRAINED. */
bool proxy_upstream_backlogged(const proxy_upstream *u);
/* The client's output has room again: read the server again. */
void proxy_upstream_client_drained(proxy_upstream *u);
/* Why it failed: SQLSTATE and message, and the server's own ErrorResponse
 * (frame non-NULL) when the server refused the login. */
void proxy_upstream_error(const proxy_upstream *u, const char **sqlstate, const char **message,
                          const uint8_t **frame, size_t *frame_len);
/* Nothing is under way: no reply due, no open extended-protocol batch, no
 * transaction. */
bool proxy_upstream_quiet(const proxy_upstream *u);
/* Something is under way: a reply is due, an extended-protocol batch is
 * open, or the server waits for COPY data. */
bool proxy_upstream_expecting(const proxy_upstream *u);
/* Cancels the running query: CancelRequest with the server's key over a new
 * connection (nothing when not logged in). */
void proxy_upstream_cancel(proxy_upstream *u);
/* Frees the CancelRequests still on their way (server teardown). */
void proxy_upstream_cancels_free(proxy_loop *l);

/* ---- linking clients and servers of upstream pools (pgpool.c) ---- */

/* Authenticated to an upstream database: greets the client from the pool's
 * cached server parameters, or waits (OPENING) for a server to log in
 * first.  True: greeted, go on with the input. */
bool pgpool_client_start(proxy_session *s);
/* The client's input: gets it a server (waiting in the queue when none is
 * free) and relays. */
void pgpool_client_input(proxy_session *s);
/* The session is closing: leaves the queue, gives back or closes its server. */
void pgpool_client_close(proxy_session *s);
/* A CancelRequest for s: cancels its running query upstream, or takes it
 * out of the queue with 57014.  */
void pgpool_client_cancel(proxy_session *s);
void pgpool_session_free(proxy_session *s);
/* upstream.c's reports. */
void pgpool_server_ready(proxy_upstream *u); /* logged in */
void pgpool_server_failed(proxy_upstream *u); /* connect/login/connection failed; closed */
/* A ReadyForQuery was relayed: commits the client's SETs, gives the server
 * back when the transaction is over. */
void pgpool_server_ready_for_query(proxy_upstream *u, char tx);
/* An auth_query's replies are in (upstream.c): the server goes back to its
 * pool and the session's login goes on with what was found. */
void pgpool_lookup_done(proxy_upstream *u);
/* Looks s->user up with auth_query through the pool of (s->db, auth_user)
 * (SESSION_AUTH, not reading); the login goes on in session_auth_looked_up. */
void pgpool_lookup_start(proxy_session *s, const char *auth_user);
/* Nothing more is due from an unlinked server (a reset finished). */
void pgpool_server_settled(proxy_upstream *u);
/* Each second: queue timeouts, idle servers past their limits,
 * min_pool_size, retries after failed logins. */
void pgpool_tick(proxy_server *srv);
/* KILL db / shutdown: close every server of db (NULL: all) that no client
 * holds. */
void pgpool_close_servers(proxy_server *srv, const pool_db *db);
void pgpool_pause_db(pool_db *db, void *arg); /* a pool_pause_fn */
/* Hands free servers to db's waiting clients, in each of its pools. */
void pgpool_dispatch_db(proxy_server *srv, pool_db *db);
/* Every client waiting for a server of db gets sqlstate and message: a
 * request's ErrorResponse (the session goes on), or a FATAL for one not yet
 * logged in. */
void pgpool_fail_waiters(proxy_server *srv, pool_db *db, const char *sqlstate, const char *message);

/* ---- managed PostgreSQL servers (managed.c), loop 0 only ---- */

/* A client waits for a server of db (managed) and none may be opened: the
 * server is started (or its failure reported). */
void managed_want(proxy_server *srv, pool_db *db);
/* db has paused: its server is stopped (fast shutdown). */
void managed_stop(proxy_server *srv, pool_db *db);
/* "stopped", "starting", "ready", "stopping" or "failed". */
const char *managed_state(proxy_server *srv, const pool_db *db);
/* Dormouse exits: every managed server is stopped, waiting for it. */
void managed_shutdown_all(proxy_server *srv);
/* The postmasters running now (at most max), for the live timeline's memory. */
int managed_pids(proxy_server *srv, pid_t *out, int max);
/* ---- metering (meter.c) ---- */

/* A QUERY or EXTENDED job of s is done: its usage goes to the ledger
 * (before its reply is sent). */
void meter_job(proxy_session *s, storage_job *job);
/* The loop's usage records go to its journal (one write(2)), before the
 * replies of the queries they describe are sent: session_flush calls it. */
void meter_flush(proxy_loop *l);
/* server_wake_cb: jobs finished together are metered first, then flushed
 * once, then delivered (session_on_job_done skips what this recorded). */
void meter_jobs_early(storage_job *jobs);
/* An upstream request's query text (a Query's, or a Parse's), len bytes. */
void meter_upstream_query(proxy_session *s, const char *sql, size_t len);
/* Loop 0, world lock: active time, cold starts and storage size of each
 * database since the last records, every METER_ACTIVITY_SECONDS (now if
 * force: before the process sleeps, and at exit). */
#define METER_ACTIVITY_SECONDS 10
void meter_activity(proxy_server *srv, bool force);
/* s or its loop goes: what metering holds for it. */
void meter_session_free(proxy_session *s);
void meter_loop_free(proxy_loop *l);
/* An upstream server's reply to s: what the relay sees of a frame (rows,
 * errors, bytes), and the ReadyForQuery that ends a request (its record). */
void meter_upstream_frame(proxy_session *s, const wire_frame *f);
void meter_upstream_done(proxy_session *s);

/* A read of the ledger answered on loop 0: storage_ledger_query() runs it on
 * the ledger's thread, then finish(r) runs on loop 0 (meter.c); the reader
 * owns r (storage_ledger_request_clear, free) from finish on. */
typedef struct meter_read meter_read;
struct meter_read {
    storage_ledger_request q; /* first: the ledger hands back &q */
    proxy_server *srv;
    void (*finish)(meter_read *r);
    proxy_session *session; /* the console session waiting for it; NULL once gone */
    meter_read *next;
};
/* Loop 0: r->q filled in, r->finish set. */
void meter_read_submit(proxy_server *srv, meter_read *r);
/* After the loops, before the ledger: the answers' path to loop 0. */
void meter_server_init(proxy_server *srv);
/* After the ledger closed (which answers what was pending): frees those. */
void meter_server_free(proxy_server *srv);
/* The plans bills are computed under: the configured ones, then the
 * built-in ones not configured under their name. */
int meter_plans(const proxy_server *srv, const billing_plan **out, int max);
/* [first day of year-month, first day of the next), UTC, in µs; this month's. */
void meter_month(int year, int month, int64_t *from_us, int64_t *to_us);
void meter_month_now(int64_t *from_us, int64_t *to_us);
/* What billing_compute needs, from the ledger's answer (borrows its intervals). */
struct billing_usage meter_billing_usage(const storage_bill_input *in, int64_t from_us,
                                         int64_t to_us);

/* ---- client connection limits (limits.c) ---- */

bool limits_init(proxy_server *srv);
void limits_free(proxy_server *srv);
/* s has authenticated: counted against max_db_client_connections and
 * max_user_client_connections; false with PostgreSQL's message when over. */
bool limits_client_login(proxy_session *s, char *msg, size_t n);
/* s goes: no longer counted. */
void limits_client_logout(proxy_session *s);
/* s's address may try to log in: false (with the message) while it is
 * refused after login_failure_limit failures. */
bool limits_login_allowed(proxy_session *s, char *msg, size_t n);
/* s failed to authenticate: counted against its address. */
void limits_login_failed(proxy_session *s);

/* ---- quotas (quota.c) ---- */

/* After the ledger opens: what databases with a quota used this month. */
bool quota_open(proxy_server *srv, char *err, size_t errlen);
void quota_close(proxy_server *srv);
/* db's [quotas] line (its own, else "*"); NULL: none. */
const proxy_quota *quota_for(const proxy_server *srv, const char *db);
/* Any thread: what db used (metered records, activity records). */
void quota_count(proxy_server *srv, const char *db, uint64_t rows_read, uint64_t rows_written,
                 uint64_t active_us, int64_t storage_bytes);
/* Any thread: false, with the message of a 53400 error, when db is over a quota. */
bool quota_check(proxy_server *srv, const char *db, char *msg, size_t n);

/* ---- HTTP (http.c), loop 0 ---- */

/* Starts serving http_listen ("": off).  False with a message when it is
 * malformed, or cannot be bound though set explicitly (the default address
 * taken is only a warning). */
bool http_start(proxy_server *srv, char *err, size_t errlen);
void http_stop(proxy_server *srv);

/* World lock: databases due to pause (idle_timeout, PAUSE db) pause now. */
void server_pause_due(proxy_server *srv);
/* The client's StartupMessage parameters: what its servers must be SET to,
 * and what its greeting reports. */
bool pgpool_client_startup(proxy_session *s, const wire_startup *st);
/* A SET/RESET (RESET ALL: kind STORAGE_SESS_RESET_ALL) the client sent:
 * committed to its settings when its transaction ends well. */
void pgpool_record_op(proxy_session *s, storage_sess_kind kind, const char *name,
                      const char *sql, size_t len);
/* The relay's batch of replies is out: gives the server back when the
 * transaction is over and the pool mode allows. */
void pgpool_server_replies_done(proxy_upstream *u);
/* Waits for a server (SESSION_WAITING) or links one at once; true when the
 * session holds a server on return. */
bool pgpool_acquire(proxy_session *s);

/* server.c */
/* An empty buffer gets storage from the spares (or nothing); an empty buffer
 * gives its storage back (a large one is freed): idle sessions hold no
 * buffers, busy ones do not allocate per message. */
void server_buf_take(proxy_loop *l, wire_buf *b);
void server_buf_give(proxy_loop *l, wire_buf *b);
/* A job of session s (job->udata): it comes back on s's loop. */
void server_submit_job(proxy_session *s, storage_job *job);
void server_session_closed(proxy_session *s); /* queue s for freeing */
/* Loop 0: a client came; the timers stopped at zero run again. */
void server_timers_wake(proxy_server *srv);
/* The loop a database's clients and servers live on (the console: loop 0). */
proxy_loop *server_db_home(proxy_server *srv, const char *database);
/* Loop 0 only: takes (and gives back) every other loop's lock, for work that
 * spans loops (admin commands, signals, timers); the unlock wakes them so
 * that they see watchers changed meanwhile. */
/* A libmicrohttpd daemon (MHD_USE_EPOLL, no thread of its own) driven by a
 * libev loop (http.c): its epoll descriptor and its timeout as watchers. */
struct MHD_Daemon;
typedef struct proxy_mhd_loop {
    struct ev_loop *loop;
    struct MHD_Daemon *d;
    ev_io io;
    ev_timer timer; /* MHD's own timeout */
    ev_timer kick;  /* a run soon, asked for from inside MHD's callbacks */
} proxy_mhd_loop;
/* Watches d; the watchers alone do not keep the loop running. */
void proxy_mhd_loop_start(proxy_mhd_loop *m, struct ev_loop *loop, struct MHD_Daemon *d);
/* MHD_run now, then wait for its timeout (not from inside MHD's callbacks). */
void proxy_mhd_loop_run(proxy_mhd_loop *m);
/* MHD_run at the loop's next turn (from anywhere on its loop). */
void proxy_mhd_loop_kick(proxy_mhd_loop *m);
void proxy_mhd_loop_stop(proxy_mhd_loop *m);

/* "ADDRESS:PORT" or "[IPv6]:PORT" (http_listen's syntax) into an address. */
bool proxy_http_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len);

/* ---- the live timeline (live.c; timeline.h), loop 0 ---- */

bool live_init(proxy_server *srv);
void live_free(proxy_server *srv);
/* Every pool tick (with an HTTP surface to read it): live_read_memory reads /proc (without the world lock),
 * then live_tick, under it, makes one sample of the loops' counts, the
 * databases' states and that memory. */
void live_read_memory(proxy_server *srv);
void live_tick(proxy_server *srv);
/* GET /v1/timeline's answer; NULL with a message in err for an unknown
 * plan (*status 400) or out of memory (500). */
char *live_json(proxy_server *srv, double since, const char *plan, char *err, size_t errlen,
                unsigned *status);

void server_world_lock(proxy_server *srv);
void server_world_unlock(proxy_server *srv);
/* Every session / upstream server of every loop, for walks under the world
 * lock: first, then next (NULL at the end). */
proxy_session *server_sessions_first(proxy_server *srv);
proxy_session *server_sessions_next(proxy_server *srv, proxy_session *s);
proxy_upstream *server_upstreams_first(proxy_server *srv);
proxy_upstream *server_upstreams_next(proxy_server *srv, proxy_upstream *u);
/* s moves to loop `to` (it holds no watchers, jobs or servers yet); `to`
 * adopts it and processes its input again. */
void server_migrate(proxy_session *s, proxy_loop *to);
/* A CancelRequest for (pid, key): every other loop looks among its sessions. */
void server_broadcast_cancel(proxy_server *srv, proxy_loop *from, uint32_t pid, uint32_t key,
                             const char *peer);
/* Reloads the configuration file and the auth file (SIGHUP, RELOAD). false
 * with a message, keeping the old configuration, when either is invalid. */
bool server_reload(proxy_server *srv, char *err, size_t errlen);

/* stats.c */
uint64_t proxy_stats_now_us(void); /* monotonic clock */
proxy_stats *proxy_stats_new(uint64_t now_us);
void proxy_stats_free(proxy_stats *st);
/* Finds or creates the counters of database `name`; NULL when out of memory. */
proxy_stats_db *proxy_stats_db_get(proxy_stats *st, const char *name);
int proxy_stats_db_count(const proxy_stats *st);
/* Every database's counters sorted by name (malloc'd array; the caller frees
 * the array only). NULL with *n = 0 when there are none or out of memory. */
proxy_stats_db **proxy_stats_db_sorted(const proxy_stats *st, int *n);
/* Rotates the snapshots (the stats_period timer). */
void proxy_stats_tick(proxy_stats *st, uint64_t now_us);
/* Averages over the last period: counts and bytes per second, times per event. */
void proxy_stats_averages(const proxy_stats *st, const proxy_stats_db *d,
                          proxy_stats_counters *avg);
/* The counting points; each accepts d == NULL (an uncounted session). */
void proxy_stats_query_done(proxy_stats_db *d, uint64_t duration_us);
void proxy_stats_xact_done(proxy_stats_db *d, uint64_t duration_us);
void proxy_stats_waited(proxy_stats_db *d, uint64_t duration_us);
static inline void proxy_stats_received(proxy_stats_db *d, size_t n)
{
    if (d)
        d->total.received += n;
}
static inline void proxy_stats_sent(proxy_stats_db *d, size_t n)
{
    if (d)
        d->total.sent += n;
}
void proxy_stats_timer_start(proxy_server *srv);
void proxy_stats_timer_stop(proxy_server *srv);

/* ---- admin console (admin.c) ---- */

typedef enum admin_cmd_kind {
    ADMIN_CMD_EMPTY = 0, /* only blanks and semicolons */
    ADMIN_CMD_SHOW,
    ADMIN_CMD_SET,
    ADMIN_CMD_PAUSE,
    ADMIN_CMD_RESUME,
    ADMIN_CMD_KILL,
    ADMIN_CMD_RELOAD,
    ADMIN_CMD_SHUTDOWN,
    ADMIN_CMD_NKINDS
} admin_cmd_kind;

typedef enum admin_show {
    ADMIN_SHOW_HELP = 0,
    ADMIN_SHOW_POOLS,
    ADMIN_SHOW_CLIENTS,
    ADMIN_SHOW_SERVERS,
    ADMIN_SHOW_DATABASES,
    ADMIN_SHOW_STATS,
    ADMIN_SHOW_STATS_TOTALS,
    ADMIN_SHOW_STATS_AVERAGES,
    ADMIN_SHOW_TOTALS,
    ADMIN_SHOW_CONFIG,
    ADMIN_SHOW_LISTS,
    ADMIN_SHOW_VERSION,
    ADMIN_SHOW_USERS,
    ADMIN_SHOW_MEM,
    ADMIN_SHOW_STATE,
    ADMIN_SHOW_USAGE, /* from the ledger (admin_usage.c) */
    ADMIN_SHOW_BILL,
    ADMIN_SHOW_TOP,   /* SHOW TOP QUERIES */
    ADMIN_SHOW_NITEMS
} admin_show;

typedef struct admin_cmd {
    admin_cmd_kind kind;
    admin_show show;        /* SHOW */
    char arg[WIRE_NAME_MAX]; /* PAUSE/RESUME/KILL database ("" = all), SET key */
    char value[256];        /* SET value */
} admin_cmd;

/* The console's SHOW USAGE / BILL / TOP QUERIES [db] (admin_usage.c):
 * false when the answer comes later (the session is held until then). */
bool admin_usage_show(proxy_session *s, const admin_cmd *cmd);


typedef enum admin_role {
    ADMIN_ROLE_NONE = 0, /* may not use the console */
    ADMIN_ROLE_STATS,    /* stats_users: SHOW only */
    ADMIN_ROLE_ADMIN,    /* admin_users: every command */
} admin_role;

const char *admin_cmd_kind_str(admin_cmd_kind k);
const char *admin_show_str(admin_show s);
const char *admin_role_str(admin_role r);
/* Parses one console command (case-insensitive, optional trailing ';').
 * false with a message fit for ErrorResponse 42601. */
bool admin_cmd_parse(const char *sql, admin_cmd *cmd, char *err, size_t errlen);
/* "dormouse" or "pgbouncer": the console, not a storage database. */
bool admin_db_is_console(const char *name);
/* Is user in the comma-separated list (PgBouncer's admin_users syntax)? */
bool admin_user_listed(const char *list, const char *user);
admin_role admin_role_for(const proxy_config *cfg, const char *user);
/* Splits a session's peer ("1.2.3.4:5", "[::1]:5", "unix") into address and port. */
void admin_peer_split(const char *peer, char *addr, size_t addrlen, int *port);

/* The console's half of a session: answers a Query ('Q') or refuses an
 * extended-protocol message, writing the reply to s->out. Return true to go
 * on with the next message (session_process's convention). */
bool admin_handle_query(proxy_session *s, const wire_frame *f);
bool admin_handle_extended(proxy_session *s, const wire_frame *f);
/* Must the session leave its input alone for now? True for a client of a
 * paused database with a message pending, and for a console waiting for its
 * PAUSE to finish. */
bool admin_session_held(proxy_session *s, bool pending);
/* Writes the complete reply to SHOW `what` (RowDescription, DataRows,
 * CommandComplete; no ReadyForQuery) to out. */
void admin_show_build(proxy_server *srv, admin_show what, wire_buf *out);
void admin_server_init(proxy_server *srv);
void admin_server_free(proxy_server *srv);

#define slog(s, level, fmt, ...)                                                                   \
    proxy_log(level, "C-%u %s@%s %s: " fmt, (s)->id, (s)->user[0] ? (s)->user : "-",             \
              (s)->database[0] ? (s)->database : "-", (s)->peer, ##__VA_ARGS__)

#endif
