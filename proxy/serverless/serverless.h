/*
 * Serverless drivers (proxy/serverless/): Neon's "SQL over HTTP" and its
 * PostgreSQL over WebSockets, so that the unmodified npm package
 * @neondatabase/serverless (neon() with neonConfig.fetchEndpoint; Pool and
 * Client with neonConfig.wsProxy) talks to Dormouse.  PROTOCOL.md has what
 * the driver sends and expects.
 *
 * Design.  Every POST /sql becomes an ordinary client session of this
 * server: the endpoint opens a socketpair, hands one end to
 * session_accept() with the HTTP client's address (so hba, TLS
 * requirements, login limits, pooling, metering and resume apply as to any
 * TCP client), and speaks the PostgreSQL protocol on the other end as a
 * client: the startup packet, the authentication the session asks for
 * (cleartext, md5 or SCRAM-SHA-256 with the connection string's password),
 * then each query as Parse/Bind/Describe/Execute/Sync with text
 * parameters, inside BEGIN .. COMMIT for a batch.  The answers become
 * Neon's JSON.  The listener (sql_http_listen) is libmicrohttpd on loop 0,
 * like http.c; a request's connection is suspended while its session
 * works.
 */
#ifndef DORMOUSE_PROXY_SERVERLESS_H
#define DORMOUSE_PROXY_SERVERLESS_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

struct proxy_server;

/* Starts listening on cfg.sql_http_listen (nothing when it is ""). */
bool sqlhttp_start(struct proxy_server *srv, char *err, size_t errlen);
/* Stops listening; requests still under way are answered 503 and freed. */
void sqlhttp_stop(struct proxy_server *srv);

/* A new session of this server on fd (our socketpair's other end), as a
 * TCP client at the HTTP client's address: hba, TLS requirements and
 * login limits see that address.  Its first bytes should be waiting. */
void serverless_session(struct proxy_server *srv, struct MHD_Connection *c, int fd);

/* ---- PostgreSQL over WebSockets (ws.c), on the same listener ---- */

typedef struct ws_conn ws_conn;
typedef struct ws_list {
    struct proxy_server *srv;
    ws_conn *head; /* open bridges */
    /* MHD closes an upgraded socket in its next run: have it run soon */
    void (*kick)(struct ws_list *list);
} ws_list;

/* Whether the request asks for a WebSocket (Upgrade: websocket). */
bool ws_is_upgrade(struct MHD_Connection *c);
/* Answers the handshake: 101 and a bridge to a new session, or an error. */
enum MHD_Result ws_accept(ws_list *list, struct MHD_Connection *c, const char *method);
/* Closes every bridge (their sessions read EOF). */
void ws_close_all(ws_list *list);

#endif
