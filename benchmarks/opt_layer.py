"""CPU time of one OPT-2.7B decoder layer at context 1024 (issue 15: under 10 s on 2 cores).

Run: ``python benchmarks/opt_layer.py [--context 1024] [--chip seneca]``: ``nmsim
opt-token``'s default point (the synthetic OPT-2.7B layer, the published 1.0005 profile, one
token, critical paths recorded as the command does), dense and sparse one after the other in
this process, each timed in CPU seconds; the command runs the two side by side on 2 cores, so
its wall time is about the slower of the two plus start-up. :func:`measure` divides the pair by
bare SimPy stepping a fixed 500,000 timeouts in the same run (``layer_per_bare_simpy_ratio``,
lower is better).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _reference import bare_simpy_cpu_s  # noqa: E402

from simulator.chips.registry import load_chip  # noqa: E402
from simulator.jobs.opt_token import simulate_trace  # noqa: E402
from workloads.opt_inputs import load_traces  # noqa: E402

TARGET_S = 10.0
HIGHER_IS_BETTER: set[str] = set()  # every ratio here is lower-is-better


def layer_cpu_s(context: int = 1024, chip: str = "seneca") -> dict[str, float]:
    """CPU seconds of the dense and the sparse run."""
    c = load_chip(chip)
    dense, sparse = load_traces(tokens=1)
    out = {}
    for mode, trace in (("dense", dense), ("sparse", sparse)):
        t0 = time.process_time()
        simulate_trace(trace, c, sparse=mode == "sparse", context=context, critical_path=True)
        out[mode] = time.process_time() - t0
    return out


def measure() -> dict[str, float]:
    bare = bare_simpy_cpu_s()
    cpu = layer_cpu_s()
    both = cpu["dense"] + cpu["sparse"]
    return {"layer_per_bare_simpy_ratio": both / bare, "layer_cpu_s": both,
            "bare_simpy_cpu_s": bare}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--context", type=int, default=1024)
    parser.add_argument("--chip", default="seneca")
    args = parser.parse_args()
    cpu = layer_cpu_s(args.context, args.chip)
    slower = max(cpu.values())
    verdict = "met" if sum(cpu.values()) < TARGET_S else "NOT met"
    print(f"OPT-2.7B layer, context {args.context}, {args.chip}: dense {cpu['dense']:.2f} "
          f"CPU-s, sparse {cpu['sparse']:.2f} CPU-s; both {sum(cpu.values()):.2f} CPU-s in one "
          f"process, about {slower:.2f} s on 2 cores (target under {TARGET_S:.0f} s: "
          f"{verdict})")


if __name__ == "__main__":
    main()
