#!/usr/bin/env bash
# test_isolation (first part): a tenant's SQL cannot reach other database
# files or learn the server's paths: ATTACH, VACUUM INTO and PRAGMA are not
# PostgreSQL syntax (42601), load_extension is refused, and
# pragma_database_list, which would name the file, is denied by SQLite's
# authorizer (42501).  Harmless pragma functions still answer.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "the SQLite engine is Dormouse's" || dm_finish
DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
dm_write_config "$DM_TMP/iso.ini"
dm_start "$DM_TMP/iso.ini"
CI_=$(dm_conninfo tenant_a a)

expect_sqlstate "ATTACH is not PostgreSQL syntax" "$CI_" "attach database '$DM_DATA/tenant_b.db' as b" "42601"
expect_sqlstate "VACUUM INTO is not either" "$CI_" "vacuum into '$DM_TMP/copy.db'" "42601"
expect_sqlstate "nor a PRAGMA statement" "$CI_" "pragma database_list" "42601"
expect_sqlstate "pragma_database_list (the file's path) is denied" "$CI_" "select * from pragma_database_list" "42501"
expect_sqlstate "load_extension is refused" "$CI_" "select load_extension('$DM_TMP/x.so')" "42501"
out=$(dm_psql "$CI_" -At -c "select * from pragma_database_list" 2>&1)
assert_not_contains "the refusal does not name the data directory" "$out" "$DM_DATA"
assert_eq "a harmless pragma function still answers" "1" \
    "$(dm_psql "$CI_" -At -c "select count(*) > 0 from pragma_compile_options" 2>&1 | sed 's/t/1/')"
[ ! -e "$DM_TMP/copy.db" ] && pass "no file was written outside the data directory" ||
    fail "no file was written outside the data directory"
dm_stop_check
dm_finish
