/*
 * sqlite_types.c: what a SQLite column is in PostgreSQL terms, and how its
 * values print.
 *
 * SQLite keeps the declared type of a table column as written in CREATE TABLE
 * (sqlite3_column_decltype); one table maps those names to type OIDs, lengths
 * and output formats.  Expression columns have no declared type, so their type
 * comes from the storage class of the first value.  Values then print the way
 * PostgreSQL's output functions print them: shortest round-trip floats, t/f
 * booleans, \x hex bytea.  Text in a bytea column is the input form of a bytea
 * (a client's '\x0102' literal, stored by SQLite as text) and prints as the
 * bytes it denotes.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dormouse/wire.h"
#include "pgbinary.h"
#include "sqlite_json.h"
#include "sqlite_numeric.h"
#include "sqlite_types.h"


const char *sqlite_type_format_str(sqlite_type_format f)
{
    switch (f) {
    case SQLITE_TYPE_FORMAT_TEXT:
        return "text";
    case SQLITE_TYPE_FORMAT_INT:
        return "int";
    case SQLITE_TYPE_FORMAT_FLOAT8:
        return "float8";
    case SQLITE_TYPE_FORMAT_FLOAT4:
        return "float4";
    case SQLITE_TYPE_FORMAT_NUMERIC:
        return "numeric";
    case SQLITE_TYPE_FORMAT_BOOL:
        return "bool";
    case SQLITE_TYPE_FORMAT_BYTEA:
        return "bytea";
    case SQLITE_TYPE_FORMAT_UUID:
        return "uuid";
    case SQLITE_TYPE_FORMAT_BPCHAR:
        return "bpchar";
    case SQLITE_TYPE_FORMAT_JSONB:
        return "jsonb";
    }
    return "unknown";
}

/* How the "(...)" of a declaration becomes a typmod. */
typedef enum sqlite_typmod_rule {
    SQLITE_TYPMOD_NONE = 0,
    SQLITE_TYPMOD_LENGTH,     /* varchar(n), char(n): n + 4 */
    SQLITE_TYPMOD_LENGTH_ONE, /* char without (n) is char(1) */
    SQLITE_TYPMOD_NUMERIC,    /* numeric(p[,s]): ((p << 16) | s) + 4 */
    SQLITE_TYPMOD_PRECISION,  /* time(p), timestamp(p), interval(p): p */
    SQLITE_TYPMOD_FLOAT,      /* float(p): float4 when p <= 24 */
} sqlite_typmod_rule;

typedef struct sqlite_type_entry {
    const char *name; /* lower case, single spaces, without "(...)" */
    uint32_t oid;
    int16_t len;
    sqlite_type_format format;
    sqlite_typmod_rule typmod;
} sqlite_type_entry;

static const sqlite_type_entry sqlite_type_table[] = {
    {"int", WIRE_OID_INT4, 4, SQLITE_TYPE_FORMAT_INT, SQLITE_TYPMOD_NONE},
    {"integer", WIRE_OID_INT4, 4, SQLITE_TYPE_FORMAT_INT, SQLITE_TYPMOD_NONE},
    {"int4", WIRE_OID_INT4, 4, SQLITE_TYPE_FORMAT_INT, SQLITE_TYPMOD_NONE},
    {"serial", WIRE_OID_INT4, 4, SQLITE_TYPE_FORMAT_INT, SQLITE_TYPMOD_NONE},
    {"serial4", WIRE_OID_INT4, 4, SQLITE_TYPE_FORMAT_INT, SQLITE_TYPMOD_NONE},
    {"bigint", WIRE_OID_INT8, 8, SQLITE_TYPE_FORMAT_INT, SQLITE_TYPMOD_NONE},
    {"int8", WIRE_OID_INT8, 8, SQLITE_TYPE_FORMAT_INT, SQLITE_TYPMOD_NONE},
    {"bigserial", WIRE_OID_INT8, 8, SQLITE_TYPE_FORMAT_INT, SQLITE_TYPMOD_NONE},
    {"serial8", WIRE_OID_INT8, 8, SQLITE_TYPE_FORMAT_INT, SQLITE_TYPMOD_NONE},
    {"smallint", WIRE_OID_INT2, 2, SQLITE_TYPE_FORMAT_INT, SQLITE_TYPMOD_NONE},
    {"int2", WIRE_OID_INT2, 2, SQLITE_TYPE_FORMAT_INT, SQLITE_TYPMOD_NONE},
    {"smallserial", WIRE_OID_INT2, 2, SQLITE_TYPE_FORMAT_INT, SQLITE_TYPMOD_NONE},
    {"serial2", WIRE_OID_INT2, 2, SQLITE_TYPE_FORMAT_INT, SQLITE_TYPMOD_NONE},
    {"oid", WIRE_OID_OID, 4, SQLITE_TYPE_FORMAT_INT, SQLITE_TYPMOD_NONE},
    {"text", WIRE_OID_TEXT, -1, SQLITE_TYPE_FORMAT_TEXT, SQLITE_TYPMOD_NONE},
    {"varchar", WIRE_OID_VARCHAR, -1, SQLITE_TYPE_FORMAT_TEXT, SQLITE_TYPMOD_LENGTH},
    {"character varying", WIRE_OID_VARCHAR, -1, SQLITE_TYPE_FORMAT_TEXT, SQLITE_TYPMOD_LENGTH},
    {"char", WIRE_OID_BPCHAR, -1, SQLITE_TYPE_FORMAT_BPCHAR, SQLITE_TYPMOD_LENGTH_ONE},
    {"character", WIRE_OID_BPCHAR, -1, SQLITE_TYPE_FORMAT_BPCHAR, SQLITE_TYPMOD_LENGTH_ONE},
    {"bpchar", WIRE_OID_BPCHAR, -1, SQLITE_TYPE_FORMAT_BPCHAR, SQLITE_TYPMOD_LENGTH},
    {"name", WIRE_OID_NAME, 64, SQLITE_TYPE_FORMAT_TEXT, SQLITE_TYPMOD_NONE},
    {"real", WIRE_OID_FLOAT4, 4, SQLITE_TYPE_FORMAT_FLOAT4, SQLITE_TYPMOD_NONE},
    {"float4", WIRE_OID_FLOAT4, 4, SQLITE_TYPE_FORMAT_FLOAT4, SQLITE_TYPMOD_NONE},
    {"double precision", WIRE_OID_FLOAT8, 8, SQLITE_TYPE_FORMAT_FLOAT8, SQLITE_TYPMOD_NONE},
    {"double", WIRE_OID_FLOAT8, 8, SQLITE_TYPE_FORMAT_FLOAT8, SQLITE_TYPMOD_NONE},
    {"float8", WIRE_OID_FLOAT8, 8, SQLITE_TYPE_FORMAT_FLOAT8, SQLITE_TYPMOD_NONE},
    {"float", WIRE_OID_FLOAT8, 8, SQLITE_TYPE_FORMAT_FLOAT8, SQLITE_TYPMOD_FLOAT},
    {"numeric", WIRE_OID_NUMERIC, -1, SQLITE_TYPE_FORMAT_NUMERIC, SQLITE_TYPMOD_NUMERIC},
    {"decimal", WIRE_OID_NUMERIC, -1, SQLITE_TYPE_FORMAT_NUMERIC, SQLITE_TYPMOD_NUMERIC},
    /* how translate.c declares numeric columns: TEXT affinity keeps every digit */
    {"numeric text", WIRE_OID_NUMERIC, -1, SQLITE_TYPE_FORMAT_NUMERIC, SQLITE_TYPMOD_NUMERIC},
    {"bytea", WIRE_OID_BYTEA, -1, SQLITE_TYPE_FORMAT_BYTEA, SQLITE_TYPMOD_NONE},
    {"blob", WIRE_OID_BYTEA, -1, SQLITE_TYPE_FORMAT_BYTEA, SQLITE_TYPMOD_NONE},
    {"boolean", WIRE_OID_BOOL, 1, SQLITE_TYPE_FORMAT_BOOL, SQLITE_TYPMOD_NONE},
    {"bool", WIRE_OID_BOOL, 1, SQLITE_TYPE_FORMAT_BOOL, SQLITE_TYPMOD_NONE},
    {"date", WIRE_OID_DATE, 4, SQLITE_TYPE_FORMAT_TEXT, SQLITE_TYPMOD_NONE},
    {"time", WIRE_OID_TIME, 8, SQLITE_TYPE_FORMAT_TEXT, SQLITE_TYPMOD_PRECISION},
    {"time without time zone", WIRE_OID_TIME, 8, SQLITE_TYPE_FORMAT_TEXT, SQLITE_TYPMOD_PRECISION},
    {"timetz", WIRE_OID_TIMETZ, 12, SQLITE_TYPE_FORMAT_TEXT, SQLITE_TYPMOD_PRECISION},
    {"time with time zone", WIRE_OID_TIMETZ, 12, SQLITE_TYPE_FORMAT_TEXT,
     SQLITE_TYPMOD_PRECISION},
    {"timestamp", WIRE_OID_TIMESTAMP, 8, SQLITE_TYPE_FORMAT_TEXT, SQLITE_TYPMOD_PRECISION},
    {"timestamp without time zone", WIRE_OID_TIMESTAMP, 8, SQLITE_TYPE_FORMAT_TEXT,
     SQLITE_TYPMOD_PRECISION},
    {"timestamptz", WIRE_OID_TIMESTAMPTZ, 8, SQLITE_TYPE_FORMAT_TEXT, SQLITE_TYPMOD_PRECISION},
    {"timestamp with time zone", WIRE_OID_TIMESTAMPTZ, 8, SQLITE_TYPE_FORMAT_TEXT,
     SQLITE_TYPMOD_PRECISION},
    {"interval", WIRE_OID_INTERVAL, 16, SQLITE_TYPE_FORMAT_TEXT, SQLITE_TYPMOD_PRECISION},
    {"uuid", WIRE_OID_UUID, 16, SQLITE_TYPE_FORMAT_UUID, SQLITE_TYPMOD_NONE},
    {"json", WIRE_OID_JSON, -1, SQLITE_TYPE_FORMAT_TEXT, SQLITE_TYPMOD_NONE},
    {"jsonb", WIRE_OID_JSONB, -1, SQLITE_TYPE_FORMAT_JSONB, SQLITE_TYPMOD_NONE},
};

static void sqlite_type_text(sqlite_pg_type *out)
{
    out->oid = WIRE_OID_TEXT;
    out->len = -1;
    out->typmod = -1;
    out->format = SQLITE_TYPE_FORMAT_TEXT;
}

/* Splits a declaration into its lower-case name with single spaces and up to
 * two integer modifiers.  Returns false for what no table entry can match
 * (arrays, malformed modifiers, overlong names). */
static bool sqlite_decltype_split(const char *decl, char *name, size_t namelen, long mods[2],
                                  int *nmods)
{
    size_t n = 0;
    bool space = false;
    *nmods = 0;
    for (const char *p = decl; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '(') {
            if (*nmods > 0)
                return false;
            p++;
            for (;;) {
                while (isspace((unsigned char)*p))
                    p++;
                char *end;
                long v = strtol(p, &end, 10);
                if (end == p || *nmods == 2)
                    return false;
                mods[(*nmods)++] = v;
                p = end;
                while (isspace((unsigned char)*p))
                    p++;
                if (*p == ',') {
                    p++;
                    continue;
                }
                if (*p != ')')
                    return false;
                break;
            }
            space = n > 0;
            continue;
        }
        if (isspace(ch)) {
            space = n > 0;
            continue;
        }
        if (!isalnum(ch) && ch != '_')
            return false;
        if (n + 2 >= namelen)
            return false;
        if (space)
            name[n++] = ' ';
        space = false;
        name[n++] = (char)tolower(ch);
    }
    name[n] = '\0';
    return n > 0;
}

bool sqlite_type_from_decltype(const char *decl, sqlite_pg_type *out)
{
    char name[64];
    long mods[2] = {0, 0};
    int nmods = 0;

    sqlite_type_text(out);
    if (!decl || !sqlite_decltype_split(decl, name, sizeof(name), mods, &nmods))
        return false;

    for (size_t i = 0; i < sizeof(sqlite_type_table) / sizeof(sqlite_type_table[0]); i++) {
        const sqlite_type_entry *t = &sqlite_type_table[i];
        if (strcmp(t->name, name) != 0)
            continue;
        out->oid = t->oid;
        out->len = t->len;
        out->format = t->format;
        out->typmod = -1;
        switch (t->typmod) {
        case SQLITE_TYPMOD_NONE:
            break;
        case SQLITE_TYPMOD_LENGTH_ONE:
            out->typmod = nmods ? (int32_t)mods[0] + 4 : 5;
            break;
        case SQLITE_TYPMOD_LENGTH:
            if (nmods)
                out->typmod = (int32_t)mods[0] + 4;
            break;
        case SQLITE_TYPMOD_NUMERIC:
            if (nmods)
                out->typmod = (int32_t)((mods[0] << 16) | (nmods > 1 ? mods[1] : 0)) + 4;
            break;
        case SQLITE_TYPMOD_PRECISION:
            if (nmods)
                out->typmod = (int32_t)mods[0];
            break;
        case SQLITE_TYPMOD_FLOAT:
            if (nmods && mods[0] <= 24) {
                out->oid = WIRE_OID_FLOAT4;
                out->len = 4;
                out->format = SQLITE_TYPE_FORMAT_FLOAT4;
            }
            break;
        }
        return true;
    }
    return false;
}

void sqlite_type_from_value(int storage_class, sqlite3_int64 i, sqlite_pg_type *out)
{
    sqlite_type_text(out);
    switch (storage_class) {
    case SQLITE_INTEGER:
        if (i >= INT32_MIN && i <= INT32_MAX) {
            out->oid = WIRE_OID_INT4;
            out->len = 4;
        } else {
            out->oid = WIRE_OID_INT8;
            out->len = 8;
        }
        out->format = SQLITE_TYPE_FORMAT_INT;
        break;
    case SQLITE_FLOAT:
        out->oid = WIRE_OID_FLOAT8;
        out->len = 8;
        out->format = SQLITE_TYPE_FORMAT_FLOAT8;
        break;
    case SQLITE_BLOB:
        out->oid = WIRE_OID_BYTEA;
        out->format = SQLITE_TYPE_FORMAT_BYTEA;
        break;
    default:
        break;
    }
}

/* ---- numbers ---- */

/* The shortest decimal digits, at most `max`, that read back as v (v finite,
 * not zero-checked): digits without a dot into `digits`, the decimal exponent
 * of the first digit into *exp10. */
static int sqlite_shortest_digits(double v, int max, bool as_float, char *digits, int *exp10)
{
    char tmp[40];
    for (int prec = 1; prec <= max; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, v);
        bool same = as_float ? strtof(tmp, NULL) == (float)v : strtod(tmp, NULL) == v;
        if (same || prec == max)
            break;
    }
    /* tmp is [-]d[.ddd]e(+|-)xx */
    const char *p = tmp;
    if (*p == '-')
        p++;
    int n = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.')
            digits[n++] = *p;
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
    *exp10 = atoi(p + 1);
    return n;
}

/* Renders digits d1d2... x 10^exp10 in PostgreSQL's style: plain notation when
 * low <= exp10 < high, else d.ddde[+-]xx. */
static size_t sqlite_render_decimal(bool negative, const char *digits, int n, int exp10, int low,
                                    int high, char *buf, size_t len)
{
    char out[400];
    size_t o = 0;
    if (negative)
        out[o++] = '-';
    if (exp10 < low || exp10 >= high) {
        out[o++] = digits[0];
        if (n > 1) {
            out[o++] = '.';
            memcpy(out + o, digits + 1, (size_t)n - 1);
            o += (size_t)n - 1;
        }
        o += (size_t)snprintf(out + o, sizeof(out) - o, "e%c%02d", exp10 < 0 ? '-' : '+',
                              exp10 < 0 ? -exp10 : exp10);
    } else if (exp10 >= 0) {
        for (int i = 0; i <= exp10; i++)
            out[o++] = i < n ? digits[i] : '0';
        if (n > exp10 + 1) {
            out[o++] = '.';
            for (int i = exp10 + 1; i < n; i++)
                out[o++] = digits[i];
        }
    } else {
        out[o++] = '0';
        out[o++] = '.';
        for (int i = 0; i < -exp10 - 1; i++)
            out[o++] = '0';
        memcpy(out + o, digits, (size_t)n);
        o += (size_t)n;
    }
    out[o] = '\0';
    snprintf(buf, len, "%s", out);
    return o < len ? o : len - 1;
}

static size_t sqlite_format_special(double v, char *buf, size_t len)
{
    if (isnan(v))
        return (size_t)snprintf(buf, len, "NaN");
    return (size_t)snprintf(buf, len, "%s", v > 0 ? "Infinity" : "-Infinity");
}

size_t sqlite_format_float8(double v, char *buf, size_t len)
{
    if (!isfinite(v))
        return sqlite_format_special(v, buf, len);
    char digits[32];
    int exp10;
    int n = sqlite_shortest_digits(v, 17, false, digits, &exp10);
    return sqlite_render_decimal(signbit(v), digits, n, exp10, -4, 15, buf, len);
}

size_t sqlite_format_float4(float v, char *buf, size_t len)
{
    if (!isfinite(v))
        return sqlite_format_special(v, buf, len);
    char digits[32];
    int exp10;
    int n = sqlite_shortest_digits(v, 9, true, digits, &exp10);
    return sqlite_render_decimal(signbit(v), digits, n, exp10, -4, 6, buf, len);
}

size_t sqlite_format_numeric(double v, char *buf, size_t len)
{
    if (!isfinite(v))
        return sqlite_format_special(v, buf, len);
    if (v == 0)
        return (size_t)snprintf(buf, len, "0");
    char digits[32];
    int exp10;
    /* 15 significant digits, as PostgreSQL's float8-to-numeric cast keeps
     * (0.1 + 0.2 is 0.3 as a numeric) */
    int n = sqlite_shortest_digits(v, 15, false, digits, &exp10);
    return sqlite_render_decimal(v < 0, digits, n, exp10, -1000, 1000, buf, len);
}

/* ---- values ---- */

static bool sqlite_scratch_reserve(char **scratch, size_t *cap, size_t need)
{
    if (*cap >= need)
        return true;
    size_t ncap = *cap ? *cap : 256;
    while (ncap < need)
        ncap *= 2;
    char *p = realloc(*scratch, ncap);
    if (!p)
        return false;
    *scratch = p;
    *cap = ncap;
    return true;
}

static int sqlite_hex_digit(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool sqlite_is_octal(char c)
{
    return c >= '0' && c <= '7';
}

bool sqlite_bytea_decode(const char *text, size_t n, unsigned char *out, size_t *outlen)
{
    size_t o = 0;
    *outlen = 0;
    if (n >= 2 && text[0] == '\\' && text[1] == 'x') {
        for (size_t i = 2; i < n;) {
            char c = text[i];
            if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
                i++;
                continue;
            }
            if (i + 1 >= n)
                return false; /* odd number of digits */
            int hi = sqlite_hex_digit((unsigned char)text[i]);
            int lo = sqlite_hex_digit((unsigned char)text[i + 1]);
            if (hi < 0 || lo < 0)
                return false;
            out[o++] = (unsigned char)(hi << 4 | lo);
            i += 2;
        }
        *outlen = o;
        return true;
    }
    for (size_t i = 0; i < n;) {
        if (text[i] != '\\') {
            out[o++] = (unsigned char)text[i++];
        } else if (i + 3 < n && text[i + 1] >= '0' && text[i + 1] <= '3' &&
                   sqlite_is_octal(text[i + 2]) && sqlite_is_octal(text[i + 3])) {
            out[o++] = (unsigned char)((text[i + 1] - '0') << 6 | (text[i + 2] - '0') << 3 |
                                       (text[i + 3] - '0'));
            i += 4;
        } else if (i + 1 < n && text[i + 1] == '\\') {
            out[o++] = '\\';
            i += 2;
        } else {
            return false;
        }
    }
    *outlen = o;
    return true;
}

/* \x and lower-case hex of n bytes into dst (2n + 2 bytes); returns the length. */
static int32_t sqlite_bytea_hex(const unsigned char *p, size_t n, char *dst)
{
    static const char hex[] = "0123456789abcdef";
    char *o = dst;
    *o++ = '\\';
    *o++ = 'x';
    for (size_t i = 0; i < n; i++) {
        *o++ = hex[p[i] >> 4];
        *o++ = hex[p[i] & 15];
    }
    return (int32_t)(o - dst);
}

/* numeric: the exact text a numeric column keeps (or an integer, or a double
 * from an expression or an older table) printed as numeric_out prints it, at
 * the declared scale when there is one.  Text that is no number prints as
 * stored. */
static int32_t sqlite_numeric_out(const sqlite_pg_type *t, sqlite3_stmt *st, int col, int type,
                                  char **scratch, size_t *cap, const char **out)
{
    char num[512];
    const char *txt;
    size_t n;
    if (type == SQLITE_FLOAT) {
        n = sqlite_format_numeric(sqlite3_column_double(st, col), num, sizeof(num));
        txt = num;
    } else {
        txt = (const char *)sqlite3_column_text(st, col);
        if (!txt)
            return -2;
        n = (size_t)sqlite3_column_bytes(st, col);
    }
    int scale = t->typmod >= 4 ? (int)((t->typmod - 4) & 0xffff) : -1;
    if (type == SQLITE_FLOAT && scale < 0)
        goto as_is;
    /* the digits, then the output after them */
    if (!sqlite_scratch_reserve(scratch, cap, n + 64))
        return -2;
    sqlite_decimal d;
    if (!sqlite_decimal_parse(txt, n, *scratch, &d))
        goto as_is;
    size_t need = sqlite_decimal_format(&d, scale, *scratch + n, *cap - n);
    if (need >= *cap - n) {
        if (!sqlite_scratch_reserve(scratch, cap, n + need + 1))
            return -2;
        /* the digits moved with the buffer */
        sqlite_decimal_parse(txt, n, *scratch, &d);
        need = sqlite_decimal_format(&d, scale, *scratch + n, *cap - n);
    }
    *out = *scratch + n;
    return (int32_t)need;
as_is:
    if (txt == num) {
        if (!sqlite_scratch_reserve(scratch, cap, n + 1))
            return -2;
        memcpy(*scratch, num, n + 1);
        txt = *scratch;
    }
    *out = txt;
    return (int32_t)n;
}

/* uuid: uuid_in accepts upper case, braces and missing hyphens (in groups
 * of four); uuid_out prints lower-case 8-4-4-4-12. */
static int32_t sqlite_uuid_out(sqlite3_stmt *st, int col, char **scratch, size_t *cap,
                               const char **out)
{
    const char *txt = (const char *)sqlite3_column_text(st, col);
    if (!txt)
        return -2;
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    char hex[32];
    int nhex = 0;
    size_t i = 0, end = n;
    if (n >= 2 && txt[0] == '{' && txt[n - 1] == '}') {
        i = 1;
        end = n - 1;
    }
    for (; i < end; i++) {
        int v = sqlite_hex_digit((unsigned char)txt[i]);
        if (v >= 0 && nhex < 32)
            hex[nhex++] = "0123456789abcdef"[v];
        else if (txt[i] != '-' || nhex % 4 != 0)
            break;
    }
    if (i != end || nhex != 32) {
        *out = txt;
        return (int32_t)n;
    }
    if (!sqlite_scratch_reserve(scratch, cap, 37))
        return -2;
    char *o = *scratch;
    for (int k = 0; k < 32; k++) {
        if (k == 8 || k == 12 || k == 16 || k == 20)
            *o++ = '-';
        *o++ = hex[k];
    }
    *o = '\0';
    *out = *scratch;
    return 36;
}

/* char(n) and varchar(n): what bpcharin / varcharin store, printed.  Both
 * drop spaces beyond n characters (longer values are refused by the
 * column's CHECK, see translate.c); char(n) pads with spaces to n.  SQLite keeps
 * what was inserted. */
static int32_t sqlite_bpchar_out(const sqlite_pg_type *t, sqlite3_stmt *st, int col,
                                 char **scratch, size_t *cap, const char **out)
{
    const char *txt = (const char *)sqlite3_column_text(st, col);
    if (!txt)
        return -2;
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    size_t chars = 0;
    for (size_t i = 0; i < n; i++)
        chars += ((unsigned char)txt[i] & 0xC0) != 0x80;
    size_t want = (size_t)(t->typmod - 4);
    while (chars > want && n > 0 && txt[n - 1] == ' ') {
        n--;
        chars--;
    }
    if (chars >= want || t->oid != WIRE_OID_BPCHAR) {
        *out = txt;
        return (int32_t)n;
    }
    if (!sqlite_scratch_reserve(scratch, cap, n + (want - chars) + 1))
        return -2;
    memcpy(*scratch, txt, n);
    memset(*scratch + n, ' ', want - chars);
    *out = *scratch;
    return (int32_t)(n + want - chars);
}

/* date/time types kept as the text a client inserted: printed as PostgreSQL
 * prints the value (pgbinary.h reads every common spelling: a timestamptz
 * with an offset prints in UTC, '1 day 2 hours' is '1 day 02:00:00').  The
 * scratch buffer is lent to the wire_buf, so no allocation per value.  Text
 * that is not such a value prints as stored. */
static int32_t sqlite_pgbin_out(const sqlite_pg_type *t, sqlite3_stmt *st, int col,
                                char **scratch, size_t *cap, const char **out)
{
    const char *txt = (const char *)sqlite3_column_text(st, col);
    if (!txt)
        return -2;
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    wire_buf b = {.data = (uint8_t *)*scratch, .len = 0, .cap = *scratch ? *cap : 0, .oom = false};
    pgbin_status rc = pgbin_normalize(t->oid, txt, n, &b);
    if (rc == PGBIN_OK && !b.oom && wire_buf_reserve(&b, 1))
        b.data[b.len] = '\0';
    *scratch = (char *)b.data; /* grown or not, the buffer stays the caller's */
    *cap = b.cap;
    if (rc == PGBIN_NOMEM || b.oom)
        return -2;
    if (rc != PGBIN_OK) {
        *out = txt;
        return (int32_t)n;
    }
    *out = *scratch;
    return (int32_t)b.len;
}

int32_t sqlite_value_format(const sqlite_pg_type *t, sqlite3_stmt *st, int col, char **scratch,
                            size_t *scratch_cap, const char **out)
{
    int type = sqlite3_column_type(st, col);
    if (type == SQLITE_NULL)
        return -1;

    if (type == SQLITE_TEXT && t->format == SQLITE_TYPE_FORMAT_BYTEA) {
        /* Text in a bytea column: what a client inserted as a bytea literal
         * ('\x0102', or the escape format), which SQLite keeps as text.  Print
         * the bytes the literal stands for.  Text PostgreSQL would have
         * refused to insert as bytea cannot be refused here (nothing
         * translates the INSERT yet): it prints as the hex of its own bytes. */
        const char *txt = (const char *)sqlite3_column_text(st, col);
        if (!txt)
            return -2;
        size_t n = (size_t)sqlite3_column_bytes(st, col);
        /* the hex output first, the decoded bytes after it */
        if (!sqlite_scratch_reserve(scratch, scratch_cap, 3 * n + 3))
            return -2;
        unsigned char *bytes = (unsigned char *)*scratch + 2 * n + 3;
        size_t m;
        if (!sqlite_bytea_decode(txt, n, bytes, &m)) {
            memcpy(bytes, txt, n);
            m = n;
        }
        *out = *scratch;
        return sqlite_bytea_hex(bytes, m, *scratch);
    }

    if (type == SQLITE_BLOB || t->format == SQLITE_TYPE_FORMAT_BYTEA) {
        const unsigned char *p = sqlite3_column_blob(st, col);
        size_t n = (size_t)sqlite3_column_bytes(st, col);
        if (!sqlite_scratch_reserve(scratch, scratch_cap, 2 * n + 3))
            return -2;
        *out = *scratch;
        return sqlite_bytea_hex(p, n, *scratch);
    }

    if (t->format == SQLITE_TYPE_FORMAT_BOOL) {
        bool truth;
        if (type == SQLITE_TEXT) {
            const char *s = (const char *)sqlite3_column_text(st, col);
            if (strcasecmp(s, "t") == 0 || strcasecmp(s, "true") == 0)
                truth = true;
            else if (strcasecmp(s, "f") == 0 || strcasecmp(s, "false") == 0)
                truth = false;
            else {
                *out = s;
                return sqlite3_column_bytes(st, col);
            }
        } else {
            truth = sqlite3_column_double(st, col) != 0;
        }
        *out = truth ? "t" : "f";
        return 1;
    }

    if (type == SQLITE_TEXT &&
        (t->oid == WIRE_OID_TIMESTAMPTZ || t->oid == WIRE_OID_TIMESTAMP || t->oid == WIRE_OID_DATE ||
         t->oid == WIRE_OID_INTERVAL || t->oid == WIRE_OID_TIME || t->oid == WIRE_OID_TIMETZ))
        return sqlite_pgbin_out(t, st, col, scratch, scratch_cap, out);

    switch (t->format) {
    case SQLITE_TYPE_FORMAT_NUMERIC:
        return sqlite_numeric_out(t, st, col, type, scratch, scratch_cap, out);
    case SQLITE_TYPE_FORMAT_UUID:
        if (type == SQLITE_TEXT)
            return sqlite_uuid_out(st, col, scratch, scratch_cap, out);
        break;
    case SQLITE_TYPE_FORMAT_BPCHAR:
        if (t->typmod > 4)
            return sqlite_bpchar_out(t, st, col, scratch, scratch_cap, out);
        break;
    case SQLITE_TYPE_FORMAT_TEXT:
        if (t->oid == WIRE_OID_VARCHAR && t->typmod > 4 && type == SQLITE_TEXT)
            return sqlite_bpchar_out(t, st, col, scratch, scratch_cap, out);
        break;
    case SQLITE_TYPE_FORMAT_JSONB:
        if (type == SQLITE_TEXT) {
            const char *txt = (const char *)sqlite3_column_text(st, col);
            if (!txt)
                return -2;
            int32_t n = sqlite_jsonb_normalize(txt, (size_t)sqlite3_column_bytes(st, col),
                                               scratch, scratch_cap);
            if (n == -2)
                return -2;
            if (n >= 0) {
                *out = *scratch;
                return n;
            }
            /* not JSON (inserted before Dormouse checked it): as stored */
            *out = txt;
            return sqlite3_column_bytes(st, col);
        }
        break;
    default:
        break;
    }

    if (type == SQLITE_FLOAT && t->format == SQLITE_TYPE_FORMAT_INT && t->oid != WIRE_OID_OID) {
        /* a fraction in an integer column (SQLite keeps it): the integer
         * PostgreSQL would have stored, rounded half away from zero */
        double d = sqlite3_column_double(st, col);
        if (d > -9.2e18 && d < 9.2e18) {
            if (!sqlite_scratch_reserve(scratch, scratch_cap, 32))
                return -2;
            *out = *scratch;
            return (int32_t)snprintf(*scratch, *scratch_cap, "%lld", (long long)llround(d));
        }
    }
    bool float_out = type == SQLITE_FLOAT ||
                     (type == SQLITE_INTEGER && (t->format == SQLITE_TYPE_FORMAT_FLOAT8 ||
                                                 t->format == SQLITE_TYPE_FORMAT_FLOAT4));
    if (float_out) {
        if (!sqlite_scratch_reserve(scratch, scratch_cap, 512))
            return -2;
        double d = sqlite3_column_double(st, col);
        size_t n;
        if (t->format == SQLITE_TYPE_FORMAT_FLOAT4)
            n = sqlite_format_float4((float)d, *scratch, *scratch_cap);
        else if (t->format == SQLITE_TYPE_FORMAT_NUMERIC)
            n = sqlite_format_numeric(d, *scratch, *scratch_cap);
        else
            n = sqlite_format_float8(d, *scratch, *scratch_cap);
        *out = *scratch;
        return (int32_t)n;
    }

    /* integers print in decimal, text as stored */
    *out = (const char *)sqlite3_column_text(st, col);
    if (!*out)
        return -2;
    return sqlite3_column_bytes(st, col);
}
