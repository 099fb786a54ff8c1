"""Critical paths: the chain of dependent events that sets a latency, and where its time goes.

A sub-block's latency is not the sum of its work: cores run in parallel, and only one chain of
dependent events decides when the last result is ready. Turn recording on with
``simulate(..., critical_path=True)``; the program marks what it wants explained with
:meth:`Program.milestone(core, key) <simulator.program.Program.milestone>` (e.g.
``("time_mix", t)``), and after the run :meth:`CriticalPathRecorder.chain` walks back from the
milestone, segment by segment, and :func:`summarise` splits the chain's cycles by category and
by component (folded to roles with the mapping's fold).

**Nodes.** A node is one core handling one inbox item: from the moment the handler starts on
it to the moment it returns. The core starts an item at ``max(arrival, end of its previous
node)``; the node's *predecessor* is decided then:

- if the item arrived no earlier than the previous node ended (the core was idle, or fell free
  at the very cycle the item came: ties go to the message), the predecessor is the item's
  *cause*, joined by a ``network`` segment from the send to the arrival. The cause of a NoC
  packet is the node running on the sending core when ``Noc.send`` was called
  (``Packet.cause``; a packet a gateway relays inherits the cause and send time of the packet
  it relays). The cause of an item put into an inbox directly (``core.inbox.put``) is the node
  whose handler is executing when ``put`` is called: SimPy runs one process at a time and
  names it (``env.active_process``), so the recorder knows whose handler that is without any
  help from the program. An item put from outside any handler (``Program.start``, a DMA
  completion's callback) has no known cause: its node is a *root*, and the time before it on
  a chain is ``idle``;
- otherwise the item queued behind the core's own work, and the predecessor is the core's
  previous node (the core was the bottleneck: the item's own wait in the inbox is not on the
  chain, the previous node's work is).

**Segments.** Inside a node, time is ``busy`` or ``wait``:

- ``busy``: a :meth:`Program.spend`, from the call for ``max(work.cycles * times, at_least)``
  cycles (the handler yields it at once: the idiom), with its label and tags. Its
  ``work.cycles * times`` cycles are split by category in proportion to the cycles of the
  work's charges (by energy if they have none, ``"other"`` if neither); the part beyond them
  when ``at_least`` was larger is the wait for a packet train's tail, ``communication``;
- ``wait``: the rest of the node, category ``"wait"``: the handler waiting on something else
  (a DMA completion, an SRAM bank port, a timeout it made itself). The recorder does not tell
  these apart, to stay off the hot paths.

Between nodes a chain has ``network`` segments (component ``"noc"``, category
``communication``; any network, a board's included), and ``idle`` segments (category
``"idle"``) for time with no known cause: before a root, or after a node that had finished
when the milestone was marked. A chain is contiguous and in time order from ``since`` to the
milestone's time, and every node on it contributes at least one segment (zero-length if it
took no time on the chain), so :func:`summarise` can count its steps.

**Cost.** Off, it costs an ``is None`` test per spend, send, delivery and inbox put, and one
per core when its loop starts. On, the core loop is unchanged but for a call when an item
starts and one when it ends; recording appends a few ints per node and per segment to logs
whose full chunks become tuples of ints, which the garbage collector stops scanning (under
200 bytes per node with its segment; the whole run is kept, so that any milestone can be
asked about afterwards).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from itertools import chain as chain_iterables
from typing import TYPE_CHECKING, Any

from simulator.components.noc import Packet

if TYPE_CHECKING:
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

_NODE, _SEG, _END = 4, 5, 3  # ints per node, per segment, per node end in the logs
_CHUNK = 1 << 15  # ints per sealed chunk of a log


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
    node: int | None = None  # the node's serial number (None: network, idle)

    @property
    def cycles(self) -> int:
        return self.end - self.start


class _Log:
    """An append-only log of ints in chunks: a full chunk becomes a tuple of ints, which the
    garbage collector stops scanning, so a long run costs it nothing more."""

    __slots__ = ("chunks", "tail")

    def __init__(self) -> None:
        self.chunks: list[tuple[int, ...]] = []
        self.tail: list[int] = []

    def seal(self) -> None:
        self.chunks.append(tuple(self.tail))
        self.tail.clear()

    def read(self) -> tuple[int, ...]:
        return tuple(chain_iterables(*self.chunks, self.tail))


class CriticalPathRecorder:
    """Records nodes and their segments during a run; walks chains back from milestones.

    Recording only appends ints to three logs (see :class:`_Log`): per node (start,
    predecessor or -1 for a root, send time of its item when the predecessor is the item's
    cause or -1, core), per busy segment (start, end of the work, end, previous segment of
    its node or -1, kind: an index into the distinct ``(work, tags, label)`` spent), per
    finished node (node, last segment, end). The logs are read into tables when a chain is
    first asked for."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.env = engine.env
        #: the packet being delivered now (a gateway relaying it inherits its cause)
        self.delivering: Packet | None = None
        #: nodes and busy segments recorded so far
        self.nodes = self.segments = 0
        self._node_log, self._seg_log, self._end_log = _Log(), _Log(), _Log()
        self._kinds: list[tuple[Work, Tags, str]] = []
        self._kind_of: dict[tuple, int] = {}
        self._last_kind: tuple = (None, None, None, -1)
        self._names: list[str] = []
        self._lane_of: dict[str, int] = {}
        self._lane_of_process: dict[object, int] = {}
        # per core: its node now (-1: idle), that node's last segment, its latest finished
        # node (-1: none) and when that ended
        self._running: list[int] = []
        self._last_seg: list[int] = []
        self._latest: list[int] = []
        self._free_at: list[int] = []
        self._milestones: dict[Hashable, tuple[int, int, str]] = {}
        self._shares: dict[int, tuple[Work, dict[str, float]]] = {}
        self._tables: tuple | None = None

    def attach(self, cores: list[Core]) -> CriticalPathRecorder:
        """Record on ``engine`` and ``cores``; before the engine runs (the cores' processes
        choose their loop on their first step)."""
        if self.engine.critical is not None:
            raise RuntimeError("a critical-path recorder is already attached")
        for core in cores:
            if core.inbox.items or core.handled:
                raise RuntimeError(f"{core.name} has already been used: attach before the run")
        self.engine.critical = self
        for core in cores:
            self._lane_of[core.name] = self._lane_of_process[core.process] = len(self._names)
            self._names.append(core.name)
            for per_core in (self._running, self._last_seg, self._latest, self._free_at):
                per_core.append(-1)
            core.inbox.stamps = deque()
            core.inbox.critical = self
        return self

    # -- recording (called by Core, Noc and Program) ------------------------------------------
    def lane(self, core: Core) -> int:
        """``core``'s index in the recorder (its loop asks once)."""
        return self._lane_of[core.name]

    @property
    def active(self) -> int | None:
        """The node whose handler is executing now (None outside every core's handler)."""
        lane = self._lane_of_process.get(self.env.active_process)
        if lane is None or self._running[lane] < 0:
            return None
        return self._running[lane]

    def stamp(self, stamps: deque, item: Any) -> None:
        """Note in an inbox's ``stamps`` what the recorder needs of ``item``, put now: its
        arrival and the node putting it (a packet names its own cause)."""
        stamps.append(self.env.now)
        stamps.append(None if type(item) is Packet else self.active)

    def drop(self, stamps: deque) -> None:
        """Forget the stamps of the first item of an inbox, taken by a handler that serves
        it as part of the item it is handling (``Inbox.take_next``): on the chain it is part
        of that node."""
        stamps.popleft()
        stamps.popleft()

    def cause_of(self, src: str) -> int | Packet | None:
        """The cause of a packet endpoint ``src`` sends now: the node running on that core,
        else the packet being delivered (a gateway relays it), else the executing handler's
        node (e.g. a host send made by a handler)."""
        lane = self._lane_of.get(src)
        if lane is not None and self._running[lane] >= 0:
            return self._running[lane]
        return self.delivering if self.delivering is not None else self.active

    def begin(self, lane: int, item: Any, stamps: deque) -> int:
        """The node of core ``lane`` starting ``item`` now (the first item of its inbox's
        ``stamps``), with its predecessor decided."""
        arrived, cause = stamps.popleft(), stamps.popleft()
        if type(item) is Packet:
            cause, sent = item.cause, item.sent_at
            while type(cause) is Packet:  # relayed by a gateway: the original send
                cause, sent = cause.cause, cause.sent_at
        else:
            sent = arrived
        if arrived < self._free_at[lane]:
            cause, sent = self._latest[lane], -1  # queued behind the core's own work
        elif cause is None:
            cause, sent = -1, -1  # a root
        node = self.nodes
        self.nodes = node + 1
        log = self._node_log.tail
        log.extend((self.env.now, cause, sent, lane))
        if len(log) >= _CHUNK:
            self._node_log.seal()
        self._running[lane] = node
        self._last_seg[lane] = -1
        return node

    def end(self, lane: int, node: int) -> None:
        now = self.env.now
        log = self._end_log.tail
        log.extend((node, self._last_seg[lane], now))
        if len(log) >= _CHUNK:
            self._end_log.seal()
        self._latest[lane], self._free_at[lane] = node, now
        self._running[lane] = -1

    def spent(self, core: Core, work: Work, times: int, at_least: int, tags: Tags,
              label: str) -> None:
        """``Program.spend`` keeps ``core`` busy from now for ``times`` runs of ``work`` (or
        ``at_least`` cycles)."""
        lane = self._lane_of.get(core.name)
        if lane is None or self._running[lane] < 0:
            return  # not in a handler of this core: nothing to attribute it to
        cycles = work.cycles * times
        busy = cycles if cycles >= at_least else at_least
        if busy <= 0:
            return
        last = self._last_kind
        if work is last[0] and tags is last[1] and label is last[2]:
            kind = last[3]  # as often: the same action again
        else:
            key = (id(work), tags, label)  # by identity: hashing a Work is costly
            kind = self._kind_of.get(key)
            if kind is None:
                kind = self._kind_of[key] = len(self._kinds)
                self._kinds.append((work, tags, label))  # keeps the Work: its id stays its own
            self._last_kind = (work, tags, label, kind)
        now = self.env.now
        seg = self.segments
        self.segments = seg + 1
        log = self._seg_log.tail
        log.extend((now, now + cycles, now + busy, self._last_seg[lane], kind))
        if len(log) >= _CHUNK:
            self._seg_log.seal()
        self._last_seg[lane] = seg

    def milestone(self, core: Core, key: Hashable) -> None:
        """The node running on ``core`` (else its last node) completes ``key`` now; a key
        marked again is moved to the later mark."""
        lane = self._lane_of[core.name]
        node = self._running[lane] if self._running[lane] >= 0 else self._latest[lane]
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
        order: contiguous, covering ``[since, milestone time]`` (empty if ``since`` is later).
        Meant for after the run (a node still running then is taken to end at the time it is
        cut at)."""
        node, t, core = self._mark(key)
        since = int(since)
        if since >= t:
            return []
        nodes, _, _, end = self._read()
        out: list[Segment] = []  # built backwards
        if node >= 0 and 0 <= end[node] < t:  # the node had finished when it was marked
            out.append(_idle(core, max(end[node], since), t))
            t = end[node]
        while node >= 0 and t > since:
            self._emit(node, since, t, out)
            start, pred, sent, lane = nodes[_NODE * node:_NODE * node + _NODE]
            t = start
            if t <= since:
                break
            if sent >= 0:  # caused by a message sent then
                a = max(sent, since)
                if a < t:
                    out.append(Segment(NETWORK, "network", "network", a, t,
                                       {"communication": float(t - a)}))
                t = sent
            elif pred < 0:  # a root: nothing known before it
                out.append(_idle(self._names[lane], since, t))
                t = since
            node = pred
        if t > since:  # a milestone marked on a core that had run nothing
            out.append(_idle(core, since, t))
        out.reverse()
        return out

    def _mark(self, key: Hashable) -> tuple[int, int, str]:
        try:
            return self._milestones[key]
        except KeyError:
            raise KeyError(f"no milestone {key!r} was marked (have {len(self._milestones)}: "
                           f"{list(self._milestones)[:5]}...)") from None

    def _read(self) -> tuple:
        """The logs as tables: (nodes, segments, last segment per node, end per node, -1
        while running); read again only if something was recorded since."""
        size = (self.nodes, self.segments)
        if self._tables is None or self._tables[0] != size:
            last, end = [-1] * self.nodes, [-1] * self.nodes
            ends = self._end_log.read()
            for i in range(0, len(ends), _END):
                last[ends[i]], end[ends[i]] = ends[i + 1], ends[i + 2]
            for lane, node in enumerate(self._running):  # still running
                if node >= 0:
                    last[node] = self._last_seg[lane]
            self._tables = (size, (self._node_log.read(), self._seg_log.read(), last, end))
        return self._tables[1]

    def _emit(self, node: int, since: int, until: int, out: list[Segment]) -> None:
        """``node``'s time inside ``[since, until]``, appended last first: its busy segments
        (clipped, so that none overlaps the next) and ``wait`` between them; one zero-length
        segment if the node has no time there (so that it still counts as a step)."""
        nodes, segs, last, _ = self._read()
        start, core = nodes[_NODE * node], self._names[nodes[_NODE * node + 3]]
        lo = max(start, since)
        cursor, n0 = until, len(out)
        seg = last[node]
        while seg >= 0:
            t0, worked, t1, prev, kind = segs[_SEG * seg:_SEG * seg + _SEG]
            seg = prev
            a, b = max(t0, lo), min(t1, cursor)
            if b <= a:
                if t0 <= lo:
                    break
                continue
            if b < cursor:
                out.append(_wait(core, node, b, cursor))
            out.append(self._busy(node, core, t0, worked, kind, a, b))
            cursor = a
        if cursor > lo:
            out.append(_wait(core, node, lo, cursor))
        if len(out) == n0:
            out.append(Segment(core, "busy", "handler", lo, lo, {}, (), node))

    def _busy(self, node: int, core: str, t0: int, worked: int, kind: int, a: int,
              b: int) -> Segment:
        """The part ``[a, b]`` of a spend from ``t0`` whose work ends at ``worked`` (then the
        train's tail)."""
        work, tags, label = self._kinds[kind]
        working = max(0, min(b, worked) - max(a, t0))
        cats = {c: working * share for c, share in self._share(work).items()} if working else {}
        if b - a > working:
            cats["communication"] = cats.get("communication", 0.0) + (b - a - working)
        return Segment(core, "busy", label, a, b, cats, tags, node)

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


def _wait(core: str, node: int, start: int, end: int) -> Segment:
    return Segment(core, "wait", "wait", start, end, {WAIT: float(end - start)}, (), node)


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
