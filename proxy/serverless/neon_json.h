/*
 * The JSON of Neon's SQL over HTTP (PROTOCOL.md), as pure functions: no
 * I/O, no state, any thread (and a fuzz target, tests/fuzz/fuzz_neon.c).
 */
#ifndef DORMOUSE_PROXY_NEON_JSON_H
#define DORMOUSE_PROXY_NEON_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A JSON parameter as PostgreSQL text (Neon's rules: strings as they are,
 * numbers and booleans as their JSON text, arrays as array literals,
 * objects as JSON), malloc'd.  NULL with *null for a JSON null; NULL
 * otherwise: out of memory. */
char *neon_param_text(json_t *v, bool *null);

/* A JSON string from bytes that may not be UTF-8 (each bad byte becomes
 * U+FFFD); never NULL but out of memory. */
json_t *neon_string(const uint8_t *p, size_t len);

/* A column's text value as Neon types it without Neon-Raw-Text-Output:
 * booleans, int2 and int4 as numbers, float4 and float8 as numbers when
 * finite, json and jsonb as they are, arrays of those as JSON arrays;
 * everything else (int8, numeric, dates, bytea...) as its text. */
json_t *neon_typed(uint32_t type, const uint8_t *p, size_t len);

/* "command" and "rowCount" into res from a command tag: its first word, and
 * its last number (INSERT 0 1: 1), null when there is none. */
void neon_command(const uint8_t *tag, size_t len, json_t *res);

/* An ErrorResponse's body (its fields) in Neon's shape: message and
 * PostgreSQL's named fields, null where absent. */
json_t *neon_error_json(const uint8_t *body, size_t len);

#endif
