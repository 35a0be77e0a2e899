#!/usr/bin/env bash
# test_lifecycle: the command line, unix sockets, signals and durability.
#
#  - --help, --version, bad arguments;
#  - --listen/--port/--data-dir take precedence over the config file;
#  - unix_socket_dir: psql -h DIR, a stale socket file from a crash;
#  - SIGTERM while a statement runs: new connections are refused, the
#    statement's result still reaches its client, the process exits 0, and
#    the committed data is all there after a restart.  (PostgreSQL's smart
#    shutdown, SIGTERM, likewise lets sessions finish; its fast shutdown
#    would answer 57P01 instead.  Dormouse's contract is the former.)
#  - SIGHUP reloads log_level;
#  - a committed row survives kill -9, an uncommitted one does not.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "the lifecycle of the dormouse process" || dm_finish

# ---- command line ----
out=$(timeout 10 "$DORMOUSE_BIN" --help 2>&1)
rc=$?
assert_rc "--help exits 0" 0 $rc "$out"
for opt in -c --port --listen --data-dir; do
    assert_contains "--help mentions $opt" "$out" "$opt"
done
VERSION=$(sed -n 's/^project(dormouse VERSION \([0-9][0-9.]*\).*/\1/p' "$DM_SOURCE_DIR/CMakeLists.txt")
out=$(timeout 10 "$DORMOUSE_BIN" --version 2>&1)
rc=$?
assert_rc "--version exits 0" 0 $rc "$out"
assert_eq "--version prints the project version" "dormouse $VERSION" "$out"

# bad_invocation NAME ARGS...: a usage error is a clean non-zero exit
# (not a signal, not a hang, not a server).
bad_invocation() {
    local name=$1 out rc
    shift
    out=$(cd "$DM_TMP" && timeout 10 "$DORMOUSE_BIN" "$@" 2>&1 </dev/null)
    rc=$?
    if [ $rc -ne 0 ] && [ $rc -lt 124 ] && [ -n "$out" ]; then
        pass "$name: exits $rc with a message (${out%%$'\n'*})"
    else
        fail "$name: exits non-zero with a message" "exit status $rc (124: still running after 10 s; >128: signal)" "$out"
    fi
}
bad_invocation "unknown option" --no-such-option
bad_invocation "missing config file" -c "$DM_TMP/does-not-exist.ini"
printf '[dormouse]\nlisten_port = not-a-number\n' >"$DM_TMP/broken.ini"
bad_invocation "invalid listen_port in the config" -c "$DM_TMP/broken.ini"

# ---- command-line overrides ----
ALT_ADDR=127.0.0.1
if "$PYTHON" -c 'import socket; socket.socket().bind(("127.0.0.2", 0))' 2>/dev/null; then
    ALT_ADDR=127.0.0.2
fi
P_FILE=$(free_port) || die "no free port"
DM_PORT=$(free_port) || die "no free port"
DATA_FILE=$(dm_tmpdir data-from-file)
DM_DATA=$(dm_tmpdir data-from-cli)
dm_write_config "$DM_TMP/override.ini" "listen_addr = $ALT_ADDR" "listen_port = $P_FILE" "data_dir = $DATA_FILE"
dm_start "$DM_TMP/override.ini" --listen 127.0.0.1 --port "$DM_PORT" --data-dir "$DM_DATA"
out=$(dm_psql "$(dm_conninfo over)" -At -c "create table t(x integer); insert into t values (1); select count(*) from t" 2>&1)
assert_eq "--port: dormouse serves on the command-line port" "$(printf 'CREATE TABLE\nINSERT 0 1\n1')" "$out"
assert_true "--port: nothing listens on the config file's port" "something answers on $ALT_ADDR:$P_FILE" \
    eval "! dm_ping $ALT_ADDR $P_FILE && ! dm_ping 127.0.0.1 $P_FILE"
if [ "$ALT_ADDR" = 127.0.0.2 ]; then
    assert_true "--listen: nothing listens on the config file's address" "something answers on 127.0.0.2:$DM_PORT" \
        eval "! dm_ping 127.0.0.2 $DM_PORT"
else
    skip "--listen vs listen_addr: 127.0.0.2 is not usable here"
fi
assert_true "--data-dir: the database file is in the command-line data dir" "data-from-cli: $(ls "$DM_DATA")" \
    test -f "$DM_DATA/over.db"
assert_eq "--data-dir: nothing in the config file's data dir" "" "$(ls -A "$DATA_FILE")"
dm_stop_check "dormouse exits 0 (overrides)"

# ---- unix_socket_dir ----
DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data-unix)
SOCK=$(dm_tmpdir sock)
dm_write_config "$DM_TMP/unix.ini" "unix_socket_dir = $SOCK"
dm_start "$DM_TMP/unix.ini"
assert_true "unix_socket_dir: the socket file .s.PGSQL.$DM_PORT exists" "$SOCK: $(ls -A "$SOCK")" \
    test -S "$SOCK/.s.PGSQL.$DM_PORT"
out=$("$PSQL" -X -w -h "$SOCK" -p "$DM_PORT" -U sockuser -d sockdb -At -c "select 'via ' || 'socket'" 2>&1)
assert_eq "unix_socket_dir: psql -h DIR works" "via socket" "$out"
out=$(dm_psql "$(dm_conninfo sockdb sockuser)" -At -c "select 'via tcp'" 2>&1)
assert_eq "unix_socket_dir: TCP still works" "via tcp" "$out"
dm_stop_check "dormouse exits 0 (unix socket)"
assert_true "unix_socket_dir: the socket file is removed on exit" "left: $(ls -A "$SOCK")" \
    test ! -e "$SOCK/.s.PGSQL.$DM_PORT"
# A crash leaves the socket file behind; the next start must not trip on it.
"$PYTHON" -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$SOCK/.s.PGSQL.$DM_PORT"
if dm_try_start "$DM_TMP/unix.ini"; then
    out=$("$PSQL" -X -w -h "$SOCK" -p "$DM_PORT" -U sockuser -d sockdb -At -c "select 'again'" 2>&1)
    assert_eq "unix_socket_dir: starts over a stale socket file and serves on it" "again" "$out"
    dm_stop_check "dormouse exits 0 (stale socket)"
else
    fail "unix_socket_dir: starts over a stale socket file and serves on it" "$DM_START_ERROR" "$(cat "$DM_LOG")"
fi

# ---- SIGTERM while a statement runs ----
DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data-life)
dm_write_config "$DM_TMP/life.ini"
dm_start "$DM_TMP/life.ini"
LOG_FIRST=$DM_LOG
assert_true "the log has a 'listening on 127.0.0.1:$DM_PORT' line" "$(head -5 "$DM_LOG")" \
    grep -q "listening on 127.0.0.1:$DM_PORT" "$DM_LOG"
assert_true "log lines carry a timestamp (HH:MM:SS)" "$(head -3 "$DM_LOG")" \
    grep -qE '[0-9]{2}:[0-9]{2}:[0-9]{2}' "$DM_LOG"
VALUES=$(for i in $(seq 100); do printf "(%d, 'row %d')," "$i" "$i"; done)
out=$(dm_psql "$(dm_conninfo life)" -At -c "create table kept(id integer primary key, v text not null)" \
    -c "insert into kept values ${VALUES%,}" -c "begin" -c "update kept set v = v || '!' where id <= 10" \
    -c "commit" 2>&1)
assert_eq "committed data before shutdown" "$(printf 'CREATE TABLE\nINSERT 0 100\nBEGIN\nUPDATE 10\nCOMMIT')" "$out"

SLOW_OUT=$DM_TMP/slow.out
dm_client query "$(dm_conninfo life)" "$DM_SLOW_SQL" >"$SLOW_OUT" 2>&1 &
SLOW_PID=$!
bg_track $SLOW_PID
wait_until 10 grep -qs '^sent' "$SLOW_OUT" || die "the slow query was never sent" "$(cat "$SLOW_OUT")"
sleep 0.5 # let a worker start on it; the checks below confirm it is still running
if ! _dm_alive $SLOW_PID; then
    fail "SIGTERM during a statement: the statement was still running when the signal was sent" \
        "it had already finished: $(cat "$SLOW_OUT")"
fi
dm_signal TERM
refused() { [ "$(dm_client connect "$(dm_conninfo life)" 2>&1)" != OK ]; }
if wait_until 5 refused; then
    if _dm_alive $SLOW_PID; then
        pass "SIGTERM: new connections are refused while the running statement goes on"
    else
        skip "SIGTERM: new connections refused, but the statement had already ended (inconclusive ordering)"
    fi
else
    fail "SIGTERM: new connections are refused" "a new client could still log in 5 s after SIGTERM"
fi
wait_until 60 eval "! _dm_alive $SLOW_PID"
wait $SLOW_PID
slow_rc=$?
slow=$(cat "$SLOW_OUT")
info "slow client: $(tr '\n' ' ' <"$SLOW_OUT") (exit $slow_rc)"
assert_contains "SIGTERM: the running statement's result still arrives" "$slow" "row: $DM_SLOW_RESULT"
assert_contains "SIGTERM: ... with its command tag" "$slow" "tag: SELECT 1"
assert_not_contains "SIGTERM: ... and no error before it" "$slow" "error:"
if dm_wait_exit 60; then
    assert_eq "SIGTERM: dormouse exits 0 once the statement is done" 0 "$DM_EXIT_CODE"
else
    fail "SIGTERM: dormouse exits 0 once the statement is done" "still running 60 s after SIGTERM" \
        "$(tail -n 30 "$DM_LOG")"
    dm_stop KILL
fi

if dm_try_start "$DM_TMP/life.ini"; then
    pass "restart on the same port after SIGTERM"
else
    fail "restart on the same port after SIGTERM" "$DM_START_ERROR" "$(cat "$DM_LOG")"
    DM_PORT=$(free_port) || die "no free port"
    dm_write_config "$DM_TMP/life.ini"
    dm_start "$DM_TMP/life.ini"
fi
out=$(dm_psql "$(dm_conninfo life)" -At -c "select count(*), sum(id), count(*) filter (where v like '%!') from kept" 2>&1)
assert_eq "after restart: all 100 committed rows, with the committed update" "100|5050|10" "$out"

# ---- SIGHUP reloads log_level ----
# The same workload (a login, a query, a logout) is logged more at debug than
# at info, and not at all at error.  The reload is asynchronous: poll.
workload() {
    dm_psql "$(dm_conninfo life)" -At -c "select count(*) from kept" >/dev/null 2>&1
}
# log_delta: lines the workload adds to the log (after its disconnect is logged).
log_delta() {
    local before after
    before=$(wc -l <"$DM_LOG")
    workload
    sleep 0.3
    after=$(wc -l <"$DM_LOG")
    echo $((after - before))
}
at_info=$(log_delta)
info "log lines per workload at info: $at_info"
dm_write_config "$DM_TMP/life.ini" "log_level = debug"
dm_signal HUP
more_lines() { [ "$(log_delta)" -gt "$at_info" ]; }
if wait_until 10 more_lines; then
    pass "SIGHUP: log_level=debug logs more for the same workload ($(log_delta) lines vs $at_info)"
else
    fail "SIGHUP: log_level=debug logs more for the same workload" "still $(log_delta) lines vs $at_info" \
        "$(tail -n 20 "$DM_LOG")"
fi
dm_write_config "$DM_TMP/life.ini" "log_level = error"
dm_signal HUP
no_lines() { [ "$(log_delta)" -eq 0 ]; }
if wait_until 10 no_lines; then
    pass "SIGHUP: log_level=error logs nothing for a clean workload"
else
    fail "SIGHUP: log_level=error logs nothing for a clean workload" "$(tail -n 10 "$DM_LOG")"
fi
dm_alive_check "after SIGHUP"
dm_write_config "$DM_TMP/life.ini"

# ---- kill -9: committed data survives, uncommitted does not ----
out=$(dm_psql "$(dm_conninfo life)" -At -c "create table durable(id integer primary key, v text)" \
    -c "insert into durable values (1, 'autocommit')" -c "begin" -c "insert into durable values (2, 'block')" \
    -c "commit" 2>&1)
assert_eq "rows committed before kill -9" "$(printf 'CREATE TABLE\nINSERT 0 1\nBEGIN\nINSERT 0 1\nCOMMIT')" "$out"
# A session that holds an open block with an uncommitted row when the server dies.
FIFO=$DM_TMP/open-block.fifo
mkfifo "$FIFO" || die "mkfifo failed"
dm_client script "$(dm_conninfo life)" <"$FIFO" >"$DM_TMP/open-block.out" 2>&1 &
bg_track $!
exec 7>"$FIFO"
printf 'A begin\nA insert into durable values (3, %s)\n' "'uncommitted'" >&7
wait_until 10 grep -qs '^A: INSERT 0 1 \[T\]' "$DM_TMP/open-block.out" ||
    fail "an open block with an uncommitted row before kill -9" "$(cat "$DM_TMP/open-block.out")"
dm_stop KILL
exec 7>&-
assert_eq "kill -9 kills dormouse (status 137)" 137 "$DM_EXIT_CODE"
if dm_try_start "$DM_TMP/life.ini"; then
    pass "restart on the same port after kill -9"
else
    fail "restart on the same port after kill -9" "$DM_START_ERROR" "$(cat "$DM_LOG")"
    DM_PORT=$(free_port) || die "no free port"
    dm_write_config "$DM_TMP/life.ini"
    dm_start "$DM_TMP/life.ini"
fi
out=$(dm_psql "$(dm_conninfo life)" -At -c "select id, v from durable order by id" 2>&1)
assert_eq "after kill -9: both committed rows are there, the uncommitted one is not" \
    "$(printf '1|autocommit\n2|block')" "$out"
out=$(dm_psql "$(dm_conninfo life)" -At -c "select count(*) from kept" 2>&1)
assert_eq "after kill -9: the earlier table is intact" "100" "$out"
dm_stop_check "dormouse exits 0 (after the crash recovery)"
out=$(sqlite3 "$DM_DATA/life.db" 'pragma integrity_check' 2>&1)
assert_eq "life.db passes SQLite's integrity_check" "ok" "$out"
: "$LOG_FIRST"
dm_finish
