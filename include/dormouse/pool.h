/*
 * pool: databases and the backends that serve them.
 *
 * The pool maps a database name to a pool_db (found or created from the
 * [databases] rules), hands out backend connections to client sessions, and
 * owns each database's lifecycle:
 *
 *     active --> idle --> pausing --> paused --> resuming --> active
 *
 * Today every session gets a backend of its own for its whole life (session
 * pooling) and databases stay active; transaction pooling, queueing and
 * pause/resume build on these calls.
 *
 * Backends outlive their sessions: when a client leaves, its connection is
 * reset (STORAGE_JOB_RESET) and parked on its database's idle list, and the
 * next client of that database takes it already open, skipping the OPEN job
 * (the file, its PRAGMAs and the SQL functions).  A backend's states:
 *
 *     (new) --acquire--> ACTIVE --park (reset ok)--> IDLE --acquire--> ACTIVE
 *                          |                          |
 *                          |  release (closed)        | pool_expire
 *                          v                          v
 *                       (freed) <----release------ CLOSING (CLOSE job runs)
 *
 * The idle list is LIFO (the most recently used connection has the warmest
 * caches); at most `idle_max` (sqlite_pool_size) stay per database, and one
 * idle longer than `idle_timeout_us` (server_idle_timeout) or open longer
 * than `lifetime_us` (server_lifetime) is handed back for closing.
 *
 * Threads: a database, its backends and its server pools are used by one
 * event loop at a time (its home loop, or loop 0 while it holds every loop's
 * lock); what spans databases (the table of databases, the idle-backend
 * list and counts) is under the pool's own lock, so several loops may call
 * in at once.  The pool never blocks (engines do their I/O on their own
 * threads).
 */
#ifndef DORMOUSE_POOL_H
#define DORMOUSE_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dormouse/storage.h"
#include "dormouse/wire.h"

/* A bump allocator for records freed all at once (pool_arena_free), never
 * one by one: databases and their per-database companions, which live until
 * exit.  Dense, off the malloc heap (see arena.c).  Not thread-safe: the
 * caller's lock covers it.  Zero-initialise the struct itself. */
typedef struct pool_arena {
    struct pool_arena_chunk *chunks;
    size_t used, cap;
} pool_arena;
/* size bytes, zeroed, 16-byte aligned; NULL when out of memory. */
void *pool_arena_alloc(pool_arena *a, size_t size);
void pool_arena_free(pool_arena *a);

/* sun_path holds 108 bytes: DIR "/.s.PGSQL.65535" and its NUL must fit. */
#define POOL_MANAGED_DIR_MAX 90

/* Where an upstream PostgreSQL database lives: PgBouncer's connection keys. */
typedef struct pool_upstream {
    char host[128];             /* an IPv4/IPv6 address, "localhost", or a Unix socket
                                   directory ("/..."); DNS names are refused (no DNS on the
                                   loop yet) */
    int port;                   /* 5432 unless given */
    char dbname[WIRE_NAME_MAX]; /* "": the client's database name */
    char user[WIRE_NAME_MAX];   /* "": the client's user name */
    char password[128];         /* "": none (the upstream must not ask for one) */
    char auth_user[WIRE_NAME_MAX]; /* "": the global auth_user (PgBouncer's key) */
    /* A managed server: Dormouse starts `postgres -D managed_datadir` when a
     * client needs it (initdb first if managed_initdb and the directory has
     * no cluster), as managed_os_user when Dormouse runs as root, and stops
     * it when the database pauses.  host is then managed_datadir (its Unix
     * socket; no TCP listener). */
    char managed_datadir[POOL_MANAGED_DIR_MAX + 1]; /* "": not managed */
    bool managed_initdb;
    char managed_os_user[64];  /* "postgres" unless given */
} pool_upstream;

/* One [databases] line: `name = engine=sqlite`, or PgBouncer's
 * `name = host=... port=... dbname=... user=... password=...` (any of them;
 * engine=postgres is implied) for an upstream PostgreSQL.  name "*" matches
 * any valid name. */
/* How a client holds an upstream server connection (PgBouncer's pool_mode). */
typedef enum pool_mode {
    POOL_MODE_SESSION = 0, /* from its first query until it disconnects */
    POOL_MODE_TRANSACTION, /* from the start of a transaction to its end */
    POOL_MODE_STATEMENT,   /* one statement (transaction blocks refused) */
} pool_mode;
const char *pool_mode_str(pool_mode m);
bool pool_mode_parse(const char *s, size_t len, pool_mode *m);

/* The per-database pool keys of a [databases] line; -1: the global default. */
typedef struct pool_db_overrides {
    int mode; /* a pool_mode */
    int pool_size, min_pool_size, reserve_pool, max_db_connections;
    int idle_timeout; /* seconds before an idle database pauses (any engine's line) */
} pool_db_overrides;

typedef struct pool_db_rule {
    char name[WIRE_NAME_MAX];
    storage_kind engine;
    pool_upstream upstream; /* engine STORAGE_POSTGRES only */
    pool_db_overrides ov;   /* engine STORAGE_POSTGRES only */
} pool_db_rule;

/* Parses a rule's value (PgBouncer-style "key=value key=value", a value may be
 * 'single quoted') into rule; rule->name must be set by the caller. false
 * with a message on error. */
bool pool_db_rule_parse(const char *value, pool_db_rule *rule, char *err, size_t errlen);

typedef enum pool_db_state {
    POOL_DB_ACTIVE = 0, /* queries running or backends held */
    POOL_DB_IDLE,       /* nothing running; idle timer armed */
    POOL_DB_PAUSING,    /* draining in-flight work; new arrivals wait */
    POOL_DB_PAUSED,     /* engine released: no memory, no process */
    POOL_DB_RESUMING,   /* one resume in flight; arrivals wait for it */
} pool_db_state;

const char *pool_db_state_str(pool_db_state s);

typedef struct pool pool;
typedef struct pool_db pool_db;

/* `sqlite` serves databases whose rule says engine=sqlite; borrowed.  The
 * limits are pool_limits_defaults() until pool_set_limits(). */
pool *pool_new(storage_engine *sqlite);
/* Every ACTIVE and CLOSING backend must have been released.  IDLE ones still
 * here are freed, their handles closed on this thread (pool_drain() and
 * CLOSE jobs first close them properly, off the loop).  NULL is a no-op. */
void pool_free(pool *p);

/* Replaces the rules (config load and reload). Existing databases stay. */
void pool_set_rules(pool *p, const pool_db_rule *rules, int n);

/* Database names starting with this are Dormouse's own files in data_dir. */
#define POOL_RESERVED_PREFIX "dormouse_"

/* A database name is valid when it is 1..63 bytes, valid as a file name
 * component: no '/', '\\', NUL, control characters, and not "." or "..";
 * and not one of Dormouse's own (POOL_RESERVED_PREFIX). */
bool pool_db_name_valid(const char *name, char *err, size_t errlen);

/* Finds or creates the database `name`. NULL (with a message fit for an
 * ErrorResponse with SQLSTATE 3D000 in err) when the name is invalid or no
 * rule serves it, or the engine is not available. */
pool_db *pool_db_get(pool *p, const char *name, char *err, size_t errlen);

/* Whether Dormouse runs the server of db (managed_datadir on its line); by
 * name: of the database if it exists, else of the rule that would make it. */
bool pool_db_managed(const pool_db *db);
bool pool_name_managed(pool *p, const char *name);

/* The database `name` if the pool has it already (no rule is applied). */
pool_db *pool_db_find(const pool *p, const char *name);
const char *pool_db_name(const pool_db *db);
pool_db_state pool_db_get_state(const pool_db *db);
int pool_db_backends(const pool_db *db); /* backends currently handed out (ACTIVE) */
int pool_db_count(const pool *p);

typedef enum pool_backend_state {
    POOL_BACKEND_ACTIVE = 0, /* handed out: opening, serving a session, or being reset */
    POOL_BACKEND_IDLE,       /* open and reset, on its database's idle list */
    POOL_BACKEND_CLOSING,    /* taken off the idle list to be closed (a CLOSE job) */
} pool_backend_state;

const char *pool_backend_state_str(pool_backend_state s);

/* Limits on idle backends (config: sqlite_pool_size, server_idle_timeout,
 * server_lifetime; PgBouncer's meaning for the last two). */
typedef struct pool_limits {
    int idle_max;             /* idle backends kept per database; 0: none (no reuse) */
    uint64_t idle_timeout_us; /* close a backend idle this long; 0: never */
    uint64_t lifetime_us;     /* close a backend open this long, once idle; 0: use once */
    /* upstream server pools (the global defaults of pool_db_overrides) */
    pool_mode mode;               /* pool_mode (transaction) */
    int pool_size;                /* default_pool_size (20): servers per (database, user) */
    int min_pool_size;            /* min_pool_size (0): kept open even when idle */
    int reserve_pool;             /* reserve_pool_size (0): extra servers for long waits */
    uint64_t reserve_timeout_us;  /* reserve_pool_timeout (5 s): the wait that unlocks them */
    int max_db_connections;       /* max_db_connections (0: no limit): per database */
    uint64_t query_wait_timeout_us; /* query_wait_timeout (120 s; 0: for ever) */
    uint64_t login_retry_us;      /* server_login_retry (1 s): pause after a failed connect */
    uint64_t pause_after_us;      /* idle_timeout (300 s): an idle database pauses; 0: never */
    uint64_t min_active_us;       /* min_active_seconds (0): a resumed database stays up at
                                     least this long */
} pool_limits;

/* The defaults: 20 idle per database, 600 s idle, 3600 s lifetime; upstream
 * pools as PgBouncer's defaults (transaction, 20, 0, 0, 5 s, 0, 120 s), with
 * a 1 s login retry. */
void pool_limits_defaults(pool_limits *l);
/* Applies new limits (config load and reload).  Backends over the new limits
 * are not closed here: the next pool_expire() hands them out. */
void pool_set_limits(pool *p, const pool_limits *l);

/* The pool's clock, in microseconds (CLOCK_MONOTONIC unless replaced; tests
 * inject theirs). */
typedef uint64_t (*pool_clock_fn)(void *arg);
void pool_set_clock(pool *p, pool_clock_fn now_us, void *arg);

/* Hands out a backend for a client of db, ACTIVE: the most recently parked
 * idle one that has not expired (*opened set: it is open and reset, the
 * caller skips STORAGE_JOB_OPEN but still calls storage_conn_set_user), or a
 * new one (*opened false: it has to be opened).  The caller owns it until it
 * gives it back with pool_backend_park() or pool_backend_release().  NULL
 * when out of memory. */
storage_conn *pool_backend_acquire(pool_db *db, bool *opened);
/* Whether an open backend whose client has gone is worth a RESET: reuse is
 * on (idle_max > 0, lifetime_us > 0), the pool is not draining and the
 * backend is younger than lifetime_us.  If not, the caller closes it. */
bool pool_backend_reusable(const pool_db *db, const storage_conn *c);
/* Takes back an ACTIVE backend that a STORAGE_JOB_RESET has just reset: it
 * becomes IDLE, at the head of db's idle list, and true is returned.  False
 * when it may not be kept (not reusable, or db has idle_max idle already):
 * the caller still owns it, closes it (CLOSE) and releases it. */
bool pool_backend_park(pool_db *db, storage_conn *c);
/* Takes back a backend (ACTIVE or CLOSING) that is closed or was never
 * opened, and frees it. */
void pool_backend_release(pool_db *db, storage_conn *c);

/* Receives an idle backend to close; see pool_expire(). */
typedef void (*pool_close_fn)(pool_db *db, storage_conn *c, void *arg);
/* Hands each idle backend that is due for closing to close_fn, CLOSING: all
 * of them while draining, else those idle longer than idle_timeout_us or
 * open longer than lifetime_us, and the least recently used ones beyond
 * idle_max on their database (after a reload lowered it).  close_fn submits
 * a CLOSE job; when it is done the caller calls pool_backend_release(db, c).
 * close_fn must not call back into the pool.  Returns how many were handed
 * out.  Meant for a periodic timer: it walks the idle backends of the
 * databases that have any. */
int pool_expire(pool *p, pool_close_fn close_fn, void *arg);

/* ---- lifecycle ----
 *
 *   ACTIVE    SQLite: backends are handed out (a session runs, or holds
 *             session state); upstream: a server is linked to a client, logs
 *             in or runs its reset, or a client waits for one
 *   IDLE      none of that; pause_after_us (its line's idle_timeout, else the
 *             global) from now it pauses, once it has been up min_active_us
 *   PAUSING   pool_pause_idle() took its idle backends to be closed (SQLite),
 *             or asked the proxy to close its idle servers (upstream)
 *   PAUSED    SQLite: no backend at all: no handle, no cache, no memory but
 *             this struct; the last close checkpointed the WAL away.
 *             Upstream: no server connection (a managed server is stopped)
 *   RESUMING  a client asked for a backend again: its OPEN is the resume, and
 *             pool_db_opened() ends it; upstream: the first server to log in
 *             ends it.  The latency is recorded.
 *
 * Idle client connections hold no backend and never keep a database active. */

/* Called for an upstream database that begins to pause: the proxy closes
 * its servers (all idle) with pool_server_remove(). */
typedef void (*pool_pause_fn)(pool_db *db, void *arg);
/* Pauses every database idle for its idle_timeout: SQLite databases' idle
 * backends go to close_fn (as pool_expire's), upstream ones to pause_fn.
 * Returns how many databases began to pause. */
int pool_pause_idle(pool *p, pool_close_fn close_fn, pool_pause_fn pause_fn, void *arg);
/* Upstream databases whose server is not up (a managed PostgreSQL starting
 * or stopped) open no server connection; their clients wait. */
void pool_db_set_engine_ready(pool_db *db, bool ready);
bool pool_db_engine_ready(const pool_db *db);
/* PAUSE db (on) and RESUME db (off) in the admin console: while on, the
 * database pauses as soon as it is idle, whatever its idle_timeout and
 * min_active_seconds. */
void pool_db_force_pause(pool_db *db, bool on);
bool pool_db_pause_forced(const pool_db *db);
/* A paused database is brought up with no client waiting (RESUME db of a
 * managed server: the server starts at once): it is RESUMING (a cold start)
 * until pool_db_set_engine_ready(db, true), then IDLE, and pauses again
 * after its idle_timeout.  False when it was not paused. */
bool pool_db_prewarm(pool_db *db);
/* Nothing open anywhere: no backend, no upstream server connection, and
 * every SQLite database paused (or never pausing).  Nothing then needs the
 * pool's clock until a client comes. */
bool pool_at_zero(const pool *p);
/* The lifecycle's numbers, for SHOW DATABASES. */
typedef struct pool_db_lifecycle {
    pool_db_state state;
    int idle_timeout;           /* seconds in effect; 0: never pauses */
    uint64_t cold_starts;       /* resumes from PAUSED */
    uint64_t last_resume_us;    /* its latency; 0: none yet */
    uint64_t resumes;           /* resumes that ended (cold starts whose engine came up) */
    uint64_t resume_sum_us;     /* the sum of their latencies */
    uint64_t resume_p50_us, resume_p99_us; /* over the latest resumes; 0: none */
    uint64_t paused_for_us;     /* PAUSED: since when (pool clock difference); else 0 */
    uint64_t up_us;             /* time not paused, in all (active seconds) */
    uint64_t since_pause_us;    /* since it last paused; 0: never */
    uint64_t since_resume_us;   /* since its last resume ended; 0: never */
} pool_db_lifecycle;
void pool_db_lifecycle_get(const pool_db *db, pool_db_lifecycle *out);

/* Shutdown: from now on nothing is parked or reused, and every idle backend
 * is due (the next pool_expire() hands them all out). */
void pool_drain(pool *p);

/* Observability (the admin console): backends by state, and how many
 * backends were made new (each one an OPEN) or reused from the idle list. */
int pool_db_idle_backends(const pool_db *db);
int pool_db_closing_backends(const pool_db *db);
uint64_t pool_db_opened_total(const pool_db *db);
/* When the last resume ended (the pool's clock); 0: never resumed. */
uint64_t pool_db_resumed_at(const pool_db *db);
uint64_t pool_db_reused_total(const pool_db *db);
/* An OPEN of db succeeded; from then on its clients log in without taking a
 * backend (they take one for their first query). */
void pool_db_opened(pool_db *db);
bool pool_db_ever_opened(const pool_db *db);
int pool_idle_backends(const pool *p);    /* over all databases */
int pool_closing_backends(const pool *p); /* over all databases */

/* ---- read-only views for the admin console ---- */

/* The engine serving db. */
storage_kind pool_db_engine(const pool_db *db);
/* SQLite: the engine's handle of its file; NULL for other engines. */
storage_db *pool_db_storage(const pool_db *db);
/* engine=postgres: where the database lives (as its rule said when the
 * database was last looked up with pool_db_get, so a reload applies to new
 * clients); NULL for SQLite databases, which alone have backends here. */
const pool_upstream *pool_db_upstream(const pool_db *db);
/* Calls fn for every database the pool knows, in no particular order. fn
 * must not create or free databases. */
void pool_db_foreach(const pool *p, void (*fn)(const pool_db *db, void *arg), void *arg);

/* Metering of active time: what each database was up (not paused) since the
 * last take.  fn is called for each database with something new; the
 * caller holds what makes the pool's databases safe to touch (the world
 * lock). */
typedef struct pool_db_meter {
    uint64_t active_us;       /* up time since the last take */
    uint64_t cold_starts;     /* resumes from paused since the last take */
    uint64_t period_start_us; /* the start of the (latest) active period it belongs to (pool clock) */
    bool up;                  /* still up */
} pool_db_meter;
/* How many times a database has reached PAUSED (any thread). */
uint64_t pool_pauses_total(const pool *p);
void pool_db_meter_take(pool *p, void (*fn)(pool_db *db, const pool_db_meter *m, void *arg),
                        void *arg);

/* ---- upstream server pools ----
 *
 * An upstream database (engine=postgres) has one pool_servers per client
 * user name: the server connections logged in for it and the clients waiting
 * for one.  The pool keeps the lists and the limits; the proxy owns the
 * sockets and embeds a pool_link in each server connection and each client
 * session (no allocation per wait).  A server's state is the list it is on:
 *
 *   (new) --pool_server_add--> LOGIN --login ok--> IDLE <--release-- ACTIVE
 *                                                  |  \--take--> ACTIVE
 *                                                  |        ACTIVE --reset query--> USED --> IDLE
 *   any --pool_server_remove--> (gone)
 *
 * IDLE is LIFO (the most recently used server first); waiting clients are
 * FIFO.  max_db_connections counts every server of the database, whatever
 * the user. */

typedef enum pool_sv_state {
    POOL_SV_LOGIN = 0, /* connecting and logging in */
    POOL_SV_IDLE,      /* logged in, no client */
    POOL_SV_ACTIVE,    /* linked to a client */
    POOL_SV_USED,      /* no client; running a reset or catching up before IDLE */
    POOL_SV_NSTATES
} pool_sv_state;
const char *pool_sv_state_str(pool_sv_state s);

typedef struct pool_link {
    struct pool_link *prev, *next;
    uint64_t since_us; /* entered its current list */
    uint64_t born_us;  /* servers: pool_server_add */
    int state;         /* servers: a pool_sv_state; clients: 1 while waiting */
} pool_link;

typedef struct pool_servers pool_servers;

/* The resolved settings of a pool: the database's overrides over the limits. */
typedef struct pool_settings {
    pool_mode mode;
    int pool_size, min_pool_size, reserve_pool, max_db_connections;
} pool_settings;

/* Finds or creates the pool of (db, user); NULL when out of memory or db is
 * not an upstream database. */
pool_servers *pool_servers_get(pool_db *db, const char *user);
pool_db *pool_servers_db(const pool_servers *ps);
const char *pool_servers_user(const pool_servers *ps);
void pool_servers_settings(const pool_servers *ps, pool_settings *out);
/* The same for an upstream database (its line's keys over the limits). */
void pool_db_settings(const pool_db *db, pool_settings *out);
/* Calls fn for each pool of db. */
void pool_servers_foreach(const pool_db *db, void (*fn)(pool_servers *ps, void *arg), void *arg);
/* Every pool of every database (the proxy's periodic dispatch). */
void pool_all_servers_foreach(pool *p, void (*fn)(pool_servers *ps, void *arg), void *arg);

/* Servers. */
void pool_server_add(pool_servers *ps, pool_link *l);   /* LOGIN */
void pool_server_move(pool_servers *ps, pool_link *l, pool_sv_state to);
void pool_server_remove(pool_servers *ps, pool_link *l);
/* The most recently idle server, made ACTIVE; NULL when none. */
pool_link *pool_server_take_idle(pool_servers *ps);
/* The idle server that has been idle longest, when it is past
 * server_idle_timeout, or one past server_lifetime, and not needed to keep
 * min_pool_size; it is removed from the pool (the caller closes it). */
pool_link *pool_server_expired(pool_servers *ps);
int pool_servers_count(const pool_servers *ps, pool_sv_state st);
int pool_servers_total(const pool_servers *ps);
int pool_db_servers_total(const pool_db *db);
/* Walks the servers of a state: the first (NULL: none), then the one after
 * l (NULL at the end).  Save the next before closing l. */
pool_link *pool_servers_first(const pool_servers *ps, pool_sv_state st);
pool_link *pool_servers_next(const pool_servers *ps, const pool_link *l);

/* Clients waiting for a server. */
void pool_client_wait(pool_servers *ps, pool_link *l);
void pool_client_unwait(pool_servers *ps, pool_link *l); /* not waiting: no-op */
pool_link *pool_client_first_waiter(const pool_servers *ps);
pool_link *pool_client_next_waiter(const pool_servers *ps, const pool_link *l);
int pool_servers_waiting(const pool_servers *ps);
/* How long the head waiter has waited (0: none). */
uint64_t pool_servers_max_wait_us(const pool_servers *ps);
/* The head waiter when it has waited longer than query_wait_timeout (it
 * stays queued: the caller unwaits it); NULL otherwise. */
pool_link *pool_client_timed_out(const pool_servers *ps);

/* Whether a new server connection may be opened now: clients wait that the
 * servers logging in will not serve, the pool is below pool_size (or below
 * pool_size + reserve_pool when the head waiter has waited
 * reserve_pool_timeout), the database is below max_db_connections, and no
 * connect failed within server_login_retry. */
bool pool_servers_may_open(const pool_servers *ps);
/* Whether min_pool_size wants another server (no client needs to wait). */
bool pool_servers_below_min(const pool_servers *ps);
/* A connect or login failed / succeeded: failures pause new connects for
 * server_login_retry. */
void pool_servers_login_failed(pool_servers *ps, const char *why);
/* Why the last connect or login failed; "" after a success. */
const char *pool_servers_login_error(const pool_servers *ps);
void pool_servers_login_ok(pool_servers *ps);
bool pool_servers_login_failing(const pool_servers *ps);

/* The login ParameterStatus messages of the last server that logged in, as
 * it sent them (the greeting of clients that do not need a server to log
 * in); len 0 until one has. */
bool pool_servers_set_params(pool_servers *ps, const uint8_t *data, size_t len);
const uint8_t *pool_servers_params(const pool_servers *ps, size_t *len);

/* How to log a server in as the pool's user when neither the database line
 * nor the auth file has a password for it: the secret the client was checked
 * against (an auth_query's md5 hash or SCRAM verifier; "" none) and, once a
 * client proved that verifier with SCRAM, its ClientKey (NULL none), which
 * answers the server's SCRAM in its place (pass-through).  A new secret
 * drops the ClientKey of the old one. */
bool pool_servers_set_secret(pool_servers *ps, const char *secret);
const char *pool_servers_secret(const pool_servers *ps);
void pool_servers_set_client_key(pool_servers *ps, const uint8_t key[WIRE_SCRAM_KEY_LEN]);
const uint8_t *pool_servers_client_key(const pool_servers *ps);

/* Where the database lives changed (reload): servers made before are
 * retired (closed instead of reused).  The generation counts the changes. */
uint32_t pool_db_generation(const pool_db *db);

#endif
