"""Temperature sweep pieces: temperature lists, sweep points, CSV; the training-curve series of plots."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import torch

from textgan.data.batching import pad_rows
from textgan.data.oracle import Oracle
from textgan.data.tokenizers import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from textgan.evaluation.plots import training_series
from textgan.evaluation.sweep import oracle_point, parse_temperatures, tempered_nll, text_point, write_csv
from textgan.models.generator import RNNGenerator
from textgan.training.mle import evaluate_nll

CPU = torch.device("cpu")


@pytest.mark.parametrize(("text", "expected"), [
    ("0.7,0.8,1.0", [0.7, 0.8, 1.0]),
    ("1.5, 0.5 ,1.0", [0.5, 1.0, 1.5]),            # sorted
    ("1,1,2", [1.0, 2.0]),                         # distinct
    ("0.7:1.5:0.1", [0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4, 1.5]),  # both ends, no float drift
    ("0.5:1.0:0.3", [0.5, 0.8]),                   # the stop is not reached exactly: not added
])
def test_parse_temperatures(text: str, expected: list[float]) -> None:
    assert parse_temperatures(text) == expected


@pytest.mark.parametrize("text", ["", "0,1", "-1", "a,b", "1:0.5:0.1", "0.5:1:0", "1:2", "nan", "inf"])
def test_parse_temperatures_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="temperatures"):
        parse_temperatures(text)


def tiny_generator(vocab: int = 12, eos: bool = True) -> RNNGenerator:
    torch.manual_seed(0)
    return RNNGenerator(vocab_size=vocab, embedding_size=6, hidden_size=8, init_std=0.5,
                        banned_ids=[PAD_ID, BOS_ID] + ([] if eos else [EOS_ID, UNK_ID]),  # oracle: no specials
                        eos_id=EOS_ID if eos else None)


def test_tempered_nll_is_uniform_at_high_temperature() -> None:
    data = pad_rows([[5, 6, 7, EOS_ID], [4, EOS_ID]])
    # softmax(logits / T) -> uniform over the 10 ids that are not banned (PAD, BOS)
    assert tempered_nll(tiny_generator(), data, 1e6, batch_size=8, device=CPU) == pytest.approx(math.log(10), abs=1e-4)


def test_tempered_nll_depends_on_temperature_and_is_the_model_at_one() -> None:
    model = tiny_generator()
    data = pad_rows([[5, 6, 7, EOS_ID], [4, EOS_ID], [8, 9, 10, 11, 5, EOS_ID]])
    values = [tempered_nll(model, data, t, batch_size=2, device=CPU) for t in (0.5, 1.0, 2.0)]
    assert len(set(values)) == 3
    assert values[1] == pytest.approx(evaluate_nll(model, data, batch_size=2, device=CPU)["nll"], rel=1e-6)
    assert model.training  # the caller's mode is restored
    with pytest.raises(ValueError, match="temperature must be > 0"):
        tempered_nll(model, data, 0.0, batch_size=8, device=CPU)


def test_oracle_point_traces_the_curve() -> None:
    oracle = Oracle(vocab_size=20, embedding_size=8, hidden_size=8, init_std=1.0, seed=1)
    test = pad_rows((oracle.generate(50, 6, seed=2) + 4).tolist())
    generator = tiny_generator(vocab=24, eos=False)
    points = {}
    for temperature in (0.5, 2.0):
        torch.manual_seed(0)
        points[temperature] = oracle_point(generator, oracle, test, temperature, num_samples=40, seq_len=6,
                                           batch_size=16, device=CPU)
    assert set(points[0.5]) == {"nll_oracle", "nll_test"}
    assert points[0.5]["nll_test"] != points[2.0]["nll_test"]  # NLL-test depends on T (not a flat line)


def test_text_point_keys_and_ranges() -> None:
    samples = [s.split() for s in ["a b c d e", "a b c", "x y z w v u"]]
    point = text_point(samples, [s.split() for s in ["a b c d e f", "x y"]])
    assert sorted(point) == sorted([f"bleu_{n}" for n in (2, 3, 4, 5)] + [f"self_bleu_{n}" for n in (2, 3, 4, 5)]
                                   + ["mean_length"])
    assert all(0.0 <= point[k] <= 1.0 for k in point if "bleu" in k)
    assert point["mean_length"] == pytest.approx(14 / 3)


def test_write_csv_unions_columns(tmp_path: Path) -> None:
    path = tmp_path / "s.csv"
    write_csv([{"label": "a", "temperature": 0.5, "x": 1.0}, {"label": "b", "temperature": 1.0, "y": 2.0}], path)
    rows = list(csv.DictReader(path.open()))
    assert list(rows[0]) == ["label", "temperature", "x", "y"]
    assert rows[1]["y"] == "2.0" and rows[1]["x"] == ""


def test_training_series_keeps_the_last_record_of_a_step() -> None:
    records = [
        {"event": "data", "step": 0, "vocab_size": 10},
        {"event": "mle", "step": 1, "time": 1.0, "valid_nll": 3.0},
        {"event": "mle", "step": 2, "time": 2.0, "valid_nll": 2.5},
        {"event": "mle", "step": 2, "time": 9.0, "valid_nll": 2.4, "note": "resumed"},  # logged again on resume
        {"event": "adversarial", "step": 1, "g_loss": float("nan"), "reward": 0.5, "flag": True},
    ]
    series = training_series(records)
    assert series["mle"] == {"valid_nll": [(1, 3.0), (2, 2.4)]}
    assert series["adversarial"] == {"reward": [(1, 0.5)]}  # NaN, bools and strings are not curves
