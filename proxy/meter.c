/*
 * Metering taps: each query a client sent becomes a usage record in the
 * ledger (storage.h), appended before its result goes out, so that a query
 * whose result the client received is in the ledger even after a kill -9.
 *
 * SQLite engine: one record per QUERY or EXTENDED job (a simple-protocol
 * message, or an extended-protocol batch up to its Sync): rows returned and
 * written as the engine counted them, the worker's CPU time, the bytes of
 * the request and of the reply, the time from the client's message to the
 * result, the first error's SQLSTATE.
 *
 * Upstream PostgreSQL: one record per request (what the server answers up
 * to a ReadyForQuery), from what the relay sees: DataRows returned, rows
 * written as INSERT/UPDATE/DELETE/MERGE (and COPY FROM) CommandCompletes
 * report them, the first ErrorResponse's SQLSTATE, the bytes the client
 * sent and was sent, the time since the request; no CPU time (the server's).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The SQLSTATE of the first ErrorResponse in a reply; "00000" if none. */
static void meter_sqlstate(const wire_buf *out, char sqlstate[6])
{
    memcpy(sqlstate, "00000", 6);
    size_t off = 0;
    wire_frame f;
    while (wire_frame_parse(out->data + off, out->len - off, UINT32_MAX, &f) == WIRE_FRAME_OK) {
        off += f.total_len;
        if (f.type != 'E')
            continue;
        for (uint32_t i = 0; i < f.body_len && f.body[i];) { /* (code, cstring)* NUL */
            const char *v = (const char *)f.body + i + 1;
            size_t n = strnlen(v, f.body_len - i - 1);
            if (f.body[i] == 'C' && n == 5) {
                memcpy(sqlstate, v, 5);
                return;
            }
            i += (uint32_t)n + 2;
        }
        return;
    }
}

/* The record of s's request, with what every engine knows filled in. */
static void meter_record(proxy_session *s, storage_kind engine, storage_usage_record *r)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    memset(r, 0, sizeof(*r));
    r->ts_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
    r->database = s->database;
    r->user = s->user;
    r->application = s->application_name ? s->application_name : "";
    r->engine = engine;
    r->wall_us = s->query_start_us ? proxy_stats_now_us() - s->query_start_us : 0;
}

static void meter_append(proxy_session *s, const storage_usage_record *r)
{
    if (!storage_ledger_append(s->server->ledger, r) && !s->server->meter_warned) {
        s->server->meter_warned = true;
        proxy_log(PROXY_LOG_WARNING, "metering: cannot write the usage journal");
    }
}

void meter_job(proxy_session *s, const storage_job *job)
{
    if (!s->server->ledger || (job->kind != STORAGE_JOB_QUERY && job->kind != STORAGE_JOB_EXTENDED))
        return;
    storage_usage_record r;
    meter_record(s, STORAGE_SQLITE, &r);
    if (!r.wall_us)
        r.wall_us = job->wall_us;
    r.cpu_us = job->cpu_us;
    r.rows_returned = job->rows_returned;
    r.rows_written = job->rows_affected;
    r.bytes_in = job->kind == STORAGE_JOB_QUERY ? job->sql_len + 6 : job->msgs_len;
    r.bytes_out = job->out.len;
    meter_sqlstate(&job->out, r.sqlstate);
    meter_append(s, &r);
}

void meter_upstream_frame(proxy_session *s, const wire_frame *f)
{
    s->meter.out += f->total_len;
    switch (f->type) {
    case 'D':
        s->meter.rows_returned++;
        break;
    case 'G':
        s->meter.copy_in = true;
        break;
    case 'C': { /* "INSERT 0 5", "UPDATE 3", "DELETE 2", "MERGE 1", "COPY 10" */
        const char *tag = (const char *)f->body;
        size_t n = strnlen(tag, f->body_len);
        bool writes = (n > 7 && !memcmp(tag, "INSERT ", 7)) || (n > 7 && !memcmp(tag, "UPDATE ", 7)) ||
                      (n > 7 && !memcmp(tag, "DELETE ", 7)) || (n > 6 && !memcmp(tag, "MERGE ", 6)) ||
                      (s->meter.copy_in && n > 5 && !memcmp(tag, "COPY ", 5));
        if (writes) {
            const char *last = memrchr(tag, ' ', n);
            s->meter.rows_written += strtoull(last + 1, NULL, 10);
        }
        break;
    }
    case 'E':
        if (!s->meter.sqlstate[0]) {
            wire_error e;
            if (wire_error_parse(f, &e) && e.sqlstate && strlen(e.sqlstate) == 5)
                memcpy(s->meter.sqlstate, e.sqlstate, 6);
        }
        break;
    default:
        break;
    }
}

void meter_upstream_done(proxy_session *s)
{
    if (s->server->ledger) {
        storage_usage_record r;
        meter_record(s, STORAGE_POSTGRES, &r);
        r.rows_returned = s->meter.rows_returned;
        r.rows_written = s->meter.rows_written;
        r.bytes_in = s->meter.in;
        r.bytes_out = s->meter.out;
        memcpy(r.sqlstate, s->meter.sqlstate[0] ? s->meter.sqlstate : "00000", 6);
        meter_append(s, &r);
    }
    memset(&s->meter, 0, sizeof(s->meter));
}
