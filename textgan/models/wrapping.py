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
