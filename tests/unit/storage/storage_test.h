/*
 * storage_test.h: helpers shared by the storage unit tests: a temporary data
 * directory, a real engine, synchronous job submission, and a decoder that
 * renders the backend messages a job produced as a compact transcript:
 *
 *   T[id:23,name:25,v:1043(24)]  RowDescription (name:oid, typmod if not -1)
 *   D[1,a,<null>]                DataRow
 *   C[SELECT 2]                  CommandComplete
 *   E[42601] / N[25P01]          ErrorResponse / NoticeResponse (SQLSTATE)
 *   I                            EmptyQueryResponse
 * and for the extended protocol:
 *   1 2 3 n s                    ParseComplete, BindComplete, CloseComplete,
 *                                NoData, PortalSuspended
 *   t[23,25]                     ParameterDescription
 *   Z[I]                         ReadyForQuery
 *   T[a:23/b]                    a column sent in binary format
 *   D[#0000002a]                 a field with control bytes (or 0xf8-0xff), in hex
 */
#ifndef DORMOUSE_TEST_STORAGE_TEST_H
#define DORMOUSE_TEST_STORAGE_TEST_H

#include <arpa/inet.h>
#include <check.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dormouse/storage.h"

/* ---- synchronous jobs ---- */

typedef struct st_waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    pthread_t worker; /* the thread the callback ran on */
} st_waiter;

static inline void st_job_done(storage_job *job)
{
    st_waiter *w = job->udata;
    pthread_mutex_lock(&w->lock);
    w->done = true;
    w->worker = pthread_self();
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

typedef struct st_result {
    wire_buf out;
    char tx_status;
    bool failed;
    bool discarding;
    uint64_t statements, rows_returned, rows_affected;
    char transcript[16384];
} st_result;

/* Runs a job to completion; the caller frees r->out with wire_buf_free. */
static inline void st_submit_wait(storage_engine *e, storage_conn *c, storage_job_kind kind,
                                  const char *sql, st_result *r);

/* ---- decoding ---- */

static inline uint32_t st_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return ntohl(v);
}

static inline uint16_t st_u16(const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return ntohs(v);
}

static inline void st_append(char *dst, size_t cap, const char *fmt, const char *s, size_t n)
{
    size_t used = strlen(dst);
    if (used < cap)
        snprintf(dst + used, cap - used, fmt, (int)n, s);
}

/* The value of field `code` of an ErrorResponse/NoticeResponse body, or NULL. */
static inline const char *st_error_field(const uint8_t *body, size_t len, char code)
{
    size_t i = 0;
    while (i < len && body[i]) {
        char c = (char)body[i++];
        const char *v = (const char *)body + i;
        size_t n = strnlen(v, len - i);
        if (c == code)
            return v;
        i += n + 1;
    }
    return NULL;
}

/* Renders the messages in b; checks the framing as it goes. */
static inline void st_render(const wire_buf *b, char *out, size_t cap)
{
    out[0] = '\0';
    size_t i = 0;
    while (i < b->len) {
        ck_assert_msg(b->len - i >= 5, "truncated message header");
        char type = (char)b->data[i];
        uint32_t len = st_u32(b->data + i + 1);
        ck_assert_msg(len >= 4 && i + 1 + len <= b->len, "bad message length");
        const uint8_t *body = b->data + i + 5;
        size_t blen = len - 4;
        if (out[0])
            st_append(out, cap, "%.*s", " ", 1);
        switch (type) {
        case 'T': {
            uint16_t n = st_u16(body);
            size_t p = 2;
            st_append(out, cap, "%.*s", "T[", 2);
            for (uint16_t k = 0; k < n; k++) {
                const char *name = (const char *)body + p;
                p += strlen(name) + 1;
                uint32_t oid = st_u32(body + p + 6);
                int32_t typmod = (int32_t)st_u32(body + p + 12);
                const char *bin = st_u16(body + p + 16) == 1 ? "/b" : "";
                char tmp[128];
                if (typmod == -1)
                    snprintf(tmp, sizeof(tmp), "%s%s:%u%s", k ? "," : "", name, oid, bin);
                else
                    snprintf(tmp, sizeof(tmp), "%s%s:%u(%d)%s", k ? "," : "", name, oid, typmod,
                             bin);
                st_append(out, cap, "%.*s", tmp, strlen(tmp));
                p += 18;
            }
            ck_assert_msg(p == blen, "RowDescription length mismatch");
            st_append(out, cap, "%.*s", "]", 1);
            break;
        }
        case 'D': {
            uint16_t n = st_u16(body);
            size_t p = 2;
            st_append(out, cap, "%.*s", "D[", 2);
            for (uint16_t k = 0; k < n; k++) {
                int32_t flen = (int32_t)st_u32(body + p);
                p += 4;
                if (k)
                    st_append(out, cap, "%.*s", ",", 1);
                bool ctl = false;
                for (int32_t z = 0; z < flen; z++)
                    ctl = ctl || body[p + (size_t)z] < 0x20 || body[p + (size_t)z] >= 0xf8;
                if (flen < 0) {
                    st_append(out, cap, "%.*s", "<null>", 6);
                } else if (ctl) {
                    st_append(out, cap, "%.*s", "#", 1);
                    for (int32_t z = 0; z < flen; z++) {
                        char hx[3];
                        snprintf(hx, sizeof(hx), "%02x", body[p + (size_t)z]);
                        st_append(out, cap, "%.*s", hx, 2);
                    }
                    p += (size_t)flen;
                } else {
                    st_append(out, cap, "%.*s", (const char *)body + p, (size_t)flen);
                    p += (size_t)flen;
                }
            }
            ck_assert_msg(p == blen, "DataRow length mismatch");
            st_append(out, cap, "%.*s", "]", 1);
            break;
        }
        case 'C':
            st_append(out, cap, "%.*s", "C[", 2);
            st_append(out, cap, "%.*s", (const char *)body, strlen((const char *)body));
            st_append(out, cap, "%.*s", "]", 1);
            break;
        case 'E':
        case 'N': {
            const char *code = st_error_field(body, blen, 'C');
            char tmp[16];
            snprintf(tmp, sizeof(tmp), "%c[%s]", type, code ? code : "?");
            st_append(out, cap, "%.*s", tmp, strlen(tmp));
            break;
        }
        case 'I':
        case '1':
        case '2':
        case '3':
        case 'n':
        case 's':
            st_append(out, cap, "%.*s", &type, 1);
            break;
        case 't': {
            uint16_t n = st_u16(body);
            st_append(out, cap, "%.*s", "t[", 2);
            for (uint16_t k = 0; k < n; k++) {
                char tmp[16];
                snprintf(tmp, sizeof(tmp), "%s%u", k ? "," : "", st_u32(body + 2 + 4 * k));
                st_append(out, cap, "%.*s", tmp, strlen(tmp));
            }
            ck_assert_msg(2 + 4 * (size_t)n == blen, "ParameterDescription length mismatch");
            st_append(out, cap, "%.*s", "]", 1);
            break;
        }
        case 'S': { /* ParameterStatus: S[name=value] */
            size_t nl = strnlen((const char *)body, blen);
            st_append(out, cap, "%.*s", "S[", 2);
            st_append(out, cap, "%.*s", (const char *)body, nl);
            st_append(out, cap, "%.*s", "=", 1);
            if (nl + 1 < blen)
                st_append(out, cap, "%.*s", (const char *)body + nl + 1,
                          strnlen((const char *)body + nl + 1, blen - nl - 1));
            st_append(out, cap, "%.*s", "]", 1);
            break;
        }
        case 'Z': {
            char tmp[8];
            snprintf(tmp, sizeof(tmp), "Z[%c]", body[0]);
            st_append(out, cap, "%.*s", tmp, strlen(tmp));
            break;
        }
        default: {
            char tmp[8];
            snprintf(tmp, sizeof(tmp), "%c?", type);
            st_append(out, cap, "%.*s", tmp, strlen(tmp));
            break;
        }
        }
        i += 1 + len;
    }
}

/* Field `code` ('M', 'S', 'D', 'P', ...) of the n-th ErrorResponse or
 * NoticeResponse (type 'E' or 'N') in b, copied into buf; "" if absent. */
static inline const char *st_error(const wire_buf *b, char type, int nth, char code, char *buf,
                                   size_t cap)
{
    buf[0] = '\0';
    size_t i = 0;
    while (i + 5 <= b->len) {
        uint32_t len = st_u32(b->data + i + 1);
        if ((char)b->data[i] == type && nth-- == 0) {
            const char *v = st_error_field(b->data + i + 5, len - 4, code);
            if (v)
                snprintf(buf, cap, "%s", v);
            return buf;
        }
        i += 1 + len;
    }
    return buf;
}

static inline void st_run_job(storage_engine *e, storage_conn *c, storage_job_kind kind,
                              const char *sql, const uint8_t *msgs, size_t msgs_len, st_result *r)
{
    st_waiter w = {.done = false};
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);

    storage_job job;
    memset(&job, 0, sizeof(job));
    job.kind = kind;
    job.conn = c;
    job.sql = sql;
    job.sql_len = sql ? strlen(sql) : 0;
    job.msgs = msgs;
    job.msgs_len = msgs_len;
    job.done = st_job_done;
    job.udata = &w;
    wire_buf_init(&job.out);

    storage_job_submit(e, &job);
    pthread_mutex_lock(&w.lock);
    while (!w.done)
        pthread_cond_wait(&w.cond, &w.lock);
    pthread_mutex_unlock(&w.lock);
    ck_assert(!pthread_equal(w.worker, pthread_self()));
    pthread_cond_destroy(&w.cond);
    pthread_mutex_destroy(&w.lock);

    memset(r, 0, sizeof(*r));
    r->out = job.out;
    r->tx_status = job.tx_status;
    r->failed = job.failed;
    r->discarding = job.discarding;
    r->statements = job.statements;
    r->rows_returned = job.rows_returned;
    r->rows_affected = job.rows_affected;
    ck_assert(!r->out.oom);
    st_render(&r->out, r->transcript, sizeof(r->transcript));
}

static inline void st_submit_wait(storage_engine *e, storage_conn *c, storage_job_kind kind,
                                  const char *sql, st_result *r)
{
    st_run_job(e, c, kind, sql, NULL, 0, r);
}

/* Runs a batch of extended-protocol messages (an EXTENDED job). */
static inline void st_submit_msgs(storage_engine *e, storage_conn *c, const wire_buf *msgs,
                                  st_result *r)
{
    st_run_job(e, c, STORAGE_JOB_EXTENDED, NULL, msgs->data, msgs->len, r);
}

/* ---- fixture: one engine, one database, one open connection ---- */

typedef struct st_fixture {
    char dir[256];
    storage_engine *engine;
    storage_db *db;
    storage_conn *conn;
} st_fixture;

static inline storage_engine *st_engine(const char *dir, int workers)
{
    storage_options opt = {
        .data_dir = dir, .workers = workers, .busy_timeout_ms = 200, .synchronous_full = true};
    char err[256];
    storage_engine *e = storage_engine_new(&opt, err, sizeof(err));
    ck_assert_msg(e != NULL, "%s", err);
    return e;
}

static inline void st_mkdtemp(char *dir, size_t cap)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, cap, "%s/dm-storage-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    ck_assert(mkdtemp(dir) != NULL);
}

static inline void st_open(st_fixture *f, storage_conn *c)
{
    st_result r;
    st_submit_wait(f->engine, c, STORAGE_JOB_OPEN, NULL, &r);
    ck_assert_msg(!r.failed, "open failed: %s", r.transcript);
    ck_assert_str_eq(r.transcript, "");
    ck_assert_int_eq(r.tx_status, 'I');
    wire_buf_free(&r.out);
}

static inline void st_close(st_fixture *f, storage_conn *c)
{
    st_result r;
    st_submit_wait(f->engine, c, STORAGE_JOB_CLOSE, NULL, &r);
    ck_assert(!r.failed);
    wire_buf_free(&r.out);
}

static inline void st_setup(st_fixture *f, int workers)
{
    st_mkdtemp(f->dir, sizeof(f->dir));
    f->engine = st_engine(f->dir, workers);
    f->db = storage_db_new(f->engine, "app");
    ck_assert(f->db != NULL);
    f->conn = storage_conn_new(f->db);
    ck_assert(f->conn != NULL);
    st_open(f, f->conn);
}

static inline void st_rm_rf(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
}

static inline void st_teardown(st_fixture *f)
{
    st_close(f, f->conn);
    storage_conn_free(f->conn);
    storage_db_free(f->db);
    storage_engine_free(f->engine);
    st_rm_rf(f->dir);
}

/* Runs sql on the fixture's connection and returns the transcript (in r). */
static inline const char *st_query(st_fixture *f, const char *sql, st_result *r)
{
    st_submit_wait(f->engine, f->conn, STORAGE_JOB_QUERY, sql, r);
    return r->transcript;
}

/* Runs sql and checks the transcript and the transaction status after it. */
#define st_expect(f, sql, want, want_tx)                                                           \
    do {                                                                                           \
        st_result r_;                                                                              \
        st_query((f), (sql), &r_);                                                                 \
        ck_assert_msg(strcmp(r_.transcript, (want)) == 0, "%s\n  got:  %s\n  want: %s", (sql),     \
                      r_.transcript, (want));                                                      \
        ck_assert_msg(r_.tx_status == (want_tx), "%s: tx status %c, want %c", (sql), r_.tx_status, \
                      (want_tx));                                                                  \
        wire_buf_free(&r_.out);                                                                    \
    } while (0)

static inline int st_run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}

#endif
