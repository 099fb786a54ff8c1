"""`nmsim trace egru`: write an EGRU event-stream trace, from real inference or synthetic."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from models.text import read_text_file
from simulator.argtypes import finite_float
from workloads.egru_trace import (
    DEFAULT_PROFILE,
    PAPER_SIZES,
    PAPER_SPARSITY,
    PROFILES,
    real_egru_trace,
    summarize,
    synthetic_egru_trace,
)

#: ``models.egru.STATE_CARRY_CHOICES``, repeated so that ``--help`` does not import torch (a
#: test checks that they agree)
STATE_CARRY_CHOICES = ("y_and_h", "y_only")


def register(cli) -> None:
    p = cli.add(
        "egru",
        help="Write an EGRU event trace: real inference of the shipped tiny model or a "
        "checkpoint, or synthetic at the SpiNNaker2 LM's size (750 -> 1350/1350/750) with "
        "pruned random weights and a per-layer activity profile. Prints activity, events and "
        "MACs per step and the product rule.",
        group="trace",
    )
    p.add_argument("--model", default="tiny", metavar="tiny|paper|PATH",
                   help="tiny: the shipped tiny model (real inference, default); paper: "
                   "synthetic, SpiNNaker2 LM size; PATH: an EGRU checkpoint (real inference)")
    p.add_argument("--steps", type=_positive, default=8, help="timesteps (default 8)")
    p.add_argument("--out", "-o", type=Path, metavar="FILE.npz", help="trace file to write")
    real = p.add_argument_group("real inference (tiny or PATH)")
    real.add_argument("--text", type=Path, metavar="FILE", help="input text (default: the "
                      "held-out last 10%% of the shipped corpus)")
    real.add_argument("--carry", choices=STATE_CARRY_CHOICES, default="y_and_h",
                      help="what a new call takes over from the last one: y_and_h (default: "
                      "events and cell state, one continuous sequence, as a chip runs it) or "
                      "y_only (events only, the cell state restarts at 0: the EvNN "
                      "reference's convention); matters only with --call-steps")
    real.add_argument("--call-steps", type=_positive, metavar="N",
                      help="read the text as calls of N tokens (the reference trains and "
                      "evaluates in calls of 70); default: one call")
    syn = p.add_argument_group("synthetic (paper)")
    syn.add_argument("--sparsity", type=finite_float(0.0, 1.0, high_open=True),
                     default=PAPER_SPARSITY,
                     help=f"weight sparsity of every matrix (default {PAPER_SPARSITY})")
    syn.add_argument("--activity", default=DEFAULT_PROFILE,
                     help=f"per-layer activity: {' or '.join(PROFILES)} (default: the tiny "
                     "model's measured activity), one fraction, comma-separated fractions "
                     "per layer, or a JSON file with an 'activity' mapping")
    syn.add_argument("--seed", type=int, default=0, help="seed of the synthetic trace")
    p.set_defaults(func=run)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_activity(text: str) -> str | float | list[float]:
    """A profile name or file stays a string; '0.1' is one fraction; '0.1,0.2,0.3' a list."""
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        return text
    return values[0] if len(values) == 1 else values


def run(args: argparse.Namespace) -> int:
    from simulator.outputs import check_output_file

    check_output_file(args.out, "--out")  # before any work: a bad --out fails now
    try:
        if args.model == "paper":
            trace = synthetic_egru_trace(PAPER_SIZES, args.sparsity,
                                         parse_activity(args.activity), args.steps, args.seed)
        else:
            text = read_text_file(args.text, "--text") if args.text else None
            trace = real_egru_trace(None if args.model == "tiny" else args.model, args.steps,
                                    text=text, progress=True, carry=args.carry,
                                    call_steps=args.call_steps)
        if args.out:
            trace.save(args.out)
    except (ValueError, OSError, KeyError) as e:
        print(f"nmsim trace egru: error: {e}", file=sys.stderr)
        return 2
    print(summarize(trace))
    if args.out:
        print(f"wrote {args.out}")
    return 0
