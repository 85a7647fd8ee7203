"""The plug-in contract of gradient estimators: a Protocol, an options dataclass, one registry line.

An estimator computes losses; the training loop owns optimizers, backward(), clipping, stepping, logging and
checkpoints. Everything else an estimator needs is declared here, never discovered at run time:

* `Options`: its options dataclass, read from the config section named like its registry key (validated with
  every other section, the same one-line errors);
* `__init__(options, context)`: built from its options and the `EstimatorContext` of the run;
* `build_discriminator(shelf)`: the model it trains against the generator: the configured CNN with the front end
  it reads (`shelf.cnn("tokens" | "distributions" | "features")`, to which the discriminator options of every
  estimator apply) or a model of its own;
* `pretrains_discriminator`: whether the loop pretrains that model before the adversarial rounds;
* `token_fakes`: whether `discriminator_loss` draws its fakes as plain token samples (`generator.sample`), so the
  loop may serve them from a pool drawn in large chunks (`discriminator.fake_pool`, `models/fake_pool.py`);
* `prepare_generator_step`: explicit estimator-state updates before each generator step (a delayed rollout
  policy), never a side effect of computing a loss;
* `state_dict` / `load_state_dict`: the state it checkpoints.

Batches may carry class labels (`TokenBatch.labels`, (B,)); the generator is then class-conditional (every
generator path takes `labels`) and an estimator samples its fakes with the real batch's labels; an estimator that
cannot use them refuses them in one line (when built, from `EstimatorContext.num_classes`, and in its losses).
With `EstimatorContext.conditional` other than "none" the discriminator is class-conditional too
(`estimators/class_head.py`): every D call gets the sequences' labels (`d(x, labels)`), and with "classes" D's
loss is the (K+1)-class cross-entropy.
Discriminators return one logit per sequence (B,) or one per prefix (B, T) (masked after EOS); the GAN losses of
`estimators/losses.py` average over whatever shape they get.

`generator` / `discriminator` may be DistributedDataParallel-wrapped: differentiable forwards go through the
wrapper (so gradients are averaged), sampling and scoring use `unwrap(...)` under no_grad.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import torch
from torch import nn

from textgan.data.batching import TokenBatch
from textgan.data.tokenizers import BOS_ID, EOS_ID, PAD_ID
from textgan.models.discriminator import InputMode

Logs = dict[str, float]


@dataclass(frozen=True)
class EstimatorContext:
    """What every estimator is told about the run besides its own options."""

    max_len: int                    # sampling length of the run's data (exact for fixed-length data)
    gan_loss: str = "bce"           # the GAN loss family (`estimators/losses.py`)
    label_smoothing: float = 0.0    # one-sided label smoothing of real targets in D's loss
    total_generator_steps: int = 0  # generator steps of the whole adversarial schedule
    num_classes: int = 0            # classes of labelled data (0: none); the generator is then conditional
    conditional: str = "none"       # discriminator.conditional: none | projection | classes (D reads labels)


@dataclass(frozen=True)
class DiscriminatorShelf:
    """The discriminators an estimator can ask for; the run's discriminator options apply to every one."""

    vocab_size: int                          # the generator's vocabulary
    feature_size: int                        # the generator's hidden size (what a features front end reads)
    cnn: Callable[[InputMode], nn.Module]    # the configured CNN with the given front end
    # the generator's token embedding size and the ids it never produces, and its EOS id (None: fixed-length
    # data), for a model of the estimator's own over the same tokens (CoT's mediator)
    embedding_size: int = 0                  # 0: not known (a shelf built without the generator)
    banned_ids: tuple[int, ...] = (PAD_ID, BOS_ID)
    eos_id: int | None = EOS_ID
    num_classes: int = 0                     # classes of labelled data a conditional CNN reads (0: none)


class Estimator(Protocol):
    """Losses for one batch of real sequences; logs are detached floats."""

    Options: ClassVar[type]                # its options dataclass (config section = its registry key)
    pretrains_discriminator: ClassVar[bool]  # False for a model trained otherwise (e.g. by maximum likelihood)
    token_fakes: ClassVar[bool]  # discriminator_loss draws plain token samples with generator.sample (poolable)

    def build_discriminator(self, shelf: DiscriminatorShelf) -> nn.Module:
        """The model this estimator trains against the generator."""
        ...

    def prepare_generator_step(self, generator: nn.Module, step: int) -> None:
        """Update estimator state before generator step `step` (e.g. a delayed rollout policy); may do nothing."""
        ...

    def generator_loss(self, generator: nn.Module, discriminator: nn.Module, real: TokenBatch,
                       step: int) -> tuple[torch.Tensor, Logs]:
        """Loss whose gradient updates the generator (`step`: generator updates so far)."""
        ...

    def discriminator_loss(self, generator: nn.Module, discriminator: nn.Module, real: TokenBatch,
                           step: int) -> tuple[torch.Tensor, Logs]:
        """Loss whose gradient updates the discriminator, on `real` and fresh generator samples."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Estimator state to checkpoint (moving baselines, delayed rollout copies); {} if none."""
        ...

    def load_state_dict(self, state: dict[str, Any], generator: nn.Module) -> None:
        """Restore `state_dict()`; `generator` is the run's (unwrapped) generator, for state shaped like it."""
        ...
