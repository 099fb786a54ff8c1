"""The OPT decoder against the Hugging Face ``transformers`` implementation (a dev extra):
same logits on random weights, prefill and step by step with the KV cache."""

from __future__ import annotations

import sys

import pytest
import torch

from models.opt import OPT, OPTCheckpointError, load_opt
from models.opt_config import OPT_2_7B, OPTConfig, site_names, site_suffix

try:  # a CUDA-only torchaudio wheel (pulled in by another dev extra) breaks transformers'
    import torchaudio  # noqa: F401  # optional-audio import; OPT needs no audio
except (ImportError, OSError):
    sys.modules["torchaudio"] = None  # type: ignore[assignment]
transformers = pytest.importorskip("transformers", reason="dev extra: pip install -e '.[dev]'")

SMALL = OPTConfig(n_layer=2, d_model=32, n_head=4, ffn_dim=64, vocab_size=97, max_positions=40)


def _hf(cfg: OPTConfig):
    torch.manual_seed(0)
    hf_cfg = transformers.OPTConfig(
        vocab_size=cfg.vocab_size, hidden_size=cfg.d_model, num_hidden_layers=cfg.n_layer,
        ffn_dim=cfg.ffn_dim, num_attention_heads=cfg.n_head,
        max_position_embeddings=cfg.max_positions, word_embed_proj_dim=cfg.word_embed_proj_dim,
        do_layer_norm_before=cfg.do_layer_norm_before, dropout=0.0, attention_dropout=0.0,
        activation_function="relu", pad_token_id=1)
    hf_cfg._attn_implementation = "eager"
    model = transformers.OPTForCausalLM(hf_cfg).eval()
    with torch.no_grad():  # random, not the init's zeros, so biases and norms are tested too
        for p in model.parameters():
            p.normal_(0, 0.2)
    return model


@pytest.fixture(scope="module")
def pair() -> tuple:
    hf = _hf(SMALL)
    return hf, load_opt(hf.state_dict(), SMALL)


def test_prefill_logits_equal_transformers(pair):
    hf, ours = pair
    tokens = torch.randint(0, SMALL.vocab_size, (2, 9), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        want = hf(tokens).logits
        got, cache = ours(tokens)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert len(cache) == SMALL.n_layer
    assert cache[0][0].shape == (2, SMALL.n_head, 9, SMALL.head_dim)


def test_decoding_with_the_cache_equals_the_full_forward(pair):
    hf, ours = pair
    tokens = torch.randint(0, SMALL.vocab_size, (1, 12), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        want = hf(tokens).logits
        _, cache = ours(tokens[:, :5])
        steps = []
        for t in range(5, 12):
            logits, cache = ours(tokens[:, t:t + 1], cache)
            steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), want[:, 5:], rtol=1e-5, atol=1e-5)
    assert cache[1][1].shape[2] == 12


def test_sites_see_every_linear_input_in_order(pair):
    _, ours = pair
    seen: list[tuple[str, int]] = []

    def site(name, x):
        seen.append((name, x.shape[-1]))
        return x

    with torch.no_grad():
        ours(torch.tensor([[3, 4]]), site=site)
    assert [n for n, _ in seen] == site_names(SMALL.n_layer)
    assert all(width == SMALL.site_shape(site_suffix(n))[0] for n, width in seen)


def test_checkpoint_errors_name_the_keys(pair):
    hf, _ = pair
    state = dict(hf.state_dict())
    del state["model.decoder.layers.1.fc2.bias"]
    with pytest.raises(OPTCheckpointError, match=r"missing: model\.decoder\.layers\.1\.fc2\.bias"):
        load_opt(state, SMALL)
    state = dict(hf.state_dict())
    state["model.decoder.layers.0.fc1.weight"] = state["model.decoder.layers.0.fc1.weight"].clone()
    state["model.decoder.layers.0.fc1.weight"][0, 0] = float("nan")
    with pytest.raises(OPTCheckpointError, match=r"non-finite.*layers\.0\.fc1\.weight"):
        load_opt(state, SMALL)


def test_kv_cache_bytes_by_hand():
    # OPT-2.7B, 1024 tokens of context, 16-bit values: keys and values of 2560 channels each
    assert OPT_2_7B.kv_cache_bytes(1024, 2) == 2 * 1024 * 2560 * 2 == 10_485_760
    assert OPT_2_7B.head_dim == 80 and OPT_2_7B.site_shape("attn.qkv") == (2560, 7680)
    assert OPT(SMALL).forward(torch.tensor([[1]]))[0].shape == (1, 1, SMALL.vocab_size)
