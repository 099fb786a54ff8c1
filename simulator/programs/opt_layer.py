"""The OPT decoder-layer program: one token at a time through attention with a KV cache and
the ReLU feed-forward.

Runs on :mod:`simulator.mappings.opt_layer`; tiles, events and the layer-norm tree are every
block's (:mod:`simulator.programs.block`). Per token:

- Attention: every owner normalises its slice (LN1, a reduction tree), thresholds it (sparse
  run only) and sends the non-zero QKV inputs as events. A ``attn.qkv`` tile adds its biases
  and sends each head's q values to all of that head's attention cores and its k and v to the
  head's last core (which appends them to the cache). An attention core scales q, computes its
  positions' scores (``head_dim`` columns of its keys), a local softmax and its share of the
  output (one column of ``head_dim`` values per position); with the cache off-chip it streams
  its keys and values chunk by chunk through its DMA (two buffers: the next chunk lands while
  this one is used) and folds each chunk in with the log-sum-exp rescaling. The head's first
  core combines the shares, normalises and sends the head's output to the ``attn.out`` tiles
  as events; their outputs return to the owners for the residual add.
- MLP: the owner goes straight on (LN2 tree, threshold, ``mlp.up`` events). An ``mlp.up`` tile
  adds its biases, applies the ReLU (and the threshold) and sends its non-zero outputs straight
  to the ``mlp.down`` tiles, whose outputs return to the owners for the second residual add.

Attention work is tagged ``sub_block="attention"`` with sites ``attention.scores``,
``attention.softmax``, ``attention.values``, ``attention.combine`` and ``attention.cache``
(appending the new k and v; streaming the cache).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import cached_property

from simulator.ledger import Tags, tags
from simulator.mappings.opt_layer import SUB_BLOCKS, OptLayerMap
from simulator.mappings.tiles import SiteMap, overlap
from simulator.programs.block import BlockProgram, LnPart, LnStats, Outputs, Start
from workloads import opt_ops as ops
from workloads.trace import SiteEvents, Trace

#: the linear layer whose inputs the owners produce, per sub-block
_OWNER_INPUT = {"attention": "attn.qkv", "mlp": "mlp.up"}
_PARTS = ("q", "k", "v")


@dataclass(frozen=True)
class LayerWorkload:
    """``tokens`` tokens of decoder layer ``layer`` of an OPT trace, dense or sparse."""

    trace: Trace
    layer: int
    tokens: int
    sparse: bool


@dataclass(frozen=True, slots=True)
class Qkv:
    """Values of one head's q, k or v from one ``attn.qkv`` tile."""

    t: int
    part: str


@dataclass(frozen=True, slots=True)
class Share:
    """An attention core's share of its head's output: ``head_dim`` values, max and sum."""

    t: int


@dataclass(frozen=True, slots=True)
class Chunk:
    """A chunk of a streamed cache has landed in its buffer."""

    t: int
    k: int


@dataclass
class _Stream:
    """One attention core streaming its cache for token ``t``."""

    t: int
    chunks: int
    issued: int = 0
    done: int = 0
    free: int = 2


class OptLayerProgram(BlockProgram):
    """See the module docstring."""

    workload = "opt"
    sub_blocks = SUB_BLOCKS

    def __init__(self, system, mapping, workload: LayerWorkload, *, layer_map: OptLayerMap,
                 value_bits: int) -> None:
        super().__init__(system, mapping, workload, block_map=layer_map.block,
                         value_bits=value_bits)
        self.att = att = layer_map.attention
        self.head_of = {core: (h, s) for h in range(att.heads)
                        for s, core in enumerate(att.cores[h])}
        qkv = self.map.sites["attn.qkv"]
        self.qkv_sends = [self._qkv_targets(qkv, go) for go in range(qkv.out_splits)]
        self.expect_qkv: Counter = Counter()
        for sends in self.qkv_sends:
            for dsts, _, _ in sends:
                self.expect_qkv.update(dsts)
        self.streams: dict[int, _Stream] = {}

    def _site_events(self, workload: LayerWorkload) -> dict[str, SiteEvents]:
        return {s: workload.trace.events[f"layers.{workload.layer}.{s}"] for s in self.map.sites}

    @cached_property
    def _tags(self) -> dict[str, Tags]:
        return {what: tags(sub_block="attention", site=f"attention.{what}")
                for what in ("scores", "softmax", "values", "combine", "cache")}

    def _qkv_targets(self, sm: SiteMap, go: int) -> list[tuple[list[int], int, Qkv]]:
        """Where the rows of ``attn.qkv`` tile group ``go`` go: per part and head, the q
        values to every core of the head, k and v to its last core (``t`` filled in later)."""
        c, heads = sm.out // 3, self.map.edges("H")
        out = []
        for p, part in enumerate(_PARTS):
            part_edges = heads + p * c
            for h in range(self.att.heads):
                n = overlap(sm.out_edges, go, part_edges, h)
                if n:
                    cores = self.att.cores[h]
                    out.append((list(cores) if part == "q" else [cores[-1]], n, Qkv(0, part)))
        return out

    def handle(self, core, item):
        i = self.index[core.name]
        if i in self.tiles:
            return self._tile(core, i, item)
        if i in self.head_of:
            return self._attention(core, i, item)
        return self._control(core, self.slice_of[i], item)

    # -- tiles and owners ---------------------------------------------------------------------
    def _outputs(self, core, sm: SiteMap, go: int, t: int):
        sub, rows = sm.sub_block, sm.rows(go)
        yield self._stage(core, sub, "bias", (ops.BIAS, rows))
        if sm.site == "attn.qkv":
            sends = [(dsts, n, Qkv(t, q.part)) for dsts, n, q in self.qkv_sends[go]]
            yield from self._send(core, sends, sm.tags)
        elif sm.site == "mlp.up":
            yield self._stage(core, sub, "relu", (ops.RELU, rows))
            if self.sparse:
                yield self._stage(core, sub, "threshold", (ops.THRESHOLD, rows))
            yield from self._emit(core, "mlp.down", sm.out_edges, go, t)
        else:
            yield from self._to_owners(core, sm, go, t)

    def _control(self, core, j: int, item):
        if isinstance(item, Start):
            yield from self._layer_norm(core, "attention", j, item.t)
            return
        data = item.data
        if isinstance(data, (LnPart, LnStats)):
            yield from self._layer_norm_message(core, j, item)
            return
        assert isinstance(data, Outputs)
        sub = self.map.sites[data.site].sub_block
        site = yield from self._arrived(core, sub, j, item)
        if site is None:
            return
        yield self._stage(core, sub, "residual", (ops.RESIDUAL, self._slice("C", j)))
        self._sub_block_done(core, sub, data.t)
        if sub == "attention":
            yield from self._layer_norm(core, "mlp", j, data.t)

    def _after_layer_norm(self, core, sub: str, j: int, t: int):
        if self.sparse:
            yield self._stage(core, sub, "threshold", (ops.THRESHOLD, self._slice("C", j)))
        yield from self._emit(core, _OWNER_INPUT[sub], self.map.c_edges, j, t)

    # -- attention cores ----------------------------------------------------------------------
    def _attention(self, core, i: int, item):
        h, s = self.head_of[i]
        if type(item) is Chunk:
            yield from self._chunk(core, i, h, s, item)
            return
        data = item.data
        if type(data) is Share:
            yield self._take(core, item, self._tags["combine"])
            yield from self._share_in(core, h, data.t)
            return
        yield self._take(core, item, self.map.sites["attn.qkv"].tags)
        if not self._complete(("qkv", i, data.t), self.expect_qkv[i]):
            return
        d, att = self.att.head_dim, self.att
        yield self._stage(core, "attention", "query_scale", (ops.QUERY_SCALE, d))
        if s == att.per_head - 1:
            yield self.spend(core, self._elementwise("copy", (ops.CACHE_APPEND, d)),
                             self._tags["cache"])
        if not att.streamed:
            yield from self._positions(core, att.n_positions(s))
            yield from self._share_out(core, h, s, data.t)
            return
        chunk = att.chunk_positions()
        self.streams[i] = _Stream(data.t, math.ceil(att.n_positions(s) / chunk))
        if s == att.per_head - 1:  # the new k and v go to the off-chip cache first
            yield from self._dma(core, 2 * d * att.value_bytes, to_sram=False)
        yield from self._issue(core, i, s)

    def _positions(self, core, n: int):
        """Scores, softmax and output share over ``n`` positions held in this core's memory."""
        d = self.att.head_dim
        yield self.spend(core, self._column(n), self._tags["scores"], d, label="scores")
        yield self.spend(core, self._elementwise("max", (ops.SOFTMAX, n)),
                         self._tags["softmax"])
        yield self.spend(core, self._column(d), self._tags["values"], n, label="values")

    def _issue(self, core, i: int, s: int):
        """Start the DMA of the stream's next chunks while a buffer is free."""
        st, per = self.streams[i], self.att.chunk_positions()
        while st.free and st.issued < st.chunks:
            n = min(per, self.att.n_positions(s) - st.issued * per)
            k = st.issued
            done = yield from self._dma(core, 2 * n * self.att.head_dim * self.att.value_bytes)
            done.callbacks.append(lambda _ev, t=st.t, k=k: core.inbox.put(Chunk(t, k)))
            st.issued += 1
            st.free -= 1

    def _dma(self, core, nbytes: int, to_sram: bool = True):
        """One DMA transfer between this core's memory and the off-chip cache."""
        tg = self._tags["cache"]
        yield self.spend(core, self.cost.dma_setup(), tg)
        return core.dma.transfer(nbytes, bank=1, to_sram=to_sram,
                                 dram=self.system.dram_of(self.index[core.name]), tags=tg,
                                 label="kv")

    def _chunk(self, core, i: int, h: int, s: int, item: Chunk):
        st, per = self.streams[i], self.att.chunk_positions()
        n = min(per, self.att.n_positions(s) - item.k * per)
        yield from self._positions(core, n)
        if item.k:  # fold this chunk into the running share
            yield self.spend(core, self._elementwise(
                "sub", (ops.RESCALE_SHARE, 1), (ops.RESCALE_OUTPUT, self.att.head_dim)),
                self._tags["combine"])
        st.done += 1
        st.free += 1
        if st.done < st.chunks:
            yield from self._issue(core, i, s)
            return
        del self.streams[i]
        yield from self._share_out(core, h, s, st.t)

    def _share_out(self, core, h: int, s: int, t: int):
        """This core's share is ready: to the head's first core, or combined there."""
        if s:
            yield from self._send(core, [([self.att.cores[h][0]], self.att.head_dim + 2,
                                          Share(t))], self._tags["combine"])
            return
        yield from self._share_in(core, h, t)

    def _share_in(self, core, h: int, t: int):
        """One more share at the head's first core; with all in, combine and send on."""
        att = self.att
        if not self._complete(("share", h, t), att.per_head):
            return
        d, others = att.head_dim, att.per_head - 1
        work = (self._elementwise("sub", (ops.RESCALE_SHARE, others),
                                  (ops.RESCALE_OUTPUT, d * others), (ops.NORMALISE, d))
                if others else self._elementwise("div", (ops.NORMALISE, d)))
        yield self.spend(core, work, self._tags["combine"])
        yield from self._emit(core, "attn.out", self.map.edges("H"), h, t)
