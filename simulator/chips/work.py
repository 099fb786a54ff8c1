"""Work: the cost of one hardware action, computed analytically, applied to a core in one event.

A chip's cost model turns an action ("multiply one input event into 96 weights") into a
:class:`Work`: the ledger charges of every unit involved (NPEs, controller, data memory, ...)
and the cycles the core is busy (the critical path, with parallel lanes already divided out).
Jobs apply it with :meth:`Work.apply`, which costs one SimPy event however many MACs it holds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from simulator.ledger import Category, Tags

if TYPE_CHECKING:
    import numpy as np
    import simpy

    from simulator.components.core import Core


@dataclass(frozen=True, slots=True)
class Charge:
    """One ledger line of a :class:`Work`; ``unit`` is appended to the core's name."""

    unit: str
    operation: str
    category: Category
    count: float
    cycles: float
    energy_pj: float

    def scaled(self, n: float) -> Charge:
        return Charge(self.unit, self.operation, self.category, self.count * n, self.cycles * n,
                      self.energy_pj * n)


@dataclass(frozen=True, slots=True)
class Work:
    charges: tuple[Charge, ...] = ()
    cycles: int = 0
    label: str = field(default="work", compare=False)

    def __add__(self, other: Work) -> Work:
        """Sequential composition: charges add up, cycles add up."""
        return Work(self.charges + other.charges, self.cycles + other.cycles, self.label)

    def scaled(self, n: int) -> Work:
        """``n`` repetitions in sequence."""
        return Work(tuple(c.scaled(n) for c in self.charges), self.cycles * n, self.label)

    @property
    def energy_pj(self) -> float:
        return sum(c.energy_pj for c in self.charges)

    def charge(self, core: Core, tags: Tags = (), times: int = 1) -> None:
        """Charge ``times`` repetitions to the ledger without advancing time (no new objects:
        the hot path of jobs that apply one Work per event of a train)."""
        ledger = core.engine.ledger
        name = core.name
        for c in self.charges:
            ledger.charge(f"{name}.{c.unit}", c.operation, c.category, c.count * times,
                          c.cycles * times, c.energy_pj * times, tags)

    def apply(self, core: Core, tags: Tags = (), times: int = 1) -> simpy.Timeout:
        """Charge ``times`` repetitions and keep ``core`` busy for them:
        ``yield work.apply(core, tags)``."""
        self.charge(core, tags, times)
        return core.busy(self.cycles * times, self.label)


class CoreCostModel(Protocol):
    """What a chip's per-core cost model offers to chip-independent programs: each method
    returns the :class:`Work` of one action on one core, or a size in bytes. Programs use
    nothing else of a cost model."""

    #: chip clock in Hz (the engine's time unit is one cycle of it)
    clock_hz: int
    #: bits of one activation value as the cores compute and send it
    value_bits: int

    def column(self, n_weights: int) -> Work:
        """One non-zero input multiplied into ``n_weights`` dense weights held by this core,
        accumulated into their outputs (weight loads, MACs, accumulator traffic)."""
        ...

    def csr_column(self, nnz: int) -> Work:
        """Same for one CSR column with ``nnz`` stored non-zeros (value + index loads)."""
        ...

    def csr_columns(self, nnz: np.ndarray) -> Work:
        """Several CSR columns in one action: the sum of :meth:`csr_column` over ``nnz``."""
        ...

    def elementwise(self, op: str, n: int) -> Work:
        """``n`` element-wise operations ``op`` (add, sub, mul, div, exp, sigmoid, tanh, max,
        compare, sqrt, copy); ops a chip lacks are composed of the ones it has."""
        ...

    def receive_event(self) -> Work:
        """Taking one incoming event (packet) off the network interface and dispatching it."""
        ...

    def send_events(self, n: int) -> Work:
        """Forming ``n`` outgoing events (packets), excluding the NoC's own costs."""
        ...

    def weight_bytes(self, n_weights: int) -> int:
        """Bytes that ``n_weights`` dense weights occupy at the configured precision."""
        ...

    def csr_bytes(self, nnz: int, offsets: int) -> int:
        """Bytes of a CSR matrix with ``nnz`` stored weights and ``offsets`` column (or row)
        offsets, in this core's value and index formats."""
        ...

    def program_bytes(self, workload: str) -> int:
        """Bytes of ``workload``'s program on one core where published, else 0 (unchecked)."""
        ...

    def dma_setup(self) -> Work:
        """The core writing one DMA descriptor (only on chips whose cores have a DRAM)."""
        ...

    def weight_capacity_bytes(self) -> int:
        """Bytes of a core's data memory available for weights (the rest is states/buffers)."""
        ...

    def static_power_w(self) -> float:
        """Static (leakage/baseline) power of one core while the job runs."""
        ...
