"""Small module utilities shared by estimators and training: unwrapping DDP, temporary eval mode."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel wrapper (or the model itself)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


@contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode (dropout off) inside the block, the previous mode after it: for rewards and metrics."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


@contextmanager
def frozen(module: nn.Module) -> Iterator[nn.Module]:
    """Parameters with requires_grad=False inside the block (their previous flags after it): a forward in the
    block records no graph for them, so a later backward neither computes nor accumulates their gradients
    (a generator loss read through the discriminator)."""
    params = list(module.parameters())
    flags = [p.requires_grad for p in params]
    module.requires_grad_(False)
    try:
        yield module
    finally:
        for p, flag in zip(params, flags):
            p.requires_grad_(flag)
