/*
 * sqlite_session.h: session statements that the engine runs itself, not
 * SQLite (statement kind STORAGE_STMT_SESSION): SET, RESET, SHOW, DISCARD,
 * DEALLOCATE, UNLISTEN, CLOSE; and the per-connection settings map behind
 * them, which current_setting()/set_config() (sqlite_functions.c) share.
 */
#ifndef DORMOUSE_SQLITE_SESSION_H
#define DORMOUSE_SQLITE_SESSION_H

#include <stdbool.h>

#include "sqlite_query.h"
#include "statement.h"
#include "storage_internal.h"

/* Runs `s`; replies go to q->job->out.  `describe`: a SHOW sends its
 * RowDescription (simple protocol; the extended one asks with Describe).
 * Returns false after reporting an error. */
bool sqlite_session_run(sqlite_query *q, const storage_stmt *s, bool describe);

/* For Describe in the extended protocol: writes SHOW's RowDescription and
 * returns true, or returns false (nothing written) for a statement without
 * rows. */
bool sqlite_session_describe(const storage_stmt *s, wire_buf *out);

/* The current value of a parameter (case-insensitive name), or NULL when it
 * is unknown and not set. */
const char *sqlite_session_get(const storage_conn *c, const char *name);
/* Sets a parameter (value NULL: back to its default).  Returns false, with a
 * "[42704] ..." message in err, for an unrecognized name. */
bool sqlite_session_set(storage_conn *c, const char *name, const char *value, char *err,
                        size_t errlen);
/* Back to the defaults (RESET ALL). */
void sqlite_session_free(storage_conn *c);

#endif
