"""A linear layer whose weight gradient can be left as its two factors for the optimizer step to use.

A linear layer y = x W^T + b has the weight gradient dW = dy^T x: an (out, in) matrix from two thin ones, (B, out)
and (B, in), when the batch B is small. Written out, dW is one pass of memory writes; gradient clipping reads it
for the norm and again to scale it, and Adam reads it once more. For SeqGAN's highway at batch 64 (a 3440 x 1720
weight against factors of 64 rows) these passes cost about as much as the product itself. Kept as factors, the
norm is ||dy^T x||_F^2 = sum((dy dy^T) * (x x^T)) from two B x B Gram matrices, and the step sums dW a register
tile at a time and steps those parameters at once (``factored_adam.c``; without the compiled kernels, a block of
rows at a time in cache: ``training/fused_step.py``).

The layer defers only in a backward the training loop has armed (``armed``): any other backward (an estimator's
``autograd.grad``, a gradient penalty's, one that is differentiated again) gets dW written out as torch's linear
layer gives it.

The step itself may be left pending too (``training/fused_step.py``'s `deferring`, D's training loop): the next
forward then updates the weight a block of rows at a time and multiplies each block as soon as it is updated,
while it is in cache, so the weight comes from memory once for both. Anything else that reads the layer first
(a forward without autograd, its state dict, loading one) applies the pending step alone (`flush`).

In training (autograd on, float32 on the CPU, the compiled kernels built for AVX-512: ``thin_linear.in_training``)
the forward's product is the compiled one of ``thin_linear.c``, which reads W in place, whole or block by block,
with the same numbers either way; it differs from torch's product by float round-off. So does the input
gradient's, dy W, by the same file's kernel, in a backward that is not differentiated again. A forward without
autograd (scoring) is torch's layer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from textgan.models import thin_linear

Blocks = Callable[[int, int], None]  # after(start, stop): called once rows start..stop - 1 of the weight are updated
PendingStep = Callable[[Blocks | None], None]  # runs an optimizer step of the weight, calling `after` per block


class DeferredGrad:
    """The factors (dy (B, out), x (B, in)) of a weight's gradient, one pair per armed backward since the last
    step; `armed` says whether the next backward may add to them, `defer_step` whether the optimizer step may be
    left in `step` for the next forward."""

    def __init__(self) -> None:
        self.parts: list[tuple[Tensor, Tensor]] = []
        self.armed = False
        self.defer_step = False
        self.step: PendingStep | None = None
        self._buffers: dict[str, Tensor] = {}

    def buffer(self, like: Tensor, name: str = "grad", shape: tuple[int, ...] | None = None) -> Tensor:
        """A tensor of `like`'s dtype and device, shaped as `like` (or `shape`), this holder's own under `name` and
        reused from step to step (a fresh one each step costs its page faults: ~0.3 ms for the scaled factor of
        SeqGAN's highway); undefined contents."""
        shape = tuple(like.shape) if shape is None else shape
        held = self._buffers.get(name)
        if held is None or tuple(held.shape) != shape or held.dtype != like.dtype or held.device != like.device:
            held = self._buffers[name] = like.new_empty(shape)
        return held

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
        self.register_state_dict_pre_hook(_flush_first)  # the saved weight includes a pending step
        self.register_load_state_dict_pre_hook(_flush_first)  # applied before the weight is replaced, not after

    def flush(self) -> None:
        """Apply the weight's pending optimizer step, if there is one."""
        step, self.deferred.step = self.deferred.step, None
        if step is not None:
            step(None)

    def forward(self, x: Tensor) -> Tensor:
        weight = self.weight  # read once: under spectral norm each read runs a power iteration
        if not (torch.is_grad_enabled() and weight.requires_grad and weight.is_leaf
                and not torch.is_autocast_enabled(x.device.type)):
            # scoring, a weight computed per access, or reduced precision: torch's layer, nothing to defer
            self.flush()
            return F.linear(x, weight, self.bias)
        flat = x.reshape(-1, x.shape[-1])  # (N, in)
        return _Linear.apply(flat, weight, self.bias, self.deferred).view(*x.shape[:-1], -1)


class _Linear(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: Tensor, weight: Tensor, bias: Tensor, deferred: DeferredGrad) -> Tensor:  # type: ignore[override]
        step, deferred.step = deferred.step, None
        out = x.new_empty(x.shape[0], weight.shape[0])  # (N, out)
        lib = thin_linear.in_training(x, weight, bias)
        if lib is not None:  # the compiled product, W read in place
            xt = thin_linear.transposed(lib, x, deferred.buffer)  # (in, N rounded up to the kernel's lanes)

            def product(start: int, stop: int) -> None:
                thin_linear.rows(lib, weight, xt, x.shape[0], bias, out, start, stop)
        else:

            def product(start: int, stop: int) -> None:
                torch.addmm(bias[start:stop], x, weight[start:stop].t(), out=out[:, start:stop])  # (N, stop - start)

        if step is None:
            product(0, weight.shape[0])
        else:  # the pending step's blocks, each multiplied while its rows are in cache: the same sums per column
            step(product)
        ctx.deferred = deferred
        ctx.save_for_backward(x, weight)  # after the step: the weight this forward used
        return out

    @staticmethod
    def backward(ctx: Any, dy: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        x, weight = ctx.saved_tensors
        grad_x = None
        if ctx.needs_input_grad[0]:  # (N, in)
            lib = None if torch.is_grad_enabled() else thin_linear.in_training(dy, weight, None)
            grad_x = dy.mm(weight) if lib is None else thin_linear.input_grad(lib, weight, dy.contiguous(),
                                                                              ctx.deferred.buffer)
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
    """Within: a backward leaves the weight gradients of `model`'s deferring layers as factors, and its armed
    embeddings' in their own buffers (``armed_embedding.py``) (when `enabled`; off where something else must see
    every gradient, e.g. a distributed wrapper's all-reduce)."""
    modules = model.modules() if enabled else ()
    holders = [m.deferred for m in modules if isinstance(getattr(m, "deferred", None), DeferredGrad)]
    for holder in holders:
        holder.armed = True
    try:
        yield
    finally:
        for holder in holders:
            holder.armed = False


def _flush_first(module: nn.Module, *args: Any) -> None:
    """State-dict and load-state-dict pre-hook: apply the layer's pending step first."""
    assert isinstance(module, DeferredLinear)
    module.flush()
