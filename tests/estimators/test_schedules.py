"""Inverse-temperature schedules: a table of beta(n) at n = 0, N/2, N, monotonicity, clamping, bad inputs."""

from __future__ import annotations

import pytest

from tests.helpers import estimator
from textgan.estimators.schedules import SCHEDULES, inverse_temperature

# beta_max = 100, N = 1000; values worked out by hand from RelGAN's formulas (p = n / N):
#   sigmoid: 1 + 99 / (1 + e^{20 (1/2 - p)}): p=0 -> 1 + 99 / (1 + e^10), p=1 -> 1 + 99 / (1 + e^-10)
#   sqrt at p = 1/2: 1 + 99 / sqrt(2)
TABLE = {
    #            n = 0               n = N/2             n = N
    "constant": (100.0,              100.0,              100.0),
    "linear":   (1.0,                50.5,               100.0),
    "exp":      (1.0,                10.0,               100.0),
    "sigmoid":  (1.004494389001541,  50.5,               99.99550561099846),
    "quad":     (1.0,                25.75,              100.0),
    "sqrt":     (1.0,                71.00357133746822,  100.0),
}


def test_table_covers_every_schedule() -> None:
    assert set(TABLE) == set(SCHEDULES)


@pytest.mark.parametrize("schedule", sorted(TABLE))
def test_schedule_table(schedule: str) -> None:
    values = tuple(inverse_temperature(schedule, n, 1000, 100.0) for n in (0, 500, 1000))  # type: ignore[arg-type]
    assert values == pytest.approx(TABLE[schedule], rel=1e-12)


@pytest.mark.parametrize("schedule", SCHEDULES)
def test_monotone_and_clamped_past_n(schedule: str) -> None:
    values = [inverse_temperature(schedule, n, 50, 1000.0) for n in range(0, 80)]  # type: ignore[arg-type]
    assert all(a <= b for a, b in zip(values, values[1:]))
    assert values[50:] == [values[50]] * 30  # past N it stays at beta(N)
    assert values[50] == pytest.approx(1000.0, rel=1e-4)


def test_relgan_fixed_n_never_reaches_beta_max() -> None:
    """RelGAN's code uses N = 5000 for 2,000 steps: exp with beta_max 100 ends at 100^0.4."""
    assert inverse_temperature("exp", 2000, 5000, 100.0) == pytest.approx(6.309573444801933, rel=1e-12)


@pytest.mark.parametrize("schedule_steps, total_steps, step, expected", [
    (0, 4, 2, 10.0),      # N = total_steps = 4: 100^(2/4)
    (0, 0, 0, 1.0),       # a run without adversarial steps: N = 1
    (8, 4, 2, 100 ** 0.25),  # an explicit N wins
])
def test_estimator_uses_run_steps_by_default(schedule_steps: int, total_steps: int, step: int,
                                             expected: float) -> None:
    est = estimator("gumbel", max_len=5, schedule="exp", beta_max=100.0, schedule_steps=schedule_steps,
                    total_steps=total_steps)
    assert est.beta(step) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("args, match", [
    (("cosine", 0, 10, 10.0), "unknown temperature schedule"),
    (("exp", 0, 0, 10.0), "N must be >= 1"),
    (("exp", 0, 10, 0.5), "beta_max must be >= 1"),
])
def test_bad_inputs(args: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        inverse_temperature(*args)
