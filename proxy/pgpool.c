/*
 * Linking client sessions and upstream server connections (the proxy's half
 * of pool.h's upstream server pools).
 *
 * A client of an upstream database holds a server only while it needs one:
 *
 *   session      from its first request until it disconnects; then the
 *                server_reset_query (DISCARD ALL) runs and the server is idle
 *   transaction  from the first message of a transaction to the
 *                ReadyForQuery that ends it ('I', nothing else due)
 *   statement    the same, with transaction blocks refused
 *
 * A client without a free server waits in its pool's FIFO queue
 * (SESSION_WAITING), while Dormouse keeps reading its socket (so that a
 * disconnect is noticed); a server that comes free, or a new one once it has
 * logged in, goes to the head of the queue.  query_wait_timeout and a
 * CancelRequest take a waiting client out of the queue with an ERROR; its
 * connection stays usable.
 *
 * Clients are greeted from the ParameterStatus messages the pool's last
 * server logged in with (with the client's own startup values), so a
 * client needs no server to log in unless the pool has never had one.
 *
 * Whenever a server is linked to a client whose settings differ from the
 * server's (proxy_settings: the client's startup parameters and its SETs),
 * the difference is sent first as a query of Dormouse's own.  The client's
 * SET and RESET statements are recorded as the relay sees them and
 * committed at the ReadyForQuery that ends their transaction well.
 *
 * The home loop of the pool's database only (or loop 0 under the world lock).
 */
#include "internal.h"

#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct pgpool_op {
    storage_sess_kind kind; /* SET, RESET, RESET_ALL */
    char name[160];
    char *sql;
    uint32_t epoch; /* its request's ReadyForQuery (the server's count) */
    bool ran;       /* that request ended without an error */
};

static void pgpool_dispatch(proxy_server *srv, pool_servers *ps, proxy_session *caller);
static void pgpool_lookup_abandon(proxy_session *s);

static pool_mode pgpool_mode(const pool_servers *ps)
{
    pool_settings st;
    pool_servers_settings(ps, &st);
    return st.mode;
}

/* ---- settings ---- */

bool pgpool_client_startup(proxy_session *s, const wire_startup *st)
{
    for (int i = 0; i < st->nparams; i++) {
        const char *k = st->params[i].name, *v = st->params[i].value;
        if (!k || !v || !strcmp(k, "user") || !strcmp(k, "database"))
            continue;
        wire_buf_put_cstr(&s->startup_params, k);
        wire_buf_put_cstr(&s->startup_params, v);
    }
    return !s->startup_params.oom &&
           proxy_settings_from_startup(&s->startup_settings, st->params, st->nparams) &&
           proxy_settings_copy(&s->settings, &s->startup_settings);
}

static void ops_clear(proxy_session *s)
{
    for (int i = 0; i < s->nops; i++)
        free(s->ops[i].sql);
    s->nops = 0;
}

void pgpool_record_op(proxy_session *s, storage_sess_kind kind, const char *name,
                      const char *sql, size_t len)
{
    if (kind == STORAGE_SESS_ROLLBACK_TO || kind == STORAGE_SESS_RELEASE) {
        /* The SETs since the savepoint are undone (ROLLBACK TO, which keeps
         * the savepoint), or the savepoint goes (RELEASE, the SETs stay). */
        int mark = s->nops - 1;
        while (mark >= 0 && !(s->ops[mark].kind == STORAGE_SESS_SAVEPOINT &&
                              !strcmp(s->ops[mark].name, name)))
            mark--;
        if (mark < 0)
            return;
        int from = kind == STORAGE_SESS_ROLLBACK_TO ? mark + 1 : mark;
        int to = from;
        for (int i = from; i < s->nops; i++) {
            if (kind == STORAGE_SESS_RELEASE && i > mark)
                s->ops[to++] = s->ops[i];
            else
                free(s->ops[i].sql);
        }
        s->nops = to;
        return;
    }
    const char *comma = strchr(name, ',');
    if (comma) { /* several parameters set by one statement: one op each */
        char first[160];
        snprintf(first, sizeof(first), "%.*s", (int)(comma - name), name);
        pgpool_record_op(s, kind, first, sql, len);
        pgpool_record_op(s, kind, comma + 1, sql, len);
        return;
    }
    if (s->nops == s->ops_cap) {
        int cap = s->ops_cap ? s->ops_cap * 2 : 4;
        struct pgpool_op *v = realloc(s->ops, (size_t)cap * sizeof(*v));
        if (!v)
            return;
        s->ops = v;
        s->ops_cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy)
        return;
    memcpy(copy, sql, len);
    copy[len] = '\0';
    struct pgpool_op *op = &s->ops[s->nops++];
    op->epoch = s->upstream ? s->upstream->sent_z : 0;
    op->ran = false;
    op->kind = kind;
    snprintf(op->name, sizeof(op->name), "%s", name);
    op->sql = copy;
}

/* Applies the committed SET/RESET statements to the client's settings (what
 * it should see) and to its server's (what the server now has): a RESET
 * gives the server its own default, the client its startup value; when the
 * two then differ, the difference is sent at once. */
static void ops_commit(proxy_session *s, proxy_upstream *u)
{
    for (int i = 0; i < s->nops; i++) {
        const struct pgpool_op *op = &s->ops[i];
        if (!op->ran)
            continue;
        const char *dflt;
        switch (op->kind) {
        case STORAGE_SESS_SET:
            proxy_settings_set(&s->settings, op->name, op->sql, strlen(op->sql));
            proxy_settings_set(&u->settings, op->name, op->sql, strlen(op->sql));
            break;
        case STORAGE_SESS_RESET:
            dflt = proxy_settings_get(&s->startup_settings, op->name);
            if (dflt)
                proxy_settings_set(&s->settings, op->name, dflt, strlen(dflt));
            else
                proxy_settings_unset(&s->settings, op->name);
            proxy_settings_unset(&u->settings, op->name);
            break;
        case STORAGE_SESS_RESET_ALL:
            proxy_settings_copy(&s->settings, &s->startup_settings);
            proxy_settings_clear(&u->settings);
            break;
        default:
            break;
        }
    }
}

/* Drops the ops that ran (keep_pending: those not run yet stay). */
static void ops_drop_ran(proxy_session *s)
{
    int w = 0;
    for (int i = 0; i < s->nops; i++) {
        if (s->ops[i].ran)
            free(s->ops[i].sql);
        else
            s->ops[w++] = s->ops[i];
    }
    s->nops = w;
}

void pgpool_server_ready_for_query(proxy_upstream *u, char tx)
{
    proxy_session *s = u->client;
    if (!s || s->nops == 0)
        return;
    /* The request this ReadyForQuery ends: its SETs ran unless it failed
     * (a failed simple Query rolls back all of its statements). */
    uint32_t epoch = u->recv_z - 1;
    int w = 0;
    for (int i = 0; i < s->nops; i++) {
        struct pgpool_op *op = &s->ops[i];
        if (!op->ran && op->epoch == epoch) {
            if (u->saw_error) {
                free(op->sql);
                continue;
            }
            op->ran = true;
        }
        s->ops[w++] = *op;
    }
    s->nops = w;
    if (tx != 'I')
        return; /* SETs in a transaction block wait for its end */
    if (!u->saw_rollback) {
        ops_commit(s, u);
        /* (not in the middle of the client's extended-protocol batch: the
         * next link sends it then) */
        if (!u->open && !proxy_settings_equal(&u->settings, &s->settings)) {
            wire_buf sql;
            wire_buf_init(&sql);
            if (proxy_settings_diff(&u->settings, &s->settings, &sql) && sql.len > 0)
                proxy_upstream_inject_query(u, (const char *)sql.data, sql.len);
            wire_buf_free(&sql);
            proxy_settings_copy(&u->settings, &s->settings);
        }
    }
    ops_drop_ran(s); /* committed, or rolled back with their transaction */
}

/* ---- greeting ---- */

static const char *startup_value(const proxy_session *s, const char *name)
{
    const char *p = (const char *)s->startup_params.data;
    const char *end = p + s->startup_params.len;
    while (p && p < end) {
        const char *k = p;
        const char *v = k + strlen(k) + 1;
        if (v >= end)
            break;
        if (!strcasecmp(k, name))
            return v;
        p = v + strlen(v) + 1;
    }
    return NULL;
}

/* AuthenticationOk, the pool's server parameters (the client's own values
 * where it gave one), BackendKeyData (Dormouse's: cancel requests come
 * here), ReadyForQuery. */
static void pgpool_greet(proxy_session *s)
{
    size_t n;
    const uint8_t *p = pool_servers_params(s->ps, &n);
    wire_put_auth_ok(&s->out);
    for (size_t off = 0; off < n;) {
        wire_frame f;
        if (wire_frame_parse(p + off, n - off, UINT32_MAX, &f) != WIRE_FRAME_OK)
            break;
        const char *name = (const char *)f.body;
        const char *mine = f.type == 'S' ? startup_value(s, name) : NULL;
        if (mine)
            wire_put_parameter_status(&s->out, name, mine);
        else
            wire_buf_append(&s->out, p + off, f.total_len);
        off += f.total_len;
    }
    wire_put_backend_key(&s->out, s->id, s->cancel_key);
    s->tx_status = 'I';
    wire_put_ready(&s->out, 'I');
    s->greet_pending = false;
    if (s->state == SESSION_OPENING)
        session_set_state(s, SESSION_IDLE);
    const pool_upstream *where = pool_db_upstream(s->db);
    slog(s, PROXY_LOG_INFO, "login ok (upstream %s:%d)", where->host, where->port);
    if (!session_flush(s))
        session_close(s, "write failed");
}

bool pgpool_client_start(proxy_session *s)
{
    s->ps = pool_servers_get(s->db, s->user);
    if (!s->ps) {
        session_fatal(s, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
        return false;
    }
    size_t n;
    if (pool_servers_params(s->ps, &n)) {
        session_set_state(s, SESSION_OPENING);
        pgpool_greet(s);
        return s->state != SESSION_CLOSING;
    }
    /* No server of this pool has ever logged in: the first one's parameters
     * make the greeting. */
    session_set_state(s, SESSION_OPENING);
    s->greet_pending = true;
    ev_io_stop(s->loop->loop, &s->rio);
    pool_client_wait(s->ps, &s->wait_link);
    pgpool_dispatch(s->server, s->ps, s);
    return false;
}

/* ---- linking ---- */

static void pgpool_link(proxy_session *s, proxy_upstream *u)
{
    slog(s, PROXY_LOG_DEBUG, "linked to S-%u", u->id);
    u->client = s;
    s->unnamed_here = false;
    s->upstream = u;
    if (!proxy_settings_equal(&u->settings, &s->settings)) {
        wire_buf sql;
        wire_buf_init(&sql);
        if (proxy_settings_diff(&u->settings, &s->settings, &sql) && sql.len > 0) {
            proxy_upstream_inject_query(u, (const char *)sql.data, sql.len);
            /* settings never applied yet (its startup options) may fail: its
             * own messages wait, as a login would (PostgreSQL refuses it) */
            u->barrier = !s->settings_proven;
        }
        wire_buf_free(&sql);
        proxy_settings_copy(&u->settings, &s->settings);
    }
    proxy_upstream_client_drained(u); /* read the server (a former client may have stopped it) */
}

static bool pgpool_retired(const proxy_upstream *u)
{
    const pool_db *db = pool_servers_db(u->ps);
    uint64_t lifetime = (uint64_t)u->server->cfg.server_lifetime;
    return u->generation != pool_db_generation(db) || u->server->shutting_down ||
           (lifetime > 0 && ev_now(u->loop->loop) - (double)u->connect_time >= (double)lifetime);
}

/* Starts a new server connection for ps; false when it failed at once. */
static bool pgpool_open(proxy_server *srv, pool_servers *ps)
{
    proxy_upstream *u = proxy_upstream_new(srv, ps);
    if (!u)
        return false;
    if (u->fd < 0) {
        pgpool_server_failed(u);
        return false;
    }
    return true;
}

/* Hands free servers to waiting clients, greets those waiting for a
 * greeting, and opens servers while the pool may.  `caller` is a session
 * that relays by itself once this returns (not woken here). */
static void pgpool_dispatch(proxy_server *srv, pool_servers *ps, proxy_session *caller)
{
    size_t nparams;
    for (;;) {
        pool_link *w = pool_client_first_waiter(ps);
        if (!w)
            break;
        proxy_session *s = container_of(w, proxy_session, wait_link);
        if (s->greet_pending) {
            if (!pool_servers_params(ps, &nparams))
                break;
            pool_client_unwait(ps, w);
            pgpool_greet(s);
            if (s != caller && s->state != SESSION_CLOSING)
                session_wake(s);
            continue;
        }
        pool_link *l = pool_server_take_idle(ps);
        if (!l)
            break;
        proxy_upstream *u = container_of(l, proxy_upstream, link);
        if (pgpool_retired(u)) {
            proxy_upstream_close(u);
            continue;
        }
        pool_client_unwait(ps, w);
        if (s->auth_lookup) { /* the server runs auth_query; nobody is linked */
            s->lookup_u = u;
            u->lookup_for = s;
            proxy_upstream_lookup(u, srv->cfg.auth_query, s->user);
            continue;
        }
        pgpool_link(s, u);
        if (s != caller)
            session_wake(s);
    }
    pool_db *db = pool_servers_db(ps);
    if (pool_db_managed(db) && !pool_db_engine_ready(db) && pool_servers_waiting(ps) > 0)
        managed_want(srv, db); /* its server is down: start it (they wait) */
    while (!srv->shutting_down && pool_servers_may_open(ps) && pgpool_open(srv, ps))
        ;
}

static void pgpool_dispatch_one(pool_servers *ps, void *arg)
{
    pgpool_dispatch(arg, ps, NULL);
}

void pgpool_dispatch_db(proxy_server *srv, pool_db *db)
{
    pool_servers_foreach(db, pgpool_dispatch_one, srv);
}

bool pgpool_acquire(proxy_session *s)
{
    pool_client_wait(s->ps, &s->wait_link);
    session_set_state(s, SESSION_WAITING);
    pgpool_dispatch(s->server, s->ps, s);
    return s->upstream != NULL;
}

/* A server nobody holds any more: idle (after the reset query when a
 * session-mode client left), or closed when it is past its time. */
static void pgpool_release(proxy_upstream *u, bool client_left)
{
    pool_servers *ps = u->ps;
    proxy_server *srv = u->server;
    u->client = NULL;
    if (pgpool_retired(u)) {
        proxy_upstream_close(u);
        pgpool_dispatch(srv, ps, NULL);
        return;
    }
    const char *reset = srv->cfg.server_reset_query;
    if (client_left && pgpool_mode(ps) == POOL_MODE_SESSION && reset[0]) {
        pool_server_move(ps, &u->link, POOL_SV_USED);
        proxy_settings_clear(&u->settings); /* DISCARD ALL: back to its login state */
        proxy_stmt_lru_clear(&u->stmts, &u->loop->stmt_cache);
        proxy_upstream_inject_query(u, reset, strlen(reset));
        return; /* pgpool_server_settled makes it idle */
    }
    pool_server_move(ps, &u->link, POOL_SV_IDLE);
    pgpool_dispatch(srv, ps, NULL);
}

void pgpool_server_settled(proxy_upstream *u)
{
    if (u->client || !u->ps || u->link.state != POOL_SV_USED || u->pending > 0)
        return;
    if (u->tx != 'I') { /* the reset left it in a transaction: not reusable */
        pool_servers *ps = u->ps;
        proxy_upstream_close(u);
        pgpool_dispatch(u->server, ps, NULL);
        return;
    }
    pool_server_move(u->ps, &u->link, POOL_SV_IDLE);
    pgpool_dispatch(u->server, u->ps, NULL);
}

void pgpool_server_replies_done(proxy_upstream *u)
{
    proxy_session *s = u->client;
    if (!s || !u->ps || pgpool_mode(u->ps) == POOL_MODE_SESSION || !proxy_upstream_quiet(u) ||
        !session_state_ready(s->state))
        return;
    s->upstream = NULL;
    slog(s, PROXY_LOG_DEBUG, "released S-%u", u->id);
    pgpool_release(u, false);
    if (s->state != SESSION_CLOSING && s->in.len > 0)
        session_wake(s); /* more requests: they get a server again */
}

/* ---- auth_query ---- */

void pgpool_lookup_start(proxy_session *s, const char *auth_user)
{
    s->lookup_ps = pool_servers_get(s->db, auth_user);
    if (!s->lookup_ps) {
        session_fatal(s, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
        return;
    }
    slog(s, PROXY_LOG_DEBUG, "looking the user up as %s", auth_user);
    s->auth_lookup = true;
    session_set_state(s, SESSION_AUTH);
    ev_io_stop(s->loop->loop, &s->rio);
    pool_client_wait(s->lookup_ps, &s->wait_link);
    pgpool_dispatch(s->server, s->lookup_ps, s);
}

void pgpool_lookup_done(proxy_upstream *u)
{
    proxy_session *s = u->lookup_for;
    char error[sizeof(u->lookup_error)];
    snprintf(error, sizeof(error), "%s", u->lookup_error);
    bool failed = u->lookup_failed;
    char *secret = u->lookup_secret;
    u->lookup_secret = NULL;
    u->lookup_for = NULL;
    s->lookup_u = NULL;
    s->auth_lookup = false;
    pgpool_release(u, false);
    session_auth_looked_up(s, failed ? error : NULL, failed ? NULL : secret);
    if (failed && secret) {
        OPENSSL_cleanse(secret, strlen(secret));
        free(secret);
    }
}

/* A session that leaves during its lookup: out of the queue; its server
 * finishes the query and then goes back idle (USED until settled). */
static void pgpool_lookup_abandon(proxy_session *s)
{
    if (!s->auth_lookup)
        return;
    s->auth_lookup = false;
    pool_client_unwait(s->lookup_ps, &s->wait_link);
    proxy_upstream *u = s->lookup_u;
    s->lookup_u = NULL;
    if (u) {
        u->lookup_for = NULL;
        if (u->ps)
            pool_server_move(u->ps, &u->link, POOL_SV_USED);
    }
}

void pgpool_client_close(proxy_session *s)
{
    pgpool_lookup_abandon(s);
    if (!s->ps)
        return;
    pool_client_unwait(s->ps, &s->wait_link);
    proxy_upstream *u = s->upstream;
    ops_clear(s);
    if (!u)
        return;
    s->upstream = NULL;
    u->client = NULL;
    if (proxy_upstream_quiet(u)) {
        pgpool_release(u, true);
        return;
    }
    /* Mid-transaction or mid-request: the server's state is unknown. */
    pool_servers *ps = u->ps;
    proxy_upstream_close(u);
    if (ps)
        pgpool_dispatch(s->server, ps, NULL);
}

void pgpool_session_free(proxy_session *s)
{
    proxy_stmt_map_clear(&s->stmts, &s->loop->stmt_cache);
    proxy_settings_free(&s->startup_settings);
    proxy_settings_free(&s->settings);
    wire_buf_free(&s->startup_params);
    wire_buf_free(&s->unnamed);
    ops_clear(s);
    free(s->ops);
}

/* A waiting client's request ends with an ERROR without reaching a server:
 * the request's messages are dropped (up to its Sync), ErrorResponse and
 * ReadyForQuery go out, and the session reads on. */
static void pgpool_fail_request(proxy_session *s, const char *sqlstate, const char *message)
{
    pool_client_unwait(s->ps, &s->wait_link);
    wire_error e = {.severity = "ERROR", .sqlstate = sqlstate, .message = message};
    wire_put_error(&s->out, &e);
    s->pg_discard_to_sync = true;
    size_t off = 0;
    bool first = true;
    while (s->pg_discard_to_sync) {
        wire_frame f;
        if (wire_frame_parse(s->in.data + off, s->in.len - off, s->server->cfg.max_packet_size,
                             &f) != WIRE_FRAME_OK)
            break;
        off += f.total_len;
        if (f.type == 'S' || (first && f.type == 'Q'))
            s->pg_discard_to_sync = false;
        first = false;
    }
    wire_buf_consume(&s->in, off);
    if (!s->pg_discard_to_sync)
        wire_put_ready(&s->out, s->tx_status);
    if (s->state == SESSION_WAITING)
        session_set_state(s, session_state_for_tx(s->tx_status));
    slog(s, PROXY_LOG_INFO, "request not served: %s", message);
    if (!session_flush(s)) {
        session_close(s, "write failed");
        return;
    }
    session_wake(s);
}

/* A waiting client gets sqlstate and message: a FATAL when it has not been
 * greeted (or waits for its own login's lookup), else its request fails. */
static void pgpool_fail_waiter(pool_servers *ps, pool_link *w, const char *sqlstate,
                               const char *message)
{
    proxy_session *s = container_of(w, proxy_session, wait_link);
    if (s->greet_pending || s->auth_lookup) {
        pool_client_unwait(ps, w);
        s->auth_lookup = false;
        session_fatal(s, sqlstate, "%s", message);
    } else {
        pgpool_fail_request(s, sqlstate, message);
    }
}

struct fail_waiters {
    const char *sqlstate, *message;
};

static void pgpool_fail_pool(pool_servers *ps, void *arg)
{
    struct fail_waiters *fw = arg;
    pool_link *w = pool_client_first_waiter(ps);
    while (w) {
        pool_link *next = pool_client_next_waiter(ps, w);
        pgpool_fail_waiter(ps, w, fw->sqlstate, fw->message);
        w = next;
    }
}

void pgpool_fail_waiters(proxy_server *srv, pool_db *db, const char *sqlstate, const char *message)
{
    struct fail_waiters fw = {sqlstate, message};
    pool_servers_foreach(db, pgpool_fail_pool, &fw);
}

void pgpool_client_cancel(proxy_session *s)
{
    if (s->upstream) {
        proxy_upstream_cancel(s->upstream);
        return;
    }
    if (s->ps && s->wait_link.state && !s->greet_pending && s->state == SESSION_WAITING)
        pgpool_fail_request(s, WIRE_SQLSTATE_QUERY_CANCELED,
                            "canceling statement due to user request");
}

/* ---- servers' reports ---- */

void pgpool_server_ready(proxy_upstream *u)
{
    pool_servers *ps = u->ps;
    pool_servers_login_ok(ps);
    if (u->params.oom || !pool_servers_set_params(ps, u->params.data, u->params.len)) {
        proxy_upstream_close(u);
        return;
    }
    proxy_log(PROXY_LOG_DEBUG, "S-%u: logged in to %s as %s (pid %u)", u->id, u->where, u->user,
              u->be_pid);
    pool_server_move(ps, &u->link, POOL_SV_IDLE);
    pgpool_dispatch(u->server, ps, NULL);
}

/* Ends a session that cannot go on because its server could not be had. */
static void pgpool_client_lost(proxy_session *s, proxy_upstream *u)
{
    const char *sqlstate, *message;
    const uint8_t *frame;
    size_t frame_len;
    proxy_upstream_error(u, &sqlstate, &message, &frame, &frame_len);
    if (!frame) {
        session_fatal(s, sqlstate, "%s", message);
        return;
    }
    slog(s, PROXY_LOG_WARNING, "upstream %s refused the login: %s %s", u->where, sqlstate,
         message);
    wire_buf_append(&s->out, frame, frame_len);
    session_close(s, message);
}

void pgpool_server_failed(proxy_upstream *u)
{
    proxy_server *srv = u->server;
    pool_servers *ps = u->ps;
    proxy_session *client = u->client;
    proxy_session *lookup = u->lookup_for;
    bool login = u->state != PROXY_UPSTREAM_READY;
    const char *sqlstate, *message;
    const uint8_t *frame;
    size_t frame_len;
    proxy_upstream_error(u, &sqlstate, &message, &frame, &frame_len);
    proxy_log(login ? PROXY_LOG_WARNING : PROXY_LOG_INFO, "S-%u: %s %s", u->id, sqlstate, message);
    proxy_upstream_close(u); /* unlinks the client; u lives until the reaper */
    if (client)
        pgpool_client_lost(client, u);
    if (lookup) {
        u->lookup_for = NULL;
        lookup->lookup_u = NULL;
        lookup->auth_lookup = false;
        pgpool_client_lost(lookup, u);
    }
    if (!ps)
        return;
    if (login) {
        pool_servers_login_failed(ps, message);
        /* Clients that wait to be greeted learn why at once; greeted ones
         * wait for the server to come back (query_wait_timeout), unless it
         * refused who they are. */
        bool refused = frame && (!strncmp(sqlstate, "28", 2) || !strncmp(sqlstate, "3D", 2));
        pool_link *w = pool_client_first_waiter(ps);
        while (w) {
            pool_link *next = pool_client_next_waiter(ps, w);
            proxy_session *s = container_of(w, proxy_session, wait_link);
            if (s->greet_pending || s->auth_lookup || refused) {
                pool_client_unwait(ps, w);
                s->auth_lookup = false;
                pgpool_client_lost(s, u);
            }
            w = next;
        }
        return;
    }
    pgpool_dispatch(srv, ps, NULL);
}

/* ---- housekeeping ---- */

static void pgpool_tick_pool(pool_servers *ps, void *arg)
{
    proxy_server *srv = arg;
    pool_link *w;
    pool_db *db = pool_servers_db(ps);
    uint64_t resume_limit = (uint64_t)srv->cfg.resume_timeout * 1000000u;
    bool resuming = pool_db_get_state(db) == POOL_DB_RESUMING ||
                    (pool_db_managed(db) && !pool_db_engine_ready(db)); /* or restarting */
    while (resuming && (w = pool_client_first_waiter(ps)) &&
           pool_servers_max_wait_us(ps) >= resume_limit) {
        char msg[600];
        const char *why = pool_servers_login_error(ps);
        snprintf(msg, sizeof(msg), "the database system is starting up: database \"%s\" did not "
                 "resume within resume_timeout (%d s)%s%s", pool_db_name(db),
                 srv->cfg.resume_timeout, why[0] ? ": " : "", why);
        pgpool_fail_waiter(ps, w, WIRE_SQLSTATE_CANNOT_CONNECT_NOW, msg);
    }
    while ((w = pool_client_timed_out(ps))) {
        char msg[512];
        const char *why = pool_servers_login_error(ps);
        const char *sqlstate = why[0] ? WIRE_SQLSTATE_CONNECTION_FAILURE : WIRE_SQLSTATE_QUERY_CANCELED;
        if (why[0])
            snprintf(msg, sizeof(msg),
                     "canceling statement due to query_wait_timeout (%d s): the upstream server "
                     "of database \"%s\" cannot be reached: %s",
                     srv->cfg.query_wait_timeout, pool_db_name(pool_servers_db(ps)), why);
        else
            snprintf(msg, sizeof(msg),
                     "canceling statement due to query_wait_timeout: no server connection of "
                     "database \"%s\" came free within %d s",
                     pool_db_name(pool_servers_db(ps)), srv->cfg.query_wait_timeout);
        pgpool_fail_waiter(ps, w, sqlstate, msg);
    }
    pool_link *l;
    while ((l = pool_server_expired(ps))) {
        proxy_upstream *u = container_of(l, proxy_upstream, link);
        u->ps = NULL; /* pool_server_expired took it out */
        proxy_log(PROXY_LOG_DEBUG, "S-%u: closing an idle server connection", u->id);
        proxy_upstream_close(u);
    }
    for (l = pool_servers_first(ps, POOL_SV_IDLE); l;) {
        pool_link *next = pool_servers_next(ps, l);
        proxy_upstream *u = container_of(l, proxy_upstream, link);
        if (u->generation != pool_db_generation(pool_servers_db(ps)))
            proxy_upstream_close(u);
        l = next;
    }
    while (!srv->shutting_down && pool_servers_below_min(ps) && pgpool_open(srv, ps))
        ;
    pgpool_dispatch(srv, ps, NULL);
}

void pgpool_tick(proxy_server *srv)
{
    if (srv->pool)
        pool_all_servers_foreach(srv->pool, pgpool_tick_pool, srv);
}

/* An upstream database pauses: its servers, all idle, are closed (a
 * managed server is stopped once the database is paused). */
void pgpool_pause_db(pool_db *db, void *arg)
{
    proxy_server *srv = arg;
    if (pool_db_servers_total(db) > 0)
        proxy_log(PROXY_LOG_INFO, "database \"%s\" is idle: closing its %d server connection%s",
                  pool_db_name(db), pool_db_servers_total(db),
                  pool_db_servers_total(db) == 1 ? "" : "s");
    pgpool_close_servers(srv, db);
    if (pool_db_managed(db))
        managed_stop(srv, db);
}

void pgpool_close_servers(proxy_server *srv, const pool_db *db)
{
    for (proxy_upstream *u = server_upstreams_first(srv); u; u = server_upstreams_next(srv, u)) {
        if (u->state == PROXY_UPSTREAM_CLOSED || u->client || !u->ps)
            continue;
        if (db && pool_servers_db(u->ps) != db)
            continue;
        proxy_upstream_close(u);
    }
}
