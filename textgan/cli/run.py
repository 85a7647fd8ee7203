"""One configured run, phase by phase: (1) MLE pretraining of G, (2) D pretraining, (3) adversarial rounds.

`textgan pretrain` runs phase 1, `textgan train` all three. A checkpoint (`checkpoints/last.pt`) is written after
every epoch / round with the phase and its progress, so `--resume` continues exactly where a killed run stopped.
`checkpoints/mle.pt` keeps the generator as it was after MLE, for comparisons with the adversarial one.
"""

from __future__ import annotations

import math
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from textgan.cli.builders import Prepared, build_data, build_generator, check_same_vocabulary, resolve_device
from textgan.config import Config
from textgan.config_io import config_to_dict
from textgan.errors import UserError
from textgan.training import distributed
from textgan.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from textgan.training.metrics_log import MetricsLog
from textgan.training.mle import mle_finished, train_mle
from textgan.training.run_dir import discard_new_run_dir, open_run_dir, outermost_missing, write_tokenizer

PHASES = ("mle", "d_pretrain", "adversarial", "done")


@dataclass
class Session:
    """What every phase needs: config, data, models, optimizers, run directory and the resumed progress."""

    cfg: Config
    run_dir: Path
    device: torch.device
    data: Prepared
    models: dict[str, torch.nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    log: MetricsLog
    progress: dict[str, dict[str, Any]] = field(default_factory=dict)
    phase: str = "mle"
    extra_state: dict[str, Callable[[], dict[str, Any]]] = field(default_factory=dict)
    rank: int = 0
    world_size: int = 1

    @property
    def generator(self) -> torch.nn.Module:
        return self.models["generator"]

    def save(self, name: str = "last.pt") -> None:
        """Checkpoint everything (rank 0 writes): states, progress, RNG, config, tokenizer.

        Every rank must call it: each rank's RNG and estimator state (a moving baseline depends on the rank's own
        samples) are gathered, so every rank of a resumed run continues exactly as it would have."""
        extra = {k: fn() for k, fn in self.extra_state.items()}
        rank_states = distributed.gather_objects({"rng": rng_state(), "extra": extra})
        if self.rank != 0:
            return
        payload = {
            "config": config_to_dict(self.cfg), "tokenizer": self.data.tokenizer.state(),
            "fixed_length": self.data.fixed_length, "max_len": self.data.max_len,
            "phase": self.phase, "progress": self.progress,
            "models": {k: distributed.unwrap(m).state_dict() for k, m in self.models.items()},
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "extra": extra,
            "rng": rank_states[0]["rng"],
        }
        if self.world_size > 1:
            payload["rank_states"] = rank_states
        save_checkpoint(self.run_dir / "checkpoints" / name, payload)


def open_session(cfg: Config, *, resume: bool, init_from: str | None = None) -> Session:
    """Open (or resume) the run directory, prepare data and build the generator and its optimizer."""
    rank, world_size = distributed.rank_and_world()
    device = distributed.device_for_rank(resolve_device(cfg.run.device))
    run_dir = Path(cfg.run.dir)
    if cfg.run.threads:
        torch.set_num_threads(cfg.run.threads)
    torch.manual_seed(cfg.run.seed + rank)  # per-rank seeds: ranks draw different samples
    rank0_data: list[Prepared] = []
    # A bad --init-from must fail before the run directory is created (a rerun would then need --resume).
    source = load_checkpoint(init_from) if init_from is not None else None

    def setup() -> dict[str, Any]:
        # Rank 0 alone checks and writes the run directory, reads the checkpoint and fits the tokenizer; the
        # other ranks get the checkpoint and tokenizer from it (no race on the directory, no shared disk needed).
        new_run = not (run_dir / "config.yaml").is_file()
        created = outermost_missing(run_dir)
        open_run_dir(run_dir, config_to_dict(cfg), resume=resume)
        try:
            checkpoint_file = run_dir / "checkpoints" / "last.pt"
            found = load_checkpoint(checkpoint_file) if resume and checkpoint_file.is_file() else None
            rank0_data.append(build_data(cfg, cache_dir=run_dir / "cache",
                                         tokenizer_state=found["tokenizer"] if found else None))
            write_tokenizer(run_dir, rank0_data[0].tokenizer.state())
        except UserError:
            if new_run:  # e.g. a bad data file: leave no half-made run that would block the corrected rerun
                discard_new_run_dir(run_dir, created)
            raise
        return {"payload": found, "tokenizer": rank0_data[0].tokenizer.state()}

    shared = distributed.share_from_rank0(setup)
    payload = shared["payload"]
    if rank0_data:
        data = rank0_data[0]
    else:  # the same data with rank 0's tokenizer; a private cache, so nothing is written to the run directory
        with tempfile.TemporaryDirectory(prefix="textgan-cache-") as cache:
            data = build_data(cfg, cache_dir=Path(cache), tokenizer_state=shared["tokenizer"])
    generator = build_generator(cfg, data.tokenizer, data.fixed_length).to(device)
    optimizer = torch.optim.Adam(generator.parameters(), lr=cfg.pretrain.lr)
    session = Session(cfg, run_dir, device, data, {"generator": generator}, {"generator": optimizer},
                      MetricsLog(run_dir / "metrics.jsonl", enabled=rank == 0), rank=rank, world_size=world_size)
    if payload is not None:
        session.phase, session.progress = payload["phase"], payload["progress"]
        session.models["generator"].load_state_dict(payload["models"]["generator"])
        session.optimizers["generator"].load_state_dict(payload["optimizers"]["generator"])
        session.resumed_payload = payload  # type: ignore[attr-defined]  # later phases restore their parts
    elif source is not None:
        check_same_vocabulary(init_from, source["tokenizer"], data.tokenizer.state())
        session.models["generator"].load_state_dict(source["models"]["generator"])
        session.phase = "d_pretrain"  # a pretrained generator skips MLE
        session.log.log("init_from", 0, checkpoint=str(init_from))
    if rank == 0 and payload is None:
        session.log.log("data", 0, **data.report)
    distributed.broadcast_parameters(session.generator)
    # Every generator loss runs the embedding, the RNN and the head: no find_unused_parameters needed.
    session.models["generator"] = distributed.wrap(session.generator, device)
    return session


def restore_rng(session: Session) -> None:
    """After every model is built: restore the RNG of a resumed run (so resumed == uninterrupted)."""
    payload = getattr(session, "resumed_payload", None)
    if payload is not None:
        state = rank_state(payload, session.rank, session.world_size)
        if state["rng"] is not None:
            set_rng_state(state["rng"])


def rank_state(payload: dict[str, Any], rank: int, world_size: int) -> dict[str, Any]:
    """This rank's {"rng", "extra"} (RNG and estimator state) in a checkpoint payload.

    Resumed with another number of processes than saved, ranks > 0 get rank 0's estimator state and keep their
    fresh (seed + rank) random streams (rng None)."""
    saved = payload.get("rank_states")
    if saved is not None and len(saved) == world_size:
        return saved[rank]
    return {"rng": payload["rng"] if rank == 0 else None, "extra": payload["extra"]}


def run_mle_phase(session: Session, evaluate: Callable[[], dict[str, float]] | None) -> None:
    """Phase 1: teacher forcing until pretrain.epochs (or early stopping); checkpoint after each epoch.

    A run resumed with more pretrain.epochs than it has done goes back to MLE, as long as D pretraining has not
    started (after that the generator's MLE phase is over for this run)."""
    cfg = session.cfg.pretrain
    if (session.phase == "d_pretrain" and not session.progress.get("d_pretrain", {}).get("round")
            and not mle_finished(session.progress.get("mle", {}), cfg.epochs, cfg.patience)):
        session.phase = "mle"
    if session.phase != "mle":
        return

    def on_epoch_end(state: dict[str, Any]) -> None:
        check_finite(session, state)
        session.progress["mle"] = dict(state)
        session.save()

    session.progress.setdefault("mle", {})
    train_mle(session.generator, session.optimizers["generator"], session.data.train, session.data.valid,
              epochs=cfg.epochs, batch_size=cfg.batch_size, clip=cfg.clip, patience=cfg.patience,
              seed=session.cfg.run.seed, device=session.device, log=session.log, state=session.progress["mle"],
              on_epoch_end=on_epoch_end, evaluate=evaluate if session.rank == 0 else None,
              progress=session.cfg.run.progress and _tty(),
              rank=session.rank, world_size=session.world_size, reduce_metrics=distributed.mean_metrics)
    session.phase = "d_pretrain"
    session.save()
    session.save("mle.pt")


def check_finite(session: Session, metrics: dict[str, Any]) -> None:
    """Stop with a clear message (last good checkpoint intact) when training produced NaN/inf."""
    bad = [k for k, v in metrics.items() if isinstance(v, float) and not math.isfinite(v) and k != "best"]
    params_ok = all(bool(torch.isfinite(p).all()) for m in session.models.values() for p in m.parameters())
    if bad or not params_ok:
        what = ", ".join(bad) if bad else "model parameters"
        raise UserError(f"training diverged ({what} not finite); the last good checkpoint in "
                        f"{session.run_dir / 'checkpoints'} is intact: lower the learning rate or raise the clip, "
                        f"then --resume")


def _tty() -> bool:
    return sys.stderr.isatty()
