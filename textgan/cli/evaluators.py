"""The evaluation callables the CLI hands to the training loops (training never imports evaluation itself)."""

from __future__ import annotations

from collections.abc import Callable

from textgan.cli.run import Session
from textgan.evaluation.nll import nll_oracle
from textgan.training.distributed import unwrap
from textgan.training.mle import evaluate_nll


def periodic_evaluator(session: Session) -> Callable[[], dict[str, float]]:
    """Metrics logged after each MLE epoch / every few adversarial rounds: NLL-oracle and NLL-test (oracle
    data), NLL-test and perplexity (text with a test file). Runs on the unwrapped generator, rank 0 numbers."""
    cfg = session.cfg.evaluation
    data = session.data

    def evaluate() -> dict[str, float]:
        generator = unwrap(session.generator)
        metrics: dict[str, float] = {}
        if data.oracle is not None:
            metrics["nll_oracle"] = nll_oracle(generator, data.oracle, cfg.num_samples, data.max_len,
                                               batch_size=cfg.batch_size)
        if data.test is not None:
            test = evaluate_nll(generator, data.test, cfg.batch_size, session.device)
            metrics["nll_test"], metrics["ppl_test"] = test["nll"], test["ppl"]
        return metrics

    return evaluate
