"""Timeline export: valid Chrome/Perfetto trace-event JSON whose spans match the ledger's counts,
one track per core, NoC link and DMA engine, bounded by ``window`` and ``max_events``."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from simulator.components import Core, CoreConfig, Dma, Noc, Packet, Sram, mesh_graph
from simulator.engine import Engine
from simulator.ledger import Category
from simulator.timeline import Timeline

CLOCK_HZ = 100_000_000  # the NoC fixture's clock: one engine cycle per NoC cycle
CORES = {f"core{x}{y}": (x, y) for x in range(3) for y in range(2)}


def simulate(noc_config, sram_config, dma_config, timeline: Timeline | None) -> Engine:
    """Six cores on a 3x2 mesh pass tokens around (each hop of a token is one handled event
    doing exactly one ``work``), core00 multicasts to all, and two DMA engines move data."""
    eng = Engine(CLOCK_HZ, timeline=timeline)
    noc = Noc(eng, "noc", noc_config, mesh_graph(3, 2))
    names = list(CORES)

    def handler(core: Core, item: object):
        ttl = item.data if isinstance(item, Packet) else item
        yield core.work("mac", Category.COMPUTATION, 1, 3 + ttl, 1.0)
        if ttl > 0:
            nxt = names[(names.index(core.name) + ttl) % len(names)]
            core.send([nxt], payload_bits=32, data=ttl - 1)

    cores = [Core(eng, n, CoreConfig(), handler, noc=noc, node=node) for n, node in CORES.items()]
    for i, core in enumerate(cores):
        core.inbox.put(4 + i % 3)
    cores[0].send(names[1:], payload_bits=64, data=0)
    sram = Sram(eng, "sram", sram_config)
    for i, dma in enumerate(Dma(eng, f"dma{i}", dma_config, sram) for i in range(2)):
        for n in (200, 64, 8):
            dma.transfer(n, bank=i)
    eng.run()
    return eng


@pytest.fixture
def run(noc_config, sram_config, dma_config, tmp_path):
    """A recorded run and its trace file, parsed."""
    eng = simulate(noc_config, sram_config, dma_config, Timeline())
    path = eng.timeline.write(tmp_path / "timeline.json", eng.clock_hz, "test run")
    return eng, json.loads(path.read_text())


def spans_by_track(trace: dict) -> dict[str, list[dict]]:
    names = {e["tid"]: e["args"]["name"] for e in trace["traceEvents"]
             if e["ph"] == "M" and e["name"] == "thread_name"}
    out: dict[str, list[dict]] = {n: [] for n in names.values()}
    for e in trace["traceEvents"]:
        if e["ph"] == "X":
            out[names[e["tid"]]].append(e)
    return out


def test_file_is_trace_event_json(run):
    eng, trace = run
    events = trace["traceEvents"]
    meta = [e for e in events if e["ph"] == "M"]
    spans = [e for e in events if e["ph"] == "X"]
    assert {e["ph"] for e in events} == {"M", "X"}
    assert [e["args"]["name"] for e in meta if e["name"] == "process_name"] == ["test run"]
    threads = [e for e in meta if e["name"] == "thread_name"]
    assert len({e["tid"] for e in threads}) == len(threads)  # one tid per track
    assert {e["tid"] for e in spans} == {e["tid"] for e in threads}  # every track is used
    us_per_cycle = 1e6 / CLOCK_HZ
    for e in spans:
        assert {"name", "ts", "dur", "pid", "tid"} <= set(e)
        assert e["pid"] == 1 and e["dur"] >= 0
        assert e["ts"] == pytest.approx(e["args"]["start_cycle"] * us_per_cycle)
        assert e["ts"] + e["dur"] <= eng.now * us_per_cycle + 1e-9
    assert trace["otherData"] == {"clock_hz": CLOCK_HZ, "dropped_spans": 0}


def test_one_track_per_core_link_and_dma(run):
    eng, trace = run
    tracks = spans_by_track(trace)
    noc = eng.components["noc"]
    links = {f"noc.link{u}->{v}" for (u, v), n in noc.link_packets.items() if n}
    assert set(tracks) == set(CORES) | links | {"dma0", "dma1"}


def test_spans_match_the_ledger(run):
    eng, trace = run
    tracks = spans_by_track(trace)
    count = eng.ledger.by("operation", value="count")
    noc = eng.components["noc"]
    link_spans = {t: s for t, s in tracks.items() if t.startswith("noc.link")}
    # every NoC hop charged is one span on its link, and per link one span per packet copy
    assert sum(len(s) for s in link_spans.values()) == count["hop"] > 0
    assert Counter({t: len(s) for t, s in link_spans.items()}) == Counter(
        {f"noc.link{u}->{v}": n for (u, v), n in noc.link_packets.items() if n})
    # each handled event did one `work`: one span per event, labelled with its operation
    for name in CORES:
        assert len(tracks[name]) == eng.components[name].handled
        assert {e["name"] for e in tracks[name]} == {"mac"}
    assert sum(len(tracks[n]) for n in CORES) == count["mac"]
    # one span per completed DMA transfer, lasting from queue head to completion
    for name in ("dma0", "dma1"):
        assert len(tracks[name]) == eng.components[name].completed == 3
    assert count["transfer"] == 6
    # a core, a link and a DMA engine each do one thing at a time
    for spans in tracks.values():
        cycles = sorted((e["args"]["start_cycle"], e["args"]["end_cycle"]) for e in spans)
        assert all(a[1] <= b[0] for a, b in zip(cycles, cycles[1:], strict=False))


def test_window_keeps_only_overlapping_spans(noc_config, sram_config, dma_config):
    full = simulate(noc_config, sram_config, dma_config, Timeline()).timeline.spans
    lo, hi = 20, 60
    windowed = simulate(noc_config, sram_config, dma_config, Timeline(window=(lo, hi)))
    expected = [s for s in full if s[3] >= lo and s[2] <= hi]
    assert windowed.timeline.spans == expected
    assert 0 < len(expected) < len(full)


def test_max_events_bounds_the_file(noc_config, sram_config, dma_config, tmp_path):
    full = simulate(noc_config, sram_config, dma_config, Timeline()).timeline
    eng = simulate(noc_config, sram_config, dma_config, Timeline(max_events=10))
    trace = eng.timeline.to_trace_events(CLOCK_HZ)
    assert sum(e["ph"] == "X" for e in trace["traceEvents"]) == 10
    assert trace["otherData"]["dropped_spans"] == len(full.spans) - 10
    small = eng.timeline.write(tmp_path / "small.json", CLOCK_HZ).stat().st_size
    big = full.write(tmp_path / "big.json", CLOCK_HZ).stat().st_size
    assert small < big / 3
    with pytest.raises(ValueError, match="positive"):
        Timeline(max_events=0)


def test_no_timeline_records_nothing(noc_config, sram_config, dma_config):
    recorded = simulate(noc_config, sram_config, dma_config, Timeline())
    plain = simulate(noc_config, sram_config, dma_config, None)
    assert plain.timeline is None
    assert plain.now == recorded.now  # recording does not change the simulation
    assert plain.ledger.rows() == recorded.ledger.rows()


def test_numpy_cycles_still_write_json(tmp_path):
    """Jobs compute cycles with numpy; the file must still be plain JSON (was a TypeError)."""
    eng = Engine(1000, timeline=Timeline())

    def handler(core: Core, item: object):
        yield core.work("mac", Category.COMPUTATION, 1, np.int64(5), 1.0)

    Core(eng, "core", CoreConfig(), handler).inbox.put(None)
    eng.run()
    trace = json.loads(eng.timeline.write(tmp_path / "t.json", eng.clock_hz).read_text())
    (span,) = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert span["args"] == {"start_cycle": 0, "end_cycle": 5} and span["dur"] == 5000.0
