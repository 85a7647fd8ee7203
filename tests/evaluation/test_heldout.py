"""Held-out NLL: equal to the training code's NLL at T = 1, uniform in the high-temperature limit."""

from __future__ import annotations

import math

import pytest
import torch

from textgan.data.batching import pad_rows
from textgan.data.tokenizers import BOS_ID, EOS_ID, PAD_ID
from textgan.evaluation.heldout import heldout_nll
from textgan.models.generator import RNNGenerator
from textgan.training.mle import evaluate_nll

CPU = torch.device("cpu")


def generator(vocab: int = 12) -> RNNGenerator:
    torch.manual_seed(0)
    return RNNGenerator(vocab_size=vocab, embedding_size=6, hidden_size=8, init_std=0.5, banned_ids=[PAD_ID, BOS_ID])


@pytest.mark.parametrize("batch_size", [1, 2, 5])
def test_equals_the_training_nll(batch_size: int) -> None:
    model = generator()
    # lengths 4, 2, 6, 1, 3: length-sorted batches and real-token-only projection must not change the number
    data = pad_rows([[5, 6, 7, EOS_ID], [4, EOS_ID], [8, 9, 10, 11, 5, EOS_ID], [EOS_ID], [6, 6, EOS_ID]])
    expected = evaluate_nll(model, data, batch_size=2, device=CPU)
    result = heldout_nll(model, data, batch_size=batch_size, device=CPU)
    assert result["nll"] == pytest.approx(expected["nll"], rel=1e-6)
    assert result["tokens"] == expected["tokens"] == 16
    assert result["ppl"] == pytest.approx(math.exp(result["nll"]))


def test_high_temperature_is_uniform_over_the_allowed_tokens() -> None:
    data = pad_rows([[5, 6, 7, EOS_ID], [4, EOS_ID]])
    # softmax(logits / T) -> uniform over the 10 ids that are not banned (PAD, BOS)
    nll = heldout_nll(generator(vocab=12), data, batch_size=8, device=CPU, temperature=1e6)["nll"]
    assert nll == pytest.approx(math.log(10), abs=1e-4)


def test_temperature_changes_the_number_and_keeps_the_mode() -> None:
    model = generator()
    data = pad_rows([[5, 6, 7, EOS_ID], [4, EOS_ID]])
    values = [heldout_nll(model, data, batch_size=8, device=CPU, temperature=t)["nll"] for t in (0.5, 1.0, 2.0)]
    assert len(set(values)) == 3
    assert model.training  # the caller's mode is restored
    with pytest.raises(ValueError, match="temperature must be > 0"):
        heldout_nll(model, data, batch_size=8, device=CPU, temperature=0.0)
