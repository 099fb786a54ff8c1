"""Operation counts of a trace, with NeuroBench's definitions (PyPI ``neurobench`` 2.3).

- dense MACs: every weight times every input, as if all were non-zero;
- effective MACs: sum over (non-zero input x non-zero weight), bias excluded; one sparse
  column walk per event (the non-zeros of the active input's column) is exactly this count;
- activation sparsity: fraction of zero inputs;
- connection sparsity: fraction of zero weights.

Counts separate the two kinds of sparsity too (weight-only and activity-only), because their
product rule (work left = activity x weight density) is what sparse hardware exploits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from workloads.trace import SiteSpec, Trace


@dataclass(frozen=True)
class SiteOps:
    """Per-step-averaged MAC counts of one site."""

    site: str
    group: str
    dense_macs: float  # all inputs, all weights
    weight_sparse_macs: float  # all inputs, non-zero weights only
    activity_sparse_macs: float  # non-zero inputs, all weights
    effective_macs: float  # non-zero inputs x non-zero weights (NeuroBench effective MACs)
    activation_sparsity: float  # fraction of zero inputs
    connection_sparsity: float  # fraction of zero weights

    def as_dict(self) -> dict:
        return asdict(self)


def column_nnz(trace: Trace, site: SiteSpec) -> np.ndarray | None:
    """Non-zeros per input column of the site's matrix, when the trace stores the matrix."""
    if site.matrix is None:
        return None
    m = trace.matrices[site.matrix]
    return np.bincount(m.indices, minlength=site.size)


def site_ops(trace: Trace, site_name: str, steps: slice | None = None) -> SiteOps:
    """MAC counts of one site, averaged over the selected steps (default: all)."""
    s = trace.site(site_name)
    ev = trace.events[site_name]
    n_steps = trace.meta.n_steps
    sel = range(n_steps)[steps] if steps is not None else range(n_steps)
    if len(sel) == 0:
        raise ValueError(f"no steps selected in a trace of {n_steps} steps")
    nnz_col = column_nnz(trace, s)
    weights = s.size * s.out_features
    nnz_w = float(nnz_col.sum()) if nnz_col is not None else weights * s.weight_density
    n_events = 0
    effective = 0.0
    for t in sel:
        idx, _ = ev.step(t)
        n_events += len(idx)
        if nnz_col is not None:
            effective += float(nnz_col[idx].sum())
        else:
            effective += len(idx) * s.out_features * s.weight_density
    k = len(sel)
    return SiteOps(
        site=s.name,
        group=s.group,
        dense_macs=float(weights),
        weight_sparse_macs=nnz_w,
        activity_sparse_macs=n_events / k * s.out_features,
        effective_macs=effective / k,
        activation_sparsity=1.0 - n_events / (k * s.size),
        connection_sparsity=1.0 - nnz_w / weights if weights else 0.0,
    )


def trace_ops(trace: Trace, steps: slice | None = None) -> list[SiteOps]:
    """:func:`site_ops` for every site of the trace."""
    return [site_ops(trace, s.name, steps) for s in trace.sites if s.out_features > 0]


def mac_weighted_sparsity(ops: list[SiteOps]) -> float:
    """Activation sparsity averaged with each site's dense MACs as weight (as published)."""
    total = sum(o.dense_macs for o in ops)
    return sum(o.activation_sparsity * o.dense_macs for o in ops) / total


@dataclass(frozen=True)
class ProductRule:
    """Work left after both sparsities against the product rule (Mukherji et al., ICONS 2024):
    for ``y = W x`` with a fraction ``a`` of active inputs and a fraction ``d`` of non-zero
    weights, effective / dense MACs = ``a * d`` when the active inputs' columns hold the
    average number of non-zeros. ``deviation`` = measured / predicted - 1 shows how far they
    do not (e.g. active units whose columns kept more weights after pruning)."""

    activity: float  # fraction of non-zero inputs, weighted by dense MACs over the sites
    weight_density: float  # fraction of non-zero weights over the sites
    predicted: float  # sum_i a_i * d_i * dense_i / sum_i dense_i (the rule, site by site)
    measured: float  # sum_i effective_i / sum_i dense_i
    deviation: float  # measured / predicted - 1 (0 when nothing is predicted or measured)

    def as_dict(self) -> dict:
        return asdict(self)


def product_rule(ops: Sequence[SiteOps]) -> ProductRule:
    """The product rule over ``ops`` (one site or many): predicted and measured work left
    relative to dense, from the counts of :func:`site_ops`."""
    ops = [o for o in ops if o.dense_macs > 0]
    if not ops:
        raise ValueError("no site with MACs")
    dense = sum(o.dense_macs for o in ops)
    act = [1.0 - o.activation_sparsity for o in ops]
    dens = [1.0 - o.connection_sparsity for o in ops]
    predicted = sum(a * d * o.dense_macs for a, d, o in zip(act, dens, ops, strict=True)) / dense
    measured = sum(o.effective_macs for o in ops) / dense
    return ProductRule(
        activity=sum(a * o.dense_macs for a, o in zip(act, ops, strict=True)) / dense,
        weight_density=sum(o.weight_sparse_macs for o in ops) / dense,
        predicted=predicted,
        measured=measured,
        deviation=measured / predicted - 1.0 if predicted > 0 else 0.0,
    )
