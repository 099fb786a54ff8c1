"""Event-stream traces of real RWKV-4 inference (dense or HardShrink-sparsified).

Tokens run one at a time through the model in RNN mode (as a chip runs them); at every linear
layer's input ("site", see ``workloads.rwkv_sites``) the non-zero entries after the threshold are
recorded, per token, with the layer's shape.

This is the module that needs torch. What needs none lives apart and is re-exported here:
the sites (``workloads.rwkv_sites``) and what a trace says (``workloads.rwkv_summary``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from tqdm import tqdm

from models.rwkv import RWKV4, load_rwkv4, load_tiny_rwkv
from models.rwkv_sites import site_names
from models.sparsify import Thresholds, ThresholdsFile, resolve_thresholds
from models.text import load_corpus, split_corpus
from workloads.rwkv_sites import GROUPS, rwkv_site_specs
from workloads.rwkv_summary import measured_profile, profile_table, summarize
from workloads.site_recording import Recorder, token_ids
from workloads.trace import SiteEvents, Trace, TraceMeta

__all__ = ["GROUPS", "measured_profile", "profile_table", "rwkv_site_specs",
           "rwkv_trace_from_model", "summarize"]


def rwkv_trace_from_model(
    checkpoint: str | Path | RWKV4 | None = None,
    *,
    thresholds: str | Path | ThresholdsFile | Thresholds | None = None,
    tokens: Sequence[int] | None = None,
    text: str | None = None,
    tokenizer: Callable[[str], list[int]] | None = None,
    n_tokens: int = 32,
    skip: int = 0,
    blocks: Sequence[int] | None = None,
    description: str | None = None,
    progress: bool = False,
) -> Trace:
    """Trace ``n_tokens`` tokens of real inference.

    ``checkpoint``: None for the shipped tiny model, a path to an official-layout RWKV-4 ``.pth``,
    or a model. Input: ``tokens`` (ids), or ``text`` with ``tokenizer`` (the tiny model's own
    character tokenizer by default); without either, the tiny model reads the held-out part of the
    shipped corpus. ``skip`` tokens run first without being recorded (the state warms up).
    ``thresholds``: None (dense), a thresholds file or object. ``blocks``: which blocks to record
    (default all). ``progress`` shows a progress bar over tokens.
    """
    checkpoint_name = None
    if checkpoint is None:
        model, tok, _ = load_tiny_rwkv()
        tokenizer = tokenizer or tok.encode
        default_name = "RWKV-4 tiny (shipped)"
        checkpoint_name = "shipped tiny (models/artifacts/rwkv_tiny.pth)"
        if tokens is None and text is None:
            text = split_corpus(load_corpus())[1]
    else:
        if isinstance(checkpoint, RWKV4):
            model, default_name = checkpoint, "RWKV-4 model"
        else:
            model = load_rwkv4(checkpoint)
            checkpoint_name = str(checkpoint)
            default_name = f"RWKV-4 {Path(checkpoint).name}"
        default_name += f" (L{model.cfg.n_layer}, C{model.cfg.n_embd})"
    cfg = model.cfg
    tokens = token_ids(tokens, text, tokenizer, skip + n_tokens, cfg.vocab_size)
    th, th_file = resolve_thresholds(thresholds, model)
    if th is not None:
        th.check(model)
    sparsified = th is not None and th.enabled and bool(th.values)
    blocks = list(range(cfg.n_layer)) if blocks is None else list(blocks)
    if any(not 0 <= b < cfg.n_layer for b in blocks):
        raise ValueError(f"blocks {blocks}: must lie in [0, {cfg.n_layer}) (the model has "
                         f"{cfg.n_layer} blocks)")
    rec = Recorder(th, site_names(cfg.n_layer, blocks))
    state = None
    for i, t in enumerate(tqdm(tokens, desc="trace", unit="token", disable=not progress)):
        rec.on = i >= skip
        _, state = model.step(t, state, rec)
    meta = TraceMeta(
        kind="rwkv",
        synthetic=False,
        model=description or f"{default_name} {'sparsified' if sparsified else 'dense'}",
        n_steps=n_tokens,
        sites=rwkv_site_specs(cfg, blocks),
        extra={
            "n_layer": cfg.n_layer,
            "n_embd": cfg.n_embd,
            "vocab_size": cfg.vocab_size,
            "dim_ffn": cfg.dim_ffn,
            "blocks": blocks,
            "sparsified": sparsified,
            "thresholds_file": th_file,
            "checkpoint": checkpoint_name,
            "skip_tokens": skip,
            "token_ids": tokens[skip:],
        },
    )
    events = {n: SiteEvents.from_steps(steps) for n, steps in rec.steps.items()}
    return Trace(meta=meta, events=events)
