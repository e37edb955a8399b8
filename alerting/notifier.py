"""The notifier: every committed alert goes to its lifecycle row in Postgres and to each webhook, then its offset is committed.

At-least-once by construction: a crash before the commit replays the alert, the lifecycle write
is idempotent, and an endpoint that already has a final delivery row for the alert is skipped.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import psycopg
from confluent_kafka import Consumer
from psycopg.types.json import Jsonb

from alerting import lifecycle
from alerting.records import AlertRecord
from alerting.settings import AlertSettings
from alerting.webhook import WebhookSender

log = logging.getLogger("anemos.alerts.notifier")


class Notifier:
    def __init__(self, settings: AlertSettings) -> None:
        self.settings = settings
        secret = settings.signing_secret.get_secret_value() if settings.signing_secret else None
        self.sender = WebhookSender(settings.max_attempts, settings.backoff_s, settings.max_backoff_s, settings.timeout_s, secret)
        self._consumer = Consumer({
            "bootstrap.servers": settings.bootstrap_servers, "group.id": settings.group, "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "isolation.level": "read_committed",
        })
        self._consumer.subscribe([settings.alerts_topic])
        self._conn: psycopg.Connection[Any] = psycopg.connect(settings.postgres_dsn, autocommit=True)
        self.handled = 0

    def _done_endpoints(self, alert_id: str) -> set[str]:
        rows = self._conn.execute("SELECT endpoint FROM alert_deliveries WHERE alert_id = %s", (alert_id,)).fetchall()
        return {r[0] for r in rows}

    def handle(self, alert: AlertRecord) -> None:
        what = lifecycle.record(self._conn, alert)
        done = self._done_endpoints(alert.alert_id)
        for endpoint in self.settings.webhooks:
            if endpoint in done:
                continue
            result = self.sender.deliver(endpoint, alert.alert_id, alert.payload())
            status = "DELIVERED" if result.delivered else "DEAD_LETTER"
            self._conn.execute(
                "INSERT INTO alert_deliveries (alert_id, endpoint, status, attempts, http_status, last_error, payload) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (alert_id, endpoint) DO NOTHING",
                (alert.alert_id, endpoint, status, result.attempts, result.http_status, result.error, Jsonb(alert.payload())),
            )
            if not result.delivered:
                log.error("alert %s dead-lettered for %s: %s", alert.alert_id, endpoint, result.error)
        log.info("alert %s %s %s/%s %s: lifecycle %s", alert.alert_id, alert.status, alert.site_id, alert.turbine_id, alert.rule, what)
        self.handled += 1

    def poll_once(self, timeout_s: float = 1.0) -> int:
        n = 0
        for msg in self._consumer.consume(100, timeout=timeout_s):
            if msg.error() is not None:
                log.warning("alerts topic: %s", msg.error())
                continue
            self.handle(AlertRecord.from_json(msg.value()))
            self._consumer.commit(msg, asynchronous=False)
            n += 1
        return n

    def run(self, stop: threading.Event) -> None:
        log.info("notifier following %s (group %s) for %d webhooks", self.settings.alerts_topic, self.settings.group,
                 len(self.settings.webhooks))
        while not stop.is_set():
            self.poll_once()

    def close(self) -> None:
        self._consumer.close()
        self.sender.close()
        self._conn.close()
