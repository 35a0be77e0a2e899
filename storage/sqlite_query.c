/*
 * sqlite_query.c: one simple-protocol Query message on a SQLite connection.
 *
 * The message is parsed whole by PostgreSQL's parser (statement.c); if that
 * fails nothing runs.  Statements then run in order; the first error skips the
 * rest.  Transaction control is done here, not by SQLite's own statements, so
 * that the client sees PostgreSQL's transaction states ('I' idle, 'T' in a
 * block, 'E' in a failed block):
 *
 *   from  statement                          to  done by sqlite_query_transaction
 *   I     BEGIN / START TRANSACTION          T   SQLite BEGIN (deferred)
 *   I     COMMIT / ROLLBACK                  I   WARNING 25P01, nothing to end
 *   I     SAVEPOINT / RELEASE / ROLLBACK TO  I   ERROR 25P01
 *   T     BEGIN                              T   WARNING 25001
 *   T     COMMIT / ROLLBACK                  I   SQLite COMMIT / ROLLBACK
 *   T     SAVEPOINT / RELEASE / ROLLBACK TO  T   SQLite SAVEPOINT / RELEASE / ROLLBACK TO
 *   T     any error                          E   (sqlite_query_failed)
 *   E     ROLLBACK TO x                      T   SQLite ROLLBACK TO x
 *   E     ROLLBACK, or COMMIT                I   SQLite ROLLBACK; COMMIT answers ROLLBACK
 *   E     anything else                      E   ERROR 25P02, not run
 *
 * A message of several statements starting in 'I' runs in an implicit block:
 * BEGIN before its first statement, COMMIT after its last, and an error rolls
 * all of it back.  An explicit BEGIN inside turns the implicit block into a
 * normal one ('T', keeping what ran before); a COMMIT or ROLLBACK inside ends
 * it with a warning; SAVEPOINT inside fails.  This is what PostgreSQL does.
 * A single statement in 'I' runs in SQLite's autocommit mode.
 *
 * In 'E' the SQLite transaction stays open (SQLite already undid the failed
 * statement) so that ROLLBACK TO SAVEPOINT can resume it.
 *
 * Replies: RowDescription (types from sqlite_types.c, decided after stepping
 * to the first row; names as PostgreSQL gives them, from colname.c), DataRows
 * in text format, CommandComplete with PostgreSQL's tag; errors are mapped by
 * sqlite_error.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_coltypes.h"
#include "sqlite_conn.h"
#include "sqlite_copy.h"
#include "sqlite_error.h"
#include "sqlite_exprtype.h"
#include "sqlite_meter.h"
#include "sqlite_query.h"
#include "sqlite_rebuild.h"
#include "sqlite_session.h"
#include "catalog.h"
#include "translate.h"

/* ---- replies ---- */

void sqlite_query_error(sqlite_query *q, const char *sqlstate, const char *message,
                        const char *detail, int position)
{
    /* a cancel by query_timeout: PostgreSQL's statement_timeout message */
    if (!strcmp(sqlstate, WIRE_SQLSTATE_QUERY_CANCELED) && atomic_load(&q->c->cancel_timeout))
        message = "canceling statement due to statement timeout";
    wire_error e = {
        .severity = "ERROR",
        .sqlstate = sqlstate,
        .message = message,
        .detail = detail && detail[0] ? detail : NULL,
        .position = position,
    };
    wire_put_error(&q->job->out, &e);
}

static void sqlite_query_warning(sqlite_query *q, const char *sqlstate, const char *message)
{
    wire_error e = {.severity = "WARNING", .sqlstate = sqlstate, .message = message};
    wire_put_notice(&q->job->out, &e);
}

void sqlite_query_sqlite_error(sqlite_query *q, int rc, const char *msg)
{
    sqlite_pg_error pe;
    sqlite_error_map(rc, msg, &pe);
    sqlite_query_error(q, pe.sqlstate, pe.message, pe.detail, 0);
}

/* The last SQLite error on the connection's handle. */
void sqlite_query_handle_error(sqlite_query *q)
{
    sqlite_query_sqlite_error(q, sqlite3_extended_errcode(q->c->handle),
                              sqlite3_errmsg(q->c->handle));
}

void sqlite_query_complete(sqlite_query *q, const char *tag)
{
    wire_put_command_complete(&q->job->out, tag);
    q->job->statements++;
}

/* ---- transaction state ---- */

/* A statement failed: leave the state PostgreSQL would be in. */
void sqlite_query_failed(sqlite_query *q)
{
    storage_conn *c = q->c;
    if (q->implicit) {
        sqlite_conn_rollback(c);
        q->implicit = false;
        c->tx_status = 'I';
    } else if (c->tx_status == 'T') {
        c->tx_status = 'E';
    } else if (c->tx_status == 'I' && !sqlite3_get_autocommit(c->handle)) {
        sqlite_conn_rollback(c);
    }
}

/* Runs an engine-issued statement; on failure reports it and returns false. */
bool sqlite_query_exec_ctl(sqlite_query *q, const char *sql)
{
    if (sqlite_conn_exec(q->c, sql) == SQLITE_OK)
        return true;
    sqlite_query_handle_error(q);
    return false;
}

/* Ends the current block (explicit, implicit or failed) with COMMIT or
 * ROLLBACK.  A failed COMMIT rolls back and reports the error: the client is
 * then outside any block, as after a failed COMMIT in PostgreSQL. */
bool sqlite_query_end_block(sqlite_query *q, bool commit)
{
    storage_conn *c = q->c;
    bool ok = true;
    if (commit && !sqlite3_get_autocommit(c->handle) &&
        sqlite_conn_exec(c, "COMMIT") != SQLITE_OK) {
        sqlite_query_handle_error(q);
        ok = false;
    }
    sqlite_conn_rollback(c); /* a no-op after a successful COMMIT */
    q->implicit = false;
    c->tx_status = 'I';
    return ok;
}

static void sqlite_quote_ident(const char *name, char *buf, size_t len)
{
    size_t o = 0;
    if (len < 3) {
        buf[0] = '\0';
        return;
    }
    buf[o++] = '"';
    for (const char *p = name; *p && o + 3 < len; p++) {
        if (*p == '"')
            buf[o++] = '"';
        buf[o++] = *p;
    }
    buf[o++] = '"';
    buf[o] = '\0';
}

bool sqlite_query_transaction(sqlite_query *q, const storage_stmt *s)
{
    storage_conn *c = q->c;
    char sql[300], ident[260];

    switch (s->tx) {
    case STORAGE_TX_BEGIN:
        if (c->tx_status == 'T') {
            sqlite_query_warning(q, WIRE_SQLSTATE_ACTIVE_SQL_TRANSACTION,
                                 "there is already a transaction in progress");
        } else if (q->implicit) {
            q->implicit = false; /* the implicit block becomes this block */
            c->tx_status = 'T';
        } else {
            if (!sqlite_query_exec_ctl(q, "BEGIN"))
                return false;
            c->tx_status = 'T';
        }
        sqlite_query_complete(q, s->tag);
        return true;

    case STORAGE_TX_COMMIT:
    case STORAGE_TX_ROLLBACK: {
        bool in_block = c->tx_status != 'I';
        bool commit = s->tx == STORAGE_TX_COMMIT && c->tx_status != 'E';
        if (s->tx_chain && !in_block) {
            snprintf(sql, sizeof(sql), "%s AND CHAIN can only be used in transaction blocks",
                     s->tx == STORAGE_TX_COMMIT ? "COMMIT" : "ROLLBACK");
            sqlite_query_error(q, WIRE_SQLSTATE_NO_ACTIVE_SQL_TRANSACTION, sql, NULL, 0);
            return false;
        }
        if (!in_block)
            sqlite_query_warning(q, WIRE_SQLSTATE_NO_ACTIVE_SQL_TRANSACTION,
                                 "there is no transaction in progress");
        if (in_block || q->implicit) {
            if (!sqlite_query_end_block(q, commit))
                return false;
        }
        if (s->tx_chain) {
            if (!sqlite_query_exec_ctl(q, "BEGIN"))
                return false;
            c->tx_status = 'T';
        }
        sqlite_query_complete(q, commit ? "COMMIT" : "ROLLBACK");
        return true;
    }

    case STORAGE_TX_SAVEPOINT:
    case STORAGE_TX_RELEASE:
    case STORAGE_TX_ROLLBACK_TO: {
        const char *what = s->tx == STORAGE_TX_SAVEPOINT ? "SAVEPOINT"
                           : s->tx == STORAGE_TX_RELEASE ? "RELEASE SAVEPOINT"
                                                         : "ROLLBACK TO SAVEPOINT";
        if (c->tx_status == 'I') {
            snprintf(sql, sizeof(sql), "%s can only be used in transaction blocks", what);
            sqlite_query_error(q, WIRE_SQLSTATE_NO_ACTIVE_SQL_TRANSACTION, sql, NULL, 0);
            return false;
        }
        sqlite_quote_ident(s->savepoint ? s->savepoint : "", ident, sizeof(ident));
        snprintf(sql, sizeof(sql), "%s %s", what, ident);
        if (!sqlite_query_exec_ctl(q, sql))
            return false;
        if (s->tx == STORAGE_TX_ROLLBACK_TO)
            c->tx_status = 'T';
        sqlite_query_complete(q, s->tag);
        return true;
    }

    case STORAGE_TX_PREPARED:
    case STORAGE_TX_NONE:
        break;
    }
    sqlite_query_error(q, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED,
                       "prepared transactions are not supported", NULL, 0);
    return false;
}

/* ---- statements that SQLite runs ---- */

static bool sqlite_query_reserve_cols(sqlite_query *q, int n)
{
    if (n <= q->cols_cap)
        return true;
    sqlite_pg_type *t = realloc(q->types, (size_t)n * sizeof(*t));
    if (!t)
        return false;
    q->types = t;
    wire_column *cols = realloc(q->cols, (size_t)n * sizeof(*cols));
    if (!cols)
        return false;
    q->cols = cols;
    storage_colname *names = realloc(q->names, (size_t)n * sizeof(*names));
    if (!names)
        return false;
    q->names = names;
    q->cols_cap = n;
    return true;
}

/* RowDescription for statement `s` positioned on its first row (has_row) or
 * finished without rows.  Column names are PostgreSQL's where the parse tree
 * tells them, else SQLite's (the columns a `*` expands to).  Types are the
 * declared ones for columns, PostgreSQL's for the expressions
 * sqlite_exprtype.c knows (count() is int8, 1 = 1 is bool, 0.1 + 0.2 is
 * numeric), else that of the first value. */
void sqlite_query_columns(const storage_stmt *s, sqlite3_stmt *st, int ncols, bool has_row,
                          storage_colname *names, sqlite_pg_type *types, wire_column *cols)
{
    storage_colname_result(s->node, ncols, names);
    PgQuery__Node *const *targets = sqlite_expr_targets(s->node, ncols);
    for (int i = 0; i < ncols; i++) {
        sqlite_pg_type *t = &types[i];
        const char *decl = sqlite3_column_decltype(st, i);
        char recorded[32], identity;
        if (decl && strcmp(decl, SQLITE_COLTYPES_ROWID_DECL) == 0 &&
            sqlite_coltypes_lookup(sqlite3_db_handle(st), sqlite3_column_table_name(st, i),
                                   sqlite3_column_origin_name(st, i), recorded,
                                   sizeof(recorded), &identity)) {
            sqlite_type_from_decltype(recorded, t); /* bigserial, identity keys */
        } else if (decl) {
            sqlite_type_from_decltype(decl, t);
        } else if (names[i].count) {
            *t = (sqlite_pg_type){
                .oid = WIRE_OID_INT8, .len = 8, .typmod = -1, .format = SQLITE_TYPE_FORMAT_INT};
        } else if (targets && sqlite_expr_type(sqlite3_db_handle(st), s->node,
                                               targets[i]->res_target->val, t)) {
            /* PostgreSQL's type for the expression */
        } else {
            int cls = has_row ? sqlite3_column_type(st, i) : SQLITE_NULL;
            sqlite_type_from_value(cls, cls == SQLITE_INTEGER ? sqlite3_column_int64(st, i) : 0, t);
        }
        const char *name = names[i].name;
        if (!name)
            name = sqlite3_column_name(st, i);
        cols[i] = (wire_column){
            .name = name ? name : "?column?",
            .table_oid = 0,
            .column = 0,
            .type_oid = t->oid,
            .type_len = t->len,
            .type_mod = t->typmod,
            .format = 0,
        };
    }
}

static void sqlite_query_describe(sqlite_query *q, const storage_stmt *s, sqlite3_stmt *st,
                                  int ncols, bool has_row)
{
    sqlite_query_columns(s, st, ncols, has_row, q->names, q->types, q->cols);
    wire_put_row_description(&q->job->out, q->cols, ncols);
}

static bool sqlite_query_data_row(sqlite_query *q, sqlite3_stmt *st, int ncols)
{
    wire_buf *out = &q->job->out;
    size_t start = wire_data_row_begin(out, (uint16_t)ncols);
    for (int i = 0; i < ncols; i++) {
        const char *v = NULL;
        int32_t n = sqlite_value_format(&q->types[i], st, i, &q->scratch, &q->scratch_cap, &v);
        if (n == -2) {
            out->oom = true;
            return false;
        }
        wire_data_row_field(out, v, n);
    }
    wire_msg_end(out, start);
    return !out->oom;
}

/* Rows in the table a CREATE TABLE AS just filled (SQLite does not count
 * them in sqlite3_changes). */
static int64_t sqlite_query_count_rows(sqlite_query *q, const PgQuery__RangeVar *rel)
{
    char schema[260] = "", table[260], sql[600];
    if (!rel || !rel->relname)
        return 0;
    if (rel->schemaname && rel->schemaname[0]) {
        sqlite_quote_ident(rel->schemaname, schema, sizeof(schema));
        strcat(schema, ".");
    }
    sqlite_quote_ident(rel->relname, table, sizeof(table));
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s%s", schema, table);

    int64_t n = 0;
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(q->c->handle, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return n;
}

void sqlite_query_finish(sqlite_query *q, const storage_stmt *s, uint64_t rows, int64_t changes)
{
    char tag[STORAGE_TAG_MAX + 32];
    if (s->node && storage_node_creates_temp(s->node))
        q->c->session_objects = true; /* only a RESET gives the connection to another client */
    switch (s->kind) {
    case STORAGE_STMT_SELECT:
        snprintf(tag, sizeof(tag), "SELECT %llu", (unsigned long long)rows);
        break;
    case STORAGE_STMT_INSERT:
        snprintf(tag, sizeof(tag), "INSERT 0 %lld", (long long)changes);
        q->job->rows_affected += (uint64_t)changes;
        break;
    case STORAGE_STMT_UPDATE:
    case STORAGE_STMT_DELETE:
        snprintf(tag, sizeof(tag), "%s %lld", s->tag, (long long)changes);
        q->job->rows_affected += (uint64_t)changes;
        break;
    case STORAGE_STMT_CREATE_TABLE_AS: {
        const PgQuery__CreateTableAsStmt *ctas = s->node->create_table_as_stmt;
        int64_t n = sqlite_query_count_rows(q, ctas->into ? ctas->into->rel : NULL);
        snprintf(tag, sizeof(tag), "SELECT %lld", (long long)n);
        q->job->rows_affected += (uint64_t)n;
        break;
    }
    default:
        snprintf(tag, sizeof(tag), "%s", s->tag);
        break;
    }
    sqlite_query_complete(q, tag);
}

/* An INSERT without a column list whose VALUES rows are shorter than the
 * table: PostgreSQL fills the remaining columns with their defaults, SQLite
 * refuses.  The copy names the first columns explicitly; the shared parse
 * tree is left untouched. */
typedef struct insert_fill {
    PgQuery__Node node;
    PgQuery__InsertStmt insert;
    PgQuery__Node **cols;
    PgQuery__Node *col_nodes;
    PgQuery__ResTarget *targets;
    char **names;
    size_t n;
} insert_fill;

static void insert_fill_free(insert_fill *f)
{
    for (size_t i = 0; i < f->n; i++)
        sqlite3_free(f->names[i]);
    free(f->names);
    free(f->targets);
    free(f->col_nodes);
    free(f->cols);
}

static bool insert_fill_columns(sqlite3 *db, const storage_stmt *s, insert_fill *f,
                                storage_stmt *out)
{
    memset(f, 0, sizeof(*f));
    const PgQuery__Node *n = s->node;
    if (!db || !n || n->node_case != PG_QUERY__NODE__NODE_INSERT_STMT)
        return false;
    const PgQuery__InsertStmt *ins = n->insert_stmt;
    const PgQuery__Node *sel = ins->select_stmt;
    if (ins->n_cols || !ins->relation || !ins->relation->relname || !sel ||
        sel->node_case != PG_QUERY__NODE__NODE_SELECT_STMT ||
        !sel->select_stmt->n_values_lists)
        return false;
    const PgQuery__SelectStmt *ss = sel->select_stmt;
    size_t width = 0;
    for (size_t r = 0; r < ss->n_values_lists; r++) {
        const PgQuery__Node *row = ss->values_lists[r];
        if (!row || row->node_case != PG_QUERY__NODE__NODE_LIST)
            return false;
        if (r && row->list->n_items != width)
            return false; /* PostgreSQL reports that itself */
        width = row->list->n_items;
    }
    const char *schema = ins->relation->schemaname && ins->relation->schemaname[0] &&
                                 strcmp(ins->relation->schemaname, "pg_temp") == 0
                             ? "temp"
                             : "main";
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?1, ?2) ORDER BY cid", -1,
                           &st, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_text(st, 1, ins->relation->relname, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, schema, -1, SQLITE_STATIC);
    size_t ncols = 0;
    bool ok = true;
    f->names = calloc(width ? width : 1, sizeof(*f->names));
    ok = f->names != NULL;
    while (ok && sqlite3_step(st) == SQLITE_ROW) {
        if (ncols < width) {
            f->names[ncols] = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
            ok = f->names[ncols] != NULL;
        }
        ncols++;
    }
    sqlite3_finalize(st);
    f->n = ncols < width ? ncols : width;
    if (!ok || ncols <= width) {
        insert_fill_free(f);
        return false;
    }
    f->cols = calloc(width, sizeof(*f->cols));
    f->col_nodes = calloc(width, sizeof(*f->col_nodes));
    f->targets = calloc(width, sizeof(*f->targets));
    if (!f->cols || !f->col_nodes || !f->targets) {
        insert_fill_free(f);
        return false;
    }
    for (size_t i = 0; i < width; i++) {
        pg_query__res_target__init(&f->targets[i]);
        f->targets[i].name = f->names[i];
        pg_query__node__init(&f->col_nodes[i]);
        f->col_nodes[i].node_case = PG_QUERY__NODE__NODE_RES_TARGET;
        f->col_nodes[i].res_target = &f->targets[i];
        f->cols[i] = &f->col_nodes[i];
    }
    f->insert = *ins;
    f->insert.n_cols = width;
    f->insert.cols = f->cols;
    f->node = *n;
    f->node.insert_stmt = &f->insert;
    *out = *s;
    out->node = &f->node;
    return true;
}

bool sqlite_query_translate(sqlite3 *db, const storage_stmt *s, char **sql, bool *catalog,
                            storage_translate_error *err)
{
    insert_fill fill;
    storage_stmt filled;
    if (insert_fill_columns(db, s, &fill, &filled)) {
        bool ok = storage_translate_ex(&filled, sql, catalog, err);
        insert_fill_free(&fill);
        return ok;
    }
    return storage_translate_ex(s, sql, catalog, err);
}

int sqlite_query_result_columns(const storage_stmt *s, sqlite3_stmt *st)
{
    if (!st)
        return 0;
    /* SQLite's ALTER TABLE ADD COLUMN with a CHECK or NOT NULL runs a check
     * of the existing rows that reports columns; PostgreSQL's returns none */
    if (s && s->node && s->node->node_case == PG_QUERY__NODE__NODE_ALTER_TABLE_STMT)
        return 0;
    return sqlite3_column_count(st);
}

/* Output after which a statement's remaining rows are streamed (sqlite_copy.c). */
#define SQLITE_QUERY_STREAM_AT (256u * 1024u)

static bool sqlite_query_statement(sqlite_query *q, const storage_stmt *s)
{
    sqlite3 *db = q->c->handle;
    sqlite3_stmt *st = NULL;
    const char *tail = NULL;

    /* SQLite runs the translation of the statement's tree, not its text. */
    char *text = NULL;
    storage_translate_error terr;
    bool catalog = false;
    sqlite_meter_pause(q->c, true);
    bool translated = sqlite_query_translate(db, s, &text, &catalog, &terr);
    int catalog_rc =
        translated && catalog ? catalog_ensure(db, terr.message, sizeof(terr.message)) : SQLITE_OK;
    sqlite_meter_pause(q->c, false);
    if (!translated) {
        sqlite_query_error(q, terr.sqlstate, terr.message, NULL, 0);
        return false;
    }
    if (catalog_rc != SQLITE_OK) {
        free(text);
        sqlite_query_error(q, WIRE_SQLSTATE_INTERNAL_ERROR, terr.message, NULL, 0);
        return false;
    }
    const char *end = text + strlen(text);
    int rc = sqlite3_prepare_v2(db, text, (int)(end - text), &st, &tail);
    if (rc != SQLITE_OK) {
        free(text);
        sqlite_query_handle_error(q);
        return false;
    }
    if (tail && tail < end) {
        /* Never expected of the translator's output: refuse rather than run
         * what the client did not mean. */
        sqlite3_stmt *extra = NULL;
        rc = sqlite3_prepare_v2(db, tail, (int)(end - tail), &extra, NULL);
        sqlite3_finalize(extra);
        if (rc != SQLITE_OK || extra) {
            free(text);
            sqlite3_finalize(st);
            sqlite_query_error(q, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED,
                               "statement is not supported by the SQLite engine",
                               "SQLite reads it as more than one statement.", 0);
            return false;
        }
    }
    free(text);
    if (st && sqlite3_bind_parameter_count(st) > 0) {
        /* $n in a simple Query: PostgreSQL refuses, SQLite would bind NULL */
        sqlite3_finalize(st);
        sqlite_query_error(q, "42P02", "there is no parameter $1", NULL, 0);
        return false;
    }
    if (!st) { /* nothing SQLite would run */
        sqlite_query_complete(q, s->tag);
        return true;
    }

    /* CREATE TABLE and the record of its column types: one change */
    bool create = s->node->node_case == PG_QUERY__NODE__NODE_CREATE_STMT;
    if (create && !sqlite_query_exec_ctl(q, "SAVEPOINT dm_create_table")) {
        sqlite3_finalize(st);
        return false;
    }

    uint64_t rows = 0;
    int ncols = sqlite_query_result_columns(s, st);
    rc = sqlite3_step(st);
    if (ncols > 0 && (rc == SQLITE_ROW || rc == SQLITE_DONE)) {
        if (!sqlite_query_reserve_cols(q, ncols)) {
            sqlite3_finalize(st);
            q->job->out.oom = true;
            return false;
        }
        sqlite_query_describe(q, s, st, ncols, rc == SQLITE_ROW);
        while (rc == SQLITE_ROW) {
            if (!sqlite_query_data_row(q, st, ncols)) {
                sqlite3_finalize(st);
                return false;
            }
            rows++;
            rc = sqlite3_step(st);
            /* A large result goes out part by part, as its client reads it. */
            if (rc == SQLITE_ROW && !create && q->job->out.len >= SQLITE_QUERY_STREAM_AT &&
                sqlite_copy_stream_rows(q, s, st, ncols, rows)) {
                q->job->rows_returned += rows;
                return true;
            }
        }
    }
    while (rc == SQLITE_ROW)
        rc = sqlite3_step(st);
    if (rc == SQLITE_DONE && create)
        rc = sqlite_coltypes_record(db, s->node->create_stmt) == SQLITE_OK ? SQLITE_DONE
                                                                             : SQLITE_ERROR;
    if (rc != SQLITE_DONE) {
        char msg[512];
        int err = sqlite3_extended_errcode(db);
        snprintf(msg, sizeof(msg), "%s", sqlite3_errmsg(db));
        sqlite3_finalize(st);
        if (create)
            sqlite3_exec(db, "ROLLBACK TO dm_create_table; RELEASE dm_create_table", NULL, NULL,
                         NULL);
        sqlite_query_sqlite_error(q, err, msg);
        return false;
    }
    if (create && !sqlite_query_exec_ctl(q, "RELEASE dm_create_table")) {
        sqlite3_finalize(st);
        return false;
    }
    int64_t changes = sqlite3_changes64(db);
    sqlite3_finalize(st);
    q->job->rows_returned += rows;

    sqlite_query_finish(q, s, rows, changes);
    return true;
}

/* ---- statements the engine runs in its own way ---- */

static void sqlite_query_drop_notice(sqlite_query *q, const PgQuery__DropStmt *drop);

/* DROP and TRUNCATE of several objects: each object in turn, all or none
 * (a savepoint undoes the ones done when a later one fails). */
static bool sqlite_query_each_object(sqlite_query *q, const storage_stmt *s)
{
    const PgQuery__Node *n = s->node;
    PgQuery__Node one = *n;
    PgQuery__DropStmt drop;
    PgQuery__TruncateStmt trunc;
    size_t count;
    if (n->node_case == PG_QUERY__NODE__NODE_DROP_STMT) {
        drop = *n->drop_stmt;
        one.drop_stmt = &drop;
        count = n->drop_stmt->n_objects;
    } else {
        trunc = *n->truncate_stmt;
        one.truncate_stmt = &trunc;
        count = n->truncate_stmt->n_relations;
    }
    if (!sqlite_query_exec_ctl(q, "SAVEPOINT dm_each_object"))
        return false;
    bool ok = true;
    for (size_t i = 0; i < count && ok; i++) {
        if (n->node_case == PG_QUERY__NODE__NODE_DROP_STMT) {
            drop.objects = &n->drop_stmt->objects[i];
            drop.n_objects = 1;
        } else {
            trunc.relations = &n->truncate_stmt->relations[i];
            trunc.n_relations = 1;
        }
        storage_stmt sub = *s;
        sub.node = &one;
        if (n->node_case == PG_QUERY__NODE__NODE_DROP_STMT)
            sqlite_query_drop_notice(q, &drop);
        /* one CommandComplete for the whole statement */
        wire_buf *out = &q->job->out;
        size_t mark = out->len;
        uint64_t stmts = q->job->statements;
        ok = sqlite_query_statement(q, &sub);
        if (ok) {
            out->len = mark;
            q->job->statements = stmts;
        }
    }
    if (!ok) {
        sqlite_conn_exec(q->c, "ROLLBACK TO dm_each_object");
        sqlite_conn_exec(q->c, "RELEASE dm_each_object");
        return false;
    }
    if (!sqlite_query_exec_ctl(q, "RELEASE dm_each_object"))
        return false;
    sqlite_query_complete(q, s->tag);
    return true;
}

/* ALTER TABLE ... ADD PRIMARY KEY: SQLite needs the table rebuilt. */
static const PgQuery__Constraint *sqlite_query_adds_pkey(const PgQuery__Node *n)
{
    if (n->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_STMT)
        return NULL;
    const PgQuery__AlterTableStmt *at = n->alter_table_stmt;
    if (at->objtype != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE || at->n_cmds != 1 || !at->cmds[0] ||
        at->cmds[0]->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_CMD)
        return NULL;
    const PgQuery__AlterTableCmd *cmd = at->cmds[0]->alter_table_cmd;
    if (cmd->subtype != PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint || !cmd->def ||
        cmd->def->node_case != PG_QUERY__NODE__NODE_CONSTRAINT ||
        cmd->def->constraint->contype != PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY)
        return NULL;
    return cmd->def->constraint;
}

/* DROP ... IF EXISTS of a relation that is not there: PostgreSQL's NOTICE
 * ('table "t" does not exist, skipping'), which psql prints.  `drop` names
 * one object. */
static void sqlite_query_drop_notice(sqlite_query *q, const PgQuery__DropStmt *drop)
{
    const char *type;
    switch (drop->remove_type) {
    case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE:
        type = "table";
        break;
    case PG_QUERY__OBJECT_TYPE__OBJECT_INDEX:
        type = "index";
        break;
    case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW:
        type = "view";
        break;
    default:
        return;
    }
    if (!drop->missing_ok || drop->n_objects != 1 || !drop->objects[0] ||
        drop->objects[0]->node_case != PG_QUERY__NODE__NODE_LIST ||
        !drop->objects[0]->list->n_items)
        return;
    const PgQuery__List *l = drop->objects[0]->list;
    const PgQuery__Node *last = l->items[l->n_items - 1];
    if (last->node_case != PG_QUERY__NODE__NODE_STRING || !last->string->sval)
        return;
    const char *name = last->string->sval;
    bool temp = l->n_items == 2 && l->items[0]->node_case == PG_QUERY__NODE__NODE_STRING &&
                l->items[0]->string->sval && strcmp(l->items[0]->string->sval, "pg_temp") == 0;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(q->c->handle,
                           temp ? "SELECT 1 FROM temp.sqlite_schema WHERE type = ?1 AND name = ?2"
                                : "SELECT 1 FROM main.sqlite_schema WHERE type = ?1 AND name = ?2",
                           -1, &st, NULL) != SQLITE_OK)
        return;
    sqlite3_bind_text(st, 1, type, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    bool exists = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    if (exists)
        return;
    char msg[300];
    snprintf(msg, sizeof(msg), "%s \"%s\" does not exist, skipping", type, name);
    wire_error e = {.severity = "NOTICE", .sqlstate = "00000", .message = msg};
    wire_put_notice(&q->job->out, &e);
}

static bool sqlite_query_dispatch(sqlite_query *q, const storage_stmt *s)
{
    const PgQuery__Node *n = s->node;
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_COPY_STMT:
        return sqlite_copy_start(q, s);
    case PG_QUERY__NODE__NODE_DROP_STMT:
        if (n->drop_stmt->n_objects > 1)
            return sqlite_query_each_object(q, s);
        sqlite_query_drop_notice(q, n->drop_stmt);
        break;
    case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
        if (n->truncate_stmt->n_relations > 1 && !n->truncate_stmt->restart_seqs)
            return sqlite_query_each_object(q, s);
        break;
    case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT: {
        const PgQuery__Constraint *k = sqlite_query_adds_pkey(n);
        if (k)
            return sqlite_rebuild_add_primary_key(q, n->alter_table_stmt, k);
        break;
    }
    default:
        break;
    }
    return sqlite_query_statement(q, s);
}

/* ---- the message ---- */

static bool sqlite_query_one(sqlite_query *q, const storage_stmt *s)
{
    storage_conn *c = q->c;

    if (atomic_load(&c->cancel)) {
        sqlite_query_error(q, WIRE_SQLSTATE_QUERY_CANCELED,
                           "canceling statement due to user request", NULL, 0);
        return false;
    }
    bool exits_block = s->kind == STORAGE_STMT_TRANSACTION &&
                       (s->tx == STORAGE_TX_COMMIT || s->tx == STORAGE_TX_ROLLBACK ||
                        s->tx == STORAGE_TX_ROLLBACK_TO);
    if (c->tx_status == 'E' && !exits_block) {
        sqlite_query_error(q, WIRE_SQLSTATE_IN_FAILED_TRANSACTION,
                           "current transaction is aborted, commands ignored until end of "
                           "transaction block",
                           NULL, 0);
        return false;
    }
    if (s->kind == STORAGE_STMT_TRANSACTION)
        return sqlite_query_transaction(q, s);
    if (s->kind == STORAGE_STMT_SESSION)
        return sqlite_session_run(q, s, true);

    if (s->node->node_case == PG_QUERY__NODE__NODE_VACUUM_STMT && s->node->vacuum_stmt->is_vacuumcmd &&
        (c->tx_status != 'I' || q->multi)) {
        sqlite_query_error(q, WIRE_SQLSTATE_ACTIVE_SQL_TRANSACTION,
                           "VACUUM cannot run inside a transaction block", NULL, 0);
        return false;
    }
    if (q->multi && c->tx_status == 'I' && !q->implicit) {
        if (!sqlite_query_exec_ctl(q, "BEGIN"))
            return false;
        q->implicit = true;
    }
    return sqlite_query_dispatch(q, s);
}

void sqlite_query_resume(storage_job *job, sqlite_query_batch *b, bool ok)
{
    storage_conn *c = job->conn;
    sqlite_query q = {.job = job, .c = c, .sql = job->sql, .multi = b->multi,
                      .implicit = b->implicit};

    pthread_mutex_lock(&c->lock);
    c->active = c->handle; /* a cancel that came while queued stays set */
    pthread_mutex_unlock(&c->lock);

    bool suspended = false;
    while (ok && b->next < b->parsed.n) {
        ok = sqlite_query_one(&q, &b->parsed.stmts[b->next++]);
        if (ok && sqlite_copy_mode(c) != STORAGE_COPY_NONE) {
            /* a COPY goes on in later jobs; the rest of the message waits */
            b->multi = q.multi;
            b->implicit = q.implicit;
            job->copy = sqlite_copy_mode(c);
            sqlite_copy_suspend(c, b);
            suspended = true;
            break;
        }
    }
    if (!suspended) {
        if (!ok)
            sqlite_query_failed(&q);
        else if (q.implicit)
            sqlite_query_end_block(&q, true);
        storage_parse_free(&b->parsed);
    }

    pthread_mutex_lock(&c->lock);
    c->active = NULL;
    pthread_mutex_unlock(&c->lock);

    free(q.scratch);
    free(q.types);
    free(q.cols);
    free(q.names);
}

static void sqlite_query_run_message(storage_job *job)
{
    storage_conn *c = job->conn;
    sqlite_query q = {.job = job, .c = c, .sql = job->sql};

    if (!c->handle || !job->sql) {
        wire_error e = {.severity = "ERROR",
                        .sqlstate = WIRE_SQLSTATE_INTERNAL_ERROR,
                        .message = c->handle ? "query without SQL" : "connection is not open"};
        wire_put_error(&job->out, &e);
        job->failed = true;
        return;
    }

    sqlite_query_batch b = {0};
    storage_parse_error perr;
    if (job->parsed) {
        /* parsed by the engine for its write-lock decision: take it over */
        b.parsed = *job->parsed;
        free(job->parsed);
        job->parsed = NULL;
    } else if (!storage_parse_cached(c->db->engine->parses, job->sql, &b.parsed, &perr)) {
        sqlite_query_error(&q, perr.sqlstate, perr.message, NULL, perr.position);
        if (c->tx_status == 'T')
            c->tx_status = 'E';
        return;
    }
    storage_job_meter_query(job, &b.parsed, job->sql);
    if (b.parsed.n == 0) {
        wire_put_empty_query(&job->out);
        storage_parse_free(&b.parsed);
        return;
    }
    b.multi = b.parsed.n > 1;
    sqlite_query_resume(job, &b, true);
}

void sqlite_query_run(storage_job *job)
{
    storage_conn *c = job->conn;
    sqlite_query_run_message(job);
    sqlite_conn_job_end(c); /* whatever path the message took */
}
