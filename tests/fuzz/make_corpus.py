#!/usr/bin/env python3
"""Writes the seed corpora of the libFuzzer targets into tests/fuzz/corpus/<name>/.

Small real inputs: protocol messages as clients send them, SCRAM exchanges
that succeed (RFC 7677's example, with and without channel binding), SQL from
tests/unit/storage/test_translate.c, and configuration files.  Run it again
after changing it; regression inputs (corpus/<name>/regress-*) are kept.
"""
import base64
import hashlib
import hmac
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def clean(target):
    d = os.path.join(CORPUS, target)
    if os.path.isdir(d):
        for n in os.listdir(d):
            if not n.startswith("regress-"):
                os.unlink(os.path.join(d, n))


def cstr(s):
    return (s.encode() if isinstance(s, str) else s) + b"\0"


def msg(t, body):
    return t.encode() + struct.pack("!I", len(body) + 4) + body


def startup(params, version=0x00030000):
    body = struct.pack("!I", version)
    for k, v in params:
        body += cstr(k) + cstr(v)
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


# ---- startup ----

def corpus_startup():
    clean("startup")
    write("startup", "user_db", startup([("user", "alice"), ("database", "demo")]))
    write("startup", "psql", startup([("user", "postgres"), ("database", "app"),
                                      ("application_name", "psql"), ("client_encoding", "UTF8")]))
    write("startup", "options", startup([("user", "u"), ("options", "-c search_path=public"),
                                         ("DateStyle", "ISO")]))
    write("startup", "user_only", startup([("user", "bob")]))
    write("startup", "no_user", startup([("database", "demo")]))
    write("startup", "minor_version", startup([("user", "u")], 0x00030002))
    write("startup", "version_2", startup([("user", "u")], 0x00020000))
    write("startup", "ssl_request", struct.pack("!II", 8, 80877103))
    write("startup", "gssenc_request", struct.pack("!II", 8, 80877104))
    write("startup", "cancel", struct.pack("!IIII", 16, 80877102, 4242, 0xDEADBEEF))
    write("startup", "repeated_user", startup([("user", "a"), ("user", "b")]))
    write("startup", "long_user", startup([("user", "x" * 70)]))
    write("startup", "no_terminator", startup([("user", "u")])[:-1])


# ---- frontend ----

def parse(name, query, types=()):
    return msg("P", cstr(name) + cstr(query) + struct.pack("!H", len(types)) +
               b"".join(struct.pack("!I", t) for t in types))


def bind(portal, stmt, formats, values, results):
    b = cstr(portal) + cstr(stmt) + struct.pack("!H", len(formats))
    b += b"".join(struct.pack("!h", f) for f in formats)
    b += struct.pack("!H", len(values))
    for v in values:
        b += struct.pack("!i", -1) if v is None else struct.pack("!I", len(v)) + v
    b += struct.pack("!H", len(results)) + b"".join(struct.pack("!h", f) for f in results)
    return msg("B", b)


def describe(kind, name):
    return msg("D", kind.encode() + cstr(name))


def close(kind, name):
    return msg("C", kind.encode() + cstr(name))


def execute(portal, rows):
    return msg("E", cstr(portal) + struct.pack("!i", rows))


SYNC = msg("S", b"")
FLUSH = msg("H", b"")


def corpus_frontend():
    clean("frontend")
    big = b"\x00"  # first byte: max_packet_size (high bit clear: the default)
    small = b"\x84"  # 4 * 16 = 64 bytes
    write("frontend", "query", big + msg("Q", cstr("select 1")))
    write("frontend", "query_multi", big + msg("Q", cstr("begin; select * from t; commit")))
    write("frontend", "empty_query", big + msg("Q", cstr("")))
    write("frontend", "extended_unnamed", big + parse("", "select $1::int", [23]) +
          bind("", "", [1], [struct.pack("!i", 42)], [0]) + describe("P", "") +
          execute("", 0) + SYNC)
    write("frontend", "extended_named", big + parse("s1", "insert into t values ($1, $2)", [0, 25]) +
          describe("S", "s1") + SYNC + bind("p1", "s1", [0, 1], [b"7", None], [1, 0]) +
          execute("p1", 10) + close("P", "p1") + close("S", "s1") + FLUSH + SYNC)
    write("frontend", "bind_one_format", big + bind("", "s", [1], [b"\0\0\0\1", b"\0\0\0\2"], [1]))
    write("frontend", "bind_no_params", big + bind("", "", [], [], []))
    write("frontend", "password", big + msg("p", cstr("secret")))
    write("frontend", "md5_password", big + msg("p", cstr("md5" + "0" * 32)))
    write("frontend", "sasl_initial", big + msg("p", cstr("SCRAM-SHA-256") + struct.pack("!I", 32) +
                                               b"n,,n=,r=rOprNGfwEbeRWgbNEkqO+abc"))
    write("frontend", "sasl_initial_none", big + msg("p", cstr("SCRAM-SHA-256") + struct.pack("!i", -1)))
    write("frontend", "sasl_response", big + msg("p", b"c=biws,r=abc,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="))
    write("frontend", "copy", big + msg("Q", cstr("copy t from stdin")) + msg("d", b"1\ta\n2\tb\n") +
          msg("d", b"3\tc\n") + msg("c", b""))
    write("frontend", "copy_fail", big + msg("d", b"1\n") + msg("f", cstr("aborted by user")))
    write("frontend", "error_response", big + msg("E", b"SERROR\0VERROR\0C42P01\0Mrelation \"t\" does not exist\0P15\0\0"))
    write("frontend", "notice", big + msg("N", b"SNOTICE\0C00000\0Mhello\0Dmore\0Hhint\0Wctx\0\0"))
    write("frontend", "terminate", big + msg("X", b""))
    write("frontend", "too_large", small + msg("Q", cstr("select '" + "x" * 100 + "'")))
    write("frontend", "incomplete", big + msg("Q", cstr("select 1"))[:7])
    write("frontend", "bad_length", big + b"Q\0\0\0\2")


# ---- scram ----

PASSWORD = b"pencil"
SALT = base64.b64decode("W22ZaJ0SNY7soEsUEjb6gQ==")
ITER = 4096
SNONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
CNONCE = "rOprNGfwEbeRWgbNEkqO"
CB = bytes(range(1, 33))  # fuzz_scram.c's cb_data
GS2_PLUS = "p=tls-server-end-point,,"


def scram_exchange(gs2, cb=b"", bare_user="user", wrong=False, ext=""):
    salted = hashlib.pbkdf2_hmac("sha256", PASSWORD, SALT, ITER)
    ck = hmac.new(salted, b"Client Key", "sha256").digest()
    sk = hashlib.sha256(ck).digest()
    bare = "n=%s,r=%s%s" % (bare_user, CNONCE, ext)
    first = gs2 + bare
    sfirst = "r=%s%s,s=%s,i=%d" % (CNONCE, SNONCE, base64.b64encode(SALT).decode(), ITER)
    cbind = base64.b64encode(gs2.encode() + cb).decode()
    without = "c=%s,r=%s%s" % (cbind, CNONCE, SNONCE)
    am = ",".join([bare, sfirst, without]).encode()
    sig = hmac.new(sk, am, "sha256").digest()
    proof = bytes(a ^ b for a, b in zip(ck, sig))
    if wrong:
        proof = bytes([proof[0] ^ 1]) + proof[1:]
    return first.encode(), (without + ",p=" + base64.b64encode(proof).decode()).encode()


def corpus_scram():
    clean("scram")
    f, fin = scram_exchange("n,,")
    write("scram", "server_ok", b"\x00" + f + b"\0" + fin)
    f2, fin2 = scram_exchange("n,,", bare_user="")
    write("scram", "server_ok_empty_user", b"\x00" + f2 + b"\0" + fin2)
    write("scram", "server_wrong_proof", b"\x00" + f + b"\0" + scram_exchange("n,,", wrong=True)[1])
    write("scram", "server_unknown_user", b"\x04" + f + b"\0" + fin)
    write("scram", "server_first_only", b"\x00" + f)
    yf, yfin = scram_exchange("y,,")
    write("scram", "server_y_flag", b"\x00" + yf + b"\0" + yfin)
    write("scram", "server_y_flag_tls", b"\x28" + yf + b"\0" + yfin)
    pf, pfin = scram_exchange(GS2_PLUS, CB)
    write("scram", "server_plus_ok", b"\x38" + pf + b"\0" + pfin)
    write("scram", "server_plus_unbound", b"\x00" + pf + b"\0" + pfin)
    write("scram", "server_plus_no_tls", b"\x18" + pf + b"\0" + pfin)
    write("scram", "server_tls_no_plus", b"\x28" + f + b"\0" + fin)
    ef, efin = scram_exchange("n,,", ext=",x=ext")
    write("scram", "server_extension", b"\x00" + ef + b"\0" + efin)
    write("scram", "server_authzid", b"\x00" + b"n,a=admin," + f[3:])
    write("scram", "server_mext", b"\x00" + b"n,,m=ext," + f[3:])
    sfirst = "r=%s%s,s=%s,i=%d" % (CNONCE, SNONCE, base64.b64encode(SALT).decode(), ITER)
    write("scram", "client_exchange", b"\x02" + sfirst.encode() + b"\0" +
          b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
    write("scram", "client_extension", b"\x02" + sfirst.encode() + b",x=1\0v=AAAA,y=2")
    write("scram", "client_error", b"\x0a" + sfirst.encode() + b"\0e=invalid-proof")
    write("scram", "verifier", b"\x03SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$"
          b"WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=")
    write("scram", "verifier_bad", b"\x03SCRAM-SHA-256$0:AA==$AA==:AA==")


# ---- translate ----

def c_unescape(s):
    return bytes(s, "utf-8").decode("unicode_escape").encode("latin-1").decode("utf-8", "replace")


def corpus_translate():
    clean("translate")
    src = open(os.path.join(ROOT, "tests/unit/storage/test_translate.c")).read()
    start = src.index("tr_cases[] = {")
    end = src.index("};", start)
    cases = []
    for m in re.finditer(r'^\s*\{"((?:[^"\\]|\\.)*)"', src[start:end], re.M):
        cases.append(c_unescape(m.group(1)))
    # an even sample of the reviewed translations
    step = max(1, len(cases) // 16)
    picked = cases[::step][:16]
    extra = [
        "begin; insert into t values (1, 'a') returning *; commit",
        "create table t (id serial primary key, name text not null default 'x', "
        "created timestamptz default now(), data jsonb, price numeric(10,2) check (price > 0))",
        "create index concurrently if not exists t_name on t using btree (lower(name)) where id > 0",
        "alter table t add column c int references u(id) on delete cascade",
        "update t set a = a + 1, b = default from u where t.id = u.id and u.x ilike 'a%' returning t.*",
        "delete from t using u where t.id = u.id",
        "insert into t (a, b) values (1, 2) on conflict (a) do update set b = excluded.b",
        "select coalesce(a, 0), nullif(b, ''), greatest(1, 2), case when a then 1 else 2 end from t",
        "select a::text, b::int8, c::numeric(5,2), d::timestamp, e::date, '1 day'::interval, x::uuid",
        "select count(*) filter (where a > 1), array_agg(a order by b), string_agg(c, ',') from t",
        "select row_number() over (partition by a order by b rows between 1 preceding and current row) from t",
        "select * from t where a in (select b from u) and exists (select 1 from v where v.a = t.a)",
        "select E'\\x41\\n', U&'\\0041', $$dollar$$, B'101', X'ff', 1e10, .5, 0x1F",
        "select \"quoted \"\" ident\", 'it''s' from \"schema\".\"table\"",
        "select a from t where b ~ '^x' and c similar to 'y%' and d is distinct from e",
        "select jsonb_build_object('a', 1) -> 'a', '{\"b\":2}'::json ->> 'b', data #> '{a,b}' from t",
        "select now(), current_timestamp, extract(epoch from now()), date_trunc('day', now())",
        "select * from pg_catalog.pg_class c join pg_namespace n on n.oid = c.relnamespace",
        "select table_name from information_schema.tables where table_schema = 'public'",
        "copy t (a, b) from stdin with (format csv, header true)",
        "explain select * from t",
        "set search_path to public; show search_path; reset all; discard all",
        "savepoint s1; rollback to savepoint s1; release s1",
        "prepare p as select $1; execute p(1); deallocate p",
        "with x as materialized (select 1) select * from x, lateral (select 2) y",
        "drop table if exists t, u cascade",
        "truncate t restart identity",
        "create view v as select * from t; create temp table tt as select 1 a",
        "select ((((((((((1))))))))))",
        "select -- comment\n 1 /* block */",
    ]
    for i, sql in enumerate(picked):
        write("translate", "case%02d" % i, sql)
    for i, sql in enumerate(extra):
        write("translate", "extra%02d" % i, sql)


# ---- config ----

def corpus_config():
    clean("config")
    write("config", "run_ini", open(os.path.join(ROOT, "scripts/dormouse.ini")).read())
    write("config", "minimal", "[dormouse]\nlisten_port = 6432\n")
    write("config", "every_key", """; comment
[dormouse]
listen_addr = 0.0.0.0
listen_port = 7000
unix_socket_dir = /tmp/socks
data_dir = /var/lib/dm
cold_dir = /var/lib/dm/cold
auth_type = scram-sha-256
auth_file = /etc/dm/users.txt
workers = 2
max_client_conn = 77
max_packet_size = 4096
log_level = debug
sqlite_workers = 3
sqlite_busy_timeout = 250
sqlite_synchronous = normal
sqlite_pool_size = 5
sqlite_release_idle = 0
idle_timeout = 30
min_active_seconds = 5
resume_timeout = 10
server_idle_timeout = 60
server_lifetime = 0
server_connect_timeout = 3
client_login_timeout = 10
max_db_client_connections = 5
max_user_client_connections = 3
idle_transaction_timeout = 20
query_timeout = 2
http_listen = 127.0.0.1:9999
http_auth_token = tok
metering = off
stats_period = 10
admin_users = admin, root
stats_users = stats
""")
    write("config", "pooling", """[pgbouncer]
pool_mode = session
default_pool_size = 10
min_pool_size = 1
reserve_pool_size = 2
reserve_pool_timeout = 3
max_db_connections = 50
query_wait_timeout = 0
max_prepared_statements = 0
server_reset_query =
server_login_retry = 2
auth_user = pgbouncer
auth_query = SELECT usename, passwd FROM pg_shadow WHERE usename=$1
[databases]
app = host=127.0.0.1 port=5432 dbname=app user=app password='se cret' pool_size=20
legacy = host=/var/run/postgresql dbname=legacy pool_mode=statement auth_user=x
demo = engine=sqlite idle_timeout=0
* = engine=sqlite
""")
    write("config", "managed", """[databases]
pgapp = managed_datadir=/var/lib/dormouse/pgapp managed_initdb=yes dbname=pgapp user=app managed_os_user=postgres
""")
    write("config", "plans_quotas", """[dormouse]
usage_minute_days = 7
usage_retention_days = 0
[plan:custom]
description = My plan
price_per_million_rows_read = 0.25
price_per_million_rows_written = 1.0
included_rows_read = 1e6
compute_units = 0.25
min_billing_seconds = 60
ru_per_query = 1
[plan:neon]
price_per_compute_hour = 0.2
[quotas]
demo = rows_read=1000 rows_written=10 compute_seconds=60 storage_mb=5
* = rows_read=100
""")
    write("config", "bad_key", "[dormouse]\nno_such_key = 1\n")
    write("config", "bad_section", "[nope]\na = b\n")
    write("config", "bad_value", "[dormouse]\nlisten_port = 99999\n")
    write("config", "syntax", "[dormouse\nlisten_port\n")
    write("config", "tls", """[dormouse]
client_tls_sslmode = require
client_tls_cert_file = /etc/dm/server.crt
client_tls_key_file = /etc/dm/server.key
client_tls_ca_file = /etc/dm/ca.crt
client_tls_protocols = tlsv1.2,tlsv1.3
client_tls_ciphers = HIGH
server_tls_sslmode = verify-full
""")


# ---- dictionaries (libFuzzer -dict) ----

SQL_WORDS = """select from where group by having order limit offset fetch first rows only union
intersect except all distinct on as join left right full cross inner outer natural using with
recursive materialized lateral values insert into update set delete returning conflict do
nothing excluded create table temp temporary unlogged if not exists primary key references
unique check default null constraint foreign cascade restrict index concurrently view alter
add drop column rename to type truncate restart identity begin commit rollback savepoint
release start transaction isolation level read write serializable prepare execute deallocate
discard show reset copy stdin stdout format csv header delimiter explain analyze case when
then else end and or is true false between like ilike similar escape in any some array row
over partition window filter within collate interval timestamp date time zone at cast
extract epoch numeric integer bigint smallint text varchar char boolean real double precision
bytea json jsonb uuid serial bigserial generated always stored nulls asc desc sequence
schema function returns language trigger grant revoke comment""".split()


def c_strings(paths, pattern=r'"([a-z_][a-z_0-9]*)"'):
    words = set()
    for p in paths:
        words.update(re.findall(pattern, open(os.path.join(ROOT, p)).read()))
    return sorted(words)


def write_dict(name, words):
    with open(os.path.join(HERE, name + ".dict"), "w") as f:
        f.write("# libFuzzer dictionary of fuzz_%s (made by make_corpus.py)\n" % name)
        for w in words:
            esc = "".join("\\" + c if c in '\\"' else c if " " <= c <= "~" else "\\x%02X" % ord(c)
                          for c in w)
            f.write('"%s"\n' % esc)


def dictionaries():
    sql = set(SQL_WORDS) | set(c_strings(["storage/translate.c", "storage/statement.c"]))
    sql |= set("( ) , ; :: $1 ' \" -- /* */ = <> != || -> ->> #> @> ~ ~* !~ % * . [ ]".split())
    write_dict("translate", sorted(sql))
    keys = set(c_strings(["proxy/config.c", "proxy/billing.c"] +
                         ["pool/" + n for n in sorted(os.listdir(os.path.join(ROOT, "pool")))
                          if n.endswith(".c")]))
    keys |= {"[dormouse]", "[pgbouncer]", "[databases]", "[quotas]", "[plan:", " = ", "\n", ";",
             "engine=sqlite", "host=", "port=", "dbname=", "user=", "password='", "*"}
    write_dict("config", sorted(keys))


def main():
    targets = {"startup": corpus_startup, "frontend": corpus_frontend, "scram": corpus_scram,
               "translate": corpus_translate, "config": corpus_config}
    for name in sys.argv[1:] or targets:
        targets[name]()
    if not sys.argv[1:]:
        dictionaries()


if __name__ == "__main__":
    main()
