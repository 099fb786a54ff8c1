"""Plots: each command writes a valid image from a small result, the API returns Figures, the
numbers drawn add up to the job's totals, and bad input fails with the missing key named."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from simulator.cli import main
from simulator.plots import (
    PlotInputError,
    breakdown_figure,
    category_table,
    load_result,
    load_sweep,
    operation_table,
    profile_figure,
    stage_table,
    sweep_figure,
)
from simulator.plots.sweep import infeasible_spans, sram_capacity
from simulator.results import RwkvTokenResult

CATEGORIES = ("computation", "memory", "communication", "control", "static")
# (sub_block, site, component, operation, category, dense energy in J); sparse is a fraction
OPS = [
    ("time_mix", "att.key", "core0.npe", "mac", "computation", 4e-6),
    ("time_mix", "att.key", "core0.dmem", "weight_read", "memory", 3e-6),
    ("time_mix", "att.key", "noc", "hop", "communication", 1e-6),
    ("time_mix", "wkv", "core1.npe", "exp", "computation", 2e-7),
    ("channel_mix", "ffn.key", "core2.npe", "mac", "computation", 8e-6),
    ("channel_mix", "ffn.key", "core2.dmem", "weight_read", "memory", 6e-6),
    ("channel_mix", "ffn.value", "core2.ctrl", "loop", "control", 5e-7),
    ("block", "", "core0", "leakage", "static", 1e-6),
]


def make_result() -> dict:
    """A small ``rwkv-token`` result in the job's format (valid against its schema,
    :class:`~simulator.results.RwkvTokenResult`); sub-block sums from the rows."""
    rows = [
        {"mode": mode, "sub_block": sub, "site": site, "component": comp, "operation": op,
         "category": cat, "count": 10, "energy_j": e * f, "cycles": 1e4 * e / 1e-6 * f}
        for mode, f in (("dense", 1.0), ("sparse", 0.25))
        for sub, site, comp, op, cat, e in OPS
    ]
    result: dict = {}
    for mode in ("dense", "sparse"):
        result[mode] = {}
        for sub in ("time_mix", "channel_mix", "block"):
            cell = {}
            for cat in CATEGORIES:
                sel = [r for r in rows if r["mode"] == mode and r["category"] == cat
                       and sub in ("block", r["sub_block"])]
                cyc = sum(r["cycles"] for r in sel)
                cell[cat] = {"energy_j": sum(r["energy_j"] for r in sel), "cycles": cyc,
                             "latency_s": cyc / 1e8}
            cell["total"] = {k: sum(cell[c][k] for c in CATEGORIES)
                             for k in ("energy_j", "cycles", "latency_s")}
            result[mode][sub] = cell
    result["ratios"] = {sub: {"energy": 4.0, "latency": 4.0} for sub in result["dense"]}
    result["breakdown"] = rows
    result["mapping"] = {
        "strategy": "rows", "cores": 5, "control_cores": 2,
        "sites": {"att.key": {"cores": 1, "in_splits": 1, "out_splits": 1, "weight_bytes": 512},
                  "ffn.key": {"cores": 2, "in_splits": 1, "out_splits": 2, "weight_bytes": 2048},
                  "ffn.value": {"cores": 1, "in_splits": 1, "out_splits": 1,
                                "weight_bytes": 1024}},
    }
    result["critical_path"] = {
        mode: {sub: {"latency_s": 3e-6, "cycles": 300.0, "steps": 3.0,
                     "by_category": {"computation": 2e-6, "communication": 1e-6},
                     "by_component": {"att.key.tiles": 2e-6, "noc": 1e-6}}
               for sub in ("time_mix", "channel_mix")}
        for mode in ("dense", "sparse")}
    result["critical_chain"] = [
        {"sub_block": sub, "component": comp, "kind": kind, "label": label, "start_s": a,
         "end_s": b, "categories": {cat: b - a}, "step": None if kind == "network" else i}
        for sub in ("time_mix", "channel_mix")
        for i, (comp, kind, label, a, b, cat) in enumerate((
            ("channel_owner", "busy", "layer_norm", 0.0, 1e-6, "computation"),
            ("noc", "network", "network", 1e-6, 2e-6, "communication"),
            ("att.key.tiles", "busy", "column", 2e-6, 3e-6, "memory")))]
    result["provenance"] = {
        "chip": "seneca", "chip_file": "calibration/seneca.yaml", "chip_sha256": "0" * 64,
        "chip_overrides": [], "chip_options": {}, "cost_sources": ["[Tang23] Table 8"],
        "assumed_parameters": ["core.clock"], "clock_hz": 100_000_000,
        "trace_kind": "synthetic", "model": "RWKV-4 test", "profile": "test",
        "dense_trace": "dense test trace", "sparse_trace": "sparse test trace", "tokens": 1,
        "block": 0, "seed": 0, "job": {"strategy": "rows"}, "nmsim_version": "0.1.0",
    }
    return result


def make_sweep(pes=(2, 4, 8), strategies=("equal", "balanced")) -> list[dict]:
    """Sweep points in the ``egru-sweep --json`` format; N = 2 does not fit (64 kB SRAM)."""
    points = []
    for s in strategies:
        for n in pes:
            busy = [1000 / n + 10 * pe for pe in range(n)]
            stages = {"input_matmul": [b * 0.5 for b in busy],
                      "recurrent_matmul": [b * 0.4 for b in busy],
                      "pointwise": [b * 0.1 for b in busy],
                      "communication": [20.0] * n,
                      "waiting": [max(busy) - b for b in busy]}
            mx = 160_000 / n
            points.append({"pes": n, "strategy": s, "fits": mx <= 65_536, "max_pe_bytes": mx,
                           "overflow_bytes": max(0.0, mx - 65_536), "latency_s": 1e-5 / n,
                           "energy_j": 1e-6 * n, "stages": stages})
    return points


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    result = tmp_path / "result.json"
    result.write_text(json.dumps(make_result()))
    sweep_json = tmp_path / "sweep.json"
    points = make_sweep()
    sweep_json.write_text(json.dumps(points))
    sweep_csv = tmp_path / "sweep.csv"
    with sweep_csv.open("w", newline="") as f:
        w = csv.DictWriter(f, [k for k in points[0] if k != "stages"], extrasaction="ignore")
        w.writeheader()
        w.writerows(points)
    return {"result": result, "json": sweep_json, "csv": sweep_csv}


def assert_image(path: Path) -> None:
    data = path.read_bytes()
    assert data, f"{path} is empty"
    if path.suffix == ".png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    elif path.suffix == ".pdf":
        assert data.startswith(b"%PDF-") and b"%%EOF" in data[-64:]
    else:
        assert ET.fromstring(data).tag.endswith("svg")


@pytest.mark.parametrize(("command", "source", "suffix", "extra"), [
    ("breakdown", "result", ".png", []),
    ("breakdown", "result", ".svg", ["--metric", "latency", "--percent"]),
    ("breakdown", "result", ".pdf", ["--by", "site", "--top", "3"]),
    ("sweep", "csv", ".svg", []),
    ("sweep", "json", ".pdf", []),
    ("profile", "json", ".png", ["--pes", "4"]),
    ("critical-path", "result", ".png", []),
    ("critical-path", "result", ".svg", ["--sub-block", "channel_mix"]),
])
def test_command_writes_valid_image(files, tmp_path, capsys, command, source, suffix, extra):
    out = tmp_path / "fig" / f"{command}{suffix}"
    assert main(["plot", command, str(files[source]), "-o", str(out), *extra]) == 0
    assert_image(out)
    assert str(out) in capsys.readouterr().out


def test_make_result_is_a_valid_result():
    assert RwkvTokenResult.model_validate(make_result()).model_dump() == make_result()


def test_api_returns_figures(files):
    points = load_sweep(files["json"])
    figs = [
        breakdown_figure(load_result(files["result"])),
        breakdown_figure(RwkvTokenResult.model_validate(make_result())),  # the job's return
        breakdown_figure(make_result(), metric="latency", percent=True, by="site"),
        sweep_figure(load_sweep(files["csv"])),
        profile_figure(points),
        profile_figure(points, pes=8, strategy="balanced"),
    ]
    assert all(isinstance(f, Figure) for f in figs)
    assert "synthetic" in figs[0].get_suptitle()


def test_breakdown_tables_add_up_to_the_totals():
    result = make_result()
    by_sub = category_table(result)
    for mode in ("dense", "sparse"):
        total = result[mode]["block"]["total"]["energy_j"]
        assert sum(by_sub["block"][mode].values()) == pytest.approx(total)
        by_site = category_table(result, by="site")
        assert sum(sum(g[mode].values()) for g in by_site.values()) == pytest.approx(total)
        ops = operation_table(result, top=2)
        assert ops[-1][0].startswith("other")
        assert sum(vals[mode] for _, _, vals in ops) == pytest.approx(total)
    # mac is charged in two sub-blocks but is one (operation, category) pair
    assert [(op, cat) for op, cat, _ in ops[:2]] == [("mac", "computation"),
                                                      ("weight_read", "memory")]


def test_breakdown_rows_are_grouped_by_their_mode():
    """Rows belong to the run their ``mode`` names, wherever they stand in the list."""
    result = make_result()
    result["breakdown"] = result["breakdown"][::-1]

    def by_pair(res):  # equal values (hop, leakage) rank in the order they come
        return {(op, cat): vals for op, cat, vals in operation_table(res)}

    assert by_pair(result) == by_pair(make_result())
    assert category_table(result, by="site") == category_table(make_result(), by="site")


@pytest.mark.parametrize("layout", ["alias", "grouped"])
def test_breakdown_rows_without_a_mode_are_rejected(layout):
    """The result has one layout: a list of rows, each naming its ``mode``. Rows that name
    their run under another key, or lists grouped by run, fail naming the field."""
    result = make_result()
    rows = result.pop("breakdown")
    if layout == "alias":
        result["breakdown"] = [{("variant" if k == "mode" else k): v for k, v in r.items()}
                               for r in rows]
        fields = ("'breakdown.0.mode'", "'breakdown.0.variant'")
    else:
        result["breakdown"] = {
            m: [{k: v for k, v in r.items() if k != "mode"} for r in rows if r["mode"] == m]
            for m in ("dense", "sparse")
        }
        fields = ("'breakdown'",)
    with pytest.raises(PlotInputError, match="not an rwkv-token result") as err:
        operation_table(result)
    assert all(f in str(err.value) for f in fields)


def test_sweep_infeasible_region_and_capacity():
    points = make_sweep(pes=(2, 4, 8))
    assert infeasible_spans(points, log=False) == [(1.0, 3.0)]
    assert sram_capacity(points) == 65_536
    # one strategy fitting at N is enough to leave N unshaded
    points[3]["fits"] = True
    assert infeasible_spans(points, log=False) == []


def test_csv_and_json_sweeps_read_the_same(files):
    by_csv, by_json = load_sweep(files["csv"]), load_sweep(files["json"])
    keys = ("pes", "strategy", "fits", "max_pe_bytes", "latency_s")
    assert [[p[k] for k in keys] for p in by_csv] == [[p[k] for k in keys] for p in by_json]
    assert isinstance(by_csv[0]["pes"], int) and by_csv[0]["fits"] is False


def test_stage_table_reads_every_layout():
    by_stage = {"input_matmul": [3, 1], "Waiting": [0, 2]}
    per_pe = [{"pe": 0, "input": 3, "wait": 0}, {"pe": 1, "input": 1, "wait": 2}]
    by_pe = {"0": {"input_matmul_cycles": 3, "waiting": 0},
             "1": {"input_matmul_cycles": 1, "waiting": 2}}
    for stages in (by_stage, per_pe, by_pe):
        names, labels, cycles = stage_table(stages)
        assert names == ["input_matmul", "waiting"] and labels == ["0", "1"]
        assert cycles.tolist() == [[3, 0], [1, 2]]


def _without(result: dict, *path: str) -> dict:
    """``result`` less the entry at ``path``."""
    node = result
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return result


@pytest.mark.parametrize(("command", "content", "message"), [
    ("breakdown", _without(make_result(), "dense", "time_mix"),
     "dense: sub-block 'time_mix' is missing"),
    ("breakdown", _without(make_result(), "sparse", "block", "static"),
     "sparse.block: categories ['static'] are missing"),
    ("breakdown", _without(make_result(), "dense", "channel_mix", "memory", "latency_s"),
     "field 'dense.channel_mix.memory.latency_s': Field required"),
    ("breakdown", _without(make_result(), "provenance", "chip_sha256"),
     "field 'provenance.chip_sha256': Field required"),
    ("breakdown", _without(make_result(), "mapping"), "field 'mapping': Field required"),
    ("breakdown", {"dense": {}, "sparse": {}}, "field 'ratios': Field required"),
    ("breakdown", "not json", "not valid JSON"),
    ("sweep", [{"pes": 4, "strategy": "equal", "fits": True}], "missing key 'max_pe_bytes'"),
    ("profile", [{"pes": 4, "strategy": "equal", "fits": True}], "missing key 'stages'"),
])
def test_bad_input_names_the_problem(tmp_path, capsys, command, content, message):
    src = tmp_path / "in.json"
    src.write_text(content if isinstance(content, str) else json.dumps(content))
    out = tmp_path / "x.png"
    assert main(["plot", command, str(src), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and str(src) in err
    assert not out.exists()


def test_bad_output_format_and_missing_file(files, tmp_path, capsys):
    assert main(["plot", "sweep", str(files["csv"]), "-o", str(tmp_path / "x.jpg")]) == 2
    assert ".png, .svg, .pdf" in capsys.readouterr().err
    assert main(["plot", "sweep", str(tmp_path / "none.csv"), "-o", str(tmp_path / "x.png")]) == 2
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(PlotInputError, match="no sweep point with 5 PEs"):
        profile_figure(make_sweep(), pes=5)
