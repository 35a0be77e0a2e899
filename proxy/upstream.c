/*
 * Upstream PostgreSQL connections: the server side of a session whose
 * database is `engine=postgres` (a [databases] line with host=, port=, ...).
 *
 * Session pooling: each such session owns one proxy_upstream, a nonblocking
 * socket to the upstream server watched by the session's loop.  The
 * connection logs in as PostgreSQL asks (trust, cleartext, md5,
 * SCRAM-SHA-256 with wire/'s SCRAM client), then relays messages both ways
 * at message level: frames are checked (length, max_packet_size for the
 * client's) and copied as they are, rows are never re-encoded.
 *
 *   CONNECTING --connected--> LOGIN --ReadyForQuery--> READY
 *        |                      |                        |
 *        +---- error, timeout, ErrorResponse, EOF -------+--> CLOSED (EV_FAILED)
 *   any --proxy_upstream_close (the session ends)--> CLOSED
 *
 *   from        event                          to       done by
 *   CONNECTING  socket writable, SO_ERROR 0    LOGIN    upstream_connected
 *   LOGIN       ReadyForQuery                  READY    upstream_login_message
 *   any         failure (reported EV_FAILED)   CLOSED   upstream_fail
 *   any         the session closes             CLOSED   proxy_upstream_close
 *
 * The upstream tells its session what happened through session_on_upstream()
 * (internal.h), and only the session decides to end itself.  The server's
 * login ParameterStatus messages are kept for the session's greeting; its
 * BackendKeyData is kept for CancelRequest, which goes to the upstream over
 * a connection of its own (proxy_upstream_cancel).  The object is freed with
 * its session (session_free), never under a live watcher: close stops them.
 *
 * Back-pressure: a session stops reading its client while more than
 * PROXY_OUTPUT_HIGH_WATER bytes wait for the server (EV_DRAINED resumes it),
 * and the upstream stops reading the server while as much waits for the
 * client (proxy_upstream_client_drained resumes it).
 */
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

/* PostgreSQL's own limit on a message (MaxAllocSize). */
#define UPSTREAM_MAX_MESSAGE 0x3fffffffu

struct proxy_upstream {
    proxy_session *session;
    proxy_upstream_state state;
    int fd;
    ev_io rio, wio;
    ev_timer timer; /* server_connect_timeout, until READY */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char where[160]; /* "127.0.0.1:5432" for messages */
    char user[WIRE_NAME_MAX];
    char password[128];

    wire_buf in, out;
    wire_buf params;      /* the server's login ParameterStatus messages, as sent */
    wire_buf error_frame; /* the server's ErrorResponse that ended the login */
    wire_scram_client *scram;
    uint32_t be_pid, be_key; /* BackendKeyData */
    bool backlogged;         /* out was over the high-water mark */
    char sqlstate[6];
    char message[256];
};

/* A CancelRequest on its way to an upstream; owned by the server's list. */
struct proxy_cancel_request {
    proxy_server *server;
    int fd;
    ev_io wio;
    ev_timer timer;
    uint8_t msg[16];
    struct proxy_cancel_request *prev, *next;
};

static void upstream_read_cb(struct ev_loop *loop, ev_io *w, int revents);
static void upstream_write_cb(struct ev_loop *loop, ev_io *w, int revents);
static void upstream_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);

const char *proxy_upstream_state_str(proxy_upstream_state st)
{
    switch (st) {
    case PROXY_UPSTREAM_CONNECTING:
        return "connecting";
    case PROXY_UPSTREAM_LOGIN:
        return "login";
    case PROXY_UPSTREAM_READY:
        return "ready";
    case PROXY_UPSTREAM_CLOSED:
        return "closed";
    }
    return "unknown";
}

const char *proxy_upstream_event_str(proxy_upstream_event ev)
{
    switch (ev) {
    case PROXY_UPSTREAM_EV_READY:
        return "ready";
    case PROXY_UPSTREAM_EV_RELAYED:
        return "relayed";
    case PROXY_UPSTREAM_EV_DRAINED:
        return "drained";
    case PROXY_UPSTREAM_EV_FAILED:
        return "failed";
    }
    return "unknown";
}

const char *proxy_relay_status_str(proxy_relay_status st)
{
    switch (st) {
    case PROXY_RELAY_OK:
        return "ok";
    case PROXY_RELAY_TERMINATE:
        return "terminate";
    case PROXY_RELAY_TOO_LARGE:
        return "too large";
    case PROXY_RELAY_INVALID:
        return "invalid";
    case PROXY_RELAY_OOM:
        return "out of memory";
    }
    return "unknown";
}

bool proxy_upstream_address(const pool_upstream *where, struct sockaddr_storage *ss, socklen_t *len,
                            char *desc, size_t desclen)
{
    memset(ss, 0, sizeof(*ss));
    const char *host = strcmp(where->host, "localhost") == 0 ? "127.0.0.1" : where->host;
    if (host[0] == '/') {
        struct sockaddr_un *sun = (struct sockaddr_un *)ss;
        sun->sun_family = AF_UNIX;
        int n = snprintf(sun->sun_path, sizeof(sun->sun_path), "%s/.s.PGSQL.%d", host, where->port);
        if (n < 0 || (size_t)n >= sizeof(sun->sun_path))
            return false;
        *len = sizeof(*sun);
        snprintf(desc, desclen, "%s", sun->sun_path);
        return true;
    }
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)where->port);
        *len = sizeof(*in4);
        snprintf(desc, desclen, "%s:%d", host, where->port);
        return true;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)where->port);
        *len = sizeof(*in6);
        snprintf(desc, desclen, "[%s]:%d", host, where->port);
        return true;
    }
    return false;
}

static struct ev_loop *upstream_loop(const proxy_upstream *u)
{
    return u->session->server->loop;
}

static void upstream_stop(proxy_upstream *u)
{
    struct ev_loop *loop = upstream_loop(u);
    ev_io_stop(loop, &u->rio);
    ev_io_stop(loop, &u->wio);
    ev_timer_stop(loop, &u->timer);
    if (u->fd >= 0)
        close(u->fd);
    u->fd = -1;
    u->state = PROXY_UPSTREAM_CLOSED;
    wire_scram_client_free(u->scram);
    u->scram = NULL;
}

/* Ends the connection and tells the session (which closes itself). */
static void upstream_fail(proxy_upstream *u, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void upstream_fail(proxy_upstream *u, const char *sqlstate, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(u->message, sizeof(u->message), fmt, ap);
    va_end(ap);
    snprintf(u->sqlstate, sizeof(u->sqlstate), "%s", sqlstate);
    upstream_stop(u);
    session_on_upstream(u->session, PROXY_UPSTREAM_EV_FAILED, 0, 0);
}

/* Writes what it can; arms the write watcher for the rest.  false: failed
 * (already reported). */
static bool upstream_flush(proxy_upstream *u)
{
    if (u->out.oom) {
        upstream_fail(u, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
        return false;
    }
    while (u->out.len > 0) {
        ssize_t n = write(u->fd, u->out.data, u->out.len);
        if (n > 0) {
            wire_buf_consume(&u->out, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        upstream_fail(u, WIRE_SQLSTATE_CONNECTION_FAILURE,
                      "lost the connection to the upstream server %s: %s", u->where,
                      n < 0 ? strerror(errno) : "closed");
        return false;
    }
    if (u->out.len > 0)
        ev_io_start(upstream_loop(u), &u->wio);
    else
        ev_io_stop(upstream_loop(u), &u->wio);
    return true;
}

proxy_upstream *proxy_upstream_new(proxy_session *s, const pool_upstream *where)
{
    proxy_upstream *u = calloc(1, sizeof(*u));
    if (!u)
        return NULL;
    u->session = s;
    u->fd = -1;
    u->state = PROXY_UPSTREAM_CONNECTING;
    wire_buf_init(&u->in);
    wire_buf_init(&u->out);
    wire_buf_init(&u->params);
    wire_buf_init(&u->error_frame);
    snprintf(u->user, sizeof(u->user), "%s", where->user[0] ? where->user : s->user);
    snprintf(u->password, sizeof(u->password), "%s", where->password);
    ev_init(&u->rio, upstream_read_cb);
    ev_init(&u->wio, upstream_write_cb);
    ev_timer_init(&u->timer, upstream_timer_cb, (double)s->server->cfg.server_connect_timeout, 0.);

    /* The StartupMessage waits in `out` until the socket is connected. */
    const char *dbname = where->dbname[0] ? where->dbname : s->database;
    wire_param params[3] = {{"user", u->user}, {"database", dbname}};
    int n = 2;
    if (s->application_name[0])
        params[n++] = (wire_param){"application_name", s->application_name};
    wire_put_startup(&u->out, params, n);

    if (!proxy_upstream_address(where, &u->addr, &u->addrlen, u->where, sizeof(u->where))) {
        snprintf(u->sqlstate, sizeof(u->sqlstate), "%s", WIRE_SQLSTATE_CONNECTION_FAILURE);
        snprintf(u->message, sizeof(u->message), "invalid upstream address %s", where->host);
        u->state = PROXY_UPSTREAM_CLOSED;
        return u;
    }
    u->fd = socket(u->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc = u->fd < 0 ? -1 : connect(u->fd, (struct sockaddr *)&u->addr, u->addrlen);
    if (rc < 0 && errno != EINPROGRESS) {
        snprintf(u->sqlstate, sizeof(u->sqlstate), "%s", WIRE_SQLSTATE_CONNECTION_FAILURE);
        snprintf(u->message, sizeof(u->message), "cannot connect to the upstream server %s: %s",
                 u->where, strerror(errno));
        if (u->fd >= 0)
            close(u->fd);
        u->fd = -1;
        u->state = PROXY_UPSTREAM_CLOSED;
        return u;
    }
    if (u->addr.ss_family != AF_UNIX) {
        int one = 1;
        setsockopt(u->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
    ev_io_set(&u->rio, u->fd, EV_READ);
    ev_io_set(&u->wio, u->fd, EV_WRITE);
    ev_io_start(upstream_loop(u), &u->wio); /* writable: connected (or failed) */
    ev_timer_start(upstream_loop(u), &u->timer);
    return u;
}

proxy_upstream_state proxy_upstream_get_state(const proxy_upstream *u)
{
    return u->state;
}

const char *proxy_upstream_where(const proxy_upstream *u)
{
    return u->where;
}

void proxy_upstream_close(proxy_upstream *u)
{
    if (!u || u->state == PROXY_UPSTREAM_CLOSED)
        return;
    if (u->state == PROXY_UPSTREAM_READY && u->out.len == 0) {
        /* Terminate, best effort, so the server logs no "unexpected EOF"
         * (not after a partly written message: the server would read garbage). */
        static const uint8_t terminate[5] = {'X', 0, 0, 0, 4};
        ssize_t n = write(u->fd, terminate, sizeof(terminate));
        (void)n;
    }
    upstream_stop(u);
}

void proxy_upstream_free(proxy_upstream *u)
{
    if (!u)
        return;
    proxy_upstream_close(u);
    wire_buf_free(&u->in);
    wire_buf_free(&u->out);
    wire_buf_free(&u->params);
    wire_buf_free(&u->error_frame);
    OPENSSL_cleanse(u->password, sizeof(u->password));
    free(u);
}

static void upstream_connected(proxy_upstream *u)
{
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    if (getsockopt(u->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
        soerr = errno;
    if (soerr != 0) {
        upstream_fail(u, WIRE_SQLSTATE_CONNECTION_FAILURE,
                      "cannot connect to the upstream server %s: %s", u->where, strerror(soerr));
        return;
    }
    u->state = PROXY_UPSTREAM_LOGIN;
    ev_io_start(upstream_loop(u), &u->rio);
    upstream_flush(u); /* the StartupMessage */
}

/* 'p' with a password (cleartext or md5 answer). */
static void upstream_send_password(proxy_upstream *u, const char *password)
{
    size_t m = wire_msg_begin(&u->out, 'p');
    wire_buf_put_cstr(&u->out, password);
    wire_msg_end(&u->out, m);
}

/* One authentication request.  false: the login failed (reported). */
static bool upstream_auth(proxy_upstream *u, const wire_frame *f)
{
    if (f->body_len < 4) {
        upstream_fail(u, WIRE_SQLSTATE_PROTOCOL_VIOLATION,
                      "invalid authentication request from the upstream server");
        return false;
    }
    uint32_t code = ((uint32_t)f->body[0] << 24) | ((uint32_t)f->body[1] << 16) |
                    ((uint32_t)f->body[2] << 8) | f->body[3];
    const uint8_t *data = f->body + 4;
    size_t len = f->body_len - 4;
    if (code != WIRE_AUTH_OK && !u->password[0] && code != WIRE_AUTH_SASL_CONTINUE &&
        code != WIRE_AUTH_SASL_FINAL) {
        upstream_fail(u, WIRE_SQLSTATE_CONNECTION_FAILURE,
                      "the upstream server %s asks for a password for user \"%s\", but its "
                      "[databases] line has none",
                      u->where, u->user);
        return false;
    }
    switch (code) {
    case WIRE_AUTH_OK:
        wire_scram_client_free(u->scram);
        u->scram = NULL;
        return true;
    case WIRE_AUTH_CLEARTEXT:
        upstream_send_password(u, u->password);
        return upstream_flush(u);
    case WIRE_AUTH_MD5: {
        char resp[36];
        if (len != 4 || !wire_md5_client_response(u->password, u->user, data, resp)) {
            upstream_fail(u, WIRE_SQLSTATE_PROTOCOL_VIOLATION,
                          "invalid md5 request from the upstream server");
            return false;
        }
        upstream_send_password(u, resp);
        return upstream_flush(u);
    }
    case WIRE_AUTH_SASL: {
        bool scram = false;
        /* A list of NUL-terminated mechanism names, ended by an empty one. */
        for (size_t i = 0; i < len && data[i];) {
            size_t n = strnlen((const char *)data + i, len - i);
            if (n == 13 && memcmp(data + i, "SCRAM-SHA-256", 13) == 0)
                scram = true;
            i += n + 1;
        }
        wire_buf first;
        wire_buf_init(&first);
        if (!scram || u->scram || !(u->scram = wire_scram_client_new(u->password, NULL)) ||
            !wire_scram_client_first(u->scram, &first)) {
            wire_buf_free(&first);
            upstream_fail(u, WIRE_SQLSTATE_CONNECTION_FAILURE,
                          "cannot start SCRAM-SHA-256 with the upstream server %s", u->where);
            return false;
        }
        size_t m = wire_msg_begin(&u->out, 'p');
        wire_buf_put_cstr(&u->out, "SCRAM-SHA-256");
        wire_buf_put_u32(&u->out, (uint32_t)first.len);
        wire_buf_append(&u->out, first.data, first.len);
        wire_msg_end(&u->out, m);
        wire_buf_free(&first);
        return upstream_flush(u);
    }
    case WIRE_AUTH_SASL_CONTINUE: {
        wire_buf final;
        wire_buf_init(&final);
        if (!u->scram || !wire_scram_client_final(u->scram, data, len, &final)) {
            wire_buf_free(&final);
            upstream_fail(u, WIRE_SQLSTATE_PROTOCOL_VIOLATION,
                          "invalid SCRAM message from the upstream server %s", u->where);
            return false;
        }
        size_t m = wire_msg_begin(&u->out, 'p');
        wire_buf_append(&u->out, final.data, final.len);
        wire_msg_end(&u->out, m);
        wire_buf_free(&final);
        return upstream_flush(u);
    }
    case WIRE_AUTH_SASL_FINAL:
        if (!u->scram || !wire_scram_client_verify(u->scram, data, len)) {
            upstream_fail(u, WIRE_SQLSTATE_CONNECTION_FAILURE,
                          "the upstream server %s failed to prove it knows the password", u->where);
            return false;
        }
        return true;
    default:
        upstream_fail(u, WIRE_SQLSTATE_CONNECTION_FAILURE,
                      "the upstream server %s asks for authentication method %u, which Dormouse "
                      "does not support",
                      u->where, code);
        return false;
    }
}

/* One message during LOGIN.  false: stop (failed, reported). */
static bool upstream_login_message(proxy_upstream *u, const uint8_t *frame, const wire_frame *f)
{
    switch (f->type) {
    case 'R':
        return upstream_auth(u, f);
    case 'S':
        wire_buf_append(&u->params, frame, f->total_len);
        return true;
    case 'K':
        if (f->body_len == 8) {
            u->be_pid = ((uint32_t)f->body[0] << 24) | ((uint32_t)f->body[1] << 16) |
                        ((uint32_t)f->body[2] << 8) | f->body[3];
            u->be_key = ((uint32_t)f->body[4] << 24) | ((uint32_t)f->body[5] << 16) |
                        ((uint32_t)f->body[6] << 8) | f->body[7];
        }
        return true;
    case 'E': {
        /* The server's own refusal (28P01, 3D000, 53300, ...) goes to the client as is. */
        wire_buf_append(&u->error_frame, frame, f->total_len);
        wire_error e;
        if (wire_error_parse(f, &e)) {
            snprintf(u->sqlstate, sizeof(u->sqlstate), "%s", e.sqlstate ? e.sqlstate : "08006");
            snprintf(u->message, sizeof(u->message), "upstream: %s", e.message ? e.message : "");
        }
        upstream_stop(u);
        session_on_upstream(u->session, PROXY_UPSTREAM_EV_FAILED, 0, 0);
        return false;
    }
    case 'N': /* a notice during login: not worth a client's attention */
    case 'v': /* NegotiateProtocolVersion: we asked for nothing optional */
        return true;
    case 'Z':
        if (u->params.oom) {
            upstream_fail(u, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
            return false;
        }
        u->state = PROXY_UPSTREAM_READY;
        ev_timer_stop(upstream_loop(u), &u->timer);
        session_on_upstream(u->session, PROXY_UPSTREAM_EV_READY, 0,
                            f->body_len ? (char)f->body[0] : 'I');
        return u->state == PROXY_UPSTREAM_READY;
    default:
        upstream_fail(u, WIRE_SQLSTATE_PROTOCOL_VIOLATION,
                      "unexpected message type 0x%02X from the upstream server during login",
                      (unsigned)(uint8_t)f->type);
        return false;
    }
}

/* Handles the complete messages in u->in. */
static void upstream_process(proxy_upstream *u)
{
    proxy_session *s = u->session;
    size_t off = 0;
    size_t relay_start = 0; /* the run of READY messages not yet handed over */
    int nready = 0;
    char tx = 0;

    while (u->state == PROXY_UPSTREAM_LOGIN || u->state == PROXY_UPSTREAM_READY) {
        wire_frame f;
        wire_frame_status fs =
            wire_frame_parse(u->in.data + off, u->in.len - off, UPSTREAM_MAX_MESSAGE, &f);
        if (fs == WIRE_FRAME_INCOMPLETE)
            break;
        if (fs != WIRE_FRAME_OK) {
            upstream_fail(u, WIRE_SQLSTATE_PROTOCOL_VIOLATION,
                          "invalid message from the upstream server %s", u->where);
            return;
        }
        const uint8_t *frame = u->in.data + off;
        off += f.total_len;
        if (u->state == PROXY_UPSTREAM_LOGIN) {
            if (!upstream_login_message(u, frame, &f))
                return;
            relay_start = off;
            continue;
        }
        if (f.type == 'Z' && f.body_len == 1) {
            nready++;
            tx = (char)f.body[0];
        }
    }
    if (u->state == PROXY_UPSTREAM_CLOSED)
        return;
    if (u->state != PROXY_UPSTREAM_READY) {
        wire_buf_consume(&u->in, off); /* login messages are handled */
        return;
    }
    size_t relay_len = off - relay_start;
    if (relay_len > 0) {
        if (relay_start == 0 && off == u->in.len && s->out.len == 0) {
            /* The usual case: whole messages only, nothing waiting: trade buffers. */
            wire_buf tmp = s->out;
            s->out = u->in;
            u->in = tmp;
            wire_buf_reset(&u->in);
            off = 0;
        } else {
            wire_buf_append(&s->out, u->in.data + relay_start, relay_len);
        }
    }
    wire_buf_consume(&u->in, off);
    if (relay_len == 0)
        return;
    session_on_upstream(s, PROXY_UPSTREAM_EV_RELAYED, nready, tx);
    if (u->state == PROXY_UPSTREAM_READY && s->out.len >= PROXY_OUTPUT_HIGH_WATER)
        ev_io_stop(upstream_loop(u), &u->rio); /* proxy_upstream_client_drained resumes */
}

static void upstream_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    proxy_upstream *u = container_of(w, proxy_upstream, rio);
    if (!wire_buf_reserve(&u->in, PROXY_READ_CHUNK)) {
        upstream_fail(u, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
        return;
    }
    ssize_t n = read(u->fd, u->in.data + u->in.len, u->in.cap - u->in.len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        if (u->state == PROXY_UPSTREAM_READY)
            upstream_fail(u, WIRE_SQLSTATE_CONNECTION_FAILURE,
                          "server closed the connection unexpectedly (upstream %s: %s)", u->where,
                          n < 0 ? strerror(errno) : "end of file");
        else
            upstream_fail(u, WIRE_SQLSTATE_CONNECTION_FAILURE,
                          "the upstream server %s closed the connection during login", u->where);
        return;
    }
    u->in.len += (size_t)n;
    upstream_process(u);
}

static void upstream_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    proxy_upstream *u = container_of(w, proxy_upstream, wio);
    if (u->state == PROXY_UPSTREAM_CONNECTING) {
        upstream_connected(u);
        return;
    }
    if (!upstream_flush(u))
        return;
    if (u->backlogged && u->out.len < PROXY_OUTPUT_HIGH_WATER) {
        u->backlogged = false;
        session_on_upstream(u->session, PROXY_UPSTREAM_EV_DRAINED, 0, 0);
    }
}

static void upstream_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    proxy_upstream *u = container_of(w, proxy_upstream, timer);
    upstream_fail(u, WIRE_SQLSTATE_CONNECTION_FAILURE,
                  "timeout connecting to the upstream server %s (server_connect_timeout %d s)",
                  u->where, u->session->server->cfg.server_connect_timeout);
}

proxy_relay_status proxy_upstream_relay_input(proxy_upstream *u, const uint8_t *in, size_t len,
                                              uint32_t max_size, size_t *used, int *nrequests)
{
    size_t off = 0;
    proxy_relay_status st = PROXY_RELAY_OK;
    *nrequests = 0;
    while (off < len) {
        wire_frame f;
        wire_frame_status fs = wire_frame_parse(in + off, len - off, max_size, &f);
        if (fs == WIRE_FRAME_INCOMPLETE)
            break;
        if (fs != WIRE_FRAME_OK) {
            st = fs == WIRE_FRAME_TOO_LARGE ? PROXY_RELAY_TOO_LARGE : PROXY_RELAY_INVALID;
            break;
        }
        if (f.type == 'X') {
            st = PROXY_RELAY_TERMINATE;
            off += f.total_len;
            break;
        }
        /* Each of these gets exactly one ReadyForQuery. */
        if (f.type == 'Q' || f.type == 'S' || f.type == 'F')
            (*nrequests)++;
        off += f.total_len;
    }
    wire_buf_append(&u->out, in, off);
    *used = off;
    if (u->out.oom)
        return PROXY_RELAY_OOM;
    if (u->state == PROXY_UPSTREAM_READY && u->out.len > 0 && !upstream_flush(u))
        return PROXY_RELAY_OK; /* failed: reported through EV_FAILED */
    if (u->out.len >= PROXY_OUTPUT_HIGH_WATER)
        u->backlogged = true;
    return st;
}

bool proxy_upstream_backlogged(const proxy_upstream *u)
{
    return u->backlogged;
}

void proxy_upstream_client_drained(proxy_upstream *u)
{
    if (u->state == PROXY_UPSTREAM_READY && u->session->out.len < PROXY_OUTPUT_HIGH_WATER)
        ev_io_start(upstream_loop(u), &u->rio);
}

const uint8_t *proxy_upstream_params(const proxy_upstream *u, size_t *len)
{
    *len = u->params.len;
    return u->params.data;
}

void proxy_upstream_error(const proxy_upstream *u, const char **sqlstate, const char **message,
                          const uint8_t **frame, size_t *frame_len)
{
    *sqlstate = u->sqlstate[0] ? u->sqlstate : WIRE_SQLSTATE_CONNECTION_FAILURE;
    *message = u->message[0] ? u->message : "upstream connection failed";
    *frame = u->error_frame.len > 0 ? u->error_frame.data : NULL;
    *frame_len = u->error_frame.len;
}

/* ---- CancelRequest to the upstream ---- */

static void upstream_cancel_free(proxy_cancel_request *c)
{
    proxy_server *srv = c->server;
    ev_io_stop(srv->loop, &c->wio);
    ev_timer_stop(srv->loop, &c->timer);
    if (c->fd >= 0)
        close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->upstream_cancels = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

static void upstream_cancel_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    proxy_cancel_request *c = container_of(w, proxy_cancel_request, wio);
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0) {
        /* 16 bytes on a fresh socket: they fit at once, or the cancel is lost. */
        ssize_t n = write(c->fd, c->msg, sizeof(c->msg));
        if (n != (ssize_t)sizeof(c->msg))
            proxy_log(PROXY_LOG_WARNING, "cannot send a cancel request upstream");
    } else {
        proxy_log(PROXY_LOG_WARNING, "cannot connect upstream to cancel: %s", strerror(soerr));
    }
    upstream_cancel_free(c); /* its watchers are stopped first; nothing else points here */
}

static void upstream_cancel_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    proxy_cancel_request *c = container_of(w, proxy_cancel_request, timer);
    proxy_log(PROXY_LOG_WARNING, "timeout sending a cancel request upstream");
    upstream_cancel_free(c);
}

void proxy_upstream_cancel(proxy_upstream *u)
{
    proxy_server *srv = u->session->server;
    if (u->state != PROXY_UPSTREAM_READY)
        return;
    proxy_cancel_request *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    c->server = srv;
    uint32_t words[4] = {htonl(16), htonl(WIRE_CANCEL_REQUEST_CODE), htonl(u->be_pid),
                         htonl(u->be_key)};
    memcpy(c->msg, words, sizeof(c->msg));
    c->fd = socket(u->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0 ||
        (connect(c->fd, (struct sockaddr *)&u->addr, u->addrlen) < 0 && errno != EINPROGRESS)) {
        proxy_log(PROXY_LOG_WARNING, "cannot connect to %s to cancel: %s", u->where,
                  strerror(errno));
        if (c->fd >= 0)
            close(c->fd);
        free(c);
        return;
    }
    c->next = srv->upstream_cancels;
    if (c->next)
        c->next->prev = c;
    srv->upstream_cancels = c;
    ev_io_init(&c->wio, upstream_cancel_write_cb, c->fd, EV_WRITE);
    ev_io_start(srv->loop, &c->wio);
    ev_timer_init(&c->timer, upstream_cancel_timer_cb, (double)srv->cfg.server_connect_timeout, 0.);
    ev_timer_start(srv->loop, &c->timer);
}

void proxy_upstream_cancels_free(proxy_server *srv)
{
    while (srv->upstream_cancels)
        upstream_cancel_free(srv->upstream_cancels);
}
