"""A linear layer's forward product y = x W^T + b and input gradient dx = dy W at a thin batch by the compiled
kernels (``thin_linear.c``), which read W where it lies instead of packing it first as torch's GEMM does: for
SeqGAN's highway at 64 rows, 3.6 against 4.6 ms alone for the forward; 7.8-8.0 against 10.7-11.0 ms for the input
gradient on a Zen 4 VM (docs/benchmarks.md). The highway's deferring layer runs them in D training
(``deferred_linear.py``), the forward block by block as a pending step updates W. Each output is summed over the
input (or output) dimension in order, so the numbers do not depend on the blocks, the lane width or the thread
count; they differ from torch's product by float round-off."""

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


def in_training(x: Tensor, weight: Tensor, bias: Tensor | None) -> Any | None:
    """The compiled kernels where a deferring layer runs its products by them (``deferred_linear.py``): as
    `library`, and built for 16 lanes (``kernels.wide``). Built for 8 (AVX2), a tile holds 12 sums in 16
    registers, and on a Zen 4 VM so built both products ran slower than torch's at the highway's shape: the
    forward 11.3 ms against 9.9, the input gradient 12.9 against 9.8-10.0 (docs/benchmarks.md); torch's run
    there."""
    return library(x, weight, bias) if kernels.wide() is not None else None


def transposed(lib: Any, x: Tensor, buffer: Callable[[Tensor, str, tuple[int, ...]], Tensor], name: str = "x_t"
               ) -> Tensor:
    """x (N, in) as the kernels read it: (in, bp), bp = N rounded up to the kernels' lanes, the columns past N zero;
    in `buffer(like, name, shape)`'s tensor (a layer's reused buffer)."""
    rows, lanes = x.shape[0], lib.pack_lanes()
    xt = buffer(x, name, (x.shape[1], -(-rows // lanes) * lanes))
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


def input_grad(lib: Any, weight: Tensor, dy: Tensor, buffer: Callable[[Tensor, str, tuple[int, ...]], Tensor]
               ) -> Tensor:
    """dy W, (N, in), a new tensor, for dy (N, out) and W (out, in) contiguous; dy transposed and the result's
    transpose in `buffer`'s reused tensors; W's columns split over torch's threads (the same numbers whatever the
    split)."""
    dyt = transposed(lib, dy, buffer, "dy_t")  # (out, bp)
    dxt = buffer(dy, "dx_t", (weight.shape[1], dyt.shape[1]))  # (in, bp)
    tile = lib.thin_linear_rows()
    pointers = (weight.data_ptr(), weight.shape[0], weight.shape[1], dyt.data_ptr(), dyt.shape[1], dxt.data_ptr())

    def run(first: int, last: int) -> None:  # tiles first..last - 1 of W's columns
        lib.thin_linear_input_grad(*pointers, first * tile, min(weight.shape[1], last * tile))

    kernels.in_parallel(-(-weight.shape[1] // tile), run)
    return dxt[:, :dy.shape[0]].t().contiguous()
