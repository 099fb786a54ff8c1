"""``nmsim egru-sweep``: EGRU layers partitioned over N cores of a chip, for a range of N."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys
from functools import partial
from pathlib import Path

from simulator.argtypes import (
    MAX_PES,
    MAX_POINTS,
    ArgumentUserError,
    check_sweep_size,
    parse_pes,
)
from simulator.chips.registry import ChipError
from simulator.commands.chip_options import add_chip_options, chip_from_args, parse_options
from simulator.commands.timeline_options import add_timeline_options, make_timeline
from simulator.errors import UserError
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
from simulator.outputs import check_output_dir, check_output_file
from simulator.sweep import interruptible, read_rows
from simulator.timeline import Timeline
from workloads.egru_partition import LAYER_SPLITS, STRATEGIES
from workloads.trace import Trace

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
    p.add_argument("--model", default=None,
                   help=f"{' or '.join(MODELS)} or an EGRU checkpoint path (default: paper: "
                        "synthetic 1350/1350/750, 95%% pruned)")
    p.add_argument("--trace", metavar="FILE.npz", help="a saved EGRU trace instead of --model "
                   "(not both)")
    p.add_argument("--yes", action="store_true", help=f"run a sweep larger than "
                   f"{MAX_POINTS:,} points or {MAX_PES:,} cores a point (refused otherwise, "
                   "with its size stated)")
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
    p.add_argument("--scheduler", metavar="ADDRESS|local",
                   help="run the points on this Dask distributed scheduler (tcp://HOST:8786), "
                        "or 'local': start a LocalCluster of 2 worker processes for the run")
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


def check_inputs(args: argparse.Namespace) -> None:
    """``--model`` xor ``--trace``, the trace file or checkpoint readable, and the sweep's
    size within bounds (or ``--yes``): a :class:`UserError` before any point runs."""
    if args.trace is not None and args.model is not None:
        raise UserError(f"give --model or --trace, not both (--model {args.model!r}, --trace "
                        f"{args.trace!r}): a saved trace brings its own network")
    check_sweep_size(args.pes, len(args.pes) * len(args.strategy), args.yes)
    if args.trace is not None:
        kind = Trace.load(args.trace).meta.kind  # a TraceError names the file and the problem
        if kind != "egru":
            raise UserError(f"--trace {args.trace}: a {kind} trace; egru-sweep needs an EGRU "
                            "trace (nmsim trace egru)")
    elif args.model not in (None, *MODELS):
        if not Path(args.model).is_file():
            raise UserError(f"--model {args.model!r}: not {' or '.join(MODELS)} nor an "
                            "existing EGRU checkpoint file")
        from models.egru import load_egru  # torch: a checkpoint is run

        load_egru(args.model)  # an EgruCheckpointError names the file and the key


def parse_strategies(text: str) -> list[str]:
    names = [s.strip() for s in text.split(",") if s.strip()]
    bad = [s for s in names if s not in STRATEGIES]
    if bad or not names:
        raise ArgumentUserError(f"unknown {bad or text!r}; choose from {', '.join(STRATEGIES)}, "
                                "comma-separated")
    return names


def run(args: argparse.Namespace) -> int:
    check_output_dir(args.out, "--out")  # before any work: a bad --out fails now
    check_output_file(args.timeline, "--timeline")
    try:
        chip = chip_from_args(args)
    except ChipError as e:
        print(f"nmsim egru-sweep: error: {e}", file=sys.stderr)
        return 2
    check_inputs(args)  # before any work: the model or trace, and the sweep's size
    options = tuple(sorted(parse_options(args.option).items()))
    specs = points(args.pes, args.strategy, layer_split=args.layer_split,
                   model=args.model or "paper",
                   trace=args.trace, steps=args.steps, seed=args.seed, chip=args.chip,
                   chip_set=tuple(args.set_), options=options)
    client, stack = None, contextlib.ExitStack()
    if args.scheduler:  # "local": a LocalCluster for this run; a dead address fails in seconds
        from simulator.dask_client import dask_client

        client = stack.enter_context(dask_client(args.scheduler))
    progress = True  # on stderr, with --json too (stdout stays the JSON alone)
    try:
        with interruptible():
            timeline = make_timeline(args)
            first = (_timeline_point(specs[0], chip.cost().clock_hz, timeline, args.timeline,
                                     args.out, progress)
                     if timeline is not None else None)
            # with --out the sweep finds the first point done; without, it must not redo it
            kept = first if first is not None and args.out is None else None
            result = run_sweep(specs[1:] if kept else specs, args.out, client=client,
                               workers=args.workers, progress=progress)
    except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM: workers stopped, finished points kept
        return _interrupted(e, args.out)
    finally:
        stack.close()
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


def _interrupted(e: KeyboardInterrupt, out: Path | None) -> int:
    signum = getattr(e, "signum", signal.SIGINT)
    kept = (f"the {len(read_rows(out))} finished points are kept in {out}; run the same "
            "command to resume" if out else "finished points are not kept without --out")
    print(f"nmsim egru-sweep: interrupted ({signal.Signals(signum).name}); {kept}",
          file=sys.stderr)
    return 128 + signum


def _timeline_point(spec: PointSpec, clock: int, timeline: Timeline, path: Path,
                    out: Path | None, progress: bool) -> SweepResult:
    """Run ``spec`` in this process with a timeline and write it (Perfetto JSON). Its row goes
    to ``out`` like any other point, so the sweep that follows does not run it again; it is
    simulated even if ``out`` has it already (the timeline needs the run)."""
    result = run_sweep([spec], out, workers=0, progress=progress,
                       point_fn=partial(run_point, timeline=timeline), force=True)
    timeline.write(path, clock, f"egru-sweep N={spec.pes} {spec.strategy}")
    print(f"timeline: {path} ({len(timeline.spans)} spans, {timeline.dropped} dropped)",
          file=sys.stderr)
    return result
