/*
 * sqlite_conn.h: the job runners of the SQLite engine.  Each runs on a worker
 * thread that owns job->conn for the duration of the call, appends its replies
 * to job->out and fills the job's result fields except wall_us.
 */
#ifndef DORMOUSE_SQLITE_CONN_H
#define DORMOUSE_SQLITE_CONN_H

#include "storage_internal.h"

/* STORAGE_JOB_OPEN: opens (creating) the file and configures the handle. On
 * failure sets job->failed and encodes a FATAL ErrorResponse. */
void sqlite_conn_open(storage_job *job);
/* STORAGE_JOB_RESET: makes an open connection fit for its next session, as
 * storage.h describes (sqlite_reset.c).  On failure sets job->failed and
 * encodes an ErrorResponse saying why; the owner then closes it. */
void sqlite_conn_reset(storage_job *job);
/* Before a session's first statement on a reset connection: drops the kept
 * catalog tables when they were built for another user (their role rows
 * would be that user's).  A no-op unless a RESET kept a catalog. */
void sqlite_conn_catalog_check(storage_conn *c);
/* STORAGE_JOB_CLOSE: rolls back any open transaction and closes the handle. */
void sqlite_conn_close(storage_job *job);
/* STORAGE_JOB_QUERY: runs one simple-protocol Query message (sqlite_query.c). */
void sqlite_query_run(storage_job *job);

/* Runs a statement that the engine itself issues (BEGIN, COMMIT, ROLLBACK,
 * SAVEPOINT ...) and returns SQLite's extended result code. */
int sqlite_conn_exec(storage_conn *c, const char *sql);
/* A job is over: nothing runs on c, and a cancel (or query_timeout) aimed at
 * it never reaches the next job. */
void sqlite_conn_job_end(storage_conn *c);
/* Rolls back whatever transaction SQLite has open, if any.  Best effort: if
 * even a retried ROLLBACK fails, CLOSE (sqlite3_close_v2) discards the
 * transaction. */
void sqlite_conn_rollback(storage_conn *c);

/* The connection is closed or was never opened: it no longer counts as
 * open; with may_freeze, the last one of a pausing database moves its file
 * to the cold tier.  No-op when it was not counted. */
void sqlite_conn_uncount(storage_conn *c, bool may_freeze);

#endif
