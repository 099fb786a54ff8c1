import pytest

from simulator.components import Component, Core, CoreConfig
from simulator.engine import DeadlockError, Engine
from simulator.ledger import Category


def test_clock_domain_conversion_rounds_up():
    e = Engine(clock_hz=150_000_000)
    assert e.to_cycles(5, 300_000_000) == 3  # 2.5 chip cycles occupy 3
    assert e.to_cycles(4, 300_000_000) == 2
    assert e.to_cycles(1, 150_000_000) == 1
    assert e.seconds(150) == pytest.approx(1e-6)


def test_rejects_bad_clock():
    with pytest.raises(ValueError, match="clock_hz"):
        Engine(clock_hz=0)


def test_static_energy_is_power_times_time():
    e = Engine(clock_hz=1_000_000)
    Component(e, "leaky", static_power_w=2e-3)
    e.env.timeout(500)
    e.run()
    # 2 mW x 500 us = 1 uJ = 1e6 pJ
    assert e.ledger.by("category")["static"] == pytest.approx(1e6)
    e.env.timeout(500)
    e.run()  # a second run charges only the new interval
    assert e.ledger.total() == pytest.approx(2e6)


def test_deadlock_names_stuck_component():
    e = Engine(clock_hz=1_000_000)
    never = e.env.event()

    def handler(core, item):
        yield never  # waits for an input that never comes

    core = Core(e, "pe7", CoreConfig(), handler)
    core.inbox.put("step 3")
    with pytest.raises(DeadlockError, match=r"pe7: handling 'step 3'"):
        e.run()


def test_run_until_does_not_report_deadlock():
    e = Engine(clock_hz=1_000_000)
    core = Core(e, "c", CoreConfig(), lambda c, i: c.work("x", Category.CONTROL, 1, 100, 1.0))
    core.inbox.put(1)
    assert e.run(until=50) == 50


def test_duplicate_component_names_rejected():
    e = Engine(clock_hz=1)
    Component(e, "a")
    with pytest.raises(ValueError, match="duplicate"):
        Component(e, "a")
