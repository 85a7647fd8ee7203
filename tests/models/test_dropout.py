"""models/dropout.py: the compiled dropout masks are dropout's (share, values, independence of neighbours), follow
torch's seed, do not depend on the thread count, and the layer is nn.Dropout wherever the masks do not apply."""

from __future__ import annotations

import math

import pytest
import torch

from tests.helpers import at_thread_counts
from textgan.models import kernels
from textgan.models.dropout import Dropout, mask

pytestmark = pytest.mark.skipif(not kernels.available(), reason="the compiled kernels could not be built here")


@pytest.mark.parametrize("p, shape", [(0.25, (200_001,)), (0.5, (100, 1000)), (0.1, (3, 50_001)), (0.9, (20_000, 5))])
def test_mask_is_dropout_of_rate_p(p: float, shape: tuple[int, ...]) -> None:
    torch.manual_seed(3)
    m = mask(torch.Size(shape), p)
    assert m.dtype == torch.float32 and m.shape == shape
    count = m.numel()
    m = m.flatten()
    dropped = m == 0
    assert torch.all(dropped | torch.isclose(m, torch.tensor(1 / (1 - p)), rtol=1e-6, atol=0))
    sd = math.sqrt(p * (1 - p) / count)
    assert abs(float(dropped.float().mean()) - p) < 5 * sd
    # the two elements of one 64-bit word, and neighbours across words, dropped together as often as apart
    for a, b in ((dropped[0:-1:2], dropped[1::2]), (dropped[1:-1:2], dropped[2::2])):
        both = float((a & b).float().mean())
        assert abs(both - p * p) < 5 * math.sqrt(p * p * (1 - p * p) / len(a))


def test_masks_follow_the_seed_and_advance_the_generator() -> None:
    torch.manual_seed(7)
    first, second = mask(torch.Size([64, 1720]), 0.25), mask(torch.Size([64, 1720]), 0.25)
    torch.manual_seed(7)
    assert torch.equal(mask(torch.Size([64, 1720]), 0.25), first)
    assert not torch.equal(first, second)


def test_mask_does_not_depend_on_the_thread_count_or_the_split_into_calls() -> None:
    def seeded_mask() -> torch.Tensor:
        torch.manual_seed(11)
        return mask(torch.Size([7, 1001]), 0.3)  # odd widths: a row ends on a word's high half

    masks = at_thread_counts((1, 2, 3), seeded_mask)
    assert all(torch.equal(masks[0], m) for m in masks[1:])
    torch.manual_seed(11)
    in_parts = torch.cat([mask(torch.Size([3, 1001]), 0.3), mask(torch.Size([4, 1001]), 0.3)])
    assert torch.equal(in_parts, masks[0])
    assert not torch.equal(masks[0][0], masks[0][1])  # every row its own mask


def test_layer_masks_in_training_and_passes_gradients_through_the_mask() -> None:
    layer = Dropout(0.25)
    x = torch.randn(32, 40, requires_grad=True)
    torch.manual_seed(5)
    y = layer(x)
    torch.manual_seed(5)
    expected = x.detach() * mask(x.shape, 0.25)
    torch.testing.assert_close(y, expected, rtol=0, atol=0)
    y.sum().backward()
    torch.testing.assert_close(x.grad, expected / x.detach(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_reduced_precision_takes_the_float32_masks_and_draws(dtype: torch.dtype) -> None:
    """A bf16 or fp16 input (autocast's activations) gets the masks an fp32 input gets at the same seed, the
    product rounded to its dtype, and leaves the generator where the fp32 call leaves it: runs at the two
    precisions stay comparable at one seed."""
    layer = Dropout(0.25)
    x = torch.randn(16, 40).to(dtype).requires_grad_()
    torch.manual_seed(3)
    y = layer(x)
    after = torch.rand(3)
    torch.manual_seed(3)
    expected = layer(x.detach().float()).to(dtype)
    assert y.dtype == dtype and torch.equal(y, expected)
    assert torch.equal(after, torch.rand(3))
    y.float().sum().backward()
    torch.manual_seed(3)
    dropped = mask(x.shape, 0.25) == 0
    assert x.grad is not None and x.grad.dtype == dtype and torch.equal(x.grad == 0, dropped)


@pytest.mark.parametrize("case", ["eval", "p=0", "float64", "inplace"])
def test_layer_is_nn_dropout_where_the_masks_do_not_apply(case: str) -> None:
    x = torch.randn(16, 24, dtype=torch.float64 if case == "float64" else torch.float32)
    ours = Dropout(0.0 if case == "p=0" else 0.4, inplace=case == "inplace")
    theirs = torch.nn.Dropout(ours.p, inplace=ours.inplace)
    if case == "eval":
        ours.eval(), theirs.eval()
    torch.manual_seed(2)
    a = ours(x.clone())
    torch.manual_seed(2)
    b = theirs(x.clone())
    assert torch.equal(a, b)
    assert ours.state_dict() == theirs.state_dict() == {}
