"""`nmsim` command line: one sub-command per job or tool, each with its own ``--help``.

Commands live in ``simulator/commands/<name>.py``; each module has ``register(cli)`` which adds
its parser(s) through :class:`Commands` and sets ``func`` to the function that runs it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import traceback
from collections.abc import Sequence

from simulator.errors import UserError

#: the line after the traceback of an unexpected error (an error of the user's input is
#: a :class:`~simulator.errors.UserError`: one line, status 2, no traceback)
BUG_REPORT = ("nmsim: this is a bug in nmsim, not a problem with your input; please report it "
              "at the nmsim issue tracker with the command line and the traceback above")

#: Modules that register commands, in the order their commands are listed in ``--help``,
#: with the words of the commands each registers (``plot``: every ``plot KIND``).
COMMAND_MODULES: dict[str, str] = {
    "simulator.commands.rwkv_token": "rwkv-token",
    "simulator.commands.trace_rwkv": "trace rwkv",
    "simulator.commands.trace_egru": "trace egru",
    "simulator.commands.sparsify_rwkv": "sparsify rwkv",
    "simulator.commands.sparsify_opt": "sparsify opt",
    "simulator.commands.plot": "plot",
    "simulator.commands.calibrate": "calibrate",
    "simulator.commands.egru_sweep": "egru-sweep",
    "simulator.commands.dvs_gesture": "dvs-gesture",
    "simulator.commands.opt_token": "opt-token",
    "simulator.commands.context_sweep": "context-sweep",
    "simulator.commands.validate": "validate",
}
#: the one-line summary of each first word in ``nmsim --help`` (which imports no command: a
#: command's own ``--help`` has its full description)
SUMMARIES: dict[str, str] = {
    "rwkv-token": "one token through one RWKV-4 block on a chip, dense vs activation-sparse",
    "trace": "record or synthesise event traces (trace rwkv, trace egru)",
    "sparsify": "training-free threshold search for activation sparsity (sparsify rwkv, opt)",
    "plot": "figures of results: breakdown, sweep, profile, critical-path, dvs-breakdown",
    "calibrate": "the chip models against published measurements; fits; cited values",
    "egru-sweep": "EGRU layers partitioned over N cores of a chip, swept over N",
    "dvs-gesture": "the DVS-gesture EGRU network on N cores, batched (synthetic events)",
    "opt-token": "one token through one OPT decoder layer at context L, KV cache, dense vs sparse",
    "context-sweep": "energy and latency per token against context L: OPT layer vs RWKV block",
    "validate": "the simulator against published results, cell by cell, with the gap explained",
}


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


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser of the commands ``argv`` names (``["plot", "breakdown", ...]``: the plot
    commands; ``["trace", "rwkv"]``: that one), or of every command if it names none: running
    one command imports only its own module."""
    parser = argparse.ArgumentParser(
        prog="nmsim",
        description="Event-based simulator of sparse language models on SENECA and SpiNNaker2.",
    )
    cli = Commands(parser)
    for module in _modules_for(list(argv)):
        importlib.import_module(module).register(cli)
    return parser


def _modules_for(argv: list[str]) -> list[str]:
    words = {m: w.split() for m, w in COMMAND_MODULES.items()}
    first = [m for m, w in words.items() if argv[:1] == w[:1]]
    exact = [m for m in first if words[m] == argv[: len(words[m])]]
    return exact or first or list(COMMAND_MODULES)


def overview_parser() -> argparse.ArgumentParser:
    """``nmsim`` and ``nmsim --help``: the commands and their summaries, nothing imported."""
    parser = argparse.ArgumentParser(
        prog="nmsim",
        description="Event-based simulator of sparse language models on SENECA and SpiNNaker2.",
        epilog="Every command has its own --help (e.g. nmsim rwkv-token --help).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for word, summary in SUMMARIES.items():  # first words, in the order of COMMAND_MODULES
        sub.add_parser(word, help=summary)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        overview_parser().print_help()
        return 0 if argv else 2
    parser = build_parser(argv)
    args = parser.parse_args(argv)  # a bad argument: argparse's usage and error, status 2
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except UserError as e:
        print(f"nmsim {command_words(args)}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: what was finished is written atomically or not at all
        print(f"nmsim {command_words(args)}: interrupted", file=sys.stderr)
        return 130
    except SystemExit:
        raise
    except Exception:  # a bug: its traceback, and where to report it
        traceback.print_exc()
        print(BUG_REPORT, file=sys.stderr)
        return 1


def command_words(args: argparse.Namespace) -> str:
    """``egru-sweep``, ``trace egru``: the command that ``args`` runs."""
    first = getattr(args, "command", None) or ""
    kind = getattr(args, f"{first}_command", None)
    return f"{first} {kind}" if kind else first


if __name__ == "__main__":
    sys.exit(main())
