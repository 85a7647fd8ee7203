"""Gumbel-softmax estimator: the discriminator's gradient reaches the generator through a relaxed sample (RelGAN).

RelGAN (Nie et al. 2019) trains the generator by backpropagating the GAN loss through Gumbel-softmax samples
(`models/gumbel_sampling.py`) instead of estimating a policy gradient: the discriminator reads (B, T, V)
distributions through its soft front-end (distribution times its embedding matrix), real data as one-hots.
The inverse temperature beta(n) rises over the adversarial steps (`estimators/schedules.py`).

Generator loss:      losses.generator_loss(gan_loss, D(one_hot(real)), D(sample))   (RelGAN: rsgan);
                     with unroll_steps = K > 0, D's parameters are those after K differentiable SGD steps of its
                     loss on the same (real, sample) batch (Metz et al. 2016; `estimators/unrolled.py`)
Discriminator loss:  losses.discriminator_loss(gan_loss, D(one_hot(real)), D(sample)) on fresh no-grad samples,
                     + gp_weight * gradient_penalty for wgan-gp (Gulrajani et al. 2017), interpolating between
                     real and fake sequences in D's input embedding space (`CNNDiscriminator.embed`).

DDP: the differentiable sample is drawn through the possibly-wrapped generator's forward (`generator(bos,
routine=partial(gumbel_sample, args=...))`) so its gradients are averaged; the generator loss reads the unwrapped
discriminator with its parameters frozen (no D gradients are computed or averaged for nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from textgan.config import opt
from textgan.data.batching import TokenBatch
from textgan.data.tokenizers import BOS_ID, PAD_ID
from textgan.estimators import losses
from textgan.estimators.class_head import check_conditioning, discriminator_labels, fake_labels, score
from textgan.estimators.common import gan_discriminator_loss, with_gradient_penalty
from textgan.estimators.gumbel_sampling import GumbelArgs, GumbelMode, GumbelSample, gumbel_sample
from textgan.estimators.interface import DiscriminatorShelf, EstimatorContext, Logs
from textgan.estimators.schedules import ScheduleName, inverse_temperature
from textgan.estimators.unrolled import call_with, unrolled_parameters
from textgan.models.wrapping import evaluating, frozen, unwrap


@dataclass
class GumbelOptions:
    mode: GumbelMode = opt("soft", "D sees the relaxed sample (RelGAN) or its one-hot")
    schedule: ScheduleName = opt("exp", "inverse-temperature schedule beta(n) (RelGAN: exp)")
    beta_max: float = opt(100.0, "final inverse temperature (RelGAN: 100 or 1000)", min=1)
    schedule_steps: int = opt(0, "N of beta(n): 0 = the run's number of generator steps (RelGAN's code fixes N = "
                                 "5000 even for 2,000 steps, so its beta never reaches beta_max)", min=0)
    gp_weight: float = opt(10.0, "gradient-penalty lambda for gan_loss=wgan-gp", min=0)
    unroll_steps: int = opt(0, "unrolled D (Metz et al. 2016): the generator loss is taken through this many "
                               "differentiable SGD steps of D on the same real and fake batch (0: off)", min=0)
    unroll_lr: float = opt(1e-3, "SGD learning rate of the unrolled D steps (D's own update is unchanged)", gt=0)


def one_hot_batch(real: TokenBatch, vocab_size: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Real tokens (B, T) as one-hot distributions (B, T, V); padding is the PAD one-hot, as in fake samples."""
    return F.one_hot(real.tokens, vocab_size).to(dtype)


def _pad_time(x: torch.Tensor, length: int) -> torch.Tensor:
    """Zero-pad (B, T, E) to (B, length, E): zero is PAD's embedding, so the padded sequence means the same."""
    return F.pad(x, (0, 0, 0, length - x.size(1)))


class GumbelSoftmax:
    """RelGAN-style estimator: Gumbel-softmax samples scored by a distributions-input discriminator."""

    Options: ClassVar[type] = GumbelOptions
    pretrains_discriminator: ClassVar[bool] = True
    token_fakes: ClassVar[bool] = False  # its D reads soft samples or hidden states

    def __init__(self, options: GumbelOptions, context: EstimatorContext) -> None:
        self.max_len, self.mode, self.schedule, self.beta_max = (context.max_len, options.mode, options.schedule,
                                                                 options.beta_max)
        self.schedule_steps = options.schedule_steps or max(context.total_generator_steps, 1)
        # the schedule's own checks (name, N, beta_max), run at build time rather than at the first step
        inverse_temperature(self.schedule, 0, self.schedule_steps, self.beta_max)
        self.gp_weight, self.gan_loss, self.label_smoothing = (options.gp_weight, context.gan_loss,
                                                               context.label_smoothing)
        self.unroll_steps, self.unroll_lr = options.unroll_steps, options.unroll_lr
        check_conditioning(context)
        self.conditional = context.conditional
        if self.conditional == "classes" and self.unroll_steps > 0:
            raise ValueError("an unrolled D (unroll_steps > 0) is not available with the (K+1)-class head; use "
                             "discriminator.conditional=projection or unroll_steps=0")

    def build_discriminator(self, shelf: DiscriminatorShelf) -> nn.Module:
        return shelf.cnn("distributions")

    def prepare_generator_step(self, generator: nn.Module, step: int) -> None:
        pass  # beta is a function of the step

    def beta(self, step: int) -> float:
        """The inverse temperature at generator step `step` (generator updates done so far)."""
        return inverse_temperature(self.schedule, step, self.schedule_steps, self.beta_max)

    def _sample(self, generator: nn.Module, batch_size: int, step: int, device: torch.device,
                labels: torch.Tensor | None = None) -> GumbelSample:
        """A differentiable sample through `generator`'s forward, each row of its class in `labels` (B,)."""
        bos = torch.full((batch_size, 1), BOS_ID, dtype=torch.long, device=device)  # (B, 1)
        args = GumbelArgs(beta=self.beta(step), max_len=self.max_len, mode=self.mode)
        return generator(bos, routine=partial(gumbel_sample, args=args, labels=labels))

    def generator_loss(self, generator: nn.Module, discriminator: nn.Module, real: TokenBatch,
                       step: int) -> tuple[torch.Tensor, Logs]:
        fake = self._sample(generator, real.tokens.size(0), step, real.tokens.device, real.labels)  # via the wrapper
        d, labels = unwrap(discriminator), discriminator_labels(self.conditional, real.labels)
        if self.unroll_steps > 0:
            fake_logits, real_logits = self._unrolled_logits(d, fake.distributions, real)
        else:
            with frozen(d):
                fake_logits = score(d, fake.distributions, labels)  # (B,); the gradient flows into the sample only
                real_logits = None
                if self.gan_loss == "rsgan":
                    with torch.no_grad():
                        real_logits = score(d, one_hot_batch(real, fake.distributions.size(-1),
                                                             fake.distributions.dtype), labels)
        loss = losses.generator_loss(self.gan_loss, real_logits, fake_logits)
        live = fake.tokens != PAD_ID  # (B, T) positions before the end
        peak = fake.soft.detach().amax(-1)[live].mean()  # how close the relaxed samples are to one-hots
        return loss, {"g_loss": float(loss.detach()), "beta": self.beta(step), "soft_peak": float(peak),
                      "sample_len": float(fake.lengths.float().mean())}

    def _unrolled_logits(self, d: nn.Module, fake: torch.Tensor,
                         real: TokenBatch) -> tuple[torch.Tensor, torch.Tensor | None]:
        """D's logits on the sample (and, for rsgan, on the real batch) after `unroll_steps` differentiable SGD
        steps of D's loss on this (real, sample) batch (Metz et al. 2016)."""
        real_dist = one_hot_batch(real, fake.size(-1), fake.dtype)  # (B, T_r, V)
        labels = discriminator_labels(self.conditional, real.labels)  # a projection D's (x, y) pairs: both sides
        scored = () if labels is None else (labels,)

        def d_loss(params: dict[str, torch.Tensor]) -> torch.Tensor:
            return losses.discriminator_loss(self.gan_loss, call_with(d, params, real_dist, *scored),
                                             call_with(d, params, fake, *scored), label_smoothing=self.label_smoothing)

        params = unrolled_parameters(d, d_loss, self.unroll_steps, self.unroll_lr)
        real_logits = call_with(d, params, real_dist, *scored).detach() if self.gan_loss == "rsgan" else None
        return call_with(d, params, fake, *scored), real_logits

    def discriminator_loss(self, generator: nn.Module, discriminator: nn.Module, real: TokenBatch,
                           step: int) -> tuple[torch.Tensor, Logs]:
        g = unwrap(generator)
        with torch.no_grad(), evaluating(g):  # fakes as constants, dropout off (as the token estimators)
            fake = self._sample(g, real.tokens.size(0), step, real.tokens.device,
                                real.labels).distributions  # (B, T_f, V)
        real_dist = one_hot_batch(real, fake.size(-1), fake.dtype)  # (B, T_r, V)
        labels, fakes = (discriminator_labels(self.conditional, real.labels),
                         fake_labels(self.conditional, real.labels))
        real_logits = score(discriminator, real_dist, labels)  # (B,)
        fake_logits = score(discriminator, fake, fakes)  # (B,)
        loss, logs = gan_discriminator_loss(real_logits, fake_logits, gan_loss=self.gan_loss,
                                            label_smoothing=self.label_smoothing, conditional=self.conditional)
        d = unwrap(discriminator)

        def embedded() -> tuple[torch.Tensor, torch.Tensor]:
            # interpolate in D's input embedding space, both padded to the longer length
            real_emb, fake_emb = d.embed(real_dist), d.embed(fake)  # (B, T_r, E), (B, T_f, E)
            length = max(real_emb.size(1), fake_emb.size(1))
            return _pad_time(real_emb, length), _pad_time(fake_emb, length)

        loss = with_gradient_penalty(loss, logs, gan_loss=self.gan_loss, weight=self.gp_weight,
                                     critic=partial(d.forward_embedded, labels=labels), inputs=embedded)
        return loss, logs

    def state_dict(self) -> dict[str, Any]:
        return {}  # beta is a function of the step, which the loop checkpoints

    def load_state_dict(self, state: dict[str, Any], generator: nn.Module) -> None:
        pass
