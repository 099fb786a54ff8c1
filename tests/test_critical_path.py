"""Critical-path recording: hand-calculated chains on a tiny mesh, the same run with recording
off and on, a multi-chip relay, and chain invariants on random dependent toy programs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from unittest.mock import patch

import pytest
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator import critical_path
from simulator.chips.mesh import build_mesh
from simulator.chips.registry import load_chip
from simulator.chips.work import Charge, Work
from simulator.components import CoreConfig, NocConfig, SramConfig
from simulator.critical_path import Segment, summarise
from simulator.ledger import Category, tags
from simulator.mapping import Mapping, Placement, fold_component
from simulator.program import Program
from simulator.simulate import simulate
from simulator.timeline import Timeline

# One hop costs 4 cycles: a 64-bit packet (32 header + 32 payload) is 2 cycles on a 32-bit
# link, then the router's 2 (the NoC runs at the chip clock).
HOP = 4
NOC = NocConfig(clock_hz=100_000_000, router_latency_cycles=2, link_width_bits=32,
                header_bits=32, max_payload_bits=64, inject_energy_pj=1.0, hop_energy_pj=1.0,
                hop_energy_per_bit_pj=0.0)
SRAM = SramConfig(banks=2, bank_bytes=1024, word_bytes=4, read_energy_pj=0.0,
                  write_energy_pj=0.0)


class _Cost:
    clock_hz = 100_000_000
    value_bits = 32


class TinyChip:
    """Just enough of a Chip for ``simulate``: cores on a near-square mesh, in a row first
    (core0 at (0, 0), core1 at (1, 0), ...)."""

    name = "tiny"

    def build(self, n, handler, *, timeline=None, record_deliveries=False):
        return build_mesh(n, handler, _Cost(), noc=NOC, mesh=None, host_node=(0, 0),
                          sram=SRAM, core=CoreConfig(), program_capacity=0, reserve_bytes=0,
                          timeline=timeline, record_deliveries=record_deliveries)


def work(computation: int, memory: int = 0, label: str = "w") -> Work:
    """``computation + memory`` cycles, split between the two categories."""
    return Work((Charge("pe", "mac", Category.COMPUTATION, 1, computation, 1.0),
                 Charge("mem", "load", Category.MEMORY, 1, memory, 0.5)),
                computation + memory, label)


def mapping(n: int) -> Mapping:
    return Mapping(tuple(Placement(i, f"role{i % 2}") for i in range(n)), "test")


class Scripted(Program):
    """Each core runs ``script[(core index, item)]``: a generator function of
    ``(program, core)``; ``starts`` are put into inboxes before the run."""

    def __init__(self, system, mapping, workload) -> None:
        super().__init__(system, mapping, workload)
        self.script, self.starts = workload

    def start(self) -> None:
        for i, item in self.starts:
            self.system.cores[i].inbox.put(item)

    def handle(self, core, item):
        data = getattr(item, "data", item)
        return self.script[(self.index[core.name], data)](self, core)


def run_script(script: dict, starts: list, n: int = 2, chip=None, critical_path: bool = True):
    return simulate((script, starts), mapping(n), Scripted, chip or TinyChip(),
                    critical_path=critical_path)


def shape(chain: list[Segment]) -> list[tuple[str, str, int, int]]:
    return [(s.component, s.kind, s.start, s.end) for s in chain]


def assert_well_formed(chain: list[Segment], since: int, until: int) -> None:
    """Contiguous, in order, from ``since`` to ``until``, categories summing to durations."""
    assert chain[0].start == since and chain[-1].end == until
    for a, b in zip(chain, chain[1:], strict=False):
        assert a.end == b.start
    for s in chain:
        assert s.end >= s.start
        assert sum(s.categories.values()) == pytest.approx(s.cycles, abs=1e-9)
    assert sum(s.cycles for s in chain) == until - since


# -- hand-calculated chains ----------------------------------------------------------------------
def _a_sends_to_b(p, core):
    yield p.spend(core, work(70, 30), tags(site="a"))
    p.system.send(0, [1], 32, "msg")


def _b_works(p, core):
    yield p.spend(core, work(50), tags(site="b"))
    p.milestone(core, "done")


def test_message_chain_is_sender_network_receiver():
    run = run_script({(0, "go"): _a_sends_to_b, (1, "msg"): _b_works}, [(0, "go")])
    chain = run.critical.chain("done")
    assert shape(chain) == [("core0", "busy", 0, 100), ("noc", "network", 100, 100 + HOP),
                            ("core1", "busy", 104, 154)]
    assert run.critical.time("done") == 154 == run.cycles
    assert chain[0].categories == {"computation": 70.0, "memory": 30.0}
    assert chain[0].tags == tags(site="a") and chain[0].label == "w"
    assert chain[1].categories == {"communication": 4.0}
    summary = summarise(chain)
    assert summary == {"cycles": 154, "steps": 2,
                       "by_category": {"computation": 120.0, "memory": 30.0,
                                       "communication": 4.0},
                       "by_component": {"core0": 100, "noc": 4, "core1": 50}}
    roles = run.mapping.fold(run.system)
    folded = summarise(chain, lambda c: fold_component(c, roles))
    assert folded["by_component"] == {"role0": 100, "noc": 4, "role1": 50}


def test_since_clips_the_first_segment_in_proportion():
    run = run_script({(0, "go"): _a_sends_to_b, (1, "msg"): _b_works}, [(0, "go")])
    chain = run.critical.chain("done", since=50)
    assert shape(chain)[0] == ("core0", "busy", 50, 100)
    assert chain[0].categories == pytest.approx({"computation": 35.0, "memory": 15.0})
    assert_well_formed(chain, 50, 154)
    assert shape(run.critical.chain("done", since=120)) == [("core1", "busy", 120, 154)]
    assert run.critical.chain("done", since=154) == []


def _b_long(cycles):
    def long(p, core):
        yield p.spend(core, work(cycles), label="long")
    return long


@pytest.mark.parametrize(("long", "expected"), [
    # B is busy until 500 when the message arrives at 104: the message queued, B was the
    # bottleneck, so the chain runs through B's previous node, not the sender
    (500, [("core1", "busy", 0, 500), ("core1", "busy", 500, 550)]),
    # B falls free exactly as the message arrives: ties go to the message
    (104, [("core0", "busy", 0, 100), ("noc", "network", 100, 104),
           ("core1", "busy", 104, 154)]),
    # B falls free just after: queued by one cycle
    (105, [("core1", "busy", 0, 105), ("core1", "busy", 105, 155)]),
])
def test_a_queued_message_follows_the_busy_core(long, expected):
    script = {(0, "go"): _a_sends_to_b, (1, "msg"): _b_works, (1, "long"): _b_long(long)}
    run = run_script(script, [(0, "go"), (1, "long")])
    chain = run.critical.chain("done")
    assert shape(chain) == expected
    assert summarise(chain)["steps"] == 2


def test_a_packet_trains_tail_is_communication():
    def tile(p, core):
        yield p.spend(core, work(10, 0), times=2, at_least=30)
        p.milestone(core, "tail")

    run = run_script({(0, "go"): tile}, [(0, "go")], n=1)
    (seg,) = run.critical.chain("tail")
    assert (seg.start, seg.end) == (0, 30)
    assert seg.categories == {"computation": 20.0, "communication": 10.0}
    # clipped to its tail only
    (tail,) = run.critical.chain("tail", since=25)
    assert tail.categories == {"communication": 5.0}


def test_direct_put_from_a_handler_is_caused_by_it():
    def a(p, core):
        yield p.spend(core, work(100))
        p.system.cores[1].inbox.put("msg")

    run = run_script({(0, "go"): a, (1, "msg"): _b_works}, [(0, "go")])
    chain = run.critical.chain("done")
    assert shape(chain) == [("core0", "busy", 0, 100), ("core1", "busy", 100, 150)]


def test_an_item_put_from_outside_any_handler_is_a_root_after_idle_time():
    def start_later(p, core):
        p.engine.env.timeout(40).callbacks.append(lambda _e: p.system.cores[1].inbox.put("msg"))
        yield p.spend(core, work(10))

    run = run_script({(0, "go"): start_later, (1, "msg"): _b_works}, [(0, "go")])
    chain = run.critical.chain("done")
    assert shape(chain) == [("core1", "idle", 0, 40), ("core1", "busy", 40, 90)]
    assert chain[0].categories == {"idle": 40.0}
    assert summarise(chain)["steps"] == 1


def test_time_in_a_handler_outside_spends_is_wait():
    def holder(env, port):
        with port.request() as req:
            yield req
            yield env.timeout(25)

    def a(p, core):
        env = p.engine.env
        port = simpy.Resource(env)  # a shared unit the handler waits for
        env.process(holder(env, port))  # takes it at once
        yield p.spend(core, work(5))
        with port.request() as req:
            yield req  # waits until 25
        signal = env.event()
        env.timeout(30).callbacks.append(lambda _e: signal.succeed())
        yield signal  # waits until 55
        yield p.spend(core, work(5), label="more")
        yield env.timeout(5)  # not spent
        p.milestone(core, "end")

    run = run_script({(0, "go"): a}, [(0, "go")], n=1)
    chain = run.critical.chain("end")
    assert [(s.kind, s.label, s.start, s.end, s.categories) for s in chain] == [
        ("busy", "w", 0, 5, {"computation": 5.0}),
        ("wait", "wait", 5, 55, {"wait": 50.0}),
        ("busy", "more", 55, 60, {"computation": 5.0}),
        ("wait", "wait", 60, 65, {"wait": 5.0}),
    ]
    assert summarise(chain)["steps"] == 1


def test_the_chain_through_a_sender_stops_at_the_send():
    def a(p, core):
        yield p.spend(core, work(100))
        p.system.send(0, [1], 32, "msg")
        yield p.spend(core, work(1000), label="after")  # not on B's chain

    run = run_script({(0, "go"): a, (1, "msg"): _b_works}, [(0, "go")])
    assert shape(run.critical.chain("done")) == [
        ("core0", "busy", 0, 100), ("noc", "network", 100, 104), ("core1", "busy", 104, 154)]
    assert run.cycles == 1100


def test_a_milestone_marked_again_moves_and_unknown_keys_are_named():
    def b(p, core):
        yield p.spend(core, work(50))
        p.milestone(core, "done")

    run = run_script({(0, "go"): b, (0, "again"): b}, [(0, "go"), (0, "again")], n=1)
    assert run.critical.time("done") == 100 and run.critical.milestones == {"done": 100}
    assert shape(run.critical.chain("done")) == [("core0", "busy", 0, 50),
                                                 ("core0", "busy", 50, 100)]
    with pytest.raises(KeyError, match="no milestone 'nope'"):
        run.critical.chain("nope")


# -- off and on ----------------------------------------------------------------------------------
def _fan(p, core):
    yield p.spend(core, p.cost.column(16), tags(site="fan"))
    p.system.send(p.index[core.name], [1, 2, 3], p.system.value_bits, "msg", count=3)


def _take(p, core):
    yield p.spend(core, p.cost.receive_event(), tags(site="take"), times=3, at_least=40)
    yield p.spend(core, p.cost.elementwise("add", 8), tags(site="add"))
    p.milestone(core, ("done", p.index[core.name]))


def test_recording_changes_nothing_of_the_run_on_seneca():
    chip = load_chip("seneca")
    script = {(0, "go"): _fan, **{(i, "msg"): _take for i in (1, 2, 3)}}
    off = run_script(script, [(0, "go")], n=4, chip=chip, critical_path=False)
    on = run_script(script, [(0, "go")], n=4, chip=chip)
    assert off.critical is None and on.critical is not None
    assert on.cycles == off.cycles
    assert on.ledger.rows() == off.ledger.rows()
    for i in (1, 2, 3):
        chain = on.critical.chain(("done", i))
        assert_well_formed(chain, 0, on.critical.time(("done", i)))
        assert [s.kind for s in chain] == ["busy", "network", "busy", "busy"]
        assert chain[-2].categories.get("communication", 0) > 0  # the train's tail


def test_a_relayed_packet_keeps_its_sender_across_chips():
    """PE 0 and PE 153 are on different SpiNNaker2 chips: the packet goes through both
    gateways and the board, and the chain still reaches back to PE 0's send, with the whole
    trip as one network segment."""
    def a(p, core):
        yield p.spend(core, work(100))
        p.system.send(0, [153], 32, "msg")

    def b(p, core):
        yield core.dma.transfer(256, bank=0, dram=p.system.dram_of(153))
        p.milestone(core, "done")

    run = run_script({(0, "go"): a, (153, "msg"): b}, [(0, "go")], n=154,
                     chip=load_chip("spinnaker2"))
    assert run.system.n_chips == 2
    chain = run.critical.chain("done")
    assert [(s.component, s.kind) for s in chain] == [
        ("pe0", "busy"), ("noc", "network"), ("pe153", "wait")]
    assert chain[1].start == 100 and chain[-1].cycles > 0
    assert_well_formed(chain, 0, run.critical.time("done"))


# -- random dependent programs --------------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    core: int
    pieces: tuple[tuple[int, int, int, bool], ...]  # (computation, memory, at_least,
    # yielded: a spend not yielded takes no time, and must not break the chain)
    children: tuple[tuple[int, bool], ...]  # (task, by packet rather than a direct put)


@st.composite
def programs(draw):
    n_cores = draw(st.integers(1, 4))
    n_tasks = draw(st.integers(1, 8))
    tasks = []
    for i in range(n_tasks):
        pieces = tuple(draw(st.lists(st.tuples(st.integers(0, 40), st.integers(0, 20),
                                               st.integers(0, 60), st.booleans()),
                                     min_size=0, max_size=3)))
        later = list(range(i + 1, n_tasks))
        children = tuple(draw(st.lists(st.tuples(st.sampled_from(later), st.booleans()),
                                       max_size=3))) if later else ()
        tasks.append(Task(draw(st.integers(0, n_cores - 1)), pieces, children))
    delays = draw(st.lists(st.integers(0, 50), min_size=n_tasks, max_size=n_tasks))
    return n_cores, tasks, delays


def _task_handler(tasks: list[Task], k: int, marks: list) -> Callable:
    def run(p, core):
        for c, m, at_least, yielded in tasks[k].pieces:
            event = p.spend(core, work(c, m), at_least=at_least)
            if yielded:
                yield event
        marks.append(len(marks))
        p.milestone(core, marks[-1])
        for child, packet in tasks[k].children:
            dst = tasks[child].core
            if packet and dst != tasks[k].core:
                p.system.send(tasks[k].core, [dst], 32, child)
            else:
                p.system.cores[dst].inbox.put(child)
    return run


@settings(max_examples=60, deadline=None)
@given(programs(), st.integers(0, 200))
def test_random_chains_are_contiguous_and_add_up(prog, since):
    n_cores, tasks, delays = prog
    marks: list[int] = []
    script = {(t.core, k): _task_handler(tasks, k, marks) for k, t in enumerate(tasks)}

    class Delayed(Scripted):  # roots arrive at random times, from outside any handler
        def start(self) -> None:
            env = self.engine.env
            for k in {0} | {k for k in range(len(tasks))
                            if not any(k == c for t in tasks for c, _ in t.children)}:
                inbox = self.system.cores[tasks[k].core].inbox
                env.timeout(delays[k]).callbacks.append(lambda _e, q=inbox, k=k: q.put(k))

    off = simulate((script, []), mapping(n_cores), Delayed, TinyChip())
    marks.clear()
    timeline = Timeline()
    with patch.object(critical_path, "_CHUNK", 6):  # many sealed chunks in every log
        run = simulate((script, []), mapping(n_cores), Delayed, TinyChip(), critical_path=True,
                       timeline=timeline)
    assert run.cycles == off.cycles and run.ledger.rows() == off.ledger.rows()
    busy = [(track, a, b) for track, _, a, b in timeline.spans if track.startswith("core")]
    rec = run.critical
    for key, t in rec.milestones.items():
        chain = rec.chain(key, since)
        if since >= t:
            assert chain == []
            continue
        assert_well_formed(chain, since, t)
        for seg in chain:  # every busy stretch of the chain is real work of its core
            if seg.kind == "busy" and seg.cycles:
                assert any(track == seg.component and a <= seg.start and seg.end <= b
                           for track, a, b in busy), seg
        s = summarise(chain)
        assert s["cycles"] == t - since
        assert sum(s["by_category"].values()) == pytest.approx(t - since)
        assert sum(s["by_component"].values()) == t - since
        assert 1 <= s["steps"] <= rec.nodes


# -- plot ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_writes_the_chain(tmp_path, suffix):
    from simulator.plots.critical_path import plot_critical_path

    run = run_script({(0, "go"): _a_sends_to_b, (1, "msg"): _b_works}, [(0, "go")])
    roles = run.mapping.fold(run.system)
    path = plot_critical_path(run.critical.chain("done"), tmp_path / f"chain{suffix}",
                              fold=lambda c: fold_component(c, roles), title="A to B",
                              clock_hz=run.clock_hz)
    assert path.exists() and path.stat().st_size > 1000
    with pytest.raises(ValueError, match="empty"):
        plot_critical_path([], tmp_path / "none.png")


def test_a_recorder_attaches_once_and_before_the_run():
    from simulator.critical_path import CriticalPathRecorder

    system = TinyChip().build(2, lambda c, i: None)
    CriticalPathRecorder(system.engine).attach(system.cores)
    with pytest.raises(RuntimeError, match="already attached"):
        CriticalPathRecorder(system.engine).attach(system.cores)
    used = TinyChip().build(1, lambda c, i: None)
    used.cores[0].inbox.put("x")
    with pytest.raises(RuntimeError, match="attach before the run"):
        CriticalPathRecorder(used.engine).attach(used.cores)
