"""The evaluation callables a run hands to the training loops (training never imports evaluation itself)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import torch

from textgan.api.builders import PreparedData
from textgan.config import Config
from textgan.data.batching import strip_special
from textgan.data.tokenizers import SPECIALS
from textgan.evaluation.kmode import kmode_metrics
from textgan.evaluation.nll import nll_oracle
from textgan.evaluation.suite import bleu_metrics
from textgan.evaluation.text_metrics import tokenize_for_bleu
from textgan.models.wrapping import unwrap
from textgan.training.context import Models, Runtime
from textgan.training.mle import evaluate_nll


class Evaluated(Protocol):
    """What the periodic evaluator reads of a run (the generator at call time: it may be re-wrapped)."""

    cfg: Config
    data: PreparedData
    models: Models
    runtime: Runtime


def periodic_evaluator(run: Evaluated) -> Callable[[], dict[str, float]]:
    """Metrics logged after each MLE epoch / every few adversarial rounds: NLL-oracle and NLL-test (oracle
    data), NLL-test and perplexity (text with a test file), and on text with a test file test-BLEU-2..5 and
    self-BLEU-2..5 of `evaluation.bleu_samples` samples (against all test lines, or the first
    `evaluation.max_references`). Self-BLEU rises with the number of samples, so these values compare across
    epochs of a run, not with `textgan evaluate` on 2,000 samples. On K-mode data the mode metrics of
    `evaluation.num_samples` samples (`evaluation/kmode.py`). Runs on the unwrapped generator, rank 0."""
    cfg = run.cfg.evaluation
    data = run.data
    references: list[list[str]] = []  # tokenized once, on first use (Treebank tokenization takes seconds)

    def evaluate() -> dict[str, float]:
        generator = unwrap(run.models.generator)
        metrics: dict[str, float] = {}
        if data.oracle is not None:
            metrics["nll_oracle"] = nll_oracle(generator, data.oracle, cfg.num_samples, data.max_len,
                                               batch_size=cfg.batch_size)
        if data.test is not None:
            test = evaluate_nll(generator, data.test, cfg.batch_size, run.runtime.device)
            metrics["nll_test"], metrics["ppl_test"] = test["nll"], test["ppl"]
        if data.kmode is not None:
            drawn = _drawn(generator, cfg.num_samples)
            metrics.update(kmode_metrics(data.kmode, drawn.tokens.cpu() - len(SPECIALS),
                                         run.cfg.data.kmode.coverage_share))
        if data.oracle is None and data.test_lines and cfg.bleu_samples > 0:
            if not references:
                references.extend(tokenize_for_bleu(data.test_lines, cfg.bleu_tokenizer))
            metrics.update(bleu_metrics(_samples(generator), references, self_bleu_too=cfg.bleu_samples >= 2,
                                        max_references=cfg.max_references or None))
        return metrics

    def _drawn(generator: torch.nn.Module, num: int) -> Any:
        # A fixed seed in a forked RNG: the same draws at every evaluation (less noise between epochs) and the
        # training random stream is left exactly as it was.
        device = run.runtime.device
        devices = [device] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(run.cfg.run.seed)
            return generator.sample(num, data.max_len, temperature=cfg.temperature)

    def _samples(generator: torch.nn.Module) -> list[list[str]]:
        drawn = _drawn(generator, cfg.bleu_samples)
        lines = [data.tokenizer.decode(ids) for ids in strip_special(drawn.tokens.cpu(), drawn.lengths.cpu())]
        return tokenize_for_bleu(lines, cfg.bleu_tokenizer)

    return evaluate
