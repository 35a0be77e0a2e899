/*
 * pool/ internals shared by pool.c (databases, SQLite backends) and
 * servers.c (upstream server pools).  Not a public header.
 */
#ifndef DORMOUSE_POOL_INTERNAL_H
#define DORMOUSE_POOL_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "dormouse/pool.h"

#define POOL_RESUME_SAMPLES 128

typedef struct pool_backend {
    storage_conn *conn;
    pool_db *db;
    pool_backend_state state;
    uint64_t born_us;                 /* handed out for its OPEN */
    uint64_t idle_since_us;           /* parked (IDLE only) */
    struct pool_backend *prev, *next; /* db's idle list (IDLE only) */
} pool_backend;

struct pool_db {
    char name[WIRE_NAME_MAX];
    storage_kind engine;
    storage_db *sdb;         /* SQLite only */
    pool_upstream *upstream; /* engine=postgres only (allocated: SQLite databases, maybe
                                thousands of them paused, carry none) */
    pool_db_overrides ov;    /* engine=postgres only: the line's pool keys */
    uint32_t generation;     /* engine=postgres: bumped when upstream changes */
    pool_servers *servers;   /* engine=postgres: one pool per user */
    int nservers;            /* engine=postgres: servers of all its pools */
    pool_db_state state;
    pool *pool;
    int nstate[POOL_BACKEND_CLOSING + 1];
    pool_backend *idle_head, *idle_tail; /* LIFO: the head is the warmest */
    uint64_t opened_total, reused_total;
    bool open_ok;            /* a backend has opened: later clients log in without one */
    /* lifecycle (SQLite): see pool.c's "lifecycle" */
    int idle_timeout;        /* its line's idle_timeout (seconds); -1: the global one */
    uint64_t idle_since_us;  /* entered IDLE */
    uint64_t resume_start_us;/* left PAUSED (or PAUSING) for RESUMING */
    uint64_t last_pause_us, last_resume_us; /* pool clock; 0: never */
    uint64_t cold_starts;    /* resumes from PAUSED */
    uint32_t *resume_us;     /* the latest resume latencies in µs (a ring of
                                POOL_RESUME_SAMPLES, allocated at the first resume) */
    int nresume;             /* samples in the ring (at most POOL_RESUME_SAMPLES) */
    uint64_t resumes, resume_sum_us; /* every resume since start, and their latencies' sum */
    int resume_next;
    uint64_t resume_p50_us, resume_p99_us; /* over the ring, computed when a resume ends */
    uint64_t up_since_us;    /* not paused since (pool clock); 0 while paused */
    uint64_t up_total_us;    /* time not paused, before up_since_us */
    uint64_t period_start_us;/* the latest active period began (pool clock) */
    uint64_t metered_up_us, metered_cold_starts; /* what pool_db_meter_take handed out */
    int nbusy;               /* engine=postgres: servers not idle plus waiting clients */
    uint64_t resumed_at_us;  /* the last resume ended (min_active_seconds counts from it) */
    bool engine_ready;       /* false: servers may not be opened (a managed server is down) */
    bool managed;            /* engine=postgres: Dormouse runs its server (managed_datadir) */
    bool pause_forced;       /* PAUSE db: it pauses as soon as it is idle */
    pool_db *hash_next;
    pool_db *idle_db_prev, *idle_db_next; /* p->idle_dbs */
};

struct pool {
    /* Each database is used by its home event loop only; what spans them
     * (the table of databases, idle_dbs, nidle, nclosing) is under `lock`. */
    pthread_mutex_t lock;
    storage_engine *sqlite;
    pool_db_rule *rules;
    int nrules;
    pool_db **buckets;
    size_t nbuckets;
    int ndbs;

    pool_limits limits;
    bool draining;
    atomic_uint_fast64_t pauses; /* databases that reached PAUSED (pool_pauses_total) */
    pool_clock_fn clock;
    void *clock_arg;
    pool_arena arena; /* the databases' records */
    pool_db *idle_dbs; /* databases with IDLE backends */
    int nidle, nclosing;
};

/* A sentinel-headed list of pool_links. */
typedef struct pool_list {
    pool_link head;
    int n;
} pool_list;

struct pool_servers {
    pool_db *db;
    char user[WIRE_NAME_MAX];
    pool_list sv[POOL_SV_NSTATES];
    pool_list waiting;
    uint64_t login_failed_us; /* last failed connect; 0: none since the last success */
    char login_error[256];    /* why */
    uint8_t *params;          /* the last login's ParameterStatus messages */
    size_t params_len;
    char secret[256];         /* pool_servers_set_secret */
    bool have_client_key;
    uint8_t client_key[WIRE_SCRAM_KEY_LEN];
    pool_servers *next;       /* db->servers */
};

uint64_t pool_now(const pool *p);
/* engine=postgres lifecycle (pool.c), told by servers.c: a server or a
 * waiting client came (+1) or went (-1), and a server logged in. */
void pool_db_upstream_busy(pool_db *db, int delta);
void pool_db_upstream_logged_in(pool_db *db);
/* Whether the database may open servers at all (not paused or pausing). */
bool pool_db_upstream_may_open(const pool_db *db);
void pool_servers_free_all(pool_db *db);

#endif
