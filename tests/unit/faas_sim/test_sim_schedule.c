/*
 * Unit tests for bench/faas-sim/sim_schedule.c: the arrival schedule of every
 * shipped profile is well formed (sorted, inside its phase, counts adding up),
 * matches what the profile's phases imply (burst sizes exactly, Poisson
 * counts and the shapes' rates statistically), is reproducible from a seed,
 * scales with --time-scale without changing what happens, and refuses what it
 * cannot do; plus the random numbers and $RANDOM(a,b) templates it draws from.
 */
#include "faas_sim_test.h"

#include <math.h>

static sim_schedule build(const sim_profile *p, uint64_t seed, double scale)
{
    sim_schedule s;
    char err[256];
    ck_assert_msg(sim_schedule_build(p, seed, scale, &s, err, sizeof(err)), "%s", err);
    return s;
}

/* The arrival rate at t seconds into a phase, as faas_sim.h documents each shape. */
static double documented_rate(const sim_phase *ph, double t)
{
    switch (ph->shape) {
    case SIM_SHAPE_STEADY:
    case SIM_SHAPE_BURST:
        return ph->rate;
    case SIM_SHAPE_LULL:
        return 0;
    case SIM_SHAPE_SPIKE: /* rate * spike_factor in the middle 10% */
        return t >= 0.45 * ph->duration_s && t < 0.55 * ph->duration_s ? ph->rate * ph->spike_factor
                                                                       : ph->rate;
    case SIM_SHAPE_DIURNAL:
        return ph->rate * (0.1 + 0.9 * (1 - cos(2 * M_PI * t / ph->duration_s)) / 2);
    }
    ck_abort_msg("bad shape %d", ph->shape);
    return 0;
}

/* Expected arrivals in [a, b) seconds of a phase: the rate's integral (midpoint
 * rule, exact for the spike's steps, which fall on window edges), plus the
 * burst at 0. */
static double expected_arrivals(const sim_phase *ph, double a, double b)
{
    const int steps = 2000;
    double sum = 0, h = (b - a) / steps;
    for (int i = 0; i < steps; i++)
        sum += documented_rate(ph, a + (i + 0.5) * h) * h;
    if (ph->shape == SIM_SHAPE_BURST && a <= 0)
        sum += (double)ph->burst_size;
    return sum;
}

/* Everything that must hold of any schedule of p, whatever the seed. */
static void assert_well_formed(const sim_profile *p, const sim_schedule *s, double scale)
{
    double start = 0;
    size_t total = 0;
    for (int i = 0; i < p->nphases; i++) {
        ck_assert_double_eq(s->phase_start_s[i], start * scale);
        ck_assert_double_eq(s->phase_duration_s[i], p->phases[i].duration_s * scale);
        start += p->phases[i].duration_s;
        total += s->phase_count[i];
    }
    ck_assert_double_eq(s->total_s, start * scale);
    ck_assert_uint_eq(total, s->n);
    ck_assert(s->n == 0 || s->arrivals != NULL);

    size_t k = 0;
    for (int i = 0; i < p->nphases; i++) {
        const sim_phase *ph = &p->phases[i];
        double lo = s->phase_start_s[i], hi = lo + s->phase_duration_s[i];
        for (size_t j = 0; j < s->phase_count[i]; j++, k++) {
            const sim_arrival *a = &s->arrivals[k];
            ck_assert_int_eq(a->phase, i);
            ck_assert_msg(a->arrival_s >= lo && a->arrival_s < hi,
                          "%s: arrival %zu at %.9f outside phase %s [%.9f, %.9f)", p->name, k,
                          a->arrival_s, ph->name, lo, hi);
            ck_assert(a->arrival_s >= 0 && a->arrival_s < s->total_s);
            if (k > 0)
                ck_assert_msg(a->arrival_s >= s->arrivals[k - 1].arrival_s,
                              "%s: arrival %zu before the one ahead of it", p->name, k);
            if (ph->shape == SIM_SHAPE_BURST && (long)j < ph->burst_size)
                ck_assert_double_eq(a->arrival_s, lo); /* the burst: all at the phase's start */
        }
        switch (ph->shape) {
        case SIM_SHAPE_LULL:
            ck_assert_uint_eq(s->phase_count[i], 0);
            break;
        case SIM_SHAPE_BURST:
            ck_assert_uint_ge(s->phase_count[i], (size_t)ph->burst_size);
            if (ph->rate == 0)
                ck_assert_uint_eq(s->phase_count[i], (size_t)ph->burst_size);
            break;
        default:
            break;
        }
        /* The Poisson part: within 6 standard deviations of its mean. */
        double mean = expected_arrivals(ph, 0, ph->duration_s);
        double fixed = ph->shape == SIM_SHAPE_BURST ? (double)ph->burst_size : 0;
        double sd = sqrt(mean - fixed);
        ck_assert_msg(fabs((double)s->phase_count[i] - mean) <= 6 * sd + 1e-9,
                      "%s: phase %s has %zu arrivals, expected %.1f +- %.1f", p->name, ph->name,
                      s->phase_count[i], mean, sd);
    }
}

START_TEST(test_shipped_schedules_are_well_formed)
{
    char *paths[FS_MAX_SHIPPED];
    int n = fs_shipped(paths, FS_MAX_SHIPPED);
    for (int i = 0; i < n; i++) {
        char err[1600];
        sim_profile *p = sim_profile_load(paths[i], err, sizeof(err));
        ck_assert_msg(p != NULL, "%s", err);
        for (uint64_t seed = 0; seed <= (getenv("DM_VALGRIND") ? 5 : 30); seed++) {
            uint64_t sd = seed == 0 ? p->seed : seed;
            sim_schedule s = build(p, sd, 1);
            assert_well_formed(p, &s, 1);
            sim_schedule_free(&s);
        }
        sim_profile_free(p);
    }
    fs_shipped_free(paths, n);
}
END_TEST

/* The README: bursts lasts 54 s, with bursts of 200 and 300 invocations (at
 * 8 + 10 = 18 s and 18 + 5 + 10 = 33 s), and its last run (seed 42) had 830
 * invocations.  The schedule is the same on every machine (faas_sim.h), so
 * that number is pinned here, as is the first arrival of tiny's dry run. */
START_TEST(test_bursts_documented_totals)
{
    sim_profile *p = fs_load_shipped("bursts");
    sim_schedule s = build(p, p->seed, 1);
    ck_assert_double_eq(s.total_s, 54);
    ck_assert_int_eq(p->nphases, 7);
    ck_assert_double_eq(s.phase_start_s[2], 18);
    ck_assert_uint_eq(s.phase_count[2], 200);
    ck_assert_double_eq(s.phase_start_s[4], 33);
    ck_assert_uint_ge(s.phase_count[4], 300);
    size_t at18 = 0, at33 = 0;
    for (size_t k = 0; k < s.n; k++) {
        at18 += s.arrivals[k].arrival_s == 18;
        at33 += s.arrivals[k].arrival_s == 33;
    }
    ck_assert_uint_eq(at18, 200);
    ck_assert_uint_eq(at33, 300);
    ck_assert_uint_eq(s.phase_count[1] + s.phase_count[3] + s.phase_count[5], 0);
    /* Poisson means: warm 8 s x 20/s, burst2's trickle 6 s x 20/s, cool 5 s x 10/s. */
    ck_assert_double_eq_tol(expected_arrivals(&p->phases[0], 0, 8), 160, 1e-6);
    ck_assert_double_eq_tol(expected_arrivals(&p->phases[4], 0, 6), 300 + 120, 1e-6);
    ck_assert_double_eq_tol(expected_arrivals(&p->phases[6], 0, 5), 50, 1e-6);
    ck_assert_uint_eq(s.n, 830);
    sim_schedule_free(&s);
    sim_profile_free(p);

    p = fs_load_shipped("tiny");
    s = build(p, p->seed, 1);
    ck_assert_uint_eq(s.phase_count[2], 10);
    ck_assert_uint_eq(s.n, 17);
    ck_assert_double_eq_tol(s.arrivals[0].arrival_s, 0.266034, 1e-6);
    sim_schedule_free(&s);
    sim_profile_free(p);
}
END_TEST

START_TEST(test_same_seed_same_schedule)
{
    char *paths[FS_MAX_SHIPPED];
    int n = fs_shipped(paths, FS_MAX_SHIPPED);
    for (int i = 0; i < n; i++) {
        char err[1600];
        sim_profile *p = sim_profile_load(paths[i], err, sizeof(err));
        ck_assert_msg(p != NULL, "%s", err);
        sim_schedule a = build(p, 1234, 1), b = build(p, 1234, 1);
        ck_assert_uint_eq(a.n, b.n);
        for (size_t k = 0; k < a.n; k++) {
            ck_assert_double_eq(a.arrivals[k].arrival_s, b.arrivals[k].arrival_s);
            ck_assert_int_eq(a.arrivals[k].phase, b.arrivals[k].phase);
        }
        ck_assert_int_eq(memcmp(a.phase_count, b.phase_count, sizeof(a.phase_count)), 0);
        sim_schedule_free(&b);

        /* Another seed: other arrival times in each Poisson phase, the same bursts. */
        b = build(p, 1235, 1);
        size_t ka = 0, kb = 0;
        for (int ph = 0; ph < p->nphases; ph++) {
            const sim_phase *phase = &p->phases[ph];
            size_t fixed = phase->shape == SIM_SHAPE_BURST ? (size_t)phase->burst_size : 0;
            for (size_t j = 0; j < fixed; j++)
                ck_assert_double_eq(a.arrivals[ka + j].arrival_s, b.arrivals[kb + j].arrival_s);
            size_t na = a.phase_count[ph] - fixed, nb = b.phase_count[ph] - fixed;
            if (na > 0 && nb > 0) {
                size_t same = 0;
                for (size_t j = 0; j < na && j < nb; j++)
                    same += a.arrivals[ka + fixed + j].arrival_s ==
                            b.arrivals[kb + fixed + j].arrival_s;
                ck_assert_msg(same == 0,
                              "%s: phase %s: %zu arrivals at the same time under "
                              "seeds 1234 and 1235",
                              p->name, phase->name, same);
            }
            ka += a.phase_count[ph];
            kb += b.phase_count[ph];
        }
        sim_schedule_free(&a);
        sim_schedule_free(&b);
        sim_profile_free(p);
    }
    fs_shipped_free(paths, n);
}
END_TEST

/* A profile that fixes its count (bursts only) has that count under any seed. */
START_TEST(test_fixed_count_under_any_seed)
{
    sim_profile *p = fs_load_ok("[profile]\nquery = select 1\n"
                                "[phase:a]\nshape = burst\nduration_s = 2\nburst_size = 7\n"
                                "[phase:b]\nshape = lull\nduration_s = 1.5\n"
                                "[phase:c]\nshape = burst\nduration_s = 1\nburst_size = 5\n");
    for (uint64_t seed = 0; seed < 50; seed++) {
        sim_schedule s = build(p, seed, 1);
        ck_assert_uint_eq(s.n, 12);
        ck_assert_uint_eq(s.phase_count[0], 7);
        ck_assert_uint_eq(s.phase_count[1], 0);
        ck_assert_uint_eq(s.phase_count[2], 5);
        ck_assert_double_eq(s.arrivals[6].arrival_s, 0);
        ck_assert_double_eq(s.arrivals[7].arrival_s, 3.5);
        ck_assert_double_eq(s.total_s, 4.5);
        sim_schedule_free(&s);
    }
    sim_profile_free(p);
}
END_TEST

/* Each phase draws from its own stream: editing a phase moves none of the
 * arrivals of the others, other than shifting the later ones in time. */
START_TEST(test_phase_streams_are_independent)
{
    sim_profile *p = fs_load_shipped("bursts");
    sim_schedule a = build(p, 42, 1);
    p->phases[4].rate = 50;       /* burst2's trickle */
    p->phases[1].duration_s += 3; /* lull1: later phases start 3 s later */
    sim_schedule b = build(p, 42, 1);
    size_t ka = 0, kb = 0;
    for (int ph = 0; ph < p->nphases; ph++) {
        if (ph != 4) {
            ck_assert_uint_eq(a.phase_count[ph], b.phase_count[ph]);
            double shift = ph >= 2 ? 3 : 0;
            for (size_t j = 0; j < a.phase_count[ph]; j++)
                ck_assert_double_eq_tol(b.arrivals[kb + j].arrival_s,
                                        a.arrivals[ka + j].arrival_s + shift, 1e-9);
        } else {
            ck_assert_uint_gt(b.phase_count[ph], a.phase_count[ph]);
        }
        ka += a.phase_count[ph];
        kb += b.phase_count[ph];
    }
    sim_schedule_free(&a);
    sim_schedule_free(&b);
    sim_profile_free(p);
}
END_TEST

/* --time-scale changes when things happen, never what happens. */
START_TEST(test_time_scale)
{
    static const double scales[] = {0.1, 0.5, 2.5, 1000};
    char *paths[FS_MAX_SHIPPED];
    int n = fs_shipped(paths, FS_MAX_SHIPPED);
    for (int i = 0; i < n; i++) {
        char err[1600];
        sim_profile *p = sim_profile_load(paths[i], err, sizeof(err));
        ck_assert_msg(p != NULL, "%s", err);
        sim_schedule one = build(p, p->seed, 1);
        for (size_t k = 0; k < sizeof(scales) / sizeof(scales[0]); k++) {
            sim_schedule s = build(p, p->seed, scales[k]);
            assert_well_formed(p, &s, scales[k]);
            ck_assert_uint_eq(s.n, one.n);
            ck_assert_double_eq(s.total_s, one.total_s * scales[k]);
            for (size_t j = 0; j < s.n; j++) {
                ck_assert_int_eq(s.arrivals[j].phase, one.arrivals[j].phase);
                ck_assert_double_eq(s.arrivals[j].arrival_s, one.arrivals[j].arrival_s * scales[k]);
            }
            sim_schedule_free(&s);
        }
        sim_schedule_free(&one);
        sim_profile_free(p);
    }
    fs_shipped_free(paths, n);
}
END_TEST

START_TEST(test_bad_time_scale)
{
    static const double bad[] = {0, -0.0, -1, NAN, INFINITY, -INFINITY};
    sim_profile *p = fs_load_shipped("tiny");
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        sim_schedule s;
        char err[256] = "";
        ck_assert(!sim_schedule_build(p, 1, bad[k], &s, err, sizeof(err)));
        ck_assert_msg(strstr(err, "time scale: expected a number > 0") != NULL, "%s", err);
        ck_assert_ptr_null(s.arrivals);
        ck_assert_uint_eq(s.n, 0);
        sim_schedule_free(&s);
    }
    sim_profile_free(p);
}
END_TEST

/* Averaged over many seeds, the arrivals in each twentieth of a phase match
 * the rate its shape documents (the spike's step falls on window edges). */
START_TEST(test_rates_follow_the_shapes)
{
    enum { WINDOWS = 20 };
    const uint64_t seeds = getenv("DM_VALGRIND") ? 40 : 200; /* valgrind runs ~50 times slower */
    char *paths[FS_MAX_SHIPPED];
    int n = fs_shipped(paths, FS_MAX_SHIPPED);
    for (int i = 0; i < n; i++) {
        char err[1600];
        sim_profile *p = sim_profile_load(paths[i], err, sizeof(err));
        ck_assert_msg(p != NULL, "%s", err);
        static double counts[SIM_MAX_PHASES][WINDOWS];
        memset(counts, 0, sizeof(counts));
        for (uint64_t seed = 1; seed <= seeds; seed++) {
            sim_schedule s = build(p, seed, 1);
            for (size_t k = 0; k < s.n; k++) {
                int ph = s.arrivals[k].phase;
                double t = s.arrivals[k].arrival_s - s.phase_start_s[ph];
                int w = (int)(t / s.phase_duration_s[ph] * WINDOWS);
                ck_assert(w >= 0 && w < WINDOWS);
                counts[ph][w]++;
            }
            sim_schedule_free(&s);
        }
        for (int ph = 0; ph < p->nphases; ph++) {
            const sim_phase *phase = &p->phases[ph];
            double d = phase->duration_s;
            for (int w = 0; w < WINDOWS; w++) {
                double want = expected_arrivals(phase, d * w / WINDOWS, d * (w + 1) / WINDOWS);
                double fixed = phase->shape == SIM_SHAPE_BURST && w == 0 ? phase->burst_size : 0;
                double mean = counts[ph][w] / (double)seeds;
                double sd = sqrt((want - fixed) / (double)seeds);
                ck_assert_msg(fabs(mean - want) <= 5 * sd + 1e-6,
                              "%s: phase %s, window %d: %.2f arrivals on average, expected %.2f",
                              p->name, phase->name, w, mean, want);
            }
        }
        sim_profile_free(p);
    }
    fs_shipped_free(paths, n);
}
END_TEST

/* The spike: twenty times the rate in the middle tenth, so about 600 of
 * spike.ini's arrivals fall there (3 s x 200/s) and 30 in each other 3 s. */
START_TEST(test_spike_profile_peak)
{
    sim_profile *p = fs_load_shipped("spike");
    ck_assert_double_eq_tol(expected_arrivals(&p->phases[1], 13.5, 16.5), 600, 1e-6);
    ck_assert_double_eq_tol(expected_arrivals(&p->phases[1], 0, 3), 30, 1e-6);
    sim_schedule s = build(p, p->seed, 1);
    size_t mid = 0;
    for (size_t k = 0; k < s.n; k++)
        mid += s.arrivals[k].arrival_s >= 23.5 && s.arrivals[k].arrival_s < 26.5;
    ck_assert_msg(mid > 600 - 6 * sqrt(600) && mid < 600 + 6 * sqrt(600), "%zu", mid);
    sim_schedule_free(&s);
    sim_profile_free(p);
}
END_TEST

/* More than SIM_MAX_INVOCATIONS arrivals are refused (and nothing leaks);
 * exactly that many are fine. */
START_TEST(test_too_many_invocations)
{
    sim_profile *p = fs_load_ok("[profile]\nquery = select 1\n"
                                "[phase:a]\nshape = burst\nduration_s = 1\nburst_size = 2000000\n");
    sim_schedule s = build(p, 1, 1);
    ck_assert_uint_eq(s.n, SIM_MAX_INVOCATIONS);
    sim_schedule_free(&s);
    sim_profile_free(p);

    p = fs_load_ok("[profile]\nquery = select 1\n"
                   "[phase:a]\nshape = burst\nduration_s = 1\nburst_size = 2000000\n"
                   "[phase:b]\nshape = burst\nduration_s = 1\nburst_size = 1\n");
    char err[256];
    ck_assert(!sim_schedule_build(p, 1, 1, &s, err, sizeof(err)));
    ck_assert_str_eq(err, "the profile schedules more than 2000000 invocations");
    ck_assert_ptr_null(s.arrivals);
    ck_assert_uint_eq(s.n, 0);
    sim_profile_free(p);
}
END_TEST

START_TEST(test_schedule_free)
{
    sim_schedule_free(NULL);
    sim_profile *p = fs_load_shipped("tiny");
    sim_schedule s = build(p, 3, 1);
    sim_schedule_free(&s);
    ck_assert_ptr_null(s.arrivals);
    ck_assert_uint_eq(s.n, 0);
    sim_schedule_free(&s); /* twice is harmless */
    sim_profile_free(p);
}
END_TEST

START_TEST(test_rng)
{
    sim_rng a, b, c;
    sim_rng_seed(&a, 42, 7);
    sim_rng_seed(&b, 42, 7);
    sim_rng_seed(&c, 42, 8);
    int same_as_other_stream = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = sim_rng_next(&a);
        ck_assert_uint_eq(x, sim_rng_next(&b));
        same_as_other_stream += x == sim_rng_next(&c);
    }
    ck_assert_int_eq(same_as_other_stream, 0);

    int seen[7] = {0};
    for (int i = 0; i < 10000; i++) {
        double u = sim_rng_unit(&a);
        ck_assert(u >= 0 && u < 1);
        int64_t v = sim_rng_range(&a, -3, 3);
        ck_assert(v >= -3 && v <= 3);
        seen[v + 3]++;
        ck_assert_int_eq(sim_rng_range(&a, 5, 5), 5);
    }
    for (int i = 0; i < 7; i++)
        ck_assert_int_gt(seen[i], 10000 / 7 - 200);
    /* The whole 64-bit range (its span overflows to 0) takes every draw as is. */
    sim_rng_seed(&b, 1, 1);
    sim_rng_seed(&c, 1, 1);
    ck_assert_int_eq(sim_rng_range(&b, INT64_MIN, INT64_MAX), (int64_t)sim_rng_next(&c));
}
END_TEST

START_TEST(test_templates)
{
    char err[200];
    ck_assert(sim_template_check("select 1", err, sizeof(err)));
    ck_assert(sim_template_check("select $1, $$x$$, $RANDOM( -5 , 5 )", err, sizeof(err)));
    ck_assert(!sim_template_check("select $RANDOM(2,1)", err, sizeof(err)));
    ck_assert_str_eq(err, "$RANDOM(2,1): the first bound is larger");
    static const char *const bad[] = {"$RANDOM",       "$RANDOM()",   "$RANDOM(1)",
                                      "$RANDOM(a,b)",  "$RANDOM(1,2", "$RANDOM (1,2)",
                                      "x $RANDOM(1;2)"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(!sim_template_check(bad[i], err, sizeof(err)), "%s", bad[i]);
        ck_assert_msg(!strncmp(err, "bad placeholder at \"$RANDOM", 27), "%s", err);
    }

    sim_rng r;
    sim_rng_seed(&r, 9, 9);
    bool seen[3] = {false};
    for (int i = 0; i < 200; i++) {
        char *s = sim_template_expand("id = $RANDOM(1,3) and $1 = $$", &r);
        ck_assert_ptr_nonnull(s);
        int v = -1;
        ck_assert_int_eq(sscanf(s, "id = %d and $1 = $$", &v), 1);
        ck_assert(v >= 1 && v <= 3);
        seen[v - 1] = true;
        ck_assert_str_eq(strchr(s, 'a'), "and $1 = $$");
        free(s);
    }
    ck_assert(seen[0] && seen[1] && seen[2]);
    char *s = sim_template_expand("$RANDOM(-9223372036854775807,-9223372036854775807)"
                                  "$RANDOM(7,7)$RANDOM( 0 , 0 )",
                                  &r);
    ck_assert_str_eq(s, "-922337203685477580770");
    free(s);
    s = sim_template_expand("", &r);
    ck_assert_str_eq(s, "");
    free(s);
}
END_TEST

/* An invocation's queries depend only on (seed, invocation id). */
START_TEST(test_query_next)
{
    sim_profile *p = fs_load_shipped("bursts");
    for (uint64_t id = 0; id < 50; id++) {
        sim_rng a, b;
        sim_rng_seed(&a, p->seed, SIM_STREAM_INVOCATION(id));
        sim_rng_seed(&b, p->seed, SIM_STREAM_INVOCATION(id));
        for (int k = 0; k < p->queries_per_invocation; k++) {
            int wa = -1, wb = -1;
            char *qa = sim_query_next(p, &a, &wa), *qb = sim_query_next(p, &b, &wb);
            ck_assert(wa >= 0 && wa < p->nqueries);
            ck_assert_int_eq(wa, wb);
            ck_assert_str_eq(qa, qb);
            ck_assert(strstr(qa, "$RANDOM") == NULL);
            free(qa);
            free(qb);
        }
    }
    sim_profile_free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim_schedule");
    TCase *tc = tcase_create("sim_schedule");
    tcase_set_timeout(tc, 300);
    tcase_add_checked_fixture(tc, fs_tmp_setup, fs_tmp_teardown);
    tcase_add_test(tc, test_shipped_schedules_are_well_formed);
    tcase_add_test(tc, test_bursts_documented_totals);
    tcase_add_test(tc, test_same_seed_same_schedule);
    tcase_add_test(tc, test_fixed_count_under_any_seed);
    tcase_add_test(tc, test_phase_streams_are_independent);
    tcase_add_test(tc, test_time_scale);
    tcase_add_test(tc, test_bad_time_scale);
    tcase_add_test(tc, test_rates_follow_the_shapes);
    tcase_add_test(tc, test_spike_profile_peak);
    tcase_add_test(tc, test_too_many_invocations);
    tcase_add_test(tc, test_schedule_free);
    tcase_add_test(tc, test_rng);
    tcase_add_test(tc, test_templates);
    tcase_add_test(tc, test_query_next);
    suite_add_tcase(s, tc);
    return fs_run(s);
}
