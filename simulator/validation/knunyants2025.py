"""Validation against Knunyants et al. 2025, Tables III and IV: one token through one RWKV-4 3B
block on SENECA, dense and sparse.

The paper ("Explore Activation Sparsity in Recurrent LLMs for Energy-Efficient Neuromorphic
Computing", arXiv 2501.16337, AICAS 2025) is an analytical study: energy and latency linear in
the operation count, at measured SENECA costs per operation it does not list; layer norm left
out. Its cells carry no units; they read as µJ (Table III) and ms (Table IV).

Three things are computed, all through the one simulation path (``nmsim rwkv-token``'s job):

- **The paper's assumptions as a configuration** (:data:`PAPER`): the analytic chip of
  ``calibration/knunyants2025.yaml`` (fixed energy and time per operation, fitted to the
  tables: :func:`fit_constants`), layer norm omitted, latency as the serial sum of every
  operation's time. It must reproduce every cell within 3%.
- **Every published cell** against that configuration and against this simulator's default.
- **A gap decomposition** (:data:`STEPS`): from the paper's configuration to the default, one
  named modelling difference at a time, each a setting a user can change (``--chip``,
  ``--set``, ``--strategy``, ``--latency``, ``--omit-stage``). Each step is a full simulation,
  so the steps add up to the whole gap exactly.

Nothing here changes a default: the validation compares, it does not tune.
``validate_rwkv(tokens=..., progress=...) -> RwkvValidation``; :func:`format_table` prints it;
:func:`plot_waterfall` draws the decomposition.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from simulator.chips.registry import load_chip
from simulator.result_views import ValidationViews
from simulator.results import RwkvTokenResult
from workloads.trace import Trace

#: the paper's cells: (quantity, mode, sub-block, category) -> value (µJ for energy, ms for
#: latency); sub-block "block" is the paper's "overall"
PUBLISHED: dict[tuple[str, str, str, str], float] = {}
_TABLES = {
    # quantity: {sub: {mode: (total, computation, memory)}}
    "energy": {"time_mix": {"sparse": (12.4, 5.0, 7.4), "dense": (29.5, 11.9, 17.6)},
               "channel_mix": {"sparse": (23.2, 9.3, 13.9), "dense": (38.6, 15.5, 23.1)},
               "block": {"sparse": (35.6, 14.3, 21.3), "dense": (68.1, 27.4, 40.7)}},
    "latency": {"time_mix": {"sparse": (2.2, 0.9, 1.3), "dense": (5.2, 2.1, 3.1)},
                "channel_mix": {"sparse": (4.2, 1.7, 2.5), "dense": (6.9, 2.8, 4.1)},
                "block": {"sparse": (6.4, 2.6, 3.8), "dense": (12.1, 4.9, 7.2)}},
}
for _q, _subs in _TABLES.items():
    for _sub, _modes in _subs.items():
        for _mode, _cells in _modes.items():
            for _cat, _v in zip(("total", "computation", "memory"), _cells, strict=True):
                PUBLISHED[(_q, _mode, _sub, _cat)] = _v
SOURCE = {"energy": "Knunyants et al. 2025, Table III (units read as µJ)",
          "latency": "Knunyants et al. 2025, Table IV (units read as ms)"}
UNIT = {"energy": ("µJ", 1e6), "latency": ("ms", 1e3)}  # unit, factor from J / s
#: the largest error per cell the paper's configuration may show
TOLERANCE = 0.03

#: SENECA with nothing charged for events (RISC-V handler, event generation), the network,
#: or leakage: the paper counts only the operations of the block
_NO_EVENTS = ("riscv.event_instructions=0", "riscv.event_data_accesses=0",
              "riscv.event_taken_branches=0", "npe.event_generation=0",
              "npe.instructions.evc.total=0", "npe.instructions.evc.npe=0",
              "npe.instructions.evc.loop_buffer=0")
_NO_NOC = ("noc.hop_energy_per_bit=0",)
_NO_STATIC = ("sram.static_power_per_bit=0", "register_file.static_power_per_bit=0")
_PAPER_JOB = {"strategy": "rows", "omit_stages": ("layer_norm",), "latency": "serial"}


@dataclass(frozen=True)
class Configuration:
    """A named setting of the simulator: a chip (name or file), ``--set`` overrides and the
    job's choices (:class:`~simulator.mappings.rwkv_block.BlockMapConfig` fields)."""

    name: str
    chip: str
    sets: tuple[str, ...] = ()
    job: dict[str, Any] = field(default_factory=dict)

    def command(self) -> str:
        """The ``nmsim rwkv-token`` arguments of this configuration."""
        words = [f"--chip {self.chip}"] + [f"--set {s}" for s in self.sets]
        for key, value in self.job.items():
            flag = key.replace("_", "-")
            if isinstance(value, tuple):
                words += [f"--omit-stage {v}" for v in value]
            else:
                words.append(f"--{flag} {value}")
        return " ".join(words)

    def run(self, dense, sparse, tokens: int | None = None) -> RwkvTokenResult:
        from simulator.jobs.rwkv_token import JobConfig, rwkv_token

        return rwkv_token(dense, sparse, load_chip(self.chip, self.sets),
                          job=JobConfig(**self.job), tokens=tokens)


PAPER = Configuration("paper", "analytic", job=dict(_PAPER_JOB))


@dataclass(frozen=True)
class Step:
    """One modelling difference between the paper's configuration and the default."""

    name: str
    why: str
    config: Configuration


#: from the paper's configuration to the default, one difference at a time (cumulative)
STEPS: tuple[Step, ...] = (
    Step("per-instruction costs",
         "SENECA's cited per-instruction energies and cycles at BF16 (Tang et al. 2023, "
         "Table 8: weight load, MUL and ADD per MAC, element-wise ops composed of NPE "
         "instructions) instead of per-operation constants",
         Configuration("seneca-operations", "seneca", _NO_EVENTS + _NO_NOC + _NO_STATIC,
                       dict(_PAPER_JOB))),
    Step("layer norm", "the layer norms the paper leaves out",
         Configuration("seneca-layer-norm", "seneca", _NO_EVENTS + _NO_NOC + _NO_STATIC,
                       {"strategy": "rows", "latency": "serial"})),
    Step("per-event work", "the RISC-V handler of every received event (about ten "
         "instructions, one data access) and the event generator of every sent one",
         Configuration("seneca-events", "seneca", _NO_NOC + _NO_STATIC,
                       {"strategy": "rows", "latency": "serial"})),
    Step("NoC", "2 pJ per 32-bit event per hop (Tang et al. 2023, Table 8)",
         Configuration("seneca-noc", "seneca", _NO_STATIC,
                       {"strategy": "rows", "latency": "serial"})),
    Step("mapping and parallelism", "the dataflow mapping over the block's cores, its "
         "latency simulated (the cores work in parallel) instead of every operation's time "
         "added up",
         Configuration("seneca-dataflow", "seneca", _NO_STATIC, {})),
    Step("static power", "leakage of every core's memories and register files over the run",
         Configuration("default", "seneca", (), {})),
)

#: (quantity, mode, sub-block) of the waterfall's panels
PANELS = tuple((q, m) for q in ("energy", "latency") for m in ("sparse", "dense"))


# -- results ------------------------------------------------------------------------------------
class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Cell(_Model):
    """One published cell against the paper's configuration and the default."""

    quantity: str
    mode: str
    sub_block: str
    category: str
    unit: str
    published: float
    paper_config: float
    paper_config_error: float  # relative
    default: float
    default_over_published: float


class StepRow(_Model):
    """The simulated block after one more step, per quantity and mode (µJ, ms) and per
    sub-block."""

    step: str
    why: str
    command: str
    values: dict[str, dict[str, dict[str, float]]]  # quantity -> mode -> sub-block -> value


class RwkvValidation(ValidationViews, _Model):
    target: ClassVar[str] = "rwkv"
    tokens: int
    trace: str
    constants: dict[str, float]  # the shipped fitted constants
    refit: dict[str, float]  # the same fitted now
    cells: list[Cell]
    steps: list[StepRow]  # published, paper configuration, then every step of STEPS

    def max_paper_error(self) -> float:
        return max(abs(c.paper_config_error) for c in self.cells)


def _value(result: RwkvTokenResult, quantity: str, mode: str, sub: str, cat: str) -> float:
    fig = getattr(result, mode)[sub][cat]
    unit, factor = UNIT[quantity]
    return (fig.energy_j if quantity == "energy" else fig.latency_s) * factor


def _values(result: RwkvTokenResult | None) -> dict[str, dict[str, dict[str, float]]]:
    """Per quantity, mode and sub-block, the totals of ``result`` (None: the published ones)."""
    return {q: {m: {s: PUBLISHED[(q, m, s, "total")] if result is None
                    else _value(result, q, m, s, "total")
                    for s in ("time_mix", "channel_mix", "block")}
                for m in ("sparse", "dense")} for q in ("energy", "latency")}


# -- the fit of the paper's constants -----------------------------------------------------------
#: the four constants of calibration/knunyants2025.yaml: field -> (quantity, category)
CONSTANTS = {"computation_energy": ("energy", "computation"),
             "memory_energy": ("energy", "memory"),
             "computation_time": ("latency", "computation"),
             "memory_time": ("latency", "memory")}


#: the paper's configuration with every constant 1 (pJ, ns per operation): its cells then
#: count the operations this simulator charges (1e-6 µJ or ms per operation)
COUNTS = Configuration("operation-counts", "analytic",
                       tuple(f"operation.{k}=1" for k in CONSTANTS), dict(_PAPER_JOB))


def fit_constants(counts: RwkvTokenResult) -> dict[str, float]:
    """Least squares through the origin of each published part (computation and memory, of
    energy and of latency) against the operation counts (a :data:`COUNTS` run), over the
    Time-Mix and Channel-Mix cells, dense and sparse (the overall cells are their sums).
    With ``x`` a cell of the counts run and ``y`` the published cell, ``y = k x`` for a
    constant of ``k`` pJ or ns per operation."""
    out = {}
    for name, (q, cat) in CONSTANTS.items():
        pairs = [(_value(counts, q, mode, sub, cat), PUBLISHED[(q, mode, sub, cat)])
                 for mode in ("sparse", "dense") for sub in ("time_mix", "channel_mix")]
        out[name] = sum(x * y for x, y in pairs) / sum(x * x for x, _ in pairs)
    return out


# -- the validation -----------------------------------------------------------------------------
def validate_rwkv(tokens: int | None = None, seed: int = 0,
                  progress: Callable[[str], None] | None = None,
                  traces: tuple[Trace, Trace] | None = None) -> RwkvValidation:
    """Run the paper's configuration, the operation counts and every step on the published 3B
    profile (``tokens`` tokens of the synthetic trace, default 1 like ``nmsim rwkv-token``;
    or on given ``(dense, sparse)`` traces, e.g. a smaller block in tests)."""
    from workloads.rwkv_inputs import load_traces

    dense, sparse = traces or load_traces(tokens=tokens, seed=seed)

    def run(config: Configuration) -> RwkvTokenResult:
        if progress:
            progress(config.name)
        return config.run(dense, sparse)

    counts = run(COUNTS)
    paper = run(PAPER)
    results = [run(step.config) for step in STEPS]
    default = results[-1]
    cells = []
    for (q, mode, sub, cat), pub in PUBLISHED.items():
        sim, dft = (_value(r, q, mode, sub, cat) for r in (paper, default))
        cells.append(Cell(quantity=q, mode=mode, sub_block=sub, category=cat, unit=UNIT[q][0],
                          published=pub, paper_config=sim, paper_config_error=sim / pub - 1,
                          default=dft, default_over_published=dft / pub))
    shipped = load_chip("analytic").config.operation
    steps = [StepRow(step="published", why=f"{SOURCE['energy']}; {SOURCE['latency']}",
                     command="", values=_values(None)),
             StepRow(step="paper configuration", why="the paper's assumptions: fitted "
                     "constants per operation, layer norm omitted, serial latency",
                     command=PAPER.command(), values=_values(paper))]
    steps += [StepRow(step=s.name, why=s.why, command=s.config.command(), values=_values(r))
              for s, r in zip(STEPS, results, strict=True)]
    return RwkvValidation(
        tokens=default.provenance.tokens, trace=default.provenance.sparse_trace,
        constants={k: getattr(shipped, k).value for k in CONSTANTS},
        refit=fit_constants(counts), cells=cells, steps=steps)


# -- reporting ----------------------------------------------------------------------------------
def format_table(result: RwkvValidation) -> str:
    """The readable text ``nmsim validate`` prints."""
    lines = [f"RWKV-4 3B block on SENECA against Knunyants et al. 2025 (Tables III/IV; "
             f"{result.tokens} tokens of {result.trace})", "",
             f"{'cell':40s}{'published':>11s}{'paper cfg':>11s}{'error':>8s}"
             f"{'default':>11s}{'default/pub':>12s}"]
    for c in result.cells:
        name = f"{c.quantity} {c.mode} {c.sub_block} {c.category} ({c.unit})"
        lines.append(f"{name:40s}{c.published:11.2f}{c.paper_config:11.3f}"
                     f"{c.paper_config_error * 100:7.2f}%{c.default:11.3f}"
                     f"{c.default_over_published:11.2f}x")
    lines += ["", f"largest error of the paper's configuration: "
              f"{result.max_paper_error() * 100:.2f}% (bound {TOLERANCE * 100:.0f}%)",
              "fitted constants (shipped / refitted now): " + ", ".join(
                  f"{k} {result.constants[k]:.4g} / {result.refit[k]:.4g}" for k in CONSTANTS),
              "", "gap decomposition, whole block per token (energy µJ, latency ms):",
              f"{'step':26s}{'E sparse':>10s}{'E dense':>10s}{'L sparse':>10s}{'L dense':>10s}"]
    for s in result.steps:
        v = s.values
        lines.append(f"{s.step:26s}{v['energy']['sparse']['block']:10.2f}"
                     f"{v['energy']['dense']['block']:10.2f}"
                     f"{v['latency']['sparse']['block']:10.4f}"
                     f"{v['latency']['dense']['block']:10.4f}")
    return "\n".join(lines)


def plot_waterfall(result: RwkvValidation, path) -> Any:
    """Write the waterfall figure (PNG or SVG by suffix); return the path."""
    from simulator.plots.style import save
    from simulator.plots.validation_rwkv import waterfall_figure

    return save(waterfall_figure(result), path)
