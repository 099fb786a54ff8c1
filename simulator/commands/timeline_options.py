"""``--timeline`` options shared by the simulation commands: where to write, and the bounds that
keep a timeline of a large run small enough to open (see docs/timelines.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from simulator.argtypes import positive_int
from simulator.timeline import Timeline

DEFAULT_MAX_SPANS = 200_000


def add_timeline_options(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--timeline", type=Path, metavar="FILE.json",
                   help=f"write a Perfetto/Chrome trace-event timeline of {what}")
    p.add_argument("--timeline-window", type=_window, metavar="START:END",
                   help="keep only spans overlapping these simulated cycles (default: all)")
    p.add_argument("--timeline-max-spans", type=positive_int, default=DEFAULT_MAX_SPANS,
                   metavar="N",
                   help=f"keep at most N spans; the rest are counted as dropped (default "
                   f"{DEFAULT_MAX_SPANS:,})")


def make_timeline(args: argparse.Namespace) -> Timeline | None:
    """The bounded timeline the options ask for, or None without ``--timeline``."""
    if not args.timeline:
        return None
    if args.timeline_max_spans < 1:
        raise ValueError("--timeline-max-spans must be at least 1")
    return Timeline(max_events=args.timeline_max_spans, window=args.timeline_window)


def _window(text: str) -> tuple[int, int]:
    start, sep, end = text.partition(":")
    try:
        window = (int(start), int(end))
    except ValueError:
        window = None
    if not sep or window is None or not 0 <= window[0] <= window[1]:
        raise argparse.ArgumentTypeError(f"expected START:END cycles with 0 <= START <= END, "
                                         f"got {text!r}")
    return window
