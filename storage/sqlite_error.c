/*
 * sqlite_error.c: turns a SQLite failure into the ErrorResponse fields a
 * PostgreSQL client expects.
 *
 * One table, read top to bottom; the first rule that matches wins.  A rule
 * matches on the result code (an extended code, a primary code, or any) and
 * optionally on a fixed prefix and suffix of SQLite's message; the text between
 * them (a table, column or constraint name) is captured and either formatted
 * into a PostgreSQL message or handed to a builder for the cases where the
 * PostgreSQL wording needs more than one substitution (a builder may decline
 * text it does not recognise, and the next rule is tried).  SQLite's own
 * message is kept in `detail` wherever the PostgreSQL message loses
 * information.
 */
#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "dormouse/wire.h"
#include "sqlite_error.h"

/* Writes out->message from the captured text; returns false, leaving the
 * message to a later rule, when the text is not what the builder expects. */
typedef bool (*sqlite_error_build_fn)(const char *captured, sqlite_pg_error *out);

typedef struct sqlite_error_rule {
    int code;           /* 0: any; <= 0xff: primary code; else extended code */
    const char *prefix; /* NULL: any message */
    const char *suffix; /* NULL: any ending */
    const char *sqlstate;
    const char *format;          /* one %s for the captured text; NULL: SQLite's message */
    sqlite_error_build_fn build; /* instead of format */
    bool detail;                 /* keep SQLite's message as detail */
} sqlite_error_rule;

/* "t.a, t.b" -> relation "t" and column list "a_b" (PostgreSQL's naming of
 * implicit constraints). */
static void sqlite_error_split_columns(const char *list, char *rel, size_t rellen, char *cols,
                                       size_t colslen)
{
    rel[0] = '\0';
    cols[0] = '\0';
    size_t used = 0;
    const char *p = list;
    while (*p) {
        const char *end = strstr(p, ", ");
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *dot = memchr(p, '.', n);
        const char *col = p;
        size_t coln = n;
        if (dot) {
            if (!rel[0])
                snprintf(rel, rellen, "%.*s", (int)(dot - p), p);
            col = dot + 1;
            coln = n - (size_t)(dot + 1 - p);
        }
        int w = snprintf(cols + used, colslen - used, "%s%.*s", used ? "_" : "", (int)coln, col);
        if (w < 0 || (size_t)w >= colslen - used)
            break;
        used += (size_t)w;
        if (!end)
            break;
        p = end + 2;
    }
}

static bool sqlite_error_build_pkey(const char *captured, sqlite_pg_error *out)
{
    char rel[128], cols[256];
    sqlite_error_split_columns(captured, rel, sizeof(rel), cols, sizeof(cols));
    snprintf(out->message, sizeof(out->message),
             "duplicate key value violates unique constraint \"%s_pkey\"", rel);
    return true;
}

static bool sqlite_error_build_unique(const char *captured, sqlite_pg_error *out)
{
    if (strncmp(captured, "index '", 7) == 0) { /* an expression index: SQLite names it */
        size_t n = strlen(captured + 7);
        if (n > 0 && captured[7 + n - 1] == '\'')
            n--;
        snprintf(out->message, sizeof(out->message),
                 "duplicate key value violates unique constraint \"%.*s\"", (int)n, captured + 7);
        return true;
    }
    char rel[128], cols[256];
    sqlite_error_split_columns(captured, rel, sizeof(rel), cols, sizeof(cols));
    snprintf(out->message, sizeof(out->message),
             "duplicate key value violates unique constraint \"%s_%s_key\"", rel, cols);
    return true;
}

static bool sqlite_error_build_not_null(const char *captured, sqlite_pg_error *out)
{
    const char *dot = strchr(captured, '.');
    if (!dot) {
        snprintf(out->message, sizeof(out->message),
                 "null value in column \"%s\" violates not-null constraint", captured);
        return true;
    }
    snprintf(out->message, sizeof(out->message),
             "null value in column \"%s\" of relation \"%.*s\" violates not-null constraint",
             dot + 1, (int)(dot - captured), captured);
    return true;
}

/* PostgreSQL quotes a bare column name but not a qualified reference, which
 * it names by relation and column only: "main.t.x" -> "t.x". */
static bool sqlite_error_build_column(const char *captured, sqlite_pg_error *out)
{
    const char *dot = strchr(captured, '.');
    if (!dot) {
        snprintf(out->message, sizeof(out->message), "column \"%s\" does not exist", captured);
        return true;
    }
    if (strchr(dot + 1, '.'))
        captured = dot + 1;
    snprintf(out->message, sizeof(out->message), "column %s does not exist", captured);
    return true;
}

/* "table t has no column named x" (a column list of an INSERT) in PostgreSQL's
 * words, which name the relation without its schema. */
static bool sqlite_error_build_no_column_named(const char *captured, sqlite_pg_error *out)
{
    static const char infix[] = " has no column named ";
    const char *mid = strstr(captured, infix);
    if (!mid || mid == captured)
        return false; /* another "table ..." message */
    const char *table = captured;
    size_t table_len = (size_t)(mid - captured);
    if (table_len > 5 && (strncmp(table, "main.", 5) == 0 || strncmp(table, "temp.", 5) == 0)) {
        table += 5;
        table_len -= 5;
    }
    snprintf(out->message, sizeof(out->message),
             "column \"%s\" of relation \"%.*s\" does not exist", mid + strlen(infix),
             (int)table_len, table);
    return true;
}

/* "table t has N columns but M values were supplied": with an INSERT's
 * missing column list completed (sqlite_query_translate), only more values
 * than columns remain, which PostgreSQL words so. */
static bool sqlite_error_build_too_many_values(const char *captured, sqlite_pg_error *out)
{
    (void)captured;
    snprintf(out->message, sizeof(out->message),
             "INSERT has more expressions than target columns");
    return true;
}

static const sqlite_error_rule sqlite_error_rules[] = {
    /* constraints, by extended code */
    {SQLITE_CONSTRAINT_PRIMARYKEY, "UNIQUE constraint failed: ", NULL,
     WIRE_SQLSTATE_UNIQUE_VIOLATION, NULL, sqlite_error_build_pkey, true},
    {SQLITE_CONSTRAINT_PRIMARYKEY, NULL, NULL, WIRE_SQLSTATE_UNIQUE_VIOLATION,
     "duplicate key value violates unique constraint", NULL, true},
    {SQLITE_CONSTRAINT_UNIQUE, "UNIQUE constraint failed: ", NULL, WIRE_SQLSTATE_UNIQUE_VIOLATION,
     NULL, sqlite_error_build_unique, true},
    {SQLITE_CONSTRAINT_UNIQUE, NULL, NULL, WIRE_SQLSTATE_UNIQUE_VIOLATION,
     "duplicate key value violates unique constraint", NULL, true},
    {SQLITE_CONSTRAINT_NOTNULL, "NOT NULL constraint failed: ", NULL,
     WIRE_SQLSTATE_NOT_NULL_VIOLATION, NULL, sqlite_error_build_not_null, true},
    {SQLITE_CONSTRAINT_NOTNULL, NULL, NULL, WIRE_SQLSTATE_NOT_NULL_VIOLATION,
     "null value violates not-null constraint", NULL, true},
    {SQLITE_CONSTRAINT_FOREIGNKEY, NULL, NULL, WIRE_SQLSTATE_FOREIGN_KEY_VIOLATION,
     "insert, update or delete violates a foreign key constraint", NULL, true},
    /* the checks translate.c adds for what PostgreSQL's types refuse */
    {SQLITE_CONSTRAINT_CHECK, "CHECK constraint failed: dm_int_syntax_", NULL,
     WIRE_SQLSTATE_INVALID_TEXT_REPRESENTATION, "invalid input syntax for type %s", NULL, false},
    {SQLITE_CONSTRAINT_CHECK, "CHECK constraint failed: dm_int_range_", NULL,
     WIRE_SQLSTATE_NUMERIC_VALUE_OUT_OF_RANGE, "%s out of range", NULL, false},
    {SQLITE_CONSTRAINT_CHECK, "CHECK constraint failed: dm_varchar_", NULL, "22001",
     "value too long for type character varying(%s)", NULL, false},
    {SQLITE_CONSTRAINT_CHECK, "CHECK constraint failed: dm_bpchar_", NULL, "22001",
     "value too long for type character(%s)", NULL, false},
    {SQLITE_CONSTRAINT_CHECK, "CHECK constraint failed: ", NULL, WIRE_SQLSTATE_CHECK_VIOLATION,
     "new row violates check constraint \"%s\"", NULL, true},
    {SQLITE_CONSTRAINT_CHECK, NULL, NULL, WIRE_SQLSTATE_CHECK_VIOLATION,
     "new row violates a check constraint", NULL, true},
    {SQLITE_CONSTRAINT, NULL, NULL, WIRE_SQLSTATE_INTEGRITY_VIOLATION, NULL, NULL, false},

    /* the state of the database or the process, by primary code */
    {SQLITE_INTERRUPT, NULL, NULL, WIRE_SQLSTATE_QUERY_CANCELED,
     "canceling statement due to user request", NULL, false},
    {SQLITE_BUSY, NULL, NULL, WIRE_SQLSTATE_SERIALIZATION_FAILURE,
     "could not serialize access due to concurrent update", NULL, true},
    {SQLITE_LOCKED, NULL, NULL, WIRE_SQLSTATE_SERIALIZATION_FAILURE,
     "could not serialize access due to concurrent update", NULL, true},
    {SQLITE_FULL, NULL, NULL, WIRE_SQLSTATE_DISK_FULL, "could not extend database file: %s", NULL,
     false},
    {SQLITE_NOMEM, NULL, NULL, WIRE_SQLSTATE_OUT_OF_MEMORY, "out of memory", NULL, false},
    {SQLITE_IOERR, NULL, NULL, WIRE_SQLSTATE_IO_ERROR, "could not access database file: %s", NULL,
     false},
    {SQLITE_CORRUPT, NULL, NULL, WIRE_SQLSTATE_DATA_CORRUPTED, "database file is corrupted: %s",
     NULL, false},
    {SQLITE_NOTADB, NULL, NULL, WIRE_SQLSTATE_DATA_CORRUPTED, "database file is corrupted: %s",
     NULL, false},
    {SQLITE_TOOBIG, NULL, NULL, WIRE_SQLSTATE_PROGRAM_LIMIT_EXCEEDED, NULL, NULL, false},
    {SQLITE_READONLY, NULL, NULL, SQLITE_PG_SQLSTATE_READ_ONLY_TRANSACTION, NULL, NULL, false},
    {SQLITE_MISMATCH, NULL, NULL, WIRE_SQLSTATE_DATATYPE_MISMATCH, NULL, NULL, false},
    {SQLITE_AUTH, NULL, NULL, SQLITE_PG_SQLSTATE_INSUFFICIENT_PRIVILEGE, "permission denied: %s",
     NULL, false},

    /* failures of Dormouse's SQL functions (sqlite_functions.c): "[SQLSTATE] message" */
    {0, "[22P02] ", NULL, WIRE_SQLSTATE_INVALID_TEXT_REPRESENTATION, "%s", NULL, false},
    {0, "[22003] ", NULL, WIRE_SQLSTATE_NUMERIC_VALUE_OUT_OF_RANGE, "%s", NULL, false},
    {0, "[22007] ", NULL, "22007", "%s", NULL, false},
    {0, "[22008] ", NULL, "22008", "%s", NULL, false},
    {0, "[22023] ", NULL, "22023", "%s", NULL, false},
    {0, "[22001] ", NULL, "22001", "%s", NULL, false},
    {0, "[22019] ", NULL, "22019", "%s", NULL, false},
    {0, "[22025] ", NULL, "22025", "%s", NULL, false},
    {0, "[22012] ", NULL, "22012", "%s", NULL, false},
    {0, "[42704] ", NULL, "42704", "%s", NULL, false},
    {0, "[25001] ", NULL, "25001", "%s", NULL, false},
    {0, "[26000] ", NULL, "26000", "%s", NULL, false},
    {0, "[22004] ", NULL, "22004", "%s", NULL, false},
    {0, "[2201B] ", NULL, "2201B", "%s", NULL, false},

    /* SQLITE_ERROR and friends, by message */
    {0, "no such table: ", NULL, WIRE_SQLSTATE_UNDEFINED_TABLE, "relation \"%s\" does not exist",
     NULL, false},
    {0, "no such view: ", NULL, WIRE_SQLSTATE_UNDEFINED_TABLE, "view \"%s\" does not exist", NULL,
     false},
    {0, "no such index: ", NULL, SQLITE_PG_SQLSTATE_UNDEFINED_OBJECT, "index \"%s\" does not exist",
     NULL, false},
    /* newer SQLite hints at a double-quoted identifier that resolves to nothing */
    {0, "no such column: \"", "\" - should this be a string literal in single-quotes?",
     WIRE_SQLSTATE_UNDEFINED_COLUMN, "column \"%s\" does not exist", NULL, false},
    {0, "no such column: ", NULL, WIRE_SQLSTATE_UNDEFINED_COLUMN, NULL, sqlite_error_build_column,
     false},
    {0, "table ", " values were supplied", WIRE_SQLSTATE_SYNTAX_ERROR, NULL,
     sqlite_error_build_too_many_values, false},
    {0, "table ", NULL, WIRE_SQLSTATE_UNDEFINED_COLUMN, NULL, sqlite_error_build_no_column_named,
     false},
    {0, "no such function: ", NULL, WIRE_SQLSTATE_UNDEFINED_FUNCTION, "function %s does not exist",
     NULL, false},
    /* the connection's authorizer (sqlite_conn.c) */
    {0, "not authorized to use function: ", NULL, SQLITE_PG_SQLSTATE_INSUFFICIENT_PRIVILEGE,
     "permission denied for function %s", NULL, false},
    {0, "wrong number of arguments to function ", NULL, WIRE_SQLSTATE_UNDEFINED_FUNCTION,
     "function %s does not exist", NULL, true},
    {0, "no such savepoint: ", NULL, SQLITE_PG_SQLSTATE_INVALID_SAVEPOINT,
     "savepoint \"%s\" does not exist", NULL, false},
    /* the translator quotes every name, and SQLite repeats the token as written */
    {0, "table \"", "\" already exists", WIRE_SQLSTATE_DUPLICATE_TABLE,
     "relation \"%s\" already exists", NULL, false},
    {0, "index \"", "\" already exists", WIRE_SQLSTATE_DUPLICATE_TABLE,
     "relation \"%s\" already exists", NULL, false},
    {0, "view \"", "\" already exists", WIRE_SQLSTATE_DUPLICATE_TABLE,
     "relation \"%s\" already exists", NULL, false},
    {0, "table ", " already exists", WIRE_SQLSTATE_DUPLICATE_TABLE,
     "relation \"%s\" already exists", NULL, false},
    {0, "index ", " already exists", WIRE_SQLSTATE_DUPLICATE_TABLE,
     "relation \"%s\" already exists", NULL, false},
    {0, "view ", " already exists", WIRE_SQLSTATE_DUPLICATE_TABLE, "relation \"%s\" already exists",
     NULL, false},
    {0, "there is already another table or index with this name: ", NULL,
     WIRE_SQLSTATE_DUPLICATE_TABLE, "relation \"%s\" already exists", NULL, false},
    {0, "ambiguous column name: ", NULL, SQLITE_PG_SQLSTATE_AMBIGUOUS_COLUMN,
     "column reference \"%s\" is ambiguous", NULL, false},
    {0, "near \"", "\": syntax error", WIRE_SQLSTATE_SYNTAX_ERROR, "syntax error at or near \"%s\"",
     NULL, false},
    {0, "incomplete input", NULL, WIRE_SQLSTATE_SYNTAX_ERROR, "syntax error at end of input", NULL,
     false},
    {0, "unrecognized token: ", NULL, WIRE_SQLSTATE_SYNTAX_ERROR, "syntax error at or near %s",
     NULL, false},
    {0, "table ", " values were supplied", WIRE_SQLSTATE_SYNTAX_ERROR, NULL, NULL, false},
    {0, "integer overflow", NULL, SQLITE_PG_SQLSTATE_NUMERIC_OUT_OF_RANGE, "bigint out of range",
     NULL, false},
    {0, "misuse of aggregate", NULL, SQLITE_PG_SQLSTATE_GROUPING_ERROR, NULL, NULL, false},
    {0, "cannot VACUUM from within a transaction", NULL, WIRE_SQLSTATE_ACTIVE_SQL_TRANSACTION,
     "VACUUM cannot run inside a transaction block", NULL, false},
    {0, "cannot start a transaction within a transaction", NULL,
     WIRE_SQLSTATE_ACTIVE_SQL_TRANSACTION, "there is already a transaction in progress", NULL,
     false},
    {0, "cannot commit - no transaction is active", NULL, WIRE_SQLSTATE_NO_ACTIVE_SQL_TRANSACTION,
     "there is no transaction in progress", NULL, false},
    {0, "cannot rollback - no transaction is active", NULL, WIRE_SQLSTATE_NO_ACTIVE_SQL_TRANSACTION,
     "there is no transaction in progress", NULL, false},

    /* everything else */
    {0, NULL, NULL, WIRE_SQLSTATE_INTERNAL_ERROR, NULL, NULL, false},
};

static bool sqlite_error_code_matches(int rule_code, int rc)
{
    if (rule_code == 0)
        return true;
    if (rule_code <= 0xff)
        return (rc & 0xff) == rule_code;
    return rc == rule_code;
}

/* On a match, copies the text between prefix and suffix into captured. */
static bool sqlite_error_msg_matches(const sqlite_error_rule *r, const char *msg, char *captured,
                                     size_t caplen)
{
    size_t n = strlen(msg);
    size_t pre = r->prefix ? strlen(r->prefix) : 0;
    size_t suf = r->suffix ? strlen(r->suffix) : 0;
    if (pre + suf > n)
        return false;
    if (pre && strncmp(msg, r->prefix, pre) != 0)
        return false;
    if (suf && strcmp(msg + n - suf, r->suffix) != 0)
        return false;
    snprintf(captured, caplen, "%.*s", (int)(n - pre - suf), msg + pre);
    return true;
}

void sqlite_error_map(int rc, const char *msg, sqlite_pg_error *out)
{
    char captured[256];
    if (!msg)
        msg = sqlite3_errstr(rc);

    out->message[0] = '\0';
    out->detail[0] = '\0';
    for (size_t i = 0; i < sizeof(sqlite_error_rules) / sizeof(sqlite_error_rules[0]); i++) {
        const sqlite_error_rule *r = &sqlite_error_rules[i];
        if (!sqlite_error_code_matches(r->code, rc) ||
            !sqlite_error_msg_matches(r, msg, captured, sizeof(captured)))
            continue;
        if (r->build) {
            if (!r->build(captured, out))
                continue;
        } else if (r->format) {
            snprintf(out->message, sizeof(out->message), r->format, captured);
        } else {
            snprintf(out->message, sizeof(out->message), "%s", msg);
        }
        out->sqlstate = r->sqlstate;
        if (r->detail)
            snprintf(out->detail, sizeof(out->detail), "%s", msg);
        /* Dormouse's functions give a DETAIL after the message's first line */
        char *nl = r->prefix && r->prefix[0] == '[' ? strchr(out->message, '\n') : NULL;
        if (nl) {
            *nl = '\0';
            snprintf(out->detail, sizeof(out->detail), "%s", nl + 1);
        }
        return;
    }
    /* unreachable: the last rule matches everything */
    out->sqlstate = WIRE_SQLSTATE_INTERNAL_ERROR;
    snprintf(out->message, sizeof(out->message), "%s", msg);
}
