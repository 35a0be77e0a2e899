/*
 * Internal helpers shared by the wire/ sources: big-endian loads, base64,
 * hex, and thin wrappers over OpenSSL's one-shot digest, HMAC and RNG calls.
 *
 * Nothing here is part of the public API (include/dormouse/wire.h); unit tests
 * include this header directly to test the helpers in isolation.
 */
#ifndef DORMOUSE_WIRE_INTERNAL_H
#define DORMOUSE_WIRE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dormouse/wire.h"

#define WIRE_SHA256_LEN 32
#define WIRE_MD5_LEN 16

/* ---- byte order: the caller has checked that the bytes are there ---- */

static inline uint32_t wire_get_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint16_t wire_get_u16(const uint8_t *p)
{
    return (uint16_t)(((uint16_t)p[0] << 8) | p[1]);
}

static inline void wire_set_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* ---- base64 (RFC 4648 standard alphabet, with padding) ---- */

/* Characters needed to encode n bytes, excluding the terminating NUL. */
size_t wire_b64_encoded_len(size_t n);
/* Encodes n bytes into out, which must hold wire_b64_encoded_len(n) + 1 bytes;
 * NUL-terminates and returns the encoded length. */
size_t wire_b64_encode(const uint8_t *p, size_t n, char *out);
/* Upper bound on the decoded size of slen characters. */
size_t wire_b64_decoded_max(size_t slen);
/* Strict decoding of exactly slen characters: length a multiple of 4, padding
 * only at the end, no whitespace, unused bits zero.  Fails (returning false)
 * when the input is not canonical base64 or the result exceeds outcap. */
bool wire_b64_decode(const char *s, size_t slen, uint8_t *out, size_t outcap, size_t *outlen);

/* ---- hex ---- */

/* Lower-case hex of n bytes into out (2n chars + NUL). */
void wire_hex_encode(const uint8_t *p, size_t n, char *out);

/* ---- OpenSSL wrappers: all return false on any library failure ---- */

bool wire_sha256(const void *p, size_t n, uint8_t out[WIRE_SHA256_LEN]);
bool wire_md5(const void *p, size_t n, uint8_t out[WIRE_MD5_LEN]);
bool wire_hmac_sha256(const uint8_t *key, size_t key_len, const void *p, size_t n,
                      uint8_t out[WIRE_SHA256_LEN]);
bool wire_random_bytes(uint8_t *p, size_t n);

/* ---- output buffer helpers ---- */

/* Writes a big-endian u32 at offset `at` (at + 4 <= len), e.g. to patch a length word. */
void wire_buf_patch_u32(wire_buf *b, size_t at, uint32_t v);

#endif
