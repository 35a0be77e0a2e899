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

    /* Finished jobs, pushed by worker threads; guarded by jobs_lock. */
    pthread_mutex_t jobs_lock;
    storage_job *jobs_done_head, *jobs_done_tail;

    /* All sessions, and those waiting to be freed. */
    proxy_session *sessions;
    proxy_session *zombies;
    int nclients;  /* client sockets counted against max_client_conn */
    int state_count[SESSION_NSTATES];
    uint32_t next_session_id;

    bool shutting_down;
    int shutdown_signals;
    int exit_status;
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

/* server.c */
void server_submit_job(proxy_server *srv, storage_job *job);
void server_session_closed(proxy_server *srv, proxy_session *s); /* queue s for freeing */

#define slog(s, level, fmt, ...)                                                                   \
    proxy_log(level, "C-%u %s@%s %s: " fmt, (s)->id, (s)->user[0] ? (s)->user : "-",             \
              (s)->database[0] ? (s)->database : "-", (s)->peer, ##__VA_ARGS__)

#endif
