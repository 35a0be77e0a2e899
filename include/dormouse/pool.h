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
 * pooling; the SQLite engine makes that cheap) and databases stay active;
 * transaction pooling, queueing and pause/resume build on these calls.
 *
 * Threads: every function here is called from the proxy's event loop thread
 * only; the pool never blocks (engines do their I/O on their own threads).
 */
#ifndef DORMOUSE_POOL_H
#define DORMOUSE_POOL_H

#include <stdbool.h>
#include <stddef.h>

#include "dormouse/storage.h"
#include "dormouse/wire.h"

/* One [databases] line: `name = engine=sqlite`. name "*" matches any valid name. */
typedef struct pool_db_rule {
    char name[WIRE_NAME_MAX];
    storage_kind engine;
} pool_db_rule;

/* Parses a rule's value (PgBouncer-style "key=value key=value") into rule;
 * rule->name must be set by the caller. false with a message on error. */
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

/* `sqlite` serves databases whose rule says engine=sqlite; borrowed. */
pool *pool_new(storage_engine *sqlite);
/* Every backend must have been released. NULL is a no-op. */
void pool_free(pool *p);

/* Replaces the rules (config load and reload). Existing databases stay. */
void pool_set_rules(pool *p, const pool_db_rule *rules, int n);

/* A database name is valid when it is 1..63 bytes, valid as a file name
 * component: no '/', '\\', NUL, control characters, and not "." or "..". */
bool pool_db_name_valid(const char *name, char *err, size_t errlen);

/* Finds or creates the database `name`. NULL (with a message fit for an
 * ErrorResponse with SQLSTATE 3D000 in err) when the name is invalid or no
 * rule serves it, or the engine is not available. */
pool_db *pool_db_get(pool *p, const char *name, char *err, size_t errlen);

const char *pool_db_name(const pool_db *db);
pool_db_state pool_db_get_state(const pool_db *db);
int pool_db_backends(const pool_db *db); /* backends currently handed out */
int pool_db_count(const pool *p);

/* Hands out a backend for a client of db. The caller owns it until
 * pool_backend_release(); it still has to be opened (STORAGE_JOB_OPEN). */
storage_conn *pool_backend_acquire(pool_db *db);
/* Takes back a backend that is idle and closed (or never opened); frees it. */
void pool_backend_release(pool_db *db, storage_conn *c);

#endif
