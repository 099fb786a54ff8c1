"""Banked SRAM with real capacity: named allocations, one access per bank per cycle.

The address space is the banks laid end to end; regions are allocated first-fit, in one bank
when asked (``bank=``) or across consecutive banks otherwise (a 88 kB weight block spans three
32 kB banks). Each bank's port is a FIFO server (:class:`~.servers.Servers`), so a DMA burst
and a core load on the same bank wait for each other; accesses to different banks proceed in
parallel.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import simpy
from pydantic import BaseModel, ConfigDict, Field, NonNegativeFloat, PositiveInt, model_validator

from simulator.components.base import Component
from simulator.components.servers import Servers
from simulator.ledger import Category, Tags

if TYPE_CHECKING:
    from simulator.engine import Engine


class SramConfig(BaseModel):
    """Size, width and per-access cost of a banked SRAM."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    banks: PositiveInt
    bank_bytes: PositiveInt
    word_bytes: PositiveInt = Field(description="bytes moved by one access")
    read_cycles: PositiveInt = 1
    write_cycles: PositiveInt = 1
    read_energy_pj: NonNegativeFloat = Field(description="energy of one word read")
    write_energy_pj: NonNegativeFloat = Field(description="energy of one word write")
    static_power_w: NonNegativeFloat = 0.0

    @model_validator(mode="after")
    def _word_divides_bank(self) -> SramConfig:
        if self.bank_bytes % self.word_bytes:
            raise ValueError(
                f"bank_bytes ({self.bank_bytes}) must be a multiple of word_bytes "
                f"({self.word_bytes})"
            )
        return self

    @property
    def total_bytes(self) -> int:
        return self.banks * self.bank_bytes


class SramAllocationError(MemoryError):
    """A region does not fit; carries the numbers so callers can report the shortfall."""

    def __init__(self, memory: str, region: str, requested: int, free: int, detail: str = ""):
        self.memory, self.region, self.requested, self.free = memory, region, requested, free
        self.missing = requested - free
        msg = (
            f"{memory}: cannot allocate region {region!r}: {requested} B requested, "
            f"{free} B free ({self.missing} B missing)"
        )
        super().__init__(msg + (f"; {detail}" if detail else ""))


@dataclass(frozen=True)
class Allocation:
    name: str
    offset: int
    nbytes: int
    first_bank: int
    last_bank: int


class Sram(Component):
    """A banked SRAM; see the module docstring."""

    def __init__(self, engine: Engine, name: str, config: SramConfig) -> None:
        super().__init__(engine, name, config.static_power_w)
        self.config = config
        self.ports = [Servers() for _ in range(config.banks)]
        self.allocations: dict[str, Allocation] = {}

    # -- capacity -----------------------------------------------------------------------------
    @property
    def used_bytes(self) -> int:
        return sum(a.nbytes for a in self.allocations.values())

    @property
    def free_bytes(self) -> int:
        return self.config.total_bytes - self.used_bytes

    def _holes(self, lo: int, hi: int) -> list[tuple[int, int]]:
        """Free ``(start, end)`` address ranges inside ``[lo, hi)``."""
        holes, cursor = [], lo
        for a in sorted(self.allocations.values(), key=lambda a: a.offset):
            if a.nbytes == 0 or a.offset + a.nbytes <= lo or a.offset >= hi:
                continue
            if a.offset > cursor:
                holes.append((cursor, a.offset))
            cursor = max(cursor, a.offset + a.nbytes)
        if cursor < hi:
            holes.append((cursor, hi))
        return holes

    def allocate(self, region: str, nbytes: int, bank: int | None = None) -> Allocation:
        """Reserve ``nbytes`` (rounded up to whole words) first-fit; raise if it does not fit."""
        if region in self.allocations:
            raise ValueError(f"{self.name}: region {region!r} already allocated")
        if nbytes < 0:
            raise ValueError(f"{self.name}: region {region!r} has negative size {nbytes}")
        cfg = self.config
        size = -(-nbytes // cfg.word_bytes) * cfg.word_bytes
        if bank is None:
            lo, hi, where = 0, cfg.total_bytes, ""
        else:
            if not 0 <= bank < cfg.banks:
                raise ValueError(f"{self.name}: bank {bank} out of range [0, {cfg.banks})")
            lo, hi, where = bank * cfg.bank_bytes, (bank + 1) * cfg.bank_bytes, f" in bank {bank}"
        holes = self._holes(lo, hi) if size else [(lo, lo)]
        for start, end in holes:
            if end - start >= size:
                alloc = Allocation(
                    region, start, size, start // cfg.bank_bytes,
                    (start + max(size, 1) - 1) // cfg.bank_bytes,
                )
                self.allocations[region] = alloc
                return alloc
        free = sum(e - s for s, e in holes)
        largest = max((e - s for s, e in holes), default=0)
        detail = f"largest contiguous hole{where} is {largest} B" if free >= size else ""
        raise SramAllocationError(self.name + where, region, size, free if not detail else largest,
                                  detail)

    def release(self, region: str) -> None:
        del self.allocations[region]

    # -- accesses -----------------------------------------------------------------------------
    def charge(self, words: int, write: bool, tags: Tags = ()) -> int:
        """Charge ``words`` accesses without simulating the port; return their cycles.

        For work accounted analytically inside one event (a core walking a CSR column)."""
        cfg = self.config
        cycles = words * (cfg.write_cycles if write else cfg.read_cycles)
        energy = words * (cfg.write_energy_pj if write else cfg.read_energy_pj)
        op = "write" if write else "read"
        self.engine.ledger.charge(
            self.name, op, Category.MEMORY, words, cycles, energy, tags
        )
        return cycles

    def access(
        self, bank: int, words: int, write: bool = False, tags: Tags = (), requester: str = ""
    ) -> Generator[simpy.Event, None, None]:
        """Occupy ``bank``'s port for ``words`` accesses (waiting if it is busy) and charge them."""
        now = self.engine.now
        cycles = self.charge(words, write, tags)
        start = self.ports[bank].grant(now, cycles)
        yield self.env.timeout(start + cycles - now)
        self.engine.record(f"{self.name}.bank{bank}", requester or "access", start,
                           start + cycles)

    def pending(self) -> str | None:
        now = self.engine.now
        busy = [i for i, p in enumerate(self.ports) if p.busy(now)]
        return f"banks {busy} busy or queued" if busy else None
