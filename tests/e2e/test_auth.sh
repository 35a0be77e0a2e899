#!/usr/bin/env bash
# test_auth: trust, md5 and scram-sha-256 with a PgBouncer-format auth_file
# holding plain passwords, md5 hashes and SCRAM verifiers; the 28P01 refusals;
# PGPASSWORD; and SIGHUP reloading the auth_file for new connections.
#
# The SCRAM verifier comes from a real PostgreSQL, so Dormouse must accept
# what `CREATE ROLE ... PASSWORD` stores.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "auth_type and auth_file are Dormouse configuration" || dm_finish

pg_start
CAROL_VERIFIER=$(pg_psql -At -c "set password_encryption = 'scram-sha-256'" \
    -c "create role carol login password 'carolpw'" \
    -c "select rolpassword from pg_authid where rolname = 'carol'" 2>&1)
[[ "$CAROL_VERIFIER" == 'SCRAM-SHA-256$'* ]] || die "no SCRAM verifier from PostgreSQL" "$CAROL_VERIFIER"
BOB_MD5=md5$(printf '%s%s' bobpw bob | md5sum | cut -d' ' -f1)
info "bob's md5 entry: $BOB_MD5; carol's verifier: ${CAROL_VERIFIER:0:40}..."

AUTH_FILE=$DM_TMP/userlist.txt
write_auth_file() {
    printf '"%s" "%s"\n' "$@" >"$AUTH_FILE.tmp" && mv "$AUTH_FILE.tmp" "$AUTH_FILE"
}
write_auth_file alice alicepw bob "$BOB_MD5" carol "$CAROL_VERIFIER" alive alivepw

DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)

# login NAME USER PASSWORD: psql with PGPASSWORD must connect and answer.
login_ok() {
    local out
    out=$(PGPASSWORD=$3 dm_psql "$(dm_conninfo authdb "$2")" -At -c "select 'hello ' || 1" 2>&1)
    assert_eq "$1" "hello 1" "$out"
}

# login_refused NAME USER PASSWORD: FATAL 28P01 with PostgreSQL's message,
# through psql (the text users see) and libpq (the SQLSTATE).
login_refused() {
    local out rc
    out=$(PGPASSWORD=$3 dm_psql "$(dm_conninfo authdb "$2")" -At -c "select 1" 2>&1)
    rc=$?
    if [ $rc -ne 0 ] && [[ "$out" == *"FATAL:  password authentication failed for user \"$2\""* ]]; then
        pass "$1: psql shows 'password authentication failed for user \"$2\"'"
    else
        fail "$1: psql shows 'password authentication failed for user \"$2\"'" "exit status $rc" "$out"
    fi
    PGPASSWORD=$3 expect_connect_error "$1: SQLSTATE 28P01" "$(dm_conninfo authdb "$2")" 28P01
}

authreq() {
    "$PYTHON" "$DM_E2E_DIR/rawproto.py" authreq --host "$DM_HOST" --port "$DM_PORT" --user "$1" --db authdb 2>&1
}

raw_login() {
    "$PYTHON" "$DM_E2E_DIR/rawproto.py" alive --host "$DM_HOST" --port "$DM_PORT" --user "$1" \
        --password "$2" --db authdb 2>&1
}

# ---- trust ----
dm_write_config "$DM_TMP/trust.ini" "auth_type = trust"
dm_start "$DM_TMP/trust.ini"
assert_eq "trust: the server answers AuthenticationOk at once" "R 0" "$(authreq somebody)"
out=$(dm_psql "$(dm_conninfo authdb somebody)" -At -c "select 'trusted'" 2>&1)
assert_eq "trust: any user connects without a password" "trusted" "$out"
dm_stop_check "trust: dormouse exits 0"

# ---- md5 ----
dm_write_config "$DM_TMP/md5.ini" "auth_type = md5" "auth_file = $AUTH_FILE"
dm_start "$DM_TMP/md5.ini"
assert_eq "md5: the server asks for an md5 password" "R 5" "$(authreq alice)"
login_ok "md5: plain password in auth_file" alice alicepw
login_ok "md5: md5-hashed password in auth_file" bob bobpw
login_refused "md5: wrong password" alice wrongpw
login_refused "md5: another user's password" alice bobpw
login_refused "md5: unknown user" mallory alicepw
login_refused "md5: the md5 hash itself is not a password" bob "$BOB_MD5"
out=$(dm_psql "$(dm_conninfo authdb alice)" -At -c "select 1" 2>&1)
rc=$?
if [ $rc -ne 0 ] && [[ "$out" == *"no password supplied"* ]]; then
    pass "md5: no password -> the client cannot log in"
else
    fail "md5: no password -> the client cannot log in" "exit status $rc" "$out"
fi
out=$(PGPASSWORD=bobpw dm_client connect "$(dm_conninfo authdb bob)" "select 1" 2>&1)
assert_eq "md5: libpq takes the password from PGPASSWORD" "OK" "$out"
out=$(dm_client connect "$(dm_conninfo authdb alice password=alicepw)" "select 1" 2>&1)
assert_eq "md5: libpq takes the password from the connection string" "OK" "$out"
assert_eq "md5: an independent client implementation (rawproto.py) logs in" \
    "select 42 worked" "$(raw_login bob bobpw)"

# SIGHUP: dave is added and bob removed; new connections see the new file.
login_refused "md5: dave is unknown before the reload" dave davepw
write_auth_file alice alicepw carol "$CAROL_VERIFIER" dave davepw alive alivepw
dave_ok() { [ "$(PGPASSWORD=davepw dm_client connect "$(dm_conninfo authdb dave)" 2>&1)" = OK ]; }
dm_signal HUP
if wait_until 10 dave_ok; then
    pass "md5: after SIGHUP the added user dave can log in"
else
    fail "md5: after SIGHUP the added user dave can log in" \
        "$(PGPASSWORD=davepw dm_client connect "$(dm_conninfo authdb dave)" 2>&1)" "log:" "$(tail -n 20 "$DM_LOG")"
fi
login_refused "md5: after SIGHUP the removed user bob is refused" bob bobpw
login_ok "md5: after SIGHUP alice still logs in" alice alicepw
PGPASSWORD=alivepw dm_alive_check "md5: after SIGHUP"
dm_stop_check "md5: dormouse exits 0"

# ---- scram-sha-256 ----
write_auth_file alice alicepw carol "$CAROL_VERIFIER" alive alivepw
dm_write_config "$DM_TMP/scram.ini" "auth_type = scram-sha-256" "auth_file = $AUTH_FILE"
dm_start "$DM_TMP/scram.ini"
out=$(authreq carol)
if [[ "$out" == "R 10 "* ]] && [[ ",${out#R 10 }," == *",SCRAM-SHA-256,"* ]]; then
    pass "scram: the server offers SASL with SCRAM-SHA-256 ($out)"
else
    fail "scram: the server offers SASL with SCRAM-SHA-256" "$out"
fi
login_ok "scram: SCRAM verifier from PostgreSQL in auth_file" carol carolpw
login_ok "scram: plain password in auth_file" alice alicepw
login_refused "scram: wrong password (verifier)" carol wrongpw
login_refused "scram: wrong password (plain)" alice carolpw
login_refused "scram: unknown user" mallory carolpw
out=$(PGPASSWORD=carolpw dm_client connect "$(dm_conninfo authdb carol)" "select 1" 2>&1)
assert_eq "scram: libpq takes the password from PGPASSWORD" "OK" "$out"
assert_eq "scram: an independent client implementation (rawproto.py) logs in" \
    "select 42 worked" "$(raw_login carol carolpw)"
out=$(raw_login carol wrongpw)
assert_contains "scram: rawproto.py with a wrong password gets 28P01" "$out" "28P01"
dm_stop_check "scram: dormouse exits 0"
dm_finish
