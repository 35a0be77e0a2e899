/*
 * Tests for storage/sqlite_reset.c: STORAGE_JOB_RESET leaves an open
 * connection as a new client expects it (no settings, prepared statements,
 * portals, transaction, COPY, temp tables or user), keeps the catalog's temp
 * tables, and lets the database's write lock go.
 */
#include <sqlite3.h>

#include "storage_internal.h"
#include "storage_test.h"

static void reset_ok(st_fixture *f, storage_conn *c)
{
    st_result r;
    st_submit_wait(f->engine, c, STORAGE_JOB_RESET, NULL, &r);
    ck_assert_msg(!r.failed, "reset failed: %s", r.transcript);
    ck_assert_str_eq(r.transcript, "");
    ck_assert_int_eq(r.tx_status, 'I');
    wire_buf_free(&r.out);
}

/* How many objects named `name` the connection's temp schema has; read on
 * the handle directly, which the test owns while no job runs. */
static int temp_objects(storage_conn *c, const char *name)
{
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(c->handle,
                                        "SELECT count(*) FROM temp.sqlite_schema WHERE name = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    int n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

START_TEST(test_reset_forgets_settings_and_user)
{
    st_fixture f;
    st_setup(&f, 1);
    ck_assert(storage_conn_set_user(f.conn, "alice"));
    st_expect(&f, "select current_user as u", "T[u:19] D[alice] C[SELECT 1]", 'I');
    st_expect(&f, "set application_name = 'client-a'", "C[SET] S[application_name=client-a]", 'I');
    st_expect(&f, "set search_path = public", "C[SET]", 'I');
    st_expect(&f, "show application_name", "T[application_name:25] D[client-a] C[SHOW]", 'I');
    reset_ok(&f, f.conn);
    st_expect(&f, "show application_name", "T[application_name:25] D[] C[SHOW]", 'I');
    /* until the next session sets its user, the database's name stands for it */
    st_expect(&f, "select current_user as u", "T[u:19] D[app] C[SELECT 1]", 'I');
    ck_assert(storage_conn_set_user(f.conn, "bob"));
    st_expect(&f, "select current_user as u", "T[u:19] D[bob] C[SELECT 1]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_reset_drops_prepared_statements_and_portals)
{
    st_fixture f;
    st_setup(&f, 1);
    wire_buf b;
    wire_buf_init(&b);
    wire_put_parse(&b, "s1", "select 1 as one", NULL, 0);
    wire_put_bind(&b, "p1", "s1", NULL, 0, NULL, 0, NULL, 0);
    wire_put_execute(&b, "p1", 0);
    wire_put_flush(&b); /* the portal stays open: no Sync */
    st_result r;
    st_submit_msgs(f.engine, f.conn, &b, &r);
    ck_assert_str_eq(r.transcript, "1 2 D[1] C[SELECT 1]");
    wire_buf_free(&r.out);
    wire_buf_reset(&b);

    reset_ok(&f, f.conn);
    wire_put_bind(&b, "", "s1", NULL, 0, NULL, 0, NULL, 0);
    wire_put_sync(&b);
    st_submit_msgs(f.engine, f.conn, &b, &r);
    ck_assert_str_eq(r.transcript, "E[26000] Z[I]");
    wire_buf_free(&r.out);
    wire_buf_reset(&b);
    wire_put_execute(&b, "p1", 0);
    wire_put_sync(&b);
    st_submit_msgs(f.engine, f.conn, &b, &r);
    ck_assert_str_eq(r.transcript, "E[34000] Z[I]");
    wire_buf_free(&r.out);
    wire_buf_free(&b);
    st_teardown(&f);
}
END_TEST

START_TEST(test_reset_rolls_back)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f, "create table t(a int); insert into t values (1)",
              "C[CREATE TABLE] C[INSERT 0 1]", 'I');
    st_expect(&f, "begin; insert into t values (2); savepoint s; insert into t values (3)",
              "C[BEGIN] C[INSERT 0 1] C[SAVEPOINT] C[INSERT 0 1]", 'T');
    reset_ok(&f, f.conn);
    ck_assert(sqlite3_get_autocommit(f.conn->handle));
    st_expect(&f, "select count(*) as n from t", "T[n:20] D[1] C[SELECT 1]", 'I');

    /* a failed block too */
    st_expect(&f, "begin; select nope", "C[BEGIN] E[42703]", 'E');
    reset_ok(&f, f.conn);
    st_expect(&f, "select 1 as one", "T[one:23] D[1] C[SELECT 1]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_reset_ends_copy_in_progress)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f, "create table t(a int)", "C[CREATE TABLE]", 'I');
    st_result r;
    st_query(&f, "copy t from stdin", &r);
    wire_buf_free(&r.out);
    ck_assert_ptr_nonnull(f.conn->copy);
    reset_ok(&f, f.conn);
    ck_assert_ptr_null(f.conn->copy);
    ck_assert(!f.conn->copying);
    st_expect(&f, "select count(*) as n from t", "T[n:20] D[0] C[SELECT 1]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_reset_drops_temp_objects_keeps_catalog)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f, "create table base(a int)", "C[CREATE TABLE]", 'I');
    /* the catalog is built lazily, by the first statement that reads it */
    st_result r;
    st_query(&f, "select count(*) from pg_class where relname = 'base'", &r);
    ck_assert_str_eq(r.transcript, "T[count:20] D[1] C[SELECT 1]");
    wire_buf_free(&r.out);
    ck_assert_int_eq(temp_objects(f.conn, "pg_class"), 1);
    ck_assert_int_eq(temp_objects(f.conn, "_dm_catalog"), 1);

    st_expect(&f,
              "create temp table tp(id int primary key); create temp table tc(pid int references "
              "tp(id)); insert into tp values (1); insert into tc values (1); create index "
              "tc_pid on tc(pid); create temp view tv as select id from tp",
              "C[CREATE TABLE] C[CREATE TABLE] C[INSERT 0 1] C[INSERT 0 1] C[CREATE INDEX] "
              "C[CREATE VIEW]",
              'I');
    ck_assert_int_eq(temp_objects(f.conn, "tp"), 1);
    ck_assert_int_eq(temp_objects(f.conn, "tv"), 1);
    reset_ok(&f, f.conn);
    ck_assert_int_eq(temp_objects(f.conn, "tp"), 0);
    ck_assert_int_eq(temp_objects(f.conn, "tc"), 0);
    ck_assert_int_eq(temp_objects(f.conn, "tc_pid"), 0);
    ck_assert_int_eq(temp_objects(f.conn, "tv"), 0);
    ck_assert_int_eq(temp_objects(f.conn, "pg_class"), 1);
    ck_assert_int_eq(temp_objects(f.conn, "pg_type"), 1);
    ck_assert_int_eq(temp_objects(f.conn, "_dm_is_tables"), 1);
    ck_assert_int_eq(temp_objects(f.conn, "_dm_catalog"), 1);
    st_expect(&f, "select * from tp", "E[42P01]", 'I');
    /* the kept catalog still answers, and sees a table made after the reset */
    st_expect(&f, "create table later(b int)", "C[CREATE TABLE]", 'I');
    st_query(&f, "select count(*) from pg_class where relname in ('base', 'later')", &r);
    ck_assert_str_eq(r.transcript, "T[count:20] D[2] C[SELECT 1]");
    wire_buf_free(&r.out);
    /* and a new temp table of the same name is fine */
    st_expect(&f, "create temp table tp(x text)", "C[CREATE TABLE]", 'I');
    st_teardown(&f);
}
END_TEST

/* The catalog's role rows and pg_settings describe the session that built
 * them: kept for the same user, rebuilt for another one or after SETs. */
START_TEST(test_reset_catalog_follows_user_and_settings)
{
    st_fixture f;
    st_setup(&f, 1);
    ck_assert(storage_conn_set_user(f.conn, "alice"));
    st_expect(&f, "select count(*) as n from pg_roles where rolname = 'alice'",
              "T[n:20] D[1] C[SELECT 1]", 'I');
    reset_ok(&f, f.conn);
    ck_assert_int_eq(temp_objects(f.conn, "pg_roles"), 1);

    /* the same user: the catalog stays */
    ck_assert(storage_conn_set_user(f.conn, "alice"));
    st_expect(&f, "select 1 as one", "T[one:23] D[1] C[SELECT 1]", 'I');
    ck_assert_int_eq(temp_objects(f.conn, "pg_roles"), 1);
    reset_ok(&f, f.conn);

    /* another user: rebuilt for bob at the first statement that needs it */
    ck_assert(storage_conn_set_user(f.conn, "bob"));
    st_expect(&f, "select 1 as one", "T[one:23] D[1] C[SELECT 1]", 'I');
    ck_assert_int_eq(temp_objects(f.conn, "pg_roles"), 0);
    st_expect(&f, "select count(*) as n from pg_roles where rolname = 'bob'",
              "T[n:20] D[1] C[SELECT 1]", 'I');

    /* pg_settings shows current_setting() as it was when the catalog was
     * built: after a SET the catalog goes with the reset */
    reset_ok(&f, f.conn);
    ck_assert(storage_conn_set_user(f.conn, "carol")); /* the catalog is rebuilt after the SET */
    st_expect(&f, "set application_name = 'leaky'", "C[SET] S[application_name=leaky]", 'I');
    st_expect(&f, "select setting from pg_settings where name = 'application_name'",
              "T[setting:25] D[leaky] C[SELECT 1]", 'I');
    ck_assert_int_eq(temp_objects(f.conn, "pg_settings"), 1);
    reset_ok(&f, f.conn);
    ck_assert_int_eq(temp_objects(f.conn, "pg_settings"), 0);
    ck_assert(storage_conn_set_user(f.conn, "bob"));
    st_expect(&f, "select setting from pg_settings where name = 'application_name'",
              "T[setting:25] D[] C[SELECT 1]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_reset_of_unopened_connection_fails)
{
    st_fixture f;
    st_setup(&f, 1);
    storage_conn *c = storage_conn_new(f.db);
    st_result r;
    st_submit_wait(f.engine, c, STORAGE_JOB_RESET, NULL, &r);
    ck_assert(r.failed);
    ck_assert_str_eq(r.transcript, "E[XX000]");
    wire_buf_free(&r.out);
    storage_conn_free(c);
    st_teardown(&f);
}
END_TEST

/* ---- the write lock ---- */

typedef struct async_job {
    storage_job job;
    st_waiter w;
} async_job;

static void async_submit(storage_engine *e, async_job *a, storage_conn *c, const char *sql)
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

static void async_wait(async_job *a, char *transcript, size_t cap)
{
    pthread_mutex_lock(&a->w.lock);
    while (!a->w.done)
        pthread_cond_wait(&a->w.cond, &a->w.lock);
    pthread_mutex_unlock(&a->w.lock);
    st_render(&a->job.out, transcript, cap);
    wire_buf_free(&a->job.out);
    pthread_cond_destroy(&a->w.cond);
    pthread_mutex_destroy(&a->w.lock);
}

START_TEST(test_reset_releases_write_lock)
{
    st_fixture f;
    st_mkdtemp(f.dir, sizeof(f.dir));
    storage_options opt = {
        .data_dir = f.dir, .workers = 2, .busy_timeout_ms = 10000, .synchronous_full = true};
    char err[256];
    f.engine = storage_engine_new(&opt, err, sizeof(err));
    ck_assert_msg(f.engine != NULL, "%s", err);
    f.db = storage_db_new(f.engine, "app");
    f.conn = storage_conn_new(f.db);
    st_open(&f, f.conn);
    storage_conn *other = storage_conn_new(f.db);
    st_open(&f, other);

    st_expect(&f, "create table t(a int)", "C[CREATE TABLE]", 'I');
    st_expect(&f, "begin; insert into t values (1)", "C[BEGIN] C[INSERT 0 1]", 'T');
    ck_assert_ptr_eq(f.db->writer, f.conn);

    /* the other connection's write waits for the lock ... */
    async_job a;
    async_submit(f.engine, &a, other, "insert into t values (2)");
    usleep(100 * 1000);
    ck_assert(!async_done(&a));
    /* ... until the holder's client is gone and its connection is reset */
    reset_ok(&f, f.conn);
    char transcript[256];
    async_wait(&a, transcript, sizeof(transcript));
    ck_assert_str_eq(transcript, "C[INSERT 0 1]");
    st_expect(&f, "select a from t", "T[a:23] D[2] C[SELECT 1]", 'I');
    ck_assert_ptr_null(f.db->writer);

    st_close(&f, other);
    storage_conn_free(other);
    st_teardown(&f);
}
END_TEST

static Suite *sqlite_reset_suite(void)
{
    Suite *s = suite_create("storage/sqlite_reset");
    TCase *tc = tcase_create("reset");
    tcase_add_test(tc, test_reset_forgets_settings_and_user);
    tcase_add_test(tc, test_reset_drops_prepared_statements_and_portals);
    tcase_add_test(tc, test_reset_rolls_back);
    tcase_add_test(tc, test_reset_ends_copy_in_progress);
    tcase_add_test(tc, test_reset_drops_temp_objects_keeps_catalog);
    tcase_add_test(tc, test_reset_catalog_follows_user_and_settings);
    tcase_add_test(tc, test_reset_of_unopened_connection_fails);
    tcase_add_test(tc, test_reset_releases_write_lock);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_run_suite(sqlite_reset_suite());
}
