"""Argument helpers shared by the subcommands."""

from __future__ import annotations

import argparse
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from textgan.errors import UserError

CONFIG_HELP = "YAML config file, or a shipped config name (see `textgan config --list`)"
OVERRIDES_HELP = ("config overrides as section.key=value, e.g. run.dir=runs/x pretrain.epochs=3 run.device=cuda; "
                  "a mapping entry as section.key.name=value (data.classes.pos=pos.txt) or a whole mapping in "
                  "YAML flow style ('data.classes={pos: pos.txt, neg: neg.txt}')")


def add_config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, metavar="FILE", help=CONFIG_HELP)
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help=OVERRIDES_HELP)
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in run.dir from its last checkpoint (starts fresh if it has none)")


_OVERRIDE = re.compile(r"^[A-Za-z_][\w.]*=")  # section.key=value


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """`parser.parse_args`, except that key=value overrides may also stand after options (argparse takes a
    positional list only once, so the later ones come back unrecognized and are appended here, in order)."""
    args, extras = parser.parse_known_args(argv)
    if hasattr(args, "overrides"):
        args.overrides = [*args.overrides, *(a for a in extras if _OVERRIDE.match(a))]
        extras = [a for a in extras if not _OVERRIDE.match(a)]
    if extras:
        parser.error(f"unrecognized arguments: {' '.join(extras)}")
    return args


def check_output_path(path: str | None, overwrite: bool) -> Path | None:
    """An output file that does not exist yet (or --overwrite), whose directory exists."""
    if path is None:
        return None
    out = Path(path)
    if out.exists() and not overwrite:
        raise UserError(f"{out} already exists; choose another --out path or pass --overwrite")
    if not out.parent.exists():
        raise UserError(f"directory {out.parent} does not exist; create it or choose another path")
    return out


def write_text_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a failure never leaves half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def add_compiled_sampler_arg(parser: argparse.ArgumentParser) -> None:
    """--compiled-sampler: draw a loaded run's samples with the compiled sampler (`use_compiled_sampler`)."""
    parser.add_argument("--compiled-sampler", action="store_true",
                        help="draw with the compiled sampler (generator.compiled_sampler; on the CPU at fp32, without "
                             "top-k): the same distribution, 2-11x faster, other draws than torch's sampler at the "
                             "same seed (default: the run's setting)")


def use_compiled_sampler(args: argparse.Namespace, generators: Sequence[Any]) -> None:
    """Turn the compiled sampler on for these generators when --compiled-sampler was given (else each keeps its
    run's setting)."""
    if args.compiled_sampler:
        for generator in generators:
            generator.compiled_sampler = True
