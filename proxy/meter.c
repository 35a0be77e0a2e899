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
#include "billing.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <xxhash.h>

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
    uint64_t mono = proxy_stats_now_us();
    r->wall_us = s->query_start_us ? mono - s->query_start_us : 0;
    /* a resume that ended while the request ran is what it waited for */
    uint64_t resumed = s->db ? pool_db_resumed_at(s->db) : 0;
    if (s->query_start_us && resumed > s->query_start_us && resumed <= mono)
        r->resume_wait_us = resumed - s->query_start_us;
}

void meter_flush(proxy_loop *l)
{
    if (storage_ledger_pending(l->ledger_w) && !storage_ledger_flush(l->ledger_w) &&
        !l->server->meter_warned) {
        l->server->meter_warned = true;
        proxy_log(PROXY_LOG_WARNING, "metering: cannot write the usage journal");
    }
}

static void meter_append(proxy_session *s, const storage_usage_record *r)
{
    if (s->stats) { /* for /metrics */
        s->stats->rows_read += r->rows_read;
        s->stats->rows_written += r->rows_written;
        s->stats->rows_returned += r->rows_returned;
    }
    timeline_acc *tl = &s->loop->tl_acc;
    tl->rows_read += r->rows_read;
    tl->rows_written += r->rows_written;
    tl->rows_returned += r->rows_returned;
    tl->bytes_out += r->bytes_out;
    tl->cpu_us += r->cpu_us;
    quota_count(s->server, s->database, r->rows_read, r->rows_written, 0, -1);
    if (!storage_ledger_append(s->loop->ledger_w, r) && !s->server->meter_warned) {
        s->server->meter_warned = true;
        proxy_log(PROXY_LOG_WARNING, "metering: out of memory for a usage record");
    }
}

/* SET dormouse.usage_notices = on: what the request cost, as a NoticeResponse
 * before its ReadyForQuery (an EXTENDED job's reply ends with its own). */
static void meter_notice(proxy_session *s, storage_job *job, const storage_usage_record *r)
{
    const billing_plan *plans[PROXY_MAX_PLANS + 8];
    int n = meter_plans(s->server, plans, PROXY_MAX_PLANS + 8);
    if (n == 0)
        return; /* (there are always the built-in plans) */
    const billing_plan *plan = plans[0];
    for (int i = 0; i < n && !s->server->cfg.nplans; i++)
        if (!strcmp(plans[i]->name, "d1"))
            plan = plans[i]; /* with no plan of one's own: D1's per-row prices */
    billing_usage bu = {.queries = 1,
                        .rows_read = r->rows_read,
                        .rows_written = r->rows_written,
                        .rows_returned = r->rows_returned,
                        .bytes_in = r->bytes_in,
                        .bytes_out = r->bytes_out,
                        .cpu_us = r->cpu_us};
    billing_bill bill;
    billing_compute(plan, &bu, &bill);
    /* allowances are for a month, not for one query: the price without them */
    double price = 0;
    for (int i = 0; i < bill.nlines; i++) {
        const billing_line *l = &bill.lines[i];
        bool per_million = strstr(l->price_unit, "per million") != NULL;
        price += l->quantity * l->unit_price / (per_million ? 1e6 : 1);
    }
    char msg[320], detail[160];
    snprintf(msg, sizeof(msg),
             "usage: %llu rows read, %llu written, %llu returned; %.3f ms (CPU %.3f ms); %llu "
             "bytes in, %llu out; $%.9f on plan %s",
             (unsigned long long)r->rows_read, (unsigned long long)r->rows_written,
             (unsigned long long)r->rows_returned, (double)r->wall_us / 1000.0,
             (double)r->cpu_us / 1000.0, (unsigned long long)r->bytes_in,
             (unsigned long long)r->bytes_out, price, plan->name);
    snprintf(detail, sizeof(detail), "kind %s, fingerprint %016llx%s",
             storage_query_kind_str(r->kind), (unsigned long long)r->fingerprint,
             r->resume_wait_us ? ", waited for a resume" : "");
    wire_error e = {.severity = "NOTICE", .sqlstate = "00000", .message = msg, .detail = detail};
    wire_buf *out = &job->out;
    bool ends_ready = out->len >= 6 && out->data[out->len - 6] == 'Z';
    if (!ends_ready) {
        wire_put_notice(out, &e);
        return;
    }
    uint8_t ready[6];
    memcpy(ready, out->data + out->len - 6, 6);
    out->len -= 6;
    wire_put_notice(out, &e);
    wire_buf_append(out, ready, 6);
}

void meter_jobs_early(storage_job *jobs)
{
    proxy_loop *l = NULL;
    for (storage_job *job = jobs; job; job = job->next) {
        proxy_session *s = job->udata;
        if ((job->kind != STORAGE_JOB_QUERY && job->kind != STORAGE_JOB_EXTENDED) ||
            s->state == SESSION_CLOSING || job->out.oom)
            continue; /* session_on_job_done records nothing for these either */
        meter_job(s, job);
        s->job_metered = true;
        l = s->loop;
    }
    if (l)
        meter_flush(l);
}

void meter_job(proxy_session *s, storage_job *job)
{
    /* A COPY job is a later part of the query that started it (a chunk of
     * a COPY FROM's data or its end, a part of a COPY TO or of a large
     * result): its rows, bytes and time, not another query. */
    bool part = job->kind == STORAGE_JOB_COPY;
    if (!s->server->ledger ||
        (job->kind != STORAGE_JOB_QUERY && job->kind != STORAGE_JOB_EXTENDED && !part))
        return;
    storage_usage_record r;
    meter_record(s, STORAGE_SQLITE, &r);
    if (part) {
        r.part = true;
        r.wall_us = job->wall_us;
        r.cpu_us = job->cpu_us;
        r.rows_returned = job->rows_returned;
        r.rows_written = job->rows_written;
        r.rows_read = job->rows_read;
        r.bytes_in = job->copy_len;
        r.fingerprint = s->stream_fingerprint;
        r.kind = s->stream_kind;
        r.bytes_out = job->out.len;
        meter_sqlstate(&job->out, r.sqlstate);
        meter_append(s, &r);
        return;
    }
    if (!r.wall_us)
        r.wall_us = job->wall_us;
    r.cpu_us = job->cpu_us;
    r.rows_returned = job->rows_returned;
    r.rows_written = job->rows_written;
    r.rows_read = job->rows_read;
    r.fingerprint = job->fingerprint;
    r.kind = job->query_kind;
    r.sample = job->sample;
    r.bytes_in = job->kind == STORAGE_JOB_QUERY ? job->sql_len + 6 : job->msgs_len;
    r.bytes_out = job->out.len;
    meter_sqlstate(&job->out, r.sqlstate);
    meter_append(s, &r);
    if (job->usage_notices)
        meter_notice(s, job, &r);
    free(job->sample);
    job->sample = NULL;
}

/* ---- upstream queries' fingerprints ----
 *
 * Dormouse relays what an upstream server runs without parsing it, so the
 * fingerprint (and the kind, from the scanner) is worked out here, on the
 * loop: once per distinct text, remembered in a small direct-mapped cache
 * per loop (texts that repeat cost one hash). */

#define METER_FP_SLOTS 1024 /* a power of two */
#define METER_FP_MAX_TEXT 8192 /* longer texts are fingerprinted every time */
#define METER_SEEN_SLOTS 4096

typedef struct meter_fp_slot {
    uint64_t text_hash, fingerprint;
    storage_query_kind kind;
} meter_fp_slot;

struct meter_fp_cache {
    meter_fp_slot slots[METER_FP_SLOTS];
    uint64_t seen[METER_SEEN_SLOTS]; /* fingerprints whose text this loop sent */
};

/* Is fp new to this loop (then its text goes to the ledger once)? */
static bool meter_first_seen(struct meter_fp_cache *c, uint64_t fp)
{
    for (unsigned i = 0; i < 16; i++) {
        uint64_t *slot = &c->seen[(fp + i) & (METER_SEEN_SLOTS - 1)];
        if (*slot == fp)
            return false;
        if (*slot == 0) {
            *slot = fp;
            return true;
        }
    }
    return false;
}

void meter_upstream_query(proxy_session *s, const char *sql, size_t len)
{
    if (!s->server->ledger || s->meter.fingerprint)
        return;
    proxy_loop *l = s->loop;
    if (!l->fp_cache && !(l->fp_cache = calloc(1, sizeof(*l->fp_cache))))
        return;
    uint64_t h = XXH3_64bits(sql, len) | 1; /* never 0: 0 marks an empty slot */
    meter_fp_slot *slot = &l->fp_cache->slots[h & (METER_FP_SLOTS - 1)];
    if (slot->text_hash != h || len > METER_FP_MAX_TEXT) {
        /* sql is NUL-terminated at len (the frame's own terminator) */
        slot->text_hash = h;
        slot->fingerprint = storage_fingerprint(sql);
        slot->kind = storage_query_kind_scan(sql);
    }
    s->meter.fingerprint = slot->fingerprint;
    s->meter.kind = slot->kind;
    if (slot->fingerprint && !s->meter.sample && meter_first_seen(l->fp_cache, slot->fingerprint))
        s->meter.sample = storage_normalize(sql, 1024);
}

void meter_session_free(proxy_session *s)
{
    free(s->meter.sample);
    s->meter.sample = NULL;
    if (s->admin_read) /* its answer is dropped when it comes */
        s->admin_read->session = NULL;
    s->admin_read = NULL;
}

void meter_loop_free(proxy_loop *l)
{
    free(l->fp_cache);
    l->fp_cache = NULL;
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
        r.fingerprint = s->meter.fingerprint;
        r.kind = s->meter.kind;
        r.sample = s->meter.sample;
        memcpy(r.sqlstate, s->meter.sqlstate[0] ? s->meter.sqlstate : "00000", 6);
        meter_append(s, &r);
    }
    free(s->meter.sample);
    memset(&s->meter, 0, sizeof(s->meter));
}

/* ---- active time and storage ---- */

static void meter_activity_one(pool_db *db, const pool_db_meter *m, void *arg)
{
    proxy_server *srv = arg;
    struct timespec wall;
    clock_gettime(CLOCK_REALTIME, &wall);
    int64_t now_us = (int64_t)wall.tv_sec * 1000000 + wall.tv_nsec / 1000;
    storage_db *sdb = pool_db_storage(db);
    storage_activity_record a = {
        .ts_us = now_us,
        .database = pool_db_name(db),
        /* the pool's (monotonic) clock to wall time, by one offset taken
         * once: every piece of a period names the same start */
        .period_us = (int64_t)m->period_start_us + srv->meter_wall_offset_us,
        .active_us = m->active_us,
        .cold_starts = m->cold_starts,
        .storage_bytes = sdb ? storage_db_bytes(sdb) : -1,
    };
    quota_count(srv, a.database, 0, 0, a.active_us, a.storage_bytes);
    if (!storage_ledger_activity(srv->loops[0].ledger_w, &a) && !srv->meter_warned) {
        srv->meter_warned = true;
        proxy_log(PROXY_LOG_WARNING, "metering: cannot write the usage journal");
    }
}

void meter_activity(proxy_server *srv, bool force)
{
    if (!srv->ledger)
        return;
    uint64_t now = proxy_stats_now_us();
    /* a pause ends an active period: its end is recorded at once */
    uint64_t pauses = pool_pauses_total(srv->pool);
    if (!force && pauses == srv->meter_pauses &&
        now - srv->meter_activity_us < METER_ACTIVITY_SECONDS * 1000000u)
        return;
    srv->meter_activity_us = now;
    srv->meter_pauses = pauses;
    if (!srv->meter_wall_offset_us) {
        struct timespec wall;
        clock_gettime(CLOCK_REALTIME, &wall);
        srv->meter_wall_offset_us =
            (int64_t)wall.tv_sec * 1000000 + wall.tv_nsec / 1000 - (int64_t)proxy_stats_now_us();
    }
    pool_db_meter_take(srv->pool, meter_activity_one, srv);
    meter_flush(&srv->loops[0]);
}

int meter_plans(const proxy_server *srv, const billing_plan **out, int max)
{
    int n = 0;
    for (int i = 0; i < srv->cfg.nplans && n < max; i++)
        out[n++] = &srv->cfg.plans[i];
    size_t nb;
    const billing_plan *builtin = billing_builtin_plans(&nb);
    for (size_t i = 0; i < nb && n < max; i++) {
        bool configured = false;
        for (int j = 0; j < srv->cfg.nplans; j++)
            configured = configured || !strcmp(srv->cfg.plans[j].name, builtin[i].name);
        if (!configured)
            out[n++] = &builtin[i];
    }
    return n;
}

/* ---- ledger reads answered on loop 0 ---- */

/* The ledger's thread: r goes to loop 0's list. */
static void meter_read_done(storage_ledger_request *q)
{
    meter_read *r = (meter_read *)q;
    proxy_server *srv = r->srv;
    pthread_mutex_lock(&srv->meter_lock);
    r->next = srv->meter_done;
    srv->meter_done = r;
    pthread_mutex_unlock(&srv->meter_lock);
    ev_async_send(srv->loop, &srv->meter_answered);
}

static meter_read *meter_take_done(proxy_server *srv)
{
    pthread_mutex_lock(&srv->meter_lock);
    meter_read *r = srv->meter_done;
    srv->meter_done = NULL;
    pthread_mutex_unlock(&srv->meter_lock);
    return r;
}

static void meter_answered_cb(struct ev_loop *loop, ev_async *w, int revents)
{
    proxy_server *srv = container_of(w, proxy_server, meter_answered);
    for (meter_read *r = meter_take_done(srv), *next; r; r = next) {
        next = r->next;
        r->finish(r);
    }
}

void meter_read_submit(proxy_server *srv, meter_read *r)
{
    r->srv = srv;
    r->q.done = meter_read_done;
    storage_ledger_query(srv->ledger, &r->q);
}

void meter_server_init(proxy_server *srv)
{
    pthread_mutex_init(&srv->meter_lock, NULL);
    ev_async_init(&srv->meter_answered, meter_answered_cb);
    ev_async_start(srv->loop, &srv->meter_answered);
    srv->meter_inited = true;
}

void meter_server_free(proxy_server *srv)
{
    if (!srv->meter_inited)
        return;
    for (meter_read *r = meter_take_done(srv), *next; r; r = next) {
        next = r->next;
        if (r->session)
            r->session->admin_read = NULL;
        storage_ledger_request_clear(&r->q);
        free(r);
    }
    if (srv->loop)
        ev_async_stop(srv->loop, &srv->meter_answered);
    pthread_mutex_destroy(&srv->meter_lock);
    srv->meter_inited = false;
}

/* ---- months and bills, for every reader of the ledger ---- */

void meter_month(int year, int month, int64_t *from_us, int64_t *to_us)
{
    struct tm first = {.tm_year = year - 1900, .tm_mon = month - 1, .tm_mday = 1};
    struct tm next = {.tm_year = year - 1900 + (month == 12), .tm_mon = month % 12, .tm_mday = 1};
    *from_us = (int64_t)timegm(&first) * 1000000;
    *to_us = (int64_t)timegm(&next) * 1000000;
}

void meter_month_now(int64_t *from_us, int64_t *to_us)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    meter_month(tm.tm_year + 1900, tm.tm_mon + 1, from_us, to_us);
}

billing_usage meter_billing_usage(const storage_bill_input *in, int64_t from_us, int64_t to_us)
{
    const storage_usage_row *t = &in->totals;
    return (billing_usage){.period_start_us = from_us,
                           .period_end_us = to_us,
                           .queries = t->queries,
                           .rows_read = t->rows_read,
                           .rows_written = t->rows_written,
                           .rows_returned = t->rows_returned,
                           .bytes_in = t->bytes_in,
                           .bytes_out = t->bytes_out,
                           .cpu_us = t->cpu_us,
                           .active_intervals_s = in->active_s,
                           .n_active_intervals = (size_t)in->nactive,
                           .storage_byte_seconds = in->storage_byte_seconds};
}
