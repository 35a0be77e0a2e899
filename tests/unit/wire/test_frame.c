/*
 * Tests for wire/frame.c: typed and startup framing, every truncated prefix,
 * impossible and oversized lengths (decided from the header alone), bytes
 * after the frame, random garbage, and wire_frame_status_str.
 */
#include "test_util.h"

static const uint8_t query_msg[] = {'Q', 0, 0, 0, 13, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', 0};

START_TEST(test_parse_ok)
{
    wire_frame f;
    uint8_t *p = test_dup(query_msg, sizeof query_msg);
    ck_assert_int_eq(wire_frame_parse(p, sizeof query_msg, 1024, &f), WIRE_FRAME_OK);
    ck_assert_int_eq(f.type, 'Q');
    ck_assert_ptr_eq(f.body, p + 5);
    ck_assert_uint_eq(f.body_len, 9);
    ck_assert_uint_eq(f.total_len, sizeof query_msg);
    free(p);
}
END_TEST

START_TEST(test_parse_followed_by_more)
{
    uint8_t two[sizeof query_msg + 3];
    memcpy(two, query_msg, sizeof query_msg);
    memcpy(two + sizeof query_msg, "X\0\0", 3); /* start of the next message */
    wire_frame f;
    ck_assert_int_eq(wire_frame_parse(two, sizeof two, 1024, &f), WIRE_FRAME_OK);
    ck_assert_uint_eq(f.total_len, sizeof query_msg);
    ck_assert_int_eq(wire_frame_parse(two + f.total_len, 3, 1024, &f), WIRE_FRAME_INCOMPLETE);
}
END_TEST

START_TEST(test_every_prefix_incomplete)
{
    for (size_t n = 0; n < sizeof query_msg; n++) {
        uint8_t *p = test_dup(query_msg, n);
        wire_frame f;
        memset(&f, 0x5A, sizeof f);
        ck_assert_int_eq(wire_frame_parse(p, n, 1024, &f), WIRE_FRAME_INCOMPLETE);
        free(p);
    }
}
END_TEST

START_TEST(test_empty_body)
{
    static const uint8_t sync[] = {'S', 0, 0, 0, 4};
    wire_frame f;
    ck_assert_int_eq(wire_frame_parse(sync, sizeof sync, 0, &f), WIRE_FRAME_OK);
    ck_assert_int_eq(f.type, 'S');
    ck_assert_uint_eq(f.body_len, 0);
    ck_assert_uint_eq(f.total_len, 5);
}
END_TEST

START_TEST(test_length_below_4_invalid)
{
    for (uint8_t l = 0; l < 4; l++) {
        uint8_t m[] = {'Q', 0, 0, 0, l};
        wire_frame f;
        ck_assert_int_eq(wire_frame_parse(m, sizeof m, 1024, &f), WIRE_FRAME_INVALID);
    }
}
END_TEST

START_TEST(test_negative_length_invalid)
{
    static const uint8_t m1[] = {'Q', 0x80, 0, 0, 0};
    static const uint8_t m2[] = {'Q', 0xFF, 0xFF, 0xFF, 0xFF};
    wire_frame f;
    ck_assert_int_eq(wire_frame_parse(m1, sizeof m1, SIZE_MAX, &f), WIRE_FRAME_INVALID);
    ck_assert_int_eq(wire_frame_parse(m2, sizeof m2, SIZE_MAX, &f), WIRE_FRAME_INVALID);
}
END_TEST

START_TEST(test_too_large_from_header)
{
    /* body of 11 bytes with a limit of 10: decided with only the header in */
    static const uint8_t big[] = {'Q', 0, 0, 0, 15};
    static const uint8_t edge[] = {'Q', 0, 0, 0, 14};
    static const uint8_t huge[] = {'d', 0x7F, 0xFF, 0xFF, 0xFF};
    wire_frame f;
    ck_assert_int_eq(wire_frame_parse(big, sizeof big, 10, &f), WIRE_FRAME_TOO_LARGE);
    ck_assert_int_eq(wire_frame_parse(edge, sizeof edge, 10, &f), WIRE_FRAME_INCOMPLETE);
    ck_assert_int_eq(wire_frame_parse(huge, sizeof huge, WIRE_MAX_PACKET_SIZE_DEFAULT, &f),
                     WIRE_FRAME_TOO_LARGE);
    ck_assert_int_eq(wire_frame_parse(query_msg, sizeof query_msg, 8, &f), WIRE_FRAME_TOO_LARGE);
    ck_assert_int_eq(wire_frame_parse(query_msg, sizeof query_msg, 9, &f), WIRE_FRAME_OK);
}
END_TEST

START_TEST(test_garbage_never_overreads)
{
    uint32_t seed = 12345;
    for (int iter = 0; iter < 20000; iter++) {
        size_t n = test_rand(&seed) % 24;
        uint8_t raw[24];
        for (size_t i = 0; i < n; i++)
            raw[i] = (uint8_t)test_rand(&seed);
        if (n >= 5 && (test_rand(&seed) & 1)) /* make small lengths common */
            raw[1] = raw[2] = raw[3] = 0;
        uint8_t *p = test_dup(raw, n);
        wire_frame f;
        wire_frame_status st = wire_frame_parse(p, n, 16, &f);
        if (st == WIRE_FRAME_OK) {
            ck_assert_uint_le(f.total_len, n);
            ck_assert_uint_eq(f.total_len, (size_t)f.body_len + 5);
            ck_assert_uint_le(f.body_len, 16);
        }
        st = wire_startup_frame_parse(p, n, &f);
        if (st == WIRE_FRAME_OK) {
            ck_assert_uint_le(f.total_len, n);
            ck_assert_uint_eq(f.total_len, (size_t)f.body_len + 4);
            ck_assert_uint_ge(f.body_len, 4);
        }
        free(p);
    }
}
END_TEST

static const uint8_t ssl_request[] = {0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F};

START_TEST(test_startup_ok)
{
    wire_frame f;
    ck_assert_int_eq(wire_startup_frame_parse(ssl_request, sizeof ssl_request, &f), WIRE_FRAME_OK);
    ck_assert_int_eq(f.type, 0);
    ck_assert_ptr_eq(f.body, ssl_request + 4);
    ck_assert_uint_eq(f.body_len, 4);
    ck_assert_uint_eq(f.total_len, 8);
}
END_TEST

START_TEST(test_startup_every_prefix_incomplete)
{
    for (size_t n = 0; n < sizeof ssl_request; n++) {
        uint8_t *p = test_dup(ssl_request, n);
        wire_frame f;
        ck_assert_int_eq(wire_startup_frame_parse(p, n, &f), WIRE_FRAME_INCOMPLETE);
        free(p);
    }
}
END_TEST

START_TEST(test_startup_bad_lengths)
{
    wire_frame f;
    for (uint8_t l = 0; l < 8; l++) {
        uint8_t m[] = {0, 0, 0, l, 0, 0, 0, 0};
        ck_assert_int_eq(wire_startup_frame_parse(m, sizeof m, &f), WIRE_FRAME_INVALID);
    }
    static const uint8_t neg[] = {0xFF, 0xFF, 0xFF, 0xF0};
    ck_assert_int_eq(wire_startup_frame_parse(neg, sizeof neg, &f), WIRE_FRAME_INVALID);
    /* 10001 > MAX_STARTUP_PACKET, 10000 is allowed (and so incomplete here) */
    static const uint8_t big[] = {0, 0, 0x27, 0x11};
    static const uint8_t max[] = {0, 0, 0x27, 0x10};
    ck_assert_int_eq(wire_startup_frame_parse(big, sizeof big, &f), WIRE_FRAME_TOO_LARGE);
    ck_assert_int_eq(wire_startup_frame_parse(max, sizeof max, &f), WIRE_FRAME_INCOMPLETE);
    static const uint8_t huge[] = {0x7F, 0xFF, 0xFF, 0xFF};
    ck_assert_int_eq(wire_startup_frame_parse(huge, sizeof huge, &f), WIRE_FRAME_TOO_LARGE);
}
END_TEST

START_TEST(test_status_str)
{
    ck_assert_str_eq(wire_frame_status_str(WIRE_FRAME_OK), "ok");
    ck_assert_str_eq(wire_frame_status_str(WIRE_FRAME_INCOMPLETE), "incomplete");
    ck_assert_str_eq(wire_frame_status_str(WIRE_FRAME_TOO_LARGE), "too large");
    ck_assert_str_eq(wire_frame_status_str(WIRE_FRAME_INVALID), "invalid");
    ck_assert_str_eq(wire_frame_status_str((wire_frame_status)42), "unknown");
    ck_assert_str_eq(wire_frame_status_str((wire_frame_status)-1), "unknown");
}
END_TEST

static Suite *frame_suite(void)
{
    Suite *s = suite_create("wire_frame");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_parse_ok);
    tcase_add_test(tc, test_parse_followed_by_more);
    tcase_add_test(tc, test_every_prefix_incomplete);
    tcase_add_test(tc, test_empty_body);
    tcase_add_test(tc, test_length_below_4_invalid);
    tcase_add_test(tc, test_negative_length_invalid);
    tcase_add_test(tc, test_too_large_from_header);
    tcase_add_test(tc, test_garbage_never_overreads);
    tcase_add_test(tc, test_startup_ok);
    tcase_add_test(tc, test_startup_every_prefix_incomplete);
    tcase_add_test(tc, test_startup_bad_lengths);
    tcase_add_test(tc, test_status_str);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run(frame_suite());
}
