"""`textgan evaluate`: NLL / perplexity of a checkpoint on a text file (more metrics: see --metrics)."""

from __future__ import annotations

import argparse

from textgan.cli.loaded import load_generator
from textgan.cli.report import print_metrics
from textgan.data.batching import encode_lines
from textgan.data.corpus import read_lines
from textgan.errors import UserError
from textgan.training.mle import evaluate_nll


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "evaluate", help="NLL / perplexity of a trained generator on held-out text",
        description="Per-token NLL (natural log, EOS included, padding excluded) and perplexity of the generator "
                    "of a run on a text file, encoded with the run's own tokenizer. Example:\n"
                    "  textgan evaluate --checkpoint runs/coco --data ../shared/data/coco/test_coco.txt",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, metavar="RUN", help="run directory or checkpoint .pt file")
    parser.add_argument("--data", metavar="FILE", help="held-out text, one sentence per line (file or glob)")
    parser.add_argument("--batch-size", type=int, default=256, help="evaluation batch size (default 256)")
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: the run's device if present)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.data:
        raise UserError("nothing to evaluate: give --data FILE")
    loaded = load_generator(args.checkpoint, args.device)
    lines, blank = read_lines(args.data, "data")
    data = encode_lines(lines, loaded.tokenizer.encode, loaded.max_len, add_eos=not loaded.fixed_length)
    device = next(loaded.generator.parameters()).device
    metrics = evaluate_nll(loaded.generator, data, args.batch_size, device)
    print_metrics(f"{args.data}: {len(lines)} sentences ({blank} blank skipped, {data.truncated} truncated)",
                  {"nll_per_token": metrics["nll"], "perplexity": metrics["ppl"], "tokens": metrics["tokens"]})
    return 0
