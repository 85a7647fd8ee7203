"""The fused, blocked sampler `sample_outputs` against the plain softmax it replaces."""

import pytest
import torch
import torch.nn.functional as F

from textgan.models.sampling import BLOCK_IDS, sample_outputs


def head(vocab: int, hidden: int = 3, banned: tuple[int, ...] = (0,), seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(vocab, hidden, generator=gen)
    bias = torch.randn(vocab, generator=gen)
    bias[list(banned)] = float("-inf")
    return weight, bias


@pytest.mark.parametrize("vocab", [5, BLOCK_IDS, BLOCK_IDS + 1, 3 * BLOCK_IDS - 7])
def test_frequencies_match_softmax(vocab: int) -> None:
    weight, bias = head(vocab, banned=(0, vocab - 1))
    outputs = torch.randn(1, 3).expand(60000, 3)  # one distribution, many draws
    torch.manual_seed(1)
    ids = sample_outputs(outputs, weight, bias)
    probs = torch.softmax(F.linear(outputs[:1], weight, bias), -1)[0]
    freq = torch.bincount(ids, minlength=vocab).float() / ids.numel()
    assert freq[0] == 0 and freq[vocab - 1] == 0  # banned ids are never drawn
    # 60,000 draws: the standard error of a frequency is <= 0.002
    torch.testing.assert_close(freq, probs, atol=0.01, rtol=0)


@pytest.mark.parametrize("block_rows", [1, 7, 256, 10000])
def test_block_rows_do_not_change_the_draws(block_rows: int) -> None:
    weight, bias = head(150, hidden=8, banned=(0, 1))
    outputs = torch.randn(300, 8)
    torch.manual_seed(2)
    ids = sample_outputs(outputs, weight, bias, block_rows=block_rows)
    assert not bool(((ids == 0) | (ids == 1)).any())
    torch.manual_seed(2)  # the uniforms are drawn once for all rows: blocking does not change the draws
    assert torch.equal(ids, sample_outputs(outputs, weight, bias, block_rows=300))


def test_peaked_distribution_never_picks_zero_mass() -> None:
    # nearly all mass on one id at the end of a block, the rest exactly zero: round-off must not leak
    vocab = 2 * BLOCK_IDS
    bias = torch.full((vocab,), float("-inf"))
    bias[BLOCK_IDS - 1] = 0.0
    bias[BLOCK_IDS + 3] = -30.0
    ids = sample_outputs(torch.zeros(20000, 2), torch.zeros(vocab, 2), bias)
    assert set(ids.tolist()) <= {BLOCK_IDS - 1, BLOCK_IDS + 3}
