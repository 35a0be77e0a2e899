/*
 * sqlite_error.h: SQLite result codes and messages as PostgreSQL errors.
 */
#ifndef DORMOUSE_SQLITE_ERROR_H
#define DORMOUSE_SQLITE_ERROR_H

/* SQLSTATEs that wire.h does not name (yet). */
#define SQLITE_PG_SQLSTATE_INVALID_SAVEPOINT "3B001"
#define SQLITE_PG_SQLSTATE_UNDEFINED_OBJECT "42704"
#define SQLITE_PG_SQLSTATE_AMBIGUOUS_COLUMN "42702"
#define SQLITE_PG_SQLSTATE_GROUPING_ERROR "42803"
#define SQLITE_PG_SQLSTATE_INSUFFICIENT_PRIVILEGE "42501"
#define SQLITE_PG_SQLSTATE_READ_ONLY_TRANSACTION "25006"
#define SQLITE_PG_SQLSTATE_NUMERIC_OUT_OF_RANGE "22003"

/* A PostgreSQL-looking error: SQLSTATE, message and optional detail. */
typedef struct sqlite_pg_error {
    const char *sqlstate; /* static string */
    char message[512];
    char detail[512]; /* "" when there is none */
} sqlite_pg_error;

/* Maps an extended result code and SQLite's message (sqlite3_errmsg) to the
 * error PostgreSQL would send.  Matching is by code, then by the message's
 * fixed prefix and suffix: SQLite's messages are stable English strings. */
void sqlite_error_map(int rc, const char *msg, sqlite_pg_error *out);

#endif
