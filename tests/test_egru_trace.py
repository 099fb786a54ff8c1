"""EGRU traces: real inference of the tiny model recorded exactly and consistently, file round
trip, synthetic traces with exact counts, NeuroBench-style op counts and the product rule,
the sweep's trace loading, and `nmsim trace egru`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from models.egru import TINY_METRICS, artifact_path, encode_chars, load_tiny_egru
from models.text import load_corpus, split_corpus
from simulator.cli import main
from simulator.jobs.egru_sweep import PointSpec, load_trace, run_point
from simulator.programs.egru import layer_outputs
from workloads.egru_partition import layers_from_trace, split_cores
from workloads.egru_trace import (
    PAPER_SIZES,
    egru_ops,
    egru_trace_from_model,
    layer_activity,
    measured_activity,
    real_egru_trace,
    resolve_activity,
    synthetic_egru_trace,
)
from workloads.opcounts import product_rule, site_ops
from workloads.trace import Trace

SMALL = (16, 40, 30, 16)


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_trace() -> Trace:
    return real_egru_trace(None, 48)


def test_real_trace_records_exactly_what_the_model_computes(tiny_trace):
    """Step-by-step recording equals a whole-sequence forward pass of the same model (in
    float64, so that summation order cannot move a unit across its threshold)."""
    model, vocab, _ = load_tiny_egru()
    tokens = encode_chars(split_corpus(load_corpus())[1][:48], vocab)
    assert tiny_trace.meta.extra["token_ids"] == tokens.tolist()
    model = model.double()
    tr = egru_trace_from_model(model, tokens)
    with torch.no_grad():
        out = model(tokens[None])
    dense = {"layer0.W": out.embedded[0], "layer2.y": out.ys[2][0]}
    for i in range(3):
        dense[f"layer{i}.R"] = torch.cat([torch.zeros_like(out.ys[i][0, :1]), out.ys[i][0, :-1]])
        if i + 1 < 3:
            dense[f"layer{i + 1}.W"] = out.ys[i][0]
    for name, x in dense.items():
        x = x.numpy()
        for t in range(48):
            idx, val = tr.events[name].step(t)
            assert np.array_equal(idx, np.flatnonzero(x[t])), (name, t)
            np.testing.assert_array_equal(val, x[t][idx].astype(np.float32), err_msg=name)
    assert tr.events["layer0.W"].counts().tolist() == [64] * 48  # the embedding is dense
    for k, w in model.weight_matrices().items():
        assert np.array_equal(tr.matrices[k].toarray(), w.detach().float().numpy()), k
    m = tr.meta
    assert (m.kind, m.synthetic, m.n_steps) == ("egru", False, 48)
    assert m.extra["token_ids"] == tokens.tolist()
    assert m.extra["layers"] == [{"input_size": 64, "hidden": 128},
                                 {"input_size": 128, "hidden": 128},
                                 {"input_size": 128, "hidden": 64}]
    spec = {s.name: s for s in m.sites}
    assert (spec["layer1.W"].size, spec["layer1.W"].out_features) == (128, 384)
    assert (spec["layer2.R"].size, spec["layer2.R"].matrix) == (64, "layer2.R")
    assert spec["layer2.y"].out_features == 0
    # the tiny model is active but sparse
    act = measured_activity(tiny_trace)
    assert all(0.0 < a < 0.6 for a in act.values()), act


def _check_consistent(tr: Trace) -> None:
    n = len(tr.meta.extra["layers"])
    for i in range(n):
        r = tr.events[f"layer{i}.R"]
        assert r.counts()[0] == 0, "y_(-1) must be empty"
        nxt = tr.events[f"layer{i + 1}.W" if i + 1 < n else f"layer{i}.y"]
        for t in range(tr.meta.n_steps - 1):
            a, b = r.step(t + 1), nxt.step(t)
            assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]), (i, t)
    layer_outputs(tr, n)  # the EGRU program's own check passes too


def test_traces_are_consistent_across_sites(tiny_trace):
    _check_consistent(tiny_trace)
    _check_consistent(synthetic_egru_trace(SMALL, 0.9, [0.1, 0.2, 0.3], steps=6, seed=3))


def test_trace_roundtrip(tmp_path, tiny_trace):
    for tr in (tiny_trace, synthetic_egru_trace(SMALL, 0.8, 0.25, steps=4)):
        back = Trace.load(tr.save(tmp_path / "t.npz"))
        assert back.meta == tr.meta and back.label == tr.label
        for name, ev in tr.events.items():
            b = back.events[name]
            assert np.array_equal(b.ptr, ev.ptr) and np.array_equal(b.indices, ev.indices)
            assert np.array_equal(b.values, ev.values)
        assert set(back.matrices) == set(tr.matrices)
        for k, m in tr.matrices.items():
            assert (back.matrices[k] != m).nnz == 0 and back.matrices[k].nnz == m.nnz
        assert [x.nnz for x in layers_from_trace(back)] == [x.nnz for x in layers_from_trace(tr)]


def test_synthetic_trace_has_exact_counts():
    act = [0.1, 0.25, 0.5]
    tr = synthetic_egru_trace(SMALL, 0.9, act, steps=7, seed=1)
    shapes = [(16, 40), (40, 30), (30, 16)]
    for i, (n_in, h) in enumerate(shapes):
        for part, size in (("W", n_in), ("R", h)):
            m = tr.matrices[f"layer{i}.{part}"]
            assert m.shape == (3 * h, size)
            assert m.nnz == round(0.1 * 3 * h * size), (i, part)
            assert np.all(m.data != 0)
    counts = {k: v.tolist() for k, v in layer_activity(tr).items()}
    for i, (_, h) in enumerate(shapes):
        assert counts[f"layer{i}"] == [round(act[i] * h) / h] * 7
    assert tr.events["layer0.W"].counts().tolist() == [16] * 7  # dense embedding
    assert tr.events["layer1.R"].counts().tolist() == [0] + [round(0.25 * 30)] * 6
    m = tr.meta
    assert m.synthetic and "assumption" in m.profile and "SYNTHETIC" in tr.label
    assert m.extra["weight_sparsity"] == pytest.approx(0.9, abs=1e-3)
    # global scope: exact in total, uneven over matrices (one threshold, Xavier scales differ)
    g = synthetic_egru_trace(SMALL, 0.9, act, steps=2, scope="global")
    nnz = [x.nnz for x in g.matrices.values()]
    assert sum(nnz) == round(0.1 * sum(x.shape[0] * x.shape[1] for x in g.matrices.values()))
    assert len({round(n / (x.shape[0] * x.shape[1]), 3)
                for n, x in zip(nnz, g.matrices.values(), strict=True)}) > 1
    # seeded
    again = synthetic_egru_trace(SMALL, 0.9, act, steps=7, seed=1)
    other = synthetic_egru_trace(SMALL, 0.9, act, steps=7, seed=2)
    assert np.array_equal(again.events["layer1.W"].indices, tr.events["layer1.W"].indices)
    assert not np.array_equal(other.events["layer1.W"].indices, tr.events["layer1.W"].indices)


def test_default_profile_is_the_tiny_models_measured_activity():
    metrics = json.loads(artifact_path(TINY_METRICS).read_text("utf-8"))
    name, values = resolve_activity("tiny-measured", 3)
    assert values == [metrics["eval"]["activity"][f"layer{i}"] for i in range(3)]
    assert "tiny" in name and "assumed" in name
    assert resolve_activity(str(artifact_path(TINY_METRICS)), 3)[1] == values
    with pytest.raises(ValueError, match="has 2 layers, the network 3"):
        resolve_activity([0.1, 0.2], 3)
    with pytest.raises(ValueError, match="unknown activity profile"):
        resolve_activity("busy", 3)
    tr = synthetic_egru_trace(PAPER_SIZES, steps=1)
    per_layer = zip(values, PAPER_SIZES[1:], strict=True)
    assert tr.meta.profile == name and tr.meta.extra["events_per_step"] == {
        f"layer{i}": round(a * h) for i, (a, h) in enumerate(per_layer)}


def _independent_macs(tr: Trace, site: str) -> float:
    """NeuroBench effective MACs of one site per step, counted densely: (x != 0) @ (W != 0)^T."""
    s = tr.site(site)
    x = np.zeros((tr.meta.n_steps, s.size))
    for t in range(tr.meta.n_steps):
        idx, val = tr.events[site].step(t)
        x[t, idx] = val
    w = tr.matrices[s.matrix].toarray()
    return float(((x != 0).astype(float) @ (w != 0).astype(float).T).sum()) / tr.meta.n_steps


def test_product_rule_holds_on_random_data_within_sampling_error():
    """Random positions: the active columns are a uniform sample (without replacement) of the
    columns, so effective MACs deviate from activity x density only by sampling error. Per
    step, k of N columns with column-nnz population variance S^2 give a sum with variance
    k S^2 (1 - k/N); steps are independent. The tolerance is 4 such standard deviations
    (a seeded draw, so the test is deterministic; a biased count would miss by far more)."""
    act = [0.1, 0.2, 0.3]
    tr = synthetic_egru_trace((64, 256, 256, 128), 0.9, act, steps=40, seed=5)
    ops, rule = egru_ops(tr)
    var = 0.0
    for o in ops:
        s = tr.site(o.site)
        assert o.effective_macs == pytest.approx(_independent_macs(tr, o.site))
        assert o.dense_macs == s.size * s.out_features
        assert o.weight_sparse_macs == tr.matrices[s.matrix].nnz
        col = np.bincount(tr.matrices[s.matrix].indices, minlength=s.size)
        for k in tr.events[o.site].counts():
            var += k * col.var() * (1 - k / s.size)
    steps = tr.meta.n_steps
    dense = sum(o.dense_macs for o in ops)
    sigma = np.sqrt(var) / steps / dense
    assert abs(rule.measured - rule.predicted) < 4 * sigma
    assert abs(rule.deviation) < 0.02
    assert rule.weight_density == pytest.approx(0.1, abs=1e-3)
    # site by site too, and each sparsity alone leaves its own fraction
    for o in ops:
        one = product_rule([o])
        assert one.predicted == pytest.approx(
            (1 - o.activation_sparsity) * (1 - o.connection_sparsity))
        assert o.activity_sparse_macs == pytest.approx(o.dense_macs * (1 - o.activation_sparsity))


def test_product_rule_on_the_trained_model(tiny_trace):
    """Computed on real events and pruned weights; measured work equals an independent dense
    count. After training and magnitude pruning, the columns of the units that fire need not
    hold the average number of weights (in the shipped model they hold fewer), so the
    deviation is systematic, not sampling error: it is reported (docs), not bounded here."""
    ops, rule = egru_ops(tiny_trace)
    for o in ops:
        assert o.effective_macs == pytest.approx(_independent_macs(tiny_trace, o.site))
    dense = sum(o.dense_macs for o in ops)
    assert rule.measured == pytest.approx(sum(o.effective_macs for o in ops) / dense)
    assert rule.deviation == pytest.approx(rule.measured / rule.predicted - 1)
    metrics = json.loads(artifact_path(TINY_METRICS).read_text("utf-8"))
    assert rule.weight_density == pytest.approx(1 - metrics["pruning"]["weight_sparsity"],
                                                abs=1e-5)
    r1 = site_ops(tiny_trace, "layer1.R")
    assert r1.activation_sparsity == pytest.approx(
        1 - tiny_trace.events["layer1.R"].counts().sum() / (48 * 128))


def test_sweep_loads_real_and_synthetic_traces_and_simulates_the_tiny_model(tmp_path):
    load_trace.cache_clear()
    paper = load_trace("paper", None, 2, 7)
    assert paper.meta.synthetic and paper.meta.n_steps == 2 and paper.meta.extra["seed"] == 7
    assert [x.hidden for x in layers_from_trace(paper)] == [1350, 1350, 750]
    tiny = load_trace("tiny", None, 3, 0)
    assert not tiny.meta.synthetic and tiny.meta.n_steps == 3
    path = str(artifact_path("artifacts/egru_tiny.pt"))
    ck = load_trace(path, None, 3, 0)
    assert ck.meta.extra["checkpoint"] == path
    assert np.array_equal(ck.events["layer1.W"].indices, tiny.events["layer1.W"].indices)
    # up to one neuron per PE: a small last layer hands its surplus PEs on without overfilling
    layers = layers_from_trace(tiny)
    for how in ("equal", "nnz"):
        for n in (3, 250, 319, 320):
            counts = split_cores(layers, n, how)
            assert sum(counts) == n and all(1 <= c <= h for c, h in zip(counts, (128, 128, 64),
                                                                         strict=True)), counts
    row = run_point(PointSpec(pes=6, model="tiny", steps=3))
    assert row["fits"] and row["pes_per_layer"].count("/") == 2
    assert row["trace_label"].startswith("real trace of EGRU tiny")
    assert row["latency_cycles"] > 0 and row["energy_j"] > 0
    load_trace.cache_clear()


def test_cli_help_and_tiny_runs(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["trace", "egru", "--help"])
    assert e.value.code == 0
    assert "--activity" in capsys.readouterr().out
    out = tmp_path / "t.npz"
    assert main(["trace", "egru", "--model", "tiny", "--steps", "4", "-o", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "real trace of EGRU tiny" in printed and "product rule" in printed
    tr = Trace.load(out)
    assert tr.meta.n_steps == 4 and tr.meta.kind == "egru"
    text = tmp_path / "in.txt"
    text.write_text("To be, or not", "utf-8")
    assert main(["trace", "egru", "--steps", "5", "--text", str(text)]) == 0
    capsys.readouterr()
    out2 = tmp_path / "p.npz"
    assert main(["trace", "egru", "--model", "paper", "--steps", "2", "--activity",
                 "0.1,0.2,0.3", "--sparsity", "0.9", "-o", str(out2)]) == 0
    assert "SYNTHETIC" in capsys.readouterr().out
    p = Trace.load(out2)
    assert p.meta.extra["events_per_step"] == {"layer0": 135, "layer1": 270, "layer2": 225}
    assert main(["trace", "egru", "--model", "paper", "--activity", "1.5"]) == 2
    assert "activities must lie in [0, 1]" in capsys.readouterr().err


def test_trace_state_carry_between_calls(tmp_path, capsys):
    """Default: one continuous sequence, whatever the call length. ``y_only`` with calls of 5
    tokens records what the model computes in calls of 5 that pass only y on (the EvNN
    reference's convention)."""
    from models.egru import STATE_CARRY_CHOICES
    from simulator.commands.trace_egru import STATE_CARRY_CHOICES as shown

    assert shown == STATE_CARRY_CHOICES  # the CLI's copy (its --help does not import torch)
    model, _, _ = load_tiny_egru()
    model = model.double()
    tokens = torch.arange(12) % model.cfg.vocab_size
    one = egru_trace_from_model(model, tokens)
    assert (one.meta.extra["state_carry"], one.meta.extra["call_steps"]) == ("y_and_h", None)
    calls = egru_trace_from_model(model, tokens, call_steps=5)
    ref = egru_trace_from_model(model, tokens, carry="y_only", call_steps=5)
    assert ref.meta.extra["state_carry"] == "y_only" and ref.meta.extra["call_steps"] == 5
    with torch.no_grad():
        state, ys = None, []
        for a in range(0, 12, 5):
            out = model(tokens[None, a : a + 5], state, carry="y_only")
            state = out.state
            ys.append(out.ys[2][0])
    last = torch.cat(ys).numpy()
    for t in range(12):
        idx, val = ref.events["layer2.y"].step(t)
        assert np.array_equal(idx, np.flatnonzero(last[t]))
        np.testing.assert_array_equal(val, last[t][idx].astype(np.float32))
        for site in one.events:
            assert np.array_equal(calls.events[site].step(t)[0], one.events[site].step(t)[0])
    differs = [t for t in range(12)
               if not np.array_equal(ref.events["layer0.R"].step(t)[0],
                                     one.events["layer0.R"].step(t)[0])]
    assert differs and min(differs) > 5  # the first call is the same; then h restarts
    with pytest.raises(ValueError, match="call_steps"):
        egru_trace_from_model(model, tokens, call_steps=0)
    out = tmp_path / "ref.npz"
    assert main(["trace", "egru", "--steps", "6", "--carry", "y_only", "--call-steps", "3",
                 "-o", str(out)]) == 0
    capsys.readouterr()
    assert Trace.load(out).meta.extra["call_steps"] == 3


def test_model_trace_rejects_bad_tokens():
    model, _, _ = load_tiny_egru()
    with pytest.raises(ValueError, match="token ids"):
        egru_trace_from_model(model, [0, 10_000])
    with pytest.raises(ValueError, match="at least one"):
        egru_trace_from_model(model, [])
