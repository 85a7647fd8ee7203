"""LM score and reverse-LM score (Semeniuta et al. 2018, "On accurate evaluation of GANs for language generation").

LM score: NLL per token of the samples under a reference LM trained on the real training data (quality: do the
samples look like the data to a model of the data?). Reverse-LM score: NLL per token of real test data under a
fresh LM trained on the samples (coverage: do the samples carry enough of the data to model it?). Both count
tokens as `textgan.training.mle.evaluate_nll` does: natural log, EOS included, padding excluded. On the synthetic
oracle the reference LM is the oracle itself, so the LM score is SeqGAN's NLL-oracle of the same samples.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from textgan.data.batching import TokenData
from textgan.data.oracle import Oracle
from textgan.data.tokenizers import SPECIALS
from textgan.evaluation.language_model import REVERSE_LM_RECIPE, LMRecipe, train_lm
from textgan.models.generator import RNNGenerator
from textgan.training.mle import evaluate_nll

__all__ = ["lm_score", "oracle_lm_score", "reverse_lm_score"]

CPU = torch.device("cpu")


def lm_score(reference: RNNGenerator, samples: TokenData, *, batch_size: int = 256,
             device: torch.device = CPU) -> dict[str, float]:
    """{"lm_score", "lm_score_tokens"}: NLL per token of `samples` under the reference LM (lower is better)."""
    result = evaluate_nll(reference, samples, batch_size, device)
    return {"lm_score": result["nll"], "lm_score_tokens": result["tokens"]}


def oracle_lm_score(oracle: Oracle, samples: TokenData, *, batch_size: int = 1000) -> dict[str, float]:
    """{"lm_score", "lm_score_tokens"} with the oracle as reference LM: NLL-oracle of fixed-length samples."""
    width = samples.tokens.size(1)
    if bool((samples.lengths != width).any()):
        raise ValueError("oracle samples must all have the same length and no padding (a generator with "
                         "eos_id=None); got padded samples")
    tokens = samples.tokens - len(SPECIALS)  # (N, T): generator ids -> oracle ids
    if bool((tokens < 0).any()) or bool((tokens >= oracle.vocab_size).any()):
        raise ValueError(f"oracle samples must hold ids {len(SPECIALS)}..{oracle.vocab_size + len(SPECIALS) - 1} "
                         f"only (no specials)")
    return {"lm_score": oracle.nll(tokens, batch_size=batch_size), "lm_score_tokens": tokens.numel()}


def reverse_lm_score(samples: TokenData, test: TokenData, vocab_size: int, banned_ids: Sequence[int],
                     eos_id: int | None, *, seed: int, recipe: LMRecipe = REVERSE_LM_RECIPE,
                     batch_size: int = 256, device: torch.device = CPU) -> dict[str, float]:
    """{"reverse_lm_score", "reverse_lm_samples", "reverse_lm_tokens"}: NLL per token of real `test` data under
    a fresh LM trained on `samples` by `recipe` (lower is better; depends on the sample count, so it is reported)."""
    lm = train_lm(samples, vocab_size, banned_ids, eos_id, recipe=recipe, seed=seed, device=device)
    result = evaluate_nll(lm, test, batch_size, device)
    return {"reverse_lm_score": result["nll"], "reverse_lm_samples": len(samples),
            "reverse_lm_tokens": result["tokens"]}
