/*
 * Unit tests for bench/faas-sim/sim_profile.c: every shipped profile loads
 * with the values its file states, defaults and continuation lines work as
 * faas_sim.c's header documents, and each kind of bad profile is refused with
 * "FILE:LINE: message" (or "FILE: message") naming the line at fault, without
 * crashing or leaking (valgrind runs this too).
 */
#include "faas_sim_test.h"

#include <errno.h>

#define HEAD "[profile]\nquery = select 1\n" /* lines 1-2 */
#define LULL "[phase:p]\nshape = lull\nduration_s = 1\n"

/* The error is "PATH:LINE: ..." (line > 0) or "PATH: ..." (line 0) and contains msg. */
static void assert_error(const char *err, const char *path, int line, const char *msg)
{
    char prefix[1300];
    if (line > 0)
        snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
    else
        snprintf(prefix, sizeof(prefix), "%s: ", path);
    ck_assert_msg(!strncmp(err, prefix, strlen(prefix)), "error \"%s\" does not start with \"%s\"",
                  err, prefix);
    ck_assert_msg(strstr(err + strlen(prefix), msg) != NULL, "error \"%s\" lacks \"%s\"", err, msg);
}

/* Loads text, which must be refused with the given line and message. */
static void assert_refused(const char *text, int line, const char *msg)
{
    char path[1200], err[1600];
    sim_profile *p = fs_load_text("bad.ini", text, path, sizeof(path), err, sizeof(err));
    ck_assert_msg(p == NULL, "accepted:\n%s", text);
    assert_error(err, path, line, msg);
}

START_TEST(test_shape_str_and_parse)
{
    static const char *const names[SIM_SHAPE_COUNT] = {"steady", "lull", "burst", "spike",
                                                       "diurnal"};
    for (int i = 0; i < SIM_SHAPE_COUNT; i++) {
        ck_assert_str_eq(sim_shape_str((sim_shape)i), names[i]);
        sim_shape s = (sim_shape)-1;
        ck_assert(sim_shape_parse(names[i], &s));
        ck_assert_int_eq(s, i);
    }
    ck_assert_str_eq(sim_shape_str((sim_shape)SIM_SHAPE_COUNT), "?");
    ck_assert_str_eq(sim_shape_str((sim_shape)-1), "?");
    sim_shape s = SIM_SHAPE_LULL;
    ck_assert(!sim_shape_parse("Steady", &s));
    ck_assert(!sim_shape_parse("", &s));
    ck_assert(!sim_shape_parse("steady ", &s));
    ck_assert_int_eq(s, SIM_SHAPE_LULL); /* untouched on failure */
}
END_TEST

/* Every profile in bench/faas-sim/profiles loads, named after its file, with
 * what a run needs: queries whose templates check, phases of positive length
 * whose keys fit their shape. */
START_TEST(test_every_shipped_profile_loads)
{
    char *paths[FS_MAX_SHIPPED];
    int n = fs_shipped(paths, FS_MAX_SHIPPED);
    for (int i = 0; i < n; i++) {
        char err[1600] = "";
        sim_profile *p = sim_profile_load(paths[i], err, sizeof(err));
        ck_assert_msg(p != NULL, "%s", err);
        const char *base = strrchr(paths[i], '/') + 1;
        ck_assert_int_eq(strncmp(p->name, base, strlen(base) - 4), 0);
        ck_assert_uint_eq(strlen(p->name), strlen(base) - 4);
        ck_assert_str_eq(p->path, paths[i]);
        ck_assert_int_gt((int)strlen(p->description), 0);
        ck_assert_int_gt(p->nqueries, 0);
        ck_assert_int_gt(p->nphases, 0);
        for (int k = 0; k < p->nqueries; k++) {
            char terr[200];
            ck_assert_msg(sim_template_check(p->queries[k].text, terr, sizeof(terr)), "%s", terr);
            ck_assert_int_gt(p->queries[k].line, 0);
        }
        for (int k = 0; k < p->nphases; k++) {
            const sim_phase *ph = &p->phases[k];
            ck_assert(ph->duration_s > 0);
            ck_assert_int_gt(ph->shape_line, ph->line);
            ck_assert_int_gt(ph->duration_line, ph->line);
            if (ph->shape == SIM_SHAPE_BURST)
                ck_assert_int_gt(ph->burst_size, 0);
            if (ph->shape == SIM_SHAPE_LULL)
                ck_assert(ph->rate == 0);
            if (ph->shape == SIM_SHAPE_STEADY || ph->shape == SIM_SHAPE_SPIKE ||
                ph->shape == SIM_SHAPE_DIURNAL)
                ck_assert(ph->rate > 0);
        }
        sim_profile_free(p);
    }
    fs_shipped_free(paths, n);
}
END_TEST

/* bursts.ini, field by field; the README's "Serverless traffic" section says it
 * lasts 54 s and has bursts of 200 and 300 invocations.  End-of-line comments
 * (" ; ...") after values are dropped. */
START_TEST(test_bursts_profile)
{
    sim_profile *p = fs_load_shipped("bursts");
    ck_assert_str_eq(p->name, "bursts");
    ck_assert_str_eq(p->description, "Bursts of function invocations separated by lulls long "
                                     "enough for the database to pause");
    ck_assert_uint_eq(p->seed, 42);
    ck_assert_int_eq(p->max_concurrency, 100);
    ck_assert_int_eq(p->queries_per_invocation, 3);
    ck_assert(p->think_ms == 2);
    ck_assert_int_eq(p->nsetup, 2);
    ck_assert_str_eq(p->setup[0].text,
                     "create table if not exists items (id integer primary key, name text, price "
                     "numeric)");
    ck_assert_int_eq(p->nqueries, 3);
    ck_assert_str_eq(p->queries[0].text,
                     "select name, price from items where id = $RANDOM(1,1000)");
    ck_assert_str_eq(p->queries[2].text,
                     "update items set price = price + 1 where id = $RANDOM(1,1000)");

    static const struct {
        const char *name;
        sim_shape shape;
        double duration_s, rate;
        long burst_size;
    } want[] = {
        {"warm", SIM_SHAPE_STEADY, 8, 20, 0},    {"lull1", SIM_SHAPE_LULL, 10, 0, 0},
        {"burst1", SIM_SHAPE_BURST, 5, 0, 200},  {"lull2", SIM_SHAPE_LULL, 10, 0, 0},
        {"burst2", SIM_SHAPE_BURST, 6, 20, 300}, {"lull3", SIM_SHAPE_LULL, 10, 0, 0},
        {"cool", SIM_SHAPE_STEADY, 5, 10, 0},
    };
    ck_assert_int_eq(p->nphases, (int)(sizeof(want) / sizeof(want[0])));
    double total = 0;
    long bursts = 0;
    for (int i = 0; i < p->nphases; i++) {
        ck_assert_str_eq(p->phases[i].name, want[i].name);
        ck_assert_int_eq(p->phases[i].shape, want[i].shape);
        ck_assert(p->phases[i].duration_s == want[i].duration_s);
        ck_assert(p->phases[i].rate == want[i].rate);
        ck_assert_int_eq(p->phases[i].burst_size, want[i].burst_size);
        total += p->phases[i].duration_s;
        bursts += p->phases[i].burst_size;
    }
    ck_assert(total == 54);
    ck_assert_int_eq(bursts, 500);
    sim_profile_free(p);
}
END_TEST

START_TEST(test_other_shipped_profiles)
{
    sim_profile *p = fs_load_shipped("tiny");
    ck_assert_uint_eq(p->seed, 7);
    ck_assert_int_eq(p->max_concurrency, 8);
    ck_assert_int_eq(p->queries_per_invocation, 2);
    ck_assert_int_eq(p->nphases, 3);
    ck_assert_int_eq(p->phases[0].shape, SIM_SHAPE_STEADY);
    ck_assert(p->phases[0].rate == 5 && p->phases[0].duration_s == 2);
    ck_assert_int_eq(p->phases[1].shape, SIM_SHAPE_LULL);
    ck_assert_int_eq(p->phases[2].shape, SIM_SHAPE_BURST);
    ck_assert_int_eq(p->phases[2].burst_size, 10);
    sim_profile_free(p);

    p = fs_load_shipped("spike");
    ck_assert_int_eq(p->nphases, 3);
    ck_assert_int_eq(p->phases[1].shape, SIM_SHAPE_SPIKE);
    ck_assert(p->phases[1].spike_factor == 20);
    ck_assert(p->phases[1].duration_s == 30 && p->phases[1].rate == 10);
    ck_assert(p->phases[0].spike_factor == 10); /* the default, unused by steady */
    sim_profile_free(p);

    p = fs_load_shipped("diurnal");
    ck_assert_int_eq(p->nphases, 1);
    ck_assert_int_eq(p->phases[0].shape, SIM_SHAPE_DIURNAL);
    ck_assert(p->phases[0].duration_s == 60 && p->phases[0].rate == 40);
    sim_profile_free(p);
}
END_TEST

START_TEST(test_defaults)
{
    char path[1200], err[1600];
    sim_profile *p = fs_load_text("plain-name.v2.ini",
                                  HEAD "[phase:p]\nshape = spike\nduration_s = 1\nrate = 2\n", path,
                                  sizeof(path), err, sizeof(err));
    ck_assert_msg(p != NULL, "%s", err);
    ck_assert_str_eq(p->name, "plain-name.v2"); /* the file name without ".ini" */
    ck_assert_str_eq(p->description, "");
    ck_assert_uint_eq(p->seed, 1);
    ck_assert_int_eq(p->max_concurrency, 100);
    ck_assert_int_eq(p->queries_per_invocation, 3);
    ck_assert(p->think_ms == 0);
    ck_assert_int_eq(p->nsetup, 0);
    ck_assert(p->phases[0].spike_factor == 10);
    ck_assert_int_eq(p->phases[0].line, 3);
    ck_assert_int_eq(p->phases[0].rate_line, 6);
    ck_assert_int_eq(p->phases[0].burst_line, 0);
    sim_profile_free(p);

    /* The largest values each key takes; [profile] may come after the phases. */
    p = fs_load_ok("[phase:a]\nshape = burst\nduration_s = 604800\nburst_size = 2000000\n"
                   "[profile]\nseed = 18446744073709551615\nmax_concurrency = 10000\n"
                   "queries_per_invocation = 0\nthink_ms = 0.5\nquery = select 1\n");
    ck_assert_uint_eq(p->seed, UINT64_MAX);
    ck_assert_int_eq(p->max_concurrency, 10000);
    ck_assert_int_eq(p->queries_per_invocation, 0);
    ck_assert(p->think_ms == 0.5);
    ck_assert(p->phases[0].duration_s == 604800);
    ck_assert_int_eq(p->phases[0].burst_size, 2000000);
    sim_profile_free(p);
}
END_TEST

/* setup, query and description continue on indented lines: statements joined
 * with a newline (a "--" comment cannot swallow the next line), the
 * description with a space.  Comment lines may sit anywhere. */
START_TEST(test_continuation_lines)
{
    sim_profile *p = fs_load_ok("# a comment\n"
                                "[profile]\n"
                                "description = first\n"
                                "\tsecond\n"
                                "setup = create table t (\n"
                                "    id int -- the key\n"
                                "  )\n"
                                "query = select *\n"
                                "; a comment between\n"
                                "  from t where id = $RANDOM(1, 5)\n"
                                "query = select 2\n"
                                "[phase:p]\nshape = lull\nduration_s = 1\n");
    ck_assert_str_eq(p->description, "first second");
    ck_assert_int_eq(p->nsetup, 1);
    ck_assert_str_eq(p->setup[0].text, "create table t (\nid int -- the key\n)");
    ck_assert_int_eq(p->setup[0].line, 5);
    ck_assert_int_eq(p->nqueries, 2);
    ck_assert_str_eq(p->queries[0].text, "select *\nfrom t where id = $RANDOM(1, 5)");
    ck_assert_int_eq(p->queries[0].line, 8);
    ck_assert_str_eq(p->queries[1].text, "select 2");
    ck_assert_int_eq(p->queries[1].line, 11);
    sim_profile_free(p);

    /* An indented key right after a section header is an ordinary key. */
    p = fs_load_ok("[profile]\n  query = select 1\n[phase:p]\n  shape = lull\nduration_s = 1\n");
    ck_assert_str_eq(p->queries[0].text, "select 1");
    sim_profile_free(p);
}
END_TEST

/* ';' and '#' start a comment line, and " ;" an end-of-line comment, so SQL
 * must not contain " ;" (documented in faas_sim.c): the rest of the line is
 * silently dropped.  A ';' with no blank before it is kept. */
START_TEST(test_semicolons_in_sql)
{
    sim_profile *p = fs_load_ok("[profile]\n"
                                "query = select 1 ; select 2\n"
                                "query = select 1; select 2\n"
                                "query = select 'a;b';\n"
                                "setup = insert into t values ('x ;y')\n"
                                "query = select 3\t; tab before the ';' too\n"
                                "[phase:p]\nshape = lull\nduration_s = 1\n");
    ck_assert_int_eq(p->nqueries, 4);
    ck_assert_str_eq(p->queries[0].text, "select 1");
    ck_assert_str_eq(p->queries[1].text, "select 1; select 2");
    ck_assert_str_eq(p->queries[2].text, "select 'a;b';");
    ck_assert_str_eq(p->queries[3].text, "select 3");
    ck_assert_str_eq(p->setup[0].text, "insert into t values ('x");
    sim_profile_free(p);
}
END_TEST

/* CRLF line ends and a UTF-8 byte order mark, even before a phase header. */
START_TEST(test_crlf_and_bom)
{
    sim_profile *p = fs_load_ok("[profile]\r\nquery = select 1\r\n[phase:p]\r\nshape = lull\r\n"
                                "duration_s = 1\r\n");
    ck_assert_str_eq(p->queries[0].text, "select 1");
    ck_assert_int_eq(p->nphases, 1);
    sim_profile_free(p);

    p = fs_load_ok("\xEF\xBB\xBF[phase:first]\nshape = lull\nduration_s = 2\n"
                   "[profile]\nquery = select 1\n");
    ck_assert_int_eq(p->nphases, 1);
    ck_assert_str_eq(p->phases[0].name, "first");
    ck_assert(p->phases[0].duration_s == 2);
    sim_profile_free(p);
}
END_TEST

/* Phase names of up to 63 characters (SIM_NAME_MAX - 1), more than inih keeps
 * of a section's name (49 with "phase:"); two names that differ only after
 * inih's limit stay two phases. */
START_TEST(test_long_phase_names)
{
    char name63[64], other63[64], text[600];
    memset(name63, 'a', 63);
    name63[63] = '\0';
    memcpy(other63, name63, sizeof(name63));
    other63[62] = 'b';
    snprintf(text, sizeof(text),
             HEAD "[phase:%s]\nshape = lull\nduration_s = 1\n"
                  "[phase:%s]\nshape = burst\nduration_s = 2\nburst_size = 3\n",
             name63, other63);
    sim_profile *p = fs_load_ok(text);
    ck_assert_int_eq(p->nphases, 2);
    ck_assert_str_eq(p->phases[0].name, name63);
    ck_assert_int_eq(p->phases[0].shape, SIM_SHAPE_LULL);
    ck_assert_str_eq(p->phases[1].name, other63);
    ck_assert_int_eq(p->phases[1].shape, SIM_SHAPE_BURST);
    ck_assert_int_eq(p->phases[1].burst_size, 3);
    sim_profile_free(p);

    char name64[65];
    memset(name64, 'a', 64);
    name64[64] = '\0';
    snprintf(text, sizeof(text), HEAD "[phase:%s]\nshape = lull\nduration_s = 1\n", name64);
    assert_refused(text, 3, "bad phase name");
}
END_TEST

/* inih reads lines of at most 198 characters (documented); a longer one is
 * refused, wherever it is, rather than silently split. */
START_TEST(test_line_length_limit)
{
    char sql[1100], text[1300];
    static const size_t prefix = sizeof("query = ") - 1;
    memset(sql, 'x', sizeof(sql));
    sql[198 - prefix] = '\0'; /* "query = xxx...": 198 characters */
    snprintf(text, sizeof(text), "[profile]\nquery = %s\n" LULL, sql);
    sim_profile *p = fs_load_ok(text);
    ck_assert_uint_eq(strlen(p->queries[0].text), 198 - prefix);
    sim_profile_free(p);

    static const size_t lengths[] = {199, 200, 201, 1000};
    for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
        memset(sql, 'x', sizeof(sql));
        sql[lengths[i] - prefix] = '\0';
        snprintf(text, sizeof(text), "[profile]\nquery = %s\n" LULL, sql);
        assert_refused(text, 2, "line longer than 198 characters");
    }
    /* An over-long continuation line, comment line, or line in a phase. */
    memset(sql, 'x', sizeof(sql));
    sql[500] = '\0';
    snprintf(text, sizeof(text), "[profile]\nquery = select\n  %s\n" LULL, sql);
    assert_refused(text, 3, "line longer than 198 characters");
    snprintf(text, sizeof(text), HEAD "; %s\n" LULL, sql);
    assert_refused(text, 3, "line longer than 198 characters");
    snprintf(text, sizeof(text), HEAD LULL "rate = %s\n", sql);
    assert_refused(text, 6, "line longer than 198 characters");
}
END_TEST

static const struct {
    const char *text;
    int line; /* 0: an error about the whole file */
    const char *msg;
} bad_profiles[] = {
    /* sections and keys */
    {HEAD LULL "[phases:q]\nshape = lull\n", 6,
     "unknown section [phases:q] (expected [profile] or [phase:NAME])"},
    {HEAD "[Profile]\n", 3, "unknown section [Profile]"},
    {HEAD "queries = select 2\n" LULL, 3, "unknown key \"queries\" in [profile]"},
    {HEAD "[phase:p]\nshape = lull\nduration = 1\n", 5, "unknown key \"duration\" in [phase:p]"},
    {"query = select 1\n" HEAD LULL, 1, "key \"query\" before any section ([profile] first)"},
    {HEAD "junk\n" LULL, 3, "syntax error"},
    {HEAD "rate: 5\n" LULL, 3, "unknown key \"rate\" in [profile]"}, /* inih: ':' is '=' */
    /* inih reports an unclosed header only when done: it still comes first */
    {HEAD "[phase:p\nshape = lull\nduration_s = 1\n", 3, "syntax error"},
    {HEAD "name = a\nname = b\n" LULL, 4, "name given twice"},
    {HEAD "description = a\ndescription = b\n" LULL, 4, "description given twice"},
    {HEAD "seed = 1\nseed = 1\n" LULL, 4, "seed given twice"},
    {HEAD "[phase:p]\nshape = lull\nduration_s = 1\nshape = lull\n", 6,
     "shape given twice in [phase:p] (first on line 4)"},
    {HEAD LULL LULL, 6, "phase \"p\" defined twice"},
    {HEAD "[phase:]\nshape = lull\nduration_s = 1\n", 3, "bad phase name \"\""},
    {HEAD "[phase:a b]\nshape = lull\nduration_s = 1\n", 3, "bad phase name \"a b\""},
    {HEAD "[phase:x/y]\nshape = lull\nduration_s = 1\n", 3, "bad phase name"},
    {HEAD "[phase:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa]\n", 3,
     "section name too long"},
    {HEAD "name = two words\n" LULL, 3, "bad name \"two words\""},
    /* [profile] values */
    {HEAD "seed = -1\n" LULL, 3, "seed: expected an integer from 0 to 2^64-1, not \"-1\""},
    {HEAD "seed = 18446744073709551616\n" LULL, 3, "seed: expected an integer"},
    {HEAD "seed = 42x\n" LULL, 3, "seed: expected an integer"},
    {HEAD "seed =\n" LULL, 3, "seed: expected an integer"},
    {HEAD "max_concurrency = 0\n" LULL, 3, "max_concurrency: expected an integer from 1 to 10000"},
    {HEAD "max_concurrency = 10001\n" LULL, 3, "max_concurrency: expected an integer"},
    {HEAD "max_concurrency = many\n" LULL, 3, "not \"many\""},
    {HEAD "queries_per_invocation = -1\n" LULL, 3,
     "queries_per_invocation: expected an integer from 0 to 10000, not \"-1\""},
    {HEAD "queries_per_invocation = 2.5\n" LULL, 3, "queries_per_invocation: expected an integer"},
    {HEAD "think_ms = -1\n" LULL, 3, "think_ms: expected a number of milliseconds >= 0"},
    {HEAD "think_ms = nan\n" LULL, 3, "think_ms: expected a number"},
    {"[profile]\nquery =\n" LULL, 2, "empty query"},
    {"[profile]\nsetup =\nquery = select 1\n" LULL, 2, "empty setup"},
    {"[profile]\nquery = select $RANDOM(5,1)\n" LULL, 2,
     "query: $RANDOM(5,1): the first bound is larger"},
    {"[profile]\nquery = select $RANDOM(1)\n" LULL, 2, "query: bad placeholder at \"$RANDOM(1)\""},
    {"[profile]\nsetup = select $RANDOMLY\nquery = select 1\n" LULL, 2, "setup: bad placeholder"},
    {"[profile]\nquery = select $RANDOM(1,\n  2)\n" LULL, 2, "query: bad placeholder"},
    /* continuation lines */
    {"[profile]\nquery = select\n  query = select 2\n" LULL, 3,
     "indented \"query =\" line: it would continue the statement above; write it unindented"},
    {"[profile]\nsetup = select\n\tsetup= select 2\nquery = select 1\n" LULL, 3,
     "indented \"setup =\" line"},
    {HEAD "[phase:p]\nshape = lull\n  duration_s = 1\n", 5,
     "indented line: only setup, query and description may continue on the next lines"},
    {HEAD "seed = 1\n  2\n" LULL, 4, "indented line: only setup, query and description"},
    /* phases: counts, rates and lengths */
    {HEAD "[phase:p]\nshape = burst\nduration_s = 1\nburst_size = -5\n", 6,
     "burst_size: expected an integer from 1 to 2000000, not \"-5\""},
    {HEAD "[phase:p]\nshape = burst\nduration_s = 1\nburst_size = ten\n", 6,
     "burst_size: expected an integer from 1 to 2000000, not \"ten\""},
    {HEAD "[phase:p]\nshape = burst\nduration_s = 1\nburst_size = 0\n", 6, "not \"0\""},
    {HEAD "[phase:p]\nshape = burst\nduration_s = 1\nburst_size = 12.5\n", 6, "not \"12.5\""},
    {HEAD "[phase:p]\nshape = burst\nduration_s = 1\nburst_size = 2000001\n", 6, "not \"2000001\""},
    {HEAD "[phase:p]\nshape = burst\nduration_s = 1\nburst_size = 99999999999999999999\n", 6,
     "burst_size: expected an integer"},
    {HEAD "[phase:p]\nshape = burst\nduration_s = 1\nburst_size =\n", 6, "not \"\""},
    {HEAD "[phase:p]\nshape = steady\nduration_s = 1\nrate = -1\n", 6,
     "rate: expected invocations per second >= 0, not \"-1\""},
    {HEAD "[phase:p]\nshape = steady\nduration_s = 1\nrate = fast\n", 6, "not \"fast\""},
    {HEAD "[phase:p]\nshape = steady\nduration_s = 1\nrate = nan\n", 6, "not \"nan\""},
    {HEAD "[phase:p]\nshape = steady\nduration_s = 1\nrate = inf\n", 6, "not \"inf\""},
    {HEAD "[phase:p]\nshape = steady\nduration_s = 1\nrate = 1e7\n", 6, "not \"1e7\""},
    {HEAD "[phase:p]\nshape = steady\nduration_s = 1\nrate = 0\n", 6,
     "[phase:p]: shape steady needs rate > 0"},
    {HEAD "[phase:p]\nshape = diurnal\nduration_s = 1\n", 3, "shape diurnal needs rate > 0"},
    {HEAD "[phase:p]\nshape = spike\nduration_s = 1\n", 3, "shape spike needs rate > 0"},
    {HEAD "[phase:p]\nshape = lull\n", 3, "[phase:p] has no duration_s"},
    {HEAD "[phase:p]\nshape = burst\nburst_size = 5\n", 3, "[phase:p] has no duration_s"},
    {HEAD "[phase:p]\n", 3, "[phase:p] has no shape"},
    {HEAD LULL "[phase:q]\n", 6, "[phase:q] has no shape"},
    {HEAD "[phase:p]\nshape = lull\nduration_s = 0\n", 5,
     "duration_s: expected a number of seconds > 0, not \"0\""},
    {HEAD "[phase:p]\nshape = lull\nduration_s = -2\n", 5, "not \"-2\""},
    {HEAD "[phase:p]\nshape = lull\nduration_s = 5s\n", 5, "not \"5s\""},
    {HEAD "[phase:p]\nshape = lull\nduration_s =\n", 5, "not \"\""},
    {HEAD "[phase:p]\nshape = lull\nduration_s = 604801\n", 5, "not \"604801\""},
    {HEAD "[phase:p]\nshape = wave\nduration_s = 1\n", 4,
     "unknown shape \"wave\" (expected steady, lull, burst, spike or diurnal)"},
    {HEAD "[phase:p]\nshape = lull\nduration_s = 1\nrate = 2\n", 6,
     "[phase:p]: shape lull takes no rate"},
    {HEAD "[phase:p]\nshape = burst\nduration_s = 1\n", 3,
     "[phase:p]: shape burst needs burst_size"},
    {HEAD "[phase:p]\nshape = steady\nduration_s = 1\nrate = 1\nburst_size = 3\n", 7,
     "[phase:p]: burst_size is for shape burst, not steady"},
    {HEAD "[phase:p]\nshape = burst\nduration_s = 1\nburst_size = 3\nspike_factor = 2\n", 7,
     "[phase:p]: spike_factor is for shape spike, not burst"},
    {HEAD "[phase:p]\nshape = spike\nduration_s = 1\nrate = 1\nspike_factor = 0\n", 7,
     "spike_factor: expected a number > 0, not \"0\""},
    /* what is missing from the whole file */
    {"", 0, "no queries: add at least one \"query = ...\" line to [profile]"},
    {"\n\n; only comments\n# and blanks\n", 0, "no queries"},
    {"[profile]\n" LULL, 0, "no queries"},
    {HEAD, 0, "no phases: add at least one [phase:NAME] section"},
    {HEAD "[profile]\n", 0, "no phases"},
    /* the first error wins */
    {HEAD "seed = x\nfoo = 1\n[phase:p]\n", 3, "seed: expected an integer"},
};

START_TEST(test_bad_profile)
{
    assert_refused(bad_profiles[_i].text, bad_profiles[_i].line, bad_profiles[_i].msg);
}
END_TEST

/* Limits that need many lines: 64 phases, 256 query and setup lines. */
START_TEST(test_count_limits)
{
    size_t cap = 64 * 1024, len;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);

    len = (size_t)snprintf(text, cap, HEAD);
    for (int i = 0; i < SIM_MAX_PHASES; i++)
        len += (size_t)snprintf(text + len, cap - len,
                                "[phase:p%d]\nshape = lull\nduration_s = 1\n", i);
    sim_profile *p = fs_load_ok(text);
    ck_assert_int_eq(p->nphases, SIM_MAX_PHASES);
    ck_assert_str_eq(p->phases[SIM_MAX_PHASES - 1].name, "p63");
    sim_profile_free(p);
    snprintf(text + len, cap - len, "[phase:one_more]\nshape = lull\nduration_s = 1\n");
    assert_refused(text, 3 + 3 * SIM_MAX_PHASES, "too many phases (at most 64)");

    static const char *const keys[] = {"query", "setup"};
    for (int k = 0; k < 2; k++) {
        len = (size_t)snprintf(text, cap, "[profile]\nquery = select 0\n");
        for (int i = 1; i < SIM_MAX_STATEMENTS; i++)
            len += (size_t)snprintf(text + len, cap - len, "%s = select %d\n", keys[k], i);
        snprintf(text + len, cap - len, LULL);
        p = fs_load_ok(text);
        ck_assert_int_eq(k == 0 ? p->nqueries : p->nsetup, k == 0 ? SIM_MAX_STATEMENTS : 255);
        sim_profile_free(p);
        len += (size_t)snprintf(text + len, cap - len, "%s = select last\n", keys[k]);
        if (k == 1) /* 256 setup lines are fine: one more */
            len += (size_t)snprintf(text + len, cap - len, "setup = select past\n");
        snprintf(text + len, cap - len, LULL);
        char msg[64];
        snprintf(msg, sizeof(msg), "too many %s lines (at most 256)", keys[k]);
        assert_refused(text, k == 0 ? 2 + 255 + 1 : 2 + 255 + 2, msg);
    }
    free(text);
}
END_TEST

START_TEST(test_file_errors)
{
    char path[1200], err[1600];
    snprintf(path, sizeof(path), "%s/no-such-profile.ini", fs_tmp);
    ck_assert_ptr_null(sim_profile_load(path, err, sizeof(err)));
    snprintf(path + strlen(path), sizeof(path) - strlen(path), ": cannot open: %s",
             strerror(ENOENT));
    ck_assert_str_eq(err, path);

    /* A NUL byte would hide the rest of its line from inih. */
    static const char nul[] = "[profile]\nquery = select 1\0 or drop table t\n" LULL;
    fs_write_bytes("nul.ini", nul, sizeof(nul) - 1, path, sizeof(path));
    ck_assert_ptr_null(sim_profile_load(path, err, sizeof(err)));
    assert_error(err, path, 2, "line contains a NUL byte");

    /* A small error buffer truncates the message, still NUL-terminated. */
    char small[12];
    ck_assert_ptr_null(sim_profile_load(path, small, sizeof(small)));
    ck_assert_uint_eq(strlen(small), sizeof(small) - 1);

    sim_profile_free(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("sim_profile");
    TCase *tc = tcase_create("sim_profile");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, fs_tmp_setup, fs_tmp_teardown);
    tcase_add_test(tc, test_shape_str_and_parse);
    tcase_add_test(tc, test_every_shipped_profile_loads);
    tcase_add_test(tc, test_bursts_profile);
    tcase_add_test(tc, test_other_shipped_profiles);
    tcase_add_test(tc, test_defaults);
    tcase_add_test(tc, test_continuation_lines);
    tcase_add_test(tc, test_semicolons_in_sql);
    tcase_add_test(tc, test_crlf_and_bom);
    tcase_add_test(tc, test_long_phase_names);
    tcase_add_test(tc, test_line_length_limit);
    tcase_add_loop_test(tc, test_bad_profile, 0,
                        (int)(sizeof(bad_profiles) / sizeof(bad_profiles[0])));
    tcase_add_test(tc, test_count_limits);
    tcase_add_test(tc, test_file_errors);
    suite_add_tcase(s, tc);
    return fs_run(s);
}
