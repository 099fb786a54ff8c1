import pytest

from simulator.components import Core, CoreConfig
from simulator.engine import Engine
from simulator.ledger import Category, tags


def test_handler_work_charges_and_takes_time():
    eng = Engine(1000)
    log = []

    def handler(core, item):
        log.append((item, eng.now))
        yield core.work("mac", Category.COMPUTATION, item, 2 * item, 1.5 * item, tags(site="s"))

    core = Core(eng, "c", CoreConfig(static_power_w=0.0), handler)
    for n in (3, 5):
        core.inbox.put(n)
    eng.run()
    assert log == [(3, 0), (5, 6)]  # the second waits for the first: one inbox, in order
    assert eng.now == 16 and core.handled == 2 and core.busy_cycles == 16
    assert eng.ledger.by("site") == {"s": pytest.approx(12.0)}


def test_plain_function_handler_charges_without_time():
    eng = Engine(1000)
    core = Core(eng, "c", CoreConfig(), lambda c, i: c.charge("evt", Category.CONTROL, 1, 4, 2.0))
    core.inbox.put("x")
    eng.run()
    assert eng.now == 0 and eng.ledger.total() == 2.0 and core.pending() is None


def test_send_without_noc_fails():
    core = Core(Engine(1000), "c", CoreConfig(), lambda c, i: None)
    with pytest.raises(RuntimeError, match="no NoC"):
        core.send(["d"], 0)
