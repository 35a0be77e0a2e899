/*
 * Tests for wire/scram.c.
 *
 * Vectors: RFC 7677 section 3 (user "user", password "pencil"), a verifier
 * produced by a real PostgreSQL 15 (CREATE ROLE alice PASSWORD 'pencil';
 * SELECT rolpassword FROM pg_authid), and, for our client (which sends an
 * empty SCRAM user name like libpq), the proof and server signature for
 * client-first-message-bare "n=,r=<RFC nonce>" computed independently with
 * Python's hashlib/hmac.
 *
 * Also: full client/server round trips (right password, wrong password,
 * unknown user), every malformed client-first and client-final we can think
 * of, truncation at every length, out-of-order calls, and the client's
 * checks on what the server sends.
 */
#include <stdio.h>

#include "test_util.h"
#include "wire_internal.h"

#define RFC_CNONCE "rOprNGfwEbeRWgbNEkqO"
#define RFC_SNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_SALT "W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_CLIENT_FIRST "n,,n=user,r=" RFC_CNONCE
#define RFC_SERVER_FIRST "r=" RFC_CNONCE RFC_SNONCE ",s=" RFC_SALT ",i=4096"
#define RFC_CLIENT_FINAL_NO_PROOF "c=biws,r=" RFC_CNONCE RFC_SNONCE
#define RFC_CLIENT_FINAL RFC_CLIENT_FINAL_NO_PROOF ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
#define RFC_VERIFIER                                                                               \
    "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"    \
    "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="
/* our client: client-first-message-bare is "n=,r=" RFC_CNONCE */
#define OUR_CLIENT_FINAL RFC_CLIENT_FINAL_NO_PROOF ",p=qvT2SWdEH5Q06albL+hjSYuUhCG7VndFyzIb7CK4n9k="
#define OUR_SERVER_FINAL "v=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOg="

#define PG_VERIFIER                                                                                \
    "SCRAM-SHA-256$4096:1FjpQTgCx8JqgvTL7OzUCg==$iDdMgbFj0bwPCzPHUViOA086YTWMYIuBNDnPRkO3pCw=:"    \
    "/oW8b0UOkqy85LiPoTV8Fu9HUzrGP4UavBGH9td21Hs="

static void rfc_verifier(wire_scram_verifier *v)
{
    ck_assert(wire_scram_verifier_parse(RFC_VERIFIER, v));
}

/* Feeds a message from an exactly-sized heap copy (ASan catches over-reads). */
static wire_scram_status feed_first(wire_scram_server *s, const char *msg, size_t len,
                                    wire_buf *out, char *err, size_t errlen)
{
    uint8_t *p = test_dup(msg, len);
    wire_scram_status st = wire_scram_server_first(s, p, len, out, err, errlen);
    free(p);
    return st;
}

static wire_scram_status feed_final(wire_scram_server *s, const char *msg, size_t len,
                                    wire_buf *out, char *err, size_t errlen)
{
    uint8_t *p = test_dup(msg, len);
    wire_scram_status st = wire_scram_server_final(s, p, len, out, err, errlen);
    free(p);
    return st;
}

/* A server for the RFC exchange that has already answered the client-first. */
static wire_scram_server *rfc_server_after_first(const char *client_first)
{
    wire_scram_verifier v;
    rfc_verifier(&v);
    wire_scram_server *s = wire_scram_server_new(&v, "user", RFC_SNONCE);
    ck_assert_ptr_nonnull(s);
    wire_buf out;
    wire_buf_init(&out);
    char err[200] = "";
    ck_assert_int_eq(feed_first(s, client_first, strlen(client_first), &out, err, sizeof err),
                     WIRE_SCRAM_CONTINUE);
    wire_buf_free(&out);
    return s;
}

/* ---- verifiers ---- */

START_TEST(test_verifier_parse_postgres)
{
    wire_scram_verifier v;
    ck_assert(wire_scram_verifier_parse(PG_VERIFIER, &v));
    ck_assert_int_eq(v.iterations, 4096);
    ck_assert_uint_eq(v.salt_len, 16);
    /* deriving from the password with the same salt gives the same keys */
    wire_scram_verifier d;
    ck_assert(wire_scram_verifier_from_password("pencil", v.salt, v.salt_len, 4096, &d));
    ck_assert_mem_eq(d.stored_key, v.stored_key, WIRE_SCRAM_KEY_LEN);
    ck_assert_mem_eq(d.server_key, v.server_key, WIRE_SCRAM_KEY_LEN);
    char text[256];
    ck_assert(wire_scram_verifier_format(&d, text, sizeof text));
    ck_assert_str_eq(text, PG_VERIFIER);
}
END_TEST

START_TEST(test_verifier_from_password_rfc)
{
    uint8_t salt[32];
    size_t salt_len;
    ck_assert(wire_b64_decode(RFC_SALT, strlen(RFC_SALT), salt, sizeof salt, &salt_len));
    wire_scram_verifier v;
    ck_assert(wire_scram_verifier_from_password("pencil", salt, salt_len, 4096, &v));
    char text[256];
    ck_assert(wire_scram_verifier_format(&v, text, sizeof text));
    ck_assert_str_eq(text, RFC_VERIFIER);
}
END_TEST

START_TEST(test_verifier_random_salt)
{
    wire_scram_verifier a, b;
    ck_assert(wire_scram_verifier_from_password("pw", NULL, 0, 16, &a));
    ck_assert(wire_scram_verifier_from_password("pw", NULL, 0, 16, &b));
    ck_assert_uint_eq(a.salt_len, 16);
    ck_assert(memcmp(a.salt, b.salt, 16) != 0);
    ck_assert(memcmp(a.stored_key, b.stored_key, WIRE_SCRAM_KEY_LEN) != 0);
}
END_TEST

START_TEST(test_verifier_from_password_bad_args)
{
    wire_scram_verifier v;
    uint8_t salt[WIRE_SCRAM_SALT_MAX + 1] = {0};
    ck_assert(!wire_scram_verifier_from_password(NULL, salt, 16, 4096, &v));
    ck_assert(!wire_scram_verifier_from_password("p", salt, 0, 4096, &v));
    ck_assert(!wire_scram_verifier_from_password("p", salt, sizeof salt, 4096, &v));
    ck_assert(!wire_scram_verifier_from_password("p", salt, 16, 0, &v));
    ck_assert(!wire_scram_verifier_from_password("p", salt, 16, -1, &v));
    ck_assert(wire_scram_verifier_from_password("p", salt, WIRE_SCRAM_SALT_MAX, 1, &v));
}
END_TEST

START_TEST(test_verifier_roundtrip_max_salt)
{
    uint8_t salt[WIRE_SCRAM_SALT_MAX];
    for (size_t i = 0; i < sizeof salt; i++)
        salt[i] = (uint8_t)(i * 7);
    wire_scram_verifier v, w;
    ck_assert(wire_scram_verifier_from_password("p", salt, sizeof salt, 2147483647 / 1000000, &v));
    v.iterations = 2147483647; /* format/parse only: no derivation at this count */
    char text[256];
    ck_assert(wire_scram_verifier_format(&v, text, sizeof text));
    ck_assert(wire_scram_verifier_parse(text, &w));
    ck_assert_int_eq(w.iterations, v.iterations);
    ck_assert_uint_eq(w.salt_len, v.salt_len);
    ck_assert_mem_eq(w.salt, v.salt, v.salt_len);
    ck_assert_mem_eq(w.stored_key, v.stored_key, WIRE_SCRAM_KEY_LEN);
    ck_assert_mem_eq(w.server_key, v.server_key, WIRE_SCRAM_KEY_LEN);
    /* too small an output buffer fails cleanly */
    char small[40];
    ck_assert(!wire_scram_verifier_format(&v, small, sizeof small));
    ck_assert_str_eq(small, "");
    ck_assert(!wire_scram_verifier_format(&v, small, 0));
    wire_scram_verifier bad = v;
    bad.iterations = 0;
    ck_assert(!wire_scram_verifier_format(&bad, text, sizeof text));
}
END_TEST

START_TEST(test_verifier_parse_rejects)
{
    static const char *bad[] = {
        "",
        "md54a0a68b43b6cd5cf266fa02f196e2371",
        "secret",
        "SCRAM-SHA-1$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$",
        "SCRAM-SHA-256$4096",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=",
        /* iterations */
        "SCRAM-SHA-256$0:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$-1:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$40x6:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$2147483648:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbs"
        "T4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        /* salt */
        "SCRAM-SHA-256$4096:$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ=$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        /* keys: wrong length, bad base64, trailing garbage */
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=x",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=:",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU= ",
        "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=$"
        "wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wire_scram_verifier v;
        ck_assert_msg(!wire_scram_verifier_parse(bad[i], &v), "case %zu: %s", i, bad[i]);
    }
    wire_scram_verifier v;
    ck_assert(!wire_scram_verifier_parse(NULL, &v));
}
END_TEST

/* ---- server: RFC 7677 exchange ---- */

START_TEST(test_server_rfc7677)
{
    wire_scram_verifier v;
    rfc_verifier(&v);
    wire_scram_server *s = wire_scram_server_new(&v, "user", RFC_SNONCE);
    ck_assert_ptr_nonnull(s);
    wire_buf out;
    wire_buf_init(&out);
    char err[200] = "";
    ck_assert_int_eq(
        feed_first(s, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST), &out, err, sizeof err),
        WIRE_SCRAM_CONTINUE);
    ck_assert_buf_str(&out, RFC_SERVER_FIRST);
    wire_buf_reset(&out);
    ck_assert_int_eq(
        feed_final(s, RFC_CLIENT_FINAL, strlen(RFC_CLIENT_FINAL), &out, err, sizeof err),
        WIRE_SCRAM_OK);
    ck_assert_buf_str(&out, RFC_SERVER_FINAL);
    /* the exchange is over */
    wire_buf_reset(&out);
    ck_assert_int_eq(
        feed_final(s, RFC_CLIENT_FINAL, strlen(RFC_CLIENT_FINAL), &out, err, sizeof err),
        WIRE_SCRAM_FAIL_PROTOCOL);
    ck_assert_uint_eq(out.len, 0);
    wire_scram_server_free(s);
    wire_buf_free(&out);
}
END_TEST

START_TEST(test_server_random_nonce)
{
    wire_scram_verifier v;
    rfc_verifier(&v);
    wire_scram_server *s = wire_scram_server_new(&v, "user", NULL);
    ck_assert_ptr_nonnull(s);
    wire_buf out;
    wire_buf_init(&out);
    char err[200];
    ck_assert_int_eq(
        feed_first(s, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST), &out, err, sizeof err),
        WIRE_SCRAM_CONTINUE);
    /* r=<20 client chars><24 server chars>,s=... */
    const char *prefix = "r=" RFC_CNONCE;
    ck_assert_uint_gt(out.len, strlen(prefix) + 24);
    ck_assert_mem_eq(out.data, prefix, strlen(prefix));
    ck_assert_int_eq(out.data[strlen(prefix) + 24], ',');
    wire_scram_server_free(s);
    wire_buf_free(&out);
}
END_TEST

START_TEST(test_server_new_bad_nonce)
{
    wire_scram_verifier v;
    rfc_verifier(&v);
    ck_assert_ptr_null(wire_scram_server_new(&v, "u", ""));
    ck_assert_ptr_null(wire_scram_server_new(&v, "u", "a,b"));
    ck_assert_ptr_null(wire_scram_server_new(&v, "u", "a b"));
    ck_assert_ptr_null(wire_scram_server_new(&v, "u", "a\x7f"));
    wire_scram_server_free(NULL);
}
END_TEST

/* ---- client ---- */

START_TEST(test_client_vector)
{
    wire_scram_client *c = wire_scram_client_new("pencil", RFC_CNONCE);
    ck_assert_ptr_nonnull(c);
    wire_buf out;
    wire_buf_init(&out);
    ck_assert(wire_scram_client_first(c, &out));
    ck_assert_buf_str(&out, "n,,n=,r=" RFC_CNONCE);
    ck_assert(!wire_scram_client_first(c, &out)); /* only once */
    wire_buf_reset(&out);
    const char *sf = RFC_SERVER_FIRST;
    ck_assert(wire_scram_client_final(c, (const uint8_t *)sf, strlen(sf), &out));
    ck_assert_buf_str(&out, OUR_CLIENT_FINAL);
    const char *sfin = OUR_SERVER_FINAL;
    ck_assert(wire_scram_client_verify(c, (const uint8_t *)sfin, strlen(sfin)));
    ck_assert(!wire_scram_client_verify(c, (const uint8_t *)sfin, strlen(sfin))); /* once */
    wire_scram_client_free(c);
    wire_buf_free(&out);
}
END_TEST

/* The key cache: the same messages as without it, the second login with
 * the same password, salt and iterations a hit; another password (or a
 * wrong one) a miss that does not reuse the first's keys. */
START_TEST(test_client_key_cache)
{
    wire_scram_key_cache *k = wire_scram_key_cache_new(2);
    ck_assert_ptr_nonnull(k);
    const char *sf = RFC_SERVER_FIRST, *sfin = OUR_SERVER_FINAL;
    for (int round = 0; round < 3; round++) {
        wire_scram_client *c = wire_scram_client_new("pencil", RFC_CNONCE);
        wire_scram_client_set_cache(c, k);
        wire_buf out;
        wire_buf_init(&out);
        ck_assert(wire_scram_client_first(c, &out));
        wire_buf_reset(&out);
        ck_assert(wire_scram_client_final(c, (const uint8_t *)sf, strlen(sf), &out));
        ck_assert_buf_str(&out, OUR_CLIENT_FINAL);
        ck_assert(wire_scram_client_verify(c, (const uint8_t *)sfin, strlen(sfin)));
        wire_scram_client_free(c);
        wire_buf_free(&out);
    }
    uint64_t hits, misses;
    wire_scram_key_cache_stats(k, &hits, &misses);
    ck_assert_uint_eq(misses, 1);
    ck_assert_uint_eq(hits, 2);
    /* a wrong password: its own keys, so the proof differs and the server's
     * signature does not verify */
    wire_scram_client *c = wire_scram_client_new("pencil2", RFC_CNONCE);
    wire_scram_client_set_cache(c, k);
    wire_buf out;
    wire_buf_init(&out);
    ck_assert(wire_scram_client_first(c, &out));
    wire_buf_reset(&out);
    ck_assert(wire_scram_client_final(c, (const uint8_t *)sf, strlen(sf), &out));
    ck_assert(out.len != strlen(OUR_CLIENT_FINAL) ||
              memcmp(out.data, OUR_CLIENT_FINAL, out.len) != 0);
    ck_assert(!wire_scram_client_verify(c, (const uint8_t *)sfin, strlen(sfin)));
    wire_scram_client_free(c);
    wire_buf_free(&out);
    wire_scram_key_cache_stats(k, &hits, &misses);
    ck_assert_uint_eq(misses, 2);
    ck_assert_uint_eq(hits, 2);
    wire_scram_key_cache_free(k);
}
END_TEST

START_TEST(test_client_new_bad_args)
{
    ck_assert_ptr_null(wire_scram_client_new(NULL, "abc"));
    ck_assert_ptr_null(wire_scram_client_new("pw", ""));
    ck_assert_ptr_null(wire_scram_client_new("pw", "a,b"));
    wire_scram_client *c = wire_scram_client_new("pw", NULL);
    ck_assert_ptr_nonnull(c);
    wire_scram_client_free(c);
    wire_scram_client_free(NULL);
}
END_TEST

START_TEST(test_client_out_of_order)
{
    wire_scram_client *c = wire_scram_client_new("pencil", RFC_CNONCE);
    wire_buf out;
    wire_buf_init(&out);
    const char *sf = RFC_SERVER_FIRST;
    ck_assert(!wire_scram_client_final(c, (const uint8_t *)sf, strlen(sf), &out));
    ck_assert(!wire_scram_client_verify(c, (const uint8_t *)"v=", 2));
    ck_assert_uint_eq(out.len, 0);
    wire_scram_client_free(c);
    wire_buf_free(&out);
}
END_TEST

START_TEST(test_client_rejects_bad_server_first)
{
    static const char *bad[] = {
        "",
        "e=other-error",
        "r=" RFC_CNONCE ",s=" RFC_SALT ",i=4096",               /* no server part */
        "r=xOprNGfwEbeRWgbNEkqOabc,s=" RFC_SALT ",i=4096",      /* not our nonce */
        "r=" RFC_CNONCE "abc,s=,i=4096",                        /* empty salt */
        "r=" RFC_CNONCE "abc,s=W22ZaJ0SNY7soEsUEjb6gQ=,i=4096", /* bad base64 */
        "r=" RFC_CNONCE "abc,s=" RFC_SALT ",i=0",
        "r=" RFC_CNONCE "abc,s=" RFC_SALT ",i=-5",
        "r=" RFC_CNONCE "abc,s=" RFC_SALT ",i=99999999999",
        "r=" RFC_CNONCE "abc,s=" RFC_SALT,
        "r=" RFC_CNONCE "abc,i=4096,s=" RFC_SALT,
        "r=" RFC_CNONCE "abc,s=" RFC_SALT ",i=4096,",
        "r=" RFC_CNONCE "abc,s=" RFC_SALT ",i=4096,garbage",
        "m=ext,r=" RFC_CNONCE "abc,s=" RFC_SALT ",i=4096",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wire_scram_client *c = wire_scram_client_new("pencil", RFC_CNONCE);
        wire_buf out;
        wire_buf_init(&out);
        ck_assert(wire_scram_client_first(c, &out));
        wire_buf_reset(&out);
        uint8_t *p = test_dup(bad[i], strlen(bad[i]));
        ck_assert_msg(!wire_scram_client_final(c, p, strlen(bad[i]), &out), "case %zu", i);
        ck_assert_uint_eq(out.len, 0);
        free(p);
        wire_scram_client_free(c);
        wire_buf_free(&out);
    }
}
END_TEST

START_TEST(test_client_accepts_extensions)
{
    wire_scram_client *c = wire_scram_client_new("pencil", RFC_CNONCE);
    wire_buf out;
    wire_buf_init(&out);
    ck_assert(wire_scram_client_first(c, &out));
    wire_buf_reset(&out);
    const char *sf = RFC_SERVER_FIRST ",x=ext";
    ck_assert(wire_scram_client_final(c, (const uint8_t *)sf, strlen(sf), &out));
    wire_scram_client_free(c);
    wire_buf_free(&out);
}
END_TEST

static wire_scram_client *client_after_vector_final(void)
{
    wire_scram_client *c = wire_scram_client_new("pencil", RFC_CNONCE);
    wire_buf out;
    wire_buf_init(&out);
    ck_assert(wire_scram_client_first(c, &out));
    const char *sf = RFC_SERVER_FIRST;
    ck_assert(wire_scram_client_final(c, (const uint8_t *)sf, strlen(sf), &out));
    wire_buf_free(&out);
    return c;
}

START_TEST(test_client_verify_rejects)
{
    static const char *bad[] = {
        "",
        "e=invalid-proof",
        RFC_SERVER_FINAL, /* a valid signature, but for another AuthMessage */
        "v=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOg",
        "v=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOg=,",
        "v=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOA=",
        "v=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOg=x",
        "x=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOg=",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wire_scram_client *c = client_after_vector_final();
        uint8_t *p = test_dup(bad[i], strlen(bad[i]));
        ck_assert_msg(!wire_scram_client_verify(c, p, strlen(bad[i])), "case %zu", i);
        free(p);
        wire_scram_client_free(c);
    }
    /* extensions after the verifier are allowed */
    wire_scram_client *c = client_after_vector_final();
    const char *ok = OUR_SERVER_FINAL ",x=y";
    ck_assert(wire_scram_client_verify(c, (const uint8_t *)ok, strlen(ok)));
    wire_scram_client_free(c);
}
END_TEST

/* ---- round trips ---- */

/* Runs our client against our server; returns the server's final status. */
static wire_scram_status round_trip(const wire_scram_verifier *v, const char *user,
                                    const char *password, bool *client_verified, char *err,
                                    size_t errlen)
{
    wire_scram_server *s = wire_scram_server_new(v, user, NULL);
    wire_scram_client *c = wire_scram_client_new(password, NULL);
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(c);
    wire_buf a, b;
    wire_buf_init(&a);
    wire_buf_init(&b);
    ck_assert(wire_scram_client_first(c, &a));
    ck_assert_int_eq(wire_scram_server_first(s, a.data, a.len, &b, err, errlen),
                     WIRE_SCRAM_CONTINUE);
    wire_buf_reset(&a);
    ck_assert(wire_scram_client_final(c, b.data, b.len, &a));
    wire_buf_reset(&b);
    wire_scram_status st = wire_scram_server_final(s, a.data, a.len, &b, err, errlen);
    *client_verified = st == WIRE_SCRAM_OK && wire_scram_client_verify(c, b.data, b.len);
    if (st != WIRE_SCRAM_OK)
        ck_assert_uint_eq(b.len, 0);
    wire_scram_server_free(s);
    wire_scram_client_free(c);
    wire_buf_free(&a);
    wire_buf_free(&b);
    return st;
}

START_TEST(test_round_trip_ok)
{
    wire_scram_verifier v;
    ck_assert(wire_scram_verifier_from_password("correct horse", NULL, 0, 4096, &v));
    bool verified = false;
    char err[200] = "";
    ck_assert_int_eq(round_trip(&v, "alice", "correct horse", &verified, err, sizeof err),
                     WIRE_SCRAM_OK);
    ck_assert(verified);
    /* with a real PostgreSQL verifier too */
    ck_assert(wire_scram_verifier_parse(PG_VERIFIER, &v));
    ck_assert_int_eq(round_trip(&v, "alice", "pencil", &verified, err, sizeof err), WIRE_SCRAM_OK);
    ck_assert(verified);
}
END_TEST

/* One exchange between a client c and a server for verifier v: the server's
 * status, whether c accepted the server's final message, and the ClientKey
 * the server learnt (key_out, when not NULL). */
static wire_scram_status exchange(wire_scram_client *c, const wire_scram_verifier *v,
                                  bool *client_verified, uint8_t *key_out, bool *have_key)
{
    wire_scram_server *s = wire_scram_server_new(v, "alice", NULL);
    ck_assert_ptr_nonnull(s);
    ck_assert_ptr_nonnull(c);
    char err[200] = "";
    wire_buf a, b;
    wire_buf_init(&a);
    wire_buf_init(&b);
    ck_assert(wire_scram_client_first(c, &a));
    ck_assert_int_eq(wire_scram_server_first(s, a.data, a.len, &b, err, sizeof err),
                     WIRE_SCRAM_CONTINUE);
    ck_assert(!wire_scram_server_client_key(s, key_out ? key_out : (uint8_t[32]){0}));
    wire_buf_reset(&a);
    ck_assert(wire_scram_client_final(c, b.data, b.len, &a));
    wire_buf_reset(&b);
    wire_scram_status st = wire_scram_server_final(s, a.data, a.len, &b, err, sizeof err);
    *client_verified = st == WIRE_SCRAM_OK && wire_scram_client_verify(c, b.data, b.len);
    uint8_t tmp[WIRE_SCRAM_KEY_LEN];
    *have_key = wire_scram_server_client_key(s, key_out ? key_out : tmp);
    wire_scram_server_free(s);
    wire_scram_client_free(c);
    wire_buf_free(&a);
    wire_buf_free(&b);
    return st;
}

START_TEST(test_pass_through)
{
    /* A client proves the password to Dormouse; with the ClientKey it gave
     * away and the verifier's ServerKey, Dormouse logs in to a server that
     * holds the same verifier, without ever knowing the password. */
    wire_scram_verifier v;
    ck_assert(wire_scram_verifier_parse(PG_VERIFIER, &v));
    uint8_t key[WIRE_SCRAM_KEY_LEN];
    bool verified = false, have = false;
    ck_assert_int_eq(exchange(wire_scram_client_new("pencil", NULL), &v, &verified, key, &have),
                     WIRE_SCRAM_OK);
    ck_assert(verified && have);
    ck_assert_int_eq(exchange(wire_scram_client_new_keys(key, v.server_key, NULL), &v, &verified,
                              NULL, &have),
                     WIRE_SCRAM_OK);
    ck_assert(verified && have);
    /* a wrong ClientKey is refused by the server */
    uint8_t bad[WIRE_SCRAM_KEY_LEN];
    memcpy(bad, key, sizeof bad);
    bad[0] ^= 1;
    ck_assert_int_eq(exchange(wire_scram_client_new_keys(bad, v.server_key, NULL), &v, &verified,
                              NULL, &have),
                     WIRE_SCRAM_FAIL_AUTH);
    ck_assert(!verified && !have);
    /* a wrong ServerKey: the server is not believed */
    uint8_t sk[WIRE_SCRAM_KEY_LEN];
    memcpy(sk, v.server_key, sizeof sk);
    sk[3] ^= 0x80;
    ck_assert_int_eq(exchange(wire_scram_client_new_keys(key, sk, NULL), &v, &verified, NULL,
                              &have),
                     WIRE_SCRAM_OK);
    ck_assert(!verified);
    /* a failed exchange gives no key */
    ck_assert_int_eq(exchange(wire_scram_client_new("pencil2", NULL), &v, &verified, NULL, &have),
                     WIRE_SCRAM_FAIL_AUTH);
    ck_assert(!have);
    ck_assert_ptr_null(wire_scram_client_new_keys(NULL, sk, NULL));
    ck_assert_ptr_null(wire_scram_client_new_keys(key, sk, ""));
    ck_assert(!wire_scram_server_client_key(NULL, key));
}
END_TEST

START_TEST(test_round_trip_wrong_password)
{
    wire_scram_verifier v;
    ck_assert(wire_scram_verifier_parse(PG_VERIFIER, &v));
    bool verified = true;
    char err[200] = "";
    ck_assert_int_eq(round_trip(&v, "alice", "pencil2", &verified, err, sizeof err),
                     WIRE_SCRAM_FAIL_AUTH);
    ck_assert(!verified);
    ck_assert_str_eq(err, "SCRAM authentication failed: the client proof does not match");
}
END_TEST

START_TEST(test_round_trip_unknown_user)
{
    bool verified = true;
    char err[200] = "";
    ck_assert_int_eq(round_trip(NULL, "nobody", "pencil", &verified, err, sizeof err),
                     WIRE_SCRAM_FAIL_AUTH);
    ck_assert(!verified);
    /* the same words as a wrong password */
    ck_assert_str_eq(err, "SCRAM authentication failed: the client proof does not match");
    /* an unusable verifier behaves as an unknown user */
    wire_scram_verifier zero;
    memset(&zero, 0, sizeof zero);
    ck_assert_int_eq(round_trip(&zero, "alice", "", &verified, err, sizeof err),
                     WIRE_SCRAM_FAIL_AUTH);
}
END_TEST

/* The server-first-message's salt and iterations for a user. */
static void server_first_for(const wire_scram_verifier *v, const char *user, char *out,
                             size_t outlen)
{
    wire_scram_server *s = wire_scram_server_new(v, user, "SNONCE");
    wire_buf b;
    wire_buf_init(&b);
    char err[200];
    ck_assert_int_eq(feed_first(s, "n,,n=,r=abc", 11, &b, err, sizeof err), WIRE_SCRAM_CONTINUE);
    ck_assert_uint_lt(b.len, outlen);
    memcpy(out, b.data, b.len);
    out[b.len] = '\0';
    wire_buf_free(&b);
    wire_scram_server_free(s);
}

START_TEST(test_mock_salt_is_stable)
{
    char a1[200], a2[200], b1[200], real[200];
    server_first_for(NULL, "ghost", a1, sizeof a1);
    server_first_for(NULL, "ghost", a2, sizeof a2);
    server_first_for(NULL, "phantom", b1, sizeof b1);
    ck_assert_str_eq(a1, a2); /* same user, same salt */
    ck_assert_str_ne(a1, b1); /* another user, another salt */
    ck_assert_ptr_nonnull(strstr(a1, ",i=4096"));
    /* shaped like a real one: 16-byte salt */
    wire_scram_verifier v;
    ck_assert(wire_scram_verifier_parse(PG_VERIFIER, &v));
    server_first_for(&v, "alice", real, sizeof real);
    ck_assert_uint_eq(strlen(a1), strlen(real));
    /* a NULL user name is an empty one */
    server_first_for(NULL, NULL, a1, sizeof a1);
    server_first_for(NULL, "", a2, sizeof a2);
    ck_assert_str_eq(a1, a2);
}
END_TEST

/* ---- malformed client-first ---- */

START_TEST(test_client_first_malformed)
{
    static const struct {
        const char *msg;
        size_t len;
        const char *err_part;
    } cases[] = {
        {"", 0, "empty"},
        {"n=,r=abc", 8, "channel-binding flag"}, /* no gs2 header */
        {"p=tls-server-end-point,,n=,r=abc", 32, "channel binding is not supported"},
        {"x,,n=,r=abc", 11, "channel-binding flag"},
        {"n", 1, "comma"},
        {"n,", 2, "gs2 header"},
        {"ny,n=,r=abc", 11, "comma"},
        {"n,a=admin,n=,r=abc", 18, "authorization identity"},
        {"n,x,n=,r=abc", 12, "gs2 header"},
        {"n,,", 3, "\"n\""},
        {"n,,m=ext,n=,r=abc", 17, "unsupported SCRAM extension"},
        {"n,,r=abc", 8, "\"n\""},
        {"n,,n=user", 9, "\"r\""},
        {"n,,n=user,", 10, "\"r\""},
        {"n,,n=user,x=abc", 15, "\"r\""},
        {"n,,n=,r=", 8, "nonce"},
        {"n,,n=,r=a b", 11, "nonce"},
        {"n,,n=,r=a\x01", 10, "nonce"},
        {"n,,n=,r=abc,", 12, "garbage"},
        {"n,,n=,r=abc,garbage", 19, "garbage"},
        {"n,,n=,r=abc,1=x", 15, "garbage"},
        {"n,,n=,r=a\0bc", 12, "NUL"},
    };
    wire_scram_verifier v;
    rfc_verifier(&v);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wire_scram_server *s = wire_scram_server_new(&v, "u", "SN");
        wire_buf out;
        wire_buf_init(&out);
        char err[200] = "";
        ck_assert_msg(feed_first(s, cases[i].msg, cases[i].len, &out, err, sizeof err) ==
                          WIRE_SCRAM_FAIL_PROTOCOL,
                      "case %zu", i);
        ck_assert_msg(strstr(err, cases[i].err_part) != NULL, "case %zu: %s", i, err);
        ck_assert_uint_eq(out.len, 0);
        /* the exchange is dead: nothing more is accepted */
        ck_assert_int_eq(feed_first(s, "n,,n=,r=abc", 11, &out, err, sizeof err),
                         WIRE_SCRAM_FAIL_PROTOCOL);
        ck_assert_int_eq(feed_final(s, "c=biws,r=abcSN,p=x", 18, &out, err, sizeof err),
                         WIRE_SCRAM_FAIL_PROTOCOL);
        wire_scram_server_free(s);
        wire_buf_free(&out);
    }
}
END_TEST

START_TEST(test_client_first_every_prefix)
{
    wire_scram_verifier v;
    rfc_verifier(&v);
    const char *msg = RFC_CLIENT_FIRST;
    size_t full = strlen(msg);
    for (size_t n = 0; n < full; n++) {
        wire_scram_server *s = wire_scram_server_new(&v, "u", "SN");
        wire_buf out;
        wire_buf_init(&out);
        wire_scram_status st = feed_first(s, msg, n, &out, NULL, 0); /* err is optional */
        /* a prefix that ends inside the nonce is still a valid message */
        if (n > strlen("n,,n=user,r="))
            ck_assert_int_eq(st, WIRE_SCRAM_CONTINUE);
        else
            ck_assert_int_eq(st, WIRE_SCRAM_FAIL_PROTOCOL);
        wire_scram_server_free(s);
        wire_buf_free(&out);
    }
}
END_TEST

START_TEST(test_client_first_extensions_and_y_flag)
{
    /* extensions after the nonce are ignored; "y,," (client supports binding,
     * thinks we do not) is accepted and must be echoed as c=eSws */
    wire_scram_server *s = rfc_server_after_first("y,,n=user,r=" RFC_CNONCE ",x=ext");
    wire_buf out;
    wire_buf_init(&out);
    char err[200] = "";
    const char *bad = "c=biws,r=" RFC_CNONCE RFC_SNONCE ",p=AAAA";
    ck_assert_int_eq(feed_final(s, bad, strlen(bad), &out, err, sizeof err),
                     WIRE_SCRAM_FAIL_PROTOCOL);
    ck_assert_ptr_nonnull(strstr(err, "channel binding"));
    wire_scram_server_free(s);

    /* with the right echo the exchange gets as far as checking the proof */
    s = rfc_server_after_first("y,,n=user,r=" RFC_CNONCE);
    const char *good =
        "c=eSws,r=" RFC_CNONCE RFC_SNONCE ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    /* the RFC proof was computed for "n,,", so it no longer matches */
    ck_assert_int_eq(feed_final(s, good, strlen(good), &out, err, sizeof err),
                     WIRE_SCRAM_FAIL_AUTH);
    wire_scram_server_free(s);
    wire_buf_free(&out);
}
END_TEST

/* ---- malformed client-final ---- */

START_TEST(test_client_final_malformed)
{
#define N RFC_CNONCE RFC_SNONCE
#define PROOF "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    static const struct {
        const char *msg;
        const char *err_part;
    } cases[] = {
        {"", "empty"},
        {"r=" N ",p=" PROOF, "\"c\""},
        {"c=biws", "\"r\""},
        {"c=biws,", "\"r\""},
        {"c=biws,p=" PROOF, "\"r\""},
        {"c=bi!s,r=" N ",p=" PROOF, "channel-binding data"},
        {"c=biw,r=" N ",p=" PROOF, "channel-binding data"},
        {"c=eSws,r=" N ",p=" PROOF, "channel binding check failed"},
        {"c=cD10bHMtc2VydmVyLWVuZC1wb2ludCws,r=" N ",p=" PROOF, "channel-binding data"},
        {"c=,r=" N ",p=" PROOF, "channel binding check failed"},
        {"c=biws,r=" RFC_CNONCE ",p=" PROOF, "nonce mismatch"},
        {"c=biws,r=" N "x,p=" PROOF, "nonce mismatch"},
        {"c=biws,r=" RFC_CNONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1,p=" PROOF, "nonce mismatch"},
        {"c=biws,r=,p=" PROOF, "nonce mismatch"},
        {"c=biws,r=" N, "could not find proof"},
        {"c=biws,r=" N ",x=ext", "could not find proof"},
        {"c=biws,r=" N ",", "malformed attribute"},
        {"c=biws,r=" N ",p", "malformed attribute"},
        {"c=biws,r=" N ",p=", "malformed proof"},
        {"c=biws,r=" N ",p=!!!!", "malformed proof"},
        {"c=biws,r=" N ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ", "malformed proof"},
        {"c=biws,r=" N ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=AAAA", "malformed proof"},
        {"c=biws,r=" N ",p=AAAA", "malformed proof"},
        {"c=biws,r=" N ",p=" PROOF ",x=ext", "garbage"},
        {"c=biws,r=" N ",p=" PROOF ",", "garbage"},
    };
#undef N
#undef PROOF
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wire_scram_server *s = rfc_server_after_first(RFC_CLIENT_FIRST);
        wire_buf out;
        wire_buf_init(&out);
        char err[200] = "";
        ck_assert_msg(feed_final(s, cases[i].msg, strlen(cases[i].msg), &out, err, sizeof err) ==
                          WIRE_SCRAM_FAIL_PROTOCOL,
                      "case %zu", i);
        ck_assert_msg(strstr(err, cases[i].err_part) != NULL, "case %zu: %s", i, err);
        ck_assert_uint_eq(out.len, 0);
        wire_scram_server_free(s);
        wire_buf_free(&out);
    }
    /* an embedded NUL */
    wire_scram_server *s = rfc_server_after_first(RFC_CLIENT_FIRST);
    wire_buf out;
    wire_buf_init(&out);
    char err[200] = "";
    ck_assert_int_eq(feed_final(s, "c=biws\0,r=", 10, &out, err, sizeof err),
                     WIRE_SCRAM_FAIL_PROTOCOL);
    ck_assert_ptr_nonnull(strstr(err, "NUL"));
    wire_scram_server_free(s);
    wire_buf_free(&out);
}
END_TEST

START_TEST(test_client_final_extension_before_proof)
{
    /* extensions before p= are allowed, but they are part of the AuthMessage,
     * so the RFC proof no longer matches: authentication (not protocol) fails */
    wire_scram_server *s = rfc_server_after_first(RFC_CLIENT_FIRST);
    wire_buf out;
    wire_buf_init(&out);
    char err[200] = "";
    const char *msg =
        RFC_CLIENT_FINAL_NO_PROOF ",x=ext,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    ck_assert_int_eq(feed_final(s, msg, strlen(msg), &out, err, sizeof err), WIRE_SCRAM_FAIL_AUTH);
    wire_scram_server_free(s);
    wire_buf_free(&out);
}
END_TEST

START_TEST(test_client_final_every_prefix)
{
    const char *msg = RFC_CLIENT_FINAL;
    size_t full = strlen(msg);
    for (size_t n = 0; n < full; n++) {
        wire_scram_server *s = rfc_server_after_first(RFC_CLIENT_FIRST);
        wire_buf out;
        wire_buf_init(&out);
        char err[200] = "";
        wire_scram_status st = feed_final(s, msg, n, &out, err, sizeof err);
        ck_assert_msg(st == WIRE_SCRAM_FAIL_PROTOCOL, "prefix %zu: %s", n,
                      wire_scram_status_str(st));
        ck_assert_uint_eq(out.len, 0);
        wire_scram_server_free(s);
        wire_buf_free(&out);
    }
}
END_TEST

START_TEST(test_wrong_proof_rfc)
{
    wire_scram_server *s = rfc_server_after_first(RFC_CLIENT_FIRST);
    wire_buf out;
    wire_buf_init(&out);
    char err[200] = "";
    const char *msg = RFC_CLIENT_FINAL_NO_PROOF ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVA=";
    ck_assert_int_eq(feed_final(s, msg, strlen(msg), &out, err, sizeof err), WIRE_SCRAM_FAIL_AUTH);
    ck_assert_uint_eq(out.len, 0);
    wire_scram_server_free(s);
    wire_buf_free(&out);
}
END_TEST

START_TEST(test_server_out_of_order)
{
    wire_scram_verifier v;
    rfc_verifier(&v);
    wire_scram_server *s = wire_scram_server_new(&v, "user", RFC_SNONCE);
    wire_buf out;
    wire_buf_init(&out);
    char err[200] = "";
    ck_assert_int_eq(
        feed_final(s, RFC_CLIENT_FINAL, strlen(RFC_CLIENT_FINAL), &out, err, sizeof err),
        WIRE_SCRAM_FAIL_PROTOCOL);
    ck_assert_ptr_nonnull(strstr(err, "out of order"));
    wire_scram_server_free(s);
    /* a second client-first */
    s = rfc_server_after_first(RFC_CLIENT_FIRST);
    ck_assert_int_eq(
        feed_first(s, RFC_CLIENT_FIRST, strlen(RFC_CLIENT_FIRST), &out, err, sizeof err),
        WIRE_SCRAM_FAIL_PROTOCOL);
    ck_assert_ptr_nonnull(strstr(err, "out of order"));
    wire_scram_server_free(s);
    wire_buf_free(&out);
}
END_TEST

START_TEST(test_garbage_client_messages)
{
    wire_scram_verifier v;
    rfc_verifier(&v);
    uint32_t seed = 4242;
    static const char alphabet[] = "npyrcsiv=,abcXYZ0189+/\x01\xff";
    for (int iter = 0; iter < 3000; iter++) {
        char msg[48];
        size_t n = test_rand(&seed) % sizeof msg;
        for (size_t i = 0; i < n; i++)
            msg[i] = alphabet[test_rand(&seed) % (sizeof alphabet - 1)];
        wire_scram_server *s = wire_scram_server_new(&v, "u", "SN");
        wire_buf out;
        wire_buf_init(&out);
        char err[64];
        wire_scram_status st = feed_first(s, msg, n, &out, err, sizeof err);
        ck_assert(st == WIRE_SCRAM_CONTINUE || st == WIRE_SCRAM_FAIL_PROTOCOL);
        if (st == WIRE_SCRAM_CONTINUE) {
            st = feed_final(s, msg, n, &out, err, sizeof err);
            ck_assert(st != WIRE_SCRAM_OK && st != WIRE_SCRAM_CONTINUE);
        }
        wire_scram_server_free(s);
        wire_buf_free(&out);
    }
}
END_TEST

START_TEST(test_status_str)
{
    ck_assert_str_eq(wire_scram_status_str(WIRE_SCRAM_CONTINUE), "continue");
    ck_assert_str_eq(wire_scram_status_str(WIRE_SCRAM_OK), "ok");
    ck_assert_str_eq(wire_scram_status_str(WIRE_SCRAM_FAIL_AUTH), "authentication failed");
    ck_assert_str_eq(wire_scram_status_str(WIRE_SCRAM_FAIL_PROTOCOL), "protocol violation");
    ck_assert_str_eq(wire_scram_status_str((wire_scram_status)17), "unknown");
}
END_TEST

/* ---- channel binding (SCRAM-SHA-256-PLUS) ---- */

/* One exchange where the client binds to client_cb (NULL: "n,,") and the
 * server was told (plus, server_cb); err gets the server's reason. */
static wire_scram_status bound_exchange(const uint8_t *client_cb, bool plus,
                                        const uint8_t *server_cb, size_t server_cb_len, char *err,
                                        size_t errlen)
{
    wire_scram_verifier v;
    ck_assert(wire_scram_verifier_parse(PG_VERIFIER, &v));
    wire_scram_server *s = wire_scram_server_new(&v, "alice", NULL);
    wire_scram_client *c = wire_scram_client_new("pencil", NULL);
    ck_assert(wire_scram_server_bind(s, plus, server_cb, server_cb_len));
    if (client_cb)
        ck_assert(wire_scram_client_bind(c, client_cb, 32));
    wire_buf a, b;
    wire_buf_init(&a);
    wire_buf_init(&b);
    ck_assert(wire_scram_client_first(c, &a));
    wire_scram_status st = wire_scram_server_first(s, a.data, a.len, &b, err, errlen);
    if (st == WIRE_SCRAM_CONTINUE) {
        wire_buf_reset(&a);
        ck_assert(wire_scram_client_final(c, b.data, b.len, &a));
        wire_buf_reset(&b);
        st = wire_scram_server_final(s, a.data, a.len, &b, err, errlen);
        if (st == WIRE_SCRAM_OK)
            ck_assert(wire_scram_client_verify(c, b.data, b.len));
    }
    wire_scram_server_free(s);
    wire_scram_client_free(c);
    wire_buf_free(&a);
    wire_buf_free(&b);
    return st;
}

START_TEST(test_channel_binding)
{
    uint8_t ours[32], theirs[32];
    memset(ours, 0xA5, sizeof ours);
    memset(theirs, 0x5A, sizeof theirs);
    char err[300] = "";
    /* PLUS, both sides see the same certificate hash */
    ck_assert_int_eq(bound_exchange(ours, true, ours, 32, err, sizeof err), WIRE_SCRAM_OK);
    /* a man in the middle: the client saw another certificate */
    err[0] = 0;
    ck_assert_int_eq(bound_exchange(theirs, true, ours, 32, err, sizeof err),
                     WIRE_SCRAM_FAIL_PROTOCOL);
    ck_assert_ptr_nonnull(strstr(err, "channel binding check failed"));
    /* PLUS chosen, but the client sends "n,,": refused */
    ck_assert_int_eq(bound_exchange(NULL, true, ours, 32, err, sizeof err),
                     WIRE_SCRAM_FAIL_PROTOCOL);
    ck_assert_ptr_nonnull(strstr(err, "does not include channel binding data"));
    /* plain SCRAM over TLS with "n,,": fine */
    ck_assert_int_eq(bound_exchange(NULL, false, ours, 32, err, sizeof err), WIRE_SCRAM_OK);
    /* plain SCRAM chosen, but the client binds: refused */
    ck_assert_int_eq(bound_exchange(ours, false, ours, 32, err, sizeof err),
                     WIRE_SCRAM_FAIL_PROTOCOL);
    ck_assert_ptr_nonnull(strstr(err, "without channel binding"));
    /* binding without TLS at all */
    ck_assert_int_eq(bound_exchange(ours, false, NULL, 0, err, sizeof err),
                     WIRE_SCRAM_FAIL_PROTOCOL);
    ck_assert_ptr_nonnull(strstr(err, "does not use TLS"));
    /* PLUS needs data */
    wire_scram_server *s = wire_scram_server_new(NULL, "alice", NULL);
    ck_assert(!wire_scram_server_bind(s, true, NULL, 0));
    wire_scram_server_free(s);
}
END_TEST

START_TEST(test_channel_binding_downgrade_and_types)
{
    uint8_t cb[32];
    memset(cb, 1, sizeof cb);
    wire_scram_verifier v;
    rfc_verifier(&v);
    static const struct {
        bool plus;
        const char *msg;
        const char *err_part;
    } cases[] = {
        /* "y": the client could bind but thinks we cannot; we could: a downgrade */
        {false, "y,,n=,r=abc", "negotiation error"},
        {true, "p=tls-unique,,n=,r=abc", "unsupported SCRAM channel-binding type"},
        {true, "p=tls-server-end-point2,,n=,r=abc", "unsupported"},
        {true, "p,,n=,r=abc", "malformed channel-binding type"},
        {true, "p=tls-server-end-point,a=x,n=,r=abc", "authorization identity"},
        {true, "y,,n=,r=abc", "does not include channel binding data"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wire_scram_server *s = wire_scram_server_new(&v, "u", "SN");
        ck_assert(wire_scram_server_bind(s, cases[i].plus, cb, sizeof cb));
        wire_buf out;
        wire_buf_init(&out);
        char err[300] = "";
        ck_assert_msg(feed_first(s, cases[i].msg, strlen(cases[i].msg), &out, err, sizeof err) ==
                          WIRE_SCRAM_FAIL_PROTOCOL,
                      "case %zu", i);
        ck_assert_msg(strstr(err, cases[i].err_part) != NULL, "case %zu: %s", i, err);
        wire_scram_server_free(s);
        wire_buf_free(&out);
    }
    /* "y" is fine when the server has nothing to bind to */
    wire_scram_server *s = wire_scram_server_new(&v, "u", "SN");
    ck_assert(wire_scram_server_bind(s, false, NULL, 0));
    wire_buf out;
    wire_buf_init(&out);
    ck_assert_int_eq(feed_first(s, "y,,n=,r=abc", 11, &out, NULL, 0), WIRE_SCRAM_CONTINUE);
    /* and the bind must come first */
    ck_assert(!wire_scram_server_bind(s, false, NULL, 0));
    wire_scram_server_free(s);
    wire_buf_free(&out);
}
END_TEST

static Suite *scram_suite(void)
{
    Suite *s = suite_create("wire_scram");
    TCase *tv = tcase_create("verifier");
    tcase_add_test(tv, test_verifier_parse_postgres);
    tcase_add_test(tv, test_verifier_from_password_rfc);
    tcase_add_test(tv, test_verifier_random_salt);
    tcase_add_test(tv, test_verifier_from_password_bad_args);
    tcase_add_test(tv, test_verifier_roundtrip_max_salt);
    tcase_add_test(tv, test_verifier_parse_rejects);
    suite_add_tcase(s, tv);

    TCase *ts = tcase_create("server");
    tcase_set_timeout(ts, 60);
    tcase_add_test(ts, test_server_rfc7677);
    tcase_add_test(ts, test_server_random_nonce);
    tcase_add_test(ts, test_server_new_bad_nonce);
    tcase_add_test(ts, test_client_first_malformed);
    tcase_add_test(ts, test_client_first_every_prefix);
    tcase_add_test(ts, test_client_first_extensions_and_y_flag);
    tcase_add_test(ts, test_client_final_malformed);
    tcase_add_test(ts, test_client_final_extension_before_proof);
    tcase_add_test(ts, test_client_final_every_prefix);
    tcase_add_test(ts, test_wrong_proof_rfc);
    tcase_add_test(ts, test_server_out_of_order);
    tcase_add_test(ts, test_garbage_client_messages);
    tcase_add_test(ts, test_status_str);
    suite_add_tcase(s, ts);

    TCase *tc = tcase_create("client");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_client_vector);
    tcase_add_test(tc, test_client_key_cache);
    tcase_add_test(tc, test_client_new_bad_args);
    tcase_add_test(tc, test_client_out_of_order);
    tcase_add_test(tc, test_client_rejects_bad_server_first);
    tcase_add_test(tc, test_client_accepts_extensions);
    tcase_add_test(tc, test_client_verify_rejects);
    suite_add_tcase(s, tc);

    TCase *tr = tcase_create("round trip");
    tcase_set_timeout(tr, 60);
    tcase_add_test(tr, test_round_trip_ok);
    tcase_add_test(tr, test_round_trip_wrong_password);
    tcase_add_test(tr, test_pass_through);
    tcase_add_test(tr, test_round_trip_unknown_user);
    tcase_add_test(tr, test_mock_salt_is_stable);
    tcase_add_test(tr, test_channel_binding);
    tcase_add_test(tr, test_channel_binding_downgrade_and_types);
    suite_add_tcase(s, tr);
    return s;
}

int main(void)
{
    return test_run(scram_suite());
}
