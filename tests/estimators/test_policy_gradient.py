"""The shared policy-gradient pieces: discounted returns and MaliGAN weights against hand tables."""

from __future__ import annotations

import math

import pytest
import torch

from textgan.estimators.policy_gradient import (
    Baseline,
    discounted_returns,
    maligan_advantages,
    maligan_weights,
    surrogate_loss,
)

REWARDS = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 9.0]])  # row 1 ended after 2 steps (its 9 is ignored)
MASK = torch.tensor([[True, True, True], [True, True, False]])


@pytest.mark.parametrize(("gamma", "expected"), [
    (0.0, [[1.0, 2.0, 3.0], [4.0, 5.0, 0.0]]),
    (0.23, [[1 + 0.23 * 2 + 0.23 ** 2 * 3, 2 + 0.23 * 3, 3.0], [4 + 0.23 * 5, 5.0, 0.0]]),
    (1.0, [[6.0, 5.0, 3.0], [9.0, 5.0, 0.0]]),
])
def test_discounted_returns(gamma: float, expected: list[list[float]]) -> None:
    torch.testing.assert_close(discounted_returns(REWARDS, MASK, gamma), torch.tensor(expected))


def test_maligan_weights_hand_table() -> None:
    logits = torch.tensor([[0.0, math.log(3.0), 2.0],
                           [0.0, 0.0, -1.0],
                           [math.log(2.0), 0.0, 5.0]])
    mask = torch.tensor([[True, True, True], [True, True, True], [True, False, False]])  # row 2 ended after 1 step
    # D/(1-D) = exp(logit), normalised over the rows alive at each step
    expected = torch.tensor([[1 / 4, 3 / 4, 1.0],
                             [1 / 4, 1 / 4, 0.0],
                             [2 / 4, 0.0, 0.0]])
    expected[0, 2], expected[1, 2] = math.exp(2) / (math.exp(2) + math.exp(-1)), math.exp(-1) / (
        math.exp(2) + math.exp(-1))
    weights = maligan_weights(logits, mask)
    torch.testing.assert_close(weights, expected)
    torch.testing.assert_close(weights.sum(0), torch.ones(3))
    # advantage B * (w - 1/n_t), 0 on the ended row
    alive = torch.tensor([3.0, 2.0, 2.0])
    torch.testing.assert_close(maligan_advantages(logits, mask), 3 * (expected - mask / alive))


def test_maligan_never_overflows() -> None:
    logits = torch.tensor([[200.0], [-200.0]])
    weights = maligan_weights(logits, torch.ones(2, 1, dtype=torch.bool))
    assert bool(torch.isfinite(weights).all()) and weights[0, 0] == 1.0


def test_surrogate_reward_weighting_is_the_plain_policy_gradient() -> None:
    log_probs = torch.tensor([[-1.0, -2.0, -0.5], [-0.3, -0.2, 0.0]])
    loss, logs = surrogate_loss(log_probs, REWARDS, MASK, Baseline("mean"), "reward")
    mean = float(REWARDS[MASK].mean())
    expected = -((log_probs * (REWARDS - mean) * MASK).sum(1)).mean()
    torch.testing.assert_close(loss, expected)
    assert logs["baseline"] == mean
