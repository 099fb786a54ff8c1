"""`nmsim trace rwkv`: write an RWKV-4 event-stream trace, from real inference or synthetic."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from models.text import read_text_file
from simulator.argtypes import non_negative_int, positive_int
from workloads.rwkv_summary import measured_profile, summarize
from workloads.rwkv_synthetic import PROFILES, RWKV4_SIZES, save_profile, synthetic_rwkv_trace


def register(cli) -> None:
    p = cli.add(
        "rwkv",
        help="Write an RWKV-4 event trace: real inference (shipped tiny model or a .pth, dense "
        "or with thresholds) or synthetic at a published size from a sparsity profile.",
        group="trace",
    )
    p.add_argument("--out", "-o", type=Path, required=True, help="trace file to write (.npz)")
    p.add_argument("--tokens", type=positive_int, help="tokens to record or synthesise "
                   "(default: 32 real, 4 synthetic)")
    real = p.add_argument_group("real inference (default)")
    real.add_argument("--checkpoint", help="official-layout RWKV-4 .pth (default: shipped tiny)")
    real.add_argument("--thresholds", help="thresholds file from `nmsim sparsify rwkv` "
                      "(default: dense), e.g. models/artifacts/rwkv_tiny_thresholds.json")
    real.add_argument("--skip", type=non_negative_int, default=0,
                      help="tokens to run before recording")
    real.add_argument("--text-file", type=Path, help="input text (default for the tiny model: "
                      "the held-out part of the shipped corpus)")
    real.add_argument("--tokenizer", help="char | world | path to a tokenizer.json "
                      "(needed with --checkpoint and --text-file)")
    real.add_argument("--blocks", type=non_negative_int, nargs="+",
                      help="blocks to record (default all)")
    real.add_argument("--profile-out", type=Path,
                      help="also write the trace's measured per-site sparsity profile (JSON), "
                      "usable as --profile of a synthetic trace")
    syn = p.add_argument_group("synthetic")
    syn.add_argument("--synthetic", action="store_true", help="synthesise instead of running")
    syn.add_argument("--size", choices=list(RWKV4_SIZES), default="3B")
    syn.add_argument("--profile", default="published-3b-sparse",
                     help=f"one of {sorted(PROFILES)} or a profile file (--profile-out)")
    syn.add_argument("--n-blocks", type=positive_int, default=1,
                     help="blocks to synthesise (default 1)")
    syn.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulator.outputs import check_output_file

    check_output_file(args.out, "--out")  # before any work: a bad output fails now
    check_output_file(args.profile_out, "--profile-out")
    try:
        if args.synthetic:
            trace = synthetic_rwkv_trace(args.size, args.profile, n_tokens=args.tokens or 4,
                                         n_blocks=args.n_blocks, seed=args.seed)
        else:
            from models.rwkv import load_tokenizer  # real inference: torch
            from workloads.rwkv_trace import rwkv_trace_from_model

            trace = rwkv_trace_from_model(
                args.checkpoint,
                thresholds=args.thresholds,
                text=read_text_file(args.text_file) if args.text_file else None,
                tokenizer=load_tokenizer(args.tokenizer) if args.tokenizer else None,
                n_tokens=args.tokens or 32,
                skip=args.skip,
                blocks=args.blocks,
                progress=True,
            )
        trace.save(args.out)
    except (ValueError, OSError, ImportError) as e:
        print(f"nmsim trace rwkv: error: {e}", file=sys.stderr)
        return 2
    print(summarize(trace))
    print(f"wrote {args.out}")
    if args.profile_out and not args.synthetic:
        save_profile(args.profile_out, f"measured: {trace.meta.model}", measured_profile(trace),
                     source=f"{args.out} ({trace.meta.n_steps} tokens)")
        print(f"wrote {args.profile_out}")
    return 0
