"""RWKV-4 model: official checkpoint layout, loading errors, the `rwkv` package as oracle,
sequence mode vs RNN mode, and the shipped tiny model."""

from __future__ import annotations

import os

import pytest
import torch

from models.rwkv import (
    RWKV4,
    TINY_CHECKPOINT,
    CheckpointError,
    RWKVConfig,
    artifact_path,
    load_rwkv4,
    load_tiny_rwkv,
    save_rwkv4,
    window_loss,
    windows,
)
from models.rwkv_sites import site_names, site_suffix
from models.text import load_corpus, split_corpus

pytestmark = pytest.mark.usefixtures("one_thread")


def random_model(n_layer: int = 2, n_embd: int = 16, vocab: int = 11, seed: int = 0) -> RWKV4:
    """Random weights of a realistic scale (raw time_decay around 0, as checkpoints store it)."""
    torch.manual_seed(seed)
    m = RWKV4(RWKVConfig(n_layer, n_embd, vocab))
    with torch.no_grad():
        for name, p in m.named_parameters():
            if "time_mix" in name:
                p.uniform_(0, 1)
            else:
                p.normal_(0, 0.5)
    return m.eval()


def official_keys(n_layer: int, c: int, v: int) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of an official RWKV-4 checkpoint, written out independently."""
    keys = {"emb.weight": (v, c), "blocks.0.ln0.weight": (c,), "blocks.0.ln0.bias": (c,),
            "ln_out.weight": (c,), "ln_out.bias": (c,), "head.weight": (v, c)}
    for i in range(n_layer):
        b = f"blocks.{i}."
        for ln in ("ln1", "ln2"):
            keys[b + ln + ".weight"] = keys[b + ln + ".bias"] = (c,)
        keys[b + "att.time_decay"] = keys[b + "att.time_first"] = (c,)
        for mix in ("att.time_mix_k", "att.time_mix_v", "att.time_mix_r", "ffn.time_mix_k",
                    "ffn.time_mix_r"):
            keys[b + mix] = (1, 1, c)
        for lin in ("att.key", "att.value", "att.receptance", "att.output", "ffn.receptance"):
            keys[b + lin + ".weight"] = (c, c)
        keys[b + "ffn.key.weight"] = (4 * c, c)
        keys[b + "ffn.value.weight"] = (c, 4 * c)
    return keys


def test_state_dict_is_the_official_layout():
    sd = RWKV4(RWKVConfig(3, 8, 5)).state_dict()
    assert {k: tuple(v.shape) for k, v in sd.items()} == official_keys(3, 8, 5)


def test_save_load_roundtrip_converts_bf16_to_float32(tmp_path):
    m = random_model()
    path = save_rwkv4(m, tmp_path / "m.pth", dtype=torch.bfloat16)
    raw = torch.load(path, map_location="cpu", weights_only=True)
    assert all(t.dtype == torch.bfloat16 for t in raw.values())
    m2 = load_rwkv4(path)
    assert m2.cfg == m.cfg
    for k, v in m2.state_dict().items():
        assert v.dtype == torch.float32
        assert torch.equal(v, m.state_dict()[k].to(torch.bfloat16).float()), k


def test_missing_key_names_itself(tmp_path):
    sd = random_model().state_dict()
    del sd["blocks.1.att.time_first"]
    torch.save(sd, tmp_path / "m.pth")
    missing = r"missing keys \['blocks\.1\.att\.time_first'\]"
    with pytest.raises(CheckpointError, match=missing) as e:
        load_rwkv4(tmp_path / "m.pth")
    assert str(tmp_path / "m.pth") in str(e.value)


def test_misshaped_key_names_itself():
    sd = random_model().state_dict()
    sd["blocks.0.ffn.value.weight"] = torch.zeros(16, 32)
    with pytest.raises(CheckpointError, match=r"blocks\.0\.ffn\.value\.weight: \(16, 32\), "
                       r"expected \(16, 64\)"):
        load_rwkv4(sd)


def test_squeezed_time_mix_is_accepted_and_unexpected_keys_are_named():
    sd = random_model().state_dict()
    sd["blocks.0.att.time_mix_k"] = sd["blocks.0.att.time_mix_k"].flatten()  # (C,) exporters
    load_rwkv4(sd)
    sd["blocks.0.att.ln_x.weight"] = torch.ones(16)
    with pytest.raises(CheckpointError, match=r"unexpected keys.*ln_x.*RWKV-5/6"):
        load_rwkv4(sd)


def test_unreadable_file_is_a_checkpoint_error(tmp_path):
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="bad.pth"):
        load_rwkv4(bad)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_rwkv4(tmp_path / "absent.pth")


def rwkv_oracle(path_without_ext: str):
    """The PyPI `rwkv` package's RWKV-4 (CPU, fp32, no JIT/CUDA)."""
    pytest.importorskip("rwkv")
    os.environ.setdefault("RWKV_JIT_ON", "0")
    os.environ.setdefault("RWKV_CUDA_ON", "0")
    from rwkv.model import RWKV

    return RWKV(model=path_without_ext, strategy="cpu fp32", verbose=False)


#: the `rwkv` package's RWKV-4 state: five tensors per block, in this order (its ``forward``)
ORACLE_STATE = ("att_x", "aa", "bb", "pp", "ffn_x")


def state_error(ours: list, ref: list) -> float:
    """Largest difference between our recurrent state and the package's, relative to the size
    of each tensor (at least 1): token-shift inputs and the WKV accumulators ``aa, bb, pp``."""
    assert len(ref) == len(ORACLE_STATE) * len(ours)
    worst = 0.0
    for i, st in enumerate(ours):
        for j, name in enumerate(ORACLE_STATE):
            a, b = getattr(st, name).reshape(-1), ref[i * len(ORACLE_STATE) + j].reshape(-1)
            worst = max(worst, ((a - b).abs().max() / b.abs().max().clamp(min=1.0)).item())
    return worst


def compare_with_oracle(model: RWKV4, oracle, tokens: list[int]) -> tuple[float, float]:
    """(largest logit difference, largest relative state difference) over the tokens, run one
    at a time (RNN mode) in both, then as one sequence (the package's ``forward_seq`` path,
    our chunked WKV), whose final logits and state are compared too."""
    worst, worst_state, s1, s2 = 0.0, 0.0, None, None
    for t in tokens:
        ref, s1 = oracle.forward([t], s1)
        ours, s2 = model.step(t, s2)
        worst = max(worst, (ref - ours).abs().max().item())
        worst_state = max(worst_state, state_error(s2, s1))
    ref, s1 = oracle.forward(tokens, None)
    with torch.no_grad():
        ours, s2 = model(torch.tensor([tokens]))
    worst = max(worst, (ref - ours[0, -1]).abs().max().item())
    return worst, max(worst_state, state_error(s2, s1))


def test_logits_match_the_rwkv_package_on_a_random_state_dict(tmp_path):
    m = random_model(n_layer=2, n_embd=64, vocab=50, seed=1)
    save_rwkv4(m, tmp_path / "rand.pth")
    oracle = rwkv_oracle(str(tmp_path / "rand"))  # the package appends ".pth"
    tokens = [3, 17, 42, 0, 49, 7, 7, 21, 5, 33]
    logits, state = compare_with_oracle(load_rwkv4(tmp_path / "rand.pth"), oracle, tokens)
    assert logits < 1e-4 and state < 1e-5
    # and the comparison can fail: a bonus 1% off is seen in the logits, a decay 1% off (what
    # the WKV state forgets per token) in the state
    with torch.no_grad():
        m.blocks[1].att.time_first += 0.01
    assert compare_with_oracle(m, oracle, tokens)[0] > 1e-4
    with torch.no_grad():
        m.blocks[1].att.time_first -= 0.01
        m.blocks[1].att.time_decay += 0.01
    assert compare_with_oracle(m, oracle, tokens)[1] > 1e-4


def test_logits_match_the_rwkv_package_on_the_trained_tiny_model(tmp_path):
    model, tok, _ = load_tiny_rwkv()
    # float32 copy: the package computes ln0(emb) in the file's dtype (bf16), we in float32
    sd = torch.load(artifact_path(TINY_CHECKPOINT), map_location="cpu", weights_only=True)
    torch.save({k: v.float() for k, v in sd.items()}, tmp_path / "tiny.pth")
    oracle = rwkv_oracle(str(tmp_path / "tiny"))
    logits, state = compare_with_oracle(model, oracle, tok.encode("To be, or not"))
    assert logits < 1e-4 and state < 1e-5


def test_sequence_mode_equals_rnn_mode_for_any_chunk():
    m = random_model(n_layer=2, n_embd=16, vocab=11)
    tokens = torch.randint(0, 11, (1, 23), generator=torch.Generator().manual_seed(0))
    state, rnn = None, []
    for t in tokens[0].tolist():
        logits, state = m.step(t, state)
        rnn.append(logits)
    rnn = torch.stack(rnn)
    with torch.no_grad():
        for chunk in (1, 5, 16, 64):
            seq, _ = m(tokens, chunk=chunk)
            assert torch.allclose(seq[0], rnn, atol=1e-5), chunk
        first, st = m(tokens[:, :10])  # state carries across calls
        second, _ = m(tokens[:, 10:], st)
    assert torch.allclose(torch.cat([first, second], 1)[0], rnn, atol=1e-5)


def test_training_gradients_are_finite():
    m = random_model().train()
    logits, _ = m(torch.randint(0, 11, (2, 40)))
    logits.logsumexp(-1).mean().backward()
    grads = [p.grad for p in m.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert m.blocks[1].att.time_decay.grad.abs().sum() > 0


def test_site_function_sees_each_linear_input_with_its_size():
    m = random_model(n_layer=2, n_embd=16)
    seen: dict[str, int] = {}

    def site(name: str, x: torch.Tensor) -> torch.Tensor:
        seen[name] = x.shape[-1]
        return x

    m(torch.tensor([[1, 2, 3]]), site=site)
    assert list(seen) == [  # called in execution order
        f"blocks.{i}.{s}" for i in range(2) for s in
        ("att.key", "att.value", "att.receptance", "att.output", "ffn.receptance", "ffn.key",
         "ffn.value")
    ]
    assert set(seen) == set(site_names(2))
    assert {n: m.cfg.site_shape(site_suffix(n))[0] for n in seen} == seen
    with torch.no_grad():
        dense, _ = m(torch.tensor([[1, 2, 3]]))
        zeroed, _ = m(torch.tensor([[1, 2, 3]]),
                      site=lambda n, x: x * 0 if n == "blocks.1.ffn.value" else x)
    assert not torch.allclose(dense, zeroed)


def test_shipped_tiny_model_is_small_and_trained():
    assert artifact_path(TINY_CHECKPOINT).stat().st_size < 4_000_000
    model, tok, meta = load_tiny_rwkv()
    assert (model.cfg.n_layer, model.cfg.n_embd) == (4, 128)
    held = windows(tok.encode(split_corpus(load_corpus())[1][:4200]), 128)
    loss = window_loss(model, held)
    assert loss < 1.6  # nats/char; a uniform guess would be log(70) = 4.25
    assert abs(loss - meta["eval"]["heldout_loss_nats_per_char"]) < 0.15
