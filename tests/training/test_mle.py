"""mle_loss keeps its definition: NLL per real token (EOS included, PAD excluded) of the teacher-forced logits."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from textgan.data.batching import TokenBatch, pad_rows
from textgan.data.tokenizers import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from textgan.models.generator import RNNGenerator
from textgan.training.mle import mle_loss


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_mle_loss_is_cross_entropy_of_the_teacher_forced_logits(reduction: str) -> None:
    torch.manual_seed(0)
    g = RNNGenerator(vocab_size=20, embedding_size=6, hidden_size=8, banned_ids=[PAD_ID, BOS_ID, UNK_ID]).double()
    data = pad_rows([[5, 6, 7, EOS_ID], [8, EOS_ID], [9, 9, 9, 9, 9, EOS_ID]])
    batch = TokenBatch(data.tokens, data.lengths)
    logits, _ = g(RNNGenerator.shift_right(batch.tokens))  # (B, T, V)
    expected = F.cross_entropy(logits.reshape(-1, 20), batch.tokens.reshape(-1), ignore_index=PAD_ID,
                               reduction=reduction)
    torch.testing.assert_close(mle_loss(g, batch, reduction), expected, rtol=1e-12, atol=1e-12)


def test_unknown_reduction_is_an_error() -> None:
    g = RNNGenerator(vocab_size=20, embedding_size=6, hidden_size=8)
    with pytest.raises(ValueError, match="reduction"):
        mle_loss(g, TokenBatch(torch.tensor([[5, EOS_ID]]), torch.tensor([2])), "none")
