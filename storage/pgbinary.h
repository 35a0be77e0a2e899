/*
 * pgbinary.h: PostgreSQL's binary wire format (format code 1) for the types
 * whose binary form is not simply their bytes: numeric, uuid, date, time,
 * timetz, timestamp, timestamptz and interval.
 *
 * Two directions, both pure (no SQLite, no globals, any thread):
 *
 *   encode  the PostgreSQL text form of a value -> its binary form (what
 *           PostgreSQL's *_send would produce), for DataRows in binary;
 *   decode  the binary form a client bound -> PostgreSQL's own text output
 *           of the value (DateStyle ISO, IntervalStyle postgres, TimeZone
 *           UTC), which the SQLite engine stores and compares.
 *
 * The text parsers accept what PostgreSQL's input functions accept in the
 * forms clients commonly write (see each function), not only the normalized
 * output: stored values may have been inserted as text by anyone.
 *
 * Every function works on (pointer, length), never reads past it, and
 * appends its result to a wire_buf.  On any status but PGBIN_OK nothing is
 * left appended (the buffer's length is what it was on entry), except that an
 * out-of-memory buffer stays marked oom.  Binary forms are appended without a
 * length word: the caller frames the field.  Text results are not
 * NUL-terminated.
 */
#ifndef DORMOUSE_PGBINARY_H
#define DORMOUSE_PGBINARY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dormouse/wire.h"


typedef enum pgbin_status {
    PGBIN_OK = 0,
    PGBIN_SYNTAX, /* text the type's input function rejects: 22P02 / 22007 */
    PGBIN_RANGE,  /* a well-formed value outside the type's range: 22003 / 22008 */
    PGBIN_BINARY, /* bytes that are no binary value of the type: 22P03 */
    PGBIN_NOMEM,  /* the output buffer could not grow: 53200 */
} pgbin_status;

const char *pgbin_status_str(pgbin_status s);

/* True for the OIDs pgbin_encode() and pgbin_decode() handle. */
bool pgbin_supports(uint32_t oid);

/* The SQLSTATE PostgreSQL reports for a failure `s` with type `oid`
 * (numeric and uuid syntax: 22P02; date/time syntax: 22007; numeric range:
 * 22003; date/time range: 22008; bad binary: 22P03).  "00000" for PGBIN_OK. */
const char *pgbin_sqlstate(uint32_t oid, pgbin_status s);

/* PostgreSQL's message for a failure `s` with type `oid` into buf (always
 * NUL-terminated when len > 0).  `text`/`n` is the rejected input, quoted in
 * the message as PostgreSQL does (at most 100 bytes); NULL for binary input. */
void pgbin_message(uint32_t oid, pgbin_status s, const char *text, size_t n, char *buf, size_t len);

/* Text -> binary for any OID pgbin_supports(); PGBIN_SYNTAX for other OIDs. */
pgbin_status pgbin_encode(uint32_t oid, const char *text, size_t n, wire_buf *out);
/* Binary -> text for any OID pgbin_supports(); PGBIN_BINARY for other OIDs. */
pgbin_status pgbin_decode(uint32_t oid, const uint8_t *p, size_t n, wire_buf *out);

/* Text -> PostgreSQL's text output of the same value (what `text::type::text`
 * prints), for any OID pgbin_supports(): the form the SQLite engine stores
 * and compares.  PGBIN_SYNTAX for other OIDs. */
pgbin_status pgbin_normalize(uint32_t oid, const char *text, size_t n, wire_buf *out);

/* ---- numeric ---- */

/* numeric_in's grammar: surrounding white space; NaN, [+-]Infinity, [+-]inf
 * (any case); else an optional sign, digits with at most one point (at least
 * one digit), an optional exponent e[+-]digits.  PGBIN_RANGE for what
 * PostgreSQL cannot store (more than 131072 digits before the point, a scale
 * above 16383, |exponent| >= INT_MAX/2).
 *
 * pgbin_numeric_normalize appends numeric_out's text: plain decimal, no
 * exponent, the input's scale kept ('1.5e3' -> '1500', '-0.50' -> '-0.50',
 * '1e-3' -> '0.001'), zero unsigned; 'NaN', 'Infinity', '-Infinity'. */
pgbin_status pgbin_numeric_normalize(const char *text, size_t n, wire_buf *out);
/* numeric_send: int16 ndigits, int16 weight, uint16 sign (0x0000 +, 0x4000 -,
 * 0xC000 NaN, 0xD000 +Infinity, 0xF000 -Infinity), uint16 dscale, then
 * ndigits base-10000 digits, most significant first, without leading or
 * trailing zero digits. */
pgbin_status pgbin_numeric_encode(const char *text, size_t n, wire_buf *out);
/* numeric_recv then numeric_out.  PGBIN_BINARY for a wrong length, sign,
 * scale (above 0x3FFF) or digit (above 9999).  Digits beyond dscale are
 * truncated away, as PostgreSQL does. */
pgbin_status pgbin_numeric_decode(const uint8_t *p, size_t n, wire_buf *out);

/* ---- uuid ---- */

/* uuid_in: 32 hex digits in either case, a hyphen allowed after any group of
 * four, the whole optionally in braces; 16 bytes. */
pgbin_status pgbin_uuid_encode(const char *text, size_t n, wire_buf *out);
/* 16 bytes -> lower-case 8-4-4-4-12. */
pgbin_status pgbin_uuid_decode(const uint8_t *p, size_t n, wire_buf *out);

/* ---- date and time ----
 *
 * Accepted text (case-insensitive words, surrounding white space):
 *   date       Y...Y-MM-DD (year of 3 or more digits, or YYYYMMDD), then an
 *              optional time and zone (ignored) and era (' BC', ' AD');
 *              'infinity', '-infinity', 'epoch'
 *   time       [date (ignored) ' ' or 'T'] H[H]:MM[:SS[.fraction]] or
 *              HHMMSS[.fraction], zone ignored; 'allballs'
 *   timetz     the same with a zone; none means UTC
 *   timestamp  date, optional ' ' or 'T' and time, zone ignored, era;
 *              'infinity', '-infinity', 'epoch'
 *   timestamptz  the same, converted to UTC with its zone
 * A zone is 'Z', 'UTC', 'GMT' or [+-]HH[[:]MM[[:]SS]] (up to 15:59:59),
 * optionally preceded by white space.  Fractions are rounded to microseconds
 * as PostgreSQL does.  A field out of its range (month 13, Feb 30, 25:00,
 * year 0) gives PGBIN_RANGE, as does a value outside the type's range (dates
 * 4714-11-24 BC .. 5874897-12-31, timestamps 4714-11-24 BC .. 294276 AD).
 *
 * Text output is PostgreSQL's with DateStyle ISO and TimeZone UTC:
 * 'YYYY-MM-DD', 'HH:MM:SS[.ffffff]' (trailing fraction zeros dropped),
 * timetz offsets '+HH[:MM[:SS]]', timestamptz with '+00', ' BC' last. */

/* int32 days since 2000-01-01; infinity INT32_MAX, -infinity INT32_MIN. */
pgbin_status pgbin_date_encode(const char *text, size_t n, wire_buf *out);
pgbin_status pgbin_date_decode(const uint8_t *p, size_t n, wire_buf *out);
/* int64 microseconds since midnight, 0 .. 24:00:00. */
pgbin_status pgbin_time_encode(const char *text, size_t n, wire_buf *out);
pgbin_status pgbin_time_decode(const uint8_t *p, size_t n, wire_buf *out);
/* int64 microseconds of local time, int32 zone in seconds WEST of UTC. */
pgbin_status pgbin_timetz_encode(const char *text, size_t n, wire_buf *out);
pgbin_status pgbin_timetz_decode(const uint8_t *p, size_t n, wire_buf *out);
/* int64 microseconds since 2000-01-01 00:00:00; infinity INT64_MAX/MIN. */
pgbin_status pgbin_timestamp_encode(const char *text, size_t n, wire_buf *out);
pgbin_status pgbin_timestamp_decode(const uint8_t *p, size_t n, wire_buf *out);
/* The same, in UTC. */
pgbin_status pgbin_timestamptz_encode(const char *text, size_t n, wire_buf *out);
pgbin_status pgbin_timestamptz_decode(const uint8_t *p, size_t n, wire_buf *out);

/* ---- interval ----
 *
 * Accepted text: PostgreSQL's postgres style ('1 year 2 mons 3 days
 * 04:05:06.5', '-1 days +02:00:00', '@ 1 day 2 hours ago', units from
 * microseconds to millennia in their usual spellings, fractional amounts
 * cascading as in PostgreSQL, a bare number before a time meaning days and
 * a lone bare number seconds, 'Y-M' years and months) and ISO 8601 with
 * designators ('P1Y2M3DT4H5M6S', 'P1W', 'PT0.5S').  Output is the postgres
 * style ('1 year 2 mons 3 days 04:05:06.5', '-00:00:01', '00:00:00').
 * Binary: int64 microseconds, int32 days, int32 months. */
pgbin_status pgbin_interval_encode(const char *text, size_t n, wire_buf *out);
pgbin_status pgbin_interval_decode(const uint8_t *p, size_t n, wire_buf *out);

#endif
