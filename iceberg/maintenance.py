"""Table maintenance, planned here and run in the JVM (flink_jobs/maintenance): compaction and snapshot expiry.

The Flink sink finds where it left off by walking back from the current snapshot to the newest
one whose summary carries its job id and ``flink.max-committed-checkpoint-id``. If expiry removed
that snapshot, a job restored from a checkpoint would commit the same files a second time. So
expiry never goes past the newest Flink-committed snapshot of any job that committed recently:
the cutoff is the older of "now minus the retention" and that snapshot's own time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

FLINK_JOB_ID = "flink.job-id"
FLINK_CHECKPOINT = "flink.max-committed-checkpoint-id"


@dataclass(frozen=True)
class SnapshotInfo:
    snapshot_id: int
    timestamp_ms: int
    summary: Mapping[str, str]


@dataclass(frozen=True)
class ExpiryPlan:
    cutoff_ms: int  # snapshots strictly older than this may go
    anchors: Mapping[str, SnapshotInfo]  # Flink job id -> the snapshot its restore will look for
    expirable: int  # snapshots older than the cutoff (the newest ``retain_last`` are kept anyway)


def flink_anchors(snapshots: Iterable[SnapshotInfo], now_ms: int, job_horizon_ms: int) -> dict[str, SnapshotInfo]:
    """The newest Flink-committed snapshot of each job that committed within ``job_horizon_ms``."""
    newest: dict[str, SnapshotInfo] = {}
    for s in snapshots:
        job = s.summary.get(FLINK_JOB_ID)
        if job and FLINK_CHECKPOINT in s.summary and (job not in newest or s.timestamp_ms > newest[job].timestamp_ms):
            newest[job] = s
    return {job: s for job, s in newest.items() if s.timestamp_ms >= now_ms - job_horizon_ms}


def plan_expiry(snapshots: Iterable[SnapshotInfo], now_ms: int, older_than_ms: int, job_horizon_ms: int) -> ExpiryPlan:
    snaps = list(snapshots)
    anchors = flink_anchors(snaps, now_ms, job_horizon_ms)
    cutoff = min([now_ms - older_than_ms, *(a.timestamp_ms for a in anchors.values())])
    return ExpiryPlan(cutoff, anchors, sum(1 for s in snaps if s.timestamp_ms < cutoff))
