"""`textgan config`: list shipped configs, or print a resolved config with every key documented."""

from __future__ import annotations

import argparse

from textgan.api.configs import config
from textgan.cli.common import CONFIG_HELP, OVERRIDES_HELP
from textgan.config_io import dump_config, shipped_configs


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "config", help="show shipped configs or a resolved config with every key documented",
        description="Print the resolved configuration (defaults <- FILE <- overrides), each key with its meaning. "
                    "Use it to discover keys for section.key=value overrides.")
    parser.add_argument("--config", metavar="FILE", help=CONFIG_HELP + " (default: built-in defaults)")
    parser.add_argument("--list", action="store_true", help="list the shipped config names and exit")
    parser.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help=OVERRIDES_HELP)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.list:
        print("\n".join(shipped_configs()))
        return 0
    print(dump_config(config(args.config, args.overrides)), end="")
    return 0
