"""The compiled highway gate (models/highway_gate.py): bit-identical to torch's expression in values and
gradients, on ordinary values and on the edge cases of its ReLU and sigmoid, and differentiable twice."""

from __future__ import annotations

import pytest
import torch

from textgan.models import highway_gate, kernels

pytestmark = pytest.mark.skipif(not kernels.available(), reason="no C compiler for the compiled kernels")


def inputs(rows: int, width: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    p = torch.randn(rows, 2 * width, generator=g) * 3
    x = torch.randn(rows, width, generator=g)
    if rows > 1:  # the ReLU's and sigmoid's edges: zeros of both signs, a NaN, saturated gates
        p[0, :4] = torch.tensor([0.0, -0.0, float("nan"), 1e-30])
        p[1, width:width + 2] = torch.tensor([100.0, -100.0])
        x[0, :2] = torch.tensor([-0.0, 0.0])
    return p, x


def both(p: torch.Tensor, x: torch.Tensor, fn) -> tuple[torch.Tensor, ...]:
    p, x = p.clone().requires_grad_(), x.clone().requires_grad_()
    y = fn(p, x)
    gy = torch.randn(y.shape, generator=torch.Generator().manual_seed(9))
    y.backward(gy)
    return y.detach(), p.grad, x.grad


# (rows, width): SeqGAN's highway at batch 64, an odd width, one row, prefix-mode (B, T, D) inputs
@pytest.mark.parametrize("shape", [(64, 1720), (5, 7), (1, 3), (3, 4, 6)])
def test_values_and_gradients_are_torchs_bit_for_bit(shape: tuple[int, ...]) -> None:
    *lead, width = shape
    p, x = inputs(int(torch.tensor(lead).prod()), width, seed=len(shape) + width)
    p, x = p.view(*lead, 2 * width), x.view(*lead, width)
    want = both(p, x, highway_gate.expression)
    got = both(p, x, highway_gate.gate)
    for a, b in zip(got, want):
        assert a.shape == b.shape
        assert torch.equal(a.nan_to_num(7.0), b.nan_to_num(7.0))
        assert torch.equal(a.isnan(), b.isnan())


def test_a_gradient_of_the_gradient_is_torchs() -> None:
    """A penalty on the input gradient (R1, WGAN-GP) differentiates the gate twice."""
    p, x = inputs(4, 5, seed=3)
    results = []
    for fn in (highway_gate.expression, highway_gate.gate):
        pp, xx = p.clone().requires_grad_(), x.clone().requires_grad_()
        (gx,) = torch.autograd.grad(fn(pp, xx).square().sum(), xx, create_graph=True)
        gx.square().sum().backward()
        results.append((gx.detach(), pp.grad, xx.grad))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-6, atol=0, equal_nan=True)
