"""Synthetic events of one site: exactly as many non-zeros per step as a sparsity says.

Shared by the synthetic traces of every workload (``workloads.rwkv_synthetic``,
``workloads.opt_synthetic``):

- Count rule: every step has exactly ``round((1 - sparsity) * size)`` non-zeros (exact, not in
  expectation), so op counts of the trace reproduce the profile up to that rounding.
- Indices: a uniformly random subset per step (sorted).
- Values: what survives a HardShrink of a unit Gaussian at the kept fraction q
  (``two_sided``: magnitude from the normal tail beyond ``Phi^-1(1 - q/2)``, random sign); a
  ReLU output (``relu``: the top q of a Gaussian, ``z`` beyond ``Phi^-1(1 - q)``); a squared
  ReLU output (``squared_relu``: ``z**2`` of the same).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from workloads.trace import SiteEvents

ValueKind = Literal["two_sided", "relu", "squared_relu"]


def tail_values(rng: np.random.Generator, kind: ValueKind, kept: float,
                shape: tuple[int, int]) -> np.ndarray:
    """Gaussian tail samples by inverse CDF: P(Z > z) = u * tail mass, u uniform in (0, 1]."""
    from scipy.special import ndtri  # scipy only when a trace is drawn

    u = 1.0 - rng.random(shape)
    if kind == "squared_relu":
        mag = np.square(-ndtri(u * kept))
    elif kind == "relu":
        mag = -ndtri(u * kept)
    else:
        mag = -ndtri(u * kept / 2) * rng.choice(np.array([-1.0, 1.0]), size=shape)
    tiny = np.finfo(np.float32).tiny
    return np.where(np.abs(mag) < tiny, np.copysign(tiny, mag), mag).astype(np.float32)


def synthetic_site_events(rng: np.random.Generator, size: int, sparsity: float, steps: int,
                          kind: ValueKind = "two_sided") -> SiteEvents:
    """Events of one site over ``steps`` steps (see the module docstring)."""
    kept = 1.0 - sparsity
    k = int(round(kept * size))
    if k == size:
        idx = np.broadcast_to(np.arange(size, dtype=np.int32), (steps, k))
    else:
        idx = np.sort(np.argpartition(rng.random((steps, size)), k, axis=1)[:, :k],
                      axis=1).astype(np.int32)
    val = tail_values(rng, kind, kept, (steps, k))
    return SiteEvents(ptr=np.arange(steps + 1, dtype=np.int64) * k,
                      indices=np.ascontiguousarray(idx).reshape(-1), values=val.reshape(-1))
