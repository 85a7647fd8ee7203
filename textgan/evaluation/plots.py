"""PNG figures: the quality-diversity sweep and the training curves of a run (matplotlib, an optional extra).

matplotlib is used through `matplotlib.figure.Figure` only (no pyplot): no global backend is switched and no
display is needed. `matplotlib_available()` lets callers say how to install it instead of failing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from textgan.evaluation.sweep import SweepAxes

__all__ = ["INSTALL_HINT", "matplotlib_available", "plot_sweep", "training_series", "plot_training"]

INSTALL_HINT = "pip install 'textgan[plot]' (or pip install matplotlib)"

# Phases of metrics.jsonl in the order a run goes through them, and what one step of each is.
PHASES = {"mle": "MLE epoch", "d_pretrain": "D-pretraining round", "adversarial": "adversarial round"}
PHASE_NAMES = {"mle": "MLE", "d_pretrain": "D pretraining", "adversarial": "adversarial"}

# (panel title, metric keys); a panel is drawn when any of its keys occurs in the log.
PANELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("NLL per token (lower is better)", ("valid_nll", "nll_test")),
    ("NLL-oracle of samples (lower is better)", ("nll_oracle",)),
    ("discriminator accuracy", ("d_acc_real", "d_acc_fake", "heldout_d_acc_real", "heldout_d_acc_fake")),
    ("generator loss / reward", ("g_loss", "reward")),
    ("test-BLEU (solid, higher is better), self-BLEU (dashed, lower is more diverse)",
     tuple(f"{kind}_{n}" for kind in ("bleu", "self_bleu") for n in (2, 3, 4, 5))),
    ("K-mode: valid share, mode coverage, within-mode diversity (higher is better), JS (lower)",
     ("kmode_valid", "kmode_coverage", "kmode_within_diversity", "kmode_js")),
)


def matplotlib_available() -> bool:
    """True when matplotlib can be imported."""
    try:
        import matplotlib  # noqa: F401
        from matplotlib.figure import Figure  # noqa: F401
    except ImportError:
        return False
    return True


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=110, layout="constrained")


def plot_sweep(rows: Sequence[Mapping[str, Any]], axes: SweepAxes, path: Path, title: str) -> None:
    """One curve per `label` through the (quality, diversity) points of the rows, each marked with its T."""
    figure = _figure(8.0, 6.0)
    ax = figure.subplots()
    labels = list(dict.fromkeys(row["label"] for row in rows))
    xs_all = [float(row[axes.quality]) for row in rows]
    ys_all = [float(row[axes.diversity]) for row in rows]
    span_x = (max(xs_all) - min(xs_all)) or 1.0
    span_y = (max(ys_all) - min(ys_all)) or 1.0
    placed: list[tuple[float, float]] = []  # label positions as fractions of the data range
    for index, label in enumerate(labels):
        points = sorted((row for row in rows if row["label"] == label), key=lambda row: row["temperature"])
        xs = [float(row[axes.quality]) for row in points]
        ys = [float(row[axes.diversity]) for row in points]
        color = f"C{index % 10}"
        ax.plot(xs, ys, marker="o", color=color, label=label, linewidth=1.8, markersize=5)
        for row, x, y in zip(points, xs, ys):
            spot = (x / span_x, y / span_y)
            if any(abs(spot[0] - a) < 0.045 and abs(spot[1] - b) < 0.03 for a, b in placed):
                continue  # crowded: an unlabelled point sits between labelled neighbours of known T
            placed.append(spot)
            ax.annotate(f"{row['temperature']:g}", (x, y), xytext=(5, 4), textcoords="offset points",
                        fontsize=8, color=color, bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none",
                                                       "alpha": 0.7})
    ax.set_xlabel(axes.quality_label)
    ax.set_ylabel(axes.diversity_label)
    ax.set_title(f"{title}\n(points labelled with the sampling temperature T)", fontsize=11)
    right, top = axes.higher_quality_is_better, axes.higher_diversity_is_better
    arrow = {(True, False): "↘", (False, False): "↙", (True, True): "↗", (False, True): "↖"}[(right, top)]
    ax.text(0.97 if right else 0.03, 0.03, f"better {arrow}", transform=ax.transAxes,  # a corner curves rarely reach
            ha="right" if right else "left", va="bottom", fontsize=10, color="grey")
    ax.grid(alpha=0.3)
    ax.legend(title="checkpoint")
    figure.savefig(path)


def training_series(records: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, list[tuple[int, float]]]]:
    """{phase: {metric: [(step, value), ...]}} of numeric metrics; a step logged twice (resume) keeps the last."""
    by_step: dict[str, dict[int, Mapping[str, Any]]] = {phase: {} for phase in PHASES}
    for record in records:
        if record.get("event") in by_step and isinstance(record.get("step"), int):
            by_step[record["event"]][record["step"]] = record
    series: dict[str, dict[str, list[tuple[int, float]]]] = {}
    for phase, steps in by_step.items():
        for step in sorted(steps):
            for key, value in steps[step].items():
                if key not in ("event", "step", "time") and isinstance(value, (int, float)) \
                        and not isinstance(value, bool) and math.isfinite(value):
                    series.setdefault(phase, {}).setdefault(key, []).append((step, float(value)))
    return series


def plot_training(records: Sequence[Mapping[str, Any]], path: Path, title: str) -> list[str]:
    """Subplots of the panels whose metrics occur in `records`; phases follow each other on the x axis,
    separated by dashed lines. Returns the panel titles drawn (empty: nothing to plot, nothing written)."""
    series = training_series(records)
    panels = [(name, keys) for name, keys in PANELS
              if any(key in metrics for metrics in series.values() for key in keys)]
    if not panels:
        return []
    columns = 1 if len(panels) == 1 else 2
    rows = math.ceil(len(panels) / columns)
    figure = _figure(6.5 * columns, 3.6 * rows)
    grid = figure.subplots(rows, columns, squeeze=False)
    for ax, (name, keys) in zip(grid.flat, panels):
        _draw_panel(ax, series, keys)
        ax.set_title(name, fontsize=10)
    for ax in list(grid.flat)[len(panels):]:
        ax.set_visible(False)
    figure.suptitle(title)
    figure.savefig(path)
    return [name for name, _ in panels]


def _draw_panel(ax: Any, series: Mapping[str, Mapping[str, list[tuple[int, float]]]], keys: Sequence[str]) -> None:
    phases = [p for p in PHASES if any(key in series.get(p, {}) for key in keys)]
    offsets, start = {}, 0
    for phase in phases:  # each phase continues where the previous one ended
        offsets[phase] = start
        start += max(step for key in keys for step, _ in series[phase].get(key, [(0, 0.0)]))
    for index, key in enumerate(keys):
        points = [(offsets[p] + step, value) for p in phases for step, value in series[p].get(key, [])]
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="." if len(points) < 60 else None, label=key, **_style(key, index))
    from matplotlib.ticker import MaxNLocator
    from matplotlib.transforms import blended_transform_factory

    along_top = blended_transform_factory(ax.transData, ax.transAxes)  # x in data, y in axes fraction
    for phase in phases:
        if len(phases) > 1:  # name each phase at the top, right of where it starts
            first = phase == phases[0]
            ax.text(0.01 if first else offsets[phase] + 0.6, 0.98, PHASE_NAMES[phase], fontsize=8, color="grey",
                    va="top", transform=ax.transAxes if first else along_top)
        if phase != phases[0]:
            ax.axvline(offsets[phase] + 0.5, color="grey", linestyle=":", linewidth=1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel(", then ".join(PHASES[p] for p in phases))
    ax.grid(alpha=0.3)
    if len(ax.get_lines()) - (len(phases) - 1) > 4:  # many curves: the legend goes beside the axes, not on them
        ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), handlelength=3)
    else:
        ax.legend(fontsize=7)


def _style(key: str, index: int) -> dict[str, Any]:
    if key.startswith(("bleu_", "self_bleu_")):  # same colour per n, dashed for self-BLEU
        n = int(key.rsplit("_", 1)[1])
        return {"color": f"C{n - 2}", "linestyle": "--" if key.startswith("self") else "-"}
    if key.startswith("heldout_"):
        return {"color": f"C{index - 2}", "linestyle": "--"}
    return {"color": f"C{index}"}
