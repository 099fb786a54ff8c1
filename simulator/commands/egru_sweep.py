"""``nmsim egru-sweep``: EGRU layers partitioned over N cores of a chip, for a range of N."""

from __future__ import annotations

import argparse
import json
import sys
from functools import partial
from pathlib import Path

from simulator.chips.registry import ChipError
from simulator.commands.chip_options import add_chip_options, chip_from_args, parse_options
from simulator.commands.timeline_options import add_timeline_options, make_timeline
from simulator.jobs.egru_sweep import (
    DEFAULT_CHIP,
    DEFAULT_PES,
    DEFAULT_STEPS,
    MODELS,
    PointSpec,
    SweepResult,
    format_table,
    points,
    run_point,
    run_sweep,
)
from simulator.timeline import Timeline
from workloads.egru_partition import LAYER_SPLITS, STRATEGIES

#: keys of each point printed by ``--json`` (the full rows are in ``--out``'s sweep.json)
JSON_KEYS = ("pes", "fits", "max_pe_bytes", "overflow_bytes", "latency_s", "energy_j", "stages",
             "strategy")


def register(cli) -> None:
    p = cli.add("egru-sweep", help="sweep the number of cores (SpiNNaker2 PEs, SENECA cores) an "
                "EGRU network is partitioned over: memory fit, latency, energy and stage "
                "profile per N")
    add_chip_options(p, DEFAULT_CHIP)
    p.add_argument("--pes", type=parse_pes, default=DEFAULT_PES, metavar="LIST",
                   help="N values: a list and/or ranges START:STOP:STEP (STOP included), e.g. "
                        "'60,90,120:300:60' (default: " + ",".join(map(str, DEFAULT_PES)) + ")")
    p.add_argument("--model", default="paper",
                   help=f"{' or '.join(MODELS)} or an EGRU checkpoint path (default: paper: "
                        "synthetic 1350/1350/750, 95%% pruned)")
    p.add_argument("--trace", metavar="FILE.npz", help="a saved EGRU trace instead of --model")
    p.add_argument("--strategy", type=parse_strategies, default=list(STRATEGIES),
                   metavar="LIST", help="neuron partitioning inside a layer, comma-separated: "
                   f"{', '.join(STRATEGIES)} (default: both, compared)")
    p.add_argument("--layer-split", choices=LAYER_SPLITS, default="nnz",
                   help="PEs per layer: 'nnz' in proportion to stored non-zeros (default), "
                        "'equal' as the paper (50/50/50 for 150)")
    p.add_argument("--steps", type=_positive, default=DEFAULT_STEPS,
                   help=f"timesteps simulated per point (default {DEFAULT_STEPS})")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic trace")
    p.add_argument("--out", type=Path, metavar="DIR", help="write sweep.csv, sweep.parquet and "
                   "sweep.json, one row per point as it finishes; finished points are skipped")
    p.add_argument("--json", action="store_true", help="print the points as a JSON list")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="run the points on this Dask distributed scheduler")
    p.add_argument("--workers", type=_non_negative, metavar="N",
                   help="local worker processes (default: CPU count; 0: in this process)")
    add_timeline_options(p, "the first point")
    p.set_defaults(func=run)


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be at least 0, got {value}")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_pes(text: str) -> list[int]:
    """'60,90,120:300:60' -> [60, 90, 120, 180, 240, 300]."""
    out: list[int] = []
    try:
        for item in filter(None, (s.strip() for s in text.split(","))):
            if ":" in item:
                start, stop, *step = (int(v) for v in item.split(":"))
                if len(step) > 1:
                    raise ValueError(item)
                out.extend(range(start, stop + 1, step[0] if step else 1))
            else:
                out.append(int(item))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--pes: cannot read {text!r}; give numbers and ranges START:STOP:STEP") from None
    if not out or min(out) < 1:
        raise argparse.ArgumentTypeError(f"--pes: need positive PE counts, got {text!r}")
    return list(dict.fromkeys(out))


def parse_strategies(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in names if s not in STRATEGIES]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"--strategy: unknown {bad}; choose from {STRATEGIES}")
    return names


def run(args: argparse.Namespace) -> int:
    try:
        chip = chip_from_args(args)
    except ChipError as e:
        print(f"nmsim egru-sweep: error: {e}", file=sys.stderr)
        return 2
    options = tuple(sorted(parse_options(args.option).items()))
    specs = points(args.pes, args.strategy, layer_split=args.layer_split, model=args.model,
                   trace=args.trace, steps=args.steps, seed=args.seed, chip=args.chip,
                   chip_set=tuple(args.set_), options=options)
    client = None
    if args.scheduler:
        from distributed import Client

        client = Client(args.scheduler)
    progress = not args.json
    try:
        timeline = make_timeline(args)
        first = (_timeline_point(specs[0], chip.cost().clock_hz, timeline, args.timeline,
                                 args.out, progress)
                 if timeline is not None else None)
        # with --out the sweep finds the first point done; without, it must not redo it
        kept = first if first is not None and args.out is None else None
        result = run_sweep(specs[1:] if kept else specs, args.out, client=client,
                           workers=args.workers, progress=progress)
    finally:
        if client is not None:
            client.close()
    mine = {s.key() for s in specs}
    rows = [r for r in (kept.rows if kept else []) + result.rows if r["key"] in mine]
    failed = {**(kept.failed if kept else {}), **result.failed}
    if args.json:
        print(json.dumps([{k: r[k] for k in JSON_KEYS} for r in rows], indent=1))
    else:
        if rows:
            print(rows[0]["trace_label"])
        print(format_table(rows))
    for key, error in failed.items():
        print(f"point failed: {key}: {error}", file=sys.stderr)
    return 1 if failed else 0


def _timeline_point(spec: PointSpec, clock: int, timeline: Timeline, path: Path,
                    out: Path | None, progress: bool) -> SweepResult:
    """Run ``spec`` in this process with a timeline and write it (Perfetto JSON). Its row goes
    to ``out`` like any other point, so the sweep that follows does not run it again."""
    result = run_sweep([spec], out, workers=0, progress=progress,
                       point_fn=partial(run_point, timeline=timeline))
    timeline.write(path, clock, f"egru-sweep N={spec.pes} {spec.strategy}")
    print(f"timeline: {path} ({len(timeline.spans)} spans, {timeline.dropped} dropped)",
          file=sys.stderr)
    return result
