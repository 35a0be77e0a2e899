/*
 * Tests for storage/ledger.c: records appended are read back per bucket
 * once the ledger's thread has them; the journal starts over once the
 * ledger holds it; a process that dies without closing the ledger (records
 * only in the journal) loses nothing, and records are not counted twice;
 * a flush the disk cut short leaves no torn record behind.
 */
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "storage_test.h"

static char dir[256];
static int64_t base; /* a day ago: within every retention */

static int64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void setup(void)
{
    st_mkdtemp(dir, sizeof(dir));
    base = now_us() - 86400LL * 1000000;
}

static void teardown(void)
{
    st_rm_rf(dir);
}

static storage_ledger *open_ledger(void)
{
    char err[256];
    storage_ledger *l = storage_ledger_open(dir, 2, err, sizeof(err));
    ck_assert_msg(l != NULL, "%s", err);
    return l;
}

/* n records, from the ledger's two writers in turn, each flushed every 7. */
static void append(storage_ledger *l, const char *db, int n, int64_t ts_us)
{
    storage_ledger_writer *w[2] = {storage_ledger_writer_get(l, 0), storage_ledger_writer_get(l, 1)};
    ck_assert_ptr_null(storage_ledger_writer_get(l, 2));
    for (int i = 0; i < n; i++) {
        storage_usage_record r = {.ts_us = ts_us + i, .database = db, .user = "u",
                                  .application = "t", .engine = STORAGE_SQLITE,
                                  .wall_us = 10, .cpu_us = 5, .rows_returned = 2,
                                  .rows_written = i % 2, .bytes_in = 30, .bytes_out = 100};
        memcpy(r.sqlstate, i == 0 ? "42P01" : "00000", 6);
        ck_assert(storage_ledger_append(w[i % 2], &r));
        if (i % 7 == 6)
            ck_assert(storage_ledger_flush(w[i % 2]));
    }
    ck_assert(storage_ledger_flush(w[0]));
    ck_assert(storage_ledger_flush(w[1]));
    ck_assert(!storage_ledger_pending(w[0]) && !storage_ledger_pending(w[1]));
}

typedef struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
} waiter;

static void done_cb(storage_ledger_request *q)
{
    waiter *w = q->udata;
    pthread_mutex_lock(&w->lock);
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* Queries db over everything, per day: the total queries (and the rest in *sum). */
static uint64_t query(storage_ledger *l, const char *db, storage_usage_row *sum)
{
    waiter w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
    storage_ledger_request q;
    memset(&q, 0, sizeof(q));
    snprintf(q.database, sizeof(q.database), "%s", db);
    q.from_us = 0;
    q.to_us = INT64_MAX;
    q.granularity = STORAGE_USAGE_DAY;
    q.done = done_cb;
    q.udata = &w;
    storage_ledger_query(l, &q);
    pthread_mutex_lock(&w.lock);
    while (!w.done)
        pthread_cond_wait(&w.cond, &w.lock);
    pthread_mutex_unlock(&w.lock);
    ck_assert_msg(q.error[0] == '\0', "%s", q.error);
    storage_usage_row s;
    memset(&s, 0, sizeof(s));
    for (int i = 0; i < q.nrows; i++) {
        s.queries += q.rows[i].queries;
        s.errors += q.rows[i].errors;
        s.rows_written += q.rows[i].rows_written;
        s.rows_returned += q.rows[i].rows_returned;
        s.bytes_out += q.rows[i].bytes_out;
    }
    free(q.rows);
    if (sum)
        *sum = s;
    return s.queries;
}

START_TEST(test_append_and_read)
{
    storage_ledger *l = open_ledger();
    int64_t day = 86400LL * 1000000;
    append(l, "a", 10, base - 2 * day);
    append(l, "a", 5, base - day);
    append(l, "b", 3, base - 2 * day);
    storage_usage_row s;
    ck_assert_uint_eq(query(l, "a", &s), 15);
    ck_assert_uint_eq(s.errors, 2);        /* the first of each batch */
    ck_assert_uint_eq(s.rows_written, 7);  /* 5 + 2 */
    ck_assert_uint_eq(s.rows_returned, 30);
    ck_assert_uint_eq(s.bytes_out, 1500);
    ck_assert_uint_eq(query(l, "b", NULL), 3);
    ck_assert_uint_eq(query(l, "c", NULL), 0);
    ck_assert_uint_eq(storage_ledger_lag(l), 0);
    storage_ledger_close(l);
    l = open_ledger(); /* all of it is in the ledger, once */
    ck_assert_uint_eq(query(l, "a", NULL), 15);
    storage_ledger_close(l);
}
END_TEST

START_TEST(test_journal_starts_over)
{
    storage_ledger *l = open_ledger();
    storage_ledger_set_truncate_at(l, 1000);
    append(l, "a", 50, base);
    ck_assert_uint_eq(query(l, "a", NULL), 50); /* the read catches up first */
    ck_assert_int_eq(storage_ledger_journal_size(l), 0);
    append(l, "a", 7, base + 1000000);
    ck_assert_uint_eq(query(l, "a", NULL), 57);
    storage_ledger_close(l);
    l = open_ledger();
    ck_assert_uint_eq(query(l, "a", NULL), 57);
    storage_ledger_close(l);
}
END_TEST

START_TEST(test_crash_loses_nothing)
{
    storage_ledger *l = open_ledger();
    append(l, "a", 20, base);
    ck_assert_uint_eq(query(l, "a", NULL), 20);
    storage_ledger_close(l);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) { /* appends and dies without closing the ledger */
        char err[256];
        storage_ledger *c = storage_ledger_open(dir, 2, err, sizeof(err));
        if (!c)
            _exit(2);
        append(c, "a", 300, base + 5000000);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    l = open_ledger();
    ck_assert_uint_eq(query(l, "a", NULL), 320);
    storage_ledger_close(l);
}
END_TEST

START_TEST(test_more_writers_before)
{
    /* a run with four writers dies; the next has two: the other journals go in, and away */
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char err[256];
        storage_ledger *c = storage_ledger_open(dir, 4, err, sizeof(err));
        if (!c)
            _exit(2);
        for (int k = 0; k < 4; k++) {
            storage_usage_record r = {.ts_us = base + k, .database = "m", .user = "u",
                                      .application = "", .engine = STORAGE_SQLITE};
            memcpy(r.sqlstate, "00000", 6);
            storage_ledger_writer *w = storage_ledger_writer_get(c, k);
            if (!storage_ledger_append(w, &r) || !storage_ledger_append(w, &r) ||
                !storage_ledger_flush(w))
                _exit(3);
        }
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    storage_ledger *l = open_ledger();
    ck_assert_uint_eq(query(l, "m", NULL), 8);
    char path[512];
    snprintf(path, sizeof(path), "%s/dormouse_usage.3.journal", dir);
    ck_assert_int_ne(access(path, F_OK), 0);
    storage_ledger_close(l);
    l = open_ledger();
    ck_assert_uint_eq(query(l, "m", NULL), 8); /* once */
    storage_ledger_close(l);
}
END_TEST

START_TEST(test_torn_tail_is_cut)
{
    storage_ledger *l = open_ledger();
    append(l, "t", 5, base);
    ck_assert_uint_eq(query(l, "t", NULL), 5);
    storage_ledger_close(l);
    /* a crash tore the next record while writing it */
    char path[512];
    snprintf(path, sizeof(path), "%s/dormouse_usage.0.journal", dir);
    FILE *f = fopen(path, "a");
    ck_assert_ptr_nonnull(f);
    fputs("\x40\x00\x00\x00torn", f);
    fclose(f);
    l = open_ledger();
    append(l, "t", 4, base + 1000000); /* after the cut, not after the torn bytes */
    ck_assert_uint_eq(query(l, "t", NULL), 9);
    storage_ledger_close(l);
}
END_TEST

START_TEST(test_short_write_is_cut)
{
    /* A full disk (here RLIMIT_FSIZE, in a child) lets a flush write only
     * part of its records: they are lost, but the torn part is cut off, so
     * the records flushed once there is room again reach the ledger. */
    storage_ledger *l = open_ledger();
    append(l, "s", 5, base);
    ck_assert_uint_eq(query(l, "s", NULL), 5);
    storage_ledger_close(l);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char err[256];
        storage_ledger *c = storage_ledger_open(dir, 2, err, sizeof(err));
        if (!c)
            _exit(2);
        if (query(c, "s", NULL) != 5) /* (and the thread has done its start-up work) */
            _exit(3);
        storage_ledger_writer *w = storage_ledger_writer_get(c, 0);
        storage_usage_record r = {.ts_us = base + 1000000,
                                  .database = "s",
                                  .user = "u",
                                  .application = "t",
                                  .engine = STORAGE_SQLITE};
        memcpy(r.sqlstate, "00000", 6);
        int64_t before = storage_ledger_journal_size(c);
        struct rlimit was, full;
        signal(SIGXFSZ, SIG_IGN);
        if (getrlimit(RLIMIT_FSIZE, &was) != 0)
            _exit(4);
        full = was;
        full.rlim_cur = (rlim_t)before + 40; /* room for part of the first record */
        if (setrlimit(RLIMIT_FSIZE, &full) != 0)
            _exit(5);
        for (int i = 0; i < 3; i++)
            if (!storage_ledger_append(w, &r))
                _exit(6);
        bool flushed = storage_ledger_flush(w);
        int64_t after = storage_ledger_journal_size(c);
        if (setrlimit(RLIMIT_FSIZE, &was) != 0)
            _exit(7);
        if (flushed)
            _exit(8);
        if (after != before)
            _exit(9); /* the torn record is still there */
        for (int i = 0; i < 4; i++)
            if (!storage_ledger_append(w, &r))
                _exit(10);
        if (!storage_ledger_flush(w))
            _exit(11);
        if (query(c, "s", NULL) != 9)
            _exit(12);
        storage_ledger_close(c);
        _exit(0);
    }
    int status;
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    l = open_ledger();
    ck_assert_uint_eq(query(l, "s", NULL), 9);
    storage_ledger_close(l);
}
END_TEST

START_TEST(test_retention)
{
    int64_t day = 86400LL * 1000000;
    storage_ledger *l = open_ledger();
    append(l, "r", 3, base - 500 * day); /* past the default 400 days */
    append(l, "r", 4, base - 100 * day); /* past 35 days: summed per hour */
    append(l, "r", 5, base);
    ck_assert_uint_eq(query(l, "r", NULL), 12); /* (the thread applies retention hourly) */
    storage_ledger_close(l);
    l = open_ledger(); /* and at open */
    ck_assert_uint_eq(query(l, "r", NULL), 9);
    storage_ledger_set_retention(l, 35 * day, 50 * day);
    ck_assert_uint_eq(query(l, "r", NULL), 5);
    storage_ledger_set_retention(l, 0, 0); /* all per hour, kept for ever */
    ck_assert_uint_eq(query(l, "r", NULL), 5);
    storage_ledger_close(l);
}
END_TEST

static Suite *ledger_suite(void)
{
    Suite *s = suite_create("storage/ledger");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_append_and_read);
    tcase_add_test(tc, test_journal_starts_over);
    tcase_add_test(tc, test_crash_loses_nothing);
    tcase_add_test(tc, test_more_writers_before);
    tcase_add_test(tc, test_torn_tail_is_cut);
    tcase_add_test(tc, test_short_write_is_cut);
    tcase_add_test(tc, test_retention);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_run_suite(ledger_suite());
}
