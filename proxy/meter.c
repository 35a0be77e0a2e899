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
 */
#include "internal.h"

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

void meter_job(proxy_session *s, const storage_job *job)
{
    storage_ledger *l = s->server->ledger;
    if (!l || (job->kind != STORAGE_JOB_QUERY && job->kind != STORAGE_JOB_EXTENDED))
        return;
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    storage_usage_record r = {
        .ts_us = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000,
        .database = s->database,
        .user = s->user,
        .application = s->application_name ? s->application_name : "",
        .engine = STORAGE_SQLITE,
        .wall_us = s->query_start_us ? proxy_stats_now_us() - s->query_start_us : job->wall_us,
        .cpu_us = job->cpu_us,
        .rows_returned = job->rows_returned,
        .rows_written = job->rows_affected,
        .bytes_in = job->kind == STORAGE_JOB_QUERY ? job->sql_len + 6 : job->msgs_len,
        .bytes_out = job->out.len,
    };
    meter_sqlstate(&job->out, r.sqlstate);
    if (!storage_ledger_append(l, &r) && !s->server->meter_warned) {
        s->server->meter_warned = true;
        proxy_log(PROXY_LOG_WARNING, "metering: cannot write the usage journal");
    }
}
