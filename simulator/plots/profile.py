"""Per-PE stage profile of one sweep point: where each PE spends the cycles of a timestep.

Like a profiler's bar chart: one stacked bar per PE (input matmul, recurrent matmul,
point-wise, communication, waiting). With several strategies at the chosen N, one panel per
strategy, on the same cycle axis, so their load balance can be compared at a glance. Bars run
vertically (x = PE) for many PEs and horizontally (one row per PE) for a few.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from simulator.plots.inputs import PlotInputError, check_sweep
from simulator.plots.style import STAGE_COLORS, STAGE_LABELS, STAGES, new_figure

#: Spellings of each stage a job may use, normalised (lower case, non-letters to ``_``).
_ALIASES = {
    "input": "input_matmul", "input_mm": "input_matmul", "x_matmul": "input_matmul",
    "recurrent": "recurrent_matmul", "recurrent_mm": "recurrent_matmul",
    "h_matmul": "recurrent_matmul", "point_wise": "pointwise", "update": "pointwise",
    "comm": "communication", "broadcast": "communication", "send": "communication",
    "wait": "waiting", "idle": "waiting",
}
_EXTRA_COLORS = ("#8C564B", "#BCBD22", "#17BECF", "#7F7F7F")
_PROFILE_KEYS = ("pes", "strategy", "fits", "stages")
HORIZONTAL_MAX_PES = 40


def stage_table(stages: Any) -> tuple[list[str], list[str], np.ndarray]:
    """``(stage names, PE labels, cycles[pe, stage])`` from a point's ``stages``.

    Accepts ``{stage: [cycles per PE]}``, ``[{stage: cycles, ...} per PE]`` (an optional
    ``pe`` key names the PE) or ``{pe: {stage: cycles}}``. Known stages come first in their
    usual order; others follow."""
    if isinstance(stages, Mapping) and stages and all(
            isinstance(v, Sequence) and not isinstance(v, str) for v in stages.values()):
        cols = {_stage(k): [float(x) for x in v] for k, v in stages.items()}
        n = {len(v) for v in cols.values()}
        if len(n) != 1:
            raise PlotInputError(f"stages have different PE counts: {sorted(n)}")
        labels = [str(i) for i in range(n.pop())]
    else:
        if isinstance(stages, Mapping):
            per_pe = [{"pe": k, **v} for k, v in stages.items()]
        elif isinstance(stages, Sequence) and not isinstance(stages, str):
            per_pe = list(stages)
        else:
            raise PlotInputError(f"cannot read stages of type {type(stages).__name__}")
        if not per_pe or not all(isinstance(r, Mapping) for r in per_pe):
            raise PlotInputError("stages should hold one mapping of stage cycles per PE")
        labels = [str(r.get("pe", i)) for i, r in enumerate(per_pe)]
        cols = {}
        for i, r in enumerate(per_pe):
            for k, v in r.items():
                if k != "pe" and isinstance(v, int | float):
                    cols.setdefault(_stage(k), [0.0] * len(per_pe))[i] = float(v)
    names = [s for s in STAGES if s in cols] + [s for s in cols if s not in STAGES]
    if not names:
        raise PlotInputError("stages name no stage")
    return names, labels, np.array([cols[s] for s in names], dtype=float).T


def pick_points(points: Sequence[dict], pes: int | None = None, strategy: str | None = None
                ) -> list[dict]:
    """The points to profile: at ``pes`` (default: the feasible N with the lowest latency of
    any strategy), one per strategy, or only ``strategy``."""
    points = check_sweep(points, keys=_PROFILE_KEYS)
    if strategy is not None:
        points = [p for p in points if p["strategy"] == strategy]
        if not points:
            raise PlotInputError(f"no sweep point has strategy {strategy!r}")
    if pes is None:
        feasible = [p for p in points if p["fits"] and _finite(p.get("latency_s"))]
        best = min(feasible or points, key=lambda p: (p.get("latency_s") or math.inf, p["pes"]))
        pes = best["pes"]
    chosen = [p for p in points if p["pes"] == pes]
    if not chosen:
        have = ", ".join(str(n) for n in sorted({p["pes"] for p in points}))
        raise PlotInputError(f"no sweep point with {pes} PEs (the sweep has N = {have})")
    return chosen


def profile_figure(points: Sequence[dict], pes: int | None = None, strategy: str | None = None
                   ) -> Figure:
    """Stage profile per PE of the point(s) picked by :func:`pick_points`."""
    chosen = pick_points(points, pes, strategy)
    tables = [stage_table(p["stages"]) for p in chosen]
    n_pe = max(len(labels) for _, labels, _ in tables)
    horizontal = n_pe <= HORIZONTAL_MAX_PES
    if horizontal:
        fig = new_figure(max(9.0, 6.5 * len(chosen)), 1.8 + 0.22 * n_pe)
        axes = fig.subplots(1, len(chosen), sharex=True, squeeze=False)[0]
    else:
        fig = new_figure(13, 2.2 + 2.6 * len(chosen))
        axes = fig.subplots(len(chosen), 1, sharey=True, squeeze=False)[:, 0]
    colors: dict[str, str] = {}
    for ax, point, (names, labels, cycles) in zip(axes, chosen, tables, strict=True):
        for s in names:
            colors.setdefault(s, STAGE_COLORS.get(s) or _EXTRA_COLORS[len(colors) % 4])
        _bars(ax, names, labels, cycles, colors, horizontal)
        busy = cycles[:, [i for i, s in enumerate(names) if s != "waiting"]].sum(axis=1)
        imbalance = busy.max() / busy.mean() if busy.mean() > 0 else math.nan
        fit = "" if point["fits"] else ", does NOT fit in SRAM"
        ax.set_title(f"strategy {point['strategy']}: busy max/mean = {imbalance:.2f}{fit}",
                     fontsize=10)
    fig.legend(handles=[Patch(color=colors[s], label=STAGE_LABELS.get(s, s)) for s in colors],
               loc="outside lower center", ncols=len(colors), frameon=False, fontsize=9)
    lat = chosen[0].get("latency_s")
    sub = f"N = {chosen[0]['pes']} PEs" + (
        f", latency {lat * 1e6:.4g} µs per timestep" if _finite(lat) and len(chosen) == 1 else "")
    fig.suptitle(f"Where each PE spends a timestep's cycles\n{sub}", fontsize=12)
    return fig


def _bars(ax: Axes, names: list[str], labels: list[str], cycles: np.ndarray,
          colors: dict[str, str], horizontal: bool) -> None:
    pos = np.arange(len(labels))
    base = np.zeros(len(labels))
    for i, s in enumerate(names):
        if horizontal:
            ax.barh(pos, cycles[:, i], 0.8, left=base, color=colors[s], lw=0)
        else:
            ax.bar(pos, cycles[:, i], 1.0, bottom=base, color=colors[s], lw=0)
        base += cycles[:, i]
    if horizontal:
        ax.set_yticks(pos, labels, fontsize=8 if len(labels) > 16 else 9)
        ax.set_ylim(len(labels) - 0.5, -0.5)  # PE 0 on top
        ax.set_ylabel("PE")
        ax.set_xlabel("cycles per timestep")
        ax.grid(axis="x", alpha=0.3)
    else:
        ax.set_xlim(-0.5, len(labels) - 0.5)
        ax.set_xlabel("PE")
        ax.set_ylabel("cycles per timestep")
        ax.grid(axis="y", alpha=0.3)
    ax.set_axisbelow(True)


def _stage(name: object) -> str:
    key = re.sub(r"[^a-z]+", "_", str(name).lower()).strip("_")
    key = key.removesuffix("_cycles")
    return _ALIASES.get(key, key)


def _finite(v: object) -> bool:
    return isinstance(v, int | float) and math.isfinite(v)
