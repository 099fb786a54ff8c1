"""CPU time of one DVS-gesture sample at the paper's size (issue 15: under 10 s on 2 cores).

Run: ``python benchmarks/dvs_gesture.py [--frames 20] [--batch 1]``: ``nmsim dvs-gesture``'s
default point (128 SpiNNaker2 PEs, dense weights, 20 frames, activity 0.1, synthetic), the
trace drawn beforehand, the simulation timed in CPU seconds of this process, best of
``--repeat``. :func:`measure` divides it by bare SimPy stepping a fixed 500,000 timeouts in the
same run (``sample_per_bare_simpy_ratio``, lower is better).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _reference import bare_simpy_cpu_s  # noqa: E402

from simulator.chips.registry import load_chip  # noqa: E402
from simulator.jobs.dvs_gesture import DEFAULT_CHIP, WEIGHT_FORMAT  # noqa: E402
from simulator.mappings.egru import map_egru  # noqa: E402
from simulator.programs.egru import EgruProgram  # noqa: E402
from simulator.simulate import simulate  # noqa: E402
from workloads.dvs_trace import DEFAULT_FRAMES, DVS_PAPER_PES, synthetic_dvs_trace  # noqa: E402
from workloads.egru_partition import layers_from_trace, partition  # noqa: E402

TARGET_S = 10.0


def sample_cpu_s(frames: int = DEFAULT_FRAMES, batch: int = 1, repeat: int = 1) -> float:
    chip = load_chip(DEFAULT_CHIP)
    trace = synthetic_dvs_trace(frames, batch)
    part = partition(layers_from_trace(trace), DVS_PAPER_PES, "equal", "nnz")
    emap = map_egru(part, chip.cost(), chip.has("dram"), weight_format=WEIGHT_FORMAT)
    best = math.inf
    for _ in range(max(1, repeat)):
        t0 = time.process_time()
        simulate(trace, emap.mapping, partial(EgruProgram, egru_map=emap), chip, memory="check")
        best = min(best, time.process_time() - t0)
    return best


def measure() -> dict[str, float]:
    bare = bare_simpy_cpu_s()
    cpu = sample_cpu_s()
    return {"sample_per_bare_simpy_ratio": cpu / bare, "sample_cpu_s": cpu,
            "bare_simpy_cpu_s": bare}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=DEFAULT_FRAMES)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    cpu = sample_cpu_s(args.frames, args.batch, args.repeat)
    verdict = "met" if cpu / args.batch < TARGET_S else "NOT met"
    print(f"DVS-gesture, {DVS_PAPER_PES} PEs, batch {args.batch} x {args.frames} frames: "
          f"{cpu:.2f} CPU-s, {cpu / args.batch:.2f} per sample (target under {TARGET_S:.0f} s: "
          f"{verdict})")


if __name__ == "__main__":
    main()
