/*
 * libFuzzer target: the messages a client sends after the startup packet.
 *
 * The input is a byte stream cut into frames by wire_frame_parse, as a
 * session's read buffer is; every frame goes to the parser of its type
 * (Query, Parse, Bind and its values, Describe, Close, Execute, Sync, Flush,
 * PasswordMessage and the SASL messages, CopyFail, CopyDone, and
 * ErrorResponse/NoticeResponse as the upstream side reads them), and to every
 * other parser too, which must refuse a type that is not theirs.
 *
 * Each frame is copied to a buffer of exactly its size, so that ASan sees any
 * read past a message.  Messages the parsers accept must encode back with the
 * wire_put_* builders to the same bytes: the parsers are strict (nothing may
 * follow the last field), so anything else means a field was misread.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dormouse/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The frame as the builders would have written it. */
static void expect_same(const wire_buf *b, const uint8_t *msg, size_t len)
{
    if (b->oom || b->len != len || memcmp(b->data, msg, len) != 0)
        abort();
}

static volatile size_t sink; /* keeps reads of parsed views from being optimised out */

static void touch(const void *p, size_t n)
{
    const uint8_t *c = p;
    size_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += c[i];
    sink += sum;
}

static void check_parse(const wire_frame *f, const uint8_t *msg, size_t len)
{
    wire_parse_msg m;
    if (!wire_parse_parse(f, &m))
        return;
    if (f->type != 'P' || strlen(m.query) != m.query_len)
        abort();
    uint32_t *types = calloc(m.ntypes ? m.ntypes : 1, sizeof *types);
    if (!types)
        return;
    for (uint16_t i = 0; i < m.ntypes; i++)
        types[i] = wire_parse_param_type(&m, i);
    if (wire_parse_param_type(&m, m.ntypes) != 0)
        abort();
    wire_buf b;
    wire_buf_init(&b);
    wire_put_parse(&b, m.name, m.query, types, m.ntypes);
    expect_same(&b, msg, len);
    wire_buf_free(&b);
    free(types);
}

static void check_bind(const wire_frame *f, const uint8_t *msg, size_t len)
{
    wire_bind_msg m;
    if (!wire_bind_parse(f, &m))
        return;
    if (f->type != 'B')
        abort();
    wire_value *values = calloc(m.nparams ? m.nparams : 1, sizeof *values);
    int16_t *formats = calloc(m.nformats ? m.nformats : 1, sizeof *formats);
    int16_t *results = calloc(m.nresults ? m.nresults : 1, sizeof *results);
    if (!values || !formats || !results)
        goto done;
    wire_bind_values(&m, values);
    size_t total = 0;
    for (uint16_t i = 0; i < m.nparams; i++) {
        if ((values[i].len < 0) != (values[i].data == NULL) || values[i].len < -1)
            abort();
        if (values[i].len > 0) {
            touch(values[i].data, (size_t)values[i].len);
            total += (size_t)values[i].len;
        }
        total += 4;
        sink += (size_t)wire_format_code(m.formats, m.nformats, i);
    }
    if (total != m.params_len)
        abort();
    for (uint16_t i = 0; i < m.nformats; i++)
        formats[i] = (int16_t)wire_format_code(m.formats, m.nformats, i);
    for (uint16_t i = 0; i < m.nresults; i++)
        results[i] = (int16_t)wire_format_code(m.results, m.nresults, i);
    wire_buf b;
    wire_buf_init(&b);
    wire_put_bind(&b, m.portal, m.statement, formats, m.nformats, values, m.nparams, results,
                  m.nresults);
    expect_same(&b, msg, len);
    wire_buf_free(&b);
done:
    free(values);
    free(formats);
    free(results);
}

static void check_target(const wire_frame *f, const uint8_t *msg, size_t len)
{
    wire_target_msg t;
    wire_buf b;
    wire_buf_init(&b);
    if (wire_describe_parse(f, &t)) {
        if (f->type != 'D' || (t.kind != 'S' && t.kind != 'P'))
            abort();
        wire_put_describe(&b, t.kind, t.name);
        expect_same(&b, msg, len);
    }
    wire_buf_reset(&b);
    if (wire_close_parse(f, &t)) {
        if (f->type != 'C' || (t.kind != 'S' && t.kind != 'P'))
            abort();
        wire_put_close(&b, t.kind, t.name);
        expect_same(&b, msg, len);
    }
    wire_buf_reset(&b);
    wire_execute_msg e;
    if (wire_execute_parse(f, &e)) {
        if (f->type != 'E')
            abort();
        wire_put_execute(&b, e.portal, e.max_rows);
        expect_same(&b, msg, len);
    }
    wire_buf_reset(&b);
    if (wire_sync_parse(f)) {
        if (f->type != 'S')
            abort();
        wire_put_sync(&b);
        expect_same(&b, msg, len);
    }
    wire_buf_reset(&b);
    if (wire_flush_parse(f)) {
        if (f->type != 'H')
            abort();
        wire_put_flush(&b);
        expect_same(&b, msg, len);
    }
    wire_buf_reset(&b);
    const char *s;
    if (wire_copy_fail_parse(f, &s)) {
        if (f->type != 'f')
            abort();
        wire_put_copy_fail(&b, s);
        expect_same(&b, msg, len);
    }
    wire_buf_reset(&b);
    if (wire_copy_done_parse(f)) {
        if (f->type != 'c')
            abort();
        wire_put_copy_done(&b);
        expect_same(&b, msg, len);
    }
    wire_buf_free(&b);
}

static void check_simple(const wire_frame *f)
{
    const char *s;
    size_t n;
    if (wire_query_parse(f, &s, &n)) {
        if (f->type != 'Q' || strlen(s) != n || n + 1 != f->body_len)
            abort();
    }
    if (wire_password_parse(f, &s)) {
        if (f->type != 'p' || strlen(s) + 1 != f->body_len)
            abort();
    }
    const char *mech;
    const uint8_t *d;
    if (wire_sasl_initial_parse(f, &mech, &d, &n)) {
        if (f->type != 'p' || mech[0] == '\0')
            abort();
        touch(mech, strlen(mech));
        if (d)
            touch(d, n);
        else if (n != 0)
            abort();
    }
    if (wire_sasl_response_parse(f, &d, &n)) {
        if (f->type != 'p' || n != f->body_len)
            abort();
        if (n)
            touch(d, n);
    }
    wire_error e;
    if (wire_error_parse(f, &e)) {
        if (f->type != 'E' && f->type != 'N')
            abort();
        const char *fields[] = {e.severity, e.sqlstate, e.message, e.detail, e.hint, e.context};
        for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
            if (fields[i])
                touch(fields[i], strlen(fields[i]));
        if (e.position < 0)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The first byte picks the session's max_packet_size: small limits reach
     * WIRE_FRAME_TOO_LARGE without megabytes of input. */
    if (size < 1)
        return 0;
    size_t max_size = data[0] & 0x80 ? (size_t)(data[0] & 0x7F) * 16 : WIRE_MAX_PACKET_SIZE_DEFAULT;
    data++;
    size--;

    size_t off = 0;
    while (off < size) {
        wire_frame f;
        wire_frame_status fs = wire_frame_parse(data + off, size - off, max_size, &f);
        if (!wire_frame_status_str(fs))
            abort();
        if (fs != WIRE_FRAME_OK)
            break; /* a session waits for more, or drops the client */
        if (f.total_len != (size_t)f.body_len + 5 || f.total_len > size - off ||
            f.body_len > max_size)
            abort();
        uint8_t *msg = malloc(f.total_len);
        if (!msg)
            return 0;
        memcpy(msg, data + off, f.total_len);
        wire_frame g = f;
        g.body = msg + 5;
        check_simple(&g);
        check_parse(&g, msg, g.total_len);
        check_bind(&g, msg, g.total_len);
        check_target(&g, msg, g.total_len);
        free(msg);
        off += f.total_len;
    }
    return 0;
}
