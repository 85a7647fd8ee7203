"""Checkpoints: plain state dicts, config and tokenizer data, written atomically, loaded without unpickling code.

A checkpoint is a dict of tensors and Python primitives only, so `torch.load(weights_only=True)` reads it:
nothing in it can run code. Writes go to a temporary file in the same directory, then `os.replace`, so a run
killed mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

import torch

from textgan.errors import UserError

FORMAT = "textgan-checkpoint-1"


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> None:
    """Atomically write `payload` (plus the format tag) to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save({"format": FORMAT, **payload}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint file (or the newest checkpoint of a run directory) on the CPU, weights only."""
    path = resolve_checkpoint(path)
    try:
        with warnings.catch_warnings():  # torch's notes on odd pickle protocols mean nothing to a user here
            warnings.simplefilter("ignore")
            payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001  a file that is not a checkpoint fails in torch's reader in many ways
        # (UnpicklingError, BadZipFile, EOFError, and IndexError from the weights-only unpickler on plain text)
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise UserError(f"{path} is not a readable textgan checkpoint ({first[:120]}); "
                        f"give a run directory or a .pt file that textgan wrote") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError(f"{path} is not a textgan checkpoint (format {FORMAT} expected)")
    return payload


def resolve_checkpoint(path: str | Path) -> Path:
    """A .pt file as given, or `<run>/checkpoints/last.pt` for a run directory."""
    path = Path(path)
    if path.is_dir():
        candidate = path / "checkpoints" / "last.pt"
        if not candidate.is_file():
            raise UserError(f"run directory {path} has no checkpoint yet (expected {candidate}); "
                            f"train first or point at a .pt file")
        return candidate
    if not path.is_file():
        raise UserError(f"checkpoint {path} does not exist; give a run directory or a .pt file")
    return path


def rng_state() -> dict[str, Any]:
    """The torch RNG states (CPU and, when present, every CUDA device)."""
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` returned (CUDA states only if CUDA is here)."""
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
