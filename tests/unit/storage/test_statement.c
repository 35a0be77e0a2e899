/*
 * Tests for storage/statement.c: splitting a message and classifying its
 * statements with libpg_query.
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "statement.h"

static const char *stmt_text(const char *sql, const storage_stmt *s, char *buf, size_t len)
{
    snprintf(buf, len, "%.*s", (int)s->len, sql + s->offset);
    return buf;
}

START_TEST(test_kind_and_op_str)
{
    ck_assert_str_eq(storage_stmt_kind_str(STORAGE_STMT_UTILITY), "utility");
    ck_assert_str_eq(storage_stmt_kind_str(STORAGE_STMT_SELECT), "select");
    ck_assert_str_eq(storage_stmt_kind_str(STORAGE_STMT_INSERT), "insert");
    ck_assert_str_eq(storage_stmt_kind_str(STORAGE_STMT_UPDATE), "update");
    ck_assert_str_eq(storage_stmt_kind_str(STORAGE_STMT_DELETE), "delete");
    ck_assert_str_eq(storage_stmt_kind_str(STORAGE_STMT_CREATE_TABLE_AS), "create_table_as");
    ck_assert_str_eq(storage_stmt_kind_str(STORAGE_STMT_TRANSACTION), "transaction");
    ck_assert_str_eq(storage_stmt_kind_str((storage_stmt_kind)99), "unknown");
    ck_assert_str_eq(storage_tx_op_str(STORAGE_TX_NONE), "none");
    ck_assert_str_eq(storage_tx_op_str(STORAGE_TX_BEGIN), "begin");
    ck_assert_str_eq(storage_tx_op_str(STORAGE_TX_COMMIT), "commit");
    ck_assert_str_eq(storage_tx_op_str(STORAGE_TX_ROLLBACK), "rollback");
    ck_assert_str_eq(storage_tx_op_str(STORAGE_TX_SAVEPOINT), "savepoint");
    ck_assert_str_eq(storage_tx_op_str(STORAGE_TX_RELEASE), "release");
    ck_assert_str_eq(storage_tx_op_str(STORAGE_TX_ROLLBACK_TO), "rollback_to");
    ck_assert_str_eq(storage_tx_op_str(STORAGE_TX_PREPARED), "prepared");
    ck_assert_str_eq(storage_tx_op_str((storage_tx_op)99), "unknown");
}
END_TEST

START_TEST(test_split)
{
    const char *sql = "create table t(a int);  -- c\n insert into t values (';') ;select 1";
    storage_parse p;
    storage_parse_error err;
    ck_assert(storage_parse_query(sql, &p, &err));
    ck_assert_uint_eq(p.n, 3);
    char buf[128];
    ck_assert_str_eq(stmt_text(sql, &p.stmts[0], buf, sizeof(buf)), "create table t(a int)");
    ck_assert_str_eq(stmt_text(sql, &p.stmts[1], buf, sizeof(buf)),
                     "  -- c\n insert into t values (';') ");
    ck_assert_str_eq(stmt_text(sql, &p.stmts[2], buf, sizeof(buf)), "select 1");
    ck_assert_int_eq(p.stmts[0].kind, STORAGE_STMT_UTILITY);
    ck_assert_str_eq(p.stmts[0].tag, "CREATE TABLE");
    ck_assert_int_eq(p.stmts[1].kind, STORAGE_STMT_INSERT);
    ck_assert_int_eq(p.stmts[2].kind, STORAGE_STMT_SELECT);
    ck_assert_ptr_nonnull(p.stmts[2].node);
    storage_parse_free(&p);
    storage_parse_free(&p); /* idempotent */
}
END_TEST

START_TEST(test_empty)
{
    const char *cases[] = {"", "   ", ";", " ; ;", "-- only a comment", "/* c */"};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        storage_parse p;
        storage_parse_error err;
        ck_assert(storage_parse_query(cases[i], &p, &err));
        ck_assert_uint_eq(p.n, 0);
        storage_parse_free(&p);
    }
}
END_TEST

START_TEST(test_syntax_errors)
{
    static const struct {
        const char *sql;
        const char *message;
        int position;
    } cases[] = {
        {"selec 1", "syntax error at or near \"selec\"", 1},
        {"select 1; selec 2", "syntax error at or near \"selec\"", 11},
        {"select 'abc", "unterminated quoted string at or near \"'abc\"", 8},
        {"select (1", "syntax error at end of input", 10},
        {"select 'é' from from", "syntax error at or near \"from\"", 17},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        storage_parse p;
        storage_parse_error err;
        ck_assert_msg(!storage_parse_query(cases[i].sql, &p, &err), "%s", cases[i].sql);
        ck_assert_str_eq(err.sqlstate, "42601");
        ck_assert_str_eq(err.message, cases[i].message);
        ck_assert_msg(err.position == cases[i].position, "%s: position %d", cases[i].sql,
                      err.position);
        ck_assert_ptr_null(p.tree);
        ck_assert_ptr_null(p.stmts);
    }
}
END_TEST

START_TEST(test_tags)
{
    static const struct {
        const char *sql;
        storage_stmt_kind kind;
        const char *tag;
    } cases[] = {
        {"select 1", STORAGE_STMT_SELECT, "SELECT"},
        {"values (1)", STORAGE_STMT_SELECT, "SELECT"},
        {"select 1 union select 2", STORAGE_STMT_SELECT, "SELECT"},
        {"with x as (select 1) select * from x", STORAGE_STMT_SELECT, "SELECT"},
        {"insert into t values (1)", STORAGE_STMT_INSERT, "INSERT"},
        {"update t set a = 1", STORAGE_STMT_UPDATE, "UPDATE"},
        {"delete from t", STORAGE_STMT_DELETE, "DELETE"},
        {"create table t(a int)", STORAGE_STMT_UTILITY, "CREATE TABLE"},
        {"create table t2 as select 1", STORAGE_STMT_CREATE_TABLE_AS, "SELECT"},
        {"create index i on t(a)", STORAGE_STMT_UTILITY, "CREATE INDEX"},
        {"create unique index i on t(a)", STORAGE_STMT_UTILITY, "CREATE INDEX"},
        {"create view v as select 1", STORAGE_STMT_UTILITY, "CREATE VIEW"},
        {"drop table t", STORAGE_STMT_UTILITY, "DROP TABLE"},
        {"drop table if exists t, u", STORAGE_STMT_UTILITY, "DROP TABLE"},
        {"drop index i", STORAGE_STMT_UTILITY, "DROP INDEX"},
        {"drop view v", STORAGE_STMT_UTILITY, "DROP VIEW"},
        {"drop materialized view v", STORAGE_STMT_UTILITY, "DROP MATERIALIZED VIEW"},
        {"drop sequence s", STORAGE_STMT_UTILITY, "DROP SEQUENCE"},
        {"drop foreign table f", STORAGE_STMT_UTILITY, "DROP FOREIGN TABLE"},
        {"alter table t add column b int", STORAGE_STMT_UTILITY, "ALTER TABLE"},
        {"alter table t rename to u", STORAGE_STMT_UTILITY, "ALTER TABLE"},
        {"alter table t rename column a to b", STORAGE_STMT_UTILITY, "ALTER TABLE"},
        {"alter index i rename to j", STORAGE_STMT_UTILITY, "ALTER INDEX"},
        {"alter view v rename to w", STORAGE_STMT_UTILITY, "ALTER VIEW"},
        {"truncate t", STORAGE_STMT_UTILITY, "TRUNCATE TABLE"},
        {"vacuum", STORAGE_STMT_UTILITY, "VACUUM"},
        {"analyze t", STORAGE_STMT_UTILITY, "ANALYZE"},
        {"explain select 1", STORAGE_STMT_UTILITY, "EXPLAIN"},
        {"set search_path = public", STORAGE_STMT_SESSION, "SET"},
        {"reset all", STORAGE_STMT_SESSION, "RESET"},
        {"show server_version", STORAGE_STMT_SESSION, "SHOW"},
        {"grant select on t to bob", STORAGE_STMT_UTILITY, "GRANT"},
        {"revoke select on t from bob", STORAGE_STMT_UTILITY, "REVOKE"},
        {"create function f() returns int as 'select 1' language sql", STORAGE_STMT_UTILITY,
         "CREATE FUNCTION"},
        {"create aggregate a(int) (sfunc = f, stype = int)", STORAGE_STMT_UTILITY,
         "CREATE AGGREGATE"},
        {"discard all", STORAGE_STMT_SESSION, "DISCARD ALL"},
        {"deallocate all", STORAGE_STMT_SESSION, "DEALLOCATE ALL"},
        {"deallocate p", STORAGE_STMT_SESSION, "DEALLOCATE"},
        {"fetch 1 from c", STORAGE_STMT_UTILITY, "FETCH"},
        {"move 1 in c", STORAGE_STMT_UTILITY, "MOVE"},
        /* not in the tables: from the node's schema name */
        {"create conversion c for 'LATIN1' to 'UTF8' from f", STORAGE_STMT_UTILITY,
         "CREATE CONVERSION"},
        {"alter system set work_mem = '1MB'", STORAGE_STMT_UTILITY, "ALTER SYSTEM"},
        {"begin", STORAGE_STMT_TRANSACTION, "BEGIN"},
        {"start transaction read only", STORAGE_STMT_TRANSACTION, "START TRANSACTION"},
        {"commit", STORAGE_STMT_TRANSACTION, "COMMIT"},
        {"end", STORAGE_STMT_TRANSACTION, "COMMIT"},
        {"rollback", STORAGE_STMT_TRANSACTION, "ROLLBACK"},
        {"abort", STORAGE_STMT_TRANSACTION, "ROLLBACK"},
        {"savepoint a", STORAGE_STMT_TRANSACTION, "SAVEPOINT"},
        {"release a", STORAGE_STMT_TRANSACTION, "RELEASE"},
        {"rollback to savepoint a", STORAGE_STMT_TRANSACTION, "ROLLBACK"},
        {"prepare transaction 'x'", STORAGE_STMT_TRANSACTION, "PREPARE TRANSACTION"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        storage_parse p;
        storage_parse_error err;
        ck_assert_msg(storage_parse_query(cases[i].sql, &p, &err), "%s: %s", cases[i].sql,
                      err.message);
        ck_assert_uint_eq(p.n, 1);
        ck_assert_msg(p.stmts[0].kind == cases[i].kind, "%s: kind %s", cases[i].sql,
                      storage_stmt_kind_str(p.stmts[0].kind));
        ck_assert_msg(strcmp(p.stmts[0].tag, cases[i].tag) == 0, "%s: tag %s, want %s",
                      cases[i].sql, p.stmts[0].tag, cases[i].tag);
        storage_parse_free(&p);
    }
}
END_TEST

START_TEST(test_transaction_fields)
{
    static const struct {
        const char *sql;
        storage_tx_op op;
        const char *savepoint;
        bool chain;
    } cases[] = {
        {"begin", STORAGE_TX_BEGIN, "", false},
        {"begin isolation level serializable", STORAGE_TX_BEGIN, "", false},
        {"commit", STORAGE_TX_COMMIT, "", false},
        {"commit and chain", STORAGE_TX_COMMIT, "", true},
        {"rollback and chain", STORAGE_TX_ROLLBACK, "", true},
        {"savepoint Foo", STORAGE_TX_SAVEPOINT, "foo", false},
        {"savepoint \"Foo Bar\"", STORAGE_TX_SAVEPOINT, "Foo Bar", false},
        {"release savepoint foo", STORAGE_TX_RELEASE, "foo", false},
        {"rollback to foo", STORAGE_TX_ROLLBACK_TO, "foo", false},
        {"commit prepared 'x'", STORAGE_TX_PREPARED, "", false},
        {"rollback prepared 'x'", STORAGE_TX_PREPARED, "", false},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        storage_parse p;
        storage_parse_error err;
        ck_assert_msg(storage_parse_query(cases[i].sql, &p, &err), "%s", cases[i].sql);
        ck_assert_int_eq(p.stmts[0].kind, STORAGE_STMT_TRANSACTION);
        ck_assert_msg(p.stmts[0].tx == cases[i].op, "%s: %s", cases[i].sql,
                      storage_tx_op_str(p.stmts[0].tx));
        ck_assert_str_eq(p.stmts[0].savepoint ? p.stmts[0].savepoint : "", cases[i].savepoint);
        ck_assert_int_eq(p.stmts[0].tx_chain, cases[i].chain);
        storage_parse_free(&p);
    }
}
END_TEST

static Suite *statement_suite(void)
{
    Suite *s = suite_create("storage/statement");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_kind_and_op_str);
    tcase_add_test(tc, test_split);
    tcase_add_test(tc, test_empty);
    tcase_add_test(tc, test_syntax_errors);
    tcase_add_test(tc, test_tags);
    tcase_add_test(tc, test_transaction_fields);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(statement_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
