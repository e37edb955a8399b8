"""Per-partition heartbeats on telemetry.raw: a quiet partition keeps up with the fleet's event time.

The stream job makes watermarks per partition from the record timestamps. A partition that receives
nothing holds the watermark back until the job's idle timeout takes it for idle; and when the whole
fleet falls silent for longer than that, every partition turns idle together, and in the burst that
follows, the partition the job happens to read first sets the watermark alone: another partition's
on-time readings, not read yet, fall behind it and miss their windows (README, Stream processing).

The bridge knows better than the job's clock. Every ``interval_s`` it sends each partition that has
had no record delivered for ``quiet_s`` a heartbeat: an empty value under ``HEARTBEAT_KEY``, stamped
with the latest event time of any reading Kafka acknowledged from this bridge. A quiet partition so
follows the fleet within about ``quiet_s``, instead of the idle timeout; and a silent fleet keeps every
partition active at the event time it stopped at, so the burst after it is held to the slowest
partition, as it should be. A heartbeat is never a reading: consumers of the raw topic skip records
with this key (the job in sql/flink/raw_source.sql, the test and bench readers through udfs.wire.is_heartbeat).

Only partitions that are quiet get one: a partition with readings, however late they are, keeps its
own event time. With several bridges, each stamps its own latest event time, so a bridge whose edges
run behind another's by more than the watermark bound sees its readings to quiet partitions judged
late, as the idle timeout would have judged them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from confluent_kafka import KafkaException, Producer

from udfs.wire import HEARTBEAT_KEY

log = logging.getLogger(__name__)


class FleetClock:
    """What Kafka acknowledged: the latest event time of any reading, and when each partition last took a record."""

    __slots__ = ("event_time_ms", "_last_record", "_now")  # heartbeats are not records here: a quiet partition gets one a round

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self.event_time_ms: int | None = None
        self._last_record: dict[int, float] = {}
        self._now = now

    def delivered(self, partition: int, event_time_ms: int) -> None:
        """A reading is in Kafka (called from delivery reports, one per reading: kept small)."""
        self._last_record[partition] = self._now()
        if self.event_time_ms is None or event_time_ms > self.event_time_ms:
            self.event_time_ms = event_time_ms

    def quiet(self, partitions: list[int], quiet_s: float) -> list[int]:
        """The partitions without a record for ``quiet_s``."""
        now = self._now()
        return [p for p in partitions if now - self._last_record.get(p, float("-inf")) >= quiet_s]


class Heartbeats:
    """A daemon thread that heartbeats the quiet partitions of ``topic`` through ``producer``."""

    def __init__(self, producer: Producer, topic: str, clock: FleetClock, interval_s: float, quiet_s: float,
                 on_sent: Callable[[int], None] = lambda _n: None, partitions_every_s: float = 60.0) -> None:
        if interval_s <= 0 or quiet_s <= 0:
            raise ValueError(f"heartbeats need interval_s > 0 and quiet_s > 0, got {interval_s} and {quiet_s}")
        self._producer, self._topic, self._clock = producer, topic, clock
        self._interval_s, self._quiet_s = interval_s, quiet_s
        self._on_sent = on_sent
        self._partitions: list[int] = []
        self._partitions_at = float("-inf")
        self._partitions_every_s = partitions_every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="raw-heartbeats", daemon=True)

    def start(self) -> "Heartbeats":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def partitions(self) -> list[int]:
        """The topic's partitions, looked up again every ``partitions_every_s`` (partitions can be added)."""
        now = time.monotonic()
        if now - self._partitions_at >= self._partitions_every_s or not self._partitions:
            meta = self._producer.list_topics(self._topic, timeout=5).topics[self._topic]
            if meta.error is not None:
                raise KafkaException(meta.error)
            self._partitions, self._partitions_at = sorted(meta.partitions), now
        return self._partitions

    def beat(self) -> int:
        """One round: a heartbeat to each quiet partition, once a reading has been acknowledged; returns how many."""
        event_time_ms = self._clock.event_time_ms
        if event_time_ms is None:
            return 0  # no event time to give: until the first reading, the job's watermark waits (idleness is off)
        quiet = self._clock.quiet(self.partitions(), self._quiet_s)
        for partition in quiet:
            self._producer.produce(self._topic, b"", HEARTBEAT_KEY, partition=partition, timestamp=event_time_ms)
        if quiet:
            self._on_sent(len(quiet))
        return len(quiet)

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.beat()
            except (KafkaException, BufferError) as err:  # Kafka away: the next round tries again
                log.warning("heartbeats on %s skipped this round: %s", self._topic, err)
