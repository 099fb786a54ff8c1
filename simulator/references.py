"""Published reference measurements against the simulator: the registry behind
``nmsim calibrate --report``.

Each reference in ``calibration/references/<chip>.yaml`` (format: ``ReferenceSet``) is checked
by a *simulation function* registered under the reference's name: it builds the chip model,
runs the situation the measurement describes (its ``conditions``), and returns the simulated
value in the reference's unit. Modules register their functions with :func:`simulates`; which
modules those are is each chip's registry entry (``ChipSpec.reference_modules``), imported on
first use. A reference without a function is reported as such, never given an invented value.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from calibration.fit import REFERENCES_DIR
from calibration.schema import CalibrationError, Reference, ReferenceSet, load_yaml
from simulator.chips import registry

Simulation = Callable[[Reference], float]

_REGISTRY: dict[str, Simulation] = {}
_loaded = False


def simulates(*names: str) -> Callable[[Simulation], Simulation]:
    """Register the decorated function as the simulation of the references ``names``."""

    def register(fn: Simulation) -> Simulation:
        for name in names:
            if name in _REGISTRY and _REGISTRY[name] is not fn:
                raise ValueError(f"reference {name!r} already has a simulation function")
            _REGISTRY[name] = fn
        return fn

    return register


def _load_modules() -> None:
    global _loaded
    if _loaded:
        return
    for name in registry.names():
        for module in registry.get(name).reference_modules:
            importlib.import_module(module)
    _loaded = True


def simulation_for(name: str) -> Simulation | None:
    _load_modules()
    return _REGISTRY.get(name)


@dataclass(frozen=True)
class ReportRow:
    chip: str
    name: str
    quantity: str
    use: str
    published: float
    unit: str
    simulated: float | None
    note: str = ""

    @property
    def error(self) -> float | None:
        """Relative error of the simulated value (simulated / published - 1)."""
        if self.simulated is None or self.published == 0:
            return None
        return self.simulated / self.published - 1.0


def reference_files(directory: Path = REFERENCES_DIR) -> list[Path]:
    return sorted(directory.glob("*.yaml"))


def report_rows(directory: Path = REFERENCES_DIR) -> list[ReportRow]:
    """One row per reference of every chip's file; an unreadable file gives one error row."""
    rows: list[ReportRow] = []
    for path in reference_files(directory):
        try:
            refs = load_yaml(path, ReferenceSet)
        except CalibrationError as e:
            rows.append(ReportRow(path.stem, "(file)", "", "", float("nan"), "", None,
                                  f"unreadable: {e}"))
            continue
        for ref in refs.references:
            if ref.chip not in registry.names():
                rows.append(_row(ref, None, f"chip {ref.chip!r} is not registered"))
                continue
            fn = simulation_for(ref.name)
            if fn is None:
                rows.append(_row(ref, None, "no simulation function registered"))
                continue
            rows.append(_row(ref, fn(ref)))
    return rows


def _row(ref: Reference, simulated: float | None, note: str = "") -> ReportRow:
    return ReportRow(ref.chip, ref.name, ref.quantity, ref.use, ref.value, ref.unit, simulated,
                     note)


def format_report(rows: list[ReportRow]) -> str:
    head = ("chip", "reference", "quantity", "use", "simulated", "published", "unit", "error")
    table = [head]
    for r in rows:
        sim = "—" if r.simulated is None else f"{r.simulated:.4g}"
        err = r.note if r.error is None else f"{r.error:+.1%}"
        table.append((r.chip, r.name, r.quantity, r.use, sim, f"{r.published:.4g}", r.unit, err))
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
