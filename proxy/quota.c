/*
 * Quotas ([quotas] in the configuration): a database over one of its
 * limits for the month (rows read, rows written, active seconds) or over its
 * storage limit gets SQLSTATE 53400 for the queries that start outside a
 * transaction; a transaction already open may finish, and reading usage
 * (the HTTP API) always works.
 *
 * What each database used this month is kept here, counted from the same
 * numbers as the ledger (meter.c feeds it), and loaded at start from the
 * ledger for the month so far.  Only databases that have a quota are
 * tracked, and with no [quotas] at all nothing here runs.
 */
#include "internal.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#define QUOTA_BUCKETS 256 /* a power of two */

typedef struct quota_usage {
    struct quota_usage *next;
    int64_t month_us; /* the month these counts are for (its first second, UTC) */
    uint64_t rows_read, rows_written, active_us;
    int64_t storage_bytes; /* the last size recorded; -1: unknown */
    char name[64];
} quota_usage;

struct proxy_quotas {
    pthread_mutex_t lock; /* everything below: loops and loop 0 count */
    quota_usage *buckets[QUOTA_BUCKETS];
};

/* The first second (µs) of the current month, UTC: worked out again only
 * once the month is over (each thread keeps its own; this runs per query). */
static int64_t quota_month_now(void)
{
    static __thread int64_t from, to;
    if ((int64_t)time(NULL) * 1000000 >= to)
        meter_month_now(&from, &to);
    return from;
}

const proxy_quota *quota_for(const proxy_server *srv, const char *db)
{
    const proxy_quota *any = NULL;
    for (int i = 0; i < srv->cfg.nquotas; i++) {
        if (!strcmp(srv->cfg.quotas[i].name, db))
            return &srv->cfg.quotas[i];
        if (!strcmp(srv->cfg.quotas[i].name, "*"))
            any = &srv->cfg.quotas[i];
    }
    return any;
}

/* db's entry for this month, made if need be (under the lock); NULL: no memory. */
static quota_usage *quota_entry(struct proxy_quotas *q, const char *db, int64_t month)
{
    size_t b = XXH3_64bits(db, strlen(db)) & (QUOTA_BUCKETS - 1);
    quota_usage *u = q->buckets[b];
    while (u && strcmp(u->name, db) != 0)
        u = u->next;
    if (!u) {
        u = calloc(1, sizeof(*u));
        if (!u)
            return NULL;
        snprintf(u->name, sizeof(u->name), "%s", db);
        u->month_us = month;
        u->storage_bytes = -1;
        u->next = q->buckets[b];
        q->buckets[b] = u;
    }
    if (u->month_us != month) { /* a new month: the monthly counts start over */
        u->month_us = month;
        u->rows_read = u->rows_written = u->active_us = 0;
    }
    return u;
}

/* The month so far, from the ledger (its own read-only connection: at
 * start, before any client). */
static void quota_load(proxy_server *srv, int64_t month)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/dormouse_ledger.db", srv->cfg.data_dir);
    sqlite3 *db = NULL;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        proxy_log(PROXY_LOG_WARNING, "quotas: cannot read the ledger (%s): this month's usage "
                  "counts from now", db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return;
    }
    static const char *const sql[] = {
        "SELECT database, sum(rows_read), sum(rows_written), 0, -1 FROM usage_minute WHERE "
        "minute_us >= ?1 GROUP BY database",
        "SELECT database, 0, 0, sum(active_us), (SELECT storage_bytes FROM activity b WHERE "
        "b.database = a.database AND b.storage_bytes >= 0 ORDER BY ts_us DESC LIMIT 1) FROM "
        "activity a WHERE ts_us >= ?1 GROUP BY database"};
    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(db, sql[i], -1, &st, NULL) != SQLITE_OK)
            continue;
        sqlite3_bind_int64(st, 1, month);
        while (sqlite3_step(st) == SQLITE_ROW) {
            const char *name = (const char *)sqlite3_column_text(st, 0);
            if (!name || !quota_for(srv, name))
                continue;
            quota_usage *u = quota_entry(srv->quotas, name, month);
            if (!u)
                break;
            u->rows_read += (uint64_t)sqlite3_column_int64(st, 1);
            u->rows_written += (uint64_t)sqlite3_column_int64(st, 2);
            u->active_us += (uint64_t)sqlite3_column_int64(st, 3);
            if (sqlite3_column_type(st, 4) != SQLITE_NULL && sqlite3_column_int64(st, 4) >= 0)
                u->storage_bytes = sqlite3_column_int64(st, 4);
        }
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
}

bool quota_open(proxy_server *srv, char *err, size_t errlen)
{
    if (!srv->ledger)
        return true; /* nothing is counted: quotas need metering (config.c says so) */
    srv->quotas = calloc(1, sizeof(*srv->quotas));
    if (!srv->quotas) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    pthread_mutex_init(&srv->quotas->lock, NULL);
    if (srv->cfg.nquotas > 0)
        quota_load(srv, quota_month_now());
    return true;
}

void quota_close(proxy_server *srv)
{
    struct proxy_quotas *q = srv->quotas;
    if (!q)
        return;
    for (size_t b = 0; b < QUOTA_BUCKETS; b++)
        while (q->buckets[b]) {
            quota_usage *u = q->buckets[b];
            q->buckets[b] = u->next;
            free(u);
        }
    pthread_mutex_destroy(&q->lock);
    free(q);
    srv->quotas = NULL;
}

void quota_count(proxy_server *srv, const char *db, uint64_t rows_read, uint64_t rows_written,
                 uint64_t active_us, int64_t storage_bytes)
{
    if (!srv->quotas || !srv->cfg.nquotas || !quota_for(srv, db))
        return;
    int64_t month = quota_month_now();
    pthread_mutex_lock(&srv->quotas->lock);
    quota_usage *u = quota_entry(srv->quotas, db, month);
    if (u) {
        u->rows_read += rows_read;
        u->rows_written += rows_written;
        u->active_us += active_us;
        if (storage_bytes >= 0)
            u->storage_bytes = storage_bytes;
    }
    pthread_mutex_unlock(&srv->quotas->lock);
}

bool quota_check(proxy_server *srv, const char *db, char *msg, size_t n)
{
    if (!srv->quotas || !srv->cfg.nquotas)
        return true;
    const proxy_quota *q = quota_for(srv, db);
    if (!q)
        return true;
    int64_t month = quota_month_now();
    pthread_mutex_lock(&srv->quotas->lock);
    quota_usage *u = quota_entry(srv->quotas, db, month);
    const char *what = NULL;
    unsigned long long used = 0, limit = 0;
    if (u && q->rows_read && u->rows_read >= q->rows_read) {
        what = "rows_read";
        used = u->rows_read;
        limit = q->rows_read;
    } else if (u && q->rows_written && u->rows_written >= q->rows_written) {
        what = "rows_written";
        used = u->rows_written;
        limit = q->rows_written;
    } else if (u && q->compute_seconds && u->active_us >= q->compute_seconds * 1000000u) {
        what = "compute_seconds";
        used = u->active_us / 1000000u;
        limit = q->compute_seconds;
    } else if (u && q->storage_bytes && u->storage_bytes >= (int64_t)q->storage_bytes) {
        what = "storage_mb";
        used = (unsigned long long)u->storage_bytes / 1000000u;
        limit = q->storage_bytes / 1000000u;
    }
    pthread_mutex_unlock(&srv->quotas->lock);
    if (!what)
        return true;
    if (!strcmp(what, "storage_mb"))
        snprintf(msg, n, "database \"%s\" is over its storage quota: %llu MB of %llu MB "
                 "(storage_mb)", db, used, limit);
    else
        snprintf(msg, n, "database \"%s\" is over its monthly %s quota: %llu of %llu "
                 "(%s, until the month ends)", db,
                 !strcmp(what, "rows_read")      ? "rows read"
                 : !strcmp(what, "rows_written") ? "rows written"
                                                 : "compute seconds",
                 used, limit, what);
    return false;
}
