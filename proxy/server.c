/*
 * The server: `workers` libev loops (threads).  Loop 0 accepts; a session
 * moves to its database's home loop once its StartupMessage names the
 * database (server_db_home), so that a database's clients, pools and server
 * connections are all on one loop and need no locks.  Loop 0 also runs the signals, the timers and the admin
 * console; for work that spans loops it takes every loop's lock
 * (server_world_lock).  See proxy_loop in internal.h.
 *
 * Engine workers finish jobs on their own threads; their `done` callback
 * (server_job_done) only pushes the job on a locked list and wakes the loop
 * with ev_async; the loop then gives each job back to its session.
 *
 * Idle backends: a session that ends gives its backend back to the pool
 * (reset, then parked).  Once a second the pool timer asks the pool which
 * idle backends are past their limits (sqlite_pool_size, server_idle_timeout,
 * server_lifetime) and closes each with a CLOSE job of its own
 * (server_backend_close); no session owns those jobs, so they come back on a
 * list of their own.
 *
 * Shutdown (SIGTERM/SIGINT): stop accepting; idle sessions are told 57P01 and
 * closed; sessions with a running statement close after it finishes and its
 * result is sent; the pool drains: idle backends are closed at once and no
 * backend is parked any more.  Once every session is freed and every backend
 * closed, the loop ends and the engine drains and stops.  A second signal
 * interrupts running statements.  SIGHUP reloads the configuration file.
 */
#include "internal.h"
#include "serverless/serverless.h"
#include "hba.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <xxhash.h>

static void server_close_listeners(proxy_server *srv)
{
    if (srv->loop)
        ev_timer_stop(srv->loop, &srv->accept_pause);
    for (int i = 0; i < srv->nlisteners; i++) {
        proxy_listener *l = &srv->listeners[i];
        if (l->fd < 0)
            continue;
        if (srv->loop)
            ev_io_stop(srv->loop, &l->io);
        close(l->fd);
        l->fd = -1;
        if (l->is_unix)
            unlink(l->path);
    }
}

/* Out of descriptors: the pending connections stay in the listen queue
 * for a tenth of a second instead of waking the loop at once, again and
 * again. */
static void server_accept_resume_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    proxy_server *srv = container_of(w, proxy_server, accept_pause);
    for (int i = 0; i < srv->nlisteners; i++)
        if (srv->listeners[i].fd >= 0)
            ev_io_start(loop, &srv->listeners[i].io);
}

static void server_accept_pause(proxy_server *srv, int err)
{
    if (ev_now(srv->loop) - srv->accept_logged >= 10.0) {
        srv->accept_logged = ev_now(srv->loop);
        proxy_log(PROXY_LOG_WARNING, "cannot accept connections: %s (ulimit -n, max_client_conn)",
                  strerror(err));
    }
    for (int i = 0; i < srv->nlisteners; i++)
        ev_io_stop(srv->loop, &srv->listeners[i].io);
    ev_timer_stop(srv->loop, &srv->accept_pause);
    ev_timer_set(&srv->accept_pause, 0.1, 0.);
    ev_timer_start(srv->loop, &srv->accept_pause);
}

/* Loop 0 accepts for every loop: each loop woken for each connection would
 * cost more than handing the client to its database's home loop. */
static void server_accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    proxy_listener *l = container_of(w, proxy_listener, io);
    for (int i = 0; i < 64; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        int fd = accept4(l->fd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            if (errno == ECONNABORTED)
                continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                server_accept_pause(l->server, errno);
                return;
            }
            proxy_log(PROXY_LOG_WARNING, "accept failed: %s", strerror(errno));
            return;
        }
        session_accept(l->server, fd, (struct sockaddr *)&ss, sl, l->is_unix);
    }
}

static bool server_listen_tcp(proxy_server *srv, char *err, size_t errlen)
{
    const char *host = srv->cfg.listen_addr;
    char port[16];
    struct addrinfo hints, *res = NULL;

    if (!host[0])
        return true;
    if (strcmp(host, "*") == 0)
        host = NULL;
    snprintf(port, sizeof(port), "%d", srv->cfg.listen_port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, errlen, "listen_addr %s: %s", srv->cfg.listen_addr, gai_strerror(rc));
        return false;
    }
    for (struct addrinfo *ai = res; ai && srv->nlisteners < PROXY_MAX_LISTENERS - 1;
         ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        /* accept() once the client has sent something (it speaks first):
         * its first message is read at once, without a trip round the loop */
        int defer = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 1024) < 0) {
            snprintf(err, errlen, "cannot listen on %s:%d: %s", srv->cfg.listen_addr,
                     srv->cfg.listen_port, strerror(errno));
            close(fd);
            freeaddrinfo(res);
            return false;
        }
        proxy_listener *l = &srv->listeners[srv->nlisteners++];
        l->fd = fd;
        l->server = srv;
        l->is_unix = false;
        char hostbuf[NI_MAXHOST];
        getnameinfo(ai->ai_addr, ai->ai_addrlen, hostbuf, sizeof(hostbuf), NULL, 0,
                    NI_NUMERICHOST);
        proxy_log(PROXY_LOG_INFO, "listening on %s:%d", hostbuf, srv->cfg.listen_port);
    }
    freeaddrinfo(res);
    return true;
}

static bool server_listen_unix(proxy_server *srv, char *err, size_t errlen)
{
    struct sockaddr_un sun;
    if (!srv->cfg.unix_socket_dir[0])
        return true;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    int n = snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/.s.PGSQL.%d",
                     srv->cfg.unix_socket_dir, srv->cfg.listen_port);
    if (n < 0 || (size_t)n >= sizeof(sun.sun_path)) {
        snprintf(err, errlen, "unix_socket_dir is too long for a socket path");
        return false;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return false;
    }
    /* A stale socket file from a crashed run is removed only if nobody answers on it. */
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0) {
        snprintf(err, errlen, "%s is in use by another server", sun.sun_path);
        close(fd);
        return false;
    }
    close(fd);
    unlink(sun.sun_path);
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 1024) < 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", sun.sun_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return false;
    }
    chmod(sun.sun_path, 0777);
    proxy_listener *l = &srv->listeners[srv->nlisteners++];
    l->fd = fd;
    l->server = srv;
    l->is_unix = true;
    snprintf(l->path, sizeof(l->path), "%s", sun.sun_path);
    proxy_log(PROXY_LOG_INFO, "listening on unix:%s", sun.sun_path);
    return true;
}

/* Wakes loop l (any thread). */
static void server_wake(proxy_loop *l)
{
    ev_async_send(l->loop, &l->wake);
}

/* Any thread: appends job to one of l's inbox lists and wakes l. */
static void server_job_push(proxy_loop *l, storage_job **head, storage_job **tail,
                            storage_job *job)
{
    job->next = NULL;
    pthread_mutex_lock(&l->inbox_lock);
    if (*tail)
        (*tail)->next = job;
    else
        *head = job;
    *tail = job;
    pthread_mutex_unlock(&l->inbox_lock);
    server_wake(l);
}

/* Worker thread: hand the job back to its session's loop. */
static void server_job_done(storage_job *job)
{
    proxy_loop *l = ((proxy_session *)job->udata)->loop;
    server_job_push(l, &l->jobs_done_head, &l->jobs_done_tail, job);
}

void server_submit_job(proxy_session *s, storage_job *job)
{
    job->done = server_job_done;
    storage_job_submit(s->server->sqlite, job);
}

/* The CLOSE job of an idle backend that the pool expired; it comes back on
 * its database's home loop. */
typedef struct server_backend_close_job {
    storage_job job;
    pool_db *db;
    proxy_loop *loop;
} server_backend_close_job;

/* Worker thread: hand the finished CLOSE back to the loop. */
static void server_backend_job_done(storage_job *job)
{
    proxy_loop *l = container_of(job, server_backend_close_job, job)->loop;
    server_job_push(l, &l->backend_jobs_done_head, &l->backend_jobs_done_tail, job);
}

/* pool_expire's receiver (world lock): closes an idle backend on a worker. */
static void server_backend_close(pool_db *db, storage_conn *c, void *arg)
{
    proxy_server *srv = arg;
    server_backend_close_job *bc = calloc(1, sizeof(*bc));
    if (!bc) {
        /* No job to close it with: free it here, which closes the handle on
         * the loop thread (a short block, better than a leak). */
        proxy_log(PROXY_LOG_ERROR, "out of memory closing an idle backend of %s",
                  pool_db_name(db));
        pool_backend_release(db, c);
        return;
    }
    bc->db = db;
    bc->loop = server_db_home(srv, pool_db_name(db));
    bc->job.kind = STORAGE_JOB_CLOSE;
    bc->job.conn = c;
    bc->job.done = server_backend_job_done;
    wire_buf_init(&bc->job.out);
    bc->loop->backend_closes++;
    storage_job_submit(srv->sqlite, &bc->job);
}

/* Gives the closed backends back to the pool. */
static void server_backend_jobs_finish(proxy_loop *l)
{
    pthread_mutex_lock(&l->inbox_lock);
    storage_job *job = l->backend_jobs_done_head;
    l->backend_jobs_done_head = l->backend_jobs_done_tail = NULL;
    pthread_mutex_unlock(&l->inbox_lock);
    while (job) {
        storage_job *next = job->next;
        server_backend_close_job *bc = container_of(job, server_backend_close_job, job);
        pool_backend_release(bc->db, job->conn);
        wire_buf_free(&job->out);
        free(bc);
        l->backend_closes--;
        job = next;
    }
}

static void server_pool_expire(proxy_server *srv)
{
    int n = pool_expire(srv->pool, server_backend_close, srv);
    if (n > 0)
        proxy_log(PROXY_LOG_DEBUG, "closing %d idle backend%s", n, n == 1 ? "" : "s");
    n = pool_pause_idle(srv->pool, server_backend_close, pgpool_pause_db, srv);
    if (n > 0) {
        proxy_log(PROXY_LOG_DEBUG, "pausing %d idle database%s", n, n == 1 ? "" : "s");
        srv->trim_pending = true; /* once their closes have run */
    }
}

void server_pause_due(proxy_server *srv)
{
    session_release_idle(srv);
    server_pool_expire(srv);
}

/* World lock: no client, nothing in flight, nothing open. */
static bool server_at_zero(proxy_server *srv)
{
    if (srv->shutting_down || server_sessions_first(srv) || server_upstreams_first(srv))
        return false;
    for (int k = 0; k < srv->nloops; k++) {
        proxy_loop *l = &srv->loops[k];
        if (l->backend_closes > 0 || l->upstream_cancels)
            return false;
    }
    return pool_at_zero(srv->pool);
}

static void server_pool_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    proxy_server *srv = container_of(w, proxy_server, pool_timer);
    live_read_memory(srv);
    server_world_lock(srv);
    /* what paused databases freed goes back to the system once their closes
     * have all run (glibc keeps freed memory in its arenas otherwise) */
    bool closing = false;
    for (int k = 0; k < srv->nloops; k++)
        closing = closing || srv->loops[k].backend_closes > 0;
    bool trim = srv->trim_pending && !closing;
    if (trim)
        srv->trim_pending = false;
    session_release_idle(srv);
    server_pool_expire(srv);
    pgpool_tick(srv);
    session_enforce_timeouts(srv);
    bool zero = server_at_zero(srv);
    meter_activity(srv, zero); /* before the process sleeps, the last of the active time */
    live_tick(srv);
    server_world_unlock(srv);
    if (trim || zero)
        malloc_trim(0);
    if (zero) {
        /* Nothing to watch until a client comes (session_accept wakes the
         * timers): the process sleeps. */
        ev_timer_stop(loop, &srv->pool_timer);
        proxy_stats_timer_stop(srv);
        proxy_log(PROXY_LOG_INFO, "every database is paused and no client is connected: "
                                  "sleeping until the next connection");
    }
}

void server_timers_wake(proxy_server *srv)
{
    if (ev_is_active(&srv->pool_timer) || srv->shutting_down)
        return;
    ev_timer_set(&srv->pool_timer, 1.0, 1.0);
    ev_timer_start(srv->loop, &srv->pool_timer);
    proxy_stats_timer_start(srv);
}

/* Every upstream database named in [databases] exists from the start (no
 * connection yet), so that SHOW DATABASES lists it as PgBouncer does. */
static void server_known_databases(proxy_server *srv)
{
    char err[256];
    for (int i = 0; i < srv->cfg.ndatabases; i++) {
        const pool_db_rule *r = &srv->cfg.databases[i];
        if (r->engine == STORAGE_POSTGRES && strcmp(r->name, "*") != 0)
            pool_db_get(srv->pool, r->name, err, sizeof(err));
    }
}

static void server_pool_limits(proxy_server *srv)
{
    pool_limits l = {
        .idle_max = srv->cfg.sqlite_pool_size,
        .idle_timeout_us = (uint64_t)srv->cfg.server_idle_timeout * 1000000u,
        .lifetime_us = (uint64_t)srv->cfg.server_lifetime * 1000000u,
        .mode = srv->cfg.pool_mode,
        .pool_size = srv->cfg.default_pool_size,
        .min_pool_size = srv->cfg.min_pool_size,
        .reserve_pool = srv->cfg.reserve_pool_size,
        .reserve_timeout_us = (uint64_t)srv->cfg.reserve_pool_timeout * 1000000u,
        .max_db_connections = srv->cfg.max_db_connections,
        .query_wait_timeout_us = (uint64_t)srv->cfg.query_wait_timeout * 1000000u,
        .login_retry_us = (uint64_t)srv->cfg.server_login_retry * 1000000u,
        .pause_after_us = (uint64_t)srv->cfg.idle_timeout * 1000000u,
        .min_active_us = (uint64_t)srv->cfg.min_active_seconds * 1000000u,
    };
    pool_set_limits(srv->pool, &l);
}

/* A CancelRequest handed to another loop. */
typedef struct proxy_cancel_msg {
    uint32_t pid, key;
    char peer[56];
    struct proxy_cancel_msg *next;
} proxy_cancel_msg;

static void server_wake_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    proxy_loop *l = container_of(w, proxy_loop, wake);
    pthread_mutex_lock(&l->inbox_lock);
    storage_job *job = l->jobs_done_head;
    l->jobs_done_head = l->jobs_done_tail = NULL;
    proxy_session *migrants = l->migrants;
    l->migrants = NULL;
    proxy_cancel_msg *cancels = l->cancels;
    l->cancels = NULL;
    pthread_mutex_unlock(&l->inbox_lock);
    while (migrants) {
        proxy_session *s = migrants;
        migrants = s->zombie_next;
        s->zombie_next = NULL;
        session_adopt(s);
    }
    meter_jobs_early(job); /* the usage of all of them in one write(2) */
    while (job) {
        storage_job *next = job->next;
        session_on_job_done(job->udata, job);
        job = next;
    }
    while (cancels) {
        proxy_cancel_msg *c = cancels;
        cancels = c->next;
        session_cancel_local(l, c->pid, c->key, c->peer);
        free(c);
    }
    server_backend_jobs_finish(l);
}

void server_migrate(proxy_session *s, proxy_loop *to)
{
    s->loop = to;
    pthread_mutex_lock(&to->inbox_lock);
    s->zombie_next = to->migrants;
    to->migrants = s;
    pthread_mutex_unlock(&to->inbox_lock);
    server_wake(to);
}

void server_broadcast_cancel(proxy_server *srv, proxy_loop *from, uint32_t pid, uint32_t key,
                             const char *peer)
{
    for (int k = 0; k < srv->nloops; k++) {
        proxy_loop *l = &srv->loops[k];
        if (l == from)
            continue;
        proxy_cancel_msg *c = calloc(1, sizeof(*c));
        if (!c)
            continue;
        c->pid = pid;
        c->key = key;
        snprintf(c->peer, sizeof(c->peer), "%s", peer);
        pthread_mutex_lock(&l->inbox_lock);
        c->next = l->cancels;
        l->cancels = c;
        pthread_mutex_unlock(&l->inbox_lock);
        server_wake(l);
    }
}

proxy_loop *server_db_home(proxy_server *srv, const char *database)
{
    if (srv->nloops <= 1 || !database || admin_db_is_console(database) ||
        (srv->pool && pool_name_managed(srv->pool, database)))
        return &srv->loops[0]; /* (loop 0 alone watches child processes) */
    return &srv->loops[XXH3_64bits(database, strlen(database)) % (uint64_t)srv->nloops];
}

void server_world_lock(proxy_server *srv)
{
    for (int k = 1; k < srv->nloops; k++)
        pthread_mutex_lock(&srv->loops[k].lock);
}

void server_world_unlock(proxy_server *srv)
{
    for (int k = srv->nloops - 1; k >= 1; k--) {
        pthread_mutex_unlock(&srv->loops[k].lock);
        server_wake(&srv->loops[k]);
    }
}

/* The head of the first non-empty list at offset `off` of loops k, k+1, ...
 * (NULL: none). */
static void *server_list_from(proxy_server *srv, int k, size_t off)
{
    for (; k < srv->nloops; k++) {
        void *head = *(void **)((char *)&srv->loops[k] + off);
        if (head)
            return head;
    }
    return NULL;
}

proxy_session *server_sessions_first(proxy_server *srv)
{
    return server_list_from(srv, 0, offsetof(proxy_loop, sessions));
}

proxy_session *server_sessions_next(proxy_server *srv, proxy_session *s)
{
    return s->next ? s->next
                   : server_list_from(srv, s->loop->index + 1, offsetof(proxy_loop, sessions));
}

proxy_upstream *server_upstreams_first(proxy_server *srv)
{
    return server_list_from(srv, 0, offsetof(proxy_loop, upstreams));
}

proxy_upstream *server_upstreams_next(proxy_server *srv, proxy_upstream *u)
{
    return u->all_next
               ? u->all_next
               : server_list_from(srv, u->loop->index + 1, offsetof(proxy_loop, upstreams));
}

#define SERVER_SPARE_MAX 128           /* spare buffers kept per loop */
#define SERVER_SPARE_BIG (256u * 1024u) /* larger ones are freed */

void server_buf_take(proxy_loop *l, wire_buf *b)
{
    if (b->cap > 0 || l->nspare == 0)
        return;
    l->nspare--;
    b->data = l->spare_bufs[l->nspare];
    b->cap = l->spare_caps[l->nspare];
    b->len = 0;
}

void server_buf_give(proxy_loop *l, wire_buf *b)
{
    if (b->len > 0 || b->cap == 0)
        return;
    if (b->cap > SERVER_SPARE_BIG || b->oom) {
        wire_buf_free(b);
        return;
    }
    if (l->nspare == l->spare_cap) {
        if (l->spare_cap >= SERVER_SPARE_MAX) {
            wire_buf_free(b);
            return;
        }
        int cap = l->spare_cap ? l->spare_cap * 2 : 64;
        uint8_t **v = realloc(l->spare_bufs, (size_t)cap * sizeof(*v));
        if (!v) {
            wire_buf_free(b);
            return;
        }
        l->spare_bufs = v;
        size_t *c = realloc(l->spare_caps, (size_t)cap * sizeof(*c));
        if (!c) {
            wire_buf_free(b);
            return;
        }
        l->spare_caps = c;
        l->spare_cap = cap;
    }
    l->spare_bufs[l->nspare] = b->data;
    l->spare_caps[l->nspare] = b->cap;
    l->nspare++;
    wire_buf_init(b);
}

void server_session_closed(proxy_session *s)
{
    s->zombie_next = s->loop->zombies;
    s->loop->zombies = s;
}

/* Runs after each loop iteration's callbacks: frees sessions closed during them. */
static void server_reaper_cb(struct ev_loop *loop, ev_check *w, int revents)
{
    proxy_loop *l = container_of(w, proxy_loop, reaper);
    proxy_server *srv = l->server;
    while (l->zombies) {
        proxy_session *s = l->zombies;
        l->zombies = s->zombie_next;
        session_free(s);
    }
    proxy_upstream_reap(l);
    if (!srv->shutting_down || l->sessions || l->backend_closes > 0 || l->upstreams)
        return;
    pthread_mutex_lock(&l->inbox_lock);
    bool inbox = l->migrants || l->jobs_done_head || l->backend_jobs_done_head;
    pthread_mutex_unlock(&l->inbox_lock);
    if (inbox)
        return; /* the wake-up comes */
    if (l->index > 0) {
        ev_break(loop, EVBREAK_ALL);
        return;
    }
    if (__atomic_load_n(&srv->loops_running, __ATOMIC_ACQUIRE) == 0 &&
        pool_idle_backends(srv->pool) == 0) {
        proxy_log(PROXY_LOG_INFO, "all clients are gone; shutting down");
        ev_break(loop, EVBREAK_ALL);
    }
}

void proxy_server_shutdown(proxy_server *srv)
{
    srv->shutdown_signals++;
    if (srv->shutting_down) {
        /* Second request: stop waiting for running statements. */
        proxy_log(PROXY_LOG_INFO, "immediate shutdown: interrupting running statements");
        for (proxy_session *s = server_sessions_first(srv); s; s = server_sessions_next(srv, s)) {
            if (s->backend)
                storage_conn_interrupt(s->backend);
            if (s->upstream && s->state == SESSION_BUSY)
                proxy_upstream_cancel(s->upstream);
        }
        pgpool_close_servers(srv, NULL);
        return;
    }
    srv->shutting_down = true;
    proxy_log(PROXY_LOG_INFO, "shutting down: no new connections; running statements finish");
    server_close_listeners(srv);
    proxy_session *s = server_sessions_first(srv);
    while (s) {
        proxy_session *next = server_sessions_next(srv, s);
        session_shutdown(s);
        s = next;
    }
    /* Idle backends close now; those of the sessions still here after them. */
    pool_drain(srv->pool);
    server_pool_expire(srv);
    pgpool_close_servers(srv, NULL); /* idle upstream servers; busy ones when released */
}

bool server_reload(proxy_server *srv, char *err, size_t errlen)
{
    proxy_config cfg;
    proxy_log(PROXY_LOG_INFO, "reloading %s", srv->cfg.config_file[0] ?
              srv->cfg.config_file : "(no configuration file)");
    if (!proxy_config_load(&cfg, srv->cfg.config_file[0] ? srv->cfg.config_file : NULL,
                           &srv->ov, err, errlen)) {
        proxy_log(PROXY_LOG_ERROR, "reload failed, keeping the old configuration: %s", err);
        return false;
    }
    proxy_userlist *users = NULL;
    if (cfg.auth_file[0]) {
        users = proxy_userlist_load(cfg.auth_file, err, errlen);
        if (!users) {
            proxy_log(PROXY_LOG_ERROR, "reload failed, keeping the old configuration: %s", err);
            return false;
        }
    }
    proxy_tls *tls = proxy_tls_new(&cfg, err, errlen);
    proxy_hba *hba = NULL;
    if (!tls || (cfg.auth_hba_file[0] && !(hba = proxy_hba_load(cfg.auth_hba_file, err, errlen)))) {
        proxy_log(PROXY_LOG_ERROR, "reload failed, keeping the old configuration: %s", err);
        proxy_userlist_free(users);
        proxy_tls_free(tls);
        return false;
    }
    if (strcmp(cfg.listen_addr, srv->cfg.listen_addr) != 0 ||
        cfg.listen_port != srv->cfg.listen_port ||
        strcmp(cfg.unix_socket_dir, srv->cfg.unix_socket_dir) != 0 ||
        strcmp(cfg.data_dir, srv->cfg.data_dir) != 0 || strcmp(cfg.cold_dir, srv->cfg.cold_dir) != 0 ||
        cfg.sqlite_workers != srv->cfg.sqlite_workers || cfg.workers != srv->cfg.workers)
        proxy_log(PROXY_LOG_WARNING, "listen addresses, data_dir, cold_dir, workers and "
                                     "sqlite_workers change only on restart");
    /* Keep what cannot change without a restart. */
    snprintf(cfg.listen_addr, sizeof(cfg.listen_addr), "%s", srv->cfg.listen_addr);
    cfg.listen_port = srv->cfg.listen_port;
    snprintf(cfg.unix_socket_dir, sizeof(cfg.unix_socket_dir), "%s", srv->cfg.unix_socket_dir);
    snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", srv->cfg.data_dir);
    snprintf(cfg.cold_dir, sizeof(cfg.cold_dir), "%s", srv->cfg.cold_dir);
    snprintf(cfg.http_listen, sizeof(cfg.http_listen), "%s", srv->cfg.http_listen);
    snprintf(cfg.sql_http_listen, sizeof(cfg.sql_http_listen), "%s", srv->cfg.sql_http_listen);
    cfg.http_listen_set = srv->cfg.http_listen_set;
    cfg.sqlite_workers = srv->cfg.sqlite_workers;
    cfg.workers = srv->cfg.workers;
    cfg.stats_period = srv->cfg.stats_period; /* the timer keeps its period */
    cfg.metering = srv->cfg.metering;         /* the ledger is opened at start */
    if (srv->ledger) {
        int64_t day = 86400LL * 1000000;
        storage_ledger_set_retention(srv->ledger, cfg.usage_minute_days * day,
                                     cfg.usage_retention_days * day);
    }
    proxy_userlist_free(srv->users);
    srv->users = users;
    proxy_tls_free(srv->tls); /* connections under way keep their context */
    srv->tls = tls;
    proxy_hba_free(srv->hba); /* (no loop runs: nobody is matching against it) */
    srv->hba = hba;
    srv->cfg = cfg;
    proxy_log_set_level(cfg.log_level);
    pool_set_rules(srv->pool, cfg.databases, cfg.ndatabases);
    server_known_databases(srv);
    server_pool_limits(srv); /* the pool timer closes what is now over them */
    proxy_log(PROXY_LOG_INFO, "configuration reloaded (%d users in the auth file)",
              proxy_userlist_count(users));
    return true;
}

static void server_signal_cb(struct ev_loop *loop, ev_signal *w, int revents)
{
    proxy_server *srv = w->data;
    server_world_lock(srv);
    if (w->signum == SIGHUP) {
        char err[512];
        proxy_log(PROXY_LOG_INFO, "SIGHUP");
        server_reload(srv, err, sizeof(err));
    } else {
        proxy_log(PROXY_LOG_INFO, "received %s", w->signum == SIGTERM ? "SIGTERM" : "SIGINT");
        proxy_server_shutdown(srv);
    }
    server_world_unlock(srv);
}

/* libev calls these around its wait for events: the loop's lock is let go
 * only there. */
static void server_loop_release(struct ev_loop *loop)
{
    proxy_loop *l = ev_userdata(loop);
    pthread_mutex_unlock(&l->lock);
}

static void server_loop_acquire(struct ev_loop *loop)
{
    proxy_loop *l = ev_userdata(loop);
    pthread_mutex_lock(&l->lock);
}

static bool server_loop_init(proxy_server *srv, int k, char *err, size_t errlen)
{
    proxy_loop *l = &srv->loops[k];
    l->server = srv;
    l->index = k;
    l->ledger_w = srv->ledger ? storage_ledger_writer_get(srv->ledger, k) : NULL;
    pthread_mutex_init(&l->lock, NULL);
    pthread_mutex_init(&l->inbox_lock, NULL);
    proxy_stmt_cache_init(&l->stmt_cache);
    l->loop = k == 0 ? ev_default_loop(EVFLAG_AUTO) : ev_loop_new(EVFLAG_AUTO);
    if (!l->loop) {
        snprintf(err, errlen, "cannot initialise event loop %d", k);
        return false;
    }
    ev_set_userdata(l->loop, l);
    ev_set_loop_release_cb(l->loop, server_loop_release, server_loop_acquire);
    ev_async_init(&l->wake, server_wake_cb);
    ev_async_start(l->loop, &l->wake);
    ev_check_init(&l->reaper, server_reaper_cb);
    ev_check_start(l->loop, &l->reaper);
    return true;
}

static void *server_loop_thread(void *arg)
{
    proxy_loop *l = arg;
    pthread_mutex_lock(&l->lock);
    ev_run(l->loop, 0);
    pthread_mutex_unlock(&l->lock);
    __atomic_sub_fetch(&l->server->loops_running, 1, __ATOMIC_ACQ_REL);
    server_wake(&l->server->loops[0]); /* loop 0 may be waiting for the last one */
    return NULL;
}

proxy_server *proxy_server_new(const proxy_config *cfg, const proxy_config_overrides *ov,
                               char *err, size_t errlen)
{
    proxy_server *srv = calloc(1, sizeof(*srv));
    if (!srv) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    srv->cfg = *cfg;
    if (ov)
        srv->ov = *ov;
    for (int i = 0; i < PROXY_MAX_LISTENERS; i++)
        srv->listeners[i].fd = -1;
    srv->next_session_id = 1;
    srv->start_time = time(NULL);
    admin_server_init(srv);
    srv->stats = proxy_stats_new(proxy_stats_now_us());
    if (!srv->stats || !live_init(srv)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    proxy_log_set_level(cfg->log_level);
    signal(SIGPIPE, SIG_IGN);

    if (cfg->auth_file[0]) {
        srv->users = proxy_userlist_load(cfg->auth_file, err, errlen);
        if (!srv->users)
            goto fail;
    }
    srv->tls = proxy_tls_new(cfg, err, errlen);
    if (!srv->tls)
        goto fail;
    if (cfg->auth_hba_file[0] && !(srv->hba = proxy_hba_load(cfg->auth_hba_file, err, errlen)))
        goto fail;
    if (mkdir(cfg->data_dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create data_dir %s: %s", cfg->data_dir, strerror(errno));
        goto fail;
    }
    if (cfg->cold_dir[0] && mkdir(cfg->cold_dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create cold_dir %s: %s", cfg->cold_dir, strerror(errno));
        goto fail;
    }
    storage_options so = {
        .cold_dir = cfg->cold_dir,
        .data_dir = cfg->data_dir,
        .workers = cfg->sqlite_workers,
        .busy_timeout_ms = cfg->sqlite_busy_timeout_ms,
        .synchronous_full = cfg->sqlite_synchronous_full,
        .metering = cfg->metering,
    };
    srv->sqlite = storage_engine_new(&so, err, errlen);
    if (!srv->sqlite)
        goto fail;
    int n = cfg->workers; /* event loops */
    if (n <= 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        n = cores > 0 ? (int)cores : 1;
    }
    if (n > PROXY_MAX_WORKERS)
        n = PROXY_MAX_WORKERS;
    if (cfg->metering) { /* a journal writer per loop */
        srv->ledger = storage_ledger_open(cfg->data_dir, n, err, errlen);
        if (!srv->ledger)
            goto fail;
        int64_t day = 86400LL * 1000000;
        storage_ledger_set_retention(srv->ledger, cfg->usage_minute_days * day,
                                     cfg->usage_retention_days * day);
    }
    if (!quota_open(srv, err, errlen))
        goto fail;
    if (!limits_init(srv)) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    srv->pool = pool_new(srv->sqlite);
    if (!srv->pool) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    pool_set_rules(srv->pool, cfg->databases, cfg->ndatabases);
    server_known_databases(srv);
    server_pool_limits(srv);

    if (!server_listen_tcp(srv, err, errlen) || !server_listen_unix(srv, err, errlen))
        goto fail;
    if (srv->nlisteners == 0) {
        snprintf(err, errlen, "nothing to listen on: set listen_addr or unix_socket_dir");
        goto fail;
    }
    for (int k = 0; k < n; k++) {
        srv->nloops = k + 1;
        if (!server_loop_init(srv, k, err, errlen))
            goto fail;
    }
    srv->loop = srv->loops[0].loop;
    for (int i = 0; i < srv->nlisteners; i++) {
        ev_io_init(&srv->listeners[i].io, server_accept_cb, srv->listeners[i].fd, EV_READ);
        ev_io_start(srv->loop, &srv->listeners[i].io);
    }
    meter_server_init(srv);
    if (!http_start(srv, err, errlen) || !sqlhttp_start(srv, err, errlen))
        goto fail;
    ev_timer_init(&srv->accept_pause, server_accept_resume_cb, 0.1, 0.);
    ev_timer_init(&srv->pool_timer, server_pool_timer_cb, 1.0, 1.0);
    ev_timer_start(srv->loop, &srv->pool_timer);
    ev_signal_init(&srv->sigterm, server_signal_cb, SIGTERM);
    ev_signal_init(&srv->sigint, server_signal_cb, SIGINT);
    ev_signal_init(&srv->sighup, server_signal_cb, SIGHUP);
    srv->sigterm.data = srv->sigint.data = srv->sighup.data = srv;
    ev_signal_start(srv->loop, &srv->sigterm);
    ev_signal_start(srv->loop, &srv->sigint);
    ev_signal_start(srv->loop, &srv->sighup);
    proxy_stats_timer_start(srv);
    return srv;
fail:
    proxy_server_free(srv);
    return NULL;
}

int proxy_server_run(proxy_server *srv)
{
    proxy_log(PROXY_LOG_INFO,
              "dormouse %s ready: data_dir %s, auth_type %s, %d event loop%s, %d SQLite workers",
              DORMOUSE_VERSION, srv->cfg.data_dir, proxy_auth_type_str(srv->cfg.auth_type),
              srv->nloops, srv->nloops == 1 ? "" : "s", srv->cfg.sqlite_workers);
    proxy_loop *l0 = &srv->loops[0];
    pthread_mutex_lock(&l0->lock);
    for (int k = 1; k < srv->nloops; k++) {
        proxy_loop *l = &srv->loops[k];
        __atomic_add_fetch(&srv->loops_running, 1, __ATOMIC_ACQ_REL);
        if (pthread_create(&l->thread, NULL, server_loop_thread, l) != 0) {
            __atomic_sub_fetch(&srv->loops_running, 1, __ATOMIC_ACQ_REL);
            proxy_log(PROXY_LOG_ERROR, "cannot start event loop %d: %s", k, strerror(errno));
            srv->exit_status = 1;
            break;
        }
        l->thread_started = true;
    }
    if (srv->exit_status == 0)
        ev_run(l0->loop, 0);
    pthread_mutex_unlock(&l0->lock);
    if (srv->exit_status != 0) {
        /* the loops that did start end once they are told to shut down */
        pthread_mutex_lock(&l0->lock);
        server_world_lock(srv);
        proxy_server_shutdown(srv);
        server_world_unlock(srv);
        pthread_mutex_unlock(&l0->lock);
    }
    for (int k = 1; k < srv->nloops; k++) {
        if (srv->loops[k].thread_started) {
            pthread_join(srv->loops[k].thread, NULL);
            srv->loops[k].thread_started = false;
        }
    }
    return srv->exit_status;
}

void proxy_server_free(proxy_server *srv)
{
    if (!srv)
        return;
    server_close_listeners(srv);
    /* Sessions still here (run() ended early): close them and let the engine
     * finish their jobs before anything is freed. */
    for (proxy_session *s = server_sessions_first(srv); s; s = server_sessions_next(srv, s))
        if (s->backend)
            storage_conn_interrupt(s->backend);
    /* The active time up to now, while the engine is there to size the
     * databases' files (a database never opened has no file: the cold
     * tier's path comes from the engine). */
    if (srv->pool && srv->nloops > 0)
        meter_activity(srv, true);
    storage_engine_free(srv->sqlite); /* drains every submitted job */
    srv->sqlite = NULL;
    for (int k = 0; k < srv->nloops; k++) {
        proxy_loop *l = &srv->loops[k];
        server_backend_jobs_finish(l);
        for (proxy_upstream *u = l->upstreams; u; u = u->all_next) {
            if (u->client)
                u->client->upstream = NULL;
            u->client = NULL;
            if (l->loop)
                proxy_upstream_close(u);
        }
        if (l->loop)
            proxy_upstream_reap(l);
    }
    for (int k = 0; k < srv->nloops; k++)
        meter_flush(&srv->loops[k]);
    storage_ledger_close(srv->ledger); /* answers pending reads, drains the journal */
    srv->ledger = NULL;
    meter_server_free(srv);
    quota_close(srv);
    limits_free(srv);
    http_stop(srv);
    sqlhttp_stop(srv);
    managed_shutdown_all(srv);
    pool_free(srv->pool);
    proxy_userlist_free(srv->users);
    proxy_tls_free(srv->tls);
    proxy_hba_free(srv->hba);
    if (srv->loop) {
        ev_timer_stop(srv->loop, &srv->pool_timer);
        ev_signal_stop(srv->loop, &srv->sigterm);
        ev_signal_stop(srv->loop, &srv->sigint);
        ev_signal_stop(srv->loop, &srv->sighup);
        proxy_stats_timer_stop(srv);
    }
    admin_server_free(srv);
    for (int k = 0; k < srv->nloops; k++) {
        proxy_loop *l = &srv->loops[k];
        if (l->loop) {
            ev_async_stop(l->loop, &l->wake);
            ev_check_stop(l->loop, &l->reaper);
            proxy_upstream_cancels_free(l);
            if (k > 0)
                ev_loop_destroy(l->loop);
        }
        proxy_stmt_cache_free(&l->stmt_cache);
        while (l->cancels) {
            proxy_cancel_msg *c = l->cancels;
            l->cancels = c->next;
            free(c);
        }
        for (int i = 0; i < l->nspare; i++)
            free(l->spare_bufs[i]);
        free(l->spare_bufs);
        meter_loop_free(l);
        free(l->spare_caps);
        pthread_mutex_destroy(&l->lock);
        pthread_mutex_destroy(&l->inbox_lock);
    }
    proxy_stats_free(srv->stats);
    live_free(srv);
    free(srv);
}
