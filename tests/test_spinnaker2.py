"""SpiNNaker2 cost table and chip model: table values, a hand-calculated micro-workload, memory.

Expected numbers are written out from calibration/spinnaker2.yaml (0.5 V operating point),
never recomputed by calling the model.
"""

from __future__ import annotations

import pytest
import yaml

from calibration.schema import ASSUMPTION, CalibrationError, assumptions, cited_values
from calibration.spinnaker2 import DEFAULT_PATH, FIT_PREFIX, load_spinnaker2
from simulator.chips.memory import CoreMemoryError
from simulator.chips.spinnaker2 import Spinnaker2Cost, build_spinnaker2
from simulator.ledger import Category

# 0.5 V: pe_cycle_energy 7.7917 pJ/cycle (every class relative_energy 1), SRAM read 2.25 pJ,
# write 2.75 pJ per word; PE sleep 1.0539 mW, periphery 75.2 mW; clock 150 MHz.
E_CYCLE, E_READ, E_WRITE = 7.7917, 2.25, 2.75
P_SLEEP, P_PERIPHERY, CLOCK_HZ = 0.0010539, 0.0752, 150e6


def _raw() -> dict:
    return yaml.safe_load(DEFAULT_PATH.read_text())


def test_instantiates_from_its_yaml():
    cfg = load_spinnaker2()
    cost = Spinnaker2Cost(cfg)
    assert cost.clock_hz == 150_000_000
    system = build_spinnaker2(5, lambda core, item: None, cost)
    assert len(system.cores) == 5 and system.cores[4].name == "pe4"
    assert system.cores[0].sram.config.total_bytes == 4 * 32768


@pytest.mark.parametrize(("edit", "field"), [
    (lambda r: r["operating_points"]["0.8V"].pop("pe_sleep_power"),
     "operating_points.0.8V.pe_sleep_power"),
    (lambda r: r["coremark_mix"]["load"].update(value=0.5), "coremark_mix"),
    (lambda r: r["kernels"]["receive_event"].update(fma={"value": 1, "unit": "x", "source": "y z"}),
     "kernels.receive_event"),
    (lambda r: r["noc"].update(latency=r["noc"]["router_latency"]), "noc.latency"),
])
def test_invalid_yaml_names_the_field(tmp_path, edit, field):
    raw = _raw()
    edit(raw)
    path = tmp_path / "spinnaker2.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(CalibrationError, match=field.replace(".", r"\.")):
        load_spinnaker2(path)


def test_every_value_is_cited_and_assumptions_are_listed():
    cfg = load_spinnaker2()
    tags = ("[DS]", "[Scholze26]", "[SpiNNMachine]", "[M4]", "[Nazeer24]", "[Tang23]", "[I]")
    for path, c in cited_values(cfg).items():
        assert c.source.strip() and c.unit.strip(), path
        ok = c.assumed or c.source.lower().startswith(FIT_PREFIX) or any(t in c.source
                                                                        for t in tags)
        assert ok, f"{path}: source names no reference"
    assumed = assumptions(cfg)
    for path in ("dma.setup_cycles", "dram.latency", "noc.hop_energy_per_bit",
                 "operating_points.0.5V.sram_read_energy", "coremark_mix.load"):
        assert path in assumed, path
    for path, c in assumed.items():
        assert len(c.source) > len(ASSUMPTION) + 10, f"{path}: an assumption must say why"


def test_one_event_into_16_weights_matches_the_hand_calculation():
    """One event in the inbox of a PE holding 16 FP32 weights: the packet-arrival interrupt
    (kernels.receive_event) and a dense column (dense_column_start + 16 x dense_column_weight)."""
    cost = Spinnaker2Cost()

    def handler(core, item):
        yield cost.receive_event().apply(core)
        yield cost.column(16).apply(core)

    system = build_spinnaker2(1, handler)
    system.cores[0].inbox.put("event")
    end = system.engine.run()

    # receive_event: isr_entry 12 + isr_exit 10 + 2 loads x 2 + 3 int_alu x 1 + branch 2
    receive_cycles = 12 + 10 + 2 * 2 + 3 * 1 + 2
    receive_reads, receive_writes = 8 + 2, 8  # unstacking + 2 loads; stacking
    # dense column: start = load 2 + 2 int_alu + branch 2; per weight = 2 pipelined loads (1
    # each) + fp_mac 3 + 0.25 x (store 2 + load 2 + int_alu 1 + branch 2)
    column_cycles = (2 + 2 + 2) + 16 * (2 * 1 + 3 + 0.25 * (2 + 2 + 1 + 2))
    column_reads = 1 + 16 * (2 + 0.25)
    column_writes = 16 * 0.25
    assert (receive_cycles, column_cycles) == (31, 114)
    assert end == receive_cycles + column_cycles

    dynamic = ((receive_cycles + column_cycles) * E_CYCLE
               + (receive_reads + column_reads) * E_READ
               + (receive_writes + column_writes) * E_WRITE)
    static = (P_SLEEP + P_PERIPHERY) * end / CLOCK_HZ * 1e12
    ledger = system.engine.ledger
    assert ledger.total() == pytest.approx(dynamic + static, rel=1e-12)
    assert ledger.by("category")[Category.STATIC] == pytest.approx(static, rel=1e-12)
    assert ledger.by("component")["pe0.sram"] == pytest.approx(
        (10 + 37) * E_READ + (8 + 4) * E_WRITE)


def test_memory_overflow_names_the_bytes_missing():
    system = build_spinnaker2(1, lambda core, item: None)
    # 96 KiB = 98304 B data, of which 5120 B stack/debug (Table I, 5 KB) are kept back: 100000
    # B of weights miss 5120 + 100000 - 98304 = 6816 B; program 18330 B (17.9 KB) fits the
    # 32 KiB program bank
    with pytest.raises(CoreMemoryError, match="6816 B missing") as err:
        system.load(0, 18_330, {"weights": 100_000})
    assert err.value.missing == 6816
    check = system.load(0, 18_330, {"weights": 100_000}, check_only=True)
    assert not check.fits and check.missing == 6816 and not system.cores[0].sram.allocations
    fit = system.load(0, 18_330, {"weights": 90_000, "state": 1})
    assert fit.fits and fit.data == {"stack_debug": 5120, "weights": 90_000, "state": 4}


def test_accelerators_lower_the_cost_in_the_documented_direction():
    fp32 = Spinnaker2Cost()
    mla = Spinnaker2Cost(precision="int8", use_mla=True)
    n = 4096
    assert mla.column(n).energy_pj / n < fp32.column(n).energy_pj / n
    assert mla.column(n).cycles < fp32.column(n).cycles
    soft = Spinnaker2Cost(use_exp_accelerator=False)
    assert fp32.elementwise("exp", 8).cycles < soft.elementwise("exp", 8).cycles
    with pytest.raises(ValueError, match="int8"):
        Spinnaker2Cost(use_mla=True)
