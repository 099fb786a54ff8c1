"""The RWKV-4 block program: one token after another through Time-Mix and Channel-Mix.

Runs on the mapping of :mod:`simulator.mappings.rwkv_block`. Per token and sub-block
(``../shared/reference/workloads.md`` for the equations, :mod:`workloads.rwkv_ops` for the
operation counts):

- Time-Mix: LN1, token shift of the k/v/r inputs, thresholds (sparse run only), then the
  non-zero inputs of ``att.key``/``att.value``/``att.receptance`` leave as events: one train
  of packets per group of tiles, closed by an end-of-input packet. A tile core handles each
  event as one ``receive_event`` and one weight ``column`` of its rows. When its input is
  complete it sends its outputs (one packet per value) to the control slices that own them,
  which compute sigmoid(r), the WKV recurrence and r * wkv, threshold the ``att.output``
  input, send its events, and add the residual.
- Channel-Mix: the Time-Mix output goes to ``channel_mix.ctrl`` (one packet per value); LN2,
  token shift, thresholds; ``ffn.key`` and ``ffn.receptance`` events; squared ReLU and
  threshold of the ``ffn.value`` input, its events; sigmoid, r * v and the residual add.

Layer norm over several slices is an all-reduce: partial sums to the first slice, mean and
1/std back. A tile core is busy for its whole train at once, and never less than the time the
train's tail needs to arrive. Every charge is tagged with its ``sub_block`` and ``site`` (a
linear layer, or an element-wise stage such as ``ew.wkv``); static energy is charged at each
sub-block's end, so it belongs to the sub-block during which it was spent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.rwkv_sites import SITE_SUFFIXES
from simulator.chips.work import Work
from simulator.ledger import Tags, tags
from simulator.mappings.rwkv_block import (
    IN_DOMAIN,
    OUT_DOMAIN,
    SUB_BLOCKS,
    BlockMap,
    SiteMap,
    overlap,
)
from simulator.program import Program
from workloads import rwkv_ops as ops
from workloads.trace import Trace


@dataclass(frozen=True)
class BlockWorkload:
    """``tokens`` tokens of block ``block`` of an RWKV trace, dense or sparse."""

    trace: Trace
    block: int
    tokens: int
    sparse: bool


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


@dataclass(frozen=True, slots=True)
class Handoff:
    t: int


class RwkvBlockProgram(Program):
    """See the module docstring."""

    workload = "rwkv"

    def __init__(self, system, mapping, workload: BlockWorkload, *, block_map: BlockMap,
                 value_bits: int) -> None:
        super().__init__(system, mapping, workload)
        self.map, self.value_bits = block_map, value_bits
        self.sparse, self.n_tokens = workload.sparse, workload.tokens
        self.events = {s: workload.trace.events[f"blocks.{workload.block}.{s}"]
                       for s in SITE_SUFFIXES}
        self.arrived: dict[tuple, int] = defaultdict(int)  # things received, by what they are
        self.token_start = self.tm_done = 0
        self.phase = dict.fromkeys(SUB_BLOCKS, 0)
        self._columns: dict[int, Work] = {}
        self._receive, self._send_one = self.cost.receive_event(), self.cost.send_events(1)
        self.tiles = block_map.tiles()
        k = block_map.slices
        self.expect_in: dict[tuple[str, int], int] = {}
        self.expect_out: dict[tuple[str, int], int] = {}
        for sm in block_map.sites.values():
            ein, eout = block_map.edges(IN_DOMAIN[sm.site]), block_map.edges(OUT_DOMAIN[sm.site])
            for gi in range(sm.in_splits):
                self.expect_in[(sm.site, gi)] = sum(
                    overlap(sm.in_edges, gi, ein, j) > 0 for j in range(k))
            for j in range(k):
                self.expect_out[(sm.site, j)] = sum(
                    overlap(sm.out_edges, go, eout, j) > 0 for go in range(sm.out_splits))

    def start(self) -> None:
        self._start(0)

    def handle(self, core, item):
        i = self.index[core.name]
        k = self.map.slices
        if i < k:
            return self._time_mix(core, i, item)
        if i < 2 * k:
            return self._channel_mix(core, i - k, item)
        return self._tile(core, i, item)

    def check(self) -> None:
        stray = [r for r in self.engine.ledger.rows() if not r.get("sub_block") and r["energy_pj"]]
        if stray:
            raise RuntimeError(f"charges outside any sub-block: {stray[:3]}")

    def report(self) -> dict[str, Any]:
        return {"phase_cycles": dict(self.phase), "tokens": self.n_tokens}

    # -- helpers ------------------------------------------------------------------------------
    def _event_work(self, rows: int) -> Work:
        """Taking one event and multiplying it into ``rows`` weights (cached per size)."""
        w = self._columns.get(rows)
        if w is None:
            w = self._columns[rows] = self.cost.receive_event() + self.cost.column(rows)
        return w

    def _stage(self, core, sub: str, stage: str, *parts: tuple[Mapping[str, int], int]):
        """Element-wise stage ``stage`` on a control core: ``(ops per element, elements)``."""
        work = Work(label=stage)
        for per_element, n in parts:
            for op, per in per_element.items():
                work = work + self.cost.elementwise(op, per * n)
        return self.spend(core, work, tags(sub_block=sub, site=f"ew.{stage}"))

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

    def _emit(self, core, sub: str, j: int, site: str, t: int):
        """Send slice ``j``'s non-zero inputs of ``site`` (token ``t``) to the tiles holding
        them: one train per input group the slice overlaps, closed by an end-of-input packet."""
        sm = self.map.sites[site]
        e = self.map.edges(IN_DOMAIN[site])
        idx, _ = self.events[site].step(t)
        idx = idx[(idx >= e[j]) & (idx < e[j + 1])]
        counts = np.bincount(np.searchsorted(sm.in_edges, idx, side="right") - 1,
                             minlength=sm.in_splits)
        sends = [(sm.group_cores(g), int(counts[g]) + 1, Events(site, t, g))
                 for g in range(sm.in_splits) if overlap(sm.in_edges, g, e, j)]
        yield from self._send(core, sends, sm.tags())

    def _end_phase(self, sub: str) -> None:
        self.engine.charge_static(tags(sub_block=sub, site="ew.static"))

    def _complete(self, key: tuple, expected: int) -> bool:
        """Count one more arrival of ``key``; true when all ``expected`` are in."""
        self.arrived[key] += 1
        return self.arrived[key] == expected

    # -- layer norm over slices ---------------------------------------------------------------
    def _layer_norm(self, core, sub: str, j: int, t: int, after: Callable):
        """Partial sums on every slice; the first slice combines them and returns mean and
        1/std to the others; then each slice normalises its channels and goes on with
        ``after(core, j, t)``."""
        n = self._slice("C", j)
        yield self._stage(core, sub, "layer_norm", (ops.LAYER_NORM_PARTIAL, n))
        if self.map.slices == 1:
            yield self._stage(core, sub, "layer_norm", (ops.LAYER_NORM_PER_VECTOR, 1))
            yield from self._ln_finish(core, sub, j, t, after)
        elif j:
            yield from self._send(core, [([self.map.ctrl(sub, 0)], 2, LnPart(sub, t))],
                                  tags(sub_block=sub, site="ew.layer_norm"))
        else:
            yield from self._ln_part(core, sub, t, after)

    def _ln_part(self, core, sub: str, t: int, after: Callable):
        """At the first slice: one more partial in; when all are, combine and broadcast."""
        if not self._complete(("ln", sub, t), self.map.slices):
            return
        tg = tags(sub_block=sub, site="ew.layer_norm")
        yield self._stage(core, sub, "layer_norm", ({"add": 2}, self.map.slices - 1),
                          (ops.LAYER_NORM_PER_VECTOR, 1))
        others = [self.map.ctrl(sub, j) for j in range(1, self.map.slices)]
        yield from self._send(core, [(others, 2, LnStats(sub, t))], tg)
        yield from self._ln_finish(core, sub, 0, t, after)

    def _ln_finish(self, core, sub: str, j: int, t: int, after: Callable):
        yield self._stage(core, sub, "layer_norm", (ops.LAYER_NORM_FINISH, self._slice("C", j)))
        yield from after(core, j, t)

    def _layer_norm_message(self, core, sub: str, packet, after: Callable):
        data = packet.data
        yield self._take(core, packet, tags(sub_block=sub, site="ew.layer_norm"))
        if isinstance(data, LnPart):
            yield from self._ln_part(core, sub, data.t, after)
        else:
            yield from self._ln_finish(core, sub, self.index[core.name] - self.map.ctrl(sub, 0),
                                       data.t, after)

    # -- tile cores ---------------------------------------------------------------------------
    def _tile(self, core, i: int, packet):
        sm, gi, go = self.tiles[i]
        data = packet.data
        tg = sm.tags()
        rows = sm.rows(go)
        if isinstance(data, Events):
            work, events = self._event_work(rows), packet.count - 1
            self.count(core, work, tg, events)
            cycles = work.cycles * events + self._receive.cycles  # + the end-of-input packet
            yield self.spend(core, self._receive, tg, at_least=max(cycles, packet.tail_cycles),
                             label="column")
            if not self._complete(("in", i, data.t), self.expect_in[(sm.site, gi)]):
                return
            if gi:  # partial sums to the first core of the output group
                yield from self._send(core, [([sm.core(0, go)], rows,
                                              Partial(sm.site, data.t, go))], sm.partial_tags())
                return
        else:  # partial sums of another input slice
            yield self._take(core, packet, sm.partial_tags())
            yield self.spend(core, self.cost.elementwise("add", rows), sm.partial_tags())
        if self._complete(("sum", i, data.t), sm.in_splits):
            yield from self._outputs(core, sm, go, data.t)

    def _outputs(self, core, sm: SiteMap, go: int, t: int):
        """The finished rows of output group ``go``, to the control slices that own them."""
        sub = "time_mix" if sm.site.startswith("att.") else "channel_mix"
        e = self.map.edges(OUT_DOMAIN[sm.site])
        sends = [([self.map.ctrl(sub, j)], n, Outputs(sm.site, t))
                 for j in range(self.map.slices) if (n := overlap(sm.out_edges, go, e, j))]
        yield from self._send(core, sends, sm.tags())

    # -- control cores ------------------------------------------------------------------------
    def _arrived(self, core, sub: str, j: int, packet):
        """An output train of a layer: take it; return the site if this slice now has all of
        that layer's outputs, else None."""
        out: Outputs = packet.data
        yield self._take(core, packet, tags(sub_block=sub, site=out.site))
        done = self._complete((sub, j, out.t, out.site), self.expect_out[(out.site, j)])
        return out.site if done else None

    def _time_mix(self, core, j: int, item):
        sub = "time_mix"
        if isinstance(item, Start):
            if j == 0:
                self.token_start = self.engine.now
            yield from self._layer_norm(core, sub, j, item.t, self._tm_inputs)
            return
        data = item.data
        if isinstance(data, (LnPart, LnStats)):
            yield from self._layer_norm_message(core, sub, item, self._tm_inputs)
            return
        site = yield from self._arrived(core, sub, j, item)
        t, n = data.t, self._slice("C", j)
        if site in ("att.key", "att.value", "att.receptance"):
            if self._complete((sub, j, t, "kvr"), 3):
                yield self._stage(core, sub, "sigmoid", (ops.SIGMOID, n))
                yield self._stage(core, sub, "wkv", (ops.WKV, n), (ops.RECEPTANCE_GATE, n))
                if self.sparse:
                    yield self._stage(core, sub, "threshold", (ops.THRESHOLD, n))
                yield from self._emit(core, sub, j, "att.output", t)
        elif site == "att.output":
            yield self._stage(core, sub, "residual", (ops.RESIDUAL, n))
            if self._complete((sub, t, "done"), self.map.slices):
                self.tm_done = self.engine.now
                self.phase[sub] += self.tm_done - self.token_start
                self._end_phase(sub)
            yield from self._send(core, [([self.map.ctrl("channel_mix", j)], n, Handoff(t))],
                                  tags(sub_block="channel_mix", site="ew.handoff"))

    def _tm_inputs(self, core, j: int, t: int):
        n = self._slice("C", j)
        sub = "time_mix"
        yield self._stage(core, sub, "token_shift", (ops.TOKEN_SHIFT, 3 * n),
                          (ops.STATE_COPY, n))
        if self.sparse:
            yield self._stage(core, sub, "threshold", (ops.THRESHOLD, 3 * n))
        for site in ("att.key", "att.value", "att.receptance"):
            yield from self._emit(core, sub, j, site, t)

    def _channel_mix(self, core, j: int, item):
        sub = "channel_mix"
        data = item.data
        if isinstance(data, Handoff):
            yield self._take(core, item, tags(sub_block=sub, site="ew.handoff"))
            yield from self._layer_norm(core, sub, j, data.t, self._cm_inputs)
            return
        if isinstance(data, (LnPart, LnStats)):
            yield from self._layer_norm_message(core, sub, item, self._cm_inputs)
            return
        site = yield from self._arrived(core, sub, j, item)
        t, n = data.t, self._slice("C", j)
        if site == "ffn.key":
            f = self._slice("F", j)
            yield self._stage(core, sub, "squared_relu", (ops.SQUARED_RELU, f))
            if self.sparse:
                yield self._stage(core, sub, "threshold", (ops.THRESHOLD, f))
            yield from self._emit(core, sub, j, "ffn.value", t)
        elif site == "ffn.receptance":
            yield self._stage(core, sub, "sigmoid", (ops.SIGMOID, n))
        if site in ("ffn.receptance", "ffn.value") and self._complete((sub, j, t, "rv"), 2):
            yield self._stage(core, sub, "residual", (ops.CHANNEL_MIX_OUT, n))
            if self._complete((sub, t, "done"), self.map.slices):
                self.phase[sub] += self.engine.now - self.tm_done
                self._end_phase(sub)
                if t + 1 < self.n_tokens:
                    self._start(t + 1)

    def _cm_inputs(self, core, j: int, t: int):
        n = self._slice("C", j)
        sub = "channel_mix"
        yield self._stage(core, sub, "token_shift", (ops.TOKEN_SHIFT, 2 * n),
                          (ops.STATE_COPY, n))
        if self.sparse:
            yield self._stage(core, sub, "threshold", (ops.THRESHOLD, 2 * n))
        for site in ("ffn.key", "ffn.receptance"):
            yield from self._emit(core, sub, j, site, t)

    def _start(self, t: int) -> None:
        for j in range(self.map.slices):
            self.system.cores[self.map.ctrl("time_mix", j)].inbox.put(Start(t))
