/*
 * The JSON of Neon's SQL over HTTP (neon_json.h).
 */
#include "neon_json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dormouse/wire.h"

/* ---- parameters ---- */

/* A JSON array as a PostgreSQL array literal: every element quoted, NULL
 * bare, nested arrays nested. */
static void neon_array_literal(json_t *a, wire_buf *b)
{
    wire_buf_put_u8(b, '{');
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        if (i)
            wire_buf_put_u8(b, ',');
        if (json_is_null(e)) {
            wire_buf_append(b, "NULL", 4);
            continue;
        }
        if (json_is_array(e)) {
            neon_array_literal(e, b);
            continue;
        }
        bool null;
        char *t = neon_param_text(e, &null);
        if (!t) {
            b->oom = true;
            return;
        }
        wire_buf_put_u8(b, '"');
        for (const char *p = t; *p; p++) {
            if (*p == '"' || *p == '\\')
                wire_buf_put_u8(b, '\\');
            wire_buf_put_u8(b, (uint8_t)*p);
        }
        wire_buf_put_u8(b, '"');
        free(t);
    }
    wire_buf_put_u8(b, '}');
}

char *neon_param_text(json_t *v, bool *null)
{
    *null = false;
    switch (json_typeof(v)) {
    case JSON_NULL:
        *null = true;
        return NULL;
    case JSON_STRING:
        return strndup(json_string_value(v), json_string_length(v));
    case JSON_TRUE:
        return strdup("true");
    case JSON_FALSE:
        return strdup("false");
    case JSON_ARRAY: {
        wire_buf b;
        wire_buf_init(&b);
        neon_array_literal(v, &b);
        wire_buf_put_u8(&b, 0);
        if (b.oom) {
            wire_buf_free(&b);
            return NULL;
        }
        return (char *)b.data;
    }
    default: /* numbers, objects */
        return json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
    }
}

/* An ErrorResponse in Neon's shape: message and PostgreSQL's fields. */
json_t *neon_error_json(const uint8_t *body, size_t len)
{
    static const struct {
        char code;
        const char *name;
    } names[] = {{'S', "severity"}, {'C', "code"},      {'D', "detail"},        {'H', "hint"},
                 {'P', "position"}, {'p', "internalPosition"}, {'q', "internalQuery"},
                 {'W', "where"},    {'s', "schema"},    {'t', "table"},         {'c', "column"},
                 {'d', "dataType"}, {'n', "constraint"}, {'F', "file"},         {'L', "line"},
                 {'R', "routine"}};
    json_t *o = json_object();
    if (!o)
        return NULL;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        json_object_set_new(o, names[i].name, json_null());
    json_object_set_new(o, "message", json_string(""));
    for (size_t i = 0; i < len && body[i];) {
        char code = (char)body[i++];
        size_t n = strnlen((const char *)body + i, len - i);
        json_t *v = json_stringn((const char *)body + i, n);
        if (!v)
            v = json_string("(not UTF-8)");
        if (code == 'M')
            json_object_set_new(o, "message", v);
        else {
            bool set = false;
            for (size_t k = 0; k < sizeof(names) / sizeof(names[0]) && !set; k++)
                if (names[k].code == code) {
                    json_object_set_new(o, names[k].name, v);
                    set = true;
                }
            if (!set)
                json_decref(v);
        }
        i += n + 1;
    }
    return o;
}

/* Neon's command and rowCount from a command tag: the first word, and the
 * last number (INSERT 0 1: 1), null when there is none. */
void neon_command(const uint8_t *tag, size_t len, json_t *res)
{
    size_t w = 0;
    while (w < len && tag[w] != ' ')
        w++;
    json_object_set_new(res, "command", json_stringn((const char *)tag, w));
    size_t s = len;
    while (s > 0 && tag[s - 1] >= '0' && tag[s - 1] <= '9')
        s--;
    if (s < len && s > w && tag[s - 1] == ' ') {
        char num[24];
        size_t n = len - s < sizeof(num) - 1 ? len - s : sizeof(num) - 1;
        memcpy(num, tag + s, n);
        num[n] = '\0';
        json_object_set_new(res, "rowCount", json_integer(strtoll(num, NULL, 10)));
    } else {
        json_object_set_new(res, "rowCount", json_null());
    }
}

/* A string from text that may not be UTF-8: each bad byte becomes U+FFFD. */
json_t *neon_string(const uint8_t *p, size_t len)
{
    json_t *s = json_stringn((const char *)p, len);
    if (s)
        return s;
    wire_buf b;
    wire_buf_init(&b);
    for (size_t i = 0; i < len;) {
        size_t n = 1;
        while (n <= 4 && i + n <= len) {
            json_t *t = json_stringn((const char *)p + i, n);
            if (t) {
                json_decref(t);
                break;
            }
            n++;
        }
        if (n <= 4 && i + n <= len) {
            wire_buf_append(&b, p + i, n);
            i += n;
        } else {
            wire_buf_append(&b, "\xef\xbf\xbd", 3);
            i++;
        }
    }
    s = b.oom ? NULL : json_stringn((const char *)b.data, b.len);
    wire_buf_free(&b);
    return s ? s : json_string("");
}

/* The element type of the array types whose elements JSON can carry (0:
 * not one of them). */
static uint32_t neon_array_element(uint32_t type)
{
    static const uint32_t map[][2] = {
        {1000, 16},   {1005, 21},   {1007, 23},   {1016, 20},   {1021, 700},  {1022, 701},
        {199, 114},   {3807, 3802}, {1009, 25},   {1015, 1043}, {1014, 1042}, {1028, 26},
        {1231, 1700}, {1182, 1082}, {1115, 1114}, {1185, 1184}, {2951, 2950}, {1001, 17},
        {1183, 1083}, {1187, 1186}, {1041, 869},  {651, 650},   {1002, 18},   {1003, 19}};
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (map[i][0] == type)
            return map[i][1];
    return 0;
}


/* A PostgreSQL array literal ({1,2}, {"a","b\"c",NULL}, {{1},{2}},
 * [0:1]={1,2}) from *pp as a JSON array of its elements by type; NULL if
 * it is not one. */
static json_t *neon_array(uint32_t elem, const uint8_t **pp, const uint8_t *end, int depth)
{
    const uint8_t *p = *pp;
    if (depth > 6 || p >= end || *p != '{')
        return NULL;
    p++;
    json_t *a = json_array();
    wire_buf item;
    wire_buf_init(&item);
    bool ok = a != NULL;
    while (ok) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n'))
            p++;
        if (p >= end) {
            ok = false;
            break;
        }
        if (*p == '}' && json_array_size(a) == 0) {
            p++;
            break;
        }
        json_t *v;
        if (*p == '{') {
            v = neon_array(elem, &p, end, depth + 1);
        } else if (*p == '"') {
            wire_buf_reset(&item);
            for (p++; p < end && *p != '"'; p++) {
                if (*p == '\\' && p + 1 < end)
                    p++;
                wire_buf_put_u8(&item, *p);
            }
            if (p >= end) {
                ok = false;
                break;
            }
            p++;
            v = neon_typed(elem, item.len ? item.data : (const uint8_t *)"", item.len); /* "" */
        } else {
            const uint8_t *b = p;
            while (p < end && *p != ',' && *p != '}')
                p++;
            const uint8_t *e = p;
            while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            v = e - b == 4 && !strncasecmp((const char *)b, "NULL", 4)
                    ? json_null()
                    : neon_typed(elem, b, (size_t)(e - b));
        }
        if (!v || json_array_append_new(a, v)) {
            ok = false;
            break;
        }
        while (p < end && (*p == ' ' || *p == '\t' || *p == '\n'))
            p++;
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == '}') {
            p++;
            break;
        }
        ok = false;
    }
    wire_buf_free(&item);
    if (!ok || item.oom) {
        json_decref(a);
        return NULL;
    }
    *pp = p;
    return a;
}

/* A text value as JSON the way Neon converts it without
 * Neon-Raw-Text-Output: booleans, int2 and int4 as numbers, float4 and
 * float8 as numbers when finite, json and jsonb as they are, arrays of
 * those as JSON arrays; everything else (int8, numeric, dates, bytea...)
 * as its text. */
json_t *neon_typed(uint32_t type, const uint8_t *p, size_t len)
{
    char buf[64];
    if (type == 16)
        return json_boolean(len == 1 && p[0] == 't');
    if ((type == 21 || type == 23 || type == 700 || type == 701) && len < sizeof(buf)) {
        memcpy(buf, p, len);
        buf[len] = '\0';
        char *end;
        if (type == 700 || type == 701) {
            double d = strtod(buf, &end);
            if (!*end && end != buf && d == d && d - d == 0)
                return json_real(d);
        } else {
            long long v = strtoll(buf, &end, 10);
            if (!*end && end != buf)
                return json_integer(v);
        }
    }
    if (type == 114 || type == 3802) {
        json_t *j = json_loadb((const char *)p, len, JSON_DECODE_ANY, NULL);
        if (j)
            return j;
    }
    uint32_t elem = neon_array_element(type);
    if (elem) {
        const uint8_t *q = p, *end = p + len;
        if (q < end && *q == '[') { /* explicit bounds: [1:2]={...} */
            while (q < end && *q != '=')
                q++;
            q++;
        }
        json_t *a = neon_array(elem, &q, end, 0);
        if (a)
            return a;
    }
    return neon_string(p, len);
}

