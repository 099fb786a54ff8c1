"""Wall time of an EGRU sweep over every PE count of one chip (issue 13, item 2).

Run: ``python benchmarks/egru_sweep.py [--pes 3:152:1] [--strategy equal] [--workers N]
[--keep DIR]``. By default it runs the issue's target, ``nmsim egru-sweep --pes 3:152:1
--strategy equal`` (150 points: N = 3, the least that holds three layers, to 152, one
SpiNNaker2 chip; paper-size synthetic model, ``nnz`` layer split, ``DEFAULT_STEPS``
timesteps, 0.5 V, seed 0), through the same code path (:func:`simulator.cli.main`), into a
fresh temporary ``--out`` so no point is skipped. ``--pes default`` runs the CLI's default
points instead (both strategies). It prints the wall time, the points, points per minute, and
whether the target "under 2 minutes on 2 cores" is met. The wall time includes starting the
worker processes and building the trace in each; not Python's start-up or imports.

:func:`measure` (for ``check_perf.py``) runs a tenth of the target in this process (N = 3 to
152 in steps of 10, ``--workers 0``: no worker process) and divides its CPU time by the CPU
time of bare SimPy stepping a fixed 500,000 timeouts measured in the same run
(``benchmarks/_reference.py``): ``sweep_per_bare_simpy_ratio``, lower is better.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _reference import bare_simpy_cpu_s  # noqa: E402

from simulator.cli import main as nmsim  # noqa: E402

TARGET_S = 120.0
TARGET_CORES = 2
TARGET_PES = "3:152:1"


def run(pes: str, strategy: str | None, workers: int | None, out: Path) -> tuple[float, list]:
    """Seconds of one sweep into ``out``, and its rows."""
    args = ["egru-sweep", "--out", str(out), "--json"]
    if pes != "default":
        args += ["--pes", pes]
    if strategy:
        args += ["--strategy", strategy]
    if workers is not None:
        args += ["--workers", str(workers)]
    buf = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        rc = nmsim(args)
    seconds = time.perf_counter() - start
    if rc != 0:
        raise SystemExit(f"egru-sweep failed (exit {rc})")
    return seconds, json.loads(buf.getvalue())


def measure() -> dict[str, float]:
    bare = bare_simpy_cpu_s()
    with tempfile.TemporaryDirectory(prefix="egru_sweep_bench_") as tmp:
        t0 = time.process_time()
        _, rows = run("3:152:10", "equal", 0, Path(tmp) / "sweep")
        cpu = time.process_time() - t0
    return {"sweep_per_bare_simpy_ratio": cpu / bare, "sweep_cpu_s": cpu,
            "bare_simpy_cpu_s": bare, "points": float(len(rows))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pes", default=TARGET_PES,
                        help=f"as nmsim's --pes, or 'default' (default {TARGET_PES})")
    parser.add_argument("--strategy", default="equal",
                        help="as nmsim's --strategy (default equal; with --pes default: both)")
    parser.add_argument("--workers", type=int, help="as nmsim's --workers (default: CPU count)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="write the sweep here instead of a temporary directory (must not "
                             "hold finished points, or they are skipped)")
    args = parser.parse_args()
    strategy = None if args.pes == "default" else args.strategy
    with tempfile.TemporaryDirectory(prefix="egru_sweep_bench_") as tmp:
        out = args.keep or Path(tmp) / "sweep"
        seconds, rows = run(args.pes, strategy, args.workers, out)
    cores = os.cpu_count() or 1
    workers = args.workers if args.workers is not None else cores
    n = len(rows)
    print(f"egru-sweep --pes {args.pes}: {n} points in {seconds:.1f} s wall, "
          f"{n / seconds * 60:.1f} points/min; {workers} worker process(es) on {cores} CPU(s)")
    met = seconds < TARGET_S and cores <= TARGET_CORES
    verdict = "met" if met else "NOT met"
    if cores > TARGET_CORES:
        verdict += f" (this machine has {cores} CPUs: not comparable)"
    print(f"target: under {TARGET_S:.0f} s on {TARGET_CORES} cores: {verdict}")


if __name__ == "__main__":
    main()
