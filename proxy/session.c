/*
 * Client sessions: one per client socket, owned by one event loop (its
 * database's home loop once the StartupMessage is read).
 *
 *   STARTUP --startup packet--> AUTH --password/SASL ok--> OPENING --open ok--> IDLE
 *      |  (trust) ----------------------------------------> OPENING
 *                                      (a reused backend is open: OPENING --> IDLE at once)
 *   IDLE / IN_TX / FAILED_TX --Query--> BUSY --job done--> IDLE / IN_TX / FAILED_TX
 *   BUSY --job started COPY FROM STDIN--> COPY_IN --CopyDone/CopyFail--> BUSY
 *   BUSY --job started COPY TO STDOUT--> COPY_OUT --last part sent--> IDLE / IN_TX / FAILED_TX
 *   any --EOF, Terminate, fatal error, shutdown--> CLOSING --backend reset and parked,
 *                                                             or closed--> freed
 *
 *   from          event                         to            done by
 *   STARTUP       StartupMessage, trust         OPENING       session_start_backend
 *   STARTUP       StartupMessage, md5/scram     AUTH          session_handle_startup
 *   AUTH          password / SASL ok            OPENING       session_start_backend
 *   STARTUP/AUTH  authenticated, console db     IDLE          session_start_console
 *   OPENING       OPEN job done                 IDLE          session_on_job_done
 *   OPENING       the pool's backend is open    IDLE          session_start_backend
 *   IDLE..FAILED  Query                         BUSY          session_handle_query
 *   BUSY          QUERY job done                by tx status  session_on_job_done
 *   BUSY          job done, copy IN             COPY_IN       session_query_done
 *   BUSY          job done, copy OUT            COPY_OUT      session_query_done
 *   COPY_IN       CopyDone / CopyFail / other   BUSY          session_copy_in_end
 *   COPY_OUT      COPY job done, copy NONE      by tx status  session_query_done
 *   COPY_OUT      COPY job done, copy IN        COPY_IN       session_query_done
 *   any           close                         CLOSING       session_close
 *
 * COPY FROM STDIN streams: CopyData payloads collect in s->copy->buf; at
 * PROXY_COPY_CHUNK bytes the buffer becomes the data of a COPY job (s->copy->job)
 * and a new one starts filling.  With one chunk in flight and the next one
 * full, the session stops reading the socket.  An error in the engine makes
 * it drop the rest (job->copy_discard); the error is reported, with
 * ReadyForQuery, after the client's CopyDone or CopyFail, as PostgreSQL's
 * client libraries expect.  COPY TO STDOUT asks the engine for the next part
 * of the output only once the previous one has mostly left (output below
 * PROXY_OUTPUT_HIGH_WATER).
 *
 * session_set_state() is the only place that changes s->state, and keeps the
 * server's per-state counters true.  Every failure that ends a session goes
 * through session_fatal() (ErrorResponse + log + close); every close through
 * session_close(), which never frees: the session is freed by the server's
 * reaper after the callbacks of the current loop iteration, once its backend
 * has finished any job and been closed on an engine worker.
 */
#include "internal.h"
#include "hba.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void session_read_cb(struct ev_loop *loop, ev_io *w, int revents);
/* What session_read did. */
typedef enum session_read_result {
    SESSION_READ_AGAIN, /* nothing to read yet: watch the socket */
    SESSION_READ_DONE,  /* read and handled (the watchers are as the state wants) */
    SESSION_READ_GONE,  /* closed, or moved to another loop: do not touch s */
} session_read_result;

static session_read_result session_read(proxy_session *s);
static void session_write_cb(struct ev_loop *loop, ev_io *w, int revents);
/* false: s moved to another loop and must not be touched any more */
static bool session_process(proxy_session *s);
static void session_send_welcome(proxy_session *s);
static void session_link(proxy_session *s);
static void session_unlink(proxy_session *s);
static void session_copy_free(proxy_session *s);
static bool session_auth_begin(proxy_session *s);
static session_read_result session_tls_handshake(proxy_session *s);

/* The client socket, through TLS once it is on: read(2) and write(2)'s
 * contract (n, 0 at end of stream, -1 with errno; EAGAIN to wait). */
static ssize_t session_sock_read(proxy_session *s, void *buf, size_t len)
{
    if (!s->tls)
        return read(s->fd, buf, len);
    ssize_t n = proxy_tls_read(s->tls, buf, len, &s->tls_read_wants_write);
    if (s->tls_read_wants_write)
        ev_io_start(s->loop->loop, &s->wio); /* session_write_cb reads again */
    return n;
}

static ssize_t session_sock_write(proxy_session *s, const void *buf, size_t len)
{
    if (!s->tls)
        return write(s->fd, buf, len);
    if (s->tls_handshaking) {
        errno = ENOTCONN; /* nothing can be sent before the handshake is done */
        return -1;
    }
    bool want_read; /* only with renegotiation, which is off */
    return proxy_tls_write(s->tls, buf, len, &want_read);
}

/* The auth_user of s's database: its line's, else the global one; "" for
 * SQLite databases, which have no server to ask. */
static const char *session_auth_user(const proxy_session *s)
{
    const pool_upstream *where = pool_db_upstream(s->db);
    if (!where)
        return "";
    return where->auth_user[0] ? where->auth_user : s->server->cfg.auth_user;
}

const char *session_state_str(session_state st)
{
    switch (st) {
    case SESSION_STARTUP:
        return "startup";
    case SESSION_AUTH:
        return "auth";
    case SESSION_OPENING:
        return "opening";
    case SESSION_IDLE:
        return "idle";
    case SESSION_IN_TX:
        return "in transaction";
    case SESSION_FAILED_TX:
        return "failed transaction";
    case SESSION_WAITING:
        return "waiting";
    case SESSION_BUSY:
        return "busy";
    case SESSION_COPY_IN:
        return "copy in";
    case SESSION_COPY_OUT:
        return "copy out";
    case SESSION_CLOSING:
        return "closing";
    case SESSION_NSTATES:
        break;
    }
    return "unknown";
}

static bool session_transition_allowed(session_state from, session_state to)
{
    if (to == SESSION_CLOSING)
        return from != SESSION_CLOSING;
    switch (from) {
    case SESSION_STARTUP:
        return to == SESSION_AUTH || to == SESSION_OPENING || to == SESSION_IDLE;
    case SESSION_AUTH:
        return to == SESSION_OPENING || to == SESSION_IDLE; /* IDLE: the admin console */
    case SESSION_OPENING:
        return to == SESSION_IDLE;
    case SESSION_IDLE: /* OPENING: a released SQLite connection is taken again */
        return to == SESSION_BUSY || to == SESSION_WAITING || to == SESSION_OPENING;
    case SESSION_IN_TX:
    case SESSION_FAILED_TX:
        return to == SESSION_BUSY || to == SESSION_WAITING;
    case SESSION_WAITING: /* linked and relayed, or failed before reaching a server */
        return to == SESSION_BUSY || to == SESSION_IDLE || to == SESSION_IN_TX ||
               to == SESSION_FAILED_TX;
    case SESSION_BUSY:
        return to == SESSION_IDLE || to == SESSION_IN_TX || to == SESSION_FAILED_TX ||
               to == SESSION_COPY_IN || to == SESSION_COPY_OUT;
    case SESSION_COPY_IN:
        return to == SESSION_BUSY;
    case SESSION_COPY_OUT:
        return to == SESSION_IDLE || to == SESSION_IN_TX || to == SESSION_FAILED_TX ||
               to == SESSION_COPY_IN;
    default:
        return false;
    }
}

bool session_state_ready(session_state st)
{
    return st == SESSION_IDLE || st == SESSION_IN_TX || st == SESSION_FAILED_TX;
}

/* The statistics' counting points (stats.c), PgBouncer's: a statement runs
 * from leaving a ready state to coming back to one, a transaction from
 * leaving IDLE to coming back to it, and a client waits while OPENING. */
static void session_count(proxy_session *s, session_state from, session_state to)
{
    if (!s->stats)
        return;
    uint64_t now = proxy_stats_now_us();
    if (to == SESSION_OPENING || to == SESSION_WAITING)
        s->wait_start_us = now;
    if ((from == SESSION_OPENING && to == SESSION_IDLE) || from == SESSION_WAITING)
        proxy_stats_waited(s->stats, now - s->wait_start_us);
    if (from == SESSION_IDLE && to == SESSION_OPENING && s->logged_in)
        s->reopen_start_us = now; /* the query waits for its connection (maybe a resume) */
    if (session_state_ready(from) && (to == SESSION_BUSY || to == SESSION_WAITING)) {
        if (s->reopen_start_us)
            now = s->reopen_start_us; /* its time starts with its message */
        s->reopen_start_us = 0;
        s->query_start_us = now;
        s->request_time = (time_t)ev_now(s->loop->loop);
        if (from == SESSION_IDLE)
            s->xact_start_us = now;
    } else if ((from == SESSION_BUSY || from == SESSION_COPY_OUT || from == SESSION_WAITING) &&
               session_state_ready(to)) {
        proxy_stats_query_done(s->stats, now - s->query_start_us);
        /* a resume that ended while the query waited made it a cold one (as meter.c) */
        uint64_t resumed = s->db ? pool_db_resumed_at(s->db) : 0;
        timeline_acc_query(&s->loop->tl_acc, now - s->query_start_us,
                           resumed > s->query_start_us && resumed <= now);
        if (to == SESSION_IDLE)
            proxy_stats_xact_done(s->stats, now - s->xact_start_us);
    }
}

void session_set_state(proxy_session *s, session_state to)
{
    if (!session_transition_allowed(s->state, to)) {
        proxy_log(PROXY_LOG_ERROR, "C-%u: impossible session transition %s -> %s", s->id,
                  session_state_str(s->state), session_state_str(to));
        abort();
    }
    session_count(s, s->state, to);
    if (to == SESSION_IDLE && !s->logged_in) {
        s->logged_in = true;
        if (!s->admin)
            s->loop->tl_acc.logins++;
    }
    if (to == SESSION_IDLE)
        s->idle_since_us = proxy_stats_now_us();
    if ((to == SESSION_IN_TX || to == SESSION_FAILED_TX) && to != s->state)
        s->tx_idle_since_us = proxy_stats_now_us();
    if (to == SESSION_BUSY)
        s->timed_out = false;
    s->state = to;
}

session_state session_state_for_tx(char tx)
{
    return tx == 'T' ? SESSION_IN_TX : tx == 'E' ? SESSION_FAILED_TX : SESSION_IDLE;
}

static void session_peer_format(proxy_session *s, const struct sockaddr *sa, bool is_unix)
{
    char host[INET6_ADDRSTRLEN] = "?";
    if (is_unix) {
        snprintf(s->peer, sizeof(s->peer), "unix");
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
        snprintf(s->peer, sizeof(s->peer), "%s:%u", host, ntohs(in->sin_port));
    } else if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
        snprintf(s->peer, sizeof(s->peer), "[%s]:%u", host, ntohs(in6->sin6_port));
    } else {
        snprintf(s->peer, sizeof(s->peer), "?");
    }
}

void session_accept(proxy_server *srv, int fd, const struct sockaddr *sa, socklen_t salen,
                    bool is_unix)
{
    proxy_loop *l = &srv->loops[0]; /* the one that accepts; session_adopt moves it on */
    server_timers_wake(srv); /* the pool's clock, stopped when everything paused */
    proxy_session *s = calloc(1, sizeof(*s));
    if (!s) {
        close(fd);
        proxy_log(PROXY_LOG_ERROR, "out of memory accepting a client");
        return;
    }
    s->server = srv;
    s->loop = l;
    s->user = s->database = s->application_name = "";
    s->fd = fd;
    do
        s->id = __atomic_fetch_add(&srv->next_session_id, 1, __ATOMIC_RELAXED);
    while (s->id == 0);
    if (RAND_bytes((unsigned char *)&s->cancel_key, sizeof(s->cancel_key)) != 1)
        s->cancel_key = (uint32_t)random();
    s->state = SESSION_STARTUP;
    s->tx_status = 'I';
    s->connect_time = (time_t)ev_now(l->loop);
    wire_buf_init(&s->in);
    wire_buf_init(&s->out);
    wire_buf_init(&s->startup_params);
    session_peer_format(s, sa, is_unix);
    s->is_unix = is_unix;
    if (!is_unix && salen <= sizeof(s->addr))
        memcpy(&s->addr, sa, salen);
    if (!is_unix) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    int n = __atomic_add_fetch(&srv->nclients, 1, __ATOMIC_RELAXED);
    s->over_limit = n > srv->cfg.max_client_conn;
    session_link(s);
    ev_io_init(&s->rio, session_read_cb, fd, EV_READ);
    ev_io_init(&s->wio, session_write_cb, fd, EV_WRITE);
    slog(s, PROXY_LOG_DEBUG, "connection accepted");
    /* The first message is usually in already (TCP_DEFER_ACCEPT): a
     * StartupMessage naming another loop's database moves the client there
     * before this loop ever watches its socket. */
    if (session_read(s) == SESSION_READ_AGAIN)
        ev_io_start(l->loop, &s->rio);
}

/* On (off) its loop's list of sessions. */
static void session_link(proxy_session *s)
{
    proxy_loop *l = s->loop;
    s->prev = NULL;
    s->next = l->sessions;
    if (l->sessions)
        l->sessions->prev = s;
    l->sessions = s;
}

static void session_unlink(proxy_session *s)
{
    proxy_loop *l = s->loop;
    if (s->prev)
        s->prev->next = s->next;
    else
        l->sessions = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
}

void session_adopt(proxy_session *s)
{
    session_link(s);
    ev_io_set(&s->rio, s->fd, EV_READ);
    ev_io_set(&s->wio, s->fd, EV_WRITE);
    slog(s, PROXY_LOG_DEBUG, "moved to event loop %d", s->loop->index);
    session_process(s); /* its StartupMessage again, here */
    if (s->state != SESSION_CLOSING && s->in.len == 0)
        server_buf_give(s->loop, &s->in); /* as session_read_cb does: idle, it keeps none */
}

/* Sends what can be sent now; arms the write watcher for the rest. Returns
 * false when the socket failed (the caller closes). */
bool session_flush(proxy_session *s)
{
    if (s->socket_closed)
        return true;
    if (s->out.oom) {
        slog(s, PROXY_LOG_ERROR, "out of memory building a reply");
        return false;
    }
    if (s->out.len > 0)
        meter_flush(s->loop); /* the usage of what goes out is in the journal first */
    while (s->out.len > 0) {
        ssize_t n = session_sock_write(s, s->out.data, s->out.len);
        if (n > 0) {
            proxy_stats_sent(s->stats, (size_t)n);
            wire_buf_consume(&s->out, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        slog(s, PROXY_LOG_DEBUG, "write failed: %s", n < 0 ? strerror(errno) : "closed");
        return false;
    }
    if (s->out.len > 0 || s->tls_read_wants_write || s->tls_starting) {
        ev_io_start(s->loop->loop, &s->wio);
    } else {
        ev_io_stop(s->loop->loop, &s->wio);
        server_buf_give(s->loop, &s->out);
    }
    return true;
}

/* The session's job (only SQLite sessions with a backend have one). */
static bool session_job_alloc(proxy_session *s)
{
    if (!s->job)
        s->job = calloc(1, sizeof(*s->job));
    return s->job != NULL;
}

static void session_job_free(proxy_session *s)
{
    if (!s->job || s->job_in_flight)
        return;
    wire_buf_free(&s->job->out);
    free(s->job->sample);
    free(s->job);
    s->job = NULL;
}

/* Hands the session's one job to the engine; the reply comes back through
 * session_on_job_done on the loop thread. */
static void session_submit(proxy_session *s, storage_job_kind kind)
{
    wire_buf_reset(&s->job->out);
    s->job_metered = false;
    s->job->kind = kind;
    s->job->extended = false;
    s->job->conn = s->backend;
    s->job->sql = kind == STORAGE_JOB_QUERY ? s->job_sql : NULL;
    s->job->sql_len = kind == STORAGE_JOB_QUERY ? strlen(s->job_sql) : 0;
    s->job->msgs = kind == STORAGE_JOB_EXTENDED ? s->job_msgs : NULL;
    s->job->msgs_len = kind == STORAGE_JOB_EXTENDED ? s->job_msgs_len : 0;
    session_copy *cp = kind == STORAGE_JOB_COPY ? s->copy : NULL; /* NULL: COPY TO */
    s->job->copy_data = cp ? cp->job.data : NULL;
    s->job->copy_len = cp ? cp->job.len : 0;
    s->job->copy_fail_message = cp ? cp->fail_message : NULL;
    s->job->copy_fail_sqlstate = cp ? cp->fail_sqlstate : NULL;
    s->job->udata = s;
    s->job_in_flight = true;
    server_submit_job(s, s->job);
}

/* Gives the backend back once no job is in flight: an open one the pool
 * wants again is reset (RESET; session_on_job_done parks it), other open
 * ones are closed (CLOSE), and then the session can be freed. */
static void session_close_backend(proxy_session *s)
{
    if (s->job_in_flight)
        return; /* session_on_job_done comes back here */
    if (s->backend && s->backend_opened && storage_conn_stateless(s->backend) &&
        pool_backend_reusable(s->db, s->backend)) {
        /* Nothing of the client's is on it: no RESET needed. */
        storage_conn_detach(s->backend);
        if (pool_backend_park(s->db, s->backend)) {
            slog(s, PROXY_LOG_DEBUG, "backend parked for reuse");
            s->backend_opened = false;
            s->backend = NULL;
            server_session_closed(s);
            return;
        }
    }
    if (s->backend && s->backend_opened) {
        session_submit(s, pool_backend_reusable(s->db, s->backend) ? STORAGE_JOB_RESET
                                                                     : STORAGE_JOB_CLOSE);
        return;
    }
    if (s->backend) {
        pool_backend_release(s->db, s->backend);
        s->backend = NULL;
    }
    server_session_closed(s);
}

/* The one way a session ends. Sends what is queued (best effort), closes the
 * socket, then lets the backend finish and close before the session is freed. */
void session_close(proxy_session *s, const char *reason)
{
    if (s->state == SESSION_CLOSING)
        return;
    slog(s, s->state >= SESSION_IDLE ? PROXY_LOG_INFO : PROXY_LOG_DEBUG, "closing: %s", reason);
    if (s->out.len > 0 && !s->out.oom && !s->tls_handshaking) {
        meter_flush(s->loop);
        ssize_t n = session_sock_write(s, s->out.data, s->out.len);
        (void)n;
    }
    ev_io_stop(s->loop->loop, &s->rio);
    ev_io_stop(s->loop->loop, &s->wio);
    proxy_tls_close(s->tls);
    s->tls = NULL;
    close(s->fd);
    s->fd = -1;
    s->socket_closed = true;
    __atomic_sub_fetch(&s->server->nclients, 1, __ATOMIC_RELAXED);
    limits_client_logout(s); /* its place is free as soon as it is gone */
    session_set_state(s, SESSION_CLOSING);
    pgpool_client_close(s); /* [upstream hook] leave the queue, give the server back */
    session_close_backend(s);
}

static void session_put_error(proxy_session *s, const char *severity, const char *sqlstate,
                              const char *message)
{
    wire_error e = {.severity = severity, .sqlstate = sqlstate, .message = message};
    wire_put_error(&s->out, &e);
}

/* Quotas (quota.c): a request that starts outside a transaction in a
 * database over a quota is answered here, with 53400, before it takes a
 * backend (a paused database is not woken to refuse it): a Query, or an
 * extended-protocol batch up to its Sync.  The bytes used, 0 to go on as
 * usual, or -1 while the batch's Sync has not arrived. */
static ssize_t session_quota_gate(proxy_session *s, const uint8_t *data, size_t avail)
{
    char t = avail ? (char)data[0] : 0;
    if (s->tx_status != 'I' || !s->server->cfg.nquotas ||
        (t != 'Q' && t != 'P' && t != 'B' && t != 'E' && t != 'D' && t != 'C'))
        return 0;
    char msg[256];
    if (quota_check(s->server, s->database, msg, sizeof(msg)))
        return 0;
    size_t used = 0;
    for (;;) {
        wire_frame f;
        wire_frame_status fs =
            wire_frame_parse(data + used, avail - used, s->server->cfg.max_packet_size, &f);
        if (fs == WIRE_FRAME_INCOMPLETE)
            return -1;
        if (fs != WIRE_FRAME_OK)
            return 0; /* the usual path reports it */
        used += f.total_len;
        if (f.type == 'Q' || f.type == 'S')
            break;
    }
    slog(s, PROXY_LOG_INFO, "refused: %s", msg);
    session_put_error(s, "ERROR", WIRE_SQLSTATE_CONFIGURATION_LIMIT_EXCEEDED, msg);
    wire_put_ready(&s->out, 'I');
    return (ssize_t)used;
}

/* The one error path that ends a session: FATAL ErrorResponse, log, close. */
void session_fatal(proxy_session *s, const char *sqlstate, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    slog(s, PROXY_LOG_WARNING, "FATAL %s: %s", sqlstate, msg);
    if (!s->logged_in && s->state != SESSION_CLOSING)
        s->loop->tl_acc.refused++; /* a login refused */
    session_put_error(s, "FATAL", sqlstate, msg);
    session_close(s, msg);
}

void session_free(proxy_session *s)
{
    assert(s->state == SESSION_CLOSING && !s->job_in_flight && !s->backend);
    session_unlink(s);
    proxy_tls_close(s->tls); /* closed with the socket already; here if never closed */
    wire_scram_server_free(s->scram);
    pgpool_session_free(s); /* [upstream hook] */
    if (s->auth_secret) {
        OPENSSL_cleanse(s->auth_secret, strlen(s->auth_secret));
        free(s->auth_secret);
    }
    wire_buf_free(&s->in);
    wire_buf_free(&s->out);
    session_job_free(s);
    session_copy_free(s);
    free(s->admin_pause_db);
    limits_client_logout(s);
    meter_session_free(s);
    free(s->names);
    free(s->job_sql);
    free(s->job_msgs);
    free(s);
}

/* Copies src (NULL: "") truncated to NAMEDATALEN-1 bytes, as PostgreSQL
 * truncates identifiers, to *p; returns where it starts and moves *p on. */
static const char *session_put_name(char **p, const char *src)
{
    size_t n = src ? strnlen(src, WIRE_NAME_MAX - 1) : 0;
    char *dst = *p;
    memcpy(dst, src ? src : "", n);
    dst[n] = '\0';
    *p += n + 1;
    return dst;
}

/* The user, database and application names of the StartupMessage, in one
 * allocation (an idle client's session is kept small). */
static bool session_set_names(proxy_session *s, const wire_startup *st)
{
    size_t len = 3;
    const char *v[3] = {st->user, st->database, st->application_name};
    for (int i = 0; i < 3; i++)
        len += v[i] ? strnlen(v[i], WIRE_NAME_MAX - 1) : 0;
    char *p = malloc(len);
    if (!p)
        return false;
    free(s->names);
    s->names = p;
    s->user = session_put_name(&p, v[0]);
    s->database = session_put_name(&p, v[1]);
    s->application_name = session_put_name(&p, v[2]);
    return true;
}

/* Takes a backend from the pool.  One the pool reuses is open already: the
 * session is ready at once and true says to go on with the input.  A new one
 * is opened by an OPEN job: false, nothing more is read until it is open
 * (session_on_job_done goes on). */
/* Authenticated on the console database: admin_users and stats_users only.
 * True: the session is ready, go on with the input. */
static bool session_start_console(proxy_session *s)
{
    admin_role role = admin_role_for(&s->server->cfg, s->user);
    if (role == ADMIN_ROLE_NONE) {
        session_fatal(s, WIRE_SQLSTATE_INVALID_AUTHORIZATION, "not allowed");
        return false;
    }
    s->admin_full = role == ADMIN_ROLE_ADMIN;
    session_set_state(s, SESSION_IDLE);
    slog(s, PROXY_LOG_INFO, "login ok (admin console, %s)", admin_role_str(role));
    session_send_welcome(s);
    return true;
}

/* A message that cannot be framed ends the session (08P01). */
static void session_bad_frame(proxy_session *s, wire_frame_status fs)
{
    if (fs == WIRE_FRAME_TOO_LARGE && s->state == SESSION_STARTUP)
        session_fatal(s, WIRE_SQLSTATE_PROTOCOL_VIOLATION, "invalid length of startup packet");
    else if (fs == WIRE_FRAME_TOO_LARGE)
        session_fatal(s, WIRE_SQLSTATE_PROTOCOL_VIOLATION,
                      "message exceeds max_packet_size (%u bytes)", s->server->cfg.max_packet_size);
    else
        session_fatal(s, WIRE_SQLSTATE_PROTOCOL_VIOLATION, "invalid message length");
}

/* ---- [upstream hook] engine=postgres: requests relayed to a server
 * connection of the pool (pgpool.c) instead of storage jobs ---- */

/* The client's input, relayed to its server as it is (upstream.c rewrites
 * what pooling must). */
static void session_relay_input(proxy_session *s)
{
    proxy_upstream *u = s->upstream;
    size_t used = 0;
    if (u->barrier) { /* its settings are being applied first (upstream.c wakes it) */
        if (s->in.len < PROXY_OUTPUT_HIGH_WATER)
            ev_io_start(s->loop->loop, &s->rio);
        else
            ev_io_stop(s->loop->loop, &s->rio);
        return;
    }
    proxy_relay_status rs = PROXY_RELAY_OK;
    if (s->in.len > 0 && !proxy_upstream_backlogged(u))
        rs = proxy_upstream_relay_input(u, s->in.data, s->in.len, s->server->cfg.max_packet_size,
                                        &used);
    if (s->state == SESSION_CLOSING)
        return; /* the upstream failed while we wrote to it */
    wire_buf_consume(&s->in, used);
    switch (rs) {
    case PROXY_RELAY_OK:
        break;
    case PROXY_RELAY_TERMINATE:
        session_close(s, "client sent Terminate");
        return;
    case PROXY_RELAY_TOO_LARGE:
        session_fatal(s, WIRE_SQLSTATE_PROTOCOL_VIOLATION,
                      "message exceeds max_packet_size (%u bytes)", s->server->cfg.max_packet_size);
        return;
    case PROXY_RELAY_INVALID:
        session_fatal(s, WIRE_SQLSTATE_PROTOCOL_VIOLATION, "invalid message length");
        return;
    case PROXY_RELAY_OOM:
        session_fatal(s, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
        return;
    }
    if (s->upstream != u)
        return; /* failed and unlinked while relaying */
    if (used > 0 && (session_state_ready(s->state) || s->state == SESSION_WAITING) &&
        proxy_upstream_expecting(u))
        session_set_state(s, SESSION_BUSY); /* until the ReadyForQuery of the last request */
    else if (s->state == SESSION_WAITING)
        session_set_state(s, session_state_for_tx(s->tx_status));
    if (!session_flush(s)) {
        session_close(s, "write failed");
        return;
    }
    if (!proxy_upstream_backlogged(u) && s->out.len < PROXY_OUTPUT_HIGH_WATER)
        ev_io_start(s->loop->loop, &s->rio);
    else
        ev_io_stop(s->loop->loop, &s->rio);
    /* Messages that get no reply (CopyData outside a COPY, a lone Flush)
     * leave the server quiet: give it back now rather than at a reply. */
    if (s->upstream == u && used > 0)
        pgpool_server_replies_done(u);
}

/* An upstream session's input: relayed to its server, which it gets first
 * when it holds none (waiting in the pool's queue if need be). */
static void session_pg_input(proxy_session *s)
{
    for (;;) {
        if (s->state == SESSION_CLOSING)
            return;
        if (s->upstream) {
            session_relay_input(s);
            return;
        }
        if (s->state == SESSION_WAITING) {
            /* Read on (a disconnect must be noticed), within bounds. */
            if (s->in.len < PROXY_OUTPUT_HIGH_WATER)
                ev_io_start(s->loop->loop, &s->rio);
            else
                ev_io_stop(s->loop->loop, &s->rio);
            return;
        }
        wire_frame f;
        wire_frame_status fs =
            wire_frame_parse(s->in.data, s->in.len, s->server->cfg.max_packet_size, &f);
        if (fs == WIRE_FRAME_INCOMPLETE) {
            if (s->out.len < PROXY_OUTPUT_HIGH_WATER)
                ev_io_start(s->loop->loop, &s->rio);
            return;
        }
        if (fs != WIRE_FRAME_OK) {
            session_bad_frame(s, fs);
            return;
        }
        if (s->pg_discard_to_sync || f.type == 'S' || f.type == 'H' || f.type == 'd' ||
            f.type == 'c' || f.type == 'f') {
            /* A Sync or Flush with nothing before it needs no server; COPY
             * messages outside a COPY are dropped, as PostgreSQL drops them. */
            wire_buf_consume(&s->in, f.total_len);
            if (f.type == 'S') {
                s->pg_discard_to_sync = false;
                wire_put_ready(&s->out, s->tx_status);
                if (!session_flush(s)) {
                    session_close(s, "write failed");
                    return;
                }
            }
            continue;
        }
        if (f.type == 'X') {
            session_close(s, "client sent Terminate");
            return;
        }
        if (!session_state_ready(s->state))
            return;
        ssize_t refused = session_quota_gate(s, s->in.data, s->in.len);
        if (refused != 0) {
            if (refused > 0)
                wire_buf_consume(&s->in, (size_t)refused);
            if (!session_flush(s)) {
                session_close(s, "write failed");
                return;
            }
            if (refused < 0) { /* the rest of the batch first */
                ev_io_start(s->loop->loop, &s->rio);
                return;
            }
            continue;
        }
        if (admin_session_held(s, true)) {
            ev_io_stop(s->loop->loop, &s->rio); /* PAUSE: RESUME wakes the session */
            return;
        }
        pgpool_acquire(s); /* linked: relays next time round; else WAITING */
    }
}

void session_on_upstream(proxy_session *s, proxy_upstream_event ev, int nready, char tx)
{
    if (s->state == SESSION_CLOSING)
        return;
    switch (ev) {
    case PROXY_UPSTREAM_EV_RELAYED: {
        proxy_upstream *u = s->upstream;
        if (nready > 0)
            s->tx_status = tx;
        if (u && !proxy_upstream_expecting(u) && s->state == SESSION_BUSY)
            session_set_state(s, session_state_for_tx(s->tx_status));
        if (s->server->shutting_down && session_state_ready(s->state)) {
            session_put_error(s, "FATAL", WIRE_SQLSTATE_ADMIN_SHUTDOWN,
                              "terminating connection due to administrator command");
            s->want_close = true;
        }
        if (!session_flush(s)) {
            session_close(s, "write failed");
            return;
        }
        if (s->want_close && s->out.len == 0)
            session_close(s, "shutdown");
        return;
    }
    case PROXY_UPSTREAM_EV_DRAINED:
        session_process(s);
        return;
    }
}

/* ---- [end of upstream hooks] ---- */

static bool session_start_backend(proxy_session *s)
{
    if (s->admin)
        return session_start_console(s);
    char msg[WIRE_NAME_MAX + 64];
    if (!limits_client_login(s, msg, sizeof(msg))) {
        session_fatal(s, WIRE_SQLSTATE_TOO_MANY_CONNECTIONS, "%s", msg);
        return false;
    }
    if (s->ps || pool_db_upstream(s->db)) /* [upstream hook] */
        return pgpool_client_start(s);
    if (pool_db_ever_opened(s->db) && s->server->cfg.sqlite_release_idle > 0) {
        /* The database opens fine: the client takes a connection for its
         * first query, not to log in. */
        session_set_state(s, SESSION_OPENING);
        session_set_state(s, SESSION_IDLE);
        slog(s, PROXY_LOG_INFO, "login ok");
        session_send_welcome(s);
        return true;
    }
    bool opened = false;
    s->backend = pool_backend_acquire(s->db, &opened);
    s->backend_opened = s->backend && opened;
    if (!s->backend || !storage_conn_set_user(s->backend, s->user) || !session_job_alloc(s)) {
        session_fatal(s, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
        return false;
    }
    session_set_state(s, SESSION_OPENING);
    if (s->backend_opened) {
        session_set_state(s, SESSION_IDLE);
        slog(s, PROXY_LOG_DEBUG, "reused backend");
        slog(s, PROXY_LOG_INFO, "login ok");
        session_send_welcome(s);
        return true;
    }
    ev_io_stop(s->loop->loop, &s->rio);
    session_submit(s, STORAGE_JOB_OPEN);
    return false;
}

static void session_auth_failed(proxy_session *s)
{
    limits_login_failed(s);
    session_fatal(s, WIRE_SQLSTATE_INVALID_PASSWORD, "password authentication failed for user \"%s\"",
                  s->user);
}

void session_cancel_local(proxy_loop *l, uint32_t pid, uint32_t key, const char *peer)
{
    for (proxy_session *t = l->sessions; t; t = t->next) {
        if (t->id != pid || t->state == SESSION_STARTUP)
            continue;
        if (CRYPTO_memcmp(&t->cancel_key, &key, sizeof(t->cancel_key)) != 0)
            break;
        if (t->ps) { /* [upstream hook] the server cancels its query, or the queue drops it */
            slog(t, PROXY_LOG_INFO, "cancel request from %s (%s)", peer,
                 t->upstream ? "sent upstream" : "not running");
            pgpool_client_cancel(t);
            break;
        }
        if ((t->state == SESSION_BUSY || t->state == SESSION_COPY_IN ||
             t->state == SESSION_COPY_OUT) &&
            t->backend) {
            slog(t, PROXY_LOG_INFO, "cancel request from %s", peer);
            storage_conn_interrupt(t->backend);
        }
        break;
    }
}

/* A CancelRequest: the session it names may be on any loop. */
static bool session_handle_cancel(proxy_session *s, const wire_startup *st)
{
    session_cancel_local(s->loop, st->cancel_pid, st->cancel_key, s->peer);
    server_broadcast_cancel(s->server, s->loop, st->cancel_pid, st->cancel_key, s->peer);
    /* The protocol sends no reply to a CancelRequest. */
    session_close(s, "cancel request handled");
    return false;
}

/* The client's verified certificate names s->user: its common name, or
 * (pg_hba.conf's clientname=DN) its whole subject.  false with no verified
 * certificate. */
static bool session_cert_is_user(proxy_session *s, bool dn)
{
    char name[512];
    return s->tls &&
           (dn ? proxy_tls_peer_dn(s->tls, name, sizeof(name))
               : proxy_tls_peer_cn(s->tls, name, sizeof(name))) &&
           strcmp(name, s->user) == 0;
}

/* A certificate that does not name the user: a failed login, in PostgreSQL's words. */
static void session_cert_refused(proxy_session *s)
{
    limits_login_failed(s);
    session_fatal(s, WIRE_SQLSTATE_INVALID_AUTHORIZATION,
                  "certificate authentication failed for user \"%s\"", s->user);
}

/* client_tls_sslmode, once the user is known: TCP clients must use TLS
 * from require up, and in verify-full their certificate must name them.
 * (verify-ca's certificate check is the handshake's.) */
static bool session_tls_check(proxy_session *s)
{
    proxy_tls_mode mode = s->server->cfg.client_tls.sslmode;
    if (s->is_unix || mode < PROXY_TLS_REQUIRE)
        return true;
    if (!s->tls) {
        session_fatal(s, WIRE_SQLSTATE_INVALID_AUTHORIZATION,
                      "SSL required: this server accepts TCP connections only with TLS "
                      "(sslmode=require or stronger)");
        return false;
    }
    if (mode == PROXY_TLS_VERIFY_FULL && !session_cert_is_user(s, false)) {
        session_cert_refused(s);
        return false;
    }
    return true;
}

static bool session_handle_startup(proxy_session *s, const wire_frame *f)
{
    wire_startup st;
    char err[256];
    proxy_server *srv = s->server;

    switch (wire_startup_parse(f->body, f->body_len, &st)) {
    case WIRE_STARTUP_SSL:
    case WIRE_STARTUP_GSSENC:
        /* libpq may ask for each once (GSSENC first, then SSL); a repeat is a violation. */
        if (st.kind == WIRE_STARTUP_SSL ? s->ssl_answered : s->gss_answered) {
            session_fatal(s, WIRE_SQLSTATE_PROTOCOL_VIOLATION, "duplicate %s negotiation request",
                          st.kind == WIRE_STARTUP_SSL ? "SSL" : "GSSAPI");
            return false;
        }
        if (st.kind == WIRE_STARTUP_SSL)
            s->ssl_answered = true;
        else
            s->gss_answered = true;
        /* TLS when configured, over TCP (as PostgreSQL: never on Unix
         * sockets); no GSSAPI: 'N' and the client goes on in plaintext. */
        if (st.kind == WIRE_STARTUP_SSL && !s->is_unix &&
            proxy_tls_client_enabled(srv->tls)) {
            if (f->body + f->body_len != s->in.data + s->in.len) {
                session_fatal(s, WIRE_SQLSTATE_PROTOCOL_VIOLATION,
                              "received unencrypted data after SSL request");
                return false;
            }
            wire_buf_put_u8(&s->out, 'S');
            s->tls_starting = true; /* session_write_cb, once 'S' is out */
            return false;
        }
        wire_buf_put_u8(&s->out, 'N');
        return true;
    case WIRE_STARTUP_CANCEL:
        return session_handle_cancel(s, &st);
    case WIRE_STARTUP_BAD_VERSION:
        session_fatal(s, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED, "%s", st.error);
        return false;
    case WIRE_STARTUP_INVALID:
        session_fatal(s, WIRE_SQLSTATE_PROTOCOL_VIOLATION, "%s", st.error);
        return false;
    case WIRE_STARTUP_NORMAL:
        break;
    }

    if (!session_set_names(s, &st)) {
        session_fatal(s, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
        return false;
    }
    if (st.database && strlen(st.database) >= WIRE_NAME_MAX) {
        session_fatal(s, WIRE_SQLSTATE_INVALID_CATALOG_NAME,
                      "database name is longer than %d bytes", WIRE_NAME_MAX - 1);
        return false;
    }
    slog(s, PROXY_LOG_DEBUG, "startup (application_name=%s)", s->application_name);

    if (srv->shutting_down) {
        session_fatal(s, WIRE_SQLSTATE_CANNOT_CONNECT_NOW, "the database system is shutting down");
        return false;
    }
    if (s->over_limit) {
        session_fatal(s, WIRE_SQLSTATE_TOO_MANY_CONNECTIONS, "sorry, too many clients already");
        return false;
    }
    if (!s->user[0]) {
        session_fatal(s, WIRE_SQLSTATE_INVALID_AUTHORIZATION,
                      "no PostgreSQL user name specified in startup packet");
        return false;
    }
    if (!session_tls_check(s))
        return false;
    char refused[160];
    if (!limits_login_allowed(s, refused, sizeof(refused))) {
        session_fatal(s, WIRE_SQLSTATE_INVALID_AUTHORIZATION, "%s", refused);
        return false;
    }
    /* Everything of a database lives on its home loop: go there first. */
    proxy_loop *home = server_db_home(srv, s->database);
    if (home != s->loop) {
        s->migrate_to = home;
        return false; /* session_process hands it over, this message unread */
    }
    if (admin_db_is_console(s->database)) {
        s->admin = true; /* served by admin.c once authenticated: no backend */
    } else {
        s->db = pool_db_get(srv->pool, s->database, err, sizeof(err));
        if (!s->db) {
            session_fatal(s, WIRE_SQLSTATE_INVALID_CATALOG_NAME, "%s", err);
            return false;
        }
        s->stats = proxy_stats_db_get(srv->stats, s->database);
        if (pool_db_upstream(s->db) && !pgpool_client_startup(s, &st)) { /* [upstream hook] */
            session_fatal(s, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
            return false;
        }
    }

    /* Not in auth_file: an upstream database with an auth_user looks the
     * user up in the server itself (auth_query), as PgBouncer does. */
    const char *auth_user = s->db ? session_auth_user(s) : "";
    if (!proxy_userlist_secret(srv->users, s->user) && auth_user[0] &&
        strcmp(auth_user, s->user) != 0) {
        pgpool_lookup_start(s, auth_user);
        return false; /* session_auth_looked_up goes on */
    }
    return session_auth_begin(s);
}

/* The secret s->user is checked against: what auth_query found, else the
 * auth file's; NULL when none. */
static const char *session_secret(const proxy_session *s)
{
    if (s->auth_looked_up)
        return s->auth_secret;
    return proxy_userlist_secret(s->server->users, s->user);
}

static void session_enter_auth(proxy_session *s)
{
    if (s->state != SESSION_AUTH) /* already there after an auth_query */
        session_set_state(s, SESSION_AUTH);
}

/* auth_type = hba: the method of auth_hba_file's first record for this
 * connection, after its clientcert checks; false when the login is refused
 * (FATAL sent), in PostgreSQL's words. */
static bool session_hba_method(proxy_session *s, proxy_auth_type *method)
{
    proxy_hba_conn c = {.is_unix = s->is_unix,
                        .tls = s->tls != NULL,
                        .addr = s->is_unix ? NULL : (const struct sockaddr *)&s->addr,
                        .database = s->database,
                        .user = s->user};
    const proxy_hba_rule *r = proxy_hba_match(s->server->hba, &c);
    char host[64];
    snprintf(host, sizeof(host), "%s", s->peer);
    char *colon = strrchr(host, ':'); /* the address without the port */
    if (colon && !s->is_unix)
        *colon = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    const char *where = s->is_unix ? "[local]" : host;
    const char *enc = s->tls ? "SSL encryption" : "no encryption";
    if (!r || r->method == PROXY_HBA_REJECT) {
        limits_login_failed(s);
        session_fatal(s, WIRE_SQLSTATE_INVALID_AUTHORIZATION,
                      "%s for host \"%s\", user \"%s\", database \"%s\", %s",
                      r ? "pg_hba.conf rejects connection" : "no pg_hba.conf entry", where,
                      s->user, s->database, enc);
        return false;
    }
    slog(s, PROXY_LOG_DEBUG, "hba: line %d, %s", r->line, proxy_hba_method_str(r->method));
    if (r->clientcert_verify_ca && !proxy_tls_peer_cert(s->tls)) {
        limits_login_failed(s);
        session_fatal(s, WIRE_SQLSTATE_INVALID_AUTHORIZATION,
                      "connection requires a valid client certificate");
        return false;
    }
    if (r->clientcert_verify_full && !session_cert_is_user(s, r->clientname_dn)) {
        session_cert_refused(s);
        return false;
    }
    switch (r->method) {
    case PROXY_HBA_TRUST:
    case PROXY_HBA_CERT: /* (checked above: clientcert=verify-full is implied) */
        *method = PROXY_AUTH_TRUST;
        return true;
    case PROXY_HBA_MD5:
        *method = PROXY_AUTH_MD5;
        return true;
    case PROXY_HBA_PASSWORD:
        *method = PROXY_AUTH_PLAIN;
        return true;
    case PROXY_HBA_SCRAM:
        *method = PROXY_AUTH_SCRAM;
        return true;
    case PROXY_HBA_REJECT:
        break;
    }
    return false;
}

/* Asks for the password the configuration wants (or lets a trusted user in). */
static bool session_auth_begin(proxy_session *s)
{
    proxy_server *srv = s->server;
    const char *secret = session_secret(s);
    proxy_auth_type method = srv->cfg.auth_type;
    bool via_hba = method == PROXY_AUTH_HBA;
    if (via_hba && !session_hba_method(s, &method))
        return false;
    switch (method) {
    case PROXY_AUTH_HBA: /* (resolved above) */
        return false;
    case PROXY_AUTH_TRUST:
        if (!via_hba && (srv->users || s->auth_looked_up) && !secret) {
            session_fatal(s, WIRE_SQLSTATE_INVALID_AUTHORIZATION, "role \"%s\" does not exist",
                          s->user);
            return false;
        }
        return session_start_backend(s); /* false: nothing to read until it is open */
    case PROXY_AUTH_PLAIN:
        wire_put_auth_cleartext(&s->out);
        s->plain_started = true;
        session_enter_auth(s);
        return true;
    case PROXY_AUTH_MD5:
        /* As PostgreSQL: a user whose secret is a SCRAM verifier logs in with SCRAM. */
        if (!secret || strncmp(secret, "SCRAM-SHA-256$", 14) != 0) {
            if (RAND_bytes(s->md5_salt, sizeof(s->md5_salt)) != 1) {
                session_fatal(s, WIRE_SQLSTATE_INTERNAL_ERROR, "cannot draw a random salt");
                return false;
            }
            wire_put_auth_md5(&s->out, s->md5_salt);
            session_enter_auth(s);
            return true;
        }
        /* fall through */
    case PROXY_AUTH_SCRAM: {
        /* Over TLS, channel binding too (libpq prefers it; channel_binding=require
         * insists on it). */
        static const char *const mechs[] = {"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"};
        if (s->tls)
            wire_put_auth_sasl(&s->out, mechs, 2);
        else
            wire_put_auth_sasl(&s->out, mechs + 1, 1);
        s->sasl_started = true;
        session_enter_auth(s);
        return true;
    }
    case PROXY_AUTH_CERT: {
        /* As PostgreSQL's cert method: a verified certificate whose common
         * name is the user, and no password. */
        if (!proxy_tls_peer_cert(s->tls)) {
            limits_login_failed(s);
            session_fatal(s, WIRE_SQLSTATE_INVALID_AUTHORIZATION,
                          "connection requires a valid client certificate");
            return false;
        }
        if (!session_cert_is_user(s, false)) {
            session_cert_refused(s);
            return false;
        }
        return session_start_backend(s);
    }
    }
    return false;
}

void session_auth_looked_up(proxy_session *s, const char *error, char *secret)
{
    s->auth_looked_up = true;
    s->auth_secret = secret;
    if (error) {
        slog(s, PROXY_LOG_WARNING, "auth_query failed: %s", error);
        session_fatal(s, WIRE_SQLSTATE_INVALID_AUTHORIZATION,
                      "cannot look up user \"%s\" in database \"%s\": %s", s->user,
                      s->database, error);
        return;
    }
    slog(s, PROXY_LOG_DEBUG, "auth_query: %s", secret ? "found" : "no password");
    if (session_auth_begin(s))
        session_process(s);
}

/* A password check passed: an upstream server may log in as this user
 * with the same secret (an md5 hash answers md5; a SCRAM verifier answers
 * SCRAM with the ClientKey the client just proved). */
static void session_auth_passed(proxy_session *s, const uint8_t *client_key)
{
    const char *secret = session_secret(s);
    if (!s->db || !pool_db_upstream(s->db) || !secret)
        return;
    if (!s->auth_looked_up && !client_key)
        return; /* auth_file's secret: servers read it there */
    pool_servers *ps = pool_servers_get(s->db, s->user);
    if (!ps || !pool_servers_set_secret(ps, secret))
        return;
    if (client_key)
        pool_servers_set_client_key(ps, client_key);
}

/* The SCRAM verifier for s->user: auth_query's secret parsed (or derived
 * from a plain password), else the auth file's; NULL when there is none (an
 * md5 hash cannot answer SCRAM): the exchange then fails. */
static const wire_scram_verifier *session_verifier(const proxy_session *s, wire_scram_verifier *v)
{
    memset(v, 0, sizeof(*v));
    if (!s->auth_looked_up)
        return proxy_userlist_verifier(s->server->users, s->user);
    const char *secret = s->auth_secret;
    if (!secret || wire_md5_is_hash(secret))
        return NULL;
    if (!strncmp(secret, "SCRAM-SHA-256$", 14))
        return wire_scram_verifier_parse(secret, v) ? v : NULL;
    uint8_t salt[16];
    if (RAND_bytes(salt, sizeof(salt)) != 1 ||
        !wire_scram_verifier_from_password(secret, salt, sizeof(salt),
                                           WIRE_SCRAM_DEFAULT_ITERATIONS, v))
        return NULL;
    return v;
}

/* A cleartext password against what is stored: a plain password, an md5
 * hash or a SCRAM verifier (derived with its salt and iterations). */
static bool session_password_matches(const char *secret, const char *user, const char *password)
{
    if (!secret)
        return false;
    if (wire_md5_is_hash(secret)) {
        char h[36];
        wire_md5_password_hash(password, user, h);
        return CRYPTO_memcmp(h, secret, 35) == 0;
    }
    if (!strncmp(secret, "SCRAM-SHA-256$", 14)) {
        wire_scram_verifier v, w;
        bool ok = wire_scram_verifier_parse(secret, &v) &&
                  wire_scram_verifier_from_password(password, v.salt, v.salt_len, v.iterations,
                                                    &w) &&
                  CRYPTO_memcmp(v.stored_key, w.stored_key, sizeof(v.stored_key)) == 0;
        OPENSSL_cleanse(&v, sizeof(v));
        OPENSSL_cleanse(&w, sizeof(w));
        return ok;
    }
    size_t n = strlen(secret);
    return strlen(password) == n && CRYPTO_memcmp(secret, password, n) == 0;
}

static bool session_handle_auth(proxy_session *s, const wire_frame *f)
{
    char err[256] = "";

    if (f->type != 'p') {
        session_fatal(s, WIRE_SQLSTATE_PROTOCOL_VIOLATION,
                      "expected password response, got message type %d", (int)(uint8_t)f->type);
        return false;
    }
    if (!s->sasl_started) {
        const char *password;
        if (!wire_password_parse(f, &password)) {
            session_fatal(s, WIRE_SQLSTATE_PROTOCOL_VIOLATION, "invalid password packet");
            return false;
        }
        const char *secret = session_secret(s);
        if (!(s->plain_started ? session_password_matches(secret, s->user, password)
                               : secret && wire_md5_check(secret, s->user, s->md5_salt, password))) {
            session_auth_failed(s);
            return false;
        }
        session_auth_passed(s, NULL);
        return session_start_backend(s);
    }

    wire_buf msg;
    wire_buf_init(&msg);
    wire_scram_status rc;
    if (!s->scram) {
        const char *mech;
        const uint8_t *data;
        size_t len;
        if (!wire_sasl_initial_parse(f, &mech, &data, &len)) {
            session_fatal(s, WIRE_SQLSTATE_PROTOCOL_VIOLATION, "malformed SASLInitialResponse");
            return false;
        }
        bool plus = s->tls && strcmp(mech, "SCRAM-SHA-256-PLUS") == 0;
        if (!plus && strcmp(mech, "SCRAM-SHA-256") != 0) {
            session_fatal(s, WIRE_SQLSTATE_PROTOCOL_VIOLATION,
                          "client selected an invalid SASL authentication mechanism");
            return false;
        }
        wire_scram_verifier v;
        s->scram = wire_scram_server_new(session_verifier(s, &v), s->user, NULL);
        OPENSSL_cleanse(&v, sizeof(v));
        if (!s->scram) {
            session_fatal(s, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
            return false;
        }
        uint8_t cb[PROXY_TLS_END_POINT_MAX];
        size_t cb_len = s->tls ? proxy_tls_end_point(s->tls, cb) : 0;
        if (!wire_scram_server_bind(s->scram, plus, cb, cb_len)) {
            session_fatal(s, WIRE_SQLSTATE_INTERNAL_ERROR,
                          "cannot compute the channel-binding data of the server certificate");
            return false;
        }
        rc = wire_scram_server_first(s->scram, data, len, &msg, err, sizeof(err));
        if (rc == WIRE_SCRAM_CONTINUE)
            wire_put_auth_sasl_continue(&s->out, msg.data, msg.len);
    } else {
        const uint8_t *data;
        size_t len;
        if (!wire_sasl_response_parse(f, &data, &len)) {
            wire_buf_free(&msg);
            session_fatal(s, WIRE_SQLSTATE_PROTOCOL_VIOLATION, "malformed SASLResponse");
            return false;
        }
        rc = wire_scram_server_final(s->scram, data, len, &msg, err, sizeof(err));
        if (rc == WIRE_SCRAM_OK)
            wire_put_auth_sasl_final(&s->out, msg.data, msg.len);
        else if (rc == WIRE_SCRAM_CONTINUE)
            rc = WIRE_SCRAM_FAIL_PROTOCOL;
    }
    wire_buf_free(&msg);
    switch (rc) {
    case WIRE_SCRAM_CONTINUE:
        return true;
    case WIRE_SCRAM_OK: {
        uint8_t key[WIRE_SCRAM_KEY_LEN];
        if (wire_scram_server_client_key(s->scram, key))
            session_auth_passed(s, key);
        OPENSSL_cleanse(key, sizeof(key));
        wire_scram_server_free(s->scram);
        s->scram = NULL;
        return session_start_backend(s);
    }
    case WIRE_SCRAM_FAIL_AUTH:
        if (err[0])
            slog(s, PROXY_LOG_DEBUG, "SCRAM: %s", err);
        session_auth_failed(s);
        return false;
    case WIRE_SCRAM_FAIL_PROTOCOL:
        session_fatal(s, WIRE_SQLSTATE_PROTOCOL_VIOLATION, "%s",
                      err[0] ? err : "malformed SCRAM message");
        return false;
    }
    return false;
}

static bool session_handle_query(proxy_session *s, const wire_frame *f)
{
    const char *sql;
    size_t len;
    if (!wire_query_parse(f, &sql, &len)) {
        session_fatal(s, WIRE_SQLSTATE_PROTOCOL_VIOLATION, "invalid Query message");
        return false;
    }
    free(s->job_sql);
    s->job_sql = malloc(len + 1);
    if (!s->job_sql) {
        session_fatal(s, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
        return false;
    }
    memcpy(s->job_sql, sql, len);
    s->job_sql[len] = '\0';
    slog(s, PROXY_LOG_DEBUG, "query: %.200s", s->job_sql);

    session_set_state(s, SESSION_BUSY);
    session_submit(s, STORAGE_JOB_QUERY);
    return false; /* no further messages until the reply is out */
}

static bool session_is_extended(char type)
{
    return type == 'P' || type == 'B' || type == 'D' || type == 'E' || type == 'C' ||
           type == 'S' || type == 'H';
}

/* Sends a batch of extended-protocol messages to the engine: the message at
 * *off and those after it, up to and including a Sync or Flush, or up to the
 * last complete one buffered.  The engine keeps the prepared statements and
 * portals and answers each Sync with ReadyForQuery. */
static bool session_handle_extended(proxy_session *s, size_t start, size_t *off)
{
    size_t end = *off;
    const uint8_t *first = s->in.data + start;
    char last = (char)first[0];
    while (last != 'S' && last != 'H') {
        wire_frame f;
        if (wire_frame_parse(s->in.data + end, s->in.len - end, s->server->cfg.max_packet_size,
                             &f) != WIRE_FRAME_OK ||
            !session_is_extended(f.type))
            break; /* incomplete, too large or another kind: the main loop handles it */
        end += f.total_len;
        last = f.type;
    }
    size_t len = end - start;
    free(s->job_msgs);
    s->job_msgs = malloc(len);
    if (!s->job_msgs) {
        session_fatal(s, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
        return false;
    }
    memcpy(s->job_msgs, first, len);
    s->job_msgs_len = len;
    *off = end;

    session_set_state(s, SESSION_BUSY);
    session_submit(s, STORAGE_JOB_EXTENDED);
    return false;
}

/* ---- COPY FROM STDIN ---- */

static void session_copy_free(proxy_session *s)
{
    if (!s->copy)
        return;
    wire_buf_free(&s->copy->buf);
    wire_buf_free(&s->copy->job);
    free(s->copy->fail_message);
    free(s->copy);
    s->copy = NULL;
}

/* Submits the collected data as the next COPY job (end: MORE, DONE or FAIL). */
static void session_copy_submit(proxy_session *s, storage_copy_end end)
{
    session_copy *cp = s->copy;
    wire_buf tmp = cp->job;
    cp->job = cp->buf;
    cp->buf = tmp;
    wire_buf_reset(&cp->buf);
    s->job->copy_end = end;
    session_submit(s, STORAGE_JOB_COPY);
}

/* The client ended the data (or broke the sub-protocol): once no chunk is
 * in flight, the end goes to the engine, and the session waits for the
 * COPY's result like for a Query's. */
static void session_copy_in_end(proxy_session *s)
{
    if (s->job_in_flight)
        return; /* session_on_job_done comes back here */
    if (s->copy->discard)
        wire_buf_reset(&s->copy->buf);
    session_set_state(s, SESSION_BUSY);
    session_copy_submit(s, s->copy->end);
}

static void session_copy_in_fail(proxy_session *s, const char *sqlstate, const char *message)
{
    free(s->copy->fail_message);
    s->copy->fail_message = strdup(message);
    s->copy->fail_sqlstate = sqlstate;
    s->copy->end = STORAGE_COPY_FAIL;
    s->copy->end_pending = true;
    session_copy_in_end(s);
}

/* Can the session take another CopyData now? */
static bool session_copy_in_room(const proxy_session *s)
{
    return !s->copy->end_pending && (s->copy->buf.len < PROXY_COPY_CHUNK || !s->job_in_flight);
}

/* One message in COPY_IN. Returns true to go on with the next. */
static bool session_handle_copy_in(proxy_session *s, const wire_frame *f)
{
    switch (f->type) {
    case 'd':
        if (!s->copy->discard)
            wire_buf_append(&s->copy->buf, f->body, f->body_len);
        if (s->copy->buf.oom) {
            session_fatal(s, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
            return false;
        }
        if (s->copy->buf.len >= PROXY_COPY_CHUNK && !s->job_in_flight)
            session_copy_submit(s, STORAGE_COPY_MORE);
        return true;
    case 'c':
        s->copy->end = STORAGE_COPY_DONE;
        s->copy->end_pending = true;
        session_copy_in_end(s);
        return false;
    case 'f': {
        const char *msg = "";
        if (!wire_copy_fail_parse(f, &msg))
            msg = "";
        session_copy_in_fail(s, NULL, msg);
        return false;
    }
    case 'H':
    case 'S':
        return true; /* the protocol lets clients send these in copy-in mode */
    default: {
        /* Terminate included: PostgreSQL reports the broken COPY, then
         * ends the session because the protocol is out of step. */
        char msg[96];
        snprintf(msg, sizeof(msg), "unexpected message type 0x%02X during COPY from stdin",
                 (unsigned)(uint8_t)f->type);
        s->copy->fatal = true;
        session_copy_in_fail(s, WIRE_SQLSTATE_PROTOCOL_VIOLATION, msg);
        return false;
    }
    }
}

/* COPY TO STDOUT: asks for the next part once the output has room. */
static void session_copy_out_next(proxy_session *s)
{
    if (s->state == SESSION_COPY_OUT && !s->job_in_flight && s->out.len < PROXY_OUTPUT_HIGH_WATER)
        session_submit(s, STORAGE_JOB_COPY);
}

/* Handles one message in a ready state. Returns true to go on with the next. */
static bool session_handle_ready(proxy_session *s, const wire_frame *f, size_t start, size_t *off)
{
    switch (f->type) {
    case 'Q':
        if (s->discard_to_sync)
            return true; /* PostgreSQL skips everything after an error until Sync */
        if (s->admin) { /* on loop 0; its commands see and steer every loop */
            server_world_lock(s->server);
            bool go_on = admin_handle_query(s, f);
            server_world_unlock(s->server);
            return go_on;
        }
        return session_handle_query(s, f);
    case 'X':
        session_close(s, "client sent Terminate");
        return false;
    case 'P':
    case 'B':
    case 'D':
    case 'E':
    case 'C':
    case 'S':
    case 'H':
        if (s->admin)
            return admin_handle_extended(s, f);
        return session_handle_extended(s, start, off);
    case 'd':
    case 'c':
    case 'f':
        /* CopyData/CopyDone/CopyFail outside COPY are dropped, as PostgreSQL
         * does: the client may still be sending the data of a COPY that
         * failed. */
        return true;
    default:
        session_fatal(s, WIRE_SQLSTATE_PROTOCOL_VIOLATION, "invalid frontend message type %d",
                      (int)(uint8_t)f->type);
        return false;
    }
}

static bool session_needs_backend(char type)
{
    return strchr("QPBDECSH", type) != NULL && type != '\0';
}

/* A SQLite client whose connection went back to the pool takes one again
 * for its next message: true when it has one (reused, open); false when
 * it waits for an OPEN (OPENING, reopening) or failed (closing). */
static bool session_take_backend(proxy_session *s)
{
    bool opened = false;
    s->backend = pool_backend_acquire(s->db, &opened);
    s->backend_opened = s->backend && opened;
    if (!s->backend || !storage_conn_set_user(s->backend, s->user) || !session_job_alloc(s)) {
        session_fatal(s, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
        return false;
    }
    if (opened) {
        slog(s, PROXY_LOG_DEBUG, "reused backend");
        return true;
    }
    session_set_state(s, SESSION_OPENING);
    s->reopening = true;
    session_submit(s, STORAGE_JOB_OPEN);
    return false;
}

void session_release_idle(proxy_server *srv)
{
    int secs = srv->cfg.sqlite_release_idle;
    if (secs <= 0)
        return;
    uint64_t now = proxy_stats_now_us();
    for (proxy_session *s = server_sessions_first(srv); s; s = server_sessions_next(srv, s)) {
        if (!s->backend || !s->backend_opened || s->state != SESSION_IDLE || s->job_in_flight ||
            s->in.len > 0 || !storage_conn_stateless(s->backend))
            continue;
        /* (PAUSE db: its database is to pause now) */
        if (now - s->idle_since_us < (uint64_t)secs * 1000000u && !pool_db_pause_forced(s->db))
            continue;
        storage_conn_detach(s->backend);
        if (pool_backend_park(s->db, s->backend)) {
            s->backend = NULL;
            s->backend_opened = false;
            session_job_free(s);
            continue;
        }
        session_submit(s, STORAGE_JOB_CLOSE); /* the pool has enough idle ones */
    }
}

/* Consumes complete messages from s->in while the state allows. */
static bool session_process(proxy_session *s)
{
    size_t off = 0;
    bool go_on = true;
    bool held = false;

    if (s->ps && s->state != SESSION_OPENING && s->state != SESSION_CLOSING &&
        s->state != SESSION_STARTUP && s->state != SESSION_AUTH) {
        session_pg_input(s); /* [upstream hook] */
        return true;
    }

    while (go_on && s->state != SESSION_CLOSING) {
        if (s->auth_lookup)
            break; /* no password asked for yet: session_auth_looked_up */
        if (s->state == SESSION_BUSY || s->state == SESSION_OPENING ||
            s->state == SESSION_COPY_OUT)
            break;
        if (session_state_ready(s->state) && s->job_in_flight)
            break; /* its connection is being closed (session_release_idle) */
        if (s->state == SESSION_COPY_IN && !session_copy_in_room(s))
            break;
        if (session_state_ready(s->state) && admin_session_held(s, s->in.len > off)) {
            held = true; /* PAUSE: RESUME wakes the session (session_wake) */
            break;
        }
        wire_frame f;
        wire_frame_status fs;
        const uint8_t *p = s->in.data + off;
        size_t avail = s->in.len - off;
        if (s->state == SESSION_STARTUP)
            fs = wire_startup_frame_parse(p, avail, &f);
        else
            fs = wire_frame_parse(p, avail, s->server->cfg.max_packet_size, &f);
        if (fs == WIRE_FRAME_INCOMPLETE)
            break;
        if (fs != WIRE_FRAME_OK) {
            session_bad_frame(s, fs);
            break;
        }
        size_t start = off;
        if (s->state == SESSION_IDLE && !s->admin && !s->ps) {
            ssize_t refused = session_quota_gate(s, p, avail);
            if (refused < 0)
                break; /* the rest of the batch first */
            if (refused > 0) {
                off += (size_t)refused;
                continue;
            }
        }
        off += f.total_len;
        if (session_state_ready(s->state) && !s->backend && !s->admin && !s->ps &&
            session_needs_backend(f.type) && !session_take_backend(s)) {
            off = start; /* handled once the connection is open */
            break;
        }
        switch (s->state) {
        case SESSION_STARTUP:
            go_on = session_handle_startup(s, &f);
            if (s->migrate_to)
                off = start;
            break;
        case SESSION_AUTH:
            go_on = session_handle_auth(s, &f);
            break;
        case SESSION_COPY_IN:
            go_on = session_handle_copy_in(s, &f);
            break;
        default:
            go_on = session_handle_ready(s, &f, start, &off);
            break;
        }
    }
    if (s->state == SESSION_CLOSING)
        return true;
    wire_buf_consume(&s->in, off);
    if (s->migrate_to) {
        proxy_loop *to = s->migrate_to;
        s->migrate_to = NULL;
        ev_io_stop(s->loop->loop, &s->rio);
        ev_io_stop(s->loop->loop, &s->wio);
        session_unlink(s);
        server_migrate(s, to); /* s belongs to `to` from here on */
        return false;
    }
    if (!session_flush(s)) {
        session_close(s, "write failed");
        return true;
    }
    /* Read more only when messages can be handled and the client keeps up. */
    bool can_read = !held && !s->auth_lookup && !s->tls_starting && s->state != SESSION_BUSY &&
                    s->state != SESSION_OPENING &&
                    s->state != SESSION_COPY_OUT &&
                    (s->state != SESSION_COPY_IN || session_copy_in_room(s)) &&
                    s->out.len < PROXY_OUTPUT_HIGH_WATER;
    if (can_read) {
        ev_io_start(s->loop->loop, &s->rio);
        if (proxy_tls_pending(s->tls)) /* decrypted already: epoll would not say so */
            ev_feed_event(s->loop->loop, &s->rio, EV_READ);
    } else {
        ev_io_stop(s->loop->loop, &s->rio);
    }
    return true;
}

static session_read_result session_read(proxy_session *s)
{
    if (s->tls_handshaking)
        return session_tls_handshake(s);
    server_buf_take(s->loop, &s->in);
    if (!wire_buf_reserve(&s->in, PROXY_READ_CHUNK)) {
        session_fatal(s, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
        return SESSION_READ_GONE;
    }
    ssize_t n = session_sock_read(s, s->in.data + s->in.len, s->in.cap - s->in.len);
    if (n == 0) {
        session_close(s, "client closed the connection");
        return SESSION_READ_GONE;
    }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            if (s->in.len == 0)
                server_buf_give(s->loop, &s->in);
            return SESSION_READ_AGAIN;
        }
        session_close(s, strerror(errno));
        return SESSION_READ_GONE;
    }
    s->in.len += (size_t)n;
    s->meter.in += (uint64_t)n;
    proxy_stats_received(s->stats, (size_t)n);
    if (!session_process(s))
        return SESSION_READ_GONE; /* moved to its database's loop */
    if (s->state == SESSION_CLOSING)
        return SESSION_READ_GONE;
    if (s->in.len == 0)
        server_buf_give(s->loop, &s->in);
    return SESSION_READ_DONE;
}

static void session_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    session_read(container_of(w, proxy_session, rio));
}

/* 'S' has been sent: the TLS handshake starts.  Whatever came after the
 * SSLRequest in plaintext is refused (CVE-2021-23214): it was not
 * encrypted, so anyone on the path could have injected it. */
static void session_tls_begin(proxy_session *s)
{
    char err[256];
    s->tls_starting = false;
    if (s->in.len > 0) {
        session_fatal(s, WIRE_SQLSTATE_PROTOCOL_VIOLATION,
                      "received unencrypted data after SSL request");
        return;
    }
    s->tls = proxy_tls_accept_new(s->server->tls, s->fd, err, sizeof(err));
    if (!s->tls) {
        slog(s, PROXY_LOG_ERROR, "%s", err);
        session_close(s, "cannot start TLS");
        return;
    }
    s->tls_handshaking = true;
    ev_io_stop(s->loop->loop, &s->wio);
    session_tls_handshake(s);
}

/* One step of the handshake; once it is done the StartupMessage is read
 * through TLS. */
static session_read_result session_tls_handshake(proxy_session *s)
{
    char err[256] = "";
    switch (proxy_tls_handshake(s->tls, err, sizeof(err))) {
    case PROXY_TLS_DONE:
        s->tls_handshaking = false;
        ev_io_stop(s->loop->loop, &s->wio);
        ev_io_start(s->loop->loop, &s->rio); /* (stopped if the last step waited to write) */
        slog(s, PROXY_LOG_DEBUG, "TLS handshake done: %s, %s%s", proxy_tls_version(s->tls),
             proxy_tls_cipher(s->tls), proxy_tls_peer_cert(s->tls) ? ", client certificate" : "");
        return session_read(s); /* the StartupMessage may be in already */
    case PROXY_TLS_WANT_READ:
        ev_io_stop(s->loop->loop, &s->wio);
        ev_io_start(s->loop->loop, &s->rio);
        return SESSION_READ_AGAIN;
    case PROXY_TLS_WANT_WRITE:
        ev_io_stop(s->loop->loop, &s->rio);
        ev_io_start(s->loop->loop, &s->wio);
        return SESSION_READ_AGAIN;
    case PROXY_TLS_CLOSED:
        slog(s, PROXY_LOG_DEBUG, "%s", err);
        session_close(s, "client closed the connection");
        return SESSION_READ_GONE;
    case PROXY_TLS_FAILED:
        break;
    }
    slog(s, PROXY_LOG_INFO, "TLS handshake failed: %s", err);
    session_close(s, "TLS handshake failed");
    return SESSION_READ_GONE;
}

static void session_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    proxy_session *s = container_of(w, proxy_session, wio);
    if (s->tls_handshaking) {
        session_read(s); /* the handshake's next step */
        return;
    }
    if (s->tls_read_wants_write) {
        s->tls_read_wants_write = false;
        ev_io_stop(loop, &s->wio);
        if (session_read(s) == SESSION_READ_GONE)
            return;
        if (s->state == SESSION_CLOSING)
            return;
    }
    if (!session_flush(s)) {
        session_close(s, "write failed");
        return;
    }
    if (s->want_close && s->out.len == 0) {
        session_close(s, "shutdown");
        return;
    }
    if (s->tls_starting && s->out.len == 0) {
        session_tls_begin(s);
        return;
    }
    if (s->upstream)
        proxy_upstream_client_drained(s->upstream); /* [upstream hook] */
    if (s->out.len < PROXY_OUTPUT_HIGH_WATER) {
        session_copy_out_next(s);
        session_process(s);
    }
}

static void session_send_welcome(proxy_session *s)
{
    char version[64];
    snprintf(version, sizeof(version), "16.0 (Dormouse %s)", DORMOUSE_VERSION);
    const char *params[][2] = {
        {"server_version", version},
        {"server_encoding", "UTF8"},
        {"client_encoding", "UTF8"},
        {"DateStyle", "ISO, MDY"},
        {"IntervalStyle", "postgres"},
        {"integer_datetimes", "on"},
        {"standard_conforming_strings", "on"},
        {"TimeZone", "UTC"},
        {"application_name", s->application_name},
        {"is_superuser", "off"},
        {"session_authorization", s->user},
        {"default_transaction_read_only", "off"},
        {"in_hot_standby", "off"},
    };
    wire_put_auth_ok(&s->out);
    for (size_t i = 0; i < sizeof(params) / sizeof(params[0]); i++)
        wire_put_parameter_status(&s->out, params[i][0], params[i][1]);
    wire_put_backend_key(&s->out, s->id, s->cancel_key);
    wire_put_ready(&s->out, 'I');
}

/* Moves a job's reply to the output: the buffers trade places when nothing
 * else waits to be sent (the usual case), so a large result is not copied. */
static void session_take_reply(proxy_session *s, storage_job *job)
{
    if (s->out.len == 0) {
        wire_buf tmp = s->out;
        s->out = job->out;
        job->out = tmp;
    } else {
        wire_buf_append(&s->out, job->out.data, job->out.len);
    }
    wire_buf_reset(&job->out);
}

void session_on_job_done(proxy_session *s, storage_job *job)
{
    s->job_in_flight = false;
    storage_job_kind kind = job->kind;

    if (kind == STORAGE_JOB_CLOSE) {
        s->backend_opened = false;
        pool_backend_release(s->db, s->backend);
        s->backend = NULL;
        if (s->state != SESSION_CLOSING) { /* released while idle: the session goes on */
            session_process(s);
            return;
        }
        server_session_closed(s);
        return;
    }
    if (kind == STORAGE_JOB_RESET) {
        /* The client is gone: its backend waits in the pool for the next one. */
        if (!job->failed && pool_backend_park(s->db, s->backend)) {
            slog(s, PROXY_LOG_DEBUG, "backend reset and parked for reuse");
            s->backend_opened = false;
            s->backend = NULL;
            server_session_closed(s);
            return;
        }
        if (job->failed)
            slog(s, PROXY_LOG_WARNING, "cannot reset the backend for reuse; closing it");
        session_submit(s, STORAGE_JOB_CLOSE);
        return;
    }
    if (kind == STORAGE_JOB_OPEN && !job->failed)
        s->backend_opened = true;
    if (kind == STORAGE_JOB_QUERY) {
        free(s->job_sql);
        s->job_sql = NULL;
    }
    if (kind == STORAGE_JOB_EXTENDED) {
        free(s->job_msgs);
        s->job_msgs = NULL;
    }
    if (s->state == SESSION_CLOSING) {
        session_close_backend(s);
        return;
    }
    if (job->out.oom) {
        session_fatal(s, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory building the reply");
        return;
    }
    if (kind == STORAGE_JOB_OPEN) {
        if (job->failed) {
            /* The engine's reply is a FATAL ErrorResponse saying why. */
            session_take_reply(s, job);
            slog(s, PROXY_LOG_WARNING, "cannot open the database");
            if (!s->logged_in)
                s->loop->tl_acc.refused++; /* a login refused */
            session_close(s, "database open failed");
            return;
        }
        pool_db_opened(s->db);
        session_set_state(s, SESSION_IDLE);
        if (s->reopening) { /* taken again for a query: it goes on below */
            s->reopening = false;
        } else {
            slog(s, PROXY_LOG_INFO, "login ok");
            session_send_welcome(s);
        }
    } else if (kind == STORAGE_JOB_COPY && s->state == SESSION_COPY_IN) {
        /* a chunk of COPY FROM data is in */
        meter_job(s, job);
        session_take_reply(s, job);
        if (job->copy_discard && !s->copy->discard) {
            s->copy->discard = true;
            wire_buf_reset(&s->copy->buf);
        }
        if (s->copy->end_pending)
            session_copy_in_end(s);
        else if (s->copy->buf.len >= PROXY_COPY_CHUNK)
            session_copy_submit(s, STORAGE_COPY_MORE);
    } else if (kind == STORAGE_JOB_COPY && s->copy && s->copy->fatal &&
               job->copy == STORAGE_COPY_NONE) {
        session_take_reply(s, job);
        session_fatal(s, WIRE_SQLSTATE_PROTOCOL_VIOLATION,
                      "terminating connection because protocol synchronization was lost");
        return;
    } else {
        if (job->copy != STORAGE_COPY_NONE && kind != STORAGE_JOB_COPY) {
            s->stream_fingerprint = job->fingerprint; /* its later parts count as it */
            s->stream_kind = job->query_kind;
        }
        if (!s->job_metered)
            meter_job(s, job); /* in the journal before the client sees the result */
        s->job_metered = false;
        session_take_reply(s, job);
        s->tx_status = job->tx_status;
        if (kind == STORAGE_JOB_EXTENDED || job->extended)
            s->discard_to_sync = job->discarding;
        switch (job->copy) {
        case STORAGE_COPY_IN:
            session_copy_free(s);
            s->copy = calloc(1, sizeof(*s->copy));
            if (!s->copy) {
                session_fatal(s, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
                return;
            }
            session_set_state(s, SESSION_COPY_IN);
            break;
        case STORAGE_COPY_OUT:
            if (s->state != SESSION_COPY_OUT)
                session_set_state(s, SESSION_COPY_OUT);
            break;
        case STORAGE_COPY_NONE:
            session_copy_free(s); /* a COPY FROM's result: its data is all in */
            if (kind != STORAGE_JOB_EXTENDED && !job->extended)
                wire_put_ready(&s->out, s->tx_status); /* EXTENDED jobs write their own */
            session_set_state(s, session_state_for_tx(s->tx_status));
            break;
        }
    }
    if (!s->job_in_flight) { /* a COPY chunk may have gone to the engine again above */
        wire_buf_reset(&job->out);
        server_buf_give(s->loop, &job->out);
    }
    if (s->server->shutting_down) {
        session_put_error(s, "FATAL", WIRE_SQLSTATE_ADMIN_SHUTDOWN,
                          "terminating connection due to administrator command");
        s->want_close = true;
        if (!session_flush(s) || s->out.len == 0)
            session_close(s, "shutdown");
        return;
    }
    session_process(s);
    if (s->state != SESSION_CLOSING)
        session_copy_out_next(s);
}

void session_shutdown(proxy_session *s)
{
    if (s->ps && s->state == SESSION_OPENING) { /* [upstream hook] no job to wait for */
        session_fatal(s, WIRE_SQLSTATE_ADMIN_SHUTDOWN,
                      "terminating connection due to administrator command");
        return;
    }
    switch (s->state) {
    case SESSION_CLOSING:
        return;
    case SESSION_COPY_IN:
    case SESSION_COPY_OUT:
        /* a COPY may wait on the client for ever: end it (the close rolls it back) */
        session_fatal(s, WIRE_SQLSTATE_ADMIN_SHUTDOWN,
                      "terminating connection due to administrator command");
        return;
    case SESSION_BUSY:
    case SESSION_OPENING:
        /* session_on_job_done sends the result, then closes. */
        s->want_close = true;
        return;
    default:
        session_fatal(s, WIRE_SQLSTATE_ADMIN_SHUTDOWN,
                      "terminating connection due to administrator command");
        return;
    }
}

void session_terminate(proxy_session *s, const char *sqlstate, const char *message)
{
    if (s->state == SESSION_CLOSING)
        return;
    if (s->job_in_flight && s->backend && s->state != SESSION_OPENING)
        storage_conn_interrupt(s->backend); /* the close waits for the job */
    if (s->upstream && s->state == SESSION_BUSY)
        proxy_upstream_cancel(s->upstream); /* [upstream hook] */
    session_fatal(s, sqlstate, "%s", message);
}

/* Whether the client of a session whose socket is not being read (a
 * statement runs) has hung up: FIN or RST, as PostgreSQL's
 * client_connection_check_interval sees it. */
static bool session_client_hung_up(const proxy_session *s)
{
    struct pollfd p = {.fd = s->fd, .events = POLLRDHUP};
    return s->fd >= 0 && poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

void session_enforce_timeouts(proxy_server *srv)
{
    const proxy_config *cfg = &srv->cfg;
    uint64_t now = proxy_stats_now_us();
    time_t wall = time(NULL);
    for (proxy_session *s = server_sessions_first(srv); s; s = server_sessions_next(srv, s)) {
        switch (s->state) {
        case SESSION_STARTUP:
        case SESSION_AUTH:
            /* PostgreSQL's authentication_timeout, PgBouncer's client_login_timeout */
            if (cfg->client_login_timeout && wall - s->connect_time >= cfg->client_login_timeout)
                session_terminate(s, WIRE_SQLSTATE_QUERY_CANCELED,
                                  "canceling authentication due to timeout");
            break;
        case SESSION_IN_TX:
        case SESSION_FAILED_TX:
            if (cfg->idle_transaction_timeout && !s->admin && s->tx_idle_since_us &&
                now - s->tx_idle_since_us >= (uint64_t)cfg->idle_transaction_timeout * 1000000u)
                session_terminate(s, WIRE_SQLSTATE_IDLE_IN_TRANSACTION_TIMEOUT,
                                  "terminating connection due to idle-in-transaction timeout");
            break;
        case SESSION_BUSY:
        case SESSION_COPY_OUT: /* (its statement goes on in parts: it is still running) */
            /* A client gone while its SQLite statement runs: the statement
             * would hold its backend (and maybe the write lock) to its end. */
            if (s->backend && s->job_in_flight && !s->admin && session_client_hung_up(s)) {
                session_terminate(s, WIRE_SQLSTATE_CONNECTION_FAILURE,
                                  "the client closed the connection while a statement ran");
                break;
            }
            if (cfg->query_timeout && !s->timed_out && !s->admin && s->query_start_us &&
                now - s->query_start_us >= (uint64_t)cfg->query_timeout * 1000000u) {
                s->timed_out = true; /* once per statement */
                slog(s, PROXY_LOG_INFO, "query_timeout: cancelling the running statement");
                if (s->backend && (s->job_in_flight || s->state == SESSION_COPY_OUT))
                    storage_conn_interrupt_timeout(s->backend);
                else if (s->upstream)
                    proxy_upstream_cancel(s->upstream); /* [upstream hook] */
            }
            break;
        default:
            break;
        }
    }
}

void session_wake(proxy_session *s)
{
    if (s->state == SESSION_CLOSING)
        return;
    session_process(s);
}
