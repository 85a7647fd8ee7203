"""Per-prefix discriminators: the CNN's prefix mode scores each prefix exactly as the prefix alone, the recurrent
D reads only the past, and both return 0 after each sequence's end."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import preset_cnn
from textgan.data.tokenizers import EOS_ID, PAD_ID
from textgan.models.prefix_discriminator import PrefixCNNDiscriminator
from textgan.models.recurrent_discriminator import RecurrentDiscriminator

V = 30


def batch(steps: int, seed: int = 0) -> torch.Tensor:
    """Token ids (4, T): two full rows, one ending in EOS at T - 2 (then PAD), one at 1 (then PAD)."""
    tokens = torch.randint(4, V, (4, steps), generator=torch.Generator().manual_seed(seed))
    for row, end in ((2, steps - 2), (3, 1)):
        if 0 <= end < steps:
            tokens[row, end] = EOS_ID
            tokens[row, end + 1:] = PAD_ID
    return tokens


@pytest.mark.parametrize(("filters", "steps"), [
    (([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20], [3, 4, 4, 4, 4, 3, 3, 3, 3, 3, 5, 5]), 20),  # SeqGAN's, t <= T = 20
    (([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20], [3, 4, 4, 4, 4, 3, 3, 3, 3, 3, 5, 5]), 26),  # ... and T past 20
    (([2, 3], [4, 4]), 7),
    (([3, 5], [4, 4]), 3),   # every prefix shorter than the widest filter
    (([4], [6]), 1),
])
def test_prefix_logit_equals_the_prefix_alone(filters: tuple[list[int], list[int]], steps: int) -> None:
    torch.manual_seed(1)
    d = preset_cnn("small", vocab_size=V, embedding_size=8, filter_sizes=filters[0], num_filters=filters[1]).eval()
    tokens = batch(steps)
    prefix = PrefixCNNDiscriminator.like(d).eval()(tokens)  # (B, T)
    assert prefix.shape == tokens.shape
    for b in range(tokens.size(0)):
        for t in range(1, steps + 1):
            if tokens[b, t - 1] == PAD_ID:
                assert prefix[b, t - 1] == 0.0  # masked after EOS
                continue
            alone = d(tokens[b:b + 1, :t])
            torch.testing.assert_close(prefix[b, t - 1], alone[0], atol=1e-5, rtol=0)


def test_prefix_mode_is_differentiable_and_loads_the_cnn_weights() -> None:
    torch.manual_seed(2)
    cnn = preset_cnn("small", vocab_size=V, embedding_size=8, filter_sizes=[2, 5], num_filters=[4, 4])
    prefix = PrefixCNNDiscriminator.like(cnn).eval()
    tokens = batch(8)
    assert prefix.state_dict().keys() == cnn.state_dict().keys()
    assert all(torch.equal(a, b) for a, b in zip(prefix.state_dict().values(), cnn.state_dict().values()))
    torch.testing.assert_close(prefix(tokens)[:2, -1], cnn.eval()(tokens[:2]), atol=1e-5, rtol=0)  # full rows
    prefix(tokens).sum().backward()
    assert all(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in prefix.convs.parameters())


@pytest.mark.parametrize("positional_size", [0, 4])
def test_recurrent_logits_masked_after_eos_and_causal(positional_size: int) -> None:
    torch.manual_seed(3)
    d = RecurrentDiscriminator(vocab_size=V, embedding_size=8, hidden_size=12, positional_size=positional_size).eval()
    tokens = batch(9)
    logits = d(tokens)  # (B, T)
    assert logits.shape == tokens.shape
    assert bool((logits[tokens == PAD_ID] == 0).all()) and bool((logits[tokens != PAD_ID] != 0).all())
    changed = tokens.clone()
    changed[:2, 5] = (changed[:2, 5] + 1 - 4) % (V - 4) + 4  # another real token at step 6
    torch.testing.assert_close(d(changed)[:, :5], logits[:, :5])  # earlier prefixes do not see it
    assert not torch.allclose(d(changed)[:2, 5], logits[:2, 5])


def test_recurrent_embedding_dropout_drops_whole_rows() -> None:
    torch.manual_seed(4)
    d = RecurrentDiscriminator(vocab_size=V, embedding_size=8, hidden_size=12, embedding_dropout=0.5).train()
    matrix = d.embedding_matrix()
    dropped = (matrix == 0).all(1)
    assert 0 < int(dropped.sum()) < V and bool(((matrix == 0) == dropped.unsqueeze(1)).all())
    torch.testing.assert_close(d.eval().embedding_matrix(), d.embedding.weight)
