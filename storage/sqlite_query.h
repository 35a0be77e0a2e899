/*
 * sqlite_query.h: the pieces of the simple-query runner (sqlite_query.c) that
 * the extended-protocol runner (sqlite_extended.c) shares, so that both
 * protocols report errors, end transaction blocks, name and type result
 * columns and form command tags in exactly the same way.
 *
 * A sqlite_query is the state of one job's run: the job whose `out` receives
 * the replies, its connection, and whether an implicit transaction block is
 * open.  Everything here runs on the worker that owns the connection.
 */
#ifndef DORMOUSE_SQLITE_QUERY_H
#define DORMOUSE_SQLITE_QUERY_H

#include <stdbool.h>
#include <stdint.h>

#include "colname.h"
#include "sqlite_types.h"
#include "statement.h"
#include "translate.h"
#include "storage_internal.h"

typedef struct sqlite_query {
    storage_job *job;
    storage_conn *c;
    const char *sql;
    bool multi;    /* more than one statement: implicit block semantics */
    bool implicit; /* the implicit block's BEGIN has been issued */

    char *scratch; /* value formatting */
    size_t scratch_cap;
    sqlite_pg_type *types;
    wire_column *cols;
    storage_colname *names;
    int cols_cap;
} sqlite_query;

/* A Query message being run: its parse and the next statement.  A COPY
 * suspends it between jobs (sqlite_copy_suspend) and resumes it when done. */
typedef struct sqlite_query_batch {
    storage_parse parsed;
    size_t next;   /* the next statement to run */
    bool multi;    /* as sqlite_query.multi */
    bool implicit; /* as sqlite_query.implicit */
} sqlite_query_batch;

/* Runs the batch's statements from b->next on, after the previous one ended
 * ok or not (an error already reported: the rest is skipped and the block
 * failed as PostgreSQL does); ends the implicit block; frees the parse,
 * unless a COPY suspends the batch again (then job->copy says so). */
void sqlite_query_resume(storage_job *job, sqlite_query_batch *b, bool ok);

/* ErrorResponse with severity ERROR (detail "" or NULL: none). */
void sqlite_query_error(sqlite_query *q, const char *sqlstate, const char *message,
                        const char *detail, int position);
/* A SQLite result code and message, mapped to PostgreSQL's error. */
void sqlite_query_sqlite_error(sqlite_query *q, int rc, const char *msg);
/* The last SQLite error on the connection's handle. */
void sqlite_query_handle_error(sqlite_query *q);
/* CommandComplete, counted as an executed statement. */
void sqlite_query_complete(sqlite_query *q, const char *tag);

/* A statement failed: rolls back an implicit block, fails an explicit one. */
void sqlite_query_failed(sqlite_query *q);
/* Runs an engine-issued statement (BEGIN ...); reports a failure. */
bool sqlite_query_exec_ctl(sqlite_query *q, const char *sql);
/* How many result columns statement s (prepared as st, may be NULL) has for
 * the client: sqlite3_column_count, except for statements PostgreSQL
 * answers without rows although SQLite's version reports columns. */
int sqlite_query_result_columns(const storage_stmt *s, sqlite3_stmt *st);
/* storage_translate_ex for a statement about to run on db, which completes
 * what PostgreSQL completes from the catalog: an INSERT without a column
 * list and shorter VALUES rows names the table's first columns. */
bool sqlite_query_translate(sqlite3 *db, const storage_stmt *s, char **sql, bool *catalog,
                            storage_translate_error *err);
/* Ends the current block (explicit, implicit or failed) with COMMIT or
 * ROLLBACK; the connection is 'I' afterwards. */
bool sqlite_query_end_block(sqlite_query *q, bool commit);
/* Runs a transaction-control statement (s->kind == STORAGE_STMT_TRANSACTION)
 * by the table at the top of sqlite_query.c. */
bool sqlite_query_transaction(sqlite_query *q, const storage_stmt *s);

/* Names and types the ncols result columns of `st` (positioned on its first
 * row when has_row) as PostgreSQL would: names from the parse tree, types
 * from the declared type, count() as int8, else from the first value (text
 * without a row).  Column names may point into SQLite's memory, valid until
 * `st` is stepped, reset or finalized. */
void sqlite_query_columns(const storage_stmt *s, sqlite3_stmt *st, int ncols, bool has_row,
                          storage_colname *names, sqlite_pg_type *types, wire_column *cols);
/* CommandComplete with PostgreSQL's tag for statement s that returned `rows`
 * rows and changed `changes` (sqlite3_changes64); counts rows affected. */
void sqlite_query_finish(sqlite_query *q, const storage_stmt *s, uint64_t rows, int64_t changes);

#endif
