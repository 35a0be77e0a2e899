/*
 * translate.c: a deparser from PostgreSQL parse trees to SQLite SQL.
 *
 * One recursive walk writes the output into a growing buffer; the first
 * refusal is remembered (its SQLSTATE and message) and the walk just runs out,
 * so emitters need no error plumbing.  Choices that matter for results:
 *
 *  - Identifiers are always double-quoted (PostgreSQL names such as "glob" or
 *    "abort" are SQLite keywords); the parser already folded unquoted ones.
 *    Schema "public" is dropped, "pg_temp" becomes "temp"; others are refused.
 *  - pg_catalog.X, unqualified pg_X and information_schema.X read the
 *    connection's catalog tables (catalog.h, created on first use: the
 *    output is marked for the runner); reg* casts look OIDs up there, arrays
 *    are text in PostgreSQL's form, handled by catalog.c's functions.
 *  - Every operator is parenthesised: the tree already encodes PostgreSQL's
 *    precedence, which differs from SQLite's (e.g. for ||).
 *  - Result columns without an alias get PostgreSQL's name as alias
 *    (colname.c), so outer queries, CREATE TABLE AS and views see the same
 *    column names as in PostgreSQL.
 *  - ORDER BY always says NULLS FIRST/LAST: PostgreSQL sorts NULL last when
 *    ascending, SQLite first.
 *  - LIKE is case-sensitive in PostgreSQL with backslash as default escape;
 *    SQLite's LIKE is neither, so LIKE/ILIKE call dm_like/dm_ilike
 *    (sqlite_functions.c).  ~ ~* !~ !~* call dm_regex (POSIX extended regular
 *    expressions, not PostgreSQL's ARE dialect).
 *  - Casts call checking functions (dm_int4('x') fails with 22P02 as in
 *    PostgreSQL, where SQLite's CAST would give 0); text casts use CAST.
 *  - x'..' literals (bit strings in PostgreSQL) become SQLite blobs, as
 *    Dormouse always accepted them for bytea columns.
 *  - SERIAL and identity columns must be the primary key and become
 *    INTEGER PRIMARY KEY AUTOINCREMENT (SQLite's rowid).
 *  - FOR UPDATE/SHARE are dropped (SQLite has one writer per database), as are
 *    DROP ... CASCADE (dependants are not dropped) and TRUNCATE's CASCADE.
 *  - TRUNCATE t becomes DELETE FROM t; VACUUM t a plain VACUUM.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "colname.h"
#include "dormouse/wire.h"
#include "sqlite_types.h"
#include "translate.h"

/* Deeper trees are refused, as PostgreSQL refuses deep recursion. */
#define TR_MAX_DEPTH 1000
#define TR_SQLSTATE_STACK_DEPTH "54001" /* statement_too_complex */
/* A translation longer than this many bytes per byte of the statement (and
 * TR_MAX_OUT_MIN) is refused, also with 54001: no translation needs that
 * much, and any part of the tree written more than once (a LATERAL column in
 * place of its references) must not let a short statement make a worker
 * write gigabytes. */
#define TR_MAX_OUT_RATIO 16
#define TR_MAX_OUT_MIN (1024 * 1024)

typedef struct tr_ctx {
    char *buf;
    size_t len, cap;
    size_t max_len; /* the longest translation allowed */
    bool failed;
    const char *sqlstate;
    char message[256];
    int depth;
    /* RETURNING: SQLite cannot qualify columns there, so references to the
     * target table (by name or alias) lose their qualifier. */
    const char *ret_rel;
    const char *ret_alias;
    bool in_returning;
    /* The output reads the catalog (catalog.h): the runner must call
     * catalog_ensure() before preparing it. */
    bool catalog;
    /* A reg* cast's value is printed as a name here (a result column, or
     * under a cast to text), not compared as an OID. */
    bool reg_as_name;
    /* Column references to replace: columns of a LATERAL single-row
     * subquery (their expressions) and of set-returning functions in FROM. */
    struct tr_subst {
        const char *alias;
        const char *column;
        const PgQuery__Node *expr; /* emitted in place of alias.column, or */
        const char *replacement;   /* alias.replacement (a column of a function) */
    } subst[8];
    int nsubst;
} tr_ctx;

typedef PgQuery__Node Node;

static void tr_expr(tr_ctx *c, const Node *n);
static void tr_select(tr_ctx *c, const PgQuery__SelectStmt *s, Node *const *names, size_t nnames);
static void tr_statement(tr_ctx *c, const Node *n, const char *tag);
static void tr_select_core(tr_ctx *c, const PgQuery__SelectStmt *s, Node *const *names,
                           size_t nnames);
static bool tr_is_setop(const PgQuery__SelectStmt *s);
static void tr_cast(tr_ctx *c, const Node *arg, const PgQuery__TypeName *t);

/* ---- output ---- */

static void tr_fail(tr_ctx *c, const char *sqlstate, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void tr_fail(tr_ctx *c, const char *sqlstate, const char *fmt, ...)
{
    if (c->failed)
        return;
    c->failed = true;
    c->sqlstate = sqlstate;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->message, sizeof(c->message), fmt, ap);
    va_end(ap);
}

#define tr_unsupported(c, ...) tr_fail((c), WIRE_SQLSTATE_FEATURE_NOT_SUPPORTED, __VA_ARGS__)

static void tr_putn(tr_ctx *c, const char *s, size_t n)
{
    if (c->failed)
        return;
    if (n > c->max_len - c->len) {
        tr_fail(c, TR_SQLSTATE_STACK_DEPTH,
                "statement is too complex: its SQLite translation would exceed %zu bytes",
                c->max_len);
        return;
    }
    if (c->len + n + 1 > c->cap) {
        size_t cap = c->cap ? c->cap : 256;
        while (cap < c->len + n + 1)
            cap *= 2;
        char *p = realloc(c->buf, cap);
        if (!p) {
            tr_fail(c, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory");
            return;
        }
        c->buf = p;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, s, n);
    c->len += n;
    c->buf[c->len] = '\0';
}

static void tr_puts(tr_ctx *c, const char *s)
{
    tr_putn(c, s, strlen(s));
}

static void tr_printf(tr_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void tr_printf(tr_ctx *c, const char *fmt, ...)
{
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n < sizeof(tmp))
        tr_putn(c, tmp, (size_t)n);
    else
        tr_fail(c, WIRE_SQLSTATE_INTERNAL_ERROR, "translation buffer overflow");
}

/* "name" with embedded quotes doubled. */
static void tr_ident(tr_ctx *c, const char *name)
{
    tr_putn(c, "\"", 1);
    for (const char *p = name ? name : ""; *p; p++) {
        const char *q = strchr(p, '"');
        if (!q) {
            tr_puts(c, p);
            break;
        }
        tr_putn(c, p, (size_t)(q - p) + 1);
        tr_putn(c, "\"", 1);
        p = q;
    }
    tr_putn(c, "\"", 1);
}

/* 'text' with embedded quotes doubled; escapes were decoded by the parser. */
static void tr_string(tr_ctx *c, const char *s)
{
    tr_putn(c, "'", 1);
    for (const char *p = s ? s : ""; *p; p++) {
        const char *q = strchr(p, '\'');
        if (!q) {
            tr_puts(c, p);
            break;
        }
        tr_putn(c, p, (size_t)(q - p) + 1);
        tr_putn(c, "'", 1);
        p = q;
    }
    tr_putn(c, "'", 1);
}

/* ---- tree helpers ---- */

static const char *tr_node_name(const Node *n)
{
    const ProtobufCFieldDescriptor *f =
        n ? protobuf_c_message_descriptor_get_field(&pg_query__node__descriptor, n->node_case)
          : NULL;
    return f ? f->name : "unknown";
}

/* Unset protobuf strings unpack as "", not NULL. */
static bool tr_set(const char *s)
{
    return s && s[0];
}

static const char *tr_str(const Node *n)
{
    return n && n->node_case == PG_QUERY__NODE__NODE_STRING && n->string ? n->string->sval : NULL;
}

/* The last String of a name list (funcname, type names, operator names). */
static const char *tr_last_name(Node *const *names, size_t n)
{
    return n ? tr_str(names[n - 1]) : NULL;
}

/* Whether a qualified name's schema part is one we can drop. */
static bool tr_schema_ok(tr_ctx *c, const char *schema)
{
    if (!schema || !schema[0] || strcmp(schema, "public") == 0 || strcmp(schema, "pg_catalog") == 0)
        return true;
    tr_unsupported(c, "schema \"%s\" is not supported", schema);
    return false;
}

static void tr_list(tr_ctx *c, Node *const *items, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            tr_puts(c, ", ");
        tr_expr(c, items[i]);
    }
}

static void tr_ident_list(tr_ctx *c, Node *const *items, size_t n)
{
    tr_puts(c, "(");
    for (size_t i = 0; i < n; i++) {
        if (i)
            tr_puts(c, ", ");
        const char *s = tr_str(items[i]);
        if (!s && items[i] && items[i]->node_case == PG_QUERY__NODE__NODE_RES_TARGET &&
            tr_set(items[i]->res_target->name))
            s = items[i]->res_target->name;
        if (!s && items[i] && items[i]->node_case == PG_QUERY__NODE__NODE_INDEX_ELEM &&
            tr_set(items[i]->index_elem->name))
            s = items[i]->index_elem->name;
        if (!s) {
            tr_unsupported(c, "column list element %s is not supported", tr_node_name(items[i]));
            return;
        }
        tr_ident(c, s);
    }
    tr_puts(c, ")");
}

static const PgQuery__AConst *tr_const(const Node *n)
{
    return n && n->node_case == PG_QUERY__NODE__NODE_A_CONST ? n->a_const : NULL;
}

/* ---- relations ---- */

static void tr_relname(tr_ctx *c, const PgQuery__RangeVar *rv)
{
    if (!rv || !rv->relname) {
        tr_fail(c, WIRE_SQLSTATE_INTERNAL_ERROR, "relation without a name");
        return;
    }
    if (rv->catalogname && rv->catalogname[0]) {
        tr_unsupported(c, "cross-database references are not supported");
        return;
    }
    if (tr_set(rv->schemaname) && strcmp(rv->schemaname, "pg_temp") == 0) {
        tr_puts(c, "\"temp\".");
    } else if (tr_set(rv->schemaname) && strcmp(rv->schemaname, "pg_catalog") == 0) {
        tr_unsupported(c, "schema \"pg_catalog\" is not supported");
        return;
    } else if (!tr_schema_ok(c, rv->schemaname)) {
        return;
    }
    tr_ident(c, rv->relname);
}

static void tr_rangevar(tr_ctx *c, const PgQuery__RangeVar *rv)
{
    tr_relname(c, rv);
    if (rv->alias) {
        if (rv->alias->n_colnames) {
            tr_unsupported(c, "column aliases for a table are not supported");
            return;
        }
        tr_puts(c, " AS ");
        tr_ident(c, rv->alias->aliasname);
    }
}

/* ---- the catalog (catalog.h) ----
 *
 * pg_catalog.X, an unqualified pg_X and information_schema.X read the
 * connection's catalog tables in the temp schema; the statement is marked
 * (c->catalog) so that the runner creates them first.  Arrays are text in
 * PostgreSQL's form ('{a,b}'), handled by catalog.c's functions. */

static bool tr_catalog_rangevar(tr_ctx *c, const PgQuery__RangeVar *rv)
{
    const char *schema = tr_set(rv->schemaname) ? rv->schemaname : NULL;
    const char *table = NULL;
    if (!rv->relname || tr_set(rv->catalogname))
        return false;
    if (schema && strcmp(schema, "information_schema") == 0) {
        table = catalog_information_schema(rv->relname);
        if (!table) {
            tr_unsupported(c, "relation \"information_schema.%s\" is not supported", rv->relname);
            return true;
        }
    } else if ((!schema || strcmp(schema, "pg_catalog") == 0) &&
               catalog_is_relation(rv->relname)) {
        table = rv->relname;
    } else if (schema && strcmp(schema, "pg_catalog") == 0) {
        tr_unsupported(c, "relation \"pg_catalog.%s\" is not supported", rv->relname);
        return true;
    } else {
        return false;
    }
    if (rv->alias && rv->alias->n_colnames) {
        tr_unsupported(c, "column aliases for a table are not supported");
        return true;
    }
    c->catalog = true;
    tr_puts(c, "\"temp\".");
    tr_ident(c, table);
    tr_puts(c, " AS ");
    tr_ident(c, rv->alias ? rv->alias->aliasname : rv->relname);
    return true;
}

static void tr_subst_add(tr_ctx *c, const char *alias, const char *column, const Node *expr,
                         const char *replacement)
{
    if (c->nsubst >= (int)(sizeof(c->subst) / sizeof(c->subst[0]))) {
        tr_unsupported(c, "too many LATERAL or function columns in FROM");
        return;
    }
    c->subst[c->nsubst++] = (struct tr_subst){
        .alias = alias, .column = column, .expr = expr, .replacement = replacement};
}

/* LATERAL (SELECT expr, ...) AS o(n, ...) without FROM: one row whose
 * columns are expressions of the other FROM items; SQLite has no LATERAL, so
 * references to o.n become the expressions themselves. */
static bool tr_is_lateral_row(const PgQuery__RangeSubselect *r)
{
    const PgQuery__SelectStmt *s = r->subquery && r->subquery->node_case ==
                                                      PG_QUERY__NODE__NODE_SELECT_STMT
                                       ? r->subquery->select_stmt
                                       : NULL;
    return s && r->alias && !tr_is_setop(s) && !s->n_from_clause && !s->where_clause &&
           !s->n_group_clause && !s->having_clause && !s->n_values_lists && !s->n_sort_clause &&
           !s->limit_count && !s->with_clause && s->n_target_list;
}

static bool tr_lateral_row(tr_ctx *c, const PgQuery__RangeSubselect *r)
{
    if (!tr_is_lateral_row(r))
        return false;
    tr_puts(c, "(SELECT NULL) AS ");
    tr_ident(c, r->alias->aliasname);
    return true;
}

static void tr_lateral_subst(tr_ctx *c, const PgQuery__RangeSubselect *r)
{
    const PgQuery__SelectStmt *s = r->subquery->select_stmt;
    for (size_t i = 0; i < s->n_target_list; i++) {
        const Node *t = s->target_list[i];
        if (!t || t->node_case != PG_QUERY__NODE__NODE_RES_TARGET)
            continue;
        const char *name = i < r->alias->n_colnames ? tr_str(r->alias->colnames[i]) : NULL;
        if (!name)
            name = tr_set(t->res_target->name) ? t->res_target->name
                                               : storage_colname_figure(t->res_target->val);
        if (name)
            tr_subst_add(c, r->alias->aliasname, name, t->res_target->val, NULL);
    }
}

/* The function of a RangeFunction with one function, and its alias. */
static const PgQuery__FuncCall *tr_range_func_call(const PgQuery__RangeFunction *rf)
{
    if (rf->n_functions != 1 || rf->is_rowsfrom || !rf->functions[0] ||
        rf->functions[0]->node_case != PG_QUERY__NODE__NODE_LIST ||
        !rf->functions[0]->list->n_items || !rf->functions[0]->list->items[0] ||
        rf->functions[0]->list->items[0]->node_case != PG_QUERY__NODE__NODE_FUNC_CALL)
        return NULL;
    return rf->functions[0]->list->items[0]->func_call;
}

/* Set-returning functions without rows here (no partitions, ...). */
static const char *const tr_empty_srfs[] = {"pg_partition_ancestors", "pg_partition_tree",
                                            "pg_get_publication_tables"};

static bool tr_is_series(const char *fn)
{
    return fn && (strcmp(fn, "generate_series") == 0 || strcmp(fn, "unnest") == 0);
}

static void tr_range_function_subst(tr_ctx *c, const PgQuery__RangeFunction *rf)
{
    const PgQuery__FuncCall *f = tr_range_func_call(rf);
    const char *fn = f ? tr_last_name(f->funcname, f->n_funcname) : NULL;
    if (!tr_is_series(fn))
        return;
    const char *alias = rf->alias ? rf->alias->aliasname : fn;
    const char *col = rf->alias && rf->alias->n_colnames ? tr_str(rf->alias->colnames[0]) : alias;
    tr_subst_add(c, alias, col ? col : alias, NULL, "value");
    if (rf->ordinality && rf->alias && rf->alias->n_colnames > 1 && tr_str(rf->alias->colnames[1]))
        tr_subst_add(c, alias, tr_str(rf->alias->colnames[1]), NULL, "rowid");
}

static void tr_range_function(tr_ctx *c, const PgQuery__RangeFunction *rf)
{
    const PgQuery__FuncCall *f = tr_range_func_call(rf);
    const char *fn = f ? tr_last_name(f->funcname, f->n_funcname) : NULL;
    if (!fn || (f->n_funcname == 2 && !tr_schema_ok(c, tr_str(f->funcname[0])))) {
        if (!c->failed)
            tr_unsupported(c, "functions in FROM are not supported");
        return;
    }
    const char *alias = rf->alias ? rf->alias->aliasname : fn;
    if (tr_is_series(fn)) {
        c->catalog = true;
        tr_puts(c, strcmp(fn, "unnest") == 0 ? "\"dm_unnest\"(" : "\"generate_series\"(");
        tr_list(c, f->args, f->n_args);
        tr_puts(c, ") AS ");
        tr_ident(c, alias);
        return;
    }
    for (size_t i = 0; i < sizeof(tr_empty_srfs) / sizeof(tr_empty_srfs[0]); i++) {
        if (strcmp(fn, tr_empty_srfs[i]) != 0)
            continue;
        tr_puts(c, "(SELECT ");
        size_t n = rf->alias && rf->alias->n_colnames ? rf->alias->n_colnames : 1;
        for (size_t k = 0; k < n; k++) {
            const char *col = rf->alias && k < rf->alias->n_colnames
                                  ? tr_str(rf->alias->colnames[k])
                                  : alias;
            tr_puts(c, k ? ", NULL AS " : "NULL AS ");
            tr_ident(c, col ? col : alias);
        }
        tr_puts(c, " WHERE 0) AS ");
        tr_ident(c, alias);
        return;
    }
    tr_unsupported(c, "functions in FROM are not supported");
}

/* Registers the substitutions of a FROM item before the select list, which
 * comes first in the output, is written. */
static void tr_from_subst(tr_ctx *c, const Node *n)
{
    if (!n)
        return;
    if (n->node_case == PG_QUERY__NODE__NODE_JOIN_EXPR) {
        tr_from_subst(c, n->join_expr->larg);
        tr_from_subst(c, n->join_expr->rarg);
    } else if (n->node_case == PG_QUERY__NODE__NODE_RANGE_SUBSELECT &&
               n->range_subselect->lateral && tr_is_lateral_row(n->range_subselect)) {
        tr_lateral_subst(c, n->range_subselect);
    } else if (n->node_case == PG_QUERY__NODE__NODE_RANGE_FUNCTION) {
        tr_range_function_subst(c, n->range_function);
    }
}

/* arr[i] */
static void tr_indirection(tr_ctx *c, const PgQuery__AIndirection *ind)
{
    if (ind->n_indirection != 1 || !ind->indirection[0] ||
        ind->indirection[0]->node_case != PG_QUERY__NODE__NODE_A_INDICES ||
        ind->indirection[0]->a_indices->is_slice || !ind->indirection[0]->a_indices->uidx) {
        tr_unsupported(c, "array slices and field selection are not supported");
        return;
    }
    c->catalog = true;
    tr_puts(c, "dm_array_get(");
    tr_expr(c, ind->arg);
    tr_puts(c, ", ");
    tr_expr(c, ind->indirection[0]->a_indices->uidx);
    tr_puts(c, ")");
}

static const char *tr_cast_type(const PgQuery__TypeName *t)
{
    return t ? tr_last_name(t->names, t->n_names) : NULL;
}

static bool tr_is_reg_type(const char *name)
{
    return name && (strcmp(name, "regclass") == 0 || strcmp(name, "regtype") == 0 ||
                    strcmp(name, "regnamespace") == 0 || strcmp(name, "regproc") == 0 ||
                    strcmp(name, "regprocedure") == 0 || strcmp(name, "regrole") == 0);
}

/* The object name in a reg* literal: 'public.t' -> t, '"T"' -> T, 'T' -> t. */
static void tr_reg_name(const char *s, char *buf, size_t len)
{
    const char *dot = strrchr(s, '.');
    if (dot && s[0] != '"')
        s = dot + 1;
    size_t o = 0;
    if (s[0] == '"') {
        for (s++; *s && o + 1 < len; s++) {
            if (*s == '"' && s[1] != '"')
                break;
            if (*s == '"')
                s++;
            buf[o++] = *s;
        }
    } else {
        for (; *s && o + 1 < len; s++)
            buf[o++] = (char)((*s >= 'A' && *s <= 'Z') ? *s - 'A' + 'a' : *s);
    }
    buf[o] = '\0';
}

/* Casts to the catalog's types: reg* (an OID, printed as the object's name
 * in a result column or under ::text), "char", and arrays (kept as text). */
static bool tr_catalog_cast(tr_ctx *c, const Node *arg, const PgQuery__TypeName *t)
{
    const char *name = tr_cast_type(t);
    bool as_name = c->reg_as_name;
    c->reg_as_name = false;
    if (!name || (t->n_names == 2 && !tr_schema_ok(c, tr_str(t->names[0]))))
        return false;
    if ((strcmp(name, "text") == 0 || strcmp(name, "name") == 0 || strcmp(name, "varchar") == 0) &&
        !t->n_array_bounds && arg && arg->node_case == PG_QUERY__NODE__NODE_TYPE_CAST &&
        tr_is_reg_type(tr_cast_type(arg->type_cast->type_name))) {
        c->reg_as_name = true;
        tr_cast(c, arg->type_cast->arg, arg->type_cast->type_name);
        c->reg_as_name = false;
        return true;
    }
    if (t->n_array_bounds) {
        tr_expr(c, arg);
        return true;
    }
    if (strcmp(name, "char") == 0 && !t->n_typmods) { /* "char" (char(n) is bpchar) */
        tr_puts(c, "substr(CAST(");
        tr_expr(c, arg);
        tr_puts(c, " AS TEXT), 1, 1)");
        return true;
    }
    if (!tr_is_reg_type(name))
        return false;
    c->catalog = true;
    const PgQuery__AConst *k = tr_const(arg);
    const char *lit = k && !k->isnull && k->val_case == PG_QUERY__A__CONST__VAL_SVAL && k->sval
                          ? k->sval->sval
                          : NULL;
    bool digits = lit && lit[0];
    for (const char *p = lit; digits && *p; p++)
        digits = *p >= '0' && *p <= '9';
    char obj[128];
    if (lit && !digits)
        tr_reg_name(lit, obj, sizeof(obj));
    if (strcmp(name, "regproc") == 0 || strcmp(name, "regprocedure") == 0) {
        /* functions are their names in the catalog (pg_type.typinput...) */
        if (lit)
            tr_string(c, obj);
        else
            tr_expr(c, arg);
        return true;
    }
    const char *table = "pg_class", *key = "relname", *kind = "r";
    if (strcmp(name, "regtype") == 0)
        table = "pg_type", key = "typname", kind = "t";
    else if (strcmp(name, "regnamespace") == 0)
        table = "pg_namespace", key = "nspname", kind = "n";
    else if (strcmp(name, "regrole") == 0)
        table = "pg_authid", key = "rolname", kind = "u";
    if (as_name)
        tr_printf(c,
                  "(SELECT _dm_name FROM \"temp\".\"_dm_names\" WHERE _dm_kind = '%s' AND "
                  "_dm_oid = ",
                  kind);
    if (lit && !digits) {
        tr_printf(c, "(SELECT oid FROM \"temp\".\"%s\" WHERE %s = ", table, key);
        tr_string(c, obj);
        if (strcmp(name, "regtype") == 0) {
            tr_puts(c, " OR format_type(oid, NULL) = ");
            tr_string(c, obj);
        }
        tr_puts(c, ")");
    } else if (lit) {
        tr_puts(c, lit);
    } else {
        tr_puts(c, "(");
        tr_expr(c, arg);
        tr_puts(c, ")");
    }
    if (as_name)
        tr_puts(c, ")");
    return true;
}

/* Catalog functions: marks the statement, and writes those that are
 * subqueries on the catalog tables.  Returns true if it wrote the call. */
static bool tr_catalog_func(tr_ctx *c, const PgQuery__FuncCall *f, const char *name)
{
    if (!catalog_is_function(name) && strcmp(name, "current_schema") != 0)
        return false;
    c->catalog = true;
    if (strcmp(name, "current_schema") == 0 && !f->n_args) {
        tr_puts(c, "'public'");
        return true;
    }
    if (tr_is_series(name)) {
        tr_unsupported(c, "set-returning function %s is only supported in FROM", name);
        return true;
    }
    const char *sql = NULL;
    if (strcmp(name, "pg_get_userbyid") == 0 && f->n_args == 1)
        sql = "(SELECT _dm_name FROM \"temp\".\"_dm_names\" WHERE _dm_kind = 'u' AND _dm_oid = (";
    else if ((strcmp(name, "pg_get_indexdef") == 0 || strcmp(name, "pg_get_constraintdef") == 0) &&
             f->n_args >= 1)
        sql = "(SELECT _dm_def FROM \"temp\".\"_dm_defs\" WHERE _dm_oid = (";
    if (!sql)
        return false;
    tr_puts(c, sql);
    tr_expr(c, f->args[0]);
    tr_puts(c, "))");
    return true;
}

/* ---- expressions ---- */

/* A column that a LATERAL row or a function in FROM stands for. */
static bool tr_column_subst(tr_ctx *c, const PgQuery__ColumnRef *cr)
{
    const char *q = cr->n_fields == 2 ? tr_str(cr->fields[0]) : NULL;
    const char *col = tr_str(cr->fields[cr->n_fields - 1]);
    if (!col || cr->n_fields > 2)
        return false;
    for (int i = c->nsubst - 1; i >= 0; i--) {
        const struct tr_subst *s = &c->subst[i];
        if (q ? strcmp(q, s->alias) != 0 || strcmp(col, s->column) != 0
              : strcmp(col, s->column) != 0)
            continue;
        if (s->expr) {
            tr_puts(c, "(");
            tr_expr(c, s->expr);
            tr_puts(c, ")");
        } else {
            tr_ident(c, s->alias);
            tr_puts(c, ".");
            tr_ident(c, s->replacement);
        }
        return true;
    }
    return false;
}

static void tr_column_ref(tr_ctx *c, const PgQuery__ColumnRef *cr)
{
    size_t first = 0;
    if (c->nsubst && cr->n_fields && tr_column_subst(c, cr))
        return;
    if (cr->n_fields == 3 && tr_str(cr->fields[0]) &&
        (strcmp(tr_str(cr->fields[0]), "public") == 0 ||
         strcmp(tr_str(cr->fields[0]), "pg_catalog") == 0))
        first = 1;
    else if (cr->n_fields > 2) {
        tr_unsupported(c, "column references with more than two parts are not supported");
        return;
    }
    if (c->in_returning && cr->n_fields - first == 2) {
        const char *q = tr_str(cr->fields[first]);
        if (q && ((c->ret_alias && strcmp(q, c->ret_alias) == 0) ||
                  (!c->ret_alias && c->ret_rel && strcmp(q, c->ret_rel) == 0)))
            first++;
    }
    for (size_t i = first; i < cr->n_fields; i++) {
        if (i > first)
            tr_puts(c, ".");
        const Node *f = cr->fields[i];
        if (f && f->node_case == PG_QUERY__NODE__NODE_A_STAR)
            tr_puts(c, "*");
        else if (tr_str(f))
            tr_ident(c, tr_str(f));
        else
            tr_unsupported(c, "column reference element %s is not supported", tr_node_name(f));
    }
}

static void tr_a_const(tr_ctx *c, const PgQuery__AConst *k)
{
    if (k->isnull) {
        tr_puts(c, "NULL");
        return;
    }
    switch (k->val_case) {
    case PG_QUERY__A__CONST__VAL_IVAL:
        tr_printf(c, "%d", k->ival ? k->ival->ival : 0);
        break;
    case PG_QUERY__A__CONST__VAL_FVAL: {
        /* A decimal literal is numeric in PostgreSQL.  SQLite reads it as a
         * double, which is exact to 15 significant digits: a longer one goes
         * as text, which numeric columns keep digit for digit and arithmetic
         * still reads as a number. */
        const char *f = k->fval && k->fval->fval ? k->fval->fval : "0";
        int sig = 0;
        bool lead = true;
        for (const char *p = f; *p && *p != 'e' && *p != 'E'; p++) {
            if (*p < '0' || *p > '9' || (lead && *p == '0'))
                continue;
            lead = false;
            sig++;
        }
        if (sig > 15)
            tr_string(c, f);
        else
            tr_puts(c, f);
        break;
    }
    case PG_QUERY__A__CONST__VAL_BOOLVAL:
        tr_puts(c, k->boolval && k->boolval->boolval ? "1" : "0");
        break;
    case PG_QUERY__A__CONST__VAL_SVAL:
        tr_string(c, k->sval ? k->sval->sval : "");
        break;
    case PG_QUERY__A__CONST__VAL_BSVAL: {
        const char *b = k->bsval && k->bsval->bsval ? k->bsval->bsval : "";
        if (b[0] != 'x' || strlen(b + 1) % 2 != 0) {
            tr_unsupported(c, "bit string literals are not supported");
            return;
        }
        tr_puts(c, "X'");
        tr_puts(c, b + 1);
        tr_puts(c, "'");
        break;
    }
    default:
        tr_puts(c, "NULL");
        break;
    }
}

/* Binary and prefix operators that SQLite spells the same way. */
static const char *const tr_same_ops[] = {"+", "-",  "*",  "||", "=",  "<>", "<", ">",
                                          "<=", ">=", "&", "|", "<<", ">>", "->", "->>"};

static bool tr_is_string_const(const Node *n)
{
    const PgQuery__AConst *k = tr_const(n);
    return k && !k->isnull && k->val_case == PG_QUERY__A__CONST__VAL_SVAL;
}

/* LIKE / ILIKE / ~~ and friends: dm_like(s, pattern [, escape]). */
static void tr_like(tr_ctx *c, const PgQuery__AExpr *e, bool icase, bool negate)
{
    const Node *pat = e->rexpr;
    const Node *esc = NULL;
    if (pat && pat->node_case == PG_QUERY__NODE__NODE_FUNC_CALL) {
        const PgQuery__FuncCall *f = pat->func_call;
        const char *fn = tr_last_name(f->funcname, f->n_funcname);
        if (fn && strcmp(fn, "like_escape") == 0 && f->n_args == 2) {
            pat = f->args[0];
            esc = f->args[1];
        }
    }
    tr_puts(c, negate ? "(NOT " : "(");
    tr_puts(c, icase ? "dm_ilike(" : "dm_like(");
    tr_expr(c, e->lexpr);
    tr_puts(c, ", ");
    tr_expr(c, pat);
    if (esc) {
        tr_puts(c, ", ");
        tr_expr(c, esc);
    }
    tr_puts(c, "))");
}

static void tr_regex(tr_ctx *c, const PgQuery__AExpr *e, bool icase, bool negate)
{
    tr_puts(c, negate ? "(NOT dm_regex(" : "dm_regex(");
    tr_expr(c, e->lexpr);
    tr_puts(c, ", ");
    tr_expr(c, e->rexpr);
    tr_puts(c, icase ? ", 1)" : ", 0)");
    if (negate)
        tr_puts(c, ")");
}

static void tr_a_expr_op(tr_ctx *c, const PgQuery__AExpr *e)
{
    const char *op = tr_last_name(e->name, e->n_name);
    if (!op) {
        tr_unsupported(c, "operator without a name");
        return;
    }
    if (e->n_name == 2 && !tr_schema_ok(c, tr_str(e->name[0])))
        return;
    if (strcmp(op, "~") == 0 && e->lexpr) {
        tr_regex(c, e, false, false);
        return;
    }
    if (strcmp(op, "~*") == 0 || strcmp(op, "!~") == 0 || strcmp(op, "!~*") == 0) {
        tr_regex(c, e, op[strlen(op) - 1] == '*', op[0] == '!');
        return;
    }
    if (strcmp(op, "~~") == 0 || strcmp(op, "!~~") == 0 || strcmp(op, "~~*") == 0 ||
        strcmp(op, "!~~*") == 0) {
        tr_like(c, e, op[strlen(op) - 1] == '*', op[0] == '!');
        return;
    }
    if (!e->lexpr) { /* prefix operators */
        if (strcmp(op, "-") == 0 || strcmp(op, "+") == 0 || strcmp(op, "~") == 0) {
            tr_printf(c, "(%s ", op);
            tr_expr(c, e->rexpr);
            tr_puts(c, ")");
        } else if (strcmp(op, "@") == 0) {
            tr_puts(c, "abs(");
            tr_expr(c, e->rexpr);
            tr_puts(c, ")");
        } else if (strcmp(op, "|/") == 0) {
            tr_puts(c, "sqrt(");
            tr_expr(c, e->rexpr);
            tr_puts(c, ")");
        } else {
            tr_unsupported(c, "prefix operator %s is not supported", op);
        }
        return;
    }
    if (strcmp(op, "^") == 0) {
        tr_puts(c, "pow(");
        tr_expr(c, e->lexpr);
        tr_puts(c, ", ");
        tr_expr(c, e->rexpr);
        tr_puts(c, ")");
        return;
    }
    if (strcmp(op, "#") == 0) { /* bitwise xor: each operand written once (nested ones
                                   would otherwise double the text at each level) */
        tr_puts(c, "dm_xor(");
        tr_expr(c, e->lexpr);
        tr_puts(c, ", ");
        tr_expr(c, e->rexpr);
        tr_puts(c, ")");
        return;
    }
    if (strcmp(op, "/") == 0 || strcmp(op, "%") == 0) { /* 22012 on a zero divisor */
        tr_puts(c, op[0] == '/' ? "dm_div(" : "dm_mod(");
        tr_expr(c, e->lexpr);
        tr_puts(c, ", ");
        tr_expr(c, e->rexpr);
        tr_puts(c, ")");
        return;
    }
    for (size_t i = 0; i < sizeof(tr_same_ops) / sizeof(tr_same_ops[0]); i++) {
        if (strcmp(op, tr_same_ops[i]) == 0) {
            tr_puts(c, "(");
            tr_expr(c, e->lexpr);
            tr_printf(c, " %s ", op);
            tr_expr(c, e->rexpr);
            tr_puts(c, ")");
            return;
        }
    }
    tr_unsupported(c, "operator %s is not supported", op);
}

/* x op ANY/ALL (ARRAY[...]): IN / NOT IN lists; other forms need arrays. */
static void tr_a_expr_any(tr_ctx *c, const PgQuery__AExpr *e, bool all)
{
    const char *op = tr_last_name(e->name, e->n_name);
    const Node *r = e->rexpr;
    bool in = op && !all && strcmp(op, "=") == 0;
    bool not_in = op && all && strcmp(op, "<>") == 0;
    if ((in || not_in) && r && r->node_case != PG_QUERY__NODE__NODE_A_ARRAY_EXPR) {
        /* an array value (catalog.c's text form): look the element up */
        c->catalog = true;
        tr_puts(c, not_in ? "(array_position(" : "(array_position(");
        tr_expr(c, r);
        tr_puts(c, ", ");
        tr_expr(c, e->lexpr);
        tr_puts(c, not_in ? ") IS NULL)" : ") IS NOT NULL)");
        return;
    }
    if ((!in && !not_in) || !r || r->node_case != PG_QUERY__NODE__NODE_A_ARRAY_EXPR) {
        tr_unsupported(c, "%s with arrays is not supported", all ? "ALL" : "ANY");
        return;
    }
    tr_puts(c, "(");
    tr_expr(c, e->lexpr);
    tr_puts(c, not_in ? " NOT IN (" : " IN (");
    tr_list(c, r->a_array_expr->elements, r->a_array_expr->n_elements);
    tr_puts(c, "))");
}

static void tr_a_expr(tr_ctx *c, const PgQuery__AExpr *e)
{
    const char *op = tr_last_name(e->name, e->n_name);
    switch (e->kind) {
    case PG_QUERY__A__EXPR__KIND__AEXPR_OP:
        tr_a_expr_op(c, e);
        return;
    case PG_QUERY__A__EXPR__KIND__AEXPR_OP_ANY:
    case PG_QUERY__A__EXPR__KIND__AEXPR_OP_ALL:
        tr_a_expr_any(c, e, e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_OP_ALL);
        return;
    case PG_QUERY__A__EXPR__KIND__AEXPR_DISTINCT:
    case PG_QUERY__A__EXPR__KIND__AEXPR_NOT_DISTINCT:
        tr_puts(c, "(");
        tr_expr(c, e->lexpr);
        tr_puts(c, e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_DISTINCT ? " IS NOT " : " IS ");
        tr_expr(c, e->rexpr);
        tr_puts(c, ")");
        return;
    case PG_QUERY__A__EXPR__KIND__AEXPR_NULLIF:
        tr_puts(c, "nullif(");
        tr_expr(c, e->lexpr);
        tr_puts(c, ", ");
        tr_expr(c, e->rexpr);
        tr_puts(c, ")");
        return;
    case PG_QUERY__A__EXPR__KIND__AEXPR_IN: {
        const Node *r = e->rexpr;
        if (!r || r->node_case != PG_QUERY__NODE__NODE_LIST) {
            tr_unsupported(c, "IN with this operand is not supported");
            return;
        }
        tr_puts(c, "(");
        tr_expr(c, e->lexpr);
        tr_puts(c, op && strcmp(op, "<>") == 0 ? " NOT IN (" : " IN (");
        tr_list(c, r->list->items, r->list->n_items);
        tr_puts(c, "))");
        return;
    }
    case PG_QUERY__A__EXPR__KIND__AEXPR_LIKE:
    case PG_QUERY__A__EXPR__KIND__AEXPR_ILIKE:
        tr_like(c, e, e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_ILIKE, op && op[0] == '!');
        return;
    case PG_QUERY__A__EXPR__KIND__AEXPR_SIMILAR:
        tr_unsupported(c, "SIMILAR TO is not supported");
        return;
    case PG_QUERY__A__EXPR__KIND__AEXPR_BETWEEN:
    case PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN:
    case PG_QUERY__A__EXPR__KIND__AEXPR_BETWEEN_SYM:
    case PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN_SYM: {
        const Node *r = e->rexpr;
        if (!r || r->node_case != PG_QUERY__NODE__NODE_LIST || r->list->n_items != 2) {
            tr_fail(c, WIRE_SQLSTATE_INTERNAL_ERROR, "malformed BETWEEN");
            return;
        }
        bool neg = e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN ||
                   e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN_SYM;
        bool sym = e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_BETWEEN_SYM ||
                   e->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN_SYM;
        /* SYMMETRIC: either order of the bounds */
        tr_puts(c, neg ? "(NOT (" : "(");
        tr_puts(c, "(");
        tr_expr(c, e->lexpr);
        tr_puts(c, " BETWEEN ");
        tr_expr(c, r->list->items[0]);
        tr_puts(c, " AND ");
        tr_expr(c, r->list->items[1]);
        tr_puts(c, ")");
        if (sym) {
            tr_puts(c, " OR (");
            tr_expr(c, e->lexpr);
            tr_puts(c, " BETWEEN ");
            tr_expr(c, r->list->items[1]);
            tr_puts(c, " AND ");
            tr_expr(c, r->list->items[0]);
            tr_puts(c, ")");
        }
        tr_puts(c, neg ? "))" : ")");
        return;
    }
    default:
        tr_unsupported(c, "expression kind %d is not supported", (int)e->kind);
        return;
    }
}

static void tr_sub_link(tr_ctx *c, const PgQuery__SubLink *s)
{
    const Node *q = s->subselect;
    if (!q || q->node_case != PG_QUERY__NODE__NODE_SELECT_STMT) {
        tr_unsupported(c, "this subquery is not supported");
        return;
    }
    const char *op = tr_last_name(s->oper_name, s->n_oper_name);
    switch (s->sub_link_type) {
    case PG_QUERY__SUB_LINK_TYPE__EXISTS_SUBLINK:
        tr_puts(c, "EXISTS (");
        break;
    case PG_QUERY__SUB_LINK_TYPE__EXPR_SUBLINK:
    case PG_QUERY__SUB_LINK_TYPE__MULTIEXPR_SUBLINK:
        tr_puts(c, "(");
        break;
    case PG_QUERY__SUB_LINK_TYPE__ANY_SUBLINK:
        if (op && strcmp(op, "=") != 0) {
            tr_unsupported(c, "%s ANY (subquery) is not supported", op);
            return;
        }
        tr_puts(c, "(");
        tr_expr(c, s->testexpr);
        tr_puts(c, " IN (");
        break;
    case PG_QUERY__SUB_LINK_TYPE__ALL_SUBLINK:
        if (!op || strcmp(op, "<>") != 0) {
            tr_unsupported(c, "%s ALL (subquery) is not supported", op ? op : "");
            return;
        }
        tr_puts(c, "(");
        tr_expr(c, s->testexpr);
        tr_puts(c, " NOT IN (");
        break;
    case PG_QUERY__SUB_LINK_TYPE__ARRAY_SUBLINK: {
        /* the first column of the rows, in the array's text form */
        PgQuery__String sv = PG_QUERY__STRING__INIT;
        sv.sval = "_dm_elem";
        Node name = PG_QUERY__NODE__INIT;
        name.node_case = PG_QUERY__NODE__NODE_STRING;
        name.string = &sv;
        Node *names[1] = {&name};
        c->catalog = true;
        tr_puts(c, "(SELECT dm_array_agg(\"_dm_elem\") FROM (");
        tr_select(c, q->select_stmt, names, 1);
        tr_puts(c, "))");
        return;
    }
    default:
        tr_unsupported(c, "this kind of subquery is not supported");
        return;
    }
    tr_select(c, q->select_stmt, NULL, 0);
    tr_puts(c, ")");
    if (s->sub_link_type == PG_QUERY__SUB_LINK_TYPE__ANY_SUBLINK ||
        s->sub_link_type == PG_QUERY__SUB_LINK_TYPE__ALL_SUBLINK)
        tr_puts(c, ")");
}

/* ---- types and casts ---- */

/* PostgreSQL's internal type names, what CREATE TABLE declares for them (so
 * that sqlite_types.c maps the declaration back to the right OID), and the
 * registered function that casts to them (NULL: CAST(x AS TEXT)). */
typedef struct tr_type {
    const char *pg;
    const char *decl;
    const char *cast_fn;
    bool length; /* typmod is a length: varchar(n), char(n) */
    bool typmods;
} tr_type;

static const tr_type tr_types[] = {
    {"int2", "smallint", "dm_int2", false, false},
    {"int4", "integer", "dm_int4", false, false},
    {"int8", "bigint", "dm_int8", false, false},
    {"oid", "oid", "dm_int8", false, false},
    {"float4", "real", "dm_float8", false, false},
    {"float8", "double precision", "dm_float8", false, false},
    {"numeric", "numeric", "dm_numeric", false, true},
    {"bool", "boolean", "dm_bool", false, false},
    {"text", "text", NULL, false, false},
    {"varchar", "varchar", NULL, true, true},
    {"bpchar", "char", NULL, true, true},
    {"name", "name", NULL, false, false},
    {"bytea", "bytea", "dm_bytea", false, false},
    {"date", "date", "dm_date", false, false},
    {"time", "time", "dm_time", false, true},
    {"timetz", "timetz", "dm_timetz", false, true},
    {"timestamp", "timestamp", "dm_timestamp", false, true},
    {"timestamptz", "timestamptz", "dm_timestamptz", false, true},
    {"interval", "interval", "dm_interval", false, false},
    {"uuid", "uuid", "dm_uuid", false, false},
    {"json", "json", NULL, false, false},
    {"jsonb", "jsonb", NULL, false, false},
};

static const tr_type *tr_type_find(const char *name)
{
    for (size_t i = 0; name && i < sizeof(tr_types) / sizeof(tr_types[0]); i++)
        if (strcmp(tr_types[i].pg, name) == 0)
            return &tr_types[i];
    return NULL;
}

/* The type's name for messages and its table entry; refuses arrays and
 * schemas. */
static const char *tr_type_name(tr_ctx *c, const PgQuery__TypeName *t)
{
    if (!t || !t->n_names) {
        tr_fail(c, WIRE_SQLSTATE_INTERNAL_ERROR, "type without a name");
        return NULL;
    }
    const char *name = tr_last_name(t->names, t->n_names);
    if (t->n_names > 1 && !tr_schema_ok(c, tr_str(t->names[0])))
        return NULL;
    if (t->n_array_bounds) {
        tr_unsupported(c, "array types are not supported");
        return NULL;
    }
    if (t->setof || t->pct_type) {
        tr_unsupported(c, "type %s is not supported", name ? name : "?");
        return NULL;
    }
    return name;
}

/* Integer typmods as "(a,b)"; false if any is not an integer constant. */
static bool tr_typmods(const PgQuery__TypeName *t, char *buf, size_t len)
{
    buf[0] = '\0';
    if (!t->n_typmods)
        return true;
    size_t o = 0;
    for (size_t i = 0; i < t->n_typmods; i++) {
        const PgQuery__AConst *k = tr_const(t->typmods[i]);
        if (!k || k->val_case != PG_QUERY__A__CONST__VAL_IVAL || !k->ival)
            return false;
        int w = snprintf(buf + o, len - o, "%s%d", i ? "," : "(", k->ival->ival);
        if (w < 0 || (size_t)w >= len - o)
            return false;
        o += (size_t)w;
    }
    if (o + 2 > len)
        return false;
    buf[o++] = ')';
    buf[o] = '\0';
    return true;
}

/* The integer modifiers of t: how many (0..2) into mods. */
static int tr_typmod_ints(const PgQuery__TypeName *t, int mods[2])
{
    int n = 0;
    for (size_t i = 0; i < t->n_typmods && n < 2; i++) {
        const PgQuery__AConst *k = tr_const(t->typmods[i]);
        if (!k || k->val_case != PG_QUERY__A__CONST__VAL_IVAL || !k->ival)
            return n;
        mods[n++] = k->ival->ival;
    }
    return n;
}

/* The CHECKs of column `col` of type e (see tr_type_decl). */
static void tr_type_checks(tr_ctx *c, const tr_type *e, const PgQuery__TypeName *t,
                           const char *col)
{
    static const struct {
        const char *pg;
        const char *name;
        const char *lo, *hi; /* SQLite rounds no fraction: PostgreSQL rounds half away */
    } ints[] = {
        {"int2", "smallint", "-32768.5", "32767.5"},
        {"int4", "integer", "-2147483648.5", "2147483647.5"},
        {"int8", "bigint", "-9223372036854775808", "9223372036854775808.0"},
    };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        if (strcmp(e->pg, ints[i].pg) != 0)
            continue;
        tr_printf(c, " CONSTRAINT dm_int_syntax_%s CHECK (typeof(", ints[i].name);
        tr_ident(c, col);
        tr_printf(c, ") NOT IN ('text', 'blob')) CONSTRAINT dm_int_range_%s CHECK (",
                  ints[i].name);
        tr_ident(c, col);
        tr_printf(c, " %s %s AND ", i == 2 ? ">=" : ">", ints[i].lo);
        tr_ident(c, col);
        tr_printf(c, " < %s)", ints[i].hi);
        return;
    }
    if (strcmp(e->pg, "json") == 0 || strcmp(e->pg, "jsonb") == 0) {
        /* SQLite's json_valid() may not run in a schema (it is not marked
         * innocuous): Dormouse's own check, which raises 22P02 itself */
        tr_puts(c, " CHECK (dm_json_in(");
        tr_ident(c, col);
        tr_printf(c, ", %d))", strcmp(e->pg, "jsonb") == 0);
        return;
    }
    bool bpchar = strcmp(e->pg, "bpchar") == 0;
    int m[2] = {bpchar ? 1 : -1, 0}; /* char is char(1) */
    tr_typmod_ints(t, m);
    if (e->length && m[0] > 0) {
        /* beyond n characters only spaces, which PostgreSQL drops */
        tr_printf(c, " CONSTRAINT dm_%s_%d CHECK (length(rtrim(", bpchar ? "bpchar" : "varchar",
                  m[0]);
        tr_ident(c, col);
        tr_printf(c, ", ' ')) <= %d)", m[0]);
    }
}

/* The declared type of column `col`: a name sqlite_types.c maps to the OID,
 * and the CHECKs that refuse what PostgreSQL's input function or type
 * modifier refuses, since SQLite stores any value in any column.  They are
 * SQLite's own SQL, so that the file stays usable (and checkable) with the
 * sqlite3 shell, and named dm_<what> so that sqlite_error.c reports their
 * failures with PostgreSQL's SQLSTATE and message: integer syntax and range
 * (22P02, 22003), varchar(n)/char(n) length (22001).  numeric's syntax and
 * precision and json's syntax need Dormouse's functions dm_numeric_in and
 * dm_json_in (which raise 22P02 / 22003 themselves). */
static void tr_type_decl(tr_ctx *c, const PgQuery__TypeName *t, const char *col)
{
    const char *name = tr_type_name(c, t);
    if (!name)
        return;
    char mods[64];
    const tr_type *e = tr_type_find(name);
    if (!tr_typmods(t, mods, sizeof(mods))) {
        tr_unsupported(c, "type modifiers of %s are not supported", name);
        return;
    }
    if (e && strcmp(e->pg, "numeric") == 0) {
        /* TEXT affinity keeps every digit a client sends (NUMERIC affinity
         * would make a double of it); the collation orders the text as
         * numbers (sqlite_numeric.h). */
        tr_printf(c, "numeric text%s COLLATE dm_numeric", mods);
        if (col) {
            int m[2] = {-1, 0};
            tr_typmod_ints(t, m);
            tr_puts(c, " CHECK (dm_numeric_in(");
            tr_ident(c, col);
            tr_printf(c, ", %d, %d))", m[0], m[1]);
        }
        return;
    }
    if (e) {
        tr_puts(c, e->decl);
        if (e->typmods)
            tr_puts(c, mods);
        if (col)
            tr_type_checks(c, e, t, col);
        return;
    }
    /* Other names SQLite's type table knows (e.g. "blob"), verbatim. */
    sqlite_pg_type pt;
    bool plain = true;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
            plain = false;
    if (plain && sqlite_type_from_decltype(name, &pt)) {
        tr_puts(c, name);
        tr_puts(c, mods);
        return;
    }
    tr_unsupported(c, "type \"%s\" is not supported", name);
}

static void tr_cast(tr_ctx *c, const Node *arg, const PgQuery__TypeName *t)
{
    if (tr_catalog_cast(c, arg, t))
        return;
    const char *name = tr_type_name(c, t);
    if (!name)
        return;
    const tr_type *e = tr_type_find(name);
    if (!e ||
        (!e->cast_fn && !e->length && strcmp(name, "text") != 0 && strcmp(name, "name") != 0 &&
         strcmp(name, "json") != 0 && strcmp(name, "jsonb") != 0)) {
        tr_unsupported(c, "casts to type %s are not supported", name);
        return;
    }
    if (e->cast_fn) {
        tr_printf(c, "%s(", e->cast_fn);
        tr_expr(c, arg);
        tr_puts(c, ")");
        return;
    }
    const PgQuery__AConst *len = e->length && t->n_typmods == 1 ? tr_const(t->typmods[0]) : NULL;
    if (len && len->val_case == PG_QUERY__A__CONST__VAL_IVAL && len->ival) {
        /* varchar(n), char(n): an explicit cast truncates */
        tr_puts(c, "substr(CAST(");
        tr_expr(c, arg);
        tr_printf(c, " AS TEXT), 1, %d)", len->ival->ival);
        return;
    }
    tr_puts(c, "CAST(");
    tr_expr(c, arg);
    tr_puts(c, " AS TEXT)");
}

/* ---- functions ---- */

/* PostgreSQL functions with another name in SQLite (or registered). */
static const struct {
    const char *pg;
    const char *sqlite;
} tr_func_renames[] = {
    {"transaction_timestamp", "now"},
    {"statement_timestamp", "now"},
    {"clock_timestamp", "now"},
    {"char_length", "length"},
    {"character_length", "length"},
    {"substring", "substr"},
    {"btrim", "trim"},
    {"strpos", "instr"},
    {"string_agg", "group_concat"},
    {"random", "dm_random"},
    {"bool_and", "min"},
    {"every", "min"},
    {"bool_or", "max"},
    {"ceiling", "ceil"},
    {"power", "pow"},
    {"extract", "dm_extract"},
    {"date_part", "dm_date_part"},
    {"date_trunc", "dm_date_trunc"},
    {"array_agg", "dm_array_agg_or_null"},
};

/* PostgreSQL functions that would otherwise pass through to a "no such
 * function" error although PostgreSQL has them: say they are unsupported. */
static const char *const tr_func_unsupported[] = {
    "nextval",
    "currval",
    "setval",
    "lastval",
    "to_char",
    "to_date",
    "to_timestamp",
    "to_number",
    "age",
    "make_date",
    "make_timestamp",
    "timezone",
    "regexp_replace",
    "regexp_matches",
    "regexp_match",
    "regexp_split_to_table",
    "split_part",
    "string_to_array",
    "json_agg",
    "jsonb_agg",
    "json_build_object",
    "jsonb_build_object",
    "row_to_json",
    "to_json",
    "to_jsonb",
    "format",
    "concat_ws",
    "overlay",
    "similar_to_escape",
    "like_escape",
    "txid_current",
    "pg_advisory_lock",
    "pg_advisory_unlock",
    "pg_try_advisory_lock",
    "array_append",
    "json_object_agg",
    "jsonb_set",
    "date_bin",
    "justify_interval",
    "make_interval",
    "percentile_cont",
    "percentile_disc",
    "mode",
};

static void tr_window_def(tr_ctx *c, const PgQuery__WindowDef *w)
{
    /* FRAMEOPTION_NONDEFAULT: an explicit frame; SQLite's syntax is the same
     * but the bits need decoding: not yet. */
    if (w->frame_options & 1) {
        tr_unsupported(c, "window frame clauses are not supported");
        return;
    }
    tr_puts(c, "(");
    bool space = false;
    if (tr_set(w->refname)) {
        tr_ident(c, w->refname);
        space = true;
    }
    if (w->n_partition_clause) {
        tr_puts(c, space ? " PARTITION BY " : "PARTITION BY ");
        tr_list(c, w->partition_clause, w->n_partition_clause);
        space = true;
    }
    if (w->n_order_clause) {
        tr_puts(c, space ? " ORDER BY " : "ORDER BY ");
        tr_list(c, w->order_clause, w->n_order_clause);
    }
    tr_puts(c, ")");
}

static void tr_func_call(tr_ctx *c, const PgQuery__FuncCall *f)
{
    const char *name = tr_last_name(f->funcname, f->n_funcname);
    if (!name) {
        tr_unsupported(c, "function without a name");
        return;
    }
    if (f->n_funcname == 2 && !tr_schema_ok(c, tr_str(f->funcname[0])))
        return;
    if (f->n_funcname > 2) {
        tr_unsupported(c, "cross-database references are not supported");
        return;
    }
    if (f->agg_within_group || f->func_variadic) {
        tr_unsupported(c, "%s of function %s is not supported",
                       f->agg_within_group ? "WITHIN GROUP" : "VARIADIC", name);
        return;
    }
    if (f->n_agg_order) {
        tr_unsupported(c, "ORDER BY in aggregate %s is not supported", name);
        return;
    }
    for (size_t i = 0; i < sizeof(tr_func_unsupported) / sizeof(tr_func_unsupported[0]); i++) {
        if (strcmp(name, tr_func_unsupported[i]) == 0) {
            tr_unsupported(c, "function %s is not supported", name);
            return;
        }
    }
    for (size_t i = 0; i < f->n_args; i++) {
        if (f->args[i] && f->args[i]->node_case == PG_QUERY__NODE__NODE_NAMED_ARG_EXPR) {
            tr_unsupported(c, "named arguments are not supported");
            return;
        }
    }

    /* forms that are not a plain call */
    if (strcmp(name, "position") == 0 && f->n_args == 2) {
        /* POSITION(sub IN s) is position(s, sub) in the tree */
        tr_puts(c, "instr(");
        tr_list(c, f->args, 2);
        tr_puts(c, ")");
        return;
    }
    if (strcmp(name, "substring") == 0 && f->n_args == 2 && tr_is_string_const(f->args[1])) {
        tr_unsupported(c, "substring with a regular expression is not supported");
        return;
    }
    if (strcmp(name, "octet_length") == 0 && f->n_args == 1) {
        tr_puts(c, "length(CAST(");
        tr_expr(c, f->args[0]);
        tr_puts(c, " AS BLOB))");
        return;
    }
    if (strcmp(name, "left") == 0 && f->n_args == 2) {
        tr_puts(c, "substr(");
        tr_expr(c, f->args[0]);
        tr_puts(c, ", 1, ");
        tr_expr(c, f->args[1]);
        tr_puts(c, ")");
        return;
    }
    if (strcmp(name, "concat") == 0) {
        /* concat() skips NULLs */
        tr_puts(c, "(''");
        for (size_t i = 0; i < f->n_args; i++) {
            tr_puts(c, " || coalesce(CAST(");
            tr_expr(c, f->args[i]);
            tr_puts(c, " AS TEXT), '')");
        }
        tr_puts(c, ")");
        return;
    }

    if (tr_catalog_func(c, f, name))
        return;

    const char *out = name;
    for (size_t i = 0; i < sizeof(tr_func_renames) / sizeof(tr_func_renames[0]); i++)
        if (strcmp(name, tr_func_renames[i].pg) == 0)
            out = tr_func_renames[i].sqlite;
    tr_ident(c, out);
    tr_puts(c, "(");
    if (f->agg_distinct)
        tr_puts(c, "DISTINCT ");
    if (f->agg_star)
        tr_puts(c, "*");
    else
        tr_list(c, f->args, f->n_args);
    tr_puts(c, ")");
    if (f->agg_filter) {
        tr_puts(c, " FILTER (WHERE ");
        tr_expr(c, f->agg_filter);
        tr_puts(c, ")");
    }
    if (f->over) {
        tr_puts(c, " OVER ");
        if (tr_set(f->over->name) && !f->over->n_partition_clause && !f->over->n_order_clause &&
            !tr_set(f->over->refname))
            tr_ident(c, f->over->name);
        else
            tr_window_def(c, f->over);
    }
}

static void tr_sql_value_function(tr_ctx *c, const PgQuery__SQLValueFunction *f)
{
    switch (f->op) {
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_DATE:
        tr_puts(c, "dm_current_date()");
        break;
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIME:
        tr_puts(c, "dm_current_time()");
        break;
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIME_N:
        tr_printf(c, "dm_current_time(%d)", f->typmod);
        break;
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP:
        tr_puts(c, "now()");
        break;
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP_N:
        tr_printf(c, "dm_now(%d)", f->typmod);
        break;
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIME:
        tr_puts(c, "dm_localtime()");
        break;
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIME_N:
        tr_printf(c, "dm_localtime(%d)", f->typmod);
        break;
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP:
        tr_puts(c, "dm_localtimestamp()");
        break;
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP_N:
        tr_printf(c, "dm_localtimestamp(%d)", f->typmod);
        break;
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_CATALOG:
        tr_puts(c, "current_database()");
        break;
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_SCHEMA:
        tr_puts(c, "'public'");
        break;
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_ROLE:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_USER:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_USER:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_SESSION_USER:
        tr_puts(c, "dm_current_user()");
        break;
    default:
        tr_unsupported(c, "this SQL value function is not supported");
        break;
    }
}

static void tr_collate(tr_ctx *c, const PgQuery__CollateClause *cc)
{
    const char *coll = tr_last_name(cc->collname, cc->n_collname);
    if (cc->n_collname == 2 && !tr_schema_ok(c, tr_str(cc->collname[0])))
        return;
    if (!coll || (strcmp(coll, "C") != 0 && strcmp(coll, "POSIX") != 0 &&
                  strcmp(coll, "default") != 0 && strcmp(coll, "ucs_basic") != 0)) {
        tr_unsupported(c, "collation \"%s\" is not supported", coll ? coll : "?");
        return;
    }
    if (!cc->arg) {
        tr_puts(c, "COLLATE BINARY");
        return;
    }
    tr_puts(c, "(");
    tr_expr(c, cc->arg);
    tr_puts(c, " COLLATE BINARY)");
}

static void tr_expr_inner(tr_ctx *c, const Node *n)
{
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_COLUMN_REF:
        tr_column_ref(c, n->column_ref);
        return;
    case PG_QUERY__NODE__NODE_A_CONST:
        tr_a_const(c, n->a_const);
        return;
    case PG_QUERY__NODE__NODE_PARAM_REF:
        tr_printf(c, "?%d", n->param_ref->number);
        return;
    case PG_QUERY__NODE__NODE_A_EXPR:
        tr_a_expr(c, n->a_expr);
        return;
    case PG_QUERY__NODE__NODE_BOOL_EXPR: {
        const PgQuery__BoolExpr *b = n->bool_expr;
        if (b->boolop == PG_QUERY__BOOL_EXPR_TYPE__NOT_EXPR) {
            tr_puts(c, "(NOT ");
            if (b->n_args)
                tr_expr(c, b->args[0]);
            tr_puts(c, ")");
            return;
        }
        const char *op = b->boolop == PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR ? " AND " : " OR ";
        tr_puts(c, "(");
        for (size_t i = 0; i < b->n_args; i++) {
            if (i)
                tr_puts(c, op);
            tr_expr(c, b->args[i]);
        }
        tr_puts(c, ")");
        return;
    }
    case PG_QUERY__NODE__NODE_NULL_TEST:
        tr_puts(c, "(");
        tr_expr(c, n->null_test->arg);
        tr_puts(c, n->null_test->nulltesttype == PG_QUERY__NULL_TEST_TYPE__IS_NULL
                       ? " IS NULL)"
                       : " IS NOT NULL)");
        return;
    case PG_QUERY__NODE__NODE_BOOLEAN_TEST: {
        static const char *const tests[] = {
            "",         " IS TRUE",    " IS NOT TRUE", " IS FALSE", " IS NOT FALSE",
            " IS NULL", " IS NOT NULL"};
        int t = (int)n->boolean_test->booltesttype;
        if (t < 1 || t > 6) {
            tr_fail(c, WIRE_SQLSTATE_INTERNAL_ERROR, "malformed boolean test");
            return;
        }
        tr_puts(c, "(");
        tr_expr(c, n->boolean_test->arg);
        tr_puts(c, tests[t]);
        tr_puts(c, ")");
        return;
    }
    case PG_QUERY__NODE__NODE_SUB_LINK:
        tr_sub_link(c, n->sub_link);
        return;
    case PG_QUERY__NODE__NODE_CASE_EXPR: {
        const PgQuery__CaseExpr *e = n->case_expr;
        tr_puts(c, "CASE");
        if (e->arg) {
            tr_puts(c, " ");
            tr_expr(c, e->arg);
        }
        for (size_t i = 0; i < e->n_args; i++) {
            const Node *w = e->args[i];
            if (!w || w->node_case != PG_QUERY__NODE__NODE_CASE_WHEN) {
                tr_fail(c, WIRE_SQLSTATE_INTERNAL_ERROR, "malformed CASE");
                return;
            }
            tr_puts(c, " WHEN ");
            tr_expr(c, w->case_when->expr);
            tr_puts(c, " THEN ");
            tr_expr(c, w->case_when->result);
        }
        if (e->defresult) {
            tr_puts(c, " ELSE ");
            tr_expr(c, e->defresult);
        }
        tr_puts(c, " END");
        return;
    }
    case PG_QUERY__NODE__NODE_COALESCE_EXPR:
        tr_puts(c, "coalesce(");
        tr_list(c, n->coalesce_expr->args, n->coalesce_expr->n_args);
        if (n->coalesce_expr->n_args == 1)
            tr_puts(c, ", NULL");
        tr_puts(c, ")");
        return;
    case PG_QUERY__NODE__NODE_MIN_MAX_EXPR:
        /* GREATEST/LEAST ignore NULLs, SQLite's max()/min() do not */
        tr_puts(c, n->min_max_expr->op == PG_QUERY__MIN_MAX_OP__IS_GREATEST ? "dm_greatest("
                                                                            : "dm_least(");
        tr_list(c, n->min_max_expr->args, n->min_max_expr->n_args);
        tr_puts(c, ")");
        return;
    case PG_QUERY__NODE__NODE_TYPE_CAST:
        tr_cast(c, n->type_cast->arg, n->type_cast->type_name);
        return;
    case PG_QUERY__NODE__NODE_FUNC_CALL:
        tr_func_call(c, n->func_call);
        return;
    case PG_QUERY__NODE__NODE_SQLVALUE_FUNCTION:
        tr_sql_value_function(c, n->sqlvalue_function);
        return;
    case PG_QUERY__NODE__NODE_COLLATE_CLAUSE:
        tr_collate(c, n->collate_clause);
        return;
    case PG_QUERY__NODE__NODE_ROW_EXPR:
        tr_puts(c, "(");
        tr_list(c, n->row_expr->args, n->row_expr->n_args);
        tr_puts(c, ")");
        return;
    case PG_QUERY__NODE__NODE_SORT_BY: {
        const PgQuery__SortBy *s = n->sort_by;
        tr_expr(c, s->node);
        bool desc = s->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_DESC;
        if (s->sortby_dir == PG_QUERY__SORT_BY_DIR__SORTBY_USING) {
            const char *op = tr_last_name(s->use_op, s->n_use_op);
            if (!op || (strcmp(op, "<") != 0 && strcmp(op, ">") != 0)) {
                tr_unsupported(c, "ORDER BY USING %s is not supported", op ? op : "");
                return;
            }
            desc = op[0] == '>';
        }
        tr_puts(c, desc ? " DESC" : " ASC");
        bool nulls_first = desc;
        if (s->sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_FIRST)
            nulls_first = true;
        else if (s->sortby_nulls == PG_QUERY__SORT_BY_NULLS__SORTBY_NULLS_LAST)
            nulls_first = false;
        tr_puts(c, nulls_first ? " NULLS FIRST" : " NULLS LAST");
        return;
    }
    case PG_QUERY__NODE__NODE_SET_TO_DEFAULT:
        tr_unsupported(c, "DEFAULT is not supported here");
        return;
    case PG_QUERY__NODE__NODE_A_ARRAY_EXPR:
        c->catalog = true;
        tr_puts(c, "dm_array(");
        tr_list(c, n->a_array_expr->elements, n->a_array_expr->n_elements);
        tr_puts(c, ")");
        return;
    case PG_QUERY__NODE__NODE_A_INDIRECTION:
        tr_indirection(c, n->a_indirection);
        return;
    case PG_QUERY__NODE__NODE_GROUPING_FUNC:
        tr_unsupported(c, "GROUPING is not supported");
        return;
    case PG_QUERY__NODE__NODE_CURRENT_OF_EXPR:
        tr_unsupported(c, "WHERE CURRENT OF is not supported");
        return;
    default:
        tr_unsupported(c, "expression %s is not supported", tr_node_name(n));
        return;
    }
}

static void tr_expr(tr_ctx *c, const Node *n)
{
    if (c->failed)
        return;
    if (!n) {
        tr_fail(c, WIRE_SQLSTATE_INTERNAL_ERROR, "missing expression");
        return;
    }
    if (++c->depth > TR_MAX_DEPTH) {
        tr_fail(c, TR_SQLSTATE_STACK_DEPTH, "stack depth limit exceeded");
        c->depth--;
        return;
    }
    tr_expr_inner(c, n);
    c->depth--;
}

/* ---- SELECT ---- */

static void tr_with(tr_ctx *c, const PgQuery__WithClause *w)
{
    tr_puts(c, w->recursive ? "WITH RECURSIVE " : "WITH ");
    for (size_t i = 0; i < w->n_ctes; i++) {
        const Node *n = w->ctes[i];
        if (!n || n->node_case != PG_QUERY__NODE__NODE_COMMON_TABLE_EXPR) {
            tr_fail(c, WIRE_SQLSTATE_INTERNAL_ERROR, "malformed WITH");
            return;
        }
        const PgQuery__CommonTableExpr *cte = n->common_table_expr;
        if (cte->search_clause || cte->cycle_clause) {
            tr_unsupported(c, "SEARCH and CYCLE clauses are not supported");
            return;
        }
        if (!cte->ctequery || cte->ctequery->node_case != PG_QUERY__NODE__NODE_SELECT_STMT) {
            tr_unsupported(c, "data-modifying statements in WITH are not supported");
            return;
        }
        if (i)
            tr_puts(c, ", ");
        tr_ident(c, cte->ctename);
        if (cte->n_aliascolnames)
            tr_ident_list(c, cte->aliascolnames, cte->n_aliascolnames);
        tr_puts(c, " AS ");
        if (cte->ctematerialized == PG_QUERY__CTEMATERIALIZE__CTEMaterializeAlways)
            tr_puts(c, "MATERIALIZED ");
        else if (cte->ctematerialized == PG_QUERY__CTEMATERIALIZE__CTEMaterializeNever)
            tr_puts(c, "NOT MATERIALIZED ");
        tr_puts(c, "(");
        tr_select(c, cte->ctequery->select_stmt, NULL, 0);
        tr_puts(c, ")");
    }
    tr_puts(c, " ");
}

static void tr_from_item(tr_ctx *c, const Node *n, bool nested)
{
    if (c->failed)
        return;
    switch (n ? n->node_case : PG_QUERY__NODE__NODE__NOT_SET) {
    case PG_QUERY__NODE__NODE_RANGE_VAR:
        if (!tr_catalog_rangevar(c, n->range_var))
            tr_rangevar(c, n->range_var);
        return;
    case PG_QUERY__NODE__NODE_RANGE_SUBSELECT: {
        const PgQuery__RangeSubselect *r = n->range_subselect;
        if (r->lateral && tr_lateral_row(c, r))
            return;
        if (r->lateral) {
            tr_unsupported(c, "LATERAL is not supported");
            return;
        }
        if (!r->subquery || r->subquery->node_case != PG_QUERY__NODE__NODE_SELECT_STMT) {
            tr_unsupported(c, "this subquery in FROM is not supported");
            return;
        }
        tr_puts(c, "(");
        tr_select(c, r->subquery->select_stmt, r->alias ? r->alias->colnames : NULL,
                  r->alias ? r->alias->n_colnames : 0);
        tr_puts(c, ")");
        if (r->alias) {
            tr_puts(c, " AS ");
            tr_ident(c, r->alias->aliasname);
        }
        return;
    }
    case PG_QUERY__NODE__NODE_JOIN_EXPR: {
        const PgQuery__JoinExpr *j = n->join_expr;
        if (j->alias || j->join_using_alias) {
            tr_unsupported(c, "aliases for joins are not supported");
            return;
        }
        if (nested)
            tr_puts(c, "(");
        tr_from_item(c, j->larg, false);
        if (j->is_natural)
            tr_puts(c, " NATURAL");
        switch (j->jointype) {
        case PG_QUERY__JOIN_TYPE__JOIN_INNER:
            tr_puts(c, j->quals || j->n_using_clause || j->is_natural ? " JOIN " : " CROSS JOIN ");
            break;
        case PG_QUERY__JOIN_TYPE__JOIN_LEFT:
            tr_puts(c, " LEFT JOIN ");
            break;
        case PG_QUERY__JOIN_TYPE__JOIN_RIGHT:
            tr_puts(c, " RIGHT JOIN ");
            break;
        case PG_QUERY__JOIN_TYPE__JOIN_FULL:
            tr_puts(c, " FULL JOIN ");
            break;
        default:
            tr_unsupported(c, "this join type is not supported");
            return;
        }
        tr_from_item(c, j->rarg, true);
        if (j->quals) {
            tr_puts(c, " ON ");
            tr_expr(c, j->quals);
        } else if (j->n_using_clause) {
            tr_puts(c, " USING ");
            tr_ident_list(c, j->using_clause, j->n_using_clause);
        }
        if (nested)
            tr_puts(c, ")");
        return;
    }
    case PG_QUERY__NODE__NODE_RANGE_FUNCTION:
        tr_range_function(c, n->range_function);
        return;
    default:
        tr_unsupported(c, "FROM item %s is not supported", tr_node_name(n));
        return;
    }
}

static bool tr_is_star(const Node *val)
{
    if (!val || val->node_case != PG_QUERY__NODE__NODE_COLUMN_REF)
        return false;
    const PgQuery__ColumnRef *cr = val->column_ref;
    return cr->n_fields && cr->fields[cr->n_fields - 1] &&
           cr->fields[cr->n_fields - 1]->node_case == PG_QUERY__NODE__NODE_A_STAR;
}

/* A select list; names (alias column names) override the columns' names. */
static void tr_target_list(tr_ctx *c, Node *const *targets, size_t n, Node *const *names,
                           size_t nnames)
{
    if (!n) {
        tr_unsupported(c, "SELECT without result columns is not supported");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const Node *t = targets[i];
        if (!t || t->node_case != PG_QUERY__NODE__NODE_RES_TARGET) {
            tr_fail(c, WIRE_SQLSTATE_INTERNAL_ERROR, "malformed target list");
            return;
        }
        const PgQuery__ResTarget *rt = t->res_target;
        if (i)
            tr_puts(c, ", ");
        bool reg_as_name = c->reg_as_name;
        c->reg_as_name = rt->val && rt->val->node_case == PG_QUERY__NODE__NODE_TYPE_CAST;
        tr_expr(c, rt->val);
        c->reg_as_name = reg_as_name;
        if (tr_is_star(rt->val)) {
            if (nnames)
                tr_unsupported(c, "column aliases for a subquery with * are not supported");
            continue;
        }
        const char *name = i < nnames ? tr_str(names[i]) : NULL;
        if (!name && tr_set(rt->name))
            name = rt->name;
        if (!name)
            name = storage_colname_figure(rt->val);
        if (name) {
            tr_puts(c, " AS ");
            tr_ident(c, name);
        }
    }
}

static void tr_values(tr_ctx *c, Node *const *rows, size_t n)
{
    tr_puts(c, "VALUES ");
    for (size_t i = 0; i < n; i++) {
        const Node *row = rows[i];
        if (!row || row->node_case != PG_QUERY__NODE__NODE_LIST) {
            tr_fail(c, WIRE_SQLSTATE_INTERNAL_ERROR, "malformed VALUES");
            return;
        }
        if (i)
            tr_puts(c, ", ");
        tr_puts(c, "(");
        tr_list(c, row->list->items, row->list->n_items);
        tr_puts(c, ")");
    }
}

static bool tr_is_setop(const PgQuery__SelectStmt *s)
{
    return s->op != PG_QUERY__SET_OPERATION__SETOP_NONE &&
           s->op != PG_QUERY__SET_OPERATION__SET_OPERATION_UNDEFINED;
}

/* An operand of UNION/INTERSECT/EXCEPT.  SQLite's compound selects are flat,
 * left-associative and take ORDER BY/LIMIT only at the end: operands that
 * are not plain selects become subqueries. */
static void tr_setop_operand(tr_ctx *c, const PgQuery__SelectStmt *s, Node *const *names,
                             size_t nnames, bool left)
{
    bool wrap = s->n_sort_clause || s->limit_count || s->limit_offset || s->with_clause ||
                (tr_is_setop(s) && !left);
    if (!wrap) {
        tr_select(c, s, names, nnames);
        return;
    }
    tr_puts(c, "SELECT * FROM (");
    tr_select(c, s, names, nnames);
    tr_puts(c, ")");
}

static void tr_limit(tr_ctx *c, const PgQuery__SelectStmt *s)
{
    if (s->limit_option == PG_QUERY__LIMIT_OPTION__LIMIT_OPTION_WITH_TIES) {
        tr_unsupported(c, "FETCH FIRST ... WITH TIES is not supported");
        return;
    }
    if (!s->limit_count && !s->limit_offset)
        return;
    tr_puts(c, " LIMIT ");
    const PgQuery__AConst *k = tr_const(s->limit_count);
    if (!s->limit_count || (k && k->isnull))
        tr_puts(c, "-1"); /* LIMIT ALL */
    else
        tr_expr(c, s->limit_count);
    if (s->limit_offset) {
        tr_puts(c, " OFFSET ");
        tr_expr(c, s->limit_offset);
    }
}

static void tr_select_body(tr_ctx *c, const PgQuery__SelectStmt *s, Node *const *names,
                           size_t nnames)
{
    int nsubst = c->nsubst;
    for (size_t i = 0; i < s->n_from_clause; i++)
        tr_from_subst(c, s->from_clause[i]);
    tr_select_core(c, s, names, nnames);
    c->nsubst = nsubst;
}

static void tr_select_core(tr_ctx *c, const PgQuery__SelectStmt *s, Node *const *names,
                           size_t nnames)
{
    if (s->into_clause) {
        tr_unsupported(c, "SELECT INTO is not supported");
        return;
    }
    if (s->with_clause)
        tr_with(c, s->with_clause);

    if (tr_is_setop(s)) {
        if (!s->larg || !s->rarg) {
            tr_fail(c, WIRE_SQLSTATE_INTERNAL_ERROR, "malformed set operation");
            return;
        }
        tr_setop_operand(c, s->larg, names, nnames, true);
        switch (s->op) {
        case PG_QUERY__SET_OPERATION__SETOP_UNION:
            tr_puts(c, s->all ? " UNION ALL " : " UNION ");
            break;
        case PG_QUERY__SET_OPERATION__SETOP_INTERSECT:
            if (s->all) {
                tr_unsupported(c, "INTERSECT ALL is not supported");
                return;
            }
            tr_puts(c, " INTERSECT ");
            break;
        default:
            if (s->all) {
                tr_unsupported(c, "EXCEPT ALL is not supported");
                return;
            }
            tr_puts(c, " EXCEPT ");
            break;
        }
        tr_setop_operand(c, s->rarg, NULL, 0, false);
    } else if (s->n_values_lists) {
        const Node *row0 = s->values_lists[0];
        size_t ncols =
            row0 && row0->node_case == PG_QUERY__NODE__NODE_LIST ? row0->list->n_items : 0;
        if (nnames) {
            /* (VALUES ...) AS v(a, b): SQLite names the columns column1... */
            tr_puts(c, "SELECT ");
            for (size_t i = 0; i < ncols; i++) {
                char col[32];
                snprintf(col, sizeof(col), "column%zu", i + 1);
                if (i)
                    tr_puts(c, ", ");
                tr_ident(c, col);
                tr_puts(c, " AS ");
                tr_ident(c, i < nnames && tr_str(names[i]) ? tr_str(names[i]) : col);
            }
            tr_puts(c, " FROM (");
            tr_values(c, s->values_lists, s->n_values_lists);
            tr_puts(c, ")");
        } else if (s->n_sort_clause || s->limit_count || s->limit_offset) {
            tr_puts(c, "SELECT * FROM (");
            tr_values(c, s->values_lists, s->n_values_lists);
            tr_puts(c, ")");
        } else {
            tr_values(c, s->values_lists, s->n_values_lists);
        }
    } else {
        tr_puts(c, "SELECT ");
        if (s->n_distinct_clause) {
            if (s->n_distinct_clause > 1 ||
                (s->distinct_clause[0] &&
                 s->distinct_clause[0]->node_case != PG_QUERY__NODE__NODE__NOT_SET)) {
                tr_unsupported(c, "SELECT DISTINCT ON is not supported");
                return;
            }
            tr_puts(c, "DISTINCT ");
        }
        tr_target_list(c, s->target_list, s->n_target_list, names, nnames);
        if (s->n_from_clause) {
            tr_puts(c, " FROM ");
            for (size_t i = 0; i < s->n_from_clause; i++) {
                if (i)
                    tr_puts(c, ", ");
                tr_from_item(c, s->from_clause[i], false);
            }
        }
        if (s->where_clause) {
            tr_puts(c, " WHERE ");
            tr_expr(c, s->where_clause);
        }
        if (s->n_group_clause) {
            if (s->group_distinct) {
                tr_unsupported(c, "GROUP BY DISTINCT is not supported");
                return;
            }
            for (size_t i = 0; i < s->n_group_clause; i++) {
                if (s->group_clause[i] &&
                    s->group_clause[i]->node_case == PG_QUERY__NODE__NODE_GROUPING_SET) {
                    tr_unsupported(c, "GROUPING SETS, ROLLUP and CUBE are not supported");
                    return;
                }
            }
            tr_puts(c, " GROUP BY ");
            tr_list(c, s->group_clause, s->n_group_clause);
        }
        if (s->having_clause) {
            tr_puts(c, " HAVING ");
            tr_expr(c, s->having_clause);
        }
        for (size_t i = 0; i < s->n_window_clause; i++) {
            const Node *w = s->window_clause[i];
            if (!w || w->node_case != PG_QUERY__NODE__NODE_WINDOW_DEF) {
                tr_fail(c, WIRE_SQLSTATE_INTERNAL_ERROR, "malformed WINDOW");
                return;
            }
            tr_puts(c, i ? ", " : " WINDOW ");
            tr_ident(c, w->window_def->name);
            tr_puts(c, " AS ");
            tr_window_def(c, w->window_def);
        }
    }
    if (s->n_sort_clause) {
        tr_puts(c, " ORDER BY ");
        tr_list(c, s->sort_clause, s->n_sort_clause);
    }
    tr_limit(c, s);
    /* s->locking_clause (FOR UPDATE/SHARE): dropped, see the top of the file */
}

static void tr_select(tr_ctx *c, const PgQuery__SelectStmt *s, Node *const *names, size_t nnames)
{
    if (c->failed)
        return;
    if (++c->depth > TR_MAX_DEPTH) {
        tr_fail(c, TR_SQLSTATE_STACK_DEPTH, "stack depth limit exceeded");
        c->depth--;
        return;
    }
    tr_select_body(c, s, names, nnames);
    c->depth--;
}

/* ---- INSERT / UPDATE / DELETE ---- */

static void tr_returning(tr_ctx *c, Node *const *list, size_t n, const PgQuery__RangeVar *rel)
{
    if (!n)
        return;
    c->in_returning = true;
    c->ret_rel = rel->relname;
    c->ret_alias = rel->alias ? rel->alias->aliasname : NULL;
    tr_puts(c, " RETURNING ");
    tr_target_list(c, list, n, NULL, 0);
    c->in_returning = false;
}

/* SET a = x, (b, c) = (y, z) of UPDATE and ON CONFLICT DO UPDATE. */
static void tr_set_list(tr_ctx *c, Node *const *targets, size_t n)
{
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        const Node *t = targets[i];
        if (!t || t->node_case != PG_QUERY__NODE__NODE_RES_TARGET) {
            tr_fail(c, WIRE_SQLSTATE_INTERNAL_ERROR, "malformed SET list");
            return;
        }
        const PgQuery__ResTarget *rt = t->res_target;
        if (rt->n_indirection) {
            tr_unsupported(c, "assignment to a subfield or an array element is not supported");
            return;
        }
        if (rt->val && rt->val->node_case == PG_QUERY__NODE__NODE_SET_TO_DEFAULT) {
            tr_unsupported(c, "SET column = DEFAULT is not supported");
            return;
        }
        if (rt->val && rt->val->node_case == PG_QUERY__NODE__NODE_MULTI_ASSIGN_REF) {
            const PgQuery__MultiAssignRef *m = rt->val->multi_assign_ref;
            if (m->colno != 1)
                continue; /* emitted with the first column */
            if (i + (size_t)m->ncolumns > n) {
                tr_fail(c, WIRE_SQLSTATE_INTERNAL_ERROR, "malformed multiple assignment");
                return;
            }
            if (!first)
                tr_puts(c, ", ");
            first = false;
            tr_ident_list(c, targets + i, (size_t)m->ncolumns);
            tr_puts(c, " = ");
            if (m->source && m->source->node_case == PG_QUERY__NODE__NODE_ROW_EXPR) {
                tr_expr(c, m->source);
            } else {
                tr_expr(c, m->source);
            }
            continue;
        }
        if (!first)
            tr_puts(c, ", ");
        first = false;
        tr_ident(c, rt->name);
        tr_puts(c, " = ");
        tr_expr(c, rt->val);
    }
}

static bool tr_is_default(const Node *n)
{
    return n && n->node_case == PG_QUERY__NODE__NODE_SET_TO_DEFAULT;
}

static void tr_insert(tr_ctx *c, const PgQuery__InsertStmt *s)
{
    if (s->with_clause)
        tr_with(c, s->with_clause);
    if (s->override == PG_QUERY__OVERRIDING_KIND__OVERRIDING_USER_VALUE) {
        tr_unsupported(c, "OVERRIDING USER VALUE is not supported");
        return;
    }
    tr_puts(c, "INSERT INTO ");
    tr_rangevar(c, s->relation);
    for (size_t i = 0; i < s->n_cols; i++) {
        const Node *col = s->cols[i];
        if (!col || col->node_case != PG_QUERY__NODE__NODE_RES_TARGET ||
            col->res_target->n_indirection) {
            tr_unsupported(c, "assignment to a subfield or an array element is not supported");
            return;
        }
    }

    const Node *sel = s->select_stmt;
    const PgQuery__SelectStmt *ss =
        sel && sel->node_case == PG_QUERY__NODE__NODE_SELECT_STMT ? sel->select_stmt : NULL;
    if (sel && !ss) {
        tr_unsupported(c, "this INSERT source is not supported");
        return;
    }
    bool plain_values = ss && ss->n_values_lists && !tr_is_setop(ss) && !ss->n_sort_clause &&
                        !ss->limit_count && !ss->limit_offset && !ss->with_clause;
    if (!ss) {
        tr_puts(c, " DEFAULT VALUES");
    } else if (plain_values) {
        /* SQLite has no DEFAULT in VALUES: a single row leaves those columns
         * out of the column list. */
        const PgQuery__List *row0 = ss->values_lists[0]->list;
        bool has_default = false;
        for (size_t r = 0; r < ss->n_values_lists; r++) {
            const Node *row = ss->values_lists[r];
            if (!row || row->node_case != PG_QUERY__NODE__NODE_LIST) {
                tr_fail(c, WIRE_SQLSTATE_INTERNAL_ERROR, "malformed VALUES");
                return;
            }
            for (size_t i = 0; i < row->list->n_items; i++)
                has_default |= tr_is_default(row->list->items[i]);
        }
        if (!has_default) {
            if (s->n_cols)
                tr_puts(c, " "), tr_ident_list(c, s->cols, s->n_cols);
            tr_puts(c, " ");
            tr_values(c, ss->values_lists, ss->n_values_lists);
        } else if (ss->n_values_lists > 1) {
            tr_unsupported(c, "DEFAULT in a multi-row VALUES list is not supported");
            return;
        } else if (!s->n_cols) {
            tr_unsupported(c, "DEFAULT in VALUES without a column list is not supported");
            return;
        } else if (row0->n_items != s->n_cols) {
            tr_fail(c, WIRE_SQLSTATE_SYNTAX_ERROR,
                    "INSERT has a different number of expressions than target columns");
            return;
        } else {
            size_t kept = 0;
            for (size_t i = 0; i < row0->n_items; i++)
                kept += !tr_is_default(row0->items[i]);
            if (!kept) {
                tr_puts(c, " DEFAULT VALUES");
            } else {
                tr_puts(c, " (");
                bool first = true;
                for (size_t i = 0; i < row0->n_items; i++) {
                    if (tr_is_default(row0->items[i]))
                        continue;
                    if (!first)
                        tr_puts(c, ", ");
                    first = false;
                    tr_ident(c, s->cols[i]->res_target->name);
                }
                tr_puts(c, ") VALUES (");
                first = true;
                for (size_t i = 0; i < row0->n_items; i++) {
                    if (tr_is_default(row0->items[i]))
                        continue;
                    if (!first)
                        tr_puts(c, ", ");
                    first = false;
                    tr_expr(c, row0->items[i]);
                }
                tr_puts(c, ")");
            }
        }
    } else {
        if (s->n_cols)
            tr_puts(c, " "), tr_ident_list(c, s->cols, s->n_cols);
        tr_puts(c, " ");
        if (s->on_conflict_clause) {
            /* SQLite would read ON CONFLICT as a join constraint here */
            tr_puts(c, "SELECT * FROM (");
            tr_select(c, ss, NULL, 0);
            tr_puts(c, ") WHERE 1");
        } else {
            tr_select(c, ss, NULL, 0);
        }
    }

    const PgQuery__OnConflictClause *oc = s->on_conflict_clause;
    if (oc) {
        tr_puts(c, " ON CONFLICT");
        if (oc->infer) {
            if (tr_set(oc->infer->conname)) {
                tr_unsupported(c, "ON CONFLICT ON CONSTRAINT is not supported");
                return;
            }
            tr_puts(c, " (");
            for (size_t i = 0; i < oc->infer->n_index_elems; i++) {
                const Node *e = oc->infer->index_elems[i];
                if (!e || e->node_case != PG_QUERY__NODE__NODE_INDEX_ELEM) {
                    tr_fail(c, WIRE_SQLSTATE_INTERNAL_ERROR, "malformed ON CONFLICT");
                    return;
                }
                if (i)
                    tr_puts(c, ", ");
                if (tr_set(e->index_elem->name)) {
                    tr_ident(c, e->index_elem->name);
                } else {
                    tr_puts(c, "(");
                    tr_expr(c, e->index_elem->expr);
                    tr_puts(c, ")");
                }
            }
            tr_puts(c, ")");
            if (oc->infer->where_clause) {
                tr_puts(c, " WHERE ");
                tr_expr(c, oc->infer->where_clause);
            }
        }
        if (oc->action == PG_QUERY__ON_CONFLICT_ACTION__ONCONFLICT_UPDATE) {
            tr_puts(c, " DO UPDATE SET ");
            tr_set_list(c, oc->target_list, oc->n_target_list);
            if (oc->where_clause) {
                tr_puts(c, " WHERE ");
                tr_expr(c, oc->where_clause);
            }
        } else {
            tr_puts(c, " DO NOTHING");
        }
    }
    tr_returning(c, s->returning_list, s->n_returning_list, s->relation);
}

static void tr_update(tr_ctx *c, const PgQuery__UpdateStmt *s)
{
    if (s->with_clause)
        tr_with(c, s->with_clause);
    tr_puts(c, "UPDATE ");
    tr_rangevar(c, s->relation);
    tr_puts(c, " SET ");
    tr_set_list(c, s->target_list, s->n_target_list);
    if (s->n_from_clause) {
        tr_puts(c, " FROM ");
        for (size_t i = 0; i < s->n_from_clause; i++) {
            if (i)
                tr_puts(c, ", ");
            tr_from_item(c, s->from_clause[i], false);
        }
    }
    if (s->where_clause) {
        tr_puts(c, " WHERE ");
        tr_expr(c, s->where_clause);
    }
    tr_returning(c, s->returning_list, s->n_returning_list, s->relation);
}

static void tr_delete(tr_ctx *c, const PgQuery__DeleteStmt *s)
{
    if (s->with_clause)
        tr_with(c, s->with_clause);
    tr_puts(c, "DELETE FROM ");
    tr_rangevar(c, s->relation);
    if (s->n_using_clause) {
        /* DELETE FROM t USING u WHERE p:
         * DELETE FROM t WHERE rowid IN (SELECT t.rowid FROM t, u WHERE p) */
        const char *q = s->relation->alias ? s->relation->alias->aliasname : s->relation->relname;
        tr_puts(c, " WHERE ");
        tr_ident(c, q);
        tr_puts(c, ".\"rowid\" IN (SELECT ");
        tr_ident(c, q);
        tr_puts(c, ".\"rowid\" FROM ");
        tr_rangevar(c, s->relation);
        for (size_t i = 0; i < s->n_using_clause; i++) {
            tr_puts(c, ", ");
            tr_from_item(c, s->using_clause[i], false);
        }
        if (s->where_clause) {
            tr_puts(c, " WHERE ");
            tr_expr(c, s->where_clause);
        }
        tr_puts(c, ")");
    } else if (s->where_clause) {
        tr_puts(c, " WHERE ");
        tr_expr(c, s->where_clause);
    }
    tr_returning(c, s->returning_list, s->n_returning_list, s->relation);
}

/* ---- CREATE TABLE ---- */

static bool tr_is_serial(const PgQuery__TypeName *t)
{
    const char *n = t ? tr_last_name(t->names, t->n_names) : NULL;
    if (!n)
        return false;
    static const char *const serials[] = {"serial",  "serial4",     "bigserial",
                                          "serial8", "smallserial", "serial2"};
    for (size_t i = 0; i < sizeof(serials) / sizeof(serials[0]); i++)
        if (strcmp(n, serials[i]) == 0)
            return true;
    return false;
}

static const char *tr_fk_action(char a)
{
    switch (a) {
    case 'r':
        return "RESTRICT";
    case 'c':
        return "CASCADE";
    case 'n':
        return "SET NULL";
    case 'd':
        return "SET DEFAULT";
    default:
        return NULL; /* 'a': NO ACTION, the default */
    }
}

/* One constraint, column-level (col != NULL) or table-level. */
static void tr_constraint(tr_ctx *c, const PgQuery__Constraint *k, const char *table,
                          const char *col)
{
    if (tr_set(k->conname)) {
        tr_puts(c, " CONSTRAINT ");
        tr_ident(c, k->conname);
    }
    switch (k->contype) {
    case PG_QUERY__CONSTR_TYPE__CONSTR_NULL:
        tr_puts(c, " NULL");
        return;
    case PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL:
        tr_puts(c, " NOT NULL");
        return;
    case PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT:
        tr_puts(c, " DEFAULT (");
        tr_expr(c, k->raw_expr);
        tr_puts(c, ")");
        return;
    case PG_QUERY__CONSTR_TYPE__CONSTR_CHECK:
        if (!tr_set(k->conname) && col) {
            /* PostgreSQL's name, which its error messages show */
            char name[200];
            snprintf(name, sizeof(name), "%s_%s_check", table, col);
            tr_puts(c, " CONSTRAINT ");
            tr_ident(c, name);
        }
        tr_puts(c, " CHECK (");
        tr_expr(c, k->raw_expr);
        tr_puts(c, ")");
        return;
    case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY:
    case PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE:
        if (k->nulls_not_distinct || k->n_including || k->deferrable) {
            tr_unsupported(c,
                           "%s constraints with NULLS NOT DISTINCT, INCLUDE or DEFERRABLE are "
                           "not supported",
                           k->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY ? "PRIMARY KEY"
                                                                               : "UNIQUE");
            return;
        }
        tr_puts(c,
                k->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY ? " PRIMARY KEY" : " UNIQUE");
        if (!col) {
            tr_puts(c, " ");
            tr_ident_list(c, k->keys, k->n_keys);
        }
        return;
    case PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN:
        if (tr_set(k->fk_matchtype) && k->fk_matchtype[0] != 's') {
            tr_unsupported(c, "MATCH FULL and MATCH PARTIAL are not supported");
            return;
        }
        if (k->n_fk_del_set_cols) {
            tr_unsupported(c, "ON DELETE SET NULL/DEFAULT with a column list is not supported");
            return;
        }
        if (!col) {
            tr_puts(c, " FOREIGN KEY ");
            tr_ident_list(c, k->fk_attrs, k->n_fk_attrs);
        }
        tr_puts(c, " REFERENCES ");
        tr_relname(c, k->pktable);
        if (k->n_pk_attrs) {
            tr_puts(c, " ");
            tr_ident_list(c, k->pk_attrs, k->n_pk_attrs);
        }
        if (tr_set(k->fk_del_action) && tr_fk_action(k->fk_del_action[0]))
            tr_printf(c, " ON DELETE %s", tr_fk_action(k->fk_del_action[0]));
        if (tr_set(k->fk_upd_action) && tr_fk_action(k->fk_upd_action[0]))
            tr_printf(c, " ON UPDATE %s", tr_fk_action(k->fk_upd_action[0]));
        if (k->deferrable)
            tr_puts(c, k->initdeferred ? " DEFERRABLE INITIALLY DEFERRED" : " DEFERRABLE");
        return;
    case PG_QUERY__CONSTR_TYPE__CONSTR_GENERATED:
        tr_puts(c, " GENERATED ALWAYS AS (");
        tr_expr(c, k->raw_expr);
        tr_puts(c, ") STORED");
        return;
    case PG_QUERY__CONSTR_TYPE__CONSTR_ATTR_DEFERRABLE:
        tr_puts(c, " DEFERRABLE");
        return;
    case PG_QUERY__CONSTR_TYPE__CONSTR_ATTR_NOT_DEFERRABLE:
        tr_puts(c, " NOT DEFERRABLE");
        return;
    case PG_QUERY__CONSTR_TYPE__CONSTR_ATTR_DEFERRED:
        tr_puts(c, " INITIALLY DEFERRED");
        return;
    case PG_QUERY__CONSTR_TYPE__CONSTR_ATTR_IMMEDIATE:
        tr_puts(c, " INITIALLY IMMEDIATE");
        return;
    case PG_QUERY__CONSTR_TYPE__CONSTR_EXCLUSION:
        tr_unsupported(c, "EXCLUDE constraints are not supported");
        return;
    default:
        tr_unsupported(c, "this constraint is not supported");
        return;
    }
}

/* The table-level PRIMARY KEY names exactly this one column. */
static bool tr_table_pk_is(Node *const *elts, size_t n, const char *col)
{
    for (size_t i = 0; i < n; i++) {
        const Node *e = elts[i];
        if (!e || e->node_case != PG_QUERY__NODE__NODE_CONSTRAINT ||
            e->constraint->contype != PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY)
            continue;
        return e->constraint->n_keys == 1 && tr_str(e->constraint->keys[0]) &&
               strcmp(tr_str(e->constraint->keys[0]), col) == 0;
    }
    return false;
}

/* A column definition.  Returns true when it became SQLite's
 * INTEGER PRIMARY KEY AUTOINCREMENT (serial or identity), so that the
 * table-level PRIMARY KEY naming it is left out. */
static bool tr_column_def(tr_ctx *c, const PgQuery__ColumnDef *d, const char *table,
                          Node *const *elts, size_t nelts)
{
    bool identity = false, col_pk = false;
    for (size_t i = 0; i < d->n_constraints; i++) {
        const Node *k = d->constraints[i];
        if (k && k->node_case == PG_QUERY__NODE__NODE_CONSTRAINT) {
            identity |= k->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY;
            col_pk |= k->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY;
        }
    }
    bool serial = tr_is_serial(d->type_name);
    bool after_fk = false; /* the previous constraint was REFERENCES */
    tr_ident(c, d->colname);
    if (serial || identity) {
        if (!col_pk && !tr_table_pk_is(elts, nelts, d->colname)) {
            tr_unsupported(c, "%s columns that are not the primary key are not supported",
                           serial ? "serial" : "identity");
            return false;
        }
        if (identity) {
            const char *t = tr_type_name(c, d->type_name);
            if (t && strcmp(t, "int2") != 0 && strcmp(t, "int4") != 0 && strcmp(t, "int8") != 0) {
                tr_fail(c, WIRE_SQLSTATE_INVALID_PARAMETER_VALUE,
                        "identity column type must be smallint, integer, or bigint");
                return false;
            }
        }
        /* SQLite makes a rowid alias only of a column declared exactly
         * INTEGER, so bigserial reads back as int4 (see the report). */
        tr_puts(c, " INTEGER PRIMARY KEY AUTOINCREMENT");
    } else {
        tr_puts(c, " ");
        tr_type_decl(c, d->type_name, d->colname);
    }
    if (d->coll_clause) {
        tr_puts(c, " ");
        tr_collate(c, d->coll_clause);
    }
    if (d->raw_default) {
        tr_puts(c, " DEFAULT (");
        tr_expr(c, d->raw_default);
        tr_puts(c, ")");
    }
    for (size_t i = 0; i < d->n_constraints; i++) {
        const Node *k = d->constraints[i];
        if (!k || k->node_case != PG_QUERY__NODE__NODE_CONSTRAINT) {
            tr_unsupported(c, "column constraint %s is not supported", tr_node_name(k));
            return false;
        }
        PgQuery__ConstrType t = k->constraint->contype;
        if ((serial || identity) && (t == PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY ||
                                     t == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY))
            continue;
        if (t == PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY) {
            tr_unsupported(c, "identity columns are not supported here");
            return false;
        }
        bool attr = t == PG_QUERY__CONSTR_TYPE__CONSTR_ATTR_DEFERRABLE ||
                    t == PG_QUERY__CONSTR_TYPE__CONSTR_ATTR_NOT_DEFERRABLE ||
                    t == PG_QUERY__CONSTR_TYPE__CONSTR_ATTR_DEFERRED ||
                    t == PG_QUERY__CONSTR_TYPE__CONSTR_ATTR_IMMEDIATE;
        if (attr && !after_fk) {
            /* SQLite defers only foreign keys */
            tr_unsupported(c, "DEFERRABLE constraints other than foreign keys are not supported");
            return false;
        }
        if (!attr)
            after_fk = t == PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN;
        tr_constraint(c, k->constraint, table, d->colname);
    }
    return serial || identity;
}

/* WITH (...) storage parameters of CREATE TABLE: PostgreSQL's heap and
 * vacuum tuning means nothing to SQLite and is accepted and ignored (after
 * PostgreSQL's range check of fillfactor); anything else is refused. */
static bool tr_storage_options(tr_ctx *c, Node *const *opts, size_t n)
{
    static const char *const ignored[] = {
        "fillfactor", "parallel_workers", "toast_tuple_target", "user_catalog_table",
        "vacuum_index_cleanup", "vacuum_truncate", "log_autovacuum_min_duration",
    };
    for (size_t i = 0; i < n; i++) {
        const Node *o = opts[i];
        if (!o || o->node_case != PG_QUERY__NODE__NODE_DEF_ELEM || !tr_set(o->def_elem->defname)) {
            tr_fail(c, WIRE_SQLSTATE_SYNTAX_ERROR, "malformed storage parameter");
            return false;
        }
        const PgQuery__DefElem *d = o->def_elem;
        const char *name = d->defname;
        bool known = (tr_set(d->defnamespace) && strcmp(d->defnamespace, "toast") == 0) ||
                     strncmp(name, "autovacuum_", 11) == 0;
        for (size_t k = 0; k < sizeof(ignored) / sizeof(ignored[0]) && !known; k++)
            known = strcmp(name, ignored[k]) == 0;
        if (!known) {
            tr_unsupported(c, "storage parameter \"%s\" is not supported", name);
            return false;
        }
        if (strcmp(name, "fillfactor") == 0 && !tr_set(d->defnamespace)) {
            const Node *a = d->arg;
            long v = -1;
            if (a && a->node_case == PG_QUERY__NODE__NODE_INTEGER)
                v = a->integer->ival;
            if (v < 10 || v > 100) {
                if (v == -1)
                    tr_fail(c, WIRE_SQLSTATE_INVALID_PARAMETER_VALUE,
                            "invalid value for integer option \"fillfactor\"");
                else
                    tr_fail(c, WIRE_SQLSTATE_INVALID_PARAMETER_VALUE,
                            "value %ld out of bounds for option \"fillfactor\"", v);
                return false;
            }
        }
    }
    return true;
}

static void tr_create(tr_ctx *c, const PgQuery__CreateStmt *s)
{
    const PgQuery__RangeVar *rel = s->relation;
    if (s->n_inh_relations || s->partbound || s->partspec || s->of_typename) {
        tr_unsupported(c, "INHERITS, PARTITION and OF are not supported");
        return;
    }
    if (s->oncommit != PG_QUERY__ON_COMMIT_ACTION__ONCOMMIT_NOOP &&
        s->oncommit != PG_QUERY__ON_COMMIT_ACTION__ON_COMMIT_ACTION_UNDEFINED) {
        tr_unsupported(c, "ON COMMIT is not supported");
        return;
    }
    if (!tr_storage_options(c, s->options, s->n_options))
        return;
    bool temp = tr_set(rel->relpersistence) && rel->relpersistence[0] == 't';
    tr_puts(c, temp ? "CREATE TEMP TABLE " : "CREATE TABLE ");
    if (s->if_not_exists)
        tr_puts(c, "IF NOT EXISTS ");
    tr_relname(c, rel);
    tr_puts(c, " (");
    const char *autoinc = NULL;
    bool first = true;
    for (size_t i = 0; i < s->n_table_elts; i++) {
        const Node *e = s->table_elts[i];
        if (e && e->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF) {
            if (!first)
                tr_puts(c, ", ");
            first = false;
            if (tr_column_def(c, e->column_def, rel->relname, s->table_elts, s->n_table_elts))
                autoinc = e->column_def->colname;
        }
    }
    for (size_t i = 0; i < s->n_table_elts; i++) {
        const Node *e = s->table_elts[i];
        if (!e || e->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF)
            continue;
        if (e->node_case != PG_QUERY__NODE__NODE_CONSTRAINT) {
            tr_unsupported(
                c, "%s in CREATE TABLE is not supported",
                e->node_case == PG_QUERY__NODE__NODE_TABLE_LIKE_CLAUSE ? "LIKE" : tr_node_name(e));
            return;
        }
        if (autoinc && e->constraint->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY)
            continue; /* already on the AUTOINCREMENT column */
        if (!first)
            tr_puts(c, ",");
        first = false;
        tr_constraint(c, e->constraint, rel->relname, NULL);
    }
    tr_puts(c, ")");
}

static void tr_create_table_as(tr_ctx *c, const PgQuery__CreateTableAsStmt *s)
{
    const PgQuery__IntoClause *into = s->into;
    if (s->objtype != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE) {
        tr_unsupported(c, "materialized views are not supported");
        return;
    }
    if (!into || !into->rel || !s->query ||
        s->query->node_case != PG_QUERY__NODE__NODE_SELECT_STMT) {
        tr_unsupported(c, "this form of CREATE TABLE AS is not supported");
        return;
    }
    if (into->on_commit != PG_QUERY__ON_COMMIT_ACTION__ONCOMMIT_NOOP &&
        into->on_commit != PG_QUERY__ON_COMMIT_ACTION__ON_COMMIT_ACTION_UNDEFINED) {
        tr_unsupported(c, "ON COMMIT is not supported");
        return;
    }
    bool temp = tr_set(into->rel->relpersistence) && into->rel->relpersistence[0] == 't';
    tr_puts(c, temp ? "CREATE TEMP TABLE " : "CREATE TABLE ");
    if (s->if_not_exists)
        tr_puts(c, "IF NOT EXISTS ");
    tr_relname(c, into->rel);
    tr_puts(c, " AS ");
    if (into->skip_data)
        tr_puts(c, "SELECT * FROM (");
    tr_select(c, s->query->select_stmt, into->col_names, into->n_col_names);
    if (into->skip_data)
        tr_puts(c, ") LIMIT 0");
}

/* ---- other DDL ---- */

/* PostgreSQL's name for an unnamed index: table_col1_col2_suffix. */
static void tr_index_name(const char *table, Node *const *elems, size_t n, const char *suffix,
                          char *buf, size_t len)
{
    size_t o = (size_t)snprintf(buf, len, "%s", table);
    for (size_t i = 0; i < n && o < len; i++) {
        const char *col = tr_str(elems[i]);
        if (!col && elems[i] && elems[i]->node_case == PG_QUERY__NODE__NODE_INDEX_ELEM) {
            const PgQuery__IndexElem *e = elems[i]->index_elem;
            col = tr_set(e->name) ? e->name : e->expr ? storage_colname_figure(e->expr) : NULL;
            if (col && strcmp(col, "?column?") == 0)
                col = NULL;
        }
        o += (size_t)snprintf(buf + o, len - o, "_%s", col ? col : "expr");
    }
    if (o < len)
        snprintf(buf + o, len - o, "_%s", suffix);
    if (strlen(buf) > 63) /* NAMEDATALEN - 1 */
        buf[63] = '\0';
}

static void tr_index(tr_ctx *c, const PgQuery__IndexStmt *s)
{
    if (tr_set(s->access_method) && strcmp(s->access_method, "btree") != 0 &&
        strcmp(s->access_method, "hash") != 0) {
        tr_unsupported(c, "index access method \"%s\" is not supported", s->access_method);
        return;
    }
    if (s->n_index_including_params || s->nulls_not_distinct || s->n_exclude_op_names) {
        tr_unsupported(c, "INCLUDE, NULLS NOT DISTINCT and exclusion indexes are not supported");
        return;
    }
    char name[128];
    if (tr_set(s->idxname))
        snprintf(name, sizeof(name), "%s", s->idxname);
    else
        tr_index_name(s->relation->relname, s->index_params, s->n_index_params, "idx", name,
                      sizeof(name));
    tr_puts(c, s->unique ? "CREATE UNIQUE INDEX " : "CREATE INDEX ");
    if (s->if_not_exists)
        tr_puts(c, "IF NOT EXISTS ");
    bool idx_temp =
        tr_set(s->relation->schemaname) && strcmp(s->relation->schemaname, "pg_temp") == 0;
    if (idx_temp)
        tr_puts(c, "\"temp\".");
    tr_ident(c, name);
    tr_puts(c, " ON ");
    if (!idx_temp && !tr_schema_ok(c, s->relation->schemaname))
        return;
    tr_ident(c, s->relation->relname);
    tr_puts(c, " (");
    for (size_t i = 0; i < s->n_index_params; i++) {
        const Node *n = s->index_params[i];
        if (!n || n->node_case != PG_QUERY__NODE__NODE_INDEX_ELEM) {
            tr_fail(c, WIRE_SQLSTATE_INTERNAL_ERROR, "malformed index");
            return;
        }
        const PgQuery__IndexElem *e = n->index_elem;
        if (i)
            tr_puts(c, ", ");
        if (tr_set(e->name)) {
            tr_ident(c, e->name);
        } else {
            tr_puts(c, "(");
            tr_expr(c, e->expr);
            tr_puts(c, ")");
        }
        if (e->n_collation) {
            PgQuery__CollateClause cc = PG_QUERY__COLLATE_CLAUSE__INIT;
            cc.collname = e->collation;
            cc.n_collname = e->n_collation;
            tr_puts(c, " ");
            tr_collate(c, &cc);
        }
        /* operator classes (text_pattern_ops...) only guide PostgreSQL's
         * planner: ignored; NULLS FIRST/LAST does not change results. */
        if (e->ordering == PG_QUERY__SORT_BY_DIR__SORTBY_DESC)
            tr_puts(c, " DESC");
        else if (e->ordering == PG_QUERY__SORT_BY_DIR__SORTBY_ASC)
            tr_puts(c, " ASC");
    }
    tr_puts(c, ")");
    if (s->where_clause) {
        tr_puts(c, " WHERE ");
        tr_expr(c, s->where_clause);
    }
}

static void tr_drop(tr_ctx *c, const PgQuery__DropStmt *s)
{
    const char *what;
    switch (s->remove_type) {
    case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE:
        what = "TABLE";
        break;
    case PG_QUERY__OBJECT_TYPE__OBJECT_INDEX:
        what = "INDEX";
        break;
    case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW:
        what = "VIEW";
        break;
    default: {
        char tag[STORAGE_TAG_MAX];
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
            &pg_query__object_type__descriptor, (int)s->remove_type);
        snprintf(tag, sizeof(tag), "%s", v && strlen(v->name) > 7 ? v->name + 7 : "this object");
        tr_unsupported(c, "DROP %s is not supported", tag);
        return;
    }
    }
    if (s->n_objects != 1) {
        tr_unsupported(c, "DROP %s of several objects in one statement is not supported", what);
        return;
    }
    const Node *o = s->objects[0];
    if (!o || o->node_case != PG_QUERY__NODE__NODE_LIST || !o->list->n_items) {
        tr_fail(c, WIRE_SQLSTATE_INTERNAL_ERROR, "malformed DROP");
        return;
    }
    const PgQuery__List *l = o->list;
    if (l->n_items > 2) {
        tr_unsupported(c, "cross-database references are not supported");
        return;
    }
    tr_printf(c, "DROP %s ", what);
    if (s->missing_ok)
        tr_puts(c, "IF EXISTS ");
    if (l->n_items == 2) {
        const char *schema = tr_str(l->items[0]);
        if (schema && strcmp(schema, "pg_temp") == 0)
            tr_puts(c, "\"temp\".");
        else if (!tr_schema_ok(c, schema))
            return;
    }
    tr_ident(c, tr_str(l->items[l->n_items - 1]));
    /* CASCADE: dropped, dependants are not removed (see the top of the file) */
}

static void tr_view(tr_ctx *c, const PgQuery__ViewStmt *s)
{
    if (s->replace) {
        tr_unsupported(c, "CREATE OR REPLACE VIEW is not supported");
        return;
    }
    if (s->with_check_option != PG_QUERY__VIEW_CHECK_OPTION__NO_CHECK_OPTION &&
        s->with_check_option != PG_QUERY__VIEW_CHECK_OPTION__VIEW_CHECK_OPTION_UNDEFINED) {
        tr_unsupported(c, "WITH CHECK OPTION is not supported");
        return;
    }
    if (!s->query || s->query->node_case != PG_QUERY__NODE__NODE_SELECT_STMT) {
        tr_unsupported(c, "this view query is not supported");
        return;
    }
    bool temp = tr_set(s->view->relpersistence) && s->view->relpersistence[0] == 't';
    tr_puts(c, temp ? "CREATE TEMP VIEW " : "CREATE VIEW ");
    tr_relname(c, s->view);
    if (s->n_aliases) {
        tr_puts(c, " ");
        tr_ident_list(c, s->aliases, s->n_aliases);
    }
    tr_puts(c, " AS ");
    tr_select(c, s->query->select_stmt, NULL, 0);
}

static void tr_alter_table(tr_ctx *c, const PgQuery__AlterTableStmt *s)
{
    if (s->objtype != PG_QUERY__OBJECT_TYPE__OBJECT_TABLE) {
        tr_unsupported(c, "ALTER of this object type is not supported");
        return;
    }
    if (s->n_cmds != 1) {
        tr_unsupported(c, "ALTER TABLE with several subcommands is not supported");
        return;
    }
    if (s->missing_ok) {
        tr_unsupported(c, "ALTER TABLE IF EXISTS is not supported");
        return;
    }
    const Node *n = s->cmds[0];
    if (!n || n->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_CMD) {
        tr_fail(c, WIRE_SQLSTATE_INTERNAL_ERROR, "malformed ALTER TABLE");
        return;
    }
    const PgQuery__AlterTableCmd *cmd = n->alter_table_cmd;
    switch (cmd->subtype) {
    case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn:
        if (cmd->missing_ok) {
            tr_unsupported(c, "ADD COLUMN IF NOT EXISTS is not supported");
            return;
        }
        if (!cmd->def || cmd->def->node_case != PG_QUERY__NODE__NODE_COLUMN_DEF) {
            tr_fail(c, WIRE_SQLSTATE_INTERNAL_ERROR, "malformed ADD COLUMN");
            return;
        }
        if (tr_is_serial(cmd->def->column_def->type_name)) {
            tr_unsupported(c, "ADD COLUMN of a serial column is not supported");
            return;
        }
        tr_puts(c, "ALTER TABLE ");
        tr_relname(c, s->relation);
        tr_puts(c, " ADD COLUMN ");
        tr_column_def(c, cmd->def->column_def, s->relation->relname, NULL, 0);
        return;
    case PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn:
        if (cmd->missing_ok) {
            tr_unsupported(c, "DROP COLUMN IF EXISTS is not supported");
            return;
        }
        tr_puts(c, "ALTER TABLE ");
        tr_relname(c, s->relation);
        tr_puts(c, " DROP COLUMN ");
        tr_ident(c, cmd->name);
        return;
    case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint: {
        const PgQuery__Constraint *k =
            cmd->def && cmd->def->node_case == PG_QUERY__NODE__NODE_CONSTRAINT
                ? cmd->def->constraint
                : NULL;
        if (k && k->contype == PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE && !k->nulls_not_distinct &&
            !k->n_including && !k->deferrable && !tr_set(k->indexname)) {
            /* a unique constraint is a unique index to SQLite */
            char name[128];
            if (tr_set(k->conname))
                snprintf(name, sizeof(name), "%s", k->conname);
            else
                tr_index_name(s->relation->relname, k->keys, k->n_keys, "key", name, sizeof(name));
            tr_puts(c, "CREATE UNIQUE INDEX ");
            tr_ident(c, name);
            tr_puts(c, " ON ");
            tr_relname(c, s->relation);
            tr_puts(c, " ");
            tr_ident_list(c, k->keys, k->n_keys);
            return;
        }
        if (k && k->contype == PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY) {
            tr_unsupported(c, "ALTER TABLE ... ADD PRIMARY KEY is not supported yet (SQLite needs "
                              "the table rebuilt)");
            return;
        }
        tr_unsupported(c, "ALTER TABLE ... ADD CONSTRAINT of this kind is not supported yet "
                          "(SQLite needs the table rebuilt)");
        return;
    }
    default: {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
            &pg_query__alter_table_type__descriptor, (int)cmd->subtype);
        tr_unsupported(c, "ALTER TABLE subcommand %s is not supported",
                       v && strlen(v->name) > 3 ? v->name + 3 : "?");
        return;
    }
    }
}

static void tr_rename(tr_ctx *c, const PgQuery__RenameStmt *s)
{
    if (s->missing_ok) {
        tr_unsupported(c, "ALTER TABLE IF EXISTS is not supported");
        return;
    }
    if (s->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE) {
        tr_puts(c, "ALTER TABLE ");
        tr_relname(c, s->relation);
        tr_puts(c, " RENAME TO ");
        tr_ident(c, s->newname);
        return;
    }
    if (s->rename_type == PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN &&
        s->relation_type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE) {
        tr_puts(c, "ALTER TABLE ");
        tr_relname(c, s->relation);
        tr_puts(c, " RENAME COLUMN ");
        tr_ident(c, s->subname);
        tr_puts(c, " TO ");
        tr_ident(c, s->newname);
        return;
    }
    tr_unsupported(c, "renaming this kind of object is not supported");
}

static void tr_truncate(tr_ctx *c, const PgQuery__TruncateStmt *s)
{
    if (s->n_relations != 1) {
        tr_unsupported(c, "TRUNCATE of several tables is not supported");
        return;
    }
    if (s->restart_seqs) {
        tr_unsupported(c, "TRUNCATE ... RESTART IDENTITY is not supported");
        return;
    }
    const Node *r = s->relations[0];
    if (!r || r->node_case != PG_QUERY__NODE__NODE_RANGE_VAR) {
        tr_fail(c, WIRE_SQLSTATE_INTERNAL_ERROR, "malformed TRUNCATE");
        return;
    }
    tr_puts(c, "DELETE FROM ");
    tr_relname(c, r->range_var);
}

/* VACUUM FULL rewrites the file (SQLite's VACUUM, which has no per-table
 * form); plain VACUUM only makes space reusable, which SQLite does itself,
 * so it runs nothing, or ANALYZE when asked to (VACUUM ANALYZE).  The engine
 * refuses VACUUM inside a transaction block, as PostgreSQL does. */
static void tr_vacuum(tr_ctx *c, const PgQuery__VacuumStmt *s)
{
    bool full = false, analyze = !s->is_vacuumcmd;
    for (size_t i = 0; i < s->n_options; i++) {
        const Node *o = s->options[i];
        if (!o || o->node_case != PG_QUERY__NODE__NODE_DEF_ELEM || !tr_set(o->def_elem->defname))
            continue;
        const PgQuery__DefElem *d = o->def_elem;
        bool off = d->arg && d->arg->node_case == PG_QUERY__NODE__NODE_STRING &&
                   (strcmp(d->arg->string->sval, "false") == 0 ||
                    strcmp(d->arg->string->sval, "off") == 0);
        if (strcmp(d->defname, "full") == 0)
            full = !off;
        else if (strcmp(d->defname, "analyze") == 0)
            analyze = !off;
    }
    if (s->is_vacuumcmd && full) {
        tr_puts(c, "VACUUM"); /* SQLite vacuums the whole file */
        return;
    }
    if (!analyze) {
        tr_putn(c, "", 0); /* nothing to run */
        return;
    }
    tr_puts(c, "ANALYZE");
    if (s->n_rels == 1 && s->rels[0] &&
        s->rels[0]->node_case == PG_QUERY__NODE__NODE_VACUUM_RELATION &&
        s->rels[0]->vacuum_relation->relation) {
        tr_puts(c, " ");
        tr_relname(c, s->rels[0]->vacuum_relation->relation);
    }
}

static void tr_statement(tr_ctx *c, const Node *n, const char *tag)
{
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT:
        tr_select(c, n->select_stmt, NULL, 0);
        return;
    case PG_QUERY__NODE__NODE_INSERT_STMT:
        tr_insert(c, n->insert_stmt);
        return;
    case PG_QUERY__NODE__NODE_UPDATE_STMT:
        tr_update(c, n->update_stmt);
        return;
    case PG_QUERY__NODE__NODE_DELETE_STMT:
        tr_delete(c, n->delete_stmt);
        return;
    case PG_QUERY__NODE__NODE_CREATE_STMT:
        tr_create(c, n->create_stmt);
        return;
    case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
        tr_create_table_as(c, n->create_table_as_stmt);
        return;
    case PG_QUERY__NODE__NODE_INDEX_STMT:
        tr_index(c, n->index_stmt);
        return;
    case PG_QUERY__NODE__NODE_DROP_STMT:
        tr_drop(c, n->drop_stmt);
        return;
    case PG_QUERY__NODE__NODE_VIEW_STMT:
        tr_view(c, n->view_stmt);
        return;
    case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
        tr_alter_table(c, n->alter_table_stmt);
        return;
    case PG_QUERY__NODE__NODE_RENAME_STMT:
        tr_rename(c, n->rename_stmt);
        return;
    case PG_QUERY__NODE__NODE_TRUNCATE_STMT:
        tr_truncate(c, n->truncate_stmt);
        return;
    case PG_QUERY__NODE__NODE_VACUUM_STMT:
        tr_vacuum(c, n->vacuum_stmt);
        return;
    case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
        tr_fail(c, WIRE_SQLSTATE_INTERNAL_ERROR, "transaction statements are run by the engine");
        return;
    default:
        tr_unsupported(c, "%s is not supported", tag && tag[0] ? tag : tr_node_name(n));
        return;
    }
}

bool storage_translate(const storage_stmt *stmt, char **out_sql, storage_translate_error *err)
{
    return storage_translate_ex(stmt, out_sql, NULL, err);
}

bool storage_translate_ex(const storage_stmt *stmt, char **out_sql, bool *uses_catalog,
                          storage_translate_error *err)
{
    tr_ctx c = {0};
    c.max_len = TR_MAX_OUT_MIN;
    if (stmt && stmt->len < SIZE_MAX / TR_MAX_OUT_RATIO && stmt->len * TR_MAX_OUT_RATIO > c.max_len)
        c.max_len = stmt->len * TR_MAX_OUT_RATIO;
    if (uses_catalog)
        *uses_catalog = false;
    *out_sql = NULL;
    err->sqlstate = NULL;
    err->message[0] = '\0';
    if (!stmt || !stmt->node) {
        err->sqlstate = WIRE_SQLSTATE_INTERNAL_ERROR;
        snprintf(err->message, sizeof(err->message), "statement without a parse tree");
        return false;
    }
    tr_statement(&c, stmt->node, stmt->tag);
    if (!c.failed && !c.buf)
        tr_putn(&c, "", 0);
    if (c.failed) {
        free(c.buf);
        err->sqlstate = c.sqlstate;
        snprintf(err->message, sizeof(err->message), "%s", c.message);
        return false;
    }
    *out_sql = c.buf;
    if (uses_catalog)
        *uses_catalog = c.catalog;
    return true;
}
