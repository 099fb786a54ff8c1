"""DMA engine: a descriptor queue served in order, burst by burst.

A transfer waits ``setup_cycles``, then moves its bytes in bursts. Each burst holds the SRAM
bank it touches (so it competes with the core for that bank's port) and, for off-chip
transfers, a DRAM channel. One SimPy event per burst, never per byte. The descriptor's
``done`` event fires when the last burst lands: the interrupt a core waits on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import simpy
from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt, PositiveFloat

from simulator.components.base import Component
from simulator.ledger import Category, Tags

if TYPE_CHECKING:
    from simulator.components.dram import Dram
    from simulator.components.sram import Sram
    from simulator.engine import Engine


class DmaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    setup_cycles: NonNegativeInt = Field(description="descriptor decode before data moves")
    bytes_per_cycle: PositiveFloat
    burst_bytes: int = Field(gt=0, description="bytes moved per bank/channel grant")
    energy_per_byte_pj: NonNegativeFloat = Field(description="DMA engine's own energy per byte")
    static_power_w: NonNegativeFloat = 0.0


@dataclass
class Descriptor:
    nbytes: int
    bank: int
    to_sram: bool
    dram: Dram | None
    tags: Tags
    done: simpy.Event
    label: str = field(default="dma")


class Dma(Component):
    """One DMA engine serving one SRAM; see the module docstring."""

    def __init__(self, engine: Engine, name: str, config: DmaConfig, sram: Sram) -> None:
        super().__init__(engine, name, config.static_power_w)
        self.config = config
        self.sram = sram
        self.queue: simpy.Store = simpy.Store(engine.env)
        self.active: Descriptor | None = None
        self.completed = 0
        engine.env.process(self._serve())

    def transfer(
        self,
        nbytes: int,
        bank: int,
        to_sram: bool = True,
        dram: Dram | None = None,
        tags: Tags = (),
        label: str = "dma",
    ) -> simpy.Event:
        """Queue a transfer into (``to_sram``) or out of ``bank``; return its completion event.

        With ``dram`` the other end is off-chip memory; otherwise it is another on-chip
        memory whose cost the caller charges (e.g. the NoC for a PE-to-PE copy)."""
        if nbytes <= 0:
            raise ValueError(f"{self.name}: transfer of {nbytes} bytes")
        if not 0 <= bank < self.sram.config.banks:
            raise ValueError(f"{self.name}: bank {bank} out of range")
        d = Descriptor(nbytes, bank, to_sram, dram, tags, self.env.event(), label)
        self.queue.put(d)
        return d.done

    def _serve(self):
        cfg, sram, ledger = self.config, self.sram, self.engine.ledger
        while True:
            d: Descriptor = yield self.queue.get()
            self.active = d
            start = self.engine.now
            if cfg.setup_cycles:
                yield self.env.timeout(cfg.setup_cycles)
            ledger.charge(self.name, "setup", Category.CONTROL, 1, cfg.setup_cycles, 0.0, d.tags)
            left = d.nbytes
            while left > 0:
                burst = min(left, cfg.burst_bytes)
                yield from self._burst(d, burst)
                left -= burst
            words = math.ceil(d.nbytes / sram.config.word_bytes)
            sram.charge(words, write=d.to_sram, tags=d.tags)
            ledger.charge(self.name, "transfer", Category.MEMORY, 1, 0,
                          d.nbytes * cfg.energy_per_byte_pj, d.tags)
            self.engine.record(self.name, d.label, start, self.engine.now)
            self.active = None
            self.completed += 1
            d.done.succeed(d)

    def _burst(self, d: Descriptor, nbytes: int):
        """Hold the SRAM bank (after a DRAM channel's latency, off-chip) while one burst
        streams: one SimPy event, the burst's end. Off-chip, the burst takes the channel that
        falls free first, holds it through the latency and the stream, and books its bank
        for when its data arrives; a core's access to that bank asked for in the meantime
        waits behind it (no program interleaves the two today)."""
        now = self.engine.now
        cycles = math.ceil(nbytes / self.config.bytes_per_cycle)
        port = self.sram.ports[d.bank]
        if d.dram is None:
            start = port.grant(now, cycles)
            yield self.env.timeout(start + cycles - now)
            return
        dcfg = d.dram.config
        cycles = max(cycles, math.ceil(nbytes / dcfg.bytes_per_cycle))
        channel, granted = d.dram.channels.first(now)
        end = port.grant(granted + dcfg.latency_cycles, cycles) + cycles
        d.dram.channels.hold(channel, end)
        yield self.env.timeout(end - now)
        self.engine.ledger.charge(
            d.dram.name, "read" if d.to_sram else "write", Category.MEMORY, 1,
            dcfg.latency_cycles + cycles, nbytes * dcfg.energy_per_byte_pj, d.tags,
        )

    def pending(self) -> str | None:
        if self.active is not None or self.queue.items:
            return f"{len(self.queue.items) + (self.active is not None)} transfers unfinished"
        return None
