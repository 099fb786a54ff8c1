"""Job 1 (``nmsim rwkv-token``) end to end on small configurations, both chips."""

from __future__ import annotations

import csv
import hashlib
import json

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from models.rwkv import TINY_CHECKPOINT, TINY_THRESHOLDS, RWKVConfig, artifact_path
from models.rwkv_sites import SITE_SUFFIXES
from simulator.chips.registry import load_chip
from simulator.cli import main
from simulator.jobs.rwkv_token import (
    CATEGORIES,
    SUMMARY_KEYS,
    JobConfig,
    map_block,
    rwkv_token,
    simulate_trace,
)
from simulator.results import RwkvTokenResult
from workloads.opcounts import site_ops
from workloads.rwkv_inputs import load_traces
from workloads.rwkv_synthetic import synthetic_rwkv_trace
from workloads.rwkv_trace import rwkv_site_specs
from workloads.trace import SiteEvents, Trace, TraceMeta

CHIPS = ("seneca", "spinnaker2")
pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny():
    """Dense and sparse traces of 3 tokens of the shipped tiny model (block 1)."""
    return load_traces("tiny", tokens=3)


@pytest.fixture(scope="module", params=CHIPS)
def typed(request, tiny):
    """The job's typed result on each chip."""
    return rwkv_token(*tiny, load_chip(request.param))


@pytest.fixture(scope="module")
def result(typed):
    """The same result in the shape of its JSON (``result.json``)."""
    return typed.model_dump()


def _delivered(run):
    """(packets expected, packets delivered) over every network of the run's system."""
    nets = run.system.networks
    return sum(n.expected for n in nets), sum(n.delivered for n in nets)


def test_result_has_the_documented_keys(typed, result):
    assert isinstance(typed, RwkvTokenResult)
    assert RwkvTokenResult.model_validate_json(typed.model_dump_json()) == typed
    for mode in ("dense", "sparse"):
        for sub in SUMMARY_KEYS:
            for cat in (*CATEGORIES, "total"):
                assert set(result[mode][sub][cat]) == {"energy_j", "latency_s", "cycles"}
    assert set(result["ratios"]) == set(SUMMARY_KEYS)
    row = result["breakdown"][0]
    assert {"sub_block", "site", "component", "operation", "category", "count", "energy_j",
            "cycles"} <= set(row)
    prov = result["provenance"]
    assert prov["trace_kind"] == "real" and prov["chip_file"].startswith("calibration/")
    assert prov["chip"] == typed.provenance.chip and prov["chip_overrides"] == []
    shipped = load_chip(prov["chip"])
    assert prov["chip_file"] == shipped.file
    assert prov["chip_sha256"] == hashlib.sha256(shipped.spec.default_file.read_bytes()
                                                 ).hexdigest()
    assert prov["cost_sources"] and prov["tokens"] == 3
    assert prov["clock_hz"] == shipped.cost().clock_hz


def test_breakdown_sums_to_totals(result):
    for mode in ("dense", "sparse"):
        rows = [r for r in result["breakdown"] if r["mode"] == mode]
        for sub in ("time_mix", "channel_mix"):
            for cat in CATEGORIES:
                got = sum(r["energy_j"] for r in rows
                          if r["sub_block"] == sub and r["category"] == cat)
                assert got == pytest.approx(result[mode][sub][cat]["energy_j"], rel=1e-12)
        total = result[mode]["block"]["total"]
        assert sum(r["energy_j"] for r in rows) == pytest.approx(total["energy_j"], rel=1e-12)
        parts = sum(result[mode]["block"][c]["latency_s"] for c in CATEGORIES)
        assert parts == pytest.approx(total["latency_s"], rel=1e-9)
        assert total["latency_s"] == pytest.approx(
            sum(result[mode][s]["total"]["latency_s"] for s in ("time_mix", "channel_mix")))


def test_sparse_costs_no_more_than_dense(result):
    for sub in SUMMARY_KEYS:
        dyn = {m: sum(result[m][sub][c]["energy_j"] for c in CATEGORIES if c != "static")
               for m in ("dense", "sparse")}
        assert dyn["sparse"] <= dyn["dense"]
        assert result["sparse"][sub]["total"]["energy_j"] <= result["dense"][sub]["total"][
            "energy_j"]
        # sane: sparsity helps, but cannot beat skipping every input of the tiny model
        assert 1.0 <= result["ratios"][sub]["energy"] < 10.0
        assert 1.0 <= result["ratios"][sub]["latency"] < 10.0


def test_every_multiply_of_the_trace_is_charged_once(tiny):
    """The MACs the tile cores charge equal the trace's effective MACs (NeuroBench count)."""
    dense, _ = tiny
    run, bmap = simulate_trace(dense, load_chip("spinnaker2"), sparse=False)
    expected, made = _delivered(run)
    assert expected == made > 0
    macs = run.ledger.by("site", "operation", value="count")
    for suffix in SITE_SUFFIXES:
        ops = site_ops(dense, f"blocks.1.{suffix}")
        assert macs[(suffix, "fp_mac")] == pytest.approx(
            ops.effective_macs * run.report["tokens"])


def test_layers_are_tiled_within_a_core(tiny):
    dense, _ = tiny
    cost = load_chip("spinnaker2").cost()
    for strategy in ("rows", "columns"):
        bmap = map_block([s for s in dense.sites], cost, JobConfig(strategy=strategy))
        for sm in bmap.sites.values():
            cells = sum(sm.rows(go) * sm.cols(gi) for gi in range(sm.in_splits)
                        for go in range(sm.out_splits))
            assert cells == sm.size * sm.out
            biggest = max(sm.rows(go) for go in range(sm.out_splits)) * max(
                sm.cols(gi) for gi in range(sm.in_splits))
            assert cost.weight_bytes(biggest) <= cost.weight_capacity_bytes()


@pytest.mark.parametrize("chip", CHIPS)
def test_partial_sums_and_sliced_control_give_the_same_work(tiny, chip):
    """Column tiling (partial sums combined) and control split over several cores (layer norm
    all-reduce) run to completion and do the same multiplications as the default. SENECA's
    cores hold a whole tiny-model layer, so it gets a 169M-size block instead."""
    _, sparse = tiny
    if chip == "seneca":
        sparse = synthetic_rwkv_trace("169M", "published-3b-sparse", n_tokens=1)
    setup = load_chip(chip)
    base, _ = simulate_trace(sparse, setup, sparse=True)
    cols, bmap = simulate_trace(sparse, setup, sparse=True, job=JobConfig(strategy="columns"))
    assert max(m.in_splits for m in bmap.sites.values()) > 1
    sliced, smap = simulate_trace(sparse, setup, sparse=True, job=JobConfig(state_bytes=64))
    assert smap.slices > 1
    for run in (cols, sliced):
        expected, made = _delivered(run)
        assert expected == made
        for suffix in SITE_SUFFIXES:
            assert _multiplies(run, suffix) == pytest.approx(_multiplies(base, suffix))
            assert _multiplies(run, suffix) > 0


def _multiplies(run, suffix):
    """Arithmetic instructions of the processor lanes charged for one layer's weights (the
    partial-sum additions are tagged apart, as ``<site>.partial_sums``)."""
    return sum(r["count"] for r in run.ledger.rows()
               if r.get("site") == suffix and r["operation"] in ("fp_mac", "fp_arith")
               and r["component"].endswith((".cpu", ".npe")))


def test_same_inputs_give_identical_results(tiny):
    a = rwkv_token(*tiny, load_chip("seneca"))
    b = rwkv_token(*tiny, load_chip("seneca"))
    assert a.model_dump_json() == b.model_dump_json()


def test_synthetic_block_at_real_size_is_labelled():
    dense = synthetic_rwkv_trace("169M", "published-3b-dense", n_tokens=1)
    sparse = synthetic_rwkv_trace("169M", "published-3b-sparse", n_tokens=1)
    r = rwkv_token(dense, sparse, load_chip("seneca"))
    assert r.provenance.trace_kind == "synthetic"
    assert r.provenance.profile == "published-3b-sparse"
    assert r.ratios["block"].energy > 1.0
    assert r.mapping.cores > 14


def test_cli_writes_result_and_breakdown(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["rwkv-token", "--model", "tiny", "--tokens", "2", "--chip", "spinnaker2",
                 "--out", str(out), "--timeline", str(tmp_path / "t.json")]) == 0
    text = capsys.readouterr().out
    assert "time_mix" in text and "dense/sparse" in text
    result = json.loads((out / "result.json").read_text())
    with (out / "breakdown.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(result["breakdown"])
    assert np.isclose(sum(float(r["energy_j"]) for r in rows if r["mode"] == "sparse"),
                      result["sparse"]["block"]["total"]["energy_j"])
    timeline = json.loads((tmp_path / "t.json").read_text())
    assert any(e["ph"] == "X" for e in timeline["traceEvents"])


def test_cli_json_and_trace_files(tmp_path, capsys, tiny):
    dense, sparse = tiny
    sparse.save(tmp_path / "s.npz")
    dense.save(tmp_path / "d.npz")
    assert main(["rwkv-token", "--trace", str(tmp_path / "s.npz"), "--dense-trace",
                 str(tmp_path / "d.npz"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["provenance"]["tokens"] == 3


def test_cli_names_a_bad_trace_file(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a trace")
    assert main(["rwkv-token", "--trace", str(bad)]) == 2
    assert "bad.npz" in capsys.readouterr().err


def test_cli_rejects_a_model_that_is_not_there(capsys):
    assert main(["rwkv-token", "--model", "/nonexistent.pth"]) == 2
    assert "nonexistent.pth" in capsys.readouterr().err


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), keep=st.lists(st.floats(0.0, 1.0), min_size=7, max_size=7),
       chip=st.sampled_from(CHIPS))
def test_random_blocks_keep_the_invariants(seed, keep, chip):
    """Any block: the ledger adds up, every delivery is made, the MACs are the trace's, and a
    sparse trace whose events are a subset of the dense one costs no more in any layer."""
    specs = rwkv_site_specs(RWKVConfig(n_layer=1, n_embd=24, vocab_size=10), [0])
    rng = np.random.default_rng(seed)
    dense = {s.name: rng.standard_normal((2, s.size)) for s in specs}
    sparse = {n: x * (rng.random(x.shape) < k) for (n, x), k in zip(dense.items(), keep,
                                                                      strict=True)}

    def trace(arrays):
        meta = TraceMeta(kind="rwkv", synthetic=True, profile="random", model="random",
                         n_steps=2, sites=specs, extra={"blocks": [0]})
        return Trace(meta, {n: SiteEvents.from_dense(a) for n, a in arrays.items()})

    result = rwkv_token(trace(dense), trace(sparse), load_chip(chip)).model_dump()
    per_site = {m: {} for m in ("dense", "sparse")}
    for r in result["breakdown"]:
        if r["category"] != "static":
            per_site[r["mode"]][r["site"]] = per_site[r["mode"]].get(r["site"], 0) + r["energy_j"]
    for suffix in SITE_SUFFIXES:
        assert per_site["sparse"].get(suffix, 0) <= per_site["dense"][suffix] * (1 + 1e-12)
    for mode in ("dense", "sparse"):
        total = sum(r["energy_j"] for r in result["breakdown"] if r["mode"] == mode)
        assert total == pytest.approx(result[mode]["block"]["total"]["energy_j"], rel=1e-12)
    run, _ = simulate_trace(trace(sparse), load_chip(chip), sparse=True)
    expected, made = _delivered(run)
    assert expected == made
    lanes = run.ledger.by("site", "operation", value="count")
    for suffix in SITE_SUFFIXES:
        ops = site_ops(trace(sparse), f"blocks.0.{suffix}")
        macs = ops.effective_macs * run.report["tokens"]
        # SpiNNaker2: one FP MAC per weight; SENECA: MUL + ADD per weight, over the NPE lanes
        got = (lanes.get((suffix, "fp_mac"), 0) if chip == "spinnaker2"
               else sum(r["count"] for r in run.ledger.rows() if r.get("site") == suffix
                        and r["operation"] == "fp_arith" and r["component"].endswith(".npe")) / 2)
        assert got == pytest.approx(macs)


def test_cli_timeline_is_bounded(tmp_path):
    path = tmp_path / "t.json"
    assert main(["rwkv-token", "--model", "tiny", "--tokens", "1", "--timeline", str(path),
                 "--timeline-window", "1000:5000"]) == 0
    spans = [e for e in json.loads(path.read_text())["traceEvents"] if e["ph"] == "X"]
    assert spans and all(e["args"]["end_cycle"] >= 1000 and e["args"]["start_cycle"] <= 5000
                         for e in spans)
    assert main(["rwkv-token", "--model", "tiny", "--tokens", "1", "--timeline", str(path),
                 "--timeline-max-spans", "7"]) == 0
    trace = json.loads(path.read_text())
    assert sum(e["ph"] == "X" for e in trace["traceEvents"]) == 7
    assert trace["otherData"]["dropped_spans"] > 0


def test_cli_runs_a_user_checkpoint(tmp_path, capsys):
    """A user's official-layout .pth with its thresholds file and tokenizer (here: a copy of
    the shipped tiny model); it must name what it lacks when those are missing."""
    pth = tmp_path / "my-rwkv.pth"
    pth.write_bytes(artifact_path(TINY_CHECKPOINT).read_bytes())
    assert main(["rwkv-token", "--model", str(pth), "--tokens", "2"]) == 2
    assert "--thresholds" in capsys.readouterr().err
    assert main(["rwkv-token", "--model", str(pth), "--thresholds",
                 str(artifact_path(TINY_THRESHOLDS)), "--tokenizer", "char", "--tokens", "2",
                 "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["provenance"]["trace_kind"] == "real"
    assert "my-rwkv.pth" in result["provenance"]["model"]
    assert result["ratios"]["block"]["energy"] > 1.0


# -- the chip on the command line: --chip PATH.yaml, --set, errors ------------------------------
SMALL = ["rwkv-token", "--model", "169M", "--tokens", "1", "--json"]  # synthetic: fast
SLOW_NOC = 100_000_000  # Hz; SENECA's NoC runs at the 500 MHz core clock


def _run_json(capsys, *extra: str) -> dict:
    assert main([*SMALL, *extra]) == 0
    return json.loads(capsys.readouterr().out)


def _dynamic(result: dict, mode: str) -> dict[str, float]:
    return {c: result[mode]["block"][c]["energy_j"] for c in CATEGORIES if c != "static"}


def _noc(result: dict, mode: str, key: str) -> float:
    return sum(r[key] for r in result["breakdown"]
               if r["mode"] == mode and r["component"] == "noc" and r["operation"] == "hop")


def _assert_slower_noc(slow: dict, base: dict) -> None:
    """A NoC at a fifth of the core clock moves the same packets over the same hops: every
    dynamic energy is unchanged (hop energy is per bit) and each hop's router and link
    cycles, counted in core cycles, are five times as many. (The block's latency need not
    grow: arrivals reorder on the control cores, so it is not compared.)"""
    ratio = _shipped_noc_clock() / SLOW_NOC
    assert ratio == 5
    for mode in ("dense", "sparse"):
        assert _dynamic(slow, mode) == pytest.approx(_dynamic(base, mode), rel=1e-12)
        assert _noc(slow, mode, "count") == _noc(base, mode, "count") > 0
        assert _noc(slow, mode, "energy_j") == pytest.approx(_noc(base, mode, "energy_j"))
        assert _noc(slow, mode, "cycles") == pytest.approx(ratio * _noc(base, mode, "cycles"),
                                                           rel=1e-12)
    assert _numbers(slow) != _numbers(base)


def _shipped_noc_clock() -> float:
    """SENECA's shipped NoC clock (the core clock)."""
    return load_chip("seneca").config.noc.clock.value


def _numbers(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "provenance"}


@pytest.fixture(scope="module")
def shipped_small(tmp_path_factory):
    """The small synthetic run on the shipped SENECA description."""
    out = tmp_path_factory.mktemp("shipped")
    assert main([*SMALL[:-1], "--out", str(out)]) == 0
    return json.loads((out / "result.json").read_text())


def test_cli_reads_a_chip_description_file(tmp_path, capsys, shipped_small):
    shipped = load_chip("seneca").spec.default_file
    copy = tmp_path / "same.yaml"
    copy.write_bytes(shipped.read_bytes())
    same = _run_json(capsys, "--chip", str(copy))
    prov = same["provenance"]
    assert prov["chip"] == "seneca" and prov["chip_file"] == str(copy)
    assert prov["chip_sha256"] == hashlib.sha256(copy.read_bytes()).hexdigest()
    assert prov["chip_sha256"] == shipped_small["provenance"]["chip_sha256"]
    assert _numbers(same) == _numbers(shipped_small)  # same bytes, same numbers

    raw = yaml.safe_load(shipped.read_text())
    assert raw["noc"]["clock"]["value"] != SLOW_NOC
    raw["noc"]["clock"]["value"] = SLOW_NOC
    path = tmp_path / "slow-noc.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    slow = _run_json(capsys, "--chip", str(path))
    prov = slow["provenance"]
    assert prov["chip"] == "seneca" and prov["chip_file"] == str(path)
    assert prov["chip_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert prov["chip_sha256"] != shipped_small["provenance"]["chip_sha256"]
    assert prov["chip_overrides"] == []
    assert prov["clock_hz"] == shipped_small["provenance"]["clock_hz"]  # the core clock
    _assert_slower_noc(slow, shipped_small)


def test_cli_set_changes_the_chip_and_is_recorded(tmp_path, capsys, shipped_small):
    item = f"noc.clock={SLOW_NOC}"
    slow = _run_json(capsys, "--set", item)
    prov = slow["provenance"]
    assert prov["chip_overrides"] == [item]
    assert any(item in s for s in prov["cost_sources"])
    assert "noc.clock" in shipped_small["provenance"]["assumed_parameters"]
    assert "noc.clock" not in prov["assumed_parameters"]
    # the overrides are recorded next to the unchanged file they apply to
    assert prov["chip_file"] == shipped_small["provenance"]["chip_file"]
    assert prov["chip_sha256"] == shipped_small["provenance"]["chip_sha256"]
    _assert_slower_noc(slow, shipped_small)
    # the same change made in a file gives the same numbers
    raw = yaml.safe_load(load_chip("seneca").spec.default_file.read_text())
    raw["noc"]["clock"]["value"] = SLOW_NOC
    path = tmp_path / "slow-noc.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert _numbers(_run_json(capsys, "--chip", str(path))) == _numbers(slow)


@pytest.mark.parametrize(("item", "field"), [
    ("nosuch.field=1", "'nosuch'"),
    ("noc.nosuch=1", "'noc.nosuch'"),
    ("noc.clock=fast", "noc.clock"),
])
def test_cli_rejects_a_bad_set(capsys, item, field):
    assert main([*SMALL, "--set", item]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("nmsim rwkv-token: error:")
    assert field in captured.err


def test_cli_rejects_a_chip_file_of_unknown_kind(tmp_path, capsys):
    raw = yaml.safe_load(load_chip("seneca").spec.default_file.read_text())
    raw["kind"] = "nosuchchip"
    path = tmp_path / "mystery.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    assert main([*SMALL, "--chip", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "'kind'" in err and "nosuchchip" in err
    missing = tmp_path / "missing.yaml"
    assert main([*SMALL, "--chip", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_breakdown_csv_and_sweep_parquet_say_what_was_simulated(tmp_path, capsys):
    import pyarrow.parquet as pq

    out = tmp_path / "run"
    assert main(["rwkv-token", "--model", "tiny", "--tokens", "1", "--out", str(out)]) == 0
    with (out / "breakdown.csv").open() as f:
        rows = list(csv.DictReader(f))
    prov = json.loads((out / "result.json").read_text())["provenance"]
    assert {r["chip"] for r in rows} == {prov["chip"]} and rows[0]["block"] == str(prov["block"])
    assert rows[0]["nmsim_version"] and rows[0]["sparse_trace"] == prov["sparse_trace"]
    sweep = tmp_path / "sweep"
    assert main(["egru-sweep", "--pes", "12", "--model", "tiny", "--steps", "2", "--workers",
                 "0", "--out", str(sweep)]) == 0
    meta = pq.read_schema(sweep / "sweep.parquet").metadata
    assert meta[b"nmsim_version"] and meta[b"rows"] == b"2"  # both strategies
    capsys.readouterr()
