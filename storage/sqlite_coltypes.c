/*
 * sqlite_coltypes.c: the PostgreSQL types of serial and identity keys, kept
 * in main._dormouse_columns (see sqlite_coltypes.h).
 */
#include <stdio.h>
#include <string.h>

#include "sqlite_coltypes.h"

#define COLTYPES_TABLE "_dormouse_columns"

static const char *coltypes_str(const PgQuery__Node *n)
{
    return n && n->node_case == PG_QUERY__NODE__NODE_STRING ? n->string->sval : NULL;
}

/* The PostgreSQL type and identity kind to record for column d, or NULL
 * when its declaration says it all (a plain serial is SQLite's INTEGER key,
 * which reads back as integer with its sequence default). */
static const char *coltypes_of(const PgQuery__ColumnDef *d, char *identity)
{
    *identity = '\0';
    const PgQuery__TypeName *t = d->type_name;
    const char *name = t && t->n_names ? coltypes_str(t->names[t->n_names - 1]) : NULL;
    if (!name)
        return NULL;
    for (size_t i = 0; i < d->n_constraints; i++) {
        const PgQuery__Node *k = d->constraints[i];
        if (k && k->node_case == PG_QUERY__NODE__NODE_CONSTRAINT &&
            k->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY)
            *identity = k->constraint->generated_when && k->constraint->generated_when[0] == 'a'
                            ? 'a'
                            : 'd';
    }
    static const struct {
        const char *name;
        const char *type;
        bool serial;
    } kinds[] = {
        {"bigserial", "bigint", true},     {"serial8", "bigint", true},
        {"smallserial", "smallint", true}, {"serial2", "smallint", true},
        {"int8", "bigint", false},         {"int4", "integer", false},
        {"int2", "smallint", false},
    };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        if (strcmp(name, kinds[i].name) == 0 && (kinds[i].serial || *identity))
            return kinds[i].type;
    return NULL;
}

static bool coltypes_table_exists(sqlite3 *db)
{
    return sqlite3_table_column_metadata(db, "main", COLTYPES_TABLE, "tbl", NULL, NULL, NULL, NULL,
                                         NULL) == SQLITE_OK;
}

static int coltypes_exec(sqlite3 *db, const char *sql, const char *a, const char *b, const char *c,
                         const char *d)
{
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    const char *args[] = {a, b, c, d};
    for (int i = 0; i < 4 && i < sqlite3_bind_parameter_count(st); i++)
        sqlite3_bind_text(st, i + 1, args[i], -1, SQLITE_STATIC);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

int sqlite_coltypes_record(sqlite3 *db, const PgQuery__CreateStmt *cs)
{
    const PgQuery__RangeVar *rel = cs->relation;
    if (!rel || !rel->relname || (rel->relpersistence && rel->relpersistence[0] == 't'))
        return SQLITE_OK;
    bool any = false;
    for (size_t i = 0; i < cs->n_table_elts && !any; i++) {
        const PgQuery__Node *e = cs->table_elts[i];
        char identity;
        any = e && e->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF &&
              coltypes_of(e->column_def, &identity);
    }
    int rc = SQLITE_OK;
    if (any)
        rc = coltypes_exec(db,
                           "CREATE TABLE IF NOT EXISTS main." COLTYPES_TABLE
                           " (tbl TEXT NOT NULL, col TEXT NOT NULL, pgtype TEXT NOT NULL, "
                           "identity TEXT NOT NULL, PRIMARY KEY (tbl, col)) WITHOUT ROWID",
                           NULL, NULL, NULL, NULL);
    else if (!coltypes_table_exists(db))
        return SQLITE_OK;
    if (rc == SQLITE_OK)
        rc = coltypes_exec(db, "DELETE FROM main." COLTYPES_TABLE " WHERE tbl = ?1", rel->relname,
                           NULL, NULL, NULL);
    for (size_t i = 0; rc == SQLITE_OK && i < cs->n_table_elts; i++) {
        const PgQuery__Node *e = cs->table_elts[i];
        if (!e || e->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF || !e->column_def->colname)
            continue;
        char identity[2] = {0, 0};
        const char *type = coltypes_of(e->column_def, &identity[0]);
        if (type)
            rc = coltypes_exec(db, "INSERT INTO main." COLTYPES_TABLE " VALUES (?1, ?2, ?3, ?4)",
                               rel->relname, e->column_def->colname, type, identity);
    }
    return rc;
}

bool sqlite_coltypes_lookup(sqlite3 *db, const char *tbl, const char *col, char *type, size_t len,
                            char *identity)
{
    if (!tbl || !col || !coltypes_table_exists(db))
        return false;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(
            db, "SELECT pgtype, identity FROM main." COLTYPES_TABLE " WHERE tbl = ?1 AND col = ?2",
            -1, &st, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_text(st, 1, tbl, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, col, -1, SQLITE_STATIC);
    bool found = sqlite3_step(st) == SQLITE_ROW;
    if (found) {
        const char *t = (const char *)sqlite3_column_text(st, 0);
        const char *id = (const char *)sqlite3_column_text(st, 1);
        snprintf(type, len, "%s", t ? t : "");
        *identity = id ? id[0] : '\0';
    }
    sqlite3_finalize(st);
    return found;
}

static void fn_column_type(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    char type[32], identity;
    if (sqlite_coltypes_lookup(
            sqlite3_context_db_handle(ctx), (const char *)sqlite3_value_text(argv[0]),
            (const char *)sqlite3_value_text(argv[1]), type, sizeof(type), &identity))
        sqlite3_result_text(ctx, type, -1, SQLITE_TRANSIENT);
    else
        sqlite3_result_value(ctx, argv[2]);
}

static void fn_column_identity(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    char type[32], identity = '\0';
    sqlite_coltypes_lookup(
        sqlite3_context_db_handle(ctx), (const char *)sqlite3_value_text(argv[0]),
        (const char *)sqlite3_value_text(argv[1]), type, sizeof(type), &identity);
    char out[2] = {identity, '\0'};
    sqlite3_result_text(ctx, out, -1, SQLITE_TRANSIENT);
}

int sqlite_coltypes_register(sqlite3 *db)
{
    int rc = sqlite3_create_function_v2(db, "dm_column_type", 3, SQLITE_UTF8, NULL, fn_column_type,
                                        NULL, NULL, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_create_function_v2(db, "dm_column_identity", 2, SQLITE_UTF8, NULL,
                                        fn_column_identity, NULL, NULL, NULL);
    return rc;
}
