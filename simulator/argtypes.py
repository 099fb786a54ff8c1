"""Argument checks shared by the commands: argparse types that reject a bad value with a
message naming what is allowed, and the checks of a sweep's size (docs/errors.md, "Input
checks").

A type's error is an :class:`ArgumentUserError`: argparse reports it as a bad argument (usage,
``nmsim <command>: error: argument --x: ...``, status 2); called directly (a test, the Python
API) it is a :class:`~simulator.errors.UserError` like every other input error.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable, Sequence

from simulator.errors import UserError

__all__ = ["MAX_PES", "MAX_POINTS", "ArgumentUserError", "check_sweep_size", "finite_float",
           "int_at_least", "non_negative_int", "parse_pes", "positive_int"]

#: a sweep of more points than this asks for ``--yes`` (it states its size instead of running)
MAX_POINTS = 1000
#: a sweep point of more cores than this asks for ``--yes`` (a point's time grows with N)
MAX_PES = 10_000
#: values a list of ranges may hold at all, ``--yes`` or not (beyond it, memory runs out)
MAX_LISTED = 1_000_000


class ArgumentUserError(UserError, argparse.ArgumentTypeError):
    """A bad command-line value (argparse names the argument; the message says what is
    allowed)."""


def int_at_least(least: int) -> Callable[[str], int]:
    """An argparse type: an integer ``>= least``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ArgumentUserError(f"expected an integer >= {least}, got {text!r}") from None
        if value < least:
            raise ArgumentUserError(f"must be at least {least}, got {value}")
        return value

    parse.__name__ = f"int_at_least_{least}"
    return parse


positive_int = int_at_least(1)
non_negative_int = int_at_least(0)


def finite_float(low: float | None = None, high: float | None = None, *,
                 low_open: bool = False, high_open: bool = False) -> Callable[[str], float]:
    """An argparse type: a finite number in the interval given (``None``: unbounded)."""
    lo = "" if low is None else f"{low:g} {'<' if low_open else '<='} "
    hi = "" if high is None else f" {'<' if high_open else '<='} {high:g}"
    allowed = f"a finite number {lo}x{hi}" if lo or hi else "a finite number"

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ArgumentUserError(f"expected {allowed}, got {text!r}") from None
        if not math.isfinite(value) or (
                low is not None and (value <= low if low_open else value < low)) or (
                high is not None and (value >= high if high_open else value > high)):
            raise ArgumentUserError(f"expected {allowed}, got {text}")
        return value

    parse.__name__ = "finite_float"
    return parse


def parse_pes(text: str) -> list[int]:
    """``'60,90,120:300:60'`` -> ``[60, 90, 120, 180, 240, 300]`` (:func:`parse_counts`)."""
    return parse_counts(text, "PE counts")


def parse_contexts(text: str) -> list[int]:
    """Context lengths, as :func:`parse_counts` reads them (``1,16,64:256:64``)."""
    return parse_counts(text, "context lengths")


def parse_counts(text: str, what: str) -> list[int]:
    """``'60,90,120:300:60'`` -> ``[60, 90, 120, 180, 240, 300]`` (sorted, no repeats).

    Items are positive integers or ranges ``START:STOP[:STEP]`` with STOP included; a range
    that holds no value (``60:30:10``), a step below 1, an empty item or anything else is an
    :class:`ArgumentUserError` naming the item."""
    out: list[int] = []
    items = [s.strip() for s in text.split(",")]
    if not text.strip():
        raise ArgumentUserError(f"empty; give {what} and ranges START:STOP:STEP")
    for item in items:
        if not item:
            raise ArgumentUserError(f"{text!r} has an empty item; give {what} and ranges "
                                    "START:STOP:STEP separated by commas")
        parts = item.split(":")
        try:
            values = [int(v) for v in parts]
        except ValueError:
            raise ArgumentUserError(f"cannot read {item!r} in {text!r}; give positive integers "
                                    "and ranges START:STOP:STEP") from None
        if len(values) > 3:
            raise ArgumentUserError(f"{item!r}: a range is START:STOP or START:STOP:STEP")
        if len(values) == 1:
            out.append(values[0])
            continue
        start, stop, step = (*values, 1)[:3]
        if step < 1:
            raise ArgumentUserError(f"{item!r}: STEP must be at least 1, got {step}")
        if stop < start:
            raise ArgumentUserError(f"{item!r}: empty range (STOP {stop} < START {start}); "
                                    "a range counts up from START to STOP")
        values = range(start, stop + 1, step)
        if len(out) + len(values) > MAX_LISTED:
            raise ArgumentUserError(f"{item!r}: a range of {len(values):,} values; at most "
                                    f"{MAX_LISTED:,} can be listed in all")
        out.extend(values)
    if min(out) < 1:
        raise ArgumentUserError(f"{what} must be at least 1, got {min(out)} in {text!r}")
    return sorted(set(out))


def check_sweep_size(pes: Sequence[int], n_points: int, yes: bool,
                     what: str = "--pes") -> None:
    """A sweep beyond :data:`MAX_POINTS` points or :data:`MAX_PES` cores a point runs only
    with ``--yes``; otherwise a :class:`UserError` states its size."""
    if yes:
        return
    problems = []
    if n_points > MAX_POINTS:
        problems.append(f"{n_points:,} points (more than {MAX_POINTS:,})")
    if max(pes) > MAX_PES:
        problems.append(f"up to {max(pes):,} cores a point (more than {MAX_PES:,})")
    if problems:
        raise UserError(f"{what}: this sweep has {' and '.join(problems)}, N from {min(pes):,} "
                        f"to {max(pes):,}; add --yes to run it anyway, or give fewer values "
                        "(a larger STEP)")
