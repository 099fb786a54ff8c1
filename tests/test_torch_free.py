"""torch is imported only when a PyTorch network runs: traces from a file, synthetic traces and
the EGRU mapping work in a Python where ``import torch`` fails.

Each test runs its code in a fresh interpreter whose first act is to block torch (a meta-path
finder that refuses ``torch`` and ``torch.*``), and ends by checking that torch never got in.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

BLOCK_TORCH = """
import sys

class _NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError(f"torch is blocked here ({name})")
        return None

sys.meta_path.insert(0, _NoTorch())
try:
    import torch  # noqa: F401
except ImportError:
    pass
else:
    raise SystemExit("the torch blocker does not work")
"""

CHECK_NO_TORCH = """
leaked = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
assert not leaked, f"torch modules imported: {leaked}"
print("OK")
"""


def run_without_torch(code: str, tmp_path: Path) -> None:
    script = BLOCK_TORCH + textwrap.dedent(code) + CHECK_NO_TORCH
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    if proc.returncode != 0 or not proc.stdout.strip().endswith("OK"):
        pytest.fail(f"without torch, this failed:\n{proc.stdout}\n{proc.stderr}")


def test_rwkv_synthetic_and_saved_traces(tmp_path: Path) -> None:
    run_without_torch(f"""
    from pathlib import Path

    from models.rwkv_config import RWKVConfig
    from workloads.rwkv_inputs import load_traces
    from workloads.rwkv_sites import rwkv_site_specs
    from workloads.rwkv_summary import measured_profile, summarize
    from workloads.rwkv_synthetic import PUBLISHED_3B_SPARSE, synthetic_rwkv_trace
    from workloads.trace import Trace

    t = synthetic_rwkv_trace("169M", n_tokens=2, n_blocks=1, seed=1)
    assert t.meta.synthetic and t.meta.n_steps == 2 and len(t.sites) == 7
    prof = measured_profile(t)
    assert all(abs(prof[s] - PUBLISHED_3B_SPARSE[s]) < 1e-3 for s in prof)
    assert "SYNTHETIC" in summarize(t)
    assert [s.size for s in rwkv_site_specs(RWKVConfig(1, 8, 16), [0])] == [8] * 6 + [32]

    for model in (None, "3B"):
        dense, sparse = load_traces(model=model, tokens=1)
        assert dense.meta.synthetic and sparse.meta.synthetic
        assert sparse.meta.profile == "published-3b-sparse"

    path = t.save(Path({str(tmp_path)!r}) / "rwkv.npz")
    back = Trace.load(path)
    assert back.meta == t.meta
    dense, sparse = load_traces(trace=path)
    assert sparse.meta == t.meta and "dense baseline" in dense.meta.model
    dense2, _ = load_traces(trace=path, dense_trace=path)
    assert dense2.meta == t.meta
    """, tmp_path)


def test_egru_synthetic_trace_and_file(tmp_path: Path) -> None:
    run_without_torch(f"""
    from pathlib import Path

    from workloads.egru_trace import (
        PAPER_SIZES, PAPER_SPARSITY, measured_activity, summarize, synthetic_egru_trace,
    )
    from workloads.trace import Trace

    assert PAPER_SIZES == (750, 1350, 1350, 750) and PAPER_SPARSITY == 0.95
    t = synthetic_egru_trace((24, 40, 40, 24), weight_sparsity=0.9, steps=3, seed=2)
    assert t.meta.synthetic and t.meta.n_steps == 3
    assert set(measured_activity(t)) == {{"layer0", "layer1", "layer2"}}
    u = synthetic_egru_trace((24, 40, 24), activity=0.25, steps=2, scope="global")
    assert u.meta.extra["events_per_step"] == {{"layer0": 10, "layer1": 6}}
    assert "SYNTHETIC" in summarize(t)

    back = Trace.load(t.save(Path({str(tmp_path)!r}) / "egru.npz"))
    assert back.meta == t.meta and set(back.matrices) == set(t.matrices)
    for k, m in t.matrices.items():
        assert (back.matrices[k] != m).nnz == 0
    """, tmp_path)


def test_egru_partition_and_csr_footprint(tmp_path: Path) -> None:
    run_without_torch("""
    from models.csr import csr_footprint_bytes, gate_rows
    from workloads.egru_partition import (
        layers_from_trace, partition, variable_bytes, weight_bytes,
    )
    from workloads.egru_trace import synthetic_egru_trace

    assert csr_footprint_bytes(10, 4) == 4 * (2 * 10 + 4 + 1)
    assert csr_footprint_bytes(10, 4, 2, 2, 4) == 10 * 4 + 5 * 4
    assert gate_rows([0, 2], 5).tolist() == [0, 2, 5, 7, 10, 12]

    t = synthetic_egru_trace((24, 40, 40, 24), weight_sparsity=0.9, steps=2, seed=3)
    layers = layers_from_trace(t)
    assert [lay.hidden for lay in layers] == [40, 40, 24]
    for strategy in ("equal", "balanced"):
        p = partition(layers, 7, strategy)
        assert p.n_cores == 7 and sum(p.cores_per_layer) == 7
        assert sum(c.w_nnz + c.r_nnz for c in p.cores) == sum(lay.nnz for lay in layers)
        for c in p.cores:
            assert weight_bytes(c, layers) > 0 and weight_bytes(c, layers, "row") > 0
            assert variable_bytes(c) == len(c.neurons) * 16 * 4
    """, tmp_path)


def test_commands_without_a_network_run_without_torch(tmp_path: Path) -> None:
    """--help, calibrate --report, rwkv-token on a synthetic trace and egru-sweep on a saved
    trace never import torch."""
    run_without_torch(f"""
    import contextlib, io
    from simulator.cli import main
    from workloads.egru_trace import synthetic_egru_trace

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main(["--help"])
    with contextlib.redirect_stdout(out):
        assert main(["calibrate", "--report"]) == 0
        assert main(["rwkv-token", "--model", "169M", "--tokens", "1", "--json"]) == 0
    trace = {str(tmp_path / "e.npz")!r}
    synthetic_egru_trace((12, 16, 16), 0.5, activity=0.3, steps=2, seed=1).save(trace)
    with contextlib.redirect_stdout(out):
        assert main(["egru-sweep", "--trace", trace, "--pes", "3", "--workers", "0",
                     "--json"]) == 0
    """, tmp_path)


def test_the_sparsify_default_is_the_published_factor() -> None:
    from models.sparsify import PUBLISHED_LOSS_INC
    from simulator.commands.sparsify_rwkv import PUBLISHED_LOSS_INC as shown

    assert shown == PUBLISHED_LOSS_INC


def test_help_imports_only_what_it_shows(tmp_path: Path) -> None:
    """``nmsim --help`` imports no command (nor numpy, matplotlib); a command imports only its
    own module; every first word has a summary."""
    run_without_torch("""
    import contextlib, io
    from simulator.cli import COMMAND_MODULES, SUMMARIES, main

    assert set(SUMMARIES) == {w.split()[0] for w in COMMAND_MODULES.values()}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["--help"]) == 0
    heavy = [m for m in sys.modules if m.split(".")[0] in ("numpy", "matplotlib", "simpy")
             or m.startswith("simulator.commands.")]
    assert not heavy, heavy
    assert all(word in out.getvalue() for word in SUMMARIES)
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main(["validate", "--help"])
    loaded = {m for m in sys.modules if m.startswith("simulator.commands.")}
    assert loaded == {"simulator.commands.validate"}, loaded
    """, tmp_path)


def test_nmsim_api_without_torch(tmp_path: Path) -> None:
    """``import nmsim`` and a synthetic rwkv-token and EGRU point through it need no torch."""
    run_without_torch(f"""
    import nmsim

    assert "torch" not in sys.modules
    result = nmsim.rwkv_token(nmsim.workload("rwkv", model="169M", tokens=1))
    assert result.table()[0]["energy_j"] > 0
    result.save({str(tmp_path / "r")!r})
    assert nmsim.load({str(tmp_path / "r")!r}) == result
    sweep = nmsim.egru_sweep(nmsim.workload("egru", steps=2), pes=[60])
    assert sweep.rows[0].pes == 60
    """, tmp_path)
