#!/usr/bin/env bash
# test_faas_sim: bench/faas-sim.sh end to end, with the tiny profile (its
# lull made longer than --idle-timeout 1, so that the database pauses and
# cold-starts mid-run) against Dormouse on SQLite only: the simulator
# (dm_faas_sim), the sampler, the ledger's collector and report.py.  Checks
# that:
#   - the runner exits 0 and Dormouse exited 0 (under ASan: no leak report);
#   - the simulator's counts agree with each other (summary.json,
#     invocations.csv, queries.csv) and the report prints them;
#   - the ledger counted every query: the traffic's (ok and failed) plus the
#     profile's setup statements (run once before the traffic), read again
#     through the admin console of a Dormouse restarted on the run's data
#     directory, and the report's ledger column and bills are the ledger's;
#   - the dashboard's live timeline (/v1/timeline) counted, second by
#     second, the same logins, refusals, queries, cold queries (= the
#     ledger's), cold starts (= the console's) and rows, and its state
#     changes end paused;
#   - the sampler's timeline was sampled and ends with the database paused;
#   - every SVG is well-formed XML, the latency chart draws one mark per
#     query, and report.md links each chart.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIM=${DM_FAAS_SIM:-$(dirname "$DORMOUSE_BIN")/dm_faas_sim}
if [ ! -x "$SIM" ]; then
    skip "no simulator at $SIM (build the dm_faas_sim target)"
    dm_finish
fi
dm_only "bench/faas-sim.sh runs Dormouse" || dm_finish
"$PYTHON" -c 'import psycopg' 2>/dev/null || die "setup: $PYTHON cannot import psycopg (install python3-psycopg)"

OUT=$DM_TMP/out
# tiny, with a lull longer than the idle timeout: the database pauses
# mid-run, and the burst after it is a cold start
PROFILE=$DM_TMP/tiny-cold.ini
sed 's/^name = tiny$/name = tiny-cold/; /^\[phase:pause\]/,/^duration_s/s/^duration_s = .*/duration_s = 3/' \
    "$DM_SOURCE_DIR/bench/faas-sim/profiles/tiny.ini" >"$PROFILE"
grep -q "duration_s = 3" "$PROFILE" || die "setup: cannot lengthen tiny.ini's lull" "$(cat "$PROFILE")"
RUNTMP=$(dm_tmpdir run) # the runner's servers and ledgers, kept (KEEP=1) for the checks below
TMPDIR=$RUNTMP KEEP=1 DORMOUSE_BIN=$DORMOUSE_BIN FAAS_SIM_BIN=$SIM PG_BINDIR=$PG_BINDIR \
    timeout 150 bash "$DM_SOURCE_DIR/bench/faas-sim.sh" --setups sqlite --profile "$PROFILE" --idle-timeout 1 --out "$OUT" \
    >"$DM_TMP/run.log" 2>&1
rc=$?
assert_rc "bench/faas-sim.sh --setups sqlite --profile tiny-cold --idle-timeout 1 exits 0" 0 "$rc" "$(tail -n 40 "$DM_TMP/run.log")"
[ -f "$OUT/report.md" ] || die "no report.md" "$(tail -n 40 "$DM_TMP/run.log")"
DM_LOGS+=("$OUT/sqlite/dormouse.log" "$OUT/sqlite/sim.log")
assert_eq "Dormouse exited 0 after the run" 0 "$(cat "$OUT/sqlite/dormouse.exit" 2>/dev/null)"

# The run's data directory (SQLite file and ledger) under a new Dormouse.
DATA=$(ls -d "$RUNTMP"/dm-faas.*/sqlite/data 2>/dev/null | head -1)
[ -n "$DATA" ] && [ -f "$DATA/dormouse_ledger.db" ] || die "the run's data directory was not kept" "$(ls -R "$RUNTMP")"
DM_PORT=$(free_port) || die "no free port"
DM_DATA=$DATA
dm_write_config "$DM_TMP/again.ini" "admin_users = admin" "[databases] sim = engine=sqlite"
dm_start "$DM_TMP/again.ini"

out=$("$PYTHON" - "$OUT" "$DM_PORT" "$PROFILE" 2>&1 <<'PY'
import csv, json, os, re, sys
import xml.etree.ElementTree as ET
from dmlib import Console, report
out, port, profile = sys.argv[1], sys.argv[2], sys.argv[3]
d = os.path.join(out, "sqlite")
summary = json.load(open(os.path.join(d, "summary.json")))
invs = list(csv.DictReader(open(os.path.join(d, "invocations.csv"))))
qs = list(csv.DictReader(open(os.path.join(d, "queries.csv"))))
nsetup = sum(1 for line in open(profile) if re.match(r"setup\s*=", line))
q_ok = sum(1 for q in qs if q["ok"] == "1")
q_failed = sum(1 for q in qs if q["ok"] != "1")
conn_err = sum(1 for i in invs if i["connect_ok"] != "1")
report(nsetup == 2, "the profile (tiny.ini's) has two setup statements", nsetup)
report(len(invs) == summary["invocations"] and len(invs) >= 10,
       "invocations.csv has summary.json's invocations (at least ten)", (len(invs), summary["invocations"]))
report(conn_err == summary["connect_errors"], "connection errors: invocations.csv = summary.json",
       (conn_err, summary["connect_errors"]))
report((q_ok, q_failed) == (summary["queries_ok"], summary["queries_failed"]),
       "queries ok and failed: queries.csv = summary.json", ((q_ok, q_failed), summary))
report(sum(int(i["queries_ok"]) for i in invs) == q_ok and sum(int(i["queries_failed"]) for i in invs) == q_failed,
       "each invocation's query counts add up to queries.csv's")

# report.md's tables, by their column names
md = open(os.path.join(out, "report.md")).read()
def table(first_headers):
    """The rows (dicts by column name) of the table whose header starts so."""
    lines = md.split("\n")
    for k, line in enumerate(lines):
        if line.startswith("| " + first_headers + " |"):
            header = [c.strip() for c in line.strip("|").split("|")]
            rows = []
            for row in lines[k + 2:]:
                if not row.startswith("|"):
                    break
                rows.append(dict(zip(header, [c.strip() for c in row.strip("|").split("|")])))
            return rows
    return []
def table_row(first_headers, setup):
    return next((r for r in table(first_headers) if r["setup"] == setup), None)
counts = table_row("setup | invocations", "sqlite")
report(counts is not None, "report.md has the counts table with a row for sqlite")
counts = counts or {}
want = {"invocations": len(invs), "connection errors": conn_err, "queries ok": q_ok, "query errors": q_failed,
        "setup statements": nsetup, "ledger queries": q_ok + q_failed + nsetup, "ledger errors": q_failed}
got = {k: counts.get(k) for k in want}
report(got == {k: str(v) for k, v in want.items()},
       "report.md's counts are the simulator's, and its ledger counted the traffic and the setup", (got, want))
lat = table_row("setup | queries", "sqlite") or {}
report(lat.get("queries") == str(q_ok + q_failed), "report.md's latency table covers every query", lat)

# the ledger itself, through the console of a Dormouse on the same data
console = Console(port)
usage = [r for r in console.rows("SHOW USAGE sim") if r["database"] == "sim"]
report(len(usage) == 1 and usage[0]["queries"] == q_ok + q_failed + nsetup,
       "SHOW USAGE: the ledger's queries = queries ok + failed + the setup statements",
       (usage, q_ok, q_failed, nsetup))
report(len(usage) == 1 and usage[0]["errors"] == q_failed, "SHOW USAGE: the ledger's errors = the failed queries",
       (usage, q_failed))
ledger = json.load(open(os.path.join(d, "ledger.json")))
report(usage and ledger["usage"]["queries"] == usage[0]["queries"]
       and abs(ledger["usage"]["active_seconds"] - usage[0]["active_seconds"]) < 1e-3,
       "the runner's /v1/usage matches SHOW USAGE (queries, active seconds)", (ledger["usage"], usage))
bill = console.rows("SHOW BILL sim")
totals = {r["plan"]: r for r in bill if r.get("item") == "total"}
costs = {r["pricing"]: r["the run"] for r in table("setup | pricing") if r["setup"] == "sqlite"}
def usd(v):
    return "$0" if v == 0 else (f"${v:.6f}" if v < 0.01 else f"${v:,.2f}")
want_costs = {p: usd(float(r["amount_usd"])) for p, r in totals.items()}
report(want_costs and costs == want_costs, "report.md's bill for the run under each plan is SHOW BILL's total",
       (costs, want_costs, bill[:3]))

# the dashboard's live timeline (/v1/timeline, saved by collect.py): the same
# counts, second by second, from Dormouse's side
live = ledger.get("live") or {}
samples = live.get("samples", [])
def total(k):
    return sum(x[k] for x in samples)
connected = sum(1 for i in invs if i["connect_ok"] == "1")
report(len(samples) >= 5, "the live timeline has a sample a second", len(samples))
report(total("logins") == connected + 1,
       "live logins = the invocations that connected + the setup's connection", (total("logins"), connected))
report(total("refused") == conn_err, "live refused logins = the simulator's connection errors",
       (total("refused"), conn_err))
report(total("queries") == q_ok + q_failed + nsetup, "live queries = the simulator's + the setup statements",
       (total("queries"), q_ok, q_failed, nsetup))
report(total("cold_queries") == ledger["usage"].get("cold_queries"),
       "live cold queries = the ledger's (queries that waited for a resume)",
       (total("cold_queries"), ledger["usage"].get("cold_queries")))
dbrow = ledger["console"]["databases"] or {}
report(total("cold_starts") == dbrow.get("cold_starts") and total("cold_starts") >= 1,
       "live cold starts = SHOW DATABASES' (at least one)", (total("cold_starts"), dbrow.get("cold_starts")))
report(all(x["dormouse_mb"] > 1 and x["engine_processes"] == 0 for x in samples),
       "live memory: Dormouse's sampled, no engine process on SQLite")
report(total("rows_returned") == ledger["usage"].get("rows_returned"),
       "live rows returned = the ledger's", (total("rows_returned"), ledger["usage"].get("rows_returned")))
sim_states = [x["state"] for x in live.get("states", []) if x["database"] == "sim"]
report(sim_states[-1:] == ["paused"] and "up" in sim_states,
       "live states: sim was up and ends paused", sim_states)

# the timeline
tl = list(csv.DictReader(open(os.path.join(d, "timeline.csv"))))
states = {r["state"] for r in tl}
report(len(tl) >= 10 and states <= {"active", "idle", "pausing", "paused", "resuming"},
       "timeline.csv: samples with the console's states", (len(tl), states))
report(tl and tl[-1]["state"] == "paused", "timeline.csv ends with the database paused", tl[-1:] or None)
report(tl and all(int(r["processes"]) == 1 and int(r["rss_kb"]) > 0 for r in tl),
       "timeline.csv: one server process (Dormouse), its memory sampled")

# the charts
charts = ["sqlite/latency.svg", "sqlite/state.svg", "sqlite/resources.svg", "comparison-latency.svg",
          "comparison-cost.svg"]
for c in charts:
    try:
        root = ET.parse(os.path.join(out, c)).getroot()
        report(root.tag == "{http://www.w3.org/2000/svg}svg", f"{c} is well-formed SVG", root.tag)
    except (OSError, ET.ParseError) as e:
        report(False, f"{c} is well-formed SVG", e)
    report(f"]({c})" in md, f"report.md links {c}")
root = ET.parse(os.path.join(d, "latency.svg")).getroot()
groups = {g.get("id"): len(list(g)) for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("id")}
report(groups.get("queries", 0) + groups.get("cold-queries", 0) == q_ok and groups.get("failed-queries") == q_failed
       and groups.get("connection-errors") == conn_err,
       "latency.svg: one mark per query and per connection error", (groups, q_ok, q_failed, conn_err))
print("DONE")
PY
)
relay_checks "$out"
dm_stop_check "the second Dormouse exits 0"
dm_finish
