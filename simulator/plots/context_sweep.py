"""Energy and latency per token against context length L: OPT layer vs RWKV block.

Two panels on a log L axis, one line per model and mode (solid dense, dashed sparse); the
contexts at which the OPT layer's KV cache is streamed from off-chip memory are shaded.
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import ScalarFormatter

from simulator.plots.style import new_figure, si_scale

_COLORS = {"opt": "#C0504D", "rwkv": "#4F81BD"}
_WHAT = {"opt": "layer", "rwkv": "block"}
STREAMED_COLOR = "#FCE9D9"


def context_figure(rows: Sequence[dict], title: str | None = None) -> Figure:
    """``rows``: tidy rows of a context sweep (one per model, mode and L; the RWKV rows
    repeated at every L, :func:`simulator.jobs.context_sweep.broadcast`)."""
    if not rows:
        raise ValueError("context sweep: no rows to plot")
    fig = new_figure(10.0, 4.2)
    axes = fig.subplots(1, 2)
    streamed = sorted({r["context"] for r in rows if r["model"] == "opt" and r["kv_streamed"]})
    names = {r["model"]: f"{r['workload']} {_WHAT[r['model']]}" for r in rows}
    contexts = sorted({r["context"] for r in rows})
    for ax, key, unit, label in ((axes[0], "energy_j", "J", "energy per token"),
                                 (axes[1], "latency_s", "s", "latency per token")):
        scale, prefix = si_scale([r[key] for r in rows], unit)
        for model in ("opt", "rwkv"):
            for mode, style in (("dense", "-"), ("sparse", "--")):
                pts = sorted((r["context"], r[key]) for r in rows
                             if r["model"] == model and r["mode"] == mode)
                if pts:
                    ax.plot([p[0] for p in pts], [p[1] * scale for p in pts], style,
                            color=_COLORS[model], marker="o" if model == "opt" else None,
                            markersize=3, label=f"{names[model]}, {mode}")
        if streamed:
            held = [n for n in contexts if n < streamed[0]]
            start = (held[-1] * streamed[0]) ** 0.5 if held else streamed[0] / 1.2
            ax.axvspan(start, contexts[-1] * 1.2, color=STREAMED_COLOR, zorder=0)
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.set_ylim(bottom=0)
        ax.set_xlabel("context length L (tokens attended to)")
        ax.set_ylabel(f"{label} ({prefix})")
        ax.grid(True, which="major", alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    if streamed:
        handles.append(Patch(color=STREAMED_COLOR, label="OPT KV cache streamed off-chip"))
        labels.append("OPT KV cache streamed off-chip")
    axes[0].legend(handles, labels, fontsize=7, loc="best")
    chip = rows[0].get("chip", "")
    fig.suptitle(title or f"Cost per token against context on {chip} (synthetic traces with "
                 "the published sparsity profiles)", fontsize=10)
    return fig
