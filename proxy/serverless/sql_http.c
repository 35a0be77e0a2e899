/*
 * Neon's SQL over HTTP (serverless.h has the design; PROTOCOL.md what the
 * driver sends).  POST /sql on sql_http_listen: one request, one session
 * of this server over a socketpair, one JSON answer.
 *
 * A request goes BODY (MHD hands its body over) -> RUNNING (its session
 * logs in and runs the queries; the MHD connection is suspended) ->
 * ANSWERED (the connection is resumed and MHD sends the answer); MHD's
 * completion callback frees it, whatever state it reached.
 */
#include "serverless.h"

#include <errno.h>
#include <stdarg.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "neon_json.h"

#define SQLH_MAX_QUERIES 1000 /* in one batch */

typedef struct sqlhttp sqlhttp;

typedef enum sqlreq_phase {
    RQ_LOGIN,    /* startup sent; authenticating until ReadyForQuery */
    RQ_BEGIN,    /* a batch's BEGIN sent */
    RQ_QUERY,    /* query qi sent (extended protocol, up to Sync) */
    RQ_ROLLBACK, /* a batch failed: ROLLBACK sent */
    RQ_COMMIT,   /* COMMIT sent */
    RQ_DONE,     /* Terminate sent (or the session is gone) */
} sqlreq_phase;

typedef struct sqlreq_query {
    const char *sql; /* in the request's JSON document */
    bool array_mode; /* rows as arrays: its "arrayMode", else Neon-Array-Mode */
    int nparams;
    wire_value *params;
    char **owned; /* the text of parameters that were not JSON strings */
} sqlreq_query;

typedef struct sqlreq {
    sqlhttp *h;
    struct MHD_Connection *c;
    struct sqlreq *next, *prev; /* h->running */
    wire_buf body;
    bool too_large, started, answered;

    /* what to run */
    json_t *doc;
    sqlreq_query *q;
    size_t nq;
    bool batch, array_mode, raw_text;
    char begin_sql[160];
    char user[WIRE_NAME_MAX], database[WIRE_NAME_MAX], application[WIRE_NAME_MAX];
    char *password; /* NULL: none given */

    /* the client end of the socketpair */
    int fd;
    ev_io io;
    wire_buf in, out;
    sqlreq_phase phase;
    size_t qi;
    wire_scram_client *scram;

    /* the answer */
    json_t *results;     /* one per query */
    json_t *fields, *rows; /* the query under way */
    uint32_t *col_types;   /* its columns' type OIDs and names (names in fields), */
    const char **col_names; /* read once per row description, not per value */
    uint16_t ncols;
    json_t *error;       /* the first ErrorResponse, Neon's shape */
    size_t bytes;        /* the answer's size so far (roughly) */
    unsigned status;
    char *resp;
    size_t resp_len;
} sqlreq;

struct sqlhttp {
    proxy_server *srv;
    struct MHD_Daemon *d;
    proxy_mhd_loop ml;
    sqlreq *running;
    ws_list ws; /* the WebSocket bridges (ws.c) */
    wire_scram_key_cache *keys; /* SCRAM keys of the passwords requests log in with */
    char where[80];
};

static void sqlreq_finish(sqlreq *r);

/* ---- answers ---- */

static void sqlreq_answer(sqlreq *r, unsigned status, json_t *o)
{
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    r->status = body ? status : MHD_HTTP_INTERNAL_SERVER_ERROR;
    r->resp = body;
    r->resp_len = body ? strlen(body) : 0;
}

/* {"message": ...} and, for an error of the server, its code */
static void sqlreq_fail(sqlreq *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void sqlreq_fail(sqlreq *r, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* all of an ErrorResponse's members, as Neon answers errors of its own */
    static const char *const fields[] = {"severity", "detail", "hint", "position", "internalPosition",
                                         "internalQuery", "where", "schema", "table", "column",
                                         "dataType", "constraint", "file", "line", "routine"};
    /* (msg may quote the client's bytes: not UTF-8, or cut inside a character) */
    json_t *o = json_pack("{s:o, s:s}", "message", neon_string((const uint8_t *)msg, strlen(msg)),
                          "code", code ? code : "");
    for (size_t i = 0; o && i < sizeof(fields) / sizeof(fields[0]); i++)
        json_object_set_new(o, fields[i], i == 0 ? json_string("") : json_null());
    sqlreq_answer(r, status, o);
}

static enum MHD_Result sqlh_queue(struct MHD_Connection *c, unsigned status, char *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, body ? body : (void *)"", body ? MHD_RESPMEM_MUST_FREE
                                                                           : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
    enum MHD_Result ret = MHD_queue_response(c, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* An answer that needs no session: queued at once. */
static enum MHD_Result sqlh_error_now(struct MHD_Connection *c, unsigned status, const char *msg)
{
    json_t *o = json_pack("{s:o}", "message", neon_string((const uint8_t *)msg, strlen(msg)));
    char *body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return sqlh_queue(c, status, body, body ? strlen(body) : 0);
}

/* ---- the request: its headers and body ---- */

/* One {"query", "params"}: false with a message on a bad one. */
static bool sqlreq_query_from(sqlreq_query *q, json_t *o, char *err, size_t errlen,
                              const char **code)
{
    *code = "08P01";
    json_t *sql = json_object_get(o, "query"), *params = json_object_get(o, "params");
    if (!json_is_object(o) || !json_is_string(sql)) {
        snprintf(err, errlen, "each query must be an object with a \"query\" string");
        return false;
    }
    if (strlen(json_string_value(sql)) != json_string_length(sql)) {
        snprintf(err, errlen, "a query must not contain a NUL character");
        return false;
    }
    q->sql = json_string_value(sql);
    json_t *am = json_object_get(o, "arrayMode");
    if (json_is_boolean(am))
        q->array_mode = json_is_true(am);
    if (params && !json_is_null(params) && !json_is_array(params)) {
        snprintf(err, errlen, "\"params\" must be an array");
        return false;
    }
    size_t n = params ? json_array_size(params) : 0;
    if (n > 65535) {
        snprintf(err, errlen, "too many parameters (%zu; at most 65535)", n);
        return false;
    }
    q->nparams = (int)n;
    q->params = calloc(n ? n : 1, sizeof(*q->params));
    q->owned = calloc(n ? n : 1, sizeof(*q->owned));
    if (!q->params || !q->owned) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(params, i);
        bool null;
        char *t = neon_param_text(v, &null);
        if (null) {
            q->params[i].data = NULL;
            q->params[i].len = -1;
            continue;
        }
        if (!t) {
            snprintf(err, errlen, "out of memory");
            return false;
        }
        q->owned[i] = t;
        if (json_is_string(v) && strlen(t) != json_string_length(v)) {
            *code = "22021";
            snprintf(err, errlen, "parameter $%zu: invalid byte sequence for encoding \"UTF8\": 0x00",
                     i + 1);
            return false;
        }
        q->params[i].data = (const uint8_t *)t;
        q->params[i].len = (int32_t)strlen(t);
    }
    return true;
}

static bool sqlh_header_true(struct MHD_Connection *c, const char *name)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
    return v && !strcmp(v, "true"); /* (as Neon: only the literal true) */
}

/* Headers and body into what to run; false with the answer set. */
static bool sqlreq_prepare(sqlreq *r)
{
    struct MHD_Connection *c = r->c;
    const char *conn = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Neon-Connection-String");
    if (!conn || !conn[0]) {
        sqlreq_fail(r, MHD_HTTP_BAD_REQUEST, "08P01",
                    "missing the Neon-Connection-String header (postgresql://USER:PASSWORD@HOST/DATABASE)");
        return false;
    }
    if (strncmp(conn, "postgres://", 11) != 0 && strncmp(conn, "postgresql://", 13) != 0) {
        sqlreq_fail(r, MHD_HTTP_BAD_REQUEST, "08P01",
                    "Neon-Connection-String must be a URL: postgresql://USER:PASSWORD@HOST/DATABASE");
        return false;
    }
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(conn, &perr);
    if (!opts) {
        sqlreq_fail(r, MHD_HTTP_BAD_REQUEST, "08P01", "Neon-Connection-String: %s",
                    perr ? perr : "out of memory");
        PQfreemem(perr);
        return false;
    }
    const char *user = NULL, *password = NULL, *dbname = NULL, *app = NULL;
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val)
            continue;
        if (!strcmp(o->keyword, "user"))
            user = o->val;
        else if (!strcmp(o->keyword, "password"))
            password = o->val;
        else if (!strcmp(o->keyword, "dbname"))
            dbname = o->val;
        else if (!strcmp(o->keyword, "application_name"))
            app = o->val;
    }
    bool ok = true;
    if (!user || !user[0]) {
        sqlreq_fail(r, MHD_HTTP_BAD_REQUEST, "28000", "Neon-Connection-String names no user");
        ok = false;
    } else if (strlen(user) >= sizeof(r->user) || (dbname && strlen(dbname) >= sizeof(r->database))) {
        sqlreq_fail(r, MHD_HTTP_BAD_REQUEST, "42622",
                    "Neon-Connection-String: the user or database name is too long");
        ok = false;
    } else {
        snprintf(r->user, sizeof(r->user), "%s", user);
        snprintf(r->database, sizeof(r->database), "%s", dbname && dbname[0] ? dbname : user);
        snprintf(r->application, sizeof(r->application), "%s", app ? app : "sql-over-http");
        r->password = password ? strdup(password) : NULL;
        if (password && !r->password) {
            sqlreq_fail(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "53200", "out of memory");
            ok = false;
        }
    }
    for (PQconninfoOption *o = opts; o->keyword; o++)
        if (o->val && !strcmp(o->keyword, "password"))
            OPENSSL_cleanse(o->val, strlen(o->val));
    PQconninfoFree(opts);
    if (!ok)
        return false;

    /* Neon's driver always asks for raw text in arrays; a plain client may not */
    r->array_mode = sqlh_header_true(c, "Neon-Array-Mode");
    r->raw_text = sqlh_header_true(c, "Neon-Raw-Text-Output");

    json_error_t jerr;
    r->doc = json_loadb((const char *)r->body.data, r->body.len, JSON_REJECT_DUPLICATES, &jerr);
    if (!r->doc || !json_is_object(r->doc)) {
        sqlreq_fail(r, MHD_HTTP_BAD_REQUEST, "08P01", "the body must be a JSON object: %s",
                    r->doc ? "not an object" : jerr.text);
        return false;
    }
    char err[200];
    json_t *queries = json_object_get(r->doc, "queries");
    if (queries) {
        if (!json_is_array(queries) || json_array_size(queries) > SQLH_MAX_QUERIES) {
            sqlreq_fail(r, MHD_HTTP_BAD_REQUEST, "08P01",
                        "\"queries\" must be an array of at most %d queries", SQLH_MAX_QUERIES);
            return false;
        }
        r->batch = true;
        r->nq = json_array_size(queries);
    } else {
        r->nq = 1;
    }
    r->q = calloc(r->nq ? r->nq : 1, sizeof(*r->q));
    if (!r->q) {
        sqlreq_fail(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "53200", "out of memory");
        return false;
    }
    for (size_t i = 0; i < r->nq; i++) {
        const char *code;
        r->q[i].array_mode = r->array_mode;
        if (!sqlreq_query_from(&r->q[i], queries ? json_array_get(queries, i) : r->doc, err,
                               sizeof(err), &code)) {
            sqlreq_fail(r, MHD_HTTP_BAD_REQUEST, code, "%s", err);
            return false;
        }
    }
    if (r->batch) {
        const char *iso = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Neon-Batch-Isolation-Level");
        static const struct {
            const char *header, *sql;
        } levels[] = {{"Serializable", " ISOLATION LEVEL SERIALIZABLE"},
                      {"RepeatableRead", " ISOLATION LEVEL REPEATABLE READ"},
                      {"ReadCommitted", " ISOLATION LEVEL READ COMMITTED"},
                      {"ReadUncommitted", " ISOLATION LEVEL READ UNCOMMITTED"}};
        const char *level = "";
        if (iso) {
            level = NULL;
            for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
                if (!strcmp(iso, levels[i].header))
                    level = levels[i].sql;
            if (!level) {
                sqlreq_fail(r, MHD_HTTP_BAD_REQUEST, "08P01", "invalid isolation level: %.60s "
                            "(Serializable, RepeatableRead, ReadCommitted or ReadUncommitted)", iso);
                return false;
            }
        }
        snprintf(r->begin_sql, sizeof(r->begin_sql), "BEGIN%s%s%s", level,
                 sqlh_header_true(c, "Neon-Batch-Read-Only") ? " READ ONLY" : "",
                 sqlh_header_true(c, "Neon-Batch-Deferrable") ? " DEFERRABLE" : "");
    }
    return true;
}

/* ---- the session's side: messages in ---- */

static void sqlreq_send_query(sqlreq *r, const char *sql)
{
    size_t m = wire_msg_begin(&r->out, 'Q');
    wire_buf_put_cstr(&r->out, sql);
    wire_msg_end(&r->out, m);
}

static void sqlreq_send_extended(sqlreq *r, const sqlreq_query *q)
{
    static const int16_t text = 0;
    wire_put_parse(&r->out, "", q->sql, NULL, 0);
    wire_put_bind(&r->out, "", "", NULL, 0, q->params, q->nparams, &text, 1);
    wire_put_describe(&r->out, 'P', "");
    wire_put_execute(&r->out, "", 0);
    wire_put_sync(&r->out);
}

/* The next step after a ReadyForQuery. */
static void sqlreq_next(sqlreq *r)
{
    switch (r->phase) {
    case RQ_LOGIN:
        if (r->batch && r->nq > 0) {
            r->phase = RQ_BEGIN;
            sqlreq_send_query(r, r->begin_sql);
            return;
        }
        /* FALLTHROUGH */
    case RQ_BEGIN:
        if (r->error)
            break; /* BEGIN itself failed */
        r->qi = 0;
        if (r->nq == 0)
            break;
        r->phase = RQ_QUERY;
        sqlreq_send_extended(r, &r->q[0]);
        return;
    case RQ_QUERY:
        if (r->error) {
            if (r->batch) {
                r->phase = RQ_ROLLBACK;
                sqlreq_send_query(r, "ROLLBACK");
                return;
            }
            break;
        }
        if (++r->qi < r->nq) {
            sqlreq_send_extended(r, &r->q[r->qi]);
            return;
        }
        if (r->batch) {
            r->phase = RQ_COMMIT;
            sqlreq_send_query(r, "COMMIT");
            return;
        }
        break;
    case RQ_ROLLBACK:
    case RQ_COMMIT:
    case RQ_DONE:
        break;
    }
    /* done: say goodbye, answer once the session has read it */
    r->phase = RQ_DONE;
    wire_buf_put_u8(&r->out, 'X');
    wire_buf_put_u32(&r->out, 4);
}

static uint32_t sqlh_u32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint16_t sqlh_u16(const uint8_t *p)
{
    return (uint16_t)(((unsigned)p[0] << 8) | p[1]);
}

/* A column's text value as the answer carries it: null, the text itself
 * (Neon-Raw-Text-Output: true, as the driver asks), or typed. */
static json_t *sqlh_value(sqlreq *r, uint32_t type, const uint8_t *p, int32_t len)
{
    if (len < 0)
        return json_null();
    return r->raw_text ? neon_string(p, (size_t)len) : neon_typed(type, p, (size_t)len);
}

/* One message from the session.  false: stop reading (the answer is set). */
static bool sqlreq_message(sqlreq *r, const wire_frame *f)
{
    proxy_server *srv = r->h->srv;
    switch (f->type) {
    case 'R': {
        if (f->body_len < 4)
            goto bad;
        uint32_t code = sqlh_u32(f->body);
        const uint8_t *data = f->body + 4;
        size_t len = f->body_len - 4;
        if (code != 0 && code != 11 && code != 12 && !r->password) {
            sqlreq_fail(r, MHD_HTTP_BAD_REQUEST, "28P01",
                        "password authentication failed for user \"%s\": the connection string "
                        "has no password", r->user);
            return false;
        }
        switch (code) {
        case 0:
            wire_scram_client_free(r->scram);
            r->scram = NULL;
            return true;
        case 3: {
            size_t m = wire_msg_begin(&r->out, 'p');
            wire_buf_put_cstr(&r->out, r->password);
            wire_msg_end(&r->out, m);
            return true;
        }
        case 5: {
            char resp[36];
            if (len != 4 || !wire_md5_client_response(r->password, r->user, data, resp))
                goto bad;
            size_t m = wire_msg_begin(&r->out, 'p');
            wire_buf_put_cstr(&r->out, resp);
            wire_msg_end(&r->out, m);
            return true;
        }
        case 10: {
            wire_buf first;
            wire_buf_init(&first);
            if (!(r->scram = wire_scram_client_new(r->password, NULL)) ||
                (wire_scram_client_set_cache(r->scram, r->h->keys), false) ||
                !wire_scram_client_first(r->scram, &first)) {
                wire_buf_free(&first);
                goto bad;
            }
            size_t m = wire_msg_begin(&r->out, 'p');
            wire_buf_put_cstr(&r->out, "SCRAM-SHA-256");
            wire_buf_put_u32(&r->out, (uint32_t)first.len);
            wire_buf_append(&r->out, first.data, first.len);
            wire_msg_end(&r->out, m);
            wire_buf_free(&first);
            return true;
        }
        case 11: {
            wire_buf final;
            wire_buf_init(&final);
            if (!r->scram || !wire_scram_client_final(r->scram, data, len, &final)) {
                wire_buf_free(&final);
                goto bad;
            }
            size_t m = wire_msg_begin(&r->out, 'p');
            wire_buf_append(&r->out, final.data, final.len);
            wire_msg_end(&r->out, m);
            wire_buf_free(&final);
            return true;
        }
        case 12:
            if (!r->scram || !wire_scram_client_verify(r->scram, data, len))
                goto bad;
            return true;
        default:
            goto bad;
        }
    }
    case 'S': /* ParameterStatus */
    case 'K': /* BackendKeyData */
    case 'N': /* NoticeResponse */
    case 'A': /* NotificationResponse */
    case '1': /* ParseComplete */
    case '2': /* BindComplete */
        return true;
    case 'n': /* NoData */
        if (r->phase == RQ_QUERY && !r->fields)
            r->fields = json_array();
        return true;
    case 'T': { /* RowDescription */
        if (r->phase != RQ_QUERY || f->body_len < 2)
            return true;
        json_decref(r->fields);
        uint16_t n = sqlh_u16(f->body);
        r->fields = json_array();
        free(r->col_types);
        free(r->col_names);
        r->col_types = calloc(n ? n : 1, sizeof(*r->col_types));
        r->col_names = calloc(n ? n : 1, sizeof(*r->col_names));
        r->ncols = 0;
        if (!r->fields || !r->col_types || !r->col_names) {
            sqlreq_fail(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "53200", "out of memory");
            return false;
        }
        uint32_t at = 2;
        for (uint16_t i = 0; i < n; i++) {
            size_t nl = strnlen((const char *)f->body + at, f->body_len - at);
            if (at + nl + 1 + 18 > f->body_len)
                goto bad;
            const uint8_t *p = f->body + at + nl + 1;
            json_t *name = neon_string(f->body + at, nl);
            json_t *fo = json_pack("{s:o, s:I, s:i, s:I, s:i, s:i, s:s}", "name", name, "tableID",
                                   (json_int_t)sqlh_u32(p), "columnID", (int)(int16_t)sqlh_u16(p + 4),
                                   "dataTypeID", (json_int_t)sqlh_u32(p + 6), "dataTypeSize",
                                   (int)(int16_t)sqlh_u16(p + 10), "dataTypeModifier",
                                   (int)(int32_t)sqlh_u32(p + 12), "format", "text");
            if (!fo || json_array_append_new(r->fields, fo)) {
                sqlreq_fail(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "53200", "out of memory");
                return false;
            }
            r->col_types[i] = sqlh_u32(p + 6);
            r->col_names[i] = json_string_value(name); /* (fields holds it) */
            r->ncols = (uint16_t)(i + 1);
            at += (uint32_t)nl + 1 + 18;
            r->bytes += nl + 120;
        }
        return true;
    }
    case 'D': { /* DataRow */
        if (r->phase != RQ_QUERY || f->body_len < 2)
            return true;
        if (!r->rows)
            r->rows = json_array();
        uint16_t n = sqlh_u16(f->body);
        bool arrays = r->q[r->qi].array_mode;
        json_t *row = arrays ? json_array() : json_object();
        uint32_t at = 2;
        for (uint16_t i = 0; i < n && row; i++) {
            int32_t len = at + 4 <= f->body_len ? (int32_t)sqlh_u32(f->body + at) : 0;
            if (at + 4 > f->body_len || (len > 0 && (uint32_t)len > f->body_len - at - 4)) {
                json_decref(row);
                goto bad;
            }
            at += 4;
            json_t *v = sqlh_value(r, i < r->ncols ? r->col_types[i] : 0, f->body + at, len);
            if (arrays)
                json_array_append_new(row, v);
            else
                json_object_set_new(row, i < r->ncols && r->col_names[i] ? r->col_names[i] : "?", v);
            if (len > 0)
                at += (uint32_t)len;
            r->bytes += (len > 0 ? (size_t)len * 2 : 0) + 8;
        }
        if (!row || !r->rows || json_array_append_new(r->rows, row)) {
            sqlreq_fail(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "53200", "out of memory");
            return false;
        }
        if (r->bytes > srv->cfg.sql_http_max_response) {
            sqlreq_fail(r, MHD_HTTP_INSUFFICIENT_STORAGE, "54000",
                        "response is too large (max is %zu bytes; sql_http_max_response)",
                        srv->cfg.sql_http_max_response);
            return false;
        }
        return true;
    }
    case 'C':   /* CommandComplete */
    case 'I':   /* EmptyQueryResponse */
    case 's': { /* PortalSuspended (not asked for) */
        if (r->phase != RQ_QUERY)
            return true;
        json_t *res = json_object();
        if (!res) {
            sqlreq_fail(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "53200", "out of memory");
            return false;
        }
        if (f->type == 'C')
            neon_command(f->body, strnlen((const char *)f->body, f->body_len), res);
        else {
            json_object_set_new(res, "command", json_string(""));
            json_object_set_new(res, "rowCount", json_null());
        }
        json_object_set_new(res, "rows", r->rows ? r->rows : json_array());
        json_object_set_new(res, "fields", r->fields ? r->fields : json_array());
        json_object_set_new(res, "rowAsArray", json_boolean(r->q[r->qi].array_mode));
        r->rows = r->fields = NULL;
        r->ncols = 0;
        json_array_append_new(r->results, res);
        return true;
    }
    case 'E': /* ErrorResponse */
        if (!r->error)
            r->error = neon_error_json(f->body, f->body_len);
        if (r->phase == RQ_LOGIN) {
            /* a refused login ends the session: answer now */
            json_t *e = r->error;
            r->error = NULL;
            sqlreq_answer(r, MHD_HTTP_BAD_REQUEST, e);
            return false;
        }
        return true;
    case 'Z': /* ReadyForQuery */
        sqlreq_next(r);
        return true;
    default:
        goto bad;
    }
bad:
    sqlreq_fail(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "08P01",
                "unexpected message '%c' from the session (phase %d)", f->type, (int)r->phase);
    return false;
}

/* ---- the socketpair ---- */

static void sqlreq_update_io(sqlreq *r)
{
    struct ev_loop *loop = r->h->srv->loop;
    int want = EV_READ | (r->out.len ? EV_WRITE : 0);
    if (ev_is_active(&r->io) && (r->io.events & (EV_READ | EV_WRITE)) == want)
        return;
    ev_io_stop(loop, &r->io);
    ev_io_set(&r->io, r->fd, want);
    ev_io_start(loop, &r->io);
}

/* The session ended (or the answer is set): the outcome goes back to MHD. */
static void sqlreq_finish(sqlreq *r)
{
    sqlhttp *h = r->h;
    if (r->fd >= 0) {
        ev_io_stop(h->srv->loop, &r->io);
        close(r->fd);
        r->fd = -1;
    }
    if (!r->resp) {
        if (r->error) {
            json_t *e = r->error;
            r->error = NULL;
            sqlreq_answer(r, MHD_HTTP_BAD_REQUEST, e);
        } else if (r->phase == RQ_DONE && json_array_size(r->results) == r->nq) {
            json_t *o = r->batch ? json_pack("{s:O}", "results", r->results)
                                 : json_incref(json_array_get(r->results, 0));
            sqlreq_answer(r, MHD_HTTP_OK, o);
        } else {
            sqlreq_fail(r, h->srv->shutting_down ? MHD_HTTP_SERVICE_UNAVAILABLE
                                                 : MHD_HTTP_INTERNAL_SERVER_ERROR,
                        "08006", "the session ended before answering");
        }
    }
    if (r->next)
        r->next->prev = r->prev;
    if (r->prev)
        r->prev->next = r->next;
    else if (h->running == r)
        h->running = r->next;
    r->next = r->prev = NULL;
    r->answered = true;
    MHD_resume_connection(r->c);
}


static void sqlreq_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
    sqlreq *r = container_of(w, sqlreq, io);
    sqlhttp *h = r->h;
    bool gone = false;
    if (revents & EV_WRITE) {
        while (r->out.len) {
            ssize_t n = send(r->fd, r->out.data, r->out.len, MSG_NOSIGNAL);
            if (n > 0) {
                wire_buf_consume(&r->out, (size_t)n);
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                break;
            gone = true;
            break;
        }
    }
    if ((revents & EV_READ) && !gone) {
        for (;;) {
            if (!wire_buf_reserve(&r->in, 65536)) {
                sqlreq_fail(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "53200", "out of memory");
                gone = true;
                break;
            }
            ssize_t n = recv(r->fd, r->in.data + r->in.len, r->in.cap - r->in.len, 0);
            if (n > 0) {
                r->in.len += (size_t)n;
                size_t at = 0;
                bool stop = false;
                while (!stop) {
                    wire_frame f;
                    wire_frame_status st = wire_frame_parse(r->in.data + at, r->in.len - at,
                                                            WIRE_MAX_PACKET_SIZE_DEFAULT, &f);
                    if (st == WIRE_FRAME_INCOMPLETE)
                        break;
                    if (st != WIRE_FRAME_OK) {
                        sqlreq_fail(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "08P01",
                                    "malformed message from the session");
                        stop = true;
                        break;
                    }
                    at += f.total_len;
                    stop = !sqlreq_message(r, &f);
                }
                wire_buf_consume(&r->in, at);
                if (stop) {
                    gone = true;
                    break;
                }
                if ((size_t)n < 65536)
                    break;
                continue;
            }
            if (n < 0 && (errno == EAGAIN || errno == EINTR))
                break;
            gone = true; /* EOF: the session ended */
            break;
        }
    }
    if (!gone && r->out.len) { /* what the messages made, at once if it fits */
        ssize_t n = send(r->fd, r->out.data, r->out.len, MSG_NOSIGNAL);
        if (n > 0)
            wire_buf_consume(&r->out, (size_t)n);
        else if (n < 0 && errno != EAGAIN && errno != EINTR)
            gone = true;
    }
    if (gone || r->out.oom) {
        if (r->out.oom && !r->resp)
            sqlreq_fail(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "53200", "out of memory");
        sqlreq_finish(r);
        proxy_mhd_loop_run(&h->ml);
        return;
    }
    sqlreq_update_io(r);
}

/* Opens the session: the startup packet goes first, so that session_accept
 * finds it waiting. */
static bool sqlreq_start(sqlreq *r)
{
    proxy_server *srv = r->h->srv;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) {
        sqlreq_fail(r, MHD_HTTP_SERVICE_UNAVAILABLE, "53300", "cannot open a session: %s",
                    strerror(errno));
        return false;
    }
    r->results = json_array();
    wire_param params[] = {{"user", r->user},
                           {"database", r->database},
                           {"application_name", r->application},
                           {"client_encoding", "UTF8"}};
    wire_put_startup(&r->out, params, 4);
    if (!r->results || r->out.oom) {
        close(sv[0]);
        close(sv[1]);
        sqlreq_fail(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "53200", "out of memory");
        return false;
    }
    ssize_t n = send(sv[0], r->out.data, r->out.len, MSG_NOSIGNAL);
    if (n > 0)
        wire_buf_consume(&r->out, (size_t)n);
    r->fd = sv[0];
    ev_io_init(&r->io, sqlreq_io_cb, r->fd, EV_READ);
    sqlreq_update_io(r);
    r->next = r->h->running;
    if (r->next)
        r->next->prev = r;
    r->h->running = r;
    serverless_session(srv, r->c, sv[1]);
    return true;
}

void serverless_session(proxy_server *srv, struct MHD_Connection *c, int fd)
{
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    struct sockaddr_in none = {.sin_family = AF_INET};
    if (!sa)
        sa = (const struct sockaddr *)&none;
    socklen_t salen = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                : sizeof(struct sockaddr_in);
    session_accept(srv, fd, sa, salen, false);
}

/* ---- MHD ---- */

static void sqlreq_free(sqlreq *r)
{
    if (!r)
        return;
    if (r->fd >= 0) {
        ev_io_stop(r->h->srv->loop, &r->io);
        close(r->fd);
    }
    if (r->next)
        r->next->prev = r->prev;
    if (r->prev)
        r->prev->next = r->next;
    else if (r->h->running == r)
        r->h->running = r->next;
    for (size_t i = 0; r->q && i < r->nq; i++) {
        for (int k = 0; r->q[i].owned && k < r->q[i].nparams; k++)
            free(r->q[i].owned[k]);
        free(r->q[i].owned);
        free(r->q[i].params);
    }
    free(r->q);
    json_decref(r->doc);
    json_decref(r->results);
    json_decref(r->fields);
    json_decref(r->rows);
    free(r->col_types);
    free(r->col_names);
    json_decref(r->error);
    wire_scram_client_free(r->scram);
    if (r->password) {
        OPENSSL_cleanse(r->password, strlen(r->password));
        free(r->password);
    }
    if (r->body.data)
        OPENSSL_cleanse(r->body.data, r->body.len);
    wire_buf_free(&r->body);
    wire_buf_free(&r->in);
    wire_buf_free(&r->out);
    free(r->resp);
    free(r);
}

static void sqlh_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                           enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    sqlreq_free(*con_cls);
    *con_cls = NULL;
}

static enum MHD_Result sqlh_handler(void *cls, struct MHD_Connection *c, const char *url,
                                    const char *method, const char *version,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **con_cls)
{
    sqlhttp *h = cls;
    (void)version;
    sqlreq *r = *con_cls;
    if (!r) {
        if (ws_is_upgrade(c)) /* PostgreSQL over a WebSocket (Neon serves it on any path) */
            return ws_accept(&h->ws, c, method);
        if (strcmp(url, "/sql") != 0) {
            char msg[300];
            snprintf(msg, sizeof(msg), "no such endpoint: %.200s (POST /sql, or a WebSocket at /v2)",
                     url);
            return sqlh_error_now(c, MHD_HTTP_NOT_FOUND, msg);
        }
        if (!strcmp(method, "OPTIONS")) { /* a browser's CORS preflight */
            struct MHD_Response *resp =
                MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
            if (!resp)
                return MHD_NO;
            MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
            MHD_add_response_header(resp, "Access-Control-Allow-Methods", "OPTIONS, POST");
            MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                                    "Authorization, Content-Type, Neon-Connection-String, "
                                    "Neon-Raw-Text-Output, Neon-Array-Mode, Neon-Pool-Opt-In, "
                                    "Neon-Batch-Read-Only, Neon-Batch-Isolation-Level, "
                                    "Neon-Batch-Deferrable");
            MHD_add_response_header(resp, "Access-Control-Max-Age", "86400");
            enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, resp);
            MHD_destroy_response(resp);
            return ret;
        }
        if (strcmp(method, "POST") != 0)
            return sqlh_error_now(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only POST is served at /sql");
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > h->srv->cfg.sql_http_max_request) {
            char msg[200];
            snprintf(msg, sizeof(msg), "request is too large (max is %zu bytes; sql_http_max_request)",
                     h->srv->cfg.sql_http_max_request);
            return sqlh_error_now(c, MHD_HTTP_CONTENT_TOO_LARGE, msg);
        }
        r = calloc(1, sizeof(*r));
        if (!r)
            return MHD_NO;
        r->h = h;
        r->c = c;
        r->fd = -1;
        wire_buf_init(&r->body);
        wire_buf_init(&r->in);
        wire_buf_init(&r->out);
        *con_cls = r;
        return MHD_YES;
    }
    if (*upload_data_size) { /* the body, in parts */
        if (!r->too_large && r->body.len + *upload_data_size > h->srv->cfg.sql_http_max_request)
            r->too_large = true;
        if (!r->too_large)
            wire_buf_append(&r->body, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->answered) {
        char *body = r->resp;
        r->resp = NULL;
        return sqlh_queue(c, r->status, body, r->resp_len);
    }
    if (r->started)
        return MHD_YES; /* (not expected: suspended until answered) */
    r->started = true;
    if (r->too_large) {
        char msg[200];
        snprintf(msg, sizeof(msg), "request is too large (max is %zu bytes; sql_http_max_request)",
                 h->srv->cfg.sql_http_max_request);
        return sqlh_error_now(c, MHD_HTTP_CONTENT_TOO_LARGE, msg);
    }
    if (r->body.oom)
        return sqlh_error_now(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    if (h->srv->shutting_down)
        return sqlh_error_now(c, MHD_HTTP_SERVICE_UNAVAILABLE, "Dormouse is shutting down");
    if (!sqlreq_prepare(r) || !sqlreq_start(r)) {
        char *body = r->resp;
        r->resp = NULL;
        return sqlh_queue(c, r->status, body, r->resp_len);
    }
    MHD_suspend_connection(c);
    return MHD_YES;
}

static void sqlh_kick(ws_list *list)
{
    proxy_mhd_loop_kick(&container_of(list, sqlhttp, ws)->ml);
}

bool sqlhttp_start(proxy_server *srv, char *err, size_t errlen)
{
    const char *where = srv->cfg.sql_http_listen;
    if (!where[0])
        return true; /* off */
    struct sockaddr_storage ss;
    socklen_t len;
    if (!proxy_http_parse_listen(where, &ss, &len)) {
        snprintf(err, errlen, "sql_http_listen must be ADDRESS:PORT, not \"%s\"", where);
        return false;
    }
    sqlhttp *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    h->srv = srv;
    snprintf(h->where, sizeof(h->where), "%s", where);
    h->ws.srv = srv;
    h->ws.kick = sqlh_kick;
    /* a request logs in anew each time: the PBKDF2 of its password once */
    h->keys = wire_scram_key_cache_new(256);
    if (!h->keys) {
        snprintf(err, errlen, "out of memory");
        free(h);
        return false;
    }
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    h->d = MHD_start_daemon(flags, 0, NULL, NULL, sqlh_handler, h, MHD_OPTION_SOCK_ADDR,
                            (struct sockaddr *)&ss, MHD_OPTION_CONNECTION_LIMIT, (unsigned)1024,
                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)60,
                            MHD_OPTION_NOTIFY_COMPLETED, sqlh_completed, h, MHD_OPTION_END);
    if (!h->d) {
        snprintf(err, errlen, "cannot listen on sql_http_listen %s: %s", where, strerror(errno));
        wire_scram_key_cache_free(h->keys);
        free(h);
        return false;
    }
    proxy_mhd_loop_start(&h->ml, srv->loop, h->d);
    srv->sqlhttp = h;
    proxy_log(PROXY_LOG_INFO, "Neon's serverless driver on %s: SQL over HTTP (POST /sql) and "
              "PostgreSQL over WebSockets (/v2)", where);
    return true;
}

void sqlhttp_stop(proxy_server *srv)
{
    sqlhttp *h = srv->sqlhttp;
    if (!h)
        return;
    while (h->running) /* (their sessions are gone by now) */
        sqlreq_finish(h->running);
    h->ws.kick = NULL;
    ws_close_all(&h->ws);
    MHD_run(h->d);
    proxy_mhd_loop_stop(&h->ml);
    MHD_stop_daemon(h->d);
    wire_scram_key_cache_free(h->keys);
    free(h);
    srv->sqlhttp = NULL;
}
