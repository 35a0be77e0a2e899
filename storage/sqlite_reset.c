/*
 * sqlite_reset.c: STORAGE_JOB_RESET, which makes an open connection whose
 * client has gone fit for the next client, so that the pool can reuse it
 * instead of opening the file again (open, PRAGMAs, ~100 SQL functions).
 *
 * The contract is in storage.h.  What a session can leave on a connection,
 * and where it goes:
 *
 *   state                              kept in             cleared by
 *   COPY in progress                   c->copy             sqlite_copy_conn_clear
 *   prepared statements, portals,      c->prepared,        sqlite_extended_conn_clear
 *   skip-to-Sync, implicit block       c->portals, ...
 *   transaction, savepoints            the handle          sqlite_conn_rollback
 *   SET parameters                     c->settings         sqlite_session_free
 *   TEMP tables, views, indexes,       temp.sqlite_schema  reset_drop_temp (the
 *   triggers                                               catalog's tables stay)
 *   user, cancel flags                 c->user, c->cancel  here
 *
 * The catalog's temp tables are a cache, kept because building them costs
 * far more than a reset; but two of its parts describe the session that built
 * them: the role rows (current_user) and pg_settings (current_setting() at
 * build time).  So when the old client had SET parameters the catalog goes
 * with the reset, and otherwise the reset notes whom it was built for
 * (c->catalog_user): the next session's first job drops it if its user is
 * another one (sqlite_conn_catalog_check).
 *
 * Order matters: statements are finalized before the rollback (a pending
 * statement would keep a read open), and the temp objects are dropped after
 * it, outside any transaction.  The write lock (db->writer) is not touched
 * here: the engine releases it after the job, as after any job that leaves
 * the connection outside a transaction.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "sqlite_conn.h"
#include "sqlite_copy.h"
#include "sqlite_extended.h"
#include "sqlite_session.h"

static void reset_failed(storage_job *job, const char *why, const char *detail)
{
    char msg[512];
    snprintf(msg, sizeof(msg), "cannot reset the connection to database \"%s\": %s",
             job->conn->db->name, why);
    wire_error e = {.severity = "ERROR",
                    .sqlstate = WIRE_SQLSTATE_INTERNAL_ERROR,
                    .message = msg,
                    .detail = detail};
    wire_put_error(&job->out, &e);
    job->failed = true;
}

/* A temp object of the client's, to drop. */
typedef struct reset_object {
    char type[8]; /* "view", "trigger", "table" or "index" */
    char *name;
} reset_object;

/* Whether an object of temp.sqlite_schema is to be dropped: the client's,
 * or with `all` the catalog's too.  SQLite's own (sqlite_sequence,
 * sqlite_autoindex_*) go with their tables; the catalog's tables and their
 * automatic indexes stay.  An index or trigger the client put on a catalog
 * table is the client's. */
static bool reset_is_clients(const char *type, const char *name, const char *tbl, bool all)
{
    if (strncmp(name, "sqlite_", 7) == 0)
        return false;
    if (all)
        return true;
    if (strcmp(type, "table") == 0)
        return !catalog_is_temp_table(name);
    if (strcmp(type, "index") == 0)
        return catalog_is_temp_table(tbl); /* others go with their table */
    return true;                           /* views and triggers */
}

/* Drops the client's temp objects (with `all`, the catalog's as well):
 * views and triggers first (they may name tables), then tables (with their
 * indexes and triggers), then indexes left on catalog tables.  Foreign keys
 * between temp tables could make a DROP TABLE fail halfway, so they are off
 * meanwhile (outside a transaction, where the pragma takes effect).  Sets
 * *catalog when the catalog's tables exist (and are kept). */
static int reset_drop_temp(storage_conn *c, bool all, bool *catalog, char *why, size_t whylen)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(c->handle,
                                "SELECT type, name, tbl_name FROM temp.sqlite_schema WHERE type IN "
                                "('view', 'trigger', 'table', 'index')",
                                -1, &st, NULL);
    reset_object *objs = NULL;
    size_t n = 0, cap = 0;
    while (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
        const char *type = (const char *)sqlite3_column_text(st, 0);
        const char *name = (const char *)sqlite3_column_text(st, 1);
        const char *tbl = (const char *)sqlite3_column_text(st, 2);
        if (type && name && !all && strcmp(name, "_dm_catalog") == 0)
            *catalog = true;
        if (!type || !name || !reset_is_clients(type, name, tbl ? tbl : "", all))
            continue;
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            reset_object *grown = realloc(objs, ncap * sizeof(*objs));
            if (!grown) {
                rc = SQLITE_NOMEM;
                break;
            }
            objs = grown;
            cap = ncap;
        }
        snprintf(objs[n].type, sizeof(objs[n].type), "%s", type);
        objs[n].name = strdup(name);
        if (!objs[n].name) {
            rc = SQLITE_NOMEM;
            break;
        }
        n++;
    }
    if (rc == SQLITE_OK)
        rc = sqlite3_finalize(st);
    else
        sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        snprintf(why, whylen, "cannot list the temporary objects: %s", sqlite3_errstr(rc));

    if (rc == SQLITE_OK && n > 0) {
        static const char *const order[] = {"view", "trigger", "table", "index"};
        rc = sqlite_conn_exec(c, "PRAGMA foreign_keys=OFF");
        for (size_t o = 0; rc == SQLITE_OK && o < sizeof(order) / sizeof(order[0]); o++) {
            for (size_t i = 0; rc == SQLITE_OK && i < n; i++) {
                if (strcmp(objs[i].type, order[o]) != 0)
                    continue;
                char *sql = sqlite3_mprintf("DROP %s IF EXISTS \"temp\".\"%w\"", objs[i].type,
                                            objs[i].name);
                rc = sql ? sqlite_conn_exec(c, sql) : SQLITE_NOMEM;
                sqlite3_free(sql);
                if (rc != SQLITE_OK)
                    snprintf(why, whylen, "cannot drop temporary %s \"%s\": %s", objs[i].type,
                             objs[i].name, sqlite3_errmsg(c->handle));
            }
        }
        int fk = sqlite_conn_exec(c, "PRAGMA foreign_keys=ON");
        if (rc == SQLITE_OK && fk != SQLITE_OK) {
            rc = fk;
            snprintf(why, whylen, "cannot enable foreign keys again: %s", sqlite3_errstr(rc));
        }
    }
    for (size_t i = 0; i < n; i++)
        free(objs[i].name);
    free(objs);
    return rc;
}

/* The role current_user names on c (as fn_current_user does). */
static const char *reset_user(const storage_conn *c)
{
    return c->user && c->user[0] ? c->user : c->db->name;
}

void sqlite_conn_catalog_check(storage_conn *c)
{
    if (!c->catalog_user)
        return;
    if (c->handle && strcmp(c->catalog_user, reset_user(c)) != 0) {
        /* Best effort: if the drop fails halfway, catalog_ensure reports it. */
        bool catalog = false;
        char why[384];
        reset_drop_temp(c, true, &catalog, why, sizeof(why));
    }
    free(c->catalog_user);
    c->catalog_user = NULL;
}

void sqlite_conn_reset(storage_job *job)
{
    storage_conn *c = job->conn;

    if (!c->handle) {
        reset_failed(job, "it is not open", NULL);
        return;
    }
    /* Nothing runs on the connection: a cancel aimed at the old client's last
     * statement must not hit the next client's first. */
    sqlite_conn_job_end(c);

    sqlite_copy_conn_clear(c);     /* its statements, and c->copying */
    sqlite_extended_conn_clear(c); /* prepared statements, portals, ext_* flags */
    /* A statement someone else still holds must not keep the transaction's
     * read open: stop it where it is. */
    for (sqlite3_stmt *st = sqlite3_next_stmt(c->handle, NULL); st;
         st = sqlite3_next_stmt(c->handle, st))
        if (sqlite3_stmt_busy(st))
            sqlite3_reset(st);
    sqlite_conn_rollback(c);
    c->tx_status = 'I';
    if (!sqlite3_get_autocommit(c->handle)) {
        reset_failed(job, "the transaction could not be rolled back", sqlite3_errmsg(c->handle));
        return;
    }
    bool had_settings = c->settings != NULL;
    sqlite_session_free(c);

    char why[384] = "";
    bool catalog = false;
    if (reset_drop_temp(c, false, &catalog, why, sizeof(why)) != SQLITE_OK) {
        reset_failed(job, why, NULL);
        return;
    }
    free(c->catalog_user);
    c->catalog_user = NULL;
    if (catalog && had_settings) {
        /* pg_settings may show the old client's values */
        if (reset_drop_temp(c, true, &catalog, why, sizeof(why)) != SQLITE_OK) {
            reset_failed(job, why, NULL);
            return;
        }
    } else if (catalog) {
        c->catalog_user = strdup(reset_user(c));
        if (!c->catalog_user) {
            reset_failed(job, "out of memory", NULL);
            return;
        }
    }
    free(c->user);
    c->user = NULL;
    c->session_objects = false;
    atomic_store(&c->cancel, false);
    atomic_store(&c->cancel_timeout, false);
}
