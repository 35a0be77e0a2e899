/*
 * Upstream server pools: per (database, user), the server connections the
 * proxy has logged in and the clients waiting for one (pool.h has the state
 * diagram).  Lists only: the proxy owns the sockets and embeds a pool_link
 * in each server and each session, so a wait or a hand-over allocates
 * nothing.  pool_server_move() is the one place that changes a server's
 * state; it keeps the list membership, the per-state counts and the
 * database's total true together.
 */
#include "pool_internal.h"

#include <openssl/crypto.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *pool_mode_str(pool_mode m)
{
    switch (m) {
    case POOL_MODE_SESSION:
        return "session";
    case POOL_MODE_TRANSACTION:
        return "transaction";
    case POOL_MODE_STATEMENT:
        return "statement";
    }
    return "unknown";
}

bool pool_mode_parse(const char *s, size_t len, pool_mode *m)
{
    static const pool_mode all[] = {POOL_MODE_SESSION, POOL_MODE_TRANSACTION, POOL_MODE_STATEMENT};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        const char *name = pool_mode_str(all[i]);
        if (strlen(name) == len && strncasecmp(s, name, len) == 0) {
            *m = all[i];
            return true;
        }
    }
    return false;
}

const char *pool_sv_state_str(pool_sv_state s)
{
    switch (s) {
    case POOL_SV_LOGIN:
        return "login";
    case POOL_SV_IDLE:
        return "idle";
    case POOL_SV_ACTIVE:
        return "active";
    case POOL_SV_USED:
        return "used";
    case POOL_SV_NSTATES:
        break;
    }
    return "unknown";
}

/* ---- lists ---- */

static void list_init(pool_list *l)
{
    l->head.next = l->head.prev = &l->head;
    l->n = 0;
}

static void list_push_front(pool_list *l, pool_link *x)
{
    x->next = l->head.next;
    x->prev = &l->head;
    l->head.next->prev = x;
    l->head.next = x;
    l->n++;
}

static void list_push_back(pool_list *l, pool_link *x)
{
    x->prev = l->head.prev;
    x->next = &l->head;
    l->head.prev->next = x;
    l->head.prev = x;
    l->n++;
}

static void list_unlink(pool_list *l, pool_link *x)
{
    x->prev->next = x->next;
    x->next->prev = x->prev;
    x->prev = x->next = NULL;
    l->n--;
}

static pool_link *list_first(const pool_list *l)
{
    return l->n > 0 ? l->head.next : NULL;
}

static pool_link *list_last(const pool_list *l)
{
    return l->n > 0 ? l->head.prev : NULL;
}

/* ---- pools ---- */

pool_servers *pool_servers_get(pool_db *db, const char *user)
{
    if (db->engine != STORAGE_POSTGRES)
        return NULL;
    for (pool_servers *ps = db->servers; ps; ps = ps->next)
        if (strcmp(ps->user, user) == 0)
            return ps;
    pool_servers *ps = calloc(1, sizeof(*ps));
    if (!ps)
        return NULL;
    ps->db = db;
    snprintf(ps->user, sizeof(ps->user), "%s", user);
    for (int i = 0; i < POOL_SV_NSTATES; i++)
        list_init(&ps->sv[i]);
    list_init(&ps->waiting);
    ps->next = db->servers;
    db->servers = ps;
    return ps;
}

void pool_servers_free_all(pool_db *db)
{
    while (db->servers) {
        pool_servers *ps = db->servers;
        db->servers = ps->next;
        free(ps->params);
        OPENSSL_cleanse(ps, sizeof(*ps)); /* its secret and ClientKey */
        free(ps);
    }
}

pool_db *pool_servers_db(const pool_servers *ps)
{
    return ps->db;
}

const char *pool_servers_user(const pool_servers *ps)
{
    return ps->user;
}

static int resolve(int override, int dflt)
{
    return override >= 0 ? override : dflt;
}

void pool_servers_settings(const pool_servers *ps, pool_settings *out)
{
    pool_db_settings(ps->db, out);
}

void pool_db_settings(const pool_db *db, pool_settings *out)
{
    const pool_limits *l = &db->pool->limits;
    const pool_db_overrides *ov = &db->ov;
    out->mode = (pool_mode)resolve(ov->mode, (int)l->mode);
    out->pool_size = resolve(ov->pool_size, l->pool_size);
    out->min_pool_size = resolve(ov->min_pool_size, l->min_pool_size);
    out->reserve_pool = resolve(ov->reserve_pool, l->reserve_pool);
    out->max_db_connections = resolve(ov->max_db_connections, l->max_db_connections);
    if (out->pool_size < 1)
        out->pool_size = 1;
}

void pool_servers_foreach(const pool_db *db, void (*fn)(pool_servers *ps, void *arg), void *arg)
{
    for (pool_servers *ps = db->servers, *next; ps; ps = next) {
        next = ps->next;
        fn(ps, arg);
    }
}

struct foreach_all {
    void (*fn)(pool_servers *ps, void *arg);
    void *arg;
};

static void foreach_db(const pool_db *db, void *arg)
{
    struct foreach_all *fa = arg;
    pool_servers_foreach(db, fa->fn, fa->arg);
}

void pool_all_servers_foreach(pool *p, void (*fn)(pool_servers *ps, void *arg), void *arg)
{
    struct foreach_all fa = {fn, arg};
    pool_db_foreach(p, foreach_db, &fa);
}

/* ---- servers ---- */

void pool_server_add(pool_servers *ps, pool_link *l)
{
    uint64_t now = pool_now(ps->db->pool);
    l->born_us = l->since_us = now;
    l->state = POOL_SV_LOGIN;
    list_push_back(&ps->sv[POOL_SV_LOGIN], l);
    ps->db->nservers++;
    pool_db_upstream_busy(ps->db, 1);
}

void pool_server_move(pool_servers *ps, pool_link *l, pool_sv_state to)
{
    bool was_idle = l->state == POOL_SV_IDLE;
    list_unlink(&ps->sv[l->state], l);
    l->state = (int)to;
    l->since_us = pool_now(ps->db->pool);
    if (to == POOL_SV_IDLE)
        list_push_front(&ps->sv[to], l); /* LIFO: the warmest first */
    else
        list_push_back(&ps->sv[to], l);
    if (was_idle != (to == POOL_SV_IDLE))
        pool_db_upstream_busy(ps->db, was_idle ? 1 : -1);
}

void pool_server_remove(pool_servers *ps, pool_link *l)
{
    list_unlink(&ps->sv[l->state], l);
    ps->db->nservers--;
    /* (an idle one was not busy, but may be the last of a pausing database) */
    pool_db_upstream_busy(ps->db, l->state != POOL_SV_IDLE ? -1 : 0);
}

pool_link *pool_server_take_idle(pool_servers *ps)
{
    pool_link *l = list_first(&ps->sv[POOL_SV_IDLE]);
    if (l)
        pool_server_move(ps, l, POOL_SV_ACTIVE);
    return l;
}

pool_link *pool_server_expired(pool_servers *ps)
{
    const pool_limits *lim = &ps->db->pool->limits;
    pool_settings st;
    pool_servers_settings(ps, &st);
    if (pool_servers_total(ps) <= st.min_pool_size)
        return NULL;
    uint64_t now = pool_now(ps->db->pool);
    pool_link *oldest = list_last(&ps->sv[POOL_SV_IDLE]);
    for (pool_link *l = oldest; l && l != &ps->sv[POOL_SV_IDLE].head; l = l->prev) {
        bool idle_long = lim->idle_timeout_us > 0 && now - l->since_us >= lim->idle_timeout_us;
        bool too_old = lim->lifetime_us > 0 && now - l->born_us >= lim->lifetime_us;
        if (idle_long || too_old) {
            pool_server_remove(ps, l);
            return l;
        }
    }
    return NULL;
}

int pool_servers_count(const pool_servers *ps, pool_sv_state st)
{
    return ps->sv[st].n;
}

int pool_servers_total(const pool_servers *ps)
{
    int n = 0;
    for (int i = 0; i < POOL_SV_NSTATES; i++)
        n += ps->sv[i].n;
    return n;
}

int pool_db_servers_total(const pool_db *db)
{
    return db->nservers;
}

pool_link *pool_servers_first(const pool_servers *ps, pool_sv_state st)
{
    pool_link *l = list_first(&ps->sv[st]);
    return l;
}

pool_link *pool_servers_next(const pool_servers *ps, const pool_link *l)
{
    return l->next == &ps->sv[l->state].head ? NULL : l->next;
}

/* ---- waiting clients ---- */

void pool_client_wait(pool_servers *ps, pool_link *l)
{
    if (l->state)
        return;
    l->state = 1;
    l->since_us = pool_now(ps->db->pool);
    list_push_back(&ps->waiting, l);
    pool_db_upstream_busy(ps->db, 1);
}

void pool_client_unwait(pool_servers *ps, pool_link *l)
{
    if (!l->state)
        return;
    list_unlink(&ps->waiting, l);
    l->state = 0;
    pool_db_upstream_busy(ps->db, -1);
}

pool_link *pool_client_first_waiter(const pool_servers *ps)
{
    return list_first(&ps->waiting);
}

pool_link *pool_client_next_waiter(const pool_servers *ps, const pool_link *l)
{
    return l->next == &ps->waiting.head ? NULL : l->next;
}

int pool_servers_waiting(const pool_servers *ps)
{
    return ps->waiting.n;
}

uint64_t pool_servers_max_wait_us(const pool_servers *ps)
{
    pool_link *l = list_first(&ps->waiting);
    return l ? pool_now(ps->db->pool) - l->since_us : 0;
}

pool_link *pool_client_timed_out(const pool_servers *ps)
{
    uint64_t limit = ps->db->pool->limits.query_wait_timeout_us;
    pool_link *l = list_first(&ps->waiting);
    if (!l || limit == 0 || pool_now(ps->db->pool) - l->since_us < limit)
        return NULL;
    return l;
}

bool pool_servers_login_failing(const pool_servers *ps)
{
    uint64_t retry = ps->db->pool->limits.login_retry_us;
    return ps->login_failed_us != 0 && pool_now(ps->db->pool) - ps->login_failed_us < retry;
}

bool pool_servers_may_open(const pool_servers *ps)
{
    if (ps->waiting.n <= ps->sv[POOL_SV_LOGIN].n || pool_servers_login_failing(ps) ||
        !pool_db_upstream_may_open(ps->db))
        return false;
    pool_settings st;
    pool_servers_settings(ps, &st);
    if (st.max_db_connections > 0 && ps->db->nservers >= st.max_db_connections)
        return false;
    int total = pool_servers_total(ps);
    if (total < st.pool_size)
        return true;
    return st.reserve_pool > 0 && total < st.pool_size + st.reserve_pool &&
           pool_servers_max_wait_us(ps) >= ps->db->pool->limits.reserve_timeout_us;
}

bool pool_servers_below_min(const pool_servers *ps)
{
    pool_settings st;
    pool_servers_settings(ps, &st);
    if (st.max_db_connections > 0 && ps->db->nservers >= st.max_db_connections)
        return false;
    /* a paused database keeps none: min_pool_size applies while it is up */
    return pool_servers_total(ps) < st.min_pool_size && !pool_servers_login_failing(ps) &&
           pool_db_upstream_may_open(ps->db);
}

void pool_servers_login_failed(pool_servers *ps, const char *why)
{
    snprintf(ps->login_error, sizeof(ps->login_error), "%s", why ? why : "");
    ps->login_failed_us = pool_now(ps->db->pool);
    if (ps->login_failed_us == 0)
        ps->login_failed_us = 1;
}

void pool_servers_login_ok(pool_servers *ps)
{
    pool_db_upstream_logged_in(ps->db);
    ps->login_failed_us = 0;
    ps->login_error[0] = '\0';
}

const char *pool_servers_login_error(const pool_servers *ps)
{
    return ps->login_error;
}

bool pool_servers_set_params(pool_servers *ps, const uint8_t *data, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return false;
    memcpy(copy, data, len);
    free(ps->params);
    ps->params = copy;
    ps->params_len = len;
    return true;
}

const uint8_t *pool_servers_params(const pool_servers *ps, size_t *len)
{
    *len = ps->params ? ps->params_len : 0;
    return ps->params;
}

uint32_t pool_db_generation(const pool_db *db)
{
    return db->generation;
}

bool pool_servers_set_secret(pool_servers *ps, const char *secret)
{
    if (strlen(secret) >= sizeof(ps->secret))
        return false;
    if (strcmp(ps->secret, secret) != 0) {
        OPENSSL_cleanse(ps->client_key, sizeof(ps->client_key));
        ps->have_client_key = false;
        snprintf(ps->secret, sizeof(ps->secret), "%s", secret);
    }
    return true;
}

const char *pool_servers_secret(const pool_servers *ps)
{
    return ps->secret;
}

void pool_servers_set_client_key(pool_servers *ps, const uint8_t key[WIRE_SCRAM_KEY_LEN])
{
    memcpy(ps->client_key, key, sizeof(ps->client_key));
    ps->have_client_key = true;
}

const uint8_t *pool_servers_client_key(const pool_servers *ps)
{
    return ps->have_client_key ? ps->client_key : NULL;
}
