"""The critical path of a latency over time: a Gantt chart of the chain that sets it.

One row per component on the chain (cores folded to their roles, the network on its own row),
in the order the chain first reaches them; each segment is a bar split by the categories its
cycles pay for, and a thin line joins each bar to the next where the chain changes rows,
so the eye can follow it from the first cause to the milestone. Consecutive segments on
one row (a core working through its queue) are one bar, split by category. Input: the
segments of :meth:`simulator.critical_path.CriticalPathRecorder.chain`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.critical_path import IDLE, OTHER, WAIT, Segment, summarise

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: colours of the chain's own categories (time no ledger charge pays for)
EXTRA_COLORS: dict[str, str] = {WAIT: "#BBBBBB", IDLE: "#EEEEEE", OTHER: "#8C564B"}
_SPARE = ("#56B4E9", "#F0E442", "#D55E00", "#000000")


def _identity(name: str) -> str:
    return name


def critical_path_figure(segments: Sequence[Segment], fold: Callable[[str], str] = _identity,
                         title: str | None = None, clock_hz: float | None = None) -> Figure:
    """The chain as a Gantt chart; the time axis in µs when ``clock_hz`` is given, else in
    cycles."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from simulator.plots.style import CATEGORIES, CATEGORY_COLORS, new_figure

    if not segments:
        raise ValueError("no segments to plot: the chain is empty")
    rows: dict[str, int] = {}
    for s in segments:
        rows.setdefault(fold(s.component), len(rows))
    scale, unit = (1e6 / clock_hz, "µs") if clock_hz else (1.0, "cycles")
    names = [c for c in CATEGORIES if any(c in s.categories for s in segments)]
    names += sorted({c for s in segments for c in s.categories} - set(names))
    colors = {**CATEGORY_COLORS, **EXTRA_COLORS}
    for c in names:
        colors.setdefault(c, _SPARE[len(colors) % len(_SPARE)])

    origin = segments[0].start

    def x(cycle: float) -> float:
        return (cycle - origin) * scale

    # one bar per run of consecutive segments on a row (a core working through its queue is
    # one stretch, not a hundred slivers), its categories side by side in legend order
    runs: list[tuple[int, int, int, dict[str, float]]] = []  # (row, start, end, categories)
    for seg in segments:
        row = rows[fold(seg.component)]
        if runs and runs[-1][0] == row and runs[-1][2] == seg.start:
            cats = runs[-1][3]
            runs[-1] = (row, runs[-1][1], seg.end, cats)
        else:
            cats = {}
            runs.append((row, seg.start, seg.end, cats))
        for c, v in seg.categories.items():
            cats[c] = cats.get(c, 0.0) + v
    bars: dict[tuple[int, str], list[tuple[float, float]]] = {}
    for row, start, _, cats in runs:
        left = float(start)
        for c in names:
            width = cats.get(c, 0.0)
            if width > 0:
                bars.setdefault((row, c), []).append((x(left), width * scale))
                left += width
    fig = new_figure(10, 1.6 + 0.32 * len(rows))
    ax = fig.subplots()
    for (row, c), spans in bars.items():
        ax.broken_barh(spans, (row - 0.35, 0.7), facecolors=colors[c], edgecolor="none")
    for (ra, _, end, _), (rb, _, _, _) in zip(runs, runs[1:], strict=False):
        ax.add_line(Line2D([x(end)] * 2, [ra, rb], color="#555555", lw=0.6))
    ax.set_yticks(range(len(rows)), list(rows), fontsize=8 if len(rows) > 16 else 9)
    ax.set_ylim(len(rows) - 0.5, -0.5)  # the first component on the chain on top
    ax.set_xlim(0, x(segments[-1].end))
    ax.set_xlabel(f"{unit} from cycle {origin:,}" if origin else f"time ({unit})")
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)
    fig.legend(handles=[Patch(color=colors[c], label=c) for c in names],
               loc="outside lower center", ncols=min(len(names), 7), frameon=False, fontsize=9)
    total = summarise(list(segments))
    length = (f"{total['cycles'] * scale:.4g} µs ({total['cycles']:,} cycles)" if clock_hz
              else f"{total['cycles']:,} cycles")
    fig.suptitle(f"{title or 'Critical path'}\n{length}, {total['steps']} steps", fontsize=11)
    return fig


def plot_critical_path(segments: Sequence[Segment], path: str | Path,
                       fold: Callable[[str], str] = _identity, title: str | None = None,
                       clock_hz: float | None = None) -> Path:
    """Write :func:`critical_path_figure` to ``path`` (PNG, SVG or PDF, by its suffix)."""
    from simulator.plots.style import save

    return save(critical_path_figure(segments, fold, title, clock_hz), path)


def result_critical_path_figure(result: Mapping[str, Any], sub_block: str,
                                source: str | Path | None = None) -> Figure:
    """The critical path of ``sub_block`` in a per-token result (its ``critical_chain``: the
    first token of the sparse run), as :func:`critical_path_figure` draws it."""
    from simulator.plots.inputs import PlotInputError, check_result

    result = check_result(result, source)
    hz = float(result["provenance"]["clock_hz"])
    chain = [s for s in result.get("critical_chain", ()) if s["sub_block"] == sub_block]
    if not chain:
        raise PlotInputError(f"{source or 'the result'}: no critical path of {sub_block} (the "
                             "result predates critical paths, or the block has no such "
                             "sub-block)")
    segments = [Segment(s["component"], s["kind"], s["label"], round(s["start_s"] * hz),
                        round(s["end_s"] * hz), {c: v * hz for c, v in s["categories"].items()},
                        (), s["step"]) for s in chain]
    name = sub_block.replace("_", "-").capitalize()
    return critical_path_figure(segments, title=f"{name} critical path, first token of the "
                                "sparse run", clock_hz=hz)

