"""Gradient clipping and the optimizer step for weights whose gradients an armed backward left as factors
(``models/deferred_linear.py``).

With torch's fused Adam, such a weight's gradient dW = dy^T x is never written out: its norm comes from two Gram
matrices, clipping scales dy (B rows) instead of dW, and the step computes dW `BLOCK_ROWS` rows at a time into a
buffer that stays in cache, updating those rows of the weight and of Adam's moments at once with torch's own fused
kernel. The update is Adam's; only float round-off differs from writing dW out. Any other optimizer or setting
gets dW written into `.grad` first (``materialize``) and steps as usual.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from textgan.models.deferred_linear import DeferredLinear
from textgan.models.scratch import scratch

BLOCK_ROWS = 512  # rows of dW per block: 512 x 1720 floats for SeqGAN's highway, in the last-level cache


def squared_norm(layer: DeferredLinear) -> Tensor:
    """||dy^T x||_F^2 of the layer's pending gradient, by sum((dy dy^T) * (x x^T)) (two B x B Gram matrices),
    never below 0 (round-off)."""
    dy, x = layer.deferred.factors()
    return ((dy @ dy.t()) * (x @ x.t())).sum().clamp(min=0.0)


def materialize(layer: DeferredLinear) -> None:
    """Write the layer's pending weight gradient into `weight.grad` (added to one already there)."""
    dy, x = layer.deferred.factors()
    layer.deferred.parts.clear()
    grad = dy.t().mm(x)  # (out, in)
    weight = layer.weight
    weight.grad = grad if weight.grad is None else weight.grad + grad


def fusable(layer: DeferredLinear, optimizer: torch.optim.Optimizer) -> bool:
    """Whether `layer`'s pending gradient can be stepped by `step_fused`: torch's fused Adam (plain: no amsgrad,
    maximize, decoupled decay or capturable), on the CPU, float32, the weight in the optimizer and no other
    gradient for it."""
    weight = layer.weight
    group = _group(weight, optimizer)
    return (type(optimizer) is torch.optim.Adam and group is not None and bool(group["fused"])
            and not any(group.get(key, False) for key in ("amsgrad", "maximize", "decoupled_weight_decay",
                                                          "capturable", "differentiable"))
            and weight.grad is None and weight.device.type == "cpu" and weight.dtype == torch.float32)


@torch.no_grad()
def step_fused(layer: DeferredLinear, optimizer: torch.optim.Optimizer, scale: Tensor | None) -> None:
    """One Adam step of `layer.weight` on its pending gradient times `scale` (the clipping coefficient, a 0-dim
    tensor; None: not clipped), dW formed a block of rows at a time into a buffer that stays in cache."""
    dy, x = layer.deferred.factors()  # (B, out), (B, in)
    layer.deferred.parts.clear()
    if scale is not None:
        dy = dy * scale  # (B, out): clipping dW = dy^T x scales dy
    rows, columns = min(BLOCK_ROWS, layer.weight.shape[0]), layer.weight.shape[1]
    buffer = scratch("fused_step", rows * columns).view(rows, columns)  # (rows of a block, in)
    adam_blocks(layer.weight, optimizer, lambda start, stop: torch.mm(dy[:, start:stop].t(), x,
                                                                       out=buffer[:stop - start]))


@torch.no_grad()
def adam_blocks(weight: Tensor, optimizer: torch.optim.Optimizer, grad: Callable[[int, int], Tensor]) -> None:
    """One step of `optimizer` (fused Adam, `fusable`) for `weight`, `BLOCK_ROWS` rows at a time: grad(start, stop)
    gives the gradient of rows start..stop - 1, which are updated before the next block is asked for; Adam's state
    is created as torch's Adam creates it for a fused step."""
    group = _group(weight, optimizer)
    assert group is not None, "adam_blocks steps a weight of the optimizer's (fusable says so)"
    state = optimizer.state[weight]
    if not state:
        state["step"] = torch.zeros((), dtype=torch.float32)
        state["exp_avg"] = torch.zeros_like(weight, memory_format=torch.preserve_format)
        state["exp_avg_sq"] = torch.zeros_like(weight, memory_format=torch.preserve_format)
    state["step"] += 1
    beta1, beta2 = group["betas"]
    for start in range(0, weight.shape[0], BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, weight.shape[0])
        torch._fused_adam_([weight[start:stop]], [grad(start, stop)], [state["exp_avg"][start:stop]],
                           [state["exp_avg_sq"][start:stop]], [], [state["step"]], amsgrad=False, lr=group["lr"],
                           beta1=beta1, beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"],
                           maximize=False)


def _group(weight: Tensor, optimizer: torch.optim.Optimizer) -> dict[str, Any] | None:
    """The optimizer's parameter group holding `weight`, or None."""
    return next((g for g in optimizer.param_groups if any(p is weight for p in g["params"])), None)


def pending(model: nn.Module) -> list[DeferredLinear]:
    """`model`'s layers holding a weight gradient as factors."""
    return [m for m in model.modules() if isinstance(m, DeferredLinear) and m.deferred.parts]
