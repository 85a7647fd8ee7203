"""The synthetic oracle of SeqGAN (Yu et al. 2017, sec. 5.1): a random LSTM that defines the "real" data.

Its parameters are drawn from N(0, init_std) (SeqGAN: N(0, 1), vocabulary 5000, embedding 32, hidden 32,
length 20) from a seed, so the same seed always builds the same oracle. It generates the training and held-out
sets and scores any token sequences: NLL-oracle = -1/(N*T) sum log p_oracle(y_t | y_<t) of generator samples.
Sequences have a fixed length and no EOS, as in SeqGAN. Oracle ids are 0..V-1 here; the toolkit's vocabulary
maps them to V + 4 ids (see `OracleTokenizer`).
"""

from __future__ import annotations

import torch
from torch import nn


class Oracle(nn.Module):
    """An LSTM language model with N(0, init_std) parameters; index `vocab_size` is its start token."""

    def __init__(self, vocab_size: int, embedding_size: int, hidden_size: int, init_std: float, seed: int) -> None:
        super().__init__()
        self.vocab_size = vocab_size
        self.embedding = nn.Embedding(vocab_size + 1, embedding_size)
        self.lstm = nn.LSTM(embedding_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)
        draw = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for p in self.parameters():  # fixed order: embedding, lstm (4 tensors), head
                p.copy_(torch.randn(p.shape, generator=draw) * init_std)
        self.requires_grad_(False)

    def _start(self, n: int) -> torch.Tensor:
        return torch.full((n, 1), self.vocab_size, dtype=torch.long, device=self.head.weight.device)

    @torch.no_grad()
    def generate(self, num: int, seq_len: int, seed: int, batch_size: int = 250) -> torch.Tensor:
        """(num, seq_len) oracle ids sampled ancestrally, reproducible from `seed` (drawn on the CPU)."""
        draw = torch.Generator().manual_seed(seed)
        device = self.head.weight.device
        out = []
        for start in range(0, num, batch_size):
            n = min(batch_size, num - start)
            token, state, rows = self._start(n), None, []
            for _ in range(seq_len):
                hidden, state = self.lstm(self.embedding(token), state)
                # Inverse-CDF sampling (see models/sampling.py); small batches keep (n, V) in cache.
                cdf = torch.softmax(self.head(hidden[:, -1]), dim=-1).cpu().cumsum_(-1)  # (n, V)
                u = torch.rand(n, 1, generator=draw) * cdf[:, -1:]
                token = torch.searchsorted(cdf, u, right=True).clamp_(max=self.vocab_size - 1).to(device)
                rows.append(token)
            out.append(torch.cat(rows, dim=1).cpu())
        return torch.cat(out)

    @torch.no_grad()
    def nll(self, tokens: torch.Tensor, batch_size: int = 1000) -> float:
        """Mean NLL per token of oracle-id sequences (N, T) under the oracle (SeqGAN's NLL-oracle)."""
        device = self.head.weight.device
        total, count = 0.0, 0
        for start in range(0, tokens.size(0), batch_size):
            chunk = tokens[start:start + batch_size].to(device)  # (b, T)
            inputs = torch.cat([self._start(chunk.size(0)), chunk[:, :-1]], dim=1)
            hidden, _ = self.lstm(self.embedding(inputs))
            logp = torch.log_softmax(self.head(hidden).float(), dim=-1)  # (b, T, V)
            total += -float(logp.gather(-1, chunk.unsqueeze(-1)).sum())
            count += chunk.numel()
        return total / max(count, 1)
