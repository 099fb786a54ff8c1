"""The functions behind ``import nmsim`` (see :mod:`simulator.api`, the package the name maps
to).

Each is a thin front over the modules the CLI uses (the chip registry, the workload loaders,
the jobs, the validations), so a result made here is the result ``nmsim ...`` makes from the
same inputs. Heavy modules are imported inside the functions.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from simulator.chips.registry import Chip
    from simulator.results import (
        ContextSweepResult,
        EgruSweepResult,
        OptTokenResult,
        RwkvTokenResult,
    )
    from workloads.trace import Trace

__all__ = ["EgruWorkload", "OptWorkload", "RwkvWorkload", "chip", "chips", "context_sweep",
           "dvs_gesture", "egru_sweep", "load", "opt_token", "rwkv_token", "validate",
           "workload"]


# -- chips --------------------------------------------------------------------------------------
def chips() -> list[str]:
    """The registered chip models (``seneca``, ``spinnaker2``, ``analytic``, ...)."""
    from simulator.chips import registry

    return registry.names()


def _override(key: str, value: Any) -> str:
    """``noc__clock=3e8`` or ``{"noc.clock": 3e8}`` as ``--set noc.clock=300000000.0``."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int | float):
        text = repr(value)
    else:
        text = str(value)
    return f"{key.replace('__', '.')}={text}"


def chip(name: str | Path = "seneca", sets: Sequence[str] = (), *,
         options: Mapping[str, Any] | None = None, **overrides: Any) -> Chip:
    """A validated chip: a registered name (``"seneca"``, ``"spinnaker2"``, ``"analytic"``) or
    a description file (your copy of ``calibration/<chip>.yaml``).

    Fields are changed as ``--set`` changes them: by keyword, a dot written ``__``
    (``noc__clock=300e6``), or with the dotted name unpacked (``**{"noc.clock": 300e6}``), or
    as ``sets=["noc.clock=300e6"]``; ``options`` are the ``--option`` settings
    (``{"precision": "int8"}``). Errors name the file and the field
    (:class:`simulator.chips.registry.ChipError`)."""
    from simulator.chips import registry

    items = [*sets, *(_override(k, v) for k, v in overrides.items())]
    made = registry.load_chip(name, items, dict(options or {}))
    made.cost()  # options only the cost model can check fail now, as on the command line
    return made


def _chip_args(c: Chip | str | Path | None, default: str) -> tuple[str, tuple[str, ...],
                                                                  tuple[tuple[str, Any], ...]]:
    """What a sweep point needs to rebuild ``c`` in a worker: name or file, sets, options."""
    from simulator.chips import registry

    if c is None or isinstance(c, str | Path):
        c = chip(c or default)
    shipped = registry._display(c.spec.default_file) if c.spec.default_file else None
    where = c.name if c.file == shipped else c.file
    options = tuple(sorted(c.options.model_dump(exclude_defaults=True, mode="json").items()))
    return where, tuple(c.overrides), options


# -- workloads ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class RwkvWorkload:
    """The dense and sparse RWKV-4 traces one rwkv-token run compares."""

    dense: Trace
    sparse: Trace
    seed: int | None = None  # the seed that drew a synthetic trace
    tokens: int | None = None
    block: int | None = None

    def __repr__(self) -> str:
        m = self.sparse.meta
        return (f"RwkvWorkload({self.sparse.label!r}, {m.n_steps} tokens"
                + (f", seed {self.seed}" if self.seed is not None else "") + ")")


@dataclass(frozen=True)
class EgruWorkload:
    """An EGRU trace as the sweep points name it (each worker loads it itself): a model
    (``"paper"`` synthetic, ``"tiny"``, or a checkpoint path) or a trace file."""

    model: str = "paper"
    trace: str | None = None
    steps: int = 8
    seed: int = 0
    _loaded: list = field(default_factory=list, repr=False, compare=False)

    def load(self) -> Trace:
        """The trace itself (as a sweep point loads it)."""
        if not self._loaded:
            from simulator.jobs.egru_sweep import load_trace

            self._loaded.append(load_trace(self.model, self.trace, self.steps, self.seed))
        return self._loaded[0]


@dataclass(frozen=True)
class OptWorkload:
    """The dense and sparse OPT traces one opt-token run compares."""

    dense: Trace
    sparse: Trace
    seed: int | None = None  # the seed that drew a synthetic trace
    tokens: int | None = None

    def __repr__(self) -> str:
        return f"OptWorkload({self.sparse.label!r}, {self.sparse.meta.n_steps} tokens)"


def workload(kind: str | Path = "rwkv", *, model: str | None = None,
             trace: str | Path | None = None, dense_trace: str | Path | None = None,
             tokens: int | None = None, block: int | None = None, steps: int | None = None,
             seed: int = 0, thresholds: str | Path | None = None, tokenizer: str | None = None,
             text_file: str | Path | None = None, profile: str | None = None
             ) -> RwkvWorkload | EgruWorkload | OptWorkload:
    """A workload: ``"rwkv"``, ``"egru"`` or ``"opt"``, or a saved trace file (``.npz`` from
    ``nmsim trace ...``; its kind is read from the file).

    OPT, as ``nmsim opt-token`` reads it: ``model=None`` (a synthetic 2.7B layer), a size
    (``"125M"``, ``"1.3B"``, ``"2.7B"``), ``"tiny"`` (the shipped tiny OPT; needs torch), or
    ``trace=`` files; ``profile`` the sparse run's published profile, ``tokens``, ``seed``.

    RWKV, as ``nmsim rwkv-token`` reads it: ``model=None`` (a synthetic 3B block),
    a size (``"169M"``, ``"430M"``, ``"1.5B"``, ``"3B"``: synthetic, the published profile),
    ``"tiny"`` (real inference of the shipped tiny model; needs torch), a ``.pth`` path with
    ``thresholds`` and ``tokenizer``; or ``trace=`` (and ``dense_trace=``) files. ``tokens``,
    ``block`` and ``seed`` as on the command line.

    EGRU, as ``nmsim egru-sweep`` reads it: ``model="paper"`` (synthetic, the paper's size),
    ``"tiny"``, a checkpoint path, or ``trace=`` a file; ``steps`` timesteps, ``seed``."""
    if str(kind) not in ("rwkv", "egru", "opt"):
        from workloads.trace import Trace

        if trace is not None:
            raise ValueError("give a trace file as the kind or as trace=, not both")
        trace, kind = kind, Trace.load(kind).meta.kind
        if kind not in ("rwkv", "egru", "opt"):
            raise ValueError(f"{trace}: a trace of kind {kind!r}; nmsim runs rwkv, egru and "
                             "opt")
    if kind == "opt":
        from workloads.opt_inputs import load_traces as load_opt

        if block or steps or thresholds or tokenizer or text_file:
            raise ValueError("an OPT workload takes model=, trace=, dense_trace=, profile=, "
                             "tokens= and seed=")
        dense, sparse = load_opt(model=model, trace=trace, dense_trace=dense_trace,
                                 profile=profile, tokens=tokens, seed=seed)
        return OptWorkload(dense, sparse, seed if sparse.meta.synthetic else None, tokens)
    if profile is not None:
        raise ValueError("profile= is for an OPT workload")
    if kind == "egru":
        from simulator.jobs.egru_sweep import DEFAULT_STEPS

        if dense_trace or tokens or block or thresholds or tokenizer or text_file:
            raise ValueError("an EGRU workload takes model=, trace=, steps= and seed=")
        return EgruWorkload(model=model or "paper", trace=None if trace is None else str(trace),
                            steps=steps or DEFAULT_STEPS,
                            seed=seed if trace is None and (model or "paper") == "paper" else 0)
    from workloads.rwkv_inputs import load_traces

    if steps is not None:
        raise ValueError("an RWKV workload counts tokens=, not steps=")
    dense, sparse = load_traces(model=model, trace=trace, dense_trace=dense_trace,
                                thresholds=thresholds, tokenizer=tokenizer, text_file=text_file,
                                tokens=tokens, block=block, seed=seed)
    # the seed that drew a synthetic trace (a saved one records its own)
    drawn = sparse.meta.extra.get("seed", seed) if sparse.meta.synthetic else None
    return RwkvWorkload(dense, sparse, drawn, tokens, block)


# -- jobs ---------------------------------------------------------------------------------------
def rwkv_token(work: RwkvWorkload | None = None, chip: Chip | str | Path | None = None, *,
               strategy: str = "dataflow", latency: str = "simulated",
               omit_stages: Iterable[str] = (), tokens: int | None = None,
               block: int | None = None, workers: int = 1, timeline: Any = None
               ) -> RwkvTokenResult:
    """One token through one RWKV-4 block, dense vs sparse (``nmsim rwkv-token``): a
    :class:`simulator.results.RwkvTokenResult`. ``work`` defaults to the synthetic 3B block,
    ``chip`` to SENECA (a name or file is loaded with :func:`chip`)."""
    from simulator.jobs.rwkv_token import rwkv_token as job
    from simulator.mappings.rwkv_block import BlockMapConfig

    work = work or workload("rwkv")
    if not isinstance(work, RwkvWorkload):
        raise TypeError(f"rwkv_token needs an RWKV workload, got {type(work).__name__}")
    if chip is None or isinstance(chip, str | Path):
        chip = globals()["chip"](chip or "seneca")
    return job(work.dense, work.sparse, chip, tokens=tokens or work.tokens,
               block=work.block if block is None else block,
               job=BlockMapConfig(strategy=strategy, latency=latency,
                                  omit_stages=tuple(omit_stages)),
               timeline=timeline, workers=workers, seed=work.seed)


def egru_sweep(work: EgruWorkload | None = None, chip: Chip | str | Path | None = None, *,
               pes: Iterable[int] | str = (60, 150), strategies: Iterable[str] | str = "equal",
               layer_split: str = "nnz", out: str | Path | None = None,
               scheduler: str | None = None, client: Any = None, workers: int | None = 0,
               progress: bool = False) -> EgruSweepResult:
    """EGRU layers over N cores for each N in ``pes`` (``nmsim egru-sweep``): a
    :class:`simulator.results.EgruSweepResult` of the requested points, in sweep order.

    ``chip`` defaults to SpiNNaker2. ``pes``: numbers or a ``--pes`` string (``"60:300:60"``).
    Points run in this process (``workers=0``, the default), in local processes
    (``workers=N``, ``None`` for the CPU count), on a ``distributed`` ``client``, or on a
    ``scheduler`` address (``"local"`` starts a LocalCluster for the call). With ``out``,
    every finished point is written there and points already there are not run again."""
    from simulator.jobs import egru_sweep as job
    from simulator.results import EgruSweepResult

    work = work or workload("egru")
    if not isinstance(work, EgruWorkload):
        raise TypeError(f"egru_sweep needs an EGRU workload, got {type(work).__name__}")
    if isinstance(pes, str):
        from simulator.commands.egru_sweep import parse_pes

        pes = parse_pes(pes)
    if isinstance(strategies, str):
        strategies = [s.strip() for s in strategies.split(",") if s.strip()]
    where, sets, options = _chip_args(chip, job.DEFAULT_CHIP)
    specs = job.points(list(pes), list(strategies), layer_split=layer_split, model=work.model,
                       trace=work.trace, steps=work.steps, seed=work.seed, chip=where,
                       chip_set=sets, options=options)
    if scheduler is not None and client is not None:
        raise ValueError("give scheduler= or client=, not both")
    if scheduler is not None:
        from simulator.dask_client import dask_client

        with dask_client(scheduler) as c:
            done = job.run_sweep(specs, out, client=c, workers=workers, progress=progress)
    else:
        done = job.run_sweep(specs, out, client=client, workers=workers, progress=progress)
    mine = {s.key() for s in specs}
    rows = [r for r in done.rows if r["key"] in mine]
    return EgruSweepResult(rows=rows, failed=done.failed)


def opt_token(work: OptWorkload | None = None, chip: Chip | str | Path | None = None, *,
              context: int = 1024, kv_placement: str = "auto", kv_cores_per_head: int = 4,
              kv_chunk_bytes: int = 4096, tokens: int | None = None, layer: int | None = None,
              workers: int = 1) -> OptTokenResult:
    """One token through one OPT decoder layer at ``context``, dense vs sparse (``nmsim
    opt-token``): a :class:`simulator.results.OptTokenResult`. ``work`` defaults to the
    synthetic 2.7B layer, ``chip`` to SENECA."""
    from simulator.jobs.opt_token import opt_token as job
    from simulator.mappings.opt_layer import OptMapConfig

    work = work or workload("opt")
    if not isinstance(work, OptWorkload):
        raise TypeError(f"opt_token needs an OPT workload, got {type(work).__name__}")
    if chip is None or isinstance(chip, str | Path):
        chip = globals()["chip"](chip or "seneca")
    return job(work.dense, work.sparse, chip, context=context, tokens=tokens or work.tokens,
               layer=layer, job=OptMapConfig(kv_placement=kv_placement,
                                             kv_cores_per_head=kv_cores_per_head,
                                             kv_chunk_bytes=kv_chunk_bytes),
               workers=workers, seed=work.seed)


def context_sweep(contexts: Sequence[int] | str = (1, 16, 64, 256, 512, 1024, 2048, 3072, 4096),
                  chip: Chip | str | Path | None = None, *, opt_model: str = "2.7B",
                  rwkv_model: str = "3B", profile: str = "published-2.7b-1.0005",
                  kv_placement: str = "auto", kv_cores_per_head: int = 4, seed: int = 0,
                  out: str | Path | None = None, workers: int | None = 0,
                  progress: bool = False) -> ContextSweepResult:
    """Energy and latency per token against context L, OPT layer vs RWKV block (``nmsim
    context-sweep``): a :class:`simulator.results.ContextSweepResult`; ``out`` keeps every
    finished point (rerun to resume)."""
    from simulator.jobs import context_sweep as job

    if isinstance(contexts, str):
        from simulator.argtypes import parse_contexts

        contexts = parse_contexts(contexts)
    where, sets, options = _chip_args(chip, "seneca")
    specs = job.points(list(contexts), chip=where, chip_set=sets, options=options,
                       kv_placement=kv_placement, kv_cores_per_head=kv_cores_per_head,
                       profile=profile, opt_size=opt_model, rwkv_size=rwkv_model, seed=seed)
    return job.context_sweep(specs, out, workers=workers, progress=progress)


def validate(target: str = "rwkv", *, tokens: int | None = None, steps: int | None = None,
             traces: tuple[Trace, Trace] | RwkvWorkload | None = None,
             grid: tuple[Sequence[float], Sequence[float]] | None = None,
             resimulate: bool = True, workers: int | None = 0, progress: bool = False) -> Any:
    """The simulator against a paper (``nmsim validate --only TARGET``): ``"rwkv"``
    (Knunyants et al. 2025: a ``RwkvValidation``; ``tokens`` of the synthetic 3B block, or
    ``traces`` such as a smaller block) or ``"egru"`` (Nazeer et al. 2024: a
    ``NazeerValidation``; ``steps`` per configuration, ``grid`` = (activities, cycles per
    weight), ``resimulate`` the solved points). ``print(result)`` shows the table."""
    if target == "rwkv":
        from simulator.validation import knunyants2025 as v

        if isinstance(traces, RwkvWorkload):
            traces = (traces.dense, traces.sparse)
        return v.validate_rwkv(tokens=tokens, traces=traces)
    if target == "egru":
        from simulator.validation import nazeer2024 as v

        kwargs: dict[str, Any] = {} if steps is None else {"steps": steps}
        if grid is not None:
            kwargs["grid"] = grid
        return v.validate_egru(progress=progress, workers=workers, resimulate=resimulate,
                               **kwargs)
    if target in ("dvs", "opt"):
        from simulator.validation import knunyants2025_opt, nazeer2024_dvs

        return (nazeer2024_dvs.validate_dvs() if target == "dvs"
                else knunyants2025_opt.validate_opt())
    raise ValueError(f"validate: unknown target {target!r}; choose 'rwkv', 'egru', 'dvs' or "
                     "'opt'")


def dvs_gesture(pes: int = 128, chip: Chip | str | Path | None = None, *, frames: int = 20,
                batch: int = 1, activity: float | None = None, model: str = "paper",
                strategy: str = "equal", seed: int = 0) -> Any:
    """The DVS-gesture EGRU network on ``pes`` cores, ``batch`` samples of ``frames`` frames
    (``nmsim dvs-gesture``): a ``DvsGestureResult`` (per frame and per sample, memory fit,
    the fewest cores that hold it). ``model``: ``"paper"`` (synthetic events, ``activity``)
    or ``"tiny"`` (the shipped tiny network's real events)."""
    from simulator.jobs.dvs_gesture import DEFAULT_CHIP
    from simulator.jobs.dvs_gesture import dvs_gesture as run

    if chip is None or isinstance(chip, str | Path):
        chip = globals()["chip"](chip or DEFAULT_CHIP)
    return run(pes, frames, batch, activity, chip, seed, strategy, model=model)


# -- results on disk ----------------------------------------------------------------------------
def load(path: str | Path) -> Any:
    """A result saved by ``result.save(dir)`` or written by the CLI's ``--out``: a folder
    (or the file itself) holding ``result.json`` (rwkv-token, opt-token), ``sweep.json``
    (egru-sweep, context-sweep), or ``rwkv.json`` / ``egru.json`` / ``opt.json`` (validate)."""
    from simulator.results import load_result

    path = Path(path)
    if path.is_dir():
        names = [n for n in ("result.json", "sweep.json", "dvs.json", "rwkv.json", "egru.json",
                             "opt.json") if (path / n).is_file()]
        if len(names) != 1:
            raise FileNotFoundError(
                f"{path}: expected one of result.json, sweep.json, dvs.json, rwkv.json, "
                "egru.json, opt.json"
                + (f"; found {', '.join(names)}: give the file" if names else ""))
        path = path / names[0]
    return load_result(path, json.loads(path.read_text()))
