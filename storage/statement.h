/*
 * statement.h: a Query message split into statements and classified by
 * PostgreSQL's own parser (libpg_query).
 *
 * The parse tree stays alive with the result so that later stages (the SQL
 * translator, the catalog emulation) can work on each statement's node.
 */
#ifndef DORMOUSE_STATEMENT_H
#define DORMOUSE_STATEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pg_query/pg_query.pb-c.h>

/* How the engine runs a statement and forms its command tag. */
typedef enum storage_stmt_kind {
    STORAGE_STMT_UTILITY = 0,     /* runs on SQLite; fixed tag, e.g. "CREATE TABLE" */
    STORAGE_STMT_SELECT,          /* "SELECT n", n = rows returned */
    STORAGE_STMT_INSERT,          /* "INSERT 0 n", n = rows inserted */
    STORAGE_STMT_UPDATE,          /* "UPDATE n" */
    STORAGE_STMT_DELETE,          /* "DELETE n" */
    STORAGE_STMT_CREATE_TABLE_AS, /* "SELECT n", n = rows in the new table */
    STORAGE_STMT_TRANSACTION,     /* BEGIN, COMMIT, ...: run by the engine itself */
    STORAGE_STMT_SESSION,         /* SET, SHOW, RESET, DISCARD, DEALLOCATE, UNLISTEN, CLOSE:
                                     run by the engine itself (sqlite_session.c) */
} storage_stmt_kind;

const char *storage_stmt_kind_str(storage_stmt_kind k);

/* Does running a statement of this kind need the database's write lock?
 * Everything but reads, transaction control and session statements does. */
bool storage_stmt_kind_writes(storage_stmt_kind k);

/* The transaction control statements (TransactionStmt kinds). */
typedef enum storage_tx_op {
    STORAGE_TX_NONE = 0,
    STORAGE_TX_BEGIN,       /* BEGIN, START TRANSACTION */
    STORAGE_TX_COMMIT,      /* COMMIT, END */
    STORAGE_TX_ROLLBACK,    /* ROLLBACK, ABORT */
    STORAGE_TX_SAVEPOINT,   /* SAVEPOINT x */
    STORAGE_TX_RELEASE,     /* RELEASE [SAVEPOINT] x */
    STORAGE_TX_ROLLBACK_TO, /* ROLLBACK TO [SAVEPOINT] x */
    STORAGE_TX_PREPARED,    /* PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED */
} storage_tx_op;

const char *storage_tx_op_str(storage_tx_op op);

#define STORAGE_TAG_MAX 64

typedef struct storage_stmt {
    size_t offset; /* the statement's bytes in the message */
    size_t len;
    storage_stmt_kind kind;
    char tag[STORAGE_TAG_MAX]; /* the command tag, or its verb for counted kinds */
    storage_tx_op tx;
    bool tx_chain;             /* COMMIT/ROLLBACK AND CHAIN */
    const char *savepoint;     /* SAVEPOINT/RELEASE/ROLLBACK TO: the name, in the tree */
    const PgQuery__Node *node; /* the statement's parse tree */
} storage_stmt;

/* Does running this statement need the write lock?  As its kind says, except
 * that COPY ... TO only reads. */
bool storage_stmt_writes(const storage_stmt *s);

typedef struct storage_parse_shared storage_parse_shared;

typedef struct storage_parse {
    PgQuery__ParseResult *tree;
    storage_stmt *stmts;
    size_t n; /* 0: the message is empty (whitespace, comments, semicolons) */
    uint64_t fingerprint; /* storage_parse_cached with fingerprints on; else 0 */
    /* Non-NULL for a parse from a storage_parse_cache: tree and stmts belong
     * to that shared, immutable entry, which this struct holds a reference
     * to.  The struct may be copied to move the reference. */
    storage_parse_shared *shared;
} storage_parse;

/* The metering kind of a parsed message (fingerprint.c). */
#include "dormouse/storage.h"
storage_query_kind storage_parse_kind(const storage_parse *p);
/* The weightier of two: DDL, write, read, transaction, other. */
storage_query_kind storage_query_kind_max(storage_query_kind a, storage_query_kind b);

typedef struct storage_parse_error {
    const char *sqlstate; /* 42601 for what the parser rejects, XX000/53200 otherwise */
    char message[256];
    int position; /* 1-based character position, 0 = none */
} storage_parse_error;

/* Parses a whole NUL-terminated message.  On failure nothing is allocated and
 * err says why; PostgreSQL likewise runs nothing of a message it cannot
 * parse. */
bool storage_parse_query(const char *sql, storage_parse *out, storage_parse_error *err);
/* Frees a parse, or drops its reference to a cached one. */
void storage_parse_free(storage_parse *p);

/* A cache of parses keyed by an xxHash of the message text, shared by all
 * the engine's workers (thread-safe).  Parsing with libpg_query, whose
 * protobuf round trip is the largest per-query cost, is then done once per
 * distinct text: drivers and ORMs send the same texts over and over.  At
 * most `max_entries` parses are kept, least recently used first out; an
 * entry still referenced when it leaves the cache lives until its last
 * storage_parse_free.  Messages that fail to parse, and texts longer than
 * STORAGE_PARSE_CACHE_MAX_TEXT, are not cached. */
typedef struct storage_parse_cache storage_parse_cache;

#define STORAGE_PARSE_CACHE_MAX_TEXT 8192

/* A hash of a tree's shape: every node and field, but constants' values and
 * source locations (fingerprint.c).  Equal shapes have equal fingerprints. */
uint64_t storage_tree_shape(const PgQuery__ParseResult *tree);

storage_parse_cache *storage_parse_cache_new(size_t max_entries);
/* No parse from the cache may still be referenced.  NULL is a no-op. */
void storage_parse_cache_free(storage_parse_cache *pc);
/* storage_parse_query through the cache (pc may be NULL: no caching). */
bool storage_parse_cached(storage_parse_cache *pc, const char *sql, storage_parse *out,
                          storage_parse_error *err);
/* Before the cache is used: parses through it also carry the message's
 * fingerprint (storage_fingerprint's value, computed once per cached text,
 * and only once per tree shape: texts that differ in their constants alone
 * are not parsed a second time for it). */
void storage_parse_cache_set_fingerprints(storage_parse_cache *pc, bool on);
/* Lookups answered from the cache, and parses done for it (for tests and
 * statistics). */
void storage_parse_cache_stats(storage_parse_cache *pc, uint64_t *hits, uint64_t *misses);

#endif
