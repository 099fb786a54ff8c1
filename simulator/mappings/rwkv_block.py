"""Mapping one RWKV-4 block onto cores: tiles of every linear layer, and the cores that own
a slice of the channels.

The weights of each of the seven linear layers are tiled over as many cores as they need (role
``<site>.tiles``): with row tiling each core holds every input column of a slice of output rows
(an input event is multicast to every core of the layer); with column tiling each core holds a
slice of input columns for every output (an event goes to one core; the partial sums of the
slices are combined on the first core of each output group). A row that does not fit one core
is split over inputs too, combined the same way. Three strategies place the element-wise work:

- ``dataflow`` (default): row tiles; each tile applies the stages that need only its own
  outputs (sigmoid of a receptance, squared ReLU and threshold of the Channel-Mix key) and
  sends on only the non-zero results. One *channel owner* per output slice of the C x C layers
  (role ``channel_owner``) keeps that slice's states and runs the stages that join several
  layers (WKV, the gates, residual adds, layer norm as a reduction tree); it sits on the core
  before the tiles whose outputs it owns, so a channel's k, v and r meet a hop or two away.
- ``rows`` / ``columns`` (the *gather* mappings): cores ``0..k-1`` run all Time-Mix
  element-wise work (role ``time_mix.ctrl``), cores ``k..2k-1`` all Channel-Mix work
  (``channel_mix.ctrl``), each owning a slice of the C channels and of the 4C key vector; ``k``
  is the fewest slices whose vectors fit one core (:func:`control_slices`). Every output of
  every layer travels back to them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal, get_args

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from models.rwkv_sites import SITE_SUFFIXES
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
from workloads.rwkv_ops import CHANNEL_MIX_KEY_VECTORS, CHANNEL_MIX_VECTORS, TIME_MIX_VECTORS
from workloads.trace import SiteSpec, TraceError

__all__ = ["BlockMap", "BlockMapConfig", "MappingError", "SiteMap", "map_block"]

Strategy = Literal["dataflow", "rows", "columns"]
#: the element-wise stages of a block (charged as ``ew.<stage>``)
ElementwiseStage = Literal["layer_norm", "token_shift", "threshold", "wkv", "sigmoid",
                           "squared_relu", "residual"]
ELEMENTWISE_STAGES: tuple[str, ...] = get_args(ElementwiseStage)
STRATEGIES: tuple[str, ...] = ("dataflow", "rows", "columns")
SUB_BLOCKS: tuple[str, ...] = ("time_mix", "channel_mix")
#: input and output domain of every site: C channels or the 4C Channel-Mix key vector
IN_DOMAIN = {s: "F" if s == "ffn.value" else "C" for s in SITE_SUFFIXES}
OUT_DOMAIN = {s: "F" if s == "ffn.key" else "C" for s in SITE_SUFFIXES}


class BlockMapConfig(BaseModel):
    """Choices of the mapping that are not hardware facts (``docs/rwkv-token.md``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Strategy = Field("dataflow", description="where element-wise work runs and how "
                               "layers are tiled (module docstring)")
    value_bits: int | None = Field(
        None, gt=0, description="payload of one event/output packet, one value (default: the "
        "chip's value width: 16-bit BF16 on SENECA, 32-bit float on SpiNNaker2)")
    output_bytes: int = Field(4, gt=0, description="bytes of one buffered output or partial sum")
    state_bytes: int = Field(4, gt=0, description="bytes of one element-wise state/parameter")
    omit_stages: tuple[ElementwiseStage, ...] = Field(
        (), description="element-wise stages whose work is not charged (an analytical "
        "study's omissions: Knunyants et al. 2025 leave out layer_norm); their messages "
        "still order the work")
    latency: Literal["simulated", "serial"] = Field(
        "simulated", description="simulated: the time the run takes; serial: the sum of the "
        "time of every operation charged to a core, as if one unit did all the work in "
        "sequence (an analytical study's assumption)")


def control_vectors(ch: int, f: int, dataflow: bool) -> tuple[int, int]:
    """Element-wise values a core keeps for ``ch`` channels (and ``f`` key elements), Time-Mix
    and Channel-Mix: apart in the gather mappings, together on a dataflow channel owner (whose
    4C key vector stays on the ``ffn.key`` tiles)."""
    tm, cm = TIME_MIX_VECTORS * ch, CHANNEL_MIX_VECTORS * ch + CHANNEL_MIX_KEY_VECTORS * f
    return (tm + CHANNEL_MIX_VECTORS * ch, 0) if dataflow else (tm, cm)


def control_slices(c: int, f: int, capacity: int, state_bytes: int,
                   dataflow: bool = False) -> int:
    """Fewest channel slices whose element-wise vectors fit one core."""
    k = 1
    while max(control_vectors(math.ceil(c / k), math.ceil(f / k), dataflow)
              ) * state_bytes > capacity:
        if k >= c:
            raise MappingError(f"one channel's control vectors do not fit {capacity} bytes")
        k += 1
    return k


def block_sites(sites: Sequence[SiteSpec]) -> dict[str, SiteSpec]:
    """The seven sites of one block by suffix (``att.key``, ...); raise if one is missing."""
    by_suffix = {(s.name.split(".", 2)[2] if s.name.startswith("blocks.") else s.name): s
                 for s in sites}
    missing = [s for s in SITE_SUFFIXES if s not in by_suffix]
    if missing:
        raise TraceError(f"the block lacks sites {missing}")
    return by_suffix


def map_block(sites: Sequence[SiteSpec], cost: CoreCostModel,
              config: BlockMapConfig | None = None) -> BlockMap:
    """Tile every linear layer of one block and place the cores (see the module docstring)."""
    config = config or BlockMapConfig()
    cap = cost.weight_capacity_bytes()
    wb = bytes_per_weight(cost)
    by_suffix = block_sites(sites)
    c, f = by_suffix["att.key"].size, by_suffix["ffn.value"].size
    tiling = "columns" if config.strategy == "columns" else "rows"
    tiles = {s: tile_edges(by_suffix[s].size, by_suffix[s].out_features, tiling, cap, wb,
                                 config.output_bytes, by_suffix[s].name) for s in SITE_SUFFIXES}
    if config.strategy == "dataflow":
        k = max(len(tiles["att.key"][1]) - 1,
                control_slices(c, 0, cap, config.state_bytes, dataflow=True))
        c_edges, f_edges = edges(c, k), edges(f, k)
        order = _dataflow_order(tiles, c_edges, c, f)
        control = dict.fromkeys(SUB_BLOCKS, tuple(order[("owner", j)] for j in range(k)))
    else:
        k = control_slices(c, f, cap, config.state_bytes)
        c_edges, f_edges = edges(c, k), edges(f, k)
        order, core = {}, 2 * k
        for suffix in SITE_SUFFIXES:
            ie, oe = tiles[suffix]
            for gi in range(len(ie) - 1):
                for go in range(len(oe) - 1):
                    order[(suffix, gi, go)] = core
                    core += 1
        control = {sub: tuple(range(n * k, (n + 1) * k)) for n, sub in enumerate(SUB_BLOCKS)}
    maps = site_maps({s: by_suffix[s] for s in SITE_SUFFIXES}, tiles, order, cost)
    n = len(order) + (0 if config.strategy == "dataflow" else 2 * k)
    feeds = {"ffn.value": "ffn.key"} if config.strategy == "dataflow" else {}
    return BlockMap(maps, n, config.strategy, k, {"C": c_edges, "F": f_edges}, IN_DOMAIN,
                    OUT_DOMAIN, feeds, control,
                    _placements(maps, n, control, c_edges, f_edges, cost, config))


def _dataflow_order(tiles: dict[str, tuple[np.ndarray, np.ndarray]], c_edges: np.ndarray,
                    c: int, f: int) -> dict[tuple, int]:
    """Core of every owner and tile: owner ``j``, then the tiles whose outputs (scaled to the
    C channels for the 4C key) fall mostly in slice ``j``, layer by layer. Spreading the 4C
    layers over the whole chip this way also keeps their multicast trees smaller than a
    compact region of them would (measured: 114k against 134k hops per token, 3B on SENECA)."""
    homes: dict[int, list[tuple]] = {j: [("owner", j)] for j in range(len(c_edges) - 1)}
    for suffix in SITE_SUFFIXES:
        ie, oe = tiles[suffix]
        scale = c / f if OUT_DOMAIN[suffix] == "F" else 1.0
        for go in range(len(oe) - 1):
            mid = (oe[go] + oe[go + 1]) / 2 * scale
            j = min(int(np.searchsorted(c_edges, mid, side="right")) - 1, len(c_edges) - 2)
            homes[j] += [(suffix, gi, go) for gi in range(len(ie) - 1)]
    return {key: n for n, key in enumerate(k for j in sorted(homes) for k in homes[j])}


def _placements(maps: dict[str, SiteMap], n: int, control: dict[str, tuple[int, ...]],
                c_edges: np.ndarray, f_edges: np.ndarray, cost: CoreCostModel,
                config: BlockMapConfig) -> Mapping:
    """What every core holds: element-wise vectors, or a tile's weights and output buffer."""
    program = cost.program_bytes("rwkv")
    dataflow = config.strategy == "dataflow"
    out: list[Placement] = []
    for n_sub, sub in enumerate(SUB_BLOCKS):
        if dataflow and n_sub:
            break  # one owner serves both sub-blocks
        for j, core in enumerate(control[sub]):
            vectors = control_vectors(int(c_edges[j + 1] - c_edges[j]),
                                      int(f_edges[j + 1] - f_edges[j]), dataflow)[n_sub]
            role = "channel_owner" if dataflow else f"{sub}.ctrl"
            out.append(Placement(core, role, program, {"vectors": vectors * config.state_bytes}))
    for sm in maps.values():
        for gi in range(sm.in_splits):
            for go in range(sm.out_splits):
                out.append(Placement(sm.core(gi, go), f"{sm.site}.tiles", program, {
                    "weights": cost.weight_bytes(sm.rows(go) * sm.cols(gi)),
                    "outputs": sm.rows(go) * config.output_bytes}))
    out.sort(key=lambda p: p.core)
    summary = {"strategy": config.strategy, "cores": n,
               "control_cores": len({c for cores in control.values() for c in cores}),
               "sites": {s: {"cores": m.n_cores, "in_splits": m.in_splits,
                             "out_splits": m.out_splits, "weight_bytes": m.weight_bytes}
                         for s, m in maps.items()}}
    return Mapping(tuple(out), config.strategy, summary)
