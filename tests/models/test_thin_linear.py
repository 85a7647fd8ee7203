"""The highway's forward product and input gradient by the compiled kernels (models/thin_linear.c through
models/thin_linear.py and the deferring layer of models/deferred_linear.py): x W^T + b and dy W to float round-off,
and the same numbers whatever the blocks of W's rows, the thread count or the lane width."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from tests.helpers import at_thread_counts, eight_lane_kernels
from textgan.models import kernels, thin_linear
from textgan.models.deferred_linear import DeferredGrad, DeferredLinear

needs_kernels = pytest.mark.skipif(not kernels.available(), reason="no C compiler: the compiled kernels are not built")


def operands(batch: int, columns: int, out: int, bias: bool) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Seeded x (batch, columns), W (out, columns) and b (out,) or None."""
    g = torch.Generator().manual_seed(batch * 1000 + columns * 10 + out)
    x, w = torch.randn(batch, columns, generator=g), torch.randn(out, columns, generator=g)
    return x, w, torch.randn(out, generator=g) if bias else None


def product(batch: int, columns: int, out: int, bias: bool, blocks: tuple[int, ...] = ()) -> torch.Tensor:
    """x W^T (+ b) by the kernel on `operands`, W's rows in the given blocks (cut points), (batch, out)."""
    x, w, b = operands(batch, columns, out, bias)
    lib = thin_linear.library(x, w, b)
    xt = thin_linear.transposed(lib, x, DeferredGrad().buffer)
    y = torch.full((batch, out), float("nan"))
    cuts = [0, *blocks, out]
    for start, stop in zip(cuts[:-1], cuts[1:]):
        thin_linear.rows(lib, w, xt, batch, b, y, start, stop)
    return y


def gradient_operands(batch: int, columns: int, out: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded dy (batch, out) and `operands`' W (out, columns)."""
    _, w, _ = operands(batch, columns, out, False)
    return torch.randn(batch, out, generator=torch.Generator().manual_seed(out)), w


def input_grad(batch: int, columns: int, out: int) -> torch.Tensor:
    """dy W by the kernel, (batch, columns), on `gradient_operands`."""
    dy, w = gradient_operands(batch, columns, out)
    return thin_linear.input_grad(thin_linear.library(dy, w, None), w, dy, DeferredGrad().buffer)


# batch not a multiple of the lanes and above 64 (several vector groups); columns not a multiple of the tile's;
# out above the kernel's blocks of 128 rows of W
SHAPES = [(1, 1, 1), (5, 17, 7), (16, 64, 13), (64, 40, 37), (70, 33, 20), (3, 200, 6), (129, 9, 12), (64, 50, 300)]


@needs_kernels
@pytest.mark.parametrize(("batch", "columns", "out"), SHAPES)
def test_the_input_gradient_is_torchs_to_round_off(batch: int, columns: int, out: int) -> None:
    dy, w = gradient_operands(batch, columns, out)
    got = input_grad(batch, columns, out)
    assert got.shape == (batch, columns) and got.is_contiguous()
    torch.testing.assert_close(got, (dy.double() @ w.double()).float(), rtol=1e-5, atol=1e-5 * out ** 0.5)


@needs_kernels
@pytest.mark.parametrize(("batch", "columns", "out"), SHAPES)
@pytest.mark.parametrize("bias", [True, False])
def test_the_product_is_torchs_to_round_off(batch: int, columns: int, out: int, bias: bool) -> None:
    x, w, b = operands(batch, columns, out, bias)
    want = x.double() @ w.double().t()
    if b is not None:
        want += b.double()
    torch.testing.assert_close(product(batch, columns, out, bias), want.float(), rtol=1e-5, atol=1e-5)


@needs_kernels
@pytest.mark.parametrize("blocks", [(5,), (6, 12), (1, 2, 30), (36,)])
def test_blocks_of_rows_give_the_same_numbers(blocks: tuple[int, ...]) -> None:
    assert torch.equal(product(37, 50, 37, True, blocks), product(37, 50, 37, True))


@needs_kernels
@pytest.mark.parametrize("kernel", [lambda: product(64, 70, 103, True, (50,)), lambda: input_grad(64, 70, 303)])
def test_the_same_numbers_at_any_thread_count(kernel: Any) -> None:
    results = at_thread_counts((1, 2, 5), kernel)
    assert all(torch.equal(results[0], other) for other in results[1:])


@needs_kernels
def test_the_same_numbers_at_either_lane_width(tmp_path: Any) -> None:
    """Built for 16 lanes (6 rows x 4 vectors a tile) or 8 (3 x 4), each output of either kernel sums its terms in
    the same order."""
    if kernels.library().pack_lanes() != 16:
        pytest.skip("the kernels here are built for 8 lanes: no 16-lane build to compare")
    wide = product(70, 45, 40, True), input_grad(70, 45, 140)
    with eight_lane_kernels(tmp_path):
        assert kernels.library().pack_lanes() == 8
        narrow = product(70, 45, 40, True), input_grad(70, 45, 140)
    assert torch.equal(wide[0], narrow[0]) and torch.equal(wide[1], narrow[1])


@pytest.mark.parametrize(("case", "make"), [
    ("float64", lambda: (torch.ones(2, 3, dtype=torch.float64), torch.ones(4, 3, dtype=torch.float64), None)),
    ("strided weight", lambda: (torch.ones(2, 3), torch.ones(3, 4).t(), torch.ones(4))),
    ("strided bias", lambda: (torch.ones(2, 3), torch.ones(4, 3), torch.ones(4, 2)[:, 0])),
])
def test_what_the_kernel_cannot_read_goes_to_torch(case: str, make: Any) -> None:
    assert thin_linear.library(*make()) is None, case


def test_the_layers_training_forward_is_torchs_to_round_off() -> None:
    torch.manual_seed(0)
    layer, x = DeferredLinear(30, 14), torch.randn(9, 30)
    want = torch.nn.functional.linear(x, layer.weight, layer.bias)
    got = layer(x)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
    got.sum().backward()  # autograd through it as through torch's layer
    torch.testing.assert_close(layer.weight.grad, torch.ones(9, 14).t() @ x)


@pytest.mark.parametrize("create_graph", [False, True])
def test_the_layers_input_gradient_is_torchs_to_round_off(create_graph: bool) -> None:
    """The compiled dy W in a plain backward; torch's where the backward is differentiated again (create_graph), so
    a second derivative (a gradient penalty's) still flows to the weight."""
    torch.manual_seed(0)
    layer, x = DeferredLinear(30, 14), torch.randn(9, 30, requires_grad=True)
    dy = torch.randn(9, 14)
    (grad,) = torch.autograd.grad(layer(x), x, dy, create_graph=create_graph)
    torch.testing.assert_close(grad, dy @ layer.weight.detach(), rtol=1e-5, atol=1e-5)
    assert grad.requires_grad == create_graph
    if create_graph:
        (second,) = torch.autograd.grad(grad.square().sum(), layer.weight)
        torch.testing.assert_close(second, (2 * dy.t() @ (dy @ layer.weight.detach())), rtol=1e-5, atol=1e-5)


@needs_kernels
def test_layers_take_the_compiled_products_only_from_a_16_lane_build(tmp_path: Any) -> None:
    """Built for 8 lanes the kernels ran slower than torch's products (thin_linear.in_training): a layer keeps
    torch's there, while the kernels themselves stay callable."""
    x, w, b = operands(4, 8, 5, True)
    assert (thin_linear.in_training(x, w, b) is not None) == (kernels.library().pack_lanes() == 16)
    with eight_lane_kernels(tmp_path):
        assert kernels.library().pack_lanes() == 8
        assert thin_linear.library(x, w, b) is not None and thin_linear.in_training(x, w, b) is None
