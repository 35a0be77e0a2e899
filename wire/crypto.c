/*
 * Thin wrappers over OpenSSL's libcrypto: one-shot SHA-256, MD5 and
 * HMAC-SHA-256, and the CSPRNG.  They exist so the SCRAM and md5 code reads as
 * the RFCs do and so every OpenSSL call (and its failure) is in one place.
 *
 * Only non-deprecated OpenSSL 3 entry points are used: EVP_Digest, HMAC()
 * one-shot (only HMAC_CTX is deprecated), RAND_bytes.  MD5 may be missing
 * under a FIPS provider; wire_md5() then returns false and md5 auth fails.
 */
#include <limits.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "wire_internal.h"

bool wire_sha256(const void *p, size_t n, uint8_t out[WIRE_SHA256_LEN])
{
    unsigned int len = 0;
    return EVP_Digest(p, n, out, &len, EVP_sha256(), NULL) == 1 && len == WIRE_SHA256_LEN;
}

bool wire_md5(const void *p, size_t n, uint8_t out[WIRE_MD5_LEN])
{
    unsigned int len = 0;
    return EVP_Digest(p, n, out, &len, EVP_md5(), NULL) == 1 && len == WIRE_MD5_LEN;
}

bool wire_hmac_sha256(const uint8_t *key, size_t key_len, const void *p, size_t n,
                      uint8_t out[WIRE_SHA256_LEN])
{
    unsigned int len = 0;
    if (key_len > INT_MAX)
        return false;
    /* HMAC() rejects a NULL data pointer even for n == 0 in some versions. */
    static const uint8_t empty[1] = {0};
    if (!p)
        p = empty;
    return HMAC(EVP_sha256(), key, (int)key_len, p, n, out, &len) != NULL && len == WIRE_SHA256_LEN;
}

bool wire_random_bytes(uint8_t *p, size_t n)
{
    if (n > INT_MAX)
        return false;
    return RAND_bytes(p, (int)n) == 1;
}
