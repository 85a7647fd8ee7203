"""MLE against itself: the curve verdict of each data set's MLE seeds against one another, from a leaderboard's
runs. It is the spread a GAN arm's mean gap has to clear before its verdict means anything (docs/results.md).

    python scripts/leaderboard_spread.py [--runs-dir runs/leaderboard] [--data oracle coco mr15]
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from leaderboard_table import axes_of, curve_from_rows  # noqa: E402

from textgan.evaluation.verdict import curve_verdict  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=ROOT / "scripts" / "leaderboard.yaml")
    parser.add_argument("--runs-dir", type=Path, default=Path("runs/leaderboard"))
    parser.add_argument("--data", nargs="+", help="data sets (default: every one with MLE runs of 2+ seeds)")
    args = parser.parse_args(argv)
    datasets = yaml.safe_load(args.config.read_text(encoding="utf-8"))["datasets"]
    for data in args.data or list(datasets):
        if data not in datasets:
            print(f"error: no data set {data!r} in {args.config}", file=sys.stderr)
            return 2
        ds = datasets[data]
        axes = axes_of(ds["kind"])
        curves = {}
        for run in sorted((args.runs_dir / data).glob("seed*/mle/leaderboard_eval.json")):
            seed = int(run.parent.parent.name.removeprefix("seed"))
            curves[seed] = curve_from_rows(json.loads(run.read_text(encoding="utf-8"))["rows"], axes)
        if len(curves) < 2:
            print(f"{data}: {len(curves)} evaluated MLE seed(s) under {args.runs_dir / data}; need 2")
            continue
        for a, b in itertools.combinations(sorted(curves), 2):
            v = curve_verdict(curves[b], curves[a], axes, tolerance=ds["tolerance"])
            print(f"{data}: MLE seed {b} vs seed {a}: {v.verdict}, mean gap {v.mean_gap:+.4f} "
                  f"(tolerance {ds['tolerance']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
