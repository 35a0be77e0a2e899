#!/usr/bin/python3
"""bench/faas-sim/report.py: the report of one bench/faas-sim.sh run.

    report.py OUT_DIR

Reads OUT_DIR/run.json and, per setup, OUT_DIR/<setup>/ (the simulator's
summary.json, invocations.csv and queries.csv; the sampler's timeline.csv;
collect.py's ledger.json for Dormouse setups; the runner's setup.json), and
writes OUT_DIR/report.md with SVG charts beside it: per setup latency.svg,
state.svg and resources.svg (one time axis, so the three line up), and
comparison-latency.svg and comparison-cost.svg for all setups.  Python's
standard library only; the SVG is written by hand.

Cold starts.  An invocation is cold when its first query asked for the
database while it was down: from the moment it paused until the resume that
query set off had finished.  The timeline (sampled every 250 ms) says when it
was down (pausing, paused or resuming); within the 250 ms before the first
sample that saw it down, the pause is put at the end of the last query before
it plus idle_timeout (what Dormouse does, up to its one-second timer).  The
first query after that sets the resume off, which is taken to last the
last_resume_ms of the next samples; every first query asked until then waited
for it.  A database down before the run's start was woken by the profile's
setup statements (run just before the start), if it has any.  The first
query of a cold invocation is a cold query; that is the one that waits.
Dormouse's own counts (SHOW DATABASES' cold_starts, the ledger's cold_starts
and cold_queries: queries that waited for a resume) are shown next to the
report's.
"""
import bisect
import csv
import json
import math
import os
import re
import sys
from html import escape

SETUP_ORDER = ["sqlite", "managed", "postgres"]
DOWN = ("pausing", "paused", "resuming")
MONTH_S = 30 * 24 * 3600.0

# The always-on instance: compute sizes and prices of the built-in plans
# (proxy/billing.c), billed for every hour instead of the active ones.
ALWAYS_ON = [
    {"plan": "neon", "label": "always on, Neon-sized: 0.25 CU at $0.16 per CU-hour",
     "units": 0.25, "price": 0.16},
    {"plan": "aurora-serverless-v2", "label": "always on, Aurora-sized: 0.5 ACU at $0.12 per ACU-hour",
     "units": 0.5, "price": 0.12},
]

STATE_COLOURS = {
    "active": "#2ca02c", "idle": "#98df8a", "pausing": "#ff9f40", "paused": "#b0b0b0",
    "resuming": "#d62728", "always-on": "#1f77b4", "unknown": "#ffffff",
}
C_WARM = "#1f77b4"
C_COLD = "#d62728"
C_FAIL = "#ff7f0e"
C_CONNERR = "#7b3294"
C_RSS = "#1f77b4"
C_PSS = "#17becf"
C_PROC = "#d62728"

# Chart geometry shared by every per-setup chart, so that their x axes line up.
W = 900
ML, MR = 72, 72


# ---------------------------------------------------------------- reading


def num(v, default=0.0):
    try:
        return float(v)
    except (TypeError, ValueError):
        return default


def read_csv(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def read_json(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def percentile(values, p):
    """Nearest rank; None for no values."""
    if not values:
        return None
    v = sorted(values)
    k = max(0, min(len(v) - 1, int(math.ceil(p / 100.0 * len(v))) - 1))
    return v[k]


def load_setup(out, name):
    d = os.path.join(out, name)
    s = {"name": name, "dir": d}
    s["setup"] = read_json(os.path.join(d, "setup.json")) or {"setup": name, "title": name}
    s["summary"] = read_json(os.path.join(d, "summary.json"))
    if s["summary"] is None:
        return s
    s["ledger"] = read_json(os.path.join(d, "ledger.json"))
    s["invocations"] = read_csv(os.path.join(d, "invocations.csv"))
    s["queries"] = read_csv(os.path.join(d, "queries.csv"))
    tl = read_csv(os.path.join(d, "timeline.csv"))
    if not tl:  # not aligned yet: align here
        zero = num(s["summary"].get("started_at_unix"))
        tl = read_csv(os.path.join(d, "timeline.raw.csv"))
        for r in tl:
            r["t"] = num(r["unix_s"]) - zero
    for r in tl:
        r["t"] = num(r["t"])
    tl.sort(key=lambda r: r["t"])
    s["timeline"] = tl
    return s


# ---------------------------------------------------------------- analysis


def idle_timeout(s):
    return num(s["setup"].get("idle_timeout"), 0)


def classify(s):
    """Marks cold invocations and queries; returns the down intervals
    [(from, to)] (paused, then resuming) on the run's time axis."""
    invs = s["invocations"]
    qs = s["queries"]
    tl = s["timeline"]
    by_inv = {}
    for q in qs:
        q["t"] = num(q["start_s"])
        q["lat"] = num(q["latency_ms"])
        q["okb"] = q.get("ok") in ("1", "true", "t", "True")
        q["cold"] = False
        by_inv.setdefault(q["invocation"], []).append(q)
    ends = sorted(q["t"] + q["lat"] / 1000 for q in qs)
    for inv in invs:
        inv["cold"] = False
        mine = sorted(by_inv.get(inv["id"], []), key=lambda q: num(q["index"]))
        inv["first"] = mine[0] if mine else None
        # when it first asked the database for something
        inv["ask"] = mine[0]["t"] if mine else num(inv["start_s"]) + num(inv["connect_ms"]) / 1000
    if not tl or tl[0].get("state") == "always-on":
        return []
    # runs of samples that saw the database down
    downs = []
    i = 0
    while i < len(tl):
        if tl[i]["state"] in DOWN:
            j = i
            while j + 1 < len(tl) and tl[j + 1]["state"] in DOWN:
                j += 1
            prev_t = tl[i - 1]["t"] if i > 0 else float("-inf")
            start = tl[i]["t"]
            if i > 0:
                # the pause: idle_timeout after the last query that ended before
                # the first sample that saw it down, if that falls in between
                k = bisect.bisect_right(ends, start) - 1
                if k >= 0:
                    est = ends[k] + idle_timeout(s)
                    start = min(max(est, prev_t), start)
                else:
                    start = prev_t
            # how long the resume after it took: the next sample's last_resume_ms
            resume_ms = 0.0
            for r in tl[j + 1:]:
                if r.get("last_resume_ms"):
                    resume_ms = num(r["last_resume_ms"])
                    break
            downs.append([start, tl[j + 1]["t"] if j + 1 < len(tl) else None, resume_ms])
            i = j + 1
        else:
            i += 1
    asks = sorted(invs, key=lambda inv: inv["ask"])
    intervals = []
    for start, seen_up, resume_ms in downs:
        if start < 0 and s.get("setup_sql"):
            # the setup statements, just before the start, woke it
            intervals.append((start, 0.0))
            continue
        trigger = next((inv for inv in asks if inv["ask"] >= start and inv["first"] is not None), None)
        if trigger is None or (seen_up is not None and trigger["ask"] > seen_up):
            # nobody woke it within this run of samples (the run ended paused,
            # or the sampler missed a resume): down until it was seen up
            intervals.append((start, seen_up if seen_up is not None else float("inf")))
            continue
        end = trigger["ask"] + resume_ms / 1000
        intervals.append((start, end))
        for inv in asks:
            if start <= inv["ask"] <= end and inv["first"] is not None:
                inv["cold"] = True
                inv["first"]["cold"] = True
    return intervals


def stats(s):
    """Every number of the report for one setup."""
    sm = s["summary"]
    invs, qs, tl = s["invocations"], s["queries"], s["timeline"]
    st = {}
    st["invocations"] = len(invs)
    st["connect_errors"] = sum(1 for i in invs if i.get("connect_ok") not in ("1", "true", "t", "True"))
    st["queries_ok"] = sum(1 for q in qs if q["okb"])
    st["queries_failed"] = sum(1 for q in qs if not q["okb"])
    st["summary"] = {k: sm.get(k) for k in ("invocations", "connect_errors", "queries_ok", "queries_failed")}
    lat = [q["lat"] for q in qs]
    cold = [q["lat"] for q in qs if q["cold"]]
    warm = [q["lat"] for q in qs if not q["cold"]]
    conn = [num(i["connect_ms"]) for i in invs if i.get("connect_ok") in ("1", "true", "t", "True")]
    first_warm = [i["first"]["lat"] for i in invs if i["first"] is not None and not i["cold"]]
    for key, v in (("all", lat), ("cold", cold), ("warm", warm), ("connect", conn), ("first_warm", first_warm)):
        st[key] = {p: percentile(v, p) for p in (50, 90, 99)}
        st[key]["max"] = max(v) if v else None
        st[key]["n"] = len(v)
    st["cold_invocations"] = sum(1 for i in invs if i["cold"])
    st["duration_s"] = num(sm.get("duration_s"))
    # errors by SQLSTATE
    errs = {}
    for i in invs:
        if i.get("connect_ok") not in ("1", "true", "t", "True"):
            key = ("connect", i.get("error_sqlstate") or "?")
            errs.setdefault(key, [0, i.get("error_message", "")])[0] += 1
    for q in qs:
        if not q["okb"]:
            key = ("query", q.get("sqlstate") or "?")
            errs.setdefault(key, [0, ""])[0] += 1
    st["errors"] = errs
    # the servers over the run: time-weighted over the samples within it
    end = max(st["duration_s"], 0.001)
    inside = [r for r in tl if 0 <= r["t"] <= end] or tl
    rss = [num(r["rss_kb"]) / 1024 for r in inside]
    pss = [num(r["pss_kb"]) / 1024 for r in inside]
    procs = [num(r["processes"]) for r in inside]
    st["mem_peak"] = max(rss) if rss else None
    st["mem_avg"] = sum(rss) / len(rss) if rss else None
    st["pss_peak"] = max(pss) if pss else None
    st["pss_avg"] = sum(pss) / len(pss) if pss else None
    st["proc_peak"] = max(procs) if procs else None
    st["proc_avg"] = sum(procs) / len(procs) if procs else None
    # time in each state within the run (each sample's state held until the next)
    st["state_s"] = {}
    for a, b in zip(tl, tl[1:]):
        lo, hi = max(a["t"], 0), min(b["t"], end)
        if hi > lo:
            st["state_s"][a["state"]] = st["state_s"].get(a["state"], 0) + hi - lo
    seen = sum(st["state_s"].values())
    st["up_share"] = 1 - st["state_s"].get("paused", 0) / seen if seen > 0 else 1.0
    colds = [num(r.get("cold_starts"), None) for r in tl if r.get("cold_starts") not in (None, "")]
    st["console_cold_starts"] = int(max(colds)) if colds else None
    led = s.get("ledger")
    if led:
        u = led.get("usage", {})
        st["ledger"] = {k: u.get(k) for k in ("queries", "errors", "cold_starts", "cold_queries",
                                               "active_seconds", "rows_read", "rows_written", "resume_wait_us")}
        row = (led.get("console") or {}).get("databases") or {}
        if row.get("cold_starts") is not None:
            st["console_cold_starts"] = int(row["cold_starts"])
        st["resume"] = {50: num(row.get("resume_p50_ms"), None), 99: num(row.get("resume_p99_ms"), None)}
    else:
        st["ledger"] = None
        st["resume"] = {50: None, 99: None}
    return st


def setup_statements(s):
    """The profile's setup statements (run once before the run's start),
    from its file: lines `setup = SQL` and their indented continuations."""
    path = s["summary"].get("profile_file") or s["setup"].get("profile")
    out = []
    try:
        with open(path) as f:
            for line in f:
                if re.match(r"\s*[;#]", line) or not line.strip():
                    continue
                if line[0] in " \t" and out and out[-1] is not None:
                    out[-1] += "\n" + line.strip()
                    continue
                m = re.match(r"setup\s*=\s*(.*)$", line.rstrip("\n"))
                out.append(m.group(1).split(" ;")[0].strip() if m else None)
    except (OSError, TypeError):
        return None
    return [x for x in out if x is not None]


def sql_shape(sql):
    """A statement without its constants, for matching a setup statement with
    the ledger's normalised text of its fingerprint."""
    sql = re.sub(r"\$RANDOM\s*\([^)]*\)", "?", sql)
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    sql = re.sub(r"\$\d+", "?", sql)
    sql = re.sub(r"(?<![\w.])\d+(?:\.\d+)?", "?", sql)
    return " ".join(sql.lower().split())


def setup_usage(s):
    """What the setup statements cost, from the ledger's fingerprints that match
    them (calls, rows_read, rows_written, bytes_out, cpu_us)."""
    led = s.get("ledger") or {}
    stmts = s.get("setup_sql") or []
    want = {}
    for x in stmts:
        want[sql_shape(x)] = want.get(sql_shape(x), 0) + 1
    out = {"calls": 0, "rows_read": 0, "rows_written": 0, "bytes_out": 0, "cpu_us": 0, "matched": 0}
    for q in led.get("queries", []):
        n = want.get(sql_shape(q.get("query", "")))
        if n and q.get("calls") == n:  # a fingerprint the traffic shares is left alone
            out["matched"] += n
            for k in ("calls", "rows_read", "rows_written", "bytes_out", "cpu_us"):
                out[k] += num(q.get(k))
    return out


# CockroachDB's request units (proxy/billing.c): per query, row read, row
# written, CPU second, MiB out.
RU_WEIGHTS = (1, 0.0625, 1, 333, 1 / 1048576.0)


def month_of_bill(s, bill):
    """The plan's bill for a 30-day month of this run's traffic: each line's
    quantity stretched, the allowances applied again.  Compute: the share of
    the run the database was up (the timeline) times the month; storage: the
    largest size for the whole month; rows, queries, transfer and request
    units: the traffic's part times 30 days / the run's length, plus the
    setup's once.  Returns (the total, its compute line)."""
    st = s["stats"]
    u = s["ledger"]["bill"].get("usage", {})
    su = s["setup_usage"]
    k = MONTH_S / st["duration_s"] if st["duration_s"] > 0 else 0

    def stretch(total, setup_part):
        share = setup_part / total if total > 0 else 0
        return (1 - share) * k + share

    ru_total = (RU_WEIGHTS[0] * num(u.get("queries")) + RU_WEIGHTS[1] * num(u.get("rows_read"))
                + RU_WEIGHTS[2] * num(u.get("rows_written")) + RU_WEIGHTS[3] * num(u.get("cpu_us")) / 1e6
                + RU_WEIGHTS[4] * num(u.get("bytes_out")))
    ru_setup = (RU_WEIGHTS[0] * su["calls"] + RU_WEIGHTS[1] * su["rows_read"] + RU_WEIGHTS[2] * su["rows_written"]
                + RU_WEIGHTS[3] * su["cpu_us"] / 1e6 + RU_WEIGHTS[4] * su["bytes_out"])
    factor = {
        "rows read": stretch(num(u.get("rows_read")), su["rows_read"]),
        "rows written": stretch(num(u.get("rows_written")), su["rows_written"]),
        "transfer": stretch(num(u.get("bytes_out")), su["bytes_out"]),
        "queries": stretch(num(u.get("queries")), su["calls"]),
        "request units": stretch(ru_total, ru_setup),
    }
    total = compute = 0.0
    for line in bill.get("lines", []):
        q = num(line.get("quantity"))
        item = line.get("item")
        if item == "compute":
            # the plan's compute units (a built-in's, else what the bill implies,
            # which includes its rounding up of each active period)
            units = next((a["units"] for a in ALWAYS_ON if a["plan"] == bill.get("plan")), None)
            active = num(u.get("active_seconds"))
            if units is None:
                units = q * 3600 / active if active > 0 else 0
            q = units * st["up_share"] * MONTH_S / 3600
        elif item == "storage":
            q = num(u.get("storage_bytes_max")) / 1e9
        else:
            q *= factor.get(item, k)
        per = 1e6 if str(line.get("price_unit", "")).startswith("per million") else 1.0
        amount = max(0.0, q - num(line.get("included"))) * num(line.get("unit_price")) / per
        total += amount
        if item == "compute":
            compute = amount
    return total, compute


def always_on_rows(setup_name, duration_s):
    rows = []
    for a in ALWAYS_ON:
        hourly = a["units"] * a["price"]
        rows.append({"setup": setup_name, "pricing": a["label"], "plan": a["plan"], "kind": "always on",
                     "run": hourly * duration_s / 3600, "month": hourly * MONTH_S / 3600,
                     "month_compute": hourly * MONTH_S / 3600})
    return rows


def costs(setups):
    """One row per (setup, plan): the run's cost and a month's."""
    rows = []
    for s in setups:
        st = s["stats"]
        led = s.get("ledger")
        if led:
            for b in led.get("bill", {}).get("bills", []):
                month, compute = month_of_bill(s, b)
                rows.append({"setup": s["name"], "pricing": b["plan"], "plan": b["plan"], "kind": "bill",
                             "run": num(b.get("total")), "month": month, "month_compute": compute})
        else:
            rows += always_on_rows(s["name"], st["duration_s"])
    if not any(r["kind"] == "always on" for r in rows):
        # no plain PostgreSQL in this run: the always-on instance for as long
        rows += always_on_rows("(not run)", max(s["stats"]["duration_s"] for s in setups))
    return rows


# ---------------------------------------------------------------- SVG


def fmt(v, digits=1):
    if v is None:
        return "–"
    if digits == 0:
        return str(int(round(float(v))))
    return f"{float(v):.{digits}f}"


def ms(v):
    if v is None:
        return "–"
    if v < 1:
        return f"{v:.3f}"
    if v < 100:
        return f"{v:.2f}"
    return f"{v:.0f}"


def usd(v):
    if v is None:
        return "–"
    if v == 0:
        return "$0"
    if v < 0.01:
        return f"${v:.6f}"
    return f"${v:,.2f}"


def nice_step(span, target=8):
    if span <= 0:
        return 1
    raw = span / target
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


class Svg:
    def __init__(self, w, h, title):
        self.w, self.h = w, h
        self.parts = [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" viewBox="0 0 {w} {h}" '
            f'font-family="sans-serif" font-size="12">',
            f"<title>{escape(title)}</title>",
            f'<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>',
        ]

    def add(self, s):
        self.parts.append(s)

    def text(self, x, y, s, anchor="start", size=12, colour="#222", weight="normal", rotate=None):
        tr = f' transform="rotate({rotate} {x:.1f} {y:.1f})"' if rotate is not None else ""
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
                 f'fill="{colour}" font-weight="{weight}"{tr}>{escape(str(s))}</text>')

    def line(self, x1, y1, x2, y2, colour="#000", width=1, dash=None, opacity=1):
        d = f' stroke-dasharray="{dash}"' if dash else ""
        self.add(f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" '
                 f'stroke-width="{width}"{d} stroke-opacity="{opacity}"/>')

    def rect(self, x, y, w, h, fill, opacity=1, stroke=None):
        st = f' stroke="{stroke}"' if stroke else ""
        self.add(f'<rect x="{x:.2f}" y="{y:.2f}" width="{max(w, 0):.2f}" height="{max(h, 0):.2f}" '
                 f'fill="{fill}" fill-opacity="{opacity}"{st}/>')

    def legend(self, x, y, items):
        """items: (kind, colour, label); kinds dot, bigdot, cross, tri, line, dash, box."""
        for kind, colour, label in items:
            cy = y - 4
            if kind == "dot":
                self.add(f'<circle cx="{x + 6}" cy="{cy}" r="2.5" fill="{colour}"/>')
            elif kind == "bigdot":
                self.add(f'<circle cx="{x + 6}" cy="{cy}" r="4" fill="{colour}"/>')
            elif kind == "cross":
                self.add(cross(x + 6, cy, colour))
            elif kind == "tri":
                self.add(tri(x + 6, cy, colour))
            elif kind in ("line", "dash"):
                self.line(x, cy, x + 14, cy, colour, 2, "4 3" if kind == "dash" else None)
            else:
                self.rect(x, cy - 5, 12, 10, colour, 1, "#666")
            self.text(x + 18, y, label)
            x += 32 + 7.0 * len(label)  # about the width of 12 px sans-serif

    def save(self, path):
        self.add("</svg>")
        with open(path, "w") as f:
            f.write("\n".join(self.parts) + "\n")


def cross(x, y, colour, r=3.5):
    return (f'<path d="M{x - r:.1f},{y - r:.1f}L{x + r:.1f},{y + r:.1f}M{x - r:.1f},{y + r:.1f}'
            f'L{x + r:.1f},{y - r:.1f}" stroke="{colour}" stroke-width="1.6"/>')


def tri(x, y, colour, r=4.5):
    return (f'<path d="M{x:.1f},{y + r:.1f}L{x - r:.1f},{y - r:.1f}L{x + r:.1f},{y - r:.1f}Z" '
            f'fill="{colour}"/>')


class TimeAxis:
    """x: seconds since the run's start, 0..xmax, over the plot's width."""

    def __init__(self, xmax):
        self.xmax = xmax
        self.x0, self.x1 = ML, W - MR

    def x(self, t):
        t = min(max(t, 0), self.xmax)
        return self.x0 + (self.x1 - self.x0) * t / self.xmax

    def draw(self, svg, ytop, ybottom, label=True, grid=True):
        step = nice_step(self.xmax, 12)
        t = 0.0
        while t <= self.xmax + 1e-9:
            x = self.x(t)
            if grid:
                svg.line(x, ytop, x, ybottom, "#e4e4e4")
            svg.line(x, ybottom, x, ybottom + 4, "#444")
            svg.text(x, ybottom + 16, f"{t:g}", "middle", 11)
            t += step
        svg.line(self.x0, ybottom, self.x1, ybottom, "#444")
        if label:
            svg.text((self.x0 + self.x1) / 2, ybottom + 32, "seconds since the run started", "middle", 12)


def shade_down(svg, ax, intervals, ytop, ybottom):
    for a, b in intervals:
        b = min(b, ax.xmax)
        if b > a:
            svg.rect(ax.x(a), ytop, ax.x(b) - ax.x(a), ybottom - ytop, "#b0b0b0", 0.25)


def latency_chart(s, ax, path):
    qs, invs = s["queries"], s["invocations"]
    h = 340
    top, bottom = 44, h - 44
    svg = Svg(W, h, f"{s['setup'].get('title', s['name'])}: query latency")
    svg.text(ML, 18, f"{s['setup'].get('title', s['name'])}: latency of every query (log scale)", size=14,
             weight="bold")
    lats = [q["lat"] for q in qs if q["lat"] > 0]
    lo = 10 ** math.floor(math.log10(min(lats))) if lats else 0.1
    hi = 10 ** math.ceil(math.log10(max(lats))) if lats else 10
    if hi <= lo:
        hi = lo * 10
    llo, lhi = math.log10(lo), math.log10(hi)

    def y(v):
        v = max(v, lo)
        return bottom - (bottom - top) * (math.log10(v) - llo) / (lhi - llo)

    shade_down(svg, ax, s["down"], top, bottom)
    ax.draw(svg, top, bottom)
    d = lo
    while d <= hi * 1.0001:
        for m in (1, 2, 5):
            v = d * m
            if v > hi * 1.0001:
                break
            svg.line(ML, y(v), W - MR, y(v), "#e4e4e4" if m == 1 else "#f2f2f2")
            if m == 1:
                svg.line(ML - 4, y(v), ML, y(v), "#444")
                svg.text(ML - 7, y(v) + 4, f"{v:g}", "end", 11)
        d *= 10
    svg.line(ML, top, ML, bottom, "#444")
    svg.text(18, (top + bottom) / 2, "latency (ms)", "middle", 12, rotate=-90)
    warm_ok = [q for q in qs if q["okb"] and not q["cold"]]
    cold = [q for q in qs if q["cold"] and q["okb"]]
    failed = [q for q in qs if not q["okb"]]
    pts = [f'<circle cx="{ax.x(q["t"]):.1f}" cy="{y(q["lat"]):.1f}" r="1.7"/>' for q in warm_ok]
    svg.add(f'<g id="queries" fill="{C_WARM}" fill-opacity="0.45">' + "".join(pts) + "</g>")
    svg.add('<g id="failed-queries">' + "".join(cross(ax.x(q["t"]), y(q["lat"]), C_FAIL) for q in failed) + "</g>")
    pts = [f'<circle cx="{ax.x(q["t"]):.1f}" cy="{y(q["lat"]):.1f}" r="3.6"/>' for q in cold]
    svg.add(f'<g id="cold-queries" fill="{C_COLD}" stroke="#ffffff" stroke-width="0.6">' + "".join(pts) + "</g>")
    cerr = [i for i in invs if i.get("connect_ok") not in ("1", "true", "t", "True")]
    svg.add('<g id="connection-errors">' + "".join(tri(ax.x(num(i["start_s"])), top + 5, C_CONNERR) for i in cerr) + "</g>")
    items = [("dot", C_WARM, f"query ({len(warm_ok)})"), ("bigdot", C_COLD, f"cold-start query ({len(cold)})"),
             ("cross", C_FAIL, f"failed ({len(failed)})"), ("tri", C_CONNERR, f"connection error ({len(cerr)})")]
    if s["down"]:
        items.append(("box", "#d8d8d8", "paused"))
    svg.legend(ML, 36, items)
    svg.save(path)


def state_chart(s, ax, path):
    tl = s["timeline"]
    h = 118
    top, bottom = 40, 70
    svg = Svg(W, h, f"{s['setup'].get('title', s['name'])}: database state")
    svg.text(ML, 18, f"{s['setup'].get('title', s['name'])}: state of the database (sampled every 250 ms)",
             size=14, weight="bold")
    # each sample's state holds until the next sample; one rectangle per run of a state
    k = 0
    while k + 1 < len(tl):
        j = k
        while j + 2 < len(tl) and tl[j + 1]["state"] == tl[k]["state"]:
            j += 1
        a, b = tl[k]["t"], tl[j + 1]["t"]
        if b > 0 and a < ax.xmax:
            svg.rect(ax.x(a), top, ax.x(b) - ax.x(a), bottom - top, STATE_COLOURS.get(tl[k]["state"], "#ffffff"))
        k = j + 1
    svg.rect(ML, top, W - MR - ML, bottom - top, "none", 1, "#444")
    svg.text(ML - 7, (top + bottom) / 2 + 4, "state", "end", 11)
    ax.draw(svg, top, bottom, label=False, grid=False)
    states_seen = {r["state"] for r in tl}
    order = ["active", "idle", "pausing", "paused", "resuming", "always-on", "unknown"]
    svg.legend(ML + 60, h - 8, [("box", STATE_COLOURS[k], k) for k in order if k in states_seen])
    svg.save(path)


def resources_chart(s, ax, path):
    tl = [r for r in s["timeline"] if 0 <= r["t"] <= ax.xmax] or s["timeline"]
    h = 250
    top, bottom = 44, h - 50
    svg = Svg(W, h, f"{s['setup'].get('title', s['name'])}: server processes and memory")
    svg.text(ML, 18, f"{s['setup'].get('title', s['name'])}: server processes and their memory",
             size=14, weight="bold")
    mem = [num(r["rss_kb"]) / 1024 for r in tl] + [num(r["pss_kb"]) / 1024 for r in tl]
    mmax = max(mem + [1])
    mstep = nice_step(mmax, 5)
    mtop = mstep * math.ceil(mmax / mstep)
    procs = [num(r["processes"]) for r in tl]
    pmax = max(procs + [1])
    pstep = max(1, nice_step(pmax, 5))
    ptop = pstep * math.ceil(pmax / pstep)

    def ym(v):
        return bottom - (bottom - top) * v / mtop

    def yp(v):
        return bottom - (bottom - top) * v / ptop

    ax.draw(svg, top, bottom)
    v = 0.0
    while v <= mtop + 1e-9:
        svg.line(ML, ym(v), W - MR, ym(v), "#e4e4e4")
        svg.text(ML - 7, ym(v) + 4, f"{v:g}", "end", 11, C_RSS)
        v += mstep
    v = 0.0
    while v <= ptop + 1e-9:
        svg.line(W - MR, yp(v), W - MR + 4, yp(v), C_PROC)
        svg.text(W - MR + 7, yp(v) + 4, f"{v:g}", "start", 11, C_PROC)
        v += pstep
    svg.line(ML, top, ML, bottom, C_RSS)
    svg.line(W - MR, top, W - MR, bottom, C_PROC)
    svg.text(18, (top + bottom) / 2, "memory (MB)", "middle", 12, C_RSS, rotate=-90)
    svg.text(W - 16, (top + bottom) / 2, "processes", "middle", 12, C_PROC, rotate=90)

    def path_of(vals, yf, step=False):
        d = []
        prev = None
        for r, v in zip(tl, vals):
            x, yy = ax.x(r["t"]), yf(v)
            if not d:
                d.append(f"M{x:.1f},{yy:.1f}")
            elif step:
                d.append(f"L{x:.1f},{prev:.1f}L{x:.1f},{yy:.1f}")
            else:
                d.append(f"L{x:.1f},{yy:.1f}")
            prev = yy
        return "".join(d)

    if tl:
        svg.add(f'<path d="{path_of([num(r["rss_kb"]) / 1024 for r in tl], ym)}" fill="none" '
                f'stroke="{C_RSS}" stroke-width="2"/>')
        svg.add(f'<path d="{path_of([num(r["pss_kb"]) / 1024 for r in tl], ym)}" fill="none" '
                f'stroke="{C_PSS}" stroke-width="1.6" stroke-dasharray="5 3"/>')
        svg.add(f'<path d="{path_of(procs, yp, step=True)}" fill="none" stroke="{C_PROC}" '
                f'stroke-width="1.4"/>')
    svg.legend(ML, 36, [("line", C_RSS, "memory, sum of VmRSS (MB)"),
                        ("dash", C_PSS, "sum of Pss (MB)"),
                        ("line", C_PROC, "server processes")])
    svg.save(path)


def comparison_latency_chart(setups, path):
    series = [("all", 50, "#9ecae1", "p50 all"), ("all", 99, "#3182bd", "p99 all"),
              ("cold", 50, "#fcae91", "p50 cold-start"), ("cold", 99, "#de2d26", "p99 cold-start"),
              ("connect", 50, "#c2a5cf", "p50 connect"), ("connect", 99, "#7b3294", "p99 connect")]
    vals = [s["stats"][k][p] for s in setups for k, p, _, _ in series if s["stats"][k][p]]
    lo = 10 ** math.floor(math.log10(min(vals))) if vals else 0.1
    hi = 10 ** math.ceil(math.log10(max(vals))) if vals else 10
    if hi <= lo:
        hi = lo * 10
    h = 360
    top, bottom = 56, h - 50
    svg = Svg(W, h, "query and connect latency per setup")
    svg.text(ML, 18, "Latency per setup (ms, log scale): all queries, cold-start queries, connecting",
             size=14, weight="bold")

    def y(v):
        return bottom - (bottom - top) * (math.log10(max(v, lo)) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))

    d = lo
    while d <= hi * 1.0001:
        svg.line(ML, y(d), W - MR, y(d), "#e4e4e4")
        svg.text(ML - 7, y(d) + 4, f"{d:g}", "end", 11)
        d *= 10
    svg.line(ML, top, ML, bottom, "#444")
    svg.line(ML, bottom, W - MR, bottom, "#444")
    svg.text(18, (top + bottom) / 2, "ms", "middle", 12, rotate=-90)
    gw = (W - ML - MR) / max(1, len(setups))
    bw = gw * 0.8 / len(series)
    for gi, s in enumerate(setups):
        gx = ML + gi * gw + gw * 0.1
        for si, (k, p, colour, _) in enumerate(series):
            v = s["stats"][k][p]
            x = gx + si * bw
            if v:
                svg.rect(x, y(v), bw - 2, bottom - y(v), colour)
                svg.text(x + (bw - 2) / 2, y(v) - 3, ms(v), "middle", 9)
            else:
                svg.text(x + (bw - 2) / 2, bottom - 3, "n/a", "middle", 9, "#888")
        svg.text(ML + gi * gw + gw / 2, bottom + 18, s["setup"].get("title", s["name"]), "middle", 12)
    svg.legend(ML, 40, [("box", c, l) for _, _, c, l in series])
    svg.save(path)


def comparison_cost_chart(rows, path):
    h = 50 + 24 * len(rows) + 56
    top = 50
    svg = Svg(W, h, "cost of a 30-day month at the run's traffic")
    svg.text(ML, 18, "A 30-day month of this traffic: Dormouse's bill per plan, and an always-on instance (USD)",
             size=14, weight="bold")
    vmax = max([r["month"] for r in rows] + [0.01])
    step = nice_step(vmax, 6)
    xmax = step * math.ceil(vmax / step)
    left = 300
    right = W - 90

    def x(v):
        return left + (right - left) * v / xmax

    bottom = top + 24 * len(rows)
    v = 0.0
    while v <= xmax + 1e-9:
        svg.line(x(v), top - 4, x(v), bottom, "#e4e4e4")
        svg.text(x(v), bottom + 16, f"${v:g}", "middle", 11)
        v += step
    for i, r in enumerate(rows):
        yy = top + 24 * i
        colour = "#1f77b4" if r["kind"] == "bill" else "#7f7f7f"
        svg.rect(left, yy + 3, x(r["month"]) - left, 16, colour)
        label = r["pricing"] if r["kind"] == "bill" else r["pricing"].split(":")[0]
        svg.text(left - 6, yy + 15, f"{r['setup']}: {label}", "end", 11)
        svg.text(x(r["month"]) + 4, yy + 15, usd(r["month"]), "start", 11)
    svg.line(left, top - 4, left, bottom, "#444")
    svg.legend(left, h - 12, [("box", "#1f77b4", "Dormouse's bill under a plan, for a month"),
                              ("box", "#7f7f7f", "an always-on instance, for a month")])
    svg.save(path)


# ---------------------------------------------------------------- Markdown


def md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        out.append("| " + " | ".join(str(c) for c in r) + " |")
    return "\n".join(out)


def main():
    if len(sys.argv) != 2:
        print("usage: report.py OUT_DIR", file=sys.stderr)
        return 2
    out = sys.argv[1]
    run = read_json(os.path.join(out, "run.json")) or {}
    names = [n for n in SETUP_ORDER if os.path.isdir(os.path.join(out, n))]
    names += sorted(n for n in os.listdir(out)
                    if n not in names and os.path.isfile(os.path.join(out, n, "setup.json")))
    setups = [load_setup(out, n) for n in names]
    missing = [s for s in setups if s["summary"] is None]
    setups = [s for s in setups if s["summary"] is not None]
    if not setups:
        print(f"report.py: no setup in {out} has a summary.json", file=sys.stderr)
        return 1
    for s in setups:
        s["setup_sql"] = setup_statements(s)
        s["setup_usage"] = setup_usage(s)
        s["down"] = classify(s)
        s["stats"] = stats(s)
    xmax = max(max(s["stats"]["duration_s"], max((r["t"] for r in s["timeline"]), default=0)) for s in setups)
    xmax = max(xmax, 1.0)
    ax = TimeAxis(xmax)
    for s in setups:
        latency_chart(s, ax, os.path.join(s["dir"], "latency.svg"))
        state_chart(s, ax, os.path.join(s["dir"], "state.svg"))
        resources_chart(s, ax, os.path.join(s["dir"], "resources.svg"))
    comparison_latency_chart(setups, os.path.join(out, "comparison-latency.svg"))
    cost_rows = costs(setups)
    comparison_cost_chart(cost_rows, os.path.join(out, "comparison-cost.svg"))

    md = []
    prof = os.path.basename(str(run.get("profile") or setups[0]["summary"].get("profile", "?")))
    md.append(f"# Serverless traffic: {prof}, seed {setups[0]['summary'].get('seed', '?')}")
    md.append("")
    md.append(f"`bench/faas-sim.sh` on {run.get('started', '?')}: Dormouse {run.get('dormouse_version', '?')}, "
              f"PostgreSQL {run.get('postgres_version', '?')}, {run.get('cores', '?')} cores, commit "
              f"{run.get('commit', '?')}; every Dormouse with `idle_timeout = {run.get('idle_timeout', '?')}`. "
              f"Setups: " + ", ".join(f"**{s['name']}** ({s['setup'].get('title', s['name'])})" for s in setups)
              + ".")
    if missing:
        md.append("")
        md.append("Not in this report (the run failed): " + ", ".join(s["name"] for s in missing) + ".")
    md.append("")
    md.append("## Counts")
    md.append("")
    md.append("Client side (the simulator) next to the server side (Dormouse's ledger and console). The "
              "simulator runs the profile's *setup statements* once, on one connection, before the run's "
              "start, so the ledger counts queries ok + query errors + setup statements. *Cold starts* are "
              "Dormouse's resumes (SHOW DATABASES), the one the setup set off included (a managed "
              "PostgreSQL's first start is one; an SQLite database's first open is not); *cold invocations* "
              "are the report's attribution (see [how cold is decided](#how-cold-is-decided)); *ledger cold "
              "queries* are the queries the ledger saw wait for a resume.")
    md.append("")
    rows = []
    for s in setups:
        st = s["stats"]
        led = st["ledger"] or {}
        nsetup = len(s["setup_sql"]) if s["setup_sql"] is not None else "?"
        rows.append([s["name"], st["invocations"], st["connect_errors"], st["queries_ok"], st["queries_failed"],
                     nsetup, fmt(led.get("queries"), 0) if led else "n/a", fmt(led.get("errors"), 0) if led else "n/a",
                     fmt(st["console_cold_starts"], 0) if st["console_cold_starts"] is not None else "n/a",
                     fmt(led.get("cold_starts"), 0) if led else "n/a", st["cold_invocations"],
                     fmt(led.get("cold_queries"), 0) if led else "n/a"])
    md.append(md_table(["setup", "invocations", "connection errors", "queries ok", "query errors",
                        "setup statements", "ledger queries", "ledger errors", "cold starts", "ledger cold starts",
                        "cold invocations", "ledger cold queries"], rows))
    md.append("")
    md.append("## Latency")
    md.append("")
    md.append("Milliseconds, as the simulator measured them (nearest-rank percentiles). *Cold* are the first "
              "queries of cold invocations, *warm first* the first queries of the others (in a burst these "
              "wait for each other too); *connect* is the time to log in; *resume* is Dormouse's own time "
              "to resume the database (SHOW DATABASES, its latest 128 resumes: the cold start itself).")
    md.append("")
    rows = []
    for s in setups:
        st = s["stats"]
        rows.append([s["name"], st["all"]["n"], ms(st["all"][50]), ms(st["all"][90]), ms(st["all"][99]),
                     ms(st["all"]["max"]), st["cold"]["n"], ms(st["cold"][50]), ms(st["cold"][90]),
                     ms(st["cold"][99]), ms(st["cold"]["max"]), ms(st["first_warm"][50]), ms(st["first_warm"][99]),
                     ms(st["resume"][50]), ms(st["resume"][99]), ms(st["connect"][50]), ms(st["connect"][99]),
                     ms(st["connect"]["max"])])
    md.append(md_table(["setup", "queries", "p50", "p90", "p99", "max", "cold queries", "cold p50", "cold p90",
                        "cold p99", "cold max", "warm first p50", "warm first p99", "resume p50", "resume p99",
                        "connect p50", "connect p99", "connect max"], rows))
    md.append("")
    md.append("![latency per setup](comparison-latency.svg)")
    md.append("")
    md.append("## Servers")
    md.append("")
    md.append("Over the run (the sampler's 250 ms samples from its start to its end): the server's processes "
              "(Dormouse and the PostgreSQL it runs; or the plain PostgreSQL's postmaster and its children) and "
              "their memory. VmRSS counts shared memory once per process that touched it; Pss splits it among "
              "them, so it adds up. Time in each state is the database's, from the console.")
    md.append("")
    rows = []
    for s in setups:
        st = s["stats"]
        ss = st["state_s"]
        states = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(ss.items(), key=lambda kv: -kv[1]))
        led = st["ledger"] or {}
        rows.append([s["name"], fmt(st["duration_s"], 1), fmt(st["proc_peak"], 0), fmt(st["proc_avg"], 1),
                     fmt(st["mem_peak"], 1), fmt(st["mem_avg"], 1), fmt(st["pss_peak"], 1), fmt(st["pss_avg"], 1),
                     fmt(led.get("active_seconds"), 1) if led else "n/a", states or "–"])
    md.append(md_table(["setup", "run s", "peak processes", "avg processes", "peak memory MB (RSS)",
                        "avg memory MB (RSS)", "peak MB (Pss)", "avg MB (Pss)", "ledger active s",
                        "time in each state"], rows))
    md.append("")
    md.append("## Cost")
    md.append("")
    md.append("For Dormouse, the bill Dormouse computed from its ledger (`/v1/bill`) for this run under each "
              "built-in plan: compute for the database's active time (up to its pause after the last "
              "query), storage, rows, queries. *A 30-day month* stretches each line of that bill by "
              "30 days / the run's length and applies the plan's allowances again: the same traffic pattern, "
              "all month. For the plain PostgreSQL, an always-on instance of comparable size, priced like the "
              "plans' compute (proxy/billing.c): Neon's 0.25 CU at $0.16 per CU-hour ($0.04 an hour) and "
              "Aurora Serverless v2's 0.5 ACU at $0.12 per ACU-hour ($0.06 an hour), for the run's length and "
              "for 720 hours; its storage is left out (a few MB: under a cent a month). The ledger counts "
              "rows read and CPU time on SQLite only (for a PostgreSQL it sees what the relay sees: rows "
              "returned and written, no rows read, no CPU), so the d1 and cockroachdb bills of the two "
              "engines do not compare.")
    md.append("")
    on = {r["plan"]: r for r in cost_rows if r["kind"] == "always on"}

    def versus(r):
        ref = on.get(r["plan"])
        if r["kind"] != "bill" or not ref or not r.get("month_compute"):
            return "–"
        return f"{100 * r['month_compute'] / ref['month_compute']:.0f}%"
    md.append(md_table(["setup", "pricing", "the run", "a 30-day month", "of which compute",
                        "compute / always on"],
                       [[r["setup"], r["pricing"], usd(r["run"]), usd(r["month"]),
                         usd(r["month_compute"]) if r.get("month_compute") else "–", versus(r)]
                        for r in cost_rows]))
    md.append("")
    md.append("*Compute / always on*: the plan's compute for the month against the same-sized instance "
              "always on (Neon's against Neon's, Aurora's against Aurora's); the rest of a bill (storage, "
              "queries as I/O, rows, transfer) an always-on instance may well be charged too.")
    md.append("")
    md.append("![cost per month](comparison-cost.svg)")
    md.append("")
    for s in setups:
        st = s["stats"]
        sm = s["summary"]
        md.append(f"## {s['name']}: {s['setup'].get('title', s['name'])}")
        md.append("")
        server = ("[its configuration](" + s["name"] + "/dormouse.ini)" if s.get("ledger") else
                  "PostgreSQL's default settings")
        md.append(f"Connection string `{s['setup'].get('conninfo', '?')}` ({server}); {st['invocations']} "
                  f"invocations over {st['duration_s']:.1f} s, {st['all']['n']} queries.")
        md.append("")
        if sm.get("phases"):
            md.append(md_table(["phase", "shape", "start s", "duration s", "invocations"],
                               [[p.get("name"), p.get("shape"), p.get("start_s"), p.get("duration_s"),
                                 p.get("invocations")] for p in sm["phases"]]))
            md.append("")
        if st["errors"]:
            md.append(md_table(["errors", "SQLSTATE", "count", "message (first seen)"],
                               [[k[0], k[1], v[0], (v[1] or "").replace("|", "\\|")[:120]]
                                for k, v in sorted(st["errors"].items())]))
            md.append("")
        md.append(f"![{s['name']}: query latency over time]({s['name']}/latency.svg)")
        md.append("")
        md.append(f"![{s['name']}: database state over time]({s['name']}/state.svg)")
        md.append("")
        md.append(f"![{s['name']}: server processes and memory over time]({s['name']}/resources.svg)")
        md.append("")
        led = s.get("ledger")
        if led:
            bills = led.get("bill", {}).get("bills", [])
            u = led.get("bill", {}).get("usage", {})
            md.append(f"The ledger: {fmt(u.get('queries'), 0)} queries, {fmt(u.get('rows_read'), 0)} rows read, "
                      f"{fmt(u.get('rows_written'), 0)} written, {fmt(u.get('active_seconds'), 1)} active seconds "
                      f"in {fmt(u.get('active_periods'), 0)} active periods, {fmt(u.get('cold_starts'), 0)} cold "
                      f"starts. Bills: " + "; ".join(f"{b['plan']} {usd(num(b.get('total')))}" for b in bills) + ".")
            md.append("")
    md.append("## How to read this")
    md.append("")
    md.append("- **latency.svg**: one dot per query at the time it started; red dots are cold-start queries; "
              "crosses failed queries; purple triangles along the top connection errors; grey bands the time "
              "the database was paused.")
    md.append("- **state.svg**: the database's state under the same time axis: active (a query running or a "
              "connection held), idle (nothing held, counting down `idle_timeout`), pausing, paused, resuming; "
              "always-on for the plain PostgreSQL.")
    md.append("- **resources.svg**: the server's processes (right axis) and their memory (left axis).")
    md.append("")
    md.append("### How cold is decided")
    md.append("")
    md.append(" ".join(__doc__.split("Cold starts.")[1].split("\n\n")[0].split()))
    md.append("")
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.exit(main())
