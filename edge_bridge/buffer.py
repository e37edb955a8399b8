"""The edge agent's durable buffer: readings are in SQLite before anything is sent.

Rows are grouped into batches whose id is stored with them, so a retried batch keeps its
id; rows are deleted only when the bridge has acknowledged their batch.
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from edge_bridge.proto import ingest_pb2 as pb

SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    turbine_id  TEXT NOT NULL,
    sensor_id   TEXT NOT NULL,
    sensor_type TEXT NOT NULL,
    ts_unix_ms  INTEGER NOT NULL,
    value       REAL NOT NULL,
    batch_id    TEXT
);
CREATE INDEX IF NOT EXISTS pending_batch ON pending (batch_id);
CREATE TABLE IF NOT EXISTS quarantine (
    batch_id    TEXT NOT NULL,
    reason      TEXT NOT NULL,
    payload     BLOB NOT NULL,
    at_unix_ms  INTEGER NOT NULL
);
"""


class Overflow(StrEnum):
    """What a full buffer does with new readings."""

    REJECT_NEW = "reject_new"  # the caller is told; nothing already buffered is lost
    DROP_OLDEST = "drop_oldest"  # keep the freshest data; the oldest unsent rows are dropped and counted


class BufferFullError(Exception):
    """The buffer is at capacity and its policy is REJECT_NEW."""


@dataclass(frozen=True)
class Batch:
    batch_id: str
    seqs: list[int]
    readings: list[pb.SensorReading]


class ReadingBuffer:
    def __init__(self, path: Path, capacity: int, overflow: Overflow = Overflow.REJECT_NEW) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a reading the agent took survives power loss
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self.capacity, self.overflow = capacity, overflow
        self.dropped = 0

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM pending").fetchone()[0])

    def put(self, readings: Sequence[pb.SensorReading]) -> None:
        """Store readings durably, or raise BufferFullError (REJECT_NEW) without storing any."""
        rows = [(r.turbine_id, r.sensor_id, r.sensor_type, r.ts_unix_ms, r.value) for r in readings]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                size = int(self._db.execute("SELECT count(*) FROM pending").fetchone()[0])
                over = size + len(rows) - self.capacity
                if over > 0 and self.overflow is Overflow.REJECT_NEW:
                    raise BufferFullError(f"buffer holds {size} of {self.capacity} readings; {len(rows)} more do not fit")
                if over > 0:
                    # drop the oldest readings not already in a batch that is being sent
                    cur = self._db.execute(
                        "DELETE FROM pending WHERE seq IN (SELECT seq FROM pending WHERE batch_id IS NULL ORDER BY seq LIMIT ?)",
                        (over,),
                    )
                    self.dropped += cur.rowcount
                self._db.executemany(
                    "INSERT INTO pending (turbine_id, sensor_id, sensor_type, ts_unix_ms, value) VALUES (?, ?, ?, ?, ?)", rows
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def next_batch(self, max_readings: int) -> Batch | None:
        """The oldest unacknowledged batch: one already formed (a retry), else a new one."""
        with self._lock:
            row = self._db.execute("SELECT batch_id FROM pending WHERE batch_id IS NOT NULL ORDER BY seq LIMIT 1").fetchone()
            if row is None:
                batch_id = uuid.uuid4().hex
                self._db.execute(
                    "UPDATE pending SET batch_id = ? WHERE seq IN (SELECT seq FROM pending WHERE batch_id IS NULL ORDER BY seq LIMIT ?)",
                    (batch_id, max_readings),
                )
            else:
                batch_id = row[0]
            rows = self._db.execute(
                "SELECT seq, turbine_id, sensor_id, sensor_type, ts_unix_ms, value FROM pending WHERE batch_id = ? ORDER BY seq",
                (batch_id,),
            ).fetchall()
        if not rows:
            return None
        return Batch(batch_id, [r[0] for r in rows], [
            pb.SensorReading(turbine_id=r[1], sensor_id=r[2], sensor_type=r[3], ts_unix_ms=r[4], value=r[5]) for r in rows
        ])

    def acknowledge(self, batch: Batch) -> None:
        with self._lock:
            self._db.execute("DELETE FROM pending WHERE batch_id = ?", (batch.batch_id,))

    def quarantine(self, batch: Batch, reason: str, payload: bytes, at_ms: int) -> None:
        """Set aside a batch the bridge refuses for good, so it does not block the queue."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT INTO quarantine VALUES (?, ?, ?, ?)", (batch.batch_id, reason, payload, at_ms))
            self._db.execute("DELETE FROM pending WHERE batch_id = ?", (batch.batch_id,))
            self._db.execute("COMMIT")

    def quarantined(self) -> list[tuple[str, str]]:
        with self._lock:
            return [(r[0], r[1]) for r in self._db.execute("SELECT batch_id, reason FROM quarantine")]

    def close(self) -> None:
        with self._lock:
            self._db.close()
