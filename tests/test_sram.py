import pytest
from pydantic import ValidationError

from simulator.components import Sram, SramAllocationError, SramConfig
from simulator.engine import Engine


def test_allocation_spans_banks_and_reports_shortfall(sram_config):
    s = Sram(Engine(1000), "pe0.sram", sram_config)
    a = s.allocate("weights", 2500)  # 2.5 banks of 1 kB
    assert (a.first_bank, a.last_bank, a.nbytes) == (0, 2, 2500)
    s.allocate("state", 1000)
    assert s.free_bytes == 4096 - 3500
    with pytest.raises(SramAllocationError) as err:
        s.allocate("buffers", 1000)
    e = err.value
    assert (e.region, e.requested, e.free, e.missing) == ("buffers", 1000, 596, 404)
    assert "pe0.sram" in str(e) and "'buffers'" in str(e) and "404 B missing" in str(e)


def test_allocation_in_a_bank_and_rounding(sram_config):
    s = Sram(Engine(1000), "m", sram_config)
    a = s.allocate("x", 3, bank=3)  # rounds up to one word
    assert (a.offset, a.nbytes, a.first_bank) == (3072, 4, 3)
    with pytest.raises(SramAllocationError, match="bank 3"):
        s.allocate("y", 1021, bank=3)
    s.release("x")
    s.allocate("y", 1024, bank=3)


def test_fragmentation_is_reported(sram_config):
    s = Sram(Engine(1000), "m", sram_config)
    for i in range(4):
        s.allocate(f"a{i}", 512, bank=i)
    with pytest.raises(SramAllocationError, match="largest contiguous hole is 512"):
        s.allocate("big", 1024)


def test_bank_port_serialises_accesses(sram_config):
    eng = Engine(1000)
    s = Sram(eng, "m", sram_config)
    done = []

    def reader(bank, words):
        yield from s.access(bank, words)
        done.append((bank, eng.now))

    eng.env.process(reader(0, 10))
    eng.env.process(reader(0, 5))  # same bank: waits
    eng.env.process(reader(1, 5))  # other bank: parallel
    eng.run()
    assert sorted(done) == [(0, 10), (0, 15), (1, 5)]
    reads = [r for r in eng.ledger.rows() if r["operation"] == "read"][0]
    assert reads["count"] == 20 and reads["energy_pj"] == pytest.approx(100.0)


@pytest.mark.parametrize(
    "field,value", [("banks", 0), ("word_bytes", -4), ("bank_bytes", 1022), ("read_energy_pj", -1)]
)
def test_config_validation_names_field(sram_config, field, value):
    data = sram_config.model_dump() | {field: value}
    with pytest.raises(ValidationError, match=field if field != "bank_bytes" else "multiple"):
        SramConfig(**data)
