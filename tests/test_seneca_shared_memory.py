"""SENECA's optional shared memory (HBM by default, or STT-MRAM) and the cores' DMA.

Expected numbers are written out from calibration/seneca.yaml ([Mem] rows of Tang et al. 2023
and the table's stated assumptions), never recomputed by calling the model.
"""

from __future__ import annotations

import pytest
import yaml

from calibration.schema import CalibrationError
from calibration.seneca import DEFAULT_PATH, load_seneca
from simulator.chips.registry import load_chip
from simulator.chips.seneca import SenecaCost, build_seneca
from simulator.chips.spinnaker2 import build_spinnaker2

# HBM at the 500 MHz core clock: 135 ns -> ceil(67.5) = 68 cycles; 256 GB/s over 8 channels ->
# 64 B/cycle per channel; 7 pJ/bit -> 56 pJ/B. DMA: 16 setup cycles, 4 B/cycle, 256 B bursts,
# 0.5 pJ/B. Data-memory write: 0.22 pJ/bit x 32 bit = 7.04 pJ per word.
HBM_LATENCY, HBM_PJ_PER_BYTE = 68, 56.0
DMA_SETUP, DMA_PJ_PER_BYTE, DMA_BYTES_PER_CYCLE, BURST = 16, 0.5, 4, 256
WORD_WRITE_PJ = 0.22 * 32


def _write(tmp_path, raw: dict):
    path = tmp_path / "seneca.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_dma_from_shared_memory_matches_the_hand_calculation():
    system = build_seneca(2, lambda core, item: None)
    dram = system.dram_of(0)
    assert dram is not None and dram.name == "shared_mem" and system.dram_of(1) is dram
    nbytes = 1000  # bursts of 256, 256, 256, 232 B
    done = system.cores[0].dma.transfer(nbytes, bank=0, dram=dram)
    system.engine.run()
    assert done.triggered
    # each burst waits the latency, then streams at the DMA's 4 B/cycle (slower than the
    # channel's 64): 64, 64, 64, 58 cycles
    bursts = [256, 256, 256, 232]
    assert system.engine.now == DMA_SETUP + sum(HBM_LATENCY + -(-b // DMA_BYTES_PER_CYCLE)
                                                for b in bursts) == 16 + 4 * 68 + 250
    by = system.engine.ledger.by("component", "operation")
    assert by[("shared_mem", "read")] == pytest.approx(nbytes * HBM_PJ_PER_BYTE)
    assert by[("core0.dma", "transfer")] == pytest.approx(nbytes * DMA_PJ_PER_BYTE)
    assert by[("core0.data_mem", "write")] == pytest.approx(250 * WORD_WRITE_PJ)  # 250 words
    dynamic = {k: v for k, v in system.engine.ledger.by("category").items() if k != "static"}
    assert sum(dynamic.values()) == pytest.approx(
        nbytes * (HBM_PJ_PER_BYTE + DMA_PJ_PER_BYTE) + 250 * WORD_WRITE_PJ)
    # the shared memory and the DMAs leak nothing: only the cores' own leakage is static
    static = {r["component"] for r in system.engine.ledger.rows() if r["category"] == "static"}
    assert static == {"core0", "core0.data_mem", "core1", "core1.data_mem"}


def test_stt_mram_is_the_documented_alternative(tmp_path):
    """25 ns -> 13 cycles; 144 bit per 25 ns = 0.72 GB/s on one channel = 1.44 B/cycle, slower
    than the DMA; 2 pJ/bit = 16 pJ/B."""
    chip = load_chip("seneca", ["shared_memory.technology=stt_mram"])
    system = chip.build(1, lambda core, item: None)
    cfg = system.dram_of(0).config
    assert (cfg.channels, cfg.latency_cycles) == (1, 13)
    assert cfg.bytes_per_cycle == pytest.approx(1.44)
    assert cfg.energy_per_byte_pj == pytest.approx(16.0)
    system.cores[0].dma.transfer(144, bank=0, dram=system.dram_of(0))
    system.engine.run()
    assert system.engine.now == DMA_SETUP + 13 + 100  # ceil(144 / 1.44) = 100 cycles


def test_rejects_bad_shared_memory_values(tmp_path):
    raw = yaml.safe_load(DEFAULT_PATH.read_text())
    raw["shared_memory"]["technologies"]["hbm"]["bandwidth"]["value"] = -1.0
    with pytest.raises(CalibrationError, match=r"shared_memory\.technologies\.hbm\.bandwidth"):
        load_seneca(_write(tmp_path, raw))
    raw = yaml.safe_load(DEFAULT_PATH.read_text())
    raw["shared_memory"]["technology"] = "sram"
    with pytest.raises(CalibrationError, match=r"shared_memory\.technology"):
        load_seneca(_write(tmp_path, raw))
    raw = yaml.safe_load(DEFAULT_PATH.read_text())
    raw.pop("dma")
    with pytest.raises(CalibrationError, match="dma"):
        load_seneca(_write(tmp_path, raw))


def test_host_port_and_shared_memory_of_each_system(tmp_path):
    system = build_seneca(2, lambda core, item: None)
    assert system.has_host_port and system.dram_of(0) is not None
    assert all(c.dma is not None for c in system.cores)
    assert not build_spinnaker2(1, lambda core, item: None).has_host_port
    analytic = load_chip("analytic").build(2, lambda core, item: None)
    assert analytic.has_host_port and analytic.dram_of(0) is None
    # a table without the two sections: no shared memory, no DMA, no static power added
    raw = yaml.safe_load(DEFAULT_PATH.read_text())
    raw.pop("shared_memory"), raw.pop("dma")
    bare = build_seneca(2, lambda core, item: None,
                        SenecaCost(load_seneca(_write(tmp_path, raw))))
    assert bare.dram_of(0) is None and bare.cores[0].dma is None
    assert system.dram_of(0).static_power_w == 0.0


def test_dma_setup_is_the_riscv_writing_a_descriptor():
    """6 RISC-V instructions x (5.9 + 5.7) pJ; 6 cycles + 4 register writes x 1 stall."""
    work = SenecaCost().dma_setup()
    assert work.cycles == 6 + 4
    assert work.energy_pj == pytest.approx(6 * 11.6)
