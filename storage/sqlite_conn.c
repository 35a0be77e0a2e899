/*
 * sqlite_conn.c: opening and closing a connection's SQLite handle.
 *
 * OPEN creates the file if needed and configures the handle for serving
 * PostgreSQL clients: WAL journal (readers never block the writer), the
 * configured synchronous level, a busy timeout after which a writer gives up
 * with 40001, foreign keys enforced, defensive mode on, extension loading off,
 * double-quoted strings as identifiers only (as in PostgreSQL), and a progress
 * handler through which storage_conn_interrupt() cancels a running statement.
 * CLOSE rolls back whatever is open and releases the handle.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sqlite_cold.h"
#include "sqlite_conn.h"
#include "sqlite_error.h"
#include "sqlite_functions.h"
#include "sqlite_meter.h"

/* How many VM instructions run between two checks of the cancel flag. */
#define SQLITE_PROGRESS_OPS 1000

static int sqlite_conn_progress(void *arg)
{
    storage_conn *c = arg;
    return atomic_load_explicit(&c->cancel, memory_order_relaxed) ? 1 : 0;
}

/* What a tenant's SQL may not reach, whatever the translator lets through:
 * other database files (ATTACH, DETACH), the server's own paths
 * (pragma_database_list names the file) and extensions (load_extension). */
#define SQLITE_CONN_MAX_VALUE (64 * 1024 * 1024)

static int sqlite_conn_authorize(void *arg, int action, const char *a1, const char *a2,
                                 const char *db, const char *trigger)
{
    switch (action) {
    case SQLITE_ATTACH:
    case SQLITE_DETACH:
        return SQLITE_DENY;
    case SQLITE_PRAGMA:
        return a1 && !strcasecmp(a1, "database_list") ? SQLITE_DENY : SQLITE_OK;
    case SQLITE_FUNCTION:
        /* load_extension is off anyway (said plainly as a permission);
         * fts3_tokenizer hands out (one argument) and takes (two) raw C
         * pointers to tokenizer modules. */
        return a2 && (!strcasecmp(a2, "load_extension") || !strcasecmp(a2, "fts3_tokenizer"))
                   ? SQLITE_DENY
                   : SQLITE_OK;
    default:
        return SQLITE_OK;
    }
}

void sqlite_conn_job_end(storage_conn *c)
{
    pthread_mutex_lock(&c->lock);
    c->active = NULL;
    c->queued = false;
    atomic_store(&c->cancel, false);
    atomic_store(&c->cancel_timeout, false);
    pthread_mutex_unlock(&c->lock);
}

int sqlite_conn_exec(storage_conn *c, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c->handle, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && st) {
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            ;
        if (rc == SQLITE_DONE)
            rc = SQLITE_OK;
        else
            rc = sqlite3_extended_errcode(c->handle);
    }
    sqlite3_finalize(st);
    return rc;
}

void sqlite_conn_rollback(storage_conn *c)
{
    /* A cancel that races with the rollback must not leave the transaction
     * open behind the client's back: drop the flag and retry. */
    for (int tries = 0; tries < 3 && !sqlite3_get_autocommit(c->handle); tries++) {
        atomic_store(&c->cancel, false);
        atomic_store(&c->cancel_timeout, false);
        if (sqlite_conn_exec(c, "ROLLBACK") == SQLITE_OK)
            break;
    }
}

/* The FATAL reply to a failed OPEN. PostgreSQL says 3D000 when the database
 * cannot be found; failures of the file itself are I/O errors. */
static void sqlite_conn_open_failed(storage_job *job, int rc, const char *why)
{
    const char *sqlstate;
    switch (rc & 0xff) {
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH:
        sqlstate = WIRE_SQLSTATE_INVALID_CATALOG_NAME;
        break;
    case SQLITE_NOMEM:
        sqlstate = WIRE_SQLSTATE_OUT_OF_MEMORY;
        break;
    case SQLITE_FULL:
        sqlstate = WIRE_SQLSTATE_DISK_FULL;
        break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        sqlstate = WIRE_SQLSTATE_DATA_CORRUPTED;
        break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        sqlstate = WIRE_SQLSTATE_CANNOT_CONNECT_NOW;
        break;
    default:
        sqlstate = WIRE_SQLSTATE_IO_ERROR;
        break;
    }
    char msg[512];
    snprintf(msg, sizeof(msg), "could not open database \"%s\": %s", job->conn->db->name, why);
    wire_error e = {.severity = "FATAL", .sqlstate = sqlstate, .message = msg};
    wire_put_error(&job->out, &e);
    job->failed = true;
}

/* The connection is closed (or never opened): the last one of a pausing
 * database moves its file to the cold tier (a failure leaves it in place). */
void sqlite_conn_uncount(storage_conn *c, bool may_freeze)
{
    if (!c->counted)
        return;
    storage_db *db = c->db;
    c->counted = false;
    pthread_mutex_lock(&db->lock);
    if (--db->nopen == 0 && may_freeze && atomic_load(&db->pausing)) {
        char err[PATH_MAX * 2 + 200];
        sqlite_cold_freeze(db, err, sizeof(err));
    }
    pthread_mutex_unlock(&db->lock);
}

void sqlite_conn_open(storage_job *job)
{
    storage_conn *c = job->conn;
    const storage_options *opt = &c->db->engine->opt;

    if (c->handle) {
        wire_error e = {.severity = "FATAL",
                        .sqlstate = WIRE_SQLSTATE_INTERNAL_ERROR,
                        .message = "storage connection is already open"};
        wire_put_error(&job->out, &e);
        job->failed = true;
        return;
    }

    /* The first connection brings the file back from the cold tier; the
     * count keeps a freeze from running while this one opens. */
    storage_db *db = c->db;
    char cold_err[PATH_MAX * 2 + 200];
    pthread_mutex_lock(&db->lock);
    int cold = db->nopen == 0 ? sqlite_cold_thaw(db, cold_err, sizeof(cold_err)) : SQLITE_COLD_OK;
    if (cold == SQLITE_COLD_OK) {
        db->nopen++;
        c->counted = true;
    }
    pthread_mutex_unlock(&db->lock);
    if (cold != SQLITE_COLD_OK) {
        char msg[sizeof(cold_err) + 128];
        snprintf(msg, sizeof(msg), "database \"%s\" cannot be resumed: %s%s", db->name, cold_err,
                 cold == SQLITE_COLD_DAMAGED ? "; it is not served" : "");
        wire_error e = {.severity = "FATAL",
                        .sqlstate = cold == SQLITE_COLD_DAMAGED ? WIRE_SQLSTATE_DATA_CORRUPTED
                                                                : WIRE_SQLSTATE_IO_ERROR,
                        .message = msg};
        wire_put_error(&job->out, &e);
        job->failed = true;
        return;
    }

    sqlite3 *h = NULL;
    int rc = sqlite3_open_v2(
        c->db->path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        sqlite_conn_open_failed(job, rc, h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
        sqlite3_close_v2(h);
        sqlite_conn_uncount(c, false);
        return;
    }
    sqlite3_extended_result_codes(h, 1);
    sqlite3_db_config(h, SQLITE_DBCONFIG_DEFENSIVE, 1, (int *)NULL);
    sqlite3_db_config(h, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, (int *)NULL);
    sqlite3_db_config(h, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, (int *)NULL);
    sqlite3_db_config(h, SQLITE_DBCONFIG_DQS_DML, 0, (int *)NULL);
    sqlite3_db_config(h, SQLITE_DBCONFIG_DQS_DDL, 0, (int *)NULL);
    /* One value (string or blob) may not be larger than this: zeroblob(1e9)
     * or a recursive string doubling would otherwise take a worker's memory
     * (and everyone's) before any limit on the reply applies.  54000. */
    sqlite3_limit(h, SQLITE_LIMIT_LENGTH, SQLITE_CONN_MAX_VALUE);
    sqlite3_busy_timeout(h, opt->busy_timeout_ms);
    c->handle = h;

    /* The first statement touches the file: a directory we cannot write or a
     * file that is not a database fails here. */
    sqlite3_stmt *st = NULL;
    rc = sqlite3_prepare_v2(h, "PRAGMA journal_mode=WAL", -1, &st, NULL);
    /* WAL is a property of the file: once set, later opens find it so.  The
     * first opens of a new file race to set it, and SQLite answers BUSY at
     * once to all but one (no busy handler: they would deadlock on their
     * shared locks): they retry, within sqlite_busy_timeout. */
    for (int waited_ms = 0; rc == SQLITE_OK;) {
        rc = sqlite3_step(st);
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || waited_ms >= opt->busy_timeout_ms)
            break;
        sqlite3_reset(st);
        int nap = waited_ms < 20 ? 1 : 10;
        sqlite3_sleep(nap);
        waited_ms += nap;
        rc = SQLITE_OK;
    }
    if (rc != SQLITE_ROW) {
        rc = sqlite3_extended_errcode(h);
        sqlite_conn_open_failed(job, rc, sqlite3_errmsg(h));
        goto fail;
    }
    const char *mode = (const char *)sqlite3_column_text(st, 0);
    if (!mode || strcmp(mode, "wal") != 0) {
        sqlite_conn_open_failed(job, SQLITE_IOERR, "cannot switch to WAL journal mode");
        goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;

    const char *pragmas[] = {
        opt->synchronous_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
        "PRAGMA foreign_keys=ON",
    };
    for (size_t i = 0; i < sizeof(pragmas) / sizeof(pragmas[0]); i++) {
        rc = sqlite_conn_exec(c, pragmas[i]);
        if (rc != SQLITE_OK) {
            sqlite_conn_open_failed(job, rc, sqlite3_errmsg(h));
            goto fail;
        }
    }
    rc = sqlite_functions_register(h, c);
    if (rc != SQLITE_OK) {
        sqlite_conn_open_failed(job, rc, sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_progress_handler(h, SQLITE_PROGRESS_OPS, sqlite_conn_progress, c);
    sqlite3_set_authorizer(h, sqlite_conn_authorize, c);
    if (c->db->engine->opt.metering)
        sqlite_meter_attach(c);
    c->tx_status = 'I';
    return;

fail:
    sqlite3_finalize(st);
    sqlite3_close_v2(h);
    c->handle = NULL;
    sqlite_conn_uncount(c, false);
}

void sqlite_conn_close(storage_job *job)
{
    storage_conn *c = job->conn;

    pthread_mutex_lock(&c->lock);
    c->active = NULL;
    pthread_mutex_unlock(&c->lock);

    if (c->handle) {
        sqlite_meter_detach(c); /* its statements first */
        sqlite3_stmt *st;
        while ((st = sqlite3_next_stmt(c->handle, NULL)) != NULL)
            sqlite3_finalize(st);
        sqlite_conn_rollback(c);
        sqlite3_close_v2(c->handle);
        c->handle = NULL;
    }
    sqlite_conn_uncount(c, true);
    c->tx_status = 'I';
}
