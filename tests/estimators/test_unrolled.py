"""Unrolled discriminator (Metz et al. 2016): k = 0 is the plain loss, k > 0 changes the generator's gradient, and
one SGD step on a linear D matches the hand-derived gradient including the term through dtheta_D / dtheta_G."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tests.helpers import estimator as make_estimator
from tests.helpers import preset_cnn
from textgan.data.batching import TokenBatch
from textgan.data.tokenizers import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from textgan.estimators.unrolled import call_with, unrolled_parameters
from textgan.models.generator import RNNGenerator


def test_one_step_on_a_linear_d_matches_the_hand_gradient() -> None:
    torch.manual_seed(0)
    d = torch.nn.Linear(3, 1)
    real = torch.tensor([[0.5, -1.0, 2.0]])
    theta_g = torch.tensor([[0.3, 0.8, -0.4]], requires_grad=True)  # the "generator": its sample is theta_g
    lr = 0.7

    def d_loss(params: dict[str, torch.Tensor]) -> torch.Tensor:
        # -log sigmoid(D(real)) - log(1 - sigmoid(D(fake)))
        return F.softplus(-call_with(d, params, real)).sum() + F.softplus(call_with(d, params, theta_g)).sum()

    params = unrolled_parameters(d, d_loss, 1, lr)
    loss = F.softplus(-call_with(d, params, theta_g)).sum()  # non-saturating G loss through D^1
    (grad,) = torch.autograd.grad(loss, theta_g)

    # by hand: w1 = w - lr (-s(-D(r)) r + s(D(f)) f), b1 = b - lr (-s(-D(r)) + s(D(f))), L = softplus(-D1(f)),
    # dL/df = g w1 - lr g (s'(D(f)) (f . f) w + s(D(f)) f) - lr g s'(D(f)) w with g = -s(-D1(f)), s' = s (1 - s)
    with torch.no_grad():
        w, b, f, r = d.weight[0], d.bias[0], theta_g[0], real[0]
        s = torch.sigmoid
        d_f, d_r = w @ f + b, w @ r + b
        w1 = w - lr * (-s(-d_r) * r + s(d_f) * f)
        b1 = b - lr * (-s(-d_r) + s(d_f))
        g = -s(-(w1 @ f + b1))
        s_prime = s(d_f) * (1 - s(d_f))
        hand = g * w1 - lr * g * (s_prime * (f @ f) * w + s(d_f) * f) - lr * g * s_prime * w
        without_d_term = g * w1  # D^1 treated as a constant
    torch.testing.assert_close(grad[0], hand, atol=1e-6, rtol=1e-6)
    assert (grad[0] - without_d_term).abs().max() > 1e-3
    assert d.weight.grad is None  # D's own parameters untouched


def test_zero_steps_score_exactly_as_the_module() -> None:
    torch.manual_seed(0)
    d = preset_cnn("small", "distributions", vocab_size=10, spectral_norm=True).eval()
    x = torch.softmax(torch.randn(4, 6, 10), -1)
    params = unrolled_parameters(d, lambda p: call_with(d, p, x).sum(), 0, 0.1)
    assert all(torch.equal(params[n], p) for n, p in d.named_parameters())
    assert torch.equal(call_with(d, params, x), d(x))


def generator() -> RNNGenerator:
    torch.manual_seed(0)
    return RNNGenerator(vocab_size=14, embedding_size=8, hidden_size=12, init_std=0.3,
                        banned_ids=[PAD_ID, BOS_ID, UNK_ID, EOS_ID], eos_id=None)


def gumbel_grads(steps: int, gan_loss: str = "nsgan", **d_options: object) -> tuple[torch.Tensor, torch.Tensor]:
    g = generator()
    torch.manual_seed(1)
    d = preset_cnn("small", "distributions", vocab_size=14, dropout=0.0, **d_options)
    if d.minibatch is not None:
        d.set_reference(torch.randint(4, 14, (5, 6), generator=torch.Generator().manual_seed(3)))
    estimator = make_estimator("gumbel", max_len=6, unroll_steps=steps, unroll_lr=0.5, gan_loss=gan_loss)
    real = TokenBatch(torch.randint(4, 14, (8, 6), generator=torch.Generator().manual_seed(2)), torch.full((8,), 6))
    torch.manual_seed(4)
    loss, _ = estimator.generator_loss(g, d, real, 3)
    loss.backward()
    assert all(p.grad is None for p in d.parameters())  # D's own update is not touched by the G loss
    return loss.detach(), torch.cat([p.grad.flatten() for p in g.parameters() if p.grad is not None])


@pytest.mark.parametrize("gan_loss", ["nsgan", "rsgan"])
def test_gumbel_unrolled_changes_the_generator_gradient(gan_loss: str) -> None:
    loss0, grad0 = gumbel_grads(0, gan_loss)
    loss2, grad2 = gumbel_grads(2, gan_loss)
    assert not torch.equal(grad0, grad2) and (grad0 - grad2).abs().max() > 1e-6
    assert not torch.equal(loss0, loss2)


def test_gumbel_unrolled_with_minibatch_and_spectral_norm() -> None:
    loss, grad = gumbel_grads(1, minibatch_kernels=3, spectral_norm=True)
    assert torch.isfinite(loss) and torch.isfinite(grad).all() and grad.abs().sum() > 0


def test_unrolled_forwards_leave_d_buffers_alone() -> None:
    torch.manual_seed(0)
    d = preset_cnn("small", "distributions", vocab_size=10, spectral_norm=True).train()
    x = torch.softmax(torch.randn(4, 6, 10), -1)
    before = {n: b.clone() for n, b in d.named_buffers()}
    params = unrolled_parameters(d, lambda p: call_with(d, p, x).sum(), 2, 0.1)
    call_with(d, params, x).sum().backward()
    assert all(torch.equal(before[n], b) for n, b in d.named_buffers())
    d(x)  # a training-mode forward of D itself does run its power iteration
    assert not all(torch.equal(before[n], b) for n, b in d.named_buffers())
