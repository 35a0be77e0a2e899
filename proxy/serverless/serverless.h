/*
 * Serverless drivers (proxy/serverless/): Neon's "SQL over HTTP", so that
 * the unmodified npm package @neondatabase/serverless (neon(), with
 * neonConfig.fetchEndpoint) queries Dormouse.  PROTOCOL.md has what the
 * driver sends and expects.
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

#include <stdbool.h>
#include <stddef.h>

struct proxy_server;

/* Starts listening on cfg.sql_http_listen (nothing when it is ""). */
bool sqlhttp_start(struct proxy_server *srv, char *err, size_t errlen);
/* Stops listening; requests still under way are answered 503 and freed. */
void sqlhttp_stop(struct proxy_server *srv);

#endif
