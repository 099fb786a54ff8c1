"""The one path from workload to chip: ``simulate(workload, mapping, program, chip) -> Run``.

As Timeloop evaluates a mapping of a workload on an architecture, every job is a composition
of these four inputs and this call: build the chip's system for the mapping's cores, load what
each core holds (the memory check), run the program's event handlers to the end, settle the
charges, and check that every packet sent was delivered. The :class:`Run` keeps the ledger,
the simulated time, the memory fits, the program's own report and, when asked for, the
critical-path recorder (:mod:`simulator.critical_path`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from simulator.critical_path import CriticalPathRecorder
from simulator.mapping import fold_component

if TYPE_CHECKING:
    from simulator.chips.memory import MemoryFit
    from simulator.chips.registry import Chip
    from simulator.chips.system import System
    from simulator.ledger import Ledger
    from simulator.mapping import Mapping
    from simulator.program import Program
    from simulator.timeline import Timeline

ProgramFactory = Callable[["System", "Mapping", Any], "Program"]


@dataclass
class Run:
    """What one simulation leaves."""

    workload: Any
    chip: Chip
    mapping: Mapping
    system: System
    program: Program
    fits: list[MemoryFit]
    report: dict[str, Any] = field(default_factory=dict)

    @property
    def ledger(self) -> Ledger:
        return self.system.engine.ledger

    @property
    def clock_hz(self) -> int:
        return self.system.engine.clock_hz

    @property
    def cycles(self) -> int:
        return self.system.engine.now

    @property
    def critical(self) -> CriticalPathRecorder | None:
        """The critical-path recorder (``simulate(..., critical_path=True)``), else None."""
        return self.system.engine.critical

    @property
    def fits_memory(self) -> bool:
        return all(f.fits for f in self.fits)

    def rows(self) -> list[dict]:
        """Ledger rows with every core's components folded into its role."""
        roles = self.mapping.fold(self.system)
        return [{**r, "component": fold_component(r["component"], roles)}
                for r in self.ledger.rows()]

    def totals_by(self, key: Callable[[dict], tuple], per: float = 1
                  ) -> list[tuple[tuple, float, float, float]]:
        """``(key, count, energy_j, cycles)`` of :meth:`rows` summed by ``key(row)`` and
        divided by ``per`` (tokens, samples), sorted by key: a job's breakdown rows."""
        acc: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
        for r in self.rows():
            v = acc[key(r)]
            v[0] += r["count"]
            v[1] += r["energy_pj"]
            v[2] += r["cycles"]
        return [(k, v[0] / per, v[1] * 1e-12 / per, v[2] / per) for k, v in sorted(acc.items())]


def simulate(workload: Any, mapping: Mapping, program: ProgramFactory, chip: Chip, *,
             memory: Literal["allocate", "check"] = "allocate",
             timeline: Timeline | None = None, record_deliveries: bool = False,
             critical_path: bool = False) -> Run:
    """Run ``program(system, mapping, workload)`` on a fresh system of ``chip``.
    ``memory="allocate"`` fails at the first core that does not fit; ``"check"`` records
    every core's fit and simulates anyway ("what if it fitted"). ``critical_path`` records
    the nodes and segments that ``run.critical.chain(key)`` walks back from the program's
    milestones (:meth:`Program.milestone`)."""
    def unbound(core, item):  # the program is made on the built system, then bound
        raise RuntimeError(f"{core.name} got {item!r} before its program was bound")

    system = chip.build(mapping.n_cores, unbound, timeline=timeline,
                        record_deliveries=record_deliveries)
    if critical_path:
        CriticalPathRecorder(system.engine).attach(system.cores)
    fits = mapping.load(system, check_only=memory == "check")
    prog = program(system, mapping, workload)
    for core in system.cores:
        core.handler = prog.handle
    prog.start()
    system.engine.run()
    prog.settle()
    prog.check()
    sent = sum(n.expected for n in system.networks)
    made = sum(n.delivered for n in system.networks)
    if sent != made:
        raise RuntimeError(f"{sent} deliveries expected, {made} made")
    return Run(workload, chip, mapping, system, prog, fits, prog.report())
