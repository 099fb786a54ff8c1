"""``nmsim plot breakdown|sweep|profile|critical-path|dvs-breakdown``: figures of job results
(PNG, SVG, PDF)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from simulator.argtypes import positive_int

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn, not for --help
    from matplotlib.figure import Figure


def register(cli) -> None:
    p = cli.add("breakdown", group="plot",
                help="per-operation energy (or latency) breakdown of an rwkv-token or opt-token "
                "result.json")
    p.add_argument("result", metavar="RESULT.json", help="written by `nmsim rwkv-token --out` "
                   "or `nmsim opt-token --out`")
    _output(p)
    p.add_argument("--metric", choices=("energy", "latency"), default="energy")
    p.add_argument("--percent", action="store_true", help="each bar as shares of its total")
    p.add_argument("--by", choices=("sub_block", "site"), default="sub_block",
                   help="group the category bars by sub-block (default) or by site (layer)")
    p.add_argument("--top", type=positive_int, default=10, metavar="K",
                   help="operations shown one by one; the rest are summed as 'other'")
    p.set_defaults(func=_breakdown)

    p = cli.add("sweep", group="plot",
                help="latency, energy and memory per PE against N, from an egru-sweep sweep.csv")
    p.add_argument("sweep", metavar="SWEEP.csv", help="sweep.csv or sweep.json of egru-sweep")
    _output(p)
    p.set_defaults(func=_sweep)

    p = cli.add("profile", group="plot",
                help="per-PE stage profile (cycles per stage) of one point of an egru-sweep")
    p.add_argument("sweep", metavar="SWEEP.json", help="sweep.json of egru-sweep (has stages)")
    _output(p)
    p.add_argument("--pes", type=positive_int, metavar="N",
                   help="the point to show (default: the feasible N with the lowest latency)")
    p.add_argument("--strategy", help="only this partitioning strategy (default: all at N)")
    p.set_defaults(func=_profile)

    p = cli.add("critical-path", group="plot",
                help="the chain of dependent events that sets a sub-block's latency, over time "
                "(first token of the sparse run of an rwkv-token or opt-token result.json)")
    p.add_argument("result", metavar="RESULT.json", help="written by `nmsim rwkv-token --out` "
                   "or `nmsim opt-token --out`")
    _output(p)
    p.add_argument("--sub-block", choices=("time_mix", "channel_mix", "attention", "mlp"),
                   default=None, help="default: the block's first (time_mix, attention)")
    p.set_defaults(func=_critical_path)

    p = cli.add("dvs-breakdown", group="plot",
                help="energy of one DVS-gesture sample by EGRU layer and stage and by "
                "operation, from a dvs-gesture dvs.json")
    p.add_argument("dvs", metavar="DVS.json", help="written by `nmsim dvs-gesture --out`")
    _output(p)
    p.add_argument("--pes", type=positive_int, metavar="N",
                   help="the point to show (default: the first in the file)")
    p.add_argument("--top", type=positive_int, default=10, metavar="K",
                   help="operations shown one by one; the rest are summed as 'other'")
    p.set_defaults(func=_dvs_breakdown)


def _dvs_breakdown(args: argparse.Namespace) -> int:
    from simulator.plots import PlotInputError, dvs_breakdown_figure
    from simulator.results import DvsGestureResult

    def make() -> Figure:
        try:
            data = json.loads(Path(args.dvs).read_text())
            if not isinstance(data, list):
                raise ValueError("expected a list of points")
            points = [DvsGestureResult.model_validate(p) for p in data]
        except (OSError, ValueError) as e:
            raise PlotInputError(f"{args.dvs}: not a dvs.json written by `nmsim dvs-gesture "
                                 f"--out` ({type(e).__name__}: {e})") from None
        picked = [p for p in points if args.pes is None or p.pes == args.pes]
        if not picked:
            raise PlotInputError(f"{args.dvs} holds no point with --pes {args.pes} (it has "
                                 f"{', '.join(str(p.pes) for p in points)})")
        return dvs_breakdown_figure(picked[0], args.top)

    return _write(args, make)


def _critical_path(args: argparse.Namespace) -> int:
    from simulator.plots import load_result, result_critical_path_figure

    def make():
        result = load_result(args.result)
        return result_critical_path_figure(result, args.sub_block or next(iter(result["dense"])),
                                           args.result)

    return _write(args, make)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _output(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="image file; the format follows the extension (.png, .svg, .pdf)")


def _breakdown(args: argparse.Namespace) -> int:
    from simulator.plots import breakdown_figure, load_result

    return _write(args, lambda: breakdown_figure(load_result(args.result), args.metric,
                                                 args.percent, args.by, args.top))


def _sweep(args: argparse.Namespace) -> int:
    from simulator.plots import load_sweep, sweep_figure

    return _write(args, lambda: sweep_figure(load_sweep(args.sweep)))


def _profile(args: argparse.Namespace) -> int:
    keys = ("pes", "strategy", "fits", "stages")
    from simulator.plots import load_sweep, profile_figure

    return _write(args, lambda: profile_figure(load_sweep(args.sweep, keys), args.pes,
                                               args.strategy))


def _write(args: argparse.Namespace, make: Callable[[], Figure]) -> int:
    """Build and save the figure; bad input is a one-line error, not a traceback."""
    from simulator.outputs import check_output_file
    from simulator.plots import SAVE_FORMATS, PlotInputError, save

    check_output_file(args.output, "--output")  # before reading and drawing
    try:
        if Path(args.output).suffix.lower() not in SAVE_FORMATS:
            raise PlotInputError(f"cannot tell the image format of {args.output}: use one of "
                                 f"{', '.join(SAVE_FORMATS)}")
        path = save(make(), args.output)
    except PlotInputError as e:
        print(f"nmsim plot {args.plot_command}: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0
