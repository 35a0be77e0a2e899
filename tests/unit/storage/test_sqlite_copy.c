/*
 * Tests for storage/sqlite_copy.c's codec: COPY options, the text and CSV
 * row decoder (fed whole and split at every byte, so that records spanning
 * chunks are covered), its errors, and the field encoder.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_copy.h"
#include "statement.h"

/* The options of "COPY t FROM STDIN WITH (opts)" (or TO STDOUT). */
static bool opts(const char *sql, sqlite_copy_format *f, sqlite_copy_error *err)
{
    storage_parse p;
    storage_parse_error perr;
    ck_assert_msg(storage_parse_query(sql, &p, &perr), "parse: %s", perr.message);
    const PgQuery__CopyStmt *cs = p.stmts[0].node->copy_stmt;
    bool ok = sqlite_copy_options(cs->options, cs->n_options, cs->is_from, f, err);
    storage_parse_free(&p);
    return ok;
}

/* Decodes `in` fed in chunks of `step` bytes (0: whole); renders the rows as
 * "[a|b|~]" (~ for NULL), "E<sqlstate>:<message>@<line>" for an error, and
 * "." for the end. */
static void decode(const sqlite_copy_format *f, const char *in, size_t step, char *out, size_t len)
{
    sqlite_copy_decoder d;
    sqlite_copy_decoder_init(&d, f);
    size_t n = strlen(in), pos = 0, o = 0;
    out[0] = '\0';
    for (;;) {
        size_t take = step && n - pos > step ? step : n - pos;
        sqlite_copy_input ci = {.p = (const uint8_t *)in + pos, .len = take, .final = pos + take == n};
        pos += take;
        for (;;) {
            sqlite_copy_error err;
            sqlite_copy_status st = sqlite_copy_decode(&d, &ci, &err);
            if (st == SQLITE_COPY_ROW) {
                o += (size_t)snprintf(out + o, len - o, "%s[", d.is_header ? "H" : "");
                for (int i = 0; i < d.nfields; i++) {
                    if (d.fields[i].null)
                        o += (size_t)snprintf(out + o, len - o, "%s~", i ? "|" : "");
                    else
                        o += (size_t)snprintf(out + o, len - o, "%s%.*s", i ? "|" : "",
                                              (int)d.fields[i].len, d.fields[i].data);
                }
                o += (size_t)snprintf(out + o, len - o, "]");
                continue;
            }
            if (st == SQLITE_COPY_ERROR) {
                snprintf(out + o, len - o, "E%s:%s@%llu", err.sqlstate, err.message,
                         (unsigned long long)d.line_no);
                sqlite_copy_decoder_free(&d);
                return;
            }
            if (st == SQLITE_COPY_END && ci.final) {
                snprintf(out + o, len - o, ".");
                sqlite_copy_decoder_free(&d);
                return;
            }
            break; /* NEED_MORE, or END before the last chunk */
        }
    }
}

/* The same result whole and split at every chunk size. */
static void check_decode(const sqlite_copy_format *f, const char *in, const char *want)
{
    char got[4096];
    size_t n = strlen(in);
    for (size_t step = 0; step <= n; step++) {
        decode(f, in, step, got, sizeof(got));
        ck_assert_msg(strcmp(got, want) == 0, "input %s, chunks of %zu: got %s, want %s", in, step,
                      got, want);
    }
}

START_TEST(test_status_str)
{
    ck_assert_str_eq(sqlite_copy_status_str(SQLITE_COPY_ROW), "row");
    ck_assert_str_eq(sqlite_copy_status_str(SQLITE_COPY_NEED_MORE), "need_more");
    ck_assert_str_eq(sqlite_copy_status_str(SQLITE_COPY_END), "end");
    ck_assert_str_eq(sqlite_copy_status_str(SQLITE_COPY_ERROR), "error");
    ck_assert_str_eq(sqlite_copy_status_str((sqlite_copy_status)42), "unknown");
}
END_TEST

START_TEST(test_options)
{
    sqlite_copy_format f;
    sqlite_copy_error err;
    ck_assert(opts("copy t from stdin", &f, &err));
    ck_assert(!f.csv);
    ck_assert_int_eq(f.delim, '\t');
    ck_assert_uint_eq(f.null_len, 2);
    ck_assert(memcmp(f.null_str, "\\N", 2) == 0);
    ck_assert(opts("copy t from stdin with (format csv, header true, delimiter ';', quote '''', "
                   "escape '\\', null 'NA', freeze on, encoding 'UTF8')",
                   &f, &err));
    ck_assert(f.csv);
    ck_assert_int_eq(f.delim, ';');
    ck_assert_int_eq(f.quote, '\'');
    ck_assert_int_eq(f.escape, '\\');
    ck_assert_int_eq(f.header, SQLITE_COPY_HEADER_ON);
    ck_assert_uint_eq(f.null_len, 2);
    ck_assert(opts("copy t from stdin with csv header", &f, &err));
    ck_assert(f.csv && f.header == SQLITE_COPY_HEADER_ON && f.null_len == 0 && f.delim == ',');
    ck_assert(opts("copy t from stdin with (format csv, header match)", &f, &err));
    ck_assert_int_eq(f.header, SQLITE_COPY_HEADER_MATCH);

    static const struct {
        const char *sql, *sqlstate, *message;
    } bad[] = {
        {"copy t to stdout with (format binary)", "0A000", "COPY BINARY"},
        {"copy t to stdout with (format xml)", "22023", "COPY format \"xml\" not recognized"},
        {"copy t to stdout with (delimiter 'ab')", "0A000", "single one-byte"},
        {"copy t to stdout with (quote '\"')", "0A000", "COPY quote available only in CSV mode"},
        {"copy t to stdout with (escape '\\')", "0A000", "COPY escape available only in CSV mode"},
        {"copy t to stdout with (format csv, delimiter '\"')", "22023", "must be different"},
        {"copy t to stdout with (delimiter '\\')", "22023", "COPY delimiter cannot be"},
        {"copy t to stdout with (bogus 1)", "42601", "option \"bogus\" not recognized"},
        {"copy t to stdout with (format csv, format text)", "42601", "conflicting or redundant"},
        {"copy t to stdout with (format csv, header match)", "0A000", "\"match\" with HEADER"},
        {"copy t to stdout with (header maybe)", "42601", "Boolean value"},
        {"copy t to stdout with (force_quote *)", "0A000", "not supported"},
        {"copy t to stdout with (encoding 'LATIN1')", "0A000", "UTF8"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(!opts(bad[i].sql, &f, &err), "%s accepted", bad[i].sql);
        ck_assert_str_eq(err.sqlstate, bad[i].sqlstate);
        ck_assert_msg(strstr(err.message, bad[i].message), "%s: %s", bad[i].sql, err.message);
    }
}
END_TEST

START_TEST(test_decode_text)
{
    sqlite_copy_format f;
    sqlite_copy_format_init(&f, false);
    check_decode(&f, "1\ta\n2\t\\N\n", "[1|a][2|~].");
    check_decode(&f, "1\ta", "[1|a].");                     /* no newline at the end */
    check_decode(&f, "", ".");                              /* nothing */
    check_decode(&f, "\n", "[].");                          /* one empty field */
    check_decode(&f, "a\t\t\n", "[a||].");                  /* empty fields */
    check_decode(&f, "x\\ty\\nz\\\\\\r\tq\n", "[x\ty\nz\\\r|q].");
    check_decode(&f, "\\101\\x42\\x4a1\\b\n", "[ABJ1\b].");  /* octal, hex */
    check_decode(&f, "a\\\tb\n", "[a\tb].");               /* escaped delimiter */
    check_decode(&f, "a\\\nb\n", "[a\nb].");               /* escaped newline */
    check_decode(&f, "\\N\t\\\\N\n", "[~|\\N].");          /* only the raw \N is NULL */
    check_decode(&f, "1\n\\.\nignored\n", "[1].");         /* the end marker */
    check_decode(&f, "1\r\n2\r\n", "[1][2].");              /* CRLF */
    check_decode(&f, "1\r2\r", "[1][2].");                  /* CR */
    check_decode(&f, "h\u00e9\xe2\x98\x83\n", "[h\u00e9\xe2\x98\x83].");
}
END_TEST

START_TEST(test_decode_text_errors)
{
    sqlite_copy_format f;
    sqlite_copy_format_init(&f, false);
    check_decode(&f, "1\n2\r\n", "[1]E22P04:literal carriage return found in data@2");
    check_decode(&f, "1\r\n2\n", "[1]E22P04:literal newline found in data@2");
    check_decode(&f, "a\\000b\n", "E22021:invalid byte sequence for encoding \"UTF8\": 0x00@1");
    check_decode(&f, "ok\n\xc3(\n",
                 "[ok]E22021:invalid byte sequence for encoding \"UTF8\": 0xc3 0x28@2");
}
END_TEST

START_TEST(test_decode_csv)
{
    sqlite_copy_format f;
    sqlite_copy_format_init(&f, true);
    check_decode(&f, "1,a\n2,\n3,\"\"\n", "[1|a][2|~][3|].");
    check_decode(&f, "\"a,b\",\"say \"\"hi\"\"\"\n", "[a,b|say \"hi\"].");
    check_decode(&f, "\"multi\nline\",x\r\ny,z\r\n", "[multi\nline|x][y|z].");
    check_decode(&f, "a\"b\"c,d\n", "[abc|d].");            /* quotes inside a field */
    check_decode(&f, "1\n\\.\n2\n", "[1].");
    check_decode(&f, "1,\"open\n", "E22P04:unterminated CSV quoted field@1");
    f.escape = '\\';
    check_decode(&f, "\"a\\\"b\\\\c\",\"\\x\"\n", "[a\"b\\c|\\x].");
    sqlite_copy_format_init(&f, true);
    f.header = SQLITE_COPY_HEADER_ON;
    check_decode(&f, "id,name\n1,x\n", "H[id|name][1|x].");
}
END_TEST

static void encode(const sqlite_copy_format *f, const char *v, bool single, const char *want)
{
    wire_buf b;
    wire_buf_init(&b);
    sqlite_copy_encode_field(f, &b, v, v ? strlen(v) : 0, single);
    ck_assert_msg(b.len == strlen(want) && (b.len == 0 || memcmp(b.data, want, b.len) == 0),
                  "encoding %s: got %.*s, want %s", v ? v : "NULL", (int)b.len, (char *)b.data,
                  want);
    wire_buf_free(&b);
}

START_TEST(test_encode)
{
    sqlite_copy_format f;
    sqlite_copy_format_init(&f, false);
    encode(&f, NULL, false, "\\N");
    encode(&f, "", false, "");
    encode(&f, "plain h\u00e9", false, "plain h\u00e9");
    encode(&f, "a\tb\nc\\d\re\bf\fg\vh", false, "a\\tb\\nc\\\\d\\re\\bf\\fg\\vh");
    encode(&f, "\x01", false, "\x01"); /* other control characters as they are */
    f.delim = '|';
    encode(&f, "a|b", false, "a\\|b");

    sqlite_copy_format_init(&f, true);
    encode(&f, NULL, false, "");
    encode(&f, "", false, "\"\"");
    encode(&f, "plain", false, "plain");
    encode(&f, "a,b", false, "\"a,b\"");
    encode(&f, "say \"hi\"", false, "\"say \"\"hi\"\"\"");
    encode(&f, "two\nlines", false, "\"two\nlines\"");
    encode(&f, "\\.", true, "\"\\.\"");
    encode(&f, "\\.", false, "\\.");
    f.escape = '\\';
    encode(&f, "a\"b\\c,", false, "\"a\\\"b\\\\c,\"");
    sqlite_copy_format_init(&f, true);
    memcpy(f.null_str, "NA", 2);
    f.null_len = 2;
    encode(&f, "NA", false, "\"NA\"");
    encode(&f, NULL, false, "NA");
}
END_TEST

/* Encoding then decoding gives back the values, in both formats. */
START_TEST(test_round_trip)
{
    const char *vals[] = {"", "x", "tab\there", "nl\nx", "cr\rx", "back\\slash", "q\"uote", "c,omma",
                          "\\N", "\\.", "h\u00e9 \xe2\x98\x83"};
    size_t nv = sizeof(vals) / sizeof(vals[0]);
    for (int csv = 0; csv < 2; csv++) {
        sqlite_copy_format f;
        sqlite_copy_format_init(&f, csv);
        wire_buf b;
        wire_buf_init(&b);
        for (size_t i = 0; i < nv; i++) {
            sqlite_copy_encode_field(&f, &b, vals[i], strlen(vals[i]), false);
            wire_buf_put_u8(&b, (uint8_t)f.delim);
            sqlite_copy_encode_field(&f, &b, NULL, 0, false);
            wire_buf_put_u8(&b, '\n');
        }
        sqlite_copy_decoder d;
        sqlite_copy_decoder_init(&d, &f);
        sqlite_copy_input in = {.p = b.data, .len = b.len, .final = true};
        for (size_t i = 0; i < nv; i++) {
            sqlite_copy_error err;
            ck_assert_int_eq(sqlite_copy_decode(&d, &in, &err), SQLITE_COPY_ROW);
            ck_assert_int_eq(d.nfields, 2);
            ck_assert(!d.fields[0].null && d.fields[1].null);
            ck_assert_msg(d.fields[0].len == strlen(vals[i]) &&
                              memcmp(d.fields[0].data, vals[i], d.fields[0].len) == 0,
                          "csv %d value %zu", csv, i);
        }
        sqlite_copy_error err;
        ck_assert_int_eq(sqlite_copy_decode(&d, &in, &err), SQLITE_COPY_END);
        sqlite_copy_decoder_free(&d);
        wire_buf_free(&b);
    }
}
END_TEST

static Suite *sqlite_copy_suite(void)
{
    Suite *s = suite_create("sqlite_copy");
    TCase *tc = tcase_create("codec");
    tcase_add_test(tc, test_status_str);
    tcase_add_test(tc, test_options);
    tcase_add_test(tc, test_decode_text);
    tcase_add_test(tc, test_decode_text_errors);
    tcase_add_test(tc, test_decode_csv);
    tcase_add_test(tc, test_encode);
    tcase_add_test(tc, test_round_trip);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sqlite_copy_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
