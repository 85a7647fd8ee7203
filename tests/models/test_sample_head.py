"""The compiled sampler (models/sample_head.c through sampling.sample_compiled, and the generator's
compiled_sampler): the distribution of softmax(out W^T + b), the ids of torch's path for the same uniforms but where
round-off decides, never a banned id, and the same ids whatever the rows' split, the thread count or the lane
width."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from tests.helpers import at_thread_counts, eight_lane_kernels
from textgan.models import kernels, sampling
from textgan.models.generator import RNNGenerator

needs_kernels = pytest.mark.skipif(not kernels.available(), reason="no C compiler: the compiled kernels are not built")


def layer(vocab: int, hidden: int, banned: tuple[int, ...] = ()) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded output layer: W (V, H), b (V,) with -inf at the banned ids."""
    g = torch.Generator().manual_seed(vocab * 100 + hidden)
    weight, bias = torch.randn(vocab, hidden, generator=g), torch.randn(vocab, generator=g)
    bias[list(banned)] = float("-inf")
    return weight, bias


def draws(rows: int, hidden: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded outputs (R, H) and uniforms (R, 1)."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(rows, hidden, generator=g), torch.rand(rows, 1, generator=g)


def compiled(weight: torch.Tensor, bias: torch.Tensor, out: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    lib = kernels.library()
    return sampling.sample_compiled(lib, out, sampling.compiled_head(lib, weight, bias), u)


@needs_kernels
@pytest.mark.parametrize(("vocab", "hidden", "rows"), [
    (2, 1, 1), (5, 3, 7), (64, 8, 8), (65, 8, 9), (100, 32, 300), (4660, 32, 64), (300, 5, 1000)])
def test_the_ids_are_torchs_paths_but_where_round_off_decides(vocab: int, hidden: int, rows: int) -> None:
    weight, bias = layer(vocab, hidden, banned=(0,) if vocab > 2 else ())
    out, u = draws(rows, hidden)
    got, want = compiled(weight, bias, out, u), sampling.sample_outputs(out, weight, bias, u=u)
    assert got.dtype == torch.long and got.shape == (rows,)
    assert (got == want).float().mean() >= 0.999  # measured: 1 differing id in ~5,000 at V = 4,660
    assert got.min() >= (1 if vocab > 2 else 0) and got.max() < vocab  # never the banned id, never padding


@needs_kernels
def test_the_draws_follow_the_softmax() -> None:
    weight, bias = layer(100, 16, banned=(3, 50))
    n = 200_000
    out, u = draws(1, 16)
    ids = compiled(weight, bias, out.expand(n, 16), torch.rand(n, 1, generator=torch.Generator().manual_seed(1)))
    p = torch.softmax(out[0] @ weight.t() + bias, 0).double()
    counts = torch.bincount(ids, minlength=100).double()
    assert counts[3] == 0 and counts[50] == 0
    expected = p * n
    cells = expected > 5
    chi2 = float((((counts - expected) ** 2) / expected)[cells].sum())
    dof = int(cells.sum()) - 1
    assert chi2 < dof + 5 * (2 * dof) ** 0.5, (chi2, dof)  # ~5 sd above the mean of a chi-square


@needs_kernels
def test_the_extreme_uniforms_pick_the_first_and_last_allowed_ids() -> None:
    weight, bias = layer(200, 4, banned=(0, 1, 2, 197, 198, 199))
    out, _ = draws(4, 4)
    low, high = torch.zeros(4, 1), torch.full((4, 1), torch.nextafter(torch.tensor(1.0), torch.tensor(0.0)).item())
    assert compiled(weight, bias, out, low).tolist() == [3] * 4
    assert compiled(weight, bias, out, high).tolist() == [196] * 4


@needs_kernels
def test_a_single_allowed_id_is_always_drawn() -> None:
    weight, bias = layer(130, 6, banned=tuple(i for i in range(130) if i != 77))
    out, u = draws(50, 6)
    assert compiled(weight, bias, out, u).tolist() == [77] * 50


@needs_kernels
def test_the_same_ids_whatever_the_rows_split_or_the_thread_count() -> None:
    weight, bias = layer(500, 12, banned=(0,))
    out, u = draws(203, 12)
    whole = compiled(weight, bias, out, u)
    parts = torch.cat([compiled(weight, bias, out[a:b], u[a:b]) for a, b in [(0, 5), (5, 13), (13, 100), (100, 203)]])
    assert torch.equal(parts, whole)
    assert all(torch.equal(ids, whole) for ids in at_thread_counts((2, 3), lambda: compiled(weight, bias, out, u)))


@needs_kernels
def test_the_same_ids_at_either_lane_width(tmp_path: Any) -> None:
    if kernels.library().pack_lanes() != 16:
        pytest.skip("the kernels here are built for 8 lanes: no 16-lane build to compare")
    weight, bias = layer(1000, 32, banned=(0, 1))
    out, u = draws(100, 32)
    wide = compiled(weight, bias, out, u)
    with eight_lane_kernels(tmp_path):
        assert kernels.library().pack_lanes() == 8
        narrow = compiled(weight, bias, out, u)
    assert torch.equal(wide, narrow)


def generator(compiled_sampler: bool) -> RNNGenerator:
    torch.manual_seed(0)
    return RNNGenerator(vocab_size=300, embedding_size=8, hidden_size=16, init_std=0.5,
                        compiled_sampler=compiled_sampler)


def test_the_generator_samples_with_torchs_sampler_by_default() -> None:
    assert RNNGenerator(vocab_size=10, embedding_size=4, hidden_size=4).compiled_sampler is False


@needs_kernels
def test_the_generators_compiled_draws_match_torchs_but_where_round_off_decides() -> None:
    torch.manual_seed(5)
    fast = generator(True).sample(400, 12)
    torch.manual_seed(5)
    plain = generator(False).sample(400, 12)
    same_rows = (fast.tokens == plain.tokens).all(1).float().mean() if fast.tokens.shape == plain.tokens.shape else 0
    assert same_rows >= 0.99  # a row differs from its first differing id on


@needs_kernels
def test_the_compiled_layout_follows_the_weights_when_they_change() -> None:
    g = generator(True)
    out = torch.randn(64, 16)
    before = g.sample_next(out)
    with torch.no_grad():  # an optimizer's in-place update: id 42 now takes nearly all the mass
        g.head.bias[42] += 100.0
    after = g.sample_next(out)
    assert not torch.equal(before, after) and (after == 42).all()


@needs_kernels
@pytest.mark.parametrize("temperature", [0.5, 0.9, 1.7])
def test_a_temperature_draws_torchs_tempered_ids_but_where_round_off_decides(temperature: float) -> None:
    weight, bias = layer(700, 16, banned=(0, 5))
    out, u = draws(2000, 16)
    lib = kernels.library()
    got = sampling.sample_compiled(lib, out, sampling.compiled_head(lib, weight, bias, temperature), u)
    want = sampling.sample_logits(out @ weight.t() + bias, temperature, u=u)
    assert (got == want).float().mean() >= 0.999
    assert not ((got == 0) | (got == 5)).any()


@needs_kernels
def test_the_generator_draws_at_a_temperature_by_the_compiled_sampler() -> None:
    torch.manual_seed(5)
    fast = generator(True).sample(400, 12, temperature=0.7)
    torch.manual_seed(5)
    plain = generator(False).sample(400, 12, temperature=0.7)
    assert fast.tokens.shape == plain.tokens.shape
    assert (fast.tokens == plain.tokens).all(1).float().mean() >= 0.99  # at T = 1 the rows would differ


@needs_kernels
def test_a_row_of_nan_logits_draws_an_id_of_the_padded_layer_without_reading_past_it() -> None:
    weight, bias = layer(100, 4)
    out, u = draws(3, 4)
    out[1] = float("nan")  # a diverged model's outputs
    ids = compiled(weight, bias, out, u)
    reference = compiled(weight, bias, out[[0, 2]], u[[0, 2]])
    assert torch.equal(ids[[0, 2]], reference) and 0 <= int(ids[1]) < 128  # the padded layer: 2 blocks of 64


def test_torchs_fused_sampler_refuses_a_temperature_it_cannot_apply() -> None:
    with pytest.raises(ValueError, match="temperature 1 only"):
        generator(False).sample_next(torch.randn(3, 16), temperature=0.7)
