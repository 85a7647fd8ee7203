"""Tests for the CNN sequence discriminator and the GRU behaviour discriminator."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F

from tests.helpers import preset_cnn
from textgan.config import DISCRIMINATOR_PRESETS, DiscriminatorConfig
from textgan.models.behaviour_discriminator import GRUBehaviourDiscriminator
from textgan.models.discriminator import CNNDiscriminator
from textgan.models.length_groups import GROUP_ROWS, length_groups

V = 12  # PAD, BOS, EOS, UNK + 8 real tokens


def make(input_mode: str = "tokens", preset: str = "small", **kw: Any) -> CNNDiscriminator:
    torch.manual_seed(0)
    args: dict[str, Any] = {"vocab_size": V} if input_mode != "features" else {"feature_size": 7}
    args.update(kw)
    return preset_cnn(preset, input_mode, **args)


def random_tokens(b: int, t: int, *, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(4, V, (b, t), generator=g)
    x[:, -2:] = 0  # right padding
    return x


# ---------------------------------------------------------------------------- CNN shapes
@pytest.mark.parametrize(
    "mode,x",
    [
        ("tokens", random_tokens(5, 9)),
        ("distributions", torch.softmax(torch.randn(5, 9, V, generator=torch.Generator().manual_seed(1)), -1)),
        ("features", torch.randn(5, 9, 7, generator=torch.Generator().manual_seed(2))),
    ],
)
def test_output_shape_per_mode(mode: str, x: torch.Tensor) -> None:
    d = make(mode)
    out = d(x)
    assert out.shape == (5,)
    assert torch.isfinite(out).all()
    assert d.embed(x).shape == (5, 9, 64 if mode != "features" else 7)


def test_features_mode_embed_is_identity() -> None:
    d = make("features")
    x = torch.randn(2, 4, 7)
    assert d.embed(x) is x


@pytest.mark.parametrize("mode", ["tokens", "features"])
def test_short_sequence_with_seqgan_widths(mode: str) -> None:
    d = make(mode, "seqgan").eval()
    x = random_tokens(4, 3) if mode == "tokens" else torch.randn(4, 3, 7)
    out = d(x)
    assert out.shape == (4,) and torch.isfinite(out).all()
    # Implicit zero padding to the widest filter (20) equals explicit padding.
    pad = torch.zeros(4, 17, dtype=torch.long) if mode == "tokens" else torch.zeros(4, 17, 7)
    torch.testing.assert_close(out, d(torch.cat([x, pad], dim=1)))


def test_seqgan_preset_values() -> None:
    seqgan = DISCRIMINATOR_PRESETS["seqgan"]
    assert tuple(seqgan.filter_sizes) == (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20)
    assert tuple(seqgan.num_filters) == (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160)
    assert seqgan.embedding_size == 64
    assert seqgan.dropout == pytest.approx(0.25)
    assert seqgan.l2_head == pytest.approx(0.2)
    d = make("tokens", "seqgan")
    assert d.head.in_features == 1720


def test_distributions_one_hot_equals_tokens() -> None:
    tok = make("tokens").eval()
    dist = make("distributions").eval()
    dist.load_state_dict(tok.state_dict())
    x = random_tokens(6, 8)  # includes PAD columns
    one_hot = F.one_hot(x, V).float()
    # Token rows are scored up to their last non-PAD id; the soft front end is told the lengths.
    torch.testing.assert_close(dist.forward_embedded(dist.embed(one_hot), tok.token_lengths(x)), tok(x))
    torch.testing.assert_close(dist(one_hot[:, :6]), tok(x[:, :6]))  # no PAD column: the same without lengths
    torch.testing.assert_close(dist.embed(one_hot), tok.embed(x))


def test_gradients_reach_distributions_not_pad_row() -> None:
    d = make("distributions").eval()
    probs = torch.softmax(torch.randn(3, 8, V), -1).requires_grad_(True)
    d(probs).sum().backward()
    assert probs.grad is not None
    assert torch.isfinite(probs.grad).all() and probs.grad.abs().sum() > 0
    # The PAD column of the input and the PAD embedding row get no gradient (PAD embeds to 0).
    assert probs.grad[..., 0].abs().max() == 0
    emb_grad = d.embedding.weight.grad  # type: ignore[union-attr]
    assert emb_grad is not None and emb_grad[0].abs().max() == 0 and emb_grad[5].abs().sum() > 0


def test_eval_is_deterministic_train_is_not() -> None:
    d = make("tokens", dropout=0.5)
    x = random_tokens(16, 10)
    d.train()
    assert not torch.equal(d(x), d(x))
    d.eval()
    torch.testing.assert_close(d(x), d(x), rtol=0, atol=0)


def test_head_parameters_are_the_output_layer() -> None:
    d = make("tokens")
    head = list(d.head_parameters())
    assert [p.shape for p in head] == [torch.Size([1, 4 * 64]), torch.Size([1])]  # "small": 4 widths x 64
    assert head[0] is d.head.weight and head[1] is d.head.bias


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"input_mode": "tokens", "vocab_size": V, "filter_sizes": [2, 3], "num_filters": [4]}, "one filter count"),
        ({"input_mode": "tokens", "vocab_size": V, "filter_sizes": [], "num_filters": []}, "empty"),
        ({"input_mode": "tokens", "vocab_size": V, "filter_sizes": [0, 3], "num_filters": [4, 4]}, "filter_sizes"),
        ({"input_mode": "tokens", "vocab_size": V, "filter_sizes": [2, 3], "num_filters": [4, -1]}, "num_filters"),
        ({"input_mode": "tokens", "vocab_size": 0, "filter_sizes": [2], "num_filters": [4]}, "vocab_size"),
        ({"input_mode": "distributions", "filter_sizes": [2], "num_filters": [4]}, "vocab_size"),
        ({"input_mode": "features", "filter_sizes": [2], "num_filters": [4]}, "feature_size"),
        ({"input_mode": "pixels", "vocab_size": V, "filter_sizes": [2], "num_filters": [4]}, "input_mode"),
        ({"input_mode": "tokens", "vocab_size": V, "filter_sizes": [2], "num_filters": [4], "dropout": 1.0}, "dropout"),
        ({"input_mode": "tokens", "vocab_size": V, "filter_sizes": [2], "num_filters": [4], "pad_id": V}, "pad_id"),
    ],
)
def test_bad_constructor_args(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CNNDiscriminator(**kwargs)


@pytest.mark.parametrize(
    "mode,x",
    [
        ("tokens", torch.ones(2, 5)),  # float, not long
        ("tokens", torch.ones(2, 5, 3, dtype=torch.long)),
        ("distributions", torch.ones(2, 5, V + 1)),
        ("features", torch.ones(2, 5, 6)),
    ],
)
def test_bad_inputs(mode: str, x: torch.Tensor) -> None:
    with pytest.raises(ValueError, match=mode):
        make(mode)(x)


def test_learns_contains_token_5() -> None:
    """Toy task: does the sequence contain token 5? 200 Adam steps reach > 90% (untrained: ~50%)."""
    torch.manual_seed(0)
    d = preset_cnn("small", "tokens", vocab_size=V)
    opt = torch.optim.Adam(d.parameters(), lr=1e-3)
    others = torch.tensor([t for t in range(4, V) if t != 5])

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = others[torch.randint(len(others), (n, 12))]
        y = torch.rand(n) < 0.5
        pos = torch.randint(12, (n,))
        x[y, pos[y]] = 5
        return x, y.float()

    for _ in range(200):  # converges in ~50 steps; margin for seeds/platforms
        x, y = batch(64)
        loss = F.binary_cross_entropy_with_logits(d(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    d.eval()
    x, y = batch(1000)
    acc = ((d(x) > 0).float() == y).float().mean().item()
    assert acc > 0.9, acc


# ---------------------------------------------------------------------------- behaviour D
def test_behaviour_shape_and_lengths() -> None:
    torch.manual_seed(0)
    d = GRUBehaviourDiscriminator(feature_size=6, hidden_size=8, mlp_hidden=8).eval()
    x = torch.randn(4, 7, 6)
    assert d(x).shape == (4,)
    lengths = torch.tensor([7, 3, 1, 5])
    out = d(x, lengths)
    assert out.shape == (4,) and torch.isfinite(out).all()
    # Packing skips padding: garbage after each length does not change the score,
    # and each packed score equals the score of the truncated sequence alone.
    x2 = x.clone()
    for i, n in enumerate(lengths.tolist()):
        x2[i, n:] = 100.0
    torch.testing.assert_close(d(x2, lengths), out)
    for i, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(d(x[i : i + 1, :n]), out[i : i + 1])
    # Without lengths, the padding is read and the score changes.
    assert not torch.allclose(d(x2), d(x))


def test_behaviour_uses_backward_direction() -> None:
    """With the forward GRU silenced (its state stays 0), the score must still depend on the input
    via the backward direction, and still ignore padding past each length."""
    torch.manual_seed(0)
    d = GRUBehaviourDiscriminator(feature_size=3, hidden_size=8, mlp_hidden=8).eval()
    with torch.no_grad():
        for name, p in d.rnn.named_parameters():
            if not name.endswith("_reverse"):
                p.zero_()  # forward direction: z = 0.5, candidate = 0 -> h stays 0
    x = torch.randn(5, 6, 3)
    lengths = torch.tensor([6, 2, 4, 1, 3])
    out = d(x, lengths)
    assert out.std() > 1e-4  # varies across inputs
    x2 = x.clone()
    for i, n in enumerate(lengths.tolist()):
        x2[i, n:] = -50.0
    torch.testing.assert_close(d(x2, lengths), out)


@pytest.mark.parametrize(
    "kwargs,match",
    [({"feature_size": 0}, "feature_size"), ({"feature_size": 3, "hidden_size": 0}, "hidden_size"),
     ({"feature_size": 3, "dropout": -0.1}, "dropout")],
)
def test_behaviour_bad_args(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        GRUBehaviourDiscriminator(**kwargs)


def test_behaviour_bad_inputs() -> None:
    d = GRUBehaviourDiscriminator(feature_size=3)
    with pytest.raises(ValueError, match="features"):
        d(torch.randn(2, 4, 5))
    with pytest.raises(ValueError, match="lengths"):
        d(torch.randn(2, 4, 3), torch.tensor([0, 4]))
    with pytest.raises(ValueError, match="lengths"):
        d(torch.randn(2, 4, 3), torch.tensor([5, 4]))


def test_behaviour_learns_toy_separation() -> None:
    """Real = random-walk sequences (smooth), fake = i.i.d. noise of the same marginal scale."""
    torch.manual_seed(0)
    d = GRUBehaviourDiscriminator(feature_size=4, hidden_size=16, mlp_hidden=16)
    opt = torch.optim.Adam(d.parameters(), lr=3e-3)

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        steps = torch.randn(n, 10, 4) * 0.3
        real = steps.cumsum(1)
        fake = torch.randn(n, 10, 4) * real.std()
        x = torch.cat([real, fake])
        y = torch.cat([torch.ones(n), torch.zeros(n)])
        lengths = torch.randint(5, 11, (2 * n,))
        return x, y, lengths

    for _ in range(150):
        x, y, lengths = batch(32)
        loss = F.binary_cross_entropy_with_logits(d(x, lengths), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    d.eval()
    x, y, lengths = batch(500)
    with torch.no_grad():
        acc = ((d(x, lengths) > 0).float() == y).float().mean().item()
    assert acc > 0.9, acc


# ---------------------------------------------------------------------------- one function of a token sequence
def ragged_tokens(b: int, t: int, seed: int = 0) -> torch.Tensor:
    """Rows of lengths 1..t (PAD after), in random order."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(4, V, (b, t), generator=g)
    lengths = torch.randint(1, t + 1, (b,), generator=g)
    return x.masked_fill(torch.arange(t) >= lengths.unsqueeze(1), 0)


@pytest.mark.parametrize("preset,b,t", [("small", 9, 12), ("seqgan", 40, 33), ("seqgan", 6, 7), ("seqgan", 70, 24)])
def test_token_rows_scored_as_if_alone(preset: str, b: int, t: int) -> None:
    d = make("tokens", preset).eval()
    x = ragged_tokens(b, t)
    alone = torch.cat([d(row[: max(int(n), 1)].unsqueeze(0)) for row, n in zip(x, d.token_lengths(x))])
    with torch.no_grad():
        torch.testing.assert_close(d(x), alone, atol=1e-5, rtol=1e-5)
        more_padding = torch.cat([x, torch.zeros(b, 9, dtype=torch.long)], dim=1)
        torch.testing.assert_close(d(more_padding), alone, atol=1e-5, rtol=1e-5)
        # ... and through the embedded path told the lengths (the soft front ends, a gradient penalty)
        torch.testing.assert_close(d.forward_embedded(d.embed(x), d.token_lengths(x)), alone, atol=1e-5, rtol=1e-5)


SHORT_AND_LONG = [3 + i % 8 for i in range(48)] + [30 + i % 6 for i in range(16)]  # two groups: short, long


@pytest.mark.parametrize("lengths,pad_row", [(list(range(1, 16)) * 3, 0.0), (list(range(1, 34)) * 2, 0.0), ([2], 0.0),
                                             (SHORT_AND_LONG, 0.0), (SHORT_AND_LONG, 0.5)])
def test_windows_on_padding_alone_are_skipped_without_changing_values_or_gradients(lengths: list[int],
                                                                                  pad_row: float) -> None:
    """The token path leaves out the windows that start past a group's longest row (their conv output is the bias);
    the embedded path told the lengths convolves every window. Same logits and gradients; with a PAD row that is
    not zero nothing may be left out, and the two still agree."""
    d = make("tokens", "seqgan").eval()
    with torch.no_grad():
        d.embedding.weight[0] = pad_row
    g = torch.Generator().manual_seed(3)
    x = torch.randint(4, V, (len(lengths), max(lengths)), generator=g)
    x = x.masked_fill(torch.arange(max(lengths)) >= torch.tensor(lengths).unsqueeze(1), 0)  # PAD past each length
    x = x[torch.randperm(len(x), generator=g)]

    def gradients(score: torch.Tensor) -> dict[str, torch.Tensor]:
        d.zero_grad()
        (score * torch.linspace(-1, 1, len(score))).sum().backward()
        return {name: p.grad.clone() for name, p in d.named_parameters() if p.grad is not None}

    skipped, every = d(x), d.forward_embedded(d.embed(x), d.token_lengths(x))
    torch.testing.assert_close(skipped, every, atol=1e-6, rtol=1e-6)
    grads_skipped, grads_every = gradients(skipped), gradients(d.forward_embedded(d.embed(x), d.token_lengths(x)))
    assert grads_skipped.keys() == grads_every.keys()
    for name in grads_every:
        torch.testing.assert_close(grads_skipped[name], grads_every[name], atol=1e-6, rtol=1e-5, msg=name)


@pytest.mark.parametrize("preset", ["small", "seqgan"])
def test_without_padding_the_grouped_forward_is_the_plain_one(preset: str) -> None:
    d = make("tokens", preset)
    x = torch.randint(4, V, (8, 21), generator=torch.Generator().manual_seed(2))  # no PAD: nothing to remove
    torch.manual_seed(5)
    grouped = d(x)
    torch.manual_seed(5)
    plain = d.forward_embedded(d.embed(x))  # the whole-batch path, dropout on
    torch.testing.assert_close(grouped, plain, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("widths", [[20] * 64, list(range(20, 84)), [20] * 50 + [37] * 14, [5, 9], []])
def test_length_groups_partition_the_rows(widths: list[int]) -> None:
    groups = length_groups(widths)
    assert [start for start, _ in groups] == [0, *[stop for _, stop in groups[:-1]]][:len(groups)]
    assert (groups[-1][1] if groups else 0) == len(widths)
    assert all(stop % GROUP_ROWS == 0 for _, stop in groups[:-1])
    if widths and len(set(widths)) == 1:
        assert len(groups) == 1  # equal lengths: one group, the plain batch


def test_precision_is_fp32_by_default_and_checked() -> None:
    assert DiscriminatorConfig().precision == "fp32" and make("tokens").precision == "fp32"
    with pytest.raises(ValueError, match="precision"):
        make("tokens", precision="fp16")


BF16_TOLERANCE = 0.05  # logits of SeqGAN's CNN (|logit| < ~2 at init): bf16 keeps 8 significant bits


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device"))])
@pytest.mark.parametrize("mode", ["tokens", "distributions"])
def test_bf16_logits_within_tolerance_of_fp32(device: str, mode: str) -> None:
    full = make(mode, "seqgan").eval().to(device)
    half = make(mode, "seqgan", precision="bf16").eval().to(device)
    half.load_state_dict(full.state_dict())
    x = ragged_tokens(32, 30, seed=4).to(device)
    if mode == "distributions":
        x = F.one_hot(x, V).float()
    with torch.no_grad():
        reference, reduced = full(x), half(x)
    assert reduced.dtype == torch.float32 and reduced.device.type == device
    torch.testing.assert_close(reduced, reference, atol=BF16_TOLERANCE, rtol=0)
    assert not torch.equal(reduced, reference)  # bf16 arithmetic did run
