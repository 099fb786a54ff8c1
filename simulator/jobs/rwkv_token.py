"""Job 1: one token through one RWKV-4 block on SENECA (or SpiNNaker2), dense vs sparse.

**Mapping.** Core 0 runs the Time-Mix element-wise work (``time_mix.ctrl``), core 1 the
Channel-Mix element-wise work (``channel_mix.ctrl``): layer norms, token shift, thresholds,
sigmoid, the WKV recurrence, squared ReLU, products and residual adds, with their states in
data memory. The weights of each of the seven linear layers are tiled over as many further
cores as they need (:func:`map_block`): with the default ``rows`` strategy each core holds every
input column of a slice of output rows (accumulators stay with their outputs; an input event is
multicast to every core of the layer); with ``columns`` each core holds a slice of input columns
for every output (an event goes to one core, and the partial sums of the slices are combined
on the first core of each output group). A row that does not fit one core is split over inputs
too, and its partial sums are combined the same way. Every tile's weights and output buffer are
allocated in its core's data memory, so a layer that does not fit raises with the bytes missing.

**One token** (per sub-block, in order; ``workloads.md`` for the equations):

- Time-Mix: LN1, token shift of k/v/r inputs, thresholds (sparse run only), then the non-zero
  inputs of ``att.key``/``att.value``/``att.receptance`` leave as events: one NoC packet each,
  per group of tiles, plus an end-of-input packet. A tile core handles each event as one
  ``receive_event`` and one weight ``column`` of its rows (cycles and energy from the chip's
  cost table). When its input is complete it sends its outputs (one packet per value) to the
  control core, which then computes sigmoid(r), the WKV recurrence and r * wkv, thresholds the
  ``att.output`` input, sends its events, and adds the residual.
- Channel-Mix: the block's Time-Mix output goes to ``channel_mix.ctrl`` (one packet per value);
  LN2, token shift, thresholds; ``ffn.key`` and ``ffn.receptance`` events; squared ReLU and
  threshold of the ``ffn.value`` input, its events; sigmoid, r * v and the residual add.

Events of a group travel as one packet train (:meth:`simulator.components.Noc.send` with
``count``): one SimPy event per hop, the costs of every packet. A tile core is busy for its
whole train at once, and never less than the time the train's tail needs to arrive.

**Accounting.** Every charge is tagged with its ``sub_block`` and ``site`` (a linear layer such
as ``att.key``, or an element-wise stage such as ``ew.wkv``). Static energy is charged per
component at each sub-block's end, so it belongs to the sub-block during which it was spent.
Tokens run one after another; every number of the result is per token (averaged). Latency by
category splits the sub-block's simulated time in proportion to the cycles charged to each
category (a share of work, not a critical-path analysis; ``docs/rwkv-token.md``).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from calibration.schema import assumptions, cited_values
from models.rwkv_sites import SITE_SUFFIXES
from simulator.chips.work import CoreCostModel, Work
from simulator.components import Noc
from simulator.ledger import Category, Ledger, Tags, tags
from simulator.timeline import Timeline
from workloads.trace import SiteSpec, Trace, TraceError

Chip = Literal["seneca", "spinnaker2"]
Strategy = Literal["rows", "columns"]
CHIPS: tuple[str, ...] = ("seneca", "spinnaker2")
STRATEGIES: tuple[str, ...] = ("rows", "columns")
MODES: tuple[str, ...] = ("dense", "sparse")
SUB_BLOCKS: tuple[str, ...] = ("time_mix", "channel_mix")
CATEGORIES: tuple[str, ...] = tuple(c.value for c in Category)
SUMMARY_KEYS: tuple[str, ...] = (*SUB_BLOCKS, "block")

#: Element-wise operations per channel, from the RWKV-4 RNN-mode equations (``workloads.md``,
#: the official ``RWKV_RNN`` reference). Per vector, layer norm adds one division for the mean,
#: one for the variance and a square root (``LAYER_NORM_PER_VECTOR``).
LAYER_NORM_PARTIAL = {"add": 2, "mul": 1}  # sum, square + sum of squares
LAYER_NORM_FINISH = {"sub": 1, "mul": 2, "add": 1}  # centre, * 1/std, * gamma, + beta
LAYER_NORM_PER_VECTOR = {"div": 2, "sqrt": 1}
TOKEN_SHIFT = {"mul": 2, "add": 1}  # per mixed input: xx * mix + prev * (1 - mix), (1 - mix) stored
STATE_COPY = {"copy": 1}  # prev <- xx
THRESHOLD = {"compare": 2}  # HardShrink |x| > theta: x > theta or x < -theta (sparse run only)
#: ww = u + k; p = max(pp, ww); e1 = exp(pp - p); e2 = exp(ww - p); a = e1 aa + e2 v;
#: b = e1 bb + e2; wkv = a / b; then the state: ww = pp + w; p = max(ww, k); e1, e2 again;
#: aa = e1 aa + e2 v; bb = e1 bb + e2; pp = p.
WKV = {"add": 6, "max": 2, "sub": 4, "exp": 4, "mul": 6, "div": 1, "copy": 1}


class JobConfig(BaseModel):
    """Choices of the mapping that are not hardware facts (documented in docs/rwkv-token.md)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Strategy = "rows"
    value_bits: int | None = Field(
        None, gt=0, description="payload of one event/output packet, one value (default: the "
        "chip's value width: 16-bit BF16 on SENECA, 32-bit float on SpiNNaker2)")
    output_bytes: int = Field(4, gt=0, description="bytes of one buffered output or partial sum")
    state_bytes: int = Field(4, gt=0, description="bytes of one element-wise state/parameter")


# -- mapping ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SiteMap:
    """Where one linear layer lives: ``in_splits x out_splits`` tiles on consecutive cores."""

    site: str  # suffix, e.g. "att.key"
    sub_block: str
    size: int
    out: int
    in_edges: np.ndarray  # input-column boundaries of the tiles, in_splits + 1
    out_edges: np.ndarray  # output-row boundaries, out_splits + 1
    first_core: int
    weight_bytes: int  # of the whole layer, at the chip's precision

    @property
    def in_splits(self) -> int:
        return len(self.in_edges) - 1

    @property
    def out_splits(self) -> int:
        return len(self.out_edges) - 1

    @property
    def n_cores(self) -> int:
        return self.in_splits * self.out_splits

    def core(self, g_in: int, g_out: int) -> int:
        return self.first_core + g_in * self.out_splits + g_out

    def group_cores(self, g_in: int) -> list[int]:
        """Cores holding input slice ``g_in`` (every output slice): one event goes to all."""
        return [self.core(g_in, g) for g in range(self.out_splits)]

    def rows(self, g_out: int) -> int:
        return int(self.out_edges[g_out + 1] - self.out_edges[g_out])

    def cols(self, g_in: int) -> int:
        return int(self.in_edges[g_in + 1] - self.in_edges[g_in])

    def tags(self) -> Tags:
        return tags(sub_block=self.sub_block, site=self.site)

    def partial_tags(self) -> Tags:
        """Combining partial sums is tagged apart: it is the price of splitting inputs."""
        return tags(sub_block=self.sub_block, site=f"{self.site}.partial_sums")


@dataclass(frozen=True)
class BlockMap:
    """The whole block: ``slices`` control cores per sub-block (cores ``0..k-1`` Time-Mix,
    ``k..2k-1`` Channel-Mix, each owning a slice of the C channels and of the 4C key vector),
    then the tiles of every linear layer."""

    sites: dict[str, SiteMap]
    n_cores: int
    strategy: str
    slices: int
    c_edges: np.ndarray
    f_edges: np.ndarray

    def ctrl(self, sub: str, j: int) -> int:
        return SUB_BLOCKS.index(sub) * self.slices + j

    def role(self, core: int) -> str:
        if core < 2 * self.slices:
            return f"{SUB_BLOCKS[core // self.slices]}.ctrl"
        for sm in self.sites.values():
            if sm.first_core <= core < sm.first_core + sm.n_cores:
                return f"{sm.site}.tiles"
        raise IndexError(core)

    def edges(self, domain: str) -> np.ndarray:
        return self.f_edges if domain == "F" else self.c_edges

    def table(self) -> dict[str, dict[str, int]]:
        return {
            s: {"cores": m.n_cores, "in_splits": m.in_splits, "out_splits": m.out_splits,
                "weight_bytes": m.weight_bytes}
            for s, m in self.sites.items()
        }


class MappingError(ValueError):
    """The block cannot be mapped (a tile's outputs alone exceed a core's memory)."""


def _edges(n: int, parts: int) -> np.ndarray:
    """``parts`` contiguous slices of ``range(n)`` whose sizes differ by at most one."""
    return np.round(np.linspace(0, n, parts + 1)).astype(np.int64)


def _overlap(a: np.ndarray, i: int, b: np.ndarray, j: int) -> int:
    """Elements slice ``i`` of edges ``a`` shares with slice ``j`` of edges ``b``."""
    return max(0, int(min(a[i + 1], b[j + 1]) - max(a[i], b[j])))


#: input and output domain of every site: C channels or the 4C Channel-Mix key vector
IN_DOMAIN = {s: "F" if s == "ffn.value" else "C" for s in SITE_SUFFIXES}
OUT_DOMAIN = {s: "F" if s == "ffn.key" else "C" for s in SITE_SUFFIXES}
#: vectors a control core keeps per channel of its slice (states, parameters, buffers):
#: Time-Mix: prev x, 3 mixes, LN weight and bias, time_first, time_decay, aa, bb, pp, k, v, r;
#: Channel-Mix: prev x, 2 mixes, LN weight and bias, r, x; plus its slice of the 4C key vector.
TM_VECTORS, CM_VECTORS, CM_F_VECTORS = 14, 7, 1


def control_slices(c: int, f: int, capacity: int, state_bytes: int) -> int:
    """Fewest channel slices whose control vectors fit one core."""
    k = 1
    while max(TM_VECTORS * math.ceil(c / k),
              CM_VECTORS * math.ceil(c / k) + CM_F_VECTORS * math.ceil(f / k)) * state_bytes \
            > capacity:
        if k >= c:
            raise MappingError(f"one channel's control vectors do not fit {capacity} bytes")
        k += 1
    return k


#: weights over which packed formats (several weights per memory word) are measured
_PACKING = 4096


def map_block(sites: Sequence[SiteSpec], cost: CoreCostModel, job: JobConfig) -> BlockMap:
    """Tile every linear layer of one block (see the module docstring)."""
    cap = cost.weight_capacity_bytes()
    wb = cost.weight_bytes(_PACKING) / _PACKING  # bytes per weight; packed formats share words
    ob = job.output_bytes
    by_suffix = {(s.name.split(".", 2)[2] if s.name.startswith("blocks.") else s.name): s
                 for s in sites}
    missing = [s for s in SITE_SUFFIXES if s not in by_suffix]
    if missing:
        raise TraceError(f"the block lacks sites {missing}")
    c, f = by_suffix["att.key"].size, by_suffix["ffn.value"].size
    k = control_slices(c, f, cap, job.state_bytes)
    maps: dict[str, SiteMap] = {}
    core = 2 * k
    for suffix in SITE_SUFFIXES:
        spec = by_suffix[suffix]
        n_in, n_out = spec.size, spec.out_features
        if job.strategy == "rows":
            in_splits = math.ceil((n_in * wb + ob) / cap)
            in_block = math.ceil(n_in / in_splits)
            per_core = int(cap // (in_block * wb + ob))
            out_splits = math.ceil(n_out / per_core) if per_core else 0
        else:
            out_splits = math.ceil(n_out * (wb + ob) / cap)
            out_block = math.ceil(n_out / out_splits)
            per_core = int((cap - out_block * ob) // (out_block * wb))
            in_splits = math.ceil(n_in / per_core) if per_core > 0 else 0
        if per_core < 1:
            raise MappingError(f"{spec.name}: one tile does not fit {cap} bytes of a core")
        m = SiteMap(suffix, spec.group, n_in, n_out, _edges(n_in, in_splits),
                    _edges(n_out, out_splits), core, cost.weight_bytes(n_in * n_out))
        maps[suffix] = m
        core += m.n_cores
    return BlockMap(maps, core, job.strategy, k, _edges(c, k), _edges(f, k))


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


# -- one run (dense or sparse) ------------------------------------------------------------------
@dataclass
class RunResult:
    """What one simulated run leaves: its ledger (totals over all tokens) and phase times."""

    ledger: Ledger
    tokens: int
    clock_hz: int
    phase_cycles: dict[str, int]  # summed over tokens
    deliveries_expected: int
    deliveries_made: int


class _Run:
    """The programs of every core for one trace; see the module docstring."""

    def __init__(self, system: Any, bmap: BlockMap, trace: Trace, block: int, sparse: bool,
                 job: JobConfig) -> None:
        self.system, self.map, self.job = system, bmap, job
        self.sparse = sparse
        self.cost: CoreCostModel = system.cost
        self.engine = system.engine
        self.events = {s: trace.events[f"blocks.{block}.{s}"] for s in SITE_SUFFIXES}
        self.index = {c.name: i for i, c in enumerate(system.cores)}
        self.count: dict[tuple, int] = defaultdict(int)  # things received, by what they are
        self.token_start = self.tm_done = 0
        self.phase = dict.fromkeys(SUB_BLOCKS, 0)
        self._columns: dict[int, Work] = {}
        self._receive, self._send_one = self.cost.receive_event(), self.cost.send_events(1)
        self.tiles: dict[int, tuple[SiteMap, int, int]] = {}
        k = bmap.slices
        self.expect_in: dict[tuple[str, int], int] = {}
        self.expect_out: dict[tuple[str, int], int] = {}
        for sm in bmap.sites.values():
            for gi in range(sm.in_splits):
                for go in range(sm.out_splits):
                    self.tiles[sm.core(gi, go)] = (sm, gi, go)
            ein, eout = bmap.edges(IN_DOMAIN[sm.site]), bmap.edges(OUT_DOMAIN[sm.site])
            for gi in range(sm.in_splits):
                self.expect_in[(sm.site, gi)] = sum(
                    _overlap(sm.in_edges, gi, ein, j) > 0 for j in range(k))
            for j in range(k):
                self.expect_out[(sm.site, j)] = sum(
                    _overlap(sm.out_edges, go, eout, j) > 0 for go in range(sm.out_splits))

    def handler(self, core, item):
        i = self.index[core.name]
        k = self.map.slices
        if i < k:
            return self._time_mix(core, i, item)
        if i < 2 * k:
            return self._channel_mix(core, i - k, item)
        return self._tile(core, i, item)

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
        for ops, n in parts:
            for op, per in ops.items():
                work = work + self.cost.elementwise(op, per * n)
        return work.apply(core, tags(sub_block=sub, site=f"ew.{stage}"))

    def _send(self, core, sends: list[tuple[list[int], int, Any]], tg: Tags):
        """Form the events of ``sends`` (``(destinations, packets, message)``) on ``core`` and
        send each as one train."""
        yield self._send_one.apply(core, tg, sum(n for _, n, _ in sends))
        src = self.index[core.name]
        for dsts, n, data in sends:
            self.system.send(src, dsts, self.job.value_bits, data, tg, count=n)

    def _take(self, core, packet, tg: Tags):
        """Take a train off the network interface: one ``receive_event`` per packet."""
        return self._receive.apply(core, tg, packet.count)

    def _slice(self, domain: str, j: int) -> int:
        e = self.map.edges(domain)
        return int(e[j + 1] - e[j])

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
                 for g in range(sm.in_splits) if _overlap(sm.in_edges, g, e, j)]
        yield from self._send(core, sends, sm.tags())

    def _end_phase(self, sub: str) -> None:
        self.engine.charge_static(tags(sub_block=sub, site="ew.static"))

    # -- layer norm over slices ---------------------------------------------------------------
    def _layer_norm(self, core, sub: str, j: int, t: int, after: Callable):
        """Partial sums on every slice; the first slice combines them and returns mean and
        1/std to the others; then each slice normalises its channels and goes on with
        ``after(core, j, t)``."""
        n = self._slice("C", j)
        yield self._stage(core, sub, "layer_norm", (LAYER_NORM_PARTIAL, n))
        if self.map.slices == 1:
            yield self._stage(core, sub, "layer_norm", (LAYER_NORM_PER_VECTOR, 1))
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
                          (LAYER_NORM_PER_VECTOR, 1))
        others = [self.map.ctrl(sub, j) for j in range(1, self.map.slices)]
        yield from self._send(core, [(others, 2, LnStats(sub, t))], tg)
        yield from self._ln_finish(core, sub, 0, t, after)

    def _ln_finish(self, core, sub: str, j: int, t: int, after: Callable):
        yield self._stage(core, sub, "layer_norm", (LAYER_NORM_FINISH, self._slice("C", j)))
        yield from after(core, j, t)

    def _layer_norm_message(self, core, sub: str, packet, after: Callable):
        data = packet.data
        yield self._take(core, packet, tags(sub_block=sub, site="ew.layer_norm"))
        if isinstance(data, LnPart):
            yield from self._ln_part(core, sub, data.t, after)
        else:
            yield from self._ln_finish(core, sub, self.index[core.name] - self.map.ctrl(sub, 0),
                                       data.t, after)

    def _complete(self, key: tuple, expected: int) -> bool:
        """Count one more arrival of ``key``; true when all ``expected`` are in."""
        self.count[key] += 1
        return self.count[key] == expected

    # -- tile cores ---------------------------------------------------------------------------
    def _tile(self, core, i: int, packet):
        sm, gi, go = self.tiles[i]
        data = packet.data
        tg = sm.tags()
        rows = sm.rows(go)
        if isinstance(data, Events):
            work, events = self._event_work(rows), packet.count - 1
            work.charge(core, tg, events)
            self._receive.charge(core, tg)  # the end-of-input packet
            cycles = work.cycles * events + self._receive.cycles
            yield core.busy(max(cycles, packet.tail_cycles), "column")
            if not self._complete(("in", i, data.t), self.expect_in[(sm.site, gi)]):
                return
            if gi:  # partial sums to the first core of the output group
                yield from self._send(core, [([sm.core(0, go)], rows,
                                              Partial(sm.site, data.t, go))], sm.partial_tags())
                return
        else:  # partial sums of another input slice
            yield self._take(core, packet, sm.partial_tags())
            yield self.cost.elementwise("add", rows).apply(core, sm.partial_tags())
        if self._complete(("sum", i, data.t), sm.in_splits):
            yield from self._outputs(core, sm, go, data.t)

    def _outputs(self, core, sm: SiteMap, go: int, t: int):
        """The finished rows of output group ``go``, to the control slices that own them."""
        sub = "time_mix" if sm.site.startswith("att.") else "channel_mix"
        e = self.map.edges(OUT_DOMAIN[sm.site])
        sends = [([self.map.ctrl(sub, j)], n, Outputs(sm.site, t))
                 for j in range(self.map.slices) if (n := _overlap(sm.out_edges, go, e, j))]
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
                yield self._stage(core, sub, "sigmoid", ({"sigmoid": 1}, n))
                yield self._stage(core, sub, "wkv", (WKV, n), ({"mul": 1}, n))  # and r * wkv
                if self.sparse:
                    yield self._stage(core, sub, "threshold", (THRESHOLD, n))
                yield from self._emit(core, sub, j, "att.output", t)
        elif site == "att.output":
            yield self._stage(core, sub, "residual", ({"add": 1}, n))
            if self._complete((sub, t, "done"), self.map.slices):
                self.tm_done = self.engine.now
                self.phase[sub] += self.tm_done - self.token_start
                self._end_phase(sub)
            yield from self._send(core, [([self.map.ctrl("channel_mix", j)], n, Handoff(t))],
                                  tags(sub_block="channel_mix", site="ew.handoff"))

    def _tm_inputs(self, core, j: int, t: int):
        n = self._slice("C", j)
        sub = "time_mix"
        yield self._stage(core, sub, "token_shift", (TOKEN_SHIFT, 3 * n), (STATE_COPY, n))
        if self.sparse:
            yield self._stage(core, sub, "threshold", (THRESHOLD, 3 * n))
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
            yield self._stage(core, sub, "squared_relu", ({"max": 1, "mul": 1}, f))
            if self.sparse:
                yield self._stage(core, sub, "threshold", (THRESHOLD, f))
            yield from self._emit(core, sub, j, "ffn.value", t)
        elif site == "ffn.receptance":
            yield self._stage(core, sub, "sigmoid", ({"sigmoid": 1}, n))
        if site in ("ffn.receptance", "ffn.value") and self._complete((sub, j, t, "rv"), 2):
            yield self._stage(core, sub, "residual", ({"mul": 1, "add": 1}, n))  # r * v, + x
            if self._complete((sub, t, "done"), self.map.slices):
                self.phase[sub] += self.engine.now - self.tm_done
                self._end_phase(sub)
                if t + 1 < self.n_tokens:
                    self._start(t + 1)

    def _cm_inputs(self, core, j: int, t: int):
        n = self._slice("C", j)
        sub = "channel_mix"
        yield self._stage(core, sub, "token_shift", (TOKEN_SHIFT, 2 * n), (STATE_COPY, n))
        if self.sparse:
            yield self._stage(core, sub, "threshold", (THRESHOLD, 2 * n))
        for site in ("ffn.key", "ffn.receptance"):
            yield from self._emit(core, sub, j, site, t)

    # -- driving ------------------------------------------------------------------------------
    def _start(self, t: int) -> None:
        for j in range(self.map.slices):
            self.system.cores[self.map.ctrl("time_mix", j)].inbox.put(Start(t))

    def allocate(self) -> None:
        """Every tile's weights and output buffer, every control core's vectors, in data
        memory; what the cost model keeps back (program, stack) is reserved first."""
        cost, job, k = self.cost, self.job, self.map.slices
        for i, core in enumerate(self.system.cores):
            reserve = core.sram.config.total_bytes - cost.weight_capacity_bytes()
            if reserve:
                core.sram.allocate("reserved", reserve)
            if i < 2 * k:
                n = self._slice("C", i % k)
                vectors = TM_VECTORS * n if i < k else (
                    CM_VECTORS * n + CM_F_VECTORS * self._slice("F", i % k))
                core.sram.allocate("vectors", vectors * job.state_bytes)
                continue
            sm, gi, go = self.tiles[i]
            core.sram.allocate("weights", cost.weight_bytes(sm.rows(go) * sm.cols(gi)))
            core.sram.allocate("outputs", sm.rows(go) * job.output_bytes)

    def run(self, n_tokens: int) -> RunResult:
        self.n_tokens = n_tokens
        self.allocate()
        self._start(0)
        self.engine.run()
        ledger = self.engine.ledger
        stray = [r for r in ledger.rows() if not r.get("sub_block") and r["energy_pj"]]
        if stray:
            raise RuntimeError(f"charges outside any sub-block: {stray[:3]}")
        nocs = [c for c in self.engine.components.values() if isinstance(c, Noc)]
        return RunResult(ledger, n_tokens, self.engine.clock_hz, dict(self.phase),
                         sum(n.expected for n in nocs), sum(n.delivered for n in nocs))


# -- chips --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChipSetup:
    """A chip and its options: builds the cost model and systems of ``n`` cores."""

    chip: Chip = "seneca"
    options: Mapping[str, Any] = field(default_factory=dict)

    def cost(self) -> CoreCostModel:
        if self.chip == "seneca":
            from simulator.chips.seneca import SenecaCost

            return SenecaCost(options=self.options or None)
        from simulator.chips.spinnaker2 import Spinnaker2Cost

        known = ("level", "precision", "use_mla", "use_exp_accelerator")
        unknown = sorted(set(self.options) - set(known))
        if unknown:
            raise ValueError(f"unknown spinnaker2 option(s) {unknown}; known: {list(known)}")
        return Spinnaker2Cost(**self.options)

    def build(self, n: int, handler: Callable, cost: CoreCostModel,
              timeline: Timeline | None) -> Any:
        if self.chip == "seneca":
            from simulator.chips.seneca import build_seneca

            return build_seneca(n, handler, cost.config, timeline=timeline, cost=cost)
        from simulator.chips.spinnaker2 import build_spinnaker2

        return build_spinnaker2(n, handler, cost.level, cost.config, timeline=timeline,
                                cost=cost)

    def config_file(self) -> str:
        """The cost table, relative to the repository (``calibration/<chip>.yaml``)."""
        return f"calibration/{self.chip}.yaml"

    def value_bits(self, cost: CoreCostModel) -> int:
        """Bits of one activation value: SENECA's NPE word (BF16), SpiNNaker2's float."""
        if self.chip == "seneca":
            return int(cost.word_bits)
        return 8 * int(cost.config.software.float_bytes.value)


def simulate_trace(trace: Trace, setup: ChipSetup, *, sparse: bool, tokens: int | None = None,
                   block: int | None = None, job: JobConfig | None = None,
                   timeline: Timeline | None = None) -> tuple[RunResult, BlockMap]:
    """Simulate ``tokens`` tokens (default: all) of one block of ``trace`` on a fresh chip."""
    job = job or JobConfig()
    if trace.meta.kind != "rwkv":
        raise TraceError(f"expected an RWKV trace, got kind {trace.meta.kind!r}")
    blocks = trace.meta.extra.get("blocks") or sorted(
        {int(s.name.split(".")[1]) for s in trace.sites})
    block = blocks[0] if block is None else block
    if block not in blocks:
        raise TraceError(f"the trace holds blocks {blocks}, not block {block}")
    n = trace.meta.n_steps if tokens is None else tokens
    if not 1 <= n <= trace.meta.n_steps:
        raise TraceError(f"the trace has {trace.meta.n_steps} tokens; asked for {n}")
    cost = setup.cost()
    if job.value_bits is None:
        job = job.model_copy(update={"value_bits": setup.value_bits(cost)})
    sites = [s for s in trace.sites if s.name.startswith(f"blocks.{block}.")]
    bmap = map_block(sites, cost, job)
    run: _Run | None = None

    def handler(core, item):
        return run.handler(core, item)

    system = setup.build(bmap.n_cores, handler, cost, timeline)
    run = _Run(system, bmap, trace, block, sparse, job)
    return run.run(n), bmap


# -- results ------------------------------------------------------------------------------------
_CORE = re.compile(r"^(pe|core)(\d+)(\.|$)")


def breakdown(result: RunResult, bmap: BlockMap, mode: str) -> list[dict]:
    """Per-token ledger rows, tile cores folded into their layer (``att.key.tiles.npe``)."""
    acc: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for r in result.ledger.rows():
        comp = r["component"]
        m = _CORE.match(comp)
        if m:
            comp = bmap.role(int(m[2])) + comp[m.end(2):]
        key = (mode, r.get("sub_block", ""), r.get("site", ""), comp, r["operation"],
               r["category"])
        v = acc[key]
        v[0] += r["count"]
        v[1] += r["energy_pj"]
        v[2] += r["cycles"]
    n = result.tokens
    return [
        {"mode": k[0], "sub_block": k[1], "site": k[2], "component": k[3], "operation": k[4],
         "category": k[5], "count": v[0] / n, "energy_j": v[1] * 1e-12 / n, "cycles": v[2] / n}
        for k, v in sorted(acc.items())
    ]


def summary(result: RunResult, rows: Sequence[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """``{sub_block: {category: {energy_j, latency_s, cycles}}}`` per token, plus ``block``."""
    energy: dict[tuple[str, str], float] = defaultdict(float)
    work: dict[tuple[str, str], float] = defaultdict(float)
    for r in rows:
        energy[(r["sub_block"], r["category"])] += r["energy_j"]
        if r["category"] != Category.STATIC:
            work[(r["sub_block"], r["category"])] += r["cycles"]
    out: dict[str, dict[str, dict[str, float]]] = {}
    hz = result.clock_hz
    for sub in SUB_BLOCKS:
        wall = result.phase_cycles[sub] / result.tokens
        busy = sum(work[(sub, c)] for c in CATEGORIES)
        out[sub] = {}
        for c in CATEGORIES:
            cyc = wall * work[(sub, c)] / busy if busy else 0.0
            out[sub][c] = {"energy_j": energy[(sub, c)], "latency_s": cyc / hz, "cycles": cyc}
        out[sub]["total"] = {"energy_j": sum(energy[(sub, c)] for c in CATEGORIES),
                             "latency_s": wall / hz, "cycles": wall}
    out["block"] = {
        k: {f: sum(out[s][k][f] for s in SUB_BLOCKS) for f in ("energy_j", "latency_s", "cycles")}
        for k in (*CATEGORIES, "total")
    }
    return out


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def rwkv_token(
    dense: Trace, sparse: Trace, setup: ChipSetup | None = None, *, tokens: int | None = None,
    block: int | None = None, job: JobConfig | None = None, timeline: Timeline | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The result of the job (keys in ``docs/rwkv-token.md``): ``dense`` and ``sparse`` summaries
    per sub-block and category, ``ratios``, ``breakdown`` rows, ``mapping``, ``provenance``."""
    setup = setup or ChipSetup()
    job = job or JobConfig()
    shapes = [[(s.name, s.size, s.out_features) for s in t.sites] for t in (dense, sparse)]
    if shapes[0] != shapes[1]:
        raise TraceError("the dense and sparse traces describe different models")
    result: dict[str, Any] = {}
    rows: list[dict] = []
    runs = {}
    for mode, trace in (("dense", dense), ("sparse", sparse)):
        if progress:
            progress(mode)
        run, bmap = simulate_trace(trace, setup, sparse=mode == "sparse", tokens=tokens,
                                   block=block, job=job,
                                   timeline=timeline if mode == "sparse" else None)
        if run.deliveries_expected != run.deliveries_made:
            raise RuntimeError(f"{mode}: {run.deliveries_expected} deliveries expected, "
                               f"{run.deliveries_made} made")
        mode_rows = breakdown(run, bmap, mode)
        result[mode] = summary(run, mode_rows)
        rows += mode_rows
        runs[mode] = run
    result["ratios"] = {
        sub: {f"{q}": _ratio(result["dense"][sub]["total"][key],
                             result["sparse"][sub]["total"][key])
              for q, key in (("energy", "energy_j"), ("latency", "latency_s"))}
        for sub in SUMMARY_KEYS
    }
    result["breakdown"] = rows
    result["mapping"] = {"strategy": job.strategy, "cores": bmap.n_cores,
                         "control_cores": 2 * bmap.slices, "sites": bmap.table()}
    cost = setup.cost()
    result["provenance"] = {
        "chip": setup.chip,
        "chip_config": setup.config_file(),
        "chip_options": dict(setup.options),
        "cost_sources": sorted({v.source for v in cited_values(cost.config).values()
                                if not v.assumed}),
        "assumed_parameters": sorted(assumptions(cost.config)),
        "clock_hz": runs["sparse"].clock_hz,
        "trace_kind": "synthetic" if sparse.meta.synthetic else "real",
        "model": sparse.meta.model,
        "profile": sparse.meta.profile,
        "dense_trace": dense.label,
        "sparse_trace": sparse.label,
        "tokens": runs["sparse"].tokens,
        "block": block if block is not None else (sparse.meta.extra.get("blocks") or [0])[0],
        "job": job.model_dump(),
    }
    return result


def format_table(result: Mapping[str, Any]) -> str:
    """The readable table ``nmsim rwkv-token`` prints."""
    prov = result["provenance"]
    lines = [
        f"RWKV-4 block, one token on {prov['chip']} ({prov['trace_kind']} trace: "
        f"{prov['model']}" + (f", profile {prov['profile']}" if prov.get("profile") else "")
        + f"; {prov['tokens']} tokens averaged)",
        f"mapping: {result['mapping']['cores']} cores ({result['mapping']['strategy']} tiling): "
        + ", ".join(f"{s} {m['cores']}" for s, m in result["mapping"]["sites"].items())
        + f", {result['mapping']['control_cores']} control",
        "",
        f"{'':12s}{'':8s}" + "".join(f"{c:>14s}" for c in (*CATEGORIES, "total"))
        + f"{'latency':>12s}",
    ]
    for sub in SUMMARY_KEYS:
        for mode in MODES:
            r = result[mode][sub]
            lines.append(
                f"{sub if mode == 'dense' else '':12s}{mode:8s}"
                + "".join(f"{r[c]['energy_j'] * 1e6:11.3f} µJ" for c in (*CATEGORIES, "total"))
                + f"{r['total']['latency_s'] * 1e6:9.1f} µs"
            )
        rat = result["ratios"][sub]
        lines.append(f"{'':12s}{'ratio':8s}dense/sparse: energy {rat['energy']:.2f}x, "
                     f"latency {rat['latency']:.2f}x")
    return "\n".join(lines)
