"""Job 2: EGRU layers partitioned over N cores of any chip, swept over N.

One *point* = one N, one partitioning strategy, one chip. A composition over the one path:
the neuron partition (:func:`workloads.egru_partition.partition`) and the chip's footprint of
it (:mod:`simulator.mappings.egru`) make the mapping; the EGRU program
(:mod:`simulator.programs.egru`) runs every timestep of the trace through
:func:`simulator.simulate.simulate`. A point whose cores do not fit is still simulated ("what
if it fitted") and flagged ``fits = False``, naming the core that overflows and by how much.
Points run through the generic runner (:mod:`simulator.sweep`): in parallel, written as they
finish, resumable. Every output column with its unit: ``docs/egru-sweep.md``; the row's
schema: :class:`simulator.results.SweepRow`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import lru_cache, partial
from pathlib import Path
from typing import Any

from simulator.chips.registry import Chip, load_chip
from simulator.mappings.egru import map_egru, regions
from simulator.programs.egru import STAGES, EgruProgram
from simulator.results import SweepRow
from simulator.simulate import Run, simulate
from simulator.sweep import SweepResult, chip_digest, file_sha256, read_rows
from simulator.sweep import run_sweep as _run_sweep
from simulator.timeline import Timeline
from workloads.egru_partition import Partition, layers_from_trace, partition
from workloads.egru_trace import PAPER_SIZES, PAPER_SPARSITY, real_egru_trace, synthetic_egru_trace
from workloads.trace import Trace

__all__ = ["DEFAULT_PES", "DEFAULT_STEPS", "MODELS", "STAGES", "PointSpec", "SweepResult",
           "format_table", "load_trace", "points", "read_rows", "run_point", "run_sweep",
           "simulate_partition"]

#: default N of the sweep: single chip up to 152 (150 is the paper's), then 2 and 3 chips
DEFAULT_PES: tuple[int, ...] = (60, 90, 120, 150, 180, 240, 304, 456)
DEFAULT_STEPS = 8
DEFAULT_CHIP = "spinnaker2"
MODELS: tuple[str, ...] = ("paper", "tiny")
#: version of the cost model's code, part of every point's resume key: raise it when a change
#: to the simulator changes results, so that sweeps resumed over old rows recompute them
COST_MODEL_VERSION = 1


@dataclass(frozen=True)
class PointSpec:
    """Everything that defines one sweep point (and, as :meth:`key`, identifies its result)."""

    pes: int
    strategy: str = "equal"
    layer_split: str = "nnz"
    model: str = "paper"
    trace: str | None = None
    steps: int = DEFAULT_STEPS
    seed: int = 0
    chip: str = DEFAULT_CHIP
    chip_set: tuple[str, ...] = ()
    options: tuple[tuple[str, Any], ...] = ()

    def key(self) -> str:
        """The point's fields, and the content of every file it reads (sha256 of the trace
        file, the checkpoint, the chip file) and the cost model's version: a resumed sweep
        recomputes a point whose inputs changed behind the same names."""
        return json.dumps({**asdict(self), "inputs": self.input_digests(),
                           "cost_model": COST_MODEL_VERSION}, sort_keys=True)

    def input_digests(self) -> dict[str, str]:
        """sha256 of each input file of the point (``--set`` overrides are in the fields)."""
        out = {"chip": chip_digest(self.chip)}
        if self.trace is not None:
            out["trace"] = file_sha256(self.trace)
        elif self.model == "tiny":
            from models.shipped import EGRU_TINY_CHECKPOINT, artifact_path

            out["model"] = file_sha256(artifact_path(EGRU_TINY_CHECKPOINT))
        elif self.model != "paper":
            out["model"] = file_sha256(self.model)
        return out

    def load_chip(self) -> Chip:
        return load_chip(self.chip, self.chip_set, dict(self.options))


def simulate_partition(trace: Trace, part: Partition, chip: Chip | None = None, *,
                       timeline: Timeline | None = None, record: bool = False) -> Run:
    """Simulate every step of ``trace`` on the cores of ``part`` (memory checked, not
    enforced); ``record`` keeps every delivery for the exactly-once tests."""
    chip = chip or load_chip(DEFAULT_CHIP)
    emap = map_egru(part, chip.cost(), chip.has("dram"))
    return simulate(trace, emap.mapping, partial(EgruProgram, egru_map=emap, record=record),
                    chip, memory="check", timeline=timeline, record_deliveries=record)


def run_point(spec: PointSpec, timeline: Timeline | None = None) -> dict[str, Any]:
    """Map, check and simulate one point; the result row (a :class:`SweepRow`, as a dict)."""
    start = time.perf_counter()
    chip = spec.load_chip()
    trace = load_trace(spec.model, spec.trace, spec.steps, spec.seed)
    part = partition(layers_from_trace(trace), spec.pes, spec.strategy, spec.layer_split)
    run = simulate_partition(trace, part, chip, timeline=timeline)
    fits, cost = run.fits, chip.cost()
    row_major = [run.system.load(p.core, p.program_bytes,
                                 regions(part.cores[p.core], part, cost, chip.has("dram"),
                                         "row"), check_only=True)
                 for p in run.mapping.placements]
    worst = max(fits, key=lambda f: (f.missing, f.data_bytes))
    prov = chip.provenance()
    row = {  # steps: those simulated (a saved trace brings its own; the key keeps the request)
        "key": spec.key(), **asdict(spec), "steps": trace.meta.n_steps,
        **{k: prov[k] for k in ("chip_file", "chip_sha256", "chip_overrides", "chip_options")},
        "clock_hz": run.clock_hz,
        "trace_label": trace.label,
        "pes_per_layer": "/".join(map(str, part.cores_per_layer)),
        "fits": all(f.fits for f in fits),
        "max_pe_bytes": max(f.data_bytes for f in fits),
        "max_pe": worst.pe,
        "overflow_bytes": worst.missing,
        "overflow_pe": worst.pe if worst.missing else "",
        "overflowing_pes": sum(not f.fits for f in fits),
        "capacity_bytes": worst.data_capacity,
        "program_bytes": worst.program_bytes,
        "max_weight_bytes": max(f.data["weights"] for f in fits),
        "max_variable_bytes": max(f.data["variables"] for f in fits),
        "max_weight_bytes_row_major": max(f.data["weights"] for f in row_major),
        **run.report,
        "wall_s": round(time.perf_counter() - start, 3),
    }
    del row["chip_set"], row["options"]  # recorded as chip_overrides and chip_options
    return SweepRow.model_validate(row).model_dump()


def load_trace(model: str, trace: str | None, steps: int, seed: int) -> Trace:
    """The trace of a point (cached per process, so the points of a sweep share it, and
    read again when the file behind ``trace`` or the checkpoint changes): a saved
    trace file, or one made from ``model``: ``"paper"`` synthetic at the SpiNNaker2 LM's size
    (``seed`` draws it), ``"tiny"`` real inference of the shipped tiny model on held-out
    text, anything else a checkpoint path run on the same text; ``steps`` timesteps."""
    source = trace if trace is not None else None if model in MODELS else model
    return _load_trace(model, trace, steps, seed, file_sha256(source) if source else "")


@lru_cache(maxsize=4)
def _load_trace(model: str, trace: str | None, steps: int, seed: int, digest: str) -> Trace:
    if trace is not None:
        return Trace.load(trace)
    if model == "paper":  # synthetic: 750 -> 1350/1350/750, every matrix 95% pruned
        return synthetic_egru_trace(PAPER_SIZES, PAPER_SPARSITY, steps=steps, seed=seed)
    if model == "tiny":  # real inference of the shipped tiny model on held-out text
        return real_egru_trace(None, steps)
    return real_egru_trace(model, steps)  # an EGRU checkpoint (models.egru.save_egru)


load_trace.cache_clear = _load_trace.cache_clear  # type: ignore[attr-defined]


def _row_order(row: dict) -> tuple:
    return (row["model"], row["strategy"], row["layer_split"], row["pes"], row["key"])


def run_sweep(specs: Sequence[PointSpec], out: str | Path | None = None, *, client: Any = None,
              workers: int | None = None, progress: bool = True,
              point_fn=run_point, force: bool = False) -> SweepResult:
    """The EGRU points through the generic runner (:func:`simulator.sweep.run_sweep`): the
    result's rows are those of ``specs`` (``out`` keeps any others); ``force`` recomputes
    points already in ``out``."""
    return _run_sweep(specs, point_fn, out, order=_row_order, client=client, workers=workers,
                      progress=progress, desc="egru-sweep", force=force, note=frontier_note)


def frontier_note(rows: Sequence[dict]) -> str:
    """The fit frontier of the points finished so far, for the progress bar: the fewest
    cores that fit, and the fastest and the most frugal point that fits."""
    fit = [r for r in rows if r["fits"]]
    if not fit:
        return f"none of {len(rows)} fits yet"
    fastest = min(fit, key=lambda r: r["latency_s"])
    frugal = min(fit, key=lambda r: r["energy_j"])
    return (f"fits from N={min(r['pes'] for r in fit)}; fastest N={fastest['pes']} "
            f"{fastest['latency_s'] * 1e6:.1f} µs; least energy N={frugal['pes']} "
            f"{frugal['energy_j'] * 1e6:.1f} µJ")


def points(pes: Iterable[int], strategies: Iterable[str], **common: Any) -> list[PointSpec]:
    """Every (N, strategy) point. The seed only draws synthetic traces, so it is left out of
    the points of a real model or a trace file: changing it must not rerun identical points."""
    if common.get("trace") is not None or common.get("model", "paper") != "paper":
        common = {**common, "seed": 0}
    return [PointSpec(pes=n, strategy=s, **common) for s in strategies for n in pes]


def format_table(rows: Sequence[dict]) -> str:
    """The sweep as a text table, one line per point."""
    head = ("N", "strategy", "PEs/layer", "chips", "fits", "max B/PE", "overflow", "cycles/step",
            "latency/step", "energy/step", "dyn/static", "imbalance", "NoC kbit/step")
    table = [head]
    for r in rows:
        over = f"{r['overflow_pe']} +{r['overflow_bytes']} B" if r["overflow_bytes"] else "—"
        table.append((
            str(r["pes"]), r["strategy"], r["pes_per_layer"], str(r["chips"]),
            "yes" if r["fits"] else "no", f"{r['max_pe_bytes']:,}", over,
            f"{r['latency_cycles']:,.0f}", f"{r['latency_s'] * 1e6:,.1f} µs",
            f"{r['energy_j'] * 1e6:,.1f} µJ",
            f"{r['dynamic_energy_j'] / r['energy_j']:.0%}/"
            f"{r['static_energy_j'] / r['energy_j']:.0%}"
            if r["energy_j"] else "—",
            f"{r['imbalance']:.2f}", f"{r['noc_bits'] / 1e3:,.0f}",
        ))
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
