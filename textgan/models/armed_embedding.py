"""A token embedding whose weight gradient an armed backward writes into a buffer of its own, reused step to step.

torch's embedding backward makes a fresh (V, E) matrix of zeros each time and adds the looked-up rows' gradients
into it. For SeqGAN's discriminator on COCO (V = 5,954, E = 64) those fresh 1.5 MB cost ~370 page faults an update
(~3.7 us each on the 2-core VM of ``docs/benchmarks.md``: more than the rest of the lookup's backward). In a
backward the training loop has armed (``deferred_linear.armed``) and when the weight has no gradient yet, the
lookup zeroes its own buffer instead, adds the rows' gradients into it in torch's order (the same sums, bit for
bit) and makes it the weight's `.grad`. The next armed backward reuses the buffer, so a `.grad` kept from one step
to the next would change under its holder: only the training loop, which sets gradients to None, arms. Any other
backward, or one adding to a gradient already there, is torch's.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from textgan.models.deferred_linear import DeferredGrad


class ArmedEmbedding(nn.Embedding):
    """`nn.Embedding` (the same parameters and values) whose weight gradient an armed backward writes into a
    buffer of its own (see the module docstring)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None) -> None:
        super().__init__(num_embeddings, embedding_dim, padding_idx=padding_idx)
        self.deferred = DeferredGrad()  # its `armed` flag and `buffer`

    def forward(self, tokens: Tensor) -> Tensor:
        if not (torch.is_grad_enabled() and self.weight.requires_grad and self.max_norm is None
                and not self.scale_grad_by_freq and not self.sparse):
            return super().forward(tokens)
        return _Lookup.apply(tokens, self.weight, self.padding_idx, self.deferred)


class _Lookup(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, tokens: Tensor, weight: Tensor, padding_idx: int | None,  # type: ignore[override]
                holder: DeferredGrad) -> Tensor:
        ctx.save_for_backward(tokens)
        ctx.weight, ctx.padding_idx, ctx.holder = weight, padding_idx, holder
        return F.embedding(tokens, weight, padding_idx)  # (..., E)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        (tokens,) = ctx.saved_tensors
        weight, pad = ctx.weight, ctx.padding_idx
        if not ctx.needs_input_grad[1]:
            return None, None, None, None
        if not (ctx.holder.armed and weight.grad is None and not torch.is_grad_enabled()):
            grad_weight = torch.ops.aten.embedding_dense_backward(grad, tokens, weight.shape[0],
                                                                  -1 if pad is None else pad, False)
            return None, grad_weight, None, None
        into = ctx.holder.buffer(weight)  # (V, E)
        into.zero_()
        into.index_add_(0, tokens.reshape(-1), grad.reshape(-1, grad.shape[-1]))  # rows in token order, as torch's
        if pad is not None:
            into[pad] = 0.0  # torch's backward skips the PAD row's tokens
        weight.grad = into
        return None, None, None, None
