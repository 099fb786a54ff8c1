"""Published EGRU-on-SpiNNaker2 measurements, checked by the EGRU job's own mapping code.

Registered with :mod:`simulator.references`, so ``nmsim calibrate --report`` lists them beside
the chip references. Nazeer et al. (AICAS 2024) give the memory of one PE of their 150-PE
language model (Table I); this maps the paper-size network (synthetic weights at the paper's
95% sparsity per matrix, the same shapes) exactly as stated in the reference's conditions and
reads the fullest PE's weight bytes off :func:`simulator.jobs.egru_sweep.memory_check`.
"""

from __future__ import annotations

from calibration.schema import Reference
from calibration.spinnaker2 import load_spinnaker2
from simulator.jobs.egru_sweep import load_trace, memory_check
from simulator.references import simulates
from workloads.egru_partition import layers_from_trace, partition
from workloads.egru_trace import PAPER_SPARSITY

#: bytes per kB in the paper's memory table (its 96 KB data memory is 3 banks of 32 KiB)
KB = 1024


@simulates("spinnaker2.egru_lm_weights_per_pe")
def egru_lm_weights_per_pe(ref: Reference) -> float:
    c = ref.conditions
    if float(c["weight_sparsity"]) != PAPER_SPARSITY:
        raise ValueError(f"{ref.name}: the paper-size trace is pruned to {PAPER_SPARSITY}")
    trace = load_trace("paper", None, 1, 0)
    part = partition(layers_from_trace(trace), int(c["pes"]), "equal", str(c["layer_split"]))
    fits = memory_check(part, load_spinnaker2(), str(c["layout"]))
    return max(f.data["weights"] for f in fits) / KB
