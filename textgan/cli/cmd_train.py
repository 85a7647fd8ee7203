"""`textgan train`: the whole pipeline: MLE pretraining, D pretraining, adversarial training."""

from __future__ import annotations

import argparse

from textgan.api.configs import config
from textgan.api.run import TrainingRun
from textgan.cli.common import add_config_args
from textgan.cli.report import print_cpu_time, print_data_report, print_metrics
from textgan.estimators.registry import ESTIMATORS


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "train", help="MLE pretraining, D pretraining, then adversarial training (SeqGAN and friends)",
        description="Run the whole text-GAN pipeline in run.dir: (1) MLE pretraining of the generator (skipped "
                    "with --init-from or when resuming past it), (2) discriminator pretraining, (3) adversarial "
                    "rounds of {generator steps; discriminator steps on fresh samples}. Every epoch/round writes "
                    "metrics.jsonl and checkpoints/last.pt; --resume continues mid-phase.\n\n"
                    f"Estimators (adversarial.estimator=...): {', '.join(ESTIMATORS)}.\n"
                    "Example:\n  textgan train --config oracle run.dir=runs/seqgan adversarial.rounds=50",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_config_args(parser)
    parser.add_argument("--init-from", metavar="CKPT",
                        help="start from the generator (and tokenizer) of another run and skip MLE")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    cfg = config(args.config, args.overrides)
    training = TrainingRun.open(cfg, resume=args.resume, init_from=args.init_from)
    try:
        if training.runtime.rank == 0 and training.resumed is None:
            print_data_report(training.data.report)
        if args.init_from and training.runtime.rank == 0 and training.resumed is None:
            print(f"textgan train: generator and tokenizer taken from {args.init_from}")
            if training.progress.get("fresh_class_embeddings"):
                print("textgan train: that generator is unconditional: fresh class embeddings, their input weights "
                      "at zero (it starts as it was)")
        before, after = training.train()
        if training.runtime.rank == 0:
            untrained = cfg.pretrain.epochs == 0 and not args.init_from  # from scratch: never "after MLE"
            print_metrics("untrained generator (no MLE pretraining)" if untrained else
                          f"after MLE pretraining ({training.run_dir}/checkpoints/mle.pt)", before)
            print_metrics(f"after adversarial training, {cfg.adversarial.estimator} "
                          f"({training.run_dir}/checkpoints/last.pt)", after)
            per_class = training.class_metrics()
            if per_class:
                print_metrics(f"per class at the end ({cfg.evaluation.num_samples} samples split evenly between the "
                              f"classes; test-BLEU against each class's test sentences, self-BLEU within the class, "
                              f"NLL-test given the class; class accuracy under the class classifier trained on the "
                              f"real training split, its own test accuracy beside it)", per_class)
            print_cpu_time(training.cpu_seconds)
    finally:
        training.close()
    return 0
