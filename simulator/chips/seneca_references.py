"""Simulations of SENECA's published reference numbers (``calibration/references/
seneca.yaml``), each run on the chip model built from the cost table.

- Energy per synaptic operation: one core receives input events back to back (delivered to its
  inbox, as from the NoC interface); each is the RISC-V's event handler plus one dense column of
  ``synapses_per_event`` weights with the reference's options. Every joule of the ledger
  (leakage included) is divided by the synaptic operations done.
- Data-memory read energy per bit: one broadcast MLD on every NPE; the data memory's part of
  the ledger over the bits loaded (checks Table 8 against the memory-technology table).
"""

from __future__ import annotations

from calibration.schema import Reference
from calibration.seneca import SenecaOptions, load_seneca
from simulator.chips.seneca import SenecaCost, build_seneca
from simulator.chips.work import Work
from simulator.ledger import Ledger
from simulator.references import simulates

#: input events per simulated measurement (enough to average the leakage of the window)
EVENTS = 64
_PJ_PER_FJ = 1e-3


def _options(ref: Reference) -> SenecaOptions:
    fields = set(SenecaOptions.model_fields)
    return SenecaOptions.model_validate({k: v for k, v in ref.conditions.items() if k in fields})


def _run(cost: SenecaCost, work: Work, events: int) -> Ledger:
    """The ledger of one core doing ``work`` once per input event."""

    def handler(core, item):
        yield work.apply(core)

    system = build_seneca(1, handler, cost=cost)
    for i in range(events):
        system.cores[0].inbox.put(i)
    system.engine.run()
    return system.engine.ledger


@simulates("seneca.synop_energy_bf16", "seneca.synop_energy_int8_wide")
def synop_energy_pj(ref: Reference) -> float:
    cost = SenecaCost(load_seneca(), _options(ref))
    fan_out = int(ref.conditions["synapses_per_event"])
    ledger = _run(cost, cost.receive_event() + cost.column(fan_out), EVENTS)
    return ledger.total() / (EVENTS * fan_out)


@simulates("seneca.data_memory_read_energy_per_bit")
def data_memory_read_fj_per_bit(ref: Reference) -> float:
    cost = SenecaCost(load_seneca())
    ledger = _run(cost, cost.npe_work({"mld": 1.0}, cost.lanes, "mld"), 1)
    energy = ledger.by("component", "operation")[("core0.data_mem", "mld")]
    return energy / (cost.lanes * cost.word_bits) / _PJ_PER_FJ
