"""Mapping one OPT decoder layer onto cores: tiles of its linear layers, channel owners, and
the attention cores that hold the KV cache.

- **Tiles** (role ``<site>.tiles``): each of the four linear layers (``attn.qkv``: q, k and v
  together, ``attn.out``, ``mlp.up``, ``mlp.down``) is row-tiled as in the RWKV dataflow
  mapping (:func:`~simulator.mappings.tiles.tile_edges`); a tile adds its biases, and an
  ``mlp.up`` tile applies the ReLU and sends its non-zero outputs straight to the ``mlp.down``
  tiles.
- **Channel owners** (role ``channel_owner``): ``k`` slices of the d_model channels; each keeps
  its slice's residual stream and both layer norms' parameters, runs the layer norms as a
  reduction tree, the thresholds of the QKV and up-projection inputs and the residual adds.
- **Attention cores** (role ``attention``): each head's keys and values of the ``context``
  tokens are split by position over ``s`` cores (the last one also takes the new token's k and
  v). A core computes its positions' scores, a local softmax and its share of the head's output;
  the head's first core combines the shares (the log-sum-exp rescaling of split attention) and
  sends the head's output to the ``attn.out`` tiles. Where the cache stays:

  - ``kv_placement="cores"``: in the attention cores' data memory, ``s`` as small as holds it;
  - ``"dram"``: in off-chip memory (SpiNNaker2's LPDDR4, SENECA's shared memory), streamed
    through each core's DMA in chunks of ``kv_chunk_bytes`` every token, ``s =
    kv_cores_per_head``;
  - ``"auto"`` (default): in core memory if ``s <= kv_cores_per_head`` cores per head hold it,
    else streamed.

Each owner's tiles and the attention cores of its heads follow it, as in the RWKV dataflow
mapping, so a channel's values meet a hop or two away.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from models.opt_config import SITE_SUFFIXES
from simulator.chips.work import CoreCostModel
from simulator.mapping import Mapping, Placement
from simulator.mappings.tiles import (
    BlockMap,
    MappingError,
    SiteMap,
    bytes_per_weight,
    edges,
    site_maps,
    tile_edges,
)
from workloads.opt_ops import OWNER_VECTORS
from workloads.trace import SiteSpec, TraceError

SUB_BLOCKS: tuple[str, ...] = ("attention", "mlp")
#: what every layer reads and writes: C channels, F hidden units, H heads (head_dim channels
#: each), or the q/k/v rows that go to the attention cores (no owner domain)
IN_DOMAIN = {"attn.qkv": "C", "attn.out": "H", "mlp.up": "C", "mlp.down": "F"}
OUT_DOMAIN = {"attn.qkv": "QKV", "attn.out": "C", "mlp.up": "F", "mlp.down": "C"}


class OptMapConfig(BaseModel):
    """Choices of the OPT mapping that are not hardware facts (``docs/opt.md``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    value_bits: int | None = Field(
        None, gt=0, description="payload of one event/output packet, one value (default: the "
        "chip's value width)")
    output_bytes: int = Field(4, gt=0, description="bytes of one buffered output or partial sum")
    state_bytes: int = Field(4, gt=0, description="bytes of one element-wise state/parameter")
    kv_placement: Literal["auto", "cores", "dram"] = Field(
        "auto", description="where the KV cache stays: attention cores' memory, off-chip "
        "memory streamed every token, or cores while kv_cores_per_head hold it (module "
        "docstring)")
    kv_cores_per_head: int = Field(
        4, gt=0, description="attention cores per head: the most that hold a head's cache "
        "(auto) and how many stream it from off-chip memory (dram); an assumption: the "
        "paper maps no attention")
    kv_chunk_bytes: int = Field(4096, gt=0, description="bytes of one DMA chunk of a streamed "
                                "cache (two chunk buffers per attention core)")


@dataclass(frozen=True)
class Attention:
    """The attention cores: ``cores[h][s]`` holds positions ``positions[s]:positions[s+1]`` of
    head ``h``'s keys and values (``streamed``: from off-chip memory)."""

    heads: int
    head_dim: int
    context: int
    cores: tuple[tuple[int, ...], ...]
    positions: np.ndarray
    streamed: bool
    value_bytes: int
    chunk_bytes: int

    @property
    def per_head(self) -> int:
        return len(self.positions) - 1

    def n_positions(self, s: int) -> int:
        return int(self.positions[s + 1] - self.positions[s])

    def cache_bytes(self, s: int) -> int:
        """Keys and values of one core's positions."""
        return 2 * self.n_positions(s) * self.head_dim * self.value_bytes

    def chunk_positions(self) -> int:
        """Positions (a key and a value row each) in one streamed chunk."""
        return max(1, self.chunk_bytes // (2 * self.head_dim * self.value_bytes))


@dataclass(frozen=True)
class OptLayerMap:
    """The tiled layer (:class:`~simulator.mappings.tiles.BlockMap`) and its attention cores."""

    block: BlockMap
    attention: Attention

    @property
    def mapping(self) -> Mapping:
        return self.block.mapping

    @property
    def n_cores(self) -> int:
        return self.block.n_cores


def layer_sites(sites: Sequence[SiteSpec], layer: int) -> dict[str, SiteSpec]:
    """The four sites of decoder layer ``layer`` by suffix; raise if one is missing."""
    prefix = f"layers.{layer}."
    by_suffix = {s.name[len(prefix):]: s for s in sites if s.name.startswith(prefix)}
    missing = [s for s in SITE_SUFFIXES if s not in by_suffix]
    if missing:
        raise TraceError(f"layer {layer} lacks sites {missing}")
    return by_suffix


def map_opt_layer(sites: Sequence[SiteSpec], layer: int, n_head: int, context: int,
                  cost: CoreCostModel, config: OptMapConfig | None = None) -> OptLayerMap:
    """Tile layer ``layer`` of an OPT trace, place owners and attention cores for a cache of
    ``context`` tokens (see the module docstring)."""
    config = config or OptMapConfig()
    if context < 1:
        raise MappingError(f"context must be >= 1 token, got {context}")
    cap = cost.weight_capacity_bytes()
    wb = bytes_per_weight(cost)
    by_suffix = layer_sites(sites, layer)
    c, f = by_suffix["attn.out"].out_features, by_suffix["mlp.up"].out_features
    if c % n_head:
        raise MappingError(f"d_model {c} is not a multiple of {n_head} heads")
    tiles = {s: tile_edges(by_suffix[s].size, by_suffix[s].out_features, "rows", cap, wb,
                           config.output_bytes, by_suffix[s].name) for s in SITE_SUFFIXES}
    k = len(tiles["attn.out"][1]) - 1
    while OWNER_VECTORS * math.ceil(c / k) * config.state_bytes > cap:
        k += 1
    c_edges, h_edges = edges(c, k), edges(c, n_head)
    attention = _attention(n_head, c // n_head, context, cap, cost, config)
    order = _order(tiles, c_edges, h_edges, attention.per_head, c)
    cores = tuple(tuple(order[("attention", h, s)] for s in range(attention.per_head))
                  for h in range(n_head))
    attention = dataclasses.replace(attention, cores=cores)
    maps = site_maps({s: by_suffix[s] for s in SITE_SUFFIXES}, tiles, order, cost)
    control = dict.fromkeys(SUB_BLOCKS, tuple(order[("owner", j)] for j in range(k)))
    block = BlockMap(maps, len(order), "dataflow", k, {"C": c_edges, "F": edges(f, k),
                                                        "H": h_edges},
                     IN_DOMAIN, OUT_DOMAIN, {"mlp.down": "mlp.up"}, control,
                     _placements(maps, control, c_edges, attention, cost, config))
    return OptLayerMap(block, attention)


def _attention(n_head: int, head_dim: int, context: int, cap: int, cost: CoreCostModel,
               config: OptMapConfig) -> Attention:
    """How many cores per head, and whether the cache streams (cores not yet placed)."""
    value_bytes = math.ceil(cost.value_bits / 8)
    per_position = 2 * head_dim * value_bytes
    room = cap - 2 * config.kv_chunk_bytes if config.kv_placement == "dram" else cap
    buffers = (head_dim + 2) * config.output_bytes  # the query and one share of the output
    if room - buffers < per_position:
        raise MappingError(f"one position of a head's cache ({per_position} B) does not fit "
                           f"the {cap} B of a core")
    if config.kv_placement != "cores" and config.kv_chunk_bytes < per_position:
        raise MappingError(f"--kv-chunk-bytes {config.kv_chunk_bytes}: less than one position "
                           f"of a head's cache (keys and values, {per_position} B)")
    held = (cap - buffers) // per_position  # positions one core holds
    s_fit = math.ceil(context / held)
    streamed = config.kv_placement == "dram" or (
        config.kv_placement == "auto" and s_fit > config.kv_cores_per_head)
    s = min(config.kv_cores_per_head, context) if streamed else s_fit
    return Attention(n_head, head_dim, context, (), edges(context, s), streamed, value_bytes,
                     config.kv_chunk_bytes)


def _order(tiles: dict[str, tuple[np.ndarray, np.ndarray]], c_edges: np.ndarray,
           h_edges: np.ndarray, per_head: int, c: int) -> dict[tuple, int]:
    """Core of every owner, tile and attention core: owner ``j``, then the tiles whose outputs
    (scaled to the C channels) and the heads whose channels fall mostly in slice ``j``."""
    k = len(c_edges) - 1

    def home(mid: float) -> int:
        return min(int(np.searchsorted(c_edges, mid, side="right")) - 1, k - 1)

    homes: dict[int, list[tuple]] = {j: [("owner", j)] for j in range(k)}
    for suffix in SITE_SUFFIXES:
        ie, oe = tiles[suffix]
        n_out = oe[-1]
        for go in range(len(oe) - 1):
            j = home((oe[go] + oe[go + 1]) / 2 * c / n_out)
            homes[j] += [(suffix, gi, go) for gi in range(len(ie) - 1)]
        if suffix == "attn.qkv":  # the heads that the q/k/v tiles feed
            for h in range(len(h_edges) - 1):
                homes[home((h_edges[h] + h_edges[h + 1]) / 2)] += [
                    ("attention", h, s) for s in range(per_head)]
    return {key: n for n, key in enumerate(x for j in sorted(homes) for x in homes[j])}


def _placements(maps: dict[str, SiteMap], control: dict[str, tuple[int, ...]],
                c_edges: np.ndarray, att: Attention, cost: CoreCostModel,
                config: OptMapConfig) -> Mapping:
    """What every core holds: owners' vectors, tiles' weights and outputs, the KV cache (or
    the chunk buffers of a streamed one)."""
    program = cost.program_bytes("opt")
    out = [Placement(core, "channel_owner", program, {
        "vectors": OWNER_VECTORS * int(c_edges[j + 1] - c_edges[j]) * config.state_bytes})
        for j, core in enumerate(control[SUB_BLOCKS[0]])]
    for sm in maps.values():
        for gi in range(sm.in_splits):
            for go in range(sm.out_splits):
                out.append(Placement(sm.core(gi, go), f"{sm.site}.tiles", program, {
                    "weights": cost.weight_bytes(sm.rows(go) * sm.cols(gi)),
                    "outputs": sm.rows(go) * config.output_bytes}))
    buffers = (att.head_dim + 2) * config.output_bytes
    for h in range(att.heads):
        for s, core in enumerate(att.cores[h]):
            held = ({"kv_chunks": 2 * config.kv_chunk_bytes} if att.streamed
                    else {"kv_cache": att.cache_bytes(s)})
            out.append(Placement(core, "attention", program, {**held, "buffers": buffers}))
    out.sort(key=lambda p: p.core)
    summary = {"strategy": "dataflow", "cores": len(out),
               "control_cores": len(control[SUB_BLOCKS[0]]),
               "sites": {s: {"cores": m.n_cores, "in_splits": m.in_splits,
                             "out_splits": m.out_splits, "weight_bytes": m.weight_bytes}
                         for s, m in maps.items()},
               "attention": {"cores": att.heads * att.per_head, "per_head": att.per_head,
                             "context": att.context, "streamed": att.streamed,
                             "kv_cache_bytes": 2 * att.context * att.heads * att.head_dim
                             * att.value_bytes}}
    return Mapping(tuple(out), "dataflow", summary)
