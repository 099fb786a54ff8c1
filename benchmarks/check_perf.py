"""Performance-regression check: run the benchmarks, compare each ratio with the stored baseline.

Run: ``python benchmarks/check_perf.py [--only NAME ...] [--tolerance 0.10] [--update]``. A script
a developer runs before and after a change (as SANA-FE's ``tests/ci/check_perf.rb``), not part
of the test suite: nothing here is timed in pytest.

Protocol. Every ``benchmarks/<name>.py`` may expose ``measure() -> dict[str, float]`` (a module
without it, or whose ``measure()`` raises ``ModuleNotFoundError`` for an optional peer, is
skipped with a note). Its keys say what they are:

- ``*_ratio``: a machine-independent ratio against a reference measured in the same run (never
  an absolute time). Compared relatively: regressed when worse than the baseline by more than
  ``--tolerance`` (default 10%).
- ``*_exponent``: a fitted scaling exponent. Lower is better; compared absolutely: regressed
  when it exceeds the baseline by more than ``--exponent-tolerance`` (default 0.15).
- any other key (counts, absolute rates): never compared nor stored; ``--info`` shows them.

Direction: a ``*_ratio`` key is lower-is-better unless the module lists it in a module-level
``HIGHER_IS_BETTER: set[str]`` (e.g. a throughput fraction of bare SimPy). A module with
``measure()`` but no ``HIGHER_IS_BETTER`` gets a note (all its ratios are read as lower-is-better).

The baseline is ``benchmarks/baseline.json`` (``--baseline PATH``): ``{"format": 1,
"benchmarks": {name: {key: value}}, ...}``. ``--update`` writes the values just measured
(merged with the baseline's other benchmarks, so ``--only`` updates one), atomically.

Exit status: 0 nothing regressed (or ``--update`` written); 1 a key regressed, or a benchmark
failed to import or measure; 2 the baseline is missing or corrupt (run ``--update`` once).
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import math
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_BASELINE = HERE / "baseline.json"
FORMAT = 1
SELF = Path(__file__).stem


class BaselineError(Exception):
    pass


def benchmark_names() -> list[str]:
    return sorted(p.stem for p in HERE.glob("*.py")
                  if p.stem != SELF and not p.stem.startswith("_"))


def load_module(name: str) -> ModuleType:
    """Import ``benchmarks/<name>.py`` by path, as ``benchmarks.<name>``, repo root on sys.path."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    spec = importlib.util.spec_from_file_location(f"benchmarks.{name}", HERE / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def load_baseline(path: Path) -> dict[str, dict[str, float]]:
    if not path.exists():
        raise BaselineError(f"no baseline at {path}; run `python benchmarks/check_perf.py "
                            "--update` once to record one")
    try:
        data = json.loads(path.read_text())
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ValueError(f"expected an object with \"format\": {FORMAT}")
        benches = data["benchmarks"]
        if not isinstance(benches, dict):
            raise ValueError("\"benchmarks\" is not an object")
        return {str(name): {str(k): float(v) for k, v in keys.items()}
                for name, keys in benches.items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BaselineError(f"corrupt baseline {path}: {exc}; fix it or rewrite it with "
                            "--update") from exc


def write_baseline(path: Path, benches: dict[str, dict[str, float]]) -> None:
    data = {
        "format": FORMAT,
        "note": "written by benchmarks/check_perf.py --update; ratios only, machine-independent",
        "written": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "benchmarks": {name: dict(sorted(keys.items())) for name, keys in sorted(benches.items())},
    }
    fd, tmp = tempfile.mkstemp(prefix=".baseline.", suffix=".json.tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def kind(key: str) -> str:
    if key.endswith("_ratio"):
        return "ratio"
    if key.endswith("_exponent"):
        return "exponent"
    return "info"


def verdict(key: str, base: float | None, now: float, higher_better: bool, tol: float,
            exp_tol: float) -> tuple[str, str]:
    """Return (change as text, verdict)."""
    k = kind(key)
    if base is None:
        return "", "new"
    if k == "exponent":
        delta = now - base
        change = f"{delta:+.3f}"
        if delta > exp_tol:
            return change, "REGRESSED"
        return change, "improved" if delta < -exp_tol else "ok"
    if base == 0 or not math.isfinite(base) or not math.isfinite(now):
        return "", "info" if k == "info" else "?"
    rel = (now - base) / abs(base)
    change = f"{rel:+.1%}"
    if k == "info":
        return change, "info"
    worse = -rel if higher_better else rel
    if worse > tol:
        return change, "REGRESSED"
    return change, "improved" if worse < -tol else "ok"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("--only", action="append", metavar="NAME", choices=benchmark_names(),
                    help="run only this benchmark (repeatable); default: every one")
    ap.add_argument("--tolerance", type=float, default=0.10,
                    help="relative tolerance for *_ratio keys (default 0.10)")
    ap.add_argument("--exponent-tolerance", type=float, default=0.15,
                    help="absolute tolerance for *_exponent keys (default 0.15)")
    ap.add_argument("--baseline", type=Path, default=DEFAULT_BASELINE,
                    help=f"baseline file (default {DEFAULT_BASELINE.relative_to(ROOT)})")
    ap.add_argument("--info", action="store_true",
                    help="also show the keys that are not compared (counts, absolute rates)")
    ap.add_argument("--update", action="store_true",
                    help="write the values measured now as the new baseline")
    args = ap.parse_args(argv)

    try:
        baseline = load_baseline(args.baseline)
    except BaselineError as exc:
        if not args.update:
            print(f"check_perf: {exc}", file=sys.stderr)
            return 2
        print(f"note: {exc}; writing a fresh one", file=sys.stderr)
        baseline = {}

    measured: dict[str, dict[str, float]] = {}
    rows: list[tuple[str, str, str, str, str, str]] = []
    notes: list[str] = []
    failed = False
    for name in args.only or benchmark_names():
        try:
            module = load_module(name)
        except Exception:
            notes.append(f"{name}: ERROR importing:\n{traceback.format_exc()}")
            failed = True
            continue
        measure = getattr(module, "measure", None)
        if not callable(measure):
            notes.append(f"{name}: skipped (no measure() yet)")
            continue
        print(f"measuring {name} ...", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        try:
            values = {str(k): float(v) for k, v in measure().items()}
        except ModuleNotFoundError as exc:  # an optional peer (benchmarks' extra) is absent
            notes.append(f"{name}: skipped ({exc})")
            continue
        except Exception:
            notes.append(f"{name}: ERROR in measure():\n{traceback.format_exc()}")
            failed = True
            continue
        print(f"  {name}: {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
        higher = getattr(module, "HIGHER_IS_BETTER", None)
        if higher is None:
            higher = set()
            if any(kind(k) == "ratio" for k in values):
                notes.append(f"{name}: no HIGHER_IS_BETTER; its ratios read as lower-is-better")
        measured[name] = {k: v for k, v in values.items() if kind(k) != "info"}
        base = baseline.get(name, {})
        for key in sorted(values):
            if kind(key) == "info" and not args.info:
                continue
            change, v = verdict(key, base.get(key), values[key], key in higher, args.tolerance,
                                args.exponent_tolerance)
            b = f"{base[key]:.4g}" if key in base else "-"
            rows.append((name, key, b, f"{values[key]:.4g}", change, v))
        rows += [(name, key, f"{base[key]:.4g}", "-", "", "missing")
                 for key in sorted(set(base) - set(values))]

    if rows:
        heads = ("benchmark", "key", "baseline", "now", "change", "verdict")
        widths = [max(len(r[i]) for r in [heads, *rows]) for i in range(6)]
        for r in [heads, tuple("-" * w for w in widths), *rows]:
            print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    for note in notes:
        print(f"note: {note}")
    regressed = [f"{r[0]}:{r[1]}" for r in rows if r[5] == "REGRESSED"]

    if args.update:
        if measured:
            write_baseline(args.baseline, {**baseline, **measured})
            print(f"baseline written: {args.baseline} ({', '.join(sorted(measured))})")
        else:
            print("nothing measured; baseline left as it was")
        return 1 if failed else 0
    if regressed:
        print(f"REGRESSED beyond tolerance ({args.tolerance:.0%} for ratios, "
              f"{args.exponent_tolerance} for exponents): {', '.join(regressed)}")
        return 1
    print("no regression beyond tolerance" + ("; but a benchmark failed" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
