"""Programs: the event handlers of a workload on a mapping, and their one charging idiom.

A :class:`Program` runs on a built :class:`~simulator.chips.system.System`: every core's
handler is :meth:`Program.handle`, called once per inbox item (a packet train, a DMA
completion, a start message), each item typed by the program's own message classes.
Work is spent with :meth:`Program.spend` only: it keeps the core busy for the work's cycles
(one SimPy event however many MACs it holds) and counts the charge, which :meth:`settle`
writes to the ledger once per (core, work, tags) after the run: the same totals as charging
every time, without a ledger update per event. :meth:`Program.milestone` marks the ends of
the chains a critical-path recording explains (:mod:`simulator.critical_path`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Generator, Hashable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import simpy

    from simulator.chips.system import System
    from simulator.chips.work import Work
    from simulator.components import Core
    from simulator.ledger import Tags
    from simulator.mapping import Mapping


class Program:
    """Base of every workload program; subclasses implement :meth:`start` and :meth:`handle`,
    and may check invariants in :meth:`check` and report in :meth:`report`."""

    #: workload name, for the chip's published program size (``cost.program_bytes``)
    workload = "program"

    def __init__(self, system: System, mapping: Mapping, workload: Any) -> None:
        self.system, self.mapping, self.workload = system, mapping, workload
        self.cost = system.cost
        self.engine = system.engine
        self.index = {c.name: i for i, c in enumerate(system.cores)}
        self._spent: Counter = Counter()
        self._works: dict[int, Work] = {}  # keeps every counted Work alive (ids stay unique)

    # -- to implement -------------------------------------------------------------------------
    def start(self) -> None:
        """Put the first items into the cores' inboxes."""
        raise NotImplementedError

    def handle(self, core: Core, item: Any) -> Generator[simpy.Event, Any, None] | None:
        """The handler of every core: one inbox item."""
        raise NotImplementedError

    def check(self) -> None:
        """Invariants after the run (raise ``RuntimeError`` naming what broke)."""

    def report(self) -> dict[str, Any]:
        """Program-specific figures of the run (phase times, per-core profiles, ...)."""
        return {}

    # -- the charging idiom -------------------------------------------------------------------
    def spend(self, core: Core, work: Work, tags: Tags = (), times: int = 1,
              at_least: int = 0, label: str | None = None) -> simpy.Timeout:
        """Charge ``times`` runs of ``work`` to ``core`` and keep it busy for them (or for
        ``at_least`` cycles, e.g. while a packet train's tail arrives): ``yield`` the result."""
        self.count(core, work, tags, times)
        critical = self.engine.critical
        if critical is not None:
            critical.spent(core, work, times, at_least, tags, label or work.label)
        return core.busy(max(work.cycles * times, at_least), label or work.label)

    def milestone(self, core: Core, key: Hashable) -> None:
        """Mark that the handler now running on ``core`` completes ``key`` (e.g.
        ``("time_mix", t)``): the end of a chain ``run.critical.chain(key)`` explains
        (:mod:`simulator.critical_path`). Nothing happens unless the path is recorded."""
        critical = self.engine.critical
        if critical is not None:
            critical.milestone(core, key)

    def count(self, core: Core, work: Work, tags: Tags = (), times: int = 1) -> None:
        """Charge without spending time (work that overlaps other work)."""
        if not work.charges:
            return
        key = id(work)
        if key not in self._works:
            self._works[key] = work
        self._spent[(core.name, key, tags)] += times

    def settle(self) -> None:
        """Write every counted charge to the ledger (after the run)."""
        cores = {c.name: c for c in self.system.cores}
        for (name, key, tags), n in self._spent.items():
            self._works[key].charge(cores[name], tags, n)
        self._spent.clear()
