"""Shared fixtures: small, explicit component configurations (illustrative numbers, not a chip)."""

from __future__ import annotations

import pytest

from simulator.components import DmaConfig, DramConfig, NocConfig, SramConfig


@pytest.fixture
def sram_config() -> SramConfig:
    return SramConfig(banks=4, bank_bytes=1024, word_bytes=4, read_cycles=1, write_cycles=1,
                      read_energy_pj=5.0, write_energy_pj=7.0, static_power_w=1e-4)


@pytest.fixture
def noc_config() -> NocConfig:
    return NocConfig(clock_hz=100_000_000, router_latency_cycles=2, link_width_bits=32,
                     header_bits=32, max_payload_bits=128, inject_energy_pj=1.0,
                     hop_energy_pj=2.0, hop_energy_per_bit_pj=0.01)


@pytest.fixture
def dma_config() -> DmaConfig:
    return DmaConfig(setup_cycles=10, bytes_per_cycle=4, burst_bytes=64, energy_per_byte_pj=0.5)


@pytest.fixture
def dram_config() -> DramConfig:
    return DramConfig(bytes_per_cycle=8, latency_cycles=20, energy_per_byte_pj=20.0)


@pytest.fixture(scope="module")
def one_thread():
    """Small tensors: one torch thread is fastest, and immune to other jobs on shared cores.
    Modules that run torch use it with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    import torch  # here, so that modules without torch do not pay for importing it

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
