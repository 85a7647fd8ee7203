"""`textgan sample`: draw sentences from a trained generator."""

from __future__ import annotations

import argparse
import sys

from textgan.api.trained import load
from textgan.cli.common import (
    add_compiled_sampler_arg,
    check_output_path,
    use_compiled_sampler,
    write_text_atomic,
)
from textgan.errors import UserError


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "sample", help="draw sentences from a trained generator",
        description="Sample from the generator of a run (its newest checkpoint) or of a checkpoint file, one "
                    "sentence per line, to stdout or --out. A class-conditional run (labelled data) samples the "
                    "class given by --label, or without it a mixture by the training class shares. Examples:\n"
                    "  textgan sample --checkpoint runs/coco -n 20 --temperature 0.8\n"
                    "  textgan sample --checkpoint runs/mr --label pos -n 10 --seed 1",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True, metavar="RUN",
                        help="run directory (uses checkpoints/last.pt) or a checkpoint .pt file")
    parser.add_argument("-n", "--num", type=int, default=10, help="number of sentences (default 10)")
    parser.add_argument("--label", default=None,
                        help="class-conditional runs: sample this class (default: each sample's class drawn from "
                             "the class priors)")
    parser.add_argument("--temperature", type=float, default=1.0,
                        help="softmax temperature; 0 is greedy (default 1.0)")
    parser.add_argument("--top-k", type=int, default=0, help="sample among the k most likely tokens (0: all)")
    parser.add_argument("--max-len", type=int, default=None, help="max tokens per sentence (default: the run's)")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    add_compiled_sampler_arg(parser)
    parser.add_argument("--device", default=None, help="cpu, cuda, ... (default: the run's device if present)")
    parser.add_argument("--out", metavar="FILE", help="write to FILE instead of stdout (never overwritten)")
    parser.add_argument("--overwrite", action="store_true", help="allow --out to replace an existing file")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.num < 1 or args.temperature < 0 or args.top_k < 0 or (args.max_len is not None and args.max_len < 1):
        raise UserError("-n and --max-len must be >= 1, --temperature and --top-k >= 0")
    out = check_output_path(args.out, args.overwrite)
    loaded = load(args.checkpoint, args.device)
    use_compiled_sampler(args, [loaded.generator])
    lines = loaded.sample(args.num, label=args.label, temperature=args.temperature, top_k=args.top_k,
                          max_len=args.max_len, seed=args.seed)
    text = "\n".join(lines) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        write_text_atomic(out, text)
        print(f"wrote {len(lines)} samples to {out}", file=sys.stderr)
    return 0
