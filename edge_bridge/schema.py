"""The reading schema in the registry: subject and compatibility."""

from __future__ import annotations

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

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

