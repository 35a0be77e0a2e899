#!/usr/bin/env bash
# test_http: the HTTP surface, with curl.  /healthz answers; /metrics is
# valid Prometheus text (every sample line parses, every family has HELP and
# TYPE, names are prefixed dormouse_) whose numbers follow real traffic:
# queries and bytes counted, a database's state moving to paused and back,
# cold starts and the resume summary; /v1/databases is JSON with the
# lifecycle; unknown paths get 404, other methods 405, both as JSON errors;
# with http_auth_token, a request without the bearer token gets 401; with
# metering off /v1/usage answers 503; a taken
# http_listen address given explicitly stops Dormouse with a clear error.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "the HTTP surface is Dormouse's" || dm_finish
command -v curl >/dev/null || die "setup: curl is required"

DM_PORT=$(free_port) || die "no free port"
HTTP_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
dm_write_config "$DM_TMP/http.ini" "http_listen = 127.0.0.1:$HTTP_PORT" "idle_timeout = 1" \
    "admin_users = admin" "[databases] * = engine=sqlite"
dm_start "$DM_TMP/http.ini"
URL=http://127.0.0.1:$HTTP_PORT

# get PATH [curl args...]: prints "STATUS BODY"
get() {
    local path=$1
    shift
    curl -s -o "$DM_TMP/body" -w '%{http_code}' "$@" "$URL$path" 2>&1
    printf ' '
    cat "$DM_TMP/body" 2>/dev/null
}

assert_eq "GET /healthz: 200 ok" '200 {"status":"ok"}' "$(get /healthz)"
dmq() { dm_psql "$(dm_conninfo "$1" s)" -At -c "$2" 2>&1; }
dmq web "create table t (x int)" >/dev/null
dmq web "insert into t values (1), (2), (3)" >/dev/null
assert_eq "a client reads" "3" "$(dmq web 'select count(*) from t')"

out=$(timeout 60 "$PYTHON" - "$URL" "$DM_PORT" 2>&1 <<'PY'
import json, re, sys, time, urllib.request
from dmlib import connect, report, wait_for
url, port = sys.argv[1], sys.argv[2]
def fetch(path):
    with urllib.request.urlopen(url + path) as r:
        return r.status, r.headers.get("Content-Type"), r.read().decode()
def metrics():
    status, ctype, body = fetch("/metrics")
    samples, helps, types, bad = {}, set(), set(), []
    for line in body.splitlines():
        if line.startswith("# HELP "):
            helps.add(line.split()[2])
        elif line.startswith("# TYPE "):
            types.add(line.split()[2])
        elif line:
            m = re.fullmatch(r'([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (\S+)', line)
            if not m:
                bad.append(line)
                continue
            float(m.group(3))
            samples[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return status, ctype, samples, helps, types, bad

status, ctype, s, helps, types, bad = metrics()
report(status == 200 and ctype.startswith("text/plain; version=0.0.4"), "GET /metrics: 200, Prometheus text format", (status, ctype))
report(not bad, "every sample line parses", bad[:3])
names = {k.split("{")[0] for k in s}
family = lambda n: re.sub(r"_(sum|count|bucket)$", "", n)
report(all(n.startswith("dormouse_") for n in names), "every metric is prefixed dormouse_", sorted(names)[:5])
report(all(family(n) in helps and family(n) in types for n in names), "every family has HELP and TYPE",
       sorted(n for n in names if family(n) not in helps)[:5])
q = s.get('dormouse_queries_total{database="web"}', 0)
report(q >= 3, "dormouse_queries_total counts the client's queries", q)
h = s.get('dormouse_query_duration_seconds_count{database="web"}', -1)
inf = s.get('dormouse_query_duration_seconds_bucket{database="web",le="+Inf"}', -2)
buckets = [v for k, v in s.items() if k.startswith('dormouse_query_duration_seconds_bucket{database="web"')]
report(h == q and inf == q and buckets == sorted(buckets) and len(buckets) == 10,
       "dormouse_query_duration_seconds: a histogram of every query, cumulative buckets", (h, q, buckets))
report(s.get('dormouse_rows_returned_total{database="web"}', 0) >= 1 and 'dormouse_rows_read_total{database="web"}' in s
       and 'dormouse_ledger_lag_records' in s, "rows read, written and returned, and the ledger's lag")
report(s.get('dormouse_received_bytes_total{database="web"}', 0) > 0 and s.get('dormouse_sent_bytes_total{database="web"}', 0) > 0,
       "bytes received and sent are counted")
report(wait_for(lambda: metrics()[2].get('dormouse_client_connections{kind="all"}') == 0, 5),
       "no client connected now (psql has gone)")

# the lifecycle: paused, then resumed by a query
report(wait_for(lambda: metrics()[2].get('dormouse_database_state{database="web",engine="sqlite",state="paused"}') == 1, 10),
       "dormouse_database_state shows web paused after idle_timeout")
s = metrics()[2]
report(s.get('dormouse_databases{state="paused"}', 0) >= 1, "dormouse_databases counts it among the paused")
c = connect(port, "web", "s")
c.execute("select count(*) from t").fetchone()
s = metrics()[2]
report(s.get('dormouse_database_state{database="web",engine="sqlite",state="paused"}') == 0, "after a query it is not paused")
report(s.get('dormouse_database_cold_starts_total{database="web"}') == 1, "dormouse_database_cold_starts_total: 1",
       s.get('dormouse_database_cold_starts_total{database="web"}'))
report(s.get('dormouse_database_resume_seconds_count{database="web"}') == 1 and
       0 < s.get('dormouse_database_resume_seconds{database="web",quantile="0.99"}', 0) < 5,
       "the resume summary: one resume, its latency in seconds")
report(s.get('dormouse_client_connections{kind="all"}') == 1, "one client connected")
report(s.get('dormouse_database_active_seconds_total{database="web"}', 0) > 0, "active seconds are counted")
c.close()

status, ctype, body = fetch("/v1/databases")
dbs = {d["name"]: d for d in json.loads(body)["databases"]}
w = dbs.get("web", {})
report(status == 200 and ctype == "application/json" and w.get("engine") == "sqlite" and w.get("cold_starts") == 1
       and w.get("state") in ("active", "idle") and w.get("resume_p50_ms", 0) > 0,
       "GET /v1/databases: JSON with each database's lifecycle", w)
print("DONE")
PY
)
relay_checks "$out"

out=$(get /nope)
assert_contains "an unknown path: 404" "$out" "404 "
assert_contains "... with a JSON error naming the endpoints" "$out" '"error":"no such endpoint: /nope'
assert_contains "POST: 405 with a JSON error" "$(get /metrics -X POST -d x=1)" '405 {"error":"only GET and HEAD are served"}'
dm_stop_check

# a bearer token
dm_write_config "$DM_TMP/token.ini" "http_listen = 127.0.0.1:$HTTP_PORT" "http_auth_token = s3cret" \
    "metering = off" "admin_users = admin"
dm_start "$DM_TMP/token.ini"
assert_contains "http_auth_token: no token, 401" "$(get /metrics)" '401 {"error":"missing or wrong bearer token'
assert_contains "... a wrong one, 401" "$(get /metrics -H 'Authorization: Bearer nope')" "401 "
assert_contains "... the right one, 200" "$(get /metrics -H 'Authorization: Bearer s3cret')" "200 # HELP"
assert_contains "... the dashboard page itself needs none (its data does)" "$(get /)" "200 <!doctype html>"
assert_contains "... /v1/overview does" "$(get /v1/overview)" "401 "
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -n "$CHROMIUM" ]; then
    dump() { timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --user-data-dir="$DM_TMP/chromium" --virtual-time-budget=4000 --dump-dom "$1" 2>/dev/null; }
    assert_contains "... opened as /#token=TOKEN, the page sends it and loads its data" \
        "$(dump "http://127.0.0.1:$HTTP_PORT/#token=s3cret")" 'data-loaded="yes"'
    assert_contains "... without it, the page says what is wrong" \
        "$(dump "http://127.0.0.1:$HTTP_PORT/")" "cannot reach Dormouse: HTTP 401"
fi
assert_contains "metering = off: /v1/usage says so, 503" \
    "$(get '/v1/usage?database=x' -H 'Authorization: Bearer s3cret')" '503 {"error":"metering is off'
expect_sqlstate "metering = off: the console's SHOW USAGE says so (0A000)" "$(dm_conninfo dormouse admin)" \
    "SHOW USAGE" "0A000"

# an explicit http_listen that cannot be bound stops Dormouse with a clear error
DM_PORT2=$(free_port) || die "no free port"
cat >"$DM_TMP/taken.ini" <<EOF
[dormouse]
listen_addr = 127.0.0.1
listen_port = $DM_PORT2
data_dir = $DM_DATA
auth_type = trust
http_listen = 127.0.0.1:$HTTP_PORT
EOF
out=$(timeout 20 "$DORMOUSE_BIN" -c "$DM_TMP/taken.ini" 2>&1)
rc=$?
assert_true "http_listen taken: Dormouse exits non-zero" "rc $rc: $out" [ "$rc" -ne 0 ]
assert_contains "... saying why" "$out" "cannot listen on http_listen 127.0.0.1:$HTTP_PORT"
dm_stop_check
dm_finish
