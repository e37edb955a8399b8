"""Follow the alerts topic (read committed), filtered, from now or from a point in its history."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, OFFSET_END, Consumer, TopicPartition

from alerting import AlertingError
from alerting.records import AlertRecord, to_ms


@dataclass(frozen=True)
class Filters:
    sites: frozenset[str] = frozenset()
    turbines: frozenset[str] = frozenset()
    severities: frozenset[str] = frozenset()
    rules: frozenset[str] = frozenset()
    statuses: frozenset[str] = frozenset()

    def match(self, a: AlertRecord) -> bool:
        checks = ((self.sites, a.site_id), (self.turbines, a.turbine_id), (self.severities, a.severity),
                  (self.rules, a.rule), (self.statuses, a.status))
        return all(not allowed or value in allowed for allowed, value in checks)


def start_offset(start: str) -> tuple[int, int | None]:
    """'latest', 'earliest' or an ISO-8601 time: (special offset, or None with a timestamp in ms)."""
    if start == "latest":
        return OFFSET_END, None
    if start == "earliest":
        return OFFSET_BEGINNING, None
    try:
        return 0, to_ms(start)
    except ValueError as err:
        raise AlertingError(f"--from takes latest, earliest or an ISO-8601 time, not {start!r}") from err


def follow(bootstrap: str, topic: str, filters: Filters, start: str = "latest", idle_timeout_s: float | None = None,
           max_alerts: int | None = None) -> Iterator[AlertRecord]:
    """Yield matching alerts as they are committed; stop after ``idle_timeout_s`` without any, or ``max_alerts``."""
    special, at_ms = start_offset(start)
    consumer = Consumer({
        "bootstrap.servers": bootstrap, "group.id": f"anemos-watch-{uuid.uuid4().hex[:8]}", "enable.auto.commit": False,
        "isolation.level": "read_committed", "auto.offset.reset": "latest",
    })
    try:
        meta = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if meta is None or meta.error is not None:
            raise AlertingError(f"topic {topic!r} does not exist (run `anemos setup`)")
        parts = [TopicPartition(topic, p, special if at_ms is None else at_ms) for p in meta.partitions]
        if at_ms is not None:
            parts = consumer.offsets_for_times(parts, timeout=10)
        consumer.assign(parts)
        seen, quiet_since = 0, time.monotonic()
        while True:
            msg = consumer.poll(0.5)
            if msg is None or msg.error() is not None:
                if idle_timeout_s is not None and time.monotonic() - quiet_since > idle_timeout_s:
                    return
                continue
            quiet_since = time.monotonic()
            alert = AlertRecord.from_json(msg.value())
            if filters.match(alert):
                yield alert
                seen += 1
                if max_alerts is not None and seen >= max_alerts:
                    return
    finally:
        consumer.close()
