"""The verdict of a quality-diversity curve against a reference curve (MLE's temperature sweep; Caccia et al. 2020).

Both curves are points (temperature, quality, diversity). Each axis is first oriented so that higher is better
(a lower-is-better metric is negated). Each curve is then read as diversity as a piecewise-linear function of
quality through its points in quality order (points of equal quality are averaged). On the overlap [lo, hi] of
the two quality ranges the gap g(q) = diversity_curve(q) - diversity_reference(q) is positive where the curve is
better at equal quality. g is piecewise linear, so its integral, its extremes and the length where g > 0 are exact.

- verdict: "above" if g >= -tolerance on the whole overlap and g > tolerance somewhere; "below" the mirror;
  "equal" if |g| <= tolerance everywhere; "crossing" if g < -tolerance somewhere and g > tolerance elsewhere;
  "no-overlap" if the quality ranges share less than an interval (hi <= lo), for example a one-point curve.
- mean_gap = (integral of g over [lo, hi]) / (hi - lo), in diversity units, positive = better than the reference.
- share_above = length of {q in [lo, hi] : g(q) > 0} / (hi - lo).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Literal

__all__ = ["CurvePoint", "CurveAxes", "ORACLE_CURVE_AXES", "LM_CURVE_AXES", "bleu_curve_axes", "CurveVerdict",
           "curve_from_rows", "curve_verdict", "matched_temperature"]

Verdict = Literal["above", "below", "equal", "crossing", "no-overlap"]


@dataclass(frozen=True)
class CurvePoint:
    """One sweep point: the sampling temperature and the two metrics of its samples."""

    temperature: float
    quality: float
    diversity: float


@dataclass(frozen=True)
class CurveAxes:
    """Which sweep columns are the two axes and which way each is better."""

    quality: str                       # column of the quality metric, e.g. "nll_oracle"
    diversity: str                     # column of the diversity / coverage metric, e.g. "nll_test"
    higher_quality_is_better: bool     # BLEU: True; NLL-oracle, LM score: False
    higher_diversity_is_better: bool   # NLL-test, reverse-LM score, self-BLEU: False


ORACLE_CURVE_AXES = CurveAxes("nll_oracle", "nll_test", False, False)
LM_CURVE_AXES = CurveAxes("lm_score", "reverse_lm_score", False, False)


def bleu_curve_axes(order: int = 5) -> CurveAxes:
    """Test-BLEU-n (higher is better) against self-BLEU-n (lower is better), as the text-GAN papers report."""
    return CurveAxes(f"bleu_{order}", f"self_bleu_{order}", True, False)


@dataclass(frozen=True)
class CurveVerdict:
    """A curve against the reference curve; gaps in diversity units, positive = the curve is better."""

    verdict: Verdict
    mean_gap: float                       # area between the curves / overlap width (nan without overlap)
    share_above: float                    # share of the overlap where the curve is better (nan without overlap)
    min_gap: float                        # the gap's extremes over the overlap (nan without overlap)
    max_gap: float
    overlap: tuple[float, float] | None   # the overlapping quality range, low to high in the metric's own units


def curve_from_rows(rows: Iterable[Mapping[str, Any]], axes: CurveAxes) -> list[CurvePoint]:
    """Points of sweep rows (dicts or CSV rows with "temperature" and the two axes' columns)."""
    return [CurvePoint(float(row["temperature"]), float(row[axes.quality]), float(row[axes.diversity]))
            for row in rows]


def _oriented(points: Sequence[CurvePoint], axes: CurveAxes) -> tuple[list[float], list[float]]:
    """(qualities ascending, diversities) with both axes turned higher-is-better; equal qualities averaged."""
    if not points:
        raise ValueError("a curve needs at least one point")
    merged: dict[float, list[float]] = {}
    for point in points:
        if not (math.isfinite(point.quality) and math.isfinite(point.diversity)):
            raise ValueError(f"curve point at temperature {point.temperature} is not finite: {point}")
        quality = point.quality if axes.higher_quality_is_better else -point.quality
        diversity = point.diversity if axes.higher_diversity_is_better else -point.diversity
        merged.setdefault(quality, []).append(diversity)
    xs = sorted(merged)
    return xs, [sum(merged[x]) / len(merged[x]) for x in xs]


def _interpolate(xs: list[float], ys: list[float], x: float) -> float:
    """Piecewise-linear value at x of points (xs ascending, ys), for x inside [xs[0], xs[-1]]."""
    if len(xs) == 1:
        return ys[0]
    k = min(max(bisect_right(xs, x) - 1, 0), len(xs) - 2)  # the piece [xs[k], xs[k + 1]] holding x
    x0, x1, y0, y1 = xs[k], xs[k + 1], ys[k], ys[k + 1]
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0)


def curve_verdict(curve: Sequence[CurvePoint], reference: Sequence[CurvePoint], axes: CurveAxes, *,
                  tolerance: float) -> CurveVerdict:
    """Whether `curve` lies above (better), below, on (within `tolerance`) or across `reference`, and by how much.

    `tolerance` (diversity units, >= 0) is the gap counted as noise, e.g. the seed-to-seed sd of the diversity
    metric; see the module docstring for the exact definitions.
    """
    if not tolerance >= 0:
        raise ValueError(f"tolerance must be >= 0, got {tolerance}")
    cx, cy = _oriented(curve, axes)
    rx, ry = _oriented(reference, axes)
    lo, hi = max(cx[0], rx[0]), min(cx[-1], rx[-1])
    if not hi > lo:
        nan = float("nan")
        return CurveVerdict("no-overlap", nan, nan, nan, nan, None)
    knots = sorted({lo, hi, *(x for x in cx + rx if lo < x < hi)})  # every kink of g lies on a knot
    gaps = [_interpolate(cx, cy, x) - _interpolate(rx, ry, x) for x in knots]
    area, above = 0.0, 0.0
    for x0, x1, g0, g1 in zip(knots, knots[1:], gaps, gaps[1:]):
        width = x1 - x0
        area += 0.5 * (g0 + g1) * width  # trapezoid: exact for a linear piece
        if g0 > 0 and g1 > 0:
            above += width
        elif g0 > 0 or g1 > 0:  # one sign change inside: g > 0 on the part next to the positive end
            above += width * max(g0, g1) / (abs(g0) + abs(g1))
    low_gap, high_gap = min(gaps), max(gaps)
    if low_gap >= -tolerance and high_gap <= tolerance:
        verdict: Verdict = "equal"
    elif low_gap >= -tolerance:
        verdict = "above"
    elif high_gap <= tolerance:
        verdict = "below"
    else:
        verdict = "crossing"
    overlap = (lo, hi) if axes.higher_quality_is_better else (-hi, -lo)
    return CurveVerdict(verdict, area / (hi - lo), above / (hi - lo), low_gap, high_gap, overlap)


def matched_temperature(reference: Sequence[CurvePoint], quality: float) -> float | None:
    """The reference temperature whose quality equals `quality`, interpolated linearly in temperature between
    sweep points; None if `quality` is outside the reference's range. If several temperatures match (a
    non-monotone sweep) the one closest to T = 1 is returned (ties: the lower one)."""
    points = sorted(reference, key=lambda p: p.temperature)
    if not points:
        raise ValueError("the reference curve has no points")
    matches = [p.temperature for p in points if p.quality == quality]
    for a, b in pairwise(points):
        if min(a.quality, b.quality) < quality < max(a.quality, b.quality):
            share = (quality - a.quality) / (b.quality - a.quality)
            matches.append(a.temperature + share * (b.temperature - a.temperature))
    if not matches:
        return None
    return min(matches, key=lambda t: (abs(t - 1.0), t))
