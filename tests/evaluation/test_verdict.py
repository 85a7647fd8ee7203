"""Curve verdicts on hand-made curves (exact areas and shares), invariance under axis orientation, and the matched
temperature on a hand table."""

from __future__ import annotations

import math

import pytest

from textgan.evaluation.verdict import (
    LM_CURVE_AXES,
    ORACLE_CURVE_AXES,
    CurveAxes,
    CurvePoint,
    bleu_curve_axes,
    curve_from_rows,
    curve_verdict,
    matched_temperature,
)

UP = CurveAxes("quality", "diversity", True, True)  # both axes higher-is-better: the hand tables' orientation


def curve(*points: tuple[float, float]) -> list[CurvePoint]:
    """(quality, diversity) pairs; temperatures 0.5, 0.6, ... in order."""
    return [CurvePoint(0.5 + 0.1 * k, q, d) for k, (q, d) in enumerate(points)]


REFERENCE = curve((1, 3), (2, 2), (3, 1))  # the line d = 4 - q on [1, 3]

# name, curve, verdict, mean gap, share above, overlap (in UP orientation)
CASES = [
    ("dominating", curve((1.5, 3.0), (3.5, 1.0)), "above", 0.5, 1.0, (1.5, 3.0)),
    ("its mirror", curve((1.5, 2.0), (3.5, 0.0)), "below", -0.5, 0.0, (1.5, 3.0)),
    ("crossing at the middle", curve((1, 2), (3, 2)), "crossing", 0.0, 0.5, (1.0, 3.0)),
    ("crossing, unequal", curve((1, 2), (3, 4)), "crossing", 1.0, 0.75, (1.0, 3.0)),  # g = 2q - 3
    # g at the knots 1, 2, 3: -0.5, 1.0 (the reference's kink is the curve's too), 0.5
    ("two kinks", curve((1, 2.5), (2, 3.0), (3, 1.5)), "crossing", 0.5, (2 / 3 + 1) / 2, (1.0, 3.0)),
    ("the same curve", REFERENCE, "equal", 0.0, 0.0, (1.0, 3.0)),
    ("within tolerance", curve((1, 3.05), (3, 1.05)), "equal", 0.05, 1.0, (1.0, 3.0)),
    ("touching above", curve((1, 3), (3, 2)), "above", 0.5, 1.0, (1.0, 3.0)),  # g = 0 at q = 1 only
    ("no overlap", curve((4, 5), (5, 4)), "no-overlap", math.nan, math.nan, None),
    ("one point", curve((2, 9)), "no-overlap", math.nan, math.nan, None),
    ("equal qualities averaged", curve((1, 1), (1, 3), (3, 2)), "crossing", 0.0, 0.5, (1.0, 3.0)),
]


def oriented(points: list[CurvePoint], axes: CurveAxes) -> list[CurvePoint]:
    """The hand points as a metric oriented like `axes` reports them (negated where lower is better)."""
    sign_q = 1 if axes.higher_quality_is_better else -1
    sign_d = 1 if axes.higher_diversity_is_better else -1
    return [CurvePoint(p.temperature, sign_q * p.quality, sign_d * p.diversity) for p in points]


@pytest.mark.parametrize("axes", [UP, ORACLE_CURVE_AXES, LM_CURVE_AXES, bleu_curve_axes(5)],
                         ids=["up", "oracle", "lm", "bleu"])
@pytest.mark.parametrize("name, points, verdict, mean_gap, share_above, overlap", CASES, ids=[c[0] for c in CASES])
def test_hand_made_curves(axes: CurveAxes, name: str, points: list[CurvePoint], verdict: str, mean_gap: float,
                          share_above: float, overlap: tuple[float, float] | None) -> None:
    result = curve_verdict(oriented(points, axes), oriented(REFERENCE, axes), axes, tolerance=0.1)
    assert result.verdict == verdict
    assert result.mean_gap == pytest.approx(mean_gap, abs=1e-12, nan_ok=True)
    assert result.share_above == pytest.approx(share_above, abs=1e-12, nan_ok=True)
    if overlap is None:
        assert result.overlap is None
    else:  # reported low to high in the metric's own units
        low, high = overlap if axes.higher_quality_is_better else (-overlap[1], -overlap[0])
        assert result.overlap == pytest.approx((low, high))


@pytest.mark.parametrize("name, points", [(c[0], c[1]) for c in CASES if c[2] != "no-overlap"],
                         ids=[c[0] for c in CASES if c[2] != "no-overlap"])
def test_swapping_curve_and_reference_mirrors_the_verdict(name: str, points: list[CurvePoint]) -> None:
    forward = curve_verdict(points, REFERENCE, UP, tolerance=0.1)
    backward = curve_verdict(REFERENCE, points, UP, tolerance=0.1)
    mirror = {"above": "below", "below": "above", "equal": "equal", "crossing": "crossing"}
    assert backward.verdict == mirror[forward.verdict]
    assert backward.mean_gap == pytest.approx(-forward.mean_gap, abs=1e-12)
    assert (backward.min_gap, backward.max_gap) == pytest.approx((-forward.max_gap, -forward.min_gap))


@pytest.mark.parametrize("tolerance, verdict", [(0.0, "above"), (0.49, "above"), (0.5, "equal"), (2.0, "equal")])
def test_tolerance(tolerance: float, verdict: str) -> None:
    shifted = curve((1, 3.5), (3, 1.5))  # 0.5 above the reference everywhere
    assert curve_verdict(shifted, REFERENCE, UP, tolerance=tolerance).verdict == verdict


@pytest.mark.parametrize("points, tolerance, error", [
    ([], 0.1, "at least one point"),
    ([CurvePoint(1.0, math.inf, 1.0)], 0.1, "not finite"),
    (REFERENCE, -0.1, "tolerance"),
])
def test_bad_input(points: list[CurvePoint], tolerance: float, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        curve_verdict(points, REFERENCE, UP, tolerance=tolerance)


def test_curve_from_csv_rows() -> None:
    rows = [{"label": "mle", "temperature": "0.8", "nll_oracle": "9.1", "nll_test": "8.7"},
            {"label": "mle", "temperature": 1.0, "nll_oracle": 8.8, "nll_test": 8.4}]
    assert curve_from_rows(rows, ORACLE_CURVE_AXES) == [CurvePoint(0.8, 9.1, 8.7), CurvePoint(1.0, 8.8, 8.4)]


# reference sweep: temperature -> NLL-oracle (rises with temperature)
SWEEP = [CurvePoint(0.5, 7.0, 0.0), CurvePoint(1.2, 8.6, 0.0), CurvePoint(0.8, 7.6, 0.0), CurvePoint(1.0, 8.0, 0.0)]
BUMP = [CurvePoint(0.6, 8.0, 0.0), CurvePoint(1.0, 9.0, 0.0), CurvePoint(1.2, 8.2, 0.0)]  # not monotone


@pytest.mark.parametrize("reference, quality, temperature", [
    (SWEEP, 7.8, 0.9),
    (SWEEP, 8.3, 1.1),
    (SWEEP, 7.0, 0.5),     # an end point
    (SWEEP, 8.6, 1.2),
    (SWEEP, 8.0, 1.0),     # a sweep point
    (SWEEP, 6.9, None),    # better than MLE at any swept temperature
    (SWEEP, 8.7, None),
    (BUMP, 8.5, 1.125),    # 0.8 and 1.125 match; 1.125 is closer to T = 1
    (BUMP, 8.1, 0.64),     # below the second segment's range: one match
])
def test_matched_temperature(reference: list[CurvePoint], quality: float, temperature: float | None) -> None:
    result = matched_temperature(reference, quality)
    if temperature is None:
        assert result is None
    else:
        assert result == pytest.approx(temperature)
