/*
 * Upstream PostgreSQL server connections: the servers of an upstream pool
 * (pool.h's pool_servers), handed to client sessions by pgpool.c.
 *
 * A connection logs in as PostgreSQL asks (trust, cleartext, md5,
 * SCRAM-SHA-256 with wire/'s SCRAM client) as the pool's user, then relays
 * messages both ways at message level: frames are checked (length,
 * max_packet_size for the client's) and copied as they are, rows are never
 * re-encoded.
 *
 *   CONNECTING --connected--> LOGIN --ReadyForQuery--> READY
 *        |                      |                        |
 *        +---- error, timeout, ErrorResponse, EOF -------+--> CLOSED
 *   any --proxy_upstream_close--> CLOSED --reaper--> freed
 *
 *   from        event                          to       done by
 *   CONNECTING  socket writable, SO_ERROR 0    LOGIN    upstream_connected
 *   LOGIN       ReadyForQuery                  READY    upstream_login_message
 *   any         failure                        CLOSED   upstream_fail -> pgpool_server_failed
 *   any         pooler closes it               CLOSED   proxy_upstream_close
 *
 * What pooling changes in the relay (only where it must):
 *  - Client -> server: named prepared statements are renamed to the pool's
 *    server-side names (prepared.c) and Parsed on this server first when it
 *    lacks them; SET/RESET/DEALLOCATE/DISCARD are recorded (storage's
 *    classifier decides, and only for statements whose first word may
 *    matter); LISTEN in transaction pooling and BEGIN in statement pooling
 *    are refused with an error the server itself raises, so that it arrives
 *    in order; temporary objects, WITH HOLD cursors, SQL PREPARE and session
 *    advisory locks get a WARNING.
 *  - Server -> client: the replies to what Dormouse sent on its own (a
 *    Parse or Close it added, a settings sync or reset query) are dropped.
 *    Which reply is whose follows from the protocol's order: each Parse and
 *    Close gets an entry in the expectation queue, tagged with the number of
 *    ReadyForQuery messages due before it (its epoch); an ErrorResponse makes
 *    the server skip the rest of its epoch, so those entries go with it.
 *
 * TLS (server_tls_sslmode, TCP only): once connected, an SSLRequest goes
 * first and exactly one byte of answer is read ('S' or 'N'; reading more
 * could take plaintext injected before the handshake for the server's);
 * after 'S' the handshake, then the StartupMessage waiting in `out` and
 * everything else go through TLS.  A server that offers SCRAM-SHA-256-PLUS
 * over TLS gets channel binding to its certificate.
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
/* A statement name no server has: Close of it answers CloseComplete. */
#define UPSTREAM_NO_STMT "DMS_none"
/* Prefixed to a client's own use of a DMS_ name it never prepared, so that
 * it reaches nobody's statement (and the error is given back its name). */
#define UPSTREAM_FOREIGN "DMS_x_"

/* Expectation kinds: what to do with the next reply of their kind. */
enum {
    EXP_PARSE = 0,       /* the client's Parse: its ParseComplete goes to the client */
    EXP_PARSE_INJ,       /* our Parse: drop its ParseComplete */
    EXP_CLOSE,           /* the client's Close: its CloseComplete goes to the client */
    EXP_CLOSE_INJ,       /* our Close (an LRU eviction): drop its CloseComplete */
    EXP_CLOSE_AS_PARSE,  /* a Parse of a statement the server has: we sent a Close
                            instead, its CloseComplete goes out as ParseComplete */
    EXP_QUERY,           /* our Query: drop everything up to its ReadyForQuery */
    EXP_QUERY_STRICT,    /* the same, and if it fails the connection is unusable (a
                            client's settings or the reset query could not be applied) */
    EXP_PARSE_DUP,       /* the client's Parse of a name it has: the server refuses our
                            name for the statement (42P05), which upstream_error_names_ours
                            words with the client's */
};

/* A DEALLOCATE or DISCARD ALL's effect, due at its Query's ReadyForQuery. */
struct upstream_sop {
    storage_sess_kind kind; /* DEALLOCATE, DEALLOCATE_ALL or DISCARD_ALL */
    uint32_t epoch;         /* the Query's: due at its ReadyForQuery */
    char *name;             /* DEALLOCATE: the client's name */
    proxy_stmt *st;         /* DEALLOCATE: its statement (a reference) */
    bool on_server;         /* DEALLOCATE: the server's own copy was deallocated */
};

/* A CancelRequest on its way to an upstream; owned by the server's list. */
struct proxy_cancel_request {
    proxy_loop *loop; /* its server connection's */
    uint32_t upstream_id; /* the server connection it is for */
    uint32_t client_id;   /* the session whose query it cancels */
    uint32_t due;         /* that session's requests up to this count (sent_z) */
    int fd;
    ev_io wio;
    ev_timer timer;
    uint8_t msg[16];
    struct proxy_cancel_request *prev, *next;
};

static void upstream_read_cb(struct ev_loop *loop, ev_io *w, int revents);
static void upstream_write_cb(struct ev_loop *loop, ev_io *w, int revents);
static void upstream_timer_cb(struct ev_loop *loop, ev_timer *w, int revents);
static void sops_due(proxy_upstream *u, bool ok);
static void sops_free(proxy_upstream *u);

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
    case PROXY_UPSTREAM_EV_RELAYED:
        return "relayed";
    case PROXY_UPSTREAM_EV_DRAINED:
        return "drained";
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
    return u->loop->loop;
}

/* The server socket, through TLS once it is on: read(2)/write(2)'s contract. */
static ssize_t upstream_sock_read(proxy_upstream *u, void *buf, size_t len)
{
    if (u->tls_phase != UPSTREAM_TLS_ON)
        return read(u->fd, buf, len);
    ssize_t n = proxy_tls_read(u->tls, buf, len, &u->tls_read_wants_write);
    if (u->tls_read_wants_write)
        ev_io_start(upstream_loop(u), &u->wio);
    return n;
}

static ssize_t upstream_sock_write(proxy_upstream *u, const void *buf, size_t len)
{
    if (u->tls_phase == UPSTREAM_TLS_ON) {
        bool want_read;
        return proxy_tls_write(u->tls, buf, len, &want_read);
    }
    if (u->tls_phase != UPSTREAM_TLS_NONE) {
        errno = EAGAIN; /* the login waits for TLS */
        return -1;
    }
    return write(u->fd, buf, len);
}

/* Watches the socket for reads; decrypted bytes OpenSSL holds already
 * would not wake epoll, so they are fed to the watcher. */
static void upstream_watch_reads(proxy_upstream *u)
{
    ev_io_start(upstream_loop(u), &u->rio);
    if (proxy_tls_pending(u->tls))
        ev_feed_event(upstream_loop(u), &u->rio, EV_READ);
}

static void upstream_stop(proxy_upstream *u)
{
    struct ev_loop *loop = upstream_loop(u);
    ev_io_stop(loop, &u->rio);
    ev_io_stop(loop, &u->wio);
    ev_timer_stop(loop, &u->timer);
    proxy_tls_close(u->tls);
    u->tls = NULL;
    if (u->fd >= 0)
        close(u->fd);
    u->fd = -1;
    u->state = PROXY_UPSTREAM_CLOSED;
    wire_scram_client_free(u->scram);
    u->scram = NULL;
}

/* Records why, then lets the pooler close it and tell whom it concerns. */
static void upstream_fail(proxy_upstream *u, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void upstream_fail(proxy_upstream *u, const char *sqlstate, const char *fmt, ...)
{
    if (u->state == PROXY_UPSTREAM_CLOSED)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(u->message, sizeof(u->message), fmt, ap);
    va_end(ap);
    snprintf(u->sqlstate, sizeof(u->sqlstate), "%s", sqlstate);
    pgpool_server_failed(u);
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
        ssize_t n = upstream_sock_write(u, u->out.data, u->out.len);
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
    if (u->out.len > 0 && u->tls_phase != UPSTREAM_TLS_ASKED &&
        u->tls_phase != UPSTREAM_TLS_HANDSHAKE) {
        ev_io_start(upstream_loop(u), &u->wio);
    } else if (u->out.len == 0 && !u->tls_read_wants_write) {
        ev_io_stop(upstream_loop(u), &u->wio);
        server_buf_give(u->loop, &u->out);
    }
    return true;
}

proxy_upstream *proxy_upstream_new(proxy_server *srv, pool_servers *ps)
{
    proxy_upstream *u = calloc(1, sizeof(*u));
    if (!u)
        return NULL;
    pool_db *db = pool_servers_db(ps);
    const pool_upstream *where = pool_db_upstream(db);
    u->server = srv;
    u->loop = server_db_home(srv, pool_db_name(db));
    u->ps = ps;
    u->id = __atomic_add_fetch(&srv->next_upstream_id, 1, __ATOMIC_RELAXED);
    u->generation = pool_db_generation(db);
    u->fd = -1;
    u->state = PROXY_UPSTREAM_CONNECTING;
    u->tx = 'I';
    u->connect_time = u->request_time = (time_t)ev_now(u->loop->loop);
    wire_buf_init(&u->in);
    wire_buf_init(&u->out);
    wire_buf_init(&u->params);
    wire_buf_init(&u->error_frame);
    snprintf(u->user, sizeof(u->user), "%s", where->user[0] ? where->user : pool_servers_user(ps));
    /* The database line's password, else the auth file's secret for the
     * user, else the one a client's login was checked against (auth_query). */
    const char *password = where->password;
    if (!password[0])
        password = proxy_userlist_secret(srv->users, u->user);
    if ((!password || !password[0]) && !where->user[0])
        password = pool_servers_secret(ps);
    snprintf(u->password, sizeof(u->password), "%s", password ? password : "");
    ev_init(&u->rio, upstream_read_cb);
    ev_init(&u->wio, upstream_write_cb);
    ev_timer_init(&u->timer, upstream_timer_cb, (double)srv->cfg.server_connect_timeout, 0.);
    pool_server_add(ps, &u->link);
    u->all_next = u->loop->upstreams;
    if (u->all_next)
        u->all_next->all_prev = u;
    u->loop->upstreams = u;

    /* The StartupMessage waits in `out` until the socket is connected.  The
     * clients' own parameters (application_name, ...) are SET per client. */
    const char *dbname = where->dbname[0] ? where->dbname : pool_db_name(db);
    wire_param params[2] = {{"user", u->user}, {"database", dbname}};
    wire_put_startup(&u->out, params, 2);

    if (!proxy_upstream_address(where, &u->addr, &u->addrlen, u->where, sizeof(u->where))) {
        snprintf(u->sqlstate, sizeof(u->sqlstate), "%s", WIRE_SQLSTATE_CONNECTION_FAILURE);
        snprintf(u->message, sizeof(u->message), "invalid upstream address %s", where->host);
        return u; /* CONNECTING without a socket: pgpool fails it */
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

static void upstream_exp_clear(proxy_upstream *u)
{
    proxy_stmt_cache *c = &u->loop->stmt_cache;
    for (size_t i = 0; i < u->exp_len; i++) {
        proxy_expect *e = &u->exp[(u->exp_head + i) % u->exp_cap];
        proxy_stmt_unref(c, e->st);
        free(e->name);
    }
    u->exp_head = u->exp_len = 0;
}

void proxy_upstream_close(proxy_upstream *u)
{
    if (u->state == PROXY_UPSTREAM_CLOSED && u->ps == NULL)
        return;
    if (u->state == PROXY_UPSTREAM_READY && u->out.len == 0 && u->fd >= 0) {
        /* Terminate, best effort, so the server logs no "unexpected EOF"
         * (not after a partly written message: the server would read garbage). */
        static const uint8_t terminate[5] = {'X', 0, 0, 0, 4};
        ssize_t n = upstream_sock_write(u, terminate, sizeof(terminate));
        (void)n;
    }
    upstream_stop(u);
    if (u->client) {
        u->client->upstream = NULL;
        u->client = NULL;
    }
    if (u->ps) {
        pool_server_remove(u->ps, &u->link);
        u->ps = NULL;
    }
    u->zombie_next = u->loop->upstream_zombies;
    u->loop->upstream_zombies = u;
}

static void upstream_free(proxy_upstream *u)
{
    proxy_loop *l = u->loop;
    if (u->all_prev)
        u->all_prev->all_next = u->all_next;
    else
        l->upstreams = u->all_next;
    if (u->all_next)
        u->all_next->all_prev = u->all_prev;
    upstream_exp_clear(u);
    free(u->exp);
    sops_free(u);
    proxy_stmt_lru_clear(&u->stmts, &l->stmt_cache);
    proxy_settings_free(&u->settings);
    wire_buf_free(&u->in);
    wire_buf_free(&u->out);
    wire_buf_free(&u->params);
    wire_buf_free(&u->error_frame);
    OPENSSL_cleanse(u->password, sizeof(u->password));
    if (u->lookup_secret) {
        OPENSSL_cleanse(u->lookup_secret, strlen(u->lookup_secret));
        free(u->lookup_secret);
    }
    free(u);
}

void proxy_upstream_reap(proxy_loop *l)
{
    while (l->upstream_zombies) {
        proxy_upstream *u = l->upstream_zombies;
        l->upstream_zombies = u->zombie_next;
        upstream_free(u);
    }
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
    if (u->addr.ss_family != AF_UNIX && proxy_tls_server_enabled(u->server->tls) &&
        u->server->cfg.server_tls.sslmode != PROXY_TLS_DISABLE) {
        /* A fresh socket takes 8 bytes at once. */
        uint8_t req[8] = {0, 0, 0, 8};
        uint32_t code = htonl(WIRE_SSL_REQUEST_CODE);
        memcpy(req + 4, &code, 4);
        if (write(u->fd, req, sizeof(req)) != (ssize_t)sizeof(req)) {
            upstream_fail(u, WIRE_SQLSTATE_CONNECTION_FAILURE,
                          "cannot send SSLRequest to the upstream server %s", u->where);
            return;
        }
        ev_io_stop(upstream_loop(u), &u->wio);
        u->tls_phase = UPSTREAM_TLS_ASKED;
        return;
    }
    upstream_flush(u); /* the StartupMessage */
}

/* One step of the TLS handshake; once done, the login starts. */
static void upstream_tls_handshake(proxy_upstream *u)
{
    char err[256] = "";
    switch (proxy_tls_handshake(u->tls, err, sizeof(err))) {
    case PROXY_TLS_DONE:
        u->tls_phase = UPSTREAM_TLS_ON;
        ev_io_stop(upstream_loop(u), &u->wio);
        upstream_watch_reads(u);
        proxy_log(PROXY_LOG_DEBUG, "S-%u %s: TLS on (%s, %s)", u->id, u->where,
                  proxy_tls_version(u->tls), proxy_tls_cipher(u->tls));
        upstream_flush(u); /* the StartupMessage */
        return;
    case PROXY_TLS_WANT_READ:
        ev_io_stop(upstream_loop(u), &u->wio);
        ev_io_start(upstream_loop(u), &u->rio);
        return;
    case PROXY_TLS_WANT_WRITE:
        ev_io_stop(upstream_loop(u), &u->rio);
        ev_io_start(upstream_loop(u), &u->wio);
        return;
    case PROXY_TLS_FAILED:
    case PROXY_TLS_CLOSED:
        break;
    }
    upstream_fail(u, WIRE_SQLSTATE_CONNECTION_FAILURE,
                  "TLS handshake with the upstream server %s failed: %s", u->where, err);
}

/* The one-byte answer to our SSLRequest. */
static void upstream_tls_answer(proxy_upstream *u)
{
    uint8_t c;
    ssize_t n = read(u->fd, &c, 1); /* one byte only: what follows is the handshake's */
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0 || (c != 'S' && c != 'N')) {
        upstream_fail(u, WIRE_SQLSTATE_CONNECTION_FAILURE,
                      "the upstream server %s did not answer the SSLRequest (%s)", u->where,
                      n < 0 ? strerror(errno) : n == 0 ? "closed" : "unexpected reply");
        return;
    }
    proxy_tls_mode mode = u->server->cfg.server_tls.sslmode;
    if (c == 'N') {
        if (mode >= PROXY_TLS_REQUIRE) {
            upstream_fail(u, WIRE_SQLSTATE_CONNECTION_FAILURE,
                          "the upstream server %s does not support SSL, but server_tls_sslmode "
                          "= %s requires it", u->where, proxy_tls_mode_str(mode));
            return;
        }
        u->tls_phase = UPSTREAM_TLS_NONE;
        upstream_flush(u); /* the StartupMessage, in plaintext */
        return;
    }
    char err[256];
    const pool_upstream *where = u->ps ? pool_db_upstream(pool_servers_db(u->ps)) : NULL;
    u->tls = proxy_tls_connect_new(u->server->tls, u->fd, where ? where->host : NULL, mode, err,
                                   sizeof(err));
    if (!u->tls) {
        upstream_fail(u, WIRE_SQLSTATE_CONNECTION_FAILURE, "cannot start TLS with %s: %s",
                      u->where, err);
        return;
    }
    u->tls_phase = UPSTREAM_TLS_HANDSHAKE;
    upstream_tls_handshake(u);
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
                      "the upstream server %s asks for a password for user \"%s\", but neither "
                      "its [databases] line nor auth_file has one",
                      u->where, u->user);
        return false;
    }
    /* A stored secret answers only some requests: an md5 hash answers md5;
     * a SCRAM verifier answers SCRAM with a client's ClientKey. */
    bool md5_hash = wire_md5_is_hash(u->password);
    bool verifier = !strncmp(u->password, "SCRAM-SHA-256$", 14);
    const char *cannot = NULL;
    if ((md5_hash || verifier) && code == WIRE_AUTH_CLEARTEXT)
        cannot = "a plain-text password";
    else if (verifier && code == WIRE_AUTH_MD5)
        cannot = "md5 authentication";
    else if (md5_hash && code == WIRE_AUTH_SASL)
        cannot = "SCRAM-SHA-256 authentication";
    if (cannot) {
        upstream_fail(u, WIRE_SQLSTATE_CONNECTION_FAILURE,
                      "the upstream server %s asks for %s for user \"%s\", but Dormouse has only "
                      "its %s; give the plain password in auth_file or the [databases] line",
                      u->where, cannot, u->user, md5_hash ? "md5 hash" : "SCRAM verifier");
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
        bool scram = false, plus = false;
        /* A list of NUL-terminated mechanism names, ended by an empty one. */
        for (size_t i = 0; i < len && data[i];) {
            size_t n = strnlen((const char *)data + i, len - i);
            if (n == 13 && memcmp(data + i, "SCRAM-SHA-256", 13) == 0)
                scram = true;
            if (n == 18 && memcmp(data + i, "SCRAM-SHA-256-PLUS", 18) == 0)
                plus = u->tls_phase == UPSTREAM_TLS_ON;
            i += n + 1;
        }
        scram = scram || plus;
        if (scram && verifier && !u->scram) {
            /* SCRAM pass-through: the ClientKey a client proved to Dormouse */
            wire_scram_verifier v;
            const uint8_t *key = u->ps ? pool_servers_client_key(u->ps) : NULL;
            if (!key || !wire_scram_verifier_parse(u->password, &v)) {
                upstream_fail(u, WIRE_SQLSTATE_CONNECTION_FAILURE,
                              "the upstream server %s asks for SCRAM-SHA-256 for user \"%s\": "
                              "Dormouse has only its SCRAM verifier, which answers once a client "
                              "has logged in with SCRAM (auth_type = scram)",
                              u->where, u->user);
                return false;
            }
            u->scram = wire_scram_client_new_keys(key, v.server_key, NULL);
            OPENSSL_cleanse(&v, sizeof(v));
            if (!u->scram) {
                upstream_fail(u, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
                return false;
            }
        }
        wire_buf first;
        wire_buf_init(&first);
        uint8_t cb[PROXY_TLS_END_POINT_MAX];
        size_t cb_len = plus ? proxy_tls_peer_end_point(u->tls, cb) : 0;
        plus = cb_len > 0;
        if (!scram || (!u->scram && !(u->scram = wire_scram_client_new(u->password, NULL))) ||
            (plus && !wire_scram_client_bind(u->scram, cb, cb_len)) ||
            !wire_scram_client_first(u->scram, &first)) {
            wire_buf_free(&first);
            upstream_fail(u, WIRE_SQLSTATE_CONNECTION_FAILURE,
                          "cannot start SCRAM-SHA-256 with the upstream server %s", u->where);
            return false;
        }
        size_t m = wire_msg_begin(&u->out, 'p');
        wire_buf_put_cstr(&u->out, plus ? "SCRAM-SHA-256-PLUS" : "SCRAM-SHA-256");
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
        pgpool_server_failed(u);
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
        u->tx = f->body_len ? (char)f->body[0] : 'I';
        ev_timer_stop(upstream_loop(u), &u->timer);
        pgpool_server_ready(u);
        return false; /* nothing follows a login's ReadyForQuery */
    default:
        upstream_fail(u, WIRE_SQLSTATE_PROTOCOL_VIOLATION,
                      "unexpected message type 0x%02X from the upstream server during login",
                      (unsigned)(uint8_t)f->type);
        return false;
    }
}

/* ---- the expectation queue ---- */

/* Queues what to do with the reply to a message just written to u->out: st
 * (a reference is taken) and the client's name for it, for undoing what the
 * relay did in advance if the server skips the message after an error. */
static bool exp_push_named(proxy_upstream *u, int kind, proxy_stmt *st, const char *name)
{
    if (u->exp_len == u->exp_cap) {
        size_t cap = u->exp_cap ? u->exp_cap * 2 : 16;
        proxy_expect *v = malloc(cap * sizeof(*v));
        if (!v)
            return false;
        for (size_t i = 0; i < u->exp_len; i++)
            v[i] = u->exp[(u->exp_head + i) % u->exp_cap];
        free(u->exp);
        u->exp = v;
        u->exp_cap = cap;
        u->exp_head = 0;
    }
    proxy_expect *e = &u->exp[(u->exp_head + u->exp_len) % u->exp_cap];
    e->kind = (uint8_t)kind;
    e->epoch = u->sent_z;
    e->st = st;
    e->name = name ? strdup(name) : NULL;
    if (st)
        proxy_stmt_ref(st);
    u->exp_len++;
    return true;
}

static bool exp_push(proxy_upstream *u, int kind, proxy_stmt *st)
{
    return exp_push_named(u, kind, st, NULL);
}

static proxy_expect *exp_head(proxy_upstream *u)
{
    return u->exp_len ? &u->exp[u->exp_head] : NULL;
}

/* Takes the head entry off; its kind is returned, -1 when there is none. */
static int exp_pop(proxy_upstream *u, bool failed)
{
    proxy_expect *e = exp_head(u);
    if (!e)
        return -1;
    int kind = e->kind;
    proxy_stmt_cache *cache = &u->loop->stmt_cache;
    proxy_session *s = u->client;
    if (failed && e->st) {
        /* The server skipped it: undo what the relay did when it sent it. */
        switch (kind) {
        case EXP_PARSE:
        case EXP_PARSE_INJ:
            proxy_stmt_lru_del(&u->stmts, cache, e->st); /* never prepared */
            __attribute__((fallthrough)); /* and the client's name was never defined */
        case EXP_CLOSE_AS_PARSE:
            if (s && e->name && proxy_stmt_map_get(&s->stmts, e->name) == e->st)
                proxy_stmt_map_del(&s->stmts, cache, e->name);
            if (e->name) {
                int k = u->undone_next++ % 4;
                snprintf(u->undone[k].server, sizeof(u->undone[k].server), "%s", e->st->name);
                snprintf(u->undone[k].client, sizeof(u->undone[k].client), "%s", e->name);
            }
            break;
        case EXP_CLOSE: /* the client's statement was not closed */
            if (s && e->name && !proxy_stmt_map_get(&s->stmts, e->name)) {
                proxy_stmt_ref(e->st);
                if (!proxy_stmt_map_put(&s->stmts, cache, e->name, e->st))
                    proxy_stmt_unref(cache, e->st);
            }
            break;
        case EXP_CLOSE_INJ: { /* not evicted after all: the server still has it */
            proxy_stmt *none = NULL;
            if (!proxy_stmt_lru_touch(&u->stmts, e->st))
                proxy_stmt_lru_add(&u->stmts, e->st, 0, &none);
            break;
        }
        default:
            break;
        }
    }
    proxy_stmt_unref(cache, e->st);
    free(e->name);
    u->exp_head = (u->exp_head + 1) % u->exp_cap;
    u->exp_len--;
    return kind;
}

/* ---- server -> client ---- */

/* An error that names a statement by its server-side name (DMS_n, or a
 * DMS_x_ stand-in) goes to the client with the client's name for it, as
 * PostgreSQL would have named it: true when it was rewritten into out (the
 * frames before it, from run, are copied first). */
static bool upstream_error_names_ours(proxy_upstream *u, proxy_session *s, const wire_frame *f,
                                      wire_buf *out, size_t start, size_t run)
{
    wire_error e;
    if (!wire_error_parse(f, &e) || !e.message || !e.sqlstate)
        return false;
    const char *q = strstr(e.message, "\"DMS_");
    if (!q)
        return false;
    const char *nm = q + 1;
    const char *close = strchr(nm, '"');
    if (!close || (size_t)(close - nm) >= 256)
        return false;
    char server_name[256];
    memcpy(server_name, nm, (size_t)(close - nm));
    server_name[close - nm] = '\0';
    const char *client_name = NULL;
    if (!strncmp(server_name, UPSTREAM_FOREIGN, strlen(UPSTREAM_FOREIGN))) {
        client_name = server_name + strlen(UPSTREAM_FOREIGN);
    } else {
        proxy_stmt *st = proxy_stmt_find_name(&u->loop->stmt_cache, server_name);
        /* the name of a message under way first (a refused re-Parse names
         * what the client wrote), then the client's name for it */
        for (size_t i = 0; st && !client_name && i < u->exp_len; i++) {
            proxy_expect *x = &u->exp[(u->exp_head + i) % u->exp_cap];
            if (x->st == st && x->name)
                client_name = x->name;
        }
        if (st && !client_name)
            client_name = proxy_stmt_map_name_of(&s->stmts, st);
        for (int i = 0; !client_name && i < 4; i++) /* a skipped Parse's name */
            if (!strcmp(u->undone[i].server, server_name))
                client_name = u->undone[i].client;
    }
    if (!client_name)
        return false;
    char msg[600];
    snprintf(msg, sizeof(msg), "%.*s\"%s%s", (int)(q - e.message), e.message, client_name,
             close);
    e.message = msg;
    if (start > run)
        wire_buf_append(out, u->in.data + run, start - run);
    wire_put_error(out, &e);
    return true;
}

/* The server entered COPY FROM STDIN: until the client's CopyDone or
 * CopyFail it ignores Sync, so the Syncs the client sent after the Execute
 * that started the COPY (libpq sends one right after it) get no
 * ReadyForQuery; they are not counted, nor in the epochs after them. */
static void upstream_copy_in_started(proxy_upstream *u)
{
    u->copy_in = true;
    int k = u->syncs_since_exec;
    u->syncs_since_exec = 0;
    if (k <= 0)
        return;
    u->sent_z -= (uint32_t)k;
    u->pending -= k;
    uint32_t base = u->sent_z_at_exec;
    for (size_t i = 0; i < u->exp_len; i++) {
        proxy_expect *e = &u->exp[(u->exp_head + i) % u->exp_cap];
        if (e->epoch > base)
            e->epoch -= e->epoch - base < (uint32_t)k ? e->epoch - base : (uint32_t)k;
    }
    for (int i = 0; i < u->nsops; i++) {
        struct upstream_sop *o = &u->sops[i];
        if (o->epoch > base)
            o->epoch -= o->epoch - base < (uint32_t)k ? o->epoch - base : (uint32_t)k;
    }
}

/* The server's next message at u->in + off: 1, 0 when incomplete, -1 when
 * it is invalid (the connection has failed, reported). */
static int upstream_next_frame(proxy_upstream *u, size_t off, wire_frame *f)
{
    wire_frame_status fs =
        wire_frame_parse(u->in.data + off, u->in.len - off, UPSTREAM_MAX_MESSAGE, f);
    if (fs == WIRE_FRAME_INCOMPLETE)
        return 0;
    if (fs == WIRE_FRAME_OK)
        return 1;
    upstream_fail(u, WIRE_SQLSTATE_PROTOCOL_VIOLATION,
                  "invalid message from the upstream server %s", u->where);
    return -1;
}

static uint32_t get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* One reply to an auth_query: the first row's second column is the secret. */
static void upstream_lookup_reply(proxy_upstream *u, const wire_frame *f)
{
    if (f->type == 'E') {
        wire_error e;
        u->lookup_failed = true;
        snprintf(u->lookup_error, sizeof(u->lookup_error), "%s",
                 wire_error_parse(f, &e) && e.message ? e.message : "unreadable error");
        return;
    }
    if (f->type != 'D' || u->lookup_row || u->lookup_failed)
        return;
    u->lookup_row = true;
    const uint8_t *p = f->body, *end = f->body + f->body_len;
    int ncols = f->body_len >= 2 ? (p[0] << 8) | p[1] : 0;
    p += 2;
    for (int i = 0; i < ncols && i < 2; i++) {
        if (end - p < 4)
            break;
        uint32_t len = get_u32(p);
        p += 4;
        if (len == UINT32_MAX) { /* NULL */
            if (i == 1)
                return;
            continue;
        }
        if ((size_t)(end - p) < len)
            break;
        if (i == 1) {
            if (memchr(p, 0, len) || !(u->lookup_secret = malloc((size_t)len + 1)))
                break;
            memcpy(u->lookup_secret, p, len);
            u->lookup_secret[len] = '\0';
            return;
        }
        p += len;
    }
    u->lookup_failed = true;
    snprintf(u->lookup_error, sizeof(u->lookup_error),
             ncols < 2 ? "auth_query must return two columns (user name, password), not %d"
                       : "auth_query returned an unreadable row",
             ncols);
}

/* The replies in u->in: relayed to the linked client, except what answers
 * Dormouse's own messages; an unlinked server's are dropped. */
static void upstream_relay_replies(proxy_upstream *u)
{
    proxy_session *s = u->client;
    wire_buf *out = s ? &s->out : NULL;
    size_t off = 0, run = 0;
    bool untouched = true;
    int nready = 0;
    char tx = 0;
    bool barrier_lifted = false;
    static const uint8_t parse_complete[5] = {'1', 0, 0, 0, 4};

    for (;;) {
        wire_frame f;
        int got = upstream_next_frame(u, off, &f);
        if (got < 0)
            return;
        if (got == 0)
            break;
        size_t start = off;
        off += f.total_len;
        bool drop = false, as_parse = false;
        proxy_expect *h = exp_head(u);
        if (h && (h->kind == EXP_QUERY || h->kind == EXP_QUERY_STRICT) && h->epoch == u->recv_z) {
            /* our own query's replies; but what a settings sync changes in the
             * reported parameters (client_encoding, DateStyle, ...) the client
             * is told, as PostgreSQL tells it of its own SETs */
            drop = !(f.type == 'S' && h->kind == EXP_QUERY_STRICT);
            if (f.type == 'E') {
                wire_error e;
                if (wire_error_parse(&f, &e)) {
                    proxy_log(PROXY_LOG_WARNING, "S-%u: Dormouse's own query failed: %s %s",
                              u->id, e.sqlstate ? e.sqlstate : "", e.message ? e.message : "");
                    if (h->kind == EXP_QUERY_STRICT && !u->inject_failed) {
                        u->inject_failed = true;
                        wire_buf_reset(&u->error_frame);
                        wire_buf_append(&u->error_frame, u->in.data + start, f.total_len);
                        snprintf(u->sqlstate, sizeof(u->sqlstate), "%s",
                                 e.sqlstate ? e.sqlstate : WIRE_SQLSTATE_CONNECTION_FAILURE);
                        snprintf(u->message, sizeof(u->message), "%s",
                                 e.message ? e.message : "");
                    }
                }
            } else if (f.type == 'Z') {
                u->recv_z++;
                u->pending--;
                u->tx = f.body_len ? (char)f.body[0] : 'I';
                bool strict = h->kind == EXP_QUERY_STRICT;
                exp_pop(u, false);
                if (strict && u->inject_failed)
                    break; /* nothing after it may reach the client */
                if (strict && u->barrier) {
                    u->barrier = false; /* the client's settings hold: its messages may go */
                    if (s)
                        s->settings_proven = true;
                    barrier_lifted = true;
                }
            }
        } else {
            if (s)
                meter_upstream_frame(s, &f);
            switch (f.type) {
            case '1': {
                int k = exp_pop(u, false);
                drop = k == EXP_PARSE_INJ;
                break;
            }
            case '3': {
                int k = exp_pop(u, false);
                drop = k == EXP_CLOSE_INJ;
                as_parse = k == EXP_CLOSE_AS_PARSE;
                break;
            }
            case 'E':
                u->saw_error = true;
                if (out && s && upstream_error_names_ours(u, s, &f, out, start, run)) {
                    run = off;
                    untouched = false;
                }
                /* the server skips to Sync: this epoch's Parse and Close get no reply */
                while ((h = exp_head(u)) && h->epoch == u->recv_z && h->kind != EXP_QUERY && h->kind != EXP_QUERY_STRICT)
                    exp_pop(u, true);
                break;
            case 'C':
                /* the last command of a request says whether it rolled back
                 * (ROLLBACK, or COMMIT of a failed block; a ROLLBACK TO
                 * followed by COMMIT commits) */
                u->saw_rollback = f.body_len >= 9 && memcmp(f.body, "ROLLBACK", 9) == 0;
                break;
            case 'G': /* CopyInResponse */
                upstream_copy_in_started(u);
                break;
            case 'Z':
                if (u->nsops)
                    sops_due(u, !u->saw_error);
                u->recv_z++;
                u->pending--;
                u->tx = tx = f.body_len ? (char)f.body[0] : 'I';
                while ((h = exp_head(u)) && h->epoch < u->recv_z && h->kind != EXP_QUERY && h->kind != EXP_QUERY_STRICT)
                    exp_pop(u, true); /* stale: answered by nothing */
                nready++;
                if (s) {
                    meter_upstream_done(s); /* in the ledger before the client reads on */
                    pgpool_server_ready_for_query(u, tx);
                }
                u->saw_error = u->saw_rollback = false;
                break;
            default:
                break;
            }
        }
        if (u->lookup_for && !drop)
            upstream_lookup_reply(u, &f);
        if (!out)
            continue;
        if (drop || as_parse) {
            untouched = false;
            if (start > run)
                wire_buf_append(out, u->in.data + run, start - run);
            if (as_parse)
                wire_buf_append(out, parse_complete, sizeof(parse_complete));
            run = off;
        }
    }
    if (u->pending < 0)
        u->pending = 0;
    if (u->inject_failed) {
        /* The client's settings (or the reset) did not apply: neither may
         * the connection serve anyone, nor its client go on with another's. */
        if (out && off > run)
            wire_buf_append(out, u->in.data + run, off - run);
        wire_buf_consume(&u->in, off);
        pgpool_server_failed(u);
        return;
    }
    if (!out) {
        wire_buf_consume(&u->in, off);
        if (u->pending == 0 && u->lookup_for)
            pgpool_lookup_done(u);
        else if (u->pending == 0)
            pgpool_server_settled(u);
        return;
    }
    if (off == 0)
        return;
    if (untouched && off == u->in.len && out->len == 0) {
        /* The usual case: whole messages only, nothing waiting: trade buffers. */
        wire_buf tmp = *out;
        *out = u->in;
        u->in = tmp;
        wire_buf_reset(&u->in);
    } else {
        if (off > run)
            wire_buf_append(out, u->in.data + run, off - run);
        wire_buf_consume(&u->in, off);
    }
    session_on_upstream(s, PROXY_UPSTREAM_EV_RELAYED, nready, tx);
    if (u->state != PROXY_UPSTREAM_READY || u->client != s)
        return;
    if (barrier_lifted) {
        session_wake(s); /* the messages that waited for it */
        if (u->state != PROXY_UPSTREAM_READY || u->client != s)
            return;
    }
    pgpool_server_replies_done(u);
    if (u->client == s && s->out.len >= PROXY_OUTPUT_HIGH_WATER)
        ev_io_stop(upstream_loop(u), &u->rio); /* proxy_upstream_client_drained resumes */
}

/* Handles the complete messages in u->in. */
static void upstream_process(proxy_upstream *u)
{
    size_t off = 0;
    while (u->state == PROXY_UPSTREAM_LOGIN) {
        wire_frame f;
        int got = upstream_next_frame(u, off, &f);
        if (got < 0)
            return;
        if (got == 0)
            break;
        const uint8_t *frame = u->in.data + off;
        off += f.total_len;
        if (!upstream_login_message(u, frame, &f))
            break;
    }
    if (u->state == PROXY_UPSTREAM_CLOSED)
        return;
    wire_buf_consume(&u->in, off);
    if (u->state == PROXY_UPSTREAM_READY && u->in.len > 0)
        upstream_relay_replies(u);
}

static void upstream_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    proxy_upstream *u = container_of(w, proxy_upstream, rio);
    if (u->tls_phase == UPSTREAM_TLS_ASKED) {
        upstream_tls_answer(u);
        return;
    }
    if (u->tls_phase == UPSTREAM_TLS_HANDSHAKE) {
        upstream_tls_handshake(u);
        return;
    }
    server_buf_take(u->loop, &u->in);
    if (!wire_buf_reserve(&u->in, PROXY_READ_CHUNK)) {
        upstream_fail(u, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
        return;
    }
    ssize_t n = upstream_sock_read(u, u->in.data + u->in.len, u->in.cap - u->in.len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        if (u->in.len == 0)
            server_buf_give(u->loop, &u->in);
        return;
    }
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
    if (u->state == PROXY_UPSTREAM_CLOSED)
        return;
    if (u->in.len == 0)
        server_buf_give(u->loop, &u->in);
    if (proxy_tls_pending(u->tls) && ev_is_active(&u->rio))
        ev_feed_event(loop, &u->rio, EV_READ);
}

static void upstream_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    proxy_upstream *u = container_of(w, proxy_upstream, wio);
    if (u->state == PROXY_UPSTREAM_CONNECTING) {
        upstream_connected(u);
        return;
    }
    if (u->tls_phase == UPSTREAM_TLS_HANDSHAKE) {
        upstream_tls_handshake(u);
        return;
    }
    if (u->tls_read_wants_write) {
        u->tls_read_wants_write = false;
        ev_io_stop(loop, &u->wio);
        upstream_read_cb(loop, &u->rio, EV_READ);
        if (u->state == PROXY_UPSTREAM_CLOSED)
            return;
    }
    if (!upstream_flush(u))
        return;
    if (u->backlogged && u->out.len < PROXY_OUTPUT_HIGH_WATER) {
        u->backlogged = false;
        if (u->client)
            session_on_upstream(u->client, PROXY_UPSTREAM_EV_DRAINED, 0, 0);
    }
}

static void upstream_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    proxy_upstream *u = container_of(w, proxy_upstream, timer);
    upstream_fail(u, WIRE_SQLSTATE_CONNECTION_FAILURE,
                  "timeout connecting to the upstream server %s (server_connect_timeout %d s)",
                  u->where, u->server->cfg.server_connect_timeout);
}

/* ---- client -> server ---- */

static void emit_parse(proxy_upstream *u, const char *name, const uint8_t *rest, size_t len)
{
    size_t m = wire_msg_begin(&u->out, 'P');
    wire_buf_put_cstr(&u->out, name);
    wire_buf_append(&u->out, rest, len);
    wire_msg_end(&u->out, m);
}

static void emit_close_stmt(proxy_upstream *u, const char *name)
{
    size_t m = wire_msg_begin(&u->out, 'C');
    wire_buf_put_u8(&u->out, 'S');
    wire_buf_put_cstr(&u->out, name);
    wire_msg_end(&u->out, m);
}

static void emit_query(proxy_upstream *u, const char *sql, size_t len)
{
    size_t m = wire_msg_begin(&u->out, 'Q');
    wire_buf_append(&u->out, sql, len);
    wire_buf_put_u8(&u->out, 0);
    wire_msg_end(&u->out, m);
}

/* Records st as prepared here; an eviction Closes the least recently used. */
static void upstream_lru_add(proxy_upstream *u, proxy_stmt *st)
{
    proxy_stmt *evicted = NULL;
    if (!proxy_stmt_lru_add(&u->stmts, st, u->server->cfg.max_prepared_statements, &evicted)) {
        u->out.oom = true;
        return;
    }
    if (evicted) {
        emit_close_stmt(u, evicted->name);
        exp_push(u, EXP_CLOSE_INJ, evicted);
        proxy_stmt_unref(&u->loop->stmt_cache, evicted);
    }
}

/* After a DEALLOCATE or DISCARD the relay could not follow exactly (one in a
 * Parse, run whenever the client executes it), the server may or may not
 * still have a statement: a Close of it (a no-op when it has none) goes
 * before its Parse. */
static void upstream_close_if_unsure(proxy_upstream *u, proxy_stmt *st)
{
    if (!u->stmts_unsure)
        return;
    emit_close_stmt(u, st->name);
    exp_push(u, EXP_CLOSE_INJ, NULL);
}

/* The server must have st before a Bind or Describe names it. */
static void upstream_ensure(proxy_upstream *u, proxy_stmt *st)
{
    if (proxy_stmt_lru_touch(&u->stmts, st))
        return;
    upstream_lru_add(u, st);
    upstream_close_if_unsure(u, st);
    emit_parse(u, st->name, st->rest, st->rest_len);
    if (!exp_push(u, EXP_PARSE_INJ, st))
        u->out.oom = true;
}

void proxy_upstream_lookup(proxy_upstream *u, const char *sql, const char *user)
{
    u->lookup_row = u->lookup_failed = false;
    u->lookup_error[0] = '\0';
    free(u->lookup_secret);
    u->lookup_secret = NULL;
    size_t m = wire_msg_begin(&u->out, 'P'); /* the unnamed statement, $1 of unknown type */
    wire_buf_put_u8(&u->out, 0);
    wire_buf_put_cstr(&u->out, sql);
    wire_buf_put_u16(&u->out, 0);
    wire_msg_end(&u->out, m);
    m = wire_msg_begin(&u->out, 'B'); /* unnamed portal; $1 = user, text; text results */
    wire_buf_put_u8(&u->out, 0);
    wire_buf_put_u8(&u->out, 0);
    wire_buf_put_u16(&u->out, 0);
    wire_buf_put_u16(&u->out, 1);
    wire_buf_put_u32(&u->out, (uint32_t)strlen(user));
    wire_buf_append(&u->out, user, strlen(user));
    wire_buf_put_u16(&u->out, 0);
    wire_msg_end(&u->out, m);
    m = wire_msg_begin(&u->out, 'E');
    wire_buf_put_u8(&u->out, 0);
    wire_buf_put_u32(&u->out, 2); /* a second row would be ignored anyway */
    wire_msg_end(&u->out, m);
    m = wire_msg_begin(&u->out, 'S');
    wire_msg_end(&u->out, m);
    u->sent_z++;
    u->pending++;
    u->request_time = (time_t)ev_now(upstream_loop(u));
    upstream_flush(u);
}

void proxy_upstream_inject_query(proxy_upstream *u, const char *sql, size_t len)
{
    emit_query(u, sql, len);
    if (!exp_push(u, EXP_QUERY_STRICT, NULL))
        u->out.oom = true;
    u->sent_z++;
    u->pending++;
    if (u->state == PROXY_UPSTREAM_READY)
        upstream_flush(u);
}

/* A statement the server itself refuses, so the error arrives in order. */
static char *upstream_refusal(const char *sqlstate, const char *message)
{
    char *sql = NULL;
    if (asprintf(&sql,
                 "DO $dormouse$BEGIN RAISE EXCEPTION USING ERRCODE = '%s', MESSAGE = '%s'; "
                 "END$dormouse$",
                 sqlstate, message) < 0)
        return NULL;
    return sql;
}

/* ---- DEALLOCATE and DISCARD ALL in a Query: their effects on the client's
 * names and the server's statements come with the Query's ReadyForQuery,
 * and only if it reports no error (a DEALLOCATE in an aborted transaction,
 * a DISCARD ALL in a block, fail and change nothing) ---- */

static void sop_add(proxy_upstream *u, storage_sess_kind kind, const char *name, proxy_stmt *st,
                    bool on_server)
{
    if (u->nsops == u->sops_cap) {
        int cap = u->sops_cap ? u->sops_cap * 2 : 4;
        struct upstream_sop *v = realloc(u->sops, (size_t)cap * sizeof(*v));
        if (!v) {
            u->stmts_unsure = true; /* the bookkeeping is lost: be careful from now on */
            return;
        }
        u->sops = v;
        u->sops_cap = cap;
    }
    struct upstream_sop *o = &u->sops[u->nsops++];
    o->kind = kind;
    o->epoch = u->sent_z;
    o->name = name ? strdup(name) : NULL;
    o->st = st;
    o->on_server = on_server;
    if (st)
        proxy_stmt_ref(st);
}

/* A ReadyForQuery of epoch u->recv_z arrived: the effects due with it. */
static void sops_due(proxy_upstream *u, bool ok)
{
    proxy_stmt_cache *cache = &u->loop->stmt_cache;
    proxy_session *s = u->client;
    int done = 0;
    while (done < u->nsops && u->sops[done].epoch <= u->recv_z) {
        struct upstream_sop *o = &u->sops[done++];
        if (ok && o->epoch == u->recv_z) {
            if (o->kind == STORAGE_SESS_DEALLOCATE) {
                if (s && o->name && proxy_stmt_map_get(&s->stmts, o->name) == o->st)
                    proxy_stmt_map_del(&s->stmts, cache, o->name);
                if (o->on_server)
                    proxy_stmt_lru_del(&u->stmts, cache, o->st);
            } else { /* DEALLOCATE ALL, DISCARD ALL */
                if (s)
                    proxy_stmt_map_clear(&s->stmts, cache);
                proxy_stmt_lru_clear(&u->stmts, cache);
            }
        }
        free(o->name);
        proxy_stmt_unref(cache, o->st);
    }
    memmove(u->sops, u->sops + done, (size_t)(u->nsops - done) * sizeof(*u->sops));
    u->nsops -= done;
}

static void sops_free(proxy_upstream *u)
{
    for (int i = 0; i < u->nsops; i++) {
        free(u->sops[i].name);
        proxy_stmt_unref(&u->loop->stmt_cache, u->sops[i].st);
    }
    free(u->sops);
    u->sops = NULL;
    u->nsops = u->sops_cap = 0;
}

/* The server's name for a client's DEALLOCATE of st: st's own when the
 * server has it, else a stand-in prepared just before (a trivial statement
 * of a name never used again), so that the server answers DEALLOCATE. */
static const char *upstream_dealloc_target(proxy_upstream *u, proxy_stmt *st, char *buf,
                                           size_t len, bool *on_server)
{
    *on_server = proxy_stmt_lru_touch(&u->stmts, st);
    if (*on_server)
        return st->name;
    snprintf(buf, len, "DMS_d%u", ++u->next_temp_stmt);
    /* Parse and Sync, their replies dropped like those of our queries: a
     * failed Parse (in an aborted transaction) must not make the server
     * skip the client's Query while it waits for a Sync. */
    static const uint8_t select1[] = {'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', 0, 0, 0};
    static const uint8_t sync[5] = {'S', 0, 0, 0, 4};
    emit_parse(u, buf, select1, sizeof(select1)); /* query, no parameter types */
    wire_buf_append(&u->out, sync, sizeof(sync));
    if (!exp_push(u, EXP_QUERY, NULL))
        u->out.oom = true;
    u->sent_z++;
    u->pending++;
    return buf;
}

/* What a Query's or Parse's SQL means for pooling (s is the linked client).
 * Returns a replacement text (malloc'd) when a statement must be refused or
 * renamed, else NULL.  A Parse's statements run whenever the client executes
 * them, so what they do to prepared statements is not followed exactly: the
 * server's list becomes unsure (Close before each Parse from then on). */
static char *upstream_classify(proxy_upstream *u, proxy_session *s, pool_mode mode,
                               const char *sql, size_t len, bool in_parse)
{
    if (mode == POOL_MODE_SESSION || !storage_sess_candidate(sql, len))
        return NULL;
    storage_sess_stmt small[16], *v = small;
    int n = storage_sess_classify(sql, v, 16);
    if (n > 16) { /* a long script: every statement counts */
        v = malloc((size_t)n * sizeof(*v));
        if (!v || storage_sess_classify(sql, v, n) != n) {
            free(v == small ? NULL : v);
            return NULL;
        }
    }
    if (n <= 0)
        return NULL;
    bool remap = u->server->cfg.max_prepared_statements > 0;
    wire_buf spliced; /* the text with DEALLOCATE names replaced */
    wire_buf_init(&spliced);
    size_t copied = 0;
    char *replacement = NULL;
    for (int i = 0; i < n && !replacement; i++) {
        const char *text = sql + v[i].location;
        switch (v[i].kind) {
        case STORAGE_SESS_SET:
        case STORAGE_SESS_RESET:
        case STORAGE_SESS_RESET_ALL:
        case STORAGE_SESS_SAVEPOINT:
        case STORAGE_SESS_ROLLBACK_TO:
        case STORAGE_SESS_RELEASE:
            pgpool_record_op(s, v[i].kind, v[i].name, text, v[i].len);
            break;
        case STORAGE_SESS_DISCARD_ALL:
        case STORAGE_SESS_DEALLOCATE_ALL:
            if (v[i].kind == STORAGE_SESS_DISCARD_ALL)
                pgpool_record_op(s, STORAGE_SESS_RESET_ALL, "", "", 0);
            if (!remap)
                break;
            if (in_parse) {
                /* It may run now, later or never: the server's list becomes
                 * unknown (a Close goes before each Parse), and the client's
                 * names stay (its statements are Parsed again if need be). */
                u->stmts_unsure = true;
                proxy_stmt_lru_clear(&u->stmts, &u->loop->stmt_cache);
            } else {
                sop_add(u, v[i].kind, NULL, NULL, false);
            }
            break;
        case STORAGE_SESS_DEALLOCATE: {
            proxy_stmt *st = remap ? proxy_stmt_map_get(&s->stmts, v[i].name) : NULL;
            if (!st)
                break; /* the server answers for a name the client does not have */
            char buf[32], *target;
            bool on_server;
            if (in_parse) { /* as if it ran (see above) */
                u->stmts_unsure = true;
                proxy_stmt_ref(st);
                upstream_ensure(u, st);
                target = st->name;
                proxy_stmt_lru_del(&u->stmts, &u->loop->stmt_cache, st);
                proxy_stmt_map_del(&s->stmts, &u->loop->stmt_cache, v[i].name);
                wire_buf_append(&spliced, sql + copied, v[i].location - copied);
                wire_buf_append(&spliced, "DEALLOCATE \"", 12);
                wire_buf_append(&spliced, target, strlen(target));
                wire_buf_put_u8(&spliced, '"');
                copied = v[i].location + v[i].len;
                proxy_stmt_unref(&u->loop->stmt_cache, st);
                break;
            } else {
                target = (char *)upstream_dealloc_target(u, st, buf, sizeof(buf), &on_server);
                sop_add(u, STORAGE_SESS_DEALLOCATE, v[i].name, st, on_server);
            }
            wire_buf_append(&spliced, sql + copied, v[i].location - copied);
            wire_buf_append(&spliced, "DEALLOCATE \"", 12);
            wire_buf_append(&spliced, target, strlen(target));
            wire_buf_put_u8(&spliced, '"');
            copied = v[i].location + v[i].len;
            break;
        }
        case STORAGE_SESS_LISTEN:
            replacement = upstream_refusal(WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED,
                                           "LISTEN is not supported in transaction pooling mode: "
                                           "use a database with pool_mode=session");
            break;
        case STORAGE_SESS_BEGIN:
            if (mode == POOL_MODE_STATEMENT)
                replacement = upstream_refusal(
                    WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED,
                    "transaction blocks are not allowed in statement pooling mode");
            break;
        case STORAGE_SESS_TEMP:
        case STORAGE_SESS_HOLD_CURSOR:
        case STORAGE_SESS_PREPARE:
        case STORAGE_SESS_ADVISORY: {
            char msg[200];
            snprintf(msg, sizeof(msg),
                     "a %s outlives the transaction only on this server connection; in %s "
                     "pooling mode the next transaction may run on another one",
                     storage_sess_kind_str(v[i].kind), pool_mode_str(mode));
            wire_error e = {.severity = "WARNING", .sqlstate = "01000", .message = msg};
            wire_put_notice(&s->out, &e);
            break;
        }
        default:
            break;
        }
    }
    if (!replacement && copied > 0) {
        wire_buf_append(&spliced, sql + copied, len - copied);
        wire_buf_put_u8(&spliced, 0);
        if (!spliced.oom)
            replacement = strdup((const char *)spliced.data);
    }
    wire_buf_free(&spliced);
    if (v != small)
        free(v);
    return replacement;
}

/* Names of the DMS_ family are Dormouse's on the server. */
static bool upstream_reserved_name(const char *name)
{
    return strncmp(name, "DMS_", 4) == 0;
}

/* A Parse: named statements are renamed to the pool's (remap) and Parsed
 * here only when the server lacks them. */
static void relay_parse(proxy_upstream *u, proxy_session *s, pool_mode mode, bool remap,
                        const uint8_t *frame, const wire_frame *f)
{
    const uint8_t *b = f->body, *end = f->body + f->body_len;
    const uint8_t *nul = memchr(b, 0, f->body_len);
    const uint8_t *qnul = nul ? memchr(nul + 1, 0, (size_t)(end - nul - 1)) : NULL;
    if (!nul || !qnul) { /* malformed: the server says so */
        wire_buf_append(&u->out, frame, f->total_len);
        exp_push(u, EXP_PARSE, NULL);
        return;
    }
    const char *name = (const char *)b;
    const char *query = (const char *)nul + 1;
    char *replacement = upstream_classify(u, s, mode, query, (size_t)(qnul - nul - 1), true);
    const uint8_t *rest = nul + 1;
    size_t rest_len = (size_t)(end - rest);
    wire_buf tmp;
    wire_buf_init(&tmp);
    if (replacement) { /* the new query, the same parameter types */
        wire_buf_put_cstr(&tmp, replacement);
        wire_buf_append(&tmp, qnul + 1, (size_t)(end - qnul - 1));
        free(replacement);
        rest = tmp.data;
        rest_len = tmp.len;
        if (tmp.oom) {
            u->out.oom = true;
            wire_buf_free(&tmp);
            return;
        }
    }
    if (!name[0] && mode != POOL_MODE_SESSION) { /* kept for a Bind after a Sync */
        wire_buf_reset(&s->unnamed);
        wire_buf_append(&s->unnamed, rest, rest_len);
        s->unnamed_here = true;
    }
    if (!remap || !name[0]) {
        if (rest == nul + 1)
            wire_buf_append(&u->out, frame, f->total_len);
        else
            emit_parse(u, name, rest, rest_len);
        exp_push(u, EXP_PARSE, NULL);
        wire_buf_free(&tmp);
        return;
    }
    proxy_stmt_cache *cache = &u->loop->stmt_cache;
    proxy_stmt *old = proxy_stmt_map_get(&s->stmts, name);
    if (old) {
        /* A name in use: PostgreSQL refuses it (42P05).  The server refuses
         * its name for the statement; the error goes out with the client's. */
        upstream_ensure(u, old);
        emit_parse(u, old->name, rest, rest_len);
        wire_buf_free(&tmp);
        exp_push_named(u, EXP_PARSE_DUP, old, name);
        return;
    }
    proxy_stmt *st = proxy_stmt_intern(cache, rest, rest_len);
    wire_buf_free(&tmp);
    if (!st) {
        u->out.oom = true;
        return;
    }
    if (!proxy_stmt_map_put(&s->stmts, cache, name, st)) {
        proxy_stmt_unref(cache, st);
        u->out.oom = true;
        return;
    }
    if (proxy_stmt_lru_touch(&u->stmts, st)) {
        /* Prepared here already: a Close of nothing stands in, answered in order. */
        emit_close_stmt(u, UPSTREAM_NO_STMT);
        exp_push_named(u, EXP_CLOSE_AS_PARSE, st, name);
        return;
    }
    upstream_lru_add(u, st);
    upstream_close_if_unsure(u, st);
    emit_parse(u, st->name, st->rest, st->rest_len);
    exp_push_named(u, EXP_PARSE, st, name);
}

/* Bind or Describe of a named statement: the server's name for it. */
static void relay_named(proxy_upstream *u, proxy_session *s, const uint8_t *frame,
                        const wire_frame *f)
{
    const uint8_t *b = f->body, *end = f->body + f->body_len;
    const uint8_t *name = NULL, *after = NULL;
    if (f->type == 'B') {
        const uint8_t *pnul = memchr(b, 0, f->body_len);
        const uint8_t *snul = pnul ? memchr(pnul + 1, 0, (size_t)(end - pnul - 1)) : NULL;
        if (snul) {
            name = pnul + 1;
            after = snul + 1;
        }
    } else if (f->body_len >= 2 && b[0] == 'S' && memchr(b + 1, 0, f->body_len - 1)) {
        name = b + 1;
        after = end;
    }
    if (name && !name[0] && !s->unnamed_here && s->unnamed.len > 0) {
        /* The client's unnamed statement, Parsed on an earlier server: this
         * one may hold another client's. */
        emit_parse(u, "", s->unnamed.data, s->unnamed.len);
        exp_push(u, EXP_PARSE_INJ, NULL);
        s->unnamed_here = true;
    }
    proxy_stmt *st = name && name[0] ? proxy_stmt_map_get(&s->stmts, (const char *)name) : NULL;
    if (!st && name && upstream_reserved_name((const char *)name)) {
        /* A server-side name the client never prepared: it must not reach
         * another client's statement; the server reports it unknown. */
        size_t m = wire_msg_begin(&u->out, f->type);
        wire_buf_append(&u->out, b, (size_t)(name - b));
        wire_buf_append(&u->out, UPSTREAM_FOREIGN, strlen(UPSTREAM_FOREIGN));
        wire_buf_put_cstr(&u->out, (const char *)name);
        wire_buf_append(&u->out, after, (size_t)(end - after));
        wire_msg_end(&u->out, m);
        return;
    }
    if (!st) { /* unnamed, a portal, or a name the client never prepared: as it is */
        wire_buf_append(&u->out, frame, f->total_len);
        return;
    }
    upstream_ensure(u, st);
    size_t m = wire_msg_begin(&u->out, f->type);
    wire_buf_append(&u->out, b, (size_t)(name - b)); /* portal name, or 'S' */
    wire_buf_put_cstr(&u->out, st->name);
    wire_buf_append(&u->out, after, (size_t)(end - after));
    wire_msg_end(&u->out, m);
}

/* Close of a named statement: the client forgets the name; the server keeps
 * the statement for whoever else uses it, and answers a Close of the
 * client's name (which it does not know) with CloseComplete, in order. */
static void relay_close(proxy_upstream *u, proxy_session *s, bool remap, const uint8_t *frame,
                        const wire_frame *f)
{
    proxy_stmt_cache *cache = &u->loop->stmt_cache;
    const char *name = NULL;
    proxy_stmt *st = NULL;
    if (remap && f->body_len >= 2 && f->body[0] == 'S' && memchr(f->body + 1, 0, f->body_len - 1)) {
        name = (const char *)f->body + 1;
        st = proxy_stmt_map_get(&s->stmts, name);
    }
    if (st) {
        proxy_stmt_ref(st);
        proxy_stmt_map_del(&s->stmts, cache, name);
    }
    if (name && !st && upstream_reserved_name(name)) {
        emit_close_stmt(u, UPSTREAM_NO_STMT); /* not another client's statement */
    } else {
        wire_buf_append(&u->out, frame, f->total_len);
    }
    exp_push_named(u, EXP_CLOSE, st, st ? name : NULL);
    proxy_stmt_unref(cache, st);
}

proxy_relay_status proxy_upstream_relay_input(proxy_upstream *u, const uint8_t *in, size_t len,
                                              uint32_t max_size, size_t *used)
{
    proxy_session *s = u->client;
    pool_settings ps;
    pool_servers_settings(u->ps, &ps);
    bool remap = ps.mode != POOL_MODE_SESSION && u->server->cfg.max_prepared_statements > 0;
    size_t off = 0, run = 0;
    proxy_relay_status st = PROXY_RELAY_OK;
    while (off < len) {
        wire_frame f;
        wire_frame_status fs = wire_frame_parse(in + off, len - off, max_size, &f);
        if (fs == WIRE_FRAME_INCOMPLETE)
            break;
        if (fs != WIRE_FRAME_OK) {
            st = fs == WIRE_FRAME_TOO_LARGE ? PROXY_RELAY_TOO_LARGE : PROXY_RELAY_INVALID;
            break;
        }
        const uint8_t *frame = in + off;
        if (f.type == 'X') {
            st = PROXY_RELAY_TERMINATE;
            break;
        }
        bool as_is = true;
        switch (f.type) {
        case 'Q': {
            u->open = false;
            const char *sql = (const char *)f.body;
            if (f.body_len > 0 && f.body[f.body_len - 1] == 0) {
                meter_upstream_query(s, sql, f.body_len - 1);
                wire_buf_append(&u->out, in + run, off - run); /* what came before, first */
                run = off;
                char *replacement = upstream_classify(u, s, ps.mode, sql, f.body_len - 1, false);
                if (replacement) {
                    as_is = false;
                    emit_query(u, replacement, strlen(replacement));
                    free(replacement);
                }
            }
            u->sent_z++;
            u->pending++;
            u->syncs_since_exec = 0;
            u->sent_z_at_exec = u->sent_z;
            break;
        }
        case 'S':
            if (u->copy_in)
                break; /* ignored by a server in COPY FROM STDIN */
            u->syncs_since_exec++;
            __attribute__((fallthrough));
        case 'F':
            u->sent_z++;
            u->pending++;
            u->open = false;
            break;
        case 'E': /* Execute: it may start a COPY FROM STDIN */
            u->syncs_since_exec = 0;
            u->sent_z_at_exec = u->sent_z;
            u->open = true;
            break;
        case 'P': {
            /* name \0 query \0 ...: the query's text is metered */
            const char *name_end = memchr(f.body, 0, f.body_len);
            if (name_end) {
                const char *q = name_end + 1;
                const char *q_end = memchr(q, 0, f.body_len - (size_t)(q - (const char *)f.body));
                if (q_end)
                    meter_upstream_query(s, q, (size_t)(q_end - q));
            }
            as_is = false;
            wire_buf_append(&u->out, in + run, off - run);
            relay_parse(u, s, ps.mode, remap, frame, &f);
            u->open = true;
            break;
        }
        case 'B':
        case 'D':
            u->open = true;
            if (remap) {
                as_is = false;
                wire_buf_append(&u->out, in + run, off - run);
                relay_named(u, s, frame, &f);
            }
            break;
        case 'C':
            as_is = false;
            wire_buf_append(&u->out, in + run, off - run);
            relay_close(u, s, remap, frame, &f);
            u->open = true;
            break;
        case 'c': /* CopyDone, CopyFail: the COPY ends */
        case 'f':
            u->copy_in = false;
            break;
        case 'H': /* Flush */
        case 'd': /* CopyData: part of a running COPY */
            break;
        default:
            u->open = true;
            break;
        }
        off += f.total_len;
        if (!as_is)
            run = off;
    }
    wire_buf_append(&u->out, in + run, off - run);
    *used = off + (st == PROXY_RELAY_TERMINATE ? 5 : 0);
    if (u->out.oom)
        return PROXY_RELAY_OOM;
    if (off > 0)
        u->request_time = (time_t)ev_now(upstream_loop(u));
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
    if (u->state == PROXY_UPSTREAM_READY && u->client &&
        u->client->out.len < PROXY_OUTPUT_HIGH_WATER)
        upstream_watch_reads(u);
}

bool proxy_upstream_expecting(const proxy_upstream *u)
{
    return u->pending > 0 || u->open || u->copy_in;
}

bool proxy_upstream_quiet(const proxy_upstream *u)
{
    return u->state == PROXY_UPSTREAM_READY && !proxy_upstream_expecting(u) && u->tx == 'I' &&
           u->out.len == 0 && u->cancels_in_flight == 0;
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

static proxy_upstream *upstream_by_id(proxy_loop *l, uint32_t id)
{
    for (proxy_upstream *u = l->upstreams; u; u = u->all_next)
        if (u->id == id)
            return u;
    return NULL;
}

/* The cancel is done (PostgreSQL closed its connection, or it failed): the
 * server connection it held may go back to its pool. */
static void upstream_cancel_free(proxy_cancel_request *c)
{
    proxy_loop *l = c->loop;
    proxy_upstream *u = upstream_by_id(l, c->upstream_id);
    if (u && u->cancels_in_flight > 0 && --u->cancels_in_flight == 0 &&
        u->state == PROXY_UPSTREAM_READY && u->client)
        pgpool_server_replies_done(u);
    ev_io_stop(l->loop, &c->wio);
    ev_timer_stop(l->loop, &c->timer);
    if (c->fd >= 0)
        close(c->fd);
    if (c->prev)
        c->prev->next = c->next;
    else
        l->upstream_cancels = c->next;
    if (c->next)
        c->next->prev = c->prev;
    free(c);
}

/* A cancel arrives at the server whenever it arrives: by then the client's
 * query may have ended and the server may run another client's.  It goes
 * out only if the same client still holds that server with the same
 * request unanswered. */
static bool upstream_cancel_still_wanted(const proxy_cancel_request *c)
{
    const proxy_upstream *u = upstream_by_id(c->loop, c->upstream_id);
    return u && u->state == PROXY_UPSTREAM_READY && u->client && u->client->id == c->client_id &&
           u->recv_z < c->due;
}

/* PostgreSQL closes a cancel connection once it has signalled the backend:
 * until then the server connection is not handed to another client. */
static void upstream_cancel_read_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    proxy_cancel_request *c = container_of(w, proxy_cancel_request, wio);
    uint8_t b[64];
    ssize_t n = read(c->fd, b, sizeof(b));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    upstream_cancel_free(c);
}

static void upstream_cancel_write_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    proxy_cancel_request *c = container_of(w, proxy_cancel_request, wio);
    int soerr = 0;
    socklen_t sl = sizeof(soerr);
    if (!upstream_cancel_still_wanted(c)) {
        proxy_log(PROXY_LOG_DEBUG, "cancel request dropped: the query it was for has ended");
    } else if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0) {
        /* 16 bytes on a fresh socket: they fit at once, or the cancel is lost. */
        ssize_t n = write(c->fd, c->msg, sizeof(c->msg));
        if (n == (ssize_t)sizeof(c->msg)) {
            ev_io_stop(loop, &c->wio);
            ev_io_init(&c->wio, upstream_cancel_read_cb, c->fd, EV_READ);
            ev_io_start(loop, &c->wio);
            return; /* the timer still bounds the wait */
        }
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
    proxy_loop *l = u->loop;
    if (u->state != PROXY_UPSTREAM_READY)
        return;
    proxy_cancel_request *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    c->loop = l;
    c->upstream_id = u->id;
    c->client_id = u->client ? u->client->id : 0;
    c->due = u->sent_z;
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
    c->next = l->upstream_cancels;
    if (c->next)
        c->next->prev = c;
    l->upstream_cancels = c;
    u->cancels_in_flight++;
    ev_io_init(&c->wio, upstream_cancel_write_cb, c->fd, EV_WRITE);
    ev_io_start(l->loop, &c->wio);
    ev_timer_init(&c->timer, upstream_cancel_timer_cb,
                  (double)u->server->cfg.server_connect_timeout, 0.);
    ev_timer_start(l->loop, &c->timer);
}

void proxy_upstream_cancels_free(proxy_loop *l)
{
    while (l->upstream_cancels)
        upstream_cancel_free(l->upstream_cancels);
}
