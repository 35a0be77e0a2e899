/*
 * sqlite_extended.c: PostgreSQL's extended query protocol on a SQLite
 * connection.
 *
 * Objects.  A connection keeps a list of prepared statements (the unnamed
 * one, "", is replaced by each Parse of it and destroyed by a simple Query)
 * and a list of portals (the unnamed one is replaced by each Bind).  A
 * statement holds its query text, its parse tree (exactly one statement, or
 * none: the empty query), the parameter types and one prepared sqlite3_stmt.
 * A portal is a statement with bound parameters and result formats; it runs
 * on the statement's sqlite3_stmt when no other portal has it, else on a
 * fresh one, so two portals never share bindings or a cursor.  Statements are
 * reference-counted: a portal keeps its statement alive after a Close.
 *
 *   message   effect                                        reply
 *   Parse     parse, classify, prepare, type parameters     ParseComplete
 *   Bind      convert and bind parameters, create portal    BindComplete
 *   Describe  S: parameter and column types                 ParameterDescription,
 *                                                            RowDescription | NoData
 *             P: column types with the bound formats        RowDescription | NoData
 *   Execute   step at most max_rows rows                    DataRow..., CommandComplete
 *                                                            | PortalSuspended | EmptyQuery
 *   Close     drop the statement or portal                  CloseComplete
 *   Sync      end the implicit block, portals if idle       ReadyForQuery
 *   Flush     nothing (the owner sends what the job wrote)
 *
 * Transactions.  Outside a transaction block, everything between two Syncs
 * is one implicit block, as in PostgreSQL: the first Execute of a statement
 * issues BEGIN, Sync commits, an error rolls back.  The block may span jobs
 * (a batch ending at Flush), so its flag lives on the connection.  Inside a
 * block the rules of sqlite_query.c apply unchanged (its functions are used).
 * Portals are destroyed when a transaction ends.
 *
 * Errors.  Any error sends ErrorResponse, fails the transaction as in
 * sqlite_query.c, and makes the connection skip every message up to the
 * next Sync, even across jobs (job->discarding tells the owner).
 *
 * Column types.  A portal's column types are fixed once, by Describe of the
 * portal or else by its first Execute, so that the DataRows always match the
 * RowDescription the client saw.  For a read-only SELECT, Describe of the
 * portal steps it to its first row (kept for Execute), so expression columns
 * get the type of their value as in the simple protocol.  Describe of a
 * statement cannot run it: expression columns are typed from the tree where
 * that is cheap (casts, literals, boolean expressions, integer arithmetic,
 * count()), else as text; once it has been sent, every portal of the
 * statement sends its values as those types (text: the value's text).
 * Parameters the client leaves untyped are typed from the tree: casts,
 * LIMIT/OFFSET, comparisons with, INSERT into and UPDATE SET of table
 * columns (their declared types), else text.
 */
#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dormouse/wire.h"
#include "pgbinary.h"
#include "sqlite_conn.h"
#include "sqlite_coltypes.h"
#include "sqlite_extended.h"
#include "sqlite_meter.h"
#include "sqlite_session.h"
#include "sqlite_query.h"
#include "catalog.h"
#include "translate.h"

#define SQLITE_EXT_SQLSTATE_DUPLICATE_CURSOR "42P03"

struct sqlite_prepared {
    sqlite_prepared *next;
    char *name;
    int refs;         /* one for the connection's list while in it, one per portal */
    char *sql;        /* the query text, NUL-terminated */
    char *sqlite_sql; /* its translation (translate.h); NULL: SQLite runs nothing */
    storage_parse parse;
    const storage_stmt *stmt; /* parse.stmts[0]; NULL for the empty query */
    sqlite3_stmt *st;         /* NULL when SQLite runs nothing (empty, transaction) */
    bool lent;                /* st is in use by a portal */
    bool writes;              /* needs the database's write lock */
    int nparams;
    uint32_t *param_types;
    sqlite_pg_type *desc_types; /* column types a Describe of it sent; NULL: not described */
    int desc_ncols;
};

struct sqlite_portal {
    sqlite_portal *next;
    char *name;
    sqlite_prepared *prep;
    sqlite3_stmt *st; /* prep->st (lent) or its own */
    int ncols;
    int16_t *formats;      /* per column: 0 text, 1 binary */
    sqlite_pg_type *types; /* per column, once typed */
    bool typed;
    bool has_row; /* st is on a row not sent yet */
    bool at_end;  /* st returned SQLITE_DONE (or failed): never step it again */
    bool done;    /* ran to completion */
};

typedef struct sqlite_ext {
    sqlite_query q;
    storage_conn *c;
    bool close_portals; /* a transaction ended: drop the portals after this message */
    bool suspended;     /* an Execute's output filled a part: c->ext_pending goes on */
} sqlite_ext;

/* Output after which an Execute stops and goes on in the next job, once
 * the owner's client has read what was sent (backpressure). */
#define SQLITE_EXT_STREAM_AT (256u * 1024u)

/* An Execute that stopped there, and the rest of its batch. */
struct sqlite_ext_pending {
    char *portal;
    uint64_t rows;  /* sent so far, for CommandComplete */
    uint64_t limit; /* the Execute's max_rows (UINT64_MAX: all) */
    uint8_t *rest;  /* the messages after the Execute */
    size_t rest_len;
};

static void ext_pending_free(struct sqlite_ext_pending *p)
{
    if (!p)
        return;
    free(p->portal);
    free(p->rest);
    free(p);
}

/* c->copying says a cancel must wait for the next job (storage_conn_interrupt). */
static void ext_set_pending(storage_conn *c, struct sqlite_ext_pending *p)
{
    pthread_mutex_lock(&c->lock);
    c->ext_pending = p;
    c->copying = p != NULL;
    pthread_mutex_unlock(&c->lock);
}

static bool ext_execute_rows(sqlite_ext *x, sqlite_portal *po, uint64_t rows, uint64_t limit);

/* ---- objects ---- */

static void prepared_unref(sqlite_prepared *p)
{
    if (!p || --p->refs > 0)
        return;
    sqlite3_finalize(p->st);
    storage_parse_free(&p->parse);
    free(p->param_types);
    free(p->desc_types);
    free(p->sqlite_sql);
    free(p->sql);
    free(p->name);
    free(p);
}

static sqlite_prepared *prepared_find(storage_conn *c, const char *name)
{
    for (sqlite_prepared *p = c->prepared; p; p = p->next)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

static void prepared_remove(storage_conn *c, const char *name)
{
    for (sqlite_prepared **pp = &c->prepared; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->name, name) == 0) {
            sqlite_prepared *p = *pp;
            *pp = p->next;
            prepared_unref(p);
            return;
        }
    }
}

static void portal_free(sqlite_portal *po)
{
    if (!po)
        return;
    if (po->st && po->prep && po->st == po->prep->st) {
        sqlite3_reset(po->st);
        sqlite3_clear_bindings(po->st);
        po->prep->lent = false;
    } else {
        sqlite3_finalize(po->st);
    }
    prepared_unref(po->prep);
    free(po->formats);
    free(po->types);
    free(po->name);
    free(po);
}

static sqlite_portal *portal_find(storage_conn *c, const char *name)
{
    for (sqlite_portal *p = c->portals; p; p = p->next)
        if (strcmp(p->name, name) == 0)
            return p;
    return NULL;
}

static void portal_remove(storage_conn *c, const char *name)
{
    for (sqlite_portal **pp = &c->portals; *pp; pp = &(*pp)->next) {
        if (strcmp((*pp)->name, name) == 0) {
            sqlite_portal *p = *pp;
            *pp = p->next;
            portal_free(p);
            return;
        }
    }
}

static void portals_close_all(storage_conn *c)
{
    while (c->portals) {
        sqlite_portal *p = c->portals;
        c->portals = p->next;
        portal_free(p);
    }
}

/* Stops every portal but `keep` where it is: a transaction is about to end,
 * which destroys them, and SQLite cannot commit under a pending write. */
static void ext_portals_stop(storage_conn *c, const sqlite_portal *keep)
{
    for (sqlite_portal *po = c->portals; po; po = po->next) {
        if (po == keep || !po->st)
            continue;
        sqlite3_reset(po->st);
        po->has_row = false;
        po->at_end = po->done = true;
    }
}

void sqlite_extended_conn_clear(storage_conn *c)
{
    ext_pending_free(c->ext_pending);
    if (c->ext_pending)
        ext_set_pending(c, NULL);
    portals_close_all(c);
    while (c->prepared) {
        sqlite_prepared *p = c->prepared;
        c->prepared = p->next;
        prepared_unref(p);
    }
    c->ext_discarding = false;
    c->ext_implicit = false;
}

bool sqlite_extended_conn_unnamed_only(const storage_conn *c)
{
    for (const sqlite_prepared *p = c->prepared; p; p = p->next)
        if (p->name[0])
            return false;
    for (const sqlite_portal *po = c->portals; po; po = po->next)
        if (po->name[0])
            return false;
    return !c->ext_discarding && !c->ext_pending;
}

bool sqlite_extended_deallocate(storage_conn *c, const char *name)
{
    if (name)
        return prepared_find(c, name) ? (prepared_remove(c, name), true) : false;
    for (sqlite_prepared **pp = &c->prepared; *pp;) {
        sqlite_prepared *p = *pp;
        if (!p->name[0]) { /* the unnamed statement is not DEALLOCATE's */
            pp = &p->next;
            continue;
        }
        *pp = p->next;
        prepared_unref(p);
    }
    return true;
}

void sqlite_extended_before_query(storage_conn *c)
{
    portal_remove(c, "");
    prepared_remove(c, "");
    if (c->ext_implicit && c->handle) {
        /* A Query after Execute without Sync: PostgreSQL commits the
         * implicit block's work with the Query's own transaction. */
        if (sqlite_conn_exec(c, "COMMIT") != SQLITE_OK)
            sqlite_conn_rollback(c);
    }
    c->ext_implicit = false;
}

void sqlite_extended_after_query(storage_conn *c)
{
    if (c->tx_status == 'I')
        portals_close_all(c);
}

/* ---- replies ---- */

static bool ext_error(sqlite_ext *x, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool ext_error(sqlite_ext *x, const char *sqlstate, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sqlite_query_error(&x->q, sqlstate, msg, NULL, 0);
    return false;
}

static bool ext_aborted(sqlite_ext *x)
{
    return ext_error(x, WIRE_SQLSTATE_IN_FAILED_TRANSACTION,
                     "current transaction is aborted, commands ignored until end of transaction "
                     "block");
}

/* COMMIT, ROLLBACK and ROLLBACK TO may run in a failed block. */
static bool ext_exits_block(const storage_stmt *s)
{
    return s && s->kind == STORAGE_STMT_TRANSACTION &&
           (s->tx == STORAGE_TX_COMMIT || s->tx == STORAGE_TX_ROLLBACK ||
            s->tx == STORAGE_TX_ROLLBACK_TO);
}


/* ---- parameter types from the parse tree ---- */

#define EXT_SCAN_TABLES 16

typedef struct ext_param_scan {
    sqlite3 *db;            /* for the declared types of table columns */
    bool collecting;        /* first pass: tables only */
    int ntables;            /* tables the statement names (FROM, INSERT INTO, UPDATE, ...) */
    const PgQuery__RangeVar *tables[EXT_SCAN_TABLES];
    int max_ref;            /* highest $n */
    uint32_t inferred[256]; /* $1..$256: a type the tree implies, 0 = none */
} ext_param_scan;

static void scan_note(ext_param_scan *ps, int n, uint32_t oid)
{
    if (n >= 1 && n <= (int)(sizeof(ps->inferred) / sizeof(ps->inferred[0])) &&
        !ps->inferred[n - 1])
        ps->inferred[n - 1] = oid;
}

static int scan_param_number(const PgQuery__Node *n)
{
    return n && n->node_case == PG_QUERY__NODE__NODE_PARAM_REF ? n->param_ref->number : 0;
}

/* The OID of the declared type of column `col` of table `rel`; 0: no such
 * column, or a table SQLite does not know. */
static uint32_t scan_table_column(ext_param_scan *ps, const PgQuery__RangeVar *rel, const char *col)
{
    const char *decl = NULL;
    if (!ps->db || !rel || !rel->relname || !col)
        return 0;
    const char *schema = rel->schemaname && rel->schemaname[0] ? rel->schemaname : NULL;
    if (schema && strcmp(schema, "public") == 0)
        schema = NULL;
    if (sqlite3_table_column_metadata(ps->db, schema, rel->relname, col, &decl, NULL, NULL, NULL,
                                      NULL) != SQLITE_OK)
        return 0;
    sqlite_pg_type t;
    sqlite_type_from_decltype(decl, &t); /* no or an unknown declared type: text */
    return t.oid;
}

/* The declared type of a column reference (col, or tbl.col) among the
 * statement's tables; 0 when unknown. */
static uint32_t scan_column_ref(ext_param_scan *ps, const PgQuery__Node *n)
{
    if (!n || n->node_case != PG_QUERY__NODE__NODE_COLUMN_REF)
        return 0;
    const PgQuery__ColumnRef *cr = n->column_ref;
    if (cr->n_fields < 1 || cr->n_fields > 2)
        return 0;
    for (size_t i = 0; i < cr->n_fields; i++)
        if (cr->fields[i]->node_case != PG_QUERY__NODE__NODE_STRING)
            return 0;
    const char *col = cr->fields[cr->n_fields - 1]->string->sval;
    const char *qual = cr->n_fields == 2 ? cr->fields[0]->string->sval : NULL;
    for (int i = 0; i < ps->ntables; i++) {
        const PgQuery__RangeVar *rv = ps->tables[i];
        if (qual) {
            const char *alias = rv->alias && rv->alias->aliasname ? rv->alias->aliasname : NULL;
            if (alias ? strcmp(alias, qual) != 0 : strcmp(rv->relname, qual) != 0)
                continue;
        }
        uint32_t oid = scan_table_column(ps, rv, col);
        if (oid)
            return oid;
    }
    return 0;
}

/* $n::type: the cast's type, when PostgreSQL's name for it is one we know. */
static void scan_cast(ext_param_scan *ps, const PgQuery__TypeCast *tc)
{
    if (!tc->arg || tc->arg->node_case != PG_QUERY__NODE__NODE_PARAM_REF || !tc->type_name ||
        tc->type_name->n_names == 0 || tc->type_name->n_array_bounds > 0)
        return;
    const PgQuery__Node *last = tc->type_name->names[tc->type_name->n_names - 1];
    if (last->node_case != PG_QUERY__NODE__NODE_STRING || !last->string->sval)
        return;
    sqlite_pg_type t;
    if (sqlite_type_from_decltype(last->string->sval, &t))
        scan_note(ps, tc->arg->param_ref->number, t.oid);
}

static void scan_limit(ext_param_scan *ps, const PgQuery__Node *n)
{
    if (n && n->node_case == PG_QUERY__NODE__NODE_PARAM_REF)
        scan_note(ps, n->param_ref->number, WIRE_OID_INT8);
}

/* col op $n, $n op col, col IN ($n, ...), col BETWEEN $n AND $m: the
 * column's declared type. */
static void scan_a_expr(ext_param_scan *ps, const PgQuery__AExpr *e)
{
    switch (e->kind) {
    case PG_QUERY__A__EXPR__KIND__AEXPR_OP:
    case PG_QUERY__A__EXPR__KIND__AEXPR_DISTINCT:
    case PG_QUERY__A__EXPR__KIND__AEXPR_NOT_DISTINCT:
    case PG_QUERY__A__EXPR__KIND__AEXPR_NULLIF:
    case PG_QUERY__A__EXPR__KIND__AEXPR_LIKE:
    case PG_QUERY__A__EXPR__KIND__AEXPR_ILIKE: {
        int n = scan_param_number(e->rexpr);
        const PgQuery__Node *other = e->lexpr;
        if (!n) {
            n = scan_param_number(e->lexpr);
            other = e->rexpr;
        }
        if (n) {
            uint32_t oid = scan_column_ref(ps, other);
            if (oid)
                scan_note(ps, n, oid);
        }
        break;
    }
    case PG_QUERY__A__EXPR__KIND__AEXPR_IN:
    case PG_QUERY__A__EXPR__KIND__AEXPR_BETWEEN:
    case PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN:
        if (e->rexpr && e->rexpr->node_case == PG_QUERY__NODE__NODE_LIST) {
            uint32_t oid = scan_column_ref(ps, e->lexpr);
            const PgQuery__List *l = e->rexpr->list;
            for (size_t i = 0; oid && i < l->n_items; i++) {
                int n = scan_param_number(l->items[i]);
                if (n)
                    scan_note(ps, n, oid);
            }
        }
        break;
    default:
        break;
    }
}

/* INSERT INTO t [(cols)] VALUES ($1, ...): the columns' declared types. */
static void scan_insert(ext_param_scan *ps, const PgQuery__InsertStmt *ins)
{
    const PgQuery__Node *sel = ins->select_stmt;
    if (!ins->relation || !sel || sel->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
        return;
    const PgQuery__SelectStmt *ss = sel->select_stmt;
    if (ss->n_values_lists == 0)
        return;
    /* the target columns' types, in order */
    uint32_t types[64] = {0};
    size_t ntypes = 0;
    if (ins->n_cols) {
        for (size_t i = 0; i < ins->n_cols && i < 64; i++) {
            const PgQuery__Node *c = ins->cols[i];
            if (c->node_case == PG_QUERY__NODE__NODE_RES_TARGET && c->res_target->name &&
                c->res_target->n_indirection == 0)
                types[i] = scan_table_column(ps, ins->relation, c->res_target->name);
            ntypes = i + 1;
        }
    } else if (ps->db && ins->relation->relname) {
        sqlite3_stmt *st = NULL;
        if (sqlite3_prepare_v2(ps->db, "SELECT type FROM pragma_table_info(?1)", -1, &st, NULL) ==
            SQLITE_OK) {
            sqlite3_bind_text(st, 1, ins->relation->relname, -1, SQLITE_STATIC);
            while (ntypes < 64 && sqlite3_step(st) == SQLITE_ROW) {
                sqlite_pg_type t;
                sqlite_type_from_decltype((const char *)sqlite3_column_text(st, 0), &t);
                types[ntypes++] = t.oid;
            }
        }
        sqlite3_finalize(st);
    }
    for (size_t r = 0; r < ss->n_values_lists; r++) {
        const PgQuery__Node *row = ss->values_lists[r];
        if (row->node_case != PG_QUERY__NODE__NODE_LIST)
            continue;
        for (size_t i = 0; i < row->list->n_items && i < ntypes; i++) {
            int n = scan_param_number(row->list->items[i]);
            if (n && types[i])
                scan_note(ps, n, types[i]);
        }
    }
}

/* UPDATE t SET col = $n: the column's declared type. */
static void scan_update(ext_param_scan *ps, const PgQuery__UpdateStmt *up)
{
    for (size_t i = 0; up->relation && i < up->n_target_list; i++) {
        const PgQuery__Node *t = up->target_list[i];
        if (t->node_case != PG_QUERY__NODE__NODE_RES_TARGET || t->res_target->n_indirection)
            continue;
        int n = scan_param_number(t->res_target->val);
        uint32_t oid = n ? scan_table_column(ps, up->relation, t->res_target->name) : 0;
        if (oid)
            scan_note(ps, n, oid);
    }
}

/* Visits every message of the tree through protobuf-c's descriptors, so no
 * node type can be missed.  The first pass (collecting) gathers the tables
 * the statement names; the second ParamRef numbers, casts of parameters,
 * LIMIT/OFFSET parameters (int8, as PostgreSQL infers them), and parameters
 * compared with, inserted into or assigned to table columns. */
static void scan_tree(ext_param_scan *ps, const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (ps->collecting) {
        if (d == &pg_query__range_var__descriptor) {
            const PgQuery__RangeVar *rv = (const PgQuery__RangeVar *)m;
            if (rv->relname && rv->relname[0] && ps->ntables < EXT_SCAN_TABLES)
                ps->tables[ps->ntables++] = rv;
        }
    } else if (d == &pg_query__param_ref__descriptor) {
        int n = ((const PgQuery__ParamRef *)m)->number;
        if (n > ps->max_ref)
            ps->max_ref = n;
    } else if (d == &pg_query__type_cast__descriptor) {
        scan_cast(ps, (const PgQuery__TypeCast *)m);
    } else if (d == &pg_query__select_stmt__descriptor) {
        scan_limit(ps, ((const PgQuery__SelectStmt *)m)->limit_count);
        scan_limit(ps, ((const PgQuery__SelectStmt *)m)->limit_offset);
    } else if (d == &pg_query__a__expr__descriptor) {
        scan_a_expr(ps, (const PgQuery__AExpr *)m);
    } else if (d == &pg_query__insert_stmt__descriptor) {
        scan_insert(ps, (const PgQuery__InsertStmt *)m);
    } else if (d == &pg_query__update_stmt__descriptor) {
        scan_update(ps, (const PgQuery__UpdateStmt *)m);
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        const char *base = (const char *)m;
        if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            if (*(const uint32_t *)(base + f->quantifier_offset) != f->id)
                continue;
        }
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            ProtobufCMessage *const *items = *(ProtobufCMessage *const *const *)(base + f->offset);
            for (size_t k = 0; k < n; k++)
                if (items[k])
                    scan_tree(ps, items[k]);
        } else {
            const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)(base + f->offset);
            if (sub)
                scan_tree(ps, sub);
        }
    }
}

/* ---- Parse ---- */

/* Prepares the statement's SQLite text (the translation made at Parse);
 * refuses text SQLite reads as several statements, as sqlite_query.c does. */
static bool ext_prepare_sql(sqlite_ext *x, const sqlite_prepared *p, bool persistent,
                            sqlite3_stmt **out)
{
    sqlite3 *db = x->c->handle;
    const char *text = p->sqlite_sql;
    const char *end = text + strlen(text);
    const char *tail = NULL;
    *out = NULL;
    int rc = sqlite3_prepare_v3(db, text, (int)(end - text),
                                persistent ? SQLITE_PREPARE_PERSISTENT : 0, out, &tail);
    if (rc != SQLITE_OK) {
        sqlite_query_handle_error(&x->q);
        return false;
    }
    if (tail && tail < end) {
        sqlite3_stmt *extra = NULL;
        rc = sqlite3_prepare_v2(db, tail, (int)(end - tail), &extra, NULL);
        sqlite3_finalize(extra);
        if (rc != SQLITE_OK || extra) {
            sqlite3_finalize(*out);
            *out = NULL;
            sqlite_query_error(&x->q, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED,
                               "statement is not supported by the SQLite engine",
                               "SQLite reads it as more than one statement.", 0);
            return false;
        }
    }
    return true;
}

static bool ext_parse(sqlite_ext *x, const wire_frame *f)
{
    wire_parse_msg m;
    storage_conn *c = x->c;
    if (!wire_parse_parse(f, &m))
        return ext_error(x, WIRE_SQLSTATE_PROTOCOL_VIOLATION, "invalid Parse message format");
    if (m.name[0] && prepared_find(c, m.name))
        return ext_error(x, WIRE_SQLSTATE_DUPLICATE_PREPARED_STATEMENT,
                         "prepared statement \"%s\" already exists", m.name);

    sqlite_prepared *p = calloc(1, sizeof(*p));
    if (!p || !(p->name = strdup(m.name)) || !(p->sql = strndup(m.query, m.query_len))) {
        if (p) {
            free(p->name);
            free(p);
        }
        return ext_error(x, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
    }
    p->refs = 1;
    storage_parse_error perr;
    if (!storage_parse_cached(c->db->engine->parses, p->sql, &p->parse, &perr)) {
        sqlite_query_error(&x->q, perr.sqlstate, perr.message, NULL, perr.position);
        prepared_unref(p);
        return false;
    }
    if (p->parse.n > 1) {
        prepared_unref(p);
        return ext_error(x, WIRE_SQLSTATE_SYNTAX_ERROR,
                         "cannot insert multiple commands into a prepared statement");
    }
    p->stmt = p->parse.n ? &p->parse.stmts[0] : NULL;
    if (c->tx_status == 'E' && !ext_exits_block(p->stmt)) {
        prepared_unref(p);
        return ext_aborted(x);
    }
    p->writes = p->stmt && storage_stmt_kind_writes(p->stmt->kind);

    ext_param_scan *ps = calloc(1, sizeof(*ps));
    if (!ps) {
        prepared_unref(p);
        return ext_error(x, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
    }
    if (p->parse.tree) {
        ps->db = c->handle;
        ps->collecting = true;
        scan_tree(ps, &p->parse.tree->base);
        ps->collecting = false;
        scan_tree(ps, &p->parse.tree->base);
    }
    p->nparams = ps->max_ref > m.ntypes ? ps->max_ref : m.ntypes;
    if (p->nparams > UINT16_MAX) {
        free(ps);
        prepared_unref(p);
        return ext_error(x, WIRE_SQLSTATE_PROGRAM_LIMIT_EXCEEDED,
                         "number of parameters must be between 0 and 65535");
    }
    p->param_types = calloc((size_t)p->nparams + 1, sizeof(uint32_t));
    if (!p->param_types) {
        free(ps);
        prepared_unref(p);
        return ext_error(x, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
    }
    for (int i = 0; i < p->nparams; i++) {
        uint32_t t = wire_parse_param_type(&m, (uint16_t)i);
        if (!t && i < (int)(sizeof(ps->inferred) / sizeof(ps->inferred[0])))
            t = ps->inferred[i];
        p->param_types[i] = t ? t : WIRE_OID_TEXT;
    }
    free(ps);

    if (p->stmt && p->stmt->kind != STORAGE_STMT_TRANSACTION &&
        p->stmt->kind != STORAGE_STMT_SESSION) {
        /* SQLite runs the translation of the statement's tree, as in
         * sqlite_query.c; an empty translation runs nothing. */
        storage_translate_error terr;
        bool catalog = false;
        sqlite_meter_pause(c, true);
        bool failed =
            !sqlite_query_translate(c->handle, p->stmt, &p->sqlite_sql, &catalog, &terr) ||
            (catalog && catalog_ensure(c->handle, terr.message, sizeof(terr.message)) != SQLITE_OK);
        sqlite_meter_pause(c, false);
        if (failed) {
            sqlite_query_error(&x->q, terr.sqlstate ? terr.sqlstate : WIRE_SQLSTATE_INTERNAL_ERROR,
                               terr.message, NULL, 0);
            prepared_unref(p);
            return false;
        }
        if (!p->sqlite_sql[0]) {
            free(p->sqlite_sql);
            p->sqlite_sql = NULL;
        } else if (!ext_prepare_sql(x, p, p->name[0] != '\0', &p->st)) {
            prepared_unref(p);
            return false;
        }
    }
    if (!p->name[0])
        prepared_remove(c, "");
    p->next = c->prepared;
    c->prepared = p;
    wire_put_parse_complete(&x->q.job->out);
    return true;
}

/* ---- Bind: parameter conversion ---- */

/* PostgreSQL's int2in/int4in/int8in: optional spaces, sign, digits, spaces. */
static bool ext_parse_int(const char *s, size_t n, int64_t lo, int64_t hi, int64_t *out,
                          bool *range)
{
    size_t i = 0;
    *range = false;
    while (i < n && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')))
        i++;
    bool neg = false;
    if (i < n && (s[i] == '-' || s[i] == '+'))
        neg = s[i++] == '-';
    if (i >= n || s[i] < '0' || s[i] > '9')
        return false;
    uint64_t v = 0;
    bool over = false;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        if (v > (UINT64_MAX - 9) / 10)
            over = true;
        else
            v = v * 10 + (uint64_t)(s[i] - '0');
    }
    while (i < n && (s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r')))
        i++;
    if (i != n)
        return false;
    if (over || (neg ? v > (uint64_t)INT64_MAX + 1 : v > (uint64_t)INT64_MAX)) {
        *range = true;
        return false;
    }
    int64_t r = neg ? (int64_t)(0 - v) : (int64_t)v;
    if (r < lo || r > hi) {
        *range = true;
        return false;
    }
    *out = r;
    return true;
}

/* PostgreSQL's boolin: trimmed, case-insensitive, unique prefixes of true,
 * false, yes, no; on, off (two letters at least); 1, 0. */
static bool ext_parse_bool(const char *s, size_t n, bool *out)
{
    while (n && (*s == ' ' || (*s >= '\t' && *s <= '\r'))) {
        s++;
        n--;
    }
    while (n && (s[n - 1] == ' ' || (s[n - 1] >= '\t' && s[n - 1] <= '\r')))
        n--;
    static const struct {
        const char *word;
        size_t min;
        bool value;
    } words[] = {{"true", 1, true}, {"false", 1, false}, {"yes", 1, true}, {"no", 1, false},
                 {"on", 2, true},   {"off", 2, false},   {"1", 1, true},   {"0", 1, false}};
    if (n == 0)
        return false;
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (n >= words[i].min && n <= strlen(words[i].word) &&
            strncasecmp(s, words[i].word, n) == 0) {
            *out = words[i].value;
            return true;
        }
    }
    return false;
}

static bool ext_parse_double(const char *s, size_t n, double *out)
{
    char buf[512];
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    double d = strtod(buf, &end);
    if (end == buf)
        return false;
    while (*end == ' ' || (*end >= '\t' && *end <= '\r'))
        end++;
    if (*end)
        return false;
    if (errno == ERANGE && isinf(d))
        return false;
    *out = d;
    return true;
}

static uint64_t ext_be(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Binds text to st at idx (0: nothing to bind). */
static bool ext_bind_text(sqlite_ext *x, sqlite3_stmt *st, int idx, const wire_buf *text)
{
    if (text->oom)
        return ext_error(x, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
    if (idx && sqlite3_bind_text64(st, idx, text->len ? (const char *)text->data : "", text->len,
                                   SQLITE_TRANSIENT, SQLITE_UTF8) != SQLITE_OK) {
        sqlite_query_handle_error(&x->q);
        return false;
    }
    return true;
}

/* Parameter n of a type the engine keeps as PostgreSQL's text (numeric,
 * uuid, date/time), received in binary: bound as the text PostgreSQL would
 * print for it, so that it compares with the values stored as text. */
static bool ext_bind_binary_as_text(sqlite_ext *x, sqlite3_stmt *st, int idx, int n, uint32_t oid,
                                    const wire_value *v)
{
    wire_buf text;
    wire_buf_init(&text);
    pgbin_status ps = pgbin_decode(oid, v->data, (size_t)v->len, &text);
    bool ok;
    if (ps == PGBIN_OK) {
        ok = ext_bind_text(x, st, idx, &text);
    } else if (ps == PGBIN_BINARY) {
        ok = ext_error(x, WIRE_SQLSTATE_INVALID_BINARY_REPRESENTATION,
                       "incorrect binary data format in bind parameter %d", n);
    } else {
        char msg[256];
        pgbin_message(oid, ps, NULL, 0, msg, sizeof(msg));
        ok = ext_error(x, pgbin_sqlstate(oid, ps), "%s", msg);
    }
    wire_buf_free(&text);
    return ok;
}

/* A text parameter of a type the engine keeps as PostgreSQL's text
 * (numeric, uuid, date/time): bound as PostgreSQL's output of the value, so
 * that values compare as text whatever form the client wrote ('1.5e3' ->
 * '1500', never a double; 'A0EEBC99...' -> 'a0eebc99-...'; '...+05' -> UTC).
 * Numeric and uuid are checked as their input functions do.  Date/time text
 * that pgbinary.c does not read (PostgreSQL takes more forms, e.g. 'now',
 * 'Jan 5 2020') goes through as written; a field out of range fails. */
static bool ext_bind_text_normalized(sqlite_ext *x, sqlite3_stmt *st, int idx, uint32_t oid,
                                     const char *s, size_t len)
{
    wire_buf text;
    wire_buf_init(&text);
    pgbin_status ps = pgbin_normalize(oid, s, len, &text);
    bool ok;
    if (ps == PGBIN_OK) {
        ok = ext_bind_text(x, st, idx, &text);
    } else if (ps == PGBIN_SYNTAX && oid != WIRE_OID_NUMERIC && oid != WIRE_OID_UUID) {
        ok = !idx ||
             sqlite3_bind_text64(st, idx, s, len, SQLITE_TRANSIENT, SQLITE_UTF8) == SQLITE_OK;
        if (!ok)
            sqlite_query_handle_error(&x->q);
    } else {
        char msg[256];
        pgbin_message(oid, ps, s, len, msg, sizeof(msg));
        ok = ext_error(x, pgbin_sqlstate(oid, ps), "%s", msg);
    }
    wire_buf_free(&text);
    return ok;
}

/* Binds parameter n (1-based) of value v, format fmt, type oid to st at idx
 * (0: the statement does not use it; still converted, so errors show). */
static bool ext_bind_one(sqlite_ext *x, sqlite3_stmt *st, int idx, int n, uint32_t oid, int fmt,
                         const wire_value *v)
{
    int rc = SQLITE_OK;
    if (!v->data) {
        if (idx)
            rc = sqlite3_bind_null(st, idx);
        goto out;
    }
    const char *s = (const char *)v->data;
    size_t len = (size_t)v->len;

    if (fmt == 1) {
        switch (oid) {
        case WIRE_OID_INT2:
        case WIRE_OID_INT4:
        case WIRE_OID_INT8:
        case WIRE_OID_OID: {
            int want = oid == WIRE_OID_INT2 ? 2 : oid == WIRE_OID_INT8 ? 8 : 4;
            if ((int)len != want)
                return ext_error(x, WIRE_SQLSTATE_INVALID_BINARY_REPRESENTATION,
                                 "incorrect binary data format in bind parameter %d", n);
            uint64_t u = ext_be(v->data, want);
            int64_t i = oid == WIRE_OID_INT2   ? (int16_t)u
                        : oid == WIRE_OID_INT4 ? (int32_t)u
                        : oid == WIRE_OID_OID  ? (int64_t)(uint32_t)u
                                               : (int64_t)u;
            if (idx)
                rc = sqlite3_bind_int64(st, idx, i);
            break;
        }
        case WIRE_OID_FLOAT4:
        case WIRE_OID_FLOAT8: {
            int want = oid == WIRE_OID_FLOAT4 ? 4 : 8;
            if ((int)len != want)
                return ext_error(x, WIRE_SQLSTATE_INVALID_BINARY_REPRESENTATION,
                                 "incorrect binary data format in bind parameter %d", n);
            double d;
            if (want == 4) {
                uint32_t u = (uint32_t)ext_be(v->data, 4);
                float fl;
                memcpy(&fl, &u, 4);
                d = fl;
            } else {
                uint64_t u = ext_be(v->data, 8);
                memcpy(&d, &u, 8);
            }
            if (idx)
                rc = sqlite3_bind_double(st, idx, d);
            break;
        }
        case WIRE_OID_BOOL:
            if (len != 1)
                return ext_error(x, WIRE_SQLSTATE_INVALID_BINARY_REPRESENTATION,
                                 "incorrect binary data format in bind parameter %d", n);
            if (idx)
                rc = sqlite3_bind_int(st, idx, v->data[0] != 0);
            break;
        case WIRE_OID_BYTEA:
            if (idx)
                rc = sqlite3_bind_blob64(st, idx, v->data, len, SQLITE_TRANSIENT);
            break;
        case WIRE_OID_JSONB:
            if (len < 1 || v->data[0] != 1)
                return ext_error(x, WIRE_SQLSTATE_INVALID_BINARY_REPRESENTATION,
                                 "incorrect binary data format in bind parameter %d", n);
            if (idx)
                rc = sqlite3_bind_text64(st, idx, s + 1, len - 1, SQLITE_TRANSIENT, SQLITE_UTF8);
            break;
        case WIRE_OID_TEXT:
        case WIRE_OID_VARCHAR:
        case WIRE_OID_BPCHAR:
        case WIRE_OID_NAME:
        case WIRE_OID_JSON:
        case WIRE_OID_UNKNOWN:
            if (idx)
                rc = sqlite3_bind_text64(st, idx, s, len, SQLITE_TRANSIENT, SQLITE_UTF8);
            break;
        case WIRE_OID_NUMERIC:
        case WIRE_OID_UUID:
        case WIRE_OID_DATE:
        case WIRE_OID_TIME:
        case WIRE_OID_TIMETZ:
        case WIRE_OID_TIMESTAMP:
        case WIRE_OID_TIMESTAMPTZ:
        case WIRE_OID_INTERVAL:
            return ext_bind_binary_as_text(x, st, idx, n, oid, v);
        default:
            return ext_error(x, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED,
                             "binary format for parameters of type %s is not supported yet",
                             wire_type_name(oid));
        }
        goto out;
    }

    switch (oid) {
    case WIRE_OID_INT2:
    case WIRE_OID_INT4:
    case WIRE_OID_INT8:
    case WIRE_OID_OID: {
        int64_t lo = oid == WIRE_OID_INT2   ? INT16_MIN
                     : oid == WIRE_OID_INT4 ? INT32_MIN
                     : oid == WIRE_OID_OID  ? INT32_MIN
                                            : INT64_MIN;
        int64_t hi = oid == WIRE_OID_INT2   ? INT16_MAX
                     : oid == WIRE_OID_INT4 ? INT32_MAX
                     : oid == WIRE_OID_OID  ? UINT32_MAX
                                            : INT64_MAX;
        int64_t i;
        bool range;
        if (!ext_parse_int(s, len, lo, hi, &i, &range)) {
            if (range)
                return ext_error(x, WIRE_SQLSTATE_NUMERIC_VALUE_OUT_OF_RANGE,
                                 "value \"%.*s\" is out of range for type %s",
                                 (int)(len > 100 ? 100 : len), s, wire_type_name(oid));
            return ext_error(x, WIRE_SQLSTATE_INVALID_TEXT_REPRESENTATION,
                             "invalid input syntax for type %s: \"%.*s\"", wire_type_name(oid),
                             (int)(len > 100 ? 100 : len), s);
        }
        if (idx)
            rc = sqlite3_bind_int64(st, idx, i);
        break;
    }
    case WIRE_OID_NUMERIC:
    case WIRE_OID_UUID:
    case WIRE_OID_DATE:
    case WIRE_OID_TIME:
    case WIRE_OID_TIMETZ:
    case WIRE_OID_TIMESTAMP:
    case WIRE_OID_TIMESTAMPTZ:
    case WIRE_OID_INTERVAL:
        return ext_bind_text_normalized(x, st, idx, oid, s, len);
    case WIRE_OID_FLOAT4:
    case WIRE_OID_FLOAT8: {
        double d;
        if (!ext_parse_double(s, len, &d))
            return ext_error(x, WIRE_SQLSTATE_INVALID_TEXT_REPRESENTATION,
                             "invalid input syntax for type %s: \"%.*s\"", wire_type_name(oid),
                             (int)(len > 100 ? 100 : len), s);
        if (idx)
            rc = sqlite3_bind_double(st, idx, d);
        break;
    }
    case WIRE_OID_BOOL: {
        bool b;
        if (!ext_parse_bool(s, len, &b))
            return ext_error(x, WIRE_SQLSTATE_INVALID_TEXT_REPRESENTATION,
                             "invalid input syntax for type boolean: \"%.*s\"",
                             (int)(len > 100 ? 100 : len), s);
        if (idx)
            rc = sqlite3_bind_int(st, idx, b);
        break;
    }
    case WIRE_OID_BYTEA: {
        unsigned char *buf = malloc(len ? len : 1);
        size_t outlen;
        if (!buf)
            return ext_error(x, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
        if (!sqlite_bytea_decode(s, len, buf, &outlen)) {
            free(buf);
            return ext_error(x, WIRE_SQLSTATE_INVALID_TEXT_REPRESENTATION,
                             "invalid input syntax for type bytea");
        }
        if (idx)
            rc = sqlite3_bind_blob64(st, idx, buf, outlen, free);
        else
            free(buf);
        break;
    }
    default:
        if (idx)
            rc = sqlite3_bind_text64(st, idx, s, len, SQLITE_TRANSIENT, SQLITE_UTF8);
        break;
    }
out:
    if (rc != SQLITE_OK) {
        sqlite_query_handle_error(&x->q);
        return false;
    }
    return true;
}

static bool ext_bind(sqlite_ext *x, const wire_frame *f)
{
    wire_bind_msg m;
    storage_conn *c = x->c;
    if (!wire_bind_parse(f, &m))
        return ext_error(x, WIRE_SQLSTATE_PROTOCOL_VIOLATION, "invalid Bind message format");
    sqlite_prepared *p = prepared_find(c, m.statement);
    if (!p) {
        if (!m.statement[0])
            return ext_error(x, WIRE_SQLSTATE_INVALID_SQL_STATEMENT_NAME,
                             "unnamed prepared statement does not exist");
        return ext_error(x, WIRE_SQLSTATE_INVALID_SQL_STATEMENT_NAME,
                         "prepared statement \"%s\" does not exist", m.statement);
    }
    if (m.nformats > 1 && m.nformats != m.nparams)
        return ext_error(x, WIRE_SQLSTATE_PROTOCOL_VIOLATION,
                         "bind message has %u parameter formats but %u parameters", m.nformats,
                         m.nparams);
    if (m.nparams != p->nparams)
        return ext_error(x, WIRE_SQLSTATE_PROTOCOL_VIOLATION,
                         "bind message supplies %u parameters, but prepared statement \"%s\" "
                         "requires %d",
                         m.nparams, p->name, p->nparams);
    if (c->tx_status == 'E' && !ext_exits_block(p->stmt))
        return ext_aborted(x);
    if (m.portal[0] && portal_find(c, m.portal))
        return ext_error(x, SQLITE_EXT_SQLSTATE_DUPLICATE_CURSOR, "cursor \"%s\" already exists",
                         m.portal);
    for (uint16_t i = 0; i < m.nformats; i++) {
        int fc = wire_format_code(m.formats, m.nformats, i);
        if (fc != 0 && fc != 1)
            return ext_error(x, WIRE_SQLSTATE_INVALID_PARAMETER_VALUE,
                             "unsupported format code: %d", fc);
    }
    for (uint16_t i = 0; i < m.nresults; i++) {
        int fc = wire_format_code(m.results, m.nresults, i);
        if (fc != 0 && fc != 1)
            return ext_error(x, WIRE_SQLSTATE_INVALID_PARAMETER_VALUE,
                             "unsupported format code: %d", fc);
    }

    sqlite_portal *po = calloc(1, sizeof(*po));
    if (!po || !(po->name = strdup(m.portal))) {
        free(po);
        return ext_error(x, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
    }
    po->prep = p;
    p->refs++;
    bool ok = true;
    if (p->st && !p->lent) {
        po->st = p->st;
        p->lent = true;
    } else if (p->sqlite_sql) {
        ok = ext_prepare_sql(x, p, false, &po->st);
    }
    po->ncols = sqlite_query_result_columns(p->stmt, po->st);
    if (ok && m.nresults > 1 && m.nresults != po->ncols)
        ok = ext_error(x, WIRE_SQLSTATE_PROTOCOL_VIOLATION,
                       "bind message has %u result formats but query has %d columns", m.nresults,
                       po->ncols);
    if (ok && po->ncols > 0) {
        po->formats = calloc((size_t)po->ncols, sizeof(*po->formats));
        po->types = calloc((size_t)po->ncols, sizeof(*po->types));
        if (!po->formats || !po->types)
            ok = ext_error(x, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
        for (int i = 0; ok && i < po->ncols; i++)
            po->formats[i] = (int16_t)wire_format_code(m.results, m.nresults, (uint16_t)i);
    }
    wire_value *values = NULL;
    if (ok && m.nparams) {
        values = calloc(m.nparams, sizeof(*values));
        if (!values)
            ok = ext_error(x, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
        else
            wire_bind_values(&m, values);
    }
    for (uint16_t i = 0; ok && i < m.nparams; i++) {
        /* $n as the client wrote it, or ?n as the translator writes it */
        char pname[16];
        int idx = 0;
        if (po->st) {
            snprintf(pname, sizeof(pname), "$%u", i + 1u);
            idx = sqlite3_bind_parameter_index(po->st, pname);
            pname[0] = '?';
            if (!idx)
                idx = sqlite3_bind_parameter_index(po->st, pname);
        }
        ok = ext_bind_one(x, po->st, idx, i + 1, p->param_types[i],
                          wire_format_code(m.formats, m.nformats, i), &values[i]);
    }
    free(values);
    if (!ok) {
        portal_free(po);
        return false;
    }
    if (!po->name[0])
        portal_remove(c, "");
    po->next = c->portals;
    c->portals = po;
    wire_put_bind_complete(&x->q.job->out);
    return true;
}

/* ---- result columns ---- */

/* Can column type t be sent in binary format without misreading? */
static bool ext_binary_ok(const sqlite_pg_type *t)
{
    switch (t->oid) {
    case WIRE_OID_INT2:
    case WIRE_OID_INT4:
    case WIRE_OID_INT8:
    case WIRE_OID_OID:
    case WIRE_OID_FLOAT4:
    case WIRE_OID_FLOAT8:
    case WIRE_OID_BOOL:
    case WIRE_OID_BYTEA:
    case WIRE_OID_TEXT:
    case WIRE_OID_VARCHAR:
    case WIRE_OID_BPCHAR:
    case WIRE_OID_NAME:
    case WIRE_OID_JSON:
    case WIRE_OID_JSONB:
    case WIRE_OID_UNKNOWN:
        return true;
    }
    return pgbin_supports(t->oid);
}

static bool ext_reserve_cols(sqlite_ext *x, int n)
{
    sqlite_query *q = &x->q;
    if (n <= q->cols_cap)
        return true;
    sqlite_pg_type *t = realloc(q->types, (size_t)n * sizeof(*t));
    if (t)
        q->types = t;
    wire_column *cols = t ? realloc(q->cols, (size_t)n * sizeof(*cols)) : NULL;
    if (cols)
        q->cols = cols;
    storage_colname *names = cols ? realloc(q->names, (size_t)n * sizeof(*names)) : NULL;
    if (!names)
        return ext_error(x, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
    q->names = names;
    q->cols_cap = n;
    return true;
}

/* ---- column types without a row ---- */

/* Column names and types of a statement that has not run (Describe of a
 * statement): what sqlite_query_columns gives without a row (declared
 * types, PostgreSQL's types for expressions it knows, else text). */
static void ext_statement_columns(sqlite_ext *x, const sqlite_prepared *p, int ncols)
{
    sqlite_query_columns(p->stmt, p->st, ncols, false, x->q.names, x->q.types, x->q.cols);
}

/* Fixes the portal's column types (st positioned on a row when has_row),
 * checks the requested binary formats, and fills x->q.cols for a
 * RowDescription. */
static bool ext_portal_type(sqlite_ext *x, sqlite_portal *po)
{
    if (!ext_reserve_cols(x, po->ncols))
        return false;
    sqlite_query_columns(po->prep->stmt, po->st, po->ncols, po->has_row, x->q.names, x->q.types,
                         x->q.cols);
    const sqlite_prepared *p = po->prep;
    bool described = p->desc_types && p->desc_ncols == po->ncols;
    for (int i = 0; i < po->ncols; i++) {
        if (described) {
            /* the client was told these types by a Describe of the statement:
             * the values go as those, whatever the first row holds */
            x->q.types[i] = p->desc_types[i];
            x->q.cols[i].type_oid = p->desc_types[i].oid;
            x->q.cols[i].type_len = p->desc_types[i].len;
            x->q.cols[i].type_mod = p->desc_types[i].typmod;
        }
        po->types[i] = x->q.types[i];
        x->q.cols[i].format = po->formats[i];
        if (po->formats[i] == 1 && !ext_binary_ok(&po->types[i]))
            return ext_error(x, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED,
                             "binary output of type %s is not supported yet",
                             wire_type_name(po->types[i].oid));
    }
    po->typed = true;
    return true;
}

/* Steps the portal's statement once; on failure reports the error. */
static int ext_step(sqlite_ext *x, sqlite_portal *po)
{
    int rc = sqlite3_step(po->st);
    if (rc == SQLITE_ROW) {
        po->has_row = true;
        return rc;
    }
    po->has_row = false;
    po->at_end = true;
    if (rc != SQLITE_DONE) {
        char msg[512];
        int err = sqlite3_extended_errcode(x->c->handle);
        snprintf(msg, sizeof(msg), "%s", sqlite3_errmsg(x->c->handle));
        sqlite3_reset(po->st);
        sqlite_query_sqlite_error(&x->q, err, msg);
    }
    return rc;
}

/* ---- Describe ---- */

static bool ext_describe(sqlite_ext *x, const wire_frame *f)
{
    wire_target_msg m;
    storage_conn *c = x->c;
    wire_buf *out = &x->q.job->out;
    if (!wire_describe_parse(f, &m))
        return ext_error(x, WIRE_SQLSTATE_PROTOCOL_VIOLATION, "invalid Describe message format");

    if (m.kind == 'S') {
        sqlite_prepared *p = prepared_find(c, m.name);
        if (!p) {
            if (!m.name[0])
                return ext_error(x, WIRE_SQLSTATE_INVALID_SQL_STATEMENT_NAME,
                                 "unnamed prepared statement does not exist");
            return ext_error(x, WIRE_SQLSTATE_INVALID_SQL_STATEMENT_NAME,
                             "prepared statement \"%s\" does not exist", m.name);
        }
        wire_put_parameter_description(out, p->param_types, p->nparams);
        if (sqlite_session_describe(p->stmt, out)) /* SHOW */
            return true;
        int ncols = sqlite_query_result_columns(p->stmt, p->st);
        if (ncols == 0) {
            wire_put_no_data(out);
            return true;
        }
        if (!ext_reserve_cols(x, ncols))
            return false;
        /* A lent statement may be on a row: its decltypes do not depend on
         * it, and without has_row nothing reads the row. */
        ext_statement_columns(x, p, ncols);
        /* The client now holds these types: portals of the statement send
         * their values as these types (ext_portal_type). */
        if (!p->desc_types || p->desc_ncols != ncols) {
            sqlite_pg_type *dt = realloc(p->desc_types, (size_t)ncols * sizeof(*dt));
            if (!dt)
                return ext_error(x, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
            p->desc_types = dt;
            p->desc_ncols = ncols;
        }
        memcpy(p->desc_types, x->q.types, (size_t)ncols * sizeof(*p->desc_types));
        wire_put_row_description(out, x->q.cols, ncols);
        return true;
    }

    sqlite_portal *po = portal_find(c, m.name);
    if (!po)
        return ext_error(x, WIRE_SQLSTATE_INVALID_CURSOR_NAME, "portal \"%s\" does not exist",
                         m.name);
    if (sqlite_session_describe(po->prep->stmt, out)) /* SHOW */
        return true;
    if (po->ncols == 0) {
        wire_put_no_data(out);
        return true;
    }
    if (!po->typed) {
        const storage_stmt *s = po->prep->stmt;
        if (!po->at_end && !po->has_row && s->kind == STORAGE_STMT_SELECT &&
            sqlite3_stmt_readonly(po->st)) {
            if (c->tx_status == 'I' && !x->q.implicit) {
                if (!sqlite_query_exec_ctl(&x->q, "BEGIN"))
                    return false;
                x->q.implicit = true;
            }
            int rc = ext_step(x, po);
            if (rc != SQLITE_ROW && rc != SQLITE_DONE)
                return false;
        }
        if (!ext_portal_type(x, po))
            return false;
    } else {
        /* described before: the same columns again */
        if (!ext_reserve_cols(x, po->ncols))
            return false;
        sqlite_query_columns(po->prep->stmt, po->st, po->ncols, false, x->q.names, x->q.types,
                             x->q.cols);
        for (int i = 0; i < po->ncols; i++) {
            x->q.cols[i].type_oid = po->types[i].oid;
            x->q.cols[i].type_len = po->types[i].len;
            x->q.cols[i].type_mod = po->types[i].typmod;
            x->q.cols[i].format = po->formats[i];
        }
    }
    wire_put_row_description(out, x->q.cols, po->ncols);
    return true;
}

/* ---- Execute ---- */

static void ext_put_be(wire_buf *out, uint64_t v, int n)
{
    uint8_t b[8];
    for (int i = 0; i < n; i++)
        b[i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    wire_data_row_field(out, b, n);
}

/* Column i of the current row in binary format (ext_binary_ok(t) holds); a
 * value that cannot be sent fills *e instead of the reply. */
typedef struct ext_value_error {
    const char *sqlstate;
    char message[256];
} ext_value_error;

static bool ext_value_fail(ext_value_error *e, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static bool ext_value_fail(ext_value_error *e, const char *sqlstate, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
    e->sqlstate = sqlstate;
    return false;
}

static bool ext_put_binary(sqlite_ext *x, sqlite3_stmt *st, int i, const sqlite_pg_type *t,
                           ext_value_error *e)
{
    wire_buf *out = &x->q.job->out;
    int cls = sqlite3_column_type(st, i);
    if (cls == SQLITE_NULL) {
        wire_data_row_field(out, NULL, -1);
        return true;
    }
    switch (t->oid) {
    case WIRE_OID_INT2:
    case WIRE_OID_INT4:
    case WIRE_OID_INT8:
    case WIRE_OID_OID: {
        int64_t v;
        if (cls == SQLITE_INTEGER) {
            v = sqlite3_column_int64(st, i);
        } else if (cls == SQLITE_FLOAT) {
            double d = sqlite3_column_double(st, i);
            if (!(d >= -9.2e18 && d <= 9.2e18) || d != (double)(int64_t)d)
                return ext_value_fail(e, WIRE_SQLSTATE_NUMERIC_VALUE_OUT_OF_RANGE,
                                      "%s out of range", wire_type_name(t->oid));
            v = (int64_t)d;
        } else {
            return ext_value_fail(e, WIRE_SQLSTATE_INVALID_TEXT_REPRESENTATION,
                                  "invalid input syntax for type %s: \"%.100s\"",
                                  wire_type_name(t->oid), (const char *)sqlite3_column_text(st, i));
        }
        int n = t->oid == WIRE_OID_INT2 ? 2 : t->oid == WIRE_OID_INT8 ? 8 : 4;
        bool fits = n == 8 || (n == 2 && v >= INT16_MIN && v <= INT16_MAX) ||
                    (t->oid == WIRE_OID_INT4 && v >= INT32_MIN && v <= INT32_MAX) ||
                    (t->oid == WIRE_OID_OID && v >= 0 && v <= UINT32_MAX);
        if (!fits)
            return ext_value_fail(e, WIRE_SQLSTATE_NUMERIC_VALUE_OUT_OF_RANGE, "%s out of range",
                                  wire_type_name(t->oid));
        ext_put_be(out, (uint64_t)v, n);
        return true;
    }
    case WIRE_OID_FLOAT4:
    case WIRE_OID_FLOAT8: {
        if (cls != SQLITE_INTEGER && cls != SQLITE_FLOAT)
            return ext_value_fail(e, WIRE_SQLSTATE_INVALID_TEXT_REPRESENTATION,
                                  "invalid input syntax for type %s: \"%.100s\"",
                                  wire_type_name(t->oid), (const char *)sqlite3_column_text(st, i));
        double d = sqlite3_column_double(st, i);
        if (t->oid == WIRE_OID_FLOAT4) {
            float fl = (float)d;
            uint32_t u;
            memcpy(&u, &fl, 4);
            ext_put_be(out, u, 4);
        } else {
            uint64_t u;
            memcpy(&u, &d, 8);
            ext_put_be(out, u, 8);
        }
        return true;
    }
    case WIRE_OID_BOOL: {
        /* the text output decides what the value means */
        const char *v = NULL;
        int32_t n = sqlite_value_format(t, st, i, &x->q.scratch, &x->q.scratch_cap, &v);
        if (n == -2)
            return ext_value_fail(e, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
        if (n != 1 || (v[0] != 't' && v[0] != 'f'))
            return ext_value_fail(e, WIRE_SQLSTATE_INVALID_TEXT_REPRESENTATION,
                                  "invalid input syntax for type boolean: \"%.*s\"",
                                  n > 100 ? 100 : (int)n, v);
        uint8_t b = v[0] == 't';
        wire_data_row_field(out, &b, 1);
        return true;
    }
    case WIRE_OID_BYTEA: {
        if (cls == SQLITE_TEXT) {
            /* a bytea literal kept as text: the bytes it stands for */
            const char *txt = (const char *)sqlite3_column_text(st, i);
            size_t n = (size_t)sqlite3_column_bytes(st, i);
            unsigned char *buf = malloc(n ? n : 1);
            size_t m;
            if (!txt || !buf) {
                free(buf);
                return ext_value_fail(e, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
            }
            if (!sqlite_bytea_decode(txt, n, buf, &m)) {
                memcpy(buf, txt, n);
                m = n;
            }
            wire_data_row_field(out, buf, (int32_t)m);
            free(buf);
            return true;
        }
        const void *p = sqlite3_column_blob(st, i);
        wire_data_row_field(out, p ? p : "", sqlite3_column_bytes(st, i));
        return true;
    }
    case WIRE_OID_NUMERIC:
    case WIRE_OID_UUID:
    case WIRE_OID_DATE:
    case WIRE_OID_TIME:
    case WIRE_OID_TIMETZ:
    case WIRE_OID_TIMESTAMP:
    case WIRE_OID_TIMESTAMPTZ:
    case WIRE_OID_INTERVAL: {
        /* the value's PostgreSQL text, packed as the type's *_send does */
        const char *v = NULL;
        int32_t n = sqlite_value_format(t, st, i, &x->q.scratch, &x->q.scratch_cap, &v);
        if (n == -2)
            return ext_value_fail(e, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
        size_t at = out->len;
        wire_buf_put_u32(out, 0); /* the field's length, patched below */
        pgbin_status ps = pgbin_encode(t->oid, v, n > 0 ? (size_t)n : 0, out);
        if (ps != PGBIN_OK) {
            char msg[256];
            pgbin_message(t->oid, ps, v, n > 0 ? (size_t)n : 0, msg, sizeof(msg));
            return ext_value_fail(e, pgbin_sqlstate(t->oid, ps), "%s", msg);
        }
        if (!out->oom) {
            uint32_t flen = (uint32_t)(out->len - at - 4);
            for (int k = 0; k < 4; k++)
                out->data[at + (size_t)k] = (uint8_t)(flen >> (8 * (3 - k)));
        }
        return true;
    }
    case WIRE_OID_JSONB:
    default: {
        /* text types: the characters of the text output (bpchar padded,
         * jsonb normalized); jsonb after its version byte */
        const char *v = NULL;
        int32_t n = sqlite_value_format(t, st, i, &x->q.scratch, &x->q.scratch_cap, &v);
        if (n == -2)
            return ext_value_fail(e, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
        if (n < 0)
            n = 0;
        if (t->oid == WIRE_OID_JSONB) {
            wire_buf_put_u32(out, (uint32_t)n + 1);
            wire_buf_put_u8(out, 1);
            wire_buf_append(out, v, (size_t)n);
        } else {
            wire_data_row_field(out, n ? v : "", n);
        }
        return true;
    }
    }
}

/* DataRow for the portal's current row.  A value that cannot be sent takes
 * the partial row back out of the reply and reports the error. */
static bool ext_data_row(sqlite_ext *x, sqlite_portal *po)
{
    wire_buf *out = &x->q.job->out;
    size_t start = wire_data_row_begin(out, (uint16_t)po->ncols);
    ext_value_error e = {.sqlstate = NULL};
    for (int i = 0; i < po->ncols; i++) {
        if (po->formats[i] == 1) {
            if (!ext_put_binary(x, po->st, i, &po->types[i], &e))
                break;
            continue;
        }
        const char *v = NULL;
        int32_t n =
            sqlite_value_format(&po->types[i], po->st, i, &x->q.scratch, &x->q.scratch_cap, &v);
        if (n == -2) {
            ext_value_fail(&e, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
            break;
        }
        wire_data_row_field(out, v, n);
    }
    if (e.sqlstate) {
        if (!out->oom)
            out->len = start;
        return ext_error(x, e.sqlstate, "%s", e.message);
    }
    wire_msg_end(out, start);
    return !out->oom;
}

static bool ext_execute(sqlite_ext *x, const wire_frame *f)
{
    wire_execute_msg m;
    storage_conn *c = x->c;
    wire_buf *out = &x->q.job->out;
    if (!wire_execute_parse(f, &m))
        return ext_error(x, WIRE_SQLSTATE_PROTOCOL_VIOLATION, "invalid Execute message format");
    sqlite_portal *po = portal_find(c, m.portal);
    if (!po)
        return ext_error(x, WIRE_SQLSTATE_INVALID_CURSOR_NAME, "portal \"%s\" does not exist",
                         m.portal);
    const storage_stmt *s = po->prep->stmt;
    storage_job_meter_query(x->q.job, &po->prep->parse, po->prep->sql);
    if (c->tx_status == 'E' && !ext_exits_block(s))
        return ext_aborted(x);
    if (atomic_load(&c->cancel))
        return ext_error(x, WIRE_SQLSTATE_QUERY_CANCELED,
                         "canceling statement due to user request");
    if (!s) {
        wire_put_empty_query(out);
        return true;
    }
    if (po->done) {
        if (s->kind != STORAGE_STMT_SELECT)
            return ext_error(x, WIRE_SQLSTATE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                             "portal \"%s\" cannot be run", po->name);
        sqlite_query_finish(&x->q, s, 0, 0); /* an exhausted cursor: SELECT 0 */
        return true;
    }
    if (s->kind == STORAGE_STMT_TRANSACTION) {
        po->done = true;
        if (s->tx == STORAGE_TX_COMMIT || s->tx == STORAGE_TX_ROLLBACK) {
            ext_portals_stop(c, po);
            x->close_portals = true;
        }
        return sqlite_query_transaction(&x->q, s);
    }
    if (s->kind == STORAGE_STMT_SESSION) {
        po->done = true;
        return sqlite_session_run(&x->q, s, false);
    }
    if (!po->st) { /* nothing SQLite would run */
        po->done = true;
        sqlite_query_complete(&x->q, s->tag);
        return true;
    }
    if (c->tx_status == 'I' && !x->q.implicit) {
        if (!sqlite_query_exec_ctl(&x->q, "BEGIN"))
            return false;
        x->q.implicit = true;
    }

    if (!po->typed && po->ncols > 0) {
        if (!po->has_row && !po->at_end) {
            int rc = ext_step(x, po);
            if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
                po->done = true;
                return false;
            }
        }
        if (!ext_portal_type(x, po))
            return false;
    }

    return ext_execute_rows(x, po, 0, m.max_rows > 0 ? (uint64_t)m.max_rows : UINT64_MAX);
}

/* Steps po's rows from `rows` (already sent) up to `limit`, then ends the
 * Execute: PortalSuspended, or CommandComplete once the rows are out.  A
 * part's worth of output suspends it (x->suspended, c->ext_pending). */
static bool ext_execute_rows(sqlite_ext *x, sqlite_portal *po, uint64_t rows, uint64_t limit)
{
    storage_conn *c = x->c;
    const storage_stmt *s = po->prep->stmt;
    wire_buf *out = &x->q.job->out;
    uint64_t first = rows;
    for (;;) {
        if (!po->has_row && !po->at_end && rows < limit && out->len >= SQLITE_EXT_STREAM_AT &&
            po->ncols > 0) {
            struct sqlite_ext_pending *p = calloc(1, sizeof(*p));
            if (p && (p->portal = strdup(po->name))) {
                p->rows = rows;
                p->limit = limit;
                ext_set_pending(c, p);
                x->suspended = true;
                x->q.job->rows_returned += rows - first;
                return true;
            }
            free(p); /* no memory: the rest goes out in this job */
        }
        if (!po->has_row) {
            if (po->at_end)
                break;
            if (rows == limit)
                break;
            int rc = ext_step(x, po);
            if (rc == SQLITE_DONE)
                break;
            if (rc != SQLITE_ROW) {
                po->done = true;
                x->q.job->rows_returned += rows - first;
                return false;
            }
        }
        if (po->ncols > 0) {
            if (!ext_data_row(x, po)) {
                po->done = true;
                x->q.job->rows_returned += rows - first;
                return false;
            }
            rows++;
        }
        po->has_row = false;
    }
    x->q.job->rows_returned += rows - first;
    if (!po->at_end) {
        wire_put_portal_suspended(out);
        return true;
    }
    po->done = true;
    int64_t changes = sqlite3_changes64(c->handle);
    sqlite3_reset(po->st);
    if (s->node->node_case == PG_QUERY__NODE__NODE_CREATE_STMT &&
        sqlite_coltypes_record(c->handle, s->node->create_stmt) != SQLITE_OK) {
        sqlite_query_handle_error(&x->q);
        return false;
    }
    sqlite_query_finish(&x->q, s, rows, changes);
    return true;
}

/* ---- Close, Sync ---- */

static bool ext_close(sqlite_ext *x, const wire_frame *f)
{
    wire_target_msg m;
    if (!wire_close_parse(f, &m))
        return ext_error(x, WIRE_SQLSTATE_PROTOCOL_VIOLATION, "invalid Close message format");
    /* closing what does not exist is not an error */
    if (m.kind == 'S')
        prepared_remove(x->c, m.name);
    else
        portal_remove(x->c, m.name);
    wire_put_close_complete(&x->q.job->out);
    return true;
}

static void ext_sync(sqlite_ext *x)
{
    storage_conn *c = x->c;
    if (x->q.implicit) {
        ext_portals_stop(c, NULL);
        sqlite_query_end_block(&x->q, true); /* reports a failed COMMIT itself */
    }
    c->ext_discarding = false;
    if (c->tx_status == 'I')
        portals_close_all(c);
    wire_put_ready(&x->q.job->out, c->tx_status);
}

/* ---- the batch ---- */

static bool ext_message(sqlite_ext *x, const wire_frame *f)
{
    bool ok;
    switch (f->type) {
    case 'P': /* what these look up is Dormouse's work, not the query's */
    case 'B':
    case 'D':
        sqlite_meter_pause(x->c, true);
        ok = f->type == 'P' ? ext_parse(x, f) : f->type == 'B' ? ext_bind(x, f) : ext_describe(x, f);
        sqlite_meter_pause(x->c, false);
        return ok;
    case 'E':
        return ext_execute(x, f);
    case 'C':
        return ext_close(x, f);
    case 'H':
        if (!wire_flush_parse(f))
            return ext_error(x, WIRE_SQLSTATE_PROTOCOL_VIOLATION, "invalid Flush message format");
        return true;
    default:
        return ext_error(x, WIRE_SQLSTATE_PROTOCOL_VIOLATION, "invalid frontend message type %d",
                         (unsigned char)f->type);
    }
}

/* Runs messages until they end or an Execute suspends: then the rest goes
 * to c->ext_pending (false: no memory for it). */
static void ext_run_msgs(sqlite_ext *x, const uint8_t *msgs, size_t len)
{
    storage_conn *c = x->c;
    size_t off = 0;
    while (off < len && !x->suspended) {
        wire_frame f;
        if (wire_frame_parse(msgs + off, len - off, UINT32_MAX, &f) != WIRE_FRAME_OK) {
            /* the owner framed these messages: a broken batch is a bug */
            if (!c->ext_discarding) {
                ext_error(x, WIRE_SQLSTATE_PROTOCOL_VIOLATION, "invalid message framing");
                sqlite_query_failed(&x->q);
                c->ext_discarding = true;
            }
            break;
        }
        off += f.total_len;
        if (f.type == 'S') {
            ext_sync(x); /* a Sync with a body is still a Sync */
            continue;
        }
        if (c->ext_discarding)
            continue;
        if (!ext_message(x, &f)) {
            sqlite_query_failed(&x->q);
            c->ext_discarding = true;
        }
        if (x->close_portals) {
            x->close_portals = false;
            if (c->tx_status == 'I')
                portals_close_all(c);
        }
    }
    if (x->suspended && off < len) {
        struct sqlite_ext_pending *p = c->ext_pending;
        p->rest = malloc(len - off);
        if (p->rest) {
            memcpy(p->rest, msgs + off, len - off);
            p->rest_len = len - off;
        } else { /* no memory to keep them: the batch fails at its Sync */
            x->q.job->out.oom = true;
        }
    }
}

/* What every run of extended messages ends with. */
static void ext_finish(sqlite_ext *x)
{
    storage_conn *c = x->c;
    storage_job *job = x->q.job;
    c->ext_implicit = x->q.implicit;
    job->discarding = c->ext_discarding;
    job->copy = c->ext_pending ? STORAGE_COPY_OUT : STORAGE_COPY_NONE;
    free(x->q.scratch);
    free(x->q.types);
    free(x->q.cols);
    free(x->q.names);
}

static void ext_run_batch(storage_job *job)
{
    storage_conn *c = job->conn;
    sqlite_ext x = {.c = c};
    x.q.job = job;
    x.q.c = c;
    x.q.implicit = c->ext_implicit;
    ext_run_msgs(&x, job->msgs, job->msgs_len);
    ext_finish(&x);
}

/* A COPY job after an Execute suspended: more of its rows, then the rest of
 * its batch (which may suspend again). */
static void ext_resume(storage_job *job)
{
    storage_conn *c = job->conn;
    struct sqlite_ext_pending *p = c->ext_pending;
    ext_set_pending(c, NULL);
    sqlite_ext x = {.c = c};
    x.q.job = job;
    x.q.c = c;
    x.q.implicit = c->ext_implicit;
    job->extended = true;
    sqlite_portal *po = portal_find(c, p->portal);
    bool ok;
    if (atomic_load(&c->cancel))
        ok = ext_error(&x, WIRE_SQLSTATE_QUERY_CANCELED,
                       atomic_load(&c->cancel_timeout) ? "canceling statement due to statement timeout"
                                                       : "canceling statement due to user request");
    else if (!po)
        ok = ext_error(&x, WIRE_SQLSTATE_INVALID_CURSOR_NAME, "portal \"%s\" does not exist",
                       p->portal);
    else
        ok = ext_execute_rows(&x, po, p->rows, p->limit);
    if (!ok) {
        sqlite_query_failed(&x.q);
        c->ext_discarding = true;
    }
    if (x.suspended) { /* again: the rest stays for later */
        c->ext_pending->rest = p->rest;
        c->ext_pending->rest_len = p->rest_len;
        p->rest = NULL;
    } else {
        ext_run_msgs(&x, p->rest, p->rest_len);
    }
    ext_pending_free(p);
    ext_finish(&x);
}

void sqlite_extended_resume(storage_job *job)
{
    storage_conn *c = job->conn;
    pthread_mutex_lock(&c->lock);
    c->active = c->handle;
    pthread_mutex_unlock(&c->lock);
    ext_resume(job);
    sqlite_conn_job_end(c);
}

void sqlite_extended_run(storage_job *job)
{
    storage_conn *c = job->conn;
    job->discarding = c->ext_discarding;
    if (!c->handle || !job->msgs) {
        wire_error e = {.severity = "ERROR",
                        .sqlstate = WIRE_SQLSTATE_INTERNAL_ERROR,
                        .message =
                            c->handle ? "extended job without messages" : "connection is not open"};
        wire_put_error(&job->out, &e);
        job->failed = true;
    } else {
        pthread_mutex_lock(&c->lock);
        c->active = c->handle; /* a cancel that came while queued stays set */
        pthread_mutex_unlock(&c->lock);
        ext_run_batch(job);
        pthread_mutex_lock(&c->lock);
        c->active = NULL;
        pthread_mutex_unlock(&c->lock);
    }
    sqlite_conn_job_end(c); /* whatever path the batch took */
}

/* ---- write lock ---- */

bool sqlite_extended_writes(const storage_job *job)
{
    /* Parse itself needs no lock (a client may prepare while another holds
     * the lock, and may wait for the answer before it does anything else);
     * binding a writing statement does.  Statements parsed earlier in the
     * batch are not in the connection's list yet: the most recent Parse of
     * a name decides. */
    typedef struct {
        const char *name;
        bool writes;
    } batch_stmt;
    batch_stmt parsed_here[16];
    size_t nparsed = 0;
    storage_conn *c = job->conn;
    size_t off = 0;
    while (job->msgs && off < job->msgs_len) {
        wire_frame f;
        if (wire_frame_parse(job->msgs + off, job->msgs_len - off, UINT32_MAX, &f) != WIRE_FRAME_OK)
            break;
        off += f.total_len;
        switch (f.type) {
        case 'P': {
            wire_parse_msg m;
            storage_parse parsed;
            storage_parse_error perr;
            if (!wire_parse_parse(&f, &m) || strlen(m.query) != m.query_len)
                break;
            bool writes = false;
            if (storage_parse_cached(job->conn->db->engine->parses, m.query, &parsed, &perr)) {
                writes = parsed.n == 1 && storage_stmt_kind_writes(parsed.stmts[0].kind);
                storage_parse_free(&parsed);
            }
            if (nparsed == sizeof(parsed_here) / sizeof(parsed_here[0])) {
                if (writes)
                    return true; /* too many to track: be safe */
                break;
            }
            parsed_here[nparsed++] = (batch_stmt){m.name, writes};
            break;
        }
        case 'B': {
            wire_bind_msg m;
            if (!wire_bind_parse(&f, &m))
                break;
            bool found = false;
            for (size_t i = nparsed; i-- > 0 && !found;) {
                if (strcmp(parsed_here[i].name, m.statement) == 0) {
                    found = true;
                    if (parsed_here[i].writes)
                        return true;
                }
            }
            const sqlite_prepared *p = found ? NULL : prepared_find(c, m.statement);
            if (p && p->writes)
                return true;
            break;
        }
        case 'E': {
            /* a portal bound in an earlier batch, continued */
            wire_execute_msg m;
            const sqlite_portal *po;
            if (wire_execute_parse(&f, &m) && (po = portal_find(c, m.portal)) != NULL &&
                po->prep->writes)
                return true;
            break;
        }
        default:
            break;
        }
    }
    return false;
}
