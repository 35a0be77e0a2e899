/*
 * Managed PostgreSQL servers on the loop: the proxy side of storage_pgm.
 *
 * A database whose line has managed_datadir lives on loop 0 (its home), the
 * default loop, which alone can watch child processes (libev reaps them
 * there).  Its server is started when a client waits for a server connection
 * and none may be opened because the server is down (pgpool_dispatch calls
 * managed_want), stopped once the database has paused (pgpool_pause_db calls
 * managed_stop), restarted when it dies while the database is in use, and
 * stopped, waiting for it, when Dormouse exits.  A start that fails is
 * reported to every client waiting for it, with the server's own reason;
 * the next client tries again (not sooner than server_login_retry).
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct proxy_managed {
    proxy_server *srv;
    pool_db *db;
    storage_pgm *m;       /* NULL: it cannot be run at all (err says why) */
    char err[512];
    ev_child child;
    ev_timer poll;        /* readiness, while it starts */
    ev_timer fail;        /* fails the waiting clients outside the call that found out */
    ev_timer retry;       /* a restart after a crash that failed: tried again shortly */
    double failed_at;     /* ev_now of the last failed start; 0: none */
    double crash_at;      /* of the last crash */
    proxy_managed *next;  /* srv->managed */
};

/* The readiness poll: postmaster.pid is read this often while starting. */
#define MANAGED_POLL_S 0.002

static void managed_changed(proxy_managed *mg);
static void managed_start(proxy_managed *mg);

/* Right after a crash the dead server's backends may still hold its shared
 * memory, and the restart fail: it is tried again every half second for
 * ten seconds. */
#define MANAGED_CRASH_RETRY_S 0.5
#define MANAGED_CRASH_WINDOW_S 10.0

static void managed_retry_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    proxy_managed *mg = container_of(w, proxy_managed, retry);
    if (!mg->srv->shutting_down && pool_db_get_state(mg->db) != POOL_DB_PAUSED)
        managed_start(mg);
}

static void managed_watch(proxy_managed *mg, pid_t pid)
{
    if (pid <= 0)
        return;
    ev_child_stop(mg->srv->loop, &mg->child);
    ev_child_set(&mg->child, pid, 0);
    ev_child_start(mg->srv->loop, &mg->child);
    if (storage_pgm_get_state(mg->m) == STORAGE_PGM_STARTING && !ev_is_active(&mg->poll))
        ev_timer_start(mg->srv->loop, &mg->poll);
}

static void managed_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
    proxy_managed *mg = container_of(w, proxy_managed, child);
    ev_child_stop(loop, w);
    storage_pgm_state before = storage_pgm_get_state(mg->m);
    pid_t next = storage_pgm_child_exited(mg->m, w->rpid, w->rstatus);
    managed_watch(mg, next);
    if (storage_pgm_get_state(mg->m) != before || storage_pgm_crashed(mg->m))
        managed_changed(mg);
}

static void managed_poll_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    proxy_managed *mg = container_of(w, proxy_managed, poll);
    storage_pgm_state st = storage_pgm_get_state(mg->m);
    if (st != STORAGE_PGM_STARTING) {
        ev_timer_stop(loop, w);
        return;
    }
    if (storage_pgm_poll_ready(mg->m) || storage_pgm_get_state(mg->m) != STORAGE_PGM_STARTING) {
        ev_timer_stop(loop, w);
        managed_changed(mg);
    }
}

static void managed_fail_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    proxy_managed *mg = container_of(w, proxy_managed, fail);
    char msg[1400];
    snprintf(msg, sizeof(msg), "database \"%s\" could not be resumed: its PostgreSQL server did "
             "not start: %s", pool_db_name(mg->db), mg->m ? storage_pgm_error(mg->m) : mg->err);
    pgpool_fail_waiters(mg->srv, mg->db, WIRE_SQLSTATE_CONNECTION_FAILURE, msg);
}

/* The clients waiting for db's server learn why it did not start, from the
 * loop (not from within a dispatch that one of them may be running). */
static void managed_fail_soon(proxy_managed *mg)
{
    if (!ev_is_active(&mg->fail))
        ev_timer_start(mg->srv->loop, &mg->fail);
}

static proxy_managed *managed_find(proxy_server *srv, const pool_db *db)
{
    for (proxy_managed *mg = srv->managed; mg; mg = mg->next)
        if (mg->db == db)
            return mg;
    return NULL;
}

/* The managed server of db, made on first use; NULL (with a message) when
 * it cannot be run at all. */
static proxy_managed *managed_get(proxy_server *srv, pool_db *db)
{
    proxy_managed *mg = managed_find(srv, db);
    if (mg)
        return mg;
    const pool_upstream *up = pool_db_upstream(db);
    storage_pgm_options o;
    memset(&o, 0, sizeof(o));
    snprintf(o.datadir, sizeof(o.datadir), "%s", up->managed_datadir);
    snprintf(o.bindir, sizeof(o.bindir), "%s", srv->cfg.managed_bindir);
    snprintf(o.os_user, sizeof(o.os_user), "%s", up->managed_os_user);
    o.initdb = up->managed_initdb;
    o.port = up->port;
    snprintf(o.superuser, sizeof(o.superuser), "%s", up->user[0] ? up->user : up->managed_os_user);
    snprintf(o.dbname, sizeof(o.dbname), "%s", up->dbname[0] ? up->dbname : pool_db_name(db));
    char log_path[PATH_MAX + 96];
    snprintf(log_path, sizeof(log_path), "%s/%s.postgres.log", srv->cfg.data_dir, pool_db_name(db));
    memcpy(o.log_path, log_path, sizeof(o.log_path) - 1); /* (truncated: refused below) */
    mg = calloc(1, sizeof(*mg));
    if (!mg)
        return NULL;
    mg->srv = srv;
    mg->db = db;
    if (strlen(log_path) >= sizeof(o.log_path))
        snprintf(mg->err, sizeof(mg->err), "the log path %.400s... is too long", log_path);
    else
        mg->m = storage_pgm_new(&o, mg->err, sizeof(mg->err));
    if (!mg->m)
        proxy_log(PROXY_LOG_WARNING, "database \"%s\": %s", pool_db_name(db), mg->err);
    ev_child_init(&mg->child, managed_child_cb, 0, 0);
    ev_timer_init(&mg->poll, managed_poll_cb, MANAGED_POLL_S, MANAGED_POLL_S);
    ev_timer_init(&mg->fail, managed_fail_cb, 0, 0);
    ev_timer_init(&mg->retry, managed_retry_cb, MANAGED_CRASH_RETRY_S, 0);
    mg->next = srv->managed;
    srv->managed = mg;
    return mg;
}

static void managed_start(proxy_managed *mg)
{
    storage_pgm_state before = storage_pgm_get_state(mg->m);
    pid_t pid = storage_pgm_start(mg->m);
    if (pid > 0 && before != STORAGE_PGM_STARTING)
        proxy_log(PROXY_LOG_INFO, "database \"%s\": starting its PostgreSQL server (%s, pid %d)",
                  pool_db_name(mg->db), storage_pgm_get_options(mg->m)->datadir, (int)pid);
    managed_watch(mg, pid);
    if (storage_pgm_get_state(mg->m) == STORAGE_PGM_FAILED)
        managed_changed(mg); /* the waiting clients learn it from the loop */
}

static void managed_changed(proxy_managed *mg)
{
    proxy_server *srv = mg->srv;
    pool_db *db = mg->db;
    storage_pgm *m = mg->m;
    switch (storage_pgm_get_state(m)) {
    case STORAGE_PGM_READY:
        proxy_log(PROXY_LOG_INFO, "database \"%s\": its PostgreSQL server is ready (pid %d, "
                  "started in %.1f ms)", pool_db_name(db), (int)storage_pgm_pid(m),
                  (double)storage_pgm_start_us(m) / 1000.0);
        mg->failed_at = 0;
        pool_db_set_engine_ready(db, true);
        pgpool_dispatch_db(srv, db);
        break;
    case STORAGE_PGM_FAILED:
        pool_db_set_engine_ready(db, false);
        mg->failed_at = ev_now(srv->loop);
        if (mg->failed_at == 0)
            mg->failed_at = 1;
        proxy_log(PROXY_LOG_WARNING, "database \"%s\": its PostgreSQL server did not start: %s",
                  pool_db_name(db), storage_pgm_error(m));
        managed_fail_soon(mg);
        if (mg->crash_at > 0 && ev_now(srv->loop) - mg->crash_at < MANAGED_CRASH_WINDOW_S &&
            !srv->shutting_down && !ev_is_active(&mg->retry)) {
            ev_timer_set(&mg->retry, MANAGED_CRASH_RETRY_S, 0);
            ev_timer_start(srv->loop, &mg->retry);
        }
        break;
    case STORAGE_PGM_STOPPED:
        pool_db_set_engine_ready(db, false);
        if (!storage_pgm_crashed(m)) {
            proxy_log(PROXY_LOG_INFO, "database \"%s\": its PostgreSQL server stopped",
                      pool_db_name(db));
            break;
        }
        proxy_log(PROXY_LOG_WARNING, "database \"%s\": its PostgreSQL server %s%s",
                  pool_db_name(db), storage_pgm_error(m),
                  pool_db_get_state(db) != POOL_DB_PAUSED ? "; starting it again" : "");
        /* back at once if the database is in use (not twice within a second:
         * a server that keeps dying waits for the next client) */
        if (pool_db_get_state(db) != POOL_DB_PAUSED && !srv->shutting_down &&
            ev_now(srv->loop) - mg->crash_at >= 1.0) {
            mg->crash_at = ev_now(srv->loop);
            managed_start(mg);
        }
        break;
    case STORAGE_PGM_STARTING:
    case STORAGE_PGM_STOPPING:
        break;
    }
}

void managed_want(proxy_server *srv, pool_db *db)
{
    if (srv->shutting_down)
        return;
    proxy_managed *mg = managed_get(srv, db);
    if (!mg)
        return; /* out of memory: they wait, query_wait_timeout ends it */
    if (!mg->m) {
        managed_fail_soon(mg);
        return;
    }
    storage_pgm_state st = storage_pgm_get_state(mg->m);
    if (st == STORAGE_PGM_READY || st == STORAGE_PGM_STARTING)
        return;
    if (st == STORAGE_PGM_FAILED &&
        ev_now(srv->loop) - mg->failed_at < (double)srv->cfg.server_login_retry) {
        /* it failed a moment ago: the same answer, without another try */
        managed_fail_soon(mg);
        return;
    }
    managed_start(mg);
}

void managed_stop(proxy_server *srv, pool_db *db)
{
    proxy_managed *mg = managed_find(srv, db);
    if (!mg || !mg->m)
        return;
    storage_pgm_state st = storage_pgm_get_state(mg->m);
    pool_db_set_engine_ready(db, false);
    storage_pgm_stop(mg->m);
    if (st == STORAGE_PGM_READY || st == STORAGE_PGM_STARTING)
        proxy_log(PROXY_LOG_INFO, "database \"%s\" paused: stopping its PostgreSQL server (pid %d)",
                  pool_db_name(db), (int)storage_pgm_pid(mg->m));
}

const char *managed_state(proxy_server *srv, const pool_db *db)
{
    proxy_managed *mg = managed_find(srv, db);
    if (mg && !mg->m)
        return "failed";
    return mg ? storage_pgm_state_str(storage_pgm_get_state(mg->m)) : "stopped";
}

int managed_pids(proxy_server *srv, pid_t *out, int max)
{
    int n = 0;
    for (proxy_managed *mg = srv->managed; mg && n < max; mg = mg->next)
        if (mg->m && storage_pgm_pid(mg->m) > 0)
            out[n++] = storage_pgm_pid(mg->m);
    return n;
}

void managed_shutdown_all(proxy_server *srv)
{
    while (srv->managed) {
        proxy_managed *mg = srv->managed;
        srv->managed = mg->next;
        if (srv->loop) {
            ev_child_stop(srv->loop, &mg->child);
            ev_timer_stop(srv->loop, &mg->poll);
            ev_timer_stop(srv->loop, &mg->fail);
            ev_timer_stop(srv->loop, &mg->retry);
        }
        if (mg->m && storage_pgm_pid(mg->m) > 0)
            proxy_log(PROXY_LOG_INFO, "database \"%s\": stopping its PostgreSQL server (pid %d)",
                      pool_db_name(mg->db), (int)storage_pgm_pid(mg->m));
        if (mg->m) {
            storage_pgm_shutdown(mg->m, 30);
            storage_pgm_free(mg->m);
        }
        free(mg);
    }
}
