/*
 * The live timeline's side in the server (timeline.h has the data and the
 * JSON): the pool tick turns the loops' counts and the databases' states
 * into a sample, and GET /v1/timeline answers from it.  Loop 0 only.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "billing.h"

#define LIVE_WINDOW 600      /* samples kept: ten minutes */
#define LIVE_DATABASES 256   /* databases whose state changes are followed */
#define LIVE_EVENTS 8192     /* state changes kept */
#define LIVE_MAX_SERVERS 64  /* managed postmasters whose memory is read */

static double live_wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

bool live_init(proxy_server *srv)
{
    srv->timeline = timeline_new(LIVE_WINDOW, LIVE_DATABASES, LIVE_EVENTS);
    return srv->timeline != NULL;
}

void live_free(proxy_server *srv)
{
    timeline_free(srv->timeline);
    srv->timeline = NULL;
}

/* Without an HTTP surface nobody can read the timeline: no work for it. */
static bool live_wanted(const proxy_server *srv)
{
    return srv->timeline && srv->http;
}

void live_read_memory(proxy_server *srv)
{
    if (!live_wanted(srv))
        return;
    pid_t pids[LIVE_MAX_SERVERS];
    int n = managed_pids(srv, pids, LIVE_MAX_SERVERS);
    timeline_read_memory(pids, n, &srv->live_self_mb, &srv->live_engine_mb,
                         &srv->live_engine_procs);
}

struct live_walk {
    proxy_server *srv;
    timeline_sample *s;
    double now;
    uint64_t cold_starts, up_us;
};

static void live_db(const pool_db *db, void *arg)
{
    struct live_walk *w = arg;
    pool_db_lifecycle lc;
    pool_db_lifecycle_get(db, &lc);
    timeline_db_obs o = {
        .name = pool_db_name(db),
        .engine = pool_db_managed(db) ? "managed" : storage_kind_str(pool_db_engine(db)),
        .state = lc.state == POOL_DB_PAUSED     ? TIMELINE_PAUSED
                 : lc.state == POOL_DB_RESUMING ? TIMELINE_RESUMING
                                                : TIMELINE_UP,
    };
    if (lc.since_pause_us)
        o.paused_at = w->now - (double)lc.since_pause_us / 1e6;
    if (lc.since_resume_us) {
        o.resume_ended = w->now - (double)lc.since_resume_us / 1e6;
        o.resume_began = o.resume_ended - (double)lc.last_resume_us / 1e6;
    }
    timeline_observe(w->srv->timeline, &o, w->now);
    if (o.state == TIMELINE_PAUSED)
        w->s->paused++;
    else if (o.state == TIMELINE_RESUMING)
        w->s->resuming++;
    else
        w->s->up++;
    w->cold_starts += lc.cold_starts;
    w->up_us += lc.up_us;
}

void live_tick(proxy_server *srv)
{
    if (!live_wanted(srv))
        return;
    timeline_acc acc;
    memset(&acc, 0, sizeof(acc));
    for (int k = 0; k < srv->nloops; k++) {
        timeline_acc_merge(&acc, &srv->loops[k].tl_acc);
        memset(&srv->loops[k].tl_acc, 0, sizeof(srv->loops[k].tl_acc));
    }
    timeline_sample s;
    memset(&s, 0, sizeof(s));
    timeline_sample_fill(&s, &acc);
    double now = live_wall_now();
    double gap = srv->live_last_t > 0 ? now - srv->live_last_t : 1.0;
    s.t = now;
    s.seconds = gap > 0 && gap <= 1.5 ? gap : 1.0; /* after a sleep at zero: the last second */
    for (proxy_session *x = server_sessions_first(srv); x; x = server_sessions_next(srv, x)) {
        if (x->admin)
            continue;
        s.clients++;
        if (x->state == SESSION_WAITING || x->state == SESSION_OPENING)
            s.waiting++;
    }
    struct live_walk w = {.srv = srv, .s = &s, .now = now};
    if (srv->pool)
        pool_db_foreach(srv->pool, live_db, &w);
    bool first = srv->live_last_t <= 0;
    s.cold_starts = !first && w.cold_starts > srv->live_cold_starts
                        ? w.cold_starts - srv->live_cold_starts
                        : 0;
    s.active_seconds = !first && w.up_us > srv->live_up_us
                           ? (double)(w.up_us - srv->live_up_us) / 1e6
                           : 0;
    srv->live_cold_starts = w.cold_starts;
    srv->live_up_us = w.up_us;
    srv->live_last_t = now;
    s.dormouse_mb = srv->live_self_mb;
    s.engine_mb = srv->live_engine_mb;
    s.engine_processes = srv->live_engine_procs;
    timeline_push(srv->timeline, &s);
}

char *live_json(proxy_server *srv, double since, const char *plan, char *err, size_t errlen,
                unsigned *status)
{
    const billing_plan *plans[PROXY_MAX_PLANS + 8];
    const char *names[PROXY_MAX_PLANS + 8];
    int n = meter_plans(srv, plans, PROXY_MAX_PLANS + 8);
    const billing_plan *chosen = n ? plans[0] : NULL;
    for (int i = 0; i < n; i++) {
        names[i] = plans[i]->name;
        if (plan && !strcmp(plan, plans[i]->name))
            chosen = plans[i];
    }
    if (plan && (!chosen || strcmp(plan, chosen->name) != 0)) {
        snprintf(err, errlen, "plan: no such plan: %.100s", plan);
        *status = 400;
        return NULL;
    }
    json_t *o = srv->timeline ? timeline_json(srv->timeline, since, live_wall_now(), chosen, names, n)
                              : NULL;
    char *body = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(o);
    if (!body) {
        snprintf(err, errlen, "out of memory");
        *status = 500;
    }
    return body;
}
