"""The one interface every chip model offers to programs: cores, NoC, memory, capabilities.

A program (``simulator/programs/``) sees a chip only through :class:`System`, so a workload
written once runs on every registered chip. Core ``i`` of a system is ``system.cores[i]``
(a :class:`~simulator.components.Core` with its data memory); what a core is *for* is the
mapping's business (:mod:`simulator.mapping`), never a name pattern.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from simulator.chips.memory import MemoryFit
    from simulator.chips.work import CoreCostModel
    from simulator.components import Core, Dram, Noc, Tail
    from simulator.engine import Engine
    from simulator.ledger import Tags


class System(Protocol):
    """A built chip (or several chips): what a program may use."""

    engine: Engine
    cost: CoreCostModel
    cores: list[Core]

    @property
    def networks(self) -> list[Noc]:
        """Every packet network of the system (on-chip NoCs, a board network): their counters
        prove that every packet sent was delivered."""
        ...

    @property
    def board(self) -> Noc | None:
        """The chip-to-chip network of a multi-chip system (``None`` on one chip)."""
        ...

    @property
    def n_chips(self) -> int: ...

    @property
    def has_host_port(self) -> bool:
        """Whether input from outside the chip enters through a host port
        (:meth:`send_from_host`); a program's input comes from there when it does, and from
        DRAM (:meth:`dram_of`) only when it does not, whether or not the cores have one."""
        ...

    @property
    def value_bits(self) -> int:
        """Bits of one activation value in an event payload (the cores' datapath word)."""
        ...

    def send(self, src: int, dsts: Sequence[int], payload_bits: int, data: Any = None,
             tags: Tags = (), count: int = 1, spacing: int = 0, tail: Tail | None = None
             ) -> None:
        """Unicast or multicast from core ``src`` to cores ``dsts``; ``count`` > 1 sends a
        train of that many packets along one route, heads ``spacing`` cycles apart if the
        sender issues them slower than the links move them; ``tail``: the train's last
        packet goes on to cores ``tail.dsts`` too (see ``Noc.send``)."""
        ...

    def send_from_host(self, dsts: Sequence[int], payload_bits: int, data: Any = None,
                       tags: Tags = (), count: int = 1) -> None:
        """Input events from outside the chip (the host interface) to cores ``dsts``; only
        on chips that have one (:attr:`has_host_port`)."""
        ...

    def load(self, core: int, program_bytes: int, regions: Mapping[str, int],
             check_only: bool = False) -> MemoryFit:
        """Check core ``core``'s program and data regions (bytes) against its memories, with
        what the chip always keeps back (runtime reserve, stack) counted in; unless
        ``check_only``, allocate them and raise ``CoreMemoryError`` naming the bytes missing.
        A core's whole share is loaded in one call (a mapping's placement)."""
        ...

    def dram_of(self, core: int) -> Dram | None:
        """The off-chip memory core ``core`` reaches by DMA, or ``None`` if it has none."""
        ...

    def chip_of(self, core: int) -> int:
        """Which chip core ``core`` is on (0 on a single-chip system)."""
        ...
