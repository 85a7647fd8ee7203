"""A metric dict as a readable table: one row per number, the metric family's description on its first row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["metric_family", "format_value", "format_table", "metric_table"]

# Keys whose family is not their name minus a trailing "_<n>".
_FAMILY = {"perplexity": "nll", "mean_length": "lengths", "max_length": "lengths", "copied_fraction": "copied",
           **{f"kmode_{m}": "kmode" for m in ("valid", "invalid", "coverage", "js", "within_diversity")}}


def metric_family(key: str) -> str:
    """The metric name (as in `suite.METRICS`) a result key belongs to: bleu_3 -> bleu, perplexity -> nll."""
    if key in _FAMILY:
        return _FAMILY[key]
    stem, _, last = key.rpartition("_")
    return stem if stem and last.isdigit() else key


def format_value(value: Any) -> str:
    """Floats with 4 decimals (large ones with 2), everything else as str."""
    if isinstance(value, float):
        return f"{value:.2f}" if abs(value) >= 100 else f"{value:.4f}"
    return str(value)


def format_table(rows: Sequence[Sequence[Any]], header: Sequence[str] | None = None) -> str:
    """Left-aligned columns (numbers right-aligned), two spaces apart; the last column is not padded."""
    cells = [[format_value(v) for v in row] for row in ([header] if header else []) + list(rows)]
    if not cells:
        return ""
    widths = [max(len(row[i]) for row in cells if i < len(row)) for i in range(max(map(len, cells)))]
    numeric = [all(_is_number(row[i]) for row in rows if i < len(row)) for i in range(len(widths))]
    lines = []
    for row in cells:
        parts = []
        for i, text in enumerate(row):
            last = i == len(row) - 1
            parts.append(text if last and not numeric[i] else text.rjust(widths[i]) if numeric[i]
                         else text.ljust(widths[i]))
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def metric_table(metrics: Mapping[str, Any], notes: Mapping[str, str]) -> str:
    """The metrics as rows `key  value  note`, the note of each family (keyed by family name) on its first row."""
    rows, seen = [], set()
    for key, value in metrics.items():
        family = metric_family(key)
        rows.append((key, value, notes.get(family, "") if family not in seen else ""))
        seen.add(family)
    return format_table(rows, header=("metric", "value", ""))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
