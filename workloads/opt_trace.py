"""Event-stream traces of real OPT decoding (dense or HardShrink-sparsified).

As for RWKV (``workloads.rwkv_trace``): a prompt of ``context`` tokens runs first, unrecorded,
filling the KV cache; then every token is one decoding step (``T == 1``, with the cache, as a
chip runs it), and at the four sites of every recorded layer the non-zero entries after the
thresholds are kept, per token, with the layer's shape (``workloads.opt_sites``). The prompt
runs with the thresholds too, so the cache holds what the sparsified model computes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from tqdm import tqdm

from models.opt import OPT, load_opt, load_tiny_opt, read_config
from models.opt_config import OPTConfig
from models.sparsify import OPTThresholdsFile, Thresholds, resolve_thresholds
from models.text import load_corpus, split_corpus
from workloads.opt_sites import opt_site_specs
from workloads.site_recording import Recorder, token_ids
from workloads.trace import SiteEvents, Trace, TraceMeta

#: prompt tokens before the first recorded one, by default
DEFAULT_CONTEXT = 128


def opt_trace_from_model(
    checkpoint: str | Path | OPT | None = None,
    *,
    config: str | Path | OPTConfig | None = None,
    thresholds: str | Path | OPTThresholdsFile | Thresholds | None = None,
    tokens: Sequence[int] | None = None,
    text: str | None = None,
    tokenizer: Callable[[str], list[int]] | None = None,
    n_tokens: int = 8,
    context: int = DEFAULT_CONTEXT,
    layers: Sequence[int] | None = None,
    description: str | None = None,
    progress: bool = False,
) -> Trace:
    """Trace ``n_tokens`` decoding steps after a prompt of ``context`` tokens.

    ``checkpoint``: None for the shipped tiny OPT, a Hugging Face-layout state dict file (with
    ``config``, a JSON file or an :class:`OPTConfig`), or a model. Input: ``tokens`` (ids), or
    ``text`` with ``tokenizer`` (the tiny model's character tokenizer by default); without
    either, the tiny model reads the held-out part of the shipped corpus. ``thresholds``: None
    (dense), a thresholds file or object. ``layers``: which layers to record (default all).
    """
    checkpoint_name = None
    if checkpoint is None:
        model, tok, _ = load_tiny_opt()
        tokenizer = tokenizer or tok.encode
        default_name = "OPT tiny (shipped)"
        checkpoint_name = "shipped tiny (models/artifacts/opt_tiny.pt)"
        if tokens is None and text is None:
            text = split_corpus(load_corpus())[1]
    elif isinstance(checkpoint, OPT):
        model, default_name = checkpoint, "OPT model"
    else:
        if config is None:
            raise ValueError("an OPT checkpoint file needs its config (OPTConfig or JSON file)")
        model = load_opt(checkpoint, config if isinstance(config, OPTConfig)
                         else read_config(config))
        checkpoint_name = str(checkpoint)
        default_name = f"OPT {Path(checkpoint).name}"
    cfg = model.cfg
    if checkpoint is not None:
        default_name += f" (L{cfg.n_layer}, d{cfg.d_model})"
    if n_tokens < 1 or context < 0:
        raise ValueError(f"need n_tokens >= 1 and context >= 0, got {n_tokens} and {context}")
    if context + n_tokens > cfg.max_positions:
        raise ValueError(f"context {context} + {n_tokens} tokens exceeds the model's "
                         f"max_positions {cfg.max_positions}")
    tokens = token_ids(tokens, text, tokenizer, context + n_tokens, cfg.vocab_size)
    th, th_file = resolve_thresholds(thresholds, model)
    if th is not None:
        th.check(model)
    sparsified = th is not None and th.enabled and bool(th.values)
    layers = list(range(cfg.n_layer)) if layers is None else list(layers)
    if any(not 0 <= i < cfg.n_layer for i in layers):
        raise ValueError(f"layers {layers}: must lie in [0, {cfg.n_layer}) (the model has "
                         f"{cfg.n_layer} layers)")
    specs = opt_site_specs(cfg, layers)
    rec = Recorder(th, [s.name for s in specs])
    cache = None
    with torch.no_grad():
        if context:
            _, cache = model(torch.tensor([tokens[:context]]), cache, rec)
        rec.on = True
        for t in tqdm(tokens[context:], desc="trace", unit="token", disable=not progress):
            _, cache = model(torch.tensor([[t]]), cache, rec)
    meta = TraceMeta(
        kind="opt",
        synthetic=False,
        model=description or f"{default_name} {'sparsified' if sparsified else 'dense'}",
        n_steps=n_tokens,
        sites=specs,
        extra={
            "n_layer": cfg.n_layer,
            "d_model": cfg.d_model,
            "n_head": cfg.n_head,
            "ffn_dim": cfg.ffn_dim,
            "vocab_size": cfg.vocab_size,
            "max_positions": cfg.max_positions,
            "layers": layers,
            "sparsified": sparsified,
            "thresholds_file": th_file,
            "checkpoint": checkpoint_name,
            "context": context,  # KV-cache length at the first recorded step
            "token_ids": tokens[context:],
        },
    )
    events = {n: SiteEvents.from_steps(steps) for n, steps in rec.steps.items()}
    return Trace(meta=meta, events=events)
