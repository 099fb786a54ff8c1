"""What every trace of real inference shares: a site function that records non-zeros, and the
token ids it runs on (``workloads.rwkv_trace``, ``workloads.opt_trace``).

Needs torch (a model runs wherever this is used).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import Tensor

from models.sparsify import Thresholds


class Recorder:
    """Site function: applies the thresholds (if any), records non-zeros of the wanted sites
    while ``on``."""

    def __init__(self, inner: Thresholds | None, wanted: Sequence[str]) -> None:
        self.inner = inner
        self.steps: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {n: [] for n in wanted}
        self.on = False

    def __call__(self, name: str, x: Tensor) -> Tensor:
        y = self.inner(name, x) if self.inner is not None else x
        if self.on and name in self.steps:
            flat = y.reshape(-1)
            idx = torch.nonzero(flat).flatten()
            self.steps[name].append((idx.numpy().astype(np.int32),
                                     flat[idx].numpy().astype(np.float32)))
        return y


def token_ids(tokens: Sequence[int] | None, text: str | None,
              tokenizer: Callable[[str], list[int]] | None, needed: int,
              vocab_size: int) -> list[int]:
    """The first ``needed`` token ids: ``tokens``, or ``text`` through ``tokenizer``; every id
    checked against the vocabulary."""
    if tokens is None:
        if text is None or tokenizer is None:
            raise ValueError("give token ids, or text and a tokenizer for this checkpoint")
        tokens = tokenizer(text[: 16 * needed + 64])
    tokens = list(tokens)[:needed]
    if len(tokens) < needed:
        raise ValueError(f"need {needed} tokens, got {len(tokens)}")
    if any(not 0 <= t < vocab_size for t in tokens):
        raise ValueError(f"token ids must lie in [0, {vocab_size})")
    return tokens
