"""What every block program shares: tiles, events, layer norm, sub-blocks one token at a time.

A block is a few linear layers (tiled over cores by a :class:`~simulator.mappings.tiles.BlockMap`)
and element-wise work on the cores that own the channel slices; subclasses (RWKV-4's
:mod:`~simulator.programs.rwkv_block`, OPT's :mod:`~simulator.programs.opt_layer`) decide where
each stage runs. Shared here:

- The non-zero inputs of a linear layer leave their producer as events: one train of packets
  per group of tiles, closed by an end-of-input packet. A tile core handles each event as one
  ``receive_event`` and one weight ``column`` of its rows; it is busy for its whole train at
  once, and never less than the time the train's tail needs to arrive. Partial sums of split
  inputs are combined on the first core of the output group; then :meth:`_outputs` (the
  subclass) takes the finished rows on.
- Layer norm over the channel slices is a reduction tree: each slice sends its two partial
  sums (sum, sum of squares) to its parent slice; the root returns mean and 1/std to all.
- Sub-blocks run in order, tokens one after another; every charge is tagged with its
  ``sub_block`` and ``site`` (a linear layer, or an element-wise stage such as ``ew.wkv``);
  static energy is charged at each sub-block's end, so it belongs to the sub-block during
  which it was spent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from simulator.chips.work import Work
from simulator.ledger import Tags, tags
from simulator.mappings.tiles import BlockMap, SiteMap, overlap
from simulator.program import Program
from workloads import rwkv_ops as ops
from workloads.trace import SiteEvents


# -- messages -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Start:
    t: int


@dataclass(frozen=True, slots=True)
class LnPart:
    """A control slice's layer-norm partial sums, to the sub-block's first slice."""

    sub: str
    t: int


@dataclass(frozen=True, slots=True)
class LnStats:
    """Mean and 1/std, from the first slice to the others."""

    sub: str
    t: int


@dataclass(frozen=True, slots=True)
class Events:
    """A layer's input events (the train's packets; the last one closes the input)."""

    site: str
    t: int
    g_in: int


@dataclass(frozen=True, slots=True)
class Partial:
    site: str
    t: int
    g_out: int


@dataclass(frozen=True, slots=True)
class Outputs:
    site: str
    t: int


class BlockProgram(Program):
    """See the module docstring; subclasses give :attr:`sub_blocks` and :meth:`_site_events`
    and implement :meth:`_control`, :meth:`_outputs` and :meth:`_after_layer_norm`. The
    workload says ``tokens`` (how many) and ``sparse`` (whether thresholds are charged)."""

    #: the block's sub-blocks, in the order a token runs through them
    sub_blocks: ClassVar[tuple[str, ...]] = ()

    def __init__(self, system, mapping, workload: Any, *, block_map: BlockMap,
                 value_bits: int, omit_stages: tuple[str, ...] = ()) -> None:
        super().__init__(system, mapping, workload)
        self.map, self.value_bits = block_map, value_bits
        self.omit = frozenset(omit_stages)
        self.sparse, self.n_tokens = workload.sparse, workload.tokens
        self.events: dict[str, SiteEvents] = self._site_events(workload)
        self.arrived: dict[tuple, int] = defaultdict(int)  # things received, by what they are
        self.began: dict[tuple[str, int], int] = {}  # (sub-block, token) -> start cycle
        self.phase = dict.fromkeys(self.sub_blocks, 0)
        self._columns: dict[int, Work] = {}
        self._column_works: dict[int, Work] = {}
        self._elementwise_works: dict[tuple, Work] = {}
        self._receive, self._send_one = self.cost.receive_event(), self.cost.send_events(1)
        #: tile core -> (layer, input slice, output slice, rows, input trains per token)
        self.tiles: dict[int, tuple[SiteMap, int, int, int, int]] = {}
        self.slice_of = {c: j for cores in block_map.control.values()
                         for j, c in enumerate(cores)}
        k = block_map.slices
        self.expect_in: dict[tuple[str, int], int] = {}
        self.expect_out: dict[tuple[str, int], int] = {}
        for sm in block_map.sites.values():
            ein = block_map.input_edges(sm.site)
            for gi in range(sm.in_splits):
                self.expect_in[(sm.site, gi)] = sum(
                    overlap(sm.in_edges, gi, ein, j) > 0 for j in range(len(ein) - 1))
            eout = block_map.domains.get(block_map.out_domain[sm.site])
            if eout is None or len(eout) != k + 1:
                continue  # outputs that do not go to the channel owners
            for j in range(k):
                self.expect_out[(sm.site, j)] = sum(
                    overlap(sm.out_edges, go, eout, j) > 0 for go in range(sm.out_splits))
        for core, (sm, gi, go) in block_map.tiles().items():
            self.tiles[core] = (sm, gi, go, sm.rows(go), self.expect_in[(sm.site, gi)])

    def start(self) -> None:
        self._start(0)

    def handle(self, core, item):
        i = self.index[core.name]
        if i in self.tiles:
            return self._tile(core, i, item)
        return self._control(core, self.slice_of[i], item)

    def check(self) -> None:
        stray = self.engine.ledger.lacking("sub_block")
        if stray:
            raise RuntimeError(f"charges outside any sub-block: {stray[:3]}")

    def report(self) -> dict[str, Any]:
        return {"phase_cycles": dict(self.phase), "tokens": self.n_tokens,
                "began": dict(self.began)}

    # -- to implement -------------------------------------------------------------------------
    def _site_events(self, workload) -> dict[str, SiteEvents]:
        """The trace's events of every layer of the block, by layer (site suffix)."""
        raise NotImplementedError

    def _control(self, core, j: int, item):
        """An item at the core owning channel slice ``j``."""
        raise NotImplementedError

    def _outputs(self, core, sm: SiteMap, go: int, t: int):
        """The finished rows of output group ``go`` of ``sm``, on their tile core."""
        raise NotImplementedError

    def _after_layer_norm(self, core, sub: str, j: int, t: int):
        """What slice ``j`` does once its channels are normalised."""
        raise NotImplementedError

    # -- helpers ------------------------------------------------------------------------------
    def _event_work(self, rows: int) -> Work:
        """Taking one event and multiplying it into ``rows`` weights (cached per size)."""
        w = self._columns.get(rows)
        if w is None:
            w = self._columns[rows] = self.cost.receive_event() + self.cost.column(rows)
        return w

    def _stage(self, core, sub: str, stage: str, *parts: tuple[Mapping[str, int], int]):
        """Element-wise stage ``stage`` on ``core``: ``(ops per element, elements)``; nothing
        charged for a stage the job omits."""
        work = self._elementwise(stage, *(() if stage in self.omit else parts))
        return self.spend(core, work, tags(sub_block=sub, site=f"ew.{stage}"))

    def _elementwise(self, label: str, *parts: tuple[Mapping[str, int], int]) -> Work:
        """The element-wise work of ``parts`` (``(ops per element, elements)``), made once
        per label and parts (charges are counted per distinct work)."""
        key = (label, tuple((tuple(per.items()), n) for per, n in parts))
        work = self._elementwise_works.get(key)
        if work is None:
            work = Work(label=label)
            for per_element, n in parts:
                for op, per in per_element.items():
                    work = work + self.cost.elementwise(op, per * n)
            self._elementwise_works[key] = work
        return work

    def _column(self, n: int) -> Work:
        """One weight column of ``n`` rows (cached per size)."""
        work = self._column_works.get(n)
        if work is None:
            work = self._column_works[n] = self.cost.column(n)
        return work

    def _send(self, core, sends: list[tuple[list[int], int, Any]], tg: Tags):
        """Form the events of ``sends`` (``(destinations, packets, message)``) on ``core`` and
        send each as one train."""
        yield self.spend(core, self._send_one, tg, sum(n for _, n, _ in sends))
        src = self.index[core.name]
        for dsts, n, data in sends:
            self.system.send(src, dsts, self.value_bits, data, tg, count=n)

    def _take(self, core, packet, tg: Tags):
        """Take a train off the network interface: one ``receive_event`` per packet."""
        return self.spend(core, self._receive, tg, packet.count)

    def _slice(self, domain: str, j: int) -> int:
        return self.map.slice_size(domain, j)

    def _emit(self, core, site: str, edges: np.ndarray, j: int, t: int):
        """Send the non-zero inputs of ``site`` (token ``t``) in slice ``j`` of ``edges`` to the
        tiles holding them: one train per input group the slice overlaps, closed by an
        end-of-input packet."""
        sm = self.map.sites[site]
        idx, _ = self.events[site].step(t)
        idx = idx[(idx >= edges[j]) & (idx < edges[j + 1])]
        counts = np.bincount(np.searchsorted(sm.in_edges, idx, side="right") - 1,
                             minlength=sm.in_splits)
        sends = [(sm.group_cores(g), int(counts[g]) + 1, Events(site, t, g))
                 for g in range(sm.in_splits) if overlap(sm.in_edges, g, edges, j)]
        yield from self._send(core, sends, sm.tags)

    def _to_owners(self, core, sm: SiteMap, go: int, t: int):
        """Output group ``go``'s values, one packet each, to the slices that own them."""
        sub = sm.sub_block
        e = self.map.edges(self.map.out_domain[sm.site])
        sends = [([self.map.ctrl(sub, j)], n, Outputs(sm.site, t))
                 for j in range(self.map.slices) if (n := overlap(sm.out_edges, go, e, j))]
        yield from self._send(core, sends, sm.tags)

    def _arrived(self, core, sub: str, j: int, packet):
        """An output train of a layer: take it; return the site if slice ``j`` now has all of
        that layer's outputs, else None."""
        out: Outputs = packet.data
        yield self._take(core, packet, tags(sub_block=sub, site=out.site))
        done = self._complete((sub, j, out.t, out.site), self.expect_out[(out.site, j)])
        return out.site if done else None

    def _end_phase(self, sub: str) -> None:
        self.engine.charge_static(tags(sub_block=sub, site="ew.static"))

    def _complete(self, key: tuple, expected: int) -> bool:
        """Count one more arrival of ``key``; true when all ``expected`` are in."""
        self.arrived[key] += 1
        return self.arrived[key] == expected

    def _start(self, t: int) -> None:
        first = self.sub_blocks[0]
        self.began[(first, t)] = self.engine.now
        for core in self.map.control[first]:
            self.system.cores[core].inbox.put(Start(t))

    def _sub_block_done(self, core, sub: str, t: int) -> None:
        """One more slice finished ``sub`` of token ``t``; at the last, close the phase (and
        mark the milestone a critical path is traced back from)."""
        if not self._complete((sub, t, "done"), self.map.slices):
            return
        self.milestone(core, (sub, t))
        now = self.engine.now
        self.phase[sub] += now - self.began[(sub, t)]
        order = self.sub_blocks.index(sub)
        last = order + 1 == len(self.sub_blocks)
        if not last:
            self.began[(self.sub_blocks[order + 1], t)] = now
        self._end_phase(sub)
        if last and t + 1 < self.n_tokens:
            self._start(t + 1)

    # -- layer norm: a reduction tree over the slices -------------------------------------------
    def _layer_norm(self, core, sub: str, j: int, t: int):
        """Partial sums of slice ``j``, then up the tree (:meth:`_ln_up`)."""
        yield self._stage(core, sub, "layer_norm", (ops.LAYER_NORM_PARTIAL, self._slice("C", j)))
        yield from self._ln_up(core, sub, j, t)

    def _ln_up(self, core, sub: str, j: int, t: int):
        """Once slice ``j`` has its own and its children's partials: add them and send them to
        the parent; at the root, finish the statistics and return them to every slice."""
        k = self.map.slices
        kids = sum(c < k for c in (2 * j + 1, 2 * j + 2))
        if not self._complete(("ln", sub, t, j), kids + 1):
            return
        tg = tags(sub_block=sub, site="ew.layer_norm")
        if kids:
            yield self._stage(core, sub, "layer_norm", ({"add": 2}, kids))
        if j:
            yield from self._send(core, [([self.map.ctrl(sub, (j - 1) // 2)], 2,
                                          LnPart(sub, t))], tg)
            return
        yield self._stage(core, sub, "layer_norm", (ops.LAYER_NORM_PER_VECTOR, 1))
        if k > 1:
            others = [self.map.ctrl(sub, i) for i in range(1, k)]
            yield from self._send(core, [(others, 2, LnStats(sub, t))], tg)
        yield from self._ln_finish(core, sub, 0, t)

    def _ln_finish(self, core, sub: str, j: int, t: int):
        yield self._stage(core, sub, "layer_norm", (ops.LAYER_NORM_FINISH, self._slice("C", j)))
        yield from self._after_layer_norm(core, sub, j, t)

    def _layer_norm_message(self, core, j: int, packet):
        data = packet.data
        yield self._take(core, packet, tags(sub_block=data.sub, site="ew.layer_norm"))
        if isinstance(data, LnPart):
            yield from self._ln_up(core, data.sub, j, data.t)
        else:
            yield from self._ln_finish(core, data.sub, j, data.t)

    # -- tile cores ---------------------------------------------------------------------------
    def _tile(self, core, i: int, packet):
        sm, gi, go, rows, expected = self.tiles[i]
        data = packet.data
        tg = sm.tags
        if type(data) is Events:
            # this train and the trains waiting right behind it, served back to back as one
            # action: each busy for its events or until its tail arrives, as one handler call
            # each would be (they were all waiting), until one completes the input
            work, events, cycles = self._event_work(rows), 0, 0
            while True:
                n = packet.count - 1
                self.count(core, self._receive, tg)  # the end-of-input packet
                events += n
                cycles += max(work.cycles * n + self._receive.cycles, packet.tail_cycles)
                complete = self._complete(("in", i, data.t), expected)
                if complete or (packet := core.inbox.take_next(_is_events)) is None:
                    break
                data = packet.data
            yield self.spend(core, work, tg, events, at_least=cycles, label="column")
            if not complete:
                return
            if gi:  # partial sums to the first core of the output group
                yield from self._send(core, [([sm.core(0, go)], rows,
                                              Partial(sm.site, data.t, go))], sm.partial_tags)
                return
        else:  # partial sums of another input slice
            yield self._take(core, packet, sm.partial_tags)
            yield self.spend(core, self.cost.elementwise("add", rows), sm.partial_tags)
        if self._complete(("sum", i, data.t), sm.in_splits):
            yield from self._outputs(core, sm, go, data.t)


def _is_events(item: object) -> bool:
    return type(getattr(item, "data", None)) is Events

