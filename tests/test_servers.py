"""FIFO servers by their free times: the grants of a ``simpy.Resource`` without its events."""

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.components.servers import Servers


def test_one_server_queues_in_request_order():
    s = Servers()
    assert s.grant(0, 10) == 0
    assert s.grant(3, 5) == 10  # waits for the first
    assert s.grant(20, 1) == 20  # free again
    assert s.busy(14) == 1 and s.busy(21) == 0


def test_two_servers_take_the_first_free():
    s = Servers(2)
    assert [s.grant(0, 10), s.grant(0, 4), s.grant(1, 1), s.grant(2, 1)] == [0, 0, 4, 5]


def test_capacity_must_be_positive():
    with pytest.raises(ValueError, match="capacity >= 1"):
        Servers(0)


def _simpy_grants(capacity: int, requests: list[tuple[int, int]]) -> list[int]:
    env = simpy.Environment()
    res = simpy.Resource(env, capacity)
    grants = [0] * len(requests)

    def user(i, at, hold):
        yield env.timeout(at)
        with res.request() as req:
            yield req
            grants[i] = int(env.now)
            yield env.timeout(hold)

    for i, (at, hold) in enumerate(requests):
        env.process(user(i, at, hold))
    env.run()
    return grants


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 3),
       st.lists(st.tuples(st.integers(0, 50), st.integers(0, 20)), min_size=1, max_size=25))
def test_grants_equal_a_simpy_resource(capacity, requests):
    """Requests made in time order (ties in list order, as SimPy creates them) are granted
    at the times a SimPy resource of the same capacity grants them."""
    requests = sorted(requests, key=lambda r: r[0])
    s = Servers(capacity)
    assert [s.grant(at, hold) for at, hold in requests] == _simpy_grants(capacity, requests)
