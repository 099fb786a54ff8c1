"""``nmsim calibrate``: the validation report of every chip's reference measurements, and the
fit of the parameters that are not published."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from calibration.schema import cited_values
from simulator.chips import registry


def register(cli) -> None:
    p = cli.add("calibrate", help="compare the chip models with published reference "
                "measurements (simulated vs published, error, fitted or held out)")
    p.add_argument("--report", action="store_true",
                   help="print the validation report (the default action)")
    p.add_argument("--fit", action="store_true",
                   help="re-run the fits and compare them with the values in the cost tables")
    p.add_argument("--json", action="store_true", help="print as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    out: dict = {}
    if args.fit:
        out["fit"] = _fit()
    if args.report or not args.fit:
        from simulator.references import format_report, report_rows

        rows = report_rows()
        out["report"] = [{**asdict(r), "error": r.error} for r in rows]
        if not args.json:
            print(format_report(rows))
    if args.json:
        print(json.dumps(out, indent=1))
    elif args.fit:
        print(_format_fit(out["fit"]))
    return 0


def _fit() -> dict:
    """Per chip with a fitter: converged?, and per parameter the fitted and the tabled value."""
    out = {}
    for chip in registry.names():
        fitter = registry.get(chip).fitter
        if fitter is None:
            continue
        result = fitter()
        table = cited_values(registry.default_config(chip))
        out[chip] = {
            "converged": result.success,
            "parameters": {k: {"fitted": v, "table": table[k].value if k in table else None}
                           for k, v in result.params.items()},
        }
    return out


def _format_fit(fit: dict) -> str:
    lines = []
    for chip, res in fit.items():
        lines.append(f"{chip}: fit converged: {res['converged']}")
        for k, v in res["parameters"].items():
            fitted, tab = v["fitted"], v["table"]
            same = tab is not None and abs(tab - fitted) <= 1e-3 * abs(fitted)
            lines.append(f"  {k:45s} fitted {fitted:<12.5g} table "
                         f"{'—' if tab is None else f'{tab:.5g}':<12}"
                         + ("" if same else f"  <- differs: update the {chip} cost table"))
    return "\n".join(lines)
