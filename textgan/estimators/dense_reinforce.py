"""REINFORCE with a reward for every prefix from one discriminator pass: no rollouts.

A per-prefix discriminator (ScratchGAN's recurrent one, `models/recurrent_discriminator.py`, or SeqGAN's CNN in
prefix mode, `PrefixCNNDiscriminator`) scores y_1..t for every t at once, D_t (B, T). Per-step rewards
    r_t = 2 sigmoid(D_t) - 1     (ScratchGAN, de Masson d'Autume et al. 2019, sec. 3)
    r_t = log sigmoid(D_t)       (MaskGAN, Fedus et al. 2018, sec. 3)
    r_t = sigmoid(D_t)
become discounted returns R_t = sum_{s >= t} gamma^(s-t) r_s and the surrogate of `policy_gradient.py`
    L = -1/B sum_b sum_{t <= L_b} log G(y_t | y_<t) (R_t - b),
or, with weighting=maligan, MaliGAN's weights (a softmax of D_t over the rows alive at t) minus 1/n_t, through the
same code path as rollout REINFORCE. A generator step is one sampling pass, one D pass and one teacher-forced
pass. D's loss is per step (ScratchGAN): every alive real step labelled real, every alive fake step fake;
ScratchGAN's L2 on all of the recurrent D's parameters is added to it. A conditional D (the CNN in prefix mode; the
recurrent one is unconditional) scores every prefix of a row in its class: with the (K+1)-class head the per-step
reward reads P(class = y | y_1..t).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import nn

from textgan.config import opt
from textgan.data.batching import TokenBatch
from textgan.data.tokenizers import PAD_ID
from textgan.estimators.class_head import check_conditioning, discriminator_labels, fake_labels, score
from textgan.estimators.common import accuracy_logs, gan_discriminator_loss, sequence_log_probs
from textgan.estimators.interface import DiscriminatorShelf, EstimatorContext, Logs
from textgan.estimators.policy_gradient import Baseline, BaselineKind, Weighting, discounted_returns, surrogate_loss
from textgan.models.discriminator import CNNDiscriminator
from textgan.models.prefix_discriminator import PrefixCNNDiscriminator
from textgan.models.recurrent_discriminator import RecurrentDiscriminator
from textgan.models.wrapping import evaluating, unwrap

DenseReward = Literal["2sigmoid-1", "logsigmoid", "sigmoid"]
PER_STEP_LOSSES = ("bce", "nsgan", "hinge")  # D losses that read each step on its own (no pairing, no penalty)


@dataclass
class DenseReinforceOptions:
    discriminator: Literal["recurrent", "cnn"] = opt(
        "recurrent", "per-prefix D: ScratchGAN's recurrent one, or the configured CNN in prefix mode")
    reward: DenseReward = opt("2sigmoid-1", "per-step reward of D's logit: 2 sigmoid - 1 (ScratchGAN), "
                                            "log sigmoid (MaskGAN) or sigmoid")
    gamma: float = opt(0.23, "discount of the returns R_t = sum gamma^(s-t) r_s (ScratchGAN: 0.23)", min=0, max=1)
    baseline: BaselineKind = opt("ema", "baseline of the returns: none, batch mean, moving average")
    baseline_decay: float = opt(0.08, "moving-average baseline: the weight kept on the past, m <- d m + (1-d) batch "
                                      "mean (ScratchGAN: 0.08, its 'new = 0.08 old + 0.92 mean')", min=0, lt=1)
    weighting: Weighting = opt("reward", "advantage: return - baseline, or MaliGAN's weights (softmax of D's "
                                         "logits over the rows alive at each step) - 1/n_t")
    embedding_size: int = opt(64, "recurrent D: token embedding size", min=1)
    hidden_size: int = opt(128, "recurrent D: LSTM hidden size (ScratchGAN: 512)", min=1)
    embedding_dropout: float = opt(0.1, "recurrent D: probability of dropping a word's whole embedding row",
                                   min=0, lt=1)
    layer_norm: bool = opt(True, "recurrent D: layer normalisation of each step's LSTM output")
    positional_size: int = opt(0, "recurrent D: sinusoidal position features joined to each input (0: none)", min=0)
    l2: float = opt(1e-7, "recurrent D: L2 on all its parameters, weight * sum p^2 / 2, added to its loss", min=0)


def dense_rewards(logits: torch.Tensor, kind: DenseReward) -> torch.Tensor:
    """Per-step rewards (B, T) of per-prefix logits (B, T)."""
    if kind == "2sigmoid-1":
        return 2 * torch.sigmoid(logits) - 1
    return F.logsigmoid(logits) if kind == "logsigmoid" else torch.sigmoid(logits)


class DenseReinforce:
    """Rollout-free REINFORCE: per-prefix rewards from one pass of a per-prefix discriminator."""

    Options: ClassVar[type] = DenseReinforceOptions
    pretrains_discriminator: ClassVar[bool] = True
    token_fakes: ClassVar[bool] = True  # its D loss draws generator.sample fakes

    def __init__(self, options: DenseReinforceOptions, context: EstimatorContext) -> None:
        if context.gan_loss not in PER_STEP_LOSSES:
            raise ValueError(f"gan_loss={context.gan_loss} pairs sequences or needs a penalty; dense_reinforce's "
                             f"per-step D loss takes {', '.join(PER_STEP_LOSSES)}")
        if options.positional_size % 2:
            raise ValueError(f"positional_size must be even, got {options.positional_size}")
        check_conditioning(context)
        if context.conditional != "none" and options.discriminator == "recurrent":
            raise ValueError("the recurrent per-step discriminator is unconditional; use "
                             "dense_reinforce.discriminator=cnn or discriminator.conditional=none")
        self.options, self.context = options, context
        self.baseline = Baseline(options.baseline, options.baseline_decay)

    def build_discriminator(self, shelf: DiscriminatorShelf) -> nn.Module:
        o = self.options
        if o.discriminator == "cnn":
            cnn = shelf.cnn("tokens")
            assert isinstance(cnn, CNNDiscriminator)
            return PrefixCNNDiscriminator.like(cnn)
        return RecurrentDiscriminator(vocab_size=shelf.vocab_size, embedding_size=o.embedding_size,
                                      hidden_size=o.hidden_size, embedding_dropout=o.embedding_dropout,
                                      layer_norm=o.layer_norm, positional_size=o.positional_size)

    def prepare_generator_step(self, generator: nn.Module, step: int) -> None:
        pass  # no delayed copies: the rewards come from D alone

    def generator_loss(self, generator: nn.Module, discriminator: nn.Module, real: TokenBatch,
                       step: int) -> tuple[torch.Tensor, Logs]:
        samples = unwrap(generator).sample(real.tokens.size(0), self.context.max_len,
                                           labels=real.labels)  # (1) one sampling pass, the real rows' classes
        d, labels = unwrap(discriminator), discriminator_labels(self.context.conditional, real.labels)
        with torch.no_grad(), evaluating(d):
            logits = score(d, samples.tokens, labels)  # (2) one D pass: (B, T) per-prefix logits of the rows' classes
        mask = samples.tokens != PAD_ID  # (B, T); PAD is never sampled before the end
        if self.options.weighting == "maligan":
            scores = logits
        else:
            scores = discounted_returns(dense_rewards(logits, self.options.reward), mask, self.options.gamma)
        logp = sequence_log_probs(generator, samples.tokens, samples.lengths,
                                  real.labels)  # (3) teacher-forced pass, (B, T)
        loss, logs = surrogate_loss(logp, scores, mask, self.baseline, self.options.weighting)
        return loss, {**logs, "d_logit": float(logits[mask].mean()),
                      "sample_len": float(samples.lengths.float().mean())}

    def discriminator_loss(self, generator: nn.Module, discriminator: nn.Module, real: TokenBatch,
                           step: int) -> tuple[torch.Tensor, Logs]:
        fake = unwrap(generator).sample(real.tokens.size(0), self.context.max_len, labels=real.labels)
        c = self.context
        labels, fakes = discriminator_labels(c.conditional, real.labels), fake_labels(c.conditional, real.labels)
        real_logits = score(discriminator, real.tokens, labels)  # (B, T_r)
        fake_logits = score(discriminator, fake.tokens, fakes)  # (B, T_f)
        real_mask, fake_mask = real.tokens != PAD_ID, fake.tokens != PAD_ID
        loss, _ = gan_discriminator_loss(real_logits[real_mask], fake_logits[fake_mask], gan_loss=c.gan_loss,
                                         label_smoothing=c.label_smoothing,
                                         conditional=c.conditional)  # per step (ScratchGAN)
        d = unwrap(discriminator)
        if isinstance(d, RecurrentDiscriminator) and self.options.l2 > 0:
            loss = loss + self.options.l2 * d.l2_penalty()
        # accuracy on whole sequences: each one's last-step logit
        rows_r, rows_f = torch.arange(real.tokens.size(0)), torch.arange(fake.tokens.size(0))
        last_r = real_logits.detach()[rows_r, real.lengths - 1]
        last_f = fake_logits.detach()[rows_f, fake.lengths - 1]
        return loss, {"d_loss": float(loss.detach()), **accuracy_logs(last_r, last_f)}

    def state_dict(self) -> dict[str, Any]:
        return self.baseline.state_dict()

    def load_state_dict(self, state: dict[str, Any], generator: nn.Module) -> None:
        self.baseline.load_state_dict(state)
