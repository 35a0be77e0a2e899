/*
 * The usage ledger (storage.h, "usage ledger"): every query's usage record,
 * durable across a kill -9 of Dormouse, in an SQLite database of Dormouse's
 * own (DIR/dormouse_ledger.db) written off the hot path.
 *
 * Hot path: each event loop has a writer of its own (storage_ledger_writer)
 * with its own journal, DIR/dormouse_usage.K.journal (O_APPEND), so loops
 * never contend.  storage_ledger_append() encodes the record into the
 * writer's buffer; storage_ledger_flush() write()s what is buffered, and
 * the caller flushes before it sends any of those queries' results: the
 * records of several queries finished together go out in one write(2).
 * Once write() has returned the records are in the page cache and survive
 * the process.  No fsync, and the ledger thread is woken only when it sleeps.
 *
 * The ledger thread reads each journal from the offset the ledger has
 * reached in it, checks each record (length and xxHash), and inserts a batch
 * into `usage` in one transaction that also stores the new offset, so a
 * batch is in the ledger exactly when the offset says so.  After a crash it
 * resumes from that offset; records are keyed by their event id (boot, seq),
 * so one inserted twice is ignored.  Once the ledger has everything of a
 * journal and it is large, the journal is truncated (its writer waits on
 * the writer's rwlock for that moment).  Reads (storage_ledger_query) run on the same thread
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
#include <stddef.h>
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
    uint32_t hash; /* ledger_hash of everything after this field */
    uint64_t boot, seq;
    int64_t ts_us;
    uint64_t wall_us, cpu_us, rows_returned, rows_written, bytes_in, bytes_out;
    uint64_t rows_read, fingerprint, resume_wait_us;
    uint8_t type; /* LEDGER_QUERY, or LEDGER_ACTIVITY: then wall_us is the active time,
                   * fingerprint the period's start, rows_read the cold starts and
                   * bytes_out the storage bytes (INT64 -1: unknown) */
    uint8_t engine, kind, dblen, userlen, applen;
    uint16_t samplelen;
    char sqlstate[5];
} ledger_rec;

enum { LEDGER_QUERY = 0, LEDGER_ACTIVITY = 1, LEDGER_QUERY_PART = 2 };

/* A record's check: XXH3 (faster than XXH32 on these sizes), its low half. */
static uint32_t ledger_hash(const void *p, size_t n)
{
    return (uint32_t)XXH3_64bits(p, n);
}

#define LEDGER_SAMPLE_MAX 1024
#define LEDGER_REC_MAX (sizeof(ledger_rec) + 3 * 63 + LEDGER_SAMPLE_MAX)

#define LEDGER_MAX_WRITERS 64

struct storage_ledger_writer {
    storage_ledger *l;
    int idx;
    int fd; /* its journal, O_APPEND */
    pthread_rwlock_t truncating; /* read-held around a write; the ledger's thread truncates */
    uint8_t *buf;                /* records appended, not yet written */
    size_t len, cap;
    uint64_t nbuf;               /* records in buf */
    uint64_t seq;                /* the writer's: event ids are (boot, seq << 8 | idx) */
};

struct storage_ledger {
    char dir[PATH_MAX], db_path[PATH_MAX];
    storage_ledger_writer writers[LEDGER_MAX_WRITERS];
    int nwriters;
    uint8_t *read_buf;           /* the ledger thread's: a journal's next part */
    struct ledger_group *groups; /* the ledger thread's: a batch's sums (LEDGER_GROUP_SLOTS) */
    sqlite3_stmt *st_ins, *st_setoff, *st_fp, *st_act; /* the catch-up's, prepared once */
    int64_t minute_keep_us, keep_us; /* retention (under lock; read by the thread) */
    int64_t maintained_us;           /* the thread's: the last ledger_maintain */
    bool maintain_now;               /* under lock: storage_ledger_set_retention asks */
    uint64_t boot;
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

/* The meta key of journal k's offset. */
static void ledger_offset_key(int k, char *key, size_t n)
{
    snprintf(key, n, "journal_offset.%d", k);
}

static int64_t ledger_offset(storage_ledger *l, int k)
{
    sqlite3_stmt *st;
    int64_t off = 0;
    char key[32];
    ledger_offset_key(k, key, sizeof(key));
    if (sqlite3_prepare_v2(l->db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL) ==
        SQLITE_OK) {
        sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            off = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    return off;
}

static void ledger_journal_path(const char *dir, int k, char *path, size_t n)
{
    snprintf(path, n, "%s/dormouse_usage.%d.journal", dir, k);
}

/* Columns versions added to the per-query `usage` table of ledgers made
 * before usage_minute (their rows read 0). */
static bool ledger_add_columns(sqlite3 *db)
{
    static const char *const cols[] = {"rows_read INTEGER NOT NULL DEFAULT 0",
                                       "fingerprint INTEGER NOT NULL DEFAULT 0",
                                       "kind TEXT NOT NULL DEFAULT 'other'",
                                       "resume_wait_us INTEGER NOT NULL DEFAULT 0"};
    for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
        char name[32], sql[160], check[96];
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(cols[i], " "), cols[i]);
        snprintf(check, sizeof(check), "SELECT 1 FROM pragma_table_info('usage') WHERE name = '%s'",
                 name);
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, check, -1, &st, NULL) != SQLITE_OK)
            return false;
        bool have = sqlite3_step(st) == SQLITE_ROW;
        sqlite3_finalize(st);
        snprintf(sql, sizeof(sql), "ALTER TABLE usage ADD COLUMN %s", cols[i]);
        if (!have && !ledger_exec(db, sql))
            return false;
    }
    return true;
}

/* ---- a batch's records, summed per minute ----
 *
 * The ledger keeps usage per minute (usage_minute), one row per database,
 * minute, user, application, engine, kind, fingerprint and SQLSTATE: a
 * batch of records is summed in memory first, then each group is added to
 * its row.  A batch's sums and the journal's new offset commit together,
 * so each record counts exactly once. */

#define LEDGER_GROUP_SLOTS 4096 /* a power of two; a batch has at most LEDGER_READ / 64 records */

typedef struct ledger_group {
    bool used;
    uint64_t hash;
    int64_t minute_us;
    uint64_t fingerprint;
    uint8_t engine, kind, dblen, userlen, applen;
    char sqlstate[6];
    char names[3 * 63];
    uint64_t queries, wall_us, cpu_us, rows_read, rows_written, rows_returned, bytes_in, bytes_out,
        cold_queries, resume_wait_us;
} ledger_group;

static bool ledger_group_is(const ledger_group *x, const ledger_rec *r, const char *names,
                            size_t nl, int64_t minute)
{
    return x->minute_us == minute && x->fingerprint == r->fingerprint && x->engine == r->engine &&
           x->kind == r->kind && x->dblen == r->dblen && x->userlen == r->userlen &&
           x->applen == r->applen && !memcmp(x->sqlstate, r->sqlstate, 5) &&
           !memcmp(x->names, names, nl);
}

static void ledger_group_sum(ledger_group *x, const ledger_rec *r)
{
    x->queries += r->type != LEDGER_QUERY_PART;
    x->wall_us += r->wall_us;
    x->cpu_us += r->cpu_us;
    x->rows_read += r->rows_read;
    x->rows_written += r->rows_written;
    x->rows_returned += r->rows_returned;
    x->bytes_in += r->bytes_in;
    x->bytes_out += r->bytes_out;
    x->cold_queries += r->resume_wait_us > 0;
    x->resume_wait_us += r->resume_wait_us;
}

/* Adds query record r (names: its database, user and application) to its
 * group; *last is the group of the record before (most are alike). */
static bool ledger_group_add(ledger_group *g, ledger_group **last, const ledger_rec *r,
                             const char *names)
{
    size_t nl = (size_t)r->dblen + r->userlen + r->applen;
    int64_t minute = r->ts_us / 60000000 * 60000000;
    if (*last && (*last)->used && ledger_group_is(*last, r, names, nl, minute)) {
        ledger_group_sum(*last, r);
        return true;
    }
    uint8_t key[3 * 63 + 32], *k = key;
    memcpy(k, names, nl);
    k += nl;
    memcpy(k, &minute, sizeof(minute));
    k += sizeof(minute);
    memcpy(k, &r->fingerprint, sizeof(r->fingerprint));
    k += sizeof(r->fingerprint);
    *k++ = r->engine;
    *k++ = r->kind;
    *k++ = r->dblen;
    *k++ = r->userlen;
    memcpy(k, r->sqlstate, 5);
    k += 5;
    uint64_t h = XXH3_64bits(key, (size_t)(k - key));
    for (unsigned i = 0; i < LEDGER_GROUP_SLOTS; i++) {
        ledger_group *x = &g[(h + i) & (LEDGER_GROUP_SLOTS - 1)];
        if (x->used && !(x->hash == h && ledger_group_is(x, r, names, nl, minute)))
            continue;
        if (!x->used) {
            memset(x, 0, offsetof(ledger_group, names)); /* the sums too (after names) */
            memset(&x->queries, 0, sizeof(*x) - offsetof(ledger_group, queries));
            x->used = true;
            x->hash = h;
            x->minute_us = minute;
            x->fingerprint = r->fingerprint;
            x->engine = r->engine;
            x->kind = r->kind;
            x->dblen = r->dblen;
            x->userlen = r->userlen;
            x->applen = r->applen;
            memcpy(x->sqlstate, r->sqlstate, 5);
            x->sqlstate[5] = '\0';
            memcpy(x->names, names, nl);
        }
        ledger_group_sum(x, r);
        *last = x;
        return true;
    }
    return false; /* full: the caller ends the batch here */
}

/* Adds every group to usage_minute (inside the batch's transaction). */
static bool ledger_groups_store(sqlite3_stmt *up, ledger_group *g, int *ngroups)
{
    for (unsigned i = 0; i < LEDGER_GROUP_SLOTS && *ngroups > 0; i++) {
        ledger_group *x = &g[i];
        if (!x->used)
            continue;
        const char *db = x->names, *user = db + x->dblen, *app = user + x->userlen;
        sqlite3_bind_text(up, 1, db, x->dblen, SQLITE_STATIC);
        sqlite3_bind_int64(up, 2, x->minute_us);
        sqlite3_bind_text(up, 3, user, x->userlen, SQLITE_STATIC);
        sqlite3_bind_text(up, 4, app, x->applen, SQLITE_STATIC);
        sqlite3_bind_text(up, 5, storage_kind_str((storage_kind)x->engine), -1, SQLITE_STATIC);
        sqlite3_bind_text(up, 6, storage_query_kind_str((storage_query_kind)x->kind), -1,
                          SQLITE_STATIC);
        sqlite3_bind_int64(up, 7, (sqlite3_int64)x->fingerprint);
        sqlite3_bind_text(up, 8, x->sqlstate, -1, SQLITE_STATIC);
        const uint64_t v[] = {x->queries,       x->wall_us,      x->cpu_us,
                              x->rows_read,     x->rows_written, x->rows_returned,
                              x->bytes_in,      x->bytes_out,    x->cold_queries,
                              x->resume_wait_us};
        for (int j = 0; j < 10; j++)
            sqlite3_bind_int64(up, 9 + j, (sqlite3_int64)v[j]);
        int rc = sqlite3_step(up);
        sqlite3_reset(up);
        if (rc != SQLITE_DONE)
            return false;
        x->used = false;
        (*ngroups)--;
    }
    return true;
}

/* A ledger made when every query had a row (table `usage`): its rows are
 * summed into usage_minute, and the table goes. */
static bool ledger_migrate(sqlite3 *db)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'usage'",
                           -1, &st, NULL) != SQLITE_OK)
        return false;
    bool old = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (!old)
        return true;
    if (!ledger_add_columns(db) || !ledger_exec(db, "BEGIN"))
        return false;
    if (!ledger_exec(db, "INSERT INTO usage_minute SELECT database, ts_us / 60000000 * 60000000 AS m, "
                         "user_name, application, engine, kind, fingerprint, sqlstate, count(*), "
                         "sum(wall_us), sum(cpu_us), sum(rows_read), sum(rows_written), "
                         "sum(rows_returned), sum(bytes_in), sum(bytes_out), sum(resume_wait_us > 0), "
                         "sum(resume_wait_us) FROM usage GROUP BY database, m, user_name, "
                         "application, engine, kind, fingerprint, sqlstate") ||
        !ledger_exec(db, "DROP TABLE usage") || !ledger_exec(db, "COMMIT")) {
        ledger_exec(db, "ROLLBACK");
        return false;
    }
    return true;
}

/* Moves every complete record of journal k (fd) into the ledger, and
 * truncates it once all of it is in and it is large (under `truncating`;
 * NULL: never); the number stored, or -1 on error (l->error). */
static int64_t ledger_catch_up_one(storage_ledger *l, int k, int fd, pthread_rwlock_t *truncating)
{
    int64_t off = ledger_offset(l, k), stored = 0;
    char key[32];
    ledger_offset_key(k, key, sizeof(key));
    struct stat fst;
    if (fstat(fd, &fst) == 0 && fst.st_size < off)
        off = 0; /* truncated, and a crash lost the offset's reset: all of it went in */
    uint8_t *buf = l->read_buf;
    ledger_group *groups = l->groups; /* all unused between batches */
    int ngroups = 0;
    /* prepared once, kept for the ledger's life */
    sqlite3_stmt *ins = l->st_ins, *setoff = l->st_setoff, *fp = l->st_fp, *act = l->st_act;
    if (!ins && (sqlite3_prepare_v3(
            l->db,
            "INSERT INTO usage_minute (database, minute_us, user_name, application, engine, "
            "kind, fingerprint, sqlstate, queries, wall_us, cpu_us, rows_read, rows_written, "
            "rows_returned, bytes_in, bytes_out, cold_queries, resume_wait_us) "
            "VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18) "
            "ON CONFLICT DO UPDATE SET queries = queries + ?9, wall_us = wall_us + ?10, "
            "cpu_us = cpu_us + ?11, rows_read = rows_read + ?12, rows_written = rows_written + "
            "?13, rows_returned = rows_returned + ?14, bytes_in = bytes_in + ?15, bytes_out = "
            "bytes_out + ?16, cold_queries = cold_queries + ?17, resume_wait_us = "
            "resume_wait_us + ?18",
            -1, SQLITE_PREPARE_PERSISTENT, &l->st_ins, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(l->db,
                           "INSERT OR IGNORE INTO fingerprints (fingerprint, kind, query, "
                           "first_ts_us) VALUES (?,?,?,?)",
                           -1, SQLITE_PREPARE_PERSISTENT, &l->st_fp, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(l->db,
                           "INSERT OR IGNORE INTO activity (database, ts_us, boot, seq, period_us, "
                           "active_us, cold_starts, storage_bytes) VALUES (?,?,?,?,?,?,?,?)",
                           -1, SQLITE_PREPARE_PERSISTENT, &l->st_act, NULL) != SQLITE_OK ||
        sqlite3_prepare_v3(l->db, "INSERT OR REPLACE INTO meta (key, value) VALUES (?2, ?1)", -1,
                           SQLITE_PREPARE_PERSISTENT, &l->st_setoff, NULL) != SQLITE_OK)) {
        snprintf(l->error, sizeof(l->error), "ledger: %s", sqlite3_errmsg(l->db));
        return -1;
    }
    ins = l->st_ins;
    setoff = l->st_setoff;
    fp = l->st_fp;
    act = l->st_act;
    sqlite3_bind_text(setoff, 2, key, -1, SQLITE_STATIC);
    for (;;) {
        ssize_t n = pread(fd, buf, LEDGER_READ, off);
        if (n <= 0)
            break;
        size_t pos = 0, batch = 0;
        ledger_group *last = NULL;
        ledger_exec(l->db, "BEGIN");
        while (pos + sizeof(ledger_rec) <= (size_t)n) {
            ledger_rec r;
            memcpy(&r, buf + pos, sizeof(r));
            if (r.len < sizeof(r) || r.len > LEDGER_REC_MAX)
                break; /* a torn tail (or garbage): stop here */
            if (pos + r.len > (size_t)n)
                break; /* the rest is in the next read */
            if (ledger_hash(buf + pos + 8, r.len - 8) != r.hash ||
                sizeof(r) + r.dblen + r.userlen + r.applen + r.samplelen != r.len)
                break;
            const char *names = (const char *)buf + pos + sizeof(r);
            if (r.type == LEDGER_ACTIVITY) {
                sqlite3_bind_text(act, 1, names, r.dblen, SQLITE_TRANSIENT);
                sqlite3_bind_int64(act, 2, r.ts_us);
                sqlite3_bind_int64(act, 3, (sqlite3_int64)r.boot);
                sqlite3_bind_int64(act, 4, (sqlite3_int64)r.seq);
                sqlite3_bind_int64(act, 5, (sqlite3_int64)r.fingerprint);
                sqlite3_bind_int64(act, 6, (sqlite3_int64)r.wall_us);
                sqlite3_bind_int64(act, 7, (sqlite3_int64)r.rows_read);
                sqlite3_bind_int64(act, 8, (sqlite3_int64)r.bytes_out);
                int rc = sqlite3_step(act);
                sqlite3_reset(act);
                if (rc != SQLITE_DONE) {
                    snprintf(l->error, sizeof(l->error), "ledger: %s", sqlite3_errmsg(l->db));
                    ledger_exec(l->db, "ROLLBACK");
                    stored = -1;
                    goto out;
                }
                pos += r.len;
                batch++;
                continue;
            }
            if (r.samplelen && r.fingerprint) {
                sqlite3_bind_int64(fp, 1, (sqlite3_int64)r.fingerprint);
                sqlite3_bind_text(fp, 2, storage_query_kind_str((storage_query_kind)r.kind), -1,
                                  SQLITE_STATIC);
                sqlite3_bind_text(fp, 3, names + r.dblen + r.userlen + r.applen, r.samplelen,
                                  SQLITE_TRANSIENT);
                sqlite3_bind_int64(fp, 4, r.ts_us);
                sqlite3_step(fp); /* best effort: the usage counts, the text is a help */
                sqlite3_reset(fp);
            }
            if (!ledger_group_add(groups, &last, &r, names))
                break; /* the groups are full: the rest goes in the next batch */
            pos += r.len;
            batch++;
        }
        for (unsigned i = 0; i < LEDGER_GROUP_SLOTS; i++)
            ngroups += groups[i].used;
        if (!ledger_groups_store(ins, groups, &ngroups)) {
            snprintf(l->error, sizeof(l->error), "ledger: %s", sqlite3_errmsg(l->db));
            ledger_exec(l->db, "ROLLBACK");
            stored = -1;
            goto out;
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
    if (truncating && off >= l->truncate_at && fstat(fd, &st) == 0 && st.st_size == off) {
        /* truncated first, then the offset goes to 0: a crash between the
         * two leaves an offset past the end, which the next catch-up reads
         * as 0 (nothing was appended meanwhile: the writer waits) */
        pthread_rwlock_wrlock(truncating);
        if (fstat(fd, &st) == 0 && st.st_size == off && ftruncate(fd, 0) == 0) {
            sqlite3_bind_int64(setoff, 1, 0);
            sqlite3_step(setoff);
            sqlite3_reset(setoff);
        }
        pthread_rwlock_unlock(truncating);
    }
out:
    if (stored < 0) /* a batch rolled back: its sums go too */
        memset(groups, 0, LEDGER_GROUP_SLOTS * sizeof(*groups));
    sqlite3_clear_bindings(setoff); /* its key is this call's */
    return stored;
}

/* Every writer's journal; the number stored, or -1 on error (l->error). */
static int64_t ledger_catch_up(storage_ledger *l)
{
    int64_t stored = 0;
    for (int k = 0; k < l->nwriters; k++) {
        storage_ledger_writer *w = &l->writers[k];
        int64_t n = ledger_catch_up_one(l, k, w->fd, &w->truncating);
        if (n < 0)
            return -1;
        stored += n;
    }
    return stored;
}

/* ---- retention ----
 *
 * Usage stays per minute for usage_minute_days; older minutes are summed
 * into hours (usage_hour).  Usage and activity older than
 * usage_retention_days go (0: kept for ever).  Reads see both tables
 * (the view usage_all).  Run at open and then at most once an hour. */

#define LEDGER_MAINTAIN_EVERY_US (3600LL * 1000000)

static int64_t ledger_now_us(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

static bool ledger_maintain(storage_ledger *l)
{
    int64_t now = ledger_now_us();
    l->maintained_us = now;
    char sql[1400];
    int64_t minutes_before = now - l->minute_keep_us;
    minutes_before -= minutes_before % 3600000000LL; /* whole hours */
    snprintf(sql, sizeof(sql),
             "INSERT INTO usage_hour SELECT database, minute_us / 3600000000 * 3600000000 AS h, "
             "user_name, application, engine, kind, fingerprint, sqlstate, sum(queries), "
             "sum(wall_us), sum(cpu_us), sum(rows_read), sum(rows_written), sum(rows_returned), "
             "sum(bytes_in), sum(bytes_out), sum(cold_queries), sum(resume_wait_us) FROM "
             "usage_minute WHERE minute_us < %lld GROUP BY database, h, user_name, application, "
             "engine, kind, fingerprint, sqlstate ON CONFLICT DO UPDATE SET queries = queries + "
             "excluded.queries, wall_us = wall_us + excluded.wall_us, cpu_us = cpu_us + "
             "excluded.cpu_us, rows_read = rows_read + excluded.rows_read, rows_written = "
             "rows_written + excluded.rows_written, rows_returned = rows_returned + "
             "excluded.rows_returned, bytes_in = bytes_in + excluded.bytes_in, bytes_out = "
             "bytes_out + excluded.bytes_out, cold_queries = cold_queries + excluded.cold_queries, "
             "resume_wait_us = resume_wait_us + excluded.resume_wait_us;"
             "DELETE FROM usage_minute WHERE minute_us < %lld;",
             (long long)minutes_before, (long long)minutes_before);
    if (!ledger_exec(l->db, "BEGIN") || !ledger_exec(l->db, sql))
        goto fail;
    if (l->keep_us > 0) {
        long long before = (long long)(now - l->keep_us);
        snprintf(sql, sizeof(sql),
                 "DELETE FROM usage_hour WHERE minute_us < %lld; DELETE FROM usage_minute WHERE "
                 "minute_us < %lld; DELETE FROM activity WHERE ts_us < %lld;",
                 before, before, before);
        if (!ledger_exec(l->db, sql))
            goto fail;
    }
    if (!ledger_exec(l->db, "COMMIT"))
        goto fail;
    return true;
fail:
    snprintf(l->error, sizeof(l->error), "ledger: %s", sqlite3_errmsg(l->db));
    ledger_exec(l->db, "ROLLBACK");
    return false;
}

void storage_ledger_set_retention(storage_ledger *l, int64_t minute_keep_us, int64_t keep_us)
{
    pthread_mutex_lock(&l->lock);
    l->minute_keep_us = minute_keep_us;
    l->keep_us = keep_us;
    l->maintain_now = true; /* the thread applies it at its next round */
    pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&l->lock);
}

/* At open, once the journals are in: what is left past a journal's offset
 * is a record a crash tore while writing it.  Nothing else ever writes
 * there, and the next run would append after it, so it is cut off. */
static bool ledger_cut_torn_tails(storage_ledger *l)
{
    for (int k = 0; k < l->nwriters; k++) {
        struct stat st;
        int64_t off = ledger_offset(l, k);
        if (fstat(l->writers[k].fd, &st) == 0 && st.st_size > off &&
            ftruncate(l->writers[k].fd, off) != 0)
            return false;
    }
    return true;
}

/* At open: journals of a run with more writers than this one go in, and
 * away. */
static bool ledger_catch_up_strays(storage_ledger *l)
{
    for (int k = l->nwriters; k < LEDGER_MAX_WRITERS; k++) {
        char path[PATH_MAX + 64];
        ledger_journal_path(l->dir, k, path, sizeof(path));
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        int64_t n = ledger_catch_up_one(l, k, fd, NULL);
        close(fd);
        if (n < 0)
            return false;
        char key[32], sql[96];
        ledger_offset_key(k, key, sizeof(key));
        snprintf(sql, sizeof(sql), "DELETE FROM meta WHERE key = '%s'", key);
        if (!ledger_exec(l->db, sql) || unlink(path) != 0)
            return false;
    }
    return true;
}

/* ---- reads ---- */

/* A new zeroed row at the end of q->rows; NULL (q->error set) without memory. */
static storage_usage_row *ledger_row_push(storage_ledger_request *q)
{
    if (q->nrows == q->caprows) {
        int cap = q->caprows ? q->caprows * 2 : 64;
        storage_usage_row *v = realloc(q->rows, (size_t)cap * sizeof(*v));
        if (!v) {
            snprintf(q->error, sizeof(q->error), "out of memory");
            return NULL;
        }
        q->rows = v;
        q->caprows = cap;
    }
    storage_usage_row *r = &q->rows[q->nrows++];
    memset(r, 0, sizeof(*r));
    return r;
}

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

static const char *const ledger_orders[] = {"wall_us",       "cpu_us",    "rows_read", "rows_written",
                                            "rows_returned", "bytes_out", "calls",     "errors"};

bool storage_ledger_order_valid(const char *order)
{
    for (size_t i = 0; i < sizeof(ledger_orders) / sizeof(ledger_orders[0]); i++)
        if (!strcmp(order, ledger_orders[i]))
            return true;
    return false;
}

static void ledger_answer_top(storage_ledger *l, storage_ledger_request *q)
{
    if (!storage_ledger_order_valid(q->order) || q->limit < 1) {
        snprintf(q->error, sizeof(q->error), "bad order or limit");
        return;
    }
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "SELECT u.database, u.fingerprint, max(u.kind), coalesce(f.query, ''), sum(u.queries) AS "
             "calls, sum(CASE WHEN u.sqlstate <> '00000' THEN u.queries ELSE 0 END) AS errors, "
             "sum(u.rows_read) AS rows_read, "
             "sum(u.rows_written) AS rows_written, sum(u.rows_returned) AS rows_returned, "
             "sum(u.bytes_out) AS bytes_out, sum(u.wall_us) AS wall_us, sum(u.cpu_us) AS cpu_us "
             "FROM usage_all u LEFT JOIN fingerprints f ON f.fingerprint = u.fingerprint "
             "WHERE (?1 = '' OR u.database = ?1) AND u.minute_us >= ?2 AND u.minute_us < ?3 "
             "AND u.fingerprint <> 0 GROUP BY u.database, u.fingerprint "
             "ORDER BY %s DESC, calls DESC LIMIT ?4",
             q->order);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(q->error, sizeof(q->error), "ledger: %s", sqlite3_errmsg(l->db));
        return;
    }
    sqlite3_bind_text(st, 1, q->database, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, q->from_us);
    sqlite3_bind_int64(st, 3, q->to_us);
    sqlite3_bind_int(st, 4, q->limit);
    q->top = calloc((size_t)q->limit, sizeof(*q->top));
    while (q->top && q->ntop < q->limit && sqlite3_step(st) == SQLITE_ROW) {
        storage_query_row *r = &q->top[q->ntop];
        snprintf(r->database, sizeof(r->database), "%s", (const char *)sqlite3_column_text(st, 0));
        r->fingerprint = (uint64_t)sqlite3_column_int64(st, 1);
        snprintf(r->kind, sizeof(r->kind), "%s", (const char *)sqlite3_column_text(st, 2));
        r->query = strdup((const char *)sqlite3_column_text(st, 3));
        if (!r->query)
            break;
        r->calls = (uint64_t)sqlite3_column_int64(st, 4);
        r->errors = (uint64_t)sqlite3_column_int64(st, 5);
        r->rows_read = (uint64_t)sqlite3_column_int64(st, 6);
        r->rows_written = (uint64_t)sqlite3_column_int64(st, 7);
        r->rows_returned = (uint64_t)sqlite3_column_int64(st, 8);
        r->bytes_out = (uint64_t)sqlite3_column_int64(st, 9);
        r->wall_us = (uint64_t)sqlite3_column_int64(st, 10);
        r->cpu_us = (uint64_t)sqlite3_column_int64(st, 11);
        q->ntop++;
    }
    if (!q->top || (q->ntop < q->limit && sqlite3_errcode(l->db) == SQLITE_NOMEM))
        snprintf(q->error, sizeof(q->error), "out of memory");
    sqlite3_finalize(st);
}

/* The activity of q's database per bucket, merged into q->rows (sorted). */
static bool ledger_merge_activity(storage_ledger *l, storage_ledger_request *q)
{
    for (int i = 0; i < q->nrows; i++)
        q->rows[i].storage_bytes = -1;
    char sql[512];
    snprintf(sql, sizeof(sql),
             "SELECT (ts_us / %s) * %s AS bucket, sum(active_us), sum(cold_starts), "
             "max(storage_bytes) FROM activity WHERE database = ?1 AND ts_us >= ?2 AND ts_us < ?3 "
             "GROUP BY bucket ORDER BY bucket",
             ledger_bucket_sql(q->granularity), ledger_bucket_sql(q->granularity));
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(l->db, sql, -1, &st, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_text(st, 1, q->database, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, q->from_us);
    sqlite3_bind_int64(st, 3, q->to_us);
    bool ok = true;
    int i = 0;
    while (ok && sqlite3_step(st) == SQLITE_ROW) {
        int64_t bucket = sqlite3_column_int64(st, 0);
        while (i < q->nrows && q->rows[i].start_us < bucket)
            i++;
        if (i == q->nrows || q->rows[i].start_us != bucket) { /* a bucket without queries */
            if (!ledger_row_push(q)) {
                ok = false;
                break;
            }
            memmove(&q->rows[i + 1], &q->rows[i], (size_t)(q->nrows - 1 - i) * sizeof(*q->rows));
            memset(&q->rows[i], 0, sizeof(q->rows[i]));
            q->rows[i].start_us = bucket;
            q->rows[i].storage_bytes = -1;
        }
        storage_usage_row *r = &q->rows[i];
        r->active_us = (uint64_t)sqlite3_column_int64(st, 1);
        r->cold_starts = (uint64_t)sqlite3_column_int64(st, 2);
        r->storage_bytes = sqlite3_column_int64(st, 3);
    }
    sqlite3_finalize(st);
    return ok;
}

/* What a bill of `database` over [from, to) needs, into b; false on an
 * SQLite error (l's message), with what was read so far. */
static bool ledger_bill_input(storage_ledger *l, const char *database, int64_t from, int64_t to,
                              storage_bill_input *b, char *error, size_t errlen);

static void ledger_answer_bill(storage_ledger *l, storage_ledger_request *q)
{
    ledger_bill_input(l, q->database, q->from_us, q->to_us, &q->bill, q->error,
                      sizeof(q->error));
}

static bool ledger_bill_input(storage_ledger *l, const char *database, int64_t from, int64_t to,
                              storage_bill_input *b, char *error, size_t errlen)
{
    memset(b, 0, sizeof(*b));
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    int64_t end = (int64_t)now.tv_sec * 1000000 + now.tv_nsec / 1000;
    if (end > to)
        end = to;
    sqlite3_stmt *st = NULL;
    /* the totals */
    if (sqlite3_prepare_v2(l->db,
                           "SELECT sum(queries), sum(CASE WHEN sqlstate <> '00000' THEN queries "
                           "ELSE 0 END), sum(rows_read), sum(rows_written), sum(rows_returned), "
                           "sum(bytes_in), sum(bytes_out), sum(wall_us), sum(cpu_us) FROM "
                           "usage_all WHERE database = ?1 AND minute_us >= ?2 AND minute_us < ?3",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, database, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, from);
    sqlite3_bind_int64(st, 3, to);
    if (sqlite3_step(st) == SQLITE_ROW) {
        storage_usage_row *t = &b->totals;
        t->start_us = from;
        t->queries = (uint64_t)sqlite3_column_int64(st, 0);
        t->errors = (uint64_t)sqlite3_column_int64(st, 1);
        t->rows_read = (uint64_t)sqlite3_column_int64(st, 2);
        t->rows_written = (uint64_t)sqlite3_column_int64(st, 3);
        t->rows_returned = (uint64_t)sqlite3_column_int64(st, 4);
        t->bytes_in = (uint64_t)sqlite3_column_int64(st, 5);
        t->bytes_out = (uint64_t)sqlite3_column_int64(st, 6);
        t->wall_us = (uint64_t)sqlite3_column_int64(st, 7);
        t->cpu_us = (uint64_t)sqlite3_column_int64(st, 8);
    }
    sqlite3_finalize(st);
    /* the active periods: pieces of one period add up */
    if (sqlite3_prepare_v2(l->db,
                           "SELECT sum(active_us), sum(cold_starts) FROM activity WHERE database = "
                           "?1 AND ts_us >= ?2 AND ts_us < ?3 GROUP BY period_us ORDER BY period_us",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, database, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, from);
    sqlite3_bind_int64(st, 3, to);
    int cap = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        if (b->nactive == cap) {
            cap = cap ? cap * 2 : 64;
            double *v = realloc(b->active_s, (size_t)cap * sizeof(*v));
            if (!v) {
                snprintf(error, errlen, "out of memory");
                break;
            }
            b->active_s = v;
        }
        int64_t us = sqlite3_column_int64(st, 0);
        b->totals.active_us += (uint64_t)us;
        b->totals.cold_starts += (uint64_t)sqlite3_column_int64(st, 1);
        b->active_s[b->nactive++] = (double)us / 1e6;
    }
    sqlite3_finalize(st);
    /* storage: each size holds from its record to the next (the last one
     * before the window counts from the window's start) */
    if (sqlite3_prepare_v2(l->db,
                           "SELECT ts_us, storage_bytes FROM activity WHERE database = ?1 AND "
                           "storage_bytes >= 0 AND ts_us < ?3 AND ts_us >= coalesce((SELECT "
                           "max(ts_us) FROM activity WHERE database = ?1 AND storage_bytes >= 0 "
                           "AND ts_us <= ?2), ?2) ORDER BY ts_us",
                           -1, &st, NULL) != SQLITE_OK)
        goto fail;
    sqlite3_bind_text(st, 1, database, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, from);
    sqlite3_bind_int64(st, 3, end);
    int64_t at = 0, size = -1;
    b->totals.storage_bytes = -1;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t t = sqlite3_column_int64(st, 0), bytes = sqlite3_column_int64(st, 1);
        if (t < from)
            t = from;
        if (size >= 0 && t > at)
            b->storage_byte_seconds += (double)size * (double)(t - at) / 1e6;
        at = t;
        size = bytes;
        if (bytes > b->totals.storage_bytes)
            b->totals.storage_bytes = bytes;
    }
    if (size >= 0 && end > at)
        b->storage_byte_seconds += (double)size * (double)(end - at) / 1e6;
    sqlite3_finalize(st);
    return true;
fail:
    snprintf(error, errlen, "ledger: %s", sqlite3_errmsg(l->db));
    return false;
}

void storage_ledger_request_clear(storage_ledger_request *q)
{
    for (int i = 0; q->bills && i < q->nrows; i++)
        free(q->bills[i].active_s);
    free(q->bills);
    q->bills = NULL;
    free(q->bill.active_s);
    q->bill.active_s = NULL;
    q->bill.nactive = 0;
    for (int i = 0; i < q->ntop; i++)
        free(q->top[i].query);
    free(q->top);
    free(q->rows);
    q->top = NULL;
    q->rows = NULL;
    q->ntop = q->nrows = q->caprows = 0;
}

static void ledger_answer_summary(storage_ledger *l, storage_ledger_request *q)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            l->db,
            "SELECT database, sum(q), sum(e), sum(rr), sum(rw), sum(rt), sum(bi), sum(bo), "
            "sum(wall), sum(cpu), sum(act), sum(cs), max(sb) FROM ("
            "SELECT database, queries AS q, CASE WHEN sqlstate <> '00000' THEN queries ELSE 0 END "
            "AS e, rows_read AS rr, rows_written AS rw, rows_returned AS rt, bytes_in AS bi, "
            "bytes_out AS bo, wall_us AS wall, cpu_us AS cpu, 0 AS act, 0 AS cs, -1 AS sb FROM "
            "usage_all WHERE (?1 = '' OR database = ?1) AND minute_us >= ?2 AND minute_us < ?3 "
            "UNION ALL "
            "SELECT database, 0, 0, 0, 0, 0, 0, 0, 0, 0, active_us, cold_starts, storage_bytes "
            "FROM activity WHERE (?1 = '' OR database = ?1) AND ts_us >= ?2 AND ts_us < ?3) "
            "GROUP BY database ORDER BY database",
            -1, &st, NULL) != SQLITE_OK) {
        snprintf(q->error, sizeof(q->error), "ledger: %s", sqlite3_errmsg(l->db));
        return;
    }
    sqlite3_bind_text(st, 1, q->database, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, q->from_us);
    sqlite3_bind_int64(st, 3, q->to_us);
    while (sqlite3_step(st) == SQLITE_ROW) {
        storage_usage_row *r = ledger_row_push(q);
        if (!r)
            break;
        r->start_us = q->from_us;
        snprintf(r->database, sizeof(r->database), "%s", (const char *)sqlite3_column_text(st, 0));
        r->queries = (uint64_t)sqlite3_column_int64(st, 1);
        r->errors = (uint64_t)sqlite3_column_int64(st, 2);
        r->rows_read = (uint64_t)sqlite3_column_int64(st, 3);
        r->rows_written = (uint64_t)sqlite3_column_int64(st, 4);
        r->rows_returned = (uint64_t)sqlite3_column_int64(st, 5);
        r->bytes_in = (uint64_t)sqlite3_column_int64(st, 6);
        r->bytes_out = (uint64_t)sqlite3_column_int64(st, 7);
        r->wall_us = (uint64_t)sqlite3_column_int64(st, 8);
        r->cpu_us = (uint64_t)sqlite3_column_int64(st, 9);
        r->active_us = (uint64_t)sqlite3_column_int64(st, 10);
        r->cold_starts = (uint64_t)sqlite3_column_int64(st, 11);
        r->storage_bytes = sqlite3_column_int64(st, 12);
    }
    sqlite3_finalize(st);
    if (q->with_bills && !q->error[0] && q->nrows > 0) {
        q->bills = calloc((size_t)q->nrows, sizeof(*q->bills));
        if (!q->bills) {
            snprintf(q->error, sizeof(q->error), "out of memory");
            return;
        }
        for (int i = 0; i < q->nrows; i++)
            if (!ledger_bill_input(l, q->rows[i].database, q->from_us, q->to_us, &q->bills[i],
                                   q->error, sizeof(q->error)))
                return;
    }
}

static void ledger_answer(storage_ledger *l, storage_ledger_request *q)
{
    if (ledger_catch_up(l) < 0) {
        snprintf(q->error, sizeof(q->error), "%s", l->error);
        return;
    }
    if (q->read == STORAGE_LEDGER_TOP) {
        ledger_answer_top(l, q);
        return;
    }
    if (q->read == STORAGE_LEDGER_BILL) {
        ledger_answer_bill(l, q);
        return;
    }
    if (q->read == STORAGE_LEDGER_SUMMARY) {
        ledger_answer_summary(l, q);
        return;
    }
    char sql[768];
    snprintf(sql, sizeof(sql),
             "SELECT (minute_us / %s) * %s AS bucket, sum(queries), sum(rows_returned), "
             "sum(rows_written), sum(bytes_in), sum(bytes_out), sum(wall_us), sum(cpu_us), "
             "sum(CASE WHEN sqlstate <> '00000' THEN queries ELSE 0 END), sum(rows_read), "
             "sum(cold_queries), sum(resume_wait_us) FROM usage_all WHERE database = ?1 AND "
             "minute_us >= ?2 AND minute_us < ?3 GROUP BY bucket ORDER BY bucket",
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
        storage_usage_row *r = ledger_row_push(q);
        if (!r)
            break;
        r->start_us = sqlite3_column_int64(st, 0);
        r->queries = (uint64_t)sqlite3_column_int64(st, 1);
        r->rows_returned = (uint64_t)sqlite3_column_int64(st, 2);
        r->rows_written = (uint64_t)sqlite3_column_int64(st, 3);
        r->bytes_in = (uint64_t)sqlite3_column_int64(st, 4);
        r->bytes_out = (uint64_t)sqlite3_column_int64(st, 5);
        r->wall_us = (uint64_t)sqlite3_column_int64(st, 6);
        r->cpu_us = (uint64_t)sqlite3_column_int64(st, 7);
        r->errors = (uint64_t)sqlite3_column_int64(st, 8);
        r->rows_read = (uint64_t)sqlite3_column_int64(st, 9);
        r->cold_queries = (uint64_t)sqlite3_column_int64(st, 10);
        r->resume_wait_us = (uint64_t)sqlite3_column_int64(st, 11);
    }
    sqlite3_finalize(st);
    if (!q->error[0] && !ledger_merge_activity(l, q))
        snprintf(q->error, sizeof(q->error), "ledger: %s", sqlite3_errmsg(l->db));
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
        while (!l->stop && !l->requests && !l->maintain_now) {
            atomic_store(&l->sleeping, true);
            if (atomic_load(&l->appended) != atomic_load(&l->stored))
                break;
            pthread_cond_wait(&l->cond, &l->lock);
        }
        atomic_store(&l->sleeping, false);
        /* records (no read waiting): let a batch gather first, so that the
         * ledger commits a few times a second rather than once a query (the
         * journal already holds them durably) */
        if (!l->stop && !l->requests && !l->maintain_now) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += LEDGER_GATHER_NS;
            if (until.tv_nsec >= 1000000000) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000;
            }
            while (!l->stop && !l->requests && !l->maintain_now &&
                   pthread_cond_timedwait(&l->cond, &l->lock, &until) == 0)
                ;
        }
        storage_ledger_request *q = l->requests;
        l->requests = l->requests_tail = NULL;
        bool stop = l->stop;
        bool maintain = l->maintain_now;
        l->maintain_now = false;
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
        if (maintain || ledger_now_us() - l->maintained_us >= LEDGER_MAINTAIN_EVERY_US)
            ledger_maintain(l); /* (a failure is tried again in an hour) */
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

static void ledger_free(storage_ledger *l)
{
    sqlite3_finalize(l->st_ins);
    sqlite3_finalize(l->st_setoff);
    sqlite3_finalize(l->st_fp);
    sqlite3_finalize(l->st_act);
    sqlite3_close(l->db);
    free(l->read_buf);
    free(l->groups);
    for (int k = 0; k < l->nwriters; k++) {
        storage_ledger_writer *w = &l->writers[k];
        if (w->fd >= 0)
            close(w->fd);
        free(w->buf);
        pthread_rwlock_destroy(&w->truncating);
    }
    pthread_cond_destroy(&l->cond);
    pthread_mutex_destroy(&l->lock);
    free(l);
}

storage_ledger *storage_ledger_open(const char *dir, int nwriters, char *err, size_t errlen)
{
    if (nwriters < 1 || nwriters > LEDGER_MAX_WRITERS) {
        snprintf(err, errlen, "the usage ledger takes 1 to %d writers", LEDGER_MAX_WRITERS);
        return NULL;
    }
    storage_ledger *l = calloc(1, sizeof(*l));
    if (!l) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(l->dir, sizeof(l->dir), "%s", dir);
    l->read_buf = malloc(LEDGER_READ);
    l->groups = calloc(LEDGER_GROUP_SLOTS, sizeof(*l->groups));
    if (!l->read_buf || !l->groups) {
        snprintf(err, errlen, "out of memory");
        free(l->read_buf);
        free(l->groups);
        free(l);
        return NULL;
    }
    snprintf(l->db_path, sizeof(l->db_path), "%s/dormouse_ledger.db", dir);
    pthread_mutex_init(&l->lock, NULL);
    pthread_cond_init(&l->cond, NULL);
    l->truncate_at = LEDGER_TRUNCATE_AT;
    l->minute_keep_us = 35LL * 86400 * 1000000;
    l->keep_us = 400LL * 86400 * 1000000;
    /* the journals of earlier versions, in formats no longer read */
    static const char *const old[] = {"dormouse_ledger.journal", "dormouse_usage.journal"};
    for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof(path), "%s/%s", dir, old[i]);
        unlink(path);
    }
    for (int k = 0; k < nwriters; k++) {
        storage_ledger_writer *w = &l->writers[k];
        char path[PATH_MAX + 64];
        ledger_journal_path(dir, k, path, sizeof(path));
        w->l = l;
        w->idx = k;
        pthread_rwlock_init(&w->truncating, NULL);
        l->nwriters = k + 1;
        w->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (w->fd < 0) {
            snprintf(err, errlen, "cannot open the usage journal %s: %s", path, strerror(errno));
            ledger_free(l);
            return NULL;
        }
    }
    if (sqlite3_open_v2(l->db_path, &l->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
            SQLITE_OK ||
        !ledger_exec(l->db, "PRAGMA journal_mode=WAL") ||
        !ledger_exec(l->db, "PRAGMA synchronous=FULL") ||
        !ledger_exec(l->db,
                     "CREATE TABLE IF NOT EXISTS usage_minute (database TEXT NOT NULL, minute_us "
                     "INTEGER NOT NULL, user_name TEXT NOT NULL, application TEXT NOT NULL, engine "
                     "TEXT NOT NULL, kind TEXT NOT NULL, fingerprint INTEGER NOT NULL, sqlstate "
                     "TEXT NOT NULL, queries INTEGER NOT NULL, wall_us INTEGER NOT NULL, cpu_us "
                     "INTEGER NOT NULL, rows_read INTEGER NOT NULL, rows_written INTEGER NOT NULL, "
                     "rows_returned INTEGER NOT NULL, bytes_in INTEGER NOT NULL, bytes_out INTEGER "
                     "NOT NULL, cold_queries INTEGER NOT NULL, resume_wait_us INTEGER NOT NULL, "
                     "PRIMARY KEY (database, minute_us, user_name, application, engine, kind, "
                     "fingerprint, sqlstate)) WITHOUT ROWID;"
                     "CREATE TABLE IF NOT EXISTS usage_hour AS SELECT * FROM usage_minute WHERE 0;"
                     "CREATE UNIQUE INDEX IF NOT EXISTS usage_hour_key ON usage_hour (database, "
                     "minute_us, user_name, application, engine, kind, fingerprint, sqlstate);"
                     "CREATE VIEW IF NOT EXISTS usage_all AS SELECT * FROM usage_minute UNION ALL "
                     "SELECT * FROM usage_hour;"
                     "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER);"
                     "CREATE TABLE IF NOT EXISTS fingerprints (fingerprint INTEGER PRIMARY KEY, "
                     "kind TEXT NOT NULL, query TEXT NOT NULL, first_ts_us INTEGER NOT NULL);"
                     "CREATE TABLE IF NOT EXISTS activity (database TEXT NOT NULL, ts_us INTEGER "
                     "NOT NULL, boot INTEGER NOT NULL, seq INTEGER NOT NULL, period_us INTEGER NOT "
                     "NULL, active_us INTEGER NOT NULL, cold_starts INTEGER NOT NULL, "
                     "storage_bytes INTEGER NOT NULL, PRIMARY KEY (database, ts_us, boot, seq)) "
                     "WITHOUT ROWID") ||
        !ledger_migrate(l->db)) {
        snprintf(err, errlen, "cannot open the usage ledger %s: %s", l->db_path,
                 l->db ? sqlite3_errmsg(l->db) : "out of memory");
        ledger_free(l);
        return NULL;
    }
    if (getrandom(&l->boot, sizeof(l->boot), 0) != sizeof(l->boot))
        l->boot = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
    l->boot &= INT64_MAX; /* stored as an SQLite integer */
    /* what a crash left in the journals goes in first */
    if (ledger_catch_up(l) < 0 || !ledger_catch_up_strays(l) || !ledger_cut_torn_tails(l) ||
        !ledger_maintain(l)) {
        snprintf(err, errlen, "%s", l->error[0] ? l->error : "cannot take in an old journal");
        ledger_free(l);
        return NULL;
    }
    atomic_store(&l->stored, 0);
    int rc = pthread_create(&l->thread, NULL, ledger_main, l);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the ledger thread: %s", strerror(rc));
        ledger_free(l);
        return NULL;
    }
    return l;
}

storage_ledger_writer *storage_ledger_writer_get(storage_ledger *l, int k)
{
    return k >= 0 && k < l->nwriters ? &l->writers[k] : NULL;
}

/* Buffers one record (r's head filled but for len, boot, seq and hash; then
 * the tail's n bytes) for the writer's next flush. */
static bool ledger_write(storage_ledger_writer *w, ledger_rec *r, const uint8_t *tail, size_t n)
{
    size_t len = sizeof(*r) + n;
    if (w->cap - w->len < len) {
        size_t cap = w->cap ? w->cap * 2 : 16384;
        while (cap - w->len < len)
            cap *= 2;
        uint8_t *grown = realloc(w->buf, cap);
        if (!grown)
            return false;
        w->buf = grown;
        w->cap = cap;
    }
    r->len = (uint32_t)len;
    r->boot = w->l->boot;
    r->seq = (++w->seq << 8) | (uint64_t)w->idx;
    uint8_t *at = w->buf + w->len;
    memcpy(at + sizeof(*r), tail, n);
    memcpy(at, r, sizeof(*r));
    r->hash = ledger_hash(at + 8, len - 8);
    memcpy(at, r, sizeof(*r));
    w->len += len;
    w->nbuf++;
    return true;
}

bool storage_ledger_flush(storage_ledger_writer *w)
{
    if (!w || w->len == 0)
        return true;
    storage_ledger *l = w->l;
    pthread_rwlock_rdlock(&w->truncating);
    size_t done = 0;
    while (done < w->len) { /* O_APPEND: each write lands whole at the end */
        ssize_t n = write(w->fd, w->buf + done, w->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    bool ok = done == w->len;
    /* A short write (a full disk) is cut off again: a torn record in the
     * middle of the journal would stop the ledger's reading there for good,
     * and the next open would cut every record after it.  Only this writer
     * appends to its journal (and the ledger's thread truncates it only
     * under the write lock), so the write began `done` bytes before the end. */
    if (!ok && done > 0) {
        struct stat st;
        int cut = fstat(w->fd, &st) == 0 && st.st_size >= (off_t)done
                      ? ftruncate(w->fd, st.st_size - (off_t)done)
                      : -1;
        (void)cut; /* shrinking needs no space: nothing else can be done here */
    }
    pthread_rwlock_unlock(&w->truncating);
    if (ok)
        atomic_fetch_add(&l->appended, w->nbuf);
    w->len = 0;
    w->nbuf = 0;
    if (ok && atomic_load(&l->sleeping)) { /* the first records since it caught up wake it */
        pthread_mutex_lock(&l->lock);
        if (l->sleeping)
            pthread_cond_signal(&l->cond);
        pthread_mutex_unlock(&l->lock);
    }
    return ok;
}

bool storage_ledger_pending(const storage_ledger_writer *w)
{
    return w && w->len > 0;
}

bool storage_ledger_append(storage_ledger_writer *w, const storage_usage_record *u)
{
    uint8_t tail[LEDGER_REC_MAX - sizeof(ledger_rec)];
    ledger_rec r;
    memset(&r, 0, sizeof(r));
    size_t dl = strnlen(u->database, 63), ul = strnlen(u->user, 63), al = strnlen(u->application, 63);
    size_t sl = u->sample ? strnlen(u->sample, LEDGER_SAMPLE_MAX) : 0;
    r.type = u->part ? LEDGER_QUERY_PART : LEDGER_QUERY;
    r.ts_us = u->ts_us;
    r.wall_us = u->wall_us;
    r.cpu_us = u->cpu_us;
    r.rows_returned = u->rows_returned;
    r.rows_written = u->rows_written;
    r.bytes_in = u->bytes_in;
    r.bytes_out = u->bytes_out;
    r.rows_read = u->rows_read;
    r.fingerprint = u->fingerprint;
    r.resume_wait_us = u->resume_wait_us;
    r.kind = (uint8_t)u->kind;
    r.samplelen = (uint16_t)sl;
    r.engine = (uint8_t)u->engine;
    r.dblen = (uint8_t)dl;
    r.userlen = (uint8_t)ul;
    r.applen = (uint8_t)al;
    memcpy(r.sqlstate, u->sqlstate[0] ? u->sqlstate : "00000", 5);
    memcpy(tail, u->database, dl);
    memcpy(tail + dl, u->user, ul);
    memcpy(tail + dl + ul, u->application, al);
    if (sl)
        memcpy(tail + dl + ul + al, u->sample, sl);
    return ledger_write(w, &r, tail, dl + ul + al + sl);
}

bool storage_ledger_activity(storage_ledger_writer *w, const storage_activity_record *a)
{
    ledger_rec r;
    memset(&r, 0, sizeof(r));
    size_t dl = strnlen(a->database, 63);
    r.type = LEDGER_ACTIVITY;
    r.ts_us = a->ts_us;
    r.wall_us = a->active_us;
    r.fingerprint = (uint64_t)a->period_us;
    r.rows_read = a->cold_starts;
    r.bytes_out = (uint64_t)a->storage_bytes;
    r.dblen = (uint8_t)dl;
    memcpy(r.sqlstate, "00000", 5);
    return ledger_write(w, &r, (const uint8_t *)a->database, dl);
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
    int64_t total = 0;
    for (int k = 0; k < l->nwriters; k++) {
        struct stat st;
        if (fstat(l->writers[k].fd, &st) != 0)
            return -1;
        total += (int64_t)st.st_size;
    }
    return total;
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
    ledger_free(l);
}
