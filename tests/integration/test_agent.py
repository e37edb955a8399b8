"""The edge agent against the real bridge and Kafka: restarts and a Kafka outage lose nothing."""

import threading
import time
from pathlib import Path

import pytest

from anemos.platform import Names
from edge_bridge.agent import EdgeAgent
from edge_bridge.proto import ingest_pb2 as pb
from edge_bridge.server import Bridge
from edge_bridge.settings import BridgeSettings
from stack.services.kafka import Kafka
from stack.settings import StackSettings
from reliability.kafka_read import read_all
from udfs.identity import msg_id

pytestmark = pytest.mark.integration


def generated(n: int, offset: int = 0) -> list[pb.SensorReading]:
    now = int(time.time() * 1000) - 60_000
    return [pb.SensorReading(turbine_id=f"T{i % 4}", sensor_id="wind", sensor_type="WMET.HorWdSpd", ts_unix_ms=now - offset - i, value=6.0)
            for i in range(n)]


def ids_in_kafka(stack: StackSettings, topic: str, at_least: int) -> set[str]:
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    de = AvroDeserializer(SchemaRegistryClient({"url": stack.registry_url}))
    ctx = SerializationContext(topic, MessageField.VALUE)
    # retries after an outage write duplicates (msg_id makes them harmless): read to the end, not to a count
    records = read_all(stack.kafka_bootstrap, topic, expected=None, timeout_s=90)
    assert len(records) >= at_least
    return {de(m.value(), ctx)["msg_id"] for m in records}


def test_agent_restart_and_bridge_down_lose_nothing(stack: StackSettings, names: Names, tmp_path: Path) -> None:
    sent = generated(1500)
    # the bridge is not there yet: the agent buffers and keeps retrying
    agent = EdgeAgent("127.0.0.1:50999", "edge-r", tmp_path / "buf.db", credentials=None, batch_size=200, max_backoff_s=1).start()
    agent.submit(sent)
    time.sleep(2)
    assert agent.metrics.total("send_retries") >= 1
    agent.stop()  # the agent process goes away with everything still buffered

    bridge = Bridge(BridgeSettings.from_stack(stack, listen="127.0.0.1:50999", plaintext=True, raw_topic=names.raw_topic, dlq_topic=names.dlq_topic)).start()
    try:
        again = EdgeAgent("127.0.0.1:50999", "edge-r", tmp_path / "buf.db", credentials=None, batch_size=200).start()
        deadline = time.monotonic() + 60
        while not again.drained() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert again.drained()
        again.stop()
    finally:
        bridge.stop()
    expected = {msg_id(r.turbine_id, r.sensor_id, r.ts_unix_ms) for r in sent}
    assert ids_in_kafka(stack, names.raw_topic, len(expected)) == expected


def test_kafka_outage_while_agents_send(stack: StackSettings, names: Names, tmp_path: Path) -> None:
    bridge = Bridge(BridgeSettings.from_stack(stack, listen="127.0.0.1:0", plaintext=True, raw_topic=names.raw_topic,
                                              dlq_topic=names.dlq_topic, ack_timeout_s=4)).start()
    agents = [EdgeAgent(f"127.0.0.1:{bridge.port}", f"edge-o{k}", tmp_path / f"o{k}.db", credentials=None, batch_size=100, max_backoff_s=2).start()
              for k in range(3)]
    generated_ids: set[str] = set()
    stop = threading.Event()

    def sensors(k: int) -> None:
        i = 0
        while not stop.is_set():
            chunk = generated(50, offset=k * 10_000_000 + i * 50)
            agents[k].submit(chunk)
            generated_ids.update(msg_id(r.turbine_id, r.sensor_id, r.ts_unix_ms) for r in chunk)
            i += 1
            time.sleep(0.1)

    threads = [threading.Thread(target=sensors, args=(k,)) for k in range(3)]
    kafka = Kafka(stack)
    try:
        for t in threads:
            t.start()
        time.sleep(3)
        kafka.stop()
        time.sleep(12)  # agents keep generating; the bridge answers UNAVAILABLE; agents buffer and retry
        kafka.start()
        kafka.wait_ready()
        time.sleep(3)
        stop.set()
        for t in threads:
            t.join()
        deadline = time.monotonic() + 120
        while not all(a.drained() for a in agents) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert all(a.drained() for a in agents), [len(a.buffer) for a in agents]
        retries = sum(a.metrics.total("send_retries") for a in agents)
    finally:
        stop.set()
        for a in agents:
            a.stop()
        bridge.stop()
        if kafka.pid() is None:
            kafka.start()
            kafka.wait_ready()
    assert retries > 0, "the outage never reached the agents"
    in_kafka = ids_in_kafka(stack, names.raw_topic, len(generated_ids))
    assert generated_ids - in_kafka == set(), f"{len(generated_ids - in_kafka)} generated readings missing from Kafka"
