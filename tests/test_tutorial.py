"""docs/tutorial.md, docs/howto.md and the README's Python example run as written.

The python code blocks of each page are run in order, as one program, in a fresh interpreter
in a scratch folder (the pages write under ``out/`` there). The program is passed with
``-c``: Dask's and the sweep's worker processes are spawned, and a spawned worker re-runs a
main *file* (a notebook or ``-c`` has none), as in a reader's session.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text())


def run_blocks(blocks: list[str], cwd: Path, timeout: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-c", "\n".join(blocks)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f"exit {proc.returncode}\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def test_tutorial_runs_end_to_end(tmp_path: Path) -> None:
    blocks = python_blocks(ROOT / "docs" / "tutorial.md")
    assert len(blocks) >= 10
    run_blocks(blocks, tmp_path, timeout=300)
    out = tmp_path / "out" / "tutorial"
    for name in ("rwkv/result.json", "sweep/sweep.csv", "breakdown.png", "sweep.png",
                 "profile.png", "critical.png", "my-seneca.yaml", "validation/rwkv.json",
                 "validation/waterfall.png"):
        assert (out / name).is_file(), name


def test_howto_runs_as_written(tmp_path: Path) -> None:
    blocks = python_blocks(ROOT / "docs" / "howto.md")
    assert len(blocks) >= 5
    run_blocks(blocks, tmp_path, timeout=300)
    assert not any(tmp_path.iterdir()), "the how-to's examples write nothing"


def test_readme_python_example_works_as_pasted(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = python_blocks(ROOT / "README.md")
    assert len(blocks) == 1
    code = [line for line in blocks[0].splitlines() if line.strip()]
    assert code[0] == "import nmsim" and len(code) <= 5
    assert readme.index("```bash") < readme.index("```python"), "the two commands come first"
    proc = run_blocks(blocks, tmp_path, timeout=120)
    assert "RWKV-4 block" in proc.stdout
    assert (tmp_path / "out" / "readme" / "result.json").is_file()
