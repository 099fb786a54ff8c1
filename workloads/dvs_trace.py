"""Synthetic traces of the DVS-gesture EGRU network of Nazeer et al. 2024 (§III-D), batched.

The network (``../shared/reference/workloads.md``; Nazeer et al., "Language Modeling on a
SpiNNaker2 Neuromorphic Chip", AICAS 2024): a CNN feature head, not run on the chip (its 512
features per frame are precomputed and kept in LPDDR4), two EGRU layers of 256 units with
dense weights held in SRAM, on 128 PEs, and a linear readout to the 11 gestures. Frames are
25 ms bins of DVS128 events max-pooled to 32 x 32.

No DVS data is at hand here, so the traces are SYNTHETIC (``meta.synthetic``; every report
prints it): the EGRU trace layout of ``workloads.egru_trace`` at sizes (512, 256, 256), dense
random weights, layer 0's input all 512 features of every frame (streamed by DMA, as the LM's
embedding), and each EGRU layer firing ``activity`` of its units per frame, a stated
assumption (:data:`DEFAULT_ACTIVITY`; nothing published gives it; a parameter).

Batches: ``batch`` samples of ``frames`` frames run one after another on the same PEs with the
weights left in place (the paper ran batch 1 and 6); each sample starts from rest, so the
first frame of every sample has no recurrent input (``meta.extra["sample_steps"]``, read by
the EGRU program). The readout (11 x 256 MACs per frame, 0.3 % of the EGRU layers' 786,432
dense MACs) is not simulated.
"""

from __future__ import annotations

import numpy as np

from models.dvs_config import (  # noqa: F401  (re-exported: the trace's shape and defaults)
    DEFAULT_ACTIVITY,
    DEFAULT_FRAMES,
    DVS_CLASSES,
    DVS_PAPER_PES,
    DVS_SIZES,
    FRAME_S,
)
from workloads.egru_trace import synthetic_egru_trace
from workloads.trace import SiteEvents, Trace, TraceError


def synthetic_dvs_trace(frames: int = DEFAULT_FRAMES, batch: int = 1,
                        activity: float = DEFAULT_ACTIVITY, seed: int = 0) -> Trace:
    """``batch`` samples of ``frames`` frames through the DVS network (module docstring)."""
    if frames < 1:
        raise TraceError(f"frames must be >= 1, got {frames}")
    if batch < 1:
        raise TraceError(f"batch must be >= 1, got {batch}")
    if not 0.0 < activity <= 1.0:
        raise TraceError(f"activity must lie in (0, 1], got {activity}")
    steps = frames * batch
    base = synthetic_egru_trace(DVS_SIZES, 0.0, activity, steps=steps, seed=seed,
                                profile_name=f"activity {activity:g} (assumed)")
    events = dict(base.events)
    for name in [s.name for s in base.sites if s.name.endswith(".R")]:
        ev = events[name]
        events[name] = SiteEvents.from_steps([
            (np.zeros(0, np.int32), np.zeros(0, np.float32)) if t % frames == 0 else ev.step(t)
            for t in range(steps)])
    extra = {**base.meta.extra, "sample_steps": frames, "batch": batch, "frames": frames,
             "weight_format": "dense", "classes": DVS_CLASSES, "frame_s": FRAME_S,
             "initial_state": "zero at the first frame of every sample (no R events there)",
             "readout": "11 x 256 linear readout, not simulated"}
    meta = base.meta.model_copy(update={
        "model": f"EGRU DVS-gesture (features {DVS_SIZES[0]}, {DVS_SIZES[1]}/{DVS_SIZES[2]}), "
                 f"dense weights, batch {batch} x {frames} frames",
        "extra": extra})
    return Trace(meta=meta, events=events, matrices=base.matrices)


def real_dvs_trace(frames: int = DEFAULT_FRAMES, batch: int = 1, seed: int = 1000) -> Trace:
    """``batch`` held-out synthetic gestures (``models.dvs.gesture_set``, seed ``seed``, never
    seen in training) through the shipped tiny DVS network (``models/artifacts/dvs_tiny.pt``):
    its real CNN features and EGRU events, its weights (dense). Needs torch."""
    import torch

    from models.csr import to_csr
    from models.dvs import load_dvs
    from models.shipped import DVS_TINY_CHECKPOINT, artifact_path
    from workloads.egru_trace import egru_site_specs, output_site
    from workloads.trace import TraceMeta

    if frames < 1 or batch < 1:
        raise TraceError(f"frames and batch must be >= 1, got {frames} and {batch}")
    model, metrics = load_dvs(artifact_path(DVS_TINY_CHECKPOINT))
    x, labels = _gesture_set(batch, frames, seed)
    with torch.no_grad():
        _, feats, ys = model(x)
    shapes = [(c.input_size, c.hidden) for c in model.layers]
    n = len(shapes)
    matrices = {f"layer{i}.{p}": to_csr(getattr(c, p).detach().numpy())
                for i, c in enumerate(model.layers) for p in ("W", "R")}

    def steps_of(t: torch.Tensor) -> list[tuple[np.ndarray, np.ndarray]]:
        flat = t.reshape(batch * frames, -1).numpy()  # sample after sample, frame by frame
        return [(np.flatnonzero(v).astype(np.int32), v[v != 0].astype(np.float32)) for v in flat]

    events = {"layer0.W": SiteEvents.from_steps(steps_of(feats))}
    empty = (np.zeros(0, np.int32), np.zeros(0, np.float32))
    for i, y in enumerate(ys):
        per = steps_of(y)
        events[output_site(i, n)] = SiteEvents.from_steps(per)
        events[f"layer{i}.R"] = SiteEvents.from_steps(
            [empty if t % frames == 0 else per[t - 1] for t in range(batch * frames)])
    meta = TraceMeta(
        kind="egru", synthetic=False, profile=None,
        model=f"tiny DVS-gesture EGRU (features 512, {'/'.join(str(h) for _, h in shapes)}), "
              f"dense weights, batch {batch} x {frames} frames of synthetic gestures",
        n_steps=batch * frames, sites=egru_site_specs(shapes, matrices),
        extra={"layers": [{"input_size": i, "hidden": h} for i, h in shapes],
               "embedding_dim": 512, "sample_steps": frames, "batch": batch, "frames": frames,
               "weight_format": "dense", "classes": 11, "frame_s": FRAME_S,
               "labels": labels.tolist(), "gesture_seed": seed,
               "checkpoint": DVS_TINY_CHECKPOINT, "checkpoint_metrics": metrics.get("eval"),
               "initial_state": "zero at the first frame of every sample (no R events there)",
               "readout": "linear readout, not simulated"})
    return Trace(meta=meta, events=events, matrices=matrices)


def _gesture_set(n: int, frames: int, seed: int):
    from models.dvs import gesture_set

    return gesture_set(n, frames, seed)
