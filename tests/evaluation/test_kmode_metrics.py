"""K-mode metrics against hand tables: one mode only, a uniform set, invalid samples, within-mode diversity."""

from __future__ import annotations

import math

import pytest
import torch

from textgan.data.kmode import KModeData, KModeSpec
from textgan.evaluation.kmode import js_divergence, kmode_metrics

SPEC = KModeSpec(4, 30, 6, 2, 3, 0)


def sentences_of(data: KModeData, counts: list[int], seed: int = 0) -> torch.Tensor:
    """counts[k] real sentences of mode k."""
    drawn, modes = data.sample(4000, seed)
    return torch.cat([drawn[modes == k][:c] for k, c in enumerate(counts)])


def test_all_samples_from_one_mode() -> None:
    data = KModeData(SPEC)
    m = kmode_metrics(data, sentences_of(data, [100, 0, 0, 0]))
    # histogram (1, 0, 0, 0) vs (1/4,) * 4: M = (5/8, 1/8, 1/8, 1/8)
    js = 0.5 * math.log(1 / (5 / 8)) + 0.5 * (0.25 * math.log(0.25 / (5 / 8)) + 3 * 0.25 * math.log(2))
    assert m["kmode_valid"] == 1.0 and m["kmode_invalid"] == 0.0
    assert m["kmode_coverage"] == 0.25
    assert m["kmode_js"] == pytest.approx(js, abs=1e-12)


def test_a_uniform_set() -> None:
    data = KModeData(SPEC)
    m = kmode_metrics(data, sentences_of(data, [50, 50, 50, 50]))
    assert m["kmode_coverage"] == 1.0 and m["kmode_js"] == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("counts,share,coverage", [
    ([70, 20, 10, 0], 0.5, 0.5),    # shares .7 .2 .1 0 against a threshold 0.5 / 4 = .125
    ([70, 20, 10, 0], 0.3, 0.75),   # threshold .075
    ([40, 40, 10, 10], 0.5, 0.5),
])
def test_coverage_threshold(counts: list[int], share: float, coverage: float) -> None:
    data = KModeData(SPEC)
    assert kmode_metrics(data, sentences_of(data, counts), share)["kmode_coverage"] == coverage


def test_invalid_share_and_histogram_of_valid_samples() -> None:
    data = KModeData(SPEC)
    valid = sentences_of(data, [25, 25, 25, 25])
    invalid = valid.clone()
    invalid[:, 0] = SPEC.num_modes  # no marker
    m = kmode_metrics(data, torch.cat([valid, invalid[:300]]))  # 100 valid, 100 invalid
    assert m["kmode_valid"] == 0.5 and m["kmode_invalid"] == 0.5
    assert m["kmode_coverage"] == 1.0 and m["kmode_js"] == pytest.approx(0.0, abs=1e-12)
    none = kmode_metrics(data, invalid)
    assert none["kmode_coverage"] == 0.0 and none["kmode_js"] == pytest.approx(math.log(2))


def test_within_mode_diversity() -> None:
    data = KModeData(SPEC)
    one = sentences_of(data, [1, 0, 0, 0])
    other = sentences_of(data, [0, 2, 0, 0])
    # mode 0: one sentence four times (1/4); mode 1: two distinct (2/2) -> mean 0.625
    m = kmode_metrics(data, torch.cat([one.repeat(4, 1), other]))
    assert m["kmode_within_diversity"] == pytest.approx((0.25 + 1.0) / 2)


@pytest.mark.parametrize("p,q,expected", [([1, 0], [0, 1], math.log(2)), ([1, 1], [2, 2], 0.0),
                                          ([3, 1], [1, 3], 0.5 * (0.75 * math.log(1.5) + 0.25 * math.log(0.5)) * 2)])
def test_js_divergence_table(p: list[float], q: list[float], expected: float) -> None:
    assert js_divergence(torch.tensor(p, dtype=torch.float64), torch.tensor(q, dtype=torch.float64)) == \
        pytest.approx(expected, abs=1e-12)
