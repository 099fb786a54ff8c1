"""Pydantic schema of the SpiNNaker2 cost table (``calibration/spinnaker2.yaml``).

Every number is a :class:`~calibration.schema.Cited` value with a range check: sizes, counts,
clocks, rates and widths positive; latencies, energies, powers and instruction counts
non-negative; the MAC accelerator's sustained fraction in (0, 1]. NoC, SRAM, DMA and DRAM are
the shared sections of :mod:`calibration.specs`. Values estimated by ``calibration/fit.py``
carry a source starting with ``"fit:"``; :func:`fitted` lists them. Cross-field checks
(kernels name known instruction classes, the CoreMark mix sums to one, the QPE map yields the
published PE count, missing sites and the gateway lie on the grid) fail with the dotted field
path, like any other field.

Load with :func:`load_spinnaker2` (default: the YAML next to this module).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from calibration.schema import Cited, Fraction, NonNegative, Positive, cited_values, load_yaml
from calibration.specs import DmaSpec, DramSpec, NocSpec, SramSpec

DEFAULT_PATH = Path(__file__).with_name("spinnaker2.yaml")
FIT_PREFIX = "fit:"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QpeGrid(_Strict):
    """QPE sites of one chip (SpiNNMachine ``QUAD_MAP``): ``x`` in 1..columns, ``y`` in 1..rows."""

    columns: Positive
    rows: Positive
    missing: list[tuple[int, int]] = Field(description="absent QPE sites (router, periphery)")
    missing_source: str = Field(min_length=3)

    @model_validator(mode="after")
    def _missing_on_the_grid(self) -> QpeGrid:
        off = [s for s in self.missing if not self.on_grid(s)]
        if off:
            raise ValueError(f"qpe_grid.missing: {off} lie outside the "
                             f"{int(self.columns.value)} x {int(self.rows.value)} grid")
        return self

    def on_grid(self, site: tuple[int, int]) -> bool:
        x, y = site
        return 1 <= x <= int(self.columns.value) and 1 <= y <= int(self.rows.value)

    def sites(self) -> list[tuple[int, int]]:
        """Present QPE sites, column by column in a snake (neighbours stay adjacent)."""
        gone = set(self.missing)
        out = []
        for x in range(1, int(self.columns.value) + 1):
            ys = range(1, int(self.rows.value) + 1)
            for y in (ys if x % 2 else reversed(ys)):
                if (x, y) not in gone:
                    out.append((x, y))
        return out


class Chip(_Strict):
    pes_per_chip: Positive
    pes_per_qpe: Positive
    qpe_grid: QpeGrid
    periphery_power: NonNegative = Field(description="chip power with every PE off (W)")

    @model_validator(mode="after")
    def _map_matches_pe_count(self) -> Chip:
        n = len(self.qpe_grid.sites()) * int(self.pes_per_qpe.value)
        if n != int(self.pes_per_chip.value):
            raise ValueError(
                f"qpe_grid has {len(self.qpe_grid.sites())} QPE sites x "
                f"{int(self.pes_per_qpe.value)} PEs = {n}, but pes_per_chip is "
                f"{int(self.pes_per_chip.value)}"
            )
        return self


class OperatingPoint(_Strict):
    """One DVFS performance level of a PE."""

    voltage: Positive
    clock: Positive = Field(description="PE clock (Hz); the engine's time unit at this level")
    pe_sleep_power: NonNegative = Field(description="static power of one PE in WFI sleep (W)")
    pe_cycle_energy: NonNegative = Field(
        description="dynamic energy of one busy core cycle, data-SRAM accesses excluded (pJ)"
    )
    sram_read_energy: NonNegative = Field(description="one 32-bit data-SRAM read (pJ)")
    sram_write_energy: NonNegative = Field(description="one 32-bit data-SRAM write (pJ)")
    mla_mac_energy: NonNegative = Field(description="one 8-bit MAC on the MAC accelerator (pJ)")


class InstructionClass(_Strict):
    """Cortex-M4F timing of one instruction class, and the data-SRAM words it touches."""

    cycles: Positive
    sram_reads: NonNegative
    sram_writes: NonNegative
    relative_energy: NonNegative = Field(
        description="pipeline energy per cycle relative to average")
    category: str = Field(pattern="^(computation|memory|control)$")


class Sram(SramSpec):
    """The PE's SRAM: the shared bank spec plus the banks that hold code."""

    program_banks: NonNegative = Field(description="banks reserved for code (the rest is data)")

    @model_validator(mode="after")
    def _data_banks_left(self) -> Sram:
        if self.program_banks.value >= self.banks.value:
            raise ValueError(f"sram.program_banks: {self.program_banks.value:g} of "
                             f"{self.banks.value:g} banks leave none for data")
        return self


class Mla(_Strict):
    macs_per_cycle: Positive
    sustained_fraction: Fraction = Field(description="fraction of peak MACs/cycle sustained")


class Board(_Strict):
    """Chip-to-chip links, used when a mapping spans several chips."""

    link_bit_rate: Positive
    link_latency: NonNegative
    energy_per_bit: NonNegative
    links_per_chip: Positive
    gateway_qpe: tuple[int, int] = Field(description="QPE site where chip-to-chip traffic enters")
    gateway_source: str = Field(min_length=3)


class Software(_Strict):
    """Sizes of the published EGRU language-model program (Nazeer et al. 2024, Table I)."""

    egru_program_bytes: Positive
    egru_debug_stack_bytes: NonNegative
    float_bytes: Positive


class Spinnaker2Config(_Strict):
    """The whole SpiNNaker2 cost table."""

    kind: Literal["spinnaker2"] = Field("spinnaker2", description="the chip model this describes")
    chip: Chip
    operating_points: dict[str, OperatingPoint]
    instruction_classes: dict[str, InstructionClass]
    kernels: dict[str, dict[str, NonNegative]] = Field(
        description="software routines as instruction counts per class"
    )
    sram: Sram
    mla: Mla
    dma: DmaSpec
    noc: NocSpec
    board: Board
    dram: DramSpec
    software: Software
    coremark_mix: dict[str, NonNegative] = Field(description="fraction of instructions per class")

    @model_validator(mode="after")
    def _consistent(self) -> Spinnaker2Config:
        known = set(self.instruction_classes)
        for name, counts in {**self.kernels, "coremark_mix": self.coremark_mix}.items():
            unknown = sorted(set(counts) - known)
            if unknown:
                where = name if name == "coremark_mix" else f"kernels.{name}"
                raise ValueError(f"{where}: unknown instruction classes {unknown}")
        total = sum(c.value for c in self.coremark_mix.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"coremark_mix: fractions sum to {total}, not 1")
        if not self.operating_points:
            raise ValueError("operating_points: at least one level is needed")
        gateway = tuple(self.board.gateway_qpe)
        if gateway not in self.chip.qpe_grid.sites():
            raise ValueError(f"board.gateway_qpe: {gateway} is no QPE site of the chip")
        return self

    def level(self, name: str) -> OperatingPoint:
        if name not in self.operating_points:
            raise KeyError(
                f"unknown SpiNNaker2 operating point {name!r}; "
                f"known: {sorted(self.operating_points)}"
            )
        return self.operating_points[name]


def load_spinnaker2(path: str | Path = DEFAULT_PATH) -> Spinnaker2Config:
    return load_yaml(path, Spinnaker2Config)


def fitted(config: Spinnaker2Config) -> dict[str, Cited]:
    """Every value whose source says it was estimated by ``calibration/fit.py``."""
    return {k: v for k, v in cited_values(config).items()
            if v.source.lower().startswith(FIT_PREFIX)}
