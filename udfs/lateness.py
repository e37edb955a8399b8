"""Event-time windows and lateness: which window a reading belongs to, and whether it closed.

A reading is late when the finest window it belongs to (1 minute) has already fired, that is
when the watermark has reached the window's last millisecond. Windows are nested (1 min in
10 min in 1 h, all aligned to the epoch), so a reading on time for 1 minute is on time for all.
"""

from __future__ import annotations

MINUTE_MS = 60_000
FINEST_WINDOW_MS = MINUTE_MS


def window_start(event_time_ms: int, size_ms: int) -> int:
    return event_time_ms - event_time_ms % size_ms


def window_end(event_time_ms: int, size_ms: int) -> int:
    return window_start(event_time_ms, size_ms) + size_ms


def is_late(event_time_ms: int, watermark_ms: int, size_ms: int = FINEST_WINDOW_MS) -> bool:
    """True when the window of ``event_time_ms`` has fired at ``watermark_ms`` (Flink fires at end - 1)."""
    return window_end(event_time_ms, size_ms) - 1 <= watermark_ms
