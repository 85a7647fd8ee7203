"""The CNN's options against mode collapse: minibatch discrimination (Salimans et al. 2016) against a reference
batch, spectral normalisation (Miyato et al. 2018), and their state in the state dict."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tests.helpers import preset_cnn
from textgan.models.discriminator import CNNDiscriminator

V = 20


def make(input_mode: str = "tokens", **kw: object) -> CNNDiscriminator:
    torch.manual_seed(0)
    return preset_cnn("small", input_mode, vocab_size=V, **kw)


def diverse(n: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(4, V, (n, 9), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("input_mode", ["tokens", "distributions"])
def test_minibatch_feature_of_identical_batch_exceeds_diverse(input_mode: str) -> None:
    d = make(input_mode, minibatch_kernels=6, minibatch_kernel_dims=4).eval()
    x = diverse(1)
    with torch.no_grad():
        h = F.relu(d._pooled(d.embed_tokens(x), None))  # (1, F); x has no padding
        d.set_reference(x.repeat(16, 1))  # a collapsed batch: 16 copies of x
        same = d.minibatch_features(h)  # (1, C)
        d.set_reference(diverse(16, seed=2))
        spread = d.minibatch_features(h)
    # every distance to a copy is 0, so each kernel sums exp(0) = 1 sixteen times: the largest value possible
    torch.testing.assert_close(same, torch.full_like(same, 16.0))
    assert (spread < same).all()


def test_score_depends_only_on_the_sequence_and_the_reference() -> None:
    d = make(minibatch_kernels=5).eval()
    d.set_reference(diverse(8, seed=3))
    x = diverse(6)
    with torch.no_grad():
        together = d(x)
        alone = torch.cat([d(row.unsqueeze(0)) for row in x])
    torch.testing.assert_close(together, alone)


def test_minibatch_needs_a_reference_and_a_token_front_end() -> None:
    d = make(minibatch_kernels=2)
    with pytest.raises(RuntimeError, match="set_reference"):
        d(diverse(2))
    with pytest.raises(ValueError, match="features"):
        CNNDiscriminator(input_mode="features", feature_size=4, filter_sizes=[2], num_filters=[3], minibatch_kernels=2)
    with pytest.raises(ValueError, match="minibatch_kernels=0"):
        make().set_reference(diverse(2))


def test_reference_and_spectral_state_round_trip_through_the_state_dict() -> None:
    d = make(minibatch_kernels=3, spectral_norm=True).train()
    d.set_reference(diverse(7, seed=4))
    for _ in range(3):
        d(diverse(5))
    fresh = make(minibatch_kernels=3, spectral_norm=True)
    fresh.load_state_dict(d.state_dict())
    assert torch.equal(fresh.reference, d.reference)
    x = diverse(5, seed=9)
    with torch.no_grad():
        assert torch.equal(fresh.eval()(x), d.eval()(x))


def test_spectral_norm_makes_largest_singular_value_one() -> None:
    d = make(spectral_norm=True, minibatch_kernels=3).train()
    d.set_reference(diverse(4, seed=5))
    with torch.no_grad():
        for layer in [*d.convs, d.head, d.highway.proj]:
            layer.parametrizations.weight.original.mul_(7.0)  # far from norm 1 to start
        for _ in range(20):
            d(diverse(8))
    layers = [*d.convs, d.head, d.highway.proj]
    assert len(layers) == 6
    for layer in layers:
        weight = layer.weight.detach()
        matrix = weight.reshape(weight.size(0), -1)  # torch's spectral_norm: dim 0 kept, the rest flattened
        assert torch.linalg.matrix_norm(matrix, ord=2).item() == pytest.approx(1.0, abs=0.01)
