"""Pydantic schema of the SpiNNaker2 cost table (``calibration/spinnaker2.yaml``).

Every number is a :class:`~calibration.schema.Cited` value. Values estimated by
``calibration/fit.py`` carry a source starting with ``"fit:"``; :func:`fitted` lists them.
Cross-field checks (kernels name known instruction classes, the CoreMark mix sums to one, the
QPE map yields the published PE count) fail with the dotted field path, like any other field.

Load with :func:`load_spinnaker2` (default: the YAML next to this module).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from calibration.schema import Cited, cited_values, load_yaml

DEFAULT_PATH = Path(__file__).with_name("spinnaker2.yaml")
FIT_PREFIX = "fit:"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class QpeGrid(_Strict):
    """QPE sites of one chip (SpiNNMachine ``QUAD_MAP``): ``x`` in 1..columns, ``y`` in 1..rows."""

    columns: Cited
    rows: Cited
    missing: list[tuple[int, int]] = Field(description="absent QPE sites (router, periphery)")
    missing_source: str = Field(min_length=3)

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
    pes_per_chip: Cited
    pes_per_qpe: Cited
    qpe_grid: QpeGrid
    periphery_power: Cited = Field(description="chip power with every PE off (W)")

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

    voltage: Cited
    clock: Cited = Field(description="PE clock (Hz); the engine's time unit at this level")
    pe_sleep_power: Cited = Field(description="static power of one PE in WFI sleep (W)")
    pe_cycle_energy: Cited = Field(
        description="dynamic energy of one busy core cycle, data-SRAM accesses excluded (pJ)"
    )
    sram_read_energy: Cited = Field(description="one 32-bit data-SRAM read (pJ)")
    sram_write_energy: Cited = Field(description="one 32-bit data-SRAM write (pJ)")
    mla_mac_energy: Cited = Field(description="one 8-bit MAC on the MAC accelerator (pJ)")


class InstructionClass(_Strict):
    """Cortex-M4F timing of one instruction class, and the data-SRAM words it touches."""

    cycles: Cited
    sram_reads: Cited
    sram_writes: Cited
    relative_energy: Cited = Field(description="pipeline energy per cycle relative to average")
    category: str = Field(pattern="^(computation|memory|control)$")


class Sram(_Strict):
    banks: Cited
    bank_bytes: Cited
    word_bytes: Cited
    program_banks: Cited = Field(description="banks reserved for code (the rest is data)")


class Mla(_Strict):
    macs_per_cycle: Cited
    sustained_fraction: Cited = Field(description="fraction of peak MACs/cycle sustained")


class Dma(_Strict):
    setup_cycles: Cited
    bandwidth: Cited = Field(description="bytes per second")
    burst_bytes: Cited
    energy_per_byte: Cited


class Noc(_Strict):
    clock: Cited
    router_latency: Cited = Field(description="NoC cycles per hop")
    link_width: Cited = Field(description="bits per NoC cycle per link (one flit)")
    header_bits: Cited
    max_payload_bits: Cited
    inject_energy: Cited
    hop_energy: Cited = Field(description="per packet per link (pJ)")
    hop_energy_per_bit: Cited = Field(description="per bit per link (pJ)")


class Board(_Strict):
    """Chip-to-chip links, used when a mapping spans several chips."""

    link_bit_rate: Cited
    link_latency: Cited
    energy_per_bit: Cited
    links_per_chip: Cited
    gateway_qpe: tuple[int, int] = Field(description="QPE site where chip-to-chip traffic enters")
    gateway_source: str = Field(min_length=3)


class Dram(_Strict):
    interfaces: Cited
    bandwidth: Cited = Field(description="bytes per second per chip, all interfaces")
    latency: Cited
    energy_per_byte: Cited


class Software(_Strict):
    """Sizes of the published EGRU language-model program (Nazeer et al. 2024, Table I)."""

    egru_program_bytes: Cited
    egru_debug_stack_bytes: Cited
    float_bytes: Cited


class Spinnaker2Config(_Strict):
    """The whole SpiNNaker2 cost table."""

    chip: Chip
    operating_points: dict[str, OperatingPoint]
    instruction_classes: dict[str, InstructionClass]
    kernels: dict[str, dict[str, Cited]] = Field(
        description="software routines as instruction counts per class"
    )
    sram: Sram
    mla: Mla
    dma: Dma
    noc: Noc
    board: Board
    dram: Dram
    software: Software
    coremark_mix: dict[str, Cited] = Field(description="fraction of instructions per class")

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
