"""The run directory: one per run, holding config.yaml, tokenizer.json, labels.json (labelled data), metrics.jsonl
and checkpoints/.

A directory that already holds a run is never overwritten: continuing it needs `--resume`, and a resumed run
must have the same config except for the keys below (where to run it, how long, how often to evaluate).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from textgan.errors import DifferentRunError, UserError

# Keys a resumed run may change: they do not change what the earlier part of the run computed.
RESUMABLE_CHANGES = ("run.dir", "run.device", "run.progress", "run.threads", "pretrain.epochs", "pretrain.patience",
                     "d_pretrain.rounds", "adversarial.rounds", "adversarial.eval_every", "evaluation.",
                     "reinforce.table_scoring")


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def config_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Dotted keys whose values differ between two config dicts."""
    a, b = flatten(old), flatten(new)
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def open_run_dir(path: str | Path, config: dict[str, Any], *, resume: bool,
                 normalize: Callable[[dict[str, Any]], dict[str, Any]] = lambda tree: tree) -> Path:
    """Create (or, with resume, reopen) a run directory for `config`; refuse to mix runs. Returns the directory.
    `normalize` brings a stored config to the current layout (keys added since at their defaults) before the
    comparison. (Under torchrun only rank 0 calls it: see `api.run.TrainingRun.open`.)"""
    run = Path(path)
    config_file = run / "config.yaml"
    if config_file.is_file():
        if not resume:
            raise UserError(f"run directory {run} already holds a run; pass --resume to continue it, "
                            f"or choose a new one with run.dir=PATH")
        old = normalize(yaml.safe_load(config_file.read_text(encoding="utf-8")) or {})
        blocking = [k for k in config_differences(old, config) if not k.startswith(RESUMABLE_CHANGES)]
        if blocking:
            shown = ", ".join(f"{k}: {flatten(old).get(k)!r} -> {flatten(config).get(k)!r}" for k in blocking[:4])
            raise DifferentRunError(f"run directory {run} holds a different run ({shown}); "
                                    f"choose a new run.dir=PATH or resume with the same config")
    elif run.exists() and (not run.is_dir() or any(run.iterdir())):
        raise UserError(f"{run} exists and is not a textgan run directory; choose a new run.dir=PATH")
    try:
        (run / "checkpoints").mkdir(parents=True, exist_ok=True)
        config_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    except OSError as err:
        raise UserError(f"cannot write run directory {run} ({err.strerror or err}); "
                        f"choose a writable run.dir=PATH") from None
    return run


def outermost_missing(path: Path) -> Path | None:
    """The outermost of `path` and its ancestors that does not exist yet (None when `path` exists)."""
    if path.exists():
        return None
    while not path.parent.exists():
        path = path.parent
    return path


def discard_new_run_dir(run: Path, created: Path | None) -> None:
    """Undo a run directory made by a start that then failed: remove `created` (what mkdir made), or, when the
    directory already existed (it was empty then: `open_run_dir` refuses anything else), what is in it now."""
    if created is not None:
        shutil.rmtree(created, ignore_errors=True)
        return
    for child in run.iterdir():
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def write_tokenizer(run: Path, state: dict[str, Any]) -> None:
    """tokenizer.json (sentencepiece models: tokenizer.model beside it) for people and other tools."""
    readable = {k: v for k, v in state.items() if not isinstance(v, bytes)}
    for key, value in state.items():
        if isinstance(value, bytes):
            (run / "tokenizer.model").write_bytes(value)
            readable[key] = "tokenizer.model"
    (run / "tokenizer.json").write_text(json.dumps(readable), encoding="utf-8")


def write_labels(run: Path, state: dict[str, Any] | None) -> None:
    """labels.json: the class names (in id order) and priors of labelled data; nothing for unlabelled data."""
    if state is not None:
        (run / "labels.json").write_text(json.dumps(state), encoding="utf-8")
