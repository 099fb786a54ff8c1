import pytest

from simulator.components import Dma, Dram, Sram
from simulator.engine import Engine


def test_transfer_timing_and_energy(sram_config, dma_config):
    eng = Engine(1000)
    sram = Sram(eng, "sram", sram_config)
    dma = Dma(eng, "dma", dma_config, sram)
    done = dma.transfer(200, bank=1)
    eng.run()
    # 10 setup + bursts of 64, 64, 64, 8 bytes at 4 B/cycle = 16 + 16 + 16 + 2
    assert done.triggered and eng.now == 10 + 50
    by_op = eng.ledger.by("component", "operation")
    assert by_op[("dma", "transfer")] == pytest.approx(200 * 0.5)
    assert by_op[("sram", "write")] == pytest.approx(50 * 7.0)  # 50 words written


def test_descriptors_served_in_order(sram_config, dma_config):
    eng = Engine(1000)
    dma = Dma(eng, "dma", dma_config, Sram(eng, "sram", sram_config))
    order = []
    for n in (64, 4, 32):
        dma.transfer(n, bank=0).callbacks.append(lambda ev, n=n: order.append((n, eng.now)))
    eng.run()
    assert order == [(64, 26), (4, 37), (32, 55)]
    assert dma.completed == 3


def test_dma_competes_with_core_for_bank(sram_config, dma_config):
    eng = Engine(1000)
    sram = Sram(eng, "sram", sram_config)
    dma = Dma(eng, "dma", dma_config.model_copy(update={"setup_cycles": 0}), sram)
    t = {}

    def core():
        yield from sram.access(0, 30)  # holds bank 0 for cycles 0..30
        t["core"] = eng.now

    eng.env.process(core())
    dma.transfer(64, bank=0).callbacks.append(lambda ev: t.setdefault("dma", eng.now))
    eng.run()
    assert t == {"core": 30, "dma": 46}


def test_from_dram_holds_a_channel(sram_config, dma_config, dram_config):
    eng = Engine(1000)
    sram = Sram(eng, "sram", sram_config)
    dram = Dram(eng, "lpddr", dram_config)
    dmas = [Dma(eng, f"dma{i}", dma_config, sram) for i in range(2)]
    for i, d in enumerate(dmas):
        d.transfer(64, bank=i, dram=dram)
    eng.run()
    # each: 10 setup, then 20 latency + 64 B at min(4, 8) B/cycle = 16 cycles; one channel, so
    # the second waits for the first to finish (10 + 36 + 36)
    assert eng.now == 82
    assert eng.ledger.by("component")["lpddr"] == pytest.approx(2 * 64 * 20.0)


def test_bad_transfer_rejected(sram_config, dma_config):
    eng = Engine(1000)
    dma = Dma(eng, "dma", dma_config, Sram(eng, "sram", sram_config))
    with pytest.raises(ValueError, match="bank 9"):
        dma.transfer(10, bank=9)
    with pytest.raises(ValueError, match="0 bytes"):
        dma.transfer(0, bank=0)
