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

from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import partial

from simulator.chips.registry import Chip, load_chip
from simulator.ledger import Category
from simulator.mappings.rwkv_block import BlockMap, BlockMapConfig, MappingError, map_block
from simulator.programs.rwkv_block import BlockWorkload, RwkvBlockProgram
from simulator.results import (
    CATEGORIES,
    MODES,
    SUB_BLOCKS,
    SUMMARY_KEYS,
    RwkvTokenResult,
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
                   timeline: Timeline | None = None) -> tuple[Run, BlockMap]:
    """Simulate ``tokens`` tokens (default: all) of one block of ``trace`` on a fresh chip."""
    job = job or JobConfig()
    block = _block_of(trace, block)
    n = trace.meta.n_steps if tokens is None else tokens
    if not 1 <= n <= trace.meta.n_steps:
        raise TraceError(f"the trace has {trace.meta.n_steps} tokens; asked for {n}")
    cost = chip.cost()
    bmap = map_block([s for s in trace.sites if s.name.startswith(f"blocks.{block}.")], cost, job)
    program = partial(RwkvBlockProgram, block_map=bmap,
                      value_bits=job.value_bits or cost.value_bits)
    run = simulate(BlockWorkload(trace, block, n, sparse), bmap.mapping, program, chip,
                   timeline=timeline)
    return run, bmap


def breakdown(run: Run, mode: str) -> list[dict]:
    """Per-token ledger rows, each core's components folded into its role
    (``att.key.tiles.npe``)."""
    acc: dict[tuple, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for r in run.rows():
        key = (mode, r.get("sub_block", ""), r.get("site", ""), r["component"], r["operation"],
               r["category"])
        v = acc[key]
        v[0] += r["count"]
        v[1] += r["energy_pj"]
        v[2] += r["cycles"]
    n = run.report["tokens"]
    return [
        {"mode": k[0], "sub_block": k[1], "site": k[2], "component": k[3], "operation": k[4],
         "category": k[5], "count": v[0] / n, "energy_j": v[1] * 1e-12 / n, "cycles": v[2] / n}
        for k, v in sorted(acc.items())
    ]


def summary(run: Run, rows: Sequence[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """``{sub_block: {category: {energy_j, latency_s, cycles}}}`` per token, plus ``block``."""
    energy: dict[tuple[str, str], float] = defaultdict(float)
    work: dict[tuple[str, str], float] = defaultdict(float)
    for r in rows:
        energy[(r["sub_block"], r["category"])] += r["energy_j"]
        if r["category"] != Category.STATIC:
            work[(r["sub_block"], r["category"])] += r["cycles"]
    out: dict[str, dict[str, dict[str, float]]] = {}
    hz, tokens = run.clock_hz, run.report["tokens"]
    for sub in SUB_BLOCKS:
        wall = run.report["phase_cycles"][sub] / tokens
        busy = sum(work[(sub, c)] for c in CATEGORIES)
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


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def rwkv_token(
    dense: Trace, sparse: Trace, chip: Chip | None = None, *, tokens: int | None = None,
    block: int | None = None, job: JobConfig | None = None, timeline: Timeline | None = None,
    progress: Callable[[str], None] | None = None, seed: int | None = None,
) -> RwkvTokenResult:
    """Dense and sparse runs of one block on ``chip`` (default: SENECA); see the module
    docstring. ``seed`` is recorded (it drew a synthetic trace)."""
    chip = chip or load_chip()
    job = job or JobConfig()
    shapes = [[(s.name, s.size, s.out_features) for s in t.sites] for t in (dense, sparse)]
    if shapes[0] != shapes[1]:
        raise TraceError("the dense and sparse traces describe different models")
    summaries, rows, runs = {}, [], {}
    for mode, trace in (("dense", dense), ("sparse", sparse)):
        if progress:
            progress(mode)
        run, bmap = simulate_trace(trace, chip, sparse=mode == "sparse", tokens=tokens,
                                   block=block, job=job,
                                   timeline=timeline if mode == "sparse" else None)
        mode_rows = breakdown(run, mode)
        summaries[mode] = summary(run, mode_rows)
        rows += mode_rows
        runs[mode] = run
    ratios = {sub: {q: _ratio(summaries["dense"][sub]["total"][key],
                              summaries["sparse"][sub]["total"][key])
                    for q, key in (("energy", "energy_j"), ("latency", "latency_s"))}
              for sub in SUMMARY_KEYS}
    last = runs["sparse"]
    resolved = job.model_copy(update={"value_bits": job.value_bits or chip.cost().value_bits})
    return RwkvTokenResult(
        dense=summaries["dense"], sparse=summaries["sparse"], ratios=ratios, breakdown=rows,
        mapping=dict(bmap.mapping.summary),
        provenance={
            **chip.provenance(),
            "clock_hz": last.clock_hz,
            "trace_kind": "synthetic" if sparse.meta.synthetic else "real",
            "model": sparse.meta.model,
            "profile": sparse.meta.profile,
            "dense_trace": dense.label,
            "sparse_trace": sparse.label,
            "tokens": last.report["tokens"],
            "block": last.workload.block,
            "seed": seed,
            "job": resolved.model_dump(),
        },
    )


def format_table(result: RwkvTokenResult) -> str:
    """The readable table ``nmsim rwkv-token`` prints."""
    prov, mapping = result.provenance, result.mapping
    lines = [
        f"RWKV-4 block, one token on {prov.chip} ({prov.trace_kind} trace: {prov.model}"
        + (f", profile {prov.profile}" if prov.profile else "")
        + f"; {prov.tokens} tokens averaged)",
        f"mapping: {mapping.cores} cores ({mapping.strategy} tiling): "
        + ", ".join(f"{s} {m.cores}" for s, m in mapping.sites.items())
        + f", {mapping.control_cores} control",
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
    return "\n".join(lines)
