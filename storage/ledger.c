/*
 * The usage ledger (storage.h, "usage ledger"): every query's usage record,
 * durable across a kill -9 of Dormouse, in an SQLite database of Dormouse's
 * own (DIR/dormouse_ledger.db) written off the hot path.
 *
 * Hot path: storage_ledger_append() encodes the record and write()s it to a
 * journal (DIR/dormouse_ledger.journal, O_APPEND), before the caller sends
 * the query's result; once write() has returned the record is in the page
 * cache and survives the process.  One write per query, no fsync, and the
 * ledger thread is woken only when it sleeps.
 *
 * The ledger thread reads the journal from the offset the ledger has
 * reached, checks each record (length and xxHash), and inserts a batch into
 * `usage` in one transaction that also stores the new offset, so a batch
 * is in the ledger exactly when the offset says so.  After a crash it
 * resumes from that offset; records are keyed by their event id (boot, seq),
 * so one inserted twice is ignored.  Once the ledger has everything and the
 * journal is large, the journal is truncated (appenders wait on the rwlock
 * for that moment).  Reads (storage_ledger_query) run on the same thread
 * after it has caught up, so they never block an event loop and always see
 * every record appended before them.
 */
#include "dormouse/storage.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define LEDGER_TRUNCATE_AT (16u << 20) /* bytes of journal the ledger holds */
#define LEDGER_READ (256u * 1024u)
#define LEDGER_GATHER_NS (100 * 1000 * 1000) /* a batch gathers this long */

/* The journal record: a fixed head, then the three names. */
typedef struct __attribute__((packed)) ledger_rec {
    uint32_t len;  /* of the whole record */
    uint32_t hash; /* XXH32 of everything after this field */
    uint64_t boot, seq;
    int64_t ts_us;
    uint64_t wall_us, cpu_us, rows_returned, rows_written, bytes_in, bytes_out;
    uint8_t engine, dblen, userlen, applen;
    char sqlstate[5];
} ledger_rec;

struct storage_ledger {
    char journal_path[PATH_MAX], db_path[PATH_MAX];
    int fd; /* the journal, O_APPEND */
    pthread_rwlock_t truncating;
    uint64_t boot;
    atomic_uint_fast64_t seq;
    atomic_uint_fast64_t appended, stored; /* records */

    int64_t truncate_at; /* journal bytes held once in the ledger before it starts over */
    pthread_mutex_t lock;
    pthread_cond_t cond;
    atomic_bool sleeping;
    bool stop;
    storage_ledger_request *requests, *requests_tail;
    pthread_t thread;
    sqlite3 *db; /* the ledger thread's */
    char error[256];
};

/* ---- the ledger database ---- */

static bool ledger_exec(sqlite3 *db, const char *sql)
{
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
}

static int64_t ledger_offset(storage_ledger *l)
{
    sqlite3_stmt *st;
    int64_t off = 0;
    if (sqlite3_prepare_v2(l->db, "SELECT value FROM meta WHERE key = 'journal_offset'", -1, &st,
                           NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW)
            off = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return off;
}

/* Moves every complete record of the journal into the ledger; the number
 * stored, or -1 on error (l->error). */
static int64_t ledger_catch_up(storage_ledger *l)
{
    int64_t off = ledger_offset(l), stored = 0;
    uint8_t *buf = malloc(LEDGER_READ);
    if (!buf)
        return -1;
    sqlite3_stmt *ins = NULL, *setoff = NULL;
    if (sqlite3_prepare_v2(l->db,
                           "INSERT OR IGNORE INTO usage (boot, seq, ts_us, database, user_name, "
                           "application, engine, sqlstate, wall_us, cpu_us, rows_returned, "
                           "rows_written, bytes_in, bytes_out) "
                           "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(l->db,
                           "INSERT OR REPLACE INTO meta (key, value) VALUES ('journal_offset', ?)",
                           -1, &setoff, NULL) != SQLITE_OK) {
        snprintf(l->error, sizeof(l->error), "ledger: %s", sqlite3_errmsg(l->db));
        stored = -1;
        goto out;
    }
    for (;;) {
        ssize_t n = pread(l->fd, buf, LEDGER_READ, off);
        if (n <= 0)
            break;
        size_t pos = 0, batch = 0;
        ledger_exec(l->db, "BEGIN");
        while (pos + sizeof(ledger_rec) <= (size_t)n) {
            ledger_rec r;
            memcpy(&r, buf + pos, sizeof(r));
            if (r.len < sizeof(r) || r.len > 4096)
                break; /* a torn tail (or garbage): stop here */
            if (pos + r.len > (size_t)n)
                break; /* the rest is in the next read */
            if (XXH32(buf + pos + 8, r.len - 8, 0) != r.hash ||
                sizeof(r) + r.dblen + r.userlen + r.applen != r.len)
                break;
            const char *names = (const char *)buf + pos + sizeof(r);
            char sqlstate[6];
            memcpy(sqlstate, r.sqlstate, 5);
            sqlstate[5] = '\0';
            sqlite3_bind_int64(ins, 1, (sqlite3_int64)r.boot);
            sqlite3_bind_int64(ins, 2, (sqlite3_int64)r.seq);
            sqlite3_bind_int64(ins, 3, r.ts_us);
            sqlite3_bind_text(ins, 4, names, r.dblen, SQLITE_TRANSIENT);
            sqlite3_bind_text(ins, 5, names + r.dblen, r.userlen, SQLITE_TRANSIENT);
            sqlite3_bind_text(ins, 6, names + r.dblen + r.userlen, r.applen, SQLITE_TRANSIENT);
            sqlite3_bind_text(ins, 7, storage_kind_str((storage_kind)r.engine), -1, SQLITE_STATIC);
            sqlite3_bind_text(ins, 8, sqlstate, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(ins, 9, (sqlite3_int64)r.wall_us);
            sqlite3_bind_int64(ins, 10, (sqlite3_int64)r.cpu_us);
            sqlite3_bind_int64(ins, 11, (sqlite3_int64)r.rows_returned);
            sqlite3_bind_int64(ins, 12, (sqlite3_int64)r.rows_written);
            sqlite3_bind_int64(ins, 13, (sqlite3_int64)r.bytes_in);
            sqlite3_bind_int64(ins, 14, (sqlite3_int64)r.bytes_out);
            if (sqlite3_step(ins) != SQLITE_DONE) {
                snprintf(l->error, sizeof(l->error), "ledger: %s", sqlite3_errmsg(l->db));
                sqlite3_reset(ins);
                ledger_exec(l->db, "ROLLBACK");
                stored = -1;
                goto out;
            }
            sqlite3_reset(ins);
            pos += r.len;
            batch++;
        }
        off += (int64_t)pos;
        sqlite3_bind_int64(setoff, 1, off);
        sqlite3_step(setoff);
        sqlite3_reset(setoff);
        if (!ledger_exec(l->db, "COMMIT")) {
            snprintf(l->error, sizeof(l->error), "ledger: %s", sqlite3_errmsg(l->db));
            ledger_exec(l->db, "ROLLBACK");
            stored = -1;
            goto out;
        }
        stored += (int64_t)batch;
        if (pos == 0)
            break; /* an incomplete record at the end: wait for more */
    }
    atomic_fetch_add(&l->stored, (uint_fast64_t)stored);
    /* all in: a large journal starts again from zero */
    struct stat st;
    if (off >= l->truncate_at && fstat(l->fd, &st) == 0 && st.st_size == off) {
        /* the offset goes to 0 first: a crash before the truncation only
         * makes the journal's records go in again, ignored by event id */
        pthread_rwlock_wrlock(&l->truncating);
        if (fstat(l->fd, &st) == 0 && st.st_size == off) {
            sqlite3_bind_int64(setoff, 1, 0);
            bool reset = sqlite3_step(setoff) == SQLITE_DONE;
            sqlite3_reset(setoff);
            if (reset && ftruncate(l->fd, 0) != 0) {
                sqlite3_bind_int64(setoff, 1, off); /* not truncated: keep the place */
                sqlite3_step(setoff);
                sqlite3_reset(setoff);
            }
        }
        pthread_rwlock_unlock(&l->truncating);
    }
out:
    sqlite3_finalize(ins);
    sqlite3_finalize(setoff);
    free(buf);
    return stored;
}

/* ---- reads ---- */

static const char *ledger_bucket_sql(storage_usage_granularity g)
{
    switch (g) {
    case STORAGE_USAGE_MINUTE:
        return "60000000";
    case STORAGE_USAGE_DAY:
        return "86400000000";
    case STORAGE_USAGE_HOUR:
        break;
    }
    return "3600000000";
}

static void ledger_answer(storage_ledger *l, storage_ledger_request *q)
{
    if (ledger_catch_up(l) < 0) {
        snprintf(q->error, sizeof(q->error), "%s", l->error);
        return;
    }
    char sql[768];
    snprintf(sql, sizeof(sql),
             "SELECT (ts_us / %s) * %s AS bucket, count(*), sum(rows_returned), sum(rows_written), "
             "sum(bytes_in), sum(bytes_out), sum(wall_us), sum(cpu_us), "
             "sum(sqlstate <> '00000') FROM usage WHERE database = ?1 AND ts_us >= ?2 AND "
             "ts_us < ?3 GROUP BY bucket ORDER BY bucket",
             ledger_bucket_sql(q->granularity), ledger_bucket_sql(q->granularity));
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(q->error, sizeof(q->error), "ledger: %s", sqlite3_errmsg(l->db));
        return;
    }
    sqlite3_bind_text(st, 1, q->database, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, q->from_us);
    sqlite3_bind_int64(st, 3, q->to_us);
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (q->nrows == q->caprows) {
            int cap = q->caprows ? q->caprows * 2 : 64;
            storage_usage_row *v = realloc(q->rows, (size_t)cap * sizeof(*v));
            if (!v) {
                snprintf(q->error, sizeof(q->error), "out of memory");
                break;
            }
            q->rows = v;
            q->caprows = cap;
        }
        storage_usage_row *r = &q->rows[q->nrows++];
        r->start_us = sqlite3_column_int64(st, 0);
        r->queries = (uint64_t)sqlite3_column_int64(st, 1);
        r->rows_returned = (uint64_t)sqlite3_column_int64(st, 2);
        r->rows_written = (uint64_t)sqlite3_column_int64(st, 3);
        r->bytes_in = (uint64_t)sqlite3_column_int64(st, 4);
        r->bytes_out = (uint64_t)sqlite3_column_int64(st, 5);
        r->wall_us = (uint64_t)sqlite3_column_int64(st, 6);
        r->cpu_us = (uint64_t)sqlite3_column_int64(st, 7);
        r->errors = (uint64_t)sqlite3_column_int64(st, 8);
    }
    sqlite3_finalize(st);
}

/* ---- the thread ---- */

static void *ledger_main(void *arg)
{
    storage_ledger *l = arg;
    for (;;) {
        pthread_mutex_lock(&l->lock);
        /* sleeping is set before `appended` is looked at: an appender either
         * is seen here, or sees sleeping and signals (under the lock, so not
         * before the wait) */
        while (!l->stop && !l->requests) {
            atomic_store(&l->sleeping, true);
            if (atomic_load(&l->appended) != atomic_load(&l->stored))
                break;
            pthread_cond_wait(&l->cond, &l->lock);
        }
        atomic_store(&l->sleeping, false);
        /* records (no read waiting): let a batch gather first, so that the
         * ledger commits a few times a second rather than once a query (the
         * journal already holds them durably) */
        if (!l->stop && !l->requests) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += LEDGER_GATHER_NS;
            if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
            }
            while (!l->stop && !l->requests &&
                   pthread_cond_timedwait(&l->cond, &l->lock, &until) == 0)
                ;
        }
        storage_ledger_request *q = l->requests;
        l->requests = l->requests_tail = NULL;
        bool stop = l->stop;
        pthread_mutex_unlock(&l->lock);

        if (ledger_catch_up(l) < 0 && !q) {
            /* the ledger is unwritable: try again on the next append */
            pthread_mutex_lock(&l->lock);
            if (!l->stop && !l->requests) {
                l->sleeping = true;
                pthread_cond_wait(&l->cond, &l->lock);
                l->sleeping = false;
            }
            pthread_mutex_unlock(&l->lock);
        }
        while (q) {
            storage_ledger_request *next = q->next;
            ledger_answer(l, q);
            q->done(q); /* the caller's now */
            q = next;
        }
        if (stop)
            break;
    }
    ledger_catch_up(l); /* the last records before exit */
    return NULL;
}

/* ---- the API ---- */

storage_ledger *storage_ledger_open(const char *dir, char *err, size_t errlen)
{
    storage_ledger *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(l->journal_path, sizeof(l->journal_path), "%s/dormouse_ledger.journal", dir);
    snprintf(l->db_path, sizeof(l->db_path), "%s/dormouse_ledger.db", dir);
    l->fd = open(l->journal_path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (l->fd < 0) {
        snprintf(err, errlen, "cannot open the usage journal %s: %s", l->journal_path,
                 strerror(errno));
        free(l);
        return NULL;
    }
    if (sqlite3_open_v2(l->db_path, &l->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
            SQLITE_OK ||
        !ledger_exec(l->db, "PRAGMA journal_mode=WAL") ||
        !ledger_exec(l->db, "PRAGMA synchronous=FULL") ||
        !ledger_exec(l->db,
                     "CREATE TABLE IF NOT EXISTS usage (boot INTEGER NOT NULL, seq INTEGER NOT "
                     "NULL, ts_us INTEGER NOT NULL, database TEXT NOT NULL, user_name TEXT NOT "
                     "NULL, application TEXT NOT NULL, engine TEXT NOT NULL, sqlstate TEXT NOT "
                     "NULL, wall_us INTEGER NOT NULL, cpu_us INTEGER NOT NULL, rows_returned "
                     "INTEGER NOT NULL, rows_written INTEGER NOT NULL, bytes_in INTEGER NOT NULL, "
                     "bytes_out INTEGER NOT NULL, PRIMARY KEY (database, ts_us, boot, seq)) "
                     "WITHOUT ROWID;"
                     "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER)")) {
        snprintf(err, errlen, "cannot open the usage ledger %s: %s", l->db_path,
                 l->db ? sqlite3_errmsg(l->db) : "out of memory");
        sqlite3_close(l->db);
        close(l->fd);
        free(l);
        return NULL;
    }
    if (getrandom(&l->boot, sizeof(l->boot), 0) != sizeof(l->boot))
        l->boot = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    l->boot &= INT64_MAX; /* stored as an SQLite integer */
    l->truncate_at = LEDGER_TRUNCATE_AT;
    pthread_rwlock_init(&l->truncating, NULL);
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->cond, NULL);
    /* what a crash left in the journal goes in first */
    if (ledger_catch_up(l) < 0) {
        snprintf(err, errlen, "%s", l->error);
        storage_ledger_close(l);
        return NULL;
    }
    atomic_store(&l->stored, 0);
    int rc = pthread_create(&l->thread, NULL, ledger_main, l);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the ledger thread: %s", strerror(rc));
        sqlite3_close(l->db);
        close(l->fd);
        free(l);
        return NULL;
    }
    return l;
}

bool storage_ledger_append(storage_ledger *l, const storage_usage_record *u)
{
    uint8_t buf[sizeof(ledger_rec) + 3 * 64];
    ledger_rec r;
    memset(&r, 0, sizeof(r));
    size_t dl = strnlen(u->database, 63), ul = strnlen(u->user, 63), al = strnlen(u->application, 63);
    r.len = (uint32_t)(sizeof(r) + dl + ul + al);
    r.boot = l->boot;
    r.seq = atomic_fetch_add(&l->seq, 1) + 1;
    r.ts_us = u->ts_us;
    r.wall_us = u->wall_us;
    r.cpu_us = u->cpu_us;
    r.rows_returned = u->rows_returned;
    r.rows_written = u->rows_written;
    r.bytes_in = u->bytes_in;
    r.bytes_out = u->bytes_out;
    r.engine = (uint8_t)u->engine;
    r.dblen = (uint8_t)dl;
    r.userlen = (uint8_t)ul;
    r.applen = (uint8_t)al;
    memcpy(r.sqlstate, u->sqlstate[0] ? u->sqlstate : "00000", 5);
    memcpy(buf + sizeof(r), u->database, dl);
    memcpy(buf + sizeof(r) + dl, u->user, ul);
    memcpy(buf + sizeof(r) + dl + ul, u->application, al);
    memcpy(buf, &r, sizeof(r));
    r.hash = XXH32(buf + 8, r.len - 8, 0);
    memcpy(buf, &r, sizeof(r));
    pthread_rwlock_rdlock(&l->truncating);
    ssize_t n = write(l->fd, buf, r.len); /* O_APPEND: one record, whole, at the end */
    pthread_rwlock_unlock(&l->truncating);
    if (n != (ssize_t)r.len)
        return false;
    atomic_fetch_add(&l->appended, 1);
    if (atomic_load(&l->sleeping)) { /* the first record since it caught up wakes it */
        pthread_mutex_lock(&l->lock);
        if (l->sleeping)
            pthread_cond_signal(&l->cond);
        pthread_mutex_unlock(&l->lock);
    }
    return true;
}

void storage_ledger_query(storage_ledger *l, storage_ledger_request *q)
{
    q->next = NULL;
    pthread_mutex_lock(&l->lock);
    if (l->requests_tail)
        l->requests_tail->next = q;
    else
        l->requests = q;
    l->requests_tail = q;
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

void storage_ledger_set_truncate_at(storage_ledger *l, int64_t bytes)
{
    pthread_mutex_lock(&l->lock);
    l->truncate_at = bytes;
    pthread_mutex_unlock(&l->lock);
}

int64_t storage_ledger_journal_size(storage_ledger *l)
{
    struct stat st;
    return fstat(l->fd, &st) == 0 ? (int64_t)st.st_size : -1;
}

uint64_t storage_ledger_lag(storage_ledger *l)
{
    uint64_t a = atomic_load(&l->appended), s = atomic_load(&l->stored);
    return a > s ? a - s : 0;
}

void storage_ledger_close(storage_ledger *l)
{
    if (!l)
        return;
    if (l->thread) {
        pthread_mutex_lock(&l->lock);
        l->stop = true;
        pthread_cond_signal(&l->cond);
        pthread_mutex_unlock(&l->lock);
        pthread_join(l->thread, NULL);
    }
    sqlite3_close(l->db);
    close(l->fd);
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
    pthread_rwlock_destroy(&l->truncating);
    free(l);
}
