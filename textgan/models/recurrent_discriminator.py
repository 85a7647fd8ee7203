"""Recurrent per-step discriminator (ScratchGAN: de Masson d'Autume et al. 2019, "Training Language GANs from
Scratch", sec. 3): one logit per prefix from a left-to-right LSTM, so logit t reads y_1..t only.

ScratchGAN's regularisers: dropout on the embedding matrix (whole word vectors dropped, so a word is unseen
everywhere in the batch), layer normalisation, and a small L2 on every parameter (added to the loss by the
estimator, `l2_penalty`). Here layer normalisation acts on each step's LSTM output (the fused `nn.LSTM` keeps its
gates un-normalised); an optional sinusoidal positional signal (Vaswani et al. 2017) joins each step's input.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def sinusoid(steps: int, size: int, device: torch.device) -> Tensor:
    """(T, size) sinusoidal position features of steps 1..T (Vaswani et al. 2017, sec. 3.5)."""
    position = torch.arange(1, steps + 1, device=device, dtype=torch.float32).unsqueeze(1)  # (T, 1)
    rates = torch.exp(torch.arange(0, size, 2, device=device, dtype=torch.float32) * (-math.log(1e4) / size))
    angles = position * rates  # (T, size / 2)
    return torch.cat([angles.sin(), angles.cos()], dim=1)[:, :size]  # (T, size)


class RecurrentDiscriminator(nn.Module):
    """LSTM over token ids (B, T) -> one logit per step (B, T), real = positive, 0 after each sequence's end."""

    def __init__(self, *, vocab_size: int, embedding_size: int = 64, hidden_size: int = 128,
                 embedding_dropout: float = 0.1, layer_norm: bool = True, positional_size: int = 0,
                 pad_id: int = 0) -> None:
        super().__init__()
        if vocab_size <= 0 or embedding_size <= 0 or hidden_size <= 0:
            raise ValueError(f"vocab_size, embedding_size and hidden_size must be > 0, got {vocab_size}, "
                             f"{embedding_size}, {hidden_size}")
        if not 0.0 <= embedding_dropout < 1.0:
            raise ValueError(f"embedding_dropout must be in [0, 1), got {embedding_dropout}")
        if positional_size < 0 or positional_size % 2:
            raise ValueError(f"positional_size must be an even number >= 0, got {positional_size}")
        self.vocab_size, self.pad_id = vocab_size, pad_id
        self.embedding_dropout, self.positional_size = embedding_dropout, positional_size
        self.embedding = nn.Embedding(vocab_size, embedding_size, padding_idx=pad_id)
        self.rnn = nn.LSTM(embedding_size + positional_size, hidden_size, batch_first=True)
        self.norm: nn.LayerNorm | None = nn.LayerNorm(hidden_size) if layer_norm else None
        self.head = nn.Linear(hidden_size, 1)

    def embedding_matrix(self) -> Tensor:
        """(V, E) embedding matrix; in training, whole rows dropped with probability p (the rest scaled by 1/(1-p))."""
        weight = self.embedding.weight
        if not self.training or self.embedding_dropout == 0.0:
            return weight
        keep = torch.empty(weight.size(0), 1, device=weight.device).bernoulli_(1.0 - self.embedding_dropout)
        return weight * keep / (1.0 - self.embedding_dropout)  # (V, E)

    def forward(self, tokens: Tensor) -> Tensor:
        """Logits (B, T) of every prefix of token ids (B, T): [b, t-1] scores y_b,1..t; 0 from the first PAD on."""
        if tokens.dim() != 2 or tokens.dtype != torch.long:
            raise ValueError(f"expects a LongTensor (B, T), got {tokens.dtype} of shape {tuple(tokens.shape)}")
        x = F.embedding(tokens, self.embedding_matrix(), padding_idx=self.pad_id)  # (B, T, E)
        if self.positional_size:
            position = sinusoid(tokens.size(1), self.positional_size, tokens.device)  # (T, P)
            x = torch.cat([x, position.expand(tokens.size(0), -1, -1)], dim=2)  # (B, T, E + P)
        h, _ = self.rnn(x)  # (B, T, H)
        if self.norm is not None:
            h = self.norm(h)
        logits = self.head(h).squeeze(-1)  # (B, T)
        return logits.masked_fill(tokens == self.pad_id, 0.0)

    def l2_penalty(self) -> Tensor:
        """sum of squared parameters / 2 (tf.nn.l2_loss over every parameter, as ScratchGAN's D regulariser)."""
        return sum(p.pow(2).sum() for p in self.parameters()) / 2  # type: ignore[return-value]

    def flops_per_prefix(self) -> int:
        """Multiply-adds x 2 of one step (one more prefix scored): the LSTM's gates, layer norm and the head."""
        inputs, hidden = self.rnn.input_size, self.rnn.hidden_size
        gates = 2 * 4 * hidden * (inputs + hidden) + 10 * 4 * hidden  # two GEMVs, then the cell's pointwise work
        return gates + (8 * hidden if self.norm is not None else 0) + 2 * hidden
