/*
 * dm_faas_sim: a function-traffic simulator.  It plays many concurrent,
 * short-lived "serverless functions" against a PostgreSQL-protocol endpoint
 * (Dormouse, or PostgreSQL itself) on a schedule drawn from a seed, and writes
 * what each invocation and each query saw.  Each invocation does what a
 * function does: connect (one new connection), run a few queries, disconnect.
 *
 * Usage:
 *   dm_faas_sim --conninfo CONNINFO --profile FILE --out DIR [--seed N] [--label NAME]
 *               [--time-scale X] [--timeout S] [--quiet]
 *   dm_faas_sim --profile FILE --dry-run [--seed N] [--time-scale X]
 *
 *   --conninfo    a libpq connection string or URI, e.g.
 *                 "host=127.0.0.1 port=6432 dbname=demo user=app"
 *   --profile     the traffic profile (below); bench/faas-sim/profiles/ has some
 *   --out         the output directory (made, with its parents, if missing)
 *   --seed        replaces the profile's seed.  The same profile and seed give
 *                 the same arrival times and the same query texts (latencies
 *                 and errors are measured, so they differ from run to run)
 *   --label       a name for this run, written into summary.json (default "unlabeled")
 *   --time-scale  multiplies the time axis: arrival times, phase durations and
 *                 think_ms (0.1 plays the schedule ten times faster, with the
 *                 same invocations); default 1
 *   --timeout     seconds a connection attempt, or a query, may take before the
 *                 simulator gives up on it (a query is first cancelled and given
 *                 5 s more); default 60
 *   --quiet       no progress output
 *   --dry-run     print the schedule (CSV: invocation,index,arrival_s,phase,
 *                 template,sql; one line per query) on stdout and exit; no
 *                 connection is made
 *
 * Progress: one line on stderr, rewritten four times a second when stderr is a
 * terminal (elapsed/total seconds, phase, invocations started and done, errors,
 * in flight, queued); else one line every 5 s.  --quiet silences it.
 *
 * Exit status: 0 when the run completed (query and connection errors are data,
 * not failures); 1 on bad usage, a bad profile, or outputs that could not be
 * written; 2 when the setup statements failed (no traffic was sent); 130 when
 * interrupted by SIGINT or SIGTERM (arrivals not yet started are dropped, the
 * invocations in flight finish, and the outputs are written, marked
 * "interrupted"; a second signal kills the simulator at once).
 *
 * Profile (INI; keys in any order within their section, ';' and '#' start a
 * comment line, " ;" an end-of-line comment, so SQL must not contain " ;"):
 *   [profile]
 *   name = bursts                 ; default: the file name without .ini
 *   description = ...             ; free text
 *   seed = 42                     ; default 1
 *   max_concurrency = 100         ; invocations in flight at most (default 100):
 *                                 ; one worker thread each; later arrivals wait,
 *                                 ; and their wait is recorded as queue_ms
 *   queries_per_invocation = 3    ; default 3 (0: connect and disconnect only)
 *   think_ms = 2                  ; pause between an invocation's queries (default 0)
 *   setup = SQL                   ; repeatable: run once, in order, on one
 *                                 ; connection before the run
 *   query = SQL                   ; repeatable, at least one: each of an
 *                                 ; invocation's queries is one of them, picked
 *                                 ; uniformly at random
 *   [phase:NAME]                  ; repeatable; phases run in file order
 *   shape = steady|lull|burst|spike|diurnal
 *   duration_s = 5                ; required, > 0
 *   rate = 20                     ; arrivals per second: required (> 0) for steady,
 *                                 ; spike and diurnal; optional for burst (after
 *                                 ; the burst); not allowed for lull
 *   burst_size = 200              ; burst only (required): arrivals all at the
 *                                 ; phase's start
 *   spike_factor = 10             ; spike only (default 10)
 * Shapes: steady = Poisson arrivals at rate; lull = none; burst = burst_size at
 * once, then Poisson at rate (if any); spike = Poisson at rate, at rate *
 * spike_factor during the middle 10% of the phase; diurnal = Poisson at
 * rate * (0.1 + 0.9 * (1 - cos(2 pi t / duration_s)) / 2), one "day" per phase.
 * In setup and query SQL, each $RANDOM(a,b) is replaced by a random integer in
 * [a, b] (seeded, a textual substitution).  A statement may continue on
 * indented lines (joined with a newline); lines are at most 198 characters.
 * A bad profile (unknown section or key, unknown shape, a missing duration_s,
 * no query, a bad $RANDOM...) is refused with its file and line.
 *
 * Outputs in --out DIR (times in seconds since the run's start, which is when
 * the first phase begins, after the setup; durations in milliseconds):
 *   invocations.csv  one line per invocation that started, in id (= arrival) order:
 *     id,phase,arrival_s,start_s,queue_ms,connect_ms,first_query_ms,total_ms,
 *     queries_ok,queries_failed,connect_ok,error_sqlstate,error_message
 *     arrival_s: when it was scheduled; start_s: when a worker took it;
 *     queue_ms = start - arrival (waiting for a free worker; also a scheduling
 *     jitter well under a millisecond); connect_ms: connection set-up (to
 *     CONNECTION_OK or failure); first_query_ms: the first query's latency, empty
 *     when none ran; total_ms: from start to the connection closed; connect_ok
 *     1/0; error_*: the invocation's first error (empty when none), the SQLSTATE
 *     the server sent ("08006" for a failed connection without one; empty for
 *     a client-side timeout), the message CSV-quoted on one line.  A failed
 *     connection ends the invocation; a failed query does not (the next one
 *     runs), unless the connection broke.
 *   queries.csv  one line per query run:
 *     invocation,index,start_s,latency_ms,ok,sqlstate,rows,template
 *     rows: rows returned (or affected, for INSERT/UPDATE/DELETE), empty when
 *     the query failed; template: which query line (0 = the first) it came from.
 *   summary.json  {"label", "profile", "seed", "conninfo_host_port",
 *     "started_at_unix", "duration_s" (wall, to the last invocation's end or the
 *     schedule's end, whichever is later), "invocations" (lines of
 *     invocations.csv), "connect_errors", "queries_ok", "queries_failed",
 *     "connect_ms" (successful connections) and "query_ms" (successful queries),
 *     each {"p50", "p90", "p99", "max", "count", "mean"} (null without samples),
 *     "phases": [{"name", "shape", "start_s", "duration_s", "invocations",
 *     "scheduled", "connect_errors", "queries_failed"}], then "time_scale",
 *     "profile_file", "description", "max_concurrency",
 *     "queries_per_invocation", "think_ms", "timeout_s", "scheduled",
 *     "interrupted", "queue_ms", "total_ms" (all started invocations),
 *     "errors_by_sqlstate" ({"53300": n, ...}: connection and query errors;
 *     "none" for errors without a SQLSTATE)}.
 */
#include "faas_sim.h"

#include <errno.h>
#include <getopt.h>
#include <libpq-fe.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SIM_CANCEL_GRACE_NS (5 * 1000000000ll) /* after a cancel, for the server's answer */
#define SIM_WORKER_STACK (512 * 1024)
#define SIM_SLEEP_SLICE_NS (100 * 1000000ll) /* sleeping workers check for a stop this often */

typedef struct {
    const char *conninfo;
    const char *profile_path;
    const char *out_dir;
    const char *label;
    bool have_seed;
    uint64_t seed;
    double time_scale;
    double timeout_s;
    bool quiet;
    bool dry_run;
} sim_options;

/* One invocation's outcome; written by the one worker that ran it. */
typedef struct {
    bool started;
    bool connect_ok;
    double start_s;
    double connect_ms;
    double first_query_ms; /* NAN: no query ran */
    double total_ms;
    int queries_ok, queries_failed;
    char sqlstate[6];    /* of the first error */
    char *error_message; /* of the first error; NULL when none */
} sim_invocation;

typedef struct {
    bool ran;
    bool ok;
    int template_index;
    double start_s;
    double latency_ms;
    long long rows;
    char sqlstate[6];
} sim_query;

typedef struct {
    const sim_options *opt;
    const sim_profile *profile;
    const sim_schedule *schedule;
    uint64_t seed;
    int qpi;
    int64_t t0_ns;
    int64_t timeout_ns;
    int64_t think_ns;
    sim_invocation *inv; /* schedule->n */
    sim_query *queries;  /* schedule->n * qpi */
    atomic_size_t next;  /* the next arrival no worker has taken */
    atomic_long started, done, connect_errors, queries_ok, queries_failed;
    atomic_int workers_alive;
} sim_run;

/* Set by SIGINT/SIGTERM; read by every thread.  A lock-free atomic, so the
 * handler may store it. */
static atomic_int sim_stop;

static void sim_on_signal(int sig)
{
    (void)sig;
    atomic_store(&sim_stop, 1);
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void sleep_until_ns(int64_t t)
{
    struct timespec ts = {.tv_sec = t / 1000000000, .tv_nsec = t % 1000000000};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

static double ns_to_ms(int64_t ns)
{
    return (double)ns / 1e6;
}

/* ---- libpq ---- */

static void sim_notice_ignore(void *arg, const PGresult *res)
{
    (void)arg;
    (void)res;
}

/* Waits for pfd until deadline: 1 ready (or a poll error, which libpq will
 * then see for itself), 0 timed out. */
static int poll_until(struct pollfd *pfd, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ns();
        if (left <= 0)
            return 0;
        int r = poll(pfd, 1, (int)((left + 999999) / 1000000));
        if (r > 0)
            return 1;
        if (r < 0 && errno != EINTR)
            return 1;
    }
}

/* Finds "FATAL:  XXXXX: " (or ERROR, PANIC) in a verbose libpq message: a
 * refused connection has no PGresult, so its SQLSTATE is only in the text.
 * *primary gets where the message proper starts. */
static bool sqlstate_from_message(const char *msg, char out[6], const char **primary)
{
    static const char *const severities[] = {"FATAL:  ", "ERROR:  ", "PANIC:  "};
    for (size_t k = 0; k < sizeof(severities) / sizeof(severities[0]); k++) {
        const char *p = msg;
        while ((p = strstr(p, severities[k])) != NULL) {
            p += strlen(severities[k]);
            bool ok = strlen(p) >= 7 && p[5] == ':' && p[6] == ' ';
            for (int i = 0; ok && i < 5; i++)
                ok = (p[i] >= '0' && p[i] <= '9') || (p[i] >= 'A' && p[i] <= 'Z');
            if (ok) {
                memcpy(out, p, 5);
                out[5] = '\0';
                if (primary)
                    *primary = p + 7;
                return true;
            }
        }
    }
    return false;
}

/* A copy of s on one line: runs of whitespace become one space, and a verbose
 * message's "LOCATION:" and later lines are dropped. */
static char *one_line(const char *s, bool first_line_only)
{
    size_t n = strlen(s);
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t len = 0;
    bool space = true; /* drops leading blanks */
    for (const char *p = s; *p; p++) {
        if (*p == '\n' && first_line_only)
            break;
        if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') {
            space = true;
            continue;
        }
        if (space && len > 0)
            out[len++] = ' ';
        space = false;
        out[len++] = *p;
    }
    out[len] = '\0';
    return out;
}

/* Starts a connection and drives it to CONNECTION_OK or failure by deadline.
 * Verbose errors, so that a refusal carries its SQLSTATE.  NULL only when out
 * of memory; else the caller checks PQstatus (not OK and not BAD: timed out). */
static PGconn *sim_connect(const char *conninfo, int64_t deadline)
{
    const char *const keys[] = {"fallback_application_name", "dbname", NULL};
    const char *const vals[] = {"dm_faas_sim", conninfo, NULL};
    PGconn *c = PQconnectStartParams(keys, vals, 1);
    if (!c)
        return NULL;
    PQsetErrorVerbosity(c, PQERRORS_VERBOSE);
    PQsetNoticeReceiver(c, sim_notice_ignore, NULL);
    if (PQstatus(c) == CONNECTION_BAD)
        return c;
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        struct pollfd pfd = {PQsocket(c), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0};
        if (!poll_until(&pfd, deadline))
            return c;
        st = PQconnectPoll(c);
    }
    return c;
}

/* Why a connection attempt failed: SQLSTATE ("08006" when the server sent
 * none) and a one-line message (malloc'd). */
static char *sim_connect_error(PGconn *c, double timeout_s, char sqlstate[6])
{
    if (!c) {
        strcpy(sqlstate, "08006");
        return strdup("out of memory");
    }
    if (PQstatus(c) != CONNECTION_BAD) {
        strcpy(sqlstate, "08006");
        char msg[128];
        snprintf(msg, sizeof(msg), "no connection within %g s (client-side timeout)", timeout_s);
        return strdup(msg);
    }
    const char *msg = PQerrorMessage(c), *primary = NULL;
    if (sqlstate_from_message(msg, sqlstate, &primary))
        return one_line(primary, true);
    strcpy(sqlstate, "08006");
    return one_line(msg, false);
}

typedef struct {
    bool ok;
    bool broken; /* the connection cannot be used any more */
    long long rows;
    char sqlstate[6];
    char *message; /* malloc'd, of the first error; NULL when ok */
} sim_outcome;

static void outcome_fail(sim_outcome *o, const char *sqlstate, char *message)
{
    if (!o->ok) {
        free(message);
        return;
    }
    o->ok = false;
    snprintf(o->sqlstate, sizeof(o->sqlstate), "%s", sqlstate);
    o->message = message;
}

/* Runs sql (a simple Query: it may hold several statements) and reads every
 * result, waiting at most until deadline; then it sends a cancel and waits
 * SIM_CANCEL_GRACE_NS more before giving the connection up. */
static void sim_exec(PGconn *c, const char *sql, int64_t deadline, double timeout_s, sim_outcome *o)
{
    memset(o, 0, sizeof(*o));
    o->ok = true;
    bool cancelled = false;
    if (!PQsendQuery(c, sql)) {
        char st[6];
        const char *primary = NULL;
        const char *msg = PQerrorMessage(c);
        bool have = sqlstate_from_message(msg, st, &primary);
        outcome_fail(o, have ? st : "08006", one_line(have ? primary : msg, have));
        o->broken = true;
        return;
    }
    for (;;) {
        while (PQisBusy(c)) {
            struct pollfd pfd = {PQsocket(c), POLLIN, 0};
            if (!poll_until(&pfd, deadline)) {
                if (cancelled) {
                    char msg[160];
                    snprintf(msg, sizeof(msg),
                             "no answer within %g s, nor %g s after a cancel (client-side "
                             "timeout)",
                             timeout_s, (double)SIM_CANCEL_GRACE_NS / 1e9);
                    outcome_fail(o, "", strdup(msg));
                    o->broken = true;
                    return;
                }
                PGcancel *cancel = PQgetCancel(c);
                char errbuf[256];
                if (cancel) {
                    PQcancel(cancel, errbuf, sizeof(errbuf));
                    PQfreeCancel(cancel);
                }
                cancelled = true;
                deadline = now_ns() + SIM_CANCEL_GRACE_NS;
                continue;
            }
            if (!PQconsumeInput(c))
                break; /* PQgetResult reports the broken connection */
        }
        PGresult *res = PQgetResult(c);
        if (!res)
            break;
        switch (PQresultStatus(res)) {
        case PGRES_TUPLES_OK:
        case PGRES_SINGLE_TUPLE:
            o->rows += PQntuples(res);
            break;
        case PGRES_COMMAND_OK:
            o->rows += atoll(PQcmdTuples(res));
            break;
        case PGRES_COPY_IN:
        case PGRES_COPY_OUT:
        case PGRES_COPY_BOTH:
            PQclear(res);
            outcome_fail(o, "", strdup("COPY is not supported by dm_faas_sim"));
            o->broken = true;
            return;
        case PGRES_BAD_RESPONSE:
        case PGRES_NONFATAL_ERROR:
        case PGRES_FATAL_ERROR: {
            const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
            const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
            char parsed[6];
            const char *pp = NULL;
            if (!st && sqlstate_from_message(PQresultErrorMessage(res), parsed, &pp))
                st = parsed;
            if (!st)
                st = PQstatus(c) == CONNECTION_BAD ? "08006" : "";
            outcome_fail(o, st,
                         primary ? one_line(primary, false)
                                 : one_line(PQresultErrorMessage(res), false));
            break;
        }
        default:
            break;
        }
        PQclear(res);
    }
    if (PQstatus(c) == CONNECTION_BAD) {
        o->broken = true;
        outcome_fail(o, "08006", one_line(PQerrorMessage(c), false));
    }
}

/* ---- the run ---- */

static void invocation_error(sim_invocation *inv, const char *sqlstate, char *message)
{
    if (inv->error_message || inv->sqlstate[0]) {
        free(message);
        return;
    }
    snprintf(inv->sqlstate, sizeof(inv->sqlstate), "%s", sqlstate);
    inv->error_message = message ? message : strdup("(out of memory)");
}

/* One function invocation: connect, run the queries, disconnect. */
static void sim_invocation_run(sim_run *run, size_t id)
{
    const sim_profile *p = run->profile;
    sim_invocation *inv = &run->inv[id];
    int64_t start = now_ns();
    inv->started = true;
    inv->start_s = (double)(start - run->t0_ns) / 1e9;
    inv->first_query_ms = NAN;
    atomic_fetch_add(&run->started, 1);

    PGconn *c = sim_connect(run->opt->conninfo, start + run->timeout_ns);
    inv->connect_ms = ns_to_ms(now_ns() - start);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        char st[6];
        char *msg = sim_connect_error(c, run->opt->timeout_s, st);
        invocation_error(inv, st, msg);
        atomic_fetch_add(&run->connect_errors, 1);
    } else {
        inv->connect_ok = true;
        sim_rng r;
        sim_rng_seed(&r, run->seed, SIM_STREAM_INVOCATION(id));
        for (int k = 0; k < run->qpi; k++) {
            if (k > 0 && run->think_ns > 0)
                sleep_until_ns(now_ns() + run->think_ns);
            sim_query *q = &run->queries[id * (size_t)run->qpi + (size_t)k];
            char *sql = sim_query_next(p, &r, &q->template_index);
            if (!sql) {
                fprintf(stderr, "dm_faas_sim: out of memory\n");
                abort();
            }
            int64_t qs = now_ns();
            sim_outcome o;
            sim_exec(c, sql, qs + run->timeout_ns, run->opt->timeout_s, &o);
            int64_t qe = now_ns();
            free(sql);
            q->ran = true;
            q->ok = o.ok;
            q->start_s = (double)(qs - run->t0_ns) / 1e9;
            q->latency_ms = ns_to_ms(qe - qs);
            q->rows = o.rows;
            if (k == 0)
                inv->first_query_ms = q->latency_ms;
            if (o.ok) {
                inv->queries_ok++;
                atomic_fetch_add(&run->queries_ok, 1);
            } else {
                snprintf(q->sqlstate, sizeof(q->sqlstate), "%s", o.sqlstate);
                inv->queries_failed++;
                atomic_fetch_add(&run->queries_failed, 1);
                invocation_error(inv, o.sqlstate, o.message);
                o.message = NULL;
            }
            free(o.message);
            if (o.broken)
                break;
        }
    }
    PQfinish(c);
    inv->total_ms = ns_to_ms(now_ns() - start);
    atomic_fetch_add(&run->done, 1);
}

/* Sleeps until t, in slices, so that a stop is seen.  false: stopped. */
static bool sim_wait_arrival(int64_t t)
{
    for (;;) {
        if (atomic_load(&sim_stop))
            return false;
        int64_t now = now_ns();
        if (now >= t)
            return true;
        sleep_until_ns(t - now > SIM_SLEEP_SLICE_NS ? now + SIM_SLEEP_SLICE_NS : t);
    }
}

/* A worker takes the earliest arrival no one has taken, waits for its time,
 * runs it, and comes back for the next.  Arrivals are taken in order, so one
 * that finds every worker busy is the next one run when a worker frees up:
 * the pool behaves as a FIFO queue in front of max_concurrency functions. */
static void *sim_worker_main(void *arg)
{
    sim_run *run = arg;
    for (;;) {
        if (atomic_load(&sim_stop))
            break;
        size_t i = atomic_fetch_add(&run->next, 1);
        if (i >= run->schedule->n)
            break;
        int64_t at = run->t0_ns + llround(run->schedule->arrivals[i].arrival_s * 1e9);
        if (!sim_wait_arrival(at))
            break;
        sim_invocation_run(run, i);
    }
    atomic_fetch_sub(&run->workers_alive, 1);
    return NULL;
}

/* ---- progress ---- */

static int phase_at(const sim_profile *p, const sim_schedule *s, double t)
{
    for (int i = p->nphases - 1; i >= 0; i--)
        if (t >= s->phase_start_s[i])
            return i;
    return 0;
}

/* Arrivals due by time t (binary search: arrivals are sorted). */
static size_t arrivals_due(const sim_schedule *s, double t)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->arrivals[mid].arrival_s <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void progress_print(sim_run *run, bool tty, bool final)
{
    const sim_schedule *s = run->schedule;
    double t = (double)(now_ns() - run->t0_ns) / 1e9;
    long started = atomic_load(&run->started), done = atomic_load(&run->done);
    long errors = atomic_load(&run->connect_errors) + atomic_load(&run->queries_failed);
    size_t due = arrivals_due(s, t);
    long queued = (long)due > started && !atomic_load(&sim_stop) ? (long)due - started : 0;
    const char *phase =
        t >= s->total_s ? "(drain)" : run->profile->phases[phase_at(run->profile, s, t)].name;
    char line[256];
    snprintf(line, sizeof(line),
             "%6.1f/%.1f s  %-10s started %ld/%zu  done %ld  errors %ld  in flight %ld  queued %ld",
             t, s->total_s, phase, started, s->n, done, errors, started - done, queued);
    if (tty) {
        char bar[21];
        double frac = s->total_s > 0 ? t / s->total_s : 1;
        int fill = frac >= 1 ? 20 : (int)(frac * 20);
        for (int i = 0; i < 20; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[20] = '\0';
        fprintf(stderr, "\r\033[K[%s] %s%s", bar, line, final ? "\n" : "");
    } else {
        fprintf(stderr, "dm_faas_sim: %s\n", line);
    }
    fflush(stderr);
}

/* ---- outputs ---- */

static bool mkdir_p(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
        errno = ENAMETOOLONG;
        return false;
    }
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return false;
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return false;
    struct stat st;
    if (stat(buf, &st) != 0)
        return false;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return false;
    }
    return true;
}

static void csv_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(f, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else if (*p < 0x20)
            fprintf(f, "\\u%04x", *p);
        else
            fputc(*p, f);
    }
    fputc('"', f);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentiles of v (sorted here). */
static void json_percentiles(FILE *f, double *v, size_t n)
{
    if (n == 0) {
        fputs("{\"p50\": null, \"p90\": null, \"p99\": null, \"max\": null, \"count\": 0, "
              "\"mean\": null}",
              f);
        return;
    }
    qsort(v, n, sizeof(*v), cmp_double);
    static const double ps[] = {50, 90, 99};
    static const char *const names[] = {"p50", "p90", "p99"};
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += v[i];
    fputc('{', f);
    for (int k = 0; k < 3; k++) {
        size_t rank = (size_t)ceil(ps[k] / 100 * (double)n);
        fprintf(f, "\"%s\": %.3f, ", names[k], v[rank > 0 ? rank - 1 : 0]);
    }
    fprintf(f, "\"max\": %.3f, \"count\": %zu, \"mean\": %.3f}", v[n - 1], n, sum / (double)n);
}

typedef struct {
    char sqlstate[6];
    long count;
} sqlstate_count;

static void sqlstate_tally(sqlstate_count *t, size_t *n, size_t cap, const char *st)
{
    const char *key = st[0] ? st : "none";
    for (size_t i = 0; i < *n; i++) {
        if (!strcmp(t[i].sqlstate, key)) {
            t[i].count++;
            return;
        }
    }
    if (*n < cap) {
        snprintf(t[*n].sqlstate, sizeof(t[*n].sqlstate), "%s", key);
        t[*n].count = 1;
        (*n)++;
    }
}

static int cmp_sqlstate(const void *a, const void *b)
{
    return strcmp(((const sqlstate_count *)a)->sqlstate, ((const sqlstate_count *)b)->sqlstate);
}

static FILE *out_open(const char *dir, const char *name, char *path, size_t pathlen)
{
    snprintf(path, pathlen, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        fprintf(stderr, "dm_faas_sim: cannot write %s: %s\n", path, strerror(errno));
    return f;
}

static bool out_close(FILE *f, const char *path)
{
    bool ok = !ferror(f);
    if (fclose(f) != 0)
        ok = false;
    if (!ok)
        fprintf(stderr, "dm_faas_sim: error writing %s\n", path);
    return ok;
}

static bool write_invocations(const sim_run *run, const char *dir)
{
    char path[4200];
    FILE *f = out_open(dir, "invocations.csv", path, sizeof(path));
    if (!f)
        return false;
    fputs("id,phase,arrival_s,start_s,queue_ms,connect_ms,first_query_ms,total_ms,queries_ok,"
          "queries_failed,connect_ok,error_sqlstate,error_message\n",
          f);
    for (size_t i = 0; i < run->schedule->n; i++) {
        const sim_invocation *inv = &run->inv[i];
        if (!inv->started)
            continue;
        const sim_arrival *a = &run->schedule->arrivals[i];
        double queue_ms = (inv->start_s - a->arrival_s) * 1000;
        fprintf(f, "%zu,%s,%.6f,%.6f,%.3f,%.3f,", i, run->profile->phases[a->phase].name,
                a->arrival_s, inv->start_s, queue_ms > 0 ? queue_ms : 0, inv->connect_ms);
        if (!isnan(inv->first_query_ms))
            fprintf(f, "%.3f", inv->first_query_ms);
        fprintf(f, ",%.3f,%d,%d,%d,%s,", inv->total_ms, inv->queries_ok, inv->queries_failed,
                inv->connect_ok ? 1 : 0, inv->sqlstate);
        if (inv->error_message)
            csv_quoted(f, inv->error_message);
        fputc('\n', f);
    }
    return out_close(f, path);
}

static bool write_queries(const sim_run *run, const char *dir)
{
    char path[4200];
    FILE *f = out_open(dir, "queries.csv", path, sizeof(path));
    if (!f)
        return false;
    fputs("invocation,index,start_s,latency_ms,ok,sqlstate,rows,template\n", f);
    for (size_t i = 0; i < run->schedule->n; i++) {
        for (int k = 0; k < run->qpi; k++) {
            const sim_query *q = &run->queries[i * (size_t)run->qpi + (size_t)k];
            if (!q->ran)
                break;
            fprintf(f, "%zu,%d,%.6f,%.3f,%d,%s,", i, k, q->start_s, q->latency_ms, q->ok ? 1 : 0,
                    q->sqlstate);
            if (q->ok)
                fprintf(f, "%lld", q->rows);
            fprintf(f, ",%d\n", q->template_index);
        }
    }
    return out_close(f, path);
}

/* "host:port" of the endpoint, for the report: from the connection string,
 * with libpq's defaults (PGHOST, PGPORT, the Unix socket, 5432) filled in. */
static void conninfo_host_port(const char *conninfo, char *out, size_t outlen)
{
    const char *host = NULL, *hostaddr = NULL, *port = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
    for (PQconninfoOption *o = opts; o && o->keyword; o++) {
        if (!o->val || !o->val[0])
            continue;
        if (!strcmp(o->keyword, "host"))
            host = o->val;
        else if (!strcmp(o->keyword, "hostaddr"))
            hostaddr = o->val;
        else if (!strcmp(o->keyword, "port"))
            port = o->val;
    }
    if (!host)
        host = hostaddr;
    if (!host)
        host = getenv("PGHOST");
    if (!host || !host[0])
        host = "/var/run/postgresql";
    if (!port)
        port = getenv("PGPORT");
    if (!port || !port[0])
        port = "5432";
    snprintf(out, outlen, "%s:%s", host, port);
    PQconninfoFree(opts);
}

static bool write_summary(const sim_run *run, const char *dir, double started_at_unix,
                          double duration_s, bool interrupted)
{
    const sim_profile *p = run->profile;
    const sim_schedule *s = run->schedule;
    const sim_options *opt = run->opt;
    char path[4200];
    FILE *f = out_open(dir, "summary.json", path, sizeof(path));
    if (!f)
        return false;

    size_t n = s->n, nq = n * (size_t)run->qpi;
    double *connect = malloc((n + 1) * sizeof(double));
    double *queue = malloc((n + 1) * sizeof(double));
    double *total = malloc((n + 1) * sizeof(double));
    double *query = malloc((nq + 1) * sizeof(double));
    if (!connect || !queue || !total || !query) {
        fprintf(stderr, "dm_faas_sim: out of memory\n");
        abort();
    }
    size_t nconnect = 0, nstarted = 0, nquery = 0;
    long connect_errors = 0, queries_ok = 0, queries_failed = 0;
    size_t phase_started[SIM_MAX_PHASES] = {0};
    long phase_connect_errors[SIM_MAX_PHASES] = {0}, phase_failed[SIM_MAX_PHASES] = {0};
    sqlstate_count states[256];
    size_t nstates = 0;
    for (size_t i = 0; i < n; i++) {
        const sim_invocation *inv = &run->inv[i];
        if (!inv->started)
            continue;
        int ph = s->arrivals[i].phase;
        phase_started[ph]++;
        double q = (inv->start_s - s->arrivals[i].arrival_s) * 1000;
        queue[nstarted] = q > 0 ? q : 0;
        total[nstarted++] = inv->total_ms;
        if (inv->connect_ok) {
            connect[nconnect++] = inv->connect_ms;
        } else {
            connect_errors++;
            phase_connect_errors[ph]++;
            sqlstate_tally(states, &nstates, 256, inv->sqlstate);
        }
        for (int k = 0; k < run->qpi; k++) {
            const sim_query *qr = &run->queries[i * (size_t)run->qpi + (size_t)k];
            if (!qr->ran)
                break;
            if (qr->ok) {
                queries_ok++;
                query[nquery++] = qr->latency_ms;
            } else {
                queries_failed++;
                phase_failed[ph]++;
                sqlstate_tally(states, &nstates, 256, qr->sqlstate);
            }
        }
    }
    qsort(states, nstates, sizeof(states[0]), cmp_sqlstate);
    char hostport[1100];
    conninfo_host_port(opt->conninfo, hostport, sizeof(hostport));

    fputs("{\n  \"label\": ", f);
    json_str(f, opt->label);
    fputs(",\n  \"profile\": ", f);
    json_str(f, p->name);
    fprintf(f, ",\n  \"seed\": %llu", (unsigned long long)run->seed);
    fputs(",\n  \"conninfo_host_port\": ", f);
    json_str(f, hostport);
    fprintf(f, ",\n  \"started_at_unix\": %.6f", started_at_unix);
    fprintf(f, ",\n  \"duration_s\": %.6f", duration_s);
    fprintf(f, ",\n  \"invocations\": %zu", nstarted);
    fprintf(f, ",\n  \"connect_errors\": %ld", connect_errors);
    fprintf(f, ",\n  \"queries_ok\": %ld", queries_ok);
    fprintf(f, ",\n  \"queries_failed\": %ld", queries_failed);
    fputs(",\n  \"connect_ms\": ", f);
    json_percentiles(f, connect, nconnect);
    fputs(",\n  \"query_ms\": ", f);
    json_percentiles(f, query, nquery);
    fputs(",\n  \"phases\": [", f);
    for (int i = 0; i < p->nphases; i++) {
        fputs(i ? ",\n    {\"name\": " : "\n    {\"name\": ", f);
        json_str(f, p->phases[i].name);
        fprintf(f,
                ", \"shape\": \"%s\", \"start_s\": %.6f, \"duration_s\": %.6f, \"invocations\": "
                "%zu, \"scheduled\": %zu, \"connect_errors\": %ld, \"queries_failed\": %ld}",
                sim_shape_str(p->phases[i].shape), s->phase_start_s[i], s->phase_duration_s[i],
                phase_started[i], s->phase_count[i], phase_connect_errors[i], phase_failed[i]);
    }
    fputs("\n  ]", f);
    fprintf(f, ",\n  \"time_scale\": %g", opt->time_scale);
    fputs(",\n  \"profile_file\": ", f);
    json_str(f, p->path);
    fputs(",\n  \"description\": ", f);
    json_str(f, p->description);
    fprintf(f, ",\n  \"max_concurrency\": %d", p->max_concurrency);
    fprintf(f, ",\n  \"queries_per_invocation\": %d", run->qpi);
    fprintf(f, ",\n  \"think_ms\": %.3f", (double)run->think_ns / 1e6);
    fprintf(f, ",\n  \"timeout_s\": %g", opt->timeout_s);
    fprintf(f, ",\n  \"scheduled\": %zu", n);
    fprintf(f, ",\n  \"interrupted\": %s", interrupted ? "true" : "false");
    fputs(",\n  \"queue_ms\": ", f);
    json_percentiles(f, queue, nstarted);
    fputs(",\n  \"total_ms\": ", f);
    json_percentiles(f, total, nstarted);
    fputs(",\n  \"errors_by_sqlstate\": {", f);
    for (size_t i = 0; i < nstates; i++)
        fprintf(f, "%s\"%s\": %ld", i ? ", " : "", states[i].sqlstate, states[i].count);
    fputs("}\n}\n", f);
    free(connect);
    free(queue);
    free(total);
    free(query);
    return out_close(f, path);
}

/* ---- setup, dry run, main ---- */

/* Runs the profile's setup statements on one connection.  false (with the
 * reason on stderr) if any fails. */
static bool sim_setup(const sim_profile *p, const sim_options *opt, uint64_t seed)
{
    int64_t timeout_ns = llround(opt->timeout_s * 1e9);
    PGconn *c = sim_connect(opt->conninfo, now_ns() + timeout_ns);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        char st[6];
        char *msg = sim_connect_error(c, opt->timeout_s, st);
        fprintf(stderr, "dm_faas_sim: setup: cannot connect: %s %s\n", st, msg ? msg : "");
        free(msg);
        PQfinish(c);
        return false;
    }
    sim_rng r;
    sim_rng_seed(&r, seed, SIM_STREAM_SETUP);
    bool ok = true;
    for (int i = 0; i < p->nsetup && ok; i++) {
        char *sql = sim_template_expand(p->setup[i].text, &r);
        if (!sql) {
            fprintf(stderr, "dm_faas_sim: out of memory\n");
            abort();
        }
        sim_outcome o;
        sim_exec(c, sql, now_ns() + timeout_ns, opt->timeout_s, &o);
        if (!o.ok) {
            fprintf(stderr, "dm_faas_sim: %s:%d: setup statement failed: %s %s\n", p->path,
                    p->setup[i].line, o.sqlstate[0] ? o.sqlstate : "-----",
                    o.message ? o.message : "");
            ok = false;
        }
        free(o.message);
        free(sql);
    }
    PQfinish(c);
    return ok;
}

static int sim_dry_run(const sim_profile *p, const sim_schedule *s, uint64_t seed, int qpi)
{
    printf("invocation,index,arrival_s,phase,template,sql\n");
    for (size_t i = 0; i < s->n; i++) {
        const char *phase = p->phases[s->arrivals[i].phase].name;
        if (qpi == 0)
            printf("%zu,,%.6f,%s,,\n", i, s->arrivals[i].arrival_s, phase);
        sim_rng r;
        sim_rng_seed(&r, seed, SIM_STREAM_INVOCATION(i));
        for (int k = 0; k < qpi; k++) {
            int which;
            char *sql = sim_query_next(p, &r, &which);
            if (!sql) {
                fprintf(stderr, "dm_faas_sim: out of memory\n");
                return 1;
            }
            printf("%zu,%d,%.6f,%s,%d,", i, k, s->arrivals[i].arrival_s, phase, which);
            csv_quoted(stdout, sql);
            putchar('\n');
            free(sql);
        }
    }
    return fflush(stdout) == 0 ? 0 : 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: dm_faas_sim --conninfo CONNINFO --profile FILE --out DIR [--seed N]\n"
               "                   [--label NAME] [--time-scale X] [--timeout S] [--quiet]\n"
               "       dm_faas_sim --profile FILE --dry-run [--seed N] [--time-scale X]\n"
               "Plays the function traffic of a profile against a PostgreSQL-protocol endpoint\n"
               "and writes invocations.csv, queries.csv and summary.json into DIR.\n"
               "(the format of each is described at the top of bench/faas-sim/faas_sim.c)\n");
}

static bool parse_args(int argc, char **argv, sim_options *opt)
{
    static const struct option longopts[] = {
        {"conninfo", required_argument, NULL, 'c'},
        {"profile", required_argument, NULL, 'p'},
        {"out", required_argument, NULL, 'o'},
        {"seed", required_argument, NULL, 's'},
        {"label", required_argument, NULL, 'l'},
        {"time-scale", required_argument, NULL, 't'},
        {"timeout", required_argument, NULL, 'T'},
        {"quiet", no_argument, NULL, 'q'},
        {"dry-run", no_argument, NULL, 'n'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    memset(opt, 0, sizeof(*opt));
    opt->label = "unlabeled";
    opt->time_scale = 1;
    opt->timeout_s = 60;
    int ch;
    char *end;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'c':
            opt->conninfo = optarg;
            break;
        case 'p':
            opt->profile_path = optarg;
            break;
        case 'o':
            opt->out_dir = optarg;
            break;
        case 's':
            errno = 0;
            opt->seed = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-') {
                fprintf(stderr, "dm_faas_sim: --seed: expected an integer from 0 to 2^64-1\n");
                return false;
            }
            opt->have_seed = true;
            break;
        case 'l':
            opt->label = optarg;
            break;
        case 't':
            opt->time_scale = strtod(optarg, &end);
            if (end == optarg || *end || !(opt->time_scale > 0) || opt->time_scale > 1000) {
                fprintf(stderr,
                        "dm_faas_sim: --time-scale: expected a number > 0 (at most 1000)\n");
                return false;
            }
            break;
        case 'T':
            opt->timeout_s = strtod(optarg, &end);
            if (end == optarg || *end || !(opt->timeout_s > 0) || opt->timeout_s > 86400) {
                fprintf(stderr, "dm_faas_sim: --timeout: expected seconds > 0 (at most 86400)\n");
                return false;
            }
            break;
        case 'q':
            opt->quiet = true;
            break;
        case 'n':
            opt->dry_run = true;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return false;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "dm_faas_sim: unexpected argument \"%s\"\n", argv[optind]);
        usage(stderr);
        return false;
    }
    if (!opt->profile_path || (!opt->dry_run && (!opt->conninfo || !opt->out_dir))) {
        fprintf(stderr, "dm_faas_sim: %s\n",
                opt->dry_run ? "--profile is required"
                             : "--conninfo, --profile and --out are required");
        usage(stderr);
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    sim_options opt;
    if (!parse_args(argc, argv, &opt))
        return 1;
    char err[1600];
    sim_profile *p = sim_profile_load(opt.profile_path, err, sizeof(err));
    if (!p) {
        fprintf(stderr, "dm_faas_sim: %s\n", err);
        return 1;
    }
    uint64_t seed = opt.have_seed ? opt.seed : p->seed;
    sim_schedule sched;
    if (!sim_schedule_build(p, seed, opt.time_scale, &sched, err, sizeof(err))) {
        fprintf(stderr, "dm_faas_sim: %s: %s\n", p->path, err);
        sim_profile_free(p);
        return 1;
    }
    int qpi = p->queries_per_invocation;
    if (opt.dry_run) {
        int rc = sim_dry_run(p, &sched, seed, qpi);
        sim_schedule_free(&sched);
        sim_profile_free(p);
        return rc;
    }

    char *perr = NULL;
    PQconninfoOption *parsed = PQconninfoParse(opt.conninfo, &perr);
    if (!parsed) {
        fprintf(stderr, "dm_faas_sim: --conninfo: %s", perr ? perr : "cannot parse\n");
        PQfreemem(perr);
        sim_schedule_free(&sched);
        sim_profile_free(p);
        return 1;
    }
    PQconninfoFree(parsed);
    if (!mkdir_p(opt.out_dir)) {
        fprintf(stderr, "dm_faas_sim: --out %s: %s\n", opt.out_dir, strerror(errno));
        sim_schedule_free(&sched);
        sim_profile_free(p);
        return 1;
    }
    if (p->nsetup > 0 && !sim_setup(p, &opt, seed)) {
        sim_schedule_free(&sched);
        sim_profile_free(p);
        return 2;
    }

    static sim_run run; /* static: its atomics start at zero */
    run.opt = &opt;
    run.profile = p;
    run.schedule = &sched;
    run.seed = seed;
    run.qpi = qpi;
    run.timeout_ns = llround(opt.timeout_s * 1e9);
    run.think_ns = llround(p->think_ms * opt.time_scale * 1e6);
    run.inv = calloc(sched.n + 1, sizeof(*run.inv));
    run.queries = calloc(sched.n * (size_t)qpi + 1, sizeof(*run.queries));
    if (!run.inv || !run.queries) {
        fprintf(stderr, "dm_faas_sim: out of memory for %zu invocations\n", sched.n);
        return 1;
    }

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = sim_on_signal;
    sa.sa_flags = SA_RESETHAND; /* a second signal ends the process */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* Workers block the signals, so that they reach the main thread. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    size_t nworkers = (size_t)p->max_concurrency < sched.n ? (size_t)p->max_concurrency : sched.n;
    pthread_t *threads = calloc(nworkers + 1, sizeof(*threads));
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, SIM_WORKER_STACK);
    /* Timers as exact as the kernel allows: the default slack (50 us) would
     * show in every queue_ms. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    double started_at_unix = (double)wall.tv_sec + (double)wall.tv_nsec / 1e9;
    run.t0_ns = now_ns();
    size_t created = 0;
    for (; threads && created < nworkers; created++) {
        atomic_fetch_add(&run.workers_alive, 1);
        if (pthread_create(&threads[created], &attr, sim_worker_main, &run) != 0) {
            atomic_fetch_sub(&run.workers_alive, 1);
            break;
        }
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (created < nworkers) {
        fprintf(stderr, "dm_faas_sim: could start only %zu of %zu worker threads\n", created,
                nworkers);
        if (created == 0) {
            return 1;
        }
    }

    bool tty = isatty(STDERR_FILENO);
    bool progress = !opt.quiet;
    int64_t interval = tty ? 250000000ll : 5000000000ll;
    int64_t end_of_schedule = run.t0_ns + llround(sched.total_s * 1e9);
    int64_t next_print = run.t0_ns + (tty ? 0 : interval);
    for (;;) {
        int64_t now = now_ns();
        bool workers_done = atomic_load(&run.workers_alive) == 0;
        if (workers_done && (now >= end_of_schedule || atomic_load(&sim_stop)))
            break;
        if (progress && now >= next_print) {
            progress_print(&run, tty, false);
            next_print += interval;
            if (next_print < now)
                next_print = now + interval;
        }
        int64_t wake = now + 50000000ll;
        if (workers_done && end_of_schedule < wake)
            wake = end_of_schedule;
        sleep_until_ns(wake);
    }
    for (size_t i = 0; i < created; i++)
        pthread_join(threads[i], NULL);
    free(threads);
    double duration_s = (double)(now_ns() - run.t0_ns) / 1e9;
    bool interrupted = atomic_load(&sim_stop) != 0;
    if (progress && tty)
        progress_print(&run, tty, true);

    bool written = write_invocations(&run, opt.out_dir) && write_queries(&run, opt.out_dir) &&
                   write_summary(&run, opt.out_dir, started_at_unix, duration_s, interrupted);
    if (progress)
        fprintf(stderr,
                "dm_faas_sim: %s%s: %ld invocations (%ld connect errors), %ld queries ok, %ld "
                "failed, in %.1f s; results in %s\n",
                p->name, interrupted ? " (interrupted)" : "", atomic_load(&run.started),
                atomic_load(&run.connect_errors), atomic_load(&run.queries_ok),
                atomic_load(&run.queries_failed), duration_s, opt.out_dir);

    for (size_t i = 0; i < sched.n; i++)
        free(run.inv[i].error_message);
    free(run.inv);
    free(run.queries);
    sim_schedule_free(&sched);
    sim_profile_free(p);
    if (!written)
        return 1;
    return interrupted ? 130 : 0;
}
