"""REINFORCE policy gradient with Monte-Carlo rollout rewards: SeqGAN (Yu et al. 2017).

Generator loss (SeqGAN eq. 4 / its policy-gradient estimate):
    L = -1/B sum_b sum_{t <= L_b} log G(y_t | y_<t) * (Q_t - b)
with Q_t from `rollout.rollout_rewards` and an optional baseline b (none, batch mean, moving average).
Rollout policy: G itself (the default; this is what SeqGAN's released code effectively does) or a delayed copy
updated as theta' <- r * theta' + (1 - r) * theta before every generator step (the paper's rate r = 0.8).
"""

from __future__ import annotations

import copy
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from textgan.data.batching import TokenBatch
from textgan.estimators.common import sequence_log_probs, token_discriminator_loss
from textgan.estimators.interface import Logs
from textgan.estimators.rollout import Scorer, collect_states, rollout_rewards
from textgan.models.conv_tables import TokenConvTables, table_bytes
from textgan.models.discriminator import CNNDiscriminator
from textgan.models.generator import RNNGenerator
from textgan.models.wrapping import evaluating, unwrap


TABLE_LIMIT_BYTES = 1 << 30  # larger tables (big vocabularies) fall back to the convolutions


class Reinforce:
    """SeqGAN's estimator: sampled sequences, per-prefix rewards from rollouts scored by D, policy gradient."""

    discriminator_input = "tokens"

    def __init__(self, *, max_len: int, num_rollouts: int = 16, baseline: Literal["none", "mean", "ema"] = "none",
                 baseline_decay: float = 0.9, reward: Literal["prob", "logprob"] = "prob",
                 rollout_policy: Literal["generator", "ema"] = "generator", rollout_update_rate: float = 0.8,
                 chunk_rows: int = 8192, table_scoring: bool = True, gan_loss: str = "bce",
                 label_smoothing: float = 0.0) -> None:
        self.max_len, self.num_rollouts, self.chunk_rows = max_len, num_rollouts, chunk_rows
        self.table_scoring = table_scoring
        self.baseline, self.baseline_decay, self.reward = baseline, baseline_decay, reward
        self.rollout_policy, self.rollout_update_rate = rollout_policy, rollout_update_rate
        self.gan_loss, self.label_smoothing = gan_loss, label_smoothing
        self.moving_baseline: float | None = None
        self.delayed: RNNGenerator | None = None  # the EMA rollout copy, created on first use

    def _policy(self, generator: RNNGenerator) -> RNNGenerator:
        if self.rollout_policy == "generator":
            return generator
        if self.delayed is None:
            self.delayed = copy.deepcopy(generator).requires_grad_(False)
        else:
            with torch.no_grad():
                for mine, theirs in zip(self.delayed.parameters(), generator.parameters()):
                    mine.mul_(self.rollout_update_rate).add_(theirs.detach(), alpha=1 - self.rollout_update_rate)
        return self.delayed

    def rewards(self, generator: RNNGenerator, discriminator: nn.Module, batch_size: int) -> tuple[Any, torch.Tensor]:
        """Sample `batch_size` sequences and their per-prefix rewards Q (B, T)."""
        policy = self._policy(generator)
        samples = generator.sample(batch_size, self.max_len, return_states=policy is generator)
        states = samples.states if policy is generator else collect_states(policy, samples.tokens)
        d = unwrap(discriminator)
        with evaluating(d), evaluating(policy):  # no dropout while scoring rewards
            logits_of = self._scorer(d, samples.tokens)

            def score(tokens: torch.Tensor, rows: tuple[torch.Tensor, torch.Tensor] | None) -> torch.Tensor:
                logits = logits_of(tokens, rows)  # (R,)
                return F.logsigmoid(logits) if self.reward == "logprob" else torch.sigmoid(logits)

            q = rollout_rewards(policy, samples.tokens, samples.lengths, states, score,
                                num_rollouts=self.num_rollouts, max_len=self.max_len, chunk_rows=self.chunk_rows)
        return samples, q

    def _scorer(self, d: nn.Module, samples: torch.Tensor) -> Scorer:
        """D's logits of the rollouts of `samples` (B, T) and of `samples` themselves (d in eval mode)."""
        num_scored = samples.numel() * self.num_rollouts  # about the number of sequences to score
        if (self.table_scoring and isinstance(d, CNNDiscriminator) and d.input_mode == "tokens"
                and table_bytes(d) <= TABLE_LIMIT_BYTES and num_scored * self.max_len >= 4 * d.vocab_size):
            tables = TokenConvTables(d)  # pays back once the sequences outnumber ~V / T (see conv_tables.py)
            rollouts = tables.rollout_scorer(samples)
            # rows None: `samples` themselves, already scored while the rollout scorer read their windows
            return lambda tokens, rows: rollouts.sequence_logits if rows is None else rollouts(tokens, *rows)
        # D in chunks of 1024 rows: measured faster on CPU than one huge batch (activations stay in cache)
        return lambda tokens, rows: torch.cat([d(part) for part in tokens.split(1024)])

    def generator_loss(self, generator: nn.Module, discriminator: nn.Module, real: TokenBatch,
                       step: int) -> tuple[torch.Tensor, Logs]:
        samples, q = self.rewards(unwrap(generator), discriminator, real.tokens.size(0))
        mask = samples.tokens != 0  # real tokens (PAD is never sampled before the end)
        mean_reward = float(q[mask].mean())
        if self.baseline == "mean":
            b = mean_reward
        elif self.baseline == "ema":
            prev = self.moving_baseline if self.moving_baseline is not None else mean_reward
            b = prev
            self.moving_baseline = self.baseline_decay * prev + (1 - self.baseline_decay) * mean_reward
        else:
            b = 0.0
        logp = sequence_log_probs(generator, samples.tokens, samples.lengths)  # (B, T), grad flows here
        advantage = (q - b) * mask
        loss = -(logp * advantage).sum(1).mean()
        return loss, {"g_loss": float(loss.detach()), "reward": mean_reward, "baseline": b,
                      "sample_len": float(samples.lengths.float().mean())}

    def discriminator_loss(self, generator: nn.Module, discriminator: nn.Module, real: TokenBatch,
                           step: int) -> tuple[torch.Tensor, Logs]:
        return token_discriminator_loss(generator, discriminator, real, max_len=self.max_len,
                                        gan_loss=self.gan_loss, label_smoothing=self.label_smoothing)

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {"moving_baseline": self.moving_baseline}
        if self.delayed is not None:
            state["delayed"] = self.delayed.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any], generator: RNNGenerator | None = None) -> None:
        self.moving_baseline = state.get("moving_baseline")
        if "delayed" in state and generator is not None:
            self.delayed = copy.deepcopy(unwrap(generator)).requires_grad_(False)
            self.delayed.load_state_dict(state["delayed"])
