"""Fault test (issue 14): a real ``nmsim egru-sweep --workers 2`` killed with SIGKILL at
random (seeded) moments and resumed gives the rows of an uninterrupted run (but for wall time)
and leaves no process behind; SIGTERM and Ctrl-C stop it within seconds, keep every finished
point, and exit 143 / 130 with a one-line message."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulator.cli import main
from simulator.sweep import read_rows
from workloads.egru_trace import synthetic_egru_trace

CODE = "import sys; from simulator.cli import main; sys.exit(main(sys.argv[1:]))"
PES = list(range(3, 21))


@pytest.fixture(scope="module")
def trace_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    trace = synthetic_egru_trace((32, 48, 40, 24), 0.8, activity=(0.25, 0.3, 0.25), steps=8,
                                 seed=3)
    return str(trace.save(tmp_path_factory.mktemp("faults") / "trace.npz"))


def _args(trace: str, out: Path, workers: int = 2) -> list[str]:
    return ["egru-sweep", "--trace", trace, "--pes", f"{PES[0]}:{PES[-1]}", "--strategy",
            "equal", "--workers", str(workers), "--out", str(out), "--json"]


def _start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", CODE, *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (psutil if installed, else /proc)."""
    try:
        import psutil
    except ImportError:
        parents: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                parents.setdefault(ppid, []).append(int(entry.name))
        out, todo = [], [pid]
        while todo:
            kids = parents.get(todo.pop(), [])
            out += kids
            todo += kids
        return out
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _alive(pid: int) -> bool:
    try:
        import psutil

        return psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except ImportError:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        return state != "Z"
    except Exception:  # gone between the two calls
        return False


def _assert_all_gone(pids: list[int], within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [p for p in pids if _alive(p)], "processes left behind"


def _wait_rows(proc: subprocess.Popen, out: Path, at_least: int) -> None:
    deadline = time.monotonic() + 60
    while len(read_rows(out)) < at_least:
        assert proc.poll() is None, "the sweep ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.01)


def _plain(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]


def _temporaries(out: Path) -> list[str]:
    return [p.name for p in out.iterdir() if p.name.endswith(".tmp")]


def test_sigkill_at_random_moments_then_resume_gives_the_uninterrupted_rows(
        trace_file: str, tmp_path: Path, capsys: pytest.CaptureFixture):
    rng = random.Random(14)
    out = tmp_path / "killed"
    kept: dict[str, float] = {}
    for _ in range(2):  # two kills, each after a random number of new rows and a random delay
        before = len(read_rows(out)) if out.exists() else 0
        proc = _start(_args(trace_file, out))
        try:
            _wait_rows(proc, out, before + rng.randint(1, 4))
            time.sleep(rng.uniform(0.0, 0.3))
            below = _descendants(proc.pid)
            assert proc.poll() is None
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
        finally:
            proc.kill()
            proc.wait()
        assert proc.returncode == -signal.SIGKILL
        _assert_all_gone(below)  # workers and the resource tracker follow their parent
        rows = read_rows(out)
        assert len(rows) < len(PES)
        for r in rows:  # a finished point is never lost, nor recomputed
            assert kept.setdefault(r["key"], r["wall_s"]) == r["wall_s"]
        assert set(kept) == {r["key"] for r in rows}
    proc = _start(_args(trace_file, out))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    resumed = read_rows(out)
    assert all(kept[r["key"]] == r["wall_s"] for r in resumed if r["key"] in kept)
    assert _temporaries(out) == [] and sorted(p.name for p in out.iterdir()) == [
        "sweep.csv", "sweep.json", "sweep.parquet"]

    reference = tmp_path / "reference"
    assert main(_args(trace_file, reference, workers=0)) == 0
    capsys.readouterr()
    assert [r["pes"] for r in resumed] == PES
    assert _plain(resumed) == _plain(read_rows(reference))


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_sigterm_and_ctrl_c_stop_the_workers_and_keep_finished_points(
        trace_file: str, tmp_path: Path, signum: int, status: int):
    out = tmp_path / "out"
    proc = _start(_args(trace_file, out))
    try:
        _wait_rows(proc, out, 2)
        below = _descendants(proc.pid)
        assert below  # the worker processes
        proc.send_signal(signum)
        start = time.monotonic()
        _, err = proc.communicate(timeout=15)
        took = time.monotonic() - start
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == status, err
    assert took < 8
    last = err.strip().splitlines()[-1].split("\r")[-1]
    assert last.startswith(f"nmsim egru-sweep: interrupted ({signal.Signals(signum).name})")
    assert str(out) in last and "Traceback" not in err
    _assert_all_gone(below, within=5)
    rows = read_rows(out)
    assert 2 <= len(rows) < len(PES) and f"the {len(rows)} finished points" in last
    assert _temporaries(out) == [] and not (out / ".lock").exists()
