"""Expiry never removes the snapshot a restored Flink job will look for."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from iceberg.maintenance import FLINK_CHECKPOINT, FLINK_JOB_ID, SnapshotInfo, flink_anchors, plan_expiry

pytestmark = pytest.mark.unit

DAY = 86_400_000


def flink(i: int, ts: int, job: str, ckpt: int) -> SnapshotInfo:
    return SnapshotInfo(i, ts, {FLINK_JOB_ID: job, FLINK_CHECKPOINT: str(ckpt), "operation": "append"})


def compaction(i: int, ts: int) -> SnapshotInfo:
    return SnapshotInfo(i, ts, {"operation": "replace"})


def test_compaction_after_the_last_flink_commit_does_not_expose_it() -> None:
    now = 100 * DAY
    snaps = [flink(1, now - 3 * DAY, "job-a", 7), flink(2, now - 2 * DAY, "job-a", 8), compaction(3, now - DAY)]
    plan = plan_expiry(snaps, now, older_than_ms=0, job_horizon_ms=30 * DAY)
    assert plan.anchors["job-a"].snapshot_id == 2
    assert plan.cutoff_ms == now - 2 * DAY and plan.expirable == 1  # only snapshot 1 may go


def test_jobs_past_the_horizon_pin_nothing() -> None:
    now = 100 * DAY
    snaps = [flink(1, now - 60 * DAY, "old", 3), flink(2, now - DAY, "new", 9)]
    assert set(flink_anchors(snaps, now, 30 * DAY)) == {"new"}
    assert plan_expiry(snaps, now, DAY // 2, 30 * DAY).cutoff_ms == now - DAY


@given(st.lists(st.tuples(st.integers(0, 50 * DAY), st.sampled_from(["a", "b", None]), st.integers(0, 100)), min_size=1, max_size=30),
       st.integers(0, 40 * DAY))
def test_every_recent_jobs_newest_commit_survives(rows: list[tuple[int, str | None, int]], older_than: int) -> None:
    now = 50 * DAY
    snaps = [flink(i, ts, job, ck) if job else compaction(i, ts) for i, (ts, job, ck) in enumerate(rows)]
    plan = plan_expiry(snaps, now, older_than, 30 * DAY)
    for job in {j for _, j, _ in rows if j}:
        newest = max((s for s in snaps if s.summary.get(FLINK_JOB_ID) == job), key=lambda s: s.timestamp_ms)
        if newest.timestamp_ms >= now - 30 * DAY:
            assert newest.timestamp_ms >= plan.cutoff_ms, "the anchor would be expired"


def test_a_start_that_would_lose_or_double_data_is_refused() -> None:
    from iceberg.lineage import CheckpointRef, newest_commit, refusal

    job = "a" * 32
    commit = newest_commit([flink(1, 10, job, 7), flink(2, 20, job, 9), compaction(3, 30)])
    assert commit is not None and (commit.job_id, commit.checkpoint_id) == (job, 9)
    fresh = refusal("wind.readings", commit, None, None)
    assert fresh is not None and "--fresh-start" in fresh and "checkpoint 9" in fresh
    older = f"/ckpt/{job}/chk-8"
    assert "older" in (refusal("wind.readings", commit, CheckpointRef.parse(older), older) or "")
    for ok in (f"/ckpt/{job}/chk-9", f"file:///ckpt/{job}/chk-12/", f"/ckpt/{'b' * 32}/chk-3"):
        assert refusal("wind.readings", commit, CheckpointRef.parse(ok, completed_ms=25), ok) is None, ok
    earlier_run = f"/ckpt/{'c' * 32}/chk-40"  # another run's checkpoint, complete before the newest commit
    assert "older" in (refusal("wind.readings", commit, CheckpointRef.parse(earlier_run, completed_ms=15), earlier_run) or "")
    assert refusal("wind.readings", None, None, None) is None


def test_an_older_savepoint_is_refused_and_the_latest_is_not() -> None:
    from iceberg.lineage import METADATA_MAGIC, CheckpointRef, newest_commit, refusal

    job = "ab12cd" + "e" * 26
    commit = newest_commit([flink(1, 10, job, 7), flink(2, 20, job, 9)])

    def head(checkpoint_id: int) -> bytes:
        return METADATA_MAGIC.to_bytes(4, "big") + (4).to_bytes(4, "big") + checkpoint_id.to_bytes(8, "big")

    older, latest = "/sp/savepoint-ab12cd-0123456789ab", "file:///sp/savepoint-ab12cd-ba9876543210/"
    refused = refusal("wind.readings", commit, CheckpointRef.parse(older, 5, head(8)), older)
    assert refused is not None and "savepoint 8 of job ab12cd is older" in refused
    assert refusal("wind.readings", commit, CheckpointRef.parse(latest, 5, head(9)), latest) is None
    other_run = "/sp/savepoint-ffffff-0123456789ab"  # another job's savepoint: older if complete before the newest commit
    assert "older" in (refusal("wind.readings", commit, CheckpointRef.parse(other_run, 15, head(40)), other_run) or "")
    assert refusal("wind.readings", commit, CheckpointRef.parse(other_run, 25, head(40)), other_run) is None
    assert CheckpointRef.parse(older, 5, b"not a flink metadata file") is None
