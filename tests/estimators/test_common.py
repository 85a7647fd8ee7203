"""The token D loss: one function of each sequence, in training, in scoring and in the conv-table scorer."""

from __future__ import annotations

import pytest
import torch

from tests.helpers import preset_cnn
from textgan.data.batching import TokenBatch
from textgan.data.tokenizers import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from textgan.estimators import losses
from textgan.estimators.common import token_discriminator_loss
from textgan.estimators.reinforce import PlainScorer, TableScorer
from textgan.models.conv_tables import TokenConvTables
from textgan.models.generator import RNNGenerator

V = 40


def generator(eos: bool) -> RNNGenerator:
    torch.manual_seed(0)
    return RNNGenerator(vocab_size=V, embedding_size=8, hidden_size=8, banned_ids=[PAD_ID, BOS_ID, UNK_ID],
                        eos_id=EOS_ID if eos else None)


def real_batch(b: int, t: int, padded: bool) -> TokenBatch:
    g = torch.Generator().manual_seed(1)
    tokens = torch.randint(4, V, (b, t), generator=g)
    lengths = torch.randint(1, t + 1, (b,), generator=g) if padded else torch.full((b,), t)
    return TokenBatch(tokens.masked_fill(torch.arange(t) >= lengths.unsqueeze(1), PAD_ID), lengths)


@pytest.mark.parametrize("preset", ["small", "seqgan"])
def test_loss_without_padding_equals_the_two_call_loss(preset: str) -> None:
    """Oracle-like data (no EOS, every row full length): the same loss as scoring real and fake in two calls of
    the plain whole-batch path, as the code before length grouping did."""
    g, d = generator(eos=False), preset_cnn(preset, "tokens", vocab_size=V)
    real = real_batch(16, 20, padded=False)
    torch.manual_seed(3)
    loss, _ = token_discriminator_loss(g, d, real, max_len=20, gan_loss="bce", label_smoothing=0.0)
    torch.manual_seed(3)
    fake = g.sample(16, 20).tokens
    two_calls = losses.discriminator_loss("bce", d.forward_embedded(d.embed(real.tokens)),
                                          d.forward_embedded(d.embed(fake)), label_smoothing=0.0)
    torch.testing.assert_close(loss, two_calls, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("preset", ["small", "seqgan"])
def test_one_function_in_training_scoring_and_conv_tables(preset: str) -> None:
    g, d = generator(eos=True), preset_cnn(preset, "tokens", vocab_size=V).eval()
    real = real_batch(12, 25, padded=True)
    torch.manual_seed(4)
    loss, _ = token_discriminator_loss(g, d, real, max_len=30, gan_loss="bce", label_smoothing=0.0)
    torch.manual_seed(4)
    fake = g.sample(12, 30).tokens

    def alone(rows: torch.Tensor) -> torch.Tensor:
        return torch.cat([d(row[: max(int(n), 1)].unsqueeze(0)) for row, n in zip(rows, d.token_lengths(rows))])

    with torch.no_grad():
        real_alone, fake_alone = alone(real.tokens), alone(fake)
        expected = losses.discriminator_loss("bce", real_alone, fake_alone, label_smoothing=0.0)
        torch.testing.assert_close(loss, expected, atol=1e-5, rtol=1e-5)  # training
        torch.testing.assert_close(PlainScorer(d, fake, "prob").sequence_rewards(), torch.sigmoid(fake_alone),
                                   atol=1e-5, rtol=1e-5)  # scoring through D's forward
        torch.testing.assert_close(TokenConvTables(d)(real.tokens), real_alone, atol=1e-5, rtol=1e-5)  # conv tables
        torch.testing.assert_close(TableScorer(d, fake, "prob").sequence_rewards(), torch.sigmoid(fake_alone),
                                   atol=1e-5, rtol=1e-5)  # the rollout scorer's full sequences
