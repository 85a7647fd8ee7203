"""Per-class test-BLEU, self-BLEU and NLL-test: each class judged against its own data only."""

from __future__ import annotations

import pytest
import torch

from tests.evaluation.conftest import caption_lines
from textgan.data.batching import TokenBatch, TokenData, encode_lines
from textgan.data.tokenizers import WordTokenizer
from textgan.evaluation.per_class import per_class_bleu, per_class_nll
from textgan.evaluation.suite import bleu_metrics
from textgan.models.generator import RNNGenerator
from textgan.training.mle import evaluate_nll, mle_loss

NAMES = ["pos", "neg"]
POS = [s.split() for s in ["a good film", "a great good film", "good acting and a great story"]]
NEG = [s.split() for s in ["bad movie", "dull bad plot", "the worst dull movie"]]


def test_each_class_is_scored_against_its_own_references() -> None:
    references, reference_labels = POS + NEG, [0] * 3 + [1] * 3
    samples, sample_labels = [POS[0], POS[1], NEG[2], NEG[0]], [0, 0, 1, 1]  # copies of their class's references
    scores = per_class_bleu(NAMES, samples, sample_labels, references, reference_labels, orders=[2])
    assert scores["bleu_2_pos"] == scores["bleu_2_neg"] == 1.0
    # the same samples credited to the other class share no word with its references
    swapped = per_class_bleu(NAMES, samples, [1, 1, 0, 0], references, reference_labels, orders=[2])
    assert swapped["bleu_2_pos"] == swapped["bleu_2_neg"] == 0.0
    # self-BLEU within a class: the class's samples only
    assert scores["self_bleu_2_pos"] == bleu_metrics(samples[:2], None, orders=[2])["self_bleu_2"]
    assert set(scores) == {"bleu_2_pos", "bleu_2_neg", "self_bleu_2_pos", "self_bleu_2_neg"}


def test_per_class_bleu_equals_bleu_of_the_class_subsets() -> None:
    lines = [line.split() for line in caption_lines(40, seed=3)]
    labels = [i % 2 for i in range(40)]
    references = [line.split() for line in caption_lines(30, seed=4)]
    reference_labels = [i % 3 % 2 for i in range(30)]
    scores = per_class_bleu(NAMES, lines, labels, references, reference_labels, max_hypotheses=8)
    for c, name in enumerate(NAMES):
        mine = [s for s, y in zip(lines, labels) if y == c]
        theirs = [r for r, y in zip(references, reference_labels) if y == c]
        expected = bleu_metrics(mine, theirs, max_hypotheses=8)
        assert {k: scores[f"{k}_{name}"] for k in expected} == expected


@pytest.mark.parametrize("sample_labels,reference_labels,match", [
    ([0, 0, 0, 0], [0, 0, 0, 1, 1, 1], "'neg' has 0 samples"),
    ([0, 0, 1, 1], [0, 0, 0, 0, 0, 0], "'neg' has 2 samples and 0 references"),
    ([0, 0, 1, 2], [0, 0, 0, 1, 1, 1], r"sample label 2 at 3 is not a class id in \[0, 2\)"),
    ([0, 0, 1], [0, 0, 0, 1, 1, 1], "one label per sentence"),
])
def test_per_class_bleu_errors(sample_labels: list[int], reference_labels: list[int], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        per_class_bleu(NAMES, [POS[0], POS[1], NEG[0], NEG[1]], sample_labels, POS + NEG, reference_labels)


def test_per_class_nll_scores_each_class_with_its_label() -> None:
    test = encode_lines(caption_lines(20, seed=5), WordTokenizer.fit(caption_lines(50, seed=5)).encode, max_len=12)
    labels = torch.arange(20) % 2

    def score(batch: TokenBatch) -> torch.Tensor:  # a scorer whose NLL per token is 1 + the batch's class
        assert batch.labels is not None and batch.labels.unique().numel() == 1
        return batch.lengths.sum() * (1.0 + batch.labels[0].float())

    assert per_class_nll(NAMES, score, test, labels, batch_size=3) == {"nll_test_pos": 1.0, "nll_test_neg": 2.0}


@pytest.mark.parametrize("batch_size", [1, 7, 64])
def test_per_class_nll_of_an_unconditional_generator_averages_to_nll_test(batch_size: int, one_thread: None) -> None:
    tokenizer = WordTokenizer.fit(caption_lines(50, seed=5))
    test = encode_lines(caption_lines(30, seed=6), tokenizer.encode, max_len=12)
    labels = (torch.arange(30) % 3 == 0).long()
    torch.manual_seed(0)
    generator = RNNGenerator(vocab_size=tokenizer.vocab_size, embedding_size=8, hidden_size=8)
    # an unconditional generator takes no labels: it scores each class's batches without them
    scores = per_class_nll(NAMES, lambda b: mle_loss(generator, TokenBatch(b.tokens, b.lengths), reduction="sum"),
                           test, labels, batch_size)
    tokens = [int(test.lengths[labels == c].sum()) for c in range(2)]
    pooled = sum(scores[f"nll_test_{name}"] * n for name, n in zip(NAMES, tokens)) / sum(tokens)
    assert pooled == pytest.approx(evaluate_nll(generator, test, 64, torch.device("cpu"))["nll"], rel=1e-6)
    assert scores["nll_test_pos"] != scores["nll_test_neg"]


def test_per_class_nll_errors() -> None:
    test = TokenData(torch.ones(4, 3, dtype=torch.long), torch.full((4,), 3))
    with pytest.raises(ValueError, match="'neg' has no test sequences"):
        per_class_nll(NAMES, lambda b: b.lengths.sum(), test, torch.zeros(4, dtype=torch.long), 2)
    with pytest.raises(ValueError, match=r"labels must be \(4,\)"):
        per_class_nll(NAMES, lambda b: b.lengths.sum(), test, torch.zeros(3, dtype=torch.long), 2)
