"""Where one DVS-gesture sample's energy goes: by EGRU layer and stage, and by operation.

Left panel: a stacked bar per (layer, stage) of the network (input matmul, recurrent matmul,
point-wise update, communication) and one for what no layer owns (static power), stacked by
category. Right panel: the top-k operations of the ledger (aggregated by operation and
category), coloured by category, everything else summed into "other" so the totals add up.
Input: a ``dvs-gesture`` result (``DvsGestureResult`` or its JSON, one point).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from matplotlib.figure import Figure
from matplotlib.patches import Patch

from simulator.plots.inputs import PlotInputError
from simulator.plots.style import CATEGORIES, CATEGORY_COLORS, OTHER_COLOR, new_figure, si_scale

STAGE_LABELS = {"input_matmul": "input", "recurrent_matmul": "recurrent",
                "pointwise": "point-wise", "communication": "comm."}


def _rows(result: Any) -> tuple[list[Mapping], Mapping]:
    data = result.model_dump() if hasattr(result, "model_dump") else result
    if not isinstance(data, Mapping) or not data.get("breakdown"):
        raise PlotInputError("a dvs-gesture result with breakdown rows is needed (written by "
                             "nmsim 0.1.0 or later: run `nmsim dvs-gesture --out DIR` again)")
    return data["breakdown"], data


def stage_table(result: Any) -> dict[str, dict[str, float]]:
    """``{group label: {category: energy_j}}`` per sample, in network order."""
    rows, _ = _rows(result)
    table: dict[tuple[int, int, str], dict[str, float]] = defaultdict(
        lambda: dict.fromkeys(CATEGORIES, 0.0))
    order = list(STAGE_LABELS)
    for r in rows:
        layer, stage = int(r["layer"]), str(r["stage"])
        key = ((1, 0, "no layer (static)") if layer < 0 or stage not in STAGE_LABELS
               else (0, layer * 10 + order.index(stage), f"L{layer} {STAGE_LABELS[stage]}"))
        table[key][str(r["category"])] += float(r["energy_j"])
    return {k[2]: v for k, v in sorted(table.items())}


def dvs_operation_table(result: Any, top: int = 10) -> list[tuple[str, str, float]]:
    """Top ``top`` (operation, category) pairs by energy, then ``("other (n)", "", rest)``."""
    rows, _ = _rows(result)
    sums: dict[tuple[str, str], float] = defaultdict(float)
    for r in rows:
        sums[(str(r["operation"]), str(r["category"]))] += float(r["energy_j"])
    ranked = sorted(sums.items(), key=lambda kv: -kv[1])
    out = [(op, cat, v) for (op, cat), v in ranked[:top]]
    if len(ranked) > top:
        out.append((f"other ({len(ranked) - top} operations)", "",
                    sum(v for _, v in ranked[top:])))
    return out


def dvs_breakdown_figure(result: Any, top: int = 10) -> Figure:
    """The breakdown figure of one ``dvs-gesture`` point (module docstring)."""
    stages = stage_table(result)
    ops = dvs_operation_table(result, top)
    _, data = _rows(result)
    fig = new_figure(13, 5.4)
    left, right = fig.subplots(1, 2, width_ratios=[1.1, 1])
    scale, unit = si_scale([sum(v.values()) for v in stages.values()], "J")
    for i, cats in enumerate(stages.values()):
        base = 0.0
        for cat in CATEGORIES:
            left.bar(i, cats[cat] * scale, 0.7, bottom=base, color=CATEGORY_COLORS[cat],
                     edgecolor="white", linewidth=0.5)
            base += cats[cat] * scale
    left.set_xticks(range(len(stages)), list(stages), rotation=30, ha="right", fontsize=9)
    left.set_ylabel(f"energy per sample ({unit})")
    left.set_title("by EGRU layer and stage, stacked by category", fontsize=10)
    left.grid(axis="y", alpha=0.3)
    left.set_axisbelow(True)
    oscale, ounit = si_scale([v for _, _, v in ops], "J")
    for i, (_, cat, v) in enumerate(ops):
        right.barh(i, v * oscale, 0.7, color=CATEGORY_COLORS.get(cat, OTHER_COLOR))
    right.set_yticks(range(len(ops)), [op for op, _, _ in ops], fontsize=9)
    right.invert_yaxis()
    right.set_xlabel(f"energy per sample ({ounit})")
    right.set_title(f"top {len(ops) - (ops[-1][1] == '')} operations", fontsize=10)
    right.grid(axis="x", alpha=0.3)
    right.set_axisbelow(True)
    per = data["per_sample"]
    fig.suptitle(
        f"DVS gesture, one sample on {data['pes']} cores ({data['frames']} frames, batch "
        f"{data['batch']}): {per['energy_j'] * 1e3:.3g} mJ, {per['latency_s'] * 1e3:.3g} ms"
        f"\n{data['trace_label']}", fontsize=11)
    handles = [Patch(facecolor=CATEGORY_COLORS[c], label=c) for c in CATEGORIES]
    if ops[-1][1] == "":
        handles.append(Patch(facecolor=OTHER_COLOR, label="other operations"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=9,
               frameon=False)
    return fig
