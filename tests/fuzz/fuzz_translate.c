/*
 * libFuzzer target: a Query message's text through what the SQLite engine
 * does with it before SQLite sees it: PostgreSQL's parser and Dormouse's
 * statement classification (statement.c), the metering kind and fingerprint
 * (fingerprint.c), and the PostgreSQL-to-SQLite translator (translate.c) on
 * every statement the engine would translate (all but transaction control
 * and session statements, which it runs itself).
 *
 * The input is the text, NUL-terminated here (an embedded NUL ends it, as in
 * a Query message).  A translation must be one SQLite statement: the engine
 * refuses a second one, and a second one would mean the translator let the
 * client's text out of a quoted identifier or literal.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "dormouse/storage.h"
#include "statement.h"
#include "translate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t sink;

/* No ';' that SQLite's tokenizer sees as the end of a statement may be
 * followed by anything but blanks. */
static void check_one_statement(const char *sql)
{
    for (const char *p = strchr(sql, ';'); p; p = strchr(p + 1, ';')) {
        char *prefix = strndup(sql, (size_t)(p - sql) + 1);
        if (!prefix)
            return;
        bool complete = sqlite3_complete(prefix);
        free(prefix);
        if (complete && p[1 + strspn(p + 1, " \t\n")] != '\0')
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *sql = malloc(size + 1);
    if (!sql)
        return 0;
    memcpy(sql, data, size);
    sql[size] = '\0';

    storage_parse p;
    storage_parse_error perr;
    if (storage_parse_query(sql, &p, &perr)) {
        size_t total = strlen(sql);
        sink += storage_query_kind_str(storage_parse_kind(&p))[0];
        for (size_t i = 0; i < p.n; i++) {
            const storage_stmt *s = &p.stmts[i];
            if (s->offset > total || s->len > total - s->offset || !s->node ||
                !storage_stmt_kind_str(s->kind) || !storage_tx_op_str(s->tx) ||
                memchr(s->tag, '\0', sizeof s->tag) == NULL)
                abort();
            sink += storage_stmt_writes(s);
            if (s->savepoint)
                sink += strlen(s->savepoint);
            if (s->kind == STORAGE_STMT_TRANSACTION || s->kind == STORAGE_STMT_SESSION)
                continue;
            char *out = NULL;
            bool catalog = false;
            storage_translate_error terr;
            memset(&terr, 0, sizeof terr);
            if (storage_translate_ex(s, &out, &catalog, &terr)) {
                if (!out)
                    abort();
                check_one_statement(out);
                free(out);
            } else {
                if (out || !terr.sqlstate || strlen(terr.sqlstate) != 5 ||
                    memchr(terr.message, '\0', sizeof terr.message) == NULL)
                    abort();
            }
        }
        storage_parse_free(&p);
    } else {
        if (!perr.sqlstate || perr.position < 0)
            abort();
    }
    /* What metering does with every query's text. */
    sink += (size_t)storage_fingerprint(sql);
    char *norm = storage_normalize(sql, 1024);
    free(norm);
    sink += storage_query_kind_str(storage_query_kind_scan(sql))[0];
    free(sql);
    return 0;
}
