"""The typed results: published schemas are current, and the plots read the jobs' columns."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from simulator.plots.inputs import SWEEP_KEYS
from simulator.results import SweepRow

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_published_json_schemas_are_up_to_date():
    spec = importlib.util.spec_from_file_location("make_schemas", DOCS / "make_schemas.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, text in module.schemas().items():
        assert (DOCS / "schemas" / name).read_text() == text, "run: python docs/make_schemas.py"


def test_sweep_plots_read_columns_the_job_writes():
    assert set(SWEEP_KEYS) <= set(SweepRow.model_fields)
