"""A generic sweep runner: points in parallel, each finished point written at once, resumable.

Any job whose points are hashable specs with a ``key()`` (a string naming every input that
decides the result) can use :func:`run_sweep`, as desmod runs its simulations over a factor
grid. Points run in this process, in local worker processes, or on a Dask ``distributed``
cluster; a point that raises, or a worker that dies, is reported and not written, and every
finished point stays in ``out`` so an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol


class Point(Hashable, Protocol):
    def key(self) -> str: ...


@dataclass
class SweepResult:
    rows: list[dict]
    computed: list[str]
    skipped: list[str]
    failed: dict[str, str]


FILES = ("sweep.csv", "sweep.parquet", "sweep.json")


def read_rows(out: Path) -> list[dict]:
    path = out / "sweep.json"
    if not path.exists():
        return []
    return json.loads(path.read_text())


def write_rows(out: Path, rows: list[dict], order: Callable[[dict], Any]) -> None:
    """sweep.json (full rows), sweep.csv and sweep.parquet (nested columns as JSON text);
    each written to a temporary name first, so a kill never leaves a torn file."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out.mkdir(parents=True, exist_ok=True)
    rows = sorted(rows, key=order)
    _atomic(out / "sweep.json", lambda p: p.write_text(json.dumps(rows, indent=1)))
    flat = [{k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in r.items()}
            for r in rows]
    columns = list(dict.fromkeys(k for r in flat for k in r))
    table = pa.Table.from_pylist(flat, schema=None) if flat else pa.table({})
    table = table.select([c for c in columns if c in table.column_names])
    _atomic(out / "sweep.csv", lambda p: pacsv.write_csv(table, p))
    _atomic(out / "sweep.parquet", lambda p: pq.write_table(table, p))


def _atomic(path: Path, write: Callable[[Path], Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    write(tmp)
    os.replace(tmp, path)


def run_sweep(
    specs: Sequence[Point],
    point_fn: Callable[[Any], dict],
    out: str | Path | None = None,
    *,
    order: Callable[[dict], Any] = lambda row: row["key"],
    client: Any = None,
    workers: int | None = None,
    progress: bool = True,
    desc: str = "sweep",
) -> SweepResult:
    """Run ``point_fn`` on every point not already in ``out``; write each finished point at
    once (rows sorted by ``order``; each row carries ``key``).

    ``client``: a ``distributed.Client`` (Dask); otherwise ``workers`` local processes
    (default: the CPU count; 0 runs the points in this process)."""
    from tqdm import tqdm

    out_dir = Path(out) if out is not None else None
    rows = read_rows(out_dir) if out_dir else []
    have = {r["key"] for r in rows}
    todo = [s for s in dict.fromkeys(specs) if s.key() not in have]
    result = SweepResult(rows, [], [s.key() for s in specs if s.key() in have], {})
    bar = tqdm(total=len(todo), disable=not progress, file=sys.stderr, desc=desc, unit="point")

    def finished(spec: Point, row: dict | None, error: BaseException | None) -> None:
        bar.update(1)
        if error is not None:
            result.failed[spec.key()] = f"{type(error).__name__}: {error}"
            return
        rows.append(row)
        result.computed.append(spec.key())
        if out_dir:
            write_rows(out_dir, rows, order)

    try:
        if client is not None:
            _run_dask(client, todo, point_fn, finished)
        elif workers == 0 or len(todo) <= 1:
            for spec in todo:
                try:
                    row = point_fn(spec)
                except Exception as e:  # a failed point must not lose the others
                    finished(spec, None, e)
                else:
                    finished(spec, row, None)
        else:
            _run_local(todo, workers, point_fn, finished)
    finally:
        bar.close()
    result.rows = sorted(rows, key=order)
    return result


def _run_local(todo, workers, point_fn, finished) -> None:
    n = min(len(todo), workers or os.cpu_count() or 1)
    with ProcessPoolExecutor(n, mp_context=get_context("spawn")) as pool:
        pending = {pool.submit(point_fn, s): s for s in todo}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                spec = pending.pop(fut)
                error = fut.exception()
                finished(spec, None if error else fut.result(), error)


def _run_dask(client, todo, point_fn, finished) -> None:
    from distributed import as_completed

    futures = {client.submit(point_fn, s, pure=False): s for s in todo}
    for fut in as_completed(list(futures)):
        spec = futures[fut]
        try:
            row = fut.result()
        except Exception as e:
            finished(spec, None, e)
        else:
            finished(spec, row, None)
