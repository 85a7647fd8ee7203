"""Table scoring of a frozen CNN discriminator equals its convolutional forward."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from tests.helpers import preset_cnn
from textgan.models.conv_tables import TokenConvTables, table_bytes
from textgan.models.discriminator import CNNDiscriminator

V = 30


def make(preset: str, **kw: Any) -> CNNDiscriminator:
    torch.manual_seed(0)
    return preset_cnn(preset, "tokens", vocab_size=V, **kw).eval()


def tokens(b: int, t: int) -> torch.Tensor:
    x = torch.randint(4, V, (b, t), generator=torch.Generator().manual_seed(1))
    x[: b // 2, t // 2:] = 0  # half the rows end early (PAD)
    return x


@pytest.mark.parametrize("preset,length", [("small", 12), ("small", 3), ("seqgan", 20),
                                           ("seqgan", 7), ("seqgan", 33)])
def test_tables_equal_forward(preset: dict[str, Any], length: int) -> None:
    d = make(preset)
    x = tokens(50, length)
    with torch.no_grad():
        torch.testing.assert_close(TokenConvTables(d)(x, chunk_size=16), d(x), atol=1e-5, rtol=1e-5)


def test_nonzero_pad_row_and_no_highway() -> None:
    # forward looks PAD up like any id but pads short inputs with zero vectors; the tables must do the same
    d = make("seqgan", highway=False)
    with torch.no_grad():
        d.embedding.weight[0] = 1.0
        x = tokens(8, 5)  # shorter than the widest filter (20), with PAD inside
        torch.testing.assert_close(TokenConvTables(d)(x), d(x), atol=1e-5, rtol=1e-5)


def test_refuses_training_mode_and_other_inputs() -> None:
    with pytest.raises(ValueError, match="eval"):
        TokenConvTables(make("small").train())
    features = preset_cnn("small", "features", feature_size=4).eval()
    with pytest.raises(ValueError, match="tokens"):
        TokenConvTables(features)


def test_table_bytes() -> None:
    d = make("small")  # widths 2..5, 64 filters each
    assert table_bytes(d) == 4 * (V + 1) * 64 * (2 + 3 + 4 + 5)
    tables = TokenConvTables(d).tables
    assert sum(t.numel() for t in tables) * 4 == table_bytes(d)


@pytest.mark.parametrize("preset,length", [("seqgan", 20), ("seqgan", 9), ("small", 11)])
def test_rollout_scorer_equals_scoring_from_scratch(preset: dict[str, Any], length: int) -> None:
    d = make(preset)
    sequences = tokens(6, length)
    # every prefix t = 1..T-1 of every sequence, completed with fresh random tokens, rows sorted by t
    rows_t = torch.arange(1, length).repeat_interleave(6 * 2)
    rows_b = torch.arange(6).repeat_interleave(2).repeat(length - 1)
    completions = torch.randint(4, V, (rows_t.numel(), length), generator=torch.Generator().manual_seed(3))
    keep = torch.arange(length) < rows_t[:, None]
    completions = torch.where(keep, sequences[rows_b], completions)
    tables = TokenConvTables(d)
    scorer = tables.rollout_scorer(sequences)
    with torch.no_grad():
        torch.testing.assert_close(scorer(completions, rows_b, rows_t), d(completions), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(scorer.sequence_logits, d(sequences), atol=1e-5, rtol=1e-5)
