"""The bridge's heartbeat rounds, against a recording producer (the real path: tests/integration/test_bridge.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from edge_bridge.heartbeat import FleetClock, Heartbeats
from udfs.validation import ID_PATTERN
from udfs.wire import HEARTBEAT_KEY, is_heartbeat

pytestmark = pytest.mark.unit


class Recorder:
    """Stands in for confluent_kafka.Producer: four partitions, produce calls recorded."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes, int, int]] = []

    def list_topics(self, topic: str, timeout: float) -> SimpleNamespace:
        return SimpleNamespace(topics={topic: SimpleNamespace(error=None, partitions={3: None, 0: None, 2: None, 1: None})})

    def produce(self, topic: str, value: bytes, key: bytes, partition: int, timestamp: int) -> None:
        self.sent.append((topic, value, key, partition, timestamp))


class Ticks:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_no_heartbeat_before_kafka_acknowledged_a_reading() -> None:
    producer = Recorder()
    beats = Heartbeats(producer, "raw", FleetClock(), interval_s=1, quiet_s=2)  # type: ignore[arg-type]
    assert beats.beat() == 0 and producer.sent == []


def test_quiet_partitions_get_the_latest_acknowledged_event_time_and_busy_ones_none() -> None:
    ticks, producer = Ticks(), Recorder()
    clock = FleetClock(ticks)
    sent: list[int] = []
    beats = Heartbeats(producer, "raw", clock, interval_s=1, quiet_s=2, on_sent=sent.append)  # type: ignore[arg-type]
    clock.delivered(0, 5_000)
    clock.delivered(1, 9_000)
    clock.delivered(0, 7_000)  # an older reading does not move the fleet's event time back
    assert beats.beat() == 2
    assert producer.sent == [("raw", b"", HEARTBEAT_KEY, 2, 9_000), ("raw", b"", HEARTBEAT_KEY, 3, 9_000)]
    ticks.now += 1.5
    clock.delivered(1, 9_500)
    producer.sent.clear()
    assert beats.beat() == 2  # 0 and 1 had a reading less than 2 s ago
    assert [(p, ts) for _t, _v, _k, p, ts in producer.sent] == [(2, 9_500), (3, 9_500)]
    ticks.now += 0.6  # partition 0 now quiet for 2.1 s, 1 for 0.6 s
    producer.sent.clear()
    assert beats.beat() == 3
    assert [p for _t, _v, _k, p, _ts in producer.sent] == [0, 2, 3]
    assert sent == [2, 2, 3]


def test_a_silent_fleet_keeps_its_last_event_time() -> None:
    ticks, producer = Ticks(), Recorder()
    clock = FleetClock(ticks)
    beats = Heartbeats(producer, "raw", clock, interval_s=1, quiet_s=2)  # type: ignore[arg-type]
    for p in range(4):
        clock.delivered(p, 60_000 + p)
    for _ in range(5):
        ticks.now += 10
        beats.beat()
    assert len(producer.sent) == 20 and {ts for *_, ts in producer.sent} == {60_003}


def test_the_heartbeat_key_is_never_a_turbine_id() -> None:
    assert ID_PATTERN.fullmatch(HEARTBEAT_KEY.decode()) is None
    assert is_heartbeat(HEARTBEAT_KEY) and not is_heartbeat(b"T-1") and not is_heartbeat(None)


def test_bad_intervals_are_refused() -> None:
    with pytest.raises(ValueError, match="interval_s > 0"):
        Heartbeats(Recorder(), "raw", FleetClock(), interval_s=0, quiet_s=2)  # type: ignore[arg-type]
