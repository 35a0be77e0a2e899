/*
 * Tests for wire/crypto.c against published vectors: SHA-256 (FIPS 180-2
 * "abc"), MD5 (RFC 1321), HMAC-SHA-256 (RFC 4231 test case 2), and that the
 * RNG produces different bytes on each call.
 */
#include "test_util.h"
#include "wire_internal.h"

static void hex_eq(const uint8_t *p, size_t n, const char *hex)
{
    char out[2 * 64 + 1];
    wire_hex_encode(p, n, out);
    ck_assert_str_eq(out, hex);
}

START_TEST(test_sha256)
{
    uint8_t d[WIRE_SHA256_LEN];
    ck_assert(wire_sha256("abc", 3, d));
    hex_eq(d, sizeof d, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    ck_assert(wire_sha256("", 0, d));
    hex_eq(d, sizeof d, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
END_TEST

START_TEST(test_md5)
{
    uint8_t d[WIRE_MD5_LEN];
    ck_assert(wire_md5("", 0, d));
    hex_eq(d, sizeof d, "d41d8cd98f00b204e9800998ecf8427e");
    ck_assert(wire_md5("abc", 3, d));
    hex_eq(d, sizeof d, "900150983cd24fb0d6963f7d28e17f72");
}
END_TEST

START_TEST(test_hmac_sha256)
{
    uint8_t d[WIRE_SHA256_LEN];
    const char *data = "what do ya want for nothing?";
    ck_assert(wire_hmac_sha256((const uint8_t *)"Jefe", 4, data, strlen(data), d));
    hex_eq(d, sizeof d, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    /* empty message, NULL data pointer */
    uint8_t e1[WIRE_SHA256_LEN], e2[WIRE_SHA256_LEN];
    ck_assert(wire_hmac_sha256((const uint8_t *)"k", 1, NULL, 0, e1));
    ck_assert(wire_hmac_sha256((const uint8_t *)"k", 1, "", 0, e2));
    ck_assert_mem_eq(e1, e2, sizeof e1);
}
END_TEST

START_TEST(test_random)
{
    uint8_t a[32], b[32];
    ck_assert(wire_random_bytes(a, sizeof a));
    ck_assert(wire_random_bytes(b, sizeof b));
    ck_assert(memcmp(a, b, sizeof a) != 0);
    ck_assert(wire_random_bytes(a, 0));
}
END_TEST

static Suite *crypto_suite(void)
{
    Suite *s = suite_create("wire_crypto");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_sha256);
    tcase_add_test(tc, test_md5);
    tcase_add_test(tc, test_hmac_sha256);
    tcase_add_test(tc, test_random);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run(crypto_suite());
}
