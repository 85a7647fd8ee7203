"""The plug-in interface every gradient estimator implements (a Protocol, not a base class).

An estimator computes losses; the training loop owns optimizers, backward(), clipping, stepping, logging and
checkpoints. `generator` / `discriminator` may be DistributedDataParallel-wrapped: differentiable forwards go
through the wrapper (so gradients are averaged), sampling and scoring use `unwrap(...)` under no_grad.
"""

from __future__ import annotations

from typing import Any, Literal, Protocol

import torch
from torch import nn

from textgan.data.batching import TokenBatch

DiscriminatorInput = Literal["tokens", "distributions", "features"]
Logs = dict[str, float]


class Estimator(Protocol):
    """Losses for one batch of real sequences; logs are detached floats."""

    # What the discriminator reads: token ids, distributions over the vocabulary, or hidden-state features.
    discriminator_input: DiscriminatorInput

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

    def load_state_dict(self, state: dict[str, Any]) -> None: ...
