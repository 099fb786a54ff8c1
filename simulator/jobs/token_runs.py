"""What the per-token jobs share (``rwkv-token``, ``opt-token``): a run folded into breakdown
rows, a summary per sub-block and category, critical paths, and the dense and sparse runs side
by side.

Latency by category splits a sub-block's simulated time in proportion to the cycles charged to
each category (a share of work, not a critical-path analysis; ``docs/rwkv-token.md``); the
critical path (:mod:`simulator.critical_path`) is the chain of dependent events that sets it.
"""

from __future__ import annotations

import multiprocessing as mp
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from simulator.critical_path import summarise
from simulator.ledger import Category
from simulator.mapping import fold_component
from simulator.results import CATEGORIES, MODES
from simulator.simulate import Run
from simulator.timeline import Timeline


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


def summary(run: Run, rows: Sequence[dict], sub_blocks: Sequence[str],
            latency: str = "simulated") -> dict[str, dict[str, dict[str, float]]]:
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
    for sub in sub_blocks:
        busy = sum(work[(sub, c)] for c in CATEGORIES)
        wall = busy if latency == "serial" else run.report["phase_cycles"][sub] / tokens
        out[sub] = {}
        for c in CATEGORIES:
            cyc = wall * work[(sub, c)] / busy if busy else 0.0
            out[sub][c] = {"energy_j": energy[(sub, c)], "latency_s": cyc / hz, "cycles": cyc}
        out[sub]["total"] = {"energy_j": sum(energy[(sub, c)] for c in CATEGORIES),
                             "latency_s": wall / hz, "cycles": wall}
    out["block"] = {
        k: {f: sum(out[s][k][f] for s in sub_blocks) for f in ("energy_j", "latency_s", "cycles")}
        for k in (*CATEGORIES, "total")
    }
    return out


def critical_paths(run: Run, sub_blocks: Sequence[str]) -> tuple[dict[str, dict], list[dict]]:
    """Per sub-block, the critical path averaged over the tokens (seconds), and the segments
    of the first token's chains (for the plot)."""
    rec, hz, tokens = run.critical, run.clock_hz, run.report["tokens"]
    roles = run.mapping.fold(run.system)

    def fold(name: str) -> str:
        return fold_component(name, roles)

    out, chain = {}, []
    for sub in sub_blocks:
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


def ratio(a: float, b: float) -> float | None:
    return a / b if b else None


@dataclass
class ModeRun:
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


#: the runs of a parallel run_modes, inherited by forked workers (nothing is pickled in)
_PENDING: list[tuple[Callable[..., ModeRun], tuple]] = []


def _run_pending(i: int) -> ModeRun:
    fn, args = _PENDING[i]
    return fn(*args)


def run_modes(run_one: Callable[..., ModeRun], runs: dict[str, tuple], workers: int,
              progress: Callable[[str], None] | None) -> dict[str, ModeRun]:
    """``run_one(*args)`` for every mode's ``args``, one after the other or in forked
    processes (the runs are independent; the results are the same either way)."""
    if workers < 2 or "fork" not in mp.get_all_start_methods():
        out = {}
        for mode, args in runs.items():
            if progress:
                progress(mode)
            out[mode] = run_one(*args)
        return out
    _PENDING[:] = [(run_one, args) for args in runs.values()]
    try:
        with ProcessPoolExecutor(len(runs), mp_context=mp.get_context("fork")) as pool:
            if progress:
                progress(" and ".join(runs))
            return dict(zip(runs, pool.map(_run_pending, range(len(runs))), strict=True))
    finally:
        _PENDING.clear()


def ratios(summaries: dict[str, dict], keys: Sequence[str]) -> dict[str, dict[str, float | None]]:
    """Dense over sparse energy and latency of every sub-block (and the whole block)."""
    return {sub: {q: ratio(summaries["dense"][sub]["total"][key],
                           summaries["sparse"][sub]["total"][key])
                  for q, key in (("energy", "energy_j"), ("latency", "latency_s"))}
            for sub in keys}




def summary_lines(result, keys: Sequence[str]) -> list[str]:
    """The energy-by-category and latency table of a per-token result, with the ratios."""
    lines = [f"{'':12s}{'':8s}" + "".join(f"{c:>14s}" for c in (*CATEGORIES, "total"))
             + f"{'latency':>12s}"]
    for sub in keys:
        for mode in MODES:
            r = getattr(result, mode)[sub]
            lines.append(
                f"{sub if mode == 'dense' else '':12s}{mode:8s}"
                + "".join(f"{r[c].energy_j * 1e6:11.3f} µJ" for c in (*CATEGORIES, "total"))
                + f"{r['total'].latency_s * 1e6:9.1f} µs")
        rat = result.ratios[sub]
        lines.append(f"{'':12s}{'ratio':8s}dense/sparse: energy {rat.energy:.2f}x, "
                     f"latency {rat.latency:.2f}x")
    return lines


def critical_lines(result) -> list[str]:
    """Each run's and sub-block's critical path in one line: where and on what it is spent."""
    lines = ["critical path (the chain of dependent events that sets each latency):"]
    for mode in MODES:
        for sub, cp in result.critical_path[mode].items():
            where = sorted(cp.by_component.items(), key=lambda kv: -kv[1])[:3]
            cats = sorted(cp.by_category.items(), key=lambda kv: -kv[1])
            lines.append(
                f"  {mode:7s}{sub:12s}{cp.latency_s * 1e6:8.1f} µs, {cp.steps:.0f} steps; on "
                + ", ".join(f"{k} {v * 1e6:.1f}" for k, v in where) + " µs; "
                + ", ".join(f"{k} {v / cp.latency_s:.0%}" for k, v in cats if v > 0))
    return lines
