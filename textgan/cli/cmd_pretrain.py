"""`textgan pretrain`: MLE (teacher-forcing) pretraining of the generator."""

from __future__ import annotations

import argparse

from textgan.api.configs import config
from textgan.api.run import TrainingRun
from textgan.cli.common import add_config_args
from textgan.cli.report import print_cpu_time, print_data_report, print_metrics


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
    training = TrainingRun.open(config(args.config, args.overrides), resume=args.resume, adversarial=False)
    try:
        if training.runtime.rank == 0 and training.resumed is None:
            print_data_report(training.data.report)
        training.pretrain()
        if training.runtime.rank == 0:
            print_metrics(f"after MLE pretraining ({training.run_dir})", training.evaluate())
            print_cpu_time(training.cpu_seconds)
    finally:
        training.close()
    return 0
