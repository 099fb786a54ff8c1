"""A third chip defined only in test files (``tests/data/toychip.yaml`` and this module): the
"add a chip" walk-through of ``docs/architecture.md``. Registering it edits no project file."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

from calibration.schema import NonNegative, Positive
from calibration.specs import NocSpec
from simulator.chips.mesh import build_mesh
from simulator.chips.registry import ChipSpec
from simulator.chips.specs import noc_config
from simulator.chips.work import Charge, Work
from simulator.components import CoreConfig, SramConfig
from simulator.ledger import Category

FILE = Path(__file__).with_name("data") / "toychip.yaml"


class ToyConfig(BaseModel):
    """The chip description: every number cited, range-checked by its type."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["toychip"] = "toychip"
    clock: Positive
    mac_energy: NonNegative
    op_energy: NonNegative
    event_energy: NonNegative
    event_cycles: Positive
    lanes: Positive
    memory_bytes: Positive
    noc: NocSpec


class ToyOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    value_bits: Literal[16, 32] = 16


class ToyCost:
    """One MAC or op per lane per cycle; an event costs ``event_cycles``."""

    def __init__(self, config: ToyConfig, options: ToyOptions) -> None:
        self.config = config
        self.clock_hz = int(config.clock.value)
        self.value_bits = options.value_bits
        self.lanes = int(config.lanes.value)

    def _lanes(self, n: float, pj: float, op: str, category: Category) -> Work:
        cycles = math.ceil(n / self.lanes)
        return Work((Charge("pe", op, category, n, cycles, n * pj),), cycles, op)

    def column(self, n_weights: int) -> Work:
        return self._lanes(n_weights, self.config.mac_energy.value, "mac", Category.COMPUTATION)

    def csr_column(self, nnz: int) -> Work:
        return self.column(nnz)

    def csr_columns(self, nnz: np.ndarray) -> Work:
        works = [self.column(int(n)) for n in np.asarray(nnz)]
        return Work(tuple(c for w in works for c in w.charges), sum(w.cycles for w in works),
                    "csr_columns")

    def elementwise(self, op: str, n: int) -> Work:
        return self._lanes(n, self.config.op_energy.value, op, Category.COMPUTATION)

    def receive_event(self) -> Work:
        c = int(self.config.event_cycles.value)
        return Work((Charge("ctrl", "event", Category.CONTROL, 1, c,
                            self.config.event_energy.value),), c, "receive_event")

    def send_events(self, n: int) -> Work:
        return Work((Charge("ctrl", "send", Category.COMMUNICATION, n, n,
                            n * self.config.event_energy.value),), n, "send_events")

    def weight_bytes(self, n_weights: int) -> int:
        return int(n_weights) * self.value_bits // 8

    def csr_bytes(self, nnz: int, offsets: int) -> int:
        return self.weight_bytes(nnz) + 2 * (int(nnz) + int(offsets) + 1)

    def program_bytes(self, workload: str) -> int:
        return 0

    def dma_setup(self) -> Work:
        raise NotImplementedError("toychip has no DMA")

    def weight_capacity_bytes(self) -> int:
        return int(self.config.memory_bytes.value)

    def static_power_w(self) -> float:
        return 0.0


def build_toychip(n_cores, handler, cost: ToyCost, *, timeline=None, record_deliveries=False):
    memory = int(cost.config.memory_bytes.value)
    return build_mesh(
        n_cores, handler, cost, timeline=timeline, record_deliveries=record_deliveries,
        noc=noc_config(cost.config.noc, "xy"),
        mesh=None, host_node=(0, 0),
        sram=SramConfig(banks=4, bank_bytes=memory // 4, word_bytes=4, read_energy_pj=0.0,
                        write_energy_pj=0.0),
        core=CoreConfig(), program_capacity=0, reserve_bytes=0)


TOYCHIP = ChipSpec(
    name="toychip", config_schema=ToyConfig, options_schema=ToyOptions, default_file=FILE,
    cost=ToyCost, build=build_toychip, summary="a made-up test chip")
