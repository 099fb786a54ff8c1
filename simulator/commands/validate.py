"""``nmsim validate``: the simulator against the published results (docs/validation.md)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

#: what can be validated, and the paper each compares with
TARGETS = {"rwkv": "Knunyants et al. 2025, Tables III/IV (RWKV-4 3B block on SENECA)",
           "egru": "Nazeer et al. 2024, Table II and Fig. 2 (EGRU LM on SpiNNaker2)",
           "dvs": "Nazeer et al. 2024, §III-D (the DVS-gesture network's memory fit on 128 "
                  "PEs)",
           "opt": "Knunyants et al. 2025, §V (the OPT-2.7B sparsity profile through one "
                  "layer on SENECA)"}


def register(cli) -> None:
    p = cli.add("validate", help="compare the simulator with published results: every "
                "published cell, the paper's assumptions as a configuration, and the gap "
                "between them and the defaults, step by named step")
    p.add_argument("--only", choices=sorted(TARGETS), action="append",
                   help="validate only this (repeatable; default: all). " + "; ".join(
                       f"{k}: {v}" for k, v in TARGETS.items()))
    p.add_argument("--tokens", type=int, default=None,
                   help="RWKV: tokens of the synthetic 3B trace averaged (default 1, as "
                   "nmsim rwkv-token)")
    p.add_argument("--steps", type=int, default=None,
                   help="EGRU: steps simulated per configuration (at least 2), extrapolated "
                   "to the 70-token sequence (default 2)")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="write <target>.json and the figures (rwkv_waterfall.png, "
                   "egru_sensitivity.png) here")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulator.outputs import check_output_dir, ensure_dir, write_atomic

    check_output_dir(args.out, "--out")  # before any work: a bad --out fails now
    targets = args.only or sorted(TARGETS)
    for name, value, least in (("--tokens", args.tokens, 1), ("--steps", args.steps, 2)):
        if value is not None and value < least:
            print(f"nmsim validate: error: {name} must be at least {least}, got {value}",
                  file=sys.stderr)
            return 2
    results = {}
    for target in targets:
        if target == "rwkv":
            from simulator.validation import knunyants2025 as v

            with tqdm(desc="validate rwkv", unit="run", total=2 + len(v.STEPS),
                      ) as bar:  # on stderr, with --json too
                result = v.validate_rwkv(tokens=args.tokens,
                                         progress=lambda name: bar.update(1))
            text, figure = v.format_table(result), lambda r, d: v.plot_waterfall(
                r, d / "rwkv_waterfall.png")
        elif target == "dvs":
            from simulator.validation import nazeer2024_dvs as v

            result = v.validate_dvs()
            text, figure = v.format_table(result), None
        elif target == "opt":
            from simulator.validation import knunyants2025_opt as v

            with tqdm(desc="validate opt", unit="profile", total=4) as bar:
                result = v.validate_opt(progress=lambda name: bar.update(1))
            text, figure = v.format_table(result), None
        else:
            from simulator.validation import nazeer2024 as v

            kwargs = {} if args.steps is None else {"steps": args.steps}
            result = v.validate_egru(progress=True, **kwargs)  # stderr, --json too
            text, figure = v.format_table(result), lambda r, d: v.plot_sensitivity(
                r, d / "egru_sensitivity.png")
        results[target] = result
        if args.out:
            ensure_dir(args.out)
            write_atomic(args.out / f"{target}.json", result.model_dump_json(indent=1))
            if figure is not None:
                figure(result, args.out)
        if not args.json:
            print(text + "\n")
    if args.json:
        print("{" + ", ".join(f'"{k}": {r.model_dump_json(indent=1)}'
                              for k, r in results.items()) + "}")
    elif args.out:
        print(f"wrote {', '.join(f'{t}.json' for t in targets)} and the figures to {args.out}")
    return 0
