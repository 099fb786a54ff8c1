"""Job 2 (``nmsim egru-sweep``) on small configurations: mapping, memory fit, broadcast,
sweeps in this process, in local processes and on Dask, resuming, the CLI, multi-chip runs,
and the same points on SENECA."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from simulator.chips.memory import MemoryFit
from simulator.chips.registry import Chip, load_chip
from simulator.cli import main
from simulator.jobs.egru_sweep import (
    STAGES,
    PointSpec,
    load_trace,
    points,
    read_rows,
    run_point,
    run_sweep,
    simulate_partition,
)
from simulator.mappings.egru import map_egru
from simulator.mappings.egru import weight_bytes as mapped_weight_bytes
from simulator.simulate import Run
from workloads.egru_partition import (
    LAYER_SPLITS,
    STRATEGIES,
    Partition,
    layers_from_trace,
    partition,
    weight_bytes,
)
from workloads.egru_trace import output_site, synthetic_egru_trace
from workloads.trace import Trace

#: (embedding, H_0, H_1, H_2) of the small synthetic network; 56 neurons in all
SMALL = (16, 24, 20, 12)
#: the keys ``--json`` prints per point (the issue's list)
JSON_KEYS = {"pes", "fits", "max_pe_bytes", "overflow_bytes", "latency_s", "energy_j", "stages",
             "strategy"}


def small_trace(seed: int = 3) -> Trace:
    return synthetic_egru_trace(SMALL, 0.8, activity=(0.25, 0.3, 0.25), steps=4, seed=seed)


@pytest.fixture(scope="module")
def small() -> Trace:
    return small_trace()


@pytest.fixture(scope="module")
def small_file(small: Trace, tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(small.save(tmp_path_factory.mktemp("trace") / "small.npz"))


@pytest.fixture(scope="module")
def tiny() -> Trace:
    """Real inference of the shipped tiny model (64 -> 128/128/64), 3 timesteps."""
    return load_trace("tiny", None, 3, 0)


def _without_wall(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "wall_s"} for r in rows]


def _fits(part: Partition, layout: str = "column", chip: Chip | None = None) -> list[MemoryFit]:
    """Every core's memory fit of ``part`` on ``chip`` (check only, nothing simulated): the
    EGRU mapping's regions loaded on a freshly built system."""
    chip = chip or load_chip("spinnaker2")
    emap = map_egru(part, chip.cost(), chip.has("dram"), layout)
    system = chip.build(part.n_cores, lambda core, item: None)
    return emap.mapping.load(system, check_only=True)


# -- mapping ------------------------------------------------------------------------------------
@pytest.mark.parametrize("layer_split", LAYER_SPLITS)
@pytest.mark.parametrize("strategy", STRATEGIES)
def test_partition_covers_every_neuron_once(small: Trace, strategy: str, layer_split: str):
    layers = layers_from_trace(small)
    hidden = [lay.hidden for lay in layers]
    for n in range(len(layers), sum(hidden) + 1):  # every N the network admits
        part = partition(layers, n, strategy, layer_split)
        assert part.n_cores == sum(part.cores_per_layer) == n
        assert all(1 <= c <= h for c, h in zip(part.cores_per_layer, hidden, strict=True))
        assert [c.core for c in part.cores] == list(range(n))
        for i, layer in enumerate(layers):
            cores = [part.cores[c] for c in part.layer_cores(i)]
            assert all(c.layer == i and len(c.neurons) > 0 for c in cores)
            owned = np.concatenate([c.neurons for c in cores])
            assert np.array_equal(np.sort(owned), np.arange(layer.hidden))  # each exactly once
            owner = part.owner(i)
            for c in cores:
                assert np.all(owner[c.neurons] == c.core)
                # a core stores the rows j, H + j, 2H + j of its neurons, of W and of R
                assert c.w_nnz + c.r_nnz == layer.neuron_nnz()[c.neurons].sum()
            # ...so, over the layer's cores, every stored weight once per column
            assert np.array_equal(sum(c.w_col_nnz for c in cores),
                                  np.bincount(layer.W.indices, minlength=layer.inputs))
            assert np.array_equal(sum(c.r_col_nnz for c in cores),
                                  np.bincount(layer.R.indices, minlength=layer.hidden))
            sizes = [len(c.neurons) for c in cores]
            load = [c.w_nnz + c.r_nnz for c in cores]
            if strategy == "equal":  # contiguous blocks whose sizes differ by at most one
                assert max(sizes) - min(sizes) <= 1
                assert all(np.array_equal(c.neurons, np.arange(c.neurons[0], c.neurons[-1] + 1))
                           for c in cores)
            else:  # no core above an equal split's largest; non-zeros within one neuron's
                assert max(sizes) <= -(-layer.hidden // len(cores))
                assert max(load) - min(load) <= layer.neuron_nnz().max()


def test_layer_split_rules(small: Trace):
    layers = layers_from_trace(small)
    assert partition(layers, 6, "equal", "equal").cores_per_layer == [2, 2, 2]
    # 'nnz': in proportion to W + R non-zeros (864/672/336 for 24/20/12 units at 80% pruned)
    assert [lay.nnz for lay in layers] == [
        round(0.2 * 72 * 16) + round(0.2 * 72 * 24), round(0.2 * 60 * 24) + round(0.2 * 60 * 20),
        round(0.2 * 36 * 20) + round(0.2 * 36 * 12)]
    assert partition(layers, 11, "equal", "nnz").cores_per_layer == [5, 4, 2]
    # a layer never gets more cores than neurons: 18/18/18 leaves layer 2 (12 units) 6 too
    # many, handed one by one to the layer with the most neurons left without a core
    assert partition(layers, 54, "equal", "equal").cores_per_layer == [23, 19, 12]
    for n in (2, 57):
        with pytest.raises(ValueError, match="cores cannot hold"):
            partition(layers, n)


# -- memory fit ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def two_layers(tmp_path_factory: pytest.TempPathFactory) -> tuple[Trace, str]:
    """Embedding 32, layers of 64 and 128 units, every matrix exactly 75% pruned:
    layer0.W 192 x 32 (1,536 non-zeros), layer0.R 192 x 64 (3,072),
    layer1.W 384 x 64 (6,144), layer1.R 384 x 128 (12,288)."""
    trace = synthetic_egru_trace((32, 64, 128), 0.75, activity=0.25, steps=2, seed=1)
    return trace, str(trace.save(tmp_path_factory.mktemp("trace") / "two_layers.npz"))


def test_memory_check_matches_a_hand_calculation(two_layers):
    trace, _ = two_layers
    part = partition(layers_from_trace(trace), 2, "equal", "equal")  # one PE per layer
    assert [c.w_nnz for c in part.cores] == [1536, 6144]
    assert [c.r_nnz for c in part.cores] == [3072, 12288]
    # Every PE: program 18,330 B (Table I, 17.9 KB of 1024 B; 18,332 B in whole words) in the
    # 32 KiB program bank; data banks 3 x 32,768 = 98,304 B hold stack/debug 5,120 B (Table I,
    # 5 KB), the weights and the variables.
    # Weights in the sweep's column layout: per matrix NZ values + NZ row indices + one offset
    # per input column and one more, 4 B each: 4 * (2 NZ + n_in + 1).
    pe0_weights = 4 * (2 * 1536 + 32 + 1) + 4 * (2 * 3072 + 64 + 1)  # 12,420 + 24,836
    pe1_weights = 4 * (2 * 6144 + 64 + 1) + 4 * (2 * 12288 + 128 + 1)  # 49,412 + 98,820
    assert (pe0_weights, pe1_weights) == (37256, 148232)
    # Variables: 16 float32 per neuron (c, theta, 6 biases, 4 accumulators x 2 steps), and on
    # layer 0 two 1,024 B buffers for the embedding streamed from LPDDR4.
    pe0_vars = 64 * 16 * 4 + 2 * 1024  # 6,144
    pe1_vars = 128 * 16 * 4  # 8,192
    pe0_data = 5120 + pe0_weights + pe0_vars  # 48,520: fits
    pe1_data = 5120 + pe1_weights + pe1_vars  # 161,544: 63,240 B too many
    assert (pe0_data, pe1_data) == (48520, 161544)

    fits = _fits(part)
    assert [f.pe for f in fits] == ["pe0", "pe1"]
    assert [f.program_bytes for f in fits] == [18332, 18332]
    assert [f.program_capacity for f in fits] == [32768, 32768]
    assert [f.data_capacity for f in fits] == [98304, 98304]
    assert fits[0].data == {"stack_debug": 5120, "weights": 37256, "variables": 6144}
    assert fits[1].data == {"stack_debug": 5120, "weights": 148232, "variables": 8192}
    assert [f.data_bytes for f in fits] == [48520, 161544]
    assert fits[0].fits and not fits[1].fits
    assert fits[1].missing == 161544 - 98304 == 63240

    # the paper's Table I layout, row-major CSR: 2 NZ + N_rows + 1 words of 4 B per matrix
    row = _fits(part, "row")
    assert row[1].data["weights"] == 4 * (2 * 6144 + 384 + 1) + 4 * (2 * 12288 + 384 + 1)
    assert row[1].data["weights"] == 150536


def test_fit_of_a_split_layer_is_counted_from_its_rows(two_layers):
    """Three PEs: layer 1 in two halves of 64 neurons; each PE's bytes recounted from the
    matrices (rows j, H + j, 2H + j of its neurons)."""
    trace, _ = two_layers
    layers = layers_from_trace(trace)
    part = partition(layers, 3, "equal", "equal")
    assert part.cores_per_layer == [1, 2]
    fits = _fits(part)
    cost = load_chip("spinnaker2").cost()
    w, r = layers[1].W, layers[1].R
    for core, fit in zip(part.cores[1:], fits[1:], strict=True):
        rows = np.concatenate([core.neurons + g * 128 for g in range(3)])
        nz_w, nz_r = w[rows].nnz, r[rows].nnz
        assert nz_w + nz_r == core.w_nnz + core.r_nnz
        weights = 4 * (2 * nz_w + 64 + 1) + 4 * (2 * nz_r + 128 + 1)
        assert fit.data == {"stack_debug": 5120, "weights": weights, "variables": 64 * 16 * 4}
        assert weight_bytes(core, layers) == weights
        assert mapped_weight_bytes(core, part, cost) == weights
        assert fit.fits
    assert all(f.fits for f in fits)


def test_infeasible_point_names_the_pe_and_the_bytes(two_layers):
    _, path = two_layers
    row = run_point(PointSpec(pes=2, layer_split="equal", trace=path))  # steps=8 requested
    assert row["steps"] == 2  # ...but the saved trace has 2, and 2 were simulated
    assert row["fits"] is False
    assert (row["overflow_pe"], row["overflow_bytes"], row["overflowing_pes"]) == ("pe1", 63240, 1)
    assert (row["max_pe"], row["max_pe_bytes"], row["capacity_bytes"]) == ("pe1", 161544, 98304)
    assert row["max_weight_bytes"] == 148232 and row["max_weight_bytes_row_major"] == 150536
    assert row["latency_s"] > 0  # simulated all the same, as "what if it fitted"
    ok = run_point(PointSpec(pes=3, layer_split="equal", trace=path, steps=2))
    assert ok["fits"] is True and ok["overflow_bytes"] == 0 and ok["overflow_pe"] == ""
    assert ok["max_pe_bytes"] < 98304


# -- the broadcast ------------------------------------------------------------------------------
def _expected_received(trace: Trace, layer: int, n_layers: int) -> Counter:
    """(source layer, step, neuron) of every spike a PE of ``layer`` must walk, read from the
    sites that hold each layer's y_t (``layer{l+1}.W``, the last layer's ``.y``)."""
    T = trace.meta.n_steps

    def y(lay: int, t: int) -> np.ndarray:
        return trace.events[output_site(lay, n_layers)].step(t)[0]

    want: Counter = Counter()
    if layer > 0:  # x_t = y_t of the layer below, every step
        want.update((layer - 1, t, int(j)) for t in range(T) for j in y(layer - 1, t))
    # y_t of its own layer, for R at t + 1 (none after the last step)
    want.update((layer, t, int(j)) for t in range(T - 1) for j in y(layer, t))
    return want


def _packets(part, trace: Trace) -> tuple[int, int]:
    """(spike packets, done packets) the protocol sends, by the module docstring's rules."""
    T, L = trace.meta.n_steps, len(part.layers)
    spikes = done = 0
    for i in range(L):
        for t in range(T):
            feeds = t + 1 < T or i + 1 < L  # its own layer at t + 1, or the next layer
            if feeds:
                spikes += len(trace.events[output_site(i, L)].step(t)[0])
            done += part.cores_per_layer[i] * (feeds or (i > 0 and t + 2 < T))
    return spikes, done


def _check_broadcast(trace: Trace, part, run: Run) -> None:
    L, T = len(part.layers), trace.meta.n_steps
    summary, cores = run.report, run.program.cores
    for st in cores:  # every event to every consumer, exactly once
        assert Counter(st.received) == _expected_received(trace, st.layer, L)
        assert len(st.received) == len(set(st.received))
    for i in range(L):
        got = sum(len(cores[c].received) for c in part.layer_cores(i))
        want = part.cores_per_layer[i] * sum(_expected_received(trace, i, L).values())
        assert got == want
    for noc in run.system.networks:  # every packet reaches each of its destinations once
        assert noc.deliveries and set(noc.deliveries.values()) == {1}
        assert noc.delivered == noc.expected == sum(noc.deliveries.values())
    if run.system.n_chips == 1:
        # a chip without DRAM (SENECA) gets x_t from the host port: one multicast train per
        # step to the layer-0 cores, one wire packet per non-zero input (at least one)
        host = 0 if run.chip.has("dram") else sum(
            max(1, len(trace.events["layer0.W"].step(t)[0])) for t in range(T))
        assert summary["noc_packets"] * T == pytest.approx(sum(_packets(part, trace)) + host)
    # the stages of every PE fill the timestep: busy stages + waiting = latency
    for k in range(part.n_cores):
        total = sum(summary["stages"][s][k] for s in STAGES)
        assert total == pytest.approx(summary["latency_cycles"], abs=0.35)


@pytest.mark.parametrize("n", [3, 9, 23])
def test_broadcast_delivers_every_event_to_every_consumer(small: Trace, n: int):
    part = partition(layers_from_trace(small), n, "balanced", "nnz")
    run = simulate_partition(small, part, record=True)
    _check_broadcast(small, part, run)
    assert run.report["chips"] == 1 and run.report["board_bits"] == 0
    assert run.system.board is None


def test_multichip_point_runs_and_reports_interchip_traffic(tiny: Trace):
    part = partition(layers_from_trace(tiny), 160, "equal", "equal")
    assert part.cores_per_layer == [53, 54, 53]
    run = simulate_partition(tiny, part, record=True)
    summary, board = run.report, run.system.board
    _check_broadcast(tiny, part, run)
    assert summary["chips"] == 2 and run.system.n_chips == 2
    assert board is not None and board in run.system.networks
    # a packet crosses the board once when a destination lies on the other chip (PEs 152+)
    T, L = tiny.meta.n_steps, 3
    cross = 0
    for i in range(L):
        for c in part.layer_cores(i):
            for t in range(T):
                spike = ([*part.layer_cores(i)] if t + 1 < T else []) + (
                    [*part.layer_cores(i + 1)] if i + 1 < L else [])
                done = spike + ([*part.layer_cores(i - 1)] if i > 0 and t + 2 < T else [])
                y = tiny.events[output_site(i, L)].step(t)[0]
                n_spikes = int(np.isin(y, part.cores[c].neurons).sum()) if spike else 0
                for dsts, count in ((spike, n_spikes), (done, 1)):
                    if any(d // 152 != c // 152 for d in dsts):
                        cross += count
    bits = int(load_chip("spinnaker2").config.noc.header_bits.value) + 32
    assert cross > 0 and board.packets == cross
    assert summary["board_bits"] * T == pytest.approx(cross * bits)  # 2 chips: one link each
    assert summary["latency_s"] > 0 and summary["noc_bits"] > 0


@pytest.mark.parametrize("n", [4, 9])
def test_seneca_point_runs_end_to_end(small: Trace, small_file: str, n: int):
    """The same point on SENECA: every event delivered exactly once, layer 0 fed by the host."""
    chip = load_chip("seneca")
    assert not chip.has("dram")
    part = partition(layers_from_trace(small), n, "balanced", "nnz")
    run = simulate_partition(small, part, chip, record=True)
    _check_broadcast(small, part, run)
    assert run.report["chips"] == 1 and run.report["board_bits"] == 0
    assert run.system.board is None and len(run.system.networks) == 1
    # layer 0's x_t arrives from the host port, not by DMA from a DRAM...
    assert not run.program.streams
    assert run.system.has_host_port
    assert not any("dma" in r["component"] for r in run.ledger.rows())
    assert all(run.program.cores[c].stage_cycles["input_matmul"] > 0
               for c in part.layer_cores(0))
    # ...so no core holds DMA buffers: 16 BF16 values (2 B) per neuron, where SpiNNaker2's
    # layer-0 PEs add two 1,024 B chunk buffers to their 16 float32 (4 B) per neuron
    assert [f.data["variables"] for f in run.fits] == [32 * len(c.neurons) for c in part.cores]
    assert [f.data["variables"] for f in _fits(part)] == [
        64 * len(c.neurons) + (2048 if c.layer == 0 else 0) for c in part.cores]
    assert run.fits_memory
    row = run_point(PointSpec(pes=n, strategy="balanced", trace=small_file, steps=4,
                              chip="seneca"))
    assert row["chip"] == "seneca" and row["chip_file"] == "calibration/seneca.yaml"
    assert row["clock_hz"] == run.clock_hz and row["chips"] == 1
    assert row["fits"] is True and row["overflow_bytes"] == 0
    assert row["latency_cycles"] == run.report["latency_cycles"] > 0
    assert row["energy_j"] == pytest.approx(run.report["energy_j"]) and row["energy_j"] > 0


# -- determinism --------------------------------------------------------------------------------
def test_same_seed_gives_identical_results(small_file: str):
    spec = PointSpec(pes=7, strategy="balanced", trace=small_file, steps=4)
    assert _without_wall([run_point(spec)]) == _without_wall([run_point(spec)])
    runs = []
    for seed in (3, 3, 4):
        trace = small_trace(seed)
        run = simulate_partition(trace, partition(layers_from_trace(trace), 7, "balanced"))
        runs.append(json.dumps(run.report, sort_keys=True))
    assert runs[0] == runs[1] and runs[0] != runs[2]


# -- sweeps -------------------------------------------------------------------------------------
def test_sweep_is_the_same_in_process_in_a_pool_and_on_dask(small_file: str, tmp_path: Path):
    from distributed import Client, LocalCluster

    specs = points([3, 6, 11], STRATEGIES, trace=small_file, steps=4)
    here = run_sweep(specs, tmp_path / "here", workers=0, progress=False)
    pool = run_sweep(specs, tmp_path / "pool", workers=2, progress=False)
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        dask = run_sweep(specs, tmp_path / "dask", client=client, progress=False)
    for res in (here, pool, dask):
        assert not res.failed and not res.skipped
        assert sorted(res.computed) == sorted(s.key() for s in specs)
        assert len(res.rows) == len(specs)
    assert _without_wall(pool.rows) == _without_wall(here.rows)
    assert _without_wall(dask.rows) == _without_wall(here.rows)
    for name in ("here", "pool", "dask"):
        assert _without_wall(read_rows(tmp_path / name)) == _without_wall(here.rows)
    assert {(r["pes"], r["strategy"]) for r in here.rows} == {
        (n, s) for n in (3, 6, 11) for s in STRATEGIES}


def _pes_in_csv(out: Path) -> list[int]:
    with open(out / "sweep.csv", newline="") as f:
        return sorted(int(r["pes"]) for r in csv.DictReader(f))


def test_failed_point_is_recomputed_alone(small_file: str, tmp_path: Path):
    specs = points([3, 4, 5, 6], ["equal"], trace=small_file, steps=4)
    calls: list[int] = []

    def flaky(spec: PointSpec) -> dict:
        calls.append(spec.pes)
        if spec.pes == 5:
            raise RuntimeError("worker lost")
        return run_point(spec)

    first = run_sweep(specs, tmp_path, workers=0, progress=False, point_fn=flaky)
    assert calls == [3, 4, 5, 6]
    assert list(first.failed) == [specs[2].key()]
    assert first.failed[specs[2].key()] == "RuntimeError: worker lost"
    on_disk = read_rows(tmp_path)
    assert [r["pes"] for r in on_disk] == [3, 4, 6] == _pes_in_csv(tmp_path)
    assert sorted(pq.read_table(tmp_path / "sweep.parquet").column("pes").to_pylist()) == [3, 4, 6]
    walls = {r["key"]: r["wall_s"] for r in on_disk}

    calls.clear()
    second = run_sweep(specs, tmp_path, workers=0, progress=False, point_fn=_counting(calls))
    assert calls == [5]
    assert second.computed == [specs[2].key()] and not second.failed
    assert sorted(second.skipped) == sorted(walls)
    final = read_rows(tmp_path)
    assert [r["pes"] for r in final] == [3, 4, 5, 6] == _pes_in_csv(tmp_path)
    assert all(walls[r["key"]] == r["wall_s"] for r in final if r["key"] in walls)


def _counting(calls: list[int]):
    def point(spec: PointSpec) -> dict:
        calls.append(spec.pes)
        return run_point(spec)
    return point


def test_interrupted_sweep_resumes_without_recomputing(small_file: str, tmp_path: Path):
    specs = points([3, 4, 5, 6, 7], ["balanced"], trace=small_file, steps=4)
    calls: list[int] = []

    def interrupted(spec: PointSpec) -> dict:
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C during the third point
        return _counting(calls)(spec)

    with pytest.raises(KeyboardInterrupt):
        run_sweep(specs, tmp_path, workers=0, progress=False, point_fn=interrupted)
    assert [r["pes"] for r in read_rows(tmp_path)] == [3, 4] == _pes_in_csv(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "sweep.csv", "sweep.json", "sweep.parquet"]  # no torn temporary files
    calls.clear()
    res = run_sweep(specs, tmp_path, workers=0, progress=False, point_fn=_counting(calls))
    assert calls == [5, 6, 7] and len(res.skipped) == 2
    assert [r["pes"] for r in read_rows(tmp_path)] == [3, 4, 5, 6, 7]


def test_killed_cli_sweep_resumes(small_file: str, tmp_path: Path):
    """SIGKILL a real ``nmsim egru-sweep`` process once two points are written, then resume."""
    out = tmp_path / "out"
    args = ["egru-sweep", "--trace", small_file, "--pes", "3:56", "--strategy", "equal",
            "--workers", "0", "--out", str(out), "--json"]
    code = "import sys; from simulator.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while len(read_rows(out)) < 2:
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    done = read_rows(out)
    assert 2 <= len(done) < 54
    walls = {r["key"]: r["wall_s"] for r in done}
    assert main(args) == 0
    final = read_rows(out)
    assert [r["pes"] for r in final] == list(range(3, 57))
    assert all(walls[r["key"]] == r["wall_s"] for r in final if r["key"] in walls)


# -- the command line ---------------------------------------------------------------------------
def test_cli_json_and_resume(small_file: str, tmp_path: Path, capsys: pytest.CaptureFixture):
    base = ["egru-sweep", "--trace", small_file, "--steps", "4", "--workers", "0",
            "--out", str(tmp_path), "--json"]
    assert main([*base, "--pes", "3,5"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert [(p["pes"], p["strategy"]) for p in first] == [
        (3, "balanced"), (5, "balanced"), (3, "equal"), (5, "equal")]
    for p in first:
        assert set(p) == JSON_KEYS
        assert p["fits"] is True and p["overflow_bytes"] == 0
        assert p["latency_s"] > 0 and p["energy_j"] > 0 and p["max_pe_bytes"] > 5000
        assert set(p["stages"]) == set(STAGES)
        assert all(len(v) == p["pes"] for v in p["stages"].values())
    walls = {r["key"]: r["wall_s"] for r in read_rows(tmp_path)}

    assert main([*base, "--pes", "3:7:2", "--strategy", "equal"]) == 0  # 3, 5 done; 7 new
    second = json.loads(capsys.readouterr().out)
    assert [p["pes"] for p in second] == [3, 5, 7]
    assert second[:2] == [p for p in first if p["strategy"] == "equal"]
    rows = read_rows(tmp_path)
    assert len(rows) == 5 and len({r["key"] for r in rows}) == 5
    assert all(walls[r["key"]] == r["wall_s"] for r in rows if r["key"] in walls)

    assert main([*base[:-1], "--pes", "7", "--strategy", "equal"]) == 0  # the text table
    out = capsys.readouterr().out
    assert out.startswith("SYNTHETIC trace") and "cycles/step" in out


def test_cli_reports_a_failed_point(small_file: str, tmp_path: Path,
                                    capsys: pytest.CaptureFixture):
    args = ["egru-sweep", "--trace", small_file, "--pes", "4,57", "--strategy", "equal",
            "--workers", "0", "--out", str(tmp_path), "--json"]
    assert main(args) == 1  # 57 PEs for 56 neurons
    captured = capsys.readouterr()
    assert [p["pes"] for p in json.loads(captured.out)] == [4]
    assert "point failed" in captured.err and "57 cores cannot hold" in captured.err
    assert [r["pes"] for r in read_rows(tmp_path)] == [4]


def test_cli_multichip_tiny_model(tmp_path: Path, capsys: pytest.CaptureFixture):
    args = ["egru-sweep", "--model", "tiny", "--pes", "160", "--strategy", "equal",
            "--layer-split", "equal", "--steps", "3", "--workers", "0", "--out", str(tmp_path),
            "--json"]
    assert main(args) == 0
    (point,) = json.loads(capsys.readouterr().out)
    assert point["pes"] == 160 and point["fits"] is True
    (row,) = read_rows(tmp_path)
    assert row["chips"] == 2 and row["pes_per_layer"] == "53/54/53"
    assert row["board_bits"] > 0 and row["noc_packets"] > 0
    assert row["trace_label"] == "real trace of EGRU tiny LM (shipped) (E64, 128/128/64)"


def test_cli_seneca_paper_model(tmp_path: Path, capsys: pytest.CaptureFixture):
    args = ["egru-sweep", "--chip", "seneca", "--pes", "4", "--steps", "2", "--workers", "0",
            "--out", str(tmp_path), "--json"]
    assert main(args) == 0
    got = json.loads(capsys.readouterr().out)
    assert [(p["pes"], p["strategy"]) for p in got] == [(4, "balanced"), (4, "equal")]
    rows = read_rows(tmp_path)
    assert len(rows) == 2
    for p in got:
        assert set(p) == JSON_KEYS
        assert p["latency_s"] > 0 and p["energy_j"] > 0
        assert set(p["stages"]) == set(STAGES)
        assert all(len(v) == 4 for v in p["stages"].values())
        # The paper's network (750 -> 1350/1350/750, 95% pruned) stores about
        # 0.05 x 3 x (1350 x 750 + 3 x 1350^2 + 750 x 1350 + 750^2) = 1,208,250 weights, at
        # least 2 B each (BF16): over 2.4 MB on 4 cores of 256 kB data memory cannot fit.
        assert p["fits"] is False
        assert p["max_pe_bytes"] > 2 * 1208250 / 4 > 262144
    for r in rows:
        assert (r["chip"], r["chip_file"]) == ("seneca", "calibration/seneca.yaml")
        assert r["steps"] == 2 and r["chips"] == 1 and r["board_bits"] == 0
        assert r["capacity_bytes"] == 262144
        assert r["overflow_bytes"] == r["max_pe_bytes"] - r["capacity_bytes"]
        assert r["pes_per_layer"].count("/") == 2


def test_seed_does_not_split_points_of_real_models():
    from simulator.jobs.egru_sweep import points

    a = points([6], ["equal"], model="tiny", seed=3)
    b = points([6], ["equal"], model="tiny", seed=4)
    assert [p.key() for p in a] == [p.key() for p in b]
    assert points([6], ["equal"], seed=3)[0].key() != points([6], ["equal"], seed=4)[0].key()


def test_frontier_note_names_the_fewest_fitting_cores_and_the_best_points():
    from simulator.jobs.egru_sweep import frontier_note

    rows = [dict(pes=60, fits=False, latency_s=9e-4, energy_j=2e-4),
            dict(pes=150, fits=True, latency_s=6e-4, energy_j=2.5e-4),
            dict(pes=152, fits=True, latency_s=5e-4, energy_j=2.6e-4)]
    assert frontier_note(rows[:1]) == "none of 1 fits yet"
    assert frontier_note(rows) == ("fits from N=150; fastest N=152 500.0 µs; "
                                   "least energy N=150 250.0 µJ")
