/*
 * Tests for storage/sqlite_error.c: SQLite result codes and messages to
 * PostgreSQL SQLSTATEs and messages, from a table of literal cases and from
 * errors produced by a real SQLite.
 */
#include <check.h>
#include <string.h>

#include <sqlite3.h>

#include "dormouse/wire.h"
#include "sqlite_error.h"

static const struct {
    int rc;
    const char *msg;
    const char *sqlstate;
    const char *message;
    const char *detail;
} cases[] = {
    {SQLITE_ERROR, "no such table: t", "42P01", "relation \"t\" does not exist", ""},
    {SQLITE_ERROR, "no such table: main.t", "42P01", "relation \"main.t\" does not exist", ""},
    {SQLITE_ERROR, "no such view: v", "42P01", "view \"v\" does not exist", ""},
    {SQLITE_ERROR, "no such index: i", "42704", "index \"i\" does not exist", ""},
    {SQLITE_ERROR, "no such column: c", "42703", "column \"c\" does not exist", ""},
    {SQLITE_ERROR, "no such column: t.c", "42703", "column t.c does not exist", ""},
    {SQLITE_ERROR, "no such column: main.t.c", "42703", "column t.c does not exist", ""},
    {SQLITE_ERROR, "no such column: \"Mixed\" - should this be a string literal in single-quotes?",
     "42703", "column \"Mixed\" does not exist", ""},
    {SQLITE_ERROR, "table t has no column named c", "42703",
     "column \"c\" of relation \"t\" does not exist", ""},
    {SQLITE_ERROR, "table main.t has no column named c", "42703",
     "column \"c\" of relation \"t\" does not exist", ""},
    {SQLITE_ERROR, "table my t has no column named no pe", "42703",
     "column \"no pe\" of relation \"my t\" does not exist", ""},
    /* other "table ..." messages are not taken for it */
    {SQLITE_ERROR, "table t may not be dropped", "XX000", "table t may not be dropped", ""},
    {SQLITE_ERROR, "no such function: f", "42883", "function f does not exist", ""},
    {SQLITE_ERROR, "wrong number of arguments to function abs()", "42883",
     "function abs() does not exist", "wrong number of arguments to function abs()"},
    {SQLITE_ERROR, "no such savepoint: s", "3B001", "savepoint \"s\" does not exist", ""},
    {SQLITE_ERROR, "table t already exists", "42P07", "relation \"t\" already exists", ""},
    {SQLITE_ERROR, "index i already exists", "42P07", "relation \"i\" already exists", ""},
    {SQLITE_ERROR, "there is already another table or index with this name: u", "42P07",
     "relation \"u\" already exists", ""},
    {SQLITE_ERROR, "ambiguous column name: id", "42702", "column reference \"id\" is ambiguous",
     ""},
    {SQLITE_ERROR, "near \"selec\": syntax error", "42601", "syntax error at or near \"selec\"",
     ""},
    {SQLITE_ERROR, "near \":\": syntax error", "42601", "syntax error at or near \":\"", ""},
    {SQLITE_ERROR, "incomplete input", "42601", "syntax error at end of input", ""},
    /* Dormouse's functions: "[SQLSTATE] message", a DETAIL after a newline */
    {SQLITE_ERROR, "[22003] numeric field overflow\nA field with precision 5, scale 2 must round "
                   "to an absolute value less than 10^3.",
     "22003", "numeric field overflow",
     "A field with precision 5, scale 2 must round to an absolute value less than 10^3."},
    {SQLITE_CONSTRAINT_CHECK, "CHECK constraint failed: dm_int_range_integer", "22003",
     "integer out of range", ""},
    {SQLITE_CONSTRAINT_CHECK, "CHECK constraint failed: dm_int_syntax_smallint", "22P02",
     "invalid input syntax for type smallint", ""},
    {SQLITE_CONSTRAINT_CHECK, "CHECK constraint failed: dm_varchar_3", "22001",
     "value too long for type character varying(3)", ""},
    {SQLITE_CONSTRAINT_CHECK, "CHECK constraint failed: dm_bpchar_2", "22001",
     "value too long for type character(2)", ""},
    {SQLITE_ERROR, "unrecognized token: \"$$\"", "42601", "syntax error at or near \"$$\"", ""},
    {SQLITE_ERROR, "table t has 2 columns but 3 values were supplied", "42601",
     "INSERT has more expressions than target columns", ""},
    {SQLITE_ERROR, "integer overflow", "22003", "bigint out of range", ""},
    {SQLITE_ERROR, "misuse of aggregate: count()", "42803", "misuse of aggregate: count()", ""},
    {SQLITE_ERROR, "cannot VACUUM from within a transaction", "25001",
     "VACUUM cannot run inside a transaction block", ""},
    {SQLITE_ERROR, "cannot commit - no transaction is active", "25P01",
     "there is no transaction in progress", ""},
    {SQLITE_ERROR, "something new", "XX000", "something new", ""},
    {SQLITE_CONSTRAINT_PRIMARYKEY, "UNIQUE constraint failed: t.id", "23505",
     "duplicate key value violates unique constraint \"t_pkey\"", "UNIQUE constraint failed: t.id"},
    {SQLITE_CONSTRAINT_PRIMARYKEY, "UNIQUE constraint failed: t.a, t.b", "23505",
     "duplicate key value violates unique constraint \"t_pkey\"",
     "UNIQUE constraint failed: t.a, t.b"},
    {SQLITE_CONSTRAINT_UNIQUE, "UNIQUE constraint failed: t.code", "23505",
     "duplicate key value violates unique constraint \"t_code_key\"",
     "UNIQUE constraint failed: t.code"},
    {SQLITE_CONSTRAINT_UNIQUE, "UNIQUE constraint failed: t.a, t.b", "23505",
     "duplicate key value violates unique constraint \"t_a_b_key\"",
     "UNIQUE constraint failed: t.a, t.b"},
    {SQLITE_CONSTRAINT_UNIQUE, "UNIQUE constraint failed: index 'lower_idx'", "23505",
     "duplicate key value violates unique constraint \"lower_idx\"",
     "UNIQUE constraint failed: index 'lower_idx'"},
    {SQLITE_CONSTRAINT_NOTNULL, "NOT NULL constraint failed: t.c", "23502",
     "null value in column \"c\" of relation \"t\" violates not-null constraint",
     "NOT NULL constraint failed: t.c"},
    {SQLITE_CONSTRAINT_FOREIGNKEY, "FOREIGN KEY constraint failed", "23503",
     "insert, update or delete violates a foreign key constraint", "FOREIGN KEY constraint failed"},
    {SQLITE_CONSTRAINT_CHECK, "CHECK constraint failed: c > 0", "23514",
     "new row violates check constraint \"c > 0\"", "CHECK constraint failed: c > 0"},
    {SQLITE_CONSTRAINT_TRIGGER, "raised", "23000", "raised", ""},
    {SQLITE_INTERRUPT, "interrupted", "57014", "canceling statement due to user request", ""},
    {SQLITE_BUSY, "database is locked", "40001",
     "could not serialize access due to concurrent update", "database is locked"},
    {SQLITE_BUSY_SNAPSHOT, "database is locked", "40001",
     "could not serialize access due to concurrent update", "database is locked"},
    {SQLITE_LOCKED_SHAREDCACHE, "database table is locked", "40001",
     "could not serialize access due to concurrent update", "database table is locked"},
    {SQLITE_FULL, "database or disk is full", "53100",
     "could not extend database file: database or disk is full", ""},
    {SQLITE_NOMEM, "out of memory", "53200", "out of memory", ""},
    {SQLITE_IOERR_WRITE, "disk I/O error", "58030",
     "could not access database file: disk I/O error", ""},
    {SQLITE_CORRUPT, "database disk image is malformed", "XX001",
     "database file is corrupted: database disk image is malformed", ""},
    {SQLITE_NOTADB, "file is not a database", "XX001",
     "database file is corrupted: file is not a database", ""},
    {SQLITE_TOOBIG, "string or blob too big", "54000", "string or blob too big", ""},
    {SQLITE_READONLY, "attempt to write a readonly database", "25006",
     "attempt to write a readonly database", ""},
    {SQLITE_MISMATCH, "datatype mismatch", "42804", "datatype mismatch", ""},
    {SQLITE_AUTH, "not authorized", "42501", "permission denied: not authorized", ""},
    {SQLITE_MISUSE, "bad parameter or other API misuse", "XX000",
     "bad parameter or other API misuse", ""},
};

START_TEST(test_table)
{
    sqlite_pg_error e;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sqlite_error_map(cases[i].rc, cases[i].msg, &e);
        ck_assert_msg(strcmp(e.sqlstate, cases[i].sqlstate) == 0, "[%s] sqlstate %s", cases[i].msg,
                      e.sqlstate);
        ck_assert_msg(strcmp(e.message, cases[i].message) == 0, "[%s] message [%s]", cases[i].msg,
                      e.message);
        ck_assert_msg(strcmp(e.detail, cases[i].detail) == 0, "[%s] detail [%s]", cases[i].msg,
                      e.detail);
    }
}
END_TEST

START_TEST(test_null_message)
{
    sqlite_pg_error e;
    sqlite_error_map(SQLITE_NOMEM, NULL, &e);
    ck_assert_str_eq(e.sqlstate, WIRE_SQLSTATE_OUT_OF_MEMORY);
    sqlite_error_map(SQLITE_ERROR, NULL, &e);
    ck_assert_str_eq(e.sqlstate, WIRE_SQLSTATE_INTERNAL_ERROR);
    ck_assert_str_eq(e.message, sqlite3_errstr(SQLITE_ERROR));
}
END_TEST

START_TEST(test_long_names)
{
    char msg[400];
    memset(msg, 0, sizeof(msg));
    strcpy(msg, "no such table: ");
    memset(msg + strlen(msg), 'x', 300);
    sqlite_pg_error e;
    sqlite_error_map(SQLITE_ERROR, msg, &e);
    ck_assert_str_eq(e.sqlstate, "42P01");
    ck_assert(strlen(e.message) < sizeof(e.message));
}
END_TEST

/* Errors from a real SQLite: the messages the table relies on still exist. */
static void check_real(sqlite3 *db, const char *sql, const char *sqlstate)
{
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    ck_assert_msg(rc != SQLITE_OK, "%s succeeded", sql);
    sqlite_pg_error e;
    sqlite_error_map(sqlite3_extended_errcode(db), sqlite3_errmsg(db), &e);
    ck_assert_msg(strcmp(e.sqlstate, sqlstate) == 0, "%s: %s (%s), want %s", sql, e.sqlstate,
                  sqlite3_errmsg(db), sqlstate);
    sqlite3_free(err);
}

START_TEST(test_real_sqlite)
{
    sqlite3 *db;
    ck_assert_int_eq(sqlite3_open(":memory:", &db), SQLITE_OK);
    sqlite3_extended_result_codes(db, 1);
    sqlite3_exec(db, "PRAGMA foreign_keys=ON", NULL, NULL, NULL);
    ck_assert_int_eq(sqlite3_exec(db,
                                  "CREATE TABLE p(id INTEGER PRIMARY KEY, u TEXT UNIQUE, "
                                  "n INT NOT NULL DEFAULT 0, c INT CHECK (c > 0));"
                                  "CREATE TABLE ch(pid INT REFERENCES p(id));"
                                  "CREATE TABLE w(a INT PRIMARY KEY) WITHOUT ROWID;"
                                  "INSERT INTO p(id, u, c) VALUES (1, 'a', 1);"
                                  "INSERT INTO w VALUES (1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    check_real(db, "SELECT * FROM nope", "42P01");
    check_real(db, "SELECT nope FROM p", "42703");
    check_real(db, "SELECT p.nope FROM p", "42703");
    check_real(db, "SELECT main.p.nope FROM p", "42703");
    check_real(db, "INSERT INTO p(id, nope) VALUES (5, 1)", "42703");
    check_real(db, "INSERT INTO main.p(nope) VALUES (1)", "42703");
    check_real(db, "SELECT nofunc(1)", "42883");
    check_real(db, "SELECT abs(1, 2)", "42883");
    check_real(db, "CREATE TABLE p(x)", "42P07");
    check_real(db, "CREATE INDEX sqlite_autoindex_p_1 ON p(u)", "XX000");
    check_real(db, "SELEC 1", "42601");
    check_real(db, "SELECT (1", "42601");
    check_real(db, "INSERT INTO p(id, u, c) VALUES (1, 'b', 1)", "23505");
    check_real(db, "INSERT INTO w VALUES (1)", "23505");
    check_real(db, "INSERT INTO p(id, u, c) VALUES (2, 'a', 1)", "23505");
    check_real(db, "INSERT INTO p(id, u, n, c) VALUES (2, 'b', NULL, 1)", "23502");
    check_real(db, "INSERT INTO p(id, u, c) VALUES (2, 'b', -1)", "23514");
    check_real(db, "INSERT INTO ch VALUES (9)", "23503");
    check_real(db, "ROLLBACK TO nope", "3B001");
    check_real(db, "COMMIT", "25P01");
    check_real(db, "SELECT id FROM p, ch AS q, p AS r", "42702");
    check_real(db, "DROP INDEX nope", "42704");
    check_real(db, "INSERT INTO ch VALUES (1, 2)", "42601");
    sqlite3_close(db);
}
END_TEST

static Suite *sqlite_error_suite(void)
{
    Suite *s = suite_create("storage/sqlite_error");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_table);
    tcase_add_test(tc, test_null_message);
    tcase_add_test(tc, test_long_names);
    tcase_add_test(tc, test_real_sqlite);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sqlite_error_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
