/*
 * Shared helpers for the wire/ unit tests (not a test itself: the CMake glob
 * only picks up test_*.c).  Each test program includes it once.
 */
#ifndef DORMOUSE_TEST_WIRE_UTIL_H
#define DORMOUSE_TEST_WIRE_UTIL_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dormouse/wire.h"

/* The buffer holds exactly the bytes of the array `exp`. */
#define ck_assert_buf_eq(b, exp)                                                                   \
    do {                                                                                           \
        ck_assert_uint_eq((b)->len, sizeof(exp));                                                  \
        ck_assert(!(b)->oom);                                                                      \
        ck_assert_mem_eq((b)->data, (exp), sizeof(exp));                                           \
    } while (0)

/* The buffer holds exactly the characters of the string `s` (no NUL). */
#define ck_assert_buf_str(b, s)                                                                    \
    do {                                                                                           \
        ck_assert_uint_eq((b)->len, strlen(s));                                                    \
        ck_assert_mem_eq((b)->data, (s), strlen(s));                                               \
    } while (0)

/* A deterministic PRNG for garbage inputs (xorshift32). */
static inline uint32_t test_rand(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

/* Copies into an exactly-sized heap block so ASan catches any over-read. */
static inline uint8_t *test_dup(const void *p, size_t n)
{
    uint8_t *d = malloc(n ? n : 1);
    ck_assert_ptr_nonnull(d);
    if (n)
        memcpy(d, p, n);
    return d;
}

static inline int test_run(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
