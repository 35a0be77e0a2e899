/*
 * TLS with OpenSSL: the context for client connections (client_tls_*) and
 * the one for connections to upstream PostgreSQL servers (server_tls_*),
 * and non-blocking I/O over an SSL object for the event loops.
 *
 * Contexts are built from the configuration at start and on RELOAD (loop 0,
 * world lock) and are shared read-only by every loop; an SSL object holds a
 * reference to its context, so a reload never pulls one from under a live
 * connection.  An SSL object belongs to the loop of its connection.
 *
 * As PostgreSQL's server: TLS 1.2 at least, no renegotiation, no compression,
 * no session resumption (no cache, no tickets), and a client certificate is
 * asked for whenever a CA file is set and verified when one is sent.
 * Buffers are released while a connection is idle (SSL_MODE_RELEASE_BUFFERS):
 * thousands of idle TLS clients stay cheap.
 *
 * The OpenSSL error queue is per thread: every call clears it first, so that
 * SSL_get_error() sees only this call's errors.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "internal.h"

struct proxy_tls {
    SSL_CTX *client_ctx; /* NULL: client_tls_sslmode = disable */
    SSL_CTX *server_ctx; /* NULL: server_tls_sslmode = disable */
};

const char *proxy_tls_mode_str(proxy_tls_mode m)
{
    switch (m) {
    case PROXY_TLS_DISABLE:
        return "disable";
    case PROXY_TLS_ALLOW:
        return "allow";
    case PROXY_TLS_PREFER:
        return "prefer";
    case PROXY_TLS_REQUIRE:
        return "require";
    case PROXY_TLS_VERIFY_CA:
        return "verify-ca";
    case PROXY_TLS_VERIFY_FULL:
        return "verify-full";
    }
    return "unknown";
}

bool proxy_tls_mode_parse(const char *s, proxy_tls_mode *out)
{
    for (proxy_tls_mode m = PROXY_TLS_DISABLE; m <= PROXY_TLS_VERIFY_FULL; m++) {
        if (!strcasecmp(s, proxy_tls_mode_str(m))) {
            *out = m;
            return true;
        }
    }
    return false;
}

/* The first error on this thread's queue, as text, and the queue emptied. */
static void tls_error(char *err, size_t errlen, const char *what)
{
    unsigned long e = ERR_get_error();
    char reason[200] = "unknown error";
    if (e)
        ERR_error_string_n(e, reason, sizeof(reason));
    ERR_clear_error();
    snprintf(err, errlen, "%s: %s", what, reason);
}

/* "secure" (TLS 1.2 and 1.3), "all" (the same: older versions are never
 * offered), or a comma- or space-separated list of tlsv1.2 and tlsv1.3. */
static bool tls_protocols(const char *list, int *min, int *max)
{
    if (!list[0] || !strcasecmp(list, "secure") || !strcasecmp(list, "all")) {
        *min = TLS1_2_VERSION;
        *max = 0; /* the newest OpenSSL has */
        return true;
    }
    bool v12 = false, v13 = false;
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", list);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (!strcasecmp(tok, "tlsv1.2"))
            v12 = true;
        else if (!strcasecmp(tok, "tlsv1.3"))
            v13 = true;
        else
            return false;
    }
    if (!v12 && !v13)
        return false;
    *min = v12 ? TLS1_2_VERSION : TLS1_3_VERSION;
    *max = v13 ? TLS1_3_VERSION : TLS1_2_VERSION;
    return true;
}

/* Settings both sides share: versions, ciphers, no renegotiation, no
 * compression, no resumption, partial writes from a moving buffer. */
static bool tls_ctx_common(SSL_CTX *ctx, const proxy_tls_config *tc, const char *side, char *err,
                           size_t errlen)
{
    int min, max;
    if (!tls_protocols(tc->protocols, &min, &max)) {
        snprintf(err, errlen, "%s_tls_protocols: expected secure, all, tlsv1.2 or tlsv1.3, not \"%s\"",
                 side, tc->protocols);
        return false;
    }
    if (!SSL_CTX_set_min_proto_version(ctx, min) || !SSL_CTX_set_max_proto_version(ctx, max)) {
        tls_error(err, errlen, "cannot set the TLS versions");
        return false;
    }
    if (tc->ciphers[0] && strcasecmp(tc->ciphers, "default") != 0 &&
        !SSL_CTX_set_cipher_list(ctx, tc->ciphers)) {
        char what[64];
        snprintf(what, sizeof(what), "%s_tls_ciphers", side);
        tls_error(err, errlen, what);
        return false;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_NO_TICKET |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                              SSL_MODE_RELEASE_BUFFERS);
    if (tc->cert_file[0] || tc->key_file[0]) {
        if (!tc->cert_file[0] || !tc->key_file[0]) {
            snprintf(err, errlen, "%s_tls_cert_file and %s_tls_key_file go together", side, side);
            return false;
        }
        char what[PATH_MAX + 64];
        snprintf(what, sizeof(what), "%s_tls_cert_file %s", side, tc->cert_file);
        if (SSL_CTX_use_certificate_chain_file(ctx, tc->cert_file) != 1) {
            tls_error(err, errlen, what);
            return false;
        }
        snprintf(what, sizeof(what), "%s_tls_key_file %s", side, tc->key_file);
        if (SSL_CTX_use_PrivateKey_file(ctx, tc->key_file, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
            tls_error(err, errlen, what);
            return false;
        }
    }
    if (tc->ca_file[0] && SSL_CTX_load_verify_locations(ctx, tc->ca_file, NULL) != 1) {
        char what[PATH_MAX + 64];
        snprintf(what, sizeof(what), "%s_tls_ca_file %s", side, tc->ca_file);
        tls_error(err, errlen, what);
        return false;
    }
    return true;
}

static SSL_CTX *tls_client_ctx_new(const proxy_tls_config *tc, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        tls_error(err, errlen, "cannot create a TLS context");
        return NULL;
    }
    if (!tc->cert_file[0] || !tc->key_file[0]) {
        snprintf(err, errlen, "client_tls_sslmode = %s needs client_tls_cert_file and "
                              "client_tls_key_file", proxy_tls_mode_str(tc->sslmode));
        goto fail;
    }
    if ((tc->sslmode == PROXY_TLS_VERIFY_CA || tc->sslmode == PROXY_TLS_VERIFY_FULL) &&
        !tc->ca_file[0]) {
        snprintf(err, errlen, "client_tls_sslmode = %s needs client_tls_ca_file to verify "
                              "client certificates with", proxy_tls_mode_str(tc->sslmode));
        goto fail;
    }
    if (!tls_ctx_common(ctx, tc, "client", err, errlen))
        goto fail;
    SSL_CTX_set_num_tickets(ctx, 0);
    if (tc->ca_file[0]) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(tc->ca_file);
        if (!names) {
            char what[PATH_MAX + 64];
            snprintf(what, sizeof(what), "client_tls_ca_file %s", tc->ca_file);
            tls_error(err, errlen, what);
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
        /* Asked for always; required in the verify modes; checked when sent. */
        int mode = SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE;
        if (tc->sslmode == PROXY_TLS_VERIFY_CA || tc->sslmode == PROXY_TLS_VERIFY_FULL)
            mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(ctx, mode, NULL);
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

static SSL_CTX *tls_server_ctx_new(const proxy_tls_config *tc, char *err, size_t errlen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        tls_error(err, errlen, "cannot create a TLS context");
        return NULL;
    }
    if ((tc->sslmode == PROXY_TLS_VERIFY_CA || tc->sslmode == PROXY_TLS_VERIFY_FULL) &&
        !tc->ca_file[0]) {
        snprintf(err, errlen, "server_tls_sslmode = %s needs server_tls_ca_file to verify "
                              "servers with", proxy_tls_mode_str(tc->sslmode));
        goto fail;
    }
    if (!tls_ctx_common(ctx, tc, "server", err, errlen))
        goto fail;
    /* libpq's meaning: verify-ca and verify-full check the chain (and
     * verify-full the host name, per connection); the others do not. */
    SSL_CTX_set_verify(ctx,
                       tc->sslmode >= PROXY_TLS_VERIFY_CA ? SSL_VERIFY_PEER : SSL_VERIFY_NONE,
                       NULL);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

proxy_tls *proxy_tls_new(const proxy_config *cfg, char *err, size_t errlen)
{
    proxy_tls *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (cfg->client_tls.sslmode != PROXY_TLS_DISABLE &&
        !(t->client_ctx = tls_client_ctx_new(&cfg->client_tls, err, errlen)))
        goto fail;
    if (cfg->server_tls.sslmode != PROXY_TLS_DISABLE &&
        !(t->server_ctx = tls_server_ctx_new(&cfg->server_tls, err, errlen)))
        goto fail;
    return t;
fail:
    proxy_tls_free(t);
    return NULL;
}

void proxy_tls_free(proxy_tls *t)
{
    if (!t)
        return;
    SSL_CTX_free(t->client_ctx); /* SSL objects still open keep their own reference */
    SSL_CTX_free(t->server_ctx);
    free(t);
}

bool proxy_tls_client_enabled(const proxy_tls *t)
{
    return t && t->client_ctx;
}

bool proxy_tls_server_enabled(const proxy_tls *t)
{
    return t && t->server_ctx;
}

SSL *proxy_tls_accept_new(proxy_tls *t, int fd, char *err, size_t errlen)
{
    ERR_clear_error();
    SSL *ssl = t && t->client_ctx ? SSL_new(t->client_ctx) : NULL;
    if (!ssl || SSL_set_fd(ssl, fd) != 1) {
        tls_error(err, errlen, "cannot start TLS");
        SSL_free(ssl);
        return NULL;
    }
    SSL_set_accept_state(ssl);
    return ssl;
}

SSL *proxy_tls_connect_new(proxy_tls *t, int fd, const char *host, proxy_tls_mode mode, char *err,
                           size_t errlen)
{
    ERR_clear_error();
    SSL *ssl = t && t->server_ctx ? SSL_new(t->server_ctx) : NULL;
    if (!ssl || SSL_set_fd(ssl, fd) != 1) {
        tls_error(err, errlen, "cannot start TLS");
        SSL_free(ssl);
        return NULL;
    }
    if (host && host[0] && host[0] != '/') {
        /* SNI for names only, as libpq; verify-full checks the name or address. */
        bool is_ip = strspn(host, "0123456789.") == strlen(host) || strchr(host, ':');
        if (!is_ip)
            SSL_set_tlsext_host_name(ssl, host);
        if (mode == PROXY_TLS_VERIFY_FULL && SSL_set1_host(ssl, host) != 1) {
            tls_error(err, errlen, "cannot set the host name to verify");
            SSL_free(ssl);
            return NULL;
        }
    }
    SSL_set_connect_state(ssl);
    return ssl;
}

proxy_tls_step proxy_tls_handshake(SSL *ssl, char *err, size_t errlen)
{
    ERR_clear_error();
    int rc = SSL_do_handshake(ssl);
    if (rc == 1)
        return PROXY_TLS_DONE;
    int e = SSL_get_error(ssl, rc);
    if (e == SSL_ERROR_WANT_READ)
        return PROXY_TLS_WANT_READ;
    if (e == SSL_ERROR_WANT_WRITE)
        return PROXY_TLS_WANT_WRITE;
    unsigned long first = ERR_peek_error();
    if ((e == SSL_ERROR_SYSCALL && first == 0 && !(errno && rc < 0)) ||
        (e == SSL_ERROR_SSL && ERR_GET_REASON(first) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
        /* the peer went away (a readiness probe that asked for TLS, a
         * client that gave up): nothing to report */
        snprintf(err, errlen, "connection closed during the handshake");
        ERR_clear_error();
        return PROXY_TLS_CLOSED;
    }
    if (e == SSL_ERROR_SYSCALL && first == 0) {
        snprintf(err, errlen, "%s", strerror(errno));
        ERR_clear_error();
    } else {
        long v = SSL_get_verify_result(ssl);
        if (v != X509_V_OK)
            snprintf(err, errlen, "certificate verify failed: %s",
                     X509_verify_cert_error_string(v));
        else
            tls_error(err, errlen, "handshake failed");
    }
    return PROXY_TLS_FAILED;
}

ssize_t proxy_tls_read(SSL *ssl, void *buf, size_t len, bool *want_write)
{
    ERR_clear_error();
    *want_write = false;
    int n = SSL_read(ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    if (n > 0)
        return n;
    switch (SSL_get_error(ssl, n)) {
    case SSL_ERROR_WANT_WRITE:
        *want_write = true;
        /* fall through */
    case SSL_ERROR_WANT_READ:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN: /* close_notify */
        return 0;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0) {
            ERR_clear_error();
            if (n == 0 || errno == 0)
                return 0; /* EOF without close_notify: the peer went away */
            return -1;   /* errno says why */
        }
        /* fall through */
    default:
        ERR_clear_error();
        errno = EPROTO;
        return -1;
    }
}

ssize_t proxy_tls_write(SSL *ssl, const void *buf, size_t len, bool *want_read)
{
    ERR_clear_error();
    *want_read = false;
    if (len == 0)
        return 0;
    int n = SSL_write(ssl, buf, len > INT32_MAX ? INT32_MAX : (int)len);
    if (n > 0)
        return n;
    switch (SSL_get_error(ssl, n)) {
    case SSL_ERROR_WANT_READ:
        *want_read = true;
        /* fall through */
    case SSL_ERROR_WANT_WRITE:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_SYSCALL:
        if (ERR_peek_error() == 0 && errno != 0) {
            ERR_clear_error();
            return -1;
        }
        /* fall through */
    default:
        ERR_clear_error();
        errno = EPIPE;
        return -1;
    }
}

bool proxy_tls_pending(SSL *ssl)
{
    return ssl && SSL_has_pending(ssl);
}

void proxy_tls_close(SSL *ssl)
{
    if (!ssl)
        return;
    ERR_clear_error();
    /* One close_notify, best effort: the socket is closed right after. */
    if (SSL_is_init_finished(ssl))
        SSL_shutdown(ssl);
    ERR_clear_error();
    SSL_free(ssl);
}

bool proxy_tls_peer_cert(SSL *ssl)
{
    X509 *cert = ssl ? SSL_get0_peer_certificate(ssl) : NULL;
    return cert && SSL_get_verify_result(ssl) == X509_V_OK;
}

bool proxy_tls_peer_cn(SSL *ssl, char *out, size_t outlen)
{
    X509 *cert = SSL_get0_peer_certificate(ssl);
    if (!cert || SSL_get_verify_result(ssl) != X509_V_OK)
        return false;
    X509_NAME *subject = X509_get_subject_name(cert);
    int i = subject ? X509_NAME_get_index_by_NID(subject, NID_commonName, -1) : -1;
    if (i < 0)
        return false;
    const ASN1_STRING *cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
    int len = cn ? ASN1_STRING_length(cn) : 0;
    const unsigned char *data = cn ? ASN1_STRING_get0_data(cn) : NULL;
    /* A name with a NUL inside could pass for a shorter one: refused. */
    if (!data || len <= 0 || (size_t)len >= outlen || memchr(data, 0, (size_t)len))
        return false;
    memcpy(out, data, (size_t)len);
    out[len] = '\0';
    return true;
}

/* RFC 5929 tls-server-end-point: the hash of the server's certificate with
 * its signature's hash algorithm, SHA-256 in place of MD5 and SHA-1. */
static size_t tls_cert_end_point(X509 *cert, uint8_t out[PROXY_TLS_END_POINT_MAX])
{
    int md_nid = NID_undef;
    if (!cert || !X509_get_signature_info(cert, &md_nid, NULL, NULL, NULL))
        return 0;
    const EVP_MD *md = md_nid == NID_md5 || md_nid == NID_sha1 ? EVP_sha256()
                                                               : EVP_get_digestbynid(md_nid);
    unsigned int len = 0;
    if (!md || (size_t)EVP_MD_get_size(md) > PROXY_TLS_END_POINT_MAX ||
        X509_digest(cert, md, out, &len) != 1) {
        ERR_clear_error();
        return 0;
    }
    return len;
}

bool proxy_tls_peer_dn(SSL *ssl, char *out, size_t outlen)
{
    X509 *cert = SSL_get0_peer_certificate(ssl);
    if (!cert || SSL_get_verify_result(ssl) != X509_V_OK)
        return false;
    BIO *bio = BIO_new(BIO_s_mem());
    if (!bio)
        return false;
    bool ok = X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0;
    char *data = NULL;
    long len = BIO_get_mem_data(bio, &data);
    ok = ok && len > 0 && (size_t)len < outlen && data && !memchr(data, 0, (size_t)len);
    if (ok) {
        memcpy(out, data, (size_t)len);
        out[len] = '\0';
    }
    BIO_free(bio);
    ERR_clear_error();
    return ok;
}

size_t proxy_tls_end_point(SSL *ssl, uint8_t out[PROXY_TLS_END_POINT_MAX])
{
    return tls_cert_end_point(SSL_get_certificate(ssl), out);
}

size_t proxy_tls_peer_end_point(SSL *ssl, uint8_t out[PROXY_TLS_END_POINT_MAX])
{
    return tls_cert_end_point(SSL_get0_peer_certificate(ssl), out);
}

const char *proxy_tls_version(SSL *ssl)
{
    return ssl ? SSL_get_version(ssl) : "";
}

const char *proxy_tls_cipher(SSL *ssl)
{
    return ssl ? SSL_get_cipher_name(ssl) : "";
}
