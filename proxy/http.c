/*
 * The HTTP surface (http_listen, default 127.0.0.1:9127): libmicrohttpd on
 * loop 0, driven by libev (MHD's epoll descriptor is one ev_io, its timeout
 * one ev_timer), so that handlers read the server's state under the world
 * lock as the admin console does, and an idle server has nothing to wake.
 *
 *   GET /healthz        {"status":"ok"} (503 while shutting down)
 *   GET /metrics        Prometheus text format, every name prefixed dormouse_
 *   GET /v1/databases   the databases and their lifecycle, as JSON (jansson)
 *   GET /v1/overview    clients, databases (with queries and waiting clients) and
 *                       upstream pools: what the dashboard shows
 *   GET /v1/usage       usage from the ledger: ?database=NAME[&from=&to=]
 *                       [&granularity=minute|hour|day][&format=json|csv]; the
 *                       connection is suspended while the ledger's thread reads
 *   GET /               the capacity dashboard (proxy/dashboard/index.html, compiled
 *                       in; no external assets: it draws its own chart)
 *
 * Anything else is a 404 (unknown path) or 405 (a method other than GET or
 * HEAD) with a JSON error.  With http_auth_token set, every request needs
 * "Authorization: Bearer <token>" (401 otherwise, compared in constant time).
 */
#include "billing.h"
#include "internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct http_usage http_usage;

struct proxy_http {
    proxy_server *srv;
    struct MHD_Daemon *d;
    proxy_mhd_loop ml;
    ev_async answered;       /* the ledger answered a /v1/usage read */
    pthread_mutex_t lock;    /* done (the ledger's thread pushes) */
    http_usage *done;
    char where[80];
};

/* A /v1/usage read: its connection is suspended while the ledger's thread
 * answers it. */
struct http_usage {
    storage_ledger_request q; /* first: the ledger hands back &q */
    proxy_http *h;
    struct MHD_Connection *c;
    bool csv, answered;
    char plan[64]; /* /v1/bill: only this plan's ("": every plan) */
    http_usage *next;
};

/* ---- a growing text buffer ---- */

typedef struct http_text {
    char *p;
    size_t len, cap;
    bool oom;
} http_text;

static void http_printf(http_text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void http_printf(http_text *t, const char *fmt, ...)
{
    if (t->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->oom = true;
            return;
        }
        if (t->p && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 16384;
        while (cap < t->len + (size_t)n + 1)
            cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p) {
            t->oom = true;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
}

/* A label value: backslash, double quote and newline escaped. */
static const char *http_label(const char *s, char *buf, size_t n)
{
    size_t o = 0;
    for (; *s && o + 3 < n; s++) {
        if (*s == '\\' || *s == '"') {
            buf[o++] = '\\';
            buf[o++] = *s;
        } else if (*s == '\n') {
            buf[o++] = '\\';
            buf[o++] = 'n';
        } else {
            buf[o++] = *s;
        }
    }
    buf[o] = '\0';
    return buf;
}

/* ---- /metrics ---- */

typedef struct metrics_ctx {
    proxy_server *srv;
    http_text *t;
    int states[POOL_DB_RESUMING + 1];
    int which; /* metrics_db_counter: 0 cold starts, 1 active seconds */
} metrics_ctx;

#define HELP(t, name, type, help) http_printf(t, "# HELP " name " " help "\n# TYPE " name " " type "\n")

static void metrics_db_states(const pool_db *db, void *arg)
{
    metrics_ctx *m = arg;
    m->states[pool_db_get_state(db)]++;
}

static void metrics_db_lifecycle(const pool_db *db, void *arg)
{
    metrics_ctx *m = arg;
    char name[160];
    http_label(pool_db_name(db), name, sizeof(name));
    pool_db_lifecycle lc;
    pool_db_lifecycle_get(db, &lc);
    for (int st = POOL_DB_ACTIVE; st <= POOL_DB_RESUMING; st++)
        http_printf(m->t, "dormouse_database_state{database=\"%s\",engine=\"%s\",state=\"%s\"} %d\n",
                    name, storage_kind_str(pool_db_engine(db)), pool_db_state_str((pool_db_state)st),
                    lc.state == (pool_db_state)st);
}

/* A per-database counter of the lifecycle: m->which picks it. */
static void metrics_db_counter(const pool_db *db, void *arg)
{
    metrics_ctx *m = arg;
    char name[160];
    pool_db_lifecycle lc;
    pool_db_lifecycle_get(db, &lc);
    http_label(pool_db_name(db), name, sizeof(name));
    if (m->which == 0)
        http_printf(m->t, "dormouse_database_cold_starts_total{database=\"%s\"} %llu\n", name,
                    (unsigned long long)lc.cold_starts);
    else
        http_printf(m->t, "dormouse_database_active_seconds_total{database=\"%s\"} %.3f\n", name,
                    (double)lc.up_us / 1e6);
}

static void metrics_db_resume(const pool_db *db, void *arg)
{
    metrics_ctx *m = arg;
    char name[160];
    pool_db_lifecycle lc;
    pool_db_lifecycle_get(db, &lc);
    http_label(pool_db_name(db), name, sizeof(name));
    if (lc.resumes > 0) {
        http_printf(m->t, "dormouse_database_resume_seconds{database=\"%s\",quantile=\"0.5\"} %.6f\n",
                    name, (double)lc.resume_p50_us / 1e6);
        http_printf(m->t, "dormouse_database_resume_seconds{database=\"%s\",quantile=\"0.99\"} %.6f\n",
                    name, (double)lc.resume_p99_us / 1e6);
    }
    http_printf(m->t, "dormouse_database_resume_seconds_sum{database=\"%s\"} %.6f\n", name,
                (double)lc.resume_sum_us / 1e6);
    http_printf(m->t, "dormouse_database_resume_seconds_count{database=\"%s\"} %llu\n", name,
                (unsigned long long)lc.resumes);
}

static void metrics_db_backends(const pool_db *db, void *arg)
{
    metrics_ctx *m = arg;
    if (pool_db_engine(db) != STORAGE_SQLITE)
        return;
    char name[160];
    http_label(pool_db_name(db), name, sizeof(name));
    http_printf(m->t, "dormouse_sqlite_connections{database=\"%s\",state=\"active\"} %d\n", name,
                pool_db_backends(db));
    http_printf(m->t, "dormouse_sqlite_connections{database=\"%s\",state=\"idle\"} %d\n", name,
                pool_db_idle_backends(db));
}

static void metrics_pool(pool_servers *ps, void *arg)
{
    metrics_ctx *m = arg;
    char name[160], user[160];
    http_label(pool_db_name(pool_servers_db(ps)), name, sizeof(name));
    http_label(pool_servers_user(ps), user, sizeof(user));
    for (int st = 0; st < POOL_SV_NSTATES; st++)
        http_printf(m->t,
                    "dormouse_pool_server_connections{database=\"%s\",user=\"%s\",state=\"%s\"} %d\n",
                    name, user, pool_sv_state_str((pool_sv_state)st),
                    pool_servers_count(ps, (pool_sv_state)st));
    http_printf(m->t, "dormouse_pool_waiting_clients{database=\"%s\",user=\"%s\"} %d\n", name, user,
                pool_servers_waiting(ps));
    http_printf(m->t, "dormouse_pool_max_wait_seconds{database=\"%s\",user=\"%s\"} %.6f\n", name,
                user, (double)pool_servers_max_wait_us(ps) / 1e6);
}

static void http_metrics(proxy_server *srv, http_text *t)
{
    metrics_ctx m = {.srv = srv, .t = t};
    HELP(t, "dormouse_build_info", "gauge", "Dormouse's version.");
    http_printf(t, "dormouse_build_info{version=\"%s\"} 1\n", DORMOUSE_VERSION);
    HELP(t, "dormouse_uptime_seconds", "gauge", "Seconds since Dormouse started.");
    http_printf(t, "dormouse_uptime_seconds %lld\n", (long long)(time(NULL) - srv->start_time));
    if (srv->ledger) {
        HELP(t, "dormouse_ledger_lag_records", "gauge",
             "Usage records in the journal not yet in the ledger.");
        http_printf(t, "dormouse_ledger_lag_records %llu\n",
                    (unsigned long long)storage_ledger_lag(srv->ledger));
    }

    int clients = 0, waiting = 0, admin = 0;
    for (proxy_session *s = server_sessions_first(srv); s; s = server_sessions_next(srv, s)) {
        if (s->admin) {
            admin++;
            continue;
        }
        clients++;
        if (s->state == SESSION_WAITING || s->state == SESSION_OPENING)
            waiting++;
    }
    HELP(t, "dormouse_client_connections", "gauge",
         "Client connections: all, those waiting for a backend or server, the admin console's.");
    http_printf(t, "dormouse_client_connections{kind=\"all\"} %d\n", clients);
    http_printf(t, "dormouse_client_connections{kind=\"waiting\"} %d\n", waiting);
    http_printf(t, "dormouse_client_connections{kind=\"admin\"} %d\n", admin);
    HELP(t, "dormouse_max_client_connections", "gauge", "max_client_conn.");
    http_printf(t, "dormouse_max_client_connections %d\n", srv->cfg.max_client_conn);

    if (srv->pool) {
        pool_db_foreach(srv->pool, metrics_db_states, &m);
        HELP(t, "dormouse_databases", "gauge", "Databases by lifecycle state.");
        for (int st = POOL_DB_ACTIVE; st <= POOL_DB_RESUMING; st++)
            http_printf(t, "dormouse_databases{state=\"%s\"} %d\n",
                        pool_db_state_str((pool_db_state)st), m.states[st]);
        HELP(t, "dormouse_database_state", "gauge", "1 for the state a database is in.");
        pool_db_foreach(srv->pool, metrics_db_lifecycle, &m);
        HELP(t, "dormouse_database_cold_starts_total", "counter", "Resumes from paused.");
        m.which = 0;
        pool_db_foreach(srv->pool, metrics_db_counter, &m);
        HELP(t, "dormouse_database_resume_seconds", "summary",
             "Resume latency: from the first client's request to the engine up (the latest 128).");
        pool_db_foreach(srv->pool, metrics_db_resume, &m);
        HELP(t, "dormouse_database_active_seconds_total", "counter",
             "Seconds a database was not paused (the basis of an active-time bill).");
        m.which = 1;
        pool_db_foreach(srv->pool, metrics_db_counter, &m);
        HELP(t, "dormouse_sqlite_connections", "gauge", "Open SQLite connections by state.");
        pool_db_foreach(srv->pool, metrics_db_backends, &m);
        HELP(t, "dormouse_pool_server_connections", "gauge",
             "Upstream server connections per (database, user) pool, by state.");
        HELP(t, "dormouse_pool_waiting_clients", "gauge", "Clients waiting for a server connection.");
        HELP(t, "dormouse_pool_max_wait_seconds", "gauge", "How long the oldest waiter has waited.");
        pool_all_servers_foreach(srv->pool, metrics_pool, &m);
    }

    /* SHOW STATS's totals */
    int n = 0;
    proxy_stats_db **v = proxy_stats_db_sorted(srv->stats, &n);
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"dormouse_transactions_total", "counter", "Transactions that ended."},
        {"dormouse_queries_total", "counter", "Statements answered."},
        {"dormouse_received_bytes_total", "counter", "Bytes read from clients."},
        {"dormouse_sent_bytes_total", "counter", "Bytes written to clients."},
        {"dormouse_transaction_seconds_total", "counter", "Time spent in transactions."},
        {"dormouse_query_seconds_total", "counter", "Time from a query to its result."},
        {"dormouse_wait_seconds_total", "counter", "Time clients waited for a backend."},
    };
    for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
        http_printf(t, "# HELP %s %s\n# TYPE %s %s\n", fam[f].name, fam[f].help, fam[f].name,
                    fam[f].type);
        for (int i = 0; i < n; i++) {
            const proxy_stats_counters *c = &v[i]->total;
            char name[160];
            http_label(v[i]->name, name, sizeof(name));
            double val = f == 0   ? (double)c->xact_count
                         : f == 1 ? (double)c->query_count
                         : f == 2 ? (double)c->received
                         : f == 3 ? (double)c->sent
                         : f == 4 ? (double)c->xact_time_us / 1e6
                         : f == 5 ? (double)c->query_time_us / 1e6
                                  : (double)c->wait_time_us / 1e6;
            http_printf(t, "%s{database=\"%s\"} %.17g\n", fam[f].name, name, val);
        }
    }
    static const double bounds[] = PROXY_STATS_HIST_BOUNDS;
    http_printf(t, "# HELP dormouse_query_duration_seconds Time from a query to its result.\n"
                   "# TYPE dormouse_query_duration_seconds histogram\n");
    for (int i = 0; i < n; i++) {
        char name[160];
        http_label(v[i]->name, name, sizeof(name));
        uint64_t cum = 0;
        for (int b = 0; b < PROXY_STATS_HIST_BUCKETS; b++) {
            cum += v[i]->query_hist[b];
            if (b < PROXY_STATS_HIST_BUCKETS - 1)
                http_printf(t, "dormouse_query_duration_seconds_bucket{database=\"%s\",le=\"%g\"} %llu\n",
                            name, bounds[b], (unsigned long long)cum);
            else
                http_printf(t, "dormouse_query_duration_seconds_bucket{database=\"%s\",le=\"+Inf\"} %llu\n",
                            name, (unsigned long long)cum);
        }
        http_printf(t, "dormouse_query_duration_seconds_sum{database=\"%s\"} %.17g\n"
                       "dormouse_query_duration_seconds_count{database=\"%s\"} %llu\n",
                    name, (double)v[i]->total.query_time_us / 1e6, name, (unsigned long long)cum);
    }
    static const char *const rows[][2] = {
        {"dormouse_rows_read_total", "Rows read (visited), as metered."},
        {"dormouse_rows_written_total", "Rows written with their index entries, as metered."},
        {"dormouse_rows_returned_total", "Rows returned to clients, as metered."},
    };
    for (int f = 0; f < 3; f++) {
        http_printf(t, "# HELP %s %s\n# TYPE %s counter\n", rows[f][0], rows[f][1], rows[f][0]);
        for (int i = 0; i < n; i++) {
            char name[160];
            http_label(v[i]->name, name, sizeof(name));
            uint64_t val = f == 0 ? v[i]->rows_read : f == 1 ? v[i]->rows_written : v[i]->rows_returned;
            http_printf(t, "%s{database=\"%s\"} %llu\n", rows[f][0], name, (unsigned long long)val);
        }
    }
    free(v);
}

/* ---- /v1/databases ---- */

struct json_dbs {
    proxy_server *srv;
    json_t *arr;
};

static void json_db(const pool_db *db, void *arg)
{
    struct json_dbs *jd = arg;
    json_t *arr = jd->arr;
    pool_db_lifecycle lc;
    pool_db_lifecycle_get(db, &lc);
    json_t *o = json_pack("{s:s, s:s, s:s, s:i, s:I, s:I, s:f, s:f, s:f, s:f, s:f}",
                          "name", pool_db_name(db), "engine", storage_kind_str(pool_db_engine(db)),
                          "state", pool_db_state_str(lc.state), "idle_timeout", lc.idle_timeout,
                          "cold_starts", (json_int_t)lc.cold_starts, "resumes",
                          (json_int_t)lc.resumes, "last_resume_ms", (double)lc.last_resume_us / 1e3,
                          "resume_p50_ms", (double)lc.resume_p50_us / 1e3, "resume_p99_ms",
                          (double)lc.resume_p99_us / 1e3, "active_seconds",
                          (double)lc.up_us / 1e6, "paused_seconds",
                          (double)lc.paused_for_us / 1e6);
    if (o && pool_db_managed(db)) /* its PostgreSQL server: stopped, starting, ready, ... */
        json_object_set_new(o, "managed_server", json_string(managed_state(jd->srv, db)));
    if (o)
        json_array_append_new(arr, o);
}

/* ---- /v1/overview: what the dashboard shows ---- */

extern const unsigned char dashboard_html[];
extern const size_t dashboard_html_len;

struct overview {
    proxy_server *srv;
    json_t *dbs, *pools;
    proxy_stats_db **stats;
    int nstats;
};

static int overview_stats_cmp(const void *key, const void *elem)
{
    return strcmp(key, (*(proxy_stats_db *const *)elem)->name);
}

static void overview_pool(pool_servers *ps, void *arg)
{
    int *waiting = arg;
    *waiting += pool_servers_waiting(ps);
}

static void overview_pool_row(pool_servers *ps, void *arg)
{
    struct overview *ov = arg;
    json_t *o = json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:f}", "database",
                          pool_db_name(pool_servers_db(ps)), "user", pool_servers_user(ps), "active",
                          pool_servers_count(ps, POOL_SV_ACTIVE), "idle",
                          pool_servers_count(ps, POOL_SV_IDLE), "used",
                          pool_servers_count(ps, POOL_SV_USED), "login",
                          pool_servers_count(ps, POOL_SV_LOGIN), "waiting", pool_servers_waiting(ps),
                          "max_wait_ms", (double)pool_servers_max_wait_us(ps) / 1e3);
    if (o)
        json_array_append_new(ov->pools, o);
}

static void overview_db(const pool_db *db, void *arg)
{
    struct overview *ov = arg;
    struct json_dbs jd = {ov->srv, ov->dbs};
    json_db(db, &jd);
    json_t *o = json_array_get(ov->dbs, json_array_size(ov->dbs) - 1);
    if (!o)
        return;
    proxy_stats_db **st = ov->stats ? bsearch(pool_db_name(db), ov->stats, (size_t)ov->nstats,
                                              sizeof(*ov->stats), overview_stats_cmp)
                                    : NULL;
    json_object_set_new(o, "queries", json_integer(st ? (json_int_t)(*st)->total.query_count : 0));
    int waiting = 0;
    pool_servers_foreach(db, overview_pool, &waiting);
    json_object_set_new(o, "waiting", json_integer(waiting));
}

static char *http_overview(proxy_server *srv)
{
    struct overview ov = {.srv = srv, .dbs = json_array(), .pools = json_array()};
    int clients = 0, waiting = 0, admin = 0;
    server_world_lock(srv);
    for (proxy_session *s = server_sessions_first(srv); s; s = server_sessions_next(srv, s)) {
        if (s->admin)
            admin++;
        else
            clients++;
        if (!s->admin && (s->state == SESSION_WAITING || s->state == SESSION_OPENING))
            waiting++;
    }
    ov.stats = proxy_stats_db_sorted(srv->stats, &ov.nstats);
    if (srv->pool && ov.dbs && ov.pools) {
        pool_db_foreach(srv->pool, overview_db, &ov);
        pool_all_servers_foreach(srv->pool, overview_pool_row, &ov);
    }
    server_world_unlock(srv);
    free(ov.stats);
    json_t *o = json_pack("{s:s, s:I, s:{s:i, s:i, s:i}, s:o, s:o}", "version", DORMOUSE_VERSION,
                          "uptime_seconds", (json_int_t)(time(NULL) - srv->start_time), "clients",
                          "all", clients, "waiting", waiting, "admin", admin, "databases",
                          ov.dbs ? ov.dbs : json_array(), "pools", ov.pools ? ov.pools : json_array());
    char *body = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(o);
    return body;
}

static enum MHD_Result http_reply(struct MHD_Connection *c, unsigned status, const char *type,
                                  char *body, size_t len);
static enum MHD_Result http_json_error(struct MHD_Connection *c, unsigned status, const char *msg);

/* ---- /v1/usage ---- */

/* The ledger's thread: back to loop 0, which resumes the connection. */
static void http_usage_done(storage_ledger_request *q)
{
    http_usage *u = (http_usage *)q;
    proxy_http *h = u->h;
    pthread_mutex_lock(&h->lock);
    u->next = h->done;
    h->done = u;
    pthread_mutex_unlock(&h->lock);
    ev_async_send(h->srv->loop, &h->answered);
}

static void http_resume_answered(proxy_http *h)
{
    pthread_mutex_lock(&h->lock);
    http_usage *u = h->done;
    h->done = NULL;
    pthread_mutex_unlock(&h->lock);
    for (; u; u = u->next) {
        u->answered = true;
        MHD_resume_connection(u->c);
    }
}

static void http_answered_cb(struct ev_loop *loop, ev_async *w, int revents);

/* "1700000000" (seconds), "2026-11-27" or "2026-11-27T03:00:00Z"; false if neither. */
static bool http_parse_time(const char *s, int64_t *us)
{
    char *end;
    if (s[0] >= '0' && s[0] <= '9' && strlen(s) >= 9 && !strchr(s, '-')) {
        long long v = strtoll(s, &end, 10);
        if (*end || v < 0)
            return false;
        *us = (int64_t)v * 1000000;
        return true;
    }
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    end = strptime(s, "%Y-%m-%d", &tm);
    if (!end)
        return false;
    if (*end == 'T' || *end == ' ') {
        end = strptime(end + 1, "%H:%M:%S", &tm);
        if (!end)
            return false;
        if (*end == 'Z')
            end++;
    }
    if (*end)
        return false;
    *us = (int64_t)timegm(&tm) * 1000000;
    return true;
}

/* o (taken over; NULL: out of memory) as text, malloc'd, and its length. */
static char *http_json_text(json_t *o, size_t flags, size_t *len)
{
    char *body = o ? json_dumps(o, flags) : NULL;
    json_decref(o);
    *len = body ? strlen(body) : 0;
    return body;
}

/* "2026-11": [its first day, the next month's first day), UTC. */
static bool http_parse_month(const char *s, int64_t *from, int64_t *to)
{
    int y, m;
    char tail;
    if (sscanf(s, "%4d-%2d%c", &y, &m, &tail) != 2 || y < 1970 || y > 9999 || m < 1 || m > 12 ||
        strlen(s) != 7)
        return false;
    meter_month(y, m, from, to);
    return true;
}

static void http_iso(int64_t us, char *buf, size_t n)
{
    time_t t = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static char *http_usage_body(http_usage *u, size_t *len)
{
    storage_ledger_request *q = &u->q;
    static const char *const gran[] = {"minute", "hour", "day"};
    char when[40];
    if (u->csv) {
        http_text t = {0};
        http_printf(&t, "start,queries,errors,rows_read,rows_returned,rows_written,bytes_in,"
                        "bytes_out,wall_us,cpu_us,cold_queries,resume_wait_us,active_seconds,"
                        "cold_starts,storage_bytes\r\n");
        for (int i = 0; i < q->nrows; i++) {
            const storage_usage_row *r = &q->rows[i];
            http_iso(r->start_us, when, sizeof(when));
            http_printf(&t, "%s,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%.6f,%llu,%lld\r\n",
                        when,
                        (unsigned long long)r->queries, (unsigned long long)r->errors,
                        (unsigned long long)r->rows_read, (unsigned long long)r->rows_returned,
                        (unsigned long long)r->rows_written, (unsigned long long)r->bytes_in,
                        (unsigned long long)r->bytes_out, (unsigned long long)r->wall_us,
                        (unsigned long long)r->cpu_us, (unsigned long long)r->cold_queries,
                        (unsigned long long)r->resume_wait_us, (double)r->active_us / 1e6,
                        (unsigned long long)r->cold_starts, (long long)r->storage_bytes);
        }
        if (t.oom) {
            free(t.p);
            return NULL;
        }
        *len = t.len;
        return t.p;
    }
    json_t *rows = json_array();
    for (int i = 0; rows && i < q->nrows; i++) {
        const storage_usage_row *r = &q->rows[i];
        http_iso(r->start_us, when, sizeof(when));
        json_array_append_new(
            rows, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, "
                            "s:I}",
                            "start",
                            when, "queries", (json_int_t)r->queries, "errors",
                            (json_int_t)r->errors, "rows_read", (json_int_t)r->rows_read,
                            "rows_returned", (json_int_t)r->rows_returned, "rows_written",
                            (json_int_t)r->rows_written, "bytes_in", (json_int_t)r->bytes_in,
                            "bytes_out", (json_int_t)r->bytes_out, "wall_us",
                            (json_int_t)r->wall_us, "cpu_us", (json_int_t)r->cpu_us,
                            "cold_queries", (json_int_t)r->cold_queries, "resume_wait_us",
                            (json_int_t)r->resume_wait_us, "active_seconds",
                            (double)r->active_us / 1e6, "cold_starts",
                            (json_int_t)r->cold_starts, "storage_bytes",
                            (json_int_t)r->storage_bytes));
    }
    char from[40], to[40];
    http_iso(q->from_us, from, sizeof(from));
    http_iso(q->to_us, to, sizeof(to));
    json_t *o = rows ? json_pack("{s:s, s:s, s:s, s:s, s:o}", "database", q->database, "granularity",
                                 gran[q->granularity], "from", from, "to", to, "usage", rows)
                     : NULL;
    return http_json_text(o, JSON_COMPACT, len);
}

/* GET /v1/bill: the usage of the window and its bill under each plan. */
static char *http_bill_body(http_usage *u, size_t *len)
{
    storage_ledger_request *q = &u->q;
    const storage_bill_input *in = &q->bill;
    const storage_usage_row *t = &in->totals;
    billing_usage bu = meter_billing_usage(in, q->from_us, q->to_us);
    const billing_plan *plans[PROXY_MAX_PLANS + 8];
    int nplans = meter_plans(u->h->srv, plans, PROXY_MAX_PLANS + 8);
    json_t *bills = json_array();
    for (int i = 0; bills && i < nplans; i++) {
        if (u->plan[0] && strcmp(u->plan, plans[i]->name) != 0)
            continue;
        billing_bill b;
        billing_compute(plans[i], &bu, &b);
        json_t *o = billing_bill_to_json(&b);
        if (o)
            json_object_set_new(o, "description", json_string(plans[i]->description));
        json_array_append_new(bills, o);
    }
    char from[40], to[40];
    http_iso(q->from_us, from, sizeof(from));
    http_iso(q->to_us, to, sizeof(to));
    json_t *usage = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:I, s:f, s:I}", "queries",
        (json_int_t)t->queries, "errors", (json_int_t)t->errors, "rows_read",
        (json_int_t)t->rows_read, "rows_written", (json_int_t)t->rows_written, "rows_returned",
        (json_int_t)t->rows_returned, "bytes_in", (json_int_t)t->bytes_in, "bytes_out",
        (json_int_t)t->bytes_out, "wall_us", (json_int_t)t->wall_us, "cpu_us",
        (json_int_t)t->cpu_us, "active_seconds", (double)t->active_us / 1e6, "active_periods",
        (json_int_t)in->nactive, "cold_starts", (json_int_t)t->cold_starts, "storage_gb_months",
        in->storage_byte_seconds / 1e9 / 2592000.0, "storage_bytes_max",
        (json_int_t)t->storage_bytes);
    json_t *o = bills && usage ? json_pack("{s:s, s:s, s:s, s:o, s:o}", "database", q->database,
                                           "from", from, "to", to, "usage", usage, "bills", bills)
                               : NULL;
    if (!o) {
        json_decref(bills);
        json_decref(usage);
    }
    return http_json_text(o, JSON_COMPACT | JSON_REAL_PRECISION(12), len);
}

/* GET /v1/bills: every database's usage over the window and its total under
 * each plan (the dashboard's billing table). */
static char *http_bills_body(http_usage *u, size_t *len)
{
    storage_ledger_request *q = &u->q;
    const billing_plan *plans[PROXY_MAX_PLANS + 8];
    int nplans = meter_plans(u->h->srv, plans, PROXY_MAX_PLANS + 8);
    json_t *names = json_array(), *dbs = json_array();
    for (int p = 0; names && p < nplans; p++)
        json_array_append_new(names, json_string(plans[p]->name));
    for (int i = 0; dbs && i < q->nrows; i++) {
        const storage_usage_row *r = &q->rows[i];
        const storage_bill_input *in = &q->bills[i];
        billing_usage bu = meter_billing_usage(in, q->from_us, q->to_us);
        json_t *totals = json_object();
        for (int p = 0; totals && p < nplans; p++) {
            billing_bill b;
            billing_compute(plans[p], &bu, &b);
            json_object_set_new(totals, plans[p]->name, json_real(round(b.total * 1e6) / 1e6));
        }
        json_array_append_new(
            dbs, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:I, s:f, s:o*}",
                           "database", r->database, "queries", (json_int_t)r->queries, "errors",
                           (json_int_t)r->errors, "rows_read", (json_int_t)r->rows_read,
                           "rows_written", (json_int_t)r->rows_written, "rows_returned",
                           (json_int_t)r->rows_returned, "bytes_out", (json_int_t)r->bytes_out,
                           "cpu_us", (json_int_t)r->cpu_us, "active_seconds",
                           (double)in->totals.active_us / 1e6, "cold_starts",
                           (json_int_t)in->totals.cold_starts, "storage_gb_months",
                           in->storage_byte_seconds / 1e9 / 2592000.0, "totals", totals));
    }
    char from[40], to[40];
    http_iso(q->from_us, from, sizeof(from));
    http_iso(q->to_us, to, sizeof(to));
    json_t *o = names && dbs ? json_pack("{s:s, s:s, s:o, s:o}", "from", from, "to", to, "plans",
                                         names, "databases", dbs)
                             : NULL;
    if (!o) {
        json_decref(names);
        json_decref(dbs);
    }
    return http_json_text(o, JSON_COMPACT | JSON_REAL_PRECISION(12), len);
}

/* GET /v1/queries: the top query fingerprints. */
static char *http_queries_body(http_usage *u, size_t *len)
{
    storage_ledger_request *q = &u->q;
    json_t *arr = json_array();
    for (int i = 0; arr && i < q->ntop; i++) {
        const storage_query_row *r = &q->top[i];
        char fp[20];
        snprintf(fp, sizeof(fp), "%016llx", (unsigned long long)r->fingerprint);
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                           "database", r->database, "fingerprint", fp, "kind", r->kind, "query",
                           r->query, "calls", (json_int_t)r->calls, "errors",
                           (json_int_t)r->errors, "rows_read", (json_int_t)r->rows_read,
                           "rows_written", (json_int_t)r->rows_written, "rows_returned",
                           (json_int_t)r->rows_returned, "bytes_out", (json_int_t)r->bytes_out,
                           "wall_us", (json_int_t)r->wall_us, "cpu_us", (json_int_t)r->cpu_us));
    }
    char from[40], to[40];
    http_iso(q->from_us, from, sizeof(from));
    http_iso(q->to_us, to, sizeof(to));
    json_t *o = arr ? json_pack("{s:s, s:s, s:s, s:s, s:o}", "database", q->database, "order", q->order,
                                "from", from, "to", to, "queries", arr)
                    : NULL;
    return http_json_text(o, JSON_COMPACT, len);
}

static enum MHD_Result http_usage_request(proxy_http *h, struct MHD_Connection *c, void **con_cls,
                                          storage_ledger_read read)
{
    http_usage *u = *con_cls;
    if (u) { /* resumed: the ledger has answered */
        *con_cls = NULL;
        enum MHD_Result ret;
        if (u->q.error[0]) {
            ret = http_json_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, u->q.error);
        } else {
            size_t len = 0;
            char *body = u->q.read == STORAGE_LEDGER_TOP       ? http_queries_body(u, &len)
                         : u->q.read == STORAGE_LEDGER_BILL    ? http_bill_body(u, &len)
                         : u->q.read == STORAGE_LEDGER_SUMMARY ? http_bills_body(u, &len)
                                                               : http_usage_body(u, &len);
            ret = body ? http_reply(c, MHD_HTTP_OK, u->csv ? "text/csv" : "application/json", body, len)
                       : http_json_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        }
        storage_ledger_request_clear(&u->q);
        free(u);
        return ret;
    }
    if (!h->srv->ledger)
        return http_json_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "metering is off (metering = off)");
    const char *db = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "database");
    const char *from = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "from");
    const char *to = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "to");
    const char *gran = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "granularity");
    const char *format = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "format");
    const char *order = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "order");
    const char *limit = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "limit");
    char err[160];
    if ((read == STORAGE_LEDGER_USAGE || read == STORAGE_LEDGER_BILL) && (!db || !db[0]))
        return http_json_error(c, MHD_HTTP_BAD_REQUEST, "database is required (?database=NAME)");
    if (db && strlen(db) >= sizeof(u->q.database))
        return http_json_error(c, MHD_HTTP_BAD_REQUEST, "database: no such name (too long)");
    u = calloc(1, sizeof(*u));
    if (!u)
        return http_json_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    u->q.read = read;
    snprintf(u->q.database, sizeof(u->q.database), "%s", db ? db : "");
    snprintf(u->q.order, sizeof(u->q.order), "%s", order ? order : "wall_us");
    u->q.limit = 20;
    u->q.from_us = 0;
    u->q.to_us = (int64_t)(time(NULL) + 60) * 1000000;
    u->q.granularity = STORAGE_USAGE_HOUR;
    err[0] = '\0';
    if (from && !http_parse_time(from, &u->q.from_us))
        snprintf(err, sizeof(err), "from must be a time: 2026-11-27, 2026-11-27T03:00:00Z or "
                 "seconds since the epoch");
    else if (to && !http_parse_time(to, &u->q.to_us))
        snprintf(err, sizeof(err), "to must be a time: 2026-11-27, 2026-11-27T03:00:00Z or "
                 "seconds since the epoch");
    else if (u->q.to_us <= u->q.from_us)
        snprintf(err, sizeof(err), "to must be after from");
    else if (gran && !strcmp(gran, "minute"))
        u->q.granularity = STORAGE_USAGE_MINUTE;
    else if (gran && !strcmp(gran, "day"))
        u->q.granularity = STORAGE_USAGE_DAY;
    else if (gran && strcmp(gran, "hour") != 0)
        snprintf(err, sizeof(err), "granularity must be minute, hour or day");
    const char *month = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "month");
    const char *plan = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "plan");
    if (read == STORAGE_LEDGER_SUMMARY)
        u->q.with_bills = true;
    if (!err[0] && (read == STORAGE_LEDGER_BILL || read == STORAGE_LEDGER_SUMMARY)) {
        if (month && !http_parse_month(month, &u->q.from_us, &u->q.to_us))
            snprintf(err, sizeof(err), "month must be YYYY-MM, e.g. 2026-11");
        else if (!month && !from && !to)
            meter_month_now(&u->q.from_us, &u->q.to_us);
        if (!err[0] && plan) {
            const billing_plan *plans[PROXY_MAX_PLANS + 8];
            int n = meter_plans(h->srv, plans, PROXY_MAX_PLANS + 8);
            bool known = false;
            for (int i = 0; i < n; i++)
                known = known || !strcmp(plans[i]->name, plan);
            if (!known)
                snprintf(err, sizeof(err), "no such plan: %.50s (configure it in [plan:%.50s])",
                         plan, plan);
            else
                snprintf(u->plan, sizeof(u->plan), "%s", plan);
        }
    }
    if (!err[0] && read == STORAGE_LEDGER_TOP) {
        char *end = NULL;
        long n = limit ? strtol(limit, &end, 10) : 20;
        if (order && (strlen(order) >= sizeof(u->q.order) || !storage_ledger_order_valid(order)))
            snprintf(err, sizeof(err), "order must be wall_us, cpu_us, rows_read, rows_written, "
                     "rows_returned, bytes_out, calls or errors");
        else if (limit && (!*limit || *end || n < 1 || n > 1000))
            snprintf(err, sizeof(err), "limit must be a number from 1 to 1000");
        else
            u->q.limit = (int)n;
    }
    if (!err[0] && format && !strcmp(format, "csv") && read == STORAGE_LEDGER_USAGE)
        u->csv = true;
    else if (!err[0] && format && strcmp(format, "json") != 0)
        snprintf(err, sizeof(err), "format must be json or csv");
    if (err[0]) {
        free(u);
        return http_json_error(c, MHD_HTTP_BAD_REQUEST, err);
    }
    u->h = h;
    u->c = c;
    u->q.done = http_usage_done;
    *con_cls = u;
    MHD_suspend_connection(c);
    storage_ledger_query(h->srv->ledger, &u->q);
    return MHD_YES;
}

/* ---- requests ---- */

/* Queues body (malloc'd, taken over; NULL: the dashboard page, static). */
static enum MHD_Result http_reply(struct MHD_Connection *c, unsigned status, const char *type,
                                  char *body, size_t len)
{
    struct MHD_Response *r =
        body ? MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE)
             : MHD_create_response_from_buffer(dashboard_html_len, (void *)dashboard_html,
                                               MHD_RESPMEM_PERSISTENT);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result http_json_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    json_t *o = json_pack("{s:s}", "error", msg);
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!body)
        return MHD_NO; /* out of memory: the connection is closed */
    return http_reply(c, status, "application/json", body, strlen(body));
}

static bool http_authorized(proxy_http *h, struct MHD_Connection *c)
{
    const char *token = h->srv->cfg.http_auth_token;
    if (!token[0])
        return true;
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0)
        return false;
    auth += 7;
    size_t n = strlen(token);
    return strlen(auth) == n && CRYPTO_memcmp(auth, token, n) == 0;
}

static enum MHD_Result http_handler(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls)
{
    proxy_http *h = cls;
    proxy_server *srv = h->srv;
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
        return http_json_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD are served");
    bool page = !strcmp(url, "/") || !strcmp(url, "/index.html");
    if (!page && !http_authorized(h, c)) { /* (the page is static: its data asks for the token) */
        json_t *o = json_pack("{s:s}", "error", "missing or wrong bearer token (http_auth_token)");
        char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
        json_decref(o);
        struct MHD_Response *r = MHD_create_response_from_buffer(
            body ? strlen(body) : 0, body, body ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"dormouse\"");
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_UNAUTHORIZED, r);
        MHD_destroy_response(r);
        return ret;
    }
    if (!strcmp(url, "/healthz")) {
        const char *body = srv->shutting_down ? "{\"status\":\"shutting down\"}\n" : "{\"status\":\"ok\"}\n";
        char *copy = strdup(body);
        if (!copy)
            return MHD_NO;
        return http_reply(c, srv->shutting_down ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK,
                          "application/json", copy, strlen(body));
    }
    if (!strcmp(url, "/metrics")) {
        http_text t = {0};
        server_world_lock(srv);
        http_metrics(srv, &t);
        server_world_unlock(srv);
        if (t.oom) {
            free(t.p);
            return http_json_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        }
        return http_reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", t.p, t.len);
    }
    if (!strcmp(url, "/v1/databases")) {
        json_t *arr = json_array();
        struct json_dbs jd = {srv, arr};
        server_world_lock(srv);
        if (arr && srv->pool)
            pool_db_foreach(srv->pool, json_db, &jd);
        server_world_unlock(srv);
        json_t *o = arr ? json_pack("{s:o}", "databases", arr) : NULL;
        char *body = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
        json_decref(o);
        if (!body)
            return http_json_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        return http_reply(c, MHD_HTTP_OK, "application/json", body, strlen(body));
    }
    if (!strcmp(url, "/v1/usage"))
        return http_usage_request(h, c, con_cls, STORAGE_LEDGER_USAGE);
    if (!strcmp(url, "/v1/queries"))
        return http_usage_request(h, c, con_cls, STORAGE_LEDGER_TOP);
    if (!strcmp(url, "/v1/bill"))
        return http_usage_request(h, c, con_cls, STORAGE_LEDGER_BILL);
    if (!strcmp(url, "/v1/bills"))
        return http_usage_request(h, c, con_cls, STORAGE_LEDGER_SUMMARY);
    if (!strcmp(url, "/v1/overview")) {
        char *body = http_overview(srv);
        if (!body)
            return http_json_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
        return http_reply(c, MHD_HTTP_OK, "application/json", body, strlen(body));
    }
    if (!strcmp(url, "/v1/timeline")) {
        const char *since_s = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "since");
        const char *plan = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "plan");
        double since = 0;
        if (since_s) {
            char *end;
            errno = 0;
            since = strtod(since_s, &end);
            if (end == since_s || *end || errno || !isfinite(since) || since < 0)
                return http_json_error(c, MHD_HTTP_BAD_REQUEST,
                                       "since: seconds since the epoch (e.g. 1790000000.5)");
        }
        char err[160];
        unsigned status = MHD_HTTP_OK;
        char *body = live_json(srv, since, plan, err, sizeof(err), &status);
        if (!body)
            return http_json_error(c, status, err);
        return http_reply(c, MHD_HTTP_OK, "application/json", body, strlen(body));
    }
    if (!strcmp(url, "/") || !strcmp(url, "/index.html")) /* the dashboard */
        return http_reply(c, MHD_HTTP_OK, "text/html; charset=utf-8", NULL, 0);
    char msg[400];
    snprintf(msg, sizeof(msg), "no such endpoint: %.200s (try /, /metrics, /healthz, /v1/databases, "
             "/v1/overview, /v1/timeline, /v1/usage, /v1/queries, /v1/bill, /v1/bills)", url);
    return http_json_error(c, MHD_HTTP_NOT_FOUND, msg);
}

/* ---- the loop ---- */

static void mhd_loop_rearm(proxy_mhd_loop *m)
{
    MHD_UNSIGNED_LONG_LONG ms;
    ev_timer_stop(m->loop, &m->timer);
    if (MHD_get_timeout(m->d, &ms) == MHD_YES) {
        ev_timer_set(&m->timer, (double)ms / 1000.0, 0.);
        ev_timer_start(m->loop, &m->timer);
    }
}

void proxy_mhd_loop_run(proxy_mhd_loop *m)
{
    MHD_run(m->d);
    mhd_loop_rearm(m);
}

static void mhd_loop_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    proxy_mhd_loop_run(container_of(w, proxy_mhd_loop, io));
}

static void mhd_loop_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    proxy_mhd_loop_run(container_of(w, proxy_mhd_loop, timer));
}

static void mhd_loop_kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    proxy_mhd_loop_run(container_of(w, proxy_mhd_loop, kick));
}

void proxy_mhd_loop_kick(proxy_mhd_loop *m)
{
    if (!ev_is_active(&m->kick)) {
        ev_timer_set(&m->kick, 0., 0.);
        ev_timer_start(m->loop, &m->kick);
    }
}

void proxy_mhd_loop_start(proxy_mhd_loop *m, struct ev_loop *loop, struct MHD_Daemon *d)
{
    m->loop = loop;
    m->d = d;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
    ev_io_init(&m->io, mhd_loop_io_cb, info->epoll_fd, EV_READ);
    ev_io_start(loop, &m->io);
    ev_unref(loop); /* (it alone does not keep the loop running) */
    ev_timer_init(&m->timer, mhd_loop_timer_cb, 0., 0.);
    ev_timer_init(&m->kick, mhd_loop_kick_cb, 0., 0.);
}

void proxy_mhd_loop_stop(proxy_mhd_loop *m)
{
    ev_io_stop(m->loop, &m->io);
    ev_ref(m->loop);
    ev_timer_stop(m->loop, &m->timer);
    ev_timer_stop(m->loop, &m->kick);
}

static void http_answered_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    proxy_http *h = container_of(w, proxy_http, answered);
    http_resume_answered(h);
    proxy_mhd_loop_run(&h->ml);
}

/* "host:port" or "[v6]:port" into a socket address. */
static bool http_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[64];
    const char *colon;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof(host))
            return false;
        memcpy(host, s + 1, (size_t)(end - s - 1));
        host[end - s - 1] = '\0';
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof(host))
            return false;
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 1 || port > 65535)
        return false;
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        *len = sizeof(*in4);
        return true;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        *len = sizeof(*in6);
        return true;
    }
    return false;
}

bool proxy_http_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
    return http_parse_listen(s, ss, len);
}

bool proxy_http_listen_valid(const char *s)
{
    struct sockaddr_storage ss;
    socklen_t len;
    return !s[0] || http_parse_listen(s, &ss, &len);
}

bool http_start(proxy_server *srv, char *err, size_t errlen)
{
    const char *where = srv->cfg.http_listen;
    if (!where[0])
        return true; /* off */
    struct sockaddr_storage ss;
    socklen_t len;
    if (!http_parse_listen(where, &ss, &len)) {
        snprintf(err, errlen, "http_listen must be ADDRESS:PORT, not \"%s\"", where);
        return false;
    }
    proxy_http *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    h->srv = srv;
    snprintf(h->where, sizeof(h->where), "%s", where);
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, http_handler, h, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, (unsigned)64,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (!h->d) {
        int e = errno;
        free(h);
        if (!srv->cfg.http_listen_set) {
            /* the default address is taken (another Dormouse?): go on without it */
            proxy_log(PROXY_LOG_WARNING, "HTTP: cannot listen on %s (%s): no metrics endpoint "
                      "(set http_listen)", where, strerror(e));
            return true;
        }
        snprintf(err, errlen, "cannot listen on http_listen %s: %s", where, strerror(e));
        return false;
    }
    proxy_mhd_loop_start(&h->ml, srv->loop, h->d);
    pthread_mutex_init(&h->lock, NULL);
    ev_async_init(&h->answered, http_answered_cb);
    ev_async_start(srv->loop, &h->answered);
    srv->http = h;
    proxy_log(PROXY_LOG_INFO, "HTTP on %s: /metrics, /healthz, /v1/databases", where);
    return true;
}

void http_stop(proxy_server *srv)
{
    proxy_http *h = srv->http;
    if (!h)
        return;
    proxy_mhd_loop_stop(&h->ml);
    ev_async_stop(srv->loop, &h->answered);
    http_resume_answered(h); /* (the ledger has answered everything by now) */
    MHD_stop_daemon(h->d);
    pthread_mutex_destroy(&h->lock);
    free(h);
    srv->http = NULL;
}
