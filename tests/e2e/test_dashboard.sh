#!/usr/bin/env bash
# test_dashboard: the capacity dashboard at http://127.0.0.1:PORT/, loaded in
# headless Chromium against a Dormouse with real traffic: a database queried
# and left to pause, another one active with a client connected.  The page
# (no external assets) fetches /v1/overview and must show the numbers
# Dormouse reports: the client count, databases up and paused, each
# database's state, cold starts and queries.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "the dashboard is Dormouse's" || dm_finish
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || die "setup: chromium is required (apt-get install chromium)"

DM_PORT=$(free_port) || die "no free port"
HTTP_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
dm_write_config "$DM_TMP/dash.ini" "http_listen = 127.0.0.1:$HTTP_PORT" "idle_timeout = 1" \
    "[databases] live = engine=sqlite idle_timeout=0" "[databases] * = engine=sqlite"
dm_start "$DM_TMP/dash.ini"
URL=http://127.0.0.1:$HTTP_PORT

dmq() { dm_psql "$(dm_conninfo "$1" s)" -At -c "$2" 2>&1; }
dmq nap "create table t (x int)" >/dev/null
dmq nap "insert into t values (1)" >/dev/null
state() { curl -s "$URL/v1/databases" | "$PYTHON" -c \
    'import json,sys; print({d["name"]: d["state"] for d in json.load(sys.stdin)["databases"]}.get(sys.argv[1]))' "$1"; }
paused() { [ "$(state nap)" = paused ]; }
wait_until 15 paused || fail "nap pauses" "state: $(state nap)"
assert_eq "a query resumes nap" "1" "$(dmq nap 'select count(*) from t')"
wait_until 15 paused || fail "nap pauses again" "state: $(state nap)"
sleep 1.5 # the pause's activity record (active time, which the cost counts) reaches the ledger
# a client stays connected to live, which never pauses
"$PYTHON" - "$DM_PORT" >"$DM_TMP/holder.out" 2>&1 <<'PY' &
import sys, time
from dmlib import connect
c = connect(sys.argv[1], "live", "s")
for _ in range(5):
    c.execute("select 1")
print("ready", flush=True)
time.sleep(60)
PY
bg_track $!
holding() { grep -q ready "$DM_TMP/holder.out"; }
wait_until 15 holding || fail "a client holds live" "$(cat "$DM_TMP/holder.out")"

assert_contains "GET / serves the page" "$(curl -s "$URL/")" "<title>Dormouse: capacity and billing</title>"
assert_true "the page loads nothing from elsewhere" "$(curl -s "$URL/" | grep -Eo '(src|href)="[^"]*"')" \
    eval "! curl -s '$URL/' | grep -Eq '(src|href)=\"(https?:)?//'"

# what Chromium shows after running the page's script
dom=$(timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --user-data-dir="$DM_TMP/chromium" --virtual-time-budget=5000 --dump-dom "$URL/" 2>/dev/null)
printf "%s" "$dom" >"$DM_TMP/dom.html"
[ -n "$dom" ] || die "chromium printed no DOM"
out=$("$PYTHON" - "$URL" "$DM_TMP/dom.html" 2>&1 <<'PY'
import html.parser, json, sys, urllib.request
from dmlib import dom_text, report
dom = open(sys.argv[2]).read()
t, attrs = dom_text(dom)
with urllib.request.urlopen(sys.argv[1] + "/v1/overview") as r:
    ov = json.load(r)
dbs = {d["name"]: d for d in ov["databases"]}
report(attrs.get("body", {}).get("data-loaded") == "yes", "the page's script fetched /v1/overview", attrs.get("body"))
report(t.get("clients") == "1", "it shows one client connection", t.get("clients"))
up = sum(1 for d in ov["databases"] if d["state"] != "paused")
report(t.get("dbs-active") == str(up) and t.get("dbs-paused") == str(len(ov["databases"]) - up),
       "it shows the databases up and paused as Dormouse counts them", (t.get("dbs-active"), t.get("dbs-paused"), up))
report(t.get("db-nap.state", "").strip() == "paused", "nap's row says paused", t.get("db-nap.state"))
report(t.get("db-live.state", "").strip() in ("active", "idle"), "live's row says it is up", t.get("db-live.state"))
report(t.get("db-nap.cold_starts") == str(dbs["nap"]["cold_starts"]) == "1", "nap's cold starts: 1", t.get("db-nap.cold_starts"))
report(t.get("db-nap.queries") == str(dbs["nap"]["queries"]) and int(t.get("db-nap.queries", "0")) >= 3,
       "nap's queries as Dormouse counts them", (t.get("db-nap.queries"), dbs["nap"]["queries"]))
report(t.get("cold-starts") == str(sum(d["cold_starts"] for d in ov["databases"])), "the cold starts card", t.get("cold-starts"))

# the billing half: /v1/bills, /v1/queries
with urllib.request.urlopen(sys.argv[1] + "/v1/bills") as r:
    bills = json.load(r)
with urllib.request.urlopen(sys.argv[1] + "/v1/queries?limit=10") as r:
    top = json.load(r)["queries"]
report(attrs.get("body", {}).get("data-billing") == "yes", "the page's script fetched the billing data", attrs.get("body"))
nap = [d for d in bills["databases"] if d["database"] == "nap"][0]
report(all(t.get("bill-nap." + k) == str(nap[k]) for k in ("queries", "rows_read", "rows_written", "rows_returned", "cold_starts"))
       and nap["rows_written"] == 1 and nap["queries"] >= 3,
       "nap's usage this month as the ledger counts it", ({k: t.get("bill-nap." + k) for k in ("queries", "rows_read", "rows_written")}, nap))
first = bills["plans"][0]
report(t.get("bill-nap.cost") == "%.6f" % nap["totals"][first],
       f"nap's cost under the first plan ({first}) as /v1/bills computes it", (t.get("bill-nap.cost"), nap["totals"][first]))
report(len(top) > 0 and t.get("top-0.query") == top[0]["query"] and t.get("top-0.calls") == str(top[0]["calls"]),
       "the most expensive query fingerprint, with its normalised text", (t.get("top-0.query"), top[:1]))
print("DONE")
PY
)
relay_checks "$out"
dm_stop_check
dm_finish
