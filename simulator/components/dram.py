"""Off-chip memory (e.g. LPDDR4) reached by DMA: shared channels with latency and bandwidth."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt, PositiveFloat

from simulator.components.base import Component
from simulator.components.servers import Servers

if TYPE_CHECKING:
    from simulator.engine import Engine


class DramConfig(BaseModel):
    """Channel parameters in engine (chip-clock) cycles."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: int = Field(default=1, gt=0, description="independent interfaces")
    bytes_per_cycle: PositiveFloat = Field(description="sustained bandwidth per channel")
    latency_cycles: NonNegativeInt = Field(description="access latency before data flows")
    energy_per_byte_pj: NonNegativeFloat
    static_power_w: NonNegativeFloat = 0.0


class Dram(Component):
    """Channels are FIFO servers (:class:`~.servers.Servers`); a DMA burst holds one from its
    request, through the access latency, until its bytes have streamed."""

    def __init__(self, engine: Engine, name: str, config: DramConfig) -> None:
        super().__init__(engine, name, config.static_power_w)
        self.config = config
        self.channels = Servers(config.channels)

    def pending(self) -> str | None:
        busy = self.channels.busy(self.engine.now)
        return f"{busy} channels busy" if busy else None
