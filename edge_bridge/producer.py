"""Idempotent Kafka producer for readings: Avro values, turbine_id keys, delivery futures."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from concurrent.futures import Future

from confluent_kafka import KafkaError, Message, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.serialization import MessageField, SerializationContext

from edge_bridge.schema import reading_serializer
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
        "compression.type": "lz4",
        # a batch is answered UNAVAILABLE after this, never acknowledged on a guess
        "delivery.timeout.ms": 30_000,
        "partitioner": "murmur2_random",  # same key -> partition mapping as the Java client
    }
    conf.update(overrides)
    return conf


class ReadingProducer:
    """Produces readings and dead letters; a background thread serves delivery reports."""

    def __init__(self, bootstrap: str, registry: SchemaRegistryClient, raw_topic: str = RAW, dlq_topic: str = DLQ) -> None:
        self._producer = Producer(producer_config(bootstrap))
        self._serialize = reading_serializer(registry)
        self._raw, self._dlq = raw_topic, dlq_topic
        self._ctx = SerializationContext(raw_topic, MessageField.VALUE)
        self._closing = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="kafka-delivery", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._closing.is_set():
            self._producer.poll(0.05)

    @staticmethod
    def _deliver(fut: Future[None]):  # type: ignore[no-untyped-def]
        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            if err is not None:
                fut.set_exception(ProduceError(str(err)))
            else:
                fut.set_result(None)

        return on_delivery

    def _produce(self, topic: str, key: bytes, value: bytes) -> Future[None]:
        fut: Future[None] = Future()
        while True:
            try:
                self._producer.produce(topic, key=key, value=value, on_delivery=self._deliver(fut))
                return fut
            except BufferError:
                # local queue full: wait for deliveries to drain it (back-pressure on the caller)
                self._producer.poll(0.05)

    def send_readings(self, readings: Sequence[Reading]) -> list[Future[None]]:
        return [
            self._produce(self._raw, r.turbine_id.encode(), self._serialize(r.to_avro(), self._ctx)) for r in readings
        ]

    def send_dead_letter(self, key: str, payload: bytes) -> Future[None]:
        return self._produce(self._dlq, key.encode(), payload)

    def close(self, timeout_s: float = 30.0) -> int:
        """Deliver what is in flight, then stop. Returns the records still undelivered."""
        remaining = self._producer.flush(timeout_s)
        self._closing.set()
        self._poller.join(timeout=2)
        return remaining
