"""Wall time of the default ``nmsim rwkv-token`` run, and simulated events per second.

Run: ``python benchmarks/rwkv_token.py [--chip seneca] [--tokens 4] [--repeat 1]``. The default
is what the README's first command runs: a synthetic RWKV-4 3B block (published sparsity
profile), 4 tokens, dense and sparse, on SENECA. Target: ``nmsim rwkv-token`` (timed as a
command, start-up included) under 10 s on 2 cores; the job is also timed in one process, where
its SimPy events can be counted.

Phases are timed separately: making the traces, then simulating (building the chip, running
the engine, reducing the ledger). "Events" are the hardware events the model resolves: packet
trains delivered (each stands for ``count`` wire packets), items handled by cores, plus the
SimPy events the engine processed.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import simpy

from simulator.chips.registry import load_chip
from simulator.jobs import rwkv_token as job
from workloads.rwkv_inputs import load_traces


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--chip", default="seneca", help="a registered chip or a chip file")
    ap.add_argument("--tokens", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    steps = {"n": 0}
    original = simpy.Environment.step

    def counting_step(env: simpy.Environment) -> None:
        steps["n"] += 1
        original(env)

    simpy.Environment.step = counting_step  # count SimPy events without touching the engine
    best = None
    for _ in range(args.repeat):
        steps["n"] = 0
        t0 = time.perf_counter()
        dense, sparse = load_traces(tokens=args.tokens)
        t1 = time.perf_counter()
        result = job.rwkv_token(dense, sparse, load_chip(args.chip), tokens=args.tokens)
        t2 = time.perf_counter()
        if best is None or t2 - t0 < best[0]:
            best = (t2 - t0, t1 - t0, t2 - t1, steps["n"], result)
    total, traces, sim, n_steps, result = best
    handled = sum(r.count for r in result.breakdown if r.operation == "inject")
    tokens = result.provenance.tokens
    command = [sys.executable, "-m", "simulator.cli", "rwkv-token", "--chip", args.chip]
    if args.tokens:
        command += ["--tokens", str(args.tokens)]
    t0 = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    wall = time.perf_counter() - t0
    print(f"chip {args.chip}, {result.mapping.cores} cores, {tokens} tokens x 2 runs "
          f"({result.mapping.strategy} mapping)")
    print(f"nmsim rwkv-token   {wall:8.2f} s  wall, start-up included (dense and sparse in "
          "parallel where there are 2 cores)")
    print(f"in one process     {total:8.2f} s  (traces {traces:.2f} s, simulation {sim:.2f} s, "
          "critical paths recorded)")
    print(f"SimPy events       {n_steps:10,d}  ({n_steps / sim:,.0f} per second of simulation)")
    print(f"wire packets       {handled * tokens:10,.0f}  (both runs, sent as packet trains)")
    print(f"target             {'met' if wall < 10 else 'MISSED'}: nmsim rwkv-token under 10 s "
          "on 2 cores")

if __name__ == "__main__":
    main()
