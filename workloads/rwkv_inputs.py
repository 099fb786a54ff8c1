"""The dense and sparse RWKV-4 traces a token simulation compares, from what the user names.

- nothing: a synthetic RWKV-4 3B block with the published profiles (``published-3b-dense`` vs
  ``published-3b-sparse``, Knunyants et al. 2025), labelled synthetic;
- a size (169M, 430M, 1.5B, 3B): the same profiles at that size (the profile is the 3B one);
- ``tiny``: real inference of the shipped tiny model on held-out text, without and with its
  shipped thresholds;
- a ``.pth`` path: real inference of the user's RWKV-4, with a thresholds file and tokenizer;
- trace files: a sparse trace and, optionally, its dense counterpart; without one the dense run
  takes every input as non-zero.

Only real inference needs torch: it is imported when a model runs, not with this module.
"""

from __future__ import annotations

from pathlib import Path

from models.shipped import RWKV_TINY_THRESHOLDS, artifact_path
from models.text import load_corpus, read_text_file, split_corpus
from workloads.rwkv_synthetic import RWKV4_SIZES, synthetic_rwkv_trace
from workloads.token_traces import load_pair
from workloads.trace import Trace

DEFAULT_SIZE = "3B"
#: tokens simulated by default: a synthetic trace's tokens carry the same number of
#: non-zeros per site (one token's block figures differ from four tokens' average by under
#: 0.003 %), real ones vary more
DEFAULT_TOKENS = {"synthetic": 1, "real": 16}
#: tokens a real model runs before recording, so its state has warmed up
WARMUP_TOKENS = 16
#: the block of a real model simulated by default (block 0 also carries the input layer norm)
DEFAULT_REAL_BLOCK = 1


def load_traces(
    model: str | None = None, trace: str | Path | None = None,
    dense_trace: str | Path | None = None, thresholds: str | Path | None = None,
    tokenizer: str | None = None, text_file: str | Path | None = None,
    tokens: int | None = None, block: int | None = None, seed: int = 0,
) -> tuple[Trace, Trace]:
    """``(dense, sparse)`` traces; see the module docstring."""
    if trace is not None:
        if model is not None:
            raise ValueError("give --model or --trace, not both")
        return load_pair(trace, dense_trace, "rwkv",
                         "rwkv-token needs an RWKV trace (nmsim trace rwkv)")
    if dense_trace is not None:
        raise ValueError("--dense-trace goes with --trace")
    model = model or DEFAULT_SIZE
    if model in RWKV4_SIZES:
        if block not in (None, 0):
            raise ValueError("a synthetic trace has one block (the profile averages all blocks)")
        n = tokens or DEFAULT_TOKENS["synthetic"]
        return tuple(synthetic_rwkv_trace(model, f"published-3b-{mode}", n_tokens=n, seed=seed)
                     for mode in ("dense", "sparse"))
    n = tokens or DEFAULT_TOKENS["real"]
    blocks = [DEFAULT_REAL_BLOCK if block is None else block]
    text = read_text_file(text_file) if text_file else None
    if model == "tiny":
        checkpoint, th = None, artifact_path(RWKV_TINY_THRESHOLDS)
    else:
        if not Path(model).is_file():
            raise ValueError(f"--model {model!r}: not 'tiny', a size ({', '.join(RWKV4_SIZES)}) "
                             "or an existing .pth file")
        if thresholds is None or tokenizer is None:
            raise ValueError("--model PATH needs --thresholds (from `nmsim sparsify rwkv`) and "
                             "--tokenizer")
        checkpoint, th = model, thresholds
        from models.sparsify import load_thresholds  # torch: a real model runs

        load_thresholds(th)  # a broken file fails before the dense run, not after it
        if text is None:  # the shipped public-domain text, its held-out part
            text = split_corpus(load_corpus())[1]
    return _real_traces(checkpoint, th, text=text, tokenizer=tokenizer, n_tokens=n,
                        blocks=blocks)


def _real_traces(
    checkpoint: str | None, thresholds: str | Path, *, text: str | None,
    tokenizer: str | None, n_tokens: int, blocks: list[int],
) -> tuple[Trace, Trace]:
    """``(dense, sparse)`` traces of real inference (the shipped tiny model for ``None``)."""
    from models.rwkv import load_tokenizer  # the one torch user here: imported when it runs
    from workloads.rwkv_trace import rwkv_trace_from_model

    tok = load_tokenizer(tokenizer) if tokenizer else None
    common = dict(text=text, tokenizer=tok, n_tokens=n_tokens, skip=WARMUP_TOKENS,
                  blocks=blocks)
    return (rwkv_trace_from_model(checkpoint, **common),
            rwkv_trace_from_model(checkpoint, thresholds=thresholds, **common))
