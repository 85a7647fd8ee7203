"""The policy-gradient pieces every REINFORCE-family estimator shares: baselines, masking, the surrogate loss.

    L = -1/B sum_b sum_{t <= L_b} log G(y_t | y_<t) * (Q_t - b)          (Williams 1992; SeqGAN eq. 4)

Q (B, T) holds per-prefix rewards (0 after each sequence's end), b a baseline that does not depend on the
sampled sequence (so the estimate stays unbiased): none, the batch mean, or a moving average of past means.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import torch

BaselineKind = Literal["none", "mean", "ema"]
BASELINES: tuple[str, ...] = get_args(BaselineKind)


def alive_mask(lengths: torch.Tensor, width: int) -> torch.Tensor:
    """(B, T) bool, True on each sequence's tokens (EOS included), False after its end."""
    steps = torch.arange(width, device=lengths.device)
    return steps.unsqueeze(0) < lengths.unsqueeze(1)


class Baseline:
    """A reward baseline b. `ema`: b is the moving average before this batch's mean joins it,
    m <- decay * m + (1 - decay) * batch mean (so `decay` is the weight kept on the past)."""

    def __init__(self, kind: BaselineKind = "none", decay: float = 0.9) -> None:
        if kind not in BASELINES:
            raise ValueError(f"baseline must be one of {', '.join(BASELINES)}, got {kind!r}")
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"baseline_decay must be in [0, 1), got {decay}")
        self.kind, self.decay = kind, decay
        self.moving: float | None = None

    def __call__(self, mean_reward: float) -> float:
        """The baseline for a batch whose mean reward is `mean_reward` (updates the moving average)."""
        if self.kind == "mean":
            return mean_reward
        if self.kind == "ema":
            b = self.moving if self.moving is not None else mean_reward
            self.moving = self.decay * b + (1 - self.decay) * mean_reward
            return b
        return 0.0

    def state_dict(self) -> dict[str, Any]:
        return {"moving_baseline": self.moving}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.moving = state.get("moving_baseline")


def policy_gradient_loss(log_probs: torch.Tensor, rewards: torch.Tensor, mask: torch.Tensor,
                         baseline: Baseline) -> tuple[torch.Tensor, dict[str, float]]:
    """The surrogate loss of log-probabilities (B, T) (with grad) and rewards (B, T) on the `mask`ed (B, T) tokens,
    and its logs (g_loss, reward: the mean over masked tokens, baseline)."""
    mean_reward = float(rewards[mask].mean())
    b = baseline(mean_reward)
    advantage = (rewards - b) * mask  # (B, T); 0 after each sequence's end
    loss = -(log_probs * advantage).sum(1).mean()
    return loss, {"g_loss": float(loss.detach()), "reward": mean_reward, "baseline": b}
