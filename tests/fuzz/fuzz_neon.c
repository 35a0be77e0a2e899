/*
 * libFuzzer target: the JSON of Neon's SQL over HTTP
 * (proxy/serverless/neon_json.c).  The first byte picks what the rest is:
 *   0  a request body: every value in it becomes a parameter's text, as
 *      {"query", "params": [...]} would, nested arrays included;
 *   1  a column value as a session sends it: a type OID (4 bytes, big
 *      endian, one of those the typing knows, picked by the next byte) and
 *      the text, typed as Neon types it (array literals parsed);
 *   2  a command tag;
 *   3  an ErrorResponse's body.
 * Whatever comes out must be valid JSON that jansson can print: the answer's
 * text is UTF-8 whatever the server's bytes were.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "neon_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must_print(json_t *v)
{
    if (!v)
        return; /* (out of memory) */
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s)
        abort(); /* not printable: invalid UTF-8 got in */
    free(s);
    json_decref(v);
}

static void params(json_t *v, int depth)
{
    bool null;
    char *t = neon_param_text(v, &null);
    if (!t && !null && !json_is_null(v))
        abort(); /* only out of memory may give nothing, and not here */
    free(t);
    if (depth < 8 && (json_is_array(v) || json_is_object(v))) {
        size_t i;
        json_t *e;
        const char *k;
        if (json_is_array(v))
            json_array_foreach(v, i, e) params(e, depth + 1);
        else
            json_object_foreach(v, k, e) params(e, depth + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0] % 4;
    data++;
    size--;
    if (mode == 0) {
        json_t *doc = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
        if (doc)
            params(doc, 0);
        json_decref(doc);
    } else if (mode == 1) {
        static const uint32_t types[] = {16,   20,   21,   23,   25,   114,  700,  701,  1000, 1005,
                                         1007, 1009, 1016, 1021, 1022, 199,  3802, 3807, 1231, 1185};
        if (size < 1)
            return 0;
        uint32_t type = types[data[0] % (sizeof(types) / sizeof(types[0]))];
        must_print(neon_typed(type, data + 1, size - 1));
        must_print(neon_string(data + 1, size - 1));
    } else if (mode == 2) {
        json_t *res = json_object();
        neon_command(data, size, res);
        must_print(res);
    } else {
        must_print(neon_error_json(data, size));
    }
    return 0;
}
