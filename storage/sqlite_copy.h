/*
 * sqlite_copy.h: COPY ... FROM STDIN and COPY ... TO STDOUT on a SQLite
 * connection, in PostgreSQL's text and CSV formats.
 *
 * Two layers.  The codec (sqlite_copy_format, the decoder and the encoder) is
 * pure: bytes in, rows out, and values in, bytes out; it knows nothing of
 * SQLite and is unit-tested alone.  The runner (sqlite_copy_start,
 * sqlite_copy_run) keeps a COPY in progress on the connection across jobs:
 * COPY FROM STDIN receives the client's data in bounded chunks, one
 * STORAGE_JOB_COPY each, and inserts the rows as they complete (a row may
 * span chunks); COPY TO STDOUT produces its output in bounded parts, one job
 * each.  Everything runs on the worker that owns the connection.
 */
#ifndef DORMOUSE_SQLITE_COPY_H
#define DORMOUSE_SQLITE_COPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pg_query/pg_query.pb-c.h>

#include "dormouse/wire.h"
#include "sqlite_query.h"

/* ---- the format ---- */

#define SQLITE_COPY_NULL_MAX 64 /* longest NULL string accepted */

typedef enum sqlite_copy_header {
    SQLITE_COPY_HEADER_NONE = 0,
    SQLITE_COPY_HEADER_ON,    /* output: write one; input: skip the first line */
    SQLITE_COPY_HEADER_MATCH, /* input: the first line must name the columns */
} sqlite_copy_header;

typedef struct sqlite_copy_format {
    bool csv;
    char delim;
    char quote;  /* CSV only */
    char escape; /* CSV only */
    char null_str[SQLITE_COPY_NULL_MAX];
    size_t null_len;
    sqlite_copy_header header;
} sqlite_copy_format;

/* An error as PostgreSQL reports it; `context` is filled by the runner. */
typedef struct sqlite_copy_error {
    const char *sqlstate;
    char message[512];
    char detail[512];
    char hint[128];
    char context[320];
} sqlite_copy_error;

/* The defaults of the text (csv false) or CSV format. */
void sqlite_copy_format_init(sqlite_copy_format *f, bool csv);
/* Reads COPY's options (FORMAT, DELIMITER, NULL, HEADER, QUOTE, ESCAPE,
 * FREEZE, ENCODING; `from`: the direction) into f, checking them as
 * PostgreSQL does.  Returns false with err filled. */
bool sqlite_copy_options(PgQuery__Node *const *options, size_t n, bool from, sqlite_copy_format *f,
                         sqlite_copy_error *err);

/* ---- the decoder (COPY FROM) ---- */

typedef struct sqlite_copy_field {
    const char *data; /* decoded bytes (not NUL-terminated); NULL when null */
    size_t len;
    bool null;
} sqlite_copy_field;

typedef enum sqlite_copy_status {
    SQLITE_COPY_ROW = 0,   /* a row: d->fields[0 .. d->nfields-1] */
    SQLITE_COPY_NEED_MORE, /* the input is used up inside a row: feed the next chunk */
    SQLITE_COPY_END,       /* the end of the data: the \. marker, or the final input used up */
    SQLITE_COPY_ERROR,     /* err says why; the row (d->line_no) is bad */
} sqlite_copy_status;

const char *sqlite_copy_status_str(sqlite_copy_status s);

/* The rest of the current chunk of input. */
typedef struct sqlite_copy_input {
    const uint8_t *p;
    size_t len;
    bool final; /* no data comes after this chunk */
} sqlite_copy_input;

#define SQLITE_COPY_MAX_FIELDS 1664 /* PostgreSQL's MaxTupleAttributeNumber */
#define SQLITE_COPY_MAX_LINE (64u * 1024u * 1024u)

typedef struct sqlite_copy_decoder {
    sqlite_copy_format fmt;
    uint64_t line_no;   /* records read so far (the current one, after a ROW) */
    bool header_done;   /* the header line has been skipped or read */
    bool ended;         /* the \. marker was seen: the rest is ignored */
    bool is_header;     /* the row just returned is the header line */

    /* a record whose end has not arrived yet, carried from earlier chunks */
    wire_buf carry;
    size_t scanned;     /* carry bytes already scanned for the end of the record */
    bool in_quote;      /* scanner state at `scanned` (CSV) */
    bool escaped;       /* the previous byte was an escape */
    int eol;            /* 0 unknown, 1 "\n", 2 "\r", 3 "\r\n": from the first record;
                         * negative while a carried "\r" waits for the next byte */
    int saved_eol;      /* the style before such a "\r" */
    bool carry_taken;   /* the carry holds the record returned last: drop it first */

    /* the current record: raw (for error context) and decoded */
    const char *raw;
    size_t raw_len;
    wire_buf values;
    sqlite_copy_field *fields;
    int nfields;
    int cap;
    size_t *offsets; /* fields' offsets into `values` while decoding */
} sqlite_copy_decoder;

void sqlite_copy_decoder_init(sqlite_copy_decoder *d, const sqlite_copy_format *f);
void sqlite_copy_decoder_free(sqlite_copy_decoder *d);
/* The next row from `in` (advanced past what was used).  A row's fields stay
 * valid until the next call.  The header line, if the format has one, is
 * returned like a row the first time (d->line_no == 1, d->header_done just
 * set): the caller skips or checks it. */
sqlite_copy_status sqlite_copy_decode(sqlite_copy_decoder *d, sqlite_copy_input *in,
                                      sqlite_copy_error *err);

/* ---- the encoder (COPY TO) ---- */

/* Appends one field (data NULL: SQL NULL) in the format's escaping; the
 * caller writes the delimiters and the newline.  single_column: the row has
 * one column (CSV quotes a lone \. then). */
void sqlite_copy_encode_field(const sqlite_copy_format *f, wire_buf *out, const char *data,
                              size_t len, bool single_column);

/* ---- the runner ---- */

typedef struct sqlite_copy sqlite_copy; /* a COPY in progress (c->copy) */

/* Starts the COPY statement `s` (its node a CopyStmt).  Returns false after
 * reporting an error.  On success either the COPY is done (a COPY TO whose
 * output fit one part: CommandComplete written) or it stays in progress on
 * the connection (sqlite_copy_mode() says which way), and the caller hands
 * the rest of the message to sqlite_copy_suspend(). */
bool sqlite_copy_start(sqlite_query *q, const storage_stmt *s);
/* Whether a COPY is in progress on c, and which way. */
storage_copy_mode sqlite_copy_mode(const storage_conn *c);
/* A statement's result outgrew a part: its prepared statement st (a row
 * waiting: the last step gave SQLITE_ROW; its RowDescription and `rows`
 * rows are sent) goes on in later jobs as a COPY TO of DataRows, which ends
 * with s's CommandComplete.  Takes st, copies q->types.  false: no memory
 * (st is still the caller's). */
bool sqlite_copy_stream_rows(sqlite_query *q, const storage_stmt *s, sqlite3_stmt *st, int ncols,
                             uint64_t rows);
/* Keeps the rest of the Query message with the COPY in progress, to run when
 * it ends (the batch is moved: *b is left empty). */
void sqlite_copy_suspend(storage_conn *c, sqlite_query_batch *b);
/* STORAGE_JOB_COPY: the next chunk of COPY FROM data (or its end), or the
 * next part of COPY TO output; when the COPY ends, the rest of its message. */
void sqlite_copy_run(storage_job *job);
/* Drops a COPY in progress (the connection closes; its transaction is rolled
 * back by the close). */
void sqlite_copy_conn_clear(storage_conn *c);

#endif
