/*
 * sim_schedule.c: dm_faas_sim's seeded randomness: the random number
 * generator, the $RANDOM(a,b) query templates, and the arrival schedule that
 * a profile's phases describe.
 *
 * Every phase draws its arrivals from a stream of its own (seed, phase
 * index), and every invocation its query choices from a stream of its own
 * (seed, invocation id): editing one phase does not move the arrivals of the
 * phases before it, and the queries an invocation runs do not depend on which
 * worker thread ran it or when.
 *
 * Arrivals: a phase with a constant rate draws exponential gaps (a Poisson
 * process); spike and diurnal phases, whose rate varies, draw candidates at
 * their peak rate and keep each with probability rate(t) / peak (thinning,
 * Lewis and Shedler 1979), which is exact for any rate function.
 */
#include "faas_sim.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- random numbers: xoshiro256** seeded with splitmix64 ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void sim_rng_seed(sim_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed;
    uint64_t mixed = splitmix64(&x) ^ (stream * 0xD1B54A32D192ED03ull);
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&mixed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t sim_rng_next(sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double sim_rng_unit(sim_rng *r)
{
    return (double)(sim_rng_next(r) >> 11) * 0x1.0p-53;
}

int64_t sim_rng_range(sim_rng *r, int64_t lo, int64_t hi)
{
    uint64_t span = (uint64_t)hi - (uint64_t)lo + 1; /* 0 means the whole 64-bit range */
    if (span == 0)
        return (int64_t)sim_rng_next(r);
    /* Rejection keeps it exactly uniform (the bias of a plain modulo is tiny,
     * but this costs nothing). */
    uint64_t limit = UINT64_MAX - UINT64_MAX % span;
    uint64_t v;
    do
        v = sim_rng_next(r);
    while (v >= limit);
    return (int64_t)((uint64_t)lo + v % span);
}

/* ---- templates ---- */

static const char sim_placeholder[] = "$RANDOM";

/* An integer at s, with spaces around it, then the character sep; on
 * success returns the character after sep. */
static const char *placeholder_int(const char *s, int64_t *v, char sep)
{
    char *end;
    while (*s == ' ')
        s++;
    if (!isdigit((unsigned char)*s) && *s != '-')
        return NULL;
    *v = strtoll(s, &end, 10);
    s = end;
    while (*s == ' ')
        s++;
    return *s == sep ? s + 1 : NULL;
}

/* Parses "(a,b)" at s; on success returns the character after ')'. */
static const char *placeholder_parse(const char *s, int64_t *lo, int64_t *hi)
{
    if (*s++ != '(' || !(s = placeholder_int(s, lo, ',')))
        return NULL;
    return placeholder_int(s, hi, ')');
}

bool sim_template_check(const char *tmpl, char *err, size_t errlen)
{
    const char *p = tmpl;
    while ((p = strstr(p, sim_placeholder)) != NULL) {
        int64_t lo, hi;
        const char *after = placeholder_parse(p + strlen(sim_placeholder), &lo, &hi);
        if (!after) {
            snprintf(err, errlen,
                     "bad placeholder at \"%.20s\": expected $RANDOM(a,b) with integers a <= b", p);
            return false;
        }
        if (lo > hi) {
            snprintf(err, errlen, "$RANDOM(%" PRId64 ",%" PRId64 "): the first bound is larger", lo,
                     hi);
            return false;
        }
        p = after;
    }
    return true;
}

char *sim_template_expand(const char *tmpl, sim_rng *r)
{
    size_t cap = strlen(tmpl) + 64, len = 0;
    char *out = malloc(cap);
    if (!out)
        return NULL;
    const char *p = tmpl;
    for (;;) {
        const char *ph = strstr(p, sim_placeholder);
        size_t lit = ph ? (size_t)(ph - p) : strlen(p);
        int64_t lo = 0, hi = 0;
        const char *after = ph ? placeholder_parse(ph + strlen(sim_placeholder), &lo, &hi) : NULL;
        if (ph && !after) { /* not a placeholder after all (checked before: cannot happen) */
            lit += strlen(sim_placeholder);
        }
        if (len + lit + 24 >= cap) {
            cap = (len + lit + 24) * 2;
            char *bigger = realloc(out, cap);
            if (!bigger) {
                free(out);
                return NULL;
            }
            out = bigger;
        }
        memcpy(out + len, p, lit);
        len += lit;
        if (!ph) {
            break;
        }
        if (after) {
            len += (size_t)snprintf(out + len, cap - len, "%" PRId64, sim_rng_range(r, lo, hi));
            p = after;
        } else {
            p += lit;
        }
    }
    out[len] = '\0';
    return out;
}

char *sim_query_next(const sim_profile *p, sim_rng *r, int *which)
{
    int k = (int)sim_rng_range(r, 0, p->nqueries - 1);
    *which = k;
    return sim_template_expand(p->queries[k].text, r);
}

/* ---- the schedule ---- */

/* The arrival rate of a phase at time t (profile seconds from its start). */
static double phase_rate(const sim_phase *ph, double t)
{
    switch (ph->shape) {
    case SIM_SHAPE_STEADY:
    case SIM_SHAPE_BURST:
        return ph->rate;
    case SIM_SHAPE_LULL:
        return 0;
    case SIM_SHAPE_SPIKE:
        return t >= 0.45 * ph->duration_s && t < 0.55 * ph->duration_s ? ph->rate * ph->spike_factor
                                                                       : ph->rate;
    case SIM_SHAPE_DIURNAL:
        return ph->rate * (0.1 + 0.9 * (1 - cos(2 * M_PI * t / ph->duration_s)) / 2);
    }
    abort();
}

static double phase_peak_rate(const sim_phase *ph)
{
    if (ph->shape == SIM_SHAPE_SPIKE)
        return ph->rate * (ph->spike_factor > 1 ? ph->spike_factor : 1);
    if (ph->shape == SIM_SHAPE_LULL)
        return 0;
    return ph->rate; /* the diurnal curve peaks at rate, mid-phase */
}

static bool schedule_push(sim_schedule *s, size_t *cap, double t, int phase, char *err,
                          size_t errlen)
{
    if (s->n >= SIM_MAX_INVOCATIONS) {
        snprintf(err, errlen, "the profile schedules more than %d invocations",
                 SIM_MAX_INVOCATIONS);
        return false;
    }
    if (s->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 1024;
        sim_arrival *a = realloc(s->arrivals, ncap * sizeof(*a));
        if (!a) {
            snprintf(err, errlen, "out of memory for the schedule");
            return false;
        }
        s->arrivals = a;
        *cap = ncap;
    }
    s->arrivals[s->n].arrival_s = t;
    s->arrivals[s->n].phase = phase;
    s->n++;
    return true;
}

bool sim_schedule_build(const sim_profile *p, uint64_t seed, double time_scale, sim_schedule *out,
                        char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!(time_scale > 0) || !isfinite(time_scale)) {
        snprintf(err, errlen, "time scale: expected a number > 0, not %g", time_scale);
        return false;
    }
    size_t cap = 0;
    double phase_start = 0; /* profile time */
    for (int i = 0; i < p->nphases; i++) {
        const sim_phase *ph = &p->phases[i];
        sim_rng r;
        sim_rng_seed(&r, seed, SIM_STREAM_PHASE(i));
        size_t before = out->n;
        if (ph->shape == SIM_SHAPE_BURST)
            for (long k = 0; k < ph->burst_size; k++)
                if (!schedule_push(out, &cap, phase_start * time_scale, i, err, errlen))
                    goto fail;
        double peak = phase_peak_rate(ph);
        if (peak > 0) {
            double t = 0;
            for (;;) {
                t += -log1p(-sim_rng_unit(&r)) / peak;
                if (t >= ph->duration_s)
                    break;
                /* Always draw, so that a constant rate uses the stream as a varying one does. */
                double keep = sim_rng_unit(&r);
                if (keep * peak < phase_rate(ph, t) &&
                    !schedule_push(out, &cap, (phase_start + t) * time_scale, i, err, errlen))
                    goto fail;
            }
        }
        out->phase_start_s[i] = phase_start * time_scale;
        out->phase_duration_s[i] = ph->duration_s * time_scale;
        out->phase_count[i] = out->n - before;
        phase_start += ph->duration_s;
    }
    out->total_s = phase_start * time_scale;
    return true;
fail:
    sim_schedule_free(out);
    return false;
}

void sim_schedule_free(sim_schedule *s)
{
    if (!s)
        return;
    free(s->arrivals);
    s->arrivals = NULL;
    s->n = 0;
}
