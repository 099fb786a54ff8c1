"""Nothing is lost (issue 14): atomic output files, output locations checked before any work,
sweep directories locked, resume keys that follow the content of the inputs, torn sweep.json
recovered, timelines re-written on resume, progress on stderr with --json."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulator import outputs
from simulator.cli import main
from simulator.errors import UserError
from simulator.jobs import egru_sweep as job
from simulator.outputs import (
    OutputError,
    atomic_open,
    check_output_dir,
    check_output_file,
    write_atomic,
)
from simulator.sweep import SweepLocked, locked, read_rows, run_sweep, write_rows
from workloads.egru_trace import synthetic_egru_trace

SMALL = (16, 24, 20, 12)


def small_trace(seed: int = 3, steps: int = 2):
    return synthetic_egru_trace(SMALL, 0.8, activity=(0.25, 0.3, 0.25), steps=steps, seed=seed)


@pytest.fixture(scope="module")
def small_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(small_trace().save(tmp_path_factory.mktemp("trace") / "small.npz"))


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


# -- the atomic writer ----------------------------------------------------------------------
def test_atomic_write_replaces_whole_files(tmp_path: Path):
    path = tmp_path / "a.json"
    write_atomic(path, "old")
    write_atomic(path, b"new bytes")
    assert path.read_bytes() == b"new bytes"
    write_atomic(path, lambda f: f.write(b"from a writer"))
    assert path.read_text() == "from a writer"
    with atomic_open(tmp_path / "b.csv", "w", newline="") as f:
        f.write("a,b\r\n")
    assert (tmp_path / "b.csv").read_bytes() == b"a,b\r\n"
    assert oct(path.stat().st_mode & 0o777) != oct(0o600)  # the umask's mode, not mkstemp's
    assert leftovers(tmp_path) == []


def test_a_failing_writer_leaves_no_temporary_and_the_old_file(tmp_path: Path):
    path = tmp_path / "result.json"
    write_atomic(path, '{"complete": true}')

    def half_then_fail(f):
        f.write(b'{"complete": fal')
        raise RuntimeError("writer failed")

    with pytest.raises(RuntimeError, match="writer failed"):
        write_atomic(path, half_then_fail)
    assert json.loads(path.read_text()) == {"complete": True}
    assert leftovers(tmp_path) == [] and sorted(os.listdir(tmp_path)) == ["result.json"]
    with pytest.raises(KeyboardInterrupt), atomic_open(tmp_path / "new.txt") as f:
        f.write("partial")
        raise KeyboardInterrupt
    assert sorted(os.listdir(tmp_path)) == ["result.json"]


def _disk_full_for(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    """fsync fails with ENOSPC for temporaries of ``name`` (a full disk shows at flush/fsync)."""
    real = os.fsync

    def fsync(fd):
        if name in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd)

    monkeypatch.setattr(outputs.os, "fsync", fsync)


def test_disk_full_names_the_file_and_keeps_the_complete_ones(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch):
    rows = [{"key": f"k{i}", "pes": i, "stages": {"a": i}} for i in range(3)]
    write_rows(tmp_path, rows[:2], lambda r: r["key"])
    _disk_full_for(monkeypatch, "sweep.parquet")
    with pytest.raises(OutputError) as info:
        write_rows(tmp_path, rows, lambda r: r["key"])
    message = str(info.value)
    assert "sweep.parquet" in message and "No space left" in message and "disk full" in message
    assert isinstance(info.value, UserError) and isinstance(info.value, OSError)
    assert len(read_rows(tmp_path)) == 3  # sweep.json was complete before the disk filled
    assert leftovers(tmp_path) == []


def test_disk_full_in_a_command_is_one_line_status_2(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture):
    out = tmp_path / "t.npz"
    _disk_full_for(monkeypatch, "t.npz")
    assert main(["trace", "egru", "--model", "paper", "--steps", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "t.npz" in err and "No space left" in err and "Traceback" not in err
    assert not out.exists() and leftovers(tmp_path) == []


# -- output locations, checked before any work ----------------------------------------------
def _bad(kind: str, tmp_path: Path, needs: str) -> Path:
    if kind == "proc":
        return Path("/proc/nmsim-x") if needs == "dir" else Path("/proc/nmsim-x/out.json")
    if kind == "file-for-dir":
        (tmp_path / "plain").write_text("a file")
        return tmp_path / "plain" if needs == "dir" else tmp_path / "plain" / "out.json"
    if kind == "dir-for-file":
        (tmp_path / "adir").mkdir()
        return tmp_path / "adir" if needs == "file" else tmp_path / "adir"
    assert kind == "read-only"
    (tmp_path / "ro").mkdir()
    return tmp_path / "ro" / ("sub" if needs == "dir" else "out.json")


#: (command line before the argument, the argument, directory or file, what follows)
WRITERS = [
    (["rwkv-token"], "--out", "dir", []),
    (["rwkv-token"], "--timeline", "file", []),
    (["egru-sweep", "--pes", "4"], "--out", "dir", []),
    (["egru-sweep", "--pes", "4"], "--timeline", "file", []),
    (["trace", "egru"], "--out", "file", []),
    (["trace", "rwkv", "--synthetic"], "--out", "file", []),
    (["trace", "rwkv", "--out", "{ok}"], "--profile-out", "file", []),
    (["sparsify", "rwkv"], "--out", "file", []),
    (["validate"], "--out", "dir", []),
    (["plot", "breakdown", "result.json"], "--output", "file", []),
    (["plot", "sweep", "sweep.csv"], "--output", "file", []),
    (["plot", "profile", "sweep.json"], "--output", "file", []),
    (["plot", "critical-path", "result.json"], "--output", "file", []),
]
KINDS = ["proc", "file-for-dir", "read-only"]


def _read_only(monkeypatch: pytest.MonkeyPatch, directory: Path) -> None:
    """A read-only file system under ``directory`` (chmod does not stop root)."""
    real = outputs.tempfile.TemporaryFile

    def temporary(*args, dir=None, **kw):
        if dir is not None and str(dir).startswith(str(directory)):
            raise OSError(errno.EROFS, "Read-only file system")
        return real(*args, dir=dir, **kw)

    monkeypatch.setattr(outputs.tempfile, "TemporaryFile", temporary)


CASES = [(*w, kind) for w in WRITERS
         for kind in (*KINDS, *(["dir-for-file"] if w[2] == "file" else []))]


@pytest.mark.parametrize(("before", "argument", "needs", "after", "kind"), CASES,
                         ids=[f"{' '.join(c[0][:2])} {c[1]} {c[4]}" for c in CASES])
def test_bad_output_location_fails_before_any_work(before, argument, needs, after, kind,
                                                   tmp_path, monkeypatch, capsys):
    bad = _bad(kind, tmp_path, needs)
    if kind == "read-only":
        _read_only(monkeypatch, tmp_path / "ro")
    argv = [a.replace("{ok}", str(tmp_path / "ok.npz")) for a in before]
    start = time.perf_counter()
    assert main([*argv, argument, str(bad), *after]) == 2
    err = capsys.readouterr().err
    assert argument in err and str(bad) in err and "Traceback" not in err, err
    assert time.perf_counter() - start < 20  # no simulation, search or inference ran
    assert not (tmp_path / "ok.npz").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_a_read_only_directory_is_rejected(tmp_path: Path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(UserError, match="--out"):
            check_output_dir(ro / "sub", "--out")
    finally:
        ro.chmod(0o755)


def test_good_locations_pass_and_create_nothing(tmp_path: Path):
    check_output_dir(tmp_path / "new" / "deeper", "--out")
    check_output_file(tmp_path / "new" / "file.json", "--timeline")
    check_output_dir(None, "--out")
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(UserError, match="--timeline .*is a directory"):
        check_output_file(tmp_path, "--timeline")


# -- sweep directories ----------------------------------------------------------------------
def _point(spec: job.PointSpec) -> dict:
    return {"key": spec.key(), "pes": spec.pes, "model": "m", "strategy": spec.strategy,
            "layer_split": "nnz"}


def test_a_second_sweep_on_the_same_directory_fails_at_once(tmp_path: Path, small_file: str,
                                                            capsys: pytest.CaptureFixture):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; "
         "from simulator.sweep import locked\n"
         "with locked(Path(sys.argv[1])):\n print('held', flush=True); time.sleep(60)",
         str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        start = time.perf_counter()
        args = ["egru-sweep", "--trace", small_file, "--pes", "4", "--workers", "0",
                "--out", str(out), "--json"]
        assert main(args) == 2
        assert time.perf_counter() - start < 10
        err = capsys.readouterr().err
        assert str(out) in err and f"PID {holder.pid}" in err and "another sweep" in err
        assert read_rows(out) == []
    finally:
        holder.kill()
        holder.wait()
    with locked(out), pytest.raises(SweepLocked), locked(out):  # free once the holder died
        pass
    assert not (out / ".lock").exists()


def test_torn_sweep_json_is_recovered_from_its_intact_rows(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture):
    specs = [job.PointSpec(pes=n, trace="none.npz") for n in (3, 4, 5, 6)]
    run_sweep(specs, _point, tmp_path, workers=0, progress=False, order=lambda r: r["pes"])
    text = (tmp_path / "sweep.json").read_text()
    cut = text.index('"pes": 6') if '"pes": 6' in text else len(text) // 2
    (tmp_path / "sweep.json").write_text(text[:cut])  # torn inside the last row
    rows = read_rows(tmp_path)
    err = capsys.readouterr().err
    assert [r["pes"] for r in rows] == [3, 4, 5]
    assert "recovered 3 intact rows" in err and "sweep.json" in err
    calls = []
    res = run_sweep(specs, lambda s: calls.append(s.pes) or _point(s), tmp_path, workers=0,
                    progress=False, order=lambda r: r["pes"])
    assert calls == [6] and [r["pes"] for r in res.rows] == [3, 4, 5, 6]
    assert json.loads((tmp_path / "sweep.json").read_text())[-1]["pes"] == 6
    (tmp_path / "sweep.json").write_bytes(b"\x00\xff garbage")
    assert read_rows(tmp_path) == [] and "recovered 0 intact rows" in capsys.readouterr().err


def test_cli_resumes_over_a_torn_sweep_json(tmp_path: Path, small_file: str,
                                            capsys: pytest.CaptureFixture):
    args = ["egru-sweep", "--trace", small_file, "--pes", "3,4", "--strategy", "equal",
            "--workers", "0", "--out", str(tmp_path), "--json"]
    assert main(args) == 0
    (tmp_path / "sweep.json").write_text((tmp_path / "sweep.json").read_text()[:-200])
    capsys.readouterr()
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "recovered 1 intact row," in captured.err
    assert [r["pes"] for r in json.loads(captured.out)] == [3, 4]
    assert [r["pes"] for r in read_rows(tmp_path)] == [3, 4]


def test_run_sweep_returns_only_the_requested_points(tmp_path: Path):
    specs = [job.PointSpec(pes=n, trace="none.npz") for n in (3, 4, 5)]
    run_sweep(specs, _point, tmp_path, workers=0, progress=False)
    res = run_sweep(specs[:1], _point, tmp_path, workers=0, progress=False)
    assert [r["pes"] for r in res.rows] == [3] and res.skipped == [specs[0].key()]
    assert len(read_rows(tmp_path)) == 3  # the others stay in the folder


def test_resume_key_follows_the_content_of_every_input(tmp_path: Path):
    trace = tmp_path / "t.npz"
    small_trace(seed=1).save(trace)
    spec = job.PointSpec(pes=4, trace=str(trace))
    first = spec.key()
    assert spec.key() == first  # stable
    small_trace(seed=2).save(trace)  # same name, new content
    assert spec.key() != first
    assert json.loads(spec.key())["cost_model"] == job.COST_MODEL_VERSION
    chip = tmp_path / "chip.yaml"
    from simulator.chips import registry

    chip.write_bytes(registry.get("spinnaker2").default_file.read_bytes())
    on_chip = job.PointSpec(pes=4, trace=str(trace), chip=str(chip))
    before = on_chip.key()
    chip.write_bytes(chip.read_bytes() + b"\n# a changed cost table\n")
    assert on_chip.key() != before
    model = tmp_path / "egru.pt"
    model.write_bytes(b"one")
    from_model = job.PointSpec(pes=4, model=str(model))
    before = from_model.key()
    model.write_bytes(b"changed")
    assert from_model.key() != before
    assert job.PointSpec(pes=4, chip_set=("noc.clock=1",)).key() != job.PointSpec(pes=4).key()


def test_replaced_trace_file_is_recomputed_on_resume(tmp_path: Path):
    trace = tmp_path / "t.npz"
    small_trace(seed=1).save(trace)
    args = ["egru-sweep", "--trace", str(trace), "--pes", "4", "--strategy", "equal",
            "--workers", "0", "--out", str(tmp_path / "out"), "--json"]
    assert main(args) == 0
    (old,) = read_rows(tmp_path / "out")
    small_trace(seed=1, steps=3).save(trace)
    assert main(args) == 0
    rows = read_rows(tmp_path / "out")
    assert len(rows) == 2
    new = next(r for r in rows if r["key"] != old["key"])
    assert new["steps"] == 3 and old["steps"] == 2


# -- timelines and progress -----------------------------------------------------------------
def test_timeline_is_rewritten_on_an_existing_out(tmp_path: Path, small_file: str,
                                                  capsys: pytest.CaptureFixture):
    timeline = tmp_path / "t.json"
    args = ["egru-sweep", "--trace", small_file, "--pes", "3,4", "--strategy", "equal",
            "--workers", "0", "--out", str(tmp_path / "out"), "--timeline", str(timeline)]
    assert main(args) == 0
    first = json.loads(timeline.read_text())
    spans = [e for e in first["traceEvents"] if e["ph"] == "X"]
    assert spans
    assert main(args) == 0  # the rows are there: the timeline's point is simulated again
    again = json.loads(timeline.read_text())
    assert len([e for e in again["traceEvents"] if e["ph"] == "X"]) == len(spans)
    assert len(read_rows(tmp_path / "out")) == 2
    assert leftovers(tmp_path) == [] and leftovers(tmp_path / "out") == []


def test_json_runs_show_progress_on_stderr(tmp_path: Path, small_file: str,
                                           capsys: pytest.CaptureFixture):
    args = ["egru-sweep", "--trace", small_file, "--pes", "3,4", "--strategy", "equal",
            "--workers", "0", "--json"]
    assert main(args) == 0
    captured = capsys.readouterr()
    assert [r["pes"] for r in json.loads(captured.out)] == [3, 4]  # stdout: the JSON alone
    assert "egru-sweep" in captured.err and "2/2" in captured.err
