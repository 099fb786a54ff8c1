"""Simulations of SpiNNaker2's published reference measurements (``calibration/references/
spinnaker2.yaml``), each run on the chip model built from the cost table.

Power states are measured the way a lab would: the chip runs the state for a window of
simulated time and power is the ledger's energy over that time. CoreMark is a CoreMark-like
instruction mix (the table's ``coremark_mix``) on every PE; the INT8 benchmark is one large
matrix multiplication per PE on the MAC accelerator. The EGRU weight footprint partitions a
synthetic paper-size model over 150 PEs as the paper did.
"""

from __future__ import annotations

from calibration.schema import Reference
from calibration.spinnaker2 import load_spinnaker2
from simulator.chips.spinnaker2 import Spinnaker2Cost, build_spinnaker2
from simulator.chips.work import Work
from simulator.references import simulates

#: simulated measurement window, in PE cycles (long enough that set-up costs are negligible)
WINDOW_CYCLES = 1_000_000


def _run(ref: Reference, work: Work | None) -> tuple[float, float]:
    """(power in W, seconds measured) of the chip with ``ref``'s PEs each doing ``work`` back
    to back for about the window (``None``: PEs asleep for the window)."""
    cfg = load_spinnaker2()
    cond = ref.conditions
    n = 0 if cond.get("state") == "off" else int(cond.get("pes", cfg.chip.pes_per_chip.value))
    level = str(cond.get("level", "0.5V"))

    def handler(core, item):
        yield work.scaled(repetitions(work)).apply(core)

    system = build_spinnaker2(n, handler, Spinnaker2Cost(cfg, level))
    engine = system.engine
    if work is None:
        engine.run(WINDOW_CYCLES)
        engine.charge_static()
    else:
        for pe in system.cores:
            pe.inbox.put("start")
        engine.run()
    seconds = engine.seconds(engine.now)
    return engine.ledger.total() / 1e12 / seconds, seconds


def repetitions(work: Work) -> int:
    return max(1, WINDOW_CYCLES // work.cycles)


def _coremark(ref: Reference) -> Work:
    cfg = load_spinnaker2()
    cost = Spinnaker2Cost(cfg, str(ref.conditions["level"]))
    return cost.instructions({c: 1000 * v.value for c, v in cfg.coremark_mix.items()}, "coremark")


def _mla(ref: Reference) -> tuple[Work, int]:
    cost = Spinnaker2Cost(load_spinnaker2(), str(ref.conditions["level"]), precision="int8",
                          use_mla=True)
    macs = 1_000_000
    return cost.mla_matmul(macs), macs


@simulates("spinnaker2.power_pes_off", "spinnaker2.power_sleep_0v5",
           "spinnaker2.power_sleep_0v8", "spinnaker2.power_coremark_0v5",
           "spinnaker2.power_coremark_0v8")
def chip_power_mw(ref: Reference) -> float:
    work = _coremark(ref) if ref.conditions.get("state") == "coremark" else None
    return _run(ref, work)[0] * 1e3


def _int8(ref: Reference) -> tuple[float, float]:
    """(operations per second, power in W) of every PE multiplying on its MLA."""
    work, macs = _mla(ref)
    power, seconds = _run(ref, work)
    n = int(ref.conditions["pes"])
    return 2 * macs * repetitions(work) * n / seconds, power


@simulates("spinnaker2.int8_tops_0v8", "spinnaker2.int8_tops_0v5")
def int8_tops(ref: Reference) -> float:
    return _int8(ref)[0] / 1e12


@simulates("spinnaker2.int8_tops_per_w_0v8", "spinnaker2.int8_tops_per_w_0v5")
def int8_tops_per_w(ref: Reference) -> float:
    ops, power = _int8(ref)
    return ops / power / 1e12
