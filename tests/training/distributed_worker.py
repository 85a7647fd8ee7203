"""One rank of the data-parallel tests in test_distributed.py, started by torchrun (gloo, CPU, loopback).

    torchrun --nproc_per_node=2 distributed_worker.py library OUT
        library level: (a) MLE epochs of `mle_problem` with batch b per rank; (b) for every registered estimator
        (and variants), D pretraining and an adversarial round; each rank saves its parameters to OUT.
    torchrun --nproc_per_node=2 distributed_worker.py cli OUT [--snapshot N DIR] -- train --config ... run.dir=RUN
        `textgan` itself; afterwards each rank saves its models' parameters and the paths it wrote under RUN
        (recorded by an audit hook) to OUT; with --snapshot, rank 0 copies RUN to DIR after its N-th checkpoint.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from textgan.data.batching import TokenData
from textgan.estimators.registry import ESTIMATORS
from textgan.models.generator import RNNGenerator
from textgan.models.wrapping import unwrap
from textgan.training import distributed

# Variants of the library check, (registry key, config overrides): every registered estimator as configured by
# default, then cases DDP treats differently: a per-rank moving baseline and rollout copy, a wgan-gp penalty
# (a double backward), an estimator's own discriminator (professor's GRU), feature matching's set distances
# (per rank: K ranks of batch b minimise the mean of K b-set distances, not one Kb-set distance).
VARIANTS: list[tuple[str, list[str]]] = [(name, []) for name in ESTIMATORS] + [
    ("reinforce", ["reinforce.baseline=ema", "reinforce.rollout_policy=ema"]),
    ("gumbel", ["adversarial.gan_loss=wgan-gp", "gumbel.mode=straight_through"]),
    ("professor", ["professor.discriminator=gru", "professor.weight_t=0.5"]),
    ("feature_matching", ["feature_matching.distance=fmd", "feature_matching.mode=straight_through"]),
    ("feature_matching", ["feature_matching.mmd_estimator=biased", "adversarial.gan_loss=wgan-gp"]),
    ("reinforce", ["reinforce.weighting=maligan"]),
    ("dense_reinforce", ["dense_reinforce.discriminator=cnn", "dense_reinforce.weighting=maligan"]),
    # per-rank minibatch features against a reference batch every rank draws alike; spectral-norm vectors
    ("reinforce", ["discriminator.minibatch_kernels=3", "discriminator.minibatch_reference=4",
                   "discriminator.spectral_norm=true", "discriminator.r1_weight=1.0"]),
    ("gumbel", ["discriminator.minibatch_kernels=3", "discriminator.minibatch_reference=4",
                "discriminator.spectral_norm=true", "gumbel.unroll_steps=1"]),
    # class-conditional generators on labelled data (LABELLED expands to a two-class corpus): labels travel with
    # their batches, rollouts of a per-rank EMA copy keep each sequence's class
    ("reinforce", ["LABELLED", "reinforce.rollout_policy=ema", "generator.class_initial_state=true"]),
    ("gumbel", ["LABELLED"]),
    ("professor", ["LABELLED"]),
    # conditional discriminators: every D call reads its rows' labels (projection; the (K+1)-class head)
    ("reinforce", ["LABELLED", "discriminator.conditional=projection"]),
    ("gumbel", ["LABELLED", "discriminator.conditional=classes"]),
    ("dense_reinforce", ["LABELLED", "discriminator.conditional=classes", "dense_reinforce.discriminator=cnn"]),
]
CLASS_WORDS = {"pos": "good great fine superb lovely".split(), "neg": "bad awful dull poor grim".split()}
ORACLE = ["data.source=oracle", "data.oracle.vocab_size=30", "data.oracle.seq_len=6", "data.oracle.num_train=64",
          "data.oracle.num_valid=16", "data.oracle.num_test=16", "data.oracle.embedding_size=8",
          "data.oracle.hidden_size=8", "generator.embedding_size=8", "generator.hidden_size=8",
          "discriminator.embedding_size=8", "discriminator.filter_sizes=[2,3]", "discriminator.num_filters=[4,4]",
          "reinforce.num_rollouts=2", "professor.gru_hidden=8",
          "dense_reinforce.hidden_size=8", "dense_reinforce.embedding_size=8"]


def mle_problem() -> tuple[RNNGenerator, torch.optim.Optimizer, TokenData, TokenData]:
    """The same generator, optimizer and fixed-length data (32 sequences) in every process."""
    torch.manual_seed(0)
    tokens = torch.randint(4, 24, (32, 7), generator=torch.Generator().manual_seed(1))  # (N, T)
    data = TokenData(tokens, torch.full((tokens.size(0),), tokens.size(1)))
    generator = RNNGenerator(vocab_size=24, embedding_size=8, hidden_size=16, eos_id=None)
    return generator, torch.optim.Adam(generator.parameters(), lr=0.01), data, data.subset(torch.arange(8))


def train_mle_epochs(generator: torch.nn.Module, optimizer: torch.optim.Optimizer, train: TokenData,
                     valid: TokenData, batch_size: int, rank: int = 0, world_size: int = 1) -> None:
    """Two epochs of `train_mle` (clip 0.5: clipping acts on the averaged gradient), writing nothing."""
    from textgan.training.context import Models, Runtime
    from textgan.training.mle import train_mle
    from textgan.training.schedules import MLEProgress, MLESchedule

    runtime = Runtime(torch.device("cpu"), rank, world_size, None, False, distributed.mean_metrics)
    train_mle(Models(generator, optimizer), train, valid, MLESchedule(2, batch_size, clip=0.5, seed=3), MLEProgress(),
              runtime)


def labelled_data(folder: Path) -> list[str]:
    """Overrides for a two-class corpus with disjoint vocabularies (one file per class, written in `folder`)."""
    import random

    draw = random.Random(0)
    folder.mkdir(parents=True, exist_ok=True)
    overrides = ["data.source=text", "data.max_len=8", "data.test_fraction=0.2", "data.valid_fraction=0.2"]
    for name, words in CLASS_WORDS.items():
        lines = [" ".join(draw.choice(words) for _ in range(draw.randint(2, 6))) for _ in range(40)]
        (folder / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        overrides.append(f"data.classes.{name}={folder / f'{name}.txt'}")
    return overrides


def check_labels(estimator: Any, tokenizer: Any, names: tuple[str, ...], checked: list[int]) -> None:
    """Make `estimator.generator_loss` first check that every real row's words belong to its label's class."""
    original = estimator.generator_loss

    def generator_loss(generator: Any, discriminator: Any, real: Any, step: int) -> Any:
        assert real.labels is not None
        for row, length, label in zip(real.tokens.tolist(), real.lengths.tolist(), real.labels.tolist()):
            assert set(tokenizer.decode(row[:length]).split()) <= set(CLASS_WORDS[names[label]])
        checked.append(len(real.labels))
        return original(generator, discriminator, real, step)

    estimator.generator_loss = generator_loss


def library(out: Path, mle_batch: int) -> None:
    import textgan
    from textgan.api.builders import build_data, build_discriminator, build_estimator, build_generator
    from textgan.training.adversarial import pretrain_discriminator, train_adversarial
    from textgan.training.context import Models, Runtime
    from textgan.training.schedules import AdversarialSchedule, DiscriminatorSchedule, RoundProgress

    rank, world_size = distributed.rank_and_world()
    device = torch.device("cpu")
    # (a) MLE: each rank trains on its batches of size b through the wrapper.
    generator, optimizer, train, valid = mle_problem()
    train_mle_epochs(distributed.wrap(generator, device), optimizer, train, valid, mle_batch, rank, world_size)
    torch.save(generator.state_dict(), out / f"mle_rank{rank}.pt")
    # (b) every estimator: D pretraining and one adversarial round, ranks seeded differently (seed + rank).
    for index, (name, overrides) in enumerate(VARIANTS):
        if "LABELLED" in overrides:
            overrides = [*labelled_data(out / f"labelled_rank{rank}"), *(o for o in overrides if o != "LABELLED")]
        cfg = textgan.config("oracle", [*ORACLE, f"adversarial.estimator={name}", *overrides,
                                        "adversarial.rounds=4", "adversarial.g_steps=1"])
        torch.manual_seed(0)
        data = build_data(cfg, None)
        estimator = build_estimator(cfg, data.max_len, data.num_classes)
        generator = build_generator(cfg, data.tokenizer, data.fixed_length, data.labels)
        discriminator = build_discriminator(cfg.discriminator, estimator, data.tokenizer.vocab_size, 8,
                                            generator=generator)
        g_opt = torch.optim.Adam(generator.parameters(), lr=0.01)
        d_opt = torch.optim.Adam(discriminator.parameters(), lr=0.01)
        wrapped_g = distributed.wrap(generator, device)
        wrapped_d = distributed.wrap(discriminator, device)  # as the CLI: every loss uses every parameter
        torch.manual_seed(100 + rank)
        local: list[dict[str, float]] = []
        checked: list[int] = []
        if data.labels is not None:
            check_labels(estimator, data.tokenizer, data.labels.names, checked)

        def reduce(metrics: dict[str, float], local: list[dict[str, float]] = local) -> dict[str, float]:
            local.append(dict(metrics))  # this rank's own numbers, before averaging
            return distributed.mean_metrics(metrics)

        runtime = Runtime(device, rank, world_size, None, False, reduce)
        models = Models(wrapped_g, g_opt, wrapped_d, d_opt)
        pretrain_discriminator(estimator, models, data.train, data.valid,
                               DiscriminatorSchedule(1, 1, 32, batch_size=8, clip=1.0,
                                                     r1_weight=cfg.discriminator.r1_weight), RoundProgress(), runtime)
        train_adversarial(estimator, models, data.train,
                          AdversarialSchedule(1, g_steps=2, d_steps=1, d_epochs=1, d_num_samples=32, batch_size=8,
                                              clip=1.0, mle_steps=1, eval_every=1,
                                              r1_weight=cfg.discriminator.r1_weight), RoundProgress(), runtime)
        torch.save({"generator": generator.state_dict(), "discriminator": discriminator.state_dict(),
                    "local": local, "labels_checked": sum(checked)}, out / f"variant{index}_rank{rank}.pt")


def cli(out: Path, argv: list[str], snapshot: tuple[int, str] | None) -> int:
    from textgan.api import run as run_module
    from textgan.cli.main import main

    rank = int(os.environ["RANK"])
    run_dir = Path(next(a.split("=", 1)[1] for a in argv if a.startswith("run.dir="))).resolve()
    written: list[str] = []

    def audit(event: str, args: tuple) -> None:
        # Writes: open() for writing/appending/creating, and renames, removals and new directories.
        if event == "open" and args[0] is not None and not isinstance(args[0], int):
            mode, flags = args[1], args[2]
            writes = any(c in mode for c in "wax+") if isinstance(mode, str) else \
                bool(flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT))
            paths = [args[0]] if writes else []
        elif event in ("os.rename", "os.remove", "os.mkdir", "os.rmdir", "shutil.rmtree"):
            paths = [a for a in args[:2] if isinstance(a, (str, bytes, os.PathLike))]
        else:
            return
        for path in paths:
            resolved = Path(os.fsdecode(path)).resolve()
            if resolved == run_dir or run_dir in resolved.parents:
                written.append(str(resolved.relative_to(run_dir)))

    sys.addaudithook(audit)
    sessions: list[Any] = []
    original_save = run_module.TrainingRun.save
    saves = {"n": 0}

    def save(self: Any, name: str = "last.pt") -> None:
        original_save(self, name)
        sessions[:] = [self]
        saves["n"] += 1
        if snapshot is not None and saves["n"] == snapshot[0] and rank == 0:
            shutil.copytree(self.run_dir, snapshot[1])

    run_module.TrainingRun.save = save  # type: ignore[method-assign]
    code = main(argv)
    models = {}
    if sessions:
        pair = {"generator": sessions[0].models.generator, "discriminator": sessions[0].models.discriminator}
        models = {k: unwrap(m).state_dict() for k, m in pair.items() if m is not None}
    torch.save(models, out / f"models_rank{rank}.pt")
    (out / f"written_rank{rank}.json").write_text(json.dumps(sorted(set(written))), encoding="utf-8")
    return code


def api(out: Path, argv: list[str]) -> int:
    """`textgan.train` inside a process group this script set up (the API must use it and leave it open)."""
    import textgan

    dist.init_process_group("gloo")
    config, overrides = argv[argv.index("--config") + 1], [a for a in argv if "=" in a]
    before, after = textgan.train(config, overrides)
    still_open = dist.is_initialized()
    rank = dist.get_rank()
    payload = textgan.load(next(a.split("=", 1)[1] for a in overrides if a.startswith("run.dir="))).payload
    torch.save({"models": payload["models"], "still_open": still_open, "reported": bool(after)},
               out / f"api_rank{rank}.pt")
    dist.destroy_process_group()
    return 0


def entry() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["library", "cli", "api"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--mle-batch", type=int, default=8)
    parser.add_argument("--snapshot", nargs=2, metavar=("N", "DIR"))
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    args.textgan_args = argv[split + 1:]
    torch.set_num_threads(1)
    if args.mode == "library":
        dist.init_process_group("gloo")
        library(args.out, args.mle_batch)
        dist.destroy_process_group()
        return 0
    if args.mode == "api":
        return api(args.out, args.textgan_args)
    snapshot = (int(args.snapshot[0]), args.snapshot[1]) if args.snapshot else None
    return cli(args.out, args.textgan_args, snapshot)


if __name__ == "__main__":
    raise SystemExit(entry())
