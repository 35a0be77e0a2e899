/*
 * The pool: a registry of databases (found or created from [databases]
 * rules), the backends handed out to sessions, and each database's lifecycle
 * state.  Databases live in a hash table keyed by an xxHash of their name so
 * that 10,000 tenants cost one lookup, not a scan.
 *
 * Invariant: db->backends counts the storage_conns handed out and not yet
 * released; a database with backends is ACTIVE.
 */
#include "dormouse/pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

struct pool_db {
    char name[WIRE_NAME_MAX];
    storage_kind engine;
    storage_db *sdb;
    pool_db_state state;
    int backends;
    pool_db *hash_next;
};

struct pool {
    storage_engine *sqlite;
    pool_db_rule *rules;
    int nrules;
    pool_db **buckets;
    size_t nbuckets;
    int ndbs;
};

const char *pool_db_state_str(pool_db_state s)
{
    switch (s) {
    case POOL_DB_ACTIVE:
        return "active";
    case POOL_DB_IDLE:
        return "idle";
    case POOL_DB_PAUSING:
        return "pausing";
    case POOL_DB_PAUSED:
        return "paused";
    case POOL_DB_RESUMING:
        return "resuming";
    }
    return "unknown";
}

bool pool_db_rule_parse(const char *value, pool_db_rule *rule, char *err, size_t errlen)
{
    bool have_engine = false;
    const char *p = value;

    rule->engine = STORAGE_SQLITE;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        const char *key = p;
        while (*p && *p != '=' && *p != ' ' && *p != '\t')
            p++;
        size_t klen = (size_t)(p - key);
        if (*p != '=') {
            snprintf(err, errlen, "expected key=value, found \"%.*s\"", (int)klen, key);
            return false;
        }
        p++;
        const char *val = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        size_t vlen = (size_t)(p - val);

        if (klen == 6 && strncmp(key, "engine", 6) == 0) {
            if (vlen == 6 && strncmp(val, "sqlite", 6) == 0) {
                rule->engine = STORAGE_SQLITE;
            } else if (vlen == 8 && strncmp(val, "postgres", 8) == 0) {
                snprintf(err, errlen, "engine=postgres is not available yet");
                return false;
            } else {
                snprintf(err, errlen, "unknown engine \"%.*s\" (expected sqlite)", (int)vlen, val);
                return false;
            }
            have_engine = true;
        } else {
            snprintf(err, errlen, "unknown database option \"%.*s\"", (int)klen, key);
            return false;
        }
    }
    if (!have_engine) {
        snprintf(err, errlen, "missing engine= (e.g. \"engine=sqlite\")");
        return false;
    }
    return true;
}

pool *pool_new(storage_engine *sqlite)
{
    pool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->sqlite = sqlite;
    p->nbuckets = 1024;
    p->buckets = calloc(p->nbuckets, sizeof(*p->buckets));
    if (!p->buckets) {
        free(p);
        return NULL;
    }
    return p;
}

void pool_free(pool *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nbuckets; i++) {
        pool_db *db = p->buckets[i];
        while (db) {
            pool_db *next = db->hash_next;
            storage_db_free(db->sdb);
            free(db);
            db = next;
        }
    }
    free(p->buckets);
    free(p->rules);
    free(p);
}

void pool_set_rules(pool *p, const pool_db_rule *rules, int n)
{
    pool_db_rule *copy = NULL;
    if (n > 0) {
        copy = calloc((size_t)n, sizeof(*copy));
        if (!copy)
            return; /* keep the old rules rather than serve none */
        memcpy(copy, rules, (size_t)n * sizeof(*copy));
    }
    free(p->rules);
    p->rules = copy;
    p->nrules = n;
}

bool pool_db_name_valid(const char *name, char *err, size_t errlen)
{
    size_t len = strlen(name);
    if (len == 0) {
        snprintf(err, errlen, "database name must not be empty");
        return false;
    }
    if (len >= WIRE_NAME_MAX) {
        snprintf(err, errlen, "database name \"%.20s...\" is longer than %d bytes", name,
                 WIRE_NAME_MAX - 1);
        return false;
    }
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        snprintf(err, errlen, "database \"%s\" does not exist", name);
        return false;
    }
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
        if (*c == '/' || *c == '\\' || *c < 0x20 || *c == 0x7f) {
            snprintf(err, errlen, "invalid database name \"%s\": it must not contain path separators "
                     "or control characters", name);
            return false;
        }
    }
    return true;
}

static const pool_db_rule *pool_rule_find(const pool *p, const char *name)
{
    const pool_db_rule *wildcard = NULL;
    for (int i = 0; i < p->nrules; i++) {
        if (strcmp(p->rules[i].name, name) == 0)
            return &p->rules[i];
        if (strcmp(p->rules[i].name, "*") == 0)
            wildcard = &p->rules[i];
    }
    return wildcard;
}

static size_t pool_bucket(const pool *p, const char *name)
{
    return (size_t)(XXH3_64bits(name, strlen(name)) & (p->nbuckets - 1));
}

pool_db *pool_db_get(pool *p, const char *name, char *err, size_t errlen)
{
    if (!pool_db_name_valid(name, err, errlen))
        return NULL;
    size_t b = pool_bucket(p, name);
    for (pool_db *db = p->buckets[b]; db; db = db->hash_next)
        if (strcmp(db->name, name) == 0)
            return db;

    const pool_db_rule *rule = pool_rule_find(p, name);
    if (!rule) {
        snprintf(err, errlen, "database \"%s\" does not exist", name);
        return NULL;
    }
    if (rule->engine != STORAGE_SQLITE || !p->sqlite) {
        snprintf(err, errlen, "database \"%s\" is served by engine %s, which is not available",
                 name, storage_kind_str(rule->engine));
        return NULL;
    }
    pool_db *db = calloc(1, sizeof(*db));
    if (!db) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(db->name, sizeof(db->name), "%s", name);
    db->engine = rule->engine;
    db->sdb = storage_db_new(p->sqlite, name);
    if (!db->sdb) {
        free(db);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    db->state = POOL_DB_ACTIVE;
    db->hash_next = p->buckets[b];
    p->buckets[b] = db;
    p->ndbs++;
    return db;
}

const char *pool_db_name(const pool_db *db)
{
    return db->name;
}

pool_db_state pool_db_get_state(const pool_db *db)
{
    return db->state;
}

int pool_db_backends(const pool_db *db)
{
    return db->backends;
}

int pool_db_count(const pool *p)
{
    return p->ndbs;
}

storage_conn *pool_backend_acquire(pool_db *db)
{
    storage_conn *c = storage_conn_new(db->sdb);
    if (c) {
        db->backends++;
        db->state = POOL_DB_ACTIVE;
    }
    return c;
}

void pool_backend_release(pool_db *db, storage_conn *c)
{
    if (!c)
        return;
    storage_conn_free(c);
    db->backends--;
}
