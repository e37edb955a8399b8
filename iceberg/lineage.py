"""Which checkpoint a job may start from, given what its Iceberg tables already hold.

A job that starts without state against tables holding Flink commits has lost its msg_id memory
and the Iceberg committer's record of what it committed; a job restored from a checkpoint older
than the newest commit re-reads Kafka from older offsets and commits those readings again, under
new checkpoint ids. Both are refused, with what to do instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from iceberg.maintenance import FLINK_CHECKPOINT, FLINK_JOB_ID, SnapshotInfo

_CHECKPOINT_PATH = re.compile(r"([0-9a-f]{32})/chk-(\d+)/?$")
_SAVEPOINT_PATH = re.compile(r"savepoint-([0-9a-f]{6})-[0-9a-f]+/?$")  # Flink names it after the job id's first 6 digits
METADATA_MAGIC = 0x4960672D  # the first int of every checkpoint and savepoint _metadata; then a version int, then the id


@dataclass(frozen=True)
class Commit:
    job_id: str
    checkpoint_id: int
    timestamp_ms: int


@dataclass(frozen=True)
class CheckpointRef:
    job_id: str  # for a savepoint, the first 6 hex digits its directory name keeps
    checkpoint_id: int
    completed_ms: int | None = None  # when its _metadata was written, if known
    kind: str = "checkpoint"

    @classmethod
    def parse(cls, path: str, completed_ms: int | None = None, metadata: bytes | None = None) -> "CheckpointRef | None":
        """A retained checkpoint (``<job id>/chk-<n>``), or a savepoint whose ``_metadata`` head is given."""
        m = _CHECKPOINT_PATH.search(path.rstrip("/"))
        if m:
            return cls(m.group(1), int(m.group(2)), completed_ms)
        m = _SAVEPOINT_PATH.search(path.rstrip("/"))
        if m and metadata is not None and len(metadata) >= 16 and int.from_bytes(metadata[:4], "big") == METADATA_MAGIC:
            return cls(m.group(1), int.from_bytes(metadata[8:16], "big", signed=True), completed_ms, "savepoint")
        return None


def newest_commit(snapshots: Iterable[SnapshotInfo]) -> Commit | None:
    """The newest snapshot a Flink job committed, as (job id, checkpoint id)."""
    flink = [s for s in snapshots if FLINK_JOB_ID in s.summary and FLINK_CHECKPOINT in s.summary]
    if not flink:
        return None
    s = max(flink, key=lambda s: s.timestamp_ms)
    return Commit(s.summary[FLINK_JOB_ID], int(s.summary[FLINK_CHECKPOINT]), s.timestamp_ms)


def refusal(table: str, commit: Commit | None, restore: CheckpointRef | None, restore_path: str | None) -> str | None:
    """Why this start would lose or double data; None when it is safe."""
    if commit is None:
        return None
    held = f"{table} holds commits up to checkpoint {commit.checkpoint_id} of job {commit.job_id}"
    if restore_path is None:
        return (f"{held}; a start without that job's state would forget which readings it has seen. Use --restore-from latest, "
                f"or --fresh-start to accept it (dedupe memory lost, readings after the last commit re-read once)")
    if restore is None:
        return None  # a path we cannot place in the lineage: Flink validates it
    older = (restore.checkpoint_id < commit.checkpoint_id if commit.job_id.startswith(restore.job_id)
             # another run's checkpoint: older if it was complete before the newest commit was made
             else restore.completed_ms is not None and restore.completed_ms < commit.timestamp_ms)
    if older:
        return (f"{held}; {restore.kind} {restore.checkpoint_id} of job {restore.job_id} is older, and restoring it would "
                f"commit readings a second time. Use --restore-from latest, or a newer savepoint")
    return None
