"""A job that starts on a backlog catches up without making any reading late.

Nothing in the backlog is late (every turbine's readings are in order, a second apart), so any row in
wind.late_readings is one the watermark overtook while the job caught up: a partition taken for idle
while it still had records, because it waited its turn behind the others. The idle timeout is 10 s (the
job's default is never idle, where this cannot happen), and with it the job fetches 64 KiB per partition
(JobSettings.partition_fetch_bytes). With the Kafka consumer's default fetch of 1 MiB, the job's default with
idleness off, the first 7,000-odd records of one partition came in late this way in every drain
(sql/flink/raw_source.sql). Cut to 2 s, the timeout is too close to the job's own pauses: a drain with 64 KiB
fetches once made 288 readings late.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from anemos.platform import Names
from edge_bridge import simulator
from edge_bridge.server import Bridge
from edge_bridge.settings import BridgeSettings
from reliability.pipeline import SHORT_IDLE_TIMEOUT_S, committed_rows, new_job
from stack.settings import StackSettings

pytestmark = [pytest.mark.flink, pytest.mark.integration]

BACKLOG = 72_000  # 50 turbines x 12 channels x 120 s of event time, over the raw topic's 4 partitions
TURBINES = 50


def test_a_backlog_drains_at_parallelism_1_with_no_reading_made_late(
        stack: StackSettings, names: Names, tmp_path: Path) -> None:
    bridge = Bridge(BridgeSettings.from_stack(stack, listen="127.0.0.1:0", plaintext=True, raw_topic=names.raw_topic,
                                              dlq_topic=names.dlq_topic)).start()
    try:
        report = simulator.send(f"127.0.0.1:{bridge.port}", BACKLOG, turbines=TURBINES, batch_size=1000, seed=5,
                                edge_id="edge-backlog")
    finally:
        bridge.stop()
    assert report.accepted == BACKLOG and report.rejected == 0
    job = new_job(stack, names, tmp_path, extra_args=("--parallelism", "1", "--idle-timeout-s", str(SHORT_IDLE_TIMEOUT_S))).start()
    try:
        job.wait_submitted()
        deadline = time.monotonic() + 600
        while committed_rows(stack, names.readings_table) < BACKLOG and time.monotonic() < deadline:
            time.sleep(2)
        stored = committed_rows(stack, names.readings_table)
        # the windows fire behind the readings, and each channel has one whole 1-minute window at least
        # (the last ones wait for data after the backlog: when every partition falls silent, all go idle)
        settle = time.monotonic() + 90
        while committed_rows(stack, names.table("turbine_agg_1m")) < TURBINES * 12 and time.monotonic() < settle:
            time.sleep(2)
        windows = committed_rows(stack, names.table("turbine_agg_1m"))
        late = committed_rows(stack, names.table("late_readings"))
    finally:
        job.stop()
    assert stored == BACKLOG, f"{stored} of {BACKLOG} readings stored"
    assert late == 0, f"{late} of {BACKLOG} readings were made late while the job caught up ({windows} window rows)"
    # and not for want of a watermark (with none, nothing is ever late and no window fires)
    assert windows >= TURBINES * 12, f"{windows} 1-minute window rows: the watermark did not advance"
