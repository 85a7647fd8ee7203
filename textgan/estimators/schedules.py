"""Inverse-temperature schedules beta(n) of the Gumbel-softmax relaxation, for adversarial step n of N.

From RelGAN (Nie et al. 2019, ICLR; appendix "temperature control" and its released code), with p = n / N
clamped to [0, 1] and beta_max >= 1 (beta = 1 / temperature; larger beta, sharper samples):

    constant   beta = beta_max
    linear     beta = 1 + (beta_max - 1) * p
    exp        beta = beta_max ** p                                   (RelGAN's default)
    sigmoid    beta = 1 + (beta_max - 1) / (1 + exp(20 * (1/2 - p)))  (RelGAN: exp((N/2 - n) * 20 / N))
    quad       beta = 1 + (beta_max - 1) * p ** 2
    sqrt       beta = 1 + (beta_max - 1) * sqrt(p)

Differences from RelGAN's code, on purpose:
* RelGAN's code fixes N = 5000 even when it trains for 2,000 steps, so its beta never reaches beta_max (exp with
  beta_max = 100 stops at 100 ** 0.4 ~ 6.3). Here N defaults to the run's actual number of generator steps
  (`gumbel.schedule_steps: 0`); set schedule_steps to reproduce RelGAN's N.
* linear, quad and sqrt divide by N rather than N - 1, so every schedule reaches beta_max exactly at n = N.
* past N the schedule stays at beta(N) (RelGAN's exp keeps growing).
"""

from __future__ import annotations

import math
from typing import Literal, get_args

ScheduleName = Literal["constant", "linear", "exp", "sigmoid", "quad", "sqrt"]
SCHEDULES: tuple[str, ...] = get_args(ScheduleName)


def inverse_temperature(schedule: ScheduleName, step: int, total_steps: int, beta_max: float) -> float:
    """beta(n) for n = `step` generator updates done so far, of N = `total_steps` (>= 1), rising to `beta_max`."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown temperature schedule {schedule!r}; choose one of {', '.join(SCHEDULES)}")
    if total_steps < 1:
        raise ValueError(f"the schedule's number of steps N must be >= 1, got {total_steps}")
    if beta_max < 1:
        raise ValueError(f"beta_max must be >= 1 (beta rises from 1 to beta_max), got {beta_max}")
    p = min(max(step / total_steps, 0.0), 1.0)
    if schedule == "constant":
        return float(beta_max)
    if schedule == "exp":
        return float(beta_max ** p)
    shape = {"linear": p, "quad": p * p, "sqrt": math.sqrt(p),
             "sigmoid": 1.0 / (1.0 + math.exp(20.0 * (0.5 - p)))}[schedule]
    return 1.0 + (beta_max - 1.0) * shape
