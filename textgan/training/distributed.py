"""torch.distributed plumbing: process group from the torchrun environment, rank queries, metric reduction.

Without torchrun (no WORLD_SIZE in the environment) every function is a cheap no-op for a single process.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import nn

from textgan.models.wrapping import unwrap  # noqa: F401  (re-exported for training code)


def init_from_environment(device_name: str = "cpu") -> None:
    """Join the process group torchrun describes (gloo on CPU, NCCL on CUDA); no-op for one process."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        backend = "nccl" if device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available()) \
            else "gloo"
        dist.init_process_group(backend=backend)


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank_and_world() -> tuple[int, int]:
    """(rank, world size); (0, 1) for a single process."""
    return (dist.get_rank(), dist.get_world_size()) if is_distributed() else (0, 1)


def device_for_rank(device: torch.device) -> torch.device:
    """cuda -> cuda:LOCAL_RANK under torchrun; CPU unchanged."""
    if device.type == "cuda" and is_distributed() and device.index is None:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def broadcast_parameters(model: nn.Module) -> None:
    """Make every rank start from rank 0's parameters and buffers."""
    if is_distributed():
        for tensor in list(model.parameters()) + list(model.buffers()):
            dist.broadcast(tensor.data, src=0)


def mean_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """Average float metrics over ranks (identity for one process)."""
    if not is_distributed():
        return metrics
    keys = sorted(k for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
    values = torch.tensor([float(metrics[k]) for k in keys], dtype=torch.float64)
    dist.all_reduce(values)
    values /= dist.get_world_size()
    return {**metrics, **dict(zip(keys, values.tolist()))}
