/*
 * storage_internal.h: the objects behind the opaque handles of storage.h,
 * shared by the engine (threads and queue) and the SQLite job runners.
 *
 * Ownership and locking:
 *  - storage_engine: the queue (head/tail/stopping) is protected by `lock`;
 *    everything else is set at creation and read-only afterwards.
 *  - storage_db: immutable after storage_db_new, except `writer`, which is
 *    protected by the engine's `lock`.
 *  - storage_conn: `handle` and `tx_status` belong to the worker
 *    running the connection's job (one at a time, by the contract of
 *    storage.h).  `active` is protected by `lock` and is non-NULL only while a
 *    QUERY job runs, so that storage_conn_interrupt() from any thread never
 *    touches a handle being opened or closed.  `cancel` is read by SQLite's
 *    progress handler without the lock.  The extended protocol's state
 *    (prepared statements, portals, skipping to Sync, an implicit block left
 *    open by a batch that ended at Flush) is worker-owned like `handle`; it
 *    is defined and managed by sqlite_extended.c.
 */
#ifndef DORMOUSE_STORAGE_INTERNAL_H
#define DORMOUSE_STORAGE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <sqlite3.h>

#include "dormouse/storage.h"
#include "statement.h"

/* Distinct message texts whose parses the engine keeps (statement.h). */
#define STORAGE_PARSE_CACHE_ENTRIES 1024

typedef struct sqlite_prepared sqlite_prepared;
typedef struct sqlite_portal sqlite_portal;

struct storage_engine {
    storage_options opt; /* opt.data_dir points at data_dir */
    char *data_dir;
    char *cold_dir; /* "" : none */

    pthread_mutex_t lock;
    pthread_cond_t cond; /* signalled when a job is queued or stopping is set */
    storage_job *head;   /* FIFO of submitted jobs */
    storage_job *tail;
    storage_job *parked_head; /* FIFO of jobs waiting for a database's write lock */
    storage_job *parked_tail;
    bool stopping;

    pthread_t *threads;
    int nthreads;

    storage_parse_cache *parses; /* shared by the workers; locks itself */
    _Atomic uint64_t *fingerprints_seen; /* when metering (storage_job_meter_query) */
};

struct storage_db {
    storage_engine *engine;
    char *name;
    char *path; /* data_dir/NAME.db */
    /* The connection that holds the write lock: the one whose job (or open
     * transaction) writes.  SQLite has one writer per database; instead of
     * letting other writers spin in busy waits on worker threads (which can
     * starve the writer of a worker and deadlock), their jobs are parked
     * until the writer's transaction ends. */
    storage_conn *writer;
    /* The cold tier (sqlite_cold.c): under lock, how many connections are
     * open or opening; the last CLOSE of a pausing database freezes it. */
    pthread_mutex_t lock;
    int nopen;
    atomic_bool pausing; /* set by the pool (storage_db_set_pausing) */
    char text[];         /* name and path, NUL-terminated, one after the other */
};

struct storage_conn {
    storage_db *db;
    char *user; /* set before a session's first job (storage_conn_set_user); RESET frees it */
    void *owner_data; /* the owner's (storage_conn_set_owner_data); never read here */

    /* worker-owned while a job runs */
    sqlite3 *handle; /* NULL until a successful OPEN, and after CLOSE */
    bool counted;    /* counted in db->nopen */
    char tx_status;  /* 'I', 'T' or 'E' as seen by the client */

    /* worker-owned: the extended query protocol (sqlite_extended.c) */
    sqlite_prepared *prepared; /* prepared statements, the unnamed one included */
    sqlite_portal *portals;    /* open portals, the unnamed one included */
    bool ext_discarding;       /* an error: skip messages until the next Sync */
    bool ext_implicit;         /* the implicit block of the current Sync is open */
    struct sqlite_ext_pending *ext_pending; /* an Execute's large result goes on in COPY
                                             * jobs, then the rest of its batch */

    /* worker-owned: the client created temporary objects (only a RESET
     * drops them): the connection cannot serve another client before one */
    bool session_objects;

    /* worker-owned: SET parameters that differ from the defaults (sqlite_session.c) */
    struct sqlite_setting *settings;

    /* worker-owned: the user a RESET kept the catalog's temp tables for; the
     * next session's first job drops them if its user differs (sqlite_reset.c) */
    char *catalog_user;

    /* worker-owned: rows read and written, when the engine meters (sqlite_meter.c) */
    struct sqlite_meter *meter;

    /* worker-owned: the COPY in progress across jobs, or NULL (sqlite_copy.c) */
    struct sqlite_copy *copy;

    pthread_mutex_t lock;
    sqlite3 *active;    /* the handle while a QUERY/EXTENDED job runs, else NULL */
    bool queued;        /* a QUERY/EXTENDED/COPY job is submitted and not finished (under lock) */
    bool copying;       /* a COPY is in progress: a cancel fails it (under lock) */
    atomic_bool cancel; /* set by storage_conn_interrupt, cleared when such a job ends */
    atomic_bool cancel_timeout; /* the cancel is query_timeout's (its message says so) */
};

/* Metering: the job runs this parsed query (its fingerprint and kind); the
 * first time the engine sees the fingerprint, the job carries the query's
 * normalised text as well (engine.c).  No-op when the engine does not meter. */
void storage_job_meter_query(storage_job *job, const storage_parse *p, const char *sql);

/* Does this statement create a temporary object (pgsession.c)? */
bool storage_node_creates_temp(const PgQuery__Node *n);

#endif
