/*
 * faas_sim.h: the parts of dm_faas_sim that do not touch the network: the
 * profile (an INI file, sim_profile.c), the seeded random numbers, the
 * $RANDOM(a,b) query templates and the arrival schedule (sim_schedule.c).
 * faas_sim.c runs the schedule against a server and writes the results.
 *
 * Everything here is deterministic: the same profile, seed and time scale give
 * the same schedule and the same query texts on every machine (the generator
 * is xoshiro256**, seeded through splitmix64; no libc rand()).
 *
 * Ownership: sim_profile_load() returns a profile the caller frees with
 * sim_profile_free(); sim_schedule_build() fills a schedule the caller frees
 * with sim_schedule_free(); sim_template_expand() returns a malloc'd string.
 * Nothing here keeps global state, so any thread may call any function on
 * objects it owns (a loaded profile is read-only and may be shared).
 */
#ifndef DM_FAAS_SIM_H
#define DM_FAAS_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_NAME_MAX 64 /* profile and phase names, with the NUL */
#define SIM_MAX_PHASES 64
#define SIM_MAX_STATEMENTS 256      /* setup lines, and query lines */
#define SIM_MAX_INVOCATIONS 2000000 /* a schedule larger than this is refused */

typedef enum {
    SIM_SHAPE_STEADY,  /* Poisson arrivals at rate/s */
    SIM_SHAPE_LULL,    /* no arrivals */
    SIM_SHAPE_BURST,   /* burst_size arrivals at the phase's start, then Poisson at rate */
    SIM_SHAPE_SPIKE,   /* Poisson at rate, rate * spike_factor in the middle 10% */
    SIM_SHAPE_DIURNAL, /* Poisson at rate * (0.1 + 0.9 * (1 - cos(2 pi t / duration)) / 2) */
} sim_shape;

#define SIM_SHAPE_COUNT 5

/* "steady", "lull", ...; "?" for a value outside the enum. */
const char *sim_shape_str(sim_shape shape);
bool sim_shape_parse(const char *s, sim_shape *out);

/* A setup or query line: its text (a template, see sim_template_expand) and
 * where it was written, for error messages. */
typedef struct {
    char *text;
    int line;
} sim_statement;

typedef struct {
    char name[SIM_NAME_MAX];
    int line; /* of the [phase:NAME] header */
    sim_shape shape;
    double duration_s; /* > 0, profile time (before --time-scale) */
    double rate;       /* arrivals per second; 0 when not given */
    long burst_size;
    double spike_factor; /* default 10 */
    /* Line of each key, 0 when the key was not given. */
    int shape_line, duration_line, rate_line, burst_line, spike_line;
} sim_phase;

typedef struct {
    char path[1024];
    char name[SIM_NAME_MAX];    /* default: the file name without ".ini" */
    char *description;          /* "" when not given */
    uint64_t seed;              /* default 1 */
    int max_concurrency;        /* default 100 */
    int queries_per_invocation; /* default 3 */
    double think_ms;            /* default 0 */
    sim_statement setup[SIM_MAX_STATEMENTS];
    int nsetup;
    sim_statement queries[SIM_MAX_STATEMENTS];
    int nqueries;
    sim_phase phases[SIM_MAX_PHASES];
    int nphases;
} sim_profile;

/* Loads and checks a profile.  NULL on error, with "FILE:LINE: message" (or
 * "FILE: message" for what is missing from the whole file) in err. */
sim_profile *sim_profile_load(const char *path, char *err, size_t errlen);
void sim_profile_free(sim_profile *p);

/* ---- random numbers ---- */

typedef struct {
    uint64_t s[4];
} sim_rng;

/* Seeds one independent stream: the pair (seed, stream) decides every number. */
void sim_rng_seed(sim_rng *r, uint64_t seed, uint64_t stream);
uint64_t sim_rng_next(sim_rng *r);
double sim_rng_unit(sim_rng *r);                           /* uniform in [0, 1) */
int64_t sim_rng_range(sim_rng *r, int64_t lo, int64_t hi); /* uniform in [lo, hi] */

/* The streams in use: one per phase for arrivals, one per invocation for its
 * query choices, one for the setup statements. */
#define SIM_STREAM_SETUP 1
#define SIM_STREAM_PHASE(i) (0x1000 + (uint64_t)(i))
#define SIM_STREAM_INVOCATION(id) (0x100000 + (uint64_t)(id))

/* ---- query templates ---- */

/* A template is SQL in which each "$RANDOM(a,b)" (integers, a <= b, spaces
 * allowed around them) stands for a random integer in [a, b].  Anything else
 * starting with "$RANDOM" is an error; other "$" (e.g. $1, $$) is left alone. */
bool sim_template_check(const char *tmpl, char *err, size_t errlen);
/* The template with each placeholder replaced, drawing from r in order.
 * The template must have passed sim_template_check.  NULL when out of memory. */
char *sim_template_expand(const char *tmpl, sim_rng *r);

/* The k-th query of invocation id: picks a query line uniformly with r (the
 * invocation's stream, advanced by each call) and expands it.  *which gets the
 * index of the query line.  Call it for k = 0, 1, ... in order. */
char *sim_query_next(const sim_profile *p, sim_rng *r, int *which);

/* ---- the schedule ---- */

typedef struct {
    double arrival_s; /* seconds since the run's start, scaled */
    int phase;        /* index into profile->phases */
} sim_arrival;

typedef struct {
    sim_arrival *arrivals; /* in arrival order */
    size_t n;
    double phase_start_s[SIM_MAX_PHASES];    /* scaled */
    double phase_duration_s[SIM_MAX_PHASES]; /* scaled */
    size_t phase_count[SIM_MAX_PHASES];      /* arrivals in each phase */
    double total_s;                          /* sum of the scaled durations */
} sim_schedule;

/* Computes every arrival from the profile's phases and the seed.  The
 * arrivals are drawn in profile time and then multiplied by time_scale, so a
 * scale changes when things happen, never what happens.  False, with the
 * reason in err, for a time_scale that is not a finite number > 0, or a
 * schedule of more than SIM_MAX_INVOCATIONS arrivals; out is then empty. */
bool sim_schedule_build(const sim_profile *p, uint64_t seed, double time_scale, sim_schedule *out,
                        char *err, size_t errlen);
void sim_schedule_free(sim_schedule *s);

#endif
