/*
 * sim_profile.c: reads a dm_faas_sim profile (INI, with inih) and refuses a
 * bad one with the file and line at fault.  The format is described at the
 * top of faas_sim.c.
 *
 * inih is given our own line reader so that we know, for each call of the
 * handler, which physical line it came from (Debian's inih is built without
 * INI_HANDLER_LINENO), whether that line continued the previous key (an
 * indented line: inih then repeats the key's name, which for the repeatable
 * `setup` and `query` keys would otherwise look like a new statement), where
 * each section header is (so that an empty [phase:NAME] is still seen), and
 * whether a line was longer than inih's buffer (inih would silently split it).
 */
#include "faas_sim.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    sim_profile *p;
    FILE *f;
    char *raw; /* the physical line last read (getline's buffer) */
    size_t rawcap;
    int line;          /* its number, from 1 */
    bool raw_indented; /* it starts with a space or tab */
    char section[SIM_NAME_MAX + 8];
    char last_key[64];       /* inih's prev_name: "" right after a section header */
    int last_statement_kind; /* 0 none, 1 setup, 2 query, 3 description */
    bool seen[16];           /* [profile] keys given (no repeats but setup/query) */
    char err[1500];          /* the first error: "FILE:LINE: message" */
    int err_line;            /* its LINE, 0 for the whole file */
} profile_parse;

static const char *const sim_shape_names[SIM_SHAPE_COUNT] = {"steady", "lull", "burst", "spike",
                                                             "diurnal"};

const char *sim_shape_str(sim_shape shape)
{
    if ((int)shape < 0 || (int)shape >= SIM_SHAPE_COUNT)
        return "?";
    return sim_shape_names[shape];
}

bool sim_shape_parse(const char *s, sim_shape *out)
{
    for (int i = 0; i < SIM_SHAPE_COUNT; i++) {
        if (!strcmp(s, sim_shape_names[i])) {
            *out = (sim_shape)i;
            return true;
        }
    }
    return false;
}

/* Records the first error only: it is the earliest line, since inih reads in
 * order (except for inih's own syntax errors, which sim_profile_load learns
 * only at the end and puts first when they come earlier). */
static int profile_fail(profile_parse *pp, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int profile_fail(profile_parse *pp, int line, const char *fmt, ...)
{
    if (pp->err[0])
        return 0;
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (line > 0)
        snprintf(pp->err, sizeof(pp->err), "%s:%d: %s", pp->p->path, line, msg);
    else
        snprintf(pp->err, sizeof(pp->err), "%s: %s", pp->p->path, msg);
    pp->err_line = line;
    return 0;
}

static bool name_valid(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n >= SIM_NAME_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("_-.", s[i]))
            return false;
    return true;
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    char *end;
    if (!isdigit((unsigned char)s[0]))
        return false;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

static sim_phase *profile_phase(sim_profile *p, const char *name)
{
    for (int i = 0; i < p->nphases; i++)
        if (!strcmp(p->phases[i].name, name))
            return &p->phases[i];
    return NULL;
}

/* The reader that inih calls for every physical line (see the top of the file). */
static char *profile_read_line(char *str, int num, void *stream)
{
    profile_parse *pp = stream;
    ssize_t n = getline(&pp->raw, &pp->rawcap, pp->f);
    if (n < 0)
        return NULL;
    pp->line++;
    size_t len = (size_t)n;
    while (len > 0 && (pp->raw[len - 1] == '\n' || pp->raw[len - 1] == '\r'))
        len--;
    pp->raw[len] = '\0';
    if (len + 2 > (size_t)num)
        profile_fail(pp, pp->line,
                     "line longer than %d characters: continue a long statement on indented "
                     "lines",
                     num - 2);
    if (strlen(pp->raw) < len)
        profile_fail(pp, pp->line, "line contains a NUL byte");
    pp->raw_indented = pp->raw[0] == ' ' || pp->raw[0] == '\t';
    /* A section header, as inih sees one: '[' after blanks, the name up to ']'. */
    const char *s = pp->raw;
    if (pp->line == 1 && !strncmp(s, "\xEF\xBB\xBF", 3))
        s += 3; /* a UTF-8 byte order mark, which inih skips too */
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '[') {
        const char *close = strchr(s + 1, ']');
        if (close) {
            size_t sl = (size_t)(close - (s + 1));
            if (sl >= sizeof(pp->section)) {
                profile_fail(pp, pp->line, "section name too long");
                sl = sizeof(pp->section) - 1;
            }
            memcpy(pp->section, s + 1, sl);
            pp->section[sl] = '\0';
            pp->last_key[0] = '\0';
            pp->last_statement_kind = 0;
            if (!strncmp(pp->section, "phase:", 6)) {
                sim_profile *p = pp->p;
                const char *name = pp->section + 6;
                if (!name_valid(name))
                    profile_fail(pp, pp->line,
                                 "bad phase name \"%s\" (letters, digits, '_', '-', '.'; at most "
                                 "%d characters)",
                                 name, SIM_NAME_MAX - 1);
                else if (profile_phase(p, name))
                    profile_fail(pp, pp->line, "phase \"%s\" defined twice", name);
                else if (p->nphases >= SIM_MAX_PHASES)
                    profile_fail(pp, pp->line, "too many phases (at most %d)", SIM_MAX_PHASES);
                else {
                    sim_phase *ph = &p->phases[p->nphases++];
                    memset(ph, 0, sizeof(*ph));
                    snprintf(ph->name, sizeof(ph->name), "%s", name);
                    ph->line = pp->line;
                    ph->spike_factor = 10;
                }
            } else if (strcmp(pp->section, "profile") != 0) {
                profile_fail(pp, pp->line,
                             "unknown section [%s] (expected [profile] or [phase:NAME])",
                             pp->section);
            }
        }
    }
    size_t copy = len < (size_t)num - 2 ? len : (size_t)num - 2;
    memcpy(str, pp->raw, copy);
    str[copy] = '\n';
    str[copy + 1] = '\0';
    return str;
}

/* Appends sep and more to the malloc'd string *text. */
static bool text_append(char **text, char sep, const char *more)
{
    size_t a = strlen(*text), b = strlen(more);
    char *t = realloc(*text, a + b + 2);
    if (!t)
        return false;
    t[a] = sep;
    memcpy(t + a + 1, more, b + 1);
    *text = t;
    return true;
}

static int statement_add(profile_parse *pp, sim_statement *arr, int *n, const char *what,
                         const char *value)
{
    if (*n >= SIM_MAX_STATEMENTS)
        return profile_fail(pp, pp->line, "too many %s lines (at most %d)", what,
                            SIM_MAX_STATEMENTS);
    if (!value[0])
        return profile_fail(pp, pp->line, "empty %s", what);
    char *t = strdup(value);
    if (!t)
        return profile_fail(pp, pp->line, "out of memory");
    arr[*n].text = t;
    arr[*n].line = pp->line;
    (*n)++;
    return 1;
}

enum {
    KEY_NAME,
    KEY_DESCRIPTION,
    KEY_SEED,
    KEY_MAX_CONCURRENCY,
    KEY_QUERIES_PER_INVOCATION,
    KEY_THINK_MS,
};

static int profile_key(profile_parse *pp, const char *name, const char *value)
{
    sim_profile *p = pp->p;
    static const char *const once[] = {"name", "seed", "max_concurrency", "queries_per_invocation",
                                       "think_ms"};
    static const int once_key[] = {KEY_NAME, KEY_SEED, KEY_MAX_CONCURRENCY,
                                   KEY_QUERIES_PER_INVOCATION, KEY_THINK_MS};
    for (size_t i = 0; i < sizeof(once) / sizeof(once[0]); i++) {
        if (!strcmp(name, once[i])) {
            if (pp->seen[once_key[i]])
                return profile_fail(pp, pp->line, "%s given twice", name);
            pp->seen[once_key[i]] = true;
        }
    }
    pp->last_statement_kind = 0;
    if (!strcmp(name, "name")) {
        if (!name_valid(value))
            return profile_fail(pp, pp->line,
                                "bad name \"%s\" (letters, digits, '_', '-', '.'; at most %d "
                                "characters)",
                                value, SIM_NAME_MAX - 1);
        snprintf(p->name, sizeof(p->name), "%s", value);
    } else if (!strcmp(name, "description")) {
        if (pp->seen[KEY_DESCRIPTION])
            return profile_fail(pp, pp->line, "description given twice");
        pp->seen[KEY_DESCRIPTION] = true;
        char *d = strdup(value);
        if (!d)
            return profile_fail(pp, pp->line, "out of memory");
        free(p->description);
        p->description = d;
        pp->last_statement_kind = 3;
    } else if (!strcmp(name, "seed")) {
        if (!parse_u64(value, &p->seed))
            return profile_fail(pp, pp->line,
                                "seed: expected an integer from 0 to 2^64-1, not "
                                "\"%s\"",
                                value);
    } else if (!strcmp(name, "max_concurrency")) {
        long v;
        if (!parse_long(value, 1, 10000, &v))
            return profile_fail(pp, pp->line,
                                "max_concurrency: expected an integer from 1 to 10000, not \"%s\"",
                                value);
        p->max_concurrency = (int)v;
    } else if (!strcmp(name, "queries_per_invocation")) {
        long v;
        if (!parse_long(value, 0, 10000, &v))
            return profile_fail(
                pp, pp->line,
                "queries_per_invocation: expected an integer from 0 to 10000, not \"%s\"", value);
        p->queries_per_invocation = (int)v;
    } else if (!strcmp(name, "think_ms")) {
        if (!parse_double(value, 0, 3600000, &p->think_ms))
            return profile_fail(pp, pp->line,
                                "think_ms: expected a number of milliseconds >= 0, not \"%s\"",
                                value);
    } else if (!strcmp(name, "setup")) {
        char terr[200];
        if (!sim_template_check(value, terr, sizeof(terr)))
            return profile_fail(pp, pp->line, "setup: %s", terr);
        if (!statement_add(pp, p->setup, &p->nsetup, "setup", value))
            return 0;
        pp->last_statement_kind = 1;
    } else if (!strcmp(name, "query")) {
        char terr[200];
        if (!sim_template_check(value, terr, sizeof(terr)))
            return profile_fail(pp, pp->line, "query: %s", terr);
        if (!statement_add(pp, p->queries, &p->nqueries, "query", value))
            return 0;
        pp->last_statement_kind = 2;
    } else {
        return profile_fail(pp, pp->line,
                            "unknown key \"%s\" in [profile] (expected name, description, seed, "
                            "max_concurrency, queries_per_invocation, think_ms, setup, query)",
                            name);
    }
    return 1;
}

static int phase_key(profile_parse *pp, sim_phase *ph, const char *name, const char *value)
{
    int *line;
    if (!strcmp(name, "shape"))
        line = &ph->shape_line;
    else if (!strcmp(name, "duration_s"))
        line = &ph->duration_line;
    else if (!strcmp(name, "rate"))
        line = &ph->rate_line;
    else if (!strcmp(name, "burst_size"))
        line = &ph->burst_line;
    else if (!strcmp(name, "spike_factor"))
        line = &ph->spike_line;
    else
        return profile_fail(pp, pp->line,
                            "unknown key \"%s\" in [phase:%s] (expected shape, duration_s, rate, "
                            "burst_size, spike_factor)",
                            name, ph->name);
    if (*line)
        return profile_fail(pp, pp->line, "%s given twice in [phase:%s] (first on line %d)", name,
                            ph->name, *line);
    *line = pp->line;
    if (line == &ph->shape_line) {
        if (!sim_shape_parse(value, &ph->shape))
            return profile_fail(pp, pp->line,
                                "unknown shape \"%s\" (expected steady, lull, burst, spike or "
                                "diurnal)",
                                value);
    } else if (line == &ph->duration_line) {
        if (!parse_double(value, 0, 7 * 86400, &ph->duration_s) || ph->duration_s <= 0)
            return profile_fail(pp, pp->line,
                                "duration_s: expected a number of seconds > 0, not \"%s\"", value);
    } else if (line == &ph->rate_line) {
        if (!parse_double(value, 0, 1e6, &ph->rate))
            return profile_fail(pp, pp->line,
                                "rate: expected invocations per second >= 0, not \"%s\"", value);
    } else if (line == &ph->burst_line) {
        if (!parse_long(value, 1, SIM_MAX_INVOCATIONS, &ph->burst_size))
            return profile_fail(pp, pp->line,
                                "burst_size: expected an integer from 1 to %d, not \"%s\"",
                                SIM_MAX_INVOCATIONS, value);
    } else {
        if (!parse_double(value, 0, 1e6, &ph->spike_factor) || ph->spike_factor <= 0)
            return profile_fail(pp, pp->line, "spike_factor: expected a number > 0, not \"%s\"",
                                value);
    }
    return 1;
}

static int profile_handler(void *user, const char *section, const char *name, const char *value)
{
    profile_parse *pp = user;
    if (pp->err[0])
        return 0;
    /* inih's continuation: an indented line after a key repeats that key. */
    bool continuation = pp->raw_indented && pp->last_key[0] && !strcmp(name, pp->last_key);
    snprintf(pp->last_key, sizeof(pp->last_key), "%s", name);
    if (continuation) {
        sim_profile *p = pp->p;
        sim_statement *st = NULL;
        if (pp->last_statement_kind == 1)
            st = &p->setup[p->nsetup - 1];
        else if (pp->last_statement_kind == 2)
            st = &p->queries[p->nqueries - 1];
        if (pp->last_statement_kind == 3) {
            if (!text_append(&p->description, ' ', value))
                return profile_fail(pp, pp->line, "out of memory");
            return 1;
        }
        if (!st)
            return profile_fail(pp, pp->line,
                                "indented line: only setup, query and description may continue "
                                "on the next lines");
        /* "  query = ..." indented by mistake would silently join the statement above. */
        static const char *const keys[] = {"setup", "query"};
        for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
            size_t kl = strlen(keys[i]);
            const char *v = value + kl;
            while (*v == ' ' || *v == '\t')
                v++;
            if (!strncmp(value, keys[i], kl) && *v == '=')
                return profile_fail(pp, pp->line,
                                    "indented \"%s =\" line: it would continue the statement "
                                    "above; write it unindented",
                                    keys[i]);
        }
        /* A newline keeps a "--" comment on the previous line from eating this one. */
        if (!text_append(&st->text, '\n', value))
            return profile_fail(pp, pp->line, "out of memory");
        char terr[200];
        if (!sim_template_check(st->text, terr, sizeof(terr)))
            return profile_fail(pp, pp->line, "%s", terr);
        return 1;
    }
    if (!strcmp(section, "profile"))
        return profile_key(pp, name, value);
    if (!strncmp(section, "phase:", 6)) {
        /* inih keeps only 49 characters of a section's name, so the phase is
         * found by the header as our reader saw it, which holds a whole name. */
        sim_phase *ph =
            strncmp(pp->section, "phase:", 6) ? NULL : profile_phase(pp->p, pp->section + 6);
        if (!ph) /* its header was refused, with an error already */
            return 0;
        return phase_key(pp, ph, name, value);
    }
    if (!section[0])
        return profile_fail(pp, pp->line, "key \"%s\" before any section ([profile] first)", name);
    return profile_fail(pp, pp->line, "unknown section [%s]", section);
}

/* What a phase needs, and what its shape does not take. */
static bool phase_check(profile_parse *pp, const sim_phase *ph)
{
    if (!ph->shape_line)
        return profile_fail(pp, ph->line, "[phase:%s] has no shape", ph->name);
    if (!ph->duration_line)
        return profile_fail(pp, ph->line, "[phase:%s] has no duration_s", ph->name);
    const char *shape = sim_shape_str(ph->shape);
    bool wants_rate = ph->shape == SIM_SHAPE_STEADY || ph->shape == SIM_SHAPE_SPIKE ||
                      ph->shape == SIM_SHAPE_DIURNAL;
    if (wants_rate && (!ph->rate_line || ph->rate <= 0))
        return profile_fail(pp, ph->rate_line ? ph->rate_line : ph->line,
                            "[phase:%s]: shape %s needs rate > 0", ph->name, shape);
    if (ph->shape == SIM_SHAPE_LULL && ph->rate_line)
        return profile_fail(pp, ph->rate_line, "[phase:%s]: shape lull takes no rate", ph->name);
    if (ph->shape == SIM_SHAPE_BURST && !ph->burst_line)
        return profile_fail(pp, ph->line, "[phase:%s]: shape burst needs burst_size", ph->name);
    if (ph->shape != SIM_SHAPE_BURST && ph->burst_line)
        return profile_fail(pp, ph->burst_line, "[phase:%s]: burst_size is for shape burst, not %s",
                            ph->name, shape);
    if (ph->shape != SIM_SHAPE_SPIKE && ph->spike_line)
        return profile_fail(pp, ph->spike_line,
                            "[phase:%s]: spike_factor is for shape spike, not %s", ph->name, shape);
    return true;
}

sim_profile *sim_profile_load(const char *path, char *err, size_t errlen)
{
    sim_profile *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    snprintf(p->path, sizeof(p->path), "%s", path);
    p->seed = 1;
    p->max_concurrency = 100;
    p->queries_per_invocation = 3;
    /* The default name: the file's name without its directory and ".ini". */
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    snprintf(p->name, sizeof(p->name), "%s", base);
    size_t bl = strlen(p->name);
    if (bl > 4 && !strcmp(p->name + bl - 4, ".ini"))
        p->name[bl - 4] = '\0';

    profile_parse pp = {.p = p};
    pp.f = fopen(path, "r");
    if (!pp.f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        sim_profile_free(p);
        return NULL;
    }
    int rc = ini_parse_stream(profile_read_line, &pp, profile_handler, &pp);
    fclose(pp.f);
    free(pp.raw);
    if (rc > 0 && (!pp.err[0] || rc < pp.err_line)) {
        pp.err[0] = '\0';
        profile_fail(&pp, rc, "syntax error (expected [section], key = value, or a comment)");
    }
    if (rc < 0 && !pp.err[0])
        profile_fail(&pp, 0, "cannot read the file");
    for (int i = 0; i < p->nphases && !pp.err[0]; i++)
        phase_check(&pp, &p->phases[i]);
    if (!pp.err[0] && p->nqueries == 0)
        profile_fail(&pp, 0, "no queries: add at least one \"query = ...\" line to [profile]");
    if (!pp.err[0] && p->nphases == 0)
        profile_fail(&pp, 0, "no phases: add at least one [phase:NAME] section");
    if (!p->description) {
        p->description = strdup("");
        if (!p->description && !pp.err[0])
            profile_fail(&pp, 0, "out of memory");
    }
    if (pp.err[0]) {
        snprintf(err, errlen, "%s", pp.err);
        sim_profile_free(p);
        return NULL;
    }
    return p;
}

void sim_profile_free(sim_profile *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->nsetup; i++)
        free(p->setup[i].text);
    for (int i = 0; i < p->nqueries; i++)
        free(p->queries[i].text);
    free(p->description);
    free(p);
}
