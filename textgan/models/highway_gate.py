"""The highway's gate, y = x + sigmoid(t) (relu(h) - x) for the projection's output p = [h | t], as one compiled
pass forward and one backward (``highway_gate.c``) instead of torch's eight element-wise kernels, their autograd
nodes and the concatenation of the two halves' gradients (0.54 against 0.98 ms forward and backward at SeqGAN's
64 x 1720).

The sigmoid is torch's, and the kernels apply torch's operations in torch's order (addcmul as one fused
multiply-add, as torch's vectorised kernel computes it; no other multiply-add contracted), so values and gradients
are bit-identical to the expression in torch. A backward that builds a graph (a gradient
penalty differentiated again) runs torch's expression on the saved inputs instead. Off the CPU, for other dtypes,
under autocast or without the compiled kernels, torch's expression is used throughout.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from textgan.models import kernels


def gate(p: Tensor, x: Tensor) -> Tensor:
    """x + sigmoid(t) (relu(h) - x) with h, t = p.chunk(2, -1); p (..., 2D), x (..., D) -> (..., D)."""
    if (p.device.type != "cpu" or p.dtype != torch.float32 or x.dtype != torch.float32
            or torch.is_autocast_enabled("cpu") or not kernels.available()):
        return expression(p, x)
    width = x.shape[-1]
    y = _Gate.apply(p.reshape(-1, 2 * width).contiguous(), x.reshape(-1, width).contiguous())  # (N, D)
    return y.view(x.shape)


def expression(p: Tensor, x: Tensor) -> Tensor:
    """The gate in torch's operations: x + sigmoid(t) (relu(h) - x), the same function in four kernels instead of
    six."""
    h, t = p.chunk(2, dim=-1)  # (..., D), (..., D)
    return torch.addcmul(x, torch.sigmoid(t), F.relu(h) - x)


class _Gate(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, p: Tensor, x: Tensor) -> Tensor:  # type: ignore[override]
        """p (N, 2D) = [h | t] and x (N, D), both contiguous -> y (N, D)."""
        rows, width = x.shape
        s = torch.sigmoid(p[:, width:])  # (N, D), torch's
        y = torch.empty_like(x)  # (N, D)
        kernels.library().highway_gate(y.data_ptr(), p.data_ptr(), s.data_ptr(), x.data_ptr(), rows, width)
        ctx.save_for_backward(p, s, x)
        return y

    @staticmethod
    def backward(ctx: Any, gy: Tensor) -> tuple[Tensor, Tensor]:  # type: ignore[override]
        p, s, x = ctx.saved_tensors
        if torch.is_grad_enabled():  # a graph of the gradient is wanted: torch's expression, differentiable
            with torch.enable_grad():
                grads = torch.autograd.grad(expression(p, x), (p, x), gy, create_graph=True)
            return grads[0], grads[1]
        gy = gy.contiguous()  # (N, D)
        rows, width = x.shape
        gp, gx = torch.empty_like(p), torch.empty_like(x)  # (N, 2D), (N, D)
        kernels.library().highway_gate_backward(gp.data_ptr(), gx.data_ptr(), gy.data_ptr(), p.data_ptr(),
                                                s.data_ptr(), x.data_ptr(), rows, width)
        return gp, gx
