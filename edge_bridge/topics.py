"""Kafka topics the platform owns, created idempotently."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient, NewTopic

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str]


RAW = "telemetry.raw"
DLQ = "telemetry.dlq"
AGGREGATES = "telemetry.aggregates"
ALERTS = "alerts"
COMMANDS = "commands"
FREEZES = "safety.freezes"


def specs(raw: str = RAW, dlq: str = DLQ, aggregates: str = AGGREGATES, alerts: str = ALERTS, commands: str = COMMANDS,
          freezes: str = FREEZES) -> tuple["TopicSpec", ...]:
    """The topic set, under other names when a test or tenant needs its own."""
    names = (raw, dlq, aggregates, alerts, commands, freezes)
    return tuple(TopicSpec(name, t.partitions, t.config) for name, t in zip(names, TOPICS, strict=True))


TOPICS = (
    # keyed by turbine_id: one turbine's readings stay ordered in one partition
    TopicSpec(RAW, 4, {"retention.ms": str(7 * 24 * 3600 * 1000), "min.insync.replicas": "1", "compression.type": "producer"}),
    # dead letters are evidence: keep them for a month
    TopicSpec(DLQ, 2, {"retention.ms": str(30 * 24 * 3600 * 1000)}),
    # written transactionally by the stream job; subscribers read with isolation.level=read_committed
    TopicSpec(AGGREGATES, 4, {"retention.ms": str(7 * 24 * 3600 * 1000)}),
    TopicSpec(ALERTS, 2, {"retention.ms": str(30 * 24 * 3600 * 1000)}),
    # accepted turbine commands, keyed by edge gateway; kept a year with the audit trail in mind
    TopicSpec(COMMANDS, 2, {"retention.ms": str(365 * 24 * 3600 * 1000)}),
    # every freeze and thaw the safety monitor decided, keyed by scope
    TopicSpec(FREEZES, 1, {"retention.ms": str(365 * 24 * 3600 * 1000)}),
)


def ensure_topics(bootstrap: str, specs: tuple[TopicSpec, ...] = TOPICS, timeout_s: float = 30.0) -> list[str]:
    """Create the topics that are missing; returns the names created."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    existing = set(admin.list_topics(timeout=timeout_s).topics)
    missing = [NewTopic(s.name, num_partitions=s.partitions, replication_factor=1, config=s.config) for s in specs if s.name not in existing]
    created = []
    for name, fut in (admin.create_topics(missing, request_timeout=timeout_s).items() if missing else []):
        try:
            fut.result()
            created.append(name)
            log.info("created topic %s", name)
        except KafkaException as err:
            if err.args[0].name() != "TOPIC_ALREADY_EXISTS":
                raise
    return created
