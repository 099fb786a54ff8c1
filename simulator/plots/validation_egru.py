"""Sensitivity of the EGRU LM's time and power to the two unknowns, Table II marked.

Two panels against the Cortex-M4F cycles per stored CSR weight, one line per activity (the
same in every layer): time per 70-step sequence and chip power. Table II's value is a dashed
line, the simulator's defaults (the tiny model's measured activity profile, the chip file's
cycles) a star, the solved values (re-simulated) crosses, and the plausible cycles per weight
a shaded band, so a reader sees at once which combinations reach the published cell and
whether they are plausible.
"""

from __future__ import annotations

from typing import Any

from matplotlib.figure import Figure

from simulator.plots.style import MARKERS, new_figure
from simulator.validation.nazeer2024 import (
    PLAUSIBLE_CYCLES,
    SEQUENCE_STEPS,
    NazeerValidation,
)

PUBLISHED_COLOR = "#D55E00"  # Okabe-Ito vermillion: the published value
BAND_COLOR = "#F0F0F0"


def sensitivity_figure(result: NazeerValidation | dict[str, Any]) -> Figure:
    """The figure of a :class:`NazeerValidation` (or its JSON as a dict)."""
    r = result if isinstance(result, NazeerValidation) else NazeerValidation.model_validate(result)
    fig = new_figure(11, 4.2)
    axes = fig.subplots(1, 2, sharex=True)
    d = r.default
    panels = (
        ("time per sequence (ms)", lambda g: g.time_per_sequence_s * 1e3,
         d.time_per_sequence_s * 1e3, r.published["time"].value,
         f"Table II {r.published['time'].value:g} ms (per {SEQUENCE_STEPS}-token sequence)"),
        ("chip power (W)", lambda g: g.power_w, d.power_w, r.published["power"].value,
         f"Table II {r.published['power'].value:g} W"),
    )
    for ax, (label, value, default, published, pub_label) in zip(axes, panels, strict=True):
        ax.axvspan(*PLAUSIBLE_CYCLES, color=BAND_COLOR, zorder=0,
                   label="plausible cycles per weight")
        for i, a in enumerate(r.grid_activity):
            pts = sorted((g for g in r.grid if g.activity == a), key=lambda g: g.cycles_per_weight)
            ax.plot([g.cycles_per_weight for g in pts], [value(g) for g in pts],
                    marker=MARKERS[i % len(MARKERS)], label=f"activity {a:g}")
        ax.axhline(published, color=PUBLISHED_COLOR, linestyle="--", label=pub_label)
        ax.plot([d.cycles_per_weight], [default], marker="*", markersize=14, color="black",
                linestyle="none", label="defaults (tiny-measured activity)")
        solved = [x for x in r.solutions if x.resimulated is not None]
        ax.plot([x.cycles_per_weight for x in solved], [value(x.resimulated) for x in solved],
                marker="X", markersize=10, color=PUBLISHED_COLOR, linestyle="none",
                label="solved values, re-simulated")
        for i, x in enumerate(solved):  # labels alternately below and above: close pairs
            ax.annotate(f"a={x.activity:.2g}", (x.cycles_per_weight, value(x.resimulated)),
                        textcoords="offset points", xytext=(6, -12 if i % 2 == 0 else 6),
                        fontsize=7)
        ax.set_xlabel("Cortex-M4F cycles per stored CSR weight")
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"EGRU LM on SpiNNaker2, {r.pes} PEs ({d.pes_per_layer}): sensitivity to "
                 "activity and cycles per weight (Nazeer et al. 2024, Table II)", fontsize=10)
    return fig
