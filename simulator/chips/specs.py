"""Shared hardware specs (``calibration/specs.py``) turned into component configs, once for
every chip."""

from __future__ import annotations

from typing import Literal

from calibration.specs import NocSpec
from simulator.components import NocConfig


def noc_config(spec: NocSpec, routing: Literal["xy", "shortest"]) -> NocConfig:
    """A chip's NoC section as the ``Noc`` component's config."""
    return NocConfig(
        clock_hz=int(spec.clock.value), routing=routing,
        router_latency_cycles=int(spec.router_latency.value),
        link_width_bits=int(spec.link_width.value), header_bits=int(spec.header_bits.value),
        max_payload_bits=int(spec.max_payload_bits.value),
        inject_energy_pj=spec.inject_energy.value, hop_energy_pj=spec.hop_energy.value,
        hop_energy_per_bit_pj=spec.hop_energy_per_bit.value,
    )
