/*
 * Host-based authentication: a pg_hba.conf-format file, loaded once and then
 * matched against each login, for the `hba_file` setting (PgBouncer's
 * `auth_type = hba` with `auth_hba_file`).
 *
 * The file follows PostgreSQL 15's syntax (with PostgreSQL 16's regular
 * expressions); proxy/hba.c says what is accepted and what is refused at
 * load time.  A record is
 *
 *   local      DATABASE  USER                 METHOD  [OPTIONS]
 *   host       DATABASE  USER  ADDRESS        METHOD  [OPTIONS]
 *   host       DATABASE  USER  IP  NETMASK    METHOD  [OPTIONS]
 *   (hostssl, hostnossl, hostgssenc and hostnogssenc like host)
 *
 * and the first record whose connection type, client address, database and
 * user all match decides the authentication method: there is no fall-through.
 *
 * Ownership and threads.  proxy_hba_load() returns a new object that the
 * caller owns and frees with proxy_hba_free().  Once loaded it is never
 * modified: any number of threads may call proxy_hba_match() on it at once
 * (regexec() is thread-safe, samehost/samenet call getifaddrs()).  A rule
 * returned by proxy_hba_match() lives as long as its proxy_hba; a reload
 * loads a new object and frees the old one once nobody uses it.
 */
#ifndef DORMOUSE_PROXY_HBA_H
#define DORMOUSE_PROXY_HBA_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

/* Limits that keep a hostile or broken file from using unbounded memory. */
#define PROXY_HBA_MAX_LINE 16384       /* bytes in one record, continuations joined */
#define PROXY_HBA_MAX_RULES 10000      /* records in the file */
#define PROXY_HBA_MAX_NAMES 100000     /* database and user names, all records, @files expanded */
#define PROXY_HBA_MAX_INCLUDE_DEPTH 10 /* nested @file inclusion */

typedef enum proxy_hba_conn_type {
    PROXY_HBA_LOCAL,        /* Unix-domain socket */
    PROXY_HBA_HOST,         /* TCP, with or without TLS */
    PROXY_HBA_HOSTSSL,      /* TCP with TLS */
    PROXY_HBA_HOSTNOSSL,    /* TCP without TLS */
    PROXY_HBA_HOSTGSSENC,   /* TCP with GSSAPI encryption: Dormouse has none, never matches */
    PROXY_HBA_HOSTNOGSSENC, /* TCP without GSSAPI encryption: every TCP connection */
} proxy_hba_conn_type;

typedef enum proxy_hba_method {
    PROXY_HBA_TRUST,
    PROXY_HBA_REJECT,
    PROXY_HBA_MD5,
    PROXY_HBA_PASSWORD,
    PROXY_HBA_SCRAM, /* scram-sha-256 */
    PROXY_HBA_CERT,  /* hostssl only; implies clientcert=verify-full */
} proxy_hba_method;

/* The pg_hba.conf keyword: "trust", "scram-sha-256", ...; "?" for a value out of range. */
const char *proxy_hba_method_str(proxy_hba_method m);
/* The pg_hba.conf keyword: "local", "hostssl", ...; "?" for a value out of range. */
const char *proxy_hba_conn_type_str(proxy_hba_conn_type t);

typedef struct proxy_hba proxy_hba;

/* One record, as the login path needs it. */
typedef struct proxy_hba_rule {
    proxy_hba_method method;
    proxy_hba_conn_type conn_type;
    int line; /* of the hba file, where the record starts */
    /* Client certificate checks on top of the method (hostssl records only).
     * clientcert_verify_ca: the client must present a certificate that
     * verifies against the CA (set by clientcert=verify-ca and verify-full);
     * clientcert_verify_full: also, its name must equal the user name (set by
     * clientcert=verify-full and implied by the cert method). */
    bool clientcert_verify_ca;
    bool clientcert_verify_full;
    /* clientname=DN: compare the certificate's full subject DN (RFC 2253)
     * with the user name instead of its CN (the default, clientname=CN). */
    bool clientname_dn;
} proxy_hba_rule;

/* Loads path.  On any error (unreadable file or @file, unknown keyword, bad
 * address or mask, missing field, unknown or misplaced option, unsupported
 * method, bad regular expression, a limit exceeded, no records at all)
 * returns NULL with "path:line: what is wrong" in err. */
proxy_hba *proxy_hba_load(const char *path, char *err, size_t errlen);
void proxy_hba_free(proxy_hba *h);       /* NULL is a no-op */
int proxy_hba_count(const proxy_hba *h); /* records loaded; 0 for NULL */

/* What the login knows of a client. */
typedef struct proxy_hba_conn {
    bool is_unix;                /* came in on a Unix-domain socket */
    bool tls;                    /* TLS is in use (SSLRequest accepted) */
    const struct sockaddr *addr; /* client address (AF_INET or AF_INET6); NULL for unix */
    const char *database;
    const char *user;
} proxy_hba_conn;

/* The first record that matches c, as PostgreSQL picks it; NULL when none
 * does (the caller refuses the login: FATAL 28000 "no pg_hba.conf entry for
 * host ...").  An IPv4-mapped IPv6 address (::ffff:a.b.c.d) matches IPv6
 * records only, as in PostgreSQL. */
const proxy_hba_rule *proxy_hba_match(const proxy_hba *h, const proxy_hba_conn *c);

#endif
