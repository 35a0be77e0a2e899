/*
 * colname.h: the names PostgreSQL gives a statement's result columns,
 * computed from the libpg_query parse tree.
 *
 * PostgreSQL names a result column by its alias, else by rules on the
 * expression (FigureColname in parse_target.c: a column's name, a function's
 * name, a cast's type name, "?column?"); SQLite names it by the expression's
 * text.  psql prints the name from RowDescription, so the engine sends
 * PostgreSQL's.
 */
#ifndef DORMOUSE_COLNAME_H
#define DORMOUSE_COLNAME_H

#include <stdbool.h>

#include <pg_query/pg_query.pb-c.h>

/* One result column as PostgreSQL sees its target. */
typedef struct storage_colname {
    const char *name; /* PostgreSQL's name; NULL: unknown here, keep SQLite's */
    bool count;       /* the target is a call of count(): PostgreSQL types it int8 */
} storage_colname;

/* PostgreSQL's name for a target expression without an alias; NULL when it
 * depends on what only the catalog knows (a scalar subquery selecting `*`).
 * The result points into the tree or is a static string. */
const char *storage_colname_figure(const PgQuery__Node *expr);

/* Names the `ncols` columns SQLite returns for statement `stmt` (a SELECT, or
 * INSERT/UPDATE/DELETE ... RETURNING): out[i] for column i.  A `*` target
 * expands to a table's columns, whose names SQLite already has: those columns
 * (and any between two stars) get NULL.  Returns false, with out all NULL,
 * when the statement has no target list or its targets cannot be lined up
 * with ncols columns.  Names point into the tree or are static strings. */
bool storage_colname_result(const PgQuery__Node *stmt, int ncols, storage_colname *out);

#endif
