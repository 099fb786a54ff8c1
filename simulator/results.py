"""Typed results of the jobs: the one schema that jobs write, plots read and tests check.

Each result is a pydantic model; ``python docs/make_schemas.py`` publishes their JSON Schemas
in ``docs/schemas/``. Energies are joules, times seconds, cycles chip-clock cycles, all per
token (RWKV) or per timestep (EGRU).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from simulator.ledger import Category
from simulator.result_views import (
    ContextSweepViews,
    DvsGestureViews,
    EgruSweepViews,
    OptTokenViews,
    RwkvTokenViews,
)

CATEGORIES: tuple[str, ...] = tuple(c.value for c in Category)
SUB_BLOCKS: tuple[str, ...] = ("time_mix", "channel_mix")
SUMMARY_KEYS: tuple[str, ...] = (*SUB_BLOCKS, "block")
MODES: tuple[str, ...] = ("dense", "sparse")


@cache
def nmsim_version() -> str:
    """The installed nmsim's version (recorded in every result)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("nmsim")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ChipProvenance(_Model):
    """Enough to rebuild the chip exactly: its model, file, content hash, overrides, options,
    and which numbers are cited or assumed."""

    chip: str
    chip_file: str
    chip_sha256: str
    chip_overrides: list[str] = Field(default_factory=list)
    chip_options: dict[str, Any] = Field(default_factory=dict)
    cost_sources: list[str] = Field(default_factory=list)
    assumed_parameters: list[str] = Field(default_factory=list)
    clock_hz: int


# -- rwkv-token ---------------------------------------------------------------------------------
class Figure(_Model):
    energy_j: float
    latency_s: float
    cycles: float


class Ratio(_Model):
    """Dense over sparse (``None`` where the sparse run costs nothing)."""

    energy: float | None
    latency: float | None


class BreakdownRow(_Model):
    """One ledger line per token, its core folded into the core's role."""

    mode: str
    sub_block: str
    site: str
    component: str
    operation: str
    category: str
    count: float
    energy_j: float
    cycles: float


class SiteTiles(_Model):
    cores: int
    in_splits: int
    out_splits: int
    weight_bytes: int


class BlockMappingSummary(_Model):
    strategy: str
    cores: int
    control_cores: int
    sites: dict[str, SiteTiles]


class RwkvProvenance(ChipProvenance):
    trace_kind: str
    model: str
    profile: str | None = None
    dense_trace: str
    sparse_trace: str
    tokens: int
    block: int
    seed: int | None = None
    job: dict[str, Any]
    nmsim_version: str | None = None  # None: written before nmsim recorded its version


Summary = dict[str, dict[str, Figure]]


class CriticalPath(_Model):
    """The chain of dependent events that sets a sub-block's latency, per token (averaged):
    its time by category and by component (roles of the mapping, ``noc`` for transit), and
    how many handler invocations (steps) it passes through."""

    latency_s: float
    cycles: float
    steps: float
    by_category: dict[str, float]  # seconds per token
    by_component: dict[str, float]  # seconds per token


class ChainSegment(_Model):
    """One stretch of a critical path (the first token of the sparse run), for the plot."""

    sub_block: str
    component: str  # role of the core, or "noc"
    kind: str  # busy, wait, network, idle
    label: str
    start_s: float  # from the sub-block's start
    end_s: float
    categories: dict[str, float]  # seconds per category, summing to end_s - start_s
    step: int | None = None  # the handler invocation it belongs to (None: network, idle)


class _TokenResult(_Model):
    """Per run (dense, sparse), per sub-block and ``block``, per category and ``total``:
    energy, latency and cycles per token; ratios; breakdown rows; the critical path of each
    sub-block (the subclass's views name the sub-blocks)."""

    SUB_BLOCKS: ClassVar[tuple[str, ...]] = ()

    dense: Summary
    sparse: Summary
    ratios: dict[str, Ratio]
    breakdown: list[BreakdownRow]
    mapping: BlockMappingSummary
    provenance: ChipProvenance
    critical_path: dict[str, dict[str, CriticalPath]]  # mode -> sub-block
    critical_chain: list[ChainSegment]

    @model_validator(mode="after")
    def _complete(self) -> _TokenResult:
        for mode in MODES:
            summary = getattr(self, mode)
            for sub in (*self.SUB_BLOCKS, "block"):
                if sub not in summary:
                    raise ValueError(f"{mode}: sub-block {sub!r} is missing")
                missing = [c for c in (*CATEGORIES, "total") if c not in summary[sub]]
                if missing:
                    raise ValueError(f"{mode}.{sub}: categories {missing} are missing")
        return self


class RwkvTokenResult(RwkvTokenViews, _TokenResult):
    """``nmsim rwkv-token``: per run (dense, sparse), per sub-block and ``block``, per
    category and ``total``: energy, latency and cycles per token; ratios; breakdown rows;
    the critical path of each sub-block."""

    mapping: BlockMappingSummary
    provenance: RwkvProvenance


# -- opt-token ----------------------------------------------------------------------------------
class AttentionSummary(_Model):
    """The attention cores: how many, per head, and where the KV cache stays."""

    cores: int
    per_head: int
    context: int
    streamed: bool  # from off-chip memory every token
    kv_cache_bytes: int  # of the whole layer at the chip's value width


class OptMappingSummary(BlockMappingSummary):
    attention: AttentionSummary


class OptProvenance(ChipProvenance):
    trace_kind: str
    model: str
    profile: str | None = None
    dense_trace: str
    sparse_trace: str
    tokens: int
    layer: int
    context: int
    seed: int | None = None
    job: dict[str, Any]
    nmsim_version: str


class OptTokenResult(OptTokenViews, _TokenResult):
    """``nmsim opt-token``: one token through one OPT decoder layer at context ``L``; per run
    (dense, sparse), per sub-block (attention, mlp) and ``block``, per category and
    ``total``: energy, latency and cycles per token; ratios; breakdown rows; the critical
    path of each sub-block."""

    mapping: OptMappingSummary
    provenance: OptProvenance


# -- context-sweep ------------------------------------------------------------------------------
class ContextRow(_Model):
    """One point of ``nmsim context-sweep``: one token through the OPT layer at ``context``,
    or through the RWKV block (``context`` None: it does not depend on L), per token."""

    key: str
    model: str  # opt | rwkv
    workload: str
    mode: str
    context: int | None
    energy_j: float
    latency_s: float
    computation_j: float
    memory_j: float
    communication_j: float
    control_j: float
    static_j: float
    cores: int
    kv_cache_bytes: int
    kv_streamed: bool
    attention_cores: int
    chip: str
    chip_sha256: str
    trace: str
    nmsim_version: str


class ContextSweepResult(ContextSweepViews, _Model):
    """``nmsim context-sweep``: its points (``table()`` repeats the RWKV ones at every L)."""

    rows: list[ContextRow]
    failed: dict[str, str] = Field(default_factory=dict)


# -- egru-sweep ---------------------------------------------------------------------------------
class SweepRow(_Model):
    """One point of ``nmsim egru-sweep``: its inputs, memory fit, latency and energy per
    timestep, per-core stage profile (cycles per step) and NoC traffic."""

    model_config = ConfigDict(extra="forbid")

    key: str
    pes: int
    strategy: str
    layer_split: str
    model: str
    trace: str | None
    steps: int
    seed: int
    chip: str
    chip_file: str
    chip_sha256: str
    chip_overrides: list[str]
    chip_options: dict[str, Any]
    clock_hz: int
    trace_label: str
    pes_per_layer: str
    fits: bool
    max_pe_bytes: int
    max_pe: str
    overflow_bytes: int
    overflow_pe: str
    overflowing_pes: int
    capacity_bytes: int
    program_bytes: int
    max_weight_bytes: int
    max_variable_bytes: int
    max_weight_bytes_row_major: int
    chips: int
    latency_cycles: float
    latency_s: float
    first_step_cycles: float
    energy_j: float
    dynamic_energy_j: float
    static_energy_j: float
    computation_energy_j: float = 0.0
    memory_energy_j: float = 0.0
    communication_energy_j: float = 0.0
    control_energy_j: float = 0.0
    imbalance: float
    noc_packets: float
    noc_bits: float
    board_bits: float
    max_link_utilisation: float
    stages: dict[str, list[float]]
    wall_s: float
    nmsim_version: str | None = Field(default_factory=nmsim_version)  # None: older row


class EgruSweepResult(EgruSweepViews, _Model):
    """The points of one ``nmsim.egru_sweep`` call (as requested, in sweep order) and the
    points that failed (key -> error); saved as ``egru-sweep --out`` writes a sweep."""

    rows: list[SweepRow]
    failed: dict[str, str] = Field(default_factory=dict)


def load_result(path: str | Path, data: Any) -> Any:
    """The typed result of a file's JSON ``data``, told by the file's name: ``result.json``
    (rwkv-token or opt-token), ``sweep.json`` (egru-sweep or context-sweep), ``dvs.json``
    (dvs-gesture: a list, one result per core count), ``rwkv.json``, ``egru.json`` or
    ``opt.json`` (validate)."""
    name = Path(path).name
    if name == "sweep.json" and data and isinstance(data[0], dict) and "context" in data[0]:
        return ContextSweepResult(rows=data)
    if name == "opt.json":
        from simulator.validation.knunyants2025_opt import OptProfileValidation

        return OptProfileValidation.model_validate(data)
    if name == "result.json" and "context" in (data.get("provenance") or {}):
        return OptTokenResult.model_validate(data)
    if name == "dvs.json":
        return [DvsGestureResult.model_validate(r) for r in data]
    if name == "sweep.json":
        return EgruSweepResult(rows=[{"nmsim_version": None, **r} for r in data])
    if name == "rwkv.json":
        from simulator.validation.knunyants2025 import RwkvValidation

        return RwkvValidation.model_validate(data)
    if name == "egru.json":
        from simulator.validation.nazeer2024 import NazeerValidation

        return NazeerValidation.model_validate(data)
    return RwkvTokenResult.model_validate(data)


# -- dvs-gesture --------------------------------------------------------------------------------
class DvsFigures(_Model):
    """Latency, energy and power of one frame or one sample."""

    latency_s: float
    energy_j: float
    dynamic_energy_j: float
    power_w: float


class DvsBreakdownRow(_Model):
    """One ledger line of a DVS run per sample: the EGRU layer and stage it belongs to
    (``layer`` -1 and ``stage`` "" for what no layer owns, e.g. static power)."""

    layer: int
    stage: str
    component: str
    operation: str
    category: str
    count: float
    energy_j: float
    cycles: float


class DvsGestureResult(DvsGestureViews, _Model):
    """One point of ``nmsim dvs-gesture``: the DVS-gesture EGRU network on ``pes`` cores,
    ``batch`` samples of ``frames`` frames, per frame and per sample, and its memory fit."""

    trace_label: str
    model: str
    chip: dict
    pes: int
    pes_per_layer: list[int]
    strategy: str
    frames: int
    batch: int
    activity: float | None  # the synthetic network's assumed activity (None: a real model's)
    seed: int
    weight_format: str
    fits: bool
    max_pe_bytes: int
    capacity_bytes: int
    fewest_pes_that_fit: int | None
    per_frame: DvsFigures
    per_sample: DvsFigures
    real_time_frame_s: float  # a frame's length in the sensor's time (25 ms)
    breakdown: list[DvsBreakdownRow] = Field(default_factory=list)  # per sample, sums to it
    nmsim_version: str | None = None


SCHEMAS: dict[str, type[BaseModel]] = {
    "rwkv-token-result": RwkvTokenResult,
    "egru-sweep-row": SweepRow,
    "egru-sweep-result": EgruSweepResult,
    "dvs-gesture-result": DvsGestureResult,
    "opt-token-result": OptTokenResult,
    "context-sweep-result": ContextSweepResult,
}
