/*
 * Per-database and per-user client connection limits
 * (max_db_client_connections, max_user_client_connections, as PgBouncer's):
 * a client that has authenticated counts against its database and its user
 * until it goes; one past a limit gets PostgreSQL's FATAL 53300 "too many
 * connections for database/role".  The counts are shared by every loop.
 *
 * Failed logins per source address (login_failure_limit within
 * login_failure_window seconds): past the limit, the address's logins are
 * refused at their StartupMessage, before any password is checked, for a
 * whole window; other addresses are not slowed.  IPv6 addresses count per
 * /64 (one host usually has a whole /64).  The table has a fixed size: when
 * it is full the entry that went quiet longest makes room, so memory stays
 * bounded whatever the number of addresses.  Unix-socket clients are local
 * and never counted.
 */
#include "internal.h"

#include <arpa/inet.h>
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

#define LOGIN_SLOTS 4096 /* a power of two */
#define LOGIN_PROBES 8

typedef struct login_slot {
    uint8_t key[16];      /* IPv4 as ::ffff:a.b.c.d; IPv6 cut to its /64 */
    bool used;
    int failures;         /* within the window that started at `since` */
    double since;         /* monotonic seconds */
    double last;          /* the last failure */
    double blocked_until; /* logins refused before then */
} login_slot;

struct proxy_limits {
    pthread_mutex_t lock;
    limits_count *buckets[LIMITS_BUCKETS];
    pthread_mutex_t login_lock; /* a leaf lock, as `lock` */
    login_slot login[LOGIN_SLOTS];
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

/* The address's key; false for Unix sockets (never counted). */
static bool login_key(const proxy_session *s, uint8_t key[16], char *text, size_t textlen)
{
    memset(key, 0, 16);
    if (s->is_unix)
        return false;
    if (s->addr.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&s->addr;
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &in->sin_addr, 4);
        inet_ntop(AF_INET, &in->sin_addr, text, (socklen_t)textlen);
        return true;
    }
    if (s->addr.ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&s->addr;
        memcpy(key, &in6->sin6_addr, 16);
        if (!IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            memset(key + 8, 0, 8); /* its /64 */
        struct in6_addr net;
        memcpy(&net, key, 16);
        inet_ntop(AF_INET6, &net, text, (socklen_t)textlen);
        if (!IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && strlen(text) + 4 < textlen)
            strcat(text, "/64");
        return true;
    }
    return false;
}

/* Which of two used slots goes first when room is needed: one not
 * refusing logins before one that is, then the one quiet longer. */
static bool login_evict_before(const login_slot *a, const login_slot *b, double now)
{
    bool a_blocked = a->blocked_until > now, b_blocked = b->blocked_until > now;
    if (a_blocked != b_blocked)
        return !a_blocked;
    return a->last < b->last;
}

/* The address's slot; NULL when it has none, unless `make`: then an empty
 * slot among those probed, else the one that should go first. */
static login_slot *login_slot_get(struct proxy_limits *l, const uint8_t key[16], bool make,
                                  double now)
{
    size_t h = (size_t)XXH3_64bits(key, 16);
    login_slot *victim = NULL;
    for (int i = 0; i < LOGIN_PROBES; i++) {
        login_slot *e = &l->login[(h + (size_t)i) & (LOGIN_SLOTS - 1)];
        if (e->used && memcmp(e->key, key, 16) == 0)
            return e;
        if (victim && !victim->used)
            continue; /* an empty one is taken first */
        if (!victim || !e->used || login_evict_before(e, victim, now))
            victim = e;
    }
    if (!make)
        return NULL;
    memset(victim, 0, sizeof(*victim));
    victim->used = true;
    memcpy(victim->key, key, 16);
    return victim;
}

bool limits_login_allowed(proxy_session *s, char *msg, size_t n)
{
    struct proxy_limits *l = s->server->limits;
    uint8_t key[16];
    char addr[INET6_ADDRSTRLEN + 4];
    if (!l || s->server->cfg.login_failure_limit <= 0 || !login_key(s, key, addr, sizeof(addr)))
        return true;
    double now = (double)proxy_stats_now_us() / 1e6;
    pthread_mutex_lock(&l->login_lock);
    login_slot *e = login_slot_get(l, key, false, now);
    double left = e ? e->blocked_until - now : 0;
    pthread_mutex_unlock(&l->login_lock);
    if (left <= 0)
        return true;
    snprintf(msg, n, "too many failed login attempts from %s: try again in %d s", addr,
             (int)left + 1);
    return false;
}

void limits_login_failed(proxy_session *s)
{
    struct proxy_limits *l = s->server->limits;
    int limit = s->server->cfg.login_failure_limit;
    double window = s->server->cfg.login_failure_window;
    uint8_t key[16];
    char addr[INET6_ADDRSTRLEN + 4];
    if (!l || limit <= 0 || !login_key(s, key, addr, sizeof(addr)))
        return;
    double now = (double)proxy_stats_now_us() / 1e6;
    bool blocked = false;
    int failures;
    pthread_mutex_lock(&l->login_lock);
    login_slot *e = login_slot_get(l, key, true, now);
    if (now - e->since > window) {
        e->since = now;
        e->failures = 0;
    }
    e->last = now;
    failures = ++e->failures;
    if (failures >= limit && e->blocked_until <= now) {
        e->blocked_until = now + window;
        blocked = true;
    }
    pthread_mutex_unlock(&l->login_lock);
    if (blocked)
        proxy_log(PROXY_LOG_WARNING,
                  "%d failed logins from %s within %g s: its logins are refused for %g s",
                  failures, addr, window, window);
}

bool limits_init(proxy_server *srv)
{
    srv->limits = calloc(1, sizeof(*srv->limits));
    if (srv->limits) {
        pthread_mutex_init(&srv->limits->lock, NULL);
        pthread_mutex_init(&srv->limits->login_lock, NULL);
    }
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
    pthread_mutex_destroy(&l->login_lock);
    free(l);
    srv->limits = NULL;
}
