/*
 * The auth file, in PgBouncer's userlist.txt format: one `"user" "secret"`
 * per line, a doubled quote inside quotes stands for one quote, lines
 * starting with ';' or '#' are comments.  A secret is a plain password, an
 * md5 hash ("md5" + 32 hex digits of md5(password || user)) or a SCRAM
 * verifier ("SCRAM-SHA-256$...").
 *
 * Loading derives a SCRAM verifier for every plain password once (PBKDF2 is
 * deliberately slow), so that a SCRAM login costs a few HMACs on the loop.
 */
#include "dormouse/proxy.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct userlist_entry {
    char *user;
    char *secret;
    bool has_verifier;
    wire_scram_verifier verifier;
} userlist_entry;

struct proxy_userlist {
    userlist_entry *entries;
    int n;
};

/* Reads one quoted token at *p; advances *p past it. */
static bool userlist_token(const char **p, char *out, size_t outlen)
{
    const char *s = *p;
    size_t n = 0;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s != '"')
        return false;
    s++;
    for (;;) {
        if (*s == '\0' || *s == '\n' || *s == '\r')
            return false;
        if (*s == '"') {
            if (s[1] == '"') {
                s++;
            } else {
                s++;
                break;
            }
        }
        if (n + 1 >= outlen)
            return false;
        out[n++] = *s++;
    }
    out[n] = '\0';
    *p = s;
    return true;
}

static bool userlist_is_md5(const char *secret)
{
    if (strncmp(secret, "md5", 3) != 0 || strlen(secret) != 35)
        return false;
    for (int i = 3; i < 35; i++) {
        char c = secret[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

proxy_userlist *proxy_userlist_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open the auth file", path);
        return NULL;
    }
    proxy_userlist *u = calloc(1, sizeof(*u));
    if (!u) {
        fclose(f);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    char line[4096];
    int lineno = 0, cap = 0;
    while (fgets(line, sizeof(line), f)) {
        lineno++;
        const char *p = line;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '\n' || *p == '\r' || *p == ';' || *p == '#')
            continue;
        char user[WIRE_NAME_MAX], secret[1024];
        if (!userlist_token(&p, user, sizeof(user)) || !userlist_token(&p, secret, sizeof(secret))) {
            snprintf(err, errlen, "%s:%d: expected \"user\" \"password\"", path, lineno);
            goto fail;
        }
        if (u->n == cap) {
            cap = cap ? cap * 2 : 16;
            userlist_entry *e = realloc(u->entries, (size_t)cap * sizeof(*e));
            if (!e) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            u->entries = e;
        }
        userlist_entry *e = &u->entries[u->n];
        memset(e, 0, sizeof(*e));
        e->user = strdup(user);
        e->secret = strdup(secret);
        u->n++;
        if (!e->user || !e->secret) {
            snprintf(err, errlen, "out of memory");
            goto fail;
        }
        if (strncmp(secret, "SCRAM-SHA-256$", 14) == 0) {
            if (!wire_scram_verifier_parse(secret, &e->verifier)) {
                snprintf(err, errlen, "%s:%d: malformed SCRAM verifier for user \"%s\"", path,
                         lineno, user);
                goto fail;
            }
            e->has_verifier = true;
        } else if (!userlist_is_md5(secret)) {
            uint8_t salt[16];
            if (RAND_bytes(salt, sizeof(salt)) != 1 ||
                !wire_scram_verifier_from_password(secret, salt, sizeof(salt),
                                                   WIRE_SCRAM_DEFAULT_ITERATIONS, &e->verifier)) {
                snprintf(err, errlen, "%s:%d: cannot derive a SCRAM verifier", path, lineno);
                goto fail;
            }
            e->has_verifier = true;
        }
    }
    fclose(f);
    return u;
fail:
    fclose(f);
    proxy_userlist_free(u);
    return NULL;
}

void proxy_userlist_free(proxy_userlist *u)
{
    if (!u)
        return;
    for (int i = 0; i < u->n; i++) {
        free(u->entries[i].user);
        if (u->entries[i].secret) {
            memset(u->entries[i].secret, 0, strlen(u->entries[i].secret));
            free(u->entries[i].secret);
        }
    }
    free(u->entries);
    free(u);
}

static const userlist_entry *userlist_find(const proxy_userlist *u, const char *user)
{
    if (!u)
        return NULL;
    for (int i = 0; i < u->n; i++)
        if (strcmp(u->entries[i].user, user) == 0)
            return &u->entries[i];
    return NULL;
}

const char *proxy_userlist_secret(const proxy_userlist *u, const char *user)
{
    const userlist_entry *e = userlist_find(u, user);
    return e ? e->secret : NULL;
}

const wire_scram_verifier *proxy_userlist_verifier(const proxy_userlist *u, const char *user)
{
    const userlist_entry *e = userlist_find(u, user);
    return e && e->has_verifier ? &e->verifier : NULL;
}

int proxy_userlist_count(const proxy_userlist *u)
{
    return u ? u->n : 0;
}

const char *proxy_userlist_user(const proxy_userlist *u, int i)
{
    return u && i >= 0 && i < u->n ? u->entries[i].user : NULL;
}
