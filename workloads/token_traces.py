"""What the per-token jobs (``rwkv-token``, ``opt-token``) take from traces of either model: a
dense and a sparse trace from files, the dense baseline of a trace that has none, and which
block or layer of a trace to simulate."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workloads.trace import SiteEvents, Trace, TraceError, TraceMeta


def load_pair(trace: str | Path, dense_trace: str | Path | None, kind: str,
              needs: str) -> tuple[Trace, Trace]:
    """``(dense, sparse)`` from a sparse trace file and, optionally, its dense counterpart
    (default: every input non-zero); both of ``kind`` (``needs`` says so in the error)."""
    sparse = Trace.load(trace)
    dense = Trace.load(dense_trace) if dense_trace else every_input_nonzero(sparse)
    for arg, path, t in (("--trace", trace, sparse), ("--dense-trace", dense_trace, dense)):
        if t.meta.kind != kind:
            raise TraceError(f"{arg} {path}: a {t.meta.kind} trace; {needs}")
    return dense, sparse


def every_input_nonzero(trace: Trace) -> Trace:
    """The dense baseline of a trace that has none: every input of every site non-zero."""
    events = {}
    for s in trace.sites:
        idx = np.tile(np.arange(s.size, dtype=np.int32), trace.meta.n_steps)
        events[s.name] = SiteEvents(
            ptr=np.arange(trace.meta.n_steps + 1, dtype=np.int64) * s.size, indices=idx,
            values=np.ones(idx.size, np.float32))
    meta = TraceMeta(**{**trace.meta.model_dump(), "model": f"{trace.meta.model}, every input "
                        "non-zero (dense baseline)"})
    return Trace(meta=meta, events=events, matrices=trace.matrices)


def unit_of(trace: Trace, kind: str, model: str, unit: str, which: int | None) -> int:
    """The block (RWKV) or layer (OPT) ``which`` of a ``kind`` trace (default: its first);
    its sites are named ``<units>.<i>.<site>``, ``meta.extra[<unit>s]`` lists those recorded."""
    if trace.meta.kind != kind:
        raise TraceError(f"expected an {model} trace, got kind {trace.meta.kind!r}")
    units = trace.meta.extra.get(f"{unit}s") or sorted(
        {int(s.name.split(".")[1]) for s in trace.sites})
    which = units[0] if which is None else which
    if which not in units:
        raise TraceError(f"the trace holds {unit}s {units}, not {unit} {which}")
    return which
