"""Events per second of the component layer versus a bare SimPy loop of the same event count.

Run: ``python benchmarks/engine_throughput.py [--packets N]``. The workload is a 4x4 mesh of
cores; each packet makes its receiver do one analytic work item and forward a packet to a
random core until its hop budget is spent (so it exercises Core, Noc hops with link contention,
and the ledger).

"Events" are the simulated hardware events of DESIGN.md: packets sent, link hops, and items a
core handled. The bare loop runs plain ``env.timeout`` processes, one timeout per event, for
the same number of events: what SimPy costs with no model attached. Target: the component layer
keeps >= 50% of the bare rate. SimPy events processed are printed too.
"""

from __future__ import annotations

import argparse
import time

import simpy

from simulator.components import Core, CoreConfig, Noc, NocConfig, mesh_graph
from simulator.engine import Engine
from simulator.ledger import Category

# Illustrative parameters: the benchmark measures the engine, not a chip.
NOC = NocConfig(clock_hz=1_000_000, router_latency_cycles=1, link_width_bits=64, header_bits=32,
                max_payload_bits=128, inject_energy_pj=1.0, hop_energy_pj=1.0,
                hop_energy_per_bit_pj=0.01)


def count_steps(env: simpy.Environment) -> int:
    n = 0
    step = env.step
    try:
        while True:
            step()
            n += 1
    except simpy.core.EmptySchedule:
        return n


def component_workload(packets: int, ttl: int = 8, seed: int = 0) -> tuple[int, int, float]:
    """Return (hardware events, SimPy events, seconds)."""
    eng = Engine(1_000_000, seed=seed)
    noc = Noc(eng, "noc", NOC, mesh_graph(4, 4))
    names = [f"c{i}" for i in range(16)]
    targets = eng.rng.integers(0, 16, size=packets * (ttl + 1)).tolist()

    def handler(core, pkt):
        yield core.work("mac", Category.COMPUTATION, 16, 4, 22.4)
        if pkt.data > 0:
            core.send([names[targets.pop()]], 64, pkt.data - 1)

    cores = [Core(eng, n, CoreConfig(), handler, noc, (i % 4, i // 4)) for i, n in enumerate(names)]
    for k in range(packets):
        cores[k % 16].send([names[targets.pop()]], 64, ttl)
    t0 = time.perf_counter()
    n = count_steps(eng.env)
    seconds = time.perf_counter() - t0
    hops = eng.ledger.by("operation", value="count")["hop"]
    hardware = int(noc.sent + hops + sum(c.handled for c in cores))
    return hardware, n, seconds


def bare_workload(events: int) -> tuple[int, float]:
    env = simpy.Environment()

    def ticker(k: int):
        for _ in range(k):
            yield env.timeout(1)

    procs = 64
    for _ in range(procs):
        env.process(ticker(events // procs))
    t0 = time.perf_counter()
    n = count_steps(env)
    return n, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=20_000, help="initial packets (default 20000)")
    args = ap.parse_args()
    n_comp, n_simpy, t_comp = component_workload(args.packets)
    n_bare, t_bare = bare_workload(n_comp)
    r_comp, r_bare = n_comp / t_comp, n_bare / t_bare
    print(f"component layer: {n_comp:>10,d} events in {t_comp:6.2f} s = {r_comp:>12,.0f} events/s"
          f"  ({n_simpy:,d} SimPy events)")
    print(f"bare SimPy loop: {n_bare:>10,d} events in {t_bare:6.2f} s = {r_bare:>12,.0f} events/s")
    print(f"ratio (component / bare): {r_comp / r_bare:.2f}  (target >= 0.50)")


if __name__ == "__main__":
    main()
