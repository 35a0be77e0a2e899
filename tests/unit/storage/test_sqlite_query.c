/*
 * Tests for storage/sqlite_query.c: Query messages run through a real engine
 * on a temporary database, replies decoded and compared with what PostgreSQL
 * sends.
 */
#include <time.h>

#include "storage_test.h"

#define README_SQL                                                                                 \
    "create table t(id integer primary key, name text); "                                          \
    "insert into t values (1,'a'),(2,'b'); select * from t order by id"

START_TEST(test_readme_example)
{
    st_fixture f;
    st_setup(&f, 2);
    st_result r;
    st_query(&f, README_SQL, &r);
    ck_assert_str_eq(r.transcript,
                     "C[CREATE TABLE] C[INSERT 0 2] T[id:23,name:25] D[1,a] D[2,b] C[SELECT 2]");
    ck_assert_int_eq(r.tx_status, 'I');
    ck_assert(!r.failed);
    ck_assert_uint_eq(r.statements, 3);
    ck_assert_uint_eq(r.rows_returned, 2);
    ck_assert_uint_eq(r.rows_affected, 2);
    wire_buf_free(&r.out);
    st_teardown(&f);
}
END_TEST

START_TEST(test_declared_types)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f,
              "create table ty(a int, b integer, c int4, d bigint, e int8, f smallint, g int2, "
              "h text, i varchar(10), j character varying(20), k char(3), l real, m float4, "
              "n double precision, o float8, p float, q numeric, r decimal(10,2), s blob, "
              "t bytea, u boolean, v bool, w date, x time, y timestamp, z timestamptz, "
              "aa timestamp with time zone, ab uuid, ac json, ad jsonb, ae interval, "
              "af VARCHAR(5), ag Double Precision)",
              "C[CREATE TABLE]", 'I');
    st_expect(&f, "select * from ty",
              "T[a:23,b:23,c:23,d:20,e:20,f:21,g:21,h:25,i:1043(14),j:1043(24),k:1042(7),l:700,"
              "m:700,n:701,o:701,p:701,q:1700,r:1700(655366),s:17,t:17,u:16,v:16,w:1082,x:1083,"
              "y:1114,z:1184,aa:1184,ab:2950,ac:114,ad:3802,ae:1186,af:1043(9),ag:701] C[SELECT 0]",
              'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_expression_types)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f, "select 1 as a, 3000000000 as b, 1.5 as c, 'x' as d, x'00ff' as e, null as f",
              "T[a:23,b:20,c:1700,d:25,e:17,f:25] D[1,3000000000,1.5,x,\\x00ff,<null>] C[SELECT 1]",
              'I');
    /* no rows: nothing to decide from, text */
    st_expect(&f, "select 1 as a where 1 = 0", "T[a:23] C[SELECT 0]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_column_names)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f, "create table t(id integer primary key, name text)", "C[CREATE TABLE]", 'I');
    /* PostgreSQL's names, not SQLite's expression text; count() is int8 */
    st_expect(&f, "select 1, 1 + 1 as Sum, count(*), upper('a'), t.name, ID, 2 as \"Two\" from t",
              "T[?column?:23,sum:23,count:20,upper:25,name:25,id:23,Two:23] "
              "D[1,2,0,A,<null>,<null>,2] C[SELECT 1]",
              'I');
    st_expect(&f, "insert into t values (1, 'a'), (2, 'b') returning id + 1, upper(name)",
              "T[?column?:23,upper:25] D[2,A] D[3,B] C[INSERT 0 2]", 'I');
    st_expect(&f, "select count(*), count(name) as n, max(id) from t",
              "T[count:20,n:20,max:23] D[2,2,2] C[SELECT 1]", 'I');
    /* no rows: count() is still int8 */
    st_expect(&f, "select count(*) from t where id > 100 group by name", "T[count:20] C[SELECT 0]",
              'I');
    /* `*` columns keep SQLite's names, the others are lined up around them */
    st_expect(&f, "select 0, *, id * 2 from t where id = 1",
              "T[?column?:23,id:23,name:25,?column?:23] D[0,1,a,2] C[SELECT 1]", 'I');
    st_expect(&f, "update t set name = 'z' where id = 2 returning *, length(name)",
              "T[id:23,name:25,length:23] D[2,z,1] C[UPDATE 1]", 'I');
    /* set operations: the left-most select names the columns */
    st_expect(&f, "select id as a from t union select 9 as b order by 1",
              "T[a:23] D[1] D[2] D[9] C[SELECT 3]", 'I');
    st_expect(&f,
              "select (select name from t where id = 1), (select 1), coalesce(null, 'x'), "
              "case when id = 1 then 'one' end from t where id = 1",
              "T[name:25,?column?:23,coalesce:25,case:25] D[a,1,x,one] C[SELECT 1]", 'I');
    /* VALUES: SQLite's column1... are PostgreSQL's too */
    st_expect(&f, "values (1, 'a')", "T[column1:23,column2:25] D[1,a] C[SELECT 1]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_value_formatting)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f,
              "create table v(d float8, r real, b boolean, y bytea, n numeric, i int, t text); "
              "insert into v values (0.1, 0.1, true, x'00ff10', 1.50, 7, 'x'); "
              "insert into v values (1e20, 1e20, false, 'ab', 10, -3, ''); "
              "insert into v values (1.0/3, 1.0/3, 1, null, 1e20, null, null); "
              "insert into v values (1e-5, 123456.7, 0, x'', 0.001, 0, 'NULL'); "
              "insert into v values (3, 1234567, 'true', x'7f', -2.5, 2147483647, 'é'); "
              /* SQLite stores -0.0 as the integer 0 */
              "insert into v values (-0.0, 9e999, 'f', null, null, null, null); "
              "insert into v values (0.0001, -9e999, 't', null, null, null, null); "
              "insert into v values (123456789012345, 1e-5, 'false', null, null, null, null); "
              "insert into v values (1e15, 0.5, 'maybe', null, null, null, null)",
              "C[CREATE TABLE] C[INSERT 0 1] C[INSERT 0 1] C[INSERT 0 1] C[INSERT 0 1] "
              "C[INSERT 0 1] C[INSERT 0 1] C[INSERT 0 1] C[INSERT 0 1] C[INSERT 0 1]",
              'I');
    st_expect(&f, "select * from v order by rowid",
              "T[d:701,r:700,b:16,y:17,n:1700,i:23,t:25] "
              "D[0.1,0.1,t,\\x00ff10,1.5,7,x] "
              "D[1e+20,1e+20,f,\\x6162,10,-3,] "
              "D[0.3333333333333333,0.33333334,t,<null>,100000000000000000000,<null>,<null>] "
              "D[1e-05,123456.7,f,\\x,0.001,0,NULL] "
              "D[3,1.234567e+06,t,\\x7f,-2.5,2147483647,é] "
              "D[0,Infinity,f,<null>,<null>,<null>,<null>] "
              "D[0.0001,-Infinity,t,<null>,<null>,<null>,<null>] "
              "D[123456789012345,1e-05,f,<null>,<null>,<null>,<null>] "
              "D[1e+15,0.5,maybe,<null>,<null>,<null>,<null>] "
              "C[SELECT 9]",
              'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_bytea_literals)
{
    st_fixture f;
    st_setup(&f, 1);
    /* what PostgreSQL prints for the same statements */
    st_expect(&f,
              "create table b(y bytea, z blob); "
              "insert into b values ('\\x0102', '\\001a'), ('\\xDEAD', '\\x00'), "
              "('plain', '\\\\'), (x'0102', null)",
              "C[CREATE TABLE] C[INSERT 0 4]", 'I');
    st_expect(&f, "select * from b order by rowid",
              "T[y:17,z:17] D[\\x0102,\\x0161] D[\\xdead,\\x00] D[\\x706c61696e,\\x5c] "
              "D[\\x0102,<null>] C[SELECT 4]",
              'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_empty_query)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f, "", "I", 'I');
    st_expect(&f, "   \n\t", "I", 'I');
    st_expect(&f, ";;", "I", 'I');
    st_expect(&f, "-- nothing here\n/* or here */ ;", "I", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_syntax_error_runs_nothing)
{
    st_fixture f;
    st_setup(&f, 1);
    st_result r;
    st_query(&f, "create table s(a int); selec 1", &r);
    ck_assert_str_eq(r.transcript, "E[42601]");
    char buf[256];
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'M', buf, sizeof(buf)),
                     "syntax error at or near \"selec\"");
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'P', buf, sizeof(buf)), "24");
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'S', buf, sizeof(buf)), "ERROR");
    ck_assert_uint_eq(r.statements, 0);
    wire_buf_free(&r.out);
    /* the CREATE TABLE before the error did not run */
    st_expect(&f, "select * from s", "E[42P01]", 'I');
    /* a syntax error inside a block aborts the block */
    st_expect(&f, "begin", "C[BEGIN]", 'T');
    st_expect(&f, "select 'unterminated", "E[42601]", 'E');
    st_expect(&f, "rollback", "C[ROLLBACK]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_error_in_block)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f, README_SQL,
              "C[CREATE TABLE] C[INSERT 0 2] T[id:23,name:25] D[1,a] D[2,b] C[SELECT 2]", 'I');
    st_expect(&f, "begin", "C[BEGIN]", 'T');
    st_expect(&f, "insert into t values (3, 'c')", "C[INSERT 0 1]", 'T');
    st_expect(&f, "insert into t values (1, 'dup')", "E[23505]", 'E');
    st_result r;
    st_query(&f, "select 1", &r);
    ck_assert_str_eq(r.transcript, "E[25P02]");
    char buf[256];
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'M', buf, sizeof(buf)),
                     "current transaction is aborted, commands ignored until end of transaction "
                     "block");
    wire_buf_free(&r.out);
    st_expect(&f, "begin", "E[25P02]", 'E');
    st_expect(&f, "savepoint x", "E[25P02]", 'E');
    st_expect(&f, "rollback", "C[ROLLBACK]", 'I');
    st_expect(&f, "select count(*) as n from t", "T[n:20] D[2] C[SELECT 1]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_commit_of_failed_block)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f, README_SQL,
              "C[CREATE TABLE] C[INSERT 0 2] T[id:23,name:25] D[1,a] D[2,b] C[SELECT 2]", 'I');
    st_expect(&f, "begin; insert into t values (3, 'c')", "C[BEGIN] C[INSERT 0 1]", 'T');
    st_expect(&f, "select nope from t", "E[42703]", 'E');
    st_expect(&f, "commit", "C[ROLLBACK]", 'I');
    st_expect(&f, "select count(*) as n from t", "T[n:20] D[2] C[SELECT 1]", 'I');
    /* and in one message */
    st_expect(&f, "begin; insert into t values (4, 'd'); insert into t values (1, 'x')",
              "C[BEGIN] C[INSERT 0 1] E[23505]", 'E');
    st_expect(&f, "commit; select count(*) as n from t", "C[ROLLBACK] T[n:20] D[2] C[SELECT 1]",
              'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_transaction_warnings)
{
    st_fixture f;
    st_setup(&f, 1);
    st_result r;
    st_query(&f, "commit", &r);
    ck_assert_str_eq(r.transcript, "N[25P01] C[COMMIT]");
    char buf[256];
    ck_assert_str_eq(st_error(&r.out, 'N', 0, 'M', buf, sizeof(buf)),
                     "there is no transaction in progress");
    ck_assert_str_eq(st_error(&r.out, 'N', 0, 'S', buf, sizeof(buf)), "WARNING");
    wire_buf_free(&r.out);
    st_expect(&f, "rollback", "N[25P01] C[ROLLBACK]", 'I');
    st_expect(&f, "abort", "N[25P01] C[ROLLBACK]", 'I');
    st_expect(&f, "start transaction", "C[START TRANSACTION]", 'T');
    st_query(&f, "begin", &r);
    ck_assert_str_eq(r.transcript, "N[25001] C[BEGIN]");
    ck_assert_str_eq(st_error(&r.out, 'N', 0, 'M', buf, sizeof(buf)),
                     "there is already a transaction in progress");
    ck_assert_int_eq(r.tx_status, 'T');
    wire_buf_free(&r.out);
    st_expect(&f, "end", "C[COMMIT]", 'I');
    st_expect(&f, "savepoint s", "E[25P01]", 'I');
    st_expect(&f, "release savepoint s", "E[25P01]", 'I');
    st_expect(&f, "rollback to savepoint s", "E[25P01]", 'I');
    st_expect(&f, "commit and chain", "E[25P01]", 'I');
    st_expect(&f, "prepare transaction 'x'", "E[0A000]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_savepoints)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f, "create table s(a int primary key)", "C[CREATE TABLE]", 'I');
    st_expect(&f, "begin", "C[BEGIN]", 'T');
    st_expect(&f, "insert into s values (10)", "C[INSERT 0 1]", 'T');
    st_expect(&f, "savepoint s1", "C[SAVEPOINT]", 'T');
    st_expect(&f, "insert into s values (11)", "C[INSERT 0 1]", 'T');
    st_expect(&f, "insert into s values (10)", "E[23505]", 'E');
    st_expect(&f, "rollback to savepoint s1", "C[ROLLBACK]", 'T');
    st_expect(&f, "insert into s values (12)", "C[INSERT 0 1]", 'T');
    st_expect(&f, "savepoint \"Mixed Case\"", "C[SAVEPOINT]", 'T');
    st_expect(&f, "insert into s values (13)", "C[INSERT 0 1]", 'T');
    st_expect(&f, "rollback to \"Mixed Case\"", "C[ROLLBACK]", 'T');
    st_expect(&f, "release \"Mixed Case\"", "C[RELEASE]", 'T');
    st_expect(&f, "release savepoint nope", "E[3B001]", 'E');
    st_expect(&f, "rollback to savepoint nope", "E[3B001]", 'E');
    st_expect(&f, "rollback to s1", "C[ROLLBACK]", 'T');
    st_expect(&f, "commit", "C[COMMIT]", 'I');
    st_expect(&f, "select a from s order by a", "T[a:23] D[10] C[SELECT 1]", 'I');
    /* COMMIT AND CHAIN keeps a block open */
    st_expect(&f, "begin; insert into s values (20); commit and chain",
              "C[BEGIN] C[INSERT 0 1] C[COMMIT]", 'T');
    st_expect(&f, "rollback", "C[ROLLBACK]", 'I');
    st_expect(&f, "select count(*) as n from s", "T[n:20] D[2] C[SELECT 1]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_implicit_transaction)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f,
              "create table t(id integer primary key, name text); insert into t values (1, 'a')",
              "C[CREATE TABLE] C[INSERT 0 1]", 'I');
    /* an error rolls back the earlier statements of the same message */
    st_expect(&f,
              "insert into t values (20, 'x'); insert into t values (1, 'dup'); "
              "insert into t values (21, 'y')",
              "C[INSERT 0 1] E[23505]", 'I');
    st_expect(&f, "select count(*) as n from t", "T[n:20] D[1] C[SELECT 1]", 'I');
    /* DDL too */
    st_expect(&f, "create table u(a int); select * from nope", "C[CREATE TABLE] E[42P01]", 'I');
    st_expect(&f, "select * from u", "E[42P01]", 'I');
    /* BEGIN; ...; COMMIT in one message, then more */
    st_expect(&f, "begin; insert into t values (30, 'a'); commit; select count(*) as n from t",
              "C[BEGIN] C[INSERT 0 1] C[COMMIT] T[n:20] D[2] C[SELECT 1]", 'I');
    /* BEGIN in the middle turns the implicit block into an explicit one */
    st_expect(&f, "insert into t values (40, 'a'); begin; insert into t values (41, 'b')",
              "C[INSERT 0 1] C[BEGIN] C[INSERT 0 1]", 'T');
    st_expect(&f, "rollback", "C[ROLLBACK]", 'I');
    st_expect(&f, "select count(*) as n from t where id >= 40", "T[n:20] D[0] C[SELECT 1]", 'I');
    /* COMMIT in the middle commits what came before, with a warning */
    st_expect(&f, "insert into t values (50, 'a'); commit; insert into t values (1, 'dup')",
              "C[INSERT 0 1] N[25P01] C[COMMIT] E[23505]", 'I');
    st_expect(&f, "select id from t where id >= 50", "T[id:23] D[50] C[SELECT 1]", 'I');
    /* ROLLBACK in the middle discards what came before */
    st_expect(&f,
              "insert into t values (60, 'a'); rollback; select count(*) as n from t where id = 60",
              "C[INSERT 0 1] N[25P01] C[ROLLBACK] T[n:20] D[0] C[SELECT 1]", 'I');
    /* savepoints need a real block */
    st_expect(&f, "insert into t values (70, 'a'); savepoint x", "C[INSERT 0 1] E[25P01]", 'I');
    st_expect(&f, "select count(*) as n from t where id = 70", "T[n:20] D[0] C[SELECT 1]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_dml_tags_and_returning)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f, README_SQL,
              "C[CREATE TABLE] C[INSERT 0 2] T[id:23,name:25] D[1,a] D[2,b] C[SELECT 2]", 'I');
    st_result r;
    st_query(&f, "update t set name = 'z' where id <= 2", &r);
    ck_assert_str_eq(r.transcript, "C[UPDATE 2]");
    ck_assert_uint_eq(r.rows_affected, 2);
    wire_buf_free(&r.out);
    st_expect(&f, "update t set name = 'z' where id = 99", "C[UPDATE 0]", 'I');
    st_expect(&f, "delete from t where id = 1", "C[DELETE 1]", 'I');
    st_expect(&f, "delete from t where id = 1", "C[DELETE 0]", 'I');
    st_expect(&f, "insert into t values (3, 'c') returning id, name",
              "T[id:23,name:25] D[3,c] C[INSERT 0 1]", 'I');
    st_expect(&f, "insert into t values (4, 'd'), (5, 'e') returning id",
              "T[id:23] D[4] D[5] C[INSERT 0 2]", 'I');
    st_expect(&f, "update t set name = 'u' where id = 3 returning *",
              "T[id:23,name:25] D[3,u] C[UPDATE 1]", 'I');
    st_expect(&f, "delete from t where id >= 4 returning id", "T[id:23] D[4] D[5] C[DELETE 2]",
              'I');
    st_expect(&f, "insert into t select id + 10, name from t", "C[INSERT 0 2]", 'I');
    st_expect(&f, "select count(*) as n from t", "T[n:20] D[4] C[SELECT 1]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_ddl_tags)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f, README_SQL,
              "C[CREATE TABLE] C[INSERT 0 2] T[id:23,name:25] D[1,a] D[2,b] C[SELECT 2]", 'I');
    st_expect(&f, "create index t_name on t(name)", "C[CREATE INDEX]", 'I');
    st_expect(&f, "create unique index t_name2 on t(name)", "C[CREATE INDEX]", 'I');
    st_expect(&f, "drop index t_name", "C[DROP INDEX]", 'I');
    st_expect(&f, "create view v as select * from t", "C[CREATE VIEW]", 'I');
    st_expect(&f, "select * from v where id = 2", "T[id:23,name:25] D[2,b] C[SELECT 1]", 'I');
    st_expect(&f, "drop view v", "C[DROP VIEW]", 'I');
    st_expect(&f, "alter table t add column z int", "C[ALTER TABLE]", 'I');
    st_expect(&f, "alter table t rename to t2", "C[ALTER TABLE]", 'I');
    st_expect(&f, "create table t3 as select * from t2", "C[SELECT 2]", 'I');
    st_expect(&f, "drop table t3", "C[DROP TABLE]", 'I');
    st_expect(&f, "drop table if exists t3", "N[00000] C[DROP TABLE]", 'I');
    st_expect(&f, "vacuum", "C[VACUUM]", 'I');
    st_expect(&f, "analyze", "C[ANALYZE]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_constraint_violations)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f,
              "create table p(id int primary key, code text unique, n int not null default 0, "
              "c int check (c > 0)); "
              "create table ch(pid int references p(id)); "
              "insert into p(id, code, c) values (1, 'a', 1)",
              "C[CREATE TABLE] C[CREATE TABLE] C[INSERT 0 1]", 'I');
    char buf[512];
    st_result r;

    st_query(&f, "insert into p(id, code, c) values (1, 'b', 1)", &r);
    ck_assert_str_eq(r.transcript, "E[23505]");
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'M', buf, sizeof(buf)),
                     "duplicate key value violates unique constraint \"p_pkey\"");
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'D', buf, sizeof(buf)),
                     "UNIQUE constraint failed: p.id");
    wire_buf_free(&r.out);

    st_query(&f, "insert into p(id, code, c) values (2, 'a', 1)", &r);
    ck_assert_str_eq(r.transcript, "E[23505]");
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'M', buf, sizeof(buf)),
                     "duplicate key value violates unique constraint \"p_code_key\"");
    wire_buf_free(&r.out);

    st_query(&f, "insert into p(id, code, n, c) values (2, 'b', null, 1)", &r);
    ck_assert_str_eq(r.transcript, "E[23502]");
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'M', buf, sizeof(buf)),
                     "null value in column \"n\" of relation \"p\" violates not-null constraint");
    wire_buf_free(&r.out);

    st_expect(&f, "insert into p(id, code, c) values (2, 'b', -1)", "E[23514]", 'I');
    st_expect(&f, "insert into ch values (5)", "E[23503]", 'I');
    st_expect(&f, "insert into ch values (1)", "C[INSERT 0 1]", 'I');
    st_expect(&f, "delete from p where id = 1", "E[23503]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_sqlite_errors)
{
    st_fixture f;
    st_setup(&f, 1);
    char buf[512];
    st_result r;
    st_expect(&f, "create table t(a int)", "C[CREATE TABLE]", 'I');

    st_query(&f, "select * from nope", &r);
    ck_assert_str_eq(r.transcript, "E[42P01]");
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'M', buf, sizeof(buf)),
                     "relation \"nope\" does not exist");
    wire_buf_free(&r.out);

    st_query(&f, "select nope from t", &r);
    ck_assert_str_eq(r.transcript, "E[42703]");
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'M', buf, sizeof(buf)),
                     "column \"nope\" does not exist");
    wire_buf_free(&r.out);

    st_query(&f, "select t.nope from t", &r);
    ck_assert_str_eq(r.transcript, "E[42703]");
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'M', buf, sizeof(buf)),
                     "column t.nope does not exist");
    wire_buf_free(&r.out);

    /* a double-quoted identifier is a name, never a string literal */
    st_query(&f, "select \"Nope\" from t", &r);
    ck_assert_str_eq(r.transcript, "E[42703]");
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'M', buf, sizeof(buf)),
                     "column \"Nope\" does not exist");
    wire_buf_free(&r.out);

    st_query(&f, "insert into t(a, nope) values (1, 2)", &r);
    ck_assert_str_eq(r.transcript, "E[42703]");
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'M', buf, sizeof(buf)),
                     "column \"nope\" of relation \"t\" does not exist");
    wire_buf_free(&r.out);

    st_query(&f, "create table t(b int)", &r);
    ck_assert_str_eq(r.transcript, "E[42P07]");
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'M', buf, sizeof(buf)),
                     "relation \"t\" already exists");
    wire_buf_free(&r.out);

    st_query(&f, "select nofunc(1)", &r);
    ck_assert_str_eq(r.transcript, "E[42883]");
    ck_assert_str_eq(st_error(&r.out, 'E', 0, 'M', buf, sizeof(buf)),
                     "function nofunc does not exist");
    wire_buf_free(&r.out);

    /* valid PostgreSQL that the SQLite engine does not support */
    st_expect(&f, "listen x", "E[0A000]", 'I');
    /* extensions stay off */
    st_expect(&f, "select load_extension('/nonexistent')", "E[42501]", 'I'); /* the authorizer says no */
    st_teardown(&f);
}
END_TEST

START_TEST(test_close_rolls_back)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f, "create table t(a int)", "C[CREATE TABLE]", 'I');
    st_expect(&f, "begin; insert into t values (1)", "C[BEGIN] C[INSERT 0 1]", 'T');
    st_close(&f, f.conn);
    st_open(&f, f.conn);
    st_expect(&f, "select count(*) as n from t", "T[n:20] D[0] C[SELECT 1]", 'I');
    st_teardown(&f);
}
END_TEST

/* Values as PostgreSQL keeps and prints them: numeric digit for digit and
 * ordered as numbers, json checked on the way in, jsonb normalised, char(n)
 * padded, uuid and timestamptz in their canonical spellings. */
START_TEST(test_type_fidelity)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f,
              "create table ty (n numeric, m numeric(10,2), j json, jb jsonb, c char(4), u uuid, "
              "tz timestamptz)",
              "C[CREATE TABLE]", 'I');
    st_expect(&f,
              "insert into ty values (12345678901234567890.123456789, 1.005, '[1, 2]', "
              "'{\"b\": 1, \"a\": [true]}', 'ab', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', "
              "'1999-12-31 18:00:00-05'), (9, 10, null, null, null, null, null), "
              "('-1e3', 2, null, null, null, null, null)",
              "C[INSERT 0 3]", 'I');
    st_expect(&f, "select n, m, j, jb, c, u, tz from ty order by n",
              "T[n:1700,m:1700(655366),j:114,jb:3802,c:1042(8),u:2950,tz:1184] "
              "D[-1000,2.00,<null>,<null>,<null>,<null>,<null>] "
              "D[9,10.00,<null>,<null>,<null>,<null>,<null>] "
              "D[12345678901234567890.123456789,1.01,[1, 2],{\"a\": [true], \"b\": 1},ab  ,"
              "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11,1999-12-31 23:00:00+00] C[SELECT 3]",
              'I');
    st_expect(&f, "select n from ty where n > 9",
              "T[n:1700] D[12345678901234567890.123456789] C[SELECT 1]", 'I');
    st_expect(&f, "select max(n), min(n) from ty",
              "T[max:1700,min:1700] D[12345678901234567890.123456789,-1000] C[SELECT 1]", 'I');
    /* bigserial and identity keys are SQLite's INTEGER rowid, their types recorded */
    st_expect(&f,
              "create table bs (id bigserial primary key, v text); "
              "create table idt (id smallint generated always as identity primary key); "
              "insert into bs (v) values ('a'); insert into idt default values",
              "C[CREATE TABLE] C[CREATE TABLE] C[INSERT 0 1] C[INSERT 0 1]", 'I');
    st_expect(&f, "select id, id + 1 as n from bs", "T[id:20,n:20] D[1,2] C[SELECT 1]", 'I');
    st_expect(&f, "select id from idt", "T[id:21] D[1] C[SELECT 1]", 'I');
    /* a table re-created with a serial key forgets what was recorded */
    st_expect(&f, "drop table bs; create table bs (id serial primary key); select id from bs",
              "C[DROP TABLE] C[CREATE TABLE] T[id:23] C[SELECT 0]", 'I');
    /* a rolled-back CREATE TABLE leaves no record behind */
    st_expect(&f, "begin; create table gone (id bigserial primary key); rollback",
              "C[BEGIN] C[CREATE TABLE] C[ROLLBACK]", 'I');
    st_expect(&f, "select count(*) from _dormouse_columns where tbl = 'gone'",
              "T[count:20] D[0] C[SELECT 1]", 'I');
    /* extract, date_part, date_trunc (their values are compared with PostgreSQL's in
     * tests/e2e/test_quickstart.sh) */
    st_expect(&f,
              "select extract(second from timestamp '2024-02-29 10:00:01.5') as s, "
              "date_part('doy', date '2024-12-31') as d, "
              "date_trunc('month', timestamp '2024-02-29 10:00') as m",
              "T[s:1700,d:701,m:1114] D[1.500000,366,2024-02-01 00:00:00] C[SELECT 1]", 'I');
    st_expect(&f, "select extract(fortnight from now())", "E[22023]", 'I');
    st_expect(&f, "select date_trunc('fortnight', now())", "E[22023]", 'I');
    st_expect(&f, "select date_trunc('day', 'yesterday-ish')", "E[22007]", 'I');
    /* type modifiers are enforced as PostgreSQL enforces them */
    st_expect(&f, "create table mods (n numeric(5,2), v varchar(3), c char(2))", "C[CREATE TABLE]",
              'I');
    st_expect(&f, "insert into mods values (999.994, 'abc  ', 'a ')", "C[INSERT 0 1]", 'I');
    st_expect(&f, "insert into mods (n) values (999.995)", "E[22003]", 'I');
    st_expect(&f, "insert into mods (n) values ('abc')", "E[22P02]", 'I');
    st_expect(&f, "insert into mods (v) values ('abcd')", "E[22001]", 'I');
    st_expect(&f, "update mods set c = 'abc'", "E[22001]", 'I');
    st_expect(&f, "select n, v, c from mods",
              "T[n:1700(327686),v:1043(7),c:1042(6)] D[999.99,abc,a ] C[SELECT 1]", 'I');
    st_expect(&f, "create table ints (a smallint, b int, c bigint)", "C[CREATE TABLE]", 'I');
    st_expect(&f, "insert into ints values ('12', 2.4, -9223372036854775808)", "C[INSERT 0 1]",
              'I');
    st_expect(&f, "insert into ints (a) values (40000)", "E[22003]", 'I');
    st_expect(&f, "insert into ints (b) values ('x')", "E[22P02]", 'I');
    st_expect(&f, "insert into ints (c) values (1e20)", "E[22003]", 'I');
    st_expect(&f, "update ints set b = 2147483648", "E[22003]", 'I');
    st_expect(&f, "select a, b, c from ints", "T[a:21,b:23,c:20] D[12,2,-9223372036854775808] C[SELECT 1]",
              'I');
    /* an INSERT without a column list: defaults fill what VALUES leaves out */
    st_expect(&f, "create table fill (id int, name text default 'x', n int default 7)",
              "C[CREATE TABLE]", 'I');
    st_expect(&f, "insert into fill values (1); insert into fill values (2, 'b'), (3, 'c')",
              "C[INSERT 0 1] C[INSERT 0 2]", 'I');
    st_expect(&f, "insert into fill values (4, 'd', 5, 6)", "E[42601]", 'I');
    st_expect(&f, "select id, name, n from fill order by id",
              "T[id:23,name:25,n:23] D[1,x,7] D[2,b,7] D[3,c,7] C[SELECT 3]", 'I');
    /* adding a column with a CHECK answers no rows */
    st_expect(&f, "alter table mods add column w varchar(2) default 'x'", "C[ALTER TABLE]", 'I');
    st_expect(&f, "insert into ty (j) values ('{')", "E[22P02]", 'I');
    st_expect(&f, "insert into ty (jb) values ('[1,]')", "E[22P02]", 'I');
    st_expect(&f, "update ty set j = 'nope' where n = 9", "E[22P02]", 'I');
    st_teardown(&f);
}
END_TEST

START_TEST(test_division)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f, "select 1/0", "E[22012]", 'I');
    st_expect(&f, "select 1 % 0", "E[22012]", 'I');
    st_expect(&f, "select 1.0/0", "E[22012]", 'I');
    st_expect(&f, "select 1/0.0", "E[22012]", 'I');
    st_expect(&f, "select 7/2 as a, -7/2 as b, 7%3 as c, -7%3 as d, 7.0/2 as e, null/0 as f",
              "T[a:23,b:23,c:23,d:23,e:1700,f:25] D[3,-3,1,-1,3.5,<null>] C[SELECT 1]", 'I');
    st_expect(&f, "select 5.5 % 2 as a, 1/null as b", "T[a:1700,b:25] D[1.5,<null>] C[SELECT 1]",
              'I');
    st_expect(&f, "begin; select 1; select 2/0",
              "C[BEGIN] T[?column?:23] D[1] C[SELECT 1] E[22012]", 'E');
    st_teardown(&f);
}
END_TEST

START_TEST(test_session_statements)
{
    st_fixture f;
    st_setup(&f, 1);
    st_expect(&f, "SET extra_float_digits = 3", "C[SET]", 'I');
    st_expect(&f, "SET application_name = 'PostgreSQL JDBC Driver'",
              "C[SET] S[application_name=PostgreSQL JDBC Driver]", 'I');
    st_expect(&f, "show application_name",
              "T[application_name:25] D[PostgreSQL JDBC Driver] C[SHOW]", 'I');
    st_expect(&f, "show extra_float_digits; show datestyle; show server_version",
              "T[extra_float_digits:25] D[3] C[SHOW] T[DateStyle:25] D[ISO, MDY] C[SHOW] "
              "T[server_version:25] D[16.0] C[SHOW]",
              'I');
    st_expect(&f, "set time zone 'UTC'; show timezone",
              "C[SET] S[TimeZone=UTC] T[TimeZone:25] D[UTC] C[SHOW]", 'I');
    st_expect(&f, "set session search_path to a, \"B\"; show search_path",
              "C[SET] T[search_path:25] D[a, \"B\"] C[SHOW]", 'I');
    st_expect(&f, "set local statement_timeout = 5; set dormouse.x = 'y'; show dormouse.x",
              "C[SET] C[SET] T[dormouse.x:25] D[y] C[SHOW]", 'I');
    st_expect(&f, "set no_such_thing = 1", "E[42704]", 'I');
    st_expect(&f, "show no_such_thing", "E[42704]", 'I');
    st_expect(&f, "reset application_name; show application_name",
              "C[RESET] S[application_name=] T[application_name:25] D[] C[SHOW]", 'I');
    st_expect(&f,
              "select current_setting('extra_float_digits') as a, "
              "set_config('application_name', 'app', false) as b",
              "T[a:25,b:25] D[3,app] C[SELECT 1]", 'I');
    st_expect(&f, "select current_setting('nope')", "E[42704]", 'I');
    st_expect(&f, "reset all; show extra_float_digits; show dormouse.x",
              "C[RESET] S[application_name=] S[TimeZone=UTC] T[extra_float_digits:25] D[1] C[SHOW] "
              "E[42704]",
              'I');
    st_expect(&f,
              "set transaction isolation level serializable; "
              "set session characteristics as transaction isolation level read committed",
              "C[SET] C[SET]", 'I');
    st_expect(&f, "begin; set application_name = 'x'; commit",
              "C[BEGIN] C[SET] S[application_name=x] C[COMMIT]", 'I');
    st_expect(&f, "begin", "C[BEGIN]", 'T');
    st_expect(&f, "discard all", "E[25001]", 'E');
    st_expect(&f, "rollback", "C[ROLLBACK]", 'I');
    st_expect(&f, "discard all", "C[DISCARD ALL]", 'I');
    st_expect(&f, "deallocate nope", "E[26000]", 'I');
    st_expect(&f, "deallocate all", "C[DEALLOCATE ALL]", 'I');
    /* asyncpg's reset sequence */
    st_expect(&f, "SELECT pg_advisory_unlock_all();\nCLOSE ALL;\nUNLISTEN *;\nRESET ALL;",
              "T[pg_advisory_unlock_all:25] D[<null>] C[SELECT 1] C[CLOSE CURSOR ALL] C[UNLISTEN] "
              "C[RESET]",
              'I');
    st_expect(&f, "close c", "E[34000]", 'I');
    st_expect(&f, "select 1 where false; discard all", "T[?column?:23] C[SELECT 0] E[25001]", 'I');
    st_teardown(&f);
}
END_TEST

static Suite *sqlite_query_suite(void)
{
    Suite *s = suite_create("storage/sqlite_query");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_readme_example);
    tcase_add_test(tc, test_declared_types);
    tcase_add_test(tc, test_expression_types);
    tcase_add_test(tc, test_column_names);
    tcase_add_test(tc, test_value_formatting);
    tcase_add_test(tc, test_bytea_literals);
    tcase_add_test(tc, test_empty_query);
    tcase_add_test(tc, test_syntax_error_runs_nothing);
    tcase_add_test(tc, test_error_in_block);
    tcase_add_test(tc, test_commit_of_failed_block);
    tcase_add_test(tc, test_transaction_warnings);
    tcase_add_test(tc, test_savepoints);
    tcase_add_test(tc, test_implicit_transaction);
    tcase_add_test(tc, test_dml_tags_and_returning);
    tcase_add_test(tc, test_ddl_tags);
    tcase_add_test(tc, test_constraint_violations);
    tcase_add_test(tc, test_sqlite_errors);
    tcase_add_test(tc, test_type_fidelity);
    tcase_add_test(tc, test_division);
    tcase_add_test(tc, test_session_statements);
    tcase_add_test(tc, test_close_rolls_back);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return st_run_suite(sqlite_query_suite());
}
