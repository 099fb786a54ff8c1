"""A generic sweep runner: points in parallel, each finished point written at once, resumable.

Any job whose points are hashable specs with a ``key()`` (a string naming every input that
decides the result, file contents included) can use :func:`run_sweep`, as desmod runs its
simulations over a factor grid. Points run in this process, in local worker processes, or on a
Dask ``distributed`` cluster; a point that raises, or a worker that dies, is reported and not
written, and every finished point stays in ``out`` so an interrupted sweep resumes where it
stopped. ``out`` is locked while a sweep writes to it (a second sweep fails at once); its files
are written atomically; a torn ``sweep.json`` is recovered from its intact rows; Ctrl-C or
SIGTERM stops the workers at once, and workers exit if the sweep's process dies.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Protocol

from simulator.errors import UserError
from simulator.outputs import ensure_dir, write_atomic


class Point(Hashable, Protocol):
    def key(self) -> str: ...


@dataclass
class SweepResult:
    rows: list[dict]
    computed: list[str]
    skipped: list[str]
    failed: dict[str, str]


def file_sha256(path: str | Path) -> str:
    """sha256 of a file's bytes (cached while its size and modification time stay); a file
    that cannot be read gives a placeholder, and loading the point reports the error."""
    try:
        st = os.stat(path)
    except OSError:
        return "unreadable"
    return _sha256(os.path.realpath(path), st.st_size, st.st_mtime_ns, st.st_ino)


@lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int, ino: int) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return "unreadable"
    return h.hexdigest()


def chip_digest(chip: str) -> str:
    """sha256 of the chip's description file (a registered chip's own cost table)."""
    from simulator.chips import registry

    if chip in registry.names():
        return file_sha256(registry.get(chip).default_file)
    return file_sha256(chip)


FILES = ("sweep.csv", "sweep.parquet", "sweep.json")
LOCK = ".lock"


def read_rows(out: Path) -> list[dict]:
    """The rows of ``out/sweep.json``; a torn or corrupt file gives the rows that are intact
    (a warning on stderr says how many), never a traceback."""
    path = Path(out) / "sweep.json"
    if not path.exists():
        return []
    text = path.read_text("utf-8", errors="replace")
    try:
        rows = json.loads(text)
    except ValueError:
        rows = None
    if isinstance(rows, list) and all(isinstance(r, dict) and "key" in r for r in rows):
        return rows
    rows = _intact_rows(text)
    print(f"warning: {path} is cut off or corrupt; recovered {len(rows)} intact row"
          f"{'' if len(rows) == 1 else 's'}, the other points will be computed again",
          file=sys.stderr)
    return rows


def _intact_rows(text: str) -> list[dict]:
    """Every complete row object of a JSON list, from its start up to where it breaks."""
    decoder, rows = json.JSONDecoder(), []
    i = text.find("[") + 1
    while 0 < i < len(text):
        while i < len(text) and text[i] in " \t\r\n,":
            i += 1
        try:
            row, i = decoder.raw_decode(text, i)
        except ValueError:
            break
        if not (isinstance(row, dict) and isinstance(row.get("key"), str)):
            break
        rows.append(row)
    return rows


def write_rows(out: Path, rows: list[dict], order: Callable[[dict], Any]) -> None:
    """sweep.json (full rows), sweep.csv and sweep.parquet (nested columns as JSON text);
    each written atomically (:mod:`simulator.outputs`), so a kill never leaves a torn file."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    ensure_dir(out)
    rows = sorted(rows, key=order)
    write_atomic(out / "sweep.json", json.dumps(rows, indent=1))
    flat = [{k: json.dumps(v) if isinstance(v, dict | list) else v for k, v in r.items()}
            for r in rows]
    columns = list(dict.fromkeys(k for r in flat for k in r))
    table = pa.Table.from_pylist(flat, schema=None) if flat else pa.table({})
    table = table.select([c for c in columns if c in table.column_names])
    write_atomic(out / "sweep.csv", lambda f: pacsv.write_csv(table, f))
    versions = sorted({str(r.get("nmsim_version")) for r in rows if r.get("nmsim_version")})
    table = table.replace_schema_metadata({  # every row also names its chip, trace and inputs
        "nmsim_version": ", ".join(versions), "written_by": "nmsim (simulator.sweep.write_rows)",
        "rows": str(len(rows))})
    write_atomic(out / "sweep.parquet", lambda f: pq.write_table(table, f))


class SweepLocked(UserError):
    """Another sweep is writing to the same output directory."""


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold ``out/.lock`` (``fcntl.flock``, not waiting) while a sweep writes to ``out``: a
    second sweep on the same directory fails at once, naming it and the holder's PID, instead
    of the two overwriting each other's rows. The kernel drops the lock if the holder dies."""
    import fcntl

    ensure_dir(out)
    path = out / LOCK
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise SweepLocked(f"{out}: cannot create the sweep lock {path}: "
                              f"{e.strerror or e}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            os.close(fd)
            raise SweepLocked(
                f"{out}: another sweep{f' (PID {holder})' if holder else ''} is writing to "
                "this directory; wait for it to finish or use another output directory"
            ) from None
        try:  # the holder before us may have removed the file between our open and lock
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)
        os.close(fd)


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
    force: bool = False,
    note: Callable[[list[dict]], str] | None = None,
) -> SweepResult:
    """Run ``point_fn`` on every point not already in ``out``; write each finished point at
    once (rows sorted by ``order``; each row carries ``key``). ``out`` is locked for the
    duration (:func:`locked`); the result's ``rows`` are those of ``specs`` only (``out`` may
    hold other points, which are kept). ``force`` recomputes points already in ``out``.
    ``note(rows)`` (the requested rows finished so far) is shown beside the progress bar
    after each point, e.g. a frontier as it forms.

    ``client``: a ``distributed.Client`` (Dask); otherwise ``workers`` local processes
    (default: the CPU count; 0 runs the points in this process). Ctrl-C (or SIGTERM under
    :func:`interruptible`) stops the workers at once; every finished point stays written."""
    out_dir = Path(out) if out is not None else None
    with locked(out_dir) if out_dir else contextlib.nullcontext():
        return _run_sweep(specs, point_fn, out_dir, order, client, workers, progress, desc,
                          force, note)


def _run_sweep(specs, point_fn, out_dir, order, client, workers, progress, desc,
               force, note=None) -> SweepResult:
    from tqdm import tqdm

    wanted = list(dict.fromkeys(specs))
    keys = [s.key() for s in wanted]
    if out_dir:  # a sweep killed mid-write (SIGKILL) may have left a temporary; ours now
        for stale in out_dir.glob(".sweep.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()
    rows = read_rows(out_dir) if out_dir else []
    if force:
        rows = [r for r in rows if r["key"] not in set(keys)]
    have = {r["key"] for r in rows}
    todo = [s for s, k in zip(wanted, keys, strict=True) if k not in have]
    result = SweepResult([], [], [k for k in keys if k in have], {})
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
        if note is not None and progress:
            mine = set(keys)
            bar.set_postfix_str(note([r for r in rows if r["key"] in mine]), refresh=False)

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
    mine = set(keys)
    result.rows = sorted((r for r in rows if r["key"] in mine), key=order)
    return result


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived: ``signum`` says which (exit status 128 + signum)."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """SIGTERM raises :class:`Interrupted` like Ctrl-C does, so that a sweep stops its workers
    and keeps its finished points either way (main thread only; a no-op elsewhere)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _worker_init(parent: int) -> None:
    """In each local worker: Ctrl-C is the parent's to handle (it stops the workers), and a
    worker whose parent dies (even by SIGKILL) exits instead of lingering."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="nmsim-parent-watch").start()


def _run_local(todo, workers, point_fn, finished) -> None:
    n = min(len(todo), workers or os.cpu_count() or 1)
    pool = ProcessPoolExecutor(n, mp_context=get_context("spawn"), initializer=_worker_init,
                               initargs=(os.getpid(),))
    try:
        pending = {pool.submit(point_fn, s): s for s in todo}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                spec = pending.pop(fut)
                error = fut.exception()
                finished(spec, None if error else fut.result(), error)
    except BaseException:
        _stop(pool)
        raise
    pool.shutdown(wait=True)


def _stop(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now (a point in progress is lost; finished ones are written)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    for p in procs:
        with contextlib.suppress(Exception):
            p.terminate()
    for p in procs:
        with contextlib.suppress(Exception):
            p.join(3)
            if p.is_alive():
                p.kill()
                p.join(1)
    pool.shutdown(wait=True, cancel_futures=True)


def _run_dask(client, todo, point_fn, finished) -> None:
    from distributed import as_completed

    futures = {client.submit(point_fn, s, pure=False): s for s in todo}
    try:
        for fut in as_completed(list(futures)):
            spec = futures[fut]
            try:
                row = fut.result()
            except Exception as e:
                finished(spec, None, e)
            else:
                finished(spec, row, None)
    except BaseException:  # interrupted: the cluster must not go on with the other points
        with contextlib.suppress(Exception):
            client.cancel(list(futures), force=True)
        raise
