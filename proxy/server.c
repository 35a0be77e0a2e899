/*
 * The server: one libev loop that owns the listening sockets, every client
 * socket, the signal watchers and the hand-back of finished engine jobs.
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

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static void server_close_listeners(proxy_server *srv)
{
    if (srv->loop)
        ev_timer_stop(srv->loop, &srv->accept_pause);
    for (int i = 0; i < srv->nlisteners; i++) {
        proxy_listener *l = &srv->listeners[i];
        if (l->fd < 0)
            continue;
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

/* Worker thread: hand the job back to the loop. */
static void server_job_done(storage_job *job)
{
    proxy_session *s = job->udata;
    proxy_server *srv = s->server;
    job->next = NULL;
    pthread_mutex_lock(&srv->jobs_lock);
    if (srv->jobs_done_tail)
        srv->jobs_done_tail->next = job;
    else
        srv->jobs_done_head = job;
    srv->jobs_done_tail = job;
    pthread_mutex_unlock(&srv->jobs_lock);
    ev_async_send(srv->loop, &srv->jobs_async);
}

void server_submit_job(proxy_server *srv, storage_job *job)
{
    job->done = server_job_done;
    storage_job_submit(srv->sqlite, job);
}

/* The CLOSE job of an idle backend that the pool expired. */
typedef struct server_backend_close_job {
    storage_job job;
    pool_db *db;
    proxy_server *srv;
} server_backend_close_job;

/* Worker thread: hand the finished CLOSE back to the loop. */
static void server_backend_job_done(storage_job *job)
{
    proxy_server *srv = container_of(job, server_backend_close_job, job)->srv;
    job->next = NULL;
    pthread_mutex_lock(&srv->jobs_lock);
    if (srv->backend_jobs_done_tail)
        srv->backend_jobs_done_tail->next = job;
    else
        srv->backend_jobs_done_head = job;
    srv->backend_jobs_done_tail = job;
    pthread_mutex_unlock(&srv->jobs_lock);
    ev_async_send(srv->loop, &srv->jobs_async);
}

/* pool_expire's receiver: closes an idle backend on a worker. */
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
    bc->srv = srv;
    bc->job.kind = STORAGE_JOB_CLOSE;
    bc->job.conn = c;
    bc->job.done = server_backend_job_done;
    wire_buf_init(&bc->job.out);
    srv->backend_closes++;
    storage_job_submit(srv->sqlite, &bc->job);
}

/* Gives the closed backends back to the pool. */
static void server_backend_jobs_finish(proxy_server *srv)
{
    pthread_mutex_lock(&srv->jobs_lock);
    storage_job *job = srv->backend_jobs_done_head;
    srv->backend_jobs_done_head = srv->backend_jobs_done_tail = NULL;
    pthread_mutex_unlock(&srv->jobs_lock);
    while (job) {
        storage_job *next = job->next;
        server_backend_close_job *bc = container_of(job, server_backend_close_job, job);
        pool_backend_release(bc->db, job->conn);
        wire_buf_free(&job->out);
        free(bc);
        srv->backend_closes--;
        job = next;
    }
}

static void server_pool_expire(proxy_server *srv)
{
    int n = pool_expire(srv->pool, server_backend_close, srv);
    if (n > 0)
        proxy_log(PROXY_LOG_DEBUG, "closing %d idle backend%s", n, n == 1 ? "" : "s");
}

static void server_pool_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    proxy_server *srv = container_of(w, proxy_server, pool_timer);
    session_release_idle(srv);
    server_pool_expire(srv);
    pgpool_tick(srv);
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
    };
    pool_set_limits(srv->pool, &l);
}

static void server_jobs_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    proxy_server *srv = container_of(w, proxy_server, jobs_async);
    pthread_mutex_lock(&srv->jobs_lock);
    storage_job *job = srv->jobs_done_head;
    srv->jobs_done_head = srv->jobs_done_tail = NULL;
    pthread_mutex_unlock(&srv->jobs_lock);
    while (job) {
        storage_job *next = job->next;
        session_on_job_done(job->udata, job);
        job = next;
    }
    server_backend_jobs_finish(srv);
}

#define SERVER_SPARE_MAX 128           /* spare buffers kept */
#define SERVER_SPARE_BIG (256u * 1024u) /* larger ones are freed */

void server_buf_take(proxy_server *srv, wire_buf *b)
{
    if (b->cap > 0 || srv->nspare == 0)
        return;
    srv->nspare--;
    b->data = srv->spare_bufs[srv->nspare];
    b->cap = srv->spare_caps[srv->nspare];
    b->len = 0;
}

void server_buf_give(proxy_server *srv, wire_buf *b)
{
    if (b->len > 0 || b->cap == 0)
        return;
    if (b->cap > SERVER_SPARE_BIG || b->oom) {
        wire_buf_free(b);
        return;
    }
    if (srv->nspare == srv->spare_cap) {
        if (srv->spare_cap >= SERVER_SPARE_MAX) {
            wire_buf_free(b);
            return;
        }
        int cap = srv->spare_cap ? srv->spare_cap * 2 : 64;
        uint8_t **v = realloc(srv->spare_bufs, (size_t)cap * sizeof(*v));
        if (!v) {
            wire_buf_free(b);
            return;
        }
        srv->spare_bufs = v;
        size_t *c = realloc(srv->spare_caps, (size_t)cap * sizeof(*c));
        if (!c) {
            wire_buf_free(b);
            return;
        }
        srv->spare_caps = c;
        srv->spare_cap = cap;
    }
    srv->spare_bufs[srv->nspare] = b->data;
    srv->spare_caps[srv->nspare] = b->cap;
    srv->nspare++;
    wire_buf_init(b);
}

void server_session_closed(proxy_server *srv, proxy_session *s)
{
    s->zombie_next = srv->zombies;
    srv->zombies = s;
}

/* Runs after each loop iteration's callbacks: frees sessions closed during them. */
static void server_reaper_cb(struct ev_loop *loop, ev_check *w, int revents)
{
    proxy_server *srv = container_of(w, proxy_server, reaper);
    while (srv->zombies) {
        proxy_session *s = srv->zombies;
        srv->zombies = s->zombie_next;
        session_free(s);
    }
    proxy_upstream_reap(srv);
    if (srv->shutting_down && !srv->sessions && srv->backend_closes == 0 &&
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
        for (proxy_session *s = srv->sessions; s; s = s->next) {
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
    proxy_session *s = srv->sessions;
    while (s) {
        proxy_session *next = s->next;
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
    if (strcmp(cfg.listen_addr, srv->cfg.listen_addr) != 0 ||
        cfg.listen_port != srv->cfg.listen_port ||
        strcmp(cfg.unix_socket_dir, srv->cfg.unix_socket_dir) != 0 ||
        strcmp(cfg.data_dir, srv->cfg.data_dir) != 0 ||
        cfg.sqlite_workers != srv->cfg.sqlite_workers)
        proxy_log(PROXY_LOG_WARNING, "listen addresses, data_dir and sqlite_workers change "
                                     "only on restart");
    /* Keep what cannot change without a restart. */
    snprintf(cfg.listen_addr, sizeof(cfg.listen_addr), "%s", srv->cfg.listen_addr);
    cfg.listen_port = srv->cfg.listen_port;
    snprintf(cfg.unix_socket_dir, sizeof(cfg.unix_socket_dir), "%s", srv->cfg.unix_socket_dir);
    snprintf(cfg.data_dir, sizeof(cfg.data_dir), "%s", srv->cfg.data_dir);
    cfg.sqlite_workers = srv->cfg.sqlite_workers;
    cfg.stats_period = srv->cfg.stats_period; /* the timer keeps its period */
    proxy_userlist_free(srv->users);
    srv->users = users;
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
    if (w->signum == SIGHUP) {
        char err[512];
        proxy_log(PROXY_LOG_INFO, "SIGHUP");
        server_reload(srv, err, sizeof(err));
        return;
    }
    proxy_log(PROXY_LOG_INFO, "received %s", w->signum == SIGTERM ? "SIGTERM" : "SIGINT");
    proxy_server_shutdown(srv);
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
    pthread_mutex_init(&srv->jobs_lock, NULL);
    srv->next_session_id = 1;
    srv->start_time = time(NULL);
    admin_server_init(srv);
    srv->stats = proxy_stats_new(proxy_stats_now_us());
    if (!srv->stats) {
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
    if (mkdir(cfg->data_dir, 0700) < 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create data_dir %s: %s", cfg->data_dir, strerror(errno));
        goto fail;
    }
    storage_options so = {
        .data_dir = cfg->data_dir,
        .workers = cfg->sqlite_workers,
        .busy_timeout_ms = cfg->sqlite_busy_timeout_ms,
        .synchronous_full = cfg->sqlite_synchronous_full,
    };
    srv->sqlite = storage_engine_new(&so, err, errlen);
    if (!srv->sqlite)
        goto fail;
    srv->pool = pool_new(srv->sqlite);
    if (!srv->pool) {
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    pool_set_rules(srv->pool, cfg->databases, cfg->ndatabases);
    server_known_databases(srv);
    server_pool_limits(srv);

    srv->loop = ev_default_loop(EVFLAG_AUTO);
    if (!srv->loop) {
        snprintf(err, errlen, "cannot initialise the event loop");
        goto fail;
    }
    if (!server_listen_tcp(srv, err, errlen) || !server_listen_unix(srv, err, errlen))
        goto fail;
    if (srv->nlisteners == 0) {
        snprintf(err, errlen, "nothing to listen on: set listen_addr or unix_socket_dir");
        goto fail;
    }
    for (int i = 0; i < srv->nlisteners; i++) {
        ev_io_init(&srv->listeners[i].io, server_accept_cb, srv->listeners[i].fd, EV_READ);
        ev_io_start(srv->loop, &srv->listeners[i].io);
    }
    ev_timer_init(&srv->accept_pause, server_accept_resume_cb, 0.1, 0.);
    ev_async_init(&srv->jobs_async, server_jobs_cb);
    ev_async_start(srv->loop, &srv->jobs_async);
    ev_check_init(&srv->reaper, server_reaper_cb);
    ev_check_start(srv->loop, &srv->reaper);
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
    proxy_log(PROXY_LOG_INFO, "dormouse %s ready: data_dir %s, auth_type %s, %d SQLite workers",
              DORMOUSE_VERSION, srv->cfg.data_dir, proxy_auth_type_str(srv->cfg.auth_type),
              srv->cfg.sqlite_workers);
    ev_run(srv->loop, 0);
    return srv->exit_status;
}

void proxy_server_free(proxy_server *srv)
{
    if (!srv)
        return;
    server_close_listeners(srv);
    /* Sessions still here (run() ended early): close them and let the engine
     * finish their jobs before anything is freed. */
    for (proxy_session *s = srv->sessions; s; s = s->next)
        if (s->backend)
            storage_conn_interrupt(s->backend);
    storage_engine_free(srv->sqlite); /* drains every submitted job */
    srv->sqlite = NULL;
    server_backend_jobs_finish(srv);
    for (proxy_upstream *u = srv->upstreams; u; u = u->all_next) {
        if (u->client)
            u->client->upstream = NULL;
        u->client = NULL;
        if (srv->loop)
            proxy_upstream_close(u);
    }
    if (srv->loop)
        proxy_upstream_reap(srv);
    pool_free(srv->pool);
    proxy_stmt_cache_free(&srv->stmt_cache);
    proxy_userlist_free(srv->users);
    if (srv->loop) {
        ev_async_stop(srv->loop, &srv->jobs_async);
        ev_check_stop(srv->loop, &srv->reaper);
        ev_timer_stop(srv->loop, &srv->pool_timer);
        ev_timer_stop(srv->loop, &srv->accept_pause);
        ev_signal_stop(srv->loop, &srv->sigterm);
        ev_signal_stop(srv->loop, &srv->sigint);
        ev_signal_stop(srv->loop, &srv->sighup);
        proxy_stats_timer_stop(srv);
    }
    if (srv->loop)
        proxy_upstream_cancels_free(srv);
    admin_server_free(srv);
    proxy_stats_free(srv->stats);
    for (int i = 0; i < srv->nspare; i++)
        free(srv->spare_bufs[i]);
    free(srv->spare_bufs);
    free(srv->spare_caps);
    pthread_mutex_destroy(&srv->jobs_lock);
    free(srv);
}
