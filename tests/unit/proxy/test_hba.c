/* Unit tests for proxy/hba.c: pg_hba.conf syntax, load errors with their line, and matching. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hba.h"

/* Each test writes its files in a fresh directory; teardown removes them. */
static char dir[64];
static char hba_path[128];
static char written[16][160];
static int nwritten;
static char err[512];

static void setup(void)
{
    strcpy(dir, "/tmp/dm_hba_XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(hba_path, sizeof(hba_path), "%s/pg_hba.conf", dir);
    nwritten = 0;
    err[0] = '\0';
}

static void teardown(void)
{
    for (int i = nwritten - 1; i >= 0; i--) {
        if (unlink(written[i]) != 0)
            rmdir(written[i]);
    }
    rmdir(dir);
    nwritten = 0;
}

/* Writes text (len bytes, or all of it with len -1) to dir/name. */
static void write_file_len(const char *name, const char *text, long len)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    ck_assert_int_lt(nwritten, 16);
    strcpy(written[nwritten++], path);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fwrite(text, 1, len < 0 ? strlen(text) : (size_t)len, f);
    fclose(f);
}

static void write_file(const char *name, const char *text)
{
    write_file_len(name, text, -1);
}

static void make_subdir(const char *name)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    ck_assert_int_lt(nwritten, 16);
    strcpy(written[nwritten++], path);
}

static proxy_hba *load(const char *text)
{
    write_file("pg_hba.conf", text);
    proxy_hba *h = proxy_hba_load(hba_path, err, sizeof(err));
    ck_assert_msg(h != NULL, "%s", err);
    return h;
}

/* Loading text fails at line with a message containing what. */
#define ck_load_error(text, line, what)                                                            \
    do {                                                                                           \
        write_file("pg_hba.conf", text);                                                           \
        ck_assert_ptr_null(proxy_hba_load(hba_path, err, sizeof(err)));                            \
        char want_[256];                                                                           \
        snprintf(want_, sizeof(want_), "pg_hba.conf:%d: ", line);                                  \
        ck_assert_msg(strncmp(err, dir, strlen(dir)) == 0 && strstr(err, want_) != NULL &&         \
                          strstr(err, what) != NULL,                                               \
                      "want \"%s\" and \"%s\", got \"%s\"", want_, what, err);                     \
    } while (0)

/* Loading text fails in an @file named on line of pg_hba.conf, with a message containing what. */
#define ck_include_error(text, line, what)                                                         \
    do {                                                                                           \
        write_file("pg_hba.conf", text);                                                           \
        ck_assert_ptr_null(proxy_hba_load(hba_path, err, sizeof(err)));                            \
        char want_[256];                                                                           \
        snprintf(want_, sizeof(want_), "(in an @file named at %s:%d)", hba_path, line);            \
        ck_assert_msg(strncmp(err, dir, strlen(dir)) == 0 && strstr(err, want_) != NULL &&         \
                          strstr(err, what) != NULL,                                               \
                      "want \"%s\" and \"%s\", got \"%s\"", want_, what, err);                     \
    } while (0)

static struct sockaddr_storage ss;

/* A client address; NULL for unix. */
static const struct sockaddr *addr_of(const char *ip)
{
    memset(&ss, 0, sizeof(ss));
    if (!ip)
        return NULL;
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, ip, &in->sin_addr) == 1) {
        in->sin_family = AF_INET;
    } else {
        ck_assert_int_eq(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
        in6->sin6_family = AF_INET6;
    }
    return (const struct sockaddr *)&ss;
}

/* The line of the rule that matches, 0 for none; ip NULL means a Unix socket. */
static int match_line(const proxy_hba *h, const char *ip, bool tls, const char *db,
                      const char *user)
{
    proxy_hba_conn c = {
        .is_unix = ip == NULL, .tls = tls, .addr = addr_of(ip), .database = db, .user = user};
    const proxy_hba_rule *r = proxy_hba_match(h, &c);
    return r ? r->line : 0;
}

static const proxy_hba_rule *match(const proxy_hba *h, const char *ip, bool tls, const char *db,
                                   const char *user)
{
    proxy_hba_conn c = {
        .is_unix = ip == NULL, .tls = tls, .addr = addr_of(ip), .database = db, .user = user};
    return proxy_hba_match(h, &c);
}

START_TEST(test_method_and_conn_type_str)
{
    ck_assert_str_eq(proxy_hba_method_str(PROXY_HBA_TRUST), "trust");
    ck_assert_str_eq(proxy_hba_method_str(PROXY_HBA_REJECT), "reject");
    ck_assert_str_eq(proxy_hba_method_str(PROXY_HBA_MD5), "md5");
    ck_assert_str_eq(proxy_hba_method_str(PROXY_HBA_PASSWORD), "password");
    ck_assert_str_eq(proxy_hba_method_str(PROXY_HBA_SCRAM), "scram-sha-256");
    ck_assert_str_eq(proxy_hba_method_str(PROXY_HBA_CERT), "cert");
    ck_assert_str_eq(proxy_hba_method_str((proxy_hba_method)99), "?");
    ck_assert_str_eq(proxy_hba_conn_type_str(PROXY_HBA_LOCAL), "local");
    ck_assert_str_eq(proxy_hba_conn_type_str(PROXY_HBA_HOST), "host");
    ck_assert_str_eq(proxy_hba_conn_type_str(PROXY_HBA_HOSTSSL), "hostssl");
    ck_assert_str_eq(proxy_hba_conn_type_str(PROXY_HBA_HOSTNOSSL), "hostnossl");
    ck_assert_str_eq(proxy_hba_conn_type_str(PROXY_HBA_HOSTGSSENC), "hostgssenc");
    ck_assert_str_eq(proxy_hba_conn_type_str(PROXY_HBA_HOSTNOGSSENC), "hostnogssenc");
    ck_assert_str_eq(proxy_hba_conn_type_str((proxy_hba_conn_type)99), "?");
}
END_TEST

/* Every method keyword round-trips through the file to the rule and back to its name. */
START_TEST(test_every_method)
{
    proxy_hba *h = load("local d1 all trust\n"
                        "local d2 all reject\n"
                        "local d3 all md5\n"
                        "local d4 all password\n"
                        "local d5 all scram-sha-256\n"
                        "hostssl d6 all all cert\n");
    ck_assert_int_eq(proxy_hba_count(h), 6);
    const char *names[] = {"trust", "reject", "md5", "password", "scram-sha-256"};
    for (int i = 0; i < 5; i++) {
        char db[16];
        snprintf(db, sizeof(db), "d%d", i + 1);
        const proxy_hba_rule *r = match(h, NULL, false, db, "u");
        ck_assert_ptr_nonnull(r);
        ck_assert_int_eq(r->line, i + 1);
        ck_assert_int_eq(r->conn_type, PROXY_HBA_LOCAL);
        ck_assert_str_eq(proxy_hba_method_str(r->method), names[i]);
        ck_assert(!r->clientcert_verify_ca && !r->clientcert_verify_full);
    }
    const proxy_hba_rule *r = match(h, "10.0.0.1", true, "d6", "u");
    ck_assert_ptr_nonnull(r);
    ck_assert_int_eq(r->method, PROXY_HBA_CERT);
    ck_assert_int_eq(r->conn_type, PROXY_HBA_HOSTSSL);
    ck_assert(r->clientcert_verify_ca && r->clientcert_verify_full); /* implied by cert */
    ck_assert_ptr_null(match(h, "10.0.0.1", false, "d6", "u"));
    proxy_hba_free(h);
}
END_TEST

/* local, host, hostssl, hostnossl, hostgssenc, hostnogssenc against unix/TCP and TLS. */
START_TEST(test_connection_types)
{
    proxy_hba *h = load("local      l   all            trust\n"
                        "host       h   all  all       trust\n"
                        "hostssl    s   all  all       trust\n"
                        "hostnossl  n   all  all       trust\n"
                        "hostgssenc g   all  all       trust\n"
                        "hostnogssenc ng all 0.0.0.0/0 trust\n"
                        "hostnogssenc ng all ::/0      trust\n");
    ck_assert_int_eq(match_line(h, NULL, false, "l", "u"), 1);
    ck_assert_int_eq(match_line(h, "10.0.0.1", false, "l", "u"), 0);
    ck_assert_int_eq(match_line(h, NULL, false, "h", "u"), 0);
    ck_assert_int_eq(match_line(h, "10.0.0.1", false, "h", "u"), 2);
    ck_assert_int_eq(match_line(h, "10.0.0.1", true, "h", "u"), 2);
    ck_assert_int_eq(match_line(h, "10.0.0.1", true, "s", "u"), 3);
    ck_assert_int_eq(match_line(h, "10.0.0.1", false, "s", "u"), 0);
    ck_assert_int_eq(match_line(h, NULL, true, "s", "u"), 0);
    ck_assert_int_eq(match_line(h, "10.0.0.1", false, "n", "u"), 4);
    ck_assert_int_eq(match_line(h, "10.0.0.1", true, "n", "u"), 0);
    ck_assert_int_eq(match_line(h, NULL, false, "n", "u"), 0);
    /* No GSSAPI: hostgssenc never matches, hostnogssenc matches every TCP client. */
    ck_assert_int_eq(match_line(h, "10.0.0.1", false, "g", "u"), 0);
    ck_assert_int_eq(match_line(h, "10.0.0.1", true, "g", "u"), 0);
    ck_assert_int_eq(match_line(h, "10.0.0.1", false, "ng", "u"), 6);
    ck_assert_int_eq(match_line(h, "10.0.0.1", true, "ng", "u"), 6);
    ck_assert_int_eq(match_line(h, "2001:db8::1", true, "ng", "u"), 7);
    ck_assert_int_eq(match_line(h, NULL, false, "ng", "u"), 0);
    proxy_hba_free(h);
}
END_TEST

START_TEST(test_comments_blank_lines_and_continuations)
{
    proxy_hba *h = load("# a comment\n"
                        "\n"
                        "   \t  \r\n"
                        "local a all trust   # trailing comment\n"
                        "local c \\\n"
                        "  all \\\n"
                        "  trust\n"
                        "local \"d \\\n"
                        "e\" all trust\r\n" /* a continuation inside quotes joins the name */
                        "local f all md5\\\n"
                        "\n"
                        "local g all trust\n");
    ck_assert_int_eq(proxy_hba_count(h), 5);
    ck_assert_int_eq(match_line(h, NULL, false, "a", "u"), 4);
    ck_assert_int_eq(match_line(h, NULL, false, "c", "u"), 5); /* the first line of a record */
    ck_assert_int_eq(match_line(h, NULL, false, "d e", "u"), 8);
    ck_assert_int_eq(match_line(h, NULL, false, "f", "u"), 10);
    ck_assert_int_eq(match_line(h, NULL, false, "g", "u"), 12);
    ck_assert_int_eq(match_line(h, NULL, false, "trust", "u"), 0);
    proxy_hba_free(h);
    teardown();
    setup();
    /* A comment continues too: line 5 is only "local b", which lacks its user. */
    ck_load_error("local a all trust\n\n\n\nlocal b#x\\\n all trust\n", 5,
                  "end-of-line before role specification");
}
END_TEST

START_TEST(test_quoting)
{
    proxy_hba *h = load("local \"all\" bob trust\n"
                        "local sameuser \"all\" md5\n"
                        "local \"a,b\",\"c d\",\"e#f\",\"g\"\"h\" all password\n"
                        "local \"replication\" all reject\n"
                        "local \"sameuser\" \"+admins\" scram-sha-256\n"
                        "\"local\" x all \"trust\"\n");
    /* Quoted keywords are names. */
    ck_assert_int_eq(match_line(h, NULL, false, "all", "bob"), 1);
    ck_assert_int_eq(match_line(h, NULL, false, "other", "bob"), 0);
    ck_assert_int_eq(match_line(h, NULL, false, "all", "all"), 2);
    ck_assert_int_eq(match_line(h, NULL, false, "y", "y"), 0); /* sameuser, but user "all" */
    ck_assert_int_eq(match_line(h, NULL, false, "zed", "all"), 0);
    ck_assert_int_eq(match_line(h, NULL, false, "a,b", "u"), 3);
    ck_assert_int_eq(match_line(h, NULL, false, "c d", "u"), 3);
    ck_assert_int_eq(match_line(h, NULL, false, "e#f", "u"), 3);
    ck_assert_int_eq(match_line(h, NULL, false, "g\"h", "u"), 3);
    ck_assert_int_eq(match_line(h, NULL, false, "a", "u"), 0);
    ck_assert_int_eq(match_line(h, NULL, false, "replication", "u"), 4);
    ck_assert_int_eq(match_line(h, NULL, false, "sameuser", "+admins"), 5);
    ck_assert_int_eq(match_line(h, NULL, false, "sameuser", "admins"), 0);
    /* Connection types and methods are compared as text, quoted or not. */
    ck_assert_int_eq(match_line(h, NULL, false, "x", "u"), 6);
    proxy_hba_free(h);
}
END_TEST

START_TEST(test_lists)
{
    proxy_hba *h = load("local a,b,,c all trust\n"
                        "local d, e   alice,  bob   md5\n"
                        "host  f  all  10.0.0.0/8  trust\n");
    ck_assert_int_eq(match_line(h, NULL, false, "a", "u"), 1);
    ck_assert_int_eq(match_line(h, NULL, false, "b", "u"), 1);
    ck_assert_int_eq(match_line(h, NULL, false, "c", "u"), 1);
    ck_assert_int_eq(match_line(h, NULL, false, "d", "bob"), 2);
    ck_assert_int_eq(match_line(h, NULL, false, "e", "alice"), 2);
    ck_assert_int_eq(match_line(h, NULL, false, "e", "carol"), 0);
    proxy_hba_free(h);
    teardown();
    setup();
    /* "a ,b" is two fields: b becomes the user and "all" the method. */
    ck_load_error("local a ,b all trust\n", 1, "invalid authentication method \"all\"");
}
END_TEST

START_TEST(test_includes)
{
    make_subdir("sub");
    write_file("dbs.txt", "# databases\nsales, \"all\"\n  hr\\\n2 @sub/more.txt\n");
    write_file("sub/more.txt", "ops @even_more.txt\n"); /* relative to sub/ */
    write_file("sub/even_more.txt", "deep\n");
    write_file("users.txt", "alice bob\n/^svc_\n");
    write_file("empty.txt", "# nothing\n\n");
    write_file("with space.txt", "spaced\n");
    char text[512];
    snprintf(text, sizeof(text),
             "local @dbs.txt @users.txt trust\n"
             "local x,@empty.txt,y all md5\n"
             "local @empty.txt all password\n"
             "local \"@dbs.txt\" all reject\n"
             "local @\"with space.txt\" all trust\n"
             "local abs @%s/users.txt scram-sha-256\n"
             "local @ all trust\n",
             dir);
    proxy_hba *h = load(text);
    ck_assert_int_eq(match_line(h, NULL, false, "sales", "alice"), 1);
    ck_assert_int_eq(match_line(h, NULL, false, "all", "bob"), 1); /* quoted in the @file */
    ck_assert_int_eq(match_line(h, NULL, false, "hr2", "bob"), 1); /* continuation in the @file */
    ck_assert_int_eq(match_line(h, NULL, false, "ops", "svc_api"), 1);
    ck_assert_int_eq(match_line(h, NULL, false, "deep", "alice"), 1);
    ck_assert_int_eq(match_line(h, NULL, false, "other", "alice"), 0);
    ck_assert_int_eq(match_line(h, NULL, false, "sales", "carol"), 0);
    ck_assert_int_eq(match_line(h, NULL, false, "x", "u"), 2);
    ck_assert_int_eq(match_line(h, NULL, false, "y", "u"), 2);
    ck_assert_int_eq(match_line(h, NULL, false, "@dbs.txt", "u"), 4);
    ck_assert_int_eq(match_line(h, NULL, false, "spaced", "u"), 5);
    ck_assert_int_eq(match_line(h, NULL, false, "abs", "bob"), 6);
    ck_assert_int_eq(match_line(h, NULL, false, "abs", "carol"), 0);
    ck_assert_int_eq(match_line(h, NULL, false, "@", "u"), 7); /* a lone @ is a name */
    proxy_hba_free(h);
}
END_TEST

START_TEST(test_include_errors)
{
    ck_load_error("local a all trust\nlocal @missing.txt all trust\n", 2,
                  "could not open secondary authentication file \"@missing.txt\"");
    teardown();
    setup();
    write_file("loop.txt", "a @loop.txt\n");
    ck_include_error("\nlocal @loop.txt all trust\n", 2, "more than 10 nested @files");
    teardown();
    setup();
    /* An error inside an @file names that file's line and where the @file was named. */
    write_file("bad.txt", "ok\n\"unterminated\n");
    write_file("pg_hba.conf", "local all @bad.txt trust\n");
    ck_assert_ptr_null(proxy_hba_load(hba_path, err, sizeof(err)));
    ck_assert_msg(strstr(err, "bad.txt:2: unterminated quoted string") != NULL &&
                      strstr(err, "pg_hba.conf:1") != NULL,
                  "%s", err);
    teardown();
    setup();
    write_file("re.txt", "/a(\n");
    ck_include_error("local all @re.txt trust\n", 1, "re.txt:1: invalid regular expression");
}
END_TEST

START_TEST(test_regular_expressions)
{
    proxy_hba *h = load("local /^app_[0-9]+$ all trust\n"
                        "local all /adm md5\n"
                        "local \"/^q$\" all password\n"
                        "local sales,/^tmp /^(alice|bob)$,carol reject\n");
    ck_assert_int_eq(match_line(h, NULL, false, "app_12", "u"), 1);
    ck_assert_int_eq(match_line(h, NULL, false, "app_", "u"), 0);
    ck_assert_int_eq(match_line(h, NULL, false, "xapp_1", "u"), 0);
    ck_assert_int_eq(match_line(h, NULL, false, "d", "badmin"), 2); /* unanchored search */
    ck_assert_int_eq(match_line(h, NULL, false, "q", "u"), 3);      /* quoted: still a regex */
    ck_assert_int_eq(match_line(h, NULL, false, "/^q$", "u"), 0);
    ck_assert_int_eq(match_line(h, NULL, false, "tmp1", "bob"), 4);
    ck_assert_int_eq(match_line(h, NULL, false, "sales", "carol"), 4);
    ck_assert_int_eq(match_line(h, NULL, false, "sales", "bobby"), 0);
    proxy_hba_free(h);
    teardown();
    setup();
    ck_load_error("local all all trust\nlocal /a[b all trust\n", 2,
                  "invalid regular expression \"a[b\"");
    teardown();
    setup();
    ck_load_error("\n\nlocal all /(x trust\n", 3, "invalid regular expression");
}
END_TEST

START_TEST(test_database_and_user_keywords)
{
    proxy_hba *h = load("local sameuser all trust\n"
                        "local samerole all md5\n"
                        "local samegroup all password\n"
                        "local replication all reject\n"
                        "local x +admins scram-sha-256\n"
                        "local all all reject\n");
    ck_assert_int_eq(match_line(h, NULL, false, "alice", "alice"), 1);
    proxy_hba_free(h);
    /* samerole and samegroup: each user is a member of its own role only. */
    h = load("local samerole all md5\n"
             "local samegroup all password\n"
             "local replication all trust\n"
             "local x +admins scram-sha-256\n"
             "local all all reject\n");
    ck_assert_int_eq(match_line(h, NULL, false, "alice", "alice"), 1);
    ck_assert_int_eq(match_line(h, NULL, false, "alice", "bob"), 5);
    /* replication never matches: it falls through to "all". */
    ck_assert_int_eq(match_line(h, NULL, false, "replication", "bob"), 5);
    /* +role: only the user of that name (no groups). */
    ck_assert_int_eq(match_line(h, NULL, false, "x", "admins"), 4);
    ck_assert_int_eq(match_line(h, NULL, false, "x", "alice"), 5);
    proxy_hba_free(h);
    h = load("local samegroup all password\n");
    ck_assert_int_eq(match_line(h, NULL, false, "bob", "bob"), 1);
    ck_assert_int_eq(match_line(h, NULL, false, "bob", "alice"), 0);
    proxy_hba_free(h);
}
END_TEST

START_TEST(test_cidr)
{
    proxy_hba *h = load("host a all 10.0.0.0/8 trust\n"
                        "host a all 192.168.1.77/24 md5\n" /* host bits are ignored */
                        "host a all 172.16.0.1/32 password\n"
                        "host a all 2001:db8::/32 scram-sha-256\n"
                        "host a all ::1/128 reject\n"
                        "host b all 0.0.0.0/0 trust\n"
                        "host c all ::ffff:0:0/96 trust\n"
                        "host d all 127.1/32 trust\n"
                        "host e all 172.16.0.0/12 trust\n"
                        "host e all 2001:db8:8::/45 md5\n"
                        "host e all 192.168.100.0 255.255.252.0 password\n");
    ck_assert_int_eq(match_line(h, "10.255.0.1", false, "a", "u"), 1);
    ck_assert_int_eq(match_line(h, "11.0.0.1", false, "a", "u"), 0);
    ck_assert_int_eq(match_line(h, "192.168.1.1", false, "a", "u"), 2);
    ck_assert_int_eq(match_line(h, "192.168.2.1", false, "a", "u"), 0);
    ck_assert_int_eq(match_line(h, "172.16.0.1", false, "a", "u"), 3);
    ck_assert_int_eq(match_line(h, "172.16.0.2", false, "a", "u"), 0);
    ck_assert_int_eq(match_line(h, "2001:db8:ffff::1", false, "a", "u"), 4);
    ck_assert_int_eq(match_line(h, "2001:db9::1", false, "a", "u"), 0);
    ck_assert_int_eq(match_line(h, "::1", false, "a", "u"), 5);
    ck_assert_int_eq(match_line(h, "1.2.3.4", false, "b", "u"), 6);
    /* Families first, as PostgreSQL: IPv4 records never match IPv6 clients, mapped or not. */
    ck_assert_int_eq(match_line(h, "::ffff:10.0.0.1", false, "a", "u"), 0);
    ck_assert_int_eq(match_line(h, "::ffff:1.2.3.4", false, "b", "u"), 0);
    ck_assert_int_eq(match_line(h, "::ffff:1.2.3.4", false, "c", "u"), 7);
    ck_assert_int_eq(match_line(h, "1.2.3.4", false, "c", "u"), 0);
    /* Addresses are read as getaddrinfo() reads them, like PostgreSQL. */
    ck_assert_int_eq(match_line(h, "127.0.0.1", false, "d", "u"), 8);
    /* Masks that end inside a byte. */
    ck_assert_int_eq(match_line(h, "172.31.255.255", false, "e", "u"), 9);
    ck_assert_int_eq(match_line(h, "172.32.0.0", false, "e", "u"), 0);
    ck_assert_int_eq(match_line(h, "172.15.255.255", false, "e", "u"), 0);
    ck_assert_int_eq(match_line(h, "2001:db8:f:ffff::1", false, "e", "u"), 10);
    ck_assert_int_eq(match_line(h, "2001:db8:10::1", false, "e", "u"), 0);
    ck_assert_int_eq(match_line(h, "2001:db8:7::1", false, "e", "u"), 0);
    ck_assert_int_eq(match_line(h, "192.168.103.9", false, "e", "u"), 11);
    ck_assert_int_eq(match_line(h, "192.168.104.9", false, "e", "u"), 0);
    /* A TCP client without an address matches only "all". */
    proxy_hba_conn c = {.addr = NULL, .database = "b", .user = "u"};
    ck_assert_ptr_null(proxy_hba_match(h, &c));
    proxy_hba_free(h);
}
END_TEST

START_TEST(test_netmask_column)
{
    proxy_hba *h = load("host a all 10.1.0.0 255.255.0.0 trust\n"
                        "host a all 2001:db8:: ffff:ffff:: md5\n");
    ck_assert_int_eq(match_line(h, "10.1.200.3", false, "a", "u"), 1);
    ck_assert_int_eq(match_line(h, "10.2.0.1", false, "a", "u"), 0);
    ck_assert_int_eq(match_line(h, "2001:db8:1::5", false, "a", "u"), 2);
    ck_assert_int_eq(match_line(h, "2001:db9::5", false, "a", "u"), 0);
    proxy_hba_free(h);
    teardown();
    setup();
    h = load("host a all 192.168.0.1 255.255.255.255 password\n");
    ck_assert_int_eq(match_line(h, "192.168.0.1", false, "a", "u"), 1);
    ck_assert_int_eq(match_line(h, "192.168.0.2", false, "a", "u"), 0);
    proxy_hba_free(h);
    teardown();
    setup();
    ck_load_error("host a all 10.0.0.0 ffff:: trust\n", 1, "IP address and mask do not match");
    teardown();
    setup();
    ck_load_error("local a all trust\nhost a all 10.0.0.0 trust\n", 2, "invalid IP mask \"trust\"");
    teardown();
    setup();
    ck_load_error("host a all 10.0.0.0\n", 1, "end-of-line before netmask specification");
    teardown();
    setup();
    ck_load_error("host a all 10.0.0.0 255.0.0.0,255.255.0.0 trust\n", 1,
                  "multiple values specified for netmask");
}
END_TEST

START_TEST(test_address_keywords)
{
    proxy_hba *h = load("host a all all trust\n"
                        "host b all samehost md5\n"
                        "host c all samenet password\n");
    ck_assert_int_eq(match_line(h, "203.0.113.7", false, "a", "u"), 1);
    ck_assert_int_eq(match_line(h, "2001:db8::7", false, "a", "u"), 1);
    /* The loopback interface is 127.0.0.1/8 and ::1/128. */
    ck_assert_int_eq(match_line(h, "127.0.0.1", false, "b", "u"), 2);
    ck_assert_int_eq(match_line(h, "::1", false, "b", "u"), 2);
    ck_assert_int_eq(match_line(h, "127.0.0.2", false, "b", "u"), 0);
    ck_assert_int_eq(match_line(h, "203.0.113.7", false, "b", "u"), 0);
    ck_assert_int_eq(match_line(h, "127.9.9.9", false, "c", "u"), 3);
    ck_assert_int_eq(match_line(h, "203.0.113.7", false, "c", "u"), 0);
    proxy_hba_free(h);
    teardown();
    setup();
    /* Quoted, "all" is a host name. */
    ck_load_error("host a all \"all\" trust\n", 1, "host names are not supported");
}
END_TEST

START_TEST(test_options)
{
    proxy_hba *h = load("hostssl a all all md5 clientcert=verify-ca\n"
                        "hostssl b all all scram-sha-256 clientcert=verify-full,clientname=DN\n"
                        "hostssl c all all trust clientcert=verify-full clientname=CN\n"
                        "hostssl d all all cert clientcert=verify-full\n"
                        "hostssl e all all cert clientname=DN\n"
                        "hostssl f all all md5 clientcert=verify-full clientcert=verify-ca\n"
                        "hostssl g all all md5 clientcert=\"verify-full\"\n");
    const proxy_hba_rule *r = match(h, "10.0.0.1", true, "a", "u");
    ck_assert(r && r->clientcert_verify_ca && !r->clientcert_verify_full && !r->clientname_dn);
    r = match(h, "10.0.0.1", true, "b", "u");
    ck_assert(r && r->clientcert_verify_ca && r->clientcert_verify_full && r->clientname_dn);
    r = match(h, "10.0.0.1", true, "c", "u");
    ck_assert(r && r->clientcert_verify_full && !r->clientname_dn);
    r = match(h, "10.0.0.1", true, "d", "u");
    ck_assert(r && r->method == PROXY_HBA_CERT && r->clientcert_verify_full);
    r = match(h, "10.0.0.1", true, "e", "u");
    ck_assert(r && r->clientcert_verify_ca && r->clientcert_verify_full && r->clientname_dn);
    r = match(h, "10.0.0.1", true, "f", "u"); /* the last one wins */
    ck_assert(r && r->clientcert_verify_ca && !r->clientcert_verify_full);
    r = match(h, "10.0.0.1", true, "g", "u");
    ck_assert(r && r->clientcert_verify_full);
    proxy_hba_free(h);

    static const struct {
        const char *text, *what;
    } bad[] = {
        {"host a all all md5 clientcert=verify-full\n",
         "clientcert can only be configured for \"hostssl\" rows"},
        {"local a all md5 clientname=CN\n",
         "clientname can only be configured for \"hostssl\" rows"},
        {"hostssl a all all md5 clientcert=1\n", "invalid value for clientcert: \"1\""},
        {"hostssl a all all md5 clientcert=no-verify\n", "invalid value for clientcert"},
        {"hostssl a all all md5 clientname=UID\n", "invalid value for clientname: \"UID\""},
        {"hostssl a all all cert clientcert=verify-ca\n",
         "clientcert only accepts \"verify-full\" when using \"cert\" authentication"},
        {"host a all all cert\n", "cert authentication is only supported on hostssl"},
        {"local a all cert\n", "cert authentication is only supported on hostssl"},
        {"hostssl a all all md5 frobnicate=1\n",
         "unrecognized authentication option name: \"frobnicate\""},
        {"hostssl a all all cert map=certmap\n",
         "authentication option \"map\" is not supported by Dormouse"},
        {"host a all all md5 ldapserver=x\n",
         "authentication option \"ldapserver\" is not supported by Dormouse"},
        {"hostssl a all all md5 verify-full\n",
         "authentication option not in name=value format: verify-full"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        teardown();
        setup();
        char text[256];
        snprintf(text, sizeof(text), "local all all trust\n# x\n%s", bad[i].text);
        ck_load_error(text, 3, bad[i].what);
    }
}
END_TEST

START_TEST(test_load_errors)
{
    static const struct {
        const char *line, *what;
    } bad[] = {
        {"hots all all all trust", "invalid connection type \"hots\""},
        {"local,host all all trust", "multiple values specified for connection type"},
        {"include other.conf", "the include directive is not supported by Dormouse"},
        {"include_if_exists other.conf", "include_if_exists directive is not supported"},
        {"include_dir conf.d", "include_dir directive is not supported"},
        {"local", "end-of-line before database specification"},
        {"host all", "end-of-line before role specification"},
        {"host all all", "end-of-line before IP address specification"},
        {"host all all 10.0.0.0/8", "end-of-line before authentication method"},
        {"local all all", "end-of-line before authentication method"},
        {"host all all 10.0.0.0/8,11.0.0.0/8 trust", "multiple values specified for host address"},
        {"local all all trust,md5", "multiple values specified for authentication type"},
        {"local all all blowfish", "invalid authentication method \"blowfish\""},
        {"host all all db.example.com trust", "host names are not supported by Dormouse"},
        {"host all all .example.com trust", "host names are not supported by Dormouse"},
        {"host all all db.example.com/24 trust", "host names are not supported by Dormouse"},
        {"host all all 300.1.1.1/32 trust", "invalid IP address \"300.1.1.1\""},
        {"host all all 1.2.3.4.5 trust", "invalid IP address \"1.2.3.4.5\""},
        {"host all all 2001:db8::zz/64 trust", "invalid IP address \"2001:db8::zz\""},
        {"host all all 10.0.0.0/33 trust", "invalid CIDR mask in address \"10.0.0.0/33\""},
        {"host all all 10.0.0.0/ trust", "invalid CIDR mask in address \"10.0.0.0/\""},
        {"host all all 10.0.0.0/8x trust", "invalid CIDR mask"},
        {"host all all 10.0.0.0/-1 trust", "invalid CIDR mask"},
        {"host all all ::/129 trust", "invalid CIDR mask in address \"::/129\""},
        {"local \"unterminated all trust", "unterminated quoted string"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        teardown();
        setup();
        char text[256];
        snprintf(text, sizeof(text), "local all all trust\n\n%s\nlocal all all md5\n", bad[i].line);
        ck_load_error(text, 3, bad[i].what);
    }
    static const char *const unsupported[] = {"peer", "ident", "ldap", "radius", "pam",
                                              "gss",  "sspi",  "bsd",  "oauth"};
    for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]); i++) {
        teardown();
        setup();
        char text[128], what[128];
        snprintf(text, sizeof(text), "local all all trust\nhost all all all %s\n", unsupported[i]);
        snprintf(what, sizeof(what), "authentication method \"%s\" is not supported by Dormouse",
                 unsupported[i]);
        ck_load_error(text, 2, what);
    }
}
END_TEST

START_TEST(test_file_errors)
{
    ck_assert_ptr_null(proxy_hba_load("/nonexistent/pg_hba.conf", err, sizeof(err)));
    ck_assert_msg(strstr(err, "/nonexistent/pg_hba.conf: could not open the hba file") != NULL,
                  "%s", err);
    ck_assert_ptr_null(proxy_hba_load(NULL, err, sizeof(err)));
    ck_assert_ptr_null(proxy_hba_load("/nonexistent", NULL, 0)); /* no buffer: no crash */

    write_file("pg_hba.conf", "# only comments\n\n");
    ck_assert_ptr_null(proxy_hba_load(hba_path, err, sizeof(err)));
    ck_assert_msg(strstr(err, "contains no entries") != NULL, "%s", err);
    teardown();
    setup();
    write_file("pg_hba.conf", "");
    ck_assert_ptr_null(proxy_hba_load(hba_path, err, sizeof(err)));
    ck_assert_msg(strstr(err, "contains no entries") != NULL, "%s", err);
    teardown();
    setup();
    write_file_len("pg_hba.conf", "local all all trust\nlocal a\0b all trust\n", 40);
    ck_assert_ptr_null(proxy_hba_load(hba_path, err, sizeof(err)));
    ck_assert_msg(strstr(err, "pg_hba.conf:2: line contains a NUL byte") != NULL, "%s", err);
    teardown();
    setup();
    /* A tiny error buffer is truncated, not overrun. */
    write_file("pg_hba.conf", "hots\n");
    char small[8];
    memset(small, 'x', sizeof(small));
    ck_assert_ptr_null(proxy_hba_load(hba_path, small, sizeof(small)));
    ck_assert_int_eq(strlen(small), sizeof(small) - 1);
    /* A file without a final newline still ends its last record. */
    teardown();
    setup();
    proxy_hba *h = load("local all all trust");
    ck_assert_int_eq(proxy_hba_count(h), 1);
    proxy_hba_free(h);
    proxy_hba_free(NULL);
    ck_assert_int_eq(proxy_hba_count(NULL), 0);
}
END_TEST

START_TEST(test_limits)
{
    /* A record of exactly PROXY_HBA_MAX_LINE bytes loads; one byte more does not. */
    size_t cap = PROXY_HBA_MAX_LINE + 64;
    char *text = malloc(cap);
    ck_assert_ptr_nonnull(text);
    const char *head = "local all all trust #";
    size_t n = strlen(head);
    memcpy(text, head, n);
    memset(text + n, 'c', PROXY_HBA_MAX_LINE - n);
    strcpy(text + PROXY_HBA_MAX_LINE, "\n");
    proxy_hba *h = load(text);
    proxy_hba_free(h);
    teardown();
    setup();
    strcpy(text, "local all all trust\n");
    n = strlen(text);
    memcpy(text + n, head, strlen(head));
    memset(text + n + strlen(head), 'c', PROXY_HBA_MAX_LINE + 1 - strlen(head));
    strcpy(text + n + PROXY_HBA_MAX_LINE + 1, "\n");
    ck_load_error(text, 2, "line too long");
    /* A record of PROXY_HBA_MAX_LINE bytes of one-letter items. */
    teardown();
    setup();
    strcpy(text, "local ");
    n = strlen(text);
    for (; n < PROXY_HBA_MAX_LINE - strlen("a all trust"); n++)
        text[n] = n % 2 ? ',' : 'b';
    text[n - 1] = ',';
    strcpy(text + n, "a all trust");
    ck_assert_int_eq(strlen(text), PROXY_HBA_MAX_LINE);
    h = load(text);
    ck_assert_int_eq(match_line(h, NULL, false, "a", "u"), 1);
    ck_assert_int_eq(match_line(h, NULL, false, "b", "u"), 1);
    proxy_hba_free(h);
    free(text);
    /* Continuations count toward the limit. */
    teardown();
    setup();
    text = malloc(2 * PROXY_HBA_MAX_LINE + 64);
    ck_assert_ptr_nonnull(text);
    memcpy(text, head, strlen(head));
    n = strlen(head);
    for (size_t logical = n; logical <= PROXY_HBA_MAX_LINE; logical += 14) {
        memcpy(text + n, "cccccccccccccc\\\n", 16);
        n += 16;
    }
    strcpy(text + n, "\n");
    ck_load_error(text, 1, "line too long");
    free(text);

    /* Records. */
    teardown();
    setup();
    size_t rec = strlen("local all all trust\n");
    text = malloc(rec * (PROXY_HBA_MAX_RULES + 1) + 1);
    ck_assert_ptr_nonnull(text);
    for (int i = 0; i < PROXY_HBA_MAX_RULES; i++)
        memcpy(text + (size_t)i * rec, "local all all trust\n", rec);
    text[rec * PROXY_HBA_MAX_RULES] = '\0';
    h = load(text);
    ck_assert_int_eq(proxy_hba_count(h), PROXY_HBA_MAX_RULES);
    proxy_hba_free(h);
    teardown();
    setup();
    strcpy(text + rec * PROXY_HBA_MAX_RULES, "local all all trust\n");
    ck_load_error(text, PROXY_HBA_MAX_RULES + 1, "too many records");
    free(text);

    /* Names, @files expanded. */
    teardown();
    setup();
    size_t per = PROXY_HBA_MAX_NAMES / 2 + 1;
    text = malloc(per * 2 + 1);
    ck_assert_ptr_nonnull(text);
    for (size_t i = 0; i < per; i++)
        memcpy(text + i * 2, "x\n", 2);
    text[per * 2] = '\0';
    write_file("many.txt", text);
    free(text);
    ck_include_error("local @many.txt all trust\nlocal all @many.txt trust\n", 2,
                     "too many database and user names");
}
END_TEST

START_TEST(test_first_match_wins)
{
    proxy_hba *h = load("local  all   all                 reject\n"
                        "host   all   mallory 0.0.0.0/0   reject\n"
                        "host   sales all     10.0.0.0/8  md5\n"
                        "host   all   all     10.1.0.0/16 trust\n"
                        "hostssl all  all     0.0.0.0/0   scram-sha-256\n"
                        "host   all   all     ::1/128     trust\n");
    const proxy_hba_rule *r = match(h, NULL, false, "sales", "alice");
    ck_assert(r && r->line == 1 && r->method == PROXY_HBA_REJECT);
    r = match(h, "10.1.2.3", false, "sales", "mallory");
    ck_assert(r && r->line == 2 && r->method == PROXY_HBA_REJECT);
    r = match(h, "10.1.2.3", false, "sales", "alice");
    ck_assert(r && r->line == 3 && r->method == PROXY_HBA_MD5);
    r = match(h, "10.1.2.3", false, "hr", "alice");
    ck_assert(r && r->line == 4 && r->method == PROXY_HBA_TRUST);
    r = match(h, "10.2.0.1", true, "hr", "alice");
    ck_assert(r && r->line == 5 && r->method == PROXY_HBA_SCRAM);
    ck_assert_ptr_null(match(h, "10.2.0.1", false, "hr", "alice"));
    ck_assert_int_eq(match_line(h, "::1", false, "hr", "alice"), 6);
    ck_assert_int_eq(match_line(h, "::2", false, "hr", "alice"), 0);
    /* Database and user names are case-sensitive. */
    ck_assert_int_eq(match_line(h, "10.1.2.3", false, "Sales", "alice"), 4);
    ck_assert_int_eq(match_line(h, "10.1.2.3", false, "sales", "Mallory"), 3);
    /* NULL everything: no match, no crash. */
    ck_assert_ptr_null(proxy_hba_match(NULL, NULL));
    ck_assert_ptr_null(proxy_hba_match(h, NULL));
    proxy_hba_conn c = {.is_unix = true};
    r = proxy_hba_match(h, &c);
    ck_assert(r && r->line == 1);
    proxy_hba_free(h);
}
END_TEST

/* Several threads match on one object at once (run under TSan to check). */
static proxy_hba *shared;

static void *match_many(void *arg)
{
    const char *user = arg;
    long good = 0;
    for (int i = 0; i < 20000; i++) {
        struct sockaddr_in in = {.sin_family = AF_INET};
        in.sin_addr.s_addr = htonl(0x0a000001u + (unsigned)(i % 200));
        proxy_hba_conn c = {
            .addr = (const struct sockaddr *)&in, .database = "app_7", .user = user};
        const proxy_hba_rule *r = proxy_hba_match(shared, &c);
        if (r && r->line == (strcmp(user, "svc_a") == 0 ? 1 : 2))
            good++;
    }
    return (void *)good;
}

START_TEST(test_concurrent_matching)
{
    shared = load("host /^app_[0-9]$ /^svc_a$ 10.0.0.0/24 md5\n"
                  "host all all 0.0.0.0/0 reject\n");
    pthread_t t[4];
    const char *users[4] = {"svc_a", "svc_b", "svc_a", "svc_b"};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, match_many, (void *)users[i]), 0);
    for (int i = 0; i < 4; i++) {
        void *good;
        pthread_join(t[i], &good);
        ck_assert_int_eq((long)good, 20000);
    }
    proxy_hba_free(shared);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("hba");
    TCase *tc = tcase_create("hba");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_method_and_conn_type_str);
    tcase_add_test(tc, test_every_method);
    tcase_add_test(tc, test_connection_types);
    tcase_add_test(tc, test_comments_blank_lines_and_continuations);
    tcase_add_test(tc, test_quoting);
    tcase_add_test(tc, test_lists);
    tcase_add_test(tc, test_includes);
    tcase_add_test(tc, test_include_errors);
    tcase_add_test(tc, test_regular_expressions);
    tcase_add_test(tc, test_database_and_user_keywords);
    tcase_add_test(tc, test_cidr);
    tcase_add_test(tc, test_netmask_column);
    tcase_add_test(tc, test_address_keywords);
    tcase_add_test(tc, test_options);
    tcase_add_test(tc, test_load_errors);
    tcase_add_test(tc, test_file_errors);
    tcase_add_test(tc, test_limits);
    tcase_add_test(tc, test_first_match_wins);
    tcase_add_test(tc, test_concurrent_matching);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
