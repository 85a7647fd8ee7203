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
