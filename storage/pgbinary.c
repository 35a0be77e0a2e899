/*
 * pgbinary.c: PostgreSQL's binary wire format for numeric, uuid and the
 * date/time types, to and from PostgreSQL's text forms.
 *
 * The SQLite engine keeps these values as text.  A binary DataRow field is
 * made by parsing the value's text and packing it as PostgreSQL's *_send
 * does; a binary Bind parameter is unpacked (as *_recv, with its checks) and
 * printed as PostgreSQL's *_out would print it.  The formats (PostgreSQL 15):
 *
 *   numeric      int16 ndigits, int16 weight, uint16 sign, uint16 dscale,
 *                ndigits base-10000 digits; value = sum digit[i] *
 *                10000^(weight - i), printed with dscale fraction digits
 *   uuid         16 bytes
 *   date         int32 days since 2000-01-01 (INT32_MIN/MAX: -/+infinity)
 *   time         int64 microseconds since midnight
 *   timetz       int64 microseconds, int32 offset in seconds west of UTC
 *   timestamp[tz] int64 microseconds since 2000-01-01 00:00:00 (UTC for tz;
 *                INT64_MIN/MAX: -/+infinity)
 *   interval     int64 microseconds, int32 days, int32 months
 *
 * Dates are proleptic Gregorian with astronomical years inside (year 0 is
 * 1 BC); PostgreSQL's range starts at Julian day 0, 4714-11-24 BC.
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pgbinary.h"

#define PGBIN_USECS_PER_SEC INT64_C(1000000)
#define PGBIN_USECS_PER_MINUTE INT64_C(60000000)
#define PGBIN_USECS_PER_HOUR INT64_C(3600000000)
#define PGBIN_USECS_PER_DAY INT64_C(86400000000)
#define PGBIN_EPOCH_JDATE 2451545                 /* Julian day of 2000-01-01 */
#define PGBIN_DATE_END_JULIAN 2147483494          /* Julian day of 5874898-01-01, excluded */
#define PGBIN_UNIX_EPOCH_DAYS (-10957)            /* 1970-01-01 in days since 2000-01-01 */
#define PGBIN_TS_MIN INT64_C(-211813488000000000) /* 4714-11-24 00:00:00 BC */
#define PGBIN_TS_END INT64_C(9223371331200000000) /* 294277-01-01 00:00:00, excluded */
#define PGBIN_TZ_LIMIT (16 * 3600)                /* offsets are below 16 hours */

#define PGBIN_NUMERIC_POS 0x0000
#define PGBIN_NUMERIC_NEG 0x4000
#define PGBIN_NUMERIC_NAN 0xC000
#define PGBIN_NUMERIC_PINF 0xD000
#define PGBIN_NUMERIC_NINF 0xF000
#define PGBIN_NUMERIC_INF_DSCALE 0x20 /* what numeric_send puts in infinities' dscale */
#define PGBIN_NUMERIC_DSCALE_MAX 0x3FFF
#define PGBIN_NUMERIC_INT_DIGITS_MAX 131072 /* 4 * (NUMERIC_WEIGHT_MAX + 1) */
#define PGBIN_NUMERIC_NDIGITS_MAX 32767     /* ndigits is sent as an int16 */
#define PGBIN_NUMERIC_EXP_LIMIT (INT_MAX / 2)

const char *pgbin_status_str(pgbin_status s)
{
    switch (s) {
    case PGBIN_OK:
        return "ok";
    case PGBIN_SYNTAX:
        return "syntax";
    case PGBIN_RANGE:
        return "range";
    case PGBIN_BINARY:
        return "binary";
    case PGBIN_NOMEM:
        return "nomem";
    }
    return "unknown";
}

bool pgbin_supports(uint32_t oid)
{
    switch (oid) {
    case WIRE_OID_NUMERIC:
    case WIRE_OID_UUID:
    case WIRE_OID_DATE:
    case WIRE_OID_TIME:
    case WIRE_OID_TIMETZ:
    case WIRE_OID_TIMESTAMP:
    case WIRE_OID_TIMESTAMPTZ:
    case WIRE_OID_INTERVAL:
        return true;
    }
    return false;
}


const char *pgbin_sqlstate(uint32_t oid, pgbin_status s)
{
    bool datetime = oid != WIRE_OID_NUMERIC && oid != WIRE_OID_UUID;
    switch (s) {
    case PGBIN_OK:
        return WIRE_SQLSTATE_SUCCESSFUL;
    case PGBIN_SYNTAX:
        return datetime ? "22007" : WIRE_SQLSTATE_INVALID_TEXT_REPRESENTATION;
    case PGBIN_RANGE:
        return datetime ? "22008" : WIRE_SQLSTATE_NUMERIC_VALUE_OUT_OF_RANGE;
    case PGBIN_BINARY:
        return WIRE_SQLSTATE_INVALID_BINARY_REPRESENTATION;
    case PGBIN_NOMEM:
        return WIRE_SQLSTATE_OUT_OF_MEMORY;
    }
    return WIRE_SQLSTATE_INTERNAL_ERROR;
}

void pgbin_message(uint32_t oid, pgbin_status s, const char *text, size_t n, char *buf, size_t len)
{
    if (len == 0)
        return;
    int q = (int)(n > 100 ? 100 : n);
    const char *name = wire_type_name(oid);
    switch (s) {
    case PGBIN_OK:
        snprintf(buf, len, "ok");
        return;
    case PGBIN_SYNTAX:
        if (text)
            snprintf(buf, len, "invalid input syntax for type %s: \"%.*s\"", name, q, text);
        else
            snprintf(buf, len, "invalid input syntax for type %s", name);
        return;
    case PGBIN_RANGE:
        if (oid == WIRE_OID_NUMERIC) {
            snprintf(buf, len, "value overflows numeric format");
            return;
        }
        if (oid == WIRE_OID_DATE)
            name = "date";
        else if (oid == WIRE_OID_TIMESTAMP || oid == WIRE_OID_TIMESTAMPTZ)
            name = "timestamp";
        else if (oid == WIRE_OID_INTERVAL)
            name = "interval";
        else
            name = "time";
        if (text)
            snprintf(buf, len, "%s out of range: \"%.*s\"", name, q, text);
        else
            snprintf(buf, len, "%s out of range", name);
        return;
    case PGBIN_BINARY:
        snprintf(buf, len, "invalid external \"%s\" value",
                 oid == WIRE_OID_NUMERIC ? "numeric" : name);
        return;
    case PGBIN_NOMEM:
        snprintf(buf, len, "out of memory");
        return;
    }
    snprintf(buf, len, "unknown error");
}

/* ---- small helpers ---- */

static bool pgbin_isspace(char c)
{
    return c == ' ' || (c >= '\t' && c <= '\r');
}

static bool pgbin_isdigit(char c)
{
    return c >= '0' && c <= '9';
}

static bool pgbin_isalpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char pgbin_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Do the n bytes at p equal the lower-case word w, ignoring case? */
static bool pgbin_word_eq(const char *p, size_t n, const char *w)
{
    size_t wn = strlen(w);
    if (n != wn)
        return false;
    for (size_t i = 0; i < n; i++)
        if (pgbin_lower(p[i]) != w[i])
            return false;
    return true;
}

static void pgbin_trim(const char **p, const char **end)
{
    while (*p < *end && pgbin_isspace(**p))
        (*p)++;
    while (*end > *p && pgbin_isspace((*end)[-1]))
        (*end)--;
}

static void pgbin_put_be(wire_buf *b, uint64_t v, int n)
{
    uint8_t bytes[8];
    for (int i = 0; i < n; i++)
        bytes[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    wire_buf_append(b, bytes, (size_t)n);
}

static uint64_t pgbin_get_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

static void pgbin_puts(wire_buf *b, const char *s)
{
    wire_buf_append(b, s, strlen(s));
}

/* Ends a conversion that appended to `out` from length `start`: a failure
 * takes its partial output back, an out-of-memory buffer is reported. */
static pgbin_status pgbin_finish(wire_buf *out, size_t start, pgbin_status st)
{
    if (st == PGBIN_OK && out->oom)
        st = PGBIN_NOMEM;
    if (st != PGBIN_OK && !out->oom)
        out->len = start;
    return st;
}

static int64_t pgbin_floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---- numeric ---- */

typedef enum pgbin_num_kind {
    PGBIN_NUM_FINITE = 0,
    PGBIN_NUM_NAN,
    PGBIN_NUM_PINF,
    PGBIN_NUM_NINF,
} pgbin_num_kind;

/* A parsed numeric: a view of the input's mantissa digits (those before the
 * point, then those after it, as one string indexed 0..ndigits-1) and where
 * the decimal point falls in that string once the exponent is applied. */
typedef struct pgbin_num {
    pgbin_num_kind kind;
    bool neg;
    const char *ip; /* digits before the point */
    int64_t in;
    const char *fp; /* digits after it */
    int64_t fn;
    int64_t ndigits; /* in + fn */
    int64_t point;   /* digits before the decimal point: in + exponent */
    int64_t first;   /* index of the first non-zero digit; ndigits when zero */
    int64_t last;    /* index of the last non-zero digit */
    int64_t dscale;  /* fraction digits printed */
} pgbin_num;

/* Mantissa digit k as a number; 0 outside the mantissa. */
static int pgbin_num_digit(const pgbin_num *v, int64_t k)
{
    if (k < 0 || k >= v->ndigits)
        return 0;
    return (k < v->in ? v->ip[k] : v->fp[k - v->in]) - '0';
}

static pgbin_status pgbin_num_parse(const char *s, size_t n, pgbin_num *v)
{
    const char *p = s, *end = s + n;
    memset(v, 0, sizeof(*v));
    pgbin_trim(&p, &end);
    static const struct {
        const char *word;
        pgbin_num_kind kind;
    } specials[] = {
        {"nan", PGBIN_NUM_NAN},        {"infinity", PGBIN_NUM_PINF}, {"+infinity", PGBIN_NUM_PINF},
        {"-infinity", PGBIN_NUM_NINF}, {"inf", PGBIN_NUM_PINF},      {"+inf", PGBIN_NUM_PINF},
        {"-inf", PGBIN_NUM_NINF},
    };
    for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
        if (pgbin_word_eq(p, (size_t)(end - p), specials[i].word)) {
            v->kind = specials[i].kind;
            return PGBIN_OK;
        }
    }
    if (p < end && (*p == '+' || *p == '-'))
        v->neg = *p++ == '-';
    v->ip = p;
    while (p < end && pgbin_isdigit(*p))
        p++;
    v->in = p - v->ip;
    v->fp = p;
    if (p < end && *p == '.') {
        v->fp = ++p;
        while (p < end && pgbin_isdigit(*p))
            p++;
        v->fn = p - v->fp;
    }
    if (v->in + v->fn == 0)
        return PGBIN_SYNTAX;
    int64_t exponent = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        bool eneg = false;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        if (p >= end || !pgbin_isdigit(*p))
            return PGBIN_SYNTAX;
        for (; p < end && pgbin_isdigit(*p); p++)
            if (exponent < PGBIN_NUMERIC_EXP_LIMIT)
                exponent = exponent * 10 + (*p - '0');
        if (exponent >= PGBIN_NUMERIC_EXP_LIMIT)
            return PGBIN_RANGE;
        if (eneg)
            exponent = -exponent;
    }
    if (p != end)
        return PGBIN_SYNTAX;

    v->ndigits = v->in + v->fn;
    v->point = v->in + exponent;
    v->dscale = v->fn - exponent > 0 ? v->fn - exponent : 0;
    v->first = v->ndigits;
    for (int64_t k = 0; k < v->ndigits; k++) {
        if (pgbin_num_digit(v, k) != 0) {
            if (v->first == v->ndigits)
                v->first = k;
            v->last = k;
        }
    }
    if (v->first == v->ndigits)
        v->neg = false; /* zero has no sign */
    if (v->dscale > PGBIN_NUMERIC_DSCALE_MAX)
        return PGBIN_RANGE;
    if (v->first < v->ndigits && v->point - v->first > PGBIN_NUMERIC_INT_DIGITS_MAX)
        return PGBIN_RANGE;
    return PGBIN_OK;
}

static void pgbin_num_put_text(const pgbin_num *v, wire_buf *out)
{
    switch (v->kind) {
    case PGBIN_NUM_NAN:
        pgbin_puts(out, "NaN");
        return;
    case PGBIN_NUM_PINF:
        pgbin_puts(out, "Infinity");
        return;
    case PGBIN_NUM_NINF:
        pgbin_puts(out, "-Infinity");
        return;
    case PGBIN_NUM_FINITE:
        break;
    }
    if (v->neg)
        wire_buf_put_u8(out, '-');
    if (v->first == v->ndigits || v->point <= v->first) {
        wire_buf_put_u8(out, '0'); /* zero, or no digit before the point */
    } else {
        if (!wire_buf_reserve(out, (size_t)(v->point - v->first)))
            return;
        for (int64_t k = v->first; k < v->point; k++)
            out->data[out->len++] = (uint8_t)('0' + pgbin_num_digit(v, k));
    }
    if (v->dscale > 0) {
        if (!wire_buf_reserve(out, (size_t)v->dscale + 1))
            return;
        out->data[out->len++] = '.';
        for (int64_t k = v->point; k < v->point + v->dscale; k++)
            out->data[out->len++] = (uint8_t)('0' + pgbin_num_digit(v, k));
    }
}

pgbin_status pgbin_numeric_normalize(const char *text, size_t n, wire_buf *out)
{
    size_t start = out->len;
    pgbin_num v;
    pgbin_status st = pgbin_num_parse(text, n, &v);
    if (st == PGBIN_OK)
        pgbin_num_put_text(&v, out);
    return pgbin_finish(out, start, st);
}

pgbin_status pgbin_numeric_encode(const char *text, size_t n, wire_buf *out)
{
    size_t start = out->len;
    pgbin_num v;
    pgbin_status st = pgbin_num_parse(text, n, &v);
    if (st != PGBIN_OK)
        return pgbin_finish(out, start, st);
    if (v.kind != PGBIN_NUM_FINITE) {
        uint16_t sign = v.kind == PGBIN_NUM_NAN    ? PGBIN_NUMERIC_NAN
                        : v.kind == PGBIN_NUM_PINF ? PGBIN_NUMERIC_PINF
                                                   : PGBIN_NUMERIC_NINF;
        wire_buf_put_u16(out, 0);
        wire_buf_put_u16(out, 0);
        wire_buf_put_u16(out, sign);
        wire_buf_put_u16(out, v.kind == PGBIN_NUM_NAN ? 0 : PGBIN_NUMERIC_INF_DSCALE);
        return pgbin_finish(out, start, PGBIN_OK);
    }
    if (v.first == v.ndigits) { /* zero */
        wire_buf_put_u16(out, 0);
        wire_buf_put_u16(out, 0);
        wire_buf_put_u16(out, PGBIN_NUMERIC_POS);
        wire_buf_put_u16(out, (uint16_t)v.dscale);
        return pgbin_finish(out, start, PGBIN_OK);
    }
    /* Mantissa digit k stands for 10^(point - 1 - k); base-10000 digit g
     * holds the powers 4g .. 4g+3. */
    int64_t gmax = pgbin_floor_div(v.point - 1 - v.first, 4);
    int64_t gmin = pgbin_floor_div(v.point - 1 - v.last, 4);
    int64_t nd = gmax - gmin + 1;
    if (nd > PGBIN_NUMERIC_NDIGITS_MAX)
        return pgbin_finish(out, start, PGBIN_RANGE);
    wire_buf_put_u16(out, (uint16_t)nd);
    wire_buf_put_u16(out, (uint16_t)(int16_t)gmax);
    wire_buf_put_u16(out, v.neg ? PGBIN_NUMERIC_NEG : PGBIN_NUMERIC_POS);
    wire_buf_put_u16(out, (uint16_t)v.dscale);
    for (int64_t g = gmax; g >= gmin; g--) {
        unsigned d = 0;
        for (int64_t e = 4 * g + 3; e >= 4 * g; e--)
            d = d * 10 + (unsigned)pgbin_num_digit(&v, v.point - 1 - e);
        wire_buf_put_u16(out, (uint16_t)d);
    }
    return pgbin_finish(out, start, PGBIN_OK);
}

/* Base-10000 digit i of a received numeric; 0 outside 0..nd-1. */
static unsigned pgbin_numeric_group(const uint8_t *digits, int64_t nd, int64_t i)
{
    return i >= 0 && i < nd ? (unsigned)pgbin_get_be(digits + 2 * i, 2) : 0;
}

pgbin_status pgbin_numeric_decode(const uint8_t *p, size_t n, wire_buf *out)
{
    size_t start = out->len;
    if (n < 8)
        return pgbin_finish(out, start, PGBIN_BINARY);
    int64_t nd = (int64_t)pgbin_get_be(p, 2);
    int64_t weight = (int16_t)pgbin_get_be(p + 2, 2);
    unsigned sign = (unsigned)pgbin_get_be(p + 4, 2);
    int64_t dscale = (int64_t)pgbin_get_be(p + 6, 2);
    const uint8_t *digits = p + 8;
    if (n != 8 + 2 * (size_t)nd)
        return pgbin_finish(out, start, PGBIN_BINARY);
    if (sign != PGBIN_NUMERIC_POS && sign != PGBIN_NUMERIC_NEG && sign != PGBIN_NUMERIC_NAN &&
        sign != PGBIN_NUMERIC_PINF && sign != PGBIN_NUMERIC_NINF)
        return pgbin_finish(out, start, PGBIN_BINARY);
    if (dscale > PGBIN_NUMERIC_DSCALE_MAX)
        return pgbin_finish(out, start, PGBIN_BINARY);
    for (int64_t i = 0; i < nd; i++)
        if (pgbin_numeric_group(digits, nd, i) > 9999)
            return pgbin_finish(out, start, PGBIN_BINARY);
    if (sign == PGBIN_NUMERIC_NAN) {
        pgbin_puts(out, "NaN");
        return pgbin_finish(out, start, PGBIN_OK);
    }
    if (sign == PGBIN_NUMERIC_PINF || sign == PGBIN_NUMERIC_NINF) {
        pgbin_puts(out, sign == PGBIN_NUMERIC_PINF ? "Infinity" : "-Infinity");
        return pgbin_finish(out, start, PGBIN_OK);
    }

    /* Digits below the scale are dropped; the value is then zero (and
     * printed unsigned) unless a digit that is printed is not. */
    static const unsigned pow10[] = {1, 10, 100, 1000, 10000};
    bool nonzero = false;
    for (int64_t i = 0; i < nd && !nonzero; i++) {
        unsigned d = pgbin_numeric_group(digits, nd, i);
        int64_t gw = weight - i;
        if (d == 0)
            continue;
        if (gw >= 0) {
            nonzero = true;
            continue;
        }
        int64_t first_pos = -4 * gw - 3; /* the group's first fraction digit: 10^-first_pos */
        int64_t kept = dscale - first_pos + 1;
        if (kept >= 4 || (kept > 0 && d / pow10[4 - kept] != 0))
            nonzero = true;
    }
    if (sign == PGBIN_NUMERIC_NEG && nonzero)
        wire_buf_put_u8(out, '-');
    if (weight < 0) {
        wire_buf_put_u8(out, '0');
    } else {
        bool leading = true;
        for (int64_t i = 0; i <= weight; i++) {
            unsigned d = pgbin_numeric_group(digits, nd, i);
            for (int k = 3; k >= 0; k--) {
                unsigned dig = d / pow10[k] % 10;
                if (leading && dig == 0 && !(i == weight && k == 0))
                    continue;
                leading = false;
                wire_buf_put_u8(out, (uint8_t)('0' + dig));
            }
        }
    }
    if (dscale > 0) {
        wire_buf_put_u8(out, '.');
        for (int64_t j = 1; j <= dscale; j++) {
            int64_t gw = -1 - (j - 1) / 4; /* the group holding 10^-j */
            int pos = (int)((j - 1) % 4);  /* 0: its most significant digit */
            unsigned d = pgbin_numeric_group(digits, nd, weight - gw);
            wire_buf_put_u8(out, (uint8_t)('0' + d / pow10[3 - pos] % 10));
        }
    }
    return pgbin_finish(out, start, PGBIN_OK);
}

/* ---- uuid ---- */

static int pgbin_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = pgbin_lower(c);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

pgbin_status pgbin_uuid_encode(const char *text, size_t n, wire_buf *out)
{
    size_t start = out->len;
    const char *p = text, *end = text + n;
    uint8_t bytes[16];
    bool braces = p < end && *p == '{';
    if (braces)
        p++;
    for (int i = 0; i < 16; i++) {
        if (end - p < 2)
            return pgbin_finish(out, start, PGBIN_SYNTAX);
        int hi = pgbin_hexval(p[0]), lo = pgbin_hexval(p[1]);
        if (hi < 0 || lo < 0)
            return pgbin_finish(out, start, PGBIN_SYNTAX);
        bytes[i] = (uint8_t)(hi << 4 | lo);
        p += 2;
        if (p < end && *p == '-' && i % 2 == 1 && i < 15)
            p++;
    }
    if (braces) {
        if (p >= end || *p != '}')
            return pgbin_finish(out, start, PGBIN_SYNTAX);
        p++;
    }
    if (p != end)
        return pgbin_finish(out, start, PGBIN_SYNTAX);
    wire_buf_append(out, bytes, 16);
    return pgbin_finish(out, start, PGBIN_OK);
}

pgbin_status pgbin_uuid_decode(const uint8_t *p, size_t n, wire_buf *out)
{
    size_t start = out->len;
    static const char hex[] = "0123456789abcdef";
    if (n != 16)
        return pgbin_finish(out, start, PGBIN_BINARY);
    char s[36];
    size_t k = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            s[k++] = '-';
        s[k++] = hex[p[i] >> 4];
        s[k++] = hex[p[i] & 15];
    }
    wire_buf_append(out, s, k);
    return pgbin_finish(out, start, PGBIN_OK);
}

/* ---- calendar ---- */

/* Days since 2000-01-01 of a proleptic Gregorian date (astronomical year),
 * counted in 400-year eras of 146097 days from a March-based year so that
 * the leap day falls last. */
static int64_t pgbin_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = pgbin_floor_div(y, 400);
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 730425; /* 730425: 0000-03-01 to 2000-01-01 */
}

/* The inverse of pgbin_days_from_civil. */
static void pgbin_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t z = days + 730425;
    int64_t era = pgbin_floor_div(z, 146097);
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool pgbin_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int pgbin_month_days(int64_t y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && pgbin_leap(y) ? 29 : days[m - 1];
}

/* Is a day count a date PostgreSQL can hold (Julian day 0 .. 5874897-12-31)? */
static bool pgbin_days_valid(int64_t days)
{
    int64_t jd = days + PGBIN_EPOCH_JDATE;
    return jd >= 0 && jd < PGBIN_DATE_END_JULIAN;
}

/* ---- date/time text ---- */

typedef enum pgbin_dt_special {
    PGBIN_DT_NONE = 0,
    PGBIN_DT_PINF,
    PGBIN_DT_NINF,
    PGBIN_DT_EPOCH,
    PGBIN_DT_ALLBALLS,
} pgbin_dt_special;

typedef struct pgbin_dt {
    pgbin_dt_special special;
    bool has_date, has_time, has_zone;
    int64_t days;    /* has_date: days since 2000-01-01 */
    int64_t time_us; /* has_time: microseconds since midnight, up to 24:00:00 (+ a leap second) */
    int zone_east;   /* has_zone: seconds east of UTC */
} pgbin_dt;

/* Reads up to max digits (0: no limit) as a number; returns how many. */
static int pgbin_read_digits(const char **p, const char *end, int max, int64_t *v)
{
    int k = 0;
    *v = 0;
    while (*p < end && pgbin_isdigit(**p) && (max == 0 || k < max)) {
        if (*v < INT64_MAX / 100)
            *v = *v * 10 + (**p - '0');
        (*p)++;
        k++;
    }
    return k;
}

/* A fraction at *p ('.' and digits) rounded to microseconds as PostgreSQL
 * does (rint of the double times 10^6). */
static int64_t pgbin_read_fraction(const char **p, const char *end)
{
    char buf[32] = "0.";
    size_t k = 2;
    (*p)++; /* the point */
    while (*p < end && pgbin_isdigit(**p)) {
        if (k < sizeof(buf) - 1)
            buf[k++] = **p;
        (*p)++;
    }
    buf[k] = '\0';
    return (int64_t)rint(strtod(buf, NULL) * 1e6);
}

/* H[H]:MM[:SS[.f]] or HHMM[SS][.f]; checks the fields as PostgreSQL does. */
static pgbin_status pgbin_read_time(const char **p, const char *end, int64_t *time_us)
{
    int64_t h, m = 0, s = 0, fsec = 0;
    const char *q = *p;
    int nh = pgbin_read_digits(&q, end, 0, &h);
    if (nh == 0)
        return PGBIN_SYNTAX;
    if (q < end && *q == ':') {
        if (nh > 2)
            return PGBIN_SYNTAX;
        q++;
        if (pgbin_read_digits(&q, end, 2, &m) == 0)
            return PGBIN_SYNTAX;
        if (q < end && *q == ':') {
            q++;
            if (pgbin_read_digits(&q, end, 2, &s) == 0)
                return PGBIN_SYNTAX;
            if (q < end && *q == '.')
                fsec = pgbin_read_fraction(&q, end);
        }
    } else if (nh == 4 || nh == 6) {
        /* HHMM or HHMMSS, as in ISO 8601's basic format */
        int64_t all = h;
        h = nh == 4 ? all / 100 : all / 10000;
        m = nh == 4 ? all % 100 : all / 100 % 100;
        s = nh == 4 ? 0 : all % 100;
        if (q < end && *q == '.')
            fsec = pgbin_read_fraction(&q, end);
    } else {
        return PGBIN_SYNTAX;
    }
    if (h > 24 || m > 59 || s > 60 || (h == 24 && (m > 0 || s > 0 || fsec > 0)))
        return PGBIN_RANGE;
    *time_us = ((h * 60 + m) * 60 + s) * PGBIN_USECS_PER_SEC + fsec;
    *p = q;
    return PGBIN_OK;
}

/* [+-]HH[[:]MM[[:]SS]] after the sign at *p. */
static pgbin_status pgbin_read_zone(const char **p, const char *end, int *east)
{
    const char *q = *p;
    int sign = *q++ == '-' ? -1 : 1;
    int64_t h, m = 0, s = 0;
    int nh = pgbin_read_digits(&q, end, 0, &h);
    if (nh == 0)
        return PGBIN_SYNTAX;
    if (q < end && *q == ':') {
        if (nh > 2)
            return PGBIN_SYNTAX;
        q++;
        if (pgbin_read_digits(&q, end, 2, &m) != 2)
            return PGBIN_SYNTAX;
        if (q < end && *q == ':') {
            q++;
            if (pgbin_read_digits(&q, end, 2, &s) != 2)
                return PGBIN_SYNTAX;
        }
    } else if (nh > 2) {
        int64_t all = h;
        if (nh <= 4) {
            h = all / 100;
            m = all % 100;
        } else if (nh <= 6) {
            h = all / 10000;
            m = all / 100 % 100;
            s = all % 100;
        } else {
            return PGBIN_SYNTAX;
        }
    }
    if (h > 15 || m > 59 || s > 59)
        return PGBIN_RANGE;
    *east = sign * (int)(h * 3600 + m * 60 + s);
    *p = q;
    return PGBIN_OK;
}

/* Is *p at the end of a token (end of input, white space, or a zone sign)? */
static bool pgbin_token_end(const char *p, const char *end)
{
    return p >= end || pgbin_isspace(*p) || *p == '+' || *p == '-' || *p == 'Z' || *p == 'z';
}

/* Parses a date/time text: [date] [' '|'T'] [time] then zone and era words.
 * Fields are checked; the type's function decides which parts it needs. */
static pgbin_status pgbin_dt_parse(const char *s, size_t n, pgbin_dt *dt)
{
    const char *p = s, *end = s + n;
    memset(dt, 0, sizeof(*dt));
    pgbin_trim(&p, &end);
    static const struct {
        const char *word;
        pgbin_dt_special special;
    } specials[] = {
        {"infinity", PGBIN_DT_PINF},
        {"-infinity", PGBIN_DT_NINF},
        {"epoch", PGBIN_DT_EPOCH},
        {"allballs", PGBIN_DT_ALLBALLS},
    };
    for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
        if (pgbin_word_eq(p, (size_t)(end - p), specials[i].word)) {
            dt->special = specials[i].special;
            return PGBIN_OK;
        }
    }

    int64_t year = 0, month = 0, day = 0;
    bool want_time = false;
    if (p < end && pgbin_isdigit(*p)) {
        const char *q = p;
        int64_t v;
        int nd = pgbin_read_digits(&q, end, 0, &v);
        if (q < end && *q == '-') {
            /* Y...Y-M[M]-D[D] */
            if (nd < 3)
                return PGBIN_RANGE; /* PostgreSQL reads it as month-day-year and fails */
            year = v;
            q++;
            if (pgbin_read_digits(&q, end, 2, &month) == 0 || q >= end || *q != '-')
                return PGBIN_SYNTAX;
            q++;
            if (pgbin_read_digits(&q, end, 2, &day) == 0)
                return PGBIN_SYNTAX;
            dt->has_date = true;
        } else if (nd == 8 && (q >= end || pgbin_isspace(*q) || *q == 'T' || *q == 't')) {
            year = v / 10000;
            month = v / 100 % 100;
            day = v % 100;
            dt->has_date = true;
        } else {
            want_time = true; /* a time alone */
        }
        if (dt->has_date) {
            p = q;
            if (p < end && (*p == 'T' || *p == 't') && p + 1 < end && pgbin_isdigit(p[1])) {
                p++;
                want_time = true;
            } else {
                const char *r = p;
                while (r < end && pgbin_isspace(*r))
                    r++;
                if (r > p && r < end && pgbin_isdigit(*r)) {
                    p = r;
                    want_time = true;
                }
            }
        }
    } else if (p + 1 < end && (*p == 'T' || *p == 't') && pgbin_isdigit(p[1])) {
        p++;
        want_time = true;
    }
    if (want_time) {
        pgbin_status st = pgbin_read_time(&p, end, &dt->time_us);
        if (st != PGBIN_OK)
            return st;
        dt->has_time = true;
    }
    if (!dt->has_date && !dt->has_time)
        return PGBIN_SYNTAX;

    bool bc = false;
    for (;;) {
        while (p < end && pgbin_isspace(*p))
            p++;
        if (p >= end)
            break;
        if ((*p == '+' || *p == '-') && p + 1 < end && pgbin_isdigit(p[1])) {
            if (dt->has_zone)
                return PGBIN_SYNTAX;
            pgbin_status st = pgbin_read_zone(&p, end, &dt->zone_east);
            if (st != PGBIN_OK)
                return st;
            dt->has_zone = true;
        } else if (pgbin_isalpha(*p)) {
            const char *w = p;
            while (p < end && pgbin_isalpha(*p))
                p++;
            size_t wn = (size_t)(p - w);
            if (pgbin_word_eq(w, wn, "z") || pgbin_word_eq(w, wn, "utc") ||
                pgbin_word_eq(w, wn, "gmt")) {
                if (dt->has_zone)
                    return PGBIN_SYNTAX;
                dt->has_zone = true;
                dt->zone_east = 0;
            } else if (dt->has_date && pgbin_word_eq(w, wn, "bc")) {
                bc = true;
            } else if (!(dt->has_date && pgbin_word_eq(w, wn, "ad"))) {
                return PGBIN_SYNTAX;
            }
        } else {
            return PGBIN_SYNTAX;
        }
        if (!pgbin_token_end(p, end))
            return PGBIN_SYNTAX;
    }

    if (dt->has_date) {
        if (year < 1 || month < 1 || month > 12)
            return PGBIN_RANGE;
        if (year > 6000000)
            return PGBIN_RANGE; /* far beyond any date PostgreSQL holds */
        if (bc)
            year = 1 - year;
        if (day < 1 || day > pgbin_month_days(year, (int)month))
            return PGBIN_RANGE;
        dt->days = pgbin_days_from_civil(year, (int)month, (int)day);
    }
    return PGBIN_OK;
}

/* ---- date/time output ---- */

/* 'YYYY-MM-DD' (years before 1 as PostgreSQL prints them, the caller
 * appending ' BC' where PostgreSQL does); returns whether the date is BC. */
static bool pgbin_put_date(wire_buf *out, int64_t days)
{
    int64_t y;
    int m, d;
    char buf[48];
    pgbin_civil_from_days(days, &y, &m, &d);
    bool bc = y <= 0;
    snprintf(buf, sizeof(buf), "%04lld-%02d-%02d", (long long)(bc ? 1 - y : y), m, d);
    pgbin_puts(out, buf);
    return bc;
}

/* The seconds' fraction: '.' and six digits without their trailing zeros;
 * nothing for 0.  fsec is 0 .. 999999 (its absolute value is printed). */
static void pgbin_put_fraction(wire_buf *out, int64_t fsec)
{
    if (fsec == 0)
        return;
    char buf[32];
    snprintf(buf, sizeof(buf), ".%06lld", (long long)(fsec < 0 ? -fsec : fsec));
    size_t k = strlen(buf);
    while (buf[k - 1] == '0')
        k--;
    wire_buf_append(out, buf, k);
}

/* 'HH:MM:SS[.ffffff]' of 0 .. 24:00:00. */
static void pgbin_put_time(wire_buf *out, int64_t us)
{
    char buf[64];
    int64_t h = us / PGBIN_USECS_PER_HOUR;
    us -= h * PGBIN_USECS_PER_HOUR;
    int64_t m = us / PGBIN_USECS_PER_MINUTE;
    us -= m * PGBIN_USECS_PER_MINUTE;
    int64_t s = us / PGBIN_USECS_PER_SEC;
    us -= s * PGBIN_USECS_PER_SEC;
    snprintf(buf, sizeof(buf), "%02lld:%02lld:%02lld", (long long)h, (long long)m, (long long)s);
    pgbin_puts(out, buf);
    pgbin_put_fraction(out, us);
}

/* '+HH[:MM[:SS]]' of an offset in seconds east of UTC. */
static void pgbin_put_zone(wire_buf *out, int east)
{
    char buf[24];
    int a = east < 0 ? -east : east;
    int h = a / 3600, m = a / 60 % 60, s = a % 60;
    char sign = east >= 0 ? '+' : '-';
    if (s)
        snprintf(buf, sizeof(buf), "%c%02d:%02d:%02d", sign, h, m, s);
    else if (m)
        snprintf(buf, sizeof(buf), "%c%02d:%02d", sign, h, m);
    else
        snprintf(buf, sizeof(buf), "%c%02d", sign, h);
    pgbin_puts(out, buf);
}

/* ---- date ---- */

pgbin_status pgbin_date_encode(const char *text, size_t n, wire_buf *out)
{
    size_t start = out->len;
    pgbin_dt dt;
    pgbin_status st = pgbin_dt_parse(text, n, &dt);
    if (st != PGBIN_OK)
        return pgbin_finish(out, start, st);
    int64_t days;
    switch (dt.special) {
    case PGBIN_DT_PINF:
        days = INT32_MAX;
        break;
    case PGBIN_DT_NINF:
        days = INT32_MIN;
        break;
    case PGBIN_DT_EPOCH:
        days = PGBIN_UNIX_EPOCH_DAYS;
        break;
    case PGBIN_DT_ALLBALLS:
        return pgbin_finish(out, start, PGBIN_SYNTAX);
    case PGBIN_DT_NONE:
    default:
        if (!dt.has_date)
            return pgbin_finish(out, start, PGBIN_SYNTAX);
        if (!pgbin_days_valid(dt.days))
            return pgbin_finish(out, start, PGBIN_RANGE);
        days = dt.days;
        break;
    }
    pgbin_put_be(out, (uint64_t)days, 4);
    return pgbin_finish(out, start, PGBIN_OK);
}

pgbin_status pgbin_date_decode(const uint8_t *p, size_t n, wire_buf *out)
{
    size_t start = out->len;
    if (n != 4)
        return pgbin_finish(out, start, PGBIN_BINARY);
    int32_t days = (int32_t)pgbin_get_be(p, 4);
    if (days == INT32_MAX) {
        pgbin_puts(out, "infinity");
    } else if (days == INT32_MIN) {
        pgbin_puts(out, "-infinity");
    } else {
        if (!pgbin_days_valid(days))
            return pgbin_finish(out, start, PGBIN_RANGE);
        if (pgbin_put_date(out, days))
            pgbin_puts(out, " BC");
    }
    return pgbin_finish(out, start, PGBIN_OK);
}

/* ---- time, timetz ---- */

/* The time of day of a time or timetz text, and its zone (UTC when none). */
static pgbin_status pgbin_time_parse(const char *text, size_t n, int64_t *time_us, int *east)
{
    pgbin_dt dt;
    pgbin_status st = pgbin_dt_parse(text, n, &dt);
    if (st != PGBIN_OK)
        return st;
    *east = 0;
    if (dt.special == PGBIN_DT_ALLBALLS) {
        *time_us = 0;
        return PGBIN_OK;
    }
    if (dt.special != PGBIN_DT_NONE || !dt.has_time)
        return PGBIN_SYNTAX;
    if (dt.time_us > PGBIN_USECS_PER_DAY)
        return PGBIN_RANGE;
    *time_us = dt.time_us;
    if (dt.has_zone)
        *east = dt.zone_east;
    return PGBIN_OK;
}

pgbin_status pgbin_time_encode(const char *text, size_t n, wire_buf *out)
{
    size_t start = out->len;
    int64_t t;
    int east;
    pgbin_status st = pgbin_time_parse(text, n, &t, &east);
    if (st == PGBIN_OK)
        pgbin_put_be(out, (uint64_t)t, 8);
    return pgbin_finish(out, start, st);
}

pgbin_status pgbin_time_decode(const uint8_t *p, size_t n, wire_buf *out)
{
    size_t start = out->len;
    if (n != 8)
        return pgbin_finish(out, start, PGBIN_BINARY);
    int64_t t = (int64_t)pgbin_get_be(p, 8);
    if (t < 0 || t > PGBIN_USECS_PER_DAY)
        return pgbin_finish(out, start, PGBIN_RANGE);
    pgbin_put_time(out, t);
    return pgbin_finish(out, start, PGBIN_OK);
}

pgbin_status pgbin_timetz_encode(const char *text, size_t n, wire_buf *out)
{
    size_t start = out->len;
    int64_t t;
    int east;
    pgbin_status st = pgbin_time_parse(text, n, &t, &east);
    if (st == PGBIN_OK) {
        pgbin_put_be(out, (uint64_t)t, 8);
        pgbin_put_be(out, (uint32_t)(int32_t)-east, 4);
    }
    return pgbin_finish(out, start, st);
}

pgbin_status pgbin_timetz_decode(const uint8_t *p, size_t n, wire_buf *out)
{
    size_t start = out->len;
    if (n != 12)
        return pgbin_finish(out, start, PGBIN_BINARY);
    int64_t t = (int64_t)pgbin_get_be(p, 8);
    int32_t west = (int32_t)pgbin_get_be(p + 8, 4);
    if (t < 0 || t > PGBIN_USECS_PER_DAY || west <= -PGBIN_TZ_LIMIT || west >= PGBIN_TZ_LIMIT)
        return pgbin_finish(out, start, PGBIN_RANGE);
    pgbin_put_time(out, t);
    pgbin_put_zone(out, -west);
    return pgbin_finish(out, start, PGBIN_OK);
}

/* ---- timestamp, timestamptz ---- */

static pgbin_status pgbin_timestamp_parse(const char *text, size_t n, bool tz, int64_t *ts)
{
    pgbin_dt dt;
    pgbin_status st = pgbin_dt_parse(text, n, &dt);
    if (st != PGBIN_OK)
        return st;
    switch (dt.special) {
    case PGBIN_DT_PINF:
        *ts = INT64_MAX;
        return PGBIN_OK;
    case PGBIN_DT_NINF:
        *ts = INT64_MIN;
        return PGBIN_OK;
    case PGBIN_DT_EPOCH:
        *ts = PGBIN_UNIX_EPOCH_DAYS * PGBIN_USECS_PER_DAY;
        return PGBIN_OK;
    case PGBIN_DT_ALLBALLS:
        return PGBIN_SYNTAX;
    case PGBIN_DT_NONE:
        break;
    }
    if (!dt.has_date)
        return PGBIN_SYNTAX;
    /* days are bounded by pgbin_dt_parse: no overflow below */
    if (!pgbin_days_valid(dt.days))
        return PGBIN_RANGE;
    int64_t v;
    if (__builtin_mul_overflow(dt.days, PGBIN_USECS_PER_DAY, &v) ||
        __builtin_add_overflow(v, dt.has_time ? dt.time_us : 0, &v))
        return PGBIN_RANGE;
    if (tz && dt.has_zone && __builtin_sub_overflow(v, dt.zone_east * PGBIN_USECS_PER_SEC, &v))
        return PGBIN_RANGE;
    if (v < PGBIN_TS_MIN || v >= PGBIN_TS_END)
        return PGBIN_RANGE;
    *ts = v;
    return PGBIN_OK;
}

static pgbin_status pgbin_ts_encode(const char *text, size_t n, bool tz, wire_buf *out)
{
    size_t start = out->len;
    int64_t ts;
    pgbin_status st = pgbin_timestamp_parse(text, n, tz, &ts);
    if (st == PGBIN_OK)
        pgbin_put_be(out, (uint64_t)ts, 8);
    return pgbin_finish(out, start, st);
}

static pgbin_status pgbin_ts_decode(const uint8_t *p, size_t n, bool tz, wire_buf *out)
{
    size_t start = out->len;
    if (n != 8)
        return pgbin_finish(out, start, PGBIN_BINARY);
    int64_t ts = (int64_t)pgbin_get_be(p, 8);
    if (ts == INT64_MAX) {
        pgbin_puts(out, "infinity");
        return pgbin_finish(out, start, PGBIN_OK);
    }
    if (ts == INT64_MIN) {
        pgbin_puts(out, "-infinity");
        return pgbin_finish(out, start, PGBIN_OK);
    }
    if (ts < PGBIN_TS_MIN || ts >= PGBIN_TS_END)
        return pgbin_finish(out, start, PGBIN_RANGE);
    int64_t days = pgbin_floor_div(ts, PGBIN_USECS_PER_DAY);
    bool bc = pgbin_put_date(out, days);
    wire_buf_put_u8(out, ' ');
    pgbin_put_time(out, ts - days * PGBIN_USECS_PER_DAY);
    if (tz)
        pgbin_puts(out, "+00");
    if (bc)
        pgbin_puts(out, " BC");
    return pgbin_finish(out, start, PGBIN_OK);
}

pgbin_status pgbin_timestamp_encode(const char *text, size_t n, wire_buf *out)
{
    return pgbin_ts_encode(text, n, false, out);
}

pgbin_status pgbin_timestamp_decode(const uint8_t *p, size_t n, wire_buf *out)
{
    return pgbin_ts_decode(p, n, false, out);
}

pgbin_status pgbin_timestamptz_encode(const char *text, size_t n, wire_buf *out)
{
    return pgbin_ts_encode(text, n, true, out);
}

pgbin_status pgbin_timestamptz_decode(const uint8_t *p, size_t n, wire_buf *out)
{
    return pgbin_ts_decode(p, n, true, out);
}

/* ---- interval ---- */

/* An interval being read: PostgreSQL keeps months, days and microseconds
 * apart, since their lengths vary. */
typedef struct pgbin_iv {
    int64_t months;
    int64_t days;
    int64_t usec;
} pgbin_iv;

typedef enum pgbin_iv_unit {
    PGBIN_IV_NONE = 0,
    PGBIN_IV_MICROSECOND,
    PGBIN_IV_MILLISECOND,
    PGBIN_IV_SECOND,
    PGBIN_IV_MINUTE,
    PGBIN_IV_HOUR,
    PGBIN_IV_DAY,
    PGBIN_IV_WEEK,
    PGBIN_IV_MONTH,
    PGBIN_IV_YEAR,
    PGBIN_IV_DECADE,
    PGBIN_IV_CENTURY,
    PGBIN_IV_MILLENNIUM,
    PGBIN_IV_AGO,
    PGBIN_IV_AT,
} pgbin_iv_unit;

static pgbin_iv_unit pgbin_iv_unit_of(const char *w, size_t n)
{
    static const struct {
        const char *word;
        pgbin_iv_unit unit;
    } words[] = {
        {"us", PGBIN_IV_MICROSECOND},
        {"usec", PGBIN_IV_MICROSECOND},
        {"usecs", PGBIN_IV_MICROSECOND},
        {"microsecond", PGBIN_IV_MICROSECOND},
        {"microseconds", PGBIN_IV_MICROSECOND},
        {"microsecon", PGBIN_IV_MICROSECOND},
        {"ms", PGBIN_IV_MILLISECOND},
        {"msec", PGBIN_IV_MILLISECOND},
        {"msecs", PGBIN_IV_MILLISECOND},
        {"millisecond", PGBIN_IV_MILLISECOND},
        {"milliseconds", PGBIN_IV_MILLISECOND},
        {"millisecon", PGBIN_IV_MILLISECOND},
        {"s", PGBIN_IV_SECOND},
        {"sec", PGBIN_IV_SECOND},
        {"secs", PGBIN_IV_SECOND},
        {"second", PGBIN_IV_SECOND},
        {"seconds", PGBIN_IV_SECOND},
        {"m", PGBIN_IV_MINUTE},
        {"min", PGBIN_IV_MINUTE},
        {"mins", PGBIN_IV_MINUTE},
        {"minute", PGBIN_IV_MINUTE},
        {"minutes", PGBIN_IV_MINUTE},
        {"h", PGBIN_IV_HOUR},
        {"hr", PGBIN_IV_HOUR},
        {"hrs", PGBIN_IV_HOUR},
        {"hour", PGBIN_IV_HOUR},
        {"hours", PGBIN_IV_HOUR},
        {"d", PGBIN_IV_DAY},
        {"day", PGBIN_IV_DAY},
        {"days", PGBIN_IV_DAY},
        {"w", PGBIN_IV_WEEK},
        {"week", PGBIN_IV_WEEK},
        {"weeks", PGBIN_IV_WEEK},
        {"mon", PGBIN_IV_MONTH},
        {"mons", PGBIN_IV_MONTH},
        {"month", PGBIN_IV_MONTH},
        {"months", PGBIN_IV_MONTH},
        {"y", PGBIN_IV_YEAR},
        {"yr", PGBIN_IV_YEAR},
        {"yrs", PGBIN_IV_YEAR},
        {"year", PGBIN_IV_YEAR},
        {"years", PGBIN_IV_YEAR},
        {"dec", PGBIN_IV_DECADE},
        {"decs", PGBIN_IV_DECADE},
        {"decade", PGBIN_IV_DECADE},
        {"decades", PGBIN_IV_DECADE},
        {"c", PGBIN_IV_CENTURY},
        {"cent", PGBIN_IV_CENTURY},
        {"century", PGBIN_IV_CENTURY},
        {"centuries", PGBIN_IV_CENTURY},
        {"mil", PGBIN_IV_MILLENNIUM},
        {"mils", PGBIN_IV_MILLENNIUM},
        {"millennium", PGBIN_IV_MILLENNIUM},
        {"millennia", PGBIN_IV_MILLENNIUM},
        {"ago", PGBIN_IV_AGO},
        {"@", PGBIN_IV_AT},
    };
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (pgbin_word_eq(w, n, words[i].word))
            return words[i].unit;
    return PGBIN_IV_NONE;
}

static bool pgbin_iv_add_usec(pgbin_iv *iv, int64_t v)
{
    return !__builtin_add_overflow(iv->usec, v, &iv->usec);
}

/* frac (|frac| < 1) of `scale` microseconds, rounded as PostgreSQL does. */
static bool pgbin_iv_fract_usec(pgbin_iv *iv, double frac, int64_t scale)
{
    if (frac == 0)
        return true;
    frac *= (double)scale;
    int64_t us = (int64_t)frac;
    frac -= (double)us;
    us += (int64_t)rint(frac);
    return pgbin_iv_add_usec(iv, us);
}

/* frac of `scale` days: whole days, the rest as microseconds. */
static bool pgbin_iv_fract_days(pgbin_iv *iv, double frac, int scale)
{
    if (frac == 0)
        return true;
    frac *= scale;
    int extra = (int)frac;
    if (__builtin_add_overflow(iv->days, extra, &iv->days))
        return false;
    frac -= extra;
    return pgbin_iv_fract_usec(iv, frac, PGBIN_USECS_PER_DAY);
}

/* Adds val + fval (the integer and fractional parts of one amount, with the
 * same sign) of `unit`, cascading the fraction to smaller fields as
 * PostgreSQL's DecodeInterval does. */
static bool pgbin_iv_add(pgbin_iv *iv, pgbin_iv_unit unit, int64_t val, double fval)
{
    int64_t scale, v;
    int years;
    switch (unit) {
    case PGBIN_IV_MICROSECOND:
        scale = 1;
        break;
    case PGBIN_IV_MILLISECOND:
        scale = 1000;
        break;
    case PGBIN_IV_SECOND:
        scale = PGBIN_USECS_PER_SEC;
        break;
    case PGBIN_IV_MINUTE:
        scale = PGBIN_USECS_PER_MINUTE;
        break;
    case PGBIN_IV_HOUR:
        scale = PGBIN_USECS_PER_HOUR;
        break;
    case PGBIN_IV_DAY:
        if (__builtin_add_overflow(iv->days, val, &iv->days))
            return false;
        return pgbin_iv_fract_usec(iv, fval, PGBIN_USECS_PER_DAY);
    case PGBIN_IV_WEEK:
        if (__builtin_mul_overflow(val, 7, &v) || __builtin_add_overflow(iv->days, v, &iv->days))
            return false;
        return pgbin_iv_fract_days(iv, fval, 7);
    case PGBIN_IV_MONTH:
        if (__builtin_add_overflow(iv->months, val, &iv->months))
            return false;
        return pgbin_iv_fract_days(iv, fval, 30);
    case PGBIN_IV_YEAR:
        years = 1;
        goto years;
    case PGBIN_IV_DECADE:
        years = 10;
        goto years;
    case PGBIN_IV_CENTURY:
        years = 100;
        goto years;
    case PGBIN_IV_MILLENNIUM:
        years = 1000;
    years:
        if (__builtin_mul_overflow(val, 12 * years, &v) ||
            __builtin_add_overflow(iv->months, v, &iv->months))
            return false;
        return !__builtin_add_overflow(iv->months, (int64_t)rint(fval * years * 12), &iv->months);
    default:
        return false;
    }
    if (__builtin_mul_overflow(val, scale, &v) || !pgbin_iv_add_usec(iv, v))
        return false;
    return pgbin_iv_fract_usec(iv, fval, scale);
}

/* A signed decimal amount: [+-]digits[.digits] (ISO 8601: no '+') into its
 * integer part and its fraction, both carrying the sign. */
static pgbin_status pgbin_iv_number(const char **p, const char *end, bool plus_ok, int64_t *val,
                                    double *fval)
{
    const char *q = *p;
    bool neg = false;
    if (q < end && (*q == '-' || (plus_ok && *q == '+')))
        neg = *q++ == '-';
    const char *digits = q;
    uint64_t v = 0;
    bool over = false;
    for (; q < end && pgbin_isdigit(*q); q++) {
        if (v > (uint64_t)INT64_MAX / 10)
            over = true;
        else
            v = v * 10 + (uint64_t)(*q - '0');
    }
    bool any = q > digits;
    *fval = 0;
    if (q < end && *q == '.') {
        const char *f = q;
        char buf[32] = "0.";
        size_t k = 2;
        for (q++; q < end && pgbin_isdigit(*q); q++)
            if (k < sizeof(buf) - 1)
                buf[k++] = *q;
        buf[k] = '\0';
        any = any || q > f + 1;
        *fval = strtod(buf, NULL);
    }
    if (!any)
        return PGBIN_SYNTAX;
    if (over || v > (uint64_t)INT64_MAX)
        return PGBIN_RANGE;
    *val = neg ? -(int64_t)v : (int64_t)v;
    if (neg)
        *fval = -*fval;
    *p = q;
    return PGBIN_OK;
}

/* ISO 8601 with designators: P[nY][nM][nW][nD][T[nH][nM][nS]] (PostgreSQL
 * takes 'PT' alone as zero, but not 'P'). */
static pgbin_status pgbin_iv_parse_iso(const char *p, const char *end, pgbin_iv *iv)
{
    bool time_part = false;
    p++; /* the P */
    if (p >= end)
        return PGBIN_SYNTAX;
    while (p < end) {
        if (*p == 'T') {
            if (time_part)
                return PGBIN_SYNTAX;
            time_part = true;
            p++;
            continue;
        }
        int64_t val;
        double fval;
        pgbin_status st = pgbin_iv_number(&p, end, false, &val, &fval);
        if (st != PGBIN_OK)
            return st;
        if (p >= end)
            return PGBIN_SYNTAX;
        pgbin_iv_unit unit;
        switch (*p++) {
        case 'Y':
            unit = time_part ? PGBIN_IV_NONE : PGBIN_IV_YEAR;
            break;
        case 'M':
            unit = time_part ? PGBIN_IV_MINUTE : PGBIN_IV_MONTH;
            break;
        case 'W':
            unit = time_part ? PGBIN_IV_NONE : PGBIN_IV_WEEK;
            break;
        case 'D':
            unit = time_part ? PGBIN_IV_NONE : PGBIN_IV_DAY;
            break;
        case 'H':
            unit = time_part ? PGBIN_IV_HOUR : PGBIN_IV_NONE;
            break;
        case 'S':
            unit = time_part ? PGBIN_IV_SECOND : PGBIN_IV_NONE;
            break;
        default:
            unit = PGBIN_IV_NONE;
            break;
        }
        if (unit == PGBIN_IV_NONE)
            return PGBIN_SYNTAX;
        if (!pgbin_iv_add(iv, unit, val, fval))
            return PGBIN_RANGE;
    }
    return PGBIN_OK;
}

/* [+-]H:MM[:SS[.f]] or [+-]MM:SS.f of an interval, into microseconds. */
static pgbin_status pgbin_iv_time(const char *p, const char *end, int64_t *us)
{
    bool neg = false;
    if (p < end && (*p == '+' || *p == '-'))
        neg = *p++ == '-';
    int64_t a, b, c = 0, fsec = 0;
    if (pgbin_read_digits(&p, end, 0, &a) == 0 || p >= end || *p != ':')
        return PGBIN_SYNTAX;
    p++;
    if (pgbin_read_digits(&p, end, 0, &b) == 0)
        return PGBIN_SYNTAX;
    int64_t h, m, s;
    if (p < end && *p == '.') { /* MM:SS.f */
        fsec = pgbin_read_fraction(&p, end);
        h = 0;
        m = a;
        s = b;
    } else {
        if (p < end && *p == ':') {
            p++;
            if (pgbin_read_digits(&p, end, 0, &c) == 0)
                return PGBIN_SYNTAX;
            if (p < end && *p == '.')
                fsec = pgbin_read_fraction(&p, end);
        }
        h = a;
        m = b;
        s = c;
    }
    if (p != end)
        return PGBIN_SYNTAX;
    if (m > 59 || s > 60 || fsec > PGBIN_USECS_PER_SEC)
        return PGBIN_RANGE;
    int64_t v;
    if (__builtin_mul_overflow(h, PGBIN_USECS_PER_HOUR, &v) ||
        __builtin_add_overflow(v, m * PGBIN_USECS_PER_MINUTE + s * PGBIN_USECS_PER_SEC + fsec, &v))
        return PGBIN_RANGE;
    *us = neg ? -v : v;
    return PGBIN_OK;
}

#define PGBIN_IV_MAX_TOKENS 64

/* PostgreSQL's postgres-style interval: white-space separated fields, read
 * right to left so that a number takes the unit written after it; a bare
 * number is seconds, or days when a time follows it. */
static pgbin_status pgbin_iv_parse_postgres(const char *p, const char *end, pgbin_iv *iv)
{
    struct {
        const char *p;
        size_t n;
    } tok[PGBIN_IV_MAX_TOKENS];
    int ntok = 0;
    while (p < end) {
        while (p < end && pgbin_isspace(*p))
            p++;
        if (p >= end)
            break;
        const char *t = p;
        if (pgbin_isalpha(*p)) {
            while (p < end && pgbin_isalpha(*p))
                p++;
        } else if (*p == '@') {
            p++;
        } else {
            while (p < end && !pgbin_isspace(*p) && !pgbin_isalpha(*p))
                p++;
        }
        if (ntok == PGBIN_IV_MAX_TOKENS)
            return PGBIN_SYNTAX;
        tok[ntok].p = t;
        tok[ntok].n = (size_t)(p - t);
        ntok++;
    }
    if (ntok == 0)
        return PGBIN_SYNTAX;

    pgbin_iv_unit unit = PGBIN_IV_NONE; /* the unit numbers to the left take */
    bool ago = false, any = false;
    for (int i = ntok - 1; i >= 0; i--) {
        const char *t = tok[i].p;
        const char *te = t + tok[i].n;
        if (pgbin_isalpha(*t) || *t == '@') {
            pgbin_iv_unit u = pgbin_iv_unit_of(t, tok[i].n);
            if (u == PGBIN_IV_NONE)
                return PGBIN_SYNTAX;
            if (u == PGBIN_IV_AGO)
                ago = true;
            else if (u != PGBIN_IV_AT)
                unit = u;
            continue;
        }
        any = true;
        if (memchr(t, ':', tok[i].n)) {
            int64_t us;
            pgbin_status st = pgbin_iv_time(t, te, &us);
            if (st != PGBIN_OK)
                return st;
            if (!pgbin_iv_add_usec(iv, us))
                return PGBIN_RANGE;
            unit = PGBIN_IV_DAY;
            continue;
        }
        const char *dash = tok[i].n > 1 ? memchr(t + 1, '-', tok[i].n - 1) : NULL;
        if (dash) { /* SQL's year-month: [+-]Y-M */
            const char *q = t;
            bool neg = false;
            if (*q == '+' || *q == '-')
                neg = *q++ == '-';
            int64_t y, m;
            if (pgbin_read_digits(&q, dash, 0, &y) == 0 || q != dash)
                return PGBIN_SYNTAX;
            q = dash + 1;
            if (pgbin_read_digits(&q, te, 0, &m) == 0 || q != te)
                return PGBIN_SYNTAX;
            if (m > 11 || y > INT32_MAX)
                return PGBIN_RANGE;
            if (__builtin_add_overflow(iv->months, neg ? -(y * 12 + m) : y * 12 + m, &iv->months))
                return PGBIN_RANGE;
            continue;
        }
        int64_t val;
        double fval;
        const char *q = t;
        pgbin_status st = pgbin_iv_number(&q, te, true, &val, &fval);
        if (st != PGBIN_OK)
            return st;
        if (q != te)
            return PGBIN_SYNTAX;
        if (!pgbin_iv_add(iv, unit == PGBIN_IV_NONE ? PGBIN_IV_SECOND : unit, val, fval))
            return PGBIN_RANGE;
    }
    if (!any)
        return PGBIN_SYNTAX;
    if (ago) {
        if (iv->months == INT64_MIN || iv->days == INT64_MIN || iv->usec == INT64_MIN)
            return PGBIN_RANGE;
        iv->months = -iv->months;
        iv->days = -iv->days;
        iv->usec = -iv->usec;
    }
    return PGBIN_OK;
}

pgbin_status pgbin_interval_encode(const char *text, size_t n, wire_buf *out)
{
    size_t start = out->len;
    const char *p = text, *end = text + n;
    pgbin_iv iv = {0, 0, 0};
    pgbin_trim(&p, &end);
    pgbin_status st;
    if (p < end && *p == 'P')
        st = pgbin_iv_parse_iso(p, end, &iv);
    else
        st = pgbin_iv_parse_postgres(p, end, &iv);
    if (st == PGBIN_OK && (iv.months < INT32_MIN || iv.months > INT32_MAX || iv.days < INT32_MIN ||
                           iv.days > INT32_MAX))
        st = PGBIN_RANGE;
    if (st == PGBIN_OK) {
        pgbin_put_be(out, (uint64_t)iv.usec, 8);
        pgbin_put_be(out, (uint32_t)(int32_t)iv.days, 4);
        pgbin_put_be(out, (uint32_t)(int32_t)iv.months, 4);
    }
    return pgbin_finish(out, start, st);
}

/* One "N unit[s]" of the postgres style: nothing for 0, '+' before a
 * positive amount that follows a negative one. */
static void pgbin_iv_put_part(wire_buf *out, int64_t value, const char *unit, bool *is_zero,
                              bool *is_before)
{
    if (value == 0)
        return;
    char buf[64];
    snprintf(buf, sizeof(buf), "%s%s%lld %s%s", *is_zero ? "" : " ",
             *is_before && value > 0 ? "+" : "", (long long)value, unit, value != 1 ? "s" : "");
    pgbin_puts(out, buf);
    *is_before = value < 0;
    *is_zero = false;
}

pgbin_status pgbin_interval_decode(const uint8_t *p, size_t n, wire_buf *out)
{
    size_t start = out->len;
    if (n != 16)
        return pgbin_finish(out, start, PGBIN_BINARY);
    int64_t time = (int64_t)pgbin_get_be(p, 8);
    int32_t days = (int32_t)pgbin_get_be(p + 8, 4);
    int32_t months = (int32_t)pgbin_get_be(p + 12, 4);
    bool is_zero = true, is_before = false;
    pgbin_iv_put_part(out, months / 12, "year", &is_zero, &is_before);
    pgbin_iv_put_part(out, months % 12, "mon", &is_zero, &is_before);
    pgbin_iv_put_part(out, days, "day", &is_zero, &is_before);
    int64_t hour = time / PGBIN_USECS_PER_HOUR;
    time -= hour * PGBIN_USECS_PER_HOUR;
    int64_t min = time / PGBIN_USECS_PER_MINUTE;
    time -= min * PGBIN_USECS_PER_MINUTE;
    int64_t sec = time / PGBIN_USECS_PER_SEC;
    int64_t fsec = time - sec * PGBIN_USECS_PER_SEC;
    if (is_zero || hour != 0 || min != 0 || sec != 0 || fsec != 0) {
        bool minus = hour < 0 || min < 0 || sec < 0 || fsec < 0;
        char buf[64];
        snprintf(buf, sizeof(buf), "%s%s%02llu:%02lld:%02lld", is_zero ? "" : " ",
                 minus ? "-" : (is_before ? "+" : ""),
                 (unsigned long long)(hour < 0 ? -(uint64_t)hour : (uint64_t)hour),
                 (long long)(min < 0 ? -min : min), (long long)(sec < 0 ? -sec : sec));
        pgbin_puts(out, buf);
        pgbin_put_fraction(out, fsec);
    }
    return pgbin_finish(out, start, PGBIN_OK);
}

/* ---- dispatch ---- */

pgbin_status pgbin_encode(uint32_t oid, const char *text, size_t n, wire_buf *out)
{
    switch (oid) {
    case WIRE_OID_NUMERIC:
        return pgbin_numeric_encode(text, n, out);
    case WIRE_OID_UUID:
        return pgbin_uuid_encode(text, n, out);
    case WIRE_OID_DATE:
        return pgbin_date_encode(text, n, out);
    case WIRE_OID_TIME:
        return pgbin_time_encode(text, n, out);
    case WIRE_OID_TIMETZ:
        return pgbin_timetz_encode(text, n, out);
    case WIRE_OID_TIMESTAMP:
        return pgbin_timestamp_encode(text, n, out);
    case WIRE_OID_TIMESTAMPTZ:
        return pgbin_timestamptz_encode(text, n, out);
    case WIRE_OID_INTERVAL:
        return pgbin_interval_encode(text, n, out);
    }
    return PGBIN_SYNTAX;
}

pgbin_status pgbin_decode(uint32_t oid, const uint8_t *p, size_t n, wire_buf *out)
{
    switch (oid) {
    case WIRE_OID_NUMERIC:
        return pgbin_numeric_decode(p, n, out);
    case WIRE_OID_UUID:
        return pgbin_uuid_decode(p, n, out);
    case WIRE_OID_DATE:
        return pgbin_date_decode(p, n, out);
    case WIRE_OID_TIME:
        return pgbin_time_decode(p, n, out);
    case WIRE_OID_TIMETZ:
        return pgbin_timetz_decode(p, n, out);
    case WIRE_OID_TIMESTAMP:
        return pgbin_timestamp_decode(p, n, out);
    case WIRE_OID_TIMESTAMPTZ:
        return pgbin_timestamptz_decode(p, n, out);
    case WIRE_OID_INTERVAL:
        return pgbin_interval_decode(p, n, out);
    }
    return PGBIN_BINARY;
}

pgbin_status pgbin_normalize(uint32_t oid, const char *text, size_t n, wire_buf *out)
{
    if (oid == WIRE_OID_NUMERIC)
        return pgbin_numeric_normalize(text, n, out);
    if (!pgbin_supports(oid))
        return PGBIN_SYNTAX;
    /* through the binary form: its decoder prints what PostgreSQL prints */
    wire_buf tmp;
    wire_buf_init(&tmp);
    pgbin_status st = pgbin_encode(oid, text, n, &tmp);
    if (st == PGBIN_OK)
        st = pgbin_decode(oid, tmp.data, tmp.len, out);
    wire_buf_free(&tmp);
    return st;
}
