"""The sites of an RWKV-4 trace: one per linear layer's input, with that layer's shape.

Site names ``blocks.{i}.att.key`` etc. (``models.rwkv_sites.SITE_SUFFIXES``); group
``time_mix`` (att) or ``channel_mix`` (ffn); ``size`` = input features, ``out_features`` = output
features; RWKV weights are dense (``weight_density = 1``, no matrix stored). Shared by real
(``workloads.rwkv_trace``) and synthetic (``workloads.rwkv_synthetic``) traces; no torch.
"""

from __future__ import annotations

from collections.abc import Sequence

from models.rwkv_config import RWKVConfig
from models.rwkv_sites import SITE_SUFFIXES
from workloads.trace import SiteSpec

GROUPS = {"att": "time_mix", "ffn": "channel_mix"}


def rwkv_site_specs(cfg: RWKVConfig, blocks: Sequence[int]) -> list[SiteSpec]:
    """Static description of the seven sites of each listed block."""
    specs = []
    for b in blocks:
        for suffix in SITE_SUFFIXES:
            size, out = cfg.site_shape(suffix)
            specs.append(SiteSpec(name=f"blocks.{b}.{suffix}", group=GROUPS[suffix[:3]],
                                  size=size, out_features=out, weight_density=1.0))
    return specs
