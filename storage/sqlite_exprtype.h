/*
 * sqlite_exprtype.h: the PostgreSQL type of a result expression, from the
 * parse tree and the declared types of the columns it reads.
 *
 * SQLite gives a declared type only to result columns that are plain column
 * references; an expression's type would otherwise be guessed from its first
 * value (a storage class), which cannot tell numeric from float8, int8 from
 * int4 or a timestamp from text.  PostgreSQL decides types statically:
 * count(*) is int8, a comparison is bool, 0.1 + 0.2 is numeric, sum() of an
 * integer column is int8, max() has its argument's type.  This module
 * follows those rules for the expressions drivers and people commonly write
 * and says "unknown" for the rest (the caller then falls back to the value).
 */
#ifndef DORMOUSE_SQLITE_EXPRTYPE_H
#define DORMOUSE_SQLITE_EXPRTYPE_H

#include <stdbool.h>

#include <pg_query/pg_query.pb-c.h>
#include <sqlite3.h>

#include "sqlite_types.h"

/* The type of target expression `n` of statement `stmt` (a SelectStmt,
 * InsertStmt, UpdateStmt or DeleteStmt node: its FROM / target relation tells
 * which table a column reference reads), looking declared column types up on
 * `db` (may be NULL: then column references are unknown).  Returns false
 * when the type cannot be told. */
bool sqlite_expr_type(sqlite3 *db, const PgQuery__Node *stmt, const PgQuery__Node *n,
                      sqlite_pg_type *t);

/* The result targets (ResTarget nodes) of statement `stmt` when they line up
 * one to one with its `ncols` result columns (no `*`), else NULL. */
PgQuery__Node *const *sqlite_expr_targets(const PgQuery__Node *stmt, int ncols);

#endif
