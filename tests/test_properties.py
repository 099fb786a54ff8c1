"""Invariants of the component layer, checked on random inputs (hypothesis)."""

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.components import (
    Core,
    CoreConfig,
    Noc,
    NocConfig,
    Sram,
    SramAllocationError,
    SramConfig,
    mesh_graph,
)
from simulator.engine import Engine
from simulator.ledger import Category, Ledger, tags

NOC = NocConfig(clock_hz=1000, router_latency_cycles=1, link_width_bits=16, header_bits=16,
                max_payload_bits=64, inject_energy_pj=1.0, hop_energy_pj=1.0,
                hop_energy_per_bit_pj=0.01)


@st.composite
def traffic(draw):
    w, h = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    n = w * h
    packets = draw(st.lists(
        st.tuples(
            st.integers(0, n - 1),  # source
            st.sets(st.integers(0, n - 1), min_size=1, max_size=n),  # destinations
            st.integers(0, 30),  # injection time
            st.sampled_from([0, 32, 64]),  # payload bits
        ),
        min_size=1, max_size=25,
    ))
    return w, h, packets


@settings(max_examples=60, deadline=None)
@given(traffic())
def test_every_packet_delivered_exactly_once_to_every_destination(t):
    w, h, packets = t
    eng = Engine(1000)
    noc = Noc(eng, "noc", NOC, mesh_graph(w, h), record_deliveries=True)
    nodes = [(x, y) for x in range(w) for y in range(h)]
    received = Counter()
    for i, node in enumerate(nodes):
        noc.attach(f"e{i}", node, lambda p, i=i: received.update([(p.data, f"e{i}")]))
    expected = Counter()
    for k, (src, dsts, at, bits) in enumerate(packets):
        names = [f"e{d}" for d in sorted(dsts)]
        expected.update((k, d) for d in names)
        eng.env.timeout(at).callbacks.append(
            lambda ev, s=src, names=names, bits=bits, k=k: noc.send(f"e{s}", names, bits, data=k)
        )
    eng.run()
    assert received == expected
    assert noc.delivered == noc.expected == sum(expected.values())
    assert noc.pending() is None


@settings(max_examples=40, deadline=None)
@given(traffic(), st.lists(st.integers(1, 6), min_size=25, max_size=25))
def test_trains_deliver_once_and_cost_every_packet(t, counts):
    """A train of n packets is delivered once per destination, and costs (energy, link
    packets) exactly what n single packets along the same tree cost."""
    w, h, packets = t
    runs = {}
    for as_train in (True, False):
        eng = Engine(1000)
        noc = Noc(eng, "noc", NOC, mesh_graph(w, h))
        got = Counter()
        for i in range(w * h):
            noc.attach(f"e{i}", (i // h, i % h),
                       lambda p, i=i, got=got: got.update({(p.data, i): p.count}))
        for k, (src, dsts, _, bits) in enumerate(packets):
            names = [f"e{d}" for d in sorted(dsts)]
            for _ in range(1 if as_train else counts[k]):
                noc.send(f"e{src}", names, bits, data=k, count=counts[k] if as_train else 1)
        eng.run()
        assert noc.delivered == noc.expected
        runs[as_train] = (got, eng.ledger.total(), noc.link_packets)
    assert runs[True][0] == runs[False][0]
    assert runs[True][1] == pytest.approx(runs[False][1])
    assert runs[True][2] == runs[False][2]


charges = st.lists(
    st.tuples(
        st.sampled_from(["c0", "c1", "noc", "dma"]),
        st.sampled_from(["mac", "load", "hop", "setup"]),
        st.sampled_from(list(Category)),
        st.integers(0, 1000),
        st.integers(0, 1000),
        st.floats(0, 1e6, allow_nan=False),
        st.sampled_from([(), tags(layer="l0"), tags(layer="l1", site="W"), tags(site="R")]),
    ),
    max_size=60,
)


@settings(max_examples=100, deadline=None)
@given(charges)
def test_every_breakdown_sums_to_total(items):
    led = Ledger()
    for c in items:
        led.charge(*c)
    for value in ("energy_pj", "cycles", "count"):
        total = led.total(value)
        for fields in (("component",), ("operation",), ("category",), ("layer",), ("site",),
                       ("component", "category"), ("layer", "operation", "site")):
            assert sum(led.by(*fields, value=value).values()) == pytest.approx(total, rel=1e-9)
        assert sum(r[value] for r in led.rows()) == pytest.approx(total, rel=1e-9)


def random_run(seed: int, n_events: int) -> tuple[int, list[dict]]:
    """A workload whose routing and work depend on the engine's random generator."""
    eng = Engine(1000, seed=seed)
    noc = Noc(eng, "noc", NOC, mesh_graph(3, 2))
    names = [f"c{i}" for i in range(6)]

    def handler(core, pkt):
        n = int(eng.rng.integers(1, 50))
        yield core.work("mac", Category.COMPUTATION, n, n, 1.4 * n, tags(site=pkt.data % 3))
        if pkt.data > 0:
            dst = names[int(eng.rng.integers(0, 6))]
            core.send([dst], 32, pkt.data - 1)

    cores = [Core(eng, n, CoreConfig(static_power_w=1e-3), handler, noc, (i % 3, i // 3))
             for i, n in enumerate(names)]
    for k in range(n_events):
        cores[k % 6].send([names[int(eng.rng.integers(0, 6))]], 32, 3)
    eng.run()
    return eng.now, eng.ledger.rows()


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 20))
def test_same_inputs_and_seed_give_identical_results(seed, n):
    assert random_run(seed, n) == random_run(seed, n)


SRAM = SramConfig(banks=4, bank_bytes=256, word_bytes=4, read_energy_pj=1, write_energy_pj=1)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 700), st.one_of(st.none(), st.integers(0, 3))),
                max_size=20))
def test_over_allocation_always_raises_the_named_error(requests):
    s = Sram(Engine(1000), "mem", SRAM)
    for i, (nbytes, bank) in enumerate(requests):
        size = -(-nbytes // 4) * 4
        lo, hi = (0, 1024) if bank is None else (bank * 256, bank * 256 + 256)
        holes = s._holes(lo, hi)
        fits = size == 0 or any(e - b >= size for b, e in holes)
        if fits:
            a = s.allocate(f"r{i}", nbytes, bank)
            assert a.nbytes == size
        else:
            with pytest.raises(SramAllocationError) as err:
                s.allocate(f"r{i}", nbytes, bank)
            assert err.value.region == f"r{i}" and err.value.requested == size
            assert err.value.missing > 0 and f"'r{i}'" in str(err.value)
        assert s.used_bytes <= SRAM.total_bytes
    spans = sorted((a.offset, a.offset + a.nbytes) for a in s.allocations.values() if a.nbytes)
    assert all(e1 <= b2 for (_, e1), (b2, _) in zip(spans, spans[1:], strict=False))
