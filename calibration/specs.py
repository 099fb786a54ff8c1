"""Hardware sections shared by the chip cost tables: NoC, bank-organised SRAM, DMA, DRAM.

One model per section so that every chip that has one gets the same field names (the YAML keys)
and the same range checks; a chip's own extras go in a subclass in the chip's schema module
(SENECA's mesh and host port, SpiNNaker2's program banks). Sizes, counts, clocks, widths and
bandwidths are :class:`~calibration.schema.Positive`; latencies, header bits and every energy
are :class:`~calibration.schema.NonNegative`, since zero is a meaningful value for them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from calibration.schema import NonNegative, Positive


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NocSpec(Spec):
    """A packet-switched on-chip network: timing of a packet and its energy per hop."""

    clock: Positive = Field(description="NoC clock (Hz)")
    router_latency: NonNegative = Field(description="NoC cycles per hop")
    link_width: Positive = Field(description="bits per NoC cycle per link")
    header_bits: NonNegative
    max_payload_bits: Positive
    inject_energy: NonNegative = Field(description="per packet at the source (pJ)")
    hop_energy: NonNegative = Field(description="per packet per link (pJ)")
    hop_energy_per_bit: NonNegative = Field(description="per bit per link (pJ)")


class SramSpec(Spec):
    """An SRAM of equal banks, each accessed a word at a time."""

    banks: Positive
    bank_bytes: Positive
    word_bytes: Positive = Field(description="bytes one access moves")

    @property
    def total_bytes(self) -> int:
        return int(self.banks.value) * int(self.bank_bytes.value)


class DmaSpec(Spec):
    """A DMA engine: set-up before data moves, then a sustained rate in bursts."""

    setup_cycles: NonNegative = Field(description="cycles before data moves")
    bandwidth: Positive = Field(description="bytes per second")
    burst_bytes: Positive
    energy_per_byte: NonNegative = Field(description="the engine's own energy per byte (pJ)")


class DramSpec(Spec):
    """Off-chip DRAM behind one or more interfaces."""

    interfaces: Positive
    bandwidth: Positive = Field(description="bytes per second per chip, all interfaces")
    latency: NonNegative = Field(description="access latency before data flows (s)")
    energy_per_byte: NonNegative = Field(description="device + PHY per byte (pJ)")
