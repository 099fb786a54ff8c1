"""``--chip``, ``--set`` and ``--option`` on every simulation command, read into one ``Chip``."""

from __future__ import annotations

import argparse

from simulator.chips import registry


def add_chip_options(p: argparse.ArgumentParser, default: str) -> None:
    names = "|".join(registry.names())
    p.add_argument("--chip", default=default, metavar=f"{names}|PATH.yaml",
                   help=f"a registered chip, or a chip description file (a copy of "
                        f"calibration/<chip>.yaml whose 'kind' names the model); default: "
                        f"{default}")
    p.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", dest="set_",
                   help="change one field of the chip description, repeatable, e.g. "
                        "--set noc.clock=300e6 (a cited number's value; recorded in the result)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="cost-model option, repeatable; seneca: precision=bf16|int8|int4, "
                        "weight_words_per_access=1|2|4, accumulators=registers|memory; "
                        "spinnaker2: level=0.5V|0.8V, precision=fp32|int8, use_mla=true|false, "
                        "use_exp_accelerator=true|false")


def parse_options(items: list[str]) -> dict[str, object]:
    """``KEY=VALUE`` strings as a dict; numbers and booleans converted."""
    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise registry.ChipError(f"--option {item!r}: expected KEY=VALUE")
        low = value.lower()
        out[key] = (True if low == "true" else False if low == "false"
                    else int(value) if value.isdigit() else value)
    return out


def chip_from_args(args: argparse.Namespace) -> registry.Chip:
    """The validated chip (raises ``ChipError`` naming the argument, file or field)."""
    chip = registry.load_chip(args.chip, args.set_, parse_options(args.option))
    chip.cost()  # options that only the cost model can check (an unknown level) fail now
    return chip
