"""Timeline recording and export to the Chrome/Perfetto trace-event JSON format.

Components record busy spans (a core handling an event, a packet on a link, a DMA burst) on
their own track. Recording is off unless a :class:`Timeline` is given to the engine, and it is
bounded: only spans inside ``window`` (cycles) are kept, and at most ``max_events`` of them, so
a timeline of a large run stays small enough to open in the Perfetto UI (ui.perfetto.dev).
"""

from __future__ import annotations

import json
from pathlib import Path


class Timeline:
    """Bounded recorder of ``(track, name, start, end)`` spans, in engine cycles."""

    def __init__(
        self,
        max_events: int = 200_000,
        window: tuple[int, int] | None = None,
    ) -> None:
        if max_events <= 0:
            raise ValueError("max_events must be positive")
        self.max_events = max_events
        self.window = window
        self.spans: list[tuple[str, str, int, int]] = []
        self.dropped = 0

    def span(self, track: str, name: str, start: int, end: int) -> None:
        if self.window is not None and (end < self.window[0] or start > self.window[1]):
            return
        if len(self.spans) >= self.max_events:
            self.dropped += 1
            return
        self.spans.append((track, name, start, end))

    def to_trace_events(self, clock_hz: float, process_name: str = "nmsim") -> dict:
        """Trace-event JSON (``ph: "X"`` complete events, microseconds, one thread per track)."""
        tracks = sorted({s[0] for s in self.spans})
        tid = {t: i + 1 for i, t in enumerate(tracks)}
        us = 1e6 / clock_hz
        events: list[dict] = [
            {"ph": "M", "name": "process_name", "pid": 1, "args": {"name": process_name}}
        ]
        events += [
            {"ph": "M", "name": "thread_name", "pid": 1, "tid": tid[t], "args": {"name": t}}
            for t in tracks
        ]
        events += [
            {
                "ph": "X",
                "name": name,
                "pid": 1,
                "tid": tid[track],
                "ts": start * us,
                "dur": (end - start) * us,
                "args": {"start_cycle": start, "end_cycle": end},
            }
            for track, name, start, end in (
                (t, n, _plain(a), _plain(b)) for t, n, a, b in self.spans
            )
        ]
        return {
            "traceEvents": events,
            "displayTimeUnit": "ns",
            "otherData": {"clock_hz": clock_hz, "dropped_spans": self.dropped},
        }

    def write(self, path: str | Path, clock_hz: float, process_name: str = "nmsim") -> Path:
        from simulator.outputs import write_atomic

        return write_atomic(Path(path), json.dumps(self.to_trace_events(clock_hz, process_name)))


def _plain(cycle: float) -> int | float:
    """A Python number for JSON: spans may carry numpy integers (cycles computed with numpy)."""
    value = float(cycle)
    return int(value) if value.is_integer() else value
