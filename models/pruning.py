"""Unstructured magnitude pruning of recurrent-layer weights, global or per matrix, iterative.

Method of Mukherji et al., "Weight sparsity complements activity sparsity in neuromorphic
language models" (ICONS 2024): one global magnitude ranking over all RNN weight tensors (the
W and R matrices of every layer; embeddings, biases and thresholds stay dense), pruned in
steps with fine-tuning in between until the target sparsity. Nazeer et al. (AICAS 2024) prune
95% *per weight matrix*; ``scope="per_matrix"`` does that.

Counts are exact: pruning to sparsity ``s`` over ``n`` weights zeroes exactly ``round(s * n)``
of them (ties in magnitude broken by position, so it is deterministic). Weights already pruned
are zero, the smallest magnitude, so later steps keep them pruned.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Literal

import torch
from torch import Tensor

Scope = Literal["global", "per_matrix"]


def cubic_schedule(target: float, rounds: int) -> list[float]:
    """Sparsity after each of ``rounds`` pruning steps: ``target * (1 - (1 - k/rounds)^3)``
    (Zhu & Gupta, "To prune, or not to prune", 2017): big steps first, when the network has the
    most redundancy, small ones near the target. Ends exactly at ``target``."""
    if not 0.0 <= target < 1.0 or rounds < 1:
        raise ValueError("target must lie in [0, 1) and rounds be >= 1")
    return [target * (1.0 - (1.0 - k / rounds) ** 3) for k in range(1, rounds + 1)]


def _prune_mask(magnitudes: Tensor, n_prune: int) -> Tensor:
    """Boolean keep-mask that drops the ``n_prune`` smallest entries (stable: by position)."""
    keep = torch.ones(magnitudes.numel(), dtype=torch.bool)
    order = torch.sort(magnitudes.reshape(-1), stable=True).indices
    keep[order[:n_prune]] = False
    return keep.reshape(magnitudes.shape)


class MagnitudePruner:
    """Holds keep-masks for named weight tensors; :meth:`apply` re-zeroes pruned weights (call
    it after every optimiser step while fine-tuning)."""

    def __init__(self, params: Mapping[str, Tensor], scope: Scope = "global") -> None:
        if scope not in ("global", "per_matrix"):
            raise ValueError(f"scope must be 'global' or 'per_matrix', not {scope!r}")
        self.params = dict(params)
        self.scope = scope
        self.masks = {k: torch.ones_like(p, dtype=torch.bool) for k, p in self.params.items()}

    def prune_to(self, sparsity: float) -> None:
        """Recompute masks from current magnitudes so that exactly ``round(sparsity * n)``
        weights are zero (over all tensors, or in every tensor for ``per_matrix``)."""
        if not 0.0 <= sparsity <= 1.0:
            raise ValueError("sparsity must lie in [0, 1]")
        with torch.no_grad():
            mags = {k: (p * self.masks[k]).abs().detach() for k, p in self.params.items()}
            if self.scope == "per_matrix":
                self.masks = {k: _prune_mask(m, round(sparsity * m.numel()))
                              for k, m in mags.items()}
            else:
                flat = torch.cat([m.reshape(-1) for m in mags.values()])
                keep = _prune_mask(flat, round(sparsity * flat.numel()))
                self.masks, start = {}, 0
                for k, m in mags.items():
                    self.masks[k] = keep[start : start + m.numel()].reshape(m.shape)
                    start += m.numel()
        self.apply()

    def apply(self) -> None:
        with torch.no_grad():
            for k, p in self.params.items():
                p.mul_(self.masks[k])

    def sparsity(self) -> float:
        """Fraction of zero weights over all pruned tensors (measured on the weights)."""
        zeros = sum(int((p == 0).sum()) for p in self.params.values())
        return zeros / sum(p.numel() for p in self.params.values())


def iterative_prune(
    pruner: MagnitudePruner,
    target: float,
    rounds: int,
    fine_tune: Callable[[int, float], None],
) -> list[float]:
    """Prune a step, fine-tune, repeat (:func:`cubic_schedule`); ``fine_tune(round, sparsity)``
    must call ``pruner.apply()`` after each optimiser step. Returns the schedule."""
    schedule = cubic_schedule(target, rounds)
    for k, s in enumerate(schedule):
        pruner.prune_to(s)
        fine_tune(k, s)
        pruner.apply()
    return schedule
