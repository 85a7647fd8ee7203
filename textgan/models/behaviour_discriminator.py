"""Behaviour discriminator for professor forcing (Lamb et al. 2016, "Professor Forcing").

Professor forcing trains a discriminator to tell the generator's hidden-state sequences under
teacher forcing from those under free running; the generator is trained to make the two
indistinguishable. Following the paper, the discriminator is a bidirectional RNN over the
behaviour sequence followed by an MLP.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence


class GRUBehaviourDiscriminator(nn.Module):
    """Bidirectional GRU over (B, T, F) hidden states -> MLP -> one logit per sequence (real = positive)."""

    def __init__(self, *, feature_size: int, hidden_size: int = 64, mlp_hidden: int = 64, dropout: float = 0.0) -> None:
        super().__init__()
        if feature_size <= 0:
            raise ValueError(f"feature_size must be > 0, got {feature_size}")
        if hidden_size <= 0:
            raise ValueError(f"hidden_size must be > 0, got {hidden_size}")
        if mlp_hidden <= 0:
            raise ValueError(f"mlp_hidden must be > 0, got {mlp_hidden}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.feature_size = feature_size
        self.hidden_size = hidden_size
        self.rnn = nn.GRU(feature_size, hidden_size, batch_first=True, bidirectional=True)
        self.mlp = nn.Sequential(
            nn.Linear(2 * hidden_size, mlp_hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(mlp_hidden, 1),
        )

    def forward(self, features: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Score behaviour sequences ``features`` (B, T, F); returns (B,) logits.

        ``lengths`` (B,) gives each sequence's valid length (1..T) when ``features`` is
        right-padded; the padding is then skipped in both directions.
        """
        if features.dim() != 3 or features.shape[-1] != self.feature_size:
            raise ValueError(
                f"features must have shape (B, T, {self.feature_size}), got {tuple(features.shape)}"
            )
        batch, steps = features.shape[0], features.shape[1]
        if lengths is None:
            _, h_n = self.rnn(features)  # h_n: (2, B, H)
        else:
            if lengths.dim() != 1 or lengths.shape[0] != batch:
                raise ValueError(f"lengths must have shape ({batch},), got {tuple(lengths.shape)}")
            lengths_cpu = lengths.detach().to("cpu", torch.long)
            if bool((lengths_cpu < 1).any()) or bool((lengths_cpu > steps).any()):
                raise ValueError(f"lengths must lie in [1, T={steps}], got min {int(lengths_cpu.min())} "
                                 f"max {int(lengths_cpu.max())}")
            packed = pack_padded_sequence(features, lengths_cpu, batch_first=True, enforce_sorted=False)
            # With enforce_sorted=False the GRU restores the original batch order in h_n.
            _, h_n = self.rnn(packed)  # h_n: (2, B, H)
        # Final forward state (after the last valid step) and final backward state (after step 0).
        h = torch.cat([h_n[0], h_n[1]], dim=-1)  # (B, 2H)
        return self.mlp(h).squeeze(-1)  # (B,)
