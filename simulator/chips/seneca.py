"""SENECA as modelled: core cost model, data-memory check, and a system builder.

Everything numeric comes from ``calibration/seneca.yaml`` (see ``docs/hardware.md``); the
mapping choices that are not hardware facts are :class:`~calibration.seneca.SenecaOptions`.

**Core.** A RISC-V controller (Ibex) handles each input event: an interrupt-driven program of
``riscv.event_instructions`` instructions (one of them a data-memory access: the pointer
indirection to the source neuron's weights) that starts the loop buffer. The loop buffer then
broadcasts one NPE instruction per cycle to the core's 8 NPEs, which work as SIMD lanes: a
column of ``n`` weights takes ``ceil(n / 8)`` elements per lane, times the NPE instructions per
element. Energy follows Tang et al. 2023, Table 8, per instruction issued to one NPE, split as
the table splits it:

- ``npe``: the NPE's own part (total minus the loop-buffer share minus the data-memory part),
  per lane-instruction, carrying the cycles;
- ``loop_buffer``: the loop buffer's energy per broadcast (a broadcast serves all 8 NPEs, so
  Table 8's total carries 1/8 of it; a partly filled last broadcast still costs a whole one);
- ``data_mem``: the data-memory part of MLD/MST per lane-instruction (scaled by the words of a
  wide load), and the RISC-V's data accesses;
- ``riscv`` and ``instr_mem``: the controller's instructions and their 32-bit fetches;
- ``event_gen``: generated output events (EVC instructions run on the NPEs).

Charges carry the instruction's category (computation, memory, control, communication), so a
breakdown by category puts the loop buffer's share where Table 8's totals put it.

**A MAC.** Per weight of a dense column: a share of one weight load (an MLD brings 16 bits =
1, 2 or 4 weights; a wider access ``weight_words_per_access`` brings more at the same per-bit
memory energy), the precision's arithmetic (BF16 MUL + ADD; 2 x INT8 MUL + ADD per two MACs;
int4 adds the unpacking), and with ``accumulators="memory"`` an MLD + MST of the partial-sum
word. See ``docs/hardware.md`` for pJ and cycles per MAC of every option.

**Memory.** The data memory is an :class:`~simulator.components.Sram` of ``data_memory.blocks``
banks of 32 KiB; ``MeshSystem.load`` (``simulator/chips/mesh.py``) allocates regions in it
(after the runtime reserve) and raises :class:`~simulator.chips.memory.CoreMemoryError` naming
the bytes missing. Core leakage is derived from the memories: SRAM bits x 10 pW/bit (data
memory on the ``Sram``, instruction memory on the core) plus NPE register-file bits x 600
pW/bit.

**Chip.** Cores sit on a 2-D mesh NoC (``noc.mesh_columns`` x ``noc.mesh_rows``, or the smallest
near-square mesh holding them), row by row, with dimension-order (XY) routing. Hop energy is
Table 8's 2 pJ per 32-bit event, per hop and per bit.

**Builder.** ::

    system = build_seneca(n_cores, handler)          # a MeshSystem (simulator/chips/mesh.py)
    system.engine                    # Engine at the core clock (time unit: one core cycle)
    system.cores[i]                  # Core "core{i}" with .sram (data memory), .dma and .noc
    system.cost                      # SenecaCost: Work of one action on one core
    system.send(i, [j, k], payload_bits=16, data=...)   # unicast/multicast on the mesh
    system.load(i, 0, {"weights": ...})                 # memory check + allocation

Input from outside the chip enters the mesh at ``noc.host_port``. The optional shared memory
outside the cores (``shared_memory``: HBM by default, or STT-MRAM) is one
:class:`~simulator.components.Dram` that every core reaches through its
:class:`~simulator.components.Dma` (``dma``): ``system.dram_of(i)``. ``dma_setup()`` is the
RISC-V writing one descriptor.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from calibration.seneca import (
    DEFAULT_PATH,
    ELEMENTWISE_OPS,
    SenecaConfig,
    SenecaOptions,
    load_seneca,
)
from simulator.chips.mesh import MeshSystem, build_mesh, near_square
from simulator.chips.registry import ChipSpec
from simulator.chips.specs import noc_config
from simulator.chips.work import Charge, Work
from simulator.components import CoreConfig, DmaConfig, DramConfig, SramConfig
from simulator.components.core import Handler
from simulator.ledger import Category
from simulator.timeline import Timeline

_BITS_PER_BYTE = 8
_EPS = 1e-9  # float slack before rounding cycles up


# -- cost model ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Instr:
    """One NPE instruction class, priced per lane-instruction and per broadcast."""

    npe_pj: float
    loop_buffer_pj: float
    memory_pj: float
    category: Category


class SenecaCost:
    """Work of one action on one SENECA core (implements ``CoreCostModel``)."""

    def __init__(
        self,
        config: SenecaConfig | None = None,
        options: SenecaOptions | Mapping[str, Any] | None = None,
    ) -> None:
        cfg = config or load_seneca()
        self.config = cfg
        self.options = (options if isinstance(options, SenecaOptions)
                        else SenecaOptions.model_validate(dict(options or {})))
        self.clock_hz = int(cfg.core.clock.value)
        self.lanes = int(cfg.core.npes.value)
        self.cpi = cfg.npe.cycles_per_instruction.value
        self._instr: dict[str, _Instr] = {}
        for name, ins in cfg.npe.instructions.items():
            mem = ins.memory.value if ins.memory is not None else 0.0
            lb = ins.loop_buffer.value
            self._instr[name] = _Instr(ins.total.value - mem - lb / self.lanes, lb, mem,
                                       Category(ins.category))
        opt = self.options
        fmt = cfg.precisions[opt.precision]
        self.word_bits = int(cfg.npe.word_bits.value)
        self.value_bits = self.word_bits  # one BF16 activation per NPE word
        self.weights_per_word = self.word_bits // int(fmt.weight_bits.value)
        words = opt.weight_words_per_access
        self.weight_load = "mld" if words == 1 else f"mld_x{words}"
        if words > 1:  # a wider load: memory energy per bit, NPE and loop-buffer parts once
            mld = self._instr["mld"]
            self._instr[self.weight_load] = _Instr(mld.npe_pj, mld.loop_buffer_pj,
                                                   mld.memory_pj * words, mld.category)
        load = {self.weight_load: 1.0 / (self.weights_per_word * words)}
        self.mac_mix = _combine(load, {k: v.value for k, v in fmt.mac.items()})
        if opt.accumulators == "memory":
            per_word = self.word_bits // int(fmt.accumulator_bits.value)
            self.mac_mix = _combine(self.mac_mix, {"mld": 1.0 / per_word, "mst": 1.0 / per_word})
        self.csr_mix = _combine(load, {k: v.value for k, v in fmt.csr_mac.items()})
        self._elementwise = {op: {k: v.value for k, v in mix.instructions.items()}
                             for op, mix in cfg.elementwise.items()}
        self._columns: dict[int, Work] = {}
        self._csr: dict[int, Work] = {}
        self._ew: dict[tuple[str, int], Work] = {}
        self._receive: Work | None = None
        self._dma_setup: Work | None = None

    # -- primitives ---------------------------------------------------------------------------
    def _npe_charges(self, mix: Mapping[str, float], n: float, per_lane: float) -> list[Charge]:
        """Charges of ``n`` elements, ``per_lane`` of them on the busiest NPE, each taking
        ``mix`` instructions: per class, lane-instructions on ``npe`` (with the broadcast
        cycles), broadcasts on ``loop_buffer``, the memory part on ``data_mem``."""
        out = []
        for name, k in mix.items():
            if not k:
                continue
            ins = self._instr[name]
            lane_instr, broadcasts = n * k, per_lane * k
            out.append(Charge("npe", name, ins.category, lane_instr, broadcasts * self.cpi,
                              lane_instr * ins.npe_pj))
            out.append(Charge("loop_buffer", name, ins.category, broadcasts, 0,
                              broadcasts * ins.loop_buffer_pj))
            if ins.memory_pj:
                out.append(Charge("data_mem", name, Category.MEMORY, lane_instr, 0,
                                  lane_instr * ins.memory_pj))
        return out

    def npe_work(self, mix: Mapping[str, float], n: int, label: str = "npe") -> Work:
        """``n`` elements spread over the NPEs, each taking ``mix`` NPE instructions (by
        instruction class of the table): busy for ``ceil(n / npes)`` elements per lane."""
        if n <= 0:
            return Work(label=label)
        per_lane = math.ceil(n / self.lanes)
        cycles = math.ceil(per_lane * sum(mix.values()) * self.cpi - _EPS)
        return Work(tuple(self._npe_charges(mix, n, per_lane)), cycles, label)

    def mac_cost(self) -> tuple[float, float]:
        """(pJ per MAC, core cycles per MAC) of a dense column with every NPE busy."""
        energy = 0.0
        for name, k in self.mac_mix.items():
            ins = self._instr[name]
            energy += k * (ins.npe_pj + ins.memory_pj + ins.loop_buffer_pj / self.lanes)
        return energy, sum(self.mac_mix.values()) * self.cpi / self.lanes

    # -- CoreCostModel ------------------------------------------------------------------------
    def column(self, n_weights: int) -> Work:
        work = self._columns.get(n_weights)
        if work is None:
            work = self._columns[n_weights] = self.npe_work(self.mac_mix, n_weights, "column")
        return work

    def csr_column(self, nnz: int) -> Work:
        work = self._csr.get(nnz)
        if work is None:
            work = self._csr[nnz] = self.npe_work(self.csr_mix, nnz, "csr_column")
        return work

    def csr_columns(self, nnz: np.ndarray) -> Work:
        """Several CSR columns in one action: the sum of :meth:`csr_column` over ``nnz``
        (same charges and cycles), computed in one go."""
        nnz = np.asarray(nnz, dtype=np.int64)
        nnz = nnz[nnz > 0]
        if nnz.size == 0:
            return Work(label="csr_columns")
        per_lane = -(-nnz // self.lanes)
        per_element = sum(self.csr_mix.values()) * self.cpi
        cycles = int(np.ceil(per_lane * per_element - _EPS).sum())
        charges = self._npe_charges(self.csr_mix, int(nnz.sum()), int(per_lane.sum()))
        return Work(tuple(charges), cycles, "csr_columns")

    def elementwise(self, op: str, n: int) -> Work:
        if op not in self._elementwise:
            raise ValueError(f"unknown element-wise op {op!r}; SENECA offers {ELEMENTWISE_OPS}")
        key = (op, n)
        work = self._ew.get(key)
        if work is None:
            work = self._ew[key] = self.npe_work(self._elementwise[op], n, op)
        return work

    def receive_event(self) -> Work:
        """The RISC-V's event handler: instructions (core + fetch energy), its data accesses
        and the stall cycles of those accesses and of taken branches."""
        if self._receive is None:
            r = self.config.riscv
            n = r.event_instructions.value
            acc = r.event_data_accesses.value
            cycles = (n * r.cycles_per_instruction.value
                      + acc * r.data_access_stall_cycles.value
                      + r.event_taken_branches.value * r.taken_branch_stall_cycles.value)
            charges = [
                Charge("riscv", "instruction", Category.CONTROL, n, cycles,
                       n * r.core_energy.value),
                Charge("instr_mem", "fetch", Category.CONTROL, n, 0, n * r.fetch_energy.value),
            ]
            if acc:
                charges.append(Charge("data_mem", "riscv_access", Category.MEMORY, acc, 0,
                                      acc * r.data_access_energy.value))
            self._receive = Work(tuple(charges), math.ceil(cycles - _EPS), "receive_event")
        return self._receive

    def dma_setup(self) -> Work:
        """The RISC-V writing one DMA descriptor: ``dma.setup_instructions`` (core + fetch
        energy), its register writes stalling as data accesses; the DMA's own latency is the
        ``Dma``'s."""
        if self._dma_setup is None:
            dma, r = self.config.dma, self.config.riscv
            if dma is None:
                raise NotImplementedError("this SENECA table has no dma section")
            n = dma.setup_instructions.value
            cycles = (n * r.cycles_per_instruction.value
                      + dma.setup_register_writes.value * r.data_access_stall_cycles.value)
            self._dma_setup = Work((
                Charge("riscv", "instruction", Category.CONTROL, n, cycles,
                       n * r.core_energy.value),
                Charge("instr_mem", "fetch", Category.CONTROL, n, 0, n * r.fetch_energy.value),
            ), math.ceil(cycles - _EPS), "dma_setup")
        return self._dma_setup

    def send_events(self, n: int) -> Work:
        """``n`` output events: one EVC per event on the NPEs plus the event generator."""
        if n <= 0:
            return Work(label="send_events")
        work = self.npe_work({"evc": 1.0}, n, "send_events")
        gen = self.config.npe.event_generation.value
        return Work(work.charges + (Charge("event_gen", "event", Category.COMMUNICATION, n, 0,
                                           n * gen),), work.cycles, "send_events")

    def weight_bytes(self, n_weights: int) -> int:
        """Whole 16-bit words of packed weights (1, 2 or 4 weights per word)."""
        words = -(-int(n_weights) // self.weights_per_word)
        return words * self.word_bits // _BITS_PER_BYTE

    def weight_capacity_bytes(self) -> int:
        """Data memory minus the runtime reserve."""
        dm = self.config.data_memory
        return dm.total_bytes - int(dm.reserved_bytes.value)

    def csr_bytes(self, nnz: int, offsets: int) -> int:
        """A CSR matrix in data memory: packed weight values, one NPE word per index and per
        column offset (``offsets`` + 1 of them)."""
        word = self.word_bits // _BITS_PER_BYTE
        return self.weight_bytes(nnz) + word * (int(nnz) + int(offsets) + 1)

    def program_bytes(self, workload: str) -> int:
        """No SENECA program size is published: 0 (the instruction memory is not checked)."""
        return 0

    def static_power_w(self) -> float:
        return data_memory_static_power(self.config) + core_static_power(self.config)


def _combine(a: Mapping[str, float], b: Mapping[str, float]) -> dict[str, float]:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0.0) + v
    return out


# -- static power -------------------------------------------------------------------------------
def data_memory_static_power(cfg: SenecaConfig) -> float:
    """Leakage of one core's data memory: its bits x the SRAM's static power per bit (W)."""
    return cfg.data_memory.total_bytes * _BITS_PER_BYTE * cfg.sram.static_power_per_bit.value


def core_static_power(cfg: SenecaConfig) -> float:
    """Leakage of the rest of a core (W): instruction memory (SRAM), the NPE register files,
    and the logic's (``core.other_static_power``)."""
    per_bit = cfg.sram.static_power_per_bit.value
    imem = cfg.instruction_memory.total_bytes * _BITS_PER_BYTE * per_bit
    rf_bits = (cfg.core.npes.value * cfg.register_file.words_per_npe.value
               * cfg.npe.word_bits.value)
    rf = rf_bits * cfg.register_file.static_power_per_bit.value
    return imem + rf + cfg.core.other_static_power.value


# -- topology and system ------------------------------------------------------------------
def mesh_shape(cfg: SenecaConfig, n_cores: int) -> tuple[int, int]:
    """(columns, rows) of the NoC mesh: the configured one, or the smallest near-square mesh
    that holds ``n_cores`` (columns = ceil(sqrt(n)))."""
    noc = cfg.noc
    if noc.mesh_columns is not None and noc.mesh_rows is not None:
        cols, rows = int(noc.mesh_columns.value), int(noc.mesh_rows.value)
        if cols * rows < n_cores:
            raise ValueError(f"{n_cores} cores do not fit the configured {cols} x {rows} mesh")
        return cols, rows
    return near_square(n_cores)


def build_seneca(
    n_cores: int,
    handler: Handler | Sequence[Handler],
    cost: SenecaCost | None = None,
    *,
    timeline: Timeline | None = None,
    record_deliveries: bool = False,
) -> MeshSystem:
    """``n_cores`` SENECA cores on a mesh NoC in a fresh :class:`Engine` (the cost model's
    table gives every number; default: the shipped table with default options)."""
    cost = cost or SenecaCost()
    cfg = cost.config
    dm, tech = cfg.data_memory, cfg.sram
    word_bits = int(dm.word_bytes.value) * _BITS_PER_BYTE
    sram_cfg = SramConfig(
        banks=int(dm.blocks.value), bank_bytes=int(dm.block_bytes.value),
        word_bytes=int(dm.word_bytes.value),
        read_energy_pj=tech.read_energy_per_bit.value * word_bits,
        write_energy_pj=tech.write_energy_per_bit.value * word_bits,
        static_power_w=data_memory_static_power(cfg),
    )
    return build_mesh(
        n_cores, handler, cost, noc=noc_config(cfg.noc, "xy"), mesh=mesh_shape(cfg, n_cores),
        host_node=tuple(int(v) for v in cfg.noc.host_port), sram=sram_cfg,
        core=CoreConfig(static_power_w=core_static_power(cfg)),
        program_capacity=cfg.instruction_memory.total_bytes,
        reserve_bytes=int(dm.reserved_bytes.value), dram=shared_memory_config(cfg),
        dma=dma_config(cfg), timeline=timeline, record_deliveries=record_deliveries,
    )


def shared_memory_config(cfg: SenecaConfig) -> DramConfig | None:
    """The chosen shared-memory technology in core cycles (``None`` if the table has none):
    per-bit energy x 8 per byte, the bandwidth split over the channels."""
    if cfg.shared_memory is None:
        return None
    mem, clock = cfg.shared_memory.selected, cfg.core.clock.value
    channels = int(mem.channels.value)
    return DramConfig(
        channels=channels, bytes_per_cycle=mem.bandwidth.value / channels / clock,
        latency_cycles=math.ceil(mem.latency.value * clock - _EPS),
        energy_per_byte_pj=mem.read_energy_per_bit.value * _BITS_PER_BYTE,
        static_power_w=mem.static_power.value,
    )


def dma_config(cfg: SenecaConfig) -> DmaConfig | None:
    """A core's DMA engine (``None`` if the table has no ``dma`` section)."""
    d = cfg.dma
    if d is None:
        return None
    return DmaConfig(setup_cycles=int(d.setup_cycles.value),
                     bytes_per_cycle=d.bytes_per_cycle.value,
                     burst_bytes=int(d.burst_bytes.value),
                     energy_per_byte_pj=d.energy_per_byte.value)


CHIP = ChipSpec(
    name="seneca",
    config_schema=SenecaConfig,
    options_schema=SenecaOptions,
    default_file=DEFAULT_PATH,
    cost=lambda config, options: SenecaCost(config, options),
    build=build_seneca,
    reference_modules=("simulator.chips.seneca_references",),
    summary="imec SENECA: RISC-V controller, loop buffer, 8 NPEs, banked data memory, mesh NoC",
)
