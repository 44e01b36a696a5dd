"""PNG plots of a run, drawn by gnuplot from data files written next to them:
  latency_percentiles.png  rtt_small p50..max per transport (log scale)
  rtt_sizes.png            round-trip p50 against message size per transport
  throughput.png           Gbit/s and msgs/s against message size per transport
  under_bulk_cdf.png       distribution of the 64-byte round trip under the bulk stream
                           (all repetitions' samples pooled), per transport
Only measured transports appear; a plot without any data is not drawn.
"""
import glob
import os
import shutil
import subprocess

from .scenarios import PERCENTILES

TERM = 'set terminal pngcairo size 1000,620 font "DejaVu Sans,11" noenhanced'


def _ok(records, scenario, metric=None):
    return [r for r in records if r["scenario"] == scenario and r["status"] == "ok"
            and (metric is None or r["metric"] == metric)]


def _write(path, rows):
    with open(path, "w") as f:
        for row in rows:
            f.write(" ".join(str(x) for x in row) + "\n")


SIZE_TICS = [(64, "64 B"), (1024, "1 KiB"), (65536, "64 KiB"), (1048576, "1 MiB")]


def _plot_lines(out_dir, name, title, xlabel, ylabel, series, logx=False, logy=True,
                xtics=None, extra="", style="linespoints lw 2"):
    """series: [(label, [(x, y), ...])]; one line with points per series."""
    series = [(label, pts) for label, pts in series if pts]
    if not series:
        return None
    files = []
    for i, (label, pts) in enumerate(series):
        path = os.path.join(out_dir, f"{name}-{i}.dat")
        _write(path, pts)
        files.append((label, path))
    script = [TERM, f'set output "{os.path.join(out_dir, name + ".png")}"',
              f'set title "{title}"', f'set xlabel "{xlabel}"', f'set ylabel "{ylabel}"',
              "set grid", "set key outside right top"]
    if logx:
        script.append("set logscale x 2")
    if logy:
        script.append("set logscale y 10")
    if xtics:
        script.append("set xtics (" + ", ".join(f'"{t}" {x}' for x, t in xtics) + ")")
    script.append(extra)
    script.append("plot " + ", ".join(f'"{p}" using 1:2 with {style} title "{lbl}"'
                                      for lbl, p in files))
    return _run(out_dir, name, script)


def _run(out_dir, name, script):
    gp = os.path.join(out_dir, name + ".gp")
    with open(gp, "w") as f:
        f.write("\n".join(script) + "\n")
    r = subprocess.run(["gnuplot", gp], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return f"{name}: gnuplot failed: {r.stderr.strip()[:300]}"
    return None


def draw(records, transports, out_dir, samples_dir, note):
    """Draws every plot that has data; returns a list of problems (empty when all went
    well, or gnuplot is missing)."""
    if not shutil.which("gnuplot"):
        return ["gnuplot not found: no plots (apt-get install gnuplot-nox)"]
    os.makedirs(out_dir, exist_ok=True)
    problems = []
    pct_x = [(i, m) for i, (m, _) in enumerate(PERCENTILES)]

    series = []
    for t in transports:
        by = {r["metric"]: r["value"] for r in _ok(records, "rtt_small") if r["transport"] == t}
        series.append((t, [(i, by[m]) for i, m in pct_x if m in by]))
    problems.append(_plot_lines(out_dir, "latency_percentiles",
                                f"rtt_small: 64-byte round trip percentiles ({note})",
                                "percentile", "µs (log)", series, xtics=pct_x,
                                extra="set xrange [-0.3:4.3]"))

    series = []
    for t in transports:
        pts = sorted((r["size"], r["value"]) for r in _ok(records, "rtt_sizes", "p50")
                     if r["transport"] == t)
        small = [r for r in _ok(records, "rtt_small", "p50") if r["transport"] == t]
        series.append((t, sorted([(64, small[0]["value"])] if small else []) + pts))
    problems.append(_plot_lines(out_dir, "rtt_sizes", f"round trip p50 by message size ({note})",
                                "message size", "µs (log)", series, logx=True,
                                xtics=SIZE_TICS))

    for metric, unit, name in (("gbit_per_s", "Gbit/s", "throughput"),
                               ("msgs_per_s", "messages/s", "throughput_msgs")):
        series = []
        for t in transports:
            pts = sorted((r["size"], r["value"]) for r in _ok(records, "throughput", metric)
                         if r["transport"] == t)
            series.append((t, pts))
        problems.append(_plot_lines(out_dir, name,
                                    f"one-way stream: {unit} by message size ({note})",
                                    "message size", f"{unit} (log)", series, logx=True,
                                    xtics=SIZE_TICS))

    series = []
    for t in transports:
        vals = []
        for path in glob.glob(os.path.join(samples_dir, f"under_bulk-{t}-*.txt")):
            with open(path) as f:
                vals += [float(x) for x in f.read().split() if x]
        vals.sort()
        if vals:
            step = max(1, len(vals) // 2000)
            pts = [(vals[i], (i + 1) / len(vals)) for i in range(0, len(vals), step)]
            pts.append((vals[-1], 1.0))
            series.append((f"{t} ({len(vals)} samples, thinned)", pts))
    problems.append(_plot_lines(out_dir, "under_bulk_cdf",
                                f"64-byte round trip under a 64 MiB bulk stream: distribution "
                                f"({note})", "round trip, µs (log)", "fraction of round trips",
                                series, logy=False, style="lines lw 2",
                                extra="set logscale x 10\nset yrange [0:1]"))
    return [p for p in problems if p]
