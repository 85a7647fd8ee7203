"""Set distances of feature matching: MMD^2 estimators and optimal transport by IPOT / Sinkhorn."""

from __future__ import annotations

import math

import pytest
import torch

from textgan.estimators.set_distances import (
    cosine_cost,
    feature_movers_distance,
    mmd2,
    transport_cost,
)


def normal(n: int, dim: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    return torch.randn(n, dim, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) + shift


@pytest.mark.parametrize("n, dim", [(2, 1), (16, 8), (64, 32)])
def test_biased_mmd_of_a_set_with_itself_is_zero(n: int, dim: int) -> None:
    x = normal(n, dim, seed=n)
    assert abs(float(mmd2(x, x, estimator="biased"))) < 1e-12


def unbiased_over_reseeds(shift: float, reseeds: int = 20, n: int = 64, dim: int = 8) -> tuple[float, float]:
    """Mean and standard error over reseeds of the unbiased MMD^2 between N(0, I) and N(shift, I) samples."""
    values = torch.tensor([float(mmd2(normal(n, dim, 2 * s), normal(n, dim, 2 * s + 1, shift)))
                           for s in range(reseeds)])
    return float(values.mean()), float(values.std() / math.sqrt(reseeds))


def test_unbiased_mmd_of_one_distribution_is_zero_on_average() -> None:
    mean, se = unbiased_over_reseeds(0.0)
    assert se > 0 and abs(mean) < 2 * se, (mean, se)


def test_unbiased_mmd_increases_with_the_mean_shift() -> None:
    table = [(shift, *unbiased_over_reseeds(shift)) for shift in (0.0, 0.5, 1.0, 2.0)]
    print("\nshift  mean MMD^2 (20 reseeds, n = m = 64, dim 8)  s.e.")
    for shift, mean, se in table:
        print(f"{shift:5.1f}  {mean:12.6f}  {se:10.6f}")
    means = [mean for _, mean, _ in table]
    assert means == sorted(means) and len(set(means)) == len(means)


def test_mmd_refuses_an_unbiased_estimate_of_one_point() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        mmd2(normal(1, 3, 0), normal(4, 3, 1))


# A 3x3 problem solved by hand: the six permutations cost 6, 11, 5, 9, 6, 7 (rows 0, 1, 2 to columns
# (0,1,2), (0,2,1), (1,0,2), (1,2,0), (2,1,0), (2,0,1)); with uniform marginals 1/3 the optimal plan is the
# permutation (1, 0, 2) / 3 and the exact cost 5 / 3 (an extreme point of the transport polytope is optimal,
# and for uniform square marginals the extreme points are permutations, Birkhoff-von Neumann).
HAND_COST = torch.tensor([[4.0, 1.0, 3.0], [2.0, 0.0, 5.0], [3.0, 2.0, 2.0]], dtype=torch.float64)


def test_ipot_reaches_the_exact_cost_of_a_hand_solved_problem() -> None:
    cost = transport_cost(HAND_COST, solver="ipot", iterations=100, regulariser=0.5)  # the shipped settings
    assert abs(float(cost) - 5.0 / 3.0) < 1e-4


def test_sinkhorn_entropic_bias_at_the_shipped_regulariser() -> None:
    exact = 5.0 / 3.0
    print("\nepsilon  Sinkhorn cost  entropic bias (exact 5/3)")
    biases = []
    for epsilon in (0.5, 0.1, 0.02):  # 0.5: the shipped ot_regulariser
        cost = float(transport_cost(HAND_COST, solver="sinkhorn", iterations=2000, regulariser=epsilon))
        biases.append(cost - exact)
        print(f"{epsilon:7.2f}  {cost:13.6f}  {cost - exact:+.6f}")
    assert biases[0] > biases[-1] >= -1e-9  # the entropic plan is feasible, so never below the exact cost


def test_feature_movers_distance_of_a_set_with_itself_is_zero_and_cosine_cost_in_range() -> None:
    x = normal(16, 8, 3)
    assert float(feature_movers_distance(x, x, iterations=200, regulariser=0.1)) < 1e-6
    cost = cosine_cost(x, normal(12, 8, 4))
    assert cost.shape == (16, 12) and float(cost.min()) >= 0 and float(cost.max()) <= 2


def test_transport_cost_refuses_an_unknown_solver() -> None:
    with pytest.raises(ValueError, match="solver"):
        transport_cost(HAND_COST, solver="emd")  # type: ignore[arg-type]
