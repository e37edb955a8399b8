"""The pure parts of `anemos repair-kafka`: records as the job's JSON format writes them, and a clear refusal of a
bad command line. (Its comparison of Iceberg with Kafka runs against the real services in
tests/flink/test_stream_oracle.py.)"""

from datetime import datetime, timezone

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
