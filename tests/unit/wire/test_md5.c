/*
 * Tests for wire/md5.c against vectors computed independently with md5sum:
 *   echo -n secretalice | md5sum      -> 4a0a68b43b6cd5cf266fa02f196e2371
 *   md5("4a0a68b4...2371" || 01 02 03 04) -> 98a0412b9c31436fc53776e863350083
 * (PostgreSQL stores "md54a0a68b4..." for user alice with password secret.)
 */
#include "test_util.h"
#include "wire_internal.h"

static const uint8_t salt[4] = {1, 2, 3, 4};
#define STORED "md54a0a68b43b6cd5cf266fa02f196e2371"
#define RESPONSE "md598a0412b9c31436fc53776e863350083"

START_TEST(test_password_hash)
{
    char out[36];
    wire_md5_password_hash("secret", "alice", out);
    ck_assert_str_eq(out, STORED);
    wire_md5_password_hash("", "", out);
    ck_assert_str_eq(out, "md5d41d8cd98f00b204e9800998ecf8427e");
}
END_TEST

START_TEST(test_check_plain_password)
{
    ck_assert(wire_md5_check("secret", "alice", salt, RESPONSE));
}
END_TEST

START_TEST(test_check_stored_hash)
{
    ck_assert(wire_md5_check(STORED, "alice", salt, RESPONSE));
    /* the stored hash already includes the user: the user argument is not rehashed */
    ck_assert(wire_md5_check(STORED, "someone-else", salt, RESPONSE));
}
END_TEST

START_TEST(test_check_failures)
{
    static const uint8_t other_salt[4] = {1, 2, 3, 5};
    ck_assert(!wire_md5_check("secret", "alice", other_salt, RESPONSE));
    ck_assert(!wire_md5_check("Secret", "alice", salt, RESPONSE));
    ck_assert(!wire_md5_check("secret", "bob", salt, RESPONSE));
    ck_assert(!wire_md5_check("secret", "alice", salt, "md598a0412b9c31436fc53776e863350084"));
    ck_assert(!wire_md5_check("secret", "alice", salt, "md598a0412b9c31436fc53776e86335008"));
    ck_assert(!wire_md5_check("secret", "alice", salt, RESPONSE "0"));
    ck_assert(!wire_md5_check("secret", "alice", salt, "MD598A0412B9C31436FC53776E863350083"));
    ck_assert(!wire_md5_check("secret", "alice", salt, ""));
    ck_assert(!wire_md5_check("secret", "alice", salt, "secret"));
    ck_assert(!wire_md5_check(NULL, "alice", salt, RESPONSE));
    ck_assert(!wire_md5_check("secret", NULL, salt, RESPONSE));
    ck_assert(!wire_md5_check("secret", "alice", NULL, RESPONSE));
    ck_assert(!wire_md5_check("secret", "alice", salt, NULL));
}
END_TEST

START_TEST(test_scram_verifier_cannot_answer_md5)
{
    ck_assert(!wire_md5_check("SCRAM-SHA-256$4096:1FjpQTgCx8JqgvTL7OzUCg==$iDdMgbFj0bwPCzPHUViOA0"
                              "86YTWMYIuBNDnPRkO3pCw=:/oW8b0UOkqy85LiPoTV8Fu9HUzrGP4UavBGH9td21Hs=",
                              "alice", salt, RESPONSE));
}
END_TEST

/* What a client sends for a plain password: "md5" + hex(md5(hex_inner || salt)). */
static void client_response(const char *pw, const char *user, const uint8_t s[4], char out[36])
{
    char inner[36];
    uint8_t buf[36], d[WIRE_MD5_LEN];
    wire_md5_password_hash(pw, user, inner);
    memcpy(buf, inner + 3, 32);
    memcpy(buf + 32, s, 4);
    ck_assert(wire_md5(buf, sizeof buf, d));
    memcpy(out, "md5", 3);
    wire_hex_encode(d, sizeof d, out + 3);
}

START_TEST(test_client_response_helper)
{
    char resp[36];
    client_response("secret", "alice", salt, resp);
    ck_assert_str_eq(resp, RESPONSE);
}
END_TEST

START_TEST(test_client_response)
{
    char resp[36];
    ck_assert(wire_md5_client_response("secret", "alice", salt, resp));
    ck_assert_str_eq(resp, RESPONSE);
    ck_assert(wire_md5_check("secret", "alice", salt, resp));
    ck_assert(wire_md5_client_response("secret", "bob", salt, resp));
    ck_assert(!wire_md5_check("secret", "alice", salt, resp));
}
END_TEST

START_TEST(test_client_response_from_hash)
{
    /* A stored hash answers as the password it was made from. */
    char hash[36], resp[36];
    wire_md5_password_hash("secret", "alice", hash);
    ck_assert(wire_md5_client_response(hash, "alice", salt, resp));
    ck_assert_str_eq(resp, RESPONSE);
    ck_assert(wire_md5_check("secret", "alice", salt, resp));
    /* a look-alike is a password like any other */
    hash[5] = 'G';
    ck_assert(wire_md5_client_response(hash, "alice", salt, resp));
    ck_assert_str_ne(resp, RESPONSE);
}
END_TEST

START_TEST(test_hash_lookalikes_are_passwords)
{
    /* Upper-case hex or a wrong length is not PostgreSQL's md5 form, so it is
     * a plain password, hashed with the user like any other. */
    static const char *lookalikes[] = {
        "MD54A0A68B43B6CD5CF266FA02F196E2371", "md54A0A68B43B6CD5CF266FA02F196E2371",
        "md54a0a68b43b6cd5cf266fa02f196e237",  "md54a0a68b43b6cd5cf266fa02f196e23710",
        "md54a0a68b43b6cd5cf266fa02f196e237g",
    };
    for (size_t i = 0; i < sizeof lookalikes / sizeof lookalikes[0]; i++) {
        char resp[36];
        client_response(lookalikes[i], "alice", salt, resp);
        ck_assert_msg(wire_md5_check(lookalikes[i], "alice", salt, resp), "%zu", i);
        ck_assert(!wire_md5_check(lookalikes[i], "alice", salt, RESPONSE));
    }
}
END_TEST

START_TEST(test_long_password)
{
    /* longer than md5.c's stack buffer: takes the heap path */
    char pw[2000];
    memset(pw, 'x', sizeof pw - 1);
    pw[sizeof pw - 1] = '\0';
    char stored[36], resp[36];
    wire_md5_password_hash(pw, "alice", stored);
    ck_assert_uint_eq(strlen(stored), 35);
    client_response(pw, "alice", salt, resp);
    ck_assert(wire_md5_check(pw, "alice", salt, resp));
    ck_assert(wire_md5_check(stored, "alice", salt, resp));
    pw[0] = 'y';
    ck_assert(!wire_md5_check(pw, "alice", salt, resp));
}
END_TEST

static Suite *md5_suite(void)
{
    Suite *s = suite_create("wire_md5");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_password_hash);
    tcase_add_test(tc, test_client_response_helper);
    tcase_add_test(tc, test_client_response);
    tcase_add_test(tc, test_client_response_from_hash);
    tcase_add_test(tc, test_check_plain_password);
    tcase_add_test(tc, test_check_stored_hash);
    tcase_add_test(tc, test_check_failures);
    tcase_add_test(tc, test_scram_verifier_cannot_answer_md5);
    tcase_add_test(tc, test_hash_lookalikes_are_passwords);
    tcase_add_test(tc, test_long_password);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return test_run(md5_suite());
}
