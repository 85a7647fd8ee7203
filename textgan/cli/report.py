"""Readable metric tables on stdout."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from textgan.evaluation.report import format_value


def print_metrics(title: str, metrics: Mapping[str, Any]) -> None:
    """Print `metrics` as an aligned two-column table under `title`."""
    print(title)
    width = max((len(k) for k in metrics), default=0)
    for key, value in metrics.items():
        print(f"  {key:<{width}}  {format_value(value)}")


def print_data_report(report: Mapping[str, Any]) -> None:
    """One line per fact of a prepared data set: split sizes, class counts, truncated and dropped sentences."""
    parts = [f"{split} {count:,}" for split, count in report.get("sizes", {}).items()]
    print(f"data: {', '.join(parts)} sentences; vocabulary {report.get('vocab_size', 0):,}")
    for key in ("truncated", "dropped"):
        counts = report.get(key, {})
        if any(counts.values()):
            print(f"  {key} (longer than data.max_len): " + ", ".join(f"{k} {v:,}" for k, v in counts.items() if v))
    for split, classes in report.get("classes", {}).items():
        print(f"  {split} classes: " + ", ".join(f"{name} {count:,}" for name, count in classes.items()))


def print_cpu_time(seconds: float) -> None:
    """The run's CPU time over all its invocations (TrainingRun.cpu_seconds)."""
    print(f"CPU time of the run: {seconds / 60:.1f} min (all threads; every invocation, a resumed run's included)")
