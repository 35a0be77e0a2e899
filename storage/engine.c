/*
 * engine.c: the SQLite engine's worker pool and the lifecycle of its handles.
 *
 * Threads.  storage_engine_new starts opt->workers threads that all wait on one
 * FIFO queue (a mutex and a condition variable).  The owner's thread (the event
 * loop) only ever queues jobs, so it never blocks on SQLite: every sqlite3 call,
 * including opening and closing files, happens on a worker.
 *
 * Job life cycle:
 *
 *   owner: fill kind/conn/sql/done, wire_buf_init(&out)
 *      │ storage_job_submit            (job now belongs to the engine)
 *      ▼
 *   queued ──► worker pops it ──► running: sqlite_conn_open / sqlite_query_run
 *                                 / sqlite_extended_run / sqlite_copy_run
 *                                 / sqlite_conn_reset / sqlite_conn_close
 *                                 append replies to `out`
 *      ┌──────────────────────────────────┘
 *      ▼
 *   done(job) on the worker            (job belongs to the owner again)
 *
 * Writers.  A QUERY or EXTENDED job that writes needs its database's write lock
 * (db->writer).
 * When another connection holds it, the job is parked, not run: it occupies no
 * worker while it waits, so the writer's next job always finds one.  The lock
 * is released when the holder's transaction ends (or it closes, or a RESET
 * rolls it back), and passes to the first parked job for that database; a
 * parked job that waits longer than busy_timeout_ms fails with 40001.
 *
 * A COPY holds its transaction (and so the write lock, for COPY FROM) across
 * the COPY jobs that carry its data: the lock is released only when the
 * connection's transaction is over, and a COPY job on the holder never parks.
 *
 * The owner submits at most one job per connection at a time, so a connection's
 * sqlite3 handle is used by one worker at a time (hence SQLITE_OPEN_NOMUTEX).
 * storage_engine_free lets the workers drain the queue, then joins them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "sqlite_conn.h"
#include "sqlite_copy.h"
#include "sqlite_extended.h"
#include "sqlite_meter.h"
#include "sqlite_session.h"
#include "statement.h"
#include "storage_internal.h"

const char *storage_kind_str(storage_kind k)
{
    switch (k) {
    case STORAGE_SQLITE:
        return "sqlite";
    case STORAGE_POSTGRES:
        return "postgres";
    }
    return "unknown";
}

const char *storage_job_kind_str(storage_job_kind k)
{
    switch (k) {
    case STORAGE_JOB_OPEN:
        return "open";
    case STORAGE_JOB_QUERY:
        return "query";
    case STORAGE_JOB_CLOSE:
        return "close";
    case STORAGE_JOB_EXTENDED:
        return "extended";
    case STORAGE_JOB_COPY:
        return "copy";
    case STORAGE_JOB_RESET:
        return "reset";
    }
    return "unknown";
}

const char *storage_copy_mode_str(storage_copy_mode m)
{
    switch (m) {
    case STORAGE_COPY_NONE:
        return "none";
    case STORAGE_COPY_IN:
        return "in";
    case STORAGE_COPY_OUT:
        return "out";
    }
    return "unknown";
}

const char *storage_copy_end_str(storage_copy_end e)
{
    switch (e) {
    case STORAGE_COPY_MORE:
        return "more";
    case STORAGE_COPY_DONE:
        return "done";
    case STORAGE_COPY_FAIL:
        return "fail";
    }
    return "unknown";
}

static uint64_t storage_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* A job that cannot run at all (no connection, unknown kind): an internal
 * error, never a crash on the worker. */
static void storage_job_reject(storage_job *job, const char *why)
{
    wire_error e = {.severity = "ERROR", .sqlstate = WIRE_SQLSTATE_INTERNAL_ERROR, .message = why};
    wire_put_error(&job->out, &e);
    job->failed = true;
}

static uint64_t storage_thread_cpu_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

#define STORAGE_SEEN_SLOTS 4096 /* a power of two */
#define STORAGE_SEEN_PROBES 16
#define STORAGE_SAMPLE_MAX 1024

/* Adds fp to the engine's set of fingerprints seen; false if it was there
 * (or the set has no room near it: the sample is then not sent again). */
static bool storage_fingerprint_first(storage_engine *e, uint64_t fp)
{
    for (unsigned i = 0; i < STORAGE_SEEN_PROBES; i++) {
        _Atomic uint64_t *slot = &e->fingerprints_seen[(fp + i) & (STORAGE_SEEN_SLOTS - 1)];
        uint64_t have = atomic_load_explicit(slot, memory_order_relaxed);
        if (have == fp)
            return false;
        if (have == 0) {
            uint64_t empty = 0;
            if (atomic_compare_exchange_strong(slot, &empty, fp))
                return true;
            if (empty == fp)
                return false;
        }
    }
    return false;
}

void storage_job_meter_query(storage_job *job, const storage_parse *p, const char *sql)
{
    storage_engine *e = job->conn->db->engine;
    if (!e->fingerprints_seen)
        return;
    /* a batch is what its weightiest statement is; its fingerprint the last's */
    job->query_kind = storage_query_kind_max(job->query_kind, storage_parse_kind(p));
    if (!p->fingerprint)
        return;
    job->fingerprint = p->fingerprint;
    if (!job->sample && storage_fingerprint_first(e, p->fingerprint))
        job->sample = storage_normalize(sql, STORAGE_SAMPLE_MAX);
}

static void storage_job_run(storage_job *job)
{
    uint64_t start = storage_now_us(), cpu_start = storage_thread_cpu_us();

    job->failed = false;
    job->copy = STORAGE_COPY_NONE;
    job->copy_discard = false;
    job->statements = 0;
    job->rows_returned = 0;
    job->rows_affected = 0;
    job->rows_read = job->rows_written = 0;
    job->fingerprint = 0;
    job->query_kind = STORAGE_QUERY_OTHER;
    free(job->sample);
    job->sample = NULL;
    job->tx_status = job->conn ? job->conn->tx_status : 'I';

    if (!job->conn) {
        storage_job_reject(job, "storage job without a connection");
    } else {
        switch (job->kind) {
        case STORAGE_JOB_OPEN:
            sqlite_conn_open(job);
            break;
        case STORAGE_JOB_QUERY:
            sqlite_conn_catalog_check(job->conn);
            sqlite_meter_begin(job->conn);
            sqlite_extended_before_query(job->conn);
            sqlite_query_run(job);
            sqlite_extended_after_query(job->conn);
            sqlite_meter_end(job->conn, &job->rows_read, &job->rows_written);
            break;
        case STORAGE_JOB_EXTENDED:
            sqlite_conn_catalog_check(job->conn);
            sqlite_meter_begin(job->conn);
            sqlite_extended_run(job);
            sqlite_meter_end(job->conn, &job->rows_read, &job->rows_written);
            break;
        case STORAGE_JOB_COPY:
            sqlite_meter_begin(job->conn);
            sqlite_copy_run(job);
            sqlite_meter_end(job->conn, &job->rows_read, &job->rows_written);
            break;
        case STORAGE_JOB_RESET:
            sqlite_conn_reset(job); /* its rollback lets storage_writer_release pass the lock on */
            break;
        case STORAGE_JOB_CLOSE:
            sqlite_extended_conn_clear(job->conn); /* before the handle's statements go */
            sqlite_copy_conn_clear(job->conn);
            sqlite_conn_close(job);
            break;
        default:
            storage_job_reject(job, "unknown storage job kind");
            break;
        }
        job->tx_status = job->conn->tx_status;
        job->usage_notices = false;
        if (job->kind == STORAGE_JOB_QUERY || job->kind == STORAGE_JOB_EXTENDED) {
            const char *v = sqlite_session_get(job->conn, "dormouse.usage_notices");
            job->usage_notices = v && (!strcasecmp(v, "on") || !strcasecmp(v, "true") ||
                                       !strcasecmp(v, "yes") || !strcmp(v, "1"));
        }
    }
    job->wall_us = storage_now_us() - start;
    job->cpu_us = storage_thread_cpu_us() - cpu_start;
}

/* Does the job need its database's write lock?  Everything but reads and
 * transaction control does; a message that cannot be parsed does not (it
 * runs nothing).  An EXTENDED batch does when it parses, binds or executes
 * a writing statement.  Called without the engine lock, on the worker about
 * to run the job (which therefore owns the connection). */
static bool storage_job_writes(storage_job *job)
{
    if (job->kind == STORAGE_JOB_EXTENDED)
        return sqlite_extended_writes(job);
    if (job->kind != STORAGE_JOB_QUERY || !job->sql)
        return false;
    /* The parse is kept on the job for sqlite_query_run: parsing is the
     * largest per-query cost, and the message is parsed only once. */
    storage_parse *parsed = malloc(sizeof(*parsed));
    storage_parse_error perr;
    if (!parsed)
        return false;
    if (!storage_parse_cached(job->conn->db->engine->parses, job->sql, parsed, &perr)) {
        free(parsed); /* the run parses again to report the error */
        return false;
    }
    job->parsed = parsed;
    bool writes = false;
    for (size_t i = 0; i < parsed->n && !writes; i++)
        writes = storage_stmt_writes(&parsed->stmts[i]);
    return writes;
}

/* Releases a parse the run did not consume. */
static void storage_job_drop_parse(storage_job *job)
{
    if (job->parsed) {
        storage_parse_free(job->parsed);
        free(job->parsed);
        job->parsed = NULL;
    }
}

static void storage_list_push(storage_job **head, storage_job **tail, storage_job *job)
{
    job->next = NULL;
    if (*tail)
        (*tail)->next = job;
    else
        *head = job;
    *tail = job;
}

/* Gives up the write lock of c's database if c holds it and its transaction
 * is over; hands it to the first parked job for that database, which goes to
 * the front of the run queue.  Engine lock held. */
static void storage_writer_release(storage_engine *e, storage_conn *c)
{
    storage_db *db = c->db;
    /* An implicit block left open by an extended batch that ended at Flush
     * is a transaction too, though the client sees 'I'. */
    if (db->writer != c ||
        (c->handle && (c->tx_status != 'I' || !sqlite3_get_autocommit(c->handle))))
        return;
    db->writer = NULL;
    storage_job *prev = NULL;
    for (storage_job *j = e->parked_head; j; prev = j, j = j->next) {
        if (j->conn->db != db)
            continue;
        if (prev)
            prev->next = j->next;
        else
            e->parked_head = j->next;
        if (e->parked_tail == j)
            e->parked_tail = prev;
        db->writer = j->conn;
        j->next = e->head;
        e->head = j;
        if (!e->tail)
            e->tail = j;
        pthread_cond_signal(&e->cond);
        return;
    }
}

/* Fails a job that waited for the write lock too long, as SQLite's busy
 * timeout would have: 40001, and a transaction block becomes failed. */
static void storage_job_expire(storage_job *job)
{
    storage_job_drop_parse(job);
    storage_conn *c = job->conn;
    wire_error err = {.severity = "ERROR",
                      .sqlstate = WIRE_SQLSTATE_SERIALIZATION_FAILURE,
                      .message = "could not serialize access due to concurrent update",
                      .detail = "Another transaction held the database's write lock for longer "
                                "than sqlite_busy_timeout."};
    job->failed = false;
    job->statements = job->rows_returned = job->rows_affected = job->wall_us = job->cpu_us = 0;
    job->rows_read = job->rows_written = 0;
    wire_put_error(&job->out, &err);
    if (c->tx_status == 'T')
        c->tx_status = 'E';
    job->tx_status = c->tx_status;
    sqlite_conn_job_end(c);
}

static void *storage_worker_main(void *arg)
{
    storage_engine *e = arg;

    pthread_mutex_lock(&e->lock);
    for (;;) {
        /* Parked jobs expire in FIFO order: all wait the same timeout. On
         * stop, nothing is left to release a lock, so they all expire. */
        uint64_t now = storage_now_us();
        storage_job *job = e->parked_head;
        if (job && (job->wait_deadline_us <= now || (e->stopping && !e->head))) {
            e->parked_head = job->next;
            if (!e->parked_head)
                e->parked_tail = NULL;
            pthread_mutex_unlock(&e->lock);
            storage_job_expire(job);
            if (job->done)
                job->done(job);
            pthread_mutex_lock(&e->lock);
            continue;
        }
        if (!e->head) {
            if (e->stopping)
                break; /* drained */
            if (e->parked_head) {
                uint64_t at = e->parked_head->wait_deadline_us;
                struct timespec ts = {.tv_sec = (time_t)(at / 1000000u),
                                      .tv_nsec = (long)(at % 1000000u) * 1000};
                pthread_cond_timedwait(&e->cond, &e->lock, &ts);
            } else {
                pthread_cond_wait(&e->cond, &e->lock);
            }
            continue;
        }
        job = e->head;
        e->head = job->next;
        if (!e->head)
            e->tail = NULL;
        job->next = NULL;
        storage_conn *c = job->conn;

        if (c && (job->kind == STORAGE_JOB_QUERY || job->kind == STORAGE_JOB_EXTENDED) &&
            c->db->writer != c) {
            pthread_mutex_unlock(&e->lock);
            bool writes = storage_job_writes(job);
            pthread_mutex_lock(&e->lock);
            if (writes) {
                if (c->db->writer && c->db->writer != c) {
                    job->wait_deadline_us =
                        storage_now_us() + (uint64_t)e->opt.busy_timeout_ms * 1000u;
                    storage_list_push(&e->parked_head, &e->parked_tail, job);
                    continue;
                }
                c->db->writer = c;
            }
        }
        pthread_mutex_unlock(&e->lock);

        storage_job_run(job);
        storage_job_drop_parse(job);

        pthread_mutex_lock(&e->lock);
        if (c)
            storage_writer_release(e, c);
        pthread_mutex_unlock(&e->lock);
        if (job->done)
            job->done(job); /* the job is the owner's from here on */
        pthread_mutex_lock(&e->lock);
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}

/* Stops and joins the first n threads; the queue is drained first. */
static void storage_engine_stop(storage_engine *e, int n)
{
    pthread_mutex_lock(&e->lock);
    e->stopping = true;
    pthread_cond_broadcast(&e->cond);
    pthread_mutex_unlock(&e->lock);
    for (int i = 0; i < n; i++)
        pthread_join(e->threads[i], NULL);
}

storage_engine *storage_engine_new(const storage_options *opt, char *err, size_t errlen)
{
    if (!opt || !opt->data_dir || !opt->data_dir[0]) {
        snprintf(err, errlen, "storage: data_dir is required");
        return NULL;
    }
    if (opt->workers < 1) {
        snprintf(err, errlen, "storage: workers must be at least 1 (got %d)", opt->workers);
        return NULL;
    }
    if (opt->busy_timeout_ms < 0) {
        snprintf(err, errlen, "storage: busy_timeout_ms must not be negative");
        return NULL;
    }
    if (!sqlite3_threadsafe()) {
        snprintf(err, errlen, "storage: SQLite was built without thread support");
        return NULL;
    }

    storage_engine *e = calloc(1, sizeof(*e));
    if (!e) {
        snprintf(err, errlen, "storage: out of memory");
        return NULL;
    }
    e->opt = *opt;
    e->data_dir = strdup(opt->data_dir);
    e->cold_dir = strdup(opt->cold_dir ? opt->cold_dir : "");
    e->threads = calloc((size_t)opt->workers, sizeof(*e->threads));
    e->parses = storage_parse_cache_new(STORAGE_PARSE_CACHE_ENTRIES);
    if (opt->metering)
        e->fingerprints_seen = calloc(STORAGE_SEEN_SLOTS, sizeof(*e->fingerprints_seen));
    if (!e->data_dir || !e->cold_dir || !e->threads || !e->parses ||
        (opt->metering && !e->fingerprints_seen)) {
        snprintf(err, errlen, "storage: out of memory");
        free(e->data_dir);
        free(e->cold_dir);
        free(e->threads);
        free(e->fingerprints_seen);
        storage_parse_cache_free(e->parses);
        free(e);
        return NULL;
    }
    storage_parse_cache_set_fingerprints(e->parses, opt->metering);
    e->opt.data_dir = e->data_dir;
    e->opt.cold_dir = e->cold_dir;
    pthread_mutex_init(&e->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* deadlines use storage_now_us */
    pthread_cond_init(&e->cond, &ca);
    pthread_condattr_destroy(&ca);

    for (int i = 0; i < opt->workers; i++) {
        int rc = pthread_create(&e->threads[i], NULL, storage_worker_main, e);
        if (rc != 0) {
            snprintf(err, errlen, "storage: cannot start worker thread: %s", strerror(rc));
            storage_engine_stop(e, i);
            e->nthreads = 0;
            storage_engine_free(e);
            return NULL;
        }
        e->nthreads = i + 1;
    }
    return e;
}

void storage_engine_free(storage_engine *e)
{
    if (!e)
        return;
    storage_engine_stop(e, e->nthreads);
    pthread_cond_destroy(&e->cond);
    pthread_mutex_destroy(&e->lock);
    free(e->threads);
    free(e->data_dir);
    free(e->cold_dir);
    free(e->fingerprints_seen);
    storage_parse_cache_free(e->parses);
    free(e);
}

void storage_job_submit(storage_engine *e, storage_job *job)
{
    job->next = NULL;
    if ((job->kind == STORAGE_JOB_QUERY || job->kind == STORAGE_JOB_EXTENDED ||
         job->kind == STORAGE_JOB_COPY) &&
        job->conn) {
        /* From here a cancel applies to this job, even before a worker takes it. */
        pthread_mutex_lock(&job->conn->lock);
        job->conn->queued = true;
        pthread_mutex_unlock(&job->conn->lock);
    }
    pthread_mutex_lock(&e->lock);
    if (e->tail)
        e->tail->next = job;
    else
        e->head = job;
    e->tail = job;
    pthread_cond_signal(&e->cond);
    pthread_mutex_unlock(&e->lock);
}

size_t storage_db_size(const storage_engine *e, const char *name)
{
    /* name, then data_dir/NAME.db */
    return sizeof(storage_db) + strlen(name) + 1 + strlen(e->data_dir) + strlen(name) + 5;
}

storage_db *storage_db_init(void *mem, storage_engine *e, const char *name)
{
    storage_db *db = mem;
    size_t nlen = strlen(name);
    db->engine = e;
    db->name = db->text;
    memcpy(db->name, name, nlen + 1);
    db->path = db->name + nlen + 1;
    sprintf(db->path, "%s/%s.db", e->data_dir, name); /* storage_db_size made room */
    pthread_mutex_init(&db->lock, NULL);
    return db;
}

void storage_db_fini(storage_db *db)
{
    if (db)
        pthread_mutex_destroy(&db->lock);
}

storage_db *storage_db_new(storage_engine *e, const char *name)
{
    void *mem = calloc(1, storage_db_size(e, name));
    return mem ? storage_db_init(mem, e, name) : NULL;
}

void storage_db_set_pausing(storage_db *db, bool pausing)
{
    atomic_store(&db->pausing, pausing);
}

bool storage_db_is_cold(const storage_db *db)
{
    const char *cold = db->engine->opt.cold_dir;
    if (!cold || !cold[0])
        return false;
    char path[PATH_MAX];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s.db", cold, db->name);
    return stat(path, &st) == 0 && stat(db->path, &st) != 0;
}

void storage_db_free(storage_db *db)
{
    if (!db)
        return;
    storage_db_fini(db);
    free(db);
}

const char *storage_db_name(const storage_db *db)
{
    return db->name;
}

const char *storage_db_path(const storage_db *db)
{
    return db->path;
}

int64_t storage_db_bytes(const storage_db *db)
{
    struct stat st;
    char path[PATH_MAX];
    int64_t bytes = -1;
    if (stat(db->path, &st) == 0) {
        bytes = (int64_t)st.st_size;
        snprintf(path, sizeof(path), "%s-wal", db->path);
        if (stat(path, &st) == 0)
            bytes += (int64_t)st.st_size;
    } else if (db->engine->cold_dir[0]) {
        snprintf(path, sizeof(path), "%s/%s.db", db->engine->cold_dir, db->name);
        if (stat(path, &st) == 0)
            bytes = (int64_t)st.st_size;
    }
    return bytes;
}

storage_conn *storage_conn_new(storage_db *db)
{
    storage_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->db = db;
    c->tx_status = 'I';
    pthread_mutex_init(&c->lock, NULL);
    atomic_init(&c->cancel, false);
    return c;
}

bool storage_conn_set_user(storage_conn *c, const char *user)
{
    char *u = strdup(user ? user : "");
    if (!u)
        return false;
    free(c->user);
    c->user = u;
    return true;
}

bool storage_conn_stateless(const storage_conn *c)
{
    if (c->ext_implicit) /* an Execute without Sync: its transaction is open, status 'I' */
        return false;
    return c->handle && c->tx_status == 'I' && !c->copy && !c->ext_pending && !c->settings &&
           !c->session_objects && sqlite_extended_conn_unnamed_only(c);
}

void storage_conn_detach(storage_conn *c)
{
    /* a cancel aimed at the old client's last statement must not hit the
     * next client's first */
    atomic_store(&c->cancel, false);
    atomic_store(&c->cancel_timeout, false);
    /* The catalog's temp tables were built for this user: the next user's
     * first job drops them if it is another (as after a RESET). */
    if (c->user) {
        free(c->catalog_user);
        c->catalog_user = c->user;
        c->user = NULL;
    }
}

void storage_conn_set_owner_data(storage_conn *c, void *data)
{
    c->owner_data = data;
}

void *storage_conn_owner_data(const storage_conn *c)
{
    return c->owner_data;
}

void storage_conn_free(storage_conn *c)
{
    if (!c)
        return;
    /* Contract: closed by a CLOSE job (or never opened).  A handle still here
     * is a caller bug; close it rather than leak a file descriptor. */
    sqlite_extended_conn_clear(c);
    sqlite_copy_conn_clear(c);
    sqlite_session_free(c);
    if (c->handle)
        sqlite3_close_v2(c->handle);
    sqlite_conn_uncount(c, false);
    pthread_mutex_destroy(&c->lock);
    free(c->catalog_user);
    free(c->user);
    free(c);
}

void storage_conn_interrupt_timeout(storage_conn *c)
{
    if (!c)
        return;
    atomic_store(&c->cancel_timeout, true);
    storage_conn_interrupt(c);
}

void storage_conn_interrupt(storage_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    if (c->active) {
        atomic_store(&c->cancel, true);
        sqlite3_interrupt(c->active);
    } else if (c->queued || c->copying) {
        atomic_store(&c->cancel, true); /* checked when the (next COPY) job starts */
    }
    pthread_mutex_unlock(&c->lock);
}
