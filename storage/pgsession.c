/*
 * What a statement leaves behind in a PostgreSQL session, for the pooler
 * (storage.h: storage_sess_classify).  PostgreSQL's own parser decides; a
 * lexical look at the first word only spares the parser the statements that
 * cannot matter (a single SELECT, INSERT, UPDATE, ...), which is nearly every
 * statement a pooled client sends.
 */
#include "dormouse/storage.h"
#include "storage_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#define CURSOR_OPT_HOLD 0x0020 /* PostgreSQL's parsenodes.h */

const char *storage_sess_kind_str(storage_sess_kind k)
{
    switch (k) {
    case STORAGE_SESS_OTHER:
        return "other";
    case STORAGE_SESS_SET:
        return "set";
    case STORAGE_SESS_RESET:
        return "reset";
    case STORAGE_SESS_RESET_ALL:
        return "reset all";
    case STORAGE_SESS_DEALLOCATE:
        return "deallocate";
    case STORAGE_SESS_DEALLOCATE_ALL:
        return "deallocate all";
    case STORAGE_SESS_DISCARD_ALL:
        return "discard all";
    case STORAGE_SESS_BEGIN:
        return "begin";
    case STORAGE_SESS_LISTEN:
        return "listen";
    case STORAGE_SESS_TEMP:
        return "temporary object";
    case STORAGE_SESS_HOLD_CURSOR:
        return "cursor WITH HOLD";
    case STORAGE_SESS_PREPARE:
        return "prepare";
    case STORAGE_SESS_ADVISORY:
        return "session advisory lock";
    case STORAGE_SESS_SAVEPOINT:
        return "savepoint";
    case STORAGE_SESS_ROLLBACK_TO:
        return "rollback to savepoint";
    case STORAGE_SESS_RELEASE:
        return "release savepoint";
    }
    return "unknown";
}

/* Skips blanks and comments (nested block comments, as PostgreSQL's lexer). */
static size_t skip_space(const char *s, size_t len, size_t i)
{
    for (;;) {
        while (i < len && isspace((unsigned char)s[i]))
            i++;
        if (i + 1 < len && s[i] == '-' && s[i + 1] == '-') {
            while (i < len && s[i] != '\n')
                i++;
            continue;
        }
        if (i + 1 < len && s[i] == '/' && s[i + 1] == '*') {
            int depth = 0;
            while (i < len) {
                if (i + 1 < len && s[i] == '/' && s[i + 1] == '*') {
                    depth++;
                    i += 2;
                } else if (i + 1 < len && s[i] == '*' && s[i + 1] == '/') {
                    i += 2;
                    if (--depth == 0)
                        break;
                } else {
                    i++;
                }
            }
            continue;
        }
        return i;
    }
}

/* Does s contain word (lower case), ignoring case? */
static bool contains_ci(const char *s, size_t len, const char *word)
{
    size_t wl = strlen(word);
    char first = word[0];
    for (size_t i = 0; i + wl <= len; i++)
        if ((s[i] | 0x20) == first && strncasecmp(s + i, word, wl) == 0)
            return true;
    return false;
}

bool storage_sess_candidate(const char *sql, size_t len)
{
    static const char *const words[] = {"set",     "reset",   "deallocate", "discard",
                                        "begin",   "start",   "listen",     "create",
                                        "declare", "prepare", "savepoint",  "rollback",
                                        "release"};
    size_t i = skip_space(sql, len, 0);
    size_t w = i;
    while (w < len && isalpha((unsigned char)sql[w]))
        w++;
    for (size_t k = 0; k < sizeof(words) / sizeof(words[0]); k++)
        if (w > i && (sql[i] | 0x20) == words[k][0] && strlen(words[k]) == w - i &&
            strncasecmp(sql + i, words[k], w - i) == 0)
            return true;
    if (w == i)
        return true; /* not a word: let the parser look */
    /* A second statement after a ';' could be anything. */
    for (size_t j = w; j < len; j++)
        if (sql[j] == ';' && skip_space(sql, len, j + 1) < len)
            return true;
    return contains_ci(sql, len, "advisory");
}

static void lower_copy(char *dst, size_t dstlen, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < dstlen; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = '\0';
}

static bool temp_rel(const PgQuery__RangeVar *rv)
{
    return rv && rv->relpersistence && rv->relpersistence[0] == 't';
}

static void classify_node(const PgQuery__Node *n, storage_sess_stmt *st)
{
    st->kind = STORAGE_SESS_OTHER;
    if (!n)
        return;
    switch (n->node_case) {
    case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT: {
        const PgQuery__VariableSetStmt *v = n->variable_set_stmt;
        if (v->is_local)
            return;
        switch (v->kind) {
        case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE:
        case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_CURRENT:
            st->kind = STORAGE_SESS_SET;
            break;
        case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_MULTI:
            /* SET TRANSACTION is the transaction's; SET SESSION CHARACTERISTICS
             * stays: it sets the default_transaction_* parameters it names */
            if (!v->name || strcasecmp(v->name, "SESSION CHARACTERISTICS") != 0)
                return;
            st->kind = STORAGE_SESS_SET;
            for (size_t i = 0; i < v->n_args; i++) {
                const PgQuery__Node *a = v->args[i];
                if (!a || a->node_case != PG_QUERY__NODE__NODE_DEF_ELEM || !a->def_elem->defname)
                    continue;
                size_t used = strlen(st->name);
                snprintf(st->name + used, sizeof(st->name) - used, "%sdefault_%s",
                         used ? "," : "", a->def_elem->defname);
            }
            if (!st->name[0])
                st->kind = STORAGE_SESS_OTHER;
            return;
        case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_DEFAULT:
        case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET:
            st->kind = STORAGE_SESS_RESET;
            break;
        case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL:
            st->kind = STORAGE_SESS_RESET_ALL;
            return;
        default:
            return;
        }
        lower_copy(st->name, sizeof(st->name), v->name);
        return;
    }
    case PG_QUERY__NODE__NODE_DEALLOCATE_STMT:
        if (n->deallocate_stmt->name && n->deallocate_stmt->name[0]) {
            st->kind = STORAGE_SESS_DEALLOCATE;
            snprintf(st->name, sizeof(st->name), "%s", n->deallocate_stmt->name);
        } else {
            st->kind = STORAGE_SESS_DEALLOCATE_ALL;
        }
        return;
    case PG_QUERY__NODE__NODE_DISCARD_STMT:
        if (n->discard_stmt->target == PG_QUERY__DISCARD_MODE__DISCARD_ALL)
            st->kind = STORAGE_SESS_DISCARD_ALL;
        return;
    case PG_QUERY__NODE__NODE_TRANSACTION_STMT: {
        const PgQuery__TransactionStmt *t = n->transaction_stmt;
        switch (t->kind) {
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN:
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START:
            st->kind = STORAGE_SESS_BEGIN;
            return;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_SAVEPOINT:
            st->kind = STORAGE_SESS_SAVEPOINT;
            break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_TO:
            st->kind = STORAGE_SESS_ROLLBACK_TO;
            break;
        case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_RELEASE:
            st->kind = STORAGE_SESS_RELEASE;
            break;
        default:
            return;
        }
        snprintf(st->name, sizeof(st->name), "%s", t->savepoint_name ? t->savepoint_name : "");
        return;
    }
    case PG_QUERY__NODE__NODE_LISTEN_STMT:
        st->kind = STORAGE_SESS_LISTEN;
        return;
    case PG_QUERY__NODE__NODE_CREATE_STMT:
        if (temp_rel(n->create_stmt->relation))
            st->kind = STORAGE_SESS_TEMP;
        return;
    case PG_QUERY__NODE__NODE_VIEW_STMT:
        if (temp_rel(n->view_stmt->view))
            st->kind = STORAGE_SESS_TEMP;
        return;
    case PG_QUERY__NODE__NODE_CREATE_SEQ_STMT:
        if (temp_rel(n->create_seq_stmt->sequence))
            st->kind = STORAGE_SESS_TEMP;
        return;
    case PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT:
        if (n->create_table_as_stmt->into && temp_rel(n->create_table_as_stmt->into->rel))
            st->kind = STORAGE_SESS_TEMP;
        return;
    case PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT:
        if (n->declare_cursor_stmt->options & CURSOR_OPT_HOLD)
            st->kind = STORAGE_SESS_HOLD_CURSOR;
        return;
    case PG_QUERY__NODE__NODE_PREPARE_STMT:
        st->kind = STORAGE_SESS_PREPARE;
        return;
    default:
        return;
    }
}

bool storage_node_creates_temp(const PgQuery__Node *n)
{
    storage_sess_stmt st;
    memset(&st, 0, sizeof(st));
    classify_node(n, &st);
    return st.kind == STORAGE_SESS_TEMP;
}

/* Marks the statements that call a session-level advisory lock function
 * (pg_advisory_lock, pg_advisory_lock_shared, pg_try_advisory_lock,
 * pg_try_advisory_lock_shared: the _xact_ ones end with the transaction). */
static void mark_advisory(const char *sql, storage_sess_stmt *out, int n)
{
    static const char *const fns[] = {"pg_advisory_lock", "pg_advisory_lock_shared",
                                      "pg_try_advisory_lock", "pg_try_advisory_lock_shared"};
    PgQueryScanResult r = pg_query_scan(sql);
    if (r.error) {
        pg_query_free_scan_result(r);
        return;
    }
    PgQuery__ScanResult *sr =
        pg_query__scan_result__unpack(NULL, r.pbuf.len, (const uint8_t *)r.pbuf.data);
    pg_query_free_scan_result(r);
    if (!sr)
        return;
    for (size_t t = 0; t < sr->n_tokens; t++) {
        const PgQuery__ScanToken *tok = sr->tokens[t];
        if (tok->token != PG_QUERY__TOKEN__IDENT || tok->end <= tok->start)
            continue;
        size_t tl = (size_t)(tok->end - tok->start);
        bool hit = false;
        for (size_t k = 0; k < sizeof(fns) / sizeof(fns[0]); k++)
            hit |= strlen(fns[k]) == tl && strncasecmp(sql + tok->start, fns[k], tl) == 0;
        if (!hit)
            continue;
        for (int i = 0; i < n; i++)
            if ((size_t)tok->start >= out[i].location &&
                (size_t)tok->start < out[i].location + out[i].len &&
                out[i].kind == STORAGE_SESS_OTHER)
                out[i].kind = STORAGE_SESS_ADVISORY;
    }
    pg_query__scan_result__free_unpacked(sr, NULL);
}

int storage_sess_classify(const char *sql, storage_sess_stmt *out, int max)
{
    PgQueryProtobufParseResult r = pg_query_parse_protobuf(sql);
    if (r.error) {
        pg_query_free_protobuf_parse_result(r);
        return -1;
    }
    PgQuery__ParseResult *tree =
        pg_query__parse_result__unpack(NULL, r.parse_tree.len, (const uint8_t *)r.parse_tree.data);
    pg_query_free_protobuf_parse_result(r);
    if (!tree)
        return -1;
    size_t total = strlen(sql);
    int n = 0;
    for (size_t i = 0; i < tree->n_stmts; i++) {
        const PgQuery__RawStmt *raw = tree->stmts[i];
        if (n < max) {
            storage_sess_stmt *st = &out[n];
            memset(st, 0, sizeof(*st));
            classify_node(raw->stmt, st);
            st->location = raw->stmt_location > 0 ? (size_t)raw->stmt_location : 0;
            if (st->location > total)
                st->location = total;
            st->len = raw->stmt_len > 0 ? (size_t)raw->stmt_len : total - st->location;
            if (st->location + st->len > total)
                st->len = total - st->location;
            while (st->len > 0 && isspace((unsigned char)sql[st->location])) {
                st->location++;
                st->len--;
            }
        }
        n++;
    }
    pg_query__parse_result__free_unpacked(tree, NULL);
    if (contains_ci(sql, total, "advisory"))
        mark_advisory(sql, out, n < max ? n : max);
    return n;
}
