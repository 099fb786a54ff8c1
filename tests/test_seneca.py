"""SENECA cost table and chip model: table values, hand-calculated micro-workloads, options.

Expected numbers are written out from calibration/seneca.yaml (Tang et al. 2023, Table 8 and
the table's assumptions), never recomputed by calling the model.
"""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from calibration.schema import ASSUMPTION, CalibrationError, assumptions, cited_values
from calibration.seneca import DEFAULT_PATH, ELEMENTWISE_OPS, SenecaOptions, load_seneca
from simulator.chips.memory import CoreMemoryError
from simulator.chips.seneca import SenecaCost, build_seneca, mesh_shape
from simulator.chips.spinnaker2 import ELEMENTWISE_OPS as SPINNAKER2_OPS
from simulator.chips.work import Work
from simulator.ledger import Category

# Leakage of one core: data memory 256 kB x 8 bit x 10 pW + instruction memory 32 kB x 8 bit
# x 10 pW + register files 8 NPEs x 64 words x 16 bit x 600 pW (W).
CORE_LEAKAGE_W = 262144 * 8 * 10e-12 + 32768 * 8 * 10e-12 + 8 * 64 * 16 * 600e-12
CLOCK_HZ = 500e6


def _raw() -> dict:
    return yaml.safe_load(DEFAULT_PATH.read_text())


def _write(tmp_path, raw: dict):
    path = tmp_path / "seneca.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


# -- the table ----------------------------------------------------------------------------------
def test_instantiates_from_its_yaml():
    cfg = load_seneca()
    cost = SenecaCost(cfg)
    assert cost.clock_hz == 500_000_000 and cost.lanes == 8
    assert cost.options == SenecaOptions()  # bf16, 1 word per access, registers
    system = build_seneca(3, lambda core, item: None, cost)
    assert [c.name for c in system.cores] == ["core0", "core1", "core2"]
    assert system.cores[0].sram.config.total_bytes == 8 * 32768


@pytest.mark.parametrize(("edit", "field"), [
    (lambda r: r["core"]["clock"].update(value=-1), "core.clock.value"),
    (lambda r: r["riscv"].pop("event_instructions"), "riscv.event_instructions"),
    (lambda r: r["npe"]["instructions"]["mld"]["total"].update(value=4.5),
     "npe.instructions.mld"),
    (lambda r: r["elementwise"].pop("exp"), "elementwise"),
    (lambda r: r["precisions"]["bf16"]["mac"].update(fma=r["precisions"]["bf16"]["mac"]
                                                       ["fp_arith"]), "precisions.bf16.mac"),
    (lambda r: r["noc"].update(mesh_columns={"value": 4, "unit": "cores", "source": "[x] y"}),
     "mesh_rows"),
])
def test_invalid_yaml_names_the_field(tmp_path, edit, field):
    raw = _raw()
    edit(raw)
    with pytest.raises(CalibrationError, match=field.replace(".", r"\.")):
        load_seneca(_write(tmp_path, raw))


def test_every_value_is_cited_and_assumptions_are_listed():
    cfg = load_seneca()
    values = cited_values(cfg)
    tags = ("[Tang23]", "[Mem]", "[Ibex]")
    for path, c in values.items():
        assert c.source.strip() and c.unit.strip(), path
        assert c.assumed or any(t in c.source for t in tags), f"{path}: no source tag"
    assumed = assumptions(cfg)
    for path in ("core.clock", "core.other_static_power", "npe.cycles_per_instruction",
                 "riscv.event_instructions", "data_memory.blocks", "data_memory.reserved_bytes",
                 "instruction_memory.blocks", "register_file.words_per_npe", "noc.router_latency",
                 "noc.link_width", "noc.hop_energy_per_bit", "precisions.int4.mac.bitwise",
                 "elementwise.exp.instructions.fp_arith"):
        assert path in assumed, path
    for path, c in assumed.items():
        assert len(c.source) > len(ASSUMPTION) + 10, f"{path}: an assumption must say why"
    assert cfg.noc.mesh_source.lower().startswith(ASSUMPTION)


def test_elementwise_ops_match_the_protocol():
    assert ELEMENTWISE_OPS == SPINNAKER2_OPS
    assert sorted(load_seneca().elementwise) == sorted(SPINNAKER2_OPS)


# -- hand calculations --------------------------------------------------------------------------
def test_one_event_into_16_weights_matches_the_hand_calculation():
    """Core 0 sends one event (16-bit id + 16-bit value) to core 1, one hop away; core 1 runs
    the RISC-V event handler and multiplies the event into 16 BF16 weights."""
    cost = SenecaCost()

    def handler(core, item):
        yield cost.receive_event().apply(core)
        yield cost.column(16).apply(core)

    system = build_seneca(2, handler, cost=cost)
    system.send(0, [1], payload_bits=16)
    end = system.engine.run()

    noc_cycles = 1 + 2  # ceil(32 bits / 32-bit link) + router latency 2
    riscv_cycles = 10 * 1 + 1 * 1 + 1 * 2  # 10 instr, 1 data-access stall, 1 taken branch (2)
    column_cycles = 2 * 3  # ceil(16 / 8 NPEs) = 2 weights per lane x (MLD, MUL, ADD)
    assert end == noc_cycles + riscv_cycles + column_cycles == 22

    noc_pj = 1 * 32 * 0.0625  # 1 hop x 32 bits x (2 pJ / 32 bit)
    riscv_pj = 10 * 11.6 + 1 * 10.0  # instructions (5.9 + 5.7 fetch) + one data access
    column_pj = 16 * 3.7 + 16 * 1.4 + 16 * 1.4  # MLD + MUL + ADD per weight (Table 8 totals)
    static_pj = 2 * CORE_LEAKAGE_W * 22 / CLOCK_HZ * 1e12  # two cores for 22 cycles
    ledger = system.engine.ledger
    assert ledger.total() == pytest.approx(noc_pj + riscv_pj + column_pj + static_pj, rel=1e-12)
    assert ledger.by("category")[Category.STATIC] == pytest.approx(static_pj, rel=1e-12)

    by = ledger.by("component", "operation")
    assert by[("noc", "hop")] == pytest.approx(2.0)
    assert by[("core1.data_mem", "mld")] == pytest.approx(16 * 2.9)  # memory part of MLD
    assert by[("core1.npe", "mld")] == pytest.approx(16 * 0.6)
    assert by[("core1.loop_buffer", "mld")] == pytest.approx(2 * 1.6)  # 2 broadcasts
    assert by[("core1.loop_buffer", "fp_arith")] == pytest.approx(4 * 0.9)  # MUL, ADD x 2
    assert by[("core1.riscv", "instruction")] == pytest.approx(10 * 5.9)
    assert by[("core1.instr_mem", "fetch")] == pytest.approx(10 * 5.7)
    assert by[("core1.data_mem", "riscv_access")] == pytest.approx(10.0)
    assert ledger.by("component", "operation", value="cycles")[("core1.npe", "fp_arith")] == 4


def test_partly_filled_broadcasts_still_cost_the_loop_buffer():
    work = SenecaCost().column(5)  # 1 weight per lane, 3 NPEs idle
    assert work.cycles == 3
    # lane-instructions: MLD 5 x (0.6 + 2.9), MUL/ADD 10 x (1.4 - 0.9 / 8);
    # broadcasts: 1 MLD x 1.6, 2 x 0.9
    assert work.energy_pj == pytest.approx(5 * 3.5 + 10 * 1.2875 + 1.6 + 2 * 0.9)


def test_elementwise_and_events_match_the_table():
    cost = SenecaCost()
    add = cost.elementwise("add", 8)  # 2 MLD + ADD + MST per element, one element per lane
    assert add.cycles == 4
    assert add.energy_pj == pytest.approx(8 * (2 * 3.7 + 1.4 + 3.9))
    events = cost.send_events(3)  # one EVC broadcast on 3 lanes, 3 generated events
    assert events.cycles == 1
    assert events.energy_pj == pytest.approx(3 * (0.5 - 0.5 / 8) + 0.5 + 3 * 1.1)
    for op in SPINNAKER2_OPS:
        assert cost.elementwise(op, 17).cycles > 0
    with pytest.raises(ValueError, match="unknown element-wise op"):
        cost.elementwise("softmax", 4)
    assert cost.elementwise("add", 0) == Work(label="add")


def test_csr_columns_equal_the_sum_of_csr_column():
    cost = SenecaCost(options={"precision": "int8"})
    nnz = np.array([0, 1, 7, 8, 9, 40])
    many = cost.csr_columns(nnz)
    single = [cost.csr_column(int(n)) for n in nnz]
    assert many.cycles == sum(w.cycles for w in single)
    assert many.energy_pj == pytest.approx(sum(w.energy_pj for w in single))
    # int8 CSR non-zero: 0.5 weight MLD + index MLD + partial-sum MLD + MST + 2 2xINT8
    assert cost.csr_column(8).energy_pj == pytest.approx(8 * (2.5 * 3.7 + 3.9 + 2 * 1.2))


# -- options ------------------------------------------------------------------------------------
def test_options_hand_calculations():
    int8 = SenecaCost(options={"precision": "int8"}).column(16)
    assert int8.cycles == 2 * 1.5  # 2 weights per lane x (1/2 MLD + 1 2xINT8)
    assert int8.energy_pj == pytest.approx(16 * (3.7 / 2 + 1.2))
    memory = SenecaCost(options={"accumulators": "memory"}).column(16)
    assert memory.cycles == 2 * 5  # MLD weight, MLD sum, MUL, ADD, MST sum
    assert memory.energy_pj == pytest.approx(16 * (3.7 + 3.7 + 1.4 + 1.4 + 3.9))
    wide = SenecaCost(options={"weight_words_per_access": 4}).column(32)
    assert wide.cycles == 4 * (0.25 + 2)
    # one 64-bit load per 4 weights: 4 x 2.9 memory + 0.6 NPE + 1.6 / 8 loop buffer
    assert wide.energy_pj == pytest.approx(8 * (4 * 2.9 + 0.6 + 0.2) + 32 * 2.8)


def test_options_change_energy_per_mac_in_the_documented_direction():
    def pj(**opts) -> float:
        return SenecaCost(options=opts).mac_cost()[0]

    for acc in ("registers", "memory"):
        assert pj(precision="int4", accumulators=acc) < pj(precision="int8", accumulators=acc) \
            < pj(precision="bf16", accumulators=acc)
    for precision in ("bf16", "int8", "int4"):
        assert pj(precision=precision) < pj(precision=precision, accumulators="memory")
        assert pj(precision=precision, weight_words_per_access=4) \
            < pj(precision=precision, weight_words_per_access=2) < pj(precision=precision)
    assert SenecaCost().mac_cost() == pytest.approx((3.7 + 2 * 1.4, 3 / 8))


def test_options_are_validated():
    with pytest.raises(ValidationError, match="precision"):
        SenecaOptions(precision="fp8")
    with pytest.raises(ValidationError, match="weight_words_per_access"):
        SenecaCost(options={"weight_words_per_access": 3})
    with pytest.raises(ValidationError, match="precison"):
        SenecaCost(options={"precison": "int8"})


def test_weight_bytes_count_whole_words():
    assert SenecaCost().weight_bytes(3) == 6
    assert SenecaCost(options={"precision": "int8"}).weight_bytes(3) == 4
    assert SenecaCost(options={"precision": "int4"}).weight_bytes(3) == 2
    assert SenecaCost(options={"precision": "int4"}).weight_bytes(5) == 4


# -- memory, static power, topology -------------------------------------------------------------
def test_capacity_and_static_power():
    cost = SenecaCost()
    assert cost.weight_capacity_bytes() == 262144 - 4096
    assert cost.static_power_w() == pytest.approx(CORE_LEAKAGE_W)


def test_memory_overflow_names_the_bytes_missing():
    system = build_seneca(1, lambda core, item: None)
    with pytest.raises(CoreMemoryError, match="1952 B missing") as err:
        system.load(0, 0, {"weights": 260_000})  # 258048 B free after the 4096 B reserve
    assert err.value.missing == 1952
    check = system.load(0, 0, {"weights": 200_000, "states": 60_000}, check_only=True)
    assert check.missing == 1952 and not system.cores[0].sram.allocations
    fit = system.load(0, 0, {"weights": 200_000, "states": 58_048})
    assert fit.fits and system.cores[0].sram.free_bytes == 0
    assert fit.data == {"reserved": 4096, "weights": 200_000, "states": 58_048}
    with pytest.raises(CoreMemoryError, match="program"):  # 32 kB instruction memory
        build_seneca(1, lambda core, item: None).load(0, 40_000, {})


def test_mesh_shape_and_multicast_trains(tmp_path):
    cfg = load_seneca()
    assert mesh_shape(cfg, 1) == (1, 1)
    assert mesh_shape(cfg, 5) == (3, 2)
    raw = _raw()
    raw["noc"]["mesh_columns"] = {"value": 2, "unit": "cores", "source": "[Tang23] test"}
    raw["noc"]["mesh_rows"] = {"value": 2, "unit": "cores", "source": "[Tang23] test"}
    fixed = load_seneca(_write(tmp_path, raw))
    assert mesh_shape(fixed, 3) == (2, 2)
    with pytest.raises(ValueError, match="do not fit"):
        build_seneca(5, lambda core, item: None, SenecaCost(fixed))

    got = []
    system = build_seneca(4, lambda core, item: got.append((core.name, item.count)),
                          SenecaCost(fixed))
    system.send(0, [1, 2, 3], payload_bits=16, count=2)
    system.engine.run()
    assert sorted(got) == [("core1", 2), ("core2", 2), ("core3", 2)]
    # XY tree from (0, 0): to (1, 0), to (0, 1), and (1, 0) -> (1, 1): 3 links, 2 packets, 2 pJ
    assert system.engine.ledger.by("component", "operation")[("noc", "hop")] == \
        pytest.approx(3 * 2 * 2.0)


def test_build_rejects_bad_arguments():
    with pytest.raises(ValueError, match="handlers"):
        build_seneca(2, [lambda core, item: None])
    with pytest.raises(ValueError, match="n_cores"):
        build_seneca(-1, lambda core, item: None)
    assert build_seneca(0, lambda core, item: None).cores == []
