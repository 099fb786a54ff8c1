"""Calibration: fitted values equal what the fit returns, references are simulated, the
hardware doc is generated from the cost tables."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from calibration import seneca, spinnaker2
from calibration.fit import REFERENCES_DIR, fit_spinnaker2, load_references
from calibration.schema import CalibrationError, Cited, Reference, cited_values
from calibration.seneca import load_seneca
from calibration.specs import DmaSpec, DramSpec, NocSpec, SramSpec
from calibration.spinnaker2 import fitted, load_spinnaker2
from simulator.references import format_report, report_rows, simulation_for

ROOT = Path(__file__).resolve().parents[1]
#: the table stores fitted values to 5 significant digits
FIT_RTOL = 1e-4


@pytest.fixture(scope="module")
def spinnaker2_fit():
    return fit_spinnaker2()


def test_fit_values_in_the_table_equal_what_the_fit_returns(spinnaker2_fit):
    assert spinnaker2_fit.success, spinnaker2_fit.message
    table = fitted(load_spinnaker2())
    assert set(spinnaker2_fit.params) == set(table)  # every fitted parameter says "fit:"
    for path, cited in table.items():
        assert cited.value == pytest.approx(spinnaker2_fit.params[path], rel=FIT_RTOL), path


def test_fit_reproduces_its_fit_references_and_predicts_held_out_ones(spinnaker2_fit):
    refs = load_references("spinnaker2")
    errors = spinnaker2_fit.relative_errors(refs)
    for ref in refs.references:
        if ref.use == "fit":
            assert abs(errors[ref.name]) < 0.01, ref.name
    held_out = [r.name for r in refs.references if r.use == "held_out" and r.name in errors]
    assert held_out  # the check the fit never saw


@pytest.mark.parametrize("chip", ["seneca", "spinnaker2"])
def test_reference_files_load_and_keep_some_held_out(chip):
    refs = load_references(chip).references
    assert refs and all(r.chip == chip and r.source.strip() for r in refs)
    assert any(r.use == "held_out" for r in refs)


def test_every_seneca_reference_is_simulated():
    for ref in load_references("seneca").references:
        assert simulation_for(ref.name) is not None, ref.name


def test_seneca_references_match_the_hand_calculation():
    refs = {r.name: r for r in load_references("seneca").references}
    # 180 fJ/bit published; the model's MLD data-memory part is Table 8's 2.9 pJ per 16 bit
    sram = refs["seneca.data_memory_read_energy_per_bit"]
    assert simulation_for(sram.name)(sram) == pytest.approx(2.9 / 16 * 1000)
    # per event: RISC-V 10 x 11.6 + 10 pJ (13 cycles) and 256 BF16 MACs of MLD + MUL + ADD
    # (6.5 pJ, 256 / 8 x 3 = 96 cycles), plus one core's leakage (28.50816 uW at 500 MHz)
    synop = refs["seneca.synop_energy_bf16"]
    leak = 28.50816e-6 * (13 + 96) / 500e6 * 1e12
    expected = (10 * 11.6 + 10 + 256 * 6.5 + leak) / 256
    assert simulation_for(synop.name)(synop) == pytest.approx(expected, rel=1e-9)


def test_every_reference_is_simulated():
    for chip in ("seneca", "spinnaker2"):
        for ref in load_references(chip).references:
            assert simulation_for(ref.name) is not None, ref.name


def test_egru_memory_reference_maps_the_paper_model():
    """Nazeer et al. Table I: 88.3 KB of CSR weights on the fullest of 150 PEs (50 per layer).
    Layer 2 (1350 -> 1350): 27 neurons, 3 gates, W and R rows: 2 x 81 x 1350 weights at 5%
    density = 10,935 non-zeros; row-major CSR = 2 x NZ + 2 x (81 + 1) words = 22,034 words
    = 88,136 bytes = 86.1 KiB in expectation; the synthetic draw lands within 3% of that."""
    ref = {r.name: r for r in load_references("spinnaker2").references}[
        "spinnaker2.egru_lm_weights_per_pe"]
    kib = simulation_for(ref.name)(ref)
    assert kib == pytest.approx(88_136 / 1024, rel=0.03)
    assert kib == pytest.approx(ref.value, rel=0.05)


def test_report_lists_simulated_published_and_error(tmp_path):
    shutil.copy(REFERENCES_DIR / "seneca.yaml", tmp_path / "seneca.yaml")
    rows = report_rows(tmp_path)
    assert {r.chip for r in rows} == {"seneca"}
    assert all(r.simulated is not None and r.error is not None for r in rows)
    text = format_report(rows)
    assert "seneca.synop_energy_bf16" in text and "pJ/SOP" in text and "%" in text


def test_hardware_doc_is_up_to_date():
    spec = importlib.util.spec_from_file_location("make_hardware_tables",
                                                  ROOT / "docs" / "make_hardware_tables.py")
    tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tables)
    text = tables.DOC.read_text()
    assert tables.update(text) == text, "run: python docs/make_hardware_tables.py"
    # every cited parameter of both tables has a row
    for path in ("core.clock", "npe.instructions.mld.memory", "elementwise.exp.instructions.rnd",
                 "noc.mesh_columns", "chip.qpe_grid.missing", "operating_points.0.5V.clock"):
        assert f"`{path}`" in text, path


# -- shared, range-checked specs ----------------------------------------------------------------
def _edited_copy(tmp_path, module, edit) -> Path:
    raw = yaml.safe_load(module.DEFAULT_PATH.read_text())
    edit(raw)
    path = tmp_path / module.DEFAULT_PATH.name
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.mark.parametrize(("module", "edit", "field"), [
    (spinnaker2, lambda r: r["operating_points"]["0.5V"]["pe_cycle_energy"].update(value=-1.0),
     "operating_points.0.5V.pe_cycle_energy.value"),
    (spinnaker2, lambda r: r["dram"]["energy_per_byte"].update(value=-40.0),
     "dram.energy_per_byte.value"),
    (spinnaker2, lambda r: r["mla"]["sustained_fraction"].update(value=1.5),
     "mla.sustained_fraction.value"),
    (spinnaker2, lambda r: r["board"].update(gateway_qpe=[4, 3]), "board.gateway_qpe"),
    (seneca, lambda r: r["noc"]["clock"].update(value=0), "noc.clock.value"),
    (seneca, lambda r: r["noc"].pop("host_port"), "noc.host_port"),
    (seneca, lambda r: r["noc"].update(
        host_port=[2, 0], mesh_columns={"value": 2, "unit": "cores", "source": "[x] y"},
        mesh_rows={"value": 2, "unit": "cores", "source": "[x] y"}), "noc.host_port"),
    (spinnaker2, lambda r: r["chip"]["qpe_grid"].update(missing=[[9, 3]]), "qpe_grid.missing"),
    (spinnaker2, lambda r: r["sram"]["program_banks"].update(value=4), "sram.program_banks"),
    (seneca, lambda r: r.update(kind="spinnaker2"), "field 'kind'"),
])
def test_out_of_range_value_names_the_file_and_the_field(tmp_path, module, edit, field):
    path = _edited_copy(tmp_path, module, edit)
    load = load_seneca if module is seneca else load_spinnaker2
    with pytest.raises(CalibrationError) as err:
        load(path)
    assert str(path) in str(err.value) and field in str(err.value)


def test_both_chips_share_the_section_specs():
    s, p = load_seneca(), load_spinnaker2()
    assert isinstance(s.noc, NocSpec) and isinstance(p.noc, NocSpec)
    assert isinstance(p.sram, SramSpec) and p.sram.total_bytes == 4 * 32768
    assert isinstance(p.dma, DmaSpec) and isinstance(p.dram, DramSpec)
    assert s.kind == "seneca" and s.noc.host_port == (0, 0)
    assert s.noc.host_port_source.startswith("assumption:")


@pytest.mark.parametrize("load", [load_seneca, load_spinnaker2])
def test_every_value_has_a_range_check(load):
    bare = [path for path, c in cited_values(load()).items() if type(c) is Cited]
    assert not bare, f"values without a range check: {bare}"


def test_reference_chip_is_any_non_empty_name():
    ref = dict(name="x.y", quantity="q", value=1.0, unit="u", source="[S] t", use="fit")
    assert Reference(chip="loihi2", **ref).chip == "loihi2"
    with pytest.raises(ValidationError):
        Reference(chip="", **ref)
