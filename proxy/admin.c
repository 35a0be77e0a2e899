/*
 * The admin console: a virtual database named `dormouse` (or `pgbouncer`, so
 * that PgBouncer's tooling works unchanged) that the proxy answers itself, on
 * the loop thread, with no backend.  Its commands and the columns of every
 * SHOW follow PgBouncer's admin console where the concept is the same:
 *
 *   SHOW HELP|POOLS|CLIENTS|SERVERS|DATABASES|STATS|STATS_TOTALS|
 *        STATS_AVERAGES|TOTALS|CONFIG|LISTS|VERSION|USERS|MEM|STATE
 *   SET key = value     (log_level, max_client_conn, admin_users, stats_users)
 *   PAUSE [db]  RESUME [db]  KILL [db]  RELOAD  SHUTDOWN
 *
 * Who may use it: users named in admin_users (everything) and stats_users
 * (SHOW only), after the normal authentication; anyone else gets FATAL
 * 28000 "not allowed".  Only the simple query protocol is served: an
 * extended-protocol message gets ErrorResponse 0A000, and the messages up to
 * the next Sync are skipped, as PostgreSQL does after an error.
 *
 * PAUSE [db] marks the database (or all) paused and answers once no session
 * of it runs a statement; from then on a client of a paused database that
 * sends a message is held (admin_session_held(): the session neither reads
 * nor submits) until RESUME.  Backends stay open meanwhile: in session
 * pooling a backend belongs to its client for its whole life, so PAUSE
 * holds queries rather than closing backends (PgBouncer's session-mode
 * PAUSE would wait for the clients to leave).  Once its statements have
 * finished, PAUSE db also pauses the database's engine (pool/'s lifecycle):
 * it pauses as soon as nothing holds a backend or server, whatever its
 * idle_timeout; RESUME db lifts that, and starts a stopped managed server
 * at once (other engines resume at their next query, as always).
 *
 * The command grammar is tiny and fixed, so a hand-written tokenizer parses
 * it (libpg_query knows neither PAUSE nor KILL); it is not SQL.
 */
#include "internal.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ADMIN_SQLSTATE_INSUFFICIENT_PRIVILEGE "42501"
#define ADMIN_SQLSTATE_UNDEFINED_OBJECT "42704"
#define ADMIN_SQLSTATE_CANT_CHANGE_RUNTIME_PARAM "55P02"
#define ADMIN_SQLSTATE_CONFIG_FILE_ERROR "F0000"
/* How often a waiting PAUSE checks whether running statements have finished. */
#define ADMIN_PAUSE_POLL 0.02

/* ---- names ---- */

const char *admin_cmd_kind_str(admin_cmd_kind k)
{
    switch (k) {
    case ADMIN_CMD_EMPTY:
        return "empty";
    case ADMIN_CMD_SHOW:
        return "SHOW";
    case ADMIN_CMD_SET:
        return "SET";
    case ADMIN_CMD_PAUSE:
        return "PAUSE";
    case ADMIN_CMD_RESUME:
        return "RESUME";
    case ADMIN_CMD_KILL:
        return "KILL";
    case ADMIN_CMD_RELOAD:
        return "RELOAD";
    case ADMIN_CMD_SHUTDOWN:
        return "SHUTDOWN";
    case ADMIN_CMD_NKINDS:
        break;
    }
    return "unknown";
}

/* SHOW items by their console names; the index is the admin_show value. */
static const char *const admin_show_names[ADMIN_SHOW_NITEMS] = {
    "help",  "pools", "clients", "servers", "databases", "stats", "stats_totals", "stats_averages",
    "totals", "config", "lists", "version", "users",   "mem",   "state", "usage", "bill", "top",
};

const char *admin_show_str(admin_show s)
{
    return s >= 0 && s < ADMIN_SHOW_NITEMS ? admin_show_names[s] : "unknown";
}

const char *admin_role_str(admin_role r)
{
    switch (r) {
    case ADMIN_ROLE_NONE:
        return "none";
    case ADMIN_ROLE_STATS:
        return "stats";
    case ADMIN_ROLE_ADMIN:
        return "admin";
    }
    return "unknown";
}

bool admin_db_is_console(const char *name)
{
    return strcmp(name, "dormouse") == 0 || strcmp(name, "pgbouncer") == 0;
}

bool admin_user_listed(const char *list, const char *user)
{
    size_t ulen = strlen(user);
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        size_t n = (size_t)(end - start);
        if (n > 0 && n == ulen && memcmp(start, user, n) == 0)
            return true;
    }
    return false;
}

admin_role admin_role_for(const proxy_config *cfg, const char *user)
{
    if (admin_user_listed(cfg->admin_users, user))
        return ADMIN_ROLE_ADMIN;
    if (admin_user_listed(cfg->stats_users, user))
        return ADMIN_ROLE_STATS;
    return ADMIN_ROLE_NONE;
}

void admin_peer_split(const char *peer, char *addr, size_t addrlen, int *port)
{
    *port = 0;
    const char *colon = strrchr(peer, ':');
    if (strcmp(peer, "unix") == 0 || !colon) {
        snprintf(addr, addrlen, "%s", peer);
        return;
    }
    const char *start = peer;
    const char *end = colon;
    if (*start == '[' && end > start && end[-1] == ']') {
        start++;
        end--;
    }
    snprintf(addr, addrlen, "%.*s", (int)(end - start), start);
    *port = atoi(colon + 1);
}

/* ---- the command tokenizer ---- */

typedef enum admin_tok_kind {
    TOK_END = 0,
    TOK_WORD,   /* unquoted: letters, digits and _ . - $ */
    TOK_QUOTED, /* "identifier" */
    TOK_STRING, /* 'literal' */
    TOK_EQUALS,
    TOK_SEMI,
    TOK_OTHER,
} admin_tok_kind;

typedef struct admin_tok {
    admin_tok_kind kind;
    char text[256];
    bool too_long;
} admin_tok;

static bool admin_word_char(char c)
{
    return isalnum((unsigned char)c) || c == '_' || c == '.' || c == '-' || c == '$' ||
           (unsigned char)c >= 0x80;
}

/* Reads the token at *p and advances past it. */
static void admin_next(const char **p, admin_tok *t)
{
    const char *s = *p;
    size_t n = 0;
    t->too_long = false;
    t->text[0] = '\0';
    while (isspace((unsigned char)*s))
        s++;
    if (!*s) {
        t->kind = TOK_END;
    } else if (*s == '=') {
        t->kind = TOK_EQUALS;
        s++;
    } else if (*s == ';') {
        t->kind = TOK_SEMI;
        s++;
    } else if (*s == '"' || *s == '\'') {
        char q = *s++;
        t->kind = q == '"' ? TOK_QUOTED : TOK_STRING;
        for (;;) {
            if (!*s) {
                t->kind = TOK_OTHER; /* unterminated */
                break;
            }
            if (*s == q) {
                if (s[1] != q) {
                    s++;
                    break;
                }
                s++; /* a doubled quote stands for one */
            }
            if (n + 1 < sizeof(t->text))
                t->text[n++] = *s;
            else
                t->too_long = true;
            s++;
        }
        t->text[n] = '\0';
    } else if (admin_word_char(*s)) {
        t->kind = TOK_WORD;
        while (admin_word_char(*s)) {
            if (n + 1 < sizeof(t->text))
                t->text[n++] = *s;
            else
                t->too_long = true;
            s++;
        }
        t->text[n] = '\0';
    } else {
        t->kind = TOK_OTHER;
        t->text[0] = *s;
        t->text[1] = '\0';
        s++;
    }
    *p = s;
}

/* After the command: only an optional ';' and blanks may follow. */
static bool admin_expect_end(const char **p, char *err, size_t errlen)
{
    admin_tok t;
    admin_next(p, &t);
    if (t.kind == TOK_SEMI)
        admin_next(p, &t);
    if (t.kind == TOK_END)
        return true;
    snprintf(err, errlen, "syntax error at or near \"%s\"", t.kind == TOK_OTHER ? t.text :
             t.text[0] ? t.text : "=");
    return false;
}

/* An optional database name: a word or a quoted identifier. */
static bool admin_optional_name(const char **p, admin_cmd *cmd, char *err, size_t errlen)
{
    const char *save = *p;
    admin_tok t;
    admin_next(p, &t);
    if (t.kind != TOK_WORD && t.kind != TOK_QUOTED) {
        *p = save;
        return true;
    }
    if (t.too_long || strlen(t.text) >= sizeof(cmd->arg) || !t.text[0]) {
        snprintf(err, errlen, "invalid database name");
        return false;
    }
    memcpy(cmd->arg, t.text, strlen(t.text) + 1);
    return true;
}

bool admin_cmd_parse(const char *sql, admin_cmd *cmd, char *err, size_t errlen)
{
    const char *p = sql;
    admin_tok t;
    memset(cmd, 0, sizeof(*cmd));
    admin_next(&p, &t);
    while (t.kind == TOK_SEMI)
        admin_next(&p, &t);
    if (t.kind == TOK_END) {
        cmd->kind = ADMIN_CMD_EMPTY;
        return true;
    }
    if (t.kind != TOK_WORD) {
        snprintf(err, errlen, "invalid command '%.60s', use SHOW HELP;", sql);
        return false;
    }
    if (!strcasecmp(t.text, "show")) {
        cmd->kind = ADMIN_CMD_SHOW;
        admin_next(&p, &t);
        if (t.kind != TOK_WORD) {
            snprintf(err, errlen, "SHOW needs an item, use SHOW HELP;");
            return false;
        }
        int i;
        for (i = 0; i < ADMIN_SHOW_NITEMS; i++)
            if (!strcasecmp(t.text, admin_show_names[i]))
                break;
        if (i == ADMIN_SHOW_NITEMS) {
            snprintf(err, errlen, "unknown SHOW item '%.60s', use SHOW HELP;", t.text);
            return false;
        }
        cmd->show = (admin_show)i;
        if (cmd->show == ADMIN_SHOW_TOP) { /* SHOW TOP QUERIES */
            admin_next(&p, &t);
            if (t.kind != TOK_WORD || strcasecmp(t.text, "queries") != 0) {
                snprintf(err, errlen, "SHOW TOP needs QUERIES: SHOW TOP QUERIES [db]");
                return false;
            }
        }
        if ((cmd->show == ADMIN_SHOW_USAGE || cmd->show == ADMIN_SHOW_BILL ||
             cmd->show == ADMIN_SHOW_TOP) &&
            !admin_optional_name(&p, cmd, err, errlen))
            return false;
        return admin_expect_end(&p, err, errlen);
    }
    if (!strcasecmp(t.text, "set")) {
        cmd->kind = ADMIN_CMD_SET;
        admin_next(&p, &t);
        if (t.kind != TOK_WORD || t.too_long || strlen(t.text) >= sizeof(cmd->arg)) {
            snprintf(err, errlen, "SET needs a setting name: SET key = value");
            return false;
        }
        for (char *c = t.text; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        memcpy(cmd->arg, t.text, strlen(t.text) + 1);
        admin_next(&p, &t);
        if (t.kind != TOK_EQUALS && !(t.kind == TOK_WORD && !strcasecmp(t.text, "to"))) {
            snprintf(err, errlen, "SET needs '=': SET key = value");
            return false;
        }
        admin_next(&p, &t);
        if ((t.kind != TOK_WORD && t.kind != TOK_STRING && t.kind != TOK_QUOTED) || t.too_long) {
            snprintf(err, errlen, "SET needs a value: SET key = value");
            return false;
        }
        snprintf(cmd->value, sizeof(cmd->value), "%s", t.text);
        return admin_expect_end(&p, err, errlen);
    }
    static const struct {
        const char *word;
        admin_cmd_kind kind;
        bool takes_name;
    } verbs[] = {
        {"pause", ADMIN_CMD_PAUSE, true},   {"resume", ADMIN_CMD_RESUME, true},
        {"kill", ADMIN_CMD_KILL, true},     {"reload", ADMIN_CMD_RELOAD, false},
        {"shutdown", ADMIN_CMD_SHUTDOWN, false},
    };
    for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
        if (strcasecmp(t.text, verbs[i].word) != 0)
            continue;
        cmd->kind = verbs[i].kind;
        if (verbs[i].takes_name && !admin_optional_name(&p, cmd, err, errlen))
            return false;
        if (cmd->kind == ADMIN_CMD_SHUTDOWN) {
            /* PgBouncer's variants; Dormouse's shutdown always lets running
             * statements finish and ends idle clients. */
            const char *save = p;
            admin_next(&p, &t);
            if (!(t.kind == TOK_WORD && (!strcasecmp(t.text, "wait_for_servers") ||
                                         !strcasecmp(t.text, "wait_for_clients"))))
                p = save;
        }
        return admin_expect_end(&p, err, errlen);
    }
    snprintf(err, errlen, "invalid command '%.60s', use SHOW HELP;", sql);
    return false;
}

/* ---- building result sets ---- */

typedef struct admin_col {
    const char *name;
    char type; /* 's' text, 'i' int4, 'q' int8 (PgBouncer's letters) */
} admin_col;

static void admin_put_header(wire_buf *b, const admin_col *cols, int n)
{
    wire_column wc[32];
    if (n > (int)(sizeof(wc) / sizeof(wc[0]))) {
        b->oom = true;
        return;
    }
    for (int i = 0; i < n; i++) {
        memset(&wc[i], 0, sizeof(wc[i]));
        wc[i].name = cols[i].name;
        switch (cols[i].type) {
        case 'i':
            wc[i].type_oid = WIRE_OID_INT4;
            wc[i].type_len = 4;
            break;
        case 'q':
            wc[i].type_oid = WIRE_OID_INT8;
            wc[i].type_len = 8;
            break;
        default:
            wc[i].type_oid = WIRE_OID_TEXT;
            wc[i].type_len = -1;
            break;
        }
        wc[i].type_mod = -1;
    }
    wire_put_row_description(b, wc, n);
}

/* One DataRow in the making. */
typedef struct admin_row {
    wire_buf *b;
    size_t start;
} admin_row;

static void admin_row_begin(admin_row *r, wire_buf *b, int ncols)
{
    r->b = b;
    r->start = wire_data_row_begin(b, (uint16_t)ncols);
}

static void admin_row_text(admin_row *r, const char *v)
{
    wire_data_row_field(r->b, v, v ? (int32_t)strlen(v) : -1);
}

static void admin_row_int(admin_row *r, long long v)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%lld", v);
    wire_data_row_field(r->b, buf, n);
}

static void admin_row_null(admin_row *r)
{
    wire_data_row_field(r->b, NULL, -1);
}

static void admin_row_end(admin_row *r)
{
    wire_msg_end(r->b, r->start);
}

static void admin_time_str(time_t t, char *buf, size_t n)
{
    struct tm tm;
    if (t == 0 || !gmtime_r(&t, &tm)) {
        buf[0] = '\0';
        return;
    }
    strftime(buf, n, "%Y-%m-%d %H:%M:%S UTC", &tm);
}

static bool admin_session_logged_in(const proxy_session *s)
{
    return s->state >= SESSION_OPENING && s->state != SESSION_CLOSING;
}

/* Is the client waiting for a backend (opening it, or held by PAUSE)? Since
 * when (monotonic us)? */
static bool admin_session_waiting(const proxy_session *s, uint64_t *since)
{
    if (s->state == SESSION_OPENING || s->state == SESSION_WAITING) {
        *since = s->wait_start_us;
        return true;
    }
    if (s->held_since_us) {
        *since = s->held_since_us;
        return true;
    }
    return false;
}

static bool admin_session_runs(const proxy_session *s)
{
    /* an upstream client holding a server in a transaction counts: PAUSE
     * waits for the transaction's end, as PgBouncer's does */
    return s->state == SESSION_BUSY || s->state == SESSION_COPY_IN ||
           s->state == SESSION_COPY_OUT || s->state == SESSION_OPENING ||
           s->state == SESSION_WAITING ||
           (s->upstream && (s->state == SESSION_IN_TX || s->state == SESSION_FAILED_TX));
}

static int admin_session_cmp(const void *a, const void *b)
{
    const proxy_session *x = *(const proxy_session *const *)a;
    const proxy_session *y = *(const proxy_session *const *)b;
    int c = strcmp(x->database, y->database);
    if (c == 0)
        c = strcmp(x->user, y->user);
    if (c == 0)
        c = x->id < y->id ? -1 : x->id > y->id;
    return c;
}

/* The logged-in sessions sorted by (database, user, id); malloc'd. */
static proxy_session **admin_sessions_sorted(proxy_server *srv, int *n)
{
    int cap = 0;
    *n = 0;
    for (proxy_session *s = server_sessions_first(srv); s; s = server_sessions_next(srv, s))
        cap++;
    proxy_session **v = malloc((size_t)(cap ? cap : 1) * sizeof(*v));
    if (!v)
        return NULL;
    for (proxy_session *s = server_sessions_first(srv); s; s = server_sessions_next(srv, s))
        if (admin_session_logged_in(s))
            v[(*n)++] = s;
    qsort(v, (size_t)*n, sizeof(*v), admin_session_cmp);
    return v;
}

static void admin_put_show_complete(wire_buf *b)
{
    wire_put_command_complete(b, "SHOW");
}

/* The upstream pools for SHOW POOLS: one row per (database, user) pool,
 * its clients counted from the sessions. */
typedef struct admin_upstream_pools {
    proxy_server *srv;
    wire_buf *b;
    int ncols;
    proxy_session **v; /* the sessions, sorted */
    int n;
    pool_servers **pools;
    int npools, cap;
    bool oom;
} admin_upstream_pools;

/* Appends x to a growing array of pointers; false when out of memory. */
static bool admin_ptr_push(void *vp, int *n, int *cap, const void *x)
{
    const void ***v = vp;
    if (*n == *cap) {
        int ncap = *cap ? *cap * 2 : 16;
        const void **nv = realloc(*v, (size_t)ncap * sizeof(*nv));
        if (!nv)
            return false;
        *v = nv;
        *cap = ncap;
    }
    (*v)[(*n)++] = x;
    return true;
}

static void admin_pool_collect(pool_servers *ps, void *arg)
{
    admin_upstream_pools *u = arg;
    if (!admin_ptr_push(&u->pools, &u->npools, &u->cap, ps))
        u->oom = true;
}

static int admin_pool_cmp(const void *a, const void *b)
{
    const pool_servers *x = *(pool_servers *const *)a, *y = *(pool_servers *const *)b;
    int c = strcmp(pool_db_name(pool_servers_db(x)), pool_db_name(pool_servers_db(y)));
    return c ? c : strcmp(pool_servers_user(x), pool_servers_user(y));
}

static bool admin_pool_before(const pool_servers *ps, const proxy_session *s)
{
    int c = strcmp(pool_db_name(pool_servers_db(ps)), s->database);
    return c < 0 || (c == 0 && strcmp(pool_servers_user(ps), s->user) < 0);
}

static void admin_pool_row(admin_upstream_pools *u, pool_servers *ps)
{
    int cl_active = 0, cl_waiting = 0;
    for (int i = 0; i < u->n; i++) {
        if (u->v[i]->ps != ps)
            continue;
        if (u->v[i]->wait_link.state)
            cl_waiting++;
        else
            cl_active++;
    }
    pool_settings st;
    pool_servers_settings(ps, &st);
    uint64_t maxwait = pool_servers_max_wait_us(ps);
    admin_row r;
    admin_row_begin(&r, u->b, u->ncols);
    admin_row_text(&r, pool_db_name(pool_servers_db(ps)));
    admin_row_text(&r, pool_servers_user(ps));
    admin_row_int(&r, cl_active);
    admin_row_int(&r, cl_waiting);
    admin_row_int(&r, 0);
    admin_row_int(&r, 0);
    admin_row_int(&r, pool_servers_count(ps, POOL_SV_ACTIVE));
    admin_row_int(&r, 0);
    admin_row_int(&r, 0);
    admin_row_int(&r, pool_servers_count(ps, POOL_SV_IDLE));
    admin_row_int(&r, pool_servers_count(ps, POOL_SV_USED));
    admin_row_int(&r, 0);
    admin_row_int(&r, pool_servers_count(ps, POOL_SV_LOGIN));
    admin_row_int(&r, (long long)(maxwait / 1000000u));
    admin_row_int(&r, (long long)(maxwait % 1000000u));
    admin_row_text(&r, pool_mode_str(st.mode));
    admin_row_end(&r);
}

static void admin_show_pools(proxy_server *srv, wire_buf *b)
{
    static const admin_col cols[] = {
        {"database", 's'},          {"user", 's'},           {"cl_active", 'i'},
        {"cl_waiting", 'i'},        {"cl_active_cancel_req", 'i'},
        {"cl_waiting_cancel_req", 'i'}, {"sv_active", 'i'},  {"sv_active_cancel", 'i'},
        {"sv_being_canceled", 'i'}, {"sv_idle", 'i'},        {"sv_used", 'i'},
        {"sv_tested", 'i'},         {"sv_login", 'i'},       {"maxwait", 'i'},
        {"maxwait_us", 'i'},        {"pool_mode", 's'},
    };
    const int ncols = (int)(sizeof(cols) / sizeof(cols[0]));
    admin_put_header(b, cols, ncols);
    int n;
    proxy_session **v = admin_sessions_sorted(srv, &n);
    if (!v) {
        b->oom = true;
        return;
    }
    uint64_t now = proxy_stats_now_us();
    admin_upstream_pools ups = {.srv = srv, .b = b, .ncols = ncols, .v = v, .n = n};
    if (srv->pool)
        pool_all_servers_foreach(srv->pool, admin_pool_collect, &ups);
    if (ups.oom) {
        free(ups.pools);
        free(v);
        b->oom = true;
        return;
    }
    if (ups.npools > 1)
        qsort(ups.pools, (size_t)ups.npools, sizeof(*ups.pools), admin_pool_cmp);
    int next_pool = 0;
    for (int i = 0; i < n;) {
        if (v[i]->ps) { /* upstream pools are their own rows */
            i++;
            continue;
        }
        /* upstream pools sorting before this group */
        while (next_pool < ups.npools && admin_pool_before(ups.pools[next_pool], v[i]))
            admin_pool_row(&ups, ups.pools[next_pool++]);
        int j = i;
        int cl_active = 0, cl_waiting = 0, sv_active = 0, sv_login = 0;
        uint64_t maxwait = 0;
        for (; j < n && !strcmp(v[j]->database, v[i]->database) &&
               !strcmp(v[j]->user, v[i]->user);
             j++) {
            const proxy_session *s = v[j];
            if (s->ps)
                continue;
            uint64_t since;
            if (admin_session_waiting(s, &since)) {
                cl_waiting++;
                if (now > since && now - since > maxwait)
                    maxwait = now - since;
            } else {
                cl_active++;
            }
            if (s->state == SESSION_OPENING)
                sv_login++;
            else if (s->backend)
                sv_active++;
        }
        admin_row r;
        admin_row_begin(&r, b, ncols);
        admin_row_text(&r, v[i]->database);
        admin_row_text(&r, v[i]->user);
        admin_row_int(&r, cl_active);
        admin_row_int(&r, cl_waiting);
        admin_row_int(&r, 0); /* cancel requests are answered at once */
        admin_row_int(&r, 0);
        admin_row_int(&r, sv_active);
        admin_row_int(&r, 0);
        admin_row_int(&r, 0);
        /* Idle backends belong to a database, not a user: they are counted
         * on the database's first row. */
        const pool_db *db = NULL;
        for (int k = i; k < j && !db; k++)
            db = v[k]->db;
        bool first = i == 0 || strcmp(v[i - 1]->database, v[i]->database) != 0;
        admin_row_int(&r, first && db ? pool_db_idle_backends(db) : 0);
        admin_row_int(&r, 0);
        admin_row_int(&r, 0);
        admin_row_int(&r, sv_login);
        admin_row_int(&r, (long long)(maxwait / 1000000u));
        admin_row_int(&r, (long long)(maxwait % 1000000u));
        admin_row_text(&r, v[i]->admin ? "statement" : "session");
        admin_row_end(&r);
        i = j;
    }
    while (next_pool < ups.npools)
        admin_pool_row(&ups, ups.pools[next_pool++]);
    free(ups.pools);
    free(v);
    admin_put_show_complete(b);
}

/* SHOW CLIENTS and SHOW SERVERS share PgBouncer's socket columns. */
static const admin_col admin_socket_cols[] = {
    {"type", 's'},        {"user", 's'},         {"database", 's'},     {"replication", 's'},
    {"state", 's'},       {"addr", 's'},         {"port", 'i'},         {"local_addr", 's'},
    {"local_port", 'i'},  {"connect_time", 's'}, {"request_time", 's'}, {"wait", 'i'},
    {"wait_us", 'i'},     {"close_needed", 'i'}, {"ptr", 's'},          {"link", 's'},
    {"remote_pid", 'i'},  {"tls", 's'},          {"application_name", 's'},
    {"prepared_statements", 'i'}, {"id", 'q'},
};
#define ADMIN_SOCKET_NCOLS ((int)(sizeof(admin_socket_cols) / sizeof(admin_socket_cols[0])))

static void admin_show_clients(proxy_server *srv, wire_buf *b)
{
    admin_put_header(b, admin_socket_cols, ADMIN_SOCKET_NCOLS);
    int n;
    proxy_session **v = admin_sessions_sorted(srv, &n);
    if (!v) {
        b->oom = true;
        return;
    }
    uint64_t now = proxy_stats_now_us();
    for (int i = 0; i < n; i++) {
        const proxy_session *s = v[i];
        char addr[80], laddr[INET6_ADDRSTRLEN] = "", ct[40], rt[40], ptr[32], link[32];
        int port, lport = 0;
        admin_peer_split(s->peer, addr, sizeof(addr), &port);
        struct sockaddr_storage ss;
        socklen_t sl = sizeof(ss);
        if (s->fd >= 0 && getsockname(s->fd, (struct sockaddr *)&ss, &sl) == 0) {
            if (ss.ss_family == AF_INET) {
                const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
                inet_ntop(AF_INET, &in->sin_addr, laddr, sizeof(laddr));
                lport = ntohs(in->sin_port);
            } else if (ss.ss_family == AF_INET6) {
                const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&ss;
                inet_ntop(AF_INET6, &in6->sin6_addr, laddr, sizeof(laddr));
                lport = ntohs(in6->sin6_port);
            } else {
                snprintf(laddr, sizeof(laddr), "unix");
            }
        }
        admin_time_str(s->connect_time, ct, sizeof(ct));
        admin_time_str(s->request_time ? s->request_time : s->connect_time, rt, sizeof(rt));
        uint64_t since = 0, wait = 0;
        bool waiting = admin_session_waiting(s, &since);
        if (waiting && now > since)
            wait = now - since;
        snprintf(ptr, sizeof(ptr), "%p", (const void *)s);
        if (s->backend)
            snprintf(link, sizeof(link), "%p", (const void *)s->backend);
        else if (s->upstream)
            snprintf(link, sizeof(link), "%p", (const void *)s->upstream);
        else
            link[0] = '\0';
        admin_row r;
        admin_row_begin(&r, b, ADMIN_SOCKET_NCOLS);
        admin_row_text(&r, "C");
        admin_row_text(&r, s->user);
        admin_row_text(&r, s->database);
        admin_row_text(&r, "none");
        admin_row_text(&r, waiting ? "waiting" : "active");
        admin_row_text(&r, addr);
        admin_row_int(&r, port);
        admin_row_text(&r, laddr);
        admin_row_int(&r, lport);
        admin_row_text(&r, ct);
        admin_row_text(&r, rt);
        admin_row_int(&r, (long long)(wait / 1000000u));
        admin_row_int(&r, (long long)(wait % 1000000u));
        admin_row_int(&r, 0);
        admin_row_text(&r, ptr);
        admin_row_text(&r, link);
        admin_row_int(&r, 0);
        char tls[96] = ""; /* PgBouncer's form: version/cipher */
        if (s->tls && !s->tls_handshaking)
            snprintf(tls, sizeof(tls), "%s/%s", proxy_tls_version(s->tls),
                     proxy_tls_cipher(s->tls));
        admin_row_text(&r, tls);
        admin_row_text(&r, s->application_name);
        admin_row_int(&r, 0);
        admin_row_int(&r, s->id);
        admin_row_end(&r);
    }
    free(v);
    admin_put_show_complete(b);
}

/* Splits a socket address into text and port ("unix" for a Unix socket). */
static void admin_sockaddr(const struct sockaddr_storage *ss, char *addr, size_t len, int *port)
{
    *port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, addr, (socklen_t)len);
        *port = ntohs(in->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, addr, (socklen_t)len);
        *port = ntohs(in6->sin6_port);
    } else {
        snprintf(addr, len, "unix");
    }
}

/* An upstream server connection in SHOW SERVERS, with PgBouncer's states. */
static void admin_upstream_row(const proxy_upstream *u, wire_buf *b)
{
    static const char *const states[] = {"new", "idle", "active", "used"};
    char addr[INET6_ADDRSTRLEN + 8] = "", laddr[INET6_ADDRSTRLEN + 8] = "", ct[40], rt[40];
    char ptr[32], link[32] = "";
    int port, lport = 0;
    admin_sockaddr(&u->addr, addr, sizeof(addr), &port);
    struct sockaddr_storage ls;
    socklen_t sl = sizeof(ls);
    if (u->fd >= 0 && getsockname(u->fd, (struct sockaddr *)&ls, &sl) == 0)
        admin_sockaddr(&ls, laddr, sizeof(laddr), &lport);
    admin_time_str(u->connect_time, ct, sizeof(ct));
    admin_time_str(u->request_time, rt, sizeof(rt));
    snprintf(ptr, sizeof(ptr), "%p", (const void *)u);
    if (u->client)
        snprintf(link, sizeof(link), "%p", (const void *)u->client);
    int st = u->link.state;
    admin_row r;
    admin_row_begin(&r, b, ADMIN_SOCKET_NCOLS);
    admin_row_text(&r, "S");
    admin_row_text(&r, u->user);
    admin_row_text(&r, pool_db_name(pool_servers_db(u->ps)));
    admin_row_text(&r, "none");
    admin_row_text(&r, st >= 0 && st < POOL_SV_NSTATES ? states[st] : "unknown");
    admin_row_text(&r, addr);
    admin_row_int(&r, port);
    admin_row_text(&r, laddr);
    admin_row_int(&r, lport);
    admin_row_text(&r, ct);
    admin_row_text(&r, rt);
    admin_row_int(&r, 0);
    admin_row_int(&r, 0);
    admin_row_int(&r, 0);
    admin_row_text(&r, ptr);
    admin_row_text(&r, link);
    admin_row_int(&r, (long long)u->be_pid);
    admin_row_text(&r, "");
    admin_row_text(&r, u->client ? u->client->application_name : "");
    admin_row_int(&r, u->stmts.n);
    admin_row_int(&r, u->id);
    admin_row_end(&r);
}

/* A backend per session (session pooling): each is a "server" here. The
 * SQLite engine has no address or process, so those columns are empty. */
static void admin_show_servers(proxy_server *srv, wire_buf *b)
{
    admin_put_header(b, admin_socket_cols, ADMIN_SOCKET_NCOLS);
    int n;
    proxy_session **v = admin_sessions_sorted(srv, &n);
    if (!v) {
        b->oom = true;
        return;
    }
    for (int i = 0; i < n; i++) {
        const proxy_session *s = v[i];
        if (s->admin || !s->backend)
            continue;
        char ct[40], rt[40], ptr[32], link[32];
        admin_time_str(s->connect_time, ct, sizeof(ct));
        admin_time_str(s->request_time ? s->request_time : s->connect_time, rt, sizeof(rt));
        snprintf(ptr, sizeof(ptr), "%p", (const void *)s->backend);
        snprintf(link, sizeof(link), "%p", (const void *)s);
        admin_row r;
        admin_row_begin(&r, b, ADMIN_SOCKET_NCOLS);
        admin_row_text(&r, "S");
        admin_row_text(&r, s->user);
        admin_row_text(&r, s->database);
        admin_row_text(&r, "none");
        admin_row_text(&r, s->state == SESSION_OPENING ? "new" : "active");
        admin_row_null(&r);
        admin_row_null(&r);
        admin_row_null(&r);
        admin_row_null(&r);
        admin_row_text(&r, ct);
        admin_row_text(&r, rt);
        admin_row_int(&r, 0);
        admin_row_int(&r, 0);
        admin_row_int(&r, 0);
        admin_row_text(&r, ptr);
        admin_row_text(&r, link);
        admin_row_int(&r, 0);
        admin_row_text(&r, "");
        admin_row_text(&r, s->application_name);
        admin_row_int(&r, 0);
        admin_row_int(&r, s->id);
        admin_row_end(&r);
    }
    free(v);
    for (proxy_upstream *u = server_upstreams_first(srv); u; u = server_upstreams_next(srv, u)) {
        if (u->state == PROXY_UPSTREAM_CLOSED || !u->ps)
            continue;
        admin_upstream_row(u, b);
    }
    admin_put_show_complete(b);
}

static bool admin_db_paused(const proxy_server *srv, const char *name)
{
    if (srv->pause_all)
        return true;
    for (int i = 0; i < srv->npaused; i++)
        if (!strcmp(srv->paused[i], name))
            return true;
    return false;
}

typedef struct admin_db_list {
    const pool_db **v;
    int n, cap;
    bool oom;
} admin_db_list;

static void admin_db_collect(const pool_db *db, void *arg)
{
    admin_db_list *l = arg;
    if (!admin_ptr_push(&l->v, &l->n, &l->cap, db))
        l->oom = true;
}

static int admin_db_cmp(const void *a, const void *b)
{
    return strcmp(pool_db_name(*(const pool_db *const *)a), pool_db_name(*(const pool_db *const *)b));
}

/* A duration in microseconds as milliseconds with three decimals; NULL for 0. */
static void admin_row_ms(admin_row *r, uint64_t us)
{
    if (!us) {
        admin_row_null(r);
        return;
    }
    char v[32];
    snprintf(v, sizeof(v), "%llu.%03llu", (unsigned long long)(us / 1000),
             (unsigned long long)(us % 1000));
    admin_row_text(r, v);
}

/* SHOW DATABASES' lifecycle columns: state .. last_resume. */
static void admin_lifecycle_cells(admin_row *r, const pool_db *db)
{
    pool_db_lifecycle lc;
    pool_db_lifecycle_get(db, &lc);
    admin_row_text(r, pool_db_state_str(lc.state));
    admin_row_int(r, lc.idle_timeout);
    admin_row_int(r, (long long)lc.cold_starts);
    admin_row_ms(r, lc.last_resume_us);
    admin_row_ms(r, lc.resume_p50_us);
    admin_row_ms(r, lc.resume_p99_us);
    admin_row_int(r, (long long)(lc.paused_for_us / 1000000u));
    admin_row_int(r, (long long)(lc.up_us / 1000000u));
    /* when it last paused and resumed, on the wall clock */
    uint64_t ago[2] = {lc.since_pause_us, lc.since_resume_us};
    for (int i = 0; i < 2; i++) {
        char when[40];
        admin_time_str(ago[i] ? time(NULL) - (time_t)(ago[i] / 1000000u) : 0, when, sizeof(when));
        if (when[0])
            admin_row_text(r, when);
        else
            admin_row_null(r);
    }
}

static void admin_show_databases(proxy_server *srv, wire_buf *b)
{
    static const admin_col cols[] = {
        {"name", 's'},          {"host", 's'},          {"port", 'i'},
        {"database", 's'},      {"force_user", 's'},    {"pool_size", 'i'},
        {"min_pool_size", 'i'}, {"reserve_pool", 'i'},  {"server_lifetime", 'i'},
        {"pool_mode", 's'},     {"max_connections", 'i'}, {"current_connections", 'i'},
        {"paused", 'i'},        {"disabled", 'i'},      {"engine", 's'},
        {"state", 's'},         {"idle_timeout", 'i'},  {"cold_starts", 'i'},
        {"last_resume_ms", 's'}, {"resume_p50_ms", 's'}, {"resume_p99_ms", 's'},
        {"paused_seconds", 'i'}, {"active_seconds", 'i'}, {"last_pause", 's'},
        {"last_resume", 's'},
    };
    const int ncols = (int)(sizeof(cols) / sizeof(cols[0]));
    admin_put_header(b, cols, ncols);
    admin_db_list l = {0};
    if (srv->pool)
        pool_db_foreach(srv->pool, admin_db_collect, &l);
    if (l.oom) {
        free(l.v);
        b->oom = true;
        return;
    }
    if (l.n > 1)
        qsort(l.v, (size_t)l.n, sizeof(*l.v), admin_db_cmp);
    static const char *const consoles[] = {"dormouse", "pgbouncer"};
    for (int i = 0; i < 2; i++) {
        admin_row r;
        admin_row_begin(&r, b, ncols);
        admin_row_text(&r, consoles[i]);
        admin_row_null(&r);
        admin_row_int(&r, srv->cfg.listen_port);
        admin_row_text(&r, consoles[i]);
        admin_row_null(&r);
        for (int k = 0; k < 4; k++)
            admin_row_int(&r, 0);
        admin_row_text(&r, "statement");
        admin_row_int(&r, 0);
        admin_row_int(&r, 0);
        admin_row_int(&r, 0);
        admin_row_int(&r, 0);
        admin_row_text(&r, "console");
        admin_row_text(&r, "active");
        admin_row_int(&r, 0);
        admin_row_int(&r, 0);
        for (int k = 0; k < 3; k++)
            admin_row_null(&r);
        admin_row_int(&r, 0);
        admin_row_int(&r, (long long)(time(NULL) - srv->start_time));
        admin_row_null(&r);
        admin_row_null(&r);
        admin_row_end(&r);
    }
    for (int i = 0; i < l.n; i++) {
        const pool_db *db = l.v[i];
        admin_row r;
        if (pool_db_upstream(db)) {
            const pool_upstream *w = pool_db_upstream(db);
            pool_settings st;
            pool_db_settings(db, &st);
            admin_row_begin(&r, b, ncols);
            admin_row_text(&r, pool_db_name(db));
            admin_row_text(&r, w->host);
            admin_row_int(&r, w->port);
            admin_row_text(&r, w->dbname[0] ? w->dbname : pool_db_name(db));
            if (w->user[0])
                admin_row_text(&r, w->user);
            else
                admin_row_null(&r);
            admin_row_int(&r, st.pool_size);
            admin_row_int(&r, st.min_pool_size);
            admin_row_int(&r, st.reserve_pool);
            admin_row_int(&r, srv->cfg.server_lifetime);
            admin_row_text(&r, pool_mode_str(st.mode));
            admin_row_int(&r, st.max_db_connections);
            admin_row_int(&r, pool_db_servers_total(db));
            admin_row_int(&r, admin_db_paused(srv, pool_db_name(db)));
            admin_row_int(&r, 0);
            admin_row_text(&r, storage_kind_str(pool_db_engine(db)));
            admin_lifecycle_cells(&r, db);
            admin_row_end(&r);
            continue;
        }
        admin_row_begin(&r, b, ncols);
        admin_row_text(&r, pool_db_name(db));
        admin_row_null(&r);
        admin_row_null(&r);
        admin_row_text(&r, pool_db_name(db));
        admin_row_null(&r);
        /* pool_size: idle SQLite connections kept for reuse; no minimum or reserve */
        admin_row_int(&r, srv->cfg.sqlite_pool_size);
        admin_row_int(&r, 0);
        admin_row_int(&r, 0);
        admin_row_int(&r, srv->cfg.server_lifetime);
        admin_row_text(&r, "session");
        admin_row_int(&r, 0);
        admin_row_int(&r, pool_db_backends(db) + pool_db_idle_backends(db) +
                              pool_db_closing_backends(db));
        admin_row_int(&r, admin_db_paused(srv, pool_db_name(db)));
        admin_row_int(&r, 0);
        admin_row_text(&r, storage_kind_str(pool_db_engine(db)));
        admin_lifecycle_cells(&r, db);
        admin_row_end(&r);
    }
    free(l.v);
    admin_put_show_complete(b);
}

/* SHOW STATS, STATS_TOTALS, STATS_AVERAGES: one row per database. */
static void admin_show_stats(proxy_server *srv, admin_show what, wire_buf *b)
{
    static const admin_col stats_cols[] = {
        {"database", 's'},          {"total_xact_count", 'q'}, {"total_query_count", 'q'},
        {"total_received", 'q'},    {"total_sent", 'q'},       {"total_xact_time", 'q'},
        {"total_query_time", 'q'},  {"total_wait_time", 'q'},  {"avg_xact_count", 'q'},
        {"avg_query_count", 'q'},   {"avg_recv", 'q'},         {"avg_sent", 'q'},
        {"avg_xact_time", 'q'},     {"avg_query_time", 'q'},   {"avg_wait_time", 'q'},
        /* the lifecycle (scale to zero), times in microseconds as above */
        {"total_cold_starts", 'q'}, {"total_active_time", 'q'}, {"resume_p50", 'q'},
        {"resume_p99", 'q'},
    };
    static const admin_col part_cols[] = {
        {"database", 's'},   {"xact_count", 'q'}, {"query_count", 'q'}, {"bytes_received", 'q'},
        {"bytes_sent", 'q'}, {"xact_time", 'q'},  {"query_time", 'q'},  {"wait_time", 'q'},
    };
    const admin_col *cols = what == ADMIN_SHOW_STATS ? stats_cols : part_cols;
    int ncols = what == ADMIN_SHOW_STATS ? (int)(sizeof(stats_cols) / sizeof(stats_cols[0]))
                                         : (int)(sizeof(part_cols) / sizeof(part_cols[0]));
    admin_put_header(b, cols, ncols);
    int n;
    proxy_stats_db **v = proxy_stats_db_sorted(srv->stats, &n);
    for (int i = 0; i < n; i++) {
        proxy_stats_counters avg;
        proxy_stats_averages(srv->stats, v[i], &avg);
        const proxy_stats_counters *t = &v[i]->total;
        admin_row r;
        admin_row_begin(&r, b, ncols);
        admin_row_text(&r, v[i]->name);
        if (what != ADMIN_SHOW_STATS_AVERAGES) {
            admin_row_int(&r, (long long)t->xact_count);
            admin_row_int(&r, (long long)t->query_count);
            admin_row_int(&r, (long long)t->received);
            admin_row_int(&r, (long long)t->sent);
            admin_row_int(&r, (long long)t->xact_time_us);
            admin_row_int(&r, (long long)t->query_time_us);
            admin_row_int(&r, (long long)t->wait_time_us);
        }
        if (what != ADMIN_SHOW_STATS_TOTALS) {
            admin_row_int(&r, (long long)avg.xact_count);
            admin_row_int(&r, (long long)avg.query_count);
            admin_row_int(&r, (long long)avg.received);
            admin_row_int(&r, (long long)avg.sent);
            admin_row_int(&r, (long long)avg.xact_time_us);
            admin_row_int(&r, (long long)avg.query_time_us);
            admin_row_int(&r, (long long)avg.wait_time_us);
        }
        if (what == ADMIN_SHOW_STATS) {
            pool_db *db = srv->pool ? pool_db_find(srv->pool, v[i]->name) : NULL;
            pool_db_lifecycle lc;
            memset(&lc, 0, sizeof(lc));
            if (db)
                pool_db_lifecycle_get(db, &lc);
            admin_row_int(&r, (long long)lc.cold_starts);
            admin_row_int(&r, (long long)lc.up_us);
            admin_row_int(&r, (long long)lc.resume_p50_us);
            admin_row_int(&r, (long long)lc.resume_p99_us);
        }
        admin_row_end(&r);
    }
    free(v);
    admin_put_show_complete(b);
}

static void admin_put_name_value(wire_buf *b, const char *name, long long value)
{
    admin_row r;
    admin_row_begin(&r, b, 2);
    admin_row_text(&r, name);
    admin_row_int(&r, value);
    admin_row_end(&r);
}

/* SHOW TOTALS: SHOW STATS summed over every database, as name/value rows. */
static void admin_show_totals(proxy_server *srv, wire_buf *b)
{
    static const admin_col cols[] = {{"name", 's'}, {"value", 'q'}};
    admin_put_header(b, cols, 2);
    proxy_stats_counters t = {0}, a = {0};
    int n;
    proxy_stats_db **v = proxy_stats_db_sorted(srv->stats, &n);
    for (int i = 0; i < n; i++) {
        proxy_stats_counters avg;
        proxy_stats_averages(srv->stats, v[i], &avg);
        t.xact_count += v[i]->total.xact_count;
        t.query_count += v[i]->total.query_count;
        t.received += v[i]->total.received;
        t.sent += v[i]->total.sent;
        t.xact_time_us += v[i]->total.xact_time_us;
        t.query_time_us += v[i]->total.query_time_us;
        t.wait_time_us += v[i]->total.wait_time_us;
        a.xact_count += avg.xact_count;
        a.query_count += avg.query_count;
        a.received += avg.received;
        a.sent += avg.sent;
    }
    free(v);
    admin_put_name_value(b, "total_xact_count", (long long)t.xact_count);
    admin_put_name_value(b, "total_query_count", (long long)t.query_count);
    admin_put_name_value(b, "total_received", (long long)t.received);
    admin_put_name_value(b, "total_sent", (long long)t.sent);
    admin_put_name_value(b, "total_xact_time", (long long)t.xact_time_us);
    admin_put_name_value(b, "total_query_time", (long long)t.query_time_us);
    admin_put_name_value(b, "total_wait_time", (long long)t.wait_time_us);
    admin_put_name_value(b, "avg_xact_count", (long long)a.xact_count);
    admin_put_name_value(b, "avg_query_count", (long long)a.query_count);
    admin_put_name_value(b, "avg_recv", (long long)a.received);
    admin_put_name_value(b, "avg_sent", (long long)a.sent);
    admin_put_show_complete(b);
}

/* Every [dormouse] key, sorted, where its value lives in proxy_config, and
 * whether it takes effect on RELOAD or SET (changeable). */
typedef enum admin_cfg_kind {
    ADMIN_CFG_STR,      /* a char array */
    ADMIN_CFG_INT,      /* an int */
    ADMIN_CFG_U32,      /* a uint32_t */
    ADMIN_CFG_AUTH,     /* proxy_auth_type */
    ADMIN_CFG_LOG,      /* proxy_log_level */
    ADMIN_CFG_MODE,     /* pool_mode */
    ADMIN_CFG_SYNC,     /* bool: full or normal */
    ADMIN_CFG_TLS,      /* proxy_tls_mode */
} admin_cfg_kind;

#define ADMIN_CFG(key, kind, field, changeable)                                                    \
    { key, kind, offsetof(proxy_config, field), changeable }
static const struct {
    const char *key;
    admin_cfg_kind kind;
    size_t offset;
    bool changeable;
} admin_config_keys[] = {
    ADMIN_CFG("admin_users", ADMIN_CFG_STR, admin_users, true),
    ADMIN_CFG("auth_file", ADMIN_CFG_STR, auth_file, true),
    ADMIN_CFG("auth_hba_file", ADMIN_CFG_STR, auth_hba_file, true),
    ADMIN_CFG("auth_query", ADMIN_CFG_STR, auth_query, true),
    ADMIN_CFG("auth_type", ADMIN_CFG_AUTH, auth_type, true),
    ADMIN_CFG("auth_user", ADMIN_CFG_STR, auth_user, true),
    ADMIN_CFG("client_login_timeout", ADMIN_CFG_INT, client_login_timeout, true),
    ADMIN_CFG("client_tls_ca_file", ADMIN_CFG_STR, client_tls.ca_file, true),
    ADMIN_CFG("client_tls_cert_file", ADMIN_CFG_STR, client_tls.cert_file, true),
    ADMIN_CFG("client_tls_ciphers", ADMIN_CFG_STR, client_tls.ciphers, true),
    ADMIN_CFG("client_tls_key_file", ADMIN_CFG_STR, client_tls.key_file, true),
    ADMIN_CFG("client_tls_protocols", ADMIN_CFG_STR, client_tls.protocols, true),
    ADMIN_CFG("client_tls_sslmode", ADMIN_CFG_TLS, client_tls.sslmode, true),
    ADMIN_CFG("cold_dir", ADMIN_CFG_STR, cold_dir, false),
    ADMIN_CFG("data_dir", ADMIN_CFG_STR, data_dir, false),
    ADMIN_CFG("default_pool_size", ADMIN_CFG_INT, default_pool_size, true),
    ADMIN_CFG("http_listen", ADMIN_CFG_STR, http_listen, false),
    ADMIN_CFG("idle_timeout", ADMIN_CFG_INT, idle_timeout, true),
    ADMIN_CFG("idle_transaction_timeout", ADMIN_CFG_INT, idle_transaction_timeout, true),
    ADMIN_CFG("managed_bindir", ADMIN_CFG_STR, managed_bindir, true),
    ADMIN_CFG("min_active_seconds", ADMIN_CFG_INT, min_active_seconds, true),
    ADMIN_CFG("resume_timeout", ADMIN_CFG_INT, resume_timeout, true),
    ADMIN_CFG("listen_addr", ADMIN_CFG_STR, listen_addr, false),
    ADMIN_CFG("listen_port", ADMIN_CFG_INT, listen_port, false),
    ADMIN_CFG("log_level", ADMIN_CFG_LOG, log_level, true),
    ADMIN_CFG("login_failure_limit", ADMIN_CFG_INT, login_failure_limit, true),
    ADMIN_CFG("login_failure_window", ADMIN_CFG_INT, login_failure_window, true),
    ADMIN_CFG("max_client_conn", ADMIN_CFG_INT, max_client_conn, true),
    ADMIN_CFG("max_db_client_connections", ADMIN_CFG_INT, max_db_client_connections, true),
    ADMIN_CFG("max_db_connections", ADMIN_CFG_INT, max_db_connections, true),
    ADMIN_CFG("max_packet_size", ADMIN_CFG_U32, max_packet_size, true),
    ADMIN_CFG("max_prepared_statements", ADMIN_CFG_INT, max_prepared_statements, true),
    ADMIN_CFG("max_user_client_connections", ADMIN_CFG_INT, max_user_client_connections, true),
    ADMIN_CFG("min_pool_size", ADMIN_CFG_INT, min_pool_size, true),
    ADMIN_CFG("pool_mode", ADMIN_CFG_MODE, pool_mode, true),
    ADMIN_CFG("query_timeout", ADMIN_CFG_INT, query_timeout, true),
    ADMIN_CFG("query_wait_timeout", ADMIN_CFG_INT, query_wait_timeout, true),
    ADMIN_CFG("reserve_pool_size", ADMIN_CFG_INT, reserve_pool_size, true),
    ADMIN_CFG("reserve_pool_timeout", ADMIN_CFG_INT, reserve_pool_timeout, true),
    ADMIN_CFG("server_connect_timeout", ADMIN_CFG_INT, server_connect_timeout, true),
    ADMIN_CFG("server_idle_timeout", ADMIN_CFG_INT, server_idle_timeout, true),
    ADMIN_CFG("server_lifetime", ADMIN_CFG_INT, server_lifetime, true),
    ADMIN_CFG("server_login_retry", ADMIN_CFG_INT, server_login_retry, true),
    ADMIN_CFG("server_reset_query", ADMIN_CFG_STR, server_reset_query, true),
    ADMIN_CFG("server_tls_ca_file", ADMIN_CFG_STR, server_tls.ca_file, true),
    ADMIN_CFG("server_tls_cert_file", ADMIN_CFG_STR, server_tls.cert_file, true),
    ADMIN_CFG("server_tls_ciphers", ADMIN_CFG_STR, server_tls.ciphers, true),
    ADMIN_CFG("server_tls_key_file", ADMIN_CFG_STR, server_tls.key_file, true),
    ADMIN_CFG("server_tls_protocols", ADMIN_CFG_STR, server_tls.protocols, true),
    ADMIN_CFG("server_tls_sslmode", ADMIN_CFG_TLS, server_tls.sslmode, true),
    ADMIN_CFG("sqlite_busy_timeout", ADMIN_CFG_INT, sqlite_busy_timeout_ms, true),
    ADMIN_CFG("sqlite_pool_size", ADMIN_CFG_INT, sqlite_pool_size, true),
    ADMIN_CFG("sqlite_release_idle", ADMIN_CFG_INT, sqlite_release_idle, true),
    ADMIN_CFG("sqlite_synchronous", ADMIN_CFG_SYNC, sqlite_synchronous_full, true),
    ADMIN_CFG("sqlite_workers", ADMIN_CFG_INT, sqlite_workers, false),
    ADMIN_CFG("stats_period", ADMIN_CFG_INT, stats_period, false),
    ADMIN_CFG("stats_users", ADMIN_CFG_STR, stats_users, true),
    ADMIN_CFG("unix_socket_dir", ADMIN_CFG_STR, unix_socket_dir, false),
    ADMIN_CFG("usage_minute_days", ADMIN_CFG_INT, usage_minute_days, true),
    ADMIN_CFG("usage_retention_days", ADMIN_CFG_INT, usage_retention_days, true),
    ADMIN_CFG("workers", ADMIN_CFG_INT, workers, false),
};
#undef ADMIN_CFG

/* The index of a key in admin_config_keys, or -1. */
static int admin_config_key(const char *key)
{
    for (size_t i = 0; i < sizeof(admin_config_keys) / sizeof(admin_config_keys[0]); i++)
        if (!strcmp(admin_config_keys[i].key, key))
            return (int)i;
    return -1;
}

/* Formats the i-th key's value in cfg into buf. */
static void admin_config_value(const proxy_config *cfg, size_t i, char *buf, size_t n)
{
    const void *field = (const char *)cfg + admin_config_keys[i].offset;
    switch (admin_config_keys[i].kind) {
    case ADMIN_CFG_STR:
        snprintf(buf, n, "%s", (const char *)field);
        break;
    case ADMIN_CFG_INT:
        snprintf(buf, n, "%d", *(const int *)field);
        break;
    case ADMIN_CFG_U32:
        snprintf(buf, n, "%u", *(const uint32_t *)field);
        break;
    case ADMIN_CFG_AUTH:
        snprintf(buf, n, "%s", proxy_auth_type_str(*(const proxy_auth_type *)field));
        break;
    case ADMIN_CFG_LOG:
        snprintf(buf, n, "%s", proxy_log_level_str(*(const proxy_log_level *)field));
        break;
    case ADMIN_CFG_MODE:
        snprintf(buf, n, "%s", pool_mode_str(*(const pool_mode *)field));
        break;
    case ADMIN_CFG_SYNC:
        snprintf(buf, n, "%s", *(const bool *)field ? "full" : "normal");
        break;
    case ADMIN_CFG_TLS:
        snprintf(buf, n, "%s", proxy_tls_mode_str(*(const proxy_tls_mode *)field));
        break;
    }
}

static void admin_show_config(proxy_server *srv, wire_buf *b)
{
    static const admin_col cols[] = {
        {"key", 's'}, {"value", 's'}, {"default", 's'}, {"changeable", 's'}};
    admin_put_header(b, cols, 4);
    static proxy_config defaults; /* large: not on the stack; loop 0 only */
    proxy_config_defaults(&defaults);
    for (size_t i = 0; i < sizeof(admin_config_keys) / sizeof(admin_config_keys[0]); i++) {
        char value[PATH_MAX + 16], def[PATH_MAX + 16];
        admin_config_value(&srv->cfg, i, value, sizeof(value));
        admin_config_value(&defaults, i, def, sizeof(def));
        admin_row r;
        admin_row_begin(&r, b, 4);
        admin_row_text(&r, admin_config_keys[i].key);
        admin_row_text(&r, value);
        admin_row_text(&r, def);
        admin_row_text(&r, admin_config_keys[i].changeable ? "yes" : "no");
        admin_row_end(&r);
    }
    admin_put_show_complete(b);
}

static int admin_count_pools(proxy_session **v, int n)
{
    int pools = 0;
    for (int i = 0; i < n; i++)
        if (i == 0 || strcmp(v[i]->database, v[i - 1]->database) ||
            strcmp(v[i]->user, v[i - 1]->user))
            pools++;
    return pools;
}

static void admin_show_lists(proxy_server *srv, wire_buf *b)
{
    static const admin_col cols[] = {{"list", 's'}, {"items", 'i'}};
    admin_put_header(b, cols, 2);
    int n, login = 0, servers = 0;
    proxy_session **v = admin_sessions_sorted(srv, &n);
    if (!v) {
        b->oom = true;
        return;
    }
    for (proxy_session *s = server_sessions_first(srv); s; s = server_sessions_next(srv, s)) {
        if (s->state == SESSION_STARTUP || s->state == SESSION_AUTH)
            login++;
        if (s->backend && s->state != SESSION_CLOSING)
            servers++;
    }
    int free_servers = srv->pool ? pool_idle_backends(srv->pool) : 0;
    for (proxy_upstream *u = server_upstreams_first(srv); u; u = server_upstreams_next(srv, u)) {
        if (u->state == PROXY_UPSTREAM_CLOSED || !u->ps)
            continue;
        if (u->link.state == POOL_SV_IDLE)
            free_servers++;
        else
            servers++;
    }
    admin_put_name_value(b, "databases", srv->pool ? pool_db_count(srv->pool) : 0);
    admin_put_name_value(b, "users", proxy_userlist_count(srv->users));
    admin_put_name_value(b, "pools", admin_count_pools(v, n));
    admin_put_name_value(b, "free_clients", 0);
    admin_put_name_value(b, "used_clients", n);
    admin_put_name_value(b, "login_clients", login);
    admin_put_name_value(b, "free_servers", free_servers);
    admin_put_name_value(b, "used_servers", servers);
    admin_put_name_value(b, "dns_names", 0);
    admin_put_name_value(b, "dns_zones", 0);
    admin_put_name_value(b, "dns_queries", 0);
    admin_put_name_value(b, "dns_pending", 0);
    free(v);
    admin_put_show_complete(b);
}

static void admin_show_version(wire_buf *b)
{
    static const admin_col cols[] = {{"version", 's'}};
    admin_put_header(b, cols, 1);
    admin_row r;
    admin_row_begin(&r, b, 1);
    admin_row_text(&r, "Dormouse " DORMOUSE_VERSION);
    admin_row_end(&r);
    admin_put_show_complete(b);
}

/* Users: those of the auth file, admin_users, stats_users and any connected. */
typedef struct admin_user_set {
    char (*names)[WIRE_NAME_MAX];
    int n, cap;
    bool oom;
} admin_user_set;

static void admin_user_add(admin_user_set *u, const char *name, size_t len)
{
    if (len == 0 || len >= WIRE_NAME_MAX)
        return;
    for (int i = 0; i < u->n; i++)
        if (strlen(u->names[i]) == len && !memcmp(u->names[i], name, len))
            return;
    if (u->n == u->cap) {
        int cap = u->cap ? u->cap * 2 : 16;
        char(*v)[WIRE_NAME_MAX] = realloc(u->names, (size_t)cap * WIRE_NAME_MAX);
        if (!v) {
            u->oom = true;
            return;
        }
        u->names = v;
        u->cap = cap;
    }
    memcpy(u->names[u->n], name, len);
    u->names[u->n][len] = '\0';
    u->n++;
}

static void admin_user_add_list(admin_user_set *u, const char *list)
{
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        admin_user_add(u, start, (size_t)(end - start));
    }
}

static int admin_name_cmp(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

static void admin_show_users(proxy_server *srv, wire_buf *b)
{
    static const admin_col cols[] = {
        {"name", 's'},
        {"pool_size", 'i'},
        {"reserve_pool_size", 'i'},
        {"pool_mode", 's'},
        {"max_user_connections", 'i'},
        {"current_connections", 'i'},
        {"max_user_client_connections", 'i'},
        {"current_client_connections", 'i'},
    };
    admin_put_header(b, cols, 8);
    admin_user_set u = {0};
    for (int i = 0; i < proxy_userlist_count(srv->users); i++) {
        const char *name = proxy_userlist_user(srv->users, i);
        admin_user_add(&u, name, strlen(name));
    }
    admin_user_add_list(&u, srv->cfg.admin_users);
    admin_user_add_list(&u, srv->cfg.stats_users);
    for (proxy_session *s = server_sessions_first(srv); s; s = server_sessions_next(srv, s))
        if (admin_session_logged_in(s))
            admin_user_add(&u, s->user, strlen(s->user));
    if (u.oom) {
        free(u.names);
        b->oom = true;
        return;
    }
    if (u.n > 1)
        qsort(u.names, (size_t)u.n, WIRE_NAME_MAX, admin_name_cmp);
    for (int i = 0; i < u.n; i++) {
        int servers = 0, clients = 0;
        for (proxy_session *s = server_sessions_first(srv); s; s = server_sessions_next(srv, s)) {
            if (!admin_session_logged_in(s) || strcmp(s->user, u.names[i]) != 0)
                continue;
            clients++;
            if (s->backend)
                servers++;
        }
        admin_row r;
        admin_row_begin(&r, b, 8);
        admin_row_text(&r, u.names[i]);
        admin_row_null(&r);
        admin_row_null(&r);
        admin_row_null(&r);
        admin_row_int(&r, 0);
        admin_row_int(&r, servers);
        admin_row_int(&r, 0);
        admin_row_int(&r, clients);
        admin_row_end(&r);
    }
    free(u.names);
    admin_put_show_complete(b);
}

/* SHOW MEM: the loop's per-object allocations PgBouncer-style (name, size,
 * used, free, memtotal); Dormouse keeps no free lists, so free is 0. */
static void admin_show_mem(proxy_server *srv, wire_buf *b)
{
    static const admin_col cols[] = {
        {"name", 's'}, {"size", 'i'}, {"used", 'i'}, {"free", 'i'}, {"memtotal", 'q'}};
    admin_put_header(b, cols, 5);
    int nsessions = 0;
    long long buffers = 0;
    for (proxy_session *s = server_sessions_first(srv); s; s = server_sessions_next(srv, s)) {
        nsessions++;
        buffers += (long long)(s->in.cap + s->out.cap + (s->job ? s->job->out.cap : 0) +
                               (s->copy ? s->copy->buf.cap + s->copy->job.cap : 0));
    }
    struct {
        const char *name;
        long long size, used;
    } rows[] = {
        {"session", (long long)sizeof(proxy_session), nsessions},
        {"stats_db", (long long)sizeof(proxy_stats_db), proxy_stats_db_count(srv->stats)},
        {"session_buffers", 1, buffers},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        admin_row r;
        admin_row_begin(&r, b, 5);
        admin_row_text(&r, rows[i].name);
        admin_row_int(&r, rows[i].size);
        admin_row_int(&r, rows[i].used);
        admin_row_int(&r, 0);
        admin_row_int(&r, rows[i].size * rows[i].used);
        admin_row_end(&r);
    }
    admin_put_show_complete(b);
}

static void admin_show_state(proxy_server *srv, wire_buf *b)
{
    static const admin_col cols[] = {{"key", 's'}, {"value", 's'}};
    admin_put_header(b, cols, 2);
    const char *rows[][2] = {
        {"active", srv->pause_all || srv->shutting_down ? "no" : "yes"},
        {"paused", srv->pause_all ? "yes" : "no"},
        {"suspended", "no"},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        admin_row r;
        admin_row_begin(&r, b, 2);
        admin_row_text(&r, rows[i][0]);
        admin_row_text(&r, rows[i][1]);
        admin_row_end(&r);
    }
    admin_put_show_complete(b);
}

static void admin_show_help(wire_buf *b)
{
    wire_error n = {
        .severity = "NOTICE",
        .sqlstate = WIRE_SQLSTATE_SUCCESSFUL,
        .message = "Console usage",
        .detail = "\n\tSHOW HELP|CONFIG|DATABASES|POOLS|CLIENTS|SERVERS|USERS|VERSION\n"
                  "\tSHOW STATS|STATS_TOTALS|STATS_AVERAGES|TOTALS\n"
                  "\tSHOW LISTS|MEM|STATE\n"
                  "\tSHOW USAGE [<db>]|BILL <db>|TOP QUERIES [<db>]\n"
                  "\tSET key = arg\n"
                  "\tRELOAD\n"
                  "\tPAUSE [<db>]\n"
                  "\tRESUME [<db>]\n"
                  "\tKILL [<db>]\n"
                  "\tSHUTDOWN",
    };
    wire_put_notice(b, &n);
    admin_put_show_complete(b);
}

void admin_show_build(proxy_server *srv, admin_show what, wire_buf *out)
{
    switch (what) {
    case ADMIN_SHOW_HELP:
        admin_show_help(out);
        return;
    case ADMIN_SHOW_POOLS:
        admin_show_pools(srv, out);
        return;
    case ADMIN_SHOW_CLIENTS:
        admin_show_clients(srv, out);
        return;
    case ADMIN_SHOW_SERVERS:
        admin_show_servers(srv, out);
        return;
    case ADMIN_SHOW_DATABASES:
        admin_show_databases(srv, out);
        return;
    case ADMIN_SHOW_STATS:
    case ADMIN_SHOW_STATS_TOTALS:
    case ADMIN_SHOW_STATS_AVERAGES:
        admin_show_stats(srv, what, out);
        return;
    case ADMIN_SHOW_TOTALS:
        admin_show_totals(srv, out);
        return;
    case ADMIN_SHOW_CONFIG:
        admin_show_config(srv, out);
        return;
    case ADMIN_SHOW_LISTS:
        admin_show_lists(srv, out);
        return;
    case ADMIN_SHOW_VERSION:
        admin_show_version(out);
        return;
    case ADMIN_SHOW_USERS:
        admin_show_users(srv, out);
        return;
    case ADMIN_SHOW_MEM:
        admin_show_mem(srv, out);
        return;
    case ADMIN_SHOW_STATE:
        admin_show_state(srv, out);
        return;
    case ADMIN_SHOW_USAGE: /* from the ledger: admin_usage_show */
    case ADMIN_SHOW_BILL:
    case ADMIN_SHOW_TOP:
    case ADMIN_SHOW_NITEMS:
        break;
    }
    out->oom = true;
}

/* ---- commands ---- */

/* A command failed: ErrorResponse and ReadyForQuery. */
static void admin_error(proxy_session *s, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void admin_error(proxy_session *s, const char *sqlstate, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    slog(s, PROXY_LOG_DEBUG, "console: ERROR %s: %s", sqlstate, msg);
    wire_error e = {.severity = "ERROR", .sqlstate = sqlstate, .message = msg};
    wire_put_error(&s->out, &e);
    wire_put_ready(&s->out, 'I');
}

static void admin_done(proxy_session *s, const char *tag)
{
    if (tag)
        wire_put_command_complete(&s->out, tag);
    wire_put_ready(&s->out, 'I');
}

/* Does any client of db (NULL: any database) run a statement or open a backend? */
static bool admin_db_busy(proxy_server *srv, const char *db)
{
    for (proxy_session *s = server_sessions_first(srv); s; s = server_sessions_next(srv, s))
        if (!s->admin && admin_session_runs(s) && (!db || !strcmp(s->database, db)))
            return true;
    return false;
}

static void admin_pause_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
    proxy_server *srv = container_of(w, proxy_server, pause_timer);
    bool waiting = false;
    server_world_lock(srv);
    for (proxy_session *s = server_sessions_first(srv); s; s = server_sessions_next(srv, s)) {
        if (!s->admin || !s->admin_pause_wait || s->state == SESSION_CLOSING)
            continue;
        if (admin_db_busy(srv, s->admin_pause_db)) {
            waiting = true;
            continue;
        }
        s->admin_pause_wait = false;
        slog(s, PROXY_LOG_INFO, "console: PAUSE %s done",
             s->admin_pause_db ? s->admin_pause_db : "(all)");
        server_pause_due(srv); /* its engine pauses too */
        free(s->admin_pause_db);
        s->admin_pause_db = NULL;
        admin_done(s, "PAUSE");
        session_wake(s);
    }
    server_world_unlock(srv);
    if (!waiting)
        ev_timer_stop(loop, w);
}

struct admin_force {
    proxy_server *srv;
    bool on;
};

static void admin_force_one(const pool_db *cdb, void *arg)
{
    struct admin_force *f = arg;
    pool_db *db = (pool_db *)cdb; /* foreach hands out const; this is the console's to change */
    pool_db_force_pause(db, f->on);
    /* RESUME of a stopped managed server starts it now, not at the next query */
    if (!f->on && pool_db_managed(db) && pool_db_prewarm(db))
        managed_want(f->srv, db);
}

/* PAUSE db / RESUME db reach the engine: db (NULL: every database) pauses
 * as soon as it is idle, or no longer must. */
static void admin_force_pause(proxy_server *srv, const char *name, bool on)
{
    struct admin_force f = {srv, on};
    if (!srv->pool)
        return;
    if (!name) {
        pool_db_foreach(srv->pool, admin_force_one, &f);
        return;
    }
    pool_db *db = pool_db_find(srv->pool, name);
    if (db)
        admin_force_one(db, &f);
}

static bool admin_cmd_pause(proxy_session *s, const admin_cmd *cmd)
{
    proxy_server *srv = s->server;
    const char *db = cmd->arg[0] ? cmd->arg : NULL;
    char err[256];
    if (db && admin_db_is_console(db)) {
        admin_error(s, WIRE_SQLSTATE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "cannot pause the admin console");
        return true;
    }
    if (db && !pool_db_name_valid(db, err, sizeof(err))) {
        admin_error(s, WIRE_SQLSTATE_INVALID_CATALOG_NAME, "%s", err);
        return true;
    }
    if (srv->pause_all || (db && admin_db_paused(srv, db))) {
        admin_error(s, WIRE_SQLSTATE_OBJECT_NOT_IN_PREREQUISITE_STATE, "%s is already paused",
                    db ? db : "the pooler");
        return true;
    }
    if (db) {
        if (srv->npaused == srv->paused_cap) {
            int cap = srv->paused_cap ? srv->paused_cap * 2 : 8;
            char(*v)[WIRE_NAME_MAX] = realloc(srv->paused, (size_t)cap * WIRE_NAME_MAX);
            if (!v) {
                admin_error(s, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
                return true;
            }
            srv->paused = v;
            srv->paused_cap = cap;
        }
        snprintf(srv->paused[srv->npaused++], WIRE_NAME_MAX, "%s", db);
    } else {
        srv->pause_all = true;
        srv->npaused = 0; /* all covers each */
    }
    slog(s, PROXY_LOG_INFO, "console: PAUSE %s", db ? db : "(all)");
    admin_force_pause(srv, db, true);
    if (!admin_db_busy(srv, db)) {
        server_pause_due(srv); /* its engine pauses too (if nothing holds it) */
        admin_done(s, "PAUSE");
        return true;
    }
    /* Answer once running statements have finished; read nothing meanwhile. */
    s->admin_pause_wait = true;
    free(s->admin_pause_db);
    s->admin_pause_db = db ? strdup(db) : NULL; /* NULL (out of memory too): waits for all */
    if (!ev_is_active(&srv->pause_timer))
        ev_timer_start(srv->loop, &srv->pause_timer);
    return false;
}

/* Lets the held clients of db (NULL: all) go on. */
static void admin_release(proxy_server *srv, const char *db)
{
    for (proxy_session *s = server_sessions_first(srv); s; s = server_sessions_next(srv, s))
        if (!s->admin && s->held_since_us && (!db || !strcmp(s->database, db)))
            session_wake(s); /* admin_session_held() accounts the wait and clears it */
}

static void admin_cmd_resume(proxy_session *s, const admin_cmd *cmd)
{
    proxy_server *srv = s->server;
    const char *db = cmd->arg[0] ? cmd->arg : NULL;
    if (!db) {
        if (!srv->pause_all && srv->npaused == 0) {
            admin_error(s, WIRE_SQLSTATE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "pooler is not paused");
            return;
        }
        srv->pause_all = false;
        srv->npaused = 0;
    } else {
        if (srv->pause_all) {
            admin_error(s, WIRE_SQLSTATE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "every database is paused: RESUME without a name");
            return;
        }
        int i;
        for (i = 0; i < srv->npaused; i++)
            if (!strcmp(srv->paused[i], db))
                break;
        if (i == srv->npaused) {
            admin_error(s, WIRE_SQLSTATE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                        "database %s is not paused", db);
            return;
        }
        srv->paused[i][0] = '\0';
        memmove(srv->paused[i], srv->paused[srv->npaused - 1], WIRE_NAME_MAX);
        srv->npaused--;
    }
    slog(s, PROXY_LOG_INFO, "console: RESUME %s", db ? db : "(all)");
    admin_force_pause(srv, db, false);
    admin_done(s, "RESUME");
    admin_release(srv, db);
}

static void admin_cmd_kill(proxy_session *s, const admin_cmd *cmd)
{
    proxy_server *srv = s->server;
    const char *db = cmd->arg[0] ? cmd->arg : NULL;
    if (db && admin_db_is_console(db)) {
        admin_error(s, WIRE_SQLSTATE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                    "cannot kill the admin console");
        return;
    }
    int killed = 0;
    for (proxy_session *t = server_sessions_first(srv); t; t = server_sessions_next(srv, t)) {
        if (t->admin || t->state == SESSION_CLOSING || (db && strcmp(t->database, db) != 0))
            continue;
        session_terminate(t, WIRE_SQLSTATE_ADMIN_SHUTDOWN,
                          "terminating connection due to administrator command");
        killed++;
    }
    /* and the servers nobody holds now (PgBouncer's KILL drops them too) */
    pool_db *pdb = db && srv->pool ? pool_db_find(srv->pool, db) : NULL;
    if (!db || pdb)
        pgpool_close_servers(srv, pdb);
    slog(s, PROXY_LOG_INFO, "console: KILL %s: %d clients disconnected", db ? db : "(all)",
         killed);
    admin_done(s, "KILL");
}

static void admin_cmd_set(proxy_session *s, const admin_cmd *cmd)
{
    proxy_config *cfg = &s->server->cfg;
    const char *v = cmd->value;
    if (!strcmp(cmd->arg, "log_level")) {
        proxy_log_level l;
        if (!proxy_log_level_parse(v, &l)) {
            admin_error(s, WIRE_SQLSTATE_INVALID_PARAMETER_VALUE,
                        "log_level must be debug, info, warning or error");
            return;
        }
        cfg->log_level = l;
        proxy_log_set_level(l);
    } else if (!strcmp(cmd->arg, "max_client_conn")) {
        char *end;
        long n = strtol(v, &end, 10);
        if (end == v || *end || n < 1 || n > 1000000) {
            admin_error(s, WIRE_SQLSTATE_INVALID_PARAMETER_VALUE,
                        "max_client_conn must be between 1 and 1000000");
            return;
        }
        cfg->max_client_conn = (int)n;
    } else if (!strcmp(cmd->arg, "admin_users") || !strcmp(cmd->arg, "stats_users")) {
        char *dst = !strcmp(cmd->arg, "admin_users") ? cfg->admin_users : cfg->stats_users;
        snprintf(dst, sizeof(cfg->admin_users), "%s", v);
    } else {
        if (admin_config_key(cmd->arg) >= 0)
            admin_error(s, ADMIN_SQLSTATE_CANT_CHANGE_RUNTIME_PARAM,
                        "%s cannot be changed with SET: edit the file and RELOAD", cmd->arg);
        else
            admin_error(s, ADMIN_SQLSTATE_UNDEFINED_OBJECT, "unknown config parameter: %s",
                        cmd->arg);
        return;
    }
    slog(s, PROXY_LOG_INFO, "console: SET %s = %s", cmd->arg, v);
    admin_done(s, "SET");
}

bool admin_handle_query(proxy_session *s, const wire_frame *f)
{
    const char *sql;
    size_t len;
    char err[256];
    admin_cmd cmd;
    if (!wire_query_parse(f, &sql, &len) || strlen(sql) != len) {
        admin_error(s, WIRE_SQLSTATE_PROTOCOL_VIOLATION, "invalid Query message");
        return true;
    }
    slog(s, PROXY_LOG_DEBUG, "console: %.200s", sql);
    if (!admin_cmd_parse(sql, &cmd, err, sizeof(err))) {
        admin_error(s, WIRE_SQLSTATE_SYNTAX_ERROR, "%s", err);
        return true;
    }
    if (cmd.kind == ADMIN_CMD_EMPTY) {
        wire_put_empty_query(&s->out);
        admin_done(s, NULL);
        return true;
    }
    if (cmd.kind == ADMIN_CMD_SHOW &&
        (cmd.show == ADMIN_SHOW_USAGE || cmd.show == ADMIN_SHOW_BILL || cmd.show == ADMIN_SHOW_TOP))
        return admin_usage_show(s, &cmd);
    if (cmd.kind == ADMIN_CMD_SHOW) {
        admin_show_build(s->server, cmd.show, &s->out);
        admin_done(s, NULL);
        return true;
    }
    if (!s->admin_full) {
        admin_error(s, ADMIN_SQLSTATE_INSUFFICIENT_PRIVILEGE, "admin access needed");
        return true;
    }
    switch (cmd.kind) {
    case ADMIN_CMD_SET:
        admin_cmd_set(s, &cmd);
        break;
    case ADMIN_CMD_PAUSE:
        if (!admin_cmd_pause(s, &cmd))
            return false;
        break;
    case ADMIN_CMD_RESUME:
        admin_cmd_resume(s, &cmd);
        break;
    case ADMIN_CMD_KILL:
        admin_cmd_kill(s, &cmd);
        break;
    case ADMIN_CMD_RELOAD:
        slog(s, PROXY_LOG_INFO, "console: RELOAD");
        if (server_reload(s->server, err, sizeof(err)))
            admin_done(s, "RELOAD");
        else
            admin_error(s, ADMIN_SQLSTATE_CONFIG_FILE_ERROR, "reload failed: %s", err);
        break;
    case ADMIN_CMD_SHUTDOWN:
        slog(s, PROXY_LOG_INFO, "console: SHUTDOWN");
        admin_done(s, "SHUTDOWN");
        /* This session is told 57P01 and closed with the others, after the reply. */
        proxy_server_shutdown(s->server);
        return false;
    default:
        admin_error(s, WIRE_SQLSTATE_INTERNAL_ERROR, "unhandled console command");
        break;
    }
    return true;
}

bool admin_handle_extended(proxy_session *s, const wire_frame *f)
{
    if (f->type == 'S') {
        s->discard_to_sync = false;
        wire_put_ready(&s->out, 'I');
        return true;
    }
    if (f->type == 'H' || s->discard_to_sync)
        return true;
    wire_error e = {.severity = "ERROR",
                    .sqlstate = WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED,
                    .message = "the admin console accepts only simple queries"};
    wire_put_error(&s->out, &e); /* ReadyForQuery comes with the Sync */
    s->discard_to_sync = true;
    return true;
}

bool admin_session_held(proxy_session *s, bool pending)
{
    if (s->admin)
        return s->admin_pause_wait || s->admin_read;
    proxy_server *srv = s->server;
    bool paused = (srv->pause_all || srv->npaused > 0) && admin_db_paused(srv, s->database);
    if (paused && pending) {
        if (!s->held_since_us)
            s->held_since_us = proxy_stats_now_us();
        return true;
    }
    if (s->held_since_us) {
        uint64_t now = proxy_stats_now_us();
        proxy_stats_waited(s->stats, now > s->held_since_us ? now - s->held_since_us : 0);
        s->held_since_us = 0;
    }
    return false;
}

void admin_server_init(proxy_server *srv)
{
    ev_timer_init(&srv->pause_timer, admin_pause_timer_cb, ADMIN_PAUSE_POLL, ADMIN_PAUSE_POLL);
}

void admin_server_free(proxy_server *srv)
{
    if (srv->loop)
        ev_timer_stop(srv->loop, &srv->pause_timer);
    free(srv->paused);
    srv->paused = NULL;
    srv->npaused = srv->paused_cap = 0;
}
