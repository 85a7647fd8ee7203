"""A configured training run, phase by phase: (1) MLE pretraining of G, (2) D pretraining, (3) adversarial rounds.

`TrainingRun.open` makes (or resumes) the run directory, prepares the data and builds the models; `train()` runs
the phases that remain. `checkpoints/last.pt` is written as each phase's schedule says, with the phase and its
progress, so `resume=True` continues exactly where a killed run stopped; `checkpoints/mle.pt` keeps the generator
as it was after MLE and `checkpoints/adversarial.pt` as it was after the adversarial phase.

Under torchrun every rank opens the run (the process group is joined from the environment unless the caller
already set one up); rank 0 alone writes.
"""

from __future__ import annotations

import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from textgan.api.builders import (
    PreparedData,
    adam,
    build_data,
    build_discriminator,
    build_estimator,
    build_generator,
    check_same_vocabulary,
    discriminator_optimizer,
    resolve_device,
    set_rate,
)
from textgan.api.class_report import CLASSIFIER_FILE, class_metrics
from textgan.api.evaluators import periodic_evaluator
from textgan.config import Config
from textgan.config_io import config_to_dict
from textgan.errors import UserError
from textgan.estimators.interface import Estimator
from textgan.estimators.registry import option_sections
from textgan.models.generator import RNNGenerator
from textgan.models.wrapping import unwrap
from textgan.training import distributed
from textgan.training.adversarial import pretrain_discriminator, train_adversarial
from textgan.training.checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from textgan.training.context import Hooks, Models, Runtime
from textgan.training.metrics_log import MetricsLog
from textgan.training.mle import train_mle
from textgan.training.run_dir import (
    discard_new_run_dir,
    open_run_dir,
    outermost_missing,
    write_labels,
    write_tokenizer,
)
from textgan.training.schedules import (
    AdversarialSchedule,
    DiscriminatorSchedule,
    MLEProgress,
    MLESchedule,
    RoundProgress,
)

PHASES = ("mle", "d_pretrain", "adversarial", "done")


def normalized_config(tree: dict[str, Any]) -> dict[str, Any]:
    """A stored config as this version writes it (new keys at their defaults), for resume comparisons."""
    from textgan.config_io import config_from_dict

    return config_to_dict(config_from_dict(tree, sections=option_sections(), strict=False))


@dataclass
class TrainingRun:
    """A run: its config, directory, runtime, data, models, estimator and where it got to."""

    cfg: Config
    run_dir: Path
    runtime: Runtime
    data: PreparedData
    models: Models
    estimator: Estimator | None = None
    phase: str = "mle"
    progress: dict[str, Any] = field(default_factory=dict)   # per phase, checkpointed as plain dicts
    resumed: dict[str, Any] | None = None                    # the checkpoint payload a resumed run started from
    owns_process_group: bool = False
    evaluator: Callable[[], dict[str, float]] | None = None  # built on first use: references tokenized once
    cpu_mark: float = field(default_factory=time.process_time)  # process CPU time already added to cpu_seconds

    # ---- opening ---------------------------------------------------------------------------------------------
    @classmethod
    def open(cls, cfg: Config, *, resume: bool = False, init_from: str | Path | None = None,
             device: str | torch.device | None = None, adversarial: bool = True,
             progress: bool | None = None) -> TrainingRun:
        """Open (or resume) `cfg.run.dir`, prepare the data, build G (and, with `adversarial`, the estimator and
        its D). `init_from`: start from another run's generator and skip MLE. `device` overrides run.device,
        `progress` run.progress. Threads are set only when run.threads > 0."""
        opened = time.process_time()  # the run's CPU time counts from here: data preparation is part of it
        owns = distributed.init_from_environment(str(device) if device is not None else cfg.run.device)
        rank, world_size = distributed.rank_and_world()
        dev = distributed.device_for_rank(resolve_device(device if device is not None else cfg.run.device))
        if cfg.run.threads:
            torch.set_num_threads(cfg.run.threads)
        torch.manual_seed(cfg.run.seed + rank)  # per-rank seeds: ranks draw different samples
        # A bad --init-from must fail before the run directory is created (a rerun would then need --resume).
        source = load_checkpoint(init_from) if init_from is not None else None
        run_dir = Path(cfg.run.dir)
        data, payload = _open_directory(cfg, run_dir, resume, source, str(init_from))
        show = cfg.run.progress if progress is None else progress
        runtime = Runtime.current(dev, MetricsLog(run_dir / "metrics.jsonl", enabled=rank == 0), show)
        generator = build_generator(cfg, data.tokenizer, data.fixed_length, data.labels).to(dev)
        models = Models(generator, adam(generator.parameters(), cfg.pretrain.lr, cfg.pretrain.betas))
        run = cls(cfg, run_dir, runtime, data, models, resumed=payload, owns_process_group=owns,
                  cpu_mark=opened)
        if payload is not None:
            run.phase, run.progress = payload["phase"], payload["progress"]
            generator.load_state_dict(payload["models"]["generator"])
            models.g_optimizer.load_state_dict(payload["optimizers"]["generator"])
        elif source is not None:
            fresh_classes = load_generator_from(generator, source, data, str(init_from))
            run.phase = "d_pretrain"  # a pretrained generator skips MLE
            run.progress["init_from"] = str(init_from)  # and never goes back to it (see `pretrain`)
            if fresh_classes:
                run.progress["fresh_class_embeddings"] = True
            runtime.record("init_from", 0, checkpoint=str(init_from), fresh_class_embeddings=fresh_classes)
        if rank == 0 and payload is None:
            runtime.record("data", 0, **data.report)
        distributed.broadcast_parameters(generator)
        # Every generator loss runs the embedding, the RNN and the head: no find_unused_parameters needed.
        models.generator = distributed.wrap(generator, dev)
        if adversarial:
            run._build_adversary()
        if payload is not None:  # after every model is built: resumed == uninterrupted
            state = _rank_state(payload, rank, world_size)
            if state["rng"] is not None:
                set_rng_state(state["rng"])
        return run

    def _build_adversary(self) -> None:
        cfg, data = self.cfg, self.data
        self.estimator = build_estimator(cfg, data.max_len, data.num_classes)
        discriminator = build_discriminator(cfg.discriminator, self.estimator, data.tokenizer.vocab_size,
                                            cfg.generator.hidden_size, generator=unwrap(self.models.generator),
                                            num_classes=data.num_classes).to(self.runtime.device)
        self.models.discriminator, self.models.d_optimizer = discriminator, discriminator_optimizer(cfg, discriminator)
        payload = self.resumed
        if payload is not None and "discriminator" in payload["models"]:
            discriminator.load_state_dict(payload["models"]["discriminator"])
            self.models.d_optimizer.load_state_dict(payload["optimizers"]["discriminator"])
            extra = _rank_state(payload, self.runtime.rank, self.runtime.world_size)["extra"]
            self.estimator.load_state_dict(extra.get("estimator", {}), unwrap(self.models.generator))
        distributed.broadcast_parameters(discriminator)
        # Every registered estimator's D loss reaches every D parameter (tests/training/test_distributed.py checks
        # it): no find_unused_parameters, whose graph walk costs every step. G losses read D unwrapped and frozen.
        self.models.discriminator = distributed.wrap(discriminator, self.runtime.device)

    # ---- checkpoints -----------------------------------------------------------------------------------------
    def save(self, name: str = "last.pt") -> None:
        """Checkpoint everything (rank 0 writes): states, progress, RNG, config, tokenizer.

        Every rank must call it: each rank's RNG and estimator state (a moving baseline depends on the rank's own
        samples) are gathered, so every rank of a resumed run continues exactly as it would have. The checkpoint's
        progress carries `cpu_seconds` (see `cpu_seconds`)."""
        now = time.process_time()
        self.progress["cpu_seconds"] = float(self.progress.get("cpu_seconds", 0.0)) + now - self.cpu_mark
        self.cpu_mark = now
        extra = {"estimator": self.estimator.state_dict()} if self.estimator is not None else {}
        rank_states = distributed.gather_objects({"rng": rng_state(), "extra": extra})
        if self.runtime.rank != 0:
            return
        models = {"generator": self.models.generator, "discriminator": self.models.discriminator}
        optimizers = {"generator": self.models.g_optimizer, "discriminator": self.models.d_optimizer}
        payload = {
            "config": config_to_dict(self.cfg), "tokenizer": self.data.tokenizer.state(),
            "fixed_length": self.data.fixed_length, "max_len": self.data.max_len,
            "labels": None if self.data.labels is None else self.data.labels.state(),
            "phase": self.phase, "progress": self.progress,
            "models": {k: unwrap(m).state_dict() for k, m in models.items() if m is not None},
            "optimizers": {k: o.state_dict() for k, o in optimizers.items() if o is not None},
            "extra": extra,
            "rng": rank_states[0]["rng"],
        }
        if self.runtime.world_size > 1:
            payload["rank_states"] = rank_states
        save_checkpoint(self.run_dir / "checkpoints" / name, payload)

    @property
    def cpu_seconds(self) -> float:
        """This process's CPU time (all its threads) spent on the run over every invocation, up to now: the time
        each invocation spent up to its last checkpoint, summed, plus this one's since its last checkpoint. Work a
        killed invocation did after its last checkpoint is not counted; it is redone, and counted, on resume."""
        return float(self.progress.get("cpu_seconds", 0.0)) + time.process_time() - self.cpu_mark

    # ---- phases ----------------------------------------------------------------------------------------------
    def evaluate(self) -> dict[str, float]:
        """The periodic metrics of this run now (NLL-oracle / NLL-test / BLEU, as the data allows), rank 0."""
        return self._evaluator()()

    def class_metrics(self) -> dict[str, float]:
        """Per-class metrics of a class-conditional run now (`api/class_report.py`: per-class test-BLEU, self-BLEU,
        NLL-test, class accuracy; the class classifier stored beside the run), rank 0; {} without labels or a test
        split. The random streams of the run are left as they were."""
        if self.data.labels is None or self.data.test is None or self.runtime.rank != 0:
            return {}
        return class_metrics(unwrap(self.models.generator), self.data, self.cfg.evaluation,
                             classifier_path=self.run_dir / CLASSIFIER_FILE, seed=self.cfg.run.seed)

    def pretrain(self) -> None:
        """Phase 1: teacher forcing until pretrain.epochs (or early stopping); a checkpoint after each epoch.

        A run resumed with more pretrain.epochs than it has done goes back to MLE, as long as D pretraining has
        not started (after that the generator's MLE phase is over for this run) and it did not start from another
        run's generator (`init_from`: its MLE happened there)."""
        p = self.cfg.pretrain
        schedule = MLESchedule(p.epochs, p.batch_size, p.clip, p.patience, self.cfg.run.seed)
        progress = MLEProgress.from_dict(self.progress.get("mle"))
        if (self.phase == "d_pretrain" and not self.progress.get("d_pretrain", {}).get("round")
                and "init_from" not in self.progress and not progress.finished(schedule)):
            self.phase = "mle"
        if self.phase != "mle":
            return
        hooks = Hooks(self._evaluator() if self.runtime.rank == 0 else None,
                      lambda: self._checkpoint("mle", progress))
        train_mle(self.models, self.data.train, self.data.valid, schedule, progress, self.runtime, hooks)
        self.phase = "d_pretrain"
        self.save()
        self.save("mle.pt")

    def pretrain_discriminator(self) -> None:
        """Phase 2: D pretraining (for estimators that ask for it); then the adversarial rates and betas."""
        if self.phase != "d_pretrain":
            return
        estimator = self._estimator()
        if "mle_metrics" not in self.progress and self.runtime.rank == 0:
            self.progress["mle_metrics"] = self.evaluate()
        if not estimator.pretrains_discriminator and self.cfg.d_pretrain.rounds and self.runtime.rank == 0:
            warnings.warn(f"textgan: {self.cfg.adversarial.estimator} does not pretrain the model it trains against, "
                          f"so d_pretrain.rounds={self.cfg.d_pretrain.rounds} is skipped (set d_pretrain.rounds=0)",
                          UserWarning, stacklevel=2)
        if estimator.pretrains_discriminator:
            d, a = self.cfg.d_pretrain, self.cfg.adversarial
            c = self.cfg.discriminator
            schedule = DiscriminatorSchedule(d.rounds, d.epochs, d.num_samples, d.batch_size, a.clip, self.cfg.run.seed,
                                             c.length_buckets, r1_weight=c.r1_weight, fake_pool=c.fake_pool,
                                             fake_reuse=c.fake_reuse)
            progress = RoundProgress.from_dict(self.progress.get("d_pretrain"))
            hooks = Hooks(checkpoint=lambda: self._checkpoint("d_pretrain", progress))
            pretrain_discriminator(estimator, self.models, self.data.train, self.data.valid, schedule, progress,
                                   self.runtime, hooks)
        a = self.cfg.adversarial  # the adversarial phase has its own learning rates and betas
        set_rate(self.models.d_optimizer, a.d_lr, a.d_betas)  # type: ignore[arg-type]
        set_rate(self.models.g_optimizer, a.g_lr, a.g_betas)
        self.phase = "adversarial"
        self.save()

    def train_adversarial(self) -> None:
        """Phase 3: adversarial rounds; checkpoints as adversarial.checkpoint_every says, adversarial.pt at the end.
        A finished run resumed with more adversarial.rounds continues its rounds."""
        a = self.cfg.adversarial
        if self.phase == "done" and self.progress.get("adversarial", {}).get("round", 0) < a.rounds:
            self.phase = "adversarial"
        if self.phase != "adversarial":
            return
        schedule = AdversarialSchedule(a.rounds, a.g_steps, a.d_steps, a.d_epochs, a.d_num_samples, a.batch_size,
                                       a.clip, a.mle_steps, a.eval_every, a.checkpoint_every, self.cfg.run.seed,
                                       self.cfg.discriminator.length_buckets,
                                       r1_weight=self.cfg.discriminator.r1_weight,
                                       fake_pool=self.cfg.discriminator.fake_pool,
                                       fake_reuse=self.cfg.discriminator.fake_reuse)
        progress = RoundProgress.from_dict(self.progress.get("adversarial"))
        hooks = Hooks(self._evaluator() if self.runtime.rank == 0 else None,
                      lambda: self._checkpoint("adversarial", progress))
        train_adversarial(self._estimator(), self.models, self.data.train, schedule, progress, self.runtime, hooks)
        self.phase = "done"
        self.save()
        self.save("adversarial.pt")

    def train(self) -> tuple[dict[str, float], dict[str, float]]:
        """Every phase that remains; returns (metrics after MLE, metrics now) on rank 0 ({} elsewhere)."""
        self.pretrain()
        self.pretrain_discriminator()
        self.train_adversarial()
        if self.runtime.rank != 0:
            return {}, {}
        return self.progress.get("mle_metrics", {}), self.evaluate()

    def close(self) -> None:
        """Leave the process group if this run joined it (a group the caller set up is left alone)."""
        if self.owns_process_group:
            distributed.shutdown()
            self.owns_process_group = False

    # ---- helpers ---------------------------------------------------------------------------------------------
    def _estimator(self) -> Estimator:
        if self.estimator is None:
            raise UserError("this run was opened for MLE only; open it with adversarial=True to train adversarially")
        return self.estimator

    def _evaluator(self) -> Callable[[], dict[str, float]]:
        if self.evaluator is None:
            self.evaluator = periodic_evaluator(self)
        return self.evaluator

    def _checkpoint(self, phase: str, progress: Any) -> None:
        self.progress[phase] = progress.to_dict()
        self.save()


def load_generator_from(generator: RNNGenerator, source: dict[str, Any], data: PreparedData, name: str) -> bool:
    """Load another run's generator (`--init-from`) into this run's; returns whether its class embeddings are
    fresh. An unconditional generator goes into a conditional one with fresh class embeddings whose input weights
    (and initial-state map) start at zero, so it starts computing exactly what it computed; a conditional one
    needs this run's classes."""
    theirs = source.get("labels")
    if theirs is not None and (data.labels is None or list(data.labels.names) != list(theirs["names"])):
        ours = "none" if data.labels is None else ", ".join(data.labels.names)
        raise UserError(f"checkpoint {name} is class-conditional (labels {', '.join(theirs['names'])}) but this "
                        f"run's data has labels: {ours}; use data with the same classes or another checkpoint")
    state = source["models"]["generator"]
    if theirs is not None or data.labels is None:
        generator.load_state_dict(state)
        return False
    own = generator.state_dict()
    with torch.no_grad():
        for key, value in state.items():
            if key == "rnn.weight_ih_l0":  # (gates * H, E) into (gates * H, E + C): class columns at zero
                own[key].zero_()[:, :value.size(1)] = value
            else:
                own[key].copy_(value)
        if generator.class_state is not None:
            generator.class_state.weight.zero_()
    return True


def _open_directory(cfg: Config, run_dir: Path, resume: bool, source: dict[str, Any] | None,
                    source_name: str) -> tuple[PreparedData, dict[str, Any] | None]:
    """Rank 0 checks and writes the run directory, reads a resumed checkpoint, prepares the data and fits the
    tokenizer; the other ranks get the checkpoint and tokenizer from it (no race, no shared disk needed). A start
    that fails removes what it created, so the corrected rerun needs no --resume."""
    rank0: list[PreparedData] = []

    def setup() -> dict[str, Any]:
        new_run = not (run_dir / "config.yaml").is_file()
        created = outermost_missing(run_dir)
        open_run_dir(run_dir, config_to_dict(cfg), resume=resume, normalize=normalized_config)
        try:
            checkpoint_file = run_dir / "checkpoints" / "last.pt"
            found = load_checkpoint(checkpoint_file) if resume and checkpoint_file.is_file() else None
            if found is None and source is not None:
                # a generator from another run keeps its tokenizer: check that this run's data and tokenizer
                # settings give the same vocabulary, then encode with the checkpoint's own tokenizer
                fresh = build_data(cfg, cache_dir=run_dir / "cache")
                check_same_vocabulary(source_name, source["tokenizer"], fresh.tokenizer.state())
                same = source["tokenizer"] == fresh.tokenizer.state()  # word / oracle: already the same tokenizer
                data = fresh if same else build_data(cfg, cache_dir=run_dir / "cache",
                                                     tokenizer_state=source["tokenizer"])
            else:
                tokenizer_state = found["tokenizer"] if found else None
                data = build_data(cfg, cache_dir=run_dir / "cache", tokenizer_state=tokenizer_state)
            write_tokenizer(run_dir, data.tokenizer.state())
            write_labels(run_dir, None if data.labels is None else data.labels.state())
        except UserError:
            if new_run:  # e.g. a bad data file: leave no half-made run that would block the corrected rerun
                discard_new_run_dir(run_dir, created)
            raise
        rank0.append(data)
        return {"payload": found, "tokenizer": data.tokenizer.state()}

    shared = distributed.share_from_rank0(setup)
    if rank0:
        return rank0[0], shared["payload"]
    # the same data with rank 0's tokenizer; a private cache, so nothing is written to the run directory
    with tempfile.TemporaryDirectory(prefix="textgan-cache-") as cache:
        return build_data(cfg, cache_dir=Path(cache), tokenizer_state=shared["tokenizer"]), shared["payload"]


def _rank_state(payload: dict[str, Any], rank: int, world_size: int) -> dict[str, Any]:
    """This rank's {"rng", "extra"} (RNG and estimator state) in a checkpoint payload.

    Resumed with another number of processes than saved, ranks > 0 get rank 0's estimator state and keep their
    fresh (seed + rank) random streams (rng None)."""
    saved = payload.get("rank_states")
    if saved is not None and len(saved) == world_size:
        return saved[rank]
    return {"rng": payload["rng"] if rank == 0 else None, "extra": payload["extra"]}


def train(config: str | Config, overrides: Sequence[str] = (), *, resume: bool = False,
          init_from: str | Path | None = None, device: str | torch.device | None = None,
          progress: bool | None = None) -> tuple[dict[str, float], dict[str, float]]:
    """Train a run end to end (what `textgan train` does): MLE, D pretraining, adversarial rounds, from a config
    (a `Config`, a YAML path or a shipped config name, plus `section.key=value` overrides). Returns the metrics
    after MLE and at the end (rank 0; {} on other ranks). With `resume`, continues the run in run.dir."""
    run = TrainingRun.open(_as_config(config, overrides), resume=resume, init_from=init_from, device=device,
                           progress=progress)
    try:
        return run.train()
    finally:
        run.close()


def pretrain(config: str | Config, overrides: Sequence[str] = (), *, resume: bool = False,
             device: str | torch.device | None = None, progress: bool | None = None) -> dict[str, float]:
    """MLE pretraining only (what `textgan pretrain` does); returns the metrics after it (rank 0)."""
    run = TrainingRun.open(_as_config(config, overrides), resume=resume, device=device, progress=progress,
                           adversarial=False)
    try:
        run.pretrain()
        return run.evaluate() if run.runtime.rank == 0 else {}
    finally:
        run.close()


def _as_config(config: str | Config, overrides: Sequence[str]) -> Config:
    from textgan.api.configs import config as load

    if isinstance(config, Config):
        if overrides:
            raise UserError("overrides go with a config name or path; change a Config object's fields directly")
        return config
    return load(config, overrides)
