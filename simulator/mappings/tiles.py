"""Tiling the linear layers of a block over cores, and the block map every block program reads.

A linear layer of ``out x in`` weights is cut into ``in_splits x out_splits`` tiles on
consecutive cores (:func:`tile_edges`): with row tiling a core holds every input column of a
slice of output rows, so an input event is multicast to every core of an input group; with
column tiling a core holds a slice of input columns for every output, and the partial sums of
the slices are combined on the first core of each output group. :class:`BlockMap` adds what a
block's program needs beyond its layers: the *domains* of values (the C channels, an FFN's F
hidden units, attention heads) cut into the slices that produce or own them, which domain each
layer reads and writes, and which layer's tiles feed another's inputs directly.
"""

from __future__ import annotations

import math
from collections import abc
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from simulator.errors import UserError
from simulator.ledger import Tags, tags
from simulator.mapping import Mapping

if TYPE_CHECKING:
    from simulator.chips.work import CoreCostModel
    from workloads.trace import SiteSpec


class MappingError(UserError, ValueError):
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
    cores: np.ndarray  # core of tile (g_in, g_out), shape (in_splits, out_splits)
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
        return int(self.cores[g_in, g_out])

    def group_cores(self, g_in: int) -> list[int]:
        """Cores holding input slice ``g_in`` (every output slice): one event goes to all."""
        return [int(c) for c in self.cores[g_in]]

    def rows(self, g_out: int) -> int:
        return int(self.out_edges[g_out + 1] - self.out_edges[g_out])

    def cols(self, g_in: int) -> int:
        return int(self.in_edges[g_in + 1] - self.in_edges[g_in])

    @cached_property
    def tags(self) -> Tags:
        return tags(sub_block=self.sub_block, site=self.site)

    @cached_property
    def partial_tags(self) -> Tags:
        """Combining partial sums is tagged apart: it is the price of splitting inputs."""
        return tags(sub_block=self.sub_block, site=f"{self.site}.partial_sums")


@dataclass(frozen=True)
class BlockMap:
    """A whole block: every layer's tiles; per sub-block, the cores owning the channel slices
    (``slices`` of them, ``control[sub][j]``); the slices of every value domain; and which
    domain each layer reads (``in_domain``) and writes (``out_domain``), unless its inputs
    come straight from another layer's tiles (``feeds``: layer -> producing layer)."""

    sites: dict[str, SiteMap]
    n_cores: int
    strategy: str
    slices: int
    domains: dict[str, np.ndarray]
    in_domain: dict[str, str]
    out_domain: dict[str, str]
    feeds: dict[str, str]
    control: dict[str, tuple[int, ...]]
    mapping: Mapping

    @property
    def dataflow(self) -> bool:
        return self.strategy == "dataflow"

    @property
    def c_edges(self) -> np.ndarray:
        return self.domains["C"]

    @property
    def f_edges(self) -> np.ndarray:
        return self.domains["F"]

    def ctrl(self, sub: str, j: int) -> int:
        return self.control[sub][j]

    def edges(self, domain: str) -> np.ndarray:
        return self.domains[domain]

    def input_edges(self, site: str) -> np.ndarray:
        """Slices in which the inputs of ``site`` are produced: its domain's slices, or the
        output slices of the layer that feeds it."""
        if site in self.feeds:
            return self.sites[self.feeds[site]].out_edges
        return self.domains[self.in_domain[site]]

    def slice_size(self, domain: str, j: int) -> int:
        e = self.domains[domain]
        return int(e[j + 1] - e[j])

    def tiles(self) -> dict[int, tuple[SiteMap, int, int]]:
        """Core -> (layer, input slice, output slice) of every tile core."""
        return {sm.core(gi, go): (sm, gi, go) for sm in self.sites.values()
                for gi in range(sm.in_splits) for go in range(sm.out_splits)}


def site_maps(specs: abc.Mapping[str, SiteSpec],
              tiles: abc.Mapping[str, tuple[np.ndarray, np.ndarray]],
              order: abc.Mapping[tuple, int], cost: CoreCostModel) -> dict[str, SiteMap]:
    """Every layer's :class:`SiteMap` (by suffix): its tile edges, and the core ``order``
    gives each tile ``(suffix, g_in, g_out)``."""
    maps = {}
    for suffix, spec in specs.items():
        ie, oe = tiles[suffix]
        grid = np.array([[order[(suffix, gi, go)] for go in range(len(oe) - 1)]
                         for gi in range(len(ie) - 1)], dtype=np.int64)
        maps[suffix] = SiteMap(suffix, spec.group, spec.size, spec.out_features, ie, oe, grid,
                               cost.weight_bytes(spec.size * spec.out_features))
    return maps


def bytes_per_weight(cost: CoreCostModel) -> float:
    """Bytes one dense weight takes, measured over many so that packed formats (several
    weights per memory word) count their share of a word."""
    return cost.weight_bytes(_PACKING) / _PACKING


#: weights over which :func:`bytes_per_weight` measures
_PACKING = 4096


def edges(n: int, parts: int) -> np.ndarray:
    """``parts`` contiguous slices of ``range(n)`` whose sizes differ by at most one."""
    return np.round(np.linspace(0, n, parts + 1)).astype(np.int64)


def overlap(a: np.ndarray, i: int, b: np.ndarray, j: int) -> int:
    """Elements slice ``i`` of edges ``a`` shares with slice ``j`` of edges ``b``."""
    return max(0, int(min(a[i + 1], b[j + 1]) - max(a[i], b[j])))


def tile_edges(n_in: int, n_out: int, tiling: str, cap: float, wb: float, ob: int,
               name: str) -> tuple[np.ndarray, np.ndarray]:
    """Input and output edges of the tiles of one ``n_out x n_in`` layer: ``cap`` bytes per
    core, ``wb`` bytes per weight, ``ob`` bytes per buffered output."""
    if tiling == "rows":
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
        raise MappingError(f"{name}: one tile does not fit {cap} bytes of a core")
    return edges(n_in, in_splits), edges(n_out, out_splits)
