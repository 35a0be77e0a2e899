/*
 * Per-database and per-user client connection limits
 * (max_db_client_connections, max_user_client_connections, as PgBouncer's):
 * a client that has authenticated counts against its database and its user
 * until it goes; one past a limit gets PostgreSQL's FATAL 53300 "too many
 * connections for database/role".  The counts are shared by every loop.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define LIMITS_BUCKETS 256 /* a power of two */

typedef struct limits_count {
    struct limits_count *next;
    bool user; /* a user's count, else a database's */
    int n;
    char name[WIRE_NAME_MAX];
} limits_count;

struct proxy_limits {
    pthread_mutex_t lock;
    limits_count *buckets[LIMITS_BUCKETS];
};

static limits_count **limits_find(struct proxy_limits *l, bool user, const char *name)
{
    size_t b = (XXH3_64bits(name, strlen(name)) + user) & (LIMITS_BUCKETS - 1);
    limits_count **p = &l->buckets[b];
    while (*p && ((*p)->user != user || strcmp((*p)->name, name) != 0))
        p = &(*p)->next;
    return p;
}

/* Adds d to name's count (made at need; dropped at 0); the count before. */
static int limits_add(struct proxy_limits *l, bool user, const char *name, int d)
{
    limits_count **p = limits_find(l, user, name);
    if (!*p) {
        if (d <= 0 || !(*p = calloc(1, sizeof(**p))))
            return 0;
        (*p)->user = user;
        snprintf((*p)->name, sizeof((*p)->name), "%s", name);
    }
    int before = (*p)->n;
    (*p)->n += d;
    if ((*p)->n <= 0) {
        limits_count *gone = *p;
        *p = gone->next;
        free(gone);
    }
    return before;
}

bool limits_client_login(proxy_session *s, char *msg, size_t n)
{
    proxy_server *srv = s->server;
    int max_db = srv->cfg.max_db_client_connections, max_user = srv->cfg.max_user_client_connections;
    struct proxy_limits *l = srv->limits;
    if (s->limits_counted || (!max_db && !max_user) || !l)
        return true;
    bool ok = true;
    pthread_mutex_lock(&l->lock);
    int db = limits_add(l, false, s->database, 1), user = limits_add(l, true, s->user, 1);
    if (max_db && db >= max_db) {
        snprintf(msg, n, "too many connections for database \"%s\"", s->database);
        ok = false;
    } else if (max_user && user >= max_user) {
        snprintf(msg, n, "too many connections for role \"%s\"", s->user);
        ok = false;
    }
    if (!ok) {
        limits_add(l, false, s->database, -1);
        limits_add(l, true, s->user, -1);
    }
    pthread_mutex_unlock(&l->lock);
    s->limits_counted = ok;
    return ok;
}

void limits_client_logout(proxy_session *s)
{
    struct proxy_limits *l = s->server->limits;
    if (!s->limits_counted || !l)
        return;
    pthread_mutex_lock(&l->lock);
    limits_add(l, false, s->database, -1);
    limits_add(l, true, s->user, -1);
    pthread_mutex_unlock(&l->lock);
    s->limits_counted = false;
}

bool limits_init(proxy_server *srv)
{
    srv->limits = calloc(1, sizeof(*srv->limits));
    if (srv->limits)
        pthread_mutex_init(&srv->limits->lock, NULL);
    return srv->limits != NULL;
}

void limits_free(proxy_server *srv)
{
    struct proxy_limits *l = srv->limits;
    if (!l)
        return;
    for (size_t b = 0; b < LIMITS_BUCKETS; b++)
        while (l->buckets[b]) {
            limits_count *c = l->buckets[b];
            l->buckets[b] = c->next;
            free(c);
        }
    pthread_mutex_destroy(&l->lock);
    free(l);
    srv->limits = NULL;
}
