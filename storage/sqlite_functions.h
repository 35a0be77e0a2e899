/*
 * sqlite_functions.h: the SQL functions every Dormouse SQLite connection has,
 * which translated statements (translate.c) call for PostgreSQL semantics that
 * SQLite lacks: checking casts, LIKE and regular expressions, GREATEST/LEAST,
 * the date/time functions in PostgreSQL's text format, and a few PostgreSQL
 * functions under their own names (now, version, current_database, pg_sleep,
 * gen_random_uuid).
 *
 * A function that fails as PostgreSQL would reports "[SQLSTATE] message";
 * sqlite_error.c turns that into the ErrorResponse.
 */
#ifndef DORMOUSE_SQLITE_FUNCTIONS_H
#define DORMOUSE_SQLITE_FUNCTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "storage_internal.h"

/* Registers the functions on `db`, the handle of connection `c` (which
 * outlives the handle): current_database() answers c->db->name and
 * pg_sleep() stops early when c->cancel is set.  Returns SQLite's result
 * code. */
int sqlite_functions_register(sqlite3 *db, storage_conn *c);

#endif
