"""Figures of job results, for notebooks and the ``nmsim plot`` commands.

Every function returns a :class:`matplotlib.figure.Figure` built without pyplot (no GUI, no
global state); :func:`save` writes one as PNG, SVG or PDF. Inputs are the files or dicts the
jobs write (``result.json`` of ``rwkv-token``; ``sweep.csv``/``sweep.json`` of ``egru-sweep``).
"""

from simulator.plots.breakdown import breakdown_figure, category_table, operation_table
from simulator.plots.critical_path import (
    critical_path_figure,
    plot_critical_path,
    result_critical_path_figure,
)
from simulator.plots.dvs_breakdown import dvs_breakdown_figure
from simulator.plots.inputs import PlotInputError, load_result, load_sweep
from simulator.plots.profile import profile_figure, stage_table
from simulator.plots.style import CATEGORY_COLORS, SAVE_FORMATS, STAGE_COLORS, save
from simulator.plots.sweep import sweep_figure

__all__ = [
    "CATEGORY_COLORS", "SAVE_FORMATS", "STAGE_COLORS", "PlotInputError", "breakdown_figure",
    "category_table", "critical_path_figure", "dvs_breakdown_figure", "load_result",
    "load_sweep", "operation_table",
    "plot_critical_path", "profile_figure", "result_critical_path_figure", "save", "stage_table",
    "sweep_figure",
]
