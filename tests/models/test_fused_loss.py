"""The fused, chunked projection + cross-entropy equals F.linear + F.cross_entropy, in value and in gradient."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from textgan.data.tokenizers import BOS_ID, PAD_ID, UNK_ID
from textgan.models.fused_loss import generator_nll, linear_cross_entropy
from textgan.models.generator import RNNGenerator

BANNED = [PAD_ID, BOS_ID, UNK_ID]


def inputs(rows: int, hidden: int, vocab: int, *, pad_every: int = 0, seed: int = 0,
           dtype: torch.dtype = torch.float64) -> tuple[torch.Tensor, ...]:
    """hidden (N, H), weight (V, H), bias (V,) with -inf on the banned ids, targets (N,) never banned but PAD."""
    gen = torch.Generator().manual_seed(seed)
    h = torch.randn(rows, hidden, generator=gen, dtype=dtype).requires_grad_()
    w = torch.randn(vocab, hidden, generator=gen, dtype=dtype).requires_grad_()
    b = torch.randn(vocab, generator=gen, dtype=dtype)
    b[BANNED] = float("-inf")
    b.requires_grad_()
    targets = torch.randint(max(BANNED) + 1, vocab, (rows,), generator=gen)
    if pad_every:
        targets[::pad_every] = PAD_ID
    return h, w, b, targets


def reference(h: torch.Tensor, w: torch.Tensor, b: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(F.linear(h, w, b), targets, ignore_index=PAD_ID, reduction="sum")


def value_and_grads(loss: torch.Tensor, h: torch.Tensor, w: torch.Tensor,
                    b: torch.Tensor) -> tuple[torch.Tensor, ...]:
    return (loss.detach(), *torch.autograd.grad(loss, (h, w, b)))


@pytest.mark.parametrize("rows, hidden, vocab, pad_every, chunk_size", [
    (1, 3, 5, 0, None),        # one row
    (40, 6, 17, 0, 7),         # no padding, ragged last chunk
    (40, 6, 17, 3, 7),         # every third target is PAD
    (64, 8, 50, 2, 16),        # half padding, chunks divide N
    (33, 4, 9, 5, 100),        # one chunk larger than N
    (128, 16, 300, 4, None),   # default chunking
])
def test_value_and_gradients_equal_linear_plus_cross_entropy(rows: int, hidden: int, vocab: int, pad_every: int,
                                                             chunk_size: int | None) -> None:
    h, w, b, targets = inputs(rows, hidden, vocab, pad_every=pad_every)
    fused = value_and_grads(linear_cross_entropy(h, w, b, targets, chunk_size=chunk_size), h, w, b)
    expected = value_and_grads(reference(h, w, b, targets), h, w, b)
    for got, want in zip(fused, expected):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert bool((fused[3][BANNED] == 0).all()) and bool((fused[2][BANNED] == 0).all())  # masked columns: no grad
    assert bool((fused[1][targets == PAD_ID] == 0).all())  # PAD rows: no grad


def test_float32_matches_the_reference() -> None:
    h, w, b, targets = inputs(100, 32, 500, pad_every=4, dtype=torch.float32)
    fused = value_and_grads(linear_cross_entropy(h, w, b, targets, chunk_size=24), h, w, b)
    expected = value_and_grads(reference(h, w, b, targets), h, w, b)
    for got, want in zip(fused, expected):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("chunk_size", [1, 3, 12])
def test_gradcheck(chunk_size: int) -> None:
    h, w, b, targets = inputs(12, 3, 7, pad_every=4)
    assert torch.autograd.gradcheck(
        lambda h, w, b: linear_cross_entropy(h, w, b, targets, chunk_size=chunk_size), (h, w, b))


def test_chunk_size_does_not_change_the_result() -> None:
    """Smaller than, equal to and larger than the number of rows (and of real rows)."""
    h, w, b, targets = inputs(30, 5, 23, pad_every=4)
    results = [value_and_grads(linear_cross_entropy(h, w, b, targets, chunk_size=c), h, w, b)
               for c in (1, 4, 22, 30, 31, 1000)]
    for other in results[1:]:
        for got, want in zip(other, results[0]):
            torch.testing.assert_close(got, want, rtol=1e-13, atol=1e-13)


def test_all_padding_gives_zero_loss_and_zero_gradients() -> None:
    h, w, b, _ = inputs(10, 4, 8)
    loss = linear_cross_entropy(h, w, b, torch.full((10,), PAD_ID))
    _, *grads = value_and_grads(loss, h, w, b)
    assert float(loss.detach()) == 0.0
    assert all(not bool(g.isnan().any()) and bool((g == 0).all()) for g in grads)


def test_only_the_requested_gradients() -> None:
    """A frozen head (weight and bias without grad) still passes the gradient to the hidden states."""
    h, w, b, targets = inputs(20, 4, 11, pad_every=3)
    w, b = w.detach(), b.detach()
    (grad_h,) = torch.autograd.grad(linear_cross_entropy(h, w, b, targets, chunk_size=6), (h,))
    (want,) = torch.autograd.grad(reference(h, w, b, targets), (h,))
    torch.testing.assert_close(grad_h, want, rtol=1e-12, atol=1e-12)


def test_a_banned_target_costs_inf_like_cross_entropy() -> None:
    h, w, b, targets = inputs(6, 3, 9)
    targets[2] = UNK_ID
    with torch.no_grad():
        assert float(linear_cross_entropy(h, w, b, targets)) == float(reference(h, w, b, targets)) == float("inf")


def test_bad_shapes_are_reported() -> None:
    h, w, b, targets = inputs(6, 3, 9)
    with pytest.raises(ValueError, match="need hidden"):
        linear_cross_entropy(h, w, b, targets[:5])
    with pytest.raises(ValueError, match="chunk_size"):
        linear_cross_entropy(h, w, b, targets, chunk_size=0)


@pytest.mark.parametrize("dropout", [0.0, 0.4])
def test_generator_nll_is_cross_entropy_of_project(dropout: float) -> None:
    """The same ops as `RNNGenerator.project` (dropout included: the same mask under the same seed), and the bias
    gradient reaches head.bias, not the banned-id mask (a buffer)."""
    torch.manual_seed(0)
    g = RNNGenerator(vocab_size=25, embedding_size=6, hidden_size=8, dropout=dropout, banned_ids=BANNED).double()
    tokens = torch.randint(max(BANNED) + 1, 25, (5, 7))
    tokens[1, 4:] = PAD_ID
    outputs, _ = g.run(RNNGenerator.shift_right(tokens))  # (B, T, H)
    torch.manual_seed(1)
    fused = generator_nll(g, outputs, tokens)
    fused_grads = torch.autograd.grad(fused, list(g.parameters()), retain_graph=True)
    torch.manual_seed(1)
    logits = g.project(outputs)  # (B, T, V)
    expected = F.cross_entropy(logits.reshape(-1, 25), tokens.reshape(-1), ignore_index=PAD_ID, reduction="sum")
    expected_grads = torch.autograd.grad(expected, list(g.parameters()))
    torch.testing.assert_close(fused, expected, rtol=1e-12, atol=1e-12)
    for got, want in zip(fused_grads, expected_grads):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)
    assert g.logit_mask.grad is None
