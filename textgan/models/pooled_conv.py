"""Convolutions followed by max-over-time pooling in training, by compiled kernels: the forward fused with the
pooling, and the backward from the winning windows alone.

Max-pooling keeps, for each row and channel, one value and the window that won it. The forward (``conv_max`` in
``pooled_conv.c``) sums each window in registers and keeps the running maximum, so the (B, C, T) convolution output
is never written, masked or scanned; windows past a row's length are not convolved at all. The backward passes
each (row, channel) gradient to its winning window only. torch's backward still runs the convolution's full
backward over every window position (two products the size of the forward) on a gradient that is zero but for
one position per row and channel. Here the weight and input gradients are computed from the winning windows only:
B x C x w x E multiply-adds each, where the dense backward does that for each of the ~T window positions. Values
and gradients are the same as torch's up to float summation order.

torch has no operator for either (``embedding_bag`` over the winning windows does half of the backward and
materialises the rest), so the loops are C (``pooled_conv.c``, built by ``models/kernels.py``). Without a compiler
the caller keeps torch's kernels: ``kernels.available()`` says which. A backward that must itself be differentiated
(R1, WGAN-GP, an unrolled D: ``create_graph=True``) is computed the dense way from the same winning positions.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from textgan.models import kernels
from textgan.models.scratch import scratch


class Windows(NamedTuple):
    """The windows one convolution reads in a group of rows: row b's windows start at 0 .. valid[b] - 1 (valid
    (B,) int64); where `open` (B,) int64 is given and open[b] != 0, one bias-only window after them stands in for
    row b's windows that cover padding alone."""

    valid: Tensor
    open: Tensor | None


def windows(rows: int, steps: int, seen: Tensor | None, tokens: Tensor | None, width: int) -> Windows:
    """The windows of a width-`width` convolution over `rows` rows of `steps` positions: of row b those that end
    within seen[b] positions (seen (B,) or None: all), and with `tokens` (B,) (positions from tokens[b] on hold
    zero vectors) only those that start on a token: a later one covers zeros alone, so its output is the bias."""
    count = steps - width + 1
    alone = torch.full((rows,), count, dtype=torch.long) if seen is None else (seen.cpu() - width + 1).clamp(
        min=0, max=count).long()  # (B,) the windows each row has; the kernel reads int64
    if tokens is None:
        return Windows(alone, None)
    valid = torch.minimum(alone, tokens.cpu().long())  # (B,)
    return Windows(valid, (valid < alone).long())


def pooled(e: Tensor, seen: Tensor | None, tokens: Tensor | None, widths: Sequence[int], weights: Sequence[Tensor],
           biases: Sequence[Tensor]) -> Tensor:
    """Max-over-time pooled convolutions (B, sum C) (bias added, before the ReLU) of e (B, T, E) zero-padded to
    the widest filter, by the compiled forward, with the winning-window backward. Per convolution i: width
    widths[i], weight (C_i, E, w_i), bias (C_i,); its windows as ``windows`` gives them for `seen` and `tokens`."""
    rows = F.pad(e, (0, 0, 0, max(widths) - e.shape[1])) if e.shape[1] < max(widths) else e  # (B, T, E)
    read = [windows(rows.shape[0], rows.shape[1], seen, tokens, w) for w in widths]
    values, starts = _conv_max(rows.detach().contiguous(), read, weights, biases)
    return MaxPooledConv.apply(rows, values, starts, widths, *weights, *biases)


def _conv_max(x: Tensor, read: Sequence[Windows], weights: Sequence[Tensor],
              biases: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """(values, starts), both (B, sum C): each convolution's pooled maxima over the windows `read` of x (B, T, E)
    (contiguous) and the first window that attains each; every convolution in one call (``pooled_conv.c``'s
    pack_all, conv_max_all), the rows split over torch's threads."""
    lib = kernels.library()
    rows, steps, dim = x.shape
    channels = [w.shape[0] for w in weights]
    total = sum(channels)
    values = torch.empty(rows, total)  # (B, sum C)
    starts = torch.empty(rows, total, dtype=torch.long)  # (B, sum C)
    lanes = lib.pack_lanes()  # 16 where the kernels were built for AVX-512, else 8
    shapes = _int64s(channels, [w.shape[2] for w in weights])
    filters = [w.detach().contiguous() for w in weights]  # (C, E, w) each; held: the C calls read their memory
    packed = scratch("packed", sum(-(-w.shape[0] // lanes) * lanes * w.shape[2] * dim for w in weights))
    lib.pack_all(_pointers(filters), len(weights), dim, *shapes, packed.data_ptr())  # (ceil(C / lanes), w x E, lanes)
    flat_biases = [b.detach().contiguous() for b in biases]
    valid = torch.stack([r.valid for r in read])  # (count, B) int64
    opened = None if read[0].open is None else torch.stack([r.open for r in read])  # (count, B) int64
    step, item, index = steps * dim * x.element_size(), values.element_size(), starts.element_size()

    def run(first: int, stop: int) -> None:  # rows first..stop - 1: pointers to their first row
        lib.conv_max_all(x.data_ptr() + first * step, stop - first, steps, dim, packed.data_ptr(),
                         _pointers(flat_biases), len(weights), *shapes, valid.data_ptr() + first * index,
                         None if opened is None else opened.data_ptr() + first * index, rows,
                         values.data_ptr() + first * total * item, starts.data_ptr() + first * total * index, total)

    kernels.in_parallel(rows, run)
    return values, starts


class MaxPooledConv(torch.autograd.Function):
    """Pooled maxima (B, sum C) of the convolutions of x (B, T, E), computed by the caller (values and winning
    window starts, both (B, sum C); a start of -1 is a bias-only column), given a backward from the winning
    windows. Per convolution i: width widths[i], weight (C_i, E, w_i), bias (C_i,)."""

    @staticmethod
    def forward(ctx: Any, x: Tensor, values: Tensor, starts: Tensor, widths: Sequence[int],  # type: ignore[override]
                *params: Tensor) -> Tensor:
        ctx.widths = tuple(widths)
        ctx.save_for_backward(x, starts, *params)
        return values.clone()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        x, starts, *params = ctx.saved_tensors
        count = len(ctx.widths)
        weights, biases = params[:count], params[count:]
        if torch.is_grad_enabled():  # the backward will be differentiated: torch's ops, same winning windows
            grads = _dense_grads(x, starts, ctx.widths, weights, biases, grad)
        else:
            need_weights = any(ctx.needs_input_grad[4:4 + count])  # False for a frozen D (a generator's step)
            grads = _window_grads(x, starts, weights, grad, ctx.needs_input_grad[0], need_weights)
        grad_x, grad_weights = grads
        (columns,) = _columns(weights, grad)
        grad_biases = [g.sum(0) for g in columns]
        return (grad_x, None, None, None, *grad_weights, *grad_biases)


def _window_grads(x: Tensor, starts: Tensor, weights: Sequence[Tensor], grad: Tensor, need_x: bool,
                  need_weights: bool) -> tuple[Tensor | None, list[Tensor | None]]:
    """(grad of x (B, T, E), weight grads) from the winning windows, by the compiled kernels, every convolution in
    one call (``pooled_conv.c``'s window_grads: both gradients of each in turn); None for those not needed. On
    several threads, one call for each gradient (weight_grads, input_grads), the weight gradient's channels and
    the input gradient's rows split over them: the same numbers."""
    lib = kernels.library()
    rows_first = x.detach().contiguous()  # (B, T, E): a window is w x E contiguous floats
    grad, starts = grad.contiguous(), starts.contiguous()  # (B, sum C)
    (rows, steps, dim), ld = rows_first.shape, grad.shape[1]
    channels = [w.shape[0] for w in weights]
    shapes = _int64s(channels, [w.shape[2] for w in weights], [sum(channels[:i]) for i in range(len(weights))])
    largest = max(w.numel() for w in weights)
    grad_x = torch.zeros_like(rows_first) if need_x else None  # (B, T, E)
    outs = [torch.empty(w.shape) for w in weights] if need_weights else []  # (C, E, w) each, as the weights
    grad_weights: list[Tensor | None] = list(outs) if need_weights else [None] * len(weights)
    filters = [w.detach().contiguous() for w in weights]  # held: the C calls read their memory
    if min(torch.get_num_threads(), rows) <= 1:  # both gradients, one convolution after another
        lib.window_grads(rows_first.data_ptr(), rows, steps, dim, starts.data_ptr(), grad.data_ptr(), ld,
                         len(weights), *shapes, _pointers(filters), scratch("weight_grad_sums", largest).data_ptr(),
                         scratch("filters", largest).data_ptr(), _pointers(outs) if need_weights else None,
                         None if grad_x is None else grad_x.data_ptr())
        return grad_x, grad_weights
    if need_weights:

        def channel_range(first: int, stop: int) -> None:
            lib.weight_grads(rows_first.data_ptr(), rows, steps, dim, starts.data_ptr(), grad.data_ptr(), ld,
                             len(weights), *shapes, first, stop, scratch("weight_grad_sums", largest).data_ptr(),
                             _pointers(outs))

        kernels.in_parallel(sum(channels), channel_range)
    if grad_x is not None:
        row_floats, item = steps * dim, grad.element_size()

        def row_range(first: int, stop: int) -> None:  # each thread transposes the filters into its own scratch
            lib.input_grads(_pointers(filters), scratch("filters", largest).data_ptr(), stop - first, steps, dim,
                            starts.data_ptr() + first * ld * starts.element_size(),
                            grad.data_ptr() + first * ld * item, ld, len(weights), *shapes,
                            grad_x.data_ptr() + first * row_floats * item)

        kernels.in_parallel(rows, row_range)
    return grad_x, grad_weights


def _pointers(tensors: Sequence[Tensor]) -> Any:
    """The tensors' data pointers as a ctypes array (the compiled kernels' per-convolution arrays)."""
    return (ctypes.c_void_p * len(tensors))(*(t.data_ptr() for t in tensors))


def _int64s(*lists: Sequence[int]) -> list[Any]:
    """Each list of ints as a ctypes int64 array (the compiled kernels' per-convolution arguments)."""
    return [(ctypes.c_int64 * len(values))(*values) for values in lists]


def _columns(weights: Sequence[Tensor], *tensors: Tensor) -> list[tuple[Tensor, ...]]:
    """Each (B, sum C) tensor cut into its convolutions' (B, C_i) column blocks (views)."""
    return [t.split([w.shape[0] for w in weights], dim=1) for t in tensors]


def _dense_grads(x: Tensor, starts: Tensor, widths: Sequence[int], weights: Sequence[Tensor],
                 biases: Sequence[Tensor], grad: Tensor) -> tuple[Tensor | None, list[Tensor | None]]:
    """The same gradients by torch's differentiable ops: each convolution's output, up to its last winning window,
    read at its winning windows (the bias for a bias-only column), differentiated with create_graph."""
    with torch.enable_grad():
        picked = []
        (columns,) = _columns(weights, starts)
        for weight, bias, width, column in zip(weights, biases, widths, columns):  # column (B, C)
            span = max(int(column.max()), 0) + width  # the input positions up to the last winning window's end
            out = F.conv1d(x[:, :span].transpose(1, 2), weight, bias)  # (B, C, span - w + 1)
            won = out.gather(2, column.clamp(min=0).unsqueeze(2)).squeeze(2)  # (B, C)
            picked.append(torch.where(column >= 0, won, bias.expand_as(won)))
        targets = [t for t in [x, *weights] if t.requires_grad]
        found = iter(torch.autograd.grad(torch.cat(picked, dim=1), targets, grad, create_graph=True))
    grads = [next(found) if t.requires_grad else None for t in [x, *weights]]
    return grads[0], grads[1:]
