"""The OPT decoder layer on the chips: MACs, KV-cache bytes, streaming, the job and the sweep."""

from __future__ import annotations

import json

import pytest

from models.opt_config import OPT_125M, SITE_SUFFIXES
from simulator.chips.registry import load_chip
from simulator.cli import main
from simulator.jobs.context_sweep import ContextPoint, broadcast, points, run_point, run_sweep
from simulator.jobs.opt_token import opt_token, simulate_trace
from simulator.mappings.opt_layer import OptMapConfig, map_opt_layer
from workloads.opcounts import site_ops
from workloads.opt_inputs import load_traces
from workloads.opt_synthetic import synthetic_opt_trace

D = OPT_125M.d_model


@pytest.fixture(scope="module")
def traces():
    return load_traces(model="125M", tokens=1)


def _macs(run, site: str, chip: str) -> float:
    """MACs charged to ``site``: SpiNNaker2 counts one fp_mac per weight; SENECA a MUL and
    an ADD per weight on the NPE lanes."""
    rows = [r for r in run.ledger.rows() if r.get("site") == site]
    if chip == "spinnaker2":
        return sum(r["count"] for r in rows if r["operation"] == "fp_mac")
    return sum(r["count"] for r in rows if r["operation"] == "fp_arith"
               and r["component"].endswith(".npe")) / 2


@pytest.mark.parametrize("chip", ["seneca", "spinnaker2"])
def test_every_multiply_is_charged_once(traces, chip):
    """Each linear layer's MACs are the trace's non-zeros x fan-out; attention's scores and
    weighted sum are context x d_model each."""
    _, sparse = traces
    context = 40
    run, lmap = simulate_trace(sparse, load_chip(chip), sparse=True, context=context)
    for suffix in SITE_SUFFIXES:
        ops = site_ops(sparse, f"layers.0.{suffix}")
        assert _macs(run, suffix, chip) == pytest.approx(ops.effective_macs)
    for what in ("scores", "values"):
        assert _macs(run, f"attention.{what}", chip) == pytest.approx(context * D)
    assert not lmap.attention.streamed


def test_kv_cache_bytes_by_hand():
    """L = 100 tokens of OPT-125M on SENECA (BF16): 2 x 100 x 768 x 2 B = 307,200 B, split
    over the heads' attention cores and held in their data memory."""
    cost = load_chip("seneca").cost()
    lmap = map_opt_layer(synthetic_opt_trace("125M").sites, 0, OPT_125M.n_head, 100, cost)
    assert lmap.mapping.summary["attention"]["kv_cache_bytes"] == 2 * 100 * 768 * 2 == 307_200
    held = sum(p.regions.get("kv_cache", 0) for p in lmap.mapping.placements)
    assert held == 307_200
    assert OPT_125M.kv_cache_bytes(100, 2) == 307_200


def test_streamed_cache_moves_every_byte_once_per_token(traces):
    """With the cache off-chip, each token's DMA brings all of it in and writes the new k and
    v back: 2 x L x d x 4 B in and 2 x d x 4 B out on SpiNNaker2 (FP32), each byte charged
    the DMA's and the LPDDR4's energy once."""
    dense, _ = traces
    context = 96
    chip = load_chip("spinnaker2")
    job = OptMapConfig(kv_placement="dram", kv_cores_per_head=2, kv_chunk_bytes=2048)
    run, lmap = simulate_trace(dense, chip, sparse=False, context=context, job=job)
    assert lmap.attention.streamed and lmap.attention.per_head == 2
    moved = 2 * context * D * 4 + 2 * D * 4
    cfg = chip.cost().config
    for suffix, per_byte in ((".dma", cfg.dma.energy_per_byte.value),
                             (".lpddr4", cfg.dram.energy_per_byte.value)):
        pj = sum(r["energy_pj"] for r in run.ledger.rows()
                 if r.get("site") == "attention.cache" and r["component"].endswith(suffix))
        assert pj == pytest.approx(moved * per_byte)
    # one core per head: streaming the cache takes longer than holding it
    held, held_map = simulate_trace(dense, chip, sparse=False, context=context)
    one, _ = simulate_trace(dense, chip, sparse=False, context=context,
                            job=job.model_copy(update={"kv_cores_per_head": 1}))
    assert held_map.attention.per_head == 1 and not held_map.attention.streamed
    assert one.report["phase_cycles"]["attention"] > held.report["phase_cycles"]["attention"]


def test_attention_grows_with_context_and_the_mlp_does_not(traces):
    dense, sparse = traces
    chip = load_chip("seneca")
    short, long = (opt_token(dense, sparse, chip, context=L) for L in (8, 256))
    for mode in ("dense", "sparse"):
        a, b = getattr(short, mode), getattr(long, mode)
        assert b["attention"]["total"].energy_j > a["attention"]["total"].energy_j
        assert b["attention"]["total"].latency_s > a["attention"]["total"].latency_s
        for c in ("computation", "memory", "communication", "control"):
            assert b["mlp"][c].energy_j == pytest.approx(a["mlp"][c].energy_j, rel=1e-12)
    for result in (short, long):
        for mode in ("dense", "sparse"):
            total = sum(r.energy_j for r in result.breakdown if r.mode == mode)
            assert total == pytest.approx(getattr(result, mode)["block"]["total"].energy_j,
                                          rel=1e-12)
        assert result.sparse["block"]["total"].energy_j < result.dense["block"]["total"].energy_j


def test_same_inputs_same_result(traces):
    dense, sparse = traces
    chip = load_chip("seneca")
    a, b = (opt_token(dense, sparse, chip, context=32).model_dump_json() for _ in range(2))
    assert a == b


def test_cli_writes_the_result(tmp_path, capsys):
    out = tmp_path / "opt"
    assert main(["opt-token", "--model", "125M", "--context", "64", "--tokens", "1",
                 "--workers", "1", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "OPT decoder layer 0, one token at context 64" in text and "attention" in text
    result = json.loads((out / "result.json").read_text())
    assert result["provenance"]["context"] == 64
    assert result["mapping"]["attention"]["kv_cache_bytes"] == 2 * 64 * D * 2
    header = (out / "breakdown.csv").read_text().splitlines()[0]
    assert header.endswith("layer,context,tokens,seed,nmsim_version")


@pytest.mark.parametrize("argv, words", [
    (["--context", "0"], "--context"),
    (["--model", "125M", "--kv-placement", "dram", "--kv-chunk-bytes", "100"],
     "--kv-chunk-bytes"),
    (["--model", "7B"], "--model"),
    (["--kv-cores-per-head", "0"], "--kv-cores-per-head"),
    (["--profile", "published-2.7b-base"], "--profile"),
])
def test_cli_bad_input(argv, words, capsys):
    """A one-line error naming the argument, status 2, before any simulation."""
    try:
        code = main(["opt-token", *argv])
    except SystemExit as e:  # argparse's own checks
        code = e.code
    assert code == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err


def test_context_sweep_rows(tmp_path):
    """The RWKV block is one point per mode, repeated at every L; OPT points grow with L."""
    rows = [run_point(p) for p in (ContextPoint("opt", "dense", 4, opt_size="125M"),
                                   ContextPoint("opt", "dense", 128, opt_size="125M"),
                                   ContextPoint("rwkv", "dense", None, rwkv_size="169M"))]
    tidy = broadcast(rows)
    assert [(r["model"], r["context"]) for r in tidy] == [
        ("opt", 4), ("opt", 128), ("rwkv", 4), ("rwkv", 128)]
    assert tidy[1]["energy_j"] > tidy[0]["energy_j"]
    assert tidy[2]["energy_j"] == tidy[3]["energy_j"]
    for r in rows:
        parts = sum(r[f"{c}_j"] for c in ("computation", "memory", "communication", "control",
                                           "static"))
        assert parts == pytest.approx(r["energy_j"], rel=1e-12)
    out = tmp_path / "cs"
    assert main(["context-sweep", "--contexts", "2,32", "--opt-model", "125M", "--rwkv-model",
                 "169M", "--workers", "0", "--out", str(out)]) == 0
    assert (out / "context.png").stat().st_size > 0 and (out / "sweep.parquet").exists()
    assert len(json.loads((out / "sweep.json").read_text())) == 6
    again = run_sweep(points([2, 32], opt_size="125M", rwkv_size="169M"), out, workers=0,
                      progress=False)  # a rerun finds every point done
    assert again.computed == [] and len(again.skipped) == 6


def test_validation_of_the_published_profile():
    """Every site's sparsity as the chip skips it equals the published one; the paper's
    overall figures stay above the MAC-weighted ones (the gap is reported, not closed)."""
    from simulator.validation.knunyants2025_opt import validate_opt

    result = validate_opt()
    assert result.sites_agree and len(result.sites) == 4 * len(result.profiles) == 16
    for p in result.profiles:
        assert p.published_overall > p.simulated_mac_weighted
        assert p.energy_j <= p.dense_energy_j
    assert "consistent" in result.verdict


def test_a_streamed_cache_needs_an_off_chip_memory(capsys):
    """The analytic chip models none: refused before any simulation, naming the way out."""
    code = main(["opt-token", "--chip", "analytic", "--model", "125M", "--context", "64",
                 "--kv-placement", "dram"])
    err = capsys.readouterr().err
    assert code == 2 and "--kv-placement cores" in err and "Traceback" not in err
    assert "run/s" not in err  # no progress bar: nothing had started


@pytest.mark.parametrize("argv, words", [
    (["--contexts", "0"], "--contexts"),
    (["--contexts", "1,,2"], "--contexts"),
    (["--opt-model", "7B"], "--opt-model"),
    (["--kv-cores-per-head", "0"], "--kv-cores-per-head"),
])
def test_context_sweep_bad_input(argv, words, capsys):
    with pytest.raises(SystemExit) as e:
        main(["context-sweep", *argv])
    assert e.value.code == 2 and words in capsys.readouterr().err


def test_tiny_opt_on_the_chip(tmp_path):
    """Real decoding traces of the shipped tiny OPT (layer 1), dense and thresholded: the
    sparse run charges fewer MACs; its prompt is capped at the model's 512 positions while
    the chip's cache is the job's context."""
    dense, sparse = load_traces(model="tiny", tokens=2, context=1024)
    assert not sparse.meta.synthetic and sparse.meta.extra["context"] == 510
    assert sparse.meta.extra["layers"] == [1]
    result = opt_token(dense, sparse, load_chip("seneca"), context=1024)
    assert result.provenance.trace_kind == "real" and result.provenance.layer == 1
    assert result.mapping.attention.kv_cache_bytes == 2 * 1024 * 128 * 2
    assert result.sparse["block"]["total"].energy_j < result.dense["block"]["total"].energy_j
