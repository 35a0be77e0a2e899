# tests/e2e/txpool/relay.sh: sourced by test_txpool.sh and test_txpool_abuse.sh
# after lib.sh.
#
# txpool_relay SCRIPT SCENARIO RC OUT [KNOWN_GAPS]: turns the report lines of a
# Python scenario (report.py: PASS/FAIL/VALUE, tab-separated) into this test's
# PASS/FAIL/info lines.  A check named in KNOWN_GAPS (one name per line, #
# comments) that fails is a SKIP, one that passes is a FAIL (the list must
# shrink as gaps close).  A scenario that exited non-zero without reporting a
# failure fails, with its stderr (DM_TMP/py-SCENARIO.err).
txpool_relay() {
    local script=$1 scen=$2 rc=$3 out=$4 gaps=${5:-} kind name detail nfail=0
    while IFS=$'\t' read -r kind name detail; do
        if [ -n "$gaps" ] && { [ "$kind" = PASS ] || [ "$kind" = FAIL ]; } &&
            grep -v '^#' "$gaps" | grep -qxF -- "$name"; then
            if [ "$kind" = FAIL ]; then
                skip "known gap ($(basename "$gaps")): $name"
                nfail=$((nfail + 1)) # explains the scenario's exit status
            else
                fail "$name: passes now; remove it from $gaps"
            fi
            continue
        fi
        case $kind in
        PASS) pass "$name" ;;
        FAIL)
            fail "$name" "$detail"
            nfail=$((nfail + 1))
            ;;
        VALUE) info "$scen: $name = $detail" ;;
        esac
    done <<<"$out"
    if [ "$rc" -ne 0 ] && [ $nfail -eq 0 ]; then
        fail "$script $scen exited with status $rc" "$out" "$(tail -n 30 "$DM_TMP/py-$scen.err")"
    fi
}
