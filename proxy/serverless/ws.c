/*
 * PostgreSQL over WebSockets (Neon's /v2): the driver's Pool and Client
 * speak the ordinary wire protocol inside binary WebSocket messages.  A
 * GET with "Upgrade: websocket" on sql_http_listen is answered 101 (RFC
 * 6455's handshake, no subprotocol, no extension), and the connection
 * becomes a bridge: the payloads of the client's binary frames, a byte
 * stream that frames may cut anywhere, go into a socketpair whose other end
 * is an ordinary session of this server (session_accept, with the client's
 * address); what the session writes comes back as binary messages.  wslay
 * does the framing (masking, fragments, ping, close) over the upgraded
 * socket, driven by loop 0's watchers.
 *
 * Flow control: no more is read from the WebSocket while the bytes for the
 * session are over WS_HIGH, and no more from the session while wslay holds
 * more than WS_HIGH for the client.  The session ending closes the
 * WebSocket (1000; the driver's end() waits for it), and the WebSocket
 * closing ends the session (its socket reads EOF).
 */
#include "serverless.h"

#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "internal.h"

#define WS_HIGH (256 * 1024)
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

struct ws_conn {
    proxy_server *srv;
    ws_list *list;
    struct ws_conn *next, *prev;
    struct MHD_UpgradeResponseHandle *urh;
    int sock; /* the WebSocket client's */
    ev_io sio;
    int fd; /* our end of the session's socketpair */
    ev_io fio;
    wslay_event_context_ptr ctx;
    uint8_t *extra; /* what MHD read past the handshake */
    size_t extra_len, extra_at;
    wire_buf to_session;
    bool binary;       /* the data message under way is binary */
    bool control;      /* the frame under way is a control frame (ping, pong, close) */
    bool rejected;     /* we closed the WebSocket (a text frame): nothing more goes in */
    bool session_deaf; /* writing to the session failed: what comes is dropped */
    bool session_gone; /* its socket read EOF (or failed) */
    bool close_queued; /* our close frame */
    bool closed;
};

/* ---- the handshake ---- */

/* Whether the comma-separated header value has token (case-insensitive). */
static bool ws_has_token(const char *v, const char *token)
{
    size_t n = strlen(token);
    while (v && *v) {
        while (*v == ' ' || *v == ',' || *v == '\t')
            v++;
        const char *end = v;
        while (*end && *end != ',')
            end++;
        const char *e = end;
        while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        if ((size_t)(e - v) == n && !strncasecmp(v, token, n))
            return true;
        v = end;
    }
    return false;
}

bool ws_is_upgrade(struct MHD_Connection *c)
{
    const char *up = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_UPGRADE);
    return up && ws_has_token(up, "websocket");
}

static void ws_upgraded(void *cls, struct MHD_Connection *c, void *req_cls, const char *extra_in,
                        size_t extra_in_size, MHD_socket sock,
                        struct MHD_UpgradeResponseHandle *urh);

static enum MHD_Result ws_refuse(struct MHD_Connection *c, unsigned status, const char *msg)
{
    char body[300];
    snprintf(body, sizeof(body), "{\"message\":\"%s\"}", msg);
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    if (status == MHD_HTTP_UPGRADE_REQUIRED)
        MHD_add_response_header(r, "Sec-WebSocket-Version", "13");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result ws_accept(ws_list *list, struct MHD_Connection *c, const char *method)
{
    if (strcmp(method, "GET") != 0)
        return ws_refuse(c, MHD_HTTP_METHOD_NOT_ALLOWED, "a WebSocket opens with GET");
    const char *conn = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONNECTION);
    const char *version = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Version");
    const char *key = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Sec-WebSocket-Key");
    if (!conn || !ws_has_token(conn, "upgrade"))
        return ws_refuse(c, MHD_HTTP_BAD_REQUEST, "Connection: Upgrade is missing");
    if (!version || strcmp(version, "13") != 0)
        return ws_refuse(c, MHD_HTTP_UPGRADE_REQUIRED, "only WebSocket version 13 is spoken");
    uint8_t raw[32];
    if (!key || strlen(key) != 24 || EVP_DecodeBlock(raw, (const unsigned char *)key, 24) != 18)
        return ws_refuse(c, MHD_HTTP_BAD_REQUEST, "Sec-WebSocket-Key is not 16 bytes in base64");
    if (list->srv->shutting_down)
        return ws_refuse(c, MHD_HTTP_SERVICE_UNAVAILABLE, "Dormouse is shutting down");
    char concat[64];
    snprintf(concat, sizeof(concat), "%s%s", key, WS_GUID);
    uint8_t sha[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)concat, strlen(concat), sha);
    char accept[40];
    EVP_EncodeBlock((unsigned char *)accept, sha, SHA_DIGEST_LENGTH);
    struct MHD_Response *r = MHD_create_response_for_upgrade(ws_upgraded, list);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_UPGRADE, "websocket");
    MHD_add_response_header(r, "Sec-WebSocket-Accept", accept);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_SWITCHING_PROTOCOLS, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- the bridge ---- */

static void ws_close(ws_conn *w)
{
    if (w->closed)
        return;
    w->closed = true;
    struct ev_loop *loop = w->srv->loop;
    ev_io_stop(loop, &w->sio);
    ev_io_stop(loop, &w->fio);
    if (w->fd >= 0)
        close(w->fd); /* the session reads EOF and ends */
    w->fd = -1;
    if (w->next)
        w->next->prev = w->prev;
    if (w->prev)
        w->prev->next = w->next;
    else if (w->list->head == w)
        w->list->head = w->next;
    wslay_event_context_free(w->ctx);
    wire_buf_free(&w->to_session);
    free(w->extra);
    struct MHD_UpgradeResponseHandle *urh = w->urh;
    ws_list *list = w->list;
    free(w);
    MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE); /* the socket closes in MHD's next run */
    if (list->kick)
        list->kick(list);
}

static ssize_t ws_recv_cb(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags,
                          void *user)
{
    ws_conn *w = user;
    (void)flags;
    if (w->to_session.len >= WS_HIGH) {
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
        return -1;
    }
    if (w->extra_at < w->extra_len) {
        size_t n = w->extra_len - w->extra_at < len ? w->extra_len - w->extra_at : len;
        memcpy(buf, w->extra + w->extra_at, n);
        w->extra_at += n;
        return (ssize_t)n;
    }
    ssize_t n = recv(w->sock, buf, len, 0);
    if (n > 0)
        return n;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    else
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE); /* EOF or an error */
    return -1;
}

static ssize_t ws_send_cb(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags,
                          void *user)
{
    ws_conn *w = user;
    (void)flags;
    ssize_t n = send(w->sock, data, len, MSG_NOSIGNAL);
    if (n >= 0)
        return n;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    else
        wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
}

static void ws_frame_start_cb(wslay_event_context_ptr ctx,
                              const struct wslay_event_on_frame_recv_start_arg *arg, void *user)
{
    ws_conn *w = user;
    /* wslay reports control frames' payloads too: they are not the stream */
    w->control = (arg->opcode & 0x8) != 0;
    if (w->control)
        return;
    if (arg->opcode == WSLAY_BINARY_FRAME) {
        w->binary = true;
    } else if (arg->opcode == WSLAY_TEXT_FRAME) {
        /* the protocol is bytes: a text frame is a broken client, whose
         * session ends now (ws_pump) */
        w->binary = false;
        if (!w->rejected) {
            w->rejected = true;
            static const char why[] = "binary frames only";
            wslay_event_queue_close(ctx, WSLAY_CODE_UNSUPPORTED_DATA, (const uint8_t *)why,
                                    sizeof(why) - 1);
        }
    } /* (a continuation goes on with its message's kind) */
}

static void ws_frame_chunk_cb(wslay_event_context_ptr ctx,
                              const struct wslay_event_on_frame_recv_chunk_arg *arg, void *user)
{
    ws_conn *w = user;
    (void)ctx;
    if (w->binary && !w->control && !w->rejected && !w->session_deaf && w->fd >= 0)
        wire_buf_append(&w->to_session, arg->data, arg->data_length);
}

static void ws_msg_cb(wslay_event_context_ptr ctx, const struct wslay_event_on_msg_recv_arg *arg,
                      void *user)
{
    (void)ctx;
    (void)arg;
    (void)user; /* data came by chunks; ping and close wslay answers itself */
}

static void ws_update(ws_conn *w);

/* Moves what can be moved both ways; closes the bridge when both are done. */
static void ws_pump(ws_conn *w)
{
    /* client -> session */
    if (wslay_event_want_read(w->ctx) && w->to_session.len < WS_HIGH &&
        wslay_event_recv(w->ctx) != 0) {
        /* a protocol error: wslay queued its close (1002, 1009...); send it */
        if (wslay_event_want_write(w->ctx))
            wslay_event_send(w->ctx);
        ws_close(w);
        return;
    }
    if (w->rejected && !w->session_gone) {
        /* we closed the WebSocket: its session ends, nothing more goes in */
        wslay_event_shutdown_read(w->ctx);
        wire_buf_reset(&w->to_session);
        w->session_gone = true;
    }
    while (w->to_session.len && w->fd >= 0) {
        ssize_t n = send(w->fd, w->to_session.data, w->to_session.len, MSG_NOSIGNAL);
        if (n > 0) {
            wire_buf_consume(&w->to_session, (size_t)n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        /* the session stopped reading (it ended): what it said last, say a
         * FATAL, is still to be read below, up to its EOF */
        w->session_deaf = true;
        wire_buf_reset(&w->to_session);
        break;
    }
    if (w->to_session.oom) {
        ws_close(w);
        return;
    }
    /* session -> client */
    while (!w->session_gone && w->fd >= 0 && wslay_event_get_queued_msg_length(w->ctx) < WS_HIGH) {
        uint8_t buf[65536];
        ssize_t n = recv(w->fd, buf, sizeof(buf), 0);
        if (n > 0) {
            struct wslay_event_msg m = {.opcode = WSLAY_BINARY_FRAME, .msg = buf,
                                        .msg_length = (size_t)n};
            if (wslay_event_queue_msg(w->ctx, &m) != 0) {
                ws_close(w);
                return;
            }
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            break;
        w->session_gone = true;
    }
    if (w->session_gone && w->fd >= 0) {
        ev_io_stop(w->srv->loop, &w->fio);
        close(w->fd);
        w->fd = -1;
    }
    if (wslay_event_want_write(w->ctx) && wslay_event_send(w->ctx) != 0) {
        ws_close(w);
        return;
    }
    /* the session ended: close the WebSocket once all it said is sent (wslay
     * would send a close frame ahead of queued data) */
    if (w->session_gone && !w->close_queued && wslay_event_get_queued_msg_count(w->ctx) == 0) {
        w->close_queued = true;
        wslay_event_queue_close(w->ctx, WSLAY_CODE_NORMAL_CLOSURE, NULL, 0);
        if (wslay_event_send(w->ctx) != 0) {
            ws_close(w);
            return;
        }
    }
    if (!wslay_event_want_read(w->ctx) && !wslay_event_want_write(w->ctx)) {
        ws_close(w); /* both closes exchanged, or the client is gone */
        return;
    }
    ws_update(w);
}

static void ws_update(ws_conn *w)
{
    struct ev_loop *loop = w->srv->loop;
    int sev = (wslay_event_want_read(w->ctx) && w->to_session.len < WS_HIGH ? EV_READ : 0) |
              (wslay_event_want_write(w->ctx) ? EV_WRITE : 0);
    if (sev != (ev_is_active(&w->sio) ? (w->sio.events & (EV_READ | EV_WRITE)) : 0)) {
        ev_io_stop(loop, &w->sio);
        ev_io_set(&w->sio, w->sock, sev);
        if (sev)
            ev_io_start(loop, &w->sio);
    }
    if (w->fd < 0)
        return;
    int fev = (wslay_event_get_queued_msg_length(w->ctx) < WS_HIGH ? EV_READ : 0) |
              (w->to_session.len ? EV_WRITE : 0);
    if (fev != (ev_is_active(&w->fio) ? (w->fio.events & (EV_READ | EV_WRITE)) : 0)) {
        ev_io_stop(loop, &w->fio);
        ev_io_set(&w->fio, w->fd, fev);
        if (fev)
            ev_io_start(loop, &w->fio);
    }
}

static void ws_sock_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    (void)loop;
    (void)revents;
    ws_pump(container_of(io, ws_conn, sio));
}

static void ws_fd_cb(struct ev_loop *loop, ev_io *io, int revents)
{
    (void)loop;
    (void)revents;
    ws_pump(container_of(io, ws_conn, fio));
}

static void ws_upgraded(void *cls, struct MHD_Connection *c, void *req_cls, const char *extra_in,
                        size_t extra_in_size, MHD_socket sock,
                        struct MHD_UpgradeResponseHandle *urh)
{
    ws_list *list = cls;
    (void)req_cls;
    proxy_server *srv = list->srv;
    ws_conn *w = calloc(1, sizeof(*w));
    int sv[2] = {-1, -1};
    static const struct wslay_event_callbacks cbs = {
        .recv_callback = ws_recv_cb,
        .send_callback = ws_send_cb,
        .on_frame_recv_start_callback = ws_frame_start_cb,
        .on_frame_recv_chunk_callback = ws_frame_chunk_cb,
        .on_msg_recv_callback = ws_msg_cb,
    };
    if (!w || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0 ||
        wslay_event_context_server_init(&w->ctx, &cbs, w) != 0 ||
        (extra_in_size && !(w->extra = malloc(extra_in_size)))) {
        proxy_log(PROXY_LOG_WARNING, "WebSocket: cannot open a session: %s", strerror(errno));
        if (sv[0] >= 0) {
            close(sv[0]);
            close(sv[1]);
        }
        if (w && w->ctx)
            wslay_event_context_free(w->ctx);
        if (w)
            free(w->extra);
        free(w);
        MHD_upgrade_action(urh, MHD_UPGRADE_ACTION_CLOSE);
        return;
    }
    wslay_event_config_set_no_buffering(w->ctx, 1);
    w->srv = srv;
    w->list = list;
    w->urh = urh;
    w->sock = sock;
    w->fd = sv[0];
    if (extra_in_size)
        memcpy(w->extra, extra_in, extra_in_size);
    w->extra_len = extra_in_size;
    wire_buf_init(&w->to_session);
    int fl = fcntl(sock, F_GETFL);
    if (fl >= 0)
        fcntl(sock, F_SETFL, fl | O_NONBLOCK);
    /* wslay writes a frame's header and payload apart: without this, Nagle
     * holds the payload until the client's delayed ACK (40 ms a message) */
    int one = 1;
    setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    ev_io_init(&w->sio, ws_sock_cb, sock, EV_READ);
    ev_io_init(&w->fio, ws_fd_cb, w->fd, EV_READ);
    w->next = list->head;
    if (w->next)
        w->next->prev = w;
    list->head = w;
    /* what the client sent along with its handshake goes first */
    ws_pump(w); /* (may close it: the session then reads EOF) */
    serverless_session(srv, c, sv[1]);
}

void ws_close_all(ws_list *list)
{
    while (list->head)
        ws_close(list->head);
}
