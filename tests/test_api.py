"""``import nmsim``: the name resolves, stays light, and its functions return the jobs' typed
results with tables, frames, figures, save/load round trips and readable reprs; the
``--scheduler`` paths of egru-sweep (a LocalCluster started for the run, a dead address)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

import nmsim
from simulator.chips.registry import load_chip
from simulator.cli import main
from simulator.front import RwkvWorkload
from simulator.results import EgruSweepResult, RwkvTokenResult, SweepRow, nmsim_version

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "matplotlib", "scipy", "pandas")


def test_import_nmsim_is_light_from_anywhere(tmp_path: Path) -> None:
    """From a folder outside the checkout (the installed name, not the working directory),
    ``import nmsim`` loads none of the heavy packages, and its own import time is small."""
    code = ("import sys, time; t = time.perf_counter(); import nmsim; "
            "dt = time.perf_counter() - t; "
            f"print(dt, nmsim.__file__, *[m for m in {HEAVY!r} if m in sys.modules])")
    best = None
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                             text=True, check=True).stdout.split()
        assert out[2:] == [], f"import nmsim imported {out[2:]}"
        best = min(best or 9.0, float(out[0]))
    assert Path(out[1]).resolve() == ROOT / "simulator" / "api" / "__init__.py"
    assert best < 0.1, f"import nmsim took {best:.3f} s"


def test_pyproject_lists_every_package_folder() -> None:
    """pyproject.toml lists its packages (package-dir maps nmsim): a new folder of code must
    be added there, or a regular install would leave it out."""
    conf = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert conf["package-dir"] == {"nmsim": "simulator/api"}
    listed = set(conf["packages"])
    on_disk = {".".join(d.relative_to(ROOT).parts) for top in
               ("simulator", "models", "workloads", "calibration")
               for d in [ROOT / top, *(ROOT / top).rglob("*")]
               if d.is_dir() and "__pycache__" not in d.parts
               and any(f.suffix in (".py", ".yaml", ".json", ".pth", ".pt", ".txt", ".npz")
                       for f in d.iterdir())}
    on_disk = {"nmsim" if p == "simulator.api" else p for p in on_disk}
    assert listed == on_disk


def test_public_names() -> None:
    assert set(nmsim.__all__) <= set(dir(nmsim))
    assert nmsim.__version__ == nmsim_version() != ""
    assert {"seneca", "spinnaker2", "analytic"} <= set(nmsim.chips())
    with pytest.raises(AttributeError):
        nmsim.no_such_name  # noqa: B018


def test_chip_overrides_are_set_fields() -> None:
    a = nmsim.chip("seneca", noc__clock=300e6, options={"precision": "int8"})
    b = nmsim.chip("seneca", **{"noc.clock": 300e6}, options={"precision": "int8"})
    c = load_chip("seneca", ["noc.clock=300e6"], {"precision": "int8"})
    assert a.config == b.config
    assert a.config.noc.clock.value == c.config.noc.clock.value == 300e6
    assert a.options == c.options
    assert a.provenance()["chip_overrides"] == ["noc.clock=300000000.0"]
    assert nmsim.chip(ROOT / "calibration" / "spinnaker2.yaml").name == "spinnaker2"


@pytest.fixture(scope="module")
def rwkv() -> RwkvTokenResult:
    return nmsim.rwkv_token(nmsim.workload("rwkv", model="169M", tokens=1, seed=3), "seneca")


def test_rwkv_token_result_views(rwkv: RwkvTokenResult, tmp_path: Path) -> None:
    assert isinstance(rwkv, RwkvTokenResult)
    prov = rwkv.provenance
    assert (prov.seed, prov.block, prov.tokens, prov.nmsim_version) == (3, 0, 1, nmsim_version())
    summary = rwkv.table()
    assert {r["category"] for r in summary} >= {"computation", "total"}
    assert set(summary[0]) == {"mode", "sub_block", "category", "energy_j", "latency_s",
                               "cycles"}
    total = [r for r in summary if (r["mode"], r["sub_block"], r["category"])
             == ("sparse", "block", "total")]
    assert total[0]["energy_j"] == rwkv.sparse["block"]["total"].energy_j
    frame = rwkv.to_frame("breakdown")
    assert len(frame) == len(rwkv.breakdown) and "energy_j" in frame.columns
    assert len(rwkv.to_frame("ratios")) == 3 and len(rwkv.table("critical_path")) > 0
    with pytest.raises(ValueError, match="choose from"):
        rwkv.table("nonsense")
    text = repr(rwkv)
    for words in ("block 0", "seneca", "1 tokens", "seed 3", "strategy dataflow", "--set none"):
        assert words in text
    assert "<table>" in rwkv._repr_html_() and "critical path" in str(rwkv)
    rwkv.save(tmp_path / "r")
    assert {p.name for p in (tmp_path / "r").iterdir()} >= {"result.json", "breakdown.csv"}
    assert nmsim.load(tmp_path / "r") == rwkv == nmsim.load(tmp_path / "r" / "result.json")


def test_rwkv_token_plots(rwkv: RwkvTokenResult, tmp_path: Path) -> None:
    fig = rwkv.plot("breakdown", path=tmp_path / "b.png", metric="latency")
    assert (tmp_path / "b.png").stat().st_size > 0 and fig.axes
    assert rwkv.plot("critical-path", sub_block="channel_mix").axes
    with pytest.raises(ValueError, match="unknown kind"):
        rwkv.plot("pie")


def test_cli_table_header_says_what_was_simulated(capsys) -> None:
    assert main(["rwkv-token", "--model", "169M", "--tokens", "1", "--seed", "5", "--workers",
                 "1", "--set", "noc.clock=300e6", "--option", "precision=int8"]) == 0
    head = "\n".join(capsys.readouterr().out.splitlines()[:2])
    for words in ("block 0", "seneca (calibration/seneca.yaml)", "RWKV-4 169M", "1 tokens",
                  "seed 5", "strategy dataflow", "--set noc.clock=300e6", "precision=int8",
                  f"nmsim {nmsim_version()}"):
        assert words in head, words


def test_workload_kinds(rwkv: RwkvTokenResult, tmp_path: Path) -> None:
    work = nmsim.workload("rwkv", model="169M", tokens=1, seed=7)
    work.sparse.save(tmp_path / "s.npz")
    from_file = nmsim.workload(tmp_path / "s.npz")  # the seed that drew it, from the file
    assert isinstance(from_file, RwkvWorkload) and from_file.seed == 7
    egru = nmsim.workload("egru", steps=2)
    assert (egru.model, egru.steps) == ("paper", 2) and egru.load().meta.n_steps == 2
    with pytest.raises(ValueError):
        nmsim.workload("egru", tokens=3)
    with pytest.raises(TypeError):
        nmsim.rwkv_token(egru)


def test_egru_sweep_result_views(tmp_path: Path) -> None:
    work = nmsim.workload("egru", steps=2)
    sweep = nmsim.egru_sweep(work, "spinnaker2", pes="60,150", out=tmp_path / "s")
    assert not sweep.failed, sweep.failed
    assert isinstance(sweep, EgruSweepResult) and [r.pes for r in sweep.rows] == [60, 150]
    assert all(isinstance(r, SweepRow) and r.nmsim_version == nmsim_version()
               for r in sweep.rows)
    # a second call asks for one of the points already written: only that one comes back
    again = nmsim.egru_sweep(work, "spinnaker2", pes=[150], out=tmp_path / "s")
    assert [r.pes for r in again.rows] == [150] and again.rows[0] == sweep.rows[1]
    points = sweep.to_frame()
    assert "stages" not in points.columns and list(points.pes) == [60, 150]
    stages = sweep.table("stages")
    assert {"pes", "core", "stage", "cycles"} <= set(stages[0])
    assert len(stages) == sum(len(v) for r in sweep.rows for v in r.stages.values())
    assert "N=60" in repr(sweep) and "<table>" in sweep._repr_html_()
    sweep.save(tmp_path / "copy")
    assert nmsim.load(tmp_path / "copy") == sweep
    assert nmsim.load(tmp_path / "s").rows == sweep.rows
    assert sweep.plot("sweep").axes and sweep.plot("profile", pes=150).axes


def test_egru_sweep_on_another_chip_file(tmp_path: Path) -> None:
    mine = tmp_path / "my.yaml"
    mine.write_text((ROOT / "calibration" / "seneca.yaml").read_text())
    chip = nmsim.chip(mine, core__clock=250e6)
    sweep = nmsim.egru_sweep(nmsim.workload("egru", steps=2), chip, pes=[40])
    row = sweep.rows[0]
    assert (row.chip, row.chip_file, row.clock_hz) == (str(mine), str(mine), 250_000_000)
    assert row.chip_overrides == ["core.clock=250000000.0"]


def test_validate_returns_the_typed_validation(tmp_path: Path) -> None:
    from simulator.validation.knunyants2025 import RwkvValidation

    small = nmsim.workload("rwkv", model="169M", tokens=1)
    check = nmsim.validate("rwkv", traces=small)
    assert isinstance(check, RwkvValidation) and "Knunyants" in str(check)
    check.save(tmp_path)
    assert nmsim.load(tmp_path) == check
    with pytest.raises(ValueError, match="unknown target"):
        nmsim.validate("bert")


# -- --scheduler --------------------------------------------------------------------------------
def test_unreachable_scheduler_fails_fast_and_clearly(capsys) -> None:
    t0 = time.perf_counter()
    code = main(["egru-sweep", "--pes", "60", "--steps", "2", "--strategy", "equal",
                 "--scheduler", "tcp://127.0.0.1:9"])
    wall = time.perf_counter() - t0
    err = capsys.readouterr().err
    assert code == 2
    assert "--scheduler tcp://127.0.0.1:9" in err and "Traceback" not in err
    assert wall < 15, wall  # 4 s to connect, and the import of distributed


def test_scheduler_local_starts_and_closes_a_cluster(tmp_path: Path) -> None:
    """``--scheduler local``: a LocalCluster of worker processes for the run, then closed (the
    command returns, and the row is the one an in-process run gives)."""
    args = ["egru-sweep", "--pes", "40", "--steps", "2", "--strategy", "equal", "--chip",
            "seneca", "--json"]
    proc = subprocess.run([sys.executable, "-m", "simulator.cli", *args, "--scheduler",
                           "local"], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    here = subprocess.run([sys.executable, "-m", "simulator.cli", *args, "--workers", "0"],
                          capture_output=True, text=True, timeout=240)
    assert json.loads(proc.stdout) == json.loads(here.stdout)
