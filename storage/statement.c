/*
 * statement.c: splitting and classifying a Query message with PostgreSQL's
 * parser.
 *
 * The whole message is parsed once (pg_query_parse_protobuf), as PostgreSQL
 * does before running any of it, so a syntax error anywhere means nothing
 * runs.  Each RawStmt gives the statement's bytes (stmt_location, stmt_len; a
 * zero length means "to the end") and its node; the node type decides how the
 * engine runs it and what command tag PostgreSQL would answer.  The tag comes
 * from a table of node types, refined by a few node fields (DROP TABLE vs DROP
 * INDEX); an unknown node type falls back to its name in the protobuf schema
 * ("create_conversion_stmt" -> "CREATE CONVERSION").  Nothing here looks at
 * the SQL text itself.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pg_query.h>
#include <xxhash.h>

#include "dormouse/wire.h"
#include "statement.h"

const char *storage_stmt_kind_str(storage_stmt_kind k)
{
    switch (k) {
    case STORAGE_STMT_UTILITY:
        return "utility";
    case STORAGE_STMT_SELECT:
        return "select";
    case STORAGE_STMT_INSERT:
        return "insert";
    case STORAGE_STMT_UPDATE:
        return "update";
    case STORAGE_STMT_DELETE:
        return "delete";
    case STORAGE_STMT_CREATE_TABLE_AS:
        return "create_table_as";
    case STORAGE_STMT_TRANSACTION:
        return "transaction";
    case STORAGE_STMT_SESSION:
        return "session";
    }
    return "unknown";
}

const char *storage_tx_op_str(storage_tx_op op)
{
    switch (op) {
    case STORAGE_TX_NONE:
        return "none";
    case STORAGE_TX_BEGIN:
        return "begin";
    case STORAGE_TX_COMMIT:
        return "commit";
    case STORAGE_TX_ROLLBACK:
        return "rollback";
    case STORAGE_TX_SAVEPOINT:
        return "savepoint";
    case STORAGE_TX_RELEASE:
        return "release";
    case STORAGE_TX_ROLLBACK_TO:
        return "rollback_to";
    case STORAGE_TX_PREPARED:
        return "prepared";
    }
    return "unknown";
}

typedef struct storage_tag_entry {
    PgQuery__Node__NodeCase node;
    storage_stmt_kind kind;
    const char *tag;
} storage_tag_entry;

/* Node types whose tag does not depend on the node's fields. */
static const storage_tag_entry storage_tag_table[] = {
    {PG_QUERY__NODE__NODE_SELECT_STMT, STORAGE_STMT_SELECT, "SELECT"},
    {PG_QUERY__NODE__NODE_INSERT_STMT, STORAGE_STMT_INSERT, "INSERT"},
    {PG_QUERY__NODE__NODE_UPDATE_STMT, STORAGE_STMT_UPDATE, "UPDATE"},
    {PG_QUERY__NODE__NODE_DELETE_STMT, STORAGE_STMT_DELETE, "DELETE"},
    {PG_QUERY__NODE__NODE_CREATE_TABLE_AS_STMT, STORAGE_STMT_CREATE_TABLE_AS, "SELECT"},
    {PG_QUERY__NODE__NODE_MERGE_STMT, STORAGE_STMT_UTILITY, "MERGE"},
    {PG_QUERY__NODE__NODE_CREATE_STMT, STORAGE_STMT_UTILITY, "CREATE TABLE"},
    {PG_QUERY__NODE__NODE_INDEX_STMT, STORAGE_STMT_UTILITY, "CREATE INDEX"},
    {PG_QUERY__NODE__NODE_VIEW_STMT, STORAGE_STMT_UTILITY, "CREATE VIEW"},
    {PG_QUERY__NODE__NODE_TRUNCATE_STMT, STORAGE_STMT_UTILITY, "TRUNCATE TABLE"},
    {PG_QUERY__NODE__NODE_EXPLAIN_STMT, STORAGE_STMT_UTILITY, "EXPLAIN"},
    {PG_QUERY__NODE__NODE_CREATE_SEQ_STMT, STORAGE_STMT_UTILITY, "CREATE SEQUENCE"},
    {PG_QUERY__NODE__NODE_ALTER_SEQ_STMT, STORAGE_STMT_UTILITY, "ALTER SEQUENCE"},
    {PG_QUERY__NODE__NODE_VARIABLE_SHOW_STMT, STORAGE_STMT_SESSION, "SHOW"},
    {PG_QUERY__NODE__NODE_CREATE_SCHEMA_STMT, STORAGE_STMT_UTILITY, "CREATE SCHEMA"},
    {PG_QUERY__NODE__NODE_CREATE_TRIG_STMT, STORAGE_STMT_UTILITY, "CREATE TRIGGER"},
    {PG_QUERY__NODE__NODE_CREATE_EXTENSION_STMT, STORAGE_STMT_UTILITY, "CREATE EXTENSION"},
    {PG_QUERY__NODE__NODE_CREATE_ROLE_STMT, STORAGE_STMT_UTILITY, "CREATE ROLE"},
    {PG_QUERY__NODE__NODE_ALTER_ROLE_STMT, STORAGE_STMT_UTILITY, "ALTER ROLE"},
    {PG_QUERY__NODE__NODE_DROP_ROLE_STMT, STORAGE_STMT_UTILITY, "DROP ROLE"},
    {PG_QUERY__NODE__NODE_CREATEDB_STMT, STORAGE_STMT_UTILITY, "CREATE DATABASE"},
    {PG_QUERY__NODE__NODE_DROPDB_STMT, STORAGE_STMT_UTILITY, "DROP DATABASE"},
    {PG_QUERY__NODE__NODE_ALTER_DATABASE_STMT, STORAGE_STMT_UTILITY, "ALTER DATABASE"},
    {PG_QUERY__NODE__NODE_ALTER_DATABASE_SET_STMT, STORAGE_STMT_UTILITY, "ALTER DATABASE"},
    {PG_QUERY__NODE__NODE_COMMENT_STMT, STORAGE_STMT_UTILITY, "COMMENT"},
    {PG_QUERY__NODE__NODE_LOCK_STMT, STORAGE_STMT_UTILITY, "LOCK TABLE"},
    {PG_QUERY__NODE__NODE_COPY_STMT, STORAGE_STMT_UTILITY, "COPY"},
    {PG_QUERY__NODE__NODE_CHECK_POINT_STMT, STORAGE_STMT_UTILITY, "CHECKPOINT"},
    {PG_QUERY__NODE__NODE_REINDEX_STMT, STORAGE_STMT_UTILITY, "REINDEX"},
    {PG_QUERY__NODE__NODE_CLUSTER_STMT, STORAGE_STMT_UTILITY, "CLUSTER"},
    {PG_QUERY__NODE__NODE_PREPARE_STMT, STORAGE_STMT_UTILITY, "PREPARE"},
    {PG_QUERY__NODE__NODE_EXECUTE_STMT, STORAGE_STMT_UTILITY, "EXECUTE"},
    {PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT, STORAGE_STMT_UTILITY, "DECLARE CURSOR"},
    {PG_QUERY__NODE__NODE_LISTEN_STMT, STORAGE_STMT_UTILITY, "LISTEN"},
    {PG_QUERY__NODE__NODE_NOTIFY_STMT, STORAGE_STMT_UTILITY, "NOTIFY"},
    {PG_QUERY__NODE__NODE_UNLISTEN_STMT, STORAGE_STMT_SESSION, "UNLISTEN"},
    {PG_QUERY__NODE__NODE_DO_STMT, STORAGE_STMT_UTILITY, "DO"},
    {PG_QUERY__NODE__NODE_CALL_STMT, STORAGE_STMT_UTILITY, "CALL"},
    {PG_QUERY__NODE__NODE_CREATE_DOMAIN_STMT, STORAGE_STMT_UTILITY, "CREATE DOMAIN"},
    {PG_QUERY__NODE__NODE_CREATE_ENUM_STMT, STORAGE_STMT_UTILITY, "CREATE TYPE"},
    {PG_QUERY__NODE__NODE_COMPOSITE_TYPE_STMT, STORAGE_STMT_UTILITY, "CREATE TYPE"},
    {PG_QUERY__NODE__NODE_CREATE_RANGE_STMT, STORAGE_STMT_UTILITY, "CREATE TYPE"},
    {PG_QUERY__NODE__NODE_ALTER_ENUM_STMT, STORAGE_STMT_UTILITY, "ALTER TYPE"},
    {PG_QUERY__NODE__NODE_REFRESH_MAT_VIEW_STMT, STORAGE_STMT_UTILITY, "REFRESH MATERIALIZED VIEW"},
    {PG_QUERY__NODE__NODE_LOAD_STMT, STORAGE_STMT_UTILITY, "LOAD"},
};

/* Object types whose name in a tag is not their enum name with spaces. */
static const struct {
    PgQuery__ObjectType type;
    const char *name;
} storage_object_names[] = {
    {PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW, "MATERIALIZED VIEW"},
    {PG_QUERY__OBJECT_TYPE__OBJECT_FDW, "FOREIGN DATA WRAPPER"},
    {PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_SERVER, "SERVER"},
    {PG_QUERY__OBJECT_TYPE__OBJECT_TSCONFIGURATION, "TEXT SEARCH CONFIGURATION"},
    {PG_QUERY__OBJECT_TYPE__OBJECT_TSDICTIONARY, "TEXT SEARCH DICTIONARY"},
    {PG_QUERY__OBJECT_TYPE__OBJECT_TSPARSER, "TEXT SEARCH PARSER"},
    {PG_QUERY__OBJECT_TYPE__OBJECT_TSTEMPLATE, "TEXT SEARCH TEMPLATE"},
    {PG_QUERY__OBJECT_TYPE__OBJECT_STATISTIC_EXT, "STATISTICS"},
    {PG_QUERY__OBJECT_TYPE__OBJECT_LARGEOBJECT, "LARGE OBJECT"},
};

/* Upper-cases a schema name ("OBJECT_FOREIGN_TABLE", "create_conversion_stmt")
 * into tag words after dropping `strip_prefix` and `strip_suffix`. */
static void storage_tag_from_name(const char *verb, const char *name, const char *strip_prefix,
                                  const char *strip_suffix, char *tag)
{
    size_t n = strlen(name);
    size_t pre = strlen(strip_prefix);
    size_t suf = strlen(strip_suffix);
    if (n >= pre && strncmp(name, strip_prefix, pre) == 0) {
        name += pre;
        n -= pre;
    }
    if (n >= suf && strcmp(name + n - suf, strip_suffix) == 0)
        n -= suf;
    int w = snprintf(tag, STORAGE_TAG_MAX, "%s%s", verb, verb[0] ? " " : "");
    size_t o = w > 0 ? (size_t)w : 0;
    for (size_t i = 0; i < n && o + 1 < STORAGE_TAG_MAX; i++)
        tag[o++] = name[i] == '_' ? ' ' : (char)toupper((unsigned char)name[i]);
    tag[o] = '\0';
}

static void storage_tag_object(const char *verb, PgQuery__ObjectType type, char *tag)
{
    for (size_t i = 0; i < sizeof(storage_object_names) / sizeof(storage_object_names[0]); i++) {
        if (storage_object_names[i].type == type) {
            snprintf(tag, STORAGE_TAG_MAX, "%s %s", verb, storage_object_names[i].name);
            return;
        }
    }
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&pg_query__object_type__descriptor, (int)type);
    if (!v || type == PG_QUERY__OBJECT_TYPE__OBJECT_TYPE_UNDEFINED) {
        snprintf(tag, STORAGE_TAG_MAX, "%s", verb);
        return;
    }
    storage_tag_from_name(verb, v->name, "OBJECT_", "", tag);
}

static void storage_classify_transaction(const PgQuery__TransactionStmt *t, storage_stmt *s)
{
    s->kind = STORAGE_STMT_TRANSACTION;
    s->tx_chain = t->chain;
    s->savepoint = t->savepoint_name;
    switch (t->kind) {
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN:
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_START:
        s->tx = STORAGE_TX_BEGIN;
        snprintf(s->tag, sizeof(s->tag), "%s",
                 t->kind == PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_BEGIN
                     ? "BEGIN"
                     : "START TRANSACTION");
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT:
        s->tx = STORAGE_TX_COMMIT;
        snprintf(s->tag, sizeof(s->tag), "COMMIT");
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK:
        s->tx = STORAGE_TX_ROLLBACK;
        snprintf(s->tag, sizeof(s->tag), "ROLLBACK");
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_SAVEPOINT:
        s->tx = STORAGE_TX_SAVEPOINT;
        snprintf(s->tag, sizeof(s->tag), "SAVEPOINT");
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_RELEASE:
        s->tx = STORAGE_TX_RELEASE;
        snprintf(s->tag, sizeof(s->tag), "RELEASE");
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_ROLLBACK_TO:
        s->tx = STORAGE_TX_ROLLBACK_TO;
        snprintf(s->tag, sizeof(s->tag), "ROLLBACK");
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_PREPARE:
        s->tx = STORAGE_TX_PREPARED;
        snprintf(s->tag, sizeof(s->tag), "PREPARE TRANSACTION");
        break;
    case PG_QUERY__TRANSACTION_STMT_KIND__TRANS_STMT_COMMIT_PREPARED:
        s->tx = STORAGE_TX_PREPARED;
        snprintf(s->tag, sizeof(s->tag), "COMMIT PREPARED");
        break;
    default:
        s->tx = STORAGE_TX_PREPARED;
        snprintf(s->tag, sizeof(s->tag), "ROLLBACK PREPARED");
        break;
    }
}

static void storage_classify(const PgQuery__Node *node, storage_stmt *s)
{
    s->node = node;
    s->kind = STORAGE_STMT_UTILITY;
    s->tx = STORAGE_TX_NONE;

    for (size_t i = 0; i < sizeof(storage_tag_table) / sizeof(storage_tag_table[0]); i++) {
        if (storage_tag_table[i].node == node->node_case) {
            s->kind = storage_tag_table[i].kind;
            snprintf(s->tag, sizeof(s->tag), "%s", storage_tag_table[i].tag);
            return;
        }
    }

    switch (node->node_case) {
    case PG_QUERY__NODE__NODE_TRANSACTION_STMT:
        storage_classify_transaction(node->transaction_stmt, s);
        return;
    case PG_QUERY__NODE__NODE_DROP_STMT:
        storage_tag_object("DROP", node->drop_stmt->remove_type, s->tag);
        return;
    case PG_QUERY__NODE__NODE_ALTER_TABLE_STMT:
        storage_tag_object("ALTER", node->alter_table_stmt->objtype, s->tag);
        return;
    case PG_QUERY__NODE__NODE_RENAME_STMT: {
        const PgQuery__RenameStmt *r = node->rename_stmt;
        PgQuery__ObjectType t = r->rename_type;
        if (t == PG_QUERY__OBJECT_TYPE__OBJECT_COLUMN ||
            t == PG_QUERY__OBJECT_TYPE__OBJECT_TABCONSTRAINT ||
            t == PG_QUERY__OBJECT_TYPE__OBJECT_ATTRIBUTE)
            t = r->relation_type;
        storage_tag_object("ALTER", t, s->tag);
        return;
    }
    case PG_QUERY__NODE__NODE_DEFINE_STMT:
        storage_tag_object("CREATE", node->define_stmt->kind, s->tag);
        return;
    case PG_QUERY__NODE__NODE_VACUUM_STMT:
        snprintf(s->tag, sizeof(s->tag), "%s",
                 node->vacuum_stmt->is_vacuumcmd ? "VACUUM" : "ANALYZE");
        return;
    case PG_QUERY__NODE__NODE_GRANT_STMT:
        snprintf(s->tag, sizeof(s->tag), "%s", node->grant_stmt->is_grant ? "GRANT" : "REVOKE");
        return;
    case PG_QUERY__NODE__NODE_FETCH_STMT:
        snprintf(s->tag, sizeof(s->tag), "%s", node->fetch_stmt->ismove ? "MOVE" : "FETCH");
        return;
    case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT:
        snprintf(s->tag, sizeof(s->tag), "%s",
                 node->create_function_stmt->is_procedure ? "CREATE PROCEDURE" : "CREATE FUNCTION");
        return;
    case PG_QUERY__NODE__NODE_CLOSE_PORTAL_STMT:
        s->kind = STORAGE_STMT_SESSION;
        snprintf(s->tag, sizeof(s->tag), "%s",
                 node->close_portal_stmt->portalname && node->close_portal_stmt->portalname[0]
                     ? "CLOSE CURSOR"
                     : "CLOSE CURSOR ALL");
        return;
    case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT: {
        PgQuery__VariableSetKind k = node->variable_set_stmt->kind;
        s->kind = STORAGE_STMT_SESSION;
        snprintf(s->tag, sizeof(s->tag), "%s",
                 k == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET ||
                         k == PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL
                     ? "RESET"
                     : "SET");
        return;
    }
    case PG_QUERY__NODE__NODE_DEALLOCATE_STMT:
        s->kind = STORAGE_STMT_SESSION;
        snprintf(s->tag, sizeof(s->tag), "%s",
                 node->deallocate_stmt->name && node->deallocate_stmt->name[0] ? "DEALLOCATE"
                                                                               : "DEALLOCATE ALL");
        return;
    case PG_QUERY__NODE__NODE_DISCARD_STMT:
        s->kind = STORAGE_STMT_SESSION;
        switch (node->discard_stmt->target) {
        case PG_QUERY__DISCARD_MODE__DISCARD_PLANS:
            snprintf(s->tag, sizeof(s->tag), "DISCARD PLANS");
            break;
        case PG_QUERY__DISCARD_MODE__DISCARD_SEQUENCES:
            snprintf(s->tag, sizeof(s->tag), "DISCARD SEQUENCES");
            break;
        case PG_QUERY__DISCARD_MODE__DISCARD_TEMP:
            snprintf(s->tag, sizeof(s->tag), "DISCARD TEMP");
            break;
        default:
            snprintf(s->tag, sizeof(s->tag), "DISCARD ALL");
            break;
        }
        return;
    default:
        break;
    }

    /* Not in the tables: the node's field name in the protobuf schema. */
    const ProtobufCFieldDescriptor *f =
        protobuf_c_message_descriptor_get_field(&pg_query__node__descriptor, node->node_case);
    if (f)
        storage_tag_from_name("", f->name, "", "_stmt", s->tag);
    else
        snprintf(s->tag, sizeof(s->tag), "UNKNOWN");
}

bool storage_stmt_kind_writes(storage_stmt_kind k)
{
    return k != STORAGE_STMT_SELECT && k != STORAGE_STMT_TRANSACTION && k != STORAGE_STMT_SESSION;
}

bool storage_stmt_writes(const storage_stmt *s)
{
    if (s->node && s->node->node_case == PG_QUERY__NODE__NODE_COPY_STMT)
        return s->node->copy_stmt->is_from;
    return storage_stmt_kind_writes(s->kind);
}

bool storage_parse_query(const char *sql, storage_parse *out, storage_parse_error *err)
{
    memset(out, 0, sizeof(*out));
    err->sqlstate = WIRE_SQLSTATE_INTERNAL_ERROR;
    err->message[0] = '\0';
    err->position = 0;

    PgQueryProtobufParseResult r = pg_query_parse_protobuf(sql);
    if (r.error) {
        err->sqlstate = WIRE_SQLSTATE_SYNTAX_ERROR;
        snprintf(err->message, sizeof(err->message), "%s",
                 r.error->message ? r.error->message : "syntax error");
        err->position = r.error->cursorpos;
        pg_query_free_protobuf_parse_result(r);
        return false;
    }
    out->tree =
        pg_query__parse_result__unpack(NULL, r.parse_tree.len, (const uint8_t *)r.parse_tree.data);
    pg_query_free_protobuf_parse_result(r);
    if (!out->tree) {
        snprintf(err->message, sizeof(err->message), "cannot decode the parse tree");
        return false;
    }

    size_t total = strlen(sql);
    out->n = out->tree->n_stmts;
    if (out->n) {
        out->stmts = calloc(out->n, sizeof(*out->stmts));
        if (!out->stmts) {
            err->sqlstate = WIRE_SQLSTATE_OUT_OF_MEMORY;
            snprintf(err->message, sizeof(err->message), "out of memory");
            storage_parse_free(out);
            return false;
        }
    }
    for (size_t i = 0; i < out->n; i++) {
        const PgQuery__RawStmt *raw = out->tree->stmts[i];
        storage_stmt *s = &out->stmts[i];
        size_t loc = raw->stmt_location > 0 ? (size_t)raw->stmt_location : 0;
        if (loc > total)
            loc = total;
        size_t len = raw->stmt_len > 0 ? (size_t)raw->stmt_len : total - loc;
        if (len > total - loc)
            len = total - loc;
        s->offset = loc;
        s->len = len;
        if (!raw->stmt) {
            snprintf(err->message, sizeof(err->message), "statement without a parse tree");
            storage_parse_free(out);
            return false;
        }
        storage_classify(raw->stmt, s);
    }
    return true;
}

/* ---- the parse cache ---- */

/* One cached message: its text, its parse, and the references to it (the
 * cache's own while it is listed, and one per storage_parse handed out). */
struct storage_parse_shared {
    storage_parse_shared *chain;           /* the hash bucket's list */
    storage_parse_shared *newer, *older;   /* the LRU list */
    uint64_t hash;
    char *sql;
    size_t len;
    PgQuery__ParseResult *tree;
    storage_stmt *stmts;
    size_t n;
    uint64_t fingerprint;
    atomic_int refs;
};

#define STORAGE_PARSE_CACHE_BUCKETS 1024 /* a power of two */

#define STORAGE_PARSE_SHAPES 1024 /* a power of two */

struct storage_parse_cache {
    pthread_mutex_t lock; /* everything below */
    storage_parse_shared *buckets[STORAGE_PARSE_CACHE_BUCKETS];
    storage_parse_shared *newest, *oldest;
    size_t count, max;
    uint64_t hits, misses;
    bool fingerprints; /* set before use */
    /* fingerprints by tree shape (storage_tree_shape), direct-mapped */
    struct {
        uint64_t shape, fingerprint;
    } shapes[STORAGE_PARSE_SHAPES];
};

/* The fingerprint of a parsed text: from the shape table when its shape was
 * seen, else libpg_query's (which parses the text again), remembered. */
static uint64_t storage_parse_fingerprint(storage_parse_cache *pc, const char *sql,
                                          const storage_parse *p)
{
    uint64_t shape = storage_tree_shape(p->tree);
    size_t slot = (size_t)shape & (STORAGE_PARSE_SHAPES - 1);
    pthread_mutex_lock(&pc->lock);
    uint64_t fp = shape && pc->shapes[slot].shape == shape ? pc->shapes[slot].fingerprint : 0;
    pthread_mutex_unlock(&pc->lock);
    if (fp)
        return fp;
    fp = storage_fingerprint(sql);
    if (shape && fp) {
        pthread_mutex_lock(&pc->lock);
        pc->shapes[slot].shape = shape;
        pc->shapes[slot].fingerprint = fp;
        pthread_mutex_unlock(&pc->lock);
    }
    return fp;
}

static void storage_parse_shared_release(storage_parse_shared *e)
{
    if (atomic_fetch_sub(&e->refs, 1) != 1)
        return;
    if (e->tree)
        pg_query__parse_result__free_unpacked(e->tree, NULL);
    free(e->stmts);
    free(e->sql);
    free(e);
}

void storage_parse_free(storage_parse *p)
{
    if (!p)
        return;
    if (p->shared) {
        storage_parse_shared_release(p->shared);
    } else {
        if (p->tree)
            pg_query__parse_result__free_unpacked(p->tree, NULL);
        free(p->stmts);
    }
    memset(p, 0, sizeof(*p));
}

storage_parse_cache *storage_parse_cache_new(size_t max_entries)
{
    storage_parse_cache *pc = calloc(1, sizeof(*pc));
    if (!pc)
        return NULL;
    pthread_mutex_init(&pc->lock, NULL);
    pc->max = max_entries ? max_entries : 1;
    return pc;
}

/* Unlinks e from the LRU list and its bucket (under the lock). */
static void storage_parse_cache_unlink(storage_parse_cache *pc, storage_parse_shared *e)
{
    if (e->newer)
        e->newer->older = e->older;
    else
        pc->newest = e->older;
    if (e->older)
        e->older->newer = e->newer;
    else
        pc->oldest = e->newer;
    e->newer = e->older = NULL;
    storage_parse_shared **pp = &pc->buckets[e->hash & (STORAGE_PARSE_CACHE_BUCKETS - 1)];
    while (*pp && *pp != e)
        pp = &(*pp)->chain;
    if (*pp)
        *pp = e->chain;
    e->chain = NULL;
    pc->count--;
}

static void storage_parse_cache_push(storage_parse_cache *pc, storage_parse_shared *e)
{
    e->older = pc->newest;
    e->newer = NULL;
    if (pc->newest)
        pc->newest->newer = e;
    pc->newest = e;
    if (!pc->oldest)
        pc->oldest = e;
}

void storage_parse_cache_free(storage_parse_cache *pc)
{
    if (!pc)
        return;
    while (pc->oldest) {
        storage_parse_shared *e = pc->oldest;
        storage_parse_cache_unlink(pc, e);
        storage_parse_shared_release(e);
    }
    pthread_mutex_destroy(&pc->lock);
    free(pc);
}

/* The entry for (hash, sql, len), moved to the front, with a reference
 * taken; NULL if absent.  Under the lock. */
static storage_parse_shared *storage_parse_cache_find(storage_parse_cache *pc, uint64_t hash,
                                                      const char *sql, size_t len)
{
    storage_parse_shared *e = pc->buckets[hash & (STORAGE_PARSE_CACHE_BUCKETS - 1)];
    while (e && !(e->hash == hash && e->len == len && memcmp(e->sql, sql, len) == 0))
        e = e->chain;
    if (!e)
        return NULL;
    if (pc->newest != e) {
        /* move to the front of the LRU list */
        e->newer->older = e->older;
        if (e->older)
            e->older->newer = e->newer;
        else
            pc->oldest = e->newer;
        storage_parse_cache_push(pc, e);
    }
    atomic_fetch_add(&e->refs, 1);
    return e;
}

static void storage_parse_from_shared(storage_parse *out, storage_parse_shared *e)
{
    out->tree = e->tree;
    out->stmts = e->stmts;
    out->n = e->n;
    out->fingerprint = e->fingerprint;
    out->shared = e;
}

bool storage_parse_cached(storage_parse_cache *pc, const char *sql, storage_parse *out,
                          storage_parse_error *err)
{
    size_t len = strlen(sql);
    if (!pc || len > STORAGE_PARSE_CACHE_MAX_TEXT) {
        if (!storage_parse_query(sql, out, err))
            return false;
        if (pc && pc->fingerprints)
            out->fingerprint = storage_parse_fingerprint(pc, sql, out);
        return true;
    }
    uint64_t hash = XXH3_64bits(sql, len);

    pthread_mutex_lock(&pc->lock);
    storage_parse_shared *e = storage_parse_cache_find(pc, hash, sql, len);
    if (e)
        pc->hits++;
    else
        pc->misses++;
    pthread_mutex_unlock(&pc->lock);
    if (e) {
        memset(out, 0, sizeof(*out));
        storage_parse_from_shared(out, e);
        return true;
    }

    /* parse outside the lock; errors are not cached */
    if (!storage_parse_query(sql, out, err))
        return false;
    if (pc->fingerprints)
        out->fingerprint = storage_parse_fingerprint(pc, sql, out);
    e = calloc(1, sizeof(*e));
    char *copy = e ? malloc(len + 1) : NULL;
    if (!copy) {
        free(e);
        return true; /* the uncached parse is as good */
    }
    memcpy(copy, sql, len + 1);
    *e = (storage_parse_shared){.hash = hash, .sql = copy, .len = len, .tree = out->tree,
                                .stmts = out->stmts, .n = out->n,
                                .fingerprint = out->fingerprint};
    atomic_init(&e->refs, 2); /* the cache's and the caller's */
    storage_parse_from_shared(out, e);

    pthread_mutex_lock(&pc->lock);
    storage_parse_shared *other = storage_parse_cache_find(pc, hash, sql, len);
    if (other) {
        /* another worker parsed the same text meanwhile: keep theirs listed */
        storage_parse_shared_release(other);
        atomic_fetch_sub(&e->refs, 1); /* never listed: only the caller's */
    } else {
        size_t b = hash & (STORAGE_PARSE_CACHE_BUCKETS - 1);
        e->chain = pc->buckets[b];
        pc->buckets[b] = e;
        storage_parse_cache_push(pc, e);
        pc->count++;
        while (pc->count > pc->max) {
            storage_parse_shared *old = pc->oldest;
            storage_parse_cache_unlink(pc, old);
            storage_parse_shared_release(old);
        }
    }
    pthread_mutex_unlock(&pc->lock);
    return true;
}

void storage_parse_cache_stats(storage_parse_cache *pc, uint64_t *hits, uint64_t *misses)
{
    pthread_mutex_lock(&pc->lock);
    *hits = pc->hits;
    *misses = pc->misses;
    pthread_mutex_unlock(&pc->lock);
}

void storage_parse_cache_set_fingerprints(storage_parse_cache *pc, bool on)
{
    pc->fingerprints = on;
}
