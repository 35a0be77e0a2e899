/*
 * Tests for storage/sqlite_cold.c, through the engine: the last CLOSE of a
 * pausing database moves its file to cold_dir with its checksum, the next
 * OPEN brings it back; a damaged or unchecked cold file is refused (XX001);
 * when both copies exist the data_dir one wins; a database not pausing, or
 * with a second connection open, stays where it is.
 */
#include <sys/stat.h>

#include "storage_test.h"

static char dir[256], data[300], cold[300];
static storage_engine *engine;

static void setup(void)
{
    st_mkdtemp(dir, sizeof(dir));
    snprintf(data, sizeof(data), "%s/data", dir);
    snprintf(cold, sizeof(cold), "%s/cold", dir);
    ck_assert_int_eq(mkdir(data, 0700), 0);
    ck_assert_int_eq(mkdir(cold, 0700), 0);
    storage_options opt = {.data_dir = data, .cold_dir = cold, .workers = 2,
                           .busy_timeout_ms = 200, .synchronous_full = true};
    char err[256];
    engine = storage_engine_new(&opt, err, sizeof(err));
    ck_assert_msg(engine != NULL, "%s", err);
}

static void teardown(void)
{
    storage_engine_free(engine);
    st_rm_rf(dir);
}

static bool exists(const char *base, const char *name)
{
    char path[600];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", base, name);
    return stat(path, &st) == 0;
}

static void run(storage_conn *c, storage_job_kind kind, const char *sql, const char *want)
{
    st_result r;
    st_submit_wait(engine, c, kind, sql, &r);
    ck_assert_msg(strcmp(r.transcript, want) == 0, "%s: got %s, want %s", sql ? sql : "job",
                  r.transcript, want);
    wire_buf_free(&r.out);
}

/* Opens a connection of db, runs sql, closes it. */
static void use(storage_db *db, const char *sql, const char *want)
{
    storage_conn *c = storage_conn_new(db);
    run(c, STORAGE_JOB_OPEN, NULL, "");
    if (sql)
        run(c, STORAGE_JOB_QUERY, sql, want);
    run(c, STORAGE_JOB_CLOSE, NULL, "");
    storage_conn_free(c);
}

START_TEST(test_freeze_and_thaw)
{
    storage_db *db = storage_db_new(engine, "app");
    use(db, "create table t (x int); insert into t values (1), (2), (3)", "C[CREATE TABLE] C[INSERT 0 3]");
    ck_assert(exists(data, "app.db"));
    ck_assert(!storage_db_is_cold(db)); /* not pausing: it stays */

    storage_db_set_pausing(db, true);
    storage_conn *a = storage_conn_new(db), *b = storage_conn_new(db);
    run(a, STORAGE_JOB_OPEN, NULL, "");
    run(b, STORAGE_JOB_OPEN, NULL, "");
    run(a, STORAGE_JOB_CLOSE, NULL, "");
    ck_assert(exists(data, "app.db")); /* b is still open */
    run(b, STORAGE_JOB_CLOSE, NULL, "");
    ck_assert(!exists(data, "app.db"));
    ck_assert(!exists(data, "app.db-wal"));
    ck_assert(exists(cold, "app.db"));
    ck_assert(exists(cold, "app.db.xxh3"));
    ck_assert(storage_db_is_cold(db));

    /* the next OPEN brings it back */
    storage_db_set_pausing(db, false);
    use(db, "select sum(x) from t", "T[sum:20] D[6] C[SELECT 1]");
    ck_assert(exists(data, "app.db"));
    ck_assert(!exists(cold, "app.db"));
    ck_assert(!exists(cold, "app.db.xxh3"));
    storage_conn_free(a);
    storage_conn_free(b);
    storage_db_free(db);
}
END_TEST

START_TEST(test_damaged_is_refused)
{
    storage_db *db = storage_db_new(engine, "dmg");
    char sql[12000];
    int n = snprintf(sql, sizeof(sql), "create table t (x text); insert into t values ('");
    memset(sql + n, 'a', 10000);
    snprintf(sql + n + 10000, sizeof(sql) - (size_t)n - 10000, "')");
    use(db, sql, "C[CREATE TABLE] C[INSERT 0 1]");
    storage_db_set_pausing(db, true);
    use(db, NULL, NULL);
    ck_assert(storage_db_is_cold(db));
    char path[600];
    snprintf(path, sizeof(path), "%s/dmg.db", cold);
    FILE *f = fopen(path, "r+");
    ck_assert_ptr_nonnull(f);
    fseek(f, 9000, SEEK_SET);
    fputc('Z', f);
    fclose(f);

    storage_db_set_pausing(db, false);
    storage_conn *c = storage_conn_new(db);
    st_result r;
    st_submit_wait(engine, c, STORAGE_JOB_OPEN, NULL, &r);
    ck_assert(r.failed);
    ck_assert_str_eq(r.transcript, "E[XX001]");
    char msg[512];
    ck_assert_ptr_nonnull(strstr(st_error(&r.out, 'E', 0, 'M', msg, sizeof(msg)), "is damaged"));
    wire_buf_free(&r.out);
    ck_assert(!exists(data, "dmg.db")); /* nothing served, nothing moved */
    ck_assert(exists(cold, "dmg.db"));

    /* no checksum at all: refused too */
    snprintf(path, sizeof(path), "%s/dmg.db.xxh3", cold);
    ck_assert_int_eq(unlink(path), 0);
    st_submit_wait(engine, c, STORAGE_JOB_OPEN, NULL, &r);
    ck_assert_str_eq(r.transcript, "E[XX001]");
    ck_assert_ptr_nonnull(strstr(st_error(&r.out, 'E', 0, 'M', msg, sizeof(msg)), "no valid checksum"));
    wire_buf_free(&r.out);
    storage_conn_free(c);
    storage_db_free(db);
}
END_TEST

START_TEST(test_data_dir_copy_wins)
{
    storage_db *db = storage_db_new(engine, "both");
    use(db, "create table t (x int); insert into t values (7)", "C[CREATE TABLE] C[INSERT 0 1]");
    /* an interrupted copy left a stale cold file beside the real one */
    char cmd[1400];
    snprintf(cmd, sizeof(cmd), "cp '%s/both.db' '%s/both.db' && echo '00000000000000000000000000000000 1' > '%s/both.db.xxh3'",
             data, cold, cold);
    ck_assert_int_eq(system(cmd), 0);
    use(db, "select x from t", "T[x:23] D[7] C[SELECT 1]");
    ck_assert(!exists(cold, "both.db"));
    ck_assert(!exists(cold, "both.db.xxh3"));
    storage_db_free(db);
}
END_TEST

static Suite *cold_suite(void)
{
    Suite *s = suite_create("storage/sqlite_cold");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_freeze_and_thaw);
    tcase_add_test(tc, test_damaged_is_refused);
    tcase_add_test(tc, test_data_dir_copy_wins);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_run_suite(cold_suite());
}
