/*
 * libFuzzer target: the startup packet, the first bytes any client sends
 * before authenticating (wire_startup_frame_parse, then wire_startup_parse).
 *
 * Besides the sanitizers' checks, a packet accepted as a StartupMessage must
 * encode back (wire_put_startup) to the same bytes after its version word:
 * the parser's views must cover exactly what the client sent.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dormouse/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_startup(const uint8_t *body, size_t len)
{
    wire_startup st;
    wire_startup_kind k = wire_startup_parse(body, len, &st);
    if (k != st.kind || !wire_startup_kind_str(k))
        abort();
    if (k != WIRE_STARTUP_NORMAL) {
        if ((k == WIRE_STARTUP_INVALID || k == WIRE_STARTUP_BAD_VERSION) &&
            (st.error[0] == '\0' || st.user || st.nparams))
            abort();
        return;
    }
    if (!st.user || !st.database || st.user[0] == '\0' || strlen(st.user) >= WIRE_NAME_MAX ||
        st.nparams < 1 || st.nparams > WIRE_STARTUP_MAX_PARAMS)
        abort();
    wire_buf b;
    wire_buf_init(&b);
    wire_put_startup(&b, st.params, st.nparams);
    /* wire_put_startup writes a length word and 3.0; the parser took any 3.x. */
    if (b.oom || b.len != len + 4 || memcmp(b.data + 8, body + 4, len - 4) != 0)
        abort();
    wire_buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wire_frame f;
    wire_frame_status fs = wire_startup_frame_parse(data, size, &f);
    if (!wire_frame_status_str(fs))
        abort();
    if (fs == WIRE_FRAME_OK) {
        if (f.total_len > size || f.body_len + 4 != f.total_len)
            abort();
        /* A copy of exactly the body, so that ASan sees any read past it. */
        uint8_t *body = malloc(f.body_len ? f.body_len : 1);
        if (!body)
            return 0;
        memcpy(body, f.body, f.body_len);
        check_startup(body, f.body_len);
        free(body);
    }
    /* The body parser on its own, for lengths the framing would refuse. */
    check_startup(data, size);
    return 0;
}
