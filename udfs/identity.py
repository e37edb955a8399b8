"""The msg_id of a reading: the idempotency key from the edge to every sink."""

from __future__ import annotations

import hashlib


def msg_id(turbine_id: str, sensor_id: str, ts_unix_ms: int) -> str:
    """blake2b-128 of (turbine_id, sensor_id, event time), as 32 hex characters.

    The unit separator cannot occur in a valid identifier, so distinct triples never
    collide by concatenation.
    """
    key = f"{turbine_id}\x1f{sensor_id}\x1f{int(ts_unix_ms)}".encode()
    return hashlib.blake2b(key, digest_size=16).hexdigest()


def alert_id(turbine_id: str, sensor_id: str, rule: str, status: str, event_time_ms: int) -> str:
    """The idempotency key of an alert transition: a replay produces the same id, never a second alert."""
    key = f"{turbine_id}\x1f{sensor_id}\x1f{rule}\x1f{status}\x1f{int(event_time_ms)}".encode()
    return hashlib.blake2b(key, digest_size=16).hexdigest()
