"""FIFO servers modelled by the times they next fall free, not by SimPy resources.

A SRAM bank port, a DRAM channel: a request is granted in the order it is made, each server
serves one request at a time, and the holder's service time is known when it is granted (the
work is accounted analytically). For such a server the grant times are exactly those of a
``simpy.Resource`` of the same capacity, which grants queued requests in arrival order as
units are released, but no SimPy event is spent on the request or the release: the caller
waits once, for the end of its service (as the NoC's links, see :mod:`~.noc`).
"""

from __future__ import annotations


class Servers:
    """``capacity`` identical FIFO servers; :meth:`grant` books the one that falls free first."""

    __slots__ = ("free_at",)

    def __init__(self, capacity: int = 1) -> None:
        if capacity < 1:
            raise ValueError(f"servers need capacity >= 1, got {capacity}")
        self.free_at = [0] * capacity

    def grant(self, now: int, hold: int) -> int:
        """Book a server from ``now`` (when the request is made) for ``hold`` cycles; return
        when it starts: ``now``, or when a server falls free if every one is busy."""
        i, start = self.first(now)
        self.free_at[i] = start + hold
        return start

    def first(self, now: int) -> tuple[int, int]:
        """The server a request made at ``now`` gets, and when it starts (book it with
        :meth:`hold`, before anything else asks): for a holder whose hold is known only
        after it has booked another server."""
        free_at = self.free_at
        i = 0 if len(free_at) == 1 else free_at.index(min(free_at))
        return i, (free_at[i] if free_at[i] > now else now)

    def hold(self, server: int, until: int) -> None:
        self.free_at[server] = until

    def busy(self, now: int) -> int:
        """Servers still serving (or booked) at ``now``."""
        return sum(t > now for t in self.free_at)
