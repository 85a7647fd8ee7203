"""Gradient clipping and the optimizer step for weights whose gradients an armed backward left as factors
(``models/deferred_linear.py``).

With torch's fused Adam, such a weight's gradient dW = dy^T x is never written out: its norm comes from two Gram
matrices, clipping scales dy (B rows) instead of dW, and the step runs `BLOCK_ROWS` rows at a time. Where the
compiled kernels are built for 16 lanes (``models/factored_adam.c``, ``kernels.wide``), each register tile of dW
is summed from the factors and its parameters stepped at once, Adam in torch's operations; otherwise, each block
of dW is formed in a buffer that stays in cache and stepped by torch's own fused kernel. The update is Adam's;
only float round-off differs from writing dW out. Any other optimizer or setting gets dW written into `.grad`
first (``materialize``) and steps as usual.

Within `deferring` (D's training loop), the step is left pending on the layer: its next forward runs it and
multiplies each block of rows as soon as it is updated (``models/deferred_linear.py``), so the weight is read
from memory once for the step and the forward instead of twice. The updates are the same, in the same order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from textgan.models import kernels
from textgan.models.deferred_linear import Blocks, DeferredLinear
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
    group = param_group(weight, optimizer)
    return (type(optimizer) is torch.optim.Adam and group is not None and bool(group["fused"])
            and not any(group.get(key, False) for key in ("amsgrad", "maximize", "decoupled_weight_decay",
                                                          "capturable", "differentiable"))
            and weight.grad is None and weight.device.type == "cpu" and weight.dtype == torch.float32)


@torch.no_grad()
def step_fused(layer: DeferredLinear, optimizer: torch.optim.Optimizer, scale: Tensor | None) -> None:
    """One Adam step of `layer.weight` on its pending gradient times `scale` (the clipping coefficient, a 0-dim
    tensor; None: not clipped), `BLOCK_ROWS` rows at a time: by the compiled kernel where it is built for 16 lanes
    (``kernels.wide``), each register tile of dW summed from the factors and stepped at once
    (``models/factored_adam.c``); else each block of dW formed in a buffer that stays in cache and stepped by
    torch's fused Adam. Left for the layer's next forward when
    `layer.deferred.defer_step` (`deferring`)."""
    layer.flush()  # a step still pending goes first (its scaled factor may be in the buffers used below)
    dy, x = layer.deferred.factors()  # (B, out), (B, in)
    layer.deferred.parts.clear()
    weight = layer.weight
    group = param_group(weight, optimizer)
    assert group is not None, "step_fused steps a weight of the optimizer's (fusable says so)"
    settings = dict(group)  # the group's lr etc. now, should a scheduler change them before a deferred step runs
    lib = kernels.wide() if weight.is_contiguous() else None  # 8 lanes: torch's blocks ran faster
    if lib is not None:  # each tile of dW summed in registers and stepped at once
        dyt, x = _kernel_factors(layer, dy, x, scale, lib.factored_adam_rows(), lib.factored_adam_span())

        @torch.no_grad()
        def run(after: Blocks | None) -> None:
            adam_factored(lib, weight, optimizer.state[weight], settings, dyt, x, after)
    else:  # each block of dW formed in a buffer, stepped by torch's fused Adam
        if scale is not None:  # clipping dW = dy^T x scales dy
            dy = torch.mul(dy, scale, out=layer.deferred.buffer(dy))  # (B, out)
        rows, columns = min(BLOCK_ROWS, weight.shape[0]), weight.shape[1]

        @torch.no_grad()
        def run(after: Blocks | None) -> None:
            buffer = scratch("fused_step", rows * columns).view(rows, columns)  # (rows of a block, in)
            adam_blocks(weight, optimizer.state[weight], settings, lambda start, stop: torch.mm(
                dy[:, start:stop].t(), x, out=buffer[:stop - start]), after)

    if layer.deferred.defer_step:
        layer.deferred.step = run
    else:
        run(None)


def _kernel_factors(layer: DeferredLinear, dy: Tensor, x: Tensor, scale: Tensor | None, tile_rows: int,
                    span: int) -> tuple[Tensor, Tensor]:
    """The factors as ``factored_adam.c`` reads them, in the layer's own buffers: dy (B, out) times `scale`,
    transposed, its rows zero-padded to a multiple of the kernel's `tile_rows` (rows, B); x (B, in), its columns
    zero-padded to a multiple of its tiles' `span` (B, columns)."""
    (batch, out), columns = dy.shape, -(-x.shape[1] // span) * span
    dyt = layer.deferred.buffer(dy, "dy_t", (-(-out // tile_rows) * tile_rows, batch))
    dyt[out:].zero_()
    if scale is None:
        dyt[:out].copy_(dy.t())
    else:  # clipping dW = dy^T x scales dy
        torch.mul(dy.t(), scale, out=dyt[:out])
    padded = layer.deferred.buffer(x, "x", (batch, columns))
    padded[:, x.shape[1]:].zero_()
    padded[:, :x.shape[1]].copy_(x)
    return dyt, padded


def adam_factored(lib: Any, weight: Tensor, state: dict[str, Any], settings: dict[str, Any], dyt: Tensor, x: Tensor,
                  after: Blocks | None = None) -> None:
    """One step of fused Adam (`fusable`) with the group `settings` for `weight` (out, in) on dW = dyt^T x
    (`_kernel_factors`' layouts, padded for the same build `lib` of ``factored_adam.c``), `BLOCK_ROWS` rows at a
    time, `after(start, stop)` run after each block; the rows of a block split over torch's threads (the same
    numbers whatever the split)."""
    step = _advance(weight, state)
    for key in ("exp_avg", "exp_avg_sq"):  # the kernel reads them row-major (a loaded state may be strided)
        if not state[key].is_contiguous():
            state[key] = state[key].contiguous()
    beta1, beta2 = (float(beta) for beta in settings["betas"])  # the settings may hold 0-dim tensors
    lr, decay, eps = (float(settings[key]) for key in ("lr", "weight_decay", "eps"))
    corrections = (1 - beta1 ** step, math.sqrt(1 - beta2 ** step))  # in double, then rounded, as torch's kernel
    tile = lib.factored_adam_rows()
    assert BLOCK_ROWS % tile == 0, "each block starts on a tile of the padded dy^T"
    out, batch, columns = weight.shape[0], x.shape[0], x.shape[1]
    pointers = [t.data_ptr() for t in (weight, state["exp_avg"], state["exp_avg_sq"], dyt, x)]
    numbers = (1 - beta1, beta2, 1 - beta2, corrections[1], eps, -lr / corrections[0], decay)
    for start in range(0, out, BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, out)

        def rows(first: int, last: int, start: int = start, stop: int = stop) -> None:  # tiles first..last - 1
            lib.factored_adam(*pointers, batch, weight.shape[1], columns, start + first * tile,
                              min(stop, start + last * tile), *numbers)

        kernels.in_parallel(-(-(stop - start) // tile), rows)
        if after is not None:
            after(start, stop)


def _advance(weight: Tensor, state: dict[str, Any]) -> float:
    """Adam's `state` for `weight` created as torch's Adam creates it for a fused step, its step count advanced;
    the new count."""
    if not state:
        state["step"] = torch.zeros((), dtype=torch.float32)
        state["exp_avg"] = torch.zeros_like(weight, memory_format=torch.preserve_format)
        state["exp_avg_sq"] = torch.zeros_like(weight, memory_format=torch.preserve_format)
    state["step"] += 1
    return float(state["step"])


def adam_blocks(weight: Tensor, state: dict[str, Any], settings: dict[str, Any], grad: Callable[[int, int], Tensor],
                after: Blocks | None = None) -> None:
    """One step of fused Adam (`fusable`) with the group `settings` for `weight`, `BLOCK_ROWS` rows at a time:
    grad(start, stop) gives the gradient of rows start..stop - 1, which are updated (then `after(start, stop)`
    runs) before the next block is asked for; Adam's `state` is created as torch's Adam creates it for a fused
    step."""
    _advance(weight, state)
    beta1, beta2 = settings["betas"]
    for start in range(0, weight.shape[0], BLOCK_ROWS):
        stop = min(start + BLOCK_ROWS, weight.shape[0])
        torch._fused_adam_([weight[start:stop]], [grad(start, stop)], [state["exp_avg"][start:stop]],
                           [state["exp_avg_sq"][start:stop]], [], [state["step"]], amsgrad=False,
                           lr=settings["lr"], beta1=beta1, beta2=beta2, weight_decay=settings["weight_decay"],
                           eps=settings["eps"], maximize=False)
        if after is not None:
            after(start, stop)


@contextmanager
def deferring(model: nn.Module, optimizer: torch.optim.Optimizer, enabled: bool = True) -> Iterator[None]:
    """Within: the fused steps of `model`'s deferring layers are left for their next forward (when `enabled`);
    any still pending are applied on leaving, and before the optimizer's state dict is read or loaded."""
    layers = [m for m in model.modules() if isinstance(m, DeferredLinear)] if enabled else []
    if not layers:
        yield
        return

    def flush(*_: Any) -> None:
        for layer in layers:
            layer.flush()

    hooks = [optimizer.register_state_dict_pre_hook(flush), optimizer.register_load_state_dict_pre_hook(flush)]
    for layer in layers:
        layer.deferred.defer_step = True
    try:
        yield
    finally:
        for layer in layers:
            layer.deferred.defer_step = False
        flush()
        for hook in hooks:
            hook.remove()


def param_group(weight: Tensor, optimizer: torch.optim.Optimizer) -> dict[str, Any] | None:
    """The optimizer's parameter group holding `weight`, or None."""
    return next((g for g in optimizer.param_groups if any(p is weight for p in g["params"])), None)


def pending(model: nn.Module) -> list[DeferredLinear]:
    """`model`'s layers holding a weight gradient as factors."""
    return [m for m in model.modules() if isinstance(m, DeferredLinear) and m.deferred.parts]
