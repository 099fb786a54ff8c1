"""A processing core: an event inbox served in arrival order by a handler.

The handler is the core's program. It receives the core and one inbox item (a packet, a
token, a timer tick) and charges the work it does, either instantly (:meth:`Core.charge`) or
while advancing time (:meth:`Core.work`, :meth:`Core.busy`). A handler that is a generator may
also wait on other events: a DMA completion, an SRAM bank port. Cycles inside one handler call
are accounted analytically; the core never schedules one SimPy event per instruction.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable
from types import GeneratorType
from typing import TYPE_CHECKING, Any

import simpy
from pydantic import BaseModel, ConfigDict, NonNegativeFloat

from simulator.components.base import Component
from simulator.ledger import Category, Tags

if TYPE_CHECKING:
    from simulator.components.dma import Dma
    from simulator.components.noc import Noc, Packet
    from simulator.components.sram import Sram
    from simulator.critical_path import CriticalPathRecorder
    from simulator.engine import Engine

#: a handler returns None (instant work), an event to wait for (e.g. the ``busy`` of work it
#: charged), or a generator that may wait on several
Handler = Callable[["Core", Any], Generator[simpy.Event, Any, None] | simpy.Event | None]


class CoreConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    static_power_w: NonNegativeFloat = 0.0


class Core(Component):
    """See the module docstring."""

    def __init__(
        self,
        engine: Engine,
        name: str,
        config: CoreConfig,
        handler: Handler,
        noc: Noc | None = None,
        node: object = None,
        sram: Sram | None = None,
        dma: Dma | None = None,
    ) -> None:
        super().__init__(engine, name, config.static_power_w)
        self.config = config
        self.handler = handler
        self.noc, self.sram, self.dma = noc, sram, dma
        self.inbox = Inbox(self)
        self._wake: simpy.Event | None = None
        self.current: Any = None
        self.handled = 0
        self.busy_cycles = 0
        if noc is not None:
            noc.attach(name, node, self.inbox.put)
        self.process = engine.env.process(self._serve())

    def _serve(self):
        # Decided when the process first runs (the engine's first step), after ``simulate``
        # attached any recorder: the plain loop below pays nothing for recording.
        critical = self.engine.critical
        if critical is not None:
            return (yield from self._serve_recorded(critical))
        items, handler = self.inbox.items, self.handler
        while True:
            if not items:
                self._wake = self.env.event()
                yield self._wake
            item = items.popleft()
            self.current = item
            result = handler(self, item)
            if type(result) is GeneratorType:
                yield from result
            elif result is not None:
                yield result
            self.current = None
            self.handled += 1

    def _serve_recorded(self, rec: CriticalPathRecorder):
        """:meth:`_serve` telling the critical-path recorder when each item starts and ends
        (the handler runs exactly as there)."""
        items, stamps = self.inbox.items, self.inbox.stamps
        lane = rec.lane(self)
        while True:
            if not items:
                self._wake = self.env.event()
                yield self._wake
            item = items.popleft()
            self.current = item
            node = rec.begin(lane, item, stamps)
            result = self.handler(self, item)
            if type(result) is GeneratorType:
                yield from result
            elif result is not None:
                yield result
            rec.end(lane, node)
            self.current = None
            self.handled += 1

    def _wake_up(self) -> None:
        if self._wake is not None:
            wake, self._wake = self._wake, None
            wake.succeed()

    # -- charging -----------------------------------------------------------------------------
    def charge(
        self,
        operation: str,
        category: Category,
        count: float = 1,
        cycles: int = 0,
        energy_pj: float = 0.0,
        tags: Tags = (),
        component: str | None = None,
    ) -> None:
        """Charge work to the ledger under this core (or a sub-unit name) without using time."""
        self.engine.ledger.charge(component or self.name, operation, category, count, cycles,
                                  energy_pj, tags)

    def busy(self, cycles: int, label: str = "busy") -> simpy.Timeout:
        """Advance time by ``cycles`` of work already charged; ``yield`` the result."""
        self.busy_cycles += cycles
        timeline = self.engine.timeline
        if timeline is not None:
            start = int(self.env.now)
            timeline.span(self.name, label, start, start + cycles)
        return self.env.timeout(cycles)

    def work(
        self,
        operation: str,
        category: Category,
        count: float,
        cycles: int,
        energy_pj: float,
        tags: Tags = (),
    ) -> simpy.Timeout:
        """Charge one operation and spend its cycles: ``yield core.work(...)``."""
        self.engine.ledger.charge(self.name, operation, category, count, cycles, energy_pj, tags)
        return self.busy(cycles, operation)

    # -- communication ------------------------------------------------------------------------
    def send(
        self, dsts: Iterable[str], payload_bits: int, data: Any = None, tags: Tags = ()
    ) -> Packet:
        if self.noc is None:
            raise RuntimeError(f"{self.name} has no NoC attached")
        return self.noc.send(self.name, dsts, payload_bits, data, tags)

    def pending(self) -> str | None:
        parts = []
        if self.current is not None:
            parts.append(f"handling {_describe(self.current)}")
        if self.inbox.items:
            parts.append(f"{len(self.inbox.items)} items waiting in inbox")
        return ", ".join(parts) or None


class Inbox:
    """FIFO of items waiting for the core; ``put`` wakes the core if it sleeps.

    Lighter than a ``simpy.Store`` (no event per put or get while the core is busy), which
    matters because every delivered packet passes through here."""

    __slots__ = ("items", "_core", "stamps", "critical")

    def __init__(self, core: Core) -> None:
        self.items: deque = deque()
        self._core = core
        #: when recording the critical path: the recorder, and what it noted of each item
        #: when it was put (see simulator.critical_path)
        self.critical: CriticalPathRecorder | None = None
        self.stamps: deque | None = None

    def put(self, item: Any) -> None:
        self.items.append(item)
        if self.critical is not None:
            self.critical.stamp(self.stamps, item)
        if self._core._wake is not None:
            self._core._wake_up()

    def take_next(self, wanted: Callable[[Any], bool]) -> Any:
        """Take the next waiting item if ``wanted(item)``, else leave it (None): a handler that
        serves a run of waiting items in one action, with the timing of serving them one
        after another (they were all waiting, so each would start when the one before
        ended). The core counts it as handled."""
        items = self.items
        if not items or not wanted(items[0]):
            return None
        if self.critical is not None:
            self.critical.drop(self.stamps)
        self._core.handled += 1
        return items.popleft()

    def take(self) -> Any:
        """:meth:`take_next` for a caller that has looked at ``items[0]`` and wants it."""
        if self.critical is not None:
            self.critical.drop(self.stamps)
        self._core.handled += 1
        return self.items.popleft()

    def __len__(self) -> int:
        return len(self.items)


def _describe(item: Any) -> str:
    text = repr(item)
    return text if len(text) <= 80 else text[:77] + "..."
