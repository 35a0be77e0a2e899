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
/* STORAGE_JOB_CLOSE: rolls back any open transaction and closes the handle. */
void sqlite_conn_close(storage_job *job);
/* STORAGE_JOB_QUERY: runs one simple-protocol Query message (sqlite_query.c). */
void sqlite_query_run(storage_job *job);

/* Runs a statement that the engine itself issues (BEGIN, COMMIT, ROLLBACK,
 * SAVEPOINT ...) and returns SQLite's extended result code. */
int sqlite_conn_exec(storage_conn *c, const char *sql);
/* Rolls back whatever transaction SQLite has open, if any.  Best effort: if
 * even a retried ROLLBACK fails, CLOSE (sqlite3_close_v2) discards the
 * transaction. */
void sqlite_conn_rollback(storage_conn *c);

#endif
