/*
 * Tests for storage/sqlite_rebuild.c: ALTER TABLE ... ADD PRIMARY KEY by
 * rebuilding the table, on a real engine: the key works afterwards (23505
 * named t_pkey, NOT NULL), indexes survive, and every refusal (duplicates,
 * NULLs, a key already there, unknown table or column) leaves the table as
 * it was, inside and outside a transaction block.
 */
#include "storage_test.h"

START_TEST(test_add_primary_key)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f, "create table t(a int not null, b int, c text) with (fillfactor = 100)",
              "C[CREATE TABLE]", 'I');
    st_expect(&f, "insert into t values (1, 10, 'x'), (2, 20, 'y'), (3, 30, null)", "C[INSERT 0 3]",
              'I');
    st_expect(&f, "create index t_b on t (b)", "C[CREATE INDEX]", 'I');
    st_expect(&f, "alter table t add primary key (a)", "C[ALTER TABLE]", 'I');
    st_expect(&f, "select a, b, c from t order by a",
              "T[a:23,b:23,c:25] D[1,10,x] D[2,20,y] D[3,30,<null>] C[SELECT 3]", 'I');

    st_result r;
    char buf[256];
    st_query(&f, "insert into t values (1, 0, 'dup')", &r);
    ck_assert_str_eq(r.transcript, "E[23505]");
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'M', buf, sizeof(buf)),
                     "duplicate key value violates unique constraint \"t_pkey\"");
    wire_buf_free(&r.out);
    /* an integer key becomes SQLite's rowid, as with CREATE TABLE (a int
     * primary key): NULL then draws a new key rather than failing */
    st_expect(&f, "create table s(k text, v int)", "C[CREATE TABLE]", 'I');
    st_expect(&f, "insert into s values ('a', 1)", "C[INSERT 0 1]", 'I');
    st_expect(&f, "alter table s add primary key (k)", "C[ALTER TABLE]", 'I');
    st_expect(&f, "insert into s values (null, 2)", "E[23502]", 'I');
    st_expect(&f, "insert into s values ('a', 3)", "E[23505]", 'I');
    /* the index was recreated */
    st_expect(&f, "select count(*) from sqlite_master where name = 't_b'",
              "T[count:20] D[1] C[SELECT 1]", 'I');
    /* a second key */
    st_expect(&f, "alter table t add primary key (b)", "E[42P16]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_refusals_leave_the_table)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f, "create table d(k int, v text)", "C[CREATE TABLE]", 'I');
    st_expect(&f, "insert into d values (1, 'a'), (1, 'b'), (2, null)", "C[INSERT 0 3]", 'I');
    st_result r;
    char buf[256];
    st_query(&f, "alter table d add primary key (k)", &r);
    ck_assert_str_eq(r.transcript, "E[23505]");
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'M', buf, sizeof(buf)),
                     "could not create unique index \"d_pkey\"");
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'D', buf, sizeof(buf)), "Key (k)=(1) is duplicated.");
    wire_buf_free(&r.out);
    st_query(&f, "alter table d add primary key (v)", &r);
    ck_assert_str_eq(r.transcript, "E[23502]");
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'M', buf, sizeof(buf)),
                     "column \"v\" of relation \"d\" contains null values");
    wire_buf_free(&r.out);
    st_expect(&f, "alter table d add primary key (nope)", "E[42703]", 'I');
    st_expect(&f, "alter table nosuch add primary key (k)", "E[42P01]", 'I');
    st_expect(&f, "select count(*) from d", "T[count:20] D[3] C[SELECT 1]", 'I');

    /* in a block: a failure fails the block, a success commits with it */
    st_expect(&f, "begin", "C[BEGIN]", 'T');
    st_expect(&f, "alter table d add primary key (k)", "E[23505]", 'E');
    st_expect(&f, "rollback", "C[ROLLBACK]", 'I');
    st_expect(&f, "begin", "C[BEGIN]", 'T');
    st_expect(&f, "delete from d where v = 'b' or v is null", "C[DELETE 2]", 'T');
    st_expect(&f, "alter table d add constraint my_pk primary key (k, v)", "C[ALTER TABLE]", 'T');
    st_expect(&f, "commit", "C[COMMIT]", 'I');
    st_expect(&f, "insert into d values (1, 'a')", "E[23505]", 'I');
    st_expect(&f, "insert into d values (1, 'c')", "C[INSERT 0 1]", 'I');
    st_teardown(&f);
}
END_TEST

static Suite *sqlite_rebuild_suite(void)
{
    Suite *s = suite_create("storage/sqlite_rebuild");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_add_primary_key);
    tcase_add_test(tc, test_refusals_leave_the_table);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_run_suite(sqlite_rebuild_suite());
}
