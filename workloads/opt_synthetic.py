"""Synthetic OPT traces at the published size from a per-site sparsity profile (no torch).

As for RWKV (``workloads.rwkv_synthetic``): the simulator needs where the non-zeros are, per
token and site, and OPT-2.7B's weights are not at hand offline, so events are drawn to follow
a profile (``workloads.opt_sites.PUBLISHED_PROFILES``, or any ``{suffix: sparsity}``) with the
count rule of ``workloads.synthetic_events``. The down-projection input is a ReLU output
(non-negative values); the others a HardShrink of a Gaussian. Every trace is marked
``synthetic=True`` and names its profile.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from models.opt_config import OPT_1_3B, OPT_2_7B, OPT_125M, SITE_SUFFIXES, OPTConfig
from workloads.opt_sites import PUBLISHED_PROFILES, opt_site_specs
from workloads.synthetic_events import synthetic_site_events
from workloads.trace import Trace, TraceError, TraceMeta

#: published OPT sizes this module can draw at (the profile is always the 2.7B one)
OPT_SIZES: dict[str, OPTConfig] = {"125M": OPT_125M, "1.3B": OPT_1_3B, "2.7B": OPT_2_7B}


def synthetic_opt_trace(size: str = "2.7B",
                        profile: str | Mapping[str, float] = "published-2.7b-1.0005",
                        n_tokens: int = 1, n_layers: int = 1, seed: int = 0) -> Trace:
    """``n_tokens`` tokens through the first ``n_layers`` decoder layers of OPT-``size``."""
    if size not in OPT_SIZES:
        raise TraceError(f"unknown OPT size {size!r}: one of {', '.join(OPT_SIZES)}")
    cfg = OPT_SIZES[size]
    if not 1 <= n_layers <= cfg.n_layer:
        raise TraceError(f"n_layers must lie in [1, {cfg.n_layer}] for OPT-{size}")
    if n_tokens < 1:
        raise TraceError("n_tokens must be >= 1")
    if isinstance(profile, str):
        if profile not in PUBLISHED_PROFILES:
            raise TraceError(f"unknown profile {profile!r}: one of "
                             f"{', '.join(PUBLISHED_PROFILES)}")
        name, prof = profile, PUBLISHED_PROFILES[profile]
    else:
        name, prof = "custom", dict(profile)
    bad = [s for s in SITE_SUFFIXES if not 0.0 <= prof.get(s, -1.0) < 1.0]
    if bad:
        raise TraceError(f"profile needs a sparsity in [0, 1) for {', '.join(bad)}")
    rng = np.random.default_rng(seed)
    specs = opt_site_specs(cfg, range(n_layers))
    events = {}
    for spec in specs:
        suffix = spec.name.split(".", 2)[2]
        kind = "relu" if suffix == "mlp.down" else "two_sided"
        events[spec.name] = synthetic_site_events(rng, spec.size, prof[suffix], n_tokens, kind)
    meta = TraceMeta(
        kind="opt", synthetic=True, profile=name, model=f"OPT-{size}", n_steps=n_tokens,
        sites=specs,
        extra={"n_layer": cfg.n_layer, "d_model": cfg.d_model, "n_head": cfg.n_head,
               "ffn_dim": cfg.ffn_dim, "layers": list(range(n_layers)),
               "profile_sparsity": prof, "seed": seed,
               "count_rule": "exact: round((1 - sparsity) * size) non-zeros per token and site"})
    return Trace(meta=meta, events=events)
