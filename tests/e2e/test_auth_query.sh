#!/usr/bin/env bash
# test_auth_query: auth_user + auth_query, PgBouncer's way.  Clients that are
# not in auth_file are looked up in the upstream PostgreSQL itself, through a
# server connection logged in as auth_user, and their servers then log in as
# them with what was found: an md5 hash answers md5, and a SCRAM verifier
# answers SCRAM with the ClientKey the client proved to Dormouse (SCRAM
# pass-through; Dormouse never learns the password).
#
# PostgreSQL: roles alice (SCRAM), bob (md5 hash), carol (no password), dave
# (password expired), erin (NOLOGIN), lookup (superuser: the default
# auth_query reads pg_authid), lookup2 (no rights but a SECURITY DEFINER
# function, PgBouncer's documented pattern); pg_hba asks for passwords.
# Checks: logins with right and wrong passwords through libpq and psql, whose
# servers really are logged in as the client (current_user, pg_stat_activity);
# every refused kind of role gets 28P01; an auth_query that fails (no right to
# pg_authid) gets 28000 with the reason; an unreachable upstream gets 08006; a
# connection storm through a pool of 2; a changed password; RELOAD with
# another auth_query and a per-database auth_user; SQLite databases are not
# looked up.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "auth_user and auth_query are Dormouse configuration" || dm_finish

PGBENCH=$PG_BINDIR/pgbench
[ -x "$PGBENCH" ] || PGBENCH=$(command -v pgbench) || die "setup: pgbench not found"

pg_start
pg_psql -c "set password_encryption = 'scram-sha-256'" \
    -c "create role alice login password 'alice-pw'" \
    -c "create role dave login password 'dave-pw' valid until '2001-01-01'" \
    -c "create role erin nologin password 'erin-pw'" \
    -c "create role lookup login superuser password 'lookup-pw'" \
    -c "create role lookup2 login password 'lookup2-pw'" \
    -c "create role carol login" \
    -c "set password_encryption = 'md5'" -c "create role bob login password 'bob-pw'" \
    -c "create role mdonly login password 'md-pw'" \
    -c "create database app" >/dev/null || die "cannot create the roles"
pg_psql -d app -c "create function public.user_lookup(in i_username text, out uname text, out phash text)
    returns record as \$\$ select rolname::text, rolpassword::text from pg_catalog.pg_authid
    where rolname = i_username and rolcanlogin \$\$ language sql security definer" \
    -c "revoke all on function public.user_lookup(text) from public" \
    -c "grant execute on function public.user_lookup(text) to lookup2" >/dev/null ||
    die "cannot create the lookup function"
# mdonly (an md5 hash) is asked for SCRAM: its hash cannot answer that
printf '%s\n' 'local all all trust' 'host all postgres 127.0.0.1/32 trust' \
    'host all mdonly 127.0.0.1/32 scram-sha-256' 'host all all 127.0.0.1/32 md5' \
    >"$PGDATA_REAL/pg_hba.conf"
pg_psql -c "select pg_reload_conf()" >/dev/null || die "cannot reload pg_hba.conf"
bob_hash=$(pg_psql -At -c "select rolpassword from pg_authid where rolname = 'bob'")
[[ $bob_hash == md5* ]] || die "bob has no md5 hash" "$bob_hash"

AUTH_FILE=$DM_TMP/userlist.txt
printf '"%s" "%s"\n' lookup lookup-pw lookup2 lookup2-pw admin admin-pw >"$AUTH_FILE"
DOWN_PORT=$(free_port) || die "no free port"
DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
UP="host=127.0.0.1 port=$PGPORT_REAL dbname=app"
write_config() { # extra [dormouse] lines...
    dm_write_config "$DM_TMP/aq.ini" "auth_type = md5" "auth_file = $AUTH_FILE" \
        "admin_users = admin" "auth_user = lookup" "default_pool_size = 2" "query_wait_timeout = 5" \
        "server_connect_timeout = 5" "$@" \
        "[databases] app = $UP" \
        "[databases] appf = $UP auth_user=lookup2" \
        "[databases] appdown = host=127.0.0.1 port=$DOWN_PORT dbname=app" \
        "[databases] * = engine=sqlite"
}
write_config
dm_start "$DM_TMP/aq.ini"
pass "auth_user, auth_query and a per-database auth_user are accepted"

ci() { # DB USER PASSWORD
    printf 'host=127.0.0.1 port=%s dbname=%s user=%s password=%s' "$DM_PORT" "$1" "$2" "$3"
}
# as DB USER PASSWORD SQL: one value through libpq, or "ERROR <sqlstate> <message>".
as() {
    local out
    out=$(dm_client connect "$(ci "$1" "$2" "$3")" 2>&1) || { echo "$out"; return; }
    PGPASSWORD=$3 dm_psql "host=127.0.0.1 port=$DM_PORT dbname=$1 user=$2" -At -c "$4" 2>&1
}

# ---- logins ----
assert_eq "alice (SCRAM verifier in PostgreSQL) logs in; her server is logged in as alice" \
    "alice" "$(as app alice alice-pw 'select current_user')"
assert_eq "bob (md5 hash in PostgreSQL) logs in; his server is logged in as bob" \
    "bob" "$(as app bob bob-pw 'select current_user')"
out=$(pg_psql -At -c "select string_agg(distinct usename, ',' order by usename) from pg_stat_activity
    where datname = 'app' and usename in ('alice', 'bob', 'lookup')")
assert_eq "PostgreSQL sees server connections of alice, bob and the lookup user" "alice,bob,lookup" "$out"
out=$(PGPASSWORD=alice-pw dm_psql "host=127.0.0.1 port=$DM_PORT dbname=app user=alice" -At \
    -c "create temp table t(x int)" -c "insert into t values (1), (2)" -c "select sum(x) from t" 2>&1)
assert_contains "psql works as alice" "$out" "3"

for c in "alice wrong-pw" "bob alice-pw" "carol x" "dave dave-pw" "erin erin-pw" "nosuch x"; do
    set -- $c
    expect_connect_error "$1 with password $2 is refused with 28P01" "$(ci app "$1" "$2")" 28P01 \
        "password authentication failed for user \"$1\""
done
out=$(PGPASSWORD=wrong dm_psql "host=127.0.0.1 port=$DM_PORT dbname=app user=alice" -At -c "select 1" 2>&1)
assert_contains "psql shows PostgreSQL's message for a wrong password" "$out" \
    'password authentication failed for user "alice"'

# ---- failures of the lookup itself ----
expect_connect_error "an auth_user without the right to pg_authid: 28000 with the reason" \
    "$(ci appf alice alice-pw)" 28000 "permission denied"
expect_connect_error "an unreachable upstream: 08006 with the reason" \
    "$(ci appdown alice alice-pw)" 08006 "cannot connect"
expect_connect_error "SQLite databases are not looked up" "$(ci sq alice alice-pw)" 28P01
expect_connect_error "a server that asks for SCRAM where Dormouse has an md5 hash: 08006, saying so" \
    "$(ci app mdonly md-pw)" 08006 "has only its md5 hash"
assert_eq "Dormouse still serves alice after the failed lookups" "1" "$(as app alice alice-pw 'select 1')"

# ---- a storm of logins through a pool of 2 ----
echo "select current_user;" >"$DM_TMP/q.sql"
out=$(PGPASSWORD=alice-pw timeout 120 "$PGBENCH" -n -C -c 8 -j 2 -t 25 -f "$DM_TMP/q.sql" \
    -h 127.0.0.1 -p "$DM_PORT" -U alice app 2>&1)
assert_contains "pgbench -C: 200 logins of alice, each looked up, none failed" "$out" \
    "number of transactions actually processed: 200/200"
servers=$(pg_psql -At -c "select count(*) from pg_stat_activity where datname = 'app' and usename = 'lookup'")
assert_true "the lookups used at most pool_size = 2 server connections" "$servers of them" \
    [ "$servers" -le 2 ]

# ---- a changed password ----
pg_psql -c "set password_encryption = 'scram-sha-256'" -c "alter role alice password 'alice-pw2'" >/dev/null
expect_connect_error "alice's old password is refused after ALTER ROLE" "$(ci app alice alice-pw)" 28P01
pg_psql -c "select pg_terminate_backend(pid) from pg_stat_activity where usename = 'alice'" >/dev/null
assert_eq "her new one works, and new servers log in with it" \
    "alice" "$(as app alice alice-pw2 'select current_user')"

# ---- RELOAD: another auth_query; appf's auth_user can run it ----
write_config "auth_query = SELECT uname, phash FROM public.user_lookup(\$1)"
out=$(PGPASSWORD=admin-pw dm_psql "host=127.0.0.1 port=$DM_PORT dbname=dormouse user=admin" -At -c "RELOAD" 2>&1)
assert_eq "RELOAD takes the new auth_query" "RELOAD" "$out"
out=$(PGPASSWORD=admin-pw dm_psql "host=127.0.0.1 port=$DM_PORT dbname=dormouse user=admin" -At \
    -c "SHOW CONFIG" 2>&1 | grep '^auth_query|')
assert_contains "SHOW CONFIG shows it" "$out" 'public.user_lookup($1)'
assert_eq "appf (auth_user=lookup2, a SECURITY DEFINER function) lets alice in" \
    "alice" "$(as appf alice alice-pw2 'select current_user')"
assert_eq "bob too" "bob" "$(as appf bob bob-pw 'select current_user')"
expect_connect_error "and still refuses a wrong password" "$(ci appf bob alice-pw2)" 28P01
assert_eq "Dormouse still serves bob at the end" "1" "$(as app bob bob-pw 'select 1')"
dm_finish
