"""A third chip, defined only in test files, runs both jobs through the one path (the "add a
chip" walk-through of docs/architecture.md)."""

from __future__ import annotations

import hashlib

import pytest
from toychip import FILE, TOYCHIP

from simulator.chips import registry
from simulator.jobs.egru_sweep import simulate_partition
from simulator.jobs.rwkv_token import rwkv_token
from workloads.egru_partition import layers_from_trace, partition
from workloads.egru_trace import synthetic_egru_trace
from workloads.rwkv_inputs import load_traces


@pytest.fixture(scope="module")
def toychip():
    registry.register(TOYCHIP)
    yield registry.load_chip("toychip")
    registry.unregister("toychip")


def test_registered_chip_is_listed_and_loads_from_its_file(toychip):
    assert "toychip" in registry.names()
    by_file = registry.load_chip(FILE)
    assert by_file.name == "toychip"
    assert by_file.sha256 == hashlib.sha256(FILE.read_bytes()).hexdigest()
    with pytest.raises(registry.ChipError, match="lanes"):
        registry.load_chip(FILE, ["lanes=0"])  # Positive: the override is validated


def test_rwkv_token_runs_on_the_third_chip(toychip):
    dense, sparse = load_traces("tiny", tokens=2)
    result = rwkv_token(dense, sparse, toychip)
    assert result.provenance.chip == "toychip"
    block = result.sparse["block"]
    assert block["total"].energy_j == pytest.approx(
        sum(block[c].energy_j for c in ("computation", "memory", "communication", "control",
                                        "static")))
    assert result.sparse["block"]["total"].energy_j < result.dense["block"]["total"].energy_j
    # folded by role: no core name is left in the breakdown
    assert not any(r.component.startswith("core") for r in result.breakdown)


def test_egru_runs_on_the_third_chip(toychip):
    trace = synthetic_egru_trace((12, 16, 16), 0.5, activity=0.3, steps=3, seed=1)
    run = simulate_partition(trace, partition(layers_from_trace(trace), 4), toychip,
                             record=True)
    assert run.chip.name == "toychip" and run.report["energy_j"] > 0
    macs = sum(r["count"] for r in run.ledger.rows() if r["operation"] == "mac")
    assert macs > 0
