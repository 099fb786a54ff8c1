"""The reference the job benchmarks divide by, measured in the same run: bare SimPy."""

from __future__ import annotations

import time

import simpy

BARE_EVENTS = 500_000


def bare_simpy_cpu_s(events: int = BARE_EVENTS) -> float:
    """CPU seconds of bare SimPy stepping ``events`` timeouts (64 processes in a loop)."""
    env = simpy.Environment()
    budget = [events // 64] * 64

    def ticker(i: int):
        while budget[i]:
            budget[i] -= 1
            yield env.timeout(1 + i % 7)

    for i in range(64):
        env.process(ticker(i))
    t0 = time.process_time()
    env.run()
    return time.process_time() - t0
