"""The reading schema in the registry: subject, compatibility, serializer."""

from __future__ import annotations

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer

import schemas
from edge_bridge.topics import RAW

COMPATIBILITY = "BACKWARD_TRANSITIVE"


def subject(topic: str = RAW) -> str:
    """TopicNameStrategy: the value subject of ``topic``."""
    return f"{topic}-value"


def ensure_subject(client: SchemaRegistryClient, topic: str = RAW) -> int:
    """Set BACKWARD_TRANSITIVE on the subject and register the canonical schema; returns its id."""
    client.set_compatibility(subject_name=subject(topic), level=COMPATIBILITY)
    return client.register_schema(subject(topic), Schema(schemas.load_text("sensor_reading"), "AVRO"))


def reading_serializer(client: SchemaRegistryClient) -> AvroSerializer:
    """Confluent wire format (magic 0, schema id, Avro body) for SensorReading values.

    auto.register.schemas is off: the schema is registered once, by ``ensure_subject``,
    so a bridge can never register a drifted schema by accident.
    """
    return AvroSerializer(
        client,
        schemas.load_text("sensor_reading"),
        conf={"auto.register.schemas": False, "use.latest.version": False},
    )
