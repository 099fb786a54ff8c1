"""The EGRU language model on SpiNNaker2 against Nazeer et al. 2024 (AICAS), Table II and Fig. 2.

Nazeer et al., "Language Modeling on a SpiNNaker2 Neuromorphic Chip", AICAS 2024, run a
three-layer EGRU LM (embedding 750, layers 1350/1350/750, every W and R 95% pruned) on 150
PEs of one SpiNNaker2 chip and report in Table II 0.39 W, 170.25 ms and 65.3 mJ, without
saying per what (sequences of 70 tokens, batch 1). Fig. 2 says the recurrent matrix
multiplication is the most expensive stage, broadcasting comparably cheap, and the bottleneck
memory reads and writes rather than communication.

This module *compares*; it tunes nothing. It runs the paper-size model through the EGRU job
(:mod:`simulator.jobs.egru_sweep`: ``PointSpec``, ``load_trace``, ``simulate_partition``) at
the paper's mapping (150 PEs, 50/50/50, contiguous neuron blocks) with the chip file's
defaults, and reports simulated against published cells under both readings (per token step,
per 70-step sequence), the Fig. 2 claims as checks, and the sensitivity of time and power to
the two numbers nothing published fixes: the per-layer activity of the paper-size model and
the Cortex-M4F cycles per CSR weight. The cycles are varied only through chip overrides
(``chip_set``, exactly as ``--set``) of ``kernels.csr_column_nnz`` and
``kernels.csr_column_start`` in ``calibration/spinnaker2.yaml``.

**Scaling.** Simulated cost is linear in the number of steps for a fixed activity (every step
has the same event counts), so nothing simulates 70 steps: each configuration runs the same
synthetic trace for 1 step and for ``steps`` steps (a prefix of one trace), and every total X
(cycles, energy, stage cycles) of a 70-step sequence is extrapolated linearly,
``X(70) = X(1) + 69 (X(steps) - X(1)) / (steps - 1)``. The difference removes what only the
first step has (the pipeline filling, no recurrent input at step 0); "per step" is then
``X(70) / 70``, the average step of a sequence, so per-sequence figures are exactly 70 times
the per-step ones. The steady step period is reported beside it.

API (also called by ``nmsim validate``)::

    validate_egru(steps: int = 2, pes: int = 150,
                  grid: tuple[Sequence[float], Sequence[float]] = DEFAULT_GRID,
                  progress: bool | None = None, *, layer_split: str = "equal",
                  strategy: str = "equal", seed: int = 0, workers: int | None = None,
                  resimulate: bool = True) -> NazeerValidation
    format_table(result: NazeerValidation) -> str          # the text for the terminal
    plot_sensitivity(result: NazeerValidation, path) -> Path  # PNG/SVG/PDF by suffix
    PUBLISHED: dict[str, Cited]                            # Table II's cells

``steps`` is at least 2 (1 and ``steps`` are differenced). ``grid`` is (activities, cycles
per stored weight): every layer at the same activity, and the CSR walk's instruction counts
scaled so that its per-weight loop takes the given cycles (its column set-up scaled alike).
``workers`` > 0 (None: the CPU count) runs the configurations in spawned processes, so a
script that calls this needs the ``if __name__ == "__main__":`` guard; 0 runs them here.
``NazeerValidation.to_json()`` writes the whole result.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, computed_field, model_validator

from calibration.schema import Cited
from simulator.chips.registry import Chip, load_chip
from simulator.jobs.egru_sweep import PointSpec, load_trace, simulate_partition
from simulator.result_views import ValidationViews
from simulator.simulate import Run
from simulator.sweep import run_sweep
from workloads.egru_partition import layers_from_trace, partition
from workloads.egru_trace import PAPER_SIZES, PAPER_SPARSITY, synthetic_egru_trace
from workloads.trace import SiteEvents, Trace

__all__ = [
    "DEFAULT_GRID", "DEFAULT_STEPS", "FIG2_CLAIMS", "PUBLISHED", "SEQUENCE_STEPS", "Check",
    "Comparison", "GridPoint", "NazeerValidation", "Reading", "SimulatedCost", "Solution",
    "csr_overrides", "format_table", "plot_sensitivity", "validate_egru",
]

SOURCE = "Nazeer et al., 'Language Modeling on a SpiNNaker2 Neuromorphic Chip', AICAS 2024"
#: Table II's cells as published. The paper does not say per what they are (token step or
#: sequence); it evaluates sequences of 70 tokens at batch 1.
PUBLISHED: dict[str, Cited] = {
    "power": Cited(value=0.39, unit="W", source=f"{SOURCE}, Table II: power (per what not "
                   "stated; sequences of 70 tokens, batch 1)"),
    "time": Cited(value=170.25, unit="ms", source=f"{SOURCE}, Table II: time (per what not "
                  "stated; sequences of 70 tokens, batch 1)"),
    "energy": Cited(value=65.3, unit="mJ", source=f"{SOURCE}, Table II: energy (per what not "
                    "stated; sequences of 70 tokens, batch 1)"),
}
#: Fig. 2's qualitative claims, each checked against the simulated stage breakdown.
FIG2_CLAIMS: dict[str, str] = {
    "recurrent_most_expensive": "the recurrent matrix multiplication is the most expensive stage",
    "broadcast_cheap": "broadcasting is comparably cheap",
    "memory_bound": "the bottleneck is memory reads and writes rather than communication",
}
FIG2_SOURCE = f"{SOURCE}, Fig. 2 (qualitative)"

#: Tokens per sequence in the paper's evaluation (WikiText-2, batch 1).
SEQUENCE_STEPS = 70
PAPER_PES = 150
DEFAULT_STEPS = 2
CHIP = "spinnaker2"
#: The two routines of a CSR column walk whose instruction counts the cycles axis scales.
CSR_KERNELS: tuple[str, str] = ("csr_column_start", "csr_column_nnz")
#: Default grid: uniform activity of every layer x Cortex-M4F cycles per stored weight. The
#: activities span very sparse to every unit firing every step (1.0: what a walk over every
#: stored weight costs, whatever fires); the cycles span a tight unrolled loop (10), the chip
#: file's loop (13) and 3x and 6x that (unoptimised code).
DEFAULT_GRID: tuple[tuple[float, ...], tuple[float, ...]] = ((0.1, 0.4, 0.7, 1.0),
                                                             (10.0, 13.0, 40.0, 80.0))
#: Plausible range of the cycles per stored weight on a Cortex-M4F ([M4] timings, as in
#: calibration/spinnaker2.yaml): the sequence load index, load value, load accumulator, FP MAC,
#: store takes at least about 10 cycles without loop overhead (2 + 1 + 2 + 3 + 2 less a
#: buffered store, plus the address add); the chip file's loop takes 13; twice that (26) still
#: covers compiled code with no pipelined loads and a refilled branch. More needs unoptimised
#: code (every variable through the stack) or memory wait states nothing published suggests.
PLAUSIBLE_CYCLES: tuple[float, float] = (10.0, 26.0)
#: Plausible activity of the paper-size model (fraction of units with non-zero y per step):
#: nothing published gives it; the shipped tiny EGRU measures 0.25-0.33 per layer held out
#: (0.22-0.26 before pruning), and Mukherji et al. (ICONS 2024) find a pruned EGRU's activity
#: stays sparse until weight sparsity is extreme. Above half the units firing every step the
#: threshold gates little.
PLAUSIBLE_ACTIVITY_MAX = 0.5
#: Both Table II cells count as reproduced within this relative error (the joint solution).
JOINT_TOLERANCE = 0.02
#: Time is piecewise linear in both unknowns (the step period is a maximum over the layers'
#: pipelines), so linear interpolation between grid points errs; re-simulated solutions are
#: held to this relative error in the tests.
INTERPOLATION_TOLERANCE = 0.10

MATMUL_STAGES = ("input_matmul", "recurrent_matmul")
WORK_STAGES: tuple[str, ...] = (*MATMUL_STAGES, "pointwise", "communication")


# -- results ------------------------------------------------------------------------------------
class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _drop_computed(cls, data: Any) -> Any:
        """A dumped result (computed fields included) validates back: JSON round trips."""
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if k not in cls.model_computed_fields}
        return data


class SimulatedCost(_Model):
    """One configuration simulated and extrapolated to a 70-step sequence (see the module
    docstring): per-step figures are the average step of that sequence."""

    activity: list[float]
    activity_profile: str
    cycles_per_weight: float
    column_start_cycles: float
    chip_overrides: list[str]
    pes_per_layer: str
    fits: bool
    overflow_bytes: int
    steps_simulated: list[int]
    clock_hz: int
    time_per_step_s: float
    energy_per_step_j: float
    static_energy_per_step_j: float
    steady_step_s: float
    first_step_s: float
    busy_fraction: float
    stage_cycles: dict[str, float]  # per step, summed over the PEs
    stage_energy_j: dict[str, float]  # per step; static energy under "static"
    category_cycles: dict[str, float]  # per step, PE instruction cycles by ledger category
    category_energy_j: dict[str, float]  # per step
    max_link_utilisation: float
    wall_s: float

    @computed_field
    @property
    def power_w(self) -> float:
        return self.energy_per_step_j / self.time_per_step_s

    @computed_field
    @property
    def time_per_sequence_s(self) -> float:
        return SEQUENCE_STEPS * self.time_per_step_s

    @computed_field
    @property
    def energy_per_sequence_j(self) -> float:
        return SEQUENCE_STEPS * self.energy_per_step_j


class Comparison(_Model):
    """One published cell under one reading against its simulated value."""

    quantity: Literal["power", "time", "energy"]
    reading: Literal["per step", "per sequence"]
    unit: str
    simulated: float
    published: float
    source: str

    @computed_field
    @property
    def error(self) -> float:
        """simulated / published - 1."""
        return self.simulated / self.published - 1.0


class Reading(_Model):
    """What Table II means under one reading, and whether the simulation can be brought to it
    by plausible values of the unknowns."""

    reading: Literal["per step", "per sequence"]
    time_per_step_ms: float
    energy_per_step_mj: float
    simulated_over_published_time: float
    consistent: bool
    note: str


class Check(_Model):
    """A qualitative claim of Fig. 2 against the simulated stage breakdown of one
    configuration (``at``: the defaults, or a solved configuration re-simulated)."""

    at: str
    claim: str
    source: str
    holds: bool
    detail: str


class GridPoint(_Model):
    """One point of the sensitivity grid (uniform activity, cycles per stored weight)."""

    activity: float
    cycles_per_weight: float
    time_per_step_s: float
    energy_per_step_j: float
    power_w: float
    busy_fraction: float
    stage_cycles: dict[str, float]

    @computed_field
    @property
    def time_per_sequence_s(self) -> float:
        return SEQUENCE_STEPS * self.time_per_step_s


class Solution(_Model):
    """Values of the unknowns that would reproduce a Table II cell, from the grid."""

    name: str
    target: str
    activity: float | None
    cycles_per_weight: float | None
    extrapolated: bool
    plausible: bool
    statement: str
    resimulated: SimulatedCost | None = None
    resimulated_time_error: float | None = None


class NazeerValidation(ValidationViews, _Model):
    """The whole comparison: published cells, simulated defaults, Fig. 2 checks, sensitivity
    grid, solved unknowns and their plausibility."""

    target: ClassVar[str] = "egru"

    trace_label: str
    method: str
    chip: str
    chip_file: str
    chip_sha256: str
    level: str
    pes: int
    layer_split: str
    strategy: str
    seed: int
    sequence_steps: int
    published: dict[str, Cited]
    energy_check: str
    readings: list[Reading]
    default: SimulatedCost
    comparison: list[Comparison]
    checks: list[Check]
    grid_activity: list[float]
    grid_cycles: list[float]
    grid: list[GridPoint]
    solutions: list[Solution]
    power_statement: str
    plausibility: list[str]
    wall_s: float

    def to_json(self, indent: int | None = 1) -> str:
        return self.model_dump_json(indent=indent)


# -- the cycles-per-weight knob -----------------------------------------------------------------
def csr_overrides(cycles_per_weight: float | None, chip: str = CHIP,
                  options: dict[str, Any] | None = None) -> tuple[str, ...]:
    """``--set`` items that make the chip's CSR walk take ``cycles_per_weight`` cycles per
    stored weight: every instruction count of ``kernels.csr_column_nnz`` and of
    ``kernels.csr_column_start`` times the same factor (same instruction mix, so the same
    memory/compute split and SRAM words per cycle). None: no override (the file's own)."""
    if cycles_per_weight is None:
        return ()
    if cycles_per_weight <= 0:
        raise ValueError(f"cycles per weight must be > 0, got {cycles_per_weight}")
    per_weight, counts = _csr_kernels(chip, tuple(sorted((options or {}).items())))
    factor = cycles_per_weight / per_weight
    return tuple(f"kernels.{k}.{cls}={n * factor:.9g}"
                 for k in CSR_KERNELS for cls, n in counts[k])


@lru_cache(maxsize=4)
def _csr_kernels(chip: str, options: tuple[tuple[str, Any], ...]
                 ) -> tuple[float, dict[str, tuple[tuple[str, float], ...]]]:
    """The chip file's cycles per stored weight and the CSR kernels' instruction counts."""
    base = load_chip(chip, (), dict(options))
    kernels = base.config.kernels
    return (base.cost().kernel_cycles("csr_column_nnz"),
            {k: tuple((cls, n.value) for cls, n in kernels[k].items()) for k in CSR_KERNELS})


@lru_cache(maxsize=2)
def _uniform_trace(activity: float, steps: int, seed: int) -> Trace:
    """The paper-size synthetic trace with every layer at ``activity`` (cached per process:
    the grid's points of one activity share it)."""
    return synthetic_egru_trace(PAPER_SIZES, PAPER_SPARSITY, activity=activity, steps=steps,
                                seed=seed)


# -- one configuration --------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    """One simulated configuration; ``activity`` None is the job's default profile,
    ``cycles_per_weight`` None the chip file's own kernels."""

    activity: float | None
    cycles_per_weight: float | None
    steps: int = DEFAULT_STEPS
    pes: int = PAPER_PES
    layer_split: str = "equal"
    strategy: str = "equal"
    seed: int = 0
    chip: str = CHIP
    options: tuple[tuple[str, Any], ...] = ()

    def key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def _prefix(trace: Trace, n: int) -> Trace:
    """The first ``n`` steps of ``trace`` (same weights, same events)."""
    events = {k: SiteEvents(ptr=ev.ptr[: n + 1].copy(), indices=ev.indices[: ev.ptr[n]].copy(),
                            values=ev.values[: ev.ptr[n]].copy())
              for k, ev in trace.events.items()}
    return Trace(meta=trace.meta.model_copy(update={"n_steps": n}), events=events,
                 matrices=trace.matrices)


def _totals(run: Run, steps: int) -> dict[str, Any]:
    """Totals of one run (not per step), so two runs can be differenced."""
    ledger, rep = run.ledger, run.report
    stages = {s: sum(rep["stages"][s]) * steps for s in WORK_STAGES}
    energy = {("static" if k == "" else k): v for k, v in ledger.by("stage").items()}
    cat_cycles: dict[str, float] = {}  # the PEs' instructions only (no DMA, SRAM port, DRAM)
    for row in ledger.rows():
        if row["component"].endswith(".cpu"):
            cat_cycles[row["category"]] = cat_cycles.get(row["category"], 0.0) + row["cycles"]
    return {
        "cycles": float(run.cycles),
        "energy_pj": ledger.total(),
        "static_pj": ledger.by("category").get("static", 0.0),
        "busy": sum(stages.values()),
        "stage_cycles": stages,
        "stage_energy_pj": energy,
        "category_cycles": cat_cycles,
        "category_energy_pj": ledger.by("category"),
    }


def _extrapolate(one: Any, many: Any, n: int, to: int = SEQUENCE_STEPS) -> Any:
    """``X(to)`` from ``X(1)`` and ``X(n)`` on a line (element-wise for dicts)."""
    if isinstance(one, dict):
        return {k: _extrapolate(one.get(k, 0.0), many.get(k, 0.0), n, to)
                for k in dict.fromkeys([*one, *many])}
    return one + (to - 1) * (many - one) / (n - 1)


def simulate_case(case: Case) -> dict[str, Any]:
    """Simulate ``case`` for 1 and ``case.steps`` steps and extrapolate to a sequence: a
    :class:`SimulatedCost` as a dict (picklable, for worker processes)."""
    if case.steps < 2:
        raise ValueError(f"steps must be >= 2 (1 and steps are differenced), got {case.steps}")
    start = time.perf_counter()
    spec = PointSpec(pes=case.pes, strategy=case.strategy, layer_split=case.layer_split,
                     steps=case.steps, seed=case.seed, chip=case.chip,
                     chip_set=csr_overrides(case.cycles_per_weight, case.chip,
                                            dict(case.options)),
                     options=case.options)
    chip = spec.load_chip()
    if case.activity is None:
        trace = load_trace(spec.model, spec.trace, spec.steps, spec.seed)
    else:
        trace = _uniform_trace(case.activity, case.steps, case.seed)
    part = partition(layers_from_trace(trace), spec.pes, spec.strategy, spec.layer_split)
    long = simulate_partition(trace, part, chip)
    short = simulate_partition(_prefix(trace, 1), part, chip)
    n = case.steps
    one, many = _totals(short, 1), _totals(long, n)
    seq = _extrapolate(one, many, n)
    clock = long.clock_hz
    S = SEQUENCE_STEPS
    fits = long.fits
    cost = chip.cost()
    extra = trace.meta.extra
    act = [float(v) for v in extra["activity_profile"].values()]
    return SimulatedCost(
        activity=act,
        activity_profile=trace.meta.profile or "",
        cycles_per_weight=cost.kernel_cycles("csr_column_nnz"),
        column_start_cycles=cost.kernel_cycles("csr_column_start"),
        chip_overrides=list(spec.chip_set),
        pes_per_layer="/".join(map(str, part.cores_per_layer)),
        fits=all(f.fits for f in fits),
        overflow_bytes=max(f.missing for f in fits),
        steps_simulated=[1, n],
        clock_hz=clock,
        time_per_step_s=seq["cycles"] / clock / S,
        energy_per_step_j=seq["energy_pj"] * 1e-12 / S,
        static_energy_per_step_j=seq["static_pj"] * 1e-12 / S,
        steady_step_s=(many["cycles"] - one["cycles"]) / (n - 1) / clock,
        first_step_s=one["cycles"] / clock,
        busy_fraction=seq["busy"] / (seq["cycles"] * case.pes),
        stage_cycles={k: v / S for k, v in seq["stage_cycles"].items()},
        stage_energy_j={k: v * 1e-12 / S for k, v in seq["stage_energy_pj"].items()},
        category_cycles={k: v / S for k, v in seq["category_cycles"].items()},
        category_energy_j={k: v * 1e-12 / S for k, v in seq["category_energy_pj"].items()},
        max_link_utilisation=float(long.report["max_link_utilisation"]),
        wall_s=round(time.perf_counter() - start, 3),
    ).model_dump()


def _run_cases(cases: Sequence[Case], workers: int | None, progress: bool
               ) -> list[SimulatedCost]:
    result = run_sweep(cases, _keyed, workers=workers, progress=progress,
                       desc="validate egru")
    if result.failed:
        raise RuntimeError("validation points failed: " + "; ".join(
            f"{k}: {e}" for k, e in result.failed.items()))
    by_key = {r["key"]: r for r in result.rows}
    return [SimulatedCost.model_validate({k: v for k, v in by_key[c.key()].items() if k != "key"})
            for c in cases]


def _keyed(case: Case) -> dict[str, Any]:
    """``simulate_case`` whose row carries the case's key (what :func:`run_sweep` matches)."""
    return {**simulate_case(case), "key": case.key()}


# -- comparisons --------------------------------------------------------------------------------
def _comparisons(d: SimulatedCost) -> list[Comparison]:
    pub = PUBLISHED
    rows = []
    for reading, n in (("per step", 1), ("per sequence", SEQUENCE_STEPS)):
        rows += [
            Comparison(quantity="power", reading=reading, unit="W", simulated=d.power_w,
                       published=pub["power"].value, source=pub["power"].source),
            Comparison(quantity="time", reading=reading, unit="ms",
                       simulated=n * d.time_per_step_s * 1e3, published=pub["time"].value,
                       source=pub["time"].source),
            Comparison(quantity="energy", reading=reading, unit="mJ",
                       simulated=n * d.energy_per_step_j * 1e3, published=pub["energy"].value,
                       source=pub["energy"].source),
        ]
    return rows


def _energy_check() -> str:
    p, t, e = (PUBLISHED[k].value for k in ("power", "time", "energy"))
    pt = p * t  # W x ms = mJ
    return (f"P x T = {p:g} W x {t:g} ms = {pt:.2f} mJ, {e / pt - 1:+.1%} from the published "
            f"{e:g} mJ; E / T = {e / t:.4f} W (the table's 0.39 W would round it to 0.38). "
            "Energy and time therefore refer to the same interval (both per step or both per "
            "sequence) and power is their ratio to within about 2%: the power was likely "
            "measured or rounded separately. Power is the same under either reading.")


def _stage_top(stages: dict[str, float]) -> str:
    return max(WORK_STAGES, key=lambda s: stages.get(s, 0.0))


def _checks(d: SimulatedCost, grid: Sequence[GridPoint], at: str = "defaults") -> list[Check]:
    st, busy = d.stage_cycles, sum(d.stage_cycles.values())
    share = {s: st[s] / busy for s in WORK_STAGES}
    top = _stage_top(st)
    where = [g for g in grid if _stage_top(g.stage_cycles) == "recurrent_matmul"]
    grid_note = ("" if not grid else
                 f"; on the grid it holds at {len(where)} of {len(grid)} points (activity "
                 + ", ".join(f"{a:g}" for a in sorted({g.activity for g in where})) + ")"
                 if where else "; it holds at no point of the grid")
    rec = Check(
        at=at, claim=FIG2_CLAIMS["recurrent_most_expensive"], source=FIG2_SOURCE,
        holds=top == "recurrent_matmul",
        detail=(f"PE time per step, all PEs: input matmul {share['input_matmul']:.0%}, "
                f"recurrent matmul {share['recurrent_matmul']:.0%}, point-wise "
                f"{share['pointwise']:.0%}, communication {share['communication']:.0%}; the "
                f"most expensive stage is {top.replace('_', ' ')}"
                + ("" if top == "recurrent_matmul" else
                   ". Layer 0's input is the dense embedding (750 values every step), the "
                   "recurrent inputs are events, so the input matmul leads while activity is "
                   "low") + f"{grid_note}."))
    comm, top_mm = st["communication"], max(st[s] for s in MATMUL_STAGES)
    dyn = d.energy_per_step_j - d.static_energy_per_step_j
    noc = d.category_energy_j.get("communication", 0.0)
    cheap = Check(
        at=at, claim=FIG2_CLAIMS["broadcast_cheap"], source=FIG2_SOURCE, holds=comm < top_mm,
        detail=(f"the communication stage (packet-arrival interrupts, sends, DMA set-ups) "
                f"takes {comm / top_mm:.0%} of the PE time of the most expensive matmul stage "
                f"({share['communication']:.0%} of busy time; holds if below 100%); NoC and DRAM "
                f"transfers are {noc / dyn:.1%} of the dynamic energy; busiest link "
                f"{d.max_link_utilisation:.1%} utilised."))
    cats = d.category_cycles
    cat_busy = sum(cats.values())
    mem = cats.get("memory", 0.0)
    mem_top = mem == max(cats.values())
    bound = Check(
        at=at, claim=FIG2_CLAIMS["memory_bound"], source=FIG2_SOURCE,
        holds=mem_top and d.max_link_utilisation < 0.5,
        detail=(f"loads and stores are {mem / cat_busy:.0%} of the PE instruction cycles ("
                + ", ".join(f"{k} {v / cat_busy:.0%}" for k, v in sorted(cats.items()))
                + f"), the largest category: {'yes' if mem_top else 'no'}; the busiest NoC "
                f"link is {d.max_link_utilisation:.1%} utilised (holds if below 50%)."))
    return [rec, cheap, bound]


# -- sensitivity and solutions ------------------------------------------------------------------
class _Surface:
    """Time and energy per step on the grid, linearly interpolated (and extrapolated)."""

    def __init__(self, acts: Sequence[float], cycles: Sequence[float],
                 points: Sequence[GridPoint]) -> None:
        from scipy.interpolate import RegularGridInterpolator

        at = {(p.activity, p.cycles_per_weight): p for p in points}
        t = np.array([[at[(a, c)].time_per_step_s for c in cycles] for a in acts])
        e = np.array([[at[(a, c)].energy_per_step_j for c in cycles] for a in acts])
        self.acts, self.cycles = list(acts), list(cycles)
        kw = {"method": "linear", "bounds_error": False, "fill_value": None}
        self._t = RegularGridInterpolator((self.acts, self.cycles), t, **kw)
        self._e = RegularGridInterpolator((self.acts, self.cycles), e, **kw)

    def time(self, a: float, c: float) -> float:
        return float(self._t([[a, c]])[0])

    def power(self, a: float, c: float) -> float:
        return float(self._e([[a, c]])[0]) / self.time(a, c)

    def inside(self, a: float, c: float) -> bool:
        return (self.acts[0] <= a <= self.acts[-1]) and (self.cycles[0] <= c <= self.cycles[-1])


def _solve(f, lo: float, hi: float) -> float | None:
    """A root of the increasing-ish ``f`` in [lo, hi], or None if it has no sign change."""
    from scipy.optimize import brentq

    flo, fhi = f(lo), f(hi)
    if flo == 0:
        return lo
    if flo * fhi > 0:
        return None
    return float(brentq(f, lo, hi, xtol=1e-9))


def _num(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}"


def _plausible(a: float | None, c: float | None) -> bool:
    return (a is None or 0.0 < a <= PLAUSIBLE_ACTIVITY_MAX) and (
        c is None or PLAUSIBLE_CYCLES[0] <= c <= PLAUSIBLE_CYCLES[1])


def _solutions(s: _Surface, default: SimulatedCost, tiny_mean: float) -> list[Solution]:
    t_seq = PUBLISHED["time"].value * 1e-3 / SEQUENCE_STEPS  # s per step, per-sequence reading
    t_step = PUBLISHED["time"].value * 1e-3  # s per step, per-step reading
    p_pub = PUBLISHED["power"].value
    c0 = default.cycles_per_weight
    c_hi = 1000.0 * s.cycles[-1]
    out: list[Solution] = []

    def one(name: str, target: str, a: float | None, c: float | None, why: str,
            judge_activity: bool = True) -> None:
        ok = a is not None and c is not None
        ext = ok and not s.inside(a, c)
        plaus = ok and _plausible(a if judge_activity else None, c)
        if not ok:
            stmt = why
        else:
            stmt = (f"activity {a:.3g}, {_num(c)} cycles per weight"
                    f"{' (extrapolated beyond the grid)' if ext else ''}: "
                    f"{'plausible' if plaus else 'not plausible'}; {why}")
        out.append(Solution(name=name, target=target, activity=a, cycles_per_weight=c,
                            extrapolated=bool(ext), plausible=bool(plaus), statement=stmt))

    seq_target = f"time {PUBLISHED['time'].value:g} ms per {SEQUENCE_STEPS}-step sequence"
    a1 = _solve(lambda a: s.time(a, c0) - t_seq, 0.0, 1.0)
    one("activity alone", seq_target, a1, c0 if a1 is not None else None,
        f"at the chip file's {c0:g} cycles per weight"
        + ("" if a1 is not None else
           f": none, even activity 1 gives {s.time(1.0, c0) * SEQUENCE_STEPS * 1e3:.1f} ms"))
    c2 = _solve(lambda c: s.time(tiny_mean, c) - t_seq, 1.0, c_hi)
    one("cycles per weight alone", seq_target, tiny_mean if c2 is not None else None, c2,
        f"at activity {tiny_mean:.3f} (the tiny model's measured activity, all units)")
    c3 = _solve(lambda c: s.time(1.0, c) - t_seq, 1.0, c_hi)
    one("cycles per weight at activity 1", seq_target, 1.0 if c3 is not None else None, c3,
        "every unit firing every step costs about what a kernel costs that walks every stored "
        "weight whatever fires (the row-major CSR of the paper's Table I, walked row by row "
        "over the concatenated input vector), so activity 1 is judged as the effective "
        "activity of such a kernel and only the cycles are judged", judge_activity=False)
    c4 = _solve(lambda c: s.time(1.0, c) - t_step, 1.0, c_hi)
    one("per-step reading", f"time {PUBLISHED['time'].value:g} ms per token step",
        1.0 if c4 is not None else None, c4,
        "the most favourable activity (1); the per-step reading needs this many cycles per "
        "weight" if c4 is not None else "no value up to 1000x the grid reproduces it")
    # both cells at once: the closest point of the grid box
    aa = np.linspace(s.acts[0], s.acts[-1], 121)
    cc = np.linspace(s.cycles[0], s.cycles[-1], 121)
    best = min(((a, c) for a in aa for c in cc), key=lambda x: (
        (s.time(*x) / t_seq - 1) ** 2 + (s.power(*x) / p_pub - 1) ** 2))
    et, ep = s.time(*best) / t_seq - 1, s.power(*best) / p_pub - 1
    ok = abs(et) <= JOINT_TOLERANCE and abs(ep) <= JOINT_TOLERANCE
    p_lo = min(s.power(a, c) for a in aa[::10] for c in cc[::10])
    p_hi = max(s.power(a, c) for a in aa[::10] for c in cc[::10])
    a5, c5 = (float(best[0]), float(best[1]))
    plaus = ok and _plausible(a5, c5)
    why = (f"time {et:+.1%}, power {ep:+.1%} at the closest point of the grid box; "
           f"power spans {p_lo:.3f}-{p_hi:.3f} W on the grid")
    if ok and not plaus and a5 > PLAUSIBLE_ACTIVITY_MAX:
        why += ("; as the network's activity it is too high, as the effective activity of a "
                "walk over every stored weight (see activity 1) it fits, and the cycles per "
                f"weight are {'inside' if _plausible(None, c5) else 'outside'} the plausible "
                "range")
    out.append(Solution(
        name="time and power together", target=f"{seq_target} and {p_pub:g} W",
        activity=a5 if ok else None, cycles_per_weight=c5 if ok else None, extrapolated=False,
        plausible=plaus,
        statement=(f"activity {a5:.3g}, {c5:.3g} cycles per weight: "
                   f"{'plausible' if plaus else 'not plausible'}; {why}" if ok else
                   f"none within {JOINT_TOLERANCE:.0%} on the grid: {why}")))
    return out


def _all_checks(default: SimulatedCost, grid: Sequence[GridPoint],
                solutions: Sequence[Solution]) -> list[Check]:
    """Fig. 2 at the defaults, and at the re-simulated configuration that reproduces Table II
    (the joint solution, else the one at activity 1), so both can be read against Fig. 2."""
    out = _checks(default, grid)
    by = {s.name: s for s in solutions}
    for name in ("time and power together", "cycles per weight at activity 1"):
        s = by.get(name)
        if s is not None and s.resimulated is not None:
            at = (f"{name}: activity {s.activity:.3g}, {s.cycles_per_weight:.3g} cycles per "
                  "weight")
            return out + _checks(s.resimulated, (), at)
    return out


def _power_statement(d: SimulatedCost, pes: int, grid: Sequence[GridPoint],
                     chip: Chip) -> str:
    """How busy the PEs must be for Table II's power, and the power floors of both levels."""
    cfg = chip.config
    clock = d.clock_hz
    static_w = d.static_energy_per_step_j / d.time_per_step_s
    busy_cycles = d.busy_fraction * pes * d.time_per_step_s * clock
    per_cycle = (d.energy_per_step_j - d.static_energy_per_step_j) / busy_cycles  # J
    full_w = static_w + pes * per_cycle * clock
    need = (PUBLISHED["power"].value - static_w) / (pes * per_cycle * clock)
    periphery = cfg.chip.periphery_power.value
    floors = {lvl: periphery + pes * op.pe_sleep_power.value
              for lvl, op in cfg.operating_points.items()}
    top = max(grid, key=lambda g: g.busy_fraction) if grid else None
    return (f"simulated power {d.power_w:.3f} W = static {static_w:.3f} W (periphery and "
            f"{pes} PEs asleep) + dynamic at a mean busy fraction of {d.busy_fraction:.0%}; "
            f"{PUBLISHED['power'].value:g} W needs the PEs busy {need:.0%} of the time at the "
            f"simulated {per_cycle * 1e12:.2f} pJ per busy cycle (all busy: {full_w:.3f} W)"
            + (f"; the busiest grid point reaches {top.busy_fraction:.0%} "
               f"({top.power_w:.3f} W), load imbalance and the pipeline keep the rest waiting"
               if top else "")
            + ". Floors with every used PE asleep: "
            + ", ".join(f"{lvl} {w:.3f} W" for lvl, w in floors.items())
            + "; " + ("; ".join(f"{PUBLISHED['power'].value:g} W is below the {lvl} floor, so "
                                "the paper cannot have run there" for lvl, w in floors.items()
                                if w > PUBLISHED["power"].value) or "every level is possible")
            + f" (simulated: {chip.options.level}, {clock / 1e6:g} MHz).")


def _readings(d: SimulatedCost, solutions: Sequence[Solution]) -> list[Reading]:
    t, e = PUBLISHED["time"].value, PUBLISHED["energy"].value
    by = {s.name: s for s in solutions}
    seq_names = ("activity alone", "cycles per weight alone", "cycles per weight at activity 1")
    seq_ok = any(by[n].cycles_per_weight is not None and by[n].plausible for n in seq_names)
    s3, s4 = by["cycles per weight at activity 1"], by["per-step reading"]
    n3 = (f"{s3.cycles_per_weight:.3g} cycles per weight at activity 1"
          if s3.cycles_per_weight else "no value at activity 1")
    n4 = (f"{s4.cycles_per_weight:,.0f} cycles per weight even at activity 1"
          if s4.cycles_per_weight else "no value on or beyond the grid")
    seq_ratio = d.time_per_sequence_s * 1e3 / t
    return [
        Reading(reading="per sequence", time_per_step_ms=t / SEQUENCE_STEPS,
                energy_per_step_mj=e / SEQUENCE_STEPS, simulated_over_published_time=seq_ratio,
                consistent=seq_ok,
                note=(f"{t / SEQUENCE_STEPS:.3f} ms and {e / SEQUENCE_STEPS:.3f} mJ per token; the "
                      f"simulation takes {seq_ratio:.2f}x the published time with its defaults; "
                      f"reproducing it takes {n3}; "
                      + ("a plausible value of the unknowns reproduces it" if seq_ok else
                         "no plausible value of the unknowns reproduces it") + ".")),
        Reading(reading="per step", time_per_step_ms=t, energy_per_step_mj=e,
                simulated_over_published_time=d.time_per_step_s * 1e3 / t,
                consistent=s4.cycles_per_weight is not None and s4.plausible,
                note=(f"{t:g} ms per token is {t * 1e-3 * d.clock_hz:,.0f} cycles of every PE "
                      f"per step, {t * 1e-3 / d.time_per_step_s:,.0f}x the simulated step; "
                      f"it needs {n4}: "
                      + ("a plausible" if s4.plausible else "not a plausible") + " reading.")),
    ]


def _plausibility(solutions: Sequence[Solution], tiny: Sequence[float]) -> list[str]:
    tiny_txt = ", ".join(f"{a:.3f}" for a in tiny)
    return [
        (f"activity: nothing in ../shared/reference publishes the paper-size model's activity; "
         f"the shipped tiny EGRU measures {tiny_txt} per layer held out (the job's default "
         f"profile), and a pruned EGRU's activity stays sparse until weight sparsity is "
         f"extreme (Mukherji et al., ICONS 2024): plausible up to "
         f"{PLAUSIBLE_ACTIVITY_MAX:g}."),
        (f"cycles per weight: load index, load value, load accumulator, FP MAC (3 cycles), "
         f"store on a Cortex-M4F take about {PLAUSIBLE_CYCLES[0]:g} cycles unrolled; the chip "
         f"file's loop ({{load 2, load_pipelined 1, fp_mac 1, store 1, int_alu 1, branch 1}} "
         f"instructions) takes 13; plausible up to {PLAUSIBLE_CYCLES[1]:g} (compiled code "
         f"without pipelined loads); more needs unoptimised code or wait states."),
        *(f"{s.name}: {s.statement}" for s in solutions),
    ]


# -- the validation -----------------------------------------------------------------------------
def _check_axis(name: str, values: Sequence[float], lo: float, hi: float) -> list[float]:
    vals = [float(v) for v in values]
    if len(vals) < 2 or any(b <= a for a, b in zip(vals, vals[1:], strict=False)):
        raise ValueError(f"grid {name}: need at least two increasing values, got {vals}")
    if vals[0] < lo or vals[-1] > hi:
        raise ValueError(f"grid {name}: values must lie in [{lo:g}, {hi:g}], got {vals}")
    return vals


def validate_egru(
    steps: int = DEFAULT_STEPS,
    pes: int = PAPER_PES,
    grid: tuple[Sequence[float], Sequence[float]] = DEFAULT_GRID,
    progress: bool | None = None,
    *,
    layer_split: str = "equal",
    strategy: str = "equal",
    seed: int = 0,
    workers: int | None = None,
    resimulate: bool = True,
) -> NazeerValidation:
    """Compare the EGRU LM on SpiNNaker2 with Nazeer et al. 2024 (see the module docstring).

    ``steps`` (>= 2) steps are simulated per configuration (and 1, differenced), ``pes`` PEs
    (the paper's 150), ``grid`` = (uniform activities, cycles per stored weight).
    ``progress``: a bar on stderr (None: only on a terminal). ``workers``: local processes for
    the grid (None: the CPU count, 0: this process). ``resimulate`` re-runs the solved values
    that lie in the physical range, to check the interpolation."""
    start = time.perf_counter()
    acts = _check_axis("activities", grid[0], 0.0, 1.0)
    cycles = _check_axis("cycles per weight", grid[1], 1e-9, math.inf)
    if steps < 2:
        raise ValueError(f"steps must be >= 2, got {steps}")
    show = sys.stderr.isatty() if progress is None else progress
    common = {"steps": steps, "pes": pes, "layer_split": layer_split, "strategy": strategy,
              "seed": seed}
    cases = [Case(None, None, **common)] + [Case(a, c, **common) for a in acts for c in cycles]
    costs = _run_cases(cases, workers, show)
    default, rest = costs[0], costs[1:]
    points = [GridPoint(activity=case.activity, cycles_per_weight=case.cycles_per_weight,
                        time_per_step_s=c.time_per_step_s, energy_per_step_j=c.energy_per_step_j,
                        power_w=c.power_w, busy_fraction=c.busy_fraction,
                        stage_cycles=c.stage_cycles)
              for case, c in zip(cases[1:], rest, strict=True)]
    surface = _Surface(acts, cycles, points)
    tiny = default.activity
    sizes = PAPER_SIZES[1:]
    tiny_mean = sum(round(a * h) for a, h in zip(tiny, sizes, strict=True)) / sum(sizes)
    solutions = _solutions(surface, default, tiny_mean)
    if resimulate:
        solutions = _resimulate(solutions, common, workers, show)
    chip = load_chip(CHIP)
    prov = chip.provenance()
    method = (f"{steps} steps and 1 step of one synthetic trace simulated per configuration; "
              f"totals extrapolated linearly to a {SEQUENCE_STEPS}-step sequence "
              f"(X(70) = X(1) + 69 (X({steps}) - X(1)) / {steps - 1}); per step = X(70) / 70. "
              "Cost is linear in steps for a fixed activity. The cycles per weight are set "
              f"by chip overrides of kernels.{CSR_KERNELS[1]} and kernels.{CSR_KERNELS[0]} "
              "(instruction counts scaled together); grid activity is the same in every layer."
              " Nothing is fitted to Table II.")
    return NazeerValidation(
        trace_label=load_trace("paper", None, steps, seed).label,
        method=method, chip=prov["chip"], chip_file=prov["chip_file"],
        chip_sha256=prov["chip_sha256"], level=str(chip.options.level), pes=pes,
        layer_split=layer_split, strategy=strategy, seed=seed, sequence_steps=SEQUENCE_STEPS,
        published=PUBLISHED, energy_check=_energy_check(),
        readings=_readings(default, solutions), default=default,
        comparison=_comparisons(default), checks=_all_checks(default, points, solutions),
        grid_activity=acts, grid_cycles=cycles, grid=points, solutions=solutions,
        power_statement=_power_statement(default, pes, points, chip),
        plausibility=_plausibility(solutions, tiny),
        wall_s=round(time.perf_counter() - start, 3),
    )


def _resimulate(solutions: list[Solution], common: dict[str, Any], workers: int | None,
                show: bool) -> list[Solution]:
    """Re-run the solutions with activity in (0, 1] and at most 10x the grid's cycles."""
    todo = {i: Case(s.activity, s.cycles_per_weight, **common) for i, s in enumerate(solutions)
            if s.activity is not None and s.cycles_per_weight is not None
            and 0.0 < s.activity <= 1.0 and s.name != "per-step reading"}
    if not todo:
        return solutions
    costs = dict(zip(todo, _run_cases(list(todo.values()), workers, show), strict=True))
    out = []
    for i, s in enumerate(solutions):
        if i not in costs:
            out.append(s)
            continue
        c = costs[i]
        target = (PUBLISHED["time"].value * 1e-3 if s.name == "per-step reading"
                  else PUBLISHED["time"].value * 1e-3 / SEQUENCE_STEPS)
        out.append(s.model_copy(update={
            "resimulated": c, "resimulated_time_error": c.time_per_step_s / target - 1.0}))
    return out


# -- output -------------------------------------------------------------------------------------
def _fmt(v: float, unit: str) -> str:
    return f"{v:,.4g} {unit}"


def format_table(result: NazeerValidation) -> str:
    """The validation as readable text: cells, readings, checks, grid, solved unknowns."""
    r, d = result, result.default
    pub = r.published
    lines = [
        f"EGRU LM on {r.chip} ({r.level}, {d.clock_hz / 1e6:g} MHz), {r.pes} PEs "
        f"({d.pes_per_layer}, {r.strategy} blocks; fits: {'yes' if d.fits else 'no'}"
        + (f", +{d.overflow_bytes:,} B on the fullest PE in the column layout" if not d.fits
           else "") + f") against {SOURCE}",
        r.trace_label,
        f"method: {r.method}",
        "published (Table II): " + ", ".join(f"{k} {c.value:g} {c.unit}"
                                             for k, c in pub.items()),
        f"  {r.energy_check}",
        "",
        f"{'reading':<13}{'quantity':<9}{'simulated':>13}{'published':>13}{'error':>10}",
    ]
    for c in r.comparison:
        lines.append(f"{c.reading:<13}{c.quantity:<9}{_fmt(c.simulated, c.unit):>13}"
                     f"{_fmt(c.published, c.unit):>13}{c.error:>+10.1%}")
    lines += ["", "readings:"]
    lines += [f"  {x.reading}: {'consistent' if x.consistent else 'not consistent'}: {x.note}"
              for x in r.readings]
    lines += ["", f"simulated defaults: steady step {d.steady_step_s * 1e3:.3f} ms, first step "
              f"{d.first_step_s * 1e3:.3f} ms, average step of a sequence "
              f"{d.time_per_step_s * 1e3:.3f} ms; PEs busy {d.busy_fraction:.0%}",
              "stage (per step, all PEs)     cycles   energy"]
    for s in WORK_STAGES:
        lines.append(f"  {s:<24}{d.stage_cycles[s]:>12,.0f}{d.stage_energy_j.get(s, 0) * 1e6:>9.2f}"
                     " µJ")
    lines.append(f"  {'static':<24}{'':>12}{d.stage_energy_j.get('static', 0) * 1e6:>9.2f} µJ")
    lines += ["", "Fig. 2 checks:"]
    for at in dict.fromkeys(c.at for c in r.checks):
        lines.append(f" at {at}:")
        lines += [f"  [{'holds' if c.holds else 'does not hold'}] {c.claim}: {c.detail}"
                  for c in r.checks if c.at == at]
    lines += ["", "sensitivity: time per 70-step sequence (ms) / power (W); rows activity "
              "(every layer), columns cycles per stored weight"]
    at = {(g.activity, g.cycles_per_weight): g for g in r.grid}
    lines.append(f"  {'':>8}" + "".join(f"{c:>16g}" for c in r.grid_cycles))
    for a in r.grid_activity:
        lines.append(f"  {a:>8g}" + "".join(
            f"{at[(a, c)].time_per_sequence_s * 1e3:>9.1f} /{at[(a, c)].power_w:.3f}"
            for c in r.grid_cycles))
    lines += ["", "solved unknowns:"]
    for s in r.solutions:
        line = f"  {s.name} ({s.target}): {s.statement}"
        if s.resimulated is not None:
            line += (f" [re-simulated: {s.resimulated.time_per_sequence_s * 1e3:.1f} ms per "
                     f"sequence ({s.resimulated_time_error:+.1%}), {s.resimulated.power_w:.3f} W]")
        lines.append(line)
    lines += ["", f"power: {r.power_statement}", "", "plausibility:"]
    lines += [f"  {p}" for p in r.plausibility[:2]]
    lines.append(f"({r.wall_s:.1f} s)")
    return "\n".join(lines)


def plot_sensitivity(result: NazeerValidation, path: str | Path) -> Path:
    """Time and power against both unknowns, Table II marked; PNG, SVG or PDF by suffix."""
    from simulator.plots.style import save
    from simulator.plots.validation_egru import sensitivity_figure

    return save(sensitivity_figure(result), path)
