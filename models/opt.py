"""OPT decoder in plain PyTorch, with the Hugging Face checkpoint key names and a KV cache.

The arithmetic of ``transformers``' ``OPTForCausalLM`` (eager attention, see
``models/opt_config.py`` for the structure): ``tests/test_opt_model.py`` checks the logits
against it on random weights. :meth:`OPT.forward` takes ``(B, T)`` tokens and a cache (one
``(keys, values)`` pair per layer, ``(B, heads, L, head_dim)``): with ``T == 1`` it is one
decoding step, as a chip runs it; with ``T > 1`` a causal prefill.

Every linear layer's input passes through a *site* function ``site(name, x) -> x`` (identity by
default) named like ``layers.3.mlp.up`` (``models.opt_config.SITE_SUFFIXES``): thresholds and
trace recording hook in there, as for RWKV.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models import shipped
from models.checkpoint_file import read_checkpoint
from models.opt_config import OPTConfig
from models.rwkv import CharTokenizer
from models.shipped import artifact_path

SiteFn = Callable[[str, Tensor], Tensor]
#: one layer's cached keys and values, each ``(B, heads, L, head_dim)``
LayerCache = tuple[Tensor, Tensor]

POSITION_OFFSET = 2  # OPT's learned positions start at index 2 (fairseq's padding legacy)


def _identity_site(name: str, x: Tensor) -> Tensor:
    return x


class OPTCheckpointError(ValueError):
    """A state dict is not a loadable OPT checkpoint; the message names the offending keys."""


class Attention(nn.Module):
    def __init__(self, cfg: OPTConfig) -> None:
        super().__init__()
        d, bias = cfg.d_model, cfg.enable_bias
        self.k_proj = nn.Linear(d, d, bias=bias)
        self.v_proj = nn.Linear(d, d, bias=bias)
        self.q_proj = nn.Linear(d, d, bias=bias)
        self.out_proj = nn.Linear(d, d, bias=bias)
        self.n_head, self.head_dim = cfg.n_head, cfg.head_dim

    def forward(self, x: Tensor, cache: LayerCache | None, name: str, site: SiteFn
                ) -> tuple[Tensor, LayerCache]:
        B, T, _ = x.shape
        x = site(f"{name}.attn.qkv", x)

        def heads(t: Tensor) -> Tensor:
            return t.view(B, T, self.n_head, self.head_dim).transpose(1, 2)

        q = heads(self.q_proj(x) * self.head_dim ** -0.5)
        k, v = heads(self.k_proj(x)), heads(self.v_proj(x))
        if cache is not None:
            k, v = torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
        scores = q @ k.transpose(-1, -2)  # (B, heads, T, L)
        L = k.shape[2]
        if T > 1:  # causal: query t (at position L - T + t) sees keys up to its own position
            seen = torch.arange(L)[None, :] <= torch.arange(L - T, L)[:, None]
            scores = scores.masked_fill(~seen, torch.finfo(scores.dtype).min)
        out = (F.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype) @ v)
        out = out.transpose(1, 2).reshape(B, T, -1)
        return self.out_proj(site(f"{name}.attn.out", out)), (k, v)


class DecoderLayer(nn.Module):
    def __init__(self, cfg: OPTConfig) -> None:
        super().__init__()
        d, affine = cfg.d_model, cfg.layer_norm_elementwise_affine
        self.self_attn = Attention(cfg)
        self.self_attn_layer_norm = nn.LayerNorm(d, elementwise_affine=affine)
        self.fc1 = nn.Linear(d, cfg.ffn_dim, bias=cfg.enable_bias)
        self.fc2 = nn.Linear(cfg.ffn_dim, d, bias=cfg.enable_bias)
        self.final_layer_norm = nn.LayerNorm(d, elementwise_affine=affine)
        self.pre_ln = cfg.do_layer_norm_before

    def forward(self, x: Tensor, cache: LayerCache | None, name: str, site: SiteFn
                ) -> tuple[Tensor, LayerCache]:
        h = self.self_attn_layer_norm(x) if self.pre_ln else x
        h, cache = self.self_attn(h, cache, name, site)
        x = x + h
        if not self.pre_ln:
            x = self.self_attn_layer_norm(x)
        h = self.final_layer_norm(x) if self.pre_ln else x
        h = F.relu(self.fc1(site(f"{name}.mlp.up", h)))
        x = x + self.fc2(site(f"{name}.mlp.down", h))
        if not self.pre_ln:
            x = self.final_layer_norm(x)
        return x, cache


class Decoder(nn.Module):
    def __init__(self, cfg: OPTConfig) -> None:
        super().__init__()
        d, e, affine = cfg.d_model, cfg.word_embed_proj_dim, cfg.layer_norm_elementwise_affine
        self.embed_tokens = nn.Embedding(cfg.vocab_size, e)
        self.embed_positions = nn.Embedding(cfg.max_positions + POSITION_OFFSET, d)
        self.project_in = nn.Linear(e, d, bias=False) if e != d else None
        self.project_out = nn.Linear(d, e, bias=False) if e != d else None
        final = cfg.do_layer_norm_before and not cfg.remove_final_layer_norm
        self.final_layer_norm = nn.LayerNorm(d, elementwise_affine=affine) if final else None
        self.layers = nn.ModuleList(DecoderLayer(cfg) for _ in range(cfg.n_layer))


class _Model(nn.Module):
    def __init__(self, cfg: OPTConfig) -> None:
        super().__init__()
        self.decoder = Decoder(cfg)


class OPT(nn.Module):
    """``OPTForCausalLM``'s parameters (``model.decoder.*``; the LM head is the token
    embedding, tied as in every OPT) and its forward pass with a KV cache."""

    def __init__(self, cfg: OPTConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.model = _Model(cfg)

    @property
    def decoder(self) -> Decoder:
        return self.model.decoder

    def forward(self, tokens: Tensor, cache: list[LayerCache] | None = None,
                site: SiteFn | None = None) -> tuple[Tensor, list[LayerCache]]:
        """Logits ``(B, T, vocab)`` of ``tokens`` after the ``cache``'s context, and the cache
        with them appended (``site`` None: the identity, as for RWKV)."""
        past = 0 if not cache else cache[0][0].shape[2]
        x, new = self.run_layers(self.embed(tokens, past), cache, site)
        return self.logits(x), new

    def embed(self, tokens: Tensor, past: int = 0) -> Tensor:
        """The residual stream ``(B, T, d_model)`` entering the first layer, for ``tokens``
        at positions ``past, past + 1, ...``."""
        dec = self.decoder
        T = tokens.shape[1]
        if past + T > self.cfg.max_positions:
            raise ValueError(f"context {past + T} exceeds max_positions {self.cfg.max_positions}")
        x = dec.embed_tokens(tokens)
        if dec.project_in is not None:
            x = dec.project_in(x)
        return x + dec.embed_positions(torch.arange(past, past + T) + POSITION_OFFSET)[None]

    def run_layers(self, x: Tensor, cache: list[LayerCache] | None = None,
                   site: SiteFn | None = None, start: int = 0, stop: int | None = None
                   ) -> tuple[Tensor, list[LayerCache]]:
        """The residual stream through layers ``start..stop-1`` (the threshold search reruns
        only the layers from the one it searches), and those layers' caches."""
        site = site or _identity_site
        new: list[LayerCache] = []
        for i in range(start, self.cfg.n_layer if stop is None else stop):
            x, c = self.decoder.layers[i](x, cache[i] if cache else None, f"layers.{i}", site)
            new.append(c)
        return x, new

    def logits(self, x: Tensor) -> Tensor:
        """Next-token logits of the last layer's residual stream (tied LM head)."""
        dec = self.decoder
        if dec.final_layer_norm is not None:
            x = dec.final_layer_norm(x)
        if dec.project_out is not None:
            x = dec.project_out(x)
        return F.linear(x, dec.embed_tokens.weight)


def load_opt(source: str | Path | Mapping[str, Tensor], cfg: OPTConfig) -> OPT:
    """An :class:`OPT` with the weights of a Hugging Face ``OPTForCausalLM`` state dict (a
    mapping, or a ``torch.save``d file of one); ``lm_head.weight``, if present, must equal the
    token embedding (OPT ties them). Every missing, mis-shaped or unexpected key is named."""
    state = (read_checkpoint(source, OPTCheckpointError, "not a readable OPT checkpoint")
             if isinstance(source, str | Path) else dict(source))
    model = OPT(cfg)
    head = state.pop("lm_head.weight", None)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    shapes = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or extra or shapes:
        parts = [f"{label}: {', '.join(keys[:5])}{' ...' if len(keys) > 5 else ''}"
                 for label, keys in (("missing", missing), ("unexpected", extra),
                                     ("wrong shape", shapes)) if keys]
        raise OPTCheckpointError(f"not an OPT checkpoint of {cfg}: " + "; ".join(parts))
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise OPTCheckpointError(f"non-finite values (NaN or inf) in {', '.join(bad[:5])}")
    model.load_state_dict({k: v.float() for k, v in state.items()})
    if head is not None and not torch.equal(head.float(), model.decoder.embed_tokens.weight):
        raise OPTCheckpointError("lm_head.weight differs from model.decoder.embed_tokens.weight: "
                                 "OPT ties them; an untied head is not supported")
    return model.eval()


def config_from_dict(raw: Mapping, where: str = "config") -> OPTConfig:
    """An :class:`OPTConfig` from its fields (the ``config`` of the tiny model's sidecar, or a
    user's JSON); unknown, missing or ill-typed fields are an :class:`OPTCheckpointError`."""
    types = {f.name: bool if f.type == "bool" else int for f in fields(OPTConfig)}
    unknown = sorted(set(raw) - set(types))
    if unknown:
        raise OPTCheckpointError(f"{where}: unknown OPTConfig fields {unknown} (known: "
                                 f"{', '.join(types)})")
    bad = [k for k, v in raw.items() if type(v) is not types[k]
           or (types[k] is int and v < (0 if k == "word_embed_proj_dim" else 1))]
    if bad:
        flags = ", ".join(k for k, t in types.items() if t is bool)
        raise OPTCheckpointError(f"{where}: bad fields {bad}: sizes are positive integers "
                                 f"(word_embed_proj_dim may be 0), {flags} are booleans")
    try:
        return OPTConfig(**raw)
    except (TypeError, ValueError) as e:
        raise OPTCheckpointError(f"{where}: not an OPT configuration: {e}") from None


def read_config(path: str | Path) -> OPTConfig:
    """An :class:`OPTConfig` from a JSON file of its fields, or of a record holding them under
    ``"config"`` (as the tiny model's ``opt_tiny.json``)."""
    try:
        raw = json.loads(Path(path).read_text("utf-8"))
    except FileNotFoundError:
        raise OPTCheckpointError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise OPTCheckpointError(f"{path}: not a readable JSON file: {e}") from None
    if isinstance(raw, dict) and isinstance(raw.get("config"), dict):
        raw = raw["config"]
    if not isinstance(raw, dict):
        raise OPTCheckpointError(f"{path}: not a JSON object of OPTConfig fields")
    return config_from_dict(raw, str(path))


#: The shipped tiny OPT (``models/train_tiny_opt.py``).
TINY_CHECKPOINT = shipped.OPT_TINY_CHECKPOINT
TINY_META = shipped.OPT_TINY_META
TINY_THRESHOLDS = shipped.OPT_TINY_THRESHOLDS


def load_tiny_opt() -> tuple[OPT, CharTokenizer, dict]:
    """The shipped tiny OPT (character level, Shakespeare tragedies), its tokenizer and record."""
    meta = json.loads(artifact_path(TINY_META).read_text("utf-8"))
    cfg = config_from_dict(meta["config"], TINY_META)
    return load_opt(artifact_path(TINY_CHECKPOINT), cfg), CharTokenizer(meta["vocab"]), meta
