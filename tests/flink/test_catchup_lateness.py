"""A job that starts on a backlog catches up without making any reading late.

Nothing in the backlog is late (every turbine's readings are in order, a second apart), so any row in
wind.late_readings is one the watermark overtook while the job caught up: a partition taken for idle
while it still had records, because it waited its turn behind the others. The idle timeout is cut to
2 s to make that easy to hit. With the Kafka source chained to the Python decoder (before the change
that put the source in a task of its own), 19,440 of 72,000 readings came out late this way.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from anemos.platform import Names
from edge_bridge import simulator
from edge_bridge.server import Bridge
from edge_bridge.settings import BridgeSettings
from reliability.pipeline import committed_rows, new_job
from stack.settings import StackSettings

pytestmark = [pytest.mark.flink, pytest.mark.integration]

BACKLOG = 48_000  # 50 turbines x 12 channels x 80 s of event time, over the raw topic's 4 partitions


def test_a_backlog_drains_at_parallelism_1_with_no_reading_made_late(
        stack: StackSettings, names: Names, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bridge = Bridge(BridgeSettings.from_stack(stack, listen="127.0.0.1:0", plaintext=True, raw_topic=names.raw_topic,
                                              dlq_topic=names.dlq_topic)).start()
    try:
        report = simulator.send(f"127.0.0.1:{bridge.port}", BACKLOG, turbines=50, batch_size=1000, seed=5,
                                edge_id="edge-backlog")
    finally:
        bridge.stop()
    assert report.accepted == BACKLOG and report.rejected == 0
    monkeypatch.setenv("ANEMOS_JOB_IDLE_TIMEOUT_S", "2")
    job = new_job(stack, names, tmp_path, extra_args=("--parallelism", "1")).start()
    try:
        job.wait_submitted()
        deadline = time.monotonic() + 600
        while committed_rows(stack, names.readings_table) < BACKLOG and time.monotonic() < deadline:
            time.sleep(2)
        stored = committed_rows(stack, names.readings_table)
        late = committed_rows(stack, names.table("late_readings"))  # committed with the same checkpoint
    finally:
        job.stop()
    assert stored == BACKLOG, f"{stored} of {BACKLOG} readings stored"
    assert late == 0, f"{late} of {BACKLOG} readings were made late while the job caught up"
