"""Does the EGRU job's cost grow with the events, not with PEs x steps? Doubling exponents.

Run: ``python benchmarks/egru_scaling.py [--repeat 2] [--paper] [--json]`` (about 40 s on 2
cores with the defaults). Issue 13, item 4.

A base EGRU point on SpiNNaker2 (0.5 V, ``equal`` strategy, ``nnz`` layer split, seed 0): a
synthetic network smaller than the paper's (embedding 500, layers 900/900/500, every matrix
95% pruned), 60 PEs, 8 timesteps, every layer firing 20% of its units per step
(``synthetic_egru_trace(..., activity=0.2)``). ``--paper`` takes the paper-size network
(750 -> 1350/1350/750) at 150 PEs and 4 steps instead (about 3x slower). Then one thing at a
time is doubled:

- ``steps``: twice the timesteps (the same network and PEs);
- ``pes``: twice the PEs over the same network (each spike is multicast to every PE of its
  own and of the next layer, so the deliveries grow too);
- ``activity``: twice the fraction of units that fire per step;
- ``idle_pes``: as many extra PEs as the base uses, built on the chip but holding nothing and
  receiving nothing (the mapping gets one empty placement per idle PE).

For each point: CPU time of the simulation (``time.process_time()``, best of ``--repeat``
uninstrumented runs, the points taking turns, each run after a full garbage collection so
that it does not pay for the runs before it; the trace and partition are made beforehand,
untimed), NoC deliveries (``sum(n.delivered_packets for n in run.system.networks)``, every
packet arriving at every destination), and, from one more instrumented run, SimPy events
(``simpy.Environment.step`` wrapped, as ``benchmarks/rwkv_token.py`` does) and handler
calls (``EgruProgram.handle`` wrapped). For each doubling the table gives the exponent
``log2(x2 / x1)`` of the CPU time, of each count, and of CPU time per delivery and per event.

Expected, if the cost follows the events: the CPU-time exponent is about the SimPy events'
(about 1 for steps; above 1 for PEs, since done packets go to every PE of three layers), so
CPU time per event has an exponent of about 0; idle PEs add no deliveries and should cost
about nothing (CPU-time exponent about 0). More activity adds packets (deliveries, in wire
packets) but hardly any events: a core's spikes of one step and its done marker are one
train, one hop event per router and one delivery per destination however many spikes it
holds, so the activity exponent is well below the deliveries' (measured: about 0; the per
spike cost left, the column walks, is accounted inside the events).

:func:`measure` returns the exponents (keys ending in ``_exponent``, comparable with a
baseline by ``benchmarks/check_perf.py``) and a few raw figures of the base point.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import time
from dataclasses import dataclass, replace
from functools import partial

import simpy

from simulator.chips.registry import Chip
from simulator.jobs.egru_sweep import PointSpec, simulate_partition
from simulator.mapping import Mapping, Placement
from simulator.mappings.egru import map_egru
from simulator.programs.egru import EgruProgram
from simulator.simulate import Run, simulate
from workloads.egru_partition import Partition, layers_from_trace, partition
from workloads.egru_trace import PAPER_SIZES, PAPER_SPARSITY, synthetic_egru_trace
from workloads.trace import Trace

#: the base point: (embedding, layers...), PEs, steps, activity (fraction firing per step)
SMALL = ((500, 900, 900, 500), 60, 8, 0.2)
PAPER = (PAPER_SIZES, 150, 4, 0.2)
AXES = ("steps", "pes", "activity", "idle_pes")
EXPECTED = {
    "steps": "time ~1, time/event ~0",
    "pes": "time ~ SimPy events, time/event ~0",
    "activity": "time < deliveries (spikes ride in trains), time/event ~0",
    "idle_pes": "time ~0, deliveries 0",
}


@dataclass(frozen=True)
class Config:
    """One point of the benchmark."""

    sizes: tuple[int, ...]
    pes: int
    steps: int
    activity: float
    idle_pes: int = 0

    def doubled(self, axis: str) -> Config:
        if axis == "idle_pes":
            return replace(self, idle_pes=self.pes)
        return replace(self, **{axis: 2 * getattr(self, axis)})

    def spec(self) -> PointSpec:
        return PointSpec(pes=self.pes, strategy="equal", layer_split="nnz", model="synthetic",
                         steps=self.steps, seed=0)


@dataclass
class Point:
    """What one configuration measured."""

    config: Config
    cpu_s: float
    deliveries: int
    events: int
    handler_calls: int


def _trace(config: Config) -> Trace:
    return synthetic_egru_trace(config.sizes, PAPER_SPARSITY, activity=config.activity,
                                steps=config.steps, seed=0)


def _simulate(trace: Trace, part: Partition, chip: Chip, idle: int) -> Run:
    """The job's simulation of ``part``; with ``idle`` extra PEs that hold nothing."""
    if not idle:
        return simulate_partition(trace, part, chip)
    emap = map_egru(part, chip.cost(), chip.has("dram"))
    base = emap.mapping
    n = base.n_cores
    mapping = Mapping(base.placements + tuple(Placement(n + i, "idle") for i in range(idle)),
                      base.strategy, base.summary)
    return simulate(trace, mapping, partial(EgruProgram, egru_map=emap), chip, memory="check")


def _counted(trace: Trace, part: Partition, chip: Chip, idle: int) -> tuple[int, int]:
    """(SimPy events, handler calls) of one run, counted by wrapping both (then restored)."""
    counts = {"events": 0, "calls": 0}
    step, handle = simpy.Environment.step, EgruProgram.handle

    def counting_step(env: simpy.Environment) -> None:
        counts["events"] += 1
        step(env)

    def counting_handle(self, core, item):
        counts["calls"] += 1
        return handle(self, core, item)

    simpy.Environment.step = counting_step
    EgruProgram.handle = counting_handle
    try:
        _simulate(trace, part, chip, idle)
    finally:
        simpy.Environment.step, EgruProgram.handle = step, handle
    return counts["events"], counts["calls"]


def run_points(configs: list[Config], repeat: int = 2) -> list[Point]:
    """Best-of-``repeat`` CPU time and the counts of each configuration, the points taking
    turns (round ``r`` times every point once), so a slow stretch of the machine, or a drift
    over the run, does not land on one point."""
    inputs = []
    for config in configs:
        spec = config.spec()
        chip = spec.load_chip()
        trace = _trace(config)
        inputs.append((trace, partition(layers_from_trace(trace), spec.pes, spec.strategy,
                                        spec.layer_split), chip, config.idle_pes))
    best, deliveries = [math.inf] * len(configs), [0] * len(configs)
    for _ in range(max(1, repeat)):
        for i, args in enumerate(inputs):
            gc.collect()  # the garbage of earlier runs is not this run's cost
            t0 = time.process_time()
            run = _simulate(*args)
            best[i] = min(best[i], time.process_time() - t0)
            deliveries[i] = sum(n.delivered_packets for n in run.system.networks)
            del run
    return [Point(config, best[i], deliveries[i], *_counted(*args))
            for i, (config, args) in enumerate(zip(configs, inputs, strict=True))]


def _exp(a: float, b: float) -> float:
    return math.log2(b / a) if a > 0 and b > 0 else math.nan


def exponents(base: Point, doubled: dict[str, Point]) -> dict[str, float]:
    """Every doubling's exponents (``log2`` of doubled / base), keyed by axis."""
    out: dict[str, float] = {}
    for axis, p in doubled.items():
        out[f"{axis}_exponent"] = _exp(base.cpu_s, p.cpu_s)
        out[f"{axis}_deliveries_exponent"] = (_exp(base.deliveries, p.deliveries)
                                              if p.deliveries != base.deliveries else 0.0)
        out[f"{axis}_per_delivery_exponent"] = _exp(base.cpu_s / base.deliveries,
                                                    p.cpu_s / p.deliveries)
        out[f"{axis}_events_exponent"] = _exp(base.events, p.events)
        out[f"{axis}_per_event_exponent"] = _exp(base.cpu_s / base.events, p.cpu_s / p.events)
        out[f"{axis}_handler_calls_exponent"] = _exp(base.handler_calls, p.handler_calls)
    return out


def run_all(repeat: int = 2, paper: bool = False) -> tuple[Point, dict[str, Point]]:
    """The base point and each doubling."""
    sizes, pes, steps, activity = PAPER if paper else SMALL
    base_config = Config(tuple(sizes), pes, steps, activity)
    base, *doubled = run_points([base_config, *(base_config.doubled(a) for a in AXES)], repeat)
    return base, dict(zip(AXES, doubled, strict=True))


def measure(repeat: int = 2, paper: bool = False) -> dict[str, float]:
    """The exponents of every doubling, plus the base point's CPU seconds and counts."""
    base, doubled = run_all(repeat, paper)
    return {
        **exponents(base, doubled),
        "base_cpu_s": base.cpu_s,
        "base_deliveries": float(base.deliveries),
        "base_events": float(base.events),
        "base_handler_calls": float(base.handler_calls),
        "base_deliveries_per_cpu_s": base.deliveries / base.cpu_s,
    }


def format_table(base: Point, doubled: dict[str, Point]) -> str:
    """The points, then one line of exponents per doubling."""
    def describe(c: Config) -> str:
        idle = f" +{c.idle_pes} idle" if c.idle_pes else ""
        return f"{c.pes} PEs{idle}, {c.steps} steps, activity {c.activity:g}"

    head = ("point", "CPU s", "deliveries", "SimPy events", "handler calls", "deliv/CPU s")
    rows = [head]
    for name, p in (("base", base), *doubled.items()):
        rows.append((f"{name}: {describe(p.config)}", f"{p.cpu_s:.2f}", f"{p.deliveries:,}",
                     f"{p.events:,}", f"{p.handler_calls:,}",
                     f"{p.deliveries / p.cpu_s:,.0f}"))
    exps = exponents(base, doubled)
    head2 = ("doubled", "time", "deliveries", "time/delivery", "SimPy events", "time/event",
             "handler calls", "expected")
    rows2 = [head2]
    for axis in doubled:
        rows2.append((axis, *(f"{exps[f'{axis}_{k}']:+.2f}" for k in (
            "exponent", "deliveries_exponent", "per_delivery_exponent", "events_exponent",
            "per_event_exponent", "handler_calls_exponent")), EXPECTED[axis]))

    def render(table: list[tuple[str, ...]], left: int) -> list[str]:
        widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
        lines = ["  ".join(c.ljust(w) if i < left or i == len(r) - 1 else c.rjust(w)
                           for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
                 for r in table]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return lines

    return "\n".join([*render(rows, 1), "", "exponents log2(doubled / base):",
                      *render(rows2, 1)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=2,
                        help="timed runs per point, the best kept (default 2)")
    parser.add_argument("--paper", action="store_true",
                        help="base on the paper-size network (150 PEs, 4 steps)")
    parser.add_argument("--json", action="store_true", help="print measure()'s dict as JSON")
    args = parser.parse_args()
    wall = time.perf_counter()
    base, doubled = run_all(args.repeat, args.paper)
    if args.json:
        print(json.dumps({**exponents(base, doubled), "base_cpu_s": base.cpu_s,
                          "base_deliveries": base.deliveries}, indent=2))
        return
    sizes = "/".join(map(str, base.config.sizes))
    print(f"EGRU on SpiNNaker2 (0.5 V), synthetic {sizes} network, 95% pruned, seed 0; "
          f"CPU time best of {args.repeat}")
    print(format_table(base, doubled))
    print("expected if cost follows the events: time/event exponent about 0 on every axis; "
          "time exponent about 1 for steps, about the SimPy events' exponent for PEs, well "
          "below the deliveries' for activity (a core's spikes of a step are one train), "
          "about 0 for idle PEs (no deliveries, nothing to do)")
    print(f"wall {time.perf_counter() - wall:.1f} s")


if __name__ == "__main__":
    main()
