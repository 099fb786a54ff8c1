"""What a notebook user does with a result: ``table()``, ``to_frame()``, ``plot()``,
``save(dir)``, a readable ``repr`` and ``_repr_html_``.

Mixed into the typed results of :mod:`simulator.results` (methods only, no fields: the JSON
schemas are unchanged). ``table()`` is a tidy list of flat records (one row per observation,
units in the column names: ``energy_j`` joules, ``latency_s`` seconds, ``cycles`` chip
cycles); ``to_frame()`` is the same as a pandas DataFrame (pandas is the optional ``frames``
extra, imported when asked for). ``plot()`` draws the figures ``nmsim plot`` draws
(:mod:`simulator.plots`, matplotlib imported then). ``save(dir)`` writes what the command's
``--out`` writes, which ``nmsim.load(dir)`` reads back.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

_MICRO = "µ"


def to_frame(rows: list[dict]) -> Any:
    """``rows`` as a pandas DataFrame (a clear message if pandas is missing)."""
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("to_frame() needs pandas: pip install 'nmsim[frames]' (or pandas); "
                          "table() gives the same rows as a list of dicts") from None
    return pd.DataFrame(rows)


def _html_table(rows: Sequence[dict], caption: str) -> str:
    if not rows:
        return f"<p>{html.escape(caption)}: no rows</p>"
    cols = list(rows[0])

    def cell(v: Any) -> str:
        text = f"{v:.4g}" if isinstance(v, float) else str(v)
        return f"<td>{html.escape(text)}</td>"

    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(cell(r.get(c, "")) for c in cols) + "</tr>" for r in rows)
    return (f"<table><caption style='text-align:left'>{html.escape(caption)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


def _figure(fig: Any, path: str | Path | None) -> Any:
    if path is not None:
        from simulator.plots import save

        save(fig, path)
    return fig


# -- rwkv-token ---------------------------------------------------------------------------------
def rwkv_header(prov: Any) -> list[str]:
    """What was simulated, in words: chip and file, model or trace, block, tokens, strategy,
    ``--set`` and ``--option`` settings, seed (the lines heading ``nmsim rwkv-token``'s
    table and a result's repr)."""
    job = prov.job or {}
    what = f"{prov.trace_kind} trace: {prov.model}" + (
        f", profile {prov.profile}" if prov.profile else "")
    if prov.sparse_trace and prov.model not in prov.sparse_trace:
        what += f" ({prov.sparse_trace})"
    settings = [f"strategy {job.get('strategy', '?')}"]
    if job.get("latency", "simulated") != "simulated":
        settings.append(f"latency {job['latency']}")
    if job.get("omit_stages"):
        settings.append("omitting " + ", ".join(job["omit_stages"]))
    options = ", ".join(f"{k}={v}" for k, v in sorted(prov.chip_options.items()))
    return [
        f"RWKV-4 block {prov.block}, one token on {prov.chip} ({prov.chip_file}); "
        f"{what}; {prov.tokens} tokens averaged"
        + (f"; seed {prov.seed}" if prov.seed is not None else ""),
        "; ".join(settings)
        + "; --set " + (", ".join(prov.chip_overrides) if prov.chip_overrides else "none")
        + "; options " + (options or "none")
        + (f"; nmsim {prov.nmsim_version}" if getattr(prov, "nmsim_version", None) else ""),
    ]


def opt_header(prov: Any) -> list[str]:
    """What was simulated (the lines heading ``nmsim opt-token``'s table and a result's repr)."""
    job = prov.job or {}
    what = f"{prov.trace_kind} trace: {prov.model}" + (
        f", profile {prov.profile}" if prov.profile else "")
    options = ", ".join(f"{k}={v}" for k, v in sorted(prov.chip_options.items()))
    return [
        f"OPT decoder layer {prov.layer}, one token at context {prov.context} on {prov.chip} "
        f"({prov.chip_file}); {what}; {prov.tokens} tokens averaged"
        + (f"; seed {prov.seed}" if prov.seed is not None else ""),
        f"KV cache {job.get('kv_placement', '?')} (at most {job.get('kv_cores_per_head', '?')} "
        "cores per head)"
        + "; --set " + (", ".join(prov.chip_overrides) if prov.chip_overrides else "none")
        + "; options " + (options or "none") + f"; nmsim {prov.nmsim_version}",
    ]


class TokenViews:
    """Views of a per-token result (:class:`~simulator.results.RwkvTokenResult`,
    :class:`~simulator.results.OptTokenResult`): the subclass names its sub-blocks, its header
    lines and its table."""

    TABLES: ClassVar[tuple[str, ...]] = ("summary", "ratios", "breakdown", "critical_path")
    #: the block's sub-blocks, in order
    SUB_BLOCKS: ClassVar[tuple[str, ...]] = ()
    #: provenance fields repeated on every breakdown.csv row (the file stands on its own)
    CSV_PROVENANCE: ClassVar[tuple[str, ...]] = ()

    def _header(self) -> list[str]:
        raise NotImplementedError

    def _text(self) -> str:
        raise NotImplementedError

    def table(self, which: str = "summary") -> list[dict]:
        """Tidy rows: ``summary`` (mode, sub_block, category incl. ``total``; energy_j,
        latency_s, cycles per token), ``ratios`` (dense over sparse per sub-block),
        ``breakdown`` (one ledger line per token, as breakdown.csv) or ``critical_path``
        (mode, sub_block, category: seconds of the chain)."""
        if which == "summary":
            return [{"mode": m, "sub_block": s, "category": c, **fig.model_dump()}
                    for m in ("dense", "sparse") for s, cats in getattr(self, m).items()
                    for c, fig in cats.items()]
        if which == "ratios":
            return [{"sub_block": s, "energy_ratio": r.energy, "latency_ratio": r.latency}
                    for s, r in self.ratios.items()]
        if which == "breakdown":
            return [r.model_dump() for r in self.breakdown]
        if which == "critical_path":
            return [{"mode": m, "sub_block": s, "category": c, "latency_s": v,
                     "share": v / cp.latency_s if cp.latency_s else 0.0}
                    for m, subs in self.critical_path.items() for s, cp in subs.items()
                    for c, v in cp.by_category.items()]
        raise ValueError(f"table: unknown {which!r}; choose from {', '.join(self.TABLES)}")

    def to_frame(self, which: str = "summary") -> Any:
        """:meth:`table` as a pandas DataFrame."""
        return to_frame(self.table(which))

    def plot(self, kind: str = "breakdown", path: str | Path | None = None, **kwargs: Any
             ) -> Any:
        """The figure ``nmsim plot breakdown`` (``metric``, ``percent``, ``by``, ``top``) or
        ``nmsim plot critical-path`` (``sub_block``) draws; saved to ``path`` if given
        (.png, .svg, .pdf). Returns the matplotlib Figure."""
        from simulator import plots

        if kind == "breakdown":
            return _figure(plots.breakdown_figure(self, **kwargs), path)
        if kind == "critical-path":
            return _figure(plots.result_critical_path_figure(
                self, kwargs.pop("sub_block", self.SUB_BLOCKS[0]), **kwargs), path)
        raise ValueError(f"plot: unknown kind {kind!r}; choose 'breakdown' or 'critical-path'")

    def save(self, out: str | Path) -> Path:
        """``result.json`` and ``breakdown.csv`` in ``out`` (as ``rwkv-token --out``)."""
        from simulator.commands.rwkv_token import write_result

        write_result(self, Path(out))
        return Path(out)

    def _lines(self) -> list[str]:
        lines = self._header()
        for sub in ("block", *self.SUB_BLOCKS):
            d, s, r = self.dense[sub]["total"], self.sparse[sub]["total"], self.ratios[sub]
            lines.append(
                f"  {sub:12s}dense {d.energy_j * 1e6:9.3f} {_MICRO}J {d.latency_s * 1e6:8.1f} "
                f"{_MICRO}s | sparse {s.energy_j * 1e6:9.3f} {_MICRO}J "
                f"{s.latency_s * 1e6:8.1f} {_MICRO}s | dense/sparse energy "
                f"{_x(r.energy)}, latency {_x(r.latency)}")
        return lines

    def __repr__(self) -> str:
        return f"<{type(self).__name__}\n" + "\n".join(self._lines()) + ">"

    def __str__(self) -> str:
        return self._text()

    def _repr_html_(self) -> str:
        rows = [{"sub_block": s, "mode": m, "energy_uJ": getattr(self, m)[s]["total"].energy_j
                 * 1e6, "latency_us": getattr(self, m)[s]["total"].latency_s * 1e6}
                for s in ("block", *self.SUB_BLOCKS) for m in ("dense", "sparse")]
        head = "<br>".join(html.escape(line) for line in self._header())
        return (f"<div><b>{type(self).__name__}</b><br>{head}"
                + _html_table(rows, "per token; result.table() for every category") + "</div>")


class RwkvTokenViews(TokenViews):
    """Views of an :class:`~simulator.results.RwkvTokenResult`."""

    SUB_BLOCKS = ("time_mix", "channel_mix")
    CSV_PROVENANCE = ("chip", "chip_file", "chip_sha256", "model", "sparse_trace", "dense_trace",
                      "block", "tokens", "seed", "nmsim_version")

    def _header(self) -> list[str]:
        return rwkv_header(self.provenance)

    def _text(self) -> str:
        from simulator.jobs.rwkv_token import format_table

        return format_table(self)


class OptTokenViews(TokenViews):
    """Views of an :class:`~simulator.results.OptTokenResult`."""

    SUB_BLOCKS = ("attention", "mlp")
    CSV_PROVENANCE = ("chip", "chip_file", "chip_sha256", "model", "sparse_trace", "dense_trace",
                      "layer", "context", "tokens", "seed", "nmsim_version")

    def _header(self) -> list[str]:
        return opt_header(self.provenance)

    def _text(self) -> str:
        from simulator.jobs.opt_token import format_table

        return format_table(self)


def _x(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}x"


# -- egru-sweep ---------------------------------------------------------------------------------
#: columns of :meth:`EgruSweepViews.table` shown by the repr
_SHOWN = ("pes", "strategy", "fits", "max_pe_bytes", "latency_s", "energy_j")


class EgruSweepViews:
    """Views of an :class:`~simulator.results.EgruSweepResult`."""

    TABLES: ClassVar[tuple[str, ...]] = ("points", "stages")

    def table(self, which: str = "points") -> list[dict]:
        """Tidy rows: ``points`` (one per point, every scalar column of sweep.csv;
        ``chip_overrides`` and ``chip_options`` as text, ``stages`` left out) or ``stages``
        (long: one row per point, core and stage, ``cycles`` per step)."""
        if which == "points":
            out = []
            for r in self.rows:
                d = r.model_dump(exclude={"stages", "key"})
                d["chip_overrides"] = ", ".join(d["chip_overrides"])
                d["chip_options"] = ", ".join(f"{k}={v}" for k, v in
                                              sorted(d["chip_options"].items()))
                out.append(d)
            return out
        if which == "stages":
            return [{"pes": r.pes, "strategy": r.strategy, "layer_split": r.layer_split,
                     "core": core, "stage": stage, "cycles": c}
                    for r in self.rows for stage, per_core in r.stages.items()
                    for core, c in enumerate(per_core)]
        raise ValueError(f"table: unknown {which!r}; choose from {', '.join(self.TABLES)}")

    def to_frame(self, which: str = "points") -> Any:
        """:meth:`table` as a pandas DataFrame."""
        return to_frame(self.table(which))

    def plot(self, kind: str = "sweep", path: str | Path | None = None, **kwargs: Any) -> Any:
        """The figure ``nmsim plot sweep`` or ``nmsim plot profile`` (``pes``,
        ``strategy``) draws; saved to ``path`` if given. Returns the matplotlib Figure."""
        from simulator import plots
        from simulator.plots.inputs import check_sweep

        points = check_sweep([r.model_dump() for r in self.rows], "the sweep")
        if kind == "sweep":
            return _figure(plots.sweep_figure(points, **kwargs), path)
        if kind == "profile":
            return _figure(plots.profile_figure(points, kwargs.pop("pes", None),
                                                kwargs.pop("strategy", None), **kwargs), path)
        raise ValueError(f"plot: unknown kind {kind!r}; choose 'sweep' or 'profile'")

    def save(self, out: str | Path) -> Path:
        """``sweep.json``, ``sweep.csv`` and ``sweep.parquet`` in ``out`` (as
        ``egru-sweep --out``)."""
        from simulator.jobs.egru_sweep import _row_order
        from simulator.sweep import write_rows

        write_rows(Path(out), [r.model_dump() for r in self.rows], _row_order)
        return Path(out)

    def __repr__(self) -> str:
        head = (f"<{type(self).__name__}: {len(self.rows)} points"
                + (f", {len(self.failed)} failed" if self.failed else ""))
        if self.rows:
            r = self.rows[0]
            head += f" on {r.chip} ({r.chip_file}); {r.trace_label}; {r.steps} steps"
        lines = [head] + [
            f"  N={r.pes:<5d}{r.strategy:10s}fits {'yes' if r.fits else 'no ':4s}"
            f"{r.latency_s * 1e6:10.1f} {_MICRO}s/step {r.energy_j * 1e6:10.1f} {_MICRO}J/step"
            for r in self.rows] + [f"  failed: {key}: {why}" for key, why in self.failed.items()]
        return "\n".join(lines) + ">"

    def __str__(self) -> str:
        from simulator.jobs.egru_sweep import format_table

        return format_table([r.model_dump() for r in self.rows])

    def _repr_html_(self) -> str:
        rows = [{k: r[k] for k in _SHOWN} for r in self.table()]
        return _html_table(rows, repr(self).splitlines()[0].lstrip("<"))


# -- dvs-gesture --------------------------------------------------------------------------------
def save_dvs(results: Sequence[Any], out: str | Path) -> Path:
    """``out/dvs.json``: the results of one ``dvs-gesture`` run, one per core count."""
    import json

    from simulator.outputs import ensure_dir, write_atomic

    return write_atomic(ensure_dir(out) / "dvs.json",
                        json.dumps([r.model_dump() for r in results], indent=1))


class DvsGestureViews:
    """Views of a :class:`~simulator.results.DvsGestureResult`."""

    def table(self, which: str = "point") -> list[dict]:
        """Tidy rows: ``point`` (one: the point, its fit, per-frame and per-sample figures,
        units in the column names) or ``breakdown`` (the ledger lines of one sample)."""
        if which == "breakdown":
            return [r.model_dump() for r in self.breakdown]
        if which != "point":
            raise ValueError(f"table: unknown {which!r}; choose 'point' or 'breakdown'")
        row = self.model_dump(exclude={"chip", "per_frame", "per_sample", "pes_per_layer",
                                       "breakdown"})
        row["pes_per_layer"] = "/".join(map(str, self.pes_per_layer))
        row["chip_file"] = self.chip.get("chip_file")
        for name in ("per_frame", "per_sample"):
            for k, v in getattr(self, name).model_dump().items():
                row[f"{name.split('_')[1]}_{k}"] = v
        return [row]

    def to_frame(self, which: str = "point") -> Any:
        """:meth:`table` as a pandas DataFrame."""
        return to_frame(self.table(which))

    def save(self, out: str | Path) -> Path:
        """``dvs.json`` in ``out`` (as ``dvs-gesture --out`` writes it, a list of one)."""
        return save_dvs([self], out)

    def __repr__(self) -> str:
        f, s = self.per_frame, self.per_sample
        return (f"<{type(self).__name__}: {self.trace_label}; {self.pes} cores "
                f"({'/'.join(map(str, self.pes_per_layer))}), fits {'yes' if self.fits else 'no'}"
                f" (fewest {self.fewest_pes_that_fit}); per frame {f.latency_s * 1e6:.1f} "
                f"{_MICRO}s {f.energy_j * 1e6:.2f} {_MICRO}J; per sample {s.latency_s * 1e3:.3f}"
                f" ms {s.energy_j * 1e3:.4f} mJ {s.power_w:.3f} W>")

    def plot(self, path: str | Path | None = None, top: int = 10) -> Any:
        """Its energy by layer and stage and by operation (``nmsim plot dvs-breakdown``);
        saved to ``path`` if given. Returns the matplotlib Figure."""
        from simulator.plots import dvs_breakdown_figure

        return _figure(dvs_breakdown_figure(self, top), path)

    def _repr_html_(self) -> str:
        return _html_table(self.table(), repr(self)[1:-1])


# -- validations --------------------------------------------------------------------------------
class ValidationViews:
    """``save``, ``plot``, ``str`` (the table ``nmsim validate`` prints) of a validation."""

    target: ClassVar[str] = ""  # "rwkv" or "egru", set by the result class

    def _module(self) -> Any:
        from simulator.validation import knunyants2025, nazeer2024

        return knunyants2025 if self.target == "rwkv" else nazeer2024

    def __str__(self) -> str:
        return self._module().format_table(self)

    def _repr_html_(self) -> str:
        return f"<pre>{html.escape(str(self))}</pre>"

    def save(self, out: str | Path) -> Path:
        """``<target>.json`` in ``out`` (as ``nmsim validate --out``)."""
        from simulator.outputs import ensure_dir, write_atomic

        ensure_dir(Path(out))
        write_atomic(Path(out) / f"{self.target}.json", self.model_dump_json(indent=1))
        return Path(out)

    def plot(self, path: str | Path | None = None) -> Any:
        """The waterfall (rwkv) or sensitivity (egru) figure of ``nmsim validate --out``."""
        if self.target == "rwkv":
            from simulator.plots.validation_rwkv import waterfall_figure as make
        else:
            from simulator.plots.validation_egru import sensitivity_figure as make
        return _figure(make(self), path)




# -- context-sweep ------------------------------------------------------------------------------
class ContextSweepViews:
    """Views of a :class:`~simulator.results.ContextSweepResult`."""

    def table(self) -> list[dict]:
        """Tidy rows, one per model, mode and L (the RWKV block's repeated at every L; its
        cost does not depend on L), every column of sweep.csv but the key."""
        from simulator.jobs.context_sweep import broadcast

        return [{k: v for k, v in r.items() if k != "key"}
                for r in broadcast([r.model_dump() for r in self.rows])]

    def to_frame(self) -> Any:
        """:meth:`table` as a pandas DataFrame."""
        return to_frame(self.table())

    def plot(self, path: str | Path | None = None, **kwargs: Any) -> Any:
        """The figure ``nmsim context-sweep --out`` writes (energy and latency per token
        against L); saved to ``path`` if given. Returns the matplotlib Figure."""
        from simulator.plots.context_sweep import context_figure

        return _figure(context_figure(self.table(), **kwargs), path)

    def save(self, out: str | Path) -> Path:
        """``sweep.json``, ``sweep.csv``, ``sweep.parquet`` and the figure in ``out`` (as
        ``context-sweep --out``)."""
        from simulator.jobs.context_sweep import _order
        from simulator.sweep import write_rows

        write_rows(Path(out), [r.model_dump() for r in self.rows], _order)
        for ext in (".png", ".svg"):
            self.plot(Path(out) / f"context{ext}")
        return Path(out)

    def __repr__(self) -> str:
        from simulator.jobs.context_sweep import format_table

        return (f"<{type(self).__name__}: {len(self.rows)} points\n"
                + format_table([r.model_dump() for r in self.rows]) + ">")

    def __str__(self) -> str:
        from simulator.jobs.context_sweep import format_table

        return format_table([r.model_dump() for r in self.rows])
