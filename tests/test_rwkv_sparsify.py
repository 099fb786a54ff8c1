"""HardShrink sites, the published threshold search on the shipped tiny model, thresholds files,
and `nmsim sparsify rwkv`."""

from __future__ import annotations

import json
import math
from collections.abc import Callable

import pytest
import torch

from models.rwkv import load_tiny_rwkv, sample_windows, windows
from models.rwkv_sites import site_names
from models.sparsify import (
    KEPT_FRACTIONS,
    PUBLISHED_LOSS_INC,
    REJECTED_SITE_CHOICES,
    SEARCH_ORDER,
    Thresholds,
    ThresholdsFile,
    _warm_start,
    evaluate,
    hardshrink,
    load_thresholds,
    mac_weighted,
    quantile_thresholds,
    save_thresholds,
    search,
    search_thresholds,
)
from models.text import load_corpus, split_corpus
from simulator.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")


def test_hardshrink_zeroes_at_or_below_threshold_and_keeps_sign():
    x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 0.49, 3.0])
    assert hardshrink(x, 0.5).tolist() == [-2.0, 0.0, 0.0, 0.0, 0.0, 3.0]
    th = Thresholds({"blocks.0.att.key": 0.5})
    assert th("blocks.0.att.key", x).tolist() == [-2.0, 0.0, 0.0, 0.0, 0.0, 3.0]
    assert th("blocks.0.att.value", x) is x  # no threshold: untouched
    th.enabled = False  # switched off: dense
    assert th("blocks.0.att.key", x) is x


def test_thresholds_reject_bad_sites_and_values():
    with pytest.raises(ValueError, match="not an RWKV-4 site"):
        Thresholds({"blocks.0.att.gate": 0.1})
    with pytest.raises(ValueError, match=">= 0"):
        Thresholds({"blocks.0.att.key": -0.1})
    model, _, _ = load_tiny_rwkv()
    with pytest.raises(ValueError, match=r"blocks\.9\.ffn\.key"):
        Thresholds({"blocks.9.ffn.key": 0.1}).check(model)


def test_quantile_thresholds_are_per_token_quantiles_averaged_over_tokens():
    x = torch.randn(3, 50, 40, generator=torch.Generator().manual_seed(0))
    got = quantile_thresholds(x, [0.9, 0.5, 0.1])
    a = x.abs().reshape(-1, 40)
    for p, theta in zip([0.9, 0.5, 0.1], got, strict=True):
        assert theta == pytest.approx(torch.quantile(a, 1 - p, dim=1).mean().item(), rel=1e-5)
    # the kept fraction per token is then close to p on the same data
    assert (a > got[1]).float().mean().item() == pytest.approx(0.5, abs=0.03)


def test_warm_start_is_the_most_frequent_choice_ties_to_the_smallest():
    assert _warm_start([]) is None
    assert _warm_start([0.5, 0.7, 0.7]) == 0.7
    assert _warm_start([0.7, 0.5]) == 0.5
    assert _warm_start([1.0, 1.0, 0.4]) is None  # mostly left dense: scan from the top


@pytest.fixture(scope="module")
def tiny():
    model, tok, _ = load_tiny_rwkv()
    train, held = split_corpus(load_corpus())
    init = sample_windows(tok.encode(train[:50_000]), 4, 64, seed=0)
    heldout = windows(tok.encode(held[:2_000]), 64)[:8]
    return model, init, heldout


@pytest.fixture(scope="module")
def searched(tiny):
    model, init, _ = tiny
    return {ws: search_thresholds(model, init, warm_start=ws) for ws in (True, False)}


def test_search_finds_thresholds_within_the_compounded_loss_bound(tiny, searched):
    model, init, heldout = tiny
    res = searched[True]
    n_sites = 7 * model.cfg.n_layer
    assert [s.site for s in res.sites] == [f"blocks.{b}.{s}" for b in range(model.cfg.n_layer)
                                           for s in SEARCH_ORDER]
    assert len(res.thresholds) >= n_sites // 2  # most sites get a threshold
    assert all(t > 0 for t in res.thresholds.values())
    assert res.final_loss / res.base_loss < PUBLISHED_LOSS_INC**n_sites  # may even drop
    # each accepted step respected loss_inc against the previous accepted loss
    prev = res.base_loss
    for s in res.sites:
        assert s.loss / prev < PUBLISHED_LOSS_INC
        assert s.kept == min([t.kept for t in s.trials if t.accepted], default=1.0)
        prev = s.loss
    # the deployed thresholds give exactly the accepted loss on the initialisation set
    loss, _ = evaluate(model, init, Thresholds(res.thresholds))
    assert loss == pytest.approx(res.final_loss, rel=1e-5)
    # and sparsity rises on held-out text
    _, dense = evaluate(model, heldout)
    _, sparse = evaluate(model, heldout, Thresholds(res.thresholds))
    assert mac_weighted(model, sparse) > mac_weighted(model, dense) + 0.15
    assert all(sparse[n] >= dense[n] for n in dense)


def test_warm_start_follows_the_published_scan_and_saves_inferences(searched):
    warm, cold = searched[True], searched[False]
    assert warm.inferences < cold.inferences
    assert warm.recording_passes == cold.recording_passes == len(warm.sites)
    assert cold.inferences == 1 + sum(len(s.trials) for s in cold.sites)
    for s in cold.sites:  # cold: always from the top, down while accepted
        assert s.start is None and s.trials[0].kept == KEPT_FRACTIONS[0]
    started = [s for s in warm.sites if s.start is not None]
    assert started  # the warm start was used
    for s in started:
        assert s.trials[0].kept == s.start
        kept = [t.kept for t in s.trials]
        if s.trials[0].accepted:  # accepted: on down, stopping at the first rejection
            assert kept == sorted(kept, reverse=True)
            assert all(t.accepted for t in s.trials[:-1])
        else:  # rejected: up until the first acceptance
            assert kept == sorted(kept)
            assert not any(t.accepted for t in s.trials[:-1])


def test_search_rejects_bad_settings(tiny):
    model, init, _ = tiny
    with pytest.raises(ValueError, match="decreasing"):
        search_thresholds(model, init, candidates=[0.5, 0.9])
    with pytest.raises(ValueError, match="loss_inc"):
        search_thresholds(model, init, loss_inc=1.0)
    with pytest.raises(ValueError, match="rejected_site"):
        search_thresholds(model, init, rejected_site="keep")


class HandMadeInit:
    """One block whose every site input is ``|x|`` = 0, 0.001, ..., 1, so that the threshold of
    kept fraction ``p`` is ``1 - p``, and whose loss is 1 times ``factor[site](theta)`` for
    every site with a threshold (factor 1 where none is given)."""

    def __init__(self, factor: dict[str, Callable[[float], float]]) -> None:
        self.factor = factor

    def record(self, name: str, site: Thresholds) -> torch.Tensor:
        return torch.linspace(0.0, 1.0, 1001, dtype=torch.float64)[None]

    def loss(self, site: Thresholds) -> float:
        return math.prod(self.factor.get(n, lambda t: 1.0)(t) for n, t in site.values.items())

    def advance(self, site: Thresholds) -> None:
        pass


def test_a_site_with_no_accepted_candidate_stays_dense_or_gets_the_first_candidate():
    """att.key (searched first) raises the loss by 1% of its threshold: 0.1% already at kept
    fraction 0.9, more than loss_inc = 1.0005 allows. The other six sites cost nothing."""
    key = "blocks.0.att.key"
    others = [f"blocks.0.{s}" for s in SEARCH_ORDER[1:]]

    def run(rejected_site: str):
        data = HandMadeInit({key: lambda t: 1.0 + 0.01 * t})
        return search(data, 1, rejected_site=rejected_site)

    dense = run("dense")  # nmsim: att.key left dense; the others go all the way down
    assert dense.rejected_sites == [key]
    assert dense.kept == {key: 1.0} | {n: 0.1 for n in others}
    assert set(dense.thresholds) == set(others)
    assert all(t == pytest.approx(0.9) for t in dense.thresholds.values())
    assert [(s.loss, s.deployed_loss) for s in dense.sites] == [(1.0, 1.0)] * 7
    assert dense.final_loss == 1.0
    assert dense.inferences == 1 + 1 + 6 * 9  # base, the rejected 0.9, all nine elsewhere

    orig = run("first_candidate_keep_base")  # the authors' code: 0.9 deployed, base kept at 1
    assert orig.sites[0].rejected and orig.sites[0].kept == 0.9
    assert orig.thresholds[key] == pytest.approx(0.1)
    # every later candidate carries att.key's +0.1% against the kept base 1.0: all rejected
    assert orig.rejected_sites == [key, *others]
    assert orig.kept == {n: 0.9 for n in [key, *others]}
    assert all(t == pytest.approx(0.1) for t in orig.thresholds.values())
    assert all(s.loss == 1.0 for s in orig.sites)  # the stale base
    assert all(s.deployed_loss == pytest.approx(1.001) for s in orig.sites)
    assert orig.final_loss == pytest.approx(1.001)  # what the deployed thresholds give
    assert orig.inferences == 1 + 7


def test_rejected_site_rules_on_the_tiny_model(tiny):
    """With a loss_inc that float noise decides, sites get rejected; each rule does what it
    says there, and the deployed thresholds give the recorded final loss."""
    model, init, _ = tiny
    init = init[:2, :33]
    res = {r: search_thresholds(model, init, loss_inc=1 + 1e-7, rejected_site=r)
           for r in REJECTED_SITE_CHOICES}
    for rule, r in res.items():
        assert r.rejected_sites, rule
        loss, _ = evaluate(model, init, Thresholds(r.thresholds))
        assert loss == pytest.approx(r.final_loss, rel=1e-5), rule
        base = r.base_loss
        for s in r.sites:
            top = next((t for t in s.trials if t.kept == KEPT_FRACTIONS[0]), None)
            if not s.rejected:
                assert s.loss == s.deployed_loss and s.site in r.thresholds
            elif rule == "dense":
                assert s.site not in r.thresholds and s.kept == 1.0
                assert s.loss == s.deployed_loss == base
            else:
                assert r.thresholds[s.site] == top.threshold and s.kept == KEPT_FRACTIONS[0]
                assert s.loss == base and s.deployed_loss == top.loss
            base = s.loss
    # identical up to the first rejection
    first = min(res["dense"].sites.index(s) for s in res["dense"].sites if s.rejected)
    assert [s.trials for s in res["dense"].sites[: first + 1]] == [
        s.trials for s in res["first_candidate_keep_base"].sites[: first + 1]]


def test_thresholds_file_roundtrip_and_errors(tmp_path, searched):
    res = searched[True]
    tf = ThresholdsFile(model="test", n_layer=4, n_embd=128, thresholds=res.thresholds,
                        kept_fraction=res.kept)
    path = save_thresholds(tf, tmp_path / "th.json")
    assert load_thresholds(path).thresholds == res.thresholds
    raw = json.loads(path.read_text())
    raw["version"] = 7
    path.write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="version 7 is not supported"):
        load_thresholds(path)
    raw["version"] = 1
    raw["thresholds"]["blocks.0.att.nope"] = 0.1
    path.write_text(json.dumps(raw))
    with pytest.raises(ValueError, match="not an RWKV-4 site"):
        load_thresholds(path)
    path.write_text("{truncated")
    with pytest.raises(ValueError, match="not a readable thresholds file"):
        load_thresholds(path)


def test_shipped_thresholds_cover_the_tiny_model():
    from models.rwkv import TINY_THRESHOLDS, artifact_path

    tf = load_thresholds(artifact_path(TINY_THRESHOLDS))
    assert set(tf.thresholds) <= set(site_names(4))
    ev = tf.evaluation
    assert ev["mac_weighted_sparsity_sparse"] > ev["mac_weighted_sparsity_dense"]
    assert tf.search["init_loss_sparse"] < tf.search["init_loss_bound"]


def test_cli_sparsify_writes_a_thresholds_file(tmp_path, capsys):
    out = tmp_path / "th.json"
    rc = main(["sparsify", "rwkv", "--out", str(out), "--init-windows", "2", "--ctx-len", "32",
               "--eval-windows", "2", "--loss-inc", "1.01"])
    assert rc == 0
    tf = load_thresholds(out)
    assert tf.search["init_windows"] == 2 and tf.search["loss_inc"] == 1.01
    assert tf.evaluation["heldout_tokens"] == 64
    assert "MAC-weighted sparsity" in capsys.readouterr().out
    rc = main(["sparsify", "rwkv", "--checkpoint", str(tmp_path / "absent.pth")])
    assert rc == 2 and "no such checkpoint" in capsys.readouterr().err


def test_cli_rejected_site_option(tmp_path, capsys):
    from simulator.commands import sparsify_rwkv

    assert sparsify_rwkv.REJECTED_SITE_CHOICES == REJECTED_SITE_CHOICES  # --help has no torch
    out = tmp_path / "th.json"
    rc = main(["sparsify", "rwkv", "--out", str(out), "--init-windows", "2", "--ctx-len", "16",
               "--eval-windows", "1", "--loss-inc", "1.0000001",
               "--rejected-site", "first_candidate_keep_base"])
    assert rc == 0
    se = load_thresholds(out).search
    assert se["rejected_site"] == "first_candidate_keep_base" and se["rejected_sites"]
    assert se["init_loss_bound"] is None  # no bound once a rejected site is thresholded
    text = capsys.readouterr().out
    assert "no bound" in text and f"no candidate accepted: {len(se['rejected_sites'])}" in text
