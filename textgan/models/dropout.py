"""Dropout whose masks on the CPU come from a compiled counter-based generator (``dropout_mask.c``).

torch's dropout on the CPU draws its mask with ``bernoulli_``, one Mersenne Twister draw after another: for the
SeqGAN discriminator's 64 x 1720 features that is ~1 ms of an update of ~65 ms, more than the rest of the update's
elementwise work. Here each row of the input (along its last dimension) takes one 64-bit seed from torch's default
generator, so masks follow ``torch.manual_seed`` and the run's random stream, and a row's mask is a function of its
seed alone (SplitMix64). So it does not depend on how rows are split over threads, and a batch masked in one call
gets the masks it would get in several calls of consecutive rows, as with torch's dropout.

The layer is ``nn.Dropout`` otherwise (scaling by 1 / (1 - p), nothing in eval mode, no state), and keeps torch's
own off the CPU, for float64, and where the kernels could not be built. bf16 and fp16 inputs (autocast) get the
float32 masks, the product rounded once to their dtype: the same masks and random draws as the run at fp32. The
masks differ from torch's: a run draws other masks than ``nn.Dropout`` would, from the same distribution.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from textgan.models import kernels

SEED_RANGE = 2**63 - 1  # one int64 from torch's generator per row
# dtypes masked as float32 is (bf16 autocast's activations): a run at reduced precision draws the masks and random
# numbers of the same run at fp32, so the two can be compared at one seed (bench_discriminator.py --precision-check)
REDUCED = (torch.bfloat16, torch.float16)
MASKED = (torch.float32, *REDUCED)  # the dtypes the compiled masks serve


def mask(shape: torch.Size, p: float) -> Tensor:
    """A float32 CPU mask of `shape`: 0 with probability p (to 2^-32), else 1 / (1 - p); one seed per row."""
    out = torch.empty(shape)
    cols = shape[-1] if len(shape) else 1
    rows = out.numel() // cols if cols else 0
    if rows == 0:
        return out
    seeds = torch.randint(SEED_RANGE, (rows,), dtype=torch.int64)  # (rows,) from the default generator
    drop = min(round(p * 2**32), 2**32 - 1)  # drop when a 32-bit uniform is below it
    lib = kernels.library()
    kernels.in_parallel(rows, lambda first, stop: lib.dropout_mask(out.view(rows, cols)[first].data_ptr(),
                                                                   stop - first, cols, seeds[first].data_ptr(),
                                                                   drop, 1.0 / (1.0 - p)))
    return out


class Dropout(nn.Dropout):
    """`nn.Dropout` (the same arguments, module name and state) with the compiled masks where they apply."""

    def forward(self, x: Tensor) -> Tensor:
        if (not self.training or not 0.0 < self.p < 1.0 or self.inplace or x.device.type != "cpu"
                or x.dtype not in MASKED or not kernels.available()):
            return super().forward(x)
        if x.dtype != torch.float32:  # the fp32 path's masks and random draws, the product rounded to x's dtype
            return (x.float() * mask(x.shape, self.p)).to(x.dtype)
        return x * mask(x.shape, self.p)
