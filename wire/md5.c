/*
 * md5 password authentication, server side, as PostgreSQL does it.
 *
 * PostgreSQL stores "md5" + hex(md5(password || user)); the client answers an
 * AuthenticationMD5Password(salt) with "md5" + hex(md5(hex_inner || salt)),
 * where hex_inner is the 32 hex digits of the stored form.  The auth file may
 * hold either the plain password (we hash it first) or the stored md5 form
 * (used as is).  A SCRAM verifier cannot answer md5: the check fails.
 */
#include <string.h>

#include <openssl/crypto.h>

#include "wire_internal.h"

#define MD5_PASSWD_LEN 35 /* "md5" + 32 hex digits */

/* PostgreSQL's test for a stored md5 hash: prefix, length, lower-case hex. */
static bool is_md5_hash(const char *s)
{
    if (strncmp(s, "md5", 3) != 0 || strlen(s) != MD5_PASSWD_LEN)
        return false;
    return strspn(s + 3, "0123456789abcdef") == MD5_PASSWD_LEN - 3;
}

bool wire_md5_is_hash(const char *s)
{
    return s && is_md5_hash(s);
}

/* "md5" + hex(md5(a || b)) into out[36]; out is "" on failure. */
static bool md5_hex_concat(const void *a, size_t alen, const void *b, size_t blen, char out[36])
{
    uint8_t digest[WIRE_MD5_LEN];
    uint8_t *tmp = NULL;
    bool ok = false;

    out[0] = '\0';
    if (alen > SIZE_MAX - blen)
        return false;
    /* Avoid the heap for the common short case; passwords may be long. */
    uint8_t stackbuf[512];
    uint8_t *buf = stackbuf;
    if (alen + blen > sizeof stackbuf) {
        tmp = OPENSSL_malloc(alen + blen);
        if (!tmp)
            return false;
        buf = tmp;
    }
    if (alen)
        memcpy(buf, a, alen);
    if (blen)
        memcpy(buf + alen, b, blen);
    if (wire_md5(buf, alen + blen, digest)) {
        memcpy(out, "md5", 3);
        wire_hex_encode(digest, sizeof digest, out + 3);
        ok = true;
    }
    OPENSSL_cleanse(buf, alen + blen);
    OPENSSL_free(tmp);
    return ok;
}

void wire_md5_password_hash(const char *password, const char *user, char out[36])
{
    if (!password)
        password = "";
    if (!user)
        user = "";
    md5_hex_concat(password, strlen(password), user, strlen(user), out);
}

bool wire_md5_check(const char *stored, const char *user, const uint8_t salt[4],
                    const char *response)
{
    if (!stored || !user || !salt || !response)
        return false;
    if (strncmp(stored, "SCRAM-SHA-256$", 14) == 0)
        return false;

    char inner[36];
    if (is_md5_hash(stored)) {
        memcpy(inner, stored, sizeof inner);
    } else {
        wire_md5_password_hash(stored, user, inner);
        if (inner[0] == '\0')
            return false;
    }
    char expected[36];
    bool ok = md5_hex_concat(inner + 3, 32, salt, 4, expected);
    /* Only the length of the response is compared in variable time. */
    if (ok)
        ok = strnlen(response, MD5_PASSWD_LEN + 1) == MD5_PASSWD_LEN &&
             CRYPTO_memcmp(expected, response, MD5_PASSWD_LEN) == 0;
    OPENSSL_cleanse(inner, sizeof inner);
    OPENSSL_cleanse(expected, sizeof expected);
    return ok;
}

bool wire_md5_client_response(const char *password, const char *user, const uint8_t salt[4],
                              char out[36])
{
    char inner[36];
    if (is_md5_hash(password)) /* a stored hash answers as well as the password (PgBouncer) */
        memcpy(inner, password, MD5_PASSWD_LEN + 1);
    else
        wire_md5_password_hash(password, user, inner);
    bool ok = inner[0] != '\0' && md5_hex_concat(inner + 3, 32, salt, 4, out);
    OPENSSL_cleanse(inner, sizeof inner);
    return ok;
}
