"""The class classifier: the CNN discriminator with a K-way head, trained once, stored as plain data, reused."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
import torch

from tests.evaluation.conftest import MR15
from textgan.data.batching import TokenData, encode_lines
from textgan.data.tokenizers import WordTokenizer
from textgan.evaluation.class_classifier import (
    ClassClassifier,
    ClassifierSettings,
    class_logits,
    load_or_train,
    rare_ids_to_unk,
    train_classifier,
)

WORDS = [["good", "great", "fine", "nice", "fun"], ["bad", "dull", "poor", "awful", "weak"]]
FILLER = ["the", "film", "is", "a", "plot", "and", "was"]


def toy(num: int, seed: int, tokenizer: WordTokenizer | None = None) -> tuple[WordTokenizer, TokenData, torch.Tensor]:
    """Two classes told apart by one class word among shared filler words."""
    draw = random.Random(seed)
    labels = [draw.randrange(2) for _ in range(num)]
    lines = [" ".join(draw.sample(FILLER, 3) + [draw.choice(WORDS[y])] + draw.sample(FILLER, 2)) for y in labels]
    tokenizer = tokenizer or WordTokenizer(FILLER + WORDS[0] + WORDS[1])
    return tokenizer, encode_lines(lines, tokenizer.encode, max_len=10), torch.tensor(labels)


def small_settings(vocab_size: int, **kw: object) -> ClassifierSettings:
    options: dict = {"embedding_size": 8, "filter_sizes": (2, 3), "num_filters": (8, 8), "epochs": 4,
                     "batch_size": 16, "lr": 1e-2, **kw}
    return ClassifierSettings(num_classes=2, vocab_size=vocab_size, **options)


@pytest.mark.parametrize("min_count,expected", [
    (1, [0, 1, 2, 3, 4, 5, 6, 3]),  # only the unseen id 7 becomes UNK (3)
    (2, [0, 1, 2, 3, 4, 3, 3, 3]),  # 5 and 6 occur once
    (4, [0, 1, 2, 3, 3, 3, 3, 3]),  # specials stay whatever their counts
])
def test_rare_ids_are_read_as_unk(min_count: int, expected: list[int]) -> None:
    tokens = torch.tensor([[4, 4, 5, 2, 0], [6, 4, 2, 0, 0]])
    assert rare_ids_to_unk(tokens, 8, min_count).tolist() == expected


def test_toy_classes_are_learned_and_class_accuracy_reads_the_labels(one_thread: None) -> None:
    tokenizer, train, train_labels = toy(300, seed=1)
    _, test, test_labels = toy(100, seed=2, tokenizer=tokenizer)
    classifier = train_classifier(small_settings(tokenizer.vocab_size), train, train_labels, test, test_labels)
    assert classifier.test_accuracy >= 0.95 and classifier.num_test == 100
    assert classifier.class_accuracy(test.tokens, test_labels) == classifier.test_accuracy
    swapped = classifier.class_accuracy(test.tokens, 1 - test_labels)  # samples credited to the other class
    assert swapped == pytest.approx(1 - classifier.test_accuracy)
    assert classifier.network.head.out_features == 2 and class_logits(classifier.network, test.tokens).shape == (100, 2)


def test_training_is_seeded_and_leaves_the_global_rng_alone(one_thread: None) -> None:
    tokenizer, train, labels = toy(120, seed=3)
    torch.manual_seed(5)
    before = torch.rand(1)
    torch.manual_seed(5)
    a = train_classifier(small_settings(tokenizer.vocab_size), train, labels, train, labels)
    assert torch.equal(torch.rand(1), before)
    b = train_classifier(small_settings(tokenizer.vocab_size), train, labels, train, labels)
    c = train_classifier(small_settings(tokenizer.vocab_size, seed=1), train, labels, train, labels)
    assert all(torch.equal(x, y) for x, y in zip(a.network.state_dict().values(), b.network.state_dict().values()))
    assert not torch.equal(a.network.embedding.weight, c.network.embedding.weight)


def test_stored_as_plain_data_and_reused(tmp_path: Path, one_thread: None) -> None:
    tokenizer, train, labels = toy(120, seed=4)
    settings = small_settings(tokenizer.vocab_size)
    path = tmp_path / "classifier.pt"
    trained = load_or_train(path, settings, train, labels, train, labels, key="toy")
    state = torch.load(path, weights_only=True)  # no code unpickled
    assert state["settings"]["filter_sizes"] == (2, 3) and state["key"] == "toy"
    stamp = path.stat().st_mtime_ns
    reused = load_or_train(path, settings, train, labels, train, labels, key="toy")
    assert path.stat().st_mtime_ns == stamp  # read, not trained again
    assert torch.equal(reused.predict(train.tokens), trained.predict(train.tokens))
    assert (reused.test_accuracy, reused.valid_accuracy) == (trained.test_accuracy, trained.valid_accuracy)
    other = load_or_train(path, settings, train, labels, train, labels, key="other data")  # another data set
    assert other.key == "other data" and ClassClassifier.load(path).key == "other data"


@pytest.mark.parametrize("labels,match", [(torch.zeros(3, dtype=torch.long), r"labels must be \(4,\)")])
def test_class_accuracy_errors(labels: torch.Tensor, match: str, one_thread: None) -> None:
    tokenizer, train, train_labels = toy(40, seed=5)
    classifier = train_classifier(small_settings(tokenizer.vocab_size, epochs=1), train, train_labels, train,
                                  train_labels)
    with pytest.raises(ValueError, match=match):
        classifier.class_accuracy(train.tokens[:4], labels)


def test_mr15_classifier_reaches_65_percent_held_out(mr15: MR15, one_thread: None) -> None:
    tokenizer, train, train_labels, test, test_labels = mr15
    # the run's carved splits (neg, pos): 80% train, 10% test (10% validation, not used here)
    assert [int((train_labels == c).sum()) for c in (0, 1)] == [1305, 1285]
    assert [int((test_labels == c).sum()) for c in (0, 1)] == [163, 161]
    started = time.perf_counter()
    classifier = train_classifier(ClassifierSettings(num_classes=2, vocab_size=tokenizer.vocab_size), train,
                                  train_labels, test, test_labels)
    print(f"MR15 class classifier: held-out accuracy {classifier.test_accuracy:.4f} on {classifier.num_test} test "
          f"sentences (valid {classifier.valid_accuracy:.4f}), trained in {time.perf_counter() - started:.1f} s")
    assert classifier.test_accuracy >= 0.65
