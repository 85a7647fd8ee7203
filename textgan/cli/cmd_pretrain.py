"""`textgan pretrain`: MLE (teacher-forcing) pretraining of the generator."""

from __future__ import annotations

import argparse

from textgan.cli.common import add_config_args
from textgan.cli.evaluators import periodic_evaluator
from textgan.cli.report import print_metrics
from textgan.cli.run import open_session, restore_rng, run_mle_phase
from textgan.config_io import load_config
from textgan.training import distributed


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "pretrain", help="MLE (teacher-forcing) pretraining of the generator",
        description="Train the generator by teacher forcing (maximum likelihood) with Adam and gradient clipping. "
                    "After each epoch: validation NLL per token and perplexity (plus NLL-oracle on oracle data) go "
                    "to RUN/metrics.jsonl and a checkpoint to RUN/checkpoints/last.pt. Example:\n"
                    "  textgan pretrain --config coco run.dir=runs/coco pretrain.epochs=1",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_args(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from textgan.cli.cmd_train import estimator_choices

    cfg = load_config(args.config, args.overrides, choices=estimator_choices())
    distributed.init_from_environment(cfg.run.device)
    session = open_session(cfg, resume=args.resume)
    restore_rng(session)
    evaluate = periodic_evaluator(session)
    run_mle_phase(session, evaluate)
    if session.rank == 0:
        print_metrics(f"after MLE pretraining ({session.run_dir})", evaluate())
    distributed.shutdown()
    return 0
