#!/usr/bin/env bash
# test_tls: TLS towards clients, with certificates the test makes itself.
#   - client_tls_sslmode = prefer: psql with sslmode=verify-full and the
#     test CA connects over TLS 1.3 (libpq checks our chain and the name
#     127.0.0.1); plaintext clients still connect; a client that trusts
#     another CA refuses us.
#   - SCRAM-SHA-256-PLUS: channel_binding=require logs in over TLS, and
#     cannot over plaintext.
#   - plaintext bytes sent after an SSLRequest (with it, or after 'S') are
#     never taken for a StartupMessage (CVE-2021-23214).
#   - large results and COPY through TLS, and pgbench over TLS.
#   - require: plaintext TCP logins get FATAL 28000; the Unix socket is not TLS
#     and still works; client_tls_protocols = tlsv1.3 refuses TLS 1.2.
#   - verify-ca and verify-full: no certificate, or one from another CA, fails
#     the handshake; verify-full wants the certificate to name the user.
#   - auth_type = cert: the certificate is the login, no password.
#   - towards an upstream PostgreSQL that accepts only TLS: server_tls_sslmode
#     verify-full (with SCRAM-SHA-256-PLUS), disable (refused by the server),
#     verify-ca with the wrong CA (refused by us), prefer (the default).
#   - bad TLS settings stop Dormouse from starting with a clear message.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$DM_E2E_DIR/certs.sh"

dm_only "TLS settings are Dormouse configuration" || dm_finish
command -v openssl >/dev/null || die "openssl is needed to make the test certificates"
C=$DM_TMP/certs
make_test_certs "$C" || die "cannot make the test certificates"

AUTH_FILE=$DM_TMP/userlist.txt
printf '"alice" "alicepw"\n"bob" "bobpw"\n"alive" "alivepw"\n' >"$AUTH_FILE"
DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
SOCK=$(dm_tmpdir sock)
cp "$C/server.pem" "$C/live.pem" && cp "$C/server.key" "$C/live.key"
TLS_KEYS=("client_tls_cert_file = $C/live.pem" "client_tls_key_file = $C/live.key")

# ---- prefer, with SCRAM ----
dm_write_config "$DM_TMP/prefer.ini" "auth_type = scram-sha-256" "auth_file = $AUTH_FILE" \
    "admin_users = alice" "client_tls_sslmode = prefer" "${TLS_KEYS[@]}" "unix_socket_dir = $SOCK"
dm_start "$DM_TMP/prefer.ini"
export PGPASSWORD=alicepw
VERIFY="sslmode=verify-full sslrootcert=$C/ca.pem"
expect_psql_out "prefer: psql with sslmode=verify-full and the test CA connects and answers" \
    "tls 1" "$(dm_conninfo tlsdb alice "$VERIFY")" "select 'tls ' || 1"
expect_psql_out "prefer: a plaintext client (sslmode=disable) connects too" \
    "plain" "$(dm_conninfo tlsdb alice sslmode=disable)" "select 'plain'"
expect_psql_fails "prefer: a client that trusts another CA refuses the server's certificate" \
    "$(dm_conninfo tlsdb alice "sslmode=verify-ca sslrootcert=$C/other-ca.pem")" "certificate verify failed"
expect_psql_out "SCRAM-SHA-256-PLUS: channel_binding=require logs in over TLS" \
    "bound" "$(dm_conninfo tlsdb alice "$VERIFY channel_binding=require")" "select 'bound'"
expect_psql_fails "SCRAM-SHA-256-PLUS: channel_binding=require cannot log in without TLS" \
    "$(dm_conninfo tlsdb alice "sslmode=disable channel_binding=require")" "channel binding"
PGPASSWORD=wrong expect_psql_fails "SCRAM-SHA-256-PLUS: a wrong password is still refused (28P01)" \
    "$(dm_conninfo tlsdb alice "$VERIFY channel_binding=require")" "password authentication failed"

relay_checks "$(timeout 180 "$PYTHON" - "$DM_PORT" "$C" <<'PY'
import socket, ssl, struct, sys
import psycopg, psycopg2
from dmlib import report
port, certs = int(sys.argv[1]), sys.argv[2]
base = f"host=127.0.0.1 port={port} dbname=tlsdb user=alice password=alicepw"

c2 = psycopg2.connect(base + f" sslmode=verify-full sslrootcert={certs}/ca.pem")
info = c2.info
report(info.ssl_in_use and info.ssl_attribute("protocol") == "TLSv1.3",
       "prefer: the connection is TLS 1.3", (info.ssl_in_use, info.ssl_attribute("protocol")))
c2.close()
c = psycopg.connect(base + f" sslmode=verify-full sslrootcert={certs}/ca.pem", autocommit=True)
report(c.pgconn.ssl_in_use, "psycopg 3 over TLS too")
con = psycopg.connect(f"host=127.0.0.1 port={port} dbname=dormouse user=alice password=alicepw sslmode=disable",
                      autocommit=True, cursor_factory=psycopg.ClientCursor)
cur = con.execute("SHOW CLIENTS")
cols = [d.name for d in cur.description]
tls = sorted(dict(zip(cols, r))["tls"] for r in cur.fetchall())
report(tls == ["", "TLSv1.3/TLS_AES_256_GCM_SHA384"], "SHOW CLIENTS shows each client's TLS version and cipher", tls)
con.close()
# a result far larger than a TLS record and than the socket buffers
rows = c.execute("with recursive n(x) as (select 1 union all select x + 1 from n where x < 100000) "
                 "select x, 'row number ' || x || ' with some padding to make it longer' from n").fetchall()
report(len(rows) == 100000 and rows[-1][0] == 100000, "a 100000-row result comes through TLS whole",
       len(rows))
c.execute("create table big (id int, t text)")
with c.cursor().copy("copy big from stdin") as cp:
    for i in range(50000):
        cp.write_row((i, "x" * 40))
n = c.execute("select count(*), sum(length(t)) from big").fetchone()
report(n == (50000, 2000000), "COPY FROM STDIN of 2 MB through TLS", n)
out = bytearray()
with c.cursor().copy("copy big to stdout") as cp:
    for chunk in cp:
        out += chunk
report(out.count(b"\n") == 50000, "COPY TO STDOUT through TLS", out.count(b"\n"))
c.close()

def raw(send, then=b""):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(send)
    first = s.recv(1)
    s.sendall(then)
    data = b""
    try:
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return first, data

ssl_request = struct.pack("!II", 8, 80877103)
startup = b"user\0alice\0database\0tlsdb\0\0"
startup = struct.pack("!II", 8 + len(startup), 196608) + startup
first, rest = raw(ssl_request + startup)
report(first == b"E" and b"C08P01" in rest and b"received unencrypted data after SSL request" in rest,
       "CVE-2021-23214: a StartupMessage sent with the SSLRequest is refused (08P01)", (first, rest[:120]))
first, rest = raw(ssl_request, startup)
report(first == b"S" and b"R\0\0\0" not in rest and not rest.startswith(b"R"),
       "CVE-2021-23214: plaintext sent after 'S' is taken as a failed handshake, never as a login",
       (first, rest[:60]))

# a client that speaks TLS from Python's ssl module, to the end
ctx = ssl.create_default_context(cafile=f"{certs}/ca.pem")
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.sendall(ssl_request)
report(s.recv(1) == b"S", "SSLRequest is answered 'S'")
t = ctx.wrap_socket(s, server_hostname="127.0.0.1")
report(t.version() == "TLSv1.3" and t.getpeercert()["subject"][0][0][1] == "127.0.0.1",
       "Python's ssl verifies the server certificate for 127.0.0.1", t.version())
t.sendall(struct.pack("!II", 8, 80877103))  # a second SSLRequest, inside TLS
data = t.recv(4096)
report(data[:1] == b"E" and b"duplicate SSL negotiation request" in data,
       "a second SSLRequest inside TLS is a protocol violation", data[:80])
t.close()
print("DONE")
PY
)"

# pgbench over TLS (its own connections, and one per transaction with -C)
PGB=$PG_BINDIR/pgbench
out=$("$PGB" -i -s 1 -q "$(dm_conninfo tlsdb alice "$VERIFY")" 2>&1)
assert_rc "pgbench -i over TLS" 0 $?
out=$("$PGB" -n -c 4 -t 50 -S "$(dm_conninfo tlsdb alice "$VERIFY")" 2>&1)
assert_contains "pgbench -S -c 4 over TLS finishes every transaction" "$out" "number of transactions actually processed: 200/200"
out=$("$PGB" -n -C -c 2 -t 25 -S "$(dm_conninfo tlsdb alice "$VERIFY")" 2>&1)
assert_contains "pgbench -C (a TLS handshake and SCRAM login per transaction)" "$out" "number of transactions actually processed: 50/50"
# RELOAD (SIGHUP) takes a new certificate for new connections
cp "$C/server2.pem" "$C/live.pem" && cp "$C/server2.key" "$C/live.key"
dm_signal HUP
other_ca_ok() { [ "$(dm_psql "$(dm_conninfo tlsdb alice "sslmode=verify-full sslrootcert=$C/other-ca.pem")" -At -c "select 1" 2>/dev/null)" = 1 ]; }
if wait_until 10 other_ca_ok; then
    pass "SIGHUP: new connections get the new certificate (signed by the other CA)"
else
    fail "SIGHUP: new connections get the new certificate (signed by the other CA)" "$(tail -5 "$DM_LOG")"
fi
expect_psql_fails "... and the old CA no longer verifies it" "$(dm_conninfo tlsdb alice "$VERIFY")" "certificate verify failed"
cp "$C/server.pem" "$C/live.pem" && cp "$C/server.key" "$C/live.key"
dm_stop_check "prefer: dormouse exits 0"

# ---- require ----
dm_write_config "$DM_TMP/require.ini" "auth_type = scram-sha-256" "auth_file = $AUTH_FILE" \
    "client_tls_sslmode = require" "${TLS_KEYS[@]}" "unix_socket_dir = $SOCK" \
    "client_tls_protocols = tlsv1.3"
dm_start "$DM_TMP/require.ini"
expect_psql_fails "require: a plaintext TCP login gets FATAL 'SSL required'" \
    "$(dm_conninfo tlsdb alice sslmode=disable)" "SSL required"
expect_connect_error "require: ... with SQLSTATE 28000" "$(dm_conninfo tlsdb alice sslmode=disable)" 28000
expect_psql_out "require: sslmode=require connects" "ok" "$(dm_conninfo tlsdb alice sslmode=require)" "select 'ok'"
expect_psql_out "require: the Unix socket needs no TLS" "unix" \
    "host=$SOCK port=$DM_PORT dbname=tlsdb user=alice" "select 'unix'"
expect_psql_fails "client_tls_protocols = tlsv1.3: a TLS 1.2 client is refused" \
    "$(dm_conninfo tlsdb alice "sslmode=require ssl_max_protocol_version=TLSv1.2")" "SSL"
out=$(timeout 60 "$PYTHON" - "$DM_PORT" "$DM_SLOW_SQL" <<'PY'
import sys, threading, time
import psycopg
from dmlib import report
port, slow = sys.argv[1], sys.argv[2].replace("10000000", "300000000")
c = psycopg.connect(f"host=127.0.0.1 port={port} dbname=tlsdb user=alice password=alicepw sslmode=require",
                    autocommit=True)
threading.Timer(1.0, c.cancel).start()  # libpq sends the CancelRequest in plaintext
try:
    c.execute(slow)
    report(False, "require: a CancelRequest (plaintext, as libpq sends it) still cancels", "not cancelled")
except psycopg.errors.QueryCanceled:
    report(True, "require: a CancelRequest (plaintext, as libpq sends it) still cancels")
report(c.execute("select 1").fetchone()[0] == 1, "... and the TLS session goes on")
print("DONE")
PY
)
relay_checks "$out"
expect_psql_out "client_tls_protocols = tlsv1.3: a TLS 1.3 client connects" "13" \
    "$(dm_conninfo tlsdb alice "sslmode=require ssl_min_protocol_version=TLSv1.3")" "select 13"
dm_stop_check "require: dormouse exits 0"

# ---- TLS 1.2 with a chosen cipher ----
dm_write_config "$DM_TMP/ciphers.ini" "client_tls_sslmode = require" "${TLS_KEYS[@]}" \
    "client_tls_protocols = tlsv1.2" "client_tls_ciphers = ECDHE-ECDSA-AES128-GCM-SHA256"
dm_start "$DM_TMP/ciphers.ini"
out=$("$PYTHON" -c '
import sys, psycopg2
c = psycopg2.connect(sys.argv[1])
print(c.info.ssl_attribute("protocol"), c.info.ssl_attribute("cipher"))' "$(dm_conninfo tlsdb alice sslmode=require)" 2>&1)
assert_eq "client_tls_protocols and client_tls_ciphers: TLS 1.2 with the one cipher allowed" \
    "TLSv1.2 ECDHE-ECDSA-AES128-GCM-SHA256" "$out"
dm_stop_check "ciphers: dormouse exits 0"

# ---- verify-ca and verify-full ----
dm_write_config "$DM_TMP/vca.ini" "auth_type = scram-sha-256" "auth_file = $AUTH_FILE" \
    "client_tls_sslmode = verify-ca" "${TLS_KEYS[@]}" "client_tls_ca_file = $C/ca.pem"
dm_start "$DM_TMP/vca.ini"
expect_psql_fails "verify-ca: a client without a certificate fails the handshake" \
    "$(dm_conninfo tlsdb alice sslmode=require)" "certificate"
expect_psql_fails "verify-ca: a certificate from another CA fails the handshake" \
    "$(dm_conninfo tlsdb alice "sslmode=require sslcert=$C/mallory.pem sslkey=$C/mallory.key")" "SSL"
expect_psql_out "verify-ca: alice's certificate and password log in" "ca" \
    "$(dm_conninfo tlsdb alice "sslmode=require sslcert=$C/alice.pem sslkey=$C/alice.key")" "select 'ca'"
PGPASSWORD=bobpw expect_psql_out "verify-ca: any valid certificate will do (bob with alice's)" "any" \
    "$(dm_conninfo tlsdb bob "sslmode=require sslcert=$C/alice.pem sslkey=$C/alice.key")" "select 'any'"
dm_stop_check "verify-ca: dormouse exits 0"

dm_write_config "$DM_TMP/vfull.ini" "auth_type = scram-sha-256" "auth_file = $AUTH_FILE" \
    "client_tls_sslmode = verify-full" "${TLS_KEYS[@]}" "client_tls_ca_file = $C/ca.pem"
dm_start "$DM_TMP/vfull.ini"
expect_psql_out "verify-full: alice's certificate logs alice in" "full" \
    "$(dm_conninfo tlsdb alice "sslmode=require sslcert=$C/alice.pem sslkey=$C/alice.key")" "select 'full'"
PGPASSWORD=bobpw expect_psql_fails "verify-full: alice's certificate cannot log bob in" \
    "$(dm_conninfo tlsdb bob "sslmode=require sslcert=$C/alice.pem sslkey=$C/alice.key")" \
    "certificate authentication failed for user \"bob\""
dm_stop_check "verify-full: dormouse exits 0"

# ---- auth_type = cert ----
dm_write_config "$DM_TMP/cert.ini" "auth_type = cert" "unix_socket_dir = $SOCK" \
    "client_tls_sslmode = verify-ca" "${TLS_KEYS[@]}" "client_tls_ca_file = $C/ca.pem"
dm_start "$DM_TMP/cert.ini"
unset PGPASSWORD
expect_psql_out "cert: alice's certificate is her login (no password)" "alice" \
    "$(dm_conninfo tlsdb alice "sslmode=verify-full sslrootcert=$C/ca.pem sslcert=$C/alice.pem sslkey=$C/alice.key")" \
    "select 'alice'"
expect_psql_fails "cert: bob's certificate cannot log in as alice" \
    "$(dm_conninfo tlsdb alice "sslmode=require sslcert=$C/bob.pem sslkey=$C/bob.key")" \
    "certificate authentication failed for user \"alice\""
expect_psql_fails "cert: mallory's CN=alice from another CA fails the handshake" \
    "$(dm_conninfo tlsdb alice "sslmode=require sslcert=$C/mallory.pem sslkey=$C/mallory.key")" "SSL"
expect_psql_fails "cert: the Unix socket (never TLS) has no certificate to log in with (28000)" \
    "host=$SOCK port=$DM_PORT dbname=tlsdb user=alice" "connection requires a valid client certificate"
dm_stop_check "cert: dormouse exits 0"

# ---- towards an upstream PostgreSQL that accepts only TLS ----
PGD=$(dm_tmpdir pgtls)
PGTLS_PORT=$(free_port) || die "no free port"
mkdir -p "$PGD/certs" && cp "$C/server.pem" "$C/server.key" "$PGD/certs/" && chmod 600 "$PGD/certs/server.key"
DM_PG_DATADIRS+=("$PGD/data")
_pg_cluster_start "$PGD" "$PGTLS_PORT" scram-sha-256 ssl=on "ssl_cert_file=$PGD/certs/server.pem" \
    "ssl_key_file=$PGD/certs/server.key" >/dev/null 2>"$PGD/start.err" ||
    die "cannot start a PostgreSQL with TLS" "$(cat "$PGD/start.err")"
printf 'local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n' >"$PGD/data/pg_hba.conf"
_as_pg "$PG_BINDIR/pg_ctl" -D "$PGD/data" reload >/dev/null 2>&1
"$PSQL" -X -q -h "$PGD/sock" -p "$PGTLS_PORT" -U postgres -d postgres \
    -c "create role app login password 'apppw'" -c "create database appdb owner app" >/dev/null ||
    die "cannot create the upstream role"
UP="host=127.0.0.1 port=$PGTLS_PORT dbname=appdb user=app password=apppw"
SSLQ="select ssl || ' ' || version from pg_stat_ssl where pid = pg_backend_pid()"
dm_write_config "$DM_TMP/up.ini" "server_tls_sslmode = verify-full" "server_tls_ca_file = $C/ca.pem" \
    "[databases] appdb = $UP"
dm_start "$DM_TMP/up.ini"
expect_psql_out "server_tls_sslmode = verify-full: the upstream connection is TLS 1.3 (pg_stat_ssl)" \
    "true TLSv1.3" "$(dm_conninfo appdb app)" "$SSLQ"
expect_psql_out "... and SCRAM-SHA-256-PLUS logged it in (the server checked our channel binding)" "app" \
    "$(dm_conninfo appdb app)" "select current_user"
dm_stop_check "server TLS: dormouse exits 0"
dm_write_config "$DM_TMP/up2.ini" "server_tls_sslmode = disable" "[databases] appdb = $UP"
dm_start "$DM_TMP/up2.ini"
expect_psql_fails "server_tls_sslmode = disable: a TLS-only server refuses the login, and the client is told" \
    "$(dm_conninfo appdb app)" "no encryption"
dm_stop_check "server TLS disabled: dormouse exits 0"
dm_write_config "$DM_TMP/up3.ini" "server_tls_sslmode = verify-ca" "server_tls_ca_file = $C/other-ca.pem" \
    "[databases] appdb = $UP"
dm_start "$DM_TMP/up3.ini"
expect_psql_fails "server_tls_sslmode = verify-ca: a server certificate from another CA is refused" \
    "$(dm_conninfo appdb app)" "certificate verify failed"
dm_stop_check "server TLS verify-ca: dormouse exits 0"
dm_write_config "$DM_TMP/up4.ini" "[databases] appdb = $UP"
dm_start "$DM_TMP/up4.ini"
expect_psql_out "server_tls_sslmode = prefer (the default) uses TLS when the server has it" \
    "true TLSv1.3" "$(dm_conninfo appdb app)" "$SSLQ"
dm_stop_check "server TLS prefer: dormouse exits 0"

# ---- settings that cannot work ----
bad_start() {
    local name=$1 want=$2
    shift 2
    dm_write_config "$DM_TMP/bad.ini" "$@"
    local out
    out=$(timeout 20 "$DORMOUSE_BIN" -c "$DM_TMP/bad.ini" 2>&1)
    local rc=$?
    if [ $rc -ne 0 ] && [[ "$out" == *"$want"* ]]; then
        pass "$name"
    else
        fail "$name" "exit $rc, expected '$want'" "$out"
    fi
}
bad_start "a missing certificate file stops the start, naming it" "client_tls_cert_file $C/nope.pem" \
    "client_tls_sslmode = require" "client_tls_cert_file = $C/nope.pem" "client_tls_key_file = $C/server.key"
bad_start "a key that does not match the certificate stops the start" "client_tls_key_file" \
    "client_tls_sslmode = require" "client_tls_cert_file = $C/server.pem" "client_tls_key_file = $C/alice.key"
bad_start "verify-ca without a CA file stops the start" "needs client_tls_ca_file" \
    "client_tls_sslmode = verify-ca" "${TLS_KEYS[@]}"
bad_start "require without a certificate stops the start" "needs client_tls_cert_file" \
    "client_tls_sslmode = require"
bad_start "an unknown sslmode is refused" "client_tls_sslmode must be" "client_tls_sslmode = maybe"
bad_start "an unknown protocol is refused" "client_tls_protocols" \
    "client_tls_sslmode = require" "${TLS_KEYS[@]}" "client_tls_protocols = sslv3"
bad_start "auth_type = cert without verify-ca is refused" "auth_type = cert needs" \
    "auth_type = cert" "client_tls_sslmode = require" "${TLS_KEYS[@]}"

dm_finish
