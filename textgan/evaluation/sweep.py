"""Quality-diversity sweep over the softmax temperature (Caccia et al. 2020, "Language GANs Falling Short").

A single number (BLEU, NLL-oracle) rewards a generator that trades diversity for quality; lowering the sampling
temperature makes the same trade for free. Caccia et al. therefore compare models by the whole curve traced as
T varies: quality against diversity, one curve per model.

- Text: quality = test-BLEU-n of samples at temperature T (higher is better); diversity = self-BLEU-n of the
  same samples (lower = more diverse).
- Oracle: quality = NLL-oracle of samples at T (lower is better); diversity/coverage = NLL-test, the
  generator's NLL of held-out oracle data. NLL-test scores fixed data, so computed with the plain model it would
  be the same number at every T. We therefore score the held-out data under the temperature-scaled model
  p_T(y_t | y_<t) = softmax(logits / T), the distribution the samples at T are drawn from. This traces the
  curve: a low T sharpens p_T, its samples get better by NLL-oracle and the held-out data worse by NLL-test.
- K-mode benchmark: quality = the share of samples some mode's parser accepts (valid share); diversity = mode
  coverage, the share of the K modes holding at least their stated share of the valid samples (both higher is
  better; `textgan.evaluation.kmode`). JS divergence and within-mode diversity are recorded beside them.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from textgan.data.batching import TokenData
from textgan.data.oracle import Oracle
from textgan.data.tokenizers import PAD_ID
from textgan.evaluation.nll import nll_oracle
from textgan.evaluation.suite import bleu_metrics
from textgan.evaluation.verdict import CurveAxes, curve_from_rows, curve_verdict
from textgan.models.generator import RNNGenerator
from textgan.models.wrapping import evaluating

__all__ = ["SweepAxes", "text_axes", "ORACLE_AXES", "KMODE_AXES", "parse_temperatures", "text_point", "oracle_point",
           "tempered_nll", "write_csv", "verdicts"]


@dataclass(frozen=True)
class SweepAxes:
    """Which CSV columns the sweep plot puts on x (quality) and y (diversity), and their labels."""

    quality: str
    quality_label: str
    diversity: str
    diversity_label: str
    higher_quality_is_better: bool  # BLEU: higher; NLL-oracle: lower
    higher_diversity_is_better: bool = False  # self-BLEU, NLL-test: lower; K-mode coverage: higher


def text_axes(order: int) -> SweepAxes:
    """BLEU-n (x) against self-BLEU-n (y) for text data."""
    return SweepAxes(f"bleu_{order}", f"BLEU-{order} vs test set: quality (higher is better →)",
                     f"self_bleu_{order}", f"self-BLEU-{order}: diversity (lower is more diverse, better ↓)", True)


ORACLE_AXES = SweepAxes("nll_oracle", "NLL-oracle of samples: quality (lower is better ←)",
                        "nll_test", "NLL-test at temperature T: diversity / coverage (lower is better ↓)", False)
KMODE_AXES = SweepAxes("kmode_valid", "valid share of samples (exact parser): quality (higher is better →)",
                       "kmode_coverage", "mode coverage (share of the K modes): diversity (higher is better ↑)",
                       True, True)


def parse_temperatures(text: str) -> list[float]:
    """"0.7,0.8,1.0" or a range "0.7:1.5:0.1" (both ends included) -> sorted distinct temperatures > 0."""
    try:
        if ":" in text:
            parts = [Decimal(p) for p in text.split(":")]
            if len(parts) != 3 or parts[2] <= 0 or parts[1] < parts[0]:
                raise ValueError
            count = int((parts[1] - parts[0]) / parts[2]) + 1
            values = [float(parts[0] + k * parts[2]) for k in range(count)]  # Decimal: 0.7 + 8 * 0.1 == 1.5
        else:
            values = [float(Decimal(p.strip())) for p in text.split(",") if p.strip()]
    except (InvalidOperation, ValueError):
        raise ValueError(f"temperatures {text!r}: give a comma-separated list (0.7,0.8,1.0) or a range "
                         f"START:STOP:STEP (0.7:1.5:0.1)") from None
    if not values or any(not math.isfinite(v) or v <= 0 for v in values):
        raise ValueError(f"temperatures {text!r}: every temperature must be a number > 0 (0 would be greedy "
                         f"decoding: a single sample, no curve)")
    return sorted(set(values))


def text_point(samples: Sequence[Sequence[str]], references: Sequence[Sequence[str]], *,
               max_references: int | None = None, max_hypotheses: int | None = None) -> dict[str, float]:
    """One text point: bleu_2..5 against the references, self_bleu_2..5 and mean_length of tokenized samples."""
    metrics = bleu_metrics(samples, references, max_references=max_references, max_hypotheses=max_hypotheses)
    metrics["mean_length"] = sum(map(len, samples)) / max(len(samples), 1)
    return metrics


def oracle_point(generator: RNNGenerator, oracle: Oracle, test: TokenData, temperature: float, *,
                 num_samples: int, seq_len: int, batch_size: int, device: torch.device) -> dict[str, float]:
    """One oracle point: NLL-oracle of `num_samples` samples at T, NLL-test of `test` under softmax(logits / T)."""
    return {"nll_oracle": nll_oracle(generator, oracle, num_samples, seq_len, batch_size=batch_size,
                                     temperature=temperature),
            "nll_test": tempered_nll(generator, test, temperature, batch_size=batch_size, device=device)}


@torch.no_grad()
def tempered_nll(generator: RNNGenerator, data: TokenData, temperature: float, *, batch_size: int,
                 device: torch.device) -> float:
    """NLL per token of `data` (EOS included, padding excluded) under softmax(logits / T), dropout off.

    At T = 1 this is `textgan.training.mle.evaluate_nll`; other temperatures score the distribution that sampling
    at T draws from, which is what traces the oracle sweep's curve.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    total, count = 0.0, 0
    with evaluating(generator):
        for batch in data.batches(batch_size, shuffle=False):
            tokens = batch.tokens.to(device)  # (B, T)
            labels = None if batch.labels is None else batch.labels.to(device)  # labelled data: each one's class
            outputs, _ = generator.run(generator.shift_right(tokens), labels=labels)  # (B, T, H)
            real = tokens != PAD_ID  # (B, T)
            logits = generator.project(outputs[real])  # (N, V): real positions only
            total += float(F.cross_entropy(logits / temperature, tokens[real], reduction="sum"))
            count += int(real.sum())
    return total / max(count, 1)


def write_csv(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    """Rows as CSV, columns in first-seen order, floats with full precision."""
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def verdicts(rows: Sequence[Mapping[str, Any]], reference: str, axes: Sequence[CurveAxes], *,
             tolerance: float) -> list[dict[str, Any]]:
    """The verdict of every other label's curve against the `reference` label's, on each of `axes` whose columns
    the rows have (one dict per curve and axes pair; see `textgan.evaluation.verdict.curve_verdict`)."""
    by_label: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        by_label.setdefault(str(row["label"]), []).append(row)
    if reference not in by_label:
        raise ValueError(f"reference curve {reference!r} is not among the sweep's curves ({', '.join(by_label)})")
    out = []
    for pair in axes:
        usable = {label: [r for r in curve if pair.quality in r and pair.diversity in r]
                  for label, curve in by_label.items()}
        if not usable[reference]:
            continue
        base = curve_from_rows(usable[reference], pair)
        for label, curve in usable.items():
            if label == reference or not curve:
                continue
            v = curve_verdict(curve_from_rows(curve, pair), base, pair, tolerance=tolerance)
            out.append({"label": label, "reference": reference, "quality": pair.quality, "diversity": pair.diversity,
                        "verdict": v.verdict, "mean_gap": v.mean_gap, "share_above": v.share_above,
                        "min_gap": v.min_gap, "max_gap": v.max_gap, "overlap": list(v.overlap) if v.overlap else None,
                        "tolerance": tolerance})
    return out
