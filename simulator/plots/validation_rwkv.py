"""The gap decomposition of the RWKV block against Knunyants et al. 2025, as waterfalls.

Four panels (energy and latency, sparse and dense) of the whole block: the published value,
the paper's configuration, then one bar per modelling difference (:data:`STEPS`) from the
level before to the level after it (orange up, green down), then this simulator's default.
Latency falls by two orders of magnitude at the mapping step, so its panels use a log axis.
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from simulator.plots.style import new_figure
from simulator.validation.knunyants2025 import UNIT, RwkvValidation

PUBLISHED_COLOR = "#D55E00"  # the published value, as in the EGRU validation figure
LEVEL_COLOR = "#0072B2"  # the paper's configuration and the default: levels, not steps
UP_COLOR, DOWN_COLOR = "#E69F00", "#009E73"


def waterfall_figure(result: RwkvValidation | dict[str, Any]) -> Figure:
    """The figure of an :class:`RwkvValidation` (or its JSON as a dict)."""
    r = result if isinstance(result, RwkvValidation) else RwkvValidation.model_validate(result)
    fig = new_figure(12, 7.5)
    axes = fig.subplots(2, 2)
    names = [s.step for s in r.steps] + ["nmsim default"]
    for row, quantity in enumerate(("energy", "latency")):
        for col, mode in enumerate(("sparse", "dense")):
            ax = axes[row][col]
            levels = [s.values[quantity][mode]["block"] for s in r.steps]
            levels.append(levels[-1])
            floor = min(levels) / 3 if quantity == "latency" else 0.0
            for i, v in enumerate(levels):
                if i in (0, 1, len(levels) - 1):  # published, paper config, default: levels
                    ax.bar(i, v - floor, bottom=floor, width=0.7,
                           color=PUBLISHED_COLOR if i == 0 else LEVEL_COLOR)
                else:
                    lo, hi = sorted((levels[i - 1], v))
                    ax.bar(i, hi - lo, bottom=lo, width=0.7,
                           color=UP_COLOR if v >= levels[i - 1] else DOWN_COLOR)
                ax.annotate(f"{v:.3g}", (i, v), ha="center", va="bottom", fontsize=7,
                            xytext=(0, 2), textcoords="offset points")
            if quantity == "latency":
                ax.set_yscale("log")
                ax.set_ylim(floor, max(levels) * 4)
            else:
                ax.set_ylim(0, max(levels) * 1.12)
            ax.set_xticks(range(len(names)), names, rotation=35, ha="right", fontsize=8)
            ax.set_ylabel(f"{quantity} per token ({UNIT[quantity][0]})")
            ax.set_title(f"{quantity}, {mode} run (one token, RWKV-4 3B block, SENECA)",
                         fontsize=9)
            ax.grid(axis="y", alpha=0.3)
    fig.suptitle("From Knunyants et al. 2025 (Tables III/IV) to nmsim's default, one "
                 "modelling difference at a time", fontsize=10)
    return fig
