"""Critical paths: the chain of dependent events that sets a latency, and where its time goes.

A sub-block's latency is not the sum of its work: cores run in parallel, and only one chain of
dependent events decides when the last result is ready. Turn recording on with
``simulate(..., critical_path=True)``; the program marks what it wants explained with
:meth:`Program.milestone(core, key) <simulator.program.Program.milestone>` (e.g.
``("time_mix", t)``), and after the run :meth:`CriticalPathRecorder.chain` walks back from the
milestone to the start, segment by segment, and :func:`summarise` splits the chain's cycles by
category and by component (folded to roles with the mapping's fold).

**Nodes.** A node is one core handling one inbox item: from the moment the handler starts on
it to the moment it returns. The core starts an item at ``max(arrival, end of its previous
node)``; the node's *predecessor* is decided then:

- if the item arrived no earlier than the previous node ended (the core was idle, or fell free
  at the very cycle the item came: ties go to the message), the predecessor is the item's
  *cause*, joined by a ``network`` segment from the send to the arrival. The cause of a NoC
  packet is the node running on the sending core when ``Noc.send`` was called
  (``Packet.cause``; a packet a gateway relays inherits the cause and send time of the packet it
  relays). The cause of an item put into an inbox directly (``core.inbox.put``) is the node
  whose handler is executing when ``put`` is called: the recorder knows it because
  :meth:`Core._serve_recorded <simulator.components.Core._serve_recorded>` drives the handler
  by hand and marks the node *active* from each resumption to the next yield (SimPy runs one
  process at a time). An item put from outside any handler (``Program.start``, a DMA
  completion callback) has no known cause: its node is a *root*, and a chain that reaches it
  before ``since`` shows the time before it as ``idle``;
- otherwise the item queued behind the core's own work, and the predecessor is the core's
  previous node (the core was the bottleneck; the item's own wait in the inbox is not on the
  chain, the previous node's work is).

**Segments.** Inside a node, each yield of the handler is one segment (handler code itself
takes no simulated time, so a node's segments tile it exactly):

- ``busy``: a :meth:`Program.spend` (its label and tags); its ``work.cycles * times`` cycles are
  split by category in proportion to the cycles of the work's charges (by energy if they have
  none, ``"other"`` if neither), and the part beyond them when ``at_least`` was larger is the
  wait for a packet train's tail (``communication``). A timeout not made by ``spend``
  (``core.busy``, ``Work.apply``) is ``busy`` with category ``"other"``;
- ``wait``: any other event, category ``"memory"`` if it was an SRAM bank port or a DMA
  completion (label ``sram``, ``dma``), else ``"wait"``.

Between nodes a chain has ``network`` segments (component ``"noc"``, category
``communication``; any network, the board's included), and ``idle`` segments (category
``"idle"``) for time with no known cause: before a root, or after a node that finished before
the milestone was marked. A chain is contiguous and in time order, from ``since`` to the
milestone's time; every node on it contributes at least one segment (zero-length when it took
no time on the chain), so :func:`summarise` can count its steps.

**Cost.** Off, it costs an ``is None`` test per spend, send and delivery. On, nodes are small
slotted objects that point back to their predecessor only: a node no later node, packet or
milestone depends on is freed by reference counting, so memory follows the live chains, not
the length of the run.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from simpy.events import Timeout
from simpy.resources.resource import Request

from simulator.components.dma import Descriptor
from simulator.components.noc import Packet

if TYPE_CHECKING:
    import simpy

    from simulator.chips.work import Work
    from simulator.components import Core
    from simulator.engine import Engine
    from simulator.ledger import Tags

#: kinds of :class:`Segment`
KINDS: tuple[str, ...] = ("busy", "wait", "network", "idle")
#: categories a chain uses beyond the ledger's (time that no charge pays for)
WAIT, IDLE, OTHER = "wait", "idle", "other"
#: component of network segments
NETWORK = "noc"

# what a recorded wait was (the third element of a node's segment tuples, when not a spend)
_SRAM, _DMA, _TIMEOUT, _WAIT = "sram", "dma", "busy", "wait"


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch ``[start, end)`` (engine cycles) of a chain on one component."""

    component: str  # the core's name, or "noc"
    kind: str  # one of KINDS
    label: str
    start: int
    end: int
    categories: dict[str, float] = field(hash=False)  # cycles per category, summing to duration
    tags: Tags = ()
    node: int | None = None  # serial number of the node (None: network, idle)

    @property
    def cycles(self) -> int:
        return self.end - self.start


class _Node:
    """One core handling one inbox item (see the module docstring)."""

    __slots__ = ("serial", "core", "start", "end", "pred", "sent", "segs")

    def __init__(self, serial: int, core: str, start: int, pred: _Node | None,
                 sent: int | None) -> None:
        self.serial, self.core, self.start = serial, core, start
        self.end: int | None = None
        self.pred = pred
        self.sent = sent  # send time of the item when pred is its cause; None when pred is
        # the core's previous node (or there is none)
        self.segs: list[tuple[int, int, Any]] = []  # (t0, t1, spend info or wait kind)


class CriticalPathRecorder:
    """Records nodes and their segments during a run; walks chains back from milestones."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.env = engine.env
        #: the node whose handler is executing now (None outside handlers)
        self.active: _Node | None = None
        #: the packet being delivered now (a gateway relaying it inherits its cause)
        self.delivering: Packet | None = None
        self.nodes = 0  # nodes made so far
        self._running: dict[str, _Node] = {}
        self._last: dict[str, _Node] = {}
        self._milestones: dict[Hashable, tuple[_Node | None, int, str]] = {}
        #: the event the latest ``Program.spend`` made, and what it spends (a handler
        #: yields it at once: the core's loop takes the info when it is yielded)
        self.spend_event: simpy.Event | None = None
        self.spend_info: tuple | None = None
        self._shares: dict[int, tuple[Work, dict[str, float]]] = {}

    def attach(self, cores: list[Core]) -> CriticalPathRecorder:
        """Record on ``engine`` and ``cores``; before the engine runs (the cores' processes
        choose their loop on their first step)."""
        if self.engine.critical is not None:
            raise RuntimeError("a critical-path recorder is already attached")
        self.engine.critical = self
        for core in cores:
            if core.inbox.items or core.handled:
                raise RuntimeError(f"{core.name} has already been used: attach before the run")
            core.inbox.stamps = deque()
            core.inbox._stamp = self.stamp
        return self

    # -- recording (called by Core, Noc and Program) ------------------------------------------
    def stamp(self, item: Any) -> tuple[int, _Node | None, int]:
        """``(arrival, cause, send time)`` of an item put into an inbox now."""
        now = self.env.now
        if isinstance(item, Packet):
            cause, sent = item.cause, item.sent_at
            while isinstance(cause, Packet):  # relayed: the original send
                cause, sent = cause.cause, cause.sent_at
            return now, cause, sent
        return now, self.active, now

    def cause_of(self, src: str) -> _Node | Packet | None:
        """The cause of a packet endpoint ``src`` sends now: the node running on that core,
        else the packet being delivered (a gateway relays it), else the executing handler's
        node (e.g. a host send made by a handler)."""
        node = self._running.get(src)
        if node is not None:
            return node
        return self.delivering if self.delivering is not None else self.active

    def deliver(self, deliver: Callable[[Packet], None], packet: Packet) -> None:
        """Call ``deliver(packet)`` with ``packet`` marked as being delivered."""
        outer, self.delivering = self.delivering, packet
        try:
            deliver(packet)
        finally:
            self.delivering = outer

    def begin(self, core: Core, item: Any) -> _Node:
        """The node of ``core`` starting ``item`` now, with its predecessor decided."""
        arrived, cause, sent = core.inbox.stamps.popleft()
        name = core.name
        prev = self._last.get(name)
        if prev is not None and arrived < prev.end:
            node = _Node(self.nodes, name, self.env.now, prev, None)  # queued
        elif cause is not None:
            node = _Node(self.nodes, name, self.env.now, cause, sent)
        else:
            node = _Node(self.nodes, name, self.env.now, None, None)  # root
        self.nodes += 1
        self._running[name] = self.active = node
        return node

    def waited(self, node: _Node, t0: int, event: simpy.Event, value: Any,
               spend: tuple | None) -> None:
        """The handler of ``node`` yielded ``event`` at ``t0`` (the latest ``spend``'s, if
        ``spend`` is its info) and resumed now with ``value``."""
        t1 = self.env.now
        if t1 == t0:
            return
        if spend is not None:
            what: Any = spend
        elif isinstance(event, Request):  # an SRAM bank port
            what = _SRAM
        elif isinstance(value, Descriptor):  # a DMA transfer's completion
            what = _DMA
        elif isinstance(event, Timeout):
            what = _TIMEOUT
        else:
            what = _WAIT
        node.segs.append((t0, t1, what))

    def end(self, node: _Node) -> None:
        node.end = self.env.now
        self._last[node.core] = node
        del self._running[node.core]
        self.active = None

    def spent(self, event: simpy.Event, work: Work, times: int, tags: Tags, label: str) -> None:
        """``Program.spend`` made ``event`` for ``times`` runs of ``work``."""
        self.spend_event = event
        self.spend_info = (work, times, tags, label)

    def milestone(self, core: Core, key: Hashable) -> None:
        """The node running on ``core`` (else its last node) completes ``key`` now; a key
        marked again is moved to the later mark."""
        node = self._running.get(core.name) or self._last.get(core.name)
        self._milestones[key] = (node, int(self.env.now), core.name)

    # -- reading ------------------------------------------------------------------------------
    @property
    def milestones(self) -> dict[Hashable, int]:
        """Every milestone's time (cycles), in the order they were first marked."""
        return {k: t for k, (_, t, _) in self._milestones.items()}

    def time(self, key: Hashable) -> int:
        return self._mark(key)[1]

    def chain(self, key: Hashable, since: int = 0) -> list[Segment]:
        """The segments of the chain that ends at milestone ``key``, from ``since`` on, in time
        order: contiguous, covering ``[since, milestone time]`` (empty if ``since`` is later)."""
        node, t, core = self._mark(key)
        since = int(since)
        if since >= t:
            return []
        out: list[Segment] = []  # built backwards
        if node is not None and node.end is not None and node.end < t:
            out.append(_idle(core, max(node.end, since), t))
            t = node.end
        while node is not None and t > since:
            self._emit(node, since, t, out)
            t = node.start
            if t <= since:
                break
            if node.sent is not None:  # caused by a message sent at node.sent
                if node.sent < t:
                    out.append(Segment(NETWORK, "network", "network", max(node.sent, since), t,
                                       {"communication": float(t - max(node.sent, since))}))
                t = node.sent
            elif node.pred is None:  # a root: nothing known before it
                out.append(_idle(node.core, since, t))
                t = since
            node = node.pred
        if t > since:  # a milestone marked on a core that had run nothing
            out.append(_idle(core, since, t))
        out.reverse()
        return out

    def _mark(self, key: Hashable) -> tuple[_Node | None, int, str]:
        try:
            return self._milestones[key]
        except KeyError:
            raise KeyError(f"no milestone {key!r} was marked (have {len(self._milestones)}: "
                           f"{list(self._milestones)[:5]}...)") from None

    def _emit(self, node: _Node, since: int, until: int, out: list[Segment]) -> None:
        """``node``'s segments inside ``[since, until]``, appended last first; one zero-length
        segment if none is (so the node counts as a step). A node's segments tile it; only a
        node still running when the chain is read can have holes (shown as ``wait``)."""
        lo = max(node.start, since)
        parts: list[Segment] = []
        cursor = lo
        for t0, t1, what in node.segs:
            if t1 <= lo:
                continue
            if t0 >= until:
                break
            a, b = max(t0, lo), min(t1, until)
            if a > cursor:
                parts.append(self._segment(node, cursor, a, _WAIT, cursor, a))
            parts.append(self._segment(node, t0, t1, what, a, b))
            cursor = b
        if cursor < until:
            parts.append(self._segment(node, cursor, until, _WAIT, cursor, until))
        if not parts:
            parts.append(Segment(node.core, "busy", "handler", lo, lo, {}, (), node.serial))
        out.extend(reversed(parts))

    def _segment(self, node: _Node, t0: int, t1: int, what: Any, a: int, b: int) -> Segment:
        """The part ``[a, b]`` of the segment ``[t0, t1]`` of ``node``."""
        if isinstance(what, str):
            if what == _TIMEOUT:
                return Segment(node.core, "busy", "busy", a, b, {OTHER: float(b - a)}, (),
                               node.serial)
            category = "memory" if what in (_SRAM, _DMA) else WAIT
            return Segment(node.core, "wait", what, a, b, {category: float(b - a)}, (),
                           node.serial)
        work, times, tags, label = what
        work_end = t0 + min(work.cycles * times, t1 - t0)  # then the train's tail
        working = max(0, min(b, work_end) - max(a, t0))
        cats = {c: working * share for c, share in self._share(work).items()} if working else {}
        if b - a > working:
            cats["communication"] = cats.get("communication", 0.0) + (b - a - working)
        return Segment(node.core, "busy", label, a, b, cats, tags, node.serial)

    def _share(self, work: Work) -> dict[str, float]:
        """Fraction of ``work``'s cycles per category (by charge cycles, else energy)."""
        hit = self._shares.get(id(work))
        if hit is not None and hit[0] is work:
            return hit[1]
        by: dict[str, float] = {}
        for attr in ("cycles", "energy_pj"):
            for c in work.charges:
                by[str(c.category)] = by.get(str(c.category), 0.0) + getattr(c, attr)
            total = sum(by.values())
            if total > 0:
                break
            by.clear()
        share = {c: v / total for c, v in by.items() if v} if by else {OTHER: 1.0}
        self._shares[id(work)] = (work, share)
        return share


def _idle(core: str, start: int, end: int) -> Segment:
    return Segment(core, "idle", "idle", start, end, {IDLE: float(end - start)})


def _identity(name: str) -> str:
    return name


def summarise(segments: list[Segment], fold: Callable[[str], str] = _identity) -> dict[str, Any]:
    """Cycles of a chain, by category and by (folded) component, and its number of steps
    (nodes)."""
    by_category: dict[str, float] = {}
    by_component: dict[str, float] = {}
    nodes = set()
    for s in segments:
        for c, v in s.categories.items():
            by_category[c] = by_category.get(c, 0.0) + v
        comp = fold(s.component)
        by_component[comp] = by_component.get(comp, 0) + s.cycles
        if s.node is not None:
            nodes.add(s.node)
    return {"cycles": sum(s.cycles for s in segments), "by_category": by_category,
            "by_component": by_component, "steps": len(nodes)}
