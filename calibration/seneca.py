"""Pydantic schema of the SENECA cost table (``calibration/seneca.yaml``) and its options.

Every number is a :class:`~calibration.schema.Cited` value; sizes, counts and clocks must be
positive, energies non-negative, so a wrong sign fails naming the field. Cross-field checks fail
with the dotted path of the offending entry:

- every NPE instruction's Table 8 total equals its parts (NPE + data memory + the loop
  buffer's broadcast shared by all NPEs) within the table's rounding, and the RISC-V
  instruction total equals core + instruction fetch;
- the instruction mixes (per precision, per element-wise op) name known instruction classes,
  and every element-wise op of the cost-model protocol is present;
- number formats pack whole weights and partial sums into an NPE word;
- the NoC (the shared :class:`~calibration.specs.NocSpec` plus the mesh and the host port)
  gives both mesh sizes or neither, and its host port lies on the mesh;
- the shared memory's ``technology`` names one of its ``technologies`` rows, and a shared
  memory comes with the cores' ``dma`` (the only way to reach it).

:class:`SenecaOptions` holds the choices that are not hardware facts but decide the energy per
MAC (weight precision, words per weight load, where partial sums live); see
``docs/hardware.md`` for what each costs. Load the table with :func:`load_seneca`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# Positive and NonNegative live in calibration.schema (shared by every chip); importing them
# from here keeps working.
from calibration.schema import NonNegative, Positive, load_yaml
from calibration.specs import NocSpec

DEFAULT_PATH = Path(__file__).with_name("seneca.yaml")

#: element-wise ops every chip's cost model offers (``simulator.chips.work.CoreCostModel``)
ELEMENTWISE_OPS = ("add", "sub", "mul", "div", "exp", "sigmoid", "tanh", "max", "compare",
                   "sqrt", "copy")
Precision = Literal["bf16", "int8", "int4"]
PRECISIONS: tuple[str, ...] = ("bf16", "int8", "int4")
#: Table 8 prints pJ with one decimal: its parts may miss its total by half of that digit
TABLE_ROUNDING_PJ = 0.05


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Core(_Strict):
    clock: Positive = Field(description="core clock (Hz); the engine's time unit")
    npes: Positive = Field(description="NPEs (SIMD lanes) per core")
    other_static_power: NonNegative = Field(
        description="leakage of the logic (RISC-V, NPE datapaths, loop buffer), W")


class NpeInstruction(_Strict):
    """One row of Tang et al. 2023, Table 8: energy per instruction issued to one NPE."""

    mnemonics: str = Field(min_length=1)
    total: NonNegative = Field(description="total per instruction per NPE (pJ)")
    npe: NonNegative = Field(description="the NPE's own part, computation included (pJ)")
    loop_buffer: NonNegative = Field(
        description="loop buffer per broadcast, shared by all NPEs of the core (pJ)")
    memory: NonNegative | None = Field(None, description="data-memory part (MLD/MST), pJ")
    category: Literal["computation", "memory", "control", "communication"]


class Npe(_Strict):
    word_bits: Positive = Field(description="bits one MLD/MST moves (an NPE data word)")
    cycles_per_instruction: Positive
    instructions: dict[str, NpeInstruction]
    event_generation: NonNegative = Field(description="extra energy per generated event (pJ)")


class Riscv(_Strict):
    """The controller (Ibex) and its per-event program."""

    instruction_energy: NonNegative = Field(description="average per instruction, total (pJ)")
    core_energy: NonNegative = Field(description="RISC-V + peripheries part (pJ)")
    fetch_energy: NonNegative = Field(description="32-bit instruction-memory fetch part (pJ)")
    data_access_energy: NonNegative = Field(description="extra per 32-bit data access (pJ)")
    cycles_per_instruction: Positive
    data_access_stall_cycles: NonNegative
    taken_branch_stall_cycles: NonNegative
    event_instructions: NonNegative = Field(description="instructions to handle one event")
    event_data_accesses: NonNegative = Field(description="data accesses among them")
    event_taken_branches: NonNegative = Field(description="taken branches among them")

    @model_validator(mode="after")
    def _parts_sum(self) -> Riscv:
        parts = self.core_energy.value + self.fetch_energy.value
        if abs(parts - self.instruction_energy.value) > TABLE_ROUNDING_PJ:
            raise ValueError(
                f"riscv: core_energy + fetch_energy = {parts} pJ, but instruction_energy is "
                f"{self.instruction_energy.value} pJ")
        return self


class PrecisionFormat(_Strict):
    """A weight precision: its storage and the NPE instructions of one MAC."""

    weight_bits: Positive
    accumulator_bits: Positive = Field(description="bits of one partial sum in an NPE word")
    mac: dict[str, NonNegative] = Field(
        description="NPE instructions per weight of a dense column, weight loads and "
                    "partial-sum traffic excluded (the options decide those)")
    csr_mac: dict[str, NonNegative] = Field(
        description="NPE instructions per stored non-zero of a CSR column, weight loads "
                    "excluded")


class ElementwiseOp(_Strict):
    """One element-wise op as a sequence of NPE instructions."""

    instructions: dict[str, NonNegative] = Field(
        description="NPE instructions per element, by instruction class")


class Memory(_Strict):
    """A memory built of SRAM blocks."""

    blocks: Positive
    block_bytes: Positive
    word_bytes: Positive = Field(description="bytes of one SRAM word (allocation granularity)")

    @property
    def total_bytes(self) -> int:
        return int(self.blocks.value) * int(self.block_bytes.value)


class DataMemory(Memory):
    reserved_bytes: NonNegative = Field(
        description="kept back for the runtime (RISC-V stack, event queues): not for weights")


class SramTechnology(_Strict):
    read_energy_per_bit: NonNegative
    write_energy_per_bit: NonNegative
    static_power_per_bit: NonNegative


class RegisterFile(_Strict):
    words_per_npe: Positive
    static_power_per_bit: NonNegative


class SenecaNoc(NocSpec):
    """The shared NoC spec plus SENECA's mesh and the node where outside input enters."""

    mesh_columns: Positive | None = Field(None, description="null: sized to the cores")
    mesh_rows: Positive | None = None
    mesh_source: str = Field(min_length=3, description="why this mesh (or this sizing rule)")
    host_port: tuple[int, int] = Field(
        description="mesh node (x, y) where input events from outside the chip enter the NoC")
    host_port_source: str = Field(min_length=3)

    @model_validator(mode="after")
    def _mesh_and_port(self) -> SenecaNoc:
        if (self.mesh_columns is None) != (self.mesh_rows is None):
            raise ValueError("noc: give both mesh_columns and mesh_rows, or neither")
        x, y = self.host_port
        if x < 0 or y < 0:
            raise ValueError(f"noc.host_port: mesh coordinates are >= 0, got {self.host_port}")
        if self.mesh_columns is not None and self.mesh_rows is not None and (
                x >= self.mesh_columns.value or y >= self.mesh_rows.value):
            raise ValueError(f"noc.host_port: {self.host_port} lies outside the "
                             f"{int(self.mesh_columns.value)} x {int(self.mesh_rows.value)} mesh")
        return self


class SharedMemoryTechnology(_Strict):
    """One row of [Mem]'s technology table for the shared memory outside the cores, plus the
    interface SENECA does not publish (channels, bandwidth)."""

    capacity: Positive = Field(description="bytes (not checked by the simulator)")
    read_energy_per_bit: NonNegative = Field(
        description="per bit moved (pJ); writes are charged the same")
    latency: NonNegative = Field(description="access latency before data flows (s)")
    static_power: NonNegative = Field(description="W")
    channels: Positive = Field(description="independent channels the cores' DMAs share")
    bandwidth: Positive = Field(description="bytes per second, all channels")


class SharedMemory(_Strict):
    """The optional shared memory outside the cores: the chosen row of ``technologies``."""

    technology: str = Field(min_length=1, description="a key of ``technologies``")
    technology_source: str = Field(min_length=3)
    technologies: dict[str, SharedMemoryTechnology]

    @model_validator(mode="after")
    def _known(self) -> SharedMemory:
        if self.technology not in self.technologies:
            raise ValueError(f"shared_memory.technology: {self.technology!r} is not one of "
                             f"{sorted(self.technologies)}")
        return self

    @property
    def selected(self) -> SharedMemoryTechnology:
        return self.technologies[self.technology]


class SenecaDma(_Strict):
    """A core's DMA engine. Unlike :class:`~calibration.specs.DmaSpec` its rate is per core
    cycle (a data-memory word per cycle), so it follows ``core.clock``."""

    setup_cycles: NonNegative = Field(description="cycles before data moves")
    bytes_per_cycle: Positive
    burst_bytes: Positive
    energy_per_byte: NonNegative = Field(description="the engine's own energy per byte (pJ)")
    setup_instructions: NonNegative = Field(
        description="RISC-V instructions that write one descriptor")
    setup_register_writes: NonNegative = Field(
        description="descriptor stores among them (each stalls as a data access)")


class SenecaConfig(_Strict):
    """The whole SENECA cost table (``shared_memory`` and ``dma`` optional: without them the
    cores reach no memory outside themselves)."""

    kind: Literal["seneca"] = Field("seneca", description="the chip model this describes")
    core: Core
    npe: Npe
    riscv: Riscv
    precisions: dict[str, PrecisionFormat]
    elementwise: dict[str, ElementwiseOp]
    data_memory: DataMemory
    instruction_memory: Memory
    sram: SramTechnology
    register_file: RegisterFile
    noc: SenecaNoc
    shared_memory: SharedMemory | None = None
    dma: SenecaDma | None = None

    @model_validator(mode="after")
    def _consistent(self) -> SenecaConfig:
        if self.shared_memory is not None and self.dma is None:
            raise ValueError("dma: a shared_memory is reached only by the cores' DMA; give dma")
        lanes = self.core.npes.value
        for name, ins in self.npe.instructions.items():
            mem = ins.memory.value if ins.memory is not None else 0.0
            parts = ins.npe.value + mem + ins.loop_buffer.value / lanes
            if abs(parts - ins.total.value) > TABLE_ROUNDING_PJ:
                raise ValueError(
                    f"npe.instructions.{name}: npe + memory + loop_buffer / npes = {parts:.4g} "
                    f"pJ differs from total {ins.total.value} pJ by more than the table's "
                    f"rounding ({TABLE_ROUNDING_PJ} pJ)")
        needed = {"mld", "mst", "evc"} - set(self.npe.instructions)
        if needed:
            raise ValueError(f"npe.instructions: the model needs {sorted(needed)}")
        if sorted(self.precisions) != sorted(PRECISIONS):
            raise ValueError(f"precisions: need exactly {list(PRECISIONS)}, "
                             f"got {sorted(self.precisions)}")
        missing = [op for op in ELEMENTWISE_OPS if op not in self.elementwise]
        if missing:
            raise ValueError(f"elementwise: ops {missing} are missing")
        mixes = {f"elementwise.{op}.instructions": m.instructions
                 for op, m in self.elementwise.items()}
        word = int(self.npe.word_bits.value)
        for p, fmt in self.precisions.items():
            mixes[f"precisions.{p}.mac"] = fmt.mac
            mixes[f"precisions.{p}.csr_mac"] = fmt.csr_mac
            for what in ("weight_bits", "accumulator_bits"):
                bits = int(getattr(fmt, what).value)
                if word % bits:
                    raise ValueError(f"precisions.{p}.{what}: {bits} bits do not pack into "
                                     f"a {word}-bit NPE word")
        for where, mix in mixes.items():
            unknown = sorted(set(mix) - set(self.npe.instructions))
            if unknown:
                raise ValueError(f"{where}: unknown NPE instructions {unknown}")
        if self.data_memory.reserved_bytes.value >= self.data_memory.total_bytes:
            raise ValueError("data_memory.reserved_bytes: leaves no room for data")
        return self


class SenecaOptions(BaseModel):
    """Mapping choices that decide the energy per MAC (not hardware facts).

    - ``precision``: weight format. bf16 (one weight per 16-bit word, BF16 MUL + ADD), int8
      (two per word, 2 x INT8 SIMD arithmetic), int4 (four per word, unpacked to 2 x INT8).
    - ``weight_words_per_access``: 16-bit words one weight load brings into an NPE: 1 is the
      published 16-bit MLD; 2 or 4 model a wider data-memory port (the memory energy still
      scales per bit, the instruction's NPE and loop-buffer parts are paid once).
    - ``accumulators``: ``registers`` keeps partial sums in NPE registers during a column;
      ``memory`` reads and writes each partial sum word (MLD + MST) for every MAC.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    precision: Precision = "bf16"
    weight_words_per_access: Literal[1, 2, 4] = 1
    accumulators: Literal["registers", "memory"] = "registers"


def load_seneca(path: str | Path = DEFAULT_PATH) -> SenecaConfig:
    return load_yaml(path, SenecaConfig)
