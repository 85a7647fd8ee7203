"""How long and how each phase trains (schedules) and how far it got (progress, checkpointed)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class MLESchedule:
    """Teacher forcing: `epochs` epochs (early stopping after `patience` epochs without a better validation NLL;
    0: off), shuffled from `seed`."""

    epochs: int
    batch_size: int = 64
    clip: float = 5.0
    patience: int = 0
    seed: int = 0


@dataclass(frozen=True)
class DiscriminatorSchedule:
    """D pretraining: `rounds` x `epochs` of `num_samples` real sequences against as many fresh fakes."""

    rounds: int
    epochs: int = 3
    num_samples: int = 10000
    batch_size: int = 64
    clip: float = 5.0
    seed: int = 0
    length_buckets: int = 0  # real batches from length-sorted pools of this many batches (0: plain shuffle)
    r1_weight: float = 0.0  # gamma of D's R1 penalty on its embedded real inputs (Mescheder et al. 2018)
    fake_pool: int = 0  # fakes drawn this many at a time for a whole D phase (0: per batch; models/fake_pool.py)
    fake_reuse: int = 1  # times each pooled fake is served


@dataclass(frozen=True)
class AdversarialSchedule:
    """R rounds of {g_steps G updates, mle_steps teacher-forcing steps, d_steps x d_epochs D epochs of
    d_num_samples real sequences}; metrics every `eval_every` rounds, a checkpoint every `checkpoint_every`
    (both also after the last round). 1 G : k D batches is g_steps=1, d_steps=k, d_num_samples=batch_size."""

    rounds: int
    g_steps: int = 1
    d_steps: int = 5
    d_epochs: int = 3
    d_num_samples: int = 10000
    batch_size: int = 64
    clip: float = 5.0
    mle_steps: int = 0
    eval_every: int = 10
    checkpoint_every: int = 1
    seed: int = 0
    length_buckets: int = 0  # D's real batches from length-sorted pools of this many batches (0: plain shuffle)
    r1_weight: float = 0.0  # gamma of D's R1 penalty on its embedded real inputs (Mescheder et al. 2018)
    fake_pool: int = 0  # D's fakes drawn this many at a time for a whole D phase (0: per batch)
    fake_reuse: int = 1  # times each pooled fake is served


class _Progress:
    """Checkpointed as a plain dict (the layout checkpoints have always had)."""

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)  # type: ignore[arg-type]
                if getattr(self, f.name) is not None}

    @classmethod
    def from_dict(cls, state: dict[str, Any] | None) -> Any:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in (state or {}).items() if k in names})


@dataclass
class MLEProgress(_Progress):
    """Epochs and steps done, the best validation NLL so far (and, with early stopping, that epoch's weights)."""

    epoch: int = 0
    step: int = 0
    best: float = float("inf")
    bad_epochs: int = 0
    best_epoch: int | None = None
    best_weights: dict[str, Any] | None = None

    def finished(self, schedule: MLESchedule) -> bool:
        """Whether MLE is over: all epochs done, or early-stopped after `patience` bad epochs."""
        return self.epoch >= schedule.epochs or bool(schedule.patience and self.bad_epochs >= schedule.patience)


@dataclass
class RoundProgress(_Progress):
    """Rounds done (and, in the adversarial phase, generator updates done)."""

    round: int = 0
    g_step: int = 0
