/*
 * Tests for wire/startup.c: the StartupMessage builder's exact bytes, and the
 * parser on every kind of startup packet: NORMAL (parameters, well-known
 * names, database defaulting to user, protocol 3.x), SSL, GSSENC, CANCEL
 * (including wrong sizes), unsupported versions, and malformed layouts
 * (missing user, missing terminator, odd strings, too many parameters,
 * truncation at every length, random garbage).
 */
#include <stdio.h>

#include "test_util.h"

/* body helpers: code + raw parameter bytes */
static size_t make_body(uint8_t *out, uint32_t code, const void *params, size_t plen)
{
    out[0] = (uint8_t)(code >> 24);
    out[1] = (uint8_t)(code >> 16);
    out[2] = (uint8_t)(code >> 8);
    out[3] = (uint8_t)code;
    memcpy(out + 4, params, plen);
    return 4 + plen;
}

/* Parses a body copied to an exactly-sized heap block (ASan catches over-reads). */
static wire_startup_kind parse_copy(const uint8_t *body, size_t len, wire_startup *st,
                                    uint8_t **keep)
{
    *keep = test_dup(body, len);
    return wire_startup_parse(*keep, len, st);
}

#define P(s) s, sizeof(s) - 1 /* string literal with its embedded NULs, without the final one */

START_TEST(test_put_startup_bytes)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_param params[] = {{"user", "alice"}, {"database", "db"}};
    wire_put_startup(&b, params, 2);
    /* 4 + 4 + "user\0" 5 + "alice\0" 6 + "database\0" 9 + "db\0" 3 + terminator 1 = 32 */
    static const uint8_t exp[] = {0,   0,   0,   32,  0,   3,   0,   0,   'u', 's', 'e',
                                  'r', 0,   'a', 'l', 'i', 'c', 'e', 0,   'd', 'a', 't',
                                  'a', 'b', 'a', 's', 'e', 0,   'd', 'b', 0,   0};
    ck_assert_buf_eq(&b, exp);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_put_startup_no_params)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_put_startup(&b, NULL, 0);
    static const uint8_t exp[] = {0, 0, 0, 9, 0, 3, 0, 0, 0};
    ck_assert_buf_eq(&b, exp);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_roundtrip_normal)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_param params[] = {{"user", "alice"},
                           {"database", "shop"},
                           {"application_name", "psql"},
                           {"options", "-c search_path=x"},
                           {"client_encoding", "UTF8"}};
    wire_put_startup(&b, params, 5);
    wire_frame f;
    ck_assert_int_eq(wire_startup_frame_parse(b.data, b.len, &f), WIRE_FRAME_OK);
    ck_assert_uint_eq(f.total_len, b.len);
    wire_startup st;
    ck_assert_int_eq(wire_startup_parse(f.body, f.body_len, &st), WIRE_STARTUP_NORMAL);
    ck_assert_int_eq(st.kind, WIRE_STARTUP_NORMAL);
    ck_assert_uint_eq(st.version, WIRE_PROTOCOL_3_0);
    ck_assert_str_eq(st.user, "alice");
    ck_assert_str_eq(st.database, "shop");
    ck_assert_str_eq(st.application_name, "psql");
    ck_assert_str_eq(st.options, "-c search_path=x");
    ck_assert_int_eq(st.nparams, 5);
    for (int i = 0; i < 5; i++) {
        ck_assert_str_eq(st.params[i].name, params[i].name);
        ck_assert_str_eq(st.params[i].value, params[i].value);
    }
    /* views into the input */
    ck_assert(st.user > (const char *)f.body && st.user < (const char *)f.body + f.body_len);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_database_defaults_to_user)
{
    uint8_t body[64], *keep;
    wire_startup st;
    size_t n = make_body(body, WIRE_PROTOCOL_3_0, P("user\0bob\0\0"));
    ck_assert_int_eq(parse_copy(body, n, &st, &keep), WIRE_STARTUP_NORMAL);
    ck_assert_str_eq(st.user, "bob");
    ck_assert_ptr_eq(st.database, st.user);
    ck_assert_ptr_null(st.application_name);
    ck_assert_ptr_null(st.options);
    ck_assert_int_eq(st.nparams, 1);
    free(keep);

    n = make_body(body, WIRE_PROTOCOL_3_0, P("database\0\0user\0bob\0\0"));
    ck_assert_int_eq(parse_copy(body, n, &st, &keep), WIRE_STARTUP_NORMAL);
    ck_assert_str_eq(st.database, "bob"); /* empty database, as absent */
    free(keep);
}
END_TEST

START_TEST(test_repeated_param_last_wins)
{
    uint8_t body[64], *keep;
    wire_startup st;
    size_t n = make_body(body, WIRE_PROTOCOL_3_0, P("user\0a\0user\0b\0\0"));
    ck_assert_int_eq(parse_copy(body, n, &st, &keep), WIRE_STARTUP_NORMAL);
    ck_assert_str_eq(st.user, "b");
    ck_assert_int_eq(st.nparams, 2);
    free(keep);
}
END_TEST

START_TEST(test_empty_value_allowed)
{
    uint8_t body[64], *keep;
    wire_startup st;
    size_t n = make_body(body, WIRE_PROTOCOL_3_0, P("user\0u\0application_name\0\0\0"));
    ck_assert_int_eq(parse_copy(body, n, &st, &keep), WIRE_STARTUP_NORMAL);
    ck_assert_str_eq(st.application_name, "");
    free(keep);
}
END_TEST

START_TEST(test_minor_version_accepted)
{
    uint8_t body[64], *keep;
    wire_startup st;
    size_t n = make_body(body, 0x00030002u, P("user\0u\0\0"));
    ck_assert_int_eq(parse_copy(body, n, &st, &keep), WIRE_STARTUP_NORMAL);
    ck_assert_uint_eq(st.version, 0x00030002u);
    free(keep);
}
END_TEST

START_TEST(test_ssl_gssenc)
{
    uint8_t body[16], *keep;
    wire_startup st;
    size_t n = make_body(body, WIRE_SSL_REQUEST_CODE, "", 0);
    ck_assert_int_eq(parse_copy(body, n, &st, &keep), WIRE_STARTUP_SSL);
    ck_assert_int_eq(st.kind, WIRE_STARTUP_SSL);
    ck_assert_uint_eq(st.version, WIRE_SSL_REQUEST_CODE);
    free(keep);
    n = make_body(body, WIRE_GSSENC_REQUEST_CODE, "", 0);
    ck_assert_int_eq(parse_copy(body, n, &st, &keep), WIRE_STARTUP_GSSENC);
    free(keep);
    /* trailing bytes after the code */
    n = make_body(body, WIRE_SSL_REQUEST_CODE, "\0\0\0\0", 4);
    ck_assert_int_eq(parse_copy(body, n, &st, &keep), WIRE_STARTUP_INVALID);
    ck_assert_str_eq(st.error, "invalid length of SSL request packet");
    free(keep);
    n = make_body(body, WIRE_GSSENC_REQUEST_CODE, "x", 1);
    ck_assert_int_eq(parse_copy(body, n, &st, &keep), WIRE_STARTUP_INVALID);
    free(keep);
}
END_TEST

START_TEST(test_ssl_request_bytes)
{
    /* exactly what libpq sends: length 8, code 1234.5679 */
    static const uint8_t pkt[] = {0, 0, 0, 8, 0x04, 0xD2, 0x16, 0x2F};
    wire_frame f;
    wire_startup st;
    ck_assert_int_eq(wire_startup_frame_parse(pkt, sizeof pkt, &f), WIRE_FRAME_OK);
    ck_assert_int_eq(wire_startup_parse(f.body, f.body_len, &st), WIRE_STARTUP_SSL);
}
END_TEST

START_TEST(test_cancel)
{
    static const uint8_t body[] = {0x04, 0xD2, 0x16, 0x2E, 0,    0,
                                   0x30, 0x39, 0xDE, 0xAD, 0xBE, 0xEF};
    uint8_t *keep;
    wire_startup st;
    ck_assert_int_eq(parse_copy(body, sizeof body, &st, &keep), WIRE_STARTUP_CANCEL);
    ck_assert_uint_eq(st.cancel_pid, 12345);
    ck_assert_uint_eq(st.cancel_key, 0xDEADBEEF);
    free(keep);
    for (size_t n = 4; n < sizeof body; n++) {
        ck_assert_int_eq(parse_copy(body, n, &st, &keep), WIRE_STARTUP_INVALID);
        ck_assert_str_eq(st.error, "invalid length of cancel request packet");
        free(keep);
    }
    uint8_t longer[16] = {0};
    memcpy(longer, body, sizeof body);
    ck_assert_int_eq(parse_copy(longer, sizeof longer, &st, &keep), WIRE_STARTUP_INVALID);
    free(keep);
}
END_TEST

START_TEST(test_bad_version)
{
    uint8_t body[64], *keep;
    wire_startup st;
    size_t n = make_body(body, 0x00020000u, P("user\0u\0\0"));
    ck_assert_int_eq(parse_copy(body, n, &st, &keep), WIRE_STARTUP_BAD_VERSION);
    ck_assert_int_eq(st.kind, WIRE_STARTUP_BAD_VERSION);
    ck_assert_str_eq(st.error, "unsupported frontend protocol 2.0: server supports 3.0 to 3.0");
    ck_assert_uint_eq(st.version, 0x00020000u);
    free(keep);
    n = make_body(body, 0x00040001u, "", 0);
    ck_assert_int_eq(parse_copy(body, n, &st, &keep), WIRE_STARTUP_BAD_VERSION);
    ck_assert_str_eq(st.error, "unsupported frontend protocol 4.1: server supports 3.0 to 3.0");
    free(keep);
    /* an unknown 1234.xxxx request code is just an unsupported version */
    n = make_body(body, 80877105u, "", 0);
    ck_assert_int_eq(parse_copy(body, n, &st, &keep), WIRE_STARTUP_BAD_VERSION);
    ck_assert_str_eq(st.error,
                     "unsupported frontend protocol 1234.5681: server supports 3.0 to 3.0");
    free(keep);
}
END_TEST

START_TEST(test_missing_user)
{
    static const char msg[] = "no PostgreSQL user name specified in startup packet";
    uint8_t body[64], *keep;
    wire_startup st;
    size_t n = make_body(body, WIRE_PROTOCOL_3_0, P("database\0d\0\0"));
    ck_assert_int_eq(parse_copy(body, n, &st, &keep), WIRE_STARTUP_INVALID);
    ck_assert_str_eq(st.error, msg);
    ck_assert_ptr_null(st.user);
    ck_assert_ptr_null(st.database);
    ck_assert_int_eq(st.nparams, 0);
    free(keep);
    n = make_body(body, WIRE_PROTOCOL_3_0, P("user\0\0\0"));
    ck_assert_int_eq(parse_copy(body, n, &st, &keep), WIRE_STARTUP_INVALID);
    ck_assert_str_eq(st.error, msg);
    free(keep);
    n = make_body(body, WIRE_PROTOCOL_3_0, P("\0"));
    ck_assert_int_eq(parse_copy(body, n, &st, &keep), WIRE_STARTUP_INVALID);
    ck_assert_str_eq(st.error, msg);
    free(keep);
}
END_TEST

START_TEST(test_bad_layout)
{
    static const char msg[] = "invalid startup packet layout: expected terminator as last byte";
    static const struct {
        const char *p;
        size_t n;
    } cases[] = {
        {P("")},                   /* nothing after the version */
        {P("user\0u\0")},          /* no terminator */
        {P("user\0u")},            /* value not terminated */
        {P("user")},               /* name not terminated */
        {P("user\0")},             /* name without value */
        {P("user\0\0")},           /* terminator taken as the value */
        {P("user\0u\0x\0\0")},     /* odd number of strings */
        {P("user\0u\0\0\0")},      /* bytes after the terminator */
        {P("user\0u\0\0garbage")}, /* bytes after the terminator */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t body[64], *keep;
        wire_startup st;
        size_t n = make_body(body, WIRE_PROTOCOL_3_0, cases[i].p, cases[i].n);
        ck_assert_msg(parse_copy(body, n, &st, &keep) == WIRE_STARTUP_INVALID, "case %zu", i);
        ck_assert_str_eq(st.error, msg);
        free(keep);
    }
}
END_TEST

START_TEST(test_too_many_params)
{
    wire_param params[WIRE_STARTUP_MAX_PARAMS + 1];
    char names[WIRE_STARTUP_MAX_PARAMS + 1][16];
    params[0].name = "user";
    params[0].value = "u";
    for (int i = 1; i <= WIRE_STARTUP_MAX_PARAMS; i++) {
        snprintf(names[i], sizeof names[i], "p%d", i);
        params[i].name = names[i];
        params[i].value = "v";
    }
    wire_buf b;
    wire_startup st;
    wire_buf_init(&b);
    wire_put_startup(&b, params, WIRE_STARTUP_MAX_PARAMS);
    ck_assert_int_eq(wire_startup_parse(b.data + 4, b.len - 4, &st), WIRE_STARTUP_NORMAL);
    ck_assert_int_eq(st.nparams, WIRE_STARTUP_MAX_PARAMS);
    ck_assert_str_eq(st.params[WIRE_STARTUP_MAX_PARAMS - 1].name, "p63");
    wire_buf_reset(&b);
    wire_put_startup(&b, params, WIRE_STARTUP_MAX_PARAMS + 1);
    ck_assert_int_eq(wire_startup_parse(b.data + 4, b.len - 4, &st), WIRE_STARTUP_INVALID);
    ck_assert_str_eq(st.error, "too many parameters in startup packet (max 64)");
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_name_length_limits)
{
    char name63[64], name64[65];
    memset(name63, 'a', 63);
    name63[63] = '\0';
    memset(name64, 'b', 64);
    name64[64] = '\0';
    wire_buf b;
    wire_startup st;
    wire_buf_init(&b);
    wire_param ok[] = {{"user", name63}, {"database", name63}};
    wire_put_startup(&b, ok, 2);
    ck_assert_int_eq(wire_startup_parse(b.data + 4, b.len - 4, &st), WIRE_STARTUP_NORMAL);
    wire_buf_reset(&b);
    wire_param longuser[] = {{"user", name64}};
    wire_put_startup(&b, longuser, 1);
    ck_assert_int_eq(wire_startup_parse(b.data + 4, b.len - 4, &st), WIRE_STARTUP_INVALID);
    ck_assert_str_eq(st.error, "user name too long (max 63 bytes)");
    wire_buf_reset(&b);
    wire_param longdb[] = {{"user", "u"}, {"database", name64}};
    wire_put_startup(&b, longdb, 2);
    /* a long database name parses: the server answers 3D000 for it */
    ck_assert_int_eq(wire_startup_parse(b.data + 4, b.len - 4, &st), WIRE_STARTUP_NORMAL);
    ck_assert_uint_eq(strlen(st.database), 64);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_short_body)
{
    static const uint8_t body[] = {0, 3, 0};
    for (size_t n = 0; n < sizeof body; n++) {
        uint8_t *keep;
        wire_startup st;
        ck_assert_int_eq(parse_copy(body, n, &st, &keep), WIRE_STARTUP_INVALID);
        ck_assert_str_eq(st.error, "invalid length of startup packet");
        free(keep);
    }
}
END_TEST

START_TEST(test_every_prefix_invalid)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_param params[] = {{"user", "alice"}, {"database", "db"}, {"options", ""}};
    wire_put_startup(&b, params, 3);
    const uint8_t *body = b.data + 4;
    size_t len = b.len - 4;
    for (size_t n = 0; n < len; n++) {
        uint8_t *keep;
        wire_startup st;
        ck_assert_msg(parse_copy(body, n, &st, &keep) == WIRE_STARTUP_INVALID, "prefix %zu", n);
        ck_assert(st.error[0] != '\0');
        free(keep);
    }
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_garbage)
{
    uint32_t seed = 777;
    for (int iter = 0; iter < 20000; iter++) {
        uint8_t raw[40];
        size_t n = test_rand(&seed) % sizeof raw;
        for (size_t i = 0; i < n; i++) {
            uint32_t r = test_rand(&seed);
            raw[i] = (r & 3) == 0 ? 0 : (uint8_t)(r >> 8); /* plenty of NULs */
        }
        if (n >= 4 && (test_rand(&seed) & 1)) {
            raw[0] = 0;
            raw[1] = 3;
            raw[2] = 0;
            raw[3] = 0;
        }
        uint8_t *keep;
        wire_startup st;
        wire_startup_kind k = parse_copy(raw, n, &st, &keep);
        ck_assert_int_eq(k, st.kind);
        if (k == WIRE_STARTUP_NORMAL) {
            ck_assert_ptr_nonnull(st.user);
            ck_assert_ptr_nonnull(st.database);
            ck_assert_int_le(st.nparams, WIRE_STARTUP_MAX_PARAMS);
            ck_assert_uint_eq(keep[n - 1], 0);
        } else if (k == WIRE_STARTUP_INVALID || k == WIRE_STARTUP_BAD_VERSION) {
            ck_assert(st.error[0] != '\0');
        }
        free(keep);
    }
}
END_TEST

START_TEST(test_kind_str)
{
    ck_assert_str_eq(wire_startup_kind_str(WIRE_STARTUP_NORMAL), "normal");
    ck_assert_str_eq(wire_startup_kind_str(WIRE_STARTUP_SSL), "ssl");
    ck_assert_str_eq(wire_startup_kind_str(WIRE_STARTUP_GSSENC), "gssenc");
    ck_assert_str_eq(wire_startup_kind_str(WIRE_STARTUP_CANCEL), "cancel");
    ck_assert_str_eq(wire_startup_kind_str(WIRE_STARTUP_BAD_VERSION), "bad version");
    ck_assert_str_eq(wire_startup_kind_str(WIRE_STARTUP_INVALID), "invalid");
    ck_assert_str_eq(wire_startup_kind_str((wire_startup_kind)99), "unknown");
}
END_TEST

static Suite *startup_suite(void)
{
    Suite *s = suite_create("wire_startup");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_put_startup_bytes);
    tcase_add_test(tc, test_put_startup_no_params);
    tcase_add_test(tc, test_roundtrip_normal);
    tcase_add_test(tc, test_database_defaults_to_user);
    tcase_add_test(tc, test_repeated_param_last_wins);
    tcase_add_test(tc, test_empty_value_allowed);
    tcase_add_test(tc, test_minor_version_accepted);
    tcase_add_test(tc, test_ssl_gssenc);
    tcase_add_test(tc, test_ssl_request_bytes);
    tcase_add_test(tc, test_cancel);
    tcase_add_test(tc, test_bad_version);
    tcase_add_test(tc, test_missing_user);
    tcase_add_test(tc, test_bad_layout);
    tcase_add_test(tc, test_too_many_params);
    tcase_add_test(tc, test_name_length_limits);
    tcase_add_test(tc, test_short_body);
    tcase_add_test(tc, test_every_prefix_invalid);
    tcase_add_test(tc, test_garbage);
    tcase_add_test(tc, test_kind_str);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run(startup_suite());
}
