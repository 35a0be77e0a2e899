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

/* ---- statistics (stats.c) ---- */

/* One set of counters; times in microseconds. */
typedef struct proxy_stats_counters {
    uint64_t xact_count, query_count, wait_count;
    uint64_t received, sent;
    uint64_t xact_time_us, query_time_us, wait_time_us;
} proxy_stats_counters;

/* One database's counters: totals since start, and the snapshots taken at the
 * last two stats_period ticks (averages are their difference). */
typedef struct proxy_stats_db {
    char name[WIRE_NAME_MAX];
    proxy_stats_counters total, older, newer;
    struct proxy_stats_db *hash_next, *all_next;
} proxy_stats_db;

typedef struct proxy_stats proxy_stats;

typedef struct proxy_listener {
    ev_io io;
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
    SESSION_BUSY,        /* a query job is in flight */
    SESSION_COPY_IN,     /* COPY FROM STDIN: reading the client's CopyData; chunk jobs may be
                            in flight */
    SESSION_COPY_OUT,    /* COPY TO STDOUT: sending parts of the output, one job each */
    SESSION_CLOSING,     /* socket closed; waiting for the backend to finish and close */
    SESSION_NSTATES
} session_state;

const char *session_state_str(session_state s);

struct proxy_server {
    struct ev_loop *loop;
    proxy_config cfg;
    proxy_config_overrides ov;
    proxy_userlist *users;
    storage_engine *sqlite;
    pool *pool;

    proxy_listener listeners[PROXY_MAX_LISTENERS];
    int nlisteners;

    ev_signal sigterm, sigint, sighup;
    ev_async jobs_async; /* engines' workers wake the loop here */
    ev_check reaper;     /* frees closed sessions after the callbacks that closed them */
    ev_timer pool_timer; /* each second: idle backends past their limits are closed */

    /* Finished jobs, pushed by worker threads; guarded by jobs_lock. */
    pthread_mutex_t jobs_lock;
    storage_job *jobs_done_head, *jobs_done_tail;
    /* The same for the CLOSE jobs of idle backends that the pool expired
     * (server_backend_close); backend_closes counts those in flight. */
    storage_job *backend_jobs_done_head, *backend_jobs_done_tail;
    int backend_closes;

    /* All sessions, and those waiting to be freed. */
    proxy_session *sessions;
    proxy_session *zombies;
    int nclients;  /* client sockets counted against max_client_conn */
    int state_count[SESSION_NSTATES];
    uint32_t next_session_id;

    bool shutting_down;
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

    proxy_cancel_request *upstream_cancels; /* CancelRequests on their way upstream */
};

struct proxy_session {
    proxy_server *server;
    uint32_t id; /* also the BackendKeyData process id */
    uint32_t cancel_key;
    session_state state;
    int fd;
    ev_io rio, wio;
    char peer[80]; /* "127.0.0.1:5555" or "unix" */
    char user[WIRE_NAME_MAX];
    char database[WIRE_NAME_MAX];
    char application_name[WIRE_NAME_MAX];

    wire_buf in, out;
    bool over_limit;      /* accepted above max_client_conn: refuse after startup */
    bool ssl_answered;    /* an SSLRequest was answered */
    bool gss_answered;    /* a GSSENCRequest was answered */
    bool socket_closed;   /* fd closed; nothing more to send */
    bool want_close;      /* close once the current job is done and output flushed */
    bool discard_to_sync; /* extended-protocol error: skip messages until Sync */

    /* authentication */
    uint8_t md5_salt[4];
    bool sasl_started;
    wire_scram_server *scram;

    /* upstream PostgreSQL (engine=postgres): the session's own server
     * connection, and how many Query/Sync/FunctionCall messages still wait
     * for their ReadyForQuery */
    proxy_upstream *upstream;
    int relay_pending;

    /* backend */
    pool_db *db;
    storage_conn *backend;
    bool backend_opened;
    storage_job job;
    bool job_in_flight;
    char *job_sql;
    uint8_t *job_msgs; /* EXTENDED: the batch's messages, owned */
    size_t job_msgs_len;
    char tx_status;

    /* COPY FROM STDIN (SESSION_COPY_IN) */
    wire_buf copy_buf;           /* CopyData payloads collected for the next chunk */
    wire_buf copy_job;           /* the chunk the COPY job in flight borrows */
    bool copy_discard;           /* the COPY failed: drop the data until its end */
    bool copy_end_pending;       /* CopyDone/CopyFail came: submit the end when possible */
    bool copy_fatal;             /* a message other than COPY's broke it: the session ends
                                    after reporting the error, as in PostgreSQL */
    storage_copy_end copy_end;   /* DONE or FAIL, once copy_end_pending */
    char *copy_fail_message;     /* FAIL: the reason (owned) */
    const char *copy_fail_sqlstate; /* FAIL: NULL for the client's CopyFail, else static */

    /* admin console (admin.c) and statistics (stats.c) */
    bool admin;              /* connected to the console database: no backend */
    bool admin_full;         /* in admin_users; otherwise stats_users (SHOW only) */
    bool admin_pause_wait;   /* a PAUSE waits for running queries: no reply yet */
    char admin_pause_db[WIRE_NAME_MAX]; /* what that PAUSE waits for ("" = all) */
    proxy_stats_db *stats;   /* this session's database counters; NULL: none */
    time_t connect_time, request_time; /* wall clock, for SHOW CLIENTS */
    uint64_t query_start_us, xact_start_us, wait_start_us; /* monotonic */
    uint64_t held_since_us;  /* a message waits because its database is paused; 0: none */

    proxy_session *next, *prev; /* server->sessions */
    proxy_session *zombie_next;
};

/* session.c */
void session_accept(proxy_server *srv, int fd, const struct sockaddr *sa, socklen_t salen,
                    bool is_unix);
void session_on_job_done(proxy_session *s, storage_job *job);
/* Graceful shutdown: idle sessions get FATAL 57P01 and close now; busy ones
 * after their statement. */
void session_shutdown(proxy_session *s);
void session_free(proxy_session *s);

/* Ends a session from outside its callbacks (admin KILL): FATAL with this
 * SQLSTATE and message, a running statement interrupted. */
void session_terminate(proxy_session *s, const char *sqlstate, const char *message);
/* Lets a session that admin_session_held() stopped go on with its input. */
void session_wake(proxy_session *s);

/* What a session's upstream connection tells it (upstream.c calls this). */
typedef enum proxy_upstream_event {
    PROXY_UPSTREAM_EV_READY = 0, /* logged in (tx: its status): greet the client */
    PROXY_UPSTREAM_EV_RELAYED,   /* server messages were appended to s->out, nready
                                    ReadyForQuery among them, the last with status tx */
    PROXY_UPSTREAM_EV_DRAINED,   /* what waited for the server has left: read the client */
    PROXY_UPSTREAM_EV_FAILED,    /* connect, login or the connection failed
                                    (proxy_upstream_error says how); it is closed */
} proxy_upstream_event;
const char *proxy_upstream_event_str(proxy_upstream_event ev);
void session_on_upstream(proxy_session *s, proxy_upstream_event ev, int nready, char tx);

/* ---- upstream PostgreSQL connections (upstream.c) ---- */

typedef enum proxy_upstream_state {
    PROXY_UPSTREAM_CONNECTING = 0, /* nonblocking connect in progress */
    PROXY_UPSTREAM_LOGIN,          /* StartupMessage sent: authenticating, then parameters */
    PROXY_UPSTREAM_READY,          /* logged in: relaying */
    PROXY_UPSTREAM_CLOSED,         /* socket closed; freed with its session */
} proxy_upstream_state;
const char *proxy_upstream_state_str(proxy_upstream_state st);

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
/* Starts connecting s's upstream (as where's user, else s->user; to where's
 * dbname, else s->database; with s->application_name).  NULL when out of
 * memory; CLOSED (proxy_upstream_error says why) when it failed at once.
 * Owned by the session: proxy_upstream_free in session_free. */
proxy_upstream *proxy_upstream_new(proxy_session *s, const pool_upstream *where);
proxy_upstream_state proxy_upstream_get_state(const proxy_upstream *u);
const char *proxy_upstream_where(const proxy_upstream *u);
/* Stops the watchers and closes the socket (Terminate first when logged in).
 * Safe under the upstream's own callbacks; NULL and CLOSED are no-ops. */
void proxy_upstream_close(proxy_upstream *u);
void proxy_upstream_free(proxy_upstream *u); /* NULL is a no-op */
/* Relays the complete client messages in in[0..len) as they are, each checked
 * against max_size, up to a Terminate or a bad one.  *used: bytes consumed;
 * *nrequests: Query, Sync and FunctionCall messages among them (one
 * ReadyForQuery each).  A write failure is reported through EV_FAILED (the
 * session may be closing when this returns). */
proxy_relay_status proxy_upstream_relay_input(proxy_upstream *u, const uint8_t *in, size_t len,
                                              uint32_t max_size, size_t *used, int *nrequests);
/* More than PROXY_OUTPUT_HIGH_WATER bytes wait for the server: stop reading
 * the client until EV_DRAINED. */
bool proxy_upstream_backlogged(const proxy_upstream *u);
/* The session's output has room again: read the server again. */
void proxy_upstream_client_drained(proxy_upstream *u);
/* The server's login ParameterStatus messages, as it sent them. */
const uint8_t *proxy_upstream_params(const proxy_upstream *u, size_t *len);
/* Why it failed: SQLSTATE and message, and the server's own ErrorResponse
 * (frame non-NULL) when the server refused the login. */
void proxy_upstream_error(const proxy_upstream *u, const char **sqlstate, const char **message,
                          const uint8_t **frame, size_t *frame_len);
/* Cancels the running query: CancelRequest with the server's key over a new
 * connection (nothing when not logged in). */
void proxy_upstream_cancel(proxy_upstream *u);
/* Frees the CancelRequests still on their way (server teardown). */
void proxy_upstream_cancels_free(proxy_server *srv);

/* server.c */
void server_submit_job(proxy_server *srv, storage_job *job);
void server_session_closed(proxy_server *srv, proxy_session *s); /* queue s for freeing */
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
    ADMIN_SHOW_NITEMS
} admin_show;

typedef struct admin_cmd {
    admin_cmd_kind kind;
    admin_show show;        /* SHOW */
    char arg[WIRE_NAME_MAX]; /* PAUSE/RESUME/KILL database ("" = all), SET key */
    char value[256];        /* SET value */
} admin_cmd;

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
