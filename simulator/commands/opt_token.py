"""``nmsim opt-token``: one token through one OPT decoder layer at context L, dense vs sparse."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tqdm import tqdm

from simulator.argtypes import non_negative_int, positive_int
from simulator.chips.memory import CoreMemoryError
from simulator.chips.registry import ChipError
from simulator.commands.chip_options import add_chip_options, chip_from_args
from simulator.outputs import check_output_dir
from workloads.trace import TraceError

#: the published sparsified OPT-2.7B profiles (``workloads.opt_inputs.SPARSE_PROFILES``;
#: repeated so that ``--help`` imports no workload code; a test checks they agree)
PROFILES = ("published-2.7b-1.0003", "published-2.7b-1.0004", "published-2.7b-1.0005")
KV_PLACEMENTS = ("auto", "cores", "dram")


def add_layer_options(p: argparse.ArgumentParser) -> None:
    """The OPT layer's workload and mapping options."""
    p.add_argument("--model", default=None, metavar="2.7B|1.3B|125M|tiny",
                   help="a size (default 2.7B): a synthetic OPT layer with the published "
                   "OPT-2.7B sparsity profiles; tiny: the shipped tiny OPT on real text, dense "
                   "and with its shipped thresholds")
    p.add_argument("--profile", choices=PROFILES, default=None,
                   help="the sparse run's published profile (loss_inc 1.0003/4/5; default "
                   "published-2.7b-1.0005); the dense run is published-2.7b-base")
    p.add_argument("--tokens", type=positive_int, default=None,
                   help="tokens simulated and averaged (default: 1 synthetic, whose tokens "
                   "carry the same number of non-zeros; 8 real)")
    p.add_argument("--layer", type=non_negative_int, default=None,
                   help="which decoder layer (default: 0 synthetic, 1 tiny)")
    p.add_argument("--kv-placement", choices=KV_PLACEMENTS, default="auto",
                   help="where the KV cache stays: auto (default: attention cores' memory while "
                   "--kv-cores-per-head cores hold a head's share, else off-chip), cores, or "
                   "dram (streamed from off-chip memory every token)")
    p.add_argument("--kv-cores-per-head", type=positive_int, default=4,
                   help="attention cores per head that may hold (auto) or stream (dram) a "
                   "head's cache (default 4, an assumption)")
    p.add_argument("--kv-chunk-bytes", type=positive_int, default=4096,
                   help="bytes of one DMA chunk of a streamed cache (default 4096)")
    p.add_argument("--seed", type=int, default=0, help="seed of a synthetic trace")
    p.add_argument("--workers", type=positive_int, default=min(2, os.cpu_count() or 1),
                   help="processes: 2 runs dense and sparse side by side (default: 2 where "
                   "the machine has 2 cores; the result is the same)")


def register(cli) -> None:
    p = cli.add("opt-token", help="simulate one token through one OPT decoder layer at context "
                "length L on a chip, dense vs activation-sparse: attention with a KV cache "
                "(held in core memory or streamed from off-chip memory) and the ReLU FFN")
    add_chip_options(p, "seneca")
    add_layer_options(p)
    p.add_argument("--context", type=positive_int, default=1024,
                   help="tokens the new token attends to, itself included (default 1024)")
    p.add_argument("--trace", type=Path, metavar="SPARSE.npz", help="an OPT trace for the "
                   "sparse run (e.g. from workloads.opt_trace, saved with Trace.save)")
    p.add_argument("--dense-trace", type=Path, metavar="DENSE.npz",
                   help="its dense counterpart (default with --trace: every input non-zero)")
    p.add_argument("--out", type=Path, metavar="DIR", help="write result.json and breakdown.csv")
    p.add_argument("--json", action="store_true", help="print the result JSON")
    p.set_defaults(func=run)


def layer_config(args: argparse.Namespace):
    from simulator.mappings.opt_layer import OptMapConfig

    return OptMapConfig(kv_placement=args.kv_placement, kv_cores_per_head=args.kv_cores_per_head,
                        kv_chunk_bytes=args.kv_chunk_bytes)


def run(args: argparse.Namespace) -> int:
    from simulator.commands.rwkv_token import write_result
    from simulator.jobs.opt_token import MappingError, format_table, map_layer, opt_token
    from workloads.opt_inputs import load_traces

    check_output_dir(args.out, "--out")
    try:
        chip = chip_from_args(args)
        dense, sparse = load_traces(model=args.model, trace=args.trace,
                                    dense_trace=args.dense_trace, profile=args.profile,
                                    tokens=args.tokens, context=args.context, seed=args.seed,
                                    layer=args.layer)
        map_layer(sparse, chip, args.context, args.layer, layer_config(args))  # fails now
        with tqdm(total=2, desc="opt-token", unit="run") as bar:
            def step(mode: str) -> None:
                if mode == "sparse":
                    bar.update(1)
                bar.set_postfix_str(mode)

            result = opt_token(dense, sparse, chip, context=args.context, tokens=args.tokens,
                               layer=args.layer, job=layer_config(args), progress=step,
                               workers=args.workers,
                               seed=args.seed if sparse.meta.synthetic else None)
            bar.update(bar.total - bar.n)
    except (ChipError, TraceError, MappingError, CoreMemoryError, ValueError, OSError) as e:
        print(f"nmsim opt-token: error: {e}", file=sys.stderr)
        return 2
    if args.out:
        write_result(result, args.out)
    if args.json:
        print(result.model_dump_json(indent=1))
    else:
        print(format_table(result))
        if args.out:
            print(f"wrote {args.out / 'result.json'} and {args.out / 'breakdown.csv'}")
    return 0
