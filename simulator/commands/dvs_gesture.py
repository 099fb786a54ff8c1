"""``nmsim dvs-gesture``: the DVS-gesture EGRU network (synthetic) on N cores, batched."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from simulator.argtypes import check_sweep_size, finite_float, int_at_least, parse_pes
from simulator.commands.chip_options import add_chip_options, chip_from_args
from simulator.errors import UserError


def register(cli) -> None:
    from models.dvs_config import DEFAULT_ACTIVITY, DEFAULT_FRAMES, DVS_PAPER_PES

    p = cli.add("dvs-gesture",
                help="the DVS-gesture EGRU network (Nazeer et al. 2024: 512 CNN features, "
                "2 x 256 EGRU units, dense weights) on N cores, batched: per-frame and "
                "per-sample latency, power and energy, and the fewest cores that hold it; "
                "SYNTHETIC events (no DVS data at hand)")
    add_chip_options(p, "spinnaker2")
    p.add_argument("--pes", type=parse_pes, default=[DVS_PAPER_PES], metavar="LIST",
                   help=f"cores, one point each, e.g. 48,64:128:32 (default {DVS_PAPER_PES}, "
                        "the paper's)")
    p.add_argument("--frames", type=int_at_least(1), default=DEFAULT_FRAMES,
                   help=f"frames per sample, 25 ms each (default {DEFAULT_FRAMES}; an "
                        "assumption: a gesture lasts about 240)")
    p.add_argument("--batch", type=int_at_least(1), default=1,
                   help="samples run one after another on the same cores, weights kept "
                        "(the paper ran 1 and 6); per-sample figures divide by it")
    p.add_argument("--model", choices=("paper", "tiny"), default="paper",
                   help="paper: synthetic events at the published size (default); tiny: "
                        "real inference of the shipped tiny network (512 -> 64/64) on "
                        "held-out synthetic gestures")
    p.add_argument("--activity", type=finite_float(0.0, 1.0, low_open=True), default=None,
                   help=f"fraction of each EGRU layer's units firing per frame, paper model "
                        f"(default {DEFAULT_ACTIVITY}: an assumption, nothing published "
                        "gives it)")
    p.add_argument("--strategy", choices=("equal", "balanced"), default="equal",
                   help="how each layer's neurons are split over its cores")
    p.add_argument("--seed", type=int, default=0, help="seed of the synthetic trace")
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="write dvs.json (every point's result) here")
    p.add_argument("--yes", action="store_true",
                   help="run a list of points larger than the usual bound")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulator.jobs.dvs_gesture import dvs_gesture
    from simulator.outputs import check_output_dir
    from simulator.result_views import save_dvs

    check_output_dir(args.out, "--out")  # before any work
    check_sweep_size(args.pes, len(args.pes), args.yes)
    if min(args.pes) < 2:
        raise UserError(f"--pes {min(args.pes)}: the network's two EGRU layers need at least "
                        "one core each (2)")
    chip = chip_from_args(args)
    results = []
    for i, n in enumerate(args.pes):
        print(f"dvs-gesture: {n} cores, batch {args.batch} x {args.frames} frames ...",
              file=sys.stderr, flush=True)
        results.append(dvs_gesture(n, args.frames, args.batch, args.activity, chip, args.seed,
                                   args.strategy, frontier=i == 0, model=args.model))
    if args.out:
        save_dvs(results, args.out)
    if args.json:
        print(json.dumps([r.model_dump() for r in results], indent=2))
        return 0
    first = results[0]
    print(first.trace_label)
    activity = "its own activity" if first.activity is None else f"activity {first.activity:g}"
    print(f"chip {first.chip.get('chip_file') or args.chip}; batch {args.batch} x "
          f"{args.frames} frames of {first.real_time_frame_s * 1e3:g} ms; {activity}; "
          f"dense weights; fewest cores that hold it: "
          f"{first.fewest_pes_that_fit or 'none up to ' + str(max(args.pes))}")
    head = (f"{'cores':>5} {'per layer':>9} {'fits':>4} {'max PE B':>9}  "
            f"{'frame µs':>9} {'frame µJ':>9} {'sample ms':>9} {'sample mJ':>9} {'power W':>8}")
    print(head)
    for r in results:
        f, s = r.per_frame, r.per_sample
        print(f"{r.pes:>5} {'/'.join(map(str, r.pes_per_layer)):>9} "
              f"{'yes' if r.fits else 'no':>4} {r.max_pe_bytes:>9,}  "
              f"{f.latency_s * 1e6:>9.1f} {f.energy_j * 1e6:>9.2f} "
              f"{s.latency_s * 1e3:>9.3f} {s.energy_j * 1e3:>9.4f} {s.power_w:>8.3f}")
    return 0
