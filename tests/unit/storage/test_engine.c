/*
 * Tests for storage/engine.c: the worker pool and job queue, handle lifecycle,
 * two connections on one database, interrupting a running statement, and
 * when a connection may serve another client without a RESET.
 */
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "storage_test.h"

START_TEST(test_kind_str)
{
    ck_assert_str_eq(storage_kind_str(STORAGE_SQLITE), "sqlite");
    ck_assert_str_eq(storage_kind_str(STORAGE_POSTGRES), "postgres");
    ck_assert_str_eq(storage_kind_str((storage_kind)99), "unknown");
    ck_assert_str_eq(storage_job_kind_str(STORAGE_JOB_OPEN), "open");
    ck_assert_str_eq(storage_job_kind_str(STORAGE_JOB_QUERY), "query");
    ck_assert_str_eq(storage_job_kind_str(STORAGE_JOB_CLOSE), "close");
    ck_assert_str_eq(storage_job_kind_str(STORAGE_JOB_RESET), "reset");
    ck_assert_str_eq(storage_job_kind_str(STORAGE_JOB_EXTENDED), "extended");
    ck_assert_str_eq(storage_job_kind_str(STORAGE_JOB_COPY), "copy");
    ck_assert_str_eq(storage_copy_mode_str(STORAGE_COPY_NONE), "none");
    ck_assert_str_eq(storage_copy_mode_str(STORAGE_COPY_IN), "in");
    ck_assert_str_eq(storage_copy_mode_str(STORAGE_COPY_OUT), "out");
    ck_assert_str_eq(storage_copy_mode_str((storage_copy_mode)99), "unknown");
    ck_assert_str_eq(storage_copy_end_str(STORAGE_COPY_MORE), "more");
    ck_assert_str_eq(storage_copy_end_str(STORAGE_COPY_DONE), "done");
    ck_assert_str_eq(storage_copy_end_str(STORAGE_COPY_FAIL), "fail");
    ck_assert_str_eq(storage_copy_end_str((storage_copy_end)99), "unknown");
    ck_assert_str_eq(storage_job_kind_str((storage_job_kind)99), "unknown");
}
END_TEST

START_TEST(test_engine_new_rejects_bad_options)
{
    char err[256];
    storage_options opt = {.data_dir = "/tmp", .workers = 0};
    ck_assert_ptr_null(storage_engine_new(&opt, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "workers"));
    opt.workers = 1;
    opt.data_dir = NULL;
    ck_assert_ptr_null(storage_engine_new(&opt, err, sizeof(err)));
    ck_assert_ptr_nonnull(strstr(err, "data_dir"));
    opt.data_dir = "/tmp";
    opt.busy_timeout_ms = -1;
    ck_assert_ptr_null(storage_engine_new(&opt, err, sizeof(err)));
    ck_assert_ptr_null(storage_engine_new(NULL, err, sizeof(err)));
    storage_engine_free(NULL);
    storage_db_free(NULL);
    storage_conn_free(NULL);
    storage_conn_interrupt(NULL);
}
END_TEST

START_TEST(test_db_path)
{
    storage_engine *e = st_engine("/some/dir", 1);
    storage_db *db = storage_db_new(e, "tenant_1");
    ck_assert_str_eq(storage_db_name(db), "tenant_1");
    ck_assert_str_eq(storage_db_path(db), "/some/dir/tenant_1.db");
    /* no I/O until a job runs: the directory need not exist */
    storage_conn *c = storage_conn_new(db);
    storage_conn_interrupt(c); /* nothing runs: a no-op */
    storage_conn_free(c);
    storage_db_free(db);
    storage_engine_free(e);
}
END_TEST

/* Jobs without a connection are rejected on the worker: enough to watch the
 * queue without any SQLite. */
typedef struct order_log {
    pthread_mutex_t lock;
    int order[64];
    int n;
} order_log;

static void order_done(storage_job *job)
{
    order_log *log = job->udata;
    pthread_mutex_lock(&log->lock);
    log->order[log->n++] = (int)job->sql_len;
    pthread_mutex_unlock(&log->lock);
}

START_TEST(test_fifo_and_drain_on_free)
{
    storage_engine *e = st_engine("/tmp", 1);
    order_log log = {.n = 0};
    pthread_mutex_init(&log.lock, NULL);
    storage_job jobs[64];
    for (int i = 0; i < 64; i++) {
        memset(&jobs[i], 0, sizeof(jobs[i]));
        jobs[i].kind = STORAGE_JOB_QUERY;
        jobs[i].sql_len = (size_t)i; /* the job's number */
        jobs[i].done = order_done;
        jobs[i].udata = &log;
        wire_buf_init(&jobs[i].out);
        storage_job_submit(e, &jobs[i]);
    }
    storage_engine_free(e); /* runs all 64 before returning */
    ck_assert_int_eq(log.n, 64);
    for (int i = 0; i < 64; i++) {
        ck_assert_int_eq(log.order[i], i);
        ck_assert(jobs[i].failed);
        char transcript[256];
        st_render(&jobs[i].out, transcript, sizeof(transcript));
        ck_assert_str_eq(transcript, "E[XX000]");
        wire_buf_free(&jobs[i].out);
    }
    pthread_mutex_destroy(&log.lock);
}
END_TEST

START_TEST(test_many_workers_many_connections)
{
    char dir[256];
    st_mkdtemp(dir, sizeof(dir));
    st_fixture f = {.engine = st_engine(dir, 4)};
    snprintf(f.dir, sizeof(f.dir), "%s", dir);
    storage_db *dbs[4];
    storage_conn *conns[4];
    for (int i = 0; i < 4; i++) {
        char name[16];
        snprintf(name, sizeof(name), "db%d", i);
        dbs[i] = storage_db_new(f.engine, name);
        conns[i] = storage_conn_new(dbs[i]);
        st_open(&f, conns[i]);
    }
    for (int i = 0; i < 4; i++) {
        st_result r;
        st_submit_wait(f.engine, conns[i], STORAGE_JOB_QUERY,
                       "create table t(a int); insert into t values (1); select a from t", &r);
        ck_assert_str_eq(r.transcript, "C[CREATE TABLE] C[INSERT 0 1] T[a:23] D[1] C[SELECT 1]");
        ck_assert(r.statements == 3);
        wire_buf_free(&r.out);
    }
    for (int i = 0; i < 4; i++) {
        char path[400];
        snprintf(path, sizeof(path), "%s/db%d.db", dir, i);
        ck_assert_int_eq(access(path, F_OK), 0);
        st_close(&f, conns[i]);
        storage_conn_free(conns[i]);
        storage_db_free(dbs[i]);
    }
    storage_engine_free(f.engine);
    st_rm_rf(dir);
}
END_TEST

START_TEST(test_open_failure)
{
    char dir[256];
    st_mkdtemp(dir, sizeof(dir));
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/does/not/exist", dir);
    storage_engine *e = st_engine(missing, 1);
    storage_db *db = storage_db_new(e, "app");
    storage_conn *c = storage_conn_new(db);
    st_result r;
    st_submit_wait(e, c, STORAGE_JOB_OPEN, NULL, &r);
    ck_assert(r.failed);
    ck_assert_str_eq(r.transcript, "E[3D000]");
    char buf[512];
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'S', buf, sizeof(buf)), "FATAL");
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'M', buf, sizeof(buf)),
                     "could not open database \"app\": unable to open database file");
    wire_buf_free(&r.out);

    /* a query on the unopened connection fails cleanly */
    st_submit_wait(e, c, STORAGE_JOB_QUERY, "select 1", &r);
    ck_assert(r.failed);
    ck_assert_str_eq(r.transcript, "E[XX000]");
    wire_buf_free(&r.out);

    /* closing a connection that never opened is fine */
    st_submit_wait(e, c, STORAGE_JOB_CLOSE, NULL, &r);
    ck_assert(!r.failed);
    ck_assert_str_eq(r.transcript, "");
    wire_buf_free(&r.out);

    storage_conn_free(c);
    storage_db_free(db);
    storage_engine_free(e);
    st_rm_rf(dir);
}
END_TEST

START_TEST(test_two_connections_wal)
{
    st_fixture f;
    st_setup(&f, 2);
    storage_conn *b = storage_conn_new(f.db);
    st_open(&f, b);
    st_result r;

    st_expect(&f, "create table w(a int); insert into w values (1)",
              "C[CREATE TABLE] C[INSERT 0 1]", 'I');
    st_expect(&f, "begin; insert into w values (2)", "C[BEGIN] C[INSERT 0 1]", 'T');

    /* a reader is not blocked by the open write transaction and sees the
     * last committed state */
    st_submit_wait(f.engine, b, STORAGE_JOB_QUERY, "select count(*) as n from w", &r);
    ck_assert_str_eq(r.transcript, "T[n:20] D[1] C[SELECT 1]");
    wire_buf_free(&r.out);

    /* a second writer waits busy_timeout_ms, then gets 40001 */
    st_submit_wait(f.engine, b, STORAGE_JOB_QUERY, "insert into w values (3)", &r);
    ck_assert_str_eq(r.transcript, "E[40001]");
    ck_assert_int_eq(r.tx_status, 'I');
    wire_buf_free(&r.out);

    st_expect(&f, "commit", "C[COMMIT]", 'I');
    st_submit_wait(f.engine, b, STORAGE_JOB_QUERY,
                   "insert into w values (3); select count(*) as n from w", &r);
    ck_assert_str_eq(r.transcript, "C[INSERT 0 1] T[n:20] D[3] C[SELECT 1]");
    wire_buf_free(&r.out);

    st_close(&f, b);
    storage_conn_free(b);
    st_teardown(&f);
}
END_TEST

/* ---- writers ---- */

typedef struct writer_thread {
    st_fixture *f;
    storage_conn *conn;
    int id;
    int errors;
    char first_error[256];
} writer_thread;

static void *writer_main(void *arg)
{
    writer_thread *w = arg;
    char sql[128];
    for (int i = 0; i < 20; i++) {
        const char *steps[3] = {"begin", sql, "commit"};
        snprintf(sql, sizeof(sql), "insert into w values (%d, %d)", w->id, i);
        for (int k = 0; k < 3; k++) {
            st_result r;
            st_submit_wait(w->f->engine, w->conn, STORAGE_JOB_QUERY, steps[k], &r);
            if (strstr(r.transcript, "E[")) {
                if (!w->errors++)
                    snprintf(w->first_error, sizeof(w->first_error), "%s: %.200s", steps[k],
                             r.transcript);
            }
            wire_buf_free(&r.out);
        }
    }
    return NULL;
}

/* More writers in explicit transactions than workers: a writer waiting for the
 * lock must not occupy a worker, or the lock holder's COMMIT never runs and
 * everyone times out (40001).  Every transaction must succeed. */
START_TEST(test_writers_more_than_workers)
{
    enum { NWRITERS = 8 };
    st_fixture f;
    st_setup(&f, 2);
    st_expect(&f, "create table w(a int, b int)", "C[CREATE TABLE]", 'I');
    writer_thread w[NWRITERS];
    pthread_t t[NWRITERS];
    for (int i = 0; i < NWRITERS; i++) {
        memset(&w[i], 0, sizeof(w[i]));
        w[i].f = &f;
        w[i].id = i;
        w[i].conn = storage_conn_new(f.db);
        st_open(&f, w[i].conn);
        pthread_create(&t[i], NULL, writer_main, &w[i]);
    }
    for (int i = 0; i < NWRITERS; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < NWRITERS; i++) {
        ck_assert_msg(w[i].errors == 0, "writer %d: %d errors, first %s", i, w[i].errors,
                      w[i].first_error);
        st_close(&f, w[i].conn);
        storage_conn_free(w[i].conn);
    }
    st_expect(&f, "select count(*) as n from w", "T[n:20] D[160] C[SELECT 1]", 'I');
    st_teardown(&f);
}
END_TEST

/* A parked writer gives up after busy_timeout with 40001 and its block fails;
 * once the holder commits, the lock is free again. */
START_TEST(test_parked_writer_times_out)
{
    st_fixture f;
    st_setup(&f, 2);
    storage_conn *b = storage_conn_new(f.db);
    st_open(&f, b);
    st_expect(&f, "create table w(a int)", "C[CREATE TABLE]", 'I');
    st_expect(&f, "begin; insert into w values (1)", "C[BEGIN] C[INSERT 0 1]", 'T');
    st_result r;
    st_submit_wait(f.engine, b, STORAGE_JOB_QUERY, "begin", &r);
    wire_buf_free(&r.out);
    st_submit_wait(f.engine, b, STORAGE_JOB_QUERY, "insert into w values (2)", &r);
    ck_assert_str_eq(r.transcript, "E[40001]");
    ck_assert_int_eq(r.tx_status, 'E');
    wire_buf_free(&r.out);
    st_submit_wait(f.engine, b, STORAGE_JOB_QUERY, "rollback", &r);
    wire_buf_free(&r.out);
    st_expect(&f, "commit", "C[COMMIT]", 'I');
    st_submit_wait(f.engine, b, STORAGE_JOB_QUERY, "insert into w values (3)", &r);
    ck_assert_str_eq(r.transcript, "C[INSERT 0 1]");
    wire_buf_free(&r.out);
    st_close(&f, b);
    storage_conn_free(b);
    st_teardown(&f);
}
END_TEST

/* ---- interrupt ---- */

typedef struct async_job {
    storage_job job;
    st_waiter w;
} async_job;

static void async_submit(storage_engine *e, storage_conn *c, const char *sql, async_job *a)
{
    memset(a, 0, sizeof(*a));
    pthread_mutex_init(&a->w.lock, NULL);
    pthread_cond_init(&a->w.cond, NULL);
    a->job.kind = STORAGE_JOB_QUERY;
    a->job.conn = c;
    a->job.sql = sql;
    a->job.sql_len = strlen(sql);
    a->job.done = st_job_done;
    a->job.udata = &a->w;
    wire_buf_init(&a->job.out);
    storage_job_submit(e, &a->job);
}

static bool async_done(async_job *a)
{
    pthread_mutex_lock(&a->w.lock);
    bool done = a->w.done;
    pthread_mutex_unlock(&a->w.lock);
    return done;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#define LONG_QUERY                                                                                 \
    "with recursive c(x) as (select 1 union all select x + 1 from c where x < 1000000000) "        \
    "select count(*) from c"

static void interrupt_and_check(st_fixture *f, const char *sql, const char *want, char want_tx)
{
    async_job a;
    async_submit(f->engine, f->conn, sql, &a);
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 100 * 1000 * 1000};
    nanosleep(&pause, NULL);
    if (async_done(&a)) {
        char early[512];
        st_render(&a.job.out, early, sizeof(early));
        ck_abort_msg("the long query finished on its own: %s", early);
    }
    double t0 = now_s();
    storage_conn_interrupt(f->conn);
    while (!async_done(&a)) {
        ck_assert_msg(now_s() - t0 < 2.0, "interrupt took more than 2 s");
        struct timespec tick = {.tv_sec = 0, .tv_nsec = 1000 * 1000};
        nanosleep(&tick, NULL);
    }
    char transcript[512];
    st_render(&a.job.out, transcript, sizeof(transcript));
    ck_assert_str_eq(transcript, want);
    ck_assert_int_eq(a.job.tx_status, want_tx);
    char buf[256];
    if (strstr(want, "57014"))
        ck_assert_str_eq(st_error(&a.job.out, 'E', 0, 'M', buf, sizeof(buf)),
                         "canceling statement due to user request");
    wire_buf_free(&a.job.out);
    pthread_cond_destroy(&a.w.cond);
    pthread_mutex_destroy(&a.w.lock);
}

START_TEST(test_interrupt_long_query)
{
    st_fixture f;
    st_setup(&f, 2);
    interrupt_and_check(&f, LONG_QUERY, "E[57014]", 'I');
    /* the connection is usable afterwards, and a later statement is not
     * affected by the old interrupt */
    st_expect(&f, "select 1 as one", "T[one:23] D[1] C[SELECT 1]", 'I');

    /* inside a block: the block fails */
    st_expect(&f, "create table t(a int)", "C[CREATE TABLE]", 'I');
    st_expect(&f, "begin; insert into t values (1)", "C[BEGIN] C[INSERT 0 1]", 'T');
    interrupt_and_check(&f, LONG_QUERY, "E[57014]", 'E');
    st_expect(&f, "rollback", "C[ROLLBACK]", 'I');

    /* in an implicit block: the earlier statements are rolled back */
    interrupt_and_check(&f, "insert into t values (2); " LONG_QUERY, "C[INSERT 0 1] E[57014]", 'I');
    st_expect(&f, "select count(*) as n from t", "T[n:20] D[0] C[SELECT 1]", 'I');
    st_teardown(&f);
}
END_TEST

/* A cancel that arrives while the job waits in the queue (every worker busy)
 * still cancels it, as PostgreSQL cancels a query the backend has not started. */
START_TEST(test_interrupt_while_queued)
{
    st_fixture f;
    st_setup(&f, 1);
    storage_conn *b = storage_conn_new(f.db);
    st_open(&f, b);

    async_job slow, queued;
    async_submit(f.engine, f.conn, LONG_QUERY, &slow); /* occupies the only worker */
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};
    nanosleep(&pause, NULL);
    async_submit(f.engine, b, "select 1 as one", &queued);
    storage_conn_interrupt(b);         /* b's job is still queued */
    ck_assert(!async_done(&queued));
    storage_conn_interrupt(f.conn);    /* frees the worker */
    while (!async_done(&slow) || !async_done(&queued))
        nanosleep(&pause, NULL);
    char transcript[512];
    st_render(&queued.job.out, transcript, sizeof(transcript));
    ck_assert_str_eq(transcript, "E[57014]");
    wire_buf_free(&slow.job.out);
    wire_buf_free(&queued.job.out);

    /* the cancel does not outlive its job */
    st_result r;
    st_submit_wait(f.engine, b, STORAGE_JOB_QUERY, "select 1 as one", &r);
    ck_assert_str_eq(r.transcript, "T[one:23] D[1] C[SELECT 1]");
    wire_buf_free(&r.out);
    st_close(&f, b);
    storage_conn_free(b);
    st_teardown(&f);
}
END_TEST

typedef struct interrupter {
    storage_conn *conn;
    atomic_bool stop;
} interrupter;

static void *interrupter_main(void *arg)
{
    interrupter *it = arg;
    while (!atomic_load(&it->stop)) {
        storage_conn_interrupt(it->conn);
        sched_yield();
    }
    return NULL;
}

/* Interrupts from another thread at any moment, including while the handle
 * is being opened or closed, never touch a dead handle (run under ASan). */
START_TEST(test_interrupt_races_open_close)
{
    st_fixture f;
    st_setup(&f, 2);
    st_close(&f, f.conn);
    interrupter it = {.conn = f.conn};
    atomic_init(&it.stop, false);
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, interrupter_main, &it), 0);
    for (int i = 0; i < 30; i++) {
        st_open(&f, f.conn);
        st_result r;
        st_query(&f, "create table if not exists t(a int); insert into t values (1); select 1", &r);
        ck_assert(strstr(r.transcript, "E[57014]") || strstr(r.transcript, "C[SELECT 1]"));
        ck_assert_int_eq(r.tx_status, 'I');
        wire_buf_free(&r.out);
        st_close(&f, f.conn);
    }
    atomic_store(&it.stop, true);
    pthread_join(th, NULL);
    st_open(&f, f.conn);
    st_teardown(&f);
}
END_TEST

START_TEST(test_stateless_only_without_session_state)
{
    st_fixture f;
    st_setup(&f, 1);
    ck_assert(storage_conn_stateless(f.conn));
    st_expect(&f, "create table t(a int)", "C[CREATE TABLE]", 'I');
    st_expect(&f, "begin", "C[BEGIN]", 'T');
    ck_assert(!storage_conn_stateless(f.conn));
    st_expect(&f, "commit", "C[COMMIT]", 'I');
    ck_assert(storage_conn_stateless(f.conn));

    /* Execute without Sync: the implicit block's transaction is open
     * although the status is 'I'; another client's first Query would
     * commit it (as PostgreSQL commits it with the same client's Query). */
    wire_buf b;
    wire_buf_init(&b);
    wire_put_parse(&b, "", "insert into t values (1)", NULL, 0);
    wire_put_bind(&b, "", "", NULL, 0, NULL, 0, NULL, 0);
    wire_put_execute(&b, "", 0);
    wire_put_flush(&b);
    st_result r;
    st_submit_msgs(f.engine, f.conn, &b, &r);
    ck_assert_str_eq(r.transcript, "1 2 C[INSERT 0 1]");
    ck_assert_int_eq(r.tx_status, 'I');
    wire_buf_free(&r.out);
    ck_assert(!storage_conn_stateless(f.conn));
    wire_buf_reset(&b);
    wire_put_sync(&b);
    st_submit_msgs(f.engine, f.conn, &b, &r);
    ck_assert_str_eq(r.transcript, "Z[I]");
    wire_buf_free(&r.out);
    wire_buf_free(&b);
    ck_assert(storage_conn_stateless(f.conn));
    st_teardown(&f);
}
END_TEST

static Suite *engine_suite(void)
{
    Suite *s = suite_create("storage/engine");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_kind_str);
    tcase_add_test(tc, test_engine_new_rejects_bad_options);
    tcase_add_test(tc, test_db_path);
    tcase_add_test(tc, test_fifo_and_drain_on_free);
    tcase_add_test(tc, test_many_workers_many_connections);
    tcase_add_test(tc, test_open_failure);
    tcase_add_test(tc, test_two_connections_wal);
    tcase_add_test(tc, test_writers_more_than_workers);
    tcase_add_test(tc, test_parked_writer_times_out);
    tcase_add_test(tc, test_interrupt_long_query);
    tcase_add_test(tc, test_interrupt_while_queued);
    tcase_add_test(tc, test_interrupt_races_open_close);
    tcase_add_test(tc, test_stateless_only_without_session_state);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_run_suite(engine_suite());
}
