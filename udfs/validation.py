"""Validation of one reading as the edge sent it: identity, channel, value, time."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from udfs.channels import CHANNELS
from udfs.records import Rejection

# ASCII only: no path separators, quotes, control or look-alike characters
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")


@dataclass(frozen=True)
class Limits:
    """How far an event time may lie behind or ahead of the bridge's clock."""

    max_age_ms: int = 7 * 24 * 3600 * 1000  # edge agents buffer through week-long outages
    max_skew_ms: int = 5 * 60 * 1000


def _bad_id(field: str, value: str) -> Rejection | None:
    if not isinstance(value, str) or ID_PATTERN.fullmatch(value) is None:
        shown = repr(value)[:80]
        return Rejection(f"BAD_{field.upper()}", f"{field} {shown} does not match {ID_PATTERN.pattern}")
    return None


def validate(
    turbine_id: str, sensor_id: str, sensor_type: str, ts_unix_ms: int, value: float, now_ms: int, limits: Limits
) -> Rejection | None:
    """None when the reading is acceptable, else the first reason it is not."""
    for field, ident in (("turbine_id", turbine_id), ("sensor_id", sensor_id)):
        bad = _bad_id(field, ident)
        if bad:
            return bad
    channel = CHANNELS.get(sensor_type)
    if channel is None:
        return Rejection("UNKNOWN_SENSOR_TYPE", f"sensor_type {sensor_type!r:.80} is not a known channel")
    if not math.isfinite(value):
        return Rejection("VALUE_NOT_FINITE", f"value {value!r} is not a finite number")
    if not channel.low <= value <= channel.high:
        return Rejection(
            "VALUE_OUT_OF_RANGE", f"{sensor_type} value {value} outside [{channel.low}, {channel.high}] {channel.unit}"
        )
    if ts_unix_ms < now_ms - limits.max_age_ms:
        return Rejection("TIMESTAMP_TOO_OLD", f"ts_unix_ms {ts_unix_ms} is older than {limits.max_age_ms} ms")
    if ts_unix_ms > now_ms + limits.max_skew_ms:
        return Rejection("TIMESTAMP_IN_FUTURE", f"ts_unix_ms {ts_unix_ms} is more than {limits.max_skew_ms} ms ahead")
    return None
