"""The compiled Adam step on a gradient left as factors (models/factored_adam.c through training/fused_step.py):
torch's Adam bit for bit on the same gradient, the same numbers at any thread count and lane width, and torch's
blocked path where the kernels are not built."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from tests.helpers import at_thread_counts, eight_lane_kernels
from textgan.models import kernels
from textgan.models.deferred_linear import DeferredLinear
from textgan.training import fused_step

needs_kernels = pytest.mark.skipif(not kernels.available(), reason="no C compiler: the compiled kernels are not built")
# torch's fused Adam rounds as the kernel only in its vector loop (x86's AVX2 and AVX-512 builds)
torch_vectorised = pytest.mark.skipif(torch.backends.cpu.get_cpu_capability() not in ("AVX2", "AVX512"),
                                      reason="torch's Adam runs its scalar loop here, which rounds otherwise")


def stepped(out: int, columns: int, betas: tuple[float, float], decay: float, scale: float | None,
            factors: str = "identity", steps: int = 3) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """A layer's weight and Adam state after `steps` fused steps on factors dy (B, out), x (B, in): x the identity
    (then dW = dy^T exactly, whatever the order of the sums) or random."""
    torch.manual_seed(0)
    layer = DeferredLinear(columns, out)
    opt = torch.optim.Adam([layer.weight], lr=0.05, betas=betas, weight_decay=decay, fused=True)
    for step in range(steps):
        g = torch.Generator().manual_seed(step)
        x = torch.eye(columns) if factors == "identity" else torch.randn(9, columns, generator=g)
        dy = torch.randn(x.shape[0], out, generator=g)
        layer.deferred.parts.append((dy, x))
        fused_step.step_fused(layer, opt, None if scale is None else torch.tensor(scale))
    state = opt.state[layer.weight]
    return layer.weight.detach().clone(), {k: v.clone() for k, v in state.items()}


def torch_adam(out: int, columns: int, betas: tuple[float, float], decay: float, scale: float | None,
               steps: int = 3) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The same steps by torch's fused Adam on dW = (dy scale)^T written out."""
    torch.manual_seed(0)
    layer = torch.nn.Linear(columns, out)
    opt = torch.optim.Adam([layer.weight], lr=0.05, betas=betas, weight_decay=decay, fused=True)
    for step in range(steps):
        g = torch.Generator().manual_seed(step)
        dy = torch.randn(columns, out, generator=g)
        if scale is not None:
            dy = dy * torch.tensor(scale)
        layer.weight.grad = dy.t().contiguous()
        opt.step()
    return layer.weight.detach().clone(), dict(opt.state[layer.weight])


# shapes: rows not a multiple of the 4-row tile, columns below, at and past a tile's span (64 or 16 floats); each
# a multiple of 16 parameters, so torch's fused Adam runs its vector loop on all of them (its scalar loop for the
# last few rounds otherwise)
@needs_kernels
@torch_vectorised
@pytest.mark.parametrize("out, columns", [(12, 20), (8, 64), (13, 80), (5, 48), (1, 16)])
@pytest.mark.parametrize("betas, decay, scale", [
    ((0.9, 0.999), 0.0, None), ((0.5, 0.99), 0.1, None), ((0.2, 0.9), 0.0, 0.37),
])
def test_the_step_is_torchs_adam_bit_for_bit(out: int, columns: int, betas: tuple[float, float], decay: float,
                                            scale: float | None) -> None:
    ours, our_state = stepped(out, columns, betas, decay, scale)
    theirs, their_state = torch_adam(out, columns, betas, decay, scale)
    assert torch.equal(ours, theirs)
    for key in ("exp_avg", "exp_avg_sq", "step"):
        assert torch.equal(our_state[key], their_state[key]), key


@needs_kernels
def test_the_same_numbers_at_any_thread_count() -> None:
    one, two = at_thread_counts((1, 2), lambda: stepped(1030, 70, (0.9, 0.999), 0.0, 0.5, factors="random"))
    assert torch.equal(one[0], two[0]) and all(torch.equal(one[1][k], two[1][k]) for k in one[1])


@needs_kernels
def test_the_same_numbers_at_either_lane_width(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    """Built for 16 lanes (4 x 4-vector tiles) or 8 (4 x 2-vector tiles; training takes torch's blocks there,
    kernels.wide), each sum runs over the factors' rows in the same order: bit-identical steps."""
    if kernels.library().factored_adam_span() != 64:
        pytest.skip("the kernels here are built for 8 lanes: no 16-lane build to compare")
    monkeypatch.setattr(kernels, "wide", lambda: kernels.library())  # the step takes the kernel at 8 lanes too
    wide = stepped(37, 150, (0.9, 0.999), 0.01, 0.5, factors="random")
    with eight_lane_kernels(tmp_path):
        assert kernels.library().factored_adam_span() == 16
        narrow = stepped(37, 150, (0.9, 0.999), 0.01, 0.5, factors="random")
    assert torch.equal(wide[0], narrow[0]) and all(torch.equal(wide[1][k], narrow[1][k]) for k in wide[1])


@needs_kernels
def test_training_takes_the_kernel_only_from_a_16_lane_build(tmp_path: Any) -> None:
    """Built for 8 lanes the compiled step ran slower than torch's blocks (kernels.wide): the step takes the blocks
    there, which give torch's Adam exactly where dW = dy^T."""
    assert (kernels.wide() is not None) == (kernels.library().factored_adam_span() == 64)
    with eight_lane_kernels(tmp_path):
        assert kernels.library().factored_adam_span() == 16 and kernels.wide() is None
        ours = stepped(30, 70, (0.9, 0.999), 0.0, 0.5)
    assert torch.equal(ours[0], torch_adam(30, 70, (0.9, 0.999), 0.0, 0.5)[0])


@pytest.mark.parametrize("factors", ["identity", "random"])
def test_without_the_kernels_torchs_blocks_give_the_step(monkeypatch: pytest.MonkeyPatch, factors: str) -> None:
    """Where no compiler built the kernels, the step forms each block of dW and steps it with torch's fused Adam:
    the same step, to round-off, as the kernel's (and as torch's Adam on dW written out)."""
    compiled = stepped(1030, 70, (0.9, 0.999), 0.0, 0.5, factors=factors) if kernels.available() else None
    monkeypatch.setattr(fused_step.kernels, "library", lambda: None)
    blocks = stepped(1030, 70, (0.9, 0.999), 0.0, 0.5, factors=factors)
    if factors == "identity":
        reference = torch_adam(1030, 70, (0.9, 0.999), 0.0, 0.5)
        assert torch.equal(blocks[0], reference[0])  # dW = dy^T exactly: the same Adam on the same gradient
    if compiled is not None:
        torch.testing.assert_close(blocks[0], compiled[0], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(blocks[1]["exp_avg_sq"], compiled[1]["exp_avg_sq"], rtol=1e-4, atol=1e-9)


@needs_kernels
def test_a_loaded_strided_state_and_tensor_settings_step_as_torchs() -> None:
    """Adam's moments loaded in another layout and a learning rate given as a tensor: the same step as torch's."""
    torch.manual_seed(0)
    layer, plain = DeferredLinear(16, 8), torch.nn.Linear(16, 8)
    plain.weight.data.copy_(layer.weight.data)
    ours = torch.optim.Adam([layer.weight], lr=torch.tensor(0.05), fused=True)
    theirs = torch.optim.Adam([plain.weight], lr=torch.tensor(0.05), fused=True)
    moments = {"step": torch.tensor(3.0), "exp_avg": torch.rand(16, 8).t(), "exp_avg_sq": torch.rand(16, 8).t()}
    ours.state[layer.weight] = dict(moments)
    theirs.state[plain.weight] = {k: v.clone(memory_format=torch.contiguous_format) for k, v in moments.items()}
    dy = torch.randn(16, 8)
    layer.deferred.parts.append((dy, torch.eye(16)))
    fused_step.step_fused(layer, ours, None)
    plain.weight.grad = dy.t().contiguous()
    theirs.step()
    assert torch.equal(layer.weight, plain.weight)
    assert torch.equal(ours.state[layer.weight]["exp_avg_sq"], theirs.state[plain.weight]["exp_avg_sq"])
