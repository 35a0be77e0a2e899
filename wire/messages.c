/*
 * Frontend message parsers and backend message builders for the messages the
 * proxy speaks itself: Query, PasswordMessage and its SASL variants on the way
 * in; authentication requests, ParameterStatus, BackendKeyData, ReadyForQuery,
 * CommandComplete, EmptyQueryResponse, NoData, ErrorResponse/NoticeResponse,
 * RowDescription and DataRow on the way out; and the COPY sub-protocol's
 * CopyInResponse, CopyOutResponse, CopyData, CopyDone (and CopyFail's parser).
 *
 * Parsers take a frame from wire_frame_parse(), check its type byte, and
 * accept a body only if it is exactly the expected layout: every string
 * NUL-terminated inside the body, no embedded NUL where a single string is
 * expected, nothing after the last field.  Builders never fail; they rely on
 * wire_buf's sticky oom flag.
 */
#include <stdio.h>
#include <string.h>

#include "wire_internal.h"

/* ---- frontend messages ---- */

/* The body is exactly one C string: its only NUL is its last byte. */
static bool single_cstr(const wire_frame *f, const char **s, size_t *slen)
{
    if (!f->body || f->body_len == 0)
        return false;
    const uint8_t *nul = memchr(f->body, 0, f->body_len);
    if (nul != f->body + f->body_len - 1)
        return false;
    *s = (const char *)f->body;
    if (slen)
        *slen = f->body_len - 1;
    return true;
}

bool wire_query_parse(const wire_frame *f, const char **sql, size_t *sql_len)
{
    if (f->type != 'Q')
        return false;
    return single_cstr(f, sql, sql_len);
}

bool wire_password_parse(const wire_frame *f, const char **password)
{
    if (f->type != 'p')
        return false;
    return single_cstr(f, password, NULL);
}

bool wire_sasl_initial_parse(const wire_frame *f, const char **mechanism, const uint8_t **data,
                             size_t *data_len)
{
    if (f->type != 'p' || !f->body || f->body_len == 0)
        return false;
    const uint8_t *nul = memchr(f->body, 0, f->body_len);
    if (!nul || nul == f->body) /* an empty mechanism name is no mechanism */
        return false;
    size_t off = (size_t)(nul - f->body) + 1;
    if (f->body_len - off < 4)
        return false;
    uint32_t n = wire_get_u32(f->body + off);
    off += 4;
    size_t rest = f->body_len - off;
    if (n == UINT32_MAX) { /* -1: no initial response */
        if (rest != 0)
            return false;
        *data = NULL;
        *data_len = 0;
    } else {
        if (n > INT32_MAX || n != rest)
            return false;
        *data = f->body + off;
        *data_len = n;
    }
    *mechanism = (const char *)f->body;
    return true;
}

bool wire_sasl_response_parse(const wire_frame *f, const uint8_t **data, size_t *data_len)
{
    if (f->type != 'p')
        return false;
    *data = f->body;
    *data_len = f->body_len;
    return true;
}

/* ---- backend messages ---- */

static void put_auth(wire_buf *b, uint32_t code)
{
    size_t m = wire_msg_begin(b, 'R');
    wire_buf_put_u32(b, code);
    wire_msg_end(b, m);
}

void wire_put_auth_ok(wire_buf *b)
{
    put_auth(b, WIRE_AUTH_OK);
}

void wire_put_auth_cleartext(wire_buf *b)
{
    put_auth(b, WIRE_AUTH_CLEARTEXT);
}

void wire_put_auth_md5(wire_buf *b, const uint8_t salt[4])
{
    size_t m = wire_msg_begin(b, 'R');
    wire_buf_put_u32(b, WIRE_AUTH_MD5);
    wire_buf_append(b, salt, 4);
    wire_msg_end(b, m);
}

void wire_put_auth_sasl(wire_buf *b, const char *const *mechanisms, int n)
{
    size_t m = wire_msg_begin(b, 'R');
    wire_buf_put_u32(b, WIRE_AUTH_SASL);
    for (int i = 0; i < n; i++)
        wire_buf_put_cstr(b, mechanisms[i]);
    wire_buf_put_u8(b, 0);
    wire_msg_end(b, m);
}

void wire_put_auth_sasl_continue(wire_buf *b, const void *data, size_t len)
{
    size_t m = wire_msg_begin(b, 'R');
    wire_buf_put_u32(b, WIRE_AUTH_SASL_CONTINUE);
    wire_buf_append(b, data, len);
    wire_msg_end(b, m);
}

void wire_put_auth_sasl_final(wire_buf *b, const void *data, size_t len)
{
    size_t m = wire_msg_begin(b, 'R');
    wire_buf_put_u32(b, WIRE_AUTH_SASL_FINAL);
    wire_buf_append(b, data, len);
    wire_msg_end(b, m);
}

void wire_put_parameter_status(wire_buf *b, const char *name, const char *value)
{
    size_t m = wire_msg_begin(b, 'S');
    wire_buf_put_cstr(b, name);
    wire_buf_put_cstr(b, value);
    wire_msg_end(b, m);
}

void wire_put_backend_key(wire_buf *b, uint32_t pid, uint32_t key)
{
    size_t m = wire_msg_begin(b, 'K');
    wire_buf_put_u32(b, pid);
    wire_buf_put_u32(b, key);
    wire_msg_end(b, m);
}

void wire_put_ready(wire_buf *b, char status)
{
    size_t m = wire_msg_begin(b, 'Z');
    wire_buf_put_u8(b, (uint8_t)status);
    wire_msg_end(b, m);
}

void wire_put_command_complete(wire_buf *b, const char *tag)
{
    size_t m = wire_msg_begin(b, 'C');
    wire_buf_put_cstr(b, tag);
    wire_msg_end(b, m);
}

void wire_put_empty_query(wire_buf *b)
{
    wire_msg_end(b, wire_msg_begin(b, 'I'));
}

void wire_put_no_data(wire_buf *b)
{
    wire_msg_end(b, wire_msg_begin(b, 'n'));
}

static void put_field(wire_buf *b, char code, const char *value)
{
    if (!value)
        return;
    wire_buf_put_u8(b, (uint8_t)code);
    wire_buf_put_cstr(b, value);
}

/* Field order as PostgreSQL sends it: S, V, C, M, D, H, P, W, terminator. */
static void put_error_or_notice(wire_buf *b, char type, const wire_error *e)
{
    size_t m = wire_msg_begin(b, type);
    put_field(b, 'S', e->severity);
    put_field(b, 'V', e->severity);
    put_field(b, 'C', e->sqlstate);
    put_field(b, 'M', e->message);
    put_field(b, 'D', e->detail);
    put_field(b, 'H', e->hint);
    if (e->position > 0) {
        char pos[16];
        snprintf(pos, sizeof pos, "%d", e->position);
        put_field(b, 'P', pos);
    }
    put_field(b, 'W', e->context);
    wire_buf_put_u8(b, 0);
    wire_msg_end(b, m);
}

void wire_put_error(wire_buf *b, const wire_error *e)
{
    put_error_or_notice(b, 'E', e);
}

void wire_put_notice(wire_buf *b, const wire_error *e)
{
    put_error_or_notice(b, 'N', e);
}

/* A position is a positive decimal int with no sign, spaces or leading zero. */
static bool parse_position(const char *s, int *out)
{
    if (s[0] < '1' || s[0] > '9')
        return false;
    long v = 0;
    for (const char *c = s; *c; c++) {
        if (*c < '0' || *c > '9')
            return false;
        v = v * 10 + (*c - '0');
        if (v > INT32_MAX)
            return false;
    }
    *out = (int)v;
    return true;
}

/* Unknown field codes are skipped (the protocol allows new ones).  The
 * severity is taken from V (never localized) when present, else from S. */
bool wire_error_parse(const wire_frame *f, wire_error *out)
{
    memset(out, 0, sizeof *out);
    if ((f->type != 'E' && f->type != 'N') || !f->body)
        return false;
    const uint8_t *p = f->body;
    size_t len = f->body_len;
    const char *s_field = NULL;
    const char *v_field = NULL;
    size_t off = 0;
    for (;;) {
        if (off >= len)
            return false; /* no terminator */
        char code = (char)p[off++];
        if (code == '\0')
            break;
        const uint8_t *nul = memchr(p + off, 0, len - off);
        if (!nul)
            return false;
        const char *value = (const char *)p + off;
        off = (size_t)(nul - p) + 1;
        switch (code) {
        case 'S':
            s_field = value;
            break;
        case 'V':
            v_field = value;
            break;
        case 'C':
            out->sqlstate = value;
            break;
        case 'M':
            out->message = value;
            break;
        case 'D':
            out->detail = value;
            break;
        case 'H':
            out->hint = value;
            break;
        case 'W':
            out->context = value;
            break;
        case 'P':
            if (!parse_position(value, &out->position))
                return false;
            break;
        default:
            break;
        }
    }
    if (off != len)
        return false; /* bytes after the terminator */
    out->severity = v_field ? v_field : s_field;
    return true;
}

/* The column count is an int16 on the wire: a count it cannot carry marks the
 * buffer failed (like oom) rather than sending a wrong count. */
void wire_put_row_description(wire_buf *b, const wire_column *cols, int n)
{
    if (n < 0 || n > UINT16_MAX) {
        b->oom = true;
        return;
    }
    size_t m = wire_msg_begin(b, 'T');
    wire_buf_put_u16(b, (uint16_t)n);
    for (int i = 0; i < n; i++) {
        const wire_column *c = &cols[i];
        wire_buf_put_cstr(b, c->name);
        wire_buf_put_u32(b, c->table_oid);
        wire_buf_put_u16(b, (uint16_t)c->column);
        wire_buf_put_u32(b, c->type_oid);
        wire_buf_put_u16(b, (uint16_t)c->type_len);
        wire_buf_put_u32(b, (uint32_t)c->type_mod);
        wire_buf_put_u16(b, (uint16_t)c->format);
    }
    wire_msg_end(b, m);
}

size_t wire_data_row_begin(wire_buf *b, uint16_t ncols)
{
    size_t m = wire_msg_begin(b, 'D');
    wire_buf_put_u16(b, ncols);
    return m;
}

/* Any negative length is sent as -1 (NULL), as is a NULL value with a positive
 * length (a caller bug that must not read through NULL). */
void wire_data_row_field(wire_buf *b, const void *value, int32_t len)
{
    if (len < 0 || (!value && len > 0)) {
        wire_buf_put_u32(b, UINT32_MAX);
        return;
    }
    wire_buf_put_u32(b, (uint32_t)len);
    wire_buf_append(b, value, (size_t)len);
}

/* ---- COPY ---- */

static void put_copy_response(wire_buf *b, char type, int ncols)
{
    if (ncols < 0 || ncols > INT16_MAX) {
        b->oom = true;
        return;
    }
    size_t m = wire_msg_begin(b, type);
    wire_buf_put_u8(b, 0); /* text */
    wire_buf_put_u16(b, (uint16_t)ncols);
    for (int i = 0; i < ncols; i++)
        wire_buf_put_u16(b, 0);
    wire_msg_end(b, m);
}

void wire_put_copy_in_response(wire_buf *b, int ncols)
{
    put_copy_response(b, 'G', ncols);
}

void wire_put_copy_out_response(wire_buf *b, int ncols)
{
    put_copy_response(b, 'H', ncols);
}

void wire_put_copy_data(wire_buf *b, const void *data, size_t len)
{
    size_t m = wire_msg_begin(b, 'd');
    wire_buf_append(b, data, len);
    wire_msg_end(b, m);
}

void wire_put_copy_done(wire_buf *b)
{
    wire_msg_end(b, wire_msg_begin(b, 'c'));
}

void wire_put_copy_fail(wire_buf *b, const char *message)
{
    size_t m = wire_msg_begin(b, 'f');
    wire_buf_put_cstr(b, message);
    wire_msg_end(b, m);
}

bool wire_copy_fail_parse(const wire_frame *f, const char **message)
{
    if (f->type != 'f')
        return false;
    return single_cstr(f, message, NULL);
}

bool wire_copy_done_parse(const wire_frame *f)
{
    return f->type == 'c' && f->body_len == 0;
}
