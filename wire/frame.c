/*
 * Framing: finding whole messages in a stream of bytes.
 *
 * A typed message is 1 type byte, an int32 length that counts itself and the
 * body, then the body.  Startup-phase packets (StartupMessage, SSLRequest,
 * GSSENCRequest, CancelRequest) have no type byte.  The length is a signed
 * int32 on the wire, so a length with the high bit set is negative and
 * INVALID, like any length below the length word's own size.
 *
 * Limits are checked as soon as the header is in, before the body arrives, so
 * a peer cannot make us buffer a gigabyte before we notice.
 */
#include "wire_internal.h"

const char *wire_frame_status_str(wire_frame_status s)
{
    switch (s) {
    case WIRE_FRAME_OK:
        return "ok";
    case WIRE_FRAME_INCOMPLETE:
        return "incomplete";
    case WIRE_FRAME_TOO_LARGE:
        return "too large";
    case WIRE_FRAME_INVALID:
        return "invalid";
    }
    return "unknown";
}

wire_frame_status wire_frame_parse(const uint8_t *p, size_t len, size_t max_size, wire_frame *out)
{
    if (len < 5)
        return WIRE_FRAME_INCOMPLETE;
    uint32_t length = wire_get_u32(p + 1);
    if (length < 4 || length > INT32_MAX)
        return WIRE_FRAME_INVALID;
    uint32_t body_len = length - 4;
    if (body_len > max_size)
        return WIRE_FRAME_TOO_LARGE;
    if (len - 5 < body_len)
        return WIRE_FRAME_INCOMPLETE;
    out->type = (char)p[0];
    out->body = p + 5;
    out->body_len = body_len;
    out->total_len = (size_t)body_len + 5;
    return WIRE_FRAME_OK;
}

/* PostgreSQL's ProcessStartupPacket: the length must leave room for the 4-byte
 * protocol code and may not exceed MAX_STARTUP_PACKET_LENGTH. */
wire_frame_status wire_startup_frame_parse(const uint8_t *p, size_t len, wire_frame *out)
{
    if (len < 4)
        return WIRE_FRAME_INCOMPLETE;
    uint32_t length = wire_get_u32(p);
    if (length < 8 || length > INT32_MAX)
        return WIRE_FRAME_INVALID;
    if (length > WIRE_MAX_STARTUP_PACKET)
        return WIRE_FRAME_TOO_LARGE;
    if (len < length)
        return WIRE_FRAME_INCOMPLETE;
    out->type = 0;
    out->body = p + 4;
    out->body_len = length - 4;
    out->total_len = length;
    return WIRE_FRAME_OK;
}
