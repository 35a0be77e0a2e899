/*
 * sqlite_numeric.h: exact decimal numbers kept as text.
 *
 * SQLite has no decimal type: a value in a column of NUMERIC affinity is
 * converted to a double, which keeps 15 significant digits.  Dormouse
 * therefore declares PostgreSQL numeric columns with TEXT affinity ("numeric
 * text(p,s)", see translate.c) and the collation dm_numeric, so that the text
 * a client inserted is kept digit for digit while comparisons, ORDER BY,
 * indexes, min() and max() order the values as numbers.  This file parses
 * such text the way PostgreSQL's numeric_in does, compares two values, and
 * prints one as numeric_out does (plain notation, a given scale).
 *
 * Pure functions over (pointer, length); no allocation, no SQLite calls other
 * than the collation's registration signature.
 */
#ifndef DORMOUSE_SQLITE_NUMERIC_H
#define DORMOUSE_SQLITE_NUMERIC_H

#include <stdbool.h>
#include <stddef.h>

/* PostgreSQL's numeric limits: at most 131072 digits before the point and
 * 16383 after it.  Larger values are refused. */
#define SQLITE_DECIMAL_MAX_WEIGHT 131072
#define SQLITE_DECIMAL_MAX_DSCALE 16383

typedef enum sqlite_decimal_kind {
    SQLITE_DECIMAL_FINITE = 0,
    SQLITE_DECIMAL_NAN,
    SQLITE_DECIMAL_PINF,
    SQLITE_DECIMAL_NINF,
} sqlite_decimal_kind;

/* A parsed value: 0.d1d2...dn x 10^weight, with d1 != 0 and dn != 0 (n == 0
 * for zero), and the display scale numeric_in would give it. */
typedef struct sqlite_decimal {
    sqlite_decimal_kind kind;
    bool negative;
    const char *digits; /* the significant digits, in the caller's buffer */
    int ndigits;
    int weight;
    int dscale; /* digits after the point in PostgreSQL's output */
} sqlite_decimal;

/* Parses n bytes of s as numeric_in would (surrounding spaces, optional sign,
 * digits with an optional point, optional exponent; NaN, Infinity, inf,
 * case-insensitive).  The significant digits are copied to `buf`, which must
 * hold n bytes.  Returns false for anything else. */
bool sqlite_decimal_parse(const char *s, size_t n, char *buf, sqlite_decimal *d);

/* -1, 0 or 1 as a < b, a = b, a > b in PostgreSQL's order: -Infinity, the
 * finite values, Infinity, NaN (NaN equals NaN). */
int sqlite_decimal_cmp(const sqlite_decimal *a, const sqlite_decimal *b);

/* Prints d as numeric_out does with `scale` digits after the point (rounding
 * half away from zero; scale < 0: d's own dscale), NUL-terminated, and
 * returns its length.  When cap is too small nothing is written and the
 * return value is a size (> cap - 1) that suffices: call again with it. */
size_t sqlite_decimal_format(const sqlite_decimal *d, int scale, char *out, size_t cap);

/* The collation dm_numeric: text that parses as a number orders as that
 * number; other text after all numbers, bytewise. */
int sqlite_numeric_collate(void *arg, int alen, const void *a, int blen, const void *b);

#endif
