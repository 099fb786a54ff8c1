"""Base class of every simulated hardware block: a name, a home engine, and static power."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from simulator.engine import Engine


class Component:
    """Registers itself with the engine so that static energy and deadlock checks find it."""

    def __init__(self, engine: Engine, name: str, static_power_w: float = 0.0) -> None:
        self.engine = engine
        self.env = engine.env
        self.name = name
        self.static_power_w = static_power_w
        engine.register(self)

    def pending(self) -> str | None:
        """What work this component still holds (None when idle); used to report deadlocks."""
        return None
