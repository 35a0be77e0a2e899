/*
 * Query fingerprints and statement kinds for metering (storage.h,
 * "fingerprints"), with PostgreSQL's own parser and scanner (libpg_query).
 */
#include "dormouse/storage.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>
#include <xxhash.h>

#include "statement.h"

uint64_t storage_fingerprint(const char *sql)
{
    PgQueryFingerprintResult r = pg_query_fingerprint(sql);
    uint64_t fp = r.error ? 0 : r.fingerprint;
    pg_query_free_fingerprint_result(r);
    return fp;
}

/* ---- the shape of a parse tree ----
 *
 * libpg_query fingerprints a text by parsing it again; the engine has its
 * tree already.  The tree's shape (every node and field, but constants'
 * values and source locations) decides the fingerprint, since the
 * fingerprint ignores exactly those and perhaps more: so a shape seen
 * before has the fingerprint computed for it then (statement.c keeps them),
 * and texts that differ only in their constants cost a walk of the tree
 * instead of a second parse. */

/* The shape is written out as bytes and hashed once (many small streaming
 * updates cost more than the parse they replace). */
typedef struct shape_buf {
    uint8_t *p;
    size_t len, cap;
    bool heap, oom;
} shape_buf;

static void shape_put(shape_buf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = (b->len + n) * 2;
        uint8_t *q = b->heap ? realloc(b->p, cap) : malloc(cap);
        if (!q) {
            b->oom = true;
            return;
        }
        if (!b->heap)
            memcpy(q, b->p, b->len);
        b->p = q;
        b->cap = cap;
        b->heap = true;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

/* The size of one stored value of f's type (an element of a repeated field). */
static size_t shape_elem_size(const ProtobufCFieldDescriptor *f)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
    case PROTOBUF_C_TYPE_DOUBLE:
        return 8;
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(void *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    default:
        return 4;
    }
}

static void shape_message(shape_buf *b, const ProtobufCMessage *m);

static void shape_value(shape_buf *b, const ProtobufCFieldDescriptor *f, const void *p)
{
    switch (f->type) {
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        /* with its NUL ("a","b" is not "ab",""); NULL as a lone 0xff */
        if (s)
            shape_put(b, s, strlen(s) + 1);
        else
            shape_put(b, "\xff", 1);
        break;
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *d = p;
        shape_put(b, &d->len, sizeof(d->len));
        if (d->len)
            shape_put(b, d->data, d->len);
        break;
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *sub = *(ProtobufCMessage *const *)p;
        if (sub)
            shape_message(b, sub);
        else
            shape_put(b, "\0\0\0\0\0\0\0\0", sizeof(void *)); /* no descriptor */
        break;
    }
    default: /* numbers, enums and booleans, as they are stored */
        shape_put(b, p, shape_elem_size(f));
        break;
    }
}

static void shape_message(shape_buf *b, const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    shape_put(b, &d, sizeof(d)); /* the node's type (this process's descriptors) */
    if (d == &pg_query__a__const__descriptor)
        return; /* a constant: its value is not part of the shape */
    const char *base = (const char *)m;
    if (d == &pg_query__node__descriptor) {
        /* a Node is one of some 250 kinds: go straight to the one it is */
        const PgQuery__Node *node = (const PgQuery__Node *)m;
        const ProtobufCFieldDescriptor *f =
            protobuf_c_message_descriptor_get_field(d, (unsigned)node->node_case);
        shape_put(b, &node->node_case, sizeof(node->node_case));
        if (f)
            shape_value(b, f, base + f->offset);
        return;
    }
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(base + f->quantifier_offset) != f->id)
            continue;
        /* where a node stood in the text: "location", "stmt_location", "stmt_len" */
        if ((f->name[0] == 'l' && !strcmp(f->name, "location")) ||
            (f->name[0] == 's' && !strncmp(f->name, "stmt_", 5)))
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const char *arr = *(char *const *)(base + f->offset);
            shape_put(b, &n, sizeof(n));
            size_t sz = shape_elem_size(f);
            for (size_t j = 0; j < n; j++)
                shape_value(b, f, arr + j * sz);
        } else {
            shape_value(b, f, base + f->offset);
        }
    }
}

uint64_t storage_tree_shape(const PgQuery__ParseResult *tree)
{
    if (!tree)
        return 0;
    uint8_t stack[4096];
    shape_buf b = {.p = stack, .cap = sizeof(stack)};
    shape_message(&b, &tree->base);
    uint64_t h = b.oom ? 0 : XXH3_64bits(b.p, b.len);
    if (b.heap)
        free(b.p);
    return h;
}

char *storage_normalize(const char *sql, size_t max)
{
    PgQueryNormalizeResult r = pg_query_normalize(sql);
    char *out = NULL;
    if (!r.error && r.normalized_query)
        out = strndup(r.normalized_query, max);
    pg_query_free_normalize_result(r);
    return out;
}

const char *storage_query_kind_str(storage_query_kind k)
{
    switch (k) {
    case STORAGE_QUERY_READ:
        return "read";
    case STORAGE_QUERY_WRITE:
        return "write";
    case STORAGE_QUERY_DDL:
        return "ddl";
    case STORAGE_QUERY_TRANSACTION:
        return "transaction";
    case STORAGE_QUERY_OTHER:
        break;
    }
    return "other";
}

/* A message of several statements is what its weightiest one is. */
storage_query_kind storage_query_kind_max(storage_query_kind a, storage_query_kind b)
{
    static const int weight[] = {[STORAGE_QUERY_OTHER] = 0, [STORAGE_QUERY_TRANSACTION] = 1,
                                 [STORAGE_QUERY_READ] = 2, [STORAGE_QUERY_WRITE] = 3,
                                 [STORAGE_QUERY_DDL] = 4};
    return weight[b] > weight[a] ? b : a;
}

storage_query_kind storage_parse_kind(const storage_parse *p)
{
    storage_query_kind k = STORAGE_QUERY_OTHER;
    for (size_t i = 0; i < p->n; i++) {
        const storage_stmt *s = &p->stmts[i];
        storage_query_kind one = STORAGE_QUERY_OTHER;
        switch (s->kind) {
        case STORAGE_STMT_SELECT:
            one = STORAGE_QUERY_READ;
            break;
        case STORAGE_STMT_INSERT:
        case STORAGE_STMT_UPDATE:
        case STORAGE_STMT_DELETE:
            one = STORAGE_QUERY_WRITE;
            break;
        case STORAGE_STMT_CREATE_TABLE_AS:
            one = STORAGE_QUERY_DDL;
            break;
        case STORAGE_STMT_TRANSACTION:
            one = STORAGE_QUERY_TRANSACTION;
            break;
        case STORAGE_STMT_SESSION:
            break;
        case STORAGE_STMT_UTILITY:
            if (s->node && s->node->node_case == PG_QUERY__NODE__NODE_COPY_STMT)
                one = s->node->copy_stmt->is_from ? STORAGE_QUERY_WRITE : STORAGE_QUERY_READ;
            else if (s->node && s->node->node_case == PG_QUERY__NODE__NODE_EXPLAIN_STMT)
                one = STORAGE_QUERY_READ;
            else
                one = STORAGE_QUERY_DDL;
            break;
        }
        k = storage_query_kind_max(k, one);
    }
    return k;
}

/* The kind a statement's first keyword gives; WITH looks further. */
static storage_query_kind kind_of_token(int token)
{
    switch (token) {
    case PG_QUERY__TOKEN__SELECT:
    case PG_QUERY__TOKEN__VALUES:
    case PG_QUERY__TOKEN__TABLE:
    case PG_QUERY__TOKEN__SHOW:
    case PG_QUERY__TOKEN__EXPLAIN:
    case PG_QUERY__TOKEN__FETCH:
        return STORAGE_QUERY_READ;
    case PG_QUERY__TOKEN__INSERT:
    case PG_QUERY__TOKEN__UPDATE:
    case PG_QUERY__TOKEN__DELETE_P:
    case PG_QUERY__TOKEN__MERGE:
    case PG_QUERY__TOKEN__COPY:
        return STORAGE_QUERY_WRITE;
    case PG_QUERY__TOKEN__CREATE:
    case PG_QUERY__TOKEN__ALTER:
    case PG_QUERY__TOKEN__DROP:
    case PG_QUERY__TOKEN__TRUNCATE:
    case PG_QUERY__TOKEN__GRANT:
    case PG_QUERY__TOKEN__REVOKE:
    case PG_QUERY__TOKEN__COMMENT:
    case PG_QUERY__TOKEN__REINDEX:
    case PG_QUERY__TOKEN__CLUSTER:
    case PG_QUERY__TOKEN__REFRESH:
    case PG_QUERY__TOKEN__IMPORT_P:
    case PG_QUERY__TOKEN__SECURITY:
        return STORAGE_QUERY_DDL;
    case PG_QUERY__TOKEN__BEGIN_P:
    case PG_QUERY__TOKEN__START:
    case PG_QUERY__TOKEN__COMMIT:
    case PG_QUERY__TOKEN__END_P:
    case PG_QUERY__TOKEN__ROLLBACK:
    case PG_QUERY__TOKEN__ABORT_P:
    case PG_QUERY__TOKEN__SAVEPOINT:
    case PG_QUERY__TOKEN__RELEASE:
        return STORAGE_QUERY_TRANSACTION;
    default:
        return STORAGE_QUERY_OTHER;
    }
}

storage_query_kind storage_query_kind_scan(const char *sql)
{
    PgQueryScanResult r = pg_query_scan(sql);
    if (r.error) {
        pg_query_free_scan_result(r);
        return STORAGE_QUERY_OTHER;
    }
    PgQuery__ScanResult *sr =
        pg_query__scan_result__unpack(NULL, r.pbuf.len, (const uint8_t *)r.pbuf.data);
    pg_query_free_scan_result(r);
    if (!sr)
        return STORAGE_QUERY_OTHER;
    storage_query_kind k = STORAGE_QUERY_OTHER;
    bool first = true, with = false, copy = false;
    int depth = 0;
    for (size_t t = 0; t < sr->n_tokens; t++) {
        int tok = sr->tokens[t]->token;
        if (tok == PG_QUERY__TOKEN__ASCII_59) { /* ';' ends a statement */
            first = true;
            with = copy = false;
            depth = 0;
            continue;
        }
        depth += tok == PG_QUERY__TOKEN__ASCII_40 ? 1 : tok == PG_QUERY__TOKEN__ASCII_41 ? -1 : 0;
        if (first) {
            first = false;
            with = tok == PG_QUERY__TOKEN__WITH;
            copy = tok == PG_QUERY__TOKEN__COPY; /* FROM or TO says which */
            if (!copy)
                k = storage_query_kind_max(k, with ? STORAGE_QUERY_READ : kind_of_token(tok));
        } else if (copy && depth == 0 && (tok == PG_QUERY__TOKEN__FROM || tok == PG_QUERY__TOKEN__TO)) {
            k = storage_query_kind_max(k, tok == PG_QUERY__TOKEN__FROM ? STORAGE_QUERY_WRITE
                                                                       : STORAGE_QUERY_READ);
            copy = false;
        } else if (with && kind_of_token(tok) == STORAGE_QUERY_WRITE && tok != PG_QUERY__TOKEN__COPY) {
            k = storage_query_kind_max(k, STORAGE_QUERY_WRITE); /* a data-modifying WITH */
        }
    }
    pg_query__scan_result__free_unpacked(sr, NULL);
    return k;
}
