"""Job 1: one token through one RWKV-4 block on any chip, dense vs sparse.

A composition over the one path: the block's mapping (:mod:`simulator.mappings.rwkv_block`),
its program (:mod:`simulator.programs.rwkv_block`) and a chip (:mod:`simulator.chips.registry`)
go into :func:`simulator.simulate.simulate`, once for the dense trace and once for the sparse
one. The job folds each run's ledger into per-token breakdown rows (components by the
mapping's roles) and a summary per sub-block and category, and returns a typed
:class:`~simulator.results.RwkvTokenResult`.

Tokens run one after another; every number is per token (averaged). Latency by category splits
a sub-block's simulated time in proportion to the cycles charged to each category (a share of
work, not a critical-path analysis; ``docs/rwkv-token.md``).
"""

from __future__ import annotations

import multiprocessing as mp
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial

from simulator.chips.registry import Chip, load_chip
from simulator.critical_path import summarise
from simulator.ledger import Category
from simulator.mapping import fold_component
from simulator.mappings.rwkv_block import BlockMap, BlockMapConfig, MappingError, map_block
from simulator.programs.rwkv_block import BlockWorkload
from simulator.programs.rwkv_dataflow import DataflowProgram
from simulator.programs.rwkv_gather import GatherProgram
from simulator.result_views import rwkv_header
from simulator.results import (
    CATEGORIES,
    MODES,
    SUB_BLOCKS,
    SUMMARY_KEYS,
    RwkvTokenResult,
    nmsim_version,
)
from simulator.simulate import Run, simulate
from simulator.timeline import Timeline
from workloads.trace import Trace, TraceError

#: the job's mapping choices (kept under the job's name for its users)
JobConfig = BlockMapConfig
__all__ = ["CATEGORIES", "SUMMARY_KEYS", "JobConfig", "MappingError", "format_table",
           "map_block", "rwkv_token", "simulate_trace"]


def _block_of(trace: Trace, block: int | None) -> int:
    if trace.meta.kind != "rwkv":
        raise TraceError(f"expected an RWKV trace, got kind {trace.meta.kind!r}")
    blocks = trace.meta.extra.get("blocks") or sorted(
        {int(s.name.split(".")[1]) for s in trace.sites})
    block = blocks[0] if block is None else block
    if block not in blocks:
        raise TraceError(f"the trace holds blocks {blocks}, not block {block}")
    return block


def simulate_trace(trace: Trace, chip: Chip, *, sparse: bool, tokens: int | None = None,
                   block: int | None = None, job: JobConfig | None = None,
                   timeline: Timeline | None = None, record: bool = False,
                   critical_path: bool = False) -> tuple[Run, BlockMap]:
    """Simulate ``tokens`` tokens (default: all) of one block of ``trace`` on a fresh chip;
    ``record`` keeps every delivery (the exactly-once tests), ``critical_path`` records the
    chains that set each sub-block's latency."""
    job = job or JobConfig()
    block = _block_of(trace, block)
    n = trace.meta.n_steps if tokens is None else tokens
    if not 1 <= n <= trace.meta.n_steps:
        raise TraceError(f"the trace has {trace.meta.n_steps} tokens; asked for {n}")
    cost = chip.cost()
    bmap = map_block([s for s in trace.sites if s.name.startswith(f"blocks.{block}.")], cost, job)
    program = partial(DataflowProgram if bmap.dataflow else GatherProgram, block_map=bmap,
                      value_bits=job.value_bits or cost.value_bits, omit_stages=job.omit_stages)
    run = simulate(BlockWorkload(trace, block, n, sparse), bmap.mapping, program, chip,
                   timeline=timeline, record_deliveries=record, critical_path=critical_path)
    return run, bmap


def breakdown(run: Run, mode: str) -> list[dict]:
    """Per-token ledger rows, each core's components folded into its role
    (``att.key.tiles.npe``)."""
    def key(r: dict) -> tuple:
        return (mode, r.get("sub_block", ""), r.get("site", ""), r["component"],
                r["operation"], r["category"])

    return [
        {"mode": k[0], "sub_block": k[1], "site": k[2], "component": k[3], "operation": k[4],
         "category": k[5], "count": count, "energy_j": energy, "cycles": cycles}
        for k, count, energy, cycles in run.totals_by(key, run.report["tokens"])
    ]


def summary(run: Run, rows: Sequence[dict], latency: str = "simulated"
            ) -> dict[str, dict[str, dict[str, float]]]:
    """``{sub_block: {category: {energy_j, latency_s, cycles}}}`` per token, plus ``block``.

    ``latency="simulated"`` splits each sub-block's simulated time in proportion to the cycles
    charged per category; ``"serial"`` takes the cycles charged to the cores themselves (not
    the networks' transit), per category, as the latency: every operation one after another."""
    energy: dict[tuple[str, str], float] = defaultdict(float)
    work: dict[tuple[str, str], float] = defaultdict(float)
    networks = {n.name for n in run.system.networks}
    for r in rows:
        energy[(r["sub_block"], r["category"])] += r["energy_j"]
        if r["category"] != Category.STATIC and not (
                latency == "serial" and r["component"] in networks):
            work[(r["sub_block"], r["category"])] += r["cycles"]
    out: dict[str, dict[str, dict[str, float]]] = {}
    hz, tokens = run.clock_hz, run.report["tokens"]
    for sub in SUB_BLOCKS:
        busy = sum(work[(sub, c)] for c in CATEGORIES)
        wall = busy if latency == "serial" else run.report["phase_cycles"][sub] / tokens
        out[sub] = {}
        for c in CATEGORIES:
            cyc = wall * work[(sub, c)] / busy if busy else 0.0
            out[sub][c] = {"energy_j": energy[(sub, c)], "latency_s": cyc / hz, "cycles": cyc}
        out[sub]["total"] = {"energy_j": sum(energy[(sub, c)] for c in CATEGORIES),
                             "latency_s": wall / hz, "cycles": wall}
    out["block"] = {
        k: {f: sum(out[s][k][f] for s in SUB_BLOCKS) for f in ("energy_j", "latency_s", "cycles")}
        for k in (*CATEGORIES, "total")
    }
    return out


def critical_paths(run: Run) -> tuple[dict[str, dict], list[dict]]:
    """Per sub-block, the critical path averaged over the tokens (seconds), and the segments
    of the first token's chains (for the plot)."""
    rec, hz, tokens = run.critical, run.clock_hz, run.report["tokens"]
    roles = run.mapping.fold(run.system)

    def fold(name: str) -> str:
        return fold_component(name, roles)

    out, chain = {}, []
    for sub in SUB_BLOCKS:
        acc = {"cycles": 0.0, "steps": 0.0, "by_category": defaultdict(float),
               "by_component": defaultdict(float)}
        for t in range(tokens):
            since = run.report["began"][(sub, t)]
            segments = rec.chain((sub, t), since=since)
            s = summarise(segments, fold)
            acc["cycles"] += s["cycles"]
            acc["steps"] += s["steps"]
            for key in ("by_category", "by_component"):
                for k, v in s[key].items():
                    acc[key][k] += v
            if t == 0:
                chain += [{"sub_block": sub, "component": fold(g.component), "kind": g.kind,
                           "label": g.label, "start_s": (g.start - since) / hz,
                           "end_s": (g.end - since) / hz,
                           "categories": {c: v / hz for c, v in g.categories.items()},
                           "step": g.node}
                          for g in segments]
        out[sub] = {"latency_s": acc["cycles"] / tokens / hz, "cycles": acc["cycles"] / tokens,
                    "steps": acc["steps"] / tokens,
                    **{key: {k: v / tokens / hz for k, v in sorted(acc[key].items())}
                       for key in ("by_category", "by_component")}}
    return out, chain


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


@dataclass
class _ModeRun:
    """What the result needs of one run (small, so a worker process can send it back)."""

    rows: list[dict]
    summary: dict
    critical: dict
    chain: list[dict]
    mapping: dict
    clock_hz: int
    tokens: int
    block: int
    timeline: Timeline | None


def _run_mode(trace: Trace, chip: Chip, mode: str, tokens: int | None, block: int | None,
              job: JobConfig, timeline: Timeline | None) -> _ModeRun:
    run, bmap = simulate_trace(trace, chip, sparse=mode == "sparse", tokens=tokens, block=block,
                               job=job, timeline=timeline, critical_path=True)
    rows = breakdown(run, mode)
    critical, chain = critical_paths(run)
    return _ModeRun(rows, summary(run, rows, job.latency), critical, chain,
                    dict(bmap.mapping.summary), run.clock_hz, run.report["tokens"],
                    run.workload.block, timeline)


#: the two runs of a parallel rwkv_token, inherited by forked workers (nothing is pickled in)
_PENDING: list[tuple] = []


def _run_pending(i: int) -> _ModeRun:
    return _run_mode(*_PENDING[i])


def _run_both(runs: list[tuple], workers: int,
              progress: Callable[[str], None] | None) -> list[_ModeRun]:
    """The dense and sparse runs, one after the other or in two forked processes (they are
    independent; the results are the same either way)."""
    if workers < 2 or "fork" not in mp.get_all_start_methods():
        out = []
        for args in runs:
            if progress:
                progress(args[2])
            out.append(_run_mode(*args))
        return out
    _PENDING[:] = runs
    try:
        with ProcessPoolExecutor(2, mp_context=mp.get_context("fork")) as pool:
            if progress:
                progress("dense and sparse")
            return list(pool.map(_run_pending, range(len(runs))))
    finally:
        _PENDING.clear()


def rwkv_token(
    dense: Trace, sparse: Trace, chip: Chip | None = None, *, tokens: int | None = None,
    block: int | None = None, job: JobConfig | None = None, timeline: Timeline | None = None,
    progress: Callable[[str], None] | None = None, seed: int | None = None, workers: int = 1,
) -> RwkvTokenResult:
    """Dense and sparse runs of one block on ``chip`` (default: SENECA); see the module
    docstring. ``seed`` is recorded (it drew a synthetic trace); ``workers=2`` runs the two
    in parallel processes."""
    chip = chip or load_chip()
    job = job or JobConfig()
    shapes = [[(s.name, s.size, s.out_features) for s in t.sites] for t in (dense, sparse)]
    if shapes[0] != shapes[1]:
        raise TraceError("the dense and sparse traces describe different models")
    done = dict(zip(MODES, _run_both(
        [(trace, chip, mode, tokens, block, job, timeline if mode == "sparse" else None)
         for mode, trace in zip(MODES, (dense, sparse), strict=True)], workers, progress),
        strict=True))
    if timeline is not None and done["sparse"].timeline is not timeline:  # from a worker
        timeline.spans[:], timeline.dropped = done["sparse"].timeline.spans, \
            done["sparse"].timeline.dropped
    summaries = {m: r.summary for m, r in done.items()}
    rows = [row for m in MODES for row in done[m].rows]
    critical = {m: r.critical for m, r in done.items()}
    ratios = {sub: {q: _ratio(summaries["dense"][sub]["total"][key],
                              summaries["sparse"][sub]["total"][key])
                    for q, key in (("energy", "energy_j"), ("latency", "latency_s"))}
              for sub in SUMMARY_KEYS}
    last = done["sparse"]
    resolved = job.model_copy(update={"value_bits": job.value_bits or chip.cost().value_bits})
    return RwkvTokenResult(
        dense=summaries["dense"], sparse=summaries["sparse"], ratios=ratios, breakdown=rows,
        mapping=last.mapping, critical_path=critical, critical_chain=last.chain,
        provenance={
            **chip.provenance(),
            "clock_hz": last.clock_hz,
            "trace_kind": "synthetic" if sparse.meta.synthetic else "real",
            "model": sparse.meta.model,
            "profile": sparse.meta.profile,
            "dense_trace": dense.label,
            "sparse_trace": sparse.label,
            "tokens": last.tokens,
            "block": last.block,
            "seed": seed,
            "job": resolved.model_dump(mode="json"),
            "nmsim_version": nmsim_version(),
        },
    )


def format_table(result: RwkvTokenResult) -> str:
    """The readable table ``nmsim rwkv-token`` prints."""
    prov, mapping = result.provenance, result.mapping
    lines = [
        *rwkv_header(prov),
        f"mapping: {mapping.cores} cores ({mapping.strategy}): "
        + ", ".join(f"{s} {m.cores}" for s, m in mapping.sites.items())
        + f", {mapping.control_cores} "
        + ("channel owners" if mapping.strategy == "dataflow" else "control"),
        "",
        f"{'':12s}{'':8s}" + "".join(f"{c:>14s}" for c in (*CATEGORIES, "total"))
        + f"{'latency':>12s}",
    ]
    for sub in SUMMARY_KEYS:
        for mode in MODES:
            r = getattr(result, mode)[sub]
            lines.append(
                f"{sub if mode == 'dense' else '':12s}{mode:8s}"
                + "".join(f"{r[c].energy_j * 1e6:11.3f} µJ" for c in (*CATEGORIES, "total"))
                + f"{r['total'].latency_s * 1e6:9.1f} µs"
            )
        rat = result.ratios[sub]
        lines.append(f"{'':12s}{'ratio':8s}dense/sparse: energy {rat.energy:.2f}x, "
                     f"latency {rat.latency:.2f}x")
    lines += ["", "critical path (the chain of dependent events that sets each latency):"]
    for mode in MODES:
        for sub, cp in result.critical_path[mode].items():
            where = sorted(cp.by_component.items(), key=lambda kv: -kv[1])[:3]
            cats = sorted(cp.by_category.items(), key=lambda kv: -kv[1])
            lines.append(
                f"  {mode:7s}{sub:12s}{cp.latency_s * 1e6:8.1f} µs, {cp.steps:.0f} steps; on "
                + ", ".join(f"{k} {v * 1e6:.1f}" for k, v in where) + " µs; "
                + ", ".join(f"{k} {v / cp.latency_s:.0%}" for k, v in cats if v > 0))
    return "\n".join(lines)
