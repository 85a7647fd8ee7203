"""The policy-gradient pieces every REINFORCE-family estimator shares: baselines, masking, the surrogate loss.

    L = -1/B sum_b sum_{t <= L_b} log G(y_t | y_<t) * (Q_t - b)          (Williams 1992; SeqGAN eq. 4)

Q (B, T) holds per-prefix rewards (0 after each sequence's end), b a baseline that does not depend on the
sampled sequence (so the estimate stays unbiased): none, the batch mean, or a moving average of past means.
Per-step rewards r_t become returns R_t = sum_{s >= t} gamma^(s-t) r_s (`discounted_returns`; ScratchGAN,
MaskGAN). MaliGAN (Che et al. 2017, eq. 9) replaces Q - b by normalised importance weights D/(1-D) minus 1/n
(`maligan_advantages`), the same surrogate otherwise.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

import torch

BaselineKind = Literal["none", "mean", "ema"]
BASELINES: tuple[str, ...] = get_args(BaselineKind)
Weighting = Literal["reward", "maligan"]  # Q - b, or MaliGAN's normalised weights - 1/n_t


def alive_mask(lengths: torch.Tensor, width: int) -> torch.Tensor:
    """(B, T) bool, True on each sequence's tokens (EOS included), False after its end."""
    steps = torch.arange(width, device=lengths.device)
    return steps.unsqueeze(0) < lengths.unsqueeze(1)


class Baseline:
    """A reward baseline b. `ema`: b is the moving average before this batch's mean joins it,
    m <- decay * m + (1 - decay) * batch mean (so `decay` is the weight kept on the past: ScratchGAN's
    "new = 0.08 old + 0.92 batch mean" is decay 0.08)."""

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


def discounted_returns(rewards: torch.Tensor, mask: torch.Tensor, gamma: float) -> torch.Tensor:
    """R (B, T): R_t = sum_{s >= t, s alive} gamma^(s-t) r_s of per-step rewards (B, T) on the `mask`ed steps,
    0 after each sequence's end (one (T, T) matrix product: no loop over time)."""
    steps = torch.arange(rewards.size(1), device=rewards.device)
    ahead = steps.unsqueeze(0) - steps.unsqueeze(1)  # (T_s, T_t): s - t
    discount = torch.pow(gamma, ahead.clamp(min=0).to(rewards.dtype)) * (ahead >= 0)  # gamma^(s-t) for s >= t
    masked = rewards * mask
    return (masked.unsqueeze(1) @ discount.T).squeeze(1) * mask  # (B, T)


def maligan_weights(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, T) MaliGAN weights D/(1-D) = exp(logit), normalised over the rows alive at each step: a softmax of
    D's logits (B, T) over the batch within the `mask`, never dividing by 1 - D; 0 on ended rows."""
    masked = logits.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(masked, dim=0)  # (B, T); a step with no row alive gives NaN ...
    return torch.nan_to_num(weights, nan=0.0) * mask  # ... and no weight


def maligan_advantages(logits: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, T) B * (w - 1/n_t): MaliGAN's advantage (weights w minus the baseline 1/n_t, n_t = rows alive at step
    t), scaled by B so that the surrogate's batch mean is MaliGAN's sum over rows; 0 on ended rows."""
    alive = mask.sum(0, keepdim=True).clamp(min=1)  # (1, T) n_t
    return mask.size(0) * (maligan_weights(logits, mask) - mask / alive)


def surrogate_loss(log_probs: torch.Tensor, scores: torch.Tensor, mask: torch.Tensor, baseline: Baseline,
                   weighting: Weighting) -> tuple[torch.Tensor, dict[str, float]]:
    """The REINFORCE surrogate of both estimators: scores (B, T) are rewards or returns (weighting=reward, through
    `policy_gradient_loss` and `baseline`) or D's logits (weighting=maligan, baseline 1/n_t)."""
    if weighting == "reward":
        return policy_gradient_loss(log_probs, scores, mask, baseline)
    advantage = maligan_advantages(scores, mask)  # (B, T)
    loss = -(log_probs * advantage).sum(1).mean()
    weights = maligan_weights(scores, mask)
    return loss, {"g_loss": float(loss.detach()), "reward": float(torch.sigmoid(scores[mask]).mean()),
                  "maligan_max_weight": float(weights.amax())}
