/*
 * sqlite_rebuild.c: ALTER TABLE ... ADD PRIMARY KEY by rebuilding the table.
 *
 * SQLite fixes a table's primary key when the table is created, so the key
 * is added the way SQLite's documentation describes for schema changes it
 * cannot make in place, inside one savepoint (all or nothing, inside or
 * outside a transaction block):
 *
 *   1. read the table's CREATE TABLE text from sqlite_schema;
 *   2. check what PostgreSQL checks: the table exists (42P01), has no primary
 *      key yet (42P16), the key's columns exist (42703), hold no NULL (23502)
 *      and no duplicate (23505, "could not create unique index t_pkey");
 *   3. create a new table from the same text with NOT NULL added to the key's
 *      columns and a table-level PRIMARY KEY appended, copy the rows, drop the
 *      old table, rename the new one, and recreate the old table's indexes
 *      and triggers from their text.
 *
 * SQLite names the constraint in its errors by table and columns; the error
 * mapping (sqlite_error.c) turns a primary key violation into PostgreSQL's
 * "t_pkey".  When another table's foreign key references the table, dropping
 * it would run the foreign key actions: outside a transaction the rebuild
 * turns foreign key enforcement off around it (PRAGMA foreign_keys cannot
 * change inside one); inside a transaction block it is refused (0A000).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sqlite_conn.h"
#include "sqlite_rebuild.h"

#define REBUILD_TMP "dm_rebuild_new"

static void rebuild_quote(wire_buf *b, const char *name)
{
    wire_buf_put_u8(b, '"');
    for (const char *p = name; *p; p++) {
        if (*p == '"')
            wire_buf_put_u8(b, '"');
        wire_buf_put_u8(b, (uint8_t)*p);
    }
    wire_buf_put_u8(b, '"');
}

static void rebuild_puts(wire_buf *b, const char *s)
{
    wire_buf_append(b, s, strlen(s));
}

/* Finishes b as a C string, or NULL when out of memory. */
static const char *rebuild_cstr(wire_buf *b)
{
    wire_buf_put_u8(b, 0);
    b->len--;
    return b->oom ? NULL : (const char *)b->data;
}

/* Skips a quoted token starting at s[i] ('"', '`', '[' or '\''); returns the
 * index after it. */
static size_t rebuild_skip_quoted(const char *s, size_t i, size_t n)
{
    char open = s[i], close = open == '[' ? ']' : open;
    for (i++; i < n; i++) {
        if (s[i] == close) {
            if (close != ']' && i + 1 < n && s[i + 1] == close) {
                i++;
                continue;
            }
            return i + 1;
        }
    }
    return n;
}

/* The first identifier of element s[a..b) as a plain name in buf. */
static void rebuild_first_ident(const char *s, size_t a, size_t b, char *buf, size_t len)
{
    while (a < b && (s[a] == ' ' || s[a] == '\t' || s[a] == '\n' || s[a] == '\r'))
        a++;
    size_t o = 0;
    if (a < b && (s[a] == '"' || s[a] == '`' || s[a] == '[')) {
        char close = s[a] == '[' ? ']' : s[a];
        for (a++; a < b && o + 1 < len; a++) {
            if (s[a] == close) {
                if (close != ']' && a + 1 < b && s[a + 1] == close) {
                    buf[o++] = s[a++];
                    continue;
                }
                break;
            }
            buf[o++] = s[a];
        }
    } else {
        while (a < b && o + 1 < len && s[a] != ' ' && s[a] != '\t' && s[a] != '\n' && s[a] != '(' &&
               s[a] != ',')
            buf[o++] = s[a++];
    }
    buf[o] = '\0';
}

static bool rebuild_is_key(const PgQuery__Constraint *k, const char *name)
{
    for (size_t i = 0; i < k->n_keys; i++) {
        const PgQuery__Node *n = k->keys[i];
        if (n && n->node_case == PG_QUERY__NODE__NODE_STRING && !strcasecmp(n->string->sval, name))
            return true;
    }
    return false;
}

/* Does the element's text say NOT NULL already (outside quotes)? */
static bool rebuild_has_not_null(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '`' || s[i] == '[' || s[i] == '\'') {
            i = rebuild_skip_quoted(s, i, n) - 1;
            continue;
        }
        if (i + 8 <= n && !strncasecmp(s + i, "NOT NULL", 8))
            return true;
    }
    return false;
}

/* The new table's CREATE TABLE: `old` (the table's text) under the name
 * `target`, with NOT NULL on the key's columns and the key appended.  Returns
 * false when the text is not the shape CREATE TABLE name (elements) [...]. */
static bool rebuild_create_sql(const char *old, const char *target, const PgQuery__Constraint *k,
                               wire_buf *out)
{
    size_t n = strlen(old), i = 0, open = 0;
    bool found = false;
    for (i = 0; i < n; i++) {
        if (old[i] == '"' || old[i] == '`' || old[i] == '[' || old[i] == '\'') {
            i = rebuild_skip_quoted(old, i, n) - 1;
            continue;
        }
        if (old[i] == '(') {
            open = i;
            found = true;
            break;
        }
    }
    if (!found)
        return false;
    rebuild_puts(out, "CREATE TABLE ");
    rebuild_puts(out, target);
    rebuild_puts(out, " (");
    int depth = 0;
    size_t elem = open + 1, close = 0;
    for (i = open + 1; i < n; i++) {
        char c = old[i];
        if (c == '"' || c == '`' || c == '[' || c == '\'') {
            i = rebuild_skip_quoted(old, i, n) - 1;
            continue;
        }
        if (c == '(') {
            depth++;
            continue;
        }
        if ((c == ',' || c == ')') && depth == 0) {
            /* an element: old[elem..i) */
            size_t end = i;
            while (end > elem && (old[end - 1] == ' ' || old[end - 1] == '\n' || old[end - 1] == '\t'))
                end--;
            wire_buf_append(out, old + elem, end - elem);
            char name[256];
            rebuild_first_ident(old, elem, end, name, sizeof(name));
            if (rebuild_is_key(k, name) && !rebuild_has_not_null(old + elem, end - elem))
                rebuild_puts(out, " NOT NULL");
            if (c == ')') {
                close = i;
                break;
            }
            wire_buf_put_u8(out, ',');
            elem = i + 1;
            continue;
        }
        if (c == ')')
            depth--;
    }
    if (!close)
        return false;
    rebuild_puts(out, ", PRIMARY KEY (");
    for (size_t j = 0; j < k->n_keys; j++) {
        if (j)
            wire_buf_put_u8(out, ',');
        rebuild_quote(out, k->keys[j]->string->sval);
    }
    wire_buf_put_u8(out, ')');
    wire_buf_append(out, old + close, n - close); /* ")" and table options */
    return true;
}

static bool rebuild_exec(sqlite_query *q, const char *sql)
{
    if (sqlite_conn_exec(q->c, sql) == SQLITE_OK)
        return true;
    sqlite_query_handle_error(q);
    return false;
}

/* Runs a one-row query with ?1 = text1; returns SQLITE_ROW (row in *st, to
 * finalize), SQLITE_DONE or an error (reported). */
static int rebuild_query(sqlite_query *q, const char *sql, const char *text1, sqlite3_stmt **st)
{
    *st = NULL;
    int rc = sqlite3_prepare_v2(q->c->handle, sql, -1, st, NULL);
    if (rc == SQLITE_OK && text1)
        sqlite3_bind_text(*st, 1, text1, -1, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(*st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        sqlite_query_handle_error(q);
        sqlite3_finalize(*st);
        *st = NULL;
    }
    return rc;
}

static void rebuild_error(sqlite_query *q, const char *sqlstate, const char *detail,
                          const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void rebuild_error(sqlite_query *q, const char *sqlstate, const char *detail,
                          const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    sqlite_query_error(q, sqlstate, msg, detail, 0);
}

/* The checks and the rebuild, inside the savepoint. */
static bool rebuild_run(sqlite_query *q, const char *schema, const char *table,
                        const PgQuery__Constraint *k, const char *pkname)
{
    bool temp = !strcmp(schema, "temp");
    const char *master = temp ? "\"temp\".sqlite_master" : "\"main\".sqlite_master";
    wire_buf sql, qtable, keys;
    wire_buf_init(&sql);
    wire_buf_init(&qtable);
    wire_buf_init(&keys);
    char **extra = NULL;
    size_t nextra = 0;
    bool ok = false;
    sqlite3_stmt *st = NULL;
    char *old = NULL;

    rebuild_quote(&qtable, schema);
    wire_buf_put_u8(&qtable, '.');
    rebuild_quote(&qtable, table);
    for (size_t j = 0; j < k->n_keys; j++) {
        if (j)
            rebuild_puts(&keys, ", ");
        rebuild_quote(&keys, k->keys[j]->string->sval);
    }
    const char *qt = rebuild_cstr(&qtable);
    const char *qk = rebuild_cstr(&keys);
    if (!qt || !qk)
        goto oom;

    /* NULLs and duplicates in the key */
    for (size_t j = 0; j < k->n_keys; j++) {
        wire_buf_reset(&sql);
        rebuild_puts(&sql, "SELECT 1 FROM ");
        rebuild_puts(&sql, qt);
        rebuild_puts(&sql, " WHERE ");
        rebuild_quote(&sql, k->keys[j]->string->sval);
        rebuild_puts(&sql, " IS NULL LIMIT 1");
        if (!rebuild_cstr(&sql))
            goto oom;
        int rc = rebuild_query(q, (const char *)sql.data, NULL, &st);
        sqlite3_finalize(st);
        st = NULL;
        if (rc == SQLITE_ROW) {
            rebuild_error(q, WIRE_SQLSTATE_NOT_NULL_VIOLATION, NULL,
                          "column \"%s\" of relation \"%s\" contains null values",
                          k->keys[j]->string->sval, table);
            goto done;
        }
        if (rc != SQLITE_DONE)
            goto done;
    }
    wire_buf_reset(&sql);
    rebuild_puts(&sql, "SELECT ");
    rebuild_puts(&sql, qk);
    rebuild_puts(&sql, " FROM ");
    rebuild_puts(&sql, qt);
    rebuild_puts(&sql, " GROUP BY ");
    rebuild_puts(&sql, qk);
    rebuild_puts(&sql, " HAVING count(*) > 1 LIMIT 1");
    if (!rebuild_cstr(&sql))
        goto oom;
    int rc = rebuild_query(q, (const char *)sql.data, NULL, &st);
    if (rc == SQLITE_ROW) {
        char detail[512];
        size_t o = (size_t)snprintf(detail, sizeof(detail), "Key (");
        for (size_t j = 0; j < k->n_keys && o < sizeof(detail); j++)
            o += (size_t)snprintf(detail + o, sizeof(detail) - o, "%s%s", j ? ", " : "",
                                  k->keys[j]->string->sval);
        for (size_t j = 0; j < k->n_keys && o < sizeof(detail); j++) {
            const unsigned char *v = sqlite3_column_text(st, (int)j);
            o += (size_t)snprintf(detail + o, sizeof(detail) - o, "%s%s", j ? ", " : ")=(",
                                  v ? (const char *)v : "");
        }
        if (o < sizeof(detail))
            snprintf(detail + o, sizeof(detail) - o, ") is duplicated.");
        sqlite3_finalize(st);
        st = NULL;
        rebuild_error(q, WIRE_SQLSTATE_UNIQUE_VIOLATION, detail,
                      "could not create unique index \"%s\"", pkname);
        goto done;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_DONE)
        goto done;

    /* the table's text, and its indexes' and triggers' */
    wire_buf_reset(&sql);
    rebuild_puts(&sql, "SELECT sql FROM ");
    rebuild_puts(&sql, master);
    rebuild_puts(&sql, " WHERE type = 'table' AND name = ?1");
    if (!rebuild_cstr(&sql))
        goto oom;
    rc = rebuild_query(q, (const char *)sql.data, table, &st);
    if (rc != SQLITE_ROW) {
        if (rc == SQLITE_DONE)
            rebuild_error(q, WIRE_SQLSTATE_UNDEFINED_TABLE, NULL, "relation \"%s\" does not exist",
                          table);
        goto done;
    }
    old = strdup(sqlite3_column_text(st, 0) ? (const char *)sqlite3_column_text(st, 0) : "");
    sqlite3_finalize(st);
    st = NULL;
    if (!old)
        goto oom;

    wire_buf_reset(&sql);
    rebuild_puts(&sql, "SELECT sql FROM ");
    rebuild_puts(&sql, master);
    rebuild_puts(&sql, " WHERE tbl_name = ?1 AND type IN ('index', 'trigger') AND sql IS NOT NULL");
    if (!rebuild_cstr(&sql))
        goto oom;
    rc = rebuild_query(q, (const char *)sql.data, table, &st);
    while (rc == SQLITE_ROW) {
        char **e = realloc(extra, (nextra + 1) * sizeof(*extra));
        if (!e)
            goto oom;
        extra = e;
        extra[nextra] = strdup((const char *)sqlite3_column_text(st, 0));
        if (!extra[nextra++])
            goto oom;
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_DONE) {
        if (rc != SQLITE_ROW)
            sqlite_query_handle_error(q);
        goto done;
    }

    /* the new table */
    wire_buf tmpname;
    wire_buf_init(&tmpname);
    rebuild_quote(&tmpname, schema);
    rebuild_puts(&tmpname, ".\"" REBUILD_TMP "\"");
    const char *tn = rebuild_cstr(&tmpname);
    wire_buf_reset(&sql);
    if (!tn || !rebuild_create_sql(old, tn, k, &sql) || !rebuild_cstr(&sql)) {
        wire_buf_free(&tmpname);
        if (sql.oom)
            goto oom;
        rebuild_error(q, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED, NULL,
                      "cannot add a primary key to table \"%s\": its definition is not understood",
                      table);
        goto done;
    }
    if (!rebuild_exec(q, (const char *)sql.data)) {
        wire_buf_free(&tmpname);
        goto done;
    }
    wire_buf_reset(&sql);
    rebuild_puts(&sql, "INSERT INTO ");
    rebuild_puts(&sql, tn);
    rebuild_puts(&sql, " SELECT * FROM ");
    rebuild_puts(&sql, qt);
    wire_buf_free(&tmpname);
    if (!rebuild_cstr(&sql))
        goto oom;
    if (!rebuild_exec(q, (const char *)sql.data))
        goto done;
    wire_buf_reset(&sql);
    rebuild_puts(&sql, "DROP TABLE ");
    rebuild_puts(&sql, qt);
    if (!rebuild_cstr(&sql) || !rebuild_exec(q, (const char *)sql.data))
        goto done;
    /* legacy mode: views naming the table are not re-checked by the rename */
    sqlite_conn_exec(q->c, "PRAGMA legacy_alter_table = ON");
    wire_buf_reset(&sql);
    rebuild_puts(&sql, "ALTER TABLE ");
    rebuild_quote(&sql, schema);
    rebuild_puts(&sql, ".\"" REBUILD_TMP "\" RENAME TO ");
    rebuild_quote(&sql, table);
    bool renamed = rebuild_cstr(&sql) && rebuild_exec(q, (const char *)sql.data);
    sqlite_conn_exec(q->c, "PRAGMA legacy_alter_table = OFF");
    if (!renamed)
        goto done;
    for (size_t j = 0; j < nextra; j++)
        if (!rebuild_exec(q, extra[j]))
            goto done;
    ok = true;
    goto done;

oom:
    sqlite_query_error(q, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory", NULL, 0);
done:
    sqlite3_finalize(st);
    for (size_t j = 0; j < nextra; j++)
        free(extra[j]);
    free(extra);
    free(old);
    wire_buf_free(&sql);
    wire_buf_free(&qtable);
    wire_buf_free(&keys);
    return ok;
}

/* Does any other table's foreign key reference `table`? */
static int rebuild_referenced(sqlite_query *q, const char *table)
{
    sqlite3_stmt *st = NULL;
    int rc = rebuild_query(q,
                           "SELECT 1 FROM sqlite_master s, pragma_foreign_key_list(s.name) f "
                           "WHERE s.type = 'table' AND f.\"table\" = ?1 COLLATE NOCASE LIMIT 1",
                           table, &st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

bool sqlite_rebuild_add_primary_key(sqlite_query *q, const PgQuery__AlterTableStmt *at,
                                    const PgQuery__Constraint *k)
{
    const PgQuery__RangeVar *rv = at->relation;
    storage_conn *c = q->c;
    if (!rv || !rv->relname) {
        sqlite_query_error(q, WIRE_SQLSTATE_INTERNAL_ERROR, "ALTER TABLE without a relation", NULL, 0);
        return false;
    }
    if (at->missing_ok) {
        sqlite_query_error(q, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED,
                           "ALTER TABLE IF EXISTS is not supported", NULL, 0);
        return false;
    }
    if (k->n_including || k->deferrable || k->nulls_not_distinct ||
        (k->indexname && k->indexname[0]) || k->n_keys == 0) {
        sqlite_query_error(q, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED,
                           "PRIMARY KEY with INCLUDE, DEFERRABLE or USING INDEX is not supported",
                           NULL, 0);
        return false;
    }
    for (size_t j = 0; j < k->n_keys; j++) {
        if (!k->keys[j] || k->keys[j]->node_case != PG_QUERY__NODE__NODE_STRING) {
            sqlite_query_error(q, WIRE_SQLSTATE_INTERNAL_ERROR, "malformed PRIMARY KEY", NULL, 0);
            return false;
        }
    }
    const char *schema = "main";
    if (rv->schemaname && !strcmp(rv->schemaname, "pg_temp")) {
        schema = "temp";
    } else if (rv->schemaname && rv->schemaname[0] && strcmp(rv->schemaname, "public") != 0) {
        rebuild_error(q, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED, NULL, "schema \"%s\" is not supported",
                      rv->schemaname);
        return false;
    }
    const char *table = rv->relname;
    char pkname[200];
    if (k->conname && k->conname[0])
        snprintf(pkname, sizeof(pkname), "%s", k->conname);
    else
        snprintf(pkname, sizeof(pkname), "%s_pkey", table);

    /* the table and its columns */
    sqlite3_stmt *st = NULL;
    char sql[200];
    snprintf(sql, sizeof(sql), "SELECT name, pk FROM pragma_table_info(?1, '%s')", schema);
    int rc = rebuild_query(q, sql, table, &st);
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(st);
        rebuild_error(q, WIRE_SQLSTATE_UNDEFINED_TABLE, NULL, "relation \"%s\" does not exist",
                      table);
        return false;
    }
    if (rc != SQLITE_ROW)
        return false;
    bool has_pk = false;
    size_t matched = 0;
    bool *seen = calloc(k->n_keys, sizeof(*seen));
    if (!seen) {
        sqlite3_finalize(st);
        sqlite_query_error(q, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory", NULL, 0);
        return false;
    }
    while (rc == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        has_pk |= sqlite3_column_int(st, 1) > 0;
        for (size_t j = 0; j < k->n_keys && name; j++) {
            if (!seen[j] && !strcasecmp(k->keys[j]->string->sval, name)) {
                seen[j] = true;
                matched++;
            }
        }
        rc = sqlite3_step(st);
    }
    sqlite3_finalize(st);
    if (has_pk) {
        free(seen);
        rebuild_error(q, "42P16", NULL, "multiple primary keys for table \"%s\" are not allowed",
                      table);
        return false;
    }
    if (matched != k->n_keys) {
        size_t j = 0;
        while (j < k->n_keys && seen[j])
            j++;
        rebuild_error(q, WIRE_SQLSTATE_UNDEFINED_COLUMN, NULL,
                      "column \"%s\" of relation \"%s\" does not exist",
                      j < k->n_keys ? k->keys[j]->string->sval : "?", table);
        free(seen);
        return false;
    }
    free(seen);

    bool autocommit = sqlite3_get_autocommit(c->handle);
    int ref = rebuild_referenced(q, table);
    if (ref < 0)
        return false;
    if (ref && !autocommit) {
        rebuild_error(q, WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED, NULL,
                      "cannot add a primary key inside a transaction block to table \"%s\", which "
                      "foreign keys reference",
                      table);
        return false;
    }
    if (ref)
        sqlite_conn_exec(c, "PRAGMA foreign_keys = OFF");
    bool ok = sqlite_query_exec_ctl(q, "SAVEPOINT dm_rebuild");
    if (ok) {
        ok = rebuild_run(q, schema, table, k, pkname);
        if (!ok)
            sqlite_conn_exec(c, "ROLLBACK TO dm_rebuild");
        if (sqlite_conn_exec(c, "RELEASE dm_rebuild") != SQLITE_OK && ok) {
            sqlite_query_handle_error(q);
            ok = false;
        }
    }
    if (ref)
        sqlite_conn_exec(c, "PRAGMA foreign_keys = ON");
    if (ok)
        sqlite_query_complete(q, "ALTER TABLE");
    return ok;
}
