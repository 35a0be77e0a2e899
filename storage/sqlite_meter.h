/*
 * sqlite_meter.h: rows read and rows written by a job, from SQLite's own
 * counters, for the usage ledger.
 *
 * Definitions (as Cloudflare D1 and Turso count them):
 *  - rows read: the rows each loop of each statement visited, as SQLite's
 *    sqlite3_stmt_scanstatus() reports them (SQLITE_SCANSTAT_NVISIT, summed
 *    over the statement's loops): a full scan of an N-row table reads N
 *    whatever it returns, an index lookup reads the index entries it visits,
 *    a join reads what each of its loops visits.  What SQLite answers without
 *    a loop (count(*) of a whole table, a PRAGMA) reads 0.  SQLite's reading
 *    of its schema when it (re)loads it is not counted.
 *  - rows written: each row inserted, updated or deleted in a table, by the
 *    statement itself or by its triggers and foreign-key actions (SQLite's
 *    preupdate hook), plus one per index entry written: for an INSERT or a
 *    DELETE every index of the table (partial ones included), for an UPDATE
 *    the indexes holding a column whose value changed (all of them when the
 *    rowid changed, and those on expressions whenever any column changed).
 *  - What Dormouse itself does on the handle is not counted: building its
 *    emulation of PostgreSQL's catalog (temp.pg_*, temp._dm_*), translating
 *    a statement, its own lookups of index lists.
 */
#ifndef DORMOUSE_SQLITE_METER_H
#define DORMOUSE_SQLITE_METER_H

#include "storage_internal.h"

/* After OPEN: counts on this handle from now on.  Best effort (no memory:
 * the connection is not metered). */
void sqlite_meter_attach(storage_conn *c);
/* Before the handle closes: frees what attach made.  No-op if not metered. */
void sqlite_meter_detach(storage_conn *c);
/* Around a job: begin zeroes the counts; end adds the index entries of the
 * rows written and returns both (0 when the connection is not metered). */
void sqlite_meter_begin(storage_conn *c);
void sqlite_meter_end(storage_conn *c, uint64_t *rows_read, uint64_t *rows_written);

/* Dormouse's own work on the handle (translating a statement, which looks
 * up columns, and building the catalog; parsing, binding and describing in
 * the extended protocol) is not counted: between pause(c, true) and
 * pause(c, false), which nest. */
void sqlite_meter_pause(storage_conn *c, bool paused);

#endif
