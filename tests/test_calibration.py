"""Calibration: fitted values equal what the fit returns, references are simulated, the
hardware doc is generated from the cost tables."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import pytest

from calibration.fit import REFERENCES_DIR, fit_spinnaker2, load_references
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
