"""Flat float32 buffers reused from call to call by the thread that asks, for data that does not outlive the
call: fresh memory costs a page fault per 4 KB on first write, as much as the work done in it on hot paths (the
compiled convolutions' packed filters, the fused step's gradient blocks)."""

from __future__ import annotations

import threading

import torch
from torch import Tensor

_buffers = threading.local()


def scratch(name: str, size: int) -> Tensor:
    """This thread's buffer `name`, `size` elements (grown when asked for more); its contents are undefined."""
    store = _buffers.__dict__.setdefault("store", {})
    if name not in store or store[name].numel() < size:
        store[name] = torch.empty(size)
    return store[name][:size]
