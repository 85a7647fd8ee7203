"""Fakes for a discriminator phase drawn in large chunks instead of one small batch at a time.

The generator does not change while its discriminator trains, so the fakes of a whole D phase come from one
distribution. Drawing them 32 rows at a time costs ~max_len sequential LSTM + sampler steps per D batch (latency,
not arithmetic); drawing them `size` rows at a time gives the same distribution at a fraction of the cost
(`scripts/bench_discriminator.py`). The draws are other random numbers than per-batch sampling, so a run with a
pool is reproducible against itself, not against a run without one.

`reuse` > 1 serves each drawn row that many times, each pass in a fresh random order: SeqGAN's protocol, which
draws one negative set per D step and trains its k epochs on it (Yu et al. 2017; textgan's default draws fresh
fakes for every batch instead).

While installed on a generator (`serving`), `RNNGenerator.sample` calls that ask for plain samples (temperature 1,
no top-k, no states, the max_len of the first such call) are served from the pool; anything else is drawn as
usual. A conditional generator's rows are pooled per class: a request with labels gets rows of each row's class.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch
import torch.nn.functional as F

from textgan.data.batching import sort_within
from textgan.data.tokenizers import PAD_ID
from textgan.models.generator import RNNGenerator, Samples  # generator.py imports this module only for typing

DRAW_ROWS = 2048  # rows sampled in one pass: bounds the (rows, V) logits a step holds


class FakePool:
    """Pre-drawn fakes served in order; `draw(n, max_len, labels)` samples n fresh rows (labels (n,) or None)."""

    def __init__(self, draw: Callable[[int, int, torch.Tensor | None], Samples], size: int, reuse: int = 1,
                 budget: int | None = None, buckets: int = 0, batch_rows: int = 0) -> None:
        if size < 1 or reuse < 1:
            raise ValueError(f"a fake pool needs size >= 1 and reuse >= 1, got {size}, {reuse}")
        self.draw, self.size, self.reuse = draw, size, reuse
        self.max_len: int | None = None  # fixed by the first request: every row of the pool has this bound
        self.budget = budget  # rows the phase will take (None: unknown); the last chunk draws no more than needed
        self.buckets, self.batch_rows = buckets, batch_rows  # length-sorted serving (see _pass_order)
        self.served = 0
        self._rows: dict[int | None, tuple[Samples, torch.Tensor, int]] = {}  # key -> (drawn, order, next)

    def serves(self, max_len: int, temperature: float, top_k: int, return_states: bool) -> bool:
        """Whether a sample() call with these arguments is one the pool answers."""
        return max_len == (self.max_len or max_len) and temperature == 1.0 and top_k == 0 and not return_states

    def take(self, num: int, max_len: int, labels: torch.Tensor | None) -> Samples:
        """`num` pooled rows; of the classes in `labels` (num,) when given, for a conditional generator drawn
        from its class priors otherwise (`Samples.labels` then says which; None for an unconditional one)."""
        self.max_len = self.max_len or max_len
        if labels is None:
            picked = self._take(None, num)
        else:
            parts, where = [], []
            for c in labels.unique().tolist():
                rows = (labels == c).nonzero().squeeze(1)
                parts.append(self._take(int(c), rows.numel()))
                where.append(rows)
            picked = _cat(parts)
            inverse = torch.cat(where).argsort()
            picked = Samples(picked.tokens[inverse], picked.lengths[inverse], None, labels)
        self.served += num
        width = max(int(picked.lengths.max()) if num else 0, 1)
        picked.tokens = picked.tokens[:, :width]  # trimmed to the longest row taken
        return picked

    def _take(self, key: int | None, num: int) -> Samples:
        parts = []
        while num > 0:
            drawn, order, start = self._rows.get(key) or self._refill(key, num)
            stop = min(start + num, order.numel())
            idx = order[start:stop]
            parts.append(_rows(drawn, idx))
            num -= stop - start
            if stop == order.numel():
                self._rows.pop(key, None)
            else:
                self._rows[key] = (drawn, order, stop)
        return _cat(parts)

    def _refill(self, key: int | None, wanted: int) -> tuple[Samples, torch.Tensor, int]:
        size = self.size
        if self.budget is not None:  # no more rows than the phase still takes (each served `reuse` times)
            size = min(size, max(wanted, -(-(self.budget - self.served) // self.reuse)))
        pieces = []
        for start in range(0, size, DRAW_ROWS):
            n = min(DRAW_ROWS, size - start)
            labels = None if key is None else torch.full((n,), key, dtype=torch.long)
            pieces.append(self.draw(n, self.max_len, labels))  # type: ignore[arg-type]
        drawn = _cat(pieces)
        order = torch.cat([self._pass_order(drawn.lengths.cpu()) for _ in range(self.reuse)])
        return drawn, order.to(drawn.tokens.device), 0

    def _pass_order(self, lengths: torch.Tensor) -> torch.Tensor:
        """One pass over the drawn rows: a random order; with `buckets` > 0, as `TokenData.batches` orders real
        rows with length_buckets: windows of `buckets` x `batch_rows` rows sorted by length, cut into batches of
        `batch_rows`, the batches in a random order (consecutive requests of batch_rows rows then get rows of
        similar length, so D convolves little padding)."""
        order = torch.randperm(lengths.numel())
        if self.buckets <= 0 or self.batch_rows <= 0:
            return order
        batches = sort_within(order, lengths, self.buckets * self.batch_rows).split(self.batch_rows)
        return torch.cat([batches[k] for k in torch.randperm(len(batches)).tolist()])


def _rows(samples: Samples, idx: torch.Tensor) -> Samples:
    labels = samples.labels[idx] if samples.labels is not None else None
    return Samples(samples.tokens[idx], samples.lengths[idx], None, labels)


def _cat(parts: list[Samples]) -> Samples:
    """Row-wise concatenation of samples of possibly different widths (PAD on the right)."""
    if len(parts) == 1:
        return parts[0]
    width = max(p.tokens.size(1) for p in parts)
    tokens = torch.cat([F.pad(p.tokens, (0, width - p.tokens.size(1)), value=PAD_ID) for p in parts])
    labels = None if any(p.labels is None for p in parts) else torch.cat([p.labels for p in parts])  # type: ignore
    return Samples(tokens, torch.cat([p.lengths for p in parts]), None, labels)


@contextmanager
def serving(generator: RNNGenerator, size: int, reuse: int = 1, budget: int | None = None, buckets: int = 0,
            batch_rows: int = 0) -> Iterator[FakePool | None]:
    """Install a FakePool of `size` rows (each served `reuse` times; length-sorted batches of `batch_rows` from
    windows of `buckets` batches when buckets > 0) on `generator` for the block; size 0 installs nothing (every
    batch draws its own fakes)."""
    if size <= 0:
        yield None
        return
    device = generator.head.weight.device

    def draw(n: int, max_len: int, labels: torch.Tensor | None) -> Samples:
        return generator.draw(n, max_len, labels=None if labels is None else labels.to(device))

    pool = FakePool(draw, size, reuse, budget, buckets, batch_rows)
    generator.fake_pool = pool
    try:
        yield pool
    finally:
        generator.fake_pool = None
