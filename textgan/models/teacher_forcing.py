"""The one teacher-forced NLL pass of the generator (MLE, professor forcing), run as a generator `routine`."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from textgan.models.fused_loss import generator_nll
from textgan.models.generator import RNNGenerator


@dataclass
class TeacherForced:
    """A teacher-forced pass: top-layer hidden states and the summed NLL of the targets (padding excluded)."""

    hidden: torch.Tensor  # (B, T, H)
    nll: torch.Tensor     # () summed over real tokens


def teacher_forced_nll(generator: RNNGenerator, inputs: torch.Tensor, state: torch.Tensor | None, *,
                       targets: torch.Tensor, labels: torch.Tensor | None = None) -> TeacherForced:
    """Read inputs (B, T) (BOS, y_1..y_{T-1}) (of classes `labels` (B,) for a conditional generator); NLL of
    targets y_1..y_T (B, T) by the fused projection + cross-entropy (no (B, T, V) logits). Call it as
    `generator(inputs, routine=partial(teacher_forced_nll, targets=..., labels=...))` so a DDP wrapper sees it."""
    hidden, _ = generator.run(inputs, state, labels)  # (B, T, H)
    return TeacherForced(hidden, generator_nll(generator, hidden, targets))
