"""Metric selection and the model-free metric suite: names, keys, tokenization, and the report table."""

from __future__ import annotations

import pytest
import torch

from textgan.data.oracle import Oracle
from textgan.data.tokenizers import OracleTokenizer
from textgan.evaluation.bleu import self_bleu, test_bleu
from textgan.evaluation.report import format_table, metric_family, metric_table
from textgan.evaluation.suite import METRICS, NEEDS, nll_oracle_of_lines, parse_metrics, text_metrics
from textgan.evaluation.text_metrics import tokenize_for_bleu

SAMPLES = ["a man rides a horse on the beach .", "a dog runs on the grass.", "a man rides a horse on the beach ."]
REFERENCES = ["a man rides a horse on the sand .", "two dogs run on the grass .", "a cat sits on a bed ."]


@pytest.mark.parametrize(("text", "expected"), [
    ("bleu", ["bleu"]),
    ("self_bleu,bleu", ["bleu", "self_bleu"]),               # report order, not the order given
    ("perplexity", ["nll"]),                                  # alias
    ("Self-BLEU, distinct ,", ["self_bleu", "distinct"]),     # case, dashes, spaces, empty items
    ("all", list(METRICS)),
    ("nll,ppl", ["nll"]),                                     # duplicates collapse
])
def test_parse_metrics(text: str, expected: list[str]) -> None:
    assert parse_metrics(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("blue", "did you mean bleu?"),
    ("self_blue", "did you mean self_bleu?"),
    ("zzz", "choose from nll, nll_oracle, bleu"),
    (" , ", "no metric named"),
])
def test_parse_metrics_errors(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_metrics(text)


def test_every_metric_declares_its_inputs() -> None:
    assert set(NEEDS) == set(METRICS)


@pytest.mark.parametrize(("name", "keys"), [
    ("bleu", ["bleu_2", "bleu_3", "bleu_4", "bleu_5"]),
    ("self_bleu", ["self_bleu_2", "self_bleu_3", "self_bleu_4", "self_bleu_5"]),
    ("corpus_bleu", ["corpus_bleu"]),
    ("distinct", ["distinct_1", "distinct_2", "distinct_3", "distinct_4"]),
    ("lengths", ["mean_length", "max_length"]),
    ("copied", ["copied_fraction"]),
])
def test_text_metric_keys(name: str, keys: list[str]) -> None:
    out = text_metrics([name], SAMPLES, references=REFERENCES, aligned_references=REFERENCES, training=SAMPLES[:1])
    assert list(out) == keys
    assert all(metric_family(key) == name for key in out)  # the report groups them under their metric


def test_text_metrics_equal_the_library_functions() -> None:
    out = text_metrics(["bleu", "self_bleu"], SAMPLES, references=REFERENCES, tokenization="treebank")
    hyps, refs = tokenize_for_bleu(SAMPLES, "treebank"), tokenize_for_bleu(REFERENCES, "treebank")
    assert [out[f"bleu_{n}"] for n in (2, 3, 4, 5)] == list(test_bleu(hyps, refs).scores.values())
    assert [out[f"self_bleu_{n}"] for n in (2, 3, 4, 5)] == list(self_bleu(hyps).scores.values())


def test_tokenization_is_applied_to_samples_and_references() -> None:
    # "grass." is one whitespace token but "grass" "." for Treebank, like the reference "... grass ."
    sample, reference = ["two dogs run on the grass."], ["two dogs run on the grass ."]
    treebank = text_metrics(["bleu"], sample, references=reference, tokenization="treebank")
    whitespace = text_metrics(["bleu"], sample, references=reference, tokenization="whitespace")
    assert treebank["bleu_5"] == pytest.approx(1.0)
    assert whitespace["bleu_5"] < 0.9


def test_a_sample_set_scored_against_itself() -> None:
    out = text_metrics(["bleu", "self_bleu", "copied"], SAMPLES, references=SAMPLES, training=SAMPLES)
    assert all(out[f"bleu_{n}"] == pytest.approx(1.0) for n in (2, 3, 4, 5))
    assert out["copied_fraction"] == 1.0
    assert out["self_bleu_5"] < 1.0  # the unique sample has no copy among the others


def test_limits_keep_the_first_references_and_samples() -> None:
    limited = text_metrics(["bleu", "self_bleu"], SAMPLES, references=REFERENCES, max_references=1, max_hypotheses=2)
    direct = text_metrics(["bleu", "self_bleu"], SAMPLES[:2], references=REFERENCES[:1])
    assert limited == direct


def test_copied_ignores_whitespace_differences() -> None:
    out = text_metrics(["copied"], ["a  dog   runs", "a cat"], training=["a dog runs", "a cat sleeps"])
    assert out["copied_fraction"] == 0.5


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"names": ["bleu"]}, "needs references"),
    ({"names": ["copied"]}, "needs training"),
    ({"names": ["corpus_bleu"], "aligned_references": REFERENCES[:2]}, "one reference per hypothesis"),
    ({"names": ["self_bleu"], "samples": SAMPLES[:1]}, "at least 2 samples"),
    ({"names": ["nll"]}, None),  # model metrics are the caller's: ignored here, not an error
])
def test_text_metrics_errors(kwargs: dict, message: str | None) -> None:
    kwargs = {"samples": SAMPLES, **kwargs}
    if message is None:
        assert text_metrics(**kwargs) == {}
    else:
        with pytest.raises(ValueError, match=message):
            text_metrics(**kwargs)


def test_nll_oracle_of_lines_equals_the_oracle() -> None:
    oracle = Oracle(vocab_size=30, embedding_size=8, hidden_size=8, init_std=1.0, seed=3)
    ids = oracle.generate(20, 6, seed=5)  # (20, 6) oracle ids
    tokenizer = OracleTokenizer(30)
    lines = [" ".join(map(str, row)) for row in ids.tolist()]
    assert nll_oracle_of_lines(oracle, tokenizer.encode, lines, 6) == pytest.approx(oracle.nll(ids), rel=1e-6)
    with pytest.raises(ValueError, match="exactly 6 oracle tokens"):
        nll_oracle_of_lines(oracle, tokenizer.encode, [*lines, "1 2 3"], 6)
    with pytest.raises(ValueError, match="exactly 6 oracle tokens"):
        nll_oracle_of_lines(oracle, tokenizer.encode, ["1 2 3 4 5 99"], 6)  # 99: outside the vocabulary (UNK)
    assert torch.equal(ids, oracle.generate(20, 6, seed=5))  # scoring does not touch the oracle


@pytest.mark.parametrize(("key", "family"), [
    ("bleu_3", "bleu"), ("self_bleu_2", "self_bleu"), ("distinct_4", "distinct"), ("perplexity", "nll"),
    ("nll", "nll"), ("nll_oracle", "nll_oracle"), ("corpus_bleu", "corpus_bleu"), ("mean_length", "lengths"),
    ("max_length", "lengths"), ("copied_fraction", "copied"),
])
def test_metric_family(key: str, family: str) -> None:
    assert metric_family(key) == family
    assert family in METRICS


def test_metric_table_notes_each_family_once() -> None:
    table = metric_table({"bleu_2": 0.5, "bleu_3": 0.25, "max_length": 7}, {"bleu": "BLEU NOTE", "lengths": "LEN"})
    lines = table.splitlines()
    assert lines[0].split() == ["metric", "value"]
    assert lines[1].split() == ["bleu_2", "0.5000", "BLEU", "NOTE"]
    assert lines[2].split() == ["bleu_3", "0.2500"]
    assert lines[3].split() == ["max_length", "7", "LEN"]


def test_format_table_right_aligns_numbers() -> None:
    lines = format_table([("a", 1.5), ("bb", 12345.0)]).splitlines()
    assert lines == ["a     1.5000", "bb  12345.00"]
