"""What every training function runs with: the models and their optimizers, the runtime, the caller's hooks."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import nn

from textgan.training import distributed
from textgan.training.metrics_log import MetricsLog

Metrics = dict[str, float]


def _identity(metrics: Metrics) -> Metrics:
    return metrics


@dataclass
class Models:
    """The networks a phase trains and their optimizers (the discriminator's are None before it exists)."""

    generator: nn.Module
    g_optimizer: torch.optim.Optimizer
    discriminator: nn.Module | None = None
    d_optimizer: torch.optim.Optimizer | None = None


@dataclass
class Runtime:
    """Where a training function runs and how it reports: device, process rank and count, metric reduction over
    ranks, the metrics log (None: nothing written) and progress bars."""

    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    rank: int = 0
    world_size: int = 1
    log: MetricsLog | None = None
    progress: bool = True
    reduce_metrics: Callable[[Metrics], Metrics] = _identity

    @classmethod
    def current(cls, device: torch.device, log: MetricsLog | None = None, progress: bool = True) -> Runtime:
        """This process's runtime: its rank and world size (1 outside torchrun), metrics averaged over ranks."""
        rank, world_size = distributed.rank_and_world()
        return cls(device, rank, world_size, log, progress, distributed.mean_metrics)

    def record(self, event: str, step: int, **values: object) -> dict[str, object]:
        """Log `values` (rank 0 writes); returns the record."""
        if self.log is None:
            return {"event": event, "step": step, **values}
        return self.log.log(event, step, **values)

    @property
    def bars(self) -> bool:
        """Whether this process shows progress bars (rank 0, asked for, on a terminal)."""
        return self.progress and self.rank == 0 and sys.stderr.isatty()


@dataclass
class Hooks:
    """The caller's part of a loop: extra metrics (rank 0; training never imports evaluation) and checkpoints."""

    evaluate: Callable[[], Metrics] | None = None
    checkpoint: Callable[[], None] = lambda: None  # called when the schedule says; every rank calls it
