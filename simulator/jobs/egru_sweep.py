"""Job 2: EGRU layers partitioned over N SpiNNaker2 PEs, simulated timestep by timestep.

One *point* = one N, one partitioning strategy. For a point:

1. **Mapping** (``workloads/egru_partition.py``): the N PEs are split over the layers, each
   layer's neurons over its PEs. Every PE must hold the program (its own bank), the stack/debug
   area, its W and R slices in CSR, and its variables; :func:`memory_check` reports the bytes of
   every PE and, when one does not fit, which PE overflows by how many bytes. Infeasible points
   are still simulated (as "what if it fitted") and flagged ``fits = False``.
2. **Timesteps** on the chip model (``simulator/chips/spinnaker2.py``), per PE of layer l:
   - input events of x_t arrive as NoC packets (one per non-zero y_t of layer l-1; layer 0
     instead streams the embedding from LPDDR4 by DMA, in double-buffered chunks); each event
     costs a packet-arrival interrupt and one CSR column walk (``receive_event`` +
     ``csr_column(nnz)``): the **input matmul**;
   - events of y_{t-1} from the PEs of its own layer (itself included) do the same on R: the
     **recurrent matmul**;
   - when every input of step t is in, the **point-wise** update and threshold of its neurons;
   - then it sends each of its non-zero outputs as one multicast packet (key = neuron, 32-bit
     payload = value) to the PEs that consume it (its own layer, for t+1, and the next layer),
     and one "done" packet carrying its spike count: the **communication**.
   A PE completes step t when it holds all of x_t and y_{t-1} (done packets from every producer,
   and as many spikes as they announced). It keeps accumulators for two steps, so it may already
   take events of step t+1 while finishing step t; a producer may complete (and send) step t
   only when its consumers have completed step t-2 (their done packets double as credits),
   which bounds that buffer. Time a PE is not busy is **waiting**.

Per point the job reports latency per timestep (cycles and seconds; total simulated time /
steps, so the pipeline fill is included), energy per timestep (dynamic and static), the stage
profile of every PE (cycles per step), load imbalance (max / mean busy cycles), and NoC
traffic. Points run in parallel (local processes, or a Dask cluster) and each finished point is
written at once, so an interrupted sweep resumes where it stopped (:func:`run_sweep`).
The method, every output column with its unit, and the default results: ``docs/egru-sweep.md``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np

from calibration.spinnaker2 import Spinnaker2Config, load_spinnaker2
from simulator.chips.spinnaker2 import (
    DEFAULT_LEVEL,
    MemoryFit,
    Spinnaker2Cost,
    Spinnaker2System,
    build_spinnaker2,
    memory_fit,
)
from simulator.chips.work import Work
from simulator.components import Packet
from simulator.ledger import Category, tags
from simulator.timeline import Timeline
from workloads.egru_partition import (
    Layout,
    Partition,
    layers_from_trace,
    partition,
    variable_bytes,
    weight_bytes,
)
from workloads.egru_trace import PAPER_SIZES, PAPER_SPARSITY, real_egru_trace, synthetic_egru_trace
from workloads.trace import Trace, TraceError

STAGES: tuple[str, ...] = (
    "input_matmul", "recurrent_matmul", "pointwise", "communication", "waiting",
)
#: Element-wise operations per neuron per step (EvNN form of the cell, ``workloads.md``):
#: z, r = sigmoid(acc); g = tanh(acc_gx + r * acc_gh); c = z*h + (1-z)*g; o = c > theta;
#: y = o*c; h = c - o*theta; the four accumulators are reset to their biases.
POINTWISE_OPS: dict[str, int] = {
    "sigmoid": 2, "tanh": 1, "mul": 5, "add": 2, "sub": 2, "compare": 1, "copy": 4,
}
#: bytes of one embedding chunk moved by DMA (two such buffers per layer-0 PE)
CHUNK_BYTES = 1024
#: payload of a spike packet (one float32 value; the neuron is the packet's key)
SPIKE_PAYLOAD_BITS = 32
_SPIKE, _DONE, _CHUNK, _START = range(4)

#: default N of the sweep: single chip up to 152 (150 is the paper's), then 2 and 3 chips
DEFAULT_PES: tuple[int, ...] = (60, 90, 120, 150, 180, 240, 304, 456)
DEFAULT_STEPS = 8
MODELS: tuple[str, ...] = ("paper", "tiny")


# -- a point ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PointSpec:
    """Everything that defines one sweep point (and, as :meth:`key`, identifies its result)."""

    pes: int
    strategy: str = "equal"
    layer_split: str = "nnz"
    model: str = "paper"
    trace: str | None = None
    steps: int = 8
    level: str = DEFAULT_LEVEL
    seed: int = 0

    def key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def memory_check(part: Partition, cfg: Spinnaker2Config, layout: Layout = "column"
                 ) -> list[MemoryFit]:
    """Program, stack/debug, weights (CSR, 32-bit words as in the paper) and variables of every
    PE against its SRAM. The simulation walks columns, so the sweep checks the ``"column"``
    layout; ``"row"`` is the paper's Table I layout, for comparison."""
    sw = cfg.software
    value = int(sw.float_bytes.value)
    word = int(cfg.sram.word_bytes.value)
    fits = []
    for core in part.cores:
        buffer = 2 * CHUNK_BYTES if core.layer == 0 else 0
        fits.append(memory_fit(cfg, int(sw.egru_program_bytes.value), {
            "stack_debug": int(sw.egru_debug_stack_bytes.value),
            "weights": weight_bytes(core, part.layers, layout, value, word, word),
            "variables": variable_bytes(core, value, buffer),
        }, f"pe{core.core}"))
    return fits


# -- the PE program -----------------------------------------------------------------------------
@dataclass
class _Pe:
    """State of one PE's program."""

    index: int
    layer: int
    n_neurons: int
    w_nnz: list[int]
    r_nnz: list[int]
    spikes: list[list[int]]  # per step: this PE's neurons with non-zero y_t
    step: int = 0
    got: Counter = field(default_factory=Counter)  # (matrix, step) -> events walked
    announced: Counter = field(default_factory=Counter)
    done: Counter = field(default_factory=Counter)  # (source layer offset, step) -> markers
    chunks_done: Counter = field(default_factory=Counter)
    chunks_issued: int = 0
    chunks_free: int = 2
    stage_cycles: Counter = field(default_factory=Counter)
    work: Counter = field(default_factory=Counter)  # (id of a Work, stage) -> times applied
    finish: list[int] = field(default_factory=list)
    received: list[tuple[int, int, int]] | None = None  # (layer, step, neuron) when recording


class _Simulation:
    """Builds the system for one partition and trace, runs it, and summarises it."""

    def __init__(self, trace: Trace, part: Partition, cfg: Spinnaker2Config, level: str,
                 timeline: Timeline | None = None, record: bool = False) -> None:
        self.trace, self.part, self.cfg = trace, part, cfg
        self.n_layers = len(part.layers)
        self.steps = trace.meta.n_steps
        self.cost = Spinnaker2Cost(cfg, level)
        self.outputs = _layer_outputs(trace, self.n_layers)
        self.pes = [self._pe_state(c, record) for c in part.cores]
        self.system: Spinnaker2System = build_spinnaker2(
            part.n_cores, [self._handler(st) for st in self.pes], level, cfg,
            timeline=timeline, record_deliveries=record, cost=self.cost)
        self._recv = self.cost.receive_event()
        self._send = self.cost.send_events(1)
        self._setup = self.cost.dma_setup()
        self._pointwise: dict[int, Work] = {}
        self._works: dict[int, Work] = {}  # id -> Work, for the bulk charge (keeps ids alive)
        self._layer_pes = [list(part.layer_cores(i)) for i in range(self.n_layers)]
        self._x0 = trace.events["layer0.W"]
        self._chunk_values = CHUNK_BYTES // int(cfg.software.float_bytes.value)
        self._embedding_bytes = part.layers[0].inputs * int(cfg.software.float_bytes.value)
        self._chunks = -(-self._embedding_bytes // CHUNK_BYTES)

    def _pe_state(self, core, record: bool) -> _Pe:
        owner_mask = np.zeros(self.part.layers[core.layer].hidden, dtype=bool)
        owner_mask[core.neurons] = True
        spikes = []
        for t in range(self.steps):
            y = self.outputs[core.layer][t]
            spikes.append([] if y is None else [int(j) for j in y[owner_mask[y]]])
        return _Pe(core.core, core.layer, len(core.neurons), core.w_col_nnz.tolist(),
                   core.r_col_nnz.tolist(), spikes, received=[] if record else None)

    # -- destinations ---------------------------------------------------------------------
    def _spike_dsts(self, layer: int, t: int) -> list[int]:
        own = self._layer_pes[layer] if t + 1 < self.steps else []
        nxt = self._layer_pes[layer + 1] if layer + 1 < self.n_layers else []
        return own + nxt

    def _done_dsts(self, layer: int, t: int) -> list[int]:
        prev = self._layer_pes[layer - 1] if layer > 0 and t + 2 < self.steps else []
        return self._spike_dsts(layer, t) + prev

    # -- program --------------------------------------------------------------------------
    def _handler(self, st: _Pe) -> Callable:
        def handler(core, item):
            if isinstance(item, Packet):
                kind, src_layer, t, x = item.data
                if kind == _SPIKE:
                    yield from self._on_spike(core, st, src_layer, t, x)
                else:
                    self._account(st, self._recv, "communication")
                    yield core.busy(self._recv.cycles, "receive")
                    if src_layer == st.layer - 1:
                        st.done[(-1, t)] += 1
                        st.announced[("W", t)] += x
                    elif src_layer == st.layer:
                        st.done[(0, t + 1)] += 1
                        st.announced[("R", t + 1)] += x
                    else:
                        st.done[(1, t)] += 1
            elif item[0] == _CHUNK:
                yield from self._on_chunk(core, st, item[1], item[2])
            else:  # _START
                yield from self._issue_chunks(core, st)
            while self._ready(st):
                yield from self._finish_step(core, st)
        return handler

    def _account(self, st: _Pe, work: Work, stage: str) -> None:
        """Count one application of ``work``; charged in bulk after the run (same totals as
        charging each time, without hashing a Work per event)."""
        key = id(work)
        if key not in self._works:
            self._works[key] = work
        st.work[(key, stage)] += 1
        st.stage_cycles[stage] += work.cycles

    def _on_spike(self, core, st: _Pe, src_layer: int, t: int, neuron: int):
        if src_layer == st.layer - 1:
            matrix, step, nnz, stage = "W", t, st.w_nnz[neuron], "input_matmul"
        else:
            matrix, step, nnz, stage = "R", t + 1, st.r_nnz[neuron], "recurrent_matmul"
        if not st.step <= step <= st.step + 1:
            raise RuntimeError(f"pe{st.index} at step {st.step} got an event for step {step}")
        col = self.cost.csr_column(nnz)
        self._account(st, self._recv, "communication")
        self._account(st, col, stage)
        st.got[(matrix, step)] += 1
        if st.received is not None:
            st.received.append((src_layer, t, neuron))
        yield core.busy(self._recv.cycles + col.cycles, stage)

    # layer 0: the embedding x_t, streamed from LPDDR4 in chunks through two buffers
    def _issue_chunks(self, core, st: _Pe):
        while st.chunks_free and st.chunks_issued < self.steps * self._chunks:
            t, k = divmod(st.chunks_issued, self._chunks)
            if t > st.step + 1:
                return
            nbytes = min(CHUNK_BYTES, self._embedding_bytes - k * CHUNK_BYTES)
            self._account(st, self._setup, "communication")
            yield core.busy(self._setup.cycles, "dma_setup")
            done = core.dma.transfer(nbytes, bank=1, dram=self.system.drams[
                self.system.chip_of(st.index)], tags=tags(layer=0, stage="input_matmul"),
                label=f"x{t}.{k}")
            done.callbacks.append(lambda _ev, t=t, k=k: core.inbox.put((_CHUNK, t, k)))
            st.chunks_issued += 1
            st.chunks_free -= 1

    def _on_chunk(self, core, st: _Pe, t: int, k: int):
        self._account(st, self._recv, "communication")  # the DMA-completion interrupt
        idx, _ = self._x0.step(t)
        lo, hi = k * self._chunk_values, (k + 1) * self._chunk_values
        cols = idx[(idx >= lo) & (idx < hi)]
        walk = self.cost.csr_columns(np.asarray(st.w_nnz)[cols])
        self._account(st, walk, "input_matmul")
        st.got[("W", t)] += len(cols)
        yield core.busy(self._recv.cycles + walk.cycles, "input_matmul")
        st.chunks_done[t] += 1
        st.chunks_free += 1
        yield from self._issue_chunks(core, st)

    def _ready(self, st: _Pe) -> bool:
        t, layer = st.step, st.layer
        if t >= self.steps:
            return False
        if layer == 0:
            if st.chunks_done[t] < self._chunks:
                return False
        elif (st.done[(-1, t)] < len(self._layer_pes[layer - 1])
              or st.got[("W", t)] < st.announced[("W", t)]):
            return False
        if t > 0 and (st.done[(0, t)] < len(self._layer_pes[layer])
                      or st.got[("R", t)] < st.announced[("R", t)]):
            return False
        return not (layer + 1 < self.n_layers and t >= 2
                    and st.done[(1, t - 2)] < len(self._layer_pes[layer + 1]))

    def _finish_step(self, core, st: _Pe):
        t, layer = st.step, st.layer
        self._check_inputs(st, t)
        pw = self._pointwise.get(st.n_neurons)
        if pw is None:
            pw = self._pointwise[st.n_neurons] = _sum_work(
                self.cost.elementwise(op, n * st.n_neurons) for op, n in POINTWISE_OPS.items())
        self._account(st, pw, "pointwise")
        yield core.busy(pw.cycles, "pointwise")
        dsts = self._spike_dsts(layer, t)
        label = tags(layer=layer, stage="communication")
        spikes = st.spikes[t] if dsts else []
        for j in spikes:
            self._account(st, self._send, "communication")
            yield core.busy(self._send.cycles, "send")
            self.system.send(st.index, dsts, SPIKE_PAYLOAD_BITS, (_SPIKE, layer, t, j), label)
        done_dsts = self._done_dsts(layer, t)
        if done_dsts:
            self._account(st, self._send, "communication")
            yield core.busy(self._send.cycles, "send")
            self.system.send(st.index, done_dsts, SPIKE_PAYLOAD_BITS,
                             (_DONE, layer, t, len(spikes)), label)
        st.finish.append(self.system.engine.now)
        st.step += 1
        for key in [k for k in st.got if k[1] <= t]:
            del st.got[key]
        if layer == 0:
            yield from self._issue_chunks(core, st)

    def _check_inputs(self, st: _Pe, t: int) -> None:
        """Invariant: a PE completes a step with exactly the events the trace has for it."""
        site = f"layer{st.layer}"
        want_w = len(self.trace.events[f"{site}.W"].step(t)[0])
        want_r = len(self.trace.events[f"{site}.R"].step(t)[0]) if t > 0 else 0
        got_w, got_r = st.got[("W", t)], st.got[("R", t)]
        if (got_w, got_r) != (want_w, want_r):
            raise RuntimeError(f"pe{st.index} step {t}: walked {got_w} W and {got_r} R events, "
                               f"the trace has {want_w} and {want_r}")

    # -- run ------------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        system = self.system
        for st, pe in zip(self.pes, system.pes, strict=True):
            if st.layer == 0:
                pe.inbox.put((_START,))
        engine = system.engine
        engine.run()
        for st, pe in zip(self.pes, system.pes, strict=True):
            if st.step != self.steps:
                raise RuntimeError(f"pe{st.index} stopped at step {st.step} of {self.steps}")
            layer_tags = {stage: tags(layer=st.layer, stage=stage) for stage in STAGES}
            for (key, stage), n in st.work.items():
                self._works[key].scaled(n).charge(pe, layer_tags[stage])
        return self._summary()

    def _summary(self) -> dict[str, Any]:
        system, engine = self.system, self.system.engine
        steps = max(1, self.steps)
        makespan = engine.now
        ledger = engine.ledger
        total = ledger.total()
        static = ledger.by("category").get(str(Category.STATIC), 0.0)
        busy = np.array([sum(st.stage_cycles.values()) for st in self.pes], dtype=float)
        stages = {s: [round(st.stage_cycles[s] / steps, 1) for st in self.pes]
                  for s in STAGES[:-1]}
        stages["waiting"] = [round((makespan - b) / steps, 1) for b in busy]
        nocs = [*system.nocs, *([system.board] if system.board else [])]
        link_bits = sum(sum(n.link_bits.values()) for n in system.nocs)
        board_bits = sum(system.board.link_bits.values()) if system.board else 0
        busiest = max((max(n.link_bits.values(), default=0) for n in system.nocs), default=0)
        noc_cfg = self.cfg.noc
        link_capacity = noc_cfg.link_width.value * noc_cfg.clock.value * engine.seconds(makespan)
        step_done = [max(st.finish[t] for st in self.pes) for t in range(self.steps)]
        return {
            "chips": system.n_chips,
            "latency_cycles": makespan / steps,
            "latency_s": engine.seconds(makespan) / steps,
            "first_step_cycles": step_done[0] if step_done else 0,
            "energy_j": total / steps * 1e-12,
            "dynamic_energy_j": (total - static) / steps * 1e-12,
            "static_energy_j": static / steps * 1e-12,
            **{f"{c}_energy_j": v / steps * 1e-12 for c, v in ledger.by("category").items()},
            "imbalance": float(busy.max() / busy.mean()) if busy.size and busy.mean() else 1.0,
            "noc_packets": sum(n.sent for n in nocs) / steps,
            "noc_bits": link_bits / steps,
            "board_bits": board_bits / steps,
            "max_link_utilisation": busiest / link_capacity if link_capacity else 0.0,
            "stages": stages,
        }


def _sum_work(works: Iterable[Work]) -> Work:
    total = Work(label="pointwise")
    for w in works:
        total = total + w
    return Work(total.charges, total.cycles, "pointwise")


def _layer_outputs(trace: Trace, n_layers: int) -> list[list[np.ndarray | None]]:
    """y_t of every layer at every step, from the trace (None where no site holds it: the
    last layer's last step, which nothing in the simulated window consumes)."""
    T = trace.meta.n_steps
    out: list[list[np.ndarray | None]] = []
    for layer in range(n_layers):
        per_step: list[np.ndarray | None] = []
        for t in range(T):
            seen = []
            if layer + 1 < n_layers:
                seen.append(("W", trace.events[f"layer{layer + 1}.W"].step(t)[0]))
            if t + 1 < T:
                seen.append(("R", trace.events[f"layer{layer}.R"].step(t + 1)[0]))
            if len(seen) == 2 and not np.array_equal(np.sort(seen[0][1]), np.sort(seen[1][1])):
                raise TraceError(f"layer{layer} output at step {t} differs between sites "
                                 f"layer{layer + 1}.W and layer{layer}.R")
            per_step.append(np.sort(seen[0][1]).astype(np.int64) if seen else None)
        if T and len(trace.events[f"layer{layer}.R"].step(0)[0]):
            raise TraceError(f"layer{layer}.R has events at step 0: y_(-1) must be zero")
        out.append(per_step)
    return out


def simulate(
    trace: Trace, part: Partition, level: str = DEFAULT_LEVEL,
    config: Spinnaker2Config | None = None, timeline: Timeline | None = None,
    record: bool = False,
) -> tuple[dict[str, Any], _Simulation]:
    """Simulate every step of ``trace`` on the PEs of ``part``; the summary and the run."""
    sim = _Simulation(trace, part, config or load_spinnaker2(), level, timeline, record)
    return sim.run(), sim


# -- points and sweeps --------------------------------------------------------------------------
def run_point(spec: PointSpec, timeline: Timeline | None = None) -> dict[str, Any]:
    """Map, check and simulate one point; the result row (see ``docs/egru-sweep.md``)."""
    start = time.perf_counter()
    cfg = load_spinnaker2()
    trace = load_trace(spec.model, spec.trace, spec.steps, spec.seed)
    part = partition(layers_from_trace(trace), spec.pes, spec.strategy, spec.layer_split)
    fits = memory_check(part, cfg)
    row_major = memory_check(part, cfg, "row")
    worst = max(fits, key=lambda f: (f.missing, f.data_bytes))
    summary, _ = simulate(trace, part, spec.level, cfg, timeline)
    row = {  # steps: those simulated (a saved trace brings its own; the key keeps the request)
        "key": spec.key(), **asdict(spec), "steps": trace.meta.n_steps,
        "trace_label": trace.label,
        "pes_per_layer": "/".join(map(str, part.cores_per_layer)),
        "fits": all(f.fits for f in fits),
        "max_pe_bytes": max(f.data_bytes for f in fits),
        "max_pe": worst.pe,
        "overflow_bytes": worst.missing,
        "overflow_pe": worst.pe if worst.missing else "",
        "overflowing_pes": sum(not f.fits for f in fits),
        "capacity_bytes": worst.data_capacity,
        "program_bytes": worst.program_bytes,
        "max_weight_bytes": max(f.data["weights"] for f in fits),
        "max_variable_bytes": max(f.data["variables"] for f in fits),
        "max_weight_bytes_row_major": max(f.data["weights"] for f in row_major),
        **summary,
        "wall_s": round(time.perf_counter() - start, 3),
    }
    return row


@lru_cache(maxsize=4)
def load_trace(model: str, trace: str | None, steps: int, seed: int) -> Trace:
    """The trace of a point (cached per process, so the points of a sweep share it): a saved
    trace file, or one made from ``model``: ``"paper"`` synthetic at the SpiNNaker2 LM's size
    (``seed`` draws it), ``"tiny"`` real inference of the shipped tiny model on held-out
    text, anything else a checkpoint path run on the same text; ``steps`` timesteps."""
    if trace is not None:
        return Trace.load(trace)
    if model == "paper":  # synthetic: 750 -> 1350/1350/750, every matrix 95% pruned
        return synthetic_egru_trace(PAPER_SIZES, PAPER_SPARSITY, steps=steps, seed=seed)
    if model == "tiny":  # real inference of the shipped tiny model on held-out text
        return real_egru_trace(None, steps)
    return real_egru_trace(model, steps)  # an EGRU checkpoint (models.egru.save_egru)


# -- sweeps -------------------------------------------------------------------------------------
@dataclass
class SweepResult:
    rows: list[dict]
    computed: list[str]
    skipped: list[str]
    failed: dict[str, str]


FILES = ("sweep.csv", "sweep.parquet", "sweep.json")


def read_rows(out: Path) -> list[dict]:
    path = out / "sweep.json"
    if not path.exists():
        return []
    return json.loads(path.read_text())


def write_rows(out: Path, rows: list[dict]) -> None:
    """sweep.json (full rows), sweep.csv and sweep.parquet (nested columns as JSON text);
    each written to a temporary name first, so a kill never leaves a torn file."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    rows = sorted(rows, key=_row_order)
    _atomic(out / "sweep.json", lambda p: p.write_text(json.dumps(rows, indent=1)))
    flat = [{k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in r.items()}
            for r in rows]
    columns = list(dict.fromkeys(k for r in flat for k in r))
    table = pa.Table.from_pylist(flat, schema=None) if flat else pa.table({})
    table = table.select([c for c in columns if c in table.column_names])
    _atomic(out / "sweep.csv", lambda p: pacsv.write_csv(table, p))
    _atomic(out / "sweep.parquet", lambda p: pq.write_table(table, p))


def _row_order(row: dict) -> tuple:
    return (row["model"], row["strategy"], row["layer_split"], row["pes"], row["key"])


def _atomic(path: Path, write: Callable[[Path], Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def run_sweep(
    specs: Sequence[PointSpec],
    out: str | Path | None = None,
    *,
    client: Any = None,
    workers: int | None = None,
    progress: bool = True,
    point_fn: Callable[[PointSpec], dict] = run_point,
) -> SweepResult:
    """Run every point not already in ``out``; write each finished point at once.

    ``client``: a ``distributed.Client`` (Dask); otherwise ``workers`` local processes
    (default: the CPU count; 0 runs the points in this process). A point that raises, or a
    worker that dies, is reported in ``failed`` and not written; finished points stay."""
    from tqdm import tqdm

    out_dir = Path(out) if out is not None else None
    rows = read_rows(out_dir) if out_dir else []
    have = {r["key"] for r in rows}
    todo = [s for s in dict.fromkeys(specs) if s.key() not in have]
    result = SweepResult(rows, [], [s.key() for s in specs if s.key() in have], {})
    bar = tqdm(total=len(todo), disable=not progress, file=sys.stderr, desc="egru-sweep",
               unit="point")

    def finished(spec: PointSpec, row: dict | None, error: BaseException | None) -> None:
        bar.update(1)
        if error is not None:
            result.failed[spec.key()] = f"{type(error).__name__}: {error}"
            return
        rows.append(row)
        result.computed.append(spec.key())
        if out_dir:
            write_rows(out_dir, rows)

    try:
        if client is not None:
            _run_dask(client, todo, point_fn, finished)
        elif workers == 0 or len(todo) <= 1:
            for spec in todo:
                try:
                    row = point_fn(spec)
                except Exception as e:  # a failed point must not lose the others
                    finished(spec, None, e)
                else:
                    finished(spec, row, None)
        else:
            _run_local(todo, workers, point_fn, finished)
    finally:
        bar.close()
    result.rows = sorted(rows, key=_row_order)
    return result


def _run_local(todo, workers, point_fn, finished) -> None:
    n = min(len(todo), workers or os.cpu_count() or 1)
    with ProcessPoolExecutor(n, mp_context=get_context("spawn")) as pool:
        pending = {pool.submit(point_fn, s): s for s in todo}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                spec = pending.pop(fut)
                error = fut.exception()
                finished(spec, None if error else fut.result(), error)


def _run_dask(client, todo, point_fn, finished) -> None:
    from distributed import as_completed

    futures = {client.submit(point_fn, s, pure=False): s for s in todo}
    for fut in as_completed(list(futures)):
        spec = futures[fut]
        try:
            row = fut.result()
        except Exception as e:
            finished(spec, None, e)
        else:
            finished(spec, row, None)


def points(pes: Iterable[int], strategies: Iterable[str], **common: Any) -> list[PointSpec]:
    """Every (N, strategy) point. The seed only draws synthetic traces, so it is left out of
    the points of a real model or a trace file: changing it must not rerun identical points."""
    if common.get("trace") is not None or common.get("model", "paper") != "paper":
        common = {**common, "seed": 0}
    return [PointSpec(pes=n, strategy=s, **common) for s in strategies for n in pes]


def format_table(rows: Sequence[dict]) -> str:
    """The sweep as a text table, one line per point."""
    head = ("N", "strategy", "PEs/layer", "chips", "fits", "max B/PE", "overflow", "cycles/step",
            "latency/step", "energy/step", "dyn/static", "imbalance", "NoC kbit/step")
    table = [head]
    for r in rows:
        over = f"{r['overflow_pe']} +{r['overflow_bytes']} B" if r["overflow_bytes"] else "—"
        table.append((
            str(r["pes"]), r["strategy"], r["pes_per_layer"], str(r["chips"]),
            "yes" if r["fits"] else "no", f"{r['max_pe_bytes']:,}", over,
            f"{r['latency_cycles']:,.0f}", f"{r['latency_s'] * 1e6:,.1f} µs",
            f"{r['energy_j'] * 1e6:,.1f} µJ",
            f"{r['dynamic_energy_j'] / r['energy_j']:.0%}/"
            f"{r['static_energy_j'] / r['energy_j']:.0%}"
            if r["energy_j"] else "—",
            f"{r['imbalance']:.2f}", f"{r['noc_bits'] / 1e3:,.0f}",
        ))
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)

