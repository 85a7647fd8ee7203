"""Gumbel-softmax estimator: the discriminator's gradient reaches the generator through a relaxed sample (RelGAN).

RelGAN (Nie et al. 2019) trains the generator by backpropagating the GAN loss through Gumbel-softmax samples
(`models/gumbel_sampling.py`) instead of estimating a policy gradient: the discriminator reads (B, T, V)
distributions through its soft front-end (distribution times its embedding matrix), real data as one-hots.
The inverse temperature beta(n) rises over the adversarial steps (`estimators/schedules.py`).

Generator loss:      losses.generator_loss(gan_loss, D(one_hot(real)), D(sample))   (RelGAN: rsgan)
Discriminator loss:  losses.discriminator_loss(gan_loss, D(one_hot(real)), D(sample)) on fresh no-grad samples,
                     + gp_weight * gradient_penalty for wgan-gp (Gulrajani et al. 2017), interpolating between
                     real and fake sequences in D's input embedding space (`CNNDiscriminator.embed`).

DDP: the differentiable sample is drawn through the possibly-wrapped generator's forward (`generator(bos,
gumbel=...)`) so its gradients are averaged; the generator loss reads the unwrapped discriminator with its
parameters frozen (no D gradients are computed or averaged for nothing).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from textgan.data.batching import TokenBatch
from textgan.data.tokenizers import BOS_ID, PAD_ID
from textgan.estimators import losses
from textgan.estimators.common import accuracy_logs
from textgan.estimators.interface import Logs
from textgan.estimators.schedules import ScheduleName, inverse_temperature
from textgan.models.gumbel_sampling import GUMBEL_MODES, GumbelArgs, GumbelMode, GumbelSample
from textgan.models.wrapping import evaluating, frozen, unwrap


def one_hot_batch(real: TokenBatch, vocab_size: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Real tokens (B, T) as one-hot distributions (B, T, V); padding is the PAD one-hot, as in fake samples."""
    return F.one_hot(real.tokens, vocab_size).to(dtype)


def _pad_time(x: torch.Tensor, length: int) -> torch.Tensor:
    """Zero-pad (B, T, E) to (B, length, E): zero is PAD's embedding, so the padded sequence means the same."""
    return F.pad(x, (0, 0, 0, length - x.size(1)))


class GumbelSoftmax:
    """RelGAN-style estimator: Gumbel-softmax samples scored by a distributions-input discriminator."""

    discriminator_input = "distributions"

    def __init__(self, *, max_len: int, mode: GumbelMode = "soft", schedule: ScheduleName = "exp",
                 beta_max: float = 100.0, schedule_steps: int = 0, gp_weight: float = 10.0, total_steps: int = 0,
                 gan_loss: str = "rsgan", label_smoothing: float = 0.0) -> None:
        """`schedule_steps` is N of beta(n); 0 uses `total_steps`, the run's number of generator steps (RelGAN's
        code fixes N = 5000 even for 2,000 steps, so its beta never reaches beta_max; see `schedules.py`)."""
        if mode not in GUMBEL_MODES:
            raise ValueError(f"mode must be one of {', '.join(GUMBEL_MODES)}, got {mode!r}")
        if gp_weight < 0:
            raise ValueError(f"gp_weight must be >= 0, got {gp_weight}")
        losses.check_label_smoothing(gan_loss, label_smoothing)  # type: ignore[arg-type]
        self.max_len, self.mode, self.schedule, self.beta_max = max_len, mode, schedule, beta_max
        self.schedule_steps = schedule_steps if schedule_steps > 0 else max(total_steps, 1)
        # the schedule's own checks (name, N, beta_max), run at build time rather than at the first step
        inverse_temperature(schedule, 0, self.schedule_steps, beta_max)  # type: ignore[arg-type]
        self.gp_weight, self.gan_loss, self.label_smoothing = gp_weight, gan_loss, label_smoothing

    def beta(self, step: int) -> float:
        """The inverse temperature at generator step `step` (generator updates done so far)."""
        return inverse_temperature(self.schedule, step, self.schedule_steps, self.beta_max)  # type: ignore[arg-type]

    def _sample(self, generator: nn.Module, batch_size: int, step: int, device: torch.device) -> GumbelSample:
        bos = torch.full((batch_size, 1), BOS_ID, dtype=torch.long, device=device)  # (B, 1)
        return generator(bos, gumbel=GumbelArgs(beta=self.beta(step), max_len=self.max_len, mode=self.mode))

    def generator_loss(self, generator: nn.Module, discriminator: nn.Module, real: TokenBatch,
                       step: int) -> tuple[torch.Tensor, Logs]:
        fake = self._sample(generator, real.tokens.size(0), step, real.tokens.device)  # through the wrapper
        d = unwrap(discriminator)
        with frozen(d):
            fake_logits = d(fake.distributions)  # (B,); the gradient flows into the sample only
            real_logits = None
            if self.gan_loss == "rsgan":
                with torch.no_grad():
                    real_logits = d(one_hot_batch(real, fake.distributions.size(-1), fake.distributions.dtype))
        loss = losses.generator_loss(self.gan_loss, real_logits, fake_logits)  # type: ignore[arg-type]
        live = fake.tokens != PAD_ID  # (B, T) positions before the end
        peak = fake.soft.detach().amax(-1)[live].mean()  # how close the relaxed samples are to one-hots
        return loss, {"g_loss": float(loss.detach()), "beta": self.beta(step), "soft_peak": float(peak),
                      "sample_len": float(fake.lengths.float().mean())}

    def discriminator_loss(self, generator: nn.Module, discriminator: nn.Module, real: TokenBatch,
                           step: int) -> tuple[torch.Tensor, Logs]:
        g = unwrap(generator)
        with torch.no_grad(), evaluating(g):  # fakes as constants, dropout off (as the token estimators)
            fake = self._sample(g, real.tokens.size(0), step, real.tokens.device).distributions  # (B, T_f, V)
        real_dist = one_hot_batch(real, fake.size(-1), fake.dtype)  # (B, T_r, V)
        real_logits, fake_logits = discriminator(real_dist), discriminator(fake)  # (B,), (B,)
        loss = losses.discriminator_loss(self.gan_loss, real_logits, fake_logits,  # type: ignore[arg-type]
                                         label_smoothing=self.label_smoothing)
        logs = {"d_loss": float(loss.detach()), **accuracy_logs(real_logits.detach(), fake_logits.detach())}
        if self.gan_loss == "wgan-gp" and self.gp_weight > 0 and torch.is_grad_enabled():
            d = unwrap(discriminator)
            real_emb, fake_emb = d.embed(real_dist), d.embed(fake)  # (B, T_r, E), (B, T_f, E)
            length = max(real_emb.size(1), fake_emb.size(1))
            penalty = losses.gradient_penalty(d.forward_embedded, _pad_time(real_emb, length),
                                              _pad_time(fake_emb, length))
            loss = loss + self.gp_weight * penalty
            logs["gradient_penalty"] = float(penalty.detach())
        return loss, logs

    def state_dict(self) -> dict[str, Any]:
        return {}  # beta is a function of the step, which the loop checkpoints

    def load_state_dict(self, state: dict[str, Any], generator: nn.Module | None = None) -> None:
        pass
