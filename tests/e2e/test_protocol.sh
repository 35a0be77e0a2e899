#!/usr/bin/env bash
# test_protocol: raw-socket protocol checks (tests/e2e/rawproto.py).
#
# Malformed, truncated, oversized and abandoned conversations must end in an
# ErrorResponse or a close, never a crash or a hang; after every one of them
# the server must still serve psql.  md5 authentication is on so that a client
# can walk away in the middle of it; max_packet_size is small so that the
# limit is cheap to cross.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

MAX_PACKET=1024
DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
AUTH_FILE=$DM_TMP/userlist.txt
printf '"proto" "protopw"\n"alive" "alivepw"\n' >"$AUTH_FILE"
dm_write_config "$DM_TMP/dormouse.ini" "auth_type = md5" "auth_file = $AUTH_FILE" \
    "max_packet_size = $MAX_PACKET"
dm_start "$DM_TMP/dormouse.ini"
dm_prepare_db proto proto protopw
dm_prepare_db alive alive alivepw
export PGPASSWORD=alivepw # for dm_alive_check's psql

# run_scenario NAME: one rawproto.py scenario, then the server must be alive.
run_scenario() {
    local out rc
    out=$("$PYTHON" "$DM_E2E_DIR/rawproto.py" "$1" --host "$DM_HOST" --port "$DM_PORT" \
        --user proto --password protopw --db proto --max-packet "$MAX_PACKET" \
        --target "$DM_E2E_TARGET" 2>&1)
    rc=$?
    if [ $rc -eq 0 ]; then
        pass "$1: $out"
    else
        fail "$1" "$out"
    fi
    dm_alive_check "after $1"
}

for s in ssl-then-startup gssenc-then-startup gssenc-then-ssl-then-startup ssl-then-gssenc-then-startup \
    ssl-twice startup-params \
    garbage-http garbage-zero-length garbage-random bad-version-2 bad-version-99 \
    startup-too-long startup-no-user startup-unterminated; do
    run_scenario "$s"
done

# PostgreSQL's limit for a Query is 1 GB and it closes silently past it;
# max_packet_size and its 08P01 are Dormouse's.
if dm_only "max_packet_size"; then
    run_scenario oversized-declared
    run_scenario oversized-sent
    run_scenario under-packet-limit
fi

for s in unknown-type query-no-nul empty-query multi-results txn-status column-types \
    truncated-startup truncated-query truncated-type-only disconnect-immediately \
    disconnect-mid-startup disconnect-mid-auth disconnect-mid-query disconnect-mid-result \
    cancel-bogus terminate; do
    run_scenario "$s"
done

# libpq's own negotiation: sslmode=prefer falls back to plain, require fails cleanly.
out=$(dm_psql "$(dm_conninfo proto proto sslmode=prefer password=protopw)" -At -c 'select 7' 2>&1)
assert_eq "psql sslmode=prefer connects without TLS" "7" "$out"
out=$(dm_psql "$(dm_conninfo proto proto sslmode=require password=protopw)" -At -c 'select 7' 2>&1)
rc=$?
if [ $rc -ne 0 ] && [[ "$out" == *"server does not support SSL"* ]]; then
    pass "psql sslmode=require fails cleanly: ${out##*: }"
else
    fail "psql sslmode=require fails cleanly" "exit status $rc" "$out"
fi

# After all of that, everything still works.
run_scenario alive
out=$(dm_psql "$(dm_conninfo proto proto password=protopw)" -At -c 'select 1+1' 2>&1)
assert_eq "final psql query works" "2" "$out"
if dm_only "dormouse exits 0 after the abuse"; then
    dm_stop_check "dormouse exits 0 on SIGTERM after the protocol abuse"
fi
dm_finish
