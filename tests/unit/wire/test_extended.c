/*
 * Tests for wire/extended.c: the exact bytes of the extended-protocol
 * builders (frontend and backend), round trips through the parsers, and the
 * parsers on every truncation, bad counts, bad lengths, missing NULs,
 * trailing bytes and wrong types.
 */
#include "test_util.h"

/* Frames the single message in b (which must hold exactly one). */
static wire_frame frame_buf(const wire_buf *b)
{
    wire_frame f;
    ck_assert_int_eq(wire_frame_parse(b->data, b->len, 1u << 20, &f), WIRE_FRAME_OK);
    ck_assert_uint_eq(f.total_len, b->len);
    return f;
}

static wire_frame frame_of(char type, const void *body, size_t len)
{
    wire_frame f;
    f.type = type;
    f.body = body;
    f.body_len = (uint32_t)len;
    f.total_len = len + 5;
    return f;
}

typedef bool (*body_parser)(const wire_frame *f, void *out);

static bool parse_p(const wire_frame *f, void *out)
{
    return wire_parse_parse(f, out);
}

static bool parse_b(const wire_frame *f, void *out)
{
    return wire_bind_parse(f, out);
}

static bool parse_d(const wire_frame *f, void *out)
{
    return wire_describe_parse(f, out);
}

static bool parse_c(const wire_frame *f, void *out)
{
    return wire_close_parse(f, out);
}

static bool parse_e(const wire_frame *f, void *out)
{
    return wire_execute_parse(f, out);
}

/* Every strict prefix of the body, and the body plus a trailing byte, are
 * rejected; copies are exactly sized so ASan catches over-reads. */
static void check_truncations(const wire_frame *f, body_parser parse)
{
    union {
        wire_parse_msg p;
        wire_bind_msg b;
        wire_target_msg t;
        wire_execute_msg e;
    } out;
    for (size_t n = 0; n < f->body_len; n++) {
        uint8_t *p = test_dup(f->body, n);
        wire_frame g = frame_of(f->type, n ? p : NULL, n);
        ck_assert_msg(!parse(&g, &out), "prefix %zu accepted", n);
        free(p);
    }
    uint8_t *p = malloc(f->body_len + 1);
    memcpy(p, f->body, f->body_len);
    p[f->body_len] = 0;
    wire_frame g = frame_of(f->type, p, f->body_len + 1);
    ck_assert_msg(!parse(&g, &out), "trailing byte accepted");
    g = frame_of('Q', f->body, f->body_len);
    ck_assert_msg(!parse(&g, &out), "wrong type accepted");
    free(p);
}

START_TEST(test_parse_bytes_and_roundtrip)
{
    wire_buf b;
    wire_buf_init(&b);
    static const uint32_t types[] = {23, 0};
    wire_put_parse(&b, "s1", "select $1", types, 2);
    static const uint8_t exp[] = {'P', 0,   0,   0, 27, 's', '1', 0, 's', 'e', 'l', 'e', 'c', 't',
                                  ' ', '$', '1', 0, 0,  2,   0,   0, 0,   23,  0,   0,   0,   0};
    ck_assert_buf_eq(&b, exp);
    wire_frame f = frame_buf(&b);
    wire_parse_msg m;
    ck_assert(wire_parse_parse(&f, &m));
    ck_assert_str_eq(m.name, "s1");
    ck_assert_str_eq(m.query, "select $1");
    ck_assert_uint_eq(m.query_len, 9);
    ck_assert_uint_eq(m.ntypes, 2);
    ck_assert_uint_eq(wire_parse_param_type(&m, 0), 23);
    ck_assert_uint_eq(wire_parse_param_type(&m, 1), 0);
    ck_assert_uint_eq(wire_parse_param_type(&m, 2), 0); /* out of range: unspecified */
    check_truncations(&f, parse_p);

    /* unnamed, no types */
    wire_buf_reset(&b);
    wire_put_parse(&b, "", "", NULL, 0);
    static const uint8_t exp2[] = {'P', 0, 0, 0, 8, 0, 0, 0, 0};
    ck_assert_buf_eq(&b, exp2);
    f = frame_buf(&b);
    ck_assert(wire_parse_parse(&f, &m));
    ck_assert_str_eq(m.name, "");
    ck_assert_str_eq(m.query, "");
    ck_assert_uint_eq(m.ntypes, 0);
    check_truncations(&f, parse_p);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_parse_bad_counts)
{
    wire_parse_msg m;
    /* count says 2 types, 1 present */
    static const uint8_t b1[] = {0, 'x', 0, 0, 2, 0, 0, 0, 23};
    wire_frame f = frame_of('P', b1, sizeof b1);
    ck_assert(!wire_parse_parse(&f, &m));
    /* count 0xFFFF with no data */
    static const uint8_t b2[] = {0, 'x', 0, 0xFF, 0xFF};
    f = frame_of('P', b2, sizeof b2);
    ck_assert(!wire_parse_parse(&f, &m));
    /* count 0 but a type follows */
    static const uint8_t b3[] = {0, 'x', 0, 0, 0, 0, 0, 0, 23};
    f = frame_of('P', b3, sizeof b3);
    ck_assert(!wire_parse_parse(&f, &m));
    /* no NUL after the query */
    static const uint8_t b4[] = {0, 'x', 'y'};
    f = frame_of('P', b4, sizeof b4);
    ck_assert(!wire_parse_parse(&f, &m));
    /* empty body */
    f = frame_of('P', NULL, 0);
    ck_assert(!wire_parse_parse(&f, &m));
}
END_TEST

START_TEST(test_bind_bytes_and_roundtrip)
{
    wire_buf b;
    wire_buf_init(&b);
    static const int16_t formats[] = {1};
    static const int16_t results[] = {0, 1};
    wire_value params[3] = {{(const uint8_t *)"\0\0\0\7", 4}, {NULL, -1}, {(const uint8_t *)"", 0}};
    wire_put_bind(&b, "p", "s", formats, 1, params, 3, results, 2);
    static const uint8_t exp[] = {
        'B',  0,    0,    0,    36,          /* header */
        'p',  0,    's',  0,                 /* portal, statement */
        0,    1,    0,    1,                 /* 1 format: binary */
        0,    3,                             /* 3 params */
        0,    0,    0,    4,    0,  0, 0, 7, /* int4 7 */
        0xFF, 0xFF, 0xFF, 0xFF,              /* NULL */
        0,    0,    0,    0,                 /* empty */
        0,    2,    0,    0,    0,  1,       /* 2 result formats */
    };
    ck_assert_buf_eq(&b, exp);
    wire_frame f = frame_buf(&b);
    wire_bind_msg m;
    ck_assert(wire_bind_parse(&f, &m));
    ck_assert_str_eq(m.portal, "p");
    ck_assert_str_eq(m.statement, "s");
    ck_assert_uint_eq(m.nformats, 1);
    ck_assert_uint_eq(m.nparams, 3);
    ck_assert_uint_eq(m.nresults, 2);
    wire_value v[3];
    wire_bind_values(&m, v);
    ck_assert_int_eq(v[0].len, 4);
    ck_assert_mem_eq(v[0].data, "\0\0\0\7", 4);
    ck_assert_int_eq(v[1].len, -1);
    ck_assert_ptr_null(v[1].data);
    ck_assert_int_eq(v[2].len, 0);
    ck_assert_ptr_nonnull(v[2].data);
    /* one format applies to all; per column otherwise */
    ck_assert_int_eq(wire_format_code(m.formats, m.nformats, 0), 1);
    ck_assert_int_eq(wire_format_code(m.formats, m.nformats, 2), 1);
    ck_assert_int_eq(wire_format_code(m.results, m.nresults, 0), 0);
    ck_assert_int_eq(wire_format_code(m.results, m.nresults, 1), 1);
    ck_assert_int_eq(wire_format_code(m.results, m.nresults, 2), -1);
    ck_assert_int_eq(wire_format_code(NULL, 0, 5), 0);
    check_truncations(&f, parse_b);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_bind_bad)
{
    wire_bind_msg m;
    /* a parameter longer than what remains */
    static const uint8_t b1[] = {0, 0, 0, 0, 0, 1, 0, 0, 0, 5, 'a', 0, 0};
    wire_frame f = frame_of('B', b1, sizeof b1);
    ck_assert(!wire_bind_parse(&f, &m));
    /* a negative length other than -1 */
    static const uint8_t b2[] = {0, 0, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFE, 0, 0};
    f = frame_of('B', b2, sizeof b2);
    ck_assert(!wire_bind_parse(&f, &m));
    /* INT32_MAX + 1 */
    static const uint8_t b3[] = {0, 0, 0, 0, 0, 1, 0x80, 0, 0, 0, 0, 0};
    f = frame_of('B', b3, sizeof b3);
    ck_assert(!wire_bind_parse(&f, &m));
    /* more params announced than present */
    static const uint8_t b4[] = {0, 0, 0, 0, 0, 2, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0};
    f = frame_of('B', b4, sizeof b4);
    ck_assert(!wire_bind_parse(&f, &m));
    /* format count beyond the body */
    static const uint8_t b5[] = {0, 0, 0xFF, 0xFF, 0, 0, 0, 0};
    f = frame_of('B', b5, sizeof b5);
    ck_assert(!wire_bind_parse(&f, &m));
    /* result count beyond the body */
    static const uint8_t b6[] = {0, 0, 0, 0, 0, 0, 0, 1};
    f = frame_of('B', b6, sizeof b6);
    ck_assert(!wire_bind_parse(&f, &m));
    /* the minimal valid Bind */
    static const uint8_t ok[] = {0, 0, 0, 0, 0, 0, 0, 0};
    f = frame_of('B', ok, sizeof ok);
    ck_assert(wire_bind_parse(&f, &m));
    ck_assert_uint_eq(m.nparams, 0);
    ck_assert_uint_eq(m.params_len, 0);
}
END_TEST

START_TEST(test_bind_many_params)
{
    /* 65535 NULL parameters: the largest count the protocol carries */
    wire_buf b;
    wire_buf_init(&b);
    wire_value *v = calloc(65535, sizeof(*v));
    for (int i = 0; i < 65535; i++)
        v[i].len = -1;
    wire_put_bind(&b, "", "", NULL, 0, v, 65535, NULL, 0);
    ck_assert(!b.oom);
    wire_frame f = frame_buf(&b);
    wire_bind_msg m;
    ck_assert(wire_bind_parse(&f, &m));
    ck_assert_uint_eq(m.nparams, 65535);
    wire_bind_values(&m, v);
    ck_assert_int_eq(v[65534].len, -1);
    /* one more does not fit */
    wire_buf_reset(&b);
    wire_put_bind(&b, "", "", NULL, 0, v, 65536, NULL, 0);
    ck_assert(b.oom);
    free(v);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_describe_close_execute)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_put_describe(&b, 'S', "ab");
    static const uint8_t d[] = {'D', 0, 0, 0, 8, 'S', 'a', 'b', 0};
    ck_assert_buf_eq(&b, d);
    wire_frame f = frame_buf(&b);
    wire_target_msg t;
    ck_assert(wire_describe_parse(&f, &t));
    ck_assert_int_eq(t.kind, 'S');
    ck_assert_str_eq(t.name, "ab");
    ck_assert(!wire_close_parse(&f, &t));
    check_truncations(&f, parse_d);

    wire_buf_reset(&b);
    wire_put_close(&b, 'P', "");
    static const uint8_t c[] = {'C', 0, 0, 0, 6, 'P', 0};
    ck_assert_buf_eq(&b, c);
    f = frame_buf(&b);
    ck_assert(wire_close_parse(&f, &t));
    ck_assert_int_eq(t.kind, 'P');
    ck_assert_str_eq(t.name, "");
    check_truncations(&f, parse_c);

    /* kinds other than S and P */
    static const uint8_t bad[] = {'X', 0};
    f = frame_of('D', bad, sizeof bad);
    ck_assert(!wire_describe_parse(&f, &t));

    wire_buf_reset(&b);
    wire_put_execute(&b, "p", 10);
    static const uint8_t e[] = {'E', 0, 0, 0, 10, 'p', 0, 0, 0, 0, 10};
    ck_assert_buf_eq(&b, e);
    f = frame_buf(&b);
    wire_execute_msg x;
    ck_assert(wire_execute_parse(&f, &x));
    ck_assert_str_eq(x.portal, "p");
    ck_assert_int_eq(x.max_rows, 10);
    check_truncations(&f, parse_e);
    wire_buf_reset(&b);
    wire_put_execute(&b, "", -1);
    f = frame_buf(&b);
    ck_assert(wire_execute_parse(&f, &x));
    ck_assert_int_eq(x.max_rows, -1);
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_sync_flush)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_put_sync(&b);
    wire_put_flush(&b);
    static const uint8_t exp[] = {'S', 0, 0, 0, 4, 'H', 0, 0, 0, 4};
    ck_assert_buf_eq(&b, exp);
    wire_frame f = frame_of('S', NULL, 0);
    ck_assert(wire_sync_parse(&f));
    ck_assert(!wire_flush_parse(&f));
    f = frame_of('H', NULL, 0);
    ck_assert(wire_flush_parse(&f));
    f = frame_of('S', "x", 1);
    ck_assert(!wire_sync_parse(&f));
    wire_buf_free(&b);
}
END_TEST

START_TEST(test_backend_messages)
{
    wire_buf b;
    wire_buf_init(&b);
    wire_put_parse_complete(&b);
    wire_put_bind_complete(&b);
    wire_put_close_complete(&b);
    wire_put_portal_suspended(&b);
    static const uint32_t oids[] = {23, 25};
    wire_put_parameter_description(&b, oids, 2);
    wire_put_parameter_description(&b, NULL, 0);
    static const uint8_t exp[] = {'1', 0,   0,  0, 4, '2', 0,   0,   0, 4, '3', 0, 0, 0,
                                  4,   's', 0,  0, 0, 4,   't', 0,   0, 0, 14,  0, 2, 0,
                                  0,   0,   23, 0, 0, 0,   25,  't', 0, 0, 0,   6, 0, 0};
    ck_assert_buf_eq(&b, exp);
    wire_buf_reset(&b);
    wire_put_parameter_description(&b, oids, -1);
    ck_assert(b.oom);
    wire_buf_free(&b);
}
END_TEST

/* Garbage never crashes a parser (run under ASan). */
START_TEST(test_garbage)
{
    uint32_t seed = 12345;
    for (int round = 0; round < 20000; round++) {
        size_t n = test_rand(&seed) % 40;
        uint8_t *p = malloc(n ? n : 1);
        for (size_t i = 0; i < n; i++) {
            uint32_t r = test_rand(&seed);
            p[i] = (r & 3) == 0 ? 0 : (uint8_t)(r >> 8);
        }
        wire_parse_msg pm;
        wire_bind_msg bm;
        wire_target_msg tm;
        wire_execute_msg em;
        wire_frame f = frame_of('P', n ? p : NULL, n);
        if (wire_parse_parse(&f, &pm))
            for (uint16_t i = 0; i < pm.ntypes; i++)
                (void)wire_parse_param_type(&pm, i);
        f.type = 'B';
        if (wire_bind_parse(&f, &bm)) {
            wire_value *v = calloc(bm.nparams + 1u, sizeof(*v));
            wire_bind_values(&bm, v);
            free(v);
        }
        f.type = 'D';
        (void)wire_describe_parse(&f, &tm);
        f.type = 'E';
        (void)wire_execute_parse(&f, &em);
        free(p);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("wire_extended");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_parse_bytes_and_roundtrip);
    tcase_add_test(tc, test_parse_bad_counts);
    tcase_add_test(tc, test_bind_bytes_and_roundtrip);
    tcase_add_test(tc, test_bind_bad);
    tcase_add_test(tc, test_bind_many_params);
    tcase_add_test(tc, test_describe_close_execute);
    tcase_add_test(tc, test_sync_flush);
    tcase_add_test(tc, test_backend_messages);
    tcase_add_test(tc, test_garbage);
    suite_add_tcase(s, tc);
    return test_run(s);
}
