"""A single-chip system of cores on a 2-D mesh NoC: SENECA's shape, and a base for new chips.

Each core has a banked data memory (:class:`~simulator.components.Sram`) and a program
memory of ``program_capacity`` bytes; ``reserve_bytes`` of data memory are kept back for the
runtime (stack, event queues). Cores sit on the mesh row by row with dimension-order routing;
input from outside the chip enters at the ``host_node`` router. Optionally (``dram`` and
``dma``) every core has a DMA engine and the system one memory outside the cores that all of
them share (``dram_of``; SENECA's shared HBM or STT-MRAM). A new chip of this shape needs only
its cost model and the numbers for :func:`build_mesh` (``docs/architecture.md``, "add a chip").
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simulator.chips.memory import CoreMemoryError, MemoryFit, fit_regions
from simulator.chips.work import CoreCostModel
from simulator.components import (
    Core,
    CoreConfig,
    Dma,
    DmaConfig,
    Dram,
    DramConfig,
    Noc,
    NocConfig,
    Sram,
    SramConfig,
    Tail,
    mesh_graph,
)
from simulator.components.core import Handler
from simulator.engine import Engine
from simulator.ledger import Tags
from simulator.timeline import Timeline

#: data-memory region a system keeps back for the runtime
RESERVED_REGION = "reserved"
#: NoC endpoint of the host interface
HOST = "host"
#: component name of the memory outside the cores that they all share
SHARED_MEMORY = "shared_mem"


def core_name(i: int) -> str:
    return f"core{i}"


def near_square(n_cores: int) -> tuple[int, int]:
    """(columns, rows) of the smallest near-square mesh holding ``n_cores``."""
    n = max(1, n_cores)
    cols = math.ceil(math.sqrt(n))
    return cols, math.ceil(n / cols)


@dataclass
class MeshSystem:
    """Cores on one mesh NoC (implements :class:`~simulator.chips.system.System`)."""

    engine: Engine
    cost: CoreCostModel
    cores: list[Core]
    noc: Noc
    program_capacity: int
    reserve_bytes: int
    word_bytes: int
    #: the memory outside the cores they all share, by DMA (``None``: not modelled)
    shared_memory: Dram | None = None

    @property
    def networks(self) -> list[Noc]:
        return [self.noc]

    @property
    def has_host_port(self) -> bool:
        """Input from outside the chip enters at the host node's router."""
        return True

    @property
    def board(self) -> None:
        return None

    @property
    def n_chips(self) -> int:
        return 1

    @property
    def value_bits(self) -> int:
        return int(self.cost.value_bits)

    def send(self, src: int, dsts: Sequence[int], payload_bits: int, data: Any = None,
             tags: Tags = (), count: int = 1, spacing: int = 0, tail: Tail | None = None
             ) -> None:
        cores = self.cores
        if tail is not None:
            tail = Tail(tail.data, tuple(cores[d].name for d in tail.dsts))
        self.noc.send(cores[src].name, [cores[d].name for d in dsts], payload_bits, data, tags,
                      count, spacing, tail)

    def send_from_host(self, dsts: Sequence[int], payload_bits: int, data: Any = None,
                       tags: Tags = (), count: int = 1) -> None:
        self.noc.send(HOST, [self.cores[d].name for d in dsts], payload_bits, data, tags, count)

    def load(self, core: int, program_bytes: int, regions: Mapping[str, int],
             check_only: bool = False) -> MemoryFit:
        sram = self.cores[core].sram
        data = {RESERVED_REGION: self.reserve_bytes, **regions} if self.reserve_bytes else dict(
            regions)
        fit = fit_regions(self.cores[core].name, program_bytes, self.program_capacity, data,
                          sram.config.total_bytes, self.word_bytes)
        if check_only:
            return fit
        if not fit.fits:
            raise CoreMemoryError(fit)
        for region, nbytes in fit.data.items():
            sram.allocate(region, nbytes)
        return fit

    def dram_of(self, core: int) -> Dram | None:
        return self.shared_memory

    def chip_of(self, core: int) -> int:
        return 0


def build_mesh(
    n_cores: int,
    handler: Handler | Sequence[Handler],
    cost: CoreCostModel,
    *,
    noc: NocConfig,
    mesh: tuple[int, int] | None,
    host_node: tuple[int, int],
    sram: SramConfig,
    core: CoreConfig,
    program_capacity: int,
    reserve_bytes: int,
    dram: DramConfig | None = None,
    dma: DmaConfig | None = None,
    timeline: Timeline | None = None,
    record_deliveries: bool = False,
) -> MeshSystem:
    """``n_cores`` cores on a ``mesh`` (columns, rows; ``None``: near-square) in a fresh
    :class:`Engine` at the cost model's clock; with ``dma`` each core has a DMA engine, with
    ``dram`` the system one shared memory (component ``shared_mem``) that they reach."""
    if n_cores < 0:
        raise ValueError(f"n_cores must be >= 0, got {n_cores}")
    handlers = list(handler) if isinstance(handler, Sequence) else [handler] * n_cores
    if len(handlers) != n_cores:
        raise ValueError(f"{len(handlers)} handlers for {n_cores} cores")
    cols, rows = mesh or near_square(n_cores)
    if cols * rows < n_cores:
        raise ValueError(f"{n_cores} cores do not fit the configured {cols} x {rows} mesh")
    engine = Engine(cost.clock_hz, timeline=timeline)
    net = Noc(engine, "noc", noc, mesh_graph(cols, rows), record_deliveries)
    host = tuple(host_node)
    if host not in net.graph:
        raise ValueError(f"host port {host} is outside the {cols} x {rows} mesh")
    net.attach(HOST, host, _host_receives)
    shared = Dram(engine, SHARED_MEMORY, dram) if dram is not None else None
    cores = []
    for i in range(n_cores):
        name = core_name(i)
        memory = Sram(engine, f"{name}.data_mem", sram)
        engine_dma = Dma(engine, f"{name}.dma", dma, memory) if dma is not None else None
        cores.append(Core(engine, name, core, handlers[i], net, (i % cols, i // cols), memory,
                          engine_dma))
    return MeshSystem(engine, cost, cores, net, program_capacity, reserve_bytes,
                      sram.word_bytes, shared)


def _host_receives(packet: Any) -> None:
    raise RuntimeError(f"a packet was sent to the host port: {packet!r}")
