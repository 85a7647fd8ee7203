"""torch.distributed plumbing for data-parallel runs under torchrun: process group, DDP wrapping, collectives.

textgan writes no process manager and no gradient sync of its own: `torchrun` starts one process per device and
sets RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT; `init_from_environment` joins that group (gloo
on CPU, NCCL on CUDA) and `wrap` puts a model in DistributedDataParallel, which averages gradients in backward.
Without torchrun (no WORLD_SIZE > 1 in the environment) every function is a cheap no-op for one process, so the
single-process code path is the distributed one with world size 1.

Rules the training code follows (breaking one makes replicas silently drift apart, or a rank wait forever):
differentiable passes go through the wrapper's forward (gradients are averaged only there); sampling, scoring
and evaluation use `unwrap(model)` (a wrapped forward may be a collective the other ranks never join); every rank
takes the same number of optimizer steps (`per_rank_batches`); metrics are averaged over ranks before rank 0
logs them (`mean_metrics`); rank 0 alone writes, and what the others need from disk they get from rank 0
(`share_from_rank0`).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from typing import Any, TypeVar

import torch
import torch.distributed as dist
from torch import nn

from textgan.errors import UserError

T = TypeVar("T")


def init_from_environment(device_name: str = "cpu") -> bool:
    """Join the process group torchrun describes (gloo on CPU, NCCL on CUDA); no-op for one process or when the
    caller already set a group up. Returns whether it joined one (then `shutdown` is the caller's to call)."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return False
    use_cuda = device_name.startswith("cuda") or (device_name == "auto" and torch.cuda.is_available())
    if use_cuda:
        # NCCL collectives (and broadcast_object_list) run on the current device: make it this rank's GPU.
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    return True


def shutdown() -> None:
    """Leave the process group (at the end of a command); no-op for one process."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def is_distributed() -> bool:
    """True inside a process group of more than one rank."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank_and_world() -> tuple[int, int]:
    """(rank, world size); (0, 1) for a single process."""
    return (dist.get_rank(), dist.get_world_size()) if is_distributed() else (0, 1)


def device_for_rank(device: torch.device) -> torch.device:
    """cuda -> cuda:LOCAL_RANK under torchrun; CPU unchanged. An explicit cuda:N is refused there: every rank
    would put its model on GPU N while `init_from_environment` made GPU LOCAL_RANK the one NCCL talks on."""
    if device.type != "cuda" or not is_distributed():
        return device
    if device.index is not None:
        raise UserError(f"run.device={device} would put every torchrun rank on one GPU: use run.device=cuda "
                        "(rank r takes GPU LOCAL_RANK) and choose the GPUs with CUDA_VISIBLE_DEVICES")
    return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))


def broadcast_parameters(model: nn.Module) -> None:
    """Make every rank start from rank 0's parameters and buffers."""
    if is_distributed():
        for tensor in list(model.parameters()) + list(model.buffers()):
            dist.broadcast(tensor.data, src=0)


def wrap(model: nn.Module, device: torch.device, *, find_unused_parameters: bool = False) -> nn.Module:
    """`model` in DistributedDataParallel when there are several ranks (the model itself otherwise).

    DDP starts every rank from rank 0's parameters and buffers. Buffers are not re-broadcast at every forward
    (`broadcast_buffers=False`): textgan's buffers are constants (the generator's logit mask), and a per-forward
    broadcast would make a forward on one rank alone (evaluation) wait forever for the others.
    `find_unused_parameters=True` is for a model some of whose parameters a loss may leave without a gradient
    (DDP otherwise waits for them and fails at the next step with "Expected to have finished reduction in the
    prior iteration"). It walks the autograd graph at every step, so it is off by default: every loss of the
    registered estimators uses every parameter of the module it goes through (tests/training checks it).
    """
    if not is_distributed():
        return model
    ddp = nn.parallel.DistributedDataParallel
    # newer torch names the per-forward buffer sync `forward_sync_buffers` (and deprecates broadcast_buffers)
    no_forward_sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in inspect.signature(ddp).parameters
                       else {"broadcast_buffers": False})
    return ddp(model, device_ids=[device.index] if device.type == "cuda" else None,
               find_unused_parameters=find_unused_parameters, **no_forward_sync)


def broadcast_object(obj: T) -> T:
    """Rank 0's `obj` (any picklable value) on every rank; `obj` itself for one process."""
    if not is_distributed():
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather_objects(obj: T) -> list[T]:
    """Every rank's `obj`, in rank order, on every rank; [obj] for one process."""
    if not is_distributed():
        return [obj]
    boxes: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(boxes, obj)
    return boxes


def share_from_rank0(compute: Callable[[], T]) -> T:
    """`compute()` on rank 0 alone, its result on every rank (pickled); a UserError it raises is raised on every
    rank, so no rank waits forever for a rank 0 that stopped. One process: just `compute()`."""
    if not is_distributed():
        return compute()
    value: Any = None
    error: str | None = None
    if dist.get_rank() == 0:
        try:
            value = compute()
        except UserError as err:
            error = str(err)
    value, error = broadcast_object((value, error))
    if error is not None:
        raise UserError(error)
    return value


def per_rank_batches(num_batches: int, world_size: int, what: str) -> int:
    """Batches each rank takes per epoch so that every rank steps equally often: all of them for one process,
    num_batches // world_size otherwise (the last incomplete round of batches is dropped: a rank stepping once
    more than the others would wait forever in its gradient all-reduce)."""
    if world_size == 1:
        return num_batches
    if num_batches < world_size:
        raise UserError(f"{what}: {num_batches} batch(es) per epoch cannot be shared by {world_size} processes; "
                        f"lower the batch size or launch fewer processes (torchrun --nproc_per_node)")
    return num_batches // world_size


def mean_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """Average float metrics over ranks (identity for one process); other values are rank 0's."""
    if not is_distributed():
        return metrics
    keys = sorted(k for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
    values = torch.tensor([float(metrics[k]) for k in keys], dtype=torch.float64)
    if dist.get_backend() == "nccl":
        values = values.cuda()
    dist.all_reduce(values)
    values /= dist.get_world_size()
    return {**metrics, **dict(zip(keys, values.tolist()))}
