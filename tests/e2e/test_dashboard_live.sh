#!/usr/bin/env bash
# test_dashboard_live: the dashboard's "Live" section, loaded in headless
# Chromium after real traffic: psql logins to two databases, a login refused
# for a wrong password, a database left to pause and queried again (a cold
# start), then everything paused so that Dormouse sleeps and the timeline
# stops changing.  The page fetches /v1/timeline once a second (the whole
# window first, then only what came after its last sample) and must show
# what the endpoint answers: the sums over the window (logins, refusals,
# queries, cold-start queries, cold starts, cost under the plan), the latest
# sample's p99 and memory, the always-on cost over the window's span, each
# database's state, and its five charts.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dm_only "the dashboard is Dormouse's" || dm_finish
CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
[ -n "$CHROMIUM" ] || die "setup: chromium is required (apt-get install chromium)"

DM_PORT=$(free_port) || die "no free port"
HTTP_PORT=$(free_port) || die "no free port"
DM_DATA=$(dm_tmpdir data)
AUTH_FILE=$DM_TMP/userlist.txt
printf '"s" "spw"\n' >"$AUTH_FILE"
dm_write_config "$DM_TMP/live.ini" "http_listen = 127.0.0.1:$HTTP_PORT" "idle_timeout = 1" \
    "auth_type = md5" "auth_file = $AUTH_FILE" "[databases] * = engine=sqlite"
dm_start "$DM_TMP/live.ini"
URL=http://127.0.0.1:$HTTP_PORT

code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/timeline")
[ "$code" = 200 ] || die "GET /v1/timeline answers $code: this Dormouse has no live timeline"

# traffic: five logins with one query each, and one refused login
dmq() { PGPASSWORD=spw dm_psql "$(dm_conninfo "$1" s)" -At -c "$2" 2>&1; }
assert_eq "nap: create table" "CREATE TABLE" "$(dmq nap 'create table t (x int)')"
assert_eq "nap: insert" "INSERT 0 1" "$(dmq nap 'insert into t values (1)')"
assert_eq "nap: select" "1" "$(dmq nap 'select count(*) from t')"
assert_eq "other: select" "1" "$(dmq other 'select 1')"
out=$(PGPASSWORD=wrong dm_psql "$(dm_conninfo nap s)" -At -c "select 1" 2>&1)
assert_contains "a wrong password is refused" "$out" "password authentication failed"

state() { curl -s "$URL/v1/databases" | "$PYTHON" -c \
    'import json,sys; print({d["name"]: d["state"] for d in json.load(sys.stdin)["databases"]}.get(sys.argv[1]))' "$1"; }
paused() { [ "$(state nap)" = paused ]; }
wait_until 15 paused || fail "nap pauses" "state: $(state nap)"
assert_eq "a query resumes nap (a cold start)" "1" "$(dmq nap 'select count(*) from t')"
# all paused, nothing connected: Dormouse sleeps and the timeline stops changing
timeline_paused() { curl -s "$URL/v1/timeline" | "$PYTHON" -c \
    'import json,sys; sys.exit(any(d["state"] != "paused" for d in json.load(sys.stdin)["databases"]))'; }
wait_until 15 timeline_paused || fail "the timeline sees every database paused" "$(curl -s "$URL/v1/timeline" | head -c 2000)"
sleep 2

assert_eq "an unknown plan: 400" "400" "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/timeline?plan=no-such-plan")"
assert_contains "GET / serves the page with its Live section" "$(curl -s "$URL/")" 'id="live-states"'

# what Chromium shows after running the page's script for a few (virtual) seconds
dom=$(timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
    --user-data-dir="$DM_TMP/chromium" --virtual-time-budget=6000 --dump-dom "$URL/" 2>/dev/null)
printf "%s" "$dom" >"$DM_TMP/dom.html"
[ -n "$dom" ] || die "chromium printed no DOM"
curl -s "$URL/v1/timeline" >"$DM_TMP/timeline.json"
out=$("$PYTHON" - "$DM_TMP/dom.html" "$DM_TMP/timeline.json" 2>&1 <<'PY'
import html.parser, json, sys
from dmlib import dom_text, report
dom = open(sys.argv[1]).read()
tl = json.load(open(sys.argv[2]))
t, attrs = dom_text(dom)
body = attrs.get("body", {})
report(body.get("data-live") == "yes", "the page drew a /v1/timeline answer", body)
report(int(body.get("data-live-answers", "0")) >= 2, "it merged later answers (since=) into the first",
       body.get("data-live-answers"))

# the endpoint, fetched after the page: traffic ended before both
S = [s for s in tl["samples"] if s["t"] > tl["now"] - tl["window_seconds"]]
report(len(S) > 0, "the timeline has samples", len(tl["samples"]))
total = lambda k: sum(s[k] for s in S)
report(total("logins") == 5 and total("refused") >= 1 and total("queries") >= 5,
       "the timeline counts the five logins, the refused one and the queries",
       {k: total(k) for k in ("logins", "refused", "queries")})
report(total("cold_starts") >= 1, "the timeline counts the cold start", total("cold_starts"))
for id_, k in (("live-logins", "logins"), ("live-refused", "refused"), ("live-queries", "queries"),
               ("live-cold-queries", "cold_queries"), ("live-cold-starts", "cold_starts")):
    report(t.get(id_) == str(total(k)), f"#{id_}: the window's {k} as the timeline counts them", (t.get(id_), total(k)))
report(t.get("live-cost") == "%.6f" % total("cost_usd"),
       f"#live-cost: the window's cost under {tl['plan']['name']}", (t.get("live-cost"), total("cost_usd")))
report(t.get("live-plan", "").startswith(tl["plan"]["name"] + " "), "the cost is under the default plan",
       (t.get("live-plan"), tl["plan"]))

# the latest sample: Dormouse sleeps, so no sample should have come after
# the page's; allow two (the gauges can move, the sums above cannot)
last, recent = S[-1], S[-3:]
p99 = lambda s: "-" if s["p99_ms"] is None else "%.3f" % s["p99_ms"]
report(t.get("live-p99-ms") in [p99(s) for s in recent],
       "#live-p99-ms: the latest sample's p99", (t.get("live-p99-ms"), [s["p99_ms"] for s in recent]))
for id_, k, f in (("live-dormouse-mb", "dormouse_mb", "%.1f"), ("live-engine-mb", "engine_mb", "%.1f"),
                  ("live-engine-processes", "engine_processes", "%d")):
    report(t.get(id_) in [f % s[k] for s in recent], f"#{id_}: the latest sample's {k}",
           (t.get(id_), [s[k] for s in recent]))
report(last["dormouse_mb"] > 0 and last["engine_processes"] == 0, "Dormouse's memory; no engine process for SQLite",
       last)

# always on: the plan's hourly price over the span the page shows (its
# window ends at the answer's now, a few seconds before ours)
price = tl["plan"]["compute_usd_per_hour"]
span = float(t.get("live-span-s", "nan"))
first = S[0]
ours = tl["now"] - max(tl["now"] - tl["window_seconds"], first["t"] - first["seconds"])
report(0 <= ours - span < 60, "the window's span: since the first sample", (span, ours))
report(abs(float(t.get("live-always-on", "nan")) - price * span / 3600) <= price * 0.06 / 3600 + 1e-6,
       f"#live-always-on: {price} USD an hour over the span", (t.get("live-always-on"), price, span))

# each database's state now, and its cold starts in the window
now = {d["name"]: d["state"] for d in tl["databases"]}
report(now.get("nap") == "paused" and now.get("other") == "paused", "the timeline: every database paused", now)
for db in ("nap", "other"):
    report(t.get(f"live-db-{db}.state", "").strip() == "paused", f"{db}'s row says paused", t.get(f"live-db-{db}.state"))
resumes = sum(1 for e in tl["states"] if e["database"] == "nap" and e["state"] == "resuming")
report(resumes >= 1 and t.get("live-db-nap.cold_starts") == str(resumes),
       "nap's row counts the resumes the timeline lists", (t.get("live-db-nap.cold_starts"), resumes))

# the charts: drawn, so the script sized each canvas (300 wide unless set)
for c in ("live-latency", "live-logins-chart", "live-states-chart", "live-memory", "live-cost-chart"):
    a = attrs.get(c) or {}
    report(int(a.get("width", "300")) > 300 and "height:" in a.get("style", ""), f"the chart #{c} is drawn", a)
print("DONE")
PY
)
relay_checks "$out"
dm_stop_check
dm_finish
