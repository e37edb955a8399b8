"""The freeze monitor: looks at what the platform can see, freezes and thaws scopes in Redis, records each change.

Each look reads the Flink job's consumer lag on telemetry.raw (its committed offsets, which the
Kafka source commits on every checkpoint) and its event-time progress (the last-known-good it
has published to Redis), judges them with ``udfs.freeze.assess``, and applies the changes:
Redis first (what the gate reads), then the ``freeze_events`` table and the freezes topic.
What cannot be read counts as blind, and blind freezes everything.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import asdict

import psycopg
import redis
from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

from safety.settings import SafetySettings
from safety.state import SafetyState
from udfs.freeze import FreezeEvent, FreezeState, Observation, assess, progress

log = logging.getLogger("anemos.safety.monitor")


class FreezeMonitor:
    def __init__(self, settings: SafetySettings) -> None:
        self.settings = settings
        self.thresholds = settings.thresholds()
        self.state = SafetyState(settings.redis_url, settings.redis_prefix)
        # a consumer in the job's group that never subscribes or commits: it only fetches offsets
        self._offsets = Consumer({"bootstrap.servers": settings.bootstrap_servers, "group.id": settings.job_consumer_group,
                                  "enable.auto.commit": False, "socket.timeout.ms": 5_000})
        self._producer = Producer({"bootstrap.servers": settings.bootstrap_servers, "enable.idempotence": True,
                                   "linger.ms": 0})
        self._judged = FreezeState(active=self._resume())
        self._outbox: list[FreezeEvent] = []  # applied in Redis, not yet recorded in Postgres and Kafka
        self.last: Observation | None = None

    def _resume(self) -> dict:  # type: ignore[type-arg]
        try:
            return self.state.freezes()
        except redis.RedisError:
            return {}

    # looking -----------------------------------------------------------------------------
    def consumer_lag(self) -> int | None:
        """Records on telemetry.raw the job has not committed yet; None when Kafka cannot say."""
        try:
            meta = self._offsets.list_topics(self.settings.raw_topic, timeout=5).topics[self.settings.raw_topic]
            if meta.error is not None:
                return None
            parts = [TopicPartition(self.settings.raw_topic, p) for p in meta.partitions]
            committed = self._offsets.committed(parts, timeout=5)
            lag = 0
            for tp in committed:
                low, high = self._offsets.get_watermark_offsets(tp, timeout=5)
                lag += high - (tp.offset if tp.offset >= 0 else low)  # never committed: all of it is behind
            return lag
        except KafkaException as err:
            log.warning("cannot read the job's consumer lag: %s", err)
            return None

    def observe(self) -> Observation:
        now = int(time.time() * 1000)
        lag = self.consumer_lag()
        try:
            seen = self.state.lkg_progress()
        except redis.RedisError as err:
            log.warning("cannot read last-known-good progress: %s", err)
            return Observation(now, lag, None)
        return Observation(now, lag, progress([last for last, _ in seen.values()], now), {t: last for t, (last, _) in seen.items()},
                           {t: site for t, (_, site) in seen.items() if site})

    # acting ------------------------------------------------------------------------------
    def judge(self) -> tuple[Observation, FreezeState, list[FreezeEvent]]:
        """One look and its verdict, applied nowhere (``anemos freeze monitor --once`` shows it)."""
        obs = self.observe()
        self.last = obs
        judged, events = assess(self._judged, obs, self.thresholds)
        return obs, judged, events

    def step(self) -> list[FreezeEvent]:
        """One look, applied; returns the freezes and thaws it decided."""
        _obs, judged, events = self.judge()
        try:
            self.state.apply(events)
            self.state.beat(self.settings.heartbeat_ttl_s)
        except redis.RedisError as err:
            # the heartbeat stops too, so the gate fails safe; the same events are decided again next look
            log.error("cannot write freezes to Redis (%s): the gate will treat the monitor as blind", err)
            return []
        self._judged = judged
        for e in events:
            log.warning("%s %s: %s (%s)", e.kind, e.freeze.scope, e.freeze.reason, e.freeze.detail)
        self._outbox.extend(events)
        self._record()
        return events

    def _record(self) -> None:
        if not self._outbox:
            return
        try:
            with psycopg.connect(self.settings.postgres_dsn, connect_timeout=5) as conn:
                conn.cursor().executemany(
                    "INSERT INTO freeze_events (scope, kind, reason, detail, since, at) "
                    "VALUES (%s, %s, %s, %s, to_timestamp(%s / 1000.0), to_timestamp(%s / 1000.0)) "
                    "ON CONFLICT (scope, kind, at) DO NOTHING",  # a retried outbox (see V004)
                    [(e.freeze.scope, e.kind, e.freeze.reason, e.freeze.detail, e.freeze.since_ms, e.at_ms) for e in self._outbox],
                )
            failed: list[object] = []  # a message that timed out leaves the queue too: flush() == 0 is not delivery
            for e in self._outbox:
                payload = {"kind": e.kind, "at_ms": e.at_ms, **asdict(e.freeze)}
                self._producer.produce(self.settings.freezes_topic, key=e.freeze.scope, value=json.dumps(payload),
                                       on_delivery=lambda err, _msg: err is not None and failed.append(err))
            if self._producer.flush(10) != 0 or failed:
                raise KafkaException(f"freeze events not acknowledged by Kafka within 10 s ({failed[:1]})")
            self._outbox.clear()
        except (psycopg.Error, KafkaException, BufferError) as err:
            log.error("%d freeze events not recorded yet (%s); retrying next look", len(self._outbox), err)

    def run(self, stop: threading.Event) -> None:
        log.info("freeze monitor watching group %s on %s every %.1fs", self.settings.job_consumer_group,
                 self.settings.raw_topic, self.settings.interval_s)
        while not stop.is_set():
            started = time.monotonic()
            self.step()
            stop.wait(max(0.0, self.settings.interval_s - (time.monotonic() - started)))

    def close(self) -> None:
        self._offsets.close()
        self._producer.flush(10)
