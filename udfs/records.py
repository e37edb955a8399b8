"""Frozen records shared by the bridge, the Flink jobs and the reprocessing jobs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Reading:
    """One accepted reading; field names follow schemas/sensor_reading.avsc."""

    msg_id: str
    turbine_id: str
    sensor_id: str
    sensor_type: str
    event_time: int  # ms since epoch, UTC
    value: float
    edge_id: str
    batch_id: str
    received_at: int  # ms since epoch, UTC

    def to_avro(self) -> dict[str, Any]:
        # explicit, not dataclasses.asdict: this runs once per reading on the bridge's hot path
        return {
            "msg_id": self.msg_id, "turbine_id": self.turbine_id, "sensor_id": self.sensor_id,
            "sensor_type": self.sensor_type, "event_time": self.event_time, "value": self.value,
            "edge_id": self.edge_id, "batch_id": self.batch_id, "received_at": self.received_at,
        }


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one input was refused; goes to the dead-letter stream with the raw input."""

    reason_code: str
    detail: str
    index: int = -1
    msg_id: str = ""
