/*
 * Tests for storage/statement.c: splitting a message and classifying its
 * statements with libpg_query.
 */
#include <check.h>
#include <pthread.h>
#include <stdlib.h>
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

/* ---- the parse cache ---- */

START_TEST(test_cache_hits)
{
    storage_parse_cache *pc = storage_parse_cache_new(8);
    storage_parse a, b, c;
    storage_parse_error err;
    uint64_t hits, misses;
    ck_assert(storage_parse_cached(pc, "select 1; select 2", &a, &err));
    ck_assert(storage_parse_cached(pc, "select 1; select 2", &b, &err));
    ck_assert(storage_parse_cached(pc, "select 1;  select 2", &c, &err));
    /* the same text shares one parse; another text has its own */
    ck_assert_ptr_eq(a.tree, b.tree);
    ck_assert_ptr_eq(a.stmts, b.stmts);
    ck_assert_ptr_ne(a.tree, c.tree);
    ck_assert_uint_eq(b.n, 2);
    ck_assert_str_eq(b.stmts[1].tag, "SELECT");
    storage_parse_cache_stats(pc, &hits, &misses);
    ck_assert_uint_eq(hits, 1);
    ck_assert_uint_eq(misses, 2);
    storage_parse_free(&a);
    ck_assert_ptr_null(a.tree);
    storage_parse_free(&b);
    storage_parse_free(&c);
    /* a message that does not parse is reported each time, never cached */
    ck_assert(!storage_parse_cached(pc, "selec 1", &a, &err));
    ck_assert_str_eq(err.sqlstate, "42601");
    ck_assert(!storage_parse_cached(pc, "selec 1", &a, &err));
    storage_parse_cache_stats(pc, &hits, &misses);
    ck_assert_uint_eq(hits, 1);
    /* a long text is parsed, not cached */
    char *big = malloc(STORAGE_PARSE_CACHE_MAX_TEXT + 100);
    ck_assert_ptr_nonnull(big);
    memset(big, ' ', STORAGE_PARSE_CACHE_MAX_TEXT + 99);
    memcpy(big, "select 1", 8);
    big[STORAGE_PARSE_CACHE_MAX_TEXT + 99] = '\0';
    ck_assert(storage_parse_cached(pc, big, &a, &err));
    ck_assert(storage_parse_cached(pc, big, &b, &err));
    ck_assert_ptr_ne(a.tree, b.tree);
    storage_parse_free(&a);
    storage_parse_free(&b);
    free(big);
    /* no cache at all: plain parses */
    ck_assert(storage_parse_cached(NULL, "select 1", &a, &err));
    ck_assert_ptr_null(a.shared);
    storage_parse_free(&a);
    storage_parse_cache_free(pc);
}
END_TEST

START_TEST(test_cache_eviction)
{
    storage_parse_cache *pc = storage_parse_cache_new(2);
    storage_parse held, p;
    storage_parse_error err;
    ck_assert(storage_parse_cached(pc, "select 'held'", &held, &err));
    ck_assert(storage_parse_cached(pc, "select 2", &p, &err));
    storage_parse_free(&p);
    /* the third text pushes the least recently used one ('held') out ... */
    ck_assert(storage_parse_cached(pc, "select 3", &p, &err));
    storage_parse_free(&p);
    /* ... which stays valid for whoever still holds it (ASan checks) */
    ck_assert_uint_eq(held.n, 1);
    ck_assert_str_eq(held.stmts[0].tag, "SELECT");
    ck_assert_int_eq(held.tree->stmts[0]->stmt->node_case, PG_QUERY__NODE__NODE_SELECT_STMT);
    uint64_t hits, misses;
    ck_assert(storage_parse_cached(pc, "select 3", &p, &err)); /* still cached */
    storage_parse_free(&p);
    ck_assert(storage_parse_cached(pc, "select 'held'", &p, &err)); /* parsed again */
    ck_assert_ptr_ne(p.tree, held.tree);
    storage_parse_free(&p);
    storage_parse_cache_stats(pc, &hits, &misses);
    ck_assert_uint_eq(hits, 1);
    ck_assert_uint_eq(misses, 4);
    storage_parse_free(&held);
    storage_parse_cache_free(pc);
}
END_TEST

typedef struct cache_worker {
    storage_parse_cache *pc;
    int seed;
    int failures;
} cache_worker;

static void *cache_worker_main(void *arg)
{
    cache_worker *w = arg;
    static const char *const texts[] = {"select 1", "select 2", "begin", "commit",
                                        "insert into t values (1)", "select a from t",
                                        "set x = 1", "select 1; select 2"};
    for (int i = 0; i < 2000; i++) {
        const char *sql = texts[(i * 7 + w->seed) % 8];
        storage_parse p;
        storage_parse_error err;
        if (!storage_parse_cached(w->pc, sql, &p, &err) || p.n < 1 ||
            !p.tree->stmts[0]->stmt)
            w->failures++;
        storage_parse_free(&p);
    }
    return NULL;
}

/* Workers share the cache: hits, misses and evictions at the same time. */
START_TEST(test_cache_threads)
{
    storage_parse_cache *pc = storage_parse_cache_new(3);
    pthread_t t[4];
    cache_worker w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (cache_worker){.pc = pc, .seed = i, .failures = 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, cache_worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(w[i].failures, 0);
    }
    uint64_t hits, misses;
    storage_parse_cache_stats(pc, &hits, &misses);
    ck_assert_uint_eq(hits + misses, 8000);
    storage_parse_cache_free(pc);
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
    tcase_add_test(tc, test_cache_hits);
    tcase_add_test(tc, test_cache_eviction);
    tcase_add_test(tc, test_cache_threads);
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
