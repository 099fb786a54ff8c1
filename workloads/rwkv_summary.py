"""What an RWKV-4 trace (real or synthetic) says per site: measured sparsity profile, op counts.

Reads traces only, so it needs no torch (``workloads.rwkv_trace`` records real ones).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from models.rwkv_sites import SITE_SUFFIXES, site_suffix
from workloads.opcounts import mac_weighted_sparsity, trace_ops
from workloads.trace import Trace


def measured_profile(trace: Trace) -> dict[str, float]:
    """Activation sparsity per site suffix, averaged over the trace's blocks and tokens (the
    input of :func:`workloads.rwkv_synthetic.synthetic_rwkv_trace`)."""
    acc: dict[str, list[float]] = {}
    for s in trace.sites:
        n = trace.events[s.name].counts().sum()
        acc.setdefault(site_suffix(s.name), []).append(1.0 - n / (trace.meta.n_steps * s.size))
    return {k: float(np.mean(acc[k])) for k in SITE_SUFFIXES if k in acc}


def profile_table(profiles: Mapping[str, Mapping[str, float]]) -> str:
    """Plain-text table of per-site sparsity (%) for one or more named profiles."""
    names = list(profiles)
    lines = [f"{'site':16s}" + "".join(f"{n:>22s}" for n in names)]
    for s in SITE_SUFFIXES:
        lines.append(f"{s:16s}" + "".join(f"{100 * profiles[n].get(s, 0.0):21.1f}%"
                                          for n in names))
    return "\n".join(lines)


def summarize(trace: Trace) -> str:
    """Provenance label, per-site sparsity and NeuroBench-style op counts per token, split into
    Time-Mix and Channel-Mix (what `nmsim trace rwkv` prints)."""
    ops = trace_ops(trace)
    lines = [trace.label, f"{trace.meta.n_steps} tokens, {len(trace.sites)} sites"]
    lines.append(profile_table({"activation sparsity": measured_profile(trace)}))
    for group in ("time_mix", "channel_mix", None):
        sel = [o for o in ops if group is None or o.group == group]
        dense = sum(o.dense_macs for o in sel)
        eff = sum(o.effective_macs for o in sel)
        lines.append(
            f"{group or 'total':12s} dense MACs/token {dense:14,.0f}  effective MACs/token "
            f"{eff:14,.0f}  MAC-weighted sparsity {100 * mac_weighted_sparsity(sel):5.1f}%"
        )
    return "\n".join(lines)
