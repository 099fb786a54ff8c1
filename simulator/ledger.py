"""The energy/cycle ledger: every cost the simulator charges, and every view of it.

Every charge is ``(component, operation, category, count, cycles, energy_pJ)`` plus user tags
(layer, site, sub-block). Charges with the same key are summed as they arrive, so the ledger
stays small however many events a run has. Views (per operation, per component, per category,
per tag) are sums over the same entries, so any breakdown adds up to the total by construction;
the tests check it anyway.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from enum import StrEnum
from pathlib import Path

Tags = tuple[tuple[str, str], ...]


class Category(StrEnum):
    """What kind of work a charge pays for."""

    COMPUTATION = "computation"
    MEMORY = "memory"
    COMMUNICATION = "communication"
    CONTROL = "control"
    STATIC = "static"


def tags(**labels: object) -> Tags:
    """Hashable, order-independent tag set: ``tags(layer="layer0", site="W")``."""
    return tuple(sorted((k, str(v)) for k, v in labels.items()))


KEY_FIELDS = ("component", "operation", "category")
VALUE_FIELDS = ("count", "cycles", "energy_pj")


class Ledger:
    """Accumulates charges; derives breakdowns."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str, Category, Tags], list[float]] = {}

    def charge(
        self,
        component: str,
        operation: str,
        category: Category,
        count: float = 1,
        cycles: float = 0,
        energy_pj: float = 0.0,
        tags: Tags = (),
    ) -> None:
        key = (component, operation, category, tags)
        entry = self._entries.get(key)
        if entry is None:
            self._entries[key] = [count, cycles, energy_pj]
        else:
            entry[0] += count
            entry[1] += cycles
            entry[2] += energy_pj

    def accumulator(self, component: str, operation: str, category: Category,
                    tags: Tags = ()) -> list[float]:
        """The ``[count, cycles, energy_pj]`` entry of a key, created empty if new. Hot paths
        that charge the same key over and over (a NoC route) add to it in place: the same sums
        as :meth:`charge`, without building the key each time."""
        key = (component, operation, category, tags)
        entry = self._entries.get(key)
        if entry is None:
            entry = self._entries[key] = [0, 0, 0.0]
        return entry

    def merge(self, other: Ledger, extra_tags: Tags = ()) -> None:
        """Add every entry of ``other`` (with ``extra_tags`` appended) into this ledger."""
        for (comp, op, cat, tg), (n, cyc, e) in other._entries.items():
            self.charge(comp, op, cat, n, cyc, e, tuple(sorted(tg + extra_tags)))

    def scaled(self, factor: float) -> Ledger:
        """A copy with every count, cycle and energy multiplied (e.g. averaging over tokens)."""
        out = Ledger()
        for key, (n, cyc, e) in self._entries.items():
            out._entries[key] = [n * factor, cyc * factor, e * factor]
        return out

    def filter(self, keep: Callable[[dict], bool]) -> Ledger:
        """A ledger with only the entries whose row (see :meth:`rows`) passes ``keep``."""
        out = Ledger()
        for key, vals in self._entries.items():
            if keep(self._row(key, vals)):
                out._entries[key] = list(vals)
        return out

    # -- views --------------------------------------------------------------------------------
    @staticmethod
    def _row(key: tuple, vals: list[float]) -> dict:
        comp, op, cat, tg = key
        row = {"component": comp, "operation": op, "category": str(cat), **dict(tg)}
        row.update(zip(VALUE_FIELDS, vals, strict=True))
        return row

    def rows(self) -> list[dict]:
        """Tidy rows, one per (component, operation, category, tags), sorted for stable output."""
        entries = sorted(self._entries.items(), key=lambda kv: _sort(kv[0]))
        return [self._row(k, v) for k, v in entries]

    def lacking(self, tag: str) -> list[dict]:
        """Rows that cost energy but carry no ``tag`` (a program's check that every charge
        was attributed), without building the rows of those that do."""
        return [self._row(k, v) for k, v in self._entries.items()
                if v[2] and not any(name == tag for name, _ in k[3])]

    def tag_names(self) -> list[str]:
        return sorted({name for (_, _, _, tg) in self._entries for name, _ in tg})

    def total(self, value: str = "energy_pj") -> float:
        i = VALUE_FIELDS.index(value)
        return sum(v[i] for v in self._entries.values())

    def by(self, *fields: str, value: str = "energy_pj") -> dict[tuple[str, ...] | str, float]:
        """Sum ``value`` grouped by fields (``component``, ``operation``, ``category`` or a tag
        name). Entries without a tag are grouped under ``""``. One field gives plain keys."""
        i = VALUE_FIELDS.index(value)
        out: dict = {}
        for key, vals in self._entries.items():
            row = self._row(key, vals)
            group = tuple(str(row.get(f, "")) for f in fields)
            k = group[0] if len(fields) == 1 else group
            out[k] = out.get(k, 0.0) + vals[i]
        return out

    def to_csv(self, path: str | Path, extra: Iterable[str] = ()) -> Path:
        path = Path(path)
        tag_cols = self.tag_names()
        cols = [*KEY_FIELDS, *tag_cols, *extra, *VALUE_FIELDS]
        from simulator.outputs import atomic_open

        with atomic_open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols, extrasaction="ignore", restval="")
            w.writeheader()
            w.writerows(self.rows())
        return path

    def __len__(self) -> int:
        return len(self._entries)


def _sort(key: tuple) -> tuple:
    comp, op, cat, tg = key
    return (str(cat), comp, op, tg)
