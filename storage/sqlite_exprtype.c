/*
 * sqlite_exprtype.c: PostgreSQL's type for a result expression (see
 * sqlite_exprtype.h).
 *
 * A recursive walk over the expression: literals, casts, operators and the
 * common functions by PostgreSQL's rules; column references by the declared
 * type of the column in the statement's FROM (or target) relations, looked
 * up with sqlite3_table_column_metadata().  Anything else is unknown.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dormouse/wire.h"
#include "sqlite_coltypes.h"
#include "sqlite_exprtype.h"

static bool xt_named(const char *name, sqlite_pg_type *t)
{
    return sqlite_type_from_decltype(name, t);
}

static const char *xt_str(const PgQuery__Node *n)
{
    return n && n->node_case == PG_QUERY__NODE__NODE_STRING ? n->string->sval : NULL;
}

static bool xt_is_int(const sqlite_pg_type *t)
{
    return t->oid == WIRE_OID_INT2 || t->oid == WIRE_OID_INT4 || t->oid == WIRE_OID_INT8;
}

static bool xt_is_float(const sqlite_pg_type *t)
{
    return t->oid == WIRE_OID_FLOAT4 || t->oid == WIRE_OID_FLOAT8;
}

/* ---- column references ---- */

/* The relation of FROM item `item` (a table or a join, depth first) that is
 * named or aliased `qual` (any when NULL) and has column `col`; its declared
 * type into *decl (pointing into `recorded` for a recorded type). */
static const PgQuery__RangeVar *xt_find_rel(const PgQuery__Node *item, const char *qual,
                                            sqlite3 *db, const char *col, const char **decl,
                                            char *recorded, size_t len)
{
    if (!item)
        return NULL;
    if (item->node_case == PG_QUERY__NODE__NODE_JOIN_EXPR) {
        const PgQuery__RangeVar *r =
            xt_find_rel(item->join_expr->larg, qual, db, col, decl, recorded, len);
        return r ? r : xt_find_rel(item->join_expr->rarg, qual, db, col, decl, recorded, len);
    }
    if (item->node_case != PG_QUERY__NODE__NODE_RANGE_VAR)
        return NULL;
    const PgQuery__RangeVar *rv = item->range_var;
    if (!rv->relname)
        return NULL;
    if (rv->schemaname && rv->schemaname[0] && strcmp(rv->schemaname, "public") != 0)
        return NULL; /* the catalog's relations are views: their columns say nothing */
    const char *alias = rv->alias && rv->alias->aliasname ? rv->alias->aliasname : rv->relname;
    if (qual && strcmp(qual, alias) != 0)
        return NULL;
    const char *d = NULL;
    if (sqlite3_table_column_metadata(db, "main", rv->relname, col, &d, NULL, NULL, NULL, NULL) !=
        SQLITE_OK)
        return NULL;
    *decl = d;
    char identity;
    if (d && strcmp(d, SQLITE_COLTYPES_ROWID_DECL) == 0 &&
        sqlite_coltypes_lookup(db, rv->relname, col, recorded, len, &identity))
        *decl = recorded; /* bigserial, identity keys */
    return rv;
}

static bool xt_column_ref(sqlite3 *db, const PgQuery__Node *stmt, const PgQuery__ColumnRef *cr,
                          sqlite_pg_type *t)
{
    if (!db || !stmt || cr->n_fields < 1 || cr->n_fields > 2)
        return false;
    const char *col = xt_str(cr->fields[cr->n_fields - 1]);
    const char *qual = cr->n_fields == 2 ? xt_str(cr->fields[0]) : NULL;
    if (!col || (cr->n_fields == 2 && !qual))
        return false;
    const char *decl = NULL;
    char recorded[32];
    const PgQuery__RangeVar *found = NULL;
    switch (stmt->node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT:
        for (size_t i = 0; !found && i < stmt->select_stmt->n_from_clause; i++)
            found = xt_find_rel(stmt->select_stmt->from_clause[i], qual, db, col, &decl, recorded,
                                sizeof(recorded));
        break;
    case PG_QUERY__NODE__NODE_INSERT_STMT:
    case PG_QUERY__NODE__NODE_UPDATE_STMT:
    case PG_QUERY__NODE__NODE_DELETE_STMT: {
        /* RETURNING: the target relation */
        PgQuery__Node rel = PG_QUERY__NODE__INIT;
        rel.node_case = PG_QUERY__NODE__NODE_RANGE_VAR;
        rel.range_var =
            stmt->node_case == PG_QUERY__NODE__NODE_INSERT_STMT   ? stmt->insert_stmt->relation
            : stmt->node_case == PG_QUERY__NODE__NODE_UPDATE_STMT ? stmt->update_stmt->relation
                                                                  : stmt->delete_stmt->relation;
        found = xt_find_rel(&rel, qual, db, col, &decl, recorded, sizeof(recorded));
        break;
    }
    default:
        break;
    }
    return found && decl && xt_named(decl, t);
}

/* ---- functions ---- */

static const struct {
    const char *name;
    const char *type;
} xt_fixed_funcs[] = {
    {"count", "int8"},
    {"length", "int4"},
    {"char_length", "int4"},
    {"character_length", "int4"},
    {"octet_length", "int4"},
    {"strpos", "int4"},
    {"pg_backend_pid", "int4"},
    {"lower", "text"},
    {"upper", "text"},
    {"initcap", "text"},
    {"btrim", "text"},
    {"ltrim", "text"},
    {"rtrim", "text"},
    {"substr", "text"},
    {"substring", "text"},
    {"replace", "text"},
    {"concat", "text"},
    {"concat_ws", "text"},
    {"left", "text"},
    {"right", "text"},
    {"lpad", "text"},
    {"rpad", "text"},
    {"repeat", "text"},
    {"reverse", "text"},
    {"md5", "text"},
    {"string_agg", "text"},
    {"to_char", "text"},
    {"version", "text"},
    {"current_setting", "text"},
    {"set_config", "text"},
    {"current_database", "name"},
    {"current_schema", "name"},
    {"now", "timestamptz"},
    {"statement_timestamp", "timestamptz"},
    {"transaction_timestamp", "timestamptz"},
    {"clock_timestamp", "timestamptz"},
    {"gen_random_uuid", "uuid"},
    {"random", "float8"},
    {"extract", "numeric"},
    {"date_part", "float8"},
};

static bool xt_func(sqlite3 *db, const PgQuery__Node *stmt, const PgQuery__FuncCall *f,
                    sqlite_pg_type *t)
{
    if (!f->n_funcname || f->agg_within_group)
        return false;
    const char *name = xt_str(f->funcname[f->n_funcname - 1]);
    if (!name)
        return false;
    if (f->over && strcmp(name, "count") != 0) {
        static const char *const ranks[] = {"row_number", "rank", "dense_rank", "ntile"};
        for (size_t i = 0; i < sizeof(ranks) / sizeof(ranks[0]); i++)
            if (strcmp(name, ranks[i]) == 0)
                return xt_named("int8", t);
    }
    for (size_t i = 0; i < sizeof(xt_fixed_funcs) / sizeof(xt_fixed_funcs[0]); i++)
        if (strcmp(name, xt_fixed_funcs[i].name) == 0)
            return xt_named(xt_fixed_funcs[i].type, t);

    sqlite_pg_type a;
    bool has_arg = f->n_args >= 1 && sqlite_expr_type(db, stmt, f->args[0], &a);
    if (strcmp(name, "date_trunc") == 0) {
        sqlite_pg_type v;
        if (f->n_args == 2 && sqlite_expr_type(db, stmt, f->args[1], &v) &&
            (v.oid == WIRE_OID_TIMESTAMPTZ || v.oid == WIRE_OID_DATE))
            return xt_named("timestamptz", t);
        return xt_named("timestamp", t);
    }
    if (strcmp(name, "coalesce") == 0) {
        for (size_t i = 0; i < f->n_args; i++)
            if (sqlite_expr_type(db, stmt, f->args[i], t))
                return true;
        return false;
    }
    if (!has_arg)
        return false;
    if (strcmp(name, "min") == 0 || strcmp(name, "max") == 0 || strcmp(name, "abs") == 0) {
        *t = a;
        t->typmod = -1;
        return true;
    }
    if (strcmp(name, "sum") == 0) {
        if (a.oid == WIRE_OID_INT2 || a.oid == WIRE_OID_INT4)
            return xt_named("int8", t);
        if (a.oid == WIRE_OID_INT8 || a.oid == WIRE_OID_NUMERIC)
            return xt_named("numeric", t);
        if (xt_is_float(&a)) {
            *t = a;
            return true;
        }
        return false;
    }
    if (strcmp(name, "avg") == 0) {
        if (xt_is_int(&a) || a.oid == WIRE_OID_NUMERIC)
            return xt_named("numeric", t);
        if (xt_is_float(&a))
            return xt_named("float8", t);
        return false;
    }
    if (strcmp(name, "round") == 0 || strcmp(name, "trunc") == 0 || strcmp(name, "ceil") == 0 ||
        strcmp(name, "ceiling") == 0 || strcmp(name, "floor") == 0) {
        if (a.oid == WIRE_OID_NUMERIC || a.oid == WIRE_OID_FLOAT8) {
            *t = a;
            t->typmod = -1;
            return true;
        }
        if (xt_is_int(&a)) /* an integer argument is read as float8, the preferred type */
            return xt_named(f->n_args == 2 ? "numeric" : "float8", t);
        return false;
    }
    return false;
}

static bool xt_sql_value_function(const PgQuery__SQLValueFunction *f, sqlite_pg_type *t)
{
    switch (f->op) {
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_DATE:
        return xt_named("date", t);
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIME:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIME_N:
        return xt_named("timetz", t);
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP_N:
        return xt_named("timestamptz", t);
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIME:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIME_N:
        return xt_named("time", t);
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP_N:
        return xt_named("timestamp", t);
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_ROLE:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_USER:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_USER:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_SESSION_USER:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_CATALOG:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_SCHEMA:
        return xt_named("name", t);
    default:
        return false;
    }
}

/* ---- operators ---- */

/* The type of an arithmetic result, by PostgreSQL's operator resolution
 * for the numeric types: int op int is the wider int (at least int4),
 * float wins over numeric, numeric over int. */
static bool xt_arith(const sqlite_pg_type *l, const sqlite_pg_type *r, sqlite_pg_type *t)
{
    if (xt_is_int(l) && xt_is_int(r))
        return xt_named(l->oid == WIRE_OID_INT8 || r->oid == WIRE_OID_INT8 ? "int8" : "int4", t);
    bool lnum = xt_is_int(l) || xt_is_float(l) || l->oid == WIRE_OID_NUMERIC;
    bool rnum = xt_is_int(r) || xt_is_float(r) || r->oid == WIRE_OID_NUMERIC;
    if (!lnum || !rnum)
        return false;
    if (xt_is_float(l) || xt_is_float(r))
        return xt_named("float8", t);
    return xt_named("numeric", t);
}

static bool xt_a_expr(sqlite3 *db, const PgQuery__Node *stmt, const PgQuery__AExpr *e,
                      sqlite_pg_type *t)
{
    switch (e->kind) {
    case PG_QUERY__A__EXPR__KIND__AEXPR_DISTINCT:
    case PG_QUERY__A__EXPR__KIND__AEXPR_NOT_DISTINCT:
    case PG_QUERY__A__EXPR__KIND__AEXPR_IN:
    case PG_QUERY__A__EXPR__KIND__AEXPR_LIKE:
    case PG_QUERY__A__EXPR__KIND__AEXPR_ILIKE:
    case PG_QUERY__A__EXPR__KIND__AEXPR_SIMILAR:
    case PG_QUERY__A__EXPR__KIND__AEXPR_BETWEEN:
    case PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN:
    case PG_QUERY__A__EXPR__KIND__AEXPR_BETWEEN_SYM:
    case PG_QUERY__A__EXPR__KIND__AEXPR_NOT_BETWEEN_SYM:
    case PG_QUERY__A__EXPR__KIND__AEXPR_OP_ANY:
    case PG_QUERY__A__EXPR__KIND__AEXPR_OP_ALL:
        return xt_named("bool", t);
    case PG_QUERY__A__EXPR__KIND__AEXPR_OP:
        break;
    default:
        return false;
    }
    const char *op = e->n_name ? xt_str(e->name[e->n_name - 1]) : NULL;
    if (!op)
        return false;
    static const char *const bool_ops[] = {
        "=", "<>", "!=", "<", ">", "<=", ">=", "~", "!~", "~*", "!~*", "~~", "!~~"};
    for (size_t i = 0; i < sizeof(bool_ops) / sizeof(bool_ops[0]); i++)
        if (strcmp(op, bool_ops[i]) == 0)
            return xt_named("bool", t);
    if (strcmp(op, "||") == 0)
        return xt_named("text", t);
    if (strcmp(op, "+") && strcmp(op, "-") && strcmp(op, "*") && strcmp(op, "/") && strcmp(op, "%"))
        return false;
    sqlite_pg_type l, r;
    if (!e->lexpr) { /* unary minus or plus */
        if (!sqlite_expr_type(db, stmt, e->rexpr, &r))
            return false;
        *t = r;
        return xt_is_int(&r) || xt_is_float(&r) || r.oid == WIRE_OID_NUMERIC;
    }
    if (!sqlite_expr_type(db, stmt, e->lexpr, &l) || !sqlite_expr_type(db, stmt, e->rexpr, &r))
        return false;
    return xt_arith(&l, &r, t);
}

/* ---- literals, casts and the rest ---- */

static bool xt_a_const(const PgQuery__AConst *c, sqlite_pg_type *t)
{
    if (c->isnull)
        return false;
    switch (c->val_case) {
    case PG_QUERY__A__CONST__VAL_IVAL:
        return xt_named("int4", t);
    case PG_QUERY__A__CONST__VAL_FVAL: {
        /* an integer too large for int4 is int8 if it fits, else numeric */
        const char *f = c->fval ? c->fval->fval : NULL;
        if (f && !strpbrk(f, ".eE")) {
            size_t digits = strlen(f) - (f[0] == '-' || f[0] == '+');
            if (digits < 19 ||
                (digits == 19 && strcmp(f + (strlen(f) - 19), "9223372036854775807") <= 0))
                return xt_named("int8", t);
        }
        return xt_named("numeric", t);
    }
    case PG_QUERY__A__CONST__VAL_BOOLVAL:
        return xt_named("bool", t);
    case PG_QUERY__A__CONST__VAL_SVAL:
        return xt_named("text", t);
    default:
        return false;
    }
}

static bool xt_type_cast(const PgQuery__TypeCast *tc, sqlite_pg_type *t)
{
    const PgQuery__TypeName *tn = tc->type_name;
    if (!tn || tn->n_names == 0 || tn->n_array_bounds > 0)
        return false;
    const char *name = xt_str(tn->names[tn->n_names - 1]);
    if (!name)
        return false;
    /* the modifiers, e.g. numeric(10,2) or varchar(5), as a declaration */
    char decl[128];
    size_t o = (size_t)snprintf(decl, sizeof(decl), "%s", name);
    for (size_t i = 0; i < tn->n_typmods && i < 2 && o < sizeof(decl); i++) {
        const PgQuery__Node *m = tn->typmods[i];
        if (!m || m->node_case != PG_QUERY__NODE__NODE_A_CONST ||
            m->a_const->val_case != PG_QUERY__A__CONST__VAL_IVAL || !m->a_const->ival)
            return xt_named(name, t);
        o += (size_t)snprintf(decl + o, sizeof(decl) - o, "%s%d", i ? "," : "(",
                              m->a_const->ival->ival);
    }
    if (tn->n_typmods && o + 1 < sizeof(decl)) {
        decl[o++] = ')';
        decl[o] = '\0';
    }
    return xt_named(o < sizeof(decl) ? decl : name, t);
}

bool sqlite_expr_type(sqlite3 *db, const PgQuery__Node *stmt, const PgQuery__Node *n,
                      sqlite_pg_type *t)
{
    if (!n)
        return false;
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_TYPE_CAST:
        return xt_type_cast(n->type_cast, t);
    case PG_QUERY__NODE__NODE_A_CONST:
        return xt_a_const(n->a_const, t);
    case PG_QUERY__NODE__NODE_BOOL_EXPR:
    case PG_QUERY__NODE__NODE_NULL_TEST:
    case PG_QUERY__NODE__NODE_BOOLEAN_TEST:
        return xt_named("bool", t);
    case PG_QUERY__NODE__NODE_SUB_LINK: {
        const PgQuery__SubLink *s = n->sub_link;
        if (s->sub_link_type == PG_QUERY__SUB_LINK_TYPE__EXISTS_SUBLINK ||
            s->sub_link_type == PG_QUERY__SUB_LINK_TYPE__ANY_SUBLINK ||
            s->sub_link_type == PG_QUERY__SUB_LINK_TYPE__ALL_SUBLINK)
            return xt_named("bool", t);
        if (s->sub_link_type != PG_QUERY__SUB_LINK_TYPE__EXPR_SUBLINK || !s->subselect ||
            s->subselect->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
            return false;
        const PgQuery__SelectStmt *q = s->subselect->select_stmt;
        if (q->n_target_list != 1 ||
            q->target_list[0]->node_case != PG_QUERY__NODE__NODE_RES_TARGET)
            return false;
        return sqlite_expr_type(db, s->subselect, q->target_list[0]->res_target->val, t);
    }
    case PG_QUERY__NODE__NODE_A_EXPR:
        return xt_a_expr(db, stmt, n->a_expr, t);
    case PG_QUERY__NODE__NODE_FUNC_CALL:
        return xt_func(db, stmt, n->func_call, t);
    case PG_QUERY__NODE__NODE_SQLVALUE_FUNCTION:
        return xt_sql_value_function(n->sqlvalue_function, t);
    case PG_QUERY__NODE__NODE_COLUMN_REF:
        return xt_column_ref(db, stmt, n->column_ref, t);
    case PG_QUERY__NODE__NODE_CASE_EXPR: {
        const PgQuery__CaseExpr *c = n->case_expr;
        for (size_t i = 0; i < c->n_args; i++)
            if (c->args[i]->node_case == PG_QUERY__NODE__NODE_CASE_WHEN &&
                sqlite_expr_type(db, stmt, c->args[i]->case_when->result, t))
                return true;
        return sqlite_expr_type(db, stmt, c->defresult, t);
    }
    case PG_QUERY__NODE__NODE_COALESCE_EXPR:
        for (size_t i = 0; i < n->coalesce_expr->n_args; i++)
            if (sqlite_expr_type(db, stmt, n->coalesce_expr->args[i], t))
                return true;
        return false;
    case PG_QUERY__NODE__NODE_MIN_MAX_EXPR:
        for (size_t i = 0; i < n->min_max_expr->n_args; i++)
            if (sqlite_expr_type(db, stmt, n->min_max_expr->args[i], t))
                return true;
        return false;
    default:
        return false;
    }
}

PgQuery__Node *const *sqlite_expr_targets(const PgQuery__Node *stmt, int ncols)
{
    size_t n = 0;
    PgQuery__Node **list = NULL;
    if (!stmt)
        return NULL;
    switch (stmt->node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT:
        n = stmt->select_stmt->n_target_list;
        list = stmt->select_stmt->target_list;
        break;
    case PG_QUERY__NODE__NODE_INSERT_STMT:
        n = stmt->insert_stmt->n_returning_list;
        list = stmt->insert_stmt->returning_list;
        break;
    case PG_QUERY__NODE__NODE_UPDATE_STMT:
        n = stmt->update_stmt->n_returning_list;
        list = stmt->update_stmt->returning_list;
        break;
    case PG_QUERY__NODE__NODE_DELETE_STMT:
        n = stmt->delete_stmt->n_returning_list;
        list = stmt->delete_stmt->returning_list;
        break;
    default:
        return NULL;
    }
    if (ncols < 0 || (size_t)ncols != n)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (list[i]->node_case != PG_QUERY__NODE__NODE_RES_TARGET)
            return NULL;
        const PgQuery__Node *v = list[i]->res_target->val;
        if (v && v->node_case == PG_QUERY__NODE__NODE_COLUMN_REF) {
            const PgQuery__ColumnRef *cr = v->column_ref;
            if (cr->n_fields &&
                cr->fields[cr->n_fields - 1]->node_case == PG_QUERY__NODE__NODE_A_STAR)
                return NULL;
        }
    }
    return list;
}
