"""Energy and latency per token against context length L: an OPT decoder layer against an
RWKV-4 block on the same chip, dense and sparse.

The recurrent block's cost per token does not depend on L (its state is a few vectors per
channel), attention's grows with it: the scores and the weighted sum read the whole KV cache,
which leaves core memory for off-chip memory once it outgrows the attention cores. Every point
is one simulation (:func:`simulator.jobs.opt_token.simulate_trace`, or the RWKV job's), run
through the generic sweep runner (:func:`simulator.sweep.run_sweep`): points in parallel,
each written as it finishes, resumable. The RWKV block is simulated once per mode, not per L
(its result cannot depend on L); :meth:`ContextSweepResult.table` repeats it at every L for
plotting. Both models are synthetic traces at published sizes with the published profiles
(OPT-2.7B's, Knunyants et al. 2025 §V; RWKV-4 3B's, Table II; 2.7B and 3B by default), one
token per point (a synthetic trace's tokens carry the same number of non-zeros).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.chips.registry import Chip, load_chip
from simulator.jobs.token_runs import breakdown, summary
from simulator.results import CATEGORIES, nmsim_version
from simulator.sweep import SweepResult, chip_digest

if TYPE_CHECKING:
    from simulator.results import ContextSweepResult
from simulator.sweep import run_sweep as _run_sweep

#: default context lengths (tokens attended to, the new one included)
DEFAULT_CONTEXTS: tuple[int, ...] = (1, 16, 64, 256, 512, 1024, 2048, 3072, 4096)
MODELS = ("opt", "rwkv")
#: raise when a change to the simulator changes these points' results (resume keys)
COST_MODEL_VERSION = 1


@dataclass(frozen=True)
class ContextPoint:
    """One simulation: ``model`` (opt or rwkv) in ``mode`` at ``context`` (None for RWKV)."""

    model: str
    mode: str
    context: int | None
    chip: str = "seneca"
    chip_set: tuple[str, ...] = ()
    options: tuple[tuple[str, Any], ...] = ()
    kv_placement: str = "auto"
    kv_cores_per_head: int = 4
    kv_chunk_bytes: int = 4096
    profile: str = "published-2.7b-1.0005"
    opt_size: str = "2.7B"
    rwkv_size: str = "3B"
    seed: int = 0

    def key(self) -> str:
        return json.dumps({**asdict(self), "inputs": {"chip": chip_digest(self.chip)},
                           "cost_model": COST_MODEL_VERSION}, sort_keys=True)

    def load_chip(self) -> Chip:
        return load_chip(self.chip, self.chip_set, dict(self.options))


def points(contexts: Sequence[int], **common: Any) -> list[ContextPoint]:
    """Every OPT point (mode x L) and the two RWKV points."""
    return ([ContextPoint("opt", m, L, **common) for L in contexts for m in ("dense", "sparse")]
            + [ContextPoint("rwkv", m, None, **common) for m in ("dense", "sparse")])


def run_point(p: ContextPoint) -> dict:
    """Simulate one point; its row (energy and latency per token, by category)."""
    chip = p.load_chip()
    sparse = p.mode == "sparse"
    if p.model == "opt":
        from simulator.jobs.opt_token import simulate_trace
        from simulator.mappings.opt_layer import SUB_BLOCKS, OptMapConfig
        from workloads.opt_inputs import DENSE_PROFILE
        from workloads.opt_synthetic import synthetic_opt_trace

        trace = synthetic_opt_trace(p.opt_size, p.profile if sparse else DENSE_PROFILE,
                                    n_tokens=1, seed=p.seed)
        run, lmap = simulate_trace(trace, chip, sparse=sparse, context=p.context,
                                   job=OptMapConfig(kv_placement=p.kv_placement,
                                                    kv_cores_per_head=p.kv_cores_per_head,
                                                    kv_chunk_bytes=p.kv_chunk_bytes))
        att = lmap.attention
        extra = {"kv_cache_bytes": lmap.mapping.summary["attention"]["kv_cache_bytes"],
                 "kv_streamed": att.streamed, "attention_cores": att.heads * att.per_head}
    else:
        from simulator.jobs.rwkv_token import simulate_trace
        from simulator.mappings.rwkv_block import SUB_BLOCKS
        from workloads.rwkv_synthetic import synthetic_rwkv_trace

        trace = synthetic_rwkv_trace(p.rwkv_size, f"published-3b-{p.mode}", n_tokens=1,
                                     seed=p.seed)
        run, _ = simulate_trace(trace, chip, sparse=sparse)
        extra = {"kv_cache_bytes": 0, "kv_streamed": False, "attention_cores": 0}
    block = summary(run, breakdown(run, p.mode), SUB_BLOCKS)["block"]
    return {"key": p.key(), "model": p.model, "workload": trace.meta.model, "mode": p.mode,
            "context": p.context, "energy_j": block["total"]["energy_j"],
            "latency_s": block["total"]["latency_s"],
            **{f"{c}_j": block[c]["energy_j"] for c in CATEGORIES},
            "cores": run.mapping.n_cores, **extra, "chip": p.chip,
            "chip_sha256": chip.provenance()["chip_sha256"], "trace": trace.label,
            "nmsim_version": nmsim_version()}


def _order(row: dict) -> tuple:
    return (row["model"], row["mode"], row["context"] or 0, row["key"])


def run_sweep(specs: Sequence[ContextPoint], out: str | Path | None = None, *,
              workers: int | None = None, progress: bool = True, force: bool = False,
              client: Any = None) -> SweepResult:
    """The points through the generic runner (resumable, each point written at once)."""
    return _run_sweep(specs, run_point, out, order=_order, client=client, workers=workers,
                      progress=progress, desc="context-sweep", force=force)


def context_sweep(specs: Sequence[ContextPoint], out: str | Path | None = None, *,
                  workers: int | None = None, progress: bool = True) -> ContextSweepResult:
    """:func:`run_sweep` as a typed result (``nmsim.context_sweep``)."""
    from simulator.results import ContextSweepResult

    done = run_sweep(specs, out, workers=workers, progress=progress)
    return ContextSweepResult(rows=done.rows, failed=done.failed)


def broadcast(rows: Sequence[dict]) -> list[dict]:
    """Tidy rows, one per (model, mode, L): the RWKV rows repeated at every OPT context."""
    contexts = sorted({r["context"] for r in rows if r["context"] is not None})
    out = [r for r in rows if r["context"] is not None]
    for r in rows:
        if r["context"] is None:
            out += [{**r, "context": L} for L in contexts]
    return sorted(out, key=lambda r: (r["model"], r["mode"], r["context"]))


def format_table(rows: Sequence[dict]) -> str:
    """Energy and latency per token at each L, OPT against RWKV, dense and sparse."""
    tidy = broadcast(rows)
    contexts = sorted({r["context"] for r in tidy})
    at = {(r["model"], r["mode"], r["context"]): r for r in tidy}
    lines = [f"{'L':>6s}" + "".join(f"{m + ' ' + mode:>28s}" for m in MODELS
                                     for mode in ("dense", "sparse")) + "  KV cache"]
    for L in contexts:
        cells = []
        for m in MODELS:
            for mode in ("dense", "sparse"):
                r = at.get((m, mode, L))
                cells.append(f"{r['energy_j'] * 1e6:10.1f} µJ {r['latency_s'] * 1e6:9.1f} µs"
                             if r else f"{'-':>26s}")
        opt = at.get(("opt", "dense", L))
        kv = (f"{opt['kv_cache_bytes'] / 2**20:.1f} MiB "
              f"{'streamed' if opt['kv_streamed'] else 'in cores'}" if opt else "")
        lines.append(f"{L:6d}" + "".join(f"{c:>28s}" for c in cells) + f"  {kv}")
    return "\n".join(lines)
