"""The armed embedding (models/armed_embedding.py): torch's gradient bit for bit, written into a buffer reused
from step to step only in an armed backward into a weight without a gradient; torch's own everywhere else."""

from __future__ import annotations

import pytest
import torch

from textgan.models.armed_embedding import ArmedEmbedding
from textgan.models.deferred_linear import armed


def pair(padding_idx: int | None) -> tuple[torch.nn.Embedding, ArmedEmbedding]:
    torch.manual_seed(0)
    plain = torch.nn.Embedding(30, 6, padding_idx=padding_idx)
    ours = ArmedEmbedding(30, 6, padding_idx=padding_idx)
    ours.load_state_dict(plain.state_dict())
    return plain, ours


def tokens(step: int) -> torch.Tensor:  # repeated ids (summed in order) and the PAD id 0
    return torch.randint(0, 8, (5, 7), generator=torch.Generator().manual_seed(step))


def loss(module: torch.nn.Module, step: int) -> torch.Tensor:
    weights = torch.randn(5, 7, 6, generator=torch.Generator().manual_seed(100 + step))
    return (module(tokens(step)) * weights).sum()


# (padding_idx, armed, a gradient already there)
@pytest.mark.parametrize("padding_idx, is_armed, accumulate", [
    (0, True, False), (None, True, False), (0, False, False), (0, True, True),
])
def test_the_gradient_is_torchs_bit_for_bit(padding_idx: int | None, is_armed: bool, accumulate: bool) -> None:
    plain, ours = pair(padding_idx)
    for step in range(3):  # the buffer reused: each step's gradient is its own, not a sum with the last
        for module in (plain, ours):
            module.weight.grad = torch.ones_like(module.weight) if accumulate else None
            with armed(module, enabled=is_armed):
                loss(module, step).backward()
        assert torch.equal(ours.weight.grad, plain.weight.grad)
    if padding_idx is not None and not accumulate:
        assert not ours.weight.grad[padding_idx].any()
    reused = is_armed and not accumulate
    assert (ours.deferred._buffers.get("grad") is not None) == reused
    if reused:
        assert ours.weight.grad is ours.deferred._buffers["grad"]


def test_a_gradient_of_the_gradient_is_torchs() -> None:
    plain, ours = pair(0)
    results = []
    for module in (plain, ours):
        out = module(tokens(0))
        (g,) = torch.autograd.grad(out.square().sum(), module.weight, create_graph=True)
        with armed(module):
            g.square().sum().backward()
        results.append(module.weight.grad)
    assert torch.equal(results[1], results[0])
