/*
 * SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL speaks it, both sides.
 *
 * Server: client-first-message -> server-first-message -> client-final-message
 * -> server-final-message.  The exchange ignores the SCRAM user name (the
 * startup packet names the user).  Channel binding (SCRAM-SHA-256-PLUS, RFC
 * 5929's tls-server-end-point, the only type PostgreSQL has) is what the
 * caller says it is (wire_scram_server_bind): with the PLUS mechanism the
 * gs2 header must be "p=tls-server-end-point,," and the client-final-message
 * must carry that header followed by the binding data; without it the
 * header must be "n,," or "y,," ("y,," is refused when the server could
 * have bound: a downgrade).  Any malformed message ends the exchange with
 * FAIL_PROTOCOL; a wrong proof ends it with FAIL_AUTH.
 *
 * Unknown users get a "doomed" exchange, as in PostgreSQL: the server-first
 * message carries a mock salt that is stable per user name for the life of
 * the process (SHA-256 of the name and a random per-process secret) and the
 * default iteration count, and the proof is checked against random keys and
 * then rejected regardless, so a client cannot tell a missing user from a
 * wrong password.  The per-process secret is the one piece of process-wide
 * state in wire/: written once under call_once(), read-only afterwards.
 *
 * Client: the mirror image, for tests and for logging in to an upstream
 * PostgreSQL.  It sends an empty SCRAM user name, as libpq does.
 *
 * Verifiers use PostgreSQL's text form:
 *   SCRAM-SHA-256$<iterations>:<salt b64>$<StoredKey b64>:<ServerKey b64>
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <threads.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "wire_internal.h"

#define SCRAM_PREFIX "SCRAM-SHA-256$"
#define SCRAM_RAW_NONCE_LEN 18    /* PostgreSQL's SCRAM_RAW_NONCE_LEN */
#define SCRAM_DEFAULT_SALT_LEN 16 /* PostgreSQL's SCRAM_DEFAULT_SALT_LEN */

const char *wire_scram_status_str(wire_scram_status s)
{
    switch (s) {
    case WIRE_SCRAM_CONTINUE:
        return "continue";
    case WIRE_SCRAM_OK:
        return "ok";
    case WIRE_SCRAM_FAIL_AUTH:
        return "authentication failed";
    case WIRE_SCRAM_FAIL_PROTOCOL:
        return "protocol violation";
    }
    return "unknown";
}

/* ---- key derivation ---- */

/* SaltedPassword = Hi(password, salt, i); ClientKey = HMAC(SaltedPassword,
 * "Client Key"); StoredKey = H(ClientKey); ServerKey = HMAC(SaltedPassword,
 * "Server Key").  client_key may be NULL. */
static bool derive_keys(const char *password, const uint8_t *salt, size_t salt_len, int iterations,
                        uint8_t client_key[WIRE_SCRAM_KEY_LEN],
                        uint8_t stored_key[WIRE_SCRAM_KEY_LEN],
                        uint8_t server_key[WIRE_SCRAM_KEY_LEN])
{
    uint8_t salted[WIRE_SCRAM_KEY_LEN];
    uint8_t ck[WIRE_SCRAM_KEY_LEN];
    size_t plen = strlen(password);
    bool ok = plen <= INT_MAX && salt_len <= INT_MAX && iterations > 0 &&
              PKCS5_PBKDF2_HMAC(password, (int)plen, salt, (int)salt_len, iterations, EVP_sha256(),
                                (int)sizeof salted, salted) == 1 &&
              wire_hmac_sha256(salted, sizeof salted, "Client Key", 10, ck) &&
              wire_sha256(ck, sizeof ck, stored_key) &&
              wire_hmac_sha256(salted, sizeof salted, "Server Key", 10, server_key);
    if (ok && client_key)
        memcpy(client_key, ck, sizeof ck);
    OPENSSL_cleanse(salted, sizeof salted);
    OPENSSL_cleanse(ck, sizeof ck);
    return ok;
}

/* ---- verifiers ---- */

/* A positive decimal int: digits only, no sign, no leading zero. */
static bool parse_iterations(const char *s, size_t n, int *out)
{
    if (n == 0 || s[0] < '1' || s[0] > '9')
        return false;
    long long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
        if (v > INT_MAX)
            return false;
    }
    *out = (int)v;
    return true;
}

bool wire_scram_verifier_parse(const char *s, wire_scram_verifier *out)
{
    memset(out, 0, sizeof *out);
    if (!s || strncmp(s, SCRAM_PREFIX, strlen(SCRAM_PREFIX)) != 0)
        return false;
    const char *iter = s + strlen(SCRAM_PREFIX);
    const char *colon = strchr(iter, ':');
    if (!colon)
        return false;
    const char *salt = colon + 1;
    const char *dollar = strchr(salt, '$');
    if (!dollar)
        return false;
    const char *stored = dollar + 1;
    const char *colon2 = strchr(stored, ':');
    if (!colon2)
        return false;
    const char *server = colon2 + 1;

    wire_scram_verifier v;
    memset(&v, 0, sizeof v);
    size_t n = 0;
    bool ok =
        parse_iterations(iter, (size_t)(colon - iter), &v.iterations) &&
        wire_b64_decode(salt, (size_t)(dollar - salt), v.salt, sizeof v.salt, &v.salt_len) &&
        v.salt_len > 0 &&
        wire_b64_decode(stored, (size_t)(colon2 - stored), v.stored_key, sizeof v.stored_key, &n) &&
        n == WIRE_SCRAM_KEY_LEN &&
        wire_b64_decode(server, strlen(server), v.server_key, sizeof v.server_key, &n) &&
        n == WIRE_SCRAM_KEY_LEN;
    if (ok)
        *out = v;
    OPENSSL_cleanse(&v, sizeof v);
    return ok;
}

/* salt NULL draws SCRAM_DEFAULT_SALT_LEN random bytes (salt_len is ignored),
 * which is what a tool creating a new verifier wants. */
bool wire_scram_verifier_from_password(const char *password, const uint8_t *salt, size_t salt_len,
                                       int iterations, wire_scram_verifier *out)
{
    memset(out, 0, sizeof *out);
    if (!password || iterations <= 0)
        return false;
    if (salt) {
        if (salt_len == 0 || salt_len > WIRE_SCRAM_SALT_MAX)
            return false;
        memcpy(out->salt, salt, salt_len);
        out->salt_len = salt_len;
    } else {
        if (!wire_random_bytes(out->salt, SCRAM_DEFAULT_SALT_LEN))
            return false;
        out->salt_len = SCRAM_DEFAULT_SALT_LEN;
    }
    out->iterations = iterations;
    if (!derive_keys(password, out->salt, out->salt_len, iterations, NULL, out->stored_key,
                     out->server_key)) {
        memset(out, 0, sizeof *out);
        return false;
    }
    return true;
}

static bool verifier_usable(const wire_scram_verifier *v)
{
    return v->iterations > 0 && v->salt_len > 0 && v->salt_len <= WIRE_SCRAM_SALT_MAX;
}

bool wire_scram_verifier_format(const wire_scram_verifier *v, char *out, size_t outlen)
{
    char salt[WIRE_SCRAM_SALT_MAX / 3 * 4 + 8];
    char stored[WIRE_SCRAM_KEY_LEN / 3 * 4 + 8];
    char server[WIRE_SCRAM_KEY_LEN / 3 * 4 + 8];
    if (!out || outlen == 0)
        return false;
    out[0] = '\0';
    if (!verifier_usable(v))
        return false;
    wire_b64_encode(v->salt, v->salt_len, salt);
    wire_b64_encode(v->stored_key, WIRE_SCRAM_KEY_LEN, stored);
    wire_b64_encode(v->server_key, WIRE_SCRAM_KEY_LEN, server);
    int n = snprintf(out, outlen, SCRAM_PREFIX "%d:%s$%s:%s", v->iterations, salt, stored, server);
    if (n < 0 || (size_t)n >= outlen) {
        out[0] = '\0';
        return false;
    }
    return true;
}

/* ---- message parsing helpers ---- */

/* A cursor over a SCRAM message, which is not NUL-terminated. */
typedef struct cursor {
    const char *p;
    const char *end;
} cursor;

/* Reads "<name>=<value>" up to the next ',' or the end; leaves p on the ','. */
static bool take_attr(cursor *c, char name, const char **value, size_t *vlen)
{
    if (c->end - c->p < 2 || c->p[0] != name || c->p[1] != '=')
        return false;
    const char *v = c->p + 2;
    const char *e = v;
    while (e < c->end && *e != ',')
        e++;
    *value = v;
    *vlen = (size_t)(e - v);
    c->p = e;
    return true;
}

static bool take_comma(cursor *c)
{
    if (c->p >= c->end || *c->p != ',')
        return false;
    c->p++;
    return true;
}

static bool is_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

/* Reads any "<letter>=<value>"; returns the letter or 0 when malformed. */
static char take_any_attr(cursor *c, const char **value, size_t *vlen)
{
    if (c->end - c->p < 2 || !is_alpha(c->p[0]) || c->p[1] != '=')
        return 0;
    char name = c->p[0];
    return take_attr(c, name, value, vlen) ? name : 0;
}

/* RFC 5802 "printable": %x21-2B / %x2D-7E, i.e. visible ASCII except ','. */
static bool is_printable(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x21 || s[i] > 0x7E || s[i] == ',')
            return false;
    return true;
}

static char *dup_mem(const void *p, size_t n)
{
    char *s = malloc(n + 1);
    if (!s)
        return NULL;
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* A fresh nonce: base64 of SCRAM_RAW_NONCE_LEN random bytes; NULL on failure. */
static char *random_nonce(void)
{
    uint8_t raw[SCRAM_RAW_NONCE_LEN];
    char *s = malloc(wire_b64_encoded_len(sizeof raw) + 1);
    if (!s || !wire_random_bytes(raw, sizeof raw)) {
        free(s);
        return NULL;
    }
    wire_b64_encode(raw, sizeof raw, s);
    return s;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* AuthMessage = client-first-message-bare "," server-first-message ","
 * client-final-message-without-proof.  Returns a malloc'ed buffer. */
static uint8_t *auth_message(const char *cfb, size_t cfb_len, const char *sf, size_t sf_len,
                             const char *cfwp, size_t cfwp_len, size_t *am_len)
{
    if (cfb_len > SIZE_MAX / 4 || sf_len > SIZE_MAX / 4 || cfwp_len > SIZE_MAX / 4)
        return NULL;
    size_t n = cfb_len + 1 + sf_len + 1 + cfwp_len;
    uint8_t *am = malloc(n);
    if (!am)
        return NULL;
    memcpy(am, cfb, cfb_len);
    am[cfb_len] = ',';
    memcpy(am + cfb_len + 1, sf, sf_len);
    am[cfb_len + 1 + sf_len] = ',';
    memcpy(am + cfb_len + 2 + sf_len, cfwp, cfwp_len);
    *am_len = n;
    return am;
}

/* ---- the per-process secret for mock salts ---- */

static once_flag mock_once = ONCE_FLAG_INIT;
static uint8_t mock_secret[32];
static bool mock_secret_ok;

static void mock_secret_init(void)
{
    mock_secret_ok = wire_random_bytes(mock_secret, sizeof mock_secret);
}

/* PostgreSQL's scram_mock_salt(): H(user || secret), cut to the default length. */
static bool mock_salt(const char *user, uint8_t salt[SCRAM_DEFAULT_SALT_LEN])
{
    call_once(&mock_once, mock_secret_init);
    if (!mock_secret_ok)
        return false;
    size_t ulen = strlen(user);
    uint8_t *buf = malloc(ulen + sizeof mock_secret);
    if (!buf)
        return false;
    memcpy(buf, user, ulen);
    memcpy(buf + ulen, mock_secret, sizeof mock_secret);
    uint8_t digest[WIRE_SHA256_LEN];
    bool ok = wire_sha256(buf, ulen + sizeof mock_secret, digest);
    OPENSSL_cleanse(buf, ulen + sizeof mock_secret);
    free(buf);
    if (ok)
        memcpy(salt, digest, SCRAM_DEFAULT_SALT_LEN);
    return ok;
}

/* ---- server ---- */

enum scram_server_state { SS_FIRST, SS_FINAL, SS_DONE };

struct wire_scram_server {
    enum scram_server_state state;
    bool doomed; /* unknown user: run the exchange, then fail */
    wire_scram_verifier v;
    char *server_nonce;
    char gs2[64];            /* the client's gs2 header: "n,,", "y,," or "p=...,," */
    size_t gs2_len;
    bool plus;               /* the client chose SCRAM-SHA-256-PLUS */
    uint8_t cb[WIRE_SCRAM_CB_MAX]; /* our channel-binding data; cb_len 0: none to offer */
    size_t cb_len;
    char *client_first_bare; /* for the AuthMessage */
    size_t client_first_bare_len;
    char *server_first;
    size_t server_first_len;
    char *nonce; /* client nonce + server nonce */
    size_t nonce_len;
    bool have_client_key; /* proven in client-final-message */
    uint8_t client_key[WIRE_SCRAM_KEY_LEN];
};

wire_scram_server *wire_scram_server_new(const wire_scram_verifier *verifier, const char *user,
                                         const char *server_nonce)
{
    if (server_nonce &&
        (server_nonce[0] == '\0' || !is_printable(server_nonce, strlen(server_nonce))))
        return NULL;
    wire_scram_server *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->state = SS_FIRST;
    s->server_nonce = server_nonce ? dup_mem(server_nonce, strlen(server_nonce)) : random_nonce();
    if (!s->server_nonce)
        goto fail;
    if (verifier && verifier_usable(verifier)) {
        s->v = *verifier;
    } else {
        /* No usable secret: a doomed exchange with a stable mock salt and
         * random keys that no proof can match. */
        s->doomed = true;
        s->v.iterations = WIRE_SCRAM_DEFAULT_ITERATIONS;
        s->v.salt_len = SCRAM_DEFAULT_SALT_LEN;
        if (!mock_salt(user ? user : "", s->v.salt) ||
            !wire_random_bytes(s->v.stored_key, sizeof s->v.stored_key) ||
            !wire_random_bytes(s->v.server_key, sizeof s->v.server_key))
            goto fail;
    }
    return s;
fail:
    wire_scram_server_free(s);
    return NULL;
}

bool wire_scram_server_bind(wire_scram_server *s, bool plus, const uint8_t *cb, size_t cb_len)
{
    if (s->state != SS_FIRST || cb_len > sizeof s->cb || (plus && cb_len == 0) ||
        (cb_len && !cb))
        return false;
    s->plus = plus;
    if (cb_len)
        memcpy(s->cb, cb, cb_len);
    s->cb_len = cb_len;
    return true;
}

void wire_scram_server_free(wire_scram_server *s)
{
    if (!s)
        return;
    free(s->server_nonce);
    free(s->client_first_bare);
    free(s->server_first);
    free(s->nonce);
    OPENSSL_cleanse(s, sizeof *s);
    free(s);
}

/* Ends the exchange with a protocol error. */
#define PROTO_FAIL(...)                                                                            \
    do {                                                                                           \
        set_err(err, errlen, __VA_ARGS__);                                                         \
        s->state = SS_DONE;                                                                        \
        return WIRE_SCRAM_FAIL_PROTOCOL;                                                           \
    } while (0)

wire_scram_status wire_scram_server_first(wire_scram_server *s, const uint8_t *msg, size_t len,
                                          wire_buf *out, char *err, size_t errlen)
{
    if (s->state != SS_FIRST)
        PROTO_FAIL("SCRAM exchange out of order: unexpected client-first-message");
    if (!msg || len == 0)
        PROTO_FAIL("malformed SCRAM message: the message is empty");
    if (memchr(msg, 0, len))
        PROTO_FAIL("malformed SCRAM message: the message contains a NUL byte");

    cursor c = {(const char *)msg, (const char *)msg + len};
    /* gs2-header: cbind-flag "," [authzid] "," */
    const char *gs2 = c.p;
    char flag = *c.p;
    if (flag == 'p') {
        if (!s->plus && !s->cb_len)
            PROTO_FAIL("channel binding is not supported: the client requested "
                       "SCRAM-SHA-256-PLUS binding (\"p=\") but the connection does not use "
                       "TLS");
        if (!s->plus)
            PROTO_FAIL("malformed SCRAM message: the client selected SCRAM-SHA-256 without "
                       "channel binding, but the SCRAM message includes channel binding data");
        const char *cbname;
        size_t cbname_len;
        if (!take_attr(&c, 'p', &cbname, &cbname_len))
            PROTO_FAIL("malformed SCRAM message: malformed channel-binding type");
        if (cbname_len != 20 || memcmp(cbname, "tls-server-end-point", 20) != 0)
            PROTO_FAIL("unsupported SCRAM channel-binding type \"%.*s\"",
                       (int)(cbname_len > 64 ? 64 : cbname_len), cbname);
    } else if (flag == 'n' || flag == 'y') {
        if (s->plus)
            PROTO_FAIL("malformed SCRAM message: the client selected SCRAM-SHA-256-PLUS, but "
                       "the SCRAM message does not include channel binding data");
        if (flag == 'y' && s->cb_len)
            PROTO_FAIL("SCRAM channel binding negotiation error: the client supports SCRAM "
                       "channel binding but thinks the server does not; however, this server "
                       "does support channel binding");
        c.p++;
    } else {
        PROTO_FAIL("malformed SCRAM message: unexpected channel-binding flag in "
                   "client-first-message");
    }
    if (!take_comma(&c))
        PROTO_FAIL("malformed SCRAM message: comma expected after the channel-binding flag");
    if (c.p < c.end && *c.p == 'a')
        PROTO_FAIL("client uses authorization identity, but it is not supported");
    if (!take_comma(&c))
        PROTO_FAIL("malformed SCRAM message: unexpected attribute in the gs2 header of "
                   "client-first-message");
    s->gs2_len = (size_t)(c.p - gs2); /* at most "p=tls-server-end-point,," */
    memcpy(s->gs2, gs2, s->gs2_len);

    const char *bare = c.p;
    if (c.end - c.p >= 2 && c.p[0] == 'm' && c.p[1] == '=')
        PROTO_FAIL("client requires an unsupported SCRAM extension");
    const char *v;
    size_t vlen;
    /* The SCRAM user name is ignored: the startup packet named the user. */
    if (!take_attr(&c, 'n', &v, &vlen))
        PROTO_FAIL("malformed SCRAM message: expected attribute \"n\" in client-first-message");
    if (!take_comma(&c) || !take_attr(&c, 'r', &v, &vlen))
        PROTO_FAIL("malformed SCRAM message: expected attribute \"r\" in client-first-message");
    if (vlen == 0 || !is_printable(v, vlen))
        PROTO_FAIL("malformed SCRAM message: invalid client nonce in client-first-message");
    const char *cnonce = v;
    size_t cnonce_len = vlen;
    while (c.p < c.end) {
        if (!take_comma(&c) || !take_any_attr(&c, &v, &vlen))
            PROTO_FAIL("malformed SCRAM message: garbage at the end of client-first-message");
    }

    /* server-first-message: r=<client nonce><server nonce>,s=<salt>,i=<iterations> */
    size_t snonce_len = strlen(s->server_nonce);
    char salt_b64[WIRE_SCRAM_SALT_MAX / 3 * 4 + 8];
    wire_b64_encode(s->v.salt, s->v.salt_len, salt_b64);
    char iter[16];
    snprintf(iter, sizeof iter, "%d", s->v.iterations);

    s->client_first_bare_len = (size_t)(c.end - bare);
    s->client_first_bare = dup_mem(bare, s->client_first_bare_len);
    s->nonce_len = cnonce_len + snonce_len;
    s->nonce = malloc(s->nonce_len + 1);
    if (!s->client_first_bare || !s->nonce)
        PROTO_FAIL("out of memory");
    memcpy(s->nonce, cnonce, cnonce_len);
    memcpy(s->nonce + cnonce_len, s->server_nonce, snonce_len + 1);

    s->server_first_len = 2 + s->nonce_len + 3 + strlen(salt_b64) + 3 + strlen(iter);
    s->server_first = malloc(s->server_first_len + 1);
    if (!s->server_first)
        PROTO_FAIL("out of memory");
    snprintf(s->server_first, s->server_first_len + 1, "r=%s,s=%s,i=%s", s->nonce, salt_b64, iter);

    wire_buf_append(out, s->server_first, s->server_first_len);
    if (out->oom)
        PROTO_FAIL("out of memory");
    s->state = SS_FINAL;
    return WIRE_SCRAM_CONTINUE;
}

wire_scram_status wire_scram_server_final(wire_scram_server *s, const uint8_t *msg, size_t len,
                                          wire_buf *out, char *err, size_t errlen)
{
    if (s->state != SS_FINAL)
        PROTO_FAIL("SCRAM exchange out of order: unexpected client-final-message");
    if (!msg || len == 0)
        PROTO_FAIL("malformed SCRAM message: the message is empty");
    if (memchr(msg, 0, len))
        PROTO_FAIL("malformed SCRAM message: the message contains a NUL byte");

    cursor c = {(const char *)msg, (const char *)msg + len};
    const char *v;
    size_t vlen;

    /* c=: base64 of the gs2 header the client sent first, then (PLUS) the
     * binding data, which must be ours: a man in the middle has another. */
    if (!take_attr(&c, 'c', &v, &vlen))
        PROTO_FAIL("malformed SCRAM message: expected attribute \"c\" in client-final-message");
    uint8_t expected[sizeof s->gs2 + sizeof s->cb], cbind[sizeof expected];
    size_t expected_len = s->gs2_len, cbind_len = 0;
    memcpy(expected, s->gs2, s->gs2_len);
    if (s->plus) {
        memcpy(expected + expected_len, s->cb, s->cb_len);
        expected_len += s->cb_len;
    }
    if (!wire_b64_decode(v, vlen, cbind, expected_len, &cbind_len))
        PROTO_FAIL("malformed SCRAM message: invalid channel-binding data in "
                   "client-final-message");
    if (cbind_len != expected_len || CRYPTO_memcmp(cbind, expected, expected_len) != 0)
        PROTO_FAIL("SCRAM channel binding check failed: the client-final-message does not "
                   "carry the gs2 header of the client-first-message and this connection's "
                   "channel-binding data");

    if (!take_comma(&c) || !take_attr(&c, 'r', &v, &vlen))
        PROTO_FAIL("malformed SCRAM message: expected attribute \"r\" in client-final-message");
    if (vlen != s->nonce_len || memcmp(v, s->nonce, vlen) != 0)
        PROTO_FAIL("SCRAM nonce mismatch");

    /* Extensions may precede the proof, which is the last attribute. */
    const char *proof = NULL;
    size_t proof_len = 0;
    const char *without_proof_end = NULL;
    while (!proof) {
        const char *comma = c.p;
        if (c.p >= c.end)
            PROTO_FAIL("malformed SCRAM message: could not find proof in client-final-message");
        char name = 0;
        if (!take_comma(&c) || !(name = take_any_attr(&c, &v, &vlen)))
            PROTO_FAIL("malformed SCRAM message: malformed attribute in client-final-message");
        if (name == 'p') {
            proof = v;
            proof_len = vlen;
            without_proof_end = comma;
        }
    }
    if (c.p != c.end)
        PROTO_FAIL("malformed SCRAM message: garbage at the end of client-final-message");
    uint8_t client_proof[WIRE_SCRAM_KEY_LEN];
    size_t n = 0;
    if (!wire_b64_decode(proof, proof_len, client_proof, sizeof client_proof, &n) ||
        n != WIRE_SCRAM_KEY_LEN)
        PROTO_FAIL("malformed SCRAM message: malformed proof in client-final-message");

    size_t am_len = 0;
    uint8_t *am = auth_message(s->client_first_bare, s->client_first_bare_len, s->server_first,
                               s->server_first_len, (const char *)msg,
                               (size_t)(without_proof_end - (const char *)msg), &am_len);
    if (!am)
        PROTO_FAIL("out of memory");

    /* ClientKey = proof XOR HMAC(StoredKey, AuthMessage); H(ClientKey) == StoredKey. */
    uint8_t sig[WIRE_SCRAM_KEY_LEN];
    uint8_t client_key[WIRE_SCRAM_KEY_LEN];
    uint8_t stored[WIRE_SCRAM_KEY_LEN];
    uint8_t server_sig[WIRE_SCRAM_KEY_LEN];
    bool computed = wire_hmac_sha256(s->v.stored_key, WIRE_SCRAM_KEY_LEN, am, am_len, sig);
    if (computed) {
        for (size_t i = 0; i < WIRE_SCRAM_KEY_LEN; i++)
            client_key[i] = client_proof[i] ^ sig[i];
        computed = wire_sha256(client_key, sizeof client_key, stored) &&
                   wire_hmac_sha256(s->v.server_key, WIRE_SCRAM_KEY_LEN, am, am_len, server_sig);
    }
    bool match = computed && CRYPTO_memcmp(stored, s->v.stored_key, WIRE_SCRAM_KEY_LEN) == 0;
    if (match && !s->doomed) {
        memcpy(s->client_key, client_key, sizeof client_key);
        s->have_client_key = true;
    }
    free(am);
    OPENSSL_cleanse(client_key, sizeof client_key);
    OPENSSL_cleanse(sig, sizeof sig);
    s->state = SS_DONE;

    if (!computed) {
        set_err(err, errlen, "SCRAM: could not compute the client proof");
        return WIRE_SCRAM_FAIL_PROTOCOL;
    }
    /* The same message for unknown users and wrong passwords, on purpose. */
    if (!match || s->doomed) {
        set_err(err, errlen, "SCRAM authentication failed: the client proof does not match");
        return WIRE_SCRAM_FAIL_AUTH;
    }

    char sig_b64[WIRE_SCRAM_KEY_LEN / 3 * 4 + 8];
    wire_b64_encode(server_sig, sizeof server_sig, sig_b64);
    wire_buf_append(out, "v=", 2);
    wire_buf_append(out, sig_b64, strlen(sig_b64));
    if (out->oom) {
        set_err(err, errlen, "out of memory");
        return WIRE_SCRAM_FAIL_PROTOCOL;
    }
    return WIRE_SCRAM_OK;
}

#undef PROTO_FAIL

bool wire_scram_server_client_key(const wire_scram_server *s, uint8_t out[WIRE_SCRAM_KEY_LEN])
{
    if (!s || !s->have_client_key)
        return false;
    memcpy(out, s->client_key, WIRE_SCRAM_KEY_LEN);
    return true;
}

/* ---- client ---- */

enum scram_client_state { SC_NEW, SC_FIRST_SENT, SC_FINAL_SENT, SC_DONE };

/* Keys derived from passwords, by an HMAC of (password, salt, iterations)
 * under a random key of the cache's own: a ring, the oldest replaced. */
typedef struct scram_cached_keys {
    uint8_t tag[WIRE_SCRAM_KEY_LEN];
    uint8_t client_key[WIRE_SCRAM_KEY_LEN], server_key[WIRE_SCRAM_KEY_LEN];
    bool used;
} scram_cached_keys;

struct wire_scram_key_cache {
    uint8_t secret[32];
    scram_cached_keys *e;
    int n, next;
    uint64_t hits, misses;
};

wire_scram_key_cache *wire_scram_key_cache_new(int entries)
{
    wire_scram_key_cache *k = calloc(1, sizeof(*k));
    if (!k)
        return NULL;
    k->n = entries > 0 ? entries : 1;
    k->e = calloc((size_t)k->n, sizeof(*k->e));
    if (!k->e || RAND_bytes(k->secret, sizeof k->secret) != 1) {
        free(k->e);
        free(k);
        return NULL;
    }
    return k;
}

void wire_scram_key_cache_free(wire_scram_key_cache *k)
{
    if (!k)
        return;
    OPENSSL_cleanse(k->e, (size_t)k->n * sizeof(*k->e));
    OPENSSL_cleanse(k->secret, sizeof k->secret);
    free(k->e);
    free(k);
}

void wire_scram_key_cache_stats(const wire_scram_key_cache *k, uint64_t *hits, uint64_t *misses)
{
    *hits = k->hits;
    *misses = k->misses;
}

/* The tag of (password, salt, iterations); false on failure. */
static bool scram_cache_tag(const wire_scram_key_cache *k, const char *password, const uint8_t *salt,
                            size_t salt_len, int iterations, uint8_t tag[WIRE_SCRAM_KEY_LEN])
{
    size_t plen = strlen(password);
    uint8_t *m = malloc(plen + 1 + salt_len + 4);
    if (!m)
        return false;
    memcpy(m, password, plen);
    m[plen] = 0;
    memcpy(m + plen + 1, salt, salt_len);
    uint32_t it = (uint32_t)iterations;
    memcpy(m + plen + 1 + salt_len, &it, 4);
    bool ok = wire_hmac_sha256(k->secret, sizeof k->secret, m, plen + 1 + salt_len + 4, tag);
    OPENSSL_cleanse(m, plen + 1 + salt_len + 4);
    free(m);
    return ok;
}

struct wire_scram_client {
    enum scram_client_state state;
    char *password; /* NULL: keys mode */
    wire_scram_key_cache *cache; /* NULL: none */
    uint8_t client_key[WIRE_SCRAM_KEY_LEN], server_key[WIRE_SCRAM_KEY_LEN];
    char *client_nonce;
    char *client_first_bare;
    uint8_t server_signature[WIRE_SCRAM_KEY_LEN]; /* expected in server-final */
    uint8_t cb[WIRE_SCRAM_CB_MAX]; /* channel-binding data; cb_len 0: "n,," */
    size_t cb_len;
};

#define SCRAM_GS2_PLUS "p=tls-server-end-point,,"

bool wire_scram_client_bind(wire_scram_client *c, const uint8_t *cb, size_t cb_len)
{
    if (c->state != SC_NEW || !cb || cb_len == 0 || cb_len > sizeof c->cb)
        return false;
    memcpy(c->cb, cb, cb_len);
    c->cb_len = cb_len;
    return true;
}


static wire_scram_client *scram_client_alloc(const char *client_nonce)
{
    if (client_nonce &&
        (client_nonce[0] == '\0' || !is_printable(client_nonce, strlen(client_nonce))))
        return NULL;
    wire_scram_client *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->state = SC_NEW;
    c->client_nonce = client_nonce ? dup_mem(client_nonce, strlen(client_nonce)) : random_nonce();
    if (!c->client_nonce) {
        wire_scram_client_free(c);
        return NULL;
    }
    return c;
}

wire_scram_client *wire_scram_client_new_keys(const uint8_t client_key[WIRE_SCRAM_KEY_LEN],
                                              const uint8_t server_key[WIRE_SCRAM_KEY_LEN],
                                              const char *client_nonce)
{
    if (!client_key || !server_key)
        return NULL;
    wire_scram_client *c = scram_client_alloc(client_nonce);
    if (c) {
        memcpy(c->client_key, client_key, WIRE_SCRAM_KEY_LEN);
        memcpy(c->server_key, server_key, WIRE_SCRAM_KEY_LEN);
    }
    return c;
}

wire_scram_client *wire_scram_client_new(const char *password, const char *client_nonce)
{
    if (!password)
        return NULL;
    wire_scram_client *c = scram_client_alloc(client_nonce);
    if (c && !(c->password = dup_mem(password, strlen(password)))) {
        wire_scram_client_free(c);
        return NULL;
    }
    return c;
}

void wire_scram_client_set_cache(wire_scram_client *c, wire_scram_key_cache *k)
{
    c->cache = k;
}

void wire_scram_client_free(wire_scram_client *c)
{
    if (!c)
        return;
    if (c->password) {
        OPENSSL_cleanse(c->password, strlen(c->password));
        free(c->password);
    }
    free(c->client_nonce);
    free(c->client_first_bare);
    OPENSSL_cleanse(c, sizeof *c);
    free(c);
}

/* "n,,n=,r=<nonce>" (or "p=tls-server-end-point,,n=,r=<nonce>" when bound):
 * an empty user name, as libpq sends. */
bool wire_scram_client_first(wire_scram_client *c, wire_buf *out)
{
    if (c->state != SC_NEW)
        return false;
    size_t nlen = strlen(c->client_nonce);
    c->client_first_bare = malloc(5 + nlen + 1);
    if (!c->client_first_bare)
        return false;
    memcpy(c->client_first_bare, "n=,r=", 5);
    memcpy(c->client_first_bare + 5, c->client_nonce, nlen + 1);
    if (c->cb_len)
        wire_buf_append(out, SCRAM_GS2_PLUS, strlen(SCRAM_GS2_PLUS));
    else
        wire_buf_append(out, "n,,", 3);
    wire_buf_append(out, c->client_first_bare, 5 + nlen);
    if (out->oom)
        return false;
    c->state = SC_FIRST_SENT;
    return true;
}

bool wire_scram_client_final(wire_scram_client *c, const uint8_t *server_first, size_t len,
                             wire_buf *out)
{
    if (c->state != SC_FIRST_SENT)
        return false;
    c->state = SC_DONE; /* until proven otherwise */
    if (!server_first || len == 0 || memchr(server_first, 0, len))
        return false;

    cursor cur = {(const char *)server_first, (const char *)server_first + len};
    const char *nonce, *salt_b64, *iter;
    size_t nonce_len, salt_b64_len, iter_len;
    size_t cnonce_len = strlen(c->client_nonce);
    if (!take_attr(&cur, 'r', &nonce, &nonce_len) || nonce_len <= cnonce_len ||
        memcmp(nonce, c->client_nonce, cnonce_len) != 0 || !is_printable(nonce, nonce_len))
        return false;
    if (!take_comma(&cur) || !take_attr(&cur, 's', &salt_b64, &salt_b64_len) || salt_b64_len == 0)
        return false;
    int iterations = 0;
    if (!take_comma(&cur) || !take_attr(&cur, 'i', &iter, &iter_len) ||
        !parse_iterations(iter, iter_len, &iterations))
        return false;
    while (cur.p < cur.end) {
        const char *v;
        size_t vlen;
        if (!take_comma(&cur) || !take_any_attr(&cur, &v, &vlen))
            return false;
    }

    bool ok = false;
    uint8_t *salt = malloc(wire_b64_decoded_max(salt_b64_len) + 1);
    char *cfwp = NULL; /* client-final-message-without-proof */
    uint8_t *am = NULL;
    size_t salt_len = 0, am_len = 0;
    uint8_t client_key[WIRE_SCRAM_KEY_LEN], stored_key[WIRE_SCRAM_KEY_LEN];
    uint8_t server_key[WIRE_SCRAM_KEY_LEN], sig[WIRE_SCRAM_KEY_LEN];
    uint8_t proof[WIRE_SCRAM_KEY_LEN];
    char proof_b64[WIRE_SCRAM_KEY_LEN / 3 * 4 + 8];

    if (!salt ||
        !wire_b64_decode(salt_b64, salt_b64_len, salt, wire_b64_decoded_max(salt_b64_len) + 1,
                         &salt_len) ||
        salt_len == 0)
        goto done;
    /* "c=" base64(gs2 header [+ binding data]) ",r=" nonce */
    uint8_t cbind[sizeof SCRAM_GS2_PLUS + WIRE_SCRAM_CB_MAX];
    size_t cbind_len = 3;
    if (c->cb_len) {
        cbind_len = strlen(SCRAM_GS2_PLUS);
        memcpy(cbind, SCRAM_GS2_PLUS, cbind_len);
        memcpy(cbind + cbind_len, c->cb, c->cb_len);
        cbind_len += c->cb_len;
    } else {
        memcpy(cbind, "n,,", 3);
    }
    char cbind_b64[sizeof cbind / 3 * 4 + 8];
    wire_b64_encode(cbind, cbind_len, cbind_b64);
    size_t b64_len = strlen(cbind_b64);
    size_t cfwp_len = 2 + b64_len + 3 + nonce_len;
    cfwp = malloc(cfwp_len + 1);
    if (!cfwp)
        goto done;
    snprintf(cfwp, cfwp_len + 1, "c=%s,r=%.*s", cbind_b64, (int)nonce_len, nonce);
    am = auth_message(c->client_first_bare, strlen(c->client_first_bare),
                      (const char *)server_first, len, cfwp, cfwp_len, &am_len);
    if (!am)
        goto done;
    if (c->password) {
        wire_scram_key_cache *k = c->cache;
        uint8_t tag[WIRE_SCRAM_KEY_LEN];
        scram_cached_keys *hit = NULL;
        if (k && scram_cache_tag(k, c->password, salt, salt_len, iterations, tag)) {
            for (int i = 0; i < k->n && !hit; i++)
                if (k->e[i].used && CRYPTO_memcmp(k->e[i].tag, tag, sizeof tag) == 0)
                    hit = &k->e[i];
        } else {
            k = NULL;
        }
        if (hit) {
            k->hits++;
            memcpy(client_key, hit->client_key, sizeof client_key);
            memcpy(server_key, hit->server_key, sizeof server_key);
            if (!wire_sha256(client_key, sizeof client_key, stored_key))
                goto done;
        } else {
            if (!derive_keys(c->password, salt, salt_len, iterations, client_key, stored_key,
                             server_key))
                goto done;
            if (k) {
                k->misses++;
                scram_cached_keys *e = &k->e[k->next];
                k->next = (k->next + 1) % k->n;
                memcpy(e->tag, tag, sizeof tag);
                memcpy(e->client_key, client_key, sizeof client_key);
                memcpy(e->server_key, server_key, sizeof server_key);
                e->used = true;
            }
        }
        OPENSSL_cleanse(tag, sizeof tag);
    } else {
        memcpy(client_key, c->client_key, sizeof client_key);
        memcpy(server_key, c->server_key, sizeof server_key);
        if (!wire_sha256(client_key, sizeof client_key, stored_key))
            goto done;
    }
    if (!wire_hmac_sha256(stored_key, sizeof stored_key, am, am_len, sig) ||
        !wire_hmac_sha256(server_key, sizeof server_key, am, am_len, c->server_signature))
        goto done;
    for (size_t i = 0; i < WIRE_SCRAM_KEY_LEN; i++)
        proof[i] = client_key[i] ^ sig[i];
    wire_b64_encode(proof, sizeof proof, proof_b64);
    wire_buf_append(out, cfwp, cfwp_len);
    wire_buf_append(out, ",p=", 3);
    wire_buf_append(out, proof_b64, strlen(proof_b64));
    ok = !out->oom;
done:
    free(salt);
    free(cfwp);
    free(am);
    OPENSSL_cleanse(client_key, sizeof client_key);
    OPENSSL_cleanse(stored_key, sizeof stored_key);
    OPENSSL_cleanse(server_key, sizeof server_key);
    OPENSSL_cleanse(sig, sizeof sig);
    if (ok)
        c->state = SC_FINAL_SENT;
    return ok;
}

/* Accepts "v=<b64 ServerSignature>" (optionally followed by extensions);
 * "e=<error>" or anything else is a failure. */
bool wire_scram_client_verify(wire_scram_client *c, const uint8_t *server_final, size_t len)
{
    if (c->state != SC_FINAL_SENT)
        return false;
    c->state = SC_DONE;
    if (!server_final || len == 0 || memchr(server_final, 0, len))
        return false;
    cursor cur = {(const char *)server_final, (const char *)server_final + len};
    const char *v;
    size_t vlen;
    if (!take_attr(&cur, 'v', &v, &vlen))
        return false;
    uint8_t sig[WIRE_SCRAM_KEY_LEN];
    size_t n = 0;
    if (!wire_b64_decode(v, vlen, sig, sizeof sig, &n) || n != WIRE_SCRAM_KEY_LEN)
        return false;
    while (cur.p < cur.end) {
        const char *e;
        size_t elen;
        if (!take_comma(&cur) || !take_any_attr(&cur, &e, &elen))
            return false;
    }
    return CRYPTO_memcmp(sig, c->server_signature, WIRE_SCRAM_KEY_LEN) == 0;
}
