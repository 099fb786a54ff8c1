"""An analytic chip: every operation at a fixed energy and time, nothing else charged.

The cost model of an analytical study, runnable on the one path so that its assumptions can
be compared with the detailed chips one at a time (``docs/validation.md``). A MAC and an
element-wise operation each cost ``operation``'s energy and time (computational and memory
parts, ledger categories of the same names); receiving and sending events, the NoC and
leakage cost nothing. Cores sit on a mesh (:mod:`simulator.chips.mesh`) only so that the
programs run unchanged: the NoC's timing orders the work but costs no energy. The time per
operation is charged as cycles of a clock of ``clock`` Hz (fractions kept in the ledger, the
busy time rounded up per action).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from calibration.analytic import DEFAULT_PATH, AnalyticConfig
from simulator.chips.mesh import MeshSystem, build_mesh, near_square
from simulator.chips.registry import ChipSpec
from simulator.chips.specs import noc_config
from simulator.chips.work import Charge, Work
from simulator.components import CoreConfig, SramConfig
from simulator.components.core import Handler
from simulator.ledger import Category
from simulator.timeline import Timeline

_EPS = 1e-9


class AnalyticOptions(BaseModel):
    """No options: an analytic description states everything in its file."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class AnalyticCost:
    """Work of one action on an analytic core (implements ``CoreCostModel``)."""

    def __init__(self, config: AnalyticConfig,
                 options: AnalyticOptions | Mapping[str, Any] | None = None) -> None:
        self.config = config
        self.clock_hz = int(config.clock.value)
        self.value_bits = int(config.value_bits.value)
        op = config.operation
        ns = self.clock_hz * 1e-9  # cycles per ns
        self._per_op = ((Category.COMPUTATION, op.computation_energy.value,
                         op.computation_time.value * ns),
                        (Category.MEMORY, op.memory_energy.value, op.memory_time.value * ns))
        self._ops: dict[tuple[str, int], Work] = {}

    def _operations(self, name: str, n: float) -> Work:
        key = (name, n)
        work = self._ops.get(key)
        if work is None:
            charges = tuple(Charge("pe", name if cat is Category.COMPUTATION
                                   else f"{name}_memory", cat, n, n * cycles, n * pj)
                            for cat, pj, cycles in self._per_op)
            work = self._ops[key] = Work(charges, math.ceil(sum(c.cycles for c in charges)
                                                            - _EPS), name)
        return work

    def column(self, n_weights: int) -> Work:
        return self._operations("mac", int(n_weights))

    def csr_column(self, nnz: int) -> Work:
        return self._operations("mac", int(nnz))

    def csr_columns(self, nnz: np.ndarray) -> Work:
        return self._operations("mac", int(np.asarray(nnz, dtype=np.int64).sum()))

    def elementwise(self, op: str, n: int) -> Work:
        return self._operations(op, int(n))

    def receive_event(self) -> Work:
        return Work(label="receive_event")

    def send_events(self, n: int) -> Work:
        return Work(label="send_events")

    def weight_bytes(self, n_weights: int) -> int:
        return -(-int(n_weights) * int(self.config.weight_bits.value) // 8)

    def csr_bytes(self, nnz: int, offsets: int) -> int:
        return self.weight_bytes(nnz) + 2 * (int(nnz) + int(offsets) + 1)

    def program_bytes(self, workload: str) -> int:
        return 0

    def dma_setup(self) -> Work:
        raise NotImplementedError("an analytic chip has no DMA")

    def weight_capacity_bytes(self) -> int:
        return int(self.config.memory_bytes.value)

    def static_power_w(self) -> float:
        return 0.0


def build_analytic(n_cores: int, handler: Handler | Sequence[Handler], cost: AnalyticCost, *,
                   timeline: Timeline | None = None, record_deliveries: bool = False
                   ) -> MeshSystem:
    memory = int(cost.config.memory_bytes.value)
    return build_mesh(
        n_cores, handler, cost, noc=noc_config(cost.config.noc, "xy"),
        mesh=near_square(n_cores), host_node=(0, 0),
        sram=SramConfig(banks=1, bank_bytes=memory, word_bytes=4, read_energy_pj=0.0,
                        write_energy_pj=0.0),
        core=CoreConfig(), program_capacity=0, reserve_bytes=0, timeline=timeline,
        record_deliveries=record_deliveries)


CHIP = ChipSpec(
    name="analytic", config_schema=AnalyticConfig, options_schema=AnalyticOptions,
    default_file=DEFAULT_PATH, cost=AnalyticCost, build=build_analytic,
    summary="fixed energy and time per operation (an analytical study's model; shipped: "
            "Knunyants et al. 2025 on SENECA)")
