"""Validation of the DVS-gesture network against Nazeer et al. 2024 (§III-D): the memory fit.

The paper's one checkable statement about this workload is where it runs: two EGRU layers of
256 units fed by 512 CNN features, dense weights held in SRAM, on 128 SpiNNaker2 PEs. It gives
no latency or energy for it, so this compares the fit only: the simulator maps the network on
the paper's 128 PEs with dense weights and reports whether every PE holds its share, how full
the fullest one is, and the fewest PEs that would hold it (``nmsim dvs-gesture``,
``docs/dvs-gesture.md``). The events are synthetic; the fit does not depend on them.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from simulator.chips.registry import load_chip
from simulator.jobs.dvs_gesture import DEFAULT_CHIP, WEIGHT_FORMAT, fewest_pes_that_fit
from simulator.mappings.egru import map_egru
from workloads.dvs_trace import DVS_PAPER_PES, DVS_SIZES, synthetic_dvs_trace
from workloads.egru_partition import layers_from_trace, partition

SOURCE = ("Nazeer et al., 'Language Modeling on a SpiNNaker2 Neuromorphic Chip', AICAS 2024, "
          "§III-D")
PUBLISHED = (f"DVS128 gesture network ({DVS_SIZES[0]} CNN features, 2 EGRU layers of "
             f"{DVS_SIZES[1]} units, dense weights in SRAM) runs on {DVS_PAPER_PES} PEs")


class DvsFitValidation(BaseModel):
    """The published placement against the simulator's memory check."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str
    published: str
    pes: int
    pes_per_layer: list[int]
    fits: bool
    max_pe_bytes: int
    capacity_bytes: int
    fill: float  # the fullest PE's data bytes / its data capacity
    fewest_pes_that_fit: int | None
    verdict: str


def validate_dvs(pes: int = DVS_PAPER_PES, strategy: str = "equal") -> DvsFitValidation:
    chip = load_chip(DEFAULT_CHIP)
    trace = synthetic_dvs_trace(frames=1)
    part = partition(layers_from_trace(trace), pes, strategy, "nnz")
    emap = map_egru(part, chip.cost(), chip.has("dram"), weight_format=WEIGHT_FORMAT)
    fits = emap.mapping.load(chip.build(pes, lambda core, item: None), check_only=True)
    worst = max(fits, key=lambda f: (f.missing, f.data_bytes))
    fewest = fewest_pes_that_fit(trace, chip, strategy, pes)
    ok = all(f.fits for f in fits)
    verdict = (f"consistent: it fits on {pes} PEs, the fullest at {worst.data_bytes:,} of "
               f"{worst.data_capacity:,} B; {fewest} PEs would be enough" if ok else
               f"INCONSISTENT: PE {worst.pe} lacks {worst.missing:,} B on {pes} PEs")
    return DvsFitValidation(
        source=SOURCE, published=PUBLISHED, pes=pes, pes_per_layer=list(part.cores_per_layer),
        fits=ok, max_pe_bytes=worst.data_bytes, capacity_bytes=worst.data_capacity,
        fill=worst.data_bytes / worst.data_capacity, fewest_pes_that_fit=fewest,
        verdict=verdict)


def format_table(result: DvsFitValidation) -> str:
    return "\n".join([
        f"DVS-gesture memory fit — {result.source}",
        f"  published: {result.published}",
        f"  simulated: {result.pes} PEs ({'/'.join(map(str, result.pes_per_layer))} per "
        f"layer), fullest PE {result.max_pe_bytes:,} B of {result.capacity_bytes:,} B "
        f"({result.fill:.0%}); fewest PEs that fit: {result.fewest_pes_that_fit}",
        f"  verdict: {result.verdict}",
    ])
