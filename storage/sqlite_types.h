/*
 * sqlite_types.h: PostgreSQL types for SQLite columns, and PostgreSQL's text
 * output for SQLite values.
 */
#ifndef DORMOUSE_SQLITE_TYPES_H
#define DORMOUSE_SQLITE_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

/* How a value of the column is printed in text format. */
typedef enum sqlite_type_format {
    SQLITE_TYPE_FORMAT_TEXT = 0, /* as SQLite stores it */
    SQLITE_TYPE_FORMAT_INT,      /* integers in decimal */
    SQLITE_TYPE_FORMAT_FLOAT8,   /* shortest round-trip double */
    SQLITE_TYPE_FORMAT_FLOAT4,   /* shortest round-trip float */
    SQLITE_TYPE_FORMAT_NUMERIC,  /* decimal without exponent */
    SQLITE_TYPE_FORMAT_BOOL,     /* t / f */
    SQLITE_TYPE_FORMAT_BYTEA,    /* \x + lowercase hex */
    SQLITE_TYPE_FORMAT_UUID,     /* lower-case 8-4-4-4-12 hex */
    SQLITE_TYPE_FORMAT_BPCHAR,   /* padded with spaces to the declared length */
    SQLITE_TYPE_FORMAT_JSONB,    /* keys sorted and unique, PostgreSQL's spacing */
} sqlite_type_format;

const char *sqlite_type_format_str(sqlite_type_format f);

typedef struct sqlite_pg_type {
    uint32_t oid;
    int16_t len;    /* pg_type.typlen: -1 for varlena */
    int32_t typmod; /* -1 unless the declaration carries one, e.g. varchar(n) */
    sqlite_type_format format;
} sqlite_pg_type;

/* The type of a column declared as `decl` (sqlite3_column_decltype), case-
 * and space-insensitive, with an optional "(n)" or "(p,s)" modifier.  Returns
 * false, and text, for declarations PostgreSQL would not know. */
bool sqlite_type_from_decltype(const char *decl, sqlite_pg_type *out);
/* The type of an expression column, from the storage class of its first value
 * (SQLITE_NULL when there is no row) and, for integers, the value: int4 when
 * it fits, else int8. */
void sqlite_type_from_value(int storage_class, sqlite3_int64 i, sqlite_pg_type *out);

/* Formats a double as PostgreSQL's float8out (shortest round-trip digits,
 * exponent form outside 1e-4 <= |v| < 1e15, Infinity, -Infinity, NaN). */
size_t sqlite_format_float8(double v, char *buf, size_t len);
/* The same for float4 (exponent form outside 1e-4 <= |v| < 1e6). */
size_t sqlite_format_float4(float v, char *buf, size_t len);
/* A double in plain decimal notation (numeric columns), shortest digits. */
size_t sqlite_format_numeric(double v, char *buf, size_t len);

/* Decodes `n` bytes of bytea input text as PostgreSQL's byteain does (the
 * characters of the value, not of a SQL literal): a backslash and a lower-case
 * x, then pairs of hex digits in either case, with spaces, tabs and newlines
 * allowed between pairs; or else the escape format, where a backslash and
 * three octal digits (the first 0-3) is one byte, two backslashes are one,
 * and any other byte is itself.  Writes at most n bytes to out and their
 * number to *outlen.  Returns false for what PostgreSQL would reject: an odd
 * number of hex digits, a non-hex character, any other backslash. */
bool sqlite_bytea_decode(const char *text, size_t n, unsigned char *out, size_t *outlen);

/* Formats column `col` of the current row of `st` as PostgreSQL prints type
 * `t` in text format.  Returns the length, or -1 for NULL.  *out points either
 * into SQLite's memory (valid until the next step) or into `scratch`, grown
 * with realloc as needed (*scratch_cap tracks its size); returns -2 when out
 * of memory. */
int32_t sqlite_value_format(const sqlite_pg_type *t, sqlite3_stmt *st, int col, char **scratch,
                            size_t *scratch_cap, const char **out);

#endif
