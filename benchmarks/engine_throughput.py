"""Events per second of the component layer versus bare SimPy doing the same work at the same depth.

Run: ``python benchmarks/engine_throughput.py [--packets N] [--repeat R]``. The workload is a
4x4 mesh of cores; each packet makes its receiver do one analytic work item and forward a
packet to a random core until its hop budget is spent (so it exercises Core, Noc hops with link
contention, and the ledger).

Like terms. The component run is first run once instrumented (``simpy.Environment.step`` and
``schedule`` wrapped, as ``benchmarks/rwkv_token.py`` counts steps): that counts its SimPy
events, samples ``len(env._queue)`` before every step (the average is its queue depth) and
records the delay of every scheduled event. The bare-SimPy baseline then processes exactly as
many SimPy events with as many pending: as many processes as the average depth, each a loop of
``yield env.timeout(d)`` (one pending event per process, so the depth stays constant), the
delays resampled from the component run's own delays, all drawing on one shared budget so that
no process runs dry early. Both are timed uninstrumented, with the same stepping loop, in CPU
seconds of the process (a shared machine inflates wall time), best of ``--repeat`` interleaved
runs. The component run's depth is not steady: about 18% of its steps see more than 1,000
pending events (the injected packets wait on contended links), most see about 50.

Two units. SimPy events per second (component / bare: the ratio on like terms) and the
simulated hardware events of DESIGN.md per second (packets sent, link hops and items a core
handled; the component run resolves more of them than it takes SimPy events), divided by the
same bare SimPy rate. Target: the component layer keeps >= 50% of the bare rate.
:func:`measure` returns the numbers (keys ending in ``_ratio`` are the ones a regression check
compares); :func:`main` prints them.
"""

from __future__ import annotations

import argparse
import gc
import time

import numpy as np
import simpy

from simulator.components import Core, CoreConfig, Noc, NocConfig, mesh_graph
from simulator.engine import Engine
from simulator.ledger import Category

# Illustrative parameters: the benchmark measures the engine, not a chip.
NOC = NocConfig(clock_hz=1_000_000, router_latency_cycles=1, link_width_bits=64, header_bits=32,
                max_payload_bits=128, inject_energy_pj=1.0, hop_energy_pj=1.0,
                hop_energy_per_bit_pj=0.01)
TARGET = 0.50
#: for benchmarks/check_perf.py: these ratios are fractions of bare SimPy, higher is better
HIGHER_IS_BETTER = {"simpy_ratio", "hardware_ratio"}


def count_steps(env: simpy.Environment) -> tuple[int, float]:
    """Step ``env`` until its queue is empty; return (SimPy events, CPU seconds of this process:
    on a shared machine wall time also counts the time other processes held the CPU)."""
    n = 0
    step = env.step
    gc.collect()
    t0 = time.process_time()
    try:
        while True:
            step()
            n += 1
    except simpy.core.EmptySchedule:
        return n, time.process_time() - t0


class _Probe:
    """Wraps ``simpy.Environment.step``/``schedule`` while in use: counts steps, samples the
    queue depth before each, records scheduled delays. Restores both on exit."""

    def __enter__(self) -> _Probe:
        self.steps = 0
        self.depth_sum = 0
        self.delays: list[float] = []
        self._step, self._schedule = simpy.Environment.step, simpy.Environment.schedule
        step, schedule, delays = self._step, self._schedule, self.delays

        def counting_step(env: simpy.Environment) -> None:
            depth = len(env._queue)
            step(env)  # raises EmptySchedule at the end: that call is not an event
            self.steps += 1
            self.depth_sum += depth

        def recording_schedule(env, event, priority=simpy.events.NORMAL, delay=0):
            delays.append(delay)
            schedule(env, event, priority, delay)

        simpy.Environment.step = counting_step
        simpy.Environment.schedule = recording_schedule
        return self

    def __exit__(self, *exc: object) -> None:
        simpy.Environment.step, simpy.Environment.schedule = self._step, self._schedule

    @property
    def depth(self) -> float:
        return self.depth_sum / max(self.steps, 1)


def component_workload(packets: int, ttl: int = 8, seed: int = 0):
    """Build the mesh with ``packets`` packets injected; return (environment, hardware-events
    function to call after the run)."""
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

    def hardware() -> int:
        hops = eng.ledger.by("operation", value="count")["hop"]
        return int(noc.sent + hops + sum(c.handled for c in cores))

    return eng.env, hardware


def bare_workload(events: int, depth: int, delays: list[float], seed: int = 0) -> simpy.Environment:
    """``depth`` processes looping on ``env.timeout``, ``events`` SimPy events in all (each
    process also takes one start and one end event), delays drawn from ``delays``."""
    env = simpy.Environment()
    depth = max(1, min(depth, events // 2))
    rng = np.random.default_rng(seed)
    budget = rng.choice(np.asarray(delays), size=max(events - 2 * depth, 0)).tolist()
    pop = budget.pop
    timeout = env.timeout

    def ticker():
        while budget:
            yield timeout(pop())

    for _ in range(depth):
        env.process(ticker())
    return env


def measure(packets: int = 20_000, repeat: int = 3) -> dict[str, float]:
    """Run the comparison; return rates (per second), ratios, event counts and queue depths."""
    env, hardware = component_workload(packets)
    with _Probe() as probe:
        count_steps(env)
    n_hw, n_simpy, depth = hardware(), probe.steps, probe.depth
    with _Probe() as bare_probe:
        count_steps(bare_workload(n_simpy, round(depth), probe.delays))
    t_comp = t_bare = float("inf")
    n_bare = 0
    for _ in range(repeat):  # interleaved, so a loaded machine slows both alike
        env, hardware = component_workload(packets)
        n, t = count_steps(env)
        assert (n, hardware()) == (n_simpy, n_hw), "component run is not deterministic"
        t_comp = min(t_comp, t)
        n_bare, t = count_steps(bare_workload(n_simpy, round(depth), probe.delays))
        t_bare = min(t_bare, t)
    comp_simpy, bare_simpy, comp_hw = n_simpy / t_comp, n_bare / t_bare, n_hw / t_comp
    return {
        "simpy_ratio": comp_simpy / bare_simpy,
        "hardware_ratio": comp_hw / bare_simpy,
        "component_simpy_per_s": comp_simpy,
        "component_hardware_per_s": comp_hw,
        "bare_simpy_per_s": bare_simpy,
        "component_seconds": t_comp,
        "bare_seconds": t_bare,
        "component_simpy_events": float(n_simpy),
        "component_hardware_events": float(n_hw),
        "bare_simpy_events": float(n_bare),
        "queue_depth": depth,
        "bare_queue_depth": bare_probe.depth,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--packets", type=int, default=20_000, help="initial packets (default 20000)")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each (default 3)")
    args = ap.parse_args()
    m = measure(args.packets, args.repeat)
    print(f"component layer: {m['component_simpy_events']:>10,.0f} SimPy events in "
          f"{m['component_seconds']:6.2f} s = {m['component_simpy_per_s']:>11,.0f} /s, "
          f"queue depth {m['queue_depth']:,.0f} on average")
    print(f"                 {m['component_hardware_events']:>10,.0f} hardware events "
          f"(packets, hops, items) = {m['component_hardware_per_s']:>11,.0f} /s")
    print(f"bare SimPy:      {m['bare_simpy_events']:>10,.0f} SimPy events in "
          f"{m['bare_seconds']:6.2f} s = {m['bare_simpy_per_s']:>11,.0f} /s, "
          f"queue depth {m['bare_queue_depth']:,.0f} on average")
    for unit, key in (("SimPy events", "simpy_ratio"), ("hardware events", "hardware_ratio")):
        print(f"ratio, {unit + ' / bare SimPy events:':<37} {m[key]:.2f}  "
              f"({'met' if m[key] >= TARGET else 'MISSED'}: target >= {TARGET:.2f})")


if __name__ == "__main__":
    main()
