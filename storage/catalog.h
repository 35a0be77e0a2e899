/*
 * catalog.h: PostgreSQL's system catalogs (pg_catalog, information_schema)
 * for a connection of the SQLite engine.
 *
 * The catalog is a set of TEMP tables on the connection, filled by SQLite
 * itself from the database's real schema (sqlite_schema, pragma_table_info,
 * pragma_index_list, pragma_foreign_key_list) plus fixed rows for what every
 * PostgreSQL 15 database has (built-in types, namespaces, roles, access
 * methods), and the SQL functions that psql and drivers call on it
 * (format_type, pg_get_expr, array_to_string, current_schemas, ...).
 *
 * Tables rather than views: a column of a table has a declared type, which
 * sqlite3_column_decltype() reports and sqlite_types.c maps to the
 * PostgreSQL type of the result column (oid, name, boolean printed t/f); a
 * view's computed column has none.
 *
 * Nothing exists until a statement needs it: the translator reports that its
 * output reads the catalog (storage_translate_ex), and the runner calls
 * catalog_ensure() before preparing it, so connecting stays as cheap as
 * before.  catalog_ensure() rebuilds the rows that describe the schema when
 * the main database's schema_version has changed since they were made.  The
 * tables live in the connection's transaction: a ROLLBACK of the client's
 * transaction may drop them, and the next catalog_ensure() recreates them.
 *
 * Functions here run on the worker thread that owns the connection.
 */
#ifndef DORMOUSE_CATALOG_H
#define DORMOUSE_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/* Whether `name` (unqualified) is a relation of pg_catalog that the catalog
 * provides, e.g. "pg_class"; the table in the temp schema has the same name. */
bool catalog_is_relation(const char *name);
/* Whether `name` is one of the TEMP tables catalog_ensure() creates (the
 * pg_catalog relations, information_schema's and the internal _dm_* ones):
 * a connection reset for its next client keeps them. */
bool catalog_is_temp_table(const char *name);
/* The temp table behind information_schema.`name`, or NULL if there is none. */
const char *catalog_information_schema(const char *name);
/* Whether `name` is one of the functions catalog_ensure() registers (a
 * statement calling it needs catalog_ensure() first). */
bool catalog_is_function(const char *name);

/* Creates the catalog tables and functions on `db` if they are missing and
 * refreshes the schema's rows if the schema changed.  Returns SQLite's result
 * code; on failure `err` says why and the client's transaction is as it
 * was. */
int catalog_ensure(sqlite3 *db, char *err, size_t errlen);

/* The array aggregates, which need no catalog tables: dm_array_agg (for
 * ARRAY(subquery): '{}' without rows) and dm_array_agg_or_null (array_agg:
 * NULL without rows).  Registered on every connection when it opens. */
int catalog_register_aggregates(sqlite3 *db);

/* The stable OID of relation `name` (tables, views, indexes, constraints):
 * a hash of the name in [16384, 2^31). */
uint32_t catalog_oid(const char *name);

/* PostgreSQL's format_type(): the SQL name of type `oid` with modifier
 * `typmod` (-1 for none), e.g. (1043, 24) -> "character varying(20)".
 * Writes at most len bytes; returns false for an unknown type. */
bool catalog_format_type(uint32_t oid, int32_t typmod, char *buf, size_t len);

/* PostgreSQL's form of a column default that the translator wrote in SQLite
 * SQL (pragma_table_info's dflt_value) for a column of type `oid`, e.g.
 * ("'none'", 25) -> "'none'::text", ("1", 16) -> "true". */
void catalog_default_expr(const char *sqlite_dflt, uint32_t oid, char *buf, size_t len);

#endif
