"""Small evaluation language models (the reference LM and the reverse LM): a fixed recipe and one training call.

Both are the toolkit's own `RNNGenerator` trained by teacher forcing (MLE) with Adam for a fixed number of epochs:
no early stopping and no validation split, so the number depends only on the training data, the recipe and the
seed (Semeniuta et al. 2018, sec. 3; Caccia et al. 2020, sec. 4.1 use the same two LMs, with larger recipes).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch

from textgan.data.batching import TokenData
from textgan.models.generator import RNNGenerator
from textgan.training.mle import mle_loss

__all__ = ["LMRecipe", "REFERENCE_LM_RECIPE", "REVERSE_LM_RECIPE", "build_lm", "train_lm"]

CPU = torch.device("cpu")


@dataclass(frozen=True)
class LMRecipe:
    """How an evaluation LM is built and trained; part of every cache key and stated with every number."""

    embedding_size: int = 64   # token embedding width
    hidden_size: int = 128     # one LSTM layer; its mean-pooled states are also FED's and MAUVE's default features
    epochs: int = 4            # full passes over the training data; no early stopping (COCO: test NLL is lowest at 4)
    batch_size: int = 64       # sequences per Adam step
    lr: float = 5e-3           # Adam learning rate (betas 0.9, 0.999)
    clip: float = 5.0          # gradient-norm clipping (0: none)

    def as_dict(self) -> dict[str, Any]:
        """The recipe as plain numbers (stored next to cached weights)."""
        return asdict(self)


# The reference LM is trained once per data set, so it may take a few CPU-minutes (COCO: 10,000 captions).
REFERENCE_LM_RECIPE = LMRecipe()
# The reverse LM is retrained for every scored sample set: small and short, so 2,000 COCO-length samples plus
# scoring the 10,000-caption test file fit in <= 30 s on one CPU thread (see docs/evaluation.md).
REVERSE_LM_RECIPE = LMRecipe(embedding_size=64, hidden_size=128, epochs=2, batch_size=32, lr=5e-3, clip=5.0)


def build_lm(vocab_size: int, banned_ids: Sequence[int], eos_id: int | None, recipe: LMRecipe) -> RNNGenerator:
    """An untrained one-layer LSTM LM of the recipe's size (weights from the global torch RNG)."""
    return RNNGenerator(vocab_size=vocab_size, embedding_size=recipe.embedding_size,
                        hidden_size=recipe.hidden_size, banned_ids=list(banned_ids), eos_id=eos_id)


def train_lm(train: TokenData, vocab_size: int, banned_ids: Sequence[int], eos_id: int | None, *,
             recipe: LMRecipe, seed: int, device: torch.device = CPU) -> RNNGenerator:
    """An LM trained by MLE on `train` with `recipe`, reproducible from `seed`; returned in eval mode.

    The caller's global RNG state is left as it was (the initial weights are drawn inside a forked RNG).
    """
    if len(train) == 0:
        raise ValueError("train_lm got no training sequences")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        lm = build_lm(vocab_size, banned_ids, eos_id, recipe).to(device)
    optimizer = torch.optim.Adam(lm.parameters(), lr=recipe.lr)
    lm.train()
    for epoch in range(recipe.epochs):
        # (1) one shuffled pass (order from (seed, epoch) alone), (2) Adam step on the mean NLL per token
        for batch in train.batches(recipe.batch_size, shuffle=True, seed=seed, epoch=epoch):
            optimizer.zero_grad(set_to_none=True)
            loss = mle_loss(lm, batch.to(device))
            loss.backward()
            if recipe.clip > 0:
                torch.nn.utils.clip_grad_norm_(lm.parameters(), recipe.clip)
            optimizer.step()
    return lm.eval()
