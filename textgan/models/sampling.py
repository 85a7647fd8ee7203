"""Fast categorical sampling by inverse CDF (faster than `torch.multinomial` over large vocabularies).

`sample_outputs`, the hot path of sampling and rollouts, fuses the output projection into the sampler, works on
cache-sized blocks of rows, takes a two-level cumulative sum and base-2 exponentials (`docs/benchmarks.md`).
`sample_compiled` does the same draw in one compiled pass per group of rows (``sample_head.c``, opt-in:
`generator.compiled_sampler`), at any temperature: the same distribution, other float round-off, so an id differs
from `sample_outputs`' (or `sample_logits`') for the same uniform where the uniform lies within round-off of a
boundary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from textgan.models import kernels
from textgan.models.scratch import scratch

BLOCK_ROWS = 256  # rows per projection block: (256, 5004) fp32 logits are ~5 MB
BLOCK_IDS = 64    # ids per block of the two-level inverse CDF
LOG2_E = math.log2(math.e)


def sample_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int = 0,
                  u: torch.Tensor | None = None) -> torch.Tensor:
    """One id per row of `logits` (..., V). temperature 0 (or top_k 1) is greedy; top_k > 0 keeps the k best.
    `u` (..., 1): the uniforms to draw with (default: drawn here)."""
    if temperature == 0 or top_k == 1:
        return logits.argmax(-1)
    if top_k > 0:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if temperature != 1.0:
        logits = logits / temperature
    probs = torch.softmax(logits, dim=-1)
    cdf = probs.cumsum(-1)  # (..., V)
    if u is None:
        u = torch.rand(cdf.shape[:-1] + (1,), dtype=cdf.dtype, device=cdf.device)
    u = u * cdf[..., -1:]
    # right=True: the first index whose cdf > u, so a zero-probability (masked) id is never chosen, even for
    # u == 0. The clamp guards u rounding up to the total (float round-off, ~1e-7 of draws).
    return torch.searchsorted(cdf, u, right=True).squeeze(-1).clamp_(max=logits.size(-1) - 1)


def _padded_head(weight: torch.Tensor, bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """weight (V, H) and bias (V,) padded to a multiple of BLOCK_IDS ids; padding ids get bias -inf."""
    pad = -weight.size(0) % BLOCK_IDS
    if not pad:
        return weight, bias
    return F.pad(weight, (0, 0, 0, pad)), F.pad(bias, (0, pad), value=float("-inf"))


def _sample_block(outputs: torch.Tensor, weight2: torch.Tensor, bias2: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Ids (R,) for outputs (R, H) through the padded head scaled by log2(e) (weight2, bias2), uniforms u (R, 1)."""
    rows = outputs.size(0)
    e = torch.addmm(bias2, outputs, weight2.t())  # (R, Vp) logits * log2(e)
    top = e.amax(1, keepdim=True)  # (R, 1)
    e.sub_(top).exp2_()  # unnormalised probabilities exp(logit - max); banned and padding ids are exactly 0
    blocks = e.view(rows, -1, BLOCK_IDS)  # (R, nb, BLOCK_IDS)
    cum_blocks = blocks.sum(2).cumsum(1)  # (R, nb)
    total = cum_blocks[:, -1:]  # (R, 1)
    # u * total < total strictly (nextafter), so the chosen block has positive mass.
    target = torch.minimum(u * total, torch.nextafter(total, torch.zeros_like(total)))
    block = torch.searchsorted(cum_blocks, target, right=True).clamp_(max=cum_blocks.size(1) - 1)  # (R, 1)
    before = cum_blocks.gather(1, (block - 1).clamp(min=0)).masked_fill(block == 0, 0.0)  # mass of earlier blocks
    inner = blocks[torch.arange(rows, device=e.device), block.squeeze(1)].cumsum(1)  # (R, BLOCK_IDS)
    within = torch.searchsorted(inner, target - before, right=True)  # (R, 1)
    # Round-off between the block sum and its cumsum can push `within` past the block's last positive id.
    last_positive = torch.searchsorted(inner, inner[:, -1:].contiguous(), right=False)
    return (block * BLOCK_IDS + torch.minimum(within, last_positive)).squeeze(1)  # (R,)


def sample_outputs(outputs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                   block_rows: int = BLOCK_ROWS, u: torch.Tensor | None = None) -> torch.Tensor:
    """Draw one id (R,) per row from softmax(outputs @ weight.T + bias) at temperature 1, without materialising
    all logits. outputs (R, H), weight (V, H), bias (V,) (-inf for ids that must never be drawn); `u` (R, 1): the
    uniforms to draw with (default: drawn here). Same distribution as `sample_logits(F.linear(outputs, weight,
    bias))`."""
    weight, bias = _padded_head(weight, bias)
    weight2, bias2 = weight * LOG2_E, bias * LOG2_E  # base-2 logits (-inf stays -inf)
    if u is None:
        u = torch.rand(outputs.size(0), 1, dtype=outputs.dtype, device=outputs.device)  # (R, 1), one per row
    parts = [_sample_block(o, weight2, bias2, uu) for o, uu in zip(outputs.split(block_rows), u.split(block_rows))]
    return parts[0] if len(parts) == 1 else torch.cat(parts)


@dataclass(frozen=True)
class CompiledHead:
    """The output layer as ``sample_head.c`` reads it for one temperature T: wt (H, Vp) = W^T log2(e) / T, bias
    (Vp,) = b log2(e) / T, its ids padded to a multiple of the kernel's block with bias -inf."""

    wt: torch.Tensor
    bias: torch.Tensor


def compiled_head(lib: Any, weight: torch.Tensor, bias: torch.Tensor, temperature: float = 1.0) -> CompiledHead:
    """weight (V, H) and bias (V,) (-inf for ids never drawn) laid out for `sample_compiled`, to draw from
    softmax(logits / temperature) (temperature > 0): base-2 logits, W and b scaled by log2(e) / temperature."""
    pad = -weight.size(0) % lib.sample_head_ids()
    scale = LOG2_E / temperature
    weight2 = F.pad(weight.detach(), (0, 0, 0, pad)) * scale  # (Vp, H)
    bias2 = F.pad(bias.detach(), (0, pad), value=float("-inf")) * scale  # (Vp,)
    return CompiledHead(weight2.t().contiguous(), bias2.contiguous())


def sample_compiled(lib: Any, outputs: torch.Tensor, head: CompiledHead, u: torch.Tensor | None = None) -> torch.Tensor:
    """`sample_outputs` by the compiled kernel: one id (R,) per row of outputs (R, H) through `head`
    (`compiled_head`); `u` (R, 1) as there (drawn here the same way when None). The rows split over torch's
    threads; each row's id does not depend on the split."""
    outputs = outputs.detach().contiguous()
    rows, hidden = outputs.shape
    if u is None:
        u = torch.rand(rows, 1, dtype=outputs.dtype, device=outputs.device)  # (R, 1), as sample_outputs draws
    u = u.to(torch.float32).contiguous()  # (R, 1), as the kernel reads them
    ids = torch.empty(rows, dtype=torch.long)  # (R,)
    wide = head.wt.shape[1]
    floats = outputs.element_size()

    def run(first: int, stop: int) -> None:
        buf = scratch("sample_head_logits", lib.sample_head_group() * wide)
        sums = scratch("sample_head_sums", wide // lib.sample_head_ids())
        lib.sample_head(outputs.data_ptr() + first * hidden * floats, stop - first, hidden, head.wt.data_ptr(),
                        head.bias.data_ptr(), wide, u.data_ptr() + first * floats, buf.data_ptr(), sums.data_ptr(),
                        ids.data_ptr() + first * ids.element_size())

    kernels.in_parallel(rows, run)
    return ids
