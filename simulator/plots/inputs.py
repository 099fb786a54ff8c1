"""Reading job outputs (RWKV ``result.json``, EGRU ``sweep.csv``/``sweep.json``) for plotting.

Plots consume files or the typed results a job returns (:mod:`simulator.results`), never job
internals. Inputs are validated here, once, against the jobs' own schemas, so a wrong file
fails with the file and the field named rather than with a ``KeyError`` deep inside
matplotlib code.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from simulator.errors import UserError
from simulator.results import MODES, OptTokenResult, RwkvTokenResult

#: the columns of :class:`SweepRow` that every sweep plot needs
SWEEP_KEYS: tuple[str, ...] = (
    "pes", "strategy", "fits", "max_pe_bytes", "overflow_bytes", "latency_s", "energy_j",
)


class PlotInputError(UserError, ValueError):
    """An input file or dict lacks what a plot needs; the message names the file and key."""


def _where(source: str | Path | None) -> str:
    return f"{source}: " if source else ""


def _require(obj: Any, keys: Sequence[str], where: str, source: str | Path | None) -> None:
    if not isinstance(obj, Mapping):
        raise PlotInputError(f"{_where(source)}{where} should be an object, got "
                             f"{type(obj).__name__}")
    missing = [k for k in keys if k not in obj]
    if missing:
        raise PlotInputError(f"{_where(source)}missing key {', '.join(map(repr, missing))} in "
                             f"{where}")


def _read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise PlotInputError(f"{path}: no such file") from None
    except json.JSONDecodeError as e:
        raise PlotInputError(f"{path}: not valid JSON ({e})") from None


# -- RWKV result ------------------------------------------------------------------------------
def check_result(result: Any, source: str | Path | None = None) -> dict:
    """Validate a per-token result (``rwkv-token``'s :class:`RwkvTokenResult`, ``opt-token``'s
    :class:`OptTokenResult`, or either's JSON as a dict) and return it as a dict."""
    if isinstance(result, BaseModel):
        return result.model_dump()
    opt = isinstance(result, Mapping) and "context" in (result.get("provenance") or {})
    try:
        return (OptTokenResult if opt else RwkvTokenResult).model_validate(result).model_dump()
    except ValidationError as e:
        problems = "; ".join(
            (f"field '{'.'.join(str(p) for p in err['loc'])}': " if err["loc"] else "")
            + err["msg"] for err in e.errors()[:5])
        kind = "an opt-token" if opt else "an rwkv-token"
        raise PlotInputError(f"{_where(source)}not {kind} result: {problems}") from None


def sub_blocks(result: Mapping) -> list[str]:
    """The summary's keys in order: the sub-blocks, then ``block``."""
    return list(check_result(result)["dense"])


def block_name(result: Mapping) -> str:
    """What one token went through, for a title."""
    return ("One OPT decoder layer" if "context" in check_result(result)["provenance"]
            else "One RWKV block")


def load_result(path: str | Path) -> dict:
    """Read and validate ``result.json`` written by ``nmsim rwkv-token --out``."""
    return check_result(_read_json(path), path)


def breakdown_rows(result: Mapping, source: str | Path | None = None) -> dict[str, list[dict]]:
    """Per-operation rows of a validated result, split by run (``dense``/``sparse``)."""
    result = check_result(result, source)
    out: dict[str, list[dict]] = {m: [] for m in MODES}
    for row in result["breakdown"]:
        out.setdefault(row["mode"], []).append(row)
    return {m: rows for m, rows in out.items() if rows}


def provenance_line(result: Mapping) -> str:
    """One line for a subtitle: chip, trace kind (real/synthetic) and profile or model."""
    prov = check_result(result)["provenance"]
    parts = [str(prov["chip"]), f"{prov['trace_kind']} trace"]
    for key in ("profile", "model"):
        if prov.get(key):
            parts.append(f"{key} {prov[key]}")
    if prov.get("tokens"):
        parts.append(f"{prov['tokens']} tokens averaged")
    return " · ".join(parts)


# -- EGRU sweep -------------------------------------------------------------------------------
def _number(text: str) -> float:
    return float(text) if text not in ("", "None", "nan", "NaN") else math.nan


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "1", "yes")
    return bool(value)


def check_sweep(points: Any, source: str | Path | None = None, keys: Sequence[str] = SWEEP_KEYS
                ) -> list[dict]:
    """Validate sweep points and normalise their types (``pes`` int, ``fits`` bool)."""
    if not isinstance(points, Sequence) or isinstance(points, str | bytes):
        raise PlotInputError(f"{_where(source)}a sweep should be a list of points, got "
                             f"{type(points).__name__}")
    if not points:
        raise PlotInputError(f"{_where(source)}the sweep has no points")
    out = []
    for i, p in enumerate(points):
        _require(p, keys, f"sweep point {i}", source)
        q = dict(p)
        q["pes"] = int(q["pes"])
        q["fits"] = _bool(q["fits"])
        q["strategy"] = str(q["strategy"])
        for k in ("max_pe_bytes", "overflow_bytes", "latency_s", "energy_j"):
            if k in q:
                q[k] = math.nan if q[k] is None else float(q[k])
        out.append(q)
    return out


def load_sweep(path: str | Path, keys: Sequence[str] = SWEEP_KEYS) -> list[dict]:
    """Read ``sweep.csv`` (one row per point) or ``sweep.json`` (a list of points)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        return check_sweep(_read_json(path), path, keys)
    try:
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except FileNotFoundError:
        raise PlotInputError(f"{path}: no such file") from None
    if rows and (missing := [k for k in keys if k not in rows[0]]):
        raise PlotInputError(f"{path}: missing column {', '.join(map(repr, missing))}")
    for row in rows:
        for k, v in row.items():
            if k in ("strategy", "fits") or not isinstance(v, str):
                continue
            if v.startswith(("[", "{")):  # a nested column (e.g. stages) written as JSON
                row[k] = json.loads(v)
                continue
            with contextlib.suppress(ValueError):  # a text column (a model name) stays text
                row[k] = _number(v)
    return check_sweep(rows, path, keys)
