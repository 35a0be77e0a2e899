#!/usr/bin/env bash
# test_copy: COPY FROM STDIN / TO STDOUT, byte for byte against PostgreSQL.
#
# Every psql command runs against a real PostgreSQL (database and role "copy")
# and against Dormouse, in the same order; stdout, stderr and the exit status
# must be identical: text and CSV, NULLs, escapes, quotes, unicode, HEADER,
# custom delimiters and NULL strings, COPY (query) TO, psql's \copy, errors
# in the middle of the data (the whole COPY rolls back, a block fails).  Then
# the sub-protocol itself (copyproto.py): CopyFail, rows split across
# CopyData messages, Sync/Flush, unexpected messages, COPY inside a
# multi-statement Query; and a large COPY that spans many engine chunks,
# with rows longer than a chunk, compared with PostgreSQL by checksum.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "COPY is compared with PostgreSQL" || dm_finish
pg_start
pg_psql -c "create role copy login" -c "create database copy owner copy" ||
    die "cannot create the copy role and database in PostgreSQL"

DM_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
dm_write_config "$DM_TMP/dormouse.ini"
dm_start "$DM_TMP/dormouse.ini"

PG_CI="host=127.0.0.1 port=$PGPORT_REAL dbname=copy user=copy"
DM_CI="host=127.0.0.1 port=$DM_PORT dbname=copy user=copy"
OUT=$(dm_tmpdir out)
N=0

# both NAME STDIN_FILE [psql args...]: the same psql command against both
# servers, each reading STDIN_FILE (or /dev/null).
both() {
    local name=$1 input=$2
    shift 2
    N=$((N + 1))
    (cd "$OUT" && "$PSQL" -X -w "$PG_CI" "$@" <"$input" >"$OUT/$N.pg.out" 2>"$OUT/$N.pg.err")
    local pg_rc=$?
    (cd "$OUT" && "$PSQL" -X -w "$DM_CI" "$@" <"$input" >"$OUT/$N.dm.out" 2>"$OUT/$N.dm.err")
    local dm_rc=$?
    if cmp -s "$OUT/$N.pg.out" "$OUT/$N.dm.out" && cmp -s "$OUT/$N.pg.err" "$OUT/$N.dm.err" &&
        [ $pg_rc -eq $dm_rc ]; then
        pass "$name"
        return 0
    fi
    local -a details=("psql args: $*")
    [ $pg_rc -eq $dm_rc ] || details+=("exit status: PostgreSQL $pg_rc, Dormouse $dm_rc")
    if ! cmp -s "$OUT/$N.pg.out" "$OUT/$N.dm.out"; then
        details+=("stdout, PostgreSQL (cat -A):" "$(cat -A "$OUT/$N.pg.out" | head -40)"
            "stdout, Dormouse (cat -A):" "$(cat -A "$OUT/$N.dm.out" | head -40)")
    fi
    if ! cmp -s "$OUT/$N.pg.err" "$OUT/$N.dm.err"; then
        details+=("stderr, PostgreSQL:" "$(cat "$OUT/$N.pg.err")" "stderr, Dormouse:" "$(cat "$OUT/$N.dm.err")")
    fi
    fail "$name" "${details[@]}"
    return 1
}

NONE=/dev/null

# ---- text format ----
both "create the tables" $NONE -c "create table t(id int primary key, name text, ok boolean, score double precision, n numeric, d date)" \
    -c "create table big(id int, payload text)"

printf '%s\n' \
    '1	plain	t	1.5	10.25	2024-02-29' \
    '2	\N	f	\N	\N	\N' \
    '3	tab\there, newline\nthere, backslash \\ and CR\r	true	-2	-0.5	1999-12-31' \
    '4	unicode héllo ☃ 日本語 😀	yes	1e10	123456789012	2000-01-01' \
    '5	octal \101\102 hex \x43\x44 and \b\f\v	no	0.1	0	2024-01-01' \
    '6		on	3	1	2024-01-02' \
    '\.' >"$OUT/text.in"
both "COPY FROM STDIN (text): escapes, NULLs, unicode, end marker" "$OUT/text.in" -c "copy t from stdin"
both "COPY TO STDOUT (text)" $NONE -c "copy t to stdout"
both "the rows are there (aligned select)" $NONE -c "select * from t order by id"
both "COPY TO STDOUT with a delimiter, a NULL string and a header" $NONE \
    -c "copy t to stdout with (delimiter '|', null 'NULL', header)"
both "COPY (query) TO STDOUT" $NONE -c "copy (select id, upper(name) as up, score * 2 as twice from t where id < 5 order by id desc) to stdout"
both "COPY column list TO STDOUT" $NONE -c "copy t (name, id) to stdout"

printf '7|pipes \\| and NULL|NULL\n8|x|t\n' >"$OUT/pipe.in"
both "COPY FROM with a delimiter and a NULL string (column list)" "$OUT/pipe.in" \
    -c "copy t (id, name, ok) from stdin with (delimiter '|', null 'NULL')"
printf 'id\tname\n9\theader skipped\n' >"$OUT/header.in"
both "COPY FROM with HEADER (text)" "$OUT/header.in" -c "copy t (id, name) from stdin with (header)"

# ---- CSV ----
printf '%s\n' \
    'id,name,ok,score,n,d' \
    '10,"quoted, with comma",t,1,2,2024-03-01' \
    '11,"a ""double"" quote",f,,,' \
    '12,"",t,2,3,' \
    '13,"multi' \
    'line",t,3,4,2024-03-02' \
    '14,unquoted text with spaces ,t,4,5,2024-03-03' >"$OUT/csv.in"
both "COPY FROM (CSV, HEADER): quotes, doubled quotes, empty vs NULL, newline in a field" "$OUT/csv.in" \
    -c "copy t from stdin with (format csv, header true)"
both "COPY TO (CSV)" $NONE -c "copy t to stdout with (format csv)"
both "COPY TO (CSV, HEADER, FORCE nothing, custom quote and escape)" $NONE \
    -c "copy (select id, name from t where id >= 10 order by id) to stdout with (format csv, header, quote '''', escape '\\')"
printf "20;'it''s';x\n21;'semi;colon';\n" >"$OUT/csvq.in"
both "COPY FROM (CSV, delimiter, quote)" "$OUT/csvq.in" \
    -c "copy t (id, name, n) from stdin with (format csv, delimiter ';', quote '''', null 'x')"
printf '30\r\n31\r\n' >"$OUT/crlf.in"
both "COPY FROM with CRLF line ends" "$OUT/crlf.in" -c "copy t (id) from stdin"
both "COPY old syntax: WITH CSV HEADER, DELIMITER AS" $NONE -c "copy t (id, name) to stdout with csv header delimiter as ';'"
both "COPY FREEZE after TRUNCATE in the same block (as pgbench -i)" "$OUT/pipe.in" \
    -c "create table fr(id int, name text, ok boolean)" -c "begin" -c "truncate fr" \
    -c "copy fr from stdin with (delimiter '|', null 'NULL', freeze on)" -c "commit" -c "select * from fr"

# ---- psql's \copy ----
printf '40\tfrom a file\n41\tsecond line\n' >"$OUT/file.in"
both "\\copy FROM a file" $NONE -c "\\copy t (id, name) from 'file.in'"
both "\\copy TO STDOUT" $NONE -c "\\copy (select id, name from t where id >= 40 order by id) to stdout with csv"
both "\\copy TO a file, then the file" $NONE -c "\\copy t to 'out.copy'" -c "\\! cat out.copy"
both "the table after all of the above" $NONE -c "select * from t order by id"

# ---- errors: the whole COPY rolls back ----
printf '50\tok\n51\n52\tfine\n' >"$OUT/missing.in"
both "missing data for a column (22P04)" "$OUT/missing.in" -c "copy t (id, name) from stdin"
printf '50\tok\n51\tb\textra\n' >"$OUT/extra.in"
both "extra data after the last column (22P04)" "$OUT/extra.in" -c "copy t (id, name) from stdin"
printf '50\tok\nfifty-one\tb\n' >"$OUT/badint.in"
both "invalid integer (22P02)" "$OUT/badint.in" -c "copy t (id, name) from stdin"
printf '50\tok\n51\tb\tmaybe\n' >"$OUT/badbool.in"
both "invalid boolean (22P02)" "$OUT/badbool.in" -c "copy t (id, name, ok) from stdin"
printf '50\tok\n1\tduplicate\n' >"$OUT/dup.in"
both "duplicate key (23505)" "$OUT/dup.in" -c "copy t (id, name) from stdin"
printf '50,"unterminated\n' >"$OUT/unterm.in"
both "unterminated CSV quoted field (22P04)" "$OUT/unterm.in" -c "copy t (id, name) from stdin with (format csv)"
both "nothing of the failed COPYs stayed" $NONE -c "select count(*), max(id) from t"
both "a failed COPY fails the transaction block" "$OUT/dup.in" -c "begin" -c "copy t (id, name) from stdin" \
    -c "select 1" -c "rollback" -c "select count(*) from t"
both "a COPY inside a block commits with it" "$OUT/file.in" -c "begin" -c "delete from t where id >= 40" \
    -c "copy t (id, name) from stdin" -c "commit" -c "select id, name from t where id >= 40 order by id"
both "the session works after a failed COPY" "$OUT/dup.in" -c "copy t (id, name) from stdin" -c "select count(*) from t"

# ---- option and statement errors ----
both "unknown table" $NONE -c "copy nosuch from stdin"
both "binary and bad options" $NONE -c "copy t to stdout with (format csv, quote 'ab')"
both "quote outside CSV" $NONE -c "copy t to stdout with (quote '\"')"
both "COPY to a server file needs privileges (42501)" $NONE -c "copy t to '/tmp/x'"

# ---- the sub-protocol ----
for sc in setup copy-fail bad-row-then-more row-split-across-messages sync-flush-ignored \
    unexpected-message copy-messages-outside-copy multi-statement in-transaction-block \
    copy-in-then-commit terminate-during-copy; do
    pg=$("$PYTHON" "$DM_E2E_DIR/copyproto.py" "$sc" --port "$PGPORT_REAL" 2>&1)
    dm=$("$PYTHON" "$DM_E2E_DIR/copyproto.py" "$sc" --port "$DM_PORT" 2>&1)
    if [ "$pg" = "$dm" ] && [[ "$pg" != *FAILED* ]]; then
        pass "protocol: $sc"
    else
        fail "protocol: $sc" "PostgreSQL:" "$pg" "Dormouse:" "$dm"
    fi
done

# A CopyData larger than max_packet_size ends the session (08P01), not the server.
dm_psql "$DM_CI" -q -c "create table tiny(x text)" >/dev/null 2>&1
out=$("$PYTHON" -c "
import sys
sys.path.insert(0, '$DM_E2E_DIR')
import rawproto, struct
from rawproto import msg, cstr, parse_fields
class A: host='127.0.0.1'; port=$DM_PORT; user='copy'; db='copy'; password=''
c = rawproto.Conn(A)
c.login()
c.send(msg(b'Q', cstr('copy tiny from stdin')))
k, b = c.read_msg()
assert k == 'G', k
c.send(b'd' + struct.pack('!I', 200 * 1024 * 1024))
k, b = c.read_msg()
f = parse_fields(b)
print(k, f.get('S'), f.get('C'))
" 2>&1)
assert_eq "an oversized CopyData message: FATAL 08P01" "E FATAL 08P01" "$out"
dm_alive_check "after an oversized CopyData"

# ---- a large COPY: many chunks, rows longer than a chunk ----
"$PYTHON" - "$OUT/big.in" <<'EOF'
import random, sys
random.seed(7)
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for i in range(60000):
        if i % 20000 == 7:
            payload = "L" * (700 * 1024) + "\\t\\n end"  # longer than one engine chunk
        else:
            payload = "row %d %s é\\\\ \\t" % (i, "x" * random.randint(0, 200))
        f.write("%d\t%s\n" % (i, payload))
EOF
both "large COPY FROM (about 8 MB, rows across chunk boundaries)" "$OUT/big.in" -c "copy big from stdin"
# PostgreSQL's heap need not keep the insertion order: compare it ordered.
"$PSQL" -X -w "$PG_CI" -c "copy (select * from big order by id) to stdout" >"$OUT/big.pg.out"
"$PSQL" -X -w "$DM_CI" -c "copy big to stdout" >"$OUT/big.dm.out"
if cmp -s "$OUT/big.pg.out" "$OUT/big.dm.out" && cmp -s "$OUT/big.in" "$OUT/big.dm.out"; then
    pass "large COPY TO: the same bytes as PostgreSQL, and as the input"
else
    fail "large COPY TO: the same bytes as PostgreSQL, and as the input" \
        "$(cmp "$OUT/big.pg.out" "$OUT/big.dm.out" 2>&1)" "$(cmp "$OUT/big.in" "$OUT/big.dm.out" 2>&1)"
fi
both "large COPY TO (CSV) line count" $NONE -c "\\copy big to 'big.csv' with csv" -c "\\! wc -l < big.csv"

dm_stop_check
dm_finish
