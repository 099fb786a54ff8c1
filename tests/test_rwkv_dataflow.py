"""The dataflow mapping of the RWKV block (the default): element-wise work where the values
are, every non-zero delivered once to every tile that needs it, the same multiplications as
the gather mappings."""

from __future__ import annotations

import numpy as np
import pytest

from models.rwkv_sites import SITE_SUFFIXES
from simulator.chips.registry import load_chip
from simulator.jobs.rwkv_token import JobConfig, map_block, rwkv_token, simulate_trace
from workloads.rwkv_inputs import load_traces
from workloads.rwkv_synthetic import synthetic_rwkv_trace

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def block169m():
    """One token of a 169M-size block (C 768): several tiles per layer on both chips."""
    return (synthetic_rwkv_trace("169M", "published-3b-dense", n_tokens=1, seed=3),
            synthetic_rwkv_trace("169M", "published-3b-sparse", n_tokens=1, seed=3))


def _macs_per_core(run) -> dict[str, float]:
    """FP MACs charged per core (SpiNNaker2: one per weight of a multiplied column)."""
    out: dict[str, float] = {}
    for r in run.ledger.rows():
        if r["operation"] == "fp_mac":
            core = r["component"].split(".")[0]
            out[core] = out.get(core, 0.0) + r["count"]
    return out


@pytest.mark.parametrize("mode", ["dense", "sparse"])
def test_every_nonzero_reaches_every_tile_of_its_layer_once(block169m, mode):
    trace = block169m[mode == "sparse"]
    run, bmap = simulate_trace(trace, load_chip("spinnaker2"), sparse=mode == "sparse",
                               record=True)
    assert bmap.dataflow and bmap.slices > 1
    for net in run.system.networks:
        assert net.deliveries and set(net.deliveries.values()) == {1}
    block, macs = run.workload.block, _macs_per_core(run)
    for sm in bmap.sites.values():
        idx, _ = trace.events[f"blocks.{block}.{sm.site}"].step(0)
        for gi in range(sm.in_splits):
            lo, hi = sm.in_edges[gi], sm.in_edges[gi + 1]
            want = int(((idx >= lo) & (idx < hi)).sum())
            for go in range(sm.out_splits):
                got = macs.get(run.system.cores[sm.core(gi, go)].name, 0.0) / sm.rows(go)
                assert got == pytest.approx(want), (sm.site, gi, go)


@pytest.mark.parametrize("chip", ["seneca", "spinnaker2"])
def test_dense_dataflow_does_the_gather_mappings_multiplications(block169m, chip):
    dense = block169m[0]
    flow, _ = simulate_trace(dense, load_chip(chip), sparse=False)
    gather, gmap = simulate_trace(dense, load_chip(chip), sparse=False,
                                  job=JobConfig(strategy="rows"))
    assert not gmap.dataflow
    for suffix in SITE_SUFFIXES:
        a, b = (sum(r["count"] for r in run.ledger.rows() if r.get("site") == suffix
                    and r["operation"] in ("fp_mac", "fp_arith")
                    and r["component"].endswith((".cpu", ".npe"))) for run in (flow, gather))
        assert a == pytest.approx(b) and a > 0


def test_elementwise_stages_run_where_their_inputs_are(block169m):
    """Sigmoids of the receptances on their tiles, squared ReLU and its threshold on the
    ffn.key tiles, WKV and the residuals on the channel owners."""
    run, bmap = simulate_trace(block169m[1], load_chip("seneca"), sparse=True)
    roles = {}
    for r in run.rows():
        if r["site"].startswith("ew.") and r["energy_pj"] and r["category"] != "static":
            roles.setdefault(r["site"], set()).add(r["component"].split(".")[0]
                                                   if "tiles" not in r["component"]
                                                   else r["component"].rsplit(".", 1)[0])
    assert roles["ew.squared_relu"] == {"ffn.key.tiles"}
    assert roles["ew.sigmoid"] == {"att.receptance.tiles", "ffn.receptance.tiles"}
    assert roles["ew.wkv"] == {"channel_owner"}
    assert roles["ew.residual"] == {"channel_owner"}
    assert "ffn.key.tiles" in roles["ew.threshold"]


def test_owners_sit_beside_the_tiles_of_their_channels(block169m):
    """A channel's k, v and r are made on tiles placed right after its owner."""
    bmap = map_block(block169m[0].sites, load_chip("seneca").cost())
    for j, owner in enumerate(bmap.control["time_mix"]):
        lo, hi = bmap.c_edges[j], bmap.c_edges[j + 1]
        for site in ("att.key", "att.value", "att.receptance"):
            sm = bmap.sites[site]
            tiles = [sm.core(0, go) for go in range(sm.out_splits)
                     if sm.out_edges[go] < hi and sm.out_edges[go + 1] > lo]
            assert tiles and max(tiles) - owner < 16


def test_dataflow_is_faster_than_gathering_every_output():
    """The point of the mapping: the control cores no longer serialise every output."""
    _, sparse = load_traces("tiny", tokens=2)
    chip = load_chip("spinnaker2")
    flow, _ = simulate_trace(sparse, chip, sparse=True)
    gather, _ = simulate_trace(sparse, chip, sparse=True, job=JobConfig(strategy="rows"))
    for sub in ("time_mix", "channel_mix"):
        assert flow.report["phase_cycles"][sub] < gather.report["phase_cycles"][sub]
    assert np.isfinite(flow.cycles)


@pytest.mark.parametrize("strategy", ["dataflow", "rows"])
def test_critical_path_explains_each_sub_block_latency(block169m, strategy):
    """The chain of each sub-block spans its simulated latency, and its split by category and
    by component adds up to it."""
    result = rwkv_token(*block169m, load_chip("seneca"), job=JobConfig(strategy=strategy))
    for mode in ("dense", "sparse"):
        for sub, cp in result.critical_path[mode].items():
            latency = getattr(result, mode)[sub]["total"].latency_s
            assert cp.latency_s == pytest.approx(latency, rel=1e-9)
            assert sum(cp.by_category.values()) == pytest.approx(latency, rel=1e-9)
            assert sum(cp.by_component.values()) == pytest.approx(latency, rel=1e-9)
            assert cp.steps >= 3
            assert "noc" in cp.by_component
    chain = [s for s in result.critical_chain if s.sub_block == "time_mix"]
    assert chain[0].start_s == 0
    for a, b in zip(chain, chain[1:], strict=False):
        assert a.end_s == pytest.approx(b.start_s)  # contiguous


def test_parallel_runs_give_the_same_result(block169m):
    chip = load_chip("seneca")
    one = rwkv_token(*block169m, chip)
    two = rwkv_token(*block169m, chip, workers=2)
    assert one.model_dump_json() == two.model_dump_json()
