"""Decoding of Confluent-framed Avro readings: pure, so Flink and Spark share it."""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import fastavro

from udfs import epoch
from udfs.identity import msg_id as make_msg_id
from udfs.records import Reading, Rejection
from udfs.validation import Limits, validate

MAGIC = 0
_HEADER = struct.Struct(">bI")

#: the key of the bridge's heartbeats on the raw topic (edge_bridge/heartbeat.py): empty records whose only
#: content is their timestamp. Never a turbine id, the key of every reading: those start with a letter or digit.
HEARTBEAT_KEY = b"~heartbeat"


def is_heartbeat(key: bytes | None) -> bool:
    return key == HEARTBEAT_KEY

#: validation inside the pipeline checks identity, channel and value, not wall-clock age:
#: the bridge already checked time at arrival, and a replay must decode the same way.
PIPELINE_LIMITS = Limits(max_age_ms=2**62, max_skew_ms=2**62)


@dataclass(frozen=True)
class DecodeError:
    reason_code: str
    detail: str


def _millis(v: Any) -> int:
    return epoch.millis(v) if isinstance(v, datetime) else int(v)


def _without(schema: Any, drop: Callable[[dict[str, Any], str], bool]) -> Any:
    """A copy of a schema's JSON without the keys ``drop(node, key)`` picks, in every object at any depth."""
    if isinstance(schema, dict):
        return {k: _without(v, drop) for k, v in schema.items() if not drop(schema, k)}
    if isinstance(schema, list):
        return [_without(v, drop) for v in schema]
    return schema


def _shape(schema: Any) -> Any:
    """A schema without its docs: two schemas of the same shape read the same bytes the same way."""
    return _without(schema, lambda _node, key: key == "doc")


def _epoch_millis(schema: Any) -> Any:
    """The schema with its timestamp-millis longs left as plain longs: they decode to the epoch milliseconds
    themselves instead of a datetime that ``_millis`` turns straight back (about 5 of 18 us per reading)."""
    return _without(schema, lambda node, key: key == "logicalType" and node.get("type") == "long"
                    and node.get("logicalType") == "timestamp-millis")


class ReadingDecoder:
    """Turns raw Kafka values into Readings or Rejections, never raising on bad bytes.

    ``fetch_schema(id)`` returns the writer schema text for a registry id; it may raise
    when the registry is unreachable, which is not the record's fault and must not
    dead-letter it (the caller retries, and so back-pressures).
    """

    def __init__(self, reader_schema: dict[str, Any], fetch_schema: Callable[[int], str]) -> None:
        self._reader = fastavro.parse_schema(reader_schema)
        self._reader_shape = _shape(reader_schema)
        self._fetch = fetch_schema
        self._writers: dict[int, tuple[Any, Any]] = {}

    def _writer(self, schema_id: int) -> tuple[Any, Any]:
        """(writer, reader) for ``schemaless_reader``. A writer of the reader's own shape, the bridge's every
        record, is read as written, no resolution (``None``), timestamps as plain longs; any other writer is
        resolved against the reader schema, its logical types and all, as Avro's rules say."""
        if schema_id not in self._writers:
            declared = json.loads(self._fetch(schema_id))
            if _shape(declared) == self._reader_shape:
                self._writers[schema_id] = (fastavro.parse_schema(_epoch_millis(declared)), None)
            else:
                self._writers[schema_id] = (fastavro.parse_schema(declared), self._reader)
        return self._writers[schema_id]

    def decode(self, raw: bytes | None, unknown_schema: Callable[[Exception], bool]) -> Reading | Rejection:
        """``unknown_schema(err)`` tells a missing schema id (dead letter) from an outage (raise)."""
        if raw is None or len(raw) == 0:
            return Rejection("EMPTY_VALUE", "record has no value")
        if len(raw) < _HEADER.size:
            return Rejection("TRUNCATED", f"{len(raw)} bytes is shorter than the 5-byte Confluent header")
        magic, schema_id = _HEADER.unpack_from(raw)
        if magic != MAGIC:
            return Rejection("BAD_MAGIC_BYTE", f"magic byte {magic} is not {MAGIC}")
        try:
            writer, reader = self._writer(schema_id)
        except Exception as err:  # noqa: BLE001 - classified by the caller
            if unknown_schema(err):
                return Rejection("UNKNOWN_SCHEMA_ID", f"schema id {schema_id} is not in the registry")
            raise
        body = io.BytesIO(raw[_HEADER.size:])
        try:
            rec = fastavro.schemaless_reader(body, writer, reader)
        except Exception as err:  # noqa: BLE001 - any codec failure is the record's fault
            return Rejection("UNDECODABLE_AVRO", f"{type(err).__name__}: {err}"[:300])
        if body.tell() != len(raw) - _HEADER.size:
            return Rejection("TRAILING_BYTES", f"{len(raw) - _HEADER.size - body.tell()} bytes after the Avro record")
        return self._check(rec)

    def _check(self, rec: dict[str, Any]) -> Reading | Rejection:
        event_time = _millis(rec["event_time"])
        bad = validate(rec["turbine_id"], rec["sensor_id"], rec["sensor_type"], event_time, rec["value"], 0, PIPELINE_LIMITS)
        if bad is not None:
            return bad
        expected = make_msg_id(rec["turbine_id"], rec["sensor_id"], event_time)
        if rec["msg_id"] != expected:
            return Rejection("MSG_ID_MISMATCH", f"msg_id {rec['msg_id']!r:.40} is not {expected}")
        return Reading(
            msg_id=rec["msg_id"], turbine_id=rec["turbine_id"], sensor_id=rec["sensor_id"],
            sensor_type=rec["sensor_type"], event_time=event_time, value=float(rec["value"]),
            edge_id=rec["edge_id"], batch_id=rec["batch_id"], received_at=_millis(rec["received_at"]),
        )
