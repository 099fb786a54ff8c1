"""Published EGRU-on-SpiNNaker2 measurements, checked by the EGRU job's own mapping code.

Registered with :mod:`simulator.references`, so ``nmsim calibrate --report`` lists them beside
the chip references. Nazeer et al. (AICAS 2024) give the memory of one PE of their 150-PE
language model (Table I); this maps the paper-size network (synthetic weights at the paper's
95% sparsity per matrix, the same shapes) exactly as stated in the reference's conditions and
reads the fullest PE's weight bytes off the mapping's footprint (:mod:`simulator.mappings.egru`).
"""

from __future__ import annotations

from calibration.schema import Reference
from simulator.chips.registry import load_chip
from simulator.mappings.egru import weight_bytes
from simulator.references import simulates
from workloads.egru_partition import layers_from_trace, partition
from workloads.egru_trace import PAPER_SIZES, PAPER_SPARSITY, synthetic_egru_trace

#: bytes per kB in the paper's memory table (its 96 KB data memory is 3 banks of 32 KiB)
KB = 1024


@simulates("spinnaker2.egru_lm_weights_per_pe")
def egru_lm_weights_per_pe(ref: Reference) -> float:
    c = ref.conditions
    if float(c["weight_sparsity"]) != PAPER_SPARSITY:
        raise ValueError(f"{ref.name}: the paper-size trace is pruned to {PAPER_SPARSITY}")
    trace = synthetic_egru_trace(PAPER_SIZES, PAPER_SPARSITY, steps=1, seed=0)
    part = partition(layers_from_trace(trace), int(c["pes"]), "equal", str(c["layer_split"]))
    cost = load_chip(ref.chip).cost()
    return max(weight_bytes(core, part, cost, str(c["layout"])) for core in part.cores) / KB
