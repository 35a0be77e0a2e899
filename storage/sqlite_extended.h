/*
 * sqlite_extended.h: the extended query protocol on a SQLite connection:
 * prepared statements, portals, and STORAGE_JOB_EXTENDED batches of Parse,
 * Bind, Describe, Execute, Close, Sync and Flush messages.
 *
 * All functions run on the worker that owns the connection (the one running
 * its job), like the other job runners in sqlite_conn.h.
 */
#ifndef DORMOUSE_SQLITE_EXTENDED_H
#define DORMOUSE_SQLITE_EXTENDED_H

#include <stdbool.h>

#include "storage_internal.h"

/* STORAGE_JOB_EXTENDED: runs the batch in job->msgs, writing every reply,
 * including a ReadyForQuery after each Sync, to job->out; sets
 * job->discarding when the batch ended while skipping to a Sync. */
void sqlite_extended_run(storage_job *job);
/* A COPY job while an Execute's large result is pending (c->ext_pending):
 * its next part, then the rest of its batch. */
void sqlite_extended_resume(storage_job *job);

/* Does the batch need the database's write lock?  True when it binds or
 * executes a statement that is not a read or transaction control (a Parse
 * alone never does).
 * Reads the connection's statements and portals: call it only from the
 * worker about to run the job. */
bool sqlite_extended_writes(const storage_job *job);

/* Around a simple-protocol Query: before it, PostgreSQL destroys the unnamed
 * statement and portal (and a Query ends an implicit block the extended
 * protocol left open); after it, a finished transaction closes all portals. */
void sqlite_extended_before_query(storage_conn *c);
void sqlite_extended_after_query(storage_conn *c);

/* DEALLOCATE: drops the named prepared statement (false: none such), or,
 * with name NULL, every named one. */
bool sqlite_extended_deallocate(storage_conn *c, const char *name);

/* Frees every prepared statement and portal (before the handle closes). */
void sqlite_extended_conn_clear(storage_conn *c);

/* No named prepared statement or portal, and no error skipping to Sync:
 * what the extended protocol leaves is nothing another client would see
 * (the unnamed statement is replaced by its next Parse). */
bool sqlite_extended_conn_unnamed_only(const storage_conn *c);

#endif
