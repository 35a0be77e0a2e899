#!/usr/bin/env bash
# test_cold_dir: the cold tier.  With cold_dir set, a paused SQLite
# database's file moves there with an xxHash checksum beside it, and comes
# back when the next query resumes the database, its rows intact; a cold file
# damaged meanwhile is refused with XX001 (never served) while the other
# databases go on; repaired, it is served again; kill -9 of Dormouse while a
# database is cold loses nothing.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "the cold tier is Dormouse's" || dm_finish

DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
COLD=$DM_TMP/cold
dm_write_config "$DM_TMP/cold.ini" "idle_timeout = 1" "cold_dir = $COLD" "admin_users = admin" \
    "[databases] * = engine=sqlite"
dm_start "$DM_TMP/cold.ini"

dmq() { dm_psql "$(dm_conninfo "$1" s)" -At -c "$2" 2>&1; }
state() { dm_psql "host=127.0.0.1 port=$DM_PORT user=admin dbname=dormouse" -At \
    -c 'SHOW DATABASES' | awk -F'|' -v db="$1" '$1 == db {print $16}'; }
cold() { [ -f "$COLD/$1.db" ] && [ -f "$COLD/$1.db.xxh3" ] && [ ! -e "$DM_DATA/$1.db" ]; }

assert_true "cold_dir is created at start" "$COLD" [ -d "$COLD" ]
dmq c1 "create table t (x int, s text)" >/dev/null
dmq c1 "insert into t select value, repeat('x', 100) from generate_series(1, 5000)" >/dev/null
dmq c2 "create table t (x int)" >/dev/null
dmq c2 "insert into t values (1), (2)" >/dev/null
sum_before=$(dmq c1 "select sum(x) from t")
if wait_until 15 cold c1; then
    pass "paused: c1.db moved to cold_dir with its checksum, none left in data_dir"
else
    fail "paused: c1.db moved to cold_dir" "state $(state c1); $(ls -la "$COLD" "$DM_DATA" 2>&1)"
fi
assert_eq "SHOW DATABASES: c1 is paused" "paused" "$(state c1)"
assert_true "the checksum file holds an XXH3-128 and the size" "$(cat "$COLD/c1.db.xxh3" 2>&1)" \
    grep -Eq '^[0-9a-f]{32} [0-9]+$' "$COLD/c1.db.xxh3"
assert_eq "the next query brings it back, its rows intact" "$sum_before" "$(dmq c1 'select sum(x) from t')"
assert_true "back in data_dir, gone from cold_dir" "$(ls "$COLD")" \
    eval "[ -f '$DM_DATA/c1.db' ] && [ ! -e '$COLD/c1.db' ] && [ ! -e '$COLD/c1.db.xxh3' ]"
assert_eq "it takes writes again" "1" "$(dmq c1 "insert into t values (5001, 'y') returning 1" | head -1)"
sum_after=$(dmq c1 "select sum(x) from t")

# a damaged cold file: refused, never served; the other databases go on
wait_until 15 cold c1 || fail "c1 goes cold again" "$(ls "$COLD")"
wait_until 15 cold c2 || fail "c2 goes cold" "$(ls "$COLD")"
cp "$COLD/c1.db" "$DM_TMP/c1.good"
printf '\x42' | dd of="$COLD/c1.db" bs=1 seek=20000 conv=notrunc status=none
out=$(dmq c1 "select count(*) from t")
assert_contains "a damaged cold file is refused: its checksum does not match" "$out" "is damaged: xxHash"
assert_contains "... 'it is not served'" "$out" "it is not served"
out=$(dm_psql "$(dm_conninfo c1 s)" -v VERBOSITY=verbose -At -c "select 1" 2>&1)
assert_contains "... with SQLSTATE XX001 (data_corrupted)" "$out" "XX001"
assert_true "the damaged file stays in cold_dir, nothing was served from it" "$(ls "$COLD" "$DM_DATA")" \
    eval "[ -f '$COLD/c1.db' ] && [ ! -e '$DM_DATA/c1.db' ]"
assert_eq "another cold database resumes meanwhile" "2" "$(dmq c2 'select count(*) from t')"
cp "$DM_TMP/c1.good" "$COLD/c1.db"
assert_eq "repaired: served again, with every row" "$sum_after" "$(dmq c1 'select sum(x) from t')"

# kill -9 while it is cold: nothing lost
wait_until 15 cold c1 || fail "c1 goes cold once more" "$(ls "$COLD")"
kill -9 "$DM_PID"
dm_wait_exit 10
DM_PID=""
dm_start "$DM_TMP/cold.ini"
assert_eq "kill -9 of Dormouse while c1 is cold: after the restart every row is there" \
    "$sum_after" "$(dmq c1 'select sum(x) from t')"
dm_stop_check
dm_finish
