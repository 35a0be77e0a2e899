#!/usr/bin/env bash
# test_neon_http: Neon's "SQL over HTTP" (sql_http_listen, POST /sql) with the
# unmodified npm package @neondatabase/serverless (neon() with
# neonConfig.fetchEndpoint), against the SQLite engine (`* = engine=sqlite`,
# auth_type scram-sha-256) and then against an upstream PostgreSQL this test
# starts (auth_type md5, no `*` rule).
#
# tests/drivers/neon/neon_http_test.mjs runs the driver's checks on each:
# every type through tagged templates and sql.query() with parameters (the JS
# values and type OIDs), arrayMode and fullResults, transactions (commit, a
# failing query rolls the others back, isolationLevel/readOnly/deferrable),
# SQL errors with SQLSTATE and position, logins (wrong password 28P01, md5 and
# SCRAM entries of the auth file, a percent-encoded password, an unknown
# database 3D000), raw requests as Neon's proxy answers them (JSON-typed
# values without Neon-Raw-Text-Output, objects without Neon-Array-Mode, bad
# requests 400, GET 405), the size limits (413, 507), the usage ledger
# (SHOW USAGE and /v1/usage count HTTP queries exactly), and a paused database
# woken by an HTTP query (idle_timeout = 1; SHOW DATABASES' state and
# cold_starts).  This script adds curl requests as README shows them.
#
# node_modules are installed into tests/drivers/neon/ by `npm ci` when missing
# or older than the lockfile (ignored by git), as test_drivers.sh does for
# tests/drivers/node/.  Needs node >= 19, npm (first run) and curl.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "SQL over HTTP is Dormouse's" || dm_finish
command -v curl >/dev/null || die "setup: curl is required"

export TZ=UTC # the reference PostgreSQL's TimeZone (initdb) and the driver's date parsing
NEON_DIR=$DM_SOURCE_DIR/tests/drivers/neon
NODE=${NODE:-node}
NPM=${NPM:-npm}
NODE_TIMEOUT=60 # seconds per run of the Node checks: a bound against a hung server
MAX_REQUEST=65536
MAX_RESPONSE=65536
OUT=$(dm_tmpdir out)

err=$(node_modules_setup "$NEON_DIR" 19 @neondatabase/serverless ws) || die "setup: the Node modules of tests/drivers/neon" "$err"

# ---- the auth file: a plain password, an md5 hash, a SCRAM verifier, a password that needs %-encoding ----

scram_verifier() { # scram_verifier PASSWORD: what PostgreSQL stores in pg_authid.rolpassword
    "$PYTHON" - "$1" <<'PY'
import base64, hashlib, hmac, os, sys
pw, salt, it = sys.argv[1].encode(), os.urandom(16), 4096
salted = hashlib.pbkdf2_hmac("sha256", pw, salt, it)
ck = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
sk = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
b64 = lambda b: base64.b64encode(b).decode()
print(f"SCRAM-SHA-256${it}:{b64(salt)}${b64(hashlib.sha256(ck).digest())}:{b64(sk)}")
PY
}
WEIRD_PW='p@ss:w/rd%?#&= x'
WEIRD_PW_ENC=$("$PYTHON" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$WEIRD_PW")
AUTH_FILE=$DM_TMP/userlist.txt
printf '"%s" "%s"\n' alice alicepw bob "md5$(printf '%s%s' bobpw bob | md5sum | cut -d' ' -f1)" \
    carol "$(scram_verifier carolpw)" weird "$WEIRD_PW" admin adminpw >"$AUTH_FILE"

# url USER PASSWORD_ENCODED DB: a connection string as users write them for neon()
url() { printf 'postgresql://%s:%s@localhost/%s\n' "$1" "$2" "$3"; }

# ---- helpers: curl, JSON, relaying the Node checks ----

# post PATH BODY [curl args...]: prints "STATUS BODY"
post() {
    local path=$1 body=$2
    shift 2
    curl -s -o "$OUT/body" -w '%{http_code}' -X POST "http://127.0.0.1:$SQL_PORT$path" "$@" -d "$body" 2>&1
    printf ' '
    cat "$OUT/body" 2>/dev/null
}
# canon: JSON on stdin, printed with sorted keys (or "not JSON: ...")
canon() {
    "$PYTHON" -c 'import json, sys
t = sys.stdin.read()
try:
    print(json.dumps(json.loads(t), sort_keys=True, ensure_ascii=False, separators=(",", ":")))
except ValueError:
    print("not JSON: " + t[:300])'
}
# expect_400_json NAME STATUS BODY: status 400 and a JSON object with a non-empty string "message"
expect_400_json() {
    local msg
    msg=$(printf '%s' "$3" | "$PYTHON" -c 'import json, sys
try:
    m = json.loads(sys.stdin.read()).get("message")
    print("ok" if isinstance(m, str) and m else "no message")
except Exception:
    print("not a JSON object")')
    if [ "$2" = 400 ] && [ "$msg" = ok ]; then
        pass "$1"
    else
        fail "$1" "status $2, body: $msg" "${3:0:300}"
    fi
}

# run_node ENGINE [VAR=value...]: the Node checks; their PASS/FAIL/INFO/SKIP lines become this test's
run_node() {
    local engine=$1 out line
    shift
    out=$(cd "$NEON_DIR" && env "$@" PSQL="$PSQL" timeout -k 5 "$NODE_TIMEOUT" "$NODE" neon_http_test.mjs "$engine" 2>&1)
    local rc=$?
    printf '%s\n' "$out" >"$OUT/node-$engine.out"
    while IFS= read -r line; do
        case $line in
        PASS:*) pass "${line#PASS: }" ;;
        FAIL:*) fail "${line#FAIL: }" ;;
        INFO:*) info "${line#INFO: }" ;;
        SKIP:*) skip "${line#SKIP: }" ;;
        esac
    done <<<"$out"
    if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        fail "$engine: the Node checks finished within $NODE_TIMEOUT s" "$(tail -n 20 <<<"$out")"
    elif [[ "$out" == *$'\nDONE'* ]]; then
        pass "$engine: the Node checks ran to their end"
    else
        fail "$engine: the Node checks ran to their end" "exit status $rc" "$(tail -n 20 <<<"$out")"
    fi
}

# sql_http_up: the SQL-over-HTTP listener accepts connections
sql_http_up() { curl -s -o /dev/null "http://127.0.0.1:$SQL_PORT/" 2>/dev/null; }

common_keys() {
    printf '%s\n' "auth_file = $AUTH_FILE" "admin_users = admin" "http_listen = 127.0.0.1:$HTTP_PORT" \
        "sql_http_listen = 127.0.0.1:$SQL_PORT" "sql_http_max_request = $MAX_REQUEST" \
        "sql_http_max_response = $MAX_RESPONSE"
}

# ======== SQLite engine ========

DM_PORT=$(free_port) || die "no free port"
SQL_PORT=$(free_port) || die "no free port"
HTTP_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data-sqlite)
mapfile -t keys < <(common_keys)
dm_write_config "$DM_TMP/sqlite.ini" "auth_type = scram-sha-256" "${keys[@]}" \
    "[databases] sleepy = engine=sqlite idle_timeout=1" "[databases] * = engine=sqlite"
dm_start "$DM_TMP/sqlite.ini"
wait_until 10 sql_http_up || die "sql_http_listen 127.0.0.1:$SQL_PORT does not accept connections" "$(tail -n 20 "$DM_LOG")"
pass "sqlite: sql_http_listen = 127.0.0.1:$SQL_PORT accepts connections"

# README's curl example: no Neon-Array-Mode, no Neon-Raw-Text-Output, a JSON number param
CONN="postgresql://alice:alicepw@127.0.0.1/lite"
FIELD_N='{"columnID":0,"dataTypeID":23,"dataTypeModifier":-1,"dataTypeSize":4,"format":"text","name":"n","tableID":0}'
out=$(curl -s -X POST "http://127.0.0.1:$SQL_PORT/sql" -H "Neon-Connection-String: $CONN" \
    -d '{"query":"select $1::int + 1 as n","params":[41]}' | canon)
assert_eq "sqlite: curl as in README (no array mode, no raw text): rows are objects, values JSON-typed" \
    '{"command":"SELECT","fields":['"$FIELD_N"'],"rowAsArray":false,"rowCount":1,"rows":[{"n":42}]}' "$out"
out=$(curl -s -X POST "http://127.0.0.1:$SQL_PORT/sql" -H "Neon-Connection-String: $CONN" -H 'Neon-Array-Mode: true' \
    -d '{"query":"select $1::int + 1 as n","params":[41]}' | canon)
assert_eq "sqlite: curl with Neon-Array-Mode: true: rows are arrays" \
    '{"command":"SELECT","fields":['"$FIELD_N"'],"rowAsArray":true,"rowCount":1,"rows":[[42]]}' "$out"
out=$(curl -s -X POST "http://127.0.0.1:$SQL_PORT/sql" -H "Neon-Connection-String: $CONN" -H 'Neon-Array-Mode: true' \
    -H 'Neon-Raw-Text-Output: true' -d '{"query":"select $1::int + 1 as n","params":["41"]}' | canon)
assert_eq "sqlite: curl with both headers (as the driver sends): arrays of PostgreSQL text" \
    '{"command":"SELECT","fields":['"$FIELD_N"'],"rowAsArray":true,"rowCount":1,"rows":[["42"]]}' "$out"
out=$(curl -s -X POST "http://127.0.0.1:$SQL_PORT/sql" -H "Neon-Connection-String: $CONN" \
    -d '{"queries":[{"query":"create table c (id int primary key)"},{"query":"insert into c values ($1), ($2)","params":[1,2]},{"query":"select count(*) as n from c"}]}' | canon)
assert_eq "sqlite: curl with a batch: one result per query (CREATE/null, INSERT/2, SELECT/1)" \
    '{"results":[{"command":"CREATE","fields":[],"rowAsArray":false,"rowCount":null,"rows":[]},{"command":"INSERT","fields":[],"rowAsArray":false,"rowCount":2,"rows":[]},{"command":"SELECT","fields":[{"columnID":0,"dataTypeID":20,"dataTypeModifier":-1,"dataTypeSize":8,"format":"text","name":"n","tableID":0}],"rowAsArray":false,"rowCount":1,"rows":[{"n":"2"}]}]}' "$out"

# bad requests
read -r status body < <(post /sql '{"query":"select 1"}')
expect_400_json "sqlite: curl without Neon-Connection-String: 400 with a JSON message" "$status" "$body"
read -r status body < <(post /sql '{"query": "select 1",' -H "Neon-Connection-String: $CONN")
expect_400_json "sqlite: curl with invalid JSON: 400 with a JSON message" "$status" "$body"
status=$(curl -s -o "$OUT/body" -w '%{http_code}' "http://127.0.0.1:$SQL_PORT/sql" -H "Neon-Connection-String: $CONN")
assert_eq "sqlite: curl GET /sql: 405" 405 "$status"
head -c $((MAX_REQUEST + 4096)) /dev/zero | tr '\0' 'x' | sed 's/^/{"query":"select 1","params":["/; s/$/"]}/' >"$OUT/big.json"
status=$(curl -s -o "$OUT/body" -w '%{http_code}' -X POST "http://127.0.0.1:$SQL_PORT/sql" \
    -H "Neon-Connection-String: $CONN" --data-binary @"$OUT/big.json")
assert_eq "sqlite: a body over sql_http_max_request ($MAX_REQUEST bytes): 413" 413 "$status"
read -r status body < <(post /sql '{"query":"select 1"}' -H "Neon-Connection-String: postgresql://alice:wrong@127.0.0.1/lite")
assert_eq "sqlite: curl with a wrong password: 400 with code 28P01" "400 28P01" \
    "$status $(printf '%s' "$body" | "$PYTHON" -c 'import json, sys; print(json.loads(sys.stdin.read()).get("code"))' 2>&1)"

run_node sqlite NEON_ENDPOINT="http://127.0.0.1:$SQL_PORT/sql" NEON_URL="$(url alice alicepw lite)" \
    NEON_OK_URLS="{\"SCRAM verifier in the auth file (carol)\": \"$(url carol carolpw lite)\", \"a password with @:/%?#&= and a space, percent-encoded\": \"$(url weird "$WEIRD_PW_ENC" lite)\"}" \
    NEON_SLEEPY_URL="$(url alice alicepw sleepy)" \
    DM_CONSOLE="host=127.0.0.1 port=$DM_PORT dbname=dormouse user=admin" DM_CONSOLE_PASSWORD=adminpw \
    DM_HTTP="http://127.0.0.1:$HTTP_PORT" NEON_MAX_REQUEST=$MAX_REQUEST NEON_MAX_RESPONSE=$MAX_RESPONSE
dm_stop_check "sqlite: dormouse exits 0 on SIGTERM"

# ======== upstream PostgreSQL ========

pg_start
out=$(pg_psql -c "create role app login" -c "create database pgapp owner app" -c "create database pgsleepy owner app" 2>&1) ||
    die "cannot create the upstream role and databases" "$out"
DM_PORT=$(free_port) || die "no free port"
SQL_PORT=$(free_port) || die "no free port"
HTTP_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data-postgres)
mapfile -t keys < <(common_keys)
UP="host=127.0.0.1 port=$PGPORT_REAL user=app"
dm_write_config "$DM_TMP/postgres.ini" "auth_type = md5" "${keys[@]}" \
    "[databases] pgapp = $UP dbname=pgapp" "[databases] pgsleepy = $UP dbname=pgsleepy idle_timeout=1"
dm_start "$DM_TMP/postgres.ini"
wait_until 10 sql_http_up || die "sql_http_listen 127.0.0.1:$SQL_PORT does not accept connections" "$(tail -n 20 "$DM_LOG")"

CONN="postgresql://alice:alicepw@127.0.0.1/pgapp"
out=$(curl -s -X POST "http://127.0.0.1:$SQL_PORT/sql" -H "Neon-Connection-String: $CONN" \
    -d '{"query":"select $1::int + 1 as n","params":[41]}' | canon)
assert_eq "postgres: curl as in README: rows are objects, values JSON-typed" \
    '{"command":"SELECT","fields":['"$FIELD_N"'],"rowAsArray":false,"rowCount":1,"rows":[{"n":42}]}' "$out"
read -r status body < <(post /sql '{"query":"select 1"}' -H "Neon-Connection-String: postgresql://alice:alicepw@127.0.0.1/nosuchdb")
assert_eq "postgres: curl to a database no rule serves: 400 with code 3D000" "400 3D000" \
    "$status $(printf '%s' "$body" | "$PYTHON" -c 'import json, sys; print(json.loads(sys.stdin.read()).get("code"))' 2>&1)"

run_node postgres NEON_ENDPOINT="http://127.0.0.1:$SQL_PORT/sql" NEON_URL="$(url alice alicepw pgapp)" \
    NEON_OK_URLS="{\"md5 hash in the auth file (bob)\": \"$(url bob bobpw pgapp)\", \"SCRAM verifier in the auth file, auth_type md5 (carol)\": \"$(url carol carolpw pgapp)\", \"a password with @:/%?#&= and a space, percent-encoded\": \"$(url weird "$WEIRD_PW_ENC" pgapp)\"}" \
    NEON_NODB_URL="$(url alice alicepw nosuchdb)" NEON_SLEEPY_URL="$(url alice alicepw pgsleepy)" \
    DM_CONSOLE="host=127.0.0.1 port=$DM_PORT dbname=dormouse user=admin" DM_CONSOLE_PASSWORD=adminpw \
    DM_HTTP="http://127.0.0.1:$HTTP_PORT" NEON_MAX_REQUEST=$MAX_REQUEST NEON_MAX_RESPONSE=$MAX_RESPONSE
dm_stop_check "postgres: dormouse exits 0 on SIGTERM"

dm_finish
