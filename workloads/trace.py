"""Versioned, validated event-stream trace: what a network's activations did, step by step.

A trace is columnar so that the simulator can replay millions of events without Python objects
per event. For every *site* (the input of a linear layer, or an EGRU layer's output) it holds
the indices and values of the non-zero activations of every step (token or timestep) in CSR
layout: ``ptr[t]:ptr[t+1]`` slices ``indices``/``values`` for step ``t``. Static weight
structure (shapes, density, optionally the CSR matrices themselves) travels with it, so a
trace alone is enough to simulate.

One ``.npz`` file per trace; ``meta`` is a JSON string validated with pydantic. Loading checks
the format name, the version, every array's presence, dtype and consistency, and says which
part is wrong.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simulator.errors import UserError

if TYPE_CHECKING:
    import scipy.sparse as sp

FORMAT_NAME = "nmsim-trace"
FORMAT_VERSION = 1


class TraceError(UserError, ValueError):
    """A trace file or object is malformed; the message names the file and the problem."""


class SiteSpec(BaseModel):
    """One activation vector that feeds a weight matrix (or is a layer's event output)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="unique site name, e.g. 'blocks.0.att.key'")
    group: str = Field(description="sub-block or layer this site belongs to, e.g. 'time_mix'")
    size: int = Field(gt=0, description="length of the activation vector (input features)")
    out_features: int = Field(ge=0, description="rows of the matrix it multiplies (0: none)")
    weight_density: float = Field(
        gt=0.0, le=1.0, description="fraction of non-zero weights in that matrix"
    )
    matrix: str | None = Field(
        default=None, description="key of the CSR matrix in Trace.matrices, if stored"
    )


class TraceMeta(BaseModel):
    """Provenance: what produced the trace, and whether it is synthetic."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["nmsim-trace"] = FORMAT_NAME
    version: int = FORMAT_VERSION
    kind: Literal["rwkv", "egru", "opt"]
    synthetic: bool
    profile: str | None = Field(
        default=None, description="sparsity/activity profile name (required when synthetic)"
    )
    model: str = Field(description="model description, e.g. 'RWKV-4 3B' or a checkpoint path")
    n_steps: int = Field(ge=0)
    sites: list[SiteSpec]
    extra: dict = Field(default_factory=dict, description="free-form provenance details")


@dataclass
class SiteEvents:
    """Non-zero activations of one site over all steps, CSR-style by step."""

    ptr: np.ndarray  # int64, n_steps + 1
    indices: np.ndarray  # int32
    values: np.ndarray  # float32

    def step(self, t: int) -> tuple[np.ndarray, np.ndarray]:
        a, b = self.ptr[t], self.ptr[t + 1]
        return self.indices[a:b], self.values[a:b]

    def counts(self) -> np.ndarray:
        """Number of events per step."""
        return np.diff(self.ptr)

    @classmethod
    def from_steps(cls, steps: list[tuple[np.ndarray, np.ndarray]]) -> SiteEvents:
        """Build from a list of (indices, values) pairs, one per step."""
        counts = [len(i) for i, _ in steps]
        ptr = np.zeros(len(steps) + 1, dtype=np.int64)
        np.cumsum(counts, out=ptr[1:])
        idx = [np.asarray(i, dtype=np.int32) for i, _ in steps]
        val = [np.asarray(v, dtype=np.float32) for _, v in steps]
        return cls(
            ptr=ptr,
            indices=np.concatenate(idx) if idx else np.zeros(0, np.int32),
            values=np.concatenate(val) if val else np.zeros(0, np.float32),
        )

    @classmethod
    def from_dense(cls, x: np.ndarray) -> SiteEvents:
        """Build from a dense (n_steps, size) array: non-zeros become events."""
        x = np.asarray(x)
        return cls.from_steps([(np.flatnonzero(row), row[row != 0]) for row in x])


@dataclass
class Trace:
    """An event-stream trace: metadata, per-site events, optional CSR weight matrices."""

    meta: TraceMeta
    events: dict[str, SiteEvents]
    matrices: dict[str, sp.csr_array] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    @property
    def sites(self) -> list[SiteSpec]:
        return self.meta.sites

    def site(self, name: str) -> SiteSpec:
        for s in self.meta.sites:
            if s.name == name:
                return s
        raise KeyError(f"trace has no site {name!r}")

    @property
    def label(self) -> str:
        """Human-readable provenance, printed on every report made from this trace."""
        if self.meta.synthetic:
            return f"SYNTHETIC trace of {self.meta.model} (profile: {self.meta.profile})"
        return f"real trace of {self.meta.model}"

    # -- validation ---------------------------------------------------------------------------
    def validate(self, source: str = "trace") -> None:
        m = self.meta
        if m.synthetic and not m.profile:
            raise TraceError(f"{source}: synthetic trace must name its profile")
        names = [s.name for s in m.sites]
        if len(set(names)) != len(names):
            raise TraceError(f"{source}: duplicate site names")
        if set(names) != set(self.events):
            missing = sorted(set(names) - set(self.events))
            extra = sorted(set(self.events) - set(names))
            raise TraceError(f"{source}: events missing for sites {missing}, unknown {extra}")
        for s in m.sites:
            ev = self.events[s.name]
            where = f"{source}: site {s.name!r}"
            for what, arr, kinds in (("ptr", ev.ptr, "iu"), ("indices", ev.indices, "iu"),
                                     ("values", ev.values, "biuf")):
                if np.ndim(arr) != 1 or np.asarray(arr).dtype.kind not in kinds:
                    raise TraceError(f"{where}: {what} must be a 1-d array of "
                                     f"{'integers' if kinds == 'iu' else 'real numbers'}, "
                                     f"got {np.ndim(arr)}-d {np.asarray(arr).dtype}")
            if len(ev.ptr) != m.n_steps + 1:
                raise TraceError(f"{where}: ptr has length {len(ev.ptr)}, expected {m.n_steps + 1}")
            if len(ev.ptr) and (ev.ptr[0] != 0 or np.any(np.diff(ev.ptr) < 0)):
                raise TraceError(f"{where}: ptr must start at 0 and never decrease")
            if ev.ptr[-1] != len(ev.indices) or len(ev.indices) != len(ev.values):
                raise TraceError(
                    f"{where}: ptr ends at {ev.ptr[-1]} but there are {len(ev.indices)} "
                    f"indices and {len(ev.values)} values"
                )
            if len(ev.indices) and (ev.indices.min() < 0 or ev.indices.max() >= s.size):
                raise TraceError(f"{where}: event index out of range [0, {s.size})")
            bad = np.flatnonzero(~np.isfinite(ev.values))
            if len(bad):
                step = int(np.searchsorted(ev.ptr, bad[0], side="right")) - 1
                raise TraceError(f"{where}: event value {ev.values[bad[0]]} at step {step} "
                                 f"({len(bad)} non-finite values in all); every event value "
                                 "must be finite")
            if s.matrix is not None:
                if s.matrix not in self.matrices:
                    raise TraceError(f"{where}: matrix {s.matrix!r} not in trace")
                shape = self.matrices[s.matrix].shape
                if shape != (s.out_features, s.size):
                    raise TraceError(
                        f"{where}: matrix {s.matrix!r} has shape {shape}, "
                        f"expected {(s.out_features, s.size)}"
                    )

    # -- file I/O -----------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        path = Path(path)
        arrays: dict[str, np.ndarray] = {"meta": np.array(self.meta.model_dump_json())}
        for name, ev in self.events.items():
            arrays[f"events/{name}/ptr"] = ev.ptr.astype(np.int64)
            arrays[f"events/{name}/indices"] = ev.indices.astype(np.int32)
            arrays[f"events/{name}/values"] = ev.values.astype(np.float32)
        for name, m in self.matrices.items():
            import scipy.sparse as sp  # only traces with weight matrices need scipy

            m = sp.csr_array(m)
            arrays[f"matrices/{name}/data"] = m.data.astype(np.float32)
            arrays[f"matrices/{name}/indices"] = m.indices.astype(np.int32)
            arrays[f"matrices/{name}/indptr"] = m.indptr.astype(np.int64)
            arrays[f"matrices/{name}/shape"] = np.array(m.shape, dtype=np.int64)
        from simulator.outputs import write_atomic

        return write_atomic(path, lambda f: np.savez_compressed(f, **arrays))

    @classmethod
    def load(cls, path: str | Path) -> Trace:
        path = Path(path)
        src = str(path)
        if not path.exists():
            raise TraceError(f"{src}: no such trace file")
        if path.is_dir():
            raise TraceError(f"{src}: is a directory, not a trace file (.npz)")
        if not zipfile.is_zipfile(path):
            raise TraceError(f"{src}: not a readable trace file (corrupted or truncated): not an "
                             ".npz archive (no zip directory)")
        try:
            z = np.load(path, allow_pickle=False)
            if not hasattr(z, "files"):
                raise ValueError("a single array, not an .npz archive")
            with z:
                arrays = {k: z[k] for k in z.files}
        except Exception as e:  # only the file's bytes can fail here: a damaged file
            # (BadZipFile, zlib.error, EOFError, a header numpy cannot parse: TokenError, ...)
            raise TraceError(
                f"{src}: not a readable trace file (corrupted or truncated): {str(e)[:160]}"
            ) from None
        if "meta" not in arrays:
            raise TraceError(f"{src}: no 'meta' entry; not an nmsim trace")
        try:
            raw = json.loads(str(arrays["meta"]))
        except json.JSONDecodeError as e:
            raise TraceError(f"{src}: meta is not valid JSON: {e}") from None
        if not isinstance(raw, dict):
            raise TraceError(f"{src}: meta is {type(raw).__name__}, expected a JSON object")
        if raw.get("format") != FORMAT_NAME:
            raise TraceError(f"{src}: format is {raw.get('format')!r}, expected {FORMAT_NAME!r}")
        if raw.get("version") != FORMAT_VERSION:
            raise TraceError(
                f"{src}: trace version {raw.get('version')!r} is not supported "
                f"(this nmsim reads version {FORMAT_VERSION})"
            )
        try:
            meta = TraceMeta.model_validate(raw)
        except ValidationError as e:
            problems = "; ".join(f"field '{'.'.join(map(str, err['loc']))}': {err['msg']}"
                                 for err in e.errors())
            raise TraceError(f"{src}: invalid meta: {problems}") from None

        def need(key: str) -> np.ndarray:
            if key not in arrays:
                raise TraceError(f"{src}: missing array {key!r}")
            return arrays[key]

        events = {
            s.name: SiteEvents(
                ptr=need(f"events/{s.name}/ptr"),
                indices=need(f"events/{s.name}/indices"),
                values=need(f"events/{s.name}/values"),
            )
            for s in meta.sites
        }
        matrix_names = sorted(
            {k.split("/")[1] for k in arrays if k.startswith("matrices/")}
        )
        matrices = {}
        if matrix_names:
            import scipy.sparse as sp  # only traces with weight matrices need scipy
        for name in matrix_names:
            try:
                shape = tuple(int(v) for v in need(f"matrices/{name}/shape"))
                matrices[name] = sp.csr_array(
                    (
                        need(f"matrices/{name}/data"),
                        need(f"matrices/{name}/indices"),
                        need(f"matrices/{name}/indptr"),
                    ),
                    shape=shape,
                )
            except (ValueError, TypeError) as e:
                raise TraceError(f"{src}: matrix {name!r} is not valid CSR: {e}") from None
            if not np.all(np.isfinite(matrices[name].data)):
                raise TraceError(f"{src}: matrix {name!r} has NaN or infinite weights; "
                                 "every weight must be finite")
        trace = cls.__new__(cls)
        trace.meta, trace.events, trace.matrices = meta, events, matrices
        trace.validate(src)
        return trace
