/*
 * Tests for storage/sqlite_conn.c: what OPEN leaves on disk and on the handle,
 * OPEN failures, and CLOSE.
 */
#include <fcntl.h>

#include <sqlite3.h>

#include "storage_test.h"

/* Reads one value from the database file with a separate, plain handle. */
static void read_pragma(const char *path, const char *sql, char *out, size_t len)
{
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st;
    ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    ck_assert_int_eq(sqlite3_step(st), SQLITE_ROW);
    snprintf(out, len, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

START_TEST(test_open_creates_wal_database)
{
    st_fixture f;
    st_setup(&f, 1);
    const char *path = storage_db_path(f.db);
    ck_assert_int_eq(access(path, F_OK), 0);
    st_expect(&f, "create table t(a int)", "C[CREATE TABLE]", 'I');
    char mode[32];
    read_pragma(path, "PRAGMA journal_mode", mode, sizeof(mode));
    ck_assert_str_eq(mode, "wal");
    st_teardown(&f);
}
END_TEST

START_TEST(test_foreign_keys_enforced)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f,
              "create table p(id int primary key); create table c(pid int references p(id) on "
              "delete cascade); insert into p values (1); insert into c values (1)",
              "C[CREATE TABLE] C[CREATE TABLE] C[INSERT 0 1] C[INSERT 0 1]", 'I');
    st_expect(&f, "insert into c values (2)", "E[23503]", 'I');
    st_expect(&f, "delete from p", "C[DELETE 1]", 'I');
    st_expect(&f, "select count(*) as n from c", "T[n:20] D[0] C[SELECT 1]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_double_quotes_are_identifiers)
{
    st_fixture f;
    st_setup(&f, 1);
    /* PostgreSQL: "x" is a column reference, never a string */
    st_expect(&f, "select \"nope\"", "E[42703]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_open_not_a_database)
{
    char dir[256];
    st_mkdtemp(dir, sizeof(dir));
    char path[400];
    snprintf(path, sizeof(path), "%s/junk.db", dir);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    ck_assert_int_ge(fd, 0);
    char junk[4096];
    memset(junk, 'j', sizeof(junk));
    ck_assert_int_eq(write(fd, junk, sizeof(junk)), (ssize_t)sizeof(junk));
    close(fd);

    storage_engine *e = st_engine(dir, 1);
    storage_db *db = storage_db_new(e, "junk");
    storage_conn *c = storage_conn_new(db);
    st_result r;
    st_submit_wait(e, c, STORAGE_JOB_OPEN, NULL, &r);
    ck_assert(r.failed);
    ck_assert_str_eq(r.transcript, "E[XX001]");
    char buf[256];
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'S', buf, sizeof(buf)), "FATAL");
    ck_assert_ptr_nonnull(strstr(st_error(&r.out, 'E', 0, 'M', buf, sizeof(buf)),
                                 "could not open database \"junk\": "));
    wire_buf_free(&r.out);
    storage_conn_free(c);
    storage_db_free(db);
    storage_engine_free(e);
    st_rm_rf(dir);
}
END_TEST

START_TEST(test_open_twice_fails)
{
    st_fixture f;
    st_setup(&f, 1);
    st_result r;
    st_submit_wait(f.engine, f.conn, STORAGE_JOB_OPEN, NULL, &r);
    ck_assert(r.failed);
    ck_assert_str_eq(r.transcript, "E[XX000]");
    wire_buf_free(&r.out);
    /* the first handle is untouched */
    st_expect(&f, "select 1 as one", "T[one:23] D[1] C[SELECT 1]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_close_and_reopen)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f, "create table t(a int); insert into t values (1)",
              "C[CREATE TABLE] C[INSERT 0 1]", 'I');
    /* a failed block is rolled back by CLOSE and the status is reset */
    st_expect(&f, "begin; insert into t values (2); select nope", "C[BEGIN] C[INSERT 0 1] E[42703]",
              'E');
    st_result r;
    st_submit_wait(f.engine, f.conn, STORAGE_JOB_CLOSE, NULL, &r);
    ck_assert(!r.failed);
    ck_assert_int_eq(r.tx_status, 'I');
    wire_buf_free(&r.out);
    st_open(&f, f.conn);
    st_expect(&f, "select a from t", "T[a:23] D[1] C[SELECT 1]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_synchronous_normal)
{
    char dir[256];
    st_mkdtemp(dir, sizeof(dir));
    storage_options opt = {.data_dir = dir, .workers = 1, .busy_timeout_ms = 0};
    char err[128];
    storage_engine *e = storage_engine_new(&opt, err, sizeof(err));
    ck_assert_ptr_nonnull(e);
    st_fixture f = {.engine = e};
    f.db = storage_db_new(e, "n");
    f.conn = storage_conn_new(f.db);
    st_open(&f, f.conn);
    st_expect(&f, "create table t(a int); insert into t values (1); select a from t",
              "C[CREATE TABLE] C[INSERT 0 1] T[a:23] D[1] C[SELECT 1]", 'I');
    st_close(&f, f.conn);
    storage_conn_free(f.conn);
    storage_db_free(f.db);
    storage_engine_free(e);
    st_rm_rf(dir);
}
END_TEST

static Suite *sqlite_conn_suite(void)
{
    Suite *s = suite_create("storage/sqlite_conn");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_open_creates_wal_database);
    tcase_add_test(tc, test_foreign_keys_enforced);
    tcase_add_test(tc, test_double_quotes_are_identifiers);
    tcase_add_test(tc, test_open_not_a_database);
    tcase_add_test(tc, test_open_twice_fails);
    tcase_add_test(tc, test_close_and_reopen);
    tcase_add_test(tc, test_synchronous_normal);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_run_suite(sqlite_conn_suite());
}
