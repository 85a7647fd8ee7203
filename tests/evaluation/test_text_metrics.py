"""Cheap sample metrics: tokenization, distinct-n, lengths, copying, sacreBLEU wrapper."""

from __future__ import annotations

import pytest
import sacrebleu

from textgan.evaluation.text_metrics import (
    copied_fraction,
    corpus_bleu,
    distinct_n,
    length_stats,
    tokenize_for_bleu,
)

S = str.split


@pytest.mark.parametrize(
    ("samples", "n", "expected"),
    [
        ([S("a b a b")], 1, 2 / 4),  # unigrams a b a b: 2 unique of 4
        ([S("a b a b")], 2, 2 / 3),  # bigrams ab ba ab: 2 unique of 3
        ([S("a b"), S("a b")], 2, 1 / 2),  # counted over the whole set, not per sample
        ([S("a b c"), S("d e")], 2, 3 / 3),
        ([S("a"), []], 2, 0.0),  # no bigram anywhere -> 0.0
        ([], 1, 0.0),
    ],
)
def test_distinct_n_table(samples: list[list[str]], n: int, expected: float) -> None:
    assert distinct_n(samples, n) == pytest.approx(expected)


def test_distinct_n_rejects_bad_order() -> None:
    with pytest.raises(ValueError, match="integer >= 1"):
        distinct_n([S("a b")], 0)


def test_length_stats() -> None:
    assert length_stats([S("a b c"), [], S("a")]) == {"mean_length": pytest.approx(4 / 3), "max_length": 3}
    with pytest.raises(ValueError, match="no samples"):
        length_stats([])


def test_copied_fraction() -> None:
    train = [S("a man rides a horse"), S("a dog")]
    samples = [S("a man rides a horse"), S("a man rides"), S("a dog"), S("a dog ."), S("a dog")]
    assert copied_fraction(samples, train) == pytest.approx(3 / 5)  # prefixes and extensions do not count
    assert copied_fraction(samples, []) == 0.0
    with pytest.raises(ValueError, match="no samples"):
        copied_fraction([], train)


def test_treebank_splits_final_period_and_whitespace_does_not() -> None:
    lines = ["a man rides a horse.", "it's  a dog, ok"]
    assert tokenize_for_bleu(lines, "whitespace") == [S("a man rides a horse."), S("it's a dog, ok")]
    assert tokenize_for_bleu(lines, "treebank") == [
        ["a", "man", "rides", "a", "horse", "."],
        ["it", "'s", "a", "dog", ",", "ok"],
    ]
    with pytest.raises(ValueError, match="unknown BLEU tokenization"):
        tokenize_for_bleu(lines, "bpe")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="single string"):
        tokenize_for_bleu("a b c", "whitespace")


def test_corpus_bleu_equals_sacrebleu_on_0_to_100_scale() -> None:
    hyps = ["the cat sat on the mat .", "a dog runs in the park"]
    refs = ["the cat sat on a mat .", "a dog is running in the park"]
    expected = sacrebleu.corpus_bleu(hyps, [refs]).score
    assert corpus_bleu(hyps, refs) == expected
    assert 1.0 < expected < 100.0  # 0..100 scale
    assert corpus_bleu(refs, refs) == pytest.approx(100.0)


def test_corpus_bleu_rejects_mismatched_or_empty_inputs() -> None:
    with pytest.raises(ValueError, match="one reference per hypothesis"):
        corpus_bleu(["a b c"], ["a b c", "d e f"])
    with pytest.raises(ValueError, match="no lines"):
        corpus_bleu([], [])
