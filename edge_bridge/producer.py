"""Idempotent Kafka producer for readings: Avro values, turbine_id keys, per-batch delivery.

The value is the Confluent wire format (magic 0, 4-byte schema id, Avro body). The schema
id is resolved once from the registry (the subject must already hold the canonical schema:
the bridge never registers), and bodies are written with fastavro directly: per-record
AvroSerializer calls cost several times more and the bridge's hot path is per reading.
"""

from __future__ import annotations

import io
import logging
import struct
import threading
from collections.abc import Callable, Sequence

import fastavro
from confluent_kafka import KafkaError, Message, Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

import schemas
from edge_bridge.heartbeat import FleetClock
from edge_bridge.schema import subject
from edge_bridge.topics import DLQ, RAW
from udfs.records import Reading

log = logging.getLogger(__name__)


class ProduceError(Exception):
    """Kafka did not acknowledge a record."""


def producer_config(bootstrap: str, **overrides: str | int) -> dict[str, str | int]:
    """librdkafka settings for lossless, ordered, duplicate-free produce per partition."""
    conf: dict[str, str | int] = {
        "bootstrap.servers": bootstrap,
        # librdkafka defaults enable.idempotence to false
        "enable.idempotence": True,
        "acks": "all",
        "max.in.flight.requests.per.connection": 5,
        "linger.ms": 5,
        "batch.num.messages": 10_000,
        "queue.buffering.max.messages": 1_000_000,
        "compression.type": "lz4",
        # a batch is answered UNAVAILABLE after this, never acknowledged on a guess
        "delivery.timeout.ms": 30_000,
        "partitioner": "murmur2_random",  # same key -> partition mapping as the Java client
    }
    conf.update(overrides)
    return conf


class FramedAvroWriter:
    """Confluent-framed Avro for one schema whose registry id is known."""

    def __init__(self, schema: dict[str, object], schema_id: int) -> None:
        self._parsed = fastavro.parse_schema(schema)
        self._header = struct.pack(">bI", 0, schema_id)

    def __call__(self, record: dict[str, object]) -> bytes:
        buf = io.BytesIO()
        buf.write(self._header)
        fastavro.schemaless_writer(buf, self._parsed, record)
        return buf.getvalue()


def reading_writer(registry: SchemaRegistryClient, topic: str) -> FramedAvroWriter:
    """The writer for ``topic``'s readings, with the id the registry holds for the canonical schema."""
    registered = registry.lookup_schema(subject(topic), Schema(schemas.load_text("sensor_reading"), "AVRO"))
    return FramedAvroWriter(schemas.load("sensor_reading"), registered.schema_id)


class Delivery:
    """Delivery reports of one batch: counts down, remembers the first error, wakes the waiter."""

    __slots__ = ("_remaining", "_lock", "_done", "error", "_clock")

    def __init__(self, expected: int, clock: FleetClock | None = None) -> None:
        self._remaining = expected
        self._clock = clock
        self._lock = threading.Lock()
        self._done = threading.Event()
        self.error: ProduceError | None = None
        if expected == 0:
            self._done.set()

    def __call__(self, err: KafkaError | None, _msg: Message) -> None:
        with self._lock:
            if err is not None and self.error is None:
                self.error = ProduceError(str(err))
            self._remaining -= 1
            if self._remaining == 0:
                self._done.set()

    def reading(self, err: KafkaError | None, msg: Message) -> None:
        """The report of a reading: the fleet clock learns its partition and event time once Kafka has it."""
        if err is None and self._clock is not None:
            self._clock.delivered(msg.partition(), msg.timestamp()[1])
        self(err, msg)

    @property
    def pending(self) -> int:
        return self._remaining

    def wait(self, timeout_s: float) -> bool:
        return self._done.wait(timeout_s)


class ReadingProducer:
    """Produces readings and dead letters; a background thread serves delivery reports."""

    def __init__(self, bootstrap: str, registry: SchemaRegistryClient, raw_topic: str = RAW, dlq_topic: str = DLQ) -> None:
        self._producer = Producer(producer_config(bootstrap))
        self.clock = FleetClock()  # what the heartbeats of the raw topic's quiet partitions carry
        self._write = reading_writer(registry, raw_topic)
        self._raw, self._dlq = raw_topic, dlq_topic
        self._closing = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="kafka-delivery", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._closing.is_set():
            self._producer.poll(0.05)

    @property
    def producer(self) -> Producer:
        return self._producer

    def _produce(self, topic: str, key: bytes, value: bytes, on_delivery: Callable[[KafkaError | None, Message], None],
                 timestamp: int = 0) -> None:
        while True:
            try:
                self._producer.produce(topic, value, key, on_delivery=on_delivery, timestamp=timestamp)
                return
            except BufferError:
                # local queue full: wait for deliveries to drain it (back-pressure on the caller)
                self._producer.poll(0.05)

    def send(self, readings: Sequence[Reading], dead_letters: Sequence[tuple[str, bytes]]) -> Delivery:
        """Produce a batch's readings and dead letters; the Delivery tells when Kafka has them all."""
        delivery = Delivery(len(readings) + len(dead_letters), self.clock)
        write, raw, reading = self._write, self._raw, delivery.reading
        for r in readings:
            # the record timestamp is the event time: the stream job's watermarks are made from it
            self._produce(raw, r.turbine_id.encode(), write(r.to_avro()), reading, r.event_time)
        for key, payload in dead_letters:
            self._produce(self._dlq, key.encode(), payload, delivery)
        return delivery

    def close(self, timeout_s: float = 30.0) -> int:
        """Deliver what is in flight, then stop. Returns the records still undelivered."""
        remaining = self._producer.flush(timeout_s)
        self._closing.set()
        self._poller.join(timeout=2)
        return remaining
