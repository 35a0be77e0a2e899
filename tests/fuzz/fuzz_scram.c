/*
 * libFuzzer target: SCRAM-SHA-256 (wire/scram.c).
 *
 * Input: one flags byte, then a first message, a NUL, and a second message
 * (which may itself hold NULs; without a NUL there is only the first).
 * flags & 3 picks what the messages drive:
 *   0, 1  the server side against a fixed verifier (password "pencil", the
 *         salt, iterations and nonces of RFC 7677's example, so that the
 *         seed corpus holds exchanges that succeed): client-first-message,
 *         then client-final-message.  flags 0x04: no verifier (an unknown
 *         user's doomed exchange); 0x08: bind the exchange to channel-binding
 *         data first (0x10: the client chose SCRAM-SHA-256-PLUS; 0x20: the
 *         connection has tls-server-end-point data), when wire.h has it.
 *   2     the client side (Dormouse logging in to an upstream server):
 *         server-first-message, then server-final-message.  flags 0x08 binds
 *         the client to channel-binding data.
 *   3     the verifier text of an auth file (first message only), which must
 *         format and parse back to the same verifier.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dormouse/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define PASSWORD "pencil"
#define SALT_B64 "W22ZaJ0SNY7soEsUEjb6gQ=="
#define SERVER_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define CLIENT_NONCE "rOprNGfwEbeRWgbNEkqO"

/* The base64 salt of RFC 7677, decoded. */
static const uint8_t salt[16] = {0x5b, 0x6d, 0x99, 0x68, 0x9d, 0x12, 0x35, 0x8e,
                                 0xec, 0xa0, 0x4b, 0x14, 0x12, 0x36, 0xfa, 0x81};
/* What tls-server-end-point data looks like: a SHA-256 of a certificate. */
static const uint8_t cb_data[32] = {1, 2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                    12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                    23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

static wire_scram_verifier verifier;
static bool verifier_ready;

static const wire_scram_verifier *fixed_verifier(void)
{
    /* PBKDF2 once, not per input. */
    if (!verifier_ready) {
        if (!wire_scram_verifier_from_password(PASSWORD, salt, sizeof salt,
                                               WIRE_SCRAM_DEFAULT_ITERATIONS, &verifier))
            abort();
        verifier_ready = true;
    }
    return &verifier;
}

static void run_server(uint8_t flags, const uint8_t *m1, size_t l1, const uint8_t *m2, size_t l2,
                       bool have_m2)
{
    wire_scram_server *s =
        wire_scram_server_new(flags & 0x04 ? NULL : fixed_verifier(), "user", SERVER_NONCE);
    if (!s)
        abort();
#ifdef WIRE_SCRAM_CB_MAX
    if (flags & 0x08) {
        bool plus = flags & 0x10;
        bool have_cb = flags & 0x20;
        bool ok = wire_scram_server_bind(s, plus, have_cb ? cb_data : NULL,
                                         have_cb ? sizeof cb_data : 0);
        if (ok != (!plus || have_cb))
            abort();
    }
#endif
    wire_buf out;
    wire_buf_init(&out);
    char err[256] = "";
    uint8_t key[WIRE_SCRAM_KEY_LEN];
    wire_scram_status st = wire_scram_server_first(s, m1, l1, &out, err, sizeof err);
    if (!wire_scram_status_str(st) || (st != WIRE_SCRAM_CONTINUE && st != WIRE_SCRAM_FAIL_PROTOCOL))
        abort();
    if (st == WIRE_SCRAM_FAIL_PROTOCOL && (err[0] == '\0' || out.len != 0))
        abort();
    if (st == WIRE_SCRAM_CONTINUE && have_m2) {
        wire_buf_reset(&out);
        err[0] = '\0';
        st = wire_scram_server_final(s, m2, l2, &out, err, sizeof err);
        if (!wire_scram_status_str(st) || st == WIRE_SCRAM_CONTINUE)
            abort();
        if (st != WIRE_SCRAM_OK && err[0] == '\0')
            abort();
        /* Only a proof of the right password gets in, never an unknown user. */
        bool have_key = wire_scram_server_client_key(s, key);
        if ((st == WIRE_SCRAM_OK) != have_key || (st == WIRE_SCRAM_OK && (flags & 0x04)))
            abort();
        if (st == WIRE_SCRAM_OK && (out.len < 3 || memcmp(out.data, "v=", 2) != 0))
            abort();
    }
    /* The exchange is over (or failed): any further message is out of order. */
    if (wire_scram_server_first(s, m1, l1, &out, err, sizeof err) != WIRE_SCRAM_FAIL_PROTOCOL)
        abort();
    wire_buf_free(&out);
    wire_scram_server_free(s);
}

static void run_client(uint8_t flags, const uint8_t *m1, size_t l1, const uint8_t *m2, size_t l2,
                       bool have_m2)
{
    /* Keys mode: a fuzzed iteration count must not make every input run PBKDF2. */
    static const uint8_t client_key[WIRE_SCRAM_KEY_LEN] = {7};
    static const uint8_t server_key[WIRE_SCRAM_KEY_LEN] = {9};
    wire_scram_client *c = wire_scram_client_new_keys(client_key, server_key, CLIENT_NONCE);
    if (!c)
        abort();
#ifdef WIRE_SCRAM_CB_MAX
    if ((flags & 0x08) && !wire_scram_client_bind(c, cb_data, sizeof cb_data))
        abort();
#endif
    wire_buf out;
    wire_buf_init(&out);
    if (!wire_scram_client_first(c, &out))
        abort();
    wire_buf_reset(&out);
    if (wire_scram_client_final(c, m1, l1, &out) && have_m2)
        (void)wire_scram_client_verify(c, m2, l2);
    wire_buf_free(&out);
    wire_scram_client_free(c);
}

static void run_verifier(const uint8_t *m1, size_t l1)
{
    char *text = malloc(l1 + 1);
    if (!text)
        return;
    memcpy(text, m1, l1);
    text[l1] = '\0';
    wire_scram_verifier v, again;
    if (wire_scram_verifier_parse(text, &v)) {
        char formatted[512];
        if (!wire_scram_verifier_format(&v, formatted, sizeof formatted) ||
            !wire_scram_verifier_parse(formatted, &again) || again.iterations != v.iterations ||
            again.salt_len != v.salt_len || memcmp(again.salt, v.salt, v.salt_len) != 0 ||
            memcmp(again.stored_key, v.stored_key, sizeof v.stored_key) != 0 ||
            memcmp(again.server_key, v.server_key, sizeof v.server_key) != 0)
            abort();
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t flags = data[0];
    data++;
    size--;
    const uint8_t *nul = memchr(data, 0, size);
    size_t l1 = nul ? (size_t)(nul - data) : size;
    size_t l2 = nul ? size - l1 - 1 : 0;
    /* Exact-size copies, so that ASan sees any read past a message. */
    uint8_t *m1 = malloc(l1 ? l1 : 1);
    uint8_t *m2 = malloc(l2 ? l2 : 1);
    if (m1 && m2) {
        memcpy(m1, data, l1);
        if (l2)
            memcpy(m2, nul + 1, l2);
        switch (flags & 3) {
        case 0:
        case 1:
            run_server(flags, m1, l1, m2, l2, nul != NULL);
            break;
        case 2:
            run_client(flags, m1, l1, m2, l2, nul != NULL);
            break;
        default:
            run_verifier(m1, l1);
            break;
        }
    }
    free(m1);
    free(m2);
    return 0;
}
