"""Validation against Knunyants et al. 2025: the paper's configuration reproduces Tables
III/IV, its fitted constants are current, and the gap decomposition ends at the default."""

from __future__ import annotations

import json

import pytest

from simulator.chips.registry import load_chip
from simulator.cli import main
from simulator.jobs.rwkv_token import rwkv_token
from simulator.validation import knunyants2025 as v
from workloads.rwkv_inputs import load_traces
from workloads.rwkv_synthetic import synthetic_rwkv_trace

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def traces_3b():
    return load_traces()  # the default: 1 token of the published 3B profile


def test_published_cells_are_the_papers():
    assert len(v.PUBLISHED) == 36
    assert v.PUBLISHED[("energy", "sparse", "time_mix", "total")] == 12.4
    assert v.PUBLISHED[("latency", "dense", "block", "memory")] == 7.2
    # the paper's own sums: overall = Time-Mix + Channel-Mix, total = computation + memory
    for (q, mode, sub, cat), value in v.PUBLISHED.items():
        if sub == "block":
            parts = sum(v.PUBLISHED[(q, mode, s, cat)] for s in ("time_mix", "channel_mix"))
            assert value == pytest.approx(parts, abs=0.11)
        if cat == "total":
            parts = sum(v.PUBLISHED[(q, mode, sub, c)] for c in ("computation", "memory"))
            assert value == pytest.approx(parts, abs=0.11)


def test_paper_configuration_reproduces_every_cell_within_3_percent(traces_3b):
    result = v.PAPER.run(*traces_3b)
    for key, published in v.PUBLISHED.items():
        simulated = v._value(result, *key)
        assert simulated == pytest.approx(published, rel=v.TOLERANCE), key


def test_shipped_constants_are_the_fit_of_the_tables(traces_3b):
    refit = v.fit_constants(v.COUNTS.run(*traces_3b))
    shipped = load_chip("analytic").config.operation
    for name, value in refit.items():
        assert getattr(shipped, name).value == pytest.approx(value, rel=2e-3), name
        assert getattr(shipped, name).source.startswith("fit: Knunyants 2025 Table")


def test_analytic_chip_charges_every_operation_the_same():
    cost = load_chip("analytic").cost()
    op = load_chip("analytic").config.operation
    per_op = op.computation_energy.value + op.memory_energy.value
    assert cost.column(10).energy_pj == pytest.approx(10 * per_op)
    assert cost.elementwise("exp", 4).energy_pj == pytest.approx(4 * per_op)
    assert cost.receive_event().energy_pj == cost.send_events(5).energy_pj == 0
    assert cost.static_power_w() == 0


def test_each_step_changes_one_setting_and_the_last_is_the_default():
    configs = [v.PAPER] + [s.config for s in v.STEPS]
    for a, b in zip(configs, configs[1:], strict=False):
        changed = (a.chip != b.chip) + (set(a.sets) != set(b.sets)) + (a.job != b.job)
        assert changed >= 1
    last = v.STEPS[-1].config
    assert last.chip == "seneca" and last.sets == () and last.job == {}
    assert len({s.name for s in v.STEPS}) == len(v.STEPS)


def test_waterfall_adds_up_from_the_paper_to_the_default():
    """On a small block: the levels chain from the paper's configuration to a plain default
    run, so the steps add up to the whole gap."""
    traces = tuple(synthetic_rwkv_trace("169M", f"published-3b-{m}", n_tokens=1, seed=1)
                   for m in ("dense", "sparse"))
    result = v.validate_rwkv(traces=traces)
    default = rwkv_token(*traces, load_chip("seneca"))
    paper = v.PAPER.run(*traces)
    names = [s.step for s in result.steps]
    assert names[:2] == ["published", "paper configuration"]
    assert names[2:] == [s.name for s in v.STEPS]
    for q in ("energy", "latency"):
        for mode in ("sparse", "dense"):
            levels = [s.values[q][mode]["block"] for s in result.steps]
            assert levels[0] == v.PUBLISHED[(q, mode, "block", "total")]
            assert levels[1] == pytest.approx(v._value(paper, q, mode, "block", "total"),
                                              rel=1e-12)
            assert levels[-1] == pytest.approx(v._value(default, q, mode, "block", "total"),
                                               rel=1e-12)
    # every step between moves some level (no step is a no-op)
    for a, b in zip(result.steps[1:], result.steps[2:], strict=False):
        assert a.values != b.values, b.step
    assert "Knunyants" in v.format_table(result)


def test_cli_validate_writes_results_and_figure(tmp_path, capsys, monkeypatch):
    traces = tuple(synthetic_rwkv_trace("169M", f"published-3b-{m}", n_tokens=1, seed=1)
                   for m in ("dense", "sparse"))
    monkeypatch.setattr("workloads.rwkv_inputs.load_traces", lambda **kw: traces)
    assert main(["validate", "--only", "rwkv", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "largest error of the paper's configuration" in out
    doc = json.loads((tmp_path / "rwkv.json").read_text())
    assert v.RwkvValidation.model_validate(doc).cells
    assert (tmp_path / "rwkv_waterfall.png").stat().st_size > 10_000


def test_cli_validate_rejects_bad_counts(capsys):
    assert main(["validate", "--only", "rwkv", "--tokens", "0"]) == 2
    assert "--tokens must be at least 1" in capsys.readouterr().err


def test_cli_validate_rejects_too_few_egru_steps(capsys):
    """The EGRU validation extrapolates from 1 and N steps: N must be at least 2."""
    assert main(["validate", "--only", "egru", "--steps", "1"]) == 2
    assert "--steps must be at least 2" in capsys.readouterr().err
