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
    """Topics, Iceberg namespace and Redis key prefix of one pipeline instance (tests use their own)."""

    raw_topic: str = topics.RAW
    dlq_topic: str = topics.DLQ
    aggregates_topic: str = topics.AGGREGATES
    alerts_topic: str = topics.ALERTS
    commands_topic: str = topics.COMMANDS
    freezes_topic: str = topics.FREEZES
    namespace: str = tables.NAMESPACE
    redis_prefix: str = "anemos"

    @classmethod
    def isolated(cls, tag: str, kind: str = "test") -> "Names":
        """A separate instance on the same stack (a test's, a benchmark's): its own topics, namespace and keys."""
        return cls(f"{kind}.{tag}.raw", f"{kind}.{tag}.dlq", f"{kind}.{tag}.aggregates", f"{kind}.{tag}.alerts",
                   f"{kind}.{tag}.commands", f"{kind}.{tag}.freezes", f"{kind}_{tag}", f"{kind}:{tag}")

    def table(self, name: str) -> str:
        return f"{self.namespace}.{name}"

    @property
    def readings_table(self) -> str:
        return self.table("readings")


def ensure(stack: StackSettings, names: Names = Names()) -> dict[str, object]:
    migrations = migrate(stack.postgres_dsn)
    created_topics = topics.ensure_topics(
        stack.kafka_bootstrap, topics.specs(names.raw_topic, names.dlq_topic, names.aggregates_topic, names.alerts_topic,
                                             names.commands_topic, names.freezes_topic)
    )
    schema_id = ensure_subject(SchemaRegistryClient({"url": stack.registry_url}), names.raw_topic)
    catalog = open_catalog(catalog_properties(stack))
    made = []
    for define in tables.ALL:
        table = define()
        ensure_table(catalog, table, names.table(table.name))
        made.append(names.table(table.name))
    return {"migrations_applied": migrations, "topics_created": created_topics, "schema_id": schema_id, "tables": made}
