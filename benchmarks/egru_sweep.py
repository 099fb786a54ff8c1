"""Wall time of the default EGRU sweep (``nmsim egru-sweep`` with no arguments).

Run: ``python benchmarks/egru_sweep.py [--workers N] [--keep DIR]``. It runs the same points
as the CLI's defaults (paper-size synthetic model, N in ``DEFAULT_PES``, both strategies,
``nnz`` layer split, ``DEFAULT_STEPS`` timesteps, 0.5 V, seed 0) through the same code path
(:func:`simulator.cli.main`), written to a fresh temporary ``--out`` so no point is skipped,
and prints the wall time, the number of points, points per minute, and whether the target
"the default sweep in under 2 minutes on 2 cores" is met. The wall time includes starting
the worker processes and building the trace in each; not Python's start-up or imports.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
import time
from pathlib import Path

from simulator.cli import main as nmsim
from simulator.jobs.egru_sweep import DEFAULT_PES

TARGET_S = 120.0
TARGET_CORES = 2


def run(workers: int | None, out: Path) -> tuple[float, list[dict]]:
    """Seconds of one default sweep into ``out``, and its rows."""
    args = ["egru-sweep", "--out", str(out), "--json"]
    if workers is not None:
        args += ["--workers", str(workers)]
    buf = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(buf):
        rc = nmsim(args)
    seconds = time.perf_counter() - start
    if rc != 0:
        raise SystemExit(f"egru-sweep failed (exit {rc})")
    return seconds, json.loads(buf.getvalue())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workers", type=int, help="as nmsim's --workers (default: CPU count)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="write the sweep here instead of a temporary directory (must not "
                             "hold finished points, or they are skipped)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="egru_sweep_bench_") as tmp:
        out = args.keep or Path(tmp) / "sweep"
        seconds, rows = run(args.workers, out)
    cores = os.cpu_count() or 1
    workers = args.workers if args.workers is not None else cores
    n = len(rows)
    expected = 2 * len(DEFAULT_PES)
    print(f"default egru-sweep: {n} points (expected {expected}) in {seconds:.1f} s wall, "
          f"{n / seconds * 60:.1f} points/min; {workers} worker process(es) on {cores} CPU(s)")
    met = seconds < TARGET_S and cores <= TARGET_CORES
    verdict = "met" if met else "NOT met"
    if cores > TARGET_CORES:
        verdict += f" (this machine has {cores} CPUs: not comparable)"
    print(f"target: under {TARGET_S:.0f} s on {TARGET_CORES} cores: {verdict}")


if __name__ == "__main__":
    main()
