"""The EGRU LM on SpiNNaker2 against Nazeer et al. 2024 (simulator/validation/nazeer2024.py).

One small validation (2 x 2 grid, 1- and 2-step simulations, in this process) is shared by
the tests; one solved value is re-simulated to check the interpolation.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from simulator.jobs.egru_sweep import PointSpec
from simulator.validation import nazeer2024 as nz

GRID = ((0.1, 0.3), (10.0, 40.0))


@pytest.fixture(scope="module")
def result() -> nz.NazeerValidation:
    return nz.validate_egru(steps=2, grid=GRID, progress=False, workers=0, resimulate=False)


def test_published_cells_are_table_ii() -> None:
    cells = {k: (c.value, c.unit) for k, c in nz.PUBLISHED.items()}
    assert cells == {"power": (0.39, "W"), "time": (170.25, "ms"), "energy": (65.3, "mJ")}
    for c in nz.PUBLISHED.values():
        assert "Nazeer" in c.source and "Table II" in c.source
    assert nz.SEQUENCE_STEPS == 70
    assert set(nz.FIG2_CLAIMS) == {"recurrent_most_expensive", "broadcast_cheap",
                                   "memory_bound"}


def test_power_times_time_is_close_to_the_energy(result: nz.NazeerValidation) -> None:
    assert "66.40 mJ" in result.energy_check and "-1.7%" in result.energy_check


def test_per_sequence_is_70_times_per_step(result: nz.NazeerValidation) -> None:
    d = result.default
    assert d.time_per_sequence_s == pytest.approx(70 * d.time_per_step_s)
    assert d.energy_per_sequence_j == pytest.approx(70 * d.energy_per_step_j)
    rows = {(c.quantity, c.reading): c for c in result.comparison}
    assert len(rows) == 6
    for q in ("time", "energy"):
        assert rows[(q, "per sequence")].simulated == pytest.approx(
            70 * rows[(q, "per step")].simulated)
    assert rows[("power", "per step")].simulated == rows[("power", "per sequence")].simulated
    assert rows[("power", "per step")].simulated == pytest.approx(d.power_w)
    for c in rows.values():
        assert c.error == pytest.approx(c.simulated / c.published - 1)
    # the step of a sequence is close to the steady step: the first step's extra is spread
    assert d.time_per_step_s == pytest.approx(d.steady_step_s, rel=0.02)
    assert d.steps_simulated == [1, 2] and d.pes_per_layer == "50/50/50"


def test_sensitivity_has_the_expected_sign(result: nz.NazeerValidation) -> None:
    at = {(g.activity, g.cycles_per_weight): g for g in result.grid}
    assert len(at) == 4
    (a_lo, a_hi), (c_lo, c_hi) = GRID
    for c in GRID[1]:
        assert at[(a_hi, c)].time_per_step_s > at[(a_lo, c)].time_per_step_s
    for a in GRID[0]:
        assert at[(a, c_hi)].time_per_step_s > at[(a, c_lo)].time_per_step_s


def test_cycles_are_set_through_chip_overrides() -> None:
    assert nz.csr_overrides(None) == ()
    items = nz.csr_overrides(26.0)
    assert all(i.startswith(("kernels.csr_column_nnz.", "kernels.csr_column_start."))
               for i in items)
    cost = PointSpec(pes=150, chip_set=items).load_chip().cost()
    base = PointSpec(pes=150).load_chip().cost()
    factor = 26.0 / base.kernel_cycles("csr_column_nnz")
    assert cost.kernel_cycles("csr_column_nnz") == pytest.approx(26.0)
    assert cost.kernel_cycles("csr_column_start") == pytest.approx(
        factor * base.kernel_cycles("csr_column_start"))
    with pytest.raises(ValueError):
        nz.csr_overrides(0.0)


def test_solved_cycles_reproduce_the_published_time(result: nz.NazeerValidation) -> None:
    s = {x.name: x for x in result.solutions}["cycles per weight alone"]
    assert s.activity is not None and s.cycles_per_weight is not None
    assert s.cycles_per_weight > GRID[1][0]
    cost = nz.SimulatedCost.model_validate(
        nz.simulate_case(nz.Case(s.activity, s.cycles_per_weight, steps=2)))
    target = nz.PUBLISHED["time"].value * 1e-3
    assert cost.time_per_sequence_s == pytest.approx(target, rel=nz.INTERPOLATION_TOLERANCE)


def test_readings_checks_and_text(result: nz.NazeerValidation) -> None:
    readings = {r.reading: r for r in result.readings}
    assert set(readings) == {"per step", "per sequence"}
    assert readings["per step"].time_per_step_ms == 170.25
    assert readings["per sequence"].time_per_step_ms == pytest.approx(170.25 / 70)
    assert not readings["per step"].consistent  # hundreds of times the simulated step
    defaults = [c for c in result.checks if c.at == "defaults"]
    assert {c.claim for c in defaults} == set(nz.FIG2_CLAIMS.values())
    assert all(isinstance(c.holds, bool) and c.detail for c in result.checks)
    text = nz.format_table(result)
    for word in ("Table II", "per sequence", "Fig. 2", "solved unknowns", "170.25 ms"):
        assert word in text


def test_result_round_trips_through_json(result: nz.NazeerValidation) -> None:
    doc = json.loads(result.to_json())
    assert doc["default"]["time_per_sequence_s"] == pytest.approx(
        70 * doc["default"]["time_per_step_s"])
    assert nz.NazeerValidation.model_validate(doc) == result


def test_plot_writes_png_and_svg(result: nz.NazeerValidation, tmp_path: Path) -> None:
    for name in ("s.png", "s.svg"):
        path = nz.plot_sensitivity(result, tmp_path / name)
        assert path.stat().st_size > 1000
    with pytest.raises(ValueError):
        nz.plot_sensitivity(result, tmp_path / "s.txt")


@pytest.mark.parametrize("kwargs", [
    {"steps": 1}, {"grid": ((0.3, 0.1), (10.0, 20.0))}, {"grid": ((0.1, 1.5), (10.0, 20.0))},
    {"grid": ((0.1,), (10.0, 20.0))}, {"grid": ((0.1, 0.2), (0.0, 20.0))},
])
def test_bad_arguments_stop_before_simulating(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        nz.validate_egru(**kwargs)
