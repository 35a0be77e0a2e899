/*
 * The startup packet: the first thing a client sends, before any typed
 * message.  Its first int32 is either a protocol version (3.x: a
 * StartupMessage with name/value parameters) or one of the magic request
 * codes (SSLRequest, GSSENCRequest, CancelRequest).
 *
 * The parser follows PostgreSQL's ProcessStartupPacket, with error messages
 * worded as PostgreSQL words them so clients see familiar text, and is
 * stricter in two places: request packets must have exactly their size, and
 * a user or database name longer than NAMEDATALEN - 1 bytes is rejected
 * instead of silently truncated (our results are views into the caller's
 * buffer, and a silently truncated name would be looked up under a name the
 * client never sent).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "wire_internal.h"

const char *wire_startup_kind_str(wire_startup_kind k)
{
    switch (k) {
    case WIRE_STARTUP_NORMAL:
        return "normal";
    case WIRE_STARTUP_SSL:
        return "ssl";
    case WIRE_STARTUP_GSSENC:
        return "gssenc";
    case WIRE_STARTUP_CANCEL:
        return "cancel";
    case WIRE_STARTUP_BAD_VERSION:
        return "bad version";
    case WIRE_STARTUP_INVALID:
        return "invalid";
    }
    return "unknown";
}

static wire_startup_kind startup_fail(wire_startup *out, wire_startup_kind kind, const char *fmt,
                                      ...) __attribute__((format(printf, 3, 4)));

static wire_startup_kind startup_fail(wire_startup *out, wire_startup_kind kind, const char *fmt,
                                      ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->error, sizeof out->error, fmt, ap);
    va_end(ap);
    /* Views into a rejected packet must not be used: clear them. */
    out->user = out->database = out->application_name = out->options = NULL;
    out->nparams = 0;
    out->kind = kind;
    return kind;
}

static wire_startup_kind parse_params(const uint8_t *body, size_t len, wire_startup *out)
{
    static const char layout[] = "invalid startup packet layout: expected terminator as last byte";
    size_t off = 4;
    for (;;) {
        if (off >= len)
            return startup_fail(out, WIRE_STARTUP_INVALID, "%s", layout);
        if (body[off] == '\0') {
            if (off != len - 1)
                return startup_fail(out, WIRE_STARTUP_INVALID, "%s", layout);
            break;
        }
        const uint8_t *name_end = memchr(body + off, 0, len - off);
        if (!name_end)
            return startup_fail(out, WIRE_STARTUP_INVALID, "%s", layout);
        size_t voff = (size_t)(name_end - body) + 1;
        /* voff == len - 1 would make the terminator the value: no terminator. */
        if (voff >= len - 1)
            return startup_fail(out, WIRE_STARTUP_INVALID, "%s", layout);
        const uint8_t *value_end = memchr(body + voff, 0, len - voff);
        if (!value_end)
            return startup_fail(out, WIRE_STARTUP_INVALID, "%s", layout);
        if (out->nparams >= WIRE_STARTUP_MAX_PARAMS)
            return startup_fail(out, WIRE_STARTUP_INVALID,
                                "too many parameters in startup packet (max %d)",
                                WIRE_STARTUP_MAX_PARAMS);
        const char *name = (const char *)body + off;
        const char *value = (const char *)body + voff;
        out->params[out->nparams].name = name;
        out->params[out->nparams].value = value;
        out->nparams++;
        /* As in PostgreSQL, a repeated parameter overrides the earlier one. */
        if (strcmp(name, "user") == 0)
            out->user = value;
        else if (strcmp(name, "database") == 0)
            out->database = value;
        else if (strcmp(name, "application_name") == 0)
            out->application_name = value;
        else if (strcmp(name, "options") == 0)
            out->options = value;
        off = (size_t)(value_end - body) + 1;
    }

    if (!out->user || out->user[0] == '\0')
        return startup_fail(out, WIRE_STARTUP_INVALID,
                            "no PostgreSQL user name specified in startup packet");
    if (!out->database || out->database[0] == '\0')
        out->database = out->user;
    if (strlen(out->user) >= WIRE_NAME_MAX)
        return startup_fail(out, WIRE_STARTUP_INVALID, "user name too long (max %d bytes)",
                            WIRE_NAME_MAX - 1);
    /* A long database name is the caller's to refuse: PostgreSQL's answer is
     * 3D000 (no such database), not a protocol violation. */
    out->kind = WIRE_STARTUP_NORMAL;
    return WIRE_STARTUP_NORMAL;
}

wire_startup_kind wire_startup_parse(const uint8_t *body, size_t len, wire_startup *out)
{
    memset(out, 0, sizeof *out);
    if (len < 4)
        return startup_fail(out, WIRE_STARTUP_INVALID, "invalid length of startup packet");
    uint32_t code = wire_get_u32(body);
    out->version = code;

    switch (code) {
    case WIRE_SSL_REQUEST_CODE:
    case WIRE_GSSENC_REQUEST_CODE:
        if (len != 4)
            return startup_fail(out, WIRE_STARTUP_INVALID, "invalid length of %s request packet",
                                code == WIRE_SSL_REQUEST_CODE ? "SSL" : "GSSENC");
        out->kind = code == WIRE_SSL_REQUEST_CODE ? WIRE_STARTUP_SSL : WIRE_STARTUP_GSSENC;
        return out->kind;
    case WIRE_CANCEL_REQUEST_CODE:
        if (len != 12)
            return startup_fail(out, WIRE_STARTUP_INVALID,
                                "invalid length of cancel request packet");
        out->cancel_pid = wire_get_u32(body + 4);
        out->cancel_key = wire_get_u32(body + 8);
        out->kind = WIRE_STARTUP_CANCEL;
        return WIRE_STARTUP_CANCEL;
    default:
        break;
    }

    /* Any 3.x is accepted: PostgreSQL answers a newer minor version with
     * NegotiateProtocolVersion, which is the session's business, not ours. */
    if (code >> 16 != 3)
        return startup_fail(out, WIRE_STARTUP_BAD_VERSION,
                            "unsupported frontend protocol %u.%u: server supports 3.0 to 3.0",
                            (unsigned)(code >> 16), (unsigned)(code & 0xFFFF));
    return parse_params(body, len, out);
}

void wire_put_startup(wire_buf *b, const wire_param *params, int n)
{
    size_t start = b->len;
    wire_buf_put_u32(b, 0);
    wire_buf_put_u32(b, WIRE_PROTOCOL_3_0);
    for (int i = 0; i < n; i++) {
        wire_buf_put_cstr(b, params[i].name);
        wire_buf_put_cstr(b, params[i].value);
    }
    wire_buf_put_u8(b, 0);
    if (!b->oom)
        wire_buf_patch_u32(b, start, (uint32_t)(b->len - start));
}
