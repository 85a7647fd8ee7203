"""Tests for the shared GAN losses and the WGAN-GP gradient penalty."""

from __future__ import annotations

import math

import pytest
import torch

from textgan.estimators.losses import (
    LOSS_NAMES,
    check_label_smoothing,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    r1_penalty,
)

REAL = [2.0, -1.0]
FAKE = [0.5, -3.0]


def sig(z: float) -> float:
    return 1.0 / (1.0 + math.exp(-z))


def bce(z: float, y: float) -> float:
    """Binary cross-entropy of probability sigmoid(z) against target y, from the definition."""
    p = sig(z)
    return -(y * math.log(p) + (1.0 - y) * math.log(1.0 - p))


def mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


# Expected values written out from each paper's definition, independent of the implementation.
D_TABLE = {
    "bce": mean([-math.log(sig(r)) for r in REAL]) + mean([-math.log(1 - sig(f)) for f in FAKE]),
    "nsgan": mean([-math.log(sig(r)) for r in REAL]) + mean([-math.log(1 - sig(f)) for f in FAKE]),
    "rsgan": mean([-math.log(sig(r - f)) for r, f in zip(REAL, FAKE)]),
    "wgan-gp": mean(FAKE) - mean(REAL),
    "hinge": mean([max(0.0, 1 - r) for r in REAL]) + mean([max(0.0, 1 + f) for f in FAKE]),
}
G_TABLE = {
    "bce": mean([math.log(1 - sig(f)) for f in FAKE]),
    "nsgan": mean([-math.log(sig(f)) for f in FAKE]),
    "rsgan": mean([-math.log(sig(f - r)) for r, f in zip(REAL, FAKE)]),
    "wgan-gp": -mean(FAKE),
    "hinge": -mean(FAKE),
}


def test_loss_names() -> None:
    assert set(LOSS_NAMES) == {"bce", "nsgan", "rsgan", "wgan-gp", "hinge"}
    assert set(D_TABLE) == set(LOSS_NAMES)


@pytest.mark.parametrize("kind", sorted(D_TABLE))
def test_discriminator_loss_table(kind: str) -> None:
    got = discriminator_loss(kind, torch.tensor(REAL), torch.tensor(FAKE))  # type: ignore[arg-type]
    assert got.shape == ()
    assert got.item() == pytest.approx(D_TABLE[kind], rel=1e-6)


@pytest.mark.parametrize("kind", sorted(G_TABLE))
def test_generator_loss_table(kind: str) -> None:
    got = generator_loss(kind, torch.tensor(REAL), torch.tensor(FAKE))  # type: ignore[arg-type]
    assert got.shape == ()
    assert got.item() == pytest.approx(G_TABLE[kind], rel=1e-6)


@pytest.mark.parametrize("kind", ["bce", "nsgan", "wgan-gp", "hinge"])
def test_generator_loss_without_real(kind: str) -> None:
    got = generator_loss(kind, None, torch.tensor(FAKE))  # type: ignore[arg-type]
    assert got.item() == pytest.approx(G_TABLE[kind], rel=1e-6)


def test_rsgan_generator_needs_real() -> None:
    with pytest.raises(ValueError, match="real_logits"):
        generator_loss("rsgan", None, torch.tensor(FAKE))


def test_rsgan_needs_equal_shapes() -> None:
    with pytest.raises(ValueError, match="elementwise"):
        discriminator_loss("rsgan", torch.zeros(3), torch.zeros(2))
    with pytest.raises(ValueError, match="elementwise"):
        generator_loss("rsgan", torch.zeros(3), torch.zeros(2))


def test_stable_for_extreme_logits() -> None:
    big = torch.tensor([80.0, -80.0])
    for kind in LOSS_NAMES:
        assert torch.isfinite(discriminator_loss(kind, big, -big))  # type: ignore[arg-type]
        assert torch.isfinite(generator_loss(kind, big, -big))  # type: ignore[arg-type]
    # Saturating G loss at a confident D: log(1 - sigmoid(-80)) ~ -e^-80, not log(0).
    assert generator_loss("bce", None, torch.tensor([-80.0])).item() == pytest.approx(0.0, abs=1e-30)


def test_bce_label_smoothing_changes_only_real_term() -> None:
    s = 0.1
    real, fake = torch.tensor(REAL), torch.tensor(FAKE)
    for kind in ("bce", "nsgan"):
        got = discriminator_loss(kind, real, fake, label_smoothing=s).item()  # type: ignore[arg-type]
        expected = mean([bce(r, 1 - s) for r in REAL]) + mean([-math.log(1 - sig(f)) for f in FAKE])
        assert got == pytest.approx(expected, rel=1e-6)
        # The fake term is untouched: the gradient w.r.t. fake logits is the same with and without smoothing.
        grads = []
        for smoothing in (0.0, s):
            f = fake.clone().requires_grad_(True)
            discriminator_loss(kind, real, f, label_smoothing=smoothing).backward()  # type: ignore[arg-type]
            grads.append(f.grad)
        torch.testing.assert_close(grads[0], grads[1])
        assert got != pytest.approx(D_TABLE[kind], rel=1e-3)


def test_rsgan_label_smoothing() -> None:
    s = 0.2
    got = discriminator_loss("rsgan", torch.tensor(REAL), torch.tensor(FAKE), label_smoothing=s).item()
    assert got == pytest.approx(mean([bce(r - f, 1 - s) for r, f in zip(REAL, FAKE)]), rel=1e-6)


@pytest.mark.parametrize("kind", ["wgan-gp", "hinge"])
def test_label_smoothing_rejected_where_meaningless(kind: str) -> None:
    with pytest.raises(ValueError, match=kind):
        check_label_smoothing(kind, 0.1)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="label_smoothing"):
        discriminator_loss(kind, torch.tensor(REAL), torch.tensor(FAKE), label_smoothing=0.1)  # type: ignore[arg-type]
    check_label_smoothing(kind, 0.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [-0.1, 1.0, 1.5])
def test_label_smoothing_range(value: float) -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        check_label_smoothing("bce", value)


def test_unknown_kind() -> None:
    for fn in (
        lambda: discriminator_loss("lsgan", torch.zeros(2), torch.zeros(2)),  # type: ignore[arg-type]
        lambda: generator_loss("lsgan", None, torch.zeros(2)),  # type: ignore[arg-type]
        lambda: check_label_smoothing("lsgan", 0.0),  # type: ignore[arg-type]
    ):
        with pytest.raises(ValueError, match="hinge"):
            fn()


# ---------------------------------------------------------------------------- gradient penalty
def linear_critic(w: torch.Tensor):  # type: ignore[no-untyped-def]
    return lambda x: (x * w).sum(dim=tuple(range(1, x.dim())))


@pytest.mark.parametrize("norm,expected", [(1.0, 0.0), (2.0, 1.0), (0.5, 0.25)])
def test_gradient_penalty_linear_critic(norm: float, expected: float) -> None:
    torch.manual_seed(0)
    w = torch.randn(5, 3)
    w = (w / w.norm() * norm).requires_grad_(True)
    real, fake = torch.randn(8, 5, 3), torch.randn(8, 5, 3)
    gp = gradient_penalty(linear_critic(w), real, fake)
    assert gp.item() == pytest.approx(expected, abs=1e-6)
    # create_graph=True: the penalty backpropagates to the critic's parameters.
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||.
    gp.backward()
    assert w.grad is not None
    torch.testing.assert_close(w.grad, 2 * (norm - 1) * w.detach() / norm, atol=1e-5, rtol=1e-4)


def test_gradient_penalty_nonlinear_critic_depends_on_interpolation() -> None:
    # critic(x) = sum(x^2): grad = 2 x_hat, so the penalty depends on where x_hat lands.
    real = torch.ones(4, 2)
    fake = torch.zeros(4, 2)
    g = torch.Generator().manual_seed(3)
    eps = torch.rand(4, 1, generator=torch.Generator().manual_seed(3))
    gp = gradient_penalty(lambda x: (x**2).sum(1), real, fake, generator=g)
    expected = ((2 * eps.squeeze(1) * math.sqrt(2) - 1) ** 2).mean()
    assert gp.item() == pytest.approx(expected.item(), rel=1e-5)


def test_gradient_penalty_bad_inputs() -> None:
    with pytest.raises(ValueError, match="same shape"):
        gradient_penalty(lambda x: x.sum(1), torch.zeros(3, 2), torch.zeros(2, 2))
    with pytest.raises(ValueError, match="one score per sample"):
        gradient_penalty(lambda x: x, torch.zeros(3, 2), torch.zeros(3, 2))


@pytest.mark.parametrize("real,fake,acc_real,acc_fake,auc", [
    ([2.0, 3.0], [-1.0, -2.0], 1.0, 1.0, 1.0),
    ([5.0, 6.0], [1.0, 2.0], 1.0, 0.0, 1.0),     # an RSGAN critic: all positive, yet perfectly ordered
    ([0.5, -0.5], [0.0, 1.0], 0.5, 0.0, 0.25),   # of 4 pairs only 0.5 > 0.0 is ordered; 0.0 is not < 0
    ([-3.0], [-1.0, -2.0, -4.0], 0.0, 1.0, 1 / 3),
])
def test_accuracy_logs(real, fake, acc_real, acc_fake, auc) -> None:
    from textgan.estimators.common import accuracy_logs

    logs = accuracy_logs(torch.tensor(real), torch.tensor(fake))
    assert logs == pytest.approx({"d_acc_real": acc_real, "d_acc_fake": acc_fake, "d_auc": auc})


@pytest.mark.parametrize("scale", [0.5, 2.0])
def test_r1_penalty_against_hand_values(scale: float) -> None:
    x = torch.tensor([[[1.0, -2.0], [0.5, 0.0]], [[3.0, 1.0], [-1.0, 2.0]]])  # (B=2, T=2, E=2)
    # critic(x) = scale * sum x^2 per sample: grad 2 scale x, ||grad||^2 = 4 scale^2 ||x||^2; ||x_b||^2 = 5.25, 15
    quadratic = r1_penalty(lambda e: scale * e.pow(2).sum((1, 2)), x)
    assert float(quadratic.detach()) == pytest.approx(4 * scale**2 * (5.25 + 15) / 2)
    a = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    linear = r1_penalty(lambda e: (e * scale * a).sum((1, 2)) + 3.0, x)  # grad = scale a for every sample
    assert float(linear.detach()) == pytest.approx(scale**2 * 6.0)
    assert not x.requires_grad  # the real inputs themselves are left alone
