"""The EGRU program: every core of layer l, timestep by timestep, on any chip.

Runs on the mapping of :mod:`simulator.mappings.egru`. Per core of layer l:

- input events of x_t arrive as packets (one per non-zero y_t of layer l-1). Layer 0 instead
  receives x_t as input events from the host port where the chip has one (SENECA, even with
  its shared memory), or else streams the embedding from DRAM by DMA in double-buffered
  chunks (SpiNNaker2's LPDDR4).
  Each event costs a packet-arrival interrupt and one CSR column walk (``receive_event`` +
  ``csr_column(nnz)``): the **input matmul**;
- events of y_{t-1} from the cores of its own layer do the same on R: the **recurrent matmul**;
- when every input of step t is in, the **point-wise** update and threshold of its neurons;
- then it sends each non-zero output as one multicast packet (payload: one value) to the cores
  that consume it (its own layer, for t+1, and the next layer), and one :class:`Done` packet
  carrying its spike count: the **communication**. The packets of one step go to the same
  cores one after another, each ``send_event`` after the one before, so they travel as one
  train (:class:`Spikes`, ``Noc.send(count=k + 1, spacing=send cycles)``): one SimPy event per
  hop and one delivery per destination instead of k + 1, each packet charged as its own. The
  done packet is the train's last; it also goes to the layer before (a credit), alone on the
  branches the train does not take (``Noc.send(tail=...)``). A receiver serves a train's
  events and its done marker in one action, each no earlier than its packet arrives
  (:meth:`EgruProgram._take_spikes`).

A core completes step t when it holds all of x_t and y_{t-1} (the done packet of every
producer: it ends the producer's train, so its events are in). It keeps accumulators for two
steps, so it may take events of step t+1 while finishing step t; a producer may complete step
t only when its consumers have completed step t-2 (done packets double as credits). The host
sends step t+2 of the input when every layer-0 core has completed step t (its credits are not
modelled as packets). Time a core is not busy is **waiting**.

A trace of several samples run one after another (``meta.extra["sample_steps"]``, e.g. a
batch of DVS gestures) starts each from rest: at a sample's first step no core has recurrent
input, so y of the step before is not sent to its own layer, nor its done marker. Weights are
walked as stored: CSR non-zeros (the language model) or dense columns
(``EgruMap.weight_format``, the DVS network).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import simpy

from simulator.chips.work import Work
from simulator.components import Packet, Tail
from simulator.ledger import Category, tags
from simulator.mappings.egru import CHUNK_BYTES, EgruMap
from simulator.program import Program
from workloads.egru_ops import POINTWISE_OPS
from workloads.trace import Trace, TraceError

STAGES: tuple[str, ...] = (
    "input_matmul", "recurrent_matmul", "pointwise", "communication", "waiting",
)


# -- messages -----------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Spikes:
    """The non-zero outputs ``neurons`` of one core of ``layer`` at step ``t``, one packet
    each, sent as a train whose last packet is the core's :class:`Done` marker."""

    layer: int
    t: int
    neurons: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Done:
    """Layer ``layer``'s producer finished step ``t`` (and sent its events before this)."""

    layer: int
    t: int


@dataclass(frozen=True, slots=True)
class Chunk:
    """A DMA transfer of chunk ``k`` of x_t completed."""

    t: int
    k: int


@dataclass(frozen=True, slots=True)
class HostInput:
    """x_t's non-zero inputs from the host port, one packet each."""

    t: int


@dataclass(frozen=True, slots=True)
class Begin:
    """Start a layer-0 core streaming its input."""


@dataclass
class CoreState:
    """State of one core's program."""

    index: int
    layer: int
    n_neurons: int
    w_nnz: list[int]
    r_nnz: list[int]
    spikes: list[list[int]]  # per step: this core's neurons with non-zero y_t
    step: int = 0
    w_walk_cycles: list[int] = field(default_factory=list)  # of walking each W column
    #: per step: events walked per matrix ("W", "R"); markers still to come before the step
    #: can finish (done packets of its producers, credits of its consumers, layer 0's input
    #: chunks or host trains)
    got: dict[str, list[int]] = field(default_factory=dict)
    missing: list[int] = field(default_factory=list)
    chunks_issued: int = 0
    chunks_free: int = 2
    #: busy cycles per stage (a plain dict, every stage but waiting: the hot path adds to it)
    stage_cycles: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STAGES[:-1], 0))
    finish: list[int] = field(default_factory=list)
    received: list[tuple[int, int, int]] | None = None  # (layer, step, neuron) when recording
    #: per matrix ("W", "R"): the columns the served events walked (charged at the end, see
    #: settle)
    walked: dict[str, list[int]] = field(default_factory=dict)
    #: per producing layer (the one before: W; its own: R), what a train from it needs:
    #: (step offset, stage, each column's service (receive interrupt + walk) in cycles, the
    #: fastest, ``walked`` and ``got`` of its matrix)
    inputs: dict[int, tuple] = field(default_factory=dict)
    interrupts: int = 0  # packet-arrival interrupts of trains and done markers, likewise


class EgruProgram(Program):
    """See the module docstring."""

    workload = "egru"

    def __init__(self, system, mapping, workload: Trace, *, egru_map: EgruMap,
                 record: bool = False) -> None:
        super().__init__(system, mapping, workload)
        part = egru_map.partition
        # layer 0's input: through the host port where the chip has one, else from DRAM
        self.trace, self.part, self.streams = workload, part, not system.has_host_port
        if egru_map.streams_input != self.streams:
            raise ValueError(f"the EGRU mapping {'has' if egru_map.streams_input else 'lacks'} "
                             f"layer 0's DMA buffers, but this chip's input comes "
                             f"{'from DRAM' if self.streams else 'through its host port'}")
        self.n_layers = len(part.layers)
        self.steps = workload.meta.n_steps
        #: steps per sample: each sample starts from rest (no recurrent input at its first step)
        self.sample_steps = sample_steps(workload)
        self.dense = egru_map.weight_format == "dense"
        self._columns: dict[int, Work] = {}
        self.outputs = layer_outputs(workload, self.n_layers)
        self._recv = self.cost.receive_event()
        self._send = self.cost.send_events(1)
        self.layer_cores = [list(part.layer_cores(i)) for i in range(self.n_layers)]
        self._pointwise: dict[int, Work] = {}
        self._no_work = {stage: Work(label=stage) for stage in STAGES}
        self._x0 = workload.events["layer0.W"]
        value_bytes = self.cost.value_bits // 8
        self._chunk_values = CHUNK_BYTES // value_bytes
        self._embedding_bytes = part.layers[0].inputs * value_bytes
        self._chunks = -(-self._embedding_bytes // CHUNK_BYTES) if self.streams else 1
        self._layer0_done: Counter = Counter()
        spikes = self._spikes_by_core()
        self.cores = [self._state(c, spikes[c.core], record) for c in part.cores]
        self._x0_columns: dict[tuple[int, int], list[int]] = {}
        self._tags = {(layer, s): tags(layer=layer, stage=s) for layer in range(self.n_layers)
                      for s in STAGES}

    def _spikes_by_core(self) -> dict[int, list[list[int]]]:
        """Per core: its neurons with non-zero y_t at each step, in the trace's order."""
        out: dict[int, list[list[int]]] = {c.core: [] for c in self.part.cores}
        for layer in range(self.n_layers):
            owner = np.full(self.part.layers[layer].hidden, -1, dtype=np.int64)
            cores = [c for c in self.part.cores if c.layer == layer]
            for c in cores:
                owner[c.neurons] = c.core
            for y in self.outputs[layer]:
                by_core = {c.core: [] for c in cores}
                if y is not None:
                    for neuron, core in zip(y.tolist(), owner[y].tolist(), strict=True):
                        by_core[core].append(neuron)
                for core, neurons in by_core.items():
                    out[core].append(neurons)
        return out

    def _state(self, core, spikes: list[list[int]], record: bool) -> CoreState:
        if self.dense:  # every column holds all 3 x neurons weights, zeros included
            rows = 3 * len(core.neurons)
            w, r = [rows] * len(core.w_col_nnz), [rows] * len(core.r_col_nnz)
        else:
            w, r = core.w_col_nnz.tolist(), core.r_col_nnz.tolist()
        st = CoreState(core.core, core.layer, len(core.neurons), w, r, spikes,
                       received=[] if record else None)
        layer, sizes = core.layer, [len(c) for c in self.layer_cores]
        st.got = {"W": [0] * self.steps, "R": [0] * self.steps}
        st.missing = [(self._chunks if layer == 0 else sizes[layer - 1])
                      + (sizes[layer] if not self._starts_sample(t) else 0)
                      + (sizes[layer + 1] if layer + 1 < self.n_layers and t >= 2 else 0)
                      for t in range(self.steps)]
        recv = self._recv.cycles
        for producer, matrix, nnz, offset, stage in (
                (layer - 1, "W", st.w_nnz, 0, "input_matmul"),
                (layer, "R", st.r_nnz, 1, "recurrent_matmul")):
            cycles = {n: recv + self._column(n).cycles for n in set(nnz)}
            service = list(map(cycles.__getitem__, nnz))
            st.walked[matrix] = []
            st.inputs[producer] = (offset, stage, service, min(service, default=0),
                                   st.walked[matrix], st.got[matrix])
        st.w_walk_cycles = [c - recv for c in st.inputs[layer - 1][2]]
        return st

    def _column(self, n: int) -> Work:
        """Walking one stored column of ``n`` weights: CSR non-zeros, or a dense column."""
        work = self._columns.get(n)
        if work is None:
            work = self._columns[n] = (self.cost.column(n) if self.dense
                                       else self.cost.csr_column(n))
        return work

    def _starts_sample(self, t: int) -> bool:
        return t == 0 or (self.sample_steps is not None and t % self.sample_steps == 0)

    # -- driving ------------------------------------------------------------------------------
    def start(self) -> None:
        if self.streams:
            for i in self.layer_cores[0]:
                self.system.cores[i].inbox.put(Begin())
        else:
            for t in range(min(2, self.steps)):
                self._host_input(t)

    def _host_input(self, t: int) -> None:
        n = len(self._x0.step(t)[0])
        self.system.send_from_host(self.layer_cores[0], self.system.value_bits, HostInput(t),
                                   tags(layer=0, stage="input_matmul"), count=max(1, n))

    def handle(self, core, item):
        """Events (trains, done markers) are served by a plain call that returns the core's
        busy time, the common case; the rest, and finishing a step, by generators."""
        st = self.cores[self.index[core.name]]
        data = item.data if type(item) is Packet else item
        if type(data) in _EVENTS:
            busy = self._on_events(core, st, item)
            return self._then_finish(core, st, busy) if self._ready(st) else busy
        return self._on_other(core, st, item, data)

    def _then_finish(self, core, st: CoreState, busy):
        yield busy
        while self._ready(st):
            yield from self._finish_step(core, st)

    def _on_other(self, core, st: CoreState, item, data):
        if isinstance(data, Chunk):
            yield from self._on_chunk(core, st, data.t, data.k)
        elif isinstance(data, HostInput):
            yield from self._on_host_input(core, st, data.t, item.count)
        else:  # Begin
            yield from self._issue_chunks(core, st)
        while self._ready(st):
            yield from self._finish_step(core, st)

    def _do(self, core, st: CoreState, work: Work, stage: str, label: str | None = None,
            times: int = 1):
        st.stage_cycles[stage] += work.cycles * times
        return self.spend(core, work, self._tags[(st.layer, stage)], times, label=label)

    def _on_events(self, core, st: CoreState, packet: Packet) -> simpy.Timeout:
        """This packet (a train or a done marker) and those waiting right behind it, served
        back to back as one action: each event charged as its own, the core busy until the
        last is served (the times of serving them one by one), until the step is ready to
        finish, which ends the run where a handler call of its own would have."""
        end = interrupts = taken = 0
        recv, inbox, steps = self._recv.cycles, core.inbox, self.steps
        items, missing = inbox.items, st.missing
        plain = inbox.critical is None  # no critical path recorded: take items directly
        while True:
            data = packet.data
            if type(data) is Spikes:
                end, stage = self._take_spikes(st, data, packet.spacing, end)
                interrupts += len(data.neurons) + 1
            else:
                end += recv
                interrupts += 1
                stage = "communication"
                self._take_done(st, data.layer, data.t)
            t = st.step
            if (t < steps and not missing[t]) or not items:
                break  # ready to finish the step (_ready), or nothing waits
            head = items[0]
            if type(head) is not Packet or type(head.data) not in _EVENTS:
                break
            if plain:
                packet = items.popleft()
                taken += 1
            else:
                packet = inbox.take()
        core.handled += taken
        st.stage_cycles["communication"] += recv * interrupts
        st.interrupts += interrupts
        return self.spend(core, self._no_work[stage], self._tags[(st.layer, stage)],
                          at_least=end, label=stage)

    def _take_done(self, st: CoreState, layer: int, t: int) -> None:
        if layer == st.layer - 1:  # x_t is all sent
            st.missing[t] -= 1
        elif layer == st.layer:  # y_t, the recurrent input of t + 1
            st.missing[t + 1] -= 1
        else:  # a consumer's credit: it finished t, so this core may finish t + 2
            st.missing[t + 2] -= 1

    def _take_spikes(self, st: CoreState, s: Spikes, spacing: int, start: int
                     ) -> tuple[int, str]:
        """Account one train on its core, served from ``start`` (cycles into the action): each
        event a receive interrupt and a column walk (CSR non-zeros, or a dense column),
        starting when the one before ended but not before its packet is in (``spacing``
        cycles after the one before; the head is in when the action reaches the train, since
        the core takes it from its inbox); then the done marker, the train's last packet.
        Returns when the marker is served, and the events' stage."""
        offset, stage, service, fastest, walked, got = st.inputs[s.layer]
        step = s.t + offset
        if not st.step <= step <= st.step + 1:
            raise RuntimeError(f"core {st.index} at step {st.step} got events for step {step}")
        walked.extend(s.neurons)
        busy = sum(map(service.__getitem__, s.neurons))
        if spacing <= fastest:  # each packet is in before the one ahead is served
            end = start + busy
        else:
            end = start
            for j, neuron in enumerate(s.neurons):
                arrived = start + j * spacing
                end = (end if end > arrived else arrived) + service[neuron]
        k = len(s.neurons)
        recv = self._recv.cycles
        st.stage_cycles[stage] += busy - recv * k
        got[step] += k
        st.missing[step] -= 1  # the done marker: x_t, or y_t for t + 1, is all sent
        if st.received is not None:
            st.received.extend((s.layer, s.t, j) for j in s.neurons)
        arrived = start + k * spacing
        return (end if end > arrived else arrived) + recv, stage

    # layer 0 from DRAM: the embedding x_t, streamed in chunks through two buffers
    def _issue_chunks(self, core, st: CoreState):
        dram = self.system.dram_of(st.index)
        while st.chunks_free and st.chunks_issued < self.steps * self._chunks:
            t, k = divmod(st.chunks_issued, self._chunks)
            if t > st.step + 1:
                return
            nbytes = min(CHUNK_BYTES, self._embedding_bytes - k * CHUNK_BYTES)
            yield self._do(core, st, self.cost.dma_setup(), "communication", "dma_setup")
            done = core.dma.transfer(nbytes, bank=1, dram=dram,
                                     tags=tags(layer=0, stage="input_matmul"), label=f"x{t}.{k}")
            done.callbacks.append(lambda _ev, t=t, k=k: core.inbox.put(Chunk(t, k)))
            st.chunks_issued += 1
            st.chunks_free -= 1

    def _x0_chunk(self, t: int, k: int | None = None) -> list[int]:
        """The non-zero inputs of x_t (in chunk ``k`` of the embedding), once for every core."""
        cols = self._x0_columns.get((t, k))
        if cols is None:
            idx = self._x0.step(t)[0]
            if k is not None:
                lo, hi = k * self._chunk_values, (k + 1) * self._chunk_values
                idx = idx[(idx >= lo) & (idx < hi)]
            cols = self._x0_columns[(t, k)] = idx.tolist()
        return cols

    def _walk(self, core, st: CoreState, cols: list[int], interrupts: int):
        """Interrupts taken and the columns of ``cols`` walked, in one action (charged at the
        end with the events' walks, see settle)."""
        st.walked["W"].extend(cols)
        st.interrupts += interrupts
        recv = self._recv.cycles * interrupts
        walk = sum(map(st.w_walk_cycles.__getitem__, cols))
        st.stage_cycles["communication"] += recv
        st.stage_cycles["input_matmul"] += walk
        return self.spend(core, self._no_work["input_matmul"],
                          self._tags[(st.layer, "input_matmul")], at_least=recv + walk,
                          label="input_matmul")

    def _on_chunk(self, core, st: CoreState, t: int, k: int):
        cols = self._x0_chunk(t, k)
        yield self._walk(core, st, cols, 1)  # one DMA-completion interrupt
        st.got["W"][t] += len(cols)
        st.missing[t] -= 1
        st.chunks_free += 1
        yield from self._issue_chunks(core, st)

    def _on_host_input(self, core, st: CoreState, t: int, packets: int):
        cols = self._x0_chunk(t)
        yield self._walk(core, st, cols, packets)
        st.got["W"][t] += len(cols)
        st.missing[t] -= 1

    def _ready(self, st: CoreState) -> bool:
        t = st.step
        return t < self.steps and not st.missing[t]

    def _spike_dsts(self, layer: int, t: int) -> list[int]:
        own = (self.layer_cores[layer] if t + 1 < self.steps and not self._starts_sample(t + 1)
               else [])
        nxt = self.layer_cores[layer + 1] if layer + 1 < self.n_layers else []
        return own + nxt

    def _credit_dsts(self, layer: int, t: int) -> list[int]:
        """The cores a done marker also goes to: the layer before, which may finish t + 2."""
        return self.layer_cores[layer - 1] if layer > 0 and t + 2 < self.steps else []

    def _finish_step(self, core, st: CoreState):
        t, layer = st.step, st.layer
        self._check_inputs(st, t)
        pw = self._pointwise.get(st.n_neurons)
        if pw is None:
            pw = self._pointwise[st.n_neurons] = _sum_work(
                self.cost.elementwise(op, n * st.n_neurons) for op, n in POINTWISE_OPS.items())
        yield self._do(core, st, pw, "pointwise")
        dsts = self._spike_dsts(layer, t)
        label = self._tags[(layer, "communication")]
        bits = self.system.value_bits
        spikes = st.spikes[t] if dsts else []
        credits = self._credit_dsts(layer, t)
        if spikes:  # the first packet written, the train leaves; the rest written behind it
            yield self._do(core, st, self._send, "communication", "send")
            self.system.send(st.index, dsts, bits, Spikes(layer, t, tuple(spikes)), label,
                             count=len(spikes) + 1, spacing=self._send.cycles,
                             tail=Tail(Done(layer, t), credits) if credits else None)
            yield self._do(core, st, self._send, "communication", "send", len(spikes))
        elif dsts or credits:
            yield self._do(core, st, self._send, "communication", "send")
            self.system.send(st.index, dsts + credits, bits, Done(layer, t), label)
        st.finish.append(self.engine.now)
        st.step += 1
        if layer == 0:
            if self.streams:
                yield from self._issue_chunks(core, st)
            else:
                self._layer0_done[t] += 1
                if self._layer0_done[t] == len(self.layer_cores[0]) and t + 2 < self.steps:
                    self._host_input(t + 2)

    def _check_inputs(self, st: CoreState, t: int) -> None:
        """Invariant: a core completes a step with exactly the events the trace has for it."""
        site = f"layer{st.layer}"
        want_w = len(self.trace.events[f"{site}.W"].step(t)[0])
        want_r = len(self.trace.events[f"{site}.R"].step(t)[0]) if t > 0 else 0
        got_w, got_r = st.got["W"][t], st.got["R"][t]
        if (got_w, got_r) != (want_w, want_r):
            raise RuntimeError(f"core {st.index} step {t}: walked {got_w} W and {got_r} R "
                               f"events, the trace has {want_w} and {want_r}")

    # -- after the run ------------------------------------------------------------------------
    def settle(self) -> None:
        """Charge the events each core served (interrupts, column walks: the sum of every walk,
        in one work per matrix), then the rest."""
        cores = self.system.cores
        for st in self.cores:
            core = cores[st.index]
            self.count(core, self._recv, self._tags[(st.layer, "communication")], st.interrupts)
            for matrix, stage in (("W", "input_matmul"), ("R", "recurrent_matmul")):
                walked = st.walked[matrix]
                if not walked:
                    continue
                nnz = np.asarray(st.w_nnz if matrix == "W" else st.r_nnz, dtype=np.int64)
                columns = nnz[np.array(walked, dtype=np.int64)]  # each walked column's weights
                walks = (self._column(int(nnz[0])).scaled(len(columns)) if self.dense
                         else self.cost.csr_columns(columns))
                self.count(core, walks, self._tags[(st.layer, stage)])
                walked.clear()
            st.interrupts = 0
        super().settle()

    def check(self) -> None:
        for st in self.cores:
            if st.step != self.steps:
                raise RuntimeError(f"core {st.index} stopped at step {st.step} of {self.steps}")

    def report(self) -> dict[str, Any]:
        """Latency, energy, stage profile, imbalance and NoC traffic per timestep."""
        system, engine = self.system, self.engine
        steps = max(1, self.steps)
        makespan = engine.now
        ledger = engine.ledger
        total = ledger.total()
        by_category = ledger.by("category")
        static = by_category.get(str(Category.STATIC), 0.0)
        busy = np.array([sum(st.stage_cycles.values()) for st in self.cores], dtype=float)
        stages = {s: [round(st.stage_cycles[s] / steps, 1) for st in self.cores]
                  for s in STAGES[:-1]}
        stages["waiting"] = [round((makespan - b) / steps, 1) for b in busy]
        board = system.board
        chips = [n for n in system.networks if n is not board]
        link_bits = sum(sum(n.link_bits.values()) for n in chips)
        board_bits = sum(board.link_bits.values()) if board else 0
        seconds = engine.seconds(makespan)
        utilisation = max((max(n.link_bits.values(), default=0)
                           / (n.config.link_width_bits * n.config.clock_hz * seconds)
                           for n in chips if seconds), default=0.0)
        step_done = [max(st.finish[t] for st in self.cores) for t in range(self.steps)]
        return {
            "chips": system.n_chips,
            "latency_cycles": makespan / steps,
            "latency_s": seconds / steps,
            "first_step_cycles": step_done[0] if step_done else 0,
            "energy_j": total / steps * 1e-12,
            "dynamic_energy_j": (total - static) / steps * 1e-12,
            "static_energy_j": static / steps * 1e-12,
            **{f"{c}_energy_j": v / steps * 1e-12 for c, v in by_category.items()},
            "imbalance": float(busy.max() / busy.mean()) if busy.size and busy.mean() else 1.0,
            "noc_packets": sum(n.packets for n in system.networks) / steps,
            "noc_bits": link_bits / steps,
            "board_bits": board_bits / steps,
            "max_link_utilisation": utilisation,
            "stages": stages,
        }


def _sum_work(works: Iterable[Work]) -> Work:
    total = Work(label="pointwise")
    for w in works:
        total = total + w
    return Work(total.charges, total.cycles, "pointwise")


def sample_steps(trace: Trace) -> int | None:
    """Steps per sample of a trace of several samples run one after another (each from
    rest: ``meta.extra["sample_steps"]``), or None for one sequence."""
    n = trace.meta.extra.get("sample_steps")
    if n is None:
        return None
    if not isinstance(n, int) or n < 1 or trace.meta.n_steps % n:
        raise TraceError(f"sample_steps {n!r} does not divide the trace's "
                         f"{trace.meta.n_steps} steps")
    return n


def layer_outputs(trace: Trace, n_layers: int) -> list[list[np.ndarray | None]]:
    """y_t of every layer at every step, from the trace (None where no site holds it: the
    last layer's last step, which nothing in the simulated window consumes). A sample starts
    from rest: no R events at its first step, which therefore says nothing of y_(t-1)."""
    T = trace.meta.n_steps
    per = sample_steps(trace)
    starts = {t for t in range(T) if t == 0 or (per is not None and t % per == 0)}
    out: list[list[np.ndarray | None]] = []
    for layer in range(n_layers):
        per_step: list[np.ndarray | None] = []
        for t in range(T):
            seen = []
            if layer + 1 < n_layers:
                seen.append(("W", trace.events[f"layer{layer + 1}.W"].step(t)[0]))
            if t + 1 < T and t + 1 not in starts:
                seen.append(("R", trace.events[f"layer{layer}.R"].step(t + 1)[0]))
            if len(seen) == 2 and not np.array_equal(np.sort(seen[0][1]), np.sort(seen[1][1])):
                raise TraceError(f"layer{layer} output at step {t} differs between sites "
                                 f"layer{layer + 1}.W and layer{layer}.R")
            per_step.append(np.sort(seen[0][1]).astype(np.int64) if seen else None)
        for t in sorted(starts):
            if len(trace.events[f"layer{layer}.R"].step(t)[0]):
                raise TraceError(f"layer{layer}.R has events at step {t}, where a sample "
                                 "starts from rest")
        out.append(per_step)
    return out


_EVENTS = (Spikes, Done)  # what one action serves back to back

