"""Event-stream traces of EGRU language models: real PyTorch inference, or synthetic at size.

Layout (read by :func:`workloads.egru_partition.layers_from_trace` and the ``egru-sweep`` job),
for layers ``l = 0 .. L-1`` with input size ``I_l`` and ``H_l`` units:

- site ``layer{l}.W``: the input ``x_t`` of layer ``l``: for layer 0 the embedding of token
  ``t`` (dense: all its non-zeros), for ``l > 0`` the events ``y_t`` of layer ``l-1``;
  ``size = I_l``, ``out_features = 3 H_l``, CSR matrix ``W`` under key ``layer{l}.W``;
- site ``layer{l}.R``: the events ``y_{t-1}`` of layer ``l`` (what R multiplies); none at
  step 0, since a sequence starts from rest; ``size = H_l``, ``out_features = 3 H_l``, CSR
  matrix ``R`` under key ``layer{l}.R``;
- site ``layer{L-1}.y``: the last layer's events ``y_t``, which feed the decoder (tied
  embedding, not part of the simulated network: ``out_features = 0``, no matrix). With it,
  every layer's output is in the trace at every step;
- ``meta.extra["layers"]``: ``[{"input_size": I_l, "hidden": H_l}, ...]``.

Hence ``layer{l}.R`` at ``t + 1`` equals ``layer{l+1}.W`` at ``t``: both are ``y_t`` of
layer ``l``. Real traces run the model token by token, as a chip does, carrying ``y`` and ``h``
from step to step (one continuous sequence from rest; ``carry="y_only"`` with ``call_steps``
restarts ``h`` every ``call_steps`` tokens instead, as the EvNN reference does between calls);
synthetic traces draw pruned random weights and events with exact counts (see
:func:`synthetic_egru_trace`).

Only real inference needs torch: :func:`egru_trace_from_model` and :func:`real_egru_trace`
import it (and ``models.egru``) when they run, so the layout, synthetic traces and summaries
work without it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from tqdm import tqdm

from models.csr import to_csr
from models.egru_config import EGRUConfig
from models.shipped import EGRU_TINY_METRICS, artifact_path
from models.text import load_corpus, split_corpus
from workloads.opcounts import ProductRule, SiteOps, product_rule, trace_ops
from workloads.trace import SiteEvents, SiteSpec, Trace, TraceMeta

if TYPE_CHECKING:
    import scipy.sparse as sp
    from torch import Tensor

    from models.egru import EGRULM, StateCarry

#: (embedding, layer sizes...) of the SpiNNaker2 language model (Nazeer et al., AICAS 2024).
PAPER_SIZES: tuple[int, ...] = (750, 1350, 1350, 750)
#: Weight sparsity of every W and R matrix in that model (95% per weight matrix).
PAPER_SPARSITY = 0.95
#: Default activity profile of synthetic traces (see :func:`resolve_activity`).
DEFAULT_PROFILE = "tiny-measured"
#: Activity profiles by name. Nothing published gives the per-layer activity of the SpiNNaker2
#: LM, so the default is a *measurement*: the shipped tiny model's held-out activity per layer
#: (``models/artifacts/egru_tiny_metrics.json``, ``eval.activity``), read when used, applied
#: layer by layer to the paper-size network (same depth, three layers). It is an assumption
#: that the paper-size model is as active as the tiny one; give your own numbers otherwise.
PROFILES: tuple[str, ...] = (DEFAULT_PROFILE,)
#: Range of synthetic event values: above the EvNN default mean threshold 0.3 and below 1
#: (|c| < 1 always, as c mixes h and tanh). The cost model reads positions, not values.
EVENT_VALUE_RANGE = (0.3, 1.0)
#: Range of synthetic embedding values: the reference init range of the embedding table.
EMBEDDING_VALUE_RANGE = (-0.1, 0.1)


# -- layout -------------------------------------------------------------------------------------
def output_site(layer: int, n_layers: int) -> str:
    """The site that holds ``y_t`` of ``layer`` at step ``t``."""
    return f"layer{layer + 1}.W" if layer + 1 < n_layers else f"layer{layer}.y"


def egru_site_specs(shapes: Sequence[tuple[int, int]],
                    matrices: Mapping[str, sp.csr_array]) -> list[SiteSpec]:
    """Sites of an EGRU network with layers ``(input_size, hidden)`` and its CSR matrices."""
    specs = []
    for i, (n_in, h) in enumerate(shapes):
        for part, size in (("W", n_in), ("R", h)):
            name = f"layer{i}.{part}"
            m = matrices[name]
            if m.shape != (3 * h, size):
                raise ValueError(f"{name}: matrix shape {m.shape}, expected {(3 * h, size)}")
            if m.nnz == 0:
                raise ValueError(f"{name}: matrix has no non-zero weight")
            specs.append(SiteSpec(name=name, group=f"layer{i}", size=size, out_features=3 * h,
                                  weight_density=m.nnz / (m.shape[0] * m.shape[1]), matrix=name))
    last = len(shapes) - 1
    specs.append(SiteSpec(name=f"layer{last}.y", group="decoder", size=shapes[-1][1],
                          out_features=0, weight_density=1.0))
    return specs


def trace_shapes(trace: Trace) -> list[tuple[int, int]]:
    """(input_size, hidden) of every layer of an EGRU trace."""
    return [(int(d["input_size"]), int(d["hidden"])) for d in trace.meta.extra["layers"]]


def layer_activity(trace: Trace) -> dict[str, np.ndarray]:
    """Fraction of non-zero ``y_t`` per step of every layer (from its output site)."""
    shapes = trace_shapes(trace)
    return {f"layer{i}": trace.events[output_site(i, len(shapes))].counts() / h
            for i, (_, h) in enumerate(shapes)}


def measured_activity(trace: Trace) -> dict[str, float]:
    """Mean activity per layer over the trace's steps (usable as a synthetic profile)."""
    return {k: float(v.mean()) for k, v in layer_activity(trace).items()}


# -- real inference -----------------------------------------------------------------------------
def _nonzero(x: Tensor) -> tuple[np.ndarray, np.ndarray]:
    flat = x.reshape(-1)
    idx = flat.nonzero().flatten()
    return idx.numpy().astype(np.int32), flat[idx].numpy().astype(np.float32)


def egru_trace_from_model(
    model: EGRULM,
    tokens: Sequence[int] | Tensor,
    *,
    description: str = "EGRU LM",
    extra: Mapping | None = None,
    progress: bool = False,
    carry: StateCarry = "y_and_h",
    call_steps: int | None = None,
) -> Trace:
    """Trace real inference of ``model`` on ``tokens``, one token at a time from a zero state
    (as the chip runs it): per step and layer, the non-zero entries of ``x_t`` and ``y_{t-1}``
    that W and R multiply, and the CSR structure and values of every W and R. The model runs
    in eval mode and is put back in its former mode afterwards.

    The tokens are read as calls of ``call_steps`` tokens (None: one call); each step carries
    ``y`` and ``h`` to the next, and a new call takes over what ``carry`` says
    (:data:`models.egru.StateCarry`). So the default is one continuous sequence, and
    ``carry="y_only", call_steps=70`` is the reference's convention in calls of 70 tokens."""
    import torch  # a model to run: torch is loaded already

    from models.egru import carried, check_carry

    check_carry(carry)
    if call_steps is not None and call_steps < 1:
        raise ValueError("call_steps must be >= 1")
    was_training = model.training
    model.eval()
    tokens = [int(t) for t in (tokens.tolist() if isinstance(tokens, torch.Tensor) else tokens)]
    if not tokens:
        raise ValueError("need at least one token")
    vocab = model.cfg.vocab_size
    if any(not 0 <= t < vocab for t in tokens):
        raise ValueError(f"token ids must lie in [0, {vocab})")
    shapes = model.cfg.layer_shapes()
    matrices = {k: to_csr(v) for k, v in model.weight_matrices().items()}
    specs = egru_site_specs(shapes, matrices)
    steps: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {s.name: [] for s in specs}
    n_layers = len(model.layers)
    state = [layer.initial_state(1) for layer in model.layers]
    with torch.no_grad():
        for t, tok in enumerate(tqdm(tokens, desc="trace", unit="step", disable=not progress)):
            if call_steps and t and t % call_steps == 0:  # a new call
                state = [carried(s, carry) for s in state]
            x = model.embedding(torch.tensor([[tok]]))  # (1, 1, E)
            steps["layer0.W"].append(_nonzero(x))
            for i, layer in enumerate(model.layers):
                steps[f"layer{i}.R"].append(_nonzero(state[i].y))  # y_{t-1}: what R multiplies
                x, _, state[i] = layer(x, state[i])
                steps[output_site(i, n_layers)].append(_nonzero(x))
    model.train(was_training)
    nnz = sum(m.nnz for m in matrices.values())
    weights = sum(m.shape[0] * m.shape[1] for m in matrices.values())
    meta = TraceMeta(
        kind="egru",
        synthetic=False,
        model=description,
        n_steps=len(tokens),
        sites=specs,
        extra={
            "layers": [{"input_size": i, "hidden": h} for i, h in shapes],
            "embedding_dim": model.cfg.embedding_dim,
            "vocab_size": vocab,
            "weight_sparsity": 1.0 - nnz / weights,
            "nnz": nnz,
            "token_ids": tokens,
            "initial_state": "zero (sequence starts from rest: no R events at step 0)",
            "state_carry": carry,
            "call_steps": call_steps,
            **dict(extra or {}),
        },
    )
    events = {n: SiteEvents.from_steps(s) for n, s in steps.items()}
    return Trace(meta=meta, events=events, matrices=matrices)


def real_egru_trace(
    checkpoint: str | Path | None = None,
    n_steps: int = 8,
    *,
    text: str | None = None,
    progress: bool = False,
    carry: StateCarry = "y_and_h",
    call_steps: int | None = None,
) -> Trace:
    """Real trace of a character-level EGRU LM reading ``text`` (default: the held-out last
    10% of the shipped corpus, from its start). ``checkpoint``: None for the shipped tiny
    model, or a path written by :func:`models.egru.save_egru` that carries its vocabulary.
    ``carry``, ``call_steps``: see :func:`egru_trace_from_model`."""
    from models.egru import encode_chars, load_egru, load_tiny_egru  # torch: a model runs

    if n_steps < 1:
        raise ValueError("n_steps must be >= 1")
    if checkpoint is None:
        model, vocab, _ = load_tiny_egru()
        name = "shipped tiny (models/artifacts/egru_tiny.pt)"
        desc = "EGRU tiny LM (shipped)"
    else:
        model, vocab, _ = load_egru(checkpoint)
        name = str(checkpoint)
        desc = f"EGRU LM {Path(checkpoint).name}"
        if not vocab:
            raise ValueError(f"{checkpoint}: checkpoint has no vocabulary; trace it with "
                             "egru_trace_from_model and your own token ids")
    cfg = model.cfg
    sizes = "/".join(map(str, cfg.layers))
    desc += f" (E{cfg.embedding_dim}, {sizes})"
    source = "given text"
    if text is None:
        text = split_corpus(load_corpus())[1]
        source = "held-out last 10% of the shipped corpus (models.text.split_corpus)"
    if len(text) < n_steps:
        raise ValueError(f"need {n_steps} characters of text, got {len(text)}")
    try:
        tokens = encode_chars(text[:n_steps], vocab)
    except ValueError as e:
        raise ValueError(f"input text ({source}): {e} of the model ({desc})") from None
    return egru_trace_from_model(model, tokens, description=desc, progress=progress,
                                 extra={"checkpoint": name, "text": source},
                                 carry=carry, call_steps=call_steps)


# -- synthetic ----------------------------------------------------------------------------------
def _tiny_measured() -> list[float]:
    doc = json.loads(artifact_path(EGRU_TINY_METRICS).read_text("utf-8"))
    act = doc["eval"]["activity"]
    return [float(act[f"layer{i}"]) for i in range(len(act))]


def load_activity_file(path: str | Path) -> list[float]:
    """Per-layer activity from JSON: ``{"activity": {"layer0": a0, ...}}`` (also under
    ``"eval"``, as the tiny model's metrics file has it)."""
    try:
        doc = json.loads(Path(path).read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: not a readable activity file: {e}") from None
    act = None
    if isinstance(doc, Mapping):
        act = doc.get("activity") or (doc.get("eval") or {}).get("activity")
    if not isinstance(act, Mapping) or not act:
        raise ValueError(f"{path}: no 'activity' mapping (layer0, layer1, ...) found")
    try:
        return [float(act[f"layer{i}"]) for i in range(len(act))]
    except KeyError as e:
        raise ValueError(f"{path}: field 'activity' needs layer0 .. layer{len(act) - 1}; "
                         f"{e.args[0]} is missing") from None
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: field 'activity': not a number: {e}") from None


def resolve_activity(
    activity: str | float | Sequence[float], n_layers: int
) -> tuple[str, list[float]]:
    """(profile name, activity per layer). ``activity``: a profile name (:data:`PROFILES`), a
    JSON file (:func:`load_activity_file`), one fraction for every layer, or one per layer."""
    if isinstance(activity, str):
        if activity == DEFAULT_PROFILE:
            name = ("tiny-measured: held-out activity per layer of the shipped tiny EGRU "
                    "(egru_tiny_metrics.json), assumed for this network")
            values = _tiny_measured()
        elif Path(activity).is_file():
            name, values = f"from {activity}", load_activity_file(activity)
        else:
            raise ValueError(f"unknown activity profile {activity!r}: use one of {PROFILES}, a "
                             "JSON file, or fractions")
    elif isinstance(activity, int | float):
        name, values = f"uniform {float(activity):g} (assumption)", [float(activity)] * n_layers
    else:
        values = [float(a) for a in activity]
        name = f"per layer {values} (assumption)"
    if len(values) != n_layers:
        raise ValueError(f"activity profile has {len(values)} layers, the network {n_layers}")
    if any(not 0.0 <= a <= 1.0 for a in values):
        raise ValueError(f"activities must lie in [0, 1]: {values}")
    return name, values


def _nnz_per_matrix(shapes: Mapping[str, tuple[int, int]], sparsity: float, scope: str
                    ) -> tuple[dict[str, int], dict[str, float]]:
    """Exact non-zero count of each matrix, and the magnitude each pruning keeps beyond (in
    units of the matrix's Xavier-normal std). ``per_matrix``: ``round((1 - s) * n)`` in
    every matrix. ``global``: one magnitude threshold ``tau`` over all Xavier-normal matrices
    (what global magnitude pruning does to a fresh network, for large matrices), with
    ``sum_m n_m * P(|w_m| > tau) = round((1 - s) * N)``; counts rounded by largest remainder."""
    from scipy.optimize import brentq  # scipy only when a synthetic trace is drawn
    from scipy.special import ndtr, ndtri

    sizes = {k: r * c for k, (r, c) in shapes.items()}
    if scope == "per_matrix":
        nnz = {k: round((1.0 - sparsity) * n) for k, n in sizes.items()}
        return nnz, {k: float(-ndtri((nnz[k] / n) / 2)) for k, n in sizes.items()}
    if scope != "global":
        raise ValueError(f"scope must be 'per_matrix' or 'global', not {scope!r}")
    std = {k: float(np.sqrt(2.0 / (r + c))) for k, (r, c) in shapes.items()}
    total = round((1.0 - sparsity) * sum(sizes.values()))

    def kept(tau: float) -> float:
        return sum(n * 2.0 * ndtr(-tau / std[k]) for k, n in sizes.items()) - total

    tau = brentq(kept, 0.0, 50.0 * max(std.values()))
    ideal = {k: n * 2.0 * ndtr(-tau / std[k]) for k, n in sizes.items()}
    nnz = {k: int(np.floor(v)) for k, v in ideal.items()}
    for k in sorted(ideal, key=lambda k: nnz[k] - ideal[k])[: total - sum(nnz.values())]:
        nnz[k] += 1
    return nnz, {k: tau / std[k] for k in sizes}


def _random_csr(rng: np.random.Generator, shape: tuple[int, int], nnz: int, cut: float,
                std: float) -> sp.csr_array:
    """``nnz`` weights at uniformly random positions; values are what magnitude pruning keeps
    of N(0, std^2): magnitude from the tail beyond ``cut * std``, random sign."""
    import scipy.sparse as sp
    from scipy.special import ndtr, ndtri

    n = shape[0] * shape[1]
    pos = np.sort(rng.choice(n, size=nnz, replace=False))
    tail = 2.0 * ndtr(-cut)
    mag = -ndtri((1.0 - rng.random(nnz)) * tail / 2.0) * std
    val = (mag * rng.choice(np.array([-1.0, 1.0]), size=nnz)).astype(np.float32)
    val[val == 0] = np.float32(std)  # never an explicit zero
    return sp.csr_array((val, (pos // shape[1], pos % shape[1])), shape=shape)


def _random_events(rng: np.random.Generator, size: int, k: int, n_steps: int,
                   low: float, high: float) -> SiteEvents:
    """Exactly ``k`` events per step at uniformly random positions, values in (low, high)."""
    if k == size:
        idx = np.broadcast_to(np.arange(size, dtype=np.int32), (n_steps, k))
    else:
        idx = np.sort(np.argpartition(rng.random((n_steps, size)), k, axis=1)[:, :k], axis=1)
    val = rng.uniform(low, high, size=(n_steps, k)).astype(np.float32)
    val[val == 0] = np.float32(high)
    return SiteEvents(ptr=np.arange(n_steps + 1, dtype=np.int64) * k,
                      indices=np.ascontiguousarray(idx, dtype=np.int32).reshape(-1),
                      values=val.reshape(-1))


def _shift(ev: SiteEvents) -> SiteEvents:
    """The events of steps 0..T-2 as steps 1..T-1, with none at step 0 (y_{t-1} from y_t)."""
    ptr = np.concatenate([[0], ev.ptr[:-1]]).astype(np.int64)
    end = int(ev.ptr[-2])
    return SiteEvents(ptr=ptr, indices=ev.indices[:end].copy(), values=ev.values[:end].copy())


def synthetic_egru_trace(
    sizes: Sequence[int] | EGRUConfig = PAPER_SIZES,
    weight_sparsity: float = PAPER_SPARSITY,
    activity: str | float | Sequence[float] = DEFAULT_PROFILE,
    steps: int = 8,
    seed: int = 0,
    *,
    scope: str = "per_matrix",
    profile_name: str | None = None,
) -> Trace:
    """A synthetic trace of an EGRU network of ``sizes = (embedding, H_0, H_1, ...)`` (default:
    the SpiNNaker2 LM) pruned to ``weight_sparsity``, over ``steps`` timesteps.

    - Weights: every W and R has *exactly* ``round((1 - s) * n)`` non-zeros (``scope=
      "per_matrix"``, as the paper prunes each matrix) or the counts of one global magnitude
      threshold over Xavier-normal matrices (``"global"``, exact in total), at uniformly
      random positions, with the values magnitude pruning keeps of a Xavier-normal matrix.
    - Events: layer ``l`` emits exactly ``round(a_l * H_l)`` events at every step, at
      uniformly random positions (``activity``: see :func:`resolve_activity`); R sites carry
      them one step later (none at step 0). Values uniform in :data:`EVENT_VALUE_RANGE`.
    - Layer 0's input is the dense embedding (``embedding`` values per step, uniform in
      :data:`EMBEDDING_VALUE_RANGE`).

    Marked synthetic, with the activity profile named in ``meta.profile``."""
    if isinstance(sizes, EGRUConfig):
        sizes = (sizes.embedding_dim, *sizes.layers)
    sizes = tuple(int(s) for s in sizes)
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"sizes must be (embedding, H_0, ...) with positive entries: {sizes}")
    if not 0.0 <= weight_sparsity < 1.0:
        raise ValueError("weight_sparsity must lie in [0, 1)")
    if steps < 1:
        raise ValueError("steps must be >= 1")
    shapes = list(zip(sizes[:-1], sizes[1:], strict=True))
    n_layers = len(shapes)
    pname, act = resolve_activity(activity, n_layers)
    pname = profile_name or pname
    rng = np.random.default_rng(seed)
    mshapes = {f"layer{i}.{p}": (3 * h, n) for i, (n_in, h) in enumerate(shapes)
               for p, n in (("W", n_in), ("R", h))}
    nnz, cut = _nnz_per_matrix(mshapes, weight_sparsity, scope)
    matrices = {k: _random_csr(rng, s, nnz[k], cut[k], float(np.sqrt(2.0 / (s[0] + s[1]))))
                for k, s in mshapes.items()}
    specs = egru_site_specs(shapes, matrices)
    counts = [round(a * h) for a, (_, h) in zip(act, shapes, strict=True)]
    lo, hi = EMBEDDING_VALUE_RANGE
    emb = rng.uniform(lo, hi, size=(steps, sizes[0])).astype(np.float32)
    emb[emb == 0] = np.float32(hi)
    events = {"layer0.W": SiteEvents(ptr=np.arange(steps + 1, dtype=np.int64) * sizes[0],
                                     indices=np.tile(np.arange(sizes[0], dtype=np.int32), steps),
                                     values=emb.reshape(-1))}
    for i, ((_, h), k) in enumerate(zip(shapes, counts, strict=True)):
        y = _random_events(rng, h, k, steps, *EVENT_VALUE_RANGE)
        events[output_site(i, n_layers)] = y
        events[f"layer{i}.R"] = _shift(y)
    total_nnz = sum(nnz.values())
    total = sum(r * c for r, c in mshapes.values())
    paper = sizes == PAPER_SIZES
    model = (f"EGRU LM{', SpiNNaker2 paper size' if paper else ''} "
             f"(E{sizes[0]}, {'/'.join(map(str, sizes[1:]))}), "
             f"{weight_sparsity:.0%} pruned {scope.replace('_', ' ')}")
    meta = TraceMeta(
        kind="egru",
        synthetic=True,
        profile=pname,
        model=model,
        n_steps=steps,
        sites=specs,
        extra={
            "layers": [{"input_size": i, "hidden": h} for i, h in shapes],
            "embedding_dim": sizes[0],
            "weight_sparsity": 1.0 - total_nnz / total,
            "target_weight_sparsity": weight_sparsity,
            "pruning_scope": scope,
            "nnz": total_nnz,
            "activity_profile": {f"layer{i}": a for i, a in enumerate(act)},
            "events_per_step": {f"layer{i}": k for i, k in enumerate(counts)},
            "count_rule": "exact: round(a_l * H_l) events per step and layer; "
                          "round((1 - s) * n) weights per matrix (per_matrix scope)",
            "seed": seed,
            "initial_state": "zero (sequence starts from rest: no R events at step 0)",
        },
    )
    return Trace(meta=meta, events=events, matrices=matrices)


# -- summary ------------------------------------------------------------------------------------
def egru_ops(trace: Trace) -> tuple[list[SiteOps], ProductRule]:
    """NeuroBench-style MAC counts per step of every matrix site, and the product rule over
    all of them (:func:`workloads.opcounts.product_rule`)."""
    ops = trace_ops(trace)
    return ops, product_rule(ops)


def summarize(trace: Trace) -> str:
    """Provenance, activity per layer, events and MACs per step per site, the product rule
    (what ``nmsim trace egru`` prints)."""
    shapes = trace_shapes(trace)
    ops, rule = egru_ops(trace)
    sizes = "/".join(str(h) for _, h in shapes)
    lines = [trace.label,
             f"{trace.meta.n_steps} steps, {len(trace.sites)} sites, {len(shapes)} layers "
             f"(input {shapes[0][0]}, units {sizes}), weight sparsity "
             f"{100 * trace.meta.extra['weight_sparsity']:.2f}%"]
    for name, a in layer_activity(trace).items():
        lines.append(f"  {name} activity (non-zero y per step): mean {a.mean():.4f}, "
                     f"min {a.min():.4f}, max {a.max():.4f}")
    head = (f"{'site':10s}{'size':>7s}{'rows':>7s}{'density':>9s}{'events/step':>13s}"
            f"{'dense MACs':>13s}{'weight-sparse':>15s}{'activity-sparse':>17s}"
            f"{'effective':>12s}{'a x d':>9s}{'measured':>10s}")
    lines.append(head)
    for o in ops:
        s = trace.site(o.site)
        one = product_rule([o])
        ev = trace.events[o.site].counts().mean()
        lines.append(f"{o.site:10s}{s.size:7d}{s.out_features:7d}"
                     f"{1 - o.connection_sparsity:9.4f}{ev:13.1f}{o.dense_macs:13,.0f}"
                     f"{o.weight_sparse_macs:15,.0f}{o.activity_sparse_macs:17,.0f}"
                     f"{o.effective_macs:12,.0f}{one.predicted:9.4f}{one.measured:10.4f}")
    tot = {k: sum(getattr(o, k) for o in ops) for k in
           ("dense_macs", "weight_sparse_macs", "activity_sparse_macs", "effective_macs")}
    lines.append(f"{'total':10s}{'':23s}{'':13s}{tot['dense_macs']:13,.0f}"
                 f"{tot['weight_sparse_macs']:15,.0f}{tot['activity_sparse_macs']:17,.0f}"
                 f"{tot['effective_macs']:12,.0f}{rule.predicted:9.4f}{rule.measured:10.4f}")
    lines.append(
        f"product rule: work left {rule.measured:.5f} of dense (effective / dense MACs); "
        f"activity x weight density predicts {rule.predicted:.5f}: deviation "
        f"{100 * rule.deviation:+.2f}% (MAC-weighted activity {rule.activity:.4f}, "
        f"weight density {rule.weight_density:.4f})")
    return "\n".join(lines)
