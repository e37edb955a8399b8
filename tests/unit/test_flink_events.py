"""What a failed test reports of a job's life: the lifecycle lines of its own Flink log, nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from anemos.runner import flink_events

pytestmark = pytest.mark.unit

LOG = """\
2026-11-22 22:43:52,101 INFO  org.apache.flink.runtime.executiongraph.ExecutionGraph [] - Job j (1) switched from state RUNNING to RESTARTING.
2026-11-22 22:43:52,102 INFO  org.apache.flink.runtime.executiongraph.ExecutionGraph [] - Sink: x (1/1) (a) switched from RUNNING to CANCELING.
2026-11-22 22:43:52,103 INFO  org.apache.flink.runtime.executiongraph.ExecutionGraph [] - turbine-state (1/1) (b) switched from RUNNING to FAILED on local.
2026-11-22 22:43:53,630 INFO  org.apache.flink.runtime.checkpoint.CheckpointCoordinator [] - Restoring job 1 from Checkpoint 2 @ 1 for 1 located at file:/c.
Caused by: java.io.IOException: No space left on device
\tat org.apache.flink.Foo.bar(Foo.java:1)
2026-11-22 22:43:57,480 WARN  org.apache.flink.runtime.checkpoint.CheckpointFailureManager [] - Failed to trigger or complete checkpoint 5 for job 1. (0 consecutive failed attempts so far)
2026-11-22 22:44:20,929 INFO  org.apache.flink.runtime.checkpoint.CheckpointCoordinator [] - Completed checkpoint 8 for job 1 (1456785 bytes).
2026-11-22 22:44:21,000 INFO  org.apache.flink.api.java.typeutils.runtime.kryo.KryoSerializer [] - Kryo serializer scala extensions are not available.
"""


def test_only_lifecycle_lines_are_kept_in_order(tmp_path: Path) -> None:
    (tmp_path / "flink-root-python-vm.log").write_text(LOG)
    events = flink_events(tmp_path)
    assert [e.split(" - ", 1)[-1][:30] for e in events] == [
        "Job j (1) switched from state ",
        "turbine-state (1/1) (b) switch",
        "Restoring job 1 from Checkpoin",
        "Caused by: java.io.IOException",
        "Failed to trigger or complete ",
        "Completed checkpoint 8 for job",
    ]


def test_the_last_lines_win_and_each_is_cut(tmp_path: Path) -> None:
    (tmp_path / "a.log").write_text("".join(f"Caused by: {i} {'x' * 400}\n" for i in range(50)))
    events = flink_events(tmp_path, limit=3)
    assert [e.split()[2] for e in events] == ["47", "48", "49"]
    assert all(len(e) == 300 for e in events)


def test_no_log_means_no_events(tmp_path: Path) -> None:
    assert flink_events(tmp_path / "absent") == []
