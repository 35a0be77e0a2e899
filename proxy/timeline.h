/*
 * The live timeline behind the dashboard's "Live" section and
 * GET /v1/timeline: one sample per second of what the serverless picture
 * is made of (logins and refusals, query latency with the queries that
 * waited for a resume, cold starts, databases by state, the traffic the
 * bill counts, memory and processes), and each database's state changes,
 * for the last window_samples seconds.
 *
 * Threads.  Every loop counts into its own timeline_acc (its callbacks
 * hold the loop's lock); loop 0's pool timer, under the world lock, merges
 * and resets them into one sample a second (timeline_tick in server.c).
 * The timeline itself (samples, databases, events) belongs to loop 0: the
 * tick writes it and the HTTP handler, also on loop 0, reads it.  While
 * Dormouse sleeps at scale to zero (every database paused, no client) no
 * tick runs and no sample is taken: a reader treats a gap as no traffic
 * with the gauges of the sample before it.
 *
 * The pure parts (histogram, ring, state changes, JSON) take no lock and
 * do no I/O, but timeline_read_memory, which reads /proc.
 */
#ifndef DORMOUSE_PROXY_TIMELINE_H
#define DORMOUSE_PROXY_TIMELINE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "dormouse/proxy.h"

/* Query durations in buckets, four per power of two: with x = d + 1 (d in
 * microseconds) and 2^e <= x < 2^(e+1), bucket 4e + k holds the x in
 * [2^e (1 + k/4), 2^e (1 + (k+1)/4)), so a quantile (a bucket's upper
 * bound) is at most 25% above the truth; the last bucket holds the rest
 * (14.7 s and more), and quantiles are capped by the largest duration. */
#define TIMELINE_HIST 96

/* One loop's counts since the last tick. */
typedef struct timeline_acc {
    uint64_t logins;  /* client logins that reached ReadyForQuery */
    uint64_t refused; /* logins answered with FATAL */
    uint64_t queries, cold_queries; /* answered; of them, those that waited for a resume */
    uint64_t max_us, cold_max_us;
    uint64_t rows_read, rows_written, rows_returned, bytes_out, cpu_us; /* as metered */
    uint32_t hist[TIMELINE_HIST];
} timeline_acc;

void timeline_acc_query(timeline_acc *a, uint64_t duration_us, bool cold);
/* into += from */
void timeline_acc_merge(timeline_acc *into, const timeline_acc *from);
int timeline_hist_bucket(uint64_t duration_us);
/* The q-quantile (0 < q <= 1) of the n durations in hist, in microseconds:
 * the upper bound of the bucket that holds it, at most max_us. */
uint64_t timeline_hist_quantile(const uint32_t *hist, uint64_t n, double q, uint64_t max_us);

typedef enum timeline_state {
    TIMELINE_UP,       /* the engine is up (idle or busy) */
    TIMELINE_RESUMING, /* a cold start under way */
    TIMELINE_PAUSED,   /* scaled to zero */
} timeline_state;
const char *timeline_state_str(timeline_state s);

typedef struct timeline_sample {
    double t, seconds; /* the end of the period (wall clock, s since the epoch), its length */
    uint64_t logins, refused, queries, cold_queries, cold_starts;
    double p50_ms, p99_ms, max_ms, cold_max_ms; /* < 0: no such query */
    uint32_t clients, waiting, up, resuming, paused;
    double active_seconds; /* database-seconds up in the period */
    uint64_t rows_read, rows_written, rows_returned, bytes_out, cpu_us;
    double dormouse_mb, engine_mb; /* Pss (else RSS) of Dormouse, of the managed servers */
    uint32_t engine_processes;
} timeline_sample;

/* The sample's query fields from a merged acc. */
void timeline_sample_fill(timeline_sample *s, const timeline_acc *a);

typedef struct timeline timeline;

/* window_samples: samples kept (the window, in ticks); max_databases:
 * databases whose states are followed (later ones are not); max_events:
 * state changes kept.  NULL: out of memory. */
timeline *timeline_new(int window_samples, int max_databases, int max_events);
void timeline_free(timeline *tl);
void timeline_push(timeline *tl, const timeline_sample *s);
int timeline_nsamples(const timeline *tl);
/* The i-th kept sample, oldest first (0 <= i < timeline_nsamples). */
const timeline_sample *timeline_sample_at(const timeline *tl, int i);

/* One database as a tick sees it.  The times are wall clock seconds, 0 for
 * never: when it last finished pausing, when its last resume began and
 * when it ended.  The changes between the database's previous observation
 * and now are recorded at the times they happened, so that a pause and a
 * resume within one tick both show. */
typedef struct timeline_db_obs {
    const char *name, *engine;
    timeline_state state;
    double paused_at, resume_began, resume_ended;
} timeline_db_obs;
void timeline_observe(timeline *tl, const timeline_db_obs *o, double now);
/* State changes kept (for tests). */
int timeline_nevents(const timeline *tl);

/* GET /v1/timeline's answer (see README): the samples after since (0: all
 * kept), every followed database's state changes after since with its
 * state at since first, the plan's prices applied to each sample (list
 * prices, no allowances: what the second cost) and what an always-on
 * instance of the plan's compute size costs an hour.  plans/nplans: the
 * names offered.  NULL: out of memory. */
json_t *timeline_json(const timeline *tl, double since, double now, const billing_plan *plan,
                      const char *const *plans, int nplans);

/* The cost of one sample under p, at list prices: its traffic as the plan
 * prices it with no allowance, plus its active seconds at the plan's
 * compute price. */
double timeline_sample_cost(const billing_plan *p, const timeline_sample *s);

/* Memory from /proc: this process's, and the sum over the given server
 * processes and their children (n of them; the count goes to *procs). */
void timeline_read_memory(const pid_t *servers, int n, double *self_mb, double *servers_mb,
                          uint32_t *procs);

#endif
