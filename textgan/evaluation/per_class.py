"""Per-class metrics of a class-conditional generator: each class's samples judged against that class's data.

For class c: test-BLEU of the samples generated for c against the test sentences of c, self-BLEU within those
samples (both `suite.bleu_metrics`, so the conventions of `evaluation/bleu.py`), and NLL-test of c's test sentences
given c (`nll.nll_per_token` over a caller's scorer). Keys are the usual metric names with the class name
appended: ``bleu_2_pos``, ``self_bleu_4_neg``, ``nll_test_pos``. A class's reference set is its share of the test
split (MR15: ~160 sentences), so these BLEU values are not comparable with BLEU against COCO's 10,000 references
(docs/evaluation.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from textgan.data.batching import TokenBatch, TokenData
from textgan.evaluation.bleu import DEFAULT_ORDERS
from textgan.evaluation.nll import nll_per_token
from textgan.evaluation.suite import bleu_metrics


def _members(labels: Sequence[int], num_classes: int, what: str) -> list[list[int]]:
    """Indices of each class 0..K-1 in `labels`; ValueError for an id outside 0..K-1."""
    members: list[list[int]] = [[] for _ in range(num_classes)]
    for i, label in enumerate(labels):
        if not 0 <= label < num_classes:
            raise ValueError(f"{what} label {label} at {i} is not a class id in [0, {num_classes})")
        members[label].append(i)
    return members


def per_class_bleu(class_names: Sequence[str], samples: Sequence[Sequence[str]], sample_labels: Sequence[int],
                   references: Sequence[Sequence[str]], reference_labels: Sequence[int], *,
                   orders: Sequence[int] = DEFAULT_ORDERS, max_references: int | None = None,
                   max_hypotheses: int | None = None) -> dict[str, float]:
    """bleu_n_<class> (a class's tokenized samples against its references) and self_bleu_n_<class> (within its
    samples) for every class; `max_references` / `max_hypotheses` cut each class's lists to their first K."""
    if len(samples) != len(sample_labels) or len(references) != len(reference_labels):
        raise ValueError(f"{len(samples)} samples with {len(sample_labels)} labels, {len(references)} references "
                         f"with {len(reference_labels)} labels: give one label per sentence")
    own_samples = _members(sample_labels, len(class_names), "sample")
    own_references = _members(reference_labels, len(class_names), "reference")
    out: dict[str, float] = {}
    for name, hyps, refs in zip(class_names, own_samples, own_references):
        if len(hyps) < 2 or not refs:
            raise ValueError(f"class {name!r} has {len(hyps)} samples and {len(refs)} references; per-class BLEU "
                             f"needs >= 2 samples (self-BLEU) and >= 1 reference of every class")
        metrics = bleu_metrics([samples[i] for i in hyps], [references[i] for i in refs], orders=orders,
                               max_references=max_references, max_hypotheses=max_hypotheses)
        out.update({f"{key}_{name}": value for key, value in metrics.items()})
    return out


def per_class_nll(class_names: Sequence[str], score: Callable[[TokenBatch], torch.Tensor], test: TokenData,
                  labels: torch.Tensor, batch_size: int) -> dict[str, float]:
    """nll_test_<class>: NLL per token of each class's test sequences, scored as batches carrying their class ids
    (`score` returns a batch's summed NLL, e.g. a conditional generator's teacher-forced NLL given the labels)."""
    if labels.shape != (len(test),):
        raise ValueError(f"labels must be ({len(test)},) class ids of the test sequences, got {tuple(labels.shape)}")
    out: dict[str, float] = {}
    for c, (name, index) in enumerate(zip(class_names, _members(labels.tolist(), len(class_names), "test"))):
        if not index:
            raise ValueError(f"class {name!r} has no test sequences; per-class NLL needs some of every class")
        part = test.subset(torch.tensor(index))
        batches = (TokenBatch(b.tokens, b.lengths, torch.full_like(b.lengths, c))
                   for b in part.batches(batch_size, shuffle=False))
        out[f"nll_test_{name}"] = nll_per_token(score, batches)
    return out
