"""Regenerate the tables of docs/hardware.md from the cost tables (calibration/*.yaml).

Run from the repository root: ``python docs/make_hardware_tables.py`` rewrites every block
between ``<!-- BEGIN GENERATED: name -->`` and ``<!-- END GENERATED: name -->``; the prose
around them is left alone. ``--check`` only reports whether the file is up to date (exit 1 if
not); tests/test_calibration.py runs the same check, so the committed tables cannot drift from
the YAML files.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from pydantic import BaseModel

from calibration.schema import ASSUMPTION, Cited
from calibration.seneca import PRECISIONS, SenecaConfig, load_seneca
from calibration.spinnaker2 import FIT_PREFIX, Spinnaker2Config, load_spinnaker2
from simulator.chips.seneca import SenecaCost, core_static_power, data_memory_static_power

DOC = Path(__file__).resolve().parent / "hardware.md"
BLOCK = re.compile(r"(<!-- BEGIN GENERATED: (?P<name>[\w-]+) -->\n)(?P<body>.*?)"
                   r"(<!-- END GENERATED: (?P=name) -->)", re.S)
#: descriptive labels that are no parameter (the source text names the instruction already)
_LABELS = {"mnemonics", "kind"}  # names, not parameters
_WORDS = (1, 2, 4)

Row = tuple[str, str, str, str]  # path, value, unit, source


def _value(v: object) -> str:
    if v is None:
        return "null"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e12 else f"{v:.6g}"
    return str(v)


def parameter_rows(model: BaseModel, prefix: str = "") -> list[Row]:
    """Every parameter of a cost table: each Cited value, and each other field (a site list, a
    category) with the source given by its ``<stem>_source`` sibling where it has one."""
    fields = type(model).model_fields
    sources = {n[: -len("_source")]: getattr(model, n) for n in fields if n.endswith("_source")}
    rows: list[Row] = []
    for name in fields:
        if name.endswith("_source") or name in _LABELS:
            continue
        v, path = getattr(model, name), f"{prefix}{name}"
        if isinstance(v, Cited):
            rows.append(_cited_row(path, v))
        elif isinstance(v, BaseModel):
            rows += parameter_rows(v, path + ".")
        elif isinstance(v, dict):
            for k, item in v.items():
                if isinstance(item, Cited):
                    rows.append(_cited_row(f"{path}.{k}", item))
                elif isinstance(item, BaseModel):
                    rows += parameter_rows(item, f"{path}.{k}.")
                else:
                    rows += parameter_rows_of_mapping(item, f"{path}.{k}.")
        else:
            stem = next((s for s in sources if name.startswith(s)), None)
            src = sources[stem] if stem else "model classification (not a number)"
            rows.append((path, _value(v), "", src))
    return rows


def parameter_rows_of_mapping(mapping: dict, prefix: str) -> list[Row]:
    return [_cited_row(f"{prefix}{k}", c) for k, c in mapping.items() if isinstance(c, Cited)]


def _cited_row(path: str, c: Cited) -> Row:
    src = c.source + (f" — {c.note}" if c.note else "")
    return path, _value(c.value), c.unit, src


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _table(head: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    head = list(head)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def parameters_table(cfg: BaseModel) -> str:
    rows = [(f"`{p}`", v, u, s) for p, v, u, s in parameter_rows(cfg)]
    return _table(("parameter", "value", "unit", "source"), rows)


def assumption_groups(cfg: BaseModel, keep: Callable[[str], bool]) -> dict[str, list[str]]:
    """Parameters whose source passes ``keep``, grouped by that source (``path = value unit``)."""
    out: dict[str, list[str]] = {}
    for path, value, unit, source in parameter_rows(cfg):
        if keep(source):
            out.setdefault(source, []).append(f"`{path}` = {value} {unit}".rstrip())
    return out


def _is_assumption(source: str) -> bool:
    return source.lower().startswith(ASSUMPTION)


def _is_fit(source: str) -> bool:
    return source.lower().startswith(FIT_PREFIX)


def assumptions_section(seneca: SenecaConfig, spinnaker2: Spinnaker2Config) -> str:
    parts = []
    for chip, cfg in (("SENECA", seneca), ("SpiNNaker2", spinnaker2)):
        groups = assumption_groups(cfg, _is_assumption)
        n = sum(len(v) for v in groups.values())
        parts.append(f"#### {chip}: {n} assumed parameters\n\n")
        rows = [(why[len(ASSUMPTION):].strip(), "; ".join(paths))
                for why, paths in groups.items()]
        parts.append(_table(("why (the assumption)", "parameters"), rows) + "\n")
    fitted = assumption_groups(spinnaker2, _is_fit)
    n = sum(len(v) for v in fitted.values())
    parts.append(f"#### SpiNNaker2: {n} parameters fitted to published aggregates "
                 "(`calibration/fit.py`)\n\n")
    rows = [(why, "; ".join(paths)) for why, paths in fitted.items()]
    parts.append(_table(("fitted to", "parameters"), rows))
    return "".join(parts)


def _mix(mix: dict[str, float]) -> str:
    return " + ".join(f"{k:g} {name}" for name, k in mix.items() if k)


def options_table(cfg: SenecaConfig) -> str:
    """pJ and core cycles per MAC of a dense column, for every SENECA option combination."""
    head = ["precision", "accumulators", "NPE instructions per MAC (1 word/access)"]
    head += [f"{w} word{'s' if w > 1 else ''}/access: pJ/MAC, cycles/MAC" for w in _WORDS]
    rows = []
    for precision in PRECISIONS:
        for acc in ("registers", "memory"):
            costs = [SenecaCost(cfg, {"precision": precision, "accumulators": acc,
                                      "weight_words_per_access": w}) for w in _WORDS]
            cells = [f"{e:.4g} pJ, {c:.4g}" for e, c in (k.mac_cost() for k in costs)]
            rows.append((precision, acc, _mix(costs[0].mac_mix), *cells))
    return _table(head, rows)


def event_and_leakage(cfg: SenecaConfig) -> str:
    """The per-event RISC-V work and the derived leakage of one core, in numbers."""
    cost = SenecaCost(cfg)
    event = cost.receive_event()
    dm, rest = data_memory_static_power(cfg), core_static_power(cfg)
    return (f"Per input event the RISC-V handler costs {event.energy_pj:.4g} pJ and "
            f"{event.cycles} cycles (`receive_event`). Leakage of one core: "
            f"{(dm + rest) * 1e6:.4g} µW, of which {dm * 1e6:.4g} µW is the data memory "
            f"(charged on `coreN.data_mem`) and {rest * 1e6:.4g} µW the instruction memory, "
            "register files and logic (on `coreN`).\n")


def blocks() -> dict[str, str]:
    seneca, spinnaker2 = load_seneca(), load_spinnaker2()
    return {
        "seneca-event": event_and_leakage(seneca),
        "seneca-options": options_table(seneca),
        "seneca-parameters": parameters_table(seneca),
        "spinnaker2-parameters": parameters_table(spinnaker2),
        "assumptions": assumptions_section(seneca, spinnaker2),
    }


def update(text: str) -> str:
    """``text`` with every generated block rewritten; a block the doc lacks is an error."""
    new = blocks()
    found = set()

    def fill(m: re.Match) -> str:
        name = m["name"]
        if name not in new:
            raise KeyError(f"unknown generated block {name!r}; known: {sorted(new)}")
        found.add(name)
        return m.group(1) + new[name] + m.group(4)

    out = BLOCK.sub(fill, text)
    missing = sorted(set(new) - found)
    if missing:
        raise KeyError(f"docs/hardware.md lacks generated blocks {missing}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the doc is out of date")
    args = ap.parse_args(argv)
    text = DOC.read_text()
    new = update(text)
    if args.check:
        if new != text:
            print(f"{DOC} is out of date: run python docs/make_hardware_tables.py")
            return 1
        return 0
    DOC.write_text(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
