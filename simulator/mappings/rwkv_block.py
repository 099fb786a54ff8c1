"""Mapping one RWKV-4 block onto cores: control slices, and tiles of every linear layer.

Cores ``0..k-1`` run the Time-Mix element-wise work (role ``time_mix.ctrl``), cores
``k..2k-1`` the Channel-Mix element-wise work (``channel_mix.ctrl``), each owning a slice of
the C channels and of the 4C key vector; ``k`` is the fewest slices whose vectors fit one core
(:func:`control_slices`). The weights of each of the seven linear layers are tiled over as many
further cores as they need (role ``<site>.tiles``): with the ``rows`` strategy each core holds
every input column of a slice of output rows (an input event is multicast to every core of the
layer); with ``columns`` each core holds a slice of input columns for every output (an event
goes to one core; the partial sums of the slices are combined on the first core of each output
group). A row that does not fit one core is split over inputs too, combined the same way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from models.rwkv_sites import SITE_SUFFIXES
from simulator.chips.work import CoreCostModel
from simulator.ledger import Tags, tags
from simulator.mapping import Mapping, Placement
from workloads.rwkv_ops import CHANNEL_MIX_KEY_VECTORS, CHANNEL_MIX_VECTORS, TIME_MIX_VECTORS
from workloads.trace import SiteSpec, TraceError

Strategy = Literal["rows", "columns"]
STRATEGIES: tuple[str, ...] = ("rows", "columns")
SUB_BLOCKS: tuple[str, ...] = ("time_mix", "channel_mix")
#: input and output domain of every site: C channels or the 4C Channel-Mix key vector
IN_DOMAIN = {s: "F" if s == "ffn.value" else "C" for s in SITE_SUFFIXES}
OUT_DOMAIN = {s: "F" if s == "ffn.key" else "C" for s in SITE_SUFFIXES}
#: weights over which packed formats (several weights per memory word) are measured
_PACKING = 4096


class BlockMapConfig(BaseModel):
    """Choices of the mapping that are not hardware facts (``docs/rwkv-token.md``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    strategy: Strategy = "rows"
    value_bits: int | None = Field(
        None, gt=0, description="payload of one event/output packet, one value (default: the "
        "chip's value width: 16-bit BF16 on SENECA, 32-bit float on SpiNNaker2)")
    output_bytes: int = Field(4, gt=0, description="bytes of one buffered output or partial sum")
    state_bytes: int = Field(4, gt=0, description="bytes of one element-wise state/parameter")


class MappingError(ValueError):
    """The block cannot be mapped (a tile's outputs alone exceed a core's memory)."""


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
    """The whole block: ``slices`` control cores per sub-block, then every layer's tiles."""

    sites: dict[str, SiteMap]
    n_cores: int
    strategy: str
    slices: int
    c_edges: np.ndarray
    f_edges: np.ndarray
    mapping: Mapping

    def ctrl(self, sub: str, j: int) -> int:
        return SUB_BLOCKS.index(sub) * self.slices + j

    def edges(self, domain: str) -> np.ndarray:
        return self.f_edges if domain == "F" else self.c_edges

    def slice_size(self, domain: str, j: int) -> int:
        e = self.edges(domain)
        return int(e[j + 1] - e[j])

    def tiles(self) -> dict[int, tuple[SiteMap, int, int]]:
        """Core -> (layer, input slice, output slice) of every tile core."""
        return {sm.core(gi, go): (sm, gi, go) for sm in self.sites.values()
                for gi in range(sm.in_splits) for go in range(sm.out_splits)}


def edges(n: int, parts: int) -> np.ndarray:
    """``parts`` contiguous slices of ``range(n)`` whose sizes differ by at most one."""
    return np.round(np.linspace(0, n, parts + 1)).astype(np.int64)


def overlap(a: np.ndarray, i: int, b: np.ndarray, j: int) -> int:
    """Elements slice ``i`` of edges ``a`` shares with slice ``j`` of edges ``b``."""
    return max(0, int(min(a[i + 1], b[j + 1]) - max(a[i], b[j])))


def control_slices(c: int, f: int, capacity: int, state_bytes: int) -> int:
    """Fewest channel slices whose control vectors fit one core."""
    k = 1
    while max(TIME_MIX_VECTORS * math.ceil(c / k),
              CHANNEL_MIX_VECTORS * math.ceil(c / k) + CHANNEL_MIX_KEY_VECTORS * math.ceil(f / k)
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
    """Tile every linear layer of one block (see the module docstring)."""
    config = config or BlockMapConfig()
    cap = cost.weight_capacity_bytes()
    wb = cost.weight_bytes(_PACKING) / _PACKING  # bytes per weight; packed formats share words
    ob = config.output_bytes
    by_suffix = block_sites(sites)
    c, f = by_suffix["att.key"].size, by_suffix["ffn.value"].size
    k = control_slices(c, f, cap, config.state_bytes)
    maps: dict[str, SiteMap] = {}
    core = 2 * k
    for suffix in SITE_SUFFIXES:
        spec = by_suffix[suffix]
        n_in, n_out = spec.size, spec.out_features
        if config.strategy == "rows":
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
        m = SiteMap(suffix, spec.group, n_in, n_out, edges(n_in, in_splits),
                    edges(n_out, out_splits), core, cost.weight_bytes(n_in * n_out))
        maps[suffix] = m
        core += m.n_cores
    c_edges, f_edges = edges(c, k), edges(f, k)
    return BlockMap(maps, core, config.strategy, k, c_edges, f_edges,
                    _placements(maps, core, k, c_edges, f_edges, cost, config))


def _placements(maps: dict[str, SiteMap], n: int, k: int, c_edges: np.ndarray,
                f_edges: np.ndarray, cost: CoreCostModel, config: BlockMapConfig) -> Mapping:
    """What every core holds: control vectors, or a tile's weights and output buffer."""
    program = cost.program_bytes("rwkv")
    out: list[Placement] = []
    for i in range(2 * k):
        j = i % k
        ch = int(c_edges[j + 1] - c_edges[j])
        vectors = TIME_MIX_VECTORS * ch if i < k else (
            CHANNEL_MIX_VECTORS * ch + CHANNEL_MIX_KEY_VECTORS * int(f_edges[j + 1] - f_edges[j]))
        out.append(Placement(i, f"{SUB_BLOCKS[i // k]}.ctrl", program,
                             {"vectors": vectors * config.state_bytes}))
    for sm in maps.values():
        for gi in range(sm.in_splits):
            for go in range(sm.out_splits):
                out.append(Placement(sm.core(gi, go), f"{sm.site}.tiles", program, {
                    "weights": cost.weight_bytes(sm.rows(go) * sm.cols(gi)),
                    "outputs": sm.rows(go) * config.output_bytes}))
    out.sort(key=lambda p: p.core)
    summary = {"strategy": config.strategy, "cores": n, "control_cores": 2 * k,
               "sites": {s: {"cores": m.n_cores, "in_splits": m.in_splits,
                             "out_splits": m.out_splits, "weight_bytes": m.weight_bytes}
                         for s, m in maps.items()}}
    return Mapping(tuple(out), config.strategy, summary)
