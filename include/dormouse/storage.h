/*
 * storage: the engines behind Dormouse, behind one interface.
 *
 * An engine runs jobs.  A job is "run this Query message's SQL on connection
 * C and encode the reply as PostgreSQL backend messages".  The SQLite engine
 * (the default) owns a fixed pool of worker threads; every SQLite call,
 * including opening and closing a database file, happens on a worker, never
 * on the caller's (event loop) thread.  The upstream PostgreSQL engine (later)
 * relays at the wire level and implements the same lifecycle calls.
 *
 * Threads and ownership:
 *  - storage_engine_new/free, storage_db_new/free, storage_conn_new/free and
 *    storage_job_submit are called from the owner's thread (the event loop).
 *  - A submitted job belongs to the engine until its `done` callback runs; the
 *    callback runs on a worker thread and must only hand the job back to its
 *    owner (e.g. push it on a locked queue and wake the loop).
 *  - A connection runs at most one job at a time: the owner submits the next
 *    job for a connection only after the previous one is done.  A worker owns
 *    the connection's sqlite3 handle while it runs that connection's job.
 *  - storage_conn_interrupt() may be called from any thread at any time.
 *
 * Only this module includes sqlite3.h and pg_query.h.
 */
#ifndef DORMOUSE_STORAGE_H
#define DORMOUSE_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <sys/types.h>

#include "dormouse/wire.h"

typedef enum storage_kind {
    STORAGE_SQLITE = 0,
    STORAGE_POSTGRES,
} storage_kind;

/* What a query does, for metering (fingerprint.c). */
typedef enum storage_query_kind {
    STORAGE_QUERY_OTHER = 0,   /* SET, RESET, DISCARD, DO, CALL, ...; what does not parse */
    STORAGE_QUERY_READ,        /* SELECT, VALUES, TABLE, SHOW, EXPLAIN, FETCH, COPY TO */
    STORAGE_QUERY_WRITE,       /* INSERT, UPDATE, DELETE, MERGE, COPY FROM, a writing WITH */
    STORAGE_QUERY_DDL,         /* CREATE, ALTER, DROP, TRUNCATE, GRANT, ... */
    STORAGE_QUERY_TRANSACTION, /* BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE */
} storage_query_kind;

const char *storage_kind_str(storage_kind k);

typedef struct storage_options {
    const char *data_dir;  /* SQLite files live at data_dir/NAME.db; copied */
    int workers;           /* SQLite worker threads (>= 1) */
    int busy_timeout_ms;   /* how long a writer waits for the lock before 40001 */
    bool synchronous_full; /* PRAGMA synchronous=FULL (default) instead of NORMAL */
    const char *cold_dir;  /* NULL or "": no cold tier; else paused databases' files move
                              there (checked with an xxHash checksum on the way back); copied */
    bool metering;         /* count rows read and written per job (job->rows_read, rows_written) */
} storage_options;

typedef struct storage_engine storage_engine;
typedef struct storage_db storage_db;
typedef struct storage_conn storage_conn;

/* Starts the worker threads. Returns NULL with a message in err on failure. */
storage_engine *storage_engine_new(const storage_options *opt, char *err, size_t errlen);
/* Runs every job already submitted, then stops and joins the workers.
 * Every storage_conn must have been closed and freed before. NULL is a no-op. */
void storage_engine_free(storage_engine *e);

/* A tenant database handle. Touches no file: the SQLite file is created (WAL
 * mode) by the first STORAGE_JOB_OPEN on a connection to it. `name` must
 * already be validated by the caller (pool_db_name_valid). */
storage_db *storage_db_new(storage_engine *e, const char *name);
/* All its connections must be freed first. NULL is a no-op. */
void storage_db_free(storage_db *db);
/* The same in memory the caller provides (storage_db_size bytes, 16-byte
 * aligned, zeroed), e.g. beside its own record; storage_db_fini undoes
 * storage_db_init without freeing the memory. */
size_t storage_db_size(const storage_engine *e, const char *name);
storage_db *storage_db_init(void *mem, storage_engine *e, const char *name);
void storage_db_fini(storage_db *db);
const char *storage_db_name(const storage_db *db);
const char *storage_db_path(const storage_db *db);
/* The bytes its files take (the database and its WAL, or its cold copy);
 * -1: none yet.  A stat(2) or two: not for a hot path. */
int64_t storage_db_bytes(const storage_db *db);
/* The pool says db is pausing (true) or resuming (false): with a cold_dir,
 * the CLOSE of its last open connection while pausing moves its file to the
 * cold tier, and the next OPEN brings it back (refusing it, XX001, if its
 * checksum does not match). */
void storage_db_set_pausing(storage_db *db, bool pausing);
/* Whether db's file is in the cold tier now (a stat; for the console). */
bool storage_db_is_cold(const storage_db *db);

/* A session's connection to a database. No I/O until its first job.  Once
 * opened it may serve many sessions one after another: between two sessions
 * the owner runs a STORAGE_JOB_RESET on it (see storage_job_kind). */
storage_conn *storage_conn_new(storage_db *db);
/* The connection must be idle (no job in flight) and either never opened or
 * closed by a STORAGE_JOB_CLOSE. NULL is a no-op. */
void storage_conn_free(storage_conn *c);
/* The role the connection runs as (current_user, session_user, the catalog's
 * roles).  Set by each session before its first job on the connection (a
 * RESET forgets it); copied.  Returns false when out of memory.  Until set,
 * the database's name stands for it. */
bool storage_conn_set_user(storage_conn *c, const char *user);
/* A pointer the connection's owner keeps with it (the pool's bookkeeping);
 * the engine never reads it.  Owner's thread only; NULL until set. */
/* Whether an open connection, between jobs, holds nothing of its client's
 * session that the client's next transaction needs or another client could
 * see: no transaction, COPY, SET parameter, temporary object, named prepared
 * statement or portal.  Such a connection may serve another client without a
 * RESET (after storage_conn_detach).  Owner's thread, no job in flight. */
bool storage_conn_stateless(const storage_conn *c);
/* Forgets the client of a stateless connection (its user); the next
 * client's storage_conn_set_user takes over.  Owner's thread, no job in
 * flight. */
void storage_conn_detach(storage_conn *c);
void storage_conn_set_owner_data(storage_conn *c, void *data);
void *storage_conn_owner_data(const storage_conn *c);
/* Interrupts the statement running on c, if any: it fails with 57014.
 * Safe from any thread; a no-op when nothing runs. */
void storage_conn_interrupt(storage_conn *c);
/* The same for a statement that ran too long: its 57014 error says
 * "canceling statement due to statement timeout". */
void storage_conn_interrupt_timeout(storage_conn *c);

typedef enum storage_job_kind {
    STORAGE_JOB_OPEN = 0, /* open (creating if needed) the database file */
    STORAGE_JOB_QUERY,    /* run a simple-protocol Query message */
    STORAGE_JOB_CLOSE,    /* roll back any open transaction, close the file */
    STORAGE_JOB_EXTENDED, /* run a batch of extended-protocol messages */
    STORAGE_JOB_COPY,     /* go on with the COPY in progress on the connection */
    STORAGE_JOB_RESET,    /* make an open connection whose client is gone fit for the
                           * next one (below) */
} storage_job_kind;

/* STORAGE_JOB_RESET: for an open connection whose session has ended, so that
 * the owner can hand it to another session without opening the file again.
 * On success (job->failed false, nothing in `out`, tx_status 'I') the
 * connection is as a fresh OPEN left it, except for what is only a cache:
 *  - any transaction (explicit, failed, or an implicit block left by the
 *    extended protocol) and any COPY in progress are rolled back; the
 *    database's write lock, if the connection held it, passes on;
 *  - what DISCARD ALL clears is gone: SET parameters, prepared statements
 *    (the unnamed one included), portals, the skip-to-Sync state;
 *  - the client's TEMP tables, views, indexes and triggers are dropped; the
 *    catalog's own temp tables (pg_class, information_schema, _dm_*) stay,
 *    as they are rebuilt only when the schema changes;
 *  - the user is forgotten (the next session calls storage_conn_set_user)
 *    and a pending cancel is cleared.
 * On failure (job->failed, an ErrorResponse in `out` saying why) the
 * connection is in an unknown state: the owner closes it (CLOSE) and frees
 * it.  A RESET of a connection that is not open fails. */

/* Where a QUERY or COPY job left the connection (storage_job.copy). */
typedef enum storage_copy_mode {
    STORAGE_COPY_NONE = 0, /* the Query message is finished: the owner sends ReadyForQuery */
    STORAGE_COPY_IN,       /* COPY FROM STDIN: `out` ends with CopyInResponse (or nothing,
                            * for a chunk); the owner collects the client's CopyData and
                            * submits COPY jobs with it, the last with copy_end set */
    STORAGE_COPY_OUT,      /* COPY TO STDOUT: `out` holds some of the CopyData; the owner
                            * sends it and submits a COPY job for the next part */
} storage_copy_mode;

const char *storage_copy_mode_str(storage_copy_mode m);

/* How a COPY FROM STDIN job's data ends (storage_job.copy_end). */
typedef enum storage_copy_end {
    STORAGE_COPY_MORE = 0, /* more data follows in later jobs */
    STORAGE_COPY_DONE,     /* the client sent CopyDone: finish the COPY */
    STORAGE_COPY_FAIL,     /* the client sent CopyFail (copy_fail_message) or broke the
                            * sub-protocol: fail the COPY */
} storage_copy_end;

const char *storage_copy_end_str(storage_copy_end e);

const char *storage_job_kind_str(storage_job_kind k);

typedef struct storage_job storage_job;
typedef void (*storage_job_done_fn)(storage_job *job);

struct storage_job {
    /* set by the submitter */
    storage_job_kind kind;
    storage_conn *conn;
    const char *sql;   /* QUERY: NUL-terminated; borrowed until done */
    size_t sql_len;
    /* EXTENDED: whole frontend messages (type byte, length, body), one after
     * another, each one of Parse, Bind, Describe, Execute, Close, Sync, Flush;
     * borrowed until done.  The engine keeps the connection's prepared
     * statements and portals, and writes a ReadyForQuery after each Sync
     * into `out` itself (for QUERY jobs the owner adds it). */
    const uint8_t *msgs;
    size_t msgs_len;
    /* COPY: for COPY FROM STDIN, the next bytes of the data stream (the
     * payloads of the client's CopyData messages, concatenated; rows may span
     * jobs), borrowed until done; and whether the stream ends with this job.
     * For STORAGE_COPY_FAIL, copy_fail_message is the reason for the error
     * (borrowed).  For COPY TO STDOUT all of these are unused. */
    const uint8_t *copy_data;
    size_t copy_len;
    storage_copy_end copy_end;
    const char *copy_fail_message;
    const char *copy_fail_sqlstate; /* NULL: 57014, COPY from stdin failed: <message> */
    storage_job_done_fn done; /* called once, on a worker thread */
    void *udata;

    /* set by the engine */
    wire_buf out;   /* encoded replies, excluding ReadyForQuery; the submitter
                     * initialises it and frees it after done */
    char tx_status; /* after the job: 'I', 'T' or 'E' (for ReadyForQuery) */
    bool discarding; /* EXTENDED: an error left the connection skipping
                      * messages until Sync (the batch ended before one); the
                      * owner drops Query messages until it sends a Sync */
    storage_copy_mode copy; /* QUERY/COPY: the COPY sub-protocol goes on (see above);
                             * also a large result: STORAGE_COPY_OUT, its rest comes in
                             * COPY jobs as the owner asks for them */
    bool extended;          /* COPY: it went on with an extended-protocol batch (its
                             * Sync wrote ReadyForQuery; `discarding` is meaningful) */
    bool copy_discard;      /* COPY IN: the COPY already failed; the owner drops the rest
                             * of the data and submits only the end (the error is reported
                             * then, before ReadyForQuery) */
    bool failed;    /* OPEN failed (the reply in `out` is an ErrorResponse to
                     * send with severity FATAL before closing), RESET failed
                     * (the owner closes the connection), or the job could
                     * not run at all */
    uint64_t statements;    /* statements executed */
    uint64_t rows_returned; /* DataRows sent */
    uint64_t rows_affected; /* rows inserted, updated or deleted */
    uint64_t rows_read;     /* when metering: rows visited, and rows written with */
    uint64_t rows_written;  /* their index entries (sqlite_meter.h has the definitions) */
    uint64_t fingerprint;   /* when metering: the query's (the last Execute's), 0: none */
    storage_query_kind query_kind;
    bool usage_notices;     /* after QUERY/EXTENDED: the session has SET
                             * dormouse.usage_notices = on */
    char *sample;           /* when metering and the engine first sees this fingerprint:
                             * the normalised query (malloc'd; the owner frees it, else
                             * the job's next run does) */
    uint64_t wall_us;       /* time on the worker */
    uint64_t cpu_us;        /* CPU time of the worker thread running it */

    /* the engine's own */
    storage_job *next;        /* queue link */
    struct storage_parse *parsed; /* QUERY: the message parsed once, for the
                                   * write-lock decision and the run */
    uint64_t wait_deadline_us; /* parked for the write lock until then */
};

/* Queues the job for a worker. Never blocks on SQLite. */
void storage_job_submit(storage_engine *e, storage_job *job);

/* ---- session state in pooled upstream connections (pgsession.c) ----
 *
 * Transaction pooling hands a client a different server connection for each
 * transaction, so whatever a statement leaves behind in the session must be
 * carried over (SET, RESET), remapped (DEALLOCATE, DISCARD), or refused or
 * warned about (LISTEN, temporary objects, WITH HOLD cursors, SQL PREPARE,
 * session advisory locks, and BEGIN in statement mode).  The classifier uses
 * PostgreSQL's own parser (libpg_query); it is pure and thread-safe. */

typedef enum storage_sess_kind {
    STORAGE_SESS_OTHER = 0,     /* nothing the pooler must know */
    STORAGE_SESS_SET,           /* SET [SESSION] name ...: `name` */
    STORAGE_SESS_RESET,         /* RESET name, SET name TO DEFAULT */
    STORAGE_SESS_RESET_ALL,     /* RESET ALL */
    STORAGE_SESS_DEALLOCATE,    /* DEALLOCATE [PREPARE] name: `name` */
    STORAGE_SESS_DEALLOCATE_ALL,
    STORAGE_SESS_DISCARD_ALL,
    STORAGE_SESS_BEGIN,         /* BEGIN, START TRANSACTION */
    STORAGE_SESS_LISTEN,        /* LISTEN channel */
    STORAGE_SESS_TEMP,          /* CREATE TEMP table, view, sequence, CREATE TEMP ... AS */
    STORAGE_SESS_HOLD_CURSOR,   /* DECLARE ... WITH HOLD */
    STORAGE_SESS_PREPARE,       /* SQL-level PREPARE */
    STORAGE_SESS_ADVISORY,      /* a session-level advisory lock function */
    STORAGE_SESS_SAVEPOINT,     /* SAVEPOINT name: `name` */
    STORAGE_SESS_ROLLBACK_TO,   /* ROLLBACK TO [SAVEPOINT] name: `name` */
    STORAGE_SESS_RELEASE,       /* RELEASE [SAVEPOINT] name: `name` */
} storage_sess_kind;
const char *storage_sess_kind_str(storage_sess_kind k);

typedef struct storage_sess_stmt {
    storage_sess_kind kind;
    char name[160];  /* SET/RESET: the parameter, lower case (SET SESSION CHARACTERISTICS:
                        the default_transaction_* ones it sets, comma-separated);
                        DEALLOCATE: the statement */
    size_t location; /* the statement's text: sql[location .. location + len) */
    size_t len;
} storage_sess_stmt;

/* A cheap look at the text: false when no statement in it can be one of the
 * kinds above (its first word is SELECT, INSERT, ... and it is a single
 * statement without "advisory" in it), so that the hot path skips the parser. */
bool storage_sess_candidate(const char *sql, size_t len);
/* Classifies each statement of sql (NUL-terminated), in order, into out[0..max):
 * returns how many there are (only the first max are written), 0 for an
 * empty query, -1 when it does not parse (the server will say why). */
int storage_sess_classify(const char *sql, storage_sess_stmt *out, int max);

/* ---- managed PostgreSQL (pg_managed.c) ----
 *
 * A PostgreSQL server Dormouse runs itself for an upstream database: the
 * processes of one data directory.  The caller watches the children: it
 * waits for the pid each call returns (0: none new, -1: failed at once, the
 * state says why) and reports its exit with storage_pgm_child_exited(),
 * and while STARTING polls storage_pgm_poll_ready() every few milliseconds.
 *
 *   STOPPED --start--> STARTING (initdb, CREATE DATABASE, postmaster)
 *   STARTING --postmaster.pid says "ready"--> READY
 *   STARTING --a step failed--> FAILED (error: the server's own FATAL line)
 *   READY/STARTING --stop (SIGINT: fast shutdown)--> STOPPING --exit--> STOPPED
 *   READY --exit nobody asked for--> STOPPED, crashed (the caller restarts it)
 *
 * A start while STOPPING starts it again once it has stopped.  The server
 * listens on a Unix socket in its data directory only; it is run as os_user
 * when Dormouse is root, and gets SIGINT if Dormouse dies. */
typedef enum storage_pgm_state {
    STORAGE_PGM_STOPPED = 0,
    STORAGE_PGM_STARTING,
    STORAGE_PGM_READY,
    STORAGE_PGM_STOPPING,
    STORAGE_PGM_FAILED,
} storage_pgm_state;
const char *storage_pgm_state_str(storage_pgm_state s);

typedef struct storage_pgm_options {
    char datadir[128];       /* the cluster (and its socket directory) */
    char bindir[256];        /* "": the newest /usr/lib/postgresql/<n>/bin */
    char os_user[64];        /* who runs it when Dormouse is root */
    bool initdb;             /* create the cluster when datadir has none */
    int port;                /* names its socket, .s.PGSQL.<port> */
    char superuser[64];      /* initdb's -U */
    char dbname[64];         /* created after initdb unless "postgres" or "" */
    char log_path[512];      /* the server's stdout and stderr (appended) */
} storage_pgm_options;

typedef struct storage_pgm storage_pgm;

/* Checks the binaries and, as root, os_user; NULL with a message. */
storage_pgm *storage_pgm_new(const storage_pgm_options *o, char *err, size_t errlen);
/* Its processes must have exited (storage_pgm_shutdown). */
void storage_pgm_free(storage_pgm *m);
pid_t storage_pgm_start(storage_pgm *m);
void storage_pgm_stop(storage_pgm *m);
pid_t storage_pgm_child_exited(storage_pgm *m, pid_t pid, int status);
/* STARTING: true once the postmaster accepts connections (it is READY). */
bool storage_pgm_poll_ready(storage_pgm *m);
/* Stops it and waits (blocking) until it has exited: timeout_s for a fast
 * shutdown, then an immediate one, then SIGKILL.  Dormouse's exit. */
void storage_pgm_shutdown(storage_pgm *m, int timeout_s);
storage_pgm_state storage_pgm_get_state(const storage_pgm *m);
const char *storage_pgm_error(const storage_pgm *m); /* why it FAILED or crashed */
pid_t storage_pgm_pid(const storage_pgm *m);         /* the postmaster's; 0: none */
bool storage_pgm_crashed(const storage_pgm *m);
uint64_t storage_pgm_start_us(const storage_pgm *m); /* the last start's duration */
const storage_pgm_options *storage_pgm_get_options(const storage_pgm *m);

/* ---- fingerprints (fingerprint.c) ----
 *
 * A query's fingerprint is libpg_query's: a hash of its parse tree with
 * constants, parameters' numbers and locations left out, so that
 * "SELECT * FROM t WHERE id = 1" and "select * from t where id=2" share one
 * (the same value pganalyze and pg_query users see).  0: it does not parse. */
uint64_t storage_fingerprint(const char *sql);
/* The query with constants replaced by $n (pg_query_normalize), at most max
 * bytes, malloc'd; NULL if it does not parse. */
char *storage_normalize(const char *sql, size_t max);

/* A message of several statements has the weightiest kind among them (DDL,
 * then write, read, transaction). */
const char *storage_query_kind_str(storage_query_kind k);
/* The kind from PostgreSQL's scanner: each statement's first keyword (for
 * upstream servers, where Dormouse does not parse what it relays). */
storage_query_kind storage_query_kind_scan(const char *sql);

/* ---- usage ledger (ledger.c) ----
 *
 * Every query's usage, durable across a kill -9: storage_ledger_append()
 * writes the record to a journal before the caller sends the query's result;
 * a thread of the ledger moves records into DIR/dormouse_ledger.db (table
 * usage, keyed by event id) in batches, and answers reads once it has caught
 * up, so they never run on an event loop. */
typedef struct storage_usage_record {
    int64_t ts_us;            /* wall clock, microseconds since the epoch */
    const char *database, *user, *application; /* at most 63 bytes each are kept */
    storage_kind engine;
    char sqlstate[6];         /* "00000", or the first error's */
    uint64_t wall_us;         /* from the request to its result */
    uint64_t cpu_us;          /* engine CPU time (SQLite worker thread) */
    uint64_t rows_returned, rows_written;
    uint64_t rows_read;       /* SQLite: rows visited (sqlite_meter.h); upstream: 0 */
    uint64_t bytes_in, bytes_out;
    uint64_t fingerprint;     /* storage_fingerprint(); 0: none */
    storage_query_kind kind;
    uint64_t resume_wait_us;  /* it waited this long for its database to resume; 0: no */
    const char *sample;       /* NULL, or the normalised query of a fingerprint new to the
                               * ledger (at most 1024 bytes are kept) */
    bool part;                /* more of a query already counted (a large result's later
                               * parts): its rows, bytes and time add up, its count does not */
} storage_usage_record;

typedef struct storage_ledger storage_ledger;
/* Each thread that appends has a writer of its own (and its own journal
 * file): appends buffer, a flush writes them. */
typedef struct storage_ledger_writer storage_ledger_writer;
/* Opens (creating) the ledger in dir with nwriters writers (1 to 64), moves
 * in what a crash left in the journals, and starts the ledger's thread;
 * NULL with a message. */
storage_ledger *storage_ledger_open(const char *dir, int nwriters, char *err, size_t errlen);
/* Drains the journals into the ledger and stops its thread (the writers
 * must have flushed).  NULL: no-op. */
void storage_ledger_close(storage_ledger *l);
/* Writer k (0 <= k < nwriters): one thread's at a time. */
storage_ledger_writer *storage_ledger_writer_get(storage_ledger *l, int k);
/* The hot path, on the writer's thread: buffers the record (false: no memory). */
bool storage_ledger_append(storage_ledger_writer *w, const storage_usage_record *r);
/* Writes what w buffered, before any of those queries' results is sent:
 * one write(2); false when the journal could not be written (the records
 * are dropped).  NULL or nothing buffered: true. */
bool storage_ledger_flush(storage_ledger_writer *w);
bool storage_ledger_pending(const storage_ledger_writer *w);
/* Active time and storage: what a database was up (not paused) for since
 * its last record, in which active period, how often it resumed, and the
 * bytes its files take (for active-time and storage bills, which per-query
 * records cannot give). */
typedef struct storage_activity_record {
    int64_t ts_us;          /* wall clock: the end of the time it counts */
    const char *database;
    int64_t period_us;      /* wall clock: the start of the active period it is part of */
    uint64_t active_us;
    uint64_t cold_starts;
    int64_t storage_bytes;  /* -1: unknown (an upstream server's database) */
} storage_activity_record;
bool storage_ledger_activity(storage_ledger_writer *w, const storage_activity_record *a);
/* Retention: usage stays per minute for minute_keep_us (default 35 days),
 * then per hour; usage and activity older than keep_us go (default 400
 * days; 0: kept).  Applied by the ledger's thread now, then hourly. */
void storage_ledger_set_retention(storage_ledger *l, int64_t minute_keep_us, int64_t keep_us);
/* Records appended and not yet in the ledger. */
uint64_t storage_ledger_lag(storage_ledger *l);
/* Tests: the journal starts over once the ledger holds this many bytes of
 * it (default 16 MiB); its size now. */
void storage_ledger_set_truncate_at(storage_ledger *l, int64_t bytes);
int64_t storage_ledger_journal_size(storage_ledger *l);

typedef enum storage_usage_granularity {
    STORAGE_USAGE_MINUTE,
    STORAGE_USAGE_HOUR,
    STORAGE_USAGE_DAY,
} storage_usage_granularity;

typedef struct storage_usage_row {
    int64_t start_us; /* the bucket's start (UTC) */
    char database[64]; /* SUMMARY: whose */
    uint64_t queries, errors, rows_returned, rows_written, rows_read, bytes_in, bytes_out, wall_us,
        cpu_us;
    uint64_t cold_queries, resume_wait_us; /* queries that waited for a resume, how long in all */
    uint64_t active_us, cold_starts; /* from activity records (storage_ledger_activity) */
    int64_t storage_bytes;           /* the largest size recorded in the bucket; -1: none */
} storage_usage_row;

/* What a bill is computed from (proxy/billing.h): a database's usage over
 * a window. */
typedef struct storage_bill_input {
    storage_usage_row totals; /* queries, rows, bytes, CPU over the window */
    double *active_s;         /* the active time of each active period (seconds), malloc'd */
    int nactive;
    double storage_byte_seconds; /* its size over the window (each size recorded holds until
                                  * the next; up to the window's end or now) */
} storage_bill_input;

/* A query fingerprint's usage over a window (storage_ledger_request TOP). */
typedef struct storage_query_row {
    char database[64];
    uint64_t fingerprint;
    char kind[16];
    char *query; /* normalised text (malloc'd); "" when unknown */
    uint64_t calls, errors, rows_read, rows_written, rows_returned, bytes_out, wall_us, cpu_us;
} storage_query_row;

typedef enum storage_ledger_read {
    STORAGE_LEDGER_USAGE = 0, /* rows: usage per bucket */
    STORAGE_LEDGER_TOP,       /* top: the fingerprints costing most, by `order` */
    STORAGE_LEDGER_BILL,      /* bill: what a bill of database over the window needs */
    STORAGE_LEDGER_SUMMARY,   /* rows: one per database (database "": all) over the window,
                               * storage_bytes the largest recorded */
} storage_ledger_read;

/* A read of the ledger: usage of database in [from_us, to_us) per bucket,
 * or its top query fingerprints (database "": all databases).  The
 * ledger's thread fills rows or top (or error) and calls done(q); the caller
 * owns q and frees what it holds with storage_ledger_request_clear(). */
typedef struct storage_ledger_request storage_ledger_request;
struct storage_ledger_request {
    storage_ledger_read read;
    char database[64];
    int64_t from_us, to_us;
    storage_usage_granularity granularity;
    storage_usage_row *rows;
    int nrows, caprows;
    /* TOP: order is a column of storage_query_row (wall_us, cpu_us, rows_read,
     * rows_written, rows_returned, bytes_out, calls, errors); limit >= 1 */
    char order[16];
    int limit;
    storage_query_row *top;
    int ntop;
    storage_bill_input bill;
    /* SUMMARY with with_bills: bills[i] is what rows[i]'s bill needs */
    bool with_bills;
    storage_bill_input *bills;
    char error[256];          /* "" : rows are the answer */
    void (*done)(storage_ledger_request *q);
    void *udata;
    storage_ledger_request *next; /* the ledger's queue */
};
void storage_ledger_query(storage_ledger *l, storage_ledger_request *q);
void storage_ledger_request_clear(storage_ledger_request *q);
/* Is order one of the columns a TOP read sorts by? */
bool storage_ledger_order_valid(const char *order);

#endif
