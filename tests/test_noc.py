import itertools

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.components import Core, CoreConfig, Noc, mesh_graph
from simulator.engine import Engine


def make_noc(noc_config, w=3, h=3, **kw):
    eng = Engine(100_000_000)  # same clock as the NoC: no conversion
    noc = Noc(eng, "noc", noc_config, mesh_graph(w, h), record_deliveries=True, **kw)
    got: dict[str, list] = {}
    for x in range(w):
        for y in range(h):
            name = f"c{x}{y}"
            got[name] = []
            noc.attach(name, (x, y), lambda p, name=name: got[name].append((p.id, eng.now)))
    return eng, noc, got


def test_xy_route_goes_x_first(noc_config):
    _, noc, _ = make_noc(noc_config)
    assert noc.route((0, 0), (2, 1)) == [(0, 0), (1, 0), (2, 0), (2, 1)]


def test_unicast_latency_and_energy(noc_config):
    eng, noc, got = make_noc(noc_config)
    noc.send("c00", ["c21"], payload_bits=32)
    eng.run()
    # 3 hops, each: 64 bits over a 32-bit link = 2 cycles, then 2 cycles router latency
    assert got["c21"] == [(0, 12)]
    e = eng.ledger.by("operation")
    assert e["hop"] == pytest.approx(3 * (2.0 + 64 * 0.01))
    assert e["inject"] == pytest.approx(1.0)


def test_multicast_uses_one_copy_per_tree_link(noc_config):
    eng, noc, got = make_noc(noc_config)
    dsts = ["c20", "c21", "c22", "c02"]
    noc.send("c00", dsts, payload_bits=0)
    eng.run()
    # tree: (0,0)->(1,0)->(2,0)->(2,1)->(2,2) and (0,0)->(0,1)->(0,2): 6 links
    assert eng.ledger.by("operation", value="count")[("hop")] == 6
    assert all(len(got[d]) == 1 for d in dsts)
    assert sum(len(v) for v in got.values()) == 4


def test_link_contention_serialises_packets(noc_config):
    eng, noc, got = make_noc(noc_config)
    noc.send("c00", ["c10"], payload_bits=128)  # 160 bits: 5 cycles on the link
    noc.send("c00", ["c10"], payload_bits=128)
    eng.run()
    assert [t for _, t in got["c10"]] == [7, 12]
    assert noc.link_bits[((0, 0), (1, 0))] == 320


def test_local_delivery_needs_no_hop(noc_config):
    eng, noc, got = make_noc(noc_config)
    noc.send("c11", ["c11"], payload_bits=32)
    eng.run()
    assert got["c11"] == [(0, 0)]
    assert "hop" not in eng.ledger.by("operation")


def test_shortest_path_on_irregular_graph(noc_config):
    eng = Engine(100_000_000)
    g = nx.cycle_graph(5)
    noc = Noc(eng, "ring", noc_config.model_copy(update={"routing": "shortest"}), g)
    got = []
    for n in g:
        noc.attach(f"n{n}", n, got.append)
    noc.send("n0", ["n3"], 0)
    eng.run()
    assert len(got) == 1 and noc.route(0, 3) == [0, 4, 3]


def test_xy_on_mesh_with_hole_fails_clearly(noc_config):
    eng = Engine(100_000_000)
    noc = Noc(eng, "noc", noc_config, mesh_graph(3, 3, missing=[(1, 0)]))
    with pytest.raises(ValueError, match="lacks"):
        noc.route((0, 0), (2, 0))


def test_bad_packets_rejected(noc_config):
    _, noc, _ = make_noc(noc_config)
    with pytest.raises(ValueError, match="payload"):
        noc.send("c00", ["c11"], payload_bits=256)
    with pytest.raises(ValueError, match="unknown endpoint"):
        noc.send("c00", ["zz"], payload_bits=0)
    with pytest.raises(ValueError, match="no destination"):
        noc.send("c00", [], payload_bits=0)


def test_clock_domain_crossing(noc_config):
    eng = Engine(50_000_000)  # chip at half the NoC clock
    noc = Noc(eng, "noc", noc_config, mesh_graph(2, 1))
    got = []
    noc.attach("a", (0, 0), got.append)
    noc.attach("b", (1, 0), lambda p: got.append(eng.now))
    noc.send("a", ["b"], 32)
    eng.run()
    assert got == [2]  # 2 NoC cycles -> 1 chip cycle; router 2 -> 1


def test_cores_exchange_packets(noc_config):
    eng = Engine(100_000_000)
    noc = Noc(eng, "noc", noc_config, mesh_graph(2, 1))
    seen = []

    def pong(core, pkt):
        seen.append((core.name, pkt.data))
        if pkt.data < 3:
            core.send([pkt.src], 32, pkt.data + 1)
        yield core.busy(1)

    a = Core(eng, "a", CoreConfig(), pong, noc, (0, 0))
    Core(eng, "b", CoreConfig(), pong, noc, (1, 0))
    a.send(["b"], 32, 0)
    eng.run()
    assert seen == [("b", 0), ("a", 1), ("b", 2), ("a", 3)]


def test_train_costs_count_packets_and_holds_links(noc_config):
    eng, noc, got = make_noc(noc_config)
    p = noc.send("c00", ["c21"], payload_bits=32, count=5)
    q = noc.send("c00", ["c21"], payload_bits=32)
    eng.run()
    # head cut-through: same head latency as one packet (3 hops x (2 + 2) cycles)
    assert got["c21"][0] == (p.id, 12)
    assert p.tail_cycles == 4 * 2
    # the single packet behind the train waits for the 5 x 2 cycles the train holds link 1
    assert got["c21"][1] == (q.id, 10 + 12)
    e = eng.ledger.by("operation")
    assert e["hop"] == pytest.approx(6 * 3 * (2.0 + 64 * 0.01))
    assert e["inject"] == pytest.approx(6.0)
    assert eng.ledger.by("operation", value="count")["hop"] == 18
    assert sum(noc.link_packets.values()) == 18


def test_train_needs_a_packet(noc_config):
    _, noc, _ = make_noc(noc_config)
    with pytest.raises(ValueError, match="count >= 1"):
        noc.send("c00", ["c21"], payload_bits=32, count=0)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(w=st.integers(1, 7), h=st.integers(1, 7), data=st.data())
def test_xy_multicast_tree_is_the_union_of_the_routes(noc_config, w, h, data):
    """The fast XY tree builder gives exactly the union of the routes, children in the order
    the routes first take them (the order fixes the order of simultaneous hop events)."""
    _, noc, _ = make_noc(noc_config, w, h)
    nodes = [(x, y) for x in range(w) for y in range(h)]
    src = data.draw(st.sampled_from(nodes))
    dsts = frozenset(data.draw(st.lists(st.sampled_from(nodes), min_size=1, max_size=12)))
    union: dict = {}
    for d in sorted(dsts, key=repr):
        for a, b in itertools.pairwise(noc.route(src, d)):
            kids = union.setdefault(a, [])
            if b not in kids:
                kids.append(b)
    assert noc.tree(src, dsts) == {n: tuple(k) for n, k in union.items()}


def test_xy_tree_through_a_hole_fails_clearly(noc_config):
    eng = Engine(100_000_000)
    noc = Noc(eng, "noc", noc_config, mesh_graph(3, 3, missing=[(1, 0)]))
    with pytest.raises(ValueError, match="lacks"):
        noc.tree((0, 0), frozenset({(2, 0)}))
