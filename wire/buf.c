/*
 * The growable output buffer that backend (and, for tests and the upstream
 * side, frontend) messages are appended to, and the begin/end helpers that
 * frame a typed message by back-patching its length word.
 *
 * Allocation failure is sticky: the first failed growth sets `oom`, later
 * appends are ignored, and the owner checks `oom` once before sending.  That
 * keeps every builder free of error paths while never sending a half-written
 * message.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "wire_internal.h"

#define WIRE_BUF_MIN_CAP 256

void wire_buf_init(wire_buf *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->oom = false;
}

void wire_buf_free(wire_buf *b)
{
    free(b->data);
    wire_buf_init(b);
}

/* Also clears `oom`: the contents are discarded, so nothing half-written can
 * be sent any more and the buffer is usable again. */
void wire_buf_reset(wire_buf *b)
{
    b->len = 0;
    b->oom = false;
}

void wire_buf_consume(wire_buf *b, size_t n)
{
    if (n >= b->len) {
        b->len = 0;
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
}

bool wire_buf_reserve(wire_buf *b, size_t extra)
{
    if (b->oom)
        return false;
    if (extra <= b->cap - b->len)
        return true;
    if (extra > SIZE_MAX - b->len) {
        b->oom = true;
        return false;
    }
    size_t need = b->len + extra;
    size_t cap = b->cap ? b->cap : WIRE_BUF_MIN_CAP;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        b->oom = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void wire_buf_append(wire_buf *b, const void *p, size_t n)
{
    if (n == 0 || !wire_buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

void wire_buf_put_u8(wire_buf *b, uint8_t v)
{
    wire_buf_append(b, &v, 1);
}

void wire_buf_put_u16(wire_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    wire_buf_append(b, x, 2);
}

void wire_buf_put_u32(wire_buf *b, uint32_t v)
{
    uint8_t x[4];
    wire_set_u32(x, v);
    wire_buf_append(b, x, 4);
}

/* NULL is written as the empty string so builders can pass optional fields. */
void wire_buf_put_cstr(wire_buf *b, const char *s)
{
    if (!s)
        s = "";
    wire_buf_append(b, s, strlen(s) + 1);
}

void wire_buf_patch_u32(wire_buf *b, size_t at, uint32_t v)
{
    if (b->oom || at > b->len || b->len - at < 4)
        return;
    wire_set_u32(b->data + at, v);
}

size_t wire_msg_begin(wire_buf *b, char type)
{
    size_t start = b->len;
    wire_buf_put_u8(b, (uint8_t)type);
    wire_buf_put_u32(b, 0);
    return start;
}

/* The length word counts itself and the body but not the type byte.  A message
 * too long for the protocol's int32 cannot be sent: that marks the buffer
 * failed, like an allocation failure, rather than sending a wrong length. */
void wire_msg_end(wire_buf *b, size_t start)
{
    if (b->oom || start > b->len || b->len - start < 5)
        return;
    size_t n = b->len - start - 1;
    if (n > INT32_MAX) {
        b->oom = true;
        return;
    }
    wire_buf_patch_u32(b, start + 1, (uint32_t)n);
}
