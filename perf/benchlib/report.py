"""From measurements to results: the records of results.json, the stdout table, and the
metrics each scenario must have (the CI guard checks them, perf/benchlib/check.py).

A record: {scenario, transport, size, metric, value, unit, status, ...}
  status "ok":    value is the median over `reps` repetitions, `spread` = [min, max],
                  `n` = samples behind each repetition's value (median)
  status "na":    value null, `reason` says why (not applicable, not available yet)
  status "error": value null, `reason` is the failure (the run's exit status is then 3)
"""
import math
import statistics
import textwrap

from .scenarios import PERCENTILES, SELF_REPEATING, SIZES, STREAM_SIZES, WHAT

UNITS = {"us", "ms", "s", "msg/s", "Gbit/s"}


def parse_size(text):
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = str(text)
    return int(text[:-1]) * mult[text[-1]] if text[-1] in mult else int(text)


def expected(profile):
    """scenario -> [(size, metric, unit)] every transport must report (value or n/a)."""
    pct = [m for m, _ in PERCENTILES]
    bulk = parse_size(profile.bulk_size)
    rate = [("msgs_per_s", "msg/s"), ("gbit_per_s", "Gbit/s")]
    return {
        "rtt_small": [(64, m, "us") for m in pct],
        "rtt_sizes": [(s, m, "us") for s in SIZES for m in pct],
        "throughput": [(s, m, u) for s in STREAM_SIZES for m, u in rate],
        "rtt_small_under_bulk": [(64, m, "us") for m in pct] + [(bulk, "bulk_gbit_per_s",
                                                                  "Gbit/s")],
        "heartbeat_gap_under_bulk": [(None, "max_gap_heartbeat", "ms"),
                                     (None, "max_gap_liveness", "ms"),
                                     (None, "max_gap_app_pulse", "ms"),
                                     (None, "p99_gap_app_pulse", "ms"),
                                     (bulk, "bulk_gbit_per_s", "Gbit/s")],
        "failure_detection": [(None, "setting", "s"), (None, "detect_kill9", "ms"),
                              (None, "detect_freeze", "ms")],
        "connect": [(None, m, "us") for m in pct],
        "fanout": [(64, m, "us") for m in pct] + [(1024, m, u) for m, u in rate],
    }


class Cell:
    """One scenario over one transport: its repetitions, or why it has none."""

    def __init__(self):
        self.na = None
        self.reps = []    # list of measurement lists
        self.errors = []  # failure messages


def aggregate(scenario, transport, cell, exp):
    base = dict(scenario=scenario, transport=transport)
    if cell.na or not cell.reps:
        status, reason = ("na", cell.na) if cell.na else ("error", cell.errors[0] if
                                                          cell.errors else "did not run")
        return [dict(base, size=s, metric=m, value=None, unit=u, status=status, reason=reason)
                for s, m, u in exp]
    groups = {}
    for rep in cell.reps:
        for meas in rep:
            key = (meas["size"], meas["metric"])
            g = groups.setdefault(key, dict(unit=meas["unit"], values=[], n=[], na=None,
                                            note=meas.get("note")))
            if "values" in meas:
                g["values"] += meas["values"]
                g["n"].append(len(meas["values"]))
            elif meas.get("value") is None:
                g["na"] = meas.get("na", "not measured")
            else:
                g["values"].append(meas["value"])
                g["n"].append(meas.get("n", 1))
    out = []
    for (size, metric), g in groups.items():
        rec = dict(base, size=size, metric=metric, unit=g["unit"])
        if g["values"]:
            vals = g["values"]
            rec.update(value=statistics.median(vals), status="ok", reps=len(vals),
                       spread=[min(vals), max(vals)], n=int(statistics.median(g["n"])))
        else:
            rec.update(value=None, status="na", reason=g["na"])
        if g["note"]:
            rec["note"] = g["note"]
        if cell.errors:
            rec["failed_reps"] = len(cell.errors)
            rec["failure"] = cell.errors[0]
        out.append(rec)
    for s, m, u in exp:
        if (s, m) not in groups:
            out.append(dict(base, size=s, metric=m, value=None, unit=u, status="error",
                            reason="the scenario ran but did not report this metric"))
    return out


# ---- the table ---------------------------------------------------------------------------

def fmt_value(v, unit):
    if v is None:
        return "-"
    if unit == "msg/s":
        for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
            if v >= div:
                return f"{v / div:.3g}{suffix}"
        return f"{v:.3g}"
    if v >= 1000:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def fmt_size(size):
    if size is None:
        return ""
    for div, suffix in ((1 << 20, "MiB"), (1 << 10, "KiB")):
        if size >= div and size % div == 0:
            return f"{size // div} {suffix}"
    return f"{size} B"


def spread_pct(rec):
    """±N%: half the min-max range of the repetitions in % of the median; beyond ±99% the
    range as a factor, ×N = max/min."""
    lo, hi = rec["spread"]
    if rec["reps"] < 2 or not rec["value"]:
        return ""
    pct = (hi - lo) / 2 / rec["value"] * 100
    if pct <= 99:
        return f" ±{pct:.0f}%"
    return f" ×{hi / lo:.0f}" if lo > 0 else " ±>99%"


class Notes:
    """Footnotes: one per distinct reason, listing the transports it applies to."""

    def __init__(self):
        self.reasons = []
        self.who = {}

    def ref(self, transport, reason):
        if reason not in self.who:
            self.reasons.append(reason)
            self.who[reason] = []
        if transport not in self.who[reason]:
            self.who[reason].append(transport)
        return f"[{self.reasons.index(reason) + 1}]"

    def lines(self, width=110):
        out = []
        for i, r in enumerate(self.reasons, 1):
            out += textwrap.wrap(f"[{i}] {', '.join(self.who[r])}: {r}", width,
                                 subsequent_indent="    ")
        return out


# The ratio rows printed (results.json has everything): the median and the tail of
# latencies, rates (Gbit/s ratios equal msgs/s ratios), and the single-valued metrics.
RATIO_METRICS = {"p50", "p99", "msgs_per_s", "bulk_gbit_per_s", "max_gap_heartbeat",
                 "max_gap_liveness", "max_gap_app_pulse", "setting", "detect_kill9",
                 "detect_freeze", "upgrade_p50"}


def table(records, transports, scenarios, reps_of):
    """The stdout report: per scenario, values (median and spread, see spread_pct) and
    ratios to dpdist_dpdk and to beam_tcp."""
    notes = Notes()
    lines = []
    col, label_w = 13, 34
    for sc in scenarios:
        recs = [r for r in records if r["scenario"] == sc]
        if not recs:
            continue
        lines.append("")
        lines.append(f"== {sc}: {WHAT[sc]}")
        head = f"[median of {reps_of(sc)} run(s)]" if sc not in SELF_REPEATING else \
            "[median of the kills]"
        lines.append(f"{head:<{label_w}}" + "".join(f"{t:>{col}}" for t in transports))
        rows = []
        for r in recs:
            key = (r["size"], r["metric"], r["unit"])
            if key not in rows:
                rows.append(key)
        by = {(r["transport"], r["size"], r["metric"]): r for r in recs}
        for size, metric, unit in rows:
            label = " ".join(x for x in (fmt_size(size), metric, f"[{unit}]") if x)
            cells = []
            for t in transports:
                r = by.get((t, size, metric))
                if r is None:
                    cells.append("")
                elif r["status"] == "ok":
                    cell = fmt_value(r["value"], unit) + spread_pct(r)
                    if r.get("failed_reps"):
                        cell += notes.ref(r["transport"], f"{r['failed_reps']} run(s) failed and "
                                          f"are not in the figure: {r['failure']}")
                    cells.append(cell)
                else:
                    tag = "n/a" if r["status"] == "na" else "ERROR"
                    cells.append(f"{tag}{notes.ref(r['transport'], r['reason'])}")
            lines.append(f"{label:<{label_w}}" + "".join(f" {c:>{col - 1}}" for c in cells))
        for ref in ("dpdist_dpdk", "beam_tcp"):
            ratio_lines = []
            for size, metric, unit in rows:
                if metric not in RATIO_METRICS:
                    continue
                base = by.get((ref, size, metric))
                if not base or base["status"] != "ok" or not base["value"]:
                    continue
                cells = []
                for t in transports:
                    r = by.get((t, size, metric))
                    ok = r and r["status"] == "ok" and r["value"] is not None
                    cells.append(f"{r['value'] / base['value']:.2f}" if ok else "")
                label = "  " + " ".join(x for x in (f"÷{ref}", fmt_size(size), metric) if x)
                ratio_lines.append(f"{label:<{label_w}}" + "".join(f" {c:>{col - 1}}"
                                                                    for c in cells))
            if ratio_lines:
                lines += ratio_lines
            else:
                lines.append(f"  ratios to {ref}: n/a ({ref} not measured in this scenario)")
    lines.append("")
    lines += notes.lines()
    return "\n".join(lines)


def runtime_target(records):
    """The node-runtime issue's target, printed side by side: rtt_small p50/p99 of
    dpdist_tcp, dpdist_beam and beam_tcp, and whether dpdist<->dpdist over TCP is no slower
    than BEAM<->BEAM."""
    get = {(r["transport"], r["metric"]): r for r in records
           if r["scenario"] == "rtt_small" and r["status"] == "ok"}
    if ("beam_tcp", "p50") not in get:
        return None
    lines = ["rtt_small side by side (same run): 64-byte round trip, µs"]
    for t in ("dpdist_tcp", "dpdist_beam", "beam_tcp"):
        p50, p99 = get.get((t, "p50")), get.get((t, "p99"))
        if p50 and p99:
            lines.append(f"  {t:<12} p50 {p50['value']:8.1f}   p99 {p99['value']:8.1f}")
    d, b = get.get(("dpdist_tcp", "p50")), get.get(("beam_tcp", "p50"))
    if d and b:
        ratio = d["value"] / b["value"]
        verdict = "met" if ratio <= 1.0 else "NOT met"
        lines.append(f"  target dpdist_tcp no slower than beam_tcp (p50): {ratio:.2f}x -> "
                     f"{verdict}")
    return "\n".join(lines)


def finite(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
