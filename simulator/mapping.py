"""Mappings: which core runs what, and what each core must hold.

A :class:`Mapping` is the output of a workload's mapper (``simulator/mappings/``) and the only
input to the memory check: :meth:`Mapping.load` hands each placement's program and regions to
the chip's :meth:`System.load <simulator.chips.system.System.load>`. Every core has a *role*
(``"att.key.tiles"``, ``"time_mix.ctrl"``, ``"layer1"``); reports fold the ledger's components
by role (:meth:`Mapping.fold`), never by patterns in component names.
"""

from __future__ import annotations

from collections.abc import Mapping as MappingABC
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.chips.memory import MemoryFit
    from simulator.chips.system import System


@dataclass(frozen=True)
class Placement:
    """One core's share: its role, its program's bytes, its data regions (bytes)."""

    core: int
    role: str
    program_bytes: int = 0
    regions: MappingABC[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Mapping:
    """Placements of cores ``0..n-1`` (in order), the strategy that made them, and a summary
    for reports (JSON-able)."""

    placements: tuple[Placement, ...]
    strategy: str
    summary: MappingABC[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for i, p in enumerate(self.placements):
            if p.core != i:
                raise ValueError(f"placement {i} is for core {p.core}: cores must be 0..n-1")

    @property
    def n_cores(self) -> int:
        return len(self.placements)

    def role(self, core: int) -> str:
        return self.placements[core].role

    def roles(self) -> dict[str, list[int]]:
        """Cores by role, in order of first appearance."""
        out: dict[str, list[int]] = {}
        for p in self.placements:
            out.setdefault(p.role, []).append(p.core)
        return out

    def load(self, system: System, check_only: bool = False) -> list[MemoryFit]:
        """Every core's memory fit on ``system``; unless ``check_only``, allocated (raising
        ``CoreMemoryError`` at the first core that does not fit)."""
        return [system.load(p.core, p.program_bytes, p.regions, check_only)
                for p in self.placements]

    def fold(self, system: System) -> dict[str, str]:
        """Core name -> role, to fold ledger components (``core12.npe`` becomes
        ``att.key.tiles.npe``)."""
        return {system.cores[p.core].name: p.role for p in self.placements}


def fold_component(component: str, roles: MappingABC[str, str]) -> str:
    """``component`` with its core name replaced by the core's role (other components as
    they are)."""
    head, dot, rest = component.partition(".")
    role = roles.get(head)
    return component if role is None else role + dot + rest
