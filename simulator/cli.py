"""`nmsim` command line: one sub-command per job or tool, each with its own ``--help``.

Commands live in ``simulator/commands/<name>.py``; each module has ``register(cli)`` which adds
its parser(s) through :class:`Commands` and sets ``func`` to the function that runs it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: Modules that register commands, in the order their commands are listed in ``--help``.
COMMAND_MODULES: tuple[str, ...] = (
    "simulator.commands.rwkv_token",
    "simulator.commands.trace_rwkv",
    "simulator.commands.trace_egru",
    "simulator.commands.sparsify_rwkv",
    "simulator.commands.plot",
    "simulator.commands.calibrate",
    "simulator.commands.egru_sweep",
    "simulator.commands.validate",
)


class Commands:
    """Adds sub-commands, optionally under a group (``nmsim trace rwkv``, ``nmsim plot sweep``)."""

    def __init__(self, parser: argparse.ArgumentParser) -> None:
        self._sub = parser.add_subparsers(dest="command", metavar="COMMAND")
        self._groups: dict[str, argparse._SubParsersAction] = {}

    def add(self, name: str, help: str, group: str | None = None) -> argparse.ArgumentParser:
        sub = self._sub if group is None else self._group(group)
        return sub.add_parser(name, help=help, description=help)

    def _group(self, group: str) -> argparse._SubParsersAction:
        if group not in self._groups:
            p = self._sub.add_parser(group, help=f"{group} sub-commands", description=group)
            self._groups[group] = p.add_subparsers(dest=f"{group}_command", metavar="KIND")
            p.set_defaults(func=lambda args, p=p: p.print_help() or 2)
        return self._groups[group]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nmsim",
        description="Event-based simulator of sparse language models on SENECA and SpiNNaker2.",
    )
    cli = Commands(parser)
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(cli)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
