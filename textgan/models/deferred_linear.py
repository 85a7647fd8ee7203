"""A linear layer whose weight gradient can be left as its two factors for the optimizer step to use.

A linear layer y = x W^T + b has the weight gradient dW = dy^T x: an (out, in) matrix from two thin ones, (B, out)
and (B, in), when the batch B is small. Written out, dW is one pass of memory writes; gradient clipping reads it
for the norm and again to scale it, and Adam reads it once more. For SeqGAN's highway at batch 64 (a 3440 x 1720
weight against factors of 64 rows) these passes cost about as much as the product itself. Kept as factors, the
norm is ||dy^T x||_F^2 = sum((dy dy^T) * (x x^T)) from two B x B Gram matrices, and the step computes dW a block of
rows at a time into cache and updates those rows at once (``training/fused_step.py``).

The layer defers only in a backward the training loop has armed (``armed``): any other backward (an estimator's
``autograd.grad``, a gradient penalty's, one that is differentiated again) gets dW written out as torch's linear
layer gives it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class DeferredGrad:
    """The factors (dy (B, out), x (B, in)) of a weight's gradient, one pair per armed backward since the last
    step; `armed` says whether the next backward may add to them."""

    def __init__(self) -> None:
        self.parts: list[tuple[Tensor, Tensor]] = []
        self.armed = False

    def factors(self) -> tuple[Tensor, Tensor]:
        """(dy, x), every part's rows stacked: sum_i dy_i^T x_i = dy^T x (one part: its own tensors, not copies)."""
        if len(self.parts) == 1:
            return self.parts[0]
        dys, xs = zip(*self.parts)
        return torch.cat(dys), torch.cat(xs)


class DeferredLinear(nn.Linear):
    """`nn.Linear` (the same parameters and values) whose weight gradient an armed backward leaves in `deferred`
    instead of `weight.grad`."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__(in_features, out_features)
        self.deferred = DeferredGrad()

    def forward(self, x: Tensor) -> Tensor:
        weight = self.weight  # read once: under spectral norm each read runs a power iteration
        if not (torch.is_grad_enabled() and weight.requires_grad and weight.is_leaf
                and not torch.is_autocast_enabled(x.device.type)):
            # scoring, a weight computed per access, or reduced precision: torch's layer, nothing to defer
            return F.linear(x, weight, self.bias)
        flat = x.reshape(-1, x.shape[-1])  # (N, in)
        return _Linear.apply(flat, weight, self.bias, self.deferred).view(*x.shape[:-1], -1)


class _Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor, deferred: DeferredGrad) -> Tensor:  # type: ignore[override]
        ctx.deferred = deferred
        ctx.save_for_backward(x, weight)
        return torch.addmm(bias, x, weight.t())  # (N, out)

    @staticmethod
    def backward(ctx: Any, dy: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        x, weight = ctx.saved_tensors
        grad_x = dy.mm(weight) if ctx.needs_input_grad[0] else None  # (N, in)
        grad_b = dy.sum(0) if ctx.needs_input_grad[2] else None  # (out,)
        grad_w = None
        if ctx.needs_input_grad[1]:
            if ctx.deferred.armed and not torch.is_grad_enabled():  # not differentiated again
                ctx.deferred.parts.append((dy.detach(), x.detach()))
            else:
                grad_w = dy.t().mm(x)  # (out, in)
        return grad_x, grad_w, grad_b, None


@contextmanager
def armed(model: nn.Module, enabled: bool = True) -> Iterator[None]:
    """Within: a backward leaves the weight gradients of `model`'s deferring layers as factors (when `enabled`;
    off where something else must see every gradient, e.g. a distributed wrapper's all-reduce)."""
    holders = [m.deferred for m in model.modules() if isinstance(m, DeferredLinear)] if enabled else []
    for holder in holders:
        holder.armed = True
    try:
        yield
    finally:
        for holder in holders:
            holder.armed = False

