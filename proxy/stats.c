/*
 * Statistics for the admin console's SHOW STATS family, per database, with
 * PgBouncer's meanings:
 *
 *   xact_count, xact_time    transactions that ended (the session went back
 *                            to idle outside a block) and their durations
 *   query_count, query_time  statements answered (one per ReadyForQuery-
 *                            bound job) and the time from the client's
 *                            message to the result
 *   received, sent           bytes read from and written to the clients
 *   wait_time                time clients waited for a backend (opening it,
 *                            or held by PAUSE)
 *
 * Totals count since start.  Averages are over the last stats_period, as in
 * PgBouncer: a timer takes a snapshot every period, and an average is the
 * difference between the last two snapshots divided by the time between them
 * (per second for counts and bytes, per transaction/query/wait for times).
 * Before the first period has passed every average is 0.
 *
 * Ownership: a proxy_stats and its databases belong to the loop thread; a
 * proxy_stats_db lives as long as its proxy_stats, so sessions keep plain
 * pointers to theirs.  Sessions update the counters at their state
 * transitions (see session_set_state()).
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#define STATS_BUCKETS 1024 /* a power of two */

struct proxy_stats {
    pthread_mutex_t lock; /* the table (every loop adds its databases); the counters
                             are their home loop's, read by loop 0 under the world lock */
    proxy_stats_db *buckets[STATS_BUCKETS];
    proxy_stats_db *all; /* every database, newest first */
    int ndbs;
    pool_arena arena;    /* the proxy_stats_db records (dense: see pool.h) */
    uint64_t older_us, newer_us; /* when the two snapshots were taken */
};

uint64_t proxy_stats_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

proxy_stats *proxy_stats_new(uint64_t now_us)
{
    proxy_stats *st = calloc(1, sizeof(*st));
    if (st) {
        pthread_mutex_init(&st->lock, NULL);
        st->older_us = st->newer_us = now_us;
    }
    return st;
}

void proxy_stats_free(proxy_stats *st)
{
    if (!st)
        return;
    pthread_mutex_destroy(&st->lock);
    pool_arena_free(&st->arena); /* every proxy_stats_db */
    free(st);
}

proxy_stats_db *proxy_stats_db_get(proxy_stats *st, const char *name)
{
    if (!st)
        return NULL;
    size_t b = (size_t)(XXH3_64bits(name, strlen(name)) & (STATS_BUCKETS - 1));
    pthread_mutex_lock(&st->lock);
    proxy_stats_db *d;
    for (d = st->buckets[b]; d; d = d->hash_next)
        if (strcmp(d->name, name) == 0)
            break;
    if (!d && (d = pool_arena_alloc(&st->arena, sizeof(*d)))) { /* NULL: goes uncounted */
        snprintf(d->name, sizeof(d->name), "%s", name);
        d->hash_next = st->buckets[b];
        st->buckets[b] = d;
        d->all_next = st->all;
        st->all = d;
        st->ndbs++;
    }
    pthread_mutex_unlock(&st->lock);
    return d;
}

int proxy_stats_db_count(const proxy_stats *st)
{
    return st ? st->ndbs : 0;
}

static int stats_db_cmp(const void *a, const void *b)
{
    const proxy_stats_db *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

proxy_stats_db **proxy_stats_db_sorted(const proxy_stats *st, int *n)
{
    *n = 0;
    if (!st || st->ndbs == 0)
        return NULL;
    proxy_stats_db **v = malloc((size_t)st->ndbs * sizeof(*v));
    if (!v)
        return NULL;
    int i = 0;
    for (proxy_stats_db *d = st->all; d; d = d->all_next)
        v[i++] = d;
    qsort(v, (size_t)i, sizeof(*v), stats_db_cmp);
    *n = i;
    return v;
}

void proxy_stats_tick(proxy_stats *st, uint64_t now_us)
{
    for (proxy_stats_db *d = st->all; d; d = d->all_next) {
        d->older = d->newer;
        d->newer = d->total;
    }
    st->older_us = st->newer_us;
    st->newer_us = now_us;
}

void proxy_stats_averages(const proxy_stats *st, const proxy_stats_db *d,
                          proxy_stats_counters *avg)
{
    memset(avg, 0, sizeof(*avg));
    uint64_t dur = st->newer_us - st->older_us;
    if (dur == 0)
        return;
    const proxy_stats_counters *n = &d->newer, *o = &d->older;
    avg->xact_count = (n->xact_count - o->xact_count) * 1000000u / dur;
    avg->query_count = (n->query_count - o->query_count) * 1000000u / dur;
    avg->received = (n->received - o->received) * 1000000u / dur;
    avg->sent = (n->sent - o->sent) * 1000000u / dur;
    if (n->xact_count > o->xact_count)
        avg->xact_time_us = (n->xact_time_us - o->xact_time_us) / (n->xact_count - o->xact_count);
    if (n->query_count > o->query_count)
        avg->query_time_us =
            (n->query_time_us - o->query_time_us) / (n->query_count - o->query_count);
    if (n->wait_count > o->wait_count)
        avg->wait_time_us = (n->wait_time_us - o->wait_time_us) / (n->wait_count - o->wait_count);
}

void proxy_stats_query_done(proxy_stats_db *d, uint64_t duration_us)
{
    if (!d)
        return;
    d->total.query_count++;
    d->total.query_time_us += duration_us;
    static const double bounds[] = PROXY_STATS_HIST_BOUNDS;
    int b = 0;
    while (b < PROXY_STATS_HIST_BUCKETS - 1 && (double)duration_us > bounds[b] * 1e6)
        b++;
    d->query_hist[b]++;
}

void proxy_stats_xact_done(proxy_stats_db *d, uint64_t duration_us)
{
    if (!d)
        return;
    d->total.xact_count++;
    d->total.xact_time_us += duration_us;
}

void proxy_stats_waited(proxy_stats_db *d, uint64_t duration_us)
{
    if (!d)
        return;
    d->total.wait_count++;
    d->total.wait_time_us += duration_us;
}

static void stats_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    proxy_server *srv = container_of(w, proxy_server, stats_timer);
    server_world_lock(srv);
    proxy_stats_tick(srv->stats, proxy_stats_now_us());
    uint64_t q = 0, x = 0;
    for (proxy_stats_db *d = srv->stats->all; d; d = d->all_next) {
        q += d->newer.query_count - d->older.query_count;
        x += d->newer.xact_count - d->older.xact_count;
    }
    server_world_unlock(srv);
    proxy_log(PROXY_LOG_DEBUG, "stats: %llu queries and %llu transactions in the last %d s",
              (unsigned long long)q, (unsigned long long)x, srv->cfg.stats_period);
}

void proxy_stats_timer_start(proxy_server *srv)
{
    double period = srv->cfg.stats_period > 0 ? srv->cfg.stats_period : 60;
    ev_timer_init(&srv->stats_timer, stats_timer_cb, period, period);
    ev_timer_start(srv->loop, &srv->stats_timer);
}

void proxy_stats_timer_stop(proxy_server *srv)
{
    ev_timer_stop(srv->loop, &srv->stats_timer);
}
