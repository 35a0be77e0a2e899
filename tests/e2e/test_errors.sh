#!/usr/bin/env bash
# test_errors: SQLSTATEs, transaction-block rules, multi-statement messages,
# syntax error positions, invalid database names and clean session ends.
#
# Expected outputs are PostgreSQL's (run with DM_E2E_TARGET=postgres to see
# them produced by a real PostgreSQL).  The script sessions use the format of
# `dm_e2e_client script`: "A: <results> [transaction status]".
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
dm_write_config "$DM_TMP/dormouse.ini" "max_client_conn = 4"
dm_start "$DM_TMP/dormouse.ini"
dm_prepare_db errs errs
CI=$(dm_conninfo errs errs)

# run_script NAME EXPECTED: feeds stdin to `dm_e2e_client script` and compares.
run_script() {
    local name=$1 expected=$2 out rc
    out=$(dm_client script "$CI" 2>&1)
    rc=$?
    if [ $rc -ne 0 ]; then
        fail "$name" "dm_e2e_client script exited $rc" "$out"
        return 1
    fi
    assert_eq "$name" "$expected" "$out"
}

# ---- schema ----
run_script "schema for the error checks" "$(
    cat <<'EOF'
A: CREATE TABLE [I]
A: CREATE TABLE [I]
A: INSERT 0 2 [I]
A: INSERT 0 1 [I]
EOF
)" <<'EOF'
A create table parent(id integer primary key, name text not null unique)
A create table child(id integer primary key, parent_id integer not null references parent(id))
A insert into parent values (1, 'one'), (2, 'two')
A insert into child values (1, 1)
EOF

# ---- SQLite errors map to PostgreSQL's SQLSTATEs ----
expect_sqlstate "undefined table -> 42P01" "$CI" "select * from no_such_table" 42P01
expect_sqlstate "syntax error -> 42601" "$CI" "selec 1" 42601
expect_sqlstate "syntax error (trailing garbage) -> 42601" "$CI" "select 1 from parent where" 42601
expect_sqlstate "primary key violation -> 23505" "$CI" "insert into parent values (1, 'uno')" 23505
expect_sqlstate "unique violation -> 23505" "$CI" "insert into parent values (3, 'one')" 23505
expect_sqlstate "not null violation -> 23502" "$CI" "insert into parent(id) values (4)" 23502
expect_sqlstate "foreign key violation on insert -> 23503" "$CI" "insert into child values (2, 99)" 23503
expect_sqlstate "foreign key violation on delete -> 23503" "$CI" "delete from parent where id = 1" 23503
expect_sqlstate "undefined column -> 42703" "$CI" "select no_such_column from parent" 42703
expect_sqlstate "undefined column in insert -> 42703" "$CI" "insert into parent(id, nope) values (5, 'x')" 42703
expect_sqlstate "duplicate table -> 42P07" "$CI" "create table parent(x integer)" 42P07
expect_sqlstate "a valid statement -> OK" "$CI" "select name from parent where id = 2" OK

# The error response is a proper ERROR with a message.
out=$(dm_client error "$CI" "select * from no_such_table" 2>&1)
assert_contains "42P01 is sent with severity ERROR" "$out" "severity=ERROR"
assert_contains "42P01 names the relation" "$out" "no_such_table"

# ---- syntax error position (1-based character offset, as PostgreSQL) ----
out=$(dm_client error "$CI" "selec 1" 2>&1)
assert_contains "syntax error: message" "$out" 'message=syntax error at or near "selec"'
assert_contains "syntax error: position of 'selec'" "$out" "position=1"
out=$(dm_client error "$CI" "select id from parent where id = = 1" 2>&1)
assert_contains "syntax error mid-statement: message" "$out" 'message=syntax error at or near "="'
assert_contains "syntax error mid-statement: position" "$out" "position=34"
out=$(dm_client error "$CI" "select 1 from parent where" 2>&1)
assert_contains "syntax error at end of input: message" "$out" "message=syntax error at end of input"
assert_contains "syntax error at end of input: position" "$out" "position=27"
out=$(dm_client error "$CI" "select 'ünïcödé', 1 frm parent" 2>&1)
assert_contains "syntax error after multibyte text: position counts characters" "$out" "position=25"

# ---- an error ends the statement, not the session ----
run_script "after an error outside a block the session goes on" "$(
    cat <<'EOF'
A: ERROR:23505 [I]
A: SELECT 1{2} [I]
A: ERROR:42P01 [I]
A: INSERT 0 1 [I]
A: DELETE 1 [I]
EOF
)" <<'EOF'
A insert into parent values (1, 'dup')
A select count(*) from parent
A select * from nope
A insert into parent values (3, 'three')
A delete from parent where id = 3
EOF

# ---- transaction blocks: 25P02 until ROLLBACK; COMMIT of a failed block ----
run_script "failed block: 25P02 until ROLLBACK, nothing of the block survives" "$(
    cat <<'EOF'
A: BEGIN [T]
A: INSERT 0 1 [T]
A: ERROR:42P01 [E]
A: ERROR:25P02 [E]
A: ERROR:25P02 [E]
A: ROLLBACK [I]
A: SELECT 1{0} [I]
A: SELECT 1{1} [I]
EOF
)" <<'EOF'
A begin
A insert into parent values (10, 'ten')
A select * from nope
A select 1
A insert into parent values (11, 'eleven')
A rollback
A select count(*) from parent where id in (10, 11)
A select 1
EOF

run_script "COMMIT of a failed block answers ROLLBACK and discards it" "$(
    cat <<'EOF'
A: BEGIN [T]
A: INSERT 0 1 [T]
A: ERROR:23505 [E]
A: ERROR:25P02 [E]
A: ROLLBACK [I]
A: SELECT 1{0} [I]
EOF
)" <<'EOF'
A begin
A insert into parent values (20, 'twenty')
A insert into parent values (1, 'duplicate key')
A select 1
A commit
A select count(*) from parent where id = 20
EOF

run_script "a good block commits; an error outside a block needs no ROLLBACK" "$(
    cat <<'EOF'
A: BEGIN [T]
A: INSERT 0 1 [T]
A: UPDATE 1 [T]
A: COMMIT [I]
A: SELECT 1{21,twenty-one!} [I]
A: ROLLBACK [I]
A: COMMIT [I]
EOF
)" <<'EOF'
A begin
A insert into parent values (21, 'twenty-one')
A update parent set name = name || '!' where id = 21
A commit
A select id, name from parent where id = 21
A rollback
A commit
EOF

# ---- an error in one session does not affect another ----
run_script "an error in session A leaves session B alone" "$(
    cat <<'EOF'
A: BEGIN [T]
A: ERROR:42P01 [E]
B: SELECT 1{3} [I]
B: INSERT 0 1 [I]
B: BEGIN [T]
B: SELECT 1{31} [T]
B: COMMIT [I]
A: ERROR:25P02 [E]
A: ROLLBACK [I]
A: SELECT 1{31,thirty-one} [I]
EOF
)" <<'EOF'
A begin
A select * from nope
B select count(*) from parent
B insert into parent values (31, 'thirty-one')
B begin
B select id from parent where id = 31
B commit
A select 1
A rollback
A select id, name from parent where id = 31
EOF

run_script "uncommitted writes of a failed block are invisible to others and then gone" "$(
    cat <<'EOF'
A: BEGIN [T]
A: INSERT 0 1 [T]
A: ERROR:42703 [E]
B: SELECT 1{0} [I]
A: ROLLBACK [I]
B: SELECT 1{0} [I]
EOF
)" <<'EOF'
A begin
A insert into parent values (40, 'forty')
A select nope from parent
B select count(*) from parent where id = 40
A commit
B select count(*) from parent where id = 40
EOF

# ---- several statements in one Query message ----
run_script "multi-statement message: all results, in order" "$(
    cat <<'EOF'
A: INSERT 0 1 / UPDATE 1 / SELECT 1{50,fifty?} / DELETE 1 [I]
EOF
)" <<'EOF'
A insert into parent values (50, 'fifty'); update parent set name = 'fifty?' where id = 50; select id, name from parent where id = 50; delete from parent where id = 50
EOF

run_script "multi-statement message stops at the first error" "$(
    cat <<'EOF'
A: INSERT 0 1 / ERROR:42P01 [I]
A: SELECT 1{0} [I]
EOF
)" <<'EOF'
A insert into parent values (60, 'sixty'); select * from nope; insert into parent values (61, 'sixty-one')
A select count(*) from parent where id = 61
EOF

# PostgreSQL runs a multi-statement message without BEGIN as one implicit
# transaction: the error also undoes the statements before it.
run_script "multi-statement message is one implicit transaction (error undoes earlier statements)" "$(
    cat <<'EOF'
A: SELECT 1{0} [I]
EOF
)" <<'EOF'
A select count(*) from parent where id = 60
EOF

run_script "BEGIN/COMMIT inside one message, and an error inside such a block" "$(
    cat <<'EOF'
A: BEGIN / INSERT 0 1 / COMMIT [I]
A: BEGIN / INSERT 0 1 / ERROR:23505 [E]
A: ERROR:25P02 [E]
A: ROLLBACK [I]
A: SELECT 1{70} [I]
EOF
)" <<'EOF'
A begin; insert into parent values (70, 'seventy'); commit
A begin; insert into parent values (71, 'seventy-one'); insert into parent values (70, 'again'); commit
A select 1
A rollback
A select id from parent where id in (70, 71) order by id
EOF

# ---- invalid database names: FATAL 3D000, nothing created outside data_dir ----
BASE="host=$DM_HOST port=$DM_PORT user=errs"
expect_connect_error "database name with '/' -> 3D000" "$BASE dbname=a/b" 3D000
expect_connect_error "database name '../escape' -> 3D000" "$BASE dbname=../escape" 3D000
expect_connect_error "database name with a backslash -> 3D000" "$BASE dbname='a\\\\b'" 3D000
expect_connect_error "database name '/etc/passwd' -> 3D000" "$BASE dbname=/etc/passwd" 3D000
LONG64=$(printf 'd%.0s' $(seq 64))
LONG63=$(printf 'd%.0s' $(seq 63))
expect_connect_error "database name of 64 bytes -> 3D000" "$BASE dbname=$LONG64" 3D000
out=$(dm_client connect "$BASE dbname=a/b" 2>&1)
assert_contains "3D000 is FATAL" "$out" "FATAL:  3D000"
if dm_only "no file escapes data_dir"; then
    leaked=$(find "$DM_TMP" "$(dirname "$DM_TMP")" -maxdepth 2 -name 'escape*' 2>/dev/null | head -5)
    assert_eq "no file created outside data_dir for '../escape'" "" "$leaked"
    dm_prepare_db "$LONG63" errs
    expect_connect_ok "database name of 63 bytes is valid" "$BASE dbname=$LONG63"
    assert_true "the 63-byte database has its file" "no $DM_DATA/$LONG63.db" test -f "$DM_DATA/$LONG63.db"
fi
expect_connect_ok "a valid database still works after the refusals" "$CI"

# ---- psql \q and Terminate end sessions cleanly ----
out=$(printf 'select 7 as x;\n\\q\nselect 8;\n' | dm_psql "$CI" 2>&1)
rc=$?
assert_rc "psql reading \\q from stdin exits 0" 0 $rc "$out"
assert_eq "psql ran the statement before \\q and nothing after" "$(printf ' x \n---\n 7\n(1 row)\n')" "$out"
# With max_client_conn = 4, ten sessions in a row only work if each Terminate
# (psql \q, libpq PQfinish) releases its slot.  The server learns of a close
# asynchronously, so each session may retry for a few seconds.
if dm_only "sessions release max_client_conn slots"; then
    ok=0
    session_ok() { [ "$(printf 'select %d;\n\\q\n' "$1" | dm_psql "$CI" -At 2>&1)" = "$1" ]; }
    for i in $(seq 10); do
        wait_until 5 session_ok "$i" && ok=$((ok + 1))
    done
    assert_eq "10 sequential psql sessions with max_client_conn=4 all work" 10 "$ok"
fi
dm_alive_check "after the error checks"
if dm_only "clean exit"; then
    dm_stop_check
fi
dm_finish
