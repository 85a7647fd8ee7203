"""The `textgan` command: subcommands register themselves from the modules in COMMANDS."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from textgan import __version__
from textgan.cli.common import parse_args
from textgan.errors import UserError

DESCRIPTION = """\
textgan: adversarial text generation in PyTorch.

Typical workflow:
  textgan pretrain --config oracle                 # MLE (teacher forcing) pretraining of the generator
  textgan train    --config oracle                 # MLE, D pretraining, then adversarial training (SeqGAN)
  textgan sample   --checkpoint runs/oracle -n 10  # draw sentences
  textgan evaluate --checkpoint runs/oracle        # NLL / perplexity, BLEU, self-BLEU, ...
  textgan sweep    --checkpoint RUN1 --checkpoint RUN2 --out-dir sweep   # quality-diversity curves
  textgan plot     --run runs/oracle               # training curves from metrics.jsonl
Shipped configs: see `textgan config --list`. Any key can be overridden as section.key=value."""


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with one subparser per command module."""
    from textgan.cli import cmd_config, cmd_evaluate, cmd_pretrain, cmd_sample, cmd_train

    parser = argparse.ArgumentParser(prog="textgan", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"textgan {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in (cmd_pretrain, cmd_train, cmd_sample, cmd_evaluate, cmd_config, *extra_commands()):
        module.register(commands)
    return parser


def extra_commands() -> list:
    """Commands whose modules may be absent in a trimmed install (sweep / plot need matplotlib only when run)."""
    import importlib

    found = []
    for name in ("textgan.cli.cmd_sweep", "textgan.cli.cmd_plot"):
        try:
            found.append(importlib.import_module(name))
        except ModuleNotFoundError as err:
            if err.name != name:
                raise
    return found


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse, run, turn UserError into a one-line message and exit code 2."""
    parser = build_parser()
    args = parse_args(parser, argv)
    try:
        return int(args.handler(args) or 0)
    except UserError as err:
        print(f"textgan {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"textgan {args.command}: interrupted; resume with --resume", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
