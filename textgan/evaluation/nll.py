"""Likelihood metrics: NLL-oracle (SeqGAN) of generator samples, and the generator's NLL of held-out text.

NLL-oracle = -1/(N*T) sum_n sum_t log p_oracle(y_t^n | y_<t^n) over N generator samples (SeqGAN, Yu et al. 2017,
sec. 5.1): the quality of samples as judged by the true distribution. NLL-test is the generator's NLL per token
of held-out real data (EOS included, padding excluded), perplexity its exp: coverage of the real distribution.
"""

from __future__ import annotations

import torch

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
