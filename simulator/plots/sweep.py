"""EGRU sweep curves: latency, energy and memory per PE against the number of PEs, N.

One line per partitioning strategy. Points that do not fit in SRAM are drawn hollow; the N
where no strategy fits are shaded as the infeasible region. The memory panel draws the SRAM
a PE has for the partition, when the sweep gives it (a ``*capacity*``/``sram*`` column) or it
can be read back from the overflow of infeasible points (max bytes - overflow).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import NullFormatter, ScalarFormatter

from simulator.plots.inputs import check_sweep
from simulator.plots.style import MARKERS, byte_scale, new_figure, si_scale

INFEASIBLE_COLOR = "#F4CCCC"
_CAPACITY_KEYS = ("capacity_bytes", "sram_bytes", "pe_sram_bytes", "available_bytes")
_SUBTITLE_KEYS = ("model", "chip", "trace", "steps", "layers")


def strategies(points: Sequence[dict]) -> list[str]:
    return list(dict.fromkeys(p["strategy"] for p in points))


def infeasible_spans(points: Sequence[dict], log: bool) -> list[tuple[float, float]]:
    """x intervals covering each N where no strategy fits, merged, halfway to the neighbours."""
    xs = sorted({p["pes"] for p in points})
    fits = {n: any(p["fits"] for p in points if p["pes"] == n) for n in xs}

    def mid(a: float, b: float) -> float:
        return math.sqrt(a * b) if log else (a + b) / 2

    spans: list[tuple[float, float]] = []
    for i, n in enumerate(xs):
        if fits[n]:
            continue
        lo = mid(xs[i - 1], n) if i > 0 else (n / 1.5 if log else n - 0.5 * _gap(xs))
        hi = mid(n, xs[i + 1]) if i + 1 < len(xs) else (n * 1.5 if log else n + 0.5 * _gap(xs))
        if spans and math.isclose(spans[-1][1], lo):
            spans[-1] = (spans[-1][0], hi)
        else:
            spans.append((lo, hi))
    return spans


def sram_capacity(points: Sequence[dict]) -> float | None:
    """Bytes a PE has for its partition: given by the sweep, or implied by every overflow."""
    for key in _CAPACITY_KEYS:
        vals = {p[key] for p in points if key in p and _finite(p[key])}
        if len(vals) == 1:
            return float(vals.pop())
    implied = {round(p["max_pe_bytes"] - p["overflow_bytes"]) for p in points
               if not p["fits"] and _finite(p["max_pe_bytes"]) and _finite(p["overflow_bytes"])
               and p["overflow_bytes"] > 0}
    return float(implied.pop()) if len(implied) == 1 else None


def sweep_figure(points: Sequence[dict], title: str | None = None) -> Figure:
    """The three sweep panels for a list of sweep points (as in ``sweep.json``)."""
    points = sorted(check_sweep(points), key=lambda p: p["pes"])
    xs = sorted({p["pes"] for p in points})
    log = len(xs) > 1 and xs[-1] / max(xs[0], 1) >= 8
    fig = new_figure(14, 4.8)
    axes = fig.subplots(1, 3, sharex=True)
    panels = (("latency_s", "latency per timestep", "s"),
              ("energy_j", "energy per timestep", "J"),
              ("max_pe_bytes", "memory of the fullest PE", "B"))
    spans = infeasible_spans(points, log)
    for ax, (key, label, unit) in zip(axes, panels, strict=True):
        vals = [p[key] for p in points]
        scale, shown = byte_scale(vals) if unit == "B" else si_scale(vals, unit)
        for lo, hi in spans:
            ax.axvspan(lo, hi, color=INFEASIBLE_COLOR, zorder=0, lw=0)
        for k, strategy in enumerate(strategies(points)):
            pts = [p for p in points if p["strategy"] == strategy]
            color = f"C{k}"
            x = np.array([p["pes"] for p in pts], dtype=float)
            y = np.array([p[key] for p in pts], dtype=float) * scale
            ok = np.array([p["fits"] for p in pts])
            ax.plot(x, y, color=color, lw=1.5, zorder=2)
            marker = MARKERS[k % len(MARKERS)]
            ax.plot(x[ok], y[ok], marker, color=color, ms=5, zorder=3)
            ax.plot(x[~ok], y[~ok], marker, mfc="white", mec=color, ms=5, zorder=3)
        if key == "max_pe_bytes" and (cap := sram_capacity(points)) is not None:
            ax.axhline(cap * scale, color="0.2", ls="--", lw=1)
            ax.annotate(f"SRAM for the partition: {cap * scale:.4g} {shown}", (0.02, cap * scale),
                        xycoords=("axes fraction", "data"), xytext=(0, 3),
                        textcoords="offset points", fontsize=8, color="0.2")
        ax.set_ylabel(f"{label} ({shown})")
        ax.set_xlabel("PEs (N)")
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        _x_axis(ax, xs, log)
    handles: list = [
        Line2D([], [], color=f"C{k}", marker=MARKERS[k % len(MARKERS)], label=s)
        for k, s in enumerate(strategies(points))
    ]
    handles += [
        Line2D([], [], ls="", marker="o", mfc="white", mec="0.3", label="does not fit in SRAM"),
        Patch(color=INFEASIBLE_COLOR, label="infeasible: no strategy fits"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False,
               fontsize=9)
    sub = _subtitle(points)
    fig.suptitle((title or "EGRU layers partitioned over N SpiNNaker2 PEs")
                 + (f"\n{sub}" if sub else ""), fontsize=12)
    return fig


def _x_axis(ax: Axes, xs: list[int], log: bool) -> None:
    if log:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.set_xticks(ticks := _spaced(xs, log), [str(t) for t in ticks])
    if len(xs) == 1:
        ax.set_xlim(xs[0] - 1, xs[0] + 1)


def _spaced(xs: list[int], log: bool) -> list[int]:
    """The N values to label, skipping any too close to the last labelled one to read."""
    pos = [math.log(x) if log else float(x) for x in xs]
    room = (pos[-1] - pos[0]) / 12 if len(xs) > 1 else 0.0
    ticks = [xs[0]]
    last = pos[0]
    for x, p in zip(xs[1:], pos[1:], strict=True):
        if p - last >= room:
            ticks.append(x)
            last = p
    return ticks


def _gap(xs: list[int]) -> float:
    return min((b - a for a, b in zip(xs, xs[1:], strict=False)), default=2)


def _finite(v: object) -> bool:
    return isinstance(v, int | float) and math.isfinite(v)


def _subtitle(points: Sequence[dict]) -> str:
    """The settings every point shares (model, steps...), as one line."""
    parts = []
    for key in _SUBTITLE_KEYS:
        vals = {_text(p[key]) for p in points if _given(p.get(key))}
        if len(vals) == 1:
            parts.append(f"{key} {vals.pop()}")
    return " · ".join(parts)


def _given(v: object) -> bool:
    """False for what a CSV leaves of an unset column: None, "" or NaN."""
    return not (v is None or v == "" or (isinstance(v, float) and math.isnan(v)))


def _text(v: object) -> str:
    return str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
