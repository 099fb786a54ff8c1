"""The dense and sparse OPT traces a token simulation compares, from what the user names.

- nothing or a size (``2.7B``, ``1.3B``, ``125M``): a synthetic OPT layer with the published
  OPT-2.7B profiles (Knunyants et al. 2025, §V): ``published-2.7b-base`` (no thresholds; the
  down-projection input is 96 % zero through the ReLU) against a sparsified one (default
  ``published-2.7b-1.0005``), labelled synthetic;
- ``tiny``: real inference of the shipped tiny OPT on held-out text, without and with its
  shipped thresholds;
- trace files: a sparse trace and, optionally, its dense counterpart; without one the dense run
  takes every input as non-zero.

Only real inference needs torch: it is imported when a model runs, not with this module.
"""

from __future__ import annotations

from pathlib import Path

from workloads.opt_sites import PUBLISHED_PROFILES
from workloads.opt_synthetic import OPT_SIZES, synthetic_opt_trace
from workloads.token_traces import load_pair
from workloads.trace import Trace

DEFAULT_SIZE = "2.7B"
DEFAULT_PROFILE = "published-2.7b-1.0005"
DENSE_PROFILE = "published-2.7b-base"
#: tokens simulated by default: synthetic tokens are alike, real ones vary more
DEFAULT_TOKENS = {"synthetic": 1, "real": 8}
#: the layer of the tiny OPT simulated by default: its last (in layer 0 the search accepts no
#: QKV threshold, so that layer shows little of what sparsity does)
DEFAULT_REAL_LAYER = 1
#: sparsified profiles one may name (the base profile is the dense run)
SPARSE_PROFILES = tuple(p for p in PUBLISHED_PROFILES if p != DENSE_PROFILE)


def load_traces(model: str | None = None, trace: str | Path | None = None,
                dense_trace: str | Path | None = None, profile: str | None = None,
                tokens: int | None = None, context: int = 1, seed: int = 0,
                layer: int | None = None) -> tuple[Trace, Trace]:
    """``(dense, sparse)`` traces; see the module docstring. ``context`` is where a real
    model's recorded tokens start (its prompt runs first)."""
    if trace is not None:
        if model is not None or profile is not None:
            raise ValueError("give --model/--profile or --trace, not both")
        return load_pair(trace, dense_trace, "opt", "opt-token needs an OPT trace")
    if dense_trace is not None:
        raise ValueError("--dense-trace goes with --trace")
    model = model or DEFAULT_SIZE
    if model in OPT_SIZES:
        if layer not in (None, 0):
            raise ValueError("a synthetic trace has one layer (the profile averages all "
                             "layers): --layer 0")
        profile = profile or DEFAULT_PROFILE
        if profile not in SPARSE_PROFILES:
            raise ValueError(f"--profile {profile!r}: one of {', '.join(SPARSE_PROFILES)}")
        n = tokens or DEFAULT_TOKENS["synthetic"]
        return (synthetic_opt_trace(model, DENSE_PROFILE, n_tokens=n, seed=seed),
                synthetic_opt_trace(model, profile, n_tokens=n, seed=seed))
    if profile is not None:
        raise ValueError("--profile goes with a synthetic --model size "
                         f"({', '.join(OPT_SIZES)})")
    if model != "tiny":
        raise ValueError(f"--model {model!r}: not 'tiny' or a size ({', '.join(OPT_SIZES)})")
    return _tiny_traces(tokens or DEFAULT_TOKENS["real"], context,
                        DEFAULT_REAL_LAYER if layer is None else layer)


def _tiny_traces(n_tokens: int, context: int, layer: int) -> tuple[Trace, Trace]:
    """``(dense, sparse)`` traces of layer ``layer`` of the shipped tiny OPT on held-out
    text, decoded after a prompt of ``context`` tokens, or as many as its positions allow
    (the trace records the prompt it had; the chip's cache length is the job's ``context``)."""
    import json

    from models.shipped import OPT_TINY_META, OPT_TINY_THRESHOLDS, artifact_path
    from workloads.opt_trace import opt_trace_from_model  # torch: a model runs

    positions = json.loads(artifact_path(OPT_TINY_META).read_text())["config"]["max_positions"]
    if n_tokens >= positions:
        raise ValueError(f"--tokens {n_tokens}: the tiny OPT has {positions} positions")
    common = dict(n_tokens=n_tokens, context=min(context, positions - n_tokens), layers=[layer])
    return (opt_trace_from_model(None, **common),
            opt_trace_from_model(None, thresholds=artifact_path(OPT_TINY_THRESHOLDS), **common))
