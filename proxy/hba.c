/*
 * pg_hba.conf: load a host-based authentication file and find the record
 * that decides how a login authenticates.  Loading does all the work that
 * can fail (reading @files, parsing addresses, compiling regular
 * expressions), so that matching is a walk over immutable records.
 *
 * Syntax, as PostgreSQL 15 reads it (src/backend/libpq/hba.c):
 *   - '#' outside quotes starts a comment, to the end of the line; blank lines
 *     are skipped; a line ending in '\' continues on the next one (even inside
 *     quotes or a comment); a record's line number is that of its first line.
 *   - Fields are separated by blanks (space, tab, CR).  Within a field, items
 *     are separated by commas; "a, b" is one field of two items, "a ,b" two
 *     fields.  Double quotes group blanks, commas and '#' into an item; "" in
 *     quotes is one quote.  An item quoted from its first character is a
 *     name, never a keyword: "all" is the database or user named all.
 *   - Connection types: local, host, hostssl, hostnossl, hostgssenc,
 *     hostnogssenc.  Dormouse has no GSSAPI, so hostgssenc never matches and
 *     hostnogssenc matches every TCP connection, as in a PostgreSQL built
 *     without GSSAPI.
 *   - Database items: all, sameuser, samerole and samegroup (Dormouse has no
 *     roles: every user is a role that is a member of itself only, so these
 *     two mean sameuser), replication (never matches: Dormouse takes no
 *     replication connections), @file, /regex, or a name.
 *   - User items: all, +role (by the same rule, +alice matches the user alice
 *     only), @file, /regex, or a name.
 *   - @file (unquoted '@' then a path, relative to the directory of the file
 *     that names it) stands for every item in that file, in order: items are
 *     separated by blanks, commas or newlines, with the same comments,
 *     quoting and continuations; @files nest up to PROXY_HBA_MAX_INCLUDE_DEPTH.
 *     An @file without items matches nothing.
 *   - An item starting with '/' (quoted or not, as in PostgreSQL 16) is a
 *     regular expression for the rest of the item, searched for anywhere in
 *     the name unless anchored with ^ and $.  Dormouse uses POSIX extended
 *     regular expressions (regcomp REG_EXTENDED), not PostgreSQL's advanced
 *     ones: no \d, no lookahead.
 *   - Addresses: all, samehost, samenet (the addresses and subnets of this
 *     machine's interfaces, read with getifaddrs() at match time), an IPv4 or
 *     IPv6 address with a /bits CIDR suffix, or an address followed by a
 *     netmask field.  Addresses are numeric, read as getaddrinfo() reads them
 *     (so 127.1 is 127.0.0.1, as in PostgreSQL).  An IPv4 record never
 *     matches an IPv6 client, not even ::ffff:a.b.c.d: PostgreSQL compares
 *     families first.
 *   - Methods: trust, reject, md5, password, scram-sha-256, cert (hostssl
 *     only; implies clientcert=verify-full).
 *   - Options, name=value after the method: clientcert=verify-ca|verify-full
 *     and clientname=CN|DN, on hostssl records only; cert takes verify-full
 *     only.
 *
 * Refused at load, with the file and line: host names (Dormouse resolves no
 * names), the methods peer, ident, ldap, radius, pam, gss, sspi, bsd and
 * oauth ("not supported by Dormouse"), any other method or connection type,
 * the include, include_if_exists and include_dir directives, options other
 * than clientcert and clientname, a missing field, several items where one is
 * expected, an unterminated quote, a NUL byte, an unreadable @file, a bad
 * regular expression, a file with no records, and anything over the limits in
 * hba.h.  As in PostgreSQL, one bad record refuses the whole file (Dormouse
 * reports the first); only the unterminated quote is stricter: PostgreSQL
 * takes the item to the end of the line.
 */
#include "hba.h"

#include <assert.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum hba_name_kind {
    HBA_NAME_LITERAL,
    HBA_NAME_ALL,
    HBA_NAME_SAMEUSER,    /* database only */
    HBA_NAME_SAMEROLE,    /* database only: samerole, samegroup */
    HBA_NAME_REPLICATION, /* database only: never matches */
    HBA_NAME_MEMBER,      /* user only: +role */
    HBA_NAME_REGEX,
} hba_name_kind;

typedef struct hba_name {
    hba_name_kind kind;
    char *text; /* LITERAL: the name; MEMBER: the role; REGEX: the pattern */
    regex_t *re;
} hba_name;

typedef struct hba_names {
    hba_name *v;
    int n, cap;
} hba_names;

typedef enum hba_addr_kind {
    HBA_ADDR_ALL,
    HBA_ADDR_MASK,
    HBA_ADDR_SAMEHOST,
    HBA_ADDR_SAMENET,
} hba_addr_kind;

typedef struct hba_entry {
    proxy_hba_rule rule; /* what proxy_hba_match() returns */
    hba_names databases;
    hba_names users;
    hba_addr_kind addr_kind; /* not for local */
    int family;              /* HBA_ADDR_MASK: AF_INET or AF_INET6 */
    unsigned char addr[16];  /* HBA_ADDR_MASK: network order, 4 or 16 bytes */
    unsigned char mask[16];
} hba_entry;

struct proxy_hba {
    hba_entry *entries;
    int n, cap;
    int nnames; /* across all entries, against PROXY_HBA_MAX_NAMES */
};

/* One item of a line: dequoted text (in hba_reader.text) and its field. */
typedef struct hba_token {
    char *text;
    bool quoted; /* quoted from its first character: never a keyword or @file */
    int field;
} hba_token;

/* Reads one file, a logical line at a time. */
typedef struct hba_reader {
    FILE *f;
    const char *path;
    int lineno;      /* of the current logical line's first physical line */
    int next_lineno; /* of the next one */
    char raw[PROXY_HBA_MAX_LINE + 1];
    /* Items never take more than the line: each takes at most its characters,
     * and its NUL the separator after it (the last one's, the line's NUL). */
    char text[PROXY_HBA_MAX_LINE + 1];
    hba_token *tokens;
    int ntokens, cap;
} hba_reader;

typedef struct hba_loader {
    proxy_hba *h;
    char *err;
    size_t errlen;
} hba_loader;

const char *proxy_hba_method_str(proxy_hba_method m)
{
    switch (m) {
    case PROXY_HBA_TRUST:
        return "trust";
    case PROXY_HBA_REJECT:
        return "reject";
    case PROXY_HBA_MD5:
        return "md5";
    case PROXY_HBA_PASSWORD:
        return "password";
    case PROXY_HBA_SCRAM:
        return "scram-sha-256";
    case PROXY_HBA_CERT:
        return "cert";
    }
    return "?";
}

const char *proxy_hba_conn_type_str(proxy_hba_conn_type t)
{
    switch (t) {
    case PROXY_HBA_LOCAL:
        return "local";
    case PROXY_HBA_HOST:
        return "host";
    case PROXY_HBA_HOSTSSL:
        return "hostssl";
    case PROXY_HBA_HOSTNOSSL:
        return "hostnossl";
    case PROXY_HBA_HOSTGSSENC:
        return "hostgssenc";
    case PROXY_HBA_HOSTNOGSSENC:
        return "hostnogssenc";
    }
    return "?";
}

/* "path:line: message" into the loader's buffer; always returns false. */
__attribute__((format(printf, 4, 5))) static bool hba_error(hba_loader *ld, const char *path,
                                                            int line, const char *fmt, ...)
{
    if (!ld->err || ld->errlen == 0)
        return false;
    int n = line > 0 ? snprintf(ld->err, ld->errlen, "%s:%d: ", path, line)
                     : snprintf(ld->err, ld->errlen, "%s: ", path);
    if (n < 0 || (size_t)n >= ld->errlen)
        return false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ld->err + n, ld->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return false;
}

/* Appends where an @file whose error is in the buffer was named. */
static void hba_error_context(hba_loader *ld, const char *path, int line)
{
    if (!ld->err || ld->errlen == 0)
        return;
    size_t n = strlen(ld->err);
    if (n + 1 < ld->errlen)
        snprintf(ld->err + n, ld->errlen - n, " (in an @file named at %s:%d)", path, line);
}

static bool hba_oom(hba_loader *ld)
{
    if (ld->err && ld->errlen)
        snprintf(ld->err, ld->errlen, "out of memory");
    return false;
}

/* ---- reading and tokenizing ------------------------------------------------ */

static bool hba_isblank(int c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

static hba_reader *hba_reader_open(const char *path)
{
    hba_reader *r = calloc(1, sizeof(*r));
    if (!r)
        return NULL;
    r->f = fopen(path, "r");
    if (!r->f) {
        int saved = errno;
        free(r);
        errno = saved;
        return NULL;
    }
    r->path = path;
    r->next_lineno = 1;
    return r;
}

static void hba_reader_close(hba_reader *r)
{
    if (!r)
        return;
    if (r->f)
        fclose(r->f);
    free(r->tokens);
    free(r);
}

/* Reads the next logical line into r->raw, joining backslash continuations
 * as PostgreSQL does: a physical line whose last character (after the line
 * break is stripped) is a backslash added after the previous continuation
 * goes on with the next physical line, the backslash removed.  Returns 1 for
 * a line, 0 at the end of the file, -1 on an error (reported). */
static int hba_read_line(hba_loader *ld, hba_reader *r)
{
    size_t len = 0, last_backslash = 0;
    int physical = 0;
    r->lineno = r->next_lineno;
    for (;;) {
        int c;
        bool any = false;
        while ((c = getc_unlocked(r->f)) != EOF && c != '\n') {
            any = true;
            if (c == '\0') {
                hba_error(ld, r->path, r->lineno + physical, "line contains a NUL byte");
                return -1;
            }
            if (len >= PROXY_HBA_MAX_LINE) {
                hba_error(ld, r->path, r->lineno, "line too long (more than %d bytes)",
                          PROXY_HBA_MAX_LINE);
                return -1;
            }
            r->raw[len++] = (char)c;
        }
        if (c == EOF && ferror(r->f)) {
            hba_error(ld, r->path, r->lineno + physical, "could not read: %s", strerror(errno));
            return -1;
        }
        if (c == EOF && !any && physical == 0)
            return 0;
        physical++;
        while (len > 0 && (r->raw[len - 1] == '\r' || r->raw[len - 1] == '\n'))
            len--;
        if (len > last_backslash && r->raw[len - 1] == '\\') {
            last_backslash = --len;
            if (c == EOF)
                break;
            continue;
        }
        break;
    }
    r->raw[len] = '\0';
    r->next_lineno = r->lineno + physical;
    return 1;
}

static bool hba_push_token(hba_loader *ld, hba_reader *r, char *text, bool quoted, int field)
{
    if (r->ntokens == r->cap) {
        int cap = r->cap ? r->cap * 2 : 16;
        hba_token *t = realloc(r->tokens, (size_t)cap * sizeof(*t));
        if (!t)
            return hba_oom(ld);
        r->tokens = t;
        r->cap = cap;
    }
    r->tokens[r->ntokens++] = (hba_token){.text = text, .quoted = quoted, .field = field};
    return true;
}

/* Splits r->raw into items (r->tokens, texts in r->text) grouped in fields,
 * as PostgreSQL's next_token() and next_field_expand() do. */
static bool hba_tokenize(hba_loader *ld, hba_reader *r)
{
    const char *p = r->raw;
    char *out = r->text;
    int field = -1;
    bool in_list = false; /* the previous item ended with a comma */
    r->ntokens = 0;
    for (;;) {
        while (*p != '\0' && (hba_isblank(*p) || *p == ','))
            p++;
        if (*p == '\0')
            break;
        char *start = out;
        bool in_quote = false, was_quote = false, saw_quote = false;
        bool initial_quote = false, comma = false, comment = false;
        for (; *p != '\0' && (!hba_isblank(*p) || in_quote); p++) {
            char c = *p;
            if (c == '#' && !in_quote) {
                comment = true;
                break;
            }
            if (c == ',' && !in_quote) {
                comma = true;
                break;
            }
            if (c != '"' || was_quote) {
                assert(out < r->text + sizeof(r->text) - 1);
                *out++ = c;
            }
            /* Inside quotes, "" is one quote. */
            was_quote = in_quote && c == '"' ? !was_quote : false;
            if (c == '"') {
                in_quote = !in_quote;
                saw_quote = true;
                if (out == start)
                    initial_quote = true;
            }
        }
        if (in_quote)
            return hba_error(ld, r->path, r->lineno, "unterminated quoted string");
        if (saw_quote || out > start) {
            assert(out < r->text + sizeof(r->text));
            *out++ = '\0';
            if (!in_list)
                field++;
            if (!hba_push_token(ld, r, start, initial_quote, field))
                return false;
            in_list = comma;
        }
        if (comment)
            break;
    }
    return true;
}

/* ---- database and user items ---------------------------------------------- */

static void hba_names_free(hba_names *ns)
{
    for (int i = 0; i < ns->n; i++) {
        free(ns->v[i].text);
        if (ns->v[i].re) {
            regfree(ns->v[i].re);
            free(ns->v[i].re);
        }
    }
    free(ns->v);
    ns->v = NULL;
    ns->n = ns->cap = 0;
}

/* Adds one item of a database (is_db) or user list, reported at path:line. */
static bool hba_name_add(hba_loader *ld, const char *path, int line, hba_names *ns,
                         const char *text, bool quoted, bool is_db)
{
    if (++ld->h->nnames > PROXY_HBA_MAX_NAMES)
        return hba_error(ld, path, line, "too many database and user names (more than %d)",
                         PROXY_HBA_MAX_NAMES);
    hba_name_kind kind = HBA_NAME_LITERAL;
    if (is_db && !quoted) {
        if (strcmp(text, "all") == 0)
            kind = HBA_NAME_ALL;
        else if (strcmp(text, "sameuser") == 0)
            kind = HBA_NAME_SAMEUSER;
        else if (strcmp(text, "samerole") == 0 || strcmp(text, "samegroup") == 0)
            kind = HBA_NAME_SAMEROLE;
        else if (strcmp(text, "replication") == 0)
            kind = HBA_NAME_REPLICATION;
    } else if (!is_db && !quoted) {
        if (strcmp(text, "all") == 0)
            kind = HBA_NAME_ALL;
        else if (text[0] == '+')
            kind = HBA_NAME_MEMBER;
    }
    if (kind == HBA_NAME_LITERAL && text[0] == '/')
        kind = HBA_NAME_REGEX;

    if (ns->n == ns->cap) {
        int cap = ns->cap ? ns->cap * 2 : 4;
        hba_name *v = realloc(ns->v, (size_t)cap * sizeof(*v));
        if (!v)
            return hba_oom(ld);
        ns->v = v;
        ns->cap = cap;
    }
    hba_name *n = &ns->v[ns->n];
    memset(n, 0, sizeof(*n));
    n->kind = kind;
    n->text = strdup(kind == HBA_NAME_MEMBER || kind == HBA_NAME_REGEX ? text + 1 : text);
    if (!n->text)
        return hba_oom(ld);
    ns->n++; /* from here on hba_names_free() owns it */
    if (kind == HBA_NAME_REGEX) {
        n->re = malloc(sizeof(*n->re));
        if (!n->re)
            return hba_oom(ld);
        int rc = regcomp(n->re, n->text, REG_EXTENDED | REG_NOSUB);
        if (rc != 0) {
            char why[128];
            regerror(rc, n->re, why, sizeof(why));
            free(n->re);
            n->re = NULL;
            return hba_error(ld, path, line, "invalid regular expression \"%s\": %s", n->text, why);
        }
    }
    return true;
}

static bool hba_add_items(hba_loader *ld, hba_reader *r, int first, int count, hba_names *ns,
                          bool is_db, int depth);

/* Adds every item of @file inc, named at outer->path:outer->lineno. */
static bool hba_include(hba_loader *ld, const hba_reader *outer, const char *inc, hba_names *ns,
                        bool is_db, int depth)
{
    if (depth > PROXY_HBA_MAX_INCLUDE_DEPTH)
        return hba_error(ld, outer->path, outer->lineno,
                         "could not open @%s: more than %d nested @files", inc,
                         PROXY_HBA_MAX_INCLUDE_DEPTH);
    char full[PATH_MAX];
    int n;
    if (inc[0] == '/') {
        n = snprintf(full, sizeof(full), "%s", inc);
    } else {
        const char *slash = strrchr(outer->path, '/');
        if (slash)
            n = snprintf(full, sizeof(full), "%.*s/%s", (int)(slash - outer->path), outer->path,
                         inc);
        else
            n = snprintf(full, sizeof(full), "%s", inc);
    }
    if (n < 0 || (size_t)n >= sizeof(full))
        return hba_error(ld, outer->path, outer->lineno, "@file path too long: \"%s\"", inc);
    hba_reader *r = hba_reader_open(full);
    if (!r) {
        if (errno == ENOMEM)
            return hba_oom(ld);
        return hba_error(ld, outer->path, outer->lineno,
                         "could not open secondary authentication file \"@%s\" as \"%s\": %s", inc,
                         full, strerror(errno));
    }
    bool ok = true;
    int rc;
    while (ok && (rc = hba_read_line(ld, r)) != 0) {
        ok = rc > 0 && hba_tokenize(ld, r) && hba_add_items(ld, r, 0, r->ntokens, ns, is_db, depth);
    }
    hba_reader_close(r);
    if (!ok && depth == 1) /* name the record once, not every @file between */
        hba_error_context(ld, outer->path, outer->lineno);
    return ok;
}

/* Adds r->tokens[first .. first+count) to ns, expanding @files. */
static bool hba_add_items(hba_loader *ld, hba_reader *r, int first, int count, hba_names *ns,
                          bool is_db, int depth)
{
    for (int i = first; i < first + count; i++) {
        const hba_token *t = &r->tokens[i];
        bool ok = !t->quoted && t->text[0] == '@' && t->text[1] != '\0'
                      ? hba_include(ld, r, t->text + 1, ns, is_db, depth + 1)
                      : hba_name_add(ld, r->path, r->lineno, ns, t->text, t->quoted, is_db);
        if (!ok)
            return false;
    }
    return true;
}

/* ---- addresses -------------------------------------------------------------- */

/* The address bytes of an AF_INET or AF_INET6 sockaddr; false for any other. */
static bool hba_sockaddr_bytes(const struct sockaddr *sa, int family, unsigned char out[16])
{
    if (family == AF_INET) {
        struct sockaddr_in in;
        memcpy(&in, sa, sizeof(in));
        memcpy(out, &in.sin_addr, 4);
        return true;
    }
    if (family == AF_INET6) {
        struct sockaddr_in6 in6;
        memcpy(&in6, sa, sizeof(in6));
        memcpy(out, &in6.sin6_addr, 16);
        return true;
    }
    return false;
}

static size_t hba_family_len(int family)
{
    return family == AF_INET ? 4 : 16;
}

/* A numeric address as PostgreSQL reads it (getaddrinfo, AI_NUMERICHOST).
 * Returns 0 or a getaddrinfo() error. */
static int hba_parse_ip(const char *s, int *family, unsigned char out[16])
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_flags = AI_NUMERICHOST;
    hints.ai_family = AF_UNSPEC;
    int rc = getaddrinfo(s, NULL, &hints, &res);
    if (rc == 0 &&
        (!res || !res->ai_addr || (res->ai_family != AF_INET && res->ai_family != AF_INET6)))
        rc = EAI_FAMILY;
    if (rc == 0) {
        *family = res->ai_family;
        memset(out, 0, 16);
        hba_sockaddr_bytes(res->ai_addr, res->ai_family, out);
    }
    if (res)
        freeaddrinfo(res);
    return rc;
}

/* Whether a string that is not a numeric address was meant as a host name
 * (db.example.com, .example.com) rather than as a mistyped address. */
static bool hba_looks_like_host_name(const char *s)
{
    return s[0] != '\0' && strchr(s, ':') == NULL && s[strspn(s, "0123456789.")] != '\0';
}

/* mask = the first bits bits set. */
static bool hba_cidr_mask(const char *bits, int family, unsigned char mask[16])
{
    size_t len = strlen(bits);
    if (len == 0 || len > 3 || strspn(bits, "0123456789") != len)
        return false;
    int b = atoi(bits);
    if (b > (int)hba_family_len(family) * 8)
        return false;
    memset(mask, 0, 16);
    for (int i = 0; i < b; i++)
        mask[i / 8] |= (unsigned char)(0x80 >> (i % 8));
    return true;
}

/* Fills e's address from the address field at token index *i (and, without a
 * CIDR suffix, the netmask field after it); advances *i past what it used. */
static bool hba_parse_address(hba_loader *ld, hba_reader *r, hba_entry *e, int *i)
{
    const hba_token *t = &r->tokens[*i];
    if (*i + 1 < r->ntokens && r->tokens[*i + 1].field == t->field)
        return hba_error(ld, r->path, r->lineno, "multiple values specified for host address");
    if (!t->quoted && strcmp(t->text, "all") == 0) {
        e->addr_kind = HBA_ADDR_ALL;
        (*i)++;
        return true;
    }
    if (!t->quoted && strcmp(t->text, "samehost") == 0) {
        e->addr_kind = HBA_ADDR_SAMEHOST;
        (*i)++;
        return true;
    }
    if (!t->quoted && strcmp(t->text, "samenet") == 0) {
        e->addr_kind = HBA_ADDR_SAMENET;
        (*i)++;
        return true;
    }
    e->addr_kind = HBA_ADDR_MASK;
    char *slash = strchr(t->text, '/');
    if (slash)
        *slash = '\0';
    int rc = hba_parse_ip(t->text, &e->family, e->addr);
    if (rc != 0) {
        if (rc == EAI_NONAME && hba_looks_like_host_name(t->text))
            return hba_error(ld, r->path, r->lineno,
                             "host names are not supported by Dormouse: \"%s\" (write an IP "
                             "address with a CIDR mask)",
                             t->text);
        return hba_error(ld, r->path, r->lineno, "invalid IP address \"%s\": %s", t->text,
                         gai_strerror(rc));
    }
    if (slash) {
        if (!hba_cidr_mask(slash + 1, e->family, e->mask)) {
            *slash = '/';
            return hba_error(ld, r->path, r->lineno, "invalid CIDR mask in address \"%s\"",
                             t->text);
        }
        (*i)++;
        return true;
    }
    (*i)++;
    if (*i >= r->ntokens)
        return hba_error(ld, r->path, r->lineno,
                         "end-of-line before netmask specification (write the address range "
                         "in CIDR notation, or add a netmask)");
    const hba_token *m = &r->tokens[*i];
    if (*i + 1 < r->ntokens && r->tokens[*i + 1].field == m->field)
        return hba_error(ld, r->path, r->lineno, "multiple values specified for netmask");
    int mask_family;
    rc = hba_parse_ip(m->text, &mask_family, e->mask);
    if (rc != 0)
        return hba_error(ld, r->path, r->lineno, "invalid IP mask \"%s\": %s", m->text,
                         gai_strerror(rc));
    if (mask_family != e->family)
        return hba_error(ld, r->path, r->lineno, "IP address and mask do not match");
    (*i)++;
    return true;
}

/* ---- methods and options ---------------------------------------------------- */

static const struct {
    const char *name;
    proxy_hba_method method;
} hba_methods[] = {
    {"trust", PROXY_HBA_TRUST},       {"reject", PROXY_HBA_REJECT},       {"md5", PROXY_HBA_MD5},
    {"password", PROXY_HBA_PASSWORD}, {"scram-sha-256", PROXY_HBA_SCRAM}, {"cert", PROXY_HBA_CERT},
};

/* PostgreSQL's methods that Dormouse cannot carry out. */
static const char *const hba_unsupported_methods[] = {
    "peer", "ident", "ldap", "radius", "pam", "gss", "sspi", "bsd", "oauth",
};

/* PostgreSQL's options for those methods (and map, for ident user maps). */
static const char *const hba_unsupported_options[] = {
    "map",
    "pamservice",
    "pam_use_hostname",
    "ldapurl",
    "ldaptls",
    "ldapscheme",
    "ldapserver",
    "ldapport",
    "ldapbinddn",
    "ldapbindpasswd",
    "ldapsearchattribute",
    "ldapsearchfilter",
    "ldapbasedn",
    "ldapprefix",
    "ldapsuffix",
    "krb_realm",
    "include_realm",
    "compat_realm",
    "upn_username",
    "radiusservers",
    "radiusports",
    "radiussecrets",
    "radiusidentifiers",
    "issuer",
    "scope",
    "validator",
    "delegate_ident_mapping",
};

static bool hba_in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return true;
    return false;
}

#define HBA_LEN(a) (sizeof(a) / sizeof((a)[0]))

static bool hba_parse_method(hba_loader *ld, hba_reader *r, hba_entry *e, int i)
{
    const hba_token *t = &r->tokens[i];
    if (i + 1 < r->ntokens && r->tokens[i + 1].field == t->field)
        return hba_error(ld, r->path, r->lineno,
                         "multiple values specified for authentication type");
    for (size_t k = 0; k < HBA_LEN(hba_methods); k++) {
        if (strcmp(t->text, hba_methods[k].name) == 0) {
            e->rule.method = hba_methods[k].method;
            if (e->rule.method == PROXY_HBA_CERT && e->rule.conn_type != PROXY_HBA_HOSTSSL)
                return hba_error(ld, r->path, r->lineno,
                                 "cert authentication is only supported on hostssl connections");
            return true;
        }
    }
    if (hba_in_list(t->text, hba_unsupported_methods, HBA_LEN(hba_unsupported_methods)))
        return hba_error(ld, r->path, r->lineno,
                         "authentication method \"%s\" is not supported by Dormouse", t->text);
    return hba_error(ld, r->path, r->lineno, "invalid authentication method \"%s\"", t->text);
}

static bool hba_parse_option(hba_loader *ld, hba_reader *r, hba_entry *e, const hba_token *t)
{
    char *eq = strchr(t->text, '=');
    if (!eq)
        return hba_error(ld, r->path, r->lineno,
                         "authentication option not in name=value format: %s", t->text);
    *eq = '\0';
    const char *name = t->text, *val = eq + 1;
    bool hostssl = e->rule.conn_type == PROXY_HBA_HOSTSSL;
    if (strcmp(name, "clientcert") == 0) {
        if (!hostssl)
            return hba_error(ld, r->path, r->lineno,
                             "clientcert can only be configured for \"hostssl\" rows");
        if (strcmp(val, "verify-full") == 0) {
            e->rule.clientcert_verify_ca = true;
            e->rule.clientcert_verify_full = true;
        } else if (strcmp(val, "verify-ca") == 0) {
            if (e->rule.method == PROXY_HBA_CERT)
                return hba_error(ld, r->path, r->lineno,
                                 "clientcert only accepts \"verify-full\" when using \"cert\" "
                                 "authentication");
            e->rule.clientcert_verify_ca = true;
            e->rule.clientcert_verify_full = false;
        } else {
            return hba_error(ld, r->path, r->lineno,
                             "invalid value for clientcert: \"%s\" (verify-ca or verify-full)",
                             val);
        }
        return true;
    }
    if (strcmp(name, "clientname") == 0) {
        if (!hostssl)
            return hba_error(ld, r->path, r->lineno,
                             "clientname can only be configured for \"hostssl\" rows");
        if (strcmp(val, "CN") == 0)
            e->rule.clientname_dn = false;
        else if (strcmp(val, "DN") == 0)
            e->rule.clientname_dn = true;
        else
            return hba_error(ld, r->path, r->lineno,
                             "invalid value for clientname: \"%s\" (CN or DN)", val);
        return true;
    }
    if (hba_in_list(name, hba_unsupported_options, HBA_LEN(hba_unsupported_options)))
        return hba_error(ld, r->path, r->lineno,
                         "authentication option \"%s\" is not supported by Dormouse", name);
    return hba_error(ld, r->path, r->lineno, "unrecognized authentication option name: \"%s\"",
                     name);
}

/* ---- records ------------------------------------------------------------------- */

static bool hba_parse_conn_type(hba_loader *ld, hba_reader *r, hba_entry *e)
{
    const hba_token *t = &r->tokens[0];
    if (r->ntokens > 1 && r->tokens[1].field == 0)
        return hba_error(ld, r->path, r->lineno, "multiple values specified for connection type");
    static const char *const names[] = {"local",     "host",       "hostssl",
                                        "hostnossl", "hostgssenc", "hostnogssenc"};
    static const proxy_hba_conn_type types[] = {PROXY_HBA_LOCAL,      PROXY_HBA_HOST,
                                                PROXY_HBA_HOSTSSL,    PROXY_HBA_HOSTNOSSL,
                                                PROXY_HBA_HOSTGSSENC, PROXY_HBA_HOSTNOGSSENC};
    for (size_t k = 0; k < HBA_LEN(names); k++) {
        if (strcmp(t->text, names[k]) == 0) {
            e->rule.conn_type = types[k];
            return true;
        }
    }
    if (strcmp(t->text, "include") == 0 || strcmp(t->text, "include_if_exists") == 0 ||
        strcmp(t->text, "include_dir") == 0)
        return hba_error(ld, r->path, r->lineno,
                         "the %s directive is not supported by Dormouse (use @file lists)",
                         t->text);
    return hba_error(ld, r->path, r->lineno, "invalid connection type \"%s\"", t->text);
}

/* How many items the field that starts at token i has. */
static int hba_field_count(const hba_reader *r, int i)
{
    int n = 0;
    while (i + n < r->ntokens && r->tokens[i + n].field == r->tokens[i].field)
        n++;
    return n;
}

/* Parses the record in r->tokens into a new entry of ld->h. */
static bool hba_parse_record(hba_loader *ld, hba_reader *r)
{
    proxy_hba *h = ld->h;
    if (h->n >= PROXY_HBA_MAX_RULES)
        return hba_error(ld, r->path, r->lineno, "too many records (more than %d)",
                         PROXY_HBA_MAX_RULES);
    if (h->n == h->cap) {
        int cap = h->cap ? h->cap * 2 : 16;
        hba_entry *v = realloc(h->entries, (size_t)cap * sizeof(*v));
        if (!v)
            return hba_oom(ld);
        h->entries = v;
        h->cap = cap;
    }
    hba_entry *e = &h->entries[h->n];
    memset(e, 0, sizeof(*e));
    h->n++; /* from here on proxy_hba_free() owns it */
    e->rule.line = r->lineno;

    if (!hba_parse_conn_type(ld, r, e))
        return false;
    int i = 1;
    if (i >= r->ntokens)
        return hba_error(ld, r->path, r->lineno, "end-of-line before database specification");
    int n = hba_field_count(r, i);
    if (!hba_add_items(ld, r, i, n, &e->databases, true, 0))
        return false;
    i += n;
    if (i >= r->ntokens)
        return hba_error(ld, r->path, r->lineno, "end-of-line before role specification");
    n = hba_field_count(r, i);
    if (!hba_add_items(ld, r, i, n, &e->users, false, 0))
        return false;
    i += n;
    if (e->rule.conn_type != PROXY_HBA_LOCAL) {
        if (i >= r->ntokens)
            return hba_error(ld, r->path, r->lineno, "end-of-line before IP address specification");
        if (!hba_parse_address(ld, r, e, &i))
            return false;
    }
    if (i >= r->ntokens)
        return hba_error(ld, r->path, r->lineno, "end-of-line before authentication method");
    if (!hba_parse_method(ld, r, e, i))
        return false;
    for (i++; i < r->ntokens; i++)
        if (!hba_parse_option(ld, r, e, &r->tokens[i]))
            return false;
    if (e->rule.method == PROXY_HBA_CERT) {
        e->rule.clientcert_verify_ca = true;
        e->rule.clientcert_verify_full = true;
    }
    return true;
}

proxy_hba *proxy_hba_load(const char *path, char *err, size_t errlen)
{
    hba_loader ld = {.err = err, .errlen = errlen};
    if (err && errlen)
        err[0] = '\0';
    if (!path) {
        hba_error(&ld, "(null)", 0, "no hba file given");
        return NULL;
    }
    ld.h = calloc(1, sizeof(*ld.h));
    if (!ld.h) {
        hba_oom(&ld);
        return NULL;
    }
    hba_reader *r = hba_reader_open(path);
    if (!r) {
        if (errno == ENOMEM)
            hba_oom(&ld);
        else
            hba_error(&ld, path, 0, "could not open the hba file: %s", strerror(errno));
        proxy_hba_free(ld.h);
        return NULL;
    }
    bool ok = true;
    int rc;
    while (ok && (rc = hba_read_line(&ld, r)) != 0) {
        ok = rc > 0 && hba_tokenize(&ld, r) && (r->ntokens == 0 || hba_parse_record(&ld, r));
    }
    if (ok && ld.h->n == 0)
        ok = hba_error(&ld, path, 0, "the hba file contains no entries");
    hba_reader_close(r);
    if (!ok) {
        proxy_hba_free(ld.h);
        return NULL;
    }
    return ld.h;
}

void proxy_hba_free(proxy_hba *h)
{
    if (!h)
        return;
    for (int i = 0; i < h->n; i++) {
        hba_names_free(&h->entries[i].databases);
        hba_names_free(&h->entries[i].users);
    }
    free(h->entries);
    free(h);
}

int proxy_hba_count(const proxy_hba *h)
{
    return h ? h->n : 0;
}

/* ---- matching ------------------------------------------------------------------ */

static bool hba_masked_equal(const unsigned char *a, const unsigned char *b,
                             const unsigned char *mask, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((a[i] & mask[i]) != (b[i] & mask[i]))
            return false;
    return true;
}

/* samehost: the client has one of this machine's addresses; samenet: it is
 * in the subnet of one of its interfaces.  Reads the interfaces on every
 * call, as PostgreSQL does, so that it follows address changes. */
static bool hba_same_host_or_net(int family, const unsigned char *client, bool net)
{
    struct ifaddrs *ifs = NULL;
    if (getifaddrs(&ifs) != 0)
        return false;
    size_t len = hba_family_len(family);
    bool found = false;
    for (struct ifaddrs *ifa = ifs; ifa && !found; ifa = ifa->ifa_next) {
        if (!ifa->ifa_addr || ifa->ifa_addr->sa_family != family)
            continue;
        unsigned char addr[16], mask[16];
        hba_sockaddr_bytes(ifa->ifa_addr, family, addr);
        if (net) {
            if (!ifa->ifa_netmask)
                continue;
            hba_sockaddr_bytes(ifa->ifa_netmask, family, mask);
        } else {
            memset(mask, 0xff, sizeof(mask));
        }
        found = hba_masked_equal(client, addr, mask, len);
    }
    freeifaddrs(ifs);
    return found;
}

static bool hba_addr_matches(const hba_entry *e, const struct sockaddr *sa)
{
    if (e->addr_kind == HBA_ADDR_ALL)
        return true;
    unsigned char client[16];
    if (!sa || !hba_sockaddr_bytes(sa, sa->sa_family, client))
        return false;
    switch (e->addr_kind) {
    case HBA_ADDR_MASK:
        /* Families first: an IPv4 record never matches ::ffff:a.b.c.d. */
        return sa->sa_family == e->family &&
               hba_masked_equal(client, e->addr, e->mask, hba_family_len(e->family));
    case HBA_ADDR_SAMEHOST:
        return hba_same_host_or_net(sa->sa_family, client, false);
    case HBA_ADDR_SAMENET:
        return hba_same_host_or_net(sa->sa_family, client, true);
    case HBA_ADDR_ALL:
        break;
    }
    return true;
}

static bool hba_conn_type_matches(proxy_hba_conn_type t, const proxy_hba_conn *c)
{
    switch (t) {
    case PROXY_HBA_LOCAL:
        return c->is_unix;
    case PROXY_HBA_HOST:
    case PROXY_HBA_HOSTNOGSSENC:
        return !c->is_unix;
    case PROXY_HBA_HOSTSSL:
        return !c->is_unix && c->tls;
    case PROXY_HBA_HOSTNOSSL:
        return !c->is_unix && !c->tls;
    case PROXY_HBA_HOSTGSSENC:
        return false;
    }
    return false;
}

static bool hba_regex_matches(const hba_name *n, const char *s)
{
    return regexec(n->re, s, 0, NULL, 0) == 0;
}

static bool hba_database_matches(const hba_names *ns, const char *db, const char *user)
{
    for (int i = 0; i < ns->n; i++) {
        const hba_name *n = &ns->v[i];
        switch (n->kind) {
        case HBA_NAME_ALL:
            return true;
        case HBA_NAME_SAMEUSER:
        case HBA_NAME_SAMEROLE: /* each user is a member of its own role only */
            if (strcmp(db, user) == 0)
                return true;
            break;
        case HBA_NAME_REPLICATION:
            break;
        case HBA_NAME_REGEX:
            if (hba_regex_matches(n, db))
                return true;
            break;
        case HBA_NAME_LITERAL:
        case HBA_NAME_MEMBER:
            if (strcmp(n->text, db) == 0)
                return true;
            break;
        }
    }
    return false;
}

static bool hba_user_matches(const hba_names *ns, const char *user)
{
    for (int i = 0; i < ns->n; i++) {
        const hba_name *n = &ns->v[i];
        switch (n->kind) {
        case HBA_NAME_ALL:
            return true;
        case HBA_NAME_REGEX:
            if (hba_regex_matches(n, user))
                return true;
            break;
        case HBA_NAME_MEMBER: /* +role: the user is the role itself */
        case HBA_NAME_LITERAL:
            if (strcmp(n->text, user) == 0)
                return true;
            break;
        case HBA_NAME_SAMEUSER:
        case HBA_NAME_SAMEROLE:
        case HBA_NAME_REPLICATION:
            break;
        }
    }
    return false;
}

const proxy_hba_rule *proxy_hba_match(const proxy_hba *h, const proxy_hba_conn *c)
{
    if (!h || !c)
        return NULL;
    const char *db = c->database ? c->database : "";
    const char *user = c->user ? c->user : "";
    for (int i = 0; i < h->n; i++) {
        const hba_entry *e = &h->entries[i];
        if (!hba_conn_type_matches(e->rule.conn_type, c))
            continue;
        if (e->rule.conn_type != PROXY_HBA_LOCAL && !hba_addr_matches(e, c->addr))
            continue;
        if (!hba_database_matches(&e->databases, db, user))
            continue;
        if (!hba_user_matches(&e->users, user))
            continue;
        return &e->rule;
    }
    return NULL;
}
