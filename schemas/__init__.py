"""Canonical Avro schemas (.avsc): the one source of truth for every record kind."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

#: bridge-side fields of SensorReading whose proto name differs from the Avro name
PROTO_TO_AVRO = {"ts_unix_ms": "event_time"}
#: Avro fields the bridge adds; they are not in the edge's proto message
BRIDGE_FIELDS = ("msg_id", "edge_id", "batch_id", "received_at")


@cache
def load_text(name: str) -> str:
    return (HERE / f"{name}.avsc").read_text()


def load(name: str) -> dict[str, Any]:
    """The parsed schema ``schemas/<name>.avsc``."""
    return json.loads(load_text(name))
