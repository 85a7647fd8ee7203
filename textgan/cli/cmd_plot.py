"""`textgan plot`: the training curves of a run (RUN/metrics.jsonl) as one PNG of subplots."""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

from textgan.cli.common import check_output_path
from textgan.errors import UserError
from textgan.training.metrics_log import read_metrics


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "plot", help="training curves of a run as a PNG (needs matplotlib)",
        description=textwrap.fill(
            "Draw the curves logged in RUN/metrics.jsonl: MLE validation NLL and NLL-test, NLL-oracle, "
            "discriminator accuracy, generator loss / reward, test-BLEU and self-BLEU, the K-mode metrics, whichever "
            "the run logged. "
            "MLE epochs, D-pretraining rounds and adversarial rounds follow each other on the x axis. Needs "
            "matplotlib: pip install 'textgan[plot]'.", 100) + "\n\nExample:\n"
                    "  textgan plot --run runs/coco --out runs/coco/curves.png",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", required=True, metavar="RUN", help="run directory (with metrics.jsonl)")
    parser.add_argument("--out", metavar="FILE", help="PNG to write (default RUN/training_curves.png)")
    parser.add_argument("--overwrite", action="store_true", help="allow --out to replace an existing file")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from textgan.evaluation.plots import INSTALL_HINT, matplotlib_available, plot_training

    run_dir = Path(args.run)
    log = run_dir / "metrics.jsonl" if run_dir.is_dir() else run_dir
    if not log.is_file():
        raise UserError(f"{log} does not exist; give --run a run directory that textgan pretrain/train wrote")
    out = check_output_path(args.out or str(log.parent / "training_curves.png"), args.overwrite)
    if not matplotlib_available():
        raise UserError(f"plotting needs matplotlib, which is not installed; {INSTALL_HINT}")
    records = read_metrics(log)
    assert out is not None
    panels = plot_training(records, out, f"Training curves: {log.parent}")
    if not panels:
        raise UserError(f"{log} has no training metrics yet (no MLE epoch or round finished); try again later")
    print(f"wrote {out} ({', '.join(panels)})")
    return 0
