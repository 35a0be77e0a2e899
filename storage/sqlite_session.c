/*
 * sqlite_session.c: SET / RESET / SHOW / DISCARD / DEALLOCATE / UNLISTEN /
 * CLOSE, run by the engine itself for both protocols.
 *
 * Parameters live in a per-connection list of values that differ from the
 * defaults (c->settings); names compare case-insensitively.  The known
 * parameters are the table below: those PostgreSQL clients ask about, with
 * PostgreSQL 16's defaults, plus a generous list of other GUCs that a SET may
 * name (accepted and remembered, with no effect on SQLite).  Names with a dot
 * are custom parameters, as in PostgreSQL.  Values are kept as written:
 * nothing is validated or normalised, and SET is not undone by ROLLBACK.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sqlite_extended.h"
#include "sqlite_session.h"

struct sqlite_setting {
    struct sqlite_setting *next;
    char *name;
    char *value;
};

typedef struct session_param {
    const char *name; /* PostgreSQL's spelling, as SHOW names the column */
    const char *value;
    const char *description;
} session_param;

static const session_param session_params[] = {
    {"application_name", "", "Sets the application name to be reported in statistics and logs."},
    {"client_encoding", "UTF8", "Sets the client's character set encoding."},
    {"DateStyle", "ISO, MDY", "Sets the display format for date and time values."},
    {"default_transaction_isolation", "read committed",
     "Sets the transaction isolation level of each new transaction."},
    {"default_transaction_read_only", "off",
     "Sets the default read-only status of new transactions."},
    {"extra_float_digits", "1", "Sets the number of digits displayed for floating-point values."},
    {"integer_datetimes", "on", "Shows whether datetimes are integer based."},
    {"IntervalStyle", "postgres", "Sets the display format for interval values."},
    {"is_superuser", "off", "Shows whether the current user is a superuser."},
    {"lock_timeout", "0", "Sets the maximum allowed duration of any wait for a lock."},
    {"max_identifier_length", "63", "Shows the maximum identifier length."},
    {"search_path", "\"$user\", public",
     "Sets the schema search order for names that are not schema-qualified."},
    {"server_encoding", "UTF8", "Shows the server (database) character set encoding."},
    {"server_version", "16.0", "Shows the server version."},
    {"server_version_num", "160000", "Shows the server version as an integer."},
    {"standard_conforming_strings", "on", "Causes '...' strings to treat backslashes literally."},
    {"statement_timeout", "0", "Sets the maximum allowed duration of any statement."},
    {"TimeZone", "UTC", "Sets the time zone for displaying and interpreting time stamps."},
    {"transaction_isolation", "read committed",
     "Sets the current transaction's isolation level."},
    {"transaction_read_only", "off", "Sets the current transaction's read-only status."},
    /* other GUCs a client or an ORM may SET */
    {"array_nulls", "on", "Enable input of NULL elements in arrays."},
    {"backslash_quote", "safe_encoding", "Sets whether \"\\'\" is allowed in string literals."},
    {"bytea_output", "hex", "Sets the output format for bytea."},
    {"check_function_bodies", "on", "Check routine bodies during CREATE FUNCTION."},
    {"client_min_messages", "notice", "Sets the message levels that are sent to the client."},
    {"cursor_tuple_fraction", "0.1",
     "Sets the planner's estimate of the fraction of a cursor's rows that will be retrieved."},
    {"default_text_search_config", "pg_catalog.english",
     "Sets default text search configuration."},
    {"default_transaction_deferrable", "off",
     "Sets the default deferrable status of new transactions."},
    {"enable_seqscan", "on", "Enables the planner's use of sequential-scan plans."},
    {"escape_string_warning", "on", "Warn about backslash escapes in ordinary string literals."},
    {"geqo", "on", "Enables genetic query optimization."},
    {"idle_in_transaction_session_timeout", "0",
     "Sets the maximum allowed idle time between queries, when in a transaction."},
    {"idle_session_timeout", "0",
     "Sets the maximum allowed idle time between queries, when not in a transaction."},
    {"jit", "off", "Allow JIT compilation."},
    {"lc_messages", "C", "Sets the language in which messages are displayed."},
    {"lc_monetary", "C", "Sets the locale for formatting monetary amounts."},
    {"lc_numeric", "C", "Sets the locale for formatting numbers."},
    {"lc_time", "C", "Sets the locale for formatting date and time values."},
    {"log_min_duration_statement", "-1",
     "Sets the minimum execution time above which all statements will be logged."},
    {"log_statement", "none", "Sets the type of statements logged."},
    {"maintenance_work_mem", "64MB", "Sets the maximum memory to be used for maintenance operations."},
    {"plan_cache_mode", "auto", "Controls the planner's selection of custom or generic plan."},
    {"quote_all_identifiers", "off", "When generating SQL fragments, quote all identifiers."},
    {"random_page_cost", "4", "Sets the planner's estimate of the cost of a nonsequentially fetched disk page."},
    {"role", "none", "Sets the current role."},
    {"row_security", "on", "Enable row security."},
    {"session_replication_role", "origin", "Sets the session's behavior for triggers and rewrite rules."},
    {"synchronous_commit", "on", "Sets the current transaction's synchronization level."},
    {"tcp_keepalives_idle", "0", "Time between issuing TCP keepalives."},
    {"temp_buffers", "8MB", "Sets the maximum number of temporary buffers used by each session."},
    {"timezone_abbreviations", "Default", "Selects a file of time zone abbreviations."},
    {"transaction_deferrable", "off", "Whether to defer a read-only serializable transaction."},
    {"work_mem", "4MB", "Sets the maximum memory to be used for query workspaces."},
    {"xmlbinary", "base64", "Sets how binary values are to be encoded in XML."},
    {"xmloption", "content", "Sets whether XML data in implicit parsing and serialization operations is to be considered as documents or content fragments."},
};

#define SESSION_NPARAMS (sizeof(session_params) / sizeof(session_params[0]))

static const session_param *session_param_find(const char *name)
{
    for (size_t i = 0; i < SESSION_NPARAMS; i++)
        if (strcasecmp(session_params[i].name, name) == 0)
            return &session_params[i];
    return NULL;
}

static struct sqlite_setting *session_find(const storage_conn *c, const char *name)
{
    for (struct sqlite_setting *s = c->settings; s; s = s->next)
        if (strcasecmp(s->name, name) == 0)
            return s;
    return NULL;
}

const char *sqlite_session_get(const storage_conn *c, const char *name)
{
    const struct sqlite_setting *s = session_find(c, name);
    if (s)
        return s->value;
    const session_param *p = session_param_find(name);
    return p ? p->value : NULL;
}

static void session_unset(storage_conn *c, const char *name)
{
    for (struct sqlite_setting **pp = &c->settings; *pp; pp = &(*pp)->next) {
        if (strcasecmp((*pp)->name, name) == 0) {
            struct sqlite_setting *s = *pp;
            *pp = s->next;
            free(s->name);
            free(s->value);
            free(s);
            return;
        }
    }
}

bool sqlite_session_set(storage_conn *c, const char *name, const char *value, char *err,
                        size_t errlen)
{
    const session_param *p = session_param_find(name);
    if (!p && !strchr(name, '.')) {
        snprintf(err, errlen, "[42704] unrecognized configuration parameter \"%s\"", name);
        return false;
    }
    if (!value) {
        session_unset(c, name);
        return true;
    }
    struct sqlite_setting *s = session_find(c, name);
    char *v = strdup(value);
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return false;
    }
    if (!s) {
        s = calloc(1, sizeof(*s));
        if (!s || !(s->name = strdup(p ? p->name : name))) {
            free(s);
            free(v);
            snprintf(err, errlen, "out of memory");
            return false;
        }
        s->next = c->settings;
        c->settings = s;
    }
    free(s->value);
    s->value = v;
    return true;
}

void sqlite_session_free(storage_conn *c)
{
    while (c->settings) {
        struct sqlite_setting *s = c->settings;
        c->settings = s->next;
        free(s->name);
        free(s->value);
        free(s);
    }
}

/* ---- replies ---- */

static void session_columns(wire_buf *out, const char *const *names, int n)
{
    wire_column cols[3];
    for (int i = 0; i < n; i++)
        cols[i] = (wire_column){.name = names[i], .type_oid = WIRE_OID_TEXT, .type_len = -1,
                                .type_mod = -1};
    wire_put_row_description(out, cols, n);
}

static void session_row(wire_buf *out, const char *const *values, int n)
{
    size_t start = wire_data_row_begin(out, (uint16_t)n);
    for (int i = 0; i < n; i++)
        wire_data_row_field(out, values[i], (int32_t)strlen(values[i]));
    wire_msg_end(out, start);
}

/* The column SHOW answers with: the parameter's own spelling. */
static const char *session_show_name(const char *name)
{
    const session_param *p = session_param_find(name);
    return p ? p->name : name;
}

static bool session_show_all(const char *name)
{
    return strcasecmp(name, "all") == 0;
}

bool sqlite_session_describe(const storage_stmt *s, wire_buf *out)
{
    if (!s || s->kind != STORAGE_STMT_SESSION ||
        s->node->node_case != PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT)
        return false;
    const char *name = s->node->variable_show_stmt->name ? s->node->variable_show_stmt->name : "";
    if (session_show_all(name)) {
        static const char *const all[] = {"name", "setting", "description"};
        session_columns(out, all, 3);
    } else {
        const char *col = session_show_name(name);
        session_columns(out, &col, 1);
    }
    return true;
}

/* A "[SQLSTATE] message" from sqlite_session_set as an ErrorResponse. */
static bool session_fail(sqlite_query *q, const char *err)
{
    if (err[0] == '[' && strlen(err) > 8 && err[6] == ']') {
        char state[6];
        memcpy(state, err + 1, 5);
        state[5] = '\0';
        sqlite_query_error(q, state, err + 8, NULL, 0);
    } else {
        sqlite_query_error(q, WIRE_SQLSTATE_OUT_OF_MEMORY, err, NULL, 0);
    }
    return false;
}

static bool session_show(sqlite_query *q, const storage_stmt *s, bool describe)
{
    storage_conn *c = q->c;
    wire_buf *out = &q->job->out;
    const char *name = s->node->variable_show_stmt->name ? s->node->variable_show_stmt->name : "";
    if (session_show_all(name)) {
        if (describe)
            sqlite_session_describe(s, out);
        uint64_t n = 0;
        for (size_t i = 0; i < SESSION_NPARAMS; i++, n++) {
            const char *v[3] = {session_params[i].name, sqlite_session_get(c, session_params[i].name),
                                session_params[i].description};
            session_row(out, v, 3);
        }
        for (const struct sqlite_setting *st = c->settings; st; st = st->next) {
            if (session_param_find(st->name))
                continue;
            const char *v[3] = {st->name, st->value, ""};
            session_row(out, v, 3);
            n++;
        }
        q->job->rows_returned += n;
        sqlite_query_complete(q, "SHOW");
        return true;
    }
    const char *value = sqlite_session_get(c, name);
    if (!value) {
        char msg[300];
        snprintf(msg, sizeof(msg), "unrecognized configuration parameter \"%s\"", name);
        sqlite_query_error(q, "42704", msg, NULL, 0);
        return false;
    }
    if (describe)
        sqlite_session_describe(s, out);
    session_row(out, &value, 1);
    q->job->rows_returned++;
    sqlite_query_complete(q, "SHOW");
    return true;
}

/* Is `v` an identifier that needs no quotes? */
static bool session_plain_ident(const char *v)
{
    if (!v[0] || !((v[0] >= 'a' && v[0] <= 'z') || v[0] == '_'))
        return false;
    for (const char *p = v; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '$'))
            return false;
    return true;
}

/* SET's arguments as PostgreSQL shows them: a list joined with ", ", list
 * elements of search_path quoted where needed. */
static bool session_value(const PgQuery__VariableSetStmt *v, char *buf, size_t len)
{
    size_t o = 0;
    bool quote = v->name && strcasecmp(v->name, "search_path") == 0;
    buf[0] = '\0';
    for (size_t i = 0; i < v->n_args; i++) {
        const PgQuery__Node *n = v->args[i];
        char one[256];
        if (n->node_case == PG_QUERY__NODE__NODE_TYPE_CAST && n->type_cast->arg)
            n = n->type_cast->arg; /* SET TIME ZONE INTERVAL '...' */
        if (n->node_case != PG_QUERY__NODE__NODE_A_CONST)
            return false;
        const PgQuery__AConst *k = n->a_const;
        switch (k->val_case) {
        case PG_QUERY__A__CONST__VAL_IVAL:
            snprintf(one, sizeof(one), "%d", k->ival ? (int)k->ival->ival : 0);
            break;
        case PG_QUERY__A__CONST__VAL_FVAL:
            snprintf(one, sizeof(one), "%s", k->fval && k->fval->fval ? k->fval->fval : "0");
            break;
        case PG_QUERY__A__CONST__VAL_BOOLVAL:
            snprintf(one, sizeof(one), "%s", k->boolval && k->boolval->boolval ? "on" : "off");
            break;
        case PG_QUERY__A__CONST__VAL_SVAL: {
            const char *sv = k->sval && k->sval->sval ? k->sval->sval : "";
            if (quote && !session_plain_ident(sv)) {
                size_t w = 0;
                one[w++] = '"';
                for (const char *p = sv; *p && w + 3 < sizeof(one); p++) {
                    if (*p == '"')
                        one[w++] = '"';
                    one[w++] = *p;
                }
                one[w++] = '"';
                one[w] = '\0';
            } else {
                snprintf(one, sizeof(one), "%s", sv);
            }
            break;
        }
        default:
            return false;
        }
        int w = snprintf(buf + o, len - o, "%s%s", i ? ", " : "", one);
        if (w < 0 || (size_t)w >= len - o)
            return false;
        o += (size_t)w;
    }
    return true;
}

/* The parameters PostgreSQL reports with ParameterStatus when they change
 * (GUC_REPORT) and that a client can SET. */
static const char *const session_reported[] = {
    "application_name", "client_encoding",  "DateStyle", "IntervalStyle",
    "TimeZone",         "standard_conforming_strings",
};

static const char *session_reported_name(const char *name)
{
    for (size_t i = 0; i < sizeof(session_reported) / sizeof(session_reported[0]); i++)
        if (strcasecmp(session_reported[i], name) == 0)
            return session_reported[i];
    return NULL;
}

/* ParameterStatus for `name` if PostgreSQL reports it, after the command's
 * CommandComplete (PostgreSQL sends it before the next ReadyForQuery). */
static void session_report(sqlite_query *q, const char *name)
{
    const char *reported = session_reported_name(name);
    const char *value = reported ? sqlite_session_get(q->c, reported) : NULL;
    if (value)
        wire_put_parameter_status(&q->job->out, reported, value);
}

static bool session_set(sqlite_query *q, const storage_stmt *s)
{
    const PgQuery__VariableSetStmt *v = s->node->variable_set_stmt;
    storage_conn *c = q->c;
    char err[400];
    const char *name = v->name ? v->name : "";
    switch (v->kind) {
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE: {
        char value[1024];
        if (!session_value(v, value, sizeof(value))) {
            snprintf(err, sizeof(err), "SET %s: value is not supported", name);
            sqlite_query_error(q, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED, err, NULL, 0);
            return false;
        }
        if (!sqlite_session_set(c, name, value, err, sizeof(err)))
            return session_fail(q, err);
        break;
    }
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_DEFAULT:
    case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET:
        if (!sqlite_session_set(c, name, NULL, err, sizeof(err)))
            return session_fail(q, err);
        break;
    case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL: {
        bool changed[sizeof(session_reported) / sizeof(session_reported[0])];
        for (size_t i = 0; i < sizeof(changed) / sizeof(changed[0]); i++)
            changed[i] = session_find(c, session_reported[i]) != NULL;
        sqlite_session_free(c);
        sqlite_query_complete(q, s->tag);
        for (size_t i = 0; i < sizeof(changed) / sizeof(changed[0]); i++)
            if (changed[i])
                session_report(q, session_reported[i]);
        return true;
    }
    case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_CURRENT:
        if (!sqlite_session_get(c, name)) {
            snprintf(err, sizeof(err), "[42704] unrecognized configuration parameter \"%s\"", name);
            return session_fail(q, err);
        }
        break;
    default: /* SET TRANSACTION ..., SET SESSION CHARACTERISTICS AS TRANSACTION ... */
        break;
    }
    sqlite_query_complete(q, s->tag);
    if (v->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE ||
        v->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_SET_DEFAULT ||
        v->kind == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET)
        session_report(q, name);
    return true;
}

bool sqlite_session_run(sqlite_query *q, const storage_stmt *s, bool describe)
{
    storage_conn *c = q->c;
    char msg[300];
    switch (s->node->node_case) {
    case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT:
        return session_set(q, s);
    case PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT:
        return session_show(q, s, describe);
    case PG_QUERY__NODE__NODE_DISCARD_STMT:
        if (s->node->discard_stmt->target == PG_QUERY__DISCARD_MODE__DISCARD_ALL) {
            if (c->tx_status != 'I' || q->multi) {
                sqlite_query_error(q, WIRE_SQLSTATE_ACTIVE_SQL_TRANSACTION,
                                   "DISCARD ALL cannot run inside a transaction block", NULL, 0);
                return false;
            }
            sqlite_session_free(c);
            sqlite_extended_deallocate(c, NULL);
        }
        break;
    case PG_QUERY__NODE__NODE_DEALLOCATE_STMT: {
        const char *name = s->node->deallocate_stmt->name;
        if (name && name[0] && !sqlite_extended_deallocate(c, name)) {
            snprintf(msg, sizeof(msg), "prepared statement \"%s\" does not exist", name);
            sqlite_query_error(q, WIRE_SQLSTATE_INVALID_SQL_STATEMENT_NAME, msg, NULL, 0);
            return false;
        }
        if (!name || !name[0])
            sqlite_extended_deallocate(c, NULL);
        break;
    }
    case PG_QUERY__NODE__NODE_CLOSE_PORTAL_STMT: {
        const char *name = s->node->close_portal_stmt->portalname;
        if (name && name[0]) { /* no SQL cursors here: none exists */
            snprintf(msg, sizeof(msg), "cursor \"%s\" does not exist", name);
            sqlite_query_error(q, WIRE_SQLSTATE_INVALID_CURSOR_NAME, msg, NULL, 0);
            return false;
        }
        break;
    }
    default: /* UNLISTEN: nothing is listening */
        break;
    }
    sqlite_query_complete(q, s->tag);
    return true;
}
