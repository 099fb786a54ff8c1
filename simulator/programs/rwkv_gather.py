"""The gather mappings' RWKV-4 block program: every layer's outputs go back to control cores.

Runs on the ``rows`` and ``columns`` mappings of :mod:`simulator.mappings.rwkv_block` (kept
to compare with the dataflow default). Per token and sub-block:

- Time-Mix (``time_mix.ctrl`` slices): LN1, token shift of the k/v/r inputs, thresholds
  (sparse run only), the k/v/r events; the tiles send every output (one packet per value)
  back; the slices compute sigmoid(r), the WKV recurrence and r * wkv, threshold the
  ``att.output`` input, send its events, and add the residual.
- Channel-Mix (``channel_mix.ctrl`` slices): the Time-Mix output arrives (one packet per
  value); LN2, token shift, thresholds; ``ffn.key`` and ``ffn.receptance`` events; squared
  ReLU and threshold of the ``ffn.value`` input, its events; sigmoid, r * v and the residual.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.ledger import tags
from simulator.mappings.rwkv_block import SiteMap
from simulator.programs.rwkv_block import LnPart, LnStats, RwkvBlockProgram, Start
from workloads import rwkv_ops as ops


@dataclass(frozen=True, slots=True)
class Handoff:
    """The Time-Mix output of a slice, to the Channel-Mix slice of the same channels."""

    t: int


class GatherProgram(RwkvBlockProgram):
    """See the module docstring."""

    def _outputs(self, core, sm: SiteMap, go: int, t: int):
        yield from self._to_owners(core, sm, go, t)

    def _control(self, core, j: int, item):
        sub = "time_mix" if self.index[core.name] in self.map.control["time_mix"] else (
            "channel_mix")
        if isinstance(item, Start):
            yield from self._layer_norm(core, sub, j, item.t)
            return
        data = item.data
        if isinstance(data, (LnPart, LnStats)):
            yield from self._layer_norm_message(core, j, item)
        elif isinstance(data, Handoff):
            yield self._take(core, item, tags(sub_block=sub, site="ew.handoff"))
            yield from self._layer_norm(core, sub, j, data.t)
        elif sub == "time_mix":
            yield from self._time_mix(core, j, item)
        else:
            yield from self._channel_mix(core, j, item)

    def _emit_slice(self, core, site: str, j: int, t: int):
        yield from self._emit(core, site, self.map.edges(self.map.in_domain[site]), j, t)

    def _after_layer_norm(self, core, sub: str, j: int, t: int):
        n = self._slice("C", j)
        sites = (("att.key", "att.value", "att.receptance") if sub == "time_mix"
                 else ("ffn.key", "ffn.receptance"))
        yield self._stage(core, sub, "token_shift", (ops.TOKEN_SHIFT, len(sites) * n),
                          (ops.STATE_COPY, n))
        if self.sparse:
            yield self._stage(core, sub, "threshold", (ops.THRESHOLD, len(sites) * n))
        for site in sites:
            yield from self._emit_slice(core, site, j, t)

    def _time_mix(self, core, j: int, item):
        sub, data = "time_mix", item.data
        site = yield from self._arrived(core, sub, j, item)
        t, n = data.t, self._slice("C", j)
        if site in ("att.key", "att.value", "att.receptance"):
            if self._complete((sub, j, t, "kvr"), 3):
                yield self._stage(core, sub, "sigmoid", (ops.SIGMOID, n))
                yield self._stage(core, sub, "wkv", (ops.WKV, n), (ops.RECEPTANCE_GATE, n))
                if self.sparse:
                    yield self._stage(core, sub, "threshold", (ops.THRESHOLD, n))
                yield from self._emit_slice(core, "att.output", j, t)
        elif site == "att.output":
            yield self._stage(core, sub, "residual", (ops.RESIDUAL, n))
            self._sub_block_done(core, sub, t)
            yield from self._send(core, [([self.map.ctrl("channel_mix", j)], n, Handoff(t))],
                                  tags(sub_block="channel_mix", site="ew.handoff"))

    def _channel_mix(self, core, j: int, item):
        sub, data = "channel_mix", item.data
        site = yield from self._arrived(core, sub, j, item)
        t, n = data.t, self._slice("C", j)
        if site == "ffn.key":
            f = self._slice("F", j)
            yield self._stage(core, sub, "squared_relu", (ops.SQUARED_RELU, f))
            if self.sparse:
                yield self._stage(core, sub, "threshold", (ops.THRESHOLD, f))
            yield from self._emit_slice(core, "ffn.value", j, t)
        elif site == "ffn.receptance":
            yield self._stage(core, sub, "sigmoid", (ops.SIGMOID, n))
        if site in ("ffn.receptance", "ffn.value") and self._complete((sub, j, t, "rv"), 2):
            yield self._stage(core, sub, "residual", (ops.CHANNEL_MIX_OUT, n))
            self._sub_block_done(core, sub, t)
