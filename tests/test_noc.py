import itertools

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.components import Core, CoreConfig, Noc, Tail, mesh_graph
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


# -- a train's last packet going on alone (Tail) ------------------------------------------------
def _noc_with_data(noc_config, w=3, h=3):
    """A mesh whose endpoints note (data, count, time) of each delivery."""
    eng = Engine(100_000_000)
    noc = Noc(eng, "noc", noc_config, mesh_graph(w, h), record_deliveries=True)
    got: dict[str, list] = {}
    for x in range(w):
        for y in range(h):
            name = f"c{x}{y}"
            got[name] = []
            noc.attach(name, (x, y),
                       lambda p, name=name: got[name].append((p.data, p.count, eng.now)))
    return eng, noc, got


def test_tail_leaves_the_train_where_the_routes_part(noc_config):
    eng, noc, got = _noc_with_data(noc_config)
    # a train of 3 (64-bit packets: 2 cycles a link) written 5 cycles apart, to c20; its last
    # packet also to c10 (on the train's route) and c02 (a branch of its own from the source)
    noc.send("c00", ["c20"], 32, "train", count=3, spacing=5,
             tail=Tail("done", ("c10", "c02", "c20")))
    eng.run()
    assert got["c20"] == [("train", 3, 8)]  # head: 2 hops x (2 + 2); c20 is no tail stop
    # c10: the head passes at 4, the last packet 2 spacings behind; c02: written at 10, 2 hops
    assert got["c10"] == [("done", 1, 14)] and got["c02"] == [("done", 1, 18)]
    counts = eng.ledger.by("operation", value="count")
    assert counts["inject"] == 3  # the tail is the train's last packet, not a fourth
    assert counts["hop"] == 3 * 2 + 2  # the train on its 2 links, the tail alone on 2 more
    assert noc.link_bits[((0, 0), (1, 0))] == 3 * 64 and noc.link_bits[((0, 0), (0, 1))] == 64
    assert noc.sent == 1 and noc.packets == 3
    assert noc.delivered == noc.expected == 3 and set(noc.deliveries.values()) == {1}


def test_tail_without_a_train_is_its_last_packet_when_written(noc_config):
    eng, noc, got = _noc_with_data(noc_config)
    noc.send("c00", [], 32, None, count=4, spacing=5, tail=Tail("done", ("c10",)))
    eng.run()
    assert got["c10"] == [("done", 1, 15 + 4)]  # written at 3 x 5, one hop
    assert eng.ledger.by("operation", value="count")["inject"] == 1 and noc.packets == 1


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_tail_is_the_marker_sent_behind_the_train(noc_config, data):
    """On idle links a train with a tail costs, carries and delivers exactly what the train
    without its last packet followed by that packet, sent on its own to every destination
    when the sender writes it, does (spacing no shorter than a link's hold)."""
    nodes = [f"c{x}{y}" for x in range(4) for y in range(4)]
    src = data.draw(st.sampled_from(nodes))
    train = data.draw(st.lists(st.sampled_from(nodes), min_size=1, max_size=6, unique=True))
    rest = data.draw(st.lists(st.sampled_from([n for n in nodes if n not in train]),
                              max_size=6, unique=True))
    k, spacing = data.draw(st.integers(1, 4)), data.draw(st.integers(2, 9))  # 2: link hold

    def last_packets(eng, got):
        # when each destination has the last packet: a train's head + its tail cycles
        return {ep: [t + (n - 1) * spacing for _, n, t in v][-1] for ep, v in got.items() if v}

    eng, noc, got = _noc_with_data(noc_config, 4, 4)
    noc.send(src, train, 32, "train", count=k + 1, spacing=spacing, tail=Tail("done", rest))
    eng.run()
    merged = (last_packets(eng, got), eng.ledger.by("operation", value="count"),
              eng.ledger.by("operation"), noc.link_bits, noc.packets)

    eng, noc, got = _noc_with_data(noc_config, 4, 4)
    if k:
        noc.send(src, train, 32, "train", count=k, spacing=spacing)
    eng.env.timeout(k * spacing).callbacks.append(
        lambda _e: noc.send(src, train + rest, 32, "done"))
    eng.run()
    apart = ({ep: v[-1][2] for ep, v in got.items() if v}, eng.ledger.by("operation",
             value="count"), eng.ledger.by("operation"), noc.link_bits, noc.packets)
    assert merged[0] == apart[0]
    assert merged[1] == apart[1] and merged[3] == apart[3] and merged[4] == apart[4]
    assert merged[2] == pytest.approx(apart[2])
