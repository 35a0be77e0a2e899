/*
 * Session settings under pooling: what a client has SET (and the parameters
 * of its StartupMessage), and what each server connection has been told, as
 * maps parameter -> the statement that set it.  When a client gets a server
 * whose map differs, proxy_settings_diff() writes the statements that make
 * the server's session the client's (RESET for what only the server has, the
 * client's own SET for the rest); upstream.c sends them ahead of the
 * client's messages and drops their replies.  Kept sorted by name, so two
 * maps are equal exactly when their hashes and entries are.  Loop thread
 * only.
 */
#include "internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static void sql_put(wire_buf *b, const char *s)
{
    wire_buf_append(b, s, strlen(s));
}

static void settings_rehash(proxy_settings *s)
{
    uint64_t h = 0;
    for (int i = 0; i < s->n; i++) {
        h = XXH3_64bits_withSeed(s->v[i].name, strlen(s->v[i].name) + 1, h);
        h = XXH3_64bits_withSeed(s->v[i].sql, strlen(s->v[i].sql) + 1, h);
    }
    s->hash = h;
}

void proxy_settings_free(proxy_settings *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->v[i].sql);
    free(s->v);
    memset(s, 0, sizeof(*s));
}

void proxy_settings_clear(proxy_settings *s)
{
    for (int i = 0; i < s->n; i++)
        free(s->v[i].sql);
    s->n = 0;
    s->hash = 0;
}

/* Index of name, or -(insertion point) - 1. */
static int settings_find(const proxy_settings *s, const char *name)
{
    int lo = 0, hi = s->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        int c = strcmp(s->v[mid].name, name);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -lo - 1;
}

bool proxy_settings_set(proxy_settings *s, const char *name, const char *sql, size_t len)
{
    if (strlen(name) >= sizeof(s->v[0].name))
        return false;
    char *copy = malloc(len + 1);
    if (!copy)
        return false;
    memcpy(copy, sql, len);
    copy[len] = '\0';
    int i = settings_find(s, name);
    if (i >= 0) {
        free(s->v[i].sql);
        s->v[i].sql = copy;
        settings_rehash(s);
        return true;
    }
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 8;
        proxy_setting *v = realloc(s->v, (size_t)cap * sizeof(*v));
        if (!v) {
            free(copy);
            return false;
        }
        s->v = v;
        s->cap = cap;
    }
    i = -i - 1;
    memmove(&s->v[i + 1], &s->v[i], (size_t)(s->n - i) * sizeof(s->v[0]));
    snprintf(s->v[i].name, sizeof(s->v[i].name), "%s", name);
    s->v[i].sql = copy;
    s->n++;
    settings_rehash(s);
    return true;
}

void proxy_settings_unset(proxy_settings *s, const char *name)
{
    int i = settings_find(s, name);
    if (i < 0)
        return;
    free(s->v[i].sql);
    memmove(&s->v[i], &s->v[i + 1], (size_t)(s->n - i - 1) * sizeof(s->v[0]));
    s->n--;
    settings_rehash(s);
}

const char *proxy_settings_get(const proxy_settings *s, const char *name)
{
    int i = settings_find(s, name);
    return i >= 0 ? s->v[i].sql : NULL;
}

bool proxy_settings_copy(proxy_settings *dst, const proxy_settings *src)
{
    proxy_settings_clear(dst);
    for (int i = 0; i < src->n; i++)
        if (!proxy_settings_set(dst, src->v[i].name, src->v[i].sql, strlen(src->v[i].sql)))
            return false;
    return true;
}

bool proxy_settings_equal(const proxy_settings *a, const proxy_settings *b)
{
    if (a->hash != b->hash || a->n != b->n)
        return false;
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->v[i].name, b->v[i].name) != 0 || strcmp(a->v[i].sql, b->v[i].sql) != 0)
            return false;
    return true;
}

/* A parameter name PostgreSQL accepts unquoted (letters, digits, _ and .
 * for custom ones), so it may be written into SQL as it is. */
static bool settings_plain_name(const char *name)
{
    if (!name[0])
        return false;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.')
            return false;
    return true;
}

bool proxy_settings_diff(const proxy_settings *server, const proxy_settings *client, wire_buf *sql)
{
    int i = 0, j = 0;
    while (i < server->n || j < client->n) {
        int c = i >= server->n   ? 1
                : j >= client->n ? -1
                                 : strcmp(server->v[i].name, client->v[j].name);
        if (c < 0) { /* only the server has it: back to the default */
            if (settings_plain_name(server->v[i].name)) {
                sql_put(sql, "RESET ");
                sql_put(sql, server->v[i].name);
                sql_put(sql, ";");
            }
            i++;
            continue;
        }
        /* the client's own statement (it may end with a -- comment) */
        if (c > 0 || strcmp(server->v[i].sql, client->v[j].sql) != 0) {
            sql_put(sql, client->v[j].sql);
            sql_put(sql, "\n;");
        }
        if (c == 0)
            i++;
        j++;
    }
    return !sql->oom;
}

/* "-c name=value" and "--name=value" in a startup packet's options
 * (PostgreSQL's syntax: blanks separate, a backslash escapes the next
 * character), each as if it were a parameter of its own. */
static bool settings_from_options(proxy_settings *s, const char *opts)
{
    char word[512];
    bool expect_c = false;
    const char *p = opts;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p)
            break;
        size_t n = 0;
        while (*p && *p != ' ' && *p != '\t') {
            if (*p == '\\' && p[1])
                p++;
            if (n + 1 < sizeof(word))
                word[n++] = *p;
            p++;
        }
        word[n] = '\0';
        const char *assign = NULL;
        if (expect_c) {
            assign = word;
            expect_c = false;
        } else if (!strcmp(word, "-c")) {
            expect_c = true;
        } else if (!strncmp(word, "-c", 2)) {
            assign = word + 2;
        } else if (!strncmp(word, "--", 2)) {
            assign = word + 2;
        }
        char *eq = assign ? strchr(assign, '=') : NULL;
        if (!eq)
            continue;
        *eq = '\0';
        for (char *d = (char *)assign; *d; d++)
            if (*d == '-')
                *d = '_'; /* --work-mem=1MB is work_mem */
        wire_param one = {assign, eq + 1};
        if (!proxy_settings_from_startup(s, &one, 1))
            return false;
    }
    return true;
}

bool proxy_settings_from_startup(proxy_settings *s, const wire_param *params, int n)
{
    for (int i = 0; i < n; i++) {
        const char *k = params[i].name, *v = params[i].value;
        if (k && v && !strcmp(k, "options")) {
            if (!settings_from_options(s, v))
                return false;
            continue;
        }
        if (!k || !v || !strcmp(k, "user") || !strcmp(k, "database") ||
            !strcmp(k, "replication") || !strncmp(k, "_pq_.", 5))
            continue;
        char name[160];
        size_t kl = strlen(k);
        if (kl >= sizeof(name))
            continue;
        for (size_t c = 0; c <= kl; c++)
            name[c] = (char)tolower((unsigned char)k[c]);
        if (!settings_plain_name(name))
            continue;
        /* set_config takes the value as the startup packet gives it (a list
         * such as search_path=a,b stays a list) */
        wire_buf b;
        wire_buf_init(&b);
        sql_put(&b, "SELECT pg_catalog.set_config('");
        sql_put(&b, name);
        sql_put(&b, "', '");
        for (const char *p = v; *p; p++) {
            if (*p == '\'')
                wire_buf_put_u8(&b, '\'');
            wire_buf_put_u8(&b, (uint8_t)*p);
        }
        sql_put(&b, "', false)");
        bool ok = !b.oom && proxy_settings_set(s, name, (const char *)b.data, b.len);
        wire_buf_free(&b);
        if (!ok)
            return false;
    }
    return true;
}
