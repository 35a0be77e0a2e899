#!/usr/bin/env bash
# test_hba: auth_type = hba with a pg_hba.conf-format auth_hba_file.  The
# first record that matches the connection type (local, host, hostssl,
# hostnossl), database, user and client address decides: trust, reject,
# password (cleartext), md5, scram-sha-256 or cert, with clientcert; no
# record is FATAL 28000 "no pg_hba.conf entry ...", in PostgreSQL's words.
# A reload picks up a new file; a broken file stops the start (or is
# refused by the reload, which keeps the old one).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
source "$DM_E2E_DIR/certs.sh"

dm_only "auth_hba_file is Dormouse configuration" || dm_finish
C=$DM_TMP/certs
make_test_certs "$C" || die "cannot make the test certificates"
printf '"alice" "alicepw"\n"bob" "bobpw"\n"carol" "carolpw"\n' >"$DM_TMP/users.txt"
DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
SOCK=$(dm_tmpdir sock)
HBA=$DM_TMP/pg_hba.conf
printf 'app_a\napp_b\n' >"$DM_TMP/appdbs"
cat >"$HBA" <<'EOF'
# TYPE   DATABASE       USER      ADDRESS          METHOD
local    all            all                        trust
hostssl  certdb         all       127.0.0.1/32     cert
host     blocked        all       127.0.0.1/32     reject
host     all            bob       127.0.0.2/32     reject
host     plaindb        all       127.0.0.1/32     password
host     md5db          all       127.0.0.1/32     md5
host     @appdbs        alice     127.0.0.1        255.255.255.255   scram-sha-256
host     "/^shop_[0-9]+$"  alice,bob  127.0.0.0/8  scram-sha-256
hostssl  all            carol     127.0.0.1/32     scram-sha-256  clientcert=verify-full
host     all            bob       127.0.0.2/32     scram-sha-256
EOF
dm_write_config "$DM_TMP/hba.ini" "auth_type = hba" "auth_hba_file = $HBA" \
    "auth_file = $DM_TMP/users.txt" "unix_socket_dir = $SOCK" "login_failure_limit = 0" \
    "client_tls_sslmode = prefer" "client_tls_cert_file = $C/server.pem" \
    "client_tls_key_file = $C/server.key" "client_tls_ca_file = $C/ca.pem"
dm_start "$DM_TMP/hba.ini"

# ok NAME EXPECTED CONNINFO: psql answers EXPECTED to select.
ok() { expect_psql_out "$1" "$2" "$3" "select '$2'"; }
NOSSL=sslmode=disable
unset PGPASSWORD
ok "local ... trust: the Unix socket needs no password" "local" "host=$SOCK port=$DM_PORT dbname=any user=nobody"
expect_psql_fails "host ... reject: refused in PostgreSQL's words" "$(dm_conninfo blocked alice $NOSSL)" \
    'pg_hba.conf rejects connection for host "127.0.0.1", user "alice", database "blocked", no encryption'
expect_connect_error "... with SQLSTATE 28000" "$(dm_conninfo blocked alice $NOSSL)" 28000
expect_psql_fails "no matching record: 'no pg_hba.conf entry'" "$(dm_conninfo other alice $NOSSL)" \
    'no pg_hba.conf entry for host "127.0.0.1", user "alice", database "other", no encryption'
PGPASSWORD=alicepw ok "password: a cleartext password is asked for and checked" "plain" "$(dm_conninfo plaindb alice $NOSSL)"
PGPASSWORD=wrong expect_psql_fails "password: a wrong one gets 28P01" "$(dm_conninfo plaindb alice $NOSSL)" \
    'password authentication failed for user "alice"'
PGPASSWORD=bobpw ok "md5" "md5" "$(dm_conninfo md5db bob $NOSSL)"
PGPASSWORD=alicepw ok "an @file list of databases, and an address with a netmask column" "listed" "$(dm_conninfo app_b alice $NOSSL)"
PGPASSWORD=alicepw expect_psql_fails "... a database not in the list has no entry" "$(dm_conninfo app_c alice $NOSSL)" "no pg_hba.conf entry"
PGPASSWORD=bobpw ok "a regular expression for databases, and a user list" "regex" "$(dm_conninfo shop_42 bob $NOSSL)"
PGPASSWORD=bobpw expect_psql_fails "... which must match the whole name when anchored" "$(dm_conninfo shop_42x bob $NOSSL)" "no pg_hba.conf entry"
out=$("$PYTHON" "$DM_E2E_DIR/rawproto.py" alive --host 127.0.0.1 --port "$DM_PORT" --user bob \
    --password bobpw --db md5db --source 127.0.0.2 2>&1)
assert_contains "the client address counts: bob from 127.0.0.2 is rejected by an earlier record" "$out" \
    'pg_hba.conf rejects connection for host "127.0.0.2"'
PGPASSWORD=carolpw expect_psql_fails "hostssl: carol over plaintext has no entry" "$(dm_conninfo anydb carol $NOSSL)" \
    'no pg_hba.conf entry for host "127.0.0.1", user "carol", database "anydb", no encryption'
PGPASSWORD=carolpw expect_psql_fails "hostssl + clientcert=verify-full: TLS without a certificate is refused" \
    "$(dm_conninfo anydb carol sslmode=require)" "connection requires a valid client certificate"
PGPASSWORD=carolpw expect_psql_fails "... and alice's certificate does not name carol" \
    "$(dm_conninfo anydb carol "sslmode=require sslcert=$C/alice.pem sslkey=$C/alice.key")" \
    'certificate authentication failed for user "carol"'
ok "cert: alice's certificate logs her in to certdb without a password" "cert" \
    "$(dm_conninfo certdb alice "sslmode=require sslcert=$C/alice.pem sslkey=$C/alice.key")"
expect_psql_fails "cert: bob's certificate does not log in alice" \
    "$(dm_conninfo certdb alice "sslmode=require sslcert=$C/bob.pem sslkey=$C/bob.key")" \
    'certificate authentication failed for user "alice"'

# reload: a new file decides new logins; a broken one is refused and the old one stays
printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' >"$HBA"
dm_signal HUP
alice_in() { [ "$(dm_psql "$(dm_conninfo blocked alice $NOSSL)" -At -c 'select 1' 2>/dev/null)" = 1 ]; }
if wait_until 10 alice_in; then
    pass "SIGHUP: the new file lets alice into 'blocked' without a password"
else
    fail "SIGHUP: the new file lets alice into 'blocked' without a password" "$(tail -5 "$DM_LOG")"
fi
printf 'host all all 127.0.0.1/32 ident\n' >"$HBA"
dm_signal HUP
if wait_until 10 grep -q 'pg_hba.conf:1: authentication method "ident" is not supported by Dormouse' "$DM_LOG"; then
    pass "a broken file is refused by the reload, naming its line"
else
    fail "a broken file is refused by the reload, naming its line" "$(tail -5 "$DM_LOG")"
fi
ok "... and the old rules stay" "kept" "$(dm_conninfo blocked alice $NOSSL)"
dm_stop_check "dormouse exits 0"

out=$(timeout 20 "$DORMOUSE_BIN" -c "$DM_TMP/hba.ini" 2>&1)
rc=$?
if [ $rc -ne 0 ] && [[ "$out" == *"pg_hba.conf:1:"*"ident"* ]]; then
    pass "a broken auth_hba_file stops the start, naming the file and line"
else
    fail "a broken auth_hba_file stops the start, naming the file and line" "exit $rc" "$out"
fi
dm_write_config "$DM_TMP/nofile.ini" "auth_type = hba"
out=$(timeout 20 "$DORMOUSE_BIN" -c "$DM_TMP/nofile.ini" 2>&1)
assert_contains "auth_type = hba without auth_hba_file is refused" "$out" "auth_type = hba needs an auth_hba_file"
dm_finish
