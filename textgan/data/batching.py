"""Encoded sequences as padded tensors, and their batches.

Layout used everywhere in textgan: `tokens` (N, T) holds y_1..y_L then PAD, BOS is never stored (the generator
prepends it), EOS is y_L for text data; `lengths` (N,) counts tokens including EOS.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch

from textgan.data.tokenizers import EOS_ID, PAD_ID


@dataclass
class TokenBatch:
    """A padded batch: tokens (B, T), lengths (B,) and, for labelled data, class ids (B,)."""

    tokens: torch.Tensor
    lengths: torch.Tensor
    labels: torch.Tensor | None = None

    def to(self, device: torch.device | str) -> TokenBatch:
        labels = None if self.labels is None else self.labels.to(device, non_blocking=True)
        return TokenBatch(self.tokens.to(device, non_blocking=True), self.lengths.to(device, non_blocking=True),
                          labels)


@dataclass
class TokenData:
    """A whole split as one padded tensor; cheap to batch and shuffle."""

    tokens: torch.Tensor   # (N, T) long
    lengths: torch.Tensor  # (N,) long
    truncated: int = 0     # sequences cut to max_len
    labels: torch.Tensor | None = None  # (N,) long class ids of labelled data
    dropped: int = 0       # sequences longer than max_len left out (the drop option)

    def __len__(self) -> int:
        return self.tokens.size(0)

    def num_tokens(self) -> int:
        return int(self.lengths.sum())

    def subset(self, index: torch.Tensor) -> TokenData:
        return TokenData(self.tokens[index], self.lengths[index],
                         labels=None if self.labels is None else self.labels[index])

    def batches(self, batch_size: int, *, shuffle: bool, seed: int = 0, epoch: int = 0,
                rank: int = 0, world_size: int = 1, length_buckets: int = 0) -> Iterator[TokenBatch]:
        """Batches trimmed to their longest sequence. Shuffling depends only on (seed, epoch), so a resumed run
        sees the same order; with world_size > 1 each rank takes every world_size-th batch of the same order.
        With `length_buckets` > 0 (and shuffle) the shuffled order is cut into pools of that many batches, each
        pool sorted by length and cut into batches, and the batches visited in a seeded random order: every
        sequence still once per epoch, with little padding."""
        generator = torch.Generator().manual_seed(seed * 100003 + epoch)
        order = torch.randperm(len(self), generator=generator) if shuffle else torch.arange(len(self))
        starts = list(range(0, len(self), batch_size))
        if shuffle and length_buckets > 0:
            order = sort_within(order, self.lengths, length_buckets * batch_size)
            starts = [starts[k] for k in torch.randperm(len(starts), generator=generator).tolist()]
        for k, start in enumerate(starts):
            if k % world_size != rank:
                continue
            index = order[start:start + batch_size]
            lengths = self.lengths[index]
            width = int(lengths.max())
            yield TokenBatch(self.tokens[index, :width], lengths, None if self.labels is None else self.labels[index])

    def num_batches(self, batch_size: int) -> int:
        return -(-len(self) // batch_size)


def sort_within(order: torch.Tensor, lengths: torch.Tensor, window: int) -> torch.Tensor:
    """`order` (N,) (row indices) with each run of `window` consecutive entries sorted by the rows' `lengths`
    (stable): length-bucketed batching keeps a shuffled order's coarse randomness and makes batches of similar
    length."""
    return torch.cat([part[lengths[part].argsort(stable=True)] for part in order.split(window)])


def encode_lines(lines: Sequence[str], encode: Callable[[str], list[int]], max_len: int,
                 add_eos: bool = True, *, labels: Sequence[int] | None = None, drop_long: bool = False) -> TokenData:
    """Encode and pad lines; each ends with EOS (when add_eos), cut to max_len tokens EOS included (or, with
    `drop_long`, left out; counted either way). `labels`: each line's class id, kept with its line."""
    rows: list[list[int]] = []
    kept: list[int] = []
    truncated = dropped = 0
    limit = max_len - 1 if add_eos else max_len
    for i, line in enumerate(lines):
        ids = encode(line)
        if len(ids) > limit:
            if drop_long:
                dropped += 1
                continue
            ids = ids[:limit]
            truncated += 1
        rows.append(ids + [EOS_ID] if add_eos else ids)
        kept.append(i)
    data = pad_rows(rows, truncated)
    data.dropped = dropped
    if labels is not None:
        data.labels = torch.tensor([labels[i] for i in kept], dtype=torch.long)
    return data


def pad_rows(rows: Sequence[Sequence[int]], truncated: int = 0) -> TokenData:
    """Right-pad id lists into a TokenData."""
    width = max((len(r) for r in rows), default=1)
    tokens = torch.full((len(rows), max(width, 1)), PAD_ID, dtype=torch.long)
    for i, row in enumerate(rows):
        tokens[i, :len(row)] = torch.tensor(row, dtype=torch.long)
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)
    return TokenData(tokens, lengths, truncated)


def strip_special(tokens: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
    """Per-row id lists without PAD and without the final EOS."""
    out = []
    for row, n in zip(tokens.tolist(), lengths.tolist()):
        row = row[:n]
        if row and row[-1] == EOS_ID:
            row = row[:-1]
        out.append(row)
    return out
