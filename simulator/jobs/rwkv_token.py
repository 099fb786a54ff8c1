"""Job 1: one token through one RWKV-4 block on any chip, dense vs sparse.

A composition over the one path: the block's mapping (:mod:`simulator.mappings.rwkv_block`),
its program (:mod:`simulator.programs.rwkv_block`) and a chip (:mod:`simulator.chips.registry`)
go into :func:`simulator.simulate.simulate`, once for the dense trace and once for the sparse
one. The job folds each run's ledger into per-token breakdown rows (components by the
mapping's roles) and a summary per sub-block and category, and returns a typed
:class:`~simulator.results.RwkvTokenResult`.

Tokens run one after another; every number is per token (averaged); what the per-token jobs
share (summaries, latency by category, critical paths) is :mod:`simulator.jobs.token_runs`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from simulator.chips.registry import Chip, load_chip
from simulator.jobs.token_runs import (
    ModeRun,
    breakdown,
    critical_lines,
    critical_paths,
    run_modes,
    summary,
    summary_lines,
)
from simulator.jobs.token_runs import ratios as token_ratios
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
from workloads.token_traces import unit_of
from workloads.trace import Trace, TraceError

#: the job's mapping choices (kept under the job's name for its users)
JobConfig = BlockMapConfig
__all__ = ["CATEGORIES", "SUMMARY_KEYS", "JobConfig", "MappingError", "format_table",
           "map_block", "rwkv_token", "simulate_trace"]


def _block_of(trace: Trace, block: int | None) -> int:
    return unit_of(trace, "rwkv", "RWKV", "block", block)


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


def _run_mode(trace: Trace, chip: Chip, mode: str, tokens: int | None, block: int | None,
              job: JobConfig, timeline: Timeline | None) -> ModeRun:
    run, bmap = simulate_trace(trace, chip, sparse=mode == "sparse", tokens=tokens, block=block,
                               job=job, timeline=timeline, critical_path=True)
    rows = breakdown(run, mode)
    critical, chain = critical_paths(run, SUB_BLOCKS)
    return ModeRun(rows, summary(run, rows, SUB_BLOCKS, job.latency), critical, chain,
                    dict(bmap.mapping.summary), run.clock_hz, run.report["tokens"],
                    run.workload.block, timeline)


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
    done = run_modes(_run_mode, {
        mode: (trace, chip, mode, tokens, block, job, timeline if mode == "sparse" else None)
        for mode, trace in zip(MODES, (dense, sparse), strict=True)}, workers, progress)
    if timeline is not None and done["sparse"].timeline is not timeline:  # from a worker
        timeline.spans[:], timeline.dropped = done["sparse"].timeline.spans, \
            done["sparse"].timeline.dropped
    summaries = {m: r.summary for m, r in done.items()}
    rows = [row for m in MODES for row in done[m].rows]
    critical = {m: r.critical for m, r in done.items()}
    ratios = token_ratios(summaries, SUMMARY_KEYS)
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
        *summary_lines(result, SUMMARY_KEYS),
    ]
    lines += ["", *critical_lines(result)]
    return "\n".join(lines)
