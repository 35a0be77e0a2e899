/*
 * sqlite_json.c: jsonb's text output for JSON kept as text (sqlite_json.h).
 *
 * A recursive-descent parser builds a small tree (strings decoded, numbers
 * normalised), objects are sorted and de-duplicated as jsonb does, and the
 * tree is printed into the caller's scratch buffer.  Nesting deeper than
 * SQLITE_JSON_MAX_DEPTH is refused rather than recursed into.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "sqlite_json.h"
#include "sqlite_numeric.h"

#define SQLITE_JSON_MAX_DEPTH 512

typedef struct json_node {
    char type;  /* 'o' object, 'a' array, 's' string, 'n' number, 'l' literal */
    char *text; /* decoded string / normalised number / literal (malloc'd) */
    size_t len;
    char *key; /* as an object member: its decoded key */
    size_t keylen;
    size_t order; /* as an object member: its position in the input */
    struct json_node *kids;
    size_t n, cap;
} json_node;

typedef struct json_parser {
    const char *p, *end;
    bool oom;
} json_parser;

typedef struct json_out {
    char **buf;
    size_t *cap;
    size_t len;
    bool oom;
} json_out;

static void json_node_clear(json_node *v)
{
    for (size_t i = 0; i < v->n; i++)
        json_node_clear(&v->kids[i]);
    free(v->kids);
    free(v->text);
    free(v->key);
}

static void json_ws(json_parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r'))
        ps->p++;
}

static int json_hex(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool json_hex4(json_parser *ps, unsigned *u)
{
    if (ps->end - ps->p < 4)
        return false;
    *u = 0;
    for (int i = 0; i < 4; i++) {
        int h = json_hex(ps->p[i]);
        if (h < 0)
            return false;
        *u = *u << 4 | (unsigned)h;
    }
    ps->p += 4;
    return true;
}

static size_t json_utf8(unsigned cp, char *o)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | cp >> 12);
        o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | cp >> 18);
    o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
    o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A string at ps->p (the opening quote), decoded into *out (malloc'd). */
static bool json_string(json_parser *ps, char **out, size_t *outlen)
{
    ps->p++;
    /* decoded text is never longer than the escaped text */
    char *s = malloc((size_t)(ps->end - ps->p) + 1);
    size_t o = 0;
    if (!s) {
        ps->oom = true;
        return false;
    }
    while (ps->p < ps->end && *ps->p != '"') {
        unsigned char c = (unsigned char)*ps->p++;
        if (c < 0x20)
            goto bad;
        if (c != '\\') {
            s[o++] = (char)c;
            continue;
        }
        if (ps->p >= ps->end)
            goto bad;
        char e = *ps->p++;
        switch (e) {
        case '"':
        case '\\':
        case '/':
            s[o++] = e;
            break;
        case 'b':
            s[o++] = '\b';
            break;
        case 'f':
            s[o++] = '\f';
            break;
        case 'n':
            s[o++] = '\n';
            break;
        case 'r':
            s[o++] = '\r';
            break;
        case 't':
            s[o++] = '\t';
            break;
        case 'u': {
            unsigned cp, lo;
            if (!json_hex4(ps, &cp) || cp == 0)
                goto bad; /* jsonb refuses \u0000 */
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (ps->end - ps->p < 6 || ps->p[0] != '\\' || ps->p[1] != 'u')
                    goto bad;
                ps->p += 2;
                if (!json_hex4(ps, &lo) || lo < 0xDC00 || lo > 0xDFFF)
                    goto bad;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                goto bad;
            }
            o += json_utf8(cp, s + o);
            break;
        }
        default:
            goto bad;
        }
    }
    if (ps->p >= ps->end)
        goto bad;
    ps->p++;
    s[o] = '\0';
    *out = s;
    *outlen = o;
    return true;
bad:
    free(s);
    return false;
}

static bool json_number(json_parser *ps, json_node *v)
{
    const char *start = ps->p;
    if (ps->p < ps->end && *ps->p == '-')
        ps->p++;
    if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
        return false;
    if (*ps->p == '0')
        ps->p++;
    else
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    if (ps->p < ps->end && *ps->p == '.') {
        ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
            return false;
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    }
    if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
        ps->p++;
        if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
            ps->p++;
        if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9')
            return false;
        while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9')
            ps->p++;
    }
    size_t n = (size_t)(ps->p - start);
    char *digits = malloc(n);
    sqlite_decimal d;
    if (!digits) {
        ps->oom = true;
        return false;
    }
    bool ok = sqlite_decimal_parse(start, n, digits, &d);
    if (ok) {
        size_t need = sqlite_decimal_format(&d, -1, NULL, 0);
        v->text = malloc(need);
        if (!v->text) {
            ps->oom = true;
            ok = false;
        } else {
            v->len = sqlite_decimal_format(&d, -1, v->text, need);
        }
    }
    free(digits);
    v->type = 'n';
    return ok;
}

static bool json_value(json_parser *ps, json_node *v, int depth);

static bool json_push(json_parser *ps, json_node *parent, json_node **kid)
{
    if (parent->n == parent->cap) {
        size_t ncap = parent->cap ? parent->cap * 2 : 4;
        json_node *k = realloc(parent->kids, ncap * sizeof(*k));
        if (!k) {
            ps->oom = true;
            return false;
        }
        parent->kids = k;
        parent->cap = ncap;
    }
    *kid = &parent->kids[parent->n++];
    memset(*kid, 0, sizeof(**kid));
    return true;
}

static int json_member_cmp(const void *a, const void *b)
{
    const json_node *x = a, *y = b;
    if (x->keylen != y->keylen)
        return x->keylen < y->keylen ? -1 : 1;
    int c = memcmp(x->key, y->key, x->keylen);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* jsonb's key order; of equal keys only the last one stays. */
static void json_object_sort(json_node *v)
{
    if (v->n < 2)
        return;
    qsort(v->kids, v->n, sizeof(*v->kids), json_member_cmp);
    size_t o = 0;
    for (size_t i = 0; i < v->n; i++) {
        if (i + 1 < v->n && v->kids[i].keylen == v->kids[i + 1].keylen &&
            memcmp(v->kids[i].key, v->kids[i + 1].key, v->kids[i].keylen) == 0) {
            json_node_clear(&v->kids[i]);
            continue;
        }
        v->kids[o++] = v->kids[i];
    }
    v->n = o;
}

static bool json_container(json_parser *ps, json_node *v, int depth)
{
    bool object = *ps->p == '{';
    char close = object ? '}' : ']';
    v->type = object ? 'o' : 'a';
    ps->p++;
    json_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return true;
    }
    for (;;) {
        json_node *kid;
        if (!json_push(ps, v, &kid))
            return false;
        kid->order = v->n;
        if (object) {
            json_ws(ps);
            if (ps->p >= ps->end || *ps->p != '"' || !json_string(ps, &kid->key, &kid->keylen))
                return false;
            json_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':')
                return false;
            ps->p++;
        }
        if (!json_value(ps, kid, depth + 1))
            return false;
        json_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            break;
        }
        return false;
    }
    if (object)
        json_object_sort(v);
    return true;
}

static bool json_value(json_parser *ps, json_node *v, int depth)
{
    if (depth > SQLITE_JSON_MAX_DEPTH)
        return false;
    json_ws(ps);
    if (ps->p >= ps->end)
        return false;
    static const char *const literals[] = {"true", "false", "null"};
    switch (*ps->p) {
    case '{':
    case '[':
        return json_container(ps, v, depth);
    case '"':
        v->type = 's';
        return json_string(ps, &v->text, &v->len);
    case 't':
    case 'f':
    case 'n':
        for (size_t i = 0; i < 3; i++) {
            size_t l = strlen(literals[i]);
            if ((size_t)(ps->end - ps->p) >= l && memcmp(ps->p, literals[i], l) == 0) {
                ps->p += l;
                v->type = 'l';
                v->text = strdup(literals[i]);
                v->len = l;
                if (!v->text)
                    ps->oom = true;
                return v->text != NULL;
            }
        }
        return false;
    default:
        return json_number(ps, v);
    }
}

static void json_put(json_out *o, const char *s, size_t n)
{
    if (o->oom)
        return;
    if (o->len + n + 1 > *o->cap) {
        size_t ncap = *o->cap ? *o->cap : 256;
        while (ncap < o->len + n + 1)
            ncap *= 2;
        char *b = realloc(*o->buf, ncap);
        if (!b) {
            o->oom = true;
            return;
        }
        *o->buf = b;
        *o->cap = ncap;
    }
    memcpy(*o->buf + o->len, s, n);
    o->len += n;
}

/* A string as PostgreSQL's escape_json writes it. */
static void json_put_string(json_out *o, const char *s, size_t n)
{
    json_put(o, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[8];
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            if (c < 0x20) {
                static const char hex[] = "0123456789abcdef";
                memcpy(u, "\\u00", 4);
                u[4] = hex[c >> 4];
                u[5] = hex[c & 15];
                u[6] = '\0';
                esc = u;
            }
            break;
        }
        if (!esc)
            continue;
        json_put(o, s + run, i - run);
        json_put(o, esc, strlen(esc));
        run = i + 1;
    }
    json_put(o, s + run, n - run);
    json_put(o, "\"", 1);
}

static void json_print(json_out *o, const json_node *v)
{
    switch (v->type) {
    case 'o':
    case 'a':
        json_put(o, v->type == 'o' ? "{" : "[", 1);
        for (size_t i = 0; i < v->n; i++) {
            if (i)
                json_put(o, ", ", 2);
            if (v->type == 'o') {
                json_put_string(o, v->kids[i].key, v->kids[i].keylen);
                json_put(o, ": ", 2);
            }
            json_print(o, &v->kids[i]);
        }
        json_put(o, v->type == 'o' ? "}" : "]", 1);
        return;
    case 's':
        json_put_string(o, v->text, v->len);
        return;
    default:
        json_put(o, v->text, v->len);
        return;
    }
}

int32_t sqlite_jsonb_normalize(const char *in, size_t n, char **scratch, size_t *cap)
{
    json_parser ps = {.p = in, .end = in + n, .oom = false};
    json_node root;
    memset(&root, 0, sizeof(root));
    bool ok = json_value(&ps, &root, 0);
    json_ws(&ps);
    ok = ok && ps.p == ps.end;
    int32_t rc = ps.oom ? -2 : -1;
    if (ok) {
        json_out o = {.buf = scratch, .cap = cap, .len = 0, .oom = false};
        json_print(&o, &root);
        json_put(&o, "", 0);
        if (o.oom) {
            rc = -2;
        } else {
            (*scratch)[o.len] = '\0';
            rc = (int32_t)o.len;
        }
    }
    json_node_clear(&root);
    return rc;
}
