/*
 * sqlite_coltypes.h: the PostgreSQL types SQLite's schema cannot hold.
 *
 * A column's declared type in SQLite's schema is its PostgreSQL type (the
 * translator writes it so), with one exception: SQLite makes a column the
 * table's rowid, and gives it AUTOINCREMENT, only when it is declared exactly
 * "INTEGER PRIMARY KEY".  serial, bigserial, smallserial and identity keys
 * all become that, so their PostgreSQL type (bigint for bigserial) and their
 * identity kind would be lost.  Dormouse records them in its own table
 * main._dormouse_columns (tbl, col, pgtype, identity), which the catalog
 * never shows, and reads them back for RowDescription and pg_catalog.
 *
 * The table is written in the transaction of the CREATE TABLE (so a rollback
 * undoes both) and every CREATE TABLE of Dormouse first forgets what was
 * recorded for a table of that name, so a dropped and re-created table never
 * inherits stale types.
 */
#ifndef DORMOUSE_SQLITE_COLTYPES_H
#define DORMOUSE_SQLITE_COLTYPES_H

#include <stdbool.h>
#include <stddef.h>

#include <pg_query/pg_query.pb-c.h>
#include <sqlite3.h>

/* The declared type the translator gives serial and identity keys: a column
 * declared so may have a recorded type. */
#define SQLITE_COLTYPES_ROWID_DECL "INTEGER"

/* Records the types of CREATE TABLE `cs`'s serial and identity columns after
 * it ran on db, in the current transaction.  Returns SQLite's result code
 * (the message is db's). */
int sqlite_coltypes_record(sqlite3 *db, const PgQuery__CreateStmt *cs);

/* The recorded PostgreSQL type of column `col` of table `tbl` ("bigint",
 * "smallint", "integer") into type, and its identity kind ('a' ALWAYS, 'd'
 * BY DEFAULT, '\0' serial) into *identity.  False when nothing is recorded
 * (a serial column, or a table created outside Dormouse). */
bool sqlite_coltypes_lookup(sqlite3 *db, const char *tbl, const char *col, char *type, size_t len,
                            char *identity);

/* SQL functions on db: dm_column_type(tbl, col, decltype) is the recorded
 * type or decltype; dm_column_identity(tbl, col) is 'a', 'd' or ''. */
int sqlite_coltypes_register(sqlite3 *db);

#endif
