"""RWKV traces: real inference recorded exactly, file round trip and bad files, synthetic traces
at real sizes, NeuroBench-style op counts, and `nmsim trace rwkv`."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import torch

from models.rwkv import TINY_THRESHOLDS, artifact_path, load_tiny_rwkv
from models.rwkv_sites import site_names
from models.sparsify import load_thresholds
from simulator.cli import main
from workloads.opcounts import mac_weighted_sparsity, site_ops, trace_ops
from workloads.rwkv_synthetic import (
    PUBLISHED_3B_DENSE,
    PUBLISHED_3B_SPARSE,
    RWKV4_SIZES,
    load_profile,
    save_profile,
    synthetic_rwkv_trace,
)
from workloads.rwkv_trace import measured_profile, rwkv_trace_from_model
from workloads.trace import Trace, TraceError

TEXT = "Thou art more lovely and more temperate"


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def sparse_trace() -> Trace:
    return rwkv_trace_from_model(thresholds=artifact_path(TINY_THRESHOLDS), text=TEXT,
                                 n_tokens=8, skip=2)


def test_real_trace_records_exactly_the_thresholded_inputs(sparse_trace):
    tr = sparse_trace
    model, tok, _ = load_tiny_rwkv()
    th = load_thresholds(artifact_path(TINY_THRESHOLDS)).to_thresholds()
    seen: dict[str, list[np.ndarray]] = {n: [] for n in site_names(4)}

    def grab(name: str, x: torch.Tensor) -> torch.Tensor:
        y = th(name, x)
        seen[name].append(y.flatten().numpy().copy())
        return y

    state = None
    for t in tok.encode(TEXT)[:10]:
        _, state = model.step(t, state, grab)
    for name, rows in seen.items():
        dense = np.stack(rows[2:])  # the first two tokens were skipped
        ev = tr.events[name]
        for t in range(8):
            idx, val = ev.step(t)
            assert np.array_equal(idx, np.flatnonzero(dense[t])), name
            assert np.array_equal(val, dense[t][idx]), name
    m = tr.meta
    assert (m.kind, m.synthetic, m.n_steps) == ("rwkv", False, 8)
    assert m.model == "RWKV-4 tiny (shipped) sparsified"
    assert m.extra["sparsified"] and m.extra["n_layer"] == 4 and m.extra["vocab_size"] == 70
    assert m.extra["token_ids"] == tok.encode(TEXT)[2:10]
    spec = {s.name: s for s in m.sites}
    assert (spec["blocks.3.ffn.key"].size, spec["blocks.3.ffn.key"].out_features) == (128, 512)
    assert (spec["blocks.0.ffn.value"].size, spec["blocks.0.ffn.value"].group) == (512,
                                                                                   "channel_mix")
    assert spec["blocks.2.att.output"].group == "time_mix"
    assert all(s.weight_density == 1.0 and s.matrix is None for s in m.sites)


def test_dense_trace_is_dense_except_the_squared_relu(sparse_trace):
    dense = rwkv_trace_from_model(text=TEXT, n_tokens=8, skip=2, blocks=[1])
    assert [s.name for s in dense.sites] == site_names(4, [1])
    assert "dense" in dense.meta.model and not dense.meta.extra["sparsified"]
    prof = measured_profile(dense)
    assert prof["att.key"] < 0.01 and prof["ffn.value"] > 0.3
    sparse = measured_profile(sparse_trace)
    assert all(sparse[s] > prof[s] for s in ("att.key", "att.output", "ffn.receptance"))


def test_trace_roundtrip(tmp_path, sparse_trace):
    path = sparse_trace.save(tmp_path / "t.npz")
    back = Trace.load(path)
    assert back.meta == sparse_trace.meta
    for name, ev in sparse_trace.events.items():
        b = back.events[name]
        assert np.array_equal(b.ptr, ev.ptr) and np.array_equal(b.indices, ev.indices)
        assert np.array_equal(b.values, ev.values)


def test_bad_trace_files_raise_clear_errors(tmp_path, sparse_trace):
    good = sparse_trace.save(tmp_path / "good.npz")
    data = good.read_bytes()
    (tmp_path / "trunc.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(TraceError, match="trunc.npz.*corrupted or truncated"):
        Trace.load(tmp_path / "trunc.npz")
    (tmp_path / "junk.npz").write_bytes(bytes(range(256)) * 8)
    with pytest.raises(TraceError, match="junk.npz.*corrupted or truncated"):
        Trace.load(tmp_path / "junk.npz")
    with pytest.raises(TraceError, match="no such trace file"):
        Trace.load(tmp_path / "absent.npz")

    with np.load(good) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))

    def write(name: str, arrs: dict) -> str:
        with (tmp_path / name).open("wb") as f:
            np.savez(f, **arrs)
        return str(tmp_path / name)

    meta["version"] = 99
    path = write("v99.npz", arrays | {"meta": np.array(json.dumps(meta))})
    with pytest.raises(TraceError, match="version 99 is not supported"):
        Trace.load(path)
    missing = {k: v for k, v in arrays.items() if k != "events/blocks.1.att.key/values"}
    with pytest.raises(TraceError, match="missing array 'events/blocks.1.att.key/values'"):
        Trace.load(write("missing.npz", missing))
    bad_idx = dict(arrays)
    bad_idx["events/blocks.0.ffn.value/indices"] = arrays["events/blocks.0.ffn.value/indices"] + 512
    with pytest.raises(TraceError, match=r"blocks\.0\.ffn\.value.*out of range"):
        Trace.load(write("badidx.npz", bad_idx))


def test_op_counts_agree_with_neurobench_definitions_counted_in_the_model(sparse_trace):
    """Effective MACs counted like NeuroBench does it (forward hooks on the linear layers:
    non-zero input x non-zero weight, bias excluded), independently of the trace."""
    model, tok, _ = load_tiny_rwkv()
    th = load_thresholds(artifact_path(TINY_THRESHOLDS)).to_thresholds()
    counted: dict[str, float] = {}
    on = {"record": False}
    hooks = []
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and name.startswith("blocks."):
            def hook(mod, inp, out, name=name):
                if on["record"]:
                    nz_in = (inp[0] != 0).float().reshape(-1, mod.in_features)
                    macs = (nz_in @ (mod.weight != 0).float().T).sum().item()
                    counted[name] = counted.get(name, 0.0) + macs
            hooks.append(mod.register_forward_hook(hook))
    state = None
    for i, t in enumerate(tok.encode(TEXT)[:10]):
        on["record"] = i >= 2
        _, state = model.step(t, state, th)
    for h in hooks:
        h.remove()
    ops = {o.site: o for o in trace_ops(sparse_trace)}
    assert set(ops) == set(counted)
    for name, o in ops.items():
        w = model.get_submodule(name).weight
        assert o.effective_macs == pytest.approx(counted[name] / 8, rel=1e-9), name
        assert o.dense_macs == w.numel()
        assert o.connection_sparsity == pytest.approx((w == 0).float().mean().item())
        ev = sparse_trace.events[name]
        assert o.activation_sparsity == pytest.approx(1 - ev.counts().sum() / (8 * w.shape[1]))
    assert site_ops(sparse_trace, "blocks.0.att.key", slice(0, 1)).effective_macs == (
        len(sparse_trace.events["blocks.0.att.key"].step(0)[0]) * 128)


def test_synthetic_3b_follows_the_published_profile_exactly_and_fast():
    t0 = time.perf_counter()
    tr = synthetic_rwkv_trace("3B", "published-3b-sparse", n_tokens=4, n_blocks=1, seed=0)
    assert time.perf_counter() - t0 < 2.0
    assert tr.meta.synthetic and tr.meta.profile == "published-3b-sparse"
    assert tr.label == "SYNTHETIC trace of RWKV-4 3B (profile: published-3b-sparse)"
    assert tr.meta.extra["n_layer"] == 32 and tr.meta.extra["n_embd"] == 2560
    for s in tr.sites:
        want = round((1 - PUBLISHED_3B_SPARSE[s.name.split(".", 2)[2]]) * s.size)
        ev = tr.events[s.name]
        assert (ev.counts() == want).all(), s.name  # exact per token
        for t in range(4):
            idx, val = ev.step(t)
            assert (np.diff(idx) > 0).all() and (val != 0).all()
    assert (tr.events["blocks.0.ffn.value"].values > 0).all()  # squared ReLU
    assert (tr.events["blocks.0.att.key"].values < 0).any()
    ops = trace_ops(tr)
    assert sum(o.dense_macs for o in ops) == 13 * 2560**2  # 26.2M TM + 59.0M CM
    assert mac_weighted_sparsity(ops) == pytest.approx(0.632, abs=0.003)  # published 63.2%
    dense = synthetic_rwkv_trace("3B", "published-3b-dense", n_tokens=2)
    assert PUBLISHED_3B_DENSE["ffn.value"] == pytest.approx(0.93275)
    assert mac_weighted_sparsity(trace_ops(dense)) == pytest.approx(0.287, abs=1e-4)


def test_synthetic_sizes_seeds_and_profiles(tmp_path, sparse_trace):
    for size, cfg in RWKV4_SIZES.items():
        tr = synthetic_rwkv_trace(size, n_tokens=1)
        assert tr.site("blocks.0.ffn.value").size == 4 * cfg.n_embd
    a = synthetic_rwkv_trace("169M", n_tokens=3, n_blocks=2, seed=1)
    b = synthetic_rwkv_trace("169M", n_tokens=3, n_blocks=2, seed=1)
    c = synthetic_rwkv_trace("169M", n_tokens=3, n_blocks=2, seed=2)
    ev = "blocks.1.att.key"
    assert np.array_equal(a.events[ev].indices, b.events[ev].indices)
    assert not np.array_equal(a.events[ev].indices, c.events[ev].indices)
    measured = measured_profile(sparse_trace)
    path = save_profile(tmp_path / "p.json", "measured: tiny", measured, source="test")
    name, prof = load_profile(path)
    syn = synthetic_rwkv_trace("430M", str(path), n_tokens=2)
    assert syn.meta.profile == name == "measured: tiny"
    for s, v in measured_profile(syn).items():
        assert v == pytest.approx(prof[s], abs=1 / 1024)
    with pytest.raises(ValueError, match="missing"):
        synthetic_rwkv_trace("3B", {"att.key": 0.5})
    with pytest.raises(ValueError, match="unknown profile"):
        synthetic_rwkv_trace("3B", "published-7b")
    with pytest.raises(ValueError, match="unknown size"):
        synthetic_rwkv_trace("7B")


def test_cli_trace_real_and_synthetic(tmp_path, capsys):
    out, prof = tmp_path / "real.npz", tmp_path / "prof.json"
    rc = main(["trace", "rwkv", "--out", str(out), "--tokens", "3", "--blocks", "0",
               "--thresholds", str(artifact_path(TINY_THRESHOLDS)), "--profile-out", str(prof)])
    assert rc == 0
    tr = Trace.load(out)
    assert tr.meta.n_steps == 3 and len(tr.sites) == 7 and tr.meta.extra["sparsified"]
    assert "real trace of RWKV-4 tiny (shipped) sparsified" in capsys.readouterr().out
    syn = tmp_path / "syn.npz"
    assert main(["trace", "rwkv", "--synthetic", "--size", "1.5B", "--profile", str(prof),
                 "--out", str(syn)]) == 0
    assert "SYNTHETIC trace of RWKV-4 1.5B" in capsys.readouterr().out
    assert Trace.load(syn).meta.synthetic
    assert main(["trace", "rwkv", "--out", str(syn), "--thresholds", "absent.json"]) == 2
    assert "absent.json" in capsys.readouterr().err
