/*
 * The extended query protocol's messages: parsers for Parse, Bind, Describe,
 * Execute, Close, Sync and Flush, builders for them (tests, upstream side),
 * and the backend's ParseComplete, BindComplete, CloseComplete,
 * PortalSuspended and ParameterDescription.
 *
 * Parsers follow the rules of messages.c: the type byte is checked, every
 * string must be NUL-terminated inside the body, every count is checked
 * against the bytes that remain before anything is read, and nothing may
 * follow the last field.  Results are views into the frame; arrays of
 * integers (type OIDs, format codes) stay in network byte order in the
 * message and are read through accessors, so parsing allocates nothing.
 */
#include <string.h>

#include "wire_internal.h"

/* A cursor over a message body; every read checks what remains. */
typedef struct wire_reader {
    const uint8_t *p;
    size_t len;
    size_t off;
} wire_reader;

static void reader_init(wire_reader *r, const wire_frame *f)
{
    r->p = f->body;
    r->len = f->body ? f->body_len : 0;
    r->off = 0;
}

static bool read_cstr(wire_reader *r, const char **s, size_t *slen)
{
    if (r->off >= r->len)
        return false;
    const uint8_t *nul = memchr(r->p + r->off, 0, r->len - r->off);
    if (!nul)
        return false;
    *s = (const char *)r->p + r->off;
    if (slen)
        *slen = (size_t)(nul - (r->p + r->off));
    r->off = (size_t)(nul - r->p) + 1;
    return true;
}

static bool read_u16(wire_reader *r, uint16_t *v)
{
    if (r->len - r->off < 2)
        return false;
    *v = wire_get_u16(r->p + r->off);
    r->off += 2;
    return true;
}

static bool read_u32(wire_reader *r, uint32_t *v)
{
    if (r->len - r->off < 4)
        return false;
    *v = wire_get_u32(r->p + r->off);
    r->off += 4;
    return true;
}

/* n items of `size` bytes: returns a view of them. */
static bool read_array(wire_reader *r, size_t n, size_t size, const uint8_t **out)
{
    if ((r->len - r->off) / size < n)
        return false;
    *out = n ? r->p + r->off : NULL; /* never an offset from a NULL body */
    r->off += n * size;
    return true;
}

static bool reader_done(const wire_reader *r)
{
    return r->off == r->len;
}

bool wire_parse_parse(const wire_frame *f, wire_parse_msg *out)
{
    wire_reader r;
    if (f->type != 'P')
        return false;
    reader_init(&r, f);
    return read_cstr(&r, &out->name, NULL) && read_cstr(&r, &out->query, &out->query_len) &&
           read_u16(&r, &out->ntypes) && read_array(&r, out->ntypes, 4, &out->types) &&
           reader_done(&r);
}

uint32_t wire_parse_param_type(const wire_parse_msg *m, uint16_t i)
{
    if (i >= m->ntypes)
        return 0;
    return wire_get_u32(m->types + 4 * (size_t)i);
}

bool wire_bind_parse(const wire_frame *f, wire_bind_msg *out)
{
    wire_reader r;
    if (f->type != 'B')
        return false;
    reader_init(&r, f);
    if (!read_cstr(&r, &out->portal, NULL) || !read_cstr(&r, &out->statement, NULL) ||
        !read_u16(&r, &out->nformats) || !read_array(&r, out->nformats, 2, &out->formats) ||
        !read_u16(&r, &out->nparams))
        return false;
    out->params = r.p + r.off;
    for (uint16_t i = 0; i < out->nparams; i++) {
        uint32_t n;
        if (!read_u32(&r, &n))
            return false;
        if (n == UINT32_MAX)
            continue; /* -1: NULL */
        if (n > INT32_MAX || r.len - r.off < n)
            return false;
        r.off += n;
    }
    out->params_len = (size_t)(r.p + r.off - out->params);
    return read_u16(&r, &out->nresults) && read_array(&r, out->nresults, 2, &out->results) &&
           reader_done(&r);
}

/* The message was validated by wire_bind_parse: every length is in range. */
void wire_bind_values(const wire_bind_msg *m, wire_value *values)
{
    const uint8_t *p = m->params;
    for (uint16_t i = 0; i < m->nparams; i++) {
        uint32_t n = wire_get_u32(p);
        p += 4;
        if (n == UINT32_MAX) {
            values[i].data = NULL;
            values[i].len = -1;
        } else {
            values[i].data = p;
            values[i].len = (int32_t)n;
            p += n;
        }
    }
}

int wire_format_code(const uint8_t *codes, uint16_t n, uint16_t i)
{
    if (n == 0)
        return 0;
    if (n == 1)
        i = 0;
    else if (i >= n)
        return -1;
    return (int16_t)wire_get_u16(codes + 2 * (size_t)i);
}

static bool target_parse(const wire_frame *f, char type, wire_target_msg *out)
{
    wire_reader r;
    if (f->type != type)
        return false;
    reader_init(&r, f);
    if (r.len < 1 || (r.p[0] != 'S' && r.p[0] != 'P'))
        return false;
    out->kind = (char)r.p[0];
    r.off = 1;
    return read_cstr(&r, &out->name, NULL) && reader_done(&r);
}

bool wire_describe_parse(const wire_frame *f, wire_target_msg *out)
{
    return target_parse(f, 'D', out);
}

bool wire_close_parse(const wire_frame *f, wire_target_msg *out)
{
    return target_parse(f, 'C', out);
}

bool wire_execute_parse(const wire_frame *f, wire_execute_msg *out)
{
    wire_reader r;
    uint32_t n;
    if (f->type != 'E')
        return false;
    reader_init(&r, f);
    if (!read_cstr(&r, &out->portal, NULL) || !read_u32(&r, &n) || !reader_done(&r))
        return false;
    out->max_rows = (int32_t)n;
    return true;
}

bool wire_sync_parse(const wire_frame *f)
{
    return f->type == 'S' && f->body_len == 0;
}

bool wire_flush_parse(const wire_frame *f)
{
    return f->type == 'H' && f->body_len == 0;
}

/* ---- frontend builders ---- */

static bool count_ok(wire_buf *b, int n)
{
    if (n < 0 || n > UINT16_MAX) {
        b->oom = true;
        return false;
    }
    return true;
}

void wire_put_parse(wire_buf *b, const char *name, const char *query, const uint32_t *types,
                    int ntypes)
{
    if (!count_ok(b, ntypes))
        return;
    size_t m = wire_msg_begin(b, 'P');
    wire_buf_put_cstr(b, name);
    wire_buf_put_cstr(b, query);
    wire_buf_put_u16(b, (uint16_t)ntypes);
    for (int i = 0; i < ntypes; i++)
        wire_buf_put_u32(b, types[i]);
    wire_msg_end(b, m);
}

void wire_put_bind(wire_buf *b, const char *portal, const char *statement, const int16_t *formats,
                   int nformats, const wire_value *params, int nparams, const int16_t *results,
                   int nresults)
{
    if (!count_ok(b, nformats) || !count_ok(b, nparams) || !count_ok(b, nresults))
        return;
    size_t m = wire_msg_begin(b, 'B');
    wire_buf_put_cstr(b, portal);
    wire_buf_put_cstr(b, statement);
    wire_buf_put_u16(b, (uint16_t)nformats);
    for (int i = 0; i < nformats; i++)
        wire_buf_put_u16(b, (uint16_t)formats[i]);
    wire_buf_put_u16(b, (uint16_t)nparams);
    for (int i = 0; i < nparams; i++) {
        if (!params[i].data || params[i].len < 0) {
            wire_buf_put_u32(b, UINT32_MAX);
            continue;
        }
        wire_buf_put_u32(b, (uint32_t)params[i].len);
        wire_buf_append(b, params[i].data, (size_t)params[i].len);
    }
    wire_buf_put_u16(b, (uint16_t)nresults);
    for (int i = 0; i < nresults; i++)
        wire_buf_put_u16(b, (uint16_t)results[i]);
    wire_msg_end(b, m);
}

static void put_target(wire_buf *b, char type, char kind, const char *name)
{
    size_t m = wire_msg_begin(b, type);
    wire_buf_put_u8(b, (uint8_t)kind);
    wire_buf_put_cstr(b, name);
    wire_msg_end(b, m);
}

void wire_put_describe(wire_buf *b, char kind, const char *name)
{
    put_target(b, 'D', kind, name);
}

void wire_put_close(wire_buf *b, char kind, const char *name)
{
    put_target(b, 'C', kind, name);
}

void wire_put_execute(wire_buf *b, const char *portal, int32_t max_rows)
{
    size_t m = wire_msg_begin(b, 'E');
    wire_buf_put_cstr(b, portal);
    wire_buf_put_u32(b, (uint32_t)max_rows);
    wire_msg_end(b, m);
}

void wire_put_sync(wire_buf *b)
{
    wire_msg_end(b, wire_msg_begin(b, 'S'));
}

void wire_put_flush(wire_buf *b)
{
    wire_msg_end(b, wire_msg_begin(b, 'H'));
}

/* ---- backend builders ---- */

void wire_put_parse_complete(wire_buf *b)
{
    wire_msg_end(b, wire_msg_begin(b, '1'));
}

void wire_put_bind_complete(wire_buf *b)
{
    wire_msg_end(b, wire_msg_begin(b, '2'));
}

void wire_put_close_complete(wire_buf *b)
{
    wire_msg_end(b, wire_msg_begin(b, '3'));
}

void wire_put_portal_suspended(wire_buf *b)
{
    wire_msg_end(b, wire_msg_begin(b, 's'));
}

void wire_put_parameter_description(wire_buf *b, const uint32_t *oids, int n)
{
    if (!count_ok(b, n))
        return;
    size_t m = wire_msg_begin(b, 't');
    wire_buf_put_u16(b, (uint16_t)n);
    for (int i = 0; i < n; i++)
        wire_buf_put_u32(b, oids[i]);
    wire_msg_end(b, m);
}
