/*
 * dm_e2e_client: the libpq side of the end-to-end tests.
 *
 * The shell scripts in tests/e2e/ drive psql for what psql does well (output
 * that must match PostgreSQL byte for byte) and this program for what psql
 * cannot do: exact SQLSTATEs of connection failures, several sessions
 * interleaved in a known order, many concurrent clients, and the ordering of
 * events across connections.  It asserts orderings and outcomes, never
 * durations: timings are printed for the reader only.
 *
 * Subcommands (CONNINFO is a libpq connection string):
 *   connect  CONNINFO [SQL]        "OK" or "ERROR <sqlstate> <message>" (exit 0/1)
 *   sqlstate CONNINFO SQL          SQLSTATE of the first error, or "OK"
 *   error    CONNINFO SQL          every field of the first error, key=value
 *   script   CONNINFO              interleaved sessions read from stdin (see run_script)
 *   concurrent CONNINFO N [ROWS [MODE]]
 *                                  N threads each run a full workload; exit 0 iff all
 *                                  pass.  MODE "blocks" (default) writes inside BEGIN
 *                                  blocks too; "autocommit" only outside them
 *   latency  SLOW_CONNINFO SLOW_SQL FAST_CONNINFO NFAST
 *                                  does "select 1" answer while a slow query runs?
 *   maxconn  CONNINFO N            fills max_client_conn = N, then tries one more
 *   query    CONNINFO SQL          prints "sent", then the results (for signal tests)
 *   bigresult CONNINFO NROWS       streams NROWS generated rows and checks every one
 *   prepared CONNINFO              PQprepare/PQexecPrepared with text and binary
 *                                  parameters and results, PQdescribePrepared
 *   params   CONNINFO SQL [P...]   PQexecParams with text parameters ("\N" = NULL)
 *   pipeline CONNINFO              pipeline mode with an error in the middle
 *   singlerow CONNINFO NROWS       single-row mode over a generated result
 *
 * Exit status: 0 when the subcommand ran and (where it judges) passed, 1 when
 * it judged a failure, 2 on usage errors, lost connections or timeouts.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif

#include <errno.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Every wait for the server is bounded so that a hung server fails a test
 * instead of stalling it until CTest's timeout. */
#define CLIENT_DEFAULT_TIMEOUT_MS 60000

static int client_timeout_ms(void)
{
    const char *s = getenv("DM_E2E_TIMEOUT_MS");
    int v = s ? atoi(s) : 0;
    return v > 0 ? v : CLIENT_DEFAULT_TIMEOUT_MS;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

/* Copies a message onto one line: libpq's messages end in newlines and
 * verbose ones span several lines. */
static void one_line(const char *in, char *out, size_t outlen)
{
    size_t j = 0;
    bool space = false;
    for (size_t i = 0; in && in[i] && j + 1 < outlen; i++) {
        char ch = in[i];
        if (ch == '\n' || ch == '\r' || ch == '\t') {
            space = true;
            continue;
        }
        if (space && j > 0 && j + 2 < outlen)
            out[j++] = ' ';
        space = false;
        out[j++] = ch;
    }
    out[j] = '\0';
}

/* Finds "<SEVERITY>:  XXXXX: " in a verbose libpq message and copies XXXXX.
 * Connection failures have no PGresult, so this is the only way to learn the
 * SQLSTATE the server sent before it closed the connection. */
static bool sqlstate_from_message(const char *msg, char out[6])
{
    static const char *const severities[] = {"FATAL:  ", "ERROR:  ", "PANIC:  "};
    for (size_t k = 0; k < sizeof severities / sizeof severities[0]; k++) {
        const char *p = msg;
        while ((p = strstr(p, severities[k])) != NULL) {
            p += strlen(severities[k]);
            bool ok = strlen(p) >= 7 && p[5] == ':' && p[6] == ' ';
            for (int i = 0; ok && i < 5; i++)
                ok = (p[i] >= '0' && p[i] <= '9') || (p[i] >= 'A' && p[i] <= 'Z');
            if (ok) {
                memcpy(out, p, 5);
                out[5] = '\0';
                return true;
            }
        }
    }
    strcpy(out, "-----");
    return false;
}

/* Notices and warnings are not what the tests compare; keep them off stderr. */
static void ignore_notice(void *arg, const PGresult *res)
{
    (void)arg;
    (void)res;
}

/* Connects with verbose error messages so that a refusal carries its SQLSTATE.
 * Returns the connection whatever its status; the caller checks PQstatus. */
static PGconn *client_connect(const char *conninfo)
{
    PGconn *c = PQconnectStart(conninfo);
    if (c == NULL)
        return NULL;
    PQsetErrorVerbosity(c, PQERRORS_VERBOSE);
    PQsetNoticeReceiver(c, ignore_notice, NULL);
    if (PQstatus(c) == CONNECTION_BAD)
        return c;
    int64_t deadline = now_ms() + client_timeout_ms();
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
        struct pollfd p = {PQsocket(c), st == PGRES_POLLING_READING ? POLLIN : POLLOUT, 0};
        int left = (int)(deadline - now_ms());
        if (left <= 0 || poll(&p, 1, left) == 0) {
            fprintf(stderr, "connect: timed out\n");
            PQfinish(c);
            return NULL;
        }
        st = PQconnectPoll(c);
    }
    return c;
}

/* Waits (bounded) until a result can be read without blocking.
 * Returns 0 when ready, -1 on timeout, -2 when the connection broke. */
static int wait_result(PGconn *c, int64_t deadline)
{
    while (PQisBusy(c)) {
        struct pollfd p = {PQsocket(c), POLLIN, 0};
        int left = (int)(deadline - now_ms());
        if (left <= 0)
            return -1;
        int r = poll(&p, 1, left);
        if (r == 0)
            return -1;
        if (r < 0 && errno != EINTR)
            return -2;
        if (!PQconsumeInput(c))
            return -2;
    }
    return 0;
}

/* Collects every result of one Query message.  results[] receives up to max
 * of them (the caller PQclear()s them); *n the count.  Returns 0 when the
 * exchange completed, -1 on timeout, -2 on a broken connection. */
static int exec_all(PGconn *c, const char *sql, PGresult **results, int max, int *n)
{
    *n = 0;
    if (!PQsendQuery(c, sql))
        return -2;
    int64_t deadline = now_ms() + client_timeout_ms();
    for (;;) {
        int w = wait_result(c, deadline);
        if (w != 0)
            return w;
        PGresult *r = PQgetResult(c);
        if (r == NULL)
            return 0;
        if (*n < max)
            results[(*n)++] = r;
        else
            PQclear(r);
    }
}

static void clear_all(PGresult **results, int n)
{
    for (int i = 0; i < n; i++)
        PQclear(results[i]);
}

static const char *result_sqlstate(const PGresult *r)
{
    const char *s = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    return s ? s : "-----";
}

static bool result_is_error(const PGresult *r)
{
    ExecStatusType st = PQresultStatus(r);
    return st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE || st == PGRES_NONFATAL_ERROR;
}

static char txn_char(PGconn *c)
{
    switch (PQtransactionStatus(c)) {
    case PQTRANS_IDLE:
        return 'I';
    case PQTRANS_INTRANS:
        return 'T';
    case PQTRANS_INERROR:
        return 'E';
    case PQTRANS_ACTIVE:
        return 'A';
    default:
        return '?';
    }
}

#define MAX_RESULTS 64

/* ---- connect ---- */

static int cmd_connect(const char *conninfo, const char *sql)
{
    PGconn *c = client_connect(conninfo);
    if (c == NULL) {
        printf("ERROR ----- no connection (timeout or out of memory)\n");
        return 1;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        char state[6], msg[1024];
        sqlstate_from_message(PQerrorMessage(c), state);
        one_line(PQerrorMessage(c), msg, sizeof msg);
        printf("ERROR %s %s\n", state, msg);
        PQfinish(c);
        return 1;
    }
    int rc = 0;
    if (sql != NULL) {
        PGresult *res[MAX_RESULTS];
        int n;
        int e = exec_all(c, sql, res, MAX_RESULTS, &n);
        if (e != 0) {
            printf("ERROR ----- %s\n", e == -1 ? "query timed out" : "connection lost");
            rc = 1;
        }
        for (int i = 0; e == 0 && i < n; i++) {
            if (result_is_error(res[i])) {
                char msg[1024];
                one_line(PQresultErrorMessage(res[i]), msg, sizeof msg);
                printf("ERROR %s %s\n", result_sqlstate(res[i]), msg);
                rc = 1;
                break;
            }
        }
        clear_all(res, n);
    }
    if (rc == 0)
        printf("OK\n");
    PQfinish(c);
    return rc;
}

/* ---- sqlstate / error ---- */

/* Runs sql on a fresh connection; *first_error gets the first error result
 * (or NULL).  Returns 0, or 2 after printing why the run itself failed. */
static int run_for_error(const char *conninfo, const char *sql, PGresult **first_error)
{
    *first_error = NULL;
    PGconn *c = client_connect(conninfo);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "connection failed: %s", c ? PQerrorMessage(c) : "timeout\n");
        PQfinish(c);
        return 2;
    }
    PGresult *res[MAX_RESULTS];
    int n;
    int e = exec_all(c, sql, res, MAX_RESULTS, &n);
    if (e != 0) {
        fprintf(stderr, "%s: %s", e == -1 ? "timed out" : "connection lost", PQerrorMessage(c));
        clear_all(res, n);
        PQfinish(c);
        return 2;
    }
    for (int i = 0; i < n; i++) {
        if (*first_error == NULL && result_is_error(res[i]))
            *first_error = res[i];
        else
            PQclear(res[i]);
    }
    PQfinish(c);
    return 0;
}

static int cmd_sqlstate(const char *conninfo, const char *sql)
{
    PGresult *err;
    int rc = run_for_error(conninfo, sql, &err);
    if (rc != 0)
        return rc;
    printf("%s\n", err ? result_sqlstate(err) : "OK");
    PQclear(err);
    return 0;
}

static int cmd_error(const char *conninfo, const char *sql)
{
    PGresult *err;
    int rc = run_for_error(conninfo, sql, &err);
    if (rc != 0)
        return rc;
    if (err == NULL) {
        printf("OK\n");
        return 0;
    }
    static const struct {
        int code;
        const char *name;
    } fields[] = {
        {PG_DIAG_SEVERITY_NONLOCALIZED, "severity"},
        {PG_DIAG_SQLSTATE, "sqlstate"},
        {PG_DIAG_MESSAGE_PRIMARY, "message"},
        {PG_DIAG_MESSAGE_DETAIL, "detail"},
        {PG_DIAG_MESSAGE_HINT, "hint"},
        {PG_DIAG_STATEMENT_POSITION, "position"},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        const char *v = PQresultErrorField(err, fields[i].code);
        if (v != NULL) {
            char line[2048];
            one_line(v, line, sizeof line);
            printf("%s=%s\n", fields[i].name, line);
        }
    }
    PQclear(err);
    return 0;
}

/* ---- script ---- */

/*
 * Interleaved sessions, one statement line at a time, from stdin:
 *
 *   A begin                       run "begin" on session A (opened on first use)
 *   B select count(*) from t      run on session B
 *   A =dbname=other               (re)open A with CONNINFO plus these settings
 *   A close                       PQfinish A (sends Terminate)
 *   # comment, blank lines        ignored
 *
 * For every statement line one output line: "A: r1 / r2 / ... [S]" where each
 * result is a command tag, "TAG{v,v;v,v}" for rows (NULL shown as NULL),
 * "EMPTY" for an empty query or "ERROR:<sqlstate>", and S is the transaction
 * status afterwards (I idle, T in a block, E in a failed block).
 */
#define SCRIPT_MAX_SESSIONS 16

typedef struct script_session {
    char name[32];
    PGconn *conn;
} script_session;

static void render_result(const PGresult *r, FILE *out)
{
    switch (PQresultStatus(r)) {
    case PGRES_TUPLES_OK:
        fputs(PQcmdStatus((PGresult *)r), out);
        fputc('{', out);
        for (int i = 0; i < PQntuples(r); i++) {
            if (i > 0)
                fputc(';', out);
            for (int j = 0; j < PQnfields(r); j++) {
                if (j > 0)
                    fputc(',', out);
                fputs(PQgetisnull(r, i, j) ? "NULL" : PQgetvalue(r, i, j), out);
            }
        }
        fputc('}', out);
        break;
    case PGRES_COMMAND_OK:
        fputs(PQcmdStatus((PGresult *)r), out);
        break;
    case PGRES_EMPTY_QUERY:
        fputs("EMPTY", out);
        break;
    default:
        fprintf(out, "ERROR:%s", result_sqlstate(r));
        break;
    }
}

static script_session *script_find(script_session *s, int *n, const char *name)
{
    for (int i = 0; i < *n; i++)
        if (strcmp(s[i].name, name) == 0)
            return &s[i];
    size_t len = strlen(name);
    if (*n == SCRIPT_MAX_SESSIONS || len >= sizeof s->name)
        return NULL;
    script_session *ns = &s[(*n)++];
    memcpy(ns->name, name, len + 1);
    ns->conn = NULL;
    return ns;
}

static bool script_open(script_session *s, const char *conninfo, const char *extra)
{
    char full[2048];
    snprintf(full, sizeof full, "%s %s", conninfo, extra ? extra : "");
    PQfinish(s->conn);
    s->conn = client_connect(full);
    if (s->conn == NULL || PQstatus(s->conn) != CONNECTION_OK) {
        char msg[1024];
        one_line(s->conn ? PQerrorMessage(s->conn) : "timeout", msg, sizeof msg);
        printf("%s: CONNECT FAILED %s\n", s->name, msg);
        return false;
    }
    return true;
}

static int cmd_script(const char *conninfo)
{
    script_session sessions[SCRIPT_MAX_SESSIONS];
    int nsessions = 0, rc = 0;
    char line[65536];
    while (rc == 0 && fgets(line, sizeof line, stdin) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        char *p = line;
        while (*p == ' ')
            p++;
        if (*p == '\0' || *p == '#')
            continue;
        char *sp = strchr(p, ' ');
        if (sp == NULL) {
            fprintf(stderr, "script: no statement in line: %s\n", p);
            rc = 2;
            break;
        }
        *sp = '\0';
        const char *stmt = sp + 1;
        script_session *s = script_find(sessions, &nsessions, p);
        if (s == NULL) {
            fprintf(stderr, "script: too many sessions or a session name too long\n");
            rc = 2;
            break;
        }
        if (stmt[0] == '=') {
            if (!script_open(s, conninfo, stmt + 1))
                rc = 2;
            continue;
        }
        if (strcmp(stmt, "close") == 0) {
            PQfinish(s->conn);
            s->conn = NULL;
            printf("%s: closed\n", s->name);
            continue;
        }
        if (s->conn == NULL && !script_open(s, conninfo, NULL)) {
            rc = 2;
            break;
        }
        PGresult *res[MAX_RESULTS];
        int n;
        int e = exec_all(s->conn, stmt, res, MAX_RESULTS, &n);
        printf("%s: ", s->name);
        for (int i = 0; i < n; i++) {
            if (i > 0)
                fputs(" / ", stdout);
            render_result(res[i], stdout);
        }
        clear_all(res, n);
        if (e != 0) {
            char msg[1024];
            one_line(PQerrorMessage(s->conn), msg, sizeof msg);
            printf("%s%s %s\n", n ? " / " : "", e == -1 ? "TIMEOUT" : "CONNECTION LOST", msg);
            rc = 2;
            break;
        }
        printf(" [%c]\n", txn_char(s->conn));
        fflush(stdout);
    }
    for (int i = 0; i < nsessions; i++)
        PQfinish(sessions[i].conn);
    return rc;
}

/* ---- concurrent ---- */

typedef struct conc_worker {
    pthread_t thread;
    int id;
    int rows;
    bool blocks; /* write inside transaction blocks, or autocommit writes only */
    const char *table_prefix;
    const char *conninfo;
    pthread_barrier_t *start;
    bool ok;
    char error[512];
} conc_worker;

static bool conc_fail(conc_worker *w, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->error, sizeof w->error, fmt, ap);
    va_end(ap);
    w->ok = false;
    return false;
}

/* Runs one statement expecting `want_status`, or the error `want_sqlstate`
 * when it is not NULL.  On success *out (if given) receives the result. */
static bool conc_exec(conc_worker *w, PGconn *c, const char *sql, ExecStatusType want_status,
                      const char *want_sqlstate, PGresult **out)
{
    PGresult *res[MAX_RESULTS];
    int n;
    int e = exec_all(c, sql, res, MAX_RESULTS, &n);
    if (e != 0) {
        clear_all(res, n);
        return conc_fail(w, "%.60s: %s", sql, e == -1 ? "timed out" : "connection lost");
    }
    if (n != 1) {
        clear_all(res, n);
        return conc_fail(w, "%.60s: %d results, expected 1", sql, n);
    }
    bool ok;
    if (want_sqlstate != NULL)
        ok = result_is_error(res[0]) && strcmp(result_sqlstate(res[0]), want_sqlstate) == 0;
    else
        ok = PQresultStatus(res[0]) == want_status;
    if (!ok) {
        char msg[256];
        one_line(PQresultErrorMessage(res[0]), msg, sizeof msg);
        conc_fail(w, "%.60s: got %s %s (%s), expected %s", sql, PQresStatus(PQresultStatus(res[0])),
                  result_sqlstate(res[0]), msg, want_sqlstate ? want_sqlstate : PQresStatus(want_status));
        PQclear(res[0]);
        return false;
    }
    if (out)
        *out = res[0];
    else
        PQclear(res[0]);
    return true;
}

static bool conc_workload(conc_worker *w, PGconn *c)
{
    char sql[256];
    int id = w->id, rows = w->rows;
    const char *tp = w->table_prefix;
    PGresult *r = NULL;

    snprintf(sql, sizeof sql, "create table %s%d(id integer primary key, v text not null)", tp, id);
    if (!conc_exec(w, c, sql, PGRES_COMMAND_OK, NULL, NULL))
        return false;

    /* Half the rows in one multi-row INSERT, the rest one by one in a block. */
    size_t cap = (size_t)rows * 48 + 128, len = 0;
    char *big = malloc(cap);
    if (big == NULL)
        return conc_fail(w, "out of memory");
    len += (size_t)snprintf(big + len, cap - len, "insert into %s%d values ", tp, id);
    for (int i = 1; i <= rows / 2; i++)
        len += (size_t)snprintf(big + len, cap - len, "%s(%d, 'client %d row %d')", i > 1 ? "," : "", i, id, i);
    bool ok = rows / 2 == 0 || conc_exec(w, c, big, PGRES_COMMAND_OK, NULL, &r);
    free(big);
    if (!ok)
        return false;
    if (r != NULL) {
        char want[32];
        snprintf(want, sizeof want, "INSERT 0 %d", rows / 2);
        bool tag_ok = strcmp(PQcmdStatus(r), want) == 0;
        if (!tag_ok)
            conc_fail(w, "multi-row insert: tag \"%s\", expected \"%s\"", PQcmdStatus(r), want);
        PQclear(r);
        if (!tag_ok)
            return false;
    }
    if (w->blocks && !conc_exec(w, c, "begin", PGRES_COMMAND_OK, NULL, NULL))
        return false;
    for (int i = rows / 2 + 1; i <= rows; i++) {
        snprintf(sql, sizeof sql, "insert into %s%d values (%d, 'client %d row %d')", tp, id, i, id, i);
        if (!conc_exec(w, c, sql, PGRES_COMMAND_OK, NULL, NULL))
            return false;
    }
    if (w->blocks && !conc_exec(w, c, "commit", PGRES_COMMAND_OK, NULL, NULL))
        return false;

    /* Read everything back. */
    snprintf(sql, sizeof sql, "select id, v from %s%d order by id", tp, id);
    if (!conc_exec(w, c, sql, PGRES_TUPLES_OK, NULL, &r))
        return false;
    if (PQntuples(r) != rows || PQnfields(r) != 2) {
        conc_fail(w, "select: %d rows x %d columns, expected %d x 2", PQntuples(r), PQnfields(r), rows);
        PQclear(r);
        return false;
    }
    for (int i = 0; i < rows; i++) {
        char want_v[64];
        snprintf(want_v, sizeof want_v, "client %d row %d", id, i + 1);
        if (atoi(PQgetvalue(r, i, 0)) != i + 1 || strcmp(PQgetvalue(r, i, 1), want_v) != 0) {
            conc_fail(w, "row %d is (%s, %s), expected (%d, %s)", i, PQgetvalue(r, i, 0),
                      PQgetvalue(r, i, 1), i + 1, want_v);
            PQclear(r);
            return false;
        }
    }
    PQclear(r);

    /* A block with a deliberate error: later statements fail with 25P02
     * until ROLLBACK, and nothing of the block survives.  Without blocks of
     * writes the block only reads before it fails. */
    if (!conc_exec(w, c, "begin", PGRES_COMMAND_OK, NULL, NULL))
        return false;
    if (w->blocks) {
        snprintf(sql, sizeof sql, "insert into %s%d values (%d, 'rolled back')", tp, id, rows + 1000);
        if (!conc_exec(w, c, sql, PGRES_COMMAND_OK, NULL, NULL))
            return false;
        snprintf(sql, sizeof sql, "insert into %s%d values (1, 'duplicate')", tp, id);
        if (!conc_exec(w, c, sql, PGRES_FATAL_ERROR, "23505", NULL))
            return false;
    } else {
        snprintf(sql, sizeof sql, "select count(*) from %s%d", tp, id);
        if (!conc_exec(w, c, sql, PGRES_TUPLES_OK, NULL, NULL))
            return false;
        snprintf(sql, sizeof sql, "select * from no_such_table_%d", id);
        if (!conc_exec(w, c, sql, PGRES_FATAL_ERROR, "42P01", NULL))
            return false;
    }
    if (!conc_exec(w, c, "select 1", PGRES_FATAL_ERROR, "25P02", NULL))
        return false;
    if (!conc_exec(w, c, "rollback", PGRES_COMMAND_OK, NULL, &r))
        return false;
    bool rb = strcmp(PQcmdStatus(r), "ROLLBACK") == 0;
    if (!rb)
        conc_fail(w, "rollback: tag \"%s\"", PQcmdStatus(r));
    PQclear(r);
    if (!rb)
        return false;
    snprintf(sql, sizeof sql, "select count(*) from %s%d", tp, id);
    if (!conc_exec(w, c, sql, PGRES_TUPLES_OK, NULL, &r))
        return false;
    bool count_ok = PQntuples(r) == 1 && atoi(PQgetvalue(r, 0, 0)) == rows;
    if (!count_ok)
        conc_fail(w, "count after rollback: %s, expected %d", PQntuples(r) ? PQgetvalue(r, 0, 0) : "none",
                  rows);
    PQclear(r);
    return count_ok;
}

static void *conc_main(void *arg)
{
    conc_worker *w = arg;
    w->ok = true;
    pthread_barrier_wait(w->start);
    PGconn *c = client_connect(w->conninfo);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        char msg[400];
        one_line(c ? PQerrorMessage(c) : "timeout", msg, sizeof msg);
        conc_fail(w, "connect: %s", msg);
    } else {
        conc_workload(w, c);
    }
    PQfinish(c); /* sends Terminate */
    return NULL;
}

static int cmd_concurrent(const char *conninfo, int n, int rows, const char *mode)
{
    if (n <= 0 || rows < 2 || (strcmp(mode, "blocks") != 0 && strcmp(mode, "autocommit") != 0)) {
        fprintf(stderr, "concurrent: N must be > 0, ROWS >= 2, MODE blocks or autocommit\n");
        return 2;
    }
    bool blocks = strcmp(mode, "blocks") == 0;
    conc_worker *w = calloc((size_t)n, sizeof *w);
    pthread_barrier_t start;
    if (w == NULL || pthread_barrier_init(&start, NULL, (unsigned)n) != 0) {
        fprintf(stderr, "concurrent: cannot set up %d workers\n", n);
        free(w);
        return 2;
    }
    int started = 0;
    for (int i = 0; i < n; i++) {
        w[i].id = i;
        w[i].rows = rows;
        w[i].blocks = blocks;
        w[i].table_prefix = blocks ? "conc_" : "conca_";
        w[i].conninfo = conninfo;
        w[i].start = &start;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 256 * 1024);
        int e = pthread_create(&w[i].thread, &attr, conc_main, &w[i]);
        pthread_attr_destroy(&attr);
        if (e != 0) {
            /* The barrier counts n; without every thread nobody would start. */
            fprintf(stderr, "concurrent: pthread_create: %s\n", strerror(e));
            _exit(2);
        }
        started++;
    }
    int64_t t0 = now_ms();
    int passed = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(w[i].thread, NULL);
        passed += w[i].ok;
    }
    int64_t elapsed = now_ms() - t0;
    int shown = 0;
    for (int i = 0; i < n && shown < 10; i++) {
        if (!w[i].ok) {
            printf("client %d failed: %s\n", i, w[i].error);
            shown++;
        }
    }
    printf("concurrent (%s): %d/%d clients succeeded (%d rows each, %" PRId64 " ms)\n", mode, passed, n, rows,
           elapsed);
    pthread_barrier_destroy(&start);
    free(w);
    return passed == n ? 0 : 1;
}

/* ---- latency ---- */

typedef struct slow_query {
    const char *conninfo;
    const char *sql;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool sent; /* the query has left this process */
    bool ok;
    char result[128];
    int64_t end_ms;
} slow_query;

static void *slow_main(void *arg)
{
    slow_query *q = arg;
    PGconn *c = client_connect(q->conninfo);
    PGresult *res[MAX_RESULTS];
    int n = 0;
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        one_line(c ? PQerrorMessage(c) : "timeout", q->result, sizeof q->result);
    } else if (!PQsendQuery(c, q->sql)) {
        one_line(PQerrorMessage(c), q->result, sizeof q->result);
    } else {
        PQflush(c);
        pthread_mutex_lock(&q->lock);
        q->sent = true;
        pthread_cond_signal(&q->cond);
        pthread_mutex_unlock(&q->lock);
        int64_t deadline = now_ms() + client_timeout_ms();
        for (;;) {
            if (wait_result(c, deadline) != 0) {
                snprintf(q->result, sizeof q->result, "timeout or connection lost");
                break;
            }
            PGresult *r = PQgetResult(c);
            if (r == NULL)
                break;
            if (n < MAX_RESULTS)
                res[n++] = r;
            else
                PQclear(r);
        }
        q->end_ms = now_ms();
        if (n == 1 && PQresultStatus(res[0]) == PGRES_TUPLES_OK && PQntuples(res[0]) == 1) {
            q->ok = true;
            snprintf(q->result, sizeof q->result, "%s", PQgetvalue(res[0], 0, 0));
        } else if (n >= 1) {
            one_line(PQresultErrorMessage(res[0]), q->result, sizeof q->result);
        }
        clear_all(res, n);
    }
    PQfinish(c);
    pthread_mutex_lock(&q->lock);
    q->sent = true; /* also on failure, so the main thread never waits forever */
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
    return NULL;
}

/*
 * Sends SLOW_SQL on one connection; once it is on its way (plus a short pause
 * so the server has started it), opens FAST_CONNINFO and runs "select 1"
 * NFAST times.  Prints when each phase ended; the caller asserts that the fast
 * phase ended before the slow query did.
 */
static int cmd_latency(const char *slow_conninfo, const char *slow_sql, const char *fast_conninfo, int nfast)
{
    slow_query q = {.conninfo = slow_conninfo, .sql = slow_sql};
    pthread_mutex_init(&q.lock, NULL);
    pthread_cond_init(&q.cond, NULL);
    pthread_t t;
    int64_t t0 = now_ms();
    if (pthread_create(&t, NULL, slow_main, &q) != 0) {
        fprintf(stderr, "latency: pthread_create failed\n");
        return 2;
    }
    pthread_mutex_lock(&q.lock);
    while (!q.sent)
        pthread_cond_wait(&q.cond, &q.lock);
    pthread_mutex_unlock(&q.lock);
    sleep_ms(300);

    int64_t fast_start = now_ms(), max_lat = 0;
    int fast_ok = 0;
    char fast_error[512] = "";
    PGconn *c = client_connect(fast_conninfo);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        one_line(c ? PQerrorMessage(c) : "timeout", fast_error, sizeof fast_error);
    } else {
        for (int i = 0; i < nfast; i++) {
            int64_t s = now_ms();
            PGresult *res[MAX_RESULTS];
            int n;
            int e = exec_all(c, "select 1", res, MAX_RESULTS, &n);
            int64_t lat = now_ms() - s;
            if (lat > max_lat)
                max_lat = lat;
            bool ok = e == 0 && n == 1 && PQresultStatus(res[0]) == PGRES_TUPLES_OK &&
                      PQntuples(res[0]) == 1 && strcmp(PQgetvalue(res[0], 0, 0), "1") == 0;
            if (!ok && fast_error[0] == '\0')
                one_line(e != 0 ? "timeout or connection lost" : PQresultErrorMessage(res[0]), fast_error,
                         sizeof fast_error);
            clear_all(res, n);
            fast_ok += ok;
        }
    }
    PQfinish(c);
    int64_t fast_end = now_ms();
    pthread_join(t, NULL);

    printf("slow_ok=%s\n", q.ok ? "yes" : "no");
    printf("slow_result=%s\n", q.result);
    printf("fast_ok=%d/%d\n", fast_ok, nfast);
    if (fast_error[0])
        printf("fast_error=%s\n", fast_error);
    printf("fast_start_ms=%" PRId64 "\n", fast_start - t0);
    printf("fast_end_ms=%" PRId64 "\n", fast_end - t0);
    printf("slow_end_ms=%" PRId64 "\n", q.end_ms - t0);
    printf("fast_max_latency_ms=%" PRId64 "\n", max_lat);
    printf("fast_done_before_slow=%s\n", q.ok && fast_end < q.end_ms ? "yes" : "no");
    pthread_mutex_destroy(&q.lock);
    pthread_cond_destroy(&q.cond);
    return q.ok && fast_ok == nfast ? 0 : 1;
}

/* ---- maxconn ---- */

static int cmd_maxconn(const char *conninfo, int n)
{
    if (n <= 0 || n > 1000) {
        fprintf(stderr, "maxconn: N out of range\n");
        return 2;
    }
    PGconn **held = calloc((size_t)n, sizeof *held);
    if (held == NULL)
        return 2;
    int opened = 0;
    for (int i = 0; i < n; i++) {
        held[i] = client_connect(conninfo);
        if (held[i] != NULL && PQstatus(held[i]) == CONNECTION_OK) {
            PGresult *res[MAX_RESULTS];
            int k;
            if (exec_all(held[i], "select 1", res, MAX_RESULTS, &k) == 0 && k == 1 &&
                PQresultStatus(res[0]) == PGRES_TUPLES_OK)
                opened++;
            clear_all(res, k);
        }
    }
    printf("opened=%d/%d\n", opened, n);

    /* One more than the limit: refused with 53300. */
    PGconn *extra = client_connect(conninfo);
    if (extra != NULL && PQstatus(extra) == CONNECTION_OK) {
        printf("extra=OK\n");
    } else {
        char state[6], msg[512];
        sqlstate_from_message(extra ? PQerrorMessage(extra) : "", state);
        one_line(extra ? PQerrorMessage(extra) : "timeout", msg, sizeof msg);
        printf("extra=ERROR %s\n", state);
        printf("extra_message=%s\n", msg);
    }
    PQfinish(extra);

    /* Freeing one slot lets a new client in.  The server learns of the close
     * asynchronously, so retry for a while before calling it a failure. */
    PQfinish(held[0]);
    held[0] = NULL;
    const char *after = "ERROR";
    char last[512] = "";
    int64_t deadline = now_ms() + 10000;
    while (now_ms() < deadline) {
        PGconn *c = client_connect(conninfo);
        bool ok = c != NULL && PQstatus(c) == CONNECTION_OK;
        if (!ok)
            one_line(c ? PQerrorMessage(c) : "timeout", last, sizeof last);
        PQfinish(c);
        if (ok) {
            after = "OK";
            break;
        }
        sleep_ms(100);
    }
    printf("after_close=%s\n", after);
    if (strcmp(after, "OK") != 0)
        printf("after_close_message=%s\n", last);
    for (int i = 0; i < n; i++)
        PQfinish(held[i]);
    free(held);
    return 0;
}

/* ---- query ---- */

/* Prints "sent" as soon as the query is on the wire, then one line per result
 * ("row: v|v", "tag: TAG", "error: SQLSTATE message") and finally "done" or
 * "lost: message" when the connection broke.  Exit 0 iff no error and no loss. */
static int cmd_query(const char *conninfo, const char *sql)
{
    PGconn *c = client_connect(conninfo);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        char msg[1024];
        one_line(c ? PQerrorMessage(c) : "timeout", msg, sizeof msg);
        printf("connect failed: %s\n", msg);
        PQfinish(c);
        return 2;
    }
    if (!PQsendQuery(c, sql) || PQflush(c) != 0) {
        printf("lost: cannot send\n");
        PQfinish(c);
        return 2;
    }
    printf("sent\n");
    fflush(stdout);
    int rc = 0;
    int64_t deadline = now_ms() + client_timeout_ms();
    for (;;) {
        int w = wait_result(c, deadline);
        if (w != 0) {
            char msg[1024];
            one_line(PQerrorMessage(c), msg, sizeof msg);
            printf("lost: %s %s\n", w == -1 ? "timeout" : "connection", msg);
            rc = 2;
            break;
        }
        PGresult *r = PQgetResult(c);
        if (r == NULL) {
            printf("done\n");
            break;
        }
        if (result_is_error(r)) {
            char msg[1024];
            one_line(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY), msg, sizeof msg);
            printf("error: %s %s\n", result_sqlstate(r), msg);
            rc = 1;
        } else {
            for (int i = 0; i < PQntuples(r); i++) {
                fputs("row: ", stdout);
                for (int j = 0; j < PQnfields(r); j++)
                    printf("%s%s", j ? "|" : "", PQgetisnull(r, i, j) ? "NULL" : PQgetvalue(r, i, j));
                fputc('\n', stdout);
            }
            printf("tag: %s\n", PQcmdStatus(r));
        }
        PQclear(r);
        fflush(stdout);
    }
    PQfinish(c);
    return rc;
}

/* ---- bigresult ---- */

/* A result much larger than any socket buffer, so the server's chunking and
 * back-pressure are exercised; every row is checked, in order. */
static int cmd_bigresult(const char *conninfo, int nrows)
{
    PGconn *c = client_connect(conninfo);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "connect failed: %s", c ? PQerrorMessage(c) : "timeout\n");
        PQfinish(c);
        return 2;
    }
    char sql[512];
    snprintf(sql, sizeof sql,
             "with recursive g(x) as (select 1 union all select x + 1 from g where x < %d) "
             "select x, 'row number ' || x || ' of a large result' as payload from g",
             nrows);
    PGresult *res[MAX_RESULTS];
    int n;
    int e = exec_all(c, sql, res, MAX_RESULTS, &n);
    int rc = 0;
    if (e != 0 || n != 1 || PQresultStatus(res[0]) != PGRES_TUPLES_OK) {
        char msg[512];
        one_line(e != 0 ? PQerrorMessage(c) : n ? PQresultErrorMessage(res[0]) : "no result", msg, sizeof msg);
        printf("bigresult: failed: %s\n", msg);
        rc = 1;
    } else if (PQntuples(res[0]) != nrows) {
        printf("bigresult: %d rows, expected %d\n", PQntuples(res[0]), nrows);
        rc = 1;
    } else {
        for (int i = 0; i < nrows && rc == 0; i++) {
            char want[96];
            snprintf(want, sizeof want, "row number %d of a large result", i + 1);
            if (atoi(PQgetvalue(res[0], i, 0)) != i + 1 || strcmp(PQgetvalue(res[0], i, 1), want) != 0) {
                printf("bigresult: row %d is (%s, %s)\n", i, PQgetvalue(res[0], i, 0), PQgetvalue(res[0], i, 1));
                rc = 1;
            }
        }
        if (rc == 0)
            printf("bigresult: %d rows, all correct (%s)\n", nrows, PQcmdStatus(res[0]));
    }
    clear_all(res, n);
    PQfinish(c);
    return rc;
}

/* ---- extended query protocol ---- */

/* Collects the results of one PQsend* call (bounded wait); returns the last
 * one (the caller PQclear()s it), or NULL when the connection broke or timed
 * out.  Earlier results of the call are printed with render_result. */
static PGresult *ext_last_result(PGconn *c)
{
    PGresult *last = NULL;
    int64_t deadline = now_ms() + client_timeout_ms();
    for (;;) {
        if (wait_result(c, deadline) != 0) {
            PQclear(last);
            return NULL;
        }
        PGresult *r = PQgetResult(c);
        if (r == NULL)
            return last;
        if (last) {
            render_result(last, stdout);
            fputc('\n', stdout);
            PQclear(last);
        }
        last = r;
    }
}

/* Prints "LABEL: <result> [tx]" and returns whether it was not an error. */
static bool ext_print(PGconn *c, const char *label, PGresult *r)
{
    printf("%s: ", label);
    if (!r) {
        char msg[512];
        one_line(PQerrorMessage(c), msg, sizeof msg);
        printf("LOST %s\n", msg);
        return false;
    }
    render_result(r, stdout);
    printf(" [%c]\n", txn_char(c));
    bool ok = !result_is_error(r);
    PQclear(r);
    return ok;
}

static uint32_t be32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

static uint64_t be64(const char *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

static void put_be32(char *p, uint32_t v)
{
    p[0] = (char)(v >> 24);
    p[1] = (char)(v >> 16);
    p[2] = (char)(v >> 8);
    p[3] = (char)v;
}

static void put_be64(char *p, uint64_t v)
{
    put_be32(p, (uint32_t)(v >> 32));
    put_be32(p + 4, (uint32_t)v);
}

/* Prints the rows of a binary-format result of (int4, text, float8, bool,
 * bytea) columns, decoding each by its type OID. */
static void ext_print_binary(const PGresult *r)
{
    for (int i = 0; i < PQntuples(r); i++) {
        printf("  row:");
        for (int j = 0; j < PQnfields(r); j++) {
            if (PQgetisnull(r, i, j)) {
                printf(" NULL");
                continue;
            }
            const char *v = PQgetvalue(r, i, j);
            int len = PQgetlength(r, i, j);
            switch (PQftype(r, j)) {
            case 23:
                printf(" int4:%d", len == 4 ? (int32_t)be32(v) : -999999);
                break;
            case 20:
                printf(" int8:%" PRId64, len == 8 ? (int64_t)be64(v) : -999999);
                break;
            case 701: {
                double d = 0;
                uint64_t u = len == 8 ? be64(v) : 0;
                memcpy(&d, &u, 8);
                printf(" float8:%g", d);
                break;
            }
            case 16:
                printf(" bool:%s", len == 1 ? (v[0] ? "t" : "f") : "?");
                break;
            case 17:
                printf(" bytea:");
                for (int k = 0; k < len; k++)
                    printf("%02x", (unsigned char)v[k]);
                break;
            default:
                printf(" %u:%.*s", PQftype(r, j), len, v);
                break;
            }
        }
        printf("\n");
    }
}

static int cmd_prepared(const char *conninfo)
{
    PGconn *c = client_connect(conninfo);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        printf("connect failed\n");
        PQfinish(c);
        return 2;
    }
    bool ok = true;
    ok &= ext_print(c, "create",
                    PQsendQuery(c, "create table ext(id int4 primary key, name text, "
                                   "score float8, flag bool, data bytea)")
                        ? ext_last_result(c)
                        : NULL);
    static const Oid types[] = {23, 25, 701, 16, 17};
    ok &= ext_print(c, "prepare ins",
                    PQsendPrepare(c, "ins", "insert into ext values ($1, $2, $3, $4, $5)", 5,
                                  types)
                        ? ext_last_result(c)
                        : NULL);
    /* text parameters */
    const char *tv[] = {"1", "one", "1.5", "true", "\\x0102ff"};
    ok &= ext_print(c, "insert text params",
                    PQsendQueryPrepared(c, "ins", 5, tv, NULL, NULL, 0) ? ext_last_result(c)
                                                                        : NULL);
    /* binary parameters */
    char id[4], score[8], flag[1] = {0}, data[3] = {0, 'x', 0x7f};
    put_be32(id, 2);
    double d = -0.25;
    uint64_t du;
    memcpy(&du, &d, 8);
    put_be64(score, du);
    const char *bv[] = {id, "two", score, flag, data};
    const int bl[] = {4, 3, 8, 1, 3};
    const int bf[] = {1, 1, 1, 1, 1};
    ok &= ext_print(c, "insert binary params",
                    PQsendQueryPrepared(c, "ins", 5, bv, bl, bf, 0) ? ext_last_result(c) : NULL);
    /* NULLs */
    const char *nv[] = {"3", NULL, NULL, NULL, NULL};
    ok &= ext_print(c, "insert nulls",
                    PQsendQueryPrepared(c, "ins", 5, nv, NULL, NULL, 0) ? ext_last_result(c)
                                                                        : NULL);
    /* a bad integer */
    const char *badv[] = {"x1", "bad", "0", "f", "\\x"};
    ext_print(c, "insert bad int",
              PQsendQueryPrepared(c, "ins", 5, badv, NULL, NULL, 0) ? ext_last_result(c) : NULL);

    static const Oid sel_types[] = {23};
    ok &= ext_print(c, "prepare sel",
                    PQsendPrepare(c, "sel",
                                  "select id, name, score, flag, data from ext where id <= $1 "
                                  "order by id",
                                  1, sel_types)
                        ? ext_last_result(c)
                        : NULL);
    PGresult *dr = PQsendDescribePrepared(c, "sel") ? ext_last_result(c) : NULL;
    if (dr && PQresultStatus(dr) == PGRES_COMMAND_OK) {
        printf("describe sel: nparams=%d", PQnparams(dr));
        for (int i = 0; i < PQnparams(dr); i++)
            printf(" $%d:%u", i + 1, PQparamtype(dr, i));
        printf(" nfields=%d", PQnfields(dr));
        for (int i = 0; i < PQnfields(dr); i++)
            printf(" %s:%u", PQfname(dr, i), PQftype(dr, i));
        printf("\n");
    } else {
        ok = false;
        printf("describe sel: failed\n");
    }
    PQclear(dr);
    const char *three[] = {"3"};
    ok &= ext_print(c, "select text",
                    PQsendQueryPrepared(c, "sel", 1, three, NULL, NULL, 0) ? ext_last_result(c)
                                                                           : NULL);
    PGresult *br =
        PQsendQueryPrepared(c, "sel", 1, three, NULL, NULL, 1) ? ext_last_result(c) : NULL;
    if (br && PQresultStatus(br) == PGRES_TUPLES_OK) {
        printf("select binary: %s\n", PQcmdStatus(br));
        ext_print_binary(br);
    } else {
        ok = false;
        printf("select binary: failed %s\n", br ? PQresultErrorMessage(br) : "");
    }
    PQclear(br);
    /* the statement exists once; a second PQprepare of the name fails */
    ext_print(c, "prepare sel again",
              PQsendPrepare(c, "sel", "select 1", 0, NULL) ? ext_last_result(c) : NULL);
    /* wrong parameter count */
    ext_print(c, "sel without params",
              PQsendQueryPrepared(c, "sel", 0, NULL, NULL, NULL, 0) ? ext_last_result(c) : NULL);
    ext_print(c, "no such statement",
              PQsendQueryPrepared(c, "nope", 0, NULL, NULL, NULL, 0) ? ext_last_result(c) : NULL);
    PQfinish(c);
    return ok ? 0 : 1;
}

static int cmd_params(const char *conninfo, const char *sql, int n, const char *const *params)
{
    PGconn *c = client_connect(conninfo);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        printf("connect failed\n");
        PQfinish(c);
        return 2;
    }
    const char *vals[64];
    if (n > 64)
        n = 64;
    for (int i = 0; i < n; i++)
        vals[i] = strcmp(params[i], "\\N") == 0 ? NULL : params[i];
    bool ok = ext_print(c, "result",
                        PQsendQueryParams(c, sql, n, NULL, vals, NULL, NULL, 0)
                            ? ext_last_result(c)
                            : NULL);
    PQfinish(c);
    return ok ? 0 : 1;
}

/* Pipeline mode: three queries, the second fails; the third is aborted
 * without running; after the sync point the session goes on. */
static int cmd_pipeline(const char *conninfo)
{
    PGconn *c = client_connect(conninfo);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        printf("connect failed\n");
        PQfinish(c);
        return 2;
    }
    PGresult *r = PQexec(c, "create table pipe(id int primary key)");
    PQclear(r);
    if (!PQenterPipelineMode(c)) {
        printf("cannot enter pipeline mode\n");
        PQfinish(c);
        return 2;
    }
    const char *one[] = {"1"}, *two[] = {"2"};
    bool sent = PQsendQueryParams(c, "insert into pipe values ($1)", 1, NULL, one, NULL, NULL, 0) &&
                PQsendQueryParams(c, "insert into pipe values ($1)", 1, NULL, one, NULL, NULL, 0) &&
                PQsendQueryParams(c, "insert into pipe values ($1)", 1, NULL, two, NULL, NULL, 0) &&
                PQpipelineSync(c) &&
                PQsendQueryParams(c, "select count(*) from pipe", 0, NULL, NULL, NULL, NULL, 0) &&
                PQsendQueryParams(c, "insert into pipe values ($1)", 1, NULL, two, NULL, NULL, 0) &&
                PQpipelineSync(c);
    if (!sent) {
        printf("cannot send the pipeline\n");
        PQfinish(c);
        return 2;
    }
    int64_t deadline = now_ms() + client_timeout_ms();
    int syncs = 0;
    while (syncs < 2) {
        if (wait_result(c, deadline) != 0) {
            printf("lost\n");
            PQfinish(c);
            return 2;
        }
        r = PQgetResult(c);
        if (r == NULL) {
            printf("--\n");
            continue;
        }
        switch (PQresultStatus(r)) {
        case PGRES_PIPELINE_SYNC:
            printf("SYNC\n");
            syncs++;
            break;
        case PGRES_PIPELINE_ABORTED:
            printf("ABORTED\n");
            break;
        default:
            render_result(r, stdout);
            printf("\n");
            break;
        }
        PQclear(r);
    }
    PQexitPipelineMode(c);
    r = PQexec(c, "select count(*) from pipe");
    printf("after: ");
    render_result(r, stdout);
    printf("\n");
    PQclear(r);
    PQfinish(c);
    return 0;
}

/* Single-row mode: every row arrives as its own result, in order. */
static int cmd_singlerow(const char *conninfo, int nrows)
{
    PGconn *c = client_connect(conninfo);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        printf("connect failed\n");
        PQfinish(c);
        return 2;
    }
    char n[32];
    snprintf(n, sizeof n, "%d", nrows);
    const char *vals[] = {n};
    if (!PQsendQueryParams(c,
                           "with recursive g(x) as (select 1 union all select x + 1 from g "
                           "where x < cast($1 as integer)) select x, 'row ' || x from g",
                           1, NULL, vals, NULL, NULL, 0) ||
        !PQsetSingleRowMode(c)) {
        printf("cannot send\n");
        PQfinish(c);
        return 2;
    }
    int64_t deadline = now_ms() + client_timeout_ms();
    int rows = 0, rc = 0;
    for (;;) {
        if (wait_result(c, deadline) != 0) {
            printf("lost\n");
            rc = 2;
            break;
        }
        PGresult *r = PQgetResult(c);
        if (r == NULL)
            break;
        if (PQresultStatus(r) == PGRES_SINGLE_TUPLE) {
            char want[48];
            rows++;
            snprintf(want, sizeof want, "row %d", rows);
            if (atoi(PQgetvalue(r, 0, 0)) != rows || strcmp(PQgetvalue(r, 0, 1), want) != 0) {
                printf("row %d is (%s, %s)\n", rows, PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 1));
                rc = 1;
            }
        } else if (PQresultStatus(r) == PGRES_TUPLES_OK) {
            printf("singlerow: %d rows, then %s with %d rows\n", rows, PQcmdStatus(r),
                   PQntuples(r));
        } else {
            printf("singlerow: error %s\n", result_sqlstate(r));
            rc = 1;
        }
        PQclear(r);
    }
    PQfinish(c);
    return rc;
}

static int usage(void)
{
    fprintf(stderr,
            "usage: dm_e2e_client connect CONNINFO [SQL]\n"
            "       dm_e2e_client sqlstate CONNINFO SQL\n"
            "       dm_e2e_client error CONNINFO SQL\n"
            "       dm_e2e_client script CONNINFO < script\n"
            "       dm_e2e_client concurrent CONNINFO N [ROWS [blocks|autocommit]]\n"
            "       dm_e2e_client latency SLOW_CONNINFO SLOW_SQL FAST_CONNINFO NFAST\n"
            "       dm_e2e_client maxconn CONNINFO N\n"
            "       dm_e2e_client query CONNINFO SQL\n"
            "       dm_e2e_client bigresult CONNINFO NROWS\n"
            "       dm_e2e_client prepared CONNINFO\n"
            "       dm_e2e_client params CONNINFO SQL [PARAM...]\n"
            "       dm_e2e_client pipeline CONNINFO\n"
            "       dm_e2e_client singlerow CONNINFO NROWS\n");
    return 2;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3)
        return usage();
    const char *cmd = argv[1], *ci = argv[2];
    if (strcmp(cmd, "connect") == 0 && argc <= 4)
        return cmd_connect(ci, argc == 4 ? argv[3] : NULL);
    if (strcmp(cmd, "sqlstate") == 0 && argc == 4)
        return cmd_sqlstate(ci, argv[3]);
    if (strcmp(cmd, "error") == 0 && argc == 4)
        return cmd_error(ci, argv[3]);
    if (strcmp(cmd, "script") == 0 && argc == 3)
        return cmd_script(ci);
    if (strcmp(cmd, "concurrent") == 0 && argc >= 4 && argc <= 6)
        return cmd_concurrent(ci, atoi(argv[3]), argc >= 5 ? atoi(argv[4]) : 20, argc == 6 ? argv[5] : "blocks");
    if (strcmp(cmd, "latency") == 0 && argc == 6)
        return cmd_latency(ci, argv[3], argv[4], atoi(argv[5]));
    if (strcmp(cmd, "maxconn") == 0 && argc == 4)
        return cmd_maxconn(ci, atoi(argv[3]));
    if (strcmp(cmd, "query") == 0 && argc == 4)
        return cmd_query(ci, argv[3]);
    if (strcmp(cmd, "bigresult") == 0 && argc == 4)
        return cmd_bigresult(ci, atoi(argv[3]));
    if (strcmp(cmd, "prepared") == 0 && argc == 3)
        return cmd_prepared(ci);
    if (strcmp(cmd, "params") == 0 && argc >= 4)
        return cmd_params(ci, argv[3], argc - 4, (const char *const *)argv + 4);
    if (strcmp(cmd, "pipeline") == 0 && argc == 3)
        return cmd_pipeline(ci);
    if (strcmp(cmd, "singlerow") == 0 && argc == 4)
        return cmd_singlerow(ci, atoi(argv[3]));
    return usage();
}
