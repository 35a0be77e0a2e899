/*
 * sqlite_rebuild.h: ALTER TABLE changes that SQLite cannot make in place and
 * that the engine therefore makes by rebuilding the table.
 */
#ifndef DORMOUSE_SQLITE_REBUILD_H
#define DORMOUSE_SQLITE_REBUILD_H

#include <stdbool.h>

#include <pg_query/pg_query.pb-c.h>

#include "sqlite_query.h"

/* ALTER TABLE t ADD [CONSTRAINT name] PRIMARY KEY (cols): rebuilds t with the
 * key (and NOT NULL on its columns), all or nothing.  Replies (CommandComplete
 * "ALTER TABLE" or an ErrorResponse) go to q->job->out; returns false after
 * reporting an error. */
bool sqlite_rebuild_add_primary_key(sqlite_query *q, const PgQuery__AlterTableStmt *at,
                                    const PgQuery__Constraint *k);

#endif
