/*
 * colname.c: PostgreSQL's names for result columns, from the parse tree.
 *
 * The rules are those of FigureColnameInternal (PostgreSQL 15,
 * src/backend/parser/parse_target.c), restated:
 *  - an alias (ResTarget.name) wins;
 *  - a column reference: its last field name ("t.a" -> "a");
 *  - an indirection: its last field name, else its argument's name
 *    ("(row(1,2)).f1" -> "f1", "(array[1,2])[1]" -> "array");
 *  - a function call: the function's last name ("pg_catalog.lower(x)" ->
 *    "lower", "count(*)" -> "count"); NULLIF, which is an operator in the
 *    tree, is named like a function; other operators have no name;
 *  - a cast: its argument's name if that is strong (below), else the type's
 *    last name as the grammar wrote it ("1::int" -> "int4", "x::double
 *    precision" -> "float8", "date '2024-01-01'" -> "date");
 *  - COLLATE: its argument's name;
 *  - CASE: its ELSE expression's name if strong, else "case";
 *  - EXISTS (...) and ARRAY (...): "exists", "array"; a scalar subquery: the
 *    name of the first column of its (left-most) select;
 *  - ARRAY[...], ROW(...), COALESCE, GREATEST, LEAST, GROUPING, the SQL value
 *    functions (CURRENT_DATE, CURRENT_USER, ...) and the XML constructors:
 *    their keyword;
 *  - anything else (constants, operators, IS NULL, AND/OR, ...): "?column?".
 * A name is strong when it comes from the query (a column, a function) and
 * weak when made up (a type name, "case"); a cast or a CASE keeps a strong
 * name found inside it.  The names in the tree are already what PostgreSQL
 * uses: the parser has folded unquoted identifiers to lower case and spelled
 * type names its own way (int -> int4).
 */
#include <stddef.h>
#include <string.h>

#include "colname.h"

typedef enum colname_strength {
    COLNAME_UNKNOWN = -1, /* PostgreSQL knows it from the catalog; we do not */
    COLNAME_NONE = 0,     /* no name: "?column?" */
    COLNAME_WEAK = 1,     /* a made-up name: a cast's type, "case" */
    COLNAME_STRONG = 2,   /* a name from the query */
} colname_strength;

/* Deeper expressions than this are left to SQLite's naming. */
#define COLNAME_MAX_DEPTH 100

static colname_strength colname_figure(const PgQuery__Node *n, const char **name, int depth);

/* The last String in a list of nodes (skipping `*` and subscripts), or NULL. */
static const char *colname_last_string(PgQuery__Node *const *nodes, size_t n)
{
    const char *name = NULL;
    for (size_t i = 0; i < n; i++) {
        if (nodes[i] && nodes[i]->node_case == PG_QUERY__NODE__NODE_STRING && nodes[i]->string)
            name = nodes[i]->string->sval;
    }
    return name;
}

/* The select whose target list names a set operation's columns. */
static const PgQuery__SelectStmt *colname_leftmost(const PgQuery__SelectStmt *s)
{
    while (s && s->larg)
        s = s->larg;
    return s;
}

static bool colname_is_star(const PgQuery__Node *val)
{
    if (!val || val->node_case != PG_QUERY__NODE__NODE_COLUMN_REF || !val->column_ref)
        return false;
    const PgQuery__ColumnRef *c = val->column_ref;
    return c->n_fields > 0 && c->fields[c->n_fields - 1] &&
           c->fields[c->n_fields - 1]->node_case == PG_QUERY__NODE__NODE_A_STAR;
}

static bool colname_is_count(const PgQuery__Node *val)
{
    if (!val || val->node_case != PG_QUERY__NODE__NODE_FUNC_CALL || !val->func_call)
        return false;
    const char *fn = colname_last_string(val->func_call->funcname, val->func_call->n_funcname);
    return fn && strcmp(fn, "count") == 0;
}

/* A scalar subquery is named after its select's first column. */
static colname_strength colname_subquery(const PgQuery__Node *sub, const char **name, int depth)
{
    if (!sub || sub->node_case != PG_QUERY__NODE__NODE_SELECT_STMT)
        return COLNAME_UNKNOWN;
    const PgQuery__SelectStmt *s = colname_leftmost(sub->select_stmt);
    if (!s)
        return COLNAME_UNKNOWN;
    if (s->n_values_lists) {
        *name = "column1";
        return COLNAME_STRONG;
    }
    if (s->n_target_list == 0 || !s->target_list[0] ||
        s->target_list[0]->node_case != PG_QUERY__NODE__NODE_RES_TARGET)
        return COLNAME_UNKNOWN;
    const PgQuery__ResTarget *rt = s->target_list[0]->res_target;
    if (rt->name && rt->name[0]) {
        *name = rt->name;
        return COLNAME_STRONG;
    }
    if (colname_is_star(rt->val))
        return COLNAME_UNKNOWN;
    colname_strength st = colname_figure(rt->val, name, depth + 1);
    if (st == COLNAME_UNKNOWN)
        return st;
    if (st == COLNAME_NONE)
        *name = "?column?";
    /* the subquery's column name, whatever made it, is a real name here */
    return COLNAME_STRONG;
}

static const char *colname_sql_value_function(PgQuery__SQLValueFunctionOp op)
{
    switch (op) {
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_DATE:
        return "current_date";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIME:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIME_N:
        return "current_time";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_TIMESTAMP_N:
        return "current_timestamp";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIME:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIME_N:
        return "localtime";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP:
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_LOCALTIMESTAMP_N:
        return "localtimestamp";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_ROLE:
        return "current_role";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_USER:
        return "current_user";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_USER:
        return "user";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_SESSION_USER:
        return "session_user";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_CATALOG:
        return "current_catalog";
    case PG_QUERY__SQLVALUE_FUNCTION_OP__SVFOP_CURRENT_SCHEMA:
        return "current_schema";
    default:
        return NULL;
    }
}

static const char *colname_xml(PgQuery__XmlExprOp op)
{
    switch (op) {
    case PG_QUERY__XML_EXPR_OP__IS_XMLCONCAT:
        return "xmlconcat";
    case PG_QUERY__XML_EXPR_OP__IS_XMLELEMENT:
        return "xmlelement";
    case PG_QUERY__XML_EXPR_OP__IS_XMLFOREST:
        return "xmlforest";
    case PG_QUERY__XML_EXPR_OP__IS_XMLPARSE:
        return "xmlparse";
    case PG_QUERY__XML_EXPR_OP__IS_XMLPI:
        return "xmlpi";
    case PG_QUERY__XML_EXPR_OP__IS_XMLROOT:
        return "xmlroot";
    case PG_QUERY__XML_EXPR_OP__IS_XMLSERIALIZE:
        return "xmlserialize";
    default: /* IS DOCUMENT has no name */
        return NULL;
    }
}

/* A keyword name, strong, or none. */
static colname_strength colname_keyword(const char *kw, const char **name)
{
    if (!kw)
        return COLNAME_NONE;
    *name = kw;
    return COLNAME_STRONG;
}

static colname_strength colname_figure(const PgQuery__Node *n, const char **name, int depth)
{
    const char *s;
    colname_strength st;

    if (!n)
        return COLNAME_NONE;
    if (depth > COLNAME_MAX_DEPTH)
        return COLNAME_UNKNOWN;

    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_COLUMN_REF:
        s = colname_last_string(n->column_ref->fields, n->column_ref->n_fields);
        return colname_keyword(s, name);
    case PG_QUERY__NODE__NODE_A_INDIRECTION:
        s = colname_last_string(n->a_indirection->indirection, n->a_indirection->n_indirection);
        if (s)
            return colname_keyword(s, name);
        return colname_figure(n->a_indirection->arg, name, depth + 1);
    case PG_QUERY__NODE__NODE_FUNC_CALL:
        s = colname_last_string(n->func_call->funcname, n->func_call->n_funcname);
        return colname_keyword(s, name);
    case PG_QUERY__NODE__NODE_A_EXPR:
        if (n->a_expr->kind == PG_QUERY__A__EXPR__KIND__AEXPR_NULLIF)
            return colname_keyword("nullif", name);
        return COLNAME_NONE;
    case PG_QUERY__NODE__NODE_TYPE_CAST:
        st = colname_figure(n->type_cast->arg, name, depth + 1);
        if (st == COLNAME_NONE || st == COLNAME_WEAK) {
            const PgQuery__TypeName *t = n->type_cast->type_name;
            s = t ? colname_last_string(t->names, t->n_names) : NULL;
            if (s) {
                *name = s;
                return COLNAME_WEAK;
            }
        }
        return st;
    case PG_QUERY__NODE__NODE_COLLATE_CLAUSE:
        return colname_figure(n->collate_clause->arg, name, depth + 1);
    case PG_QUERY__NODE__NODE_GROUPING_FUNC:
        return colname_keyword("grouping", name);
    case PG_QUERY__NODE__NODE_SUB_LINK:
        switch (n->sub_link->sub_link_type) {
        case PG_QUERY__SUB_LINK_TYPE__EXISTS_SUBLINK:
            return colname_keyword("exists", name);
        case PG_QUERY__SUB_LINK_TYPE__ARRAY_SUBLINK:
            return colname_keyword("array", name);
        case PG_QUERY__SUB_LINK_TYPE__EXPR_SUBLINK:
            return colname_subquery(n->sub_link->subselect, name, depth);
        default: /* IN, ANY, ALL, row comparisons */
            return COLNAME_NONE;
        }
    case PG_QUERY__NODE__NODE_CASE_EXPR:
        st = colname_figure(n->case_expr->defresult, name, depth + 1);
        if (st == COLNAME_NONE || st == COLNAME_WEAK) {
            *name = "case";
            return COLNAME_WEAK;
        }
        return st;
    case PG_QUERY__NODE__NODE_A_ARRAY_EXPR:
        return colname_keyword("array", name);
    case PG_QUERY__NODE__NODE_ROW_EXPR:
        return colname_keyword("row", name);
    case PG_QUERY__NODE__NODE_COALESCE_EXPR:
        return colname_keyword("coalesce", name);
    case PG_QUERY__NODE__NODE_MIN_MAX_EXPR:
        switch (n->min_max_expr->op) {
        case PG_QUERY__MIN_MAX_OP__IS_GREATEST:
            return colname_keyword("greatest", name);
        case PG_QUERY__MIN_MAX_OP__IS_LEAST:
            return colname_keyword("least", name);
        default:
            return COLNAME_NONE;
        }
    case PG_QUERY__NODE__NODE_SQLVALUE_FUNCTION:
        return colname_keyword(colname_sql_value_function(n->sqlvalue_function->op), name);
    case PG_QUERY__NODE__NODE_XML_EXPR:
        return colname_keyword(colname_xml(n->xml_expr->op), name);
    case PG_QUERY__NODE__NODE_XML_SERIALIZE:
        return colname_keyword("xmlserialize", name);
    default:
        return COLNAME_NONE;
    }
}

const char *storage_colname_figure(const PgQuery__Node *expr)
{
    const char *name = NULL;
    switch (colname_figure(expr, &name, 0)) {
    case COLNAME_UNKNOWN:
        return NULL;
    case COLNAME_NONE:
        return "?column?";
    default:
        return name;
    }
}

/* The target list whose entries become the statement's result columns. */
static PgQuery__Node **colname_targets(const PgQuery__Node *stmt, size_t *n)
{
    *n = 0;
    if (!stmt)
        return NULL;
    switch (stmt->node_case) {
    case PG_QUERY__NODE__NODE_SELECT_STMT: {
        /* a set operation's columns are named by its left-most select */
        const PgQuery__SelectStmt *s = colname_leftmost(stmt->select_stmt);
        if (!s || s->n_values_lists) /* VALUES: column1, ... as SQLite names them */
            return NULL;
        *n = s->n_target_list;
        return s->target_list;
    }
    case PG_QUERY__NODE__NODE_INSERT_STMT:
        *n = stmt->insert_stmt->n_returning_list;
        return stmt->insert_stmt->returning_list;
    case PG_QUERY__NODE__NODE_UPDATE_STMT:
        *n = stmt->update_stmt->n_returning_list;
        return stmt->update_stmt->returning_list;
    case PG_QUERY__NODE__NODE_DELETE_STMT:
        *n = stmt->delete_stmt->n_returning_list;
        return stmt->delete_stmt->returning_list;
    default:
        return NULL;
    }
}

static const PgQuery__ResTarget *colname_res_target(const PgQuery__Node *t)
{
    if (!t || t->node_case != PG_QUERY__NODE__NODE_RES_TARGET)
        return NULL;
    return t->res_target;
}

static void colname_fill(const PgQuery__Node *t, storage_colname *out)
{
    const PgQuery__ResTarget *rt = colname_res_target(t);
    if (!rt)
        return;
    out->count = colname_is_count(rt->val);
    if (rt->name && rt->name[0])
        out->name = rt->name;
    else
        out->name = storage_colname_figure(rt->val);
}

bool storage_colname_result(const PgQuery__Node *stmt, int ncols, storage_colname *out)
{
    for (int i = 0; i < ncols; i++)
        out[i] = (storage_colname){.name = NULL, .count = false};

    size_t nt;
    PgQuery__Node **targets = colname_targets(stmt, &nt);
    if (!targets || nt == 0 || ncols <= 0)
        return false;

    size_t nstar = 0, first_star = nt, last_star = 0;
    for (size_t i = 0; i < nt; i++) {
        const PgQuery__ResTarget *rt = colname_res_target(targets[i]);
        if (rt && colname_is_star(rt->val)) {
            if (nstar++ == 0)
                first_star = i;
            last_star = i;
        }
    }
    if (nstar == 0 ? nt != (size_t)ncols : nt - nstar > (size_t)ncols)
        return false;

    /* Targets before the first star are columns 1:1 from the start, targets
     * after the last star 1:1 from the end; SQLite named the rest. */
    for (size_t i = 0; i < first_star; i++)
        colname_fill(targets[i], &out[i]);
    if (nstar) {
        for (size_t j = last_star + 1; j < nt; j++)
            colname_fill(targets[j], &out[(size_t)ncols - (nt - j)]);
    }
    return true;
}
