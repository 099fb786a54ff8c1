"""Does a mapping fit one core's memories? Shared by every chip model.

A core holds a program (in program memory: SpiNNaker2's program banks, SENECA's instruction
memory) and named data regions (weights, states, buffers) in data memory. :func:`fit_regions`
rounds each to whole memory words and compares them with the capacities; a mapping that does
not fit raises :class:`CoreMemoryError`, whose message names the bytes missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class MemoryFit:
    """What one core must hold against what it has (bytes, rounded up to whole words)."""

    pe: str
    program_bytes: int
    program_capacity: int
    data: dict[str, int]
    data_capacity: int

    @property
    def data_bytes(self) -> int:
        return sum(self.data.values())

    @property
    def total_bytes(self) -> int:
        return self.program_bytes + self.data_bytes

    @property
    def missing_program(self) -> int:
        return max(0, self.program_bytes - self.program_capacity)

    @property
    def missing_data(self) -> int:
        return max(0, self.data_bytes - self.data_capacity)

    @property
    def missing(self) -> int:
        return self.missing_program + self.missing_data

    @property
    def fits(self) -> bool:
        return self.missing == 0

    def describe(self) -> str:
        parts = ", ".join(f"{k} {v} B" for k, v in self.data.items())
        out = (f"{self.pe}: program {self.program_bytes} of {self.program_capacity} B; "
               f"data {self.data_bytes} of {self.data_capacity} B ({parts})")
        if not self.fits:
            out += f"; {self.missing} B missing"
            if self.missing_program:
                out += f" (program {self.missing_program} B over)"
            if self.missing_data:
                out += f" (data {self.missing_data} B over)"
        return out


class CoreMemoryError(MemoryError):
    """A core's program or data does not fit its memories; ``fit`` holds the numbers."""

    def __init__(self, fit: MemoryFit) -> None:
        self.fit, self.missing = fit, fit.missing
        super().__init__(f"mapping does not fit: {fit.describe()}")


def fit_regions(
    core: str,
    program_bytes: int,
    program_capacity: int,
    data: Mapping[str, int],
    data_capacity: int,
    word_bytes: int,
) -> MemoryFit:
    """Round the program and every data region up to whole ``word_bytes`` words and set them
    against the capacities (no allocation: see the chips' ``load``)."""

    def words(n: int) -> int:
        if n < 0:
            raise ValueError(f"{core}: negative region size {n}")
        return -(-int(n) // word_bytes) * word_bytes

    return MemoryFit(core, words(program_bytes), program_capacity,
                     {k: words(v) for k, v in data.items()}, data_capacity)
