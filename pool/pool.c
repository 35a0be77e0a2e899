/*
 * The pool: a registry of databases (found or created from [databases]
 * rules), the backends handed out to sessions and kept idle between them,
 * and each database's lifecycle state.  Databases live in a hash table keyed
 * by an xxHash of their name so that 10,000 tenants cost one lookup, not a
 * scan.
 *
 * Each backend (a storage_conn) carries a pool_backend, its owner data: its
 * state, when it was made and when it went idle.  The state is the list it
 * is on, and pool_backend_move() is the one place that changes it, moving
 * list membership and counters with it (pool.h has the diagram):
 *
 *   from     to       done by                  list
 *   (new)    ACTIVE   pool_backend_acquire     none (the session holds it)
 *   ACTIVE   IDLE     pool_backend_park        head of db->idle_head
 *   IDLE     ACTIVE   pool_backend_acquire     off the idle list
 *   IDLE     CLOSING  pool_expire              off the idle list
 *   ACTIVE   (freed)  pool_backend_release
 *   CLOSING  (freed)  pool_backend_release
 *
 * Invariants: db->nstate[s] counts db's backends in state s and p->nidle,
 * p->nclosing the sums; db->idle_head..idle_tail holds exactly the IDLE
 * backends, most recently parked first; a database is on p->idle_dbs exactly
 * when it has an IDLE backend; a database with backends is ACTIVE.
 */
#include "pool_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

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

/* Copies a value of vlen bytes into dst (dstlen with its NUL); false if too long. */
static bool pool_rule_value(char *dst, size_t dstlen, const char *val, size_t vlen)
{
    if (vlen >= dstlen)
        return false;
    memcpy(dst, val, vlen);
    dst[vlen] = '\0';
    return true;
}

/* An upstream host Dormouse can reach without a DNS lookup. */
static bool pool_host_valid(const char *host)
{
    unsigned char addr[sizeof(struct in6_addr)];
    return host[0] == '/' || strcmp(host, "localhost") == 0 ||
           inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
}

bool pool_db_rule_parse(const char *value, pool_db_rule *rule, char *err, size_t errlen)
{
    bool have_engine = false, have_upstream = false;
    const char *p = value;

    rule->engine = STORAGE_SQLITE;
    memset(&rule->upstream, 0, sizeof(rule->upstream));
    rule->ov = (pool_db_overrides){-1, -1, -1, -1, -1, -1};
    rule->upstream.port = 5432;
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
        size_t vlen;
        if (*p == '\'') { /* 'quoted value' (no escapes) */
            val = ++p;
            while (*p && *p != '\'')
                p++;
            if (*p != '\'') {
                snprintf(err, errlen, "unterminated quoted value for \"%.*s\"", (int)klen, key);
                return false;
            }
            vlen = (size_t)(p - val);
            p++;
        } else {
            while (*p && *p != ' ' && *p != '\t')
                p++;
            vlen = (size_t)(p - val);
        }

#define KEY_IS(k) (klen == sizeof(k) - 1 && strncmp(key, k, klen) == 0)
        pool_upstream *u = &rule->upstream;
        if (KEY_IS("engine")) {
            if (vlen == 6 && strncmp(val, "sqlite", 6) == 0) {
                rule->engine = STORAGE_SQLITE;
            } else if (vlen == 8 && strncmp(val, "postgres", 8) == 0) {
                rule->engine = STORAGE_POSTGRES;
            } else {
                snprintf(err, errlen, "unknown engine \"%.*s\" (expected sqlite or postgres)",
                         (int)vlen, val);
                return false;
            }
            have_engine = true;
            continue;
        }
        if (KEY_IS("host")) {
            if (!pool_rule_value(u->host, sizeof(u->host), val, vlen) || !pool_host_valid(u->host)) {
                snprintf(err, errlen, "host must be an IP address, localhost or a Unix socket "
                         "directory, not \"%.*s\"", (int)vlen, val);
                return false;
            }
        } else if (KEY_IS("port")) {
            char buf[8] = "", *end = buf;
            long port = 0;
            if (pool_rule_value(buf, sizeof(buf), val, vlen))
                port = strtol(buf, &end, 10);
            if (port < 1 || port > 65535 || *end) {
                snprintf(err, errlen, "port must be a port number, not \"%.*s\"", (int)vlen, val);
                return false;
            }
            u->port = (int)port;
        } else if (KEY_IS("dbname")) {
            if (vlen == 0 || !pool_rule_value(u->dbname, sizeof(u->dbname), val, vlen)) {
                snprintf(err, errlen, "dbname must be 1 to %d bytes", WIRE_NAME_MAX - 1);
                return false;
            }
        } else if (KEY_IS("user")) {
            if (vlen == 0 || !pool_rule_value(u->user, sizeof(u->user), val, vlen)) {
                snprintf(err, errlen, "user must be 1 to %d bytes", WIRE_NAME_MAX - 1);
                return false;
            }
        } else if (KEY_IS("auth_user")) {
            if (vlen == 0 || !pool_rule_value(u->auth_user, sizeof(u->auth_user), val, vlen)) {
                snprintf(err, errlen, "auth_user must be 1 to %d bytes", WIRE_NAME_MAX - 1);
                return false;
            }
        } else if (KEY_IS("password")) {
            if (!pool_rule_value(u->password, sizeof(u->password), val, vlen)) {
                snprintf(err, errlen, "password is longer than %zu bytes",
                         sizeof(u->password) - 1);
                return false;
            }
        } else if (KEY_IS("managed_datadir")) {
            /* its Unix socket lives there: DIR/.s.PGSQL.65535 must fit sun_path */
            if (vlen == 0 || val[0] != '/' || vlen > POOL_MANAGED_DIR_MAX ||
                !pool_rule_value(u->managed_datadir, sizeof(u->managed_datadir), val, vlen)) {
                snprintf(err, errlen, "managed_datadir must be an absolute path of at most %d "
                         "bytes (the server's Unix socket is made there), not \"%.*s\"",
                         POOL_MANAGED_DIR_MAX, (int)vlen, val);
                return false;
            }
        } else if (KEY_IS("managed_initdb")) {
            char buf[8] = "";
            pool_rule_value(buf, sizeof(buf), val, vlen);
            if (!strcmp(buf, "yes") || !strcmp(buf, "on") || !strcmp(buf, "true") || !strcmp(buf, "1")) {
                u->managed_initdb = true;
            } else if (!strcmp(buf, "no") || !strcmp(buf, "off") || !strcmp(buf, "false") ||
                       !strcmp(buf, "0")) {
                u->managed_initdb = false;
            } else {
                snprintf(err, errlen, "managed_initdb must be yes or no, not \"%.*s\"", (int)vlen, val);
                return false;
            }
        } else if (KEY_IS("managed_os_user")) {
            if (vlen == 0 || !pool_rule_value(u->managed_os_user, sizeof(u->managed_os_user), val, vlen)) {
                snprintf(err, errlen, "managed_os_user must be 1 to %zu bytes",
                         sizeof(u->managed_os_user) - 1);
                return false;
            }
        } else if (KEY_IS("pool_mode")) {
            pool_mode m;
            if (!pool_mode_parse(val, vlen, &m)) {
                snprintf(err, errlen, "pool_mode must be session, transaction or statement, not "
                         "\"%.*s\"", (int)vlen, val);
                return false;
            }
            rule->ov.mode = (int)m;
        } else if (KEY_IS("idle_timeout")) {
            char buf[12] = "", *end = buf;
            long n = -1;
            if (vlen > 0 && pool_rule_value(buf, sizeof(buf), val, vlen))
                n = strtol(buf, &end, 10);
            if (n < 0 || n > 31536000 || *end) {
                snprintf(err, errlen, "idle_timeout must be seconds between 0 and 31536000, not "
                         "\"%.*s\"", (int)vlen, val);
                return false;
            }
            rule->ov.idle_timeout = (int)n;
            continue; /* any engine's key */
        } else if (KEY_IS("pool_size") || KEY_IS("min_pool_size") || KEY_IS("reserve_pool") ||
                   KEY_IS("max_db_connections")) {
            char buf[12] = "", *end = buf;
            long n = -1;
            if (vlen > 0 && pool_rule_value(buf, sizeof(buf), val, vlen))
                n = strtol(buf, &end, 10);
            if (n < 0 || n > 100000 || *end) {
                snprintf(err, errlen, "%.*s must be a number between 0 and 100000, not \"%.*s\"",
                         (int)klen, key, (int)vlen, val);
                return false;
            }
            int *slot = KEY_IS("pool_size")       ? &rule->ov.pool_size
                        : KEY_IS("min_pool_size") ? &rule->ov.min_pool_size
                        : KEY_IS("reserve_pool")  ? &rule->ov.reserve_pool
                                                  : &rule->ov.max_db_connections;
            *slot = (int)n;
        } else {
            snprintf(err, errlen, "unknown database option \"%.*s\"", (int)klen, key);
            return false;
        }
#undef KEY_IS
        have_upstream = true;
    }
    if (have_upstream && !have_engine)
        rule->engine = STORAGE_POSTGRES;
    if (have_upstream && rule->engine == STORAGE_SQLITE) {
        snprintf(err, errlen, "host, port, dbname, user, password, auth_user and managed_* are "
                 "for engine=postgres");
        return false;
    }
    if (!have_engine && !have_upstream) {
        snprintf(err, errlen, "missing engine= (e.g. \"engine=sqlite\") or host=");
        return false;
    }
    pool_upstream *u = &rule->upstream;
    if (!u->managed_datadir[0] && (u->managed_initdb || u->managed_os_user[0])) {
        snprintf(err, errlen, "managed_initdb and managed_os_user need managed_datadir");
        return false;
    }
    if (u->managed_datadir[0]) {
        /* Dormouse runs that server: it listens on its data directory's socket only */
        if (u->host[0] && strcmp(u->host, u->managed_datadir) != 0) {
            snprintf(err, errlen, "a managed server (managed_datadir) takes no host: Dormouse "
                     "reaches it on a Unix socket in its data directory");
            return false;
        }
        snprintf(u->host, sizeof(u->host), "%s", u->managed_datadir);
        if (!u->managed_os_user[0])
            snprintf(u->managed_os_user, sizeof(u->managed_os_user), "postgres");
    }
    if (rule->engine == STORAGE_POSTGRES && !u->host[0])
        snprintf(u->host, sizeof(u->host), "127.0.0.1");
    return true;
}

const char *pool_backend_state_str(pool_backend_state s)
{
    switch (s) {
    case POOL_BACKEND_ACTIVE:
        return "active";
    case POOL_BACKEND_IDLE:
        return "idle";
    case POOL_BACKEND_CLOSING:
        return "closing";
    }
    return "unknown";
}

void pool_limits_defaults(pool_limits *l)
{
    l->idle_max = 20;
    l->idle_timeout_us = 600u * 1000000u;
    l->pause_after_us = 300u * 1000000u;
    l->lifetime_us = 3600u * 1000000u;
    l->mode = POOL_MODE_TRANSACTION;
    l->pool_size = 20;
    l->min_pool_size = 0;
    l->reserve_pool = 0;
    l->reserve_timeout_us = 5u * 1000000u;
    l->max_db_connections = 0;
    l->query_wait_timeout_us = 120u * 1000000u;
    l->login_retry_us = 1000000u;
}

static uint64_t pool_monotonic_us(void *arg)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

pool *pool_new(storage_engine *sqlite)
{
    pool *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->sqlite = sqlite;
    pthread_mutex_init(&p->lock, NULL);
    pool_limits_defaults(&p->limits);
    p->clock = pool_monotonic_us;
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
            while (db->idle_head) {
                pool_backend *b = db->idle_head;
                db->idle_head = b->next;
                storage_conn_free(b->conn); /* closes the handle (pool.h) */
                free(b);
            }
            storage_db_fini(db->sdb);
            pool_servers_free_all(db);
            free(db->resume_us);
            db = next; /* (the record is in the arena) */
        }
    }
    free(p->buckets);
    pool_arena_free(&p->arena);
    free(p->rules);
    pthread_mutex_destroy(&p->lock);
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
    /* data_dir holds Dormouse's own files beside the tenants': the usage
     * ledger (dormouse_ledger.db) and journals.  No tenant may open them. */
    if (strncmp(name, POOL_RESERVED_PREFIX, strlen(POOL_RESERVED_PREFIX)) == 0) {
        snprintf(err, errlen, "database name \"%s\" is reserved: names starting with \"%s\" "
                 "are Dormouse's own", name, POOL_RESERVED_PREFIX);
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

/* An upstream database has no backends here: its sessions connect to it. */
static pool_db *pool_db_add_upstream(pool *p, size_t b, const char *name, const pool_db_rule *rule,
                                     char *err, size_t errlen)
{
    /* the record and its address, together in the pool's arena */
    size_t off = (sizeof(pool_db) + 15) & ~(size_t)15;
    pool_db *db = pool_arena_alloc(&p->arena, off + sizeof(pool_upstream));
    if (!db) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(db->name, sizeof(db->name), "%s", name);
    db->pool = p;
    db->engine = STORAGE_POSTGRES;
    db->upstream = (pool_upstream *)((char *)db + off);
    *db->upstream = rule->upstream;
    db->ov = rule->ov;
    db->state = POOL_DB_IDLE; /* no server yet: it pauses if nobody comes */
    db->idle_since_us = db->up_since_us = db->period_start_us = pool_now(p);
    db->engine_ready = !db->upstream->managed_datadir[0]; /* a managed one is started first */
    db->managed = db->upstream->managed_datadir[0] != '\0';
    if (db->managed) { /* its server is not running: the first client is a cold start */
        db->state = POOL_DB_PAUSED;
        db->last_pause_us = db->idle_since_us;
        db->up_since_us = 0;
    }
    db->idle_timeout = rule->ov.idle_timeout;
    db->hash_next = p->buckets[b];
    p->buckets[b] = db;
    p->ndbs++;
    return db;
}

pool_db *pool_db_find(const pool *p, const char *name)
{
    pool *mp = (pool *)p; /* the lock, not the pool, changes */
    pthread_mutex_lock(&mp->lock);
    pool_db *db;
    for (db = p->buckets[pool_bucket(p, name)]; db; db = db->hash_next)
        if (strcmp(db->name, name) == 0)
            break;
    pthread_mutex_unlock(&mp->lock);
    return db;
}

static pool_db *pool_db_get_locked(pool *p, const char *name, char *err, size_t errlen);

pool_db *pool_db_get(pool *p, const char *name, char *err, size_t errlen)
{
    pthread_mutex_lock(&p->lock);
    pool_db *db = pool_db_get_locked(p, name, err, errlen);
    pthread_mutex_unlock(&p->lock);
    return db;
}

static pool_db *pool_db_get_locked(pool *p, const char *name, char *err, size_t errlen)
{
    if (!pool_db_name_valid(name, err, errlen))
        return NULL;
    size_t b = pool_bucket(p, name);
    for (pool_db *db = p->buckets[b]; db; db = db->hash_next) {
        if (strcmp(db->name, name) != 0)
            continue;
        const pool_db_rule *rule = pool_rule_find(p, name);
        if (rule)
            db->idle_timeout = rule->ov.idle_timeout; /* a reload may have changed it */
        if (db->engine == STORAGE_POSTGRES) {
            /* A reload may have moved the upstream: new clients follow it. */
            /* (a managed server stays where it was started: its keys apply at restart) */
            if (rule && rule->engine == STORAGE_POSTGRES && !db->managed &&
                !rule->upstream.managed_datadir[0]) {
                if (memcmp(db->upstream, &rule->upstream, sizeof(*db->upstream)) != 0)
                    db->generation++; /* servers of the old address are retired */
                *db->upstream = rule->upstream;
                db->ov = rule->ov;
            } else if (rule && rule->engine == STORAGE_POSTGRES && db->managed &&
                       !strcmp(rule->upstream.managed_datadir, db->upstream->managed_datadir)) {
                db->ov = rule->ov;
            }
        }
        return db;
    }

    const pool_db_rule *rule = pool_rule_find(p, name);
    if (!rule) {
        snprintf(err, errlen, "database \"%s\" does not exist", name);
        return NULL;
    }
    if (rule->engine == STORAGE_POSTGRES)
        return pool_db_add_upstream(p, b, name, rule, err, errlen);
    if (rule->engine != STORAGE_SQLITE || !p->sqlite) {
        snprintf(err, errlen, "database \"%s\" is served by engine %s, which is not available",
                 name, storage_kind_str(rule->engine));
        return NULL;
    }
    /* the record and its storage_db, together in the pool's arena: 10,000
     * paused databases cost 10,000 of these and nothing else */
    size_t off = (sizeof(pool_db) + 15) & ~(size_t)15;
    pool_db *db = pool_arena_alloc(&p->arena, off + storage_db_size(p->sqlite, name));
    if (!db) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(db->name, sizeof(db->name), "%s", name);
    db->pool = p;
    db->engine = rule->engine;
    db->sdb = storage_db_init((char *)db + off, p->sqlite, name);
    db->state = POOL_DB_IDLE; /* nothing open yet: it pauses if nobody comes */
    db->idle_since_us = db->up_since_us = db->period_start_us = pool_now(p);
    db->engine_ready = true;
    db->idle_timeout = rule->ov.idle_timeout;
    db->hash_next = p->buckets[b];
    p->buckets[b] = db;
    p->ndbs++;
    return db;
}

bool pool_db_managed(const pool_db *db)
{
    return db->managed;
}

bool pool_name_managed(pool *p, const char *name)
{
    pthread_mutex_lock(&p->lock);
    bool managed = false;
    pool_db *db;
    for (db = p->buckets[pool_bucket(p, name)]; db; db = db->hash_next)
        if (strcmp(db->name, name) == 0)
            break;
    if (db) {
        managed = db->managed;
    } else {
        const pool_db_rule *rule = pool_rule_find(p, name);
        managed = rule && rule->engine == STORAGE_POSTGRES && rule->upstream.managed_datadir[0];
    }
    pthread_mutex_unlock(&p->lock);
    return managed;
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
    return db->nstate[POOL_BACKEND_ACTIVE];
}

int pool_db_idle_backends(const pool_db *db)
{
    return db->nstate[POOL_BACKEND_IDLE];
}

int pool_db_closing_backends(const pool_db *db)
{
    return db->nstate[POOL_BACKEND_CLOSING];
}

uint64_t pool_db_opened_total(const pool_db *db)
{
    return db->opened_total;
}

uint64_t pool_pauses_total(const pool *p)
{
    return atomic_load_explicit(&((pool *)p)->pauses, memory_order_relaxed);
}

storage_db *pool_db_storage(const pool_db *db)
{
    return db->sdb;
}

uint64_t pool_db_resumed_at(const pool_db *db)
{
    return db->resumed_at_us;
}

static int pool_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The engine answers again after a pause: the resume's latency is kept. */
static void pool_db_resumed(pool_db *db)
{
    uint64_t now = pool_now(db->pool);
    db->resumed_at_us = now;
    uint64_t lat = now - db->resume_start_us;
    db->last_resume_us = lat ? lat : 1;
    db->resumes++;
    db->resume_sum_us += db->last_resume_us;
    if (!db->resume_us)
        db->resume_us = calloc(POOL_RESUME_SAMPLES, sizeof(*db->resume_us));
    if (db->resume_us) { /* (out of memory: the last one is still known) */
        db->resume_us[db->resume_next] =
            db->last_resume_us > UINT32_MAX ? UINT32_MAX : (uint32_t)db->last_resume_us;
        db->resume_next = (db->resume_next + 1) % POOL_RESUME_SAMPLES;
        if (db->nresume < POOL_RESUME_SAMPLES)
            db->nresume++;
        /* the percentiles once per resume, not at every read (every second's) */
        uint64_t v[POOL_RESUME_SAMPLES];
        for (int i = 0; i < db->nresume; i++)
            v[i] = db->resume_us[i];
        qsort(v, (size_t)db->nresume, sizeof(v[0]), pool_u64_cmp);
        db->resume_p50_us = v[(db->nresume - 1) / 2];
        db->resume_p99_us = v[(db->nresume * 99 + 99) / 100 - 1];
    }
    db->state = POOL_DB_ACTIVE;
}

void pool_db_opened(pool_db *db)
{
    db->open_ok = true;
    if (db->state == POOL_DB_RESUMING) /* the first backend opened since the pause */
        pool_db_resumed(db);
}

bool pool_db_ever_opened(const pool_db *db)
{
    return db->open_ok;
}

uint64_t pool_db_reused_total(const pool_db *db)
{
    return db->reused_total;
}

int pool_db_count(const pool *p)
{
    return p->ndbs;
}

int pool_idle_backends(const pool *p)
{
    pool *mp = (pool *)p;
    pthread_mutex_lock(&mp->lock);
    int n = p->nidle;
    pthread_mutex_unlock(&mp->lock);
    return n;
}

int pool_closing_backends(const pool *p)
{
    pool *mp = (pool *)p;
    pthread_mutex_lock(&mp->lock);
    int n = p->nclosing;
    pthread_mutex_unlock(&mp->lock);
    return n;
}

void pool_set_limits(pool *p, const pool_limits *l)
{
    p->limits = *l;
    if (p->limits.idle_max < 0)
        p->limits.idle_max = 0;
}

void pool_set_clock(pool *p, pool_clock_fn now_us, void *arg)
{
    p->clock = now_us ? now_us : pool_monotonic_us;
    p->clock_arg = now_us ? arg : NULL;
}

uint64_t pool_now(const pool *p)
{
    return p->clock(p->clock_arg);
}

/* ---- backend states ---- */

static bool pool_backend_move_allowed(pool_backend_state from, pool_backend_state to)
{
    switch (from) {
    case POOL_BACKEND_ACTIVE:
        return to == POOL_BACKEND_IDLE;
    case POOL_BACKEND_IDLE:
        return to == POOL_BACKEND_ACTIVE || to == POOL_BACKEND_CLOSING;
    case POOL_BACKEND_CLOSING:
        return false;
    }
    return false;
}

static void pool_idle_unlink(pool_backend *b)
{
    pool_db *db = b->db;
    if (b->prev)
        b->prev->next = b->next;
    else
        db->idle_head = b->next;
    if (b->next)
        b->next->prev = b->prev;
    else
        db->idle_tail = b->prev;
    b->prev = b->next = NULL;
    if (!db->idle_head) { /* off p->idle_dbs */
        pool *p = db->pool;
        if (db->idle_db_prev)
            db->idle_db_prev->idle_db_next = db->idle_db_next;
        else
            p->idle_dbs = db->idle_db_next;
        if (db->idle_db_next)
            db->idle_db_next->idle_db_prev = db->idle_db_prev;
        db->idle_db_prev = db->idle_db_next = NULL;
    }
}

static void pool_idle_push(pool_backend *b, uint64_t now)
{
    pool_db *db = b->db;
    if (!db->idle_head) { /* onto p->idle_dbs */
        pool *p = db->pool;
        db->idle_db_prev = NULL;
        db->idle_db_next = p->idle_dbs;
        if (p->idle_dbs)
            p->idle_dbs->idle_db_prev = db;
        p->idle_dbs = db;
    }
    b->prev = NULL;
    b->next = db->idle_head;
    if (db->idle_head)
        db->idle_head->prev = b;
    else
        db->idle_tail = b;
    db->idle_head = b;
    b->idle_since_us = now;
}

/* The one place a backend changes state: list membership and counters move
 * with it.  An impossible transition is a bug: abort. */
static void pool_backend_move(pool_backend *b, pool_backend_state to, uint64_t now)
{
    pool_db *db = b->db;
    pool *p = db->pool;
    if (!pool_backend_move_allowed(b->state, to)) {
        fprintf(stderr, "pool: impossible backend transition %s -> %s\n",
                pool_backend_state_str(b->state), pool_backend_state_str(to));
        abort();
    }
    pthread_mutex_lock(&p->lock);
    if (b->state == POOL_BACKEND_IDLE) {
        pool_idle_unlink(b);
        p->nidle--;
    }
    if (to == POOL_BACKEND_IDLE) {
        pool_idle_push(b, now);
        p->nidle++;
    }
    if (to == POOL_BACKEND_CLOSING)
        p->nclosing++;
    pthread_mutex_unlock(&p->lock);
    db->nstate[b->state]--;
    db->nstate[to]++;
    b->state = to;
}

/* Time's verdict on an idle backend: too old or idle too long (or the pool
 * drains). */
static bool pool_backend_expired(const pool *p, const pool_backend *b, uint64_t now)
{
    if (p->draining)
        return true;
    if (p->limits.lifetime_us > 0 && now - b->born_us >= p->limits.lifetime_us)
        return true;
    return p->limits.idle_timeout_us > 0 && now - b->idle_since_us >= p->limits.idle_timeout_us;
}

/* ---- lifecycle (pool.h) ---- */

/* Everything is closed: the time it was up is added to its total. */
static void pool_db_paused(pool_db *db, uint64_t now)
{
    db->state = POOL_DB_PAUSED;
    db->last_pause_us = now;
    atomic_fetch_add_explicit(&db->pool->pauses, 1, memory_order_relaxed);
    if (db->up_since_us) {
        db->up_total_us += now - db->up_since_us;
        db->up_since_us = 0;
    }
}

/* A client takes a backend: a paused (or pausing) database resumes; its
 * first OPEN ends the resume (pool_db_opened). */
static void pool_db_wake(pool_db *db, uint64_t now, bool reused)
{
    if (db->state == POOL_DB_PAUSED || db->state == POOL_DB_PAUSING) {
        if (db->sdb)
            storage_db_set_pausing(db->sdb, false);
        db->cold_starts++;
        db->resume_start_us = now;
        if (!db->up_since_us)
            db->up_since_us = db->period_start_us = now;
        db->state = POOL_DB_RESUMING;
        if (reused)
            pool_db_resumed(db);
        return;
    }
    if (db->state != POOL_DB_RESUMING || reused)
        db->state = POOL_DB_ACTIVE;
}

/* A backend was parked, closed or freed: a database with none handed out is
 * idle, and a pausing one with none at all is paused. */
static void pool_db_settle(pool_db *db, uint64_t now)
{
    if (db->engine != STORAGE_SQLITE || db->nstate[POOL_BACKEND_ACTIVE] > 0)
        return;
    if (db->state == POOL_DB_PAUSING) {
        if (db->nstate[POOL_BACKEND_IDLE] == 0 && db->nstate[POOL_BACKEND_CLOSING] == 0)
            pool_db_paused(db, now);
        return;
    }
    if (db->state != POOL_DB_IDLE && db->state != POOL_DB_PAUSED) {
        db->state = POOL_DB_IDLE;
        db->idle_since_us = now;
    }
}

static uint64_t pool_db_pause_after(const pool_db *db)
{
    if (db->idle_timeout >= 0)
        return (uint64_t)db->idle_timeout * 1000000u;
    return db->pool->limits.pause_after_us;
}

/* ---- engine=postgres: the servers are the engine ---- */

void pool_db_upstream_busy(pool_db *db, int delta)
{
    uint64_t now = pool_now(db->pool);
    db->nbusy += delta;
    if (delta > 0) {
        if (db->state == POOL_DB_PAUSED || db->state == POOL_DB_PAUSING)
            pool_db_wake(db, now, false); /* RESUMING until a server logs in */
        else if (db->state == POOL_DB_IDLE)
            db->state = POOL_DB_ACTIVE;
        return;
    }
    if (db->nbusy > 0)
        return;
    if (db->state == POOL_DB_PAUSING) {
        if (db->nservers == 0)
            pool_db_paused(db, now);
        return;
    }
    if (db->state == POOL_DB_ACTIVE || db->state == POOL_DB_RESUMING) {
        /* a resume nobody waits for any more ends too: the engine is up or
         * on its way, and pauses again after the idle timeout */
        db->state = POOL_DB_IDLE;
        db->idle_since_us = now;
    }
}

void pool_db_upstream_logged_in(pool_db *db)
{
    if (db->state == POOL_DB_RESUMING)
        pool_db_resumed(db);
}

bool pool_db_upstream_may_open(const pool_db *db)
{
    return db->engine_ready && db->state != POOL_DB_PAUSED && db->state != POOL_DB_PAUSING;
}

void pool_db_force_pause(pool_db *db, bool on)
{
    db->pause_forced = on;
}

bool pool_db_pause_forced(const pool_db *db)
{
    return db->pause_forced;
}

bool pool_db_prewarm(pool_db *db)
{
    if (db->state != POOL_DB_PAUSED)
        return false;
    pool_db_wake(db, pool_now(db->pool), false); /* RESUMING, a cold start */
    return true;
}

bool pool_db_engine_ready(const pool_db *db)
{
    return db->engine_ready;
}

void pool_db_set_engine_ready(pool_db *db, bool ready)
{
    db->engine_ready = ready;
    /* a resume nobody waits for (pool_db_prewarm) ends when the engine is up */
    if (db->state != POOL_DB_RESUMING || db->nbusy > 0)
        return;
    if (ready) {
        pool_db_resumed(db);
        db->state = POOL_DB_IDLE;
        db->idle_since_us = pool_now(db->pool);
    } else {
        pool_db_paused(db, pool_now(db->pool)); /* it did not come up */
    }
}

/* Whether db has been idle long enough, and up long enough, to pause. */
static bool pool_db_pause_due(const pool_db *db, uint64_t now)
{
    uint64_t after = pool_db_pause_after(db);
    if (db->state != POOL_DB_IDLE)
        return false;
    if (db->pause_forced)
        return true;
    if (after == 0 || now - db->idle_since_us < after)
        return false;
    uint64_t min_up = db->pool->limits.min_active_us;
    return min_up == 0 || !db->resumed_at_us || now - db->resumed_at_us >= min_up;
}

int pool_pause_idle(pool *p, pool_close_fn close_fn, pool_pause_fn pause_fn, void *arg)
{
    uint64_t now = pool_now(p);
    int n = 0;
    for (size_t i = 0; i < p->nbuckets; i++) {
        for (pool_db *db = p->buckets[i]; db; db = db->hash_next) {
            if (!pool_db_pause_due(db, now))
                continue;
            db->state = POOL_DB_PAUSING;
            n++;
            if (db->engine == STORAGE_POSTGRES) {
                /* every server is idle: the proxy closes them all (and stops a
                 * managed server) */
                if (pause_fn)
                    pause_fn(db, arg);
                if (db->state == POOL_DB_PAUSING && db->nservers == 0 && db->nbusy == 0)
                    pool_db_paused(db, now);
                continue;
            }
            storage_db_set_pausing(db->sdb, true); /* the last close may go cold */
            while (db->idle_tail) {
                pool_backend *b = db->idle_tail;
                pool_backend_move(b, POOL_BACKEND_CLOSING, now);
                close_fn(db, b->conn, arg);
            }
            pool_db_settle(db, now); /* nothing to close: paused at once */
        }
    }
    return n;
}

bool pool_at_zero(const pool *p)
{
    for (size_t i = 0; i < p->nbuckets; i++) {
        for (const pool_db *db = p->buckets[i]; db; db = db->hash_next) {
            if (db->nstate[POOL_BACKEND_ACTIVE] || db->nstate[POOL_BACKEND_IDLE] ||
                db->nstate[POOL_BACKEND_CLOSING] || db->nservers > 0)
                return false;
            if (db->state != POOL_DB_PAUSED && pool_db_pause_after(db) > 0)
                return false; /* it will pause: the clock is still needed */
        }
    }
    return true;
}

void pool_db_lifecycle_get(const pool_db *db, pool_db_lifecycle *out)
{
    memset(out, 0, sizeof(*out));
    uint64_t now = pool_now(db->pool);
    out->state = db->state;
    out->idle_timeout = (int)(pool_db_pause_after(db) / 1000000u);
    out->up_us = db->up_total_us + (db->up_since_us ? now - db->up_since_us : 0);
    out->cold_starts = db->cold_starts;
    out->resumes = db->resumes;
    out->resume_sum_us = db->resume_sum_us;
    out->last_resume_us = db->last_resume_us;
    out->resume_p50_us = db->resume_p50_us;
    out->resume_p99_us = db->resume_p99_us;
    if (db->state == POOL_DB_PAUSED)
        out->paused_for_us = now - db->last_pause_us;
    if (db->last_pause_us)
        out->since_pause_us = now - db->last_pause_us + 1;
    if (db->resumed_at_us)
        out->since_resume_us = now - db->resumed_at_us + 1;
}

storage_conn *pool_backend_acquire(pool_db *db, bool *opened)
{
    pool *p = db->pool;
    uint64_t now = pool_now(p);

    /* An expired backend stays where it is for pool_expire() to close. */
    for (pool_backend *b = db->idle_head; b; b = b->next) {
        if (pool_backend_expired(p, b, now))
            continue;
        pool_backend_move(b, POOL_BACKEND_ACTIVE, now);
        db->reused_total++;
        pool_db_wake(db, now, true);
        *opened = true;
        return b->conn;
    }

    pool_backend *b = calloc(1, sizeof(*b));
    storage_conn *c = b ? storage_conn_new(db->sdb) : NULL;
    if (!c) {
        free(b);
        return NULL;
    }
    b->conn = c;
    b->db = db;
    b->state = POOL_BACKEND_ACTIVE;
    b->born_us = now;
    storage_conn_set_owner_data(c, b);
    db->nstate[POOL_BACKEND_ACTIVE]++;
    db->opened_total++;
    pool_db_wake(db, now, false);
    *opened = false;
    return c;
}

bool pool_backend_reusable(const pool_db *db, const storage_conn *c)
{
    const pool *p = db->pool;
    const pool_backend *b = storage_conn_owner_data(c);
    if (!b || b->state != POOL_BACKEND_ACTIVE || p->draining || p->limits.idle_max <= 0 ||
        p->limits.lifetime_us == 0)
        return false;
    return pool_now(p) - b->born_us < p->limits.lifetime_us;
}

bool pool_backend_park(pool_db *db, storage_conn *c)
{
    if (!pool_backend_reusable(db, c) || db->nstate[POOL_BACKEND_IDLE] >= db->pool->limits.idle_max)
        return false;
    uint64_t now = pool_now(db->pool);
    pool_backend_move(storage_conn_owner_data(c), POOL_BACKEND_IDLE, now);
    pool_db_settle(db, now);
    return true;
}

void pool_backend_release(pool_db *db, storage_conn *c)
{
    if (!c)
        return;
    pool_backend *b = storage_conn_owner_data(c);
    if (!b || b->db != db || b->state == POOL_BACKEND_IDLE) {
        fprintf(stderr, "pool: release of a backend that is not handed out\n");
        abort();
    }
    if (b->state == POOL_BACKEND_CLOSING) {
        pthread_mutex_lock(&db->pool->lock);
        db->pool->nclosing--;
        pthread_mutex_unlock(&db->pool->lock);
    }
    db->nstate[b->state]--;
    free(b);
    storage_conn_free(c);
    pool_db_settle(db, pool_now(db->pool));
}

int pool_expire(pool *p, pool_close_fn close_fn, void *arg)
{
    uint64_t now = pool_now(p);
    int n = 0;
    for (pool_db *db = p->idle_dbs, *next_db; db; db = next_db) {
        next_db = db->idle_db_next; /* db leaves the list with its last idle backend */
        /* From the least recently used end: over the limit first, then by time. */
        for (pool_backend *b = db->idle_tail, *prev; b; b = prev) {
            prev = b->prev;
            if (db->nstate[POOL_BACKEND_IDLE] <= p->limits.idle_max &&
                !pool_backend_expired(p, b, now))
                continue;
            pool_backend_move(b, POOL_BACKEND_CLOSING, now);
            close_fn(db, b->conn, arg);
            n++;
        }
    }
    return n;
}

void pool_drain(pool *p)
{
    p->draining = true;
}

storage_kind pool_db_engine(const pool_db *db)
{
    return db->engine;
}

const pool_upstream *pool_db_upstream(const pool_db *db)
{
    return db->engine == STORAGE_POSTGRES ? db->upstream : NULL;
}

void pool_db_meter_take(pool *p, void (*fn)(pool_db *db, const pool_db_meter *m, void *arg),
                        void *arg)
{
    uint64_t now = pool_now(p);
    for (size_t i = 0; i < p->nbuckets; i++)
        for (pool_db *db = p->buckets[i]; db; db = db->hash_next) {
            uint64_t up = db->up_total_us + (db->up_since_us ? now - db->up_since_us : 0);
            pool_db_meter m = {.active_us = up - db->metered_up_us,
                               .cold_starts = db->cold_starts - db->metered_cold_starts,
                               .period_start_us = db->period_start_us,
                               .up = db->up_since_us != 0};
            if (!m.active_us && !m.cold_starts)
                continue;
            db->metered_up_us = up;
            db->metered_cold_starts = db->cold_starts;
            fn(db, &m, arg);
        }
}

void pool_db_foreach(const pool *p, void (*fn)(const pool_db *db, void *arg), void *arg)
{
    for (size_t i = 0; i < p->nbuckets; i++)
        for (const pool_db *db = p->buckets[i]; db; db = db->hash_next)
            fn(db, arg);
}
