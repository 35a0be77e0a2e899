/*
 * sqlite_copy.c: COPY FROM STDIN / COPY TO STDOUT in PostgreSQL's text and
 * CSV formats on a SQLite connection.
 *
 * The codec.  The decoder turns a byte stream, fed in chunks of any size,
 * into records and fields.  A record ends at a newline that is not escaped
 * (text) or quoted (CSV); the first record fixes the newline style ("\n",
 * "\r" or "\r\n") and another style later is an error, as in PostgreSQL.  A
 * record whose end is not in the chunk is carried (copied) until its end
 * arrives; the scanner keeps its state so nothing is scanned twice.  A line
 * "\." ends the data; what follows is ignored.  Fields are decoded as
 * PostgreSQL's CopyReadAttributesText/CSV do: backslash escapes (\b \f \n \r
 * \t \v, octal, \x hex, any other character as itself) in text; quotes,
 * doubled quotes and the ESCAPE character in CSV.  A field is NULL when its
 * raw text equals the NULL string (CSV: and it was not quoted).  Decoded text
 * must be valid UTF-8 without NUL bytes.  The encoder does the reverse.
 *
 * The runner.  COPY FROM prepares one INSERT with a parameter per column and
 * binds each row's values after checking them against the column's declared
 * type (integers, floats, numeric, boolean, bytea are checked and converted
 * as PostgreSQL's input functions would; other types go in as text).  The
 * COPY runs in a transaction held across jobs: the enclosing block when there
 * is one, else one the COPY opens and commits itself.  An error stops the
 * COPY: it is remembered, the rest of the data is dropped, and the error is
 * reported when the data ends (CopyDone or CopyFail), before ReadyForQuery;
 * the caller (sqlite_query_resume) then rolls back or fails the block.  COPY
 * TO steps a SELECT and writes one CopyData per row, stopping after about
 * SQLITE_COPY_OUT_PART bytes; the statement stays open on the connection
 * until the next COPY job asks for more, so output is bounded by the part
 * size, not the table.
 *
 * A query's large result rides on the same machinery (sqlite_copy_stream_rows):
 * once a statement's rows fill a part, the statement moves here as a
 * "rows" COPY TO that writes DataRows instead of CopyData and ends with the
 * statement's own CommandComplete.  The owner sees STORAGE_COPY_OUT and asks
 * for each next part only when its client has read the previous ones, so a
 * slow reader stops the statement instead of growing a buffer.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sqlite_conn.h"
#include "sqlite_copy.h"
#include "sqlite_extended.h"
#include "sqlite_error.h"
#include "sqlite_types.h"
#include "translate.h"

#define SQLITE_COPY_OUT_PART (256u * 1024u) /* COPY TO: output per job */
#define SQLITE_COPY_DISPLAY_MAX 100         /* as PostgreSQL's MAX_COPY_DATA_DISPLAY */

#define SQLSTATE_BAD_COPY_FILE_FORMAT "22P04"
#define SQLSTATE_CHARACTER_NOT_IN_REPERTOIRE "22021"
#define SQLSTATE_INSUFFICIENT_PRIVILEGE "42501"

static void copy_error(sqlite_copy_error *err, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void copy_error(sqlite_copy_error *err, const char *sqlstate, const char *fmt, ...)
{
    va_list ap;
    err->sqlstate = sqlstate;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof(err->message), fmt, ap);
    va_end(ap);
    err->detail[0] = err->hint[0] = err->context[0] = '\0';
}

const char *sqlite_copy_status_str(sqlite_copy_status s)
{
    switch (s) {
    case SQLITE_COPY_ROW:
        return "row";
    case SQLITE_COPY_NEED_MORE:
        return "need_more";
    case SQLITE_COPY_END:
        return "end";
    case SQLITE_COPY_ERROR:
        return "error";
    }
    return "unknown";
}

/* ---- options ---- */

void sqlite_copy_format_init(sqlite_copy_format *f, bool csv)
{
    memset(f, 0, sizeof(*f));
    f->csv = csv;
    f->delim = csv ? ',' : '\t';
    f->quote = '"';
    f->escape = '"';
    if (!csv) {
        memcpy(f->null_str, "\\N", 2);
        f->null_len = 2;
    }
}

static const char *copy_arg_string(const PgQuery__Node *arg, char *buf, size_t len)
{
    if (!arg)
        return NULL;
    switch (arg->node_case) {
    case PG_QUERY__NODE__NODE_STRING:
        return arg->string->sval;
    case PG_QUERY__NODE__NODE_INTEGER:
        snprintf(buf, len, "%d", arg->integer->ival);
        return buf;
    case PG_QUERY__NODE__NODE_BOOLEAN:
        return arg->boolean->boolval ? "true" : "false";
    case PG_QUERY__NODE__NODE_FLOAT:
        return arg->float_->fval;
    default:
        return NULL;
    }
}

/* defGetBoolean's rules; HEADER also takes "match". Returns -1 when invalid. */
static int copy_arg_bool(const PgQuery__Node *arg, bool allow_match)
{
    char buf[32];
    if (!arg)
        return 1;
    const char *s = copy_arg_string(arg, buf, sizeof(buf));
    if (!s)
        return -1;
    if (arg->node_case == PG_QUERY__NODE__NODE_INTEGER)
        return arg->integer->ival == 0 ? 0 : arg->integer->ival == 1 ? 1 : -1;
    if (!strcasecmp(s, "true") || !strcasecmp(s, "on"))
        return 1;
    if (!strcasecmp(s, "false") || !strcasecmp(s, "off"))
        return 0;
    if (allow_match && !strcasecmp(s, "match"))
        return 2;
    return -1;
}

bool sqlite_copy_options(PgQuery__Node *const *options, size_t n, bool from, sqlite_copy_format *f,
                         sqlite_copy_error *err)
{
    const char *format = NULL, *delim = NULL, *null = NULL, *quote = NULL, *escape = NULL;
    int header = -2;
    bool seen_freeze = false, seen_encoding = false;
    char buf[5][32];

    for (size_t i = 0; i < n; i++) {
        const PgQuery__Node *o = options[i];
        if (!o || o->node_case != PG_QUERY__NODE__NODE_DEF_ELEM || !o->def_elem->defname) {
            copy_error(err, WIRE_SQLSTATE_SYNTAX_ERROR, "malformed COPY option");
            return false;
        }
        const PgQuery__DefElem *d = o->def_elem;
        const char *name = d->defname;
        const char **slot = NULL;
        int k = 0;
        if (!strcmp(name, "format"))
            slot = &format, k = 0;
        else if (!strcmp(name, "delimiter"))
            slot = &delim, k = 1;
        else if (!strcmp(name, "null"))
            slot = &null, k = 2;
        else if (!strcmp(name, "quote"))
            slot = &quote, k = 3;
        else if (!strcmp(name, "escape"))
            slot = &escape, k = 4;
        if (slot) {
            if (*slot) {
                copy_error(err, WIRE_SQLSTATE_SYNTAX_ERROR, "conflicting or redundant options");
                return false;
            }
            *slot = copy_arg_string(d->arg, buf[k], sizeof(buf[k]));
            if (!*slot) {
                copy_error(err, WIRE_SQLSTATE_SYNTAX_ERROR, "%s requires a parameter", name);
                return false;
            }
            continue;
        }
        if (!strcmp(name, "header")) {
            if (header != -2) {
                copy_error(err, WIRE_SQLSTATE_SYNTAX_ERROR, "conflicting or redundant options");
                return false;
            }
            header = copy_arg_bool(d->arg, true);
            if (header < 0) {
                copy_error(err, WIRE_SQLSTATE_SYNTAX_ERROR,
                           "%s requires a Boolean value or \"match\"", name);
                return false;
            }
            continue;
        }
        if (!strcmp(name, "freeze")) {
            if (seen_freeze) {
                copy_error(err, WIRE_SQLSTATE_SYNTAX_ERROR, "conflicting or redundant options");
                return false;
            }
            seen_freeze = true;
            if (copy_arg_bool(d->arg, false) < 0) {
                copy_error(err, WIRE_SQLSTATE_SYNTAX_ERROR, "%s requires a Boolean value", name);
                return false;
            }
            continue; /* SQLite has no tuple visibility to freeze */
        }
        if (!strcmp(name, "encoding")) {
            char b[32];
            const char *e = copy_arg_string(d->arg, b, sizeof(b));
            if (seen_encoding) {
                copy_error(err, WIRE_SQLSTATE_SYNTAX_ERROR, "conflicting or redundant options");
                return false;
            }
            seen_encoding = true;
            if (!e || (strcasecmp(e, "utf8") && strcasecmp(e, "utf-8") && strcasecmp(e, "unicode"))) {
                copy_error(err, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED,
                           "COPY ENCODING other than UTF8 is not supported");
                return false;
            }
            continue;
        }
        if (!strcmp(name, "force_quote") || !strcmp(name, "force_not_null") ||
            !strcmp(name, "force_null") || !strcmp(name, "oids")) {
            copy_error(err, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED, "COPY %s is not supported", name);
            return false;
        }
        copy_error(err, WIRE_SQLSTATE_SYNTAX_ERROR, "option \"%s\" not recognized", name);
        return false;
    }

    bool csv = false;
    if (format) {
        if (!strcasecmp(format, "csv")) {
            csv = true;
        } else if (!strcasecmp(format, "binary")) {
            copy_error(err, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED,
                       "COPY BINARY is not supported by the SQLite engine");
            return false;
        } else if (strcasecmp(format, "text")) {
            copy_error(err, WIRE_SQLSTATE_INVALID_PARAMETER_VALUE,
                       "COPY format \"%s\" not recognized", format);
            return false;
        }
    }
    sqlite_copy_format_init(f, csv);
    if (delim) {
        if (strlen(delim) != 1) {
            copy_error(err, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED,
                       "COPY delimiter must be a single one-byte character");
            return false;
        }
        f->delim = delim[0];
    }
    if (null) {
        if (strlen(null) >= SQLITE_COPY_NULL_MAX) {
            copy_error(err, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED,
                       "COPY null representation longer than %d bytes is not supported",
                       SQLITE_COPY_NULL_MAX - 1);
            return false;
        }
        f->null_len = strlen(null);
        memcpy(f->null_str, null, f->null_len);
    }
    if (header >= 0)
        f->header = header == 2 ? SQLITE_COPY_HEADER_MATCH
                    : header    ? SQLITE_COPY_HEADER_ON
                                : SQLITE_COPY_HEADER_NONE;
    if (!csv && quote) {
        copy_error(err, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED, "COPY quote available only in CSV mode");
        return false;
    }
    if (!csv && escape) {
        copy_error(err, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED,
                   "COPY escape available only in CSV mode");
        return false;
    }
    if (quote) {
        if (strlen(quote) != 1) {
            copy_error(err, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED,
                       "COPY quote must be a single one-byte character");
            return false;
        }
        f->quote = quote[0];
        if (!escape)
            f->escape = f->quote;
    }
    if (escape) {
        if (strlen(escape) != 1) {
            copy_error(err, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED,
                       "COPY escape must be a single one-byte character");
            return false;
        }
        f->escape = escape[0];
    }
    if (f->delim == '\r' || f->delim == '\n') {
        copy_error(err, WIRE_SQLSTATE_INVALID_PARAMETER_VALUE,
                   "COPY delimiter cannot be newline or carriage return");
        return false;
    }
    if (memchr(f->null_str, '\r', f->null_len) || memchr(f->null_str, '\n', f->null_len)) {
        copy_error(err, WIRE_SQLSTATE_INVALID_PARAMETER_VALUE,
                   "COPY null representation cannot use newline or carriage return");
        return false;
    }
    if (!csv && strchr("\\.abcdefghijklmnopqrstuvwxyz0123456789", f->delim)) {
        copy_error(err, WIRE_SQLSTATE_INVALID_PARAMETER_VALUE, "COPY delimiter cannot be \"%c\"",
                   f->delim);
        return false;
    }
    if (csv && f->delim == f->quote) {
        copy_error(err, WIRE_SQLSTATE_INVALID_PARAMETER_VALUE,
                   "COPY delimiter and quote must be different");
        return false;
    }
    if (f->null_len && memchr(f->null_str, f->delim, f->null_len)) {
        copy_error(err, WIRE_SQLSTATE_INVALID_PARAMETER_VALUE,
                   "COPY delimiter character must not appear in the NULL specification");
        return false;
    }
    if (!from && f->header == SQLITE_COPY_HEADER_MATCH) {
        copy_error(err, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED,
                   "cannot use \"match\" with HEADER in COPY TO");
        return false;
    }
    return true;
}

/* ---- the decoder ---- */

void sqlite_copy_decoder_init(sqlite_copy_decoder *d, const sqlite_copy_format *f)
{
    memset(d, 0, sizeof(*d));
    d->fmt = *f;
    wire_buf_init(&d->carry);
    wire_buf_init(&d->values);
}

void sqlite_copy_decoder_free(sqlite_copy_decoder *d)
{
    if (!d)
        return;
    wire_buf_free(&d->carry);
    wire_buf_free(&d->values);
    free(d->fields);
    free(d->offsets);
    d->fields = NULL;
    d->offsets = NULL;
    d->cap = 0;
}

enum { EOL_UNKNOWN = 0, EOL_NL, EOL_CR, EOL_CRNL };

static void copy_eol_error(const sqlite_copy_decoder *d, bool cr, sqlite_copy_error *err)
{
    if (d->fmt.csv) {
        copy_error(err, SQLSTATE_BAD_COPY_FILE_FORMAT, "unquoted %s found in data",
                   cr ? "carriage return" : "newline");
        snprintf(err->hint, sizeof(err->hint), "Use quoted CSV field to represent %s.",
                 cr ? "carriage return" : "newline");
    } else {
        copy_error(err, SQLSTATE_BAD_COPY_FILE_FORMAT, "literal %s found in data",
                   cr ? "carriage return" : "newline");
        snprintf(err->hint, sizeof(err->hint), "Use \"\\%c\" to represent %s.", cr ? 'r' : 'n',
                 cr ? "carriage return" : "newline");
    }
}

/* Scans p[0..len) for the end of the current record, continuing the state
 * left by earlier chunks.  Returns 1 when found: *content bytes of p belong
 * to the record, *used bytes of p are consumed with the newline, and
 * *drop_cr says the record's last carried byte is a "\r" that was its end.
 * Returns 0 when p holds no end (state kept), -1 on error. */
static int copy_scan(sqlite_copy_decoder *d, const uint8_t *p, size_t len, bool final,
                     size_t *content, size_t *used, bool *drop_cr, sqlite_copy_error *err)
{
    const sqlite_copy_format *f = &d->fmt;
    *drop_cr = false;
    if (d->eol == -EOL_CR) { /* a "\r" ended the carried bytes: what follows decides */
        if (len == 0 && !final)
            return 0;
        int prev = d->saved_eol;
        *drop_cr = true;
        *content = 0;
        if (len > 0 && p[0] == '\n') {
            d->eol = EOL_CRNL;
            *used = 1;
        } else {
            d->eol = prev == EOL_CRNL ? EOL_CRNL : EOL_CR;
            if (prev == EOL_CRNL && len > 0) {
                copy_eol_error(d, true, err);
                return -1;
            }
            *used = 0;
        }
        return 1;
    }
    for (size_t i = 0; i < len; i++) {
        uint8_t ch = p[i];
        if (d->escaped) {
            d->escaped = false;
            continue;
        }
        if (f->csv) {
            if (d->in_quote) {
                if (ch == (uint8_t)f->escape && f->escape != f->quote) {
                    d->escaped = true;
                    continue;
                }
                if (ch == (uint8_t)f->quote)
                    d->in_quote = false;
                continue;
            }
            if (ch == (uint8_t)f->quote) {
                d->in_quote = true;
                continue;
            }
        } else if (ch == '\\') {
            d->escaped = true;
            continue;
        }
        if (ch == '\n') {
            if (d->eol == EOL_CR || d->eol == EOL_CRNL) {
                copy_eol_error(d, false, err);
                return -1;
            }
            d->eol = EOL_NL;
            *content = i;
            *used = i + 1;
            return 1;
        }
        if (ch == '\r') {
            if (d->eol == EOL_NL) {
                copy_eol_error(d, true, err);
                return -1;
            }
            if (i + 1 < len) {
                bool crnl = p[i + 1] == '\n';
                if ((crnl && d->eol == EOL_CR) || (!crnl && d->eol == EOL_CRNL)) {
                    copy_eol_error(d, !crnl, err);
                    return -1;
                }
                d->eol = crnl ? EOL_CRNL : EOL_CR;
                *content = i;
                *used = i + (crnl ? 2 : 1);
                return 1;
            }
            if (final) {
                if (d->eol == EOL_CRNL) {
                    copy_eol_error(d, true, err);
                    return -1;
                }
                d->eol = EOL_CR;
                *content = i;
                *used = i + 1;
                return 1;
            }
            if (d->eol == EOL_UNKNOWN || d->eol == EOL_CRNL) {
                /* the next chunk says whether "\n" follows; carry the "\r" */
                d->saved_eol = d->eol;
                d->eol = -EOL_CR;
                return 0;
            }
            d->eol = EOL_CR;
            *content = i;
            *used = i + 1;
            return 1;
        }
    }
    return 0;
}

static bool copy_reserve_fields(sqlite_copy_decoder *d, int n)
{
    if (n <= d->cap)
        return true;
    int cap = d->cap ? d->cap * 2 : 16;
    while (cap < n)
        cap *= 2;
    sqlite_copy_field *fl = realloc(d->fields, (size_t)cap * sizeof(*fl));
    if (!fl)
        return false;
    d->fields = fl;
    size_t *off = realloc(d->offsets, (size_t)cap * sizeof(*off));
    if (!off)
        return false;
    d->offsets = off;
    d->cap = cap;
    return true;
}

/* Length of the valid UTF-8 sequence at p (1..4), or 0 when invalid. */
static size_t copy_utf8_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t len;
    uint32_t min;
    if (c < 0x80)
        return c ? 1 : 0;
    if ((c & 0xE0) == 0xC0)
        len = 2, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
        len = 3, min = 0x800;
    else if ((c & 0xF8) == 0xF0)
        len = 4, min = 0x10000;
    else
        return 0;
    if (n < len)
        return 0;
    uint32_t cp = c & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

static bool copy_check_encoding(const uint8_t *p, size_t n, sqlite_copy_error *err)
{
    for (size_t i = 0; i < n;) {
        if (p[i] >= 0x01 && p[i] < 0x80) {
            i++;
            continue;
        }
        size_t l = copy_utf8_len(p + i, n - i);
        if (l == 0) {
            char bytes[32] = "";
            size_t o = 0;
            size_t show = p[i] >= 0xC0 ? ((p[i] & 0xE0) == 0xC0 ? 2 : (p[i] & 0xF0) == 0xE0 ? 3 : 4) : 1;
            for (size_t k = 0; k < show && i + k < n && o + 6 < sizeof(bytes); k++)
                o += (size_t)snprintf(bytes + o, sizeof(bytes) - o, "%s0x%02x", k ? " " : "",
                                      p[i + k]);
            copy_error(err, SQLSTATE_CHARACTER_NOT_IN_REPERTOIRE,
                       "invalid byte sequence for encoding \"UTF8\": %s", bytes);
            return false;
        }
        i += l;
    }
    return true;
}

static int copy_hex(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Closes the field whose raw text is raw[0..raw_len) and whose decoded value
 * starts at out_start in d->values: NULL when the raw text is the format's
 * NULL string (and may_be_null: not for a quoted CSV field), else its
 * encoding checked when it has high bytes.  false with err (or values.oom). */
static bool copy_field_end(sqlite_copy_decoder *d, const uint8_t *raw, size_t raw_len,
                           size_t out_start, bool may_be_null, bool high, sqlite_copy_error *err)
{
    const sqlite_copy_format *f = &d->fmt;
    wire_buf *v = &d->values;
    if (!copy_reserve_fields(d, d->nfields + 1)) {
        v->oom = true;
        return false;
    }
    sqlite_copy_field *fl = &d->fields[d->nfields];
    d->offsets[d->nfields] = out_start;
    d->nfields++;
    fl->null = may_be_null && raw_len == f->null_len && memcmp(raw, f->null_str, raw_len) == 0;
    fl->len = fl->null ? 0 : v->len - out_start;
    if (!fl->null && high && !v->oom && !copy_check_encoding(v->data + out_start, fl->len, err))
        return false;
    if (d->nfields > SQLITE_COPY_MAX_FIELDS) {
        copy_error(err, SQLSTATE_BAD_COPY_FILE_FORMAT, "extra data after last expected column");
        return false;
    }
    return true;
}

/* Splits and decodes a text-format record. */
static bool copy_fields_text(sqlite_copy_decoder *d, const uint8_t *r, size_t n,
                             sqlite_copy_error *err)
{
    const sqlite_copy_format *f = &d->fmt;
    wire_buf *v = &d->values;
    size_t i = 0;
    for (;;) {
        size_t raw_start = i;
        size_t out_start = v->len;
        bool high = false;
        while (i < n) {
            size_t run = i;
            while (run < n && r[run] != (uint8_t)f->delim && r[run] != '\\') {
                high |= r[run] >= 0x80 || r[run] == 0;
                run++;
            }
            if (run > i)
                wire_buf_append(v, r + i, run - i);
            i = run;
            if (i >= n || r[i] == (uint8_t)f->delim)
                break;
            /* a backslash */
            if (i + 1 >= n) {
                wire_buf_put_u8(v, '\\');
                i++;
                break;
            }
            uint8_t c = r[i + 1];
            i += 2;
            switch (c) {
            case 'b':
                c = '\b';
                break;
            case 'f':
                c = '\f';
                break;
            case 'n':
                c = '\n';
                break;
            case 'r':
                c = '\r';
                break;
            case 't':
                c = '\t';
                break;
            case 'v':
                c = '\v';
                break;
            case '0':
            case '1':
            case '2':
            case '3':
            case '4':
            case '5':
            case '6':
            case '7': {
                int val = c - '0';
                for (int k = 0; k < 2 && i < n && r[i] >= '0' && r[i] <= '7'; k++)
                    val = val * 8 + (r[i++] - '0');
                c = (uint8_t)(val & 0xFF);
                high = true;
                break;
            }
            case 'x':
                if (i < n && copy_hex(r[i]) >= 0) {
                    int val = copy_hex(r[i++]);
                    if (i < n && copy_hex(r[i]) >= 0)
                        val = val * 16 + copy_hex(r[i++]);
                    c = (uint8_t)val;
                    high = true;
                }
                break;
            default:
                break;
            }
            wire_buf_put_u8(v, c);
        }
        if (!copy_field_end(d, r + raw_start, i - raw_start, out_start, true, high, err))
            return false;
        if (i >= n)
            return true;
        i++; /* the delimiter */
    }
}

/* Splits and decodes a CSV record. */
static bool copy_fields_csv(sqlite_copy_decoder *d, const uint8_t *r, size_t n,
                            sqlite_copy_error *err)
{
    const sqlite_copy_format *f = &d->fmt;
    wire_buf *v = &d->values;
    uint8_t q = (uint8_t)f->quote, e = (uint8_t)f->escape, dl = (uint8_t)f->delim;
    size_t i = 0;
    for (;;) {
        size_t raw_start = i;
        size_t out_start = v->len;
        bool saw_quote = false, high = false;
        for (;;) {
            size_t run = i;
            while (run < n && r[run] != dl && r[run] != q) {
                high |= r[run] >= 0x80 || r[run] == 0;
                run++;
            }
            if (run > i)
                wire_buf_append(v, r + i, run - i);
            i = run;
            if (i >= n || r[i] == dl)
                break;
            /* a quoted part */
            saw_quote = true;
            i++;
            for (;;) {
                if (i >= n) {
                    copy_error(err, SQLSTATE_BAD_COPY_FILE_FORMAT, "unterminated CSV quoted field");
                    return false;
                }
                uint8_t c = r[i++];
                if (c == e && i < n && (r[i] == q || r[i] == e)) {
                    if (e != q || r[i] == q) {
                        wire_buf_put_u8(v, r[i++]);
                        continue;
                    }
                }
                if (c == q)
                    break;
                high |= c >= 0x80 || c == 0;
                wire_buf_put_u8(v, c);
            }
        }
        if (!copy_field_end(d, r + raw_start, i - raw_start, out_start, !saw_quote, high, err))
            return false;
        if (i >= n)
            return true;
        i++; /* the delimiter */
    }
}

/* Decodes record r[0..n) into d->fields. */
static sqlite_copy_status copy_record(sqlite_copy_decoder *d, const uint8_t *r, size_t n,
                                      sqlite_copy_error *err)
{
    d->raw = (const char *)r;
    d->raw_len = n;
    d->line_no++;
    d->is_header = false;
    if (!d->header_done) {
        d->header_done = true;
        d->is_header = d->fmt.header != SQLITE_COPY_HEADER_NONE;
    }
    if (!d->is_header && n == 2 && r[0] == '\\' && r[1] == '.') {
        d->ended = true;
        return SQLITE_COPY_END;
    }
    wire_buf_reset(&d->values);
    d->nfields = 0;
    bool ok = d->fmt.csv ? copy_fields_csv(d, r, n, err) : copy_fields_text(d, r, n, err);
    if (d->values.oom) {
        copy_error(err, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
        return SQLITE_COPY_ERROR;
    }
    if (!ok)
        return SQLITE_COPY_ERROR;
    for (int k = 0; k < d->nfields; k++)
        d->fields[k].data = d->fields[k].null ? NULL
                            : d->values.data ? (const char *)d->values.data + d->offsets[k]
                                             : ""; /* nothing decoded yet: empty fields */
    return SQLITE_COPY_ROW;
}

static void copy_reset_scan(sqlite_copy_decoder *d)
{
    wire_buf_reset(&d->carry);
    d->in_quote = false;
    d->escaped = false;
    d->carry_taken = false;
}

sqlite_copy_status sqlite_copy_decode(sqlite_copy_decoder *d, sqlite_copy_input *in,
                                      sqlite_copy_error *err)
{
    if (d->carry_taken)
        copy_reset_scan(d);
    if (d->ended) {
        in->p += in->len;
        in->len = 0;
        return SQLITE_COPY_END;
    }
    size_t content = 0, used = 0;
    bool drop_cr = false;
    int r = copy_scan(d, in->p, in->len, in->final, &content, &used, &drop_cr, err);
    if (r < 0) {
        d->line_no++;
        d->raw = NULL;
        return SQLITE_COPY_ERROR;
    }
    if (r == 1 && d->carry.len == 0 && !drop_cr) {
        const uint8_t *rec = in->p;
        in->p += used;
        in->len -= used;
        return copy_record(d, rec, content, err);
    }
    if (r == 1) {
        wire_buf_append(&d->carry, in->p, content);
        in->p += used;
        in->len -= used;
        d->carry_taken = true;
        size_t n = d->carry.len - (drop_cr ? 1 : 0);
        if (d->carry.oom) {
            copy_error(err, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
            return SQLITE_COPY_ERROR;
        }
        return copy_record(d, d->carry.data, n, err);
    }
    /* no end of record in this chunk */
    if (in->len)
        wire_buf_append(&d->carry, in->p, in->len);
    in->p += in->len;
    in->len = 0;
    if (d->carry.oom) {
        copy_error(err, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
        return SQLITE_COPY_ERROR;
    }
    if (d->carry.len > SQLITE_COPY_MAX_LINE) {
        d->line_no++;
        d->raw = NULL;
        copy_error(err, WIRE_SQLSTATE_PROGRAM_LIMIT_EXCEEDED,
                   "COPY line is longer than %u bytes", SQLITE_COPY_MAX_LINE);
        return SQLITE_COPY_ERROR;
    }
    if (!in->final)
        return SQLITE_COPY_NEED_MORE;
    if (d->carry.len == 0)
        return SQLITE_COPY_END;
    if (d->fmt.csv && d->in_quote) {
        d->line_no++;
        d->raw = (const char *)d->carry.data;
        d->raw_len = d->carry.len;
        copy_error(err, SQLSTATE_BAD_COPY_FILE_FORMAT, "unterminated CSV quoted field");
        return SQLITE_COPY_ERROR;
    }
    d->carry_taken = true; /* the last record, without a newline */
    return copy_record(d, d->carry.data, d->carry.len, err);
}

/* ---- the encoder ---- */

void sqlite_copy_encode_field(const sqlite_copy_format *f, wire_buf *out, const char *data,
                              size_t len, bool single_column)
{
    if (!data) {
        wire_buf_append(out, f->null_str, f->null_len);
        return;
    }
    const uint8_t *p = (const uint8_t *)data;
    if (!f->csv) {
        size_t start = 0;
        for (size_t i = 0; i < len; i++) {
            uint8_t c = p[i], esc = 0;
            switch (c) {
            case '\b':
                esc = 'b';
                break;
            case '\f':
                esc = 'f';
                break;
            case '\n':
                esc = 'n';
                break;
            case '\r':
                esc = 'r';
                break;
            case '\t':
                esc = 't';
                break;
            case '\v':
                esc = 'v';
                break;
            case '\\':
                esc = '\\';
                break;
            default:
                if (c == (uint8_t)f->delim)
                    esc = c;
                break;
            }
            if (!esc)
                continue;
            wire_buf_append(out, p + start, i - start);
            wire_buf_put_u8(out, '\\');
            wire_buf_put_u8(out, esc);
            start = i + 1;
        }
        wire_buf_append(out, p + start, len - start);
        return;
    }
    bool quote = len == f->null_len && memcmp(p, f->null_str, len) == 0;
    if (!quote && single_column && len == 2 && p[0] == '\\' && p[1] == '.')
        quote = true;
    for (size_t i = 0; i < len && !quote; i++)
        quote = p[i] == (uint8_t)f->delim || p[i] == (uint8_t)f->quote || p[i] == '\n' ||
                p[i] == '\r';
    if (!quote) {
        wire_buf_append(out, p, len);
        return;
    }
    wire_buf_put_u8(out, (uint8_t)f->quote);
    size_t start = 0;
    for (size_t i = 0; i < len; i++) {
        if (p[i] != (uint8_t)f->quote && p[i] != (uint8_t)f->escape)
            continue;
        wire_buf_append(out, p + start, i - start);
        wire_buf_put_u8(out, (uint8_t)f->escape);
        start = i;
    }
    wire_buf_append(out, p + start, len - start);
    wire_buf_put_u8(out, (uint8_t)f->quote);
}

/* ---- the runner ---- */

struct sqlite_copy {
    bool from;
    sqlite_copy_format fmt;
    sqlite_query_batch batch; /* the rest of the message */
    bool own_tx;              /* the COPY began the transaction and ends it */
    uint64_t rows;
    char relname[WIRE_NAME_MAX * 2];
    bool failed;
    sqlite_copy_error err;
    int ncols;
    char **colnames;
    sqlite_pg_type *types;

    /* FROM */
    sqlite_copy_decoder dec;
    sqlite3_stmt *insert;
    unsigned char *blob;
    size_t blob_cap;
    char *num; /* a NUL-terminated copy of a value being checked */
    size_t num_cap;

    /* TO */
    bool rows_out;              /* a query's result rows (sqlite_copy_stream_rows), not COPY */
    const storage_stmt *stmt;   /* rows_out: its statement (in batch.parsed), for the tag */
    sqlite3_stmt *select;
    int step_rc; /* the last sqlite3_step: SQLITE_ROW means a row waits to be written */
    char *scratch;
    size_t scratch_cap;
};

static void copy_free(sqlite_copy *cp)
{
    if (!cp)
        return;
    storage_parse_free(&cp->batch.parsed);
    if (cp->colnames)
        for (int i = 0; i < cp->ncols; i++)
            free(cp->colnames[i]);
    free(cp->colnames);
    free(cp->types);
    sqlite_copy_decoder_free(&cp->dec);
    sqlite3_finalize(cp->insert);
    sqlite3_finalize(cp->select);
    free(cp->blob);
    free(cp->num);
    free(cp->scratch);
    free(cp);
}

static void copy_set_copying(storage_conn *c, bool on)
{
    pthread_mutex_lock(&c->lock);
    c->copying = on;
    pthread_mutex_unlock(&c->lock);
}

void sqlite_copy_conn_clear(storage_conn *c)
{
    if (!c->copy)
        return;
    copy_free(c->copy);
    c->copy = NULL;
    copy_set_copying(c, false);
}

storage_copy_mode sqlite_copy_mode(const storage_conn *c)
{
    if (!c->copy)
        return STORAGE_COPY_NONE;
    return c->copy->from ? STORAGE_COPY_IN : STORAGE_COPY_OUT;
}

void sqlite_copy_suspend(storage_conn *c, sqlite_query_batch *b)
{
    c->copy->batch = *b;
    memset(b, 0, sizeof(*b));
}

static void copy_quote_ident(wire_buf *b, const char *name)
{
    wire_buf_put_u8(b, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            wire_buf_put_u8(b, '"');
        wire_buf_put_u8(b, (uint8_t)*p);
    }
    wire_buf_put_u8(b, '"');
}

/* The relation as SQLite names it; false (reported) for what the translator
 * would refuse too. */
static bool copy_relation(sqlite_query *q, const PgQuery__RangeVar *rv, wire_buf *sql)
{
    if (!rv || !rv->relname) {
        sqlite_query_error(q, WIRE_SQLSTATE_INTERNAL_ERROR, "COPY without a relation", NULL, 0);
        return false;
    }
    if (rv->catalogname && rv->catalogname[0]) {
        sqlite_query_error(q, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED,
                           "cross-database references are not supported", NULL, 0);
        return false;
    }
    const char *schema = rv->schemaname;
    if (schema && !strcmp(schema, "pg_temp")) {
        wire_buf_append(sql, "\"temp\".", 7);
    } else if (schema && schema[0] && strcmp(schema, "public") != 0) {
        char msg[160];
        snprintf(msg, sizeof(msg), "schema \"%.64s\" is not supported", schema);
        sqlite_query_error(q, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED, msg, NULL, 0);
        return false;
    }
    copy_quote_ident(sql, rv->relname);
    return true;
}

/* Prepares sql (NUL-terminated in the buffer); reports a failure. */
static sqlite3_stmt *copy_prepare(sqlite_query *q, wire_buf *sql)
{
    sqlite3_stmt *st = NULL;
    wire_buf_put_u8(sql, 0);
    if (sql->oom) {
        q->job->out.oom = true;
        return NULL;
    }
    if (sqlite3_prepare_v2(q->c->handle, (const char *)sql->data, -1, &st, NULL) != SQLITE_OK) {
        sqlite_query_handle_error(q);
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

/* Column names and types of st's result (declared types; without one, text
 * until a value says otherwise). */
static bool copy_columns(sqlite_copy *cp, sqlite3_stmt *st)
{
    cp->ncols = sqlite3_column_count(st);
    cp->colnames = calloc((size_t)(cp->ncols ? cp->ncols : 1), sizeof(*cp->colnames));
    cp->types = calloc((size_t)(cp->ncols ? cp->ncols : 1), sizeof(*cp->types));
    if (!cp->colnames || !cp->types)
        return false;
    for (int i = 0; i < cp->ncols; i++) {
        const char *name = sqlite3_column_name(st, i);
        cp->colnames[i] = strdup(name ? name : "?column?");
        if (!cp->colnames[i])
            return false;
        const char *decl = sqlite3_column_decltype(st, i);
        if (!decl || !sqlite_type_from_decltype(decl, &cp->types[i]))
            sqlite_type_from_value(SQLITE_NULL, 0, &cp->types[i]);
        if (!decl)
            cp->types[i].oid = 0; /* decided by the first row */
    }
    return true;
}

static void copy_limit(char *dst, size_t dstlen, const char *src, size_t n)
{
    if (n > SQLITE_COPY_DISPLAY_MAX) {
        /* whole UTF-8 characters only */
        size_t k = SQLITE_COPY_DISPLAY_MAX;
        while (k > 0 && ((uint8_t)src[k] & 0xC0) == 0x80)
            k--;
        snprintf(dst, dstlen, "%.*s...", (int)k, src);
    } else {
        snprintf(dst, dstlen, "%.*s", (int)n, src);
    }
}

/* The COPY failed on the current line: remember the first error with
 * PostgreSQL's context line. */
static void copy_fail_line(sqlite_copy *cp, const sqlite_copy_error *err, int col, bool with_line)
{
    if (cp->failed)
        return;
    cp->failed = true;
    cp->err = *err;
    char shown[SQLITE_COPY_DISPLAY_MAX + 8];
    const sqlite_copy_decoder *d = &cp->dec;
    if (col >= 0 && col < cp->ncols && col < d->nfields && !d->fields[col].null) {
        copy_limit(shown, sizeof(shown), d->fields[col].data, d->fields[col].len);
        snprintf(cp->err.context, sizeof(cp->err.context), "COPY %s, line %llu, column %s: \"%s\"",
                 cp->relname, (unsigned long long)d->line_no, cp->colnames[col], shown);
    } else if (col >= 0 && col < cp->ncols) {
        snprintf(cp->err.context, sizeof(cp->err.context), "COPY %s, line %llu, column %s: null input",
                 cp->relname, (unsigned long long)d->line_no, cp->colnames[col]);
    } else if (with_line && d->raw) {
        copy_limit(shown, sizeof(shown), d->raw, d->raw_len);
        snprintf(cp->err.context, sizeof(cp->err.context), "COPY %s, line %llu: \"%s\"", cp->relname,
                 (unsigned long long)d->line_no, shown);
    } else {
        snprintf(cp->err.context, sizeof(cp->err.context), "COPY %s, line %llu", cp->relname,
                 (unsigned long long)d->line_no);
    }
}

static void copy_fail(sqlite_copy *cp, const char *sqlstate, const char *message)
{
    if (cp->failed)
        return;
    cp->failed = true;
    memset(&cp->err, 0, sizeof(cp->err));
    cp->err.sqlstate = sqlstate;
    snprintf(cp->err.message, sizeof(cp->err.message), "%s", message);
}

/* ---- COPY FROM: checking values as PostgreSQL's input functions ---- */

/* A NUL-terminated copy of the value (the decoder's are not terminated). */
static const char *copy_cstr(sqlite_copy *cp, const sqlite_copy_field *fl)
{
    if (fl->len + 1 > cp->num_cap) {
        size_t cap = fl->len + 64;
        char *n = realloc(cp->num, cap);
        if (!n)
            return NULL;
        cp->num = n;
        cp->num_cap = cap;
    }
    memcpy(cp->num, fl->data, fl->len);
    cp->num[fl->len] = '\0';
    return cp->num;
}

static bool copy_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out, bool *range)
{
    *range = false;
    while (isspace((unsigned char)*s))
        s++;
    bool neg = *s == '-';
    if (*s == '-' || *s == '+')
        s++;
    if (!isdigit((unsigned char)*s))
        return false;
    uint64_t v = 0;
    bool over = false;
    while (isdigit((unsigned char)*s)) {
        unsigned dgt = (unsigned)(*s++ - '0');
        if (v > (UINT64_MAX - dgt) / 10)
            over = true;
        else
            v = v * 10 + dgt;
    }
    while (isspace((unsigned char)*s))
        s++;
    if (*s)
        return false;
    if (over || (!neg && v > (uint64_t)hi) || (neg && v > (uint64_t)hi + 1) ||
        (neg && lo == 0 && v > 0)) {
        *range = true;
        return false;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    if (*out < lo) {
        *range = true;
        return false;
    }
    return true;
}

static bool copy_parse_bool(const char *s, size_t n, int *out)
{
    while (n > 0 && isspace((unsigned char)*s))
        s++, n--;
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        n--;
    if (n == 0)
        return false;
    static const struct {
        const char *word;
        size_t min;
        int val;
    } words[] = {{"true", 1, 1}, {"false", 1, 0}, {"yes", 1, 1}, {"no", 1, 0},
                 {"on", 2, 1},   {"off", 2, 0},   {"1", 1, 1},   {"0", 1, 0}};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (n >= words[i].min && n <= strlen(words[i].word) && !strncasecmp(s, words[i].word, n)) {
            *out = words[i].val;
            return true;
        }
    }
    return false;
}

static bool copy_numeric_syntax(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    if (!strncasecmp(s, "nan", 3) || !strncasecmp(s, "infinity", 8) ||
        !strncasecmp(s + (*s == '-' || *s == '+'), "infinity", 8)) {
        const char *e = s + (*s == '-' || *s == '+') + (strncasecmp(s, "nan", 3) ? 8 : 3);
        while (isspace((unsigned char)*e))
            e++;
        return *e == '\0';
    }
    if (*s == '-' || *s == '+')
        s++;
    bool digits = false;
    while (isdigit((unsigned char)*s))
        s++, digits = true;
    if (*s == '.') {
        s++;
        while (isdigit((unsigned char)*s))
            s++, digits = true;
    }
    if (!digits)
        return false;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '-' || *s == '+')
            s++;
        if (!isdigit((unsigned char)*s))
            return false;
        while (isdigit((unsigned char)*s))
            s++;
    }
    while (isspace((unsigned char)*s))
        s++;
    return *s == '\0';
}

/* Binds field i of the current row to parameter i+1 of the INSERT. */
static bool copy_bind(sqlite_copy *cp, int i, sqlite_copy_error *err)
{
    const sqlite_copy_field *fl = &cp->dec.fields[i];
    sqlite3_stmt *st = cp->insert;
    if (fl->null)
        return sqlite3_bind_null(st, i + 1) == SQLITE_OK;
    const sqlite_pg_type *t = &cp->types[i];
    switch (t->oid) {
    case WIRE_OID_INT2:
    case WIRE_OID_INT4:
    case WIRE_OID_INT8:
    case WIRE_OID_OID: {
        const char *s = copy_cstr(cp, fl);
        if (!s)
            goto oom;
        int64_t v = 0;
        bool range;
        int64_t lo = t->oid == WIRE_OID_INT2   ? INT16_MIN
                     : t->oid == WIRE_OID_INT4 ? INT32_MIN
                     : t->oid == WIRE_OID_OID  ? INT32_MIN
                                               : INT64_MIN;
        int64_t hi = t->oid == WIRE_OID_INT2   ? INT16_MAX
                     : t->oid == WIRE_OID_INT4 ? INT32_MAX
                     : t->oid == WIRE_OID_OID  ? UINT32_MAX
                                               : INT64_MAX;
        if (!copy_parse_int(s, lo, hi, &v, &range)) {
            if (range)
                copy_error(err, WIRE_SQLSTATE_NUMERIC_VALUE_OUT_OF_RANGE,
                           "value \"%.100s\" is out of range for type %s", s, wire_type_name(t->oid));
            else
                copy_error(err, WIRE_SQLSTATE_INVALID_TEXT_REPRESENTATION,
                           "invalid input syntax for type %s: \"%.100s\"", wire_type_name(t->oid), s);
            return false;
        }
        return sqlite3_bind_int64(st, i + 1, v) == SQLITE_OK;
    }
    case WIRE_OID_FLOAT4:
    case WIRE_OID_FLOAT8: {
        const char *s = copy_cstr(cp, fl);
        if (!s)
            goto oom;
        const char *p = s;
        while (isspace((unsigned char)*p))
            p++;
        char *end = NULL;
        errno = 0;
        double v = *p ? strtod(p, &end) : 0;
        if (end)
            while (isspace((unsigned char)*end))
                end++;
        if (!*p || !end || *end || (isnan(v) && strncasecmp(p, "nan", 3) != 0)) {
            copy_error(err, WIRE_SQLSTATE_INVALID_TEXT_REPRESENTATION,
                       "invalid input syntax for type %s: \"%.100s\"", wire_type_name(t->oid), s);
            return false;
        }
        bool inf_text = strcasestr(p, "inf") != NULL;
        if ((errno == ERANGE && (v != 0)) ||
            (!inf_text && t->oid == WIRE_OID_FLOAT4 && isfinite(v) && fabs(v) > 3.4028234663852886e38)) {
            copy_error(err, WIRE_SQLSTATE_NUMERIC_VALUE_OUT_OF_RANGE,
                       "\"%.100s\" is out of range for type %s", s, wire_type_name(t->oid));
            return false;
        }
        if (isnan(v))
            return sqlite3_bind_text(st, i + 1, "NaN", 3, SQLITE_STATIC) == SQLITE_OK;
        return sqlite3_bind_double(st, i + 1, v) == SQLITE_OK;
    }
    case WIRE_OID_NUMERIC: {
        const char *s = copy_cstr(cp, fl);
        if (!s)
            goto oom;
        if (!copy_numeric_syntax(s)) {
            copy_error(err, WIRE_SQLSTATE_INVALID_TEXT_REPRESENTATION,
                       "invalid input syntax for type numeric: \"%.100s\"", s);
            return false;
        }
        return sqlite3_bind_text(st, i + 1, fl->data, (int)fl->len, SQLITE_STATIC) == SQLITE_OK;
    }
    case WIRE_OID_BOOL: {
        int b;
        if (!copy_parse_bool(fl->data, fl->len, &b)) {
            const char *s = copy_cstr(cp, fl);
            copy_error(err, WIRE_SQLSTATE_INVALID_TEXT_REPRESENTATION,
                       "invalid input syntax for type boolean: \"%.100s\"", s ? s : "");
            return false;
        }
        return sqlite3_bind_int(st, i + 1, b) == SQLITE_OK;
    }
    case WIRE_OID_BYTEA: {
        if (fl->len + 1 > cp->blob_cap) {
            unsigned char *b = realloc(cp->blob, fl->len + 1);
            if (!b)
                goto oom;
            cp->blob = b;
            cp->blob_cap = fl->len + 1;
        }
        size_t n = 0;
        if (!sqlite_bytea_decode(fl->data, fl->len, cp->blob, &n)) {
            copy_error(err, WIRE_SQLSTATE_INVALID_TEXT_REPRESENTATION,
                       "invalid input syntax for type bytea");
            return false;
        }
        return sqlite3_bind_blob(st, i + 1, cp->blob, (int)n, SQLITE_STATIC) == SQLITE_OK;
    }
    default:
        return sqlite3_bind_text(st, i + 1, fl->len ? fl->data : "", (int)fl->len,
                                 SQLITE_STATIC) == SQLITE_OK;
    }
oom:
    copy_error(err, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
    return false;
}

static void copy_header_match(sqlite_copy *cp)
{
    sqlite_copy_decoder *d = &cp->dec;
    sqlite_copy_error err;
    if (d->nfields != cp->ncols) {
        copy_error(&err, SQLSTATE_BAD_COPY_FILE_FORMAT,
                   "wrong number of fields in header line: got %d, expected %d", d->nfields,
                   cp->ncols);
        copy_fail_line(cp, &err, -1, true);
        return;
    }
    for (int i = 0; i < cp->ncols; i++) {
        const sqlite_copy_field *fl = &d->fields[i];
        if (fl->null) {
            copy_error(&err, SQLSTATE_BAD_COPY_FILE_FORMAT,
                       "column name mismatch in header line field %d: got null value (\"%s\"), "
                       "expected \"%s\"",
                       i + 1, cp->fmt.null_str, cp->colnames[i]);
            copy_fail_line(cp, &err, -1, true);
            return;
        }
        if (fl->len != strlen(cp->colnames[i]) || memcmp(fl->data, cp->colnames[i], fl->len)) {
            copy_error(&err, SQLSTATE_BAD_COPY_FILE_FORMAT,
                       "column name mismatch in header line field %d: got \"%.*s\", expected \"%s\"",
                       i + 1, (int)(fl->len > 64 ? 64 : fl->len), fl->data, cp->colnames[i]);
            copy_fail_line(cp, &err, -1, true);
            return;
        }
    }
}

/* PostgreSQL's detail of a unique violation, "Key (a, b)=(1, x) already
 * exists.", from SQLite's "UNIQUE constraint failed: t.a, t.b" and the row's
 * values as the client wrote them.  Leaves `detail` as it is when a column
 * cannot be found. */
static void copy_key_detail(const sqlite_copy *cp, const char *msg, char *detail, size_t len)
{
    const char *p = strstr(msg, "failed: ");
    if (!p)
        return;
    p += 8;
    int cols[32], n = 0;
    while (*p && n < 32) {
        const char *end = strstr(p, ", ");
        size_t l = end ? (size_t)(end - p) : strlen(p);
        const char *dot = memchr(p, '.', l);
        const char *name = dot ? dot + 1 : p;
        size_t nl = l - (size_t)(name - p);
        int found = -1;
        for (int i = 0; i < cp->ncols && found < 0; i++)
            if (strlen(cp->colnames[i]) == nl && !strncasecmp(cp->colnames[i], name, nl))
                found = i;
        if (found < 0 || found >= cp->dec.nfields || cp->dec.fields[found].null)
            return;
        cols[n++] = found;
        p = end ? end + 2 : p + l;
    }
    if (n == 0)
        return;
    size_t o = (size_t)snprintf(detail, len, "Key (");
    for (int i = 0; i < n && o < len; i++)
        o += (size_t)snprintf(detail + o, len - o, "%s%s", i ? ", " : "", cp->colnames[cols[i]]);
    for (int i = 0; i < n && o < len; i++) {
        const sqlite_copy_field *fl = &cp->dec.fields[cols[i]];
        o += (size_t)snprintf(detail + o, len - o, "%s%.*s", i ? ", " : ")=(",
                              (int)(fl->len > 200 ? 200 : fl->len), fl->data);
    }
    if (o < len)
        snprintf(detail + o, len - o, ") already exists.");
}

static void copy_insert_row(sqlite_query *q, sqlite_copy *cp)
{
    sqlite_copy_decoder *d = &cp->dec;
    sqlite_copy_error err;
    if (d->nfields > cp->ncols) {
        copy_error(&err, SQLSTATE_BAD_COPY_FILE_FORMAT, "extra data after last expected column");
        copy_fail_line(cp, &err, -1, true);
        return;
    }
    if (d->nfields < cp->ncols) {
        copy_error(&err, SQLSTATE_BAD_COPY_FILE_FORMAT, "missing data for column \"%s\"",
                   cp->colnames[d->nfields]);
        copy_fail_line(cp, &err, -1, true);
        return;
    }
    for (int i = 0; i < cp->ncols; i++) {
        if (!copy_bind(cp, i, &err)) {
            copy_fail_line(cp, &err, i, false);
            sqlite3_reset(cp->insert);
            return;
        }
    }
    int rc = sqlite3_step(cp->insert);
    if (rc != SQLITE_DONE) {
        sqlite_pg_error pe;
        int xrc = sqlite3_extended_errcode(q->c->handle);
        const char *msg = sqlite3_errmsg(q->c->handle);
        sqlite_error_map(xrc, msg, &pe);
        err.sqlstate = pe.sqlstate;
        snprintf(err.message, sizeof(err.message), "%s", pe.message);
        snprintf(err.detail, sizeof(err.detail), "%s", pe.detail);
        if (xrc == SQLITE_CONSTRAINT_PRIMARYKEY || xrc == SQLITE_CONSTRAINT_UNIQUE)
            copy_key_detail(cp, msg, err.detail, sizeof(err.detail));
        err.hint[0] = err.context[0] = '\0';
        copy_fail_line(cp, &err, -1, false);
    } else {
        cp->rows++;
    }
    sqlite3_reset(cp->insert);
}

/* Decodes and inserts the rows of p[0..len); `final`: the data ends there. */
static void copy_from_feed(sqlite_query *q, sqlite_copy *cp, const uint8_t *p, size_t len, bool final)
{
    sqlite_copy_input in = {.p = p, .len = len, .final = final};
    while (!cp->failed) {
        sqlite_copy_error err;
        sqlite_copy_status st = sqlite_copy_decode(&cp->dec, &in, &err);
        switch (st) {
        case SQLITE_COPY_ROW:
            if (cp->dec.is_header) {
                if (cp->fmt.header == SQLITE_COPY_HEADER_MATCH)
                    copy_header_match(cp);
                continue;
            }
            copy_insert_row(q, cp);
            if ((cp->rows & 1023) == 0 && atomic_load(&q->c->cancel))
                copy_fail(cp, WIRE_SQLSTATE_QUERY_CANCELED, "canceling statement due to user request");
            continue;
        case SQLITE_COPY_NEED_MORE:
        case SQLITE_COPY_END:
            return;
        case SQLITE_COPY_ERROR:
            copy_fail_line(cp, &err, -1, cp->dec.raw != NULL);
            return;
        }
    }
}

/* ---- COPY TO ---- */

/* One row of the SELECT: a CopyData line, or a DataRow (rows_out). */
static bool copy_to_row(sqlite_copy *cp, wire_buf *out)
{
    sqlite3_stmt *st = cp->select;
    size_t m = cp->rows_out ? wire_data_row_begin(out, (uint16_t)cp->ncols) : wire_msg_begin(out, 'd');
    for (int i = 0; i < cp->ncols; i++) {
        const char *v = NULL;
        int32_t n = sqlite_value_format(&cp->types[i], st, i, &cp->scratch, &cp->scratch_cap, &v);
        if (n == -2) {
            out->oom = true;
            return false;
        }
        if (cp->rows_out) {
            wire_data_row_field(out, v, n);
            continue;
        }
        if (i)
            wire_buf_put_u8(out, (uint8_t)cp->fmt.delim);
        sqlite_copy_encode_field(&cp->fmt, out, n < 0 ? NULL : v, n < 0 ? 0 : (size_t)n,
                                 cp->ncols == 1);
    }
    if (!cp->rows_out)
        wire_buf_put_u8(out, '\n');
    wire_msg_end(out, m);
    return !out->oom;
}

/* Writes rows until about one part of output is in job->out or the rows
 * end.  Returns false when the statement failed (reported in cp). */
static bool copy_to_produce(sqlite_query *q, sqlite_copy *cp)
{
    wire_buf *out = &q->job->out;
    while (cp->step_rc == SQLITE_ROW && out->len < SQLITE_COPY_OUT_PART) {
        if (!copy_to_row(cp, out))
            return false;
        cp->rows++;
        q->job->rows_returned++;
        cp->step_rc = sqlite3_step(cp->select);
    }
    if (cp->step_rc != SQLITE_ROW && cp->step_rc != SQLITE_DONE) {
        sqlite_pg_error pe;
        sqlite_error_map(sqlite3_extended_errcode(q->c->handle), sqlite3_errmsg(q->c->handle), &pe);
        if (!strcmp(pe.sqlstate, WIRE_SQLSTATE_QUERY_CANCELED) &&
            atomic_load(&q->c->cancel_timeout))
            snprintf(pe.message, sizeof(pe.message), "canceling statement due to statement timeout");
        copy_fail(cp, pe.sqlstate, pe.message);
        snprintf(cp->err.detail, sizeof(cp->err.detail), "%s", pe.detail);
        return false;
    }
    return true;
}

/* The SELECT a COPY TO runs: the query's translation, or the table's columns. */
static sqlite3_stmt *copy_to_select(sqlite_query *q, const PgQuery__CopyStmt *cs)
{
    wire_buf sql;
    wire_buf_init(&sql);
    sqlite3_stmt *st = NULL;
    if (cs->query) {
        if (cs->query->node_case != PG_QUERY__NODE__NODE_SELECT_STMT) {
            sqlite_query_error(q, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED,
                               "COPY of a statement other than SELECT is not supported", NULL, 0);
            return NULL;
        }
        storage_stmt sub = {.kind = STORAGE_STMT_SELECT, .node = cs->query};
        snprintf(sub.tag, sizeof(sub.tag), "SELECT");
        char *text = NULL;
        storage_translate_error terr;
        if (!storage_translate(&sub, &text, &terr)) {
            sqlite_query_error(q, terr.sqlstate, terr.message, NULL, 0);
            return NULL;
        }
        wire_buf_append(&sql, text, strlen(text));
        free(text);
    } else {
        wire_buf_append(&sql, "SELECT ", 7);
        if (cs->n_attlist == 0)
            wire_buf_put_u8(&sql, '*');
        for (size_t i = 0; i < cs->n_attlist; i++) {
            const PgQuery__Node *a = cs->attlist[i];
            if (i)
                wire_buf_put_u8(&sql, ',');
            copy_quote_ident(&sql, a && a->node_case == PG_QUERY__NODE__NODE_STRING ? a->string->sval : "");
        }
        wire_buf_append(&sql, " FROM ", 6);
        if (!copy_relation(q, cs->relation, &sql)) {
            wire_buf_free(&sql);
            return NULL;
        }
    }
    st = copy_prepare(q, &sql);
    wire_buf_free(&sql);
    return st;
}

static bool copy_to_start(sqlite_query *q, const PgQuery__CopyStmt *cs, sqlite_copy *cp)
{
    cp->select = copy_to_select(q, cs);
    if (!cp->select)
        return false;
    if (!copy_columns(cp, cp->select)) {
        q->job->out.oom = true;
        return false;
    }
    cp->step_rc = sqlite3_step(cp->select);
    if (cp->step_rc != SQLITE_ROW && cp->step_rc != SQLITE_DONE) {
        sqlite_query_handle_error(q);
        return false;
    }
    for (int i = 0; i < cp->ncols; i++) {
        if (cp->types[i].oid != 0)
            continue;
        int cls = cp->step_rc == SQLITE_ROW ? sqlite3_column_type(cp->select, i) : SQLITE_NULL;
        sqlite_type_from_value(cls, cls == SQLITE_INTEGER ? sqlite3_column_int64(cp->select, i) : 0,
                               &cp->types[i]);
    }
    wire_put_copy_out_response(&q->job->out, cp->ncols);
    if (cp->fmt.header != SQLITE_COPY_HEADER_NONE) {
        wire_buf *out = &q->job->out;
        size_t m = wire_msg_begin(out, 'd');
        for (int i = 0; i < cp->ncols; i++) {
            if (i)
                wire_buf_put_u8(out, (uint8_t)cp->fmt.delim);
            sqlite_copy_encode_field(&cp->fmt, out, cp->colnames[i], strlen(cp->colnames[i]),
                                     cp->ncols == 1);
        }
        wire_buf_put_u8(out, '\n');
        wire_msg_end(out, m);
    }
    return true;
}

static void copy_report(sqlite_query *q, sqlite_copy *cp)
{
    wire_error e = {
        .severity = "ERROR",
        .sqlstate = cp->err.sqlstate ? cp->err.sqlstate : WIRE_SQLSTATE_INTERNAL_ERROR,
        .message = cp->err.message,
        .detail = cp->err.detail[0] ? cp->err.detail : NULL,
        .hint = cp->err.hint[0] ? cp->err.hint : NULL,
        .context = cp->err.context[0] ? cp->err.context : NULL,
    };
    wire_put_error(&q->job->out, &e);
}

static void copy_complete(sqlite_query *q, sqlite_copy *cp)
{
    char tag[48];
    snprintf(tag, sizeof(tag), "COPY %llu", (unsigned long long)cp->rows);
    if (cp->from)
        q->job->rows_affected += cp->rows;
    sqlite_query_complete(q, tag);
}

/* A streamed result's end: the statement's own tag ("SELECT n", "INSERT 0 n"
 * for one with RETURNING). */
static void copy_rows_complete(sqlite_query *q, sqlite_copy *cp)
{
    int64_t changes = sqlite3_changes64(q->c->handle);
    sqlite3_finalize(cp->select);
    cp->select = NULL;
    sqlite_query_finish(q, cp->stmt, cp->rows, changes);
}

bool sqlite_copy_stream_rows(sqlite_query *q, const storage_stmt *s, sqlite3_stmt *st, int ncols,
                             uint64_t rows)
{
    sqlite_copy *cp = calloc(1, sizeof(*cp));
    sqlite_pg_type *types = calloc((size_t)ncols, sizeof(*types));
    if (!cp || !types) {
        free(cp);
        free(types);
        return false;
    }
    memcpy(types, q->types, (size_t)ncols * sizeof(*types));
    cp->rows_out = true;
    cp->stmt = s;
    cp->select = st;
    cp->step_rc = SQLITE_ROW;
    cp->ncols = ncols;
    cp->types = types;
    cp->rows = rows;
    q->c->copy = cp;
    copy_set_copying(q->c, true);
    return true;
}

/* ---- COPY FROM start ---- */

static bool copy_from_start(sqlite_query *q, const PgQuery__CopyStmt *cs, sqlite_copy *cp)
{
    wire_buf sql;
    wire_buf_init(&sql);
    /* the columns, in the table's order or the list's */
    wire_buf_append(&sql, "SELECT ", 7);
    if (cs->n_attlist == 0)
        wire_buf_put_u8(&sql, '*');
    for (size_t i = 0; i < cs->n_attlist; i++) {
        const PgQuery__Node *a = cs->attlist[i];
        if (i)
            wire_buf_put_u8(&sql, ',');
        copy_quote_ident(&sql, a && a->node_case == PG_QUERY__NODE__NODE_STRING ? a->string->sval : "");
    }
    wire_buf_append(&sql, " FROM ", 6);
    size_t rel_at = sql.len;
    if (!copy_relation(q, cs->relation, &sql)) {
        wire_buf_free(&sql);
        return false;
    }
    wire_buf rel;
    wire_buf_init(&rel);
    wire_buf_append(&rel, sql.data + rel_at, sql.len - rel_at);
    sqlite3_stmt *cols = copy_prepare(q, &sql);
    wire_buf_free(&sql);
    if (!cols) {
        wire_buf_free(&rel);
        return false;
    }
    bool ok = copy_columns(cp, cols);
    sqlite3_finalize(cols);
    if (!ok) {
        wire_buf_free(&rel);
        q->job->out.oom = true;
        return false;
    }
    wire_buf_init(&sql);
    wire_buf_append(&sql, "INSERT INTO ", 12);
    wire_buf_append(&sql, rel.data, rel.len);
    wire_buf_free(&rel);
    wire_buf_append(&sql, " (", 2);
    for (int i = 0; i < cp->ncols; i++) {
        if (i)
            wire_buf_put_u8(&sql, ',');
        copy_quote_ident(&sql, cp->colnames[i]);
    }
    wire_buf_append(&sql, ") VALUES (", 10);
    for (int i = 0; i < cp->ncols; i++) {
        char p[16];
        int n = snprintf(p, sizeof(p), "%s?%d", i ? "," : "", i + 1);
        wire_buf_append(&sql, p, (size_t)n);
    }
    wire_buf_put_u8(&sql, ')');
    cp->insert = copy_prepare(q, &sql);
    wire_buf_free(&sql);
    if (!cp->insert)
        return false;
    if (q->c->tx_status == 'I' && !q->implicit) {
        if (!sqlite_query_exec_ctl(q, "BEGIN"))
            return false;
        cp->own_tx = true;
    }
    sqlite_copy_decoder_init(&cp->dec, &cp->fmt);
    wire_put_copy_in_response(&q->job->out, cp->ncols);
    return true;
}

bool sqlite_copy_start(sqlite_query *q, const storage_stmt *s)
{
    const PgQuery__CopyStmt *cs = s->node->copy_stmt;
    sqlite_copy_error err;

    if (cs->is_program || (cs->filename && cs->filename[0])) {
        wire_error e = {
            .severity = "ERROR",
            .sqlstate = SQLSTATE_INSUFFICIENT_PRIVILEGE,
            .message = cs->is_program
                           ? (cs->is_from ? "must be superuser or have privileges of the "
                                            "pg_execute_server_program role to COPY from a file"
                                          : "must be superuser or have privileges of the "
                                            "pg_execute_server_program role to COPY to a file")
                           : (cs->is_from ? "must be superuser or have privileges of the "
                                            "pg_read_server_files role to COPY from a file"
                                          : "must be superuser or have privileges of the "
                                            "pg_write_server_files role to COPY to a file"),
            .hint = "Anyone can COPY to stdout or from stdin. psql's \\copy command also works "
                    "for anyone.",
        };
        wire_put_error(&q->job->out, &e);
        return false;
    }
    if (cs->where_clause) {
        sqlite_query_error(q, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED,
                           "COPY FROM ... WHERE is not supported", NULL, 0);
        return false;
    }
    sqlite_copy *cp = calloc(1, sizeof(*cp));
    if (!cp) {
        q->job->out.oom = true;
        return false;
    }
    cp->from = cs->is_from;
    if (!sqlite_copy_options(cs->options, cs->n_options, cs->is_from, &cp->fmt, &err)) {
        sqlite_query_error(q, err.sqlstate, err.message, NULL, 0);
        copy_free(cp);
        return false;
    }
    snprintf(cp->relname, sizeof(cp->relname), "%s",
             cs->relation && cs->relation->relname ? cs->relation->relname : "");
    bool ok = cp->from ? copy_from_start(q, cs, cp) : copy_to_start(q, cs, cp);
    if (!ok) {
        if (cp->own_tx)
            sqlite_conn_rollback(q->c);
        copy_free(cp);
        return false;
    }
    if (!cp->from) {
        ok = copy_to_produce(q, cp);
        if (!ok || cp->step_rc == SQLITE_DONE) {
            if (ok) {
                wire_put_copy_done(&q->job->out);
                copy_complete(q, cp);
            } else {
                copy_report(q, cp);
            }
            copy_free(cp);
            return ok;
        }
    }
    q->c->copy = cp;
    copy_set_copying(q->c, true);
    return true;
}

void sqlite_copy_run(storage_job *job)
{
    storage_conn *c = job->conn;
    sqlite_copy *cp = c->copy;
    sqlite_query q = {.job = job, .c = c};
    if (!cp && c->ext_pending) { /* an Execute's large result, not a COPY */
        sqlite_extended_resume(job);
        return;
    }

    if (!cp || !c->handle) {
        wire_error e = {.severity = "ERROR",
                        .sqlstate = WIRE_SQLSTATE_INTERNAL_ERROR,
                        .message = "no COPY is in progress"};
        wire_put_error(&job->out, &e);
        job->failed = true;
        goto out;
    }
    pthread_mutex_lock(&c->lock);
    c->active = c->handle;
    pthread_mutex_unlock(&c->lock);

    q.multi = cp->batch.multi;
    q.implicit = cp->batch.implicit;
    if (!cp->failed && atomic_load(&c->cancel))
        copy_fail(cp, WIRE_SQLSTATE_QUERY_CANCELED,
                  atomic_load(&c->cancel_timeout) ? "canceling statement due to statement timeout"
                                                   : "canceling statement due to user request");

    if (cp->from) {
        bool final = job->copy_end != STORAGE_COPY_MORE;
        /* the data first: a CopyFail's line number counts the rows before it */
        if (!cp->failed && (job->copy_len || job->copy_end == STORAGE_COPY_DONE))
            copy_from_feed(&q, cp, job->copy_data ? job->copy_data : (const uint8_t *)"",
                           job->copy_len, job->copy_end == STORAGE_COPY_DONE);
        if (!cp->failed && job->copy_end == STORAGE_COPY_FAIL) {
            char msg[sizeof(cp->err.message)];
            if (job->copy_fail_sqlstate) {
                copy_fail(cp, job->copy_fail_sqlstate,
                          job->copy_fail_message ? job->copy_fail_message : "COPY failed");
            } else {
                snprintf(msg, sizeof(msg), "COPY from stdin failed: %s",
                         job->copy_fail_message ? job->copy_fail_message : "");
                copy_fail(cp, WIRE_SQLSTATE_QUERY_CANCELED, msg);
            }
            /* PostgreSQL is reading the line after the last whole one */
            snprintf(cp->err.context, sizeof(cp->err.context), "COPY %s, line %llu", cp->relname,
                     (unsigned long long)cp->dec.line_no + 1);
        }
        if (!final) {
            job->copy = STORAGE_COPY_IN;
            job->copy_discard = cp->failed;
            goto inactive;
        }
        if (!cp->failed && cp->own_tx && sqlite_conn_exec(c, "COMMIT") != SQLITE_OK) {
            sqlite_pg_error pe;
            sqlite_error_map(sqlite3_extended_errcode(c->handle), sqlite3_errmsg(c->handle), &pe);
            copy_fail(cp, pe.sqlstate, pe.message);
        }
    } else if (!cp->failed) {
        copy_to_produce(&q, cp);
        if (!cp->failed && cp->step_rc == SQLITE_ROW) {
            job->copy = STORAGE_COPY_OUT;
            goto inactive;
        }
        if (job->out.oom)
            goto inactive;
        if (!cp->failed && !cp->rows_out)
            wire_put_copy_done(&job->out);
    }

    /* the COPY is over: report it, then the rest of the message */
    bool ok = !cp->failed;
    if (ok && cp->rows_out)
        copy_rows_complete(&q, cp);
    else if (ok)
        copy_complete(&q, cp);
    else
        copy_report(&q, cp);
    sqlite_query_batch batch = cp->batch;
    memset(&cp->batch, 0, sizeof(cp->batch));
    c->copy = NULL;
    copy_set_copying(c, false);
    copy_free(cp);
    pthread_mutex_lock(&c->lock);
    c->active = NULL;
    pthread_mutex_unlock(&c->lock);
    sqlite_query_resume(job, &batch, ok);
    goto out;

inactive:
    pthread_mutex_lock(&c->lock);
    c->active = NULL;
    pthread_mutex_unlock(&c->lock);
out:
    sqlite_conn_job_end(c);
}
