"""The sites of an OPT trace and the published OPT-2.7B sparsity profile (no torch).

Site names ``layers.{i}.attn.qkv`` etc. (``models.opt_config.SITE_SUFFIXES``); group
``attention`` or ``mlp``; ``size`` = input features, ``out_features`` = output features of the
linear layer(s) behind the site (q, k and v together for ``attn.qkv``); OPT weights are dense.

Published profile: Knunyants et al., "Explore Activation Sparsity in Recurrent LLMs for
Energy-Efficient Neuromorphic Computing" (arXiv 2501.16337, AICAS 2025), §V, OPT-2.7B with the
same training-free threshold search, activation sparsity of the QKV / up / down projection
inputs averaged over the 32 layers: base 0 / 0 / 96 % (the down input is a ReLU output);
``loss_inc`` 1.0003: 46 / 35 / 97; 1.0004: 48 / 38 / 97; 1.0005: 50 / 39 / 97 %. The
out-projection input carries no threshold (0 %). The paper's *overall* figures (48 % base,
70.1 / 71.25 / 72.1 %) are kept as published (:data:`PUBLISHED_OVERALL`); they are about 15
points above the MAC-weighted mean of the per-site values over a layer's four linear layers
(32.0 / 55.5 / 57.0 / 58.2 %, :func:`mac_weighted`), a gap the paper does not explain (it may
count other operations, e.g. attention's own products); ``nmsim validate`` reports both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from models.opt_config import SITE_SUFFIXES, OPTConfig
from workloads.trace import SiteSpec

GROUPS = {"attn": "attention", "mlp": "mlp"}

#: activation sparsity per site suffix, OPT-2.7B (see the module docstring)
PUBLISHED_PROFILES: dict[str, dict[str, float]] = {
    "published-2.7b-base": {"attn.qkv": 0.00, "attn.out": 0.0, "mlp.up": 0.00, "mlp.down": 0.96},
    "published-2.7b-1.0003": {"attn.qkv": 0.46, "attn.out": 0.0, "mlp.up": 0.35, "mlp.down": 0.97},
    "published-2.7b-1.0004": {"attn.qkv": 0.48, "attn.out": 0.0, "mlp.up": 0.38, "mlp.down": 0.97},
    "published-2.7b-1.0005": {"attn.qkv": 0.50, "attn.out": 0.0, "mlp.up": 0.39, "mlp.down": 0.97},
}
#: the paper's overall sparsity of each profile, as published
PUBLISHED_OVERALL: dict[str, float] = {
    "published-2.7b-base": 0.48, "published-2.7b-1.0003": 0.701,
    "published-2.7b-1.0004": 0.7125, "published-2.7b-1.0005": 0.721,
}


def opt_site_specs(cfg: OPTConfig, layers: Sequence[int]) -> list[SiteSpec]:
    """Static description of the four sites of each listed layer."""
    specs = []
    for i in layers:
        for suffix in SITE_SUFFIXES:
            size, out = cfg.site_shape(suffix)
            specs.append(SiteSpec(name=f"layers.{i}.{suffix}", group=GROUPS[suffix.split(".")[0]],
                                  size=size, out_features=out, weight_density=1.0))
    return specs


def mac_weighted(cfg: OPTConfig, profile: Mapping[str, float]) -> float:
    """Sparsity of one layer's linear layers weighted by their MACs."""
    macs = {s: cfg.site_shape(s)[0] * cfg.site_shape(s)[1] for s in SITE_SUFFIXES}
    return sum(profile[s] * m for s, m in macs.items()) / sum(macs.values())
