"""Regenerate the figures of docs/validation.md (into docs/validation/).

Run from the repository root: ``python docs/make_validation_figures.py`` makes every figure;
``--only NAME`` makes one (names: the keys of :data:`FIGURES`). Each figure is one function
that runs its validation with the defaults, writes the figure (and the result as JSON), and
prints the validation's text (the numbers quoted in docs/validation.md come from that text).
To add a figure, write a function ``(out_dir: Path) -> list[Path]`` and add it to
:data:`FIGURES`.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

DOCS = Path(__file__).resolve().parent
OUT = DOCS / "validation"


def egru_sensitivity(out_dir: Path) -> list[Path]:
    """EGRU LM on SpiNNaker2 against Nazeer et al. 2024 (Table II): time and power against
    activity and cycles per CSR weight (``validate_egru`` with its defaults)."""
    from simulator.validation.nazeer2024 import format_table, plot_sensitivity, validate_egru

    result = validate_egru(progress=True)
    print(format_table(result))
    out_dir.mkdir(parents=True, exist_ok=True)
    record = out_dir / "egru_validation.json"  # the numbers behind the doc, machine-readable
    record.write_text(result.to_json() + "\n", encoding="utf-8")
    return [plot_sensitivity(result, out_dir / "egru_sensitivity.png"), record]


def rwkv_waterfall(out_dir: Path) -> list[Path]:
    """RWKV-4 3B block on SENECA against Knunyants et al. 2025 (Tables III/IV): the gap
    decomposition from the paper's configuration to the default (``validate_rwkv``)."""
    from simulator.validation.knunyants2025 import format_table, plot_waterfall, validate_rwkv

    result = validate_rwkv()
    print(format_table(result))
    (out_dir / "rwkv_validation.json").write_text(result.model_dump_json(indent=1))
    return [plot_waterfall(result, out_dir / "rwkv_waterfall.png"), out_dir /
            "rwkv_validation.json"]


#: Every figure of docs/validation.md, by name.
FIGURES: dict[str, Callable[[Path], list[Path]]] = {
    "egru_sensitivity": egru_sensitivity,
    "rwkv_waterfall": rwkv_waterfall,
}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--only", choices=sorted(FIGURES), action="append",
                   help="make only this figure (repeatable)")
    p.add_argument("--out", type=Path, default=OUT, help=f"output folder (default {OUT})")
    args = p.parse_args(argv)
    for name in args.only or list(FIGURES):
        start = time.perf_counter()
        paths = FIGURES[name](args.out)
        shown = ", ".join(str(q.relative_to(Path.cwd()) if q.is_relative_to(Path.cwd()) else q)
                          for q in paths)
        print(f"{name}: {shown} ({time.perf_counter() - start:.1f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":  # worker processes (spawn) import this file: run only as a script
    raise SystemExit(main())
