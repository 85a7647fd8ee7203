"""The leaderboard's verdicts as data: docs/leaderboard_summary.json, read by the quickstart.

Per data set and arm: the seeds, each seed's curve verdict against MLE's and its mean gap, and the mean of the
quality / diversity metrics at T = 1. An invocation that runs some data sets replaces only their entries.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from leaderboard_table import Results, axes_of, seeds_of

from textgan.evaluation.verdict import curve_from_rows, curve_verdict


def summary_of(data: str, ds: dict[str, Any], seeds: list[int], results: Results, arms: list[str]) -> dict[str, Any]:
    """{arm: {...}} for one data set: verdicts per seed and the mean of the curve axes at T = 1."""
    axes = axes_of(ds["kind"])
    mle = {s: curve_from_rows(results[(data, "mle", s)]["eval"]["rows"], axes)
           for s in seeds if (data, "mle", s) in results}
    out: dict[str, Any] = {}
    for arm in ["mle", *arms]:
        found = [(s, results[(data, arm, s)]) for s in seeds if (data, arm, s) in results]
        if not found:
            continue
        rows = [next(r for r in res["eval"]["rows"] if r["temperature"] == 1.0) for _, res in found]
        entry: dict[str, Any] = {
            "seeds": [s for s, _ in found],
            "quality_t1": statistics.mean(r[axes.quality] for r in rows),
            "diversity_t1": statistics.mean(r[axes.diversity] for r in rows),
            "axes": [axes.quality, axes.diversity],
        }
        if arm != "mle":
            verdicts = [curve_verdict(curve_from_rows(res["eval"]["rows"], axes), mle[s], axes,
                                      tolerance=ds["tolerance"]) for s, res in found if s in mle]
            entry["verdicts"] = [v.verdict for v in verdicts]
            entry["mean_gaps"] = [v.mean_gap for v in verdicts]
            entry["rounds"] = found[0][1]["manifest"]["config"]["adversarial"]["rounds"]
        out[arm] = entry
    return out


def write_summary(results: Results, settings: dict[str, Any], arms: list[str], path: Path, commit: str) -> None:
    """Rewrite the entries of the data sets in `settings` in `path` (others are kept)."""
    try:
        tree = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        tree = {}
    for data, ds in settings["datasets"].items():
        seeds = seeds_of(settings, data)
        if any((data, "mle", s) in results for s in seeds):
            tree[data] = {"commit": commit, "tolerance": ds["tolerance"],
                          "arms": summary_of(data, ds, seeds, results, arms)}
    path.write_text(json.dumps(tree, indent=1, sort_keys=True) + "\n", encoding="utf-8")
