"""The edge bridge against real Kafka and the registry."""

import json
import time

import grpc
import pytest

from anemos.platform import Names
from edge_bridge.proto import ingest_pb2 as pb
from edge_bridge.proto import ingest_pb2_grpc as pb_grpc
from edge_bridge.server import Bridge
from edge_bridge.settings import BridgeSettings
from stack.settings import StackSettings
from reliability.kafka_read import read_all
from udfs.identity import msg_id
from udfs.wire import HEARTBEAT_KEY

pytestmark = pytest.mark.integration


@pytest.fixture
def bridge(stack: StackSettings, names: Names):  # type: ignore[no-untyped-def]
    b = Bridge(BridgeSettings.from_stack(stack, listen="127.0.0.1:0", plaintext=True, raw_topic=names.raw_topic, dlq_topic=names.dlq_topic)).start()
    yield b
    b.stop()


def test_accepted_readings_are_in_kafka_keyed_by_turbine_and_rejects_in_the_dlq(
    stack: StackSettings, names: Names, bridge: Bridge
) -> None:
    now = int(time.time() * 1000)
    readings = [pb.SensorReading(turbine_id=f"T{i % 3}", sensor_id="s1", sensor_type="WMET.HorWdSpd", ts_unix_ms=now - i, value=7.5)
                for i in range(30)]
    readings.insert(5, pb.SensorReading(turbine_id="T1'; DROP TABLE x;--", sensor_id="s1", sensor_type="WMET.HorWdSpd", ts_unix_ms=now, value=1))
    readings.insert(9, pb.SensorReading(turbine_id="T1", sensor_id="s1", sensor_type="WMET.HorWdSpd", ts_unix_ms=now + 3_600_000, value=1))
    with grpc.insecure_channel(f"127.0.0.1:{bridge.port}") as ch:
        ack = pb_grpc.IngestServiceStub(ch).SendTelemetryBatch(pb.TelemetryBatch(batch_id="b1", edge_id="edge-a", readings=readings), timeout=30)
    assert (ack.received, ack.accepted) == (32, 30)
    assert [(r.index, r.reason_code) for r in ack.rejected] == [(5, "BAD_TURBINE_ID"), (9, "TIMESTAMP_IN_FUTURE")]

    raw = read_all(stack.kafka_bootstrap, names.raw_topic, expected=30)
    assert len(raw) == 30
    by_key: dict[bytes, set[int]] = {}
    for m in raw:
        by_key.setdefault(m.key(), set()).add(m.partition())
        assert m.value()[0] == 0  # Confluent wire format magic byte
    assert set(by_key) == {b"T0", b"T1", b"T2"} and all(len(p) == 1 for p in by_key.values())

    dlq = [json.loads(m.value()) for m in read_all(stack.kafka_bootstrap, names.dlq_topic, expected=2)]
    assert sorted(d["reason_code"] for d in dlq) == ["BAD_TURBINE_ID", "TIMESTAMP_IN_FUTURE"]
    assert all(d["edge_id"] == "edge-a" and d["batch_id"] == "b1" and d["raw_value"] for d in dlq)


def test_streaming_rpc_answers_each_batch_in_order(bridge: Bridge) -> None:
    now = int(time.time() * 1000)

    def batches():  # type: ignore[no-untyped-def]
        for b in range(3):
            yield pb.TelemetryBatch(batch_id=f"s{b}", edge_id="edge-s", readings=[
                pb.SensorReading(turbine_id="T9", sensor_id="s1", sensor_type="WTUR.W", ts_unix_ms=now - b * 10 - i, value=100)
                for i in range(5)])

    with grpc.insecure_channel(f"127.0.0.1:{bridge.port}") as ch:
        acks = list(pb_grpc.IngestServiceStub(ch).StreamTelemetry(batches(), timeout=30))
    assert [(a.batch_id, a.accepted) for a in acks] == [("s0", 5), ("s1", 5), ("s2", 5)]


@pytest.mark.parametrize(
    "batch",
    [pb.TelemetryBatch(batch_id="", edge_id="e", readings=[pb.SensorReading()]),
     pb.TelemetryBatch(batch_id="b", edge_id="e/../x", readings=[pb.SensorReading()]),
     pb.TelemetryBatch(batch_id="b", edge_id="e")],
)
def test_malformed_batch_is_invalid_argument(bridge: Bridge, batch: pb.TelemetryBatch) -> None:
    with grpc.insecure_channel(f"127.0.0.1:{bridge.port}") as ch, pytest.raises(grpc.RpcError) as err:
        pb_grpc.IngestServiceStub(ch).SendTelemetryBatch(batch, timeout=10)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_health_service_reports_serving(bridge: Bridge) -> None:
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{bridge.port}") as ch:
        resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service="anemos.edge.v1.IngestService"), timeout=5)
    assert resp.status == health_pb2.HealthCheckResponse.SERVING


def test_msg_id_in_kafka_matches_the_edge_identity(stack: StackSettings, names: Names, bridge: Bridge) -> None:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    now = int(time.time() * 1000)
    r = pb.SensorReading(turbine_id="T5", sensor_id="gbx", sensor_type="WTRM.TrmTmpGbxOil", ts_unix_ms=now, value=55.0)
    with grpc.insecure_channel(f"127.0.0.1:{bridge.port}") as ch:
        pb_grpc.IngestServiceStub(ch).SendTelemetryBatch(pb.TelemetryBatch(batch_id="b2", edge_id="edge-b", readings=[r]), timeout=30)
    (msg,) = read_all(stack.kafka_bootstrap, names.raw_topic, expected=1)
    de = AvroDeserializer(SchemaRegistryClient({"url": stack.registry_url}))
    rec = de(msg.value(), SerializationContext(names.raw_topic, MessageField.VALUE))
    assert rec["msg_id"] == msg_id("T5", "gbx", now) and rec["edge_id"] == "edge-b" and rec["value"] == 55.0


def test_quiet_partitions_get_heartbeats_with_the_fleets_event_time(stack: StackSettings, names: Names, bridge: Bridge) -> None:
    # nothing acknowledged yet: no event time to give, so no heartbeat
    time.sleep(2.5)
    assert read_all(stack.kafka_bootstrap, names.raw_topic, timeout_s=4, heartbeats=True) == []
    now = int(time.time() * 1000)
    readings = [pb.SensorReading(turbine_id="T7", sensor_id="s1", sensor_type="WMET.HorWdSpd", ts_unix_ms=now - 60_000 + i, value=7.5)
                for i in range(20)]
    with grpc.insecure_channel(f"127.0.0.1:{bridge.port}") as ch:
        ack = pb_grpc.IngestServiceStub(ch).SendTelemetryBatch(pb.TelemetryBatch(batch_id="hb", edge_id="edge-h", readings=readings), timeout=30)
    assert ack.accepted == 20
    time.sleep(3.5)  # the turbine's own partition, quiet for 2 s, gets them too
    records = read_all(stack.kafka_bootstrap, names.raw_topic, timeout_s=10, heartbeats=True)
    beats = [m for m in records if m.key() == HEARTBEAT_KEY]
    (reading_partition,) = {m.partition() for m in records if m.key() == b"T7"}
    assert len(records) - len(beats) == 20
    assert {m.partition() for m in beats} == {0, 1, 2, 3}
    assert {m.timestamp()[1] for m in beats} == {now - 60_000 + 19}  # the latest event time, not the wall clock
    assert all(m.value() == b"" for m in beats)
    # in the readings' partition, no heartbeat came before the readings it follows
    ordered = [m for m in records if m.partition() == reading_partition]
    assert [m.key() for m in ordered[:20]] == [b"T7"] * 20
    assert bridge.metrics.heartbeats._value.get() >= len(beats)
    # readers of the data leave heartbeats out
    assert len(read_all(stack.kafka_bootstrap, names.raw_topic, expected=20, timeout_s=10)) == 20
