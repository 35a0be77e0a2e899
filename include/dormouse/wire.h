/*
 * wire: the PostgreSQL v3 protocol as a pure codec.
 *
 * Bytes in, messages out; messages in, bytes out.  No sockets, no threads, no
 * event loop, no global state: every function works on (pointer, length) and
 * may be called from any thread.  Parsers trust nothing: the length is checked
 * before the body, sizes are bounded, and every string is checked to be
 * NUL-terminated inside its message.  Parsed results point into the caller's
 * buffer (they are views, not copies) and are valid while that buffer is.
 *
 * Also here: the server side of md5 and SCRAM-SHA-256 authentication (OpenSSL
 * for hashing and randomness), and the SQLSTATE codes Dormouse sends.
 */
#ifndef DORMOUSE_WIRE_H
#define DORMOUSE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- limits and protocol constants ---- */

#define WIRE_PROTOCOL_3_0 0x00030000u
#define WIRE_SSL_REQUEST_CODE 80877103u    /* 1234.5679 */
#define WIRE_GSSENC_REQUEST_CODE 80877104u /* 1234.5680 */
#define WIRE_CANCEL_REQUEST_CODE 80877102u /* 1234.5678 */
#define WIRE_MAX_PACKET_SIZE_DEFAULT (64u * 1024u * 1024u)
#define WIRE_MAX_STARTUP_PACKET 10000u /* PostgreSQL's MAX_STARTUP_PACKET_LENGTH */
#define WIRE_NAME_MAX 64               /* NAMEDATALEN: names are at most 63 bytes */
#define WIRE_STARTUP_MAX_PARAMS 64

/* ---- SQLSTATE codes ---- */

#define WIRE_SQLSTATE_SUCCESSFUL "00000"
#define WIRE_SQLSTATE_CONNECTION_FAILURE "08006"
#define WIRE_SQLSTATE_PROTOCOL_VIOLATION "08P01"
#define WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED "0A000"
#define WIRE_SQLSTATE_INVALID_AUTHORIZATION "28000"
#define WIRE_SQLSTATE_INVALID_PASSWORD "28P01"
#define WIRE_SQLSTATE_INVALID_CATALOG_NAME "3D000"
#define WIRE_SQLSTATE_IN_FAILED_TRANSACTION "25P02"
#define WIRE_SQLSTATE_ACTIVE_SQL_TRANSACTION "25001"
#define WIRE_SQLSTATE_NO_ACTIVE_SQL_TRANSACTION "25P01"
#define WIRE_SQLSTATE_SERIALIZATION_FAILURE "40001"
#define WIRE_SQLSTATE_SYNTAX_ERROR "42601"
#define WIRE_SQLSTATE_UNDEFINED_TABLE "42P01"
#define WIRE_SQLSTATE_UNDEFINED_COLUMN "42703"
#define WIRE_SQLSTATE_UNDEFINED_FUNCTION "42883"
#define WIRE_SQLSTATE_DUPLICATE_TABLE "42P07"
#define WIRE_SQLSTATE_DATATYPE_MISMATCH "42804"
#define WIRE_SQLSTATE_UNIQUE_VIOLATION "23505"
#define WIRE_SQLSTATE_NOT_NULL_VIOLATION "23502"
#define WIRE_SQLSTATE_FOREIGN_KEY_VIOLATION "23503"
#define WIRE_SQLSTATE_CHECK_VIOLATION "23514"
#define WIRE_SQLSTATE_INTEGRITY_VIOLATION "23000"
#define WIRE_SQLSTATE_DIVISION_BY_ZERO "22012"
#define WIRE_SQLSTATE_DATA_EXCEPTION "22000"
#define WIRE_SQLSTATE_INVALID_TEXT_REPRESENTATION "22P02"
#define WIRE_SQLSTATE_INVALID_BINARY_REPRESENTATION "22P03"
#define WIRE_SQLSTATE_INVALID_PARAMETER_VALUE "22023"
#define WIRE_SQLSTATE_NUMERIC_VALUE_OUT_OF_RANGE "22003"
#define WIRE_SQLSTATE_INVALID_SQL_STATEMENT_NAME "26000"
#define WIRE_SQLSTATE_INVALID_CURSOR_NAME "34000"
#define WIRE_SQLSTATE_DUPLICATE_PREPARED_STATEMENT "42P05"
#define WIRE_SQLSTATE_OBJECT_NOT_IN_PREREQUISITE_STATE "55000"
#define WIRE_SQLSTATE_PROGRAM_LIMIT_EXCEEDED "54000"
#define WIRE_SQLSTATE_TOO_MANY_CONNECTIONS "53300"
#define WIRE_SQLSTATE_IDLE_IN_TRANSACTION_TIMEOUT "25P03"
#define WIRE_SQLSTATE_CONFIGURATION_LIMIT_EXCEEDED "53400"
#define WIRE_SQLSTATE_DISK_FULL "53100"
#define WIRE_SQLSTATE_OUT_OF_MEMORY "53200"
#define WIRE_SQLSTATE_QUERY_CANCELED "57014"
#define WIRE_SQLSTATE_ADMIN_SHUTDOWN "57P01"
#define WIRE_SQLSTATE_CANNOT_CONNECT_NOW "57P03"
#define WIRE_SQLSTATE_IO_ERROR "58030"
#define WIRE_SQLSTATE_INTERNAL_ERROR "XX000"
#define WIRE_SQLSTATE_DATA_CORRUPTED "XX001"

/* ---- output buffer ---- */

/*
 * A growable byte buffer that backend messages are appended to.  On allocation
 * failure the buffer sets `oom` and ignores further appends, so builders need
 * no error checks; the owner checks `oom` once before sending.
 */
typedef struct wire_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    bool oom;
} wire_buf;

void wire_buf_init(wire_buf *b);
void wire_buf_free(wire_buf *b);  /* releases the storage; the struct may be reused after init */
void wire_buf_reset(wire_buf *b); /* len = 0, keeps capacity */
/* Drops the first n bytes (n <= len), moving the rest to the front. */
void wire_buf_consume(wire_buf *b, size_t n);
/* Ensures room for `extra` more bytes; returns false (and sets oom) on failure. */
bool wire_buf_reserve(wire_buf *b, size_t extra);
void wire_buf_append(wire_buf *b, const void *p, size_t n);
void wire_buf_put_u8(wire_buf *b, uint8_t v);
void wire_buf_put_u16(wire_buf *b, uint16_t v); /* network byte order */
void wire_buf_put_u32(wire_buf *b, uint32_t v); /* network byte order */
void wire_buf_put_cstr(wire_buf *b, const char *s); /* with its terminating NUL */

/* Starts a message of `type`; returns the offset to pass to wire_msg_end(). */
size_t wire_msg_begin(wire_buf *b, char type);
/* Patches the length word of the message started at `start`. */
void wire_msg_end(wire_buf *b, size_t start);

/* ---- framing ---- */

typedef enum wire_frame_status {
    WIRE_FRAME_OK = 0,     /* a whole message is in the buffer */
    WIRE_FRAME_INCOMPLETE, /* need more bytes; nothing consumed */
    WIRE_FRAME_TOO_LARGE,  /* declared length exceeds the limit */
    WIRE_FRAME_INVALID,    /* declared length is impossible (< 4) */
} wire_frame_status;

const char *wire_frame_status_str(wire_frame_status s);

/* One message: `type` is 0 for the untyped startup-phase packets. */
typedef struct wire_frame {
    char type;
    const uint8_t *body; /* points into the input */
    uint32_t body_len;   /* bytes after the length word */
    size_t total_len;    /* bytes the whole message occupies in the input */
} wire_frame;

/* A typed message: 1 type byte, int32 length (including itself), body. */
wire_frame_status wire_frame_parse(const uint8_t *p, size_t len, size_t max_size, wire_frame *out);
/* An untyped startup-phase packet: int32 length, body; at most WIRE_MAX_STARTUP_PACKET. */
wire_frame_status wire_startup_frame_parse(const uint8_t *p, size_t len, wire_frame *out);

/* ---- the startup packet ---- */

typedef enum wire_startup_kind {
    WIRE_STARTUP_NORMAL = 0, /* protocol 3.x StartupMessage */
    WIRE_STARTUP_SSL,        /* SSLRequest */
    WIRE_STARTUP_GSSENC,     /* GSSENCRequest */
    WIRE_STARTUP_CANCEL,     /* CancelRequest */
    WIRE_STARTUP_BAD_VERSION,/* well-formed but an unsupported protocol version */
    WIRE_STARTUP_INVALID,    /* malformed; `error` says why */
} wire_startup_kind;

const char *wire_startup_kind_str(wire_startup_kind k);

typedef struct wire_param {
    const char *name;
    const char *value;
} wire_param;

typedef struct wire_startup {
    wire_startup_kind kind;
    uint32_t version;
    /* NORMAL: well-known parameters (NULL when absent) and all of them in order. */
    const char *user;
    const char *database; /* defaults to user when absent, as PostgreSQL does */
    const char *application_name;
    const char *options;
    wire_param params[WIRE_STARTUP_MAX_PARAMS];
    int nparams;
    /* CANCEL */
    uint32_t cancel_pid;
    uint32_t cancel_key;
    /* INVALID / BAD_VERSION: a message fit for an ErrorResponse */
    char error[160];
} wire_startup;

/* Parses the body of a startup-phase packet (after its length word). Returns
 * the kind, also stored in out->kind. user is required for NORMAL; a missing
 * user makes the packet INVALID ("no PostgreSQL user name specified in startup packet"). */
wire_startup_kind wire_startup_parse(const uint8_t *body, size_t len, wire_startup *out);

/* Encodes a StartupMessage (for tests and the upstream client side). */
void wire_put_startup(wire_buf *b, const wire_param *params, int n);

/* ---- frontend messages ---- */

/* Each returns false when the body is malformed (missing NUL, trailing bytes,
 * negative lengths).  Output pointers point into the frame. */
bool wire_query_parse(const wire_frame *f, const char **sql, size_t *sql_len);   /* 'Q' */
bool wire_password_parse(const wire_frame *f, const char **password);             /* 'p' */
/* 'p' as SASLInitialResponse: mechanism name, then int32 length (-1: none) and data. */
bool wire_sasl_initial_parse(const wire_frame *f, const char **mechanism, const uint8_t **data,
                             size_t *data_len);
/* 'p' as SASLResponse: the whole body is the data. */
bool wire_sasl_response_parse(const wire_frame *f, const uint8_t **data, size_t *data_len);

/* ---- extended query protocol: frontend messages ---- */

/*
 * Parse 'P': statement name, query, int16 n, n parameter type OIDs (0 = let
 * the server decide).  The OIDs stay in the message: read them with
 * wire_parse_param_type().
 */
typedef struct wire_parse_msg {
    const char *name;  /* "" = the unnamed statement */
    const char *query; /* NUL-terminated inside the message */
    size_t query_len;
    uint16_t ntypes;
    const uint8_t *types; /* ntypes big-endian uint32s */
} wire_parse_msg;

/* A parameter value of a Bind message: a view into the message. */
typedef struct wire_value {
    const uint8_t *data; /* NULL for SQL NULL */
    int32_t len;         /* -1 for SQL NULL */
} wire_value;

/*
 * Bind 'B': portal, statement, int16 nformats + int16 format codes, int16
 * nparams + (int32 length (-1 = NULL), bytes) each, int16 nresults + int16
 * result format codes.  Counts are only checked against the bytes present;
 * whether nformats fits nparams (0, 1 or nparams) is the server's rule to
 * report, see wire_format_code().
 */
typedef struct wire_bind_msg {
    const char *portal;    /* "" = the unnamed portal */
    const char *statement; /* "" = the unnamed statement */
    uint16_t nformats;
    const uint8_t *formats; /* nformats big-endian int16s */
    uint16_t nparams;
    const uint8_t *params; /* the first parameter's length word */
    size_t params_len;     /* bytes of all the parameters */
    uint16_t nresults;
    const uint8_t *results; /* nresults big-endian int16s */
} wire_bind_msg;

/* Describe 'D' and Close 'C': 'S' (statement) or 'P' (portal), and a name. */
typedef struct wire_target_msg {
    char kind;
    const char *name;
} wire_target_msg;

/* Execute 'E': portal, int32 maximum rows (<= 0: no limit). */
typedef struct wire_execute_msg {
    const char *portal;
    int32_t max_rows;
} wire_execute_msg;

bool wire_parse_parse(const wire_frame *f, wire_parse_msg *out);
uint32_t wire_parse_param_type(const wire_parse_msg *m, uint16_t i); /* i < ntypes */
bool wire_bind_parse(const wire_frame *f, wire_bind_msg *out);
/* Fills values[0..nparams-1] (the caller provides nparams entries) from a
 * message wire_bind_parse() accepted. */
void wire_bind_values(const wire_bind_msg *m, wire_value *values);
/* Format code i of a list of n codes as the protocol applies it: no codes
 * means text for all, one code applies to all, else code i; -1 when i is
 * beyond a list of more than one code. */
int wire_format_code(const uint8_t *codes, uint16_t n, uint16_t i);
bool wire_describe_parse(const wire_frame *f, wire_target_msg *out); /* 'D' */
bool wire_close_parse(const wire_frame *f, wire_target_msg *out);    /* 'C' */
bool wire_execute_parse(const wire_frame *f, wire_execute_msg *out);
/* Sync 'S' and Flush 'H': the body must be empty. */
bool wire_sync_parse(const wire_frame *f);
bool wire_flush_parse(const wire_frame *f);

/* Frontend builders, for tests and the upstream client side.  A count that
 * does not fit the protocol's int16 marks the buffer failed (like oom). */
void wire_put_parse(wire_buf *b, const char *name, const char *query, const uint32_t *types,
                    int ntypes);
void wire_put_bind(wire_buf *b, const char *portal, const char *statement, const int16_t *formats,
                   int nformats, const wire_value *params, int nparams, const int16_t *results,
                   int nresults);
void wire_put_describe(wire_buf *b, char kind, const char *name);
void wire_put_execute(wire_buf *b, const char *portal, int32_t max_rows);
void wire_put_close(wire_buf *b, char kind, const char *name);
void wire_put_sync(wire_buf *b);
void wire_put_flush(wire_buf *b);

/* ---- backend messages ---- */

#define WIRE_AUTH_OK 0
#define WIRE_AUTH_CLEARTEXT 3
#define WIRE_AUTH_MD5 5
#define WIRE_AUTH_SASL 10
#define WIRE_AUTH_SASL_CONTINUE 11
#define WIRE_AUTH_SASL_FINAL 12

void wire_put_auth_ok(wire_buf *b);
void wire_put_auth_cleartext(wire_buf *b);
void wire_put_auth_md5(wire_buf *b, const uint8_t salt[4]);
void wire_put_auth_sasl(wire_buf *b, const char *const *mechanisms, int n);
void wire_put_auth_sasl_continue(wire_buf *b, const void *data, size_t len);
void wire_put_auth_sasl_final(wire_buf *b, const void *data, size_t len);
void wire_put_parameter_status(wire_buf *b, const char *name, const char *value);
void wire_put_backend_key(wire_buf *b, uint32_t pid, uint32_t key);
/* status: 'I' idle, 'T' in a transaction block, 'E' in a failed transaction block. */
void wire_put_ready(wire_buf *b, char status);
void wire_put_command_complete(wire_buf *b, const char *tag);
void wire_put_empty_query(wire_buf *b);
void wire_put_no_data(wire_buf *b);
void wire_put_parse_complete(wire_buf *b);    /* '1' */
void wire_put_bind_complete(wire_buf *b);     /* '2' */
void wire_put_close_complete(wire_buf *b);    /* '3' */
void wire_put_portal_suspended(wire_buf *b);  /* 's' */
/* 't': the parameter type OIDs of a prepared statement (n <= 65535). */
void wire_put_parameter_description(wire_buf *b, const uint32_t *oids, int n);

/* The fields of an ErrorResponse or NoticeResponse. NULL/0 fields are omitted. */
typedef struct wire_error {
    const char *severity; /* "ERROR", "FATAL", "PANIC", "WARNING", "NOTICE", ...; sent as S and V */
    const char *sqlstate; /* five characters */
    const char *message;
    const char *detail;
    const char *hint;
    int position; /* 1-based character position in the query, 0 = none */
    const char *context; /* 'W': where it happened, e.g. "COPY t, line 3" */
} wire_error;

void wire_put_error(wire_buf *b, const wire_error *e);  /* 'E' */
void wire_put_notice(wire_buf *b, const wire_error *e); /* 'N' */

/* Parses an ErrorResponse/NoticeResponse body (tests, upstream relay). Field
 * values point into the frame. Returns false if malformed. */
bool wire_error_parse(const wire_frame *f, wire_error *out);

typedef struct wire_column {
    const char *name;
    uint32_t table_oid;
    int16_t column;
    uint32_t type_oid;
    int16_t type_len;
    int32_t type_mod;
    int16_t format; /* 0 text, 1 binary */
} wire_column;

void wire_put_row_description(wire_buf *b, const wire_column *cols, int n);
/* DataRow: begin, then one field per column (len -1 = NULL), then wire_msg_end(). */
size_t wire_data_row_begin(wire_buf *b, uint16_t ncols);
void wire_data_row_field(wire_buf *b, const void *value, int32_t len);

/* ---- COPY sub-protocol ---- */

/* CopyInResponse 'G' / CopyOutResponse 'H': overall format 0 (text), then
 * ncols per-column format codes, all 0 (text and CSV are both "text" here).
 * A count the int16 cannot carry marks the buffer failed (like oom). */
void wire_put_copy_in_response(wire_buf *b, int ncols);
void wire_put_copy_out_response(wire_buf *b, int ncols);
/* CopyData 'd': the bytes as they are. */
void wire_put_copy_data(wire_buf *b, const void *data, size_t len);
/* CopyDone 'c'. */
void wire_put_copy_done(wire_buf *b);
/* CopyFail 'f' (frontend; for tests): one string, the reason. */
void wire_put_copy_fail(wire_buf *b, const char *message);
/* CopyFail 'f': the body is exactly one C string. */
bool wire_copy_fail_parse(const wire_frame *f, const char **message);
/* CopyDone 'c': the body must be empty. */
bool wire_copy_done_parse(const wire_frame *f);

/* ---- type OIDs (pg_type.dat) ---- */

#define WIRE_OID_BOOL 16
#define WIRE_OID_BYTEA 17
#define WIRE_OID_NAME 19
#define WIRE_OID_INT8 20
#define WIRE_OID_INT2 21
#define WIRE_OID_INT4 23
#define WIRE_OID_TEXT 25
#define WIRE_OID_OID 26
#define WIRE_OID_JSON 114
#define WIRE_OID_FLOAT4 700
#define WIRE_OID_FLOAT8 701
#define WIRE_OID_BPCHAR 1042
#define WIRE_OID_VARCHAR 1043
#define WIRE_OID_DATE 1082
#define WIRE_OID_TIME 1083
#define WIRE_OID_TIMETZ 1266
#define WIRE_OID_TIMESTAMP 1114
#define WIRE_OID_TIMESTAMPTZ 1184
#define WIRE_OID_INTERVAL 1186
#define WIRE_OID_NUMERIC 1700
#define WIRE_OID_UUID 2950
#define WIRE_OID_JSONB 3802
#define WIRE_OID_UNKNOWN 705

/* PostgreSQL's name for a type OID as its messages spell it ("integer",
 * "timestamp with time zone"); "unknown" for OIDs not listed above. */
const char *wire_type_name(uint32_t oid);

/* ---- md5 authentication ---- */

/* "md5" + hex(md5(password || user)): PostgreSQL's stored md5 form (35 chars + NUL). */
void wire_md5_password_hash(const char *password, const char *user, char out[36]);
/* Is s PostgreSQL's stored md5 form ("md5" + 32 lower-case hex digits)? */
bool wire_md5_is_hash(const char *s);
/* Checks a client's md5 response ("md5" + 32 hex) against what the auth file
 * stores for the user: a plain password or an "md5..." hash. SCRAM verifiers
 * cannot answer md5 and always fail. Constant-time in the compared bytes. */
bool wire_md5_check(const char *stored, const char *user, const uint8_t salt[4],
                    const char *response);

/* Client side (authenticating to an upstream PostgreSQL): the answer to
 * AuthenticationMD5Password(salt), "md5" + hex(md5(hex(md5(password || user))
 * || salt)), into out (35 chars + NUL).  A password that is itself a stored
 * md5 hash ("md5" + 32 lower-case hex) is used as the inner hash, as
 * PgBouncer does with auth_file and auth_query hashes.  false (out "") on
 * failure. */
bool wire_md5_client_response(const char *password, const char *user, const uint8_t salt[4],
                              char out[36]);

/* ---- SCRAM-SHA-256 (RFC 5802, RFC 7677), server side ---- */

#define WIRE_SCRAM_KEY_LEN 32
#define WIRE_SCRAM_SALT_MAX 64
#define WIRE_SCRAM_DEFAULT_ITERATIONS 4096

typedef struct wire_scram_verifier {
    int iterations;
    uint8_t salt[WIRE_SCRAM_SALT_MAX];
    size_t salt_len;
    uint8_t stored_key[WIRE_SCRAM_KEY_LEN];
    uint8_t server_key[WIRE_SCRAM_KEY_LEN];
} wire_scram_verifier;

/* Parses "SCRAM-SHA-256$<iterations>:<salt b64>$<StoredKey b64>:<ServerKey b64>". */
bool wire_scram_verifier_parse(const char *s, wire_scram_verifier *out);
/* Derives a verifier from a plain password (SASLprep is the identity for ASCII;
 * non-ASCII passwords are used as raw UTF-8 bytes, as PostgreSQL does when
 * normalisation fails). */
bool wire_scram_verifier_from_password(const char *password, const uint8_t *salt, size_t salt_len,
                                       int iterations, wire_scram_verifier *out);
/* Formats a verifier in the text form above into out (at least 256 bytes). */
bool wire_scram_verifier_format(const wire_scram_verifier *v, char *out, size_t outlen);

typedef enum wire_scram_status {
    WIRE_SCRAM_CONTINUE = 0, /* send the produced message as SASLContinue, await the next */
    WIRE_SCRAM_OK,           /* authenticated; send the produced message as SASLFinal */
    WIRE_SCRAM_FAIL_AUTH,    /* wrong password or unknown user: 28P01 */
    WIRE_SCRAM_FAIL_PROTOCOL,/* malformed exchange: 08P01 */
} wire_scram_status;

const char *wire_scram_status_str(wire_scram_status s);

typedef struct wire_scram_server wire_scram_server;

/* Starts an exchange. `verifier` NULL means the user is unknown or has no
 * usable secret: the exchange then runs to the end with a mock salt and fails,
 * so that a client cannot tell unknown users from wrong passwords.
 * `server_nonce` NULL draws 18 random bytes (base64); tests pass their own. */
wire_scram_server *wire_scram_server_new(const wire_scram_verifier *verifier, const char *user,
                                         const char *server_nonce);
void wire_scram_server_free(wire_scram_server *s);
#define WIRE_SCRAM_CB_MAX 64
/* Before the first message: plus is whether the client chose
 * SCRAM-SHA-256-PLUS; cb is this connection's tls-server-end-point data
 * (NULL/0: not TLS, nothing to bind to).  false if plus has no data. */
bool wire_scram_server_bind(wire_scram_server *s, bool plus, const uint8_t *cb, size_t cb_len);
/* Takes client-first-message; produces server-first-message into `out`. */
wire_scram_status wire_scram_server_first(wire_scram_server *s, const uint8_t *msg, size_t len,
                                          wire_buf *out, char *err, size_t errlen);
/* Takes client-final-message; on OK produces server-final-message ("v=...") into `out`. */
wire_scram_status wire_scram_server_final(wire_scram_server *s, const uint8_t *msg, size_t len,
                                          wire_buf *out, char *err, size_t errlen);
/* After WIRE_SCRAM_OK: the ClientKey the client proved it knows (proof XOR
 * ClientSignature), with which Dormouse can log in to an upstream server
 * holding the same verifier (SCRAM pass-through).  false before that. */
bool wire_scram_server_client_key(const wire_scram_server *s, uint8_t out[WIRE_SCRAM_KEY_LEN]);

/* Client side, for tests and for authenticating to an upstream PostgreSQL. */
typedef struct wire_scram_client wire_scram_client;
wire_scram_client *wire_scram_client_new(const char *password, const char *client_nonce);
/* The same without the password: a ClientKey (from a client's exchange,
 * wire_scram_server_client_key) and the ServerKey of the verifier it matched.
 * The server's salt and iterations must be those of that verifier. */
wire_scram_client *wire_scram_client_new_keys(const uint8_t client_key[WIRE_SCRAM_KEY_LEN],
                                              const uint8_t server_key[WIRE_SCRAM_KEY_LEN],
                                              const char *client_nonce);
void wire_scram_client_free(wire_scram_client *c);
/* A cache of the keys derived from passwords (PBKDF2 with the server's salt
 * and iterations, the costly part of a login), for a client that logs in
 * again and again with the same password: one thread's, at most `entries`
 * of them, the oldest replaced.  Entries are found by an HMAC of (password,
 * salt, iterations) under the cache's own random key; the password is not
 * kept. */
typedef struct wire_scram_key_cache wire_scram_key_cache;
wire_scram_key_cache *wire_scram_key_cache_new(int entries);
void wire_scram_key_cache_free(wire_scram_key_cache *k);
void wire_scram_key_cache_stats(const wire_scram_key_cache *k, uint64_t *hits, uint64_t *misses);
/* A password client (wire_scram_client_new) looks its keys up in k and
 * keeps them there; k must outlive the exchange. */
void wire_scram_client_set_cache(wire_scram_client *c, wire_scram_key_cache *k);
/* Before the first message: bind to the server's tls-server-end-point data
 * (SCRAM-SHA-256-PLUS). */
bool wire_scram_client_bind(wire_scram_client *c, const uint8_t *cb, size_t cb_len);
bool wire_scram_client_first(wire_scram_client *c, wire_buf *out);
bool wire_scram_client_final(wire_scram_client *c, const uint8_t *server_first, size_t len,
                             wire_buf *out);
bool wire_scram_client_verify(wire_scram_client *c, const uint8_t *server_final, size_t len);

#endif
