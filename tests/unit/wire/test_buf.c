/*
 * Tests for wire/buf.c: growth, byte order, consume/reset, the sticky oom
 * flag, and message framing with wire_msg_begin/wire_msg_end.
 */
#include "test_util.h"
#include "wire_internal.h"

START_TEST(test_init_empty)
{
    wire_buf b;
    memset(&b, 0xAB, sizeof b);
    wire_buf_init(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(b.cap, 0);
    ck_assert(!b.oom);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_put_integers)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_buf_put_u8(&b, 0xFE);
    wire_buf_put_u16(&b, 0x1234);
    wire_buf_put_u32(&b, 0xDEADBEEF);
    wire_buf_put_u32(&b, 0);
    static const uint8_t exp[] = {0xFE, 0x12, 0x34, 0xDE, 0xAD, 0xBE, 0xEF, 0, 0, 0, 0};
    ck_assert_buf_eq(&b, exp);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_put_cstr)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_buf_put_cstr(&b, "ab");
    wire_buf_put_cstr(&b, "");
    wire_buf_put_cstr(&b, NULL);
    static const uint8_t exp[] = {'a', 'b', 0, 0, 0};
    ck_assert_buf_eq(&b, exp);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_append_grows)
{
    wire_buf b;
    wire_buf_init(&b);
    for (int i = 0; i < 10000; i++)
        wire_buf_put_u8(&b, (uint8_t)i);
    ck_assert_uint_eq(b.len, 10000);
    ck_assert_uint_ge(b.cap, 10000);
    for (int i = 0; i < 10000; i++)
        ck_assert_uint_eq(b.data[i], (uint8_t)i);
    wire_buf_append(&b, NULL, 0); /* zero bytes: no-op */
    ck_assert_uint_eq(b.len, 10000);
    ck_assert(!b.oom);
    wire_buf_free(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
}
END_TEST

START_TEST(test_consume)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_buf_append(&b, "abcdef", 6);
    wire_buf_consume(&b, 2);
    ck_assert_buf_str(&b, "cdef");
    wire_buf_consume(&b, 0);
    ck_assert_buf_str(&b, "cdef");
    wire_buf_consume(&b, 4);
    ck_assert_uint_eq(b.len, 0);
    wire_buf_append(&b, "xy", 2);
    wire_buf_consume(&b, 99); /* more than len: empties, never underflows */
    ck_assert_uint_eq(b.len, 0);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_reset_keeps_capacity)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_buf_append(&b, "hello", 5);
    size_t cap = b.cap;
    uint8_t *data = b.data;
    wire_buf_reset(&b);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(b.cap, cap);
    ck_assert_ptr_eq(b.data, data);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_reserve)
{
    wire_buf b;
    wire_buf_init(&b);
    ck_assert(wire_buf_reserve(&b, 1000));
    ck_assert_uint_ge(b.cap, 1000);
    ck_assert_uint_eq(b.len, 0);
    ck_assert(wire_buf_reserve(&b, 0));
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_oom_is_sticky)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_buf_append(&b, "ab", 2);
    ck_assert(!wire_buf_reserve(&b, SIZE_MAX)); /* overflows len + extra */
    ck_assert(b.oom);
    wire_buf_append(&b, "cd", 2);
    wire_buf_put_u32(&b, 7);
    ck_assert_uint_eq(b.len, 2);
    ck_assert(!wire_buf_reserve(&b, 1));
    size_t m = wire_msg_begin(&b, 'Z');
    wire_msg_end(&b, m); /* must not write anywhere */
    ck_assert_uint_eq(b.len, 2);
    /* reset discards the contents and makes the buffer usable again */
    wire_buf_reset(&b);
    ck_assert(!b.oom);
    wire_buf_append(&b, "ok", 2);
    ck_assert_buf_str(&b, "ok");
    wire_buf_free(&b);
    ck_assert(!b.oom);
}
END_TEST

START_TEST(test_msg_begin_end)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_buf_append(&b, "xx", 2); /* messages need not start at offset 0 */
    size_t m = wire_msg_begin(&b, 'C');
    ck_assert_uint_eq(m, 2);
    wire_buf_put_cstr(&b, "OK");
    wire_msg_end(&b, m);
    size_t m2 = wire_msg_begin(&b, 'I');
    wire_msg_end(&b, m2);
    static const uint8_t exp[] = {'x', 'x', 'C', 0, 0, 0, 7, 'O', 'K', 0, 'I', 0, 0, 0, 4};
    ck_assert_buf_eq(&b, exp);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_msg_end_bad_start)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_buf_append(&b, "abc", 3);
    wire_msg_end(&b, 1);   /* fewer than 5 bytes from start: ignored */
    wire_msg_end(&b, 100); /* beyond len: ignored */
    ck_assert_buf_str(&b, "abc");
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_patch_u32)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_buf_put_u32(&b, 0);
    wire_buf_put_u8(&b, 9);
    wire_buf_patch_u32(&b, 0, 0x01020304);
    wire_buf_patch_u32(&b, 2, 0xFFFFFFFF); /* would run past len: ignored */
    static const uint8_t exp[] = {1, 2, 3, 4, 9};
    ck_assert_buf_eq(&b, exp);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_free_then_reuse)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_buf_append(&b, "abc", 3);
    wire_buf_free(&b);
    wire_buf_free(&b); /* double free of an emptied buffer is harmless */
    wire_buf_init(&b);
    wire_buf_append(&b, "z", 1);
    ck_assert_buf_str(&b, "z");
    wire_buf_free(&b);
}
END_TEST

static Suite *buf_suite(void)
{
    Suite *s = suite_create("wire_buf");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_init_empty);
    tcase_add_test(tc, test_put_integers);
    tcase_add_test(tc, test_put_cstr);
    tcase_add_test(tc, test_append_grows);
    tcase_add_test(tc, test_consume);
    tcase_add_test(tc, test_reset_keeps_capacity);
    tcase_add_test(tc, test_reserve);
    tcase_add_test(tc, test_oom_is_sticky);
    tcase_add_test(tc, test_msg_begin_end);
    tcase_add_test(tc, test_msg_end_bad_start);
    tcase_add_test(tc, test_patch_u32);
    tcase_add_test(tc, test_free_then_reuse);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run(buf_suite());
}
