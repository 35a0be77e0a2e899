/*
 * The live timeline (timeline.h): per-second samples and database state
 * changes for the dashboard and GET /v1/timeline.
 */
#include "timeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "billing.h"

/* ---- the latency histogram ---- */

int timeline_hist_bucket(uint64_t duration_us)
{
    uint64_t x = duration_us + 1;
    int e = 63 - __builtin_clzll(x);
    int sub = e >= 2 ? (int)((x >> (e - 2)) & 3) : (int)((x << (2 - e)) & 3);
    int b = 4 * e + sub;
    return b < TIMELINE_HIST ? b : TIMELINE_HIST - 1;
}

/* The largest duration bucket b holds. */
static double timeline_hist_upper(int b)
{
    int e = b / 4, sub = b % 4;
    return ldexp((4.0 + sub + 1) / 4.0, e) - 1.0; /* x = d + 1 below this */
}

void timeline_acc_query(timeline_acc *a, uint64_t duration_us, bool cold)
{
    a->queries++;
    a->hist[timeline_hist_bucket(duration_us)]++;
    if (duration_us > a->max_us)
        a->max_us = duration_us;
    if (cold) {
        a->cold_queries++;
        if (duration_us > a->cold_max_us)
            a->cold_max_us = duration_us;
    }
}

void timeline_acc_merge(timeline_acc *into, const timeline_acc *from)
{
    into->logins += from->logins;
    into->refused += from->refused;
    into->queries += from->queries;
    into->cold_queries += from->cold_queries;
    if (from->max_us > into->max_us)
        into->max_us = from->max_us;
    if (from->cold_max_us > into->cold_max_us)
        into->cold_max_us = from->cold_max_us;
    into->rows_read += from->rows_read;
    into->rows_written += from->rows_written;
    into->rows_returned += from->rows_returned;
    into->bytes_out += from->bytes_out;
    into->cpu_us += from->cpu_us;
    for (int b = 0; b < TIMELINE_HIST; b++)
        into->hist[b] += from->hist[b];
}

uint64_t timeline_hist_quantile(const uint32_t *hist, uint64_t n, double q, uint64_t max_us)
{
    if (n == 0)
        return 0;
    uint64_t rank = (uint64_t)ceil(q * (double)n); /* the rank-th smallest, 1-based */
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0;
    for (int b = 0; b < TIMELINE_HIST; b++) {
        seen += hist[b];
        if (seen >= rank) {
            double up = timeline_hist_upper(b);
            return up < (double)max_us ? (uint64_t)up : max_us;
        }
    }
    return max_us;
}

void timeline_sample_fill(timeline_sample *s, const timeline_acc *a)
{
    s->logins = a->logins;
    s->refused = a->refused;
    s->queries = a->queries;
    s->cold_queries = a->cold_queries;
    s->p50_ms = s->p99_ms = s->max_ms = s->cold_max_ms = -1;
    if (a->queries) {
        s->p50_ms = (double)timeline_hist_quantile(a->hist, a->queries, 0.5, a->max_us) / 1000.0;
        s->p99_ms = (double)timeline_hist_quantile(a->hist, a->queries, 0.99, a->max_us) / 1000.0;
        s->max_ms = (double)a->max_us / 1000.0;
    }
    if (a->cold_queries)
        s->cold_max_ms = (double)a->cold_max_us / 1000.0;
    s->rows_read = a->rows_read;
    s->rows_written = a->rows_written;
    s->rows_returned = a->rows_returned;
    s->bytes_out = a->bytes_out;
    s->cpu_us = a->cpu_us;
}

const char *timeline_state_str(timeline_state s)
{
    switch (s) {
    case TIMELINE_UP:
        return "up";
    case TIMELINE_RESUMING:
        return "resuming";
    case TIMELINE_PAUSED:
        return "paused";
    }
    return "?";
}

/* ---- the ring and the databases ---- */

typedef struct tl_db {
    char name[64], engine[16];
    timeline_state state;
    double first_t, last_t; /* its first and latest observations */
} tl_db;

typedef struct tl_event {
    double t;
    uint32_t db;
    uint8_t state, prev;
} tl_event;

struct timeline {
    timeline_sample *samples;
    int cap, head, n; /* the oldest is samples[head] */
    tl_db *dbs;
    int maxdbs, ndbs;
    int *slots; /* open addressing by name: db index + 1, 0 for empty */
    int nslots;
    tl_event *events;
    int ecap, ehead, en;
};

timeline *timeline_new(int window_samples, int max_databases, int max_events)
{
    timeline *tl = calloc(1, sizeof(*tl));
    if (!tl)
        return NULL;
    tl->cap = window_samples > 0 ? window_samples : 1;
    tl->maxdbs = max_databases > 0 ? max_databases : 1;
    tl->ecap = max_events > 0 ? max_events : 1;
    tl->nslots = 16;
    while (tl->nslots < 2 * tl->maxdbs)
        tl->nslots *= 2;
    tl->samples = calloc((size_t)tl->cap, sizeof(*tl->samples));
    tl->dbs = calloc((size_t)tl->maxdbs, sizeof(*tl->dbs));
    tl->slots = calloc((size_t)tl->nslots, sizeof(*tl->slots));
    tl->events = calloc((size_t)tl->ecap, sizeof(*tl->events));
    if (!tl->samples || !tl->dbs || !tl->slots || !tl->events) {
        timeline_free(tl);
        return NULL;
    }
    return tl;
}

void timeline_free(timeline *tl)
{
    if (!tl)
        return;
    free(tl->samples);
    free(tl->dbs);
    free(tl->slots);
    free(tl->events);
    free(tl);
}

void timeline_push(timeline *tl, const timeline_sample *s)
{
    if (tl->n < tl->cap) {
        tl->samples[(tl->head + tl->n) % tl->cap] = *s;
        tl->n++;
    } else {
        tl->samples[tl->head] = *s;
        tl->head = (tl->head + 1) % tl->cap;
    }
}

int timeline_nsamples(const timeline *tl)
{
    return tl->n;
}

const timeline_sample *timeline_sample_at(const timeline *tl, int i)
{
    return &tl->samples[(tl->head + i) % tl->cap];
}

int timeline_nevents(const timeline *tl)
{
    return tl->en;
}

static const tl_event *timeline_event_at(const timeline *tl, int i)
{
    return &tl->events[(tl->ehead + i) % tl->ecap];
}

static void timeline_event(timeline *tl, double t, int db, timeline_state st, timeline_state prev)
{
    tl_event e = {.t = t, .db = (uint32_t)db, .state = (uint8_t)st, .prev = (uint8_t)prev};
    if (tl->en < tl->ecap) {
        tl->events[(tl->ehead + tl->en) % tl->ecap] = e;
        tl->en++;
    } else {
        tl->events[tl->ehead] = e;
        tl->ehead = (tl->ehead + 1) % tl->ecap;
    }
}

/* The database's index, added if new (-1: not followed, the table is full). */
static int timeline_db(timeline *tl, const char *name, bool *added)
{
    size_t len = strnlen(name, sizeof(tl->dbs[0].name) - 1);
    int mask = tl->nslots - 1;
    int i = (int)(XXH3_64bits(name, len) & (uint64_t)mask);
    *added = false;
    for (;; i = (i + 1) & mask) {
        int k = tl->slots[i];
        if (!k)
            break;
        if (strlen(tl->dbs[k - 1].name) == len && !memcmp(tl->dbs[k - 1].name, name, len))
            return k - 1;
    }
    if (tl->ndbs == tl->maxdbs)
        return -1;
    int k = tl->ndbs++;
    memcpy(tl->dbs[k].name, name, len);
    tl->dbs[k].name[len] = '\0';
    tl->slots[i] = k + 1;
    *added = true;
    return k;
}

void timeline_observe(timeline *tl, const timeline_db_obs *o, double now)
{
    bool added;
    int k = timeline_db(tl, o->name, &added);
    if (k < 0)
        return;
    tl_db *d = &tl->dbs[k];
    snprintf(d->engine, sizeof(d->engine), "%s", o->engine ? o->engine : "");
    if (added) {
        d->state = o->state;
        d->first_t = d->last_t = now;
        timeline_event(tl, now, k, o->state, o->state);
        return;
    }
    /* what happened since the previous look, in the order it happened */
    struct {
        double t;
        timeline_state st;
    } c[4];
    int n = 0;
    if (o->resume_began > d->last_t && o->resume_began <= now)
        c[n].t = o->resume_began, c[n++].st = TIMELINE_RESUMING;
    if (o->resume_ended > d->last_t && o->resume_ended <= now)
        c[n].t = o->resume_ended, c[n++].st = TIMELINE_UP;
    if (o->paused_at > d->last_t && o->paused_at <= now)
        c[n].t = o->paused_at, c[n++].st = TIMELINE_PAUSED;
    for (int i = 1; i < n; i++) /* insertion sort, stable */
        for (int j = i; j > 0 && c[j].t < c[j - 1].t; j--) {
            __typeof__(c[0]) x = c[j];
            c[j] = c[j - 1];
            c[j - 1] = x;
        }
    c[n].t = now, c[n++].st = o->state;
    timeline_state cur = d->state;
    for (int i = 0; i < n; i++) {
        if (c[i].st == cur)
            continue;
        timeline_event(tl, c[i].t, k, c[i].st, cur);
        cur = c[i].st;
    }
    d->state = o->state;
    d->last_t = now;
}

/* ---- the answer ---- */

double timeline_sample_cost(const billing_plan *p, const timeline_sample *s)
{
    billing_plan list = *p; /* list prices: no allowance applies to one second */
    list.included_rows_read = list.included_rows_written = 0;
    list.included_compute_hours = list.included_gb_month = list.included_gb_transfer = 0;
    list.included_queries = list.included_request_units = 0;
    list.min_billing_seconds = 1;
    billing_usage u = {.queries = s->queries,
                       .rows_read = s->rows_read,
                       .rows_written = s->rows_written,
                       .rows_returned = s->rows_returned,
                       .bytes_out = s->bytes_out,
                       .cpu_us = s->cpu_us};
    billing_bill b;
    billing_compute(&list, &u, &b);
    return b.total + s->active_seconds * p->price_per_compute_hour * p->compute_units / 3600.0;
}

static json_t *timeline_ms(double v)
{
    return v < 0 ? json_null() : json_real(v);
}

static json_t *timeline_sample_json(const timeline_sample *s, const billing_plan *plan)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_object_set_new(o, "t", json_real(s->t));
    json_object_set_new(o, "seconds", json_real(s->seconds));
    json_object_set_new(o, "logins", json_integer((json_int_t)s->logins));
    json_object_set_new(o, "refused", json_integer((json_int_t)s->refused));
    json_object_set_new(o, "clients", json_integer(s->clients));
    json_object_set_new(o, "waiting", json_integer(s->waiting));
    json_object_set_new(o, "queries", json_integer((json_int_t)s->queries));
    json_object_set_new(o, "p50_ms", timeline_ms(s->p50_ms));
    json_object_set_new(o, "p99_ms", timeline_ms(s->p99_ms));
    json_object_set_new(o, "max_ms", timeline_ms(s->max_ms));
    json_object_set_new(o, "cold_queries", json_integer((json_int_t)s->cold_queries));
    json_object_set_new(o, "cold_max_ms", timeline_ms(s->cold_max_ms));
    json_object_set_new(o, "cold_starts", json_integer((json_int_t)s->cold_starts));
    json_object_set_new(o, "up", json_integer(s->up));
    json_object_set_new(o, "resuming", json_integer(s->resuming));
    json_object_set_new(o, "paused", json_integer(s->paused));
    json_object_set_new(o, "active_seconds", json_real(s->active_seconds));
    json_object_set_new(o, "rows_read", json_integer((json_int_t)s->rows_read));
    json_object_set_new(o, "rows_written", json_integer((json_int_t)s->rows_written));
    json_object_set_new(o, "rows_returned", json_integer((json_int_t)s->rows_returned));
    json_object_set_new(o, "bytes_out", json_integer((json_int_t)s->bytes_out));
    json_object_set_new(o, "cpu_ms", json_real((double)s->cpu_us / 1000.0));
    json_object_set_new(o, "cost_usd", json_real(plan ? timeline_sample_cost(plan, s) : 0));
    json_object_set_new(o, "dormouse_mb", json_real(s->dormouse_mb));
    json_object_set_new(o, "engine_mb", json_real(s->engine_mb));
    json_object_set_new(o, "engine_processes", json_integer(s->engine_processes));
    return o;
}

json_t *timeline_json(const timeline *tl, double since, double now, const billing_plan *plan,
                      const char *const *plans, int nplans)
{
    json_t *samples = json_array(), *states = json_array(), *dbs = json_array();
    json_t *names = json_array();
    json_t *o = json_object();
    bool ok = samples && states && dbs && names && o;
    /* nothing older than the window (the ring keeps samples from before a
     * sleep at zero however old they are) */
    double oldest = now - (double)tl->cap;
    if (since < oldest)
        since = oldest;
    for (int i = 0; ok && i < tl->n; i++) {
        const timeline_sample *s = timeline_sample_at(tl, i);
        if (s->t > since)
            ok = !json_array_append_new(samples, timeline_sample_json(s, plan));
    }
    /* the window starts at since, or where the oldest sample's period began */
    double start = since;
    if (tl->n) {
        const timeline_sample *first = timeline_sample_at(tl, 0);
        if (first->t - first->seconds > start)
            start = first->t - first->seconds;
    }
    if (tl->en && timeline_event_at(tl, 0)->t > since && timeline_event_at(tl, 0)->t < start)
        start = timeline_event_at(tl, 0)->t;
    /* each database's state at the start: the latest change at or before
     * it, or what the first change after it changed from (one pass) */
    uint8_t *at_start = malloc((size_t)(tl->ndbs ? tl->ndbs : 1));
    uint8_t *seen = calloc((size_t)(tl->ndbs ? tl->ndbs : 1), 1); /* 1: before, 2: after */
    ok = ok && at_start && seen;
    for (int k = 0; ok && k < tl->ndbs; k++)
        at_start[k] = (uint8_t)tl->dbs[k].state;
    for (int i = 0; ok && i < tl->en; i++) {
        const tl_event *e = timeline_event_at(tl, i);
        if (e->t <= start) {
            at_start[e->db] = e->state;
            seen[e->db] = 1;
        } else if (!seen[e->db]) {
            at_start[e->db] = e->prev;
            seen[e->db] = 2;
        }
    }
    for (int k = 0; ok && k < tl->ndbs; k++) {
        /* (from when it was first seen, if that is later) */
        double t = tl->dbs[k].first_t > start ? tl->dbs[k].first_t : start;
        ok = !json_array_append_new(states, json_pack("{s:s, s:f, s:s}", "database",
                                                      tl->dbs[k].name, "t", t, "state",
                                                      timeline_state_str((timeline_state)at_start[k])));
    }
    free(at_start);
    free(seen);
    for (int i = 0; ok && i < tl->en; i++) {
        const tl_event *e = timeline_event_at(tl, i);
        if (e->t > start && e->state != e->prev)
            ok = !json_array_append_new(
                states, json_pack("{s:s, s:f, s:s}", "database", tl->dbs[e->db].name, "t", e->t,
                                  "state", timeline_state_str((timeline_state)e->state)));
    }
    for (int k = 0; ok && k < tl->ndbs; k++)
        ok = !json_array_append_new(dbs, json_pack("{s:s, s:s, s:s}", "name", tl->dbs[k].name,
                                                   "engine", tl->dbs[k].engine, "state",
                                                   timeline_state_str(tl->dbs[k].state)));
    for (int i = 0; ok && i < nplans; i++)
        ok = !json_array_append_new(names, json_string(plans[i]));
    json_t *p = plan ? json_pack("{s:s, s:f}", "name", plan->name, "compute_usd_per_hour",
                                 plan->price_per_compute_hour * plan->compute_units)
                     : json_null();
    ok = ok && p && !json_object_set_new(o, "now", json_real(now)) &&
         !json_object_set_new(o, "interval_seconds", json_integer(1)) &&
         !json_object_set_new(o, "window_seconds", json_integer(tl->cap)) &&
         !json_object_set_new(o, "plan", p) && !json_object_set_new(o, "plans", names) &&
         !json_object_set_new(o, "samples", samples) && !json_object_set_new(o, "states", states) &&
         !json_object_set_new(o, "databases", dbs);
    if (!ok) {
        json_decref(o);
        return NULL; /* (json_object_set_new took what it was given, even on failure) */
    }
    return o;
}

/* ---- memory, from /proc ---- */

/* Pss in kB (Rss if the kernel has no smaps_rollup); 0: gone. */
static double timeline_proc_kb(const char *pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%s/smaps_rollup", pid);
    FILE *f = fopen(path, "r");
    double rss = 0, pss = -1;
    if (f) {
        while (fgets(line, sizeof(line), f)) {
            unsigned long long kb;
            if (sscanf(line, "Pss: %llu kB", &kb) == 1)
                pss = (double)kb;
            else if (sscanf(line, "Rss: %llu kB", &kb) == 1)
                rss = (double)kb;
        }
        fclose(f);
        return pss >= 0 ? pss : rss;
    }
    snprintf(path, sizeof(path), "/proc/%s/statm", pid);
    f = fopen(path, "r");
    if (!f)
        return 0;
    unsigned long long size, res;
    if (fscanf(f, "%llu %llu", &size, &res) == 2)
        rss = (double)res * (double)sysconf(_SC_PAGESIZE) / 1024.0;
    fclose(f);
    return rss;
}

void timeline_read_memory(const pid_t *servers, int n, double *self_mb, double *servers_mb,
                          uint32_t *procs)
{
    *self_mb = timeline_proc_kb("self") / 1024.0;
    double kb = 0;
    uint32_t count = 0;
    for (int i = 0; i < n; i++) {
        char pid[24], path[80];
        snprintf(pid, sizeof(pid), "%d", (int)servers[i]);
        double mine = timeline_proc_kb(pid);
        if (mine <= 0)
            continue;
        kb += mine;
        count++;
        snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)servers[i], (int)servers[i]);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        int child;
        while (fscanf(f, "%d", &child) == 1) {
            snprintf(pid, sizeof(pid), "%d", child);
            double c = timeline_proc_kb(pid);
            if (c > 0) {
                kb += c;
                count++;
            }
        }
        fclose(f);
    }
    *servers_mb = kb / 1024.0;
    *procs = count;
}
