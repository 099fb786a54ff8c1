"""The DVS-gesture EGRU network on N cores, batched: per-frame and per-sample latency, power
and energy, and the fewest cores that hold it (Nazeer et al. 2024, §III-D).

One point: ``batch`` samples of ``frames`` frames run one after another on the same cores (the
``paper`` model: SYNTHETIC events at the published size, ``workloads.dvs_trace``; ``tiny``:
real inference of the shipped tiny network on held-out synthetic gestures), weights loaded
once and kept in SRAM (dense, as published), each sample from rest, on the EGRU program and
mapping of ``egru-sweep`` (``simulator.programs.egru``, ``simulator.mappings.egru``).
Per-sample figures are the run's totals divided by the batch, as the paper normalises;
per-frame figures divide by every frame simulated. Power is energy over latency (static
included).

The fit frontier: the fewest cores whose every core holds its share (program, dense weights,
variables, DMA buffers; the chip's own reserve), found by checking each N against the chip's
memories without simulating.
"""

from __future__ import annotations

from functools import partial

from simulator.chips.registry import Chip, load_chip
from simulator.errors import UserError
from simulator.mappings.egru import map_egru
from simulator.programs.egru import EgruProgram
from simulator.results import DvsFigures, DvsGestureResult, nmsim_version
from simulator.simulate import Run, simulate
from workloads.dvs_trace import (
    DEFAULT_ACTIVITY,
    DEFAULT_FRAMES,
    DVS_PAPER_PES,
    FRAME_S,
    real_dvs_trace,
    synthetic_dvs_trace,
)
from workloads.egru_partition import layers_from_trace, partition
from workloads.trace import Trace

DEFAULT_CHIP = "spinnaker2"
WEIGHT_FORMAT = "dense"  # as published: dense weights held in SRAM


def breakdown(run: Run, batch: int) -> list[dict]:
    """Per-sample ledger rows by (layer, stage, role, operation, category), cores folded into
    their roles (``layer0.sram``): the rows sum to the run's energy over ``batch``."""
    def key(r: dict) -> tuple:
        layer = r.get("layer")
        return (-1 if layer is None else int(layer), r.get("stage", ""), r["component"],
                r["operation"], r["category"])

    return [{"layer": k[0], "stage": k[1], "component": k[2], "operation": k[3],
             "category": k[4], "count": count, "energy_j": energy, "cycles": cycles}
            for k, count, energy, cycles in run.totals_by(key, batch)]


def _figures(run: Run, divide: int) -> DvsFigures:
    total = run.ledger.total() * 1e-12
    static = run.ledger.by("category").get("static", 0.0) * 1e-12
    seconds = run.system.engine.seconds(run.cycles) / divide
    energy = total / divide
    return DvsFigures(latency_s=seconds, energy_j=energy,
                      dynamic_energy_j=(total - static) / divide,
                      power_w=energy / seconds if seconds else 0.0)


def fewest_pes_that_fit(trace: Trace, chip: Chip, strategy: str = "equal",
                        upper: int = DVS_PAPER_PES) -> int | None:
    """The smallest N (at least one core per layer) whose mapping fits every core's memory,
    checked without simulating (a core's share shrinks as N grows, so the frontier is found
    by bisection); None if not even ``upper`` fits."""
    layers = layers_from_trace(trace)
    system = chip.build(upper, lambda core, item: None)
    cost, streams = chip.cost(), chip.has("dram")

    def fits(n: int) -> bool:
        emap = map_egru(partition(layers, n, strategy, "nnz"), cost, streams,
                        weight_format=WEIGHT_FORMAT)
        return all(f.fits for f in emap.mapping.load(system, check_only=True))

    if not fits(upper):
        return None
    lo, hi = len(layers), upper  # fits(hi); the least N that fits lies in [lo, hi]
    while lo < hi:
        mid = (lo + hi) // 2
        if fits(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


MODELS = ("paper", "tiny")


def dvs_trace(model: str, frames: int, batch: int, activity: float | None, seed: int) -> Trace:
    """The trace of a point: ``paper`` synthetic (``activity``, default
    :data:`DEFAULT_ACTIVITY`), or ``tiny`` real inference (which has its own activity)."""
    if model == "paper":
        return synthetic_dvs_trace(frames, batch,
                                   DEFAULT_ACTIVITY if activity is None else activity, seed)
    if model != "tiny":
        raise UserError(f"--model {model!r}: one of {', '.join(MODELS)}")
    if activity is not None:
        raise UserError("--activity sets the synthetic paper-size network's activity; the "
                        "tiny model's events are its own (leave --activity out)")
    return real_dvs_trace(frames, batch, seed=1000 + seed)


def dvs_gesture(pes: int = DVS_PAPER_PES, frames: int = DEFAULT_FRAMES, batch: int = 1,
                activity: float | None = None, chip: Chip | None = None, seed: int = 0,
                strategy: str = "equal", frontier: bool = True, model: str = "paper"
                ) -> DvsGestureResult:
    """Simulate one point (module docstring)."""
    chip = chip or load_chip(DEFAULT_CHIP)
    trace = dvs_trace(model, frames, batch, activity, seed)
    part = partition(layers_from_trace(trace), pes, strategy, "nnz")
    emap = map_egru(part, chip.cost(), chip.has("dram"), weight_format=WEIGHT_FORMAT)
    run = simulate(trace, emap.mapping, partial(EgruProgram, egru_map=emap), chip,
                   memory="check")
    worst = max(run.fits, key=lambda f: (f.missing, f.data_bytes))
    return DvsGestureResult(
        trace_label=trace.label, model=model, chip=chip.provenance(), pes=pes,
        pes_per_layer=list(part.cores_per_layer), strategy=strategy, frames=frames,
        batch=batch, activity=(DEFAULT_ACTIVITY if activity is None else activity)
        if model == "paper" else None, seed=seed, weight_format=WEIGHT_FORMAT,
        fits=run.fits_memory, max_pe_bytes=max(f.data_bytes for f in run.fits),
        capacity_bytes=worst.data_capacity,
        fewest_pes_that_fit=fewest_pes_that_fit(trace, chip, strategy,
                                                max(pes, DVS_PAPER_PES)) if frontier else None,
        per_frame=_figures(run, frames * batch), per_sample=_figures(run, batch),
        real_time_frame_s=FRAME_S, breakdown=breakdown(run, batch),
        nmsim_version=nmsim_version())
