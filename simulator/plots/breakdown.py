"""Where one token's energy (or latency) goes, through an RWKV block or an OPT layer: by
category per sub-block, and by operation.

Left panel: stacked bars per sub-block (or per site, i.e. linear layer), dense next to sparse,
stacked by category, with the dense/sparse ratio over each pair. Right panel: the top-k
operations of the ledger (rows aggregated by operation and category), dense next to sparse,
coloured by category; everything else is summed into "other" so the totals still add up.
Dense bars are hatched in both panels, so the two runs read the same way everywhere.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Literal

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from simulator.plots.inputs import (
    MODES,
    PlotInputError,
    block_name,
    breakdown_rows,
    check_result,
    provenance_line,
    sub_blocks,
)
from simulator.plots.style import CATEGORIES, CATEGORY_COLORS, OTHER_COLOR, new_figure, si_scale

Metric = Literal["energy", "latency"]
GroupBy = Literal["sub_block", "site"]

DENSE_HATCH = "///"
SUB_BLOCK_LABELS = {"time_mix": "Time-Mix", "channel_mix": "Channel-Mix", "attention": "Attention",
                    "mlp": "MLP", "block": "whole block"}
_WIDTH = 0.38


def category_table(result: Mapping, metric: Metric = "energy", by: GroupBy = "sub_block"
                   ) -> dict[str, dict[str, dict[str, float]]]:
    """``{group: {mode: {category: value}}}``: the numbers the left panel stacks.

    By sub-block the values come from the result's summary (energy in J or latency in s). By
    site they are summed from the breakdown rows (energy in J or cycles charged), since the
    summary has no per-site split; rows without a site go to "other"."""
    result = check_result(result)
    if by == "sub_block":
        key = "energy_j" if metric == "energy" else "latency_s"
        return {
            sub: {m: {c: float(result[m][sub][c][key]) for c in CATEGORIES} for m in MODES}
            for sub in sub_blocks(result)
        }
    if by != "site":
        raise ValueError(f"group by 'sub_block' or 'site', not {by!r}")
    key = _row_key(metric)
    table: dict[str, dict[str, dict[str, float]]] = defaultdict(
        lambda: {m: dict.fromkeys(CATEGORIES, 0.0) for m in MODES})
    for mode, rows in _runs(result).items():
        for row in rows:
            site = str(row.get("site") or "other")
            table[site][mode][_category(row)] += float(row.get(key, 0.0))
    order = sorted(table, key=lambda s: (s == "other", -sum(table[s]["dense"].values())))
    return {s: table[s] for s in order}


def operation_table(result: Mapping, metric: Metric = "energy", top: int = 10
                    ) -> list[tuple[str, str, dict[str, float]]]:
    """Top ``top`` (operation, category) pairs by dense + sparse value, then ``("other", "",
    {...})`` holding the rest: ``[(operation, category, {mode: value})]``."""
    if top < 1:
        raise ValueError(f"top must be at least 1, got {top}")
    key = _row_key(metric)
    sums: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: dict.fromkeys(MODES, 0.0))
    for mode, rows in _runs(result).items():
        for row in rows:
            cat = _category(row)
            if metric == "latency" and cat == "static":
                continue  # leakage "cycles" are elapsed time per component, not work
            sums[(str(row["operation"]), cat)][mode] += float(row.get(key, 0.0))
    ranked = sorted(sums.items(), key=lambda kv: -sum(kv[1].values()))
    out = [(op, cat, vals) for (op, cat), vals in ranked[:top]]
    if len(ranked) > top:
        rest = {m: sum(v[m] for _, v in ranked[top:]) for m in MODES}
        out.append((f"other ({len(ranked) - top} operations)", "", rest))
    return out


def breakdown_figure(
    result: Mapping,
    metric: Metric = "energy",
    percent: bool = False,
    by: GroupBy = "sub_block",
    top: int = 10,
) -> Figure:
    """The breakdown figure of an ``rwkv-token`` result (see the module docstring)."""
    if metric not in ("energy", "latency"):
        raise ValueError(f"metric must be 'energy' or 'latency', not {metric!r}")
    result = check_result(result)
    fig = new_figure(13, 5.6)
    left, right = fig.subplots(1, 2, width_ratios=[1, 1.25])
    _category_panel(left, category_table(result, metric, by), metric, percent, by)
    ops = operation_table(result, metric, top)
    _operation_panel(right, ops, metric, percent)
    what = "energy" if metric == "energy" else "latency"
    title = f"{block_name(result)}, one token: {what} by category and by operation"
    sub = provenance_line(result)
    fig.suptitle(title + (f"\n{sub}" if sub else ""), fontsize=12)
    handles = [Patch(facecolor=CATEGORY_COLORS[c], label=c) for c in CATEGORIES]
    if ops[-1][1] == "":
        handles.append(Patch(facecolor=OTHER_COLOR, label="other operations"))
    handles += [
        Patch(facecolor="white", edgecolor="0.3", hatch=DENSE_HATCH, label="dense (hatched)"),
        Patch(facecolor="0.3", label="sparse (solid)"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=9,
               frameon=False)
    return fig


# -- panels -------------------------------------------------------------------------------------
def _category_panel(ax: Axes, table: dict, metric: Metric, percent: bool, by: GroupBy) -> None:
    """Vertical bars for a few groups (sub-blocks); horizontal ones for many (sites), whose
    names need the room of a y axis."""
    totals = {(g, m): sum(table[g][m].values()) for g in table for m in MODES}
    if percent:
        scale, unit = 1.0, "%"
    elif metric == "latency" and by == "site":
        scale, unit = 1.0, "cycles"
    else:
        scale, unit = si_scale(totals.values(), "J" if metric == "energy" else "s")
    horizontal = len(table) > 4
    for i, (group, runs) in enumerate(table.items()):
        for j, mode in enumerate(MODES):
            pos = i + (j - 0.5) * (_WIDTH + 0.04)  # dense first: left, or on top (-pos)
            norm = 100.0 / totals[(group, mode)] if percent and totals[(group, mode)] else scale
            base = 0.0
            for cat in CATEGORIES:
                size = runs[mode][cat] * norm
                style = dict(color=CATEGORY_COLORS[cat], edgecolor="white", linewidth=0.5,
                             hatch=DENSE_HATCH if mode == "dense" else None, hatchcolor="white")
                if horizontal:
                    ax.barh(-pos, size, _WIDTH, left=base, **style)
                else:
                    ax.bar(pos, size, _WIDTH, bottom=base, **style)
                base += size
        dense, sparse = totals[(group, "dense")], totals[(group, "sparse")]
        if sparse > 0 or dense > 0:
            end = 100.0 if percent else max(dense, sparse) * scale
            text = f"{dense / sparse:.3g}×" if dense > 0 and sparse > 0 else (
                "sparse only" if sparse > 0 else "dense only")
            if horizontal:
                ax.annotate(text, (end, -i), xytext=(4, 0), textcoords="offset points",
                            ha="left", va="center", fontsize=9)
            else:
                ax.annotate(text, (i, end), xytext=(0, 3), textcoords="offset points",
                            ha="center", va="bottom", fontsize=9)
    names = [SUB_BLOCK_LABELS.get(g, g) for g in table]
    what = "energy" if metric == "energy" else ("latency" if by == "sub_block" else "cycles")
    label = f"share of {what} (%)" if percent else f"{what} ({unit})"
    value_axis = ax.xaxis if horizontal else ax.yaxis
    if horizontal:
        ax.set_yticks([-i for i in range(len(names))], names, fontsize=9)
        ax.set_xlabel(label)
        ax.set_xlim(0, (115.0 if percent else ax.get_xlim()[1] * 1.12))
    else:
        ax.set_xticks(range(len(names)), names, fontsize=10)
        ax.set_ylabel(label)
        ax.set_ylim(0, (110.0 if percent else ax.get_ylim()[1] * 1.08))
    value_axis.grid(True, alpha=0.3)
    ax.set_axisbelow(True)
    order = "dense above sparse" if horizontal else "dense left, sparse right"
    ax.set_title(f"by category, per {'sub-block' if by == 'sub_block' else 'site'}: {order}\n"
                 "(n× = dense / sparse)", fontsize=10)


def _operation_panel(ax: Axes, table: list, metric: Metric, percent: bool) -> None:
    totals = {m: sum(vals[m] for _, _, vals in table) for m in MODES}
    scale, unit = 1.0, "cycles"
    if metric == "energy" and not percent:
        scale, unit = si_scale([v for _, _, vals in table for v in vals.values()], "J")
    names = [_op_label(op, cat, table) for op, cat, _ in table]
    for i, (_, cat, vals) in enumerate(table):
        color = CATEGORY_COLORS.get(cat, OTHER_COLOR)
        for j, mode in enumerate(MODES):
            norm = 100.0 / totals[mode] if percent and totals[mode] else scale
            y = i + (j - 0.5) * _WIDTH
            ax.barh(y, vals[mode] * norm, _WIDTH, color=color, edgecolor="white",
                    hatch=DENSE_HATCH if mode == "dense" else None, hatchcolor="white",
                    linewidth=0.5)
    ax.set_yticks(range(len(names)), names, fontsize=9)
    ax.invert_yaxis()
    what = "energy" if metric == "energy" else "cycles charged"
    if percent:
        ax.set_xlabel(f"share of the run's {what} (%)")
    else:
        ax.set_xlabel(f"energy ({unit})" if metric == "energy"
                      else "cycles charged (summed over units)")
    ax.set_title(f"top {len(table) - (table[-1][1] == '')} operations, dense (upper) "
                 "and sparse (lower) bar", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)


# -- helpers ------------------------------------------------------------------------------------
def _runs(result: Mapping) -> dict[str, list[dict]]:
    runs = breakdown_rows(result)
    if not set(MODES) <= set(runs):
        raise PlotInputError(
            f"breakdown rows must say which run they belong to (a {'/'.join(MODES)} key), "
            f"found runs {sorted(runs)}"
        )
    return runs


def _row_key(metric: Metric) -> str:
    return "energy_j" if metric == "energy" else "cycles"


def _category(row: Mapping) -> str:
    cat = str(row["category"])
    if cat not in CATEGORIES:
        raise PlotInputError(f"unknown category {cat!r} in breakdown row {dict(row)}")
    return cat


def _op_label(op: str, cat: str, table: list) -> str:
    """The operation's name, plus its category when the name appears under two categories."""
    twice = sum(1 for o, _, _ in table if o == op) > 1
    return f"{op} ({cat})" if twice else op
