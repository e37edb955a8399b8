from pathlib import Path

import pytest

from edge_bridge.buffer import BufferFullError, Overflow, ReadingBuffer
from edge_bridge.proto import ingest_pb2 as pb

pytestmark = pytest.mark.unit


def readings(n: int, start: int = 0) -> list[pb.SensorReading]:
    return [pb.SensorReading(turbine_id="T1", sensor_id="s", sensor_type="WTUR.W", ts_unix_ms=start + i, value=float(i)) for i in range(n)]


def test_batches_keep_their_id_until_acknowledged_and_survive_reopen(tmp_path: Path) -> None:
    buf = ReadingBuffer(tmp_path / "b.db", capacity=100)
    buf.put(readings(25))
    first = buf.next_batch(10)
    assert first is not None and len(first.readings) == 10
    assert buf.next_batch(10).batch_id == first.batch_id  # a retry sends the same batch  # type: ignore[union-attr]
    buf.close()

    again = ReadingBuffer(tmp_path / "b.db", capacity=100)
    retry = again.next_batch(10)
    assert retry is not None and retry.batch_id == first.batch_id and retry.readings == first.readings
    again.acknowledge(retry)
    assert len(again) == 15
    nxt = again.next_batch(10)
    assert nxt is not None and nxt.batch_id != first.batch_id and nxt.readings[0].ts_unix_ms == 10


def test_reject_new_policy_keeps_everything_buffered(tmp_path: Path) -> None:
    buf = ReadingBuffer(tmp_path / "b.db", capacity=10, overflow=Overflow.REJECT_NEW)
    buf.put(readings(8))
    with pytest.raises(BufferFullError):
        buf.put(readings(3, start=100))
    assert len(buf) == 8


def test_drop_oldest_policy_keeps_the_newest_and_counts_drops(tmp_path: Path) -> None:
    buf = ReadingBuffer(tmp_path / "b.db", capacity=10, overflow=Overflow.DROP_OLDEST)
    buf.put(readings(8))
    buf.put(readings(5, start=100))
    assert len(buf) == 10 and buf.dropped == 3
    batch = buf.next_batch(100)
    assert batch is not None and [r.ts_unix_ms for r in batch.readings][:2] == [3, 4]


def test_quarantine_moves_a_batch_out_of_the_queue(tmp_path: Path) -> None:
    buf = ReadingBuffer(tmp_path / "b.db", capacity=100)
    buf.put(readings(3))
    batch = buf.next_batch(10)
    assert batch is not None
    buf.quarantine(batch, "PERMISSION_DENIED: nope", b"x", 1)
    assert len(buf) == 0 and buf.quarantined() == [(batch.batch_id, "PERMISSION_DENIED: nope")]
