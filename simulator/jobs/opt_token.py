"""One token through one OPT decoder layer at context length L, on any chip, dense vs sparse.

The same composition as ``rwkv-token``: the layer's mapping (:mod:`simulator.mappings.opt_layer`),
its program (:mod:`simulator.programs.opt_layer`) and a chip go into
:func:`simulator.simulate.simulate`, once for the dense trace and once for the sparse one; the
runs fold into breakdown rows, a summary per sub-block (``attention``, ``mlp``) and category,
and critical paths (:mod:`simulator.jobs.token_runs`). The context ``L`` is the number of
keys and values the token attends to (the cache after its own k and v are appended), so the
cost of attention grows with it while the linear layers' stays.
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
from simulator.mappings.opt_layer import SUB_BLOCKS, OptLayerMap, OptMapConfig, map_opt_layer
from simulator.mappings.tiles import MappingError
from simulator.programs.opt_layer import LayerWorkload, OptLayerProgram
from simulator.results import MODES, OptTokenResult, nmsim_version
from simulator.simulate import Run, simulate
from workloads.token_traces import unit_of
from workloads.trace import Trace, TraceError

__all__ = ["MappingError", "OptMapConfig", "format_table", "map_layer", "opt_token",
           "simulate_trace"]
SUMMARY_KEYS: tuple[str, ...] = (*SUB_BLOCKS, "block")


def _layer_of(trace: Trace, layer: int | None) -> int:
    return unit_of(trace, "opt", "OPT", "layer", layer)


def map_layer(trace: Trace, chip: Chip, context: int, layer: int | None = None,
              job: OptMapConfig | None = None) -> OptLayerMap:
    """The layer's mapping at ``context`` on ``chip``, checked before anything runs: a
    streamed cache needs an off-chip memory the chip models."""
    job = job or OptMapConfig()
    layer = _layer_of(trace, layer)
    n_head = trace.meta.extra.get("n_head")
    if not isinstance(n_head, int) or n_head < 1:
        raise TraceError("the OPT trace does not say its number of heads (meta.extra.n_head)")
    lmap = map_opt_layer(trace.sites, layer, n_head, context, chip.cost(), job)
    if lmap.attention.streamed and chip.build(1, lambda core, item: None).dram_of(0) is None:
        raise MappingError(
            f"the KV cache of {context} tokens is to be streamed from off-chip memory (it does "
            f"not fit {job.kv_cores_per_head} attention cores per head, or --kv-placement "
            f"dram), but {chip.name} models none; raise --kv-cores-per-head or use "
            "--kv-placement cores")
    return lmap


def simulate_trace(trace: Trace, chip: Chip, *, sparse: bool, context: int,
                   tokens: int | None = None, layer: int | None = None,
                   job: OptMapConfig | None = None, record: bool = False,
                   critical_path: bool = False) -> tuple[Run, OptLayerMap]:
    """Simulate ``tokens`` tokens (default: all) of one layer of ``trace`` at ``context``."""
    job = job or OptMapConfig()
    lmap = map_layer(trace, chip, context, layer, job)
    n = trace.meta.n_steps if tokens is None else tokens
    if not 1 <= n <= trace.meta.n_steps:
        raise TraceError(f"the trace has {trace.meta.n_steps} tokens; asked for {n}")
    cost = chip.cost()
    program = partial(OptLayerProgram, layer_map=lmap, value_bits=job.value_bits or cost.value_bits)
    run = simulate(LayerWorkload(trace, _layer_of(trace, layer), n, sparse), lmap.mapping,
                   program, chip, record_deliveries=record, critical_path=critical_path)
    return run, lmap


def _run_mode(trace: Trace, chip: Chip, mode: str, context: int, tokens: int | None,
              layer: int | None, job: OptMapConfig) -> ModeRun:
    run, lmap = simulate_trace(trace, chip, sparse=mode == "sparse", context=context,
                               tokens=tokens, layer=layer, job=job, critical_path=True)
    rows = breakdown(run, mode)
    critical, chain = critical_paths(run, SUB_BLOCKS)
    return ModeRun(rows, summary(run, rows, SUB_BLOCKS), critical, chain,
                   dict(lmap.mapping.summary), run.clock_hz, run.report["tokens"],
                   run.workload.layer, None)


def opt_token(dense: Trace, sparse: Trace, chip: Chip | None = None, *, context: int = 1024,
              tokens: int | None = None, layer: int | None = None,
              job: OptMapConfig | None = None, progress: Callable[[str], None] | None = None,
              seed: int | None = None, workers: int = 1) -> OptTokenResult:
    """Dense and sparse runs of one layer at ``context`` on ``chip`` (default: SENECA); see
    the module docstring. ``workers=2`` runs the two in parallel processes."""
    chip = chip or load_chip()
    job = job or OptMapConfig()
    shapes = [[(s.name, s.size, s.out_features) for s in t.sites] for t in (dense, sparse)]
    if shapes[0] != shapes[1]:
        raise TraceError("the dense and sparse traces describe different models")
    done = run_modes(_run_mode, {
        mode: (trace, chip, mode, context, tokens, layer, job)
        for mode, trace in zip(MODES, (dense, sparse), strict=True)}, workers, progress)
    summaries = {m: r.summary for m, r in done.items()}
    last = done["sparse"]
    resolved = job.model_copy(update={"value_bits": job.value_bits or chip.cost().value_bits})
    return OptTokenResult(
        dense=summaries["dense"], sparse=summaries["sparse"],
        ratios=token_ratios(summaries, SUMMARY_KEYS),
        breakdown=[row for m in MODES for row in done[m].rows], mapping=last.mapping,
        critical_path={m: r.critical for m, r in done.items()}, critical_chain=last.chain,
        provenance={
            **chip.provenance(), "clock_hz": last.clock_hz,
            "trace_kind": "synthetic" if sparse.meta.synthetic else "real",
            "model": sparse.meta.model, "profile": sparse.meta.profile,
            "dense_trace": dense.label, "sparse_trace": sparse.label, "tokens": last.tokens,
            "layer": last.block, "context": context, "seed": seed,
            "job": resolved.model_dump(mode="json"), "nmsim_version": nmsim_version(),
        },
    )


def format_table(result: OptTokenResult) -> str:
    """The readable table ``nmsim opt-token`` prints."""
    m, att = result.mapping, result.mapping.attention
    where = "streamed from off-chip memory" if att.streamed else "held in core memory"
    lines = [
        *result._header(),
        f"mapping: {m.cores} cores: " + ", ".join(f"{s} {t.cores}" for s, t in m.sites.items())
        + f", {m.control_cores} channel owners, {att.cores} attention cores ({att.per_head} "
        f"per head); KV cache {att.kv_cache_bytes / 1024:.1f} KiB, {where}",
        "",
        *summary_lines(result, SUMMARY_KEYS),
        "",
        *critical_lines(result),
    ]
    return "\n".join(lines)
