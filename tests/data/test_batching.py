"""Tests for batching: length-bucketed shuffling covers every sequence once, is seeded, and pads less."""

from __future__ import annotations

import pytest
import torch

from textgan.data.batching import TokenData, pad_rows


def ragged(n: int, seed: int = 0) -> TokenData:
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 30, (n,), generator=g).tolist()
    return pad_rows([[5 + i % 7] * length for i, length in enumerate(lengths)])


@pytest.mark.parametrize("n,batch_size,buckets,world_size", [(100, 8, 4, 1), (101, 8, 3, 1), (96, 16, 2, 2),
                                                             (7, 8, 5, 1), (200, 10, 1, 3)])
def test_buckets_cover_every_sequence_once(n: int, batch_size: int, buckets: int, world_size: int) -> None:
    data = ragged(n)
    seen = [b for rank in range(world_size)
            for b in data.batches(batch_size, shuffle=True, seed=3, epoch=2, rank=rank, world_size=world_size,
                                  length_buckets=buckets)]
    rows = [(int(b.tokens[r, 0]), int(b.lengths[r])) for b in seen for r in range(b.tokens.size(0))]
    expected = [(int(t[0]), int(n_)) for t, n_ in zip(data.tokens, data.lengths)]
    assert sorted(rows) == sorted(expected)
    for b in seen:  # trimmed to the longest row, no row cut
        assert b.tokens.size(1) == int(b.lengths.max())


def test_buckets_are_seeded_by_seed_and_epoch() -> None:
    data = ragged(120)

    def order(seed: int, epoch: int) -> list[torch.Tensor]:
        return [b.lengths for b in data.batches(8, shuffle=True, seed=seed, epoch=epoch, length_buckets=3)]

    assert all(torch.equal(a, b) for a, b in zip(order(1, 4), order(1, 4)))
    assert not all(torch.equal(a, b) for a, b in zip(order(1, 4), order(1, 5)))
    assert not all(torch.equal(a, b) for a, b in zip(order(1, 4), order(2, 4)))


@pytest.mark.parametrize("seed", range(5))
def test_buckets_never_pad_more_than_plain_shuffling(seed: int) -> None:
    # Each pool of the same shuffled order is partitioned into batches either way; sorting the pool first gives the
    # partition with the smallest sum of batch maxima.
    data = ragged(160, seed)
    plain = sum(b.tokens.numel() for b in data.batches(8, shuffle=True, seed=seed))
    bucketed = sum(b.tokens.numel() for b in data.batches(8, shuffle=True, seed=seed, length_buckets=4))
    assert bucketed <= plain


def test_no_buckets_is_the_plain_order() -> None:
    data = ragged(50)
    plain = [b.tokens for b in data.batches(8, shuffle=True, seed=1, epoch=1)]
    zero = [b.tokens for b in data.batches(8, shuffle=True, seed=1, epoch=1, length_buckets=0)]
    unshuffled = [b.tokens for b in data.batches(8, shuffle=False, length_buckets=4)]
    assert all(torch.equal(a, b) for a, b in zip(plain, zero))
    assert torch.equal(torch.cat([t[:, :1] for t in unshuffled]), data.tokens[:, :1])
