"""The CI guard's check of a results.json (perf/run --check): structure only, never timing.

Every scenario that ran has a record for every transport and every expected metric; each
record is either a finite number >= 0 with a known unit, or an explicit n/a with a reason.
An "error" record (a scenario that should have run and failed) fails the check, and so does
an n/a because a transport is "not available" here (its probe failed: nothing of it was
checked, which must not look like a pass), or a run without any scenario or measured value.
"""
import json

from .report import UNITS, finite

TOP_KEYS = ["schema", "date", "command", "git", "machine", "versions", "mode", "scenarios",
            "transports", "expected", "results"]
REC_KEYS = ["scenario", "transport", "size", "metric", "value", "unit", "status"]


def check(path):
    """Returns a list of problems (empty when the file is well formed)."""
    problems = []
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        return [f"cannot read {path}: {e}"]
    for key in TOP_KEYS:
        if key not in doc:
            problems.append(f"top level: no '{key}'")
    if problems:
        return problems
    for key in ("dpdk", "otp"):
        if not doc["versions"].get(key):
            problems.append(f"versions: no {key}")
    if not doc["git"].get("commit"):
        problems.append("git: no commit")
    seen = set()
    for i, r in enumerate(doc["results"]):
        where = f"results[{i}] ({r.get('scenario')}/{r.get('transport')}/{r.get('metric')})"
        missing = [k for k in REC_KEYS if k not in r]
        if missing:
            problems.append(f"{where}: missing {missing}")
            continue
        if r["unit"] not in UNITS:
            problems.append(f"{where}: unknown unit {r['unit']!r}")
        if r["size"] is not None and not (isinstance(r["size"], int) and r["size"] > 0):
            problems.append(f"{where}: size {r['size']!r} is not a positive integer or null")
        if r["status"] == "ok":
            if not finite(r["value"]) or r["value"] < 0:
                problems.append(f"{where}: value {r['value']!r} is not a finite number >= 0")
            if not isinstance(r.get("reps"), int) or r["reps"] < 1:
                problems.append(f"{where}: no repetition count")
        elif r["status"] == "na":
            if r["value"] is not None or not r.get("reason"):
                problems.append(f"{where}: n/a needs value null and a reason")
            elif r["reason"].startswith("not available"):
                problems.append(f"{where}: not run here, so not checked: {r['reason']}")
        elif r["status"] == "error":
            problems.append(f"{where}: failed: {r.get('reason')}")
        else:
            problems.append(f"{where}: unknown status {r['status']!r}")
        seen.add((r["scenario"], r["transport"], r["size"], r["metric"]))
    if not doc["scenarios"]:
        problems.append("no scenario ran")
    if not any(r.get("status") == "ok" for r in doc["results"]):
        problems.append("no value was measured")
    for sc in doc["scenarios"]:
        for t in doc["transports"]:
            for size, metric, unit in doc["expected"][sc]:
                if (sc, t, size, metric) not in seen:
                    problems.append(f"{sc}/{t}: no record for {metric} (size {size})")
    return problems
