/*
 * Tests for wire/base64.c: RFC 4648 section 10 vectors both ways, strict
 * rejection of non-canonical input, output capacity, and hex.
 */
#include "test_util.h"
#include "wire_internal.h"

static const struct {
    const char *raw;
    const char *b64;
} vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

START_TEST(test_encode_vectors)
{
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        char out[32];
        size_t n = wire_b64_encode((const uint8_t *)vectors[i].raw, strlen(vectors[i].raw), out);
        ck_assert_uint_eq(n, strlen(vectors[i].b64));
        ck_assert_uint_eq(n, wire_b64_encoded_len(strlen(vectors[i].raw)));
        ck_assert_str_eq(out, vectors[i].b64);
    }
}
END_TEST

START_TEST(test_decode_vectors)
{
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        uint8_t out[32];
        size_t n = 99;
        const char *s = vectors[i].b64;
        ck_assert(wire_b64_decode(s, strlen(s), out, sizeof out, &n));
        ck_assert_uint_eq(n, strlen(vectors[i].raw));
        ck_assert_mem_eq(out, vectors[i].raw, n);
        ck_assert_uint_ge(wire_b64_decoded_max(strlen(s)), n);
    }
}
END_TEST

START_TEST(test_decode_binary_roundtrip)
{
    uint8_t raw[256];
    for (int i = 0; i < 256; i++)
        raw[i] = (uint8_t)(255 - i);
    for (size_t n = 0; n <= sizeof raw; n++) {
        char enc[400];
        uint8_t dec[256];
        size_t el = wire_b64_encode(raw, n, enc);
        size_t dl = 0;
        ck_assert(wire_b64_decode(enc, el, dec, sizeof dec, &dl));
        ck_assert_uint_eq(dl, n);
        ck_assert_mem_eq(dec, raw, n);
    }
}
END_TEST

START_TEST(test_decode_rejects)
{
    static const char *bad[] = {
        "Zg=",      /* length not a multiple of 4 */
        "Zg",       /* missing padding */
        "Zh==",     /* unused bits set */
        "Zm9=",     /* unused bits set */
        "Zg=a",     /* data after padding */
        "Z===",     /* too much padding */
        "====",     /* padding only */
        "Zg==Zg==", /* padding in the middle */
        "Zm9v\n",   /* whitespace */
        "Zm 9",     /* whitespace */
        "Zm9-",     /* URL-safe alphabet */
        "Zm9_",     /* URL-safe alphabet */
        "Zm\x80v",  /* high byte */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t out[16];
        size_t n = 77;
        ck_assert_msg(!wire_b64_decode(bad[i], strlen(bad[i]), out, sizeof out, &n), "%s", bad[i]);
        ck_assert_uint_eq(n, 77); /* untouched on failure */
    }
    /* An embedded NUL inside the given length is not base64. */
    uint8_t out[8];
    size_t n;
    ck_assert(!wire_b64_decode("Zm\0v", 4, out, sizeof out, &n));
}
END_TEST

START_TEST(test_decode_capacity)
{
    uint8_t out[6];
    size_t n = 0;
    ck_assert(!wire_b64_decode("Zm9vYmFy", 8, out, 5, &n));
    ck_assert(wire_b64_decode("Zm9vYmFy", 8, out, 6, &n));
    ck_assert_uint_eq(n, 6);
    ck_assert(!wire_b64_decode("Zm9vYg==", 8, out, 3, &n));
    ck_assert(wire_b64_decode("Zm9vYg==", 8, out, 4, &n));
    ck_assert_uint_eq(n, 4);
    ck_assert(wire_b64_decode("", 0, out, 0, &n));
    ck_assert_uint_eq(n, 0);
}
END_TEST

START_TEST(test_hex)
{
    static const uint8_t raw[] = {0x00, 0x01, 0xAB, 0xFF, 0x7E};
    char out[11];
    wire_hex_encode(raw, sizeof raw, out);
    ck_assert_str_eq(out, "0001abff7e");
    wire_hex_encode(raw, 0, out);
    ck_assert_str_eq(out, "");
}
END_TEST

static Suite *base64_suite(void)
{
    Suite *s = suite_create("wire_base64");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_encode_vectors);
    tcase_add_test(tc, test_decode_vectors);
    tcase_add_test(tc, test_decode_binary_roundtrip);
    tcase_add_test(tc, test_decode_rejects);
    tcase_add_test(tc, test_decode_capacity);
    tcase_add_test(tc, test_hex);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run(base64_suite());
}
