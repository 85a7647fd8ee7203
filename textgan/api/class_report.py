"""Per-class evaluation of a class-conditional run: each class's samples against that class's test sentences.

For every class c: test-BLEU of the samples generated for c against the test sentences of c, self-BLEU within
them (`evaluation/per_class.py`), NLL-test of c's test sentences given c, and the class accuracy of the samples:
the share the class classifier (`evaluation/class_classifier.py`) assigns to the class they were generated for,
printed beside the classifier's own accuracy on the real test split. The classifier is trained once per data set
on the real training split and stored as plain data (beside the run, or at a path the caller shares between runs
of the same data), keyed by a digest of the data set and vocabulary: a run of other data retrains it.

The test split of a labelled run is carved at load time (seeded, class-stratified); `prepared_data` rebuilds it
from the run's config and tokenizer, so evaluation reads exactly the sentences the run never trained on.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch

from textgan.api.builders import PreparedData, build_data
from textgan.api.trained import TrainedGenerator
from textgan.config import EvaluationConfig
from textgan.data.batching import TokenBatch, strip_special
from textgan.data.tokenizers import PAD_ID
from textgan.errors import UserError
from textgan.evaluation.bleu import DEFAULT_ORDERS
from textgan.evaluation.class_classifier import ClassClassifier, ClassifierSettings, load_or_train
from textgan.evaluation.per_class import per_class_bleu, per_class_nll
from textgan.evaluation.text_metrics import tokenize_for_bleu
from textgan.models.generator import RNNGenerator
from textgan.models.wrapping import evaluating
from textgan.training.mle import mle_loss

CLASSIFIER_FILE = "class_classifier.pt"  # beside the run


@dataclass(frozen=True)
class ClassSamples:
    """Samples drawn for each class in turn: token rows, their class ids, and their decoded lines."""

    tokens: torch.Tensor  # (N, T) ids, EOS-terminated and PAD-padded
    labels: torch.Tensor  # (N,) the class each row was generated for
    lines: list[str]


def prepared_data(trained: TrainedGenerator) -> PreparedData:
    """The run's data as it trained on it (carved splits included), encoded with the run's tokenizer."""
    return build_data(trained.cfg, None, tokenizer_state=trained.tokenizer.state())


def data_key(data: PreparedData) -> str:
    """A digest of the data set (train and test token ids and labels) and of the vocabulary: what decides the
    class classifier besides its settings."""
    digest = hashlib.sha256(json.dumps(data.tokenizer.vocabulary_signature(), sort_keys=True).encode())
    for split in (data.train, data.test):
        assert split is not None and split.labels is not None
        for tensor in (split.tokens, split.lengths, split.labels):
            digest.update(tensor.cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def class_classifier(data: PreparedData, path: str | Path) -> ClassClassifier:
    """The class classifier of labelled `data`, stored at `path` (trained there once, reloaded after)."""
    if data.labels is None or data.test is None or data.train.labels is None or data.test.labels is None:
        raise UserError("the class classifier needs labelled data with a test split; set data.test_fraction > 0")
    settings = ClassifierSettings(num_classes=data.num_classes, vocab_size=data.tokenizer.vocab_size)
    return load_or_train(path, settings, data.train, data.train.labels, data.test, data.test.labels, data_key(data))


@torch.no_grad()
def class_samples(generator: RNNGenerator, data: PreparedData, per_class: int, *, temperature: float,
                  seed: int, batch_size: int = 512) -> ClassSamples:
    """`per_class` samples of every class in turn, drawn from `seed` in a forked RNG (the global RNG is left as
    it was)."""
    device = generator.head.weight.device
    tokens, labels = [], []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        for c in range(data.num_classes):
            for start in range(0, per_class, batch_size):
                n = min(batch_size, per_class - start)
                drawn = generator.sample(n, data.max_len, temperature=temperature,
                                         labels=torch.full((n,), c, dtype=torch.long, device=device))
                tokens.append(drawn.tokens.cpu())
                labels.append(torch.full((n,), c, dtype=torch.long))
    width = max(t.size(1) for t in tokens)
    rows = torch.cat([torch.nn.functional.pad(t, (0, width - t.size(1)), value=PAD_ID) for t in tokens])  # (N, T)
    lengths = (rows != PAD_ID).sum(1)
    lines = [data.tokenizer.decode(ids) for ids in strip_special(rows, lengths)]
    return ClassSamples(rows, torch.cat(labels), lines)


def class_metrics(generator: RNNGenerator, data: PreparedData, evaluation: EvaluationConfig, *,
                  classifier_path: str | Path, seed: int = 0, num_samples: int | None = None,
                  temperature: float | None = None) -> dict[str, float]:
    """Per-class test-BLEU and self-BLEU (bleu_n_<class>, self_bleu_n_<class>), NLL-test given the class
    (nll_test_<class>), the class accuracy of the samples (class_accuracy_<class> and over all samples
    class_accuracy), and the classifier's own held-out accuracy (classifier_test_accuracy on the real test split,
    classifier_valid_accuracy on the share of the training split that chose its epoch). `num_samples` (default
    evaluation.num_samples) are split evenly between the classes."""
    if data.labels is None or data.test is None or data.test.labels is None:
        raise UserError("per-class evaluation needs labelled data with a test split; set data.test_fraction > 0")
    if len(data.test_lines) != len(data.test):
        raise UserError(f"the test split has {len(data.test_lines)} lines but {len(data.test)} encoded sentences; "
                        f"per-class BLEU needs them aligned")
    names = data.labels.names
    per_class = max(2, (num_samples or evaluation.num_samples) // len(names))
    device = generator.head.weight.device

    def summed_nll(batch: TokenBatch) -> torch.Tensor:
        labels = None if batch.labels is None else batch.labels.to(device)
        return mle_loss(generator, TokenBatch(batch.tokens.to(device), batch.lengths.to(device), labels), "sum")

    with evaluating(generator):  # no dropout while sampling and scoring
        drawn = class_samples(generator, data, per_class, seed=seed, batch_size=evaluation.batch_size,
                              temperature=evaluation.temperature if temperature is None else temperature)
        scheme = evaluation.bleu_tokenizer
        metrics = per_class_bleu(names, tokenize_for_bleu(drawn.lines, scheme), drawn.labels.tolist(),
                                 tokenize_for_bleu(data.test_lines, scheme), data.test.labels.tolist(),
                                 orders=DEFAULT_ORDERS, max_references=evaluation.max_references or None,
                                 max_hypotheses=evaluation.max_hypotheses or None)
        metrics.update(per_class_nll(names, summed_nll, data.test, data.test.labels, evaluation.batch_size))
    classifier = class_classifier(data, classifier_path)
    for c, name in enumerate(names):
        own = drawn.labels == c
        metrics[f"class_accuracy_{name}"] = classifier.class_accuracy(drawn.tokens[own], drawn.labels[own])
    metrics["class_accuracy"] = classifier.class_accuracy(drawn.tokens, drawn.labels)
    metrics["classifier_test_accuracy"] = classifier.test_accuracy
    metrics["classifier_valid_accuracy"] = classifier.valid_accuracy
    return metrics


def trained_class_metrics(trained: TrainedGenerator, *, classifier_path: str | Path, seed: int = 0,
                          num_samples: int | None = None, temperature: float | None = None,
                          data: PreparedData | None = None) -> dict[str, float]:
    """`class_metrics` of a loaded run (its data rebuilt unless given), with its evaluation settings."""
    if trained.labels is None:
        raise UserError("per-class evaluation is for a class-conditional run; this one was trained without labels")
    return class_metrics(trained.generator, data or prepared_data(trained), trained.cfg.evaluation,
                         classifier_path=classifier_path, seed=seed, num_samples=num_samples,
                         temperature=temperature)
