"""REINFORCE policy gradient with Monte-Carlo rollout rewards: SeqGAN (Yu et al. 2017).

Generator loss (SeqGAN eq. 4 / its policy-gradient estimate), through `policy_gradient.policy_gradient_loss`:
    L = -1/B sum_b sum_{t <= L_b} log G(y_t | y_<t) * (Q_t - b)
with Q_t from `rollout.rollout_rewards` and an optional baseline b (none, batch mean, moving average), or with
MaliGAN's weights (Che et al. 2017): Q_t is then the mean of the N completions' logits, and each step's advantage
a softmax of Q_t over the rows alive at t minus 1/n_t (`policy_gradient.surrogate_loss`, shared with
`dense_reinforce.py`).
Rollout policy: G itself (the default; this is what SeqGAN's released code effectively does) or a delayed copy
updated as theta' <- r * theta' + (1 - r) * theta before every generator step (the paper's rate r = 0.8).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from textgan.config import opt
from textgan.data.batching import TokenBatch
from textgan.estimators.class_head import check_conditioning, discriminator_labels, score
from textgan.estimators.common import sequence_log_probs, token_discriminator_loss
from textgan.estimators.interface import DiscriminatorShelf, EstimatorContext, Logs
from textgan.estimators.policy_gradient import Baseline, BaselineKind, Weighting, surrogate_loss
from textgan.estimators.rollout import RolloutScorer, collect_states, rollout_rewards
from textgan.models.conv_tables import TokenConvTables, table_bytes
from textgan.models.discriminator import CNNDiscriminator
from textgan.models.generator import RNNGenerator
from textgan.models.wrapping import evaluating, unwrap

TABLE_LIMIT_BYTES = 1 << 30  # larger tables (big vocabularies) fall back to the convolutions
RewardKind = Literal["prob", "logprob"]


@dataclass
class ReinforceOptions:
    num_rollouts: int = opt(16, "Monte-Carlo rollouts per prefix (SeqGAN: 16)", min=1)
    baseline: BaselineKind = opt("none", "reward baseline b: none, batch mean, moving average")
    baseline_decay: float = opt(0.9, "moving-average baseline: the weight kept on the past, m <- d m + (1-d) batch "
                                     "mean (ScratchGAN's 'new = 0.08 old + 0.92 mean' is d = 0.08)", min=0, lt=1)
    reward: RewardKind = opt("prob", "reward: D probability (SeqGAN) or its log")
    weighting: Weighting = opt("reward", "advantage: reward - baseline (SeqGAN), or MaliGAN's weights (softmax of "
                                         "the rollouts' mean logits over the batch) - 1/n")
    rollout_policy: Literal["generator", "ema"] = opt(
        "generator", "roll out with G itself (what SeqGAN's code does) or a delayed EMA copy (SeqGAN paper)")
    rollout_update_rate: float = opt(0.8, "EMA copy: weight kept on its old parameters (SeqGAN: 0.8)", min=0, max=1)
    chunk_rows: int = opt(8192, "rollout rows advanced together (bounds memory)", min=1)
    table_scoring: bool = opt(
        True, "score rollouts through per-token tables of the CNN discriminator (same numbers; SeqGAN's D "
              "scores ~2x faster on CPU, its convolutions ~4.5x; used when the tables fit in 1 GiB)")


def _rewards(logits: torch.Tensor, kind: str) -> torch.Tensor:
    """Rewards of D's logits: its probability, its log, or the logit itself (for MaliGAN's weights)."""
    if kind == "logit":
        return logits
    return F.logsigmoid(logits) if kind == "logprob" else torch.sigmoid(logits)


class PlainScorer:
    """Rewards through D's forward, in chunks of 1024 rows (measured faster on CPU than one huge batch); a
    conditional D reads each row's class (`labels` (B,) of the samples; a completion keeps its sequence's)."""

    def __init__(self, d: nn.Module, samples: torch.Tensor, reward: str, labels: torch.Tensor | None = None) -> None:
        self.d, self.samples, self.reward, self.labels = d, samples, reward, labels

    def _logits(self, tokens: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        label_parts = [None] * len(tokens.split(1024)) if labels is None else labels.split(1024)
        return torch.cat([score(self.d, part, part_labels)
                          for part, part_labels in zip(tokens.split(1024), label_parts)])  # (R,)

    def sequence_rewards(self) -> torch.Tensor:
        return _rewards(self._logits(self.samples, self.labels), self.reward)

    def completion_rewards(self, completions: torch.Tensor, rows_b: torch.Tensor,
                           rows_t: torch.Tensor) -> torch.Tensor:
        return _rewards(self._logits(completions, None if self.labels is None else self.labels[rows_b]), self.reward)


class TableScorer:
    """Rewards through per-token tables of a token CNN (`models/conv_tables.py`): the windows inside each row's
    prefix are read from the sampled sequence's running maxima; pays back once the scored sequences outnumber
    ~V / T. A conditional D reads each row's class (`labels` (B,); a completion keeps its sequence's)."""

    def __init__(self, d: CNNDiscriminator, samples: torch.Tensor, reward: str,
                 labels: torch.Tensor | None = None) -> None:
        self.rollouts = TokenConvTables(d).rollout_scorer(samples, labels)
        self.reward = reward

    def sequence_rewards(self) -> torch.Tensor:
        return _rewards(self.rollouts.sequence_logits, self.reward)

    def completion_rewards(self, completions: torch.Tensor, rows_b: torch.Tensor,
                           rows_t: torch.Tensor) -> torch.Tensor:
        return _rewards(self.rollouts(completions, rows_b, rows_t), self.reward)


class Reinforce:
    """SeqGAN's estimator: sampled sequences, per-prefix rewards from rollouts scored by D, policy gradient."""

    Options: ClassVar[type] = ReinforceOptions
    pretrains_discriminator: ClassVar[bool] = True
    token_fakes: ClassVar[bool] = True  # its D loss draws generator.sample fakes

    def __init__(self, options: ReinforceOptions, context: EstimatorContext) -> None:
        check_conditioning(context)
        self.options, self.context = options, context
        self.baseline = Baseline(options.baseline, options.baseline_decay)
        self.delayed: RNNGenerator | None = None  # the EMA rollout copy, created on the first generator step

    def build_discriminator(self, shelf: DiscriminatorShelf) -> nn.Module:
        return shelf.cnn("tokens")

    def prepare_generator_step(self, generator: nn.Module, step: int) -> None:
        """With the delayed rollout policy: theta' <- r theta' + (1 - r) theta (a copy of G at the first step)."""
        if self.options.rollout_policy != "ema":
            return
        g = unwrap(generator)
        if self.delayed is None:
            self.delayed = copy.deepcopy(g).requires_grad_(False)
            return
        rate = self.options.rollout_update_rate
        with torch.no_grad():
            for mine, theirs in zip(self.delayed.parameters(), g.parameters()):
                mine.mul_(rate).add_(theirs.detach(), alpha=1 - rate)

    def scorer(self, d: nn.Module, samples: torch.Tensor, labels: torch.Tensor | None = None) -> RolloutScorer:
        """The reward scorer for the rollouts of `samples` (B, T) (d in eval mode; of classes `labels` (B,) for a
        conditional D, whose reward with the (K+1)-class head is P(class = y | x)): conv tables for a token CNN
        when they fit and pay back, D's forward otherwise."""
        o = self.options
        num_scored = samples.numel() * o.num_rollouts  # about the number of sequences to score
        kind = "logit" if o.weighting == "maligan" else o.reward
        if (o.table_scoring and isinstance(d, CNNDiscriminator) and d.input_mode == "tokens"
                and table_bytes(d) <= TABLE_LIMIT_BYTES and num_scored * self.context.max_len >= 4 * d.vocab_size):
            return TableScorer(d, samples, kind, labels)
        return PlainScorer(d, samples, kind, labels)

    def rewards(self, generator: RNNGenerator, discriminator: nn.Module, batch_size: int,
                labels: torch.Tensor | None = None) -> tuple[Any, torch.Tensor]:
        """Sample `batch_size` sequences (of classes `labels` (B,) for a conditional generator) and their
        per-prefix rewards Q (B, T); rollouts keep their sequence's class."""
        policy = self.delayed if self.options.rollout_policy == "ema" and self.delayed is not None else generator
        samples = generator.sample(batch_size, self.context.max_len, return_states=policy is generator, labels=labels)
        states = samples.states if policy is generator else collect_states(policy, samples.tokens, labels)
        d, d_labels = unwrap(discriminator), discriminator_labels(self.context.conditional, labels)
        with evaluating(d), evaluating(policy):  # no dropout while scoring rewards
            scorer = self.scorer(d, samples.tokens, d_labels)
            q = rollout_rewards(policy, samples.tokens, samples.lengths, states, scorer,
                                num_rollouts=self.options.num_rollouts, max_len=self.context.max_len,
                                chunk_rows=self.options.chunk_rows, labels=labels)
        return samples, q

    def generator_loss(self, generator: nn.Module, discriminator: nn.Module, real: TokenBatch,
                       step: int) -> tuple[torch.Tensor, Logs]:
        samples, q = self.rewards(unwrap(generator), discriminator, real.tokens.size(0), real.labels)
        logp = sequence_log_probs(generator, samples.tokens, samples.lengths, real.labels)  # (B, T), grad flows here
        mask = samples.tokens != 0  # PAD is never sampled early
        loss, logs = surrogate_loss(logp, q, mask, self.baseline, self.options.weighting)
        return loss, {**logs, "sample_len": float(samples.lengths.float().mean())}

    def discriminator_loss(self, generator: nn.Module, discriminator: nn.Module, real: TokenBatch,
                           step: int) -> tuple[torch.Tensor, Logs]:
        return token_discriminator_loss(generator, discriminator, real, max_len=self.context.max_len,
                                        gan_loss=self.context.gan_loss, label_smoothing=self.context.label_smoothing,
                                        conditional=self.context.conditional)

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = self.baseline.state_dict()
        if self.delayed is not None:
            state["delayed"] = self.delayed.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any], generator: nn.Module) -> None:
        self.baseline.load_state_dict(state)
        if "delayed" in state:
            self.delayed = copy.deepcopy(unwrap(generator)).requires_grad_(False)
            self.delayed.load_state_dict(state["delayed"])
