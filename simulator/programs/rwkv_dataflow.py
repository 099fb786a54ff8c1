"""The dataflow RWKV-4 block program: element-wise work where the values are.

Runs on the ``dataflow`` mapping of :mod:`simulator.mappings.rwkv_block`. A tile applies the
stages that need only its own outputs and sends on only what the next stage needs; a channel
owner joins the layers of its channel slice. Per token:

- Time-Mix: every owner normalises its slice (LN1, a reduction tree over the owners), mixes
  the token shift, thresholds (sparse run only) and sends the non-zero k/v/r inputs as events.
  ``att.key`` and ``att.value`` tiles return their values to the owner; ``att.receptance``
  tiles apply the sigmoid first. The owner runs WKV and r * wkv, thresholds the ``att.output``
  input and sends its events; the ``att.output`` values come back for the residual add.
- Channel-Mix: the owner goes straight on (LN2 tree, token shift, thresholds, ``ffn.key`` and
  ``ffn.receptance`` events). An ``ffn.key`` tile squares the ReLU of its rows, thresholds them
  and sends the non-zero ones straight to the ``ffn.value`` tiles; ``ffn.receptance`` tiles
  apply the sigmoid; the owner multiplies r * v and adds the residual.
"""

from __future__ import annotations

from simulator.mappings.rwkv_block import SiteMap
from simulator.programs.rwkv_block import LnPart, LnStats, RwkvBlockProgram, Start
from workloads import rwkv_ops as ops

#: linear layers whose inputs the owners produce, per sub-block
_OWNER_INPUTS = {"time_mix": ("att.key", "att.value", "att.receptance"),
                 "channel_mix": ("ffn.key", "ffn.receptance")}


class DataflowProgram(RwkvBlockProgram):
    """See the module docstring."""

    def _outputs(self, core, sm: SiteMap, go: int, t: int):
        sub, rows = sm.sub_block, sm.rows(go)
        if sm.site in ("att.receptance", "ffn.receptance"):
            yield self._stage(core, sub, "sigmoid", (ops.SIGMOID, rows))
        if sm.site != "ffn.key":
            yield from self._to_owners(core, sm, go, t)
            return
        yield self._stage(core, sub, "squared_relu", (ops.SQUARED_RELU, rows))
        if self.sparse:
            yield self._stage(core, sub, "threshold", (ops.THRESHOLD, rows))
        yield from self._emit(core, "ffn.value", sm.out_edges, go, t)

    def _control(self, core, j: int, item):
        if isinstance(item, Start):
            yield from self._layer_norm(core, "time_mix", j, item.t)
            return
        data = item.data
        if isinstance(data, (LnPart, LnStats)):
            yield from self._layer_norm_message(core, j, item)
            return
        sub = self.map.sites[data.site].sub_block
        site = yield from self._arrived(core, sub, j, item)
        t, n = data.t, self._slice("C", j)
        if site in _OWNER_INPUTS["time_mix"]:
            if self._complete((sub, j, t, "kvr"), 3):
                yield self._stage(core, sub, "wkv", (ops.WKV, n), (ops.RECEPTANCE_GATE, n))
                if self.sparse:
                    yield self._stage(core, sub, "threshold", (ops.THRESHOLD, n))
                yield from self._emit(core, "att.output", self.map.c_edges, j, t)
        elif site == "att.output":
            yield self._stage(core, sub, "residual", (ops.RESIDUAL, n))
            self._sub_block_done(core, sub, t)
            yield from self._layer_norm(core, "channel_mix", j, t)
        elif site in ("ffn.receptance", "ffn.value") and self._complete((sub, j, t, "rv"), 2):
            yield self._stage(core, sub, "residual", (ops.CHANNEL_MIX_OUT, n))
            self._sub_block_done(core, sub, t)

    def _after_layer_norm(self, core, sub: str, j: int, t: int):
        n, sites = self._slice("C", j), _OWNER_INPUTS[sub]
        yield self._stage(core, sub, "token_shift", (ops.TOKEN_SHIFT, len(sites) * n),
                          (ops.STATE_COPY, n))
        if self.sparse:
            yield self._stage(core, sub, "threshold", (ops.THRESHOLD, len(sites) * n))
        for site in sites:
            yield from self._emit(core, site, self.map.c_edges, j, t)
