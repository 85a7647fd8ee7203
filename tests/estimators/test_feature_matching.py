"""Feature matching: the matching gradient reaches the generator, and it is the gradient of the loss
(finite differences in float64 with fixed Gumbel noise)."""

from __future__ import annotations

import pytest
import torch

from textgan.api.builders import make_estimator
from textgan.data.batching import TokenBatch
from textgan.estimators.gumbel_sampling import gumbel_noise
from textgan.models.discriminator import CNNDiscriminator
from textgan.models.generator import RNNGenerator

pytestmark = pytest.mark.usefixtures("one_thread")

VOCAB, STEPS, BATCH = 11, 5, 6


def models(eos: int | None) -> tuple[RNNGenerator, CNNDiscriminator]:
    torch.manual_seed(0)
    g = RNNGenerator(vocab_size=VOCAB, embedding_size=4, hidden_size=6, banned_ids=(0, 1), eos_id=eos, init_std=0.5)
    d = CNNDiscriminator(input_mode="distributions", vocab_size=VOCAB, embedding_size=5, filter_sizes=[2, 3],
                         num_filters=[4, 4], dropout=0.0)
    return g.double(), d.double()


def real_batch() -> TokenBatch:
    tokens = torch.randint(3, VOCAB, (BATCH, STEPS), generator=torch.Generator().manual_seed(1))
    return TokenBatch(tokens, torch.full((BATCH,), STEPS))


DISTANCES = [{"distance": "mmd", "mmd_estimator": "unbiased"}, {"distance": "mmd", "mmd_estimator": "biased"},
             {"distance": "fmd", "ot_iterations": 100}, {"distance": "fmd", "ot_solver": "sinkhorn"}]


@pytest.mark.parametrize("mode", ["soft", "straight_through"])
@pytest.mark.parametrize("options", DISTANCES, ids=lambda o: "-".join(map(str, o.values())))
def test_the_matching_gradient_reaches_every_generator_parameter(mode: str, options: dict) -> None:
    g, d = models(eos=2)
    est = make_estimator("feature_matching", max_len=STEPS, mode=mode, beta=3.0, **options)
    loss, logs = est.generator_loss(g, d, real_batch(), 0)
    loss.backward()
    for name, p in g.named_parameters():
        assert p.grad is not None and bool(torch.isfinite(p.grad).all()) and float(p.grad.abs().sum()) > 0, name
    assert all(p.grad is None for p in d.parameters())  # D is frozen in the generator's loss
    assert logs["g_loss"] == float(loss.detach())


@pytest.mark.parametrize("options", DISTANCES[:2] + [{"distance": "fmd", "ot_iterations": 3000,
                                                      "ot_regulariser": 0.05}],
                         ids=lambda o: "-".join(map(str, o.values())))
def test_matching_gradient_matches_finite_differences(options: dict) -> None:
    """Soft mode, float64, fixed Gumbel noise: the loss is a smooth function of the generator's parameters as
    long as no hard token changes (asserted at both perturbed points)."""
    g, d = models(eos=None)
    est = make_estimator("feature_matching", max_len=STEPS, mode="soft", beta=2.0, **options)
    noise = gumbel_noise((BATCH, STEPS, VOCAB), dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    real = real_batch()

    def loss_and_tokens() -> tuple[torch.Tensor, torch.Tensor]:
        fake = est.sample(g, BATCH, torch.device("cpu"), noise=noise)
        return est.matching_loss(d, real, fake), fake.tokens

    loss, tokens = loss_and_tokens()
    params = list(g.parameters())
    grads = torch.autograd.grad(loss, params)
    directions = [torch.randn(p.shape, dtype=p.dtype, generator=torch.Generator().manual_seed(3 + i))
                  for i, p in enumerate(params)]
    analytic = sum(float((gr * u).sum()) for gr, u in zip(grads, directions))
    h = 1e-6
    values = []
    with torch.no_grad():
        for sign in (1.0, -1.0):
            for p, u in zip(params, directions):
                p.add_(sign * h * u)
            value, moved_tokens = loss_and_tokens()
            assert torch.equal(moved_tokens, tokens)  # no hard token changed: the same smooth piece
            values.append(float(value))
            for p, u in zip(params, directions):
                p.sub_(sign * h * u)
    numeric = (values[0] - values[1]) / (2 * h)
    assert abs(analytic) > 1e-6
    assert numeric == pytest.approx(analytic, rel=1e-5)


@pytest.mark.parametrize("highway", [True, False])
@pytest.mark.parametrize("steps", [1, 5])
def test_features_are_what_the_output_layer_reads(highway: bool, steps: int) -> None:
    """CNNDiscriminator.features = the layer before dropout and the head: head(features) is D's logit (eval)."""
    torch.manual_seed(0)
    d = CNNDiscriminator(input_mode="distributions", vocab_size=VOCAB, embedding_size=5, filter_sizes=[2, 3],
                         num_filters=[4, 3], dropout=0.5, highway=highway).eval()
    x = torch.softmax(torch.randn(4, steps, VOCAB), -1)
    features = d.features(x)
    assert features.shape == (4, 7)
    torch.testing.assert_close(d.head(features).squeeze(-1), d(x))
