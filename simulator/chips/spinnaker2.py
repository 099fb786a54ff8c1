"""SpiNNaker2 as modelled: PE cost model, per-PE memory check, and a system builder.

Everything numeric comes from ``calibration/spinnaker2.yaml`` (see ``docs/hardware.md``).

**PE.** An Arm Cortex-M4F whose work is priced per instruction class (load/store, integer,
FP, FP MAC, branch, interrupt entry/exit, exp accelerator): one instruction costs its cycles x
``pe_cycle_energy`` of the operating point, plus the data-SRAM words it touches. Software
routines (a CSR column walk, a packet-arrival interrupt, an element-wise op) are instruction
counts per class in the table's ``kernels``. :class:`Spinnaker2Cost` implements
:class:`~simulator.chips.work.CoreCostModel`; the MAC accelerator (``use_mla``, INT8 only) and
the exp accelerator (``use_exp_accelerator``) are switched per workload. A PE in WFI sleep
draws ``pe_sleep_power`` (its static power, charged over all simulated time); busy cycles add
their dynamic energy.

**Memory.** 128 KiB in 4 banks of 32 KiB; ``program_banks`` (default 1) hold code, the rest is
data (96 KiB). A PE holds its program, the stack/debug area, weights and variables against
that split (the stack/debug area kept back); :meth:`Spinnaker2System.load` checks and
allocates them in the PE's ``Sram`` and raises ``CoreMemoryError`` naming the bytes missing.

**Chip.** 152 PEs = 38 QPEs of 4 on the QPE sites of SpiNNMachine's ``QUAD_MAP`` (7 x 6 sites
minus the four taken by the event router and periphery). The data NoC is that irregular mesh;
dimension-order routing fails across the holes, so routes are shortest paths from one
breadth-first tree per source (what the chip's lookup-table routing can express; multicast
routes then merge into trees). The four PEs of a QPE share its router. PEs are placed on QPE
sites in a column snake, so consecutive PEs are neighbours. Unused PEs are powered off; the
periphery (NoC, always-on) draws ``periphery_power`` per chip. One LPDDR4 (``Dram``) per chip,
reached by each PE's ``Dma``.

**Several chips.** ``n_pes`` above 152 spans ``ceil(n / 152)`` chips on a triangular lattice
(6 links per chip). Each chip has a gateway endpoint at ``board.gateway_qpe``; a packet for PEs
on other chips goes to the gateway, over the board network (slower, costlier links), and is
multicast again on each destination chip. :meth:`Spinnaker2System.send` hides this.

**Builder.** ::

    system = build_spinnaker2(n_pes, handler, Spinnaker2Cost(level="0.8V"))
    system.engine            # Engine at the PE clock of the level (time unit: one PE cycle)
    system.cores[i]          # Core "pe{i}" with .sram, .dma, .noc (its chip's NoC)
    system.cost              # Spinnaker2Cost: Work of one action on one PE
    system.send(i, [j, k], payload_bits=32, data=...)   # unicast/multicast, across chips too
    system.load(i, program_bytes, {"weights": ...})     # memory check + allocation

``handler(core, item)`` is the program of every PE (or pass one handler per PE); packets and
DMA completions reach it through the core's inbox, i.e. as interrupts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import networkx as nx
import numpy as np
from pydantic import BaseModel, ConfigDict

from calibration.spinnaker2 import DEFAULT_PATH, Spinnaker2Config, load_spinnaker2
from models.csr import csr_footprint_bytes
from simulator.chips.memory import CoreMemoryError, MemoryFit, fit_regions
from simulator.chips.registry import ChipSpec
from simulator.chips.specs import noc_config
from simulator.chips.work import Charge, Work
from simulator.components import (
    Component,
    Core,
    CoreConfig,
    Dma,
    DmaConfig,
    Dram,
    DramConfig,
    Noc,
    NocConfig,
    Packet,
    Sram,
    SramConfig,
    Tail,
)
from simulator.components.core import Handler
from simulator.engine import Engine
from simulator.ledger import Category, Tags
from simulator.timeline import Timeline

DEFAULT_LEVEL = "0.5V"
ELEMENTWISE_OPS = ("add", "sub", "mul", "div", "exp", "sigmoid", "tanh", "max", "compare",
                   "sqrt", "copy")
_ALU_OPS = {"add", "sub", "mul", "max", "compare"}
_INT8_BYTES = 1


# -- cost model ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Class:
    cycles: float
    energy_per_cycle_pj: float
    sram_reads: float
    sram_writes: float
    category: Category


class Spinnaker2Options(BaseModel):
    """Choices that are not hardware facts: the operating point (DVFS level of the table),
    the weight precision, and which accelerators the software uses."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    level: str = DEFAULT_LEVEL
    precision: Literal["fp32", "int8"] = "fp32"
    use_mla: bool = False
    use_exp_accelerator: bool = True


class Spinnaker2Cost:
    """Work of one action on one SpiNNaker2 PE (implements ``CoreCostModel``)."""

    def __init__(
        self,
        config: Spinnaker2Config | None = None,
        level: str = DEFAULT_LEVEL,
        *,
        precision: Literal["fp32", "int8"] = "fp32",
        use_mla: bool = False,
        use_exp_accelerator: bool = True,
    ) -> None:
        cfg = config or load_spinnaker2()
        if use_mla and precision != "int8":
            raise ValueError("the MAC accelerator multiplies 8-bit operands: use precision='int8'")
        self.config, self.level = cfg, level
        self.precision, self.use_mla = precision, use_mla
        self.use_exp_accelerator = use_exp_accelerator
        op = cfg.level(level)
        self.op = op
        self.clock_hz = int(op.clock.value)
        self.value_bits = 8 * int(cfg.software.float_bytes.value)  # one float32 activation
        e_cycle = op.pe_cycle_energy.value
        self._classes = {
            name: _Class(ic.cycles.value, ic.relative_energy.value * e_cycle,
                         ic.sram_reads.value, ic.sram_writes.value, Category(ic.category))
            for name, ic in cfg.instruction_classes.items()
        }
        self._e_read, self._e_write = op.sram_read_energy.value, op.sram_write_energy.value
        self.kernels = {
            k: {c: v.value for c, v in counts.items()} for k, counts in cfg.kernels.items()
        }
        self._csr: dict[int, Work] = {}

    # -- primitives ---------------------------------------------------------------------------
    def kernel_cycles(self, kernel: str) -> float:
        """Cycles of one run of a software routine of the table."""
        return sum(n * self._classes[c].cycles for c, n in self.kernels[kernel].items())

    def instructions(self, counts: Mapping[str, float], label: str = "work") -> Work:
        """Work of executing ``counts`` instructions per class: one charge per class on the
        ``cpu`` unit, plus data-SRAM reads/writes on the ``sram`` unit (their time is inside the
        instructions' cycles, so the SRAM lines carry no cycles)."""
        charges = []
        cycles = reads = writes = 0.0
        for name, n in counts.items():
            if not n:
                continue
            c = self._classes[name]
            cyc = n * c.cycles
            cycles += cyc
            reads += n * c.sram_reads
            writes += n * c.sram_writes
            charges.append(Charge("cpu", name, c.category, n, cyc, cyc * c.energy_per_cycle_pj))
        if reads:
            charges.append(Charge("sram", "read", Category.MEMORY, reads, 0, reads * self._e_read))
        if writes:
            charges.append(Charge("sram", "write", Category.MEMORY, writes, 0,
                                  writes * self._e_write))
        return Work(tuple(charges), math.ceil(cycles - 1e-9), label)

    def kernel(self, name: str, n: float = 1, label: str | None = None) -> Work:
        """``n`` runs of the table's software routine ``name``."""
        return self.instructions({c: k * n for c, k in self.kernels[name].items()}, label or name)

    # -- CoreCostModel ------------------------------------------------------------------------
    def column(self, n_weights: int) -> Work:
        if self.use_mla:
            return self.mla_matmul(n_weights)
        return self.instructions(_combine(self.kernels["dense_column_start"], 1,
                                          self.kernels["dense_column_weight"], n_weights),
                                 "column")

    def csr_column(self, nnz: int) -> Work:
        work = self._csr.get(nnz)
        if work is None:
            work = self._csr[nnz] = self.instructions(
                _combine(self.kernels["csr_column_start"], 1, self.kernels["csr_column_nnz"], nnz),
                "csr_column")
        return work

    def csr_columns(self, nnz: np.ndarray) -> Work:
        """Walks of several CSR columns in one action: the sum of :meth:`csr_column` over
        ``nnz`` (same charges and cycles), computed in one go."""
        nnz = np.asarray(nnz)
        if nnz.size == 0:
            return Work(label="csr_columns")
        a = self.kernel_cycles("csr_column_start")
        b = self.kernel_cycles("csr_column_nnz")
        cycles = int(np.ceil(a + b * nnz - 1e-9).sum())
        work = self.instructions(_combine(self.kernels["csr_column_start"], nnz.size,
                                          self.kernels["csr_column_nnz"], int(nnz.sum())),
                                 "csr_columns")
        return Work(work.charges, cycles, "csr_columns")

    def elementwise(self, op: str, n: int) -> Work:
        if op in _ALU_OPS:
            return self.kernel("elementwise_alu", n, op)
        if op in ("div", "sqrt"):
            return self.kernel("elementwise_div", n, op)
        if op == "copy":
            return self.kernel("elementwise_copy", n, op)
        exp = self.kernel("exp_accelerated" if self.use_exp_accelerator else "exp_software", n,
                          "exp")
        if op == "exp":
            return exp + self.kernel("elementwise_copy", n, op)
        if op == "sigmoid":  # 1 / (1 + exp(-x))
            return exp + self.kernel("elementwise_alu", n) + self.kernel("elementwise_div", n)
        if op == "tanh":  # 2 / (1 + exp(-2x)) - 1
            return exp + self.kernel("elementwise_alu", 3 * n) + self.kernel("elementwise_div", n)
        raise ValueError(f"unknown element-wise op {op!r}; SpiNNaker2 offers {ELEMENTWISE_OPS}")

    def receive_event(self) -> Work:
        return self.kernel("receive_event")

    def send_events(self, n: int) -> Work:
        return self.kernel("send_event", n, "send_events")

    def weight_bytes(self, n_weights: int) -> int:
        float_bytes = int(self.config.software.float_bytes.value)
        per = _INT8_BYTES if self.precision == "int8" else float_bytes
        return n_weights * per

    def weight_capacity_bytes(self) -> int:
        """Data memory minus the stack/debug reserve."""
        return data_capacity(self.config) - reserve_bytes(self.config)

    def csr_bytes(self, nnz: int, offsets: int) -> int:
        """A CSR matrix in 32-bit words, as the paper stores it: float values, 32-bit indices
        and ``offsets`` + 1 offsets."""
        word = int(self.config.sram.word_bytes.value)
        return csr_footprint_bytes(int(nnz), int(offsets), self.weight_bytes(1), word, word)

    def program_bytes(self, workload: str) -> int:
        """The published program size for ``workload`` (the EGRU LM's, Nazeer et al. 2024
        Table I); other workloads' are not published: 0."""
        return int(self.config.software.egru_program_bytes.value) if workload == "egru" else 0

    def static_power_w(self) -> float:
        return self.op.pe_sleep_power.value

    # -- accelerators and DMA -----------------------------------------------------------------
    def mla_matmul(self, macs: int) -> Work:
        """``macs`` 8-bit MACs on the MAC accelerator: set-up by the core, then the array at its
        sustained rate while the core sleeps until the completion interrupt."""
        mla = self.config.mla
        rate = mla.macs_per_cycle.value * mla.sustained_fraction.value
        cycles = math.ceil(macs / rate - 1e-9)
        energy = macs * self.op.mla_mac_energy.value
        return self.kernel("mla_setup") + Work(
            (Charge("mla", "mac_int8", Category.COMPUTATION, macs, cycles, energy),), cycles,
            "mla")

    def dma_setup(self) -> Work:
        """The core writing one DMA descriptor (the engine's own latency is the ``Dma``'s)."""
        return self.kernel("dma_setup")


def _combine(a: Mapping[str, float], na: float, b: Mapping[str, float], nb: float) -> dict:
    out = {c: v * na for c, v in a.items()}
    for c, v in b.items():
        out[c] = out.get(c, 0.0) + v * nb
    return out


# -- memory -------------------------------------------------------------------------------------
def program_capacity(cfg: Spinnaker2Config) -> int:
    return int(cfg.sram.program_banks.value * cfg.sram.bank_bytes.value)


def data_capacity(cfg: Spinnaker2Config) -> int:
    return int((cfg.sram.banks.value - cfg.sram.program_banks.value) * cfg.sram.bank_bytes.value)


def reserve_bytes(cfg: Spinnaker2Config) -> int:
    """Data memory every PE keeps back for stack and debug (Table I of the EGRU LM paper)."""
    return int(cfg.software.egru_debug_stack_bytes.value)


#: region of a PE's data memory kept back for stack and debug
RESERVED_REGION = "stack_debug"


# -- topology -----------------------------------------------------------------------------------
def chip_graph(cfg: Spinnaker2Config) -> nx.Graph:
    """The data NoC of one chip: QPE sites of ``QUAD_MAP`` linked to their 4 neighbours."""
    g = nx.grid_2d_graph(range(1, int(cfg.chip.qpe_grid.columns.value) + 1),
                         range(1, int(cfg.chip.qpe_grid.rows.value) + 1))
    g.remove_nodes_from(cfg.chip.qpe_grid.missing)
    return g


def board_graph(n_chips: int) -> nx.Graph:
    """Chips on a triangular lattice (6 links each), filled row by row."""
    width = max(1, math.ceil(math.sqrt(n_chips)))
    pos = {c: (c % width, c // width) for c in range(n_chips)}
    at = {p: c for c, p in pos.items()}
    g = nx.Graph()
    g.add_nodes_from(range(n_chips))
    for c, (x, y) in pos.items():
        for dx, dy in ((1, 0), (0, 1), (1, 1)):
            if (x + dx, y + dy) in at:
                g.add_edge(c, at[(x + dx, y + dy)])
    return g


def pe_name(i: int) -> str:
    return f"pe{i}"


def gateway_name(chip: int) -> str:
    return f"chip{chip}.gateway"


# -- system -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Relay:
    """A packet on its way to PEs of other chips, via the gateways: the train to ``dsts``, and
    its last packet, carrying ``tail_data``, to ``tail_dsts`` as well (both by chip)."""

    data: Any
    dsts: dict[int, tuple[str, ...]]
    payload_bits: int
    tags: Tags
    count: int = 1
    spacing: int = 0
    tail_data: Any = None
    tail_dsts: dict[int, tuple[str, ...]] = field(default_factory=dict)


@dataclass
class Spinnaker2System:
    """PEs on one or more chips (implements :class:`~simulator.chips.system.System`)."""

    engine: Engine
    config: Spinnaker2Config
    cost: Spinnaker2Cost
    cores: list[Core] = field(default_factory=list)
    nocs: list[Noc] = field(default_factory=list)
    drams: list[Dram] = field(default_factory=list)
    board: Noc | None = None
    #: (src, dsts) -> (chip, src name, local PEs, remote PEs by chip): see _split
    _routes: dict = field(default_factory=dict, repr=False)

    @property
    def networks(self) -> list[Noc]:
        return [*self.nocs, *([self.board] if self.board else [])]

    @property
    def value_bits(self) -> int:
        return self.cost.value_bits

    @cached_property
    def pes_per_chip(self) -> int:
        return int(self.config.chip.pes_per_chip.value)

    @property
    def n_chips(self) -> int:
        return len(self.nocs)

    @property
    def has_host_port(self) -> bool:
        """No host port is modelled: inputs come from LPDDR4 (:meth:`dram_of`)."""
        return False

    def chip_of(self, core: int) -> int:
        return core // self.pes_per_chip

    def dram_of(self, core: int) -> Dram:
        return self.drams[self.chip_of(core)]

    def send(
        self, src: int, dsts: Sequence[int], payload_bits: int, data: Any = None, tags: Tags = (),
        count: int = 1, spacing: int = 0, tail: Tail | None = None,
    ) -> None:
        """Multicast from PE ``src`` to PEs ``dsts``, on its chip directly and to other chips
        through the gateways (``count`` > 1: a train of packets; ``tail``: its last packet
        goes on to PEs ``tail.dsts``; see ``Noc.send``)."""
        chip, name, local, remote = self._split(src, dsts)
        noc, gateway = self.nocs[chip], (gateway_name(chip),)
        if tail is None:
            if local:
                noc.send(name, local, payload_bits, data, tags, count, spacing)
            if remote:
                noc.send(name, gateway, payload_bits,
                         _Relay(data, remote, payload_bits, tags, count, spacing), tags, count,
                         spacing)
            return
        _, _, tail_local, tail_remote = self._split(src, tail.dsts)
        if local or tail_local:
            noc.send(name, local, payload_bits, data, tags, count, spacing,
                     Tail(tail.data, tail_local) if tail_local else None)
        if remote:  # the gateway takes the train, the rest of the tail's route with it
            relay = _Relay(data, remote, payload_bits, tags, count, spacing, tail.data,
                           tail_remote)
            noc.send(name, gateway, payload_bits, relay, tags, count, spacing)
        elif tail_remote:  # the gateway takes the last packet only
            relay = _Relay(tail.data, tail_remote, payload_bits, tags)
            noc.send(name, (), payload_bits, None, tags, count, spacing, Tail(relay, gateway))

    def _split(self, src: int, dsts: Sequence[int]) -> tuple:
        """(src's chip, its name, its chip's PEs of ``dsts``, the other PEs by chip); the same
        PE sends to the same set every step, so each set is split once."""
        key = (src, tuple(dsts))
        route = self._routes.get(key)
        if route is None:
            chip = self.chip_of(src)
            by_chip: dict[int, list[str]] = {}
            for d in dsts:
                by_chip.setdefault(self.chip_of(d), []).append(pe_name(d))
            local = by_chip.pop(chip, None)
            route = self._routes[key] = (chip, pe_name(src), tuple(local or ()),
                                         {c: tuple(v) for c, v in by_chip.items()})
        return route

    def send_from_host(self, dsts: Sequence[int], payload_bits: int, data: Any = None,
                       tags: Tags = (), count: int = 1) -> None:
        raise NotImplementedError("SpiNNaker2 PEs read their inputs from LPDDR4 by DMA "
                                  "(dram_of); no host port is modelled")

    def _from_chip(self, chip: int):
        def deliver(p: Packet) -> None:
            relay: _Relay = p.data
            rest = {c: v for c, v in relay.tail_dsts.items() if c not in relay.dsts}
            self.board.send(gateway_name(chip), [gateway_name(c) for c in relay.dsts],
                            relay.payload_bits, relay, relay.tags, relay.count, relay.spacing,
                            Tail(_Relay(relay.tail_data, rest, relay.payload_bits, relay.tags),
                                 tuple(gateway_name(c) for c in rest)) if rest else None)
        return deliver

    def _from_board(self, chip: int):
        def deliver(p: Packet) -> None:
            relay: _Relay = p.data
            rest = relay.tail_dsts.get(chip)
            self.nocs[chip].send(gateway_name(chip), relay.dsts[chip], relay.payload_bits,
                                 relay.data, relay.tags, relay.count, relay.spacing,
                                 Tail(relay.tail_data, rest) if rest else None)
        return deliver

    def load(self, core: int, program_bytes: int, regions: Mapping[str, int],
             check_only: bool = False) -> MemoryFit:
        """Program against the program banks; the stack/debug reserve and ``regions`` against
        the data banks."""
        cfg = self.config
        data = {RESERVED_REGION: reserve_bytes(cfg), **regions}
        fit = fit_regions(pe_name(core), program_bytes, program_capacity(cfg), data,
                          data_capacity(cfg), int(cfg.sram.word_bytes.value))
        if check_only:
            return fit
        if not fit.fits:
            raise CoreMemoryError(fit)
        sram = self.cores[core].sram
        sram.allocate("program_banks", program_capacity(cfg))
        for region, nbytes in fit.data.items():
            sram.allocate(region, nbytes)
        return fit


def build_spinnaker2(
    n_pes: int,
    handler: Handler | Sequence[Handler],
    cost: Spinnaker2Cost | None = None,
    *,
    timeline: Timeline | None = None,
    record_deliveries: bool = False,
) -> Spinnaker2System:
    """``n_pes`` SpiNNaker2 PEs (over as many chips as needed) in a fresh :class:`Engine`;
    the cost model gives the table and the operating point (default: shipped table, 0.5 V)."""
    cost = cost or Spinnaker2Cost()
    cfg = cost.config
    if n_pes < 0:
        raise ValueError(f"n_pes must be >= 0, got {n_pes}")
    handlers = list(handler) if isinstance(handler, Sequence) else [handler] * n_pes
    if len(handlers) != n_pes:
        raise ValueError(f"{len(handlers)} handlers for {n_pes} PEs")
    op = cost.op
    clock = cost.clock_hz
    engine = Engine(clock, timeline=timeline)
    system = Spinnaker2System(engine, cfg, cost)
    per_chip = system.pes_per_chip
    n_chips = max(1, math.ceil(n_pes / per_chip))
    sites = cfg.chip.qpe_grid.sites()
    per_qpe = int(cfg.chip.pes_per_qpe.value)
    noc_cfg = noc_config(cfg.noc, "shortest")
    gateway = tuple(cfg.board.gateway_qpe)
    for c in range(n_chips):
        Component(engine, f"chip{c}.periphery", cfg.chip.periphery_power.value)
        noc = Noc(engine, f"chip{c}.noc", noc_cfg, chip_graph(cfg), record_deliveries)
        system.nocs.append(noc)
        system.drams.append(Dram(engine, f"chip{c}.lpddr4", _dram_config(cfg, clock)))
    if n_chips > 1:
        system.board = Noc(engine, "board", _board_config(cfg), board_graph(n_chips),
                           record_deliveries)
        for c in range(n_chips):
            system.nocs[c].attach(gateway_name(c), gateway, system._from_chip(c))
            system.board.attach(gateway_name(c), c, system._from_board(c))
    sram_cfg = SramConfig(
        banks=int(cfg.sram.banks.value), bank_bytes=int(cfg.sram.bank_bytes.value),
        word_bytes=int(cfg.sram.word_bytes.value), read_energy_pj=op.sram_read_energy.value,
        write_energy_pj=op.sram_write_energy.value,
    )
    dma_cfg = DmaConfig(
        setup_cycles=int(cfg.dma.setup_cycles.value),
        bytes_per_cycle=cfg.dma.bandwidth.value / clock,
        burst_bytes=int(cfg.dma.burst_bytes.value),
        energy_per_byte_pj=cfg.dma.energy_per_byte.value,
    )
    core_cfg = CoreConfig(static_power_w=op.pe_sleep_power.value)
    for i in range(n_pes):
        chip, k = divmod(i, per_chip)
        name = pe_name(i)
        sram = Sram(engine, f"{name}.sram", sram_cfg)
        dma = Dma(engine, f"{name}.dma", dma_cfg, sram)
        system.cores.append(Core(engine, name, core_cfg, handlers[i], system.nocs[chip],
                               sites[k // per_qpe], sram, dma))
    return system


def _board_config(cfg: Spinnaker2Config) -> NocConfig:
    """Chip-to-chip links as a NoC clocked at the link bit rate, one bit per cycle."""
    b, n = cfg.board, cfg.noc
    rate = int(b.link_bit_rate.value)
    return NocConfig(
        clock_hz=rate, routing="shortest",
        router_latency_cycles=round(b.link_latency.value * rate), link_width_bits=1,
        header_bits=int(n.header_bits.value), max_payload_bits=int(n.max_payload_bits.value),
        inject_energy_pj=0.0, hop_energy_pj=0.0, hop_energy_per_bit_pj=b.energy_per_bit.value,
    )


def _dram_config(cfg: Spinnaker2Config, clock_hz: int) -> DramConfig:
    d = cfg.dram
    channels = int(d.interfaces.value)
    return DramConfig(
        channels=channels, bytes_per_cycle=d.bandwidth.value / channels / clock_hz,
        latency_cycles=math.ceil(d.latency.value * clock_hz - 1e-9),
        energy_per_byte_pj=d.energy_per_byte.value,
    )


def _cost(config: Spinnaker2Config, options: Spinnaker2Options) -> Spinnaker2Cost:
    return Spinnaker2Cost(config, **options.model_dump())


def _fit():
    from calibration.fit import fit_spinnaker2

    return fit_spinnaker2()


CHIP = ChipSpec(
    name="spinnaker2",
    config_schema=Spinnaker2Config,
    options_schema=Spinnaker2Options,
    default_file=DEFAULT_PATH,
    cost=_cost,
    build=build_spinnaker2,
    reference_modules=("simulator.chips.spinnaker2_references",
                       "simulator.jobs.egru_references"),
    fitter=_fit,
    capabilities=frozenset({"dram"}),
    summary="TU Dresden SpiNNaker2: Cortex-M4F PEs, 128 KiB SRAM, DMA, MAC/exp accelerators, "
            "152 PEs per chip, LPDDR4",
)
