"""The threshold search on the shipped tiny OPT (only the paper's three sites), its shipped
thresholds file, real OPT decoding traces against a direct count, and `nmsim sparsify opt`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from models.opt import TINY_META, TINY_THRESHOLDS, load_tiny_opt
from models.opt_config import SITE_SUFFIXES, THRESHOLD_SITES, site_names
from models.rwkv import sample_windows
from models.shipped import artifact_path
from models.sparsify import (
    OPT_FAMILY,
    PUBLISHED_LOSS_INC,
    REJECTED_SITE_CHOICES,
    Thresholds,
    ThresholdsError,
    check_thresholds_file,
    evaluate,
    load_thresholds,
    search_thresholds,
)
from models.text import load_corpus, split_corpus
from simulator.cli import main
from workloads.opt_trace import opt_trace_from_model

ROOT = Path(__file__).resolve().parents[1]
TEXT = "Thou art more lovely and more temperate: rough winds do shake the darling buds of May"

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny():
    return load_tiny_opt()


def test_search_thresholds_only_the_papers_three_sites(tiny):
    model, tok, _ = tiny
    init = sample_windows(tok.encode(split_corpus(load_corpus())[0][:20_000]), 4, 48, seed=0)
    res = search_thresholds(model, init)
    want = [f"layers.{i}.{s}" for i in range(model.cfg.n_layer) for s in THRESHOLD_SITES]
    assert [s.site for s in res.sites] == want  # layer by layer, QKV, up, down
    assert set(res.thresholds) <= set(want) and res.thresholds
    assert not any(n.endswith("attn.out") for n in res.thresholds)
    loss, sparsity = evaluate(model, init, Thresholds(res.thresholds, family=OPT_FAMILY))
    assert loss == pytest.approx(res.final_loss, rel=1e-5)
    assert loss / res.base_loss < PUBLISHED_LOSS_INC ** len(want)
    assert set(sparsity) == set(site_names(model.cfg.n_layer))  # all four counted
    with pytest.raises(ValueError, match="carries no threshold"):
        Thresholds({"layers.0.attn.out": 0.1}, family=OPT_FAMILY)
    with pytest.raises(ValueError, match="not an OPT site"):
        Thresholds({"blocks.0.att.key": 0.1}, family=OPT_FAMILY)


def test_shipped_thresholds_match_the_tiny_model(tiny):
    model, _, meta = tiny
    tf = load_thresholds(artifact_path(TINY_THRESHOLDS), OPT_FAMILY)
    check_thresholds_file(tf, model)
    assert (tf.n_layer, tf.d_model) == (meta["config"]["n_layer"], meta["config"]["d_model"])
    assert set(tf.thresholds) <= set(OPT_FAMILY.site_names(model.cfg.n_layer))
    assert tf.search["loss_inc"] == PUBLISHED_LOSS_INC
    ev = tf.evaluation
    assert ev["mac_weighted_sparsity_sparse"] > ev["mac_weighted_sparsity_dense"]
    assert ev["sparsity_sparse"]["attn.out"] < 0.05  # never thresholded
    assert tf.search["init_loss_sparse"] < tf.search["init_loss_bound"]
    with pytest.raises(ThresholdsError, match="not an nmsim-rwkv-thresholds file"):
        load_thresholds(artifact_path(TINY_THRESHOLDS))  # an OPT file is not an RWKV one
    from models.rwkv import load_tiny_rwkv

    with pytest.raises(ThresholdsError, match="the model is RWKV-4"):
        check_thresholds_file(tf, load_tiny_rwkv()[0])


@pytest.fixture(scope="module")
def sparse_trace():
    return opt_trace_from_model(thresholds=artifact_path(TINY_THRESHOLDS), text=TEXT,
                                n_tokens=6, context=20)


def test_real_trace_records_exactly_what_the_thresholded_model_computes(tiny, sparse_trace):
    model, tok, _ = tiny
    th = load_thresholds(artifact_path(TINY_THRESHOLDS), OPT_FAMILY).to_thresholds()
    ids = tok.encode(TEXT)[:26]
    seen: dict[str, list[np.ndarray]] = {n: [] for n in site_names(model.cfg.n_layer)}

    def grab(name: str, x: torch.Tensor) -> torch.Tensor:
        y = th(name, x)
        seen[name].append(y.flatten().numpy().copy())
        return y

    with torch.no_grad():  # the prompt in one prefill (unrecorded), then token by token
        _, cache = model(torch.tensor([ids[:20]]), None, th)
        for t in ids[20:]:
            _, cache = model(torch.tensor([[t]]), cache, grab)
    tr = sparse_trace
    assert tr.meta.kind == "opt" and not tr.meta.synthetic and tr.meta.n_steps == 6
    ex = tr.meta.extra
    assert ex["context"] == 20 and ex["sparsified"] and ex["token_ids"] == ids[20:]
    assert (ex["n_layer"], ex["d_model"], ex["n_head"], ex["ffn_dim"]) == (
        model.cfg.n_layer, model.cfg.d_model, model.cfg.n_head, model.cfg.ffn_dim)
    assert [s.name for s in tr.sites] == site_names(model.cfg.n_layer)
    for name, rows in seen.items():
        ev = tr.events[name]
        for t in range(6):
            idx, val = ev.step(t)
            want = rows[t]
            assert np.array_equal(idx, np.flatnonzero(want)), (name, t)
            np.testing.assert_allclose(val, want[idx], rtol=1e-5, atol=1e-6)
    down = tr.events["layers.0.mlp.down"].values
    assert (down > 0).all()  # a ReLU output: non-negative, and only non-zeros are events
    size = {spec.name: spec.size for spec in tr.sites}
    cut = [n for n, theta in th.values.items() if theta > 0]
    assert cut and all(len(tr.events[n].values) < 6 * size[n] for n in cut)


def test_trace_of_chosen_layers_and_bad_requests():
    dense = opt_trace_from_model(text=TEXT, n_tokens=2, context=0, layers=[1])
    assert [s.name for s in dense.sites] == [f"layers.1.{s}" for s in SITE_SUFFIXES]
    assert not dense.meta.extra["sparsified"] and dense.meta.extra["layers"] == [1]
    assert len(dense.events["layers.1.attn.qkv"].step(0)[0]) == 128  # dense: all non-zero
    rwkv = Thresholds({"blocks.0.att.key": 0.1})
    for kwargs, match in ((dict(thresholds=rwkv, context=2), "RWKV-4 thresholds"),
                          (dict(layers=[2], context=2), "must lie in"),
                          (dict(context=600), "max_pos"),
                          (dict(n_tokens=0), "n_tokens")):
        with pytest.raises(ValueError, match=match):
            opt_trace_from_model(text=TEXT, **kwargs)


def test_sparsify_opt_help_imports_no_torch():
    code = ("import contextlib, io, sys\n"
            "from simulator.cli import main\n"
            "out = io.StringIO()\n"
            "with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):\n"
            "    main(['sparsify', 'opt', '--help'])\n"
            "assert '--loss-inc' in out.getvalue(), out.getvalue()\n"
            "assert 'torch' not in sys.modules\n"
            "print('OK')\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == "OK", proc.stderr
    from simulator.commands import sparsify_opt

    assert sparsify_opt.PUBLISHED_LOSS_INC == PUBLISHED_LOSS_INC
    assert sparsify_opt.REJECTED_SITE_CHOICES == REJECTED_SITE_CHOICES


def test_cli_sparsify_opt_writes_a_thresholds_file(tmp_path, capsys):
    out = tmp_path / "th.json"
    rc = main(["sparsify", "opt", "--out", str(out), "--init-windows", "2", "--ctx-len", "32",
               "--eval-windows", "2", "--loss-inc", "1.01", "--checkpoint",
               str(artifact_path("artifacts/opt_tiny.pt")), "--config",
               str(artifact_path(TINY_META)), "--text-file",
               str(artifact_path("data/shakespeare_tragedies.txt"))])
    assert rc == 0, capsys.readouterr().err
    tf = load_thresholds(out, OPT_FAMILY)
    assert tf.search["loss_inc"] == 1.01 and tf.evaluation["heldout_tokens"] == 64
    assert "attn.out (dense)" in capsys.readouterr().out


@pytest.mark.parametrize("args, names", [
    (["--checkpoint", "absent.pt", "--config", "CONFIG"], "--checkpoint absent.pt: no such file"),
    (["--checkpoint", "absent.pt"], "--checkpoint needs --config"),
    (["--checkpoint", "CKPT", "--config", "absent.json"], "--config absent.json: no such file"),
    (["--checkpoint", "CKPT", "--config", "BAD"], "--config"),
])
def test_sparsify_opt_bad_files_are_one_line_errors(tmp_path, capsys, args, names):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"n_layer": 2, "d_model": 128, "n_head": 5, "ffn_dim": 512}))
    subst = {"CONFIG": str(artifact_path(TINY_META)), "BAD": str(bad),
             "CKPT": str(artifact_path("artifacts/opt_tiny.pt"))}
    rc = main(["sparsify", "opt", "--out", str(tmp_path / "o.json"),
               *[subst.get(a, a) for a in args]])
    err = capsys.readouterr().err
    assert rc == 2 and names in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_sparsify_opt_bad_loss_inc_names_the_argument(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        main(["sparsify", "opt", "--loss-inc", "0.99"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "argument --loss-inc" in err and "Traceback" not in err
