"""A linear layer's forward product y = x W^T + b at a thin batch by the compiled kernel (``thin_linear.c``), which
reads W where it lies instead of packing it first as torch's GEMM does: for SeqGAN's highway at 64 rows, 3.6
against 4.6 ms alone (docs/benchmarks.md). The highway's deferring layer runs it in D training
(``deferred_linear.py``), block by block as a pending step updates W. Each output is summed over the input
dimension in order, so the numbers do not depend on the blocks, the lane width or the thread count; they differ
from torch's product by float round-off."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import Tensor

from textgan.models import kernels


def library(x: Tensor, weight: Tensor, bias: Tensor | None) -> Any | None:
    """The compiled kernels when they can compute x W^T + b here (built; on the CPU; float32 throughout; W
    contiguous), else None."""
    if not weight.is_contiguous() or (bias is not None and not bias.is_contiguous()):
        return None
    return kernels.library_for(x, weight) if bias is None else kernels.library_for(x, weight, bias)


def transposed(lib: Any, x: Tensor, buffer: Callable[[Tensor, str, tuple[int, ...]], Tensor]) -> Tensor:
    """x (N, in) as the kernel reads it: (in, bp), bp = N rounded up to the kernel's lanes, the columns past N zero;
    in `buffer(like, name, shape)`'s tensor (a layer's reused buffer)."""
    rows, lanes = x.shape[0], lib.pack_lanes()
    xt = buffer(x, "x_t", (x.shape[1], -(-rows // lanes) * lanes))
    xt[:, rows:].zero_()
    xt[:, :rows].copy_(x.t())
    return xt


def rows(lib: Any, weight: Tensor, xt: Tensor, batch: int, bias: Tensor | None, out: Tensor, start: int,
         stop: int) -> None:
    """out[:, start:stop] = x W[start:stop]^T + b[start:stop]: x as `transposed` gives it (xt), out (batch, W's
    rows) contiguous; W's rows split over torch's threads (the same numbers whatever the split)."""
    tile = lib.thin_linear_rows()
    pointers = (weight.data_ptr(), weight.shape[1], xt.data_ptr(), xt.shape[1], batch)
    tail = (None if bias is None else bias.data_ptr(), out.data_ptr(), out.shape[1])

    def run(first: int, last: int) -> None:  # tiles first..last - 1 of rows start..stop - 1
        lib.thin_linear(*pointers, start + first * tile, min(stop, start + last * tile), *tail)

    kernels.in_parallel(-(-(stop - start) // tile), run)
