"""The pure parts of `anemos repair-kafka`: records as the job's JSON format writes them, and a clear refusal of a
bad command line. (Its comparison of Iceberg with Kafka runs against the real services in
tests/flink/test_stream_oracle.py.)"""

import types
from datetime import datetime, timezone
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException, TopicPartition
from typer.testing import CliRunner

from anemos import repair
from anemos.cli import app


def test_timestamps_as_flink_json_writes_them() -> None:
    utc = timezone.utc
    assert repair.flink_timestamp(datetime(2026, 11, 22, 12, 0, tzinfo=utc)) == "2026-11-22 12:00:00Z"
    assert repair.flink_timestamp(datetime(2026, 11, 22, 15, 55, 35, 152_000, tzinfo=utc)) == "2026-11-22 15:55:35.152Z"
    assert repair.flink_timestamp(datetime(2026, 11, 22, 15, 55, 35, 150_000, tzinfo=utc)) == "2026-11-22 15:55:35.15Z"
    assert repair.flink_timestamp(None) is None


def test_aggregate_record_carries_its_grain_and_the_job_columns() -> None:
    row = {c: None for c in repair.AGG_COLUMNS} | {"turbine_id": "T1", "window_start": datetime(2026, 1, 1, tzinfo=timezone.utc),
                                                   "sample_count": 60, "version": 60}
    record = repair.OUTPUTS["aggregates"].record(row, {"grain": "10m"})
    assert list(record) == ["grain", *repair.AGG_COLUMNS]
    assert record["grain"] == "10m" and record["window_start"] == "2026-01-01 00:00:00Z"
    assert repair.OUTPUTS["aggregates"].natural_key(record) == ("10m", "T1", None, "2026-01-01 00:00:00Z", 60)


def test_dead_letter_raw_bytes_are_base64_as_in_the_job() -> None:
    row = {c: None for c in repair.DLQ_COLUMNS} | {"raw_value": b"\x00\x00\x00\x00\x01@"}
    assert repair.OUTPUTS["dlq"].record(row, {})["raw_value"] == "AAAAAAFA"


def test_unknown_output_is_one_clear_error() -> None:
    result = CliRunner().invoke(app, ["repair-kafka", "--outputs", "alerts,bogus"])
    assert result.exit_code == 2
    assert "unknown output bogus" in result.output


class _FlakyConsumer:
    """A consumer whose offset lookups fail ``failures`` times with ``code`` before they answer."""

    def __init__(self, failures: int, code: int) -> None:
        self.failures, self.code, self.lookups = failures, code, 0

    def list_topics(self, topic: str, timeout: float) -> Any:
        part = types.SimpleNamespace(error=None, partitions={0: None, 1: None})
        return types.SimpleNamespace(topics={topic: part})

    def offsets_for_times(self, tps: list[TopicPartition], timeout: float) -> list[TopicPartition]:
        self.lookups += 1
        if self.lookups <= self.failures:
            raise KafkaException(KafkaError(self.code))
        return [TopicPartition(tp.topic, tp.partition, 5) for tp in tps]

    def get_watermark_offsets(self, tp: TopicPartition, timeout: float) -> tuple[int, int]:
        return 0, 9


def test_offsets_of_a_topic_whose_leaders_are_not_known_yet_are_retried() -> None:
    consumer = _FlakyConsumer(failures=2, code=KafkaError.NOT_LEADER_FOR_PARTITION)
    starts, ends = repair.topic_bounds(consumer, "t", 0, retry_s=10)
    assert consumer.lookups == 3
    assert [(tp.partition, tp.offset) for tp in starts] == [(0, 5), (1, 5)] and ends == {0: 9, 1: 9}


def test_other_kafka_errors_are_raised_at_once() -> None:
    consumer = _FlakyConsumer(failures=1, code=KafkaError.TOPIC_AUTHORIZATION_FAILED)
    with pytest.raises(KafkaException):
        repair.topic_bounds(consumer, "t", 0, retry_s=10)
    assert consumer.lookups == 1
