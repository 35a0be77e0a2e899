/*
 * sqlite_json.h: jsonb's text output for JSON kept as text.
 *
 * PostgreSQL's jsonb stores a parsed value: its output has object keys
 * sorted (shorter keys first, then bytewise), each key once (the last value
 * wins), numbers as numeric prints them, strings with only the escapes
 * PostgreSQL's escape_json writes, and ", " / ": " between items.  SQLite
 * keeps the text a client inserted, so jsonb columns are printed through
 * this normalisation.
 */
#ifndef DORMOUSE_SQLITE_JSON_H
#define DORMOUSE_SQLITE_JSON_H

#include <stddef.h>
#include <stdint.h>

/* Writes jsonb's output for the n bytes of JSON at `in` into *scratch (grown
 * with realloc; *cap tracks its size) and returns its length; -1 when the
 * text is not JSON that jsonb accepts (nothing is written), -2 when out of
 * memory. */
int32_t sqlite_jsonb_normalize(const char *in, size_t n, char **scratch, size_t *cap);

#endif
