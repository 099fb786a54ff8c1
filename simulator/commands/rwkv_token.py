"""``nmsim rwkv-token``: one token through one RWKV-4 block, dense vs sparse (job 1)."""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from simulator.argtypes import non_negative_int, positive_int
from simulator.chips.memory import CoreMemoryError
from simulator.chips.registry import ChipError
from simulator.commands.chip_options import add_chip_options, chip_from_args
from simulator.commands.timeline_options import add_timeline_options, make_timeline
from simulator.mappings.rwkv_block import (
    ELEMENTWISE_STAGES,
    STRATEGIES,
    BlockMapConfig,
    MappingError,
)
from simulator.outputs import (
    atomic_open,
    check_output_dir,
    check_output_file,
    ensure_dir,
    write_atomic,
)
from workloads.trace import TraceError

if TYPE_CHECKING:
    from simulator.results import OptTokenResult, RwkvTokenResult

BREAKDOWN_FIELDS = ("mode", "sub_block", "site", "component", "operation", "category", "count",
                    "energy_j", "cycles")


def register(cli) -> None:
    p = cli.add("rwkv-token", help="simulate one token through one RWKV-4 block on a chip, dense "
                "vs activation-sparse: energy and latency by sub-block, category and operation")
    add_chip_options(p, "seneca")
    p.add_argument("--model", default=None, metavar="tiny|SIZE|PATH",
                   help="tiny: the shipped tiny model on real text; a size "
                   "(169M, 430M, 1.5B, 3B): a synthetic trace with the published 3B sparsity "
                   "profile; PATH: your RWKV-4 .pth (needs --thresholds and --tokenizer). "
                   "Default: 3B synthetic")
    p.add_argument("--trace", type=Path, metavar="SPARSE.npz",
                   help="a trace from `nmsim trace rwkv` for the sparse run")
    p.add_argument("--dense-trace", type=Path, metavar="DENSE.npz",
                   help="its dense counterpart (default with --trace: every input non-zero)")
    p.add_argument("--thresholds", type=Path, help="thresholds file for --model PATH (from "
                   "`nmsim sparsify rwkv`)")
    p.add_argument("--tokenizer", help="char | world | tokenizer.json, for --model PATH")
    p.add_argument("--text-file", type=Path, help="input text for a real model (default: the "
                   "held-out part of the shipped corpus)")
    p.add_argument("--tokens", type=positive_int, default=None,
                   help="tokens simulated and averaged (default: 1 synthetic, 16 real)")
    p.add_argument("--block", type=non_negative_int, default=None,
                   help="which block of the model (default: 0 synthetic, 1 real)")
    p.add_argument("--strategy", choices=STRATEGIES, default="dataflow",
                   help="dataflow (default: element-wise stages on the tiles and on channel "
                   "owners beside them, only non-zero results travel on); rows or columns "
                   "(every output gathered on control cores; weights tiled by output rows, "
                   "events multicast, or by input columns, partial sums combined)")
    p.add_argument("--latency", choices=("simulated", "serial"), default="simulated",
                   help="simulated (default: the time the run takes) or serial (every "
                   "operation's time added up, an analytical study's assumption)")
    p.add_argument("--omit-stage", action="append", default=[], metavar="STAGE",
                   choices=ELEMENTWISE_STAGES,
                   help="do not charge this element-wise stage (repeatable; "
                   f"{', '.join(ELEMENTWISE_STAGES)}); the paper's analysis omits layer_norm")
    p.add_argument("--seed", type=int, default=0, help="seed of a synthetic trace")
    p.add_argument("--workers", type=positive_int, default=min(2, os.cpu_count() or 1),
                   help="processes: 2 runs dense and sparse side by side (default: 2 where "
                   "the machine has 2 cores; the result is the same)")
    p.add_argument("--out", type=Path, metavar="DIR", help="write result.json and breakdown.csv")
    p.add_argument("--json", action="store_true", help="print the result JSON")
    add_timeline_options(p, "the sparse run")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulator.jobs.rwkv_token import format_table, rwkv_token
    from workloads.rwkv_inputs import load_traces

    check_output_dir(args.out, "--out")  # before any work: a bad --out fails now
    check_output_file(args.timeline, "--timeline")
    try:
        chip = chip_from_args(args)
        dense, sparse = load_traces(
            model=args.model, trace=args.trace, dense_trace=args.dense_trace,
            thresholds=args.thresholds, tokenizer=args.tokenizer, text_file=args.text_file,
            tokens=args.tokens, block=args.block, seed=args.seed,
        )
        timeline = make_timeline(args)
        with tqdm(total=2, desc="rwkv-token", unit="run") as bar:  # stderr, --json too
            def step(mode: str) -> None:
                if mode == "sparse":  # the dense run is done
                    bar.update(1)
                bar.set_postfix_str(mode)

            result = rwkv_token(dense, sparse, chip, tokens=args.tokens, block=args.block,
                                job=BlockMapConfig(strategy=args.strategy,
                                                   latency=args.latency,
                                                   omit_stages=tuple(args.omit_stage)),
                                timeline=timeline, progress=step, workers=args.workers,
                                seed=sparse.meta.extra.get("seed", args.seed)
                                if sparse.meta.synthetic else None)
            bar.update(bar.total - bar.n)
    except (ChipError, TraceError, MappingError, CoreMemoryError, ValueError, OSError) as e:
        print(f"nmsim rwkv-token: error: {e}", file=sys.stderr)
        return 2
    if args.out:
        write_result(result, args.out)
    if timeline is not None:
        timeline.write(args.timeline, result.provenance.clock_hz, "nmsim rwkv-token")
    if args.json:
        print(result.model_dump_json(indent=1))
    else:
        print(format_table(result))
        if args.out:
            print(f"wrote {args.out / 'result.json'} and {args.out / 'breakdown.csv'}")
        if timeline is not None:
            print(f"wrote {args.timeline} ({len(timeline.spans)} spans, {timeline.dropped} "
                  "dropped)")
    return 0


def write_result(result: RwkvTokenResult | OptTokenResult, out: Path) -> None:
    """result.json and breakdown.csv (the result's provenance on every row) of a per-token
    result, each written atomically (never torn)."""
    ensure_dir(out)
    write_atomic(out / "result.json", result.model_dump_json(indent=1))
    prov = result.provenance.model_dump()
    same = {k: prov.get(k) for k in result.CSV_PROVENANCE}
    with atomic_open(out / "breakdown.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=(*BREAKDOWN_FIELDS, *result.CSV_PROVENANCE))
        w.writeheader()
        w.writerows({**r.model_dump(), **same} for r in result.breakdown)
