"""Likelihood metrics: NLL-oracle (SeqGAN) of generator samples, and the generator's NLL of held-out text.

NLL-oracle = -1/(N*T) sum_n sum_t log p_oracle(y_t^n | y_<t^n) over N generator samples (SeqGAN, Yu et al. 2017,
sec. 5.1): the quality of samples as judged by the true distribution. NLL-test is the generator's NLL per token
of held-out real data (EOS included, padding excluded), perplexity its exp: coverage of the real distribution;
`nll_per_token` accumulates it from any batch scorer (per class: `evaluation/per_class.py`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from textgan.data.batching import TokenBatch
from textgan.data.oracle import Oracle
from textgan.data.tokenizers import SPECIALS
from textgan.models.generator import RNNGenerator


@torch.no_grad()
def nll_oracle(generator: RNNGenerator, oracle: Oracle, num_samples: int, seq_len: int, batch_size: int = 1000,
               temperature: float = 1.0) -> float:
    """Oracle NLL per token of `num_samples` fresh generator samples of length `seq_len`."""
    rows = []
    for start in range(0, num_samples, batch_size):
        n = min(batch_size, num_samples - start)
        rows.append(generator.sample(n, seq_len, temperature=temperature).tokens)
    tokens = torch.cat(rows) - len(SPECIALS)  # generator ids -> oracle ids
    assert int(tokens.min()) >= 0, "a fixed-length generator produced a special token"
    return oracle.nll(tokens, batch_size=batch_size)


@torch.no_grad()
def nll_per_token(score: Callable[[TokenBatch], torch.Tensor], batches: Iterable[TokenBatch]) -> float:
    """NLL per token (EOS included, padding excluded) of `batches` under `score`, which returns a batch's summed
    NLL over its real tokens (e.g. `textgan.training.mle.mle_loss(generator, batch, reduction="sum")`, or a
    conditional generator's reading the batch's labels)."""
    total, count = 0.0, 0
    for batch in batches:
        total += float(score(batch))
        count += int(batch.lengths.sum())
    return total / max(count, 1)
