"""Shared look of every figure: category colours, stage colours, unit scaling, saving.

Colours are fixed per category (not per figure) so that "memory" is the same orange in a
breakdown, a sweep and a profile: a reader learns the legend once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

from matplotlib.figure import Figure

#: Ledger categories, in stacking order (bottom first), with their colours (colour-blind safe,
#: from the Okabe-Ito palette).
CATEGORIES: tuple[str, ...] = ("computation", "memory", "communication", "control", "static")
CATEGORY_COLORS: dict[str, str] = {
    "computation": "#0072B2",  # blue
    "memory": "#E69F00",  # orange
    "communication": "#009E73",  # green
    "control": "#CC79A7",  # purple
    "static": "#999999",  # grey
}
#: Colour of the "other" bucket (operations outside the top k).
OTHER_COLOR = "#DDDDDD"

#: Per-PE stages of the EGRU sweep, in stacking order, coloured by the category they pay for:
#: the three compute stages in shades of the computation blue, waiting in the static grey.
STAGES: tuple[str, ...] = (
    "input_matmul", "recurrent_matmul", "pointwise", "communication", "waiting",
)
STAGE_COLORS: dict[str, str] = {
    "input_matmul": "#0072B2",
    "recurrent_matmul": "#56B4E9",
    "pointwise": "#A6D8F5",
    "communication": CATEGORY_COLORS["communication"],
    "waiting": "#D9D9D9",
}
STAGE_LABELS: dict[str, str] = {
    "input_matmul": "input matmul",
    "recurrent_matmul": "recurrent matmul",
    "pointwise": "point-wise",
    "communication": "communication",
    "waiting": "waiting",
}

#: Strategy line styles (colour from the default cycle, marker distinguishes in greyscale).
MARKERS: tuple[str, ...] = ("o", "s", "^", "D", "v", "P")

_PREFIXES: tuple[tuple[float, str], ...] = (
    (1.0, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n"), (1e-12, "p"),
)
_BINARY: tuple[tuple[float, str], ...] = ((1024.0**2, "MiB"), (1024.0, "KiB"), (1.0, "B"))

SAVE_FORMATS: tuple[str, ...] = (".png", ".svg", ".pdf")


def si_scale(values: Iterable[float], unit: str) -> tuple[float, str]:
    """Factor and label (e.g. ``(1e6, "µJ")``) that bring the largest value into [1, 1000)."""
    top = max((abs(v) for v in values if v is not None and math.isfinite(v)), default=0.0)
    for scale, prefix in _PREFIXES:
        if top >= scale:
            return 1.0 / scale, prefix + unit
    return 1e12, "p" + unit


def byte_scale(values: Iterable[float]) -> tuple[float, str]:
    """Factor and label for byte counts (B, KiB, MiB: SRAM sizes are powers of two)."""
    top = max((abs(v) for v in values if v is not None and math.isfinite(v)), default=0.0)
    for scale, label in _BINARY:
        if top >= scale:
            return 1.0 / scale, label
    return 1.0, "B"


def new_figure(width: float, height: float) -> Figure:
    """A figure not attached to pyplot: no global state, no GUI, safe in scripts and notebooks
    (Jupyter renders a returned ``Figure`` inline)."""
    return Figure(figsize=(width, height), layout="constrained")


def save(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` in the format named by the file extension (PNG, SVG or PDF)."""
    path = Path(path)
    if path.suffix.lower() not in SAVE_FORMATS:
        raise ValueError(
            f"cannot tell the image format of {path}: use one of {', '.join(SAVE_FORMATS)}"
        )
    from simulator.outputs import ensure_dir, write_atomic

    ensure_dir(path.parent)
    return write_atomic(path, lambda f: fig.savefig(f, dpi=150, format=path.suffix[1:].lower()))
