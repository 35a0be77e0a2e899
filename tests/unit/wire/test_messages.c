/*
 * Tests for wire/messages.c: the exact bytes of every backend builder, and the
 * frontend parsers (Query, PasswordMessage, SASLInitialResponse, SASLResponse,
 * ErrorResponse) on good bodies, missing and embedded NULs, bad lengths,
 * trailing bytes, wrong types and every truncation.
 */
#include "test_util.h"

static wire_frame frame_of(char type, const void *body, size_t len)
{
    wire_frame f;
    f.type = type;
    f.body = body;
    f.body_len = (uint32_t)len;
    f.total_len = len + 5;
    return f;
}

/* ---- builders ---- */

START_TEST(test_auth_messages)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_put_auth_ok(&b);
    wire_put_auth_cleartext(&b);
    static const uint8_t salt[4] = {0xA1, 0xB2, 0xC3, 0xD4};
    wire_put_auth_md5(&b, salt);
    static const uint8_t exp[] = {'R', 0, 0,   0, 8, 0, 0,  0, 0, 'R', 0, 0,    0,    8,    0,   0,
                                  0,   3, 'R', 0, 0, 0, 12, 0, 0, 0,   5, 0xA1, 0xB2, 0xC3, 0xD4};
    ck_assert_buf_eq(&b, exp);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_auth_sasl)
{
    wire_buf b;
    wire_buf_init(&b);
    const char *mechs[] = {"SCRAM-SHA-256"};
    wire_put_auth_sasl(&b, mechs, 1);
    static const uint8_t exp[] = {'R', 0,   0,   0,   23,  0,   0,   0,   10,  'S', 'C', 'R',
                                  'A', 'M', '-', 'S', 'H', 'A', '-', '2', '5', '6', 0,   0};
    ck_assert_buf_eq(&b, exp);
    wire_buf_reset(&b);
    wire_put_auth_sasl(&b, NULL, 0);
    static const uint8_t none[] = {'R', 0, 0, 0, 9, 0, 0, 0, 10, 0};
    ck_assert_buf_eq(&b, none);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_auth_sasl_continue_final)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_put_auth_sasl_continue(&b, "r=ab", 4);
    wire_put_auth_sasl_final(&b, "v=x", 3);
    static const uint8_t exp[] = {'R', 0, 0, 0, 12, 0, 0, 0, 11, 'r', '=', 'a', 'b',
                                  'R', 0, 0, 0, 11, 0, 0, 0, 12, 'v', '=', 'x'};
    ck_assert_buf_eq(&b, exp);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_simple_backend_messages)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_put_parameter_status(&b, "a", "bc");
    wire_put_backend_key(&b, 0x01020304, 0xFFFEFDFC);
    wire_put_ready(&b, 'I');
    wire_put_command_complete(&b, "SELECT 1");
    wire_put_empty_query(&b);
    wire_put_no_data(&b);
    static const uint8_t exp[] = {
        'S', 0, 0, 0, 9,  'a', 0,   'b', 'c', 0,                         /* ParameterStatus */
        'K', 0, 0, 0, 12, 1,   2,   3,   4,   0xFF, 0xFE, 0xFD, 0xFC,    /* BackendKeyData */
        'Z', 0, 0, 0, 5,  'I',                                           /* ReadyForQuery */
        'C', 0, 0, 0, 13, 'S', 'E', 'L', 'E', 'C',  'T',  ' ',  '1',  0, /* CommandComplete */
        'I', 0, 0, 0, 4,                                                 /* EmptyQuery */
        'n', 0, 0, 0, 4,                                                 /* NoData */
    };
    ck_assert_buf_eq(&b, exp);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_ready_statuses)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_put_ready(&b, 'T');
    wire_put_ready(&b, 'E');
    static const uint8_t exp[] = {'Z', 0, 0, 0, 5, 'T', 'Z', 0, 0, 0, 5, 'E'};
    ck_assert_buf_eq(&b, exp);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_error_full)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_error e = {.severity = "ERROR",
                    .sqlstate = "42601",
                    .message = "m",
                    .detail = "d",
                    .hint = "h",
                    .position = 42};
    wire_put_error(&b, &e);
    static const uint8_t exp[] = {'E', 0,   0,   0,   39,  'S', 'E', 'R', 'R', 'O',
                                  'R', 0,   'V', 'E', 'R', 'R', 'O', 'R', 0,   'C',
                                  '4', '2', '6', '0', '1', 0,   'M', 'm', 0,   'D',
                                  'd', 0,   'H', 'h', 0,   'P', '4', '2', 0,   0};
    /* 4 + 7 + 7 + 7 + 3 + 3 + 3 + 4 + 1 = 39 */
    ck_assert_buf_eq(&b, exp);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_notice_minimal)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_error e = {.severity = "NOTICE", .sqlstate = "00000", .message = "hi"};
    wire_put_notice(&b, &e);
    static const uint8_t exp[] = {'N', 0,   0,   0,   32,  'S', 'N', 'O', 'T', 'I', 'C',
                                  'E', 0,   'V', 'N', 'O', 'T', 'I', 'C', 'E', 0,   'C',
                                  '0', '0', '0', '0', '0', 0,   'M', 'h', 'i', 0,   0};
    /* 4 + 8 + 8 + 7 + 4 + 1 = 32 */
    ck_assert_buf_eq(&b, exp);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_error_roundtrip)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_error e = {.severity = "FATAL",
                    .sqlstate = WIRE_SQLSTATE_INVALID_PASSWORD,
                    .message = "password authentication failed for user \"x\"",
                    .detail = "dd",
                    .hint = "hh",
                    .position = 7};
    wire_put_error(&b, &e);
    wire_frame f;
    ck_assert_int_eq(wire_frame_parse(b.data, b.len, 1024, &f), WIRE_FRAME_OK);
    wire_error out;
    ck_assert(wire_error_parse(&f, &out));
    ck_assert_str_eq(out.severity, "FATAL");
    ck_assert_str_eq(out.sqlstate, "28P01");
    ck_assert_str_eq(out.message, e.message);
    ck_assert_str_eq(out.detail, "dd");
    ck_assert_str_eq(out.hint, "hh");
    ck_assert_int_eq(out.position, 7);
    /* every truncation of the body is rejected */
    for (size_t n = 0; n < f.body_len; n++) {
        uint8_t *p = test_dup(f.body, n);
        wire_frame g = frame_of('E', p, n);
        ck_assert_msg(!wire_error_parse(&g, &out), "prefix %zu", n);
        free(p);
    }
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_error_parse_edge_cases)
{
    wire_error out;
    /* V (non-localized) wins over S; unknown fields are skipped */
    static const char b1[] = "SFEHLER\0VERROR\0Xwhatever\0Mm\0";
    wire_frame f = frame_of('N', b1, sizeof b1);
    ck_assert(wire_error_parse(&f, &out));
    ck_assert_str_eq(out.severity, "ERROR");
    ck_assert_str_eq(out.message, "m");
    ck_assert_ptr_null(out.sqlstate);
    ck_assert_int_eq(out.position, 0);
    /* just the terminator */
    f = frame_of('E', "", 1);
    ck_assert(wire_error_parse(&f, &out));
    ck_assert_ptr_null(out.severity);
    /* wrong type */
    f = frame_of('Q', b1, sizeof b1);
    ck_assert(!wire_error_parse(&f, &out));
    /* bytes after the terminator */
    static const char b2[] = "Mm\0\0x";
    f = frame_of('E', b2, sizeof b2 - 1);
    ck_assert(!wire_error_parse(&f, &out));
    /* bad positions */
    static const char *badpos[] = {"P\0\0", "P0\0\0", "P-1\0\0", "P1x\0\0", "P99999999999\0\0"};
    for (size_t i = 0; i < sizeof badpos / sizeof badpos[0]; i++) {
        size_t n = 2 + strlen(badpos[i] + 1) + 1;
        f = frame_of('E', badpos[i], n);
        ck_assert_msg(!wire_error_parse(&f, &out), "%zu", i);
    }
    /* empty body */
    f = frame_of('E', NULL, 0);
    ck_assert(!wire_error_parse(&f, &out));
}
END_TEST

START_TEST(test_row_description)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_column cols[] = {
        {.name = "id",
         .table_oid = 0x10,
         .column = 1,
         .type_oid = WIRE_OID_INT4,
         .type_len = 4,
         .type_mod = -1,
         .format = 0},
        {.name = "t", .type_oid = WIRE_OID_TEXT, .type_len = -1, .type_mod = -1, .format = 1},
    };
    wire_put_row_description(&b, cols, 2);
    static const uint8_t exp[] = {
        'T', 0, 0, 0,  47, 0, 2,    'i',  'd',  0,    0,    0,    0,    0x10, 0, 1,
        0,   0, 0, 23, 0,  4, 0xFF, 0xFF, 0xFF, 0xFF, 0,    0,    't',  0,    0, 0,
        0,   0, 0, 0,  0,  0, 0,    25,   0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0, 1,
    };
    /* 4 + 2 + (3 + 18) + (2 + 18) = 47 */
    ck_assert_buf_eq(&b, exp);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_row_description_bad_count)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_put_row_description(&b, NULL, 0);
    static const uint8_t empty[] = {'T', 0, 0, 0, 6, 0, 0};
    ck_assert_buf_eq(&b, empty);
    wire_put_row_description(&b, NULL, 70000);
    ck_assert(b.oom);
    ck_assert_uint_eq(b.len, sizeof empty);
    wire_buf_reset(&b);
    wire_put_row_description(&b, NULL, -1);
    ck_assert(b.oom);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_data_row)
{
    wire_buf b;
    wire_buf_init(&b);
    size_t m = wire_data_row_begin(&b, 4);
    wire_data_row_field(&b, "42", 2);
    wire_data_row_field(&b, NULL, -1);
    wire_data_row_field(&b, "", 0);
    wire_data_row_field(&b, "x", -5); /* any negative: NULL */
    wire_msg_end(&b, m);
    static const uint8_t exp[] = {'D',  0,    0,    0,    24, 0, 4, 0, 0,    0,    2,    '4', '2',
                                  0xFF, 0xFF, 0xFF, 0xFF, 0,  0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF};
    /* 4 + 2 + 6 + 4 + 4 + 4 = 24 */
    ck_assert_buf_eq(&b, exp);
    wire_buf_free(&b);
}
END_TEST

/* ---- frontend parsers ---- */

START_TEST(test_query_parse)
{
    static const uint8_t msg[] = {'Q', 0, 0, 0, 13, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1', 0};
    wire_frame f;
    ck_assert_int_eq(wire_frame_parse(msg, sizeof msg, 1024, &f), WIRE_FRAME_OK);
    const char *sql = NULL;
    size_t n = 0;
    ck_assert(wire_query_parse(&f, &sql, &n));
    ck_assert_str_eq(sql, "SELECT 1");
    ck_assert_uint_eq(n, 8);
    ck_assert_ptr_eq(sql, (const char *)msg + 5);

    f = frame_of('Q', "", 1); /* empty query string */
    ck_assert(wire_query_parse(&f, &sql, &n));
    ck_assert_uint_eq(n, 0);

    f = frame_of('Q', "SELECT 1", 8); /* missing NUL */
    ck_assert(!wire_query_parse(&f, &sql, &n));
    f = frame_of('Q', "SELECT\0 1", 10); /* embedded NUL */
    ck_assert(!wire_query_parse(&f, &sql, &n));
    f = frame_of('Q', "x\0\0", 3); /* trailing byte after the string */
    ck_assert(!wire_query_parse(&f, &sql, &n));
    f = frame_of('Q', NULL, 0); /* empty body */
    ck_assert(!wire_query_parse(&f, &sql, &n));
    f = frame_of('P', "x", 2); /* not a Query */
    ck_assert(!wire_query_parse(&f, &sql, &n));
}
END_TEST

START_TEST(test_password_parse)
{
    const char *pw = NULL;
    wire_frame f = frame_of('p', "secret", 7);
    ck_assert(wire_password_parse(&f, &pw));
    ck_assert_str_eq(pw, "secret");
    f = frame_of('p', "secret", 6);
    ck_assert(!wire_password_parse(&f, &pw));
    f = frame_of('p', "se\0cret", 8);
    ck_assert(!wire_password_parse(&f, &pw));
    f = frame_of('p', NULL, 0);
    ck_assert(!wire_password_parse(&f, &pw));
    f = frame_of('Q', "secret", 7);
    ck_assert(!wire_password_parse(&f, &pw));
}
END_TEST

static const uint8_t sasl_initial[] = {'S', 'C', 'R', 'A', 'M', '-', 'S', 'H', 'A', '-', '2', '5',
                                       '6', 0,   0,   0,   0,   5,   'n', ',', ',', 'x', 'y'};

START_TEST(test_sasl_initial_parse)
{
    const char *mech = NULL;
    const uint8_t *data = NULL;
    size_t dlen = 99;
    wire_frame f = frame_of('p', sasl_initial, sizeof sasl_initial);
    ck_assert(wire_sasl_initial_parse(&f, &mech, &data, &dlen));
    ck_assert_str_eq(mech, "SCRAM-SHA-256");
    ck_assert_uint_eq(dlen, 5);
    ck_assert_ptr_eq(data, sasl_initial + 18);

    /* -1: no initial response */
    static const uint8_t none[] = {'M', 0, 0xFF, 0xFF, 0xFF, 0xFF};
    f = frame_of('p', none, sizeof none);
    ck_assert(wire_sasl_initial_parse(&f, &mech, &data, &dlen));
    ck_assert_ptr_null(data);
    ck_assert_uint_eq(dlen, 0);
    /* zero-length response */
    static const uint8_t zero[] = {'M', 0, 0, 0, 0, 0};
    f = frame_of('p', zero, sizeof zero);
    ck_assert(wire_sasl_initial_parse(&f, &mech, &data, &dlen));
    ck_assert_uint_eq(dlen, 0);
}
END_TEST

START_TEST(test_sasl_initial_bad)
{
    const char *mech;
    const uint8_t *data;
    size_t dlen;
    static const struct {
        const uint8_t *p;
        size_t n;
    } bad[] = {
        {(const uint8_t *)"\x4d\x00\xff\xff\xff\xff\x00", 7}, /* -1 followed by data */
        {(const uint8_t *)"\x4d\x00\xff\xff\xff\xfe", 6},     /* -2 */
        {(const uint8_t *)"\x4d\x00\x80\x00\x00\x00", 6},     /* INT32_MIN */
        {(const uint8_t *)"\x4d\x00\x00\x00\x00\x03xy", 8},   /* longer than the body */
        {(const uint8_t *)"\x4d\x00\x00\x00\x00\x01xy", 8},   /* trailing bytes */
        {(const uint8_t *)"\x4d\x00\x7f\xff\xff\xff", 6},     /* huge */
        {(const uint8_t *)"\x00\x00\x00\x00\x00", 5},         /* empty mechanism name */
        {(const uint8_t *)"SCRAM", 5},                        /* mechanism not terminated */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t *p = test_dup(bad[i].p, bad[i].n);
        wire_frame f = frame_of('p', p, bad[i].n);
        ck_assert_msg(!wire_sasl_initial_parse(&f, &mech, &data, &dlen), "case %zu", i);
        free(p);
    }
    /* every truncation of a good message */
    for (size_t n = 0; n < sizeof sasl_initial; n++) {
        uint8_t *p = test_dup(sasl_initial, n);
        wire_frame f = frame_of('p', p, n);
        ck_assert_msg(!wire_sasl_initial_parse(&f, &mech, &data, &dlen), "prefix %zu", n);
        free(p);
    }
    wire_frame f = frame_of('Q', sasl_initial, sizeof sasl_initial);
    ck_assert(!wire_sasl_initial_parse(&f, &mech, &data, &dlen));
}
END_TEST

START_TEST(test_sasl_response_parse)
{
    const uint8_t *data;
    size_t dlen;
    wire_frame f = frame_of('p', "c=biws", 6);
    ck_assert(wire_sasl_response_parse(&f, &data, &dlen));
    ck_assert_uint_eq(dlen, 6);
    ck_assert_mem_eq(data, "c=biws", 6);
    f = frame_of('p', NULL, 0);
    ck_assert(wire_sasl_response_parse(&f, &data, &dlen));
    ck_assert_uint_eq(dlen, 0);
    f = frame_of('Q', "c=biws", 6);
    ck_assert(!wire_sasl_response_parse(&f, &data, &dlen));
}
END_TEST

START_TEST(test_stream_of_messages)
{
    /* several builders back to back, framed one by one */
    wire_buf b;
    wire_buf_init(&b);
    wire_put_auth_ok(&b);
    wire_put_parameter_status(&b, "server_version", "15.0");
    wire_put_backend_key(&b, 1, 2);
    wire_put_ready(&b, 'I');
    const char expect[] = {'R', 'S', 'K', 'Z'};
    size_t off = 0;
    for (size_t i = 0; i < sizeof expect; i++) {
        wire_frame f;
        ck_assert_int_eq(wire_frame_parse(b.data + off, b.len - off, 1024, &f), WIRE_FRAME_OK);
        ck_assert_int_eq(f.type, expect[i]);
        off += f.total_len;
    }
    ck_assert_uint_eq(off, b.len);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_copy_builders)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_put_copy_in_response(&b, 2);
    wire_put_copy_out_response(&b, 0);
    wire_put_copy_data(&b, "1\tx\n", 4);
    wire_put_copy_done(&b);
    wire_put_copy_fail(&b, "no");
    static const uint8_t exp[] = {'G', 0, 0, 0, 11, 0, 0, 2, 0, 0, 0, 0,
                                  'H', 0, 0, 0, 7,  0, 0, 0,
                                  'd', 0, 0, 0, 8,  '1', '\t', 'x', '\n',
                                  'c', 0, 0, 0, 4,
                                  'f', 0, 0, 0, 7,  'n', 'o', 0};
    ck_assert_buf_eq(&b, exp);
    ck_assert(!b.oom);
    wire_put_copy_in_response(&b, 40000); /* more columns than an int16 */
    ck_assert(b.oom);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_copy_parsers)
{
    const char *m = NULL;
    wire_frame f = frame_of('f', "why\0", 4);
    ck_assert(wire_copy_fail_parse(&f, &m));
    ck_assert_str_eq(m, "why");
    f = frame_of('f', "", 0);
    ck_assert(!wire_copy_fail_parse(&f, &m)); /* no string */
    f = frame_of('f', "a\0b\0", 4);
    ck_assert(!wire_copy_fail_parse(&f, &m)); /* two strings */
    f = frame_of('f', "abc", 3);
    ck_assert(!wire_copy_fail_parse(&f, &m)); /* unterminated */
    f = frame_of('d', "why\0", 4);
    ck_assert(!wire_copy_fail_parse(&f, &m)); /* wrong type */
    f = frame_of('c', "", 0);
    ck_assert(wire_copy_done_parse(&f));
    f = frame_of('c', "x", 1);
    ck_assert(!wire_copy_done_parse(&f));
    f = frame_of('d', "", 0);
    ck_assert(!wire_copy_done_parse(&f));
}
END_TEST

START_TEST(test_error_context)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_error e = {.severity = "ERROR", .sqlstate = "22P04", .message = "m",
                    .context = "COPY t, line 2"};
    wire_put_error(&b, &e);
    wire_frame f;
    ck_assert_int_eq(wire_frame_parse(b.data, b.len, 1024, &f), WIRE_FRAME_OK);
    wire_error back;
    ck_assert(wire_error_parse(&f, &back));
    ck_assert_str_eq(back.context, "COPY t, line 2");
    ck_assert_str_eq(back.message, "m");
    wire_buf_free(&b);
}
END_TEST

static Suite *messages_suite(void)
{
    Suite *s = suite_create("wire_messages");
    TCase *tc = tcase_create("builders");
    tcase_add_test(tc, test_auth_messages);
    tcase_add_test(tc, test_auth_sasl);
    tcase_add_test(tc, test_auth_sasl_continue_final);
    tcase_add_test(tc, test_simple_backend_messages);
    tcase_add_test(tc, test_ready_statuses);
    tcase_add_test(tc, test_error_full);
    tcase_add_test(tc, test_notice_minimal);
    tcase_add_test(tc, test_error_roundtrip);
    tcase_add_test(tc, test_error_parse_edge_cases);
    tcase_add_test(tc, test_row_description);
    tcase_add_test(tc, test_row_description_bad_count);
    tcase_add_test(tc, test_data_row);
    tcase_add_test(tc, test_stream_of_messages);
    tcase_add_test(tc, test_copy_builders);
    tcase_add_test(tc, test_error_context);
    suite_add_tcase(s, tc);
    TCase *tp = tcase_create("parsers");
    tcase_add_test(tp, test_query_parse);
    tcase_add_test(tp, test_password_parse);
    tcase_add_test(tp, test_sasl_initial_parse);
    tcase_add_test(tp, test_sasl_initial_bad);
    tcase_add_test(tp, test_sasl_response_parse);
    tcase_add_test(tp, test_copy_parsers);
    suite_add_tcase(s, tp);
    return s;
}

int main(void)
{
    return test_run(messages_suite());
}
