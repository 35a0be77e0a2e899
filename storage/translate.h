/*
 * translate.h: PostgreSQL statements (libpg_query parse trees) as SQLite SQL.
 *
 * The translator is a deparser that writes SQLite's dialect: identifiers are
 * always double-quoted, literals re-escaped, PostgreSQL's operators and
 * functions mapped to SQLite's or to the functions that sqlite_functions.c
 * registers on every connection (casts, regular expressions, LIKE, time).
 * What SQLite cannot do with the same result is refused with SQLSTATE 0A000
 * and a message naming the feature; nothing is silently changed in meaning
 * except where translate.c documents it.
 *
 * It is a pure function of the tree: no connection, callable from any
 * thread.  pg_catalog and information_schema relations become the temp tables
 * of catalog.h, which the caller creates when storage_translate_ex says so.
 */
#ifndef DORMOUSE_TRANSLATE_H
#define DORMOUSE_TRANSLATE_H

#include <stdbool.h>

#include "statement.h"

typedef struct storage_translate_error {
    const char *sqlstate; /* static string: 0A000 for what is not supported */
    char message[256];
} storage_translate_error;

/* Translates one statement (not a TRANSACTION kind: the engine runs those).
 * On success *out_sql is a malloc'ed NUL-terminated SQLite statement, possibly
 * empty (nothing to run), and the caller frees it.  On failure *out_sql is
 * NULL and err says why. */
bool storage_translate(const storage_stmt *stmt, char **out_sql, storage_translate_error *err);
/* The same; *uses_catalog tells whether the SQL reads the catalog, which
 * catalog_ensure() (catalog.h) must prepare on the connection first. */
bool storage_translate_ex(const storage_stmt *stmt, char **out_sql, bool *uses_catalog,
                          storage_translate_error *err);

#endif
