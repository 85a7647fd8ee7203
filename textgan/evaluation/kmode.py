"""Mode-collapse metrics of samples on the K-mode benchmark, by its exact parser (`data/kmode.py`).

- kmode_valid: share of samples in some mode (the quality axis; kmode_invalid = 1 - kmode_valid);
- kmode_coverage: share of the K modes holding at least `coverage_share` / K of the valid samples (the diversity
  axis; with coverage_share = 0.5 a mode counts when it gets at least half its true share; a generator with no
  valid sample covers nothing);
- kmode_js: Jensen-Shannon divergence (nats, in [0, ln 2]) between the mode histogram of the valid samples and
  the true uniform one (ln 2 when there is no valid sample);
- kmode_within_diversity: distinct / total sentences inside each mode that has samples, averaged over them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch

from textgan.data.kmode import INVALID, KModeData
from textgan.evaluation.verdict import CurveAxes

# The (quality, diversity) axes the sweep and leaderboard use on K-mode data: both higher is better.
KMODE_CURVE_AXES = CurveAxes("kmode_valid", "kmode_coverage", True, True)


def js_divergence(p: torch.Tensor, q: torch.Tensor) -> float:
    """JS(p, q) in nats of two histograms (normalised here); 0 log 0 = 0."""
    p, q = p.double() / p.sum(), q.double() / q.sum()
    m = (p + q) / 2

    def kl(a: torch.Tensor) -> float:
        mask = a > 0
        return float((a[mask] * (a[mask] / m[mask]).log()).sum())

    return (kl(p) + kl(q)) / 2


def kmode_metrics(benchmark: KModeData, sentences: torch.Tensor, coverage_share: float = 0.5) -> dict[str, float]:
    """The metrics above of content-id sentences (n, L) (n >= 1)."""
    k = benchmark.spec.num_modes
    labels = benchmark.label(sentences)  # (n,)
    valid = labels != INVALID
    counts = torch.bincount(labels[valid], minlength=k).double()  # (K,)
    covered = (counts / max(int(valid.sum()), 1) >= coverage_share / k).sum() if valid.any() else torch.tensor(0)
    js = js_divergence(counts, torch.ones(k)) if valid.any() else math.log(2)
    diversities = []
    for mode in counts.nonzero().flatten().tolist():
        rows = sentences[labels == mode]
        diversities.append(torch.unique(rows, dim=0).size(0) / rows.size(0))
    return {"kmode_valid": float(valid.double().mean()), "kmode_invalid": float((~valid).double().mean()),
            "kmode_coverage": float(covered) / k, "kmode_js": js,
            "kmode_within_diversity": sum(diversities) / len(diversities) if diversities else 0.0}


def kmode_metrics_of_lines(benchmark: KModeData, lines: Sequence[str], encode: Callable[[str], list[int]],
                           offset: int, coverage_share: float = 0.5) -> dict[str, float]:
    """The metrics of text samples: each line encoded to ids, `offset` (the special ids) subtracted; a line of
    another length than the benchmark's is invalid."""
    if not lines:
        raise ValueError("no samples to score on the K-mode benchmark")
    length = benchmark.spec.seq_len
    rows = [[i - offset for i in encode(line)] for line in lines]
    sentences = torch.tensor([row if len(row) == length else [INVALID] * length for row in rows])  # (n, L)
    return kmode_metrics(benchmark, sentences, coverage_share)
