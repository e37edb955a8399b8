"""Create what the pipeline needs on a running stack: topics, registry subject, Iceberg tables."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka.schema_registry import SchemaRegistryClient

from anemos.migrations import migrate
from edge_bridge import topics
from edge_bridge.schema import ensure_subject
from iceberg import tables
from iceberg.catalog import ensure_table, open_catalog
from stack.manager import catalog_properties
from stack.settings import StackSettings


@dataclass(frozen=True)
class Names:
    """Topic and table names of one pipeline instance (tests use their own)."""

    raw_topic: str = topics.RAW
    dlq_topic: str = topics.DLQ
    readings_table: str = "wind.readings"


def ensure(stack: StackSettings, names: Names = Names()) -> dict[str, object]:
    migrations = migrate(stack.postgres_dsn)
    created_topics = topics.ensure_topics(stack.kafka_bootstrap, topics.specs(names.raw_topic, names.dlq_topic))
    schema_id = ensure_subject(SchemaRegistryClient({"url": stack.registry_url}), names.raw_topic)
    catalog = open_catalog(catalog_properties(stack))
    ensure_table(catalog, tables.readings(), names.readings_table)
    return {"migrations_applied": migrations, "topics_created": created_topics, "schema_id": schema_id, "tables": [names.readings_table]}
