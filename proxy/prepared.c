/*
 * Protocol-level prepared statements under transaction pooling.
 *
 * A client names its statements (Parse "S_1"), but in transaction mode each
 * transaction may run on a different server connection.  Dormouse keeps:
 *
 *   the statement cache   one proxy_stmt per distinct (query text, parameter
 *                         types), i.e. per Parse body after the name, keyed by
 *                         an xxHash of it; its server-side name is "DMS_<id>",
 *                         the same on every server, so that clients preparing
 *                         the same SQL share a server's statement;
 *   each client's map     client name -> proxy_stmt;
 *   each server's LRU     the proxy_stmts prepared on that connection, at most
 *                         max_prepared_statements, the least recently used
 *                         closed first.
 *
 * upstream.c rewrites Parse/Bind/Describe/Close with these and Parses a
 * statement on a server that lacks it just before it is used.  Entries hold
 * references: a proxy_stmt lives while a client map, a server LRU or an
 * in-flight Parse refers to it.  Each loop has its own cache (proxy_loop).
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define STMT_MIN_BUCKETS 16

/* ---- the cache ---- */

void proxy_stmt_cache_init(proxy_stmt_cache *c)
{
    memset(c, 0, sizeof(*c));
}

void proxy_stmt_cache_free(proxy_stmt_cache *c)
{
    for (size_t i = 0; i < c->nbuckets; i++) {
        proxy_stmt *st = c->buckets[i];
        while (st) {
            proxy_stmt *next = st->hnext;
            free(st->rest);
            free(st);
            st = next;
        }
    }
    free(c->buckets);
    memset(c, 0, sizeof(*c));
}

/* Doubles a chained table (power of two buckets); false when out of memory. */
static bool rehash(void ***buckets, size_t *nb, size_t n, size_t next_off,
                   uint64_t (*hash)(const void *))
{
    if (n < *nb && *nb > 0)
        return true;
    size_t nnb = *nb ? *nb * 2 : STMT_MIN_BUCKETS;
    void **nbk = calloc(nnb, sizeof(*nbk));
    if (!nbk)
        return *nb > 0; /* keep the old table: longer chains, still correct */
    for (size_t i = 0; i < *nb; i++) {
        void *e = (*buckets)[i];
        while (e) {
            void **nextp = (void **)((char *)e + next_off);
            void *next = *nextp;
            size_t b = (size_t)(hash(e) & (nnb - 1));
            *nextp = nbk[b];
            nbk[b] = e;
            e = next;
        }
    }
    free(*buckets);
    *buckets = nbk;
    *nb = nnb;
    return true;
}

static uint64_t stmt_hash(const void *e)
{
    return ((const proxy_stmt *)e)->hash;
}

proxy_stmt *proxy_stmt_find_name(const proxy_stmt_cache *c, const char *name)
{
    for (size_t i = 0; i < c->nbuckets; i++)
        for (proxy_stmt *st = c->buckets[i]; st; st = st->hnext)
            if (strcmp(st->name, name) == 0)
                return st;
    return NULL;
}

proxy_stmt *proxy_stmt_intern(proxy_stmt_cache *c, const uint8_t *rest, size_t len)
{
    uint64_t h = XXH3_64bits(rest, len);
    if (c->nbuckets) {
        for (proxy_stmt *st = c->buckets[h & (c->nbuckets - 1)]; st; st = st->hnext) {
            if (st->hash == h && st->rest_len == len && memcmp(st->rest, rest, len) == 0) {
                st->refs++;
                return st;
            }
        }
    }
    if (!rehash((void ***)&c->buckets, &c->nbuckets, c->n, offsetof(proxy_stmt, hnext),
                stmt_hash))
        return NULL;
    proxy_stmt *st = calloc(1, sizeof(*st));
    if (!st)
        return NULL;
    st->rest = malloc(len ? len : 1);
    if (!st->rest) {
        free(st);
        return NULL;
    }
    memcpy(st->rest, rest, len);
    st->rest_len = len;
    st->hash = h;
    st->id = ++c->next_id;
    snprintf(st->name, sizeof(st->name), "DMS_%llu", (unsigned long long)st->id);
    st->refs = 1;
    size_t b = (size_t)(h & (c->nbuckets - 1));
    st->hnext = c->buckets[b];
    c->buckets[b] = st;
    c->n++;
    return st;
}

void proxy_stmt_ref(proxy_stmt *st)
{
    st->refs++;
}

void proxy_stmt_unref(proxy_stmt_cache *c, proxy_stmt *st)
{
    if (!st || --st->refs > 0)
        return;
    proxy_stmt **pp = &c->buckets[st->hash & (c->nbuckets - 1)];
    while (*pp && *pp != st)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = st->hnext;
    c->n--;
    free(st->rest);
    free(st);
}

size_t proxy_stmt_cache_count(const proxy_stmt_cache *c)
{
    return c->n;
}

/* ---- a client's names ---- */

typedef struct proxy_stmt_name {
    uint64_t hash;
    proxy_stmt *st;
    struct proxy_stmt_name *hnext;
    char name[]; /* NUL-terminated */
} proxy_stmt_name;

static uint64_t name_hash(const void *e)
{
    return ((const proxy_stmt_name *)e)->hash;
}

proxy_stmt *proxy_stmt_map_get(const proxy_stmt_map *m, const char *name)
{
    if (!m->nbuckets)
        return NULL;
    uint64_t h = XXH3_64bits(name, strlen(name));
    for (proxy_stmt_name *e = m->buckets[h & (m->nbuckets - 1)]; e; e = e->hnext)
        if (e->hash == h && strcmp(e->name, name) == 0)
            return e->st;
    return NULL;
}

bool proxy_stmt_map_put(proxy_stmt_map *m, proxy_stmt_cache *c, const char *name, proxy_stmt *st)
{
    uint64_t h = XXH3_64bits(name, strlen(name));
    if (m->nbuckets) {
        for (proxy_stmt_name *e = m->buckets[h & (m->nbuckets - 1)]; e; e = e->hnext) {
            if (e->hash == h && strcmp(e->name, name) == 0) {
                proxy_stmt_unref(c, e->st);
                e->st = st;
                return true;
            }
        }
    }
    if (!rehash((void ***)&m->buckets, &m->nbuckets, m->n, offsetof(proxy_stmt_name, hnext),
                name_hash))
        return false;
    size_t len = strlen(name);
    proxy_stmt_name *e = malloc(sizeof(*e) + len + 1);
    if (!e)
        return false;
    memcpy(e->name, name, len + 1);
    e->hash = h;
    e->st = st;
    size_t b = (size_t)(h & (m->nbuckets - 1));
    e->hnext = m->buckets[b];
    m->buckets[b] = e;
    m->n++;
    return true;
}

bool proxy_stmt_map_del(proxy_stmt_map *m, proxy_stmt_cache *c, const char *name)
{
    if (!m->nbuckets)
        return false;
    uint64_t h = XXH3_64bits(name, strlen(name));
    proxy_stmt_name **pp = (proxy_stmt_name **)&m->buckets[h & (m->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->hnext) {
        proxy_stmt_name *e = *pp;
        if (e->hash == h && strcmp(e->name, name) == 0) {
            *pp = e->hnext;
            proxy_stmt_unref(c, e->st);
            free(e);
            m->n--;
            return true;
        }
    }
    return false;
}

const char *proxy_stmt_map_name_of(const proxy_stmt_map *m, const proxy_stmt *st)
{
    for (size_t i = 0; i < m->nbuckets; i++)
        for (const proxy_stmt_name *e = m->buckets[i]; e; e = e->hnext)
            if (e->st == st)
                return e->name;
    return NULL;
}

void proxy_stmt_map_clear(proxy_stmt_map *m, proxy_stmt_cache *c)
{
    for (size_t i = 0; i < m->nbuckets; i++) {
        proxy_stmt_name *e = m->buckets[i];
        while (e) {
            proxy_stmt_name *next = e->hnext;
            proxy_stmt_unref(c, e->st);
            free(e);
            e = next;
        }
    }
    free(m->buckets);
    memset(m, 0, sizeof(*m));
}

/* ---- a server's statements, least recently used last ---- */

typedef struct proxy_stmt_lru_ent {
    proxy_stmt *st;
    struct proxy_stmt_lru_ent *prev, *next; /* recency: head is the most recent */
    struct proxy_stmt_lru_ent *hnext;
} proxy_stmt_lru_ent;

static uint64_t lru_hash(const void *e)
{
    return ((const proxy_stmt_lru_ent *)e)->st->hash;
}

static proxy_stmt_lru_ent *lru_find(const proxy_stmt_lru *l, const proxy_stmt *st,
                                    proxy_stmt_lru_ent ***pp_out)
{
    if (!l->nbuckets)
        return NULL;
    proxy_stmt_lru_ent **pp = (proxy_stmt_lru_ent **)&l->buckets[st->hash & (l->nbuckets - 1)];
    for (; *pp; pp = &(*pp)->hnext) {
        if ((*pp)->st == st) {
            if (pp_out)
                *pp_out = pp;
            return *pp;
        }
    }
    return NULL;
}

static void lru_unlink(proxy_stmt_lru *l, proxy_stmt_lru_ent *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_head(proxy_stmt_lru *l, proxy_stmt_lru_ent *e)
{
    e->prev = NULL;
    e->next = l->head;
    if (l->head)
        l->head->prev = e;
    l->head = e;
    if (!l->tail)
        l->tail = e;
}

bool proxy_stmt_lru_touch(proxy_stmt_lru *l, const proxy_stmt *st)
{
    proxy_stmt_lru_ent *e = lru_find(l, st, NULL);
    if (!e)
        return false;
    if (l->head != e) {
        lru_unlink(l, e);
        lru_push_head(l, e);
    }
    return true;
}

bool proxy_stmt_lru_add(proxy_stmt_lru *l, proxy_stmt *st, int max, proxy_stmt **evicted)
{
    *evicted = NULL;
    if (!rehash((void ***)&l->buckets, &l->nbuckets, l->n, offsetof(proxy_stmt_lru_ent, hnext),
                lru_hash))
        return false;
    proxy_stmt_lru_ent *e = calloc(1, sizeof(*e));
    if (!e)
        return false;
    e->st = st;
    proxy_stmt_ref(st);
    size_t b = (size_t)(st->hash & (l->nbuckets - 1));
    e->hnext = l->buckets[b];
    l->buckets[b] = e;
    lru_push_head(l, e);
    l->n++;
    if (max > 0 && l->n > max && l->tail && l->tail != e) {
        proxy_stmt_lru_ent *old = l->tail;
        proxy_stmt_lru_ent **pp = NULL;
        if (lru_find(l, old->st, &pp) && pp)
            *pp = old->hnext;
        lru_unlink(l, old);
        l->n--;
        *evicted = old->st; /* the entry's reference goes to the caller */
        free(old);
    }
    return true;
}

void proxy_stmt_lru_del(proxy_stmt_lru *l, proxy_stmt_cache *c, const proxy_stmt *st)
{
    proxy_stmt_lru_ent **pp;
    proxy_stmt_lru_ent *e = lru_find(l, st, &pp);
    if (!e)
        return;
    *pp = e->hnext;
    lru_unlink(l, e);
    l->n--;
    proxy_stmt_unref(c, e->st);
    free(e);
}

void proxy_stmt_lru_clear(proxy_stmt_lru *l, proxy_stmt_cache *c)
{
    proxy_stmt_lru_ent *e = l->head;
    while (e) {
        proxy_stmt_lru_ent *next = e->next;
        proxy_stmt_unref(c, e->st);
        free(e);
        e = next;
    }
    free(l->buckets);
    memset(l, 0, sizeof(*l));
}
