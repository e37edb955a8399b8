"""Epoch milliseconds of a datetime, exactly.

``int(t.timestamp() * 1000)`` goes through a float and truncates: 268349.545 s becomes 268349544 ms, so a
time read back through a datetime could land on the wrong millisecond (and give another msg_id).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)


def from_millis(ms: int) -> datetime:
    """The UTC datetime of epoch milliseconds, exactly (the inverse of ``millis``)."""
    return EPOCH + ms * _MS


def millis(t: datetime) -> int:
    """Milliseconds since the epoch, rounded down; a naive datetime is taken as UTC."""
    aware = t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)
    return int((aware - EPOCH) // _MS)
