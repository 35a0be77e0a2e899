#!/usr/bin/env bash
# test_isolation (first part): a tenant's SQL cannot reach other database
# files or learn the server's paths: ATTACH, VACUUM INTO and PRAGMA are not
# PostgreSQL syntax (42601), load_extension is refused, and
# pragma_database_list, which would name the file, is denied by SQLite's
# authorizer (42501).  Harmless pragma functions still answer.  Dormouse's own
# files in data_dir (the usage ledger) cannot be opened as a database, and
# SQLite's file functions (readfile, writefile) do not exist.
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
# Dormouse's own files live beside the tenants' in data_dir: the usage ledger
# (dormouse_ledger.db) must not open as a database.
expect_connect_error "the usage ledger cannot be opened as a database (3D000, reserved)" \
    "$(dm_conninfo dormouse_ledger a)" 3D000 "is reserved"
expect_connect_error "... nor any name starting with dormouse_" "$(dm_conninfo dormouse_usage.0 a)" 3D000 "reserved"
expect_sqlstate "readfile-style functions do not exist" "$CI_" "select readfile('/etc/passwd')" "42883"
expect_sqlstate "nor does writefile" "$CI_" "select writefile('$DM_TMP/w', 'x')" "42883"
expect_sqlstate "fts3_tokenizer, which hands out C pointers, is denied" "$CI_" "select fts3_tokenizer('simple')" "42501"
expect_sqlstate "a value larger than 64 MB is refused before it is built (54000)" "$CI_" "select length(zeroblob(100000000))" "54000"
expect_sqlstate "... so is a string grown past it" "$CI_" "select length(hex(zeroblob(40000000)))" "54000"
assert_eq "a 10 MB value is fine" "10000000" "$(dm_psql "$CI_" -At -c "select length(zeroblob(10000000))" 2>&1)"
dm_stop_check
dm_finish
