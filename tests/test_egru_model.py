"""EGRU model: cell equations against a hand-computed step, the surrogate gradient, exact
magnitude pruning, CSR export and its footprint, checkpoints."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from models.csr import CSRView, csr_footprint_bytes, partition_export, to_csr
from models.egru import (
    EGRULM,
    CellState,
    EGRUCell,
    EGRUConfig,
    SpikeFunction,
    load_egru,
    load_tiny_egru,
    save_egru,
)
from models.pruning import MagnitudePruner, cubic_schedule, iterative_prune
from workloads.egru_trace import PAPER_SIZES, PAPER_SPARSITY, synthetic_egru_trace

pytestmark = pytest.mark.usefixtures("one_thread")


def small_cfg(**kw) -> EGRUConfig:
    return EGRUConfig(**({"vocab_size": 11, "embedding_dim": 6, "layers": (10, 8, 6)} | kw))


def hand_cell() -> EGRUCell:
    """Input 1, hidden 2; rows of W and R are z0, z1, r0, r1, g0, g1 (gate-major)."""
    f64 = torch.float64
    cell = EGRUCell(1, 2, EGRUConfig(vocab_size=2, embedding_dim=2, layers=(2,))).double()
    with torch.no_grad():
        cell.W.copy_(torch.tensor([[0.5], [-1.0], [-1.0], [0.3], [2.0], [-0.5]], dtype=f64))
        cell.R.copy_(torch.tensor([[1.0, 0.0], [0.0, -0.5], [0.5, 0.2], [0.1, 0.0],
                                   [-1.0, 0.4], [0.3, 0.6]], dtype=f64))
        cell.b_x.copy_(torch.tensor([0.1, 0.0, 0.0, 0.0, -0.2, 0.1], dtype=f64))
        cell.b_r.copy_(torch.tensor([0.0, 0.0, 0.2, 0.0, 0.3, 0.0], dtype=f64))
        cell.thr.copy_(torch.tensor([0.3, 0.5], dtype=f64))
    return cell


def test_cell_step_matches_hand_computation():
    """x = 1, y_{t-1} = (0.6, 0), h_{t-1} = (0.2, -0.1). By hand (EvNN form):
    unit 0: a_x = (0.6, -1.0, 1.8), a_h = R y + b_r = (0.6, 0.5, -0.3);
      z = sig(1.2) = 0.76852478, r = sig(-0.5) = 0.37754067,
      g = tanh(1.8 + r * -0.3) = 0.93373044, c = z * 0.2 + (1 - z) * g = 0.36984041 > 0.3:
      spike, y = c, h = c - 0.3 = 0.06984041.
    unit 1: a_x = (-1.0, 0.3, -0.4), a_h = (0.0, 0.06, 0.18); z = sig(-1) = 0.26894142,
      r = sig(0.36) = 0.58904043, g = tanh(-0.4 + r * 0.18) = -0.28578719,
      c = z * -0.1 + (1 - z) * g = -0.23582132 < 0.5: no spike, y = 0, h = c.
    R multiplies y (0.6), not h (0.2): a different result if it did."""
    cell = hand_cell()
    state = CellState(y=torch.tensor([[0.6, 0.0]], dtype=torch.float64),
                      h=torch.tensor([[0.2, -0.1]], dtype=torch.float64))
    y, o, new = cell(torch.tensor([[[1.0]]], dtype=torch.float64), state)
    assert o[0, 0].tolist() == [1.0, 0.0]
    assert y[0, 0].tolist() == pytest.approx([0.3698404121337726, 0.0], abs=1e-12)
    assert new.y[0].tolist() == pytest.approx([0.3698404121337726, 0.0], abs=1e-12)
    assert new.h[0].tolist() == pytest.approx([0.06984041213377262, -0.23582132103018685],
                                              abs=1e-12)
    # zero input, zero state: z = sig(b), g = tanh(b); c = (1 - z) g stays below threshold
    y0, _, s0 = cell(torch.zeros(1, 1, 1, dtype=torch.float64))
    z = 1 / (1 + math.exp(-0.1))
    g = math.tanh(-0.2 + (1 / (1 + math.exp(-0.2))) * 0.3)
    assert s0.h[0, 0].item() == pytest.approx((1 - z) * g, abs=1e-12)
    assert y0.abs().sum().item() == 0.0


def test_surrogate_gradient_below_threshold_within_support():
    cfg = EGRUConfig(vocab_size=2, embedding_dim=2, layers=(2,))
    v = torch.tensor([-0.3, -0.99, -1.2, 0.4], requires_grad=True)
    o = SpikeFunction.apply(v, cfg.dampening, cfg.support)
    assert o.tolist() == [0.0, 0.0, 0.0, 1.0]
    o.sum().backward()
    # dampening * max(0, 1 - support * |v|), EvNN defaults 0.7 and 1
    assert v.grad.tolist() == pytest.approx([0.7 * 0.7, 0.7 * 0.01, 0.0, 0.7 * 0.6], abs=1e-6)
    # in a cell: no unit spikes, yet W gets a gradient through the surrogate
    cell = hand_cell()
    with torch.no_grad():
        cell.thr.fill_(0.9)
    y, o, _ = cell(torch.tensor([[[1.0]]], dtype=torch.float64))
    assert o.sum().item() == 0.0
    (y.sum() + o.sum()).backward()
    assert cell.W.grad.abs().sum().item() > 0.0


def test_lm_forward_shapes_and_tied_decoder():
    model = EGRULM(small_cfg())
    out = model(torch.tensor([[1, 2, 3], [4, 5, 6]]))
    assert out.logits.shape == (2, 3, 11)
    assert [y.shape[-1] for y in out.ys] == [10, 8, 6]
    expected = out.ys[-1] @ model.embedding.weight.T + model.decoder_bias
    assert torch.allclose(out.logits, expected)
    assert small_cfg().recurrent_weight_count() == sum(
        m.numel() for m in model.weight_matrices().values())
    with pytest.raises(ValueError, match="tied"):
        EGRUConfig(vocab_size=5, embedding_dim=4, layers=(8, 5))


def evnn_script(x: torch.Tensor, y0: torch.Tensor, cell: EGRUCell
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """One call of the EvNN reference layer, transliterated from ``EGRUScript`` (github
    Efficient-Scalable-Machine-Learning/EvNN, ``frameworks/pytorch/egru.py``, Apache-2.0; eval
    mode, no zoneout), with its weight layout (kernels are our matrices transposed). x: (T, B,
    I); the call's state is ``y0`` alone: ``h = [zeros_like(h0)]``, ``y = [h0]``. Returns the
    events y and the states h of every step, (T, B, H) each."""
    kernel, recurrent_kernel = cell.W.T, cell.R.T
    h, y = [torch.zeros_like(y0)], [y0]
    wx = x @ kernel + cell.b_x
    for t in range(x.shape[0]):
        rh = y[t] @ recurrent_kernel + cell.b_r
        vx, vh = torch.chunk(wx[t], 3, 1), torch.chunk(rh, 3, 1)
        z = torch.sigmoid(vx[0] + vh[0])
        r = torch.sigmoid(vx[1] + vh[1])
        g = torch.tanh(vx[2] + r * vh[2])
        cur_h = z * h[t] + (1 - z) * g
        event = torch.heaviside(cur_h - cell.thr, cur_h - cell.thr)
        h.append(cur_h - event * cell.thr)
        y.append(event * cur_h)
    return torch.stack(y[1:]), torch.stack(h[1:])


@pytest.fixture(scope="module")
def tiny_layer0() -> tuple[EGRUCell, torch.Tensor]:
    """Layer 0 of the shipped tiny EGRU (float64) and its input for 60 held-out characters."""
    from models.egru import encode_chars
    from models.text import load_corpus, split_corpus

    model, vocab, _ = load_tiny_egru()
    model = model.double()
    tokens = encode_chars(split_corpus(load_corpus())[1][:60], vocab)
    with torch.no_grad():
        x = model.embedding(tokens[None])
    return model.layers[0], x


@torch.no_grad()
def test_y_only_carry_restarts_h_between_calls_as_the_reference_does(tiny_layer0):
    cell, x = tiny_layer0
    y60, _, s60 = cell(x)
    ref_y, ref_h = evnn_script(x.transpose(0, 1), torch.zeros(1, cell.hidden, dtype=x.dtype), cell)
    assert torch.allclose(y60[0], ref_y[:, 0], atol=1e-12)  # one call: the same either way
    assert torch.allclose(s60.h, ref_h[-1], atol=1e-12)
    # two calls of 30: the reference passes the last y on and starts h at 0 again
    ya, _, sa = cell(x[:, :30])
    yb, _, sb = cell(x[:, 30:], sa, carry="y_only")
    ra_y, _ = evnn_script(x[:, :30].transpose(0, 1), torch.zeros_like(sa.y), cell)
    rb_y, rb_h = evnn_script(x[:, 30:].transpose(0, 1), ra_y[-1], cell)
    assert torch.allclose(yb[0], rb_y[:, 0], atol=1e-12)
    assert torch.allclose(sb.h, rb_h[-1], atol=1e-12) and torch.equal(sb.y, yb[:, -1])
    # ... which is not the 60-step sequence: restarting h changes the second half
    assert not torch.allclose(yb, y60[:, 30:], atol=1e-6)
    _, _, first = cell(x[:, 30:31], sa, carry="y_only")
    _, _, cont = cell(x[:, 30:31], sa)
    assert not torch.allclose(first.h, cont.h)


@torch.no_grad()
def test_y_and_h_carry_makes_split_calls_equal_one_call(tiny_layer0):
    cell, x = tiny_layer0
    y60, o60, s60 = cell(x)
    ya, oa, sa = cell(x[:, :30])
    yb, ob, sb = cell(x[:, 30:], sa)  # default: carry="y_and_h"
    assert torch.equal(torch.cat([oa, ob], 1), o60)  # the same events, at the same steps
    assert torch.allclose(torch.cat([ya, yb], 1), y60, rtol=0, atol=1e-13)
    assert torch.allclose(sb.h, s60.h, rtol=0, atol=1e-13) and torch.equal(sb.y, s60.y)
    # the whole language model too, with the three layers' states
    model, vocab, _ = load_tiny_egru()
    model = model.double()
    tokens = torch.arange(60)[None] % model.cfg.vocab_size
    whole = model(tokens)
    a = model(tokens[:, :30])
    b = model(tokens[:, 30:], a.state, carry="y_and_h")
    assert torch.allclose(torch.cat([a.logits, b.logits], 1), whole.logits, rtol=0, atol=1e-12)
    for ya, yb, y in zip(a.ys, b.ys, whole.ys, strict=True):
        assert torch.equal(torch.cat([ya, yb], 1) != 0, y != 0)
    with pytest.raises(ValueError, match="carry"):
        model(tokens, a.state, carry="h_only")


@pytest.mark.parametrize("scope", ["global", "per_matrix"])
def test_pruning_is_exact_and_keeps_embeddings_dense(scope):
    torch.manual_seed(0)
    model = EGRULM(small_cfg())
    with torch.no_grad():  # many equal magnitudes: ties must not break exactness
        model.layers[1].W[:, :4] = 0.25
    with torch.no_grad():
        for c in model.layers:
            c.b_x.fill_(0.01)
    emb = model.embedding.weight.detach().clone()
    thr = [c.thr.detach().clone() for c in model.layers]
    mats = model.weight_matrices()
    pruner = MagnitudePruner(mats, scope=scope)
    steps = []
    schedule = iterative_prune(pruner, 0.9, 3, lambda k, s: steps.append(pruner.sparsity()))
    assert schedule == cubic_schedule(0.9, 3) and schedule[-1] == pytest.approx(0.9)
    n = sum(m.numel() for m in mats.values())
    zeros = sum(int((m == 0).sum()) for m in mats.values())
    assert zeros == round(0.9 * n)
    if scope == "per_matrix":
        assert all(int((m == 0).sum()) == round(0.9 * m.numel()) for m in mats.values())
    assert steps == sorted(steps)  # sparsity only grows over the rounds
    assert torch.equal(model.embedding.weight, emb)
    assert all(torch.all(c.b_x == 0.01) for c in model.layers)  # biases untouched
    assert all(torch.equal(c.thr, t) for c, t in zip(model.layers, thr, strict=True))
    # pruned weights stay pruned after an optimiser step and apply()
    before = {k: (m == 0).clone() for k, m in mats.items()}
    with torch.no_grad():
        for m in mats.values():
            m.add_(0.01)
    pruner.apply()
    assert all(torch.equal(mats[k] == 0, before[k]) for k in mats)


def test_csr_roundtrip_is_exact_and_partition_rows_are_gate_major():
    rng = np.random.default_rng(1)
    dense = rng.standard_normal((12, 7)).astype(np.float32)
    dense[rng.random(dense.shape) < 0.8] = 0.0
    dense[3] = 0.0  # an empty row
    view = CSRView.of(torch.from_numpy(dense))
    assert np.array_equal(view.to_dense(), dense)
    assert view.nnz == np.count_nonzero(dense) and view.shape == (12, 7)
    assert np.array_equal(np.diff(view.row_extents), (dense != 0).sum(axis=1))
    m = sp.csr_array(dense)
    m.data[0] = 0.0  # an explicit zero is not a weight
    assert to_csr(m).nnz == np.count_nonzero(dense) - 1
    # neurons 1 and 3 of H = 4 own rows 1, 3, 5, 7, 9, 11 (z, r, g)
    part = partition_export(dense, dense[:, :4], [1, 3])
    assert np.array_equal(part["W"].to_dense(), dense[[1, 3, 5, 7, 9, 11]])
    assert np.array_equal(part["R"].to_dense(), dense[[1, 3, 5, 7, 9, 11], :4])


def test_csr_footprint_formula_and_widths():
    dense = np.zeros((30, 20), dtype=np.float32)
    dense.flat[::7] = 1.5
    view = CSRView.of(dense)
    nz, rows = view.nnz, view.n_rows
    assert nz == len(range(0, 600, 7))
    # one word per value, index and row offset: 2 * NZ + N_rows + 1 words of 4 bytes
    assert view.footprint_bytes() == 4 * (2 * nz + rows + 1)
    assert view.footprint_bytes("fp16", 16) == 2 * nz + 2 * nz + 2 * (rows + 1)
    assert view.footprint_bytes("int8", 16, 32) == nz * (1 + 2) + (rows + 1) * 4
    assert csr_footprint_bytes(nz, rows, 4, 2, 4) == nz * 6 + (rows + 1) * 4
    with pytest.raises(ValueError, match="value_format"):
        view.footprint_bytes("fp64")
    wide = CSRView.of(sp.csr_array(([1.0], ([0], [70000])), shape=(1, 70001)))
    with pytest.raises(ValueError, match="16-bit"):
        wide.footprint_bytes(index_bits=16)


def test_paper_size_csr_footprint():
    """The SpiNNaker2 LM (750 -> 1350/1350/750): 24.165 M weights in W and R; at 95% per
    matrix 1,208,250 non-zeros; fp32 values and 32-bit indices/offsets over the six
    matrices (20,700 rows): 4 * (2 * 1,208,250 + 20,700 + 6) = 9,748,824 bytes."""
    cfg = EGRUConfig(vocab_size=33278, embedding_dim=PAPER_SIZES[0], layers=PAPER_SIZES[1:])
    assert cfg.recurrent_weight_count() == 24_165_000
    tr = synthetic_egru_trace(PAPER_SIZES, PAPER_SPARSITY, activity=0.1, steps=1)
    views = {k: CSRView.of(m) for k, m in tr.matrices.items()}
    assert sum(v.nnz for v in views.values()) == 1_208_250
    assert sum(v.n_rows for v in views.values()) == 20_700
    assert sum(v.footprint_bytes() for v in views.values()) == 9_748_824


def test_checkpoint_roundtrip_keeps_weights_and_loads_with_weights_only(tmp_path):
    torch.manual_seed(0)
    model = EGRULM(small_cfg())
    MagnitudePruner(model.weight_matrices()).prune_to(0.8)
    vocab = list("abcdefghijk")
    # torch.__version__ is not a plain str: the record must still load with weights_only
    path = save_egru(tmp_path / "m.pt", model, vocab, {"torch": torch.__version__, "n": 3})
    back, v, rec = load_egru(path)
    assert v == vocab and rec == {"torch": str(torch.__version__), "n": 3}
    assert back.cfg == model.cfg and not back.training
    for k, t in model.state_dict().items():
        assert torch.equal(back.state_dict()[k], t), k
    torch.save({"format": "other"}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="not an nmsim-egru checkpoint"):
        load_egru(tmp_path / "other.pt")
