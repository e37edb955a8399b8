"""The job's vectorized decoder on real framed Avro bytes, without Flink: one batch in, one row per record out."""

import math
from typing import Any

import pandas as pd
import pytest

from edge_bridge.producer import FramedAvroWriter
from flink_jobs.ingest.functions import COLUMNS, DecodeBatch
from flink_jobs.ingest.registry import TurbineInfo
from udfs.identity import msg_id
from udfs.power_curve import MODELS
from udfs.wire import ReadingDecoder

from tests.unit.test_wire import SCHEMA, fetch  # the registry of schema id 1 only

pytestmark = pytest.mark.unit

MODEL = MODELS["AN-3.6-130"]


class Registry:
    def get(self, turbine_id: str) -> TurbineInfo | None:
        return TurbineInfo("T1", "S1", "north-sea", MODEL, 3600.0, True) if turbine_id == "T1" else None


def reading(turbine: str, **over: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {"turbine_id": turbine, "sensor_id": "WTUR.W.1", "sensor_type": "WTUR.W", "event_time": 1_700_000_000_000,
                           "value": 1000.0, "edge_id": "e1", "batch_id": "b1", "received_at": 1_700_000_000_100}
    rec.update(over)
    rec.setdefault("msg_id", msg_id(rec["turbine_id"], rec["sensor_id"], rec["event_time"]))
    return rec


@pytest.fixture
def decode() -> DecodeBatch:
    fn = DecodeBatch("http://unused", "postgresql://unused", 30.0)
    fn._decoder, fn._turbines = ReadingDecoder(SCHEMA, fetch), Registry()  # what open() builds, offline
    return fn


def test_a_batch_gives_one_row_per_record_readings_enriched_and_dead_letters_with_their_bytes(decode: DecodeBatch) -> None:
    write = FramedAvroWriter(SCHEMA, 1)
    raw = [write(reading("T1")), b"\x13\x37garbage", write(reading("T9", value=float("nan"))),
           FramedAvroWriter(SCHEMA, 42)(reading("T1")), write(reading("T9"))]
    out = decode.eval(pd.Series(raw), pd.Series(["raw"] * 5), pd.Series([0, 1, 2, 3, 0]), pd.Series([10, 11, 12, 13, 14]))
    assert list(out.columns) == COLUMNS and len(out) == 5
    rows = out.to_dict("records")
    good = rows[0]
    assert (good["msg_id"], good["turbine_id"], good["event_time_ms"], good["value"]) == (
        msg_id("T1", "WTUR.W.1", 1_700_000_000_000), "T1", 1_700_000_000_000, 1000.0)
    assert (good["site_id"], good["region"], good["model"], good["rated_kw"], good["protected"]) == (
        "S1", "north-sea", MODEL.model, 3600.0, True)
    assert (good["kafka_partition"], good["kafka_offset"], good["reason_code"], good["raw_value"]) == (0, 10, None, None)
    # dead letters: the reason, the untouched bytes and where they came from; no reading fields
    assert [r["reason_code"] for r in rows[1:4]] == ["BAD_MAGIC_BYTE", "VALUE_NOT_FINITE", "UNKNOWN_SCHEMA_ID"]
    for r, sent in zip(rows[1:4], raw[1:4]):
        assert r["raw_value"] == sent and r["source_topic"] == "raw" and r["detected_at_ms"] > 0
        assert r["msg_id"] is None and r["detail"]
    assert [(r["kafka_partition"], r["kafka_offset"]) for r in rows[1:4]] == [(1, 11), (2, 12), (3, 13)]
    # an unregistered turbine's reading goes on, with NULL enrichment
    assert rows[4]["reason_code"] is None and rows[4]["turbine_id"] == "T9"
    assert all(rows[4][c] is None or (isinstance(rows[4][c], float) and math.isnan(rows[4][c]))
               for c in ("site_id", "region", "model", "rated_kw", "protected"))


def test_a_registry_outage_is_raised_not_dead_lettered(decode: DecodeBatch) -> None:
    def down(_schema_id: int) -> str:
        raise ConnectionError("registry unreachable")

    decode._decoder = ReadingDecoder(SCHEMA, down)
    with pytest.raises(ConnectionError):
        decode.eval(pd.Series([FramedAvroWriter(SCHEMA, 1)(reading("T1"))]), pd.Series(["raw"]), pd.Series([0]), pd.Series([0]))
