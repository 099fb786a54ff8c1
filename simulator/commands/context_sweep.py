"""``nmsim context-sweep``: energy and latency per token against context L, OPT vs RWKV."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from simulator.argtypes import non_negative_int, parse_contexts, positive_int
from simulator.chips.registry import ChipError
from simulator.commands.chip_options import add_chip_options, chip_from_args, parse_options
from simulator.commands.opt_token import PROFILES
from simulator.outputs import check_output_dir

#: ``simulator.jobs.context_sweep.DEFAULT_CONTEXTS`` and the synthetic sizes
#: (``workloads.opt_synthetic.OPT_SIZES``, ``workloads.rwkv_synthetic.RWKV4_SIZES``), repeated
#: so that ``--help`` imports no job; a test checks they agree
DEFAULT_CONTEXTS = "1,16,64,256,512,1024,2048,3072,4096"
OPT_SIZES = ("125M", "1.3B", "2.7B")
RWKV_SIZES = ("169M", "430M", "1.5B", "3B")


def register(cli) -> None:
    p = cli.add("context-sweep", help="energy and latency per token against context length L: "
                "one OPT-2.7B decoder layer (attention over a KV cache that grows with L) "
                "against one RWKV-4 3B block (a recurrent state that does not), dense and "
                "sparse, on the same chip")
    add_chip_options(p, "seneca")
    p.add_argument("--contexts", type=parse_contexts, default=parse_contexts(DEFAULT_CONTEXTS),
                   metavar="L,L,START:STOP:STEP", help=f"context lengths (default "
                   f"{DEFAULT_CONTEXTS})")
    p.add_argument("--opt-model", choices=OPT_SIZES, default="2.7B",
                   help="OPT size (default 2.7B; all with the 2.7B profiles)")
    p.add_argument("--rwkv-model", choices=RWKV_SIZES, default="3B",
                   help="RWKV-4 size (default 3B; all with the 3B profiles)")
    p.add_argument("--profile", choices=PROFILES, default="published-2.7b-1.0005",
                   help="the sparse OPT runs' published profile (default "
                   "published-2.7b-1.0005); RWKV's is published-3b-sparse")
    p.add_argument("--kv-placement", choices=("auto", "cores", "dram"), default="auto",
                   help="where the OPT KV cache stays (see nmsim opt-token --help)")
    p.add_argument("--kv-cores-per-head", type=positive_int, default=4,
                   help="attention cores per head (default 4, an assumption)")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic traces")
    p.add_argument("--workers", type=non_negative_int, default=os.cpu_count() or 1,
                   help="points run in parallel (default: the CPU count; 0: in this process)")
    p.add_argument("--out", type=Path, metavar="DIR", help="write sweep.csv/json/parquet (each "
                   "point as it finishes; rerun to resume) and context.png/.svg")
    p.add_argument("--json", action="store_true", help="print the tidy rows as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulator.jobs.context_sweep import broadcast, format_table, points, run_sweep
    from simulator.sweep import interruptible, read_rows

    check_output_dir(args.out, "--out")
    try:
        chip_from_args(args)  # a bad chip, --set or --option fails before any point runs
    except ChipError as e:
        print(f"nmsim context-sweep: error: {e}", file=sys.stderr)
        return 2
    specs = points(args.contexts, chip=args.chip, chip_set=tuple(args.set_),
                   options=tuple(sorted(parse_options(args.option).items())),
                   kv_placement=args.kv_placement, kv_cores_per_head=args.kv_cores_per_head,
                   profile=args.profile, opt_size=args.opt_model, rwkv_size=args.rwkv_model,
                   seed=args.seed)
    try:
        with interruptible():
            result = run_sweep(specs, args.out, workers=args.workers)
    except KeyboardInterrupt as e:
        signum = getattr(e, "signum", signal.SIGINT)
        kept = (f"the {len(read_rows(args.out))} finished points are kept in {args.out}; run "
                "the same command to resume" if args.out else "no --out: nothing kept")
        print(f"nmsim context-sweep: interrupted ({signal.Signals(signum).name}); {kept}",
              file=sys.stderr)
        return 128 + signum
    rows = broadcast(result.rows)
    if args.out and rows:
        from simulator.plots import save
        from simulator.plots.context_sweep import context_figure

        fig = context_figure(rows)
        for ext in (".png", ".svg"):
            save(fig, args.out / f"context{ext}")
    if args.json:
        print(json.dumps([{k: v for k, v in r.items() if k != "key"} for r in rows], indent=1))
    else:
        print(format_table(result.rows))
        if args.out:
            print(f"wrote {args.out}/sweep.csv, sweep.json, sweep.parquet, context.png, "
                  "context.svg")
    for key, error in result.failed.items():
        print(f"point failed: {key}: {error}", file=sys.stderr)
    return 1 if result.failed else 0
