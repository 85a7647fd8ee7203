"""Output layer + cross-entropy in cache-sized row chunks: the (N, V) logits never exist (docs/benchmarks.md)."""

from __future__ import annotations

from typing import Any

import torch

from textgan.data.tokenizers import PAD_ID
from textgan.models.generator import RNNGenerator

CPU_CHUNK_ELEMENTS = 1 << 18  # logits per chunk on CPU: 1 MB of float32, the L2 per core (52 rows at V = 5,004)
GPU_CHUNK_ELEMENTS = 1 << 24  # elsewhere 64 MB: few large kernels rather than many launches (not measured here)


class _LinearCrossEntropy(torch.autograd.Function):
    """Sum over rows of cross_entropy(hidden @ weight.T + bias, targets); rows whose target is `ignore_index`
    are dropped before projecting. Saves the kept rows, their labels and indices, and the head; never logits."""

    @staticmethod
    def forward(ctx: Any, hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, targets: torch.Tensor,
                ignore_index: int, chunk_size: int) -> torch.Tensor:
        rows = (targets != ignore_index).nonzero().squeeze(1)  # (N',) the rows that count
        kept = hidden.index_select(0, rows) if rows.numel() < targets.numel() else hidden  # (N', H)
        labels = targets.index_select(0, rows).unsqueeze(1)  # (N', 1)
        total = hidden.new_zeros(())
        for start in range(0, rows.numel(), chunk_size):
            logits = torch.addmm(bias, kept[start:start + chunk_size], weight.t())  # (c, V); -inf stays -inf
            # log_softmax is one fused kernel; logsumexp is four passes (amax, sub, exp, sum) and ~2x slower here
            total -= torch.log_softmax(logits, dim=1).gather(1, labels[start:start + chunk_size]).sum()
        ctx.save_for_backward(kept, weight, bias, labels, rows)
        ctx.num_rows, ctx.chunk_size = hidden.size(0), chunk_size
        return total

    @staticmethod
    def backward(ctx: Any, grad_total: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        kept, weight, bias, labels, rows = ctx.saved_tensors
        need_hidden, need_weight, need_bias = ctx.needs_input_grad[:3]
        grad_kept = torch.empty_like(kept) if need_hidden else None  # (N', H)
        grad_weight = torch.zeros_like(weight) if need_weight else None  # (V, H)
        grad_bias = torch.zeros_like(bias) if need_bias else None  # (V,)
        for start in range(0, rows.numel(), ctx.chunk_size):
            chunk = slice(start, start + ctx.chunk_size)
            h = kept[chunk]  # (c, H)
            # d loss / d logits = softmax - one_hot(y), recomputed (one softmax pass is cheaper than exp(logits - lse)
            # here); a -inf (banned) column has probability 0 and so no gradient, unless it is some row's target,
            # whose loss is then already inf (as with F.cross_entropy)
            grad_logits = torch.softmax(torch.addmm(bias, h, weight.t()), dim=1)  # (c, V)
            grad_logits.scatter_add_(1, labels[chunk], grad_logits.new_full(labels[chunk].shape, -1.0))
            if grad_kept is not None:
                torch.mm(grad_logits, weight, out=grad_kept[chunk])  # (c, H)
            if grad_weight is not None:
                grad_weight.addmm_(grad_logits.t(), h)  # (V, H)
            if grad_bias is not None:
                grad_bias += grad_logits.sum(0)  # (V,)
        grad_hidden = None
        if grad_kept is not None:
            grad_kept *= grad_total
            grad_hidden = grad_kept if rows.numel() == ctx.num_rows else \
                grad_kept.new_zeros(ctx.num_rows, kept.size(1)).index_copy_(0, rows, grad_kept)  # (N, H)
        if grad_weight is not None:
            grad_weight *= grad_total
        if grad_bias is not None:
            grad_bias *= grad_total
        return grad_hidden, grad_weight, grad_bias, None, None, None


def linear_cross_entropy(hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, targets: torch.Tensor, *,
                         ignore_index: int = PAD_ID, chunk_size: int | None = None) -> torch.Tensor:
    """F.cross_entropy(F.linear(hidden, weight, bias), targets, ignore_index=ignore_index, reduction="sum")
    without materialising the (N, V) logits: hidden (N, H), weight (V, H), bias (V,) (may hold -inf for banned
    ids), targets (N,) long. Returns the summed NLL over the rows whose target is not `ignore_index` (0 if none);
    divide by their count for the mean. Differentiable in hidden, weight and bias (once, not twice).
    `chunk_size` rows are projected at a time; default: CPU_CHUNK_ELEMENTS // V on CPU (GPU_CHUNK_ELEMENTS // V
    elsewhere)."""
    if hidden.dim() != 2 or targets.shape != hidden.shape[:1] or weight.shape != (bias.size(0), hidden.size(1)):
        raise ValueError(f"need hidden (N, H), weight (V, H), bias (V,), targets (N,); got {tuple(hidden.shape)}, "
                         f"{tuple(weight.shape)}, {tuple(bias.shape)}, {tuple(targets.shape)}")
    if chunk_size is None:
        budget = CPU_CHUNK_ELEMENTS if hidden.device.type == "cpu" else GPU_CHUNK_ELEMENTS
        chunk_size = max(1, budget // weight.size(0))
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    return _LinearCrossEntropy.apply(hidden, weight, bias, targets, ignore_index, chunk_size)


def generator_nll(generator: RNNGenerator, outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Summed NLL of targets (B, T) (PAD ignored) under `generator.project(outputs)` for recurrent outputs
    (B, T, H) of an `RNNGenerator`: the same ops (dropout, head, banned-id mask), fused with the cross-entropy.

    Call it inside the generator's forward (a `routine`) when the generator may be DDP-wrapped.
    """
    hidden = generator.drop(outputs).reshape(-1, outputs.size(-1))  # (B*T, H)
    bias = generator.head.bias + generator.logit_mask  # (V,); the mask is a buffer, so only head.bias gets a grad
    return linear_cross_entropy(hidden, generator.head.weight, bias, targets.reshape(-1))
