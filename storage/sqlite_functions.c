/*
 * sqlite_functions.c: PostgreSQL behaviour as SQLite application functions.
 *
 * translate.c turns casts, LIKE, regular expressions, GREATEST/LEAST and the
 * date/time value functions into calls of the dm_* functions here; a few
 * PostgreSQL functions keep their names.  Values follow PostgreSQL's text
 * formats (the session TimeZone is UTC, DateStyle ISO):
 *
 *   now(), dm_now(p)          '2024-01-01 10:00:00.123456+00' (fraction trimmed)
 *   dm_localtimestamp([p])    '2024-01-01 10:00:00.123456'
 *   dm_current_date()         '2024-01-01'
 *   dm_current_time([p])      '10:00:00.123456+00'; dm_localtime([p]) without +00
 *   dm_int2/4/8(x)            integer; text must be an integer literal (22P02),
 *                             reals round half away from zero, range checked (22003)
 *   dm_float8(x)              real; text checked
 *   dm_numeric(x)             integer or real; text checked
 *   dm_bool(x)                1/0 from integers and PostgreSQL's boolean input
 *   dm_bytea(x)               the blob a bytea literal denotes ('\x0102', escapes)
 *   dm_date/dm_time/dm_timestamp/dm_timestamptz(x)  normalised text (22007/22008)
 *   dm_uuid(x)                canonical lower-case uuid text
 *   dm_like/dm_ilike(s, p[, esc])  PostgreSQL LIKE: case-sensitive, '\' escapes;
 *                             characters are UTF-8 code points; ILIKE folds ASCII only
 *   dm_regex(s, p, icase)     POSIX extended regex (<regex.h>), \d and \D added;
 *                             the compiled pattern is cached per statement
 *   dm_greatest/dm_least(...) ignore NULLs, SQLite's ordering of values
 *   dm_random()               a double in [0, 1)
 *
 * Pure functions are DETERMINISTIC and INNOCUOUS so that indexes, CHECK
 * constraints, views and DEFAULTs may use them (the handle is opened with
 * trusted_schema off).
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "pgbinary.h"
#include "catalog.h"
#include "sqlite_coltypes.h"
#include "sqlite_functions.h"
#include "sqlite_json.h"
#include "sqlite_numeric.h"
#include "sqlite_session.h"
#include "sqlite_types.h"

/* ---- errors ---- */

static void fn_error(sqlite3_context *ctx, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fn_error(sqlite3_context *ctx, const char *sqlstate, const char *fmt, ...)
{
    char msg[400];
    int n = snprintf(msg, sizeof(msg), "[%s] ", sqlstate);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    va_end(ap);
    sqlite3_result_error(ctx, msg, -1);
}

/* `invalid input syntax for type T: "v"`, with v shortened for the message. */
static void fn_bad_input(sqlite3_context *ctx, const char *type, const char *v)
{
    fn_error(ctx, "22P02", "invalid input syntax for type %s: \"%.200s\"", type, v ? v : "");
}

/* ---- time ---- */

#define USEC_PER_SEC 1000000LL
#define USEC_PER_DAY (86400LL * USEC_PER_SEC)

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t fn_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void fn_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int fn_days_in_month(int64_t y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : days[m - 1];
}

typedef enum fn_time_kind {
    FN_DATE,
    FN_TIME,
    FN_TIMETZ,
    FN_TIMESTAMP,
    FN_TIMESTAMPTZ,
} fn_time_kind;

/* Microseconds rounded to `precision` fractional digits (0..6; -1: 6). */
static int64_t fn_round_usec(int64_t us, int precision)
{
    if (precision < 0 || precision >= 6)
        return us;
    int64_t unit = 1;
    for (int i = precision; i < 6; i++)
        unit *= 10;
    int64_t r = us % unit;
    if (r < 0)
        r += unit;
    us -= r;
    if (r * 2 >= unit)
        us += unit;
    return us;
}

/* PostgreSQL's output of a UTC instant (microseconds since the epoch). */
static void fn_format_time(int64_t us, fn_time_kind kind, char *buf, size_t len)
{
    int64_t days = us / USEC_PER_DAY;
    int64_t rem = us % USEC_PER_DAY;
    if (rem < 0) {
        rem += USEC_PER_DAY;
        days--;
    }
    int64_t y;
    int m, d;
    fn_civil_from_days(days, &y, &m, &d);
    int hh = (int)(rem / (3600 * USEC_PER_SEC));
    int mi = (int)(rem / (60 * USEC_PER_SEC) % 60);
    int ss = (int)(rem / USEC_PER_SEC % 60);
    int frac = (int)(rem % USEC_PER_SEC);

    char date[32], time[40];
    snprintf(date, sizeof(date), "%04lld-%02d-%02d", (long long)y, m, d);
    int n = snprintf(time, sizeof(time), "%02d:%02d:%02d", hh, mi, ss);
    if (frac) {
        char f[8];
        snprintf(f, sizeof(f), "%06d", frac);
        for (int i = 5; i > 0 && f[i] == '0'; i--)
            f[i] = '\0';
        snprintf(time + n, sizeof(time) - (size_t)n, ".%s", f);
    }
    switch (kind) {
    case FN_DATE:
        snprintf(buf, len, "%s", date);
        break;
    case FN_TIME:
        snprintf(buf, len, "%s", time);
        break;
    case FN_TIMETZ:
        snprintf(buf, len, "%s+00", time);
        break;
    case FN_TIMESTAMP:
        snprintf(buf, len, "%s %s", date, time);
        break;
    case FN_TIMESTAMPTZ:
        snprintf(buf, len, "%s %s+00", date, time);
        break;
    }
}

static int64_t fn_now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * USEC_PER_SEC + ts.tv_nsec / 1000;
}

/* The precision argument of CURRENT_TIMESTAMP(p) and friends, or -1. */
static int fn_precision(int argc, sqlite3_value **argv)
{
    if (argc < 1 || sqlite3_value_type(argv[0]) == SQLITE_NULL)
        return -1;
    int p = sqlite3_value_int(argv[0]);
    return p < 0 ? 0 : p > 6 ? 6 : p;
}

static void fn_current(sqlite3_context *ctx, int argc, sqlite3_value **argv, fn_time_kind kind)
{
    char buf[128];
    fn_format_time(fn_round_usec(fn_now_usec(), fn_precision(argc, argv)), kind, buf, sizeof(buf));
    sqlite3_result_text(ctx, buf, -1, SQLITE_TRANSIENT);
}

static void fn_now(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    fn_current(ctx, argc, argv, FN_TIMESTAMPTZ);
}

static void fn_localtimestamp(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    fn_current(ctx, argc, argv, FN_TIMESTAMP);
}

static void fn_current_date(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    fn_current(ctx, 0, argv, FN_DATE);
}

static void fn_current_time(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    fn_current(ctx, argc, argv, FN_TIMETZ);
}

static void fn_localtime(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    fn_current(ctx, argc, argv, FN_TIME);
}

/* Reads 1..max digits; returns how many. */
static int fn_digits(const char **p, int max, int64_t *v)
{
    int n = 0;
    *v = 0;
    while (n < max && isdigit((unsigned char)**p)) {
        *v = *v * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    return n;
}

typedef enum fn_parse_rc { FN_PARSE_OK, FN_PARSE_SYNTAX, FN_PARSE_RANGE } fn_parse_rc;

/* [HH:MM[:SS[.ffffff]]] into microseconds since midnight. */
static fn_parse_rc fn_parse_clock(const char **pp, int64_t *us)
{
    const char *p = *pp;
    int64_t hh, mi, ss = 0, frac = 0;
    if (!fn_digits(&p, 2, &hh) || *p != ':')
        return FN_PARSE_SYNTAX;
    p++;
    if (fn_digits(&p, 2, &mi) != 2)
        return FN_PARSE_SYNTAX;
    if (*p == ':') {
        p++;
        if (fn_digits(&p, 2, &ss) != 2)
            return FN_PARSE_SYNTAX;
        if (*p == '.') {
            p++;
            int64_t scale = 100000;
            int n = 0;
            while (isdigit((unsigned char)*p)) {
                if (n < 6)
                    frac += (*p - '0') * scale;
                else if (n == 6 && *p >= '5')
                    frac++; /* round the seventh digit */
                scale /= 10;
                n++;
                p++;
            }
            if (!n)
                return FN_PARSE_SYNTAX;
        }
    }
    if (mi > 59 || ss > 60 || hh > 24 || (hh == 24 && (mi || ss || frac)))
        return FN_PARSE_RANGE;
    *us = ((hh * 60 + mi) * 60 + ss) * USEC_PER_SEC + frac;
    *pp = p;
    return FN_PARSE_OK;
}

/* Z, UTC, GMT, +HH, +HH:MM, +HHMM (and -) into seconds east of UTC. */
static fn_parse_rc fn_parse_zone(const char **pp, int64_t *offset, bool *has)
{
    const char *p = *pp;
    while (*p == ' ')
        p++;
    *has = false;
    *offset = 0;
    if (*p == 'Z' || *p == 'z') {
        *has = true;
        *pp = p + 1;
        return FN_PARSE_OK;
    }
    if (strncasecmp(p, "UTC", 3) == 0 || strncasecmp(p, "GMT", 3) == 0) {
        *has = true;
        *pp = p + 3;
        return FN_PARSE_OK;
    }
    if (*p != '+' && *p != '-') {
        *pp = p;
        return FN_PARSE_OK;
    }
    int sign = *p == '-' ? -1 : 1;
    p++;
    int64_t hh, mm = 0;
    int n = fn_digits(&p, 4, &hh);
    if (n == 4) {
        mm = hh % 100;
        hh /= 100;
    } else if (n == 0 || n == 3) {
        return FN_PARSE_SYNTAX;
    } else if (*p == ':') {
        p++;
        if (fn_digits(&p, 2, &mm) != 2)
            return FN_PARSE_SYNTAX;
    }
    if (hh > 15 || mm > 59)
        return FN_PARSE_RANGE;
    *offset = sign * (hh * 3600 + mm * 60);
    *has = true;
    *pp = p;
    return FN_PARSE_OK;
}

/* A date, a timestamp with or without zone, or a special word, into a UTC
 * instant (the zone applied only when `use_zone`). */
static fn_parse_rc fn_parse_timestamp(const char *s, bool use_zone, int64_t *out)
{
    while (*s == ' ')
        s++;
    if (strcasecmp(s, "now") == 0) {
        *out = fn_now_usec();
        return FN_PARSE_OK;
    }
    int64_t today = fn_now_usec() / USEC_PER_DAY * USEC_PER_DAY;
    static const struct {
        const char *word;
        int days; /* from today */
    } words[] = {{"today", 0}, {"yesterday", -1}, {"tomorrow", 1}};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcasecmp(s, words[i].word) == 0) {
            *out = today + words[i].days * USEC_PER_DAY;
            return FN_PARSE_OK;
        }
    }
    if (strcasecmp(s, "epoch") == 0) {
        *out = 0;
        return FN_PARSE_OK;
    }
    const char *p = s;
    int64_t y, mo, d;
    if (fn_digits(&p, 7, &y) < 1 || *p != '-')
        return FN_PARSE_SYNTAX;
    p++;
    if (!fn_digits(&p, 2, &mo) || *p != '-')
        return FN_PARSE_SYNTAX;
    p++;
    if (!fn_digits(&p, 2, &d))
        return FN_PARSE_SYNTAX;
    if (mo < 1 || mo > 12 || d < 1 || d > fn_days_in_month(y, (int)mo) || y < 1)
        return FN_PARSE_RANGE;
    int64_t us = 0;
    if (*p == ' ' || *p == 'T' || *p == 't') {
        const char *q = p + 1;
        while (*q == ' ')
            q++;
        if (isdigit((unsigned char)*q)) {
            fn_parse_rc rc = fn_parse_clock(&q, &us);
            if (rc != FN_PARSE_OK)
                return rc;
            p = q;
        }
    }
    int64_t offset;
    bool has_zone;
    fn_parse_rc rc = fn_parse_zone(&p, &offset, &has_zone);
    if (rc != FN_PARSE_OK)
        return rc;
    while (*p == ' ')
        p++;
    if (*p)
        return FN_PARSE_SYNTAX;
    *out = fn_days_from_civil(y, (int)mo, (int)d) * USEC_PER_DAY + us;
    if (use_zone)
        *out -= offset * USEC_PER_SEC;
    return FN_PARSE_OK;
}

static void fn_cast_time(sqlite3_context *ctx, sqlite3_value *v, fn_time_kind kind,
                         const char *type)
{
    if (sqlite3_value_type(v) == SQLITE_NULL)
        return;
    const char *s = (const char *)sqlite3_value_text(v);
    if (!s) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    const char *w = s;
    while (*w == ' ')
        w++;
    if (kind != FN_TIME && (strcasecmp(w, "infinity") == 0 || strcasecmp(w, "-infinity") == 0)) {
        sqlite3_result_text(ctx, w[0] == '-' ? "-infinity" : "infinity", -1, SQLITE_STATIC);
        return;
    }
    int64_t us = 0;
    fn_parse_rc rc;
    if (kind == FN_TIME) {
        const char *p = w;
        rc = fn_parse_clock(&p, &us);
        if (rc == FN_PARSE_OK) {
            while (*p == ' ')
                p++;
            rc = *p ? FN_PARSE_SYNTAX : FN_PARSE_OK;
        }
        if (rc == FN_PARSE_SYNTAX && fn_parse_timestamp(w, false, &us) == FN_PARSE_OK)
            rc = FN_PARSE_OK;
    } else {
        rc = fn_parse_timestamp(w, kind == FN_TIMESTAMPTZ, &us);
    }
    if (rc == FN_PARSE_SYNTAX) {
        fn_error(ctx, "22007", "invalid input syntax for type %s: \"%.200s\"", type, s);
        return;
    }
    if (rc == FN_PARSE_RANGE) {
        fn_error(ctx, "22008", "date/time field value out of range: \"%.200s\"", s);
        return;
    }
    char buf[128];
    if (kind == FN_TIME && us == USEC_PER_DAY)
        snprintf(buf, sizeof(buf), "24:00:00");
    else
        fn_format_time(us, kind, buf, sizeof(buf));
    sqlite3_result_text(ctx, buf, -1, SQLITE_TRANSIENT);
}

static void fn_date(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    fn_cast_time(ctx, argv[0], FN_DATE, "date");
}

static void fn_time(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    fn_cast_time(ctx, argv[0], FN_TIME, "time without time zone");
}

static void fn_timestamp(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    fn_cast_time(ctx, argv[0], FN_TIMESTAMP, "timestamp");
}

static void fn_timestamptz(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    fn_cast_time(ctx, argv[0], FN_TIMESTAMPTZ, "timestamp with time zone");
}

/* ---- numbers and booleans ---- */

static const char *fn_trim(const char *s, size_t *n)
{
    while (isspace((unsigned char)*s))
        s++;
    size_t len = strlen(s);
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    *n = len;
    return s;
}

/* An integer literal (optional sign, digits, surrounding spaces). */
static bool fn_parse_int(const char *s, int64_t *out, bool *overflow)
{
    size_t n;
    const char *p = fn_trim(s, &n);
    const char *end = p + n;
    bool neg = false;
    *overflow = false;
    if (p < end && (*p == '+' || *p == '-'))
        neg = *p++ == '-';
    if (p == end)
        return false;
    uint64_t v = 0;
    for (; p < end; p++) {
        if (!isdigit((unsigned char)*p))
            return false;
        if (v > (UINT64_MAX - 9) / 10)
            *overflow = true;
        else
            v = v * 10 + (uint64_t)(*p - '0');
    }
    if (v > (uint64_t)INT64_MAX + (neg ? 1 : 0))
        *overflow = true;
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

static void fn_cast_int(sqlite3_context *ctx, sqlite3_value *v, int bits)
{
    const char *type = bits == 16 ? "smallint" : bits == 32 ? "integer" : "bigint";
    int64_t lo = bits == 16 ? INT16_MIN : bits == 32 ? INT32_MIN : INT64_MIN;
    int64_t hi = bits == 16 ? INT16_MAX : bits == 32 ? INT32_MAX : INT64_MAX;
    int64_t i = 0;
    switch (sqlite3_value_type(v)) {
    case SQLITE_NULL:
        return;
    case SQLITE_INTEGER:
        i = sqlite3_value_int64(v);
        break;
    case SQLITE_FLOAT: {
        double d = round(sqlite3_value_double(v));
        if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) {
            fn_error(ctx, "22003", "%s out of range", type);
            return;
        }
        i = (int64_t)d;
        break;
    }
    default: {
        const char *s = (const char *)sqlite3_value_text(v);
        bool overflow;
        if (!s || !fn_parse_int(s, &i, &overflow)) {
            fn_bad_input(ctx, type, s);
            return;
        }
        if (overflow) {
            fn_error(ctx, "22003", "value \"%.200s\" is out of range for type %s", s, type);
            return;
        }
        if (i < lo || i > hi) {
            fn_error(ctx, "22003", "value \"%.200s\" is out of range for type %s", s, type);
            return;
        }
        break;
    }
    }
    if (i < lo || i > hi) {
        fn_error(ctx, "22003", "%s out of range", type);
        return;
    }
    sqlite3_result_int64(ctx, i);
}

static void fn_int2(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    fn_cast_int(ctx, argv[0], 16);
}

static void fn_int4(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    fn_cast_int(ctx, argv[0], 32);
}

static void fn_int8(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    fn_cast_int(ctx, argv[0], 64);
}

/* A decimal or special float literal; false if it is not one. */
static bool fn_parse_double(const char *s, double *out)
{
    size_t n;
    const char *p = fn_trim(s, &n);
    if (!n || n > 400)
        return false;
    char buf[401];
    memcpy(buf, p, n);
    buf[n] = '\0';
    if (strcasecmp(buf, "nan") == 0) {
        *out = NAN;
        return true;
    }
    const char *w = buf[0] == '+' || buf[0] == '-' ? buf + 1 : buf;
    if (strcasecmp(w, "infinity") == 0 || strcasecmp(w, "inf") == 0) {
        *out = buf[0] == '-' ? -INFINITY : INFINITY;
        return true;
    }
    if (!isdigit((unsigned char)*w) && *w != '.')
        return false; /* strtod would take hex and other spellings */
    for (const char *q = w; *q; q++)
        if (*q == 'x' || *q == 'X')
            return false;
    char *end;
    *out = strtod(buf, &end);
    return end != buf && *end == '\0';
}

static void fn_float8(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    switch (sqlite3_value_type(argv[0])) {
    case SQLITE_NULL:
        return;
    case SQLITE_INTEGER:
    case SQLITE_FLOAT:
        sqlite3_result_double(ctx, sqlite3_value_double(argv[0]));
        return;
    default: {
        const char *s = (const char *)sqlite3_value_text(argv[0]);
        double d;
        if (!s || !fn_parse_double(s, &d)) {
            fn_bad_input(ctx, "double precision", s);
            return;
        }
        sqlite3_result_double(ctx, d);
        return;
    }
    }
}

/* ---- extract, date_part, date_trunc ---- */

/* A timestamp's text with a zone: an offset, Z, UTC or GMT after the clock. */
static bool fn_has_zone(const char *s)
{
    size_t n = strlen(s);
    while (n && s[n - 1] == ' ')
        n--;
    if (n >= 3 && (strncasecmp(s + n - 3, "UTC", 3) == 0 || strncasecmp(s + n - 3, "GMT", 3) == 0))
        return true;
    if (n && (s[n - 1] == 'Z' || s[n - 1] == 'z'))
        return true;
    for (size_t i = 11; i < n; i++) /* after YYYY-MM-DD and a separator */
        if (s[i] == '+' || s[i] == '-')
            return true;
    return false;
}

/* The broken-down fields of an instant. */
typedef struct fn_tm {
    int64_t days; /* since 1970-01-01 */
    int64_t usec; /* since midnight */
    int64_t year;
    int month, day;
} fn_tm;

static void fn_tm_from_usec(int64_t us, fn_tm *t)
{
    t->days = us / USEC_PER_DAY;
    t->usec = us % USEC_PER_DAY;
    if (t->usec < 0) {
        t->usec += USEC_PER_DAY;
        t->days--;
    }
    fn_civil_from_days(t->days, &t->year, &t->month, &t->day);
}

/* ISO 8601 day of week, Monday 1 to Sunday 7 (1970-01-01 was a Thursday). */
static int fn_isodow(int64_t days)
{
    int64_t r = (days + 3) % 7;
    if (r < 0)
        r += 7;
    return (int)r + 1;
}

/* The ISO week number and its year. */
static int fn_isoweek(int64_t days, int64_t *isoyear)
{
    int64_t thursday = days - fn_isodow(days) + 4;
    int64_t y;
    int m, d;
    fn_civil_from_days(thursday, &y, &m, &d);
    *isoyear = y;
    return (int)((thursday - fn_days_from_civil(y, 1, 1)) / 7 + 1);
}

/* The value of `field` of a timestamp, and the scale extract() prints it
 * with (PostgreSQL 14+: numeric, 6 digits for seconds and epoch). */
static bool fn_timestamp_part(const char *field, int64_t us, double *v, int *scale)
{
    fn_tm t;
    fn_tm_from_usec(us, &t);
    double sec = (double)(t.usec % (60 * USEC_PER_SEC)) / USEC_PER_SEC;
    int64_t isoyear;
    *scale = 0;
    if (strcmp(field, "year") == 0)
        *v = (double)t.year;
    else if (strcmp(field, "month") == 0)
        *v = t.month;
    else if (strcmp(field, "day") == 0)
        *v = t.day;
    else if (strcmp(field, "hour") == 0)
        *v = (double)(t.usec / (3600 * USEC_PER_SEC));
    else if (strcmp(field, "minute") == 0)
        *v = (double)(t.usec / (60 * USEC_PER_SEC) % 60);
    else if (strcmp(field, "second") == 0)
        *v = sec, *scale = 6;
    else if (strcmp(field, "milliseconds") == 0)
        *v = sec * 1000, *scale = 3;
    else if (strcmp(field, "microseconds") == 0)
        *v = (double)(t.usec % (60 * USEC_PER_SEC));
    else if (strcmp(field, "epoch") == 0)
        *v = (double)us / USEC_PER_SEC, *scale = 6;
    else if (strcmp(field, "dow") == 0)
        *v = fn_isodow(t.days) % 7;
    else if (strcmp(field, "isodow") == 0)
        *v = fn_isodow(t.days);
    else if (strcmp(field, "doy") == 0)
        *v = (double)(t.days - fn_days_from_civil(t.year, 1, 1) + 1);
    else if (strcmp(field, "quarter") == 0)
        *v = (t.month - 1) / 3 + 1;
    else if (strcmp(field, "week") == 0)
        *v = fn_isoweek(t.days, &isoyear);
    else if (strcmp(field, "isoyear") == 0)
        fn_isoweek(t.days, &isoyear), *v = (double)isoyear;
    else if (strcmp(field, "decade") == 0)
        *v = (double)(t.year / 10);
    else if (strcmp(field, "century") == 0)
        *v = (double)((t.year + 99) / 100);
    else if (strcmp(field, "millennium") == 0)
        *v = (double)((t.year + 999) / 1000);
    else
        return false;
    return true;
}

/* The same for an interval (PostgreSQL's 365.25-day years in epoch). */
static bool fn_interval_part(const char *field, int64_t us, int32_t days, int32_t months,
                             double *v, int *scale)
{
    *scale = 0;
    if (strcmp(field, "epoch") == 0)
        *v = (double)us / USEC_PER_SEC + 86400.0 * days + months / 12 * 365.25 * 86400.0 +
             months % 12 * 30.0 * 86400.0,
        *scale = 6;
    else if (strcmp(field, "year") == 0)
        *v = months / 12;
    else if (strcmp(field, "month") == 0)
        *v = months % 12;
    else if (strcmp(field, "day") == 0)
        *v = days;
    else if (strcmp(field, "hour") == 0)
        *v = (double)(us / (3600 * USEC_PER_SEC));
    else if (strcmp(field, "minute") == 0)
        *v = (double)(us / (60 * USEC_PER_SEC) % 60);
    else if (strcmp(field, "second") == 0)
        *v = (double)(us % (60 * USEC_PER_SEC)) / USEC_PER_SEC, *scale = 6;
    else if (strcmp(field, "milliseconds") == 0)
        *v = (double)(us % (60 * USEC_PER_SEC)) / 1000.0, *scale = 3;
    else if (strcmp(field, "microseconds") == 0)
        *v = (double)(us % (60 * USEC_PER_SEC));
    else
        return false;
    return true;
}

/* dm_extract(field, value) and dm_date_part(field, value): as_numeric says
 * which (extract answers numeric text at PostgreSQL's scale, date_part a
 * double). */
static void fn_part(sqlite3_context *ctx, sqlite3_value **argv, bool as_numeric)
{
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL)
        return;
    char field[32];
    const char *f = (const char *)sqlite3_value_text(argv[0]);
    const char *s = (const char *)sqlite3_value_text(argv[1]);
    if (!f || !s) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    size_t i = 0;
    for (; f[i] && i + 1 < sizeof(field); i++)
        field[i] = (char)tolower((unsigned char)f[i]);
    field[i] = '\0';
    double v;
    int scale;
    int64_t us;
    bool ok;
    if (fn_parse_timestamp(s, true, &us) == FN_PARSE_OK) {
        ok = fn_timestamp_part(field, us, &v, &scale);
    } else {
        /* an interval: pgbinary reads every spelling of one */
        wire_buf b;
        wire_buf_init(&b);
        if (pgbin_encode(WIRE_OID_INTERVAL, s, strlen(s), &b) != PGBIN_OK || b.len != 16) {
            wire_buf_free(&b);
            fn_error(ctx, "22007", "invalid input syntax for type timestamp: \"%.200s\"", s);
            return;
        }
        uint64_t u = 0;
        for (int k = 0; k < 8; k++)
            u = u << 8 | b.data[k];
        int32_t days = (int32_t)((uint32_t)b.data[8] << 24 | (uint32_t)b.data[9] << 16 |
                                 (uint32_t)b.data[10] << 8 | b.data[11]);
        int32_t months = (int32_t)((uint32_t)b.data[12] << 24 | (uint32_t)b.data[13] << 16 |
                                   (uint32_t)b.data[14] << 8 | b.data[15]);
        wire_buf_free(&b);
        ok = fn_interval_part(field, (int64_t)u, days, months, &v, &scale);
    }
    if (!ok) {
        fn_error(ctx, "22023", "unit \"%s\" not supported for type timestamp", field);
        return;
    }
    if (!as_numeric) {
        sqlite3_result_double(ctx, v);
        return;
    }
    char buf[64];
    snprintf(buf, sizeof(buf), "%.*f", scale, v);
    sqlite3_result_text(ctx, buf, -1, SQLITE_TRANSIENT);
}

static void fn_extract(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    fn_part(ctx, argv, true);
}

static void fn_date_part(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    fn_part(ctx, argv, false);
}

/* dm_date_trunc(field, value): the timestamp cut down to the field, a
 * timestamptz (in UTC) when the value had a zone. */
static void fn_date_trunc(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL)
        return;
    const char *f = (const char *)sqlite3_value_text(argv[0]);
    const char *s = (const char *)sqlite3_value_text(argv[1]);
    if (!f || !s) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    int64_t us;
    if (fn_parse_timestamp(s, true, &us) != FN_PARSE_OK) {
        fn_error(ctx, "22007", "invalid input syntax for type timestamp: \"%.200s\"", s);
        return;
    }
    fn_tm t;
    fn_tm_from_usec(us, &t);
    static const struct {
        const char *name;
        int64_t unit; /* microseconds; 0: by calendar */
    } units[] = {
        {"microseconds", 1},
        {"milliseconds", 1000},
        {"second", USEC_PER_SEC},
        {"minute", 60 * USEC_PER_SEC},
        {"hour", 3600 * USEC_PER_SEC},
        {"day", USEC_PER_DAY},
        {"week", 0},
        {"month", 0},
        {"quarter", 0},
        {"year", 0},
        {"decade", 0},
        {"century", 0},
        {"millennium", 0},
    };
    size_t k = 0;
    for (; k < sizeof(units) / sizeof(units[0]); k++)
        if (strcasecmp(f, units[k].name) == 0)
            break;
    if (k == sizeof(units) / sizeof(units[0])) {
        fn_error(ctx, "22023", "unit \"%s\" not recognized for type timestamp", f);
        return;
    }
    int64_t out;
    if (units[k].unit) {
        out = us - (t.usec % units[k].unit);
    } else if (strcmp(units[k].name, "week") == 0) {
        out = (t.days - (fn_isodow(t.days) - 1)) * USEC_PER_DAY;
    } else {
        int64_t y = t.year;
        int m = t.month;
        if (strcmp(units[k].name, "month") == 0)
            ;
        else if (strcmp(units[k].name, "quarter") == 0)
            m = (m - 1) / 3 * 3 + 1;
        else {
            m = 1;
            if (strcmp(units[k].name, "decade") == 0)
                y = y / 10 * 10;
            else if (strcmp(units[k].name, "century") == 0)
                y = (y - 1) / 100 * 100 + 1;
            else if (strcmp(units[k].name, "millennium") == 0)
                y = (y - 1) / 1000 * 1000 + 1;
        }
        out = fn_days_from_civil(y, m, 1) * USEC_PER_DAY;
    }
    char buf[128];
    /* a date is read as a timestamptz, as PostgreSQL casts it */
    bool tz = fn_has_zone(s) || strlen(s) <= 10;
    fn_format_time(out, tz ? FN_TIMESTAMPTZ : FN_TIMESTAMP, buf, sizeof(buf));
    sqlite3_result_text(ctx, buf, -1, SQLITE_TRANSIENT);
}

/* dm_numeric_in(value, precision, scale): the CHECK of a numeric column
 * (translate.c; precision -1 without a type modifier).  True for NULL and
 * for what numeric_in accepts that fits numeric(precision, scale) once
 * rounded to the scale; else 22P02 or PostgreSQL's 22003 overflow. */
static void fn_numeric_in(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_int(ctx, 1);
        return;
    }
    const char *s = (const char *)sqlite3_value_text(argv[0]);
    if (!s) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    size_t n = (size_t)sqlite3_value_bytes(argv[0]);
    int precision = sqlite3_value_int(argv[1]), scale = sqlite3_value_int(argv[2]);
    char small[64];
    char *digits = n < sizeof(small) ? small : malloc(n + 1);
    sqlite_decimal d;
    if (!digits) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    if (!sqlite_decimal_parse(s, n, digits, &d)) {
        if (digits != small)
            free(digits);
        fn_bad_input(ctx, "numeric", s);
        return;
    }
    bool ok = true;
    if (precision > 0 && d.kind == SQLITE_DECIMAL_PINF) {
        ok = false;
    } else if (precision > 0 && d.kind == SQLITE_DECIMAL_NINF) {
        ok = false;
    } else if (precision > 0 && d.kind == SQLITE_DECIMAL_FINITE) {
        /* the integer digits once rounded to the scale */
        size_t need = sqlite_decimal_format(&d, scale, NULL, 0);
        char *txt = malloc(need);
        if (!txt) {
            if (digits != small)
                free(digits);
            sqlite3_result_error_nomem(ctx);
            return;
        }
        sqlite_decimal_format(&d, scale, txt, need);
        const char *p = txt + (txt[0] == '-');
        size_t intdigits = strcspn(p, ".");
        if (intdigits == 1 && p[0] == '0')
            intdigits = 0;
        ok = (long)intdigits <= (long)precision - scale;
        free(txt);
    }
    if (digits != small)
        free(digits);
    if (ok)
        sqlite3_result_int(ctx, 1);
    else if (precision - scale > 0) /* the DETAIL after a newline (sqlite_error.c) */
        fn_error(ctx, "22003",
                 "numeric field overflow\nA field with precision %d, scale %d must round to an "
                 "absolute value less than 10^%d.",
                 precision, scale, precision - scale);
    else
        fn_error(ctx, "22003",
                 "numeric field overflow\nA field with precision %d, scale %d must round to an "
                 "absolute value less than 1.",
                 precision, scale);
}

/* dm_json_in(value, is_jsonb): the CHECK of a json or jsonb column
 * (translate.c).  True for NULL and for JSON that jsonb's input accepts
 * (json's too: it differs only in keeping \u0000), else 22P02 as
 * PostgreSQL's json_in / jsonb_in report it. */
static void fn_json_in(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        sqlite3_result_int(ctx, 1);
        return;
    }
    const char *s = (const char *)sqlite3_value_text(argv[0]);
    if (!s) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    char *buf = NULL;
    size_t cap = 0;
    int32_t n = sqlite_jsonb_normalize(s, (size_t)sqlite3_value_bytes(argv[0]), &buf, &cap);
    free(buf);
    if (n == -2) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    if (n == -1) {
        /* PostgreSQL says "json" for both types */
        fn_error(ctx, "22P02", "invalid input syntax for type json");
        return;
    }
    sqlite3_result_int(ctx, 1);
}

/* Casts to types whose values are kept as PostgreSQL's text output
 * (pgbinary.h reads and prints them): the canonical text, or the input
 * function's error. */
static void fn_cast_pgbin(sqlite3_context *ctx, sqlite3_value *v, uint32_t oid)
{
    if (sqlite3_value_type(v) == SQLITE_NULL)
        return;
    const char *s = (const char *)sqlite3_value_text(v);
    if (!s) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    size_t n = (size_t)sqlite3_value_bytes(v);
    wire_buf b;
    wire_buf_init(&b);
    pgbin_status rc = pgbin_normalize(oid, s, n, &b);
    if (rc == PGBIN_OK && !b.oom) {
        sqlite3_result_text(ctx, (const char *)b.data, (int)b.len, SQLITE_TRANSIENT);
    } else if (rc == PGBIN_NOMEM || b.oom) {
        sqlite3_result_error_nomem(ctx);
    } else {
        char msg[300];
        pgbin_message(oid, rc, s, n, msg, sizeof(msg));
        fn_error(ctx, pgbin_sqlstate(oid, rc), "%s", msg);
    }
    wire_buf_free(&b);
}

static void fn_interval(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    fn_cast_pgbin(ctx, argv[0], WIRE_OID_INTERVAL);
}

static void fn_timetz(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    fn_cast_pgbin(ctx, argv[0], WIRE_OID_TIMETZ);
}

static void fn_numeric(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    switch (sqlite3_value_type(argv[0])) {
    case SQLITE_NULL:
        return;
    case SQLITE_INTEGER:
    case SQLITE_FLOAT:
        sqlite3_result_value(ctx, argv[0]);
        return;
    default: {
        const char *s = (const char *)sqlite3_value_text(argv[0]);
        int64_t i;
        bool overflow;
        if (s && fn_parse_int(s, &i, &overflow) && !overflow) {
            sqlite3_result_int64(ctx, i);
            return;
        }
        /* more digits than a double keeps, NaN and Infinity: the exact
         * text, which numeric columns keep and print (sqlite_numeric.h) */
        size_t n = s ? strlen(s) : 0;
        char *digits = s ? malloc(n + 1) : NULL;
        sqlite_decimal dec;
        if (!s || !digits || !sqlite_decimal_parse(s, n, digits, &dec)) {
            free(digits);
            if (s && !digits)
                sqlite3_result_error_nomem(ctx);
            else
                fn_bad_input(ctx, "numeric", s);
            return;
        }
        double d;
        if (dec.kind == SQLITE_DECIMAL_FINITE && dec.ndigits <= 15 && fn_parse_double(s, &d)) {
            sqlite3_result_double(ctx, d);
        } else {
            size_t need = sqlite_decimal_format(&dec, -1, NULL, 0);
            char *txt = malloc(need);
            if (!txt)
                sqlite3_result_error_nomem(ctx);
            else
                sqlite3_result_text(ctx, txt, (int)sqlite_decimal_format(&dec, -1, txt, need),
                                    free);
        }
        free(digits);
        return;
    }
    }
}

/* PostgreSQL's boolin: a unique prefix of true/false/yes/no, on/off, 1/0. */
static int fn_parse_bool(const char *s)
{
    size_t n;
    const char *p = fn_trim(s, &n);
    if (!n)
        return -1;
    static const struct {
        const char *word;
        size_t min;
        int value;
    } words[] = {{"true", 1, 1}, {"false", 1, 0}, {"yes", 1, 1}, {"no", 1, 0},
                 {"on", 2, 1},   {"off", 2, 0},   {"1", 1, 1},   {"0", 1, 0}};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
        if (n >= words[i].min && n <= strlen(words[i].word) &&
            strncasecmp(p, words[i].word, n) == 0)
            return words[i].value;
    return -1;
}

static void fn_bool(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    switch (sqlite3_value_type(argv[0])) {
    case SQLITE_NULL:
        return;
    case SQLITE_INTEGER:
    case SQLITE_FLOAT:
        sqlite3_result_int(ctx, sqlite3_value_double(argv[0]) != 0);
        return;
    default: {
        const char *s = (const char *)sqlite3_value_text(argv[0]);
        int b = s ? fn_parse_bool(s) : -1;
        if (b < 0) {
            fn_bad_input(ctx, "boolean", s);
            return;
        }
        sqlite3_result_int(ctx, b);
        return;
    }
    }
}

static void fn_bytea(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    int type = sqlite3_value_type(argv[0]);
    if (type == SQLITE_NULL)
        return;
    if (type == SQLITE_BLOB) {
        sqlite3_result_value(ctx, argv[0]);
        return;
    }
    const char *s = (const char *)sqlite3_value_text(argv[0]);
    size_t n = (size_t)sqlite3_value_bytes(argv[0]);
    unsigned char *out = sqlite3_malloc64(n + 1);
    if (!s || !out) {
        sqlite3_free(out);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    size_t m;
    if (!sqlite_bytea_decode(s, n, out, &m)) {
        sqlite3_free(out);
        fn_bad_input(ctx, "bytea", s);
        return;
    }
    sqlite3_result_blob64(ctx, out, m, sqlite3_free);
}

static void fn_uuid(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
        return;
    const char *s = (const char *)sqlite3_value_text(argv[0]);
    char hex[33];
    int n = 0;
    const char *p = s ? s : "";
    bool brace = *p == '{';
    if (brace)
        p++;
    for (; *p && *p != '}'; p++) {
        if (*p == '-' && n > 0 && n % 4 == 0 && p[1] != '-')
            continue;
        if (!isxdigit((unsigned char)*p) || n == 32)
            goto bad;
        hex[n++] = (char)tolower((unsigned char)*p);
    }
    if (n != 32 || (brace != (*p == '}')) || (*p == '}' && p[1]))
        goto bad;
    hex[32] = '\0';
    char out[37];
    snprintf(out, sizeof(out), "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16,
             hex + 20);
    sqlite3_result_text(ctx, out, 36, SQLITE_TRANSIENT);
    return;
bad:
    fn_bad_input(ctx, "uuid", s);
}

/* ---- GREATEST / LEAST ---- */

/* SQLite's ordering of non-NULL values: numbers < text < blobs. */
static int fn_compare(sqlite3_value *a, sqlite3_value *b)
{
    int ta = sqlite3_value_type(a), tb = sqlite3_value_type(b);
    int ca = ta == SQLITE_INTEGER || ta == SQLITE_FLOAT ? 0 : ta == SQLITE_TEXT ? 1 : 2;
    int cb = tb == SQLITE_INTEGER || tb == SQLITE_FLOAT ? 0 : tb == SQLITE_TEXT ? 1 : 2;
    if (ca != cb)
        return ca < cb ? -1 : 1;
    if (ca == 0) {
        if (ta == SQLITE_INTEGER && tb == SQLITE_INTEGER) {
            sqlite3_int64 x = sqlite3_value_int64(a), y = sqlite3_value_int64(b);
            return x < y ? -1 : x > y;
        }
        double x = sqlite3_value_double(a), y = sqlite3_value_double(b);
        return x < y ? -1 : x > y;
    }
    const void *pa = ca == 1 ? (const void *)sqlite3_value_text(a) : sqlite3_value_blob(a);
    int na = sqlite3_value_bytes(a);
    const void *pb = cb == 1 ? (const void *)sqlite3_value_text(b) : sqlite3_value_blob(b);
    int nb = sqlite3_value_bytes(b);
    int r = memcmp(pa ? pa : "", pb ? pb : "", (size_t)(na < nb ? na : nb));
    return r ? r : na < nb ? -1 : na > nb;
}

static void fn_extreme(sqlite3_context *ctx, int argc, sqlite3_value **argv, int sign)
{
    sqlite3_value *best = NULL;
    for (int i = 0; i < argc; i++) {
        if (sqlite3_value_type(argv[i]) == SQLITE_NULL)
            continue;
        if (!best || fn_compare(argv[i], best) * sign > 0)
            best = argv[i];
    }
    if (best)
        sqlite3_result_value(ctx, best);
}

static void fn_greatest(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    fn_extreme(ctx, argc, argv, 1);
}

static void fn_least(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    fn_extreme(ctx, argc, argv, -1);
}

/* ---- LIKE ---- */

/* The next UTF-8 code point (invalid bytes stand for themselves). */
static uint32_t fn_utf8_next(const unsigned char **p, const unsigned char *end)
{
    const unsigned char *s = *p;
    uint32_t c = *s++;
    int extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
    if (extra && end - s >= extra) {
        c &= 0x3f >> extra;
        for (int i = 0; i < extra; i++)
            c = (c << 6) | (*s++ & 0x3f);
    }
    *p = s;
    return c;
}

static uint32_t fn_fold(uint32_t c, bool icase)
{
    return icase && c < 128 ? (uint32_t)tolower((int)c) : c;
}

enum { LIKE_FALSE = 0, LIKE_TRUE = 1, LIKE_ABORT = -1, LIKE_BAD_ESCAPE = -2 };

/* PostgreSQL's MatchText (like_match.c): LIKE_ABORT means the text ran out,
 * so no later start position can match either, which keeps % linear. */
static int fn_like_match(const unsigned char *t, const unsigned char *te, const unsigned char *p,
                         const unsigned char *pe, int64_t esc, bool icase)
{
    while (p < pe && t < te) {
        const unsigned char *pp = p;
        uint32_t pc = fn_utf8_next(&pp, pe);
        if (esc >= 0 && pc == (uint32_t)esc) {
            if (pp >= pe)
                return LIKE_BAD_ESCAPE;
            uint32_t lit = fn_utf8_next(&pp, pe);
            uint32_t tc = fn_utf8_next(&t, te);
            if (fn_fold(lit, icase) != fn_fold(tc, icase))
                return LIKE_FALSE;
            p = pp;
        } else if (pc == '%') {
            p = pp;
            while (p < pe) { /* %% and %_ */
                pp = p;
                pc = fn_utf8_next(&pp, pe);
                if (pc == '%') {
                    p = pp;
                } else if (pc == '_') {
                    if (t >= te)
                        return LIKE_ABORT;
                    fn_utf8_next(&t, te);
                    p = pp;
                } else {
                    break;
                }
            }
            if (p >= pe)
                return LIKE_TRUE;
            while (t < te) {
                int r = fn_like_match(t, te, p, pe, esc, icase);
                if (r != LIKE_FALSE)
                    return r;
                fn_utf8_next(&t, te);
            }
            return LIKE_ABORT;
        } else if (pc == '_') {
            fn_utf8_next(&t, te);
            p = pp;
        } else {
            uint32_t tc = fn_utf8_next(&t, te);
            if (fn_fold(pc, icase) != fn_fold(tc, icase))
                return LIKE_FALSE;
            p = pp;
        }
    }
    if (t < te)
        return LIKE_FALSE;
    while (p < pe && *p == '%')
        p++;
    return p >= pe ? LIKE_TRUE : LIKE_ABORT;
}

static void fn_like_common(sqlite3_context *ctx, int argc, sqlite3_value **argv, bool icase)
{
    for (int i = 0; i < argc; i++)
        if (sqlite3_value_type(argv[i]) == SQLITE_NULL)
            return;
    int64_t esc = '\\';
    if (argc == 3) {
        const unsigned char *e = sqlite3_value_text(argv[2]);
        int n = sqlite3_value_bytes(argv[2]);
        if (!e || n == 0) {
            esc = -1;
        } else {
            const unsigned char *q = e;
            esc = fn_utf8_next(&q, e + n);
            if (q != e + n) {
                fn_error(ctx, "22019", "invalid escape string");
                return;
            }
        }
    }
    const unsigned char *t = sqlite3_value_text(argv[0]);
    int tn = sqlite3_value_bytes(argv[0]);
    const unsigned char *p = sqlite3_value_text(argv[1]);
    int pn = sqlite3_value_bytes(argv[1]);
    if (!t || !p) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    int r = fn_like_match(t, t + tn, p, p + pn, esc, icase);
    if (r == LIKE_BAD_ESCAPE) {
        fn_error(ctx, "22025", "LIKE pattern must not end with escape character");
        return;
    }
    sqlite3_result_int(ctx, r == LIKE_TRUE);
}

static void fn_like(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    fn_like_common(ctx, argc, argv, false);
}

static void fn_ilike(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    fn_like_common(ctx, argc, argv, true);
}

/* ---- regular expressions ---- */

typedef struct fn_regex {
    regex_t re;
    bool icase;
} fn_regex;

static void fn_regex_free(void *p)
{
    fn_regex *r = p;
    regfree(&r->re);
    sqlite3_free(r);
}

/* POSIX ERE lacks \d and \D; glibc knows \w \W \s \S \b \B. */
static char *fn_regex_rewrite(const char *p)
{
    size_t n = strlen(p);
    char *out = sqlite3_malloc64(n * 6 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    bool bracket = false;
    for (size_t i = 0; i < n; i++) {
        if (!bracket && p[i] == '\\' && (p[i + 1] == 'd' || p[i + 1] == 'D')) {
            const char *rep = p[i + 1] == 'd' ? "[0-9]" : "[^0-9]";
            memcpy(out + o, rep, strlen(rep));
            o += strlen(rep);
            i++;
            continue;
        }
        if (!bracket && p[i] == '\\' && p[i + 1]) {
            out[o++] = p[i++];
            out[o++] = p[i];
            continue;
        }
        if (!bracket && p[i] == '[') {
            bracket = true;
            out[o++] = p[i];
            if (p[i + 1] == '^')
                out[o++] = p[++i];
            if (p[i + 1] == ']')
                out[o++] = p[++i];
            continue;
        }
        if (bracket && p[i] == '[' && (p[i + 1] == ':' || p[i + 1] == '.' || p[i + 1] == '=')) {
            char close = p[i + 1];
            const char *end = strchr(p + i + 2, close);
            if (end && end[1] == ']') {
                size_t len = (size_t)(end + 2 - (p + i));
                memcpy(out + o, p + i, len);
                o += len;
                i += len - 1;
                continue;
            }
        }
        if (bracket && p[i] == ']')
            bracket = false;
        out[o++] = p[i];
    }
    out[o] = '\0';
    return out;
}

static void fn_regex_match(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL)
        return;
    bool icase = sqlite3_value_int(argv[2]) != 0;
    fn_regex *r = sqlite3_get_auxdata(ctx, 1);
    if (!r || r->icase != icase) {
        const char *pat = (const char *)sqlite3_value_text(argv[1]);
        char *rewritten = pat ? fn_regex_rewrite(pat) : NULL;
        r = sqlite3_malloc(sizeof(*r));
        if (!rewritten || !r) {
            sqlite3_free(rewritten);
            sqlite3_free(r);
            sqlite3_result_error_nomem(ctx);
            return;
        }
        r->icase = icase;
        int rc = regcomp(&r->re, rewritten, REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0));
        sqlite3_free(rewritten);
        if (rc != 0) {
            char why[200];
            regerror(rc, &r->re, why, sizeof(why));
            sqlite3_free(r);
            fn_error(ctx, "2201B", "invalid regular expression: %s", why);
            return;
        }
        sqlite3_set_auxdata(ctx, 1, r, fn_regex_free);
        r = sqlite3_get_auxdata(ctx, 1); /* NULL if SQLite could not keep it */
        if (!r) {
            sqlite3_result_error_nomem(ctx);
            return;
        }
    }
    const char *s = (const char *)sqlite3_value_text(argv[0]);
    if (!s) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sqlite3_result_int(ctx, regexec(&r->re, s, 0, NULL, 0) == 0);
}

/* ---- PostgreSQL functions under their own names ---- */

static void fn_version(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    sqlite3_result_text(ctx,
                        "PostgreSQL 16.0 (Dormouse " DORMOUSE_VERSION
                        ") on x86_64-pc-linux-gnu, compiled by gcc, 64-bit",
                        -1, SQLITE_STATIC);
}

static void fn_current_database(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    storage_conn *c = sqlite3_user_data(ctx);
    sqlite3_result_text(ctx, c->db->name, -1, SQLITE_TRANSIENT);
}

/* current_user, session_user, current_role: the connection's role. */
static void fn_current_user(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    storage_conn *c = sqlite3_user_data(ctx);
    sqlite3_result_text(ctx, c->user && c->user[0] ? c->user : c->db->name, -1,
                        SQLITE_TRANSIENT);
}

/* Sleeps in short slices so that a cancel (storage_conn_interrupt) stops
 * it: the progress handler does not run while a function does. */
static void fn_pg_sleep(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    storage_conn *c = sqlite3_user_data(ctx);
    double secs = sqlite3_value_double(argv[0]);
    int64_t end = fn_now_usec() + (int64_t)(secs > 0 ? secs * 1e6 : 0);
    for (;;) {
        if (atomic_load(&c->cancel)) {
            sqlite3_result_error_code(ctx, SQLITE_INTERRUPT);
            return;
        }
        int64_t left = end - fn_now_usec();
        if (left <= 0)
            break;
        if (left > 10000)
            left = 10000;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)left * 1000};
        nanosleep(&ts, NULL);
    }
    sqlite3_result_null(ctx);
}

static void fn_gen_random_uuid(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    unsigned char b[16];
    sqlite3_randomness(sizeof(b), b);
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char out[37];
    snprintf(out, sizeof(out),
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
             b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
             b[15]);
    sqlite3_result_text(ctx, out, 36, SQLITE_TRANSIENT);
}

static void fn_random(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    uint64_t r;
    sqlite3_randomness(sizeof(r), &r);
    sqlite3_result_double(ctx, (double)(r >> 11) * (1.0 / 9007199254740992.0));
}

/* ---- arithmetic ---- */

/* The numeric value of an operand, text converted as SQLite's operators do. */
static int fn_arith_operand(sqlite3_value *v, int64_t *i, double *d)
{
    int t = sqlite3_value_numeric_type(v);
    if (t == SQLITE_INTEGER) {
        *i = sqlite3_value_int64(v);
        *d = (double)*i;
    } else {
        t = SQLITE_FLOAT;
        *d = sqlite3_value_double(v);
        *i = 0;
    }
    return t;
}

/* dm_div(a, b) / dm_mod(a, b): PostgreSQL's / and %: NULL in, NULL out; a
 * zero divisor fails with 22012; integers divide truncating toward zero. */
static void fn_divmod(sqlite3_context *ctx, sqlite3_value **argv, bool mod)
{
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    int64_t ai, bi;
    double ad, bd;
    int ta = fn_arith_operand(argv[0], &ai, &ad);
    int tb = fn_arith_operand(argv[1], &bi, &bd);
    if (tb == SQLITE_INTEGER ? bi == 0 : bd == 0.0) {
        fn_error(ctx, "22012", "division by zero");
        return;
    }
    if (ta == SQLITE_INTEGER && tb == SQLITE_INTEGER) {
        if (bi == -1) {
            if (mod) {
                sqlite3_result_int64(ctx, 0);
            } else if (ai == INT64_MIN) {
                fn_error(ctx, "22003", "bigint out of range");
            } else {
                sqlite3_result_int64(ctx, -ai);
            }
            return;
        }
        sqlite3_result_int64(ctx, mod ? ai % bi : ai / bi);
        return;
    }
    sqlite3_result_double(ctx, mod ? fmod(ad, bd) : ad / bd);
}

static void fn_div(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    fn_divmod(ctx, argv, false);
}

static void fn_mod(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    fn_divmod(ctx, argv, true);
}

/* dm_xor(a, b): PostgreSQL's integer # (bitwise xor): NULL in, NULL out;
 * operands are read as integers the way SQLite's | and & read them. */
static void fn_xor(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL || sqlite3_value_type(argv[1]) == SQLITE_NULL) {
        sqlite3_result_null(ctx);
        return;
    }
    sqlite3_result_int64(ctx, sqlite3_value_int64(argv[0]) ^ sqlite3_value_int64(argv[1]));
}

/* ---- session parameters (sqlite_session.c) ---- */

/* current_setting(name [, missing_ok]) */
static void fn_current_setting(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    const char *name = (const char *)sqlite3_value_text(argv[0]);
    if (!name || (argc > 1 && sqlite3_value_type(argv[1]) == SQLITE_NULL)) {
        sqlite3_result_null(ctx);
        return;
    }
    const char *v = sqlite_session_get(sqlite3_user_data(ctx), name);
    if (v) {
        sqlite3_result_text(ctx, v, -1, SQLITE_TRANSIENT);
    } else if (argc > 1 && sqlite3_value_int(argv[1])) {
        sqlite3_result_null(ctx);
    } else {
        fn_error(ctx, "42704", "unrecognized configuration parameter \"%.200s\"", name);
    }
}

/* set_config(name, value, is_local): is_local is treated as the session. */
static void fn_set_config(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    const char *name = (const char *)sqlite3_value_text(argv[0]);
    if (!name) {
        fn_error(ctx, "22004", "SET requires parameter name");
        return;
    }
    const char *value = (const char *)sqlite3_value_text(argv[1]);
    char err[400];
    if (!sqlite_session_set(sqlite3_user_data(ctx), name, value ? value : "", err, sizeof(err))) {
        sqlite3_result_error(ctx, err, -1);
        return;
    }
    sqlite3_result_text(ctx, value ? value : "", -1, SQLITE_TRANSIENT);
}

/* pg_advisory_unlock_all(): there are no advisory locks to release. */
static void fn_advisory_unlock_all(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    (void)argv;
    sqlite3_result_null(ctx);
}

/* ---- registration ---- */

#define FN_PURE (SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS)
#define FN_VOLATILE (SQLITE_UTF8 | SQLITE_INNOCUOUS)

typedef struct fn_def {
    const char *name;
    int nargs;
    int flags;
    void (*fn)(sqlite3_context *, int, sqlite3_value **);
} fn_def;

static const fn_def fn_defs[] = {
    {"now", 0, FN_VOLATILE, fn_now},
    {"dm_now", 1, FN_VOLATILE, fn_now},
    {"dm_localtimestamp", 0, FN_VOLATILE, fn_localtimestamp},
    {"dm_localtimestamp", 1, FN_VOLATILE, fn_localtimestamp},
    {"dm_current_date", 0, FN_VOLATILE, fn_current_date},
    {"dm_current_time", 0, FN_VOLATILE, fn_current_time},
    {"dm_current_time", 1, FN_VOLATILE, fn_current_time},
    {"dm_localtime", 0, FN_VOLATILE, fn_localtime},
    {"dm_localtime", 1, FN_VOLATILE, fn_localtime},
    {"dm_int2", 1, FN_PURE, fn_int2},
    {"dm_int4", 1, FN_PURE, fn_int4},
    {"dm_int8", 1, FN_PURE, fn_int8},
    {"dm_float8", 1, FN_PURE, fn_float8},
    {"dm_numeric", 1, FN_PURE, fn_numeric},
    {"dm_numeric_in", 3, FN_PURE, fn_numeric_in},
    {"dm_json_in", 2, FN_PURE, fn_json_in},
    {"dm_interval", 1, FN_PURE, fn_interval},
    {"dm_extract", 2, FN_PURE, fn_extract},
    {"dm_date_part", 2, FN_PURE, fn_date_part},
    {"dm_date_trunc", 2, FN_PURE, fn_date_trunc},
    {"dm_timetz", 1, FN_PURE, fn_timetz},
    {"dm_bool", 1, FN_PURE, fn_bool},
    {"dm_bytea", 1, FN_PURE, fn_bytea},
    {"dm_uuid", 1, FN_PURE, fn_uuid},
    /* 'now' and 'today' make these depend on the clock */
    {"dm_date", 1, FN_VOLATILE, fn_date},
    {"dm_time", 1, FN_VOLATILE, fn_time},
    {"dm_timestamp", 1, FN_VOLATILE, fn_timestamp},
    {"dm_timestamptz", 1, FN_VOLATILE, fn_timestamptz},
    {"dm_greatest", -1, FN_PURE, fn_greatest},
    {"dm_least", -1, FN_PURE, fn_least},
    {"dm_like", 2, FN_PURE, fn_like},
    {"dm_like", 3, FN_PURE, fn_like},
    {"dm_ilike", 2, FN_PURE, fn_ilike},
    {"dm_ilike", 3, FN_PURE, fn_ilike},
    {"dm_regex", 3, FN_PURE, fn_regex_match},
    {"dm_random", 0, FN_VOLATILE, fn_random},
    {"dm_div", 2, FN_PURE, fn_div},
    {"current_setting", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY, fn_current_setting},
    {"current_setting", 2, SQLITE_UTF8 | SQLITE_DIRECTONLY, fn_current_setting},
    {"set_config", 3, SQLITE_UTF8 | SQLITE_DIRECTONLY, fn_set_config},
    {"pg_advisory_unlock_all", 0, SQLITE_UTF8 | SQLITE_DIRECTONLY, fn_advisory_unlock_all},
    {"dm_mod", 2, FN_PURE, fn_mod},
    {"dm_xor", 2, FN_PURE, fn_xor},
    {"gen_random_uuid", 0, FN_VOLATILE, fn_gen_random_uuid},
    {"version", 0, FN_PURE, fn_version},
    {"current_database", 0, FN_PURE, fn_current_database},
    {"dm_current_user", 0, FN_PURE, fn_current_user},
    {"pg_sleep", 1, SQLITE_UTF8 | SQLITE_DIRECTONLY, fn_pg_sleep},
};

int sqlite_functions_register(sqlite3 *db, storage_conn *c)
{
    for (size_t i = 0; i < sizeof(fn_defs) / sizeof(fn_defs[0]); i++) {
        const fn_def *d = &fn_defs[i];
        int rc =
            sqlite3_create_function_v2(db, d->name, d->nargs, d->flags, c, d->fn, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            return rc;
    }
    int rc = sqlite_coltypes_register(db);
    if (rc == SQLITE_OK)
        rc = catalog_register_aggregates(db);
    if (rc != SQLITE_OK)
        return rc;
    /* numeric columns keep exact text and order it as numbers (translate.c) */
    return sqlite3_create_collation_v2(db, "dm_numeric", SQLITE_UTF8, NULL,
                                       sqlite_numeric_collate, NULL);
}
