"""Proto readings -> udfs records: validation and msg_id, pure and unit-tested."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from google.protobuf.json_format import MessageToDict

from edge_bridge.proto import ingest_pb2 as pb
from udfs.identity import msg_id
from udfs.records import Reading, Rejection
from udfs.validation import ID_PATTERN, Limits, validate


class BatchShapeError(ValueError):
    """The batch as a whole is malformed (INVALID_ARGUMENT)."""


@dataclass(frozen=True)
class Mapped:
    accepted: list[tuple[int, Reading]]
    rejected: list[tuple[int, Rejection, pb.SensorReading]]


def check_shape(batch: pb.TelemetryBatch, max_readings: int) -> None:
    if not batch.batch_id or len(batch.batch_id) > 128:
        raise BatchShapeError("batch_id must be 1 to 128 characters")
    if ID_PATTERN.fullmatch(batch.edge_id) is None:
        raise BatchShapeError(f"edge_id {batch.edge_id!r:.80} does not match {ID_PATTERN.pattern}")
    if not batch.readings:
        raise BatchShapeError("batch has no readings")


def map_batch(batch: pb.TelemetryBatch, now_ms: int, limits: Limits) -> Mapped:
    """Split a batch into readings to produce and rejections with reasons."""
    accepted: list[tuple[int, Reading]] = []
    rejected: list[tuple[int, Rejection, pb.SensorReading]] = []
    for i, r in enumerate(batch.readings):
        bad = validate(r.turbine_id, r.sensor_id, r.sensor_type, r.ts_unix_ms, r.value, now_ms, limits)
        if bad is not None:
            rejected.append((i, Rejection(bad.reason_code, bad.detail, i, ""), r))
            continue
        mid = msg_id(r.turbine_id, r.sensor_id, r.ts_unix_ms)
        accepted.append((i, Reading(mid, r.turbine_id, r.sensor_id, r.sensor_type, r.ts_unix_ms, r.value,
                                    batch.edge_id, batch.batch_id, now_ms)))
    return Mapped(accepted, rejected)


def dead_letter(batch: pb.TelemetryBatch, rejection: Rejection, reading: pb.SensorReading, now_ms: int) -> bytes:
    """The DLQ record for a reading refused at the edge: reason, raw reading, origin."""
    doc: dict[str, Any] = {
        "reason_code": rejection.reason_code,
        "detail": rejection.detail,
        "stage": "edge-bridge",
        "raw_value": base64.b64encode(reading.SerializeToString()).decode(),
        "reading": MessageToDict(reading, preserving_proto_field_name=True),
        "edge_id": batch.edge_id,
        "batch_id": batch.batch_id,
        "index": rejection.index,
        "detected_at": now_ms,
    }
    return json.dumps(doc, sort_keys=True).encode()


def to_ack(batch: pb.TelemetryBatch, accepted: int, rejected: Sequence[tuple[int, Rejection, Any]]) -> pb.Ack:
    return pb.Ack(
        batch_id=batch.batch_id, received=len(batch.readings), accepted=accepted,
        rejected=[pb.Rejection(index=i, msg_id=rej.msg_id, reason_code=rej.reason_code, detail=rej.detail)
                  for i, rej, _ in rejected],
    )
