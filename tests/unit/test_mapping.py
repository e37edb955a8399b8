import json

import pytest

from edge_bridge import mapping
from edge_bridge.proto import ingest_pb2 as pb
from udfs.identity import msg_id
from udfs.validation import Limits

pytestmark = pytest.mark.unit

NOW = 1_800_000_000_000


def reading(**kw: object) -> pb.SensorReading:
    base: dict[str, object] = {"turbine_id": "T1", "sensor_id": "s1", "sensor_type": "WTUR.W", "ts_unix_ms": NOW, "value": 10.0}
    base.update(kw)
    return pb.SensorReading(**base)  # type: ignore[arg-type]


def batch(*readings: pb.SensorReading, edge_id: str = "edge-1", batch_id: str = "b-1") -> pb.TelemetryBatch:
    return pb.TelemetryBatch(batch_id=batch_id, edge_id=edge_id, readings=list(readings))


@pytest.mark.parametrize(
    ("b", "fragment"),
    [
        (batch(reading(), batch_id=""), "batch_id"),
        (batch(reading(), edge_id="../etc"), "edge_id"),
        (batch(), "no readings"),
    ],
)
def test_malformed_batches(b: pb.TelemetryBatch, fragment: str) -> None:
    with pytest.raises(mapping.BatchShapeError, match=fragment):
        mapping.check_shape(b, max_readings=3)


def test_map_batch_splits_good_and_bad_and_keeps_positions() -> None:
    b = batch(reading(), reading(turbine_id="T1'; DROP TABLE x;--"), reading(ts_unix_ms=NOW + 1, value=float("nan")))
    out = mapping.map_batch(b, NOW, Limits())
    assert [i for i, _ in out.accepted] == [0]
    good = out.accepted[0][1]
    assert good.msg_id == msg_id("T1", "s1", NOW) and good.edge_id == "edge-1" and good.batch_id == "b-1"
    assert [(i, r.reason_code) for i, r, _ in out.rejected] == [(1, "BAD_TURBINE_ID"), (2, "VALUE_NOT_FINITE")]
    ack = mapping.to_ack(b, len(out.accepted), out.rejected)
    assert (ack.received, ack.accepted, [r.index for r in ack.rejected]) == (3, 1, [1, 2])


def test_dead_letter_keeps_the_raw_reading_and_origin() -> None:
    import base64

    b = batch(reading(turbine_id="../x"))
    out = mapping.map_batch(b, NOW, Limits())
    i, rej, raw = out.rejected[0]
    doc = json.loads(mapping.dead_letter(b, rej, raw, NOW))
    assert doc["reason_code"] == "BAD_TURBINE_ID" and doc["edge_id"] == "edge-1" and doc["index"] == 0
    assert pb.SensorReading.FromString(base64.b64decode(doc["raw_value"])) == raw
